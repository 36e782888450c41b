// SPDX-License-Identifier: GPL-2.0

//! Open files, the fd table, and the fs_struct (root, cwd, umask).
//!
//! Each kind of file is a module under `files/` with one [`FileKind`] impl, listed in
//! [`KINDS`]: `by_path` for the files reopened by their path (regular files, directories, a
//! few stateless character devices), `eventfd`, `signalfd`, `timerfd`, `epoll`, `pipe` (pipes
//! and FIFOs), `unix` (unix socket pairs), `pty` (unix98 ptys), `memfd`, `unlinked` (deleted
//! files); `content` saves the bytes of the last two, and `locks` the file locks of every
//! kind. Every other file is refused before anything is written.

mod by_path;
mod content;
#[cfg(CONFIG_EPOLL)]
mod epoll;
#[cfg(CONFIG_EVENTFD)]
mod eventfd;
mod locks;
#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
mod memfd;
mod pipe;
#[cfg(CONFIG_UNIX98_PTYS)]
mod pty;
#[cfg(CONFIG_SIGNALFD)]
mod signalfd;
#[cfg(CONFIG_TIMERFD)]
mod timerfd;
#[cfg(CONFIG_UNIX)]
mod unix;
mod unlinked;

#[cfg(CONFIG_UNIX98_PTYS)]
pub(crate) use pty::{
    controlling_ttys, set_controlling as set_controlling_ttys, start as start_ptys,
};
#[cfg(CONFIG_UNIX)]
pub(crate) use unix::{
    carried, check_peers as check_socket_peers, dump_later, finish as finish_sockets,
    unlink_made as unlink_made_sockets, UnixNames, UnixPair,
};

use crate::image::{Dumper, Rec, Restorer};
use crate::objects::{Place, Where};
use crate::shared::{self, Joinable, Shareable};
use crate::{abi, abi::Record, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use kernel::bindings;
use kernel::fs::{
    fdtable::{FilesStruct, OwnFds},
    file::File,
    fs_struct::{FsPaths, FsStruct},
    inode::Inode,
    lock::FileLock,
    path::{OwnedPath, Path},
};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::task::Task;
use kernel::task_lock::Held;
use kernel::types::ARef;

/// Longest path saved (PATH_MAX).
const PATH_MAX: usize = abi::STRING_MAX as usize;

/// A counted reference to an open file.
#[derive(Clone)]
pub(crate) struct FileRef(ARef<File>);

impl From<&File> for FileRef {
    fn from(file: &File) -> FileRef {
        FileRef(file.into())
    }
}

impl From<ARef<File>> for FileRef {
    fn from(file: ARef<File>) -> FileRef {
        FileRef(file)
    }
}

impl FileRef {
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }

    pub(crate) fn file(&self) -> &File {
        &self.0
    }

    /// The file's inode.
    pub(crate) fn inode(&self) -> &Inode {
        self.0.inode()
    }
}

/// A file as a log line names it, the way `/proc/PID/fd` shows it: its path as the dumper
/// sees it or, for a file without one, what it is (`anon_inode:[eventfd]`, `pipe:[1234]`).
pub(crate) struct Shown {
    buf: KVec<u8>,
    name: core::ops::Range<usize>,
}

impl Shown {
    pub(crate) fn of(file: &FileRef) -> Shown {
        let mut buf = KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL).unwrap_or_else(|_| KVec::new());
        let mut name = 0..0;
        let start = buf.as_ptr() as usize;
        if let Ok(n) = file.file().path().d_path(&mut buf) {
            let at = n.as_ptr() as usize - start;
            name = at..at + n.len();
        }
        Shown { buf, name }
    }
}

impl core::fmt::Display for Shown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Escaped(&self.buf[self.name.clone()]).fmt(f)
    }
}

/// A file name as a log line shows it: bytes that are not printable ASCII are escaped, so
/// that a name (from a file system or an image) cannot forge log lines, and a long name is
/// cut short, so that the line keeps its end (a log line is 256 bytes).
pub(crate) struct Escaped<'a>(pub(crate) &'a [u8]);

impl core::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const LONGEST: usize = 96;
        let name = self.0;
        if name.is_empty() {
            return f.write_str("?");
        }
        let (name, cut) = match name.len() > LONGEST {
            true => (&name[..LONGEST], "..."),
            false => (name, ""),
        };
        for &b in name {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str(cut)
    }
}

