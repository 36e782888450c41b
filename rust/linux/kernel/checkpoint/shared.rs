// SPDX-License-Identifier: GPL-2.0

//! Objects that processes share by reference: an fd table (`CLONE_FILES`), root and cwd
//! (`CLONE_FS`), an address space (`CLONE_VM`) and signal handlers (`CLONE_SIGHAND`).
//!
//! Checkpoint finds such an object from each task of the tree and counts its holders there
//! against its users (`objects.rs`), then writes it with the first process that has it; the
//! others' record only names it by objref. Restart keeps a counted reference to the object
//! restored first, by objref, and each later process drops the one it was created with and
//! joins it.

use crate::image::Restorer;
use crate::objects::SharedKind;
use crate::Obj;
use kernel::prelude::*;
use kernel::task::Task;
use kernel::task_lock::Held;
use kernel::types::{ARef, AlwaysRefCounted};

/// A kind of object a process can share with others.
pub(crate) trait Shareable: AlwaysRefCounted + Sized {
    /// What a log line calls it.
    const WHAT: &'static str;

    /// Whether its user count also counts passing references (a /proc reader's), so that
    /// only a task outside the tree found holding it makes a leak.
    const PASSING_USERS: bool = false;

    /// The object `task` holds, by address, with its users; `None` once it has exited.
    fn held(task: &Task) -> Option<Held>;

    /// The above, for checkpoint's table of objects.
    const KIND: &'static SharedKind = &SharedKind::of::<Self>();

    /// What the log says of a record that writes such an object again, or names another kind
    /// of object.
    const BAD: &'static str;

    /// The current task's object, counted. Only the current task could replace it, and it is
    /// busy.
    fn current() -> Result<ARef<Self>>;

    /// The restart object holding `r`.
    fn into_obj(r: ARef<Self>) -> Obj;

    /// The reference `obj` holds, if it is one of this kind.
    fn of_obj(obj: &Obj) -> Option<&ARef<Self>>;
}

/// A kind of shared object the current task can take in place of its own with no more than
/// the object.
pub(crate) trait Joinable: Shareable {
    /// Makes the current task, the only thread of its process, use this object instead of
    /// its own, which it drops, as a child created with the clone flag would.
    fn install(&self) -> Result;
}

/// Implements [`Shareable::into_obj`] and [`Shareable::of_obj`] with the `Obj` variant named.
macro_rules! in_obj {
    ($variant:ident) => {
        fn into_obj(r: kernel::types::ARef<Self>) -> $crate::Obj {
            $crate::Obj::$variant(r)
        }

        fn of_obj(obj: &$crate::Obj) -> Option<&kernel::types::ARef<Self>> {
            match obj {
                $crate::Obj::$variant(r) => Some(r),
                _ => None,
            }
        }
    };
}
pub(crate) use in_obj;

/// For the record of the shared object `objref`: the object if an earlier process restored
/// it, which the record must then only name (`only_named`); `None` for the first record of
/// the object, which the caller restores in the current task's own object and then
/// [`keep`]s.
pub(crate) fn earlier<T: Shareable>(
    r: &Restorer<'_, Obj>,
    objref: u32,
    only_named: bool,
) -> Result<Option<ARef<T>>> {
    let Some(obj) = r.defined(objref) else {
        return Ok(None);
    };
    match T::of_obj(obj) {
        Some(shared) if only_named => Ok(Some(shared.clone())),
        _ => Err(r.bad(T::BAD)),
    }
}

/// As [`earlier`], but makes the current task use the object restored earlier, and returns
/// whether there was one.
pub(crate) fn join<T: Joinable>(
    r: &mut Restorer<'_, Obj>,
    objref: u32,
    only_named: bool,
) -> Result<bool> {
    let Some(shared) = earlier::<T>(r, objref, only_named)? else {
        return Ok(false);
    };
    shared.install()?;
    Ok(true)
}

/// Records the current task's object as the one restored for `objref`, for the processes
/// that share it and come later.
pub(crate) fn keep<T: Shareable>(r: &mut Restorer<'_, Obj>, objref: u32) -> Result {
    r.define(objref, T::into_obj(T::current()?))
}

/// The object of kind `T` that `objref` names, restored earlier (for another process); `None`
/// if it names nothing yet, or another kind of object.
pub(crate) fn restored<T: Shareable>(r: &Restorer<'_, Obj>, objref: u32) -> Option<ARef<T>> {
    r.defined(objref).and_then(T::of_obj).cloned()
}
