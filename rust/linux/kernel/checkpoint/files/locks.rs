// SPDX-License-Identifier: GPL-2.0

//! File locks: the flock() and OFD locks an open file owns, written after its `File` record,
//! and the POSIX locks an fd table owns, after its `Fd` records.
//!
//! Restart takes each lock again as its owner would, without waiting: for the file it opened
//! again, or through the fd of the table it restores, for the process that reads the table.
//! A lock another process took meanwhile fails the restart with `EBUSY`; the tree, killed at
//! checkpoint or not, must have dropped its own first. Leases and locks of file systems
//! that keep locks themselves (NFS) are refused.

use super::{FileRef, Shown};
use crate::image::{Dumper, Restorer};
use crate::objects::Place;
use crate::{abi, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::current_task;
use kernel::fs::{
    fdtable::{FilesStruct, OwnFds},
    lock::{FileLock, LockKind},
};
use kernel::prelude::*;

/// Refuses, with a log line naming it, a lock of `file`, held `at` a frozen task, that
/// restart could not take again: a lease, or one of a file system that keeps its own.
/// With the table `files` that holds it, also a POSIX lock that another process sharing the
/// table took: restart takes them for the process that reads the table. Returns the POSIX
/// locks of `files`.
pub(super) fn check(
    at: Place<'_>,
    file: &FileRef,
    files: Option<&FilesStruct>,
) -> Result<KVec<FileLock>> {
    let locks = file.file().locks(files)?;
    let Some(first) = locks.first() else {
        return Ok(locks);
    };
    if locks.iter().any(|l| l.kind == LockKind::Lease) {
        log!(
            at.log,
            "{at}: holds a lease (F_SETLEASE), which is not supported ({})",
            Shown::of(file)
        );
        return Err(EOPNOTSUPP);
    }
    if file.file().has_own_locking() {
        let kind = name(first.kind);
        log!(at.log, "{at}: holds a {kind} lock of a file system that keeps its locks itself, which is not supported ({})", Shown::of(file));
        return Err(EOPNOTSUPP);
    }
    let tgid = at.task.group_leader().vnr();
    if let Some(l) = locks
        .iter()
        .find(|l| l.kind == LockKind::Posix && l.pid != tgid)
    {
        let pid = l.pid;
        log!(at.log, "{at}: holds a POSIX lock that process {pid} took through the fd table it shares, which is not supported ({})", Shown::of(file));
        return Err(EOPNOTSUPP);
    }
    let mut posix = KVec::new();
    for l in locks.iter().filter(|l| l.kind == LockKind::Posix) {
        posix.push(*l, GFP_KERNEL)?;
    }
    Ok(posix)
}

/// What a log line calls a lock of `kind`.
fn name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Flock => "flock",
        LockKind::Ofd => "OFD",
        LockKind::Posix => "POSIX",
        LockKind::Lease => "lease",
    }
}

/// The locks `file` owns (flock(), OFD), to write after its `File` record. Checked with its
/// holders, if it has any fd: a lease, or a lock of a file system that keeps its own, is one
/// a holder outside the tree took since, or that of a file only mapped (an executable).
pub(super) fn owned(log: &Log, file: &FileRef) -> Result<KVec<FileLock>> {
    let locks = file.file().locks(None)?;
    let lease = locks.iter().any(|l| l.kind == LockKind::Lease);
    if lease || (!locks.is_empty() && file.file().has_own_locking()) {
        let what = if lease {
            "a lease"
        } else {
            "a lock of a file system that keeps its locks itself"
        };
        log!(
            log,
            "a file being saved holds {what}, which is not supported ({})",
            Shown::of(file)
        );
        return Err(EOPNOTSUPP);
    }
    Ok(locks)
}

/// Whether `file` owns a lock (flock(), OFD, a lease), which restart could not share with a
/// holder outside the tree: a copy of the file would not hold it with them.
/// Also if they cannot be listed.
pub(crate) fn owns_some(file: &FileRef) -> bool {
    !file.file().locks(None).is_ok_and(|l| l.is_empty())
}

