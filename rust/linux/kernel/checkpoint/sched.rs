// SPDX-License-Identifier: GPL-2.0

//! Scheduling state of a task: policy, nice value, real-time priority, reset-on-fork, CPU
//! affinity, timer slack and I/O priority.
//!
//! Checkpoint reads them under the task's `pi_lock`, as the scheduler changes them. Restart
//! sets them as the restored task itself, through `sched_setattr()` and `sched_setaffinity()`
//! with the checks of the system calls: what the restarter could not set by hand (a lower
//! nice value, a real-time policy, without CAP_SYS_NICE or the rlimit that allows it) fails
//! with a log line, and the restart with it. SCHED_DEADLINE, whose runtime, deadline and
//! period are not saved, is refused at checkpoint.

use crate::image::Restorer;
use crate::{abi, log, log::Log, Obj};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sched::{self as ksched, CpuMask};
use kernel::task::Task;

/// The policies an image may carry.
const POLICIES: [u32; 5] = [
    bindings::SCHED_NORMAL,
    bindings::SCHED_FIFO,
    bindings::SCHED_RR,
    bindings::SCHED_BATCH,
    bindings::SCHED_IDLE,
];

fn is_rt(policy: u32) -> bool {
    policy == bindings::SCHED_FIFO || policy == bindings::SCHED_RR
}

/// Why checkpoint cannot save a task under `policy`, if it cannot.
fn refused(policy: u32) -> Option<&'static str> {
    match policy {
        p if POLICIES.contains(&p) => None,
        bindings::SCHED_DEADLINE => Some("runs under SCHED_DEADLINE (not restored yet)"),
        _ => Some("runs under a scheduling policy checkpoint does not know"),
    }
}

/// Why checkpoint cannot save `task`'s scheduling state, if it cannot.
pub(crate) fn unsupported(task: &Task) -> Option<&'static str> {
    refused(task.sched_params().policy)
}

/// Fills in the scheduling state of the frozen `task` in its record `rec`. Another process
/// may have changed it since `unsupported` looked, so it refuses the same.
pub(crate) fn save(log: &Log, task: &Task, rec: &mut abi::Task) -> Result {
    let s = task.sched_params();
    if let Some(why) = refused(s.policy) {
        log!(log, "pid {}: {why}", task.vnr());
        return Err(EOPNOTSUPP);
    }
    rec.sched_policy = s.policy;
    rec.nice = s.nice;
    // A policy change by another process may race, hence the slack of 0 for a real-time
    // task, as the scheduler keeps it (__setscheduler_params()).
    let (slack, default) = task.timer_slack();
    rec.timer_slack_ns = if is_rt(s.policy) { 0 } else { slack };
    rec.default_timer_slack_ns = default;
    rec.ioprio = u32::from(task.ioprio());
    rec.rt_priority = s.rt_priority;
    if s.reset_on_fork {
        rec.flags |= abi::TASK_F_RESET_ON_FORK;
    }
    if s.restricted {
        rec.flags |= abi::TASK_F_AFFINITY;
        for (i, &word) in s.cpus.words().iter().enumerate() {
            match rec.cpus.get_mut(i) {
                Some(w) => *w = word as u64,
                None if word == 0 => {}
                None => {
                    log!(
                        log,
                        "pid {}: CPU affinity beyond CPU {} (not supported)",
                        task.vnr(),
                        64 * rec.cpus.len() - 1
                    );
                    return Err(EOPNOTSUPP);
                }
            }
        }
    }
    Ok(())
}

