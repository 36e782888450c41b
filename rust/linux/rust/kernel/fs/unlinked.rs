// SPDX-License-Identifier: GPL-2.0

//! Regular files deleted while open, or made with `O_TMPFILE`: their size, owner, mode and
//! bytes as checkpoint reads them, and such a file as restart makes it again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::{file::File, path::OwnedPath};
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};

/// What a deleted file holds besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnlinkedInfo {
    /// Its inode's address: it names the file while one of its files is held.
    pub id: usize,
    /// Its size in bytes.
    pub size: u64,
    /// Its open files: those that name it through one of its dentries.
    pub files: u32,
    /// Its links: more than none if it still has another name.
    pub nlink: u32,
    /// Its permission bits.
    pub mode: u32,
    /// The inode flags `chattr(1)` sets that it has (`S_APPEND`, `S_IMMUTABLE`...).
    pub iflags: u32,
    /// Its owner, in the caller's user namespace; `u32::MAX` if it has no mapping there.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Its change time, only compared: it changes with a write, a truncation, or a change
    /// of owner or mode through any of its files.
    pub ctime: u64,
    /// Whether `linkat(2)` may give it a name again (`O_TMPFILE` without `O_EXCL`).
    pub linkable: bool,
    /// Whether a shared mapping may write to it.
    pub writably_mapped: bool,
    /// Whether its directory is still there and can make it again (`O_TMPFILE`).
    pub tmpfile: bool,
}

/// Regular files that have no name.
pub struct Unlinked;

impl Unlinked {
    /// The deleted file `file` opens; `EINVAL` if it is not a deleted regular file. Takes no
    /// lock but spinlocks: it may be asked under the mmap lock, of a mapping's file.
    pub fn of(file: &File) -> Result<UnlinkedInfo> {
        let mut u = bindings::checkpoint_unlinked::default();
        // SAFETY: the file is valid (`ARef` invariant); the callee fills `u` before it
        // returns 0.
        to_result(unsafe { bindings::checkpoint_unlinked(file.as_ptr(), &mut u) })?;
        Ok(UnlinkedInfo {
            id: u.unlinked as usize,
            size: u.size,
            files: u.files,
            nlink: u.nlink,
            mode: u.mode,
            iflags: u.iflags,
            uid: u.uid,
            gid: u.gid,
            ctime: u.ctime,
            linkable: u.linkable,
            writably_mapped: u.writably_mapped,
            tmpfile: u.tmpfile,
        })
    }

    /// Whether the caller may read the bytes of the deleted file of `file`: through `file`,
    /// or with its own rights to the file.
    pub fn readable(file: &File) -> bool {
        // SAFETY: the file is valid (`ARef` invariant); the callee keeps no pointer to it.
        unsafe { bindings::checkpoint_unlinked_readable(file.as_ptr()) }
    }

    /// The directory the deleted file of `file` was in.
    pub fn dir(file: &File) -> Result<OwnedPath> {
        let mut path = bindings::path::default();
        // SAFETY: the file is valid (`ARef` invariant); the callee fills `path` with counted
        // references when it returns 0.
        to_result(unsafe { bindings::checkpoint_unlinked_dir(file.as_ptr(), &mut path) })?;
        // SAFETY: counted for us by the callee.
        Ok(unsafe { OwnedPath::from_counted(path) })
    }

    /// A file that reads the bytes of the deleted file of `file`, if `file` may read them or
    /// the caller may (`EACCES` otherwise), without updating its access time.
    pub fn reader(file: &File) -> Result<ARef<File>> {
        // SAFETY: the file is valid (`ARef` invariant); the callee returns a counted file or
        // an ERR_PTR.
        unsafe { File::from_new(bindings::checkpoint_unlinked_reader(file.as_ptr())) }
    }

    /// The next run of bytes the file `reader` ([`Unlinked::reader`]) reads at or after
    /// `pos`, between holes: its start and end; `None` after the last.
    pub fn next_run(reader: &File, pos: i64) -> Result<Option<(i64, i64)>> {
        let mut end = 0;
        // SAFETY: the file is valid (`ARef` invariant); the callee sets `end` when it
        // returns an offset.
        let start = unsafe { bindings::checkpoint_unlinked_next(reader.as_ptr(), pos, &mut end) };
        super::data_run(start, end)
    }

    /// A new, empty file of `size` bytes, unlinked, in the directory `dir` (looked up from
    /// the caller's root and cwd), that `linkat(2)` may name if `linkable`: its read-write
    /// file. [`Unlinked::set_owner`] ends it.
    pub fn create(dir: &CStr, size: i64, linkable: bool) -> Result<ARef<File>> {
        // SAFETY: `dir` is NUL-terminated; the callee returns a counted file or an ERR_PTR.
        unsafe {
            File::from_new(bindings::restart_unlinked(
                dir.as_char_ptr(),
                size,
                linkable,
            ))
        }
    }

    /// Gives the file [`Unlinked::create`] made, through `file`, its owner, group and mode
    /// as `fchown()` and `fchmod()` would let the caller.
    pub fn set_owner(file: &File, uid: u32, gid: u32, mode: u32) -> Result {
        let mode = u16::try_from(mode).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid (`ARef` invariant); the callee keeps no pointer to it.
        to_result(unsafe { bindings::restart_set_owner(file.as_ptr(), uid, gid, mode) })
    }

    /// Lets go of `file`, which [`Unlinked::create`] made, once it is filled and owned: its
    /// writable file goes at once (a restored process may run it, which no writer may hold).
    /// Returns an `O_PATH` file of it, for [`Unlinked::open`].
    pub fn done(file: ARef<File>) -> Result<ARef<File>> {
        let file = ARef::into_raw(file);
        // SAFETY: the callee takes over our reference to the valid file and returns a counted
        // file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_unlinked_done(file.as_ptr().cast())) }
    }

    /// Another file of the file [`Unlinked::done`] left, opened with `flags` as an `open()` of
    /// `/proc/self/fd/N` would be, with the caller's rights to it.
    pub fn open(file: &File, flags: u32) -> Result<ARef<File>> {
        // SAFETY: the file is valid (`ARef` invariant); the callee takes its own references
        // and returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_reopen(file.as_ptr(), flags)) }
    }
}
