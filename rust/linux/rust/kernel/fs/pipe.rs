// SPDX-License-Identifier: GPL-2.0

//! Anonymous pipes (`pipe(2)`): their capacity and the bytes they hold, as checkpoint reads
//! them without taking them, and a new pipe as restart makes and fills it.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};
use core::ptr::NonNull;

/// What a pipe holds besides its bytes, read under its lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeInfo {
    /// The pipe's address: it names the pipe while one of its files is held.
    pub id: usize,
    /// Its capacity in bytes, as `F_GETPIPE_SZ` reports it.
    pub size: u32,
    /// The bytes it holds: more than `size` if a buffer spliced from a socket is longer than
    /// a page.
    pub len: u64,
    /// Its open files, of both ends.
    pub files: u32,
    /// Its owner and group, in the caller's user namespace.
    pub uid: u32,
    /// See `uid`.
    pub gid: u32,
    /// Whether it holds a packet, written in `O_DIRECT` mode.
    pub packets: bool,
}

impl PipeInfo {
    /// The pipe of `file`; `EINVAL` if `file` is not an anonymous pipe (a FIFO is not),
    /// `EOPNOTSUPP` for a notification pipe (`O_NOTIFICATION_PIPE`).
    pub fn of(file: &File) -> Result<PipeInfo> {
        let mut p = bindings::checkpoint_pipe::default();
        // SAFETY: the file is valid; the callee fills `p` before it returns 0.
        to_result(unsafe { bindings::checkpoint_pipe(file.as_ptr(), &mut p) })?;
        Ok(PipeInfo {
            id: p.pipe as usize,
            size: p.size,
            len: p.len,
            files: p.files,
            uid: p.uid,
            gid: p.gid,
            packets: p.packets,
        })
    }

    /// Copies the bytes the pipe of `file` holds from `pos` (zero the first time), leaving
    /// them there, and moves `pos` on past them; returns how many it copied (0 at the end).
    pub fn read(file: &File, pos: &mut PipePos, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: the file is valid; `pos` is a valid position; `buf` is a kernel buffer of
        // its length.
        let n = unsafe {
            bindings::checkpoint_pipe_read(
                file.as_ptr(),
                &mut pos.0,
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }
}

/// Where [`PipeInfo::read`] goes on in the bytes of a pipe.
#[derive(Default)]
pub struct PipePos(bindings::checkpoint_pipe_pos);

/// A pipe made by restart, held by a non-blocking read end and write end of its own until
/// it is dropped.
pub struct NewPipe {
    read: ARef<File>,
    write: ARef<File>,
}

impl NewPipe {
    /// An empty pipe of `size` bytes (as `F_SETPIPE_SZ` takes it, within the caller's
    /// limits), owned by `uid` and `gid` of the caller's user namespace (as `chown()` would
    /// let the caller set them): `EINVAL` for a size that `F_SETPIPE_SZ` would round or ids
    /// without a mapping, `EPERM` beyond the caller's limits or rights.
    pub fn create(size: u32, uid: u32, gid: u32) -> Result<NewPipe> {
        let mut res = [core::ptr::null_mut(); 2];
        // SAFETY: `res` has room for the two files the callee makes.
        to_result(unsafe { bindings::restart_pipe(size, uid, gid, res.as_mut_ptr()) })?;
        let own = |f: *mut bindings::file| {
            let f = NonNull::new(f)?;
            // SAFETY: the callee returned 0, so each is a counted file, which the `ARef`
            // owns from here.
            Some(unsafe { ARef::from_raw(f.cast::<File>()) })
        };
        match res.map(own) {
            [Some(read), Some(write)] => Ok(NewPipe { read, write }),
            _ => Err(EINVAL),
        }
    }

    /// Writes `buf` into the pipe without waiting; the number of bytes written, short if
    /// the pipe is full.
    pub fn fill(&self, buf: &[u8]) -> Result<usize> {
        self.write.write_at(buf, 0)
    }

    /// A new file of the pipe, opened with `flags` (an access mode, `O_NONBLOCK`,
    /// `O_LARGEFILE`: `EINVAL` for others), that takes `RWF_NOWAIT` if `nowait` (as the
    /// files of `pipe(2)` do).
    pub fn open(&self, flags: u32, nowait: bool) -> Result<ARef<File>> {
        // SAFETY: the file is valid; the callee takes its own references and returns a
        // counted file or an ERR_PTR.
        unsafe {
            File::from_new(bindings::restart_pipe_open(
                self.read.as_ptr(),
                flags,
                nowait,
            ))
        }
    }
}
