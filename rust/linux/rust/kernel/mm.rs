// SPDX-License-Identifier: GPL-2.0

//! Address spaces: `struct mm_struct`, its mmap lock and the mappings it holds.
//!
//! The shape follows the abstraction later kernels carry in `rust/kernel/mm.rs`: an
//! [`MmWithUser`] is an address space of which a user (`mm_users`) is held, its mmap lock is
//! taken as a guard, and the mappings are only reached through that guard, so that a
//! [`virt::VmaRef`] cannot outlive the lock that keeps it.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h),
//! [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h)

use crate::{
    bindings,
    error::{
        code::{EINTR, EINVAL, ENOMEM},
        to_result, Error, Result,
    },
    fs::file::File,
    task::Task,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{
    marker::PhantomData,
    ops::Range,
    ptr::{addr_of, addr_of_mut, NonNull},
    sync::atomic::{AtomicUsize, Ordering},
};

pub mod page;
pub mod virt;
use page::PageRef;
use virt::VmaRef;

/// The number of words of a saved auxiliary vector (`mm->saved_auxv`).
pub const AUXV_WORDS: usize = bindings::AT_VECTOR_SIZE as usize;

/// An address space of which the holder has a user: its page tables and mappings stay, even
/// after every task using it exits.
///
/// # Invariants
///
/// Every instance is a valid `mm_struct` whose `mm_users` is non-zero for as long as the
/// reference through which it is reached exists.
#[repr(transparent)]
pub struct MmWithUser {
    mm: Opaque<bindings::mm_struct>,
}

// SAFETY: a user of an mm may be dropped from any task: `mmput` may sleep but needs no
// particular task.
unsafe impl Send for MmWithUser {}
// SAFETY: every method that reads fields the owner may change does it under the mmap lock or
// with an atomic read.
unsafe impl Sync for MmWithUser {}

// SAFETY: `mmget` and `mmput` take and drop a user, which keeps the address space as the
// type's invariant asks.
unsafe impl AlwaysRefCounted for MmWithUser {
    fn inc_ref(&self) {
        // SAFETY: the mm has a user (type invariant), so `mmget` may add one.
        unsafe { bindings::mmget(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives back a user it holds.
        unsafe { bindings::mmput(obj.cast().as_ptr()) };
    }
}

impl Task {
    /// Takes a user of the task's address space, as `get_task_mm()` does: `None` for a kernel
    /// thread or a task that has exited.
    pub fn mm(&self) -> Option<ARef<MmWithUser>> {
        // SAFETY: the task is valid; `get_task_mm` returns a counted user of its mm or NULL.
        let mm = NonNull::new(unsafe { bindings::get_task_mm(self.as_ptr()) })?;
        // SAFETY: the `ARef` owns the user taken above; `MmWithUser` is transparent.
        Some(unsafe { ARef::from_raw(mm.cast()) })
    }
}

impl MmWithUser {
    /// Reaches an address space from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid `mm_struct` with a user that is held for the whole of `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a MmWithUser {
        // SAFETY: the caller's guarantee is the type invariant; the type is transparent.
        unsafe { &*ptr.cast() }
    }

    /// The raw `mm_struct`, for comparing and for C functions the abstraction does not cover.
    pub fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }

    /// Its `MMF_*` flags, read once: bits that other tasks may set at any time.
    pub fn flags(&self) -> u64 {
        // SAFETY: the mm is valid (type invariant); `flags` is a word that C sets with atomic
        // bit operations, read here once as `READ_ONCE` would.
        let flags =
            unsafe { core::ptr::addr_of!((*self.as_raw()).__bindgen_anon_1.flags).read_volatile() };
        flags as u64
    }

    /// `mm->flags`, which C changes with atomic bit operations.
    fn flags_word(&self) -> &AtomicUsize {
        // SAFETY: the mm is valid (type invariant); `flags` is a naturally aligned word that
        // is only ever changed atomically.
        unsafe { AtomicUsize::from_ptr(addr_of_mut!((*self.as_raw()).__bindgen_anon_1.flags)) }
    }

    /// Sets the `MMF_*` bits of `mask` to those of `bits` in the current task's own address
    /// space, as the prctl()s that set them do, atomically with respect to the other bits.
    /// `EINVAL` if this is not the current task's, if `mask` has a bit a process does not set
    /// for itself (outside `MMF_INIT_MASK`, but `MMF_HAS_MDWE_NO_INHERIT`), or for a change
    /// prctl() refuses or that needs more than the bit: clearing memory-deny-write-execute,
    /// the `SUID_DUMP_ROOT` dumpable value, turning KSM's merge-any on or off.
    pub fn set_init_flags(&self, mask: u64, bits: u64) -> Result {
        if self.as_raw() != current_mm() {
            return Err(EINVAL);
        }
        let (mdwe, merge) = (
            (1 << bindings::MMF_HAS_MDWE | 1 << bindings::MMF_HAS_MDWE_NO_INHERIT) as u64,
            1u64 << bindings::MMF_VM_MERGE_ANY,
        );
        let old = self.flags();
        let new = old & !mask | bits & mask;
        let dumpable = new & bindings::MMF_DUMPABLE_MASK as u64;
        if old & mdwe & !new != 0
            || dumpable == u64::from(bindings::SUID_DUMP_ROOT)
            || (old ^ new) & merge != 0
        {
            return Err(EINVAL);
        }
        update_init_flags(self, mask, bits)
    }

    /// The current task's address space, with a user of its own: `None` for a kernel thread,
    /// or for one that borrows an mm without a user (`kthread_use_mm()`) that has none left.
    pub fn of_current() -> Option<ARef<MmWithUser>> {
        let mm = current_mm();
        // SAFETY: the current task's mm stays valid while it runs on it: the task holds a
        // count on it (a user, or for a borrowed one a grab), which `mmget_not_zero` needs.
        if mm.is_null() || !unsafe { bindings::mmget_not_zero(mm) } {
            return None;
        }
        // SAFETY: the `ARef` owns the user taken above; `MmWithUser` is transparent.
        Some(unsafe { ARef::from_raw(NonNull::new_unchecked(mm).cast()) })
    }

    /// Makes the current task, the only thread of its process, use this address space
    /// instead of its own, as a `CLONE_VM` child of a task using it would
    /// (`restart_share_mm()`); `EBUSY` if its process has other threads. Meant for restart,
    /// whose callers have the right to the address space: nothing is checked here.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn share_with_current(&self) -> Result {
        current_is_user()?;
        // SAFETY: the mm is valid (type invariant); the callee takes its own user.
        to_result(unsafe { bindings::restart_share_mm(self.as_raw()) })
    }

    /// Copies into the current task's address space this one's mapping at `start` (or else
    /// the one at `end - 1`), as fork(2) does, with its pages shared copy-on-write, or the part
    /// of the one at `from` that a move by mremap(2) took there (`restart_copy_vma()`).
    /// `EINVAL` if this is the current task's address space or has no such mapping, `EEXIST`
    /// if the current one maps part of the range, or for a kernel thread. Meant for restart,
    /// which holds this address space and keeps its tasks off the CPU: nothing checks that the
    /// caller may read it, and two tasks copying from each other's at once would deadlock
    /// (the callee locks this one, then the current task's).
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn copy_vma_to_current(&self, start: usize, end: usize, from: usize) -> Result {
        current_is_user()?;
        // SAFETY: the mm is valid (type invariant) and so is the current task's (checked
        // above); the callee checks the ranges and that the two differ, and takes both locks.
        to_result(unsafe { bindings::restart_copy_vma(self.as_raw(), start, end, from) })
    }

    /// Maps in the current task's copied mapping from `start` up to `end` the anonymous pages
    /// this address space has from `src`, shared copy-on-write (`restart_share_pages()`); the
    /// number of bytes shared from `start`, zero if the first page cannot be shared. `EINVAL`
    /// for a range that is not within one such mapping of each, or for a kernel thread. Meant
    /// for restart, as [`MmWithUser::copy_vma_to_current`].
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn share_pages_with_current(&self, start: usize, end: usize, src: usize) -> Result<usize> {
        current_is_user()?;
        // SAFETY: the mm is valid (type invariant) and so is the current task's (checked
        // above); the callee checks the ranges and that the two differ, and takes both locks.
        let n = unsafe { bindings::restart_share_pages(self.as_raw(), start, end, src) };
        to_result(n.min(0) as i32)?;
        Ok(n as usize)
    }

    /// Its executable file (`get_mm_exe_file()`), if it has one.
    pub fn exe_file(&self) -> Option<ARef<File>> {
        // SAFETY: the mm is valid (type invariant); the callee returns a counted file or NULL.
        let file = NonNull::new(unsafe { bindings::get_mm_exe_file(self.as_raw()) })?;
        // SAFETY: the `ARef` owns the reference taken above; `File` is transparent.
        Some(unsafe { ARef::from_raw(file.cast()) })
    }

    /// The size of the user part of the address space (`TASK_SIZE` for its tasks), set when
    /// the mm is made.
    pub fn task_size(&self) -> u64 {
        // SAFETY: the mm is valid (type invariant). Exec sets `task_size` once the mm is
        // reachable from /proc, so it is read once as `READ_ONCE` would.
        let size = unsafe {
            core::ptr::addr_of!((*self.as_raw()).__bindgen_anon_1.task_size).read_volatile()
        };
        size as u64
    }

    /// Gives `advice` (`MADV_*`) on `len` bytes from `start`, as `madvise(2)` does
    /// (`do_madvise()`); `EINVAL` unless this is the current task's address space, as some
    /// advice acts on that one whatever the mm given (`MADV_HWPOISON`).
    pub fn madvise(&self, start: usize, len: usize, advice: u32) -> Result {
        if self.as_raw() != current_mm() {
            return Err(EINVAL);
        }
        // SAFETY: the mm is valid (type invariant); the callee takes the mmap lock it needs.
        to_result(unsafe { bindings::do_madvise(self.as_raw(), start, len, advice as i32) })
    }

    /// Copies `buf` to `addr`, or from it with `gup_flags` without `FOLL_WRITE`, as ptrace
    /// does (`access_remote_vm()`): through copy-on-write, into read-only mappings with
    /// `FOLL_FORCE`. Returns the number of bytes copied.
    pub fn access_vm(&self, addr: usize, buf: &mut [u8], gup_flags: u32) -> usize {
        let len = buf.len().min(i32::MAX as usize) as i32;
        // SAFETY: the mm is valid (type invariant); `buf` is a kernel buffer of `len` bytes
        // at least; the callee takes the mmap lock.
        let n = unsafe {
            bindings::access_remote_vm(self.as_raw(), addr, buf.as_mut_ptr().cast(), len, gup_flags)
        };
        n.max(0) as usize
    }

    /// Takes the mmap lock for writing, unless a fatal signal comes first (`EINTR`), as
    /// `mmap_write_lock_killable()` does.
    pub fn mmap_write_lock_killable(&self) -> Result<MmapWriteGuard<'_>> {
        // SAFETY: the mm is valid (type invariant); the guard releases the lock.
        if unsafe { bindings::mmap_write_lock_killable(self.as_raw()) } != 0 {
            return Err(EINTR);
        }
        // INVARIANT: the lock was taken above.
        Ok(MmapWriteGuard {
            mm: self,
            _not_send: PhantomData,
        })
    }

    /// Takes the mmap lock for reading, waiting for it (`mmap_read_lock()`).
    pub fn mmap_read_lock(&self) -> MmapReadGuard<'_> {
        // SAFETY: the mm is valid (type invariant); the guard releases the lock.
        unsafe { bindings::mmap_read_lock(self.as_raw()) };
        // INVARIANT: the lock was taken above.
        MmapReadGuard {
            mm: self,
            _not_send: PhantomData,
        }
    }
}

