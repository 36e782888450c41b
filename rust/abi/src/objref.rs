// SPDX-License-Identifier: GPL-2.0

//! Objref tables: how shared objects are written once and named by number afterwards.
//!
//! Dumping, a [`DumpTable`] maps an object key (a kernel pointer, say) to its objref and tells
//! whether this is the first sight; the dumper keeps what it needs with each entry (the kernel:
//! whether the object is written yet, and its holders). Restoring, a [`RestoreTable`] maps an
//! objref back to the object made from its record.
//!
//! The tables own no memory: storage comes through the small [`Slots`] trait, which the kernel
//! implements over its own vector type and user space over `Vec`. Objrefs are dense, 1-based
//! and in order of first sight, which need not be the order the objects are written in; both
//! tables are bounded by [`MAX_OBJREFS`], so a hostile image
//! cannot make a restore grow them further.

/// Most objrefs in one image.
pub const MAX_OBJREFS: u32 = 1 << 20;

/// An object's number in the image: 1-based, 0 means "none".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjRef(pub u32);

impl ObjRef {
    /// No object.
    pub const NONE: ObjRef = ObjRef(0);

    /// Whether this names no object.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Index into dense storage (`objref - 1`); `None` for [`ObjRef::NONE`].
    fn index(self) -> Option<usize> {
        self.0.checked_sub(1).map(|i| i as usize)
    }
}

