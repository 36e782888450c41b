//! Memory for the targets: mappings, and patterns written into them and checked after the
//! restart. A pattern is a sequence of u64 words that depends on its seed and on the position.

use crate::target::{check_os, os_error, Check};

/// The page size the tests assume (x86_64).
pub const PAGE: usize = 4096;

/// Word `i` of pattern `seed`; never 0.
pub fn pattern(seed: u64, i: usize) -> u64 {
    (i as u64 ^ seed << 48).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// Writes pattern `seed` over `words`.
pub fn fill_words(words: &mut [u64], seed: u64) {
    for (i, w) in words.iter_mut().enumerate() {
        *w = pattern(seed, i);
    }
}

/// `Err` naming the first of `words` that is not pattern `seed`.
pub fn check_words(words: &[u64], seed: u64, what: &str) -> Check {
    match (0..words.len()).find(|&i| words[i] != pattern(seed, i)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: word {i} (byte {:#x}) is {:#x}, expected {:#x}",
            i * 8,
            words[i],
            pattern(seed, i)
        )),
    }
}

/// A mapping made by [`mmap`], or a part of one. Mappings are never unmapped, so the address
/// stays valid; accessing it needs the protection the access needs, as with any memory.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    /// Memory mapped by other means (the area `sbrk` added).
    ///
    /// # Safety
    ///
    /// `addr` must be page aligned and `len` bytes from it mapped for the rest of the process's
    /// life, and used by nothing else.
    pub unsafe fn from_raw(addr: *mut u8, len: usize) -> Mapping {
        Mapping { addr, len }
    }

    pub fn addr(&self) -> usize {
        self.addr as usize
    }

    pub fn ptr(&self) -> *mut u8 {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `len` bytes at `offset`; panics outside the mapping.
    pub fn part(&self, offset: usize, len: usize) -> Mapping {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        Mapping {
            addr: self.addr.wrapping_add(offset),
            len,
        }
    }

    /// Page `n` of the range; panics outside it.
    pub fn page(&self, n: usize) -> Mapping {
        self.part(n * PAGE, PAGE)
    }

    /// Writes pattern `seed + n` over each page `n` of the range.
    pub fn fill_pages(&self, seed: u64) {
        for n in 0..self.len / PAGE {
            self.page(n).fill(seed + n as u64);
        }
    }

    /// The range as words; see [`Mapping::fill`] for the safety argument.
    fn words(&self) -> &[u64] {
        // SAFETY: as in `fill`, read-only.
        unsafe { std::slice::from_raw_parts(self.addr.cast(), self.len / 8) }
    }

    /// Writes pattern `seed` over the whole range.
    pub fn fill(&self, seed: u64) {
        // SAFETY: the range is mapped for good (see the type's comment) and 8-aligned (page
        // aligned mappings, parts cut at multiples of 8); the tests are single-threaded and
        // hold no other reference into their mappings while this one lives.
        let words = unsafe { std::slice::from_raw_parts_mut(self.addr.cast(), self.len / 8) };
        fill_words(words, seed)
    }

    /// Writes zeros over the whole range (a store to every word, as a program would, not a
    /// page dropped).
    pub fn fill_zero(&self) {
        // SAFETY: as in `fill`.
        let words =
            unsafe { std::slice::from_raw_parts_mut(self.addr.cast::<u64>(), self.len / 8) };
        for w in words {
            // SAFETY: `w` is a valid word of the range; volatile, so that the stores stay.
            unsafe { std::ptr::write_volatile(w, 0) };
        }
    }

    /// `Err` naming the first word that is not pattern `seed`.
    pub fn check(&self, seed: u64, what: &str) -> Check {
        check_words(self.words(), seed, what)
    }

    /// `Err` naming the first word that is not 0.
    pub fn check_zero(&self, what: &str) -> Check {
        match self.words().iter().position(|&w| w != 0) {
            None => Ok(()),
            Some(i) => Err(format!(
                "{what}: word {i} is {:#x}, expected 0",
                self.words()[i]
            )),
        }
    }

    /// What /proc/self/pagemap says of each page of the range, without touching it: `Some`
    /// for an anonymous page in memory, `true` if this process alone maps it, `false` if it
    /// shares it (copy-on-write after fork()); `None` for a hole, or a file's page.
    pub fn anon_pages(&self) -> Result<Vec<Option<bool>>, String> {
        use std::os::unix::fs::FileExt;
        const PRESENT: u64 = 1 << 63;
        const FILE: u64 = 1 << 61;
        const EXCLUSIVE: u64 = 1 << 56;
        let f = std::fs::File::open("/proc/self/pagemap")
            .map_err(|e| format!("/proc/self/pagemap: {e}"))?;
        let mut raw = vec![0u8; self.len / PAGE * 8];
        f.read_exact_at(&mut raw, (self.addr() / PAGE * 8) as u64)
            .map_err(|e| format!("/proc/self/pagemap at {:#x}: {e}", self.addr()))?;
        let entry = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or_default());
        let page = |e: u64| (e & (PRESENT | FILE) == PRESENT).then_some(e & EXCLUSIVE != 0);
        Ok(raw.chunks_exact(8).map(|b| page(entry(b))).collect())
    }

    /// Names the range, anonymous memory, with prctl(PR_SET_VMA_ANON_NAME).
    pub fn name(&self, name: &str) -> Check {
        let name = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: names our own mapping with a string that outlives the call.
        let r = unsafe {
            libc::prctl(
                libc::PR_SET_VMA,
                libc::PR_SET_VMA_ANON_NAME,
                self.addr(),
                self.len,
                name.as_ptr(),
            )
        };
        check_os(r, format_args!("PR_SET_VMA_ANON_NAME {name:?}"))
    }

    /// mprotect(2) of the range.
    pub fn protect(&self, prot: libc::c_int) -> Check {
        // SAFETY: only the protection of our own mapping changes.
        let r = unsafe { libc::mprotect(self.addr.cast(), self.len, prot) };
        check_os(
            r,
            format_args!("mprotect({:#x}, {}, {prot:#x})", self.addr(), self.len),
        )
    }

    /// mremap(2) of the range onto `to`, with its pages, grown to `to`'s length as realloc()
    /// grows a block: the range is unmapped, what it held is at `to`'s address from then on,
    /// and the rest reads as zeros. Panics if `to` is shorter.
    pub fn move_to(self, to: Mapping) -> Result<Mapping, String> {
        assert!(to.len >= self.len);
        let flags = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
        // SAFETY: moves our own mapping over another of ours; nothing uses either after.
        let p = unsafe { libc::mremap(self.addr.cast(), self.len, to.len, flags, to.addr) };
        if p == libc::MAP_FAILED {
            return Err(os_error(format!(
                "mremap of {:#x} to {:#x}",
                self.addr(),
                to.addr()
            )));
        }
        Ok(Mapping {
            addr: p.cast(),
            len: to.len,
        })
    }

    /// munmap(2) of the range: nothing may use it after.
    pub fn unmap(self) -> Check {
        // SAFETY: only our own mapping goes, which nothing uses any more.
        let r = unsafe { libc::munmap(self.addr.cast(), self.len) };
        check_os(r, format_args!("munmap({:#x}, {})", self.addr(), self.len))
    }
}

