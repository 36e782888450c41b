//! Private pages that a process moved with mremap(2) after a fork, and that it still shares
//! copy-on-write with its relatives at their old address, are shared again after the restart;
//! so are those a child moved, and grew as it moved them, and the moved ones its own child
//! inherited.
//!
//! The root maps and fills W and V, and forks c; c moves the second half of V (pages 8-15)
//! elsewhere, growing it by 4 pages as realloc() grows a block, rewrites its first page there
//! (V's page 8), fills the 4 new ones, and forks g. Then:
//!
//! ```text
//! W  16 pages   root: moves it elsewhere, then rewrites pages 0-3 there
//!               g: rewrites page 15
//! V  16 pages   c: moved and grew pages 8-15 (above), rewrote page 8
//! ```
//!
//! So the root shares pages 4-14 of its moved W with c and g at their old address, and page 15
//! with c; c and g share all of V, and the root pages 0-7 and 9-15 of it with them, at another
//! address for 9-15. Each process notes, before the checkpoint, its /proc/self/maps and which
//! pages of W and of both parts of V it maps alone or shares (/proc/self/pagemap), and finds
//! the same after the restart, then checks the contents. Then each writes a page of W it
//! shares, which the others must not see.

use cr_tests::mem::{region, seeded, write_stays_own, Mapping, Sharing, PAGE};
use cr_tests::target::cycle_tree_test;
use cr_tests::tree::{reap, wake, Barrier, Kid, Ready};
use cr_tests::{wait_restored, Check};

const PAGES: usize = 16;
/// c moves V's pages from here on.
const HALF: usize = 8;
/// Page `n` of W holds its seed plus `n`, and so does V's.
const W_SEED: u64 = 1000;
const V_SEED: u64 = 2000;
const BY_ROOT: u64 = 3000;
const BY_C: u64 = 4000;
const BY_G: u64 = 5000;
/// What c writes in the pages V's moved half grew by; page `k` of that half holds it plus
/// `k`.
const GROWN_BY_C: u64 = 6000;
const GROWN: usize = 4;
const AFTER: u64 = 9000;
/// The pages of W the root rewrites, and the one g does.
const ROOT_WROTE: std::ops::Range<usize> = 0..4;
const G_WROTE: usize = 15;
/// Processes, which each write a page of W after the restart.
const PROCESSES: u32 = 3;

/// Who a process is: its name, what page `n` of W and of V holds, which pages of each it maps
/// alone, and the page of W it writes after the restart, one it shares.
struct Who {
    name: &'static str,
    w: fn(usize) -> u64,
    v: fn(usize) -> u64,
    w_alone: fn(usize) -> bool,
    v_alone: fn(usize) -> bool,
    after: usize,
}

const ROOT: Who = Who {
    name: "root",
    w: |n| seeded(n, W_SEED, ROOT_WROTE.contains(&n), BY_ROOT),
    v: |n| seeded(n, V_SEED, false, 0),
    w_alone: |n| ROOT_WROTE.contains(&n),
    // c rewrote its copy of page 8.
    v_alone: |n| n == HALF,
    after: 5,
};
const C: Who = Who {
    name: "c",
    w: |n| seeded(n, W_SEED, false, 0),
    v: |n| seeded(n, V_SEED, n == HALF, BY_C),
    w_alone: |_| false,
    v_alone: |_| false,
    after: 0,
};
const G: Who = Who {
    name: "g",
    w: |n| seeded(n, W_SEED, n == G_WROTE, BY_G),
    v: |n| seeded(n, V_SEED, n == HALF, BY_C),
    w_alone: |n| n == G_WROTE,
    v_alone: |_| false,
    after: 6,
};

/// Where a process has W and the two parts of V.
#[derive(Clone, Copy)]
struct Maps {
    w: Mapping,
    v: Mapping,
    v_moved: Mapping,
}

