//! The e2e host's image: a Debian bookworm rootfs made by debootstrap with systemd, dbus, rpm
//! and dnf, cached as `<cache>/host-<digest>.tar` and imported into the private Docker daemon
//! as `berth-e2e-host:<digest>`. The digest covers the whole recipe, so changing the recipe
//! (or [`RECIPE_REVISION`]) builds a new image and an unchanged one is reused.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use super::docker::PrivateDocker;
use super::scratch::ScratchDir;

/// Bump when the way the rootfs is prepared changes in a way the fields below do not show.
const RECIPE_REVISION: &str = "berth-e2e-host/1";

/// The Debian packages the host needs on top of debootstrap's minbase.
const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "rpm",
    "dnf",
    "iproute2",
    "procps",
    "curl",
];

const IMAGE_REPOSITORY: &str = "berth-e2e-host";

/// Everything that decides the content of the host rootfs.
pub struct Recipe {
    suite: &'static str,
    mirror: String,
    packages: &'static [&'static str],
}

impl Recipe {
    /// Debian bookworm from `mirror`, or from the first bookworm source apt uses here.
    pub fn bookworm(mirror: Option<String>) -> Result<Self> {
        let mirror = match mirror {
            Some(mirror) => mirror,
            None => apt_mirror("bookworm")?,
        };
        Ok(Recipe {
            suite: "bookworm",
            mirror,
            packages: PACKAGES,
        })
    }

    /// The first 16 hex digits of the SHA-256 of the recipe.
    pub fn digest(&self) -> String {
        let text = format!(
            "{RECIPE_REVISION}\nsuite={}\nmirror={}\nvariant=minbase\npackages={}\n",
            self.suite,
            self.mirror,
            self.packages.join(",")
        );
        hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
    }
}

/// Makes sure the private daemon has the host image, building or importing it if needed, and
/// returns its reference.
pub fn ensure(sh: &Shell, docker: &PrivateDocker, recipe: &Recipe, cache: &Path) -> Result<String> {
    let digest = recipe.digest();
    let image = format!("{IMAGE_REPOSITORY}:{digest}");
    if docker
        .docker()
        .args(["image", "inspect", &image])
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        println!("e2e: host image {image} is already in the private daemon (cached)");
        return Ok(image);
    }
    let tarball = cache.join(format!("host-{digest}.tar"));
    if tarball.exists() {
        println!("e2e: importing the cached rootfs {}", tarball.display());
    } else {
        build_rootfs_tarball(sh, recipe, cache, &tarball)?;
    }
    let started = Instant::now();
    docker
        .docker()
        .arg("import")
        .arg(&tarball)
        .arg(&image)
        .quiet()
        .ignore_stdout()
        .run()
        .with_context(|| format!("importing {} as {image}", tarball.display()))?;
    println!(
        "e2e: imported {image} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    prune_other_versions(docker, cache, &digest);
    Ok(image)
}

/// debootstrap into a scratch dir, prepare it for booting in a container, and tar it up
/// atomically (temp file, fsync, rename).
fn build_rootfs_tarball(sh: &Shell, recipe: &Recipe, cache: &Path, tarball: &Path) -> Result<()> {
    if cmd!(sh, "which debootstrap")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        bail!("debootstrap is missing: run `cargo xtask test --tools-only` (Debian package debootstrap)");
    }
    let build = ScratchDir::new(cache, "build")?;
    let rootfs = build.path().join("rootfs");
    let include = recipe.packages.join(",");
    let (suite, mirror) = (recipe.suite, &recipe.mirror);
    println!("e2e: debootstrap {suite} from {mirror} with {include} (cold cache: a few minutes)");
    let started = Instant::now();
    let output = cmd!(
        sh,
        "debootstrap --variant=minbase --include={include} {suite} {rootfs} {mirror}"
    )
    .quiet()
    .ignore_status()
    .output()?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stdout);
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let debootstrap_log =
            std::fs::read_to_string(rootfs.join("debootstrap/debootstrap.log")).unwrap_or_default();
        bail!(
            "debootstrap failed ({}):\n{}\n{}\n{}",
            output.status,
            tail.join("\n"),
            String::from_utf8_lossy(&output.stderr),
            debootstrap_log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    println!(
        "e2e: debootstrap took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    prepare_for_container(&rootfs)?;

    let partial = build.path().join("rootfs.tar");
    cmd!(
        sh,
        "tar --numeric-owner --xattrs -C {rootfs} -cf {partial} ."
    )
    .quiet()
    .run()
    .context("packing the host rootfs")?;
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, tarball)
        .with_context(|| format!("moving the rootfs tarball to {}", tarball.display()))?;
    println!("e2e: cached the host rootfs as {}", tarball.display());
    Ok(())
}