/// Maps `len` bytes of `file` from `offset`, or anonymous memory without a file, into the
/// current task's address space at `addr` as mmap(2) does with `prot` and `flags`
/// (`vm_mmap()`); returns where.
pub fn vm_mmap(
    file: Option<&File>,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    offset: usize,
) -> Result<usize> {
    let file = file.map_or(core::ptr::null_mut(), File::as_ptr);
    // SAFETY: `file` is NULL or a valid file the caller holds for the call; the callee acts
    // on the current task's own address space and takes its mmap lock.
    let at = unsafe { bindings::vm_mmap(file, addr, len, prot, flags, offset) };
    if at >= (-(bindings::MAX_ERRNO as isize)) as usize {
        return Err(Error::from_errno(at as isize as i32));
    }
    Ok(at)
}

/// Unmaps `len` bytes from `start` of the current task's address space, as munmap(2) does
/// (`vm_munmap()`).
pub fn vm_munmap(start: usize, len: usize) -> Result {
    // SAFETY: the callee acts on the current task's own address space and takes its mmap
    // lock.
    to_result(unsafe { bindings::vm_munmap(start, len) })
}

/// Takes a reference on each page mapped in the current task's address space from `addr`,
/// page-aligned, one per entry of `pages`, faulting them in for reading as
/// `get_user_pages_fast()` does; the number taken, from the first. The entries of `pages`
/// are emptied first; the first that many then hold the pages. `EINVAL` without an address
/// space (a kernel thread, or a task past `exit_mm()`). It may sleep.
///
/// Where nothing was written yet, the pages may be the shared zero page, or those of a file's
/// page cache: others may write them, which [`PageRef::with_words`] allows for.
pub fn get_user_pages_fast(addr: usize, pages: &mut [Option<PageRef>]) -> Result<usize> {
    pages.iter_mut().for_each(|p| *p = None);
    current_is_user()?;
    let nr = i32::try_from(pages.len()).map_err(|_| EINVAL)?;
    // SAFETY: `pages` has room for `nr` entries, all NULL, and `Option<PageRef>` is a page
    // pointer: the callee stores referenced pages, whose references the entries then own. It
    // acts on the current task's own address space and checks the range itself.
    let n = unsafe { bindings::get_user_pages_fast(addr, nr, 0, pages.as_mut_ptr().cast()) };
    to_result(n.min(0))?;
    Ok(n as usize)
}

