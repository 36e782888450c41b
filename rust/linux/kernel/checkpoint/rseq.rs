// SPDX-License-Identifier: GPL-2.0

//! A thread's restartable-sequences registration (rseq(2)).
//!
//! glibc since 2.35 registers an area for every thread it starts, and then reads the current
//! CPU from it (`sched_getcpu()`) and tells per-CPU code that it may run there. A restored
//! thread whose registration was lost would read the CPU numbers the checkpointed one last
//! saw, and its critical sections would never be aborted again.
//!
//! Restart registers the area again in the restored thread itself, with the checks of
//! rseq(2). A critical section the thread was in at checkpoint is aborted on its way back to
//! user mode, as after a migration to another CPU, which it is.

use crate::image::Restorer;
use crate::{abi, log, log::Log, Obj};
use kernel::bindings;
use kernel::prelude::*;
use kernel::task::Task;

/// Fills in the rseq registration of the frozen `task` in its record `rec`.
pub(crate) fn save(task: &Task, rec: &mut abi::Task) {
    let (mut rseq, mut len, mut sig) = (0, 0, 0);
    // SAFETY: `task` is valid; it is frozen, and only it changes its registration.
    if unsafe { bindings::checkpoint_task_rseq(task.as_ptr(), &mut rseq, &mut len, &mut sig) } {
        rec.rseq = rseq;
        rec.rseq_len = len;
        rec.rseq_sig = sig;
    }
}

/// Checks the registration in the record `task`: the area itself is checked when it is
/// registered, as rseq(2) checks it.
pub(crate) fn check(r: &Restorer<'_, Obj>, task: &abi::Task) -> Result {
    if task.rseq == 0 && (task.rseq_len != 0 || task.rseq_sig != 0) {
        return Err(r.bad("rseq length or signature without an area"));
    }
    // What rseq(2) requires of any area: 32 bytes at least, aligned on 32 (the alignment of
    // struct rseq). The rest is checked when it is registered.
    if task.rseq != 0 && (task.rseq % 32 != 0 || task.rseq_len < 32) {
        return Err(r.bad("rseq area alignment or length"));
    }
    Ok(())
}

/// Registers `task`'s rseq area for the current task, which has its address space.
pub(crate) fn restore(log: &Log, task: &abi::Task) -> Result {
    if task.rseq == 0 {
        return Ok(());
    }
    let err = register(task);
    if err == 0 {
        return Ok(());
    }
    let why = if err == -(bindings::ENOSYS as i32) {
        ": this kernel has no rseq (CONFIG_RSEQ)"
    } else {
        ""
    };
    log!(
        log,
        "pid {}: rseq area {:#x} ({} bytes, signature {:#x}): error {err}{why}",
        task.pid,
        task.rseq,
        task.rseq_len,
        task.rseq_sig
    );
    Err(if err == -(bindings::ENOSYS as i32) {
        EOPNOTSUPP
    } else {
        Error::from_errno(err)
    })
}

#[cfg(CONFIG_RSEQ)]
fn register(task: &abi::Task) -> i32 {
    // SAFETY: acts on the current task only; the area is a user address, checked there.
    unsafe {
        bindings::restart_rseq_register(task.rseq as usize as *mut _, task.rseq_len, task.rseq_sig)
    }
}

#[cfg(not(CONFIG_RSEQ))]
fn register(_task: &abi::Task) -> i32 {
    -(bindings::ENOSYS as i32)
}
