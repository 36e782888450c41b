// SPDX-License-Identifier: GPL-2.0

//! Signals: handlers, masks, pending signals with their siginfo, the alternate stack, and the
//! thread group's resource limits.
//!
//! Pending signals are queued again last, just before the restored task returns to user
//! mode: a pending signal would make every interruptible wait of the restore fail.

use crate::image::{Dumper, Rec, Restorer};
use crate::log::Log;
use crate::shared::{self, Joinable, Shareable};
use crate::task::is_zombie;
use crate::tree::Tree;
use crate::{abi, log, posix_timers, timers, Obj};
use kernel::alloc::{flags::GFP_ATOMIC, flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVVec, KVec};
use kernel::bindings;
use kernel::prelude::*;
// Bytes of a `kernel_siginfo` (the user siginfo_t is larger; the rest is zero).
use kernel::signal::{self, JobControl, Pending, SighandStruct, SIGINFO_LEN};
use kernel::task::Task;
use kernel::task_lock::Held;
use kernel::types::ARef;

/// Signals numbered 1..=NSIG.
const NSIG: u32 = bindings::_NSIG;
/// `si_code` of a signal the kernel raised without queueing a siginfo.
const SI_KERNEL: i32 = bindings::SI_KERNEL as i32;

kernel::static_assert!(SIGINFO_LEN <= 128);

/// Collects the signals of one pending queue (under the signal lock: no sleeping).
fn collect(pending: Pending<'_>, shared: u32, out: &mut KVec<abi::SigPending>) -> Result {
    let mut queued = 0u64;
    for q in pending.iter() {
        let signo = q.signo();
        if (1..=NSIG).contains(&signo) {
            queued |= 1 << (signo - 1);
        }
        // A POSIX timer's own signal, saved with its timer (`posix_timers`).
        if q.is_preallocated() {
            continue;
        }
        let mut rec = abi::SigPending {
            shared,
            ..Default::default()
        };
        rec.info[..SIGINFO_LEN].copy_from_slice(&q.info());
        rec.signo = signo;
        out.push(rec, GFP_ATOMIC)?;
    }
    // Signals pending without a queue entry (SIGKILL, or when one could not be allocated).
    let bare = pending.mask() & !queued;
    for signo in (1..=NSIG).filter(|s| bare & (1 << (s - 1)) != 0) {
        let mut rec = abi::SigPending {
            shared,
            signo,
            ..Default::default()
        };
        rec.info[..4].copy_from_slice(&(signo as i32).to_le_bytes());
        rec.info[8..12].copy_from_slice(&SI_KERNEL.to_le_bytes());
        out.push(rec, GFP_ATOMIC)?;
    }
    Ok(())
}

/// What is read under the target's signal lock.
struct Snapshot {
    task: abi::TaskSignal,
    task_pending: KVec<abi::SigPending>,
    signal: abi::Signal,
    shared_pending: KVec<abi::SigPending>,
    actions: KVec<abi::SigAction>,
    /// The signal struct and handlers, as objref keys.
    keys: (
        *const bindings::signal_struct,
        *const bindings::sighand_struct,
    ),
}

fn snapshot(task: &Task) -> Result<Snapshot> {
    let mut s = Snapshot {
        task: Default::default(),
        task_pending: KVec::new(),
        signal: Default::default(),
        shared_pending: KVec::new(),
        actions: KVec::new(),
        keys: (core::ptr::null(), core::ptr::null()),
    };
    let g = task.lock_sighand().ok_or(ESRCH)?;
    s.keys = g.keys();
    let (blocked, real_blocked, saved_sigmask) = g.blocked();
    let (altstack_sp, altstack_size, altstack_flags) = g.altstack();
    s.task = abi::TaskSignal {
        blocked,
        real_blocked,
        saved_sigmask,
        altstack_sp,
        altstack_size,
        altstack_flags,
        pending_count: 0,
    };
    collect(g.pending(), abi::SIGPENDING_TASK, &mut s.task_pending)?;
    collect(
        g.shared_pending(),
        abi::SIGPENDING_SHARED,
        &mut s.shared_pending,
    )?;
    for i in 0..abi::RLIMIT_COUNT as usize {
        let (cur, max) = g.rlimit(i).ok_or(EINVAL)?;
        (s.signal.rlim[2 * i], s.signal.rlim[2 * i + 1]) = (cur, max);
    }
    // Written without the siglock (under oom_adj_mutex), so a racy read like the OOM
    // killer's; only from outside the tree while it is frozen.
    let (adj, adj_min) = g.oom_score_adj();
    (s.signal.oom_score_adj, s.signal.oom_score_adj_min) = (adj.into(), adj_min.into());
    s.signal.itimer = timers::save_locked(&g);
    let (is_subreaper, has_subreaper) = g.subreaper();
    if is_subreaper {
        s.signal.flags |= abi::SIGNAL_F_CHILD_SUBREAPER;
    }
    if has_subreaper {
        s.signal.flags |= abi::SIGNAL_F_HAS_CHILD_SUBREAPER;
    }
    for signo in 1..=NSIG {
        let a = g.action(signo).ok_or(EINVAL)?;
        let rec = abi::SigAction {
            signo,
            flags: a.flags as u32,
            handler: a.handler,
            restorer: a.restorer,
            mask: a.mask,
        };
        if rec.handler != 0 || rec.flags != 0 || rec.mask != 0 {
            s.actions.push(rec, GFP_ATOMIC)?;
        }
    }
    drop(g);
    s.task.pending_count = s.task_pending.len() as u32;
    s.signal.pending_count = s.shared_pending.len() as u32;
    Ok(s)
}

