// SPDX-License-Identifier: GPL-2.0

//! Completions: one task waits until another says it is done.
//!
//! The shape follows the abstraction later kernels carry in `rust/kernel/sync/completion.rs`,
//! with the killable and state waits and the single `complete()` restart needs.
//!
//! C header: [`include/linux/completion.h`](srctree/include/linux/completion.h)

use crate::{bindings, error::Error, error::Result, prelude::*, types::Opaque};

/// A `struct completion`, initialised in place and pinned there: waiters sleep on its wait
/// queue.
///
/// # Invariants
///
/// `inner` was initialised by `init_completion()` and has not moved since.
#[pin_data]
pub struct Completion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: a completion is used from any task through its own lock.
unsafe impl Send for Completion {}
// SAFETY: as above.
unsafe impl Sync for Completion {}

impl Completion {
    /// A completion nobody has completed yet.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is where the completion stays, valid for writes.
            inner <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
        })
    }

    /// The raw `struct completion`, for a C pointer to it (`vfork_done`); it is valid as long
    /// as `self` is.
    pub fn as_raw(&self) -> *mut bindings::completion {
        self.inner.get()
    }

    /// Wakes one waiter, or lets the next wait return at once (`complete()`).
    pub fn complete(&self) {
        // SAFETY: initialised (type invariant).
        unsafe { bindings::complete(self.as_raw()) };
    }

    /// Waits until it is completed, uninterruptibly.
    pub fn wait_for_completion(&self) {
        // SAFETY: initialised (type invariant).
        unsafe { bindings::wait_for_completion(self.as_raw()) };
    }

    /// Waits until it is completed, or a fatal signal comes (`ERESTARTSYS`), as
    /// `wait_for_completion_killable()` does.
    pub fn wait_killable(&self) -> Result {
        self.wait_state(bindings::TASK_KILLABLE)
    }

    /// As [`Completion::wait_killable`], in a sleep the freezer does not wait for, as a
    /// vfork parent's in `wait_for_vfork_done()`.
    pub fn wait_killable_freezable(&self) -> Result {
        self.wait_state(bindings::TASK_KILLABLE | bindings::TASK_FREEZABLE)
    }

    fn wait_state(&self, state: u32) -> Result {
        // SAFETY: initialised (type invariant); `state` is one of the two above.
        match unsafe { bindings::wait_for_completion_state(self.as_raw(), state) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }
}
