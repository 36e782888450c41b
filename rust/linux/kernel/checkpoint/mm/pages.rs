// SPDX-License-Identifier: GPL-2.0

//! Page data: the pages of private mappings, pinned from the frozen tasks and written in runs,
//! those shared copy-on-write with a relative named instead, and their restore.

use super::map::Target;
use super::plan::Area;
use super::{current_mm, BATCH, PAGE};
use crate::image::{Dumper, Rec, Restorer};
use crate::shared;
use crate::{abi, abi::RecordType, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::mm::{page::PageRef, MmWithUser};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::uaccess::UserSlice;

/// Pages pinned by `get_user_pages_remote` or taken from the page cache, in a buffer that is
/// emptied on drop.
pub(super) struct Pinned<'a> {
    pub(super) pages: &'a mut [Option<PageRef>],
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.pages.iter_mut().for_each(|p| *p = None);
    }
}

/// Whether the page `page` of a private mapping goes into the image: in an anonymous mapping
/// unless it holds only zeros (a new mapping reads as zeros), in a file mapping
/// (`written_only`) if it is an anonymous copy, whatever it holds (a zeroed copy must not read
/// as the file again).
fn restored_data(page: &PageRef, written_only: bool) -> bool {
    match written_only {
        true => page.is_anon(),
        false => !page.is_zero(),
    }
}

/// What the image says of one page.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum PageAct {
    /// Nothing: the page is a hole, zeros or the file's, or, in a copied mapping, as in
    /// the mm it is a copy of.
    Skip,
    /// Its bytes.
    Data,
    /// In a copied mapping, that it is dropped (`PAGE_RUN_DROP`).
    Drop,
    /// In a copied mapping, that it is the page of the mm written earlier that this objref
    /// names, at that address there (`PAGE_RUN_SHARE`).
    Share(u32, u64),
}

impl PageAct {
    /// What the next page's act is if it continues a run of this one.
    fn next(self) -> PageAct {
        match self {
            PageAct::Share(mm, at) => PageAct::Share(mm, at.wrapping_add(PAGE)),
            act => act,
        }
    }
}

/// Writes the runs of pages of `pages`, the first at `addr`, as `acts` says.
pub(super) fn write_runs(
    d: &mut Dumper<'_>,
    addr: u64,
    pages: &[Option<PageRef>],
    acts: &[PageAct],
) -> Result {
    let mut i = 0;
    while i < pages.len() {
        let act = acts[i];
        let j = i
            + 1
            + acts[i + 1..]
                .iter()
                .zip(&acts[i..])
                .take_while(|&(&b, &a)| b == a.next())
                .count();
        let (at, n) = (addr + i as u64 * PAGE, (j - i) as u32);
        match act {
            PageAct::Skip => {}
            PageAct::Drop => d.page_drop(at, n)?,
            PageAct::Share(mm, from) => {
                d.page_share(at, n, mm, if from == at { 0 } else { from })?
            }
            PageAct::Data => {
                d.page_run_begin(at, n)?;
                for page in &pages[i..j] {
                    // Only pages with data are written.
                    let page = page.as_ref().ok_or(EINVAL)?;
                    // A tracer outside the tree writing through /proc/PID/mem would race the
                    // copy, as it races a core dump's: the page is checksummed now and written
                    // with its batch, so the image would then fail its checksum at restart.
                    // SAFETY: a frozen task's page, or shared memory only frozen tasks map
                    // (leak detection refuses other users): nothing in the tree writes it.
                    unsafe { d.page(page) }?;
                }
                d.raw_end()?;
            }
        }
        i = j;
    }
    Ok(())
}

