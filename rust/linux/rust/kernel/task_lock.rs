// SPDX-License-Identifier: GPL-2.0

//! The task lock (`task_lock()`, `alloc_lock`) and what it keeps from being released or
//! replaced while it is held: a task's fd table, fs, address space and name, and the
//! completion a vfork child signals.
//!
//! C header: [`include/linux/sched/task.h`](srctree/include/linux/sched/task.h)

use crate::{bindings, task::Task};
use core::{marker::PhantomData, ptr::addr_of};

/// An object a task holds by reference (its fd table, fs or address space), as seen under
/// the task's lock: its address, only to compare with what other tasks hold, and how many
/// users it has then. The object itself is not lent out: nothing that sleeps or takes a lock
/// of its own can be called on it under the task lock.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    /// Its address.
    pub addr: usize,
    /// Its users (tasks, and for an address space passing readers too), a snapshot.
    pub users: i32,
}

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

impl Task {
    /// The address of the completion the task completes when it execs or exits
    /// (`vfork_done`), 0 for none: read racily, only to compare.
    pub fn vfork_done_addr(&self) -> usize {
        // SAFETY: the task is valid; the pointer is one word, read once and not followed.
        unsafe { addr_of!((*self.as_ptr()).vfork_done).read_volatile() as usize }
    }

    /// The addresses of the task's kernel stack below its saved user registers, where the
    /// completion of a vfork() it waits in lives: only to compare. Empty once a dead task's
    /// stack is freed.
    pub fn kernel_stack(&self) -> core::ops::Range<usize> {
        let t = self.as_ptr();
        // SAFETY: the task is valid; `stack` is set at fork and only cleared (with
        // `CONFIG_THREAD_INFO_IN_TASK`) once the task is dead. Neither address is followed.
        let (low, high) = unsafe {
            let low = addr_of!((*t).stack).read_volatile() as usize;
            (low, bindings::task_pt_regs(t) as usize)
        };
        match low {
            0 => 0..0,
            _ => low..high,
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
    pub fn files(&self) -> Option<Held> {
        // SAFETY: the task is valid; its `files` is stable under the lock (type invariant).
        let files = unsafe { addr_of!((*self.t()).files).read() };
        (!files.is_null()).then(|| Held {
            addr: files as usize,
            // SAFETY: while the task points at it under the lock, the table holds the task's
            // reference; its count is read once.
            users: unsafe { addr_of!((*files).count.counter).read_volatile() },
        })
    }

    /// The task's root, cwd and umask; `None` once it has exited.
    pub fn fs(&self) -> Option<Held> {
        // SAFETY: as in `files`.
        let fs = unsafe { addr_of!((*self.t()).fs).read() };
        (!fs.is_null()).then(|| Held {
            addr: fs as usize,
            // SAFETY: as in `files`; `users` is written under the fs_struct's lock, read once.
            users: unsafe { addr_of!((*fs).users).read_volatile() },
        })
    }

    /// The task's address space; `None` for a kernel thread (which may borrow one it holds
    /// no user of, `kthread_use_mm()`) or once it has exited.
    pub fn mm(&self) -> Option<Held> {
        // SAFETY: as in `files`; `flags` is the task's own, read once.
        let (mm, flags) = unsafe {
            (
                addr_of!((*self.t()).mm).read(),
                addr_of!((*self.t()).flags).read_volatile(),
            )
        };
        if mm.is_null() || flags & bindings::PF_KTHREAD != 0 {
            return None;
        }
        // SAFETY: while a user task points at it under the lock, it is one of its users.
        let users = unsafe { addr_of!((*mm).__bindgen_anon_1.mm_users.counter).read_volatile() };
        Some(Held {
            addr: mm as usize,
            users,
        })
    }

    /// Makes a user task point at no completion for a vfork() parent to wait on
    /// (`vfork_done`): the parent is going away. A kernel thread's, which `kthread_stop()`
    /// waits on, is left alone.
    pub fn clear_vfork_done(&self) {
        // SAFETY: the task is valid; `flags` is the task's own, read once.
        if unsafe { addr_of!((*self.t()).flags).read_volatile() } & bindings::PF_KTHREAD != 0 {
            return;
        }
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
