//! The file locks restart could not take again are refused at checkpoint, with a log line
//! saying why; each target runs on with its lock, which it checks through a second open of
//! the file (flock(LOCK_NB) and F_OFD_GETLK see the lock as another owner's):
//!
//! - a lease (F_SETLEASE, F_RDLCK on an O_RDONLY file of the target's own): EOPNOTSUPP;
//! - a POSIX lock that a child of the target sharing its fd table (clone(CLONE_FILES), no
//!   CLONE_THREAD) took through that table: EOPNOTSUPP, naming the child's pid;
//! - a file that owns a flock() or OFD lock and that the test holds too (pidfd_getfd()):
//!   EOPNOTSUPP even with CKPT_UNSHARE_OPEN_FILES, which accepts other files held outside,
//!   as a copy of the file would not hold the lock with the test's; EBUSY for a container.
//!
//! A lock that another process holds when restart takes the target's again fails the restart
//! with EBUSY, a log line naming the file (or the fd) and the range, and no process left
//! behind, nor a lock: a container checkpointed without CKPT_KILL, its original running on
//! with its flock() lock, and a target whose POSIX lock the test took meanwhile. Once the
//! other holder lets go the same image restarts, the restored target holding its lock.
//!
//! A lock on the same file held by another process, outside the tree, is not the target's:
//! that target is checkpointed and restarted.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use cr_tests::locks::{flock_struct, get_lock, open_own, try_flock};
use cr_tests::outside::take_fd;
use cr_tests::proc::my_children;
use cr_tests::target::kill_and_reap;
use cr_tests::{
    check_eq, check_os, fail, log_names, open_at, pass, wait_restored, Check, Target, KILL,
};

/// The target's file.
const FD: RawFd = 20;
/// A second open of it, to see the lock from another owner.
const PROBE: RawFd = 21;
/// The range of the target's POSIX and OFD locks, (l_start, l_len): the first 100 bytes.
const RANGE: (i64, i64) = (0, 100);

/// What the log says of a lease.
const LEASE: &str = "holds a lease (F_SETLEASE), which is not supported";
/// What the log says of a file that owns a lock and is held outside the tree.
const SHARED_LOCKED: &str = "(restart could not share it and its file lock again)";

#[derive(Clone, Copy)]
enum Kind {
    Flock,
    Posix,
    Ofd,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Flock => "flock",
            Kind::Posix => "POSIX",
            Kind::Ofd => "OFD",
        }
    }
}

fn path(what: &str) -> String {
    format!("/tmp/cr-file-lock-{what}-{}", std::process::id())
}

/// Takes a `kind` lock through `fd`: flock(LOCK_EX), or a write lock of [`RANGE`].
fn lock(fd: RawFd, kind: Kind) -> Check {
    let fl = flock_struct(libc::F_WRLCK, RANGE);
    // SAFETY: lock calls on an fd number; `fl` is valid for the call.
    let r = unsafe {
        match kind {
            Kind::Flock => libc::flock(fd, libc::LOCK_EX),
            Kind::Posix => libc::fcntl(fd, libc::F_SETLK, &fl),
            Kind::Ofd => libc::fcntl(fd, libc::F_OFD_SETLK, &fl),
        }
    };
    check_os(r, format!("take a {} lock", kind.name()))
}

/// Whether a new open file description of `path` finds it locked by someone else. It stays
/// open: closing any fd of the file would drop the process's POSIX locks on it.
fn locked(path: &str, kind: Kind) -> Result<bool, String> {
    let other = open_own(path, true)?;
    let fd = other.as_raw_fd();
    std::mem::forget(other);
    match kind {
        Kind::Flock => Ok(!try_flock(fd, libc::LOCK_EX, path)?),
        Kind::Posix | Kind::Ofd => Ok(get_lock(fd, true, libc::F_WRLCK, RANGE)?.is_some()),
    }
}

