// SPDX-License-Identifier: GPL-2.0

//! The process tree: which tasks a checkpoint takes, and who is whose parent, process group
//! and session after a restart.
//!
//! Checkpoint walks the tree from the root breadth first, each process with its threads
//! right after it, then the children of each thread, so that parents come before their
//! children in the image and siblings keep their order; the walk is repeated after each
//! freeze until it finds no task it has not frozen (a task forking or cloning while the
//! freeze reached it). Restart creates every process as its own child, and once all of them
//! are built, moves each task under its saved parent thread and each process into its saved
//! process group and session, by objref.

use crate::container::Scope;
use crate::freeze::Frozen;
use crate::index::Sorted;
use crate::task::Created;
use crate::{abi, log, log::Log, task, vfork};
use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use kernel::bindings;
use kernel::pid::PidNamespace;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::task::Task;
use kernel::types::ARef;

/// How long `checkpoint(CKPT_KILL)` waits for the killed tasks to be reaped.
const KILL_WAIT_MS: u32 = 10_000;

/// Whether the dead task `t` is released by now, or its parent is the caller's process, which
/// cannot reap it while it waits in checkpoint.
fn reaped_by_caller(t: *mut bindings::task_struct) -> bool {
    let _rcu = kernel::sync::rcu::read_lock();
    // SAFETY: `t` is valid. As `task_ppid_nr_ns()` does: while the task is not released
    // (`pid_alive()`), its `real_parent` is valid under RCU; only its tgid is read.
    unsafe {
        if core::ptr::addr_of!((*t).thread_pid)
            .read_volatile()
            .is_null()
        {
            return true;
        }
        let parent = core::ptr::addr_of!((*t).real_parent).read_volatile();
        (*parent).tgid == (*bindings::get_current()).tgid
    }
}

/// Runs `f` with `tasklist_lock` held for reading: parents, children and pid links are stable.
pub(crate) fn with_tasklist_read<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: taken and released here, around code that does not sleep.
    unsafe { bindings::read_lock_tasklist() };
    let r = f();
    // SAFETY: taken above.
    unsafe { bindings::read_unlock_tasklist() };
    r
}

/// Runs `f` with `tasklist_lock` held for writing, interrupts off.
fn with_tasklist_write<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: taken and released here, around code that does not sleep.
    unsafe { bindings::write_lock_irq_tasklist() };
    let r = f();
    // SAFETY: taken above.
    unsafe { bindings::write_unlock_irq_tasklist() };
    r
}

/// The task whose list node at byte offset `off` in `task_struct` is `node`.
///
/// # Safety
///
/// `node` must be the member at offset `off` of a valid `task_struct`.
unsafe fn task_of(node: *mut bindings::list_head, off: usize) -> *mut bindings::task_struct {
    // SAFETY: `node` lies `off` bytes into its task, per the caller.
    unsafe { node.cast::<u8>().sub(off).cast() }
}

/// Calls `f` on every task of the list at `head` whose node is at offset `off` of the task.
///
/// # Safety
///
/// The list must be stable (e.g. under `tasklist_lock`) and hold `task_struct`s linked
/// through their member at offset `off`.
pub(crate) unsafe fn for_each_task(
    head: *mut bindings::list_head,
    off: usize,
    mut f: impl FnMut(*mut bindings::task_struct),
) {
    // SAFETY: the list is stable and well formed, per the caller.
    unsafe {
        let mut node = (*head).next;
        while node != head {
            f(task_of(node, off));
            node = (*node).next;
        }
    }
}

/// A task of the checkpointed tree.
pub(crate) struct Member {
    pub(crate) task: ARef<Task>,
    /// Index of its parent in the tree; `None` for the root's thread group.
    pub(crate) parent: Option<usize>,
    /// Index of its thread group leader in the tree (its own for a leader).
    pub(crate) leader: usize,
    /// Index of the child it waits for in vfork(), if it does.
    pub(crate) vfork: Option<usize>,
    /// Whether its parent waits for it in vfork().
    pub(crate) vfork_child: bool,
}

impl Member {
    /// Whether it leads its thread group: it carries the process's shared objects.
    pub(crate) fn is_leader(&self, index: usize) -> bool {
        self.leader == index
    }
}

