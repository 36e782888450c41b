// SPDX-License-Identifier: GPL-2.0

//! Mappings of an address space: `struct vm_area_struct`.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{bindings, fs::file::File, str::CStr};

/// A mapping of an address space, reached under its mmap lock.
///
/// # Invariants
///
/// Every instance is a valid `vm_area_struct`, and the mmap lock of its address space is held
/// for as long as the reference through which it is reached exists: its bounds, flags, file,
/// offset and ops stay as they are.
#[repr(transparent)]
pub struct VmaRef {
    vma: crate::types::Opaque<bindings::vm_area_struct>,
}

impl VmaRef {
    /// Reaches a mapping from a raw pointer.
    ///
    /// # Safety
    ///
    /// `vma` must be a valid mapping whose address space's mmap lock is held for the whole of
    /// `'a`.
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a VmaRef {
        // SAFETY: the caller's guarantee is the type invariant; the type is transparent.
        unsafe { &*vma.cast() }
    }

    /// The raw `vm_area_struct`, for C functions the abstraction does not cover.
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.get()
    }

    /// Its first address.
    pub fn start(&self) -> usize {
        // SAFETY: the mapping is valid and its bounds fixed while the mmap lock is held (type
        // invariant); the bounds are the union's member in use for a live mapping.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// The address right after its last byte.
    pub fn end(&self) -> usize {
        // SAFETY: as in `start()`.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// Its `VM_*` flags.
    pub fn flags(&self) -> u64 {
        // SAFETY: valid; the flags change only with the mmap lock held for writing (type
        // invariant), and `vm_flags` is the union's read-only view of them.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.vm_flags as u64 }
    }

    /// Its offset in the file, or its address in pages for anonymous memory, in pages.
    pub fn pgoff(&self) -> u64 {
        // SAFETY: valid, and fixed while the mmap lock is held (type invariant).
        unsafe { (*self.as_ptr()).vm_pgoff as u64 }
    }

    /// The file it maps, if any; a private mapping of /dev/zero keeps its file and is
    /// anonymous all the same (see [`VmaRef::is_anonymous`]).
    pub fn file(&self) -> Option<&File> {
        // SAFETY: valid, and fixed while the mmap lock is held (type invariant).
        let file = unsafe { (*self.as_ptr()).vm_file };
        // SAFETY: the mapping holds a reference on its file for as long as it exists.
        (!file.is_null()).then(|| unsafe { File::from_raw_file(file) })
    }

    /// Whether it is anonymous memory: no `vm_ops` (`vma_is_anonymous()`).
    pub fn is_anonymous(&self) -> bool {
        // SAFETY: valid, and fixed while the mmap lock is held (type invariant).
        unsafe { (*self.as_ptr()).vm_ops.is_null() }
    }

    /// Whether it is shared anonymous memory: a shmem file of its own
    /// (`vma_is_anon_shmem()`), not a SysV segment or another object's memory.
    pub fn is_anon_shmem(&self) -> bool {
        // SAFETY: the mapping is valid; the call only compares its `vm_ops`.
        unsafe { bindings::vma_is_anon_shmem(self.as_ptr()) }
    }

    /// The name `prctl(PR_SET_VMA_ANON_NAME)` gave it, if any.
    pub fn anon_name(&self) -> Option<&CStr> {
        // SAFETY: the mapping is valid; the callee returns NULL or the name the mapping
        // keeps, which is only replaced with the mmap lock held for writing.
        let name = unsafe { bindings::vma_anon_name(self.as_ptr()) };
        // SAFETY: a name is NUL-terminated, and kept while the lock is held (type invariant).
        (!name.is_null()).then(|| unsafe { CStr::from_char_ptr(name) })
    }

    /// The root of the tree of anon_vmas it is linked to, only for comparing: mappings that
    /// may map the same anonymous page have the same. Zero before it has an anonymous page.
    pub fn anon_root(&self) -> usize {
        // SAFETY: the mapping is valid, and its anon_vma, once set, kept while the mmap lock
        // is held (type invariant).
        unsafe { bindings::checkpoint_vma_anon_root(self.as_ptr()) as usize }
    }

    /// Why checkpoint cannot save it, for what its flags and policies say and restart would
    /// not set again (sealed, droppable, registered with a userfaultfd, with a NUMA policy or
    /// a protection key); `None` if none applies.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn checkpoint_refusal(&self) -> Option<&'static CStr> {
        // SAFETY: the mapping is valid under its mmap lock (type invariant); the callee reads
        // its flags, userfaultfd and policies, and returns NULL or a static string.
        let why = unsafe { bindings::checkpoint_vma_unsupported(self.as_ptr()) };
        // SAFETY: a static NUL-terminated string.
        (!why.is_null()).then(|| unsafe { CStr::from_char_ptr(why) })
    }
}