/// Where the parts of a process's memory are, as exec lays them out and `prctl(PR_SET_MM)`
/// changes them, and the auxiliary vector exec gave it (`mm->saved_auxv`).
#[derive(Clone)]
pub struct Layout {
    /// Text.
    pub code: Range<usize>,
    /// Initialised data.
    pub data: Range<usize>,
    /// The heap, up to where `brk()` ends it now.
    pub brk: Range<usize>,
    /// The start of the main thread's stack.
    pub start_stack: usize,
    /// The argument strings.
    pub args: Range<usize>,
    /// The environment strings.
    pub env: Range<usize>,
    /// Where mmap(2) starts looking for room.
    pub mmap_base: usize,
    /// The auxiliary vector, up to and including its `AT_NULL`, zeros after.
    pub auxv: [u64; AUXV_WORDS],
}

/// A new, empty address space of which the holder has the only user, for the current task to
/// take as exec does.
///
/// # Invariants
///
/// `mm` comes from `mm_alloc()`, and no task uses it: it is reachable only through this value.
pub struct NewMm {
    mm: ARef<MmWithUser>,
}

impl NewMm {
    /// Makes one (`mm_alloc()`).
    pub fn new() -> Result<NewMm> {
        // SAFETY: `mm_alloc` returns a new mm with one user, or NULL.
        let mm = NonNull::new(unsafe { bindings::mm_alloc() }).ok_or(ENOMEM)?;
        // SAFETY: the `ARef` owns the user `mm_alloc` gave; `MmWithUser` is transparent.
        let mm = unsafe { ARef::from_raw(mm.cast()) };
        // INVARIANT: new, and reachable only through this value.
        Ok(NewMm { mm })
    }

