// SPDX-License-Identifier: GPL-2.0

//! File descriptors of the current task used for sequential I/O, as `read(2)`/`write(2)` do.
//!
//! C header: [`include/linux/file.h`](srctree/include/linux/file.h)

use crate::{bindings, error::code::*, error::Error, error::Result};
use core::{marker::PhantomData, ptr};

crate::static_assert!(
    core::mem::offset_of!(bindings::file, f_mode) == bindings::OFFSETOF_FILE_F_MODE
);
crate::static_assert!(
    core::mem::offset_of!(bindings::file, f_pos) == bindings::OFFSETOF_FILE_F_POS
);

/// Access modes of an open file (`FMODE_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Mode(u32);

impl Mode {
    /// The file was opened for reading.
    pub fn readable(self) -> bool {
        self.0 & bindings::FMODE_READ != 0
    }

    /// The file was opened for writing.
    pub fn writable(self) -> bool {
        self.0 & bindings::FMODE_WRITE != 0
    }

    /// The file has no position (pipes, sockets, character streams).
    pub fn stream(self) -> bool {
        self.0 & bindings::FMODE_STREAM != 0
    }
}

/// A file descriptor of the current task held like `fdget_pos()` (or `fdget()`) holds it: the
/// file stays valid and, when it is shared, its position is locked until the guard is dropped.
///
/// # Invariants
///
/// `word` is a non-empty `struct fd` value returned by `fdget_pos()` or `fdget()` and not yet
/// released; the guard is neither `Send` nor `Sync`, as it must be released by the task that
/// took it.
pub struct PosFd {
    word: usize,
    _not_send: PhantomData<*mut ()>,
}

impl PosFd {
    /// Takes descriptor `fd` of the current task and locks its position when the file is
    /// shared, as `read(2)` does; `EBADF` if it is not open.
    ///
    /// A task must not hold two of these on the same open file: the second would wait for the
    /// position lock the first holds. Use [`PosFd::get_unlocked`] for any other descriptor that
    /// may name the same file.
    pub fn get(fd: i32) -> Result<PosFd> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fdget_pos` accepts any descriptor number and returns an empty fd if unused.
        Self::from_word(unsafe { bindings::fdget_pos(fd) }.word as usize)
    }

    /// Takes descriptor `fd` without locking its position, as `fdget()` does: writes may
    /// interleave with other users of the same open file, which is fine for a log.
    pub fn get_unlocked(fd: i32) -> Result<PosFd> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fdget` accepts any descriptor number and returns an empty fd if unused.
        Self::from_word(unsafe { bindings::fdget(fd) }.word as usize)
    }

    fn from_word(word: usize) -> Result<PosFd> {
        if word & !Self::FLAG_MASK == 0 {
            return Err(EBADF);
        }
        // INVARIANT: `word` is a non-empty value from `fdget_pos` or `fdget`, whose release
        // `Drop` does according to the flag bits.
        Ok(PosFd {
            word,
            _not_send: PhantomData,
        })
    }

    const FLAG_MASK: usize = (bindings::FDPUT_FPUT | bindings::FDPUT_POS_UNLOCK) as usize;

    fn file(&self) -> *mut bindings::file {
        (self.word & !Self::FLAG_MASK) as *mut bindings::file
    }

    /// The file's access modes.
    pub fn mode(&self) -> Mode {
        // SAFETY: by the type invariant the file is valid; `f_mode` is fixed after open except
        // for bits that do not concern the access mode.
        Mode(unsafe { ptr::addr_of!((*self.file()).f_mode).read() })
    }

    /// Runs one `kernel_read`/`kernel_write`-style transfer at the file position and advances it.
    fn transfer(
        &self,
        op: impl FnOnce(*mut bindings::file, *mut bindings::loff_t) -> isize,
    ) -> Result<usize> {
        let file = self.file();
        let stream = self.mode().stream();
        // SAFETY: the file is valid (type invariant); its position is ours to use because
        // `fdget_pos` locked it when the file is shared.
        let mut pos = unsafe { ptr::addr_of!((*file).f_pos).read() };
        let ppos = if stream {
            ptr::null_mut()
        } else {
            ptr::addr_of_mut!(pos)
        };
        let ret = op(file, ppos);
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        if !stream {
            // SAFETY: as above.
            unsafe { ptr::addr_of_mut!((*file).f_pos).write(pos) };
        }
        Ok(ret as usize)
    }

    /// Reads up to `buf.len()` bytes at the file position; `Ok(0)` at end of file.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.transfer(|file, ppos| {
            // SAFETY: `file` is valid, `buf` is a kernel buffer of the given length.
            unsafe { bindings::kernel_read(file, buf.as_mut_ptr().cast(), buf.len(), ppos) }
        })
    }

    /// Writes all of `buf` at the file position, retrying short writes.
    pub fn write_all(&self, mut buf: &[u8]) -> Result {
        while !buf.is_empty() {
            let n = self.transfer(|file, ppos| {
                // SAFETY: `file` is valid, `buf` is a kernel buffer of the given length.
                unsafe { bindings::kernel_write(file, buf.as_ptr().cast(), buf.len(), ppos) }
            })?;
            if n == 0 {
                return Err(EIO);
            }
            buf = buf.get(n..).unwrap_or_default();
        }
        Ok(())
    }
}

impl Drop for PosFd {
    fn drop(&mut self) {
        let file = self.file();
        if self.word & bindings::FDPUT_POS_UNLOCK as usize != 0 {
            // SAFETY: `fdget_pos` locked the position of this valid file (type invariant).
            unsafe { bindings::__f_unlock_pos(file) };
        }
        if self.word & bindings::FDPUT_FPUT as usize != 0 {
            // SAFETY: `fdget_pos` took this reference on the file (type invariant).
            unsafe { bindings::fput(file) };
        }
    }
}
