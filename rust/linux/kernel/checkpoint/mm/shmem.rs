// SPDX-License-Identifier: GPL-2.0

//! Shared anonymous memory: one object however many mappings and processes show it, its
//! pages written once, from its page cache.

use super::map::file_at;
use super::pages::{write_runs, PageAct, Pinned};
use super::{BATCH, PAGE};
use crate::files::FileRef;
use crate::image::{Dumper, Restorer};
use crate::{abi, log, Obj};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::bindings;
use kernel::mm::{self, page::PageRef};
use kernel::prelude::*;
use kernel::rbtree::RBTree;

/// The shared anonymous memory objects of a checkpoint, mapped by one process or several
/// (inherited through fork()): each is named by objref, and its pages go with its first
/// mapping in the image.
pub(crate) struct SharedObjects(RBTree<usize, core::ops::Range<u64>>);

impl SharedObjects {
    pub(crate) fn new() -> SharedObjects {
        SharedObjects(RBTree::new())
    }

    /// Fills in the objref and size of the object behind the mapping `rec` of `file`; returns
    /// the range of the object's pages (in pages) already written with an earlier mapping.
    pub(super) fn name(
        &mut self,
        d: &mut Dumper<'_>,
        file: &FileRef,
        rec: &mut abi::Vma,
    ) -> Result<core::ops::Range<u64>> {
        // Only its frozen users can resize it.
        let (mapping, size) = (file.file().mapping(), file.inode().size() as u64);
        let (objref, first) = d.first_write(mapping)?;
        rec.file = objref;
        rec.size = size;
        if first {
            let pages = rec.pgoff..rec.pgoff + (rec.end - rec.start) / PAGE;
            self.0
                .try_create_and_insert(mapping as usize, pages, GFP_KERNEL)?;
            return Ok(0..0);
        }
        Ok(self.0.get(&(mapping as usize)).cloned().unwrap_or(0..0))
    }
}

/// Writes the pages of shared anonymous memory that exist, in its page cache or swapped out
/// (read back in), but those of the object's page range `written` (written with another
/// mapping of it).
pub(super) fn dump_cached(
    d: &mut Dumper<'_>,
    vma: &abi::Vma,
    file: &FileRef,
    pages: &mut [Option<PageRef>],
    written: core::ops::Range<u64>,
) -> Result {
    let total = (vma.end - vma.start) / PAGE;
    let mut acts = [PageAct::Skip; BATCH];
    let mut first = 0u64;
    while first < total {
        let n = ((total - first) as usize).min(BATCH);
        let pinned = Pinned {
            pages: &mut pages[..n],
        };
        for (i, (slot, act)) in pinned.pages.iter_mut().zip(acts.iter_mut()).enumerate() {
            let index = vma.pgoff + first + i as u64;
            *act = PageAct::Skip;
            // Past the object's end (a mapping grown by mremap()) there is nothing to read.
            if written.contains(&index) || index.saturating_mul(PAGE) >= vma.size {
                continue;
            }
            *slot = match file.inode().shmem_page(index as usize) {
                Ok(page) => page,
                Err(e) => {
                    log!(
                        d.log,
                        "shared memory page {index}: cannot read it ({})",
                        e.to_errno()
                    );
                    return Err(e);
                }
            };
            if slot.as_ref().is_some_and(|p| !p.is_zero()) {
                *act = PageAct::Data;
            }
        }
        write_runs(d, vma.start + first * PAGE, pinned.pages, &acts[..n])?;
        drop(pinned);
        first += n as u64;
        crate::resched();
    }
    Ok(())
}

/// The shared memory object the mapping `v` shows: the one an earlier mapping in the image
/// made (in this process or another), or a new one of the saved size. `flags` carries the
/// mapping's `MAP_NORESERVE`, which decides how the object is accounted.
pub(super) fn shared_object(
    r: &mut Restorer<'_, Obj>,
    v: &abi::Vma,
    flags: u64,
) -> Result<FileRef> {
    let end = v
        .pgoff
        .checked_mul(PAGE)
        .and_then(|o| o.checked_add(v.end - v.start));
    if v.size % PAGE != 0 || end.map_or(true, |e| e > v.size) {
        return Err(r.bad("shared memory object smaller than its mapping"));
    }
    match r.defined(v.file) {
        Some(Obj::Shmem(f)) => return Ok(f.clone()),
        Some(_) => return Err(r.bad("mapping names an object that is not shared memory")),
        None => {}
    }
    // The object is made as mmap() makes one, by a mapping of its size (anywhere), which is
    // then dropped: the object lives on through our reference.
    let flags = flags & u64::from(bindings::MAP_NORESERVE)
        | u64::from(bindings::MAP_SHARED | bindings::MAP_ANONYMOUS);
    let at = mm::vm_mmap(
        None,
        0,
        v.size as usize,
        bindings::PROT_NONE as usize,
        flags as usize,
        0,
    );
    let at = match at {
        Ok(at) => at as u64,
        Err(e) => {
            log!(
                r.log,
                "mapping {:#x}-{:#x}: cannot make its {}-byte shared memory object",
                v.start,
                v.end,
                v.size
            );
            return Err(e);
        }
    };
    let file = file_at(at);
    // The object lives on through `file`; should the unmap fail, the mapping goes with the
    // rest of the mm.
    let _ = mm::vm_munmap(at as usize, v.size as usize);
    let file = file?.ok_or(EINVAL)?;
    r.define(v.file, Obj::Shmem(file.clone()))?;
    Ok(file)
}
