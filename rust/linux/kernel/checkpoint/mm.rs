// SPDX-License-Identifier: GPL-2.0

//! Address spaces: mappings, their pages, the vDSO and the mm fields (x86_64, 4 KiB pages).
//!
//! Pages are written only where they carry data: present, non-zero pages of private
//! mappings (for a private file mapping only those written to, the others are read again from
//! the file), and the page cache of shared anonymous memory. Restart builds a new mm in the
//! restored task itself, maps every area at its address, and streams the pages into it.
//!
//! A process's private pages that fork(2) left shared copy-on-write with its parent's are
//! shared again: its mm is written as a copy of the parent's, with only the pages that differ
//! in the mappings the copy has as they are, and restart builds it as fork does, from the
//! parent's restored mm, then changes what differs.

use crate::files::{self, FileRef, Names};
use crate::image::{Dumper, Rec, Restorer};
use crate::shared::{self, Shareable};
use crate::{abi, abi::Record, abi::RecordType, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::mm::{self, page::PageRef, virt::VmaRef, Layout, MmWithUser, MmapReadGuard, NewMm};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::task::Task;
use kernel::types::ARef;
use kernel::uaccess::UserSlice;

const PAGE: u64 = kernel::page::PAGE_SIZE as u64;
/// Pages pinned at a time while dumping.
const BATCH: usize = 512;
/// Bytes moved at a time while restoring pages.
pub(crate) const CHUNK: usize = 64 * 1024;

/// `vm_flags` bits and their image counterparts.
const FLAG_MAP: [(u64, u64); 20] = [
    (bindings::VM_READ as u64, abi::VMA_READ),
    (bindings::VM_WRITE as u64, abi::VMA_WRITE),
    (bindings::VM_EXEC as u64, abi::VMA_EXEC),
    (bindings::VM_SHARED as u64, abi::VMA_SHARED),
    (bindings::VM_MAYREAD as u64, abi::VMA_MAYREAD),
    (bindings::VM_MAYWRITE as u64, abi::VMA_MAYWRITE),
    (bindings::VM_MAYEXEC as u64, abi::VMA_MAYEXEC),
    (bindings::VM_MAYSHARE as u64, abi::VMA_MAYSHARE),
    (bindings::VM_GROWSDOWN as u64, abi::VMA_GROWSDOWN),
    (bindings::VM_LOCKED as u64, abi::VMA_LOCKED),
    (bindings::VM_DONTCOPY as u64, abi::VMA_DONTCOPY),
    (bindings::VM_DONTEXPAND as u64, abi::VMA_DONTEXPAND),
    (bindings::VM_NORESERVE as u64, abi::VMA_NORESERVE),
    (bindings::VM_DONTDUMP as u64, abi::VMA_DONTDUMP),
    (bindings::VM_WIPEONFORK as u64, abi::VMA_WIPEONFORK),
    (bindings::VM_HUGEPAGE as u64, abi::VMA_HUGEPAGE),
    (bindings::VM_NOHUGEPAGE as u64, abi::VMA_NOHUGEPAGE),
    (bindings::VM_RAND_READ as u64, abi::VMA_RAND_READ),
    (bindings::VM_SEQ_READ as u64, abi::VMA_SEQ_READ),
    (bindings::VM_MERGEABLE as u64, abi::VMA_MERGEABLE),
];

fn image_flags(vm_flags: u64) -> u64 {
    FLAG_MAP
        .iter()
        .filter(|(k, _)| vm_flags & k != 0)
        .fold(0, |acc, (_, i)| acc | i)
}

impl Shareable for MmWithUser {
    const BAD: &'static str = "address space written twice, or an objref that names another object";

    fn current() -> Result<ARef<Self>> {
        current_mm()
    }

    fn install(&self) -> Result {
        self.share_with_current()
    }

    shared::in_obj!(Mm);
}

/// One mapping of the plan.
struct Area {
    rec: abi::Vma,
    file: Option<FileRef>,
    /// The root of its tree of anon_vmas, only compared: mappings that may map the same
    /// anonymous page have the same. Zero for one without anonymous pages.
    root: usize,
}

/// The mapping of an earlier address space that a mapping is written as a copy of; if one
/// of the two moved its mapping with mremap(2) since the fork, `from`, the address there of
/// what the copy has at its start.
struct Copy<'a> {
    source: &'a MmPlan,
    within: &'a Area,
    from: Option<u64>,
}

/// A frozen task's address space, taken and checked before anything is written.
pub(crate) struct MmPlan {
    mm: ARef<MmWithUser>,
    areas: KVec<Area>,
    exe: Option<FileRef>,
    /// Whether the address space is written here, or was with another process that shares
    /// it.
    first: bool,
}

impl MmPlan {
    /// Lists the mappings of the frozen `task`; `EOPNOTSUPP` (and a log line naming the
    /// address) for one that cannot be saved, or whose file has no name in `names`. Unless it
    /// is the `first` process with this address space, it is only named: its mappings were
    /// listed with the first.
    pub(crate) fn new(log: &Log, names: &mut Names, task: &Task, first: bool) -> Result<MmPlan> {
        let Some(mm) = task.mm() else {
            log!(log, "pid {}: has no address space", task.vnr());
            return Err(EOPNOTSUPP);
        };
        if !first {
            return Ok(MmPlan {
                mm,
                areas: KVec::new(),
                exe: None,
                first,
            });
        }
        let exe = mm.exe_file().map(FileRef::from);
        if let Some(f) = &exe {
            names.check(log, task, format_args!("executable"), f)?;
        }
        if mm.flags() & MmFlags::MERGE_ANY != 0 {
            log!(
                log,
                "pid {}: KSM merges all its memory (PR_SET_MEMORY_MERGE): not supported",
                task.vnr()
            );
            return Err(EOPNOTSUPP);
        }
        // mlockall(MCL_FUTURE): restart does not lock the mappings the process makes next.
        let locked = (bindings::VM_LOCKED | bindings::VM_LOCKONFAULT) as u64;
        if mm.mmap_read_lock().def_flags() & locked != 0 {
            log!(
                log,
                "pid {}: locks its future mappings (mlockall(MCL_FUTURE), not restored yet)",
                task.vnr()
            );
            return Err(EOPNOTSUPP);
        }
        // Not logged under the mmap lock: the log may be a pipe the caller reads into memory.
        let refused = mm.mmap_read_lock().checkpoint_refusal();
        if let Some(why) = refused {
            log!(log, "pid {}: {why}", task.vnr());
            return Err(EOPNOTSUPP);
        }
        let mut areas = KVec::new();
        let mut addr = 0u64;
        loop {
            let area = {
                let mmap = mm.mmap_read_lock();
                mmap.find_vma(addr as usize).map(|vma| classify(&mmap, vma))
            };
            let area = match area {
                None => break,
                Some(Ok(area)) => area,
                // Logged only now: the log may be a pipe, and a write to it must not wait
                // with the mmap lock held.
                Some(Err(Refused {
                    start,
                    end,
                    what,
                    file,
                })) => {
                    match file {
                        Some(f) => log!(
                            log,
                            "pid {}: mapping {start:#x}-{end:#x}: {what} is not supported ({})",
                            task.vnr(),
                            files::Shown::of(&f)
                        ),
                        None => log!(
                            log,
                            "pid {}: mapping {start:#x}-{end:#x}: {what} is not supported",
                            task.vnr()
                        ),
                    }
                    return Err(EOPNOTSUPP);
                }
            };
            if let (Some(f), abi::VMA_KIND_FILE) = (&area.file, area.rec.kind) {
                names.check(
                    log,
                    task,
                    format_args!("mapping {:#x}-{:#x}", area.rec.start, area.rec.end),
                    f,
                )?;
            }
            // A flock or OFD lock lasts as long as its file, which a mapping may hold alone.
            if let Some(kind) = area.file.as_ref().and_then(|f| f.lock(None)) {
                let (start, end) = (area.rec.start, area.rec.end);
                log!(log, "pid {}: mapping {start:#x}-{end:#x}: its file holds a {kind} file lock (file locks are not restored yet)", task.vnr());
                return Err(EOPNOTSUPP);
            }
            addr = area.rec.end;
            areas.push(area, GFP_KERNEL)?;
        }
        Ok(MmPlan {
            mm,
            areas,
            exe,
            first,
        })
    }

