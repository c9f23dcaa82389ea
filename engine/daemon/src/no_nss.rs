//! glibc's `getaddrinfo` replaced for the static build.
//!
//! reqwest keeps a reference to hyper-util's `GaiResolver` (std's `lookup_host`, glibc's
//! `getaddrinfo`) even though berth always resolves names with hickory-dns. In a static binary
//! that reference would pull in glibc's NSS, which dlopens the host's shared libraries at run
//! time and breaks on other glibc versions such as CentOS 7's. The shared build script
//! (`engine/build-info.rs`) links static builds with `--wrap=getaddrinfo --wrap=freeaddrinfo`,
//! so those references land here instead: a lookup through std fails with
//! `EAI_FAIL` and never touches NSS. Dynamic (test and host) builds keep glibc's functions.

use std::os::raw::{c_char, c_int};

/// Stands in for `getaddrinfo(3)` in the static build: no result, `EAI_FAIL`.
///
/// # Safety
/// Called by std with the `getaddrinfo(3)` contract; `result` is a valid out-pointer.
#[no_mangle]
pub unsafe extern "C" fn __wrap_getaddrinfo(
    _node: *const c_char,
    _service: *const c_char,
    _hints: *const libc::addrinfo,
    result: *mut *mut libc::addrinfo,
) -> c_int {
    if !result.is_null() {
        // SAFETY: the caller passes a valid out-pointer, as getaddrinfo(3) requires.
        unsafe { *result = std::ptr::null_mut() };
    }
    libc::EAI_FAIL
}

/// Stands in for `freeaddrinfo(3)`: [`__wrap_getaddrinfo`] never allocates a list.
///
/// # Safety
/// Accepts any pointer; it is never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn __wrap_freeaddrinfo(_list: *mut libc::addrinfo) {}
