// SPDX-License-Identifier: GPL-2.0

//! Memory files (`memfd_create(2)`): their name, size, owner, mode and seals, and the bytes
//! they hold, run by run between holes, written once with the first of their files in the
//! image (in an fd table or a mapping), then each file's flags and position. Restart makes
//! the memfd again as `memfd_create(2)` would, within the `vm.memfd_noexec` policy, fills
//! it, gives it its owner and mode as `fchown(2)` and `fchmod(2)` would let the caller, then
//! its seals, and opens each file of it as an open of `/proc/self/fd/N` would. Mappings of
//! it map the new memfd.
//!
//! A memfd is shared memory: one with a file outside the tree, in an fd table or a mapping,
//! is refused by leak detection ([`FileKind::behind`]) even when open files may be unshared.
//! It counts the memfd's files by the references to its dentry, one opened anew through
//! `/proc/PID/fd` too, and each file's references as for any file. A reader of
//! `/proc/PID/fd` or `/proc/PID/map_files` holds a reference for the time of its call, which
//! may make a checkpoint fail that a retry makes. Its change time and files, taken then,
//! must be the same once its bytes are written: nothing opened or wrote to it meanwhile (to
//! the change time's tick).
//!
//! Refused: a memfd of huge pages; one sealed against future writes that a shared mapping
//! may still write (restart could not map it again); one with inode flags (`chattr`); one
//! owned by a user or group the checkpointer's user namespace does not map; one whose bytes
//! neither its file nor the checkpointer may read (the image would show them). Its times and
//! extended attributes are not saved: it comes back with the restart's times, and none.

use super::{
    check_made_anew, content, cstr, made_with_first, opened_at, Behind, Escaped, FileKind, FileRef,
    Names, Shown,
};
use crate::image::{Dumper, Rec, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::memfd::{Memfd, MemfdInfo, NAME_MAX};
use kernel::prelude::*;

/// The flags a memfd's file is opened with again: its access mode and the status flags that
/// `open()` or `fcntl()` may have set.
const MEMFD_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_NONBLOCK
    | bindings::O_LARGEFILE
    | bindings::O_NOATIME
    | bindings::O_DSYNC
    | bindings::__O_SYNC;

// The image's seals are the kernel's, which F_ADD_SEALS takes.
const _: () = assert!(
    abi::MEMFD_SEAL_SEAL == bindings::F_SEAL_SEAL
        && abi::MEMFD_SEAL_SHRINK == bindings::F_SEAL_SHRINK
        && abi::MEMFD_SEAL_GROW == bindings::F_SEAL_GROW
        && abi::MEMFD_SEAL_WRITE == bindings::F_SEAL_WRITE
        && abi::MEMFD_SEAL_FUTURE_WRITE == bindings::F_SEAL_FUTURE_WRITE
        && abi::MEMFD_SEAL_EXEC == bindings::F_SEAL_EXEC
);

/// Every seal.
const ALL_SEALS: u32 = abi::MEMFD_SEAL_SEAL
    | abi::MEMFD_SEAL_SHRINK
    | abi::MEMFD_SEAL_GROW
    | abi::MEMFD_SEAL_WRITE
    | abi::MEMFD_SEAL_FUTURE_WRITE
    | abi::MEMFD_SEAL_EXEC;

pub(super) struct MemfdFile;

/// The memfd of `file`, without its name.
fn info(file: &FileRef) -> Result<MemfdInfo> {
    let mut name = [0u8; NAME_MAX + 1];
    Memfd::of(file.file(), &mut name).map(|(m, _)| m)
}

impl FileKind for MemfdFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        match info(file) {
            Ok(_) => Some(Ok(abi::FILE_KIND_MEMFD)),
            Err(e) if e == EOPNOTSUPP => Some(Err("a memfd of huge pages (MFD_HUGETLB)")),
            Err(_) => None,
        }
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let why = refused(&info(file)?);
        check_made_anew(at, file, "a memfd", why, MEMFD_FLAGS)
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        let m = info(file).ok()?;
        Some(Behind {
            key: m.id,
            what: "memfd",
            files: m.files,
            opens: m.ctime,
            always: true,
        })
    }

    fn dump(d: &mut Dumper<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let mut name = [0u8; NAME_MAX + 1];
        let (m, name) = Memfd::of(file.file(), &mut name)?;
        let (memfd, first) = d.first_write(m.id as *const u8)?;
        if first {
            // Checked again: a mapping's file was checked without its flags.
            if let Some(why) = refused(&m) {
                log!(
                    d.log,
                    "a memfd {why} is not supported ({})",
                    Shown::of(file)
                );
                return Err(EOPNOTSUPP);
            }
            if !Memfd::readable(file.file()) {
                log!(
                    d.log,
                    "a memfd that neither its file nor the caller may read is not supported ({})",
                    Shown::of(file)
                );
                return Err(EOPNOTSUPP);
            }
            let runs = content::runs(m.size, |pos| Memfd::next_run(file.file(), pos))?;
            d.record(&abi::Memfd {
                objref: memfd,
                seals: m.seals,
                size: m.size,
                runs: runs.len() as u64,
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                _pad0: 0,
            })?;
            d.string(name)?;
            content::dump(d, &runs, &"memfd", |pos, buf| {
                Memfd::read(file.file(), pos, buf)
            })?;
            // A file opened anew through /proc/PID/fd, or a write, since leak detection.
            let now = info(file)?;
            if !d.behind_unchanged(m.id, now.files, now.ctime) {
                log!(
                    d.log,
                    "a memfd was opened or changed outside the tree while it was being saved ({})",
                    Shown::of(file)
                );
                return Err(EBUSY);
            }
        }
        d.record(&abi::MemfdFile { memfd, _pad0: 0 })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_MEMFD
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let flags = f.f_flags;
        if flags & !MEMFD_FLAGS != 0
            || flags & bindings::O_ACCMODE == bindings::O_ACCMODE
            || f.pos < 0
            || f.i_mode & bindings::S_IFMT != bindings::S_IFREG
        {
            return Err(
                r.bad("memfd file with flags, a position or a type a memfd's does not have")
            );
        }
        let end = made_with_first(
            r,
            abi::RecordType::Memfd,
            restore_memfd,
            |e: &abi::MemfdFile| e.memfd,
        )?;
        let Obj::Memfd(memfd) = r.lookup(end.memfd)? else {
            return Err(r.bad("memfd file that names an object that is not a memfd"));
        };
        opened_at(r, "memfd", Memfd::open(memfd, flags), f.pos)
    }
}