/// Adds the process led by `leader` to `out`: the leader, then its other threads, each with
/// `parent`. Returns how many tasks that is, whether or not they fit: allocation cannot
/// happen under the lock, so nothing is added beyond the capacity.
///
/// # Safety
///
/// `leader` must be a valid thread group leader, and `tasklist_lock` held.
unsafe fn add_process(
    out: &mut KVec<Member>,
    leader: *mut bindings::task_struct,
    parent: Option<usize>,
) -> usize {
    // A task that is dead but not released yet (being reaped, or a thread or a process whose
    // parent ignores SIGCHLD releasing itself) is gone from the tree; it has no children left.
    // SAFETY: `t` is valid under the lock the caller holds; `exit_state` is read racily, as a
    // parent reaping a zombie sets it to EXIT_DEAD under the read lock only.
    let dead = |t: *mut bindings::task_struct| unsafe { core::ptr::addr_of!((*t).exit_state).read_volatile() } == bindings::EXIT_DEAD as i32;
    if dead(leader) {
        return 0;
    }
    let index = out.len();
    let mut add = |t: *mut bindings::task_struct| {
        if out.len() < out.capacity() {
            // SAFETY: the lock keeps `t` alive while the `ARef` takes its own reference.
            let task = unsafe { &*t.cast::<Task>() };
            // Cannot fail: there is room.
            let _ = out.push(
                Member {
                    task: task.into(),
                    parent,
                    leader: index,
                    vfork: None,
                    vfork_child: false,
                },
                GFP_KERNEL,
            );
        }
    };
    add(leader);
    let mut n = 1;
    // SAFETY: the thread list is stable under `tasklist_lock`.
    unsafe {
        let head = core::ptr::addr_of_mut!((*(*leader).signal).thread_head);
        for_each_task(
            head,
            core::mem::offset_of!(bindings::task_struct, thread_node),
            |t| {
                if t != leader && !dead(t) {
                    n += 1;
                    add(t);
                }
            },
        );
    }
    n
}

/// Lists the tree under `root`, breadth first, each process's threads right after it.
/// When the tree outgrows the list the walk starts again with room for all it found.
fn collect(root: &ARef<Task>) -> Result<KVec<Member>> {
    let mut want = 16;
    loop {
        let mut out: KVec<Member> = KVec::with_capacity(want, GFP_KERNEL)?;
        let found = with_tasklist_read(|| {
            // SAFETY: the root is a thread group leader (checked by `task::checkpoint_root`);
            // the lock is held.
            let mut found = unsafe { add_process(&mut out, root.as_ptr(), None) };
            let mut i = 0;
            while i < out.len() {
                let t = out[i].task.as_ptr();
                // SAFETY: `t` is valid; its children (thread group leaders, each on the list
                // of the thread that forked it) are stable under `tasklist_lock`.
                unsafe {
                    let head = core::ptr::addr_of_mut!((*t).children);
                    for_each_task(
                        head,
                        core::mem::offset_of!(bindings::task_struct, sibling),
                        |child| {
                            found += add_process(&mut out, child, Some(i));
                        },
                    );
                }
                i += 1;
            }
            found
        });
        // The root itself is being reaped.
        if out.is_empty() {
            return Err(ESRCH);
        }
        if found <= out.len() {
            return Ok(out);
        }
        want = found + found / 2;
    }
}

/// The frozen tree rooted at the checkpointed task; dropping it thaws the tree.
pub(crate) struct Tree {
    members: KVec<Member>,
    /// Each member's index, by task address.
    index: Sorted<usize>,
    frozen: Frozen,
}

