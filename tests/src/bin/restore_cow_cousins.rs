//! Private pages that cousins share copy-on-write, and that none of the processes between them
//! has any more, are shared again after the restart: with the cousin, and with the cousin's
//! child. So are those of a mapping that none of the processes between them has any more.
//!
//! The root maps and fills W and U, forks a and b; a forks a1, b forks b1, b1 forks b2; then
//! they write:
//!
//! ```text
//! W  16 pages   root, a, b: each rewrites pages 0-11 after its forks
//!               b1: rewrites pages 0-3 after forking b2
//! U   8 pages   root, a, b: each unmaps it after its forks
//!               b1: rewrites pages 0-3 after forking b2
//! ```
//!
//! So a1 shares pages 0-3 of each with b2 alone, 4-11 of W and 4-7 of U with b1 and b2, and
//! 12-15 of W with everyone: no mapping up either chain has pages 0-11 of W any more, nor any
//! of U, and a1's mappings are not up b1's or b2's chain. Each process notes, before the
//! checkpoint, its /proc/self/maps and which pages of W and U it maps alone or shares
//! (/proc/self/pagemap), and finds the same after the restart, then checks the contents. Then
//! each writes a page of W it shares, which the others must not see.

use cr_tests::mem::{region, seeded, write_stays_own, Mapping, Sharing};
use cr_tests::target::cycle_tree_test;
use cr_tests::tree::{reap, wake, Barrier, Kid, Ready};
use cr_tests::{wait_restored, Check};

const PAGES: usize = 16;
/// U holds what W's first pages hold.
const U_PAGES: usize = 8;
/// Page `n` of W holds its seed plus `n`.
const SEED: u64 = 1000;
const BY_ROOT: u64 = 2000;
const BY_A: u64 = 3000;
const BY_B: u64 = 4000;
const BY_B1: u64 = 5000;
const AFTER: u64 = 9000;
/// The pages the root, a and b rewrite, and those b1 does.
const REWRITTEN: std::ops::Range<usize> = 0..12;
const B1_WROTE: std::ops::Range<usize> = 0..4;
/// Processes, which each write a page after the restart.
const PROCESSES: u32 = 6;

/// Who a process is: its name, what page `n` of W holds, which pages it maps alone, the page
/// it writes after the restart, one it shares, and whether it keeps U.
struct Who {
    name: &'static str,
    page: fn(usize) -> u64,
    alone: fn(usize) -> bool,
    after: usize,
    keeps_u: bool,
}

const ROOT: Who = Who {
    name: "root",
    page: |n| seeded(n, SEED, REWRITTEN.contains(&n), BY_ROOT),
    alone: |n| REWRITTEN.contains(&n),
    after: 14,
    keeps_u: false,
};
const A: Who = Who {
    name: "a",
    page: |n| seeded(n, SEED, REWRITTEN.contains(&n), BY_A),
    alone: |n| REWRITTEN.contains(&n),
    after: 13,
    keeps_u: false,
};
const B: Who = Who {
    name: "b",
    page: |n| seeded(n, SEED, REWRITTEN.contains(&n), BY_B),
    alone: |n| REWRITTEN.contains(&n),
    after: 12,
    keeps_u: false,
};
const A1: Who = Who {
    name: "a1",
    page: |n| seeded(n, SEED, false, 0),
    alone: |_| false,
    after: 2,
    keeps_u: true,
};
const B1: Who = Who {
    name: "b1",
    page: |n| seeded(n, SEED, B1_WROTE.contains(&n), BY_B1),
    alone: |n| B1_WROTE.contains(&n),
    after: 6,
    keeps_u: true,
};
const B2: Who = Who {
    name: "b2",
    page: |n| seeded(n, SEED, false, 0),
    alone: |_| false,
    after: 9,
    keeps_u: true,
};

/// What a process notes of W and, if it keeps it, U.
type Before = (Sharing, Option<(Sharing, Mapping)>);

/// Rewrites the pages `who` rewrites in W and U, or unmaps U, then notes its sharing: last
/// thing before the checkpoint, once it forked its children.
fn take(w: Mapping, u: Mapping, who: &Who, by: u64) -> Result<Before, String> {
    for n in (0..PAGES).filter(|&n| (who.alone)(n)) {
        w.page(n).fill(by + n as u64);
    }
    let u = match who.keeps_u {
        true => {
            for n in (0..U_PAGES).filter(|&n| (who.alone)(n)) {
                u.page(n).fill(by + n as u64);
            }
            Some((Sharing::take(who.name, u, who.alone)?, u))
        }
        false => {
            u.unmap()?;
            None
        }
    };
    Ok((Sharing::take(who.name, w, who.alone)?, u))
}

/// After the restart: the same maps and sharing, then the contents; after every process
/// checked its sharing (a write changes the others'), writes its page, then, once the others
/// wrote theirs, checks that W holds what `who` wrote and nothing of the others'.
fn check(before: Before, w: Mapping, who: &Who, count: Barrier) -> Check {
    let (before, u) = before;
    before.check()?;
    if let Some((before, u)) = u {
        before.check()?;
        for n in 0..U_PAGES {
            u.page(n)
                .check((who.page)(n), &format!("{}: U page {n}", who.name))?;
        }
    }
    for n in 0..PAGES {
        w.page(n)
            .check((who.page)(n), &format!("{}: W page {n}", who.name))?;
    }
    write_stays_own(
        w,
        who.name,
        (who.after, AFTER),
        who.page,
        (count, PROCESSES),
    )
}

/// A leaf: a1 or b2.
fn leaf(
    w: Mapping,
    u: Mapping,
    who: &'static Who,
    count: Barrier,
) -> Result<impl FnOnce() -> Check, String> {
    let before = take(w, u, who, 0)?;
    Ok(move || check(before, w, who, count))
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    let w = region(PAGES, 0)?;
    w.fill_pages(SEED);
    let u = region(U_PAGES, 0)?;
    u.fill_pages(SEED);
    let count = Barrier::new(&dir)?;
    let ready = Ready::new()?;
    let a: Kid = ready.fork(41, move |fork| {
        let a1: Kid = fork.fork(43, move |_| leaf(w, u, &A1, count))?;
        let before = take(w, u, &A, BY_A)?;
        Ok(move || {
            wake(&[a1])?;
            check(before, w, &A, count)?;
            reap(&[a1])
        })
    })?;
    let b: Kid = ready.fork(42, move |fork| {
        let b1: Kid = fork.fork(44, move |fork| {
            let b2: Kid = fork.fork(45, move |_| leaf(w, u, &B2, count))?;
            let before = take(w, u, &B1, BY_B1)?;
            Ok(move || {
                wake(&[b2])?;
                check(before, w, &B1, count)?;
                reap(&[b2])
            })
        })?;
        let before = take(w, u, &B, BY_B)?;
        Ok(move || {
            wake(&[b1])?;
            check(before, w, &B, count)?;
            reap(&[b1])
        })
    })?;
    let before = take(w, u, &ROOT, BY_ROOT)?;
    ready.wait(5)?;
    Ok(move || {
        wait_restored();
        wake(&[a, b])?;
        check(before, w, &ROOT, count)?;
        reap(&[a, b])
    })
}

fn main() {
    cycle_tree_test(5, setup, "pages cousins share copy-on-write, which no process between them has any more, or in a mapping none of them has, are shared again");
}
