//! berth's image layer: the content-addressed store, the registry v2 client and layer
//! extraction into snapshots.
//!
//! - [`Reference`] parses and normalizes names as Docker does.
//! - [`Store`] keeps blobs, image records, extracted layers and references under data-root.
//! - [`pull`] / [`push`] talk to registries (mirrors for docker.io names, token auth).
//! - [`save`] / [`load`] read and write docker-archive (and load OCI layout) tarballs.
//! - [`Store::prepare_rootfs`] gives a container its root filesystem (overlay2 or vfs).
//!
//! Notes for callers:
//! - Store lookups (`images`, `image`, `resolve`, `lookup`, `tag`) are quick synchronous
//!   file reads; pull, push, save, load, rmi and rootfs preparation are async.
//! - [`pull`] emits the whole Docker progress sequence, ending with the `Digest:` and
//!   `Status:` lines; [`push`] ends with `<tag>: digest: <digest> size: <n>`.
//! - [`Store::remove_image`] does not know about containers: refuse images in use first.
//! - `examples/pull-bench.rs` pulls into a fresh store and prints wall time and extraction
//!   throughput as JSON, for `cargo xtask bench`.
//!
//! ```no_run
//! use berth_image::{pull, PullOptions, Reference, RegistryConfig, StorageDriver, Store};
//!
//! # async fn demo() -> berth_image::Result<()> {
//! let store = Store::open("/var/lib/berth", StorageDriver::Overlay2)?;
//! let config = RegistryConfig::new(&["http://127.0.0.1:5000".into()], &[])?;
//! let reference = Reference::parse("hello-world")?;
//! let (progress, mut events) = tokio::sync::mpsc::unbounded_channel::<berth_image::ProgressEvent>();
//! let printer = tokio::spawn(async move {
//!     while let Some(event) = events.recv().await {
//!         println!("{}", event.to_docker_json());
//!     }
//! });
//! let image_id = pull(&store, &config, &reference, &PullOptions::default(), &progress).await?;
//! drop(progress);
//! let _ = printer.await;
//! let rootfs = store.prepare_rootfs(&image_id, "c0ffee").await?;
//! rootfs.mount()?; // overlay2: lowerdirs = layers, per-container upper/work
//! // ... run the container in rootfs.path() ...
//! rootfs.unmount()?;
//! store.remove_rootfs("c0ffee").await?;
//! # Ok(()) }
//! ```

mod archive;
mod changes;
mod digest;
mod download;
mod error;
pub mod extract;
mod fsutil;
mod progress;
mod pull;
mod push;
mod reference;
pub mod registry;
mod snapshot;
mod sparse;
mod store;

pub use archive::{load, save};
pub use changes::{changes, Change, ChangeKind};
pub use digest::Digest;
pub use error::{Error, Result};
pub use fsutil::apparent_size;
pub use progress::{LayerStatus, ProgressEvent, ProgressSender};
pub use pull::{pull, pull_with_report, PullOptions, PullReport};
pub use push::push;
pub use reference::{Reference, DOCKER_HUB};
pub use registry::{Credentials, Platform, RegistryConfig, Timeouts};
pub use snapshot::{apply_diff, Rootfs, StorageDriver};
pub use store::{
    BlobDescriptor, DiskUsage, ImageId, ImageLayer, ImageRecord, ImageSummary, ImageUsage, Removal,
    RemoveAction, Store,
};
