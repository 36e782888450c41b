// SPDX-License-Identifier: GPL-2.0

//! Open files, the fd table, and the fs_struct (root, cwd, umask).
//!
//! A file is saved by path, flags and position and reopened at restart; the kinds that can be
//! reopened that way are regular files, directories and a few stateless character devices.
//! Everything else is refused before anything is written.

use crate::image::{Dumper, Rec, Restorer};
use crate::shared::{self, Shareable};
use crate::task::with_task_lock;
use crate::{abi, log, log::Log, Obj};
use core::ptr::NonNull;
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::fs::{file::File, inode::Inode};
use kernel::prelude::*;
use kernel::sync::rcu;
use kernel::task::Task;
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
    /// Takes ownership of a counted reference; `None` for NULL.
    ///
    /// # Safety
    ///
    /// `file` must be NULL or a valid file of which the caller gives up one reference.
    unsafe fn from_counted(file: *mut bindings::file) -> Option<FileRef> {
        // SAFETY: the caller gives up a reference on a valid file, which the `ARef` now owns;
        // `File` is a transparent wrapper of `struct file`.
        NonNull::new(file).map(|f| FileRef(unsafe { ARef::from_raw(f.cast()) }))
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }

    pub(crate) fn file(&self) -> &File {
        &self.0
    }

    /// The kind of a file lock it holds ("flock", "OFD", "POSIX" or "lease"), owned by
    /// itself or by the fd table `files` it is in (NULL for none).
    pub(crate) fn lock(&self, files: *mut bindings::files_struct) -> Option<&'static CStr> {
        // SAFETY: the file is valid while we hold it; `files` is only compared.
        let kind = unsafe { bindings::checkpoint_file_lock(self.as_ptr(), files) };
        // SAFETY: the callee returns NULL or a static string.
        (!kind.is_null()).then(|| unsafe { CStr::from_char_ptr(kind) })
    }

    /// The file's inode.
    pub(crate) fn inode(&self) -> &Inode {
        self.0.inode()
    }
}

/// A counted reference to a path (mount and dentry).
pub(crate) struct PathRef(bindings::path);

impl Drop for PathRef {
    fn drop(&mut self) {
        // SAFETY: we own these references.
        unsafe { bindings::path_put(&self.0) };
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
        if !buf.is_empty() {
            // SAFETY: the file and its path are valid while we hold it; `buf` holds PATH_MAX
            // bytes.
            let p = unsafe {
                bindings::d_path(
                    &(*file.as_ptr()).f_path,
                    buf.as_mut_ptr().cast(),
                    PATH_MAX as i32,
                )
            };
            if let Some(n) = path_in(&buf, p.cast()) {
                let at = n.as_ptr() as usize - buf.as_ptr() as usize;
                name = at..at + n.len();
            }
        }
        Shown { buf, name }
    }
}

