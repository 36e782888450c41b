// SPDX-License-Identifier: GPL-2.0

//! Lookups by key for the scans over a whole tree. A tree may hold 65536 tasks and a process a
//! million fds: a list scanned once for each of them would keep a CPU in the kernel for
//! minutes (a soft lockup), so each such question is a search in O(log n).

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;

/// A fixed list of `(key, value)`, sorted once by key: which values a key has.
/// One allocation, and nothing allocated by a lookup, which may thus run under a spinlock.
pub(crate) struct Sorted<V>(KVec<(usize, V)>);

impl<V> Sorted<V> {
    /// Sorts the `n` entries of `items` (at most `n` are taken).
    pub(crate) fn new(n: usize, items: impl Iterator<Item = (usize, V)>) -> Result<Sorted<V>> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for item in items.take(n) {
            v.push(item, GFP_KERNEL)?;
        }
        v.sort_unstable_by_key(|&(k, _)| k);
        Ok(Sorted(v))
    }

    /// The entries whose key is `key`.
    fn all(&self, key: usize) -> &[(usize, V)] {
        let from = self.0.partition_point(|&(k, _)| k < key);
        let to = from + self.0[from..].partition_point(|&(k, _)| k == key);
        &self.0[from..to]
    }

    /// The value of one entry of `key`, if there is one.
    pub(crate) fn get(&self, key: usize) -> Option<&V> {
        self.all(key).first().map(|(_, v)| v)
    }
}
