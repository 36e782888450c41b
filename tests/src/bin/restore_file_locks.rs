//! File locks come back with their owners: flock() and OFD locks with the open file that owns
//! them, POSIX locks with the fd table and the process that took them, and the processes
//! asleep waiting for them wait on. In a fresh directory the target holds:
//!
//! - a: O_RDWR, flock(LOCK_EX); b: O_RDONLY, flock(LOCK_SH);
//! - c: C1 O_RDWR with POSIX locks, write [0, 100), read [200, 300) and write from 1000 to the
//!   end of the file (l_len 0); C2 = dup(C1); C3 a second open of c, O_RDWR, with OFD locks,
//!   read [500, 600) and write [600, 1000), up to the POSIX lock at 1000 (a write lock of
//!   [4096, 8192) would conflict with it: the two owners differ);
//! - d: flock(LOCK_SH), mapped MAP_SHARED read-write and its fd closed; e: flock(LOCK_EX),
//!   mapped MAP_PRIVATE read-only and its fd closed;
//! - a child asleep in flock(LOCK_EX) of a file of its own of a, and another asleep in
//!   F_SETLKW of a write lock of [0, 100) through a file of its own of c.
//!
//! Before the checkpoint and after the restart, checkers the target forks, each with files of
//! its own, find a and e locked exclusively, b and d shared; through F_GETLK, c's POSIX locks,
//! each with the target's pid (getpid() after the restart) and its range, and nothing between
//! them; through F_OFD_GETLK, its OFD locks, with l_pid -1. /proc/self/fdinfo lists the three
//! POSIX locks once each for C1 and for C2 (with the target's pid, device, inode and range),
//! the two OFD locks for C3. The children are still asleep in their calls. Then the target lets
//! go of a: the first child gets it and exits 0; of [0, 100): the second child does. Closing C2
//! drops every POSIX lock of the target on c, C1's too (fdinfo lists none), while the OFD
//! locks stay; unmapping d and e lets go of theirs, which only their mappings' files held.
//!
//! In a container too, where F_GETLK gives the holder's pid as the asker's pid namespace sees
//! it: the init of the container forks the locker, which opens a file in a fresh directory
//! twice and takes a POSIX write lock of [0, 10) through the first open, an OFD read lock of
//! [20, 30) through the second, then the locker's sibling. Before the checkpoint and after the
//! restart the sibling, through an open of its own, finds through F_GETLK the write lock with
//! the locker's pid in the container (what fork() gave init) and through F_OFD_GETLK the read
//! lock with l_pid -1; the test, outside, finds the same through its own open, the write lock
//! with the locker's pid in the test's namespace (the container's process that holds the file
//! at the locker's fd, the restored one after the restart).

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use cr_tests::locks::{
    flock_struct, get_lock, getlk_name, lock_type_name, open_own, try_flock, FoundLock,
};
use cr_tests::mem::{mmap, Mapping, PAGE};
use cr_tests::proc::{in_syscall, proc_state, syscall_text, wait_status_text};
use cr_tests::target::{dry_run, fork_checker, scratch_dir};
use cr_tests::tree::{wake_and_reap, Ready};
use cr_tests::vm::reap_within_10s;
use cr_tests::{
    check_eq, check_os, fstat, open_at, pass, wait_restored, Check, Target, CONTAINER_KILL,
};

const A: RawFd = 20;
const B: RawFd = 21;
const C1: RawFd = 22;
const C2: RawFd = 23;
const C3: RawFd = 24;
/// d's and e's fds, closed once they are mapped.
const TEMP: RawFd = 25;

/// The ranges of c's locks: (start, l_len), l_len 0 for up to the end of the file.
const POSIX_W: (i64, i64) = (0, 100);
const POSIX_R: (i64, i64) = (200, 100);
const POSIX_EOF: (i64, i64) = (1000, 0);
const OFD_R: (i64, i64) = (500, 100);
const OFD_W: (i64, i64) = (600, 400);
/// An offset far into POSIX_EOF's range.
const FAR: i64 = 1 << 40;

/// The container's locker: the fd of its POSIX lock, the fd of its OFD lock (a second open of
/// the same file), and their ranges.
const LOCKER_POSIX: RawFd = 20;
const LOCKER_OFD: RawFd = 21;
const LOCKER_W: (i64, i64) = (0, 10);
const LOCKER_R: (i64, i64) = (20, 10);

/// How long a child gets to fall asleep in its call.
const PATIENCE: Duration = Duration::from_secs(10);

