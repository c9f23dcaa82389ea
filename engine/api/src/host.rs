//! The address part of `tcp://HOST:PORT` hosts, shared by `berthd -H` and `berth -H`.
//!
//! The engine binaries are static and carry no glibc resolver (no `getaddrinfo`), so HOST is an
//! IP address or `localhost`, never a name to look up.

use std::net::{Ipv4Addr, SocketAddr};

/// A `tcp://` host whose HOST:PORT is not an IP address (or localhost) and a port.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tcp address \"{0}\": expected IP:PORT (an IP address or localhost, and a port)")]
pub struct InvalidTcpAddress(pub String);

/// Parses the HOST:PORT of a `tcp://` host without any name lookup.
pub fn parse_tcp_address(address: &str) -> Result<SocketAddr, InvalidTcpAddress> {
    if let Ok(socket_address) = address.parse() {
        return Ok(socket_address);
    }
    let invalid = || InvalidTcpAddress(address.to_owned());
    match address.rsplit_once(':') {
        Some(("localhost", port)) => {
            let port: u16 = port.parse().map_err(|_| invalid())?;
            Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_addresses_are_ip_addresses_or_localhost() {
        assert_eq!(
            parse_tcp_address("127.0.0.1:2375"),
            Ok(([127, 0, 0, 1], 2375).into())
        );
        assert_eq!(
            parse_tcp_address("localhost:2375"),
            Ok(([127, 0, 0, 1], 2375).into())
        );
        assert!(parse_tcp_address("[::1]:2375").is_ok());
        assert!(parse_tcp_address("0.0.0.0:2376").is_ok());
        assert!(parse_tcp_address("docker.example:2375").is_err());
        assert!(parse_tcp_address("localhost:port").is_err());
        assert!(parse_tcp_address("127.0.0.1").is_err());
    }
}
