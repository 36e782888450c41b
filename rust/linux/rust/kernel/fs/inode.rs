// SPDX-License-Identifier: GPL-2.0

//! Inodes: the file an open file, a path or a mapping is of.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{
    bindings,
    error::{code::EINVAL, to_result, Result},
    mm::page::PageRef,
    types::Opaque,
};
use core::ptr::{addr_of, NonNull};

/// An inode, borrowed from what keeps it (an open file, a counted dentry).
///
/// Fields that change while the inode is in use (permission bits, times, size) are read once
/// each, as C reads them without the inode lock; a caller comparing several of them may see
/// them from either side of a change.
///
/// # Invariants
///
/// Every instance is a valid inode, kept for as long as the reference through which it is
/// reached exists.
#[repr(transparent)]
pub struct Inode {
    inner: Opaque<bindings::inode>,
}

impl Inode {
    /// Reaches an inode from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid inode kept for the whole of `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::inode) -> &'a Inode {
        // SAFETY: the caller's guarantee is the type invariant; the type is transparent.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct inode`, for C functions the abstraction does not cover.
    pub fn as_ptr(&self) -> *mut bindings::inode {
        self.inner.get()
    }

    /// Its type and permission bits (`i_mode`).
    pub fn mode(&self) -> u32 {
        // SAFETY: the inode is valid (type invariant); chmod changes the permission bits, so
        // the field is read once.
        u32::from(unsafe { addr_of!((*self.as_ptr()).i_mode).read_volatile() })
    }

    /// Its type: `S_IFREG`, `S_IFDIR`, ... (`i_mode & S_IFMT`), fixed for its life.
    pub fn file_type(&self) -> u32 {
        self.mode() & bindings::S_IFMT
    }

    /// Whether it is a kernel-internal inode (`S_PRIVATE`: shmem behind shared anonymous
    /// memory and SysV segments, sockets), set when it is made.
    pub fn is_private(&self) -> bool {
        // SAFETY: the inode is valid (type invariant); other `i_flags` bits change under the
        // inode lock, so the word is read once.
        let flags = unsafe { addr_of!((*self.as_ptr()).i_flags).read_volatile() };
        flags & bindings::S_PRIVATE != 0
    }

    /// Its number on its file system (`i_ino`), fixed once the inode is in use.
    pub fn ino(&self) -> u64 {
        // SAFETY: the inode is valid (type invariant).
        unsafe { addr_of!((*self.as_ptr()).i_ino).read() as u64 }
    }

    /// The device of a device file (`i_rdev`), in the kernel's encoding; 0 for others.
    pub fn rdev(&self) -> u32 {
        // SAFETY: the inode is valid (type invariant); `i_rdev` is set when it is made.
        unsafe { addr_of!((*self.as_ptr()).i_rdev).read() }
    }

    /// The device of its file system (`i_sb->s_dev`), in the kernel's encoding.
    pub fn dev(&self) -> u32 {
        // SAFETY: the inode is valid (type invariant), and its superblock lives as long as
        // it; `s_dev` is set when the file system is mounted.
        unsafe { addr_of!((*(*self.as_ptr()).i_sb).s_dev).read() }
    }

    /// Its size in bytes (`i_size_read()`).
    pub fn size(&self) -> i64 {
        // SAFETY: the inode is valid (type invariant).
        unsafe { bindings::i_size_read(self.as_ptr()) }
    }

    /// The page at `index` of a shmem inode's page cache, read back in (into a new folio) if it
    /// was swapped out (`shmem_get_folio(SGP_READ)`); `None` for a hole, which is left one.
    /// `EINVAL` for an inode of another file system, or an index at or past its size.
    pub fn shmem_page(&self, index: usize) -> Result<Option<PageRef>> {
        let inode = self.as_ptr();
        // SAFETY: the inode is valid (type invariant); its page cache is set up with it.
        if !unsafe { bindings::shmem_mapping(addr_of!((*inode).i_mapping).read()) } {
            return Err(EINVAL);
        }
        let mut folio = core::ptr::null_mut();
        // SAFETY: a valid shmem inode; `SGP_READ` leaves a hole one.
        to_result(unsafe {
            bindings::shmem_get_folio(inode, index, 0, &mut folio, bindings::sgp_type_SGP_READ)
        })?;
        if folio.is_null() {
            return Ok(None);
        }
        // SAFETY: `folio` is referenced and locked by `shmem_get_folio`, and holds `index`;
        // its reference moves to the page, which is part of it.
        let page = unsafe {
            bindings::folio_unlock(folio);
            bindings::folio_file_page(folio, index)
        };
        // SAFETY: as above: a page of a referenced folio, whose reference the `PageRef` takes.
        Ok(NonNull::new(page).map(|p| unsafe { PageRef::from_raw(p) }))
    }

    /// Its modification time: seconds and nanoseconds.
    pub fn mtime(&self) -> (i64, u32) {
        let inode = self.as_ptr();
        // SAFETY: the inode is valid (type invariant); writes change the time, so each field
        // is read once.
        unsafe {
            (
                addr_of!((*inode).i_mtime_sec).read_volatile(),
                addr_of!((*inode).i_mtime_nsec).read_volatile(),
            )
        }
    }
}
