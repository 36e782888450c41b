// SPDX-License-Identifier: GPL-2.0

//! Pipes (`pipe(2)`) and FIFOs: their capacity and the bytes they hold, written once with the
//! first of their files in the image, and each file's end. Restart makes the pipe and fills
//! it, then opens each file of it as an open of `/proc/self/fd/N` would: files of one pipe
//! share it again, whichever processes hold them. A pipe with a file outside the tree is
//! refused by leak detection ([`FileKind::behind`]).
//!
//! A FIFO's pipe is its inode's while files have it open. Each file of it is saved with its
//! path, and reopened by it with the caller's credentials; restart refuses (`EBUSY`) a FIFO
//! that files outside have open, whose bytes are not the image's. It holds the FIFO with a
//! reader of its own, which takes the right to read it, and fills it through a writer of its
//! own, which takes the right to write it. A reader that has seen no writer since it was
//! opened is told apart: `poll()` reports no hangup to it. Anyone allowed to may open a
//! FIFO while it is being saved: its files and opens are counted again once its bytes are
//! written.
//!
//! The bytes come back in as few buffers as they fit: a pipe that `write()`s of a few bytes
//! each had filled by its number of buffers takes more after restart, as it would after a
//! read. A pipe holding packets (`O_DIRECT`), whose boundaries that would lose, is refused.

use super::{
    check_made_anew, cstr, made_with_first, Behind, Escaped, FileKind, FileRef, Names, Shown,
};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::bindings;
use kernel::fs::pipe::{NewPipe, PipeInfo, PipePos};
use kernel::prelude::*;

/// The flags a pipe's file is opened with again: the access mode and `O_NONBLOCK` (and the
/// `O_LARGEFILE` of an `open()` of `/proc/self/fd/N`).
const PIPE_FLAGS: u32 = bindings::O_ACCMODE | bindings::O_NONBLOCK | bindings::O_LARGEFILE;

/// The flags a FIFO's file is opened with again by its path: those of a pipe's and those an
/// `open()` or `fcntl()` may have set besides, which change nothing a pipe does.
const FIFO_FLAGS: u32 = PIPE_FLAGS
    | bindings::O_APPEND
    | bindings::O_NOATIME
    | bindings::O_NOFOLLOW
    | bindings::O_DSYNC
    | bindings::__O_SYNC;

/// Bytes copied at a time.
const CHUNK: usize = abi::PIPE_DATA_MAX as usize;

pub(super) struct PipeFile;

impl FileKind for PipeFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        match PipeInfo::of(file.file()) {
            Ok(p) if p.fifo => Some(Ok(abi::FILE_KIND_FIFO)),
            Ok(_) => Some(Ok(abi::FILE_KIND_PIPE)),
            Err(e) if e == EOPNOTSUPP => Some(Err("a notification pipe (O_NOTIFICATION_PIPE)")),
            Err(_) => None,
        }
    }

    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
        let p = PipeInfo::of(file.file())?;
        if p.fifo {
            names.check(at, file)?;
        }
        let why = refused(&p);
        let flags = if p.fifo { FIFO_FLAGS } else { PIPE_FLAGS };
        check_made_anew(at, file, what(&p), why, flags)
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        let p = PipeInfo::of(file.file()).ok()?;
        Some(Behind {
            key: p.id,
            what: if p.fifo { "FIFO" } else { "pipe" },
            files: p.files,
            opens: p.opens,
            always: false,
        })
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        let p = PipeInfo::of(file.file())?;
        if p.fifo {
            names.write(d, file, "a FIFO")?;
        }
        let (pipe, first) = d.first_write(p.id as *const u8)?;
        if first {
            // Checked again: with CKPT_UNSHARE_OPEN_FILES, a writer outside may have added
            // to it since.
            if let Some(why) = refused(&p) {
                log!(d.log, "{} {why} is not supported", what(&p));
                return Err(EOPNOTSUPP);
            }
            // A FIFO's owner is its inode's, which stays in its file system.
            let (uid, gid) = if p.fifo { (0, 0) } else { (p.uid, p.gid) };
            d.record(&abi::Pipe {
                objref: pipe,
                size: p.size,
                len: p.len as u32,
                uid,
                gid,
                _pad0: 0,
            })?;
            dump_data(d, file, p.len as usize)?;
            // Anyone allowed to may open a FIFO (or, through /proc/PID/fd, a pipe) at any
            // time, and change its bytes: none was opened since leak detection counted them.
            let now = PipeInfo::of(file.file())?;
            if !d.behind_unchanged(p.id, now.files, now.opens) {
                log!(
                    d.log,
                    "{} was opened outside the tree while it was being saved ({})",
                    what(&p),
                    Shown::of(file)
                );
                return Err(EBUSY);
            }
        }
        let flags = if p.waiting { abi::PIPE_END_WAITING } else { 0 };
        d.record(&abi::PipeEnd { pipe, flags })
    }

    fn restores(kind: u32) -> bool {
        matches!(kind, abi::FILE_KIND_PIPE | abi::FILE_KIND_FIFO)
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let fifo = f.kind == abi::FILE_KIND_FIFO;
        let path = if fifo { Some(r.string()?) } else { None };
        let path = path.as_deref().map(cstr).transpose()?;
        let flags = f.f_flags;
        let nowait = f.f_mode & bindings::FMODE_NOWAIT != 0;
        let allowed = if fifo { FIFO_FLAGS } else { PIPE_FLAGS };
        if flags & !allowed != 0
            || flags & bindings::O_ACCMODE == bindings::O_ACCMODE
            || f.pos != 0
            || (fifo && (nowait || f.i_mode & bindings::S_IFMT != bindings::S_IFIFO))
        {
            return Err(r.bad("pipe file with flags or a position a pipe's file does not have"));
        }
        let make = |r: &mut Restorer<'_, Obj>, rec| restore_pipe(r, rec, path);
        let end = made_with_first(r, abi::RecordType::Pipe, make, |e: &abi::PipeEnd| e.pipe)?;
        let waiting = end.flags == abi::PIPE_END_WAITING;
        if end.flags & !abi::PIPE_END_WAITING != 0
            || waiting && (!fifo || flags & bindings::O_ACCMODE != bindings::O_RDONLY)
        {
            return Err(r.bad("pipe file with flags its end does not take"));
        }
        let Obj::Pipe(pipe) = r.lookup(end.pipe)? else {
            return Err(r.bad("pipe file that names an object that is not a pipe"));
        };
        if pipe.is_fifo() != fifo {
            return Err(r.bad("pipe file that names a FIFO, or a FIFO's that names a pipe"));
        }
        let file = match path {
            Some(path) => pipe.open_fifo(path, flags, waiting),
            None => pipe.open(flags, nowait),
        };
        let file = file.inspect_err(|e| match path {
            Some(path) => log!(
                r.log,
                "FIFO {}: cannot open a file of it ({})",
                Escaped(path.as_bytes()),
                e.to_errno()
            ),
            None => log!(r.log, "pipe: cannot open a file of it ({})", e.to_errno()),
        })?;
        Ok(FileRef::from(file))
    }
}

