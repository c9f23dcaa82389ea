//! Network endpoints for the networks berthd has: the built-in `host` (the host's stack) and
//! `none` (loopback only). There are no user-defined networks to create or prune, so
//! `docker network ls` and `docker system prune` work, and `network create` is refused.

use berth_api::network::{Ipam, Network, NetworksPruneResponse};

use super::http::{ok_json, ApiError, ApiResult};
use crate::daemon::Daemon;

/// The built-in networks: name and driver.
const BUILT_IN: &[(&str, &str)] = &[("host", "host"), ("none", "null")];

fn network(daemon: &Daemon, name: &str, driver: &str) -> Network {
    // A stable id per engine and network, as docker's are random but fixed.
    let id = berth_image::Digest::of(format!("{}/{name}", daemon.id).as_bytes())
        .hex()
        .to_owned();
    let containers = daemon
        .containers
        .all()
        .iter()
        .map(|entry| entry.record())
        .filter(|record| record.state.running() && record.host_config.network_mode == name)
        .map(|record| (record.id, serde_json::json!({"Name": record.name})))
        .collect();
    // They exist since the engine first ran: when it wrote its id.
    let created = std::fs::metadata(daemon.config().data_root.join("engine-id"))
        .and_then(|meta| meta.modified())
        .unwrap_or(std::time::UNIX_EPOCH);
    Network {
        name: name.to_owned(),
        id,
        created: berth_api::time::format_rfc3339(created),
        scope: "local".to_owned(),
        driver: driver.to_owned(),
        ipam: Ipam {
            driver: "default".to_owned(),
            config: Vec::new(),
        },
        containers,
        ..Default::default()
    }
}

/// `GET /networks`.
pub fn list(daemon: &Daemon) -> ApiResult {
    let networks: Vec<Network> = BUILT_IN
        .iter()
        .map(|(name, driver)| network(daemon, name, driver))
        .collect();
    ok_json(&networks)
}

/// `GET /networks/{name or id}`.
pub fn inspect(daemon: &Daemon, name_or_id: &str) -> ApiResult {
    BUILT_IN
        .iter()
        .map(|(name, driver)| network(daemon, name, driver))
        .find(|network| {
            network.name == name_or_id
                || (name_or_id.len() >= 2 && network.id.starts_with(name_or_id))
        })
        .map(|network| ok_json(&network))
        .unwrap_or_else(|| {
            Err(ApiError::not_found(format!(
                "network {name_or_id} not found"
            )))
        })
}

/// `POST /networks/prune`: nothing to prune, since the built-in networks stay.
pub fn prune() -> ApiResult {
    ok_json(&NetworksPruneResponse::default())
}

/// `POST /networks/create`.
pub fn create() -> ApiResult {
    Err(ApiError::bad_request(
        "network create: user-defined networks are not supported by berthd (it has host and none)",
    ))
}
