// SPDX-License-Identifier: GPL-2.0

//! The objref table of checkpoint: every object the frozen tree holds by reference, once,
//! and leak detection over it.
//!
//! Before anything is written, checkpoint enters in one table, keyed by kernel address and
//! numbered in that order, each fd table, fs, address space and set of signal handlers the
//! tree's tasks hold ([`Objects::collect`]), then each file open in its fd tables or mapped
//! and each shared anonymous memory object ([`Objects::walk`]): with how many references the
//! tree holds to it and how many it has in all, which leak detection compares, its first
//! holder, and for what a process shares, the process whose records write it. Writing the
//! image, a record names an object by its number, and the first record that needs its
//! contents writes them ([`Objects::first_write`]). Objects that are only named (tasks,
//! signal structs) are entered as they are written, after the others.
//!
//! The watches of epoll instances hold no reference to the files they watch: they are
//! counted apart, the tree's against all those of each of its files. The files that the
//! messages of the tree's unix sockets carry (`SCM_RIGHTS`) are the tree's too: each
//! message holds a reference.

use crate::abi::objref::{DumpEntry, DumpTable, Full, ObjError, ObjRef, Slots};
use crate::files::{self, FileRef};
use crate::image::obj_error;
use crate::shared::Shareable;
use crate::tree::Tree;
use crate::{container, log, log::Log, mm};
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::bindings;
#[cfg(CONFIG_EPOLL)]
use kernel::fs::epoll::Epoll;
use kernel::fs::{fdtable::FilesStruct, file::File, fs_struct::FsStruct};
use kernel::mm::{virt::VmaRef, MmWithUser};
use kernel::pid::HeldAddrs;
use kernel::prelude::*;
use kernel::signal::SighandStruct;
use kernel::task::Task;
use kernel::task_lock::Held as HeldBy;
use kernel::types::ARef;

/// Storage for the table: a million files fit (virtually contiguous beyond a few pages).
struct VecSlots<T>(KVVec<T>);

impl<T> Slots<T> for VecSlots<T> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Option<&T> {
        self.0.get(i)
    }
    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.0.get_mut(i)
    }
    fn push(&mut self, value: T) -> Result<(), Full> {
        self.0.push(value, GFP_KERNEL).map_err(|_| Full)
    }
    fn clear(&mut self) {
        self.0 = KVVec::new();
    }
}

/// What leak detection needs of a [`Shareable`] kind of object.
pub(crate) struct SharedKind {
    /// What a log line calls it.
    what: &'static str,
    /// How to find it from a task.
    held: fn(&Task) -> Option<HeldBy>,
    /// Whether its users count passing references ([`Shareable::PASSING_USERS`]).
    passing: bool,
}

impl SharedKind {
    /// The kind of `T`.
    pub(crate) const fn of<T: Shareable>() -> SharedKind {
        SharedKind {
            what: T::WHAT,
            held: T::held,
            passing: T::PASSING_USERS,
        }
    }
}

/// Where a task of the tree holds an object.
#[derive(Clone, Copy)]
pub(crate) enum Where {
    /// The task itself: its fd table, fs, mm, handlers.
    Task,
    Fd(u32),
    /// In flight: carried by a message that the unix socket at this fd, or one such a
    /// message carries, holds.
    Sent(u32),
    /// The mapping that starts at this address.
    Map(u64),
    /// The mapping of these bounds.
    MapRange(u64, u64),
    Exe,
}

impl core::fmt::Display for Where {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Where::Task => write!(f, "the task"),
            Where::Fd(fd) => write!(f, "fd {fd}"),
            Where::Sent(fd) => write!(f, "a file in flight to fd {fd} (SCM_RIGHTS)"),
            Where::Map(addr) => write!(f, "mapping {addr:#x}"),
            Where::MapRange(start, end) => write!(f, "mapping {start:#x}-{end:#x}"),
            Where::Exe => write!(f, "its executable"),
        }
    }
}

/// An object a frozen task holds, as a log line that refuses it names it: `pid 12: fd 3`.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) log: &'a Log,
    pub(crate) task: &'a Task,
    pub(crate) at: Where,
}

impl core::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "pid {}: {}", self.task.vnr(), self.at)
    }
}

