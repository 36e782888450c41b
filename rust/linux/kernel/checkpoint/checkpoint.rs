// SPDX-License-Identifier: GPL-2.0

//! In-kernel checkpoint/restart of process trees.
//!
//! `checkpoint(2)` saves the tree rooted at a pid into a stream from outside; `restart(2)`
//! rebuilds it in the kernel from such a stream. The image format is the schema in `abi/`,
//! generated from the project's one header schema and shared with user space.
//!
//! This file only lists the modules and converts between C and Rust at the entry points; each
//! module is named after the kernel object it saves and restores.

use kernel::prelude::*;

mod abi;
mod image;
mod log;
mod task;

use log::Log;

/// Converts a Rust result to a system call return value.
fn to_syscall_ret(r: Result<i32>) -> isize {
    match r {
        Ok(v) => v as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `checkpoint(pid, fd, flags, logfd)`: called by the C stub in `syscalls.c`.
#[no_mangle]
pub extern "C" fn rust_checkpoint(pid: i32, fd: i32, flags: u32, logfd: i32) -> isize {
    to_syscall_ret(checkpoint(pid, fd, flags, logfd).map(|()| 0))
}

/// `restart(fd, flags, logfd)`: called by the C stub in `syscalls.c`.
#[no_mangle]
pub extern "C" fn rust_restart(fd: i32, flags: u32, logfd: i32) -> isize {
    to_syscall_ret(restart(fd, flags, logfd))
}

/// Returns the ABI hash (lowercase hex, not NUL-terminated) and stores its length in `*len`.
///
/// # Safety
///
/// `len` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rust_checkpoint_abi_hash(len: *mut usize) -> *const u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { len.write(abi::ABI_HASH_HEX.len()) };
    abi::ABI_HASH_HEX.as_ptr()
}

/// Returns the schema description (not NUL-terminated) and stores its length in `*len`.
///
/// # Safety
///
/// `len` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn rust_checkpoint_schema(len: *mut usize) -> *const u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { len.write(abi::SCHEMA.len()) };
    abi::SCHEMA.as_ptr()
}

fn checkpoint(pid: i32, fd: i32, flags: u32, logfd: i32) -> Result {
    if flags & !abi::CKPT_FLAGS_ALL != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(logfd, "checkpoint")?;
    let _out = image::Output::open(&log, fd)?;
    let _root = task::checkpoint_root(&log, pid, flags)?;
    crate::log!(log, "pid {pid}: dumping tasks is not implemented yet");
    Err(EOPNOTSUPP)
}

fn restart(fd: i32, flags: u32, logfd: i32) -> Result<i32> {
    if flags & !abi::RESTART_FLAGS_ALL != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(logfd, "restart")?;
    let mut input = image::Input::open(&log, fd)?;
    let records = image::verify(&log, &mut input)?;
    crate::log!(log, "image verified ({records} records); restoring tasks is not implemented yet");
    Err(EOPNOTSUPP)
}
