//! Pipes come back with their capacity, the bytes they hold and their sleepers, shared by
//! the processes that hold them. The target and its child hold four pipes:
//!
//! - DATA: 128 KiB (F_SETPIPE_SZ) holding 70000 bytes, its read end non-blocking; after the
//!   restart the target reads the first half and the child, through the same pipe, the rest;
//! - FULL: 64 KiB, full, the child asleep in a write() of one more byte;
//! - EMPTY: the target asleep in a read(), which SIGUSR1 ends; the child writes to it once
//!   its own write went through;
//! - CLOSED: a read end alone, its write end closed after a write: the bytes, then EOF;
//! - OWNED: made under fsuid and fsgid 1000, which stay its owner and group.
//!
//! EMPTY also has a third file, opened read-write through /proc/self/fd: it still writes to
//! EMPTY after the restart. The files pipe() made still take RWF_NOWAIT.
//!
//! The child's write and read can only complete if the target's reads and the child's go to
//! the same pipes, the same ones the child's write and the target's read sleep on.

use std::os::fd::RawFd;

use cr_tests::target::{fork_checker, unblock_restore_signal, was_woken};
use cr_tests::{
    byte_pattern, check_byte_pattern, check_eq, check_fd_flags, check_os, pass, pipe_at, pipe_size,
    read_exact, read_some, reopen_at, write_all, Check, Target,
};

const DATA_R: RawFd = 20;
const DATA_W: RawFd = 21;
const FULL_R: RawFd = 22;
const FULL_W: RawFd = 23;
const EMPTY_R: RawFd = 24;
const EMPTY_W: RawFd = 25;
const CLOSED_R: RawFd = 26;
const OWNED_R: RawFd = 28;
const OWNED_W: RawFd = 29;
/// EMPTY again, read-write.
const EMPTY_RW: RawFd = 30;
const OWNER: u32 = 1000;

const DATA_SIZE: usize = 128 << 10;
const DATA_LEN: usize = 70000;
const HALF: usize = DATA_LEN / 2;
const FULL_SIZE: usize = 64 << 10;
const LAST_WORDS: &[u8] = b"no more";
/// What the child writes into EMPTY once its write into FULL went through.
const DONE: &[u8] = b"done";

/// In the child: its write into the full pipe, then its half of DATA, then its word.
fn child() -> Check {
    write_all(FULL_W, b"Z")?;
    let rest = read_exact(DATA_R, DATA_LEN - HALF)?;
    check_byte_pattern("DATA", &rest, HALF)?;
    check_eq(
        "read of the drained DATA pipe",
        read_some(DATA_R),
        Err(libc::EAGAIN),
    )?;
    write_all(EMPTY_W, DONE)
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    pipe_at(DATA_R, DATA_W, 0)?;
    // SAFETY: fcntl on our own fds.
    unsafe {
        check_os(
            libc::fcntl(DATA_W, libc::F_SETPIPE_SZ, DATA_SIZE as i32),
            "F_SETPIPE_SZ",
        )?;
        check_os(
            libc::fcntl(DATA_R, libc::F_SETFL, libc::O_NONBLOCK),
            "F_SETFL",
        )?;
    }
    let data: Vec<u8> = (0..DATA_LEN).map(byte_pattern).collect();
    write_all(DATA_W, &data)?;

    pipe_at(FULL_R, FULL_W, 0)?;
    write_all(FULL_W, &vec![0xf0; FULL_SIZE])?;
    pipe_at(EMPTY_R, EMPTY_W, 0)?;
    pipe_at(CLOSED_R, 27, 0)?;
    write_all(27, LAST_WORDS)?;
    // SAFETY: our own fd.
    unsafe { libc::close(27) };
    // SAFETY: setfsuid and setfsgid take integers; the fs ids are ours again after.
    unsafe {
        libc::setfsgid(OWNER);
        libc::setfsuid(OWNER);
    }
    let owned = pipe_at(OWNED_R, OWNED_W, 0);
    // SAFETY: as above.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
    }
    owned?;
    reopen_at(EMPTY_R, libc::O_RDWR, EMPTY_RW)?;

    let kid = fork_checker(child)?;
    Ok(move || {
        unblock_restore_signal()?;
        // Asleep here across the checkpoint and the restart, until SIGUSR1.
        let r = read_some(EMPTY_R);
        check_eq("the read of EMPTY that SIGUSR1 ends", r, Err(libc::EINTR))?;
        if !was_woken() {
            return Err("the read of EMPTY ended before SIGUSR1".into());
        }
        check(kid)
    })
}

