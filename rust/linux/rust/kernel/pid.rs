// SPDX-License-Identifier: GPL-2.0

//! Pid lookup and the per-task checks needed to act on another task from outside.
//!
//! C headers: [`include/linux/pid.h`](srctree/include/linux/pid.h),
//! [`include/linux/ptrace.h`](srctree/include/linux/ptrace.h)

use crate::{bindings, sync::rcu, task::Task, types::ARef};
use core::ptr::{self, NonNull};

// `task_struct` fields read directly from Rust. bindgen has been seen to lay this struct out
// wrongly (an empty `____cacheline_aligned` member), so a mismatch must fail the build.
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, pid) == bindings::OFFSETOF_TASK_STRUCT_PID
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, flags) == bindings::OFFSETOF_TASK_STRUCT_FLAGS
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, group_leader)
        == bindings::OFFSETOF_TASK_STRUCT_GROUP_LEADER
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, mm) == bindings::OFFSETOF_TASK_STRUCT_MM
);
crate::static_assert!(
    core::mem::offset_of!(bindings::task_struct, sighand) == bindings::OFFSETOF_TASK_STRUCT_SIGHAND
);

impl Task {
    /// Looks up the task with pid `nr` in the caller's pid namespace and takes a reference on it.
    pub fn from_vpid(nr: i32) -> Option<ARef<Task>> {
        if nr <= 0 {
            return None;
        }
        // SAFETY: `find_get_pid` accepts any number and returns a counted `struct pid` or NULL.
        let pid = NonNull::new(unsafe { bindings::find_get_pid(nr) })?;
        // SAFETY: `pid` is valid and counted; `get_pid_task` returns a counted task or NULL.
        let task = unsafe { bindings::get_pid_task(pid.as_ptr(), bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: drops the reference taken by `find_get_pid` above.
        unsafe { bindings::put_pid(pid.as_ptr()) };
        let task = NonNull::new(task)?;
        // SAFETY: `get_pid_task` took the reference that the `ARef` now owns, and `Task` is a
        // transparent wrapper of `task_struct`.
        Some(unsafe { ARef::from_raw(task.cast()) })
    }

    /// Returns the raw `task_struct` pointer, for code that reads fields the safe wrapper
    /// does not cover yet.
    pub fn as_ptr(&self) -> *mut bindings::task_struct {
        self.0.get()
    }

    fn flags(&self) -> u32 {
        // SAFETY: by the type invariant `self.0` is a valid task; `flags` is a plain word that
        // only the task itself changes, and a racy read is what the C helpers do as well.
        unsafe { ptr::addr_of!((*self.0.get()).flags).read_volatile() }
    }

    /// How far the task got in dying (`exit_state`): 0 while it runs, `EXIT_ZOMBIE` once it
    /// waits to be reaped, `EXIT_DEAD` once it is being released. Read once, as the C
    /// helpers do: it changes under `tasklist_lock`, or the read lock only when a parent
    /// reaps a zombie.
    pub fn exit_state(&self) -> u32 {
        // SAFETY: by the type invariant `self.0` is a valid task; the field is read once
        // through the raw pointer.
        let state = unsafe { ptr::addr_of!((*self.0.get()).exit_state).read_volatile() };
        state as u32
    }

    /// Its scheduler state (`__state`: `TASK_RUNNING`, `TASK_INTERRUPTIBLE`, ...), read once
    /// as `READ_ONCE(p->__state)` is: it changes whenever the task sleeps or wakes.
    pub fn state(&self) -> u32 {
        // SAFETY: by the type invariant `self.0` is a valid task; the field is read once
        // through the raw pointer.
        unsafe { ptr::addr_of!((*self.0.get()).__state).read_volatile() }
    }

    /// Returns whether the task is a kernel thread (it has no user-space state to act on).
    pub fn is_kthread(&self) -> bool {
        self.flags() & bindings::PF_KTHREAD != 0
    }

    /// Returns whether the task has begun to exit (`PF_EXITING`), a snapshot.
    pub fn is_exiting(&self) -> bool {
        self.flags() & bindings::PF_EXITING != 0
    }

    /// Returns whether the task is a kernel worker of a user process (an io_uring or vhost
    /// worker): a thread of that process that only ever runs kernel code.
    pub fn is_user_worker(&self) -> bool {
        self.flags() & bindings::PF_USER_WORKER != 0
    }

    /// Returns whether the current task may ptrace-attach to this one, with real credentials.
    pub fn may_ptrace_attach(&self) -> bool {
        // SAFETY: `self.0` is a valid task; `ptrace_may_access` takes the locks it needs.
        unsafe { bindings::ptrace_may_access(self.0.get(), bindings::PTRACE_MODE_ATTACH_REALCREDS) }
    }

    /// Returns whether the current task may inspect this one as /proc does
    /// (`PTRACE_MODE_READ_FSCREDS`): read its fds or learn its pid for a log.
    pub fn may_ptrace_read(&self) -> bool {
        // SAFETY: `self.0` is a valid task; `ptrace_may_access` takes the locks it needs, none
        // that sleeps.
        unsafe { bindings::ptrace_may_access(self.0.get(), bindings::PTRACE_MODE_READ_FSCREDS) }
    }

    /// Waits until the task is off its CPU in scheduler state `state` (`TASK_*`), as
    /// `wait_task_inactive()` does; `false` if it is in another state.
    pub fn wait_inactive(&self, state: u32) -> bool {
        // SAFETY: `self.0` is a valid task; the callee may sleep, as it does for ptrace.
        unsafe { bindings::wait_task_inactive(self.0.get(), state) != 0 }
    }

    /// Sends signal `signo` to the task's process from the kernel (`send_sig(signo, task,
    /// 1)`: no sender, no permission check, and it reaches a pid namespace's init as well):
    /// `EINVAL` for a number that is not a signal, `EPERM` for a kernel thread, `ESRCH` once
    /// the task has released its handlers.
    pub fn send_signal(&self, signo: u32) -> crate::error::Result {
        if !(1..=bindings::_NSIG).contains(&signo) {
            return Err(crate::error::code::EINVAL);
        }
        // A kernel thread that lets a signal in takes it from the kernel as a command.
        if self.is_kthread() {
            return Err(crate::error::code::EPERM);
        }
        // SAFETY: `self.0` is a valid task; the number is a signal (checked above).
        crate::error::to_result(unsafe { bindings::send_sig(signo as i32, self.0.get(), 1) })
    }

    /// Sends SIGKILL to the task's process from the kernel, with no sender and no permission
    /// check (it reaches a pid namespace's init as well); nothing for a kernel thread, or
    /// once the task has released its handlers.
    pub fn kill_process(&self) {
        if self.is_kthread() {
            return;
        }
        // SAFETY: `self.0` is a valid task; `SEND_SIG_PRIV` is the special siginfo value 1,
        // which the callee does not follow.
        unsafe {
            bindings::do_send_sig_info(
                bindings::SIGKILL as i32,
                1 as *mut bindings::kernel_siginfo,
                self.0.get(),
                bindings::pid_type_PIDTYPE_TGID,
            )
        };
    }

    /// Returns whether `self` and `other` are in the same cgroup of every hierarchy, a
    /// snapshot.
    pub fn same_cgroups(&self, other: &Task) -> bool {
        // SAFETY: both tasks are valid; the callee reads their css sets under RCU.
        unsafe { bindings::checkpoint_same_cgroups(self.0.get(), other.0.get()) }
    }

    /// Returns whether `self` and `other` are threads of the same process.
    pub fn same_thread_group(&self, other: &Task) -> bool {
        ptr::eq(self.group_leader(), other.group_leader())
    }

    /// Returns whether the task's process is the init (pid 1) of its own pid namespace.
    pub fn is_pid_ns_init(&self) -> bool {
        let _rcu = rcu::read_lock();
        // SAFETY: `self.0` is valid; under RCU its `struct pid` and that pid's namespace stay
        // alive. A task that has already released its pid yields NULL.
        let ns = unsafe { bindings::task_active_pid_ns(self.0.get()) };
        if ns.is_null() {
            return false;
        }
        // SAFETY: `self.0` and `ns` are valid under RCU (above).
        let nr = unsafe {
            bindings::__task_pid_nr_ns(self.0.get(), bindings::pid_type_PIDTYPE_TGID, ns)
        };
        nr == 1
    }
}

impl Task {
    /// Whether a tracer is attached to the task (`ptrace`): read once, as it changes under
    /// `tasklist_lock` held for writing.
    pub fn is_ptraced(&self) -> bool {
        // SAFETY: by the type invariant `self.0` is a valid task; the field is read once.
        unsafe { ptr::addr_of!((*self.0.get()).ptrace).read_volatile() != 0 }
    }

    /// Whether the task has been released (`!pid_alive()`): reaped, or a thread or
    /// autoreaped process that is gone. It then has no pids, no parent and no threads.
    pub fn is_released(&self) -> bool {
        // SAFETY: by the type invariant `self.0` is a valid task; `thread_pid` is cleared,
        // under `tasklist_lock` held for writing, when the task is released; only compared.
        unsafe { ptr::addr_of!((*self.0.get()).thread_pid).read_volatile() }.is_null()
    }

    /// The task's real parent (the process it reports its death to, not its tracer),
    /// counted; `None` once the task has been released.
    pub fn real_parent(&self) -> Option<ARef<Task>> {
        let _rcu = rcu::read_lock();
        if self.is_released() {
            return None;
        }
        // SAFETY: as `task_ppid_nr_ns()` reads it: while the task is not released, its
        // `real_parent` is a valid task under RCU, which a reference can be taken on.
        let parent = unsafe {
            &*ptr::addr_of!((*self.0.get()).real_parent)
                .read_volatile()
                .cast::<Task>()
        };
        Some(parent.into())
    }
}

impl Task {
    /// Returns the task's pid as the current task sees it (0 if it is not visible there).
    pub fn vnr(&self) -> i32 {
        // SAFETY: `self.0` is valid; a NULL namespace means the current task's.
        unsafe {
            bindings::__task_pid_nr_ns(
                self.0.get(),
                bindings::pid_type_PIDTYPE_PID,
                ptr::null_mut(),
            )
        }
    }

    /// Returns the pid namespace the task's pids live in, or `None` once it released its pid.
    pub fn active_pid_ns(&self) -> Option<ARef<PidNamespace>> {
        let _rcu = rcu::read_lock();
        // SAFETY: `self.0` is valid; under RCU its `struct pid` and namespace stay alive.
        let ns = unsafe { bindings::task_active_pid_ns(self.0.get()) };
        // SAFETY: `ns` is NULL or valid under RCU, and a namespace with a live pid in it is
        // still referenced, so it can be taken a reference on.
        unsafe { PidNamespace::get(ns) }
    }

    /// Returns the pid namespace the task's new children will be created in, or `None` for an
    /// exiting task.
    pub fn pid_ns_for_children(&self) -> Option<ARef<PidNamespace>> {
        let t = self.0.get();
        // SAFETY: `task_lock` keeps `nsproxy` and what it holds from being released.
        unsafe {
            bindings::task_lock(t);
            let nsproxy = (*t).nsproxy;
            let ns = if nsproxy.is_null() {
                ptr::null_mut()
            } else {
                (*nsproxy).pid_ns_for_children
            };
            let ns = PidNamespace::get(ns);
            bindings::task_unlock(t);
            ns
        }
    }
}

/// While it lives, the tasks the current task creates go into a new pid namespace (made as
/// `unshare(CLONE_NEWPID)` makes it, with the same capability check), whose init is the first
/// of them. Dropping it gives the current task its namespaces back; the tasks created keep
/// the new one.
///
/// # Invariants
///
/// `old` is the nsproxy the current task had before, on which this holds a reference; it
/// belongs to the task that made it (it is neither `Send` nor `Sync`).
pub struct NewPidNsForChildren {
    old: NonNull<bindings::nsproxy>,
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl NewPidNsForChildren {
    /// Makes the new namespace. `EPERM` without `CAP_SYS_ADMIN` in the current task's user
    /// namespace; `EINVAL` once the current task has let go of its namespaces (exiting), or
    /// if its children already go into another pid namespace than its own (as for
    /// unshare(2)); `ENOSPC` past the namespace nesting or count limits.
    pub fn enter() -> crate::error::Result<Self> {
        let cur = current_ptr();
        // SAFETY: only the current task replaces its own nsproxy, and it is here.
        let old = NonNull::new(unsafe { (*cur).nsproxy }).ok_or(crate::error::code::EINVAL)?;
        let mut new = ptr::null_mut();
        // SAFETY: the current task has namespaces (above); the callee makes new ones as
        // unshare(2) does, checking the capability, and gives `new` a counted nsproxy (or
        // leaves it NULL if nothing is to change).
        crate::error::to_result(unsafe {
            bindings::unshare_nsproxy_namespaces(
                bindings::CLONE_NEWPID as _,
                &mut new,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        if new.is_null() {
            return Err(crate::error::code::EINVAL);
        }
        // SAFETY: `old` is the current task's, which it holds a reference on; the reference
        // taken here is `Self`'s; the switch gives the task's reference on `old` up for the
        // one on `new`.
        unsafe {
            bindings::get_nsproxy(old.as_ptr());
            bindings::switch_task_namespaces(cur, new);
        }
        // INVARIANT: took a reference on `old` above, in the current task.
        Ok(Self {
            old,
            _not_send: core::marker::PhantomData,
        })
    }
}

impl Drop for NewPidNsForChildren {
    fn drop(&mut self) {
        // SAFETY: `self` was made by the current task (type invariant), which gets `old` back
        // with the reference `self` holds, and gives up its reference on what it had.
        unsafe { bindings::switch_task_namespaces(current_ptr(), self.old.as_ptr()) };
    }
}

fn current_ptr() -> *mut bindings::task_struct {
    // SAFETY: the current task is valid while it runs.
    unsafe { bindings::get_current() }
}

/// A pid namespace (`struct pid_namespace`).
///
/// # Invariants
///
/// Instances are always reference counted: an `ARef<PidNamespace>` holds one reference.
#[repr(transparent)]
pub struct PidNamespace(crate::types::Opaque<bindings::pid_namespace>);

// SAFETY: a pid namespace may be referenced and released from any task.
unsafe impl Send for PidNamespace {}
// SAFETY: its methods only read through the C interfaces, which do their own locking.
unsafe impl Sync for PidNamespace {}

// SAFETY: `get_pid_ns` and `put_pid_ns` keep the namespace alive while a reference is held.
unsafe impl crate::types::AlwaysRefCounted for PidNamespace {
    fn inc_ref(&self) {
        // SAFETY: the existence of `self` means the count is non-zero.
        unsafe { bindings::get_pid_ns(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference.
        unsafe { bindings::put_pid_ns(obj.cast().as_ptr()) };
    }
}

impl PidNamespace {
    /// Takes a reference on `ns`; `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ns` must be NULL or a valid namespace whose count is not zero.
    unsafe fn get(ns: *mut bindings::pid_namespace) -> Option<ARef<PidNamespace>> {
        let ns = NonNull::new(ns)?;
        // SAFETY: valid and counted, per the caller.
        unsafe { bindings::get_pid_ns(ns.as_ptr()) };
        // SAFETY: the reference taken above is the `ARef`'s; `PidNamespace` is transparent.
        Some(unsafe { ARef::from_raw(ns.cast()) })
    }

    /// Returns the raw pointer.
    pub fn as_ptr(&self) -> *mut bindings::pid_namespace {
        self.0.get()
    }

    /// The initial pid namespace, where every task has a pid.
    pub fn init() -> &'static PidNamespace {
        // SAFETY: `init_pid_ns` is static and never freed; `PidNamespace` is transparent.
        unsafe { &*ptr::addr_of!(bindings::init_pid_ns).cast() }
    }

    /// The first pid of this namespace numbered `nr` or above, as its number there and the
    /// task attached to it as `ty` (`None` for a pid only a process group or session has
    /// left), valid under the RCU read lock `_rcu` (`find_ge_pid()`). Nothing that sleeps may
    /// be called on the task while `_rcu` is held; take a reference (`ARef<Task>`) first.
    pub fn find_ge<'a>(
        &'a self,
        nr: i32,
        ty: PidType,
        _rcu: &'a rcu::Guard,
    ) -> Option<(i32, Option<&'a Task>)> {
        // SAFETY: the namespace is valid; the pid found is valid under RCU.
        let pid = unsafe { bindings::find_ge_pid(nr, self.0.get()) };
        if pid.is_null() {
            return None;
        }
        // SAFETY: as above; a task attached to a pid under RCU stays valid until the RCU read
        // lock is released (its release is RCU-delayed); `Task` is transparent.
        unsafe {
            let t = bindings::pid_task(pid, ty.raw());
            Some((
                bindings::pid_nr_ns(pid, self.0.get()),
                (!t.is_null()).then(|| &*t.cast::<Task>()),
            ))
        }
    }

    /// Returns `task`'s id of kind `ty` (pid, tgid, process group, session) in this namespace,
    /// or 0 if it has none there.
    pub fn nr_of(&self, task: &Task, ty: bindings::pid_type) -> i32 {
        // SAFETY: both are valid; the callee reads the task's pids under RCU.
        unsafe { bindings::__task_pid_nr_ns(task.as_ptr(), ty, self.0.get()) }
    }
}

/// What a `struct pid` names: a task, a process (thread group), a process group or a session.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidType {
    /// A task (`PIDTYPE_PID`).
    Pid = bindings::pid_type_PIDTYPE_PID,
    /// A process (`PIDTYPE_TGID`).
    Tgid = bindings::pid_type_PIDTYPE_TGID,
    /// A process group (`PIDTYPE_PGID`).
    Pgid = bindings::pid_type_PIDTYPE_PGID,
    /// A session (`PIDTYPE_SID`).
    Sid = bindings::pid_type_PIDTYPE_SID,
}

impl PidType {
    /// The C `enum pid_type`.
    pub fn raw(self) -> bindings::pid_type {
        self as bindings::pid_type
    }
}

/// A `struct pid`: the numbers, one per pid namespace it is visible in, that a task, a
/// process, a process group or a session goes by, and the tasks attached to it.
///
/// # Invariants
///
/// Every instance is a valid `struct pid` for as long as the reference through which it is
/// reached exists: see [`crate::tasklist`] for where such references come from.
#[repr(transparent)]
pub struct Pid(crate::types::Opaque<bindings::pid>);

impl Pid {
    /// Returns the raw pointer.
    pub fn as_ptr(&self) -> *mut bindings::pid {
        self.0.get()
    }

    /// Its number in the current task's pid namespace; 0 if it has none there.
    pub fn vnr(&self) -> i32 {
        // SAFETY: the pid is valid (type invariant); the callee reads the caller's namespace.
        unsafe { bindings::pid_vnr(self.as_ptr()) }
    }
}

#[cfg(CONFIG_CHECKPOINT)]
impl Task {
    /// Why checkpoint cannot save the task, for the state restart does not set again that
    /// the core kernel keeps private: confinement (seccomp, no_new_privs, Landlock), port I/O,
    /// its NUMA policy, scheduler and CPU controls, tracees, keyrings and namespaces of its
    /// own; `None` if none applies. For a task that runs, a snapshot. May sleep.
    pub fn checkpoint_refusal(&self) -> Option<&'static crate::str::CStr> {
        // SAFETY: the task is valid; the callee takes the locks or RCU read section each field
        // it reads needs (its leader's only while it is not released), and returns NULL or a
        // static string.
        unsafe { static_reason(bindings::checkpoint_task_unsupported(self.as_ptr())) }
    }

    /// What of its SysV semaphore undo list (`SEM_UNDO`) restart would lose, if anything.
    ///
    /// # Safety
    ///
    /// The task must be frozen: a running one publishes its list without the task lock.
    pub unsafe fn sem_undo_refusal(&self) -> Option<&'static crate::str::CStr> {
        #[cfg(CONFIG_SYSVIPC)]
        // SAFETY: the task is valid and frozen (caller); the callee reads its undo list under
        // its task lock, and returns NULL or a static string.
        return unsafe { static_reason(bindings::checkpoint_task_sem_undo(self.as_ptr())) };
        #[cfg(not(CONFIG_SYSVIPC))]
        None
    }

    /// Whether it has an io_uring ring, with an fd or registered only in its io_uring
    /// context.
    ///
    /// # Safety
    ///
    /// The task must not exec nor be freed meanwhile (frozen and held): either frees the
    /// context this reads.
    pub unsafe fn has_io_uring(&self) -> bool {
        #[cfg(CONFIG_IO_URING)]
        // SAFETY: the task is valid, and its io_uring context stays (caller).
        return unsafe { bindings::checkpoint_task_io_uring(self.as_ptr()) };
        #[cfg(not(CONFIG_IO_URING))]
        false
    }
}

/// What a task set on itself that its exit, its signals and wait(2) use, as plain values: a
/// racy snapshot. The task sets most of them itself, but not all (a parent's exit sets a
/// leader's `exit_signal`, ptrace its `exit_code`, other threads its process's exit state):
/// exact only while none of those runs.
#[derive(Clone, Copy, Debug)]
pub struct OwnState {
    /// The signal its parent gets when it dies (`exit_signal`); -1 for a thread.
    pub exit_signal: i32,
    /// Its `exit_code`: a zombie's status, or the signal a stopped task stopped for.
    pub exit_code: i32,
    /// The status its whole process exits with (`group_exit_code`), if it is exiting as a
    /// whole (`SIGNAL_GROUP_EXIT`).
    pub group_exit: Option<i32>,
    /// Its personality(2).
    pub personality: u32,
    /// The word cleared when it exits (set_tid_address(2), `CLONE_CHILD_CLEARTID`).
    pub clear_child_tid: u64,
    /// The word its tid was written to when it was created (`CLONE_CHILD_SETTID`).
    pub set_child_tid: u64,
    /// Its robust futex list (set_robust_list(2)).
    pub robust_list: u64,
    /// The signal it gets when its parent dies (`PR_SET_PDEATHSIG`).
    pub pdeath_signal: i32,
    /// Whether it puts back its saved signal mask on its way to user mode (after
    /// sigsuspend(2), ppoll(2)...).
    pub restore_sigmask: bool,
}

/// The addresses of what a task holds by reference, only to compare (0 for none): a racy
/// snapshot, exact while the task does not run (no exec, unshare or exit replaces them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldAddrs {
    /// Its address space.
    pub mm: usize,
    /// Its fd table.
    pub files: usize,
    /// Its root, cwd and umask.
    pub fs: usize,
    /// Its signal handlers.
    pub sighand: usize,
    /// Its process's signal state.
    pub signal: usize,
}

impl Task {
    /// What the task set on itself: see [`OwnState`].
    pub fn own_state(&self) -> OwnState {
        let t = self.0.get();
        // SAFETY: the task is valid; each field is one word (or a bit of one) read once, and
        // the signal struct lives as long as the task.
        unsafe {
            let signal = ptr::addr_of!((*t).signal).read();
            let sig_flags = ptr::addr_of!((*signal).flags).read_volatile();
            OwnState {
                exit_signal: ptr::addr_of!((*t).exit_signal).read_volatile(),
                exit_code: ptr::addr_of!((*t).exit_code).read_volatile(),
                group_exit: (sig_flags & bindings::SIGNAL_GROUP_EXIT != 0)
                    .then(|| ptr::addr_of!((*signal).group_exit_code).read_volatile()),
                personality: ptr::addr_of!((*t).personality).read_volatile(),
                clear_child_tid: ptr::addr_of!((*t).clear_child_tid).read_volatile() as u64,
                set_child_tid: ptr::addr_of!((*t).set_child_tid).read_volatile() as u64,
                robust_list: ptr::addr_of!((*t).robust_list).read_volatile() as u64,
                pdeath_signal: ptr::addr_of!((*t).pdeath_signal).read_volatile(),
                restore_sigmask: bindings::test_tsk_restore_sigmask(t),
            }
        }
    }

    /// Whether the task is its process's main thread (`thread_group_leader()`), read once.
    pub fn is_group_leader(&self) -> bool {
        let t = self.0.get();
        // SAFETY: the task is valid; the pointer is read once and only compared.
        ptr::eq(
            unsafe { ptr::addr_of!((*t).group_leader).read_volatile() },
            t,
        )
    }

    /// The addresses of what the task holds by reference: see [`HeldAddrs`].
    pub fn held_addrs(&self) -> HeldAddrs {
        let t = self.0.get();
        // SAFETY: the task is valid; each pointer is read once and not followed.
        unsafe {
            HeldAddrs {
                mm: ptr::addr_of!((*t).mm).read_volatile() as usize,
                files: ptr::addr_of!((*t).files).read_volatile() as usize,
                fs: ptr::addr_of!((*t).fs).read_volatile() as usize,
                sighand: ptr::addr_of!((*t).sighand).read_volatile() as usize,
                signal: ptr::addr_of!((*t).signal).read_volatile() as usize,
            }
        }
    }
}

/// Why the current task cannot restart tasks: state each task it creates would inherit
/// (`checkpoint_task_inherited()`: confinement, I/O ports...) where a checkpointed task has
/// none, checkpoint refusing it; `None` if it has none.
#[cfg(CONFIG_CHECKPOINT)]
pub fn restarter_refusal() -> Option<&'static crate::str::CStr> {
    // SAFETY: the callee reads the current task's own state and returns NULL or a static
    // string.
    unsafe { static_reason(bindings::checkpoint_restarter_unsupported()) }
}

/// A static reason string a C helper returned, or `None` for NULL.
///
/// # Safety
///
/// `why` must be NULL or a NUL-terminated string that lives for ever.
#[cfg(CONFIG_CHECKPOINT)]
unsafe fn static_reason(why: *const crate::ffi::c_char) -> Option<&'static crate::str::CStr> {
    // SAFETY: per the function's contract.
    (!why.is_null()).then(|| unsafe { crate::str::CStr::from_char_ptr(why) })
}