/// The storage refused to grow (out of memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Growable storage for a table, like a vector.
pub trait Slots<T> {
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i`.
    fn get(&self, i: usize) -> Option<&T>;
    /// Element `i`, mutably.
    fn get_mut(&mut self, i: usize) -> Option<&mut T>;
    /// Appends an element.
    fn push(&mut self, value: T) -> Result<(), Full>;
    /// Removes every element.
    fn clear(&mut self);
}

/// Why a table operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjError {
    /// Storage could not grow (ENOMEM).
    NoMemory,
    /// More than [`MAX_OBJREFS`] objects (EINVAL on restore; a dump refuses with E2BIG).
    TooMany,
    /// Objref 0 or one that is not defined (EINVAL).
    BadRef,
    /// An objref defined twice (EINVAL).
    Duplicate,
}

impl From<Full> for ObjError {
    fn from(_: Full) -> Self {
        ObjError::NoMemory
    }
}

impl ObjError {
    /// The positive errno.
    pub fn errno(self) -> i32 {
        match self {
            ObjError::NoMemory => 12,
            ObjError::TooMany | ObjError::BadRef | ObjError::Duplicate => 22,
        }
    }
}

/// An entry of a [`DumpTable`]: the object's key plus whatever the dumper keeps with it
/// (a reference that holds the object alive, a user count for leak detection...).
pub trait DumpEntry {
    /// The key that identifies the object (e.g. its address).
    fn key(&self) -> u64;
}

impl DumpEntry for u64 {
    fn key(&self) -> u64 {
        *self
    }
}

/// Dump side: key -> objref, with a hash index over the entries.
///
/// `entries` holds the entries in objref order; `index` is an open-addressing table of
/// objrefs (0 = empty slot), rebuilt at twice the size whenever it would be half full.
pub struct DumpTable<E: DumpEntry, S: Slots<E>, I: Slots<u32>> {
    entries: S,
    index: I,
    _entry: core::marker::PhantomData<E>,
}

/// Fibonacci hashing: spreads pointer-like keys (aligned, clustered) over the index.
fn slot_of(key: u64, mask: usize) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
}

impl<E: DumpEntry, S: Slots<E>, I: Slots<u32>> DumpTable<E, S, I> {
    /// A table over empty storage (whatever `entries` and `index` hold is dropped).
    pub fn new(mut entries: S, mut index: I) -> Self {
        entries.clear();
        index.clear();
        Self {
            entries,
            index,
            _entry: core::marker::PhantomData,
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The objref of the object with `key`, if seen.
    pub fn lookup(&self, key: u64) -> Option<ObjRef> {
        let cap = self.index.len();
        if cap == 0 {
            return None;
        }
        let mask = cap - 1;
        let mut slot = slot_of(key, mask);
        for _ in 0..cap {
            let r = *self.index.get(slot)?;
            if r == 0 {
                return None;
            }
            if self.get(ObjRef(r)).map(DumpEntry::key) == Some(key) {
                return Some(ObjRef(r));
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// The entry of `r`.
    pub fn get(&self, r: ObjRef) -> Option<&E> {
        self.entries.get(r.index()?)
    }

    /// The entry of `r`, mutably.
    pub fn get_mut(&mut self, r: ObjRef) -> Option<&mut E> {
        let i = r.index()?;
        self.entries.get_mut(i)
    }

    /// Puts `r` into the index at the first free slot for `key`.
    fn place(index: &mut I, key: u64, r: u32) {
        let cap = index.len();
        if cap == 0 {
            return;
        }
        let mask = cap - 1;
        let mut slot = slot_of(key, mask);
        for _ in 0..cap {
            match index.get_mut(slot) {
                Some(s) if *s == 0 => {
                    *s = r;
                    return;
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn grow(&mut self) -> Result<(), ObjError> {
        let cap = self.index.len();
        let new_cap = if cap < 16 { 16 } else { cap.saturating_mul(2) };
        self.index.clear();
        for _ in 0..new_cap {
            self.index.push(0)?;
        }
        for i in 0..self.entries.len() {
            if let Some(key) = self.entries.get(i).map(DumpEntry::key) {
                Self::place(&mut self.index, key, (i as u32).saturating_add(1));
            }
        }
        Ok(())
    }

    /// Returns the objref of `entry`'s object and `true` if this is its first sight (the
    /// entry is then kept and the caller writes the object), or the existing objref and
    /// `false` (the entry is dropped).
    pub fn insert(&mut self, entry: E) -> Result<(ObjRef, bool), ObjError> {
        let key = entry.key();
        if let Some(r) = self.lookup(key) {
            return Ok((r, false));
        }
        let n = self.entries.len();
        if n >= MAX_OBJREFS as usize {
            return Err(ObjError::TooMany);
        }
        if n.saturating_add(1).saturating_mul(2) > self.index.len() {
            self.grow()?;
        }
        self.entries.push(entry)?;
        let r = (n as u32).saturating_add(1);
        Self::place(&mut self.index, key, r);
        Ok((ObjRef(r), true))
    }
}

/// Restore side: objref -> object.
pub struct RestoreTable<T, S: Slots<Option<T>>> {
    slots: S,
    _t: core::marker::PhantomData<T>,
}

impl<T, S: Slots<Option<T>>> RestoreTable<T, S> {
    /// A table over empty storage.
    pub fn new(mut slots: S) -> Self {
        slots.clear();
        Self {
            slots,
            _t: core::marker::PhantomData,
        }
    }

    /// Defines `r` as `value`, in any order; skipped numbers are allowed and stay undefined.
    pub fn insert(&mut self, r: ObjRef, value: T) -> Result<(), ObjError> {
        let i = r.index().ok_or(ObjError::BadRef)?;
        if r.0 > MAX_OBJREFS {
            return Err(ObjError::TooMany);
        }
        while self.slots.len() <= i {
            self.slots.push(None)?;
        }
        let slot = self.slots.get_mut(i).ok_or(ObjError::BadRef)?;
        if slot.is_some() {
            return Err(ObjError::Duplicate);
        }
        *slot = Some(value);
        Ok(())
    }

    /// The object of `r`, if defined.
    pub fn get(&self, r: ObjRef) -> Option<&T> {
        self.slots.get(r.index()?)?.as_ref()
    }

    /// The object of `r`, mutably.
    pub fn get_mut(&mut self, r: ObjRef) -> Option<&mut T> {
        let i = r.index()?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Like [`RestoreTable::get`], but an undefined objref is an error.
    pub fn resolve(&self, r: ObjRef) -> Result<&T, ObjError> {
        self.get(r).ok_or(ObjError::BadRef)
    }

    /// One past the largest objref slot allocated.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing is defined yet.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
