// SPDX-License-Identifier: GPL-2.0

//! Signals: the signal lock of a task's process and what it protects, and the handlers
//! (`struct sighand_struct`), which the threads of a process share, and processes too with
//! `CLONE_SIGHAND`.
//!
//! C header: [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h)

use crate::{
    bindings,
    task::Task,
    types::{AlwaysRefCounted, Opaque},
};
use core::{
    marker::PhantomData,
    ptr::{self, addr_of, addr_of_mut, NonNull},
};

/// The signal handlers of one or more processes.
///
/// # Invariants
///
/// Every instance is a valid `sighand_struct` with a reference (`count`) held for as long as
/// the reference through which it is reached exists.
#[repr(transparent)]
pub struct SighandStruct {
    inner: Opaque<bindings::sighand_struct>,
}

// SAFETY: a reference may be dropped from any task (`__cleanup_sighand`).
unsafe impl Send for SighandStruct {}
// SAFETY: no method reads or writes the handlers; they are only counted and switched to.
unsafe impl Sync for SighandStruct {}

// SAFETY: `count` is the handlers' reference count: `copy_sighand()` increments it and
// `__cleanup_sighand()` frees them with the last one, which keeps them valid as the type's
// invariant asks.
unsafe impl AlwaysRefCounted for SighandStruct {
    fn inc_ref(&self) {
        // SAFETY: the handlers have a reference (type invariant).
        unsafe { bindings::refcount_inc(core::ptr::addr_of_mut!((*self.as_ptr()).count)) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives back a reference it holds.
        unsafe { bindings::__cleanup_sighand(obj.cast().as_ptr()) };
    }
}

impl SighandStruct {
    /// How many processes share them (`count`), read once: a snapshot, exact only while none
    /// of them can clone or exit.
    pub fn users(&self) -> i32 {
        // SAFETY: the handlers are valid (type invariant); the atomic count is read once.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).count.refs.counter).read_volatile() }
    }

    /// The address of the wait queue that wakes the pollers of the signalfds its processes
    /// read (`signalfd_wqh`), which names it.
    pub fn signalfd_queue(&self) -> usize {
        // SAFETY: the handlers are valid (type invariant); only an address is computed.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).signalfd_wqh) as usize }
    }

    /// The raw `struct sighand_struct`, for comparing and for C functions the abstraction
    /// does not cover.
    pub fn as_ptr(&self) -> *mut bindings::sighand_struct {
        self.inner.get()
    }

    /// The current task's handlers, counted.
    pub fn of_current() -> crate::types::ARef<SighandStruct> {
        // SAFETY: only the current task's process replaces its handlers, in exec or here,
        // which it is not doing while it runs this; a task not yet exited has them.
        let sighand: &SighandStruct = unsafe { &*(*bindings::get_current()).sighand.cast() };
        sighand.into()
    }

    /// Makes the current task, the only thread of its process, use these handlers, as a
    /// `CLONE_SIGHAND` child of a task using them would, and drop its own
    /// (`restart_share_sighand()`); `EBUSY` if its process has other threads. Not with a
    /// [`SiglockGuard`] held.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn share_with_current(&self) -> crate::error::Result {
        // SAFETY: the handlers are valid (type invariant); the callee takes its own reference.
        crate::error::to_result(unsafe { bindings::restart_share_sighand(self.as_ptr()) })
    }
}

/// Sets resource limit `resource` (`RLIMIT_*`) of the current task's process to `cur` and
/// `max`, as `setrlimit(2)` does (`restart_setrlimit()`): raising the hard limit needs
/// `CAP_SYS_RESOURCE`, and the LSM may refuse. Not with a [`SiglockGuard`] held.
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_rlimit(resource: u32, cur: u64, max: u64) -> crate::error::Result {
    let mut rlim = bindings::rlimit {
        rlim_cur: cur as _,
        rlim_max: max as _,
    };
    // SAFETY: `rlim` is a valid limit for the callee to read; it checks `resource`.
    crate::error::to_result(unsafe { bindings::restart_setrlimit(resource, &mut rlim) })
}

