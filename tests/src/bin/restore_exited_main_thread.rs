//! A process whose main thread exited (the bare exit system call, as pthread_exit() in main
//! does) while its other threads run comes back that way: the main thread a zombie again with
//! its pid, the two threads with their tids, one asleep in sigsuspend(), one on a condition
//! variable. After SIGUSR1 the first checks its tid and that the main thread is still a zombie,
//! wakes the second, joins it (through its clear_child_tid), and ends the process with
//! exit_group(0).

use std::sync::Arc;
use std::time::Duration;

use cr_tests::proc::task_state;
use cr_tests::threads::{self, gettid, tids_of, Gate};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// The main thread is a zombie and both other threads sleep.
fn settled(pid: libc::pid_t) -> bool {
    let tids = tids_of(pid);
    tids.len() == 3
        && tids
            .iter()
            .all(|&t| task_state(pid, t) == Some(if t == pid { 'Z' } else { 'S' }))
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let pid = std::process::id() as libc::pid_t;
    let gate = Arc::new(Gate::default());
    let waiter = {
        let gate = gate.clone();
        threads::spawn(move || {
            let tid = gettid();
            gate.wait();
            check_eq("the waiting thread's tid", gettid(), tid)
        })?
    };
    threads::spawn(move || {
        let tid = gettid();
        wait_restored();
        let result = (|| {
            check_eq("the woken thread's tid", gettid(), tid)?;
            check_eq("the main thread's state", task_state(pid, pid), Some('Z'))?;
            gate.open();
            waiter.join(Duration::from_secs(10))
        })();
        let code = match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("FAIL: {e}");
                cr_tests::target::EXIT_CHECK
            }
        };
        // SAFETY: ends the whole process with the verdict.
        unsafe { libc::_exit(code) }
    })?;
    Ok(|| {
        // SAFETY: only the main thread exits; the others run on.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        Err("the main thread did not exit".into())
    })
}

fn main() {
    let mut target = Target::spawn_until(setup, settled);
    let tids = tids_of(target.pid());
    target.checkpoint(KILL);
    target.restart();
    let pid = target.pid();
    target.wait_until(
        "for the main thread to exit again and the threads to sleep",
        || settled(pid),
    );
    let again = tids_of(pid);
    if again != tids {
        target.fail(format!(
            "threads {again:?} after the restart, {tids:?} before"
        ));
    }
    target.finish();
    pass("a process whose main thread exited comes back with it a zombie and its threads running");
}
