//! `berth version`, `berth info` and `berth system df`.

use anyhow::Result;
use berth_api::system::{SystemDataUsage, SystemInfo, SystemVersion};
use berth_api::units::human_size;

use super::table;
use crate::transport::{CannotConnect, Client};

/// Prints client and server versions, like `docker version`.
pub async fn version(client: &Client) -> Result<i32> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", berth_api::API_VERSION);
    println!(" Git commit:        {}", env!("BERTH_BUILD_COMMIT"));
    println!(" OS/Arch:           linux/{}", go_arch());
    println!();
    let server: SystemVersion = match client.get_json("/version").await {
        Ok(server) => server,
        Err(err) if err.is::<CannotConnect>() => {
            eprintln!("{err}");
            return Ok(1);
        }
        Err(err) => return Err(err),
    };
    println!("Server: {}", server.platform.name);
    for component in &server.components {
        println!(" {}:", component.name);
        println!("  Version:          {}", component.version);
        let detail = |key: &str| component.details.get(key).cloned().unwrap_or_default();
        println!(
            "  API version:      {} (minimum version {})",
            detail("ApiVersion"),
            detail("MinAPIVersion")
        );
        println!("  Git commit:       {}", detail("GitCommit"));
        println!("  OS/Arch:          {}/{}", detail("Os"), detail("Arch"));
        println!("  Kernel version:   {}", detail("KernelVersion"));
    }
    Ok(0)
}

/// Prints `docker info`-style system information.
pub async fn info(client: &Client) -> Result<i32> {
    let info: SystemInfo = client.get_json("/info").await?;
    println!("Server:");
    println!(" Containers: {}", info.containers);
    println!("  Running: {}", info.containers_running);
    println!("  Paused: {}", info.containers_paused);
    println!("  Stopped: {}", info.containers_stopped);
    println!(" Images: {}", info.images);
    println!(" Server Version: {}", info.server_version);
    println!(" Storage Driver: {}", info.driver);
    println!(" Logging Driver: {}", info.logging_driver);
    println!(" Cgroup Driver: {}", info.cgroup_driver);
    println!(" Cgroup Version: {}", info.cgroup_version);
    println!(" Default Runtime: {}", info.default_runtime);
    println!(" Security Options:");
    for option in &info.security_options {
        println!("  {option}");
    }
    println!(" Kernel Version: {}", info.kernel_version);
    println!(" Operating System: {}", info.operating_system);
    println!(" OSType: {}", info.os_type);
    println!(" Architecture: {}", info.architecture);
    println!(" CPUs: {}", info.ncpu);
    println!(
        " Total Memory: {:.2}GiB",
        info.mem_total as f64 / f64::from(1u32 << 30)
    );
    println!(" Name: {}", info.name);
    println!(" ID: {}", info.id);
    println!(" Berth Root Dir: {}", info.docker_root_dir);
    println!(" Debug Mode: {}", info.debug);
    if !info.labels.is_empty() {
        println!(" Labels:");
        for label in &info.labels {
            println!("  {label}");
        }
    }
    if !info.registry_config.mirrors.is_empty() {
        println!(" Registry Mirrors:");
        for mirror in &info.registry_config.mirrors {
            println!("  {mirror}");
        }
    }
    if !info.registry_config.insecure_registry_cidrs.is_empty() {
        println!(" Insecure Registries:");
        for registry in &info.registry_config.insecure_registry_cidrs {
            println!("  {registry}");
        }
    }
    // dockerd's warnings carry their own "WARNING: " prefix; the docker CLI prints them as is.
    for warning in &info.warnings {
        eprintln!("{warning}");
    }
    Ok(0)
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `berth system df`: docker's table of what images and containers take and what a prune
/// would free.
pub async fn disk_usage(client: &Client) -> Result<i32> {
    let usage: SystemDataUsage = client.get_json("/system/df").await?;
    let images_total = usage.layers_size.max(0) as u64;
    let images_in_use: u64 = usage
        .images
        .iter()
        .filter(|image| image.containers > 0 && image.size >= 0 && image.shared_size >= 0)
        .map(|image| (image.size - image.shared_size).max(0) as u64)
        .sum();
    let written = |running: Option<bool>| -> u64 {
        usage
            .containers
            .iter()
            .filter(|container| {
                running.is_none_or(|wanted| (container.state == "running") == wanted)
            })
            .map(|container| container.size_rw.unwrap_or(0).max(0) as u64)
            .sum()
    };
    let rows = [
        [
            "Images".to_owned(),
            usage.images.len().to_string(),
            usage
                .images
                .iter()
                .filter(|image| image.containers > 0)
                .count()
                .to_string(),
            human_size(images_total),
            reclaimable(images_total.saturating_sub(images_in_use), images_total),
        ],
        [
            "Containers".to_owned(),
            usage.containers.len().to_string(),
            usage
                .containers
                .iter()
                .filter(|c| c.state == "running")
                .count()
                .to_string(),
            human_size(written(None)),
            reclaimable(written(Some(false)), written(None)),
        ],
        volumes_row(&usage.volumes),
    ];
    table::print(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows);
    Ok(0)
}

/// The `Local Volumes` row: volumes in use are active; the others' bytes are reclaimable.
fn volumes_row(volumes: &[berth_api::volume::Volume]) -> [String; 5] {
    let usage = |volume: &berth_api::volume::Volume| volume.usage_data.unwrap_or_default();
    let size = |in_use: Option<bool>| -> u64 {
        volumes
            .iter()
            .filter(|volume| in_use.is_none_or(|wanted| (usage(volume).ref_count > 0) == wanted))
            .map(|volume| usage(volume).size.max(0) as u64)
            .sum()
    };
    [
        "Local Volumes".to_owned(),
        volumes.len().to_string(),
        volumes
            .iter()
            .filter(|volume| usage(volume).ref_count > 0)
            .count()
            .to_string(),
        human_size(size(None)),
        reclaimable(size(Some(false)), size(None)),
    ]
}

/// `1.2MB (40%)`, as docker shows what a prune would free.
fn reclaimable(bytes: u64, total: u64) -> String {
    if total == 0 {
        return human_size(bytes);
    }
    format!("{} ({}%)", human_size(bytes), bytes * 100 / total)
}
