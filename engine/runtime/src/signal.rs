//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `kill` or `9`.

use std::str::FromStr;

pub use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// Parses a signal name (with or without `SIG`, any case) or number.
pub fn parse_signal(text: &str) -> Result<Signal> {
    let unknown = || Error::UnknownSignal(text.to_owned());
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(matches!(parse_signal("FOO"), Err(Error::UnknownSignal(_))));
        assert!(parse_signal("99").is_err());
        assert!(parse_signal("").is_err());
    }
}