/// In a target: `Err` unless its `kind` lock of `path` is still there, an OFD lock with
/// l_pid -1 and a POSIX lock with its own pid (the restored process's after a restart).
fn still_locked(path: &str, kind: Kind) -> Check {
    if !locked(path, kind)? {
        return Err(format!("the {} lock of {path} is gone", kind.name()));
    }
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let want = match kind {
        Kind::Flock => return Ok(()),
        Kind::Posix => me,
        Kind::Ofd => -1,
    };
    let other = open_own(path, true)?;
    let fd = other.as_raw_fd();
    std::mem::forget(other);
    let got = get_lock(fd, true, libc::F_WRLCK, RANGE)?.map(|(_, pid, ..)| pid);
    check_eq(
        format_args!("l_pid of the {} lock of {path} (F_OFD_GETLK)", kind.name()),
        got,
        Some(want),
    )
}

/// A target that opens `path` on [`FD`], takes a `kind` lock through it and, once woken,
/// checks that it still holds it; a container's init if `container`.
fn locking_target(path: &str, kind: Kind, container: bool) -> Target {
    let p = path.to_string();
    let setup = move || {
        open_at(&p, libc::O_RDWR | libc::O_CREAT, 0o600, FD)?;
        lock(FD, kind)?;
        still_locked(&p, kind)?;
        Ok(move || {
            wait_restored();
            still_locked(&p, kind)
        })
    };
    match container {
        true => Target::spawn_container(setup),
        false => Target::spawn(setup),
    }
}

/// Checkpoint with `flags` must fail with `errno` and a log line holding `needle` (and the
/// target's pid, if `pid`); the target must run on, asleep.
fn expect_refused(
    target: &mut Target,
    flags: u32,
    errno: i32,
    needle: &str,
    pid: Option<libc::pid_t>,
    what: &str,
) {
    let result = target.try_checkpoint(flags);
    target.expect_checkpoint_errno(result, errno, &format!("checkpoint of {what}"));
    if !target.klog().iter().any(|l| l.contains(needle)) {
        target.fail(format!("{what}: no kernel log line says {needle:?}"));
    }
    if let Some(pid) = pid.filter(|p| !log_names(target.klog(), &p.to_string())) {
        target.fail(format!("{what}: no kernel log line names pid {pid}"));
    }
    target.expect_asleep(Duration::from_millis(200));
}

/// F_GETLEASE of [`FD`] must be F_RDLCK.
fn holds_lease() -> Check {
    // SAFETY: fcntl on an fd number; no memory involved.
    let lease = unsafe { libc::fcntl(FD, libc::F_GETLEASE) };
    check_os(lease, "F_GETLEASE")?;
    check_eq("F_GETLEASE of the target's file", lease, libc::F_RDLCK)
}

fn lease() {
    let p = path("lease");
    let q = p.clone();
    let mut target = Target::spawn(move || {
        std::fs::write(&q, b"lease").map_err(|e| format!("write {q}: {e}"))?;
        open_at(&q, libc::O_RDONLY, 0, FD)?;
        // SAFETY: fcntl on our own fd; no memory involved.
        let r = unsafe { libc::fcntl(FD, libc::F_SETLEASE, libc::F_RDLCK) };
        check_os(r, "F_SETLEASE F_RDLCK")?;
        holds_lease()?;
        Ok(|| {
            wait_restored();
            holds_lease()
        })
    });
    let pid = target.pid();
    expect_refused(
        &mut target,
        KILL,
        libc::EOPNOTSUPP,
        LEASE,
        Some(pid),
        "a process holding a lease",
    );
    target.finish();
    let _ = std::fs::remove_file(&p);
}

