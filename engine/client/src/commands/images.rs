//! Image commands: pull, push, images, rmi, save, load and tag.

use std::io::Write;

use anyhow::{Context, Result};
use berth_api::image::{ImageDeleteItem, ImageSummary};
use berth_api::units::{human_duration, human_size};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Method;

use super::progress;
use super::prune::filters_query;
use crate::cli::{ImagesArgs, LoadArgs, PullArgs, PushArgs, RmiArgs, SaveArgs, TagArgs};
use crate::transport::{encode, read_json, Client};

/// Splits `name[:tag]` (a `:` after the last `/`) and `name@digest`.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, Some(digest));
    }
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(colon) => (&image[..slash + colon], Some(&image[slash + colon + 1..])),
        None => (image, None),
    }
}

/// Pulls an image, rendering progress; used by `pull` and by `run` for a missing image.
pub async fn pull_image(client: &Client, image: &str, quiet: bool) -> Result<()> {
    let (name, tag) = split_tag(image);
    let path = format!(
        "/images/create?fromImage={}&tag={}",
        encode(name),
        encode(tag.unwrap_or("latest"))
    );
    let response = client.call(Method::POST, &path, None).await?;
    progress::render(response, quiet).await
}

/// `berth pull`.
pub async fn pull(client: &Client, args: PullArgs) -> Result<i32> {
    pull_image(client, &args.image, args.quiet).await?;
    if args.quiet {
        println!("{}", args.image);
    }
    Ok(0)
}

/// `berth push`.
pub async fn push(client: &Client, args: PushArgs) -> Result<i32> {
    let (name, tag) = split_tag(&args.image);
    let query = tag
        .map(|tag| format!("?tag={}", encode(tag)))
        .unwrap_or_default();
    let response = client
        .send(
            Method::POST,
            &format!("/images/{name}/push{query}"),
            None,
            false,
        )
        .await?;
    let response = crate::transport::check(response).await?;
    progress::render(response, args.quiet).await?;
    Ok(0)
}

/// `berth images`.
pub async fn images(client: &Client, args: ImagesArgs) -> Result<i32> {
    let filters = filters_query(&args.filter)?;
    let mut images: Vec<ImageSummary> = client.get_json(&format!("/images/json?{filters}")).await?;
    images.sort_by_key(|image| std::cmp::Reverse(image.created));
    let short = |id: &str| -> String {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        if args.no_trunc {
            id.to_owned()
        } else {
            hex.chars().take(12).collect()
        }
    };
    let mut rows = Vec::new();
    for image in &images {
        let tags = if image.repo_tags.is_empty() {
            vec!["<none>:<none>".to_owned()]
        } else {
            image.repo_tags.clone()
        };
        for tag in tags {
            let (repository, tag) = split_tag(&tag);
            if let Some(wanted) = &args.repository {
                if repository != wanted {
                    continue;
                }
            }
            rows.push([
                repository.to_owned(),
                tag.unwrap_or("<none>").to_owned(),
                short(&image.id),
                created_ago(image.created),
                human_size(image.size.max(0) as u64),
            ]);
        }
    }
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for row in rows {
            if seen.insert(row[2].clone()) {
                println!("{}", row[2]);
            }
        }
        return Ok(0);
    }
    super::table::print(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows);
    Ok(0)
}

/// "5 minutes ago" for a unix timestamp.
pub fn created_ago(created: i64) -> String {
    let now = berth_api::time::unix_seconds(std::time::SystemTime::now());
    let elapsed = std::time::Duration::from_secs((now - created).max(0) as u64);
    format!("{} ago", human_duration(elapsed))
}

