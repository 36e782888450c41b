// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section; it ends when the guard is dropped.
///
/// The guard is neither `Send` nor `Sync`: the section must end on the CPU context that began it.
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section.
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock` may be called from any context; it is balanced by `Drop`.
        unsafe { bindings::rcu_read_lock() };
        Guard(PhantomData)
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: the guard exists, so a matching `rcu_read_lock` was done by `Guard::new`.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters an RCU read-side critical section that lasts as long as the returned guard.
pub fn read_lock() -> Guard {
    Guard::new()
}
