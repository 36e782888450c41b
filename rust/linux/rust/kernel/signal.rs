// SPDX-License-Identifier: GPL-2.0

//! Signal handlers: `struct sighand_struct`, which the threads of a process share, and
//! processes too with `CLONE_SIGHAND`.
//!
//! C header: [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h)

use crate::{
    bindings,
    types::{AlwaysRefCounted, Opaque},
};
use core::ptr::NonNull;

/// The signal handlers of one or more processes.
///
/// # Invariants
///
/// Every instance is a valid `sighand_struct` with a reference (`count`) held for as long as
/// the reference through which it is reached exists.
#[repr(transparent)]
pub struct SighandStruct {
    inner: Opaque<bindings::sighand_struct>,
}

// SAFETY: a reference may be dropped from any task (`__cleanup_sighand`).
unsafe impl Send for SighandStruct {}
// SAFETY: no method reads or writes the handlers; they are only counted and switched to.
unsafe impl Sync for SighandStruct {}

// SAFETY: `count` is the handlers' reference count: `copy_sighand()` increments it and
// `__cleanup_sighand()` frees them with the last one, which keeps them valid as the type's
// invariant asks.
unsafe impl AlwaysRefCounted for SighandStruct {
    fn inc_ref(&self) {
        // SAFETY: the handlers have a reference (type invariant).
        unsafe { bindings::refcount_inc(core::ptr::addr_of_mut!((*self.as_ptr()).count)) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives back a reference it holds.
        unsafe { bindings::__cleanup_sighand(obj.cast().as_ptr()) };
    }
}

impl SighandStruct {
    /// The raw `struct sighand_struct`, for comparing and for C functions the abstraction
    /// does not cover.
    pub fn as_ptr(&self) -> *mut bindings::sighand_struct {
        self.inner.get()
    }

    /// The current task's handlers, counted.
    pub fn of_current() -> crate::types::ARef<SighandStruct> {
        // SAFETY: only the current task's process replaces its handlers, in exec or here,
        // which it is not doing while it runs this; a task not yet exited has them.
        let sighand: &SighandStruct = unsafe { &*(*bindings::get_current()).sighand.cast() };
        sighand.into()
    }

    /// Makes the current task, the only thread of its process, use these handlers, as a
    /// `CLONE_SIGHAND` child of a task using them would, and drop its own
    /// (`restart_share_sighand()`); `EBUSY` if its process has other threads.
    #[cfg(CONFIG_CHECKPOINT)]
    pub fn share_with_current(&self) -> crate::error::Result {
        // SAFETY: the handlers are valid (type invariant); the callee takes its own reference.
        crate::error::to_result(unsafe { bindings::restart_share_sighand(self.as_ptr()) })
    }
}
