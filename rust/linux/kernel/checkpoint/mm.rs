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
//!
//! Its parts: `plan.rs` finds and writes the mappings of a frozen address space, `map.rs`
//! makes them again, `pages.rs` moves the pages of private memory, `shmem.rs` those of shared
//! anonymous memory, and `vdso.rs` maps the vDSO; this file writes and sets the fields of the
//! mm, and restores one record by record.

mod map;
mod pages;
mod plan;
mod shmem;
mod vdso;

pub(crate) use pages::CowPages;
pub(crate) use plan::{walk, MmPlan};
pub(crate) use shmem::SharedObjects;

use crate::files;
use crate::image::{Dumper, Rec, Restorer};
use crate::shared::{self, Joinable, Shareable};
use crate::{abi, abi::Record, abi::RecordType, log, log::Log, Obj};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::mm::{self, Layout, MmWithUser, NewMm};
use kernel::prelude::*;
use kernel::task::Task;
use kernel::task_lock::Held;
use kernel::types::ARef;
use map::{copy_area, new_area, read_anon_name, unmap, ANON_NAME_MAX};
use pages::{fill, Bounce};
use vdso::VdsoPair;

pub(super) const PAGE: u64 = kernel::page::PAGE_SIZE as u64;

/// Pages pinned at a time while dumping.
pub(super) const BATCH: usize = 512;

impl Shareable for MmWithUser {
    const WHAT: &'static str = "address space";
    const PASSING_USERS: bool = true;
    const BAD: &'static str = "address space written twice, or an objref that names another object";

    fn held(task: &Task) -> Option<Held> {
        task.lock().mm()
    }

    fn current() -> Result<ARef<Self>> {
        current_mm()
    }

    shared::in_obj!(Mm);
}

impl Joinable for MmWithUser {
    fn install(&self) -> Result {
        self.share_with_current()
    }
}

/// The objref of `mm`, an address space written earlier.
pub(super) fn written(d: &mut Dumper<'_>, mm: &MmWithUser) -> Result<u32> {
    d.written(mm.as_raw()).ok_or_else(|| {
        log!(d.log, "mm: a mapping's source is not in the image yet");
        EINVAL
    })
}

/// The current task's mm (the one being restored).
pub(super) fn current_mm() -> Result<ARef<MmWithUser>> {
    MmWithUser::of_current().ok_or(EINVAL)
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

/// Refuses to share pages copy-on-write with the address space `objref` if restart by mapping
/// mapped some of its pages from the image: the mappings restart copies from it, as fork(2)
/// would, are no longer the ones it was given.
fn refuse_mapped(r: &Restorer<'_, Obj>, objref: u32) -> Result {
    if !r.is_mm_mapped(objref) {
        return Ok(());
    }
    log!(
        r.log,
        "mm: memory shared copy-on-write with a relative whose pages were mapped from the image: restart it without RESTART_MAP"
    );
    Err(EOPNOTSUPP)
}

/// Restores an `Mm` and everything that follows it into a new mm for the current task.
pub(crate) fn restore(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
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
    // Restored with the restarter's credentials (`Creds::read`), a process that was not
    // dumpable would be as open to the others as one that was, through the image they map.
    if r.maps_image() && m.dumpable != bindings::SUID_DUMP_USER {
        log!(
            r.log,
            "mm: RESTART_MAP restores only dumpable address spaces: others could read this one's memory in the image they map"
        );
        return Err(EPERM);
    }
    let exe = match m.exe_file {
        0 => None,
        e => match r.lookup(e)? {
            // A deleted one made again (its bytes are the image's) may be too.
            Obj::File(f)
                if matches!(f.rec.kind, abi::FILE_KIND_REGULAR | abi::FILE_KIND_UNLINKED) =>
            {
                Some(may_be_exe(r.log, f)?)
            }
            _ => return Err(r.bad("exe_file names an object that is not a file")),
        },
    };
    install_new(r.log, exe)?;
    shared::keep::<MmWithUser>(r, m.objref)?;
    let task_size = current_mm()?.task_size();
    let mut vdso = VdsoPair::default();
    let mut bounce = Bounce::default();
    let runs_mapped = r.runs_mapped();
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
            fill(r, rec, &v, &target, &mut next, &mut bounce)?;
        }
    }
    if let Some(from) = unmapped_to {
        unmap(from, task_size)?;
    }
    if r.runs_mapped() != runs_mapped {
        r.set_mm_mapped(m.objref)?;
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

/// The bits of `mm->flags` a process sets for itself and a new mm inherits from its creator
/// (`MMF_INIT_MASK`): restart's new mm has the restarter's until the saved ones are applied.
pub(super) struct MmFlags(u64);

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