/// Makes `act` the handler of signal `signo` of the current task's process, as
/// `sigaction(2)` does (`do_sigaction()`): `EINVAL` for SIGKILL, SIGSTOP or a number out of
/// range. The handler and restorer are user addresses, not checked. Not with a
/// [`SiglockGuard`] held.
pub fn set_action(signo: u32, act: &SigAction) -> crate::error::Result {
    let mut ka = bindings::k_sigaction::default();
    let sa = addr_of_mut!(ka.sa);
    // SAFETY: `sa` points into `ka`. The handler and restorer are pointer-sized; they are
    // written as numbers, as the sigaction(2) path stores user values.
    unsafe {
        addr_of_mut!((*sa).sa_handler)
            .cast::<u64>()
            .write(act.handler);
        addr_of_mut!((*sa).sa_restorer)
            .cast::<u64>()
            .write(act.restorer);
        (*sa).sa_flags = act.flags as _;
        (*sa).sa_mask.sig[0] = act.mask as _;
    }
    let signo = i32::try_from(signo).map_err(|_| crate::error::code::EINVAL)?;
    // SAFETY: acts on the current task; `ka` is a valid kernel sigaction, and the callee
    // checks `signo`.
    crate::error::to_result(unsafe { bindings::do_sigaction(signo, &mut ka, ptr::null_mut()) })
}

/// Sets the current task's blocked signals to `mask` (signals 1 to 64), as
/// `sigprocmask(SIG_SETMASK)` does: SIGKILL and SIGSTOP stay unblocked. Not with a
/// [`SiglockGuard`] held.
pub fn set_blocked(mask: u64) {
    let mut set = bindings::sigset_t::default();
    set.sig[0] = mask as _;
    // SAFETY: acts on the current task; the callee removes SIGKILL and SIGSTOP.
    unsafe { bindings::set_current_blocked(&mut set) };
}

/// Sets the current task's alternate signal stack, as `sigaltstack(2)` stores it: address,
/// size and `SS_*` flags.
pub fn set_altstack(sp: u64, size: u64, flags: u32) {
    // SAFETY: the current task is valid, and only it reads or writes these fields.
    unsafe {
        let t = bindings::get_current();
        addr_of_mut!((*t).sas_ss_sp).write(sp as _);
        addr_of_mut!((*t).sas_ss_size).write(size as _);
        addr_of_mut!((*t).sas_ss_flags).write(flags);
    }
}

/// Resets every handler of the current task's process to the default, ignored signals too,
/// as `flush_signal_handlers(current, 1)` does for a new kernel thread: under the siglock,
/// and only while nothing else uses them (`EBUSY` if another process shares them or the
/// process has other threads).
pub fn flush_handlers() -> crate::error::Result {
    with_current_siglock(|g| {
        if g.sighand().users() != 1 || g.thread_count() != 1 {
            return Err(crate::error::code::EBUSY);
        }
        // SAFETY: the current task's handlers, which only it uses (checked above) and whose
        // lock it holds.
        unsafe { bindings::flush_signal_handlers(g.t(), 1) };
        Ok(())
    })
    .unwrap_or(Err(crate::error::code::ESRCH))
}

/// Marks the current task's process a child subreaper or not, as
/// `prctl(PR_SET_CHILD_SUBREAPER)` does.
pub fn set_child_subreaper(is: bool) {
    // SAFETY: the current task's signal struct is valid while it runs; prctl() writes this
    // bit of its own process without a lock either.
    unsafe {
        let sig = (*bindings::get_current()).signal;
        bindings::signal_struct::set_is_child_subreaper_raw(sig, is.into());
    }
}

/// Marks the current task's process as one whose ancestor may be a child subreaper, so that
/// its orphans look for one, as prctl() marks a subreaper's descendants. The mark is never
/// cleared: a process with it has descendants with it too.
pub fn set_has_child_subreaper() {
    // SAFETY: as in `set_child_subreaper`; `propagate_has_child_subreaper()` sets this bit
    // of other processes the same way.
    unsafe {
        let sig = (*bindings::get_current()).signal;
        bindings::signal_struct::set_has_child_subreaper_raw(sig, 1);
    }
}

