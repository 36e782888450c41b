// SPDX-License-Identifier: GPL-2.0

//! Full containers: the pid namespace a tree lives in, the check that nothing outside the tree
//! holds one of its objects (leak detection), and the new pid namespace a container is
//! restarted in.
//!
//! A subtree keeps the pids its checkpointer sees and is restarted among the restarter's
//! processes. A container is the tree under the init of a pid namespace: its pids are saved as
//! seen inside, and restart makes a new namespace whose init is the restored root, so the same
//! image can run several times side by side. Before anything is written, checkpoint refuses
//! (`EBUSY`) a container whose objects are also held from outside: restart could not give the
//! outside holder its share back.

use crate::index::{Seen, Sorted};
use crate::tree::Tree;
use crate::{abi, files, log, log::Log, mm};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::mm::virt::VmaRef;
use kernel::pid::{HeldAddrs, PidNamespace, PidType};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::rcu;
use kernel::task::Task;
use kernel::types::ARef;

/// The pid namespace of a checkpointed tree.
pub(crate) struct Scope {
    /// Where every task of the tree lives: the root's namespace.
    home: ARef<PidNamespace>,
    /// Where the saved ids are taken from: `home` for a container, the caller's namespace
    /// for a subtree.
    ids: ARef<PidNamespace>,
    /// Whether the tree is a whole container.
    container: bool,
}

impl Scope {
    /// The scope of the tree under `root` (checked by `task::checkpoint_root`).
    pub(crate) fn of(log: &Log, root: &Task, flags: u32) -> Result<Scope> {
        let gone = || {
            log!(log, "pid {}: exited", root.vnr());
            ESRCH
        };
        let home = root.active_pid_ns().ok_or_else(gone)?;
        let ids = match flags & abi::CKPT_SUBTREE {
            0 => home.clone(),
            _ => kernel::current!().active_pid_ns().ok_or(ESRCH)?,
        };
        Ok(Scope {
            home,
            ids,
            container: flags & abi::CKPT_SUBTREE == 0,
        })
    }

    /// The namespace whose ids the image holds.
    pub(crate) fn ids(&self) -> &PidNamespace {
        &self.ids
    }

    /// Refuses a task of the tree that lives in a pid namespace nested under the tree's or
    /// would create its children in another one: restart makes one namespace at most.
    pub(crate) fn check(&self, log: &Log, task: &Task) -> Result {
        let home = self.home.as_ptr();
        let same = |ns: Option<ARef<PidNamespace>>| ns.map_or(true, |ns| ns.as_ptr() == home);
        let why = if !same(task.active_pid_ns()) {
            "lives in a pid namespace nested in the tree's"
        } else if !same(task.pid_ns_for_children()) {
            "creates its children in another pid namespace (unshare(CLONE_NEWPID))"
        } else {
            return Ok(());
        };
        log!(
            log,
            "pid {}: {why} (nested pid namespaces are not supported)",
            task.vnr()
        );
        Err(EOPNOTSUPP)
    }

