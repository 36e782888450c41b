//! Signalfds come back with the signals they take: a non-blocking one for SIGUSR2 and a
//! real-time signal hands out a SIGUSR2 left pending at checkpoint and then a queued
//! real-time signal with its value, and has nothing more to give; a blocking, close-on-exec
//! one for SIGINT keeps its flags. /proc/PID/fdinfo shows the same masks before and after. A
//! signalfd that only an epoll of the test watches is refused by name: the watch would not
//! follow the new file.

use std::os::fd::RawFd;

use cr_tests::outside::{refused_while_used, watch_with_epoll};
use cr_tests::{
    check_eq, check_fd_flags, check_os, pass, signalfd_at, wait_restored, Check, Target, KILL,
};

/// A non-blocking signalfd for SIGUSR2 and [`RT`].
const BOTH: RawFd = 20;
/// A blocking, close-on-exec signalfd for SIGINT.
const INT: RawFd = 21;
/// SIGRTMIN + 1.
const RT: libc::c_int = 35;

/// The signal and value (`ssi_ptr`) a read of `fd` gives, or the errno.
fn read_signal(fd: RawFd) -> Result<(u32, u64), i32> {
    // SAFETY: a zeroed signalfd_siginfo is valid, and has room for what read() writes.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: as above.
    let n = unsafe { libc::read(fd, (&raw mut info).cast(), size) };
    match n {
        n if n == size as isize => Ok((info.ssi_signo, info.ssi_ptr)),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// The `sigmask:` line of `fd` in /proc/self/fdinfo.
fn fdinfo_mask(fd: RawFd) -> Result<String, String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| format!("fdinfo {fd}: {e}"))?;
    info.lines()
        .find(|l| l.starts_with("sigmask:"))
        .map(String::from)
        .ok_or_else(|| format!("fdinfo {fd} has no sigmask line"))
}

fn setup() -> Result<[String; 2], String> {
    signalfd_at(BOTH, &[libc::SIGUSR2, RT], libc::SFD_NONBLOCK)?;
    signalfd_at(INT, &[libc::SIGINT], libc::SFD_CLOEXEC)?;
    // Pending at checkpoint, taken through the restored signalfd.
    // SAFETY: raises a signal we block.
    check_os(unsafe { libc::raise(libc::SIGUSR2) }, "raise")?;
    Ok([fdinfo_mask(BOTH)?, fdinfo_mask(INT)?])
}

fn check(masks: &[String; 2]) -> Check {
    let rdwr = libc::O_RDWR;
    for (i, (fd, flags, cloexec)) in [(BOTH, rdwr | libc::O_NONBLOCK, false), (INT, rdwr, true)]
        .into_iter()
        .enumerate()
    {
        check_fd_flags(fd, flags, cloexec)?;
        check_eq(
            format_args!("fd {fd} fdinfo"),
            fdinfo_mask(fd)?,
            masks[i].clone(),
        )?;
    }
    check_eq(
        "the pending SIGUSR2 through the signalfd",
        read_signal(BOTH).map(|(signo, _)| signo),
        Ok(libc::SIGUSR2 as u32),
    )?;
    let value = libc::sigval {
        sival_ptr: 7 as *mut libc::c_void,
    };
    // SAFETY: queues a signal we block to ourselves.
    check_os(
        unsafe { libc::sigqueue(libc::getpid(), RT, value) },
        "sigqueue",
    )?;
    check_eq(
        "the queued real-time signal",
        read_signal(BOTH),
        Ok((RT as u32, 7)),
    )?;
    check_eq(
        "a read of the empty signalfd",
        read_signal(BOTH),
        Err(libc::EAGAIN),
    )
}

/// The refused target's signalfd.
fn watched() -> Check {
    signalfd_at(BOTH, &[libc::SIGUSR2], libc::SFD_NONBLOCK)
}

fn still_works() -> Check {
    check_eq(
        "a read of the empty signalfd",
        read_signal(BOTH),
        Err(libc::EAGAIN),
    )?;
    // SAFETY: raises a signal we block.
    check_os(unsafe { libc::raise(libc::SIGUSR2) }, "raise")?;
    let got = read_signal(BOTH).map(|(signo, _)| signo);
    check_eq(
        "SIGUSR2 through the signalfd",
        got,
        Ok(libc::SIGUSR2 as u32),
    )
}

fn main() {
    let mut target = Target::spawn(|| {
        let masks = setup()?;
        Ok(move || {
            wait_restored();
            check(&masks)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    let epoll = |pid| watch_with_epoll(pid, BOTH).map(|ep| vec![ep]);
    refused_while_used(watched, still_works, epoll, KILL, "epoll");
    pass("signalfds come back with their signals and flags, hand out a signal pending at checkpoint and one queued after restart; one an outside epoll watches is refused by name");
}