    /// Writes the `Vma` record `rec`, and the name of the mapping after it if it has one.
    fn write_vma(&self, d: &mut Dumper<'_>, rec: &abi::Vma) -> Result {
        d.record(rec)?;
        if rec.flags & abi::VMA_ANON_NAME == 0 {
            return Ok(());
        }
        let mut name = [0u8; ANON_NAME_MAX];
        let len = {
            let mmap = self.mm.mmap_read_lock();
            // The frozen tasks cannot change the mapping.
            let s = mmap
                .vma_lookup(rec.start as usize)
                .filter(|vma| vma.start() as u64 == rec.start)
                .and_then(VmaRef::anon_name)
                .map(CStr::as_bytes);
            let n = s.map_or(0, |s| s.len().min(name.len()));
            name[..n].copy_from_slice(&s.unwrap_or(&[])[..n]);
            s.map(|s| s.len())
        };
        match len {
            Some(n) if n < ANON_NAME_MAX => d.string(&name[..n]),
            // Its tasks are frozen: the mapping and its name cannot have changed.
            _ => {
                log!(
                    d.log,
                    "mapping {:#x}-{:#x}: its name changed while frozen",
                    rec.start,
                    rec.end
                );
                Err(EAGAIN)
            }
        }
    }

    /// The mapping of `source` that fork(2) would have copied into `area` of this address
    /// space (`fork_copies()`). `area` may have been cut from it since, or it grown around
    /// `area`; or, as restart_copy_vma() finds it, memory at the end of `area` or at its
    /// start that `area` grew past (a stack, a heap).
    fn copy_source<'a>(&self, source: &'a MmPlan, area: &Area) -> Option<&'a Area> {
        let a = &area.rec;
        // The mapping of `source` at the start of `area`, else the one at its end.
        let i = match source.areas.binary_search_by_key(&a.start, |p| p.rec.start) {
            Ok(i) => i,
            Err(i) => match i.checked_sub(1) {
                Some(j) if source.areas[j].rec.end > a.start => j,
                _ => i,
            },
        };
        let (s, b) = (source.areas.get(i)?, &source.areas.get(i)?.rec);
        // Only memory grows, on one side.
        let grown = a.start < b.start || a.end > b.end;
        if b.start >= a.end || a.start < b.start && a.end > b.end || grown && s.file.is_some() {
            return None;
        }
        fork_copies(area, s, a.start).then_some(s)
    }

    /// The mapping of `source` that `area` of this address space is a part of, moved with
    /// mremap(2) since the fork (by either): the one that covers `from` to `from` plus
    /// `area`'s size, if fork(2) would have copied it into `area` (`fork_copies()`); or, for
    /// memory, that `area` grew past the end of as it moved (a realloc() to a larger size).
    fn moved_source<'a>(&self, source: &'a MmPlan, area: &Area, from: u64) -> Option<&'a Area> {
        let s = source
            .areas
            .get(source.areas.partition_point(|p| p.rec.end <= from))?;
        let end = from.checked_add(area.rec.end - area.rec.start)?;
        let covered = end <= s.rec.end || area.file.is_none();
        (s.rec.start <= from && covered && fork_copies(area, s, from)).then_some(s)
    }

    /// For each mapping, which address space written earlier it is written as a copy of, if
    /// any, and that one's mapping: of `sources`, the first that fork(2) could have copied it
    /// from, the parent's before an elder sibling's. A copy links to the anon_vmas of every
    /// mapping up its chain: copies of the parent's keep chains as short as fork(2) made
    /// them, where a line of siblings each copied from the one before would grow them by one
    /// with each sibling. The pages a copy shares with another relative are named page by
    /// page (`CowPages`). Else, so that it can share its pages at all, the mapping of the
    /// address space, of those `relative` finds by its mm, that wrote the first page of the
    /// mapping shared with another (a cousin's, when the parents and the common ancestor
    /// unmapped theirs), wherever that has it: one of the two may have moved it with
    /// mremap(2) since the fork. `pages` has room to look for it. The mapping each copies
    /// starts at or above the end of the one copied before (restart copies each whole, then
    /// trims it; a moved copy is made as it is).
    fn copy_sources<'a>(
        &self,
        log: &Log,
        sources: &[&'a MmPlan],
        relatives: (&CowPages, &dyn Fn(usize) -> Option<&'a MmPlan>),
        pages: &mut [Option<PageRef>],
    ) -> Result<KVec<Option<Copy<'a>>>> {
        let (cow, relative) = relatives;
        let mut chosen = KVec::with_capacity(self.areas.len(), GFP_KERNEL)?;
        let mut floor = 0;
        for area in self.areas.iter() {
            let fits = |source: &'a MmPlan, from: Option<u64>| {
                let (within, start) = match from {
                    // The copy starts at the lower of the two starts.
                    None => self
                        .copy_source(source, area)
                        .map(|w| (w, w.rec.start.min(area.rec.start)))?,
                    Some(at) => (self.moved_source(source, area, at)?, area.rec.start),
                };
                (start >= floor).then_some(Copy {
                    source,
                    within,
                    from,
                })
            };
            let mut best = sources.iter().find_map(|&source| fits(source, None));
            if best.is_none() && is_private(&area.rec) {
                // The same writer and shift, page after page: tried once.
                let mut tried = None;
                best = cow.first_shared(log, &self.mm, area, pages, |w, at| {
                    // Where the writer has what this mapping has at its start; zero, in the
                    // image, is not moved.
                    let from = w.addr.checked_sub(at - area.rec.start)?;
                    if tried.replace((w.mm, from)) == Some((w.mm, from)) {
                        return None;
                    }
                    match from {
                        from if from == area.rec.start => fits(relative(w.mm)?, None),
                        0 => None,
                        from => fits(relative(w.mm)?, Some(from)),
                    }
                })?;
            }
            if best.is_some() {
                floor = area.rec.end;
            }
            chosen.push(best, GFP_KERNEL)?;
        }
        Ok(chosen)
    }

    /// Writes the files it maps, then the `Mm` record, its mappings with their pages, and the
    /// saved auxiliary vector.
    ///
    /// Only the `Mm` record, naming it, for an address space already written with another
    /// process that shares it.
    ///
    /// `sources` are address spaces written earlier that fork(2) may have copied this one's
    /// mappings from (at most two: the parent's, an elder sibling's): a mapping that one of
    /// them has as fork(2) left it is written as a copy of it, with only the pages that
    /// differ, so that restart shares the others again. Of those, the pages it shares with
    /// another address space written earlier are named by `cow`. `relative` finds the plan
    /// of an address space written earlier by its mm.
    pub(crate) fn dump<'a>(
        &mut self,
        d: &mut Dumper<'_>,
        names: &mut Names,
        shared: &mut SharedObjects,
        cow: &mut CowPages,
        sources: &[&'a MmPlan],
        relative: &dyn Fn(usize) -> Option<&'a MmPlan>,
    ) -> Result {
        if !self.first {
            let (objref, _) = d.objref(self.mm.as_raw())?;
            return d.record(&abi::Mm {
                objref,
                ..Default::default()
            });
        }
        let exe_file = match &self.exe {
            Some(f) => files::dump_file(d, names, f)?,
            None => 0,
        };
        for area in self.areas.iter_mut() {
            match &area.file {
                Some(f) if area.rec.kind == abi::VMA_KIND_FILE => {
                    area.rec.file = files::dump_file(d, names, f)?;
                }
                _ => {}
            }
        }
        let (objref, _) = d.objref(self.mm.as_raw())?;
        let (mut rec, auxv) = {
            let mmap = self.mm.mmap_read_lock();
            let layout = mmap.layout();
            // The (type, value) pairs up to and including AT_NULL.
            let mut auxv = [0u8; bindings::AT_VECTOR_SIZE as usize * 8];
            let mut n = 0;
            for pair in layout.auxv.chunks_exact(2) {
                for (i, &w) in pair.iter().enumerate() {
                    auxv[8 * (n + i)..8 * (n + i + 1)].copy_from_slice(&w.to_le_bytes());
                }
                n += 2;
                if pair[0] == 0 {
                    break;
                }
            }
            let rec = abi::Mm {
                objref,
                vma_count: 0,
                start_code: layout.code.start as u64,
                end_code: layout.code.end as u64,
                start_data: layout.data.start as u64,
                end_data: layout.data.end as u64,
                start_brk: layout.brk.start as u64,
                brk: layout.brk.end as u64,
                start_stack: layout.start_stack as u64,
                arg_start: layout.args.start as u64,
                arg_end: layout.args.end as u64,
                env_start: layout.env.start as u64,
                env_end: layout.env.end as u64,
                mmap_base: layout.mmap_base as u64,
                vdso: mmap.vdso() as u64,
                exe_file,
                auxv_words: n as u32,
                ..MmFlags::save(self.mm.flags())
            };
            (rec, (auxv, 8 * n))
        };
        rec.vma_count = self.areas.len() as u32;
        let mut pages = KVec::from_elem(None, BATCH, GFP_KERNEL)?;
        let mut theirs = KVec::new();
        // A source written only by name has no mappings listed: nothing is copied from it.
        let copied = self.copy_sources(d.log, sources, (cow, relative), &mut pages)?;
        if theirs.is_empty() && copied.iter().any(Option::is_some) {
            theirs = KVec::from_elem(None, BATCH, GFP_KERNEL)?;
        }
        d.record(&rec)?;
        let mut writer = Writing {
            mm: &self.mm,
            objref,
            cow,
        };
        // The copied mappings first: restart copies each whole, trims it, then unmaps what is
        // left of the last before it maps anything else.
        for (area, c) in self.areas.iter().zip(copied.iter()) {
            let Some(c) = c else { continue };
            let source = c.source;
            let copy_from = c.from.unwrap_or(0);
            let rec = abi::Vma {
                copy_of: written(d, &source.mm)?,
                copy_from,
                ..area.rec
            };
            self.write_vma(d, &rec)?;
            let from = match c.from {
                None => Source::Copy(Relative {
                    mm: &source.mm,
                    within: (c.within.rec.start, c.within.rec.end),
                    pages: &mut theirs[..],
                }),
                Some(_) => Source::Moved,
            };
            dump_private(d, &mut writer, area, &mut pages, from)?;
        }
        for (area, _) in self
            .areas
            .iter()
            .zip(copied.iter())
            .filter(|(_, k)| k.is_none())
        {
            let mut rec = area.rec;
            match (rec.kind, &area.file) {
                (abi::VMA_KIND_SHARED_ANON, Some(file)) => {
                    let written = shared.name(d, file, &mut rec)?;
                    self.write_vma(d, &rec)?;
                    dump_cached(d, &rec, file, &mut pages, written)?;
                }
                (abi::VMA_KIND_SHARED_ANON, None) => return Err(EINVAL),
                (abi::VMA_KIND_VDSO | abi::VMA_KIND_VVAR, _) => self.write_vma(d, &rec)?,
                (abi::VMA_KIND_FILE, _) if rec.flags & abi::VMA_MAYSHARE != 0 => {
                    self.write_vma(d, &rec)?
                }
                _ => {
                    self.write_vma(d, &rec)?;
                    dump_private(d, &mut writer, area, &mut pages, Source::Own)?;
                }
            }
        }
        let (bytes, len) = auxv;
        d.raw(RecordType::Auxv, &bytes[..len])
    }
}