    /// Refuses an fd table, fs, address space or signal handlers that a process of the tree
    /// shares with one outside it, which restart could not share again: `EBUSY` in a
    /// container (a leak), `EOPNOTSUPP` in a subtree. Those shared inside the tree are shared
    /// again by objref. Also refuses a thread with its own table or fs in a process whose
    /// main thread exited (the others are refused as they are frozen).
    pub(crate) fn check_tables(&self, log: &Log, tree: &Tree) -> Result {
        // How many tasks of the tree hold each object, by address.
        let held = |of: fn(&Task) -> Option<usize>| {
            let members = tree
                .members()
                .iter()
                .map(|m| (of(&m.task).unwrap_or(0), ()));
            Sorted::new(tree.members().len(), members)
        };
        let files = held(|t| t.lock().files().map(|h| h.addr))?;
        let fs = held(|t| t.lock().fs().map(|h| h.addr))?;
        let sighand = held(|t| t.lock_sighand().map(|g| g.sighand().as_ptr() as usize))?;
        let mms = held(|t| t.lock().mm().map(|h| h.addr))?;
        let holders = |held: &Sorted<()>, key: usize| held.count(key) as i32;
        for (i, _) in tree
            .members()
            .iter()
            .enumerate()
            .filter(|(i, m)| m.is_leader(*i))
        {
            let holder = tree.objects_holder(i);
            let Some(p) = Process::of(holder) else {
                continue;
            };
            if tree.exited(i) {
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
            let (what, outside) = if p.files_users > holders(&files, p.files) {
                ("fd table", None)
            } else if p.fs_users > holders(&fs, p.fs) {
                ("root and cwd (fs_struct)", None)
            } else if p.sighand_users > holders(&sighand, p.sighand) {
                ("signal handlers", None)
            } else if p.mm_users <= holders(&mms, p.mm) {
                continue;
            } else {
                // An mm's users also count passing references (a /proc reader): only a task
                // outside the tree that uses it counts.
                let uses = |t: &Task| t.lock().mm().map(|h| h.addr) == Some(p.mm);
                match find_outside(tree, true, |t| uses(t).then_some(())) {
                    Some((pid, ())) => ("address space", Some(pid)),
                    None => continue,
                }
            };
            let why = if self.container {
                ""
            } else {
                " (restart could not share it again)"
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
            return Err(if self.container { EBUSY } else { EOPNOTSUPP });
        }
        Ok(())
    }

    /// Leak detection: refuses (with a log line naming the object and, when it can be found,
    /// who else holds it) an open file (unless `files` is false: the caller asked for such
    /// files to be saved and reopened unshared) or shared memory that is also held from
    /// outside the frozen tree, and for a container a pid of its namespace that is not in
    /// the tree. `EBUSY` for a container, which must not leak; `EOPNOTSUPP` for a subtree,
    /// whose restart could not share them again.
    ///
    /// Files that the tree only maps privately (its executables and libraries) are not
    /// counted: nothing can tell whether such a file is shared, and restart reopens it anyway.
    pub(crate) fn check_leaks(&self, log: &Log, tree: &Tree, files: bool) -> Result {
        let mut h = Holders::default();
        // Fd tables and address spaces shared by processes of the tree are walked once, as
        // their holders count them once.
        let mut seen = Seen::new();
        let mut first = |key: usize| seen.first(key);
        for (i, m) in tree.members().iter().enumerate() {
            if !m.is_leader(i) || crate::task::is_zombie(&m.task) && !tree.exited(i) {
                continue;
            }
            // What a process holds, its main thread holds, or if it exited, another thread.
            let task = tree.objects_holder(i);
            let HeldAddrs {
                files: table, mm, ..
            } = task.held_addrs();
            if first(table)? {
                files::for_each_fd(task, |fd, file| {
                    h.add_file(file.file(), task, Where::Fd(fd), true).map(drop)
                })?;
            }
            if !first(mm)? {
                continue;
            }
            let mut res = Ok(());
            let exe = mm::walk(task, |vma| {
                if res.is_ok() {
                    res = h.add_mapping(task, vma);
                }
            });
            res?;
            if let Some(exe) = exe.flatten() {
                h.add_file(&exe, task, Where::Exe, false)?;
            }
        }
        let (errno, why) = match self.container {
            true => (EBUSY, ""),
            false => (EOPNOTSUPP, " (restart could not share it again)"),
        };
        if files {
            let why = match self.container {
                true => "",
                false => {
                    " (restart could not share it again; CKPT_UNSHARE_OPEN_FILES accepts that)"
                }
            };
            h.check_files(log, tree, errno, why)?;
        }
        h.check_shared_memory(log, errno, why)?;
        match self.container {
            true => self.check_pids(log, tree),
            false => Ok(()),
        }
    }

    /// Refuses a task of the container's namespace that is not in the tree (one that entered
    /// it with `setns()`, or was created by one that did).
    fn check_pids(&self, log: &Log, tree: &Tree) -> Result {
        let found = for_each_pid(&self.home, true, |nr, t| {
            (tree.index_of(t.as_ptr()).is_none()).then(|| (nr, t.lock().comm()))
        });
        let Some((nr, comm)) = found else {
            return Ok(());
        };
        let name = &comm[..comm.iter().position(|&c| c == 0).unwrap_or(comm.len())];
        log!(log, "pid {nr} of the container ({}) is not in the tree: it entered the pid namespace from outside",
            core::str::from_utf8(name).unwrap_or("?"));
        Err(EBUSY)
    }
}

/// Where a task of the tree holds an object.
#[derive(Clone, Copy)]
enum Where {
    Fd(u32),
    Map(u64),
    Exe,
}

impl core::fmt::Display for Where {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Where::Fd(fd) => write!(f, "fd {fd}"),
            Where::Map(addr) => write!(f, "mapping {addr:#x}"),
            Where::Exe => write!(f, "its executable"),
        }
    }
}

/// An object (`T` says how to reach it) and how many of its references the tree holds.
struct Held<T> {
    obj: T,
    inside: usize,
    /// Whether it must be checked (a file in an fd table, shared memory).
    checked: bool,
    /// The first holder in the tree.
    pid: i32,
    at: Where,
}

/// The objects in the order the tree was found to hold them (the first is the one a refusal
/// names), and each one's place in that list by its address (`key`).
struct Table<T>(KVec<Held<T>>, RBTree<usize, usize>);

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table(KVec::new(), RBTree::new())
    }
}

impl<T> Table<T> {
    /// Counts one more reference of the tree to the object at address `key`, made by `obj`
    /// at its first; its place in the table.
    fn add(
        &mut self,
        key: usize,
        obj: impl FnOnce() -> T,
        task: &Task,
        at: Where,
        checked: bool,
    ) -> Result<usize> {
        if let Some(&i) = self.1.get(&key) {
            let h = &mut self.0[i];
            h.inside += 1;
            h.checked |= checked;
            return Ok(i);
        }
        let i = self.0.len();
        self.0.reserve(1, GFP_KERNEL)?;
        self.1.try_create_and_insert(key, i, GFP_KERNEL)?;
        // Cannot fail: there is room.
        self.0.push(
            Held {
                obj: obj(),
                inside: 1,
                checked,
                pid: task.vnr(),
                at,
            },
            GFP_KERNEL,
        )?;
        Ok(i)
    }

