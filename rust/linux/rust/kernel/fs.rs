// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems: open files and the descriptors that name them.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod file;
