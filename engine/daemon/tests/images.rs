//! Images through berthd against a real registry used as a docker.io mirror: pull with the
//! berth client and the real docker CLI, list, inspect, tag, save/load, rmi, and images
//! surviving a daemon restart.

mod support;

use std::process::Command;

use support::registry::Registry;
use support::{ok, Daemon};

#[test]
fn pull_list_tag_save_load_rmi_and_restart() {
    let registry = Registry::with_hello_world();
    let config = registry.mirror_config();
    let daemon = Daemon::start(&config, &[]);

    let pulled = ok(daemon
        .berth()
        .args(["pull", "hello-world"])
        .output()
        .unwrap());
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains("Status: Downloaded newer image for hello-world:latest"),
        "{pulled}"
    );

    let listed = ok(daemon.berth().arg("images").output().unwrap());
    let mut lines = listed.lines();
    assert!(lines.next().unwrap().starts_with("REPOSITORY"), "{listed}");
    assert!(lines.next().unwrap().starts_with("hello-world"), "{listed}");

    let inspect = daemon.request("GET", "/v1.44/images/hello-world/json", None);
    assert_eq!(inspect.status, 200, "{}", inspect.text());
    assert_eq!(inspect.json()["Config"]["Cmd"][0], "/hello");
    let missing = daemon.request("GET", "/v1.44/images/nothere/json", None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("Content-Type"), Some("application/json"));

    ok(daemon
        .berth()
        .args(["tag", "hello-world", "local/hello:v1"])
        .output()
        .unwrap());
    let listed = ok(daemon.berth().arg("images").output().unwrap());
    assert!(listed.contains("local/hello"), "{listed}");

    let archive = daemon.dir.path().join("hello.tar");
    ok(daemon
        .berth()
        .args(["save", "-o"])
        .arg(&archive)
        .arg("hello-world")
        .output()
        .unwrap());
    let removed = ok(daemon
        .berth()
        .args(["rmi", "local/hello:v1"])
        .output()
        .unwrap());
    assert!(removed.contains("Untagged: local/hello:v1"), "{removed}");
    let removed = ok(daemon
        .berth()
        .args(["rmi", "hello-world"])
        .output()
        .unwrap());
    assert!(removed.contains("Deleted: sha256:"), "{removed}");
    let listed = ok(daemon.berth().args(["images", "-q"]).output().unwrap());
    assert_eq!(listed.trim(), "", "no images left");

    let loaded = ok(daemon
        .berth()
        .args(["load", "-i"])
        .arg(&archive)
        .output()
        .unwrap());
    assert!(
        loaded.contains("Loaded image: hello-world:latest"),
        "{loaded}"
    );

    // Images survive a restart.
    let (code, dir) = daemon.stop();
    assert_eq!(code, 0);
    let daemon = Daemon::start_in(dir, &config, &[]);
    let listed = ok(daemon.berth().arg("images").output().unwrap());
    assert!(listed.contains("hello-world"), "{listed}");
}

#[test]
fn docker_cli_pull_images_rmi() {
    support::require_tool("docker");
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let docker = || {
        let mut command = Command::new("docker");
        command
            .args(["-H", &daemon.host()])
            .env("DOCKER_CONFIG", daemon.dir.path());
        command
    };
    let pulled = ok(docker().args(["pull", "hello-world"]).output().unwrap());
    assert!(
        pulled.contains("Downloaded newer image for hello-world:latest"),
        "{pulled}"
    );
    let listed = ok(docker()
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap());
    assert_eq!(listed.trim(), "hello-world:latest");
    let removed = ok(docker().args(["rmi", "hello-world"]).output().unwrap());
    assert!(
        removed.contains("Untagged: hello-world:latest"),
        "{removed}"
    );
    let failed = docker().args(["pull", "no-such-image"]).output().unwrap();
    assert!(!failed.status.success());
}
