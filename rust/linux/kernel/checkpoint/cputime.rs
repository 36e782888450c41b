// SPDX-License-Identifier: GPL-2.0

//! CPU time: what each task used, and what a process keeps of its exited threads and reaped
//! children, so that times(2), getrusage(2), /proc, the CPU-time clocks and RLIMIT_CPU go on
//! from where they were.
//!
//! Restart adds the saved times to what the new task used while it was being restored: a
//! clock never goes back, and nothing is charged to the CPU or cgroup statistics of the
//! machine that restarts it (`restart_add_cputime()`).

use crate::image::Restorer;
use crate::{abi, Obj};
use kernel::prelude::*;
use kernel::sched::{self, CpuTimes};
use kernel::task::Task;

/// The most nanoseconds a process's time of one kind may hold, summed over its tasks: far
/// beyond any real one (146 years), and small enough that the kernel's sums of them, and of
/// a user and a system time, cannot wrap.
const MAX: u64 = 1 << 62;

fn to_array(c: &CpuTimes) -> [u64; 9] {
    [
        c.utime,
        c.stime,
        c.gtime,
        c.runtime,
        c.adj_utime,
        c.adj_stime,
        c.cutime,
        c.cstime,
        c.cgtime,
    ]
}

fn from_array(a: &[u64]) -> CpuTimes {
    let at = |i: usize| a.get(i).copied().unwrap_or(0);
    CpuTimes {
        utime: at(0),
        stime: at(1),
        gtime: at(2),
        runtime: at(3),
        adj_utime: at(4),
        adj_stime: at(5),
        cutime: at(6),
        cstime: at(7),
        cgtime: at(8),
    }
}

/// Saves the CPU time of the frozen (or dead) `task` in `rec`, and for a process's leader
/// what its process keeps for its dead.
pub(crate) fn save(task: &Task, rec: &mut abi::Task) {
    rec.cputime.copy_from_slice(&to_array(&task.cputime())[..6]);
    if rec.flags & abi::TASK_F_GROUP_LEADER != 0 {
        rec.group_cputime = to_array(&task.group_cputime());
    }
}

/// The CPU time of a process's tasks read so far: user, system, guest and on a CPU, each
/// summed over its tasks and its dead, which the kernel sums too (thread_group_cputime(), the
/// process's CPU timer sample) and must stay below [`MAX`].
#[derive(Default)]
pub(crate) struct Sum([u64; 4]);

impl Sum {
    /// Checks the times of `task`, the next of the process; only its leader's group times
    /// may be other than 0.
    pub(crate) fn add(&mut self, r: &Restorer<'_, Obj>, task: &abi::Task) -> Result {
        let leader = task.flags & abi::TASK_F_GROUP_LEADER != 0;
        let [utime, _, gtime, runtime, adj_utime, adj_stime] = task.cputime;
        // Guest time is part of user time, and times(2) splits the time spent on a CPU.
        let split = adj_utime
            .checked_add(adj_stime)
            .is_some_and(|t| t <= runtime);
        if gtime > utime || !split || !leader && task.group_cputime != [0; 9] {
            return Err(r.bad("CPU time"));
        }
        let mut sum = self.0;
        for times in [&task.cputime[..4], &task.group_cputime[..4]] {
            for (s, &t) in sum.iter_mut().zip(times) {
                *s = s
                    .checked_add(t)
                    .filter(|&v| v < MAX)
                    .ok_or_else(|| r.bad("CPU time of a process"))?;
            }
        }
        // What cputime_adjust() divides by.
        if sum[0] + sum[1] >= MAX {
            return Err(r.bad("CPU time of a process"));
        }
        // The reaped children's times are the process's alone.
        if task.group_cputime[6..].iter().any(|&t| t >= MAX) {
            return Err(r.bad("CPU time of reaped children"));
        }
        self.0 = sum;
        Ok(())
    }
}

/// Gives the current task, restored from `task`, the CPU time it had used, and a leader its
/// process's for its dead; before the process's CPU itimers are armed.
pub(crate) fn restore(task: &abi::Task) {
    // SAFETY: the times were checked when read (`Sum::add`): each and the process's sums
    // below 2^62, the split within the time on a CPU. A new task, in process context.
    unsafe {
        if task.flags & abi::TASK_F_GROUP_LEADER != 0 {
            sched::add_group_cputime(&from_array(&task.group_cputime));
        }
        sched::add_cputime(&from_array(&task.cputime));
    }
}
