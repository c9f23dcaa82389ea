//! `cargo xtask build`: the build-container image defined by packaging/build-image.toml, made
//! with debootstrap and kept in a content-addressed cache (see [`store`] for the layout).
//!
//! Only this stage uses the network. `cargo xtask binary` calls [`ensure_image`] and then runs
//! the compiler in the image with no network at all.

pub mod debootstrap;
pub mod definition;
pub mod host;
pub mod progress;
pub mod store;
pub mod toolchain;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::Shell;

use definition::{Definition, DEFINITION_PATH};
use store::{Cache, ImageDigest, ImageInputs, ImageManifest};
use toolchain::Toolchain;

/// Free space an image build needs (debootstrap downloads plus the unpacked rootfs).
const IMAGE_BUILD_MIB: u64 = 1024;

#[derive(clap::Args)]
pub struct Args {
    /// Build a new image even if one with the same digest is cached.
    #[arg(long, conflicts_with_all = ["list", "prune"])]
    pub rebuild: bool,
    /// List the cached images and exit.
    #[arg(long, conflicts_with = "prune")]
    pub list: bool,
    /// Remove cached images (with their target caches) and vendored sources that the current
    /// definition and Cargo.lock no longer use.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The cache location, shared by `build` and `binary`.
#[derive(clap::Args, Clone, Default)]
pub struct CacheArgs {
    /// Build cache directory. Default: /var/cache/berth-build as root, else
    /// $XDG_CACHE_HOME/berth-build (or ~/.cache/berth-build).
    #[arg(long, env = "BERTH_BUILD_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl Args {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let cache = Cache::resolve(self.cache.cache_dir);
        let project_root = crate::util::project_root();
        if self.list {
            return list(sh, &cache, &project_root);
        }
        if self.prune {
            return prune(sh, &cache, &project_root);
        }
        let image = ensure_image(sh, &cache, &project_root, self.rebuild)?;
        println!("{}", image.digest.as_str());
        Ok(())
    }
}

/// A finished build image.
#[derive(Debug, Clone)]
pub struct Image {
    pub digest: ImageDigest,
    pub rootfs: PathBuf,
    pub definition: Definition,
    pub toolchain: Toolchain,
}

/// The definition, toolchain and digest the project currently asks for.
struct Wanted {
    definition: Definition,
    toolchain: Toolchain,
    mirror: String,
    inputs: ImageInputs,
    digest: ImageDigest,
}

fn wanted(sh: &Shell, project_root: &Path) -> Result<Wanted> {
    let definition = Definition::load(&project_root.join(DEFINITION_PATH))?;
    let toolchain = Toolchain::resolve(sh, project_root, &definition.toolchain.pin_file)?;
    let mirror = debootstrap::resolve_mirror(&definition)?;
    let debootstrap_version = match debootstrap::debootstrap_version(sh) {
        Ok(version) => version,
        Err(_) => {
            debootstrap::ensure_debootstrap(sh)?;
            debootstrap::debootstrap_version(sh)?
        }
    };
    let inputs = ImageInputs::new(&definition, &mirror, &debootstrap_version, &toolchain);
    let digest = ImageDigest::of_inputs(&inputs)?;
    Ok(Wanted {
        definition,
        toolchain,
        mirror,
        inputs,
        digest,
    })
}

/// Returns the image for the project's current definition, building it when it is not cached
/// (or when `rebuild` is set). Safe to call from parallel processes: builds take the cache lock.
pub fn ensure_image(
    sh: &Shell,
    cache: &Cache,
    project_root: &Path,
    rebuild: bool,
) -> Result<Image> {
    let wanted = wanted(sh, project_root)?;
    let image_dir = cache.image_dir(&wanted.digest);
    let image = Image {
        digest: wanted.digest.clone(),
        rootfs: image_dir.join("rootfs"),
        definition: wanted.definition.clone(),
        toolchain: wanted.toolchain.clone(),
    };
    if !rebuild && image_dir.join("image.json").is_file() {
        return Ok(image);
    }
    host::require_privileges("build")?;
    cache
        .create()
        .map_err(|err| host::name_disk_full(err, &cache.root))?;
    let _lock = cache.lock()?;
    if !rebuild && image_dir.join("image.json").is_file() {
        return Ok(image); // another process built it while we waited for the lock
    }
    build_image(cache, &wanted).map_err(|err| host::name_disk_full(err, &cache.root))?;
    Ok(image)
}