/// fcntl(`fd`, `cmd`) with a lock of `ty` over `range`: F_SETLK, F_SETLKW, F_OFD_SETLK.
fn set_lock(fd: RawFd, cmd: libc::c_int, ty: libc::c_int, range: (i64, i64)) -> Check {
    let fl = flock_struct(ty, range);
    // SAFETY: `fl` is a valid struct flock for the call, which only reads it.
    let r = unsafe { libc::fcntl(fd, cmd, &fl) };
    check_os(
        r,
        format_args!(
            "fcntl({fd}, {cmd}) of {} over {range:?}",
            lock_type_name(ty as libc::c_short)
        ),
    )
}

/// flock(`fd`, `op`).
fn flock(fd: RawFd, op: libc::c_int, what: &str) -> Check {
    // SAFETY: a lock call on an fd number.
    check_os(unsafe { libc::flock(fd, op) }, what)
}

/// Fails unless [`get_lock`] finds `want` in the way of a lock of `ty` over `range`.
fn expect_lock(
    fd: RawFd,
    ofd: bool,
    ty: libc::c_int,
    range: (i64, i64),
    want: Option<FoundLock>,
) -> Check {
    let got = get_lock(fd, ofd, ty, range)?;
    check_eq(
        format_args!(
            "c: what {} of a {} lock of (l_start, l_len) {range:?} finds in the way (type, l_pid, l_start, l_len)",
            getlk_name(ofd),
            lock_type_name(ty as libc::c_short)
        ),
        got,
        want,
    )
}

/// Reaps the child `pid`, `what`, which must exit 0 within 10 s (or is killed).
fn reap(pid: libc::pid_t, what: &str) -> Check {
    match reap_within_10s(pid).map_err(|e| format!("{what}: {e}"))? {
        0 => Ok(()),
        status => Err(format!(
            "{what} {} (its log line above says why)",
            wait_status_text(status)
        )),
    }
}

/// Runs `check` in a checker the target forks, a process of its own with files of its own;
/// fails if the checker fails.
fn in_checker(what: &str, check: impl FnOnce() -> Check) -> Check {
    let pid = fork_checker(check)?;
    reap(pid, &format!("the checker of {what}"))
}

/// What the files hold at each step.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    /// All of the locks, before the checkpoint and after the restart.
    Held,
    /// The children have taken and dropped a and [0, 100); the target dropped them first.
    Handed,
    /// C2 is closed too: the target's POSIX locks on c are gone.
    Closed,
    /// d and e are unmapped too.
    Unmapped,
}

/// The checks of a and b.
fn check_flocks(dir: &str, step: Step) -> Check {
    let (a, b) = (format!("{dir}/a"), format!("{dir}/b"));
    in_checker("a", || {
        let file = open_own(&a, false)?;
        let took = try_flock(file.as_raw_fd(), libc::LOCK_EX, "a")?;
        match (step, took) {
            (Step::Held, false) | (Step::Handed | Step::Closed | Step::Unmapped, true) => Ok(()),
            (Step::Held, true) => {
                Err("a: flock(LOCK_EX | LOCK_NB) of a file of the checker's own took the lock: the target's exclusive lock is gone".into())
            }
            (_, false) => Err("a: still locked after the target let go of it and the child that took it next exited".into()),
        }
    })?;
    in_checker("b", || {
        let file = open_own(&b, false)?;
        let fd = file.as_raw_fd();
        if !try_flock(fd, libc::LOCK_SH, "b")? {
            return Err("b: flock(LOCK_SH | LOCK_NB) of a file of the checker's own failed with EWOULDBLOCK: b is locked exclusively".into());
        }
        flock(fd, libc::LOCK_UN, "flock(LOCK_UN) of b")?;
        match try_flock(fd, libc::LOCK_EX, "b")? {
            false => Ok(()),
            true => Err("b: flock(LOCK_EX | LOCK_NB) of a file of the checker's own took the lock: the target's shared lock is gone".into()),
        }
    })
}