/// What a debootstrapped tree needs before it boots under Docker with systemd as PID 1.
fn prepare_for_container(rootfs: &Path) -> Result<()> {
    let write = |relative: &str, contents: &str| -> Result<()> {
        let path = rootfs.join(relative);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    write("etc/hostname", "berth-e2e-host\n")?;
    // An empty machine-id makes systemd generate a fresh one at each boot.
    write("etc/machine-id", "")?;
    // Package caches only make the image bigger.
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = rootfs.join(dir);
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Removes cached tarballs and images of other recipe digests so the cache stays bounded.
fn prune_other_versions(docker: &PrivateDocker, cache: &Path, digest: &str) {
    if let Ok(entries) = std::fs::read_dir(cache) {
        for path in entries.flatten().map(|entry| entry.path()) {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("host-")
                && name.ends_with(".tar")
                && name != format!("host-{digest}.tar")
            {
                println!("e2e: removing the stale cached rootfs {}", path.display());
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let listing = docker
        .docker()
        .args(["image", "ls", IMAGE_REPOSITORY, "--format", "{{.Tag}}"])
        .quiet()
        .read();
    for tag in listing
        .unwrap_or_default()
        .lines()
        .filter(|tag| *tag != digest)
    {
        let _ = docker
            .docker()
            .args(["rmi", &format!("{IMAGE_REPOSITORY}:{tag}")])
            .quiet()
            .ignore_stdout()
            .run();
    }
}

/// The first `URIs` / `deb` source for `suite` in apt's configuration.
fn apt_mirror(suite: &str) -> Result<String> {
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut extra: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        extra.sort();
        files.extend(extra);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(mirror) = mirror_in(&text, suite) {
            return Ok(mirror);
        }
    }
    bail!("no apt source for Debian {suite} in /etc/apt/sources.list*: pass --mirror URL")
}

/// Finds the mirror for `suite` in one sources file, one-line or deb822 style.
fn mirror_in(text: &str, suite: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        // deb [options] URI suite components...
        if words.first() == Some(&"deb") {
            let rest: Vec<&str> = words[1..]
                .iter()
                .copied()
                .filter(|w| !w.starts_with('[') && !w.ends_with(']'))
                .collect();
            if rest.get(1) == Some(&suite) {
                return rest.first().map(|uri| uri.to_string());
            }
        }
    }
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                line.strip_prefix(name)
                    .map(|value| value.trim().to_string())
            })
        };
        let is_deb =
            field("Types:").is_some_and(|types| types.split_whitespace().any(|t| t == "deb"));
        let has_suite =
            field("Suites:").is_some_and(|suites| suites.split_whitespace().any(|s| s == suite));
        if is_deb && has_suite {
            if let Some(uris) = field("URIs:") {
                return uris.split_whitespace().next().map(str::to_string);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn finds_the_mirror_in_deb822_and_one_line_sources() {
        let deb822 = "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n\n\
                      Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_in(deb822, "bookworm").as_deref(),
            Some("http://deb.example/debian")
        );
        let one_line = "# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(one_line, "bookworm").as_deref(),
            Some("http://one.example/debian")
        );
        assert_eq!(
            mirror_in(
                "deb http://x.example/debian bookworm-security main\n",
                "bookworm"
            ),
            None
        );
    }
}
