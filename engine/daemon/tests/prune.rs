//! Docker's list filters (`ps -f`, `images -f`), the prune commands (`container prune`,
//! `image prune [-a]`, `system prune`) and `system df`, with the real docker CLI and berth
//! against berthd.

mod support;

use support::registry::Registry;
use support::{ok, Daemon};

/// Runs `args` with `client` and returns stdout's lines, sorted.
fn lines(mut client: std::process::Command, args: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = ok(client.args(args).output().unwrap())
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The command's stderr, asserting it failed.
fn fails(mut client: std::process::Command, args: &[&str]) -> String {
    let output = client.args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `berth run ARGS`, which must end with `code`.
fn run(daemon: &Daemon, code: i32, args: &[&str]) {
    let output = daemon.berth().arg("run").args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "berth run {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `writer`: a container that wrote 300 kB into its writable layer, then exited 0.
fn run_writer(daemon: &Daemon) {
    run(
        daemon,
        0,
        &[
            "--name",
            "writer",
            "hello-world",
            "sh",
            "-c",
            "busybox head -c 300000 /dev/zero > /data",
        ],
    );
}

#[test]
fn ps_and_images_filters_select_like_dockerd() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    run(
        &daemon,
        0,
        &[
            "-d",
            "--name",
            "up",
            "--label",
            "tier=web",
            "hello-world",
            "sleep",
            "300",
        ],
    );
    run(&daemon, 0, &["--name", "done0", "hello-world", "true"]);
    run(
        &daemon,
        3,
        &["--name", "done3", "hello-world", "sh", "-c", "exit 3"],
    );
    ok(daemon
        .berth()
        .args(["create", "--name", "fresh", "hello-world"])
        .output()
        .unwrap());
    ok(daemon
        .docker()
        .args(["tag", "hello-world", "extra:1"])
        .output()
        .unwrap());
    let id_of = |name: &str| {
        daemon
            .request("GET", &format!("/containers/{name}/json"), None)
            .json()["Id"]
            .as_str()
            .unwrap()[..12]
            .to_owned()
    };
    for docker in [true, false] {
        let client = || {
            if docker {
                daemon.docker()
            } else {
                daemon.berth()
            }
        };
        // docker prints names; berth's ps has no --format, so it prints short ids.
        let ps = |filters: &[&str]| {
            let mut args = vec!["ps"];
            args.extend_from_slice(filters);
            if docker {
                args.extend_from_slice(&["--format", "{{.Names}}"]);
            } else {
                args.push("-q");
            }
            lines(client(), &args)
        };
        let shown = |names: &[&str]| -> Vec<String> {
            let mut shown: Vec<String> = names
                .iter()
                .map(|name| {
                    if docker {
                        (*name).to_owned()
                    } else {
                        id_of(name)
                    }
                })
                .collect();
            shown.sort();
            shown
        };
        assert_eq!(ps(&[]), shown(&["up"]));
        // A status filter shows stopped containers without -a, as dockerd does.
        assert_eq!(ps(&["-f", "status=exited"]), shown(&["done0", "done3"]));
        assert_eq!(ps(&["-f", "status=created"]), shown(&["fresh"]));
        assert_eq!(ps(&["-a", "-f", "exited=3"]), shown(&["done3"]));
        assert_eq!(ps(&["-a", "-f", "name=^/done"]), shown(&["done0", "done3"]));
        assert_eq!(ps(&["-a", "-f", "label=tier=web"]), shown(&["up"]));
        assert_eq!(
            ps(&["-a", "-f", "ancestor=hello-world"]),
            shown(&["done0", "done3", "fresh", "up"])
        );
        assert_eq!(ps(&["-a", "-f", "since=done3"]), shown(&["fresh"]));
        assert_eq!(ps(&["-a", "-f", "before=done0"]), shown(&["up"]));
        assert_eq!(ps(&["-a", "-f", "ancestor=extra:1"]).len(), 4);
        assert!(ps(&["-a", "-f", "id=ffffffffffff"]).is_empty());
    }
    // -n and -l take the newest, stopped ones too.
    let newest = |args: &[&str]| {
        let mut all = vec!["ps"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "{{.Names}}"]);
        ok(daemon.docker().args(&all).output().unwrap())
    };
    assert_eq!(newest(&["-l"]), "fresh\n");
    assert_eq!(newest(&["-n", "2"]), "fresh\ndone3\n");
    let bad = daemon.request("GET", "/containers/json?limit=many", None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    let images = |filter: &str| {
        lines(
            daemon.docker(),
            &[
                "images",
                "-f",
                filter,
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ],
        )
    };
    assert_eq!(images("reference=extra"), ["extra:1"]);
    assert_eq!(images("reference=hello*"), ["hello-world:latest"]);
    assert!(images("dangling=true").is_empty());
    assert_eq!(images("dangling=false").len(), 2);
    // berth's images take -f too (one image id, two tags).
    let berth_images = lines(daemon.berth(), &["images", "-q", "-f", "reference=extra"]);
    assert_eq!(berth_images.len(), 1, "{berth_images:?}");

    // Bad filters are a 400 naming the filter, and the CLIs say so.
    let stderr = fails(daemon.docker(), &["ps", "-f", "status=bogus"]);
    assert!(stderr.contains("invalid filter 'status=bogus'"), "{stderr}");
    let stderr = fails(daemon.berth(), &["ps", "-f", "colour=red"]);
    assert!(stderr.contains("invalid filter 'colour'"), "{stderr}");
    let stderr = fails(daemon.berth(), &["images", "-f", "dangling=maybe"]);
    assert!(
        stderr.contains("invalid filter 'dangling=maybe'"),
        "{stderr}"
    );
    let stderr = fails(daemon.berth(), &["ps", "-a", "-f", "before=nosuch"]);
    assert!(
        stderr.contains("invalid filter 'before=nosuch'"),
        "{stderr}"
    );
    let bad = daemon.request("GET", "/containers/json?filters=%7Bnot%20json", None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains("invalid filters parameter"),
        "{}",
        bad.text()
    );
}

#[test]
fn prune_removes_what_is_stopped_or_unused_and_reports_the_space() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    run(
        &daemon,
        0,
        &["-d", "--name", "up", "hello-world", "sleep", "300"],
    );
    run_writer(&daemon);
    run(
        &daemon,
        0,
        &["--name", "kept", "--label", "keep=1", "hello-world", "true"],
    );
    let writer_id = daemon
        .request("GET", "/containers/writer/json", None)
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without -f the prompt decides: no answer keeps everything.
    let declined = support::with_input(
        {
            let mut docker = daemon.docker();
            docker.args(["container", "prune"]);
            docker
        },
        b"n\n",
    );
    assert!(declined.status.success());
    assert!(String::from_utf8_lossy(&declined.stdout).contains("Are you sure"));
    assert_eq!(
        daemon
            .request("GET", "/containers/writer/json", None)
            .status,
        200
    );

    let pruned = ok(daemon
        .docker()
        .args(["container", "prune", "-f", "--filter", "label!=keep"])
        .output()
        .unwrap());
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    assert!(pruned.contains(&writer_id), "{pruned}");
    // The writer's 300 kB file was in its writable layer.
    let reclaimed = pruned
        .lines()
        .find_map(|line| line.strip_prefix("Total reclaimed space: "))
        .unwrap_or_else(|| panic!("{pruned}"));
    assert!(
        reclaimed.ends_with("kB") || reclaimed.ends_with("MB"),
        "{pruned}"
    );
    assert_eq!(
        daemon
            .request("GET", "/containers/writer/json", None)
            .status,
        404
    );
    assert_eq!(
        daemon.request("GET", "/containers/kept/json", None).status,
        200
    );
    assert_eq!(
        daemon.request("GET", "/containers/up/json", None).status,
        200
    );

    // A new hello-world:latest leaves the pulled one dangling.
    let old_id = ok(daemon
        .docker()
        .args(["images", "-q", "--no-trunc", "hello-world"])
        .output()
        .unwrap())
    .trim()
    .to_owned();
    registry.push_hello_world_variant(serde_json::json!({"variant": "2"}));
    ok(daemon
        .docker()
        .args(["pull", "hello-world"])
        .output()
        .unwrap());
    assert_eq!(
        lines(
            daemon.docker(),
            &["images", "-q", "--no-trunc", "-f", "dangling=true"]
        ),
        std::slice::from_ref(&old_id)
    );
    assert_eq!(
        lines(
            daemon.docker(),
            &["images", "-f", "label=variant=2", "--format", "{{.Tag}}"]
        ),
        ["latest"]
    );

    // Containers still use the dangling image: nothing to prune yet.
    let response = daemon.request("POST", "/images/prune", None);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["ImagesDeleted"], serde_json::json!([]));

    // system prune takes the stopped container; the running one keeps the dangling image.
    let system = ok(daemon
        .berth()
        .args(["system", "prune", "-f"])
        .output()
        .unwrap());
    assert!(system.contains("Deleted Containers:"), "{system}");
    assert!(!system.contains("Deleted Images:"), "{system}");
    assert_eq!(
        daemon.request("GET", "/containers/kept/json", None).status,
        404
    );
    let up_image = daemon.request("GET", "/containers/up/json", None).json()["Image"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(up_image, old_id);
    assert_eq!(
        daemon
            .request("GET", &format!("/images/{old_id}/json"), None)
            .status,
        200
    );

    // Once unused, the dangling image goes and the tagged one stays.
    ok(daemon.berth().args(["rm", "-f", "up"]).output().unwrap());
    let dangling = ok(daemon
        .docker()
        .args(["image", "prune", "-f"])
        .output()
        .unwrap());
    assert!(
        dangling.contains(&format!("deleted: {old_id}")),
        "{dangling}"
    );
    // Only its digest reference goes with it; the tag stays on the new image.
    assert!(
        !dangling.contains("untagged: hello-world:latest"),
        "{dangling}"
    );
    assert!(
        !dangling.contains("Total reclaimed space: 0B"),
        "{dangling}"
    );
    assert_eq!(lines(daemon.docker(), &["images", "-q"]).len(), 1);

    // -a takes every image no container uses, with all its tags.
    ok(daemon
        .berth()
        .args(["tag", "hello-world", "extra:1"])
        .output()
        .unwrap());
    let new_id = ok(daemon
        .docker()
        .args(["images", "-q", "--no-trunc", "extra"])
        .output()
        .unwrap())
    .trim()
    .to_owned();
    let all = ok(daemon
        .berth()
        .args(["image", "prune", "-a", "-f"])
        .output()
        .unwrap());
    assert!(all.contains("untagged: extra:1"), "{all}");
    assert!(all.contains("untagged: hello-world:latest"), "{all}");
    assert!(all.contains(&format!("deleted: {new_id}")), "{all}");
    let left = daemon.request("GET", "/images/json", None).json();
    assert_eq!(left, serde_json::json!([]), "{all}");

    // docker system prune also asks for networks and the build cache: there are none to
    // prune, and it succeeds.
    run(&daemon, 0, &["--name", "left", "hello-world", "true"]);
    let system = ok(daemon
        .docker()
        .args(["system", "prune", "-f"])
        .output()
        .unwrap());
    assert!(system.contains("Deleted Containers:"), "{system}");
    assert_eq!(
        daemon.request("GET", "/containers/left/json", None).status,
        404
    );
    let networks = lines(
        daemon.docker(),
        &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
    );
    assert_eq!(networks, ["host host", "none null"]);
    let refused = daemon.request("POST", "/networks/create", Some(br#"{"Name":"x"}"#));
    assert_eq!(refused.status, 400, "{}", refused.text());

    // Prune filters are checked like list filters.
    let bad = daemon.request(
        "POST",
        "/containers/prune?filters=%7B%22status%22%3A%5B%22exited%22%5D%7D",
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains("invalid filter 'status'"),
        "{}",
        bad.text()
    );
}

#[test]
fn system_df_reports_layers_images_and_what_containers_wrote() {
    let registry = Registry::with_hello_world();
    let daemon = Daemon::start(&registry.mirror_config(), &[]);
    run_writer(&daemon);
    run(
        &daemon,
        0,
        &["-d", "--name", "up", "hello-world", "sleep", "300"],
    );
    let usage = daemon.request("GET", "/system/df", None);
    assert_eq!(usage.status, 200, "{}", usage.text());
    let usage = usage.json();
    let busybox = std::fs::metadata("/bin/busybox").unwrap().len() as i64;
    let layers = usage["LayersSize"].as_i64().unwrap();
    assert!(layers >= busybox, "{usage}");
    let images = usage["Images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{usage}");
    assert_eq!(images[0]["Containers"], 2, "{usage}");
    assert_eq!(images[0]["SharedSize"], 0, "{usage}");
    let image_size = images[0]["Size"].as_i64().unwrap();
    assert_eq!(image_size, layers, "{usage}");
    let containers = usage["Containers"].as_array().unwrap();
    let writer = containers
        .iter()
        .find(|container| container["Names"][0] == "/writer")
        .unwrap();
    let written = writer["SizeRw"].as_i64().unwrap();
    assert!((300_000..400_000).contains(&written), "{usage}");
    assert_eq!(writer["SizeRootFs"].as_i64().unwrap(), written + image_size);

    // Only the asked-for kinds, and a 400 for an unknown one.
    let only = daemon
        .request("GET", "/system/df?type=container", None)
        .json();
    assert_eq!(only["Images"], serde_json::json!([]), "{only}");
    assert_eq!(only["Containers"].as_array().unwrap().len(), 2, "{only}");
    let bad = daemon.request("GET", "/system/df?type=bogus", None);
    assert_eq!(bad.status, 400, "{}", bad.text());

    // docker's and berth's tables: one image in use, two containers with one running.
    for client in [daemon.docker(), daemon.berth()] {
        let table = lines(client, &["system", "df"]);
        let row = |kind: &str| -> Vec<String> {
            let line = table
                .iter()
                .find(|line| line.starts_with(kind))
                .unwrap_or_else(|| panic!("no {kind} row: {table:?}"));
            line.split_whitespace().map(str::to_owned).collect()
        };
        assert_eq!(row("Images")[1..3], ["1", "1"], "{table:?}");
        assert_eq!(row("Containers")[1..3], ["2", "1"], "{table:?}");
        assert!(row("Containers")[3].ends_with("kB"), "{table:?}");
    }
    // docker ps -s asks for the same sizes.
    let sizes = lines(
        daemon.docker(),
        &["ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"],
    );
    assert!(
        sizes
            .iter()
            .any(|line| line.starts_with("writer 3") && line.contains("virtual")),
        "{sizes:?}"
    );
}
