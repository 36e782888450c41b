//! Raw wrappers for `checkpoint(2)` and `restart(2)`, errno helpers, the kernel release, and
//! the memfd calls that `restart --map` needs.
//!
//! The wrappers pass their arguments through unchanged, including invalid ones: the guest tests
//! call them with closed fds, bad flags and impossible pids on purpose.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};

/// `checkpoint(pid, fd, flags, logfd)`: dump the tree rooted at `pid` into `fd`.
pub fn checkpoint(pid: libc::pid_t, fd: RawFd, flags: u32, logfd: RawFd) -> io::Result<()> {
    checkpoint_unlinked(pid, fd, flags, logfd, 0)
}

/// `checkpoint(pid, fd, flags, logfd, unlinked_max)`: as [`checkpoint`], with the most bytes
/// the deleted files the tree holds may have in all, which the kernel reads with
/// `CKPT_UNLINKED` only.
pub fn checkpoint_unlinked(
    pid: libc::pid_t,
    fd: RawFd,
    flags: u32,
    logfd: RawFd,
    unlinked_max: u64,
) -> io::Result<()> {
    // SAFETY: the syscall takes only integers; the kernel validates every one of them.
    let ret = unsafe {
        libc::syscall(
            abi::NR_CHECKPOINT as libc::c_long,
            pid as libc::c_long,
            fd as libc::c_long,
            flags as libc::c_long,
            logfd as libc::c_long,
            unlinked_max as libc::c_long,
        )
    };
    syscall_result(ret).map(|_| ())
}

/// `restart(fd, flags, logfd)`: rebuild the tree stored in `fd`; returns the restored root's pid,
/// which is a child of the caller.
pub fn restart(fd: RawFd, flags: u32, logfd: RawFd) -> io::Result<libc::pid_t> {
    // SAFETY: as for `checkpoint`, integers only.
    let ret = unsafe {
        libc::syscall(
            abi::NR_RESTART as libc::c_long,
            fd as libc::c_long,
            flags as libc::c_long,
            logfd as libc::c_long,
        )
    };
    syscall_result(ret).map(|pid| pid as libc::pid_t)
}

/// The C library's text for an errno, without Rust's " (os error N)" suffix, so that messages read
/// like those of any other command-line tool.
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a NUL-terminated string that stays valid until the
    // next strerror call on this thread; it is copied out at once.
    unsafe {
        let p = libc::strerror(errno);
        if p.is_null() {
            return format!("Unknown error {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The text of an `io::Error`: strerror for OS errors, the message otherwise.
pub fn error_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => strerror(errno),
        None => err.to_string(),
    }
}

/// The symbolic name of the errnos this project's contracts use (`"EINVAL"`); `"errno N"` for
/// the others.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::E2BIG => "E2BIG",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// A raw syscall's return value: the error in `errno` when negative.
fn syscall_result(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The running kernel's release (`uname -r`), or `"unknown"` if uname fails.
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut uts: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut uts) != 0 {
            return "unknown".into();
        }
        CStr::from_ptr(uts.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// `memfd_create(name, flags)`: a new memfd, as a file.
pub fn memfd_create(name: &CStr, flags: libc::c_uint) -> io::Result<File> {
    // SAFETY: `name` is NUL-terminated; the call only reads it.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `fcntl(fd, F_GET_SEALS)`: the seals of the memfd `fd` (`EINVAL` for a file of another
/// kind).
pub fn seals(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: fcntl takes integers.
    let ret = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    syscall_result(ret.into()).map(|s| s as libc::c_int)
}

/// `fcntl(fd, F_ADD_SEALS, seals)`.
pub fn add_seals(fd: RawFd, seals: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl takes integers.
    let ret = unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) };
    syscall_result(ret.into()).map(|_| ())
}

/// `waitpid(pid, &status, 0)`, retried when a signal interrupts it; returns the wait status.
pub fn waitpid(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to store the status.
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_has_no_rust_suffix() {
        assert_eq!(strerror(libc::EINVAL), "Invalid argument");
        let err = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        assert_eq!(error_text(&err), "Operation not supported");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::EBADMSG), "EBADMSG");
        assert_eq!(errno_name(4095), "errno 4095");
    }
}
