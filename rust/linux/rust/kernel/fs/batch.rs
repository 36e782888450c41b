// SPDX-License-Identifier: GPL-2.0

//! Many small writes and whole pages written to a file in one call: `vfs_iter_write()` over
//! an array of `struct bio_vec`, so that a stream of records and pages costs one trip through
//! the file system per batch, and the pages are copied once, by the file, from where they are.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)

use super::file::PosFd;
use crate::alloc::{flags::GFP_KERNEL, KVec};
use crate::bindings;
use crate::error::{code::*, Result};
use crate::mm::page::PageRef;
use crate::page::{Page, PAGE_SIZE};

/// Bytes and pages to be written to a file, in order, by one [`PosFd::write_batch`].
///
/// Bytes are copied into staging pages the batch owns; pages are written from where they are,
/// and the batch holds a reference on each until then. Their contents are read when the batch
/// is written, not when they are added.
///
/// # Invariants
///
/// - Each entry of `vecs` covers `bv_len` bytes from `bv_offset` within one page: a staging
///   page, within the first `staged` bytes of the staging pages taken in order, or a page that
///   one of the first `nheld` entries of `held` references.
/// - `staged <= stage.len() * PAGE_SIZE`, `nheld <= held.len()`, and `held[nheld..]` is all
///   `None`.
/// - `len` is the sum of the entries' lengths; `vecs` never grows past the capacity reserved
///   in [`Self::new`].
pub struct WriteBatch {
    /// The staging pages, owned.
    stage: KVec<Page>,
    /// Bytes staged so far, filling the staging pages in order.
    staged: usize,
    /// What the next write writes, in order.
    vecs: KVec<bindings::bio_vec>,
    /// A reference on each page added, the first `nheld`.
    held: KVec<Option<PageRef>>,
    nheld: usize,
    /// Bytes `vecs` covers.
    len: usize,
}

impl WriteBatch {
    /// A batch of at most `pages` pages and `stage` pages' worth of bytes.
    pub fn new(pages: usize, stage: usize) -> Result<WriteBatch> {
        let mut staging = KVec::with_capacity(stage, GFP_KERNEL)?;
        for _ in 0..stage {
            staging.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        // One entry per page, and for bytes one per staging page and one after each page.
        let vecs = pages
            .checked_mul(2)
            .and_then(|n| n.checked_add(stage)?.checked_add(1))
            .ok_or(EINVAL)?;
        // INVARIANT: empty; the capacities are reserved here.
        Ok(WriteBatch {
            stage: staging,
            staged: 0,
            vecs: KVec::with_capacity(vecs, GFP_KERNEL)?,
            held: KVec::from_elem(None, pages, GFP_KERNEL)?,
            nheld: 0,
            len: 0,
        })
    }

    /// Appends `vec` unless `vecs` is full.
    fn append(&mut self, vec: bindings::bio_vec) -> bool {
        if self.vecs.len() == self.vecs.capacity() {
            return false;
        }
        let n = vec.bv_len as usize;
        // The capacity is there: no allocation.
        if self.vecs.push(vec, GFP_KERNEL).is_err() {
            return false;
        }
        // INVARIANT: `len` counts the entry just added.
        self.len += n;
        true
    }

    /// Copies the first bytes of `bytes` into the staging pages, as many as fit; returns how
    /// many.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> usize {
        let mut done = 0;
        while done < bytes.len() {
            let (index, offset) = (self.staged / PAGE_SIZE, self.staged % PAGE_SIZE);
            let Some(raw) = self.stage.get(index).map(Page::as_ptr) else {
                break;
            };
            let n = (PAGE_SIZE - offset).min(bytes.len() - done);
            // Bytes that follow the last entry's in the same staging page extend it.
            let extend = self
                .vecs
                .last()
                .is_some_and(|v| v.bv_page == raw && (v.bv_offset + v.bv_len) as usize == offset);
            if !extend
                && !self.append(bindings::bio_vec {
                    bv_page: raw,
                    bv_len: 0,
                    bv_offset: offset as u32,
                })
            {
                break;
            }
            // SAFETY: `bytes` holds `n` bytes from `done`; the staging page is the batch's own
            // and nothing reads it until the batch is written, which takes `&mut self`.
            let copied =
                unsafe { self.stage[index].write_raw(bytes.as_ptr().add(done), offset, n) };
            if copied.is_err() {
                break;
            }
            if let Some(last) = self.vecs.last_mut() {
                // INVARIANT: the entry now covers the bytes just staged.
                last.bv_len += n as u32;
            }
            self.len += n;
            self.staged += n;
            done += n;
        }
        done
    }

    /// Adds the whole page `page`, to be written from where it is; `false` if the batch is full.
    pub fn push_page(&mut self, page: &PageRef) -> bool {
        // Checked before the reference is taken: `append` does not fail then.
        if self.vecs.len() == self.vecs.capacity() {
            return false;
        }
        let Some(slot) = self.held.get_mut(self.nheld) else {
            return false;
        };
        // INVARIANT: the reference taken here keeps the page of the entry added below.
        *slot = Some(page.clone());
        self.nheld += 1;
        self.append(bindings::bio_vec {
            bv_page: page.as_ptr(),
            bv_len: PAGE_SIZE as u32,
            bv_offset: 0,
        })
    }

    /// Forgets what is waiting and drops the page references.
    fn clear(&mut self) {
        // SAFETY: `bio_vec` has no destructor; zero entries are initialised.
        unsafe { self.vecs.set_len(0) };
        self.held[..self.nheld].iter_mut().for_each(|p| *p = None);
        // INVARIANT: no entries, nothing staged, no references.
        self.nheld = 0;
        self.staged = 0;
        self.len = 0;
    }
}

impl PosFd {
    /// Writes all that `batch` holds at the file position, retrying short writes, and empties
    /// it, whether or not the write succeeds.
    pub fn write_batch(&self, batch: &mut WriteBatch) -> Result {
        let mut done = 0;
        let mut r = Ok(());
        while done < batch.len {
            let mut iter = bindings::iov_iter::default();
            // SAFETY: `vecs` holds valid entries adding up to `len` bytes (type invariant),
            // which stay valid until `clear()` below; `done` is less than `len`.
            unsafe {
                bindings::iov_iter_bvec(
                    &mut iter,
                    bindings::ITER_SOURCE,
                    batch.vecs.as_ptr(),
                    batch.vecs.len() as _,
                    batch.len,
                );
                bindings::iov_iter_advance(&mut iter, done);
            }
            let n = self.transfer(|file, ppos| {
                // SAFETY: `file` is valid and `ppos` is what `transfer` gives; `iter` is
                // initialised above.
                unsafe { bindings::vfs_iter_write(file, &mut iter, ppos, 0) }
            });
            match n {
                Ok(0) => r = Err(EIO),
                Ok(n) => done += n,
                Err(e) => r = Err(e),
            }
            if r.is_err() {
                break;
            }
        }
        batch.clear();
        r
    }
}