/// Sets the OOM score adjustment of the current task's process to `adj` and its floor to
/// `min` (`restart_set_oom_score_adj()`), under `oom_adj_mutex` as /proc writes them:
/// `EINVAL` out of -1000..=1000 or with `min` above `adj`, `EPERM` (where /proc says
/// `EACCES`) for a floor lower than the process has without `CAP_SYS_RESOURCE`. Other
/// processes sharing its mm keep theirs.
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_oom_score_adj(adj: i32, min: i32) -> crate::error::Result {
    // SAFETY: acts on the current task; the callee checks both values.
    crate::error::to_result(unsafe { bindings::restart_set_oom_score_adj(adj, min) })
}

/// The signal lock of a task's process, held (`lock_task_sighand()`), and what it protects:
/// the task's blocked sets, job control bits and private queue, and its process's shared
/// queue, signal flags and handlers; it also reads what is read racily beside them (the
/// alternate stack, limits, OOM adjustment).
///
/// Hold one at a time, and call none of this module's functions that act on the current
/// task while holding one: they take the current task's signal lock themselves. Each guard
/// saves the interrupt state it found, so guards dropped out of order would enable
/// interrupts with a signal lock still held.
///
/// # Invariants
///
/// `sighand` is the handlers of `task`, whose `siglock` is held with the interrupt state
/// `flags` saved, until the guard is dropped; so `task` has not been released and its
/// `signal` is valid. The guard is neither `Send` nor `Sync`: the task that took the lock
/// releases it.
pub struct SiglockGuard<'a> {
    task: &'a Task,
    sighand: NonNull<bindings::sighand_struct>,
    flags: usize,
    _not_send: PhantomData<*mut ()>,
}

impl Task {
    /// Takes the signal lock of the task's process; `None` if the task has released its
    /// handlers (it is being reaped).
    pub fn lock_sighand(&self) -> Option<SiglockGuard<'_>> {
        let mut flags = 0;
        // SAFETY: the task is valid; the lock, if taken, is released by the guard.
        let sighand = unsafe { bindings::__lock_task_sighand(self.as_ptr(), &mut flags) };
        // INVARIANT: a non-NULL return is the task's handlers, locked with `flags` saved.
        Some(SiglockGuard {
            task: self,
            sighand: NonNull::new(sighand)?,
            flags,
            _not_send: PhantomData,
        })
    }
}