/// Whether `signr` is a signal that stops a process (sig_kernel_stop()).
pub(crate) fn is_stop_signal(signr: i32) -> bool {
    [
        bindings::SIGSTOP,
        bindings::SIGTSTP,
        bindings::SIGTTIN,
        bindings::SIGTTOU,
    ]
    .contains(&(signr as u32))
}

/// What job control left in a process, read at one moment for all its threads.
#[derive(Clone, Copy, Default)]
pub(crate) struct Job {
    /// The signal that stopped the task, 0 if it is not stopped.
    pub(crate) stopped_by: i32,
    /// Its process's `SIGNAL_F_STOPPED` or `SIGNAL_F_CONTINUED`, and the stop wait() has yet
    /// to report.
    flags: u32,
    report: i32,
    /// Its process's controlling terminal: the address of the master's file of a pty of the
    /// tree and its foreground process group, `(0, 0)` for none
    /// ([`crate::tree::Tree::controlling_ttys`]).
    pub(crate) tty: (usize, i32),
}

/// For each member of `tree`, what job control left in it, each process read under one hold
/// of its signal lock: a SIGCONT during the checkpoint (which wakes a stopped task into the
/// freezer trap) leaves it stopped or continued as a whole. Fails with `EAGAIN` for a process
/// caught between the stops of its threads: a stop cannot be restored half-way.
pub(crate) fn jobs(log: &Log, tree: &Tree) -> Result<KVec<Job>> {
    let members = tree.members();
    let mut out = KVec::from_elem(Job::default(), members.len(), GFP_KERNEL)?;
    for (i, m) in members.iter().enumerate().filter(|(i, m)| m.is_leader(*i)) {
        // A zombie's process has no job control left; an exited main thread is not stopped.
        let exited = tree.exited(i);
        if is_zombie(&m.task) && !exited {
            continue;
        }
        let tasks = i..=i + tree.threads(i).len();
        let job = tree
            .objects_holder(i)
            .lock_sighand()
            .map(|g| {
                // One hold of the lock for the flags and exit code and each thread's `jobctl`.
                let (flags, report) = g.signal_flags();
                let group = flags & bindings::SIGNAL_STOP_STOPPED != 0;
                let job = match (group, flags & bindings::SIGNAL_STOP_CONTINUED != 0) {
                    (true, _) if report == 0 || is_stop_signal(report) => Job {
                        stopped_by: 0,
                        flags: abi::SIGNAL_F_STOPPED,
                        report,
                        ..Job::default()
                    },
                    (true, _) => return None,
                    (false, true) => Job {
                        stopped_by: 0,
                        flags: abi::SIGNAL_F_CONTINUED,
                        ..Job::default()
                    },
                    (false, false) => Job::default(),
                };
                for k in tasks.clone().skip(usize::from(exited)) {
                    // A thread of another process has been released: the process is exiting.
                    let jobctl = g.jobctl(&members[k].task)?;
                    let signr = (jobctl & bindings::JOBCTL_STOP_SIGMASK as usize) as i32;
                    let stopped = jobctl & bindings::JOBCTL_STOPPED as usize != 0;
                    if stopped != group || stopped && !is_stop_signal(signr) {
                        return None;
                    }
                    out[k].stopped_by = if stopped { signr } else { 0 };
                }
                Some(job)
            })
            .ok_or(ESRCH)?;
        let Some(job) = job else {
            log!(log, "pid {}: caught between the stops of its threads (one asleep in vfork() never stops)", m.task.vnr());
            return Err(EAGAIN);
        };
        for o in &mut out[tasks] {
            (o.flags, o.report) = (job.flags, job.report);
        }
    }
    Ok(out)
}

