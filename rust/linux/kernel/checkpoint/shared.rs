// SPDX-License-Identifier: GPL-2.0

//! Objects that processes share by reference: an fd table (`CLONE_FILES`), root and cwd
//! (`CLONE_FS`), an address space (`CLONE_VM`) and signal handlers (`CLONE_SIGHAND`).
//!
//! Checkpoint writes such an object with the first process that has it; the others' record
//! only names it by objref. Restart keeps a counted reference to the object restored first,
//! by objref, and each later process drops the one it was created with and joins it.

use crate::image::Restorer;
use crate::task::with_task_lock;
use crate::Obj;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// A kind of object a process can share with others.
pub(crate) trait Shareable: Sized {
    /// What the log says of a record that writes such an object again, or names another kind
    /// of object.
    const BAD: &'static str;

    /// The current task's object. Only the current task could replace it, and it is busy.
    fn of_current() -> NonNull<Self>;

    /// Takes a reference, as the clone flag does.
    ///
    /// # Safety
    ///
    /// `p` must be valid and in use.
    unsafe fn get(p: NonNull<Self>);

    /// Makes the current task, the only thread of its process, use `p` (taking a reference)
    /// instead of its own, which it releases.
    ///
    /// # Safety
    ///
    /// `p` must be valid and counted by the caller.
    unsafe fn install(p: NonNull<Self>) -> Result;

    /// Drops a reference.
    ///
    /// # Safety
    ///
    /// The caller must own a reference to `p`.
    unsafe fn put(p: NonNull<Self>);

    /// The restart object holding `r`.
    fn into_obj(r: SharedRef<Self>) -> Obj;

    /// The reference `obj` holds, if it is one of this kind.
    fn of_obj(obj: &Obj) -> Option<&SharedRef<Self>>;
}

/// Implements [`Shareable::into_obj`] and [`Shareable::of_obj`] with the `Obj` variant named.
macro_rules! in_obj {
    ($variant:ident) => {
        fn into_obj(r: $crate::shared::SharedRef<Self>) -> $crate::Obj {
            $crate::Obj::$variant(r)
        }

        fn of_obj(obj: &$crate::Obj) -> Option<&$crate::shared::SharedRef<Self>> {
            match obj {
                $crate::Obj::$variant(r) => Some(r),
                _ => None,
            }
        }
    };
}
pub(crate) use in_obj;

/// A counted reference to a shared object of kind `T`.
///
/// # Invariants
///
/// The pointer is valid and one of its references is ours.
pub(crate) struct SharedRef<T: Shareable>(NonNull<T>);

// SAFETY: the objects are reference counted and may be used and released from any task.
unsafe impl<T: Shareable> Send for SharedRef<T> {}
// SAFETY: only the pointer is read through a shared reference.
unsafe impl<T: Shareable> Sync for SharedRef<T> {}

impl<T: Shareable> SharedRef<T> {
    /// The current task's object.
    fn current() -> SharedRef<T> {
        let p = T::of_current();
        // SAFETY: the current task's object is valid and in use while it runs.
        unsafe { T::get(p) };
        // INVARIANT: the reference just taken is ours.
        SharedRef(p)
    }
}

impl<T: Shareable> Drop for SharedRef<T> {
    fn drop(&mut self) {
        // SAFETY: we own this reference (type invariant).
        unsafe { T::put(self.0) };
    }
}

/// Installs `p` in the current task's `slot` (`files`, `fs`) under its task lock, as
/// `unshare()` does, with a new reference, and drops the reference to the object it replaces.
///
/// # Safety
///
/// `p` must be valid and in use, and `slot` the current task's pointer to its object of kind
/// `T`, which it must hold.
pub(crate) unsafe fn swap_locked<T: Shareable>(
    p: NonNull<T>,
    slot: impl FnOnce(&mut bindings::task_struct) -> &mut *mut T,
) {
    // SAFETY: per the caller; the task lock keeps readers of `slot` (other tasks looking at
    // ours) from seeing it change half-way.
    unsafe {
        T::get(p);
        let cur = bindings::get_current();
        let old = with_task_lock(cur, || core::mem::replace(slot(&mut *cur), p.as_ptr()));
        T::put(NonNull::new_unchecked(old));
    }
}

/// For the record of the shared object `objref`: if an earlier process restored it, makes the
/// current task use it and returns `true`; the record must then only name it (`only_named`).
/// Returns `false` for the first record of the object, which the caller restores in the
/// current task's own object and then [`keep`]s.
pub(crate) fn join<T: Shareable>(
    r: &mut Restorer<'_, Obj>,
    objref: u32,
    only_named: bool,
) -> Result<bool> {
    let Some(obj) = r.defined(objref) else {
        return Ok(false);
    };
    match T::of_obj(obj) {
        Some(shared) if only_named => {
            // SAFETY: `shared` holds a reference for as long as we borrow it.
            unsafe { T::install(shared.0) }?;
            Ok(true)
        }
        _ => Err(r.bad(T::BAD)),
    }
}

/// Records the current task's object as the one restored for `objref`, for the processes
/// that share it and come later.
pub(crate) fn keep<T: Shareable>(r: &mut Restorer<'_, Obj>, objref: u32) -> Result {
    r.define(objref, T::into_obj(SharedRef::current()))
}

/// The object of kind `T` that `objref` names, restored earlier (for another process); `None`
/// if it names nothing yet, or another kind of object. Valid while `r` keeps it.
pub(crate) fn restored<T: Shareable>(r: &Restorer<'_, Obj>, objref: u32) -> Option<NonNull<T>> {
    r.defined(objref).and_then(T::of_obj).map(|s| s.0)
}