/// Writes `locks` as `FileLock` records, those of a table (POSIX) with an fd of their file.
pub(super) fn dump<'a>(
    d: &mut Dumper<'_>,
    locks: impl Iterator<Item = (i32, &'a FileLock)>,
) -> Result {
    for (fd, l) in locks {
        let kind = match l.kind {
            LockKind::Flock => abi::LOCK_FLOCK,
            LockKind::Ofd => abi::LOCK_OFD,
            LockKind::Posix => abi::LOCK_POSIX,
            LockKind::Lease => return Err(EOPNOTSUPP),
        };
        d.record(&abi::FileLock {
            kind,
            mode: if l.exclusive {
                abi::LOCK_WRITE
            } else {
                abi::LOCK_READ
            },
            start: l.start,
            end: l.end,
            fd: if kind == abi::LOCK_POSIX { fd } else { 0 },
            _pad0: 0,
        })?;
    }
    Ok(())
}

/// Reads the next `FileLock` record, which must be of a lock `posix` or not.
fn read(r: &mut Restorer<'_, Obj>, posix: bool) -> Result<(FileLock, i32)> {
    let l = r.expect::<abi::FileLock>()?;
    let kind = match (l.kind, posix) {
        (abi::LOCK_FLOCK, false) => LockKind::Flock,
        (abi::LOCK_OFD, false) => LockKind::Ofd,
        (abi::LOCK_POSIX, true) => LockKind::Posix,
        _ => return Err(r.bad("file lock of an unknown kind, or not of its owner's")),
    };
    let exclusive = match l.mode {
        abi::LOCK_READ => false,
        abi::LOCK_WRITE => true,
        _ => return Err(r.bad("file lock neither shared nor exclusive")),
    };
    if l.start < 0 || l.end < l.start {
        return Err(r.bad("file lock of a range that is not one"));
    }
    if kind == LockKind::Flock && (l.start != 0 || l.end != i64::MAX) {
        return Err(r.bad("flock() lock of a part of its file"));
    }
    if (kind != LockKind::Posix && l.fd != 0) || l.fd < 0 {
        return Err(r.bad("file lock with an fd it cannot have"));
    }
    let lock = FileLock {
        kind,
        exclusive,
        start: l.start,
        end: l.end,
        pid: 0,
    };
    Ok((lock, l.fd))
}

/// Logs why a lock of the file `what` could not be taken again; `EBUSY` if another process
/// holds one in the way, which the caller may wait out.
fn refused(log: &Log, what: &dyn core::fmt::Display, lock: &FileLock, e: Error) -> Error {
    let (kind, range) = (name(lock.kind), (lock.start, lock.end));
    if e == EAGAIN {
        log!(
            log,
            "{what}: its {kind} lock of bytes {range:?} is held by another process"
        );
        return EBUSY;
    }
    // A file system's server interrupted (FUSE): the restart codes must not reach the caller.
    let e = match e.to_errno() {
        -516..=-512 => EINTR,
        _ => e,
    };
    log!(
        log,
        "{what}: cannot take its {kind} lock of bytes {range:?} again ({})",
        e.to_errno()
    );
    e
}

/// `EINTR` if the restart is being killed: each lock taken walks those of its inode, and an
/// image may hold many.
fn killed() -> Result {
    match current_task::fatal_signal_pending() {
        true => Err(EINTR),
        false => Ok(()),
    }
}

/// Takes again the `count` locks that follow the `File` record of `file`, just made.
pub(super) fn restore_owned(r: &mut Restorer<'_, Obj>, file: &FileRef, count: u32) -> Result {
    for _ in 0..count {
        killed()?;
        let (lock, _) = read(r, false)?;
        match file.file().take_lock(lock) {
            Ok(()) => {}
            Err(e) if e == EBADF => return Err(r.bad("lock of a file not open for its mode")),
            Err(e) => return Err(refused(r.log, &Shown::of(file), &lock, e)),
        }
        crate::resched();
    }
    Ok(())
}

/// Takes again the `count` POSIX locks that follow the `Fd` records of the current task's
/// table `fds`, just restored, for it and its process.
pub(super) fn restore_posix(r: &mut Restorer<'_, Obj>, fds: &OwnFds, count: u32) -> Result {
    for _ in 0..count {
        killed()?;
        let (lock, fd) = read(r, true)?;
        match fds.take_posix_lock(fd as u32, lock) {
            Ok(()) => {}
            Err(e) if e == EBADF => {
                return Err(r.bad("POSIX lock through an fd not open, or not for its mode"))
            }
            Err(e) => return Err(refused(r.log, &format_args!("fd {fd}"), &lock, e)),
        }
        crate::resched();
    }
    Ok(())
}

/// The number of `FileLock` records of `locks`, for the record they follow.
pub(super) fn count<T>(locks: &[T]) -> Result<u32> {
    u32::try_from(locks.len()).map_err(|_| E2BIG)
}
