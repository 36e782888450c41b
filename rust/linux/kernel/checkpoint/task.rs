// SPDX-License-Identifier: GPL-2.0

//! Tasks: the checks on the tasks to checkpoint, the `Task` record, and creating the restored
//! processes and threads.
//!
//! Restart creates each process's main thread in the kernel with `kernel_clone()`, with its
//! saved pid, as the caller's child. It then rebuilds its process (the mm, files and handlers
//! can only be set up from inside) by reading its part of the image, and creates the other
//! threads itself with `CLONE_THREAD` and their saved tids; each thread sets its own state.
//! The restarter meanwhile waits, then reads the tail, applies the registers to every task
//! while it waits off its CPU, and only then lets them return to user mode. On any error the
//! tasks exit before they ran any user code.

use crate::creds::{Creds, Sessions};
use crate::image::{Dumper, Restorer};
use crate::signal::{self, DeferredSignals};
use crate::{
    abi, abi::Record, cputime, creds, files, log, log::Log, mm, regs, rseq, sched, traps, tree,
    vfork, Obj,
};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::bindings;
use kernel::current_task;
use kernel::fs::fdtable::OwnFds;
use kernel::pid::{HeldAddrs, NewPidNsForChildren, PidNamespace};
use kernel::prelude::*;
use kernel::sync::{Arc, Completion};
use kernel::{task::Task, types::ARef};

/// Whether `task` is a zombie: dead, waiting for its parent to reap it. Final until it is
/// reaped, which its frozen parent cannot do.
pub(crate) fn is_zombie(task: &Task) -> bool {
    task.exit_state() == bindings::EXIT_ZOMBIE
}

/// Whether `task` is reaped, or being reaped: no longer in the tree, whatever a walk of it saw
/// a moment ago.
pub(crate) fn is_reaped(task: &Task) -> bool {
    task.exit_state() == bindings::EXIT_DEAD || task.lock_sighand().is_none()
}

/// Looks up the root of the tree to checkpoint; the caller's rights over it are checked with
/// the rest of the tree ([`may_checkpoint`]).
pub(crate) fn checkpoint_root(log: &Log, pid: i32, flags: u32) -> Result<ARef<Task>> {
    let Some(task) = Task::from_vpid(pid) else {
        log!(log, "pid {pid}: no such process");
        return Err(ESRCH);
    };
    if task.is_kthread() {
        log!(log, "pid {pid}: is a kernel thread");
        return Err(EPERM);
    }
    // Checked again as the tree is frozen. A main thread that exited while others run still
    // counts.
    let threads = || task.lock_sighand().map_or(0, |g| g.thread_count());
    if is_zombie(&task) && threads() <= 1 {
        log!(log, "pid {pid}: is a zombie (checkpoint its parent)");
        return Err(ESRCH);
    }
    if task.group_leader().as_ptr() != task.as_ptr() {
        log!(
            log,
            "pid {pid}: a thread of process {} (checkpoint the process)",
            task.group_leader().vnr()
        );
        return Err(EINVAL);
    }
    if flags & abi::CKPT_SUBTREE == 0 && !task.is_pid_ns_init() {
        log!(
            log,
            "pid {pid}: not the init of a pid namespace (use CKPT_SUBTREE for a subtree)"
        );
        return Err(EINVAL);
    }
    Ok(task)
}

