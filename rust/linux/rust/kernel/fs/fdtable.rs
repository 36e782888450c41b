// SPDX-License-Identifier: GPL-2.0

//! A task's table of file descriptors: `struct files_struct`, which tasks share with
//! `CLONE_FILES`.
//!
//! C headers: [`include/linux/fdtable.h`](srctree/include/linux/fdtable.h),
//! [`include/linux/file.h`](srctree/include/linux/file.h)

use super::file::File;
use crate::{
    bindings,
    error::{to_result, Result},
    sync::rcu,
    task::Task,
    types::{ARef, Opaque},
};
use core::marker::PhantomData;
use core::ptr::{addr_of, NonNull};

/// An fd table.
///
/// # Invariants
///
/// Every instance is a valid `files_struct` with a reference (`count`) held for as long as
/// the reference through which it is reached exists.
#[repr(transparent)]
pub struct FilesStruct {
    inner: Opaque<bindings::files_struct>,
}

// SAFETY: a reference may be dropped from any task that may sleep (`put_files_struct`).
unsafe impl Send for FilesStruct {}
// SAFETY: the table is read under RCU, as C reads it without its lock.
unsafe impl Sync for FilesStruct {}

// SAFETY: `count` is the table's reference count: `copy_files()` increments it and
// `put_files_struct()` frees the table with the last one, which keeps the table valid as the
// type's invariant asks.
unsafe impl crate::types::AlwaysRefCounted for FilesStruct {
    fn inc_ref(&self) {
        // SAFETY: the table has a reference (type invariant), so it may take one more.
        unsafe { bindings::atomic_inc(core::ptr::addr_of_mut!((*self.as_ptr()).count)) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives back a reference it holds.
        unsafe { bindings::put_files_struct(obj.cast().as_ptr()) };
    }
}

impl FilesStruct {
    /// The raw `struct files_struct`, for comparing and for C functions the abstraction does
    /// not cover.
    pub fn as_ptr(&self) -> *mut bindings::files_struct {
        self.inner.get()
    }

    /// The number of fds its table has room for now (`max_fds`); it only grows.
    pub fn max_fds(&self) -> u32 {
        let _rcu = rcu::read_lock();
        // SAFETY: the table is valid (type invariant); under RCU its `fdt` stays valid once
        // read (`rcu_dereference()`), and `max_fds` does not change in an fdtable.
        unsafe { addr_of!((*addr_of!((*self.as_ptr()).fdt).read_volatile()).max_fds).read() }
    }

    /// Whether `fd` is marked close-on-exec; `false` for an fd beyond the table.
    pub fn close_on_exec(&self, fd: u32) -> bool {
        let _rcu = rcu::read_lock();
        // SAFETY: as in `max_fds`. Tables are replaced with larger ones only, so `fd` stays
        // within the one `close_on_exec()` reads again.
        unsafe {
            let fdt = addr_of!((*self.as_ptr()).fdt).read_volatile();
            fd < addr_of!((*fdt).max_fds).read() && bindings::close_on_exec(fd, self.as_ptr())
        }
    }

    /// The current task's fd table, counted; `None` once the task has left it
    /// (`exit_files()`, early in `do_exit()`).
    pub fn of_current() -> Option<ARef<FilesStruct>> {
        // SAFETY: only the current task replaces or drops its `files`.
        let files = unsafe { (*bindings::get_current()).files };
        // SAFETY: a task's fd table is valid while it uses it; `into` takes a reference.
        (!files.is_null()).then(|| unsafe { &*files.cast::<FilesStruct>() }.into())
    }
}

impl Task {
    /// Takes a reference to the task's fd table (`get_files_struct()`); `None` if it has
    /// exited.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn files(&self) -> Option<ARef<FilesStruct>> {
        // SAFETY: the task is valid; the callee returns a counted table or NULL.
        let files = NonNull::new(unsafe { bindings::get_files_struct(self.as_ptr()) })?;
        // SAFETY: the `ARef` owns the reference taken above; `FilesStruct` is transparent.
        Some(unsafe { ARef::from_raw(files.cast()) })
    }

