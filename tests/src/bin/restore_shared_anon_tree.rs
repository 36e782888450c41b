//! MAP_SHARED anonymous memory inherited through fork() comes back as one object shared by
//! three generations, each seeing it through its own window, with its contents.
//!
//! One 16-page object; page 5 is never touched, every other page holds its own pattern:
//!
//! ```text
//! root   pages 0-7   (unmapped 8-15 after forking a)
//! └── a  pages 4-15  (unmapped 0-3), forked g
//!     └── g  pages 4-15
//! ```
//!
//! The image holds the object once, with the root's window; a's window adds pages 8-15.
//! After the restart each process checks its window; then a writes page 6, g sees it and
//! writes page 10, a sees that, and the root sees a's write in page 6.

use cr_tests::mem::{mmap, Mapping, PAGE};
use cr_tests::proc::check_mapping;
use cr_tests::tree::{wake_and_reap, Kid, Ready};
use cr_tests::{check_os, pass, wait_restored, Check, Target};

const PAGES: usize = 16;
const UNTOUCHED: usize = 5;
/// Seeds of the writes after the restart: a's in page 6, g's in page 10.
const BY_A: u64 = 0xa0;
const BY_G: u64 = 0x60;

/// The page seed of page `i` of the object.
fn seed(i: usize) -> u64 {
    0x5eed_0000 + i as u64
}

/// The window on pages `first..last` of the object, which starts at `base`.
fn window(base: Mapping, first: usize, last: usize) -> Mapping {
    base.part(first * PAGE, (last - first) * PAGE)
}

/// In each process, after the restart: its window is mapped as before, shared, and holds the
/// object's pages `first..last`, but for the pages `written` since with the given seeds.
fn check_window(base: Mapping, first: usize, last: usize, written: &[(usize, u64)]) -> Check {
    let w = window(base, first, last);
    check_mapping(w.addr(), w.len(), "rw-s")?;
    for i in first..last {
        let page = base.part(i * PAGE, PAGE);
        match written.iter().find(|(p, _)| *p == i) {
            Some(&(_, by)) => page.check(by, &format!("page {i}, written after the restart"))?,
            None if i == UNTOUCHED => page.check_zero("the untouched page")?,
            None => page.check(seed(i), &format!("page {i}"))?,
        }
    }
    Ok(())
}

/// Unmaps pages `first..last` of the object from the calling process.
fn unmap(base: Mapping, first: usize, last: usize) -> Check {
    let w = window(base, first, last);
    // SAFETY: only this process's view of those pages goes; nothing refers to them anymore.
    check_os(unsafe { libc::munmap(w.ptr().cast(), w.len()) }, "munmap")
}

fn g_setup(base: Mapping) -> Result<impl FnOnce() -> Check, String> {
    Ok(move || {
        // a wrote page 6 before waking g.
        check_window(base, 4, PAGES, &[(6, BY_A)])?;
        base.part(10 * PAGE, PAGE).fill(BY_G);
        Ok(())
    })
}

fn a_setup(ready: cr_tests::tree::Forker, base: Mapping) -> Result<impl FnOnce() -> Check, String> {
    unmap(base, 0, 4)?;
    let g = ready.fork(46, move |_| g_setup(base))?;
    Ok(move || {
        check_window(base, 4, PAGES, &[])?;
        base.part(6 * PAGE, PAGE).fill(BY_A);
        wake_and_reap(&[g])?;
        base.part(10 * PAGE, PAGE)
            .check(BY_G, "page 10 as g wrote it")
    })
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let base = mmap(
        PAGES * PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
        0,
    )?;
    for i in (0..PAGES).filter(|&i| i != UNTOUCHED) {
        base.part(i * PAGE, PAGE).fill(seed(i));
    }
    let ready = Ready::new()?;
    let a: Kid = ready.fork(45, move |f| a_setup(f, base))?;
    unmap(base, 8, PAGES)?;
    ready.wait(2)?;
    Ok(move || {
        wait_restored();
        check_window(base, 0, 8, &[])?;
        wake_and_reap(&[a])?;
        base.part(6 * PAGE, PAGE)
            .check(BY_A, "page 6 as a wrote it")
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(2);
    target.cycle_tree(&kids);
    target.finish();
    pass("shared anonymous memory came back as one object shared by three generations");
}
