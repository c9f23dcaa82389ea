//! Unit tests of rootfs setup against the recording kernel double: the order and arguments
//! of the mount, pivot_root and mknod calls, without root.

use std::fs;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceType, MountBuilder};

use super::*;
use crate::cgroups::Cgroup;
use crate::syscall::Recorder;

fn target<'a>(rootfs: &'a Path, cgroup: &'a Cgroup) -> Target<'a> {
    Target {
        rootfs,
        bundle: rootfs,
        cgroup,
        new_cgroup_namespace: false,
    }
}

#[test]
fn prepare_mounts_in_order_then_makes_dev() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    let host = dir.path().join("host");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&host).unwrap();
    let mut spec = crate::spec::default_spec();
    spec.set_mounts(Some(vec![
        MountBuilder::default()
            .destination("/proc")
            .typ("proc")
            .source("proc")
            .build()
            .unwrap(),
        MountBuilder::default()
            .destination("/dev")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec!["nosuid".into(), "mode=755".into(), "size=64k".into()])
            .build()
            .unwrap(),
        MountBuilder::default()
            .destination("/mnt/host")
            .typ("bind")
            .source(&host)
            .options(vec!["rbind".into(), "ro".into(), "rprivate".into()])
            .build()
            .unwrap(),
    ]));
    if let Some(linux) = spec.linux_mut() {
        linux.set_devices(Some(vec![LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10i64)
            .minor(229i64)
            .uid(7u32)
            .gid(8u32)
            .build()
            .unwrap()]));
    }
    let kernel = Recorder::default();
    let cgroup = Cgroup::default();
    prepare(&kernel, &spec, &target(&root, &cgroup)).unwrap();
    let calls = kernel.calls(dir.path());
    assert_eq!(calls[0], "mount - / - MS_REC | MS_SLAVE -");
    assert_eq!(
        calls[1],
        "mount ROOT/rootfs ROOT/rootfs - MS_BIND | MS_REC -"
    );
    assert_eq!(calls[2], "mount proc ROOT/rootfs/proc proc 0 -");
    assert_eq!(
        calls[3],
        "mount tmpfs ROOT/rootfs/dev tmpfs MS_NOSUID mode=755,size=64k"
    );
    assert_eq!(
        calls[4],
        "mount ROOT/host ROOT/rootfs/mnt/host - MS_BIND | MS_REC -"
    );
    assert!(
        calls[5].starts_with("mount - ROOT/rootfs/mnt/host - MS_RDONLY"),
        "{}",
        calls[5]
    );
    assert!(calls[5].contains("MS_REMOUNT") && calls[5].contains("MS_BIND"));
    assert_eq!(
        calls[6],
        "mount - ROOT/rootfs/mnt/host - MS_REC | MS_PRIVATE -"
    );
    assert_eq!(
        calls[7],
        "mknod ROOT/rootfs/dev/null SFlag(S_IFCHR) 666 0x103"
    );
    assert_eq!(
        calls[13],
        "mknod ROOT/rootfs/dev/fuse SFlag(S_IFCHR) 666 0xae5"
    );
    assert_eq!(calls[14], "chown ROOT/rootfs/dev/fuse 7:8");
    assert_eq!(calls.len(), 15, "{calls:#?}");
    assert!(root.join("mnt/host").is_dir());
    assert_eq!(
        fs::read_link(root.join("dev/ptmx")).unwrap(),
        Path::new("pts/ptmx")
    );
    assert_eq!(
        fs::read_link(root.join("dev/fd")).unwrap(),
        Path::new("/proc/self/fd")
    );
}

#[test]
fn bind_mount_destinations_cannot_escape_the_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("evil")).unwrap();
    let mut spec = crate::spec::default_spec();
    spec.set_mounts(Some(vec![MountBuilder::default()
        .destination("/evil/../../x")
        .typ("tmpfs")
        .source("tmpfs")
        .build()
        .unwrap()]));
    let kernel = Recorder::default();
    let cgroup = Cgroup::default();
    prepare(&kernel, &spec, &target(&root, &cgroup)).unwrap();
    assert_eq!(
        kernel.calls(dir.path())[2],
        "mount tmpfs ROOT/rootfs/x tmpfs 0 -"
    );
}

#[test]
fn enter_pivots_or_falls_back_to_move_and_chroot() {
    let root = Path::new("/r");
    let kernel = Recorder::default();
    enter(&kernel, root, false).unwrap();
    assert_eq!(
        kernel.calls(Path::new("/nothing")),
        [
            "chdir /r",
            "pivot_root . .",
            "mount - . - MS_REC | MS_SLAVE -",
            "umount .",
            "chdir /"
        ]
    );

    let refused = Recorder {
        pivot_error: Some(nix::errno::Errno::EINVAL),
        ..Default::default()
    };
    enter(&refused, root, false).unwrap();
    let fallback = ["mount /r / - MS_MOVE -", "chroot .", "chdir /"];
    assert_eq!(refused.calls(Path::new("/nothing"))[2..], fallback);

    let asked = Recorder::default();
    enter(&asked, root, true).unwrap();
    assert_eq!(asked.calls(Path::new("/nothing"))[1..], fallback);
}

#[test]
fn masked_paths_hide_dirs_and_files_and_skip_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("d")).unwrap();
    fs::write(dir.path().join("f"), "secret").unwrap();
    let mut spec = crate::spec::default_spec();
    spec.set_root(None);
    if let Some(linux) = spec.linux_mut() {
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        linux.set_masked_paths(Some(vec![path("d"), path("f"), path("missing")]));
        linux.set_readonly_paths(Some(vec![path("d")]));
    }
    let kernel = Recorder::default();
    finish(&kernel, &spec).unwrap();
    let calls = kernel.calls(dir.path());
    assert_eq!(calls[0], "mount tmpfs ROOT/d tmpfs MS_RDONLY -");
    assert_eq!(calls[1], "mount /dev/null ROOT/f - MS_BIND -");
    assert_eq!(calls[2], "mount ROOT/d ROOT/d - MS_BIND | MS_REC -");
    assert!(
        calls[3].starts_with("mount - ROOT/d - MS_RDONLY"),
        "{}",
        calls[3]
    );
    assert_eq!(calls.len(), 4, "{calls:#?}");
}

#[test]
fn without_a_dev_mount_the_images_dev_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    fs::create_dir_all(&root).unwrap();
    let mut spec = crate::spec::default_spec();
    spec.set_mounts(Some(vec![]));
    let kernel = Recorder::default();
    let cgroup = Cgroup::default();
    prepare(&kernel, &spec, &target(&root, &cgroup)).unwrap();
    assert_eq!(
        kernel.calls(dir.path()).len(),
        2,
        "only propagation and the rootfs bind"
    );
    assert!(!root.join("dev").exists());
}
