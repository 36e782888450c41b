//! Private pages that the last of a line of siblings shares copy-on-write with their parent
//! alone, every elder sibling and the grandparent having rewritten them, are shared again.
//!
//! The root maps and fills W, forks p, then rewrites all of W; p forks s1 to s5, then:
//!
//! ```text
//! W  8 pages   root: rewrites them all after forking p
//!              p: rewrites pages 1 and 2 after forking s1-s5
//!              s1-s4: each rewrites page 0
//! ```
//!
//! So s5 shares page 0 with p alone, pages 1 and 2 with its siblings but not p, and the rest
//! with all of them: it shares more with s4 than with p. s5's page 0 can only come back shared
//! from p, pages 1 and 2 from one of its siblings, whatever mapping s5's is restored as a copy
//! of. Each process notes, before the checkpoint, its /proc/self/maps and which pages of W it
//! maps alone (/proc/self/pagemap), and finds the same after the restart, then checks the
//! contents.

use cr_tests::mem::{region, Mapping, Sharing};
use cr_tests::tree::{reap, wake, Forker, Kid, Ready};
use cr_tests::{pass, wait_restored, Check, Target};

const PAGES: usize = 8;
const SIBLINGS: usize = 5;
/// Page `n` of W holds its seed plus `n`.
const SEED: u64 = 1000;
const BY_ROOT: u64 = 2000;
const BY_P: u64 = 4000;
/// The pages p rewrites.
const P_WROTE: std::ops::Range<usize> = 1..3;
/// Sibling `k` (from 1) writes page 0 with this plus `k`.
const BY_SIBLING: u64 = 3000;
const NAMES: [&str; SIBLINGS] = ["s1", "s2", "s3", "s4", "s5"];

/// Checks the sharing noted before, then that page `n` of W holds `page(n)`.
fn check(before: Sharing, w: Mapping, page: impl Fn(usize) -> u64, name: &str) -> Check {
    before.check()?;
    for n in 0..PAGES {
        w.page(n).check(page(n), &format!("{name}: W page {n}"))?;
    }
    Ok(())
}

/// Sibling `k` (from 1): the last one writes nothing.
fn sibling(fork: Forker, w: Mapping, k: usize) -> Result<Kid, String> {
    let name = NAMES[k - 1];
    let writes = k < SIBLINGS;
    fork.fork(40 + k as i32, move |_| {
        if writes {
            w.page(0).fill(BY_SIBLING + k as u64);
        }
        let before = Sharing::take(name, w, |n| writes && n == 0)?;
        Ok(move || {
            let page = |n| match (n, writes) {
                (0, true) => BY_SIBLING + k as u64,
                _ => SEED + n as u64,
            };
            check(before, w, page, name)
        })
    })
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let w = region(PAGES, 0)?;
    w.fill_pages(SEED);
    let ready = Ready::new()?;
    let p: Kid = ready.fork(31, move |fork| {
        let mut kids = Vec::new();
        for k in 1..=SIBLINGS {
            kids.push(sibling(fork, w, k)?);
        }
        for n in P_WROTE {
            w.page(n).fill(BY_P + n as u64);
        }
        // Page 0 it shares with s5 only (once s1-s4 wrote theirs), pages 3-7 with every
        // sibling.
        let before = Sharing::take("p", w, |n| P_WROTE.contains(&n))?;
        Ok(move || {
            let page = |n| match P_WROTE.contains(&n) {
                true => BY_P + n as u64,
                false => SEED + n as u64,
            };
            check(before, w, page, "p")?;
            wake(&kids)?;
            reap(&kids)
        })
    })?;
    w.fill_pages(BY_ROOT);
    ready.wait(1 + SIBLINGS)?;
    let before = Sharing::take("root", w, |_| true)?;
    Ok(move || {
        wait_restored();
        check(before, w, |n| BY_ROOT + n as u64, "root")?;
        wake(&[p])?;
        reap(&[p])
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(1 + SIBLINGS);
    target.cycle_tree(&kids);
    target.finish();
    pass("pages the last of a line of siblings shares with their parent alone are shared again");
}