/// `new_encode_dev()`: a dev_t as user space sees it.
fn encode_dev(dev: u32) -> u64 {
    let (major, minor) = (u64::from(dev >> 20), u64::from(dev & 0xfffff));
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// `new_decode_dev()`: a dev_t as user space sees it, back to the kernel's.
fn decode_dev(dev: u64) -> u32 {
    let (major, minor) = ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    (major << 20 | minor) as u32
}

/// A kind of open file, one module each, listed in [`KINDS`]: how checkpoint recognizes and
/// writes it, and how restart makes it again. Every kind has the same `File` record (objref,
/// kind, flags, position, inode identity); what follows the record is the kind's own.
pub(crate) trait FileKind {
    /// The `FILE_KIND_*` that `file` is saved as, or why it cannot be; `None` if it is not of
    /// this kind.
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>>;

    /// Checks, before anything is written, that `file`, held `at` a frozen task, can be
    /// saved; `EOPNOTSUPP` and a log line if not.
    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result;

    /// The object behind `file` that other open files may share (a pipe), which leak
    /// detection counts the files of; none by default.
    fn behind(_file: &FileRef) -> Option<Behind> {
        None
    }

    /// Writes the files that `file` names (those an epoll instance watches), which restart
    /// must have made before it: before its `File` record. None by default.
    fn dump_named(_d: &mut Dumper<'_>, _names: &mut Names, _file: &FileRef) -> Result {
        Ok(())
    }

    /// Writes what follows the `File` record of `file`.
    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result;

    /// Whether records of `FILE_KIND_*` `kind` are this kind's.
    fn restores(kind: u32) -> bool;

    /// Makes the file of the `File` record `f` again, from what follows it.
    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef>;
}

/// A [`FileKind`]'s functions, for the table of kinds.
struct Ops {
    classify: fn(&FileRef) -> Option<core::result::Result<u32, &'static str>>,
    check: fn(Place<'_>, &mut Names, &FileRef) -> Result,
    behind: fn(&FileRef) -> Option<Behind>,
    dump_named: fn(&mut Dumper<'_>, &mut Names, &FileRef) -> Result,
    dump: fn(&mut Dumper<'_>, &mut Names, &FileRef) -> Result,
    restores: fn(u32) -> bool,
    restore: fn(&mut Restorer<'_, Obj>, &abi::File) -> Result<FileRef>,
}

impl Ops {
    const fn of<K: FileKind>() -> Ops {
        Ops {
            classify: K::classify,
            check: K::check,
            behind: K::behind,
            dump_named: K::dump_named,
            dump: K::dump,
            restores: K::restores,
            restore: K::restore,
        }
    }
}

/// Every kind of file checkpoint saves, asked in this order.
///
/// The kinds known by their file operations come before those known by their inode's type.
const KINDS: &[Ops] = &[
    #[cfg(CONFIG_EVENTFD)]
    Ops::of::<eventfd::EventfdFile>(),
    #[cfg(CONFIG_SIGNALFD)]
    Ops::of::<signalfd::SignalfdFile>(),
    #[cfg(CONFIG_TIMERFD)]
    Ops::of::<timerfd::TimerfdFile>(),
    #[cfg(CONFIG_EPOLL)]
    Ops::of::<epoll::EpollFile>(),
    Ops::of::<pipe::PipeFile>(),
    #[cfg(CONFIG_UNIX)]
    Ops::of::<unix::UnixFile>(),
    #[cfg(CONFIG_UNIX98_PTYS)]
    Ops::of::<pty::PtyFile>(),
    #[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
    Ops::of::<memfd::MemfdFile>(),
    // A memfd's dentry is unlinked too.
    Ops::of::<unlinked::UnlinkedFile>(),
    Ops::of::<by_path::ByPath>(),
];

/// The flags of a file that restart makes anew instead of reopening it (an eventfd, a
/// signalfd): read-write, and `O_NONBLOCK` if asked.
const MADE_ANEW_FLAGS: u32 = bindings::O_RDWR | bindings::O_NONBLOCK;

/// An object behind open files, which other files may share: see [`FileKind::behind`].
pub(crate) struct Behind {
    /// Its address.
    pub(crate) key: usize,
    /// What a log line calls it.
    pub(crate) what: &'static str,
    /// Its open files in all.
    pub(crate) files: u32,
    /// A count of the opens of its files, or a stamp of its changes, only compared: see
    /// [`Dumper::behind_unchanged`].
    pub(crate) opens: u64,
    /// Whether its files held outside are refused even when open files may be unshared
    /// (`CKPT_UNSHARE_OPEN_FILES`): shared memory, which restart could not unshare.
    pub(crate) always: bool,
}

/// The object behind `file`, if its kind has one.
pub(crate) fn behind(file: &FileRef) -> Option<Behind> {
    kind_of(file).ok().and_then(|(ops, _)| (ops.behind)(file))
}

/// Refuses a lock of `file`, mapped `at` a frozen task, that restart could not take again:
/// see [`locks::check`].
pub(crate) fn check_mapped_locks(at: Place<'_>, file: &FileRef) -> Result {
    locks::check(at, file, None).map(drop)
}

/// Whether `file` owns a lock: see [`locks::owns_some`].
pub(crate) fn owns_locks(file: &FileRef) -> bool {
    locks::owns_some(file)
}

/// The object behind `file`, mapped, if it is a memfd or a deleted file: asked under the
/// mmap lock, so only of the kinds a mapping may have whose question takes no sleeping lock.
pub(crate) fn behind_mapped(file: &FileRef) -> Option<Behind> {
    #[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
    if let Some(b) = <memfd::MemfdFile as FileKind>::behind(file) {
        return Some(b);
    }
    <unlinked::UnlinkedFile as FileKind>::behind(file)
}

/// [`FileKind::check`] for a kind (`kind`: "an eventfd") that restart makes anew: refuses,
/// with `why` first (what only the kind knows), one with status flags besides `flags`, which
/// the new file would not have.
fn check_made_anew(
    at: Place<'_>,
    file: &FileRef,
    kind: &str,
    why: Option<&str>,
    flags: u32,
) -> Result {
    let extra = "with status flags that fcntl() set besides O_NONBLOCK";
    let f = file.file();
    let why = why.or((f.flags() & !flags != 0).then_some(extra));
    let Some(why) = why else {
        return Ok(());
    };
    log!(at.log, "{at}: {kind} {why} is not supported");
    Err(EOPNOTSUPP)
}

/// Whether the file of `File` record `f`, which restart makes anew, is non-blocking; `EINVAL`
/// for flags or a position such a file does not have.
fn made_anew_nonblock(r: &Restorer<'_, Obj>, f: &abi::File) -> Result<bool> {
    if f.f_flags & !MADE_ANEW_FLAGS != 0
        || f.f_flags & bindings::O_ACCMODE != bindings::O_RDWR
        || f.pos != 0
    {
        return Err(r.bad("file with flags or a position its kind does not have"));
    }
    Ok(f.f_flags & bindings::O_NONBLOCK != 0)
}

/// Reads what follows the `File` record of a file of an object that the first of its files
/// in the image writes (a pipe, a memfd, a deleted file): the object's record of type `ty`,
/// which `make` reads, makes and defines, returning its objref, if it comes first; then the
/// `E` record that names the object by the objref `named` gives, which it returns.
fn made_with_first<E: Record>(
    r: &mut Restorer<'_, Obj>,
    ty: abi::RecordType,
    make: impl FnOnce(&mut Restorer<'_, Obj>, Rec) -> Result<u32>,
    named: impl Fn(&E) -> u32,
) -> Result<E> {
    let mut rec = r.next()?;
    let mut made = None;
    if rec.ty == ty.id() {
        made = Some(make(r, rec)?);
        rec = r.next()?;
    }
    let end = r.decode::<E>(rec)?;
    if made.is_some_and(|m| m != named(&end)) {
        return Err(r.bad("an object that none of its files opens"));
    }
    Ok(end)
}

/// The file `opened` of what restart made again (`what`: "memfd"), set to `pos`.
fn opened_at(
    r: &Restorer<'_, Obj>,
    what: &str,
    opened: Result<ARef<File>>,
    pos: i64,
) -> Result<FileRef> {
    let file = opened.inspect_err(|e| {
        log!(r.log, "{what}: cannot open a file of it ({})", e.to_errno());
    })?;
    // Not yet shared with anyone: the position is ours to set.
    if pos != 0 && file.seek(pos) != Ok(pos) {
        log!(r.log, "{what}: cannot seek to {pos}");
        return Err(EINVAL);
    }
    Ok(FileRef::from(file))
}

/// The kind `file` is saved as, and its `FILE_KIND_*`; or why it cannot be saved.
fn kind_of(file: &FileRef) -> core::result::Result<(&'static Ops, u32), &'static str> {
    for ops in KINDS {
        if let Some(kind) = (ops.classify)(file) {
            return kind.map(|kind| (ops, kind));
        }
    }
    Err(match file.inode().file_type() {
        bindings::S_IFSOCK => "a socket",
        _ => "an anonymous-inode file",
    })
}

/// Checks, before anything is written, that `file`, mapped `at` a frozen task or its
/// executable, can be saved: a memfd (not as the executable: restart runs only files) or a
/// deleted file as its kind checks it, another file by its name.
pub(crate) fn check_mapped(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
    match kind_of(file) {
        Ok((_, abi::FILE_KIND_MEMFD)) if matches!(at.at, Where::Exe) => {
            log!(
                at.log,
                "{at}: a memfd is not supported ({})",
                Shown::of(file)
            );
            Err(EOPNOTSUPP)
        }
        Ok((ops, abi::FILE_KIND_MEMFD | abi::FILE_KIND_UNLINKED)) => (ops.check)(at, names, file),
        _ => names.check(at, file),
    }
}

/// The kind of `file`, held `at` a frozen task; `EOPNOTSUPP` and a log line naming it if no
/// kind saves it.
fn supported(at: Place<'_>, file: &FileRef) -> Result<&'static Ops> {
    kind_of(file).map(|(ops, _)| ops).map_err(|why| {
        log!(at.log, "{at}: {why} is not supported ({})", Shown::of(file));
        EOPNOTSUPP
    })
}

/// Writes `file` if this is its first reference; returns its objref.
pub(crate) fn dump_file(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result<u32> {
    let (objref, new) = d.first_write(file.as_ptr())?;
    if !new {
        return Ok(objref);
    }
    let (ops, kind) = kind_of(file).map_err(|_| EOPNOTSUPP)?;
    d.naming(file.as_ptr(), |d| (ops.dump_named)(d, names, file))?;
    let owned = locks::owned(d.log, file)?;
    let f = file.file();
    let inode = f.inode();
    let (mtime_sec, mtime_nsec) = inode.mtime();
    d.record(&abi::File {
        objref,
        kind,
        f_flags: f.flags(),
        f_mode: f.mode().bits(),
        pos: f.pos(),
        dev: encode_dev(inode.dev()),
        ino: inode.ino(),
        size: inode.size(),
        mtime_sec,
        mtime_nsec,
        i_mode: inode.mode(),
        rdev: encode_dev(inode.rdev()),
        locks: locks::count(&owned)?,
        _pad0: 0,
    })?;
    (ops.dump)(d, names, file)?;
    locks::dump(d, owned.iter().map(|l| (0, l)))?;
    Ok(objref)
}

/// Makes the file of a `File` record again and defines its objref.
pub(crate) fn restore_file(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
    let f = r.decode::<abi::File>(rec)?;
    restore_decoded(r, f)
}

/// Whether restart makes a file of `FILE_KIND_*` `kind` the same in any process: not a file
/// reopened by its path, which it names from the root of the process that holds it, a
/// deleted file likewise, a signalfd, which reads the signals of the process that makes it,
/// or an epoll instance, which may watch one.
fn made_anywhere_kind(kind: u32) -> bool {
    matches!(
        kind,
        abi::FILE_KIND_PIPE
            | abi::FILE_KIND_EVENTFD
            | abi::FILE_KIND_TIMERFD
            | abi::FILE_KIND_MEMFD
            | abi::FILE_KIND_UNIX
    )
}

/// Whether restart makes `file` the same in any process ([`made_anywhere_kind`]).
fn made_anywhere(file: &FileRef) -> bool {
    kind_of(file).is_ok_and(|(_, kind)| made_anywhere_kind(kind))
}

/// Checks, before anything is written, each file that only messages of the tree's unix
/// sockets hold (`SCM_RIGHTS`), with the task that holds the first socket and where, as the
/// file of an fd; restart makes them in the restarter, so only kinds made the same in any
/// process ([`made_anywhere_kind`]) are saved.
#[cfg(CONFIG_UNIX)]
pub(crate) fn check_carried<'a>(
    log: &Log,
    names: &mut Names,
    carried: impl Iterator<Item = (FileRef, &'a Task, Where)>,
) -> Result {
    for (file, task, at) in carried {
        let (file, at) = (&file, Place { log, task, at });
        let ops = supported(at, file)?;
        locks::check(at, file, None)?;
        if let Some(what) = signals(file) {
            log!(
                log,
                "{at}: {what} is not restored yet ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        }
        if !made_anywhere(file) {
            log!(
                log,
                "{at}: a file that only a message holds is not supported unless it is a pipe, socket, eventfd, timerfd or memfd ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        }
        (ops.check)(at, names, file)?;
    }
    Ok(())
}

/// Reads what follows the last task: the files that only messages of unix sockets hold, and
/// the messages of each socket that carry files or credentials, which it queues again, from
/// the tasks of `created`.
#[cfg(CONFIG_UNIX)]
pub(crate) fn restore_later(
    r: &mut Restorer<'_, Obj>,
    created: &[crate::task::ParkedTask],
) -> Result {
    loop {
        let rec = r.next()?;
        if rec.ty == abi::RecordType::File.id() {
            let f = r.decode::<abi::File>(rec)?;
            if !made_anywhere_kind(f.kind) {
                return Err(r.bad("file after the last task of a kind only a process makes"));
            }
            restore_decoded(r, f)?;
        } else if rec.ty == abi::RecordType::UnixQueue.id() {
            unix::restore_queue(r, rec, created)?;
        } else {
            r.unread(rec);
            return Ok(());
        }
        crate::resched();
    }
}

/// Makes the file of the `File` record `f` again, from what follows it, and defines its
/// objref.
fn restore_decoded(r: &mut Restorer<'_, Obj>, f: abi::File) -> Result {
    let Some(ops) = KINDS.iter().find(|ops| (ops.restores)(f.kind)) else {
        return Err(r.bad("file kind that cannot be restored"));
    };
    let file = (ops.restore)(r, &f)?;
    let count = f.locks;
    // Defined first: a second record of the objref is a bad image, not a lock held twice.
    r.define(
        f.objref,
        Obj::File(Restored {
            file: file.clone(),
            rec: f,
        }),
    )?;
    locks::restore_owned(r, &file, count)
}

/// Why the way `file` delivers SIGIO cannot be saved yet, if it asked for any: reopened by
/// path, it would come back without its O_ASYNC registration or owner, and never signal. A
/// directory watched with F_NOTIFY (dnotify) has its watcher as owner, and is refused too.
fn signals(file: &FileRef) -> Option<&'static str> {
    if file.file().flags() & bindings::FASYNC != 0 {
        Some("O_ASYNC (SIGIO on I/O)")
    } else if file.file().has_sigio_owner() {
        Some("an owner or signal for SIGIO (F_SETOWN, F_SETSIG, F_NOTIFY)")
    } else {
        None
    }
}

/// The tree a task's paths are named in: its root, as the dumper sees it. While an fd table
/// is written, also what of its process the files written with it depend on.
pub(crate) struct Names {
    root: OwnedPath,
    buf: KVec<u8>,
    /// The wait queue of the signalfds of the process whose fd table is being written
    /// ([`kernel::signal::SighandStruct::signalfd_queue`]), 0 if none: restart makes the
    /// files first written with the table in that process.
    signalfd_queue: usize,
    /// What the deleted files of the tree may hold, if they are saved (`CKPT_UNLINKED`).
    unlinked: Option<UnlinkedBudget>,
    /// The tasks of the tree, by address: the makers a unix socket pair may name.
    tasks: RBTree<usize, ()>,
    /// The ptys that are the controlling terminals of sessions restored with the tree, by
    /// key ([`kernel::tty::PtyInfo::key`]).
    ttys: RBTree<usize, ()>,
    /// The unix sockets of the tree, by address, as their files are checked: those a
    /// datagram socket may be connected to.
    #[cfg(CONFIG_UNIX)]
    unix_socks: RBTree<usize, ()>,
    /// The datagram sockets of the tree connected by name, the sockets accepted by a
    /// listener bound to a path, and the ends of connections waiting
    /// ([`unix::check_peers`]): the address of the socket each needs in the tree, why, and
    /// where it is.
    #[cfg(CONFIG_UNIX)]
    unix_clients: KVVec<(usize, &'static str, i32, Where)>,
    /// The unix sockets whose messages carry files, written after the last task.
    #[cfg(CONFIG_UNIX)]
    queues_later: KVVec<unix::Later>,
}

/// The bytes the deleted files of a tree may hold in all, and those counted so far.
struct UnlinkedBudget {
    max: u64,
    total: u64,
    /// The inodes counted, with their sizes then.
    seen: RBTree<usize, u64>,
}

impl Names {
    /// The names of `task`'s files (its root and cwd are saved by [`dump_fs`]).
    pub(crate) fn of(task: &Task) -> Result<Names> {
        let root = task.fs_paths().ok_or(ESRCH)?.root;
        Ok(Names {
            root,
            buf: KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?,
            signalfd_queue: 0,
            unlinked: None,
            tasks: RBTree::new(),
            ttys: RBTree::new(),
            #[cfg(CONFIG_UNIX)]
            unix_socks: RBTree::new(),
            #[cfg(CONFIG_UNIX)]
            unix_clients: KVVec::new(),
            #[cfg(CONFIG_UNIX)]
            queues_later: KVVec::new(),
        })
    }

    /// Adds `task`, of the tree, to those its files may name.
    pub(crate) fn add_task(&mut self, task: &Task) -> Result {
        let key = task.as_ptr() as usize;
        self.tasks.try_create_and_insert(key, (), GFP_KERNEL)?;
        Ok(())
    }

    /// Adds the pty whose master's file is `master` to the controlling terminals of the
    /// sessions restored with the tree ([`crate::tree::Tree::controlling_ttys`]).
    #[cfg(CONFIG_UNIX98_PTYS)]
    pub(crate) fn add_tty(&mut self, master: &File) -> Result {
        if let Some(p) = kernel::tty::PtyInfo::side(master) {
            self.ttys.try_create_and_insert(p.key, (), GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Whether the pty of key `key` is the controlling terminal of a session restored with
    /// the tree.
    #[cfg(CONFIG_UNIX98_PTYS)]
    fn is_tty(&self, key: usize) -> bool {
        self.ttys.get(&key).is_some()
    }

    /// Whether the task at `addr` is one of the tree's.
    fn is_task(&self, addr: usize) -> bool {
        self.tasks.get(&addr).is_some()
    }

    /// Saves the tree's deleted files, whose sizes may be `max` bytes in all
    /// (`CKPT_UNLINKED`).
    pub(crate) fn save_unlinked(&mut self, max: u64) {
        self.unlinked = Some(UnlinkedBudget {
            max,
            total: 0,
            seen: RBTree::new(),
        });
    }

    /// Whether the tree's deleted files are saved.
    fn saves_unlinked(&self) -> bool {
        self.unlinked.is_some()
    }

    /// The size the deleted file `id` had when it was counted, if it was.
    fn counted_unlinked(&self, id: usize) -> Option<u64> {
        self.unlinked.as_ref()?.seen.get(&id).copied()
    }

    /// Counts the deleted file `id` of `size` bytes, held `at` a frozen task by `file`,
    /// once: `EFBIG` and a log line if the tree's then hold more than allowed.
    fn count_unlinked(&mut self, at: Place<'_>, file: &FileRef, id: usize, size: u64) -> Result {
        let b = self.unlinked.as_mut().ok_or(EOPNOTSUPP)?;
        if b.seen.get(&id).is_some() {
            return Ok(());
        }
        b.seen.try_create_and_insert(id, size, GFP_KERNEL)?;
        b.total = b.total.saturating_add(size);
        if b.total > b.max {
            log!(
                at.log,
                "{at}: the deleted files hold {} bytes in all, more than the {} CKPT_UNLINKED allows ({})",
                b.total,
                b.max,
                Shown::of(file)
            );
            return Err(EFBIG);
        }
        Ok(())
    }

    /// The path of `path` from the task's root; `None` if it is not reachable from there or
    /// has been deleted.
    pub(super) fn name(&mut self, path: &Path) -> Option<&[u8]> {
        if path.is_unlinked() {
            return None;
        }
        path.d_path_from(&self.root, &mut self.buf).ok().flatten()
    }

    /// Writes the path restart reopens `file` by (a `String` record); `EOPNOTSUPP` and a log
    /// line naming it as `what` ("a file") if it is deleted or outside the task's root.
    pub(crate) fn write(&mut self, d: &mut Dumper<'_>, file: &FileRef, what: &str) -> Result {
        let Some(name) = self.name(file.file().path()) else {
            log!(
                d.log,
                "{what} that is deleted or outside the task's root cannot be saved ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        };
        d.string(name)
    }

    /// Checks, before anything is written, that `file`, held `at` a frozen task, has a name
    /// restart can reopen it by.
    pub(crate) fn check(&mut self, at: Place<'_>, file: &FileRef) -> Result {
        if self.name(file.file().path()).is_none() {
            log!(
                at.log,
                "{at}: a file that is deleted or outside the task's root cannot be saved ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }

    /// Checks, before anything is written, that `task`'s cwd has a name from its root.
    pub(crate) fn check_cwd(&mut self, log: &Log, task: &Task) -> Result {
        let pwd = task.fs_paths().ok_or(ESRCH)?.pwd;
        if self.name(&pwd).is_none() {
            log!(log, "pid {}: cwd: a directory that is deleted or outside the task's root cannot be saved", task.vnr());
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }
}

/// Writes the task's `Fs` record: its root as the dumper names it, its cwd from its root.
pub(crate) fn dump_fs(d: &mut Dumper<'_>, names: &mut Names, task: &Task) -> Result {
    let FsPaths {
        key,
        root,
        pwd,
        umask,
    } = task.fs_paths().ok_or(ESRCH)?;
    let objref = d.objref(key)?;
    d.record(&abi::Fs { objref, umask })?;
    let mut buf = KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?;
    let Ok(root) = root.d_path(&mut buf) else {
        log!(d.log, "the task's root has no name");
        return Err(EOPNOTSUPP);
    };
    d.string(root)?;
    let Some(cwd) = names.name(&pwd) else {
        log!(d.log, "the task's cwd is deleted or outside its root");
        return Err(EOPNOTSUPP);
    };
    d.string(cwd)
}

/// A POSIX lock of a table, with an fd of the file it was taken through.
struct PosixLock {
    fd: u32,
    lock: FileLock,
}

/// One fd of the plan.
struct FdEntry {
    fd: u32,
    file: FileRef,
    cloexec: bool,
}

/// A task's fd table, taken and checked before anything is written.
pub(crate) struct FdPlan {
    files: Option<ARef<FilesStruct>>,
    /// See [`Names::signalfd_queue`].
    signalfd_queue: usize,
    fds: KVec<FdEntry>,
    /// The POSIX locks the table owns, each once.
    locks: KVec<PosixLock>,
    max_fds: u32,
    /// Whether the table is written here, or was with another process that shares it.
    first: bool,
}

impl FdPlan {
    /// Takes every open fd of the frozen `task`; `EOPNOTSUPP` (and a log line naming the fd)
    /// if one cannot be saved, or has no name in `names`. Unless it is the `first` process
    /// with this table, the table is only named: its fds were taken with the first.
    pub(crate) fn new(log: &Log, names: &mut Names, task: &Task, first: bool) -> Result<FdPlan> {
        let files = task.files();
        let signalfd_queue = task
            .lock_sighand()
            .map_or(0, |g| g.sighand().signalfd_queue());
        let max_fds = files.as_deref().map_or(0, FilesStruct::max_fds);
        let mut fds = KVec::new();
        let mut posix = KVec::new();
        // The files whose POSIX locks are in `posix`, which their other fds also list.
        let mut locked = RBTree::new();
        if first {
            for_each_fd(task, |fd, file| {
                let at = Place {
                    log,
                    task,
                    at: Where::Fd(fd),
                };
                let ops = supported(at, &file)?;
                // Before `signals`: a lease sets O_ASYNC and an owner too.
                let locks = locks::check(at, &file, files.as_deref())?;
                if !locks.is_empty() && locked.get(&(file.as_ptr() as usize)).is_none() {
                    locked.try_create_and_insert(file.as_ptr() as usize, (), GFP_KERNEL)?;
                    for lock in locks {
                        posix.push(PosixLock { fd, lock }, GFP_KERNEL)?;
                    }
                }
                if let Some(what) = signals(&file) {
                    log!(
                        log,
                        "{at}: {what} is not restored yet ({})",
                        Shown::of(&file)
                    );
                    return Err(EOPNOTSUPP);
                }
                (ops.check)(at, names, &file)?;
                let cloexec = files.as_deref().is_some_and(|f| f.close_on_exec(fd));
                fds.push(FdEntry { fd, file, cloexec }, GFP_KERNEL)?;
                Ok(())
            })?;
        }
        Ok(FdPlan {
            files,
            signalfd_queue,
            fds,
            locks: posix,
            max_fds,
            first,
        })
    }

    /// Writes the `FdTable` record and its `Fd`s (each file first if new); only the record for
    /// a table already written with another process that shares it.
    pub(crate) fn dump(&self, d: &mut Dumper<'_>, names: &mut Names) -> Result {
        let key = self
            .files
            .as_deref()
            .map_or(core::ptr::null_mut(), FilesStruct::as_ptr);
        let objref = d.objref(key)?;
        let first = self.first;
        d.record(&abi::FdTable {
            objref,
            count: if first { self.fds.len() as u32 } else { 0 },
            max_fds: self.max_fds,
            locks: locks::count(&self.locks)?,
        })?;
        if !first {
            return Ok(());
        }
        names.signalfd_queue = self.signalfd_queue;
        let res = self.fds.iter().try_for_each(|e| {
            let file = dump_file(d, names, &e.file)?;
            crate::resched();
            d.record(&abi::Fd {
                fd: e.fd as i32,
                flags: if e.cloexec { abi::FD_F_CLOEXEC } else { 0 },
                file,
                _pad0: 0,
            })
        });
        names.signalfd_queue = 0;
        res?;
        locks::dump(d, self.locks.iter().map(|l| (l.fd as i32, &l.lock)))
    }
}

/// Calls `f` with each open fd of `task` and a reference to its file, in fd order, until
/// `f` fails.
pub(crate) fn for_each_fd(task: &Task, mut f: impl FnMut(u32, FileRef) -> Result) -> Result {
    let mut fd = 0u32;
    loop {
        let Some(file) = task.next_file(&mut fd) else {
            return Ok(());
        };
        f(fd, FileRef(file))?;
        fd += 1;
        // A table may hold a million fds.
        crate::resched();
    }
}

/// A file reopened at restart, with what the image said about it.
pub(crate) struct Restored {
    pub(crate) file: FileRef,
    pub(crate) rec: abi::File,
}

impl Restored {
    /// Whether the file is still the one that was saved: same device, inode, size and
    /// modification time. Mapped files must be, or the pages not saved would differ.
    pub(crate) fn unchanged(&self) -> bool {
        let inode = self.file.inode();
        encode_dev(inode.dev()) == self.rec.dev
            && inode.ino() == self.rec.ino
            && inode.size() == self.rec.size
            && inode.mtime() == (self.rec.mtime_sec, self.rec.mtime_nsec)
    }
}

/// Restores an `FdTable` and its fds into the current task's (empty) table, or makes the
/// current task share the one restored for an earlier process.
pub(crate) fn restore_fds(r: &mut Restorer<'_, Obj>, rec: Rec, fds: &OwnFds) -> Result {
    let table = r.decode::<abi::FdTable>(rec)?;
    if table.count == 0 && table.locks != 0 {
        return Err(r.bad("POSIX locks of a table without fds"));
    }
    if let Some(files) = shared::earlier::<FilesStruct>(r, table.objref, table.count == 0)? {
        // SAFETY: a table restored earlier by this restart, used only by its restored tasks,
        // which borrow nothing through it (they read the image through the restarter's) and
        // run no user code before the restart ends.
        unsafe { fds.share(&files) };
        return Ok(());
    }
    // Kept once its fds are in: while only this task holds the table, growing it for them
    // waits for no RCU grace period (expand_fdtable()).
    r.definable(table.objref)?;
    for _ in 0..table.count {
        let fd = loop {
            let rec = r.next()?;
            if rec.ty == abi::RecordType::File.id() {
                restore_file(r, rec)?;
                continue;
            }
            break r.decode::<abi::Fd>(rec)?;
        };
        let file = match r.lookup(fd.file)? {
            Obj::File(f) => f.file.clone(),
            _ => return Err(r.bad("fd names an object that is not a file")),
        };
        if fd.flags & !abi::FD_F_CLOEXEC != 0 {
            return Err(r.bad("fd flags other than close-on-exec"));
        }
        let flags = if fd.flags & abi::FD_F_CLOEXEC != 0 {
            bindings::O_CLOEXEC
        } else {
            0
        };
        let Ok(n) = u32::try_from(fd.fd) else {
            return Err(r.bad("negative fd"));
        };
        if let Err(e) = fds.replace_fd(n, file.file(), flags) {
            log!(r.log, "fd {n}: cannot install it ({})", e.to_errno());
            return Err(e);
        }
        crate::resched();
    }
    shared::keep::<FilesStruct>(r, table.objref)?;
    locks::restore_posix(r, fds, table.locks)
}

/// Restores root, cwd and umask of the current task, or makes it share those restored for an
/// earlier process.
pub(crate) fn restore_fs(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
    let fs = r.decode::<abi::Fs>(rec)?;
    let root = r.string()?;
    let pwd = r.string()?;
    if fs.umask & !0o777 != 0 {
        return Err(r.bad("umask with bits beyond 0777"));
    }
    if shared::join::<FsStruct>(r, fs.objref, true)? {
        return Ok(());
    }
    shared::keep::<FsStruct>(r, fs.objref)?;
    let root = lookup_dir(r.log, cstr(&root)?)?;
    // Its own: created by fork, not shared.
    let cur = FsStruct::of_current().ok_or(ESRCH)?;
    if !cur.root().same(&root) {
        if !kernel::cred::capable(bindings::CAP_SYS_CHROOT) {
            log!(r.log, "restoring a different root needs CAP_SYS_CHROOT");
            return Err(EPERM);
        }
        cur.set_root(&root);
    }
    let pwd = lookup_dir(r.log, cstr(&pwd)?)?;
    cur.set_pwd(&pwd);
    cur.set_umask(fs.umask);
    Ok(())
}

/// A string of the image (NUL-terminated, without other NULs) as a C string.
fn cstr(s: &[u8]) -> Result<&CStr> {
    CStr::from_bytes_with_nul(s).map_err(|_| EINVAL)
}

fn lookup_dir(log: &Log, name: &CStr) -> Result<OwnedPath> {
    OwnedPath::lookup(name, bindings::LOOKUP_FOLLOW | bindings::LOOKUP_DIRECTORY).inspect_err(|e| {
        let shown = Escaped(name.as_bytes());
        log!(log, "directory {shown}: not found ({})", e.to_errno());
    })
}

impl Shareable for FilesStruct {
    const WHAT: &'static str = "fd table";
    const BAD: &'static str = "fd table written twice, or an objref that names another object";

    fn held(task: &Task) -> Option<Held> {
        task.lock().files()
    }

    fn current() -> Result<ARef<Self>> {
        FilesStruct::of_current().ok_or(ESRCH)
    }

    shared::in_obj!(Files);
}

impl Shareable for FsStruct {
    const WHAT: &'static str = "root and cwd (fs_struct)";
    const BAD: &'static str = "fs objref that names another object";

    fn held(task: &Task) -> Option<Held> {
        task.lock().fs()
    }

    fn current() -> Result<ARef<Self>> {
        FsStruct::of_current().ok_or(ESRCH)
    }

    shared::in_obj!(Fs);
}

impl Joinable for FsStruct {
    fn install(&self) -> Result {
        self.share_with_current()
    }
}

/// Closes every fd the new task inherited from the restarter.
pub(crate) fn close_inherited(fds: &OwnFds) -> Result {
    fds.close_range(0, u32::MAX)
}
