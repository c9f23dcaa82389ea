//! The client against a real bus: Debian's dbus-daemon on a private socket, which validates
//! every message it receives and disconnects a client that sends a malformed one.

use super::*;
use std::process::{Child, Command, Stdio};

struct Bus {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_bus() -> Bus {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address=unix:path={}", socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon is not installed: run `cargo xtask test`, which installs it");
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Bus {
        child,
        socket,
        _dir: dir,
    }
}

fn bus_call<'a>(member: &'a str, args: Vec<Arg>) -> Call<'a> {
    Call {
        destination: Some("org.freedesktop.DBus"),
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member,
        args,
    }
}

#[test]
fn calls_replies_and_errors_against_dbus_daemon() {
    let bus = start_bus();
    let mut connection = Connection::open_bus(&bus.socket).expect("connect and Hello");

    let owner = connection
        .call(&bus_call(
            "GetNameOwner",
            vec![Arg::Str("org.freedesktop.DBus".into())],
        ))
        .unwrap();
    assert_eq!(owner, Reply::Return(Some("org.freedesktop.DBus".into())));

    let missing = connection
        .call(&bus_call(
            "GetNameOwner",
            vec![Arg::Str("org.example.Nobody".into())],
        ))
        .unwrap();
    match missing {
        Reply::Error { name, message } => {
            assert_eq!(name, "org.freedesktop.DBus.Error.NameHasNoOwner");
            assert!(message.contains("org.example.Nobody"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // StartTransientUnit's argument shapes, every value type included: the daemon validates
    // the whole message, so a well-formed one gets UnknownMethod, a malformed one a hang-up.
    let properties = vec![
        ("Description".to_owned(), Value::Str("berth test".into())),
        ("Delegate".to_owned(), Value::Bool(true)),
        ("PIDs".to_owned(), Value::U32Array(vec![1, 2, 3])),
        ("MemoryLimit".to_owned(), Value::U64(64 << 20)),
    ];
    for properties in [properties, Vec::new()] {
        let reply = connection
            .call(&bus_call(
                "StartTransientUnit",
                vec![
                    Arg::Str("x.scope".into()),
                    Arg::Str("fail".into()),
                    Arg::Properties(properties),
                    Arg::NoAuxUnits,
                ],
            ))
            .expect("the bus kept the connection");
        match reply {
            Reply::Error { name, .. } => {
                assert_eq!(name, "org.freedesktop.DBus.Error.UnknownMethod")
            }
            other => panic!("expected UnknownMethod, got {other:?}"),
        }
    }
}

#[test]
fn a_refused_authentication_is_an_error() {
    // A socket that answers the AUTH line with REJECTED, as a bus refusing us would.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
        stream.write_all(b"REJECTED EXTERNAL\r\n").unwrap();
    });
    let err = Connection::open(&path).err().expect("refused");
    assert!(err.to_string().contains("authentication refused"), "{err}");
    server.join().unwrap();
}