/// What the table knows of an object, by kind.
enum Held {
    /// Entered as a record names it: a task, a signal struct.
    Named,
    /// An object processes share by reference, with its users as read from its first holder
    /// while the tree is frozen.
    Shared(&'static SharedKind, i32),
    /// An open file, counted by the table.
    File(ARef<File>),
    /// Shared anonymous memory, with the objref of a file of it.
    Shmem(ObjRef),
    /// What other files may open too (a pipe), with what a log line calls it, its open files
    /// in all, the count of their opens and whether it is checked even when open files may
    /// be unshared; counted once per file of the tree.
    Behind(&'static str, u32, u64, bool),
}

/// No owner.
const NO_OWNER: u32 = u32::MAX;

/// An object of the tree.
pub(crate) struct Entry {
    key: u64,
    held: Held,
    /// Its first holder in the tree, and where it holds it.
    at: Where,
    pid: i32,
    /// References the tree's tasks hold to it.
    inside: u32,
    /// For an open file, the watches on it of the tree's epoll instances.
    watched: u32,
    /// For what a process shares, the process (by its leader's index in the tree) whose
    /// records write it; [`NO_OWNER`] for the others.
    owner: u32,
    /// Whether a reference from outside the tree is refused: a file in an fd table, shared
    /// memory. (A file only mapped privately may be shared with anyone: restart reopens it.)
    checked: bool,
    /// Whether its contents are written.
    written: bool,
}

impl DumpEntry for Entry {
    fn key(&self) -> u64 {
        self.key
    }
}

/// The objects of a frozen tree, by objref and by kernel address.
pub(crate) struct Objects<'a> {
    table: DumpTable<Entry, VecSlots<Entry>, VecSlots<u32>>,
    log: &'a Log,
    /// The first epoll instance of the tree found to watch a file that no fd table of the
    /// tree holds: its holder and where.
    stray_watch: Option<(i32, Where)>,
    /// Whether [`Objects::check_leaks`] refused open files held outside the tree.
    files_checked: bool,
    /// The files that only messages of the tree's unix sockets hold, by objref (a reference
    /// here would count as one outside), with the task that holds the first socket, and
    /// where.
    #[cfg(CONFIG_UNIX)]
    carried: KVVec<(ObjRef, ARef<Task>, Where)>,
}

impl<'a> Objects<'a> {
    /// Enters the fd table, fs, address space and signal handlers of every task of the
    /// frozen `tree`, counting their holders, and makes the first process that holds each
    /// its owner.
    pub(crate) fn collect(log: &'a Log, tree: &Tree) -> Result<Objects<'a>> {
        let mut o = Objects {
            table: DumpTable::new(VecSlots(KVVec::new()), VecSlots(KVVec::new())),
            log,
            stray_watch: None,
            files_checked: false,
            #[cfg(CONFIG_UNIX)]
            carried: KVVec::new(),
        };
        for m in tree.members() {
            o.add_held::<FilesStruct>(&m.task)?;
            o.add_held::<FsStruct>(&m.task)?;
            o.add_held::<SighandStruct>(&m.task)?;
            o.add_held::<MmWithUser>(&m.task)?;
        }
        for (i, task) in tree.processes() {
            let h = task.held_addrs();
            for key in [h.files, h.fs, h.sighand, h.mm] {
                let Some(e) = o.entry_mut(key) else {
                    // Frozen, the process holds what its tasks were seen to hold, unless it
                    // was killed meanwhile.
                    log!(log, "pid {}: exited", task.vnr());
                    return Err(ESRCH);
                };
                if e.owner == NO_OWNER {
                    e.owner = i as u32;
                }
            }
        }
        Ok(o)
    }

    /// Enters the files and shared memory of each fd table and address space of the frozen
    /// `tree`, walked once, by the process that owns it: each of its holders counts it once.
    pub(crate) fn walk(&mut self, tree: &Tree) -> Result {
        for (i, task) in tree.processes() {
            let HeldAddrs { files, mm, .. } = task.held_addrs();
            if self.owns(files, i) {
                files::for_each_fd(task, |fd, file| {
                    let r = self.add_file(file.file(), task.vnr(), Where::Fd(fd), true);
                    r.map(drop).map_err(|e| obj_error(self.log, e))
                })?;
            }
            if !self.owns(mm, i) {
                continue;
            }
            // Under the mmap lock: nothing is logged until it is released.
            let mut res = Ok(());
            let exe = mm::walk(task, |vma| {
                if res.is_ok() {
                    res = self.add_mapping(task, vma);
                }
            });
            res.map_err(|e| obj_error(self.log, e))?;
            if let Some(exe) = exe.flatten() {
                let r = self.add_file(&exe, task.vnr(), Where::Exe, false);
                r.map_err(|e| obj_error(self.log, e))?;
            }
        }
        #[cfg(CONFIG_UNIX)]
        self.add_carried(tree)?;
        #[cfg(CONFIG_EPOLL)]
        self.count_watches()?;
        Ok(())
    }

    /// Enters the files that the messages of the tree's unix sockets carry, and those that
    /// the messages of such a socket carry in turn, counting each message's reference as
    /// the tree's; keeps those that no fd table of the tree holds, for checkpoint to check.
    #[cfg(CONFIG_UNIX)]
    fn add_carried(&mut self, tree: &Tree) -> Result {
        // Files entered meanwhile are visited too.
        let mut r = 1;
        while r <= self.table.len() as u32 {
            let e = self.table.get(ObjRef(r)).ok_or(EINVAL)?;
            r += 1;
            let Held::File(file) = &e.held else {
                continue;
            };
            let (file, pid, at) = (FileRef::from(file.clone()), e.pid, e.at);
            if !e.checked {
                continue;
            }
            let at = match at {
                Where::Fd(fd) | Where::Sent(fd) => Where::Sent(fd),
                _ => continue,
            };
            let carried = files::carried(&file).inspect_err(|e| {
                log!(
                    self.log,
                    "pid {pid}: {at}: the unix socket's messages changed while they were read ({})",
                    e.to_errno()
                )
            })?;
            let mut holder = None;
            for f in carried.iter() {
                // Not checked yet: new, or only mapped, which checks only its name.
                let unchecked = !matches!(self.entry(f.as_ptr() as usize), Some(e) if e.checked);
                let added = self.add_file(f, pid, at, true);
                let added = added.map_err(|e| obj_error(self.log, e))?;
                if !unchecked {
                    continue;
                }
                if holder.is_none() {
                    let m = tree.members().iter().find(|m| m.task.vnr() == pid);
                    holder = Some(m.ok_or(ESRCH)?.task.clone());
                }
                let holder = holder.clone().ok_or(ESRCH)?;
                self.carried.push((added, holder, at), GFP_KERNEL)?;
            }
            crate::resched();
        }
        Ok(())
    }

    /// The files that only messages of the tree's unix sockets hold: each with the task that
    /// holds the first socket, and where.
    #[cfg(CONFIG_UNIX)]
    pub(crate) fn carried(&self) -> impl Iterator<Item = (FileRef, &Task, Where)> {
        self.carried
            .iter()
            .filter_map(|(r, t, at)| match &self.table.get(*r)?.held {
                Held::File(f) => Some((FileRef::from(f.clone()), &**t, *at)),
                _ => None,
            })
    }

    /// Counts each watch of the tree's epoll instances on the file it watches, which must
    /// be open in an fd table of the tree; the first that is not is kept for
    /// [`Objects::check_leaks`] to refuse.
    #[cfg(CONFIG_EPOLL)]
    fn count_watches(&mut self) -> Result {
        let mut epolls = KVVec::new();
        for e in self.entries().filter(|e| e.checked) {
            match &e.held {
                Held::File(f) if Epoll::is(f) => {
                    epolls.push((f.clone(), e.pid, e.at), GFP_KERNEL)?
                }
                _ => {}
            }
        }
        for (epoll, pid, at) in epolls.iter() {
            for w in Epoll::watches(epoll) {
                let key = w?.file.as_ptr() as usize;
                let inside = self.is_tree_file(key);
                match self.entry_mut(key).filter(|_| inside) {
                    Some(t) => t.watched = t.watched.saturating_add(1),
                    None => {
                        self.stray_watch.get_or_insert((*pid, *at));
                    }
                }
                crate::resched();
            }
        }
        Ok(())
    }

    /// Counts one more reference of the tree's task `pid` to the object at `key`, entered with
    /// `held` and `checked` the first time.
    fn add(
        &mut self,
        key: usize,
        held: impl FnOnce() -> Held,
        pid: i32,
        at: Where,
        checked: bool,
    ) -> Result<ObjRef, ObjError> {
        let r = match self.table.lookup(key as u64) {
            Some(r) => r,
            None => {
                let entry = Entry {
                    key: key as u64,
                    held: held(),
                    at,
                    pid,
                    inside: 0,
                    watched: 0,
                    owner: NO_OWNER,
                    checked: false,
                    written: false,
                };
                self.table.insert(entry)?.0
            }
        };
        let e = self.table.get_mut(r).ok_or(ObjError::BadRef)?;
        e.inside = e.inside.saturating_add(1);
        e.checked |= checked;
        Ok(r)
    }

    /// Counts `task`'s reference to its object of kind `T`, if it has one.
    fn add_held<T: Shareable>(&mut self, task: &Task) -> Result {
        let Some(h) = T::held(task) else {
            return Ok(());
        };
        let held = || Held::Shared(T::KIND, h.users);
        let r = self.add(h.addr, held, task.vnr(), Where::Task, false);
        r.map(drop).map_err(|e| obj_error(self.log, e))
    }

    fn add_file(
        &mut self,
        file: &File,
        pid: i32,
        at: Where,
        checked: bool,
    ) -> Result<ObjRef, ObjError> {
        let key = file.as_ptr() as usize;
        let new = self.table.lookup(key as u64).is_none();
        // A mapped file's kind is not asked for under the mmap lock: it is no pipe, but it may
        // be a memfd, whose files are counted wherever they are.
        let behind = match checked {
            true => new.then(|| files::behind(&file.into())).flatten(),
            false => files::behind_mapped(&file.into()),
        };
        let checked = checked || behind.is_some();
        let r = self.add(key, || Held::File(file.into()), pid, at, checked)?;
        if let Some(b) = behind.filter(|_| new) {
            self.add(
                b.key,
                || Held::Behind(b.what, b.files, b.opens, b.always),
                pid,
                at,
                true,
            )?;
        }
        Ok(r)
    }

    fn add_mapping(&mut self, task: &Task, vma: &VmaRef) -> Result<(), ObjError> {
        let Some(file) = vma.file() else {
            return Ok(());
        };
        let (start, flags) = (vma.start() as u64, vma.flags());
        let r = self.add_file(file, task.vnr(), Where::Map(start), false)?;
        // What `i_mmap_writable` counts; shared anonymous memory has a private inode.
        let writable = (bindings::VM_SHARED | bindings::VM_MAYWRITE) as u64;
        if file.inode().is_private() && flags & writable == writable {
            let key = file.mapping() as usize;
            self.add(key, || Held::Shmem(r), task.vnr(), Where::Map(start), true)?;
        }
        Ok(())
    }

    fn entry(&self, key: usize) -> Option<&Entry> {
        self.table.get(self.table.lookup(key as u64)?)
    }

    fn entry_mut(&mut self, key: usize) -> Option<&mut Entry> {
        self.table.get_mut(self.table.lookup(key as u64)?)
    }

    /// Whether the process led by member `i` writes the object at `key`, which it holds.
    pub(crate) fn owns(&self, key: usize, i: usize) -> bool {
        self.entry(key).is_some_and(|e| e.owner == i as u32)
    }

    /// The objref of the object at `key`, entering it if it is not in the table.
    pub(crate) fn objref(&mut self, key: usize) -> Result<u32> {
        Ok(self.number(key)?.0)
    }

    fn number(&mut self, key: usize) -> Result<(u32, &mut Entry)> {
        let r = match self.table.lookup(key as u64) {
            Some(r) => r,
            None => {
                let entry = Entry {
                    key: key as u64,
                    held: Held::Named,
                    at: Where::Task,
                    pid: 0,
                    inside: 0,
                    watched: 0,
                    owner: NO_OWNER,
                    checked: false,
                    written: false,
                };
                self.table
                    .insert(entry)
                    .map_err(|e| obj_error(self.log, e))?
                    .0
            }
        };
        Ok((r.0, self.table.get_mut(r).ok_or(EINVAL)?))
    }

    /// The objref of the object at `key`, and whether its contents are to be written now:
    /// the first time only.
    pub(crate) fn first_write(&mut self, key: usize) -> Result<(u32, bool)> {
        let (r, e) = self.number(key)?;
        Ok((r, !core::mem::replace(&mut e.written, true)))
    }

    /// Whether the object at `key` is a file open in an fd table of the tree.
    pub(crate) fn is_tree_file(&self, key: usize) -> bool {
        self.entry(key)
            .is_some_and(|e| e.checked && matches!(e.held, Held::File(_)))
    }

    /// Whether the object behind open files at `key` ([`Held::Behind`]) still has the `files`
    /// and `opens` that leak detection counted, if it refused files held outside of it.
    pub(crate) fn behind_unchanged(&self, key: usize, files: u32, opens: u64) -> bool {
        match self.entry(key).map(|e| &e.held) {
            Some(&Held::Behind(_, f, o, always)) if self.files_checked || always => {
                (f, o) == (files, opens)
            }
            Some(_) => true,
            None => !self.files_checked,
        }
    }

    /// Whether leak detection counted the files of the object behind open files at `key`.
    pub(crate) fn is_behind(&self, key: usize) -> bool {
        matches!(self.entry(key).map(|e| &e.held), Some(Held::Behind(..)))
    }

    /// The objref of the object at `key` if its contents are written.
    pub(crate) fn written(&self, key: usize) -> Option<u32> {
        let r = self.table.lookup(key as u64)?;
        self.table.get(r)?.written.then_some(r.0)
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        (1..=self.table.len() as u32).filter_map(|r| self.table.get(ObjRef(r)))
    }

    /// Refuses an fd table, fs, address space or signal handlers that a process of the tree
    /// shares with one outside it, which restart could not share again: `EBUSY` in a
    /// `container` (a leak), `EOPNOTSUPP` in a subtree. Those shared inside the tree are
    /// shared again by objref. Also refuses a thread with its own table or fs in a process
    /// whose main thread exited (the others are refused as they are frozen).
    pub(crate) fn check_shared(&self, tree: &Tree, container: bool) -> Result {
        let log = self.log;
        for (i, holder) in tree.processes() {
            if tree.exited(i) {
                let p = holder.held_addrs();
                let apart = tree.threads(i).iter().find(|o| {
                    let g = o.task.lock();
                    g.files().map(|h| h.addr) != Some(p.files)
                        || g.fs().map(|h| h.addr) != Some(p.fs)
                });
                if let Some(o) = apart {
                    log!(log, "pid {}: has its own fd table or fs apart from its process (unshare() in a thread is not supported)",
                        o.task.vnr());
                    return Err(EOPNOTSUPP);
                }
            }
            let p = holder.held_addrs();
            for key in [p.files, p.fs, p.sighand, p.mm] {
                let Some(e) = self.entry(key).filter(|_| self.owns(key, i)) else {
                    continue;
                };
                let Held::Shared(kind, users) = e.held else {
                    continue;
                };
                if i64::from(users) <= i64::from(e.inside) {
                    continue;
                }
                // Who else holds it, if a task does: for an object whose count also has
                // passing references (a /proc reader of an address space), only then a leak.
                let uses = |t: &Task| (kind.held)(t).is_some_and(|h| h.addr == key);
                let outside = find_outside(tree, true, |t| uses(t).then_some(()));
                let outside = outside.map(|(pid, ())| pid);
                if kind.passing && outside.is_none() {
                    continue;
                }
                let what = kind.what;
                let why = match container {
                    true => "",
                    false => " (restart could not share it again)",
                };
                match outside {
                    Some(pid) if pid > 0 => log!(
                        log,
                        "pid {}: shares its {what} with pid {pid} outside the tree{why}",
                        holder.vnr()
                    ),
                    _ => log!(
                        log,
                        "pid {}: shares its {what} with a process outside the tree{why}",
                        holder.vnr()
                    ),
                }
                return Err(if container { EBUSY } else { EOPNOTSUPP });
            }
        }
        Ok(())
    }

    /// Leak detection: refuses (with a log line naming the object and, when it can be found,
    /// who else holds it) an open file (unless `files` is false: the caller asked for such
    /// files to be saved and reopened unshared) or shared memory that is also held from
    /// outside the frozen tree. `EBUSY` for a `container`, which must not leak;
    /// `EOPNOTSUPP` for a subtree, whose restart could not share them again.
    ///
    /// An epoll instance outside that watches a file of the tree is a holder outside too, and
    /// an instance of the tree that watches a file no fd table of the tree holds is refused
    /// even then: restart could not make that file.
    ///
    /// Files that the tree only maps privately (its executables and libraries) are not
    /// counted: nothing can tell whether such a file is shared, and restart reopens it anyway.
    pub(crate) fn check_leaks(&mut self, tree: &Tree, container: bool, files: bool) -> Result {
        self.files_checked = files;
        let log = self.log;
        let (errno, why) = match container {
            true => (EBUSY, ""),
            false => (EOPNOTSUPP, " (restart could not share it again)"),
        };
        if let Some((pid, at)) = self.stray_watch {
            log!(log, "pid {pid}: {at}: the epoll instance watches a file that no process of the tree has open{why}");
            return Err(errno);
        }
        // Open files held outside too, unless they may be unshared; a memfd's or a deleted
        // file's even then, as restart could only copy what they hold.
        for e in self.entries().filter(|e| e.checked) {
            let Held::File(file) = &e.held else {
                continue;
            };
            let memory = files::behind(&FileRef::from(&**file)).is_some_and(|b| b.always);
            // A copy of a file that owns a lock would not hold it with the holders outside.
            let locked = !memory && files::owns_locks(&FileRef::from(&**file));
            if !files && !memory && !locked {
                continue;
            }
            let why = match (container, memory, locked) {
                (_, _, true) => " (restart could not share it and its file lock again)",
                (false, false, false) => {
                    " (restart could not share it again; CKPT_UNSHARE_OPEN_FILES accepts that)"
                }
                _ => why,
            };
            let (at, pid) = (e.at, e.pid);
            #[cfg(CONFIG_EPOLL)]
            if Epoll::watchers(file) > e.watched {
                log!(log, "pid {pid}: {at}: the open file is watched by an epoll instance outside the tree{why}");
                return Err(errno);
            }
            // Less the table's own reference.
            let outside = file.count() - 1 - i64::from(e.inside);
            if outside <= 0 {
                continue;
            }
            match holder_of(tree, file) {
                Some((other, fd)) if other > 0 => log!(log, "pid {pid}: {at}: the open file is shared with pid {other} (fd {fd}) outside the tree{why}"),
                _ => log!(log, "pid {pid}: {at}: the open file has {outside} references outside the tree{why}"),
            }
            return Err(errno);
        }
        // Files apart from the tree's that open what the tree's do: the pipe's other end
        // opened anew through /proc/PID/fd.
        for e in self.entries() {
            let Held::Behind(what, count, _, always) = e.held else {
                continue;
            };
            let outside = i64::from(count) - i64::from(e.inside);
            if outside > 0 && (files || always) {
                let why = match (container, always) {
                    (false, false) => {
                        " (restart could not share it again; CKPT_UNSHARE_OPEN_FILES accepts that)"
                    }
                    _ => why,
                };
                log!(
                    log,
                    "pid {}: {}: the {what} is also open outside the tree ({outside} more files){why}",
                    e.pid,
                    e.at
                );
                return Err(errno);
            }
        }
        for e in self.entries() {
            let Held::Shmem(r) = e.held else {
                continue;
            };
            let Some(Held::File(file)) = self.table.get(r).map(|f| &f.held) else {
                continue;
            };
            let count = file.writable_shared_maps().max(0) as usize;
            let inside = e.inside as usize;
            if count > inside {
                let addr = match e.at {
                    Where::Map(a) => a,
                    _ => 0,
                };
                log!(log, "pid {}: the shared memory mapped at {addr:#x} is also mapped by {} processes outside the tree{why}",
                    e.pid, count - inside);
                return Err(errno);
            }
        }
        Ok(())
    }
}

/// The first task outside `tree` for which `f` finds something, with what it found and its
/// pid as the caller sees it (0 if it may not read it, or it lives outside the caller's pid
/// namespace): every process's leader, and with `threads` its other threads too. `f` runs
/// under RCU.
fn find_outside<R>(
    tree: &Tree,
    threads: bool,
    mut f: impl FnMut(&Task) -> Option<R>,
) -> Option<(i32, R)> {
    // Every task has a pid in the initial namespace.
    container::for_each_pid(kernel::pid::PidNamespace::init(), threads, |_, t| {
        if tree.index_of(t.as_ptr()).is_some() {
            return None;
        }
        // Another user's pids are none of the caller's business.
        let pid = |t: &Task| if t.may_ptrace_read() { t.vnr() } else { 0 };
        f(t).map(|r| (pid(t), r))
    })
}

/// A process outside `tree` that has `file` in its fd table, and the fd.
fn holder_of(tree: &Tree, file: &File) -> Option<(i32, u32)> {
    find_outside(tree, false, |t| {
        // Only fd tables the caller may read are looked into.
        if !t.may_ptrace_read() {
            return None;
        }
        let mut fd = 0u32;
        loop {
            if t.next_file(&mut fd)?.as_ptr() == file.as_ptr() {
                return Some(fd);
            }
            fd += 1;
        }
    })
}
