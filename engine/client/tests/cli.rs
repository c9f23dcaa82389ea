//! The `berth` client without a daemon: version, completion, man page, and the one-line error
//! when the daemon is down.

use std::process::Command;

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

#[test]
fn version_flag_names_build() {
    let output = berth().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with(concat!(
            "berth version ",
            env!("CARGO_PKG_VERSION"),
            ", build "
        )),
        "{text}"
    );
}

#[test]
fn down_daemon_is_one_line_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let host = format!("unix://{}", socket.display());
    let output = berth().args(["-H", &host, "info"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("Cannot connect to the berth daemon at {host}. Is berthd running?\n")
    );
    // BERTH_HOST is used when -H is absent.
    let output = berth()
        .arg("info")
        .env("BERTH_HOST", &host)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("Cannot connect to the berth daemon at {host}. Is berthd running?\n")
    );
    // And the default socket otherwise.
    let output = berth()
        .arg("version")
        .env_remove("BERTH_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !std::path::Path::new("/var/run/berth.sock").exists() {
        assert_eq!(
            stderr,
            "Cannot connect to the berth daemon at unix:///var/run/berth.sock. Is berthd running?\n"
        );
    }
}

#[test]
fn bash_completion_and_man_page() {
    let output = berth().args(["completion", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(script.contains("complete -F _berth"), "{script}");
    assert!(script.contains("--pids-limit"), "run flags are completed");

    let dir = tempfile::tempdir().unwrap();
    let status = berth()
        .arg("generate-man")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_to_string(dir.path().join("berth.1")).unwrap();
    assert!(page.contains(".TH berth 1"), "{page}");
    // The hidden command does not advertise itself.
    let help = berth().arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("generate-man"));
}

#[test]
fn completion_into_a_closed_pipe_ends_quietly_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let output = berth()
        .args(["completion", "bash"])
        .stdout(std::process::Stdio::from(write))
        .output()
        .unwrap();
    assert_eq!(output.status.signal(), Some(13), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn an_error_prints_its_whole_chain_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let output = berth()
        .args(["-H", "tcp://127.0.0.1:1", "--tlsverify", "--tlscacert"])
        .arg(&missing)
        .arg("info")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The context berth adds, then the cause it wraps (the OS's words).
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "--tlscacert {}: cannot read certificates: ",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}