fn build_image(cache: &Cache, wanted: &Wanted) -> Result<()> {
    host::require_free_space(&cache.root, IMAGE_BUILD_MIB)?;
    debootstrap::require_network(&wanted.mirror)?;
    let partial = cache.partial_image_dir(&wanted.digest);
    host::remove_tree(&partial)?;
    let rootfs = partial.join("rootfs");
    std::fs::create_dir_all(&rootfs).with_context(|| format!("create {}", rootfs.display()))?;
    let log = cache.log_path(&format!("build-{}.log", wanted.digest.hex()));
    debootstrap::run(&wanted.definition, &wanted.mirror, &rootfs, &log)?;
    let release = debootstrap::read_release(&wanted.definition, &rootfs)?;
    debootstrap::normalize(&rootfs)?;
    let packages = debootstrap::installed_packages(&rootfs)?;
    let (rootfs_digest, rootfs_bytes) = store::tree_digest(&rootfs)?;
    let manifest = ImageManifest {
        digest: wanted.digest.as_str().to_owned(),
        inputs: wanted.inputs.clone(),
        release,
        packages,
        rootfs_digest,
        rootfs_bytes,
    };
    host::write_atomic(
        &partial.join("image.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;

    let final_dir = cache.image_dir(&wanted.digest);
    if final_dir.exists() {
        // --rebuild: the old image and the target cache compiled against it both go.
        host::remove_tree(&final_dir)?;
        host::remove_tree(&cache.dev_cache_dir(&wanted.digest))?;
    }
    std::fs::rename(&partial, &final_dir)
        .with_context(|| format!("rename {} to {}", partial.display(), final_dir.display()))?;
    eprintln!(
        "==> image {} (Debian {} of {}, {} packages, rootfs {}, {} MiB)",
        wanted.digest.as_str(),
        manifest.release.version,
        manifest.release.date,
        manifest.packages.len(),
        manifest.rootfs_digest,
        manifest.rootfs_bytes / (1024 * 1024)
    );
    Ok(())
}

fn list(sh: &Shell, cache: &Cache, project_root: &Path) -> Result<()> {
    let current = wanted(sh, project_root).ok().map(|wanted| wanted.digest);
    let images = cache.images()?;
    if images.is_empty() {
        println!("no images in {}", cache.root.display());
        return Ok(());
    }
    for (digest, manifest) in images {
        let marker = match &current {
            Some(current) if current.as_str() == digest => " (current)",
            _ => "",
        };
        println!(
            "{digest}  {} Debian {}  rust {}  {} MiB{marker}",
            manifest.inputs.definition.base.suite,
            manifest.release.version,
            manifest.inputs.rust_channel,
            manifest.rootfs_bytes / (1024 * 1024)
        );
    }
    Ok(())
}

fn prune(sh: &Shell, cache: &Cache, project_root: &Path) -> Result<()> {
    let current = wanted(sh, project_root)?.digest;
    let current_lock = crate::binary::sources::lock_hash(project_root)?;
    if !cache.root.exists() {
        println!("nothing to prune in {}", cache.root.display());
        return Ok(());
    }
    host::require_privileges("build --prune")?;
    let _lock = cache.lock()?;
    let mut removed = 0;
    for (area, keep) in [
        ("images", current.hex()),
        ("dev-cache", current.hex()),
        ("vendor", current_lock.as_str()),
    ] {
        let Ok(entries) = std::fs::read_dir(cache.root.join(area)) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.file_name().is_some_and(|name| name != keep) {
                host::remove_tree(&path)?;
                println!("removed {}", path.display());
                removed += 1;
            }
        }
    }
    println!("pruned {removed} entries from {}", cache.root.display());
    Ok(())
}
