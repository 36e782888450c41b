// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems: open files and the descriptors that name them, paths, inodes, what a
//! task holds of them (its fd table, its root and cwd), and event and signal files.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

#[cfg(CONFIG_CHECKPOINT)]
pub mod batch;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_EPOLL))]
pub mod epoll;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_EVENTFD))]
pub mod eventfd;
pub mod fdtable;
pub mod file;
pub mod fs_struct;
pub mod inode;
#[cfg(CONFIG_CHECKPOINT)]
pub mod lock;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
pub mod memfd;
pub mod path;
#[cfg(CONFIG_CHECKPOINT)]
pub mod pipe;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_SIGNALFD))]
pub mod signalfd;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_TIMERFD))]
pub mod timerfd;
#[cfg(CONFIG_CHECKPOINT)]
pub mod unlinked;

/// A run of bytes between holes as a C helper that finds one reports it: `start`, the offset
/// of its first byte or a negative errno (`-ENXIO` past the last), and `end`.
#[cfg(CONFIG_CHECKPOINT)]
fn data_run(start: i64, end: i64) -> crate::error::Result<Option<(i64, i64)>> {
    use crate::error::{code::EINVAL, Error};
    match start {
        s if s >= 0 && end >= s => Ok(Some((s, end))),
        s if s == -i64::from(crate::bindings::ENXIO) => Ok(None),
        s if s < 0 => Err(Error::from_errno(s as i32)),
        _ => Err(EINVAL),
    }
}