impl core::fmt::Display for Shown {
    /// Bytes that are not printable ASCII are escaped: a file name must not forge log lines.
    /// A long name is cut short, so that the line keeps its end (a log line is 256 bytes).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const LONGEST: usize = 96;
        let name = &self.buf[self.name.clone()];
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

fn s_is(mode: u32, kind: u32) -> bool {
    mode & bindings::S_IFMT == kind
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

/// Character devices that hold no state of their own and can be reopened by path: the mem
/// devices (/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom), ttys and the console.
fn reopenable_chardev(rdev: u32) -> bool {
    let (major, minor) = (rdev >> 20, rdev & 0xfffff);
    matches!(
        (major, minor),
        (1, 3) | (1, 5) | (1, 7) | (1, 8) | (1, 9) | (5, 0) | (5, 1)
    ) || major == 4
}

/// What kind of file this is, or why it cannot be saved.
fn classify(file: &FileRef) -> core::result::Result<u32, &'static str> {
    let inode = file.inode();
    let mode = inode.mode();
    // SAFETY: the file is valid; `f_flags` is read as a plain value.
    if unsafe { (*file.as_ptr()).f_flags } & bindings::O_PATH != 0 {
        // Only names a file, whatever its type, and holds none of its state.
        Ok(abi::FILE_KIND_PATH)
    } else if s_is(mode, bindings::S_IFREG) {
        Ok(abi::FILE_KIND_REGULAR)
    } else if s_is(mode, bindings::S_IFDIR) {
        Ok(abi::FILE_KIND_DIRECTORY)
    } else if s_is(mode, bindings::S_IFCHR) {
        if reopenable_chardev(inode.rdev()) {
            Ok(abi::FILE_KIND_CHARDEV)
        } else {
            Err("a character device other than null, zero, random, a tty or the console")
        }
    } else if s_is(mode, bindings::S_IFIFO) {
        Err("a pipe or FIFO")
    } else if s_is(mode, bindings::S_IFSOCK) {
        Err("a socket")
    } else if s_is(mode, bindings::S_IFBLK) {
        Err("a block device")
    } else {
        Err("an anonymous-inode file")
    }
}

/// Why the way `file` delivers SIGIO cannot be saved yet, if it asked for any: reopened by
/// path, it would come back without its O_ASYNC registration or owner, and never signal. A
/// directory watched with F_NOTIFY (dnotify) has its watcher as owner, and is refused too.
fn signals(file: &FileRef) -> Option<&'static str> {
    let f = file.as_ptr();
    // SAFETY: the file is valid while we hold it; `f_flags` is a plain value, and `f_owner`,
    // once allocated, lives as long as the file. Its `pid` and `signum` are only tested for
    // zero, which a racy read may do.
    unsafe {
        if (*f).f_flags & bindings::FASYNC != 0 {
            return Some("O_ASYNC (SIGIO on I/O)");
        }
        let owner = core::ptr::addr_of!((*f).f_owner).read_volatile();
        if !owner.is_null()
            && (!core::ptr::addr_of!((*owner).pid).read_volatile().is_null()
                || core::ptr::addr_of!((*owner).signum).read_volatile() != 0)
        {
            return Some("an owner or signal for SIGIO (F_SETOWN, F_SETSIG, F_NOTIFY)");
        }
    }
    None
}

/// The tree a task's paths are named in: its root, as the dumper sees it.
pub(crate) struct Names {
    root: PathRef,
    buf: KVec<u8>,
}

impl Names {
    /// The names of `task`'s files (its root and cwd are saved by [`dump_fs`]).
    pub(crate) fn of(task: &Task) -> Result<Names> {
        let (root, _pwd, _umask) = fs_of(task).ok_or(ESRCH)?;
        Ok(Names {
            root,
            buf: KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?,
        })
    }

    /// The path of `path` from the task's root; `None` if it is not reachable from there or
    /// has been deleted.
    fn name(&mut self, path: &bindings::path) -> Option<&[u8]> {
        // SAFETY: `path` holds a valid dentry.
        if unsafe { bindings::d_unlinked(path.dentry) } {
            return None;
        }
        let len = self.buf.len() as i32;
        // SAFETY: both paths are valid and counted; `buf` holds `len` bytes.
        let p =
            unsafe { bindings::__d_path(path, &self.root.0, self.buf.as_mut_ptr().cast(), len) };
        path_in(&self.buf, p)
    }

