// SPDX-License-Identifier: GPL-2.0

//! Scheduling parameters of a task: policy, nice value, real-time priority, reset-on-fork,
//! CPU affinity, timer slack and I/O priority; and their setters for the current task, each
//! with the checks of its system call.
//!
//! C headers: [`include/linux/sched.h`](srctree/include/linux/sched.h),
//! [`include/linux/cpumask.h`](srctree/include/linux/cpumask.h)

use crate::{bindings, error::to_result, error::Result, task::Task};
use core::ptr::addr_of_mut;

/// A set of CPUs, by number, held by value (`NR_CPUS` bits).
#[repr(transparent)]
pub struct CpuMask(bindings::cpumask);

impl CpuMask {
    /// No CPU.
    pub fn empty() -> Self {
        // SAFETY: a cpumask is plain bits; all zero is the empty set.
        CpuMask(unsafe { core::mem::zeroed() })
    }

    /// Every CPU this machine may ever have (`cpu_possible_mask`).
    pub fn possible() -> Self {
        // SAFETY: the possible CPUs are set at boot and not changed after.
        CpuMask(unsafe { bindings::__cpu_possible_mask })
    }

    /// The mask as words, CPU `n` at bit `n % BITS` of word `n / BITS`.
    pub fn words(&self) -> &[usize] {
        &self.0.bits
    }

    /// The mask as words, to write.
    pub fn words_mut(&mut self) -> &mut [usize] {
        &mut self.0.bits
    }
}

/// The number of CPU ids this machine may use (`nr_cpu_ids`): every CPU in a mask is below it.
pub fn nr_cpu_ids() -> usize {
    // SAFETY: set once at boot.
    unsafe { bindings::nr_cpu_ids as usize }
}

/// A task's scheduling policy and priority, read at one instant.
pub struct Params {
    /// `SCHED_*`.
    pub policy: u32,
    /// Nice value, -20 to 19.
    pub nice: i32,
    /// Real-time priority, 0 under the other policies.
    pub rt_priority: u32,
    /// Whether its children start under `SCHED_NORMAL` (`SCHED_FLAG_RESET_ON_FORK`).
    pub reset_on_fork: bool,
    /// The CPUs it asked to run on (or inherited), all possible ones if it did not ask.
    pub cpus: CpuMask,
    /// Whether `cpus` leaves out a possible CPU.
    pub restricted: bool,
}

impl Task {
    /// The task's scheduling policy, priorities and the affinity it asked for, read under
    /// its `pi_lock` as the scheduler changes them (not the affinity a cpuset narrowed).
    pub fn sched_params(&self) -> Params {
        let mut p = Params {
            policy: 0,
            nice: 0,
            rt_priority: 0,
            reset_on_fork: false,
            cpus: CpuMask::empty(),
            restricted: false,
        };
        // SAFETY: the task is valid; the helper takes its `pi_lock` and writes the
        // out-parameters only.
        p.restricted = unsafe {
            bindings::checkpoint_task_sched(
                self.as_ptr(),
                &mut p.policy,
                &mut p.nice,
                &mut p.rt_priority,
                &mut p.reset_on_fork,
                &mut p.cpus.0,
            )
        };
        p
    }

    /// The task's timer slack and the default its children start with, in nanoseconds, read
    /// under its task lock as /proc/PID/timerslack_ns writes them.
    pub fn timer_slack(&self) -> (u64, u64) {
        let t = self.as_ptr();
        // SAFETY: the task is valid; the fields are read under its lock.
        unsafe {
            bindings::task_lock(t);
            let slack = ((*t).timer_slack_ns, (*t).default_timer_slack_ns);
            bindings::task_unlock(t);
            slack
        }
    }

    /// The I/O priority the task set with ioprio_set(2); 0 (`IOPRIO_CLASS_NONE`) if it set
    /// none.
    pub fn ioprio(&self) -> u16 {
        // SAFETY: the task is valid; the helper takes its task lock.
        unsafe { bindings::checkpoint_task_ioprio(self.as_ptr()) }
    }
}

/// Sets the current task's timer slack and its children's default, in nanoseconds, under
/// the task lock as /proc/self/timerslack_ns writes them, but as they are: 0 is a slack of 0
/// (not the default, as /proc takes it), and a real-time policy set next zeroes the slack.
pub fn set_timer_slack(slack: u64, default: u64) {
    // SAFETY: the current task is valid while it runs; its fields are written under its lock.
    unsafe {
        let t = bindings::get_current();
        bindings::task_lock(t);
        addr_of_mut!((*t).timer_slack_ns).write(slack);
        addr_of_mut!((*t).default_timer_slack_ns).write(default);
        bindings::task_unlock(t);
    }
}

/// Sets the current task's policy, nice value and real-time priority, as sched_setattr(2)
/// does for itself, with its permission checks (`EPERM`).
pub fn set_params(policy: u32, reset_on_fork: bool, nice: i32, rt_priority: u32) -> Result {
    // SAFETY: acts on the current task; the callee checks every value.
    to_result(unsafe {
        bindings::checkpoint_sched_setattr(policy, reset_on_fork, nice, rt_priority)
    })
}