/// mmap(2) with no address hint.
pub fn mmap(
    len: usize,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: libc::c_int,
    offset: usize,
) -> Result<Mapping, String> {
    // SAFETY: a new mapping at an address the kernel picks: no existing memory changes.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            flags,
            fd,
            offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os_error(format!("mmap of {len} bytes")));
    }
    Ok(Mapping {
        addr: p.cast(),
        len,
    })
}

/// A private anonymous read-write mapping of `len` bytes.
pub fn anon(len: usize) -> Result<Mapping, String> {
    mmap(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    )
}

/// A shared anonymous read-write mapping of `len` bytes, which children forked after share.
pub fn shared_anon(len: usize) -> Result<Mapping, String> {
    mmap(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
        0,
    )
}

/// A new read-write private anonymous region of `pages` pages, followed by `spare`
/// inaccessible ones it may grow into, between inaccessible guard pages: it never merges with
/// its neighbours.
pub fn region(pages: usize, spare: usize) -> Result<Mapping, String> {
    let all = mmap(
        (1 + pages + spare + 1) * PAGE,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    )?;
    let m = all.part(PAGE, pages * PAGE);
    m.protect(libc::PROT_READ | libc::PROT_WRITE)?;
    Ok(m)
}

/// Page `n` of a mapping filled with `seed` ([`Mapping::fill_pages`]): `seed` plus `n`, or
/// `by` plus `n` where a process rewrote it.
pub fn seeded(n: usize, seed: u64, rewrote: bool, by: u64) -> u64 {
    match rewrote {
        true => by + n as u64,
        false => seed + n as u64,
    }
}