/// Checks that the caller may checkpoint `task`, a task of the tree: it needs ptrace-attach
/// rights over it, and cannot freeze its own thread group.
pub(crate) fn may_checkpoint(log: &Log, task: &Task) -> Result {
    if !task.may_ptrace_attach() {
        log!(log, "pid {}: no ptrace-attach rights over it", task.vnr());
        return Err(EPERM);
    }
    if task.same_thread_group(kernel::current!()) {
        log!(
            log,
            "pid {}: a process cannot checkpoint itself or a tree holding it",
            task.vnr()
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Refuses a task that checkpoint cannot save yet: a traced task, one confined by seccomp or
/// `no_new_privs`, a thread that stopped sharing its process's fd table or fs, a task
/// exiting. (What processes share with each other, and the tables of the threads of a
/// process whose main thread exited, are checked once the whole tree is known:
/// `Scope::check_tables`.) Some checks read what only a `frozen` task keeps still.
///
/// `ESRCH`, and no log line, for a task reaped since it was found: its parent, on its way to
/// the freezer trap, may reap it, and the caller walks the tree again.
pub(crate) fn check_supported(log: &Log, task: &Task, frozen: bool) -> Result {
    let leader = task.group_leader();
    // Racy reads, made again once the task is frozen.
    let (dead, leader_dead, ptraced) = (
        task.exit_state(),
        leader.exit_state() != 0,
        task.is_ptraced(),
    );
    // A zombie process (its other threads gone) holds nothing more than its `Task` record
    // and its credentials; a main thread that exited while others run, nothing of its own.
    if dead == bindings::EXIT_ZOMBIE && core::ptr::eq(leader, task) && !ptraced {
        let Some(why) = creds::unsupported(task) else {
            return Ok(());
        };
        log!(log, "pid {}: {why}", task.vnr());
        return Err(EOPNOTSUPP);
    }
    // The fd table and fs each task points at, as addresses: only compared. An exited main
    // thread has none left to compare with.
    let tables = |t: &Task| {
        let g = t.lock();
        (g.files().map(|h| h.addr), g.fs().map(|h| h.addr))
    };
    let apart = !leader_dead && tables(task) != tables(leader);
    // A racy read here, made again once the task is frozen, and it cannot be traced then.
    let breakpoints = task.has_hw_breakpoints();
    if is_reaped(task) {
        return Err(ESRCH);
    }
    let why = if dead != 0 {
        "is exiting"
    } else if ptraced {
        "is being traced (ptraced tasks are not supported)"
    } else if task.is_user_worker() {
        "is a kernel worker thread of its process (io_uring or vhost), not supported"
    } else if frozen && uses_io_uring(task) {
        "uses io_uring (not supported yet)"
    } else if let Some(why) = frozen.then(|| regs::unsupported_sleep(task)).flatten() {
        why
    } else if breakpoints {
        "has hardware breakpoints a tracer left in its debug registers (not restored)"
    } else if let Some(why) = frozen.then(|| sem_undo(task)).flatten() {
        why
    } else if let Some(why) = unsupported_state(task) {
        why
    } else if let Some(why) = sched::unsupported(task) {
        why
    } else if let Some(why) = creds::unsupported(task) {
        why
    } else if apart {
        "has its own fd table or fs apart from its process (unshare() in a thread is not supported)"
    } else {
        return Ok(());
    };
    match core::ptr::eq(leader, task) {
        true => log!(log, "pid {}: {why}", task.vnr()),
        false => log!(
            log,
            "pid {}: thread {}: {why}",
            task.group_leader().vnr(),
            task.vnr()
        ),
    }
    Err(EOPNOTSUPP)
}

/// Why `task` cannot be checkpointed, for the state the C helper reads: confinement (seccomp,
/// no_new_privs, Landlock), port I/O, NUMA policy, scheduler and CPU controls, tracees,
/// keyrings and namespaces.
fn unsupported_state(task: &Task) -> Option<&'static str> {
    reason(task.checkpoint_refusal())
}

/// What of the frozen `task`'s SysV semaphore undo list (SEM_UNDO) restart would lose.
fn sem_undo(task: &Task) -> Option<&'static str> {
    // SAFETY: `task` is held and frozen.
    reason(unsafe { task.sem_undo_refusal() })
}

/// Whether the frozen `task` has an io_uring ring, with an fd or registered only in its
/// io_uring context.
fn uses_io_uring(task: &Task) -> bool {
    // SAFETY: `task` is held and frozen: it neither execs nor is freed meanwhile.
    unsafe { task.has_io_uring() }
}

/// A reason as a log line takes it.
fn reason(why: Option<&'static CStr>) -> Option<&'static str> {
    why.map(|w| w.to_str().unwrap_or("?"))
}

fn copy_name(dst: &mut [u8], src: &[u8]) {
    let n = src
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(src.len())
        .min(dst.len() - 1);
    dst[..n].copy_from_slice(&src[..n]);
}

/// The image header for a checkpoint of `tasks` tasks taken now on this machine.
pub(crate) fn header(flags: u32, tasks: u32) -> abi::Header {
    let mut h = abi::Header {
        magic: abi::MAGIC,
        version: abi::FORMAT_VERSION,
        arch: abi::ARCH_X86_64,
        abi_hash: abi::ABI_HASH,
        page_size: abi::IMAGE_PAGE_SIZE,
        flags: [
            (abi::CKPT_SUBTREE, abi::HDR_SUBTREE),
            (abi::CKPT_NO_PAGE_CHECKSUM, abi::HDR_NO_PAGE_CHECKSUM),
        ]
        .into_iter()
        .filter(|&(ckpt, _)| flags & ckpt != 0)
        .fold(0, |hdr, (_, bit)| hdr | bit),
        task_count: tasks,
        ..Default::default()
    };
    let (size, features) = kernel::regs::xsave_config();
    h.xsave_size = size;
    h.xsave_features = features;
    let now = kernel::regs::clock_now(bindings::CLOCK_REALTIME).unwrap_or(0);
    h.time_sec = now.div_euclid(1_000_000_000);
    h.time_nsec = now.rem_euclid(1_000_000_000) as u32;
    let (release, machine) = current_task::uts_release_machine();
    copy_name(&mut h.release, &release);
    copy_name(&mut h.machine, &machine);
    h
}

/// Writes the `Task` record of the frozen `task`, with its ids as `ns` sees them, whose
/// objects are those of `objects` (itself, or for an exited main thread the thread that holds
/// its process's; `None` for a zombie), whose parent in the image is the task of objref
/// `parent` (0 for the root), `stopped_by` the signal that stopped it (0 if none) and whose
/// `TASK_F_*` flags so far are `flags`.
pub(crate) fn dump(
    d: &mut Dumper<'_>,
    ns: &PidNamespace,
    task: &Task,
    objects: Option<&Task>,
    parent: u32,
    stopped_by: i32,
    flags: u32,
) -> Result {
    let zombie = is_zombie(task);
    let objref = d.objref(task.as_ptr())?;
    // A zombie's objects are gone or not restored.
    let held = objects.map(|o| o.held_addrs());
    let mut obj = |addr: fn(&HeldAddrs) -> usize| -> Result<u32> {
        match held.as_ref().map_or(0, addr) {
            0 => Ok(0),
            a => d.objref(a as *const u8),
        }
    };
    let own = task.own_state();
    let nr = |ty| ns.nr_of(task, ty);
    let mut rec = abi::Task {
        objref,
        pid: nr(bindings::pid_type_PIDTYPE_PID),
        tgid: nr(bindings::pid_type_PIDTYPE_TGID),
        parent,
        pgid: nr(bindings::pid_type_PIDTYPE_PGID),
        sid: nr(bindings::pid_type_PIDTYPE_SID),
        exit_signal: own.exit_signal,
        state: match (zombie, stopped_by != 0) {
            (true, _) if objects.is_some() => abi::TASK_STATE_EXITED,
            (true, _) => abi::TASK_STATE_ZOMBIE,
            (false, true) => abi::TASK_STATE_STOPPED,
            (false, false) => abi::TASK_STATE_RUNNING,
        },
        // What wait() will report, as wait_task_zombie() picks it.
        exit_code: match (own.group_exit, zombie) {
            (_, false) => stopped_by,
            (Some(code), true) => code,
            (None, true) => own.exit_code,
        },
        flags: if task.is_group_leader() {
            flags | abi::TASK_F_GROUP_LEADER
        } else {
            flags
        },
        personality: own.personality,
        mm: obj(|h| h.mm)?,
        files: obj(|h| h.files)?,
        fs: obj(|h| h.fs)?,
        sighand: obj(|h| h.sighand)?,
        signal: obj(|h| h.signal)?,
        clear_child_tid: own.clear_child_tid,
        set_child_tid: own.set_child_tid,
        robust_list: own.robust_list,
        robust_list_len: core::mem::size_of::<bindings::robust_list_head>() as u64,
        pdeath_signal: own.pdeath_signal,
        ..Default::default()
    };
    if own.restore_sigmask {
        rec.flags |= abi::TASK_F_RESTORE_SIGMASK;
    }
    copy_name(&mut rec.comm, &task.lock().comm());
    cputime::save(task, &mut rec);
    // A zombie never runs again.
    if !zombie {
        sched::save(d.log, task, &mut rec)?;
        rseq::save(task, &mut rec);
        traps::save(task, &mut rec);
    }
    d.record(&rec)?;
    // The root's parent is outside the tree: it may exit and be freed meanwhile, which RCU
    // holds off.
    let ppid = task
        .real_parent()
        .map_or(0, |p| ns.nr_of(&p, bindings::pid_type_PIDTYPE_TGID));
    log!(
        d.log,
        "pid {}: saved: {}",
        task.vnr(),
        Described(&rec, ppid)
    );
    Ok(())
}

/// What the log says a task of the image is, with its parent's and process's ids.
struct Described<'a>(&'a abi::Task, i32);

impl core::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (t, parent) = (self.0, self.1);
        match t.state {
            abi::TASK_STATE_ZOMBIE => write!(f, "zombie, exit status {:#x}", t.exit_code)?,
            abi::TASK_STATE_EXITED => write!(f, "process whose main thread exited")?,
            _ if t.pid != t.tgid => write!(f, "thread of {}", t.tgid)?,
            _ => write!(f, "process, pgid {} sid {}", t.pgid, t.sid)?,
        }
        if t.pid == t.tgid && parent != 0 {
            write!(f, ", parent {parent}")?;
        }
        if t.state == abi::TASK_STATE_STOPPED {
            write!(f, ", stopped")?;
        }
        if t.flags & abi::TASK_F_VFORK != 0 {
            write!(f, ", vfork child")?;
        }
        Ok(())
    }
}

