//! `berth volume create|ls|inspect|rm|prune`, printed as docker prints them.

use anyhow::Result;
use berth_api::units::human_size;
use berth_api::volume::{Volume, VolumeCreateOptions, VolumeListResponse, VolumesPruneResponse};
use hyper::Method;

use super::lifecycle::for_each;
use super::prune::{confirm, filters_query};
use super::table;
use crate::cli::VolumeCommand;
use crate::transport::{encode, read_json, Client};

/// Runs one `berth volume` subcommand.
pub async fn volume(client: &Client, command: VolumeCommand) -> Result<i32> {
    match command {
        VolumeCommand::Create(args) => {
            let options = VolumeCreateOptions {
                name: args.name.unwrap_or_default(),
                driver: args.driver,
                driver_opts: Default::default(),
                labels: super::labels(&args.label),
            };
            let volume: Volume = client.post_json("/volumes/create", &options).await?;
            println!("{}", volume.name);
            Ok(0)
        }
        VolumeCommand::Ls(args) => {
            let filters = filters_query(&args.filter)?;
            let list: VolumeListResponse = client.get_json(&format!("/volumes?{filters}")).await?;
            if args.quiet {
                for volume in &list.volumes {
                    println!("{}", volume.name);
                }
                return Ok(0);
            }
            let rows: Vec<[String; 2]> = list
                .volumes
                .iter()
                .map(|volume| [volume.driver.clone(), volume.name.clone()])
                .collect();
            table::print(&["DRIVER", "VOLUME NAME"], &rows);
            Ok(0)
        }
        VolumeCommand::Inspect(args) => {
            let mut found = Vec::new();
            let mut code = 0;
            for name in &args.names {
                match client
                    .get_json::<Volume>(&format!("/volumes/{}", encode(name)))
                    .await
                {
                    Ok(volume) => found.push(volume),
                    Err(err) => {
                        eprintln!("{err}");
                        code = 1;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&found)?);
            Ok(code)
        }
        VolumeCommand::Rm(args) => {
            let force = if args.force { "?force=1" } else { "" };
            for_each(&args.names, |name| async move {
                let path = format!("/volumes/{}{force}", encode(&name));
                client.call(Method::DELETE, &path, None).await?;
                Ok(Some(name))
            })
            .await
        }
        VolumeCommand::Prune(args) => {
            let mut filter = args.filter.clone();
            if args.all {
                filter.push("all=true".to_owned());
            }
            let filters = filters_query(&filter)?;
            let warning = if args.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !args.force && !confirm(warning) {
                return Ok(0);
            }
            let path = format!("/volumes/prune?{filters}");
            let pruned: VolumesPruneResponse =
                read_json(client.call(Method::POST, &path, None).await?).await?;
            if !pruned.volumes_deleted.is_empty() {
                println!("Deleted Volumes:");
                for name in &pruned.volumes_deleted {
                    println!("{name}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                human_size(pruned.space_reclaimed)
            );
            Ok(0)
        }
    }
}
