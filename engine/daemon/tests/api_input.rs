//! Request input read as dockerd reads it: booleans in query strings (docker-py's `False`),
//! and resource values dockerd refuses at create, refused at create with dockerd's messages.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use support::registry::Registry;
use support::{ok, Daemon};

/// GET `path` and read until the server closes or `limit` passes; the body so far and whether
/// the server closed.
fn get_for_at_most(daemon: &Daemon, path: &str, limit: Duration) -> (String, bool) {
    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&raw).into_owned(), true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(err) => panic!("read: {err}"),
        }
    }
    (String::from_utf8_lossy(&raw).into_owned(), false)
}

#[test]
fn stats_stream_capital_false_as_docker_py_sends_it_returns_one_sample() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "napper",
            "hello-world",
            "sleep",
            "600",
        ])
        .output()
        .unwrap());
    for value in ["False", "FALSE", "0", "no"] {
        let (text, closed) = get_for_at_most(
            &daemon,
            &format!("/containers/napper/stats?stream={value}"),
            Duration::from_secs(20),
        );
        assert!(closed, "stream={value} still streaming after 20s: {text}");
        assert_eq!(
            text.matches("\"read\"").count(),
            1,
            "stream={value}: {text}"
        );
    }
    // And a true value streams.
    let (text, closed) = get_for_at_most(
        &daemon,
        "/containers/napper/stats?stream=True",
        Duration::from_secs(3),
    );
    assert!(!closed && text.contains("\"read\""), "{text}");
    ok(daemon
        .berth()
        .args(["rm", "-f", "napper"])
        .output()
        .unwrap());
}
