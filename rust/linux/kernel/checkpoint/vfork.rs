// SPDX-License-Identifier: GPL-2.0

//! vfork(): a parent asleep until its child (`CLONE_VFORK`, as posix_spawn() makes them)
//! execs or exits.
//!
//! Such a parent sleeps inside `kernel_clone()`, killable only, so it never reaches the freezer
//! trap; its user registers are all in `pt_regs` all the same, and the system call is known to
//! return the child's pid. Checkpoint recognises it by the child's `vfork_done`, which points
//! at a completion on the parent's kernel stack, saves the parent as returning that pid and
//! marks the child `TASK_F_VFORK`. Restart makes the restored child's `vfork_done` point at a
//! completion of its restored parent, which waits for it exactly as `kernel_clone()` does
//! before it returns to user mode.

use crate::task::ParkedTask;
use crate::{abi, log, log::Log};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Completion;
use kernel::task::Task;
use kernel::tasklist;
use kernel::types::ARef;

/// The state `wait_for_vfork_done()` sleeps in.
pub(crate) const WAITING: u32 = bindings::TASK_KILLABLE | bindings::TASK_FREEZABLE;

/// The child `task` waits for in vfork(), if it does: it sleeps as `kernel_clone()` does, and
/// a child it forked has its `vfork_done` on `task`'s kernel stack. (A child made with
/// `CLONE_PARENT` or `CLONE_THREAD` as well is not on its list of children: not found.)
pub(crate) fn child_of(task: &Task) -> Option<ARef<Task>> {
    if task.state() != WAITING {
        return None;
    }
    let stack = task.kernel_stack();
    let list = tasklist::read();
    let child = list
        .children(task)
        .find(|c| stack.contains(&c.vfork_done_addr()));
    child.map(ARef::from)
}

/// In the restored parent, before it returns to user mode: waits on `done`, the completion
/// `child` points at, until `child` execs or exits, as `wait_for_vfork_done()` does. Killed
/// meanwhile, it detaches the child.
pub(crate) fn wait(done: &Completion, child: ARef<Task>) {
    if done.wait_killable_freezable().is_err() {
        detach(&child);
    }
}

/// Makes sure `child` no longer points at its parent's completion: the parent is going away.
pub(crate) fn detach(child: &Task) {
    child.lock().clear_vfork_done();
}

/// Once the tree is verified and linked: makes each restored vfork child's `vfork_done` point
/// at its parent's completion, and hands the child to the parent, which waits for it.
pub(crate) fn link(log: &Log, created: &[ParkedTask]) -> Result {
    for c in created
        .iter()
        .filter(|c| c.rec.flags & abi::TASK_F_VFORK != 0)
    {
        // Only a live parent waits (a dead one is gone by now: see `task::build`).
        let parent = c.parent.map(|p| &created[p]).filter(|p| {
            p.rec.state == abi::TASK_STATE_RUNNING || p.rec.state == abi::TASK_STATE_STOPPED
        });
        let Some(parent) = parent else {
            log!(
                log,
                "pid {}: a vfork child whose parent is not alive",
                c.rec.pid
            );
            return Err(EINVAL);
        };
        // The parent owns the child first, so that it detaches the child should the tree
        // fail from here.
        let Some(done) = parent.adopt_vfork_child(c.task.clone()) else {
            log!(
                log,
                "pid {}: a second vfork child of the same parent",
                c.rec.pid
            );
            return Err(EINVAL);
        };
        // SAFETY: the parent keeps `done` until the child completes it, or detaches the child
        // (`detach`) before it goes; the child is parked, it cannot exec or exit before this.
        unsafe { c.task.lock().set_vfork_done(done) };
    }
    Ok(())
}
