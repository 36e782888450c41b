// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems: open files and the descriptors that name them, paths, inodes, what a
//! task holds of them (its fd table, its root and cwd), and event and signal files.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

#[cfg(all(CONFIG_CHECKPOINT, CONFIG_EPOLL))]
pub mod epoll;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_EVENTFD))]
pub mod eventfd;
pub mod fdtable;
pub mod file;
pub mod fs_struct;
pub mod inode;
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