impl Tree {
    /// Freezes the tree under `root`, refusing (before anything is frozen where possible) a
    /// task that cannot be checkpointed.
    pub(crate) fn freeze(log: &Log, root: &ARef<Task>, scope: &Scope) -> Result<Tree> {
        let mut frozen = Frozen::new();
        loop {
            let mut members = collect(root)?;
            let mut new = KVec::new();
            let mut reaped = false;
            for m in members.iter() {
                match frozen.held(&m.task) {
                    true => {}
                    // Its parent, not frozen yet, reaped it since the walk: the next walk
                    // leaves it out.
                    false if task::is_reaped(&m.task) => reaped = true,
                    false => {
                        task::may_checkpoint(log, &m.task)?;
                        scope.check(log, &m.task)?;
                        task::check_supported(log, &m.task, false)?;
                        // A zombie cannot run, so it needs no freezing.
                        if !task::is_zombie(&m.task) {
                            new.push(m.task.clone(), GFP_KERNEL)?;
                        }
                    }
                }
            }
            if new.is_empty() && !reaped {
                frozen.settle(log)?;
                // Checked again now that nothing moves: a task found in the middle of an
                // execve() of a setuid program was checked with the creds it had before, and
                // its exec could only end at the freezer trap, with the new ones.
                for m in members.iter() {
                    task::may_checkpoint(log, &m.task)?;
                    scope.check(log, &m.task)?;
                    task::check_supported(log, &m.task, true)?;
                }
                let index = Sorted::new(
                    members.len(),
                    members
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (m.task.as_ptr() as usize, i)),
                )?;
                for i in 0..members.len() {
                    let Some(child) = vfork::child_of(&members[i].task) else {
                        continue;
                    };
                    let c = *index.get(child.as_ptr() as usize).ok_or(ESRCH)?;
                    members[i].vfork = Some(c);
                    members[c].vfork_child = true;
                }
                return Ok(Tree {
                    members,
                    index,
                    frozen,
                });
            }
            frozen.add(log, &new)?;
        }
    }

    /// The tasks, parents before their children; the root first.
    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    /// Whether member `i` is the main thread of a process that exited while other threads
    /// run: a zombie leader with threads in the tree (right after it, see [`collect`]).
    pub(crate) fn exited(&self, i: usize) -> bool {
        let m = &self.members[i];
        m.is_leader(i)
            && task::is_zombie(&m.task)
            && self.members.get(i + 1).is_some_and(|o| o.leader == i)
    }

    /// The task whose fd table, fs, mm and signal state are its process's, for the process led
    /// by member `i`: the leader, or if it exited, its first thread.
    pub(crate) fn holder(&self, i: usize) -> &Task {
        &self.members[if self.exited(i) { i + 1 } else { i }].task
    }

    /// The index of the member whose task is `t`, if `t` is in the tree.
    pub(crate) fn index_of(&self, t: *const bindings::task_struct) -> Option<usize> {
        self.index.get(t as usize).copied()
    }

    /// The threads of the process led by member `i` but the leader (they follow it).
    pub(crate) fn threads(&self, i: usize) -> &[Member] {
        let rest = &self.members[i + 1..];
        &rest[..rest.iter().take_while(|m| m.leader == i).count()]
    }

    /// Kills the tree instead of thawing it, and waits, at most [`KILL_WAIT_MS`], until its
    /// tasks are dead and released, but for those only the caller can reap (the root, and
    /// orphans when the caller is their subreaper): their pids, and the root's where it is
    /// their group or session id, are then free for a restart of the image right away. Tasks
    /// whose new parent does not reap them in time are left to it, with a log line.
    pub(crate) fn kill(self, log: &Log) {
        self.frozen.kill();
        // SAFETY: reading the monotonic clock has no preconditions.
        let start = unsafe { bindings::ktime_get() };
        for (i, m) in self.members.iter().enumerate() {
            let t = m.task.as_ptr();
            loop {
                // SAFETY: `t` is valid (we hold it); both fields are read racily, as
                // `pid_alive()` does: `thread_pid` is cleared once the task is released.
                let (dead, released) = unsafe {
                    (
                        core::ptr::addr_of!((*t).exit_state).read_volatile() != 0,
                        core::ptr::addr_of!((*t).thread_pid)
                            .read_volatile()
                            .is_null(),
                    )
                };
                if dead && (released || i == 0 || reaped_by_caller(t)) {
                    break;
                }
                if kernel::current!().signal_pending() {
                    return;
                }
                // SAFETY: as above.
                if (unsafe { bindings::ktime_get() } - start) / 1_000_000 >= i64::from(KILL_WAIT_MS)
                {
                    log!(
                        log,
                        "pid {}: killed, but not reaped after {KILL_WAIT_MS} ms",
                        m.task.vnr()
                    );
                    return;
                }
                // SAFETY: sleeping is allowed in system call context.
                unsafe { bindings::usleep_range_state(200, 1000, bindings::TASK_UNINTERRUPTIBLE) };
            }
        }
    }

    /// The `TASK_F_*OUTSIDE` flags of every member, in order: whether its process group and
    /// its session also hold processes outside the tree. Refuses groups and sessions that
    /// restart could not rebuild: one whose leader is gone or outside the tree while all its
    /// members are inside, or a group that reaches outside a session that does not.
    pub(crate) fn group_flags(&self, log: &Log) -> Result<KVec<u32>> {
        let pgrp = self.reach(log, bindings::pid_type_PIDTYPE_PGID, "process group")?;
        let session = self.reach(log, bindings::pid_type_PIDTYPE_SID, "session")?;
        let mut flags = KVec::with_capacity(self.members.len(), GFP_KERNEL)?;
        for (i, m) in self.members.iter().enumerate() {
            // Groups and sessions are the process's, on its leader.
            let (pgrp, session) = (pgrp[m.leader], session[m.leader]);
            if pgrp && !session && m.is_leader(i) {
                log!(
                    log,
                    "pid {}: its process group reaches outside the tree, its session does not",
                    m.task.vnr()
                );
                return Err(EOPNOTSUPP);
            }
            // A session restored with the tree gets no terminal back; one outside it is the
            // caller's after a restart, terminal and all.
            let live = !task::is_zombie(&m.task) || self.exited(i);
            if !session
                && m.is_leader(i)
                && live
                // SAFETY: the task is valid; its signal lock is taken.
                && unsafe { bindings::checkpoint_task_has_tty(self.holder(i).as_ptr()) }
            {
                log!(
                    log,
                    "pid {}: its session has a controlling terminal (not restored yet)",
                    m.task.vnr()
                );
                return Err(EOPNOTSUPP);
            }
            let mut f = 0;
            if pgrp {
                f |= abi::TASK_F_PGRP_OUTSIDE;
            }
            if session {
                f |= abi::TASK_F_SESSION_OUTSIDE;
            }
            flags.push(f, GFP_KERNEL)?;
        }
        Ok(flags)
    }

    /// Fails with `EOPNOTSUPP` unless every live task of the tree is in the cgroups of its
    /// root, on every hierarchy: restart puts them all in the restarter's (cgroups are not
    /// restored yet).
    pub(crate) fn check_cgroups(&self, log: &Log) -> Result {
        // Its main thread, if it exited, stays where it was when it died: a zombie is never
        // moved to another cgroup.
        let root = self.holder(0);
        for m in self.members.iter().filter(|m| !task::is_zombie(&m.task)) {
            // SAFETY: both tasks are valid; their cgroups are read under RCU.
            if !unsafe { bindings::checkpoint_same_cgroups(root.as_ptr(), m.task.as_ptr()) } {
                log!(
                    log,
                    "pid {}: in other cgroups than the tree's root, pid {} (not restored yet)",
                    m.task.vnr(),
                    root.vnr()
                );
                return Err(EOPNOTSUPP);
            }
        }
        Ok(())
    }

    /// For each member, whether its process's group or session (`ty`) holds processes
    /// outside the tree. Each group is looked at once, all under one hold of `tasklist_lock`,
    /// so that they are seen as they are at one moment (a frozen task cannot change them, but
    /// the root's parent can move it to another group with setpgid()).
    fn reach(&self, log: &Log, ty: bindings::pid_type, what: &str) -> Result<KVec<bool>> {
        let n = self.members.len();
        let mut out = KVec::from_elem(false, n, GFP_KERNEL)?;
        // (group, leader's index) of every process; sorted under the lock, where nothing
        // may be allocated.
        let mut groups: KVec<(usize, usize)> = KVec::with_capacity(n, GFP_KERNEL)?;
        let refused = with_tasklist_read(|| {
            for (i, m) in self
                .members
                .iter()
                .enumerate()
                .filter(|(i, m)| m.is_leader(*i))
            {
                // SAFETY: the task is valid; its group and session are stable under the lock.
                let pid = unsafe { (*(*m.task.as_ptr()).signal).pids[ty as usize] };
                // Cannot fail: there is room.
                let _ = groups.push((pid as usize, i), GFP_KERNEL);
            }
            groups.sort_unstable();
            for run in groups.chunk_by(|a, b| a.0 == b.0) {
                let pid = run[0].0 as *mut bindings::pid;
                // SAFETY: `pid` is valid while a task is attached to it; its lists and its
                // leader are stable under the lock. Only thread group leaders are attached to
                // process groups and sessions.
                let (attached, leader) = unsafe {
                    let mut n = 0;
                    let mut node = (*pid).tasks[ty as usize].first;
                    while !node.is_null() {
                        n += 1;
                        node = (*node).next;
                    }
                    (n, bindings::pid_task(pid, bindings::pid_type_PIDTYPE_PID))
                };
                let inside = (!leader.is_null()).then(|| self.index_of(leader)).flatten();
                if attached != run.len() {
                    // Restart puts them in the caller's: a leader in the tree would lead it
                    // no more.
                    if let Some(i) = inside {
                        // SAFETY: as above.
                        return Some((i, unsafe { bindings::pid_vnr(pid) }, true));
                    }
                    for &(_, i) in run {
                        out[i] = true;
                    }
                    continue;
                }
                // Every member is in the tree: restart names it after its leader, which must
                // be too, or reserves its pid if the leader died.
                if !leader.is_null() && inside.is_none() {
                    // SAFETY: as above.
                    return Some((run[0].1, unsafe { bindings::pid_vnr(pid) }, false));
                }
            }
            None
        });
        match refused {
            Some((i, nr, true)) => log!(log, "pid {}: leads its {what} {nr}, which also holds processes outside the tree (not supported)",
                self.members[i].task.vnr()),
            Some((i, nr, false)) => log!(log, "pid {}: its {what} {nr} has its leader outside the tree (not supported)",
                self.members[i].task.vnr()),
            None => return Ok(out),
        }
        Err(EOPNOTSUPP)
    }
}

