//! A mapping whose private pages a process shares copy-on-write with two relatives apart, its
//! parent and its elder sibling, or its parent and its grandparent, is shared again with both
//! after the restart.
//!
//! The root maps and fills W, forks c1, then c2; c1 forks g; then they write:
//!
//! ```text
//! W  24 pages   root: rewrites pages 0-7 after the forks (c1, c2 and g share theirs)
//!               c1: rewrites pages 8-15 after forking g (the root, c2 and g share theirs)
//!               c2: rewrites page 20; g: rewrites page 22
//! ```
//!
//! So c2 shares pages 0-7 with c1 (and g) but not the root, 8-15 with the root (and g) but not
//! c1: whichever of the two its mapping comes back as a copy of, the pages it shares with the
//! other must be shared again too. So must g's pages 8-15, which it shares with its
//! grandparent and not its parent. Each process notes, before the checkpoint, its
//! /proc/self/maps and which pages of W it maps alone or shares (/proc/self/pagemap), and finds
//! the same after the restart, then checks the contents. Then each writes a page it shares
//! with one other, which that other must not see.

use cr_tests::mem::{region, seeded, write_stays_own, Mapping, Sharing};
use cr_tests::target::cycle_tree_test;
use cr_tests::tree::{reap, wake, Barrier, Kid, Ready};
use cr_tests::{wait_restored, Check};

const PAGES: usize = 24;
/// Page `n` of W holds its seed plus `n`.
const SEED: u64 = 1000;
const BY_ROOT: u64 = 2000;
const BY_C1: u64 = 3000;
const BY_C2: u64 = 4000;
const BY_G: u64 = 5000;
const AFTER: u64 = 9000;
/// The pages the root and c1 rewrite, and the one c2 does.
const ROOT_WROTE: std::ops::Range<usize> = 0..8;
const C1_WROTE: std::ops::Range<usize> = 8..16;
const C2_WROTE: usize = 20;
const G_WROTE: usize = 22;
/// Processes, which each write a page after the restart.
const PROCESSES: u32 = 4;

/// Who a process is: its name, what page `n` of W holds, and the page it writes after the
/// restart, one it shares with others (the root's and c1's with c2 not through a copy).
struct Who {
    name: &'static str,
    page: fn(usize) -> u64,
    after: usize,
}

const ROOT: Who = Who {
    name: "root",
    page: |n| seeded(n, SEED, ROOT_WROTE.contains(&n), BY_ROOT),
    after: 10,
};
const C1: Who = Who {
    name: "c1",
    page: |n| seeded(n, SEED, C1_WROTE.contains(&n), BY_C1),
    after: 1,
};
const C2: Who = Who {
    name: "c2",
    page: |n| seeded(n, SEED, n == C2_WROTE, BY_C2),
    after: 9,
};
const G: Who = Who {
    name: "g",
    page: |n| seeded(n, SEED, n == G_WROTE, BY_G),
    after: 12,
};

/// First thing after the restart: the same maps and sharing, then the contents.
fn check(before: Sharing, w: Mapping, who: &Who) -> Check {
    before.check()?;
    for n in 0..PAGES {
        w.page(n)
            .check((who.page)(n), &format!("{}: W page {n}", who.name))?;
    }
    Ok(())
}

/// Then that a write to a page shared with others stays its own.
fn write_then_check(w: Mapping, who: &Who, count: Barrier) -> Check {
    let mine = (who.after, AFTER);
    write_stays_own(w, who.name, mine, who.page, (count, PROCESSES))
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    let w = region(PAGES, 0)?;
    w.fill_pages(SEED);
    let count = Barrier::new(&dir)?;
    let ready = Ready::new()?;
    let c1: Kid = ready.fork(41, move |fork| {
        let g: Kid = fork.fork(43, move |_| {
            w.page(G_WROTE).fill(BY_G + G_WROTE as u64);
            let before = Sharing::take(G.name, w, |n| n == G_WROTE)?;
            Ok(move || {
                check(before, w, &G)?;
                write_then_check(w, &G, count)
            })
        })?;
        for n in C1_WROTE {
            w.page(n).fill(BY_C1 + n as u64);
        }
        // It shares what the root did not rewrite, with the root, c2 or g.
        let before = Sharing::take(C1.name, w, |n| C1_WROTE.contains(&n))?;
        Ok(move || {
            check(before, w, &C1)?;
            wake(&[g])?;
            write_then_check(w, &C1, count)?;
            reap(&[g])
        })
    })?;
    let c2: Kid = ready.fork(42, move |_| {
        w.page(C2_WROTE).fill(BY_C2 + C2_WROTE as u64);
        let before = Sharing::take(C2.name, w, |n| n == C2_WROTE)?;
        Ok(move || {
            check(before, w, &C2)?;
            write_then_check(w, &C2, count)
        })
    })?;
    for n in ROOT_WROTE {
        w.page(n).fill(BY_ROOT + n as u64);
    }
    ready.wait(3)?;
    let before = Sharing::take(ROOT.name, w, |n| ROOT_WROTE.contains(&n))?;
    Ok(move || {
        wait_restored();
        check(before, w, &ROOT)?;
        wake(&[c1, c2])?;
        write_then_check(w, &ROOT, count)?;
        reap(&[c1, c2])
    })
}

fn main() {
    cycle_tree_test(3, setup, "pages a process shares with its parent and, apart, with its sibling or its grandparent are shared again with both");
}