/// Sets the CPUs the current task may run on, as sched_setaffinity(2) does.
pub fn set_affinity(cpus: &CpuMask) -> Result {
    // SAFETY: pid 0 is the current task; the mask is valid for the call.
    let err = unsafe { bindings::sched_setaffinity(0, &cpus.0) };
    to_result(err as i32)
}

/// Sets the current task's I/O priority, as ioprio_set(2) does for itself, with its checks
/// (`EPERM`, `EINVAL`).
pub fn set_ioprio(ioprio: i32) -> Result {
    // SAFETY: acts on the current task; the callee checks the value.
    to_result(unsafe { bindings::checkpoint_set_ioprio(ioprio) })
}

/// CPU time, in nanoseconds: what a task or a process has used, as `times(2)`, /proc and the
/// CPU-time clocks see it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CpuTimes {
    /// User time (raw, as `RLIMIT_CPU` and the CPU-time clocks count it).
    pub utime: u64,
    /// System time (raw).
    pub stime: u64,
    /// Time running a guest.
    pub gtime: u64,
    /// Time on a CPU (`sum_exec_runtime`).
    pub runtime: u64,
    /// User time as `times(2)` splits `runtime`.
    pub adj_utime: u64,
    /// System time as `times(2)` splits `runtime`.
    pub adj_stime: u64,
    /// Reaped children's user time (a process's only).
    pub cutime: u64,
    /// Reaped children's system time (a process's only).
    pub cstime: u64,
    /// Reaped children's guest time (a process's only).
    pub cgtime: u64,
}

#[cfg(CONFIG_CHECKPOINT)]
impl CpuTimes {
    fn from_c(c: &bindings::checkpoint_cputime) -> CpuTimes {
        CpuTimes {
            utime: c.utime,
            stime: c.stime,
            gtime: c.gtime,
            runtime: c.runtime,
            adj_utime: c.adj_utime,
            adj_stime: c.adj_stime,
            cutime: c.cutime,
            cstime: c.cstime,
            cgtime: c.cgtime,
        }
    }

    fn to_c(self) -> bindings::checkpoint_cputime {
        bindings::checkpoint_cputime {
            utime: self.utime,
            stime: self.stime,
            gtime: self.gtime,
            runtime: self.runtime,
            adj_utime: self.adj_utime,
            adj_stime: self.adj_stime,
            cutime: self.cutime,
            cstime: self.cstime,
            cgtime: self.cgtime,
        }
    }
}

#[cfg(CONFIG_CHECKPOINT)]
impl Task {
    /// Its own CPU time (`checkpoint_task_cputime()`), the children's fields zero. Reading it
    /// moves the `times(2)` split on, as reading /proc does. One sample for a task that does
    /// not run (frozen, or a zombie); for one that runs, the split may exceed `runtime`.
    pub fn cputime(&self) -> CpuTimes {
        let mut c = CpuTimes::default().to_c();
        // SAFETY: the task is valid; its times are read as /proc reads them.
        unsafe { bindings::checkpoint_task_cputime(self.as_ptr(), &mut c) };
        CpuTimes::from_c(&c)
    }

    /// The CPU time its process keeps for its exited threads and reaped children, and the
    /// `times(2)` split of the whole process's (`checkpoint_group_cputime()`). One sample for
    /// a process whose tasks do not run.
    pub fn group_cputime(&self) -> CpuTimes {
        let mut c = CpuTimes::default().to_c();
        // SAFETY: the task is valid, and so is its signal struct, freed with it.
        unsafe { bindings::checkpoint_group_cputime(self.as_ptr(), &mut c) };
        CpuTimes::from_c(&c)
    }
}

/// Adds `c` to the current task's own CPU time (`restart_add_cputime()`), as if it had run
/// that long: restart gives a restored task what it had used.
///
/// # Safety
///
/// Every field of `c` must be below 2^62 and `adj_utime + adj_stime` at most `runtime`, and
/// so must the task's totals be once added: `cputime_adjust()` divides by the sum of user and
/// system time, and a sum that wraps makes that division fault. In process context, with
/// interrupts enabled and no siglock held: the callee takes the current task's.
#[cfg(CONFIG_CHECKPOINT)]
pub unsafe fn add_cputime(c: &CpuTimes) {
    // SAFETY: acts on the current task's own accounting, with values the caller checked.
    unsafe { bindings::restart_add_cputime(&c.to_c()) };
}

/// Adds `c` to what the current task's process keeps for its dead
/// (`restart_add_group_cputime()`); before the process arms its CPU timers.
///
/// # Safety
///
/// As for [`add_cputime`], for the process's totals.
#[cfg(CONFIG_CHECKPOINT)]
pub unsafe fn add_group_cputime(c: &CpuTimes) {
    // SAFETY: acts on the current task's process, under the locks the callee takes, with
    // values the caller checked.
    unsafe { bindings::restart_add_group_cputime(&c.to_c()) };
}
