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
        code::{EINTR, EINVAL},
        to_result, Error, Result,
    },
    fs::file::File,
    task::Task,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{marker::PhantomData, ops::Range, ptr::NonNull};

pub mod virt;
use virt::VmaRef;

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
        // SAFETY: the mm is valid (type invariant); the callee takes its own user.
        to_result(unsafe { bindings::restart_share_mm(self.as_raw()) })
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
        let (start, end, _) = self.brk_and_stack();
        start..end
    }

    /// The start of the main thread's stack, as exec set it up.
    pub fn start_stack(&self) -> usize {
        self.brk_and_stack().2
    }

    /// `start_brk`, `brk` and `start_stack`, which `brk()` changes under the mmap lock held
    /// for writing, but prctl(PR_SET_MM) under `arg_lock` with the mmap lock held for reading,
    /// and exec before the mm is used: read under `arg_lock`, each once.
    fn brk_and_stack(&self) -> (usize, usize, usize) {
        let m = self.fields();
        // SAFETY: the mm is valid (type invariant of `MmWithUser`); `arg_lock` is taken and
        // released here, and the fields are read through raw pointers.
        unsafe {
            let lock = core::ptr::addr_of_mut!((*m.cast_mut()).arg_lock);
            bindings::spin_lock(lock);
            let r = (
                core::ptr::addr_of!((*m).start_brk).read_volatile(),
                core::ptr::addr_of!((*m).brk).read_volatile(),
                core::ptr::addr_of!((*m).start_stack).read_volatile(),
            );
            bindings::spin_unlock(lock);
            r
        }
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

    /// The executable file's pointer, only for comparing (`exe_file` changes only under the
    /// mmap lock held for writing, but the file is not counted here).
    pub fn exe_file_ptr(&self) -> *mut bindings::file {
        // SAFETY: the mm is valid; `exe_file` changes only under the mmap lock held for
        // writing.
        unsafe { (*self.fields()).exe_file }
    }

    /// Pins the pages mapped from `addr` into `pages`, one per entry, as
    /// `get_user_pages_remote()` does with `gup_flags`; the number pinned, from the first.
    /// The first that many entries of `pages` then hold page references the caller must put;
    /// the others are left as they were.
    pub fn get_user_pages(
        &self,
        addr: usize,
        gup_flags: u32,
        pages: &mut [*mut bindings::page],
    ) -> Result<usize> {
        // SAFETY: the mmap lock is held (type invariant); `pages` has room for as many
        // entries as asked for.
        let n = unsafe {
            bindings::get_user_pages_remote(
                self.mm.as_raw(),
                addr,
                pages.len(),
                gup_flags,
                pages.as_mut_ptr(),
                core::ptr::null_mut(),
            )
        };
        to_result(n.min(0) as i32)?;
        Ok(n as usize)
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

/// The current task's `mm`, only for comparing: NULL for a kernel thread.
fn current_mm() -> *mut bindings::mm_struct {
    // SAFETY: the current task is valid, and only it changes its own `mm`.
    unsafe { (*bindings::get_current()).mm }
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
