// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems: open files and the descriptors that name them, paths, inodes, and
//! what a task holds of them (its fd table, its root and cwd).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod fdtable;
pub mod file;
pub mod fs_struct;
pub mod inode;
pub mod path;
