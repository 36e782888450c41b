//! A session whose controlling terminal is a pty of the tree comes back with it, and with its
//! foreground process group, as a shell with a job in the foreground would have it. The
//! target P (the root of the tree, in the test's session) forks L, which:
//!
//! - makes a session of its own (setsid());
//! - opens a pty: its master M (fd 40), `/dev/ptmx` opened `O_RDWR | O_NOCTTY`, unlocked, and
//!   its slave S (fd 41), `/dev/pts/N` opened `O_RDWR` without `O_NOCTTY`, which makes it L's
//!   controlling terminal: tty_nr in /proc/self/stat is `st_rdev` of S, tcgetsid() of S is L,
//!   tcgetpgrp() of S is L's group;
//! - sets the slave's termios: ECHO (and ECHONL) off, so that nothing written to the master
//!   comes back unread, ICANON and ISIG on, VINTR ^C;
//! - forks J, which makes a process group of its own (setpgid(0, 0)), installs a SIGINT
//!   handler that counts the signal, keeps only fds 0-2 and S, and stops itself (SIGSTOP);
//!   once L saw it stopped, L puts it in its group too (setpgid(J, J): whichever comes first),
//!   makes J's group the terminal's foreground group (tcsetpgrp(S, J), from the foreground
//!   group, so without SIGTTOU) and continues J (SIGCONT). J, in the foreground, sleeps in a
//!   read() of S (canonical mode) until after the restart; L waits for SIGUSR1.
//!
//! No byte is written to either side before the checkpoint. The tree is checkpointed with
//! CKPT_KILL once J sleeps in its read and P and L wait; once it is gone, and `/dev/pts/N`
//! with it, it is restarted (with its pids) and checks itself. L:
//!
//! - getsid(0) and tcgetsid() of S are L's pid, tcgetpgrp() of S is J's;
//! - tty_nr in /proc/self/stat is `st_rdev` of S; /proc/J/stat has the same tty_nr, J's pid as
//!   tpgid and as process group, and L's as session;
//! - a read() of S by L, SIGTTIN ignored, gives EIO: L is in a background group;
//! - L writes "line\n" to M: J's read gives exactly that line; J checks its own tty_nr, that no
//!   SIGINT came yet, and answers "!" on S, which L reads from M;
//! - L writes one ^C (0x03) to M: J's group, the foreground group, gets SIGINT (ISIG), and J
//!   exits 0 once it saw the signal (within 5 s; non-zero otherwise). L reaps J and checks its
//!   status; P reaps L and checks its status.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cr_tests::proc::{wait_status_text, waitid};
use cr_tests::pty::{
    open_master_at, read_once, slave_path, tcgetattr, tcsetattr, try_read, unlock,
};
use cr_tests::target::fork_checker;
use cr_tests::tree::{kill_checker, reap, wake_and_reap, Kid, Ready};
use cr_tests::unix::check_bytes;
use cr_tests::{
    check_eq, check_os, fstat, open_at, pass, poll_in, wait_restored, write_all, Check, Target,
};

/// The pty: its master and its slave, L's controlling terminal.
const M: RawFd = 40;
const S: RawFd = 41;

/// VINTR as set: ^C.
const INTR: u8 = 0x03;
/// The line L writes to M after the restart, which J reads.
const LINE: &[u8] = b"line\n";
/// What J writes to S once it read the line, which L reads from M.
const ACK: &[u8] = b"!";
/// How long J waits for SIGINT once it answered.
const SIGINT_WAIT: Duration = Duration::from_secs(5);
/// How long L's read of S, from a background group, may take before it counts as blocked.
const BACKGROUND_READ_SECS: libc::c_uint = 3;

/// The SIGINTs J got.
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_alarm(_: libc::c_int) {}

/// Installs `handler` for `sig` without SA_RESTART.
fn handle(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) -> Check {
    // SAFETY: a zeroed sigaction is valid; the handlers only store to an atomic or do nothing.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        check_os(
            libc::sigaction(sig, &sa, std::ptr::null_mut()),
            format_args!("sigaction({sig})"),
        )
    }
}

