//! What an image cannot do to the host, and what every container gets, through the docker CLI
//! and berth against real images in a real registry: an image whose /dev is a symlink to a
//! host directory, an image VOLUME behind a chain of 256 symlinks, loopback up in each network
//! mode, and `-w` making a missing working directory inside the container.

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

use support::registry::Registry;
use support::Daemon;

/// A host directory a hostile image points at.
fn attack_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-attack-")
        .tempdir_in("/tmp")
        .expect("attack dir")
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read attack dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn dev_symlink_does_not_create_nodes_on_the_host() {
    let host = attack_dir();
    let registry = Registry::start();
    let target = host.path().to_path_buf();
    registry.push_image(
        "library/escape-dev",
        move |root| symlink(&target, root.join("dev")).expect("symlink /dev"),
        serde_json::json!({"Cmd": ["sh", "-c",
            "test -c /dev/null && test -c /dev/urandom && test -L /dev/fd && echo dev-ok"]}),
    );
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let docker = daemon
        .docker()
        .args(["run", "--rm", "escape-dev"])
        .output()
        .expect("run docker");
    let berth = daemon
        .berth()
        .args(["run", "--rm", "escape-dev"])
        .output()
        .expect("run berth");
    assert_eq!(
        entries(host.path()),
        Vec::<String>::new(),
        "device nodes or links were made in the host's {}",
        host.path().display()
    );
    for output in [docker, berth] {
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "dev-ok\n");
    }
}

#[test]
fn a_volume_behind_a_256_link_chain_is_refused_and_made_nowhere_on_the_host() {
    let host = attack_dir();
    let registry = Registry::start();
    let target = host.path().to_path_buf();
    registry.push_image(
        "library/escape-chain",
        move |root| {
            for i in 0..256 {
                let link = if i == 255 {
                    target.clone()
                } else {
                    format!("/l{}", i + 1).into()
                };
                symlink(link, root.join(format!("l{i}"))).expect("symlink");
            }
        },
        serde_json::json!({"Cmd": ["true"], "Volumes": {"/l0/escaped": {}}}),
    );
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let docker = daemon
        .docker()
        .args(["run", "--rm", "escape-chain"])
        .output()
        .expect("run docker");
    let berth = daemon
        .berth()
        .args(["run", "--rm", "escape-chain"])
        .output()
        .expect("run berth");
    assert_eq!(
        entries(host.path()),
        Vec::<String>::new(),
        "a volume was made and mounted on the host"
    );
    for output in [docker, berth] {
        assert!(!output.status.success(), "{}", text(&output));
        let message = text(&output);
        assert!(
            message.contains("/l0/escaped")
                && message.contains("Too many levels of symbolic links"),
            "{message}"
        );
    }
    // The daemon keeps serving.
    let ps = daemon
        .docker()
        .args(["ps", "-a"])
        .output()
        .expect("docker ps");
    assert!(ps.status.success(), "{}", text(&ps));
}

/// lo as a container in `network` mode sees it, where a connection to 127.0.0.1:1 ends, and
/// the container's network namespace.
fn loopback(client: std::process::Command, network: &str) -> String {
    let mut client = client;
    let output = client
        .args([
            "run",
            "--rm",
            "--network",
            network,
            "hello-world",
            "/bin/busybox",
            "sh",
            "-c",
        ])
        .arg(
            "busybox ip -o addr show dev lo; busybox ip -o link show dev lo; \
             busybox nc 127.0.0.1 1 </dev/null; busybox readlink /proc/self/ns/net; true",
        )
        .output()
        .expect("run client");
    assert!(output.status.success(), "{}", text(&output));
    text(&output)
}

#[test]
fn loopback_is_up_in_every_network_mode() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let host_netns = std::fs::read_link("/proc/self/ns/net").expect("host netns");
    let host_netns = host_netns.to_string_lossy().into_owned();
    for (network, own_namespace) in [("none", true), ("default", true), ("host", false)] {
        for (client, command) in [("docker", daemon.docker()), ("berth", daemon.berth())] {
            let seen = loopback(command, network);
            let context = format!("{client} --network {network}: {seen}");
            assert!(seen.contains("inet 127.0.0.1/8"), "{context}");
            assert!(seen.contains(",UP,"), "{context}");
            assert!(seen.contains("Connection refused"), "{context}");
            assert!(!seen.contains("unreachable"), "{context}");
            assert_eq!(!seen.contains(&host_netns), own_namespace, "{context}");
        }
    }
}

#[test]
fn workdir_that_does_not_exist_is_made_inside_the_container() {
    let host = attack_dir();
    let registry = Registry::with_hello_world();
    let target = host.path().to_path_buf();
    registry.push_image(
        "library/escape-workdir",
        move |root| symlink(&target, root.join("away")).expect("symlink /away"),
        serde_json::json!({"Cmd": ["sh", "-c", "pwd; busybox stat -c '%u:%g %a' ."]}),
    );
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let inside = host.path().display();
    for (client, command) in [("docker", daemon.docker()), ("berth", daemon.berth())] {
        let mut command = command;
        let output = command
            .args(["run", "--rm", "-w", "/newdir/sub", "hello-world"])
            .args([
                "/bin/busybox",
                "sh",
                "-c",
                "pwd; busybox stat -c '%u:%g %a' .",
            ])
            .output()
            .expect("run client");
        assert!(output.status.success(), "{client}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "/newdir/sub\n0:0 755\n",
            "{client}"
        );
        let mut command = if client == "docker" {
            daemon.docker()
        } else {
            daemon.berth()
        };
        let output = command
            .args(["run", "--rm", "-w", "/away/new", "escape-workdir"])
            .output()
            .expect("run client");
        assert!(output.status.success(), "{client}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{inside}/new\n0:0 755\n"),
            "{client}"
        );
    }
    assert_eq!(
        entries(host.path()),
        Vec::<String>::new(),
        "made on the host"
    );
}