/// What a created task needs from its creator; valid until it signals `done`.
struct TaskRestore<'a, 'b> {
    task: abi::Task,
    log: &'b Log,
    deferred: Option<DeferredSignals>,
    /// The credentials it takes last (a zombie: before it dies), its login uid first.
    creds: Option<Creds>,
    /// Its `ax` and `orig_ax` on its way to user mode (`set_syscall_return()`).
    ax: u64,
    orig_ax: u64,
    stop: bool,
    /// For the leader of a process, what it needs to rebuild the rest of the process; `None`
    /// for another thread, which only sets its own state.
    process: Option<Process<'a, 'b>>,
}

/// A process's leader reads its process's shared objects and its threads' records from the
/// image and creates the threads.
struct Process<'a, 'b> {
    r: &'a mut Restorer<'b, Obj>,
    /// The restart's `RESTART_*` flags.
    flags: u32,
    /// The leader's index among the created tasks; its threads follow it.
    index: usize,
    /// Index of the process's parent among the created tasks; `None` for the root.
    parent: Option<usize>,
    /// How many more tasks the image holds after the leader.
    room: usize,
    /// The threads created so far, handed to the restarter with the leader.
    threads: KVVec<ParkedTask>,
    /// The CPU time of its tasks read so far.
    cputime: cputime::Sum,
    /// The saved audit session of its leader, which its threads share.
    session: u32,
}

/// The rendezvous between a created task and the restarter.
#[pin_data]
struct Rendezvous {
    /// Completed by the task once it has put itself in `task`.
    #[pin]
    started: Completion,
    /// The task, a counted reference it hands over.
    task: AtomicPtr<Task>,
    #[pin]
    done: Completion,
    #[pin]
    go: Completion,
    /// 0 or the negative errno of the task's own restore.
    result: AtomicI32,
    /// Whether the task may return to user mode (otherwise it exits).
    go_ok: AtomicBool,
    /// The task's `TaskRestore`, valid until it completes `done`.
    work: *mut (),
    /// The completion on the task's stack it waits on if it is a vfork parent; set before
    /// `done`.
    vfork_done: AtomicPtr<bindings::completion>,
    /// Its vfork child (a counted reference), set by the restarter before `go`.
    vfork_child: AtomicPtr<Task>,
}

// SAFETY: `work` is only dereferenced by the new task while its creator, which owns it, waits
// for `done`; the rest is safe to share.
unsafe impl Send for Rendezvous {}
// SAFETY: as above.
unsafe impl Sync for Rendezvous {}

/// Ends the current task as if killed, before it ever ran user code. Everything it owned must
/// have been dropped: nothing after this runs.
fn exit_killed() -> ! {
    // SAFETY: a user task restart created, in process context, holding nothing.
    unsafe { current_task::exit(bindings::SIGKILL as i32) }
}

