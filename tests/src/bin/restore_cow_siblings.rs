//! Private pages that only sibling processes still share copy-on-write (their parent wrote its
//! own copies since the fork) are shared again after the restart, and so are pages shared with
//! a parent whose mapping has grown since the fork, of which the child keeps only a part, or
//! which the child grew itself.
//!
//! The root maps and fills five regions, forks c1, c2 and c3, then writes:
//!
//! ```text
//! S  32 pages   root: writes all of them after the forks (c1, c2, c3 share theirs)
//!               c1: writes page 5
//! H  8 pages    root: grows it in place by 4 pages after the forks
//!               c2: writes page 3; c3: makes 2 pages of its own right after it
//! T  8 pages    c1: unmaps pages 0-1
//! G  8 pages    c2: grows it in place by 4 pages with mremap()
//! D  8 pages    (MAP_GROWSDOWN) c3: touches the 4 pages below it, as a stack grows
//! ```
//!
//! So c2's S can only come back shared from c1's, its T only from the root's, and H from the
//! root's 12-page mapping trimmed to 8; c2's G and c3's D from a mapping smaller than theirs. Each process notes, before the checkpoint, its
//! /proc/self/maps and which pages of S, H and T it maps alone or shares (/proc/self/pagemap),
//! and finds the same after the restart, then checks the contents. Then each child writes a
//! page of S and one of H, which neither its siblings nor the root see.

use cr_tests::mem::{region, Mapping, PAGE};
use cr_tests::proc::{check_mapping, MapsSnapshot};
use cr_tests::target::cycle_tree_test;
use cr_tests::tree::{wake_and_reap, Barrier, Kid, Ready};
use cr_tests::{check_eq, check_os, wait_restored, Check};

const S_PAGES: usize = 32;
const H_PAGES: usize = 8;
const T_PAGES: usize = 8;
const G_PAGES: usize = 8;
const D_PAGES: usize = 8;
/// Pages the root's H grows by, and c3's mapping after its H.
const GROWN: usize = 4;
const C3_PAGES: usize = 2;
/// Seeds: page `n` of a region holds its seed plus `n`.
const S_SEED: u64 = 1000;
const ROOT_LATER: u64 = 2000;
const BY_C1: u64 = 3000;
const BY_C2: u64 = 4000;
const H_SEED: u64 = 5000;
const GROW_SEED: u64 = 6000;
const T_SEED: u64 = 7000;
const C3_SEED: u64 = 8000;
const G_SEED: u64 = 10_000;
const D_SEED: u64 = 11_000;
/// Pages c2 grows G by, and c3 D.
const MORE: usize = 4;
const MORE_SEED: u64 = 12_000;
const AFTER: u64 = 9000;
/// The pages of S the children write after the restart, one each from this one.
const OWN: usize = 10;

const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

#[derive(Clone, Copy)]
struct Maps {
    s: Mapping,
    h: Mapping,
    t: Mapping,
    g: Mapping,
    d: Mapping,
}

/// Who a process is: its name, and the pages it expects in S, H and T.
struct Who {
    name: &'static str,
    s: fn(usize) -> u64,
    h: fn(usize) -> u64,
    /// The part of T it still maps: from this page on.
    t_from: usize,
    /// Pages it grew G by, after it, and D by, below it.
    g_more: usize,
    d_more: usize,
}

impl Who {
    /// The regions as this process has them.
    fn regions(&self, m: &Maps) -> [(char, Mapping); 5] {
        let t = m.t.part(self.t_from * PAGE, m.t.len() - self.t_from * PAGE);
        let (g, d) = (grown(m.g, 0, self.g_more), grown(m.d, self.d_more, 0));
        [('S', m.s), ('H', m.h), ('T', t), ('G', g), ('D', d)]
    }