/// Writes the task's `TaskSignal` with its own pending signals and, for the thread that
/// carries its `process`'s records, `Signal` and `Sighand` with the process's shared pending
/// signals and handlers, with what `job` control left in the process.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task, process: bool, job: &Job) -> Result {
    let s = snapshot(task)?;
    d.record(&s.task)?;
    for p in s.task_pending.iter() {
        d.record(p)?;
    }
    match process {
        true => write_process(d, task, &s, job),
        false => Ok(()),
    }
}

/// Writes only the process's `Signal` and `Sighand` records, as seen from its thread `task`:
/// for a process whose main thread exited.
pub(crate) fn dump_process(d: &mut Dumper<'_>, task: &Task, job: &Job) -> Result {
    let s = snapshot(task)?;
    write_process(d, task, &s, job)
}

fn write_process(d: &mut Dumper<'_>, task: &Task, s: &Snapshot, job: &Job) -> Result {
    let timers = posix_timers::save(d.log, task)?;
    let (signal, sighand) = s.keys;
    let objref = d.objref(signal)?;
    let posix_timers = timers.timers.len() as u32;
    let flags = s.signal.flags | job.flags;
    let group_exit_code = job.report;
    let (tty, tty_pgrp) = match job.tty {
        (0, _) => (0, 0),
        (master, fg) => (d.objref(master as *const u8)?, fg),
    };
    d.record(&abi::Signal {
        objref,
        flags,
        group_exit_code,
        posix_timers,
        next_posix_timer_id: timers.next_id,
        tty,
        tty_pgrp,
        ..s.signal
    })?;
    for p in s.shared_pending.iter() {
        d.record(p)?;
    }
    for t in timers.timers.iter() {
        d.record(t)?;
    }
    let (objref, first) = d.first_write(sighand)?;
    // Handlers shared with a process written earlier (`CLONE_SIGHAND`) are only named.
    if !first {
        return d.record(&abi::Sighand { objref, count: 0 });
    }
    d.record(&abi::Sighand {
        objref,
        count: s.actions.len() as u32,
    })?;
    for a in s.actions.iter() {
        d.record(a)?;
    }
    Ok(())
}

/// Per-task signal state applied as the very last step of a restore.
pub(crate) struct DeferredSignals {
    task: abi::TaskSignal,
    restore_sigmask: bool,
    pending: KVVec<abi::SigPending>,
    /// The process's interval timers, in the thread that restores its `Signal`.
    itimer: Option<[u64; 6]>,
    /// The process's POSIX timers, in the thread that restores its `Signal`.
    posix: posix_timers::Restored,
    /// The process's job control state, in the thread that restores its `Signal`:
    /// `SIGNAL_F_STOPPED` or `SIGNAL_F_CONTINUED`, the stop wait() has yet to report, and
    /// the signal that stopped its tasks.
    group_stop: Option<(u32, i32, i32)>,
}

fn read_pending<T>(
    r: &mut Restorer<'_, T>,
    count: u32,
    out: &mut KVVec<abi::SigPending>,
) -> Result {
    for _ in 0..count {
        let p = r.expect::<abi::SigPending>()?;
        if !(1..=NSIG).contains(&p.signo) || p.signo == bindings::SIGKILL {
            return Err(r.bad("pending signal number"));
        }
        out.push(p, GFP_KERNEL_ACCOUNT)?;
    }
    Ok(())
}

/// Reads a task's `TaskSignal` and its pending signals (in the restarter).
pub(crate) fn read_task<T>(
    r: &mut Restorer<'_, T>,
    restore_sigmask: bool,
) -> Result<DeferredSignals> {
    let task = r.expect::<abi::TaskSignal>()?;
    let mut pending = KVVec::new();
    read_pending(r, task.pending_count, &mut pending)?;
    // SS_DISABLE is what a task without an alternate stack has after a CLONE_VM fork.
    if task.altstack_flags & !(bindings::SS_AUTODISARM | bindings::SS_DISABLE) != 0
        || task.altstack_sp.checked_add(task.altstack_size).is_none()
    {
        return Err(r.bad("alternate signal stack"));
    }
    Ok(DeferredSignals {
        task,
        restore_sigmask,
        pending,
        itimer: None,
        posix: Default::default(),
        group_stop: None,
    })
}