    /// Sets the `MMF_*` bits of `mask` to those of `bits`; `EINVAL` for a bit a process does
    /// not set for itself (see [`MmWithUser::set_init_flags`]). Any of those may change here:
    /// the mm has no mapping yet, nor a task.
    pub fn set_init_flags(&self, mask: u64, bits: u64) -> Result {
        update_init_flags(&self.mm, mask, bits)
    }

    /// Makes it the current task's address space, as exec does, with `exe` as its executable
    /// file (`restart_exec_mmap()`); the current task's old one is released. `EACCES` if the
    /// current task may not execute `exe` ([`File::may_exec`]) or it is being written to (it
    /// is made unwritable for as long as it is the executable); `EINVAL` for a kernel thread,
    /// `EBUSY` if the current task is not alone in its process.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn install(self, exe: Option<&File>) -> Result {
        if let Some(exe) = exe {
            exe.may_exec()?;
        }
        let mm = ARef::into_raw(self.mm);
        let exe = exe.map_or(core::ptr::null_mut(), File::as_ptr);
        // SAFETY: `mm` is new and used by no task (type invariant); the callee checks that the
        // current task may take it; on success the current task owns its user. `exe` is NULL
        // or a valid file, of which the callee takes a reference.
        let ret = unsafe { bindings::restart_exec_mmap(mm.as_ptr().cast(), exe) };
        if ret < 0 {
            // SAFETY: still ours on failure: the `ARef` takes the user back.
            drop(unsafe { ARef::from_raw(mm) });
        }
        to_result(ret)
    }
}