/// What a process notes of W and of V's parts: last thing before the checkpoint, once the
/// writes its sharing depends on are done.
fn take(m: Maps, who: &Who) -> Result<[Sharing; 3], String> {
    let name = |what: &str| -> &'static str { format!("{}: {what}", who.name).leak() };
    Ok([
        Sharing::take(name("W"), m.w, who.w_alone)?,
        Sharing::take(name("V"), m.v, who.v_alone)?,
        Sharing::take(name("V moved"), m.v_moved, |k| (who.v_alone)(HALF + k))?,
    ])
}

/// After the restart: the same maps and sharing, then the contents; after every process
/// checked its sharing (a write changes the others'), writes its page of W, then, once the
/// others wrote theirs, checks that W holds what `who` wrote and nothing of the others'.
fn check(before: [Sharing; 3], m: Maps, who: &Who, count: Barrier) -> Check {
    // Each took its /proc/self/maps with the buffers of those before it: the last first,
    // whose buffers go before the one before it checks.
    for sharing in before.into_iter().rev() {
        sharing.check()?;
    }
    for n in 0..PAGES {
        m.w.page(n)
            .check((who.w)(n), &format!("{}: W page {n}", who.name))?;
        let v = match n < HALF {
            true => m.v.page(n),
            false => m.v_moved.page(n - HALF),
        };
        v.check((who.v)(n), &format!("{}: V page {n}", who.name))?;
    }
    // c's and g's moved half grew; the root's did not move.
    for k in PAGES - HALF..m.v_moved.len() / PAGE {
        m.v_moved.page(k).check(
            GROWN_BY_C + k as u64,
            &format!("{}: V's moved half, page {k}", who.name),
        )?;
    }
    write_stays_own(m.w, who.name, (who.after, AFTER), who.w, (count, PROCESSES))
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    let w = region(PAGES, 0)?;
    w.fill_pages(W_SEED);
    let v = region(PAGES, 0)?;
    v.fill_pages(V_SEED);
    // Where the root moves W and c the second half of V: between guard pages, so that
    // nothing merges with what moves there.
    let w_to = region(PAGES, 0)?;
    let v_to = region(PAGES - HALF + GROWN, 0)?;
    let count = Barrier::new(&dir)?;
    let ready = Ready::new()?;
    let c: Kid = ready.fork(41, move |fork| {
        let v_moved = v.part(HALF * PAGE, (PAGES - HALF) * PAGE).move_to(v_to)?;
        v_moved.page(0).fill(BY_C + HALF as u64);
        for k in PAGES - HALF..PAGES - HALF + GROWN {
            v_moved.page(k).fill(GROWN_BY_C + k as u64);
        }
        let m = Maps {
            w,
            v: v.part(0, HALF * PAGE),
            v_moved,
        };
        let g: Kid = fork.fork(42, move |_| {
            m.w.page(G_WROTE).fill(BY_G + G_WROTE as u64);
            let before = take(m, &G)?;
            Ok(move || check(before, m, &G, count))
        })?;
        let before = take(m, &C)?;
        Ok(move || {
            wake(&[g])?;
            check(before, m, &C, count)?;
            reap(&[g])
        })
    })?;
    let w = w.move_to(w_to)?;
    for n in ROOT_WROTE {
        w.page(n).fill(BY_ROOT + n as u64);
    }
    ready.wait(2)?;
    let m = Maps {
        w,
        v: v.part(0, HALF * PAGE),
        v_moved: v.part(HALF * PAGE, (PAGES - HALF) * PAGE),
    };
    // Once c rewrote its page 8: the root's is its own from then on.
    let before = take(m, &ROOT)?;
    Ok(move || {
        wait_restored();
        wake(&[c])?;
        check(before, m, &ROOT, count)?;
        reap(&[c])
    })
}

fn main() {
    cycle_tree_test(2, setup, "pages a process moved with mremap(2) after a fork, shared copy-on-write with its relatives at another address, are shared again");
}
