// SPDX-License-Identifier: GPL-2.0

//! The task lock (`task_lock()`, `alloc_lock`) and what it keeps from being released or
//! replaced while it is held: a task's fd table, fs, address space and name.
//!
//! C header: [`include/linux/sched/task.h`](srctree/include/linux/sched/task.h)

use crate::{
    bindings,
    fs::{fdtable::FilesStruct, fs_struct::FsStruct},
    mm::MmWithUser,
    task::Task,
};
use core::{marker::PhantomData, ptr::addr_of};

/// A task's lock, held. Nothing under it may sleep.
///
/// # Invariants
///
/// The task lock of `task` is held for as long as the guard exists: `exit_files()`,
/// `exit_fs()` and `exit_mm()` clear the task's pointers under it before they drop their
/// references, and `unshare()` and exec replace them under it too. The guard is neither
/// `Send` nor `Sync`: the task that took the lock releases it.
pub struct TaskLockGuard<'a> {
    task: &'a Task,
    _not_send: PhantomData<*mut ()>,
}

impl Task {
    /// Takes the task's lock.
    pub fn lock(&self) -> TaskLockGuard<'_> {
        // SAFETY: the task is valid; the lock is released by the guard.
        unsafe { bindings::task_lock(self.as_ptr()) };
        // INVARIANT: taken above.
        TaskLockGuard {
            task: self,
            _not_send: PhantomData,
        }
    }
}

impl Drop for TaskLockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: held (type invariant).
        unsafe { bindings::task_unlock(self.task.as_ptr()) };
    }
}

impl TaskLockGuard<'_> {
    fn t(&self) -> *mut bindings::task_struct {
        self.task.as_ptr()
    }

    /// The task's fd table; `None` once it has exited.
    pub fn files(&self) -> Option<&FilesStruct> {
        // SAFETY: the task is valid; its `files` is stable under the lock (type invariant).
        let files = unsafe { addr_of!((*self.t()).files).read() };
        // SAFETY: while the task points at it under the lock, the table holds the task's
        // reference; `FilesStruct` is transparent.
        (!files.is_null()).then(|| unsafe { &*files.cast::<FilesStruct>() })
    }

    /// The task's root, cwd and umask; `None` once it has exited.
    pub fn fs(&self) -> Option<&FsStruct> {
        // SAFETY: as in `files`.
        let fs = unsafe { addr_of!((*self.t()).fs).read() };
        // SAFETY: as in `files`; `FsStruct` is transparent.
        (!fs.is_null()).then(|| unsafe { &*fs.cast::<FsStruct>() })
    }

    /// The task's address space, as one of its users; `None` for a kernel thread or once it
    /// has exited.
    pub fn mm(&self) -> Option<&MmWithUser> {
        // SAFETY: as in `files`.
        let mm = unsafe { addr_of!((*self.t()).mm).read() };
        if mm.is_null() {
            return None;
        }
        // SAFETY: while the task points at it under the lock, the task is one of its users
        // (`mm_users`).
        Some(unsafe { MmWithUser::from_raw(mm) })
    }

    /// Makes the task point at no completion for a vfork() parent to wait on
    /// (`vfork_done`): the parent is going away.
    pub fn clear_vfork_done(&self) {
        // SAFETY: the task is valid; `vfork_done` is written under this lock, as in
        // kernel/fork.c.
        unsafe { core::ptr::addr_of_mut!((*self.t()).vfork_done).write(core::ptr::null_mut()) };
    }

    /// Makes the task complete `done` when it execs or exits (`vfork_done`), as a vfork()
    /// child completes its parent's.
    ///
    /// # Safety
    ///
    /// `done` must stay valid until the task completes it or it is cleared with
    /// [`Self::clear_vfork_done`].
    pub unsafe fn set_vfork_done(&self, done: *mut bindings::completion) {
        // SAFETY: as in `clear_vfork_done`; `done` outlives its use, per the caller.
        unsafe { core::ptr::addr_of_mut!((*self.t()).vfork_done).write(done) };
    }

    /// The task's name (`comm`), NUL-padded, as `get_task_comm()` copies it.
    pub fn comm(&self) -> [u8; 16] {
        // SAFETY: the task is valid; `__set_task_comm()` writes the name under this lock.
        unsafe { addr_of!((*self.t()).comm).read() }
    }
}