/// The checks of the mapped files d and e.
fn check_mapped(dir: &str, step: Step) -> Check {
    for (name, op) in [("d", libc::LOCK_SH), ("e", libc::LOCK_EX)] {
        let path = format!("{dir}/{name}");
        let kind = if op == libc::LOCK_SH {
            "shared"
        } else {
            "exclusive"
        };
        in_checker(name, || {
            let file = open_own(&path, false)?;
            let fd = file.as_raw_fd();
            let mapped = step != Step::Unmapped;
            // Which kind the lock is: a shared one lets another share it.
            if mapped && try_flock(fd, libc::LOCK_SH, name)? != (op == libc::LOCK_SH) {
                return Err(format!("{name}: flock(LOCK_SH | LOCK_NB) of a file of the checker's own did not find the {kind} lock of the file only the target's mapping holds"));
            }
            flock(fd, libc::LOCK_UN, "flock(LOCK_UN)")?;
            let took = try_flock(fd, libc::LOCK_EX, name)?;
            match (!mapped, took) {
                (false, false) | (true, true) => Ok(()),
                (false, true) => Err(format!("{name}: flock(LOCK_EX | LOCK_NB) of a file of the checker's own took the lock: the {kind} lock of the file only the target's mapping holds is gone")),
                (true, false) => Err(format!("{name}: still locked once the target unmapped it: its lock is held by something else than the mapping's file")),
            }
        })?;
    }
    Ok(())
}

/// The checks of c, its POSIX locks owned by process `pid`.
fn check_c(dir: &str, pid: libc::pid_t, step: Step) -> Check {
    let path = format!("{dir}/c");
    in_checker("c", || {
        let file = open_own(&path, true)?;
        let fd = file.as_raw_fd();
        let (w, r) = (libc::F_WRLCK, libc::F_RDLCK);
        let posix = |ty, (start, len)| Some((ty, pid, start, len));
        let (first, read, to_end) = match step {
            Step::Held => (
                posix("F_WRLCK", POSIX_W),
                posix("F_RDLCK", POSIX_R),
                posix("F_WRLCK", POSIX_EOF),
            ),
            Step::Handed => (None, posix("F_RDLCK", POSIX_R), posix("F_WRLCK", POSIX_EOF)),
            Step::Closed | Step::Unmapped => (None, None, None),
        };
        expect_lock(fd, false, w, POSIX_W, first)?;
        expect_lock(fd, false, w, (100, 100), None)?;
        expect_lock(fd, false, r, POSIX_R, None)?;
        expect_lock(fd, false, w, POSIX_R, read)?;
        expect_lock(fd, false, w, (300, 200), None)?;
        expect_lock(fd, false, w, (FAR, 1), to_end)?;
        expect_lock(fd, false, w, (1000, 1), to_end)?;
        // The OFD locks stay whatever happens to the POSIX ones, up to byte 999.
        let ofd_r = Some(("F_RDLCK", -1, OFD_R.0, OFD_R.1));
        let ofd_w = Some(("F_WRLCK", -1, OFD_W.0, OFD_W.1));
        expect_lock(fd, true, w, OFD_R, ofd_r)?;
        expect_lock(fd, true, r, OFD_R, None)?;
        expect_lock(fd, true, w, OFD_W, ofd_w)?;
        expect_lock(fd, true, r, (999, 1), ofd_w)?;
        expect_lock(fd, false, w, (999, 1), ofd_w)
    })
}

