//! Audit sessions (/proc/PID/sessionid): the restored processes that shared one share one
//! again, and those that did not, do not.
//!
//! ```text
//! root  login uid 4242: session S1 (a new one, the test has no login uid)
//! ├── a  S1
//! ├── z  zombie, S1
//! └── b  login uid 4243: session S2
//!     └── b1  S2
//! ```
//!
//! Then the test takes login uid 777, and a root inheriting it (the test's session) has a
//! child that opened a second session of 777 (as root may). After a restart by the test the
//! root is in the restarter's session and the child in another one of login uid 777, which
//! a restarter without CAP_AUDIT_CONTROL may not open: EPERM, with a log line.
//!
//! Before sessions were restored, every restored process with a login uid other than the
//! restarter's got one of its own, and all those with the restarter's were in its session.

use cr_tests::caps::expect_restart_needs;
use cr_tests::tree::{exit_with, ids, wake_and_reap, zombie, Kid, Ready};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// `CAP_AUDIT_CONTROL`.
const CAP_AUDIT_CONTROL: u32 = 30;

fn read(pid: libc::pid_t, what: &str) -> Result<String, String> {
    let path = match pid {
        0 => format!("/proc/self/{what}"),
        _ => format!("/proc/{pid}/{what}"),
    };
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

fn session(pid: libc::pid_t) -> Result<String, String> {
    read(pid, "sessionid")
}

fn set_loginuid(uid: &str) -> Check {
    std::fs::write("/proc/self/loginuid", uid).map_err(|e| format!("loginuid {uid}: {e}"))
}

/// `pid` shares the caller's session.
fn shares(what: &str, pid: libc::pid_t) -> Check {
    check_eq(
        format!("{what}'s session, as mine"),
        session(pid)?,
        session(0)?,
    )
}

/// `pid` is in a session other than the caller's.
fn apart(what: &str, pid: libc::pid_t) -> Check {
    match session(pid)? == session(0)? {
        true => Err(format!(
            "{what} shares my audit session {}",
            session(0)?.trim()
        )),
        false => Ok(()),
    }
}

/// b: a session of its own with b1 in it, apart from its parent's.
fn b(ready: cr_tests::tree::Forker) -> Result<impl FnOnce() -> Check, String> {
    set_loginuid("4243")?;
    let b1 = ready.fork(45, |_| Ok(|| Ok(())))?;
    let check = move || {
        shares("b1", b1.pid)?;
        apart("b's parent", ids().0)
    };
    check()?;
    Ok(move || {
        check()?;
        wake_and_reap(&[b1])
    })
}

fn first() -> Result<impl FnOnce() -> Check, String> {
    set_loginuid("4242")?;
    let ready = Ready::new()?;
    let a = ready.fork(42, |_| Ok(|| Ok(())))?;
    let z = zombie(exit_with(7))?;
    let b = ready.fork(43, b)?;
    ready.wait(3)?;
    let check = move || {
        shares("a", a.pid)?;
        shares("the zombie", z)?;
        apart("b", b.pid)
    };
    check()?;
    Ok(move || {
        wait_restored();
        check()?;
        wake_and_reap(&[a, Kid { pid: z, code: 7 }, b])
    })
}

/// The root stays in its parent's session; c opens a second one of the same login uid.
fn second() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let c = ready.fork(44, |_| {
        set_loginuid("777")?;
        Ok(|| Ok(()))
    })?;
    ready.wait(1)?;
    let check = move || {
        shares("my parent", ids().0)?;
        apart("c", c.pid)?;
        check_eq("c's login uid", read(c.pid, "loginuid")?.as_str(), "777")
    };
    check()?;
    Ok(move || {
        wait_restored();
        check()?;
        wake_and_reap(&[c])
    })
}

fn main() {
    if read(0, "loginuid").as_deref() != Ok("4294967295") {
        cr_tests::fail("the test has a login uid already");
    }
    let mut t = Target::spawn(first);
    t.checkpoint(KILL);
    t.restart();
    t.finish();

    set_loginuid("777").unwrap_or_else(|e| cr_tests::fail(e));
    let mut t = Target::spawn(second);
    t.checkpoint(KILL);
    expect_restart_needs(&mut t, CAP_AUDIT_CONTROL, "audit session");
    t.restart();
    t.finish();
    pass("restored processes share audit sessions as they did, the first of the restarter's login uid its session; a second one needs CAP_AUDIT_CONTROL (EPERM without)");
}
