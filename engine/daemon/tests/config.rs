//! berthd's configuration handling as a user meets it: dockerd's messages for bad daemon.json
//! files, `--validate`, the man page, and flag/file conflicts.

mod support;

use std::process::Command;

fn berthd_with_config(json: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daemon.json");
    std::fs::write(&path, json).unwrap();
    let output = Command::new(support::berthd())
        .arg("--config-file")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr)
            .into_owned()
            .replace(&path.display().to_string(), "FILE"),
    )
}

#[test]
fn validate_accepts_the_shipped_style_config() {
    let (code, stdout, stderr) = berthd_with_config(
        r#"{
  "registry-mirrors": [],
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"}
}"#,
        &["--validate"],
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "configuration OK\n", "")
    );
}

#[test]
fn daemon_json_beginning_with_a_utf8_byte_order_mark_is_accepted() {
    let (code, stdout, stderr) = berthd_with_config(
        "\u{feff}{\"storage-driver\": \"overlay2\", \"debug\": true}\n",
        &["--validate"],
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "configuration OK\n", "")
    );
}

#[test]
fn unknown_key_gives_dockerds_message_and_exit_1() {
    let (code, _, stderr) = berthd_with_config(r#"{"live-restore": true}"#, &["--validate"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "unable to configure the berth daemon with file FILE: the following directives don't match any configuration option: live-restore\n"
    );
}

#[test]
fn flag_and_file_conflict_gives_dockerds_message() {
    let (code, _, stderr) = berthd_with_config(
        r#"{"hosts": ["unix:///run/x.sock"]}"#,
        &["-H", "fd://", "--validate"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "unable to configure the berth daemon with file FILE: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [fd://], from file: [unix:///run/x.sock])\n"
    );
}

#[test]
fn bad_values_are_one_line_naming_the_key() {
    for (json, expected) in [
        (r#"{"debug": "yes"}"#, "invalid value for \"debug\""),
        (
            r#"{"registry-mirrors": ["ftp://m"]}"#,
            "invalid mirror: unsupported scheme \"ftp\"",
        ),
        (
            r#"{"log-opts": {"max-size": "lots"}}"#,
            "log-opts: max-size",
        ),
        ("{not json", "invalid JSON"),
    ] {
        let (code, _, stderr) = berthd_with_config(json, &["--validate"]);
        assert_eq!(code, 1, "{json}");
        assert_eq!(stderr.lines().count(), 1, "{json}: {stderr}");
        assert!(stderr.contains(expected), "{json}: {stderr}");
    }
}

#[test]
fn explicit_missing_config_file_is_an_error() {
    let output = Command::new(support::berthd())
        .args([
            "--config-file",
            "/nonexistent/berth/daemon.json",
            "--validate",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "unable to configure the berth daemon with file /nonexistent/berth/daemon.json: open /nonexistent/berth/daemon.json: no such file or directory\n"
    );
}

#[test]
fn version_and_man_page() {
    let output = Command::new(support::berthd())
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with(concat!(
            "berthd version ",
            env!("CARGO_PKG_VERSION"),
            ", build "
        )),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(support::berthd())
        .arg("--generate-man")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_to_string(dir.path().join("berthd.8")).unwrap();
    assert!(page.contains(".TH berthd 8"), "{page}");
    assert!(page.contains("registry\\-mirror"), "{page}");
}