/// Names the anonymous mappings of the current task in `start..start + len` as
/// `prctl(PR_SET_VMA_ANON_NAME)` does, with its rules for `name` (`EINVAL`); `EBADF` if a
/// file mapping is in the range, `EINVAL` for a kernel thread.
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_anon_name(start: usize, len: usize, name: &crate::str::CStr) -> Result {
    current_is_user()?;
    // SAFETY: `name` is NUL-terminated; the callee acts on the current task's own address
    // space and takes its mmap lock.
    to_result(unsafe {
        bindings::checkpoint_set_anon_name(start as u64, len as u64, name.as_char_ptr())
    })
}

/// This kernel's 64-bit vDSO: its text, and the vvar pages mapped right below it.
#[cfg(CONFIG_X86_64)]
pub mod vdso {
    use crate::{bindings, error::to_result, error::Result};

    /// The size of its text.
    pub fn size() -> usize {
        // SAFETY: `vdso_image_64` is a constant of this kernel.
        unsafe { bindings::vdso_image_64.size }
    }

    /// The size of the vvar pages below the text.
    pub fn vvar_size() -> usize {
        // SAFETY: `vdso_image_64` is a constant of this kernel.
        unsafe { bindings::vdso_image_64.sym_vvar_start.unsigned_abs() }
    }

    /// Maps the vvar pages at `addr` and the text above them into the current task's address
    /// space (`map_vdso_once()`); `EEXIST` if it has a vDSO already, `EINVAL` for a kernel
    /// thread.
    pub fn map_once(addr: usize) -> Result {
        super::current_is_user()?;
        // SAFETY: `vdso_image_64` is a constant of this kernel; the callee acts on the current
        // task's own address space and takes its mmap lock.
        to_result(unsafe { bindings::map_vdso_once(&raw const bindings::vdso_image_64, addr) })
    }
}

