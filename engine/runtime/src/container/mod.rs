//! The container operations, one file each, as methods of [`crate::Runtime`]: create, start,
//! state and list, kill, wait, delete, run (all of them in a row), exec (another process
//! in a running container), and pause and resume.

mod create;
mod delete;
mod exec;
mod kill;
mod pause;
mod run;
mod start;
mod state;
mod wait;

pub use create::CreateOptions;
pub use exec::ExecProcess;
pub use wait::ExitStatus;

/// A container created by this process: its id and the host pid of its init, which is a
/// direct child of the caller until the caller exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub(crate) id: String,
    pub(crate) pid: i32,
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host pid of the container's init (the user's process once started).
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

/// Checks an id: non-empty, at most 1024 bytes, only `[A-Za-z0-9_.+-]`, not `.` or `..`.
pub(crate) fn validate_id(id: &str) -> crate::Result<()> {
    let valid = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(crate::Error::InvalidId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_path_characters_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", "a b", "x\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "web-1", "x.y_z+1"] {
            assert!(validate_id(good).is_ok(), "{good:?}");
        }
    }
}
