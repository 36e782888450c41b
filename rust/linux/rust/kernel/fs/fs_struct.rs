// SPDX-License-Identifier: GPL-2.0

//! The root, working directory and umask a task resolves paths with: `struct fs_struct`,
//! which tasks share with `CLONE_FS`.
//!
//! C header: [`include/linux/fs_struct.h`](srctree/include/linux/fs_struct.h)

use super::path::{OwnedPath, Path};
use crate::{bindings, task::Task, types::Opaque};
use core::ptr::addr_of_mut;

/// A task's root, cwd and umask.
///
/// With `CONFIG_CHECKPOINT` it can be held as an [`ARef`](crate::types::ARef): a holder is one
/// of its users, as a task sharing it is. A user more makes an exec by one of the tasks that use
/// it see it as shared (`check_unsafe_exec()`), so only hold it while none of them can exec.
///
/// # Invariants
///
/// Every instance is a valid `fs_struct` with a user held (by a task, or by the holder) for
/// as long as the reference through which it is reached exists.
#[repr(transparent)]
pub struct FsStruct {
    inner: Opaque<bindings::fs_struct>,
}

// SAFETY: a user may be dropped from any task (`restart_put_fs` frees with the last one).
unsafe impl Send for FsStruct {}
// SAFETY: the fields are read and written under `fs->lock`, by the C functions called, or
// once (`umask`).
unsafe impl Sync for FsStruct {}

// SAFETY: `restart_get_fs` and `restart_put_fs` take and drop a user, which keeps the
// fs_struct as the type's invariant asks.
#[cfg(CONFIG_CHECKPOINT)]
unsafe impl crate::types::AlwaysRefCounted for FsStruct {
    fn inc_ref(&self) {
        // SAFETY: the fs_struct has a user (type invariant).
        unsafe { bindings::restart_get_fs(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: core::ptr::NonNull<Self>) {
        // SAFETY: the caller gives back a user it holds.
        unsafe { bindings::restart_put_fs(obj.cast().as_ptr()) };
    }
}

impl FsStruct {
    /// The raw `struct fs_struct`, for comparing and for C functions the abstraction does not
    /// cover.
    pub fn as_ptr(&self) -> *mut bindings::fs_struct {
        self.inner.get()
    }

    /// Its root, counted (`get_fs_root()`).
    pub fn root(&self) -> OwnedPath {
        let mut path = bindings::path::default();
        // SAFETY: the fs_struct is valid (type invariant); the callee copies its root under
        // `fs->lock` and counts it.
        unsafe { bindings::get_fs_root(self.as_ptr(), &mut path) };
        // SAFETY: `get_fs_root` took the counts, which we give up.
        unsafe { OwnedPath::from_counted(path) }
    }

    /// Its working directory, counted (`get_fs_pwd()`).
    pub fn pwd(&self) -> OwnedPath {
        let mut path = bindings::path::default();
        // SAFETY: as in `root`.
        unsafe { bindings::get_fs_pwd(self.as_ptr(), &mut path) };
        // SAFETY: `get_fs_pwd` took the counts, which we give up.
        unsafe { OwnedPath::from_counted(path) }
    }

    /// Makes `path` its root (`set_fs_root()`, as `chroot(2)` does without its checks).
    pub fn set_root(&self, path: &Path) {
        // SAFETY: both are valid (type invariants); the callee counts `path` and drops the
        // old root's counts.
        unsafe { bindings::set_fs_root(self.as_ptr(), path.as_ptr()) };
    }

    /// Makes `path` its working directory (`set_fs_pwd()`, as `chdir(2)` does without its
    /// checks).
    pub fn set_pwd(&self, path: &Path) {
        // SAFETY: as in `set_root`.
        unsafe { bindings::set_fs_pwd(self.as_ptr(), path.as_ptr()) };
    }

    /// Its umask: `umask(2)` changes it at any time, so it is read once.
    pub fn umask(&self) -> u32 {
        // SAFETY: the fs_struct is valid (type invariant).
        unsafe { addr_of_mut!((*self.as_ptr()).umask).read_volatile() as u32 }
    }

    /// Sets its umask, as `umask(2)` does (bits beyond 0777 are dropped).
    pub fn set_umask(&self, mask: u32) {
        // SAFETY: the fs_struct is valid (type invariant); `umask(2)` writes the field with an
        // atomic exchange, and so does this.
        unsafe {
            core::sync::atomic::AtomicI32::from_ptr(addr_of_mut!((*self.as_ptr()).umask))
                .swap((mask & 0o777) as i32, core::sync::atomic::Ordering::Relaxed)
        };
    }

    /// The current task's fs_struct, with a user of its own; `None` once the task has left
    /// it (`exit_fs()`, early in `do_exit()`).
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn of_current() -> Option<crate::types::ARef<FsStruct>> {
        // SAFETY: only the current task replaces or drops its `fs`.
        let fs = unsafe { (*bindings::get_current()).fs };
        // SAFETY: a task's fs_struct is valid while it uses it; `into` takes a user.
        (!fs.is_null()).then(|| unsafe { &*fs.cast::<FsStruct>() }.into())
    }

    /// Makes the current task use this fs_struct, as a `CLONE_FS` child of a task using it
    /// would, and stop using its own (`restart_share_fs()`); `EAGAIN` while a task using it
    /// is in a setuid exec, as `clone(CLONE_FS)` gets.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn share_with_current(&self) -> crate::error::Result {
        // SAFETY: the fs_struct is valid (type invariant); the callee takes its own user.
        crate::error::to_result(unsafe { bindings::restart_share_fs(self.as_ptr()) })
    }
}

/// What a task's fs_struct holds, taken at once: its root and cwd, counted, and its umask.
pub struct FsPaths {
    /// The fs_struct, only to compare with others.
    pub key: *const bindings::fs_struct,
    /// Its root.
    pub root: OwnedPath,
    /// Its working directory.
    pub pwd: OwnedPath,
    /// Its umask.
    pub umask: u32,
}

impl Task {
    /// The task's root, cwd and umask, read under its task lock; `None` if the task has
    /// left its fs_struct (it is exiting).
    pub fn fs_paths(&self) -> Option<FsPaths> {
        let task = self.as_ptr();
        // SAFETY: the task is valid; `task_lock` keeps `task->fs` from being dropped, as
        // `exit_fs()` and `unshare()` only change it under that lock. Nothing here sleeps:
        // the paths are counted under the lock and dropped, if ever, after it.
        unsafe {
            bindings::task_lock(task);
            let fs = (*task).fs.cast::<FsStruct>();
            let paths = (!fs.is_null()).then(|| FsPaths {
                key: fs.cast_const().cast(),
                root: (*fs).root(),
                pwd: (*fs).pwd(),
                umask: (*fs).umask(),
            });
            bindings::task_unlock(task);
            paths
        }
    }
}