/// The mmap lock of an address space, held for reading; released on drop.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for reading by the current task, for as long as the guard
/// exists.
pub struct MmapReadGuard<'a> {
    mm: &'a MmWithUser,
    // An rwsem is released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> MmapReadGuard<'a> {
    /// The address space whose lock this is.
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }

    /// The fields of `struct mm_struct` that are read under the mmap lock.
    fn fields(&self) -> *const bindings::mm_struct__bindgen_ty_1 {
        // SAFETY: only the address is taken; the mm is valid (type invariant).
        unsafe { core::ptr::addr_of!((*self.mm.as_raw()).__bindgen_anon_1) }
    }

    /// The first mapping that ends above `addr` (`find_vma()`): the one holding `addr`, else
    /// the next one up.
    pub fn find_vma(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: the mmap lock is held (type invariant) while the guard is borrowed.
        unsafe { find_vma(self.mm, addr) }
    }

    /// The mapping that holds `addr`, if any (`vma_lookup()`).
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmaRef> {
        self.find_vma(addr).filter(|v| v.start() <= addr)
    }

    /// Its mappings, in address order.
    pub fn vmas(&self) -> Vmas<'_> {
        Vmas {
            guard: self,
            addr: 0,
            done: false,
        }
    }

    /// Where the heap starts and where `brk()` ends it now.
    pub fn brk(&self) -> Range<usize> {
        self.layout().brk
    }

    /// The start of the main thread's stack, as exec set it up.
    pub fn start_stack(&self) -> usize {
        self.layout().start_stack
    }

    /// The `VM_*` flags every new mapping gets (`mlockall(MCL_FUTURE)` sets `VM_LOCKED`).
    pub fn def_flags(&self) -> u64 {
        // SAFETY: the mm is valid; `mlockall()` changes this under the mmap lock held for
        // writing.
        unsafe { (*self.fields()).def_flags as u64 }
    }

    /// The address of the vDSO's text, zero before one is mapped.
    pub fn vdso(&self) -> usize {
        // SAFETY: the mmap lock is held (type invariant).
        unsafe { vdso(self.mm) }
    }

    /// Pins the pages mapped from `addr` into `pages`, one per entry, as
    /// `get_user_pages_remote()` does with `gup_flags`; the number pinned, from the first.
    /// The entries of `pages` are emptied first; the first that many then hold the pages.
    pub fn get_user_pages(
        &self,
        addr: usize,
        gup_flags: u32,
        pages: &mut [Option<PageRef>],
    ) -> Result<usize> {
        pages.iter_mut().for_each(|p| *p = None);
        // SAFETY: the mmap lock is held (type invariant); `pages` has room for as many
        // entries as asked for, all NULL, and `Option<PageRef>` is a page pointer: the callee
        // stores referenced pages, whose references the entries then own.
        let n = unsafe {
            bindings::get_user_pages_remote(
                self.mm.as_raw(),
                addr,
                pages.len(),
                gup_flags,
                pages.as_mut_ptr().cast(),
                core::ptr::null_mut(),
            )
        };
        to_result(n.min(0) as i32)?;
        Ok(n as usize)
    }

    /// Sets in `map` the bit of each of the `nr` pages from `addr`, page-aligned, that
    /// [`MmapReadGuard::get_user_pages`] with `FOLL_DUMP` would give: mapped but for the zero
    /// page, swapped out, or being migrated; only anonymous pages with `anon_only`. Reads the
    /// page tables (`checkpoint_present_pages()`), so nothing is faulted in and holes cost
    /// little. `map` is cleared first; `EINVAL` if it has fewer than `nr` bits, `EOPNOTSUPP`
    /// where hugetlb mappings are.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn present_pages(
        &self,
        addr: usize,
        nr: usize,
        anon_only: bool,
        map: &mut [usize],
    ) -> Result {
        map.iter_mut().for_each(|w| *w = 0);
        if nr > map.len() * usize::BITS as usize {
            return Err(EINVAL);
        }
        if nr == 0 {
            return Ok(());
        }
        // SAFETY: the mmap lock is held (type invariant); `map` has at least `nr` bits, the
        // only memory the callee writes.
        to_result(unsafe {
            bindings::checkpoint_present_pages(
                self.mm.as_raw(),
                addr,
                nr,
                anon_only,
                map.as_mut_ptr(),
            )
        })
    }

    /// Its layout: where code, data, heap, stack, arguments and environment are, and the
    /// auxiliary vector exec gave it.
    ///
    /// The bounds are read under `arg_lock`, as `prctl(PR_SET_MM)` sets them; the auxiliary
    /// vector, which that prctl copies in under the task lock or the mmap lock held for
    /// reading, is read word by word.
    pub fn layout(&self) -> Layout {
        // SAFETY: the mm is valid and its mmap lock held (type invariant).
        unsafe { layout(self.fields()) }
    }

    /// Why checkpoint cannot save this address space, for state it does not restore yet:
    /// expedited membarrier(2), protection keys, an LDT, linear address masking, AIO
    /// contexts. `None` if none applies.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn checkpoint_refusal(&self) -> Option<&'static crate::str::CStr> {
        // SAFETY: the mm is valid and its mmap lock held (type invariant), as the callee
        // asks; it returns NULL or a static string.
        let why = unsafe { bindings::checkpoint_mm_unsupported(self.mm.as_raw()) };
        // SAFETY: a static NUL-terminated string.
        (!why.is_null()).then(|| unsafe { crate::str::CStr::from_char_ptr(why) })
    }
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held (type invariant) and released once, here.
        unsafe { bindings::mmap_read_unlock(self.mm.as_raw()) };
    }
}

/// The mmap lock of an address space, held for writing; released on drop.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for writing by the current task, for as long as the guard
/// exists.
pub struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
    // An rwsem is released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl Layout {
    /// Whether it is one [`MmapWriteGuard::set_layout`] sets in an address space of
    /// `task_size`: no range ends before it starts, and every address is below `task_size`.
    pub fn is_within(&self, task_size: usize) -> bool {
        let ranges = [&self.code, &self.data, &self.brk, &self.args, &self.env];
        ranges.iter().all(|r| r.start <= r.end && r.end < task_size)
            && self.start_stack < task_size
            && self.mmap_base < task_size
    }
}

