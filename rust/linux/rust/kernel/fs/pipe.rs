// SPDX-License-Identifier: GPL-2.0

//! Pipes (`pipe(2)`) and FIFOs: their capacity and the bytes they hold, as checkpoint reads
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
    /// Whether it is a FIFO in a file system, not a `pipe(2)`.
    pub fifo: bool,
    /// A count of the opens of its files, which an open adds to: only compared, to tell
    /// whether a file was opened since.
    pub opens: u64,
    /// Whether the file, a reader of a FIFO, has seen no writer since it was opened, for
    /// which `poll()` does not report `EPOLLHUP`.
    pub waiting: bool,
}

impl PipeInfo {
    /// The pipe of `file`; `EINVAL` if `file` is not a pipe or a FIFO, `EOPNOTSUPP` for a
    /// notification pipe (`O_NOTIFICATION_PIPE`), `EINTR` if a fatal signal came while it
    /// waited for the pipe's lock.
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
            fifo: p.fifo,
            opens: p.opens,
            waiting: p.waiting,
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

/// A pipe made by restart, held by a non-blocking read end of its own until it is dropped,
/// and filled through a non-blocking write end of its own.
///
/// # Invariants
///
/// `read` is a file of the pipe, of a FIFO in a file system if `fifo` is set, and `write`
/// (if any) another file of the same pipe; both are non-blocking.
pub struct NewPipe {
    read: ARef<File>,
    write: Option<ARef<File>>,
    fifo: bool,
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
            // INVARIANT: the two ends `pipe(2)` makes with `O_NONBLOCK`.
            [Some(read), Some(write)] => Ok(NewPipe {
                read,
                write: Some(write),
                fifo: false,
            }),
            _ => Err(EINVAL),
        }
    }

    /// The pipe of the FIFO at `path` (opened with the caller's credentials, from its root
    /// and cwd), given `size` bytes; with a write end if it is to be filled (which takes the
    /// right to write to it). The read end takes the right to read it. `EBUSY` if files
    /// outside have the FIFO open or it holds bytes, `ESTALE` if `path` is not a FIFO,
    /// `EINVAL` or `EPERM` for the size as [`NewPipe::create`], or the error of the open.
    pub fn fifo(path: &CStr, size: u32, fill: bool) -> Result<NewPipe> {
        // Before the open, which would wake a writer outside asleep in open(2).
        // SAFETY: `path` is NUL-terminated; the callee keeps no pointer to it.
        to_result(unsafe { bindings::restart_fifo_free(path.as_char_ptr()) })?;
        // A reader that never waits, for which no writer waits either.
        let read = File::open(path, FIFO_OPEN | bindings::O_RDONLY)?;
        if read.inode().file_type() != bindings::S_IFIFO {
            return Err(ESTALE);
        }
        // SAFETY: the file is valid (`ARef` invariant); the callee keeps no pointer to it.
        to_result(unsafe { bindings::restart_fifo(read.as_ptr(), size) })?;
        // INVARIANT: `read` is a non-blocking file of a FIFO (`restart_fifo()` checked it).
        let mut pipe = NewPipe {
            read,
            write: None,
            fifo: true,
        };
        if fill {
            let flags = bindings::O_WRONLY | bindings::O_NONBLOCK;
            // INVARIANT: `open_fifo()` checked it is a file of the same pipe.
            pipe.write = Some(pipe.open_fifo(path, flags, false)?);
        }
        Ok(pipe)
    }

    /// Whether it is a FIFO's.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Writes `buf` into the pipe without waiting; the number of bytes written, short if
    /// the pipe is full (`EAGAIN` if it takes none). `EBADF` for a FIFO's made without a
    /// write end.
    pub fn fill(&self, buf: &[u8]) -> Result<usize> {
        self.write.as_ref().ok_or(EBADF)?.write_at(buf, 0)
    }

    /// Whether files other than its own have it open: a FIFO's, opened by its path.
    pub fn opened_elsewhere(&self) -> bool {
        let own = 1 + u32::from(self.write.is_some());
        PipeInfo::of(&self.read).is_ok_and(|p| p.files > own)
    }

    /// A new file of an anonymous pipe, opened with `flags` (an access mode, `O_NONBLOCK`,
    /// `O_LARGEFILE`: `EINVAL` for others), that takes `RWF_NOWAIT` if `nowait` (as the
    /// files of `pipe(2)` do).
    pub fn open(&self, flags: u32, nowait: bool) -> Result<ARef<File>> {
        // SAFETY: the file is valid (`ARef` invariant); the callee takes its own references
        // and returns a counted file or an ERR_PTR.
        unsafe {
            File::from_new(bindings::restart_pipe_open(
                self.read.as_ptr(),
                flags,
                nowait,
            ))
        }
    }

    /// A new file of a FIFO, opened by `path` with `flags` (an access mode, `O_NONBLOCK`,
    /// `O_LARGEFILE`) and the caller's credentials, that has seen no writer yet if `waiting`
    /// (a reader). `ESTALE` if `path` leads to another file, `EINVAL` for `waiting` on a file
    /// that is not a reader only.
    pub fn open_fifo(&self, path: &CStr, flags: u32, waiting: bool) -> Result<ARef<File>> {
        // With O_NONBLOCK, an open waits for no partner; `self.read` is a reader, so no
        // writer gets ENXIO.
        let file = File::open(path, flags | FIFO_OPEN)?;
        let nonblock = flags & bindings::O_NONBLOCK != 0;
        // SAFETY: both files are valid (`ARef` invariant); the callee keeps no pointer to
        // them.
        to_result(unsafe {
            bindings::restart_fifo_end(self.read.as_ptr(), file.as_ptr(), nonblock, waiting)
        })?;
        Ok(file)
    }
}

/// The flags every open of a FIFO by restart adds: never wait for a partner, and never make
/// a tty that the path may lead to instead the caller's controlling terminal.
const FIFO_OPEN: u32 = bindings::O_NONBLOCK | bindings::O_NOCTTY;
