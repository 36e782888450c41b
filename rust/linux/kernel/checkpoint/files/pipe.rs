// SPDX-License-Identifier: GPL-2.0

//! Anonymous pipes (`pipe(2)`): their capacity and the bytes they hold, written once with the
//! first of their files in the image, and each file's end. Restart makes the pipe and fills
//! it, then opens each file of it as an open of `/proc/self/fd/N` would: files of one pipe
//! share it again, whichever processes hold them. A pipe with a file outside the tree is
//! refused by leak detection ([`FileKind::behind`]).
//!
//! The bytes come back in as few buffers as they fit: a pipe that `write()`s of a few bytes
//! each had filled by its number of buffers takes more after restart, as it would after a
//! read. A pipe holding packets (`O_DIRECT`), whose boundaries that would lose, is refused.

use super::{check_made_anew, Behind, FileKind, FileRef, Names};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::bindings;
use kernel::fs::pipe::{NewPipe, PipeInfo, PipePos};
use kernel::prelude::*;

/// The flags a pipe's file is opened with again: the access mode and `O_NONBLOCK` (and the
/// `O_LARGEFILE` of an `open()` of `/proc/self/fd/N`).
const PIPE_FLAGS: u32 = bindings::O_ACCMODE | bindings::O_NONBLOCK | bindings::O_LARGEFILE;

/// Bytes copied at a time.
const CHUNK: usize = abi::PIPE_DATA_MAX as usize;

pub(super) struct PipeFile;

impl FileKind for PipeFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        match PipeInfo::of(file.file()) {
            Ok(_) => Some(Ok(abi::FILE_KIND_PIPE)),
            Err(e) if e == EOPNOTSUPP => Some(Err("a notification pipe (O_NOTIFICATION_PIPE)")),
            Err(_) => None,
        }
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let p = PipeInfo::of(file.file())?;
        let why = refused(&p);
        check_made_anew(at, file, "a pipe", why, PIPE_FLAGS)
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        let p = PipeInfo::of(file.file()).ok()?;
        Some(Behind {
            key: p.id,
            what: "pipe",
            files: p.files,
        })
    }

    fn dump(d: &mut Dumper<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let p = PipeInfo::of(file.file())?;
        let (pipe, first) = d.first_write(p.id as *const u8)?;
        if first {
            // Checked again: with CKPT_UNSHARE_OPEN_FILES, a writer outside may have added
            // to it since.
            if let Some(why) = refused(&p) {
                log!(d.log, "a pipe {why} is not supported");
                return Err(EOPNOTSUPP);
            }
            d.record(&abi::Pipe {
                objref: pipe,
                size: p.size,
                len: p.len as u32,
                uid: p.uid,
                gid: p.gid,
                _pad0: 0,
            })?;
            dump_data(d, file, p.len as usize)?;
        }
        d.record(&abi::PipeEnd { pipe, _pad0: 0 })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_PIPE
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let mut rec = r.next()?;
        let mut made = None;
        if rec.ty == abi::RecordType::Pipe.id() {
            made = Some(restore_pipe(r, rec)?);
            rec = r.next()?;
        }
        let end = r.decode::<abi::PipeEnd>(rec)?;
        if made.is_some_and(|p| p != end.pipe) {
            return Err(r.bad("pipe that none of its files opens"));
        }
        let flags = f.f_flags;
        if flags & !PIPE_FLAGS != 0
            || flags & bindings::O_ACCMODE == bindings::O_ACCMODE
            || f.pos != 0
        {
            return Err(r.bad("pipe file with flags or a position a pipe's file does not have"));
        }
        let Obj::Pipe(pipe) = r.lookup(end.pipe)? else {
            return Err(r.bad("pipe file that names an object that is not a pipe"));
        };
        let nowait = f.f_mode & bindings::FMODE_NOWAIT != 0;
        let file = pipe.open(flags, nowait).inspect_err(|e| {
            log!(r.log, "pipe: cannot open a file of it ({})", e.to_errno());
        })?;
        Ok(FileRef::from(file))
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

/// Makes the pipe of a `Pipe` record, fills it with the bytes that follow and defines its
/// objref, which it returns.
fn restore_pipe(r: &mut Restorer<'_, Obj>, rec: crate::image::Rec) -> Result<u32> {
    let p = r.decode::<abi::Pipe>(rec)?;
    if p.len > p.size {
        return Err(r.bad("pipe that holds more bytes than its size"));
    }
    if r.defined(p.objref).is_some() {
        return Err(r.bad("pipe written twice, or an objref that names another object"));
    }
    let pipe = NewPipe::create(p.size, p.uid, p.gid).inspect_err(|e| {
        let size = p.size;
        log!(
            r.log,
            "pipe: cannot make one of {size} bytes ({})",
            e.to_errno()
        );
    })?;
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
        // cut them so that they take more buffers than it has.
        if pipe.fill(bytes).ok() != Some(n) {
            return Err(r.bad("pipe data that does not fit its size"));
        }
        left -= n;
        crate::resched();
    }
    r.define(p.objref, Obj::Pipe(pipe))?;
    Ok(p.objref)
}