/// What a log line calls the pipe `p`, with its article.
fn what(p: &PipeInfo) -> &'static str {
    if p.fifo {
        "a FIFO"
    } else {
        "a pipe"
    }
}

/// Why a pipe cannot be restored as it is, if it cannot.
fn refused(p: &PipeInfo) -> Option<&'static str> {
    if p.packets {
        Some("that holds packets (written in O_DIRECT mode)")
    } else if p.len > u64::from(p.size) {
        Some("that holds more bytes than its size (spliced from a socket)")
    } else {
        None
    }
}

/// Writes the `len` bytes the pipe of `file` holds in `PipeData` records.
fn dump_data(d: &mut Dumper<'_>, file: &FileRef, len: usize) -> Result {
    let mut buf = KVVec::from_elem(0u8, len.min(CHUNK), GFP_KERNEL)?;
    let mut pos = PipePos::default();
    let mut off = 0;
    while off < len {
        let want = (len - off).min(CHUNK);
        let chunk = buf.get_mut(..want).ok_or(EINVAL)?;
        let n = PipeInfo::read(file.file(), &mut pos, chunk).inspect_err(|e| {
            log!(d.log, "pipe: cannot read its bytes ({})", e.to_errno());
        })?;
        if n == 0 {
            // Only a reader outside, which CKPT_UNSHARE_OPEN_FILES accepts, takes them.
            log!(d.log, "pipe: its bytes were read while it was being saved");
            return Err(EAGAIN);
        }
        d.raw(abi::RecordType::PipeData, buf.get(..n).ok_or(EINVAL)?)?;
        off += n;
        crate::resched();
    }
    Ok(())
}

/// Makes the pipe of a `Pipe` record, or the pipe of the FIFO at `fifo`, fills it with the
/// bytes that follow and defines its objref, which it returns.
fn restore_pipe(
    r: &mut Restorer<'_, Obj>,
    rec: crate::image::Rec,
    fifo: Option<&CStr>,
) -> Result<u32> {
    let p = r.decode::<abi::Pipe>(rec)?;
    if p.len > p.size {
        return Err(r.bad("pipe that holds more bytes than its size"));
    }
    if fifo.is_some() && (p.uid != 0 || p.gid != 0) {
        return Err(r.bad("FIFO with an owner of its own"));
    }
    if r.defined(p.objref).is_some() {
        return Err(r.bad("pipe written twice, or an objref that names another object"));
    }
    // Before the FIFO is opened and filled.
    r.definable(p.objref)?;
    let size = p.size;
    let pipe = match fifo {
        Some(path) => NewPipe::fifo(path, size, p.len > 0).inspect_err(|e| {
            let name = Escaped(path.as_bytes());
            if *e == EBUSY {
                log!(r.log, "FIFO {name}: files outside have it open");
            } else {
                log!(
                    r.log,
                    "FIFO {name}: cannot open it with {size} bytes ({})",
                    e.to_errno()
                );
            }
        }),
        None => NewPipe::create(size, p.uid, p.gid).inspect_err(|e| {
            log!(
                r.log,
                "pipe: cannot make one of {size} bytes ({})",
                e.to_errno()
            );
        }),
    };
    let pipe = pipe?;
    let mut left = p.len as usize;
    let mut buf = KVVec::from_elem(0u8, left.min(CHUNK), GFP_KERNEL)?;
    while left > 0 {
        let n = r.expect_raw(abi::RecordType::PipeData)? as usize;
        if n == 0 || n > left {
            return Err(r.bad("pipe data longer or shorter than the pipe holds"));
        }
        let bytes = buf.get_mut(..n).ok_or(EINVAL)?;
        r.read_raw(bytes)?;
        // Within its size, the new pipe takes them all without waiting, unless the records
        // cut them so that they take more buffers than it has, or a writer outside filled a
        // FIFO meanwhile.
        if pipe.fill(bytes).ok() != Some(n) {
            if pipe.opened_elsewhere() {
                log!(r.log, "FIFO: opened outside while restart filled it");
                return Err(EBUSY);
            }
            return Err(r.bad("pipe data that does not fit its size"));
        }
        left -= n;
        crate::resched();
    }
    // Its own ends close with the restart's objects, before any restored task runs.
    r.define(p.objref, Obj::Pipe(pipe))?;
    Ok(p.objref)
}
