// SPDX-License-Identifier: GPL-2.0

//! The mappings of a frozen address space, as checkpoint finds and writes them: what each is,
//! which it refuses, and which earlier address space a mapping fork(2) left shared is a copy
//! of.

use super::map::ANON_NAME_MAX;
use super::pages::{dump_private, CowPages, Relative, Source, Writing};
use super::shmem::{dump_cached, SharedObjects};
use super::{written, MmFlags, BATCH, PAGE};
use crate::files::{self, FileRef, Names};
use crate::image::{Dumper, FlagMap};
use crate::objects::{Place, Where};
use crate::{abi, abi::RecordType, log, log::Log};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::mm::{page::PageRef, virt::VmaRef, MmWithUser, MmapReadGuard};
use kernel::prelude::*;
use kernel::task::Task;
use kernel::types::ARef;

/// The image's `VMA_*` flags and the `vm_flags` bits they stand for.
pub(super) const VMA_FLAGS: FlagMap<u64> = FlagMap(&[
    (abi::VMA_READ, bindings::VM_READ as u64),
    (abi::VMA_WRITE, bindings::VM_WRITE as u64),
    (abi::VMA_EXEC, bindings::VM_EXEC as u64),
    (abi::VMA_SHARED, bindings::VM_SHARED as u64),
    (abi::VMA_MAYREAD, bindings::VM_MAYREAD as u64),
    (abi::VMA_MAYWRITE, bindings::VM_MAYWRITE as u64),
    (abi::VMA_MAYEXEC, bindings::VM_MAYEXEC as u64),
    (abi::VMA_MAYSHARE, bindings::VM_MAYSHARE as u64),
    (abi::VMA_GROWSDOWN, bindings::VM_GROWSDOWN as u64),
    (abi::VMA_LOCKED, bindings::VM_LOCKED as u64),
    (abi::VMA_DONTCOPY, bindings::VM_DONTCOPY as u64),
    (abi::VMA_DONTEXPAND, bindings::VM_DONTEXPAND as u64),
    (abi::VMA_NORESERVE, bindings::VM_NORESERVE as u64),
    (abi::VMA_DONTDUMP, bindings::VM_DONTDUMP as u64),
    (abi::VMA_WIPEONFORK, bindings::VM_WIPEONFORK as u64),
    (abi::VMA_HUGEPAGE, bindings::VM_HUGEPAGE as u64),
    (abi::VMA_NOHUGEPAGE, bindings::VM_NOHUGEPAGE as u64),
    (abi::VMA_RAND_READ, bindings::VM_RAND_READ as u64),
    (abi::VMA_SEQ_READ, bindings::VM_SEQ_READ as u64),
    (abi::VMA_MERGEABLE, bindings::VM_MERGEABLE as u64),
]);

/// One mapping of the plan.
pub(super) struct Area {
    pub(super) rec: abi::Vma,
    pub(super) file: Option<FileRef>,
    /// The root of its tree of anon_vmas, only compared: mappings that may map the same
    /// anonymous page have the same. Zero for one without anonymous pages.
    pub(super) root: usize,
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
            let at = Place {
                log,
                task,
                at: Where::Exe,
            };
            files::check_mapped(at, names, f)?;
            files::check_mapped_locks(at, f)?;
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
                let at = Place {
                    log,
                    task,
                    at: Where::MapRange(area.rec.start, area.rec.end),
                };
                files::check_mapped(at, names, f)?;
            }
            // A flock or OFD lock lasts as long as its file, which a mapping may hold alone.
            if let Some(f) = &area.file {
                let at = Place {
                    log,
                    task,
                    at: Where::MapRange(area.rec.start, area.rec.end),
                };
                files::check_mapped_locks(at, f)?;
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
            let objref = d.objref(self.mm.as_raw())?;
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
        let (objref, _) = d.first_write(self.mm.as_raw())?;
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

/// Calls `f` with every mapping of the frozen `task`'s address space, under its mmap lock;
/// returns its executable file if it has one, `None` if it has no address space.
pub(crate) fn walk(task: &Task, f: impl FnMut(&VmaRef)) -> Option<Option<ARef<File>>> {
    let mm = task.mm()?;
    mm.mmap_read_lock().vmas().for_each(f);
    Some(mm.exe_file())
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
        flags: VMA_FLAGS.image(vm_flags),
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
