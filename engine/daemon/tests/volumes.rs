//! Named volumes through berthd: `volume create|ls|inspect|rm|prune`, `-v NAME:/path` (made on
//! first use, filled from the image when empty, kept across containers), refusals while in
//! use, and the sizes `system df` shows; with the real docker CLI and berth.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::registry::Registry;
use support::{ok, Daemon};

fn stderr_of(mut client: std::process::Command, args: &[&str]) -> String {
    let output = client.args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn volumes_keep_data_across_containers_and_are_refused_while_in_use() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let created = ok(daemon
        .docker()
        .args(["volume", "create", "--label", "tier=db", "data"])
        .output()
        .unwrap());
    assert_eq!(created.trim(), "data");
    let listed = ok(daemon
        .berth()
        .args(["volume", "ls", "-q"])
        .output()
        .unwrap());
    assert_eq!(listed.trim(), "data");
    let inspect = daemon.request("GET", "/volumes/data", None).json();
    assert_eq!(inspect["Driver"], "local", "{inspect}");
    assert_eq!(inspect["Labels"]["tier"], "db", "{inspect}");
    let mountpoint = inspect["Mountpoint"].as_str().unwrap().to_owned();
    assert!(std::path::Path::new(&mountpoint).is_dir(), "{inspect}");

    // What one container writes, the next one reads.
    ok(daemon
        .docker()
        .args([
            "run",
            "--rm",
            "-v",
            "data:/store",
            "hello-world",
            "sh",
            "-c",
        ])
        .arg("echo kept > /store/file")
        .output()
        .unwrap());
    let read = ok(daemon
        .berth()
        .args([
            "run",
            "--rm",
            "-v",
            "data:/store:ro",
            "hello-world",
            "cat",
            "/store/file",
        ])
        .output()
        .unwrap());
    assert_eq!(read, "kept\n");
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/file")).unwrap(),
        "kept\n"
    );

    // A volume named for the first time is made, and filled from the image's /bin.
    ok(daemon
        .berth()
        .args(["run", "--rm", "-v", "bins:/bin", "hello-world", "true"])
        .output()
        .unwrap());
    let bins = daemon.request("GET", "/volumes/bins", None).json();
    let bins_dir = std::path::PathBuf::from(bins["Mountpoint"].as_str().unwrap());
    let busybox = std::fs::symlink_metadata(bins_dir.join("busybox")).unwrap();
    assert_eq!(
        busybox.len(),
        std::fs::metadata("/bin/busybox").unwrap().len()
    );
    assert_eq!(busybox.permissions().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(bins_dir.join("sh")).unwrap(),
        std::path::Path::new("busybox")
    );

    // In use: rm is refused, inspect shows the volume mount.
    ok(daemon
        .berth()
        .args([
            "run",
            "-d",
            "--name",
            "user",
            "-v",
            "data:/store",
            "hello-world",
            "sleep",
            "300",
        ])
        .output()
        .unwrap());
    let mounts = daemon.request("GET", "/containers/user/json", None).json()["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Name"], "data", "{mounts}");
    assert_eq!(mounts[0]["Source"], mountpoint.as_str(), "{mounts}");
    let refused = stderr_of(daemon.docker(), &["volume", "rm", "data"]);
    assert!(refused.contains("volume is in use"), "{refused}");

    // system df counts both volumes, one in use.
    let usage = daemon.request("GET", "/system/df", None).json();
    let volumes = usage["Volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 2, "{usage}");
    let data = volumes.iter().find(|v| v["Name"] == "data").unwrap();
    assert_eq!(data["UsageData"]["RefCount"], 1, "{usage}");
    assert_eq!(data["UsageData"]["Size"], 5, "{usage}");

    for mut client in [daemon.docker(), daemon.berth()] {
        let table = ok(client.args(["system", "df"]).output().unwrap());
        let row = table
            .lines()
            .find(|line| line.starts_with("Local Volumes"))
            .unwrap_or_else(|| panic!("{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[2..4], ["2", "1"], "{table}");
    }

    // Without -a, prune takes only anonymous volumes, as docker's does: these are named.
    let kept = ok(daemon
        .berth()
        .args(["volume", "prune", "-f"])
        .output()
        .unwrap());
    assert!(!kept.contains("Deleted Volumes"), "{kept}");
    assert!(bins_dir.exists());
    // With it, the unused one goes and the one in use stays.
    let pruned = ok(daemon
        .docker()
        .args(["volume", "prune", "-f", "--filter", "all=true"])
        .output()
        .unwrap());
    assert!(pruned.contains("Deleted Volumes:\nbins\n"), "{pruned}");
    assert!(!pruned.contains("data"), "{pruned}");
    assert!(!bins_dir.exists());

    ok(daemon.berth().args(["rm", "-f", "user"]).output().unwrap());
    let removed = ok(daemon
        .berth()
        .args(["volume", "rm", "data"])
        .output()
        .unwrap());
    assert_eq!(removed.trim(), "data");
    assert!(!std::path::Path::new(&mountpoint).exists());
    let gone = stderr_of(daemon.berth(), &["volume", "inspect", "data"]);
    assert!(gone.contains("no such volume"), "{gone}");
    // -f forgives a missing volume, as docker's does.
    ok(daemon
        .docker()
        .args(["volume", "rm", "-f", "data"])
        .output()
        .unwrap());
}

#[test]
fn bad_volume_names_and_drivers_are_refused() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let bad_name = stderr_of(daemon.berth(), &["volume", "create", "a"]);
    assert!(bad_name.contains("create a: volume name"), "{bad_name}");
    let bad_driver = stderr_of(daemon.docker(), &["volume", "create", "-d", "nfs", "share"]);
    assert!(
        bad_driver.contains("driver \"nfs\" is not supported"),
        "{bad_driver}"
    );
    let bad_bind = stderr_of(
        daemon.berth(),
        &["run", "--rm", "-v", "no$pe:/x", "hello-world", "true"],
    );
    assert!(
        bad_bind.contains("invalid characters for a local volume name"),
        "{bad_bind}"
    );
    let listed = daemon.request("GET", "/volumes", None).json();
    assert_eq!(listed["Volumes"], serde_json::json!([]), "{listed}");
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm_and_plain_prune() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let names = |daemon: &Daemon| -> Vec<String> {
        daemon.request("GET", "/volumes", None).json()["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|volume| volume["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    // -v /path makes an anonymous volume, mounted and labelled as docker's.
    ok(daemon
        .docker()
        .args([
            "run",
            "-d",
            "--name",
            "anon",
            "-v",
            "/cache",
            "hello-world",
            "sleep",
            "300",
        ])
        .output()
        .unwrap());
    let mounts = daemon.request("GET", "/containers/anon/json", None).json()["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/cache", "{mounts}");
    let name = mounts[0]["Name"].as_str().unwrap().to_owned();
    assert_eq!(name.len(), 64, "{mounts}");
    let volume = daemon
        .request("GET", &format!("/volumes/{name}"), None)
        .json();
    assert!(
        volume["Labels"]
            .as_object()
            .unwrap()
            .contains_key("com.docker.volume.anonymous"),
        "{volume}"
    );
    // In use, so a plain prune keeps it; rm -v takes it.
    ok(daemon
        .docker()
        .args(["volume", "prune", "-f"])
        .output()
        .unwrap());
    assert_eq!(names(&daemon), std::slice::from_ref(&name));
    ok(daemon
        .berth()
        .args(["rm", "-f", "-v", "anon"])
        .output()
        .unwrap());
    assert!(names(&daemon).is_empty());

    // run --rm takes its anonymous volumes with it.
    ok(daemon
        .berth()
        .args([
            "run",
            "--rm",
            "-v",
            "/scratch",
            "hello-world",
            "sh",
            "-c",
            "echo x > /scratch/f",
        ])
        .output()
        .unwrap());
    assert!(names(&daemon).is_empty());

    // rm without -v leaves it; then it is unused and anonymous, so a plain prune takes it.
    ok(daemon
        .berth()
        .args(["run", "--name", "left", "-v", "/x", "hello-world", "true"])
        .output()
        .unwrap());
    ok(daemon.berth().args(["rm", "left"]).output().unwrap());
    assert_eq!(names(&daemon).len(), 1);
    let pruned = ok(daemon
        .berth()
        .args(["volume", "prune", "-f"])
        .output()
        .unwrap());
    assert!(pruned.contains("Deleted Volumes:"), "{pruned}");
    assert!(names(&daemon).is_empty());
}

#[test]
fn mount_tmpfs_and_read_only_root_are_honoured() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("given"), "from the host\n").unwrap();
    let bind = format!(
        "type=bind,source={},target=/given,readonly",
        host_dir.path().display()
    );
    for (mut client, volume) in [(daemon.docker(), "by-docker"), (daemon.berth(), "by-berth")] {
        let mount = format!("type=volume,source={volume},target=/data");
        let script = "cat /given/given; echo kept > /data/f; echo scratch > /run/s && cat /run/s; \
                      mount | grep ' /run ' | grep -o nosuid; \
                      echo x > /given/no 2>/dev/null || echo bind-ro; \
                      echo x > /root-file 2>/dev/null || echo root-ro";
        let shown = ok(client
            .args(["run", "--rm", "--read-only", "--tmpfs", "/run:size=1m"])
            .args(["--mount", &bind, "--mount", &mount])
            .args(["hello-world", "sh", "-c", script])
            .output()
            .unwrap());
        assert_eq!(
            shown, "from the host\nscratch\nnosuid\nbind-ro\nroot-ro\n",
            "{volume}"
        );
        let stored = daemon
            .request("GET", &format!("/volumes/{volume}"), None)
            .json();
        let file = Path::new(stored["Mountpoint"].as_str().unwrap()).join("f");
        assert_eq!(std::fs::read_to_string(file).unwrap(), "kept\n");
    }
    let refused = stderr_of(
        daemon.docker(),
        &[
            "run",
            "--rm",
            "--mount",
            "type=npipe,source=x,target=/x",
            "hello-world",
            "true",
        ],
    );
    assert!(refused.contains("mount type \"npipe\""), "{refused}");
    let bad_option = stderr_of(
        daemon.berth(),
        &["run", "--rm", "--tmpfs", "/t:bogus", "hello-world", "true"],
    );
    assert!(
        bad_option.contains("invalid tmpfs option for /t: bogus"),
        "{bad_option}"
    );
}