/// Where one restored task goes: its process group and session, `None` for the caller's,
/// which [`link`] reads under `tasklist_lock` (another thread of the caller may change them
/// meanwhile, and free the ones it left).
pub(crate) struct Link {
    pgrp: Option<*mut bindings::pid>,
    session: Option<*mut bindings::pid>,
    /// Whether it leads its (restored) session.
    leader: bool,
}

/// The `struct pid` of a created task.
fn pid_of(c: &Created) -> *mut bindings::pid {
    // SAFETY: the task is our child, parked, so its pid does not change; a zombie could be
    // reaped by another thread of the caller, which `link` checks under `tasklist_lock`
    // before it uses what this returns.
    unsafe { (*c.task.as_ptr()).thread_pid }
}

/// Where every restored task goes, with the pids reserved for process groups and sessions
/// whose leader died; dropping it before [`link`] releases them.
pub(crate) struct Plan {
    links: KVec<Option<Link>>,
    /// The namespace the tasks were created in.
    ns: ARef<PidNamespace>,
    /// The reserved pids, which no task holds yet, by number.
    reserved: RBTree<i32, *mut bindings::pid>,
}

impl Plan {
    /// The pid numbered `nr` for a group or session that outlived its leader: allocated like
    /// a new task's (same rights needed, `EBUSY` if taken), with no task of its own. It lives
    /// on, as the dead leader's did, while a member is attached to it.
    fn reserve(&mut self, log: &Log, nr: i32) -> Result<*mut bindings::pid> {
        if let Some(&pid) = self.reserved.get(&nr) {
            return Ok(pid);
        }
        let room = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let mut tid = nr;
        // SAFETY: the namespace is valid (counted); `tid` is one number, as `set_tid` of
        // `clone3()`.
        let pid = kernel::error::from_err_ptr(unsafe {
            bindings::alloc_pid(self.ns.as_ptr(), &mut tid, 1)
        })
        .map_err(|e| {
            if e == EEXIST {
                log!(
                    log,
                    "pid {nr}: taken by another process (a process group or session id)"
                );
                EBUSY
            } else {
                log!(
                    log,
                    "pid {nr}: cannot reserve it for its process group or session ({})",
                    e.to_errno()
                );
                e
            }
        })?;
        self.reserved.insert(room.into_node(nr, pid));
        Ok(pid)
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        for &pid in self.reserved.values() {
            // SAFETY: a pid from `alloc_pid` that no task was attached to.
            unsafe { bindings::free_pid(pid) };
        }
    }
}