    /// Checks, before anything is written, that `file` of `task` (where `what` says) has a
    /// name restart can reopen it by.
    pub(crate) fn check(
        &mut self,
        log: &Log,
        task: &Task,
        what: core::fmt::Arguments<'_>,
        file: &FileRef,
    ) -> Result {
        // SAFETY: the file is valid, so is its path.
        if self.name(unsafe { &(*file.as_ptr()).f_path }).is_none() {
            log!(log, "pid {}: {what}: a file that is deleted or outside the task's root cannot be saved ({})", task.vnr(), Shown::of(file));
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }

    /// Checks, before anything is written, that `task`'s cwd has a name from its root.
    pub(crate) fn check_cwd(&mut self, log: &Log, task: &Task) -> Result {
        let (_root, pwd, _umask) = fs_of(task).ok_or(ESRCH)?;
        if self.name(&pwd.0).is_none() {
            log!(log, "pid {}: cwd: a directory that is deleted or outside the task's root cannot be saved", task.vnr());
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }
}

/// The NUL-terminated name that `d_path()` or `__d_path()` built at `p` inside `buf`; `None`
/// for their NULL or error results.
fn path_in(buf: &[u8], p: *mut u8) -> Option<&[u8]> {
    let p = crate::from_err_ptr(p).ok().filter(|p| !p.is_null())?;
    let tail = buf.get((p as usize).checked_sub(buf.as_ptr() as usize)?..)?;
    tail.get(..tail.iter().position(|&b| b == 0)?)
}

/// Writes `file` if this is its first reference; returns its objref.
pub(crate) fn dump_file(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result<u32> {
    let (objref, new) = d.objref(file.as_ptr())?;
    if !new {
        return Ok(objref);
    }
    let kind = classify(file).map_err(|_| EOPNOTSUPP)?;
    let f = file.as_ptr();
    let inode = file.inode();
    let (mtime_sec, mtime_nsec) = inode.mtime();
    // SAFETY: the file is valid; the fields read are plain values.
    let rec = unsafe {
        abi::File {
            objref,
            kind,
            f_flags: (*f).f_flags,
            f_mode: (*f).f_mode,
            pos: (*f).f_pos,
            dev: encode_dev(inode.dev()),
            ino: inode.ino(),
            size: inode.size(),
            mtime_sec,
            mtime_nsec,
            i_mode: inode.mode(),
            rdev: encode_dev(inode.rdev()),
        }
    };
    // SAFETY: the file is valid, so is its path.
    let path = unsafe { &(*f).f_path };
    let Some(name) = names.name(path) else {
        log!(
            d.log,
            "a file that is deleted or outside the task's root cannot be saved"
        );
        return Err(EOPNOTSUPP);
    };
    d.record(&rec)?;
    d.string(name).map(|()| objref)
}

/// The task's root, cwd and umask, counted.
fn fs_of(task: &Task) -> Option<(PathRef, PathRef, u32)> {
    let t = task.as_ptr();
    // SAFETY: `t` is valid; `task_lock` keeps `t->fs` from going away, and the callees take
    // their own references on the paths.
    unsafe {
        with_task_lock(t, || {
            let fs = (*t).fs;
            if fs.is_null() {
                return None;
            }
            let mut root = core::mem::zeroed::<bindings::path>();
            let mut pwd = core::mem::zeroed::<bindings::path>();
            bindings::get_fs_root(fs, &mut root);
            bindings::get_fs_pwd(fs, &mut pwd);
            Some((PathRef(root), PathRef(pwd), (*fs).umask as u32))
        })
    }
}

/// Writes the task's `Fs` record: its root as the dumper names it, its cwd from its root.
pub(crate) fn dump_fs(d: &mut Dumper<'_>, names: &mut Names, task: &Task) -> Result {
    let (root, pwd, umask) = fs_of(task).ok_or(ESRCH)?;
    // SAFETY: `task` is valid.
    let (objref, _) = d.objref(unsafe { (*task.as_ptr()).fs })?;
    d.record(&abi::Fs { objref, umask })?;
    let mut buf = KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?;
    // SAFETY: `root` is counted; `buf` holds PATH_MAX bytes.
    let p = unsafe { bindings::d_path(&root.0, buf.as_mut_ptr().cast(), PATH_MAX as i32) };
    let Some(root) = path_in(&buf, p.cast()) else {
        log!(d.log, "the task's root has no name");
        return Err(EOPNOTSUPP);
    };
    d.string(root)?;
    let Some(cwd) = names.name(&pwd.0) else {
        log!(d.log, "the task's cwd is deleted or outside its root");
        return Err(EOPNOTSUPP);
    };
    d.string(cwd)
}

/// One fd of the plan.
struct FdEntry {
    fd: u32,
    file: FileRef,
    cloexec: bool,
}

/// A task's fd table, taken and checked before anything is written.
pub(crate) struct FdPlan {
    files: *mut bindings::files_struct,
    fds: KVec<FdEntry>,
    max_fds: u32,
    /// Whether the table is written here, or was with another process that shares it.
    first: bool,
}

impl FdPlan {
    /// Takes every open fd of the frozen `task`; `EOPNOTSUPP` (and a log line naming the fd)
    /// if one cannot be saved, or has no name in `names`. Unless it is the `first` process
    /// with this table, the table is only named: its fds were taken with the first.
    pub(crate) fn new(log: &Log, names: &mut Names, task: &Task, first: bool) -> Result<FdPlan> {
        let t = task.as_ptr();
        // SAFETY: `t` is valid; the pointer is only used as an objref key and for `max_fds`.
        let (files, max_fds) = unsafe {
            with_task_lock(t, || {
                let files = (*t).files;
                (
                    files,
                    if files.is_null() {
                        0
                    } else {
                        (*(*files).fdt).max_fds
                    },
                )
            })
        };
        let mut fds = KVec::new();
        if first {
            for_each_fd(task, |fd, file| {
                if let Err(what) = classify(&file) {
                    log!(
                        log,
                        "pid {}: fd {fd}: {what} is not supported ({})",
                        task.vnr(),
                        Shown::of(&file)
                    );
                    return Err(EOPNOTSUPP);
                }
                // Before `signals`: a lease sets O_ASYNC and an owner too.
                if let Some(kind) = file.lock(files) {
                    log!(log, "pid {}: fd {fd}: holds a {kind} file lock (file locks are not restored yet)", task.vnr());
                    return Err(EOPNOTSUPP);
                }
                if let Some(what) = signals(&file) {
                    log!(
                        log,
                        "pid {}: fd {fd}: {what} is not restored yet ({})",
                        task.vnr(),
                        Shown::of(&file)
                    );
                    return Err(EOPNOTSUPP);
                }
                names.check(log, task, format_args!("fd {fd}"), &file)?;
                let cloexec = cloexec(t, fd);
                fds.push(FdEntry { fd, file, cloexec }, GFP_KERNEL)?;
                Ok(())
            })?;
        }
        Ok(FdPlan {
            files,
            fds,
            max_fds,
            first,
        })
    }

    /// Writes the `FdTable` record and its `Fd`s (each file first if new); only the record for
    /// a table already written with another process that shares it.
    pub(crate) fn dump(&self, d: &mut Dumper<'_>, names: &mut Names) -> Result {
        let (objref, _) = d.objref(self.files)?;
        let first = self.first;
        d.record(&abi::FdTable {
            objref,
            count: if first { self.fds.len() as u32 } else { 0 },
            max_fds: self.max_fds,
            _pad0: 0,
        })?;
        if !first {
            return Ok(());
        }
        for e in self.fds.iter() {
            let file = dump_file(d, names, &e.file)?;
            d.record(&abi::Fd {
                fd: e.fd as i32,
                flags: if e.cloexec { abi::FD_F_CLOEXEC } else { 0 },
                file,
                _pad0: 0,
            })?;
            crate::resched();
        }
        Ok(())
    }
}

/// Calls `f` with each open fd of `task` and a reference to its file, in fd order, until
/// `f` fails.
pub(crate) fn for_each_fd(task: &Task, mut f: impl FnMut(u32, FileRef) -> Result) -> Result {
    let mut fd = 0u32;
    loop {
        let file = {
            let _rcu = rcu::read_lock();
            // SAFETY: `task` is valid and we are in an RCU read-side section; the callee
            // returns NULL or a counted file, whose reference `from_counted` takes.
            unsafe {
                FileRef::from_counted(bindings::task_lookup_next_fdget_rcu(task.as_ptr(), &mut fd))
            }
        };
        let Some(file) = file else {
            return Ok(());
        };
        f(fd, file)?;
        fd += 1;
        // A table may hold a million fds.
        crate::resched();
    }
}

fn cloexec(t: *mut bindings::task_struct, fd: u32) -> bool {
    // SAFETY: `t` is valid; `task_lock` pins `t->files`, RCU its fd table.
    unsafe {
        with_task_lock(t, || {
            let files = (*t).files;
            !files.is_null() && {
                let _rcu = rcu::read_lock();
                bindings::close_on_exec(fd, files)
            }
        })
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

/// Open flags a file may be reopened with (the access mode and status flags).
const REOPEN_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_NONBLOCK
    | bindings::O_DSYNC
    | bindings::O_DIRECT
    | bindings::O_LARGEFILE
    | bindings::O_DIRECTORY
    | bindings::O_NOFOLLOW
    | bindings::O_NOATIME
    | bindings::__O_SYNC;

/// Reopens the file of a `File` record (its path follows) and defines its objref.
pub(crate) fn restore_file(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
    let f = r.decode::<abi::File>(rec)?;
    let path = r.string()?;
    let ty = f.i_mode & bindings::S_IFMT;
    let flags = match f.kind {
        abi::FILE_KIND_REGULAR if ty == bindings::S_IFREG => f.f_flags & REOPEN_FLAGS,
        abi::FILE_KIND_DIRECTORY if ty == bindings::S_IFDIR => f.f_flags & REOPEN_FLAGS,
        abi::FILE_KIND_CHARDEV
            if ty == bindings::S_IFCHR && reopenable_chardev(decode_dev(f.rdev)) =>
        {
            f.f_flags & REOPEN_FLAGS
        }
        // open() keeps nothing else of an O_PATH open's flags.
        abi::FILE_KIND_PATH if f.f_flags & bindings::O_PATH != 0 && f.pos == 0 => {
            f.f_flags & (bindings::O_PATH | bindings::O_DIRECTORY | bindings::O_NOFOLLOW)
        }
        _ => return Err(r.bad("file kind that cannot be reopened")),
    };
    // SAFETY: `path` is NUL-terminated; the file is opened with the caller's credentials in
    // the restored task's root.
    let file = unsafe { bindings::filp_open(path.as_ptr().cast(), flags as i32, 0) };
    let name = core::str::from_utf8(path.get(..path.len() - 1).unwrap_or(&[])).unwrap_or("?");
    let file = match crate::from_err_ptr(file) {
        Ok(file) => {
            // SAFETY: `filp_open` returned a counted file.
            unsafe { FileRef::from_counted(file) }.ok_or(EINVAL)?
        }
        Err(e) => {
            log!(r.log, "file {name}: cannot reopen it ({})", e.to_errno());
            return Err(e);
        }
    };
    let inode = file.inode();
    let device = matches!(inode.file_type(), bindings::S_IFCHR | bindings::S_IFBLK);
    let same_kind = inode.file_type() == ty && (!device || encode_dev(inode.rdev()) == f.rdev);
    if !same_kind {
        log!(r.log, "file {name}: is not the kind of file it was");
        return Err(crate::estale());
    }
    // SAFETY: the file is valid.
    if unsafe { (*file.as_ptr()).f_mode } & bindings::FMODE_STREAM == 0 && f.pos != 0 {
        // SAFETY: the file is valid and not yet shared with anyone.
        let pos = unsafe { bindings::vfs_llseek(file.as_ptr(), f.pos, bindings::SEEK_SET as i32) };
        if pos != f.pos {
            log!(r.log, "file {name}: cannot seek to {}", f.pos);
            return Err(EINVAL);
        }
    }
    r.define(f.objref, Obj::File(Restored { file, rec: f }))
}

/// Restores an `FdTable` and its fds into the current task's (empty) table, or makes the
/// current task share the one restored for an earlier process.
pub(crate) fn restore_fds(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result {
    let table = r.decode::<abi::FdTable>(rec)?;
    if shared::join::<bindings::files_struct>(r, table.objref, table.count == 0)? {
        return Ok(());
    }
    shared::keep::<bindings::files_struct>(r, table.objref)?;
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
            Obj::File(f) => f.file.as_ptr(),
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
        // SAFETY: `file` is valid; `replace_fd` takes its own reference.
        let ret = unsafe { bindings::replace_fd(n, file, flags) };
        if ret < 0 {
            log!(r.log, "fd {n}: cannot install it ({ret})");
            return Err(Error::from_errno(ret));
        }
        crate::resched();
    }
    Ok(())
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
    if shared::join::<bindings::fs_struct>(r, fs.objref, true)? {
        return Ok(());
    }
    shared::keep::<bindings::fs_struct>(r, fs.objref)?;
    let root = lookup_dir(r.log, &root)?;
    // SAFETY: the current task's fs_struct is its own (not shared: created by fork).
    let cur = unsafe { (*bindings::get_current()).fs };
    // SAFETY: `cur` is valid; comparing the root path's two pointers needs no lock as only
    // this task changes it.
    let same = unsafe { (*cur).root.mnt == root.0.mnt && (*cur).root.dentry == root.0.dentry };
    if !same {
        // SAFETY: `capable` has no preconditions.
        if !unsafe { bindings::capable(bindings::CAP_SYS_CHROOT as i32) } {
            log!(r.log, "restoring a different root needs CAP_SYS_CHROOT");
            return Err(EPERM);
        }
        // SAFETY: `cur` and `root` are valid; `set_fs_root` takes its own references.
        unsafe { bindings::set_fs_root(cur, &root.0) };
    }
    let pwd = lookup_dir(r.log, &pwd)?;
    // SAFETY: as above.
    unsafe {
        bindings::set_fs_pwd(cur, &pwd.0);
        (*cur).umask = fs.umask as _;
    }
    Ok(())
}

fn lookup_dir(log: &Log, name: &[u8]) -> Result<PathRef> {
    // SAFETY: an all-zero path is an empty one, filled by `kern_path`.
    let mut path = PathRef(unsafe { core::mem::zeroed() });
    // SAFETY: `name` is NUL-terminated (from `Restorer::string`).
    let ret = unsafe {
        bindings::kern_path(
            name.as_ptr().cast(),
            bindings::LOOKUP_FOLLOW | bindings::LOOKUP_DIRECTORY,
            &mut path.0,
        )
    };
    if ret < 0 {
        let shown = core::str::from_utf8(name.get(..name.len() - 1).unwrap_or(&[])).unwrap_or("?");
        log!(log, "directory {shown}: not found ({ret})");
        // Nothing was taken: forget the empty path instead of putting it.
        core::mem::forget(path);
        return Err(Error::from_errno(ret));
    }
    Ok(path)
}

impl Shareable for bindings::files_struct {
    const BAD: &'static str = "fd table written twice, or an objref that names another object";

    fn of_current() -> NonNull<Self> {
        // SAFETY: the current task is valid and, being a user task, has a table.
        unsafe { NonNull::new_unchecked((*bindings::get_current()).files) }
    }

    unsafe fn get(files: NonNull<Self>) {
        // SAFETY: valid, per the caller.
        unsafe { bindings::atomic_inc(core::ptr::addr_of_mut!((*files.as_ptr()).count)) };
    }

    unsafe fn install(files: NonNull<Self>) -> Result {
        // SAFETY: valid, per the caller; `files` is the current task's slot for it.
        unsafe { shared::swap_locked(files, |t| &mut t.files) };
        Ok(())
    }

    unsafe fn put(files: NonNull<Self>) {
        // SAFETY: the caller owns this reference.
        unsafe { bindings::put_files_struct(files.as_ptr()) };
    }

    shared::in_obj!(Files);
}

impl Shareable for bindings::fs_struct {
    const BAD: &'static str = "fs objref that names another object";

    fn of_current() -> NonNull<Self> {
        // SAFETY: the current task is valid and, being a user task, has an fs_struct.
        unsafe { NonNull::new_unchecked((*bindings::get_current()).fs) }
    }

    unsafe fn get(fs: NonNull<Self>) {
        let fs = fs.as_ptr();
        // SAFETY: valid, per the caller; `users` is protected by the lock.
        unsafe {
            bindings::spin_lock(core::ptr::addr_of_mut!((*fs).lock));
            (*fs).users += 1;
            bindings::spin_unlock(core::ptr::addr_of_mut!((*fs).lock));
        }
    }

    unsafe fn install(fs: NonNull<Self>) -> Result {
        // SAFETY: valid, per the caller; `fs` is the current task's slot for it.
        unsafe { shared::swap_locked(fs, |t| &mut t.fs) };
        Ok(())
    }

    /// Drops a user, freeing it with the last, as `exit_fs()` does.
    unsafe fn put(fs: NonNull<Self>) {
        let fs = fs.as_ptr();
        // SAFETY: the caller owns one of the users; `users` is protected by the lock.
        unsafe {
            bindings::spin_lock(core::ptr::addr_of_mut!((*fs).lock));
            (*fs).users -= 1;
            let last = (*fs).users == 0;
            bindings::spin_unlock(core::ptr::addr_of_mut!((*fs).lock));
            if last {
                bindings::free_fs_struct(fs);
            }
        }
    }

    shared::in_obj!(Fs);
}

/// Closes every fd the new task inherited from the restarter.
pub(crate) fn close_inherited() {
    // SAFETY: acts on the current task's own fd table.
    unsafe { bindings::__close_range(0, !0u32, 0) };
}
