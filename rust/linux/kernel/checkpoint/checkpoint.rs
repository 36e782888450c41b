// SPDX-License-Identifier: GPL-2.0

//! In-kernel checkpoint/restart of process trees.
//!
//! `checkpoint(2)` saves the tree rooted at a pid into a stream from outside; `restart(2)`
//! rebuilds it in the kernel from such a stream. The image format is the schema in `abi/`,
//! generated from the project's one header schema and shared with user space.
//!
//! This file only lists the modules and converts between C and Rust at the entry points; each
//! module is named after the kernel object it saves and restores.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::fs::{fdtable::FilesStruct, fs_struct::FsStruct};
use kernel::mm::MmWithUser;
use kernel::pid::HeldAddrs;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::signal::SighandStruct;
use kernel::types::ARef;

mod abi;
mod container;
mod cputime;
mod creds;
mod files;
mod freeze;
mod image;
mod index;
mod log;
mod mm;
mod objects;
mod posix_timers;
mod regs;
mod rseq;
mod sched;
mod shared;
mod signal;
mod task;
mod timers;
mod traps;
mod tree;
mod vfork;

use log::Log;

/// An object restored so far, by objref.
pub(crate) enum Obj {
    /// An open file.
    File(files::Restored),
    /// A task, by its index among the created tasks.
    Task(usize),
    /// A shared anonymous memory object.
    Shmem(files::FileRef),
    /// An anonymous pipe, held until the restart ends by files of its own.
    Pipe(kernel::fs::pipe::NewPipe),
    /// A memfd, held until the restart ends by a file of its own.
    Memfd(ARef<kernel::fs::file::File>),
    /// A unix socket pair, held until the restart ends (boxed: its sockets' state is large).
    #[cfg(CONFIG_UNIX)]
    Unix(KBox<files::UnixPair>),
    /// The unix sockets restart bound to abstract names, by type and name: the restart's own
    /// object.
    #[cfg(CONFIG_UNIX)]
    UnixNames(files::UnixNames),
    /// A deleted file made again, held until the restart ends by a file of its own.
    Unlinked(ARef<kernel::fs::file::File>),
    /// An fd table, shared by the processes restored with it.
    Files(ARef<FilesStruct>),
    /// Root, cwd and umask, shared by the processes restored with them.
    Fs(ARef<FsStruct>),
    /// An address space, shared by the processes restored with it.
    Mm(ARef<MmWithUser>),
    /// Signal handlers, shared by the processes restored with them.
    Sighand(ARef<SighandStruct>),
    /// A signal struct, restored in place: recorded to catch a second record of it, with its
    /// process's controlling terminal (the objref of a pty master's `File`, 0 for none) and
    /// the terminal's foreground process group, which restart gives once the tree is linked.
    Signal { tty: u32, tty_pgrp: i32 },
}

/// Lets another task run if one should: called in loops over what a tree may hold millions
/// of (fds, pages, tasks), which could otherwise keep a CPU for seconds. Never under a lock.
pub(crate) fn resched() {
    kernel::current_task::cond_resched();
}

