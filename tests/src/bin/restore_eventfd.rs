//! Eventfds come back with their counter and mode: one with a count beyond 32 bits (which
//! eventfd2() cannot create) made non-blocking with fcntl(), a dup of it that shares its
//! counter, an EFD_SEMAPHORE one that hands out its count one at a time, and a close-on-exec
//! one at zero that a poll() sees empty and a write() wakes. An eventfd that io_uring signals
//! too (the test takes it with pidfd_getfd() and registers it) is refused by name, even when
//! the caller accepts unshared files, and so is one that only an epoll of the test watches:
//! restart could not link either to the new eventfd.

use std::os::fd::RawFd;

use cr_tests::outside::{refused_while_used, take_fd, watch_with_epoll};
use cr_tests::{check_eq, check_fd_flags, check_os, pass, poll_in, read_u64, Check, Target, KILL};

/// A non-blocking eventfd with a large count, and a dup of it.
const BIG: RawFd = 20;
const BIG_DUP: RawFd = 21;
/// An EFD_SEMAPHORE eventfd.
const SEM: RawFd = 22;
/// A close-on-exec eventfd at zero.
const EMPTY: RawFd = 23;
const BIG_COUNT: u64 = (1 << 40) + 5;
const SEM_COUNT: u64 = 3;

fn eventfd_at(fd: RawFd, count: u32, flags: libc::c_int) -> Check {
    // SAFETY: creates an fd and moves it to `fd`, which the target does not use otherwise.
    unsafe {
        let got = libc::eventfd(count, flags);
        check_os(got, "eventfd")?;
        let cloexec = flags & libc::EFD_CLOEXEC;
        check_os(libc::dup3(got, fd, cloexec), "dup3")?;
        libc::close(got);
    }
    Ok(())
}

fn write_u64(fd: RawFd, v: u64) -> Check {
    // SAFETY: writes 8 bytes from `v`.
    let n = unsafe { libc::write(fd, (&raw const v).cast(), 8) };
    check_os(n as i64, format_args!("write to eventfd {fd}"))?;
    check_eq(format_args!("bytes written to eventfd {fd}"), n, 8)
}

fn setup() -> Check {
    eventfd_at(BIG, 0, 0)?;
    write_u64(BIG, 5)?;
    write_u64(BIG, 1 << 40)?;
    // SAFETY: fcntl and dup2 on our own fds.
    unsafe {
        check_os(libc::fcntl(BIG, libc::F_SETFL, libc::O_NONBLOCK), "F_SETFL")?;
        check_os(libc::dup2(BIG, BIG_DUP), "dup2")?;
    }
    eventfd_at(
        SEM,
        SEM_COUNT as u32,
        libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK,
    )?;
    eventfd_at(EMPTY, 0, libc::EFD_CLOEXEC)
}

fn check() -> Check {
    let rdwr = libc::O_RDWR;
    for (fd, flags, cloexec) in [
        (BIG, rdwr | libc::O_NONBLOCK, false),
        (BIG_DUP, rdwr | libc::O_NONBLOCK, false),
        (SEM, rdwr | libc::O_NONBLOCK, false),
        (EMPTY, rdwr, true),
    ] {
        check_fd_flags(fd, flags, cloexec)?;
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map_err(|e| format!("readlink fd {fd}: {e}"))?;
        check_eq(
            format_args!("fd {fd} target"),
            link.to_string_lossy().into_owned(),
            "anon_inode:[eventfd]".to_string(),
        )?;
    }
    // The whole 64-bit count, taken at once, through the dup: one file.
    check_eq(
        "read of the big eventfd's dup",
        read_u64(BIG_DUP),
        Ok(BIG_COUNT),
    )?;
    check_eq(
        "read of the emptied big eventfd",
        read_u64(BIG),
        Err(libc::EAGAIN),
    )?;
    write_u64(BIG_DUP, 7)?;
    check_eq("read after a write through the dup", read_u64(BIG), Ok(7))?;
    // Semaphore mode: one at a time.
    for i in 0..SEM_COUNT {
        check_eq(format_args!("semaphore read {i}"), read_u64(SEM), Ok(1))?;
    }
    check_eq(
        "read of the drained semaphore",
        read_u64(SEM),
        Err(libc::EAGAIN),
    )?;
    // Blocking, and empty: poll() sees nothing to read until a write.
    check_eq("poll() of the empty eventfd", poll_in(EMPTY, 0)?, 0)?;
    write_u64(EMPTY, 2)?;
    check_eq(
        "poll() of the empty eventfd after a write",
        poll_in(EMPTY, 1000)?,
        1,
    )?;
    check_eq("read of the written eventfd", read_u64(EMPTY), Ok(2))
}

/// `struct io_uring_params` is 120 bytes.
fn io_uring_setup() -> Result<RawFd, String> {
    let mut params = [0u8; 120];
    // SAFETY: `params` is a valid, zeroed io_uring_params.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    check_os(fd, "io_uring_setup")?;
    Ok(fd as RawFd)
}

/// Registers the target's eventfd with a ring of the test's own; returns the fds to close.
fn register_with_io_uring(pid: libc::pid_t) -> Result<Vec<RawFd>, String> {
    const IORING_REGISTER_EVENTFD: libc::c_long = 4;
    let efd = take_fd(pid, BIG)?;
    let ring = io_uring_setup()?;
    // SAFETY: registers one eventfd, read from `efd`, with our own ring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            ring,
            IORING_REGISTER_EVENTFD,
            &raw const efd,
            1,
        )
    };
    check_os(r, "IORING_REGISTER_EVENTFD")?;
    Ok(vec![ring, efd])
}

/// The refused target's eventfd.
fn three() -> Check {
    eventfd_at(BIG, 3, 0)
}

fn still_three() -> Check {
    check_eq("the eventfd's count", read_u64(BIG), Ok(3))
}

fn main() {
    Target::round_trip(setup, check);
    // The test holds the eventfd too: the caller accepts that, not the ring.
    let unshared = KILL | abi::CKPT_UNSHARE_OPEN_FILES;
    refused_while_used(
        three,
        still_three,
        register_with_io_uring,
        unshared,
        "kernel subsystem",
    );
    let epoll = |pid| watch_with_epoll(pid, BIG).map(|ep| vec![ep]);
    refused_while_used(three, still_three, epoll, KILL, "epoll");
    pass("eventfds come back with a 64-bit count, O_NONBLOCK set by fcntl, a shared dup, semaphore mode and close-on-exec; one that io_uring signals or an outside epoll watches is refused by name");
}
