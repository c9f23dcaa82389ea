//! tcp listeners with TLS: certificates made by openssl, the real docker CLI and berth over
//! `--tlsverify` with a client certificate, berth refusing a daemon its CA did not sign, and clients refused without a certificate, with one
//! from another CA, or speaking plain HTTP. Plain tcp prints the loud warning.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{ok, Daemon};

fn openssl(dir: &Path, args: &[&str]) {
    support::require_tool("openssl");
    ok(Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl"));
}

/// A CA (`<ca>.pem`, `<ca>-key.pem`) in `dir`.
fn make_ca(dir: &Path, ca: &str) {
    let key = format!("{ca}-key.pem");
    let cert = format!("{ca}.pem");
    let subject = format!("/CN=berth test {ca}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", &key, "-out",
            &cert, "-subj", &subject,
        ],
    );
}

/// `<name>.pem` and `<name>-key.pem`, signed by `ca`, for 127.0.0.1 with `usage`
/// (serverAuth or clientAuth).
fn make_cert(dir: &Path, ca: &str, name: &str, usage: &str) {
    let (key, csr, cert, ext) = (
        format!("{name}-key.pem"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\n"),
    )
    .unwrap();
    let subject = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
            &subject,
        ],
    );
    let (ca_cert, ca_key) = (format!("{ca}.pem"), format!("{ca}-key.pem"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &cert,
            "-extfile",
            &ext,
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

fn curl(args: &[&str]) -> Output {
    support::require_tool("curl");
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl")
}

#[test]
fn tlsverify_serves_docker_with_a_client_certificate_and_refuses_others() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    make_ca(dir, "ca");
    make_cert(dir, "ca", "server", "serverAuth");
    make_cert(dir, "ca", "client", "clientAuth");
    make_ca(dir, "other-ca");
    make_cert(dir, "other-ca", "stranger", "clientAuth");
    let path = |name: &str| -> String { dir.join(name).display().to_string() };

    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let (ca, cert, key) = (path("ca.pem"), path("server.pem"), path("server-key.pem"));
    let daemon = Daemon::start(
        "{}",
        &[
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &ca,
            "--tlscert",
            &cert,
            "--tlskey",
            &key,
        ],
    );

    // The real docker CLI with its client certificate.
    support::require_tool("docker");
    let (client, client_key) = (path("client.pem"), path("client-key.pem"));
    let client_flags = [
        "--tlsverify",
        "--tlscacert",
        &ca,
        "--tlscert",
        &client,
        "--tlskey",
        &client_key,
    ];
    let version = ok(Command::new("docker")
        .env("DOCKER_CONFIG", dir)
        .args(["-H", &tcp])
        .args(client_flags)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap());
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));

    // berth itself, with docker's flags: verified, unverified, and without a client certificate.
    let berth = |flags: &[&str]| {
        Command::new(support::berth())
            .env("BERTH_CERT_PATH", dir.join("nowhere"))
            .args(["-H", &tcp])
            .args(flags)
            .arg("version")
            .output()
            .unwrap()
    };
    let verified = ok(berth(&client_flags));
    assert!(
        verified.contains("Server") && verified.matches(env!("CARGO_PKG_VERSION")).count() >= 2,
        "client and server versions: {verified}"
    );
    ok(berth(&[
        "--tls",
        "--tlscert",
        &client,
        "--tlskey",
        &client_key,
    ]));
    let no_cert = berth(&["--tlsverify", "--tlscacert", &ca]);
    assert!(
        !no_cert.status.success(),
        "berth without a client certificate was served"
    );
    let other_ca_cert = path("other-ca.pem");
    let wrong_ca = berth(&[
        "--tlsverify",
        "--tlscacert",
        &other_ca_cert,
        "--tlscert",
        &client,
        "--tlskey",
        &client_key,
    ]);
    assert!(
        !wrong_ca.status.success(),
        "berth trusted a daemon its CA did not sign"
    );

    let url = format!("https://127.0.0.1:{port}/_ping");
    let with_cert = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &client,
        "--key",
        &client_key,
        &url,
    ]);
    assert_eq!(ok(with_cert), "OK");

    let without_cert = curl(&["--cacert", &ca, &url]);
    assert!(
        !without_cert.status.success(),
        "no client certificate was accepted"
    );
    let (stranger, stranger_key) = (path("stranger.pem"), path("stranger-key.pem"));
    let other_ca = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &stranger,
        "--key",
        &stranger_key,
        &url,
    ]);
    assert!(
        !other_ca.status.success(),
        "a certificate from another CA was accepted"
    );
    let plain = curl(&[&format!("http://127.0.0.1:{port}/_ping")]);
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("OK"),
        "plain HTTP was served on the TLS port"
    );

    // Still serving, on both listeners.
    assert_eq!(daemon.request("GET", "/_ping", None).status, 200);
    let again = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &client,
        "--key",
        &client_key,
        &url,
    ]);
    assert_eq!(ok(again), "OK");
}

#[test]
fn tls_settings_are_checked_and_plain_tcp_warns() {
    let certs = tempfile::tempdir().unwrap();
    let missing: PathBuf = certs.path().join("missing.pem");
    let present = certs.path().join("present.pem");
    std::fs::write(&present, "not a certificate").unwrap();
    let validate = |extra: &[&std::ffi::OsStr]| {
        let output = Command::new(support::berthd())
            .args(["--validate", "--config-file", "/dev/null", "--tlsverify"])
            .args(extra)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = validate(&[
        "--tlscacert".as_ref(),
        missing.as_os_str(),
        "--tlscert".as_ref(),
        present.as_os_str(),
        "--tlskey".as_ref(),
        present.as_os_str(),
    ]);
    assert!(
        stderr.contains(&format!("tlscacert: {} does not exist", missing.display())),
        "{stderr}"
    );
    // Files that exist but hold no certificate fail when the listener would open.
    let daemon = Command::new(support::berthd())
        .args(["--config-file", "/dev/null", "-H"])
        .arg(format!("unix://{}", certs.path().join("s.sock").display()))
        .args(["--data-root", &certs.path().join("d").display().to_string()])
        .args(["--exec-root", &certs.path().join("e").display().to_string()])
        .args(["--pidfile", &certs.path().join("p").display().to_string()])
        .args(["--tls", "--tlscert"])
        .arg(&present)
        .arg("--tlskey")
        .arg(&present)
        .output()
        .unwrap();
    assert!(!daemon.status.success());
    let stderr = String::from_utf8_lossy(&daemon.stderr);
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");

    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let daemon = Daemon::start("{}", &["-H", &tcp]);
    let log = daemon.log();
    assert!(log.contains("without TLS"), "{log}");
    let plain = curl(&[&format!("http://127.0.0.1:{port}/_ping")]);
    assert_eq!(ok(plain), "OK");
}