/// The caller's pid.
fn getpid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// What /proc/`pid`/stat (0: the caller's) says of `pid`'s terminal: (pgrp, session, tty_nr,
/// tpgid), fields 5 to 8.
fn stat_tty(pid: libc::pid_t) -> Result<(i64, i64, u64, i64), String> {
    let path = match pid {
        0 => "/proc/self/stat".to_string(),
        _ => format!("/proc/{pid}/stat"),
    };
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or(format!("{path}: no (comm)"))?;
    // After the comm: state, ppid, pgrp, session, tty_nr, tpgid.
    let fields: Vec<&str> = after.split_whitespace().skip(2).take(4).collect();
    let parse = || -> Option<(i64, i64, u64, i64)> {
        match fields[..] {
            [pgrp, session, tty, tpgid] => Some((
                pgrp.parse().ok()?,
                session.parse().ok()?,
                tty.parse().ok()?,
                tpgid.parse().ok()?,
            )),
            _ => None,
        }
    };
    parse().ok_or(format!("{path}: cannot parse {after:?}"))
}

/// tty_nr in /proc/self/stat.
fn my_tty_nr() -> Result<u64, String> {
    stat_tty(0).map(|(_, _, tty, _)| tty)
}

/// `st_rdev` of S, as tty_nr shows a device.
fn rdev_of_s() -> Result<u64, String> {
    fstat(S).map(|st| st.st_rdev)
}

/// tcgetsid() of S.
fn session_of_s() -> Result<libc::pid_t, String> {
    // SAFETY: takes an fd.
    let sid = unsafe { libc::tcgetsid(S) };
    check_os(sid, "tcgetsid of S")?;
    Ok(sid)
}

/// tcgetpgrp() of S.
fn foreground_of_s() -> Result<libc::pid_t, String> {
    // SAFETY: takes an fd.
    let pgrp = unsafe { libc::tcgetpgrp(S) };
    check_os(pgrp, "tcgetpgrp of S")?;
    Ok(pgrp)
}

/// The slave's termios as the module doc says: ECHO and ECHONL off, ICANON and ISIG on,
/// VINTR ^C; checked to hold.
fn set_termios() -> Check {
    let mut t = tcgetattr(S)?;
    t.c_lflag = (t.c_lflag | libc::ICANON | libc::ISIG) & !(libc::ECHO | libc::ECHONL);
    t.c_cc[libc::VINTR] = INTR;
    tcsetattr(S, &t)?;
    let got = tcgetattr(S)?;
    let on = libc::ICANON | libc::ISIG;
    let off = libc::ECHO | libc::ECHONL;
    check_eq(
        "tcgetattr of S after tcsetattr: (ICANON | ISIG, ECHO | ECHONL, VINTR)",
        (got.c_lflag & on, got.c_lflag & off, got.c_cc[libc::VINTR]),
        (on, 0, INTR),
    )
}

