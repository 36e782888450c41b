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
use kernel::prelude::*;
use kernel::regs;
use kernel::task::Task;

/// Fills in the rseq registration of the frozen `task` in its record `rec`.
pub(crate) fn save(task: &Task, rec: &mut abi::Task) {
    if let Some((rseq, len, sig)) = task.rseq() {
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
    let Err(e) = regs::register_rseq(task.rseq, task.rseq_len, task.rseq_sig) else {
        return Ok(());
    };
    let why = if e == EOPNOTSUPP {
        ": this kernel has no rseq (CONFIG_RSEQ)"
    } else {
        ""
    };
    log!(
        log,
        "pid {}: rseq area {:#x} ({} bytes, signature {:#x}): error {}{why}",
        task.pid,
        task.rseq,
        task.rseq_len,
        task.rseq_sig,
        e.to_errno()
    );
    Err(e)
}
