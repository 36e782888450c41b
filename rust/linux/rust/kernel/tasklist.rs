// SPDX-License-Identifier: GPL-2.0

//! The task list lock (`tasklist_lock`) and what it keeps still: who is whose parent and
//! child, the threads of each process, and the `struct pid`s tasks are attached to.
//!
//! A task cannot leave its parent's list of children, its process's list of threads or a pid
//! it is attached to without this lock held for writing, and is not freed before it has
//! left them: the references this module hands out live as long as the guard they come from.
//!
//! C headers: [`include/linux/sched/task.h`](srctree/include/linux/sched/task.h),
//! [`include/linux/pid.h`](srctree/include/linux/pid.h)

use crate::{
    bindings,
    pid::{Pid, PidType},
    task::Task,
};
use core::{
    marker::PhantomData,
    ptr::{addr_of, addr_of_mut},
};

mod private {
    pub trait Sealed {}
}

/// How `tasklist_lock` is held.
pub trait Mode: private::Sealed {
    /// Releases the lock held this way.
    ///
    /// # Safety
    ///
    /// The current task must hold the lock this way.
    unsafe fn unlock();
}

/// Held for reading: tasks do not move, but a parent may reap a zombie meanwhile (it marks
/// it `EXIT_DEAD` under the read lock, then releases it under the write lock).
pub struct Read;

/// Held for writing, interrupts off: nothing else changes what the lock protects.
pub struct WriteIrq;

impl private::Sealed for Read {}
impl private::Sealed for WriteIrq {}

impl Mode for Read {
    unsafe fn unlock() {
        // SAFETY: held for reading, per the caller.
        unsafe { bindings::read_unlock_tasklist() };
    }
}

impl Mode for WriteIrq {
    unsafe fn unlock() {
        // SAFETY: held for writing with interrupts off, per the caller.
        unsafe { bindings::write_unlock_irq_tasklist() };
    }
}

/// `tasklist_lock`, held. Code run under it must not sleep.
///
/// # Invariants
///
/// The current task holds `tasklist_lock` in mode `M` for as long as the guard exists; the
/// guard is neither `Send` nor `Sync`, so the task that took the lock releases it.
pub struct TasklistGuard<M: Mode> {
    _mode: PhantomData<M>,
    _not_send: PhantomData<*mut ()>,
}

/// Takes `tasklist_lock` for reading.
pub fn read() -> TasklistGuard<Read> {
    // SAFETY: released by the guard's drop.
    unsafe { bindings::read_lock_tasklist() };
    // INVARIANT: taken for reading above.
    TasklistGuard {
        _mode: PhantomData,
        _not_send: PhantomData,
    }
}

/// Takes `tasklist_lock` for writing, with interrupts off; they must be on, as dropping the
/// guard turns them back on.
pub fn write_irq() -> TasklistGuard<WriteIrq> {
    // SAFETY: released by the guard's drop.
    unsafe { bindings::write_lock_irq_tasklist() };
    // INVARIANT: taken for writing above.
    TasklistGuard {
        _mode: PhantomData,
        _not_send: PhantomData,
    }
}

impl<M: Mode> Drop for TasklistGuard<M> {
    fn drop(&mut self) {
        // SAFETY: held in mode `M` (type invariant).
        unsafe { M::unlock() };
    }
}

/// The tasks of a kernel list threaded through their member at byte offset `off`.
pub struct Tasks<'a> {
    head: *mut bindings::list_head,
    node: *mut bindings::list_head,
    off: usize,
    _guard: PhantomData<&'a ()>,
}

impl<'a> Iterator for Tasks<'a> {
    type Item = &'a Task;

    fn next(&mut self) -> Option<&'a Task> {
        if self.node == self.head {
            return None;
        }
        // SAFETY: the list is stable while the guard `'a` borrows is held, and its nodes are
        // the member at `off` of valid tasks (see where `Tasks` is made); `Task` is a
        // transparent wrapper of `task_struct`.
        unsafe {
            let task = &*self.node.cast::<u8>().sub(self.off).cast::<Task>();
            self.node = (*self.node).next;
            Some(task)
        }
    }
}