/// Pins the pages of the frozen `mm` from `addr`, one for each entry of `pages`; `None` for a
/// hole or the zero page, which FOLL_DUMP does not fault in, and with `anon_only` for a page
/// that is not anonymous. The page tables say first where pages are, so that a hole costs no
/// call.
fn pin<'a>(
    log: &Log,
    mm: &MmWithUser,
    addr: u64,
    pages: &'a mut [Option<PageRef>],
    anon_only: bool,
) -> Result<Pinned<'a>> {
    let pinned = Pinned { pages };
    let len = pinned.pages.len();
    let mmap = mm.mmap_read_lock();
    let mut map = [0usize; BATCH.div_ceil(usize::BITS as usize)];
    // Where the page tables cannot say, every page is tried.
    let walked = mmap
        .present_pages(addr as usize, len, anon_only, &mut map)
        .is_ok();
    let found = |i: usize| {
        let (word, bit) = (i / usize::BITS as usize, i % usize::BITS as usize);
        !walked || map.get(word).is_some_and(|w| w & (1 << bit) != 0)
    };
    // FOLL_DUMP fails with EFAULT for holes and zero pages instead of faulting them in.
    let flags = bindings::FOLL_DUMP | bindings::FOLL_FORCE;
    let (mut i, mut retried) = (0, false);
    let failed = loop {
        if i >= len {
            break None;
        }
        if !found(i) {
            i += 1;
            continue;
        }
        let run = (i..len).take_while(|&j| found(j)).count();
        let at = addr + i as u64 * PAGE;
        match mmap.get_user_pages(at as usize, flags, &mut pinned.pages[i..i + run]) {
            // A page found where GUP sees a hole was being moved meanwhile (a huge page
            // being migrated, a page table being freed): walked again, which waits for a
            // migration to end, and tried once more if still there.
            Err(e) if e == EFAULT && walked && !retried => {
                let mut again = [0usize; 1];
                let still = mmap.present_pages(at as usize, 1, anon_only, &mut again);
                match still.is_ok() && again[0] & 1 != 0 {
                    true => retried = true,
                    false => i += 1,
                }
            }
            Err(e) if e == EFAULT => (i, retried) = (i + 1, false),
            Ok(n) if n > 0 => (i, retried) = (i + n, false),
            n => break Some((at, n.err().unwrap_or(EFAULT))),
        }
    };
    // A log write may wait: not with the frozen mm's lock held.
    drop(mmap);
    if let Some((at, e)) = failed {
        log!(log, "reading the page at {at:#x} failed ({})", e.to_errno());
        return Err(e);
    }
    if anon_only {
        // What the page tables said is only a hint: the pages pinned are what counts.
        for p in pinned.pages.iter_mut() {
            if p.as_ref().is_some_and(|p| !p.is_anon()) {
                *p = None;
            }
        }
    }
    Ok(pinned)
}

/// Pins the pages of the frozen `mm` from `addr` that are in the mapping `within` (its
/// bounds), as `pin()` does, into `pages` at their offsets from `addr`: the offset of the
/// first, and the pinned, or `None` if no page is in it.
fn pin_within<'a>(
    log: &Log,
    mm: &MmWithUser,
    addr: u64,
    pages: &'a mut [Option<PageRef>],
    within: (u64, u64),
    anon_only: bool,
) -> Result<Option<(usize, Pinned<'a>)>> {
    let end = addr + pages.len() as u64 * PAGE;
    let (lo, hi) = (addr.max(within.0), end.min(within.1));
    if lo >= hi {
        return Ok(None);
    }
    let first = ((lo - addr) / PAGE) as usize;
    let n = ((hi - lo) / PAGE) as usize;
    Ok(Some((
        first,
        pin(log, mm, lo, &mut pages[first..first + n], anon_only)?,
    )))
}

/// The page at offset `i` of what `pin_within()` pinned, if that is in the mapping.
fn page_in<'a>(pinned: &'a Option<(usize, Pinned<'_>)>, i: usize) -> Option<Option<&'a PageRef>> {
    let (first, pinned) = pinned.as_ref()?;
    Some(pinned.pages.get(i.checked_sub(*first)?)?.as_ref())
}

/// A mapping of a relative's address space, written earlier, whose pages a copied mapping
/// may share; with room to pin `BATCH` of them.
pub(super) struct Relative<'a> {
    pub(super) mm: &'a MmWithUser,
    pub(super) within: (u64, u64),
    pub(super) pages: &'a mut [Option<PageRef>],
}

