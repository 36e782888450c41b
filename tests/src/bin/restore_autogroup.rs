//! Session autogroups (SCHED_AUTOGROUP): the processes of a session share the autogroup its
//! leader's setsid() made, and /proc/PID/autogroup names it. After a restart, the processes of
//! a restored session share an autogroup again, a new one and not the restarter's, while the
//! root, which stayed in the caller's session, is in the caller's autogroup.
//!
//! ```text
//! root   in the test's session and autogroup
//! └── s  setsid(): its own session and autogroup
//!     └── k  forked after, in both
//! ```
//!
//! An autogroup given a nice value of its own (written to /proc/PID/autogroup) is refused by
//! name, and its process runs on with it.

use cr_tests::tree::{ids, wake_and_reap, Forker, Ready};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Refusal, Target, KILL};

/// The nice value the refused session gives its autogroup.
const NICE: i32 = 5;

/// The autogroup line of `pid` ("/autogroup-N nice M"), 0 for the caller.
fn autogroup(pid: libc::pid_t) -> Result<String, String> {
    let path = match pid {
        0 => "/proc/self/autogroup".to_string(),
        _ => format!("/proc/{pid}/autogroup"),
    };
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end().to_string())
        .map_err(|e| format!("{path}: {e}"))
}

/// s and k share an autogroup, which is not s's parent's (the root's).
fn shared(k: libc::pid_t) -> Check {
    let (mine, root) = (autogroup(0)?, autogroup(ids().0)?);
    check_eq("k's autogroup, as s's", autogroup(k)?, mine.clone())?;
    if mine == root {
        return Err(format!(
            "s is in its parent's autogroup {root:?}, not one of its session's"
        ));
    }
    Ok(())
}

/// s: a session of its own, with k forked into it.
fn session(ready: Forker) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: makes the caller a session leader; it is not a group leader yet.
    check_os(unsafe { libc::setsid() }, "setsid")?;
    let k = ready.fork(44, |_| Ok(|| Ok(())))?;
    shared(k.pid)?;
    Ok(move || {
        shared(k.pid)?;
        wake_and_reap(&[k])
    })
}

/// The root is in its parent's autogroup: the test's before, the restarter's after.
fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let s = ready.fork(42, session)?;
    ready.wait(2)?;
    check_eq(
        "the root's autogroup, as the test's",
        autogroup(0)?,
        autogroup(ids().0)?,
    )?;
    Ok(move || {
        wait_restored();
        check_eq(
            "the root's autogroup, as the restarter's",
            autogroup(0)?,
            autogroup(ids().0)?,
        )?;
        wake_and_reap(&[s])
    })
}

/// The target leads a session of its own, whose autogroup it gives a nice value.
fn niced() -> Check {
    // SAFETY: makes the target a session leader; it is not a group leader (it is in the
    // test's group).
    check_os(unsafe { libc::setsid() }, "setsid")?;
    std::fs::write("/proc/self/autogroup", NICE.to_string())
        .map_err(|e| format!("/proc/self/autogroup: {e}"))
}

/// It still has the nice value.
fn still_niced() -> Check {
    let line = autogroup(0)?;
    match line.ends_with(&format!(" nice {NICE}")) {
        true => Ok(()),
        false => Err(format!("the autogroup lost its nice value: {line:?}")),
    }
}

static NICED: Refusal = Refusal {
    setup: niced,
    named: "autogroup nice",
    works: still_niced,
};

fn main() {
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    NICED.refused().finish();
    pass("a restored session's processes share a new autogroup, the root stays in the restarter's; an autogroup nice value is refused by name and kept");
}