    /// Which pages of S, H and T the process maps alone (`Some(true)`), shares, or not at all.
    fn sharing(&self, m: &Maps) -> Result<Vec<(String, Option<bool>)>, String> {
        let mut v = Vec::new();
        for (r, map) in self.regions(m) {
            for (n, alone) in map.anon_pages()?.into_iter().enumerate() {
                v.push((format!("{}: {r} page {n}", self.name), alone));
            }
        }
        Ok(v)
    }
}

/// What a process notes before the checkpoint, with room for what it reads after.
struct Before {
    sharing: Vec<(String, Option<bool>)>,
    maps: MapsSnapshot,
    after: MapsSnapshot,
}

impl Before {
    /// Notes the maps and sharing, which must show what `want` says of some pages (`(region,
    /// page, alone)`): else the tree does not share what the test is about. Last thing before
    /// the checkpoint: nothing is mapped after it.
    fn take(m: &Maps, who: &Who, want: &[(char, usize, bool)]) -> Result<Before, String> {
        let sharing = who.sharing(m)?;
        for &(r, n, alone) in want {
            let key = format!("{}: {r} page {n}", who.name);
            let got = sharing.iter().find(|(k, _)| *k == key).map(|(_, a)| *a);
            check_eq(
                format!("{key} before the checkpoint (alone?)"),
                got,
                Some(Some(alone)),
            )?;
        }
        let mut b = Before {
            sharing,
            maps: MapsSnapshot::new(),
            after: MapsSnapshot::new(),
        };
        b.maps.take()?;
        Ok(b)
    }

    /// First thing after the restart: the same maps, the same sharing, then the contents.
    fn check(mut self, m: &Maps, who: &Who) -> Check {
        self.after.take()?;
        self.maps
            .compare(&self.after)
            .map_err(|e| format!("{}: {e}", who.name))?;
        for ((what, before), (_, now)) in self.sharing.iter().zip(who.sharing(m)?) {
            check_eq(
                format!("{what}: mapped alone (Some(true)), shared or not at all"),
                now,
                *before,
            )?;
        }
        for n in 0..S_PAGES {
            m.s.page(n)
                .check((who.s)(n), &format!("{}: S page {n}", who.name))?;
        }
        for n in 0..H_PAGES {
            m.h.page(n)
                .check((who.h)(n), &format!("{}: H page {n}", who.name))?;
        }
        for n in who.t_from..T_PAGES {
            m.t.page(n)
                .check(T_SEED + n as u64, &format!("{}: T page {n}", who.name))?;
        }
        let [.., (_, g), (_, d)] = who.regions(m);
        for n in 0..g.len() / PAGE {
            let seed = if n < G_PAGES { G_SEED } else { MORE_SEED };
            g.page(n)
                .check(seed + n as u64, &format!("{}: G page {n}", who.name))?;
        }
        for n in 0..d.len() / PAGE {
            let seed = match n.checked_sub(who.d_more) {
                Some(k) => D_SEED + k as u64,
                None => MORE_SEED + n as u64,
            };
            d.page(n)
                .check(seed, &format!("{}: D page {n}", who.name))?;
        }
        Ok(())
    }
}

fn s_forked(n: usize) -> u64 {
    S_SEED + n as u64
}

fn s_root(n: usize) -> u64 {
    ROOT_LATER + n as u64
}

/// Page `n` of a region whose pages are `forked(n)` but page `at`, written with `by + at`.
fn but(n: usize, at: usize, by: u64, forked: fn(usize) -> u64) -> u64 {
    match n == at {
        true => by + at as u64,
        false => forked(n),
    }
}

fn s_c1(n: usize) -> u64 {
    but(n, 5, BY_C1, s_forked)
}

fn h_forked(n: usize) -> u64 {
    H_SEED + n as u64
}

fn h_c2(n: usize) -> u64 {
    but(n, 3, BY_C2, h_forked)
}