/// After the restart of a tree whose `processes` share the pages of `map` copy-on-write,
/// checks that a write stays its writer's own: once every process checked its sharing (a
/// write changes the others'), writes `fill` plus its number in page `mine`, then, once every
/// process wrote its own, checks that page `mine` holds that and each other page `n`
/// `page(n)`, nothing of the others'.
pub fn write_stays_own(
    map: Mapping,
    name: &str,
    (mine, fill): (usize, u64),
    page: impl Fn(usize) -> u64,
    (count, processes): (crate::tree::Barrier, u32),
) -> Check {
    count.wait(processes)?;
    map.page(mine).fill(fill + mine as u64);
    count.wait(2 * processes)?;
    for n in 0..map.len() / PAGE {
        let want = match n == mine {
            true => fill + n as u64,
            false => page(n),
        };
        map.page(n).check(
            want,
            &format!("{name}: page {n}, after the others wrote theirs"),
        )?;
    }
    Ok(())
}

/// What a process of a tree notes before the checkpoint of a mapping whose pages it shares
/// copy-on-write with others: which pages it maps alone, and its /proc/self/maps. After the
/// restart, [`Sharing::check`] finds the same.
pub struct Sharing {
    name: &'static str,
    map: Mapping,
    alone: Vec<Option<bool>>,
    maps: crate::proc::MapsSnapshot,
    after: crate::proc::MapsSnapshot,
}

impl Sharing {
    /// Notes the maps and which pages of `map` process `name` maps alone: each must be as
    /// `alone` says, else the tree does not share what the test is about. Last thing before
    /// the checkpoint: nothing is mapped after it.
    pub fn take(
        name: &'static str,
        map: Mapping,
        alone: impl Fn(usize) -> bool,
    ) -> Result<Sharing, String> {
        let pages = map.anon_pages()?;
        for (n, &got) in pages.iter().enumerate() {
            crate::check_eq(
                format!("{name}: page {n} before the checkpoint (alone?)"),
                got,
                Some(alone(n)),
            )?;
        }
        let mut s = Sharing {
            name,
            map,
            alone: pages,
            maps: crate::proc::MapsSnapshot::new(),
            after: crate::proc::MapsSnapshot::new(),
        };
        s.maps.take()?;
        Ok(s)
    }

    /// First thing after the restart: the same maps and the same pages mapped alone.
    pub fn check(mut self) -> Check {
        self.after.take()?;
        self.maps
            .compare(&self.after)
            .map_err(|e| format!("{}: {e}", self.name))?;
        for (n, (&before, now)) in self.alone.iter().zip(self.map.anon_pages()?).enumerate() {
            crate::check_eq(
                format!(
                    "{}: page {n} mapped alone (Some(true)), shared or not at all",
                    self.name
                ),
                now,
                before,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_check() {
        let m = anon(2 * PAGE).unwrap();
        m.check_zero("fresh").unwrap();
        m.fill(3);
        m.check(3, "filled").unwrap();
        assert!(m.check(4, "other seed").is_err());
        assert!(m.check_zero("filled").is_err());
        m.part(0, PAGE).protect(libc::PROT_READ).unwrap();
        m.part(PAGE, PAGE).fill(5);
        m.part(PAGE, PAGE).check(5, "second page").unwrap();
        let mut words = [0u64; 16];
        fill_words(&mut words, 1);
        check_words(&words, 1, "array").unwrap();
    }
}