/// `berth rmi`.
pub async fn rmi(client: &Client, args: RmiArgs) -> Result<i32> {
    let mut code = 0;
    let force = if args.force { "?force=1" } else { "" };
    for image in &args.images {
        let result = async {
            let response = client
                .call(Method::DELETE, &format!("/images/{image}{force}"), None)
                .await?;
            read_json::<Vec<ImageDeleteItem>>(response).await
        }
        .await;
        match result {
            Ok(items) => {
                for item in items {
                    if let Some(untagged) = item.untagged {
                        println!("Untagged: {untagged}");
                    }
                    if let Some(deleted) = item.deleted {
                        println!("Deleted: {deleted}");
                    }
                }
            }
            Err(err) => {
                eprintln!("{err}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `berth tag`.
pub async fn tag(client: &Client, args: TagArgs) -> Result<i32> {
    let (repo, tag) = split_tag(&args.target);
    let path = format!(
        "/images/{}/tag?repo={}&tag={}",
        args.source,
        encode(repo),
        encode(tag.unwrap_or("latest"))
    );
    client.post_empty(&path).await?;
    Ok(0)
}

/// `berth save`.
pub async fn save(client: &Client, args: SaveArgs) -> Result<i32> {
    let names: Vec<String> = args
        .images
        .iter()
        .map(|name| format!("names={}", encode(name)))
        .collect();
    let response = client
        .call(
            Method::GET,
            &format!("/images/get?{}", names.join("&")),
            None,
        )
        .await?;
    write_archive(response, args.output.as_deref(), "save").await?;
    Ok(0)
}

/// Writes a tar response body to `output` (through a temp file beside it, synced, then renamed
/// into place, so a failed transfer leaves no half archive) or to stdout, which must not be a
/// terminal; `what` names the command in that refusal.
pub(super) async fn write_archive(
    response: hyper::Response<hyper::body::Incoming>,
    output: Option<&std::path::Path>,
    what: &str,
) -> Result<()> {
    let mut body = response.into_body();
    let Some(path) = output else {
        anyhow::ensure!(
            !std::io::IsTerminal::is_terminal(&std::io::stdout()),
            "cowardly refusing to {what} to a terminal. Use the -o flag or redirect"
        );
        return body_to_stdout(body).await;
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            temp.write_all(&data)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    // A temp file starts 0600; the archive is as readable as a file docker writes.
    let readable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644);
    temp.as_file()
        .set_permissions(readable)
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

/// Copies a response body to stdout.
pub(super) async fn body_to_stdout(mut body: hyper::body::Incoming) -> Result<()> {
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.write_all(&data)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A request body streamed from `file`.
pub(super) fn file_body(file: tokio::fs::File) -> crate::transport::Body {
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(count) => {
                buffer.truncate(count);
                Some((Ok(Frame::data(Bytes::from(buffer))), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    });
    BodyExt::boxed_unsync(StreamBody::new(StreamExt::boxed(stream)))
}

/// `berth load`.
pub async fn load(client: &Client, args: LoadArgs) -> Result<i32> {
    let file: tokio::fs::File = match &args.input {
        Some(path) => tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?,
        None => {
            anyhow::ensure!(
                !std::io::IsTerminal::is_terminal(&std::io::stdin()),
                "requested load from stdin, but stdin is empty"
            );
            tokio::fs::File::from_std(
                std::fs::File::open("/dev/stdin").context("cannot open stdin")?,
            )
        }
    };
    let body = file_body(file);
    let quiet = if args.quiet { "?quiet=1" } else { "" };
    let response = client
        .call(
            Method::POST,
            &format!("/images/load{quiet}"),
            Some((body, "application/x-tar")),
        )
        .await?;
    progress::render(response, args.quiet).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn splits_tags_not_ports() {
        assert_eq!(split_tag("busybox"), ("busybox", None));
        assert_eq!(split_tag("busybox:1.36"), ("busybox", Some("1.36")));
        assert_eq!(split_tag("127.0.0.1:5000/x"), ("127.0.0.1:5000/x", None));
        assert_eq!(
            split_tag("127.0.0.1:5000/x:y"),
            ("127.0.0.1:5000/x", Some("y"))
        );
        assert_eq!(split_tag("x@sha256:ab"), ("x", Some("sha256:ab")));
    }
}
