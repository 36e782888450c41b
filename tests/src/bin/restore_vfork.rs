//! A parent asleep in vfork (clone with CLONE_VM | CLONE_VFORK, as posix_spawn() makes its
//! child) is checkpointed where it sleeps, and after the restart it sleeps again until its
//! child exits, then gets the child's pid from the call.
//!
//! The child, sharing the parent's memory, waits for SIGUSR2 in rt_sigtimedwait across the
//! checkpoint. Only after the restart does the test send it SIGUSR2: the child sets a mark in
//! the shared memory and exits with 42. The parent must not have returned before that: it
//! finds the mark set, the call's result equal to the child's pid, and exit status 42. The
//! tree is checkpointed and restarted twice, so that a restored vfork parent is checkpointed
//! too.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use cr_tests::proc::{children_of, proc_state};
use cr_tests::vm::clone_vm;
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target};

/// Set by the child once it got SIGUSR2.
static MARK: AtomicU32 = AtomicU32::new(0);
/// The child's pid, as it sees it.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// The vfork child: waits for SIGUSR2 (blocked), marks, exits 42.
extern "C" fn child(_: *mut libc::c_void) -> libc::c_int {
    // SAFETY: raw system calls only (see cr_tests::vm).
    unsafe {
        CHILD.store(libc::syscall(libc::SYS_getpid) as i32, Ordering::Release);
        let set: u64 = 1 << (libc::SIGUSR2 - 1);
        loop {
            let sig = libc::syscall(libc::SYS_rt_sigtimedwait, &set, 0usize, 0usize, 8usize);
            if sig == libc::SIGUSR2 as libc::c_long {
                break;
            }
            // Interrupted (EINTR, by the freezer too): wait again.
            if sig != -1 {
                return 12;
            }
        }
    }
    MARK.store(1, Ordering::Release);
    42
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let set = cr_tests::proc::sigset_of(&[libc::SIGUSR2]);
    // SAFETY: blocks SIGUSR2 in the target; the child inherits the mask.
    check_os(
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) },
        "block SIGUSR2",
    )?;
    // After "ready": the parent sleeps in the clone until its child exits.
    Ok(|| {
        let pid = clone_vm(libc::CLONE_VM | libc::CLONE_VFORK, child, 0)?;
        check_eq(
            "mark set by the child before the parent returned",
            MARK.load(Ordering::Acquire),
            1,
        )?;
        check_eq(
            "clone's result: the child's pid",
            pid,
            CHILD.load(Ordering::Acquire),
        )?;
        let status = cr::sys::waitpid(pid).map_err(|e| format!("waitpid {pid}: {e}"))?;
        check_eq(
            "the child's exit status",
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 42,
            true,
        )?;
        wait_restored();
        Ok(())
    })
}

/// The target's only child, once the target sleeps in vfork (`D`) and the child waits (`S`).
fn vfork_child(target: libc::pid_t) -> Option<libc::pid_t> {
    match children_of(target)[..] {
        [c] if proc_state(target) == Some('D') && proc_state(c) == Some('S') => Some(c),
        _ => None,
    }
}

fn main() {
    let mut target = Target::spawn_until(setup, |pid| vfork_child(pid).is_some());
    let child = vfork_child(target.pid()).unwrap_or_default();
    for round in 1..=2 {
        target.cycle();
        target.wait_until("for the restored vfork parent and child", || {
            vfork_child(target.pid()) == Some(child)
        });
        std::thread::sleep(Duration::from_millis(200));
        if vfork_child(target.pid()) != Some(child) {
            target.fail(format!(
                "round {round}: the restored parent did not keep waiting for its vfork child"
            ));
        }
    }
    // SAFETY: kill takes integers.
    if unsafe { libc::kill(child, libc::SIGUSR2) } != 0 {
        target.fail(format!(
            "kill({child}, SIGUSR2): {}",
            std::io::Error::last_os_error()
        ));
    }
    target.finish();
    pass("a vfork parent sleeps until its child exits after a restart, and gets its pid");
}
