//! FIFOs (named pipes) come back with their pipes' capacity, the bytes they hold and their
//! sleepers, each file reopened by its own path, and the files of one FIFO share one pipe
//! again across the processes that hold them. In a fresh directory, the target and its two
//! children, the writer and the reader, hold six FIFOs, every file opened by path:
//!
//! - data: 128 KiB (F_SETPIPE_SZ) holding 70000 bytes; the target reads it through a hard
//!   link, data-link (non-blocking), and writes to it through data; after the restart the
//!   target reads the first half and the writer, through a file of its own, the rest;
//! - full: 64 KiB, full, the writer asleep in a write() of one more byte; a non-blocking
//!   write of the target's gets EAGAIN;
//! - empty: the target asleep in a read(), which SIGUSR1 ends; the writer writes to it once
//!   its own write went through, and so does a read-write file of the target's;
//! - sleep: the reader asleep in a read(), which a write of the target's ends after the
//!   restart;
//! - waiting: a non-blocking reader that never saw a writer, to which poll() reports no
//!   POLLHUP; once a writer comes and goes after the restart, it does;
//! - hung: a non-blocking reader whose writer wrote and closed: POLLIN and POLLHUP, the bytes,
//!   then end of file.
//!
//! Every file keeps its F_GETFL flags (access mode, O_NONBLOCK), its path (readlink of
//! /proc/self/fd/N: the hard link's own) and its inode (fstat against stat of the path); every
//! pipe its size, the bytes FIONREAD counts and what poll() reports. All of it is checked
//! before the checkpoint too. The writes and reads after the restart complete only if each
//! FIFO's files share one pipe again, the one its sleepers sleep on.

use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use cr_tests::target::{fork_checker, scratch_dir, unblock_restore_signal, was_woken};
use cr_tests::{
    byte_pattern, check_byte_pattern, check_eq, check_fd_flags, check_os, fionread, fstat, mkfifo,
    open_fifo_at, pass, pipe_size, poll_in, read_exact, read_some, write_all, Check, Target,
};

const DATA_R: RawFd = 20;
const DATA_W: RawFd = 21;
const FULL_R: RawFd = 22;
const FULL_W: RawFd = 23;
const EMPTY_R: RawFd = 24;
const EMPTY_RW: RawFd = 25;
const SLEEP_W: RawFd = 26;
const WAIT_R: RawFd = 27;
const HUNG_R: RawFd = 28;
/// A writer the target opens and closes again.
const TEMP: RawFd = 29;
/// The writer's files.
const W_DATA: RawFd = 40;
const W_FULL: RawFd = 41;
const W_EMPTY: RawFd = 42;
/// The reader's file.
const R_SLEEP: RawFd = 43;

const DATA_SIZE: usize = 128 << 10;
const DATA_LEN: usize = 70000;
const HALF: usize = DATA_LEN / 2;
/// A pipe's default size, which full, empty, sleep, waiting and hung keep.
const FULL_SIZE: usize = 64 << 10;
const LAST_WORDS: &[u8] = b"bye";
/// What the writer writes into empty once its write into full went through and its checks
/// held; [`FAILED`] if they did not (the target would wait for its word forever otherwise).
const DONE: &[u8] = b"done";
const FAILED: &[u8] = b"fail";
/// What the target writes into sleep for the reader.
const WAKE: &[u8] = b"wake";

#[derive(Clone, Copy, PartialEq)]
enum Holder {
    Target,
    Writer,
    Reader,
}

/// A file of a FIFO: its fd, the name it is opened by in the directory, its access mode and
/// O_NONBLOCK, and the process that holds it.
struct Opened {
    fd: RawFd,
    name: &'static str,
    flags: libc::c_int,
    by: Holder,
}

const fn opened(fd: RawFd, name: &'static str, flags: libc::c_int, by: Holder) -> Opened {
    Opened {
        fd,
        name,
        flags,
        by,
    }
}

const NONBLOCK: libc::c_int = libc::O_NONBLOCK;