/// Checks the saved process groups and sessions against each other and finds their `struct
/// pid`s: a group or session inside the tree is named after a restored process, or its pid
/// is reserved if its leader died; one that reached outside becomes the caller's. Threads
/// have none of their own (`None`): they are their process's.
pub(crate) fn plan(log: &Log, created: &[Created]) -> Result<Plan> {
    let bad = |what: &str, pid: i32| {
        log!(log, "pid {pid}: {what}");
        EINVAL
    };
    // Where the root was created: the caller's namespace for children, or the container's.
    let ns = created
        .first()
        .and_then(|c| c.task.active_pid_ns())
        .ok_or(ESRCH)?;
    let mut plan = Plan {
        links: KVec::with_capacity(created.len(), GFP_KERNEL)?,
        ns,
        reserved: RBTree::new(),
    };
    let processes = || created.iter().filter(|c| c.is_leader());
    let count = processes().count();
    // Each process by its saved pid, and by its saved group (any one of the group's).
    let by_pid = Sorted::new(count, processes().map(|c| (c.rec.pid as usize, c)))?;
    let by_group = Sorted::new(count, processes().map(|c| (c.rec.pgid as usize, c)))?;
    for c in created {
        if !c.is_leader() {
            plan.links.push(None, GFP_KERNEL)?;
            continue;
        }
        let t = &c.rec;
        let pgrp_out = t.flags & abi::TASK_F_PGRP_OUTSIDE != 0;
        let session_out = t.flags & abi::TASK_F_SESSION_OUTSIDE != 0;
        if pgrp_out && !session_out {
            return Err(bad(
                "its process group reaches outside the tree, its session does not",
                t.pid,
            ));
        }
        // All members of a group share its session (and how far it reaches): each is
        // compared with the same one of them.
        let same = by_group.get(t.pgid as usize).ok_or(EINVAL)?;
        if same.rec.sid != t.sid || (same.rec.flags ^ t.flags) & abi::TASK_F_PGRP_OUTSIDE != 0 {
            return Err(bad("process group spans sessions", t.pid));
        }
        let session = if session_out {
            None
        } else {
            // The leader of a restored session, if alive, leads its group of the same id.
            Some(match by_pid.get(t.sid as usize) {
                Some(l) if l.rec.sid == t.sid && l.rec.pgid == t.sid => pid_of(l),
                Some(_) => return Err(bad("session whose leader is in another one", t.pid)),
                None => plan.reserve(log, t.sid)?,
            })
        };
        let pgrp = match pgrp_out {
            true => None,
            false => Some(match by_pid.get(t.pgid as usize) {
                Some(l) => pid_of(l),
                None => plan.reserve(log, t.pgid)?,
            }),
        };
        plan.links.push(
            Some(Link {
                pgrp,
                session,
                leader: !session_out && t.sid == t.pid,
            }),
            GFP_KERNEL,
        )?;
    }
    Ok(plan)
}