const ROOT: Who = Who {
    name: "root",
    s: s_root,
    h: h_forked,
    t_from: 0,
    g_more: 0,
    d_more: 0,
};
const C1: Who = Who {
    name: "c1",
    s: s_c1,
    h: h_forked,
    t_from: 2,
    g_more: 0,
    d_more: 0,
};
const C2: Who = Who {
    name: "c2",
    s: s_forked,
    h: h_c2,
    t_from: 0,
    g_more: MORE,
    d_more: 0,
};
const C3: Who = Who {
    name: "c3",
    s: s_forked,
    h: h_forked,
    t_from: 0,
    g_more: 0,
    d_more: MORE,
};

fn unmap(m: Mapping) -> Check {
    // SAFETY: unmaps part of our own mapping, which nothing uses afterwards.
    check_os(unsafe { libc::munmap(m.ptr().cast(), m.len()) }, "munmap")
}

/// `m` with `below` pages before it and `after` after it.
fn grown(m: Mapping, below: usize, after: usize) -> Mapping {
    // SAFETY: the caller maps these pages; a `Mapping` is only an address and a length.
    unsafe {
        Mapping::from_raw(
            m.ptr().wrapping_sub(below * PAGE),
            (below + m.len() / PAGE + after) * PAGE,
        )
    }
}

/// A new read-write region of `pages` pages that grows down (MAP_GROWSDOWN) into the hole of
/// `spare` pages below it, between inaccessible guard pages. Nothing new is mapped in the hole:
/// it is within the stack guard gap.
fn region_below(pages: usize, spare: usize) -> Result<Mapping, String> {
    let all = region(spare + pages, 0)?;
    let m = all.part(spare * PAGE, pages * PAGE);
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_GROWSDOWN;
    // SAFETY: replaces part of the region mapped just above, which nothing uses yet.
    let at = unsafe { libc::mmap(m.ptr().cast(), m.len(), RW, flags, -1, 0) };
    if at != m.ptr().cast() {
        return Err(format!(
            "mmap(MAP_GROWSDOWN): {}",
            std::io::Error::last_os_error()
        ));
    }
    unmap(all.part(0, spare * PAGE))?;
    Ok(m)
}

/// Grows `m` in place by `pages` pages with mremap(), the inaccessible ones after it unmapped
/// first.
fn remap_grow(m: Mapping, pages: usize) -> Result<Mapping, String> {
    let more = grown(m, 0, pages).part(m.len(), pages * PAGE);
    unmap(more)?;
    // SAFETY: grows our own mapping in place (no MREMAP_MAYMOVE) into the pages just unmapped.
    let at = unsafe { libc::mremap(m.ptr().cast(), m.len(), m.len() + more.len(), 0) };
    if at != m.ptr().cast() {
        return Err(format!("mremap: {}", std::io::Error::last_os_error()));
    }
    Ok(more)
}

/// Makes the `pages` inaccessible pages after `m` read-write.
fn grow(m: Mapping, pages: usize) -> Result<Mapping, String> {
    let more = m.part(m.len(), 0);
    // SAFETY: `region` left these pages mapped after `m`.
    let more = unsafe { Mapping::from_raw(more.ptr(), pages * PAGE) };
    more.protect(RW)?;
    Ok(more)
}

