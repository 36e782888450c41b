// SPDX-License-Identifier: GPL-2.0

//! What a task sets on itself with system calls: its name, personality, parent-death
//! signal, the addresses of its clear-child-tid word and robust futex list, and what its
//! next `restart_syscall()` does. Each setter acts on the current task only, whose fields
//! these are: no other task writes them.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h)

use crate::{bindings, error::code::EINVAL, error::Result, str::CStr};
use core::ptr::addr_of_mut;

/// The current task, for the fields it owns.
fn current() -> *mut bindings::task_struct {
    // SAFETY: `get_current()` has no preconditions; the task is valid while it runs.
    unsafe { bindings::get_current() }
}

/// Sleeps between `min_us` and `max_us` microseconds, uninterruptibly, as
/// `usleep_range()` does: for polling what another task does. Not in atomic context.
pub fn usleep_range(min_us: u64, max_us: u64) {
    // SAFETY: sleeping has no preconditions in process context, which a task's own code
    // runs in.
    unsafe {
        bindings::usleep_range_state(min_us as _, max_us as _, bindings::TASK_UNINTERRUPTIBLE)
    };
}

/// Lets another task run if one should (`cond_resched()`): for loops that could otherwise
/// keep a CPU for long. Not in atomic context, where it warns (`might_sleep()`) with
/// `CONFIG_DEBUG_ATOMIC_SLEEP`.
pub fn cond_resched() {
    // SAFETY: the callee acts on the current task, in the process context a task's own code
    // runs in.
    unsafe { bindings::cond_resched() };
}

/// Runs the work queued for the current task's return to user mode (`task_work_run()`) now:
/// the release of the files whose last reference it put, say. Not under a lock.
pub fn run_task_work() {
    // SAFETY: the callee acts on the current task, in the process context a task's own code
    // runs in.
    unsafe { bindings::task_work_run() };
}

/// Whether the current task has been sent SIGKILL, or its process is dying.
pub fn fatal_signal_pending() -> bool {
    // SAFETY: the current task is valid while it runs.
    unsafe { bindings::fatal_signal_pending(current()) }
}

/// Renames the current task, as `prctl(PR_SET_NAME)` does; a longer name is cut.
pub fn set_comm(name: &CStr) {
    // SAFETY: `name` is NUL-terminated; a task may rename itself, the callee locks.
    unsafe { bindings::__set_task_comm(current(), name.as_char_ptr(), false) };
}

/// The current task's personality (`PER_*` and its flags, as `personality(2)` returns).
pub fn personality() -> u32 {
    // SAFETY: the current task's own field, which only it writes.
    unsafe { addr_of_mut!((*current()).personality).read() }
}

/// Sets the current task's personality, as `personality(2)` does.
pub fn set_personality(personality: u32) {
    // SAFETY: the current task's own field; others only read it racily (/proc).
    unsafe { addr_of_mut!((*current()).personality).write(personality) };
}

/// Sets the signal the current task gets when its parent dies, as
/// `prctl(PR_SET_PDEATHSIG)` does: 0 for none, `EINVAL` for a number that is not a signal.
pub fn set_pdeath_signal(signo: i32) -> Result {
    if !(0..=bindings::_NSIG as i32).contains(&signo) {
        return Err(EINVAL);
    }
    // SAFETY: the current task's own field; others read it under `tasklist_lock`, an int
    // written whole.
    unsafe { addr_of_mut!((*current()).pdeath_signal).write(signo) };
    Ok(())
}

/// `EINVAL` unless the current task is a user task with an address space: exit clears the
/// tid word and walks the robust list with user accesses into its mm.
fn user_task() -> Result {
    // SAFETY: the current task's own fields; only it changes its `mm` and these flags.
    let (kthread, mm) = unsafe {
        (
            (*current()).flags & bindings::PF_KTHREAD != 0,
            (*current()).mm.is_null(),
        )
    };
    if kthread || mm {
        return Err(EINVAL);
    }
    Ok(())
}