/// Puts every created task under its saved parent, in its process group and session, and
/// the processes of each restored session in an autogroup of their own, as setsid() would.
/// [`plan`] found everything; the live tasks are parked, so nobody sees the tree change.
/// Another thread of the restarter may have acted on them since, in which case nothing is
/// linked: reaped a zombie (`EAGAIN`), or attached to a task with ptrace (`EBUSY`: linking
/// would replace the tracer as its parent).
pub(crate) fn link(log: &Log, created: &[Created], mut plan: Plan) -> Result {
    let links = &plan.links;
    let autogroups = Autogroups::new(created, links)?;
    let refused = with_tasklist_write(|| {
        // Reaping and attaching take `tasklist_lock`: what is seen here stays so until we
        // are done.
        for c in created {
            let t = c.task.as_ptr();
            // SAFETY: the task is valid; `exit_state` and `ptrace` are stable under the lock.
            let (dead, traced) = unsafe { ((*t).exit_state, (*t).ptrace != 0) };
            if c.rec.state == abi::TASK_STATE_ZOMBIE && dead != bindings::EXIT_ZOMBIE as i32 {
                return Some((
                    c.rec.pid,
                    EAGAIN,
                    "a restored zombie was reaped by the restarter's own wait()",
                ));
            }
            if traced {
                return Some((
                    c.rec.pid,
                    EBUSY,
                    "a restored task was attached to by ptrace before it was linked",
                ));
            }
        }
        // SAFETY: the caller's signal struct is valid while it runs; its group and session
        // change only under the lock.
        let (my_pgrp, my_session) = unsafe {
            let sig = (*bindings::get_current()).signal;
            (
                (*sig).pids[bindings::pid_type_PIDTYPE_PGID as usize],
                (*sig).pids[bindings::pid_type_PIDTYPE_SID as usize],
            )
        };
        for c in created {
            let t = c.task.as_ptr();
            if c.is_leader() {
                // SAFETY: the task is valid; its parent reads `exit_signal` under
                // `tasklist_lock`, held here for writing. Every process was created without one
                // (`task::spawn`).
                unsafe { (*t).exit_signal = c.rec.exit_signal };
            }
            let Some(p) = c.parent else { continue };
            let parent = created[p].task.as_ptr();
            // SAFETY: both are valid; the lists and parent pointers are ours to change under
            // `tasklist_lock` held for writing. None is ptraced (checked above).
            unsafe {
                // Only a process's leader is on its parent's list of children; its threads
                // just point to the same parent.
                if c.is_leader() {
                    bindings::list_move_tail(
                        core::ptr::addr_of_mut!((*t).sibling),
                        core::ptr::addr_of_mut!((*parent).children),
                    );
                }
                (*t).real_parent = parent;
                (*t).parent = parent;
                // Otherwise a non-SIGCHLD exit signal would turn into SIGCHLD.
                (*t).parent_exec_id = (*parent).self_exec_id;
            }
        }
        for (c, l) in created.iter().zip(links.iter()) {
            let Some(l) = l else { continue };
            let (pgrp, session) = (l.pgrp.unwrap_or(my_pgrp), l.session.unwrap_or(my_session));
            let t = c.task.as_ptr();
            // SAFETY: as above; `change_pid` wants the tasklist lock held for writing.
            unsafe {
                let sig = (*t).signal;
                if (*sig).pids[bindings::pid_type_PIDTYPE_SID as usize] != session {
                    bindings::change_pid(t, bindings::pid_type_PIDTYPE_SID, session);
                    // A restored session has no terminal (terminals are not restored yet);
                    // the task must not keep the caller's.
                    bindings::proc_clear_tty(t);
                }
                if (*sig).pids[bindings::pid_type_PIDTYPE_PGID as usize] != pgrp {
                    bindings::change_pid(t, bindings::pid_type_PIDTYPE_PGID, pgrp);
                }
                if l.leader {
                    (*sig).leader = 1;
                }
            }
        }
        None
    });
    match refused {
        Some((pid, e, why)) => {
            log!(log, "pid {pid}: {why}");
            Err(e)
        }
        None => {
            // Held by their members now.
            plan.reserved = RBTree::new();
            autogroups.join(created);
            Ok(())
        }
    }
}