/// In the target, after the restart.
fn check(kid: libc::pid_t) -> Check {
    check_eq("DATA's size", pipe_size(DATA_W)?, DATA_SIZE)?;
    check_eq("FULL's size", pipe_size(FULL_R)?, FULL_SIZE)?;
    check_fd_flags(DATA_R, libc::O_RDONLY | libc::O_NONBLOCK, false)?;
    check_fd_flags(DATA_W, libc::O_WRONLY, false)?;
    check_fd_flags(FULL_W, libc::O_WRONLY, false)?;
    let link = std::fs::read_link(format!("/proc/self/fd/{DATA_R}"))
        .map_err(|e| format!("readlink DATA: {e}"))?;
    if !link.to_string_lossy().starts_with("pipe:[") {
        return Err(format!("DATA's read end is {link:?}, not a pipe"));
    }
    let first = read_exact(DATA_R, HALF)?;
    check_byte_pattern("DATA", &first, 0)?;
    // The child's write goes through once there is room.
    let full = read_exact(FULL_R, FULL_SIZE)?;
    if full.iter().any(|&b| b != 0xf0) {
        return Err("FULL's bytes changed".into());
    }
    check_eq(
        "the child's word on EMPTY",
        read_exact(EMPTY_R, DONE.len())?,
        DONE.to_vec(),
    )?;
    check_eq(
        "the child's byte on FULL",
        read_exact(FULL_R, 1)?,
        b"Z".to_vec(),
    )?;
    let mut status = 0;
    // SAFETY: waits for our own child.
    let r = unsafe { libc::waitpid(kid, &mut status, 0) };
    check_os(r, "waitpid")?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("the child ended with status {status:#x}"));
    }
    check_eq(
        "CLOSED's bytes",
        read_exact(CLOSED_R, LAST_WORDS.len())?,
        LAST_WORDS.to_vec(),
    )?;
    check_eq("CLOSED at its end", read_some(CLOSED_R), Ok(0))?;

    // SAFETY: a zeroed stat is valid for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fills `st`.
    check_os(unsafe { libc::fstat(OWNED_R, &mut st) }, "fstat OWNED")?;
    check_eq(
        "OWNED's owner and group",
        (st.st_uid, st.st_gid),
        (OWNER, OWNER),
    )?;
    reopen_at(OWNED_R, libc::O_RDONLY | libc::O_NONBLOCK, -1)?;

    // SAFETY: F_GETFL takes no pointer.
    let flags = unsafe { libc::fcntl(EMPTY_RW, libc::F_GETFL) };
    check_eq(
        "EMPTY_RW's access mode",
        flags & libc::O_ACCMODE,
        libc::O_RDWR,
    )?;
    write_all(EMPTY_RW, b"x")?;
    check_eq(
        "EMPTY through EMPTY_RW",
        read_exact(EMPTY_R, 1)?,
        b"x".to_vec(),
    )?;
    // Empty again: a read that must not wait says so, as pipe() files do.
    let mut byte = 0u8;
    let iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    const RWF_NOWAIT: libc::c_int = 8;
    // SAFETY: one iovec over `byte`.
    let n = unsafe { libc::preadv2(EMPTY_R, &iov, 1, -1, RWF_NOWAIT) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    check_eq(
        "RWF_NOWAIT read of EMPTY",
        (n, errno),
        (-1, Some(libc::EAGAIN)),
    )
}

fn main() {
    let mut target = Target::spawn(setup);
    target.restart_with_children_asleep(1, "for the child to sleep in its write");
    target.finish();
    pass("pipes come back with their size, bytes and sleepers, shared by the processes that hold them");
}
