//! `docker cp` and `berth cp` against berthd: files and directories in and out of running and
//! stopped containers, into volumes, with docker's naming rules, and symlinks inside the
//! container that point at `/` or climb with `..` resolved inside it, never on the host.

mod support;

use std::path::Path;

use support::registry::Registry;
use support::{ok, Daemon};

fn exec(daemon: &Daemon, script: &str) -> String {
    ok(daemon
        .berth()
        .args(["exec", "box", "sh", "-c", script])
        .output()
        .unwrap())
}

fn cp(mut client: std::process::Command, source: &str, destination: &str) -> std::process::Output {
    client.args(["cp", source, destination]).output().unwrap()
}

#[test]
fn cp_copies_in_and_out_and_stays_inside_the_container() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "box",
            "-v",
            "vol:/data",
            "hello-world",
            "sleep",
            "300",
        ])
        .output()
        .unwrap());
    exec(
        &daemon,
        "echo inside > /inside.txt; ln -s / /escape; ln -s ../../../../../.. /up",
    );
    let work = tempfile::tempdir().unwrap();
    let at = |name: &str| work.path().join(name).display().to_string();

    // Out: to a new name (docker) and into an existing directory (berth).
    ok(cp(daemon.docker(), "box:/inside.txt", &at("out.txt")));
    assert_eq!(std::fs::read_to_string(at("out.txt")).unwrap(), "inside\n");
    std::fs::create_dir(at("dir")).unwrap();
    ok(cp(daemon.berth(), "box:/inside.txt", &at("dir")));
    assert_eq!(
        std::fs::read_to_string(at("dir/inside.txt")).unwrap(),
        "inside\n"
    );

    // Links to / and above it resolve in the container: its hostname, not the host's.
    let id = daemon.request("GET", "/containers/box/json", None).json()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (client, source) in [
        (daemon.docker(), "box:/escape/etc/hostname"),
        (daemon.berth(), "box:/up/etc/hostname"),
    ] {
        let _ = std::fs::remove_file(at("hostname"));
        ok(cp(client, source, &at("hostname")));
        assert_eq!(
            std::fs::read_to_string(at("hostname")).unwrap().trim(),
            &id[..12],
            "{source}"
        );
    }
    let passwd = cp(daemon.berth(), "box:/up/etc/passwd", &at("passwd"));
    assert!(
        !passwd.status.success(),
        "the host's /etc/passwd was copied out"
    );
    assert!(
        String::from_utf8_lossy(&passwd.stderr).contains("Could not find the file"),
        "{}",
        String::from_utf8_lossy(&passwd.stderr)
    );

    // In: a file into a volume directory, and a directory under a new name.
    std::fs::write(at("in.txt"), "from the host\n").unwrap();
    ok(cp(daemon.docker(), &at("in.txt"), "box:/data/"));
    assert_eq!(exec(&daemon, "cat /data/in.txt"), "from the host\n");
    let volume = daemon.request("GET", "/volumes/vol", None).json();
    let mountpoint = volume["Mountpoint"].as_str().unwrap();
    assert!(Path::new(mountpoint).join("in.txt").is_file());
    std::fs::create_dir_all(at("tree/sub")).unwrap();
    std::fs::write(at("tree/sub/a"), "leaf\n").unwrap();
    std::os::unix::fs::symlink("sub/a", at("tree/link")).unwrap();
    ok(cp(daemon.berth(), &at("tree"), "box:/newtree"));
    assert_eq!(
        exec(&daemon, "cat /newtree/sub/a /newtree/link"),
        "leaf\nleaf\n"
    );

    // Writing through the container's link to / lands in its root, not the host's.
    std::fs::write(at("evil-berth-cp.txt"), "x\n").unwrap();
    ok(cp(
        daemon.docker(),
        &at("evil-berth-cp.txt"),
        "box:/escape/",
    ));
    assert!(!Path::new("/evil-berth-cp.txt").exists());
    assert_eq!(exec(&daemon, "cat /evil-berth-cp.txt"), "x\n");

    // The container was frozen only for the copies.
    let state = daemon.request("GET", "/containers/box/json", None).json()["State"].clone();
    assert_eq!(
        (state["Running"].as_bool(), state["Paused"].as_bool()),
        (Some(true), Some(false))
    );

    // A stopped container: its rootfs is mounted for the copy only.
    ok(daemon.berth().args(["kill", "box"]).output().unwrap());
    ok(daemon.berth().args(["wait", "box"]).output().unwrap());
    ok(cp(daemon.docker(), "box:/hello", &at("hello")));
    assert!(std::fs::read_to_string(at("hello"))
        .unwrap()
        .contains("Hello from Docker!"));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "still mounted after the copy");

    // Errors name the path.
    let missing = cp(daemon.docker(), "box:/nope", &at("nope"));
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nope"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let not_dir = daemon.request("PUT", "/containers/box/archive?path=/hello", Some(b""));
    assert_eq!(not_dir.status, 400, "{}", not_dir.text());
}
