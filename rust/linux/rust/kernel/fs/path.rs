// SPDX-License-Identifier: GPL-2.0

//! Paths: a mount and a dentry on it, as open files, roots and working directories hold them.
//!
//! C headers: [`include/linux/path.h`](srctree/include/linux/path.h),
//! [`include/linux/dcache.h`](srctree/include/linux/dcache.h),
//! [`include/linux/namei.h`](srctree/include/linux/namei.h)

use crate::{
    bindings,
    error::{code::ENAMETOOLONG, from_err_ptr, to_result, Result},
    str::CStr,
    types::Opaque,
};
use core::ops::Deref;

/// A path, borrowed from what holds its references (an open file, an [`OwnedPath`]).
///
/// # Invariants
///
/// Every instance is a `struct path` whose mount and dentry are counted, and stay so, for as
/// long as the reference through which it is reached exists.
#[repr(transparent)]
pub struct Path {
    inner: Opaque<bindings::path>,
}

impl Path {
    /// Reaches a path from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a path whose mount and dentry are counted, and whose fields do not
    /// change, for the whole of `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::path) -> &'a Path {
        // SAFETY: the caller's guarantee is the type invariant; the type is transparent.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct path`, for C functions the abstraction does not cover.
    pub fn as_ptr(&self) -> *mut bindings::path {
        self.inner.get()
    }

    fn raw(&self) -> bindings::path {
        // SAFETY: the path is valid and does not change (type invariant).
        unsafe { self.as_ptr().read() }
    }

    /// Whether both name the same dentry on the same mount.
    pub fn same(&self, other: &Path) -> bool {
        let (a, b) = (self.raw(), other.raw());
        a.mnt == b.mnt && a.dentry == b.dentry
    }

    /// Whether its dentry was unlinked (`d_unlinked()`): a file deleted while open.
    pub fn is_unlinked(&self) -> bool {
        // SAFETY: the dentry is counted (type invariant).
        unsafe { bindings::d_unlinked(self.raw().dentry) }
    }

    /// Its name from the current task's root, as `/proc/PID/fd` shows it (`d_path()`): for a
    /// file without one, what it is (`pipe:[1234]`, `anon_inode:[eventfd]`). The name is
    /// built at the end of `buf`; `ENAMETOOLONG` if it does not fit.
    pub fn d_path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        if buf.is_empty() {
            return Err(ENAMETOOLONG);
        }
        let len = i32::try_from(buf.len()).unwrap_or(i32::MAX);
        // SAFETY: the path is counted (type invariant); the callee writes at most `len` bytes
        // of `buf`.
        let p = unsafe { bindings::d_path(self.as_ptr(), buf.as_mut_ptr().cast(), len) };
        name_in(buf, from_err_ptr(p)?.cast())
    }

    /// Its name from `root` (`__d_path()`), built at the end of `buf`: `Ok(None)` if it
    /// cannot be reached from there, `ENAMETOOLONG` if it does not fit.
    pub fn d_path_from<'b>(&self, root: &Path, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>> {
        if buf.is_empty() {
            return Err(ENAMETOOLONG);
        }
        let len = i32::try_from(buf.len()).unwrap_or(i32::MAX);
        // SAFETY: both paths are counted (type invariant); the callee writes at most `len`
        // bytes of `buf`.
        let p = unsafe {
            bindings::__d_path(self.as_ptr(), root.as_ptr(), buf.as_mut_ptr().cast(), len)
        };
        let p = from_err_ptr(p)?;
        if p.is_null() {
            return Ok(None);
        }
        name_in(buf, p.cast()).map(Some)
    }
}

/// The NUL-terminated name that `d_path()` or `__d_path()` built at `p`, inside `buf`.
fn name_in(buf: &[u8], p: *const u8) -> Result<&[u8]> {
    let tail = (p as usize)
        .checked_sub(buf.as_ptr() as usize)
        .and_then(|at| buf.get(at..))
        .ok_or(ENAMETOOLONG)?;
    let end = tail.iter().position(|&b| b == 0).ok_or(ENAMETOOLONG)?;
    Ok(&tail[..end])
}

/// A path of which the holder counts the mount and the dentry (`path_get()`), dropped with
/// `path_put()`.
///
/// # Invariants
///
/// `inner` holds a counted mount and dentry, owned by this value.
pub struct OwnedPath {
    inner: Opaque<bindings::path>,
}

// SAFETY: `path_put` may be called from any task that may sleep.
unsafe impl Send for OwnedPath {}
// SAFETY: the path does not change once made; its methods only read it.
unsafe impl Sync for OwnedPath {}

impl OwnedPath {
    /// Takes ownership of the references a C function took for `path`.
    ///
    /// # Safety
    ///
    /// The mount and dentry of `path` must be counted, and the caller gives these counts up.
    pub unsafe fn from_counted(path: bindings::path) -> OwnedPath {
        // INVARIANT: the caller gives up the counts.
        OwnedPath {
            inner: Opaque::new(path),
        }
    }

    /// Looks `name` up from the current task's root and cwd, with `LOOKUP_*` `flags`
    /// (`kern_path()`).
    pub fn lookup(name: &CStr, flags: u32) -> Result<OwnedPath> {
        let path = Opaque::<bindings::path>::uninit();
        // SAFETY: `name` is NUL-terminated; the callee fills `path` only when it succeeds.
        to_result(unsafe { bindings::kern_path(name.as_char_ptr(), flags, path.get()) })?;
        // INVARIANT: `kern_path` succeeded, so `path` holds counts we own.
        Ok(OwnedPath { inner: path })
    }
}

impl Deref for OwnedPath {
    type Target = Path;

    fn deref(&self) -> &Path {
        // SAFETY: we hold the counts (type invariant), and the fields do not change.
        unsafe { Path::from_raw(self.inner.get()) }
    }
}

impl Drop for OwnedPath {
    fn drop(&mut self) {
        // SAFETY: we own the counts (type invariant).
        unsafe { bindings::path_put(self.inner.get()) };
    }
}
