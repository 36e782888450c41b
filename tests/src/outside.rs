//! The test as a process outside the checkpointed tree that uses a target's file: takes it
//! with pidfd_getfd(), or watches it with an epoll of its own and no fd of it, which no
//! reference count shows.

use std::os::fd::RawFd;

use crate::{check_os, fail, log_names, wait_restored, Check, Target};

/// The target's fd `fd`, as an fd of the test.
pub fn take_fd(pid: libc::pid_t, fd: RawFd) -> Result<RawFd, String> {
    // SAFETY: pidfd_open and pidfd_getfd take integers and make fds of our own.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        check_os(pidfd, "pidfd_open")?;
        let got = libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0);
        libc::close(pidfd as RawFd);
        check_os(got, "pidfd_getfd")?;
        Ok(got as RawFd)
    }
}

/// Watches the target's fd `fd` with an epoll of the test's own, then closes the test's copy
/// of it: only the watch is left, which holds no reference to the file. Returns the epoll.
pub fn watch_with_epoll(pid: libc::pid_t, fd: RawFd) -> Result<RawFd, String> {
    let file = take_fd(pid, fd)?;
    // SAFETY: makes an epoll of our own.
    let ep = unsafe { libc::epoll_create1(0) };
    check_os(ep, "epoll_create1")?;
    let r = crate::epoll_add(ep, file, libc::EPOLLIN as u32, 0);
    // SAFETY: our copy of `file`, watched by `ep` through the file, not the fd.
    unsafe { libc::close(file) };
    r.map(|()| ep)
}

/// A target that runs `setup`, which the test then uses from outside the tree with `outside`
/// (which returns the test's fds to close after), must be refused by checkpoint with `flags`:
/// EOPNOTSUPP and a log line naming `token`. It runs on, and passes `works`.
pub fn refused_while_used(
    setup: fn() -> Check,
    works: fn() -> Check,
    outside: impl FnOnce(libc::pid_t) -> Result<Vec<RawFd>, String>,
    flags: u32,
    token: &str,
) {
    let target = Target::spawn(move || {
        setup()?;
        Ok(move || {
            wait_restored();
            works()
        })
    });
    expect_refused_while_used(target, outside, flags, token);
}

/// [`refused_while_used`] of a `target` already spawned (and set up for its checkpoint, as
/// with [`Target::save_unlinked`]): refused while the test uses it with `outside`, it runs on
/// and passes its own check.
pub fn expect_refused_while_used(
    mut target: Target,
    outside: impl FnOnce(libc::pid_t) -> Result<Vec<RawFd>, String>,
    flags: u32,
    token: &str,
) {
    let fds = outside(target.pid()).unwrap_or_else(|e| fail(e));
    let result = target.try_checkpoint(flags);
    let what = format!("checkpoint of a file with {token} outside the tree");
    target.expect_checkpoint_errno(result, libc::EOPNOTSUPP, &what);
    if !log_names(target.klog(), token) {
        target.fail(format!("no kernel log line names the {token}"));
    }
    target.wait_state("S", "to sleep on after a refused checkpoint");
    target.finish();
    for fd in fds {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
    }
}
