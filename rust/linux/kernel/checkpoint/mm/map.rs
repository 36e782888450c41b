// SPDX-License-Identifier: GPL-2.0

//! The mappings of a restored address space, as restart makes them: new ones at their
//! addresses with their flags, advice and names, and copies of a relative's.

use super::plan::VMA_FLAGS;
use super::shmem::shared_object;
use super::vdso::{map_vdso, VdsoPair};
use super::{current_mm, PAGE};
use crate::files::{FileRef, Restored};
use crate::image::Restorer;
use crate::shared;
use crate::{abi, abi::RecordType, log, Obj};
use kernel::bindings;
use kernel::mm::{self, virt::VmaRef, MmWithUser};
use kernel::prelude::*;

/// Room for a mapping's name (PR_SET_VMA_ANON_NAME takes at most 79 bytes), and its NUL.
pub(super) const ANON_NAME_MAX: usize = 80;

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

/// Where a restored mapping's pages go.
pub(super) enum Target {
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
pub(super) fn read_anon_name(r: &mut Restorer<'_, Obj>, name: &mut [u8; ANON_NAME_MAX]) -> Result {
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
            if !mappable(f) {
                return Err(r.bad(
                    "mapping names a file that is not a regular one, a memfd or a deleted one",
                ));
            }
            // A memfd's or deleted file's bytes are the image's.
            if f.rec.kind == abi::FILE_KIND_REGULAR && !f.unchanged() {
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
pub(super) fn file_at(start: u64) -> Result<Option<FileRef>> {
    Ok(with_vma_at(start, |vma| vma.file().map(FileRef::from))?.flatten())
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

/// Maps the mapping `v` (`name`d if it has a name) in the current task's mm.
pub(super) fn new_area(
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

/// Whether a file restored for a `File` record may be mapped: a regular file, a memfd or a
/// deleted file.
fn mappable(f: &Restored) -> bool {
    matches!(
        f.rec.kind,
        abi::FILE_KIND_REGULAR | abi::FILE_KIND_MEMFD | abi::FILE_KIND_UNLINKED
    )
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
pub(super) fn copy_area(
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
    let file =
        match v.kind {
            abi::VMA_KIND_ANON | abi::VMA_KIND_HEAP | abi::VMA_KIND_STACK => core::ptr::null_mut(),
            abi::VMA_KIND_FILE => match r.lookup(v.file)? {
                Obj::File(f) if mappable(f) => f.file.as_ptr(),
                _ => return Err(r.bad(
                    "mapping names an object that is not a regular file, a memfd or a deleted one",
                )),
            },
            _ => return Err(r.bad("copied mapping that is not private memory")),
        };
    let Some(source) = shared::restored::<MmWithUser>(r, copy_of) else {
        return Err(r.bad("mapping copied from what is not an address space restored earlier"));
    };
    super::refuse_mapped(r, copy_of)?;
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
            && as_made(v, VMA_FLAGS.image(vm_flags), (vm_flags & 7) as u32)
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
pub(super) fn unmap(start: u64, end: u64) -> Result {
    if start >= end {
        return Ok(());
    }
    mm::vm_munmap(start as usize, (end - start) as usize)
}