/// Why a memfd cannot be restored as it is, if it cannot.
fn refused(m: &MemfdInfo) -> Option<&'static str> {
    if m.seals & abi::MEMFD_SEAL_FUTURE_WRITE != 0 && m.writably_mapped {
        // Restart would map it after sealing it, which the seal forbids.
        Some("sealed against future writes (F_SEAL_FUTURE_WRITE) with a writable shared mapping")
    } else if m.fsflags != 0 {
        Some("with inode flags (FS_IOC_SETFLAGS, chattr)")
    } else if m.uid == u32::MAX || m.gid == u32::MAX {
        Some("owned by a user or group that the caller's user namespace does not map")
    } else {
        None
    }
}

/// Makes the memfd of a `Memfd` record, fills it with the runs that follow, seals it and
/// defines its objref, which it returns.
fn restore_memfd(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result<u32> {
    let m = r.decode::<abi::Memfd>(rec)?;
    let name = r.string()?;
    let size = i64::try_from(m.size).ok();
    if m.seals & !ALL_SEALS != 0 || m.mode & !0o7777 != 0 || size.is_none() {
        return Err(r.bad("memfd with seals, a mode or a size it cannot have"));
    }
    // Checkpoint refuses an owner it cannot name: -1 would leave the caller's.
    if m.uid == u32::MAX || m.gid == u32::MAX {
        return Err(r.bad("memfd of an owner or group that checkpoint cannot name"));
    }
    if r.defined(m.objref).is_some() {
        return Err(r.bad("memfd written twice, or an objref that names another object"));
    }
    // Before the memfd is made.
    r.definable(m.objref)?;
    let cname = cstr(&name)?;
    let shown = Escaped(cname.as_bytes());
    // As MFD_NOEXEC_SEAL would have made it, or MFD_EXEC.
    let exec = m.seals & abi::MEMFD_SEAL_EXEC == 0 || m.mode & 0o111 != 0;
    let file = Memfd::create(cname, size.unwrap_or(0), exec).inspect_err(|e| {
        log!(r.log, "memfd {shown}: cannot make it ({})", e.to_errno());
    })?;
    content::restore(r, &file, m.runs, m.size, &format_args!("memfd {shown}"))?;
    Memfd::seal(&file, m.uid, m.gid, m.mode, m.seals).inspect_err(|e| {
        log!(
            r.log,
            "memfd {shown}: cannot give it its owner, mode and seals ({})",
            e.to_errno()
        );
    })?;
    // Its own file closes with the restart's objects, before any restored task runs.
    r.define(m.objref, Obj::Memfd(file))?;
    Ok(m.objref)
}
