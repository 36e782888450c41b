// SPDX-License-Identifier: GPL-2.0

//! Counted references to pages someone else owns: the pages of an address space pinned by
//! `get_user_pages_remote()`, or those of a page cache.
//!
//! [`crate::page::Page`] owns a page it allocated; a [`PageRef`] only holds a reference
//! (`get_page()`), which keeps the page from being freed or reused, not its contents from
//! changing: its owners may write it meanwhile.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{bindings, page::PAGE_SIZE};
use core::ptr::NonNull;

/// A reference on a page (`get_page()`), put on drop.
///
/// The type is transparent over a non-NULL pointer, so that `Option<PageRef>` has the layout
/// of `struct page *`: a slice of them is an array the C functions that return referenced
/// pages can fill, NULL for `None`.
///
/// # Invariants
///
/// `page` is a valid page on which this instance holds one reference.
#[repr(transparent)]
pub struct PageRef {
    page: NonNull<bindings::page>,
}

// SAFETY: a page reference may be put from any task.
unsafe impl Send for PageRef {}
// SAFETY: the methods taking `&self` read the page's flags, which its owners change
// concurrently anyway, and its contents with volatile reads, or under `with_bytes`'s contract.
unsafe impl Sync for PageRef {}

impl PageRef {
    /// Takes over a page reference.
    ///
    /// # Safety
    ///
    /// `page` must be a valid page on which the caller holds a reference, which moves to the
    /// returned value.
    pub unsafe fn from_raw(page: NonNull<bindings::page>) -> PageRef {
        // INVARIANT: by the caller's guarantee.
        PageRef { page }
    }

    /// The raw page, only for comparing and as a key: it stays the same page while referenced.
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Whether it is anonymous memory (`PageAnon()`), not page cache.
    pub fn is_anon(&self) -> bool {
        // SAFETY: the page is valid (type invariant).
        unsafe { bindings::PageAnon(self.as_ptr()) }
    }

    /// Whether it is anonymous memory mapped by one process only (`PageAnonExclusive()`):
    /// fork(2) clears this on the pages it leaves shared copy-on-write.
    pub fn is_anon_exclusive(&self) -> bool {
        // SAFETY: the page is valid (type invariant); the flag is only tested on anonymous
        // pages, where it has this meaning.
        self.is_anon() && unsafe { bindings::PageAnonExclusive(self.as_ptr()) }
    }

    /// Runs `f` on the page's contents, mapped into the kernel for the call
    /// (`kmap_local_page()`), and returns what it returns.
    ///
    /// # Safety
    ///
    /// Nothing may write the page while `f` runs: no task that can run maps it writable, and
    /// the kernel does not write it (the page of a frozen task, or of shared memory whose
    /// users are all frozen).
    pub unsafe fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        self.with_mapped(|addr| {
            // SAFETY: the mapping covers the page's `PAGE_SIZE` bytes while `f` runs, which
            // nothing writes then (caller).
            f(unsafe { core::slice::from_raw_parts(addr, PAGE_SIZE) })
        })
    }

    /// Whether it holds only zeros, each word as it is when read: its owners may write it
    /// meanwhile.
    pub fn is_zero(&self) -> bool {
        self.with_words(|w| (0..Words::LEN).all(|i| w.get(i) == Some(0)))
    }

    /// Runs `f` on the page's contents as words, mapped into the kernel for the call
    /// (`kmap_local_page()`), and returns what it returns. Unlike [`PageRef::with_bytes`],
    /// this is for a page that others may write meanwhile (memory user space can reach): each
    /// word is read as it is when read.
    pub fn with_words<R>(&self, f: impl FnOnce(Words<'_>) -> R) -> R {
        self.with_mapped(|addr| {
            // INVARIANT: the mapping is page-aligned, covers the page and lasts for the call,
            // which the lifetime of the `Words` given to `f` cannot outlive.
            f(Words {
                words: addr.cast::<u64>(),
                _mapped: core::marker::PhantomData,
            })
        })
    }

    /// Runs `f` with the page mapped into the kernel (`kmap_local_page()`) at the address it
    /// is given, which it must not keep.
    fn with_mapped<R>(&self, f: impl FnOnce(*const u8) -> R) -> R {
        // SAFETY: the page is valid (type invariant); the mapping is released below, in the
        // reverse order of any taken inside `f`.
        let addr = unsafe { bindings::kmap_local_page(self.as_ptr()) };
        let r = f(addr.cast::<u8>().cast_const());
        // SAFETY: mapped above, and the last local mapping taken since.
        unsafe { bindings::kunmap_local(addr) };
        r
    }
}

/// A page's contents as words that others may write while they are read, from
/// [`PageRef::with_words`].
///
/// # Invariants
///
/// `words` is the page-aligned start of a kernel mapping of a whole page, valid for `'a`.
#[derive(Clone, Copy)]
pub struct Words<'a> {
    words: *const u64,
    _mapped: core::marker::PhantomData<&'a u64>,
}

impl Words<'_> {
    /// The number of words in a page.
    pub const LEN: usize = PAGE_SIZE / 8;

    /// The `i`th word, in the CPU's byte order, as it is when read (C's `READ_ONCE()`);
    /// `None` past the page.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<u64> {
        if i >= Self::LEN {
            return None;
        }
        // SAFETY: `i` is within the page, which is mapped for the lifetime of `self` (type
        // invariant); a volatile read of a word others may write is what `READ_ONCE()` does.
        Some(unsafe { self.words.add(i).read_volatile() })
    }
}

impl Clone for PageRef {
    fn clone(&self) -> PageRef {
        // SAFETY: the page is valid and referenced (type invariant), so `get_page` may take
        // another reference.
        unsafe { bindings::get_page(self.as_ptr()) };
        // INVARIANT: the reference taken above is the clone's.
        PageRef { page: self.page }
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: this instance holds a reference (type invariant), given back once, here.
        unsafe { bindings::put_page(self.as_ptr()) };
    }
}

// `Option<PageRef>` must be a nullable pointer for the C arrays of pages.
crate::static_assert!(
    core::mem::size_of::<Option<PageRef>>() == core::mem::size_of::<*mut bindings::page>()
);
