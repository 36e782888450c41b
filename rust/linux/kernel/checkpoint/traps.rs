// SPDX-License-Identifier: GPL-2.0

//! What a thread's own instructions trap on: rdtsc (`PR_SET_TSC`), cpuid (`ARCH_SET_CPUID`)
//! and system calls made outside a dispatcher region (`PR_SET_SYSCALL_USER_DISPATCH`).
//!
//! Record-and-replay tools make rdtsc and cpuid fault so as to feed the program values of
//! their own; emulators such as Wine dispatch the system calls of foreign code to a SIGSYS
//! handler. A restored thread that lost them would read the real counters, or enter the
//! kernel with calls meant for its handler. All three are per thread. Restart sets them in
//! the restored thread itself, with the checks of the calls that set them, and clears the
//! rdtsc and cpuid modes it would otherwise inherit from the restarter. A thread checkpointed
//! with a dispatched call on its way to the handler has its SIGSYS pending, and gets it.
//!
//! The calls go through the functions prctl() and arch_prctl() use, not those system calls:
//! their LSM hook (`security_task_prctl`) is not consulted, as no module restricts these
//! options.

use crate::image::Restorer;
use crate::{abi, log, log::Log, Obj};
use kernel::prelude::*;
use kernel::regs;
use kernel::task::Task;

/// Fills in what the frozen `task` traps on in its record `rec`.
pub(crate) fn save(task: &Task, rec: &mut abi::Task) {
    let traps = task.traps();
    if traps.notsc {
        rec.flags |= abi::TASK_F_NOTSC;
    }
    if traps.nocpuid {
        rec.flags |= abi::TASK_F_NOCPUID;
    }
    if let Some((selector, offset, len)) = traps.dispatch {
        rec.flags |= abi::TASK_F_SYSCALL_DISPATCH;
        (rec.sud_selector, rec.sud_offset, rec.sud_len) = (selector, offset, len);
    }
}

/// Checks the record `task`: a dispatcher region only with dispatch on, and one that does
/// not wrap, as prctl(2) requires. The selector is checked when it is set.
pub(crate) fn check(r: &Restorer<'_, Obj>, task: &abi::Task) -> Result {
    if task.flags & abi::TASK_F_SYSCALL_DISPATCH == 0 {
        if task.sud_selector != 0 || task.sud_offset != 0 || task.sud_len != 0 {
            return Err(r.bad("syscall dispatch selector or region without dispatch on"));
        }
        return Ok(());
    }
    if task.sud_offset != 0
        && task
            .sud_offset
            .checked_add(task.sud_len)
            .map_or(true, |end| end <= task.sud_offset)
    {
        return Err(r.bad("syscall dispatch region"));
    }
    Ok(())
}

/// Gives the current task what `task` traps on; it has its address space.
pub(crate) fn restore(log: &Log, task: &abi::Task) -> Result {
    let (notsc, nocpuid) = (
        task.flags & abi::TASK_F_NOTSC != 0,
        task.flags & abi::TASK_F_NOCPUID != 0,
    );
    if let Err(e) = regs::set_traps(notsc, nocpuid) {
        let why = if e == ENODEV {
            ": this CPU cannot make cpuid fault"
        } else {
            ""
        };
        log!(
            log,
            "pid {}: rdtsc faults: {notsc}, cpuid faults: {nocpuid}: error {}{why}",
            task.pid,
            e.to_errno()
        );
        return Err(if e == ENODEV { EOPNOTSUPP } else { e });
    }
    if task.flags & abi::TASK_F_SYSCALL_DISPATCH == 0 {
        return Ok(());
    }
    if let Err(e) = regs::set_syscall_dispatch(task.sud_selector, task.sud_offset, task.sud_len) {
        log!(
            log,
            "pid {}: syscall dispatch (selector {:#x}, region {:#x}, {} bytes): error {}",
            task.pid,
            task.sud_selector,
            task.sud_offset,
            task.sud_len,
            e.to_errno()
        );
        // EFAULT: a selector beyond user space, which only a bad image holds.
        return Err(if e == EFAULT { EINVAL } else { e });
    }
    Ok(())
}
