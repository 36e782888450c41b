//! The audit login uid (/proc/PID/loginuid) comes back with each task: one a target set for
//! itself, and none (unset) for a target that never had one, restarted by a restarter that has
//! one. A thread of the target, created before the checkpoint, has its login uid and shares its
//! session id after the restart: the process got one new session, not one per thread. Setting
//! another task's login uid over one of the restarter's own needs CAP_AUDIT_CONTROL, as writing
//! /proc/self/loginuid does: without it the restart fails with EPERM and a log line naming the
//! login uid, and leaves nothing behind.

use cr_tests::caps::expect_restart_needs;
use cr_tests::{check_eq, pass, threads, wait_restored, Check, Target, KILL};

/// `CAP_AUDIT_CONTROL`.
const CAP_AUDIT_CONTROL: u32 = 30;
/// The target's login uid, and the restarter's.
const TARGET: &str = "4242";
const RESTARTER: &str = "777";
/// What /proc/PID/loginuid shows for none.
const UNSET: &str = "4294967295";

fn loginuid() -> Result<String, String> {
    read("/proc/self/loginuid")
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// A thread of the target that sleeps for good; its tid.
fn sleeper() -> Result<libc::pid_t, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    threads::spawn(move || {
        let _ = tx.send(threads::gettid());
        loop {
            std::thread::park();
        }
    })?;
    rx.recv()
        .map_err(|_| "the thread did not start".to_string())
}

/// The thread `tid` has the process's login uid and session id.
fn same_as_thread(tid: libc::pid_t) -> Check {
    for what in ["loginuid", "sessionid"] {
        check_eq(
            format!("the thread's {what}, as the process's"),
            read(&format!("/proc/self/task/{tid}/{what}"))?,
            read(&format!("/proc/self/{what}"))?,
        )?;
    }
    Ok(())
}

fn set_loginuid(uid: &str) -> Check {
    std::fs::write("/proc/self/loginuid", uid).map_err(|e| format!("loginuid {uid}: {e}"))
}

/// A target whose login uid is `uid` (`None`: unset, over the one it inherits from the
/// test), which it checks after the restart.
fn target(uid: Option<&'static str>) -> Target {
    let want = uid.unwrap_or(UNSET);
    Target::spawn(move || {
        set_loginuid(want)?;
        check_eq("the target's login uid", loginuid()?.as_str(), want)?;
        let tid = sleeper()?;
        Ok(move || {
            wait_restored();
            check_eq(
                "the login uid after the restart",
                loginuid()?.as_str(),
                want,
            )?;
            same_as_thread(tid)
        })
    })
}

fn main() {
    // The test has no login uid yet, so restoring one needs no privilege.
    if loginuid().as_deref() != Ok(UNSET) {
        cr_tests::fail(format!(
            "the test has a login uid already: {:?}",
            loginuid()
        ));
    }
    let mut own = target(Some(TARGET));
    own.cycle();
    own.finish();

    // With a login uid of its own, the restarter needs CAP_AUDIT_CONTROL to give the target
    // another one, or none.
    set_loginuid(RESTARTER).unwrap_or_else(|e| cr_tests::fail(e));
    for uid in [Some(TARGET), None] {
        let mut t = target(uid);
        t.checkpoint(KILL);
        expect_restart_needs(&mut t, CAP_AUDIT_CONTROL, "audit login uid");
        t.restart();
        t.finish();
    }
    pass("login uids come back, set or unset; over the restarter's own only with CAP_AUDIT_CONTROL (EPERM without)");
}