impl Relative<'_> {
    /// Pins its pages from `addr` that are in its mapping, as `pin_within()` does.
    fn pin(
        &mut self,
        log: &Log,
        addr: u64,
        n: usize,
        anon_only: bool,
    ) -> Result<Option<(usize, Pinned<'_>)>> {
        pin_within(
            log,
            self.mm,
            addr,
            &mut self.pages[..n],
            self.within,
            anon_only,
        )
    }
}

/// Anonymous pages written as data that another process of the tree may map too (fork(2)
/// clears the exclusive bit of the pages it shares), by page: the objref of the address space
/// that wrote it and its address there. A later copy that maps one names that address space
/// and that address (`PAGE_RUN_SHARE`), wherever it is in the tree: its parent, a
/// grandparent, an elder sibling, a cousin; at the same address, or not if one of them moved
/// the mapping with mremap(2). Each holds a reference on its page, so that no other page
/// takes its place while the checkpoint runs.
pub(crate) struct CowPages {
    pages: RBTree<usize, (Writer, PageRef)>,
    /// The trees of anon_vmas of the mappings they were written with, each once: only a
    /// mapping in one of them can map one of the pages.
    roots: KVec<usize>,
}

/// The address space that wrote a page: its objref, its mm (only compared) and the page's
/// address there.
#[derive(Clone, Copy)]
pub(super) struct Writer {
    pub(super) objref: u32,
    pub(super) mm: usize,
    pub(super) addr: u64,
}

impl CowPages {
    pub(crate) fn new() -> CowPages {
        CowPages {
            pages: RBTree::new(),
            roots: KVec::new(),
        }
    }

    /// The address space written earlier, other than `mm`'s, that maps `page`.
    fn find(&self, page: &PageRef, mm: &MmWithUser) -> Option<Writer> {
        let (w, _) = self.pages.get(&(page.as_ptr() as usize))?;
        (w.mm != mm.as_raw() as usize).then_some(*w)
    }

    /// Notes that `w` writes `page`, unless one did before; returns whether it is new.
    fn add(&mut self, page: &PageRef, w: Writer) -> Result<bool> {
        let key = page.as_ptr() as usize;
        if self.pages.get(&key).is_some() {
            return Ok(false);
        }
        self.pages
            .try_create_and_insert(key, (w, page.clone()), GFP_KERNEL)?;
        Ok(true)
    }

