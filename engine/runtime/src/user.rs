//! The container user: supplementary groups, gid and uid (keeping capabilities across the
//! switch), umask, and HOME read from the container's /etc/passwd (no NSS).

use oci_spec::runtime::User;

use crate::error::{Context, Result};

/// Switches to the spec's user. Capabilities survive for `capabilities::apply_sets`.
pub(crate) fn switch(user: &User) -> Result<()> {
    use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
    // SAFETY: PR_SET_KEEPCAPS takes 0 or 1.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|gid| Gid::from_raw(*gid))
        .collect();
    setgroups(&groups).ctx(|| "process.user.additionalGids: setgroups".to_owned())?;
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).ctx(|| format!("process.user.gid: setting gid {gid}"))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).ctx(|| format!("process.user.uid: setting uid {uid}"))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    if let Some(umask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
    Ok(())
}

/// The home directory of `uid` in an /etc/passwd text, or `/`.
pub(crate) fn home(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 7 && fields[2].parse() == Ok(uid))
        .map(|fields| fields[5].to_owned())
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| "/".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\n# comment\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(home(passwd, 0), "/root");
        assert_eq!(home(passwd, 1000), "/home/bob");
        assert_eq!(home(passwd, 42), "/");
    }
}