/// A pid number taken in a pid namespace with no task of its own, as a process group or a
/// session whose leader has died goes by: allocated as a new task's pid is, and freed when
/// dropped unless a task was attached to it.
///
/// # Invariants
///
/// `pid` is a pid from `alloc_pid()` on which this holds a reference of its own, so that it
/// stays valid as long as `self`. While `attached` is false no task was ever attached to it
/// and this owns its allocation; once it is true the tasks attached to it own that, and
/// `change_pid()` frees it when the last one leaves.
#[cfg(CONFIG_CHECKPOINT)]
pub struct ReservedPid {
    pid: NonNull<bindings::pid>,
    attached: core::cell::Cell<bool>,
}

#[cfg(CONFIG_CHECKPOINT)]
impl ReservedPid {
    /// Takes the number `nr` in `ns`, as `clone3()` with `set_tid` does for a new task: with
    /// the same capability check, `EEXIST` if a task, process group or session has it.
    pub fn new(ns: &PidNamespace, nr: i32) -> crate::error::Result<Self> {
        let mut tid = nr;
        // SAFETY: the namespace is valid (counted by `ns`); `tid` is one number to take.
        let pid =
            crate::error::from_err_ptr(unsafe { bindings::alloc_pid(ns.as_ptr(), &mut tid, 1) })?;
        let pid = NonNull::new(pid).ok_or(crate::error::code::ENOMEM)?;
        // SAFETY: the pid is valid; the reference is the one `Drop` puts.
        unsafe { bindings::get_pid(pid.as_ptr()) };
        // INVARIANT: from `alloc_pid()`, referenced, not attached yet.
        Ok(ReservedPid {
            pid,
            attached: core::cell::Cell::new(false),
        })
    }

    /// Its number in the current task's pid namespace.
    pub fn vnr(&self) -> i32 {
        // SAFETY: the pid is valid (type invariant).
        unsafe { bindings::pid_vnr(self.pid.as_ptr()) }
    }

    /// The raw pid, valid while `self` is.
    pub(crate) fn as_ptr(&self) -> *mut bindings::pid {
        self.pid.as_ptr()
    }

    /// Records that a task was attached to it: its tasks free it from now on.
    pub(crate) fn set_attached(&self) {
        // INVARIANT: called by the attaching code once the attachment is done.
        self.attached.set(true);
    }
}

#[cfg(CONFIG_CHECKPOINT)]
impl Drop for ReservedPid {
    fn drop(&mut self) {
        if !self.attached.get() {
            // SAFETY: a pid from `alloc_pid()` that no task was ever attached to, whose
            // allocation this owns (type invariant).
            unsafe { bindings::free_pid(self.pid.as_ptr()) };
        }
        // SAFETY: the reference taken in `new`.
        unsafe { bindings::put_pid(self.pid.as_ptr()) };
    }
}