/// A child's checks after the restart. Once every child checked its sharing (a child that
/// writes or exits changes its siblings'), each writes a page of S of its own and one of H,
/// which neither its siblings nor the root see.
fn check_then_write(before: Before, m: &Maps, who: &Who, count: Barrier, k: usize) -> Check {
    before.check(m, who)?;
    count.wait(3)?;
    m.s.page(OWN + k).fill(AFTER + k as u64);
    m.h.page(6).fill(AFTER + 100 + k as u64);
    count.wait(6)?;
    for j in 0..3 {
        let (n, what) = (
            OWN + j,
            format!("{}: S page {}, after the restart", who.name, OWN + j),
        );
        match j == k {
            true => m.s.page(n).check(AFTER + k as u64, &what)?,
            false => m.s.page(n).check((who.s)(n), &what)?,
        }
    }
    Ok(())
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    let m = Maps {
        s: region(S_PAGES, 0)?,
        h: region(H_PAGES, GROWN)?,
        t: region(T_PAGES, 0)?,
        g: region(G_PAGES, MORE)?,
        d: region_below(D_PAGES, MORE)?,
    };
    m.s.fill_pages(S_SEED);
    m.h.fill_pages(H_SEED);
    m.t.fill_pages(T_SEED);
    m.g.fill_pages(G_SEED);
    m.d.fill_pages(D_SEED);
    let count = Barrier::new(&dir)?;
    let ready = Ready::new()?;
    let c1: Kid = ready.fork(41, move |_| {
        m.s.page(5).fill(BY_C1 + 5);
        unmap(m.t.part(0, 2 * PAGE))?;
        let before = Before::take(&m, &C1, &[('S', 5, true), ('S', 6, false), ('T', 0, false)])?;
        Ok(move || check_then_write(before, &m, &C1, count, 0))
    })?;
    let c2: Kid = ready.fork(42, move |_| {
        m.h.page(3).fill(BY_C2 + 3);
        let more = remap_grow(m.g, MORE)?;
        for n in 0..MORE {
            more.page(n).fill(MORE_SEED + (G_PAGES + n) as u64);
        }
        check_mapping(m.g.addr(), (G_PAGES + MORE) * PAGE, "rw-p")
            .map_err(|e| format!("c2: G did not grow in place: {e}"))?;
        let want = [
            ('S', 5, false),
            ('H', 3, true),
            ('H', 2, false),
            ('G', 0, false),
            ('G', G_PAGES, true),
        ];
        let before = Before::take(&m, &C2, &want)?;
        Ok(move || check_then_write(before, &m, &C2, count, 1))
    })?;
    let c3: Kid = ready.fork(43, move |_| {
        let mine = grow(m.h, C3_PAGES)?;
        mine.fill_pages(C3_SEED);
        // The stack grows as far as the first page touched.
        let below = grown(m.d, MORE, 0).part(0, MORE * PAGE);
        for n in 0..MORE {
            below.page(n).fill(MORE_SEED + n as u64);
        }
        check_mapping(below.addr(), (MORE + D_PAGES) * PAGE, "rw-p")
            .map_err(|e| format!("c3: D did not grow in place: {e}"))?;
        let want = [
            ('S', 5, false),
            ('H', 3, false),
            ('D', 0, true),
            ('D', MORE, false),
        ];
        let before = Before::take(&m, &C3, &want)?;
        Ok(move || {
            for n in 0..C3_PAGES {
                mine.page(n)
                    .check(C3_SEED + n as u64, &format!("c3: its page {n} after H"))?;
            }
            check_then_write(before, &m, &C3, count, 2)
        })
    })?;
    m.s.fill_pages(ROOT_LATER);
    let grown = grow(m.h, GROWN)?;
    grown.fill_pages(GROW_SEED);
    // The root's H grew in place: one mapping, which its children have only a part of.
    check_mapping(m.h.addr(), (H_PAGES + GROWN) * PAGE, "rw-p")
        .map_err(|e| format!("root: H did not grow in place: {e}"))?;
    ready.wait(3)?;
    let before = Before::take(
        &m,
        &ROOT,
        &[('S', 0, true), ('H', 0, false), ('T', 0, false)],
    )?;
    Ok(move || {
        wait_restored();
        before.check(&m, &ROOT)?;
        for n in 0..GROWN {
            grown.page(n).check(
                GROW_SEED + n as u64,
                &format!("root: H page {}", H_PAGES + n),
            )?;
        }
        wake_and_reap(&[c1, c2, c3])?;
        for n in 0..S_PAGES {
            m.s.page(n).check(
                s_root(n),
                &format!("root: S page {n}, after its children wrote theirs"),
            )?;
        }
        m.h.page(6).check(
            h_forked(6),
            "root: H page 6, after its children wrote theirs",
        )
    })
}

fn main() {
    cycle_tree_test(3, setup, "pages that siblings share, and that a parent shares from a grown mapping, are shared again");
}