    /// The task's open file with the lowest fd at or above `*fd`, counted, with its fd in
    /// `*fd` (`task_lookup_next_fdget_rcu()`); `None` if there is none.
    pub fn next_file(&self, fd: &mut u32) -> Option<ARef<File>> {
        let _rcu = rcu::read_lock();
        // SAFETY: the task is valid, and we are in an RCU read-side section; the callee
        // returns a counted file or NULL.
        let file =
            NonNull::new(unsafe { bindings::task_lookup_next_fdget_rcu(self.as_ptr(), fd) })?;
        // SAFETY: the `ARef` owns the reference taken above; `File` is transparent.
        Some(unsafe { ARef::from_raw(file.cast()) })
    }
}

/// The current task's own fd table, while the task borrows no file through it.
///
/// A file reached through an fd without taking a reference (a [`PosFd`](super::file::PosFd),
/// or a C `fdget()` of an unshared table) lives only as long as the fd and the table hold
/// it: closing that fd, or dropping the table, could free it under its borrower. A task that
/// borrows nothing through its own table may close its fds and drop its table freely (a
/// file borrowed through another table, which keeps its own reference, stays); this type
/// says so, and has the operations that do. It is not `Send`: it speaks for one task.
///
/// # Invariants
///
/// While it exists, the task that made it has an fd table, and holds no file borrowed
/// without a reference through it.
pub struct OwnFds(PhantomData<*mut ()>);

impl OwnFds {
    /// Says that the current task borrows no file through its own fd table; `ESRCH` if it
    /// has none (it is exiting).
    ///
    /// # Safety
    ///
    /// The current task must hold no file borrowed without a reference through its own fd
    /// table, and must borrow none that way while the returned value exists.
    pub unsafe fn assume() -> Result<OwnFds> {
        // Only the current task replaces or drops its own table, and it is here; only
        // `do_exit()` leaves it without one.
        FilesStruct::of_current().ok_or(crate::error::code::ESRCH)?;
        // INVARIANT: it has a table (above); it borrows nothing through it, per the caller.
        Ok(OwnFds(PhantomData))
    }

    /// Installs `file` as fd `fd` of the current task, closing what it held, with
    /// `O_CLOEXEC` if `flags` has it (`replace_fd()`).
    pub fn replace_fd(&self, fd: u32, file: &File, flags: u32) -> Result {
        // SAFETY: the file is valid; the callee takes its own reference and checks `fd`.
        // Nothing borrows the file it closes (type invariant).
        to_result(unsafe { bindings::replace_fd(fd, file.as_ptr(), flags) })
    }

    /// Closes the current task's fds from `first` to `last`, both included (`close_range(2)`
    /// without flags).
    pub fn close_range(&self, first: u32, last: u32) -> Result {
        // SAFETY: the callee acts on the current task's own table and checks its arguments;
        // nothing borrows the files it closes (type invariant).
        to_result(unsafe { bindings::__close_range(first, last, 0) })
    }

    /// Makes the current task use `files`, as a `CLONE_FILES` child of a task using it
    /// would, and drop its own table (`restart_share_files()`).
    ///
    /// # Safety
    ///
    /// No task using `files` may hold a file borrowed without a reference through it (the
    /// table being unshared, `fdget()` took none), now or while the current task uses it:
    /// the current task could close that fd.
    #[cfg(CONFIG_CHECKPOINT)]
    pub unsafe fn share(&self, files: &FilesStruct) {
        // The callee takes its own reference for the current task, which has a table of its
        // own to drop, nothing borrowed through it (type invariant).
        // SAFETY: `files` is valid; per the caller, nothing is borrowed through it either.
        unsafe { bindings::restart_share_files(files.as_ptr()) };
    }
}
