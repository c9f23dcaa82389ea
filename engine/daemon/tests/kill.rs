//! `POST /containers/{id}/kill` answers once SIGKILL has taken effect, as dockerd does: an
//! inspect right after shows the container stopped with 137, and a removal right after
//! succeeds without force.

mod support;

use support::registry::Registry;
use support::Daemon;

#[test]
fn kill_returns_only_after_the_container_is_dead() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    daemon.pull("hello-world");
    for n in 0..8 {
        let name = format!("killed-{n}");
        let created = daemon.request(
            "POST",
            &format!("/v1.44/containers/create?name={name}"),
            Some(br#"{"Image":"hello-world","Cmd":["sleep","1000"]}"#),
        );
        assert_eq!(created.status, 201, "{}", created.text());
        let started = daemon.request("POST", &format!("/containers/{name}/start"), None);
        assert_eq!(started.status, 204, "{}", started.text());

        let killed = daemon.request("POST", &format!("/containers/{name}/kill"), None);
        assert_eq!(killed.status, 204, "{}", killed.text());
        let inspect = daemon
            .request("GET", &format!("/containers/{name}/json"), None)
            .json();
        assert_eq!(inspect["State"]["Running"], false, "{name}: {inspect}");
        assert_eq!(inspect["State"]["ExitCode"], 137, "{name}: {inspect}");
        let removed = daemon.request("DELETE", &format!("/containers/{name}"), None);
        assert_eq!(removed.status, 204, "{name}: {}", removed.text());
    }
}