/// Checks the scheduling state of `task`, a record of a task that runs.
pub(crate) fn check(r: &Restorer<'_, Obj>, task: &abi::Task) -> Result {
    let rt = is_rt(task.sched_policy);
    if !POLICIES.contains(&task.sched_policy)
        || !(-20..=19).contains(&task.nice)
        || rt != (task.rt_priority != 0)
        || task.rt_priority > 99
    {
        return Err(r.bad("scheduling policy, priority or nice value"));
    }
    // Under a real-time policy the scheduler keeps the slack at 0 (__setscheduler_params()).
    if rt && task.timer_slack_ns != 0 || task.ioprio > u32::from(u16::MAX) {
        return Err(r.bad("timer slack or I/O priority"));
    }
    if task.flags & abi::TASK_F_AFFINITY == 0 {
        if task.cpus.iter().any(|&w| w != 0) {
            return Err(r.bad("CPU affinity without TASK_F_AFFINITY"));
        }
        return Ok(());
    }
    let cpus = ksched::nr_cpu_ids();
    let beyond =
        (0..task.cpus.len() * 64).find(|&c| c >= cpus && task.cpus[c / 64] & 1 << (c % 64) != 0);
    if let Some(cpu) = beyond {
        log!(
            r.log,
            "pid {}: CPU affinity includes CPU {cpu}, which this machine does not have",
            task.pid
        );
        return Err(EINVAL);
    }
    if task.cpus.iter().all(|&w| w == 0) {
        return Err(r.bad("empty CPU affinity"));
    }
    Ok(())
}

/// Sets the current task's policy, nice value and priority from `task`, as sched_setattr(2)
/// would for the restarter.
fn setattr(
    log: &Log,
    task: &abi::Task,
    policy: u32,
    reset_on_fork: bool,
    rt_priority: u32,
) -> Result {
    let Err(e) = ksched::set_params(policy, reset_on_fork, task.nice, rt_priority) else {
        return Ok(());
    };
    let err = e.to_errno();
    let why = if e == EPERM {
        ": the restarter may not set it"
    } else {
        ""
    };
    log!(
        log,
        "pid {}: scheduling policy {policy}, priority {rt_priority}, nice {}: error {err}{why}",
        task.pid,
        task.nice
    );
    Err(e)
}

/// Restores `task`'s scheduling state in the current task, checked by `check`.
pub(crate) fn restore(log: &Log, task: &abi::Task) -> Result {
    // The slack first, as /proc/PID/timerslack_ns would set it (under the task lock): the
    // policy set next zeroes it under a real-time one. The default is what a fork gives, the
    // parent's slack, so any value is one the task could have had.
    ksched::set_timer_slack(task.timer_slack_ns, task.default_timer_slack_ns);
    // Only for SCHED_NORMAL and SCHED_BATCH does sched_setattr() set the nice value too:
    // under the other policies it is kept, so set it first.
    if is_rt(task.sched_policy) || task.sched_policy == bindings::SCHED_IDLE {
        setattr(log, task, bindings::SCHED_NORMAL, false, 0)?;
    }
    let reset_on_fork = task.flags & abi::TASK_F_RESET_ON_FORK != 0;
    setattr(
        log,
        task,
        task.sched_policy,
        reset_on_fork,
        task.rt_priority,
    )?;
    let mut mask = CpuMask::empty();
    if task.flags & abi::TASK_F_AFFINITY != 0 {
        // `check` made sure no CPU past `nr_cpu_ids` is left out.
        for (w, &word) in mask.words_mut().iter_mut().zip(task.cpus.iter()) {
            *w = word as _;
        }
    } else {
        // It could run anywhere, and must not stay on the restarter's CPUs.
        mask = CpuMask::possible();
    }
    if let Err(e) = ksched::set_affinity(&mask) {
        log!(
            log,
            "pid {}: CPU affinity {:#x}: error {}",
            task.pid,
            task.cpus[0],
            e.to_errno()
        );
        return Err(e);
    }
    if let Err(e) = ksched::set_ioprio(task.ioprio as i32) {
        let why = if e == EPERM {
            ": the restarter may not set it"
        } else {
            ""
        };
        log!(
            log,
            "pid {}: I/O priority {:#x}: error {}{why}",
            task.pid,
            task.ioprio,
            e.to_errno()
        );
        return Err(e);
    }
    Ok(())
}