/// Every file, in the order the target opens them (the children's too, before it forks
/// them): each FIFO's first reader before its writers, whose open would wait otherwise.
const FILES: [Opened; 13] = [
    opened(
        DATA_R,
        "data-link",
        libc::O_RDONLY | NONBLOCK,
        Holder::Target,
    ),
    opened(DATA_W, "data", libc::O_WRONLY, Holder::Target),
    opened(W_DATA, "data", libc::O_RDONLY, Holder::Writer),
    opened(FULL_R, "full", libc::O_RDONLY, Holder::Target),
    opened(FULL_W, "full", libc::O_WRONLY | NONBLOCK, Holder::Target),
    opened(W_FULL, "full", libc::O_WRONLY, Holder::Writer),
    opened(EMPTY_R, "empty", libc::O_RDONLY, Holder::Target),
    opened(EMPTY_RW, "empty", libc::O_RDWR, Holder::Target),
    opened(W_EMPTY, "empty", libc::O_WRONLY, Holder::Writer),
    opened(R_SLEEP, "sleep", libc::O_RDONLY, Holder::Reader),
    opened(SLEEP_W, "sleep", libc::O_WRONLY | NONBLOCK, Holder::Target),
    opened(WAIT_R, "waiting", libc::O_RDONLY | NONBLOCK, Holder::Target),
    opened(HUNG_R, "hung", libc::O_RDONLY | NONBLOCK, Holder::Target),
];

/// Each FIFO through a file of the target's: its size and the bytes it holds.
const PIPES: [(&str, RawFd, usize, usize); 6] = [
    ("data", DATA_W, DATA_SIZE, DATA_LEN),
    ("full", FULL_R, FULL_SIZE, FULL_SIZE),
    ("empty", EMPTY_R, FULL_SIZE, 0),
    ("sleep", SLEEP_W, FULL_SIZE, 0),
    ("waiting", WAIT_R, FULL_SIZE, 0),
    ("hung", HUNG_R, FULL_SIZE, LAST_WORDS.len()),
];

const POLLIN: i16 = libc::POLLIN;
const POLLOUT: i16 = libc::POLLOUT;

/// What poll() reports at once for the target's files: fd, events asked, events reported.
/// No POLLHUP for waiting's reader, which never saw a writer; no POLLERR for sleep's writer,
/// whose reader is the reader child's.
const POLLS: [(RawFd, i16, i16); 9] = [
    (DATA_R, POLLIN, POLLIN),
    (DATA_W, POLLOUT, POLLOUT),
    (FULL_R, POLLIN, POLLIN),
    (FULL_W, POLLOUT, 0),
    (EMPTY_R, POLLIN, 0),
    (EMPTY_RW, POLLIN | POLLOUT, POLLOUT),
    (SLEEP_W, POLLOUT, POLLOUT),
    (WAIT_R, POLLIN, 0),
    (HUNG_R, POLLIN, POLLIN | libc::POLLHUP),
];

/// What poll() of `fd` for `events`, without waiting, reports.
fn poll_revents(fd: RawFd, events: i16) -> Result<i16, String> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    check_os(n, format_args!("poll({fd})"))?;
    Ok(pfd.revents)
}

/// The sizes, the bytes held and what poll() reports, the same before and after.
fn check_pipes() -> Check {
    for (name, fd, size, len) in PIPES {
        check_eq(format_args!("{name}'s size"), pipe_size(fd)?, size)?;
        check_eq(
            format_args!("{name}'s bytes (FIONREAD)"),
            fionread(fd)?,
            len,
        )?;
    }
    for (fd, events, want) in POLLS {
        check_eq(
            format_args!("poll() of fd {fd} for {events:#x}"),
            poll_revents(fd, events)?,
            want,
        )?;
    }
    // A poll() that may wait reports nothing either: no POLLHUP comes.
    check_eq("poll() of waiting for 50 ms", poll_in(WAIT_R, 50)?, 0)
}

/// Checks that `fd` is a file of the FIFO at `path`, reached by that path.
fn check_fd_path(fd: RawFd, path: &str) -> Check {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("readlink of fd {fd}: {e}"))?;
    check_eq(
        format_args!("fd {fd}'s path"),
        link.to_string_lossy().into_owned(),
        path.to_string(),
    )?;
    let st = fstat(fd)?;
    let m = std::fs::metadata(path).map_err(|e| format!("stat {path}: {e}"))?;
    check_eq(
        format_args!("fd {fd}'s device and inode, against {path}'s"),
        (st.st_dev as u64, st.st_ino as u64),
        (m.dev(), m.ino()),
    )?;
    check_eq(
        format_args!("fd {fd}'s file type"),
        st.st_mode & libc::S_IFMT,
        libc::S_IFIFO,
    )
}

