// SPDX-License-Identifier: GPL-2.0

//! Freezing tasks where their user state is complete, and thawing or killing them afterwards.
//!
//! This is the trap the cgroup v2 freezer uses, without a cgroup: `JOBCTL_TRAP_FREEZE` plus a
//! signal wakeup sends the task into `get_signal()`, where `do_freezer_trap()` parks it. There
//! its user registers are all in `pt_regs` and an interrupted system call has not been fixed
//! up for restart yet. Non-fatal signals stay queued while the bit is set. (The PM freezer
//! would also stop tasks inside system calls, with only part of their state saved.)

use crate::{log, log::Log, vfork};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::task::Task;
use kernel::time::Ktime;
use kernel::types::ARef;

/// How long a task may take to reach the trap: one asleep uninterruptibly (in D state) never
/// does, and the checkpoint gives up with `EAGAIN`. (A vfork parent never does either, but
/// its state is complete where it sleeps: see `vfork`.)
const FREEZE_TIMEOUT_MS: u32 = 10_000;

fn set_trap(task: &Task, on: bool) -> bool {
    let Some(g) = task.lock_sighand() else {
        return false;
    };
    let trap = bindings::JOBCTL_TRAP_FREEZE as usize;
    if on {
        g.update_jobctl(trap, 0);
        g.wake_up(0);
    } else {
        g.update_jobctl(0, trap);
        task.wake_up();
    }
    true
}

/// The state a task parked in the trap sleeps in.
const TRAPPED: u32 = bindings::TASK_INTERRUPTIBLE | bindings::TASK_FREEZABLE;
/// The state of a task stopped by job control (`TASK_STOPPED`).
const STOPPED: u32 = bindings::TASK_WAKEKILL | bindings::__TASK_STOPPED;

/// Whether the task is parked where its user state is complete: in the freezer trap, or
/// stopped by job control (which also happens inside `get_signal()`). Returns the state.
fn parked(task: &Task) -> Option<u32> {
    let g = task.lock_sighand()?;
    let state = task.state();
    let jobctl = g.jobctl(task)?;
    let trapped = state == TRAPPED
        && jobctl & bindings::JOBCTL_TRAP_FREEZE as usize != 0
        && !g.signal_pending();
    (trapped || state == STOPPED).then_some(state)
}

/// Where a frozen task is parked.
#[derive(Clone, Copy, PartialEq)]
enum Parked {
    /// In the freezer trap.
    Trapped,
    /// Stopped by job control (it stays stopped after a thaw or a restart).
    Stopped,
    /// Asleep in vfork() until its child execs or exits.
    Vfork,
    /// Exited while being frozen: a zombie now, or gone.
    Exited,
}

/// Tasks held frozen, each with where it is parked, in the order they were frozen, and each
/// one's place in that list by its address; dropping it thaws them.
pub(crate) struct Frozen(KVec<(ARef<Task>, Parked)>, RBTree<usize, usize>);

impl Frozen {
    /// Holds nothing yet.
    pub(crate) fn new() -> Frozen {
        Frozen(KVec::new(), RBTree::new())
    }

    /// Whether `task` is held.
    pub(crate) fn held(&self, task: &Task) -> bool {
        self.1.get(&(task.as_ptr() as usize)).is_some()
    }

    /// Freezes `tasks` and waits until each is parked and off its CPU. All are trapped first,
    /// so that they stop in parallel and a task cannot fork past the freeze of its parent.
    pub(crate) fn add(&mut self, log: &Log, tasks: &[ARef<Task>]) -> Result {
        let first = self.0.len();
        self.0.reserve(tasks.len(), GFP_KERNEL)?;
        for task in tasks {
            let room = RBTreeNodeReservation::new(GFP_KERNEL)?;
            // Without its signal handlers it is already released, gone from the tree.
            let parked = if set_trap(task, true) {
                Parked::Trapped
            } else {
                Parked::Exited
            };
            self.1
                .insert(room.into_node(task.as_ptr() as usize, self.0.len()));
            // Cannot fail: there is room.
            self.0.push((task.clone(), parked), GFP_KERNEL)?;
        }
        let start = Ktime::ktime_get();
        for (task, parked) in self.0[first..]
            .iter_mut()
            .filter(|(_, p)| *p == Parked::Trapped)
        {
            *parked = wait_parked(log, task, start)?;
        }
        Ok(())
    }

    /// Once every task is held: a vfork parent whose child exec'd or exited before it was
    /// frozen has left its sleep for the trap; waits until it is there.
    pub(crate) fn settle(&mut self, log: &Log) -> Result {
        let start = Ktime::ktime_get();
        for (task, parked) in self.0.iter_mut().filter(|(_, p)| *p == Parked::Vfork) {
            if vfork::child_of(task).is_none() {
                *parked = wait_parked(log, task, start)?;
            }
        }
        Ok(())
    }

    /// Kills the tasks that are `saved` (their whole thread groups) instead of thawing them;
    /// the others, which left the tree while it was being frozen (orphans of a task killed
    /// from outside meanwhile, given to another reaper), are thawed.
    pub(crate) fn kill(self, saved: impl Fn(&Task) -> bool) {
        for (task, _) in self.0.iter().filter(|(t, _)| saved(t)) {
            task.kill_process();
        }
        // Dropping clears the trap bits; the pending SIGKILLs end the tasks.
    }
}

/// Waits until the trapped `task` is parked and off its CPU, at most [`FREEZE_TIMEOUT_MS`]
/// after `start`; returns where. A task that was exiting is waited for until it is dead: the
/// next walk of the tree finds it a zombie (saved as one) or gone, as it would have had the
/// checkpoint started a moment later. A shell reaping short-lived children all the time has
/// one exiting at any moment.
fn wait_parked(log: &Log, task: &Task, start: Ktime) -> Result<Parked> {
    let pid = task.vnr();
    loop {
        let found = match parked(task) {
            Some(STOPPED) => Some((STOPPED, Parked::Stopped)),
            Some(state) => Some((state, Parked::Trapped)),
            None => vfork::child_of(task).map(|_| (vfork::WAITING, Parked::Vfork)),
        };
        if let Some((state, parked)) = found {
            if task.wait_inactive(state) {
                return Ok(parked);
            }
            continue;
        }
        // Set under `tasklist_lock`, which the next walk takes.
        if task.exit_state() != 0 {
            return Ok(Parked::Exited);
        }
        if kernel::current!().signal_pending() {
            return Err(EINTR);
        }
        let waited = (Ktime::ktime_get() - start).to_ms();
        if waited >= i64::from(FREEZE_TIMEOUT_MS) {
            let why = match task.is_exiting() {
                true => "still exiting",
                false => "not stopped (uninterruptible sleep?)",
            };
            log!(log, "pid {pid}: {why} after {FREEZE_TIMEOUT_MS} ms");
            return Err(EAGAIN);
        }
        kernel::current_task::usleep_range(200, 1000);
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for (task, _) in self.0.iter() {
            set_trap(task, false);
        }
    }
}
