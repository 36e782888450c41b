// SPDX-License-Identifier: GPL-2.0

//! Full containers: the pid namespace a tree lives in, the check that no task outside the tree
//! lives in it, and the new pid namespace a container is restarted in.
//!
//! A subtree keeps the pids its checkpointer sees and is restarted among the restarter's
//! processes. A container is the tree under the init of a pid namespace: its pids are saved as
//! seen inside, and restart makes a new namespace whose init is the restored root, so the same
//! image can run several times side by side. Before anything is written, checkpoint refuses
//! (`EBUSY`) a container whose objects are also held from outside (`objects.rs`) or whose
//! namespace has tasks outside the tree: restart could not give them their share back.

use crate::tree::Tree;
use crate::{abi, log, log::Log};
use kernel::pid::{PidNamespace, PidType};
use kernel::prelude::*;
use kernel::sync::rcu;
use kernel::task::Task;
use kernel::types::ARef;

/// The pid namespace of a checkpointed tree.
pub(crate) struct Scope {
    /// Where every task of the tree lives: the root's namespace.
    home: ARef<PidNamespace>,
    /// Where the saved ids are taken from: `home` for a container, the caller's namespace
    /// for a subtree.
    ids: ARef<PidNamespace>,
    /// Whether the tree is a whole container.
    container: bool,
}

impl Scope {
    /// The scope of the tree under `root` (checked by `task::checkpoint_root`).
    pub(crate) fn of(log: &Log, root: &Task, flags: u32) -> Result<Scope> {
        let gone = || {
            log!(log, "pid {}: exited", root.vnr());
            ESRCH
        };
        let home = root.active_pid_ns().ok_or_else(gone)?;
        let ids = match flags & abi::CKPT_SUBTREE {
            0 => home.clone(),
            _ => kernel::current!().active_pid_ns().ok_or(ESRCH)?,
        };
        Ok(Scope {
            home,
            ids,
            container: flags & abi::CKPT_SUBTREE == 0,
        })
    }

    /// Whether the tree is a whole container.
    pub(crate) fn is_container(&self) -> bool {
        self.container
    }

    /// The namespace whose ids the image holds.
    pub(crate) fn ids(&self) -> &PidNamespace {
        &self.ids
    }

    /// Refuses a task of the tree that lives in a pid namespace nested under the tree's or
    /// would create its children in another one: restart makes one namespace at most.
    pub(crate) fn check(&self, log: &Log, task: &Task) -> Result {
        let home = self.home.as_ptr();
        let same = |ns: Option<ARef<PidNamespace>>| ns.map_or(true, |ns| ns.as_ptr() == home);
        let why = if !same(task.active_pid_ns()) {
            "lives in a pid namespace nested in the tree's"
        } else if !same(task.pid_ns_for_children()) {
            "creates its children in another pid namespace (unshare(CLONE_NEWPID))"
        } else {
            return Ok(());
        };
        log!(
            log,
            "pid {}: {why} (nested pid namespaces are not supported)",
            task.vnr()
        );
        Err(EOPNOTSUPP)
    }

    /// Refuses a task of the container's namespace that is not in the tree (one that entered
    /// it with `setns()`, or was created by one that did). Nothing for a subtree.
    pub(crate) fn check_pids(&self, log: &Log, tree: &Tree) -> Result {
        if !self.container {
            return Ok(());
        }
        let found = for_each_pid(&self.home, true, |nr, t| {
            (tree.index_of(t.as_ptr()).is_none()).then(|| (nr, t.lock().comm()))
        });
        let Some((nr, comm)) = found else {
            return Ok(());
        };
        let name = &comm[..comm.iter().position(|&c| c == 0).unwrap_or(comm.len())];
        log!(log, "pid {nr} of the container ({}) is not in the tree: it entered the pid namespace from outside",
            core::str::from_utf8(name).unwrap_or("?"));
        Err(EBUSY)
    }
}

/// Calls `f` on the task of every pid of `ns` in increasing order (on thread group leaders
/// only, unless `threads`) until it finds something. Each task is looked at under an RCU read
/// section of its own, with a chance to reschedule between two: there may be millions.
pub(crate) fn for_each_pid<R>(
    ns: &PidNamespace,
    threads: bool,
    mut f: impl FnMut(i32, &Task) -> Option<R>,
) -> Option<R> {
    let ty = if threads { PidType::Pid } else { PidType::Tgid };
    let mut nr = 1;
    loop {
        let found = {
            let rcu = rcu::read_lock();
            let (at, task) = ns.find_ge(nr, ty, &rcu)?;
            nr = at;
            task.and_then(|t| f(nr, t))
        };
        if found.is_some() {
            return found;
        }
        nr += 1;
        crate::resched();
    }
}
