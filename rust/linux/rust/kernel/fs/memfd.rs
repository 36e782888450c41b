// SPDX-License-Identifier: GPL-2.0

//! Memory files (`memfd_create(2)`): their name, size, owner, mode and seals, and their
//! bytes, as checkpoint reads them without touching them, and a memfd as restart makes,
//! fills and seals it again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};

/// What a memfd holds besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemfdInfo {
    /// Its inode's address: it names the memfd while one of its files is held.
    pub id: usize,
    /// Its size in bytes.
    pub size: u64,
    /// Its open files: those that name it through its dentry.
    pub files: u32,
    /// Its seals (`F_SEAL_*`).
    pub seals: u32,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner, in the caller's user namespace; `u32::MAX` if it has no mapping there.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Its inode flags (`FS_IOC_SETFLAGS`).
    pub fsflags: u32,
    /// Its change time, only compared: it changes with a write, a truncation, or a change
    /// of owner, mode or seals... through any of its files.
    pub ctime: u64,
    /// Whether a shared mapping may write to it.
    pub writably_mapped: bool,
}

/// The longest name of a memfd, `memfd:` included (`NAME_MAX`).
pub const NAME_MAX: usize = bindings::NAME_MAX as usize;

/// Memory files.
pub struct Memfd;

impl Memfd {
    /// The memfd of `file`, and its name (`memfd:` and what `memfd_create(2)` took), built
    /// in `name`: `EINVAL` if `file` is not a memfd's, `EOPNOTSUPP` for one of huge pages
    /// (`MFD_HUGETLB`).
    pub fn of<'b>(file: &File, name: &'b mut [u8; NAME_MAX + 1]) -> Result<(MemfdInfo, &'b [u8])> {
        let mut m = bindings::checkpoint_memfd::default();
        // SAFETY: the file is valid (`ARef` invariant); `name` has room for `NAME_MAX + 1`
        // bytes, as the callee is told; it fills `m` before it returns 0.
        to_result(unsafe {
            bindings::checkpoint_memfd(file.as_ptr(), &mut m, name.as_mut_ptr().cast(), name.len())
        })?;
        let len = name.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        let info = MemfdInfo {
            id: m.memfd as usize,
            size: m.size,
            files: m.files,
            seals: m.seals,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            fsflags: m.fsflags,
            ctime: m.ctime,
            writably_mapped: m.writably_mapped,
        };
        Ok((info, &name[..len]))
    }

    /// Whether the caller may read the bytes of the memfd of `file`: through `file`, or with
    /// its own rights to the memfd.
    pub fn readable(file: &File) -> bool {
        // SAFETY: the file is valid (`ARef` invariant); the callee keeps no pointer to it.
        unsafe { bindings::checkpoint_memfd_readable(file.as_ptr()) }
    }

    /// The next run of bytes the memfd of `file` holds at or after `pos`, between holes:
    /// its start and end; `None` after the last.
    pub fn next_run(file: &File, pos: i64) -> Result<Option<(i64, i64)>> {
        let mut end = 0;
        // SAFETY: the file is valid (`ARef` invariant); the callee sets `end` when it
        // returns an offset.
        let start = unsafe { bindings::checkpoint_memfd_next(file.as_ptr(), pos, &mut end) };
        super::data_run(start, end)
    }

    /// Copies the bytes the memfd of `file` holds from `pos` into `buf`, without updating
    /// its access time; the number copied, short at its size.
    pub fn read(file: &File, pos: i64, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: the file is valid (`ARef` invariant); `buf` is a kernel buffer of its
        // length.
        let n = unsafe {
            bindings::checkpoint_memfd_read(file.as_ptr(), pos, buf.as_mut_ptr().cast(), buf.len())
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// A new, empty memfd named `name` (with its `memfd:`) of `size` bytes, that is to be
    /// executable if `exec` or sealed against it otherwise, within the `vm.memfd_noexec`
    /// policy (`EACCES`): its read-write file. [`Memfd::seal`] ends it.
    pub fn create(name: &CStr, size: i64, exec: bool) -> Result<ARef<File>> {
        // SAFETY: `name` is NUL-terminated; the callee returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_memfd(name.as_char_ptr(), size, exec)) }
    }

    /// Gives the memfd [`Memfd::create`] made, through `file`, its owner, group and mode as
    /// `fchown()` and `fchmod()` would let the caller, then its seals.
    pub fn seal(file: &File, uid: u32, gid: u32, mode: u32, seals: u32) -> Result {
        let mode = u16::try_from(mode).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid (`ARef` invariant); the callee keeps no pointer to it.
        to_result(unsafe { bindings::restart_memfd_seal(file.as_ptr(), uid, gid, mode, seals) })
    }

    /// Another file of the memfd of `file`, opened with `flags` as an `open()` of
    /// `/proc/self/fd/N` would be, with the caller's rights to it.
    pub fn open(file: &File, flags: u32) -> Result<ARef<File>> {
        // SAFETY: the file is valid (`ARef` invariant); the callee takes its own references
        // and returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_memfd_open(file.as_ptr(), flags)) }
    }
}