/// The locks /proc/self/fdinfo lists for `fd`: each `lock:` line without its number, its
/// words joined by single spaces, sorted.
fn fdinfo_locks(fd: RawFd) -> Result<Vec<String>, String> {
    let path = format!("/proc/self/fdinfo/{fd}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    let mut locks: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("lock:"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect();
    locks.sort();
    Ok(locks)
}

/// The `lock:` line fdinfo shows for a lock of `kind` (`POSIX`, `OFDLCK`) and `mode` (`READ`,
/// `WRITE`) of process `pid` over `range` of the file of `fd`.
fn fdinfo_line(
    fd: RawFd,
    kind: &str,
    mode: &str,
    pid: libc::pid_t,
    (start, len): (i64, i64),
) -> Result<String, String> {
    let st = fstat(fd)?;
    let (major, minor) = (libc::major(st.st_dev), libc::minor(st.st_dev));
    let end = match len {
        0 => "EOF".to_string(),
        _ => (start + len - 1).to_string(),
    };
    Ok(format!(
        "{kind} ADVISORY {mode} {pid} {major:02x}:{minor:02x}:{} {start} {end}",
        st.st_ino
    ))
}

/// Checks what /proc/self/fdinfo lists of c's locks for C1, C2 (unless closed) and C3.
fn check_fdinfo(pid: libc::pid_t, step: Step) -> Check {
    let mut posix = match step {
        Step::Held => vec![
            fdinfo_line(C1, "POSIX", "WRITE", pid, POSIX_W)?,
            fdinfo_line(C1, "POSIX", "READ", pid, POSIX_R)?,
            fdinfo_line(C1, "POSIX", "WRITE", pid, POSIX_EOF)?,
        ],
        Step::Handed => vec![
            fdinfo_line(C1, "POSIX", "READ", pid, POSIX_R)?,
            fdinfo_line(C1, "POSIX", "WRITE", pid, POSIX_EOF)?,
        ],
        Step::Closed | Step::Unmapped => Vec::new(),
    };
    posix.sort();
    let fds: &[RawFd] = match step {
        Step::Held | Step::Handed => &[C1, C2],
        Step::Closed | Step::Unmapped => &[C1],
    };
    for &fd in fds {
        check_eq(
            format_args!("the locks /proc/self/fdinfo/{fd} lists (c's POSIX locks)"),
            fdinfo_locks(fd)?,
            posix.clone(),
        )?;
    }
    let mut ofd = vec![
        fdinfo_line(C3, "OFDLCK", "READ", -1, OFD_R)?,
        fdinfo_line(C3, "OFDLCK", "WRITE", -1, OFD_W)?,
    ];
    ofd.sort();
    check_eq(
        format_args!("the locks /proc/self/fdinfo/{C3} lists (c's OFD locks)"),
        fdinfo_locks(C3)?,
        ofd,
    )
}

/// Everything the checkers and fdinfo must find at `step`, the target being `pid`.
fn check_all(dir: &str, pid: libc::pid_t, step: Step) -> Check {
    check_flocks(dir, step)?;
    check_c(dir, pid, step)?;
    check_mapped(dir, step)?;
    check_fdinfo(pid, step)
}

/// A child of the target asleep in a lock call, system call `nr`.
struct Waiter {
    pid: libc::pid_t,
    nr: libc::c_long,
    what: &'static str,
}

impl Waiter {
    /// `Err` unless the child is asleep in its call now.
    fn asleep(&self) -> Check {
        let pid = self.pid;
        let state = proc_state(pid);
        if state == Some('S') && in_syscall(pid, pid, &[self.nr]) {
            return Ok(());
        }
        let syscall = syscall_text(pid, pid);
        let gone = match state {
            Some('Z') | None => " (it ended: did it take the lock it waits for?)",
            _ => "",
        };
        Err(format!(
            "{} (pid {pid}) should be asleep in system call {}: its state is {state:?}, /proc/{pid}/syscall {:?}{gone}",
            self.what,
            self.nr,
            syscall.trim()
        ))
    }

    /// Waits until the child is asleep in its call.
    fn wait_asleep(&self) -> Check {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.asleep() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("after {PATIENCE:?}: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

/// d: `LOCK_SH`, mapped shared read-write; e: `LOCK_EX`, mapped private read-only. Their fds
/// are closed: the mappings hold the files, and so the locks, alone.
fn map_locked(dir: &str) -> Result<(Mapping, Mapping), String> {
    let d = format!("{dir}/d");
    open_at(&d, libc::O_RDWR | libc::O_CREAT, 0o600, TEMP)?;
    // SAFETY: ftruncate of our own fd.
    check_os(
        unsafe { libc::ftruncate(TEMP, PAGE as libc::off_t) },
        "ftruncate d",
    )?;
    flock(TEMP, libc::LOCK_SH, "flock(LOCK_SH) of d")?;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let d_map = mmap(PAGE, prot, libc::MAP_SHARED, TEMP, 0)?;
    // SAFETY: our own fd; the mapping holds the file.
    unsafe { libc::close(TEMP) };

    let e = format!("{dir}/e");
    std::fs::write(&e, [0x65u8; PAGE]).map_err(|err| format!("write {e}: {err}"))?;
    open_at(&e, libc::O_RDONLY, 0, TEMP)?;
    flock(TEMP, libc::LOCK_EX, "flock(LOCK_EX) of e")?;
    let e_map = mmap(PAGE, libc::PROT_READ, libc::MAP_PRIVATE, TEMP, 0)?;
    // SAFETY: as above.
    unsafe { libc::close(TEMP) };
    Ok((d_map, e_map))
}

/// The target's files and locks, then its two children asleep waiting for a lock.
fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let path = |name: &str| format!("{dir}/{name}");
    let rw_new = libc::O_RDWR | libc::O_CREAT;

    open_at(&path("a"), rw_new, 0o600, A)?;
    flock(A, libc::LOCK_EX, "flock(LOCK_EX) of a")?;
    std::fs::write(path("b"), b"b").map_err(|e| format!("write b: {e}"))?;
    open_at(&path("b"), libc::O_RDONLY, 0, B)?;
    flock(B, libc::LOCK_SH, "flock(LOCK_SH) of b")?;

    // Every file of c is opened before its POSIX locks are taken: open_at closes the fd it
    // moves from, and any close of a file of c would drop them.
    open_at(&path("c"), rw_new, 0o600, C1)?;
    open_at(&path("c"), libc::O_RDWR, 0, C3)?;
    // SAFETY: dup2 of our own fd to a number we do not use otherwise.
    check_os(unsafe { libc::dup2(C1, C2) }, "dup2 of C1 to C2")?;
    set_lock(C1, libc::F_SETLK, libc::F_WRLCK, POSIX_W)?;
    set_lock(C1, libc::F_SETLK, libc::F_RDLCK, POSIX_R)?;
    set_lock(C1, libc::F_SETLK, libc::F_WRLCK, POSIX_EOF)?;
    set_lock(C3, libc::F_OFD_SETLK, libc::F_RDLCK, OFD_R)?;
    set_lock(C3, libc::F_OFD_SETLK, libc::F_WRLCK, OFD_W)?;

    let (d_map, e_map) = map_locked(&dir)?;

    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    check_all(&dir, me, Step::Held)?;

    let a = path("a");
    let flocker = Waiter {
        pid: fork_checker(move || {
            let file = open_own(&a, false)?;
            flock(
                file.as_raw_fd(),
                libc::LOCK_EX,
                "the child's flock(LOCK_EX) of a",
            )
        })?,
        nr: libc::SYS_flock,
        what: "the child waiting in flock(LOCK_EX) of a",
    };
    let c = path("c");
    let setlkw = Waiter {
        pid: fork_checker(move || {
            let file = open_own(&c, true)?;
            set_lock(file.as_raw_fd(), libc::F_SETLKW, libc::F_WRLCK, POSIX_W)
        })?,
        nr: libc::SYS_fcntl,
        what: "the child waiting in F_SETLKW of [0, 100) of c",
    };
    flocker.wait_asleep()?;
    setlkw.wait_asleep()?;

    Ok(move || {
        wait_restored();
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        check_eq("getpid() after the restart", pid, me)?;
        flocker.asleep()?;
        setlkw.asleep()?;
        check_all(&dir, pid, Step::Held)?;
        // The checks did not let either child through.
        flocker.asleep()?;
        setlkw.asleep()?;

        flock(A, libc::LOCK_UN, "flock(LOCK_UN) of a")?;
        reap(
            flocker.pid,
            "the child waiting in flock(LOCK_EX) of a, once the target let go of a",
        )?;
        setlkw.asleep()?;
        set_lock(C1, libc::F_SETLK, libc::F_UNLCK, POSIX_W)?;
        reap(
            setlkw.pid,
            "the child waiting in F_SETLKW of [0, 100) of c, once the target let go of it",
        )?;
        check_all(&dir, pid, Step::Handed)?;

        // POSIX: closing any fd of the file drops the process's locks on it.
        // SAFETY: our own fd, which nothing uses after.
        check_os(unsafe { libc::close(C2) }, "close(C2)")?;
        check_all(&dir, pid, Step::Closed)?;

        d_map.unmap()?;
        e_map.unmap()?;
        check_all(&dir, pid, Step::Unmapped)
    })
}

/// The locks of a subtree target, its children asleep waiting for some of them.
fn subtree() {
    let dir = scratch_dir();
    let mut target = Target::spawn(move || setup(dir));
    if dry_run() {
        // The original checks itself: nothing killed its children.
        target.finish();
    } else {
        target.restart_with_children_asleep(2, "for the children to sleep in their lock calls");
        target.finish();
    }
}

/// Checks, through a new open of `path` of `who`'s own, what F_GETLK and F_OFD_GETLK find in
/// the way of a write lock of the locker's ranges: its POSIX write lock with `locker` (its pid
/// as `who` sees it), its OFD read lock with l_pid -1.
fn check_locker(path: &str, who: &str, locker: libc::pid_t) -> Check {
    let file = open_own(path, true).map_err(|e| format!("{who}: {e}"))?;
    let fd = file.as_raw_fd();
    for (ofd, range, (ty, pid)) in [
        (false, LOCKER_W, ("F_WRLCK", locker)),
        (true, LOCKER_R, ("F_RDLCK", -1)),
    ] {
        let got = get_lock(fd, ofd, libc::F_WRLCK, range).map_err(|e| format!("{who}: {e}"))?;
        check_eq(
            format_args!(
                "{who}: what {} of a write lock of (l_start, l_len) {range:?} of {path} finds in the way (type, l_pid, l_start, l_len)",
                getlk_name(ofd)
            ),
            got,
            Some((ty, pid, range.0, range.1)),
        )?;
    }
    Ok(())
}

/// The container's init: forks the locker, which takes its locks, then the locker's sibling,
/// which checks them before the checkpoint and, once woken, after the restart.
fn container_setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    check_eq("the container's init pid", unsafe { libc::getpid() }, 1)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let path = format!("{dir}/locked");

    let ready = Ready::new()?;
    let p = path.clone();
    let locker = ready.fork(0, move |_| {
        // Both files before the locks: open_at closes the fd it moves from, and any close of
        // a file of the locked one would drop the POSIX lock.
        open_at(&p, libc::O_RDWR | libc::O_CREAT, 0o600, LOCKER_POSIX)?;
        open_at(&p, libc::O_RDWR, 0, LOCKER_OFD)?;
        set_lock(LOCKER_POSIX, libc::F_SETLK, libc::F_WRLCK, LOCKER_W)?;
        set_lock(LOCKER_OFD, libc::F_OFD_SETLK, libc::F_RDLCK, LOCKER_R)?;
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        Ok(move || {
            // SAFETY: as above.
            let pid = unsafe { libc::getpid() };
            check_eq("the locker's pid after the restart", pid, me)
        })
    })?;
    // The sibling checks as it sets up: it is forked once the locker holds its locks.
    ready.wait(1)?;

    let ready = Ready::new()?;
    let a = locker.pid;
    let sibling = ready.fork(0, move |_| {
        let who = move |when: &str| {
            format!("the locker's sibling in the container, {when} (the locker is pid {a} there)")
        };
        check_locker(&path, &who("before the checkpoint"), a)?;
        Ok(move || check_locker(&path, &who("after the restart"), a))
    })?;
    ready.wait(1)?;

    Ok(move || {
        wait_restored();
        // The sibling checks while the locker, still asleep, holds its locks.
        wake_and_reap(&[sibling])?;
        wake_and_reap(&[locker])
    })
}

/// The container's process that holds `path` at [`LOCKER_POSIX`]: the locker, by its pid in
/// the test's namespace.
fn find_locker(target: &Target, path: &str) -> libc::pid_t {
    let want = std::fs::metadata(path).unwrap_or_else(|e| target.fail(format!("stat {path}: {e}")));
    let kids = target.descendants(2);
    let holders: Vec<libc::pid_t> = kids
        .iter()
        .copied()
        .filter(|&pid| {
            std::fs::metadata(format!("/proc/{pid}/fd/{LOCKER_POSIX}"))
                .is_ok_and(|m| (m.dev(), m.ino()) == (want.dev(), want.ino()))
        })
        .collect();
    match holders[..] {
        [locker] => locker,
        _ => target.fail(format!(
            "one of the container's processes {kids:?} should hold {path} at fd {LOCKER_POSIX} (the locker), {holders:?} do"
        )),
    }
}

/// The test's own check of the container's locks, from outside, `when`.
fn check_from_outside(target: &Target, path: &str, when: &str) {
    let locker = find_locker(target, path);
    let who = format!(
        "the test, outside the container, {when} (the locker is pid {locker} in the test's namespace)"
    );
    check_locker(path, &who, locker).unwrap_or_else(|e| target.fail(e));
}

/// The locks of a container, seen from inside it and from outside.
fn container() {
    let dir = format!("{}/container", scratch_dir());
    let path = format!("{dir}/locked");
    let mut target = Target::spawn_container(move || container_setup(dir));
    check_from_outside(&target, &path, "before the checkpoint");
    target.checkpoint(CONTAINER_KILL);
    target.restart();
    check_from_outside(&target, &path, "after the restart");
    target.finish();
}

fn main() {
    subtree();
    container();
    pass("flock() and OFD locks come back with their open files (also files only mapped), POSIX locks with the restored process (its pid in F_GETLK, each lock once in fdinfo, all dropped when any fd of the file closes), and children waiting for a lock wait on and take it once the target lets go; in a container, F_GETLK gives the restored locker's pid as the container and the test each see it, F_OFD_GETLK its OFD lock with l_pid -1");
}
