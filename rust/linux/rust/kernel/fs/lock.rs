// SPDX-License-Identifier: GPL-2.0

//! File locks (flock(), OFD and POSIX record locks, leases) as checkpoint finds those an
//! open file holds, and as restart takes them again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::{fdtable::FilesStruct, fdtable::OwnFds, file::File};
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};
use core::ptr::{self, NonNull};

/// Who owns a file lock, which is how it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// flock(): owned by the open file, over the whole file.
    Flock,
    /// An open file description lock (`F_OFD_SETLK`): owned by the open file.
    Ofd,
    /// A POSIX record lock (`F_SETLK`): owned by the fd table and the process that took it.
    Posix,
    /// A lease or a delegation (`F_SETLEASE`): owned by the open file.
    Lease,
}

/// A file lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLock {
    /// Its owner.
    pub kind: LockKind,
    /// Exclusive (`F_WRLCK`) rather than shared (`F_RDLCK`).
    pub exclusive: bool,
    /// The first byte it locks.
    pub start: i64,
    /// The last byte it locks; `i64::MAX` (`OFFSET_MAX`) for up to the end, however long the
    /// file grows.
    pub end: i64,
    /// The process that took it, as `F_GETLK` reports it to the current task: -1 for an OFD
    /// lock, 0 for a process it cannot see.
    pub pid: i32,
}

impl FileLock {
    fn from_c(l: &bindings::checkpoint_lock) -> FileLock {
        let kind = match l.kind as u32 {
            bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_FLOCK => LockKind::Flock,
            bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_OFD => LockKind::Ofd,
            bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_POSIX => LockKind::Posix,
            _ => LockKind::Lease,
        };
        FileLock {
            kind,
            exclusive: u32::from(l.type_) == bindings::F_WRLCK,
            start: l.start,
            end: l.end,
            pid: l.pid,
        }
    }

    fn to_c(self) -> bindings::checkpoint_lock {
        let kind = match self.kind {
            LockKind::Flock => bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_FLOCK,
            LockKind::Ofd => bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_OFD,
            LockKind::Posix => bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_POSIX,
            LockKind::Lease => bindings::checkpoint_lock_kind_CHECKPOINT_LOCK_LEASE,
        };
        let ty = match self.exclusive {
            true => bindings::F_WRLCK,
            false => bindings::F_RDLCK,
        };
        bindings::checkpoint_lock {
            start: self.start,
            end: self.end,
            pid: self.pid,
            kind: kind as u8,
            type_: ty as u8,
        }
    }
}

impl File {
    /// The locks the file holds, as `/proc/PID/fdinfo` lists them: taken through it and owned
    /// by itself (flock(), OFD locks, leases) or, if `files` is given, by that fd table
    /// (POSIX locks). Takes only a spinlock (the inode's lock list's), and allocates only if
    /// it holds some.
    pub fn locks(&self, files: Option<&FilesStruct>) -> Result<KVec<FileLock>> {
        let files = files.map_or(ptr::null_mut(), FilesStruct::as_ptr);
        let mut buf = KVec::<bindings::checkpoint_lock>::new();
        // Only a holder of the file or the table adds locks: a few tries are for one of them
        // outside a frozen tree.
        for _ in 0..4 {
            let room = buf.capacity();
            // SAFETY: the file is valid (type invariant); `files` is null or valid, and only
            // compared; `buf` has room for `room` locks, which the callee copies at most.
            let n = unsafe {
                bindings::checkpoint_file_locks(self.as_ptr(), files, buf.as_mut_ptr(), room as u32)
            } as usize;
            if n <= room {
                // SAFETY: the callee initialised the first `n` entries.
                unsafe { buf.set_len(n) };
                let mut locks = KVec::with_capacity(n, GFP_KERNEL)?;
                for l in buf.iter() {
                    locks.push(FileLock::from_c(l), GFP_KERNEL)?;
                }
                return Ok(locks);
            }
            buf = KVec::with_capacity(n + 4, GFP_KERNEL)?;
        }
        Err(EAGAIN)
    }

    /// Whether the file system of the file keeps its locks itself (`->lock` or `->flock`, as
    /// NFS does), where a lock may live on a server too.
    pub fn has_own_locking(&self) -> bool {
        // SAFETY: the file is valid (type invariant), and so are its operations, which never
        // change while it is open.
        unsafe {
            let fop = (*self.as_ptr()).f_op;
            (*fop).lock.is_some() || (*fop).flock.is_some()
        }
    }

    /// Takes again the flock() or OFD lock `lock`, for the file, which restart opened again:
    /// with the checks of flock(2) and fcntl(2), without waiting. `EAGAIN` if another owner
    /// holds a conflicting lock; `EBADF` if the file is not open for the lock's mode;
    /// `EINVAL` for another kind, or a range that is not one.
    pub fn take_lock(&self, lock: FileLock) -> Result {
        if !matches!(lock.kind, LockKind::Flock | LockKind::Ofd) {
            return Err(EINVAL);
        }
        let lock = lock.to_c();
        // SAFETY: the file is valid (type invariant); the callee checks `lock`, which is
        // valid for the call, and reads no fd for these kinds.
        to_result(unsafe { bindings::restart_file_lock(self.as_ptr(), 0, &lock) })
    }
}

impl OwnFds {
    /// Takes again the POSIX lock `lock` through fd `fd` of the current task, for its fd table
    /// and process: as `fcntl(fd, F_SETLK)` would. `EAGAIN` if another owner holds a
    /// conflicting lock; `EBADF` if `fd` is not open, or not for the lock's mode; `EINVAL` for
    /// another kind, or a range that is not one.
    pub fn take_posix_lock(&self, fd: u32, lock: FileLock) -> Result {
        if lock.kind != LockKind::Posix {
            return Err(EINVAL);
        }
        let lock = lock.to_c();
        // SAFETY: `fget` returns a counted file or NULL.
        let file = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(EBADF)?;
        // SAFETY: the `ARef` owns the reference taken above; `File` is transparent.
        let file: ARef<File> = unsafe { ARef::from_raw(file.cast()) };
        // SAFETY: the file is valid; the callee checks `lock`, valid for the call, and that
        // `fd` still opens the file once the lock is taken.
        to_result(unsafe { bindings::restart_file_lock(file.as_ptr(), fd, &lock) })
    }
}