    /// Notes the tree of anon_vmas (`Area.root`) of a mapping that added pages.
    fn add_root(&mut self, root: usize) -> Result {
        if !self.roots.contains(&root) {
            self.roots.push(root, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// What `accept` makes of the first page it accepts, of those of the frozen `mm`'s
    /// mapping `area` that an address space other than `mm`'s wrote: the writer, and the
    /// page's address in `mm`. `pages` has room to pin `BATCH`. A mapping not in the tree of
    /// anon_vmas of one that added pages has none of them, and is not looked at.
    pub(super) fn first_shared<T>(
        &self,
        log: &Log,
        mm: &MmWithUser,
        area: &Area,
        pages: &mut [Option<PageRef>],
        mut accept: impl FnMut(Writer, u64) -> Option<T>,
    ) -> Result<Option<T>> {
        if area.root == 0 || !self.roots.contains(&area.root) {
            return Ok(None);
        }
        let (mut addr, end) = (area.rec.start, area.rec.end);
        while addr < end {
            let n = (((end - addr) / PAGE) as usize).min(BATCH);
            // Only anonymous pages are in `self`.
            let mine = pin(log, mm, addr, &mut pages[..n], true)?;
            let at = |i: usize| addr + i as u64 * PAGE;
            let found = mine
                .pages
                .iter()
                .enumerate()
                .find_map(|(i, p)| accept(self.find(p.as_ref()?, mm)?, at(i)));
            if found.is_some() {
                return Ok(found);
            }
            addr += n as u64 * PAGE;
            crate::resched();
        }
        Ok(None)
    }
}

/// The address space whose mappings are being written, its objref, and the pages written so
/// far that others may share.
pub(super) struct Writing<'a> {
    pub(super) mm: &'a MmWithUser,
    pub(super) objref: u32,
    pub(super) cow: &'a mut CowPages,
}

/// What a mapping being written is a copy of.
pub(super) enum Source<'a> {
    /// Nothing: restart makes it anew.
    Own,
    /// The relative's mapping at the same addresses, which restart copies with its pages.
    Copy(Relative<'a>),
    /// A relative's mapping that one of the two moved since the fork, which restart copies
    /// without its pages (`Vma.copy_from`).
    Moved,
}

/// Writes the present, non-zero pages of a private mapping `area`; of a file mapping only
/// those written to (anonymous copies, even of zeros), the others come from the file again.
///
/// For a mapping copied from a relative's mapping (`Vma.copy_of`), those it shares with an
/// address space written earlier (`CowPages`) are named, not written; of a copy at the same
/// addresses, only the pages that differ from those of that mapping: those of its own, those
/// it no longer has, and those it shares with another.
pub(super) fn dump_private(
    d: &mut Dumper<'_>,
    w: &mut Writing<'_>,
    area: &Area,
    pages: &mut [Option<PageRef>],
    mut from: Source<'_>,
) -> Result {
    let (vma, written_only) = (&area.rec, area.rec.kind == abi::VMA_KIND_FILE);
    let mut acts = [PageAct::Skip; BATCH];
    let has = |p: Option<&PageRef>| p.is_some_and(|p| restored_data(p, written_only));
    // Anonymous, and maybe mapped by another process too: fork(2) clears the exclusive bit
    // of the pages it shares.
    let shared = |p: &PageRef| p.is_anon() && !p.is_anon_exclusive();
    // The same page, or both none.
    let same =
        |a: Option<&PageRef>, b: Option<&PageRef>| a.map(PageRef::as_ptr) == b.map(PageRef::as_ptr);
    // Only a copy links to the anon_vmas of its relatives.
    let copy = !matches!(from, Source::Own);
    let mut added = false;
    let mut addr = vma.start;
    while addr < vma.end {
        let n = (((vma.end - addr) / PAGE) as usize).min(BATCH);
        // Of a file mapping, only the anonymous pages count: those of the page cache are
        // neither written nor told apart.
        let mine = pin(d.log, w.mm, addr, &mut pages[..n], written_only)?;
        let theirs = match &mut from {
            Source::Copy(from) => from.pin(d.log, addr, n, written_only)?,
            _ => None,
        };
        for (i, act) in acts[..n].iter_mut().enumerate() {
            let (c, at) = (mine.pages[i].as_ref(), addr + i as u64 * PAGE);
            *act = match page_in(&theirs, i) {
                // The very page: it is shared copy-on-write, or both have none.
                Some(p) if same(c, p) => PageAct::Skip,
                _ if has(c) => PageAct::Data,
                Some(p) if has(p) => PageAct::Drop,
                _ => PageAct::Skip,
            };
            // Data that is not the source's, but maybe another relative's. Not one of zeros:
            // a relative skipped it too, and has none to share.
            if let Some(c) = c.filter(|&c| *act == PageAct::Data && shared(c)) {
                match w.cow.find(c, w.mm) {
                    // Zero is no address in the image: the same.
                    Some(by) if copy && (by.addr != 0 || at == 0) => {
                        *act = PageAct::Share(by.objref, by.addr)
                    }
                    Some(_) => {}
                    None => {
                        added |= w.cow.add(
                            c,
                            Writer {
                                objref: w.objref,
                                mm: w.mm.as_raw() as usize,
                                addr: at,
                            },
                        )?
                    }
                }
            }
        }
        drop(theirs);
        write_runs(d, addr, mine.pages, &acts[..n])?;
        drop(mine);
        addr += n as u64 * PAGE;
        crate::resched();
    }
    match added {
        true => w.cow.add_root(area.root),
        false => Ok(()),
    }
}

/// Streams a `PageRun`'s pages into the mapping `v`, where the runs before it ended at
/// `next`: runs go up and do not overlap, so that a mapping costs restart no more work than
/// its size, whatever the image holds.
pub(super) fn fill(
    r: &mut Restorer<'_, Obj>,
    rec: Rec,
    v: &abi::Vma,
    target: &Target,
    next: &mut u64,
    bounce: &mut Bounce,
) -> Result {
    let run = r.decode::<abi::PageRun>(rec)?;
    let len = u64::from(run.npages) * PAGE;
    let (dropped, shared) = (
        run.flags == abi::PAGE_RUN_DROP,
        run.flags == abi::PAGE_RUN_SHARE,
    );
    let known = matches!(run.flags, 0 | abi::PAGE_RUN_DROP | abi::PAGE_RUN_SHARE);
    if !known
        || (dropped || shared) && v.copy_of == 0
        || (run.from != 0) != shared
        || run.from_addr != 0 && !shared
    {
        return Err(r.bad("page run flags"));
    }
    if run.addr % PAGE != 0
        || run.npages == 0
        || run.npages > abi::PAGES_PER_RECORD
        || run.addr < v.start.max(*next)
        || run.addr.checked_add(len).map_or(true, |e| e > v.end)
        || matches!(target, Target::None)
    {
        return Err(r.bad("page run outside its mapping, or not after the one before"));
    }
    if run.from_addr % PAGE != 0 || run.from_addr.checked_add(len).is_none() {
        return Err(r.bad("pages shared from an unaligned address, or past the last"));
    }
    *next = run.addr + len;
    if dropped {
        // A copied mapping is not locked.
        let dropped =
            current_mm()?.madvise(run.addr as usize, len as usize, bindings::MADV_DONTNEED);
        if let Err(e) = dropped {
            log!(
                r.log,
                "pages at {:#x}: cannot drop them ({})",
                run.addr,
                e.to_errno()
            );
        }
        return dropped;
    }
    if shared {
        return share(r, &run, v, target, bounce);
    }
    if r.expect_raw(RecordType::Pages)? != len {
        return Err(r.bad("page data length differs from its run"));
    }
    if r.maps_image() && mapped_from_image(v, run.npages) {
        return r.map_raw_user(
            run.addr as usize,
            len as usize,
            v.prot & 7,
            v.flags & abi::VMA_NORESERVE != 0,
        );
    }
    // Straight into the new pages, but those of a mapping that cannot be read back (the
    // checksum is taken from them).
    if matches!(target, Target::User) && v.prot & bindings::PROT_READ != 0 {
        return r.read_raw_user(run.addr as usize, len as usize);
    }
    let buf = bounce.get()?;
    let mut done = 0u64;
    while done < len {
        let n = ((len - done) as usize).min(buf.len());
        let chunk = &mut buf[..n];
        r.read_raw(chunk)?;
        put(r, v, target, run.addr + done, chunk)?;
        done += n as u64;
    }
    Ok(())
}

/// Whether restart by mapping (`RESTART_MAP`) maps a run of `npages` pages of mapping `v` from
/// the image rather than reading them: in memory of its own (not a copy of a relative's) that
/// holds nothing a file mapping would lose or change, which is not the stack (its lowest
/// mapping must be the one that grows), nor executable, nor any mapping with a flag of its
/// own (locked, named, with madvise(2) advice: a mapping of the image would not keep it). A
/// short run is read: each run mapped is a mapping of its own.
fn mapped_from_image(v: &abi::Vma, npages: u32) -> bool {
    /// Pages a run must have to be mapped: 64 KiB.
    const MIN_PAGES: u32 = 16;
    const PLAIN: u64 = abi::VMA_READ
        | abi::VMA_WRITE
        | abi::VMA_MAYREAD
        | abi::VMA_MAYWRITE
        | abi::VMA_MAYEXEC
        | abi::VMA_NORESERVE;
    npages >= MIN_PAGES
        && v.copy_of == 0
        && matches!(v.kind, abi::VMA_KIND_ANON | abi::VMA_KIND_HEAP)
        && v.flags & !PLAIN == 0
        && v.prot & bindings::PROT_EXEC == 0
}

/// A buffer for the pages that cannot be read where they go, allocated when the first comes:
/// most processes have none.
#[derive(Default)]
pub(super) struct Bounce(Option<KVec<u8>>);

impl Bounce {
    /// Bytes moved at a time.
    const LEN: usize = 64 * 1024;

    fn get(&mut self) -> Result<&mut [u8]> {
        let buf = match &mut self.0 {
            Some(buf) => buf,
            none => none.insert(KVec::from_elem(0u8, Self::LEN, GFP_KERNEL)?),
        };
        Ok(buf)
    }
}

/// Writes `bytes` at `addr` of the mapping `v`.
fn put(
    r: &Restorer<'_, Obj>,
    v: &abi::Vma,
    target: &Target,
    addr: u64,
    bytes: &mut [u8],
) -> Result {
    let n = bytes.len();
    let ok = match target {
        Target::User => UserSlice::new(addr as usize, n)
            .writer()
            .write_slice(bytes)
            .is_ok(),
        Target::Forced => {
            // Copies on write, as ptrace does.
            let flags = bindings::FOLL_WRITE | bindings::FOLL_FORCE;
            current_mm()?.access_vm(addr as usize, bytes, flags) == n
        }
        Target::Object(file, base) => {
            let pos = (base + addr - v.start) as i64;
            file.file().write_at(bytes, pos) == Ok(n)
        }
        Target::None => false,
    };
    if !ok {
        log!(
            r.log,
            "pages at {addr:#x}: cannot write them into the new address space"
        );
        return Err(EFAULT);
    }
    Ok(())
}

/// Shares again the pages of a `PAGE_RUN_SHARE` run with the address space `run.from`,
/// restored earlier, which has them at `run.from_addr` (or else at the same addresses), or
/// copies their contents from it where the kernel cannot share them.
fn share(
    r: &mut Restorer<'_, Obj>,
    run: &abi::PageRun,
    v: &abi::Vma,
    target: &Target,
    bounce: &mut Bounce,
) -> Result {
    let Some(source) = shared::restored::<MmWithUser>(r, run.from) else {
        return Err(r.bad("pages shared with what is not an address space restored earlier"));
    };
    super::refuse_mapped(r, run.from)?;
    if source.as_raw() == current_mm()?.as_raw() {
        return Err(r.bad("pages shared with the address space they are in"));
    }
    let end = run.addr + u64::from(run.npages) * PAGE;
    // Where the source has the page at `at` (checked: no overflow).
    let src = |at: u64| {
        at - run.addr
            + if run.from_addr != 0 {
                run.from_addr
            } else {
                run.addr
            }
    };
    let mut at = run.addr;
    while at < end {
        // The source is restart's own, and its tasks wait off the CPU.
        match source.share_pages_with_current(at as usize, end as usize, src(at) as usize) {
            // Short where the source's mapping ends (it may have split its own since): the
            // rest may be in the next one.
            Ok(n) if n > 0 => {
                at += n as u64;
                continue;
            }
            Ok(_) => {}
            Err(e) if e == EINVAL => {
                return Err(r.bad("pages shared outside one copied mapping of private memory"));
            }
            Err(e) => {
                log!(
                    r.log,
                    "pages at {at:#x}: cannot share them ({})",
                    e.to_errno()
                );
                return Err(e);
            }
        }
        // One the kernel cannot share (maybe pinned, or in a huge page): its contents.
        let page = &mut bounce.get()?[..PAGE as usize];
        // Read as ptrace would.
        let got = source.access_vm(src(at) as usize, page, bindings::FOLL_FORCE);
        if got != PAGE as usize {
            return Err(r.bad("pages shared with an address space that does not map them"));
        }
        put(r, v, target, at, page)?;
        at += PAGE;
        crate::resched();
    }
    Ok(())
}