/// Checks the files of `by`: their flags, as `before` (F_GETFL of each of [`FILES`]) and as
/// they were opened, and their paths in `dir`.
fn check_files(dir: &str, before: &[libc::c_int], by: Holder) -> Check {
    for (f, &flags) in FILES.iter().zip(before).filter(|(f, _)| f.by == by) {
        // SAFETY: F_GETFL takes no pointer.
        let got = unsafe { libc::fcntl(f.fd, libc::F_GETFL) };
        check_os(got, format_args!("F_GETFL of fd {}", f.fd))?;
        let mask = libc::O_ACCMODE | libc::O_NONBLOCK;
        check_eq(
            format_args!("fd {}'s access mode and O_NONBLOCK", f.fd),
            got & mask,
            f.flags,
        )?;
        check_fd_flags(f.fd, flags, false)?;
        check_fd_path(f.fd, &format!("{dir}/{}", f.name))?;
    }
    Ok(())
}

/// In a child: closes the files it inherited that are not its own.
fn keep_only(by: Holder) {
    for f in FILES.iter().filter(|f| f.by != by) {
        // SAFETY: closes an fd of ours.
        unsafe { libc::close(f.fd) };
    }
}

/// What a read of empty that must not wait gives, `RWF_NOWAIT`: its result and errno. The
/// same after the restart as before, whether a FIFO's file takes it or not.
fn nowait_read(fd: RawFd) -> (isize, Option<i32>) {
    let mut byte = 0u8;
    let iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    const RWF_NOWAIT: libc::c_int = 8;
    // SAFETY: one iovec over `byte`.
    let n = unsafe { libc::preadv2(fd, &iov, 1, -1, RWF_NOWAIT) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    (n, if n < 0 { errno } else { None })
}

/// The writer: asleep in its write into full until the target makes room, then its half of
/// data, then its word on empty.
fn writer(dir: &str, before: &[libc::c_int]) -> Check {
    keep_only(Holder::Writer);
    let checked = write_all(W_FULL, b"Z").and_then(|()| {
        check_files(dir, before, Holder::Writer)?;
        let rest = read_exact(W_DATA, DATA_LEN - HALF)?;
        check_byte_pattern("data", &rest, HALF)?;
        check_eq("data's bytes once read", fionread(W_DATA)?, 0)
    });
    write_all(W_EMPTY, if checked.is_ok() { DONE } else { FAILED })?;
    checked
}

/// The reader: asleep in its read of sleep until the target writes.
fn reader(dir: &str, before: &[libc::c_int]) -> Check {
    keep_only(Holder::Reader);
    let word = read_exact(R_SLEEP, WAKE.len())?;
    check_eq("the target's word on sleep", word, WAKE.to_vec())?;
    check_files(dir, before, Holder::Reader)
}

/// Reaps the child `pid`, `what`, which must exit 0 within 10 s (or is killed).
fn reap(pid: libc::pid_t, what: &str) -> Check {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        check_os(r, format_args!("waitpid {what}"))?;
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("{what} did not end within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    match libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        true => Ok(()),
        false => Err(format!("{what} ended with status {status:#x}")),
    }
}

struct Before {
    dir: String,
    flags: Vec<libc::c_int>,
    nowait: (isize, Option<i32>),
    writer: libc::pid_t,
    reader: libc::pid_t,
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    // As readlink gives it back.
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| format!("realpath {dir}: {e}"))?
        .to_string_lossy()
        .into_owned();
    for name in ["data", "full", "empty", "sleep", "waiting", "hung"] {
        mkfifo(&format!("{dir}/{name}"))?;
    }
    std::fs::hard_link(format!("{dir}/data"), format!("{dir}/data-link"))
        .map_err(|e| format!("link data-link: {e}"))?;
    for f in &FILES {
        open_fifo_at(&format!("{dir}/{}", f.name), f.flags, f.fd)?;
    }
    // SAFETY: fcntl on our own fd.
    let r = unsafe { libc::fcntl(DATA_W, libc::F_SETPIPE_SZ, DATA_SIZE as libc::c_int) };
    check_os(r, "F_SETPIPE_SZ")?;
    let data: Vec<u8> = (0..DATA_LEN).map(byte_pattern).collect();
    write_all(DATA_W, &data)?;
    write_all(FULL_W, &vec![0xf0; FULL_SIZE])?;
    open_fifo_at(&format!("{dir}/hung"), libc::O_WRONLY, TEMP)?;
    write_all(TEMP, LAST_WORDS)?;
    // SAFETY: our own fd.
    unsafe { libc::close(TEMP) };

    let flags = FILES
        .iter()
        // SAFETY: F_GETFL takes no pointer.
        .map(|f| unsafe { libc::fcntl(f.fd, libc::F_GETFL) })
        .collect::<Vec<_>>();
    for by in [Holder::Target, Holder::Writer, Holder::Reader] {
        check_files(&dir, &flags, by)?;
    }
    let nowait = nowait_read(EMPTY_R);
    let writer = {
        let (dir, flags) = (dir.clone(), flags.clone());
        fork_checker(move || writer(&dir, &flags))?
    };
    let reader = {
        let (dir, flags) = (dir.clone(), flags.clone());
        fork_checker(move || reader(&dir, &flags))?
    };
    keep_only(Holder::Target);
    check_pipes()?;
    let before = Before {
        dir,
        flags,
        nowait,
        writer,
        reader,
    };
    Ok(move || {
        unblock_restore_signal()?;
        // Asleep here across the checkpoint and the restart, until SIGUSR1.
        let r = read_some(EMPTY_R);
        check_eq("the read of empty that SIGUSR1 ends", r, Err(libc::EINTR))?;
        if !was_woken() {
            return Err("the read of empty ended before SIGUSR1".into());
        }
        check(&before)
    })
}