/// Sets the user address the kernel clears and wakes futex waiters at when the current
/// task exits, as `set_tid_address(2)` does; 0 for none. `EINVAL` for a kernel thread. The
/// address itself is not checked: it is a user address.
pub fn set_clear_child_tid(addr: u64) -> Result {
    user_task()?;
    // SAFETY: the current task's own field; only it reads it, at exit and exec.
    unsafe { addr_of_mut!((*current()).clear_child_tid).write(addr as usize as _) };
    Ok(())
}

/// Sets the user address of the current task's robust futex list, as `set_robust_list(2)`
/// does; 0 for none. `EINVAL` for a kernel thread. The address itself is not checked: it is
/// a user address, read with user accesses at exit.
pub fn set_robust_list(addr: u64) -> Result {
    user_task()?;
    // SAFETY: the current task's own field; others only read it through
    // get_robust_list(2), which takes no lock either.
    unsafe { addr_of_mut!((*current()).robust_list).write(addr as usize as _) };
    Ok(())
}

/// Makes the current task look like one that has run exec since fork (`PF_FORKNOEXEC`
/// cleared), as process accounting reports it.
pub fn clear_forknoexec() {
    // SAFETY: `flags` is the current task's own; only it changes this bit.
    unsafe {
        addr_of_mut!((*current()).flags).write((*current()).flags & !bindings::PF_FORKNOEXEC)
    };
}

/// Makes a `restart_syscall(2)` of the current task fail with `EINTR` (`restart_block` set
/// to `do_no_restart_syscall`), as every system call that does not set one leaves it.
pub fn clear_restart_block() {
    // SAFETY: the current task's own field, which only it uses.
    unsafe {
        addr_of_mut!((*current()).restart_block.fn_).write(Some(bindings::do_no_restart_syscall))
    };
}

/// Ends the current task with the wait status `code` (`do_exit()`: `SIGKILL` for a task
/// killed, `n << 8` for `exit(n)`).
///
/// # Safety
///
/// The current task must be a task in process context that is not exiting yet, with
/// preemption enabled and no lock held. No destructor runs, in any caller's frame: nothing
/// may be pinned or borrowed there that another task still reaches once its memory is gone.
pub unsafe fn exit(code: i32) -> ! {
    // SAFETY: the caller's contract is `do_exit()`'s.
    unsafe { bindings::do_exit(code as _) }
}

/// Reaps the current task's child numbered `pid` (a positive number: not a group), whatever
/// its exit signal, if it is ready, as `wait4(pid, NULL, __WALL | WNOHANG, NULL)` does: the
/// pid, 0 if it is not ready yet (or, traced by the caller, only stopped: reported, not
/// reaped), `ECHILD` if there is no such child of the caller's process, `EINVAL` for `pid` 0
/// or less.
pub fn reap_child(pid: i32) -> crate::error::Result<i32> {
    // The uapi values (include/uapi/linux/wait.h), which bindgen does not see.
    const WNOHANG: i32 = 0x1;
    const WALL: i32 = 0x4000_0000;
    if pid <= 0 {
        return Err(EINVAL);
    }
    // SAFETY: no status or usage is asked for.
    let ret = unsafe {
        bindings::kernel_wait4(
            pid,
            core::ptr::null_mut(),
            WALL | WNOHANG,
            core::ptr::null_mut(),
        )
    };
    crate::error::to_result(ret.min(0) as i32)?;
    Ok(ret as i32)
}

/// The release (`uname -r`) and machine (`uname -m`) of this kernel, NUL-terminated: every
/// uts namespace copies them from the initial one, and nothing writes them after boot.
pub fn uts_release_machine() -> ([u8; 65], [u8; 65]) {
    let (mut release, mut machine) = ([0u8; 65], [0u8; 65]);
    // SAFETY: `init_uts_ns` is static; `release` and `machine` are set at boot and never
    // written again (sethostname() and setdomainname() write the others).
    let uts = unsafe { &*core::ptr::addr_of!(bindings::init_uts_ns.name) };
    for (dst, src) in [(&mut release, &uts.release), (&mut machine, &uts.machine)] {
        for (d, &c) in dst.iter_mut().zip(src.iter()) {
            *d = c;
        }
        dst[64] = 0;
    }
    (release, machine)
}