impl<'a> MmapWriteGuard<'a> {
    /// The address space whose lock this is.
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }

    /// The first mapping that ends above `addr` (`find_vma()`).
    pub fn find_vma(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: the mmap lock is held (type invariant) while the guard is borrowed.
        unsafe { find_vma(self.mm, addr) }
    }

    /// The mapping that holds `addr`, if any (`vma_lookup()`).
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmaRef> {
        self.find_vma(addr).filter(|v| v.start() <= addr)
    }

    /// The address of the vDSO's text, zero before one is mapped.
    pub fn vdso(&self) -> usize {
        // SAFETY: the mmap lock is held (type invariant).
        unsafe { vdso(self.mm) }
    }

    /// Its layout, as [`MmapReadGuard::layout`] reads it.
    pub fn layout(&self) -> Layout {
        // SAFETY: the mm is valid and its mmap lock held (type invariant).
        unsafe { layout(addr_of!((*self.mm.as_raw()).__bindgen_anon_1)) }
    }

    /// Sets its layout; `EINVAL` (and nothing set) for a range that ends before it starts, or
    /// an address at or above its task size. Taken under `arg_lock` too, as
    /// `prctl(PR_SET_MM)` sets it and `/proc/PID/cmdline` reads it.
    pub fn set_layout(&mut self, l: &Layout) -> Result {
        if !l.is_within(self.mm.task_size() as usize) {
            return Err(EINVAL);
        }
        // SAFETY: only the address is taken; the mm is valid (type invariant).
        let m = unsafe { addr_of_mut!((*self.mm.as_raw()).__bindgen_anon_1) };
        // SAFETY: the mm is valid and its mmap lock held for writing (type invariant);
        // `arg_lock` is taken and released here; the fields are written through raw pointers,
        // each once, as readers without the locks (`/proc/PID/auxv`) read them.
        unsafe {
            let lock = addr_of_mut!((*m).arg_lock);
            bindings::spin_lock(lock);
            let w = |f: *mut usize, v: usize| f.write_volatile(v);
            w(addr_of_mut!((*m).start_code), l.code.start);
            w(addr_of_mut!((*m).end_code), l.code.end);
            w(addr_of_mut!((*m).start_data), l.data.start);
            w(addr_of_mut!((*m).end_data), l.data.end);
            w(addr_of_mut!((*m).start_brk), l.brk.start);
            w(addr_of_mut!((*m).brk), l.brk.end);
            w(addr_of_mut!((*m).start_stack), l.start_stack);
            w(addr_of_mut!((*m).arg_start), l.args.start);
            w(addr_of_mut!((*m).arg_end), l.args.end);
            w(addr_of_mut!((*m).env_start), l.env.start);
            w(addr_of_mut!((*m).env_end), l.env.end);
            w(addr_of_mut!((*m).mmap_base), l.mmap_base);
            bindings::spin_unlock(lock);
            let saved = addr_of_mut!((*m).saved_auxv).cast::<usize>();
            for (i, &v) in l.auxv.iter().enumerate() {
                w(saved.add(i), v as usize);
            }
        }
        Ok(())
    }

    /// Sets `set` and clears `clear` in the huge page advice (`VM_HUGEPAGE`,
    /// `VM_NOHUGEPAGE`) of the mapping that starts at `start`, as `vm_flags_mod()` does;
    /// `false` if none starts there, or if the bits are not only those: the others carry
    /// invariants (accounting, special mappings) that this does not keep.
    pub fn mod_hugepage_flags(&mut self, start: usize, set: u64, clear: u64) -> bool {
        let advice = (bindings::VM_HUGEPAGE | bindings::VM_NOHUGEPAGE) as u64;
        if (set | clear) & !advice != 0 {
            return false;
        }
        let Some(vma) = self.vma_lookup(start).filter(|v| v.start() == start) else {
            return false;
        };
        // SAFETY: a mapping of this address space, whose mmap lock is held for writing (type
        // invariant), as `vm_flags_mod()` asks.
        unsafe { bindings::vm_flags_mod(vma.as_ptr(), set as _, clear as _) };
        true
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held (type invariant) and released once, here.
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
    }
}

/// Sets the `MMF_*` bits of `mask` to those of `bits` in `mm`; `EINVAL` if `mask` has a bit a
/// process does not set for itself (see [`MmWithUser::set_init_flags`]).
fn update_init_flags(mm: &MmWithUser, mask: u64, bits: u64) -> Result {
    let init = (bindings::MMF_DUMPABLE_MASK
        | bindings::MMF_DUMP_FILTER_MASK
        | 1 << bindings::MMF_DISABLE_THP
        | 1 << bindings::MMF_HAS_MDWE
        | 1 << bindings::MMF_HAS_MDWE_NO_INHERIT
        | 1 << bindings::MMF_VM_MERGE_ANY
        | 1 << bindings::MMF_TOPDOWN) as u64;
    if mask & !init != 0 {
        return Err(EINVAL);
    }
    let (mask, bits) = (mask as usize, (bits & mask) as usize);
    let _ = mm
        .flags_word()
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            Some(old & !mask | bits)
        });
    Ok(())
}