/// Whether a mapping is private memory, of its own or a file's: fork(2) shares its pages
/// copy-on-write.
fn is_private(v: &abi::Vma) -> bool {
    matches!(
        v.kind,
        abi::VMA_KIND_ANON | abi::VMA_KIND_HEAP | abi::VMA_KIND_STACK | abi::VMA_KIND_FILE
    ) && v.flags & abi::VMA_MAYSHARE == 0
}

/// Whether fork(2) would have copied the mapping `s` into `area` with its pages, the start
/// of `area` at `at` in `s`: a private mapping with the same flags, protection and file, at
/// the same offset in that file, that fork(2) copies with its pages (not one it skips, wipes
/// or unlocks, nor one KSM merges), and in the same tree of anon_vmas if `area` has one (not
/// one made there since by another mapping).
fn fork_copies(area: &Area, s: &Area, at: u64) -> bool {
    let (a, b) = (&area.rec, &s.rec);
    let copied = a.flags
        & (abi::VMA_DONTCOPY | abi::VMA_WIPEONFORK | abi::VMA_LOCKED | abi::VMA_MERGEABLE)
        == 0;
    let file = match (&area.file, &s.file) {
        (Some(f), Some(g)) => {
            f.as_ptr() == g.as_ptr() && at >= b.start && a.pgoff == b.pgoff + (at - b.start) / PAGE
        }
        (None, None) => true,
        _ => false,
    };
    let related = area.root == 0 || area.root == s.root;
    is_private(a)
        && copied
        && file
        && related
        && (a.flags, a.prot, a.kind) == (b.flags, b.prot, b.kind)
}

/// The objref of `mm`, an address space written earlier.
fn written(d: &mut Dumper<'_>, mm: &MmWithUser) -> Result<u32> {
    let (objref, first) = d.objref(mm.as_raw())?;
    if first {
        log!(d.log, "mm: a mapping's source is not in the image yet");
        return Err(EINVAL);
    }
    Ok(objref)
}

/// Room for a mapping's name (PR_SET_VMA_ANON_NAME takes at most 79 bytes), and its NUL.
const ANON_NAME_MAX: usize = 80;

/// Calls `f` with every mapping of the frozen `task`'s address space, under its mmap lock;
/// returns its executable file (or NULL), `None` if it has no address space. The pointers are
/// only good for comparing and counting: the task's mappings cannot change while it is
/// frozen, other users' references can.
pub(crate) fn walk(task: &Task, f: impl FnMut(&VmaRef)) -> Option<*mut bindings::file> {
    let mm = task.mm()?;
    let mmap = mm.mmap_read_lock();
    mmap.vmas().for_each(f);
    Some(mmap.exe_file_ptr())
}

/// A mapping checkpoint cannot save: its bounds, and what it is.
struct Refused {
    start: u64,
    end: u64,
    what: &'static str,
    /// The mapped file, for the log line.
    file: Option<FileRef>,
}