/// In the target: waits until the F_OFD_GETLK of [`PROBE`] finds the lock of `child`, which
/// must not have ended meanwhile.
fn wait_child_lock(child: libc::pid_t) -> Check {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match get_lock(PROBE, true, libc::F_WRLCK, RANGE)? {
            Some(("F_WRLCK", pid, ..)) if pid == child => return Ok(()),
            Some((ty, pid, ..)) => {
                return Err(format!(
                    "F_OFD_GETLK finds a lock of type {ty} of pid {pid}, not the child's ({child}) write lock"
                ))
            }
            None => {}
        }
        let mut status = 0;
        // SAFETY: waits for our own child without blocking, filling `status`.
        if unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) } == child {
            return Err(format!(
                "the child that shares the fd table ended before its lock was seen: {}",
                cr_tests::proc::wait_status_text(status)
            ));
        }
        if std::time::Instant::now() > deadline {
            return Err("the child's POSIX lock is not seen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A POSIX lock that a child sharing the target's fd table took through it: the table owns
/// it, but restart would take it for the process that restores the table, the target.
fn shared_table_posix() {
    let p = path("shared-table");
    let q = p.clone();
    let mut target = Target::spawn(move || {
        // Both files before the lock: open_at closes the fd it moves from, and a close of a
        // file of the lock's file through the table would drop it.
        open_at(&q, libc::O_RDWR | libc::O_CREAT, 0o600, FD)?;
        open_at(&q, libc::O_RDWR, 0, PROBE)?;
        let flags = (libc::CLONE_FILES | libc::SIGCHLD) as libc::c_long;
        // SAFETY: without CLONE_VM and with no new stack this is fork() that keeps the fd
        // table shared; the child only takes its lock and sleeps until killed.
        let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        check_os(child, "clone(CLONE_FILES)")?;
        if child == 0 {
            if let Err(e) = lock(FD, Kind::Posix) {
                eprintln!("child: FAIL: {e}");
                // SAFETY: ends the child at once.
                unsafe { libc::_exit(1) };
            }
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        let child = child as libc::pid_t;
        wait_child_lock(child)?;
        Ok(move || {
            wait_restored();
            let still = wait_child_lock(child);
            kill_and_reap(child);
            still
        })
    });
    let child = target.descendants(1)[0];
    let pid = target.pid();
    let needle = format!("holds a POSIX lock that process {child} took through the fd table it shares, which is not supported");
    expect_refused(
        &mut target,
        KILL,
        libc::EOPNOTSUPP,
        &needle,
        Some(pid),
        "a process whose fd table holds a POSIX lock of the child it shares it with",
    );
    target.finish();
    let _ = std::fs::remove_file(&p);
}

/// A file that owns a `kind` lock (flock(), OFD) and that the test holds too: refused with
/// `flags`, also with CKPT_UNSHARE_OPEN_FILES; EBUSY for a `container`.
fn held_outside(kind: Kind, flags: u32, container: bool) {
    let p = path(&format!("outside-{}", kind.name()));
    let mut target = locking_target(&p, kind, container);
    let stolen = take_fd(target.pid(), FD).unwrap_or_else(|e| target.fail(e));
    let (errno, pid, who) = match container {
        true => (libc::EBUSY, None, "a container"),
        false => (libc::EOPNOTSUPP, Some(target.pid()), "a process"),
    };
    let what = format!(
        "{who} whose file owning a {} lock the test holds too (flags {flags:#x})",
        kind.name()
    );
    expect_refused(&mut target, flags, errno, SHARED_LOCKED, pid, &what);
    target.finish();
    // SAFETY: our own fd.
    unsafe { libc::close(stolen) };
    let _ = std::fs::remove_file(&p);
}

/// The restart of `target` must fail with EBUSY and a log line holding `needle`, and leave no
/// child of the test but `left`.
fn expect_restart_busy(target: &mut Target, needle: &str, left: &[libc::pid_t], what: &str) {
    let result = target.try_restart(0);
    if result.is_err() {
        check_eq(
            format_args!("the test's children after the refused restart {what}"),
            my_children(),
            left.to_vec(),
        )
        .unwrap_or_else(|e| target.fail(e));
    }
    target.expect_restart_errno(result, libc::EBUSY, &format!("restart {what}"));
    if !target.klog().iter().any(|l| l.contains(needle)) {
        target.fail(format!(
            "restart {what}: no kernel log line says {needle:?}"
        ));
    }
}

/// A container checkpointed without CKPT_KILL: its original runs on with its flock() lock, in
/// the way of the restart. Once it exits, nothing holds the lock (the refused restart left
/// none) and the same image restarts.
fn conflict_with_original() {
    let p = path("conflict");
    open_own(&p, true).unwrap_or_else(|e| fail(e));
    let shown = std::fs::canonicalize(&p)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|e| fail(format!("realpath {p}: {e}")));
    let mut target = locking_target(&p, Kind::Flock, true);
    target.checkpoint(0);
    let needle = format!(
        "{shown}: its flock lock of bytes (0, {}) is held by another process",
        i64::MAX
    );
    let original = target.pid();
    expect_restart_busy(
        &mut target,
        &needle,
        &[original],
        "while the original holds its flock() lock",
    );
    target.expect_asleep(Duration::from_millis(200));
    target.wake();
    target.expect_exit("the original, after the refused restart");
    let mine = open_own(&p, true).unwrap_or_else(|e| target.fail(e));
    match try_flock(mine.as_raw_fd(), libc::LOCK_EX, &p) {
        Ok(true) => {}
        Ok(false) => target.fail(format!(
            "{p} is still locked once the original exited: the refused restart left a lock"
        )),
        Err(e) => target.fail(e),
    }
    drop(mine);
    target.restart();
    target.finish();
    let _ = std::fs::remove_file(&p);
}

/// A target killed at checkpoint whose POSIX lock the test takes meanwhile (a part of its
/// range): the restart fails on it, by fd and range, and succeeds once the test lets go.
fn conflict_taken_meanwhile() {
    let p = path("meanwhile");
    let mut target = locking_target(&p, Kind::Posix, false);
    target.checkpoint(KILL);
    let mine = open_own(&p, true).unwrap_or_else(|e| target.fail(e));
    let fl = flock_struct(libc::F_WRLCK, (50, 10));
    // SAFETY: a lock call on our own fd; `fl` is valid for the call.
    let r = unsafe { libc::fcntl(mine.as_raw_fd(), libc::F_SETLK, &fl) };
    check_os(r, "the test's F_SETLK of bytes 50-59").unwrap_or_else(|e| target.fail(e));
    let needle = format!("fd {FD}: its POSIX lock of bytes (0, 99) is held by another process");
    expect_restart_busy(
        &mut target,
        &needle,
        &[],
        "while the test holds a POSIX lock in the way",
    );
    // Closing the test's only file of it drops the test's POSIX lock.
    drop(mine);
    target.restart();
    target.finish();
    let _ = std::fs::remove_file(&p);
}

/// The test holds a flock() lock, through its own open file; the target only has the file
/// open: it is checkpointed and restarted.
fn lock_not_the_targets() {
    let p = path("not-mine");
    let mine = open_own(&p, true).unwrap_or_else(|e| fail(e));
    lock(mine.as_raw_fd(), Kind::Flock).unwrap_or_else(|e| fail(e));
    let q = p.clone();
    let mut target = Target::spawn(move || {
        let file = open_own(&q, true)?;
        Ok(move || {
            wait_restored();
            if !locked(&q, Kind::Flock)? {
                return Err("the test's flock lock is not seen after the restart".into());
            }
            drop(file);
            Ok(())
        })
    });
    target.cycle();
    target.finish();
    drop(mine);
    let _ = std::fs::remove_file(&p);
}

fn main() {
    lease();
    shared_table_posix();
    for kind in [Kind::Flock, Kind::Ofd] {
        for flags in [KILL, KILL | abi::CKPT_UNSHARE_OPEN_FILES] {
            held_outside(kind, flags, false);
        }
    }
    held_outside(Kind::Flock, 0, true);
    conflict_with_original();
    conflict_taken_meanwhile();
    lock_not_the_targets();
    pass("a lease, a POSIX lock taken by a process sharing the fd table, and a file owning a flock or OFD lock also held outside the tree (also with CKPT_UNSHARE_OPEN_FILES; EBUSY for a container) are refused by name, the targets running on with their locks; a restart whose lock another process holds (the original of a container checkpointed without CKPT_KILL, or the test meanwhile) fails with EBUSY by name and leaves nothing, and succeeds once it is free; a lock held outside the tree is not the target's");
}