/// Calls `f` with the signal lock of the current task's process held; `None` if the task is
/// exiting and has released its handlers. `f` must not take another signal lock, nor call
/// this module's setters (see [`SiglockGuard`]).
pub fn with_current_siglock<R>(f: impl FnOnce(&SiglockGuard<'_>) -> R) -> Option<R> {
    // SAFETY: the reference to the current task does not leave this function, which it
    // runs until it returns.
    let cur = unsafe { Task::current() };
    let g = cur.lock_sighand()?;
    Some(f(&g))
}

/// The first word of a signal set: signals 1 to 64.
fn mask_of(set: *const bindings::sigset_t) -> u64 {
    // SAFETY: the callers pass a set the siglock protects, which they hold.
    unsafe { addr_of!((*set).sig[0]).read() as u64 }
}

impl<'a> SiglockGuard<'a> {
    /// The task whose lock this is.
    pub fn task(&self) -> &'a Task {
        self.task
    }

    fn t(&self) -> *mut bindings::task_struct {
        self.task.as_ptr()
    }

    /// How many threads the process has alive (`nr_threads`, which changes under this lock).
    pub fn thread_count(&self) -> i32 {
        // SAFETY: the signal struct is valid (type invariant); the field is protected by the
        // lock we hold.
        unsafe { addr_of!((*self.signal()).nr_threads).read() }
    }

    /// The process's handlers, whose lock this is.
    pub fn sighand(&self) -> &SighandStruct {
        // SAFETY: the handlers are valid while their lock is held (type invariant), and the
        // task holds a reference to them; `SighandStruct` is transparent.
        unsafe { &*self.sighand.as_ptr().cast() }
    }

    fn signal(&self) -> *mut bindings::signal_struct {
        // SAFETY: the task has not been released (type invariant), so its `signal` is set
        // and valid.
        unsafe { addr_of!((*self.t()).signal).read() }
    }

    /// The task's process's signal struct and handlers, for comparing only.
    pub fn keys(
        &self,
    ) -> (
        *const bindings::signal_struct,
        *const bindings::sighand_struct,
    ) {
        (self.signal(), self.sighand.as_ptr())
    }

    /// The task's blocked signals, the ones it blocked before `sigtimedwait()` unblocked
    /// some (`real_blocked`), and the mask a signal handler's return or `sigsuspend()`
    /// restores (`saved_sigmask`): first words.
    pub fn blocked(&self) -> (u64, u64, u64) {
        let t = self.t();
        // SAFETY: the task is valid (type invariant); `blocked` and `real_blocked` are written
        // under its siglock, which we hold. Only the task writes `saved_sigmask`, without the
        // lock (`sigsuspend()`), so its first word is read once.
        unsafe {
            (
                mask_of(addr_of!((*t).blocked)),
                mask_of(addr_of!((*t).real_blocked)),
                addr_of!((*t).saved_sigmask.sig[0]).read_volatile() as u64,
            )
        }
    }

    /// The task's alternate signal stack: address, size and `SS_*` flags. Only the task sets
    /// them, without a lock, so each is read once.
    pub fn altstack(&self) -> (u64, u64, u32) {
        let t = self.t();
        // SAFETY: the task is valid (type invariant).
        unsafe {
            (
                addr_of!((*t).sas_ss_sp).read_volatile() as u64,
                addr_of!((*t).sas_ss_size).read_volatile() as u64,
                addr_of!((*t).sas_ss_flags).read_volatile(),
            )
        }
    }

    /// Signals pending for the task alone.
    pub fn pending(&self) -> Pending<'_> {
        // SAFETY: the task is valid (type invariant).
        Pending::new(unsafe { addr_of!((*self.t()).pending) })
    }

    /// Signals pending for the process.
    pub fn shared_pending(&self) -> Pending<'_> {
        // SAFETY: the signal struct is valid (type invariant).
        Pending::new(unsafe { addr_of!((*self.signal()).shared_pending) })
    }

    /// Whether the task has a signal to take (`signal_pending()`).
    pub fn signal_pending(&self) -> bool {
        // SAFETY: the task is valid (type invariant).
        unsafe { bindings::signal_pending(self.t()) != 0 }
    }

    /// The job control bits (`JOBCTL_*`) of `thread`, a thread of the same process; `None`
    /// for a task that uses other handlers (and so another signal lock).
    pub fn jobctl(&self, thread: &Task) -> Option<usize> {
        let t = thread.as_ptr();
        // SAFETY: `thread` is valid; its `sighand` is only compared. Being ours, it is
        // locked, and its `jobctl` protected by that lock.
        unsafe {
            (addr_of!((*t).sighand).read_volatile() == self.sighand.as_ptr())
                .then(|| addr_of!((*t).jobctl).read())
        }
    }

    /// Sets and clears job control bits of the task (`JOBCTL_*`), as `task_set_jobctl_pending()`
    /// and `task_clear_jobctl_pending()` do under this lock.
    pub fn update_jobctl(&self, set: usize, clear: usize) {
        let t = self.t();
        // SAFETY: the task is valid and `jobctl` protected by the lock we hold.
        unsafe { *addr_of_mut!((*t).jobctl) = (addr_of!((*t).jobctl).read() | set) & !clear };
    }

    /// Wakes the task so that it looks at its signals, also from the sleeps in `state`
    /// (`signal_wake_up_state()`).
    pub fn wake_up(&self, state: u32) {
        // SAFETY: the task is valid and its siglock held, as the callee requires.
        unsafe { bindings::signal_wake_up_state(self.t(), state) };
    }

    /// The process's resource limit `i` (`RLIMIT_*`): current and maximum; `None` past the
    /// last one.
    pub fn rlimit(&self, i: usize) -> Option<(u64, u64)> {
        if i >= bindings::RLIM_NLIMITS as usize {
            return None;
        }
        // SAFETY: the signal struct is valid (type invariant); prlimit() writes the limits
        // under the group leader's task lock, so each is read once.
        let rl = unsafe { addr_of!((*self.signal()).rlim[i]).read_volatile() };
        Some((rl.rlim_cur as u64, rl.rlim_max as u64))
    }

    /// The process's OOM score adjustment and its minimum: written under `oom_adj_mutex`, so
    /// read once each, as the OOM killer reads them.
    pub fn oom_score_adj(&self) -> (i16, i16) {
        let sig = self.signal();
        // SAFETY: the signal struct is valid (type invariant).
        unsafe {
            (
                addr_of!((*sig).oom_score_adj).read_volatile(),
                addr_of!((*sig).oom_score_adj_min).read_volatile(),
            )
        }
    }

    /// Whether the process's session has a controlling terminal (`signal->tty`, which
    /// `proc_clear_tty()` clears under this lock).
    pub fn has_controlling_tty(&self) -> bool {
        // SAFETY: the signal struct is valid (type invariant) and the field protected by the
        // lock we hold; only compared with NULL.
        !unsafe { addr_of!((*self.signal()).tty).read() }.is_null()
    }

    /// The process's `SIGNAL_*` flags and group exit code.
    pub fn signal_flags(&self) -> (u32, i32) {
        let sig = self.signal();
        // SAFETY: the signal struct is valid and both fields protected by the lock we hold.
        unsafe {
            (
                addr_of!((*sig).flags).read(),
                addr_of!((*sig).group_exit_code).read(),
            )
        }
    }

    /// Whether the process is a child subreaper, and whether one of its ancestors may be.
    pub fn subreaper(&self) -> (bool, bool) {
        let sig = self.signal();
        // SAFETY: the signal struct is valid (type invariant); the bits are read through the
        // raw pointer, as prctl() and fork() set them without a lock of ours.
        unsafe {
            (
                bindings::signal_struct::is_child_subreaper_raw(sig) != 0,
                bindings::signal_struct::has_child_subreaper_raw(sig) != 0,
            )
        }
    }

    /// The handler of signal `signo` (1..=64); `None` for another number.
    pub fn action(&self, signo: u32) -> Option<SigAction> {
        if !(1..=bindings::_NSIG).contains(&signo) {
            return None;
        }
        // SAFETY: the handlers are valid (type invariant), and `signo` in bounds; no
        // reference to them is made, as other tasks change their count.
        let sa = unsafe { addr_of!((*self.sighand.as_ptr()).action[signo as usize - 1].sa) };
        // SAFETY: the handlers change under the lock we hold. The handler and restorer are
        // stored as pointer-sized values (`SIG_DFL`, `SIG_IGN` or user addresses), read as
        // numbers.
        unsafe {
            Some(SigAction {
                handler: addr_of!((*sa).sa_handler).cast::<u64>().read(),
                flags: addr_of!((*sa).sa_flags).read() as u64,
                restorer: addr_of!((*sa).sa_restorer).cast::<u64>().read(),
                mask: mask_of(addr_of!((*sa).sa_mask)),
            })
        }
    }
}

