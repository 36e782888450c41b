//! A session and process groups whose leaders died and were reaped come back with their ids:
//! restart reserves the dead leaders' pids for the members that outlived them.
//!
//! ```text
//! root (subreaper)
//! ├── L  setsid(), forks m and p, reaps p, exits; the root reaps it
//! │   ├── m   in group L, session L              -> reparented to the root
//! │   └── p   setpgid(0, 0), forks q, exits; L reaps it
//! │       └── q  in group p, session L           -> reparented to the root
//! ```
//!
//! After the restart m and q check their parent, group and session; the root checks that no
//! process L or p exists while the groups L and p and the session L do.

use cr_tests::tree::{ids, wake_and_reap, Forker, Kid, Ready};
use cr_tests::{check_eq, check_os, os_error, pass, wait_restored, Check, Target};

/// Forks a child that runs `f` and exits 0; returns its pid.
fn fork_then_exit(f: impl FnOnce() -> Check) -> Result<libc::pid_t, String> {
    // SAFETY: the child runs `f` and ends in `_exit`.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            let code = match f() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("pid {}: {e}", std::process::id());
                    1
                }
            };
            // SAFETY: ends the child.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// Waits for the child `pid` and checks it exited 0.
fn reap(pid: libc::pid_t) -> Check {
    let status = cr::sys::waitpid(pid).map_err(|e| format!("wait for {pid}: {e}"))?;
    check_eq(format!("exit status of {pid}"), status, 0)
}

/// A member that, after the restart, is the root's child in group `pgid` of session `sid`.
fn member(
    f: Forker,
    code: i32,
    root: libc::pid_t,
    pgid: libc::pid_t,
    sid: libc::pid_t,
) -> Result<Kid, String> {
    f.fork(code, move |_| {
        Ok(move || check_eq("(parent, group, session)", ids(), (root, pgid, sid)))
    })
}

/// Whether `kill(pid, 0)` finds something (a process, or with a negative pid a group).
fn exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: a flag of the caller's own process.
    check_os(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) },
        "PR_SET_CHILD_SUBREAPER",
    )?;
    let root = std::process::id() as libc::pid_t;
    let ready = Ready::new()?;
    let f = ready.forker();
    let l = fork_then_exit(move || {
        // SAFETY: L leaves the root's session.
        check_os(unsafe { libc::setsid() }, "setsid")?;
        let l = std::process::id() as libc::pid_t;
        member(f, 41, root, l, l)?;
        let p = fork_then_exit(move || {
            // SAFETY: p's own group.
            check_os(unsafe { libc::setpgid(0, 0) }, "setpgid")?;
            let p = std::process::id() as libc::pid_t;
            member(f, 42, root, p, l).map(drop)
        })?;
        reap(p)
    })?;
    reap(l)?;
    ready.wait(2)?;
    // SAFETY (getpgid here and below): reads another process's group id.
    let kids: Vec<Kid> = cr_tests::proc::children_of(root)
        .into_iter()
        .map(|pid| Kid {
            pid,
            code: if unsafe { libc::getpgid(pid) } == l {
                41
            } else {
                42
            },
        })
        .collect();
    if kids.len() != 2 {
        return Err(format!("the root should have 2 children, has {kids:?}"));
    }
    let p = kids
        .iter()
        .map(|k| unsafe { libc::getpgid(k.pid) })
        .find(|&g| g != l)
        .unwrap_or(0);
    Ok(move || {
        wait_restored();
        if exists(l) || exists(p) {
            return Err(format!("a process {l} or {p} exists after the restart"));
        }
        if !exists(-l) || !exists(-p) {
            return Err(format!(
                "process group {l} or {p} is gone after the restart"
            ));
        }
        wake_and_reap(&kids)
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(2);
    target.cycle_tree(&kids);
    target.finish();
    pass("a session and a process group whose leaders were reaped came back with their ids");
}
