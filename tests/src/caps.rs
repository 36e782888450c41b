//! Capability sets of the calling thread.

use crate::{check_os, Check};

/// capget(2)/capset(2) version 3: two 32-bit words per set.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's effective, permitted and inheritable sets.
pub fn capget() -> Result<[u64; 3], String> {
    let mut header = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are what _LINUX_CAPABILITY_VERSION_3 asks for.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    check_os(r, "capget")?;
    let word = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | u64::from(f(&data[1])) << 32;
    Ok([
        word(|d| d.effective),
        word(|d| d.permitted),
        word(|d| d.inheritable),
    ])
}

/// Sets the calling thread's effective, permitted and inheritable sets.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Check {
    let mut header = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let data: [CapData; 2] = std::array::from_fn(|i| CapData {
        effective: (effective >> (32 * i)) as u32,
        permitted: (permitted >> (32 * i)) as u32,
        inheritable: (inheritable >> (32 * i)) as u32,
    });
    // SAFETY: as in `capget`.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    check_os(
        r,
        format!("capset({effective:#x}, {permitted:#x}, {inheritable:#x})"),
    )
}

/// Takes `cap` out of the calling thread's effective set.
pub fn drop_effective(cap: u32) -> Check {
    let [e, p, i] = capget()?;
    capset(e & !(1 << cap), p, i)
}

/// Restarts `target`'s image with `cap` (a capability number) out of the effective set: the
/// restart must fail with EPERM and a kernel log line naming `named`.
pub fn expect_restart_needs(target: &mut crate::Target, cap: u32, named: &str) {
    let caps = capget().unwrap_or_else(|e| target.fail(e));
    drop_effective(cap).unwrap_or_else(|e| target.fail(e));
    let result = target.try_restart(0);
    capset(caps[0], caps[1], caps[2]).unwrap_or_else(|e| target.fail(e));
    target.expect_restart_errno(
        result,
        libc::EPERM,
        &format!("restart without capability {cap}"),
    );
    if !crate::log_names(target.klog(), named) {
        target.fail(format!("no kernel log line names the {named}"));
    }
}