/// `EINVAL` unless the current task is a user task with an address space of its own: the
/// functions that act on `current->mm` assume one, which a kernel thread has not (or only
/// borrowed).
fn current_is_user() -> Result {
    // SAFETY: the current task is valid while it runs; only it changes its own `mm`, and its
    // flags' `PF_KTHREAD` is fixed.
    let user = unsafe {
        let t = bindings::get_current();
        (*t).flags & bindings::PF_KTHREAD == 0 && !(*t).mm.is_null()
    };
    match user {
        true => Ok(()),
        false => Err(EINVAL),
    }
}

/// The current task's `mm`, only for comparing: NULL for a kernel thread.
fn current_mm() -> *mut bindings::mm_struct {
    // SAFETY: the current task is valid, and only it changes its own `mm`.
    unsafe { (*bindings::get_current()).mm }
}

/// [`MmapReadGuard::layout`] for the guards.
///
/// # Safety
///
/// `m` must be the fields of a valid mm whose mmap lock is held.
unsafe fn layout(m: *const bindings::mm_struct__bindgen_ty_1) -> Layout {
    let mut auxv = [0u64; AUXV_WORDS];
    // SAFETY: the mm is valid, per the caller; `arg_lock` is taken and released here, and the
    // fields are read through raw pointers, each once.
    unsafe {
        let lock = addr_of_mut!((*m.cast_mut()).arg_lock);
        bindings::spin_lock(lock);
        let r = |f: *const usize| f.read_volatile();
        let layout = Layout {
            code: r(addr_of!((*m).start_code))..r(addr_of!((*m).end_code)),
            data: r(addr_of!((*m).start_data))..r(addr_of!((*m).end_data)),
            brk: r(addr_of!((*m).start_brk))..r(addr_of!((*m).brk)),
            start_stack: r(addr_of!((*m).start_stack)),
            args: r(addr_of!((*m).arg_start))..r(addr_of!((*m).arg_end)),
            env: r(addr_of!((*m).env_start))..r(addr_of!((*m).env_end)),
            mmap_base: r(addr_of!((*m).mmap_base)),
            auxv: [0; AUXV_WORDS],
        };
        bindings::spin_unlock(lock);
        let saved = addr_of!((*m).saved_auxv).cast::<usize>();
        for (i, w) in auxv.iter_mut().enumerate() {
            *w = saved.add(i).read_volatile() as u64;
        }
        Layout { auxv, ..layout }
    }
}

/// `find_vma()` for the guards.
///
/// # Safety
///
/// The mmap lock of `mm` must be held for the whole of `'g`.
unsafe fn find_vma<'g>(mm: &MmWithUser, addr: usize) -> Option<&'g VmaRef> {
    // SAFETY: the mmap lock is held, per the caller.
    let vma = unsafe { bindings::find_vma(mm.as_raw(), addr) };
    // SAFETY: a mapping found under the mmap lock stays valid while it is held, for `'g`.
    (!vma.is_null()).then(|| unsafe { VmaRef::from_raw(vma) })
}

/// `mm->context.vdso` for the guards.
///
/// # Safety
///
/// The mmap lock of `mm` must be held: the vDSO is mapped and moved under it.
unsafe fn vdso(mm: &MmWithUser) -> usize {
    // SAFETY: the mm is valid, and the field stable under the lock, per the caller.
    unsafe { (*mm.as_raw()).__bindgen_anon_1.context.vdso as usize }
}

/// The mappings of an address space in address order, under its mmap lock.
pub struct Vmas<'a> {
    guard: &'a MmapReadGuard<'a>,
    addr: usize,
    done: bool,
}

impl<'a> Iterator for Vmas<'a> {
    type Item = &'a VmaRef;

    fn next(&mut self) -> Option<&'a VmaRef> {
        if self.done {
            return None;
        }
        let vma = self.guard.find_vma(self.addr);
        match vma {
            Some(v) => self.addr = v.end(),
            None => self.done = true,
        }
        vma
    }
}