/// The new task's side of restart.
///
/// # Safety
///
/// `arg` must be an `Arc<Rendezvous>` leaked for this task by `spawn`, whose reference this
/// takes; only kernel_clone() calls it so, in the new task.
unsafe extern "C" fn restore_main(arg: *mut core::ffi::c_void) -> core::ffi::c_int {
    // SAFETY: `arg` is the `Arc<Rendezvous>` leaked for this task by `spawn`.
    let h = unsafe { Arc::<Rendezvous>::from_raw(arg.cast()) };
    // The restarter knows its task by this, not by its pid: should the task die early,
    // another thread of the restarter could reap it and reuse the pid.
    let me = ARef::into_raw(ARef::<Task>::from(kernel::current!()));
    h.task.store(me.as_ptr(), Ordering::Release);
    h.started.complete();
    // What it waits on if it is a vfork parent: on its kernel stack, as the completion of
    // `kernel_clone()` is, so that a new checkpoint recognises it.
    kernel::stack_pin_init!(let vfork_done = Completion::new());
    h.vfork_done.store(vfork_done.as_raw(), Ordering::Release);
    // SAFETY: `work` is valid until `done` is completed (`Rendezvous::work`).
    let work = unsafe { &mut *h.work.cast::<TaskRestore<'_, '_>>() };
    let res = restore_self(work);
    if let Err(e) = res {
        h.result.store(e.to_errno(), Ordering::Relaxed);
    }
    let deferred = work.deferred.take();
    let zombie = (work.task.state == abi::TASK_STATE_ZOMBIE).then_some(work.task.exit_code);
    let exits = (work.task.state == abi::TASK_STATE_EXITED).then_some(work.task.exit_code);
    // `work` belongs to the creator again after this.
    h.done.complete();
    if res.is_ok() {
        // The restarter always completes `go` after `done`.
        h.go.wait_for_completion();
    }
    let go = res.is_ok() && h.go_ok.load(Ordering::Acquire);
    let child =
        NonNull::new(h.vfork_child.swap(core::ptr::null_mut(), Ordering::AcqRel)).map(|c| {
            // SAFETY: the reference `ParkedTask::adopt_vfork_child` handed over.
            unsafe { ARef::from_raw(c) }
        });
    drop(h);
    match (go, zombie, deferred) {
        (true, None, Some(deferred)) => {
            deferred.queue();
            drop(deferred);
            match (exits, child) {
                (None, Some(child)) => vfork::wait(&vfork_done, child),
                (None, None) => {}
                (Some(code), child) => {
                    // Never linked to a vfork child (`vfork::link`), but should it be, the
                    // child must not point at the stack of a task that is gone.
                    if let Some(child) = child {
                        vfork::detach(&child);
                    }
                    // SAFETY: an exited main thread exits again, its threads running on; it
                    // owns nothing more here.
                    unsafe { current_task::exit(code) }
                }
            }
            0
        }
        // SAFETY: a zombie dies as it did, holding nothing, before the tree is linked (see
        // `build`), so it has no vfork child.
        (true, Some(code), None) => unsafe { current_task::exit(code) },
        (_, _, deferred) => {
            drop(deferred);
            if let Some(child) = child {
                vfork::detach(&child);
            }
            exit_killed()
        }
    }
}

/// The new task rebuilds itself: its own state, then for a leader the rest of its process.
fn restore_self(w: &mut TaskRestore<'_, '_>) -> Result {
    let mut comm = w.task.comm;
    comm[comm.len() - 1] = 0;
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len() - 1);
    // Cannot fail: `comm[..=end]` ends in its only NUL.
    if let Ok(name) = CStr::from_bytes_with_nul(&comm[..=end]) {
        current_task::set_comm(name);
    }
    // A zombie only needs its name and its credentials (what /proc shows of it). It lets go
    // of the restarter's fd table and fs first: under the credentials it takes, /proc would
    // show their owner the restarter's open files and directories until it dies. And of its
    // address space: a change of credentials resets the dumpable flag of the task's mm for a
    // moment (commit_creds(), until restart_set_creds() sets it again), which must not be
    // the restarter's, whose other threads may change it meanwhile.
    let Some(deferred) = w.deferred.as_mut() else {
        let Some(c) = w.creds.as_mut() else {
            return Ok(());
        };
        // SAFETY: the current task drops its references to the fd table and fs_struct it
        // shares with the restarter (CLONE_FILES, CLONE_FS); do_exit() finds them gone.
        unsafe {
            bindings::exit_files(bindings::get_current());
            bindings::exit_fs(bindings::get_current());
        }
        mm::install_new(w.log, None)?;
        // Its parent's children's times take its process's when it is reaped.
        cputime::restore(&w.task);
        c.restore_loginuid(w.log, w.task.pid)?;
        return c.restore(w.log, w.task.pid);
    };
    if let Some(c) = w.creds.as_ref() {
        c.restore_loginuid(w.log, w.task.pid)?;
    }
    current_task::clear_restart_block();
    current_task::clear_forknoexec();
    current_task::set_personality(w.task.personality);
    // Checked with the rest of the record (`read_task`).
    current_task::set_pdeath_signal(w.task.pdeath_signal)?;
    if let Some(p) = w.process.as_mut() {
        restore_process(p, &w.task, deferred)?;
    }
    // Only now that the task has its own mm: installing it releases the old one, which is
    // the restarter's, as exec does, and that would clear the tid word and walk the robust
    // list at these addresses in the restarter's memory.
    current_task::set_clear_child_tid(w.task.clear_child_tid)?;
    current_task::set_robust_list(w.task.robust_list)?;
    // An exited main thread never returns to user mode.
    if w.task.state != abi::TASK_STATE_EXITED {
        kernel::regs::set_syscall_return(w.ax, w.orig_ax)?;
        rseq::restore(w.log, &w.task)?;
        traps::restore(w.log, &w.task)?;
        // Last: the restore itself runs at the restarter's priority, on its CPUs.
        sched::restore(w.log, &w.task)?;
    }
    // Last of all: until now it has the restarter's credentials, which judge what it may
    // take of all that, and of these.
    if let Some(c) = w.creds.as_ref() {
        c.restore(w.log, w.task.pid)?;
    }
    // Before the CPU itimers are armed: they count from the process's CPU time (and the
    // leader arms them only once its threads have restored theirs).
    cputime::restore(&w.task);
    // The mask first: a timer that expires at once must find its signal blocked if it was.
    deferred.block();
    deferred.arm_timers(w.log)?;
    // Last, once its threads exist: a pending stop fails every interruptible wait.
    if w.process.is_some() {
        deferred.restore_job_control()?;
    }
    Ok(())
}

/// A record a process has once, with what its threads share.
#[derive(Clone, Copy)]
enum ProcessRecord {
    Signal,
    Sighand,
    Fs,
    Mm,
    FdTable,
}

/// A process's own records, in the order checkpoint writes them after its leader's.
const PROCESS_RECORDS: [ProcessRecord; 5] = [
    ProcessRecord::Signal,
    ProcessRecord::Sighand,
    ProcessRecord::Fs,
    ProcessRecord::Mm,
    ProcessRecord::FdTable,
];

impl ProcessRecord {
    fn ty(self) -> u32 {
        match self {
            ProcessRecord::Signal => abi::Signal::TYPE,
            ProcessRecord::Sighand => abi::Sighand::TYPE,
            ProcessRecord::Fs => abi::Fs::TYPE,
            ProcessRecord::Mm => abi::Mm::TYPE,
            ProcessRecord::FdTable => abi::FdTable::TYPE,
        }
    }
}

