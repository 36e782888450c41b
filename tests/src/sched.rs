//! Scheduling attributes of the calling thread (sched_setattr(2), sched_getattr(2)).

use crate::{check_os, Check};

/// `struct sched_attr`, with the utilization clamps (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Default, Debug)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

impl SchedAttr {
    /// Attributes for `policy` with `flags` (`SCHED_FLAG_*`), the rest zero.
    pub fn new(policy: u32, flags: u64) -> SchedAttr {
        SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy,
            flags,
            ..Default::default()
        }
    }
}

/// Sets the calling thread's attributes; `what` names the call in the error.
pub fn set(attr: &SchedAttr, what: &str) -> Check {
    // SAFETY: `attr` is a valid sched_attr of its size; acts on the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr, 0) };
    check_os(r, format!("sched_setattr({what})"))
}

/// The calling thread's attributes.
pub fn get() -> Result<SchedAttr, String> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is valid for `size` bytes of writes.
    let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) };
    check_os(r, "sched_getattr")?;
    Ok(attr)
}
