//! Unit tests of resolution inside a root: the kernel's openat2 and the userspace walk give
//! the same answers, stop at the root, and fail with ELOOP past 40 links.

use std::os::unix::fs::symlink;

use nix::errno::Errno;

use super::*;
use crate::syscall::Recorder;

/// The two ways of resolving: openat2 (the real kernel's) and the userspace walk (a kernel
/// double answering ENOSYS, as a kernel before 5.6 does).
fn kernels() -> [(&'static str, Recorder); 2] {
    [
        (
            "openat2",
            Recorder {
                openat2: true,
                ..Default::default()
            },
        ),
        ("walk", Recorder::default()),
    ]
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uname = nix::sys::utsname::uname().unwrap();
    let release = uname.release().to_string_lossy().into_owned();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn openat2_is_used_where_the_kernel_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = open_dir(dir.path()).unwrap();
    let probe = Linux.open_in_root(root.as_fd(), Path::new("/"));
    if kernel_at_least(5, 6) {
        // Without it, the openat2 cases below would test the walk twice.
        assert!(probe.is_ok(), "openat2 probe failed: {probe:?}");
    } else {
        assert_eq!(probe.err(), Some(Errno::ENOSYS));
    }
}

#[test]
fn resolve_stays_inside_root() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("etc/x")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("rel")).unwrap();
        symlink("/", root.join("slash")).unwrap();
        fs::create_dir_all(root.join("tmp")).unwrap();
        let resolve = |path: &str| resolve_with(&kernel, root, Path::new(path)).unwrap();
        assert_eq!(resolve("/abs/x"), root.join("etc/x"), "{name}");
        assert_eq!(resolve("/rel/x"), root.join("etc/x"), "{name}");
        assert_eq!(resolve("/../../x"), root.join("x"), "{name}");
        assert_eq!(resolve("slash/tmp"), root.join("tmp"), "{name}");
        assert_eq!(
            resolve("/abs/missing/y"),
            root.join("etc/missing/y"),
            "{name}"
        );
    }
}

#[test]
fn resolve_fails_on_a_symlink_loop() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        symlink("loop", dir.path().join("loop")).unwrap();
        let err = resolve_with(&kernel, dir.path(), Path::new("/loop/x")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{name}: {err}");
    }
}

/// A chain of `links` symlinks l0 -> l1 -> ... whose last one points at `end`.
fn chain(root: &Path, links: usize, end: &Path) {
    for i in 0..links {
        let target = if i + 1 == links {
            end.to_path_buf()
        } else {
            PathBuf::from(format!("/l{}", i + 1))
        };
        symlink(target, root.join(format!("l{i}"))).unwrap();
    }
}

#[test]
fn a_chain_of_256_links_fails_with_eloop_instead_of_escaping() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let host = dir.path().join("host");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&host).unwrap();
        chain(&root, 256, &host);
        let err = resolve_with(&kernel, &root, Path::new("/l0/escaped")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{name}: {err}");
        let err = mkdir_all(&kernel, &root, Path::new("/l0/escaped")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{name}: {err}");
        assert!(!host.join("escaped").exists(), "{name}");
    }
}

#[test]
fn the_limit_is_the_kernels_40_links() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("end")).unwrap();
        chain(root, 40, Path::new("/end"));
        assert_eq!(
            resolve_with(&kernel, root, Path::new("/l0")).unwrap(),
            root.join("end"),
            "{name}"
        );
        symlink("/l0", root.join("one-more")).unwrap();
        let err = resolve_with(&kernel, root, Path::new("/one-more")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{name}: {err}");
    }
}

#[test]
fn mkdir_all_makes_directories_inside_the_root_through_symlinks() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let host = dir.path().join("host");
        fs::create_dir_all(&root).unwrap();
        symlink(&host, root.join("dev")).unwrap();
        let (path, handle) = mkdir_all(&kernel, &root, Path::new("/dev/pts")).unwrap();
        assert_eq!(
            path,
            root.join(host.strip_prefix("/").unwrap()).join("pts"),
            "{name}"
        );
        assert!(path.is_dir(), "{name}");
        assert!(!host.exists(), "{name}: made on the host");
        assert_eq!(
            fs::read_link(fd_path(handle.as_fd())).unwrap(),
            path,
            "{name}"
        );
    }
}

#[test]
fn create_file_makes_an_empty_file_and_keeps_an_existing_one() {
    for (name, kernel) in kernels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "kept").unwrap();
        symlink("/etc/hosts", root.join("hosts-link")).unwrap();
        let (made, _) = create_file(&kernel, root, Path::new("/a/b/file")).unwrap();
        assert_eq!(made, root.join("a/b/file"), "{name}");
        assert_eq!(fs::read(&made).unwrap(), b"", "{name}");
        let (kept, _) = create_file(&kernel, root, Path::new("/hosts-link")).unwrap();
        assert_eq!(kept, root.join("etc/hosts"), "{name}");
        assert_eq!(fs::read(&kept).unwrap(), b"kept", "{name}");
    }
}