/// Restores a `Signal` record (resource limits) into the current task and keeps its shared
/// pending signals in `deferred`.
pub(crate) fn restore_signal(
    r: &mut Restorer<'_, Obj>,
    rec: Rec,
    deferred: &mut DeferredSignals,
) -> Result {
    let s = r.decode::<abi::Signal>(rec)?;
    if (s.tty == 0) != (s.tty_pgrp == 0) || s.tty_pgrp < 0 {
        return Err(r.bad("controlling terminal without a foreground group, or the converse"));
    }
    // The terminal is given once the tree is linked into its sessions and groups.
    let (tty, tty_pgrp) = (s.tty, s.tty_pgrp);
    r.define(s.objref, Obj::Signal { tty, tty_pgrp })?;
    read_pending(r, s.pending_count, &mut deferred.pending)?;
    posix_timers::read(
        r,
        s.posix_timers,
        s.next_posix_timer_id,
        &mut deferred.posix,
    )?;
    timers::check(r, &s.itimer)?;
    deferred.itimer = Some(s.itimer);
    // As setrlimit(2) would: a hard limit above the restarter's needs CAP_SYS_RESOURCE.
    for i in 0..abi::RLIMIT_COUNT as usize {
        if let Err(e) = signal::set_rlimit(i as u32, s.rlim[2 * i], s.rlim[2 * i + 1]) {
            log!(
                r.log,
                "resource limit {i}: cannot set it to the saved value ({})",
                e.to_errno()
            );
            return Err(e);
        }
    }
    let job_control = abi::SIGNAL_F_STOPPED | abi::SIGNAL_F_CONTINUED;
    if s.flags & !(abi::SIGNAL_F_CHILD_SUBREAPER | abi::SIGNAL_F_HAS_CHILD_SUBREAPER | job_control)
        != 0
        || s.flags & job_control == job_control
    {
        return Err(r.bad("signal struct flags"));
    }
    if s.group_exit_code != 0
        && (s.flags & abi::SIGNAL_F_STOPPED == 0 || !is_stop_signal(s.group_exit_code))
    {
        return Err(r.bad("stop signal for wait() to report"));
    }
    deferred.group_stop = Some((s.flags & job_control, s.group_exit_code, 0));
    signal::set_child_subreaper(s.flags & abi::SIGNAL_F_CHILD_SUBREAPER != 0);
    // Whether an ancestor may be a subreaper, which decides if orphans look for one: the
    // saved ancestors', or (over a subtree's root) the restarter's, which it inherited.
    if s.flags & abi::SIGNAL_F_HAS_CHILD_SUBREAPER != 0 {
        signal::set_has_child_subreaper();
    }
    set_oom_score_adj(r, &s)?;
    Ok(())
}

/// Sets the OOM score adjustment and its floor as a write to /proc/PID/oom_score_adj would:
/// below the floor the process inherited from the restarter only with CAP_SYS_RESOURCE (EPERM
/// and a log line otherwise).
fn set_oom_score_adj(r: &Restorer<'_, Obj>, s: &abi::Signal) -> Result {
    // OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX, include/uapi/linux/oom.h.
    let range = -1000..=1000;
    let (adj, min) = (s.oom_score_adj, s.oom_score_adj_min);
    if !range.contains(&adj) || !range.contains(&min) || min > adj {
        return Err(r.bad("OOM score adjustment"));
    }
    signal::set_oom_score_adj(adj, min).inspect_err(|&e| {
        if e == EPERM {
            log!(
                r.log,
                "oom_score_adj: lowering its floor to {min} needs CAP_SYS_RESOURCE"
            );
        }
    })
}

/// Restores a `Sighand` record and its handlers into the current task, or makes it share
/// those restored for an earlier process.
pub(crate) fn restore_sighand(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
    let s = r.decode::<abi::Sighand>(rec)?;
    if shared::join::<SighandStruct>(r, s.objref, s.count == 0)? {
        return Ok(());
    }
    shared::keep::<SighandStruct>(r, s.objref)?;
    for _ in 0..s.count {
        let a = r.expect::<abi::SigAction>()?;
        if !(1..=NSIG).contains(&a.signo)
            || a.signo == bindings::SIGKILL
            || a.signo == bindings::SIGSTOP
        {
            return Err(r.bad("signal handler number"));
        }
        let act = signal::SigAction {
            handler: a.handler,
            flags: a.flags.into(),
            restorer: a.restorer,
            mask: a.mask,
        };
        if let Err(e) = signal::set_action(a.signo, &act) {
            log!(
                r.log,
                "signal {}: cannot set its handler ({})",
                a.signo,
                e.to_errno()
            );
            return Err(e);
        }
    }
    Ok(())
}

