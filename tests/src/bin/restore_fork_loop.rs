//! A shell-like process that forks and reaps short-lived children in a tight loop has one
//! child exiting, or dead and not reaped yet, at almost any moment, and forks new ones while
//! the freeze reaches it. Checkpointed many times in a row, live and with CKPT_KILL and an
//! immediate restart, every checkpoint and every restart succeeds: a child that exits while
//! it is being frozen is saved as the zombie it becomes (or not at all once reaped), and
//! CKPT_KILL returns once the killed children are reaped, so that their pids, and the
//! process's own as their group id, are free for the restart. The restored loop carries on:
//! every child it reaps, restored zombies included, exited with the status it gave it, and
//! none is left over.
//!
//! `cargo xtask qemu-test --full` runs 50 of each; CI 20.

use std::sync::atomic::{AtomicU64, Ordering};

use cr_tests::target::{unblock_restore_signal, was_woken};
use cr_tests::{os_error, pass, Check, Target, NO_KILL};

/// Children forked and reaped so far, visible to the check after a restart.
static REAPED: AtomicU64 = AtomicU64::new(0);
const STATUS: i32 = 7;

/// Forks a child that exits with `STATUS` at once and reaps it.
fn fork_and_reap() -> Check {
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("fork"));
    }
    if pid == 0 {
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(STATUS) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is valid for the write.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return Err(os_error(format!("waitpid({pid}) gave {r}")));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != STATUS {
        return Err(format!(
            "child {pid}: wait status {status:#x}, expected exit {STATUS}"
        ));
    }
    REAPED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    fork_and_reap()?;
    Ok(|| {
        unblock_restore_signal()?;
        while !was_woken() {
            fork_and_reap()?;
        }
        // It carries on after the last restart, and nothing is left to reap.
        let before = REAPED.load(Ordering::Relaxed);
        for _ in 0..100 {
            fork_and_reap()?;
        }
        // SAFETY: a non-blocking wait for any child.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r != -1 {
            return Err(format!("waitpid(-1) gave {r}: a child left over"));
        }
        match REAPED.load(Ordering::Relaxed) - before {
            100 => Ok(()),
            n => Err(format!(
                "{n} children reaped after the restart, expected 100"
            )),
        }
    })
}

fn main() {
    let rounds = if cr_tests::full() { 50 } else { 20 };
    // Ready once it forked its first child: it never sleeps for long.
    let mut target = Target::spawn_until(setup, |_| true);
    for _ in 0..rounds {
        target.checkpoint(NO_KILL);
    }
    for _ in 0..rounds {
        target.cycle();
    }
    target.finish();
    pass(&format!(
        "a process forking and reaping children all the time is checkpointed {rounds} times live and {rounds} times killed and restarted; its loop carries on"
    ));
}