/// The leader reads its process's records, then creates its threads.
fn restore_process(
    p: &mut Process<'_, '_>,
    leader: &abi::Task,
    deferred: &mut DeferredSignals,
) -> Result {
    // Its fd table is a copy of the restarter's made by fork (without CLONE_FILES): the
    // image and the log it reads are borrowed through the restarter's table, which keeps
    // them; the files it restores are opened anew.
    // SAFETY: so a restored process borrows no file through its own fd table.
    let fds = unsafe { OwnFds::assume() }?;
    files::close_inherited(&fds)?;
    mm::install_new(p.r.log, None)?;
    // The handlers copied from the restarter.
    kernel::signal::flush_handlers()?;
    let r = &mut *p.r;
    for kind in PROCESS_RECORDS {
        // The files that later records name come first.
        let rec = loop {
            let rec = r.next()?;
            if rec.ty != abi::File::TYPE {
                break rec;
            }
            files::restore_file(r, rec)?;
        };
        if rec.ty != kind.ty() {
            return Err(r.bad("process without its signal, handler, fs, mm and fd records"));
        }
        match kind {
            ProcessRecord::Signal => signal::restore_signal(r, rec, deferred),
            ProcessRecord::Sighand => signal::restore_sighand(r, rec),
            ProcessRecord::Fs => files::restore_fs(r, rec),
            ProcessRecord::Mm => mm::restore(r, rec),
            ProcessRecord::FdTable => files::restore_fds(r, rec, &fds),
        }?;
    }
    // Created now, they share the address space, files, fs and handlers just restored.
    while let Some(task) = next_thread(p.r, leader)? {
        create_thread(p, task)?;
    }
    if leader.state == abi::TASK_STATE_EXITED && p.threads.is_empty() {
        return Err(p.r.bad("process whose main thread exited, without threads"));
    }
    // Job control stops a process as a whole, each of its live tasks (its threads are live;
    // an exited main thread is not) by the signal that stopped it.
    let leader = (leader.state != abi::TASK_STATE_EXITED).then_some(leader);
    let mut live = Iterator::chain(leader.into_iter(), p.threads.iter().map(|c| &c.rec));
    let signr = live.next().map_or(0, |t| t.exit_code);
    if !deferred.set_stop_signal(signr) || live.any(|t| t.exit_code != signr) {
        return Err(p.r.bad("process stopped in part, or without its tasks"));
    }
    Ok(())
}

/// The next record if it is the `Task` of another thread of `leader`'s process.
fn next_thread(r: &mut Restorer<'_, Obj>, leader: &abi::Task) -> Result<Option<abi::Task>> {
    let rec = r.next()?;
    let task = match rec.ty == abi::Task::TYPE {
        true => r.decode::<abi::Task>(rec)?,
        false => abi::Task::default(),
    };
    if task.tgid != leader.pid || rec.ty != abi::Task::TYPE {
        r.unread(rec);
        return Ok(None);
    }
    let same = |a: &abi::Task| {
        (
            a.parent, a.pgid, a.sid, a.mm, a.files, a.fs, a.sighand, a.signal,
        )
    };
    if task.pid == task.tgid
        || task.exit_signal != -1
        || task.flags & (abi::TASK_F_GROUP_LEADER | abi::TASK_F_VFORK) != 0
        || same(&task) != same(leader)
    {
        return Err(r.bad("thread that does not share its process's parent, ids and objects"));
    }
    Ok(Some(task))
}

/// Checks what a task applies to itself; reads its credentials, registers and signal state.
fn read_task(
    r: &mut Restorer<'_, Obj>,
    task: &abi::Task,
) -> Result<(Creds, regs::Saved, DeferredSignals)> {
    if task.pid <= 0 {
        return Err(r.bad("task pid"));
    }
    if task.robust_list != 0
        && task.robust_list_len != core::mem::size_of::<bindings::robust_list_head>() as u64
    {
        return Err(r.bad("robust list head size"));
    }
    if !(0..=64).contains(&task.pdeath_signal) {
        return Err(r.bad("parent-death signal"));
    }
    if task.flags & !abi::TASK_F_ALL != 0 {
        return Err(r.bad("task flags"));
    }
    sched::check(r, task)?;
    rseq::check(r, task)?;
    traps::check(r, task)?;
    // Only a process can be a zombie (see `create_zombie`), not a thread.
    let stopped_by = match task.state {
        abi::TASK_STATE_RUNNING => 0,
        abi::TASK_STATE_STOPPED if signal::is_stop_signal(task.exit_code) => task.exit_code,
        _ => return Err(r.bad("task state, or the signal that stopped it")),
    };
    if task.exit_code != stopped_by {
        return Err(r.bad("exit code of a live task"));
    }
    let creds = Creds::read(r)?;
    let saved = regs::read(r)?;
    let deferred = signal::read_task(r, task.flags & abi::TASK_F_RESTORE_SIGMASK != 0)?;
    Ok((creds, saved, deferred))
}

/// Whether the restarter stops a restored task before it returns to user mode: with
/// `RESTART_FROZEN`, a running one (an exited main thread exits instead, and a stopped one
/// stops as it was: `restart_set_job_control()`).
fn stops(flags: u32, task: &abi::Task) -> bool {
    flags & abi::RESTART_FROZEN != 0 && task.state == abi::TASK_STATE_RUNNING
}

/// In the leader: creates the thread of record `task`.
fn create_thread(p: &mut Process<'_, '_>, task: abi::Task) -> Result {
    if p.threads.len() >= p.room {
        return Err(p.r.bad("more tasks than the header announced"));
    }
    p.r.define(task.objref, Obj::Task(p.index + 1 + p.threads.len()))?;
    p.cputime.add(p.r, &task)?;
    let (creds, saved, deferred) = read_task(p.r, &task)?;
    if creds.rec().sessionid != p.session {
        return Err(p.r.bad("thread in another audit session than its process"));
    }
    let log = p.r.log;
    let stop = stops(p.flags, &task);
    let mut work = TaskRestore {
        task,
        log,
        deferred: Some(deferred),
        creds: Some(creds),
        ax: saved.ax(),
        orig_ax: saved.orig_ax(),
        stop,
        process: None,
    };
    let clone = bindings::CLONE_VM
        | bindings::CLONE_THREAD
        | bindings::CLONE_SIGHAND
        | bindings::CLONE_FS
        | bindings::CLONE_FILES
        | bindings::CLONE_SYSVSEM;
    start(
        p.r.log,
        &mut work,
        clone,
        p.parent,
        Some(saved),
        &mut p.threads,
    )
}