impl SiglockGuard<'_> {
    /// Sends signal `signo` with the siginfo `info` (whose `si_signo` is set to it) to the
    /// task, or with `process` to its process, as the kernel sends its own signals
    /// (`send_signal_locked()`).
    pub fn send(
        &self,
        signo: u32,
        info: &[u8; SIGINFO_LEN],
        process: bool,
    ) -> crate::error::Result {
        let mut si = bindings::kernel_siginfo::default();
        // SAFETY: a `kernel_siginfo` is plain data of `SIGINFO_LEN` bytes, all of which are
        // written.
        unsafe {
            ptr::addr_of_mut!(si)
                .cast::<[u8; SIGINFO_LEN]>()
                .write(*info)
        };
        // `send_signal_locked()` trusts its number: it indexes the handlers with it.
        if !(1..=bindings::_NSIG).contains(&signo) {
            return Err(crate::error::code::EINVAL);
        }
        let signo = signo as i32;
        si.__bindgen_anon_1.si_signo = signo;
        let ty = match process {
            true => bindings::pid_type_PIDTYPE_TGID,
            false => bindings::pid_type_PIDTYPE_PID,
        };
        // SAFETY: the task is valid and its siglock held, as the callee requires.
        crate::error::to_result(unsafe {
            bindings::send_signal_locked(signo, &mut si, self.t(), ty)
        })
    }
}