/// In the target, after the restart.
fn check(b: &Before) -> Check {
    check_files(&b.dir, &b.flags, Holder::Target)?;
    check_pipes()?;
    // SAFETY: writes one byte from a literal.
    let n = unsafe { libc::write(FULL_W, b"x".as_ptr().cast(), 1) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    check_eq(
        "a non-blocking write to full",
        (n, errno),
        (-1, Some(libc::EAGAIN)),
    )?;

    let first = read_exact(DATA_R, HALF)?;
    check_byte_pattern("data", &first, 0)?;
    // The writer's write goes through once there is room.
    let full = read_exact(FULL_R, FULL_SIZE)?;
    if full.iter().any(|&b| b != 0xf0) {
        return Err("full's bytes changed".into());
    }
    if poll_in(EMPTY_R, 10_000)? == 0 {
        return Err("the writer wrote no word on empty within 10 s: its write to full, or its read of data, did not go through".into());
    }
    let word = read_exact(EMPTY_R, DONE.len())?;
    if word == FAILED {
        return Err("the writer's checks failed (its log lines say which)".into());
    }
    check_eq("the writer's word on empty", word, DONE.to_vec())?;
    check_eq(
        "the writer's byte on full",
        read_exact(FULL_R, 1)?,
        b"Z".to_vec(),
    )?;
    reap(b.writer, "the writer")?;
    check_eq(
        "a read of the drained data",
        read_some(DATA_R),
        Err(libc::EAGAIN),
    )?;

    write_all(SLEEP_W, WAKE)?;
    reap(b.reader, "the reader")?;

    check_eq(
        "hung's bytes",
        read_exact(HUNG_R, LAST_WORDS.len())?,
        LAST_WORDS.to_vec(),
    )?;
    check_eq("hung at its end", read_some(HUNG_R), Ok(0))?;
    check_eq(
        "poll() of hung, read",
        poll_revents(HUNG_R, POLLIN)?,
        libc::POLLHUP,
    )?;

    // Its first writer comes and goes: now it hangs up.
    open_fifo_at(
        &format!("{}/waiting", b.dir),
        libc::O_WRONLY | libc::O_NONBLOCK,
        TEMP,
    )?;
    check_eq(
        "poll() of waiting with a writer",
        poll_revents(WAIT_R, POLLIN)?,
        0,
    )?;
    // SAFETY: our own fd.
    unsafe { libc::close(TEMP) };
    check_eq(
        "poll() of waiting once its writer closed",
        poll_revents(WAIT_R, POLLIN)?,
        libc::POLLHUP,
    )?;

    write_all(EMPTY_RW, b"x")?;
    check_eq(
        "empty's bytes after a write of EMPTY_RW",
        fionread(EMPTY_R)?,
        1,
    )?;
    check_eq(
        "empty through EMPTY_RW",
        read_exact(EMPTY_R, 1)?,
        b"x".to_vec(),
    )?;
    check_eq("RWF_NOWAIT read of empty", nowait_read(EMPTY_R), b.nowait)
}

fn main() {
    let dir = scratch_dir();
    let mut target = Target::spawn(move || setup(dir));
    target.restart_with_children_asleep(2, "for the writer and the reader to sleep");
    target.finish();
    pass("FIFOs come back by their paths with their size, bytes, sleepers and hangups, shared by the processes that hold them");
}
