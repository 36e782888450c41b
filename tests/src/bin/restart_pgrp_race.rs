//! Another thread of the restarting process moves it from one process group of its session to
//! another while restart(2) rebuilds a process whose group and session were the test's, outside
//! the tree, which restart puts in the caller's. The group it leaves has nobody else in it but
//! the task being restored, so leaving it may free it once that task moves on: restart must not
//! hold the caller's group from before (issue "Hostile images and racing callers", item 3).
//!
//! Each round makes such a group, joins it and restarts while the thread moves the process to a
//! group of its own and back, as fast as it can. The restored process must be in the caller's
//! session and in one of those two groups, and pass its own checks of its memory; the kernel
//! must report nothing (the harness reads the console).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cr_tests::mem::anon;
use cr_tests::target::kill_and_reap;
use cr_tests::{fail, os_error, pass, wait_restored, Target, KILL};

/// Enough memory that restart takes a while to read it back.
const MEMORY: usize = 16 << 20;
/// Restarts that race before the last one, whose process is woken to check itself.
const ROUNDS: u32 = 4;

/// A new process group of our session with nobody in it but us: a child leads it, we join it,
/// the child exits and is reaped. Returns its id.
fn lonely_group() -> libc::pid_t {
    // SAFETY: the child only calls async-signal-safe functions, then _exit.
    let child = match unsafe { libc::fork() } {
        -1 => fail(os_error("fork")),
        0 => unsafe {
            // SAFETY: we are the new child; these take integers.
            libc::setpgid(0, 0);
            libc::pause();
            libc::_exit(0)
        },
        pid => pid,
    };
    // Both sides, so that the group exists whichever runs first.
    // SAFETY: setpgid and kill take integers; `child` is ours.
    unsafe {
        libc::setpgid(child, child);
        if libc::setpgid(0, child) != 0 {
            fail(os_error("setpgid(0, the child's group)"));
        }
        libc::kill(child, libc::SIGKILL);
    }
    if let Err(e) = cr::sys::waitpid(child) {
        fail(format!("waitpid: {e}"));
    }
    child
}

/// Runs `restart` while another thread moves us between `group` and a group of our own.
/// Returns what it gave and how many times the thread moved us.
fn racing<T>(group: libc::pid_t, restart: impl FnOnce() -> T) -> (T, u32) {
    let done = Arc::new(AtomicBool::new(false));
    let moves = Arc::new(AtomicU32::new(0));
    let mover = {
        let (done, moves) = (done.clone(), moves.clone());
        std::thread::spawn(move || {
            let mut to = 0;
            while !done.load(Ordering::Acquire) {
                // setpgid(0, 0) leaves `group` for one of our own; setpgid(0, group) joins it
                // again while the task being restored still keeps it alive.
                // SAFETY: setpgid takes integers and acts on our own process.
                if unsafe { libc::setpgid(0, to) } == 0 {
                    moves.fetch_add(1, Ordering::Relaxed);
                }
                to = if to == 0 { group } else { 0 };
                std::thread::yield_now();
            }
        })
    };
    let result = restart();
    done.store(true, Ordering::Release);
    let _ = mover.join();
    (result, moves.load(Ordering::Relaxed))
}

fn main() {
    // SAFETY: getsid and getpid take no pointers.
    if unsafe { libc::getsid(0) == libc::getpid() } {
        // A session leader cannot change its group: run the test in a child, which is not one.
        // SAFETY: we are single-threaded; the child goes on with the test.
        match unsafe { libc::fork() } {
            -1 => fail(os_error("fork")),
            0 => {}
            child => match cr::sys::waitpid(child) {
                Ok(s) if libc::WIFEXITED(s) => std::process::exit(libc::WEXITSTATUS(s)),
                Ok(_) | Err(_) => fail("the test's child did not exit"),
            },
        }
    }
    let mut target = Target::spawn(|| {
        let memory = anon(MEMORY)?;
        memory.fill(3);
        Ok(move || {
            wait_restored();
            memory.check(3, "the memory after the restart")
        })
    });
    let pid = target.pid();
    target.checkpoint(KILL);
    // SAFETY: getsid takes an integer.
    let session = unsafe { libc::getsid(0) };
    let mut moved = 0;
    for round in 0..=ROUNDS {
        let group = lonely_group();
        let (result, moves) = racing(group, || target.try_restart(0));
        moved += moves;
        let restored = match result {
            Ok(p) if p == pid => p,
            Ok(p) => {
                kill_and_reap(p);
                target.fail(format!(
                    "round {round}: restart returned pid {p}, expected {pid}"
                ));
            }
            Err(e) => target.fail(format!("round {round}: restart failed: {e}")),
        };
        // SAFETY: getpgid and getsid take integers; `restored` is our child.
        let (pgid, sid, mine) = unsafe {
            (
                libc::getpgid(restored),
                libc::getsid(restored),
                libc::getpid(),
            )
        };
        if sid != session || (pgid != group && pgid != mine) {
            kill_and_reap(restored);
            target.fail(format!(
                "round {round}: the restored process is in group {pgid} of session {sid}; \
                 expected group {group} or {mine} (the restarter's) of session {session}"
            ));
        }
        if round < ROUNDS {
            kill_and_reap(restored);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    if moved == 0 {
        target.fail("the racing thread never moved the restarter to another group");
    }
    target.finish();
    pass(&format!(
        "{} restarts with the restarter moved between groups {moved} times: each process in its session, in one of its groups",
        ROUNDS + 1
    ));
}
