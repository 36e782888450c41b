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
use crate::task::ParkedTask;
use crate::{abi, log, log::Log, task, vfork};
use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use kernel::bindings;
use kernel::pid::{PidNamespace, PidType, ReservedPid};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::task::Task;
use kernel::tasklist::{self, TasklistGuard};
use kernel::time::Ktime;
#[cfg(CONFIG_UNIX98_PTYS)]
use kernel::tty::PtyInfo;
use kernel::types::ARef;

/// How long `checkpoint(CKPT_KILL)` waits for the killed tasks to be reaped.
const KILL_WAIT_MS: u32 = 10_000;

/// Whether the dead task `t` is released by now, or its parent is the caller's process, which
/// cannot reap it while it waits in checkpoint.
fn reaped_by_caller(t: &Task) -> bool {
    t.real_parent()
        .map_or(true, |p| p.same_thread_group(kernel::current!()))
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
fn add_process<M: tasklist::Mode>(
    out: &mut KVec<Member>,
    list: &TasklistGuard<M>,
    leader: &Task,
    parent: Option<usize>,
) -> usize {
    // A task that is dead but not released yet (being reaped, or a thread or a process whose
    // parent ignores SIGCHLD releasing itself) is gone from the tree; it has no children left.
    let dead = |t: &Task| t.exit_state() == bindings::EXIT_DEAD;
    if dead(leader) {
        return 0;
    }
    let index = out.len();
    let mut add = |t: &Task| {
        if out.len() < out.capacity() {
            // Cannot fail: there is room.
            let _ = out.push(
                Member {
                    task: t.into(),
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
    for t in list.threads(leader) {
        if !core::ptr::eq(t, leader) && !dead(t) {
            n += 1;
            add(t);
        }
    }
    n
}

/// Lists the tree under `root`, breadth first, each process's threads right after it.
/// When the tree outgrows the list the walk starts again with room for all it found.
fn collect(root: &ARef<Task>) -> Result<KVec<Member>> {
    let mut want = 16;
    loop {
        let mut out: KVec<Member> = KVec::with_capacity(want, GFP_KERNEL)?;
        let found = {
            let list = tasklist::read();
            // The root leads its thread group (checked by `task::checkpoint_root`).
            let mut found = add_process(&mut out, &list, root, None);
            let mut i = 0;
            while i < out.len() {
                // Each thread's children are on its own list.
                let t = out[i].task.clone();
                for child in list.children(&t) {
                    found += add_process(&mut out, &list, child, Some(i));
                }
                i += 1;
            }
            found
        };
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
                        match task::check_supported(log, &m.task, false) {
                            Err(e) if e == ESRCH => {
                                reaped = true;
                                continue;
                            }
                            r => r?,
                        }
                        // A zombie cannot run, so it needs no freezing.
                        if !task::is_zombie(&m.task) {
                            new.push(m.task.clone(), GFP_KERNEL)?;
                        }
                    }
                }
            }
            if new.is_empty() && !reaped {
                frozen.settle(log)?;
                // A zombie that its parent reaped on its way to the trap: the next walk leaves
                // it out. Parked, its parent reaps no more.
                if members.iter().any(|m| task::is_reaped(&m.task)) {
                    continue;
                }
                // Checked again now that nothing moves: a task found in the middle of an
                // execve() of a setuid program was checked with the creds it had before, and
                // its exec could only end at the freezer trap, with the new ones.
                for m in members.iter() {
                    task::may_checkpoint(log, &m.task)?;
                    scope.check(log, &m.task)?;
                    task::check_supported(log, &m.task, true).inspect_err(|e| {
                        // Killed, and reaped at once, since.
                        if *e == ESRCH {
                            log!(log, "a task of the tree exited while it was being frozen");
                        }
                    })?;
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
    pub(crate) fn objects_holder(&self, i: usize) -> &Task {
        &self.members[if self.exited(i) { i + 1 } else { i }].task
    }

    /// The index of the member whose task is `t`, if `t` is in the tree.
    pub(crate) fn index_of(&self, t: *const bindings::task_struct) -> Option<usize> {
        self.index.get(t as usize).copied()
    }

    /// Each process that holds objects (every one but a zombie), by its leader's index, with
    /// the task that holds them.
    pub(crate) fn processes(&self) -> impl Iterator<Item = (usize, &Task)> {
        let live = |i: usize, m: &Member| !task::is_zombie(&m.task) || self.exited(i);
        self.members
            .iter()
            .enumerate()
            .filter(move |&(i, m)| m.is_leader(i) && live(i, m))
            .map(|(i, _)| (i, self.objects_holder(i)))
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
        let index = &self.index;
        self.frozen
            .kill(|t| index.get(t.as_ptr() as usize).is_some());
        let start = Ktime::ktime_get();
        for (i, m) in self.members.iter().enumerate() {
            loop {
                // Read racily, as `pid_alive()` is: a released task has no pid left.
                let dead = m.task.exit_state() != 0;
                if dead && (m.task.is_released() || i == 0 || reaped_by_caller(&m.task)) {
                    break;
                }
                if kernel::current!().signal_pending() {
                    return;
                }
                if (Ktime::ktime_get() - start).to_ms() >= i64::from(KILL_WAIT_MS) {
                    log!(
                        log,
                        "pid {}: killed, but not reaped after {KILL_WAIT_MS} ms",
                        m.task.vnr()
                    );
                    return;
                }
                kernel::current_task::usleep_range(200, 1000);
            }
        }
    }

    /// The `TASK_F_*OUTSIDE` flags of every member, in order: whether its process group and
    /// its session also hold processes outside the tree. Refuses groups and sessions that
    /// restart could not rebuild: one whose leader is gone or outside the tree while all its
    /// members are inside, or a group that reaches outside a session that does not.
    pub(crate) fn group_flags(&self, log: &Log) -> Result<KVec<u32>> {
        let pgrp = self.reach(log, PidType::Pgid, "process group")?;
        let session = self.reach(log, PidType::Sid, "session")?;
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
            // A session restored with the tree gets its terminal back if it is a pty of the
            // tree ([`Tree::controlling_ttys`]); one outside it is the caller's after a
            // restart, terminal and all.
            #[cfg(not(CONFIG_UNIX98_PTYS))]
            {
                let live = !task::is_zombie(&m.task) || self.exited(i);
                if !session
                    && m.is_leader(i)
                    && live
                    && self
                        .objects_holder(i)
                        .lock_sighand()
                        .is_some_and(|g| g.has_controlling_tty())
                {
                    log!(
                        log,
                        "pid {}: its session's controlling terminal is not a pty of the tree",
                        m.task.vnr()
                    );
                    return Err(EOPNOTSUPP);
                }
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

    /// For each member, the controlling terminal its `Signal` record names: the address of
    /// the master's file of a pty of the tree, and the terminal's foreground process group,
    /// numbered in `ns`; `(0, 0)` for none, and for a process of a session outside the tree
    /// (`groups`: [`Tree::group_flags`]), whose terminal is the caller's after a restart.
    /// Each pty named is added to `names`. Refuses a session restored with the tree whose
    /// terminal is another tty, or a pty whose master is held outside the tree, or whose
    /// foreground group has no live process of the session in the tree (`EAGAIN` if it has
    /// zombies of the tree: it has just ended).
    #[cfg(CONFIG_UNIX98_PTYS)]
    pub(crate) fn controlling_ttys(
        &self,
        log: &Log,
        ns: &PidNamespace,
        groups: &[u32],
        tree_file: impl Fn(usize) -> bool,
        names: &mut crate::files::Names,
    ) -> Result<KVec<(usize, i32)>> {
        let n = self.members.len();
        let live = |i: usize| {
            let m = &self.members[i];
            m.is_leader(i) && (!task::is_zombie(&m.task) || self.exited(i))
        };
        let nr = |i: usize, ty: PidType| ns.nr_of(&self.members[i].task, ty as u32);
        // (session, group) of every live process, for the foreground groups, and of every
        // zombie, for a group that has just ended.
        let mut in_tree = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut ended = KVec::new();
        for i in (0..n).filter(|&i| self.members[i].is_leader(i)) {
            let group = (nr(i, PidType::Sid), nr(i, PidType::Pgid));
            match live(i) {
                true => in_tree.push(group, GFP_KERNEL)?,
                false => ended.push(group, GFP_KERNEL)?,
            }
        }
        in_tree.sort_unstable();
        ended.sort_unstable();
        let mut out = KVec::from_elem((0, 0), n, GFP_KERNEL)?;
        for i in (0..n).filter(|&i| live(i)) {
            if groups[i] & abi::TASK_F_SESSION_OUTSIDE != 0 {
                continue;
            }
            let pid = self.members[i].task.vnr();
            let not_pty = || {
                log!(
                    log,
                    "pid {pid}: its session's controlling terminal is not a pty of the tree"
                );
                EOPNOTSUPP
            };
            let (master, fg) = match PtyInfo::controlling(self.objects_holder(i), ns) {
                Ok(None) => continue,
                Ok(Some(t)) => t,
                Err(e) if e == ENOTTY => return Err(not_pty()),
                Err(e) => return Err(e),
            };
            let key = master.as_ptr() as usize;
            if !tree_file(key) {
                return Err(not_pty());
            }
            let group = (nr(i, PidType::Sid), fg);
            if fg != 0
                && in_tree.binary_search(&group).is_err()
                && ended.binary_search(&group).is_ok()
            {
                // As a shell's job that just ended, until the shell reaps it and takes the
                // terminal back.
                log!(
                    log,
                    "pid {pid}: the foreground process group of its terminal has only exited processes, not reaped yet"
                );
                return Err(EAGAIN);
            }
            if fg == 0 || in_tree.binary_search(&group).is_err() {
                log!(
                    log,
                    "pid {pid}: the foreground process group of its terminal has no process of its session in the tree"
                );
                return Err(EOPNOTSUPP);
            }
            names.add_tty(&master)?;
            out[i] = (key, fg);
        }
        Ok(out)
    }

    /// Fails with `EOPNOTSUPP` unless every live task of the tree is in the cgroups of its
    /// root, on every hierarchy: restart puts them all in the restarter's (cgroups are not
    /// restored yet).
    pub(crate) fn check_cgroups(&self, log: &Log) -> Result {
        // Its main thread, if it exited, stays where it was when it died: a zombie is never
        // moved to another cgroup.
        let root = self.objects_holder(0);
        for m in self.members.iter().filter(|m| !task::is_zombie(&m.task)) {
            if !root.same_cgroups(&m.task) {
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
    fn reach(&self, log: &Log, ty: PidType, what: &str) -> Result<KVec<bool>> {
        let n = self.members.len();
        let mut out = KVec::from_elem(false, n, GFP_KERNEL)?;
        // (group, leader's index) of every process; sorted under the lock, where nothing
        // may be allocated.
        let mut groups: KVec<(usize, usize)> = KVec::with_capacity(n, GFP_KERNEL)?;
        // (member, group's number, whether it is a leader refused for reaching outside).
        let refused = (|| {
            let list = tasklist::read();
            for (i, m) in self
                .members
                .iter()
                .enumerate()
                .filter(|(i, m)| m.is_leader(*i))
            {
                // A process released since the freeze was reaped by a parent outside the
                // tree: it has no group left to save.
                let Some(pid) = list.pid_of(&m.task, ty) else {
                    return Some((i, 0, None));
                };
                // The address is the group's key only. Cannot fail: there is room.
                let _ = groups.push((pid.as_ptr() as usize, i), GFP_KERNEL);
            }
            groups.sort_unstable();
            for run in groups.chunk_by(|a, b| a.0 == b.0) {
                let pid = list.pid_of(&self.members[run[0].1].task, ty)?;
                let leader = list.task_of(pid);
                let inside = leader.and_then(|l| self.index_of(l.as_ptr()));
                if list.count_attached(pid, ty) != run.len() {
                    // Restart puts them in the caller's: a leader in the tree would lead it
                    // no more.
                    if let Some(i) = inside {
                        return Some((i, pid.vnr(), Some(true)));
                    }
                    for &(_, i) in run {
                        out[i] = true;
                    }
                    continue;
                }
                // Every member is in the tree: restart names it after its leader, which must
                // be too, or reserves its pid if the leader died.
                if leader.is_some() && inside.is_none() {
                    return Some((run[0].1, pid.vnr(), Some(false)));
                }
            }
            None
        })();
        let Some((i, nr, outside)) = refused else {
            return Ok(out);
        };
        let pid = self.members[i].task.vnr();
        match outside {
            Some(true) => log!(log, "pid {pid}: leads its {what} {nr}, which also holds processes outside the tree (not supported)"),
            Some(false) => log!(log, "pid {pid}: its {what} {nr} has its leader outside the tree (not supported)"),
            None => {
                log!(log, "pid {pid}: reaped during the checkpoint");
                return Err(ESRCH);
            }
        }
        Err(EOPNOTSUPP)
    }
}

/// A restored process group or session, by where its pid comes from.
#[derive(Clone, Copy)]
enum Group {
    /// The caller's, for one that reached outside the tree.
    Caller,
    /// The pid of a restored process that leads it, by index in `created`.
    Led(usize),
    /// A pid reserved for one whose leader had died, by number.
    Reserved(i32),
}

/// Where one restored process goes.
pub(crate) struct Link {
    pgrp: Group,
    session: Group,
    /// Whether it leads its (restored) session.
    leader: bool,
}

/// Where every restored task goes, with the pids reserved for process groups and sessions
/// whose leader died; dropping it before [`link`] releases them.
pub(crate) struct Plan {
    /// By index in `created`; `None` for threads, whose groups are their process's.
    links: KVec<Option<Link>>,
    /// The namespace the tasks were created in.
    ns: ARef<PidNamespace>,
    /// The reserved pids, by number.
    reserved: RBTree<i32, ReservedPid>,
}

impl Plan {
    /// The pid numbered `nr` for a group or session that outlived its leader: allocated like
    /// a new task's (same rights needed, `EBUSY` if taken), with no task of its own. It lives
    /// on, as the dead leader's did, while a member is attached to it.
    fn reserve(&mut self, log: &Log, nr: i32) -> Result<Group> {
        if self.reserved.get(&nr).is_none() {
            let room = RBTreeNodeReservation::new(GFP_KERNEL)?;
            let pid = ReservedPid::new(&self.ns, nr).map_err(|e| {
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
        }
        Ok(Group::Reserved(nr))
    }
}

/// Checks the saved process groups and sessions against each other and finds their pids: a
/// group or session inside the tree is named after a restored process, or its pid is
/// reserved if its leader died; one that reached outside becomes the caller's. Threads have
/// none of their own (`None`): they are their process's.
pub(crate) fn plan(log: &Log, created: &[ParkedTask]) -> Result<Plan> {
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
    let processes = || created.iter().enumerate().filter(|(_, c)| c.is_leader());
    let count = processes().count();
    // Each process by its saved pid, and by its saved group (any one of the group's).
    let by_pid = Sorted::new(count, processes().map(|(i, c)| (c.rec.pid as usize, i)))?;
    let by_group = Sorted::new(count, processes().map(|(i, c)| (c.rec.pgid as usize, i)))?;
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
        let same = &created[*by_group.get(t.pgid as usize).ok_or(EINVAL)?].rec;
        if same.sid != t.sid || (same.flags ^ t.flags) & abi::TASK_F_PGRP_OUTSIDE != 0 {
            return Err(bad("process group spans sessions", t.pid));
        }
        let session = match session_out {
            true => Group::Caller,
            // The leader of a restored session, if alive, leads its group of the same id.
            false => match by_pid.get(t.sid as usize) {
                Some(&l) if created[l].rec.sid == t.sid && created[l].rec.pgid == t.sid => {
                    Group::Led(l)
                }
                Some(_) => return Err(bad("session whose leader is in another one", t.pid)),
                None => plan.reserve(log, t.sid)?,
            },
        };
        let pgrp = match pgrp_out {
            true => Group::Caller,
            false => match by_pid.get(t.pgid as usize) {
                // A group outlives its leader's move to another group, never to another
                // session (setsid() refuses a process whose pid names a group).
                Some(&l) if created[l].rec.sid != t.sid => {
                    return Err(bad(
                        "process group named after a process of another session",
                        t.pid,
                    ))
                }
                Some(&l) => Group::Led(l),
                None => plan.reserve(log, t.pgid)?,
            },
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
pub(crate) fn link(log: &Log, created: &[ParkedTask], plan: Plan) -> Result {
    let links = &plan.links;
    let autogroups = Autogroups::new(created, links)?;
    let me: ARef<Task> = kernel::current!().into();
    let group = |g: Group, ty: PidType| match g {
        Group::Caller => Some(tasklist::Group::Of(&me, ty)),
        Group::Led(l) => Some(tasklist::Group::Of(&created[l].task, PidType::Pid)),
        // Cannot fail: `plan` reserved each one it named.
        Group::Reserved(nr) => plan.reserved.get(&nr).map(tasklist::Group::Reserved),
    };
    let groups = |c: &ParkedTask, l: &Link| match (
        group(l.pgrp, PidType::Pgid),
        group(l.session, PidType::Sid),
    ) {
        (Some(pgrp), Some(session)) => Ok((pgrp, session)),
        _ => Err((
            c.rec.pid,
            EINVAL,
            "its process group or session was not planned",
        )),
    };
    // Each process moves to its saved parent (`None`: the root keeps the restarter), and
    // has a link unless it reached outside the tree.
    let moves = || {
        created
            .iter()
            .zip(links.iter())
            .filter(|(c, _)| c.is_leader())
            .map(|(c, l)| (c, c.parent.map(|p| &*created[p].task), l.as_ref()))
    };
    let refused = (|| {
        // Reaping and attaching take `tasklist_lock`: what is seen here stays so until we
        // are done. Everything is checked before anything moves.
        let mut list = tasklist::write_irq();
        for c in created {
            if c.rec.state == abi::TASK_STATE_ZOMBIE && c.task.exit_state() != bindings::EXIT_ZOMBIE
            {
                return Err((
                    c.rec.pid,
                    EAGAIN,
                    "a restored zombie was reaped by the restarter's own wait()",
                ));
            }
            if c.task.is_ptraced() {
                return Err((
                    c.rec.pid,
                    EBUSY,
                    "a restored task was attached to by ptrace before it was linked",
                ));
            }
        }
        for (c, parent, l) in moves() {
            if let Some(l) = l {
                let (pgrp, session) = groups(c, l)?;
                list.can_set_pgrp_session(&c.task, pgrp, session, l.leader)
                    .map_err(|e| (c.rec.pid, e, "cannot join its process group and session"))?;
            }
            list.can_reparent(&c.task, parent, c.rec.exit_signal)
                .map_err(|e| (c.rec.pid, e, "cannot be moved under its parent"))?;
        }
        // None of these changes what was checked above for the others, so they cannot fail.
        // Groups and sessions first, while every process is still the caller's child; then
        // parents before their children, so that each moves before it has any.
        for (c, _, l) in moves() {
            if let Some(l) = l {
                let (pgrp, session) = groups(c, l)?;
                list.set_pgrp_session(&c.task, pgrp, session, l.leader)
                    .map_err(|e| (c.rec.pid, e, "cannot join its process group and session"))?;
            }
        }
        for (c, parent, _) in moves() {
            list.reparent(&c.task, parent, c.rec.exit_signal)
                .map_err(|e| (c.rec.pid, e, "cannot be moved under its parent"))?;
        }
        Ok(())
    })();
    if let Err((pid, e, why)) = refused {
        log!(log, "pid {pid}: {why}");
        return Err(e);
    }
    autogroups.join(created);
    Ok(())
}

/// The processes of the restored sessions, sorted by session, for [`link`] to give each
/// session an autogroup: restart links processes into their session without the setsid()
/// that would have made one, and they were created in the restarter's. A session that
/// reaches outside the tree is the caller's, and so is its autogroup.
struct Autogroups(KVVec<(usize, usize)>);

impl Autogroups {
    /// Allocates before anything is linked: `join` cannot fail.
    fn new(created: &[ParkedTask], links: &[Option<Link>]) -> Result<Self> {
        let mut v = KVVec::new();
        if cfg!(CONFIG_SCHED_AUTOGROUP) {
            for (i, (c, l)) in created.iter().zip(links.iter()).enumerate() {
                // Threads go with their process; the caller's session keeps the caller's
                // autogroup.
                let Some(l) = l else { continue };
                if matches!(l.session, Group::Caller) {
                    continue;
                }
                // A zombie is dead by now: it has no autogroup to move. A restored session
                // goes by its saved id.
                if c.rec.state != abi::TASK_STATE_ZOMBIE {
                    v.push((c.rec.sid as usize, i), GFP_KERNEL)?;
                }
            }
        }
        v.sort_unstable();
        Ok(Autogroups(v))
    }

    /// Puts the first process of each session in a new autogroup and the others in its.
    fn join(&self, created: &[ParkedTask]) {
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
