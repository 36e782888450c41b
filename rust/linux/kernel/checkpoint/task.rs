// SPDX-License-Identifier: GPL-2.0

//! Tasks: finding the tree to checkpoint and checking the caller's rights over it.

use crate::{abi, log, log::Log};
use kernel::prelude::*;
use kernel::{task::Task, types::ARef};

/// Looks up the root of the tree to checkpoint and checks that the caller may act on it.
pub(crate) fn checkpoint_root(log: &Log, pid: i32, flags: u32) -> Result<ARef<Task>> {
    let Some(task) = Task::from_vpid(pid) else {
        log!(log, "pid {pid}: no such process");
        return Err(ESRCH);
    };
    if task.is_kthread() {
        log!(log, "pid {pid}: is a kernel thread");
        return Err(EPERM);
    }
    if !task.may_ptrace_attach() {
        log!(log, "pid {pid}: no ptrace-attach rights over it");
        return Err(EPERM);
    }
    if task.same_thread_group(kernel::current!()) {
        log!(log, "pid {pid}: a process cannot checkpoint itself");
        return Err(EINVAL);
    }
    if flags & abi::CKPT_SUBTREE == 0 && !task.is_pid_ns_init() {
        log!(log, "pid {pid}: not the init of a pid namespace (use CKPT_SUBTREE for a subtree)");
        return Err(EINVAL);
    }
    Ok(task)
}
