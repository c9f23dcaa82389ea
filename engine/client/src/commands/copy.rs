//! `berth cp`: files between a container and the local filesystem, with docker's naming rules
//! (into an existing directory under the source's name, else as the destination's name) and
//! `-` for a tar on stdin or stdout. Archives pass through temp files; local extraction uses
//! the tar crate's unpack, which refuses entries that would land outside the destination.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::Method;
use serde::Deserialize;

use super::images::{body_to_stdout, file_body};
use crate::cli::CpArgs;
use crate::transport::{check, encode, Client};

/// `X-Docker-Container-Path-Stat`, as far as cp needs it.
#[derive(Debug, Deserialize)]
struct PathStat {
    name: String,
    mode: u32,
}

impl PathStat {
    fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }
}

/// `CONTAINER:PATH` split, or `None` for a local path.
fn container_path(argument: &str) -> Option<(&str, &str)> {
    if argument.starts_with('/') || argument.starts_with('.') {
        return None;
    }
    argument
        .split_once(':')
        .filter(|(container, _)| !container.is_empty())
}

/// `berth cp`.
pub async fn cp(client: &Client, args: CpArgs) -> Result<i32> {
    match (
        container_path(&args.source),
        container_path(&args.destination),
    ) {
        (Some((container, path)), None) => {
            from_container(client, container, path, &args.destination).await?
        }
        (None, Some((container, path))) => {
            to_container(client, &args.source, container, path, args.archive).await?
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
    Ok(0)
}

fn stat_of(response: &hyper::Response<hyper::body::Incoming>) -> Result<PathStat> {
    let header = response
        .headers()
        .get("X-Docker-Container-Path-Stat")
        .context("the daemon sent no X-Docker-Container-Path-Stat header")?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(header.as_bytes())
        .context("X-Docker-Container-Path-Stat is not base64")?;
    serde_json::from_slice(&json).context("X-Docker-Container-Path-Stat is not a path stat")
}

async fn from_container(client: &Client, container: &str, path: &str, dest: &str) -> Result<()> {
    let query = format!(
        "/containers/{}/archive?path={}",
        encode(container),
        encode(path)
    );
    let response = client.call(Method::GET, &query, None).await?;
    let stat = stat_of(&response)?;
    let mut body = response.into_body();
    if dest == "-" {
        return body_to_stdout(body).await;
    }
    let dest = PathBuf::from(dest);
    let into_dir = dest.is_dir();
    if !into_dir && dest.exists() && stat.is_dir() {
        bail!("cannot copy a directory to a file: {}", dest.display());
    }
    let parent = if into_dir {
        dest.clone()
    } else {
        match dest.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let mut archive = tempfile::tempfile_in(&parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            archive.write_all(&data)?;
        }
    }
    tokio::task::spawn_blocking(move || unpack(archive, &stat.name, &parent, &dest, into_dir))
        .await
        .context("the extraction thread failed")?
}

/// Unpacks `archive` (whose top entry is `name`) into `dest` when it is a directory, or as
/// `dest` itself through a staging directory in `parent`.
fn unpack(
    mut archive: std::fs::File,
    name: &str,
    parent: &Path,
    dest: &Path,
    into_dir: bool,
) -> Result<()> {
    use std::io::Seek;
    archive.rewind()?;
    let mut tar = tar::Archive::new(archive);
    tar.set_preserve_permissions(true);
    if into_dir {
        return tar
            .unpack(dest)
            .with_context(|| format!("cannot extract into {}", dest.display()));
    }
    let staging = tempfile::tempdir_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    tar.unpack(staging.path())
        .with_context(|| format!("cannot extract into {}", parent.display()))?;
    let unpacked = staging.path().join(name);
    if dest.is_file() || dest.is_symlink() {
        std::fs::remove_file(dest).with_context(|| format!("cannot replace {}", dest.display()))?;
    }
    std::fs::rename(&unpacked, dest)
        .with_context(|| format!("cannot create {}", dest.display()))?;
    Ok(())
}

async fn to_container(
    client: &Client,
    source: &str,
    container: &str,
    path: &str,
    keep_owners: bool,
) -> Result<()> {
    let container = encode(container);
    let uid_gid = if keep_owners { "&copyUIDGID=1" } else { "" };
    if source == "-" {
        // A tar on stdin goes as it is into the directory `path`.
        let stdin = tokio::fs::File::from_std(
            std::fs::File::open("/dev/stdin").context("cannot open stdin")?,
        );
        let put = format!(
            "/containers/{container}/archive?path={}{uid_gid}",
            encode(path)
        );
        client
            .call(
                Method::PUT,
                &put,
                Some((file_body(stdin), "application/x-tar")),
            )
            .await?;
        return Ok(());
    }
    let source_path = PathBuf::from(source);
    let source_meta = std::fs::symlink_metadata(&source_path)
        .with_context(|| format!("lstat {source}: no such file or directory"))?;
    let source_name = source_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".to_owned());
    // Where the archive goes, and the name its top entry takes there.
    let head = format!("/containers/{container}/archive?path={}", encode(path));
    let response = client.send(Method::HEAD, &head, None, false).await?;
    let (directory, name) = if response.status() == hyper::StatusCode::NOT_FOUND {
        // A new name: the copy takes it, in the directory above.
        split_last(path)?
    } else {
        let stat = stat_of(&check(response).await?)?;
        if stat.is_dir() {
            (path.to_owned(), source_name)
        } else if source_meta.is_dir() {
            bail!("cannot copy a directory to a file: {path}");
        } else {
            split_last(path)?
        }
    };
    let archive = tokio::task::spawn_blocking(move || pack(&source_path, &name))
        .await
        .context("the archive thread failed")??;
    let put = format!(
        "/containers/{container}/archive?path={}{uid_gid}",
        encode(&directory)
    );
    let body = file_body(tokio::fs::File::from_std(archive));
    client
        .call(Method::PUT, &put, Some((body, "application/x-tar")))
        .await?;
    Ok(())
}

/// `/a/b/name` → (`/a/b`, `name`).
fn split_last(path: &str) -> Result<(String, String)> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, name)) if !name.is_empty() => {
            let dir = if dir.is_empty() { "/" } else { dir };
            Ok((dir.to_owned(), name.to_owned()))
        }
        _ => bail!("invalid destination path in the container: {path}"),
    }
}

/// A tar of `source` (links kept as links) whose top entry is `name`, in a temp file.
fn pack(source: &Path, name: &str) -> Result<std::fs::File> {
    use std::io::Seek;
    let file = tempfile::tempfile().context("cannot create a temp file")?;
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    if source.is_dir() && !source.is_symlink() {
        builder
            .append_dir_all(name, source)
            .with_context(|| format!("cannot archive {}", source.display()))?;
    } else {
        builder
            .append_path_with_name(source, name)
            .with_context(|| format!("cannot archive {}", source.display()))?;
    }
    let mut file = builder.into_inner().context("cannot finish the archive")?;
    file.rewind()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_a_container_or_a_local_path() {
        assert_eq!(
            container_path("web:/etc/hosts"),
            Some(("web", "/etc/hosts"))
        );
        assert_eq!(container_path("/tmp/a:b"), None);
        assert_eq!(container_path("./web:x"), None);
        assert_eq!(container_path("file"), None);
        assert_eq!(
            split_last("/data/new.txt").unwrap(),
            ("/data".to_owned(), "new.txt".to_owned())
        );
        assert_eq!(
            split_last("/top/").unwrap(),
            ("/".to_owned(), "top".to_owned())
        );
        assert!(split_last("/").is_err());
    }
}
