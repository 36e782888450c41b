// SPDX-License-Identifier: GPL-2.0

//! Regular files deleted while open, or made with `O_TMPFILE` and never linked, saved with
//! `CKPT_UNLINKED`: their size, owner, mode and bytes, run by run between holes, written
//! once with the first of their files in the image, with the path of their directory from
//! the task's root; then each file's flags and position. Restart makes the file again in
//! that directory with `O_TMPFILE`, with the caller's rights, fills it, gives it its owner
//! and mode as `fchown(2)` and `fchmod(2)` would let the caller, and opens each file of it
//! as an open of `/proc/self/fd/N` would. Its name in `/proc/PID/fd` is then the one
//! `O_TMPFILE` gives (`#` and its inode number): the deleted name is not kept. Its mappings,
//! shared or private, map the new file, and a process whose executable it was (a binary
//! upgraded under a running service) gets it back as its executable: restart lets go of its
//! own writable file of it once it is filled.
//!
//! Such a file is storage that only its files reach: one also open outside the tree is
//! refused by leak detection ([`FileKind::behind`]) even when open files may be unshared,
//! as restart would make a copy. Its files are counted by the references to its dentries;
//! checkpoint reads it through a file of its own, which fsnotify sees (and an fanotify
//! permission event may refuse), so a reader of `/proc/PID/fd` or `PROCMAP_QUERY`,
//! khugepaged or an fanotify listener that holds a reference meanwhile may make a checkpoint
//! fail (`EBUSY`) that a retry makes. One deleted, linked, grown or written from outside
//! while the tree was saved is refused (`EBUSY`). The checkpoint caller bounds what the image
//! may hold of them: their sizes, holes included, each file once, must fit in the limit it
//! gives (`EFBIG` before anything is written otherwise).
//!
//! Refused: without `CKPT_UNLINKED`; a deleted name of a file that has another (a hard link:
//! its other name would not share the copy); one whose directory was removed too, is
//! outside the task's root or cannot make such files; one with inode flags (`chattr`); one
//! owned by a user or group the checkpointer's user namespace does not map; one whose bytes
//! neither its file nor the checkpointer may read; one of huge pages (hugetlbfs). At restart, a directory that gives its new files inode flags. Its times and
//! extended attributes are not saved.

use super::{
    content, cstr, made_with_first, opened_at, Behind, Escaped, FileKind, FileRef, Names, Shown,
};
use crate::image::{Dumper, Rec, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::unlinked::{Unlinked, UnlinkedInfo};
use kernel::prelude::*;

/// `O_TMPFILE`, which stays in the flags of the file it opened.
const TMPFILE: u32 = bindings::__O_TMPFILE | bindings::O_DIRECTORY;

/// exec's own flag, which stays in the flags of the file it opened, read-only.
const EXEC: u32 = bindings::__FMODE_EXEC as u32;

/// The flags a deleted file's file is opened with again: its access mode, `O_TMPFILE`, exec's
/// own (an executable's file) and the status flags that `open()` or `fcntl()` may have set.
const UNLINKED_FLAGS: u32 = TMPFILE
    | EXEC
    | bindings::O_NOFOLLOW
    | bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_NONBLOCK
    | bindings::O_LARGEFILE
    | bindings::O_NOATIME
    | bindings::O_DIRECT
    | bindings::O_DSYNC
    | bindings::__O_SYNC;

pub(super) struct UnlinkedFile;

impl FileKind for UnlinkedFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        let f = file.file();
        let deleted = f.flags() & bindings::O_PATH == 0
            && file.inode().file_type() == bindings::S_IFREG
            && f.path().is_unlinked();
        deleted.then_some(Ok(abi::FILE_KIND_UNLINKED))
    }

    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
        let u = Unlinked::of(file.file())?;
        let Some(why) = refused(names, file, &u) else {
            return names.count_unlinked(at, file, u.id, u.size);
        };
        log!(at.log, "{at}: a deleted file {why} ({})", Shown::of(file));
        Err(EOPNOTSUPP)
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        // One with another name is refused by its check, by that name.
        let u = Unlinked::of(file.file()).ok().filter(|u| u.nlink == 0)?;
        Some(Behind {
            key: u.id,
            what: "deleted file",
            files: u.files,
            opens: u.ctime,
            always: true,
        })
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        let u = Unlinked::of(file.file())?;
        // Deleted or grown from outside since it was checked, it was not checked as such.
        let checked = d.is_behind(u.id) && names.counted_unlinked(u.id) == Some(u.size);
        let (unlinked, first) = d.first_write(u.id as *const u8)?;
        if first && !checked {
            log!(
                d.log,
                "a file was deleted or changed outside the tree while it was being saved ({})",
                Shown::of(file)
            );
            return Err(EBUSY);
        }
        if first {
            dump_unlinked(d, names, file, unlinked, &u)?;
        }
        d.record(&abi::UnlinkedFile { unlinked, _pad0: 0 })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_UNLINKED
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let flags = f.f_flags;
        let tmpfile = flags & TMPFILE;
        if flags & !UNLINKED_FLAGS != 0
            || tmpfile != 0 && tmpfile != TMPFILE
            || flags & EXEC != 0 && flags & bindings::O_ACCMODE != bindings::O_RDONLY
            || flags & bindings::O_ACCMODE == bindings::O_ACCMODE
            || f.pos < 0
            || f.i_mode & bindings::S_IFMT != bindings::S_IFREG
        {
            return Err(r.bad("deleted file with flags, a position or a type it cannot have"));
        }
        let end = made_with_first(
            r,
            abi::RecordType::Unlinked,
            restore_unlinked,
            |e: &abi::UnlinkedFile| e.unlinked,
        )?;
        let Obj::Unlinked(unlinked) = r.lookup(end.unlinked)? else {
            return Err(r.bad("file that names an object that is not a deleted file"));
        };
        opened_at(r, "deleted file", Unlinked::open(unlinked, flags), f.pos)
    }
}