    fn checked(&self) -> impl Iterator<Item = &Held<T>> {
        self.0.iter().filter(|h| h.checked)
    }
}

/// The tree's references to open files and shared memory objects.
#[derive(Default)]
struct Holders {
    /// By `struct file`, counted: fd table entries and mappings.
    files: Table<ARef<File>>,
    /// By `address_space` of shared anonymous memory: its writable shared mappings, each with
    /// the place in `files` of a file of it.
    shmem: Table<usize>,
}

impl Holders {
    fn add_file(&mut self, file: &File, task: &Task, at: Where, checked: bool) -> Result<usize> {
        let key = file.as_ptr() as usize;
        self.files.add(key, || file.into(), task, at, checked)
    }

    fn add_mapping(&mut self, task: &Task, vma: &VmaRef) -> Result {
        let Some(file) = vma.file() else {
            return Ok(());
        };
        let (start, flags) = (vma.start() as u64, vma.flags());
        let i = self.add_file(file, task, Where::Map(start), false)?;
        // What `i_mmap_writable` counts; shared anonymous memory has a private inode.
        let writable = (bindings::VM_SHARED | bindings::VM_MAYWRITE) as u64;
        let mapping = file.mapping();
        let private = file.inode().is_private();
        if private && flags & writable == writable {
            self.shmem
                .add(mapping as usize, || i, task, Where::Map(start), true)?;
        }
        Ok(())
    }

    /// Every file in an fd table of the tree must have no references besides the tree's.
    fn check_files(&self, log: &Log, tree: &Tree, errno: Error, why: &str) -> Result {
        for h in self.files.checked() {
            // Less the reference `h` holds.
            let outside = h.obj.count() - 1 - h.inside as i64;
            if outside <= 0 {
                continue;
            }
            let at = h.at;
            match holder_of(tree, &h.obj) {
                Some((pid, fd)) if pid > 0 => log!(log, "pid {}: {at}: the open file is shared with pid {pid} (fd {fd}) outside the tree{why}",
                    h.pid),
                _ => log!(log, "pid {}: {at}: the open file has {outside} references outside the tree{why}", h.pid),
            }
            return Err(errno);
        }
        Ok(())
    }

    /// Shared anonymous memory must not be mapped outside the tree.
    fn check_shared_memory(&self, log: &Log, errno: Error, why: &str) -> Result {
        for h in self.shmem.checked() {
            let count = self.files.0[h.obj].obj.writable_shared_maps().max(0) as usize;
            if count > h.inside {
                let addr = match h.at {
                    Where::Map(a) => a,
                    _ => 0,
                };
                log!(log, "pid {}: the shared memory mapped at {addr:#x} is also mapped by {} processes outside the tree{why}",
                    h.pid, count - h.inside);
                return Err(errno);
            }
        }
        Ok(())
    }
}

/// What a process shares by reference (its fd table, fs, address space and handlers), by
/// address, with how many users each has, as the task holding them sees them.
struct Process {
    files: usize,
    fs: usize,
    mm: usize,
    sighand: usize,
    files_users: i32,
    fs_users: i32,
    mm_users: i32,
    sighand_users: i32,
}

impl Process {
    /// `None` for a zombie, which has none left. The task is frozen: its objects stay; their
    /// counts are read racily, and only the tree's tasks may change them for good.
    fn of(task: &Task) -> Option<Process> {
        let (sighand, sighand_users) = {
            let g = task.lock_sighand()?;
            (g.sighand().as_ptr() as usize, g.sighand().users())
        };
        let g = task.lock();
        let (files, fs, mm) = (g.files()?, g.fs()?, g.mm()?);
        Some(Process {
            files: files.addr,
            fs: fs.addr,
            mm: mm.addr,
            sighand,
            files_users: files.users,
            fs_users: fs.users,
            mm_users: mm.users,
            sighand_users,
        })
    }
}

/// Calls `f` on the task of every pid of `ns` in increasing order (on thread group leaders
/// only, unless `threads`) until it finds something. Each task is looked at under an RCU read
/// section of its own, with a chance to reschedule between two: there may be millions.
fn for_each_pid<R>(
    ns: &PidNamespace,
    threads: bool,
    mut f: impl FnMut(i32, &Task) -> Option<R>,
) -> Option<R> {
    let ty = if threads { PidType::Pid } else { PidType::Tgid };
    let mut nr = 1;
    loop {
        let found = {
            let rcu = rcu::read_lock();
            let (at, task) = ns.find_ge(nr, ty, &rcu)?;
            nr = at;
            task.and_then(|t| f(nr, t))
        };
        if found.is_some() {
            return found;
        }
        nr += 1;
        crate::resched();
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
    for_each_pid(PidNamespace::init(), threads, |_, t| {
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