/// Creates the task of `work.task` with its saved pid, running `restore_main`, with
/// `clone_flags` besides `CLONE_UNTRACED`.
fn spawn(log: &Log, h: &Arc<Rendezvous>, task: &abi::Task, clone_flags: u32) -> Result {
    let mut tid = task.pid;
    // SAFETY: all-zero clone arguments are valid (no flags, no pointers).
    let mut args: bindings::kernel_clone_args = unsafe { core::mem::zeroed() };
    args.flags = u64::from(clone_flags | bindings::CLONE_UNTRACED);
    // No exit signal until it is linked (`tree::link`): a zombie dies before that, and a
    // task of a restart that fails must not signal the caller with the image's choice.
    args.exit_signal = 0;
    args.set_tid = &mut tid;
    args.set_tid_size = 1;
    args.fn_ = Some(restore_main);
    let arg = h.clone().into_raw();
    args.fn_arg = arg as *mut core::ffi::c_void;
    // SAFETY: `args` is valid; the new task owns the leaked `Arc` from here.
    let pid = unsafe { bindings::kernel_clone(&mut args) };
    if pid < 0 {
        // SAFETY: no task was created, so the reference is still ours.
        drop(unsafe { Arc::from_raw(arg) });
        let err = Error::from_errno(pid);
        return Err(if err == EEXIST {
            log!(log, "pid {}: taken by another process", task.pid);
            EBUSY
        } else {
            log!(log, "pid {}: cannot create the task ({pid})", task.pid);
            err
        });
    }
    Ok(())
}

/// Waits until `task` sleeps off its CPU, waiting for `go`.
fn wait_parked(task: &Task) {
    loop {
        if task.wait_inactive(bindings::TASK_UNINTERRUPTIBLE) {
            return;
        }
        current_task::usleep_range(50, 200);
    }
}

/// The most tasks one image may hold.
const MAX_TASKS: u32 = 1 << 16;

/// A task restart created; it waits, parked, until the whole image is in.
pub(crate) struct ParkedTask {
    pub(crate) task: ARef<Task>,
    pub(crate) rec: abi::Task,
    /// Index of its parent among the created tasks; `None` for the root's threads.
    pub(crate) parent: Option<usize>,
    rendezvous: Arc<Rendezvous>,
    /// Its registers; `None` for a zombie or an exited main thread.
    saved: Option<regs::Saved>,
    /// Whether it stops before it returns to user mode.
    stop: bool,
}

impl ParkedTask {
    /// Its pid as the restarter sees it.
    fn pid(&self) -> i32 {
        self.task.vnr()
    }

    /// Whether it leads its thread group.
    pub(crate) fn is_leader(&self) -> bool {
        self.rec.pid == self.rec.tgid
    }

    /// Gives the task its vfork child, which it waits for before it returns to user mode;
    /// returns the completion the child must point at, or `None` if it has one already.
    pub(crate) fn adopt_vfork_child(&self, child: ARef<Task>) -> Option<*mut bindings::completion> {
        let child = ARef::into_raw(child);
        let h = &self.rendezvous;
        match h.vfork_child.compare_exchange(
            core::ptr::null_mut(),
            child.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(h.vfork_done.load(Ordering::Acquire)),
            Err(_) => {
                // SAFETY: the reference `into_raw` gave up above, not handed over.
                drop(unsafe { ARef::from_raw(child) });
                None
            }
        }
    }

    /// Lets the task go on: to user mode if `ok`, else to exit.
    fn release(&self, ok: bool) {
        self.rendezvous.go_ok.store(ok, Ordering::Release);
        // The task waits for it unless it already failed.
        self.rendezvous.go.complete();
    }
}

