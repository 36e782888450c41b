// SPDX-License-Identifier: GPL-2.0

//! Pid lookup and the per-task checks needed to act on another task from outside.
//!
//! C headers: [`include/linux/pid.h`](srctree/include/linux/pid.h),
//! [`include/linux/ptrace.h`](srctree/include/linux/ptrace.h)

use crate::{bindings, sync::rcu, task::Task, types::ARef};
use core::ptr::{self, NonNull};

// `task_struct` fields read directly from Rust. bindgen has been seen to lay this struct out
// wrongly (an empty `____cacheline_aligned` member), so a mismatch must fail the build.
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, pid) == bindings::OFFSETOF_TASK_STRUCT_PID
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, flags) == bindings::OFFSETOF_TASK_STRUCT_FLAGS
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, group_leader)
        == bindings::OFFSETOF_TASK_STRUCT_GROUP_LEADER
);

impl Task {
    /// Looks up the task with pid `nr` in the caller's pid namespace and takes a reference on it.
    pub fn from_vpid(nr: i32) -> Option<ARef<Task>> {
        if nr <= 0 {
            return None;
        }
        // SAFETY: `find_get_pid` accepts any number and returns a counted `struct pid` or NULL.
        let pid = NonNull::new(unsafe { bindings::find_get_pid(nr) })?;
        // SAFETY: `pid` is valid and counted; `get_pid_task` returns a counted task or NULL.
        let task = unsafe { bindings::get_pid_task(pid.as_ptr(), bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: drops the reference taken by `find_get_pid` above.
        unsafe { bindings::put_pid(pid.as_ptr()) };
        let task = NonNull::new(task)?;
        // SAFETY: `get_pid_task` took the reference that the `ARef` now owns, and `Task` is a
        // transparent wrapper of `task_struct`.
        Some(unsafe { ARef::from_raw(task.cast()) })
    }

    /// Returns the raw `task_struct` pointer, for code that reads fields the safe wrapper
    /// does not cover yet.
    pub fn as_ptr(&self) -> *mut bindings::task_struct {
        self.0.get()
    }

    fn flags(&self) -> u32 {
        // SAFETY: by the type invariant `self.0` is a valid task; `flags` is a plain word that
        // only the task itself changes, and a racy read is what the C helpers do as well.
        unsafe { ptr::addr_of!((*self.0.get()).flags).read_volatile() }
    }

    /// Returns whether the task is a kernel thread (it has no user-space state to act on).
    pub fn is_kthread(&self) -> bool {
        self.flags() & bindings::PF_KTHREAD != 0
    }

    /// Returns whether the current task may ptrace-attach to this one, with real credentials.
    pub fn may_ptrace_attach(&self) -> bool {
        // SAFETY: `self.0` is a valid task; `ptrace_may_access` takes the locks it needs.
        unsafe {
            bindings::ptrace_may_access(self.0.get(), bindings::PTRACE_MODE_ATTACH_REALCREDS)
        }
    }

    /// Returns whether `self` and `other` are threads of the same process.
    pub fn same_thread_group(&self, other: &Task) -> bool {
        ptr::eq(self.group_leader(), other.group_leader())
    }

    /// Returns whether the task's process is the init (pid 1) of its own pid namespace.
    pub fn is_pid_ns_init(&self) -> bool {
        let _rcu = rcu::read_lock();
        // SAFETY: `self.0` is valid; under RCU its `struct pid` and that pid's namespace stay
        // alive. A task that has already released its pid yields NULL.
        let ns = unsafe { bindings::task_active_pid_ns(self.0.get()) };
        if ns.is_null() {
            return false;
        }
        // SAFETY: `self.0` and `ns` are valid under RCU (above).
        let nr = unsafe { bindings::__task_pid_nr_ns(self.0.get(), bindings::pid_type_PIDTYPE_TGID, ns) };
        nr == 1
    }
}
