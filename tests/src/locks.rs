//! File locks, for the tests of their checkpoint and restart: `struct flock` over a range, a
//! flock() that does not wait, and what F_GETLK and F_OFD_GETLK find in the way of a lock.

use std::fs::{File, OpenOptions};
use std::os::fd::RawFd;

use crate::target::{check_os, os_error};

/// A lock that [`get_lock`] found in the way: its type's name ([`lock_type_name`]), l_pid,
/// l_start and l_len.
pub type FoundLock = (&'static str, libc::pid_t, i64, i64);

/// The name of the lock type `ty`: `"F_RDLCK"`, `"F_WRLCK"` or `"F_UNLCK"`, for messages.
pub fn lock_type_name(ty: libc::c_short) -> &'static str {
    match ty as libc::c_int {
        libc::F_RDLCK => "F_RDLCK",
        libc::F_WRLCK => "F_WRLCK",
        libc::F_UNLCK => "F_UNLCK",
        _ => "an unknown lock type",
    }
}

/// A `struct flock` for a lock of type `ty` over `range`, (l_start, l_len) from the start of
/// the file (l_len 0: up to its end).
pub fn flock_struct(ty: libc::c_int, (start, len): (i64, i64)) -> libc::flock {
    // SAFETY: an all-zero struct flock is valid; the fields that matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start;
    fl.l_len = len;
    fl
}

/// flock(`fd`, `op` | LOCK_NB) of the file `what` names: whether it took the lock (`false`:
/// EWOULDBLOCK, someone else holds it); `Err` for any other error.
pub fn try_flock(fd: RawFd, op: libc::c_int, what: &str) -> Result<bool, String> {
    // SAFETY: a lock call on an fd number.
    if unsafe { libc::flock(fd, op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(os_error(format!("flock of {what} with LOCK_NB"))),
    }
}

/// A new open file of `path`, an owner of flock() and OFD locks of its own: read-write (and
/// the file made if missing) if `write`, else read-only.
pub fn open_own(path: &str, write: bool) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .create(write)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))
}

/// The name of the command [`get_lock`] runs: `"F_OFD_GETLK"` if `ofd`, else `"F_GETLK"`.
pub fn getlk_name(ofd: bool) -> &'static str {
    if ofd {
        "F_OFD_GETLK"
    } else {
        "F_GETLK"
    }
}

/// What F_GETLK (`ofd` false) or F_OFD_GETLK through `fd` finds in the way of a lock of type
/// `ty` over `range` (as for [`flock_struct`]): `None` if nothing is, else the lock it found.
pub fn get_lock(
    fd: RawFd,
    ofd: bool,
    ty: libc::c_int,
    range: (i64, i64),
) -> Result<Option<FoundLock>, String> {
    let mut fl = flock_struct(ty, range);
    let cmd = if ofd {
        libc::F_OFD_GETLK
    } else {
        libc::F_GETLK
    };
    // SAFETY: `fl` is a valid struct flock, which the call fills.
    let r = unsafe { libc::fcntl(fd, cmd, &mut fl) };
    check_os(r, format_args!("{} of fd {fd}", getlk_name(ofd)))?;
    Ok(match fl.l_type as libc::c_int {
        libc::F_UNLCK => None,
        _ => Some((lock_type_name(fl.l_type), fl.l_pid, fl.l_start, fl.l_len)),
    })
}
