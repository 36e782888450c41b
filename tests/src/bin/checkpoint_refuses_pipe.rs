//! Pipes that restart could not make again as they are are refused with EOPNOTSUPP and a
//! log line saying why, and the target runs on with its pipe as it was:
//!
//! - a pipe end that the test holds too (taken with pidfd_getfd());
//! - a pipe that the test opened again through /proc/PID/fd: a file of its own;
//! - a pipe that holds packets (pipe2(O_DIRECT)).
//!
//! FIFOs open outside the tree are checkpoint_refuses_fifo's.

use std::os::fd::RawFd;

use cr_tests::outside::{refused_while_used, take_fd};
use cr_tests::{check_eq, check_os, pass, pipe_at, wait_restored, Check, Target, KILL};

const READ_END: RawFd = 37;
const WRITE_END: RawFd = 38;

fn pipe_with(flags: libc::c_int) -> Check {
    pipe_at(READ_END, WRITE_END, flags)?;
    // SAFETY: writes a literal to our own fd.
    let n = unsafe { libc::write(WRITE_END, b"hello".as_ptr().cast(), 5) };
    check_os(n as i64, "write")?;
    Ok(())
}

fn plain_pipe() -> Check {
    pipe_with(0)
}

fn still_hello() -> Check {
    let mut buf = [0u8; 5];
    // SAFETY: `buf` has room for 5 bytes.
    let n = unsafe { libc::read(READ_END, buf.as_mut_ptr().cast(), 5) };
    check_eq("bytes read back from the pipe", (n, &buf), (5, b"hello"))
}

/// The target's read end, opened again by the test as a file of its own.
fn reopen(pid: libc::pid_t) -> Result<Vec<RawFd>, String> {
    let path = std::ffi::CString::new(format!("/proc/{pid}/fd/{READ_END}")).unwrap();
    // SAFETY: opens a path of ours; the fd is the test's.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    check_os(fd, "open /proc/PID/fd")?;
    Ok(vec![fd])
}

fn main() {
    let taken = |pid| take_fd(pid, WRITE_END).map(|fd| vec![fd]);
    refused_while_used(plain_pipe, still_hello, taken, KILL, "shared with pid");
    refused_while_used(
        plain_pipe,
        still_hello,
        reopen,
        KILL,
        "pipe is also open outside the tree",
    );
    let packets = || pipe_with(libc::O_DIRECT);
    let mut target = Target::spawn(move || {
        packets()?;
        Ok(|| {
            wait_restored();
            still_hello()
        })
    });
    target.expect_refused("holds packets");
    target.finish();

    pass("a pipe shared with the test, opened again by it or holding packets is refused by name; the targets run on");
}