/// Why the deleted file `u` of `file` cannot be saved as it is, if it cannot.
fn refused(names: &mut Names, file: &FileRef, u: &UnlinkedInfo) -> Option<&'static str> {
    if !names.saves_unlinked() {
        Some("is saved only with CKPT_UNLINKED")
    } else if u.nlink != 0 {
        Some("name of a file that has another name (a hard link) is not supported")
    } else if file.file().flags() & !UNLINKED_FLAGS != 0 {
        Some("with status flags restart could not open it with is not supported")
    } else if u.iflags != 0 {
        Some("with inode flags (chattr) is not supported")
    } else if u.uid == u32::MAX || u.gid == u32::MAX {
        Some("owned by a user or group that the caller's user namespace does not map is not supported")
    } else if !Unlinked::readable(file.file()) {
        Some("that neither its file nor the caller may read is not supported")
    } else if !u.tmpfile {
        Some("whose directory was removed, or that its file system cannot make again (O_TMPFILE), is not supported")
    } else if Unlinked::dir(file.file()).map_or(true, |dir| names.name(&dir).is_none()) {
        Some("whose directory is outside the task's root is not supported")
    } else {
        None
    }
}

/// Writes the `Unlinked` record of the deleted file `u` of `file`, with objref `unlinked`,
/// its directory and its bytes.
fn dump_unlinked(
    d: &mut Dumper<'_>,
    names: &mut Names,
    file: &FileRef,
    unlinked: u32,
    u: &UnlinkedInfo,
) -> Result {
    let dir = Unlinked::dir(file.file())?;
    let Some(dir) = names.name(&dir) else {
        log!(
            d.log,
            "a deleted file whose directory is outside the task's root is not supported ({})",
            Shown::of(file)
        );
        return Err(EOPNOTSUPP);
    };
    let reader = Unlinked::reader(file.file()).inspect_err(|e| {
        log!(
            d.log,
            "a deleted file cannot be read ({}: {})",
            e.to_errno(),
            Shown::of(file)
        );
    })?;
    let runs = content::runs(u.size, |pos| Unlinked::next_run(&reader, pos))?;
    d.record(&abi::Unlinked {
        objref: unlinked,
        flags: if u.linkable {
            abi::UNLINKED_LINKABLE
        } else {
            0
        },
        size: u.size,
        runs: runs.len() as u64,
        mode: u.mode,
        uid: u.uid,
        gid: u.gid,
        _pad0: 0,
    })?;
    d.string(dir)?;
    content::dump(d, &runs, &"deleted file", |pos, buf| {
        reader.read_at(buf, pos)
    })?;
    // A file opened anew through /proc/PID/fd, or a write, since leak detection; the
    // reader is one more file.
    let now = Unlinked::of(file.file())?;
    let linked = now.nlink != 0 || now.size != u.size;
    if linked || !d.behind_unchanged(u.id, now.files.saturating_sub(1), now.ctime) {
        log!(
            d.log,
            "a deleted file was opened or changed outside the tree while it was being saved ({})",
            Shown::of(file)
        );
        return Err(EBUSY);
    }
    Ok(())
}

/// Makes the deleted file of an `Unlinked` record again, fills it with the runs that follow,
/// gives it its owner and mode and defines its objref, which it returns.
fn restore_unlinked(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result<u32> {
    let u = r.decode::<abi::Unlinked>(rec)?;
    let dir = r.string()?;
    let size = i64::try_from(u.size).ok();
    // Checkpoint refuses an owner it cannot name: -1 would leave the caller's.
    let unmapped = u.uid == u32::MAX || u.gid == u32::MAX;
    if u.flags & !abi::UNLINKED_LINKABLE != 0 || u.mode & !0o7777 != 0 || size.is_none() {
        return Err(r.bad("deleted file with flags, a mode or a size it cannot have"));
    }
    if unmapped {
        return Err(r.bad("deleted file of an owner or group that checkpoint cannot name"));
    }
    if r.defined(u.objref).is_some() {
        return Err(r.bad("deleted file written twice, or an objref that names another object"));
    }
    // Before the file is made.
    r.definable(u.objref)?;
    let cdir = cstr(&dir)?;
    let shown = Escaped(cdir.as_bytes());
    let linkable = u.flags & abi::UNLINKED_LINKABLE != 0;
    let file = Unlinked::create(cdir, size.unwrap_or(0), linkable).inspect_err(|e| {
        log!(
            r.log,
            "deleted file in {shown}: cannot make it ({})",
            e.to_errno()
        );
    })?;
    content::restore(
        r,
        &file,
        u.runs,
        u.size,
        &format_args!("deleted file in {shown}"),
    )?;
    Unlinked::set_owner(&file, u.uid, u.gid, u.mode).inspect_err(|e| {
        log!(
            r.log,
            "deleted file in {shown}: cannot give it its owner and mode ({})",
            e.to_errno()
        );
    })?;
    let held = Unlinked::done(file).inspect_err(|e| {
        log!(
            r.log,
            "deleted file in {shown}: cannot hold it ({})",
            e.to_errno()
        );
    })?;
    // Closes with the restart's objects, before any restored task runs.
    r.define(u.objref, Obj::Unlinked(held))?;
    Ok(u.objref)
}
