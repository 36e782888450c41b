//! Processes that share the target's address space: children made with clone(CLONE_VM) (not
//! threads: they have their own pid and exit status), as vfork() and posix_spawn() make them.
//!
//! Such a child runs on a stack of its own but shares everything else with its parent,
//! including the thread-local storage of the parent's main thread: it must only use atomics
//! and raw system calls, never the allocator or anything that keeps state per thread.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::target::{os_error, READY_FD};

/// Bytes of stack for each child.
const STACK: usize = 64 * 1024;

/// What a child runs; its return value is its exit status.
pub type Body = extern "C" fn(*mut libc::c_void) -> libc::c_int;

/// Starts a child running `body(arg)` with clone `flags` (`CLONE_VM` and more) and SIGCHLD as
/// its exit signal; returns its pid. The stack is never freed: the child may outlive us.
pub fn clone_vm(flags: libc::c_int, body: Body, arg: usize) -> Result<libc::pid_t, String> {
    // SAFETY: a fresh anonymous mapping, which nothing else uses.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(os_error("mmap a stack"));
    }
    // SAFETY: the stack grows down from its top; `body` only uses what this module allows.
    let pid = unsafe {
        libc::clone(
            body,
            stack.cast::<u8>().add(STACK).cast(),
            flags | libc::SIGCHLD,
            arg as *mut libc::c_void,
        )
    };
    if pid < 0 {
        return Err(os_error(format!("clone({flags:#x})")));
    }
    Ok(pid)
}

/// In a child: closes its copy of the target's ready pipe (pipes cannot be checkpointed, and
/// the test waits for every copy to close).
pub fn close_ready_fd() {
    // SAFETY: a raw close of our own copy of the fd.
    unsafe { libc::syscall(libc::SYS_close, READY_FD) };
}

/// Sleeps in a private futex wait while `word` holds `value`: a wait that only a task of the
/// same address space can end with a wake.
pub fn wait_while(word: &AtomicU32, value: u32) {
    while word.load(Ordering::Acquire) == value {
        // SAFETY: `word` is a valid futex word; no timeout.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                value,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }
}

/// Sets `word` to `value` and wakes every private futex waiter on it in our address space.
pub fn set_and_wake(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    // SAFETY: `word` is a valid futex word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
}

/// Sets the disposition of `sig` to SIG_IGN with a raw rt_sigaction: usable in a child.
pub fn ignore_raw(sig: libc::c_int) -> libc::c_long {
    // handler, flags, restorer, mask: the kernel's struct sigaction on x86_64.
    let act: [u64; 4] = [libc::SIG_IGN as u64, 0, 0, 0];
    // SAFETY: `act` is a valid kernel sigaction; the old one is not asked for.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), 0usize, 8usize) }
}

/// Waits up to 10 s for our child `pid` to exit; its wait status, or why not.
pub fn reap_within_10s(pid: libc::pid_t) -> Result<libc::c_int, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child without blocking.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            0 => {
                // SAFETY: kills and reaps our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return Err(format!("child {pid} did not exit within 10 s"));
            }
            -1 => return Err(os_error(format!("waitpid {pid}"))),
            _ => return Ok(status),
        }
    }
}