/// Creates the task of `work` with `clone_flags`, adds it to `list` as soon as it exists,
/// and waits until it has rebuilt itself.
fn start(
    log: &Log,
    work: &mut TaskRestore<'_, '_>,
    clone_flags: u32,
    parent: Option<usize>,
    saved: Option<regs::Saved>,
    list: &mut KVVec<ParkedTask>,
) -> Result {
    let rec = work.task;
    let work_ptr: *mut () = core::ptr::from_mut(work).cast();
    let rendezvous = Arc::pin_init(
        pin_init!(Rendezvous {
            started <- Completion::new(),
            task: AtomicPtr::new(core::ptr::null_mut()),
            done <- Completion::new(),
            go <- Completion::new(),
            result: AtomicI32::new(0),
            go_ok: AtomicBool::new(false),
            work: work_ptr,
            vfork_done: AtomicPtr::new(core::ptr::null_mut()),
            vfork_child: AtomicPtr::new(core::ptr::null_mut()),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    list.reserve(1, GFP_KERNEL_ACCOUNT)?;
    // From here until `done`, `work` belongs to the new task.
    spawn(log, &rendezvous, &rec, clone_flags)?;
    // The new task completes it first thing.
    rendezvous.started.wait_for_completion();
    let task = rendezvous
        .task
        .swap(core::ptr::null_mut(), Ordering::Acquire);
    // SAFETY: the counted reference the task handed over before `started`.
    let task = unsafe { ARef::from_raw(NonNull::new(task).ok_or(ESRCH)?) };
    let stop = work.stop;
    list.push(
        ParkedTask {
            task,
            rec,
            parent,
            rendezvous: rendezvous.clone(),
            saved,
            stop,
        },
        GFP_KERNEL,
    )?;
    // The new task always completes it.
    if rendezvous.done.wait_killable().is_err() {
        let task = &list[list.len() - 1].task;
        // SIGKILL ends its restore at the next wait; a task already gone needs none.
        let _ = task.send_signal(bindings::SIGKILL);
        rendezvous.done.wait_for_completion();
    }
    match rendezvous.result.load(Ordering::Relaxed) {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// Reads the next process's `Task` record and what the restarter keeps of it, creates its
/// leader, which rebuilds the process and creates its threads. Every task created is in
/// `created` however this ends.
fn create(
    r: &mut Restorer<'_, Obj>,
    flags: u32,
    count: u32,
    created: &mut KVVec<ParkedTask>,
    sessions: &mut Sessions,
) -> Result {
    let task = r.expect::<abi::Task>()?;
    if task.tgid != task.pid
        || task.flags & abi::TASK_F_GROUP_LEADER == 0
        || !(0..=64).contains(&task.exit_signal)
    {
        return Err(r.bad("process without its leader, or its exit signal"));
    }
    // The root's parent is the restarter, which gets SIGCHLD from its children, or nothing
    // (`restart_can_reparent()` checks it again once the tree is built).
    if created.is_empty() && task.exit_signal != 0 && task.exit_signal != bindings::SIGCHLD as i32 {
        return Err(r.bad("root whose exit signal is not SIGCHLD"));
    }
    let container = r.header().flags & abi::HDR_SUBTREE == 0;
    let parent = match (created.is_empty(), task.parent) {
        (true, 0) if container && task.pid != 1 => {
            return Err(r.bad("container whose root is not pid 1"))
        }
        (true, 0) => None,
        (false, p) if p != 0 => match r.lookup(p)? {
            // A dead parent cannot take a child: it died before the tree is linked, and
            // would leave it pointing at a task its reaper frees.
            Obj::Task(i) => match created.get(*i).map(|c| c.rec.state) {
                Some(abi::TASK_STATE_RUNNING | abi::TASK_STATE_STOPPED) => Some(*i),
                _ => return Err(r.bad("task whose parent is dead")),
            },
            _ => return Err(r.bad("task parent that is not a task")),
        },
        _ => return Err(r.bad("task parent")),
    };
    // A vfork child has a parent waiting for it, and runs.
    let vfork = task.flags & abi::TASK_F_VFORK != 0;
    if vfork
        && (parent.is_none()
            || task.state == abi::TASK_STATE_ZOMBIE
            || task.state == abi::TASK_STATE_EXITED)
    {
        return Err(r.bad("vfork child without a parent, or dead"));
    }
    let mut cpu = cputime::Sum::default();
    cpu.add(r, &task)?;
    let index = created.len();
    r.define(task.objref, Obj::Task(index))?;
    if task.state == abi::TASK_STATE_ZOMBIE {
        return create_zombie(r, task, parent, created, sessions);
    }
    // An exited main thread has no state of its own; it rebuilds its process all the same.
    let (mut creds, saved, deferred) = match task.state {
        abi::TASK_STATE_EXITED if task.exit_code & !0xffff == 0 => {
            (Creds::read(r)?, None, DeferredSignals::exited())
        }
        abi::TASK_STATE_EXITED => return Err(r.bad("exited main thread's exit code")),
        _ => {
            let (creds, saved, deferred) = read_task(r, &task)?;
            (creds, Some(saved), deferred)
        }
    };
    let session = sessions.place(r, &mut creds)?;
    let leader_session = creds.rec().sessionid;
    let creds = Some(creds);
    let log = r.log;
    let process = Process {
        r,
        flags,
        index,
        parent,
        room: count as usize - index - 1,
        threads: KVVec::new(),
        cputime: cpu,
        session: leader_session,
    };
    let (ax, orig_ax) = saved
        .as_ref()
        .map_or((0, u64::MAX), |s| (s.ax(), s.orig_ax()));
    let mut work = TaskRestore {
        task,
        log,
        deferred: Some(deferred),
        creds,
        ax,
        orig_ax,
        stop: stops(flags, &task),
        process: Some(process),
    };
    let res = start(log, &mut work, bindings::CLONE_VM, parent, saved, created);
    // Its threads exist, whatever the result.
    let threads = work.process.map_or_else(KVVec::new, |p| p.threads);
    if let Err(e) = created.reserve(threads.len(), GFP_KERNEL_ACCOUNT) {
        for t in threads.iter() {
            t.release(false);
        }
        return Err(e.into());
    }
    for t in threads {
        created.push(t, GFP_KERNEL)?;
    }
    res?;
    match session {
        Some(s) => sessions.record(s, &created[index]),
        None => Ok(()),
    }
}

/// Creates a zombie: a task that only names itself and waits. It dies with its saved exit
/// status once the image is verified, before the tree is linked: exiting as the restarter's
/// child with no exit signal, it cannot be reaped by anyone else (not even if the restarter
/// ignores SIGCHLD), and its parent, whoever that is, was not told of its death again.
fn create_zombie(
    r: &mut Restorer<'_, Obj>,
    task: abi::Task,
    parent: Option<usize>,
    created: &mut KVVec<ParkedTask>,
    sessions: &mut Sessions,
) -> Result {
    if parent.is_none() || task.exit_code & !0xffff != 0 {
        return Err(r.bad("zombie without a parent, or its exit status"));
    }
    let mut creds = Creds::read(r)?;
    let session = sessions.place(r, &mut creds)?;
    let index = created.len();
    let mut work = TaskRestore {
        task,
        log: r.log,
        deferred: None,
        creds: Some(creds),
        ax: 0,
        orig_ax: u64::MAX,
        stop: false,
        process: None,
    };
    let clone = bindings::CLONE_VM | bindings::CLONE_FILES | bindings::CLONE_FS;
    start(r.log, &mut work, clone, parent, None, created)?;
    match session {
        Some(s) => sessions.record(s, &created[index]),
        None => Ok(()),
    }
}

/// Waits until the released zombie `task` has died (and, should another thread of the
/// restarter wait for any child, maybe been reaped: `tree::link` checks).
fn wait_dead(task: &Task) {
    while task.exit_state() == 0 {
        current_task::usleep_range(50, 200);
    }
}

/// Reaps the child of ours numbered `pid`, exiting and, if it leads a process, its threads:
/// polls without sleeping interruptibly, so that a signal pending for the caller cannot leave
/// it behind. Another thread of the caller may have reaped it first (`pid` 0 or `ECHILD`); a
/// caller being killed leaves the rest to the reaper that inherits them.
fn reap(pid: i32) {
    if pid <= 0 {
        return;
    }
    while current_task::reap_child(pid) == Ok(0) {
        if current_task::fatal_signal_pending() {
            return;
        }
        current_task::usleep_range(50, 200);
    }
}

/// Creates every task of the image, reads the tail, applies the registers and links the
/// tree. Tasks created so far are in `created`, whatever the result.
fn build(
    r: &mut Restorer<'_, Obj>,
    flags: u32,
    count: u32,
    created: &mut KVVec<ParkedTask>,
) -> Result {
    {
        // A container's tasks go into a new pid namespace, with the ids they had inside.
        let _ns = match r.header().flags & abi::HDR_SUBTREE {
            0 => Some(NewPidNsForChildren::enter().inspect_err(|e| {
                log!(
                    r.log,
                    "cannot make a pid namespace for the container ({})",
                    e.to_errno()
                )
            })?),
            _ => None,
        };
        let mut sessions = Sessions::new();
        while created.len() < count as usize {
            create(r, flags, count, created, &mut sessions)?;
        }
    }
    #[cfg(CONFIG_UNIX)]
    crate::files::restore_later(r, created)?;
    r.finish()?;
    let log = r.log;
    for c in created.iter() {
        wait_parked(&c.task);
        let Some(saved) = &c.saved else { continue };
        regs::apply(&c.task, saved).inspect_err(|e| {
            log!(
                log,
                "pid {}: the saved registers were refused ({})",
                c.pid(),
                e.to_errno()
            )
        })?;
    }
    // Every task has its credentials now, a zombie too, which a socket's peer may name.
    #[cfg(CONFIG_UNIX)]
    crate::files::finish_sockets(r, created)?;
    for c in created
        .iter()
        .filter(|c| c.rec.state == abi::TASK_STATE_ZOMBIE)
    {
        c.release(true);
        wait_dead(&c.task);
    }
    // Before the tree is linked: once it is, a failed restart could no longer wait for its
    // tasks, which are then its children no more. A parent detaches its vfork child if the
    // tree fails after this.
    vfork::link(log, created)?;
    // Checked before anything is linked: the tree is no longer ours to undo after.
    #[cfg(CONFIG_UNIX98_PTYS)]
    let ttys = crate::files::controlling_ttys(r, created)?;
    let plan = tree::plan(log, created)?;
    tree::link(log, created, plan)?;
    // Once the processes are in their sessions and groups, which the terminals take.
    #[cfg(CONFIG_UNIX98_PTYS)]
    crate::files::set_controlling_ttys(log, created, ttys)?;
    // Then the slaves' input, whose signal characters reach the foreground groups now set.
    #[cfg(CONFIG_UNIX98_PTYS)]
    crate::files::start_ptys(r);
    Ok(())
}

/// Restores the tree of the image under the caller; returns the root's pid.
pub(crate) fn restore(r: &mut Restorer<'_, Obj>, flags: u32) -> Result<i32> {
    let h = *r.header();
    if h.arch != abi::ARCH_X86_64 || h.page_size != abi::IMAGE_PAGE_SIZE {
        log!(
            r.log,
            "image of architecture {} with {}-byte pages; this is x86_64",
            h.arch,
            h.page_size
        );
        return Err(EINVAL);
    }
    if h.task_count == 0 || h.task_count > MAX_TASKS {
        // A damaged image is reported as such before what it holds is refused.
        r.drain()?;
        log!(
            r.log,
            "image of {} tasks: from 1 to {MAX_TASKS} can be restored",
            h.task_count
        );
        return Err(EOPNOTSUPP);
    }
    let log = r.log;
    let mut pids = KVVec::with_capacity(h.task_count as usize, GFP_KERNEL)?;
    let mut created = KVVec::new();
    let res = build(r, flags, h.task_count, &mut created);
    // Nothing is left behind: not the inodes it made for the sockets it bound to paths.
    #[cfg(CONFIG_UNIX)]
    if res.is_err() {
        crate::files::unlink_made_sockets(r);
    }
    // The tasks hold what they share now: before they run, so that, say, handlers shared by
    // no other process are seen unshared (unshare(CLONE_SIGHAND) checks the count).
    r.forget_objects();
    // And files that only restart held (a pipe's own two ends) are closed now, not when the
    // caller returns to user space: the readers of a pipe that no restored task writes see
    // its end as soon as they run.
    kernel::current_task::run_task_work();
    if res.is_ok() {
        // RESTART_FROZEN's stops, pending before the tasks run, so that a SIGCONT sent as
        // soon as restart(2) returns cancels them, as it cancels any pending stop.
        for c in created.iter().filter(|c| c.stop) {
            // It waits until the task returns to user mode; a task already gone needs none.
            let _ = c.task.send_signal(bindings::SIGSTOP);
        }
    }
    // Their numbers while they are ours for certain: once released, a task may be reaped by
    // another thread of the caller, and its pid freed.
    if res.is_err() {
        for c in created.iter().filter(|c| c.is_leader()) {
            // Cannot fail: there is room for every task of the image.
            let _ = pids.push(c.pid(), GFP_KERNEL);
        }
    }
    for c in created.iter() {
        c.release(res.is_ok());
    }
    if let Err(e) = res {
        // Nothing was linked: every created process is still our child, and exits without
        // running user code; waiting for a leader waits for its threads too. The root goes
        // last: a container's init waits for every other task of its namespace to be reaped.
        for &pid in pids.iter().rev() {
            reap(pid);
        }
        return Err(e);
    }
    for c in created.iter() {
        let parent = c.parent.map_or(0, |p| created[p].rec.tgid);
        match c.pid() {
            pid if pid == c.rec.pid => {
                log!(log, "pid {pid}: restored: {}", Described(&c.rec, parent))
            }
            pid => log!(
                log,
                "pid {pid}: restored as pid {} of its namespace: {}",
                c.rec.pid,
                Described(&c.rec, parent)
            ),
        }
    }
    let root = created[0].pid();
    log!(log, "pid {root}: restored, {} tasks", created.len());
    Ok(root)
}