/// The processes of the restored sessions, sorted by session, for [`link`] to give each
/// session an autogroup: restart links processes into their session without the setsid()
/// that would have made one, and they were created in the restarter's. A session that
/// reaches outside the tree is the caller's, and so is its autogroup.
struct Autogroups(KVVec<(usize, usize)>);

impl Autogroups {
    /// Allocates before anything is linked: `join` cannot fail.
    fn new(created: &[Created], links: &[Option<Link>]) -> Result<Self> {
        let mut v = KVVec::new();
        if cfg!(CONFIG_SCHED_AUTOGROUP) {
            for (i, (c, l)) in created.iter().zip(links.iter()).enumerate() {
                let Some(session) = l.as_ref().and_then(|l| l.session) else {
                    continue;
                };
                // A zombie is dead by now: it has no autogroup to move.
                if c.is_leader() && c.rec.state != abi::TASK_STATE_ZOMBIE {
                    // The session's `struct pid`, as a key only.
                    v.push((session as usize, i), GFP_KERNEL)?;
                }
            }
        }
        v.sort_unstable();
        Ok(Autogroups(v))
    }

    /// Puts the first process of each session in a new autogroup and the others in its.
    fn join(&self, created: &[Created]) {
        let mut first: Option<(usize, usize)> = None;
        for &(session, i) in self.0.iter() {
            let with = match first {
                Some((s, f)) if s == session => created[f].task.as_ptr(),
                _ => {
                    first = Some((session, i));
                    core::ptr::null_mut()
                }
            };
            #[cfg(CONFIG_SCHED_AUTOGROUP)]
            // SAFETY: both are processes we created, parked (not exited) and held.
            unsafe {
                bindings::restart_autogroup_join(created[i].task.as_ptr(), with)
            };
            #[cfg(not(CONFIG_SCHED_AUTOGROUP))]
            let _ = with;
        }
    }
}