/// Describes one mapping, or refuses it.
fn classify(mmap: &MmapReadGuard<'_>, vma: &VmaRef) -> core::result::Result<Area, Refused> {
    let (start, end, vm_flags) = (vma.start() as u64, vma.end() as u64, vma.flags());
    let vdso = mmap.vdso() as u64;
    let root = vma.anon_root();
    let refuse = |what| Refused {
        start,
        end,
        what,
        file: vma.file().map(FileRef::from),
    };
    let mut rec = abi::Vma {
        start,
        end,
        pgoff: vma.pgoff(),
        flags: image_flags(vm_flags),
        prot: (vm_flags & 7) as u32,
        kind: abi::VMA_KIND_ANON,
        file: 0,
        copy_of: 0,
        size: 0,
        copy_from: 0,
    };
    if vm_flags & bindings::VM_HUGETLB as u64 != 0 {
        return Err(refuse("a hugetlb mapping"));
    }
    if let Some(why) = vma.checkpoint_refusal() {
        return Err(refuse(why.to_str().unwrap_or("?")));
    }
    // Restart locks what was locked with MAP_LOCKED, which faults it all in.
    if vm_flags & bindings::VM_LOCKONFAULT as u64 != 0 {
        return Err(refuse("memory locked on fault (MLOCK_ONFAULT)"));
    }
    if vma.anon_name().is_some() {
        rec.flags |= abi::VMA_ANON_NAME;
    }
    if vdso != 0 && start == vdso {
        rec.kind = abi::VMA_KIND_VDSO;
        return Ok(Area {
            rec,
            file: None,
            root,
        });
    }
    let special = (bindings::VM_IO | bindings::VM_PFNMAP | bindings::VM_MIXEDMAP) as u64;
    if vdso != 0 && end == vdso && vma.file().is_none() && vm_flags & special != 0 {
        rec.kind = abi::VMA_KIND_VVAR;
        return Ok(Area {
            rec,
            file: None,
            root,
        });
    }
    if vm_flags & special != 0 {
        return Err(refuse("a device or special mapping"));
    }
    // Anonymous memory (a private /dev/zero mapping keeps its file but is anonymous).
    let mapped = vma
        .file()
        .filter(|_| !vma.is_anonymous() || vm_flags & bindings::VM_SHARED as u64 != 0);
    let Some(mapped) = mapped else {
        let brk = mmap.brk();
        let brk = (brk.start as u64, brk.end as u64);
        let stack = mmap.start_stack() as u64;
        if start < brk.1.max(brk.0 + 1) && end > brk.0 {
            rec.kind = abi::VMA_KIND_HEAP;
        } else if (start..end).contains(&stack) {
            rec.kind = abi::VMA_KIND_STACK;
        }
        return Ok(Area {
            rec,
            file: None,
            root,
        });
    };
    let file = FileRef::from(mapped);
    let inode = mapped.inode();
    let private_inode = inode.is_private();
    if private_inode && vm_flags & bindings::VM_MAYSHARE as u64 != 0 {
        // A SysV segment is an internal shmem file too, mapped by shmat() with ops of its
        // own: saved as anonymous memory it would come back detached from its segment.
        if !vma.is_anon_shmem() {
            return Err(refuse(
                "SysV shared memory (shmat) or another kernel object's memory",
            ));
        }
        rec.kind = abi::VMA_KIND_SHARED_ANON;
        return Ok(Area {
            rec,
            file: Some(file),
            root,
        });
    }
    if inode.file_type() != bindings::S_IFREG || private_inode {
        return Err(refuse("a mapping of something other than a regular file"));
    }
    rec.kind = abi::VMA_KIND_FILE;
    Ok(Area {
        rec,
        file: Some(file),
        root,
    })
}

/// Pages pinned by `get_user_pages_remote` or taken from the page cache, in a buffer that is
/// emptied on drop.
struct Pinned<'a> {
    pages: &'a mut [Option<PageRef>],
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
enum PageAct {
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
fn write_runs(
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
                    // SAFETY: the page of a frozen task, or of shared memory that only frozen
                    // tasks map (leak detection refuses other users): nothing in the tree
                    // writes it. A tracer outside it writing through /proc/PID/mem would race
                    // the copy, as it races a core dump's.
                    unsafe { page.with_bytes(|bytes| d.chunk(bytes)) }?;
                }
                d.raw_end()?;
            }
        }
        i = j;
    }
    Ok(())
}

/// Pins the pages of the frozen `mm` from `addr`, one for each entry of `pages`; `None` for a
/// hole or the zero page, which FOLL_DUMP does not fault in.
fn pin<'a>(
    log: &Log,
    mm: &MmWithUser,
    addr: u64,
    pages: &'a mut [Option<PageRef>],
) -> Result<Pinned<'a>> {
    let pinned = Pinned { pages };
    let mut i = 0;
    while i < pinned.pages.len() {
        let at = addr + i as u64 * PAGE;
        let rest = &mut pinned.pages[i..];
        // FOLL_DUMP fails with EFAULT for holes and zero pages instead of faulting them in.
        let flags = bindings::FOLL_DUMP | bindings::FOLL_FORCE;
        let n = mm.mmap_read_lock().get_user_pages(at as usize, flags, rest);
        match n {
            Err(e) if e == EFAULT => i += 1,
            Ok(n) if n > 0 => i += n,
            n => {
                let e = n.err().unwrap_or(EFAULT);
                log!(log, "reading the page at {at:#x} failed ({})", e.to_errno());
                return Err(e);
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
        pin(log, mm, lo, &mut pages[first..first + n])?,
    )))
}

/// The page at offset `i` of what `pin_within()` pinned, if that is in the mapping.
fn page_in<'a>(pinned: &'a Option<(usize, Pinned<'_>)>, i: usize) -> Option<Option<&'a PageRef>> {
    let (first, pinned) = pinned.as_ref()?;
    Some(pinned.pages.get(i.checked_sub(*first)?)?.as_ref())
}

/// A mapping of a relative's address space, written earlier, whose pages a copied mapping
/// may share; with room to pin `BATCH` of them.
struct Relative<'a> {
    mm: &'a MmWithUser,
    within: (u64, u64),
    pages: &'a mut [Option<PageRef>],
}

