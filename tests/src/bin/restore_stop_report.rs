//! What job control tells a parent survives a restart: the signal that stopped a child, a stop
//! the parent has not collected with wait(WUNTRACED) yet, one it has, and a continuation it
//! has not collected with wait(WCONTINUED). A restored child stops again without notifying its
//! parent a second time.
//!
//! ```text
//! root   its own process group; SIGCHLD blocked, each notification taken as it comes
//! ├── a  two threads, stopped by SIGTSTP, not collected
//! ├── b  stopped by SIGTTIN, collected
//! └── c  stopped by SIGSTOP, collected, continued by SIGCONT, not collected
//! ```
//!
//! SIGCONT then ends the restored stops, with a SIGCHLD and a report each. Before the stop
//! state was restored, a and b came back stopped by SIGSTOP, each reported again with a new
//! SIGCHLD, and c's continuation was lost.

use std::time::{Duration, Instant};

use cr_tests::proc::{proc_state, signal_name, waitid};
use cr_tests::tree::{wake_and_reap, Kid, Ready};
use cr_tests::{check_eq, check_os, pass, threads, wait_restored, Check, Target, KILL};

/// A kid whose second thread sleeps until the process exits.
fn threaded() -> Result<impl FnOnce() -> Check, String> {
    threads::spawn(|| {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    })?;
    Ok(|| Ok(()))
}

/// Takes the SIGCHLD (blocked) that comes within `within`: (pid, code, status), or `None`.
fn take_sigchld(within: Duration) -> Result<Option<(libc::pid_t, i32, i32)>, String> {
    // SAFETY: plain sigset and siginfo values, valid for the calls.
    let (got, info) = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ts = libc::timespec {
            tv_sec: within.as_secs() as libc::time_t,
            tv_nsec: within.subsec_nanos().into(),
        };
        (libc::sigtimedwait(&set, &mut info, &ts), info)
    };
    if got == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
        return Ok(None);
    }
    check_os(got, "sigtimedwait(SIGCHLD)")?;
    // SAFETY: a SIGCHLD's siginfo carries the child's pid and status.
    Ok(Some(unsafe {
        (info.si_pid(), info.si_code, info.si_status())
    }))
}

/// Checks that `pid` sends a SIGCHLD with `code` and `status` within 10 s.
fn expect_sigchld(pid: libc::pid_t, code: i32, status: i32) -> Check {
    let got = take_sigchld(Duration::from_secs(10))?;
    check_eq(
        format!("SIGCHLD from {pid} (pid, code, status)"),
        got,
        Some((pid, code, status)),
    )
}

/// What waitid(P_PID, `pid`, `flags` | WNOHANG) reports: (si_code, si_status), or `None`.
fn report(pid: libc::pid_t, flags: i32) -> Result<Option<(i32, i32)>, String> {
    waitid(pid, flags | libc::WNOHANG)
}

/// Sends `sig` to `pid`.
fn kill(pid: libc::pid_t, sig: i32) -> Check {
    // SAFETY: kill takes integers.
    check_os(
        unsafe { libc::kill(pid, sig) },
        format!("kill({pid}, {})", signal_name(sig)),
    )
}

/// Waits up to 10 s until every thread of `pid` is stopped.
fn wait_stopped(pid: libc::pid_t) -> Check {
    let start = Instant::now();
    loop {
        let tids: Vec<libc::pid_t> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map_err(|e| format!("/proc/{pid}/task: {e}"))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        if tids
            .iter()
            .all(|&t| cr_tests::proc::task_state(pid, t) == Some('T'))
        {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "{pid} not stopped after 10 s: {:?}",
                proc_state(pid)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const STOPPED: i32 = libc::CLD_STOPPED;
const CONTINUED: i32 = libc::CLD_CONTINUED;

/// What the root sees of its children, checked before the checkpoint and after the restart.
fn check(a: libc::pid_t, b: libc::pid_t, c: libc::pid_t) -> Check {
    wait_stopped(a)?;
    wait_stopped(b)?;
    let wnowait = libc::WNOWAIT;
    check_eq(
        "a's stop report",
        report(a, libc::WSTOPPED | wnowait)?,
        Some((STOPPED, libc::SIGTSTP)),
    )?;
    check_eq(
        "b's stop report, collected",
        report(b, libc::WSTOPPED | wnowait)?,
        None,
    )?;
    check_eq(
        "c's stop report, collected",
        report(c, libc::WSTOPPED | wnowait)?,
        None,
    )?;
    check_eq(
        "c's continued report",
        report(c, libc::WCONTINUED | wnowait)?,
        Some((CONTINUED, libc::SIGCONT)),
    )?;
    // SAFETY: a sigset is plain data; sigpending fills it.
    let pending = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        libc::sigismember(&set, libc::SIGCHLD)
    };
    check_eq("SIGCHLD pending", pending, 0)
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // Its own process group, which the test's session keeps from being orphaned: SIGTSTP
    // and SIGTTIN do not stop processes of an orphaned group.
    // SAFETY: plain calls on the caller.
    unsafe {
        check_os(libc::setpgid(0, 0), "setpgid")?;
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        check_os(
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            "sigprocmask",
        )?;
    }
    let ready = Ready::new()?;
    let a = ready.fork(41, |_| threaded())?;
    let b = ready.fork(42, |_| Ok(|| Ok(())))?;
    let c = ready.fork(43, |_| Ok(|| Ok(())))?;
    ready.wait(3)?;
    kill(a.pid, libc::SIGTSTP)?;
    expect_sigchld(a.pid, STOPPED, libc::SIGTSTP)?;
    kill(b.pid, libc::SIGTTIN)?;
    expect_sigchld(b.pid, STOPPED, libc::SIGTTIN)?;
    check_eq(
        "b's stop report",
        report(b.pid, libc::WSTOPPED)?,
        Some((STOPPED, libc::SIGTTIN)),
    )?;
    kill(c.pid, libc::SIGSTOP)?;
    expect_sigchld(c.pid, STOPPED, libc::SIGSTOP)?;
    check_eq(
        "c's stop report",
        report(c.pid, libc::WSTOPPED)?,
        Some((STOPPED, libc::SIGSTOP)),
    )?;
    kill(c.pid, libc::SIGCONT)?;
    expect_sigchld(c.pid, CONTINUED, libc::SIGCONT)?;
    check(a.pid, b.pid, c.pid)?;
    Ok(move || {
        wait_restored();
        check(a.pid, b.pid, c.pid)?;
        // A second notification would come as a restored child stops again.
        check_eq(
            "a SIGCHLD after the restart",
            take_sigchld(Duration::from_millis(300))?,
            None,
        )?;
        // The restored stops end as stops do, and say so.
        for k in [a, b] {
            kill(k.pid, libc::SIGCONT)?;
            expect_sigchld(k.pid, CONTINUED, libc::SIGCONT)?;
            check_eq(
                "the continued report after SIGCONT",
                report(k.pid, libc::WCONTINUED)?,
                Some((CONTINUED, libc::SIGCONT)),
            )?;
        }
        wake_and_reap(&[a, b, c] as &[Kid])
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("stop signals, collected and pending stop reports and a pending continued report come back; a restored stop does not notify the parent again");
}