/// In J, forked by L: its own group, the SIGINT handler, only fds 0-2 and S, stopped until L
/// made its group the foreground group; then (see the module doc) asleep in its read of S
/// until after the restart, the line, the answer and the SIGINT.
fn job(rdev: u64) -> Check {
    let me = getpid();
    // SAFETY: closes the fds J does not use (the ready pipe of the tree and M) and stops J;
    // setpgid takes integers.
    unsafe {
        check_os(
            libc::syscall(libc::SYS_close_range, 3, S - 1, 0),
            "close_range below S",
        )?;
        check_os(
            libc::syscall(libc::SYS_close_range, S + 1, u32::MAX, 0),
            "close_range above S",
        )?;
        check_os(libc::setpgid(0, 0), "setpgid(0, 0) in J")?;
    }
    handle(libc::SIGINT, on_sigint)?;
    // SAFETY: stops the caller until L continues it.
    check_os(unsafe { libc::raise(libc::SIGSTOP) }, "raise(SIGSTOP)")?;
    // Outside the foreground group the read would stop J (SIGTTIN) rather than sleep.
    check_eq("tcgetpgrp of S in J, continued", foreground_of_s()?, me)?;
    let line = read_once(S, 64, "S in J, asleep since before the checkpoint")?;
    check_bytes(
        format_args!("what J's read of S (fd {S}, canonical mode) gives"),
        &line,
        LINE,
    )?;
    check_eq("getpid() in J", getpid(), me)?;
    check_eq("tty_nr in J's /proc/self/stat", my_tty_nr()?, rdev)?;
    check_eq(
        "SIGINTs J got before L wrote ^C",
        INTERRUPTS.load(Ordering::SeqCst),
        0,
    )?;
    write_all(S, ACK)?;
    let deadline = Instant::now() + SIGINT_WAIT;
    while INTERRUPTS.load(Ordering::SeqCst) == 0 {
        if Instant::now() > deadline {
            return Err(format!(
                "no SIGINT within {} s of the answer (L writes ^C to M once it read it)",
                SIGINT_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// What L recorded before the checkpoint.
struct Leader {
    me: libc::pid_t,
    job: libc::pid_t,
    rdev: u64,
}

/// L's setup (see the module doc); returns its check after the restart.
fn leader() -> Result<impl FnOnce() -> Check, String> {
    let me = getpid();
    // SAFETY: L is no group leader (its group is P's): setsid makes it a session leader.
    check_os(unsafe { libc::setsid() }, "setsid in L")?;
    open_master_at(0, M)?;
    unlock(M)?;
    let n = cr_tests::pty::index(M)?;
    // Without O_NOCTTY: a session leader without a terminal takes it as its own.
    open_at(&slave_path(n), libc::O_RDWR, 0, S)?;
    let rdev = rdev_of_s()?;
    check_eq(
        "tty_nr in L's /proc/self/stat, once it opened the slave",
        my_tty_nr()?,
        rdev,
    )?;
    check_eq("tcgetsid of S", session_of_s()?, me)?;
    check_eq("tcgetpgrp of S, before J", foreground_of_s()?, me)?;
    set_termios()?;
    let job = fork_checker(move || self::job(rdev))?;
    let mut status = 0;
    // SAFETY: waits for our own child to stop.
    let r = unsafe { libc::waitpid(job, &mut status, libc::WUNTRACED) };
    check_os(r, "waitpid(J, WUNTRACED)")?;
    if !libc::WIFSTOPPED(status) {
        return Err(format!(
            "J should have stopped itself, it {}",
            wait_status_text(status)
        ));
    }
    // SAFETY: setpgid, tcsetpgrp and kill take integers; J is our stopped child.
    unsafe {
        check_os(libc::setpgid(job, job), "setpgid(J, J) in L")?;
        check_os(libc::tcsetpgrp(S, job), "tcsetpgrp(S, J)")?;
        check_os(libc::kill(job, libc::SIGCONT), "SIGCONT to J")?;
    }
    check_eq("tcgetpgrp of S, once set to J", foreground_of_s()?, job)?;
    let saved = Leader { me, job, rdev };
    Ok(move || after_restart(&saved))
}

/// A read of S by L, from its background group with SIGTTIN ignored: EIO. A read that job
/// control let through would block (nothing to read): SIGALRM ends it after a few seconds.
fn read_from_background() -> Check {
    // SAFETY: ignores SIGTTIN; a zeroed sigaction with SIG_IGN is valid.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_IGN;
        check_os(
            libc::sigaction(libc::SIGTTIN, &sa, std::ptr::null_mut()),
            "ignore SIGTTIN",
        )?;
    }
    handle(libc::SIGALRM, on_alarm)?;
    // SAFETY: alarm takes an integer.
    unsafe { libc::alarm(BACKGROUND_READ_SECS) };
    let got = try_read(S);
    // SAFETY: as above; cancels the alarm.
    unsafe { libc::alarm(0) };
    match got {
        Err(libc::EIO) => Ok(()),
        Err(libc::EINTR) => Err(format!(
            "a read of S by L (SIGTTIN ignored, its group in the background) blocked for {BACKGROUND_READ_SECS} s instead of failing with EIO"
        )),
        other => Err(format!(
            "a read of S by L (SIGTTIN ignored, its group in the background): {other:?}, expected Err(EIO = {})",
            libc::EIO
        )),
    }
}

/// Waits up to 10 s for J's answer on M, or for J to end without it.
fn wait_answer(job: libc::pid_t) -> Check {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if poll_in(M, 50)? == 1 {
            let got = read_once(M, 16, "M, J's answer")?;
            return check_bytes("what L reads from M once J read the line", &got, ACK);
        }
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if waitid(job, flags)?.is_some() {
            return Err("J ended without answering the line".into());
        }
        if Instant::now() > deadline {
            return Err("no answer from J on M within 10 s of the line".into());
        }
    }
}

/// L's checks after the restart and the exchange with J (see the module doc).
fn leader_checks(s: &Leader) -> Check {
    check_eq("getpid() in L", getpid(), s.me)?;
    // SAFETY: getsid and getpgrp take no pointers.
    let (sid, pgrp) = unsafe { (libc::getsid(0), libc::getpgrp()) };
    check_eq("getsid(0) in L", sid, s.me)?;
    check_eq("getpgrp() in L", pgrp, s.me)?;
    check_eq("tcgetsid of S", session_of_s()?, s.me)?;
    check_eq("tcgetpgrp of S", foreground_of_s()?, s.job)?;
    let rdev = rdev_of_s()?;
    check_eq("st_rdev of S", rdev, s.rdev)?;
    check_eq("tty_nr in L's /proc/self/stat", my_tty_nr()?, rdev)?;
    let (me, job) = (i64::from(s.me), i64::from(s.job));
    check_eq(
        format_args!("(pgrp, session, tty_nr, tpgid) in /proc/{}/stat (J)", s.job),
        stat_tty(s.job)?,
        (job, me, rdev, job),
    )?;
    read_from_background()?;
    write_all(M, LINE)?;
    wait_answer(s.job)?;
    write_all(M, &[INTR])
}

/// In L, woken: its checks, then J reaped (its exit status 0: it read the line and got
/// SIGINT). On a failure J is killed, and its end told.
fn after_restart(s: &Leader) -> Check {
    match leader_checks(s) {
        Ok(()) => reap(&[Kid {
            pid: s.job,
            code: 0,
        }]),
        Err(e) => Err(kill_checker(
            Kid {
                pid: s.job,
                code: 0,
            },
            e,
        )),
    }
}

/// P's setup: L (and J) forked, ready; after the restart P wakes L and reaps it.
fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let l = ready.fork(0, |_| leader())?;
    ready.wait(1)?;
    Ok(move || {
        wait_restored();
        wake_and_reap(&[l])
    })
}

/// Waits (up to 10 s) until `path`, the killed tree's slave, is gone: its index is free.
fn wait_released(target: &Target, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::symlink_metadata(path).is_ok() {
        if Instant::now() > deadline {
            target.fail(format!(
                "{path} still exists 10 s after its tree was killed"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(2);
    let path = cr_tests::pty::slave_held(&target, kids[0], S);
    let released = |t: &Target| wait_released(t, &path);
    let what = "for L to wait and J to sleep in its read of the terminal";
    let restored = target.restart_with_children_asleep_after(2, what, released);
    if restored != kids {
        target.fail(format!(
            "the restored tree's descendants are {restored:?}, were {kids:?}"
        ));
    }
    target.finish();
    pass("a session leader's controlling terminal, a pty of the tree, comes back with the session and the foreground group: getsid, tcgetsid and tcgetpgrp, tty_nr and tpgid in /proc are as before; the leader, in the background, reads EIO; a line written to the master is what the foreground job, asleep in a read since before the checkpoint, reads, and a ^C written to the master sends it SIGINT");
}