/// Converts a Rust result to a system call return value.
fn to_syscall_ret(r: Result<i32>) -> isize {
    match r {
        Ok(v) => v as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `checkpoint(pid, fd, flags, logfd, unlinked_max)`: called by the C stub in `syscalls.c`.
#[no_mangle]
pub extern "C" fn rust_checkpoint(
    pid: i32,
    fd: i32,
    flags: u32,
    logfd: i32,
    unlinked_max: u64,
) -> isize {
    to_syscall_ret(checkpoint(pid, fd, flags, logfd, unlinked_max).map(|()| 0))
}

/// `restart(fd, flags, logfd)`: called by the C stub in `syscalls.c`.
#[no_mangle]
pub extern "C" fn rust_restart(fd: i32, flags: u32, logfd: i32) -> isize {
    to_syscall_ret(restart(fd, flags, logfd))
}

/// Bytes the C side reads, with their length (not NUL-terminated): `struct rust_bytes`.
#[repr(C)]
pub struct RustBytes {
    data: *const u8,
    len: usize,
}

impl RustBytes {
    fn of(s: &'static str) -> RustBytes {
        RustBytes {
            data: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// The ABI hash, in lowercase hex: `/sys/kernel/checkpoint/abi`.
#[no_mangle]
pub extern "C" fn rust_checkpoint_abi_hash() -> RustBytes {
    RustBytes::of(abi::ABI_HASH_HEX)
}

/// The schema description: `/sys/kernel/checkpoint/schema`.
#[no_mangle]
pub extern "C" fn rust_checkpoint_schema() -> RustBytes {
    RustBytes::of(abi::SCHEMA)
}

fn checkpoint(pid: i32, fd: i32, flags: u32, logfd: i32, unlinked_max: u64) -> Result {
    if flags & !abi::CKPT_FLAGS_ALL != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(logfd, "checkpoint")?;
    let out = image::Output::open(&log, fd)?;
    let root = task::checkpoint_root(&log, pid, flags)?;
    let scope = container::Scope::of(&log, &root, flags)?;
    let tree = tree::Tree::freeze(&log, &root, &scope)?;
    // Everything that may be refused is checked before the first byte is written.
    let groups = tree.group_flags(&log)?;
    tree.check_cgroups(&log)?;
    #[cfg_attr(not(CONFIG_UNIX98_PTYS), allow(unused_mut))]
    let mut jobs = signal::jobs(&log, &tree)?;
    let mut objects = objects::Objects::collect(&log, &tree)?;
    objects.check_shared(&tree, scope.is_container())?;
    objects.walk(&tree)?;
    let unshare = flags & abi::CKPT_UNSHARE_OPEN_FILES != 0;
    objects.check_leaks(&tree, scope.is_container(), !unshare)?;
    scope.check_pids(&log, &tree)?;
    // What only a process has (not each of its threads): its fd table, fs and address space.
    // A process whose main thread exited has them in its other threads.
    let mut names = files::Names::of(tree.objects_holder(0))?;
    for m in tree.members() {
        names.add_task(&m.task)?;
    }
    if flags & abi::CKPT_UNLINKED != 0 {
        names.save_unlinked(unlinked_max);
    }
    #[cfg(CONFIG_UNIX98_PTYS)]
    {
        let tree_file = |f| objects.is_tree_file(f);
        let ttys = tree.controlling_ttys(&log, scope.ids(), &groups, tree_file, &mut names)?;
        for (job, tty) in jobs.iter_mut().zip(ttys.iter()) {
            job.tty = *tty;
        }
    }
    let mut plans = KVec::with_capacity(tree.members().len(), GFP_KERNEL)?;
    // The member whose plan walks each address space.
    let mut mm_plans = RBTree::new();
    for _ in tree.members() {
        plans.push(None, GFP_KERNEL)?;
    }
    for (i, holder) in tree.processes() {
        // Shared with a process planned earlier, they are only named: not walked again.
        let HeldAddrs { files, mm, .. } = holder.held_addrs();
        let (files_first, mm_first) = (objects.owns(files, i), objects.owns(mm, i));
        if mm_first {
            mm_plans.try_create_and_insert(mm, i, GFP_KERNEL)?;
        }
        names.check_cwd(&log, holder)?;
        let fds = files::FdPlan::new(&log, &mut names, holder, files_first)?;
        plans[i] = Some((fds, mm::MmPlan::new(&log, &mut names, holder, mm_first)?));
    }
    #[cfg(CONFIG_UNIX)]
    files::check_carried(&log, &mut names, objects.carried())?;
    #[cfg(CONFIG_UNIX)]
    files::check_socket_peers(&log, &names, scope.is_container())?;
    let mut shared = mm::SharedObjects::new();
    let mut cow = mm::CowPages::new();
    // For each member, its last child written with an address space.
    let mut last_child = KVec::from_elem(None, tree.members().len(), GFP_KERNEL)?;

    let count = tree.members().len() as u32;
    let mut d = image::Dumper::new(&log, out, &task::header(flags, count), objects)?;
    for (i, (m, group)) in tree.members().iter().zip(groups.iter()).enumerate() {
        let (before, rest) = plans.split_at_mut(i);
        let plan = &mut rest[0];
        let parent = match m.parent {
            Some(p) => d.objref(tree.members()[p].task.as_ptr())?,
            None => 0,
        };
        let exited = tree.exited(i);
        let zombie = task::is_zombie(&m.task) && !exited;
        let holder = tree.objects_holder(i);
        let flags = if m.vfork_child {
            *group | abi::TASK_F_VFORK
        } else {
            *group
        };
        let job = &jobs[i];
        task::dump(
            &mut d,
            scope.ids(),
            &m.task,
            (!zombie).then_some(holder),
            parent,
            job.stopped_by,
            flags,
        )?;
        // A zombie and an exited main thread keep their credentials, which /proc shows and
        // signals check, but have no registers or signal state of their own left.
        creds::dump(&mut d, &m.task)?;
        if zombie {
            // Its `Task` record, with its exit status, and its credentials are all there is
            // of it.
            continue;
        }
        if exited {
            signal::dump_process(&mut d, holder, job)?;
        } else {
            // A vfork parent's system call returns its child's pid once the child is done.
            let child = m.vfork.map(|c| {
                scope
                    .ids()
                    .nr_of(&tree.members()[c].task, bindings::pid_type_PIDTYPE_PID)
            });
            regs::dump(&mut d, &m.task, child)?;
            signal::dump(&mut d, &m.task, plan.is_some(), job)?;
        }
        // A process's threads follow it, each with only its own records.
        if let Some((fds, mm)) = plan {
            files::dump_fs(&mut d, &mut names, holder)?;
            // The address spaces fork(2) may have copied this one's mappings from: its
            // parent's, and that of the sibling before it, forked from the same parent.
            let parent_mm = m.parent.map(|p| {
                tree.objects_holder(tree.members()[p].leader)
                    .held_addrs()
                    .mm
            });
            let parent = parent_mm.and_then(|mm| mm_plans.get(&mm)).copied();
            let sibling = m.parent.and_then(|p| last_child[p]);
            let mut sources = KVec::with_capacity(2, GFP_KERNEL)?;
            for j in [parent, sibling].into_iter().flatten() {
                if let Some((_, plan)) = before.get(j).and_then(|p| p.as_ref()) {
                    sources.push(plan, GFP_KERNEL)?;
                }
            }
            let relative = |mm: usize| {
                mm_plans
                    .get(&mm)
                    .and_then(|&j| before.get(j)?.as_ref())
                    .map(|(_, plan)| plan)
            };
            mm.dump(
                &mut d,
                &mut names,
                &mut shared,
                &mut cow,
                &sources,
                &relative,
            )?;
            if let Some(p) = m.parent {
                last_child[p] = Some(i);
            }
            fds.dump(&mut d, &mut names)?;
        }
    }
    // Messages may carry any file of the tree: they come once every process's are written.
    #[cfg(CONFIG_UNIX)]
    files::dump_later(&mut d, &mut names)?;
    d.finish()?;
    // The tree's files go before the tree does: the garbage collector of unix sockets, which
    // their deaths run, finds then the sockets that only each other's messages hold.
    drop((plans, names));
    if flags & abi::CKPT_KILL != 0 {
        crate::log!(log, "pid {pid}: checkpointed {count} tasks, killing them");
        tree.kill(&log);
    } else {
        crate::log!(log, "pid {pid}: checkpointed {count} tasks");
    }
    Ok(())
}

fn restart(fd: i32, flags: u32, logfd: i32) -> Result<i32> {
    if flags & !abi::RESTART_FLAGS_ALL != 0 {
        return Err(EINVAL);
    }
    let log = Log::open(logfd, "restart")?;
    if let Some(why) = kernel::pid::restarter_refusal() {
        log!(
            log,
            "the restarter {why}, which every restored task would inherit"
        );
        return Err(EOPNOTSUPP);
    }
    let input = image::Input::open(&log, fd, flags & abi::RESTART_MAP != 0)?;
    let mut r = image::Restorer::<Obj>::new(&log, input)?;
    task::restore(&mut r, flags).map_err(|e| {
        // A damaged image fails wherever its damage is first used (a mapping that overlaps
        // another, a bad fd...); the rest of it says whether it is damaged.
        if e != EBADMSG && r.drain() == Err(EBADMSG) {
            EBADMSG
        } else {
            e
        }
    })
}