impl<M: Mode> TasklistGuard<M> {
    /// Tasks linked through their member at `off` on the list at `head`, in `task`.
    ///
    /// # Safety
    ///
    /// `head` must be a list of tasks linked through their member at offset `off` that
    /// `tasklist_lock` protects, in a task valid for `'a`.
    unsafe fn tasks<'a>(&'a self, head: *mut bindings::list_head, off: usize) -> Tasks<'a> {
        Tasks {
            head,
            // SAFETY: the list is valid and stable, per the caller.
            node: unsafe { (*head).next },
            off,
            _guard: PhantomData,
        }
    }

    /// The processes whose parent `task` is: the thread group leaders on its list of
    /// children (each thread has its own), dead ones not yet released among them.
    pub fn children<'a>(&'a self, task: &'a Task) -> Tasks<'a> {
        // SAFETY: a task's children are linked through their `sibling` under this lock.
        unsafe {
            self.tasks(
                addr_of_mut!((*task.as_ptr()).children),
                core::mem::offset_of!(bindings::task_struct, sibling),
            )
        }
    }

    /// The threads of `task`'s process not yet released, its leader among them while it is
    /// not.
    pub fn threads<'a>(&'a self, task: &'a Task) -> Tasks<'a> {
        // SAFETY: a task's signal struct lives as long as the task; the threads are linked
        // through their `thread_node` under this lock.
        unsafe {
            self.tasks(
                addr_of_mut!((*(*task.as_ptr()).signal).thread_head),
                core::mem::offset_of!(bindings::task_struct, thread_node),
            )
        }
    }

    /// The pid that `task` goes by as `ty`: `None` for its own once it has been released,
    /// and for its process's group and session once its process has. A thread's process,
    /// process group and session are its leader's.
    pub fn pid_of<'a>(&'a self, task: &'a Task, ty: PidType) -> Option<&'a Pid> {
        let t = task.as_ptr();
        // SAFETY: the task and its signal struct are valid; `change_pid()` and release
        // change these pointers only under this lock held for writing.
        let pid = unsafe {
            match ty {
                PidType::Pid => addr_of!((*t).thread_pid).read(),
                _ => addr_of!((*(*t).signal).pids[ty.raw() as usize]).read(),
            }
        };
        // SAFETY: a pid is not freed while a task is attached to it, which cannot change
        // while the guard lives; `Pid` is a transparent wrapper of `struct pid`.
        (!pid.is_null()).then(|| unsafe { &*pid.cast::<Pid>() })
    }

    /// The task whose own pid `pid` is, if it has not been released.
    pub fn task_of<'a>(&'a self, pid: &'a Pid) -> Option<&'a Task> {
        // SAFETY: `pid_task()` may be called under `tasklist_lock`; the pid is valid.
        let t = unsafe { bindings::pid_task(pid.as_ptr(), bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: the task is attached to `pid`, so valid while the guard lives.
        (!t.is_null()).then(|| unsafe { &*t.cast::<Task>() })
    }

    /// How many tasks are attached to `pid` as `ty`: for a process group or a session, how
    /// many processes it holds.
    pub fn count_attached(&self, pid: &Pid, ty: PidType) -> usize {
        let mut n = 0;
        // SAFETY: the pid is valid; its task lists change only under this lock held for
        // writing.
        unsafe {
            let mut node = (*pid.as_ptr()).tasks[ty.raw() as usize].first;
            while !node.is_null() {
                n += 1;
                node = (*node).next;
            }
        }
        n
    }
}

/// A process group or session to put a process in, by what keeps its pid: a task it is
/// attached to, or its reservation. It is looked up under the lock by the method it is
/// passed to, so that it is the pid in use at that moment.
#[cfg(CONFIG_CHECKPOINT)]
#[derive(Clone, Copy)]
pub enum Group<'a> {
    /// The one `task` goes by as `ty`.
    Of(&'a Task, PidType),
    /// A reserved one.
    Reserved(&'a crate::pid::ReservedPid),
}

/// `restart_reparent()` or its `can_` twin.
#[cfg(CONFIG_CHECKPOINT)]
type ReparentFn =
    unsafe extern "C" fn(*mut bindings::task_struct, *mut bindings::task_struct, i32) -> i32;

/// `restart_set_pgrp_session()` or its `can_` twin.
#[cfg(CONFIG_CHECKPOINT)]
type PgrpSessionFn = unsafe extern "C" fn(
    *mut bindings::task_struct,
    *mut bindings::pid,
    *mut bindings::pid,
    bool,
) -> i32;

/// What restart(2) changes, under the lock held for writing. The changes take `&mut self`:
/// no task or pid borrowed from the guard lives across one. Each has a `can_` twin that
/// checks it without acting, so that a whole tree can be checked before any of it moves.
#[cfg(CONFIG_CHECKPOINT)]
impl TasklistGuard<WriteIrq> {
    fn call_reparent(
        &self,
        f: ReparentFn,
        task: &Task,
        parent: Option<&Task>,
        exit_signal: i32,
    ) -> crate::error::Result {
        let parent = parent.map_or(core::ptr::null_mut(), Task::as_ptr);
        // SAFETY: the task is valid, and so is the parent if given; the lock is held for
        // writing, as both callees ask. `restart_reparent()` checks what its twin does first.
        crate::error::to_result(unsafe { f(task.as_ptr(), parent, exit_signal) })
    }

    /// Whether [`Self::reparent`] would move `task`: `Err` with what it would return.
    pub fn can_reparent(
        &self,
        task: &Task,
        parent: Option<&Task>,
        exit_signal: i32,
    ) -> crate::error::Result {
        self.call_reparent(bindings::restart_can_reparent, task, parent, exit_signal)
    }

    /// Makes the process `task` leads, a child of the caller's process that restart(2)
    /// created, the child of `parent`, or keeps it the caller's for `None`, with
    /// `exit_signal` (`restart_reparent()`). `EBUSY` if a thread of it is ptraced or has
    /// children, `EAGAIN` if it is being released, `EINVAL` if it is not such a child, if
    /// `parent` has exited, is a kernel thread, is in `task`'s process or in a pid namespace
    /// `task`'s is not in, or if the signal is not one (or, keeping the caller, neither
    /// SIGCHLD nor 0).
    pub fn reparent(
        &mut self,
        task: &Task,
        parent: Option<&Task>,
        exit_signal: i32,
    ) -> crate::error::Result {
        self.call_reparent(bindings::restart_reparent, task, parent, exit_signal)
    }

    /// The pid `g` names now; `None` if the task it is taken from has been released.
    fn group(&self, g: Group<'_>) -> Option<*mut bindings::pid> {
        match g {
            Group::Of(t, ty) => self.pid_of(t, ty).map(Pid::as_ptr),
            Group::Reserved(r) => Some(r.as_ptr()),
        }
    }

    fn call_pgrp_session(
        &self,
        f: PgrpSessionFn,
        task: &Task,
        pgrp: Group<'_>,
        session: Group<'_>,
        leader: bool,
    ) -> crate::error::Result {
        let (Some(pgrp), Some(session)) = (self.group(pgrp), self.group(session)) else {
            return Err(crate::error::code::ESRCH);
        };
        // SAFETY: the task is valid; so are both pids, each attached to a task (stable under
        // the lock) or held by its reservation; the lock is held for writing, as both callees
        // ask. `restart_set_pgrp_session()` checks what its twin does first.
        crate::error::to_result(unsafe { f(task.as_ptr(), pgrp, session, leader) })
    }

    /// Whether [`Self::set_pgrp_session`] would move `task`: `Err` with what it would
    /// return.
    pub fn can_set_pgrp_session(
        &self,
        task: &Task,
        pgrp: Group<'_>,
        session: Group<'_>,
        leader: bool,
    ) -> crate::error::Result {
        let f = bindings::restart_can_set_pgrp_session;
        self.call_pgrp_session(f, task, pgrp, session, leader)
    }

    /// Puts the process `task` leads, a child of the caller's process, in process group
    /// `pgrp` and session `session`, as setpgid() and setsid() would have
    /// (`restart_set_pgrp_session()`); with `leader`, it leads the session, which must then
    /// be its own pid and its group's. `EINVAL` if `task` is not such a child, if the
    /// session is not its own with `leader`, or if `pgrp` is its session now but not its new
    /// one (leaving it may free it); `ESRCH` if it has been released or a pid is no longer
    /// in use.
    pub fn set_pgrp_session(
        &mut self,
        task: &Task,
        pgrp: Group<'_>,
        session: Group<'_>,
        leader: bool,
    ) -> crate::error::Result {
        let f = bindings::restart_set_pgrp_session;
        self.call_pgrp_session(f, task, pgrp, session, leader)?;
        for g in [pgrp, session] {
            if let Group::Reserved(r) = g {
                r.set_attached();
            }
        }
        Ok(())
    }
}
