//! Each thread's timer slack (PR_SET_TIMERSLACK) and I/O priority (ioprio_set) come back, and
//! so does the slack PR_SET_TIMERSLACK(0) goes back to, not the restarter's, which sets other
//! values for itself before it restarts the process.

use std::sync::mpsc;

use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_BE: libc::c_int = 2;
const IOPRIO_CLASS_IDLE: libc::c_int = 3;

fn ioprio(class: libc::c_int, level: libc::c_int) -> libc::c_int {
    class << 13 | level
}

fn set_ioprio(value: libc::c_int) -> Check {
    // SAFETY: acts on the calling thread (who 0).
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    check_os(r, format_args!("ioprio_set({value:#x})"))
}

fn get_ioprio() -> i64 {
    // SAFETY: reads the calling thread's priority.
    unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) }
}

fn set_slack(ns: u64) -> Check {
    // SAFETY: a setting of the calling thread.
    check_os(
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong) },
        format_args!("PR_SET_TIMERSLACK {ns}"),
    )
}

fn slack() -> u64 {
    // SAFETY: reads a setting of the calling thread.
    unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) as u64 }
}

/// This thread has `slack` and I/O priority `prio`, and PR_SET_TIMERSLACK(0) gives it
/// `default`.
fn verify(who: &str, want_slack: u64, prio: libc::c_int, default: u64) -> Check {
    check_eq(format_args!("{who}: timer slack"), slack(), want_slack)?;
    check_eq(
        format_args!("{who}: I/O priority"),
        get_ioprio(),
        prio.into(),
    )?;
    set_slack(0)?;
    check_eq(format_args!("{who}: default timer slack"), slack(), default)
}

fn main() {
    // The target's default: the slack of its parent, the test, when it forks it.
    let default = slack();
    let mut target = Target::spawn(move || {
        let main_prio = ioprio(IOPRIO_CLASS_BE, 3);
        let thread_prio = ioprio(IOPRIO_CLASS_IDLE, 0);
        set_slack(123_456)?;
        set_ioprio(main_prio)?;
        let (go, wait) = mpsc::channel::<()>();
        let (ready, is_ready) = mpsc::channel::<Check>();
        let thread = std::thread::spawn(move || {
            let setup = set_slack(777_000).and_then(|()| set_ioprio(thread_prio));
            let ok = setup.is_ok();
            let _ = ready.send(setup);
            if !ok || wait.recv().is_err() {
                return Err("the thread was not woken after the restart".to_string());
            }
            verify("thread", 777_000, thread_prio, 123_456)
        });
        is_ready
            .recv()
            .map_err(|_| "the thread ended before its setup".to_string())??;
        Ok(move || {
            wait_restored();
            verify("main thread", 123_456, main_prio, default)?;
            let _ = go.send(());
            thread
                .join()
                .map_err(|_| "the thread panicked".to_string())?
        })
    });
    target.checkpoint(KILL);
    // What the restored tasks would inherit from the restarter.
    set_slack(999_000).unwrap_or_else(|e| target.fail(e));
    set_ioprio(ioprio(IOPRIO_CLASS_BE, 7)).unwrap_or_else(|e| target.fail(e));
    target.restart();
    target.finish();
    pass("each thread's timer slack, its default and its I/O priority come back, not the restarter's");
}