impl DeferredSignals {
    /// The signal state of an exited main thread, which has none of its own: it blocks every
    /// signal, so that one for the process goes to another thread.
    pub(crate) fn exited() -> DeferredSignals {
        let task = abi::TaskSignal {
            blocked: !0,
            altstack_flags: bindings::SS_DISABLE,
            ..Default::default()
        };
        DeferredSignals {
            task,
            restore_sigmask: false,
            pending: KVVec::new(),
            itimer: None,
            posix: Default::default(),
            group_stop: None,
        }
    }

    /// In the thread that restored its process's `Signal`: takes `signr` (0 for none), the
    /// signal that stopped the first of the process's live tasks, as the process's. False
    /// unless a process saved as stopped was stopped by a stop signal, and one saved as not
    /// was not.
    pub(crate) fn set_stop_signal(&mut self, signr: i32) -> bool {
        let Some((flags, _, stopped_by)) = self.group_stop.as_mut() else {
            return false;
        };
        *stopped_by = signr;
        match *flags == abi::SIGNAL_F_STOPPED {
            true => is_stop_signal(signr),
            false => signr == 0,
        }
    }

    /// In the leader, once its threads exist, as the last step of its restore: sets what job
    /// control left in its process, without telling its parent again.
    pub(crate) fn restore_job_control(&self) -> Result {
        let Some((flags, report, signr)) = self.group_stop else {
            return Ok(());
        };
        // `set_stop_signal()` checked `signr`.
        signal::set_job_control(match signr {
            0 => JobControl::Running {
                continued: flags == abi::SIGNAL_F_CONTINUED,
            },
            _ => JobControl::Stopped {
                signr: signr as u32,
                // Checked with the rest of the record: 0 or a stop signal.
                report: report as u32,
            },
        })
    }

    /// Sets the blocked mask and alternate stack, near the end of the task's own restore
    /// (only its timers come after: one that expires at once must find its signal blocked
    /// if it was). Every thread of a process has its mask before any pending signal is
    /// queued again, or a signal for the process could go to a thread that does not block it
    /// yet (and kill the process if it is fatal).
    pub(crate) fn block(&self) {
        signal::set_blocked(if self.restore_sigmask {
            self.task.saved_sigmask
        } else {
            self.task.blocked
        });
        let t = &self.task;
        signal::set_altstack(t.altstack_sp, t.altstack_size, t.altstack_flags);
    }

    /// Queues the pending signals again: the last thing the restored task does before it
    /// returns to user mode, once the whole tree is restored.
    pub(crate) fn queue(&self) {
        signal::with_current_siglock(|g| {
            for p in self.pending.iter() {
                let mut info = [0u8; SIGINFO_LEN];
                info.copy_from_slice(&p.info[..SIGINFO_LEN]);
                // Ignored, as before: the queue was checked when read, and the task is not
                // exiting.
                let _ = g.send(p.signo, &info, p.shared == abi::SIGPENDING_SHARED);
            }
        });
        self.posix.queue();
    }

    /// Arms the process's interval timers and creates its POSIX timers, in the thread that
    /// restored them, once the whole process is: its other threads wait in the kernel until
    /// the tree is restored, so none of them can see the timers unset or set its own only to
    /// have it overwritten.
    pub(crate) fn arm_timers(&self, log: &Log) -> Result {
        if let Some(itimer) = &self.itimer {
            timers::restore(itimer);
        }
        self.posix.create(log)
    }
}

impl Shareable for SighandStruct {
    const WHAT: &'static str = "signal handlers";
    const BAD: &'static str =
        "signal handlers written twice, or an objref that names another object";

    fn held(task: &Task) -> Option<Held> {
        let g = task.lock_sighand()?;
        let sighand = g.sighand();
        Some(Held {
            addr: sighand.as_ptr() as usize,
            users: sighand.users(),
        })
    }

    fn current() -> Result<ARef<Self>> {
        Ok(SighandStruct::of_current())
    }

    shared::in_obj!(Sighand);
}

impl Joinable for SighandStruct {
    fn install(&self) -> Result {
        self.share_with_current()
    }
}