impl Drop for SiglockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held with these saved flags (type invariant). `task->sighand`
        // is still `self.sighand`: switching it needs the lock we hold.
        unsafe { bindings::unlock_task_sighand(self.t(), &mut self.flags) };
    }
}

/// How a signal is handled: `sigaction(2)`'s fields, the handler and restorer as numbers.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    /// The handler: `SIG_DFL` (0), `SIG_IGN` (1) or a user address.
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// The user address `SA_RESTORER` returns through.
    pub restorer: u64,
    /// Signals blocked while the handler runs (first word).
    pub mask: u64,
}

/// A queue of pending signals, read under the signal lock.
pub struct Pending<'a> {
    pending: *const bindings::sigpending,
    _guard: PhantomData<&'a SiglockGuard<'a>>,
}

impl Pending<'_> {
    fn new(pending: *const bindings::sigpending) -> Self {
        Pending {
            pending,
            _guard: PhantomData,
        }
    }

    /// The signals pending, queued or not (first word).
    pub fn mask(&self) -> u64 {
        // SAFETY: the queue is valid and protected by the lock the guard holds.
        mask_of(unsafe { addr_of!((*self.pending).signal) })
    }

    /// The queued signals, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = Queued<'_>> + '_ {
        // SAFETY: the queue is valid and protected by the lock the guard holds.
        let head = unsafe { addr_of!((*self.pending).list) };
        // SAFETY: as above.
        let mut p = unsafe { addr_of!((*head).next).read() }.cast_const();
        core::iter::from_fn(move || {
            if p == head {
                return None;
            }
            // SAFETY: the entries of a pending list are `sigqueue`s linked by their first
            // field (`list`, checked below); the lock keeps them.
            let q = unsafe { &*p.cast::<bindings::sigqueue>() };
            p = q.list.next;
            Some(Queued(q))
        })
    }
}

crate::static_assert!(core::mem::offset_of!(bindings::sigqueue, list) == 0);

/// A queued signal with its siginfo.
pub struct Queued<'a>(&'a bindings::sigqueue);

/// Bytes of a `kernel_siginfo`.
pub const SIGINFO_LEN: usize = core::mem::size_of::<bindings::kernel_siginfo>();

impl Queued<'_> {
    /// Its signal number, as its siginfo says.
    pub fn signo(&self) -> u32 {
        self.0.info.__bindgen_anon_1.si_signo as u32
    }

    /// Whether its entry was preallocated: a POSIX timer's signal (`SIGQUEUE_PREALLOC`).
    pub fn is_preallocated(&self) -> bool {
        self.0.flags & bindings::SIGQUEUE_PREALLOC as i32 != 0
    }

    /// Its siginfo, as bytes.
    pub fn info(&self) -> [u8; SIGINFO_LEN] {
        // SAFETY: a `kernel_siginfo` is plain data of `SIGINFO_LEN` bytes.
        unsafe { core::mem::transmute_copy(&self.0.info) }
    }
}

/// A process's interval timers (setitimer(2)).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ITimer {
    /// `ITIMER_REAL`: wall time, `SIGALRM`.
    Real,
    /// `ITIMER_VIRTUAL`: user CPU time, `SIGVTALRM`.
    Virtual,
    /// `ITIMER_PROF`: CPU time, `SIGPROF`.
    Prof,
}