impl Relative<'_> {
    /// Pins its pages from `addr` that are in its mapping, as `pin_within()` does.
    fn pin(&mut self, log: &Log, addr: u64, n: usize) -> Result<Option<(usize, Pinned<'_>)>> {
        pin_within(log, self.mm, addr, &mut self.pages[..n], self.within)
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
struct Writer {
    objref: u32,
    mm: usize,
    addr: u64,
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
    fn first_shared<T>(
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
            let mine = pin(log, mm, addr, &mut pages[..n])?;
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
struct Writing<'a> {
    mm: &'a MmWithUser,
    objref: u32,
    cow: &'a mut CowPages,
}

/// What a mapping being written is a copy of.
enum Source<'a> {
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
fn dump_private(
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
        let mine = pin(d.log, w.mm, addr, &mut pages[..n])?;
        let theirs = match &mut from {
            Source::Copy(from) => from.pin(d.log, addr, n)?,
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
    fn name(
        &mut self,
        d: &mut Dumper<'_>,
        file: &FileRef,
        rec: &mut abi::Vma,
    ) -> Result<core::ops::Range<u64>> {
        // Only its frozen users can resize it.
        let (mapping, size) = (file.file().mapping(), file.inode().size() as u64);
        let (objref, first) = d.objref(mapping)?;
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
fn dump_cached(
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

/// madvise() behaviours that set the image's advice flags again. The huge page advice fails
/// (and the restart with it) on a kernel without transparent huge pages, KSM's without KSM.
const ADVICE: [(u64, u32); 8] = [
    (abi::VMA_DONTCOPY, bindings::MADV_DONTFORK),
    (abi::VMA_RAND_READ, bindings::MADV_RANDOM),
    (abi::VMA_SEQ_READ, bindings::MADV_SEQUENTIAL),
    (abi::VMA_DONTDUMP, bindings::MADV_DONTDUMP),
    (abi::VMA_WIPEONFORK, bindings::MADV_WIPEONFORK),
    (abi::VMA_HUGEPAGE, bindings::MADV_HUGEPAGE),
    (abi::VMA_NOHUGEPAGE, bindings::MADV_NOHUGEPAGE),
    (abi::VMA_MERGEABLE, bindings::MADV_MERGEABLE),
];

/// The current task's mm (the one being restored).
fn current_mm() -> Result<ARef<MmWithUser>> {
    MmWithUser::of_current().ok_or(EINVAL)
}

/// Where a restored mapping's pages go.
enum Target {
    /// Copied into user memory (writable private mappings).
    User,
    /// Written through a forced access (read-only or inaccessible private mappings).
    Forced,
    /// Written to the shared memory object behind the mapping, which starts at this offset
    /// of the object.
    Object(FileRef, u64),
    /// The mapping takes no pages (vDSO, shared file mappings).
    None,
}

/// Reads the name of a mapping into `name`, NUL-terminated.
fn read_anon_name(r: &mut Restorer<'_, Obj>, name: &mut [u8; ANON_NAME_MAX]) -> Result {
    let len = r.expect_raw(RecordType::String)? as usize;
    if len >= ANON_NAME_MAX {
        return Err(r.bad("mapping name longer than 79 bytes"));
    }
    r.read_raw(&mut name[..len])?;
    if name[..len].contains(&0) {
        return Err(r.bad("mapping name with a NUL byte"));
    }
    Ok(())
}

/// Gives the mapping `v`, just mapped, its name (NUL-terminated) if it has one, with
/// prctl()'s rules: EINVAL for a name it refuses, EBADF for a file mapping.
fn name_area(
    r: &mut Restorer<'_, Obj>,
    v: &abi::Vma,
    name: Option<&[u8; ANON_NAME_MAX]>,
) -> Result {
    let Some(name) = name else { return Ok(()) };
    let len = name.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    let name = CStr::from_bytes_with_nul(&name[..=len]).map_err(|_| EINVAL)?;
    let named = mm::set_anon_name(v.start as usize, (v.end - v.start) as usize, name);
    if let Err(e) = named {
        log!(
            r.log,
            "mapping {:#x}-{:#x}: PR_SET_VMA_ANON_NAME failed ({})",
            v.start,
            v.end,
            e.to_errno()
        );
    }
    named
}

/// Maps one `Vma` in the current task's new mm.
fn map_area(r: &mut Restorer<'_, Obj>, v: &abi::Vma, vdso: &mut VdsoPair) -> Result<Target> {
    let len = v.end.wrapping_sub(v.start);
    let task_size = current_mm()?.task_size();
    if v.start % PAGE != 0 || v.end % PAGE != 0 || v.start >= v.end || v.end > task_size {
        return Err(r.bad("mapping bounds"));
    }
    // madvise() makes them exclusive: a second one would silently win.
    let both = |a, b| v.flags & a != 0 && v.flags & b != 0;
    if both(abi::VMA_RAND_READ, abi::VMA_SEQ_READ) || both(abi::VMA_HUGEPAGE, abi::VMA_NOHUGEPAGE) {
        return Err(r.bad("mapping advised both ways (random and sequential, or huge pages)"));
    }
    let prot = u64::from(v.prot & 7);
    let mut flags = u64::from(bindings::MAP_FIXED_NOREPLACE);
    if v.flags & abi::VMA_NORESERVE != 0 {
        flags |= u64::from(bindings::MAP_NORESERVE);
    }
    // mlock()ed memory, within the restored RLIMIT_MEMLOCK (no higher than the restarter's
    // hard limit) unless the restarter has CAP_IPC_LOCK, as mmap() checks it: EAGAIN otherwise.
    if v.flags & abi::VMA_LOCKED != 0 {
        flags |= u64::from(bindings::MAP_LOCKED);
    }
    let shared = v.flags & abi::VMA_MAYSHARE != 0;
    let (file, target) = match v.kind {
        abi::VMA_KIND_VDSO | abi::VMA_KIND_VVAR => {
            map_vdso(r, v, vdso)?;
            return Ok(Target::None);
        }
        abi::VMA_KIND_ANON | abi::VMA_KIND_HEAP | abi::VMA_KIND_STACK if !shared => {
            flags |= u64::from(bindings::MAP_PRIVATE | bindings::MAP_ANONYMOUS);
            if v.flags & abi::VMA_GROWSDOWN != 0 {
                flags |= u64::from(bindings::MAP_GROWSDOWN);
            }
            let target = if prot & u64::from(bindings::PROT_WRITE) != 0 {
                Target::User
            } else {
                Target::Forced
            };
            (None, target)
        }
        abi::VMA_KIND_SHARED_ANON if shared && v.file == 0 => {
            // An older image: an object of its own, made by the mapping.
            flags |= u64::from(bindings::MAP_SHARED | bindings::MAP_ANONYMOUS);
            (None, Target::None)
        }
        abi::VMA_KIND_SHARED_ANON if shared => {
            let obj = shared_object(r, v, flags)?;
            flags |= u64::from(bindings::MAP_SHARED);
            (Some(obj.clone()), Target::Object(obj, v.pgoff * PAGE))
        }
        abi::VMA_KIND_FILE => {
            let Obj::File(f) = r.lookup(v.file)? else {
                return Err(r.bad("mapping names an object that is not a file"));
            };
            if f.rec.kind != abi::FILE_KIND_REGULAR {
                return Err(r.bad("mapping names a file that is not a regular one"));
            }
            if !f.unchanged() {
                log!(
                    r.log,
                    "mapping {:#x}-{:#x}: its file changed since the checkpoint",
                    v.start,
                    v.end
                );
                return Err(ESTALE);
            }
            let file = Some(f.file.clone());
            if shared {
                flags |= u64::from(bindings::MAP_SHARED);
                (file, Target::None)
            } else {
                flags |= u64::from(bindings::MAP_PRIVATE);
                (file, Target::Forced)
            }
        }
        _ => return Err(r.bad("mapping kind")),
    };
    let off = match file {
        None => 0,
        Some(_) => v
            .pgoff
            .checked_mul(PAGE)
            .ok_or_else(|| r.bad("file mapping offset"))?,
    };
    let file = file.as_ref().map(FileRef::file);
    let at = mm::vm_mmap(
        file,
        v.start as usize,
        len as usize,
        prot as usize,
        flags as usize,
        off as usize,
    );
    if at != Ok(v.start as usize) {
        let e = at.err().unwrap_or(EINVAL);
        log!(
            r.log,
            "mapping {:#x}-{:#x}: mmap failed ({})",
            v.start,
            v.end,
            e.to_errno()
        );
        return Err(e);
    }
    for (bit, advice) in ADVICE {
        if v.flags & bit != 0 {
            if let Err(e) = current_mm()?.madvise(v.start as usize, len as usize, advice) {
                log!(
                    r.log,
                    "mapping {:#x}-{:#x}: madvise({advice}) failed ({})",
                    v.start,
                    v.end,
                    e.to_errno()
                );
                return Err(e);
            }
        }
    }
    if v.kind == abi::VMA_KIND_SHARED_ANON && v.file == 0 {
        let file = file_at(v.start)?;
        return Ok(file.map_or(Target::None, |f| Target::Object(f, 0)));
    }
    Ok(target)
}

/// The file mapped at `start` in the current task, if a mapping starts there.
fn file_at(start: u64) -> Result<Option<FileRef>> {
    Ok(with_vma_at(start, |vma| vma.file().map(FileRef::from))?.flatten())
}

/// The shared memory object the mapping `v` shows: the one an earlier mapping in the image
/// made (in this process or another), or a new one of the saved size. `flags` carries the
/// mapping's `MAP_NORESERVE`, which decides how the object is accounted.
fn shared_object(r: &mut Restorer<'_, Obj>, v: &abi::Vma, flags: u64) -> Result<FileRef> {
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

/// Runs `f` on the current task's mapping that starts at `start`, with the mmap lock held;
/// `None` if no mapping starts there.
fn with_vma_at<R>(start: u64, f: impl FnOnce(&VmaRef) -> R) -> Result<Option<R>> {
    let mm = current_mm()?;
    let mmap = mm.mmap_read_lock();
    let vma = mmap.vma_lookup(start as usize);
    Ok(vma.filter(|vma| vma.start() as u64 == start).map(f))
}

/// Both huge page advice flags: madvise() never sets them together.
const MERGE_TAG: u64 = (bindings::VM_HUGEPAGE | bindings::VM_NOHUGEPAGE) as u64;

/// The neighbours of a mapping being made, tagged: the start of each, and the huge page
/// advice it had.
struct Tagged([Option<(u64, u64)>; 2]);

/// Tags the current task's mappings right below and right above `v`, but special ones (the
/// vDSO's), which never merge, with both huge page advice flags: no mapping restart makes has
/// both, so mmap and madvise cannot merge a neighbour into it. Mappings that were distinct
/// stay so, even where they differ only in what the image does not show (accounting,
/// anon_vma). The flags only steer khugepaged; [`untag`] gives them back.
fn tag_neighbours(v: &abi::Vma) -> Result<Tagged> {
    let mm = current_mm()?;
    let mut mmap = mm.mmap_write_lock_killable()?;
    let mut tagged = Tagged([None, None]);
    let below = v
        .start
        .checked_sub(1)
        .and_then(|a| mmap.find_vma(a as usize));
    let above = mmap.find_vma(v.end as usize);
    // Bounds, flags, and whether it is special (no file, but ops: the vDSO's).
    let found = [below, above].map(|vma| {
        vma.map(|r| {
            let special = r.file().is_none() && !r.is_anonymous();
            (r.start() as u64, r.end() as u64, r.flags(), special)
        })
    });
    for (i, (slot, vma)) in tagged.0.iter_mut().zip(found).enumerate() {
        let Some((start, end, flags, special)) = vma else {
            continue;
        };
        // With nothing right below `v`, `below` is the mapping above it, if any: only the
        // second pass tags that one.
        let touches = match i {
            0 => start < v.start && end == v.start,
            _ => start == v.end,
        };
        if touches && !special {
            *slot = Some((start, flags & MERGE_TAG));
            mmap.mod_hugepage_flags(start as usize, MERGE_TAG, 0);
        }
    }
    Ok(tagged)
}

/// Gives the neighbours [`tag_neighbours`] tagged their huge page advice back.
fn untag(tagged: Tagged) -> Result {
    let mm = current_mm()?;
    let mut mmap = mm.mmap_write_lock_killable()?;
    for (start, advice) in tagged.0.into_iter().flatten() {
        mmap.mod_hugepage_flags(start as usize, advice, MERGE_TAG & !advice);
    }
    Ok(())
}

/// Which halves of this kernel's vDSO pair, the text and the vvar pages below it, the image
/// lists: the first maps both, and a half it does not list (the process unmapped it) goes at
/// the end.
#[derive(Default)]
struct VdsoPair {
    text: bool,
    vvar: bool,
}

impl VdsoPair {
    /// Unmaps the half of the pair the image did not list.
    fn finish(&self) -> Result {
        if self.text == self.vvar {
            return Ok(());
        }
        // Set when the pair was mapped, with room for the vvar pages below it.
        let text = current_mm()?.mmap_read_lock().vdso() as u64;
        match self.text {
            true => unmap(text - vvar_size(), text),
            false => unmap(text, text + vdso_size()),
        }
    }
}

/// Maps this kernel's vDSO (and its vvar pages before it) at the saved address.
fn map_vdso(r: &mut Restorer<'_, Obj>, v: &abi::Vma, pair: &mut VdsoPair) -> Result {
    let vvar_len = vvar_size();
    let text = if v.kind == abi::VMA_KIND_VDSO {
        v.start
    } else {
        v.end
    };
    let expect_len = if v.kind == abi::VMA_KIND_VDSO {
        vdso_size()
    } else {
        vvar_len
    };
    // `map_area` checked `start < end`; the vvar area below the text must fit above 0.
    let base = match text.checked_sub(vvar_len) {
        Some(base) if v.end - v.start == expect_len => base,
        _ => {
            log!(
                r.log,
                "vdso mapping {:#x}-{:#x} differs from this kernel's",
                v.start,
                v.end
            );
            return Err(EINVAL);
        }
    };
    let mapped = pair.text || pair.vvar;
    let half = match v.kind == abi::VMA_KIND_VDSO {
        true => &mut pair.text,
        false => &mut pair.vvar,
    };
    if *half {
        log!(
            r.log,
            "vdso mapping {:#x}-{:#x}: listed twice",
            v.start,
            v.end
        );
        return Err(EINVAL);
    }
    *half = true;
    if mapped {
        // The pair is mapped: a later record may only describe its other half.
        let at = current_mm()?.mmap_read_lock().vdso() as u64;
        if at != text {
            log!(
                r.log,
                "vdso mapping {:#x}-{:#x}: a second vDSO",
                v.start,
                v.end
            );
            return Err(EINVAL);
        }
    } else {
        let mapped = mm::vdso::map_once(base as usize);
        let at = current_mm()?.mmap_read_lock().vdso() as u64;
        if mapped.is_err() || at != text {
            let e = mapped.err().unwrap_or(EINVAL);
            log!(r.log, "vdso: cannot map it at {text:#x} ({})", e.to_errno());
            return Err(e);
        }
    }
    Ok(())
}

/// Gives the current task a new, empty address space, as exec does, with `exe` (a file
/// [`may_be_exe`] accepted) as its executable.
///
/// A restored process starts in the restarter's address space (`CLONE_VM`): it first takes
/// an empty one, before it reads any record, so that nothing the image makes it open (say
/// `/proc/self/mem`) reaches the restarter's memory. It takes another for its `Mm` record.
pub(crate) fn install_new(log: &Log, exe: Option<&File>) -> Result {
    let mm = NewMm::new()?;
    // KSM's merge-any comes from the restarter (it survives exec): it would make every
    // mapping restored mergeable. The image never carries it (checkpoint refuses it).
    mm.set_init_flags(MmFlags::MERGE_ANY, 0)?;
    mm.install(exe)
        .inspect_err(|e| log!(log, "cannot install a new address space ({})", e.to_errno()))
}

/// The file of `f`, if it may become the restored mm's executable: what
/// `prctl(PR_SET_MM_EXE_FILE)` asks (a regular file, not on a noexec mount, that the caller
/// may execute). Otherwise any file the caller can open would be made unwritable for everyone
/// (`set_mm_exe_file()` denies writes) for as long as the restored process lives.
fn may_be_exe<'a>(log: &Log, f: &'a files::Restored) -> Result<&'a File> {
    let file = f.file.file();
    if let Err(e) = file.may_exec() {
        log!(
            log,
            "exe_file: not an executable file the caller may run ({})",
            e.to_errno()
        );
        return Err(e);
    }
    Ok(file)
}

/// Streams a `PageRun`'s pages into the mapping `v`, where the runs before it ended at
/// `next`: runs go up and do not overlap, so that a mapping costs restart no more work than
/// its size, whatever the image holds.
fn fill(
    r: &mut Restorer<'_, Obj>,
    rec: Rec,
    v: &abi::Vma,
    target: &Target,
    next: &mut u64,
    buf: &mut [u8],
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
        return share(r, &run, v, target, buf);
    }
    if r.expect_raw(RecordType::Pages)? != len {
        return Err(r.bad("page data length differs from its run"));
    }
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
    buf: &mut [u8],
) -> Result {
    let Some(source) = shared::restored::<MmWithUser>(r, run.from) else {
        return Err(r.bad("pages shared with what is not an address space restored earlier"));
    };
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
        let page = &mut buf[..PAGE as usize];
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

/// Restores an `Mm` and everything that follows it into a new mm for the current task.
pub(crate) fn restore(r: &mut Restorer<'_, Obj>, rec: Rec, buf: &mut [u8]) -> Result {
    let m = r.decode::<abi::Mm>(rec)?;
    if shared::join::<MmWithUser>(
        r,
        m.objref,
        m == abi::Mm {
            objref: m.objref,
            ..Default::default()
        },
    )? {
        return Ok(());
    }
    let exe = match m.exe_file {
        0 => None,
        e => match r.lookup(e)? {
            Obj::File(f) if f.rec.kind == abi::FILE_KIND_REGULAR => Some(may_be_exe(r.log, f)?),
            _ => return Err(r.bad("exe_file names an object that is not a file")),
        },
    };
    install_new(r.log, exe)?;
    shared::keep::<MmWithUser>(r, m.objref)?;
    let task_size = current_mm()?.task_size();
    let mut vdso = VdsoPair::default();
    // While copied mappings come: where what else the mm has is unmapped from (the rest of
    // the last mapping copied).
    let mut unmapped_to = Some(0u64);
    for _ in 0..m.vma_count {
        let v = r.expect::<abi::Vma>()?;
        let mut name = [0u8; ANON_NAME_MAX];
        let named = match v.flags & abi::VMA_ANON_NAME != 0 {
            true => Some(read_anon_name(r, &mut name)?),
            false => None,
        };
        let name = named.map(|()| &name);
        let target = match (v.copy_of, unmapped_to) {
            (0, _) if v.copy_from != 0 => return Err(r.bad("a new mapping copied from an address")),
            (0, from) => {
                // The mm holds only its copied mappings before another one is made.
                if let Some(from) = from {
                    unmap(from, task_size)?;
                    unmapped_to = None;
                }
                new_area(r, &v, name, &mut vdso)?
            }
            (c, Some(from)) => {
                let target = copy_area(r, &v, c, from, name)?;
                unmapped_to = Some(v.end);
                target
            }
            (_, None) => return Err(r.bad("copied mapping after the others")),
        };
        let mut next = v.start;
        loop {
            let rec = r.next()?;
            if rec.ty != abi::PageRun::TYPE {
                r.unread(rec);
                break;
            }
            fill(r, rec, &v, &target, &mut next, buf)?;
        }
    }
    if let Some(from) = unmapped_to {
        unmap(from, task_size)?;
    }
    vdso.finish()?;
    let len = r.expect_raw(RecordType::Auxv)?;
    let mut auxv = [0u8; bindings::AT_VECTOR_SIZE as usize * 8];
    if len % 8 != 0 || len as usize > auxv.len() {
        return Err(r.bad("auxiliary vector too long"));
    }
    r.read_raw(&mut auxv[..len as usize])?;
    // /proc/PID/auxv reads up to the first AT_NULL, which must end the vector: without one it
    // would read on past `saved_auxv`.
    let types = || {
        auxv[..len as usize]
            .chunks_exact(16)
            .map(|p| u64::from_le_bytes(p[..8].try_into().unwrap_or([1; 8])))
    };
    if len != 0 && (len % 16 != 0 || types().position(|t| t == 0) != Some(len as usize / 16 - 1)) {
        return Err(r.bad("auxiliary vector not ended by one AT_NULL"));
    }
    set_fields(r, &m, &auxv[..len as usize])
}

/// Maps the mapping `v` (`name`d if it has a name) in the current task's mm.
fn new_area(
    r: &mut Restorer<'_, Obj>,
    v: &abi::Vma,
    name: Option<&[u8; ANON_NAME_MAX]>,
    vdso: &mut VdsoPair,
) -> Result<Target> {
    let tagged = tag_neighbours(v)?;
    let target = map_area(r, v, vdso).and_then(|t| name_area(r, v, name).map(|()| t));
    untag(tagged)?;
    target
}

/// Whether a mapping made on this host for the image's `v` may have `have` (`VMA_*`) and
/// `prot`, which differ from the record, whatever restart does: without `VM_NORESERVE`,
/// which strict overcommit ignores, or, readable, with `VM_EXEC`, which READ_IMPLIES_EXEC
/// (the process's personality, restored before its mm) adds. A copied mapping may differ
/// from its record so, as a new one would; in nothing else.
fn as_made(v: &abi::Vma, have: u64, prot: u32) -> bool {
    let want = v.flags & !abi::VMA_ANON_NAME;
    let implied = kernel::current_task::personality() & bindings::READ_IMPLIES_EXEC != 0;
    let exec = implied && v.prot & bindings::PROT_READ != 0;
    let (extra, missing) = (have & !want, want & !have);
    let extra_prot = prot & !v.prot;
    (extra == 0 || exec && extra == abi::VMA_EXEC)
        && missing & !abi::VMA_NORESERVE == 0
        && (extra_prot == 0 || exec && extra_prot == bindings::PROT_EXEC)
        && v.prot & !prot == 0
}

/// Makes the mapping `v` as a copy of the one at its start (or else at its end) in the mm
/// `copy_of`, restored earlier, with the pages of that mapping shared copy-on-write, and
/// widened to `v` if it is memory; or, moved since the fork, of the part of the one at
/// `v.copy_from`, without its pages; checks that the copy is as the image says: a private
/// mapping with the same protection, flags, file and offset (a crafted image can only ask
/// for what the source has). Gives it the image's name.
///
/// The current task's mm holds copied mappings only, up to `from`: unmaps what it has above
/// before the copy (the rest of the last one), then what the copy has below `v`. What it has
/// above `v` goes when the next mapping comes.
fn copy_area(
    r: &mut Restorer<'_, Obj>,
    v: &abi::Vma,
    copy_of: u32,
    from: u64,
    name: Option<&[u8; ANON_NAME_MAX]>,
) -> Result<Target> {
    let task_size = current_mm()?.task_size();
    let bounds =
        (v.start | v.end | v.copy_from) % PAGE == 0 && v.start < v.end && v.end <= task_size;
    if !bounds || v.start < from || v.flags & (abi::VMA_MAYSHARE | abi::VMA_SHARED) != 0 {
        return Err(r.bad("copied mapping bounds, order or sharing"));
    }
    let file = match v.kind {
        abi::VMA_KIND_ANON | abi::VMA_KIND_HEAP | abi::VMA_KIND_STACK => core::ptr::null_mut(),
        abi::VMA_KIND_FILE => match r.lookup(v.file)? {
            Obj::File(f) if f.rec.kind == abi::FILE_KIND_REGULAR => f.file.as_ptr(),
            _ => return Err(r.bad("mapping names an object that is not a regular file")),
        },
        _ => return Err(r.bad("copied mapping that is not private memory")),
    };
    let Some(source) = shared::restored::<MmWithUser>(r, copy_of) else {
        return Err(r.bad("mapping copied from what is not an address space restored earlier"));
    };
    unmap(from, task_size)?;
    // The source is restart's own, and its tasks wait off the CPU.
    match source.copy_vma_to_current(v.start as usize, v.end as usize, v.copy_from as usize) {
        Ok(()) => {}
        Err(e) if e == EINVAL || e == EEXIST => {
            return Err(r.bad(
                "copied mapping that its source does not have, or overlapping the one before",
            ));
        }
        Err(e) => {
            log!(
                r.log,
                "mapping {:#x}-{:#x}: cannot copy it ({})",
                v.start,
                v.end,
                e.to_errno()
            );
            return Err(e);
        }
    }
    unmap(from, v.start)?;
    let same = with_vma_at(v.start, |vma| {
        let vm_flags = vma.flags();
        vma.end() as u64 >= v.end
            && as_made(v, image_flags(vm_flags), (vm_flags & 7) as u32)
            && vma.anon_name().is_some() == name.is_some()
            && vma.file().map_or(core::ptr::null_mut(), |f| f.as_ptr()) == file
            && match file.is_null() {
                // Anonymous memory, not a special mapping (the vDSO has no file either).
                true => vma.is_anonymous(),
                false => vma.pgoff() == v.pgoff,
            }
    })?;
    if same != Some(true) {
        return Err(r.bad("copied mapping that its source does not have"));
    }
    // A new name could merge it with a neighbour of that name (neither has an anon_vma
    // before its pages come).
    if name.is_some() {
        let tagged = tag_neighbours(v)?;
        let named = name_area(r, v, name);
        untag(tagged)?;
        named?;
    }
    let writable = v.prot & bindings::PROT_WRITE != 0;
    Ok(if file.is_null() && writable {
        Target::User
    } else {
        Target::Forced
    })
}

/// Unmaps `start..end` of the current task's mm, if not empty.
fn unmap(start: u64, end: u64) -> Result {
    if start >= end {
        return Ok(());
    }
    mm::vm_munmap(start as usize, (end - start) as usize)
}

/// The size of this kernel's vDSO text.
fn vdso_size() -> u64 {
    mm::vdso::size() as u64
}

/// The size of this kernel's vvar pages, below the vDSO text.
fn vvar_size() -> u64 {
    mm::vdso::vvar_size() as u64
}

/// The bits of `mm->flags` a process sets for itself and a new mm inherits from its creator
/// (`MMF_INIT_MASK`): restart's new mm has the restarter's until the saved ones are applied.
struct MmFlags(u64);

impl MmFlags {
    const DUMPABLE: u64 = bindings::MMF_DUMPABLE_MASK as u64;
    const FILTER_SHIFT: u32 = bindings::MMF_DUMP_FILTER_SHIFT;
    const FILTER: u64 = bindings::MMF_DUMP_FILTER_MASK as u64;
    const MERGE_ANY: u64 = 1 << bindings::MMF_VM_MERGE_ANY;
    const MDWE: u64 = 1 << bindings::MMF_HAS_MDWE | 1 << bindings::MMF_HAS_MDWE_NO_INHERIT;
    /// `MM_F_*` flag and `mm->flags` bit, for the single-bit flags.
    const BITS: [(u32, u32); 4] = [
        (abi::MM_F_DISABLE_THP, bindings::MMF_DISABLE_THP),
        (abi::MM_F_MDWE, bindings::MMF_HAS_MDWE),
        (abi::MM_F_MDWE_NO_INHERIT, bindings::MMF_HAS_MDWE_NO_INHERIT),
        (abi::MM_F_TOPDOWN, bindings::MMF_TOPDOWN),
    ];
    /// Everything `apply` sets. KSM's merge-any, which the image never carries (it is
    /// refused at checkpoint), is cleared: the restarter's would claim a merging that restart
    /// never registers.
    const SET: u64 = Self::DUMPABLE
        | Self::FILTER
        | 1 << bindings::MMF_DISABLE_THP
        | Self::MDWE
        | 1 << bindings::MMF_TOPDOWN
        | Self::MERGE_ANY;

    /// The `Mm` fields that carry `flags`, a saved mm's `mm->flags`.
    fn save(flags: u64) -> abi::Mm {
        let mut rec = abi::Mm {
            dumpable: (flags & Self::DUMPABLE) as u32,
            coredump_filter: ((flags & Self::FILTER) >> Self::FILTER_SHIFT) as u32,
            ..Default::default()
        };
        for (flag, bit) in Self::BITS {
            if flags & 1 << bit != 0 {
                rec.flags |= flag;
            }
        }
        rec
    }

    /// The bits to set from record `m`. SUID_DUMP_ROOT would have the kernel write the
    /// process's core as root: not something an image may ask for.
    fn check(r: &Restorer<'_, Obj>, m: &abi::Mm) -> Result<MmFlags> {
        if m.dumpable == bindings::SUID_DUMP_ROOT {
            log!(
                r.log,
                "mm: dumpable SUID_DUMP_ROOT (core dumped as root) is not restored"
            );
            return Err(EPERM);
        }
        if m.dumpable > bindings::SUID_DUMP_USER
            || m.flags & !abi::MM_F_ALL != 0
            || u64::from(m.coredump_filter) > Self::FILTER >> Self::FILTER_SHIFT
            || m.flags & (abi::MM_F_MDWE | abi::MM_F_MDWE_NO_INHERIT) == abi::MM_F_MDWE_NO_INHERIT
        {
            return Err(r.bad("mm flags, dumpable or coredump filter"));
        }
        let mut bits = u64::from(m.dumpable) | u64::from(m.coredump_filter) << Self::FILTER_SHIFT;
        for (flag, bit) in Self::BITS {
            if m.flags & flag != 0 {
                bits |= 1 << bit;
            }
        }
        // The new mm inherited the restarter's MDWE, which restart must not lift, and which
        // would not be faithful either: as prctl(PR_SET_MDWE) would, refuse to change it.
        let inherited = current_mm()?.flags() & Self::MDWE;
        if inherited != 0 && inherited != bits & Self::MDWE {
            log!(
                r.log,
                "mm: the restarter's memory-deny-write-execute differs from the image's"
            );
            return Err(EPERM);
        }
        Ok(MmFlags(bits))
    }

    /// Sets the saved bits in the `mm->flags` of `mm`, the current task's new mm.
    fn apply(&self, mm: &MmWithUser) -> Result {
        mm.set_init_flags(Self::SET, self.0)
    }
}

/// Sets the mm fields (code, data, brk, stack, arguments, environment, auxv).
fn set_fields(r: &Restorer<'_, Obj>, m: &abi::Mm, auxv: &[u8]) -> Result {
    let mm = current_mm()?;
    let range = |a: u64, b: u64| a as usize..b as usize;
    let mut layout = Layout {
        code: range(m.start_code, m.end_code),
        data: range(m.start_data, m.end_data),
        brk: range(m.start_brk, m.brk),
        start_stack: m.start_stack as usize,
        args: range(m.arg_start, m.arg_end),
        env: range(m.env_start, m.env_end),
        mmap_base: m.mmap_base as usize,
        auxv: [0; mm::AUXV_WORDS],
    };
    if !layout.is_within(mm.task_size() as usize) {
        return Err(r.bad("mm field outside the address space"));
    }
    for (slot, w) in layout.auxv.iter_mut().zip(auxv.chunks(8)) {
        *slot = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
    }
    let flags = MmFlags::check(r, m)?;
    let mut mmap = mm.mmap_write_lock_killable()?;
    // Zero keeps the one the new mm has.
    if layout.mmap_base == 0 {
        layout.mmap_base = mmap.layout().mmap_base;
    }
    mmap.set_layout(&layout)?;
    flags.apply(&mm)
}
