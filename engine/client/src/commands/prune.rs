//! `berth container prune`, `berth image prune` and `berth system prune`: docker's prompts,
//! the prune endpoints, and the lists of what went with the total space reclaimed. Also the
//! `-f`/`--filter` query that `ps` and `images` share.

use std::io::{BufRead, Write};

use anyhow::Result;
use berth_api::container::ContainersPruneResponse;
use berth_api::filters::Filters;
use berth_api::image::ImagesPruneResponse;
use berth_api::units::human_size;
use hyper::Method;

use crate::cli::{ContainerPruneArgs, PruneArgs};
use crate::transport::{encode, read_json, Client};

/// Docker's `-f`/`--filter` arguments, each `name=value`.
fn parse_filters(arguments: &[String]) -> Result<Filters> {
    let mut filters = Filters::default();
    for argument in arguments {
        filters.add_argument(argument)?;
    }
    Ok(filters)
}

/// `filters=...` for a request's query (empty without filters).
fn query_of(filters: &Filters) -> String {
    filters
        .to_query()
        .map(|json| format!("filters={}", encode(&json)))
        .unwrap_or_default()
}

/// The `filters=...` query of a list (`ps`, `images`) from its `-f` arguments.
pub fn filters_query(arguments: &[String]) -> Result<String> {
    Ok(query_of(&parse_filters(arguments)?))
}

/// `berth container prune`.
pub async fn containers(client: &Client, args: ContainerPruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let pruned = prune_containers(client, &filters).await?;
    println!("Total reclaimed space: {}", human_size(pruned));
    Ok(0)
}

/// `berth image prune [-a]`.
pub async fn images(client: &Client, args: PruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning) {
        return Ok(0);
    }
    let pruned = prune_images(client, &filters, args.all).await?;
    println!("Total reclaimed space: {}", human_size(pruned));
    Ok(0)
}

/// `berth system prune [-a]`: stopped containers, then the images they no longer hold.
pub async fn system(client: &Client, args: PruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    let images = if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    let warning = format!("WARNING! This will remove:\n  - all stopped containers\n  - {images}\n");
    if !args.force && !confirm(&warning) {
        return Ok(0);
    }
    let containers = prune_containers(client, &filters).await?;
    let images = prune_images(client, &filters, args.all).await?;
    println!("Total reclaimed space: {}", human_size(containers + images));
    Ok(0)
}

async fn prune_containers(client: &Client, filters: &Filters) -> Result<u64> {
    let path = format!("/containers/prune?{}", query_of(filters));
    let pruned: ContainersPruneResponse =
        read_json(client.call(Method::POST, &path, None).await?).await?;
    if !pruned.containers_deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &pruned.containers_deleted {
            println!("{id}");
        }
        println!();
    }
    Ok(pruned.space_reclaimed)
}

async fn prune_images(client: &Client, filters: &Filters, all: bool) -> Result<u64> {
    let mut filters = filters.clone();
    if all {
        filters.add("dangling", "false");
    }
    let path = format!("/images/prune?{}", query_of(&filters));
    let pruned: ImagesPruneResponse =
        read_json(client.call(Method::POST, &path, None).await?).await?;
    if !pruned.images_deleted.is_empty() {
        println!("Deleted Images:");
        for item in &pruned.images_deleted {
            if let Some(reference) = &item.untagged {
                println!("untagged: {reference}");
            }
            if let Some(id) = &item.deleted {
                println!("deleted: {id}");
            }
        }
        println!();
    }
    Ok(pruned.space_reclaimed)
}

/// Docker's prompt: the warning, then `Are you sure you want to continue? [y/N]`; only `y` or
/// `yes` on stdin goes on (no input is a no).
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