#[cfg(CONFIG_CHECKPOINT)]
impl ITimer {
    fn which(self) -> i32 {
        (match self {
            ITimer::Real => bindings::ITIMER_REAL,
            ITimer::Virtual => bindings::ITIMER_VIRTUAL,
            ITimer::Prof => bindings::ITIMER_PROF,
        }) as i32
    }
}

#[cfg(CONFIG_CHECKPOINT)]
fn nanoseconds(t: &bindings::timespec64) -> u64 {
    // A timespec64 from getitimer() is normalised and not negative.
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

#[cfg(CONFIG_CHECKPOINT)]
fn timespec(ns: u64) -> bindings::timespec64 {
    bindings::timespec64 {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    }
}

#[cfg(CONFIG_CHECKPOINT)]
impl SiglockGuard<'_> {
    /// The time left and the interval of the process's timer `which`, in nanoseconds, as
    /// getitimer(2) reports them (`checkpoint_getitimer()`).
    pub fn itimer(&self, which: ITimer) -> (u64, u64) {
        let mut v = bindings::itimerspec64 {
            it_interval: timespec(0),
            it_value: timespec(0),
        };
        // SAFETY: the guard holds the siglock of the task's process (type invariant), as the
        // callee asks; `which` is one it knows.
        unsafe { bindings::checkpoint_getitimer(self.t(), which.which(), &mut v) };
        (nanoseconds(&v.it_value), nanoseconds(&v.it_interval))
    }
}

/// Arms the current process's timer `which` with `value` left and `interval`, in
/// nanoseconds (a time past `i64::MAX` is cut to it), as setitimer(2) does, but for a real
/// timer with no time left, which keeps its interval (`restart_setitimer()`: its `SIGALRM`
/// is pending). In process context, with interrupts enabled; not with a [`SiglockGuard`]
/// held: the callee takes the current process's siglock.
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_itimer(which: ITimer, value: u64, interval: u64) {
    let mut v = bindings::itimerspec64 {
        it_interval: timespec(interval),
        it_value: timespec(value),
    };
    // SAFETY: acts on the current process; `v` is valid for the call. It fails only for an
    // unknown `which`, which `ITimer` cannot name.
    unsafe { bindings::restart_setitimer(which.which(), &mut v) };
}

/// What job control left in a process: stopped by a signal, or continued.
#[cfg(CONFIG_CHECKPOINT)]
pub enum JobControl {
    /// Stopped by `signr`, with the stop wait(2) with `WUNTRACED` has yet to report.
    Stopped {
        /// The signal that stopped it: `SIGSTOP`, `SIGTSTP`, `SIGTTIN` or `SIGTTOU`.
        signr: u32,
        /// The stop signal wait(2) has yet to report (`group_exit_code`), 0 if it did.
        report: u32,
    },
    /// Not stopped, with a report of `SIGCONT` left for wait(2) with `WCONTINUED` or not.
    Running {
        /// Whether the report is left.
        continued: bool,
    },
}

/// Sets the current process's job control state as a group stop or `SIGCONT` would have
/// left it, without notifying its parent: a stopped process's threads stop as part of a
/// group stop already complete; a group stop under way ends. Left alone if the process is
/// dying. `EINVAL` for a signal that does not stop, or in a kernel thread; `EBUSY` if the
/// process is stopped already (only `SIGCONT` ends that).
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_job_control(state: JobControl) -> crate::error::Result {
    let (signr, report, continued) = match state {
        JobControl::Stopped { signr: 0, .. } => return Err(crate::error::code::EINVAL),
        JobControl::Stopped { signr, report } => (signr, report, false),
        JobControl::Running { continued } => (0, 0, continued),
    };
    let (Ok(signr), Ok(report)) = (i32::try_from(signr), i32::try_from(report)) else {
        return Err(crate::error::code::EINVAL);
    };
    // SAFETY: acts on the current task's process under its siglock; the callee checks that
    // `signr` and `report` are 0 or stop signals, and refuses a kernel thread.
    crate::error::to_result(unsafe { bindings::restart_set_job_control(signr, report, continued) })
}
