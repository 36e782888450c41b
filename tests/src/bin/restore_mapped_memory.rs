//! restart(2) with RESTART_MAP maps the page data of private anonymous memory from the image's
//! memfd, copy-on-write, where a run of at least 16 present pages lies in a mapping it may
//! map, and restores everything else as without the flag: each region's contents come back
//! exact either way, and the differences are those documented.
//!
//! The target maps, fills, and is then checkpointed with CKPT_KILL and restarted from a sealed
//! memfd copy of its image ([`Target::mapped`]):
//!
//! ```text
//! BIG     16 MiB, filled                     mapped
//! SPARSE  64 MiB, 4 runs of 32 pages and     the runs mapped, the single pages anonymous,
//!         4 single pages written             the rest reads zero
//! RO      1 MiB, filled, then PROT_READ      mapped
//! NONE    256 KiB, filled, then PROT_NONE    mapped
//! NORES   4 MiB, MAP_NORESERVE, filled       mapped
//! BRK     1 MiB of brk heap (sbrk), filled   mapped
//! NAMED   1 MiB, filled, PR_SET_VMA_ANON_NAME  anonymous (keeps its name)
//! SMALL   8 pages, filled                    anonymous (under the 16-page threshold)
//! EDGE16  16 pages, filled                   mapped (at the threshold)
//! EDGE15  15 pages, filled                   anonymous (one under it)
//! WIPE    32 pages, filled, MADV_WIPEONFORK  anonymous (advice of its own)
//! NOFORK  32 pages, filled, MADV_DONTFORK    anonymous (advice of its own)
//! NODUMP  32 pages, filled, MADV_DONTDUMP    anonymous (advice of its own)
//! LOCKED  32 pages, filled, mlock()ed        anonymous (locked)
//! RWX     32 pages, filled, PROT_READ |      anonymous (executable)
//!         PROT_WRITE | PROT_EXEC
//! STACK   64 pages of an array on the stack  anonymous, within "[stack]" (the stack)
//!         of the function that waits for
//!         the restart, filled
//! ```
//!
//! After the restart the target checks: /proc/self/maps (each mapped region covered by lines
//! of "memfd:cr-image", none longer than 1024 pages; the others anonymous, no file, STACK's
//! lines "[stack]"; RWX still rwxp); every page's contents; NONE after mprotect(PROT_READ); a
//! new pattern written over all of BIG and read back; a child forked then that checks BIG
//! (rewritten) and NORES, SPARSE's runs, BRK, RO and NONE (untouched), finds WIPE zeroed and
//! NOFORK not mapped, writes its own pattern over half of BIG, NORES, the runs and BRK, and
//! exits 0, after which the target's memory is as before the fork (WIPE and NOFORK too);
//! MADV_DONTNEED on pages of NORES (untouched) and of BIG (rewritten) gives back the
//! checkpoint's bytes, not zeros (on SMALL's, zeros); munmap() of 300 pages of BIG; the move
//! with mremap(2) of 4 MiB of BIG (each mapping in it moved on its own: mremap moves one
//! mapping at a time), whose bytes are intact at their new place, where MADV_DONTNEED still
//! gives the image's bytes.
//!
//! With `CR_TESTS_DRY_RUN=1` the checks expect every region anonymous and MADV_DONTNEED to
//! give zeros.

use cr_tests::mem::{mmap, region, Mapping, PAGE};
use cr_tests::proc::{parse_maps_line, MapsEntry};
use cr_tests::target::{dry_run, fork_checker};
use cr_tests::tree::{reap, Kid};
use cr_tests::{check_os, os_error, pass, wait_restored, Check, Target, KILL};

const BIG_PAGES: usize = 4096;
const SPARSE_PAGES: usize = 16384;
/// The first pages of SPARSE's runs of `RUN` pages: none crosses a multiple of 512 pages (a
/// batch of checkpoint), so that each is one run in the image.
const RUNS: [usize; 4] = [1124, 5320, 9516, 14386];
const RUN: usize = 32;
/// SPARSE's single written pages, far from the runs and from each other.
const SINGLES: [usize; 4] = [3000, 7777, 12345, 16000];
const RO_PAGES: usize = 256;
const NONE_PAGES: usize = 64;
const NORES_PAGES: usize = 1024;
const BRK_PAGES: usize = 256;
const NAMED_PAGES: usize = 256;
const SMALL_PAGES: usize = 8;
const NAME: &str = "cr-mapped-named";
/// The pages of WIPE, NOFORK, NODUMP, LOCKED and RWX each: enough to be mapped, were they
/// plain memory.
const KEPT_PAGES: usize = 32;
const STACK_PAGES: usize = 64;

/// Seeds: page `n` of a region holds its seed plus `n`.
const BIG_SEED: u64 = 100_000;
const SPARSE_SEED: u64 = 200_000;
const RO_SEED: u64 = 300_000;
const NONE_SEED: u64 = 400_000;
const NORES_SEED: u64 = 500_000;
const BRK_SEED: u64 = 600_000;
const NAMED_SEED: u64 = 700_000;
const SMALL_SEED: u64 = 800_000;
const EDGE16_SEED: u64 = 900_000;
const EDGE15_SEED: u64 = 1_000_000;
/// What the target writes over BIG after the restart, and the child over half of each region.
const NEW_SEED: u64 = 1_100_000;
const CHILD_SEED: u64 = 1_200_000;
const WIPE_SEED: u64 = 1_300_000;
const NOFORK_SEED: u64 = 1_400_000;
const NODUMP_SEED: u64 = 1_500_000;
const LOCKED_SEED: u64 = 1_600_000;
const RWX_SEED: u64 = 1_700_000;
const STACK_SEED: u64 = 1_800_000;

/// BIG's pages dropped with MADV_DONTNEED after the rewrite, NORES's, and SMALL's.
const BIG_DROPPED: std::ops::Range<usize> = 20..24;
const NORES_DROPPED: std::ops::Range<usize> = 10..14;
const SMALL_DROPPED: usize = 3;
/// BIG's pages unmapped, and those moved with mremap (4 MiB).
const UNMAPPED: std::ops::Range<usize> = 2900..3200;
const MOVED: std::ops::Range<usize> = 1024..2048;
/// A page of the moved part dropped at its new place.
const MOVED_DROPPED: usize = 5;

/// The name /proc/self/maps gives a mapping of the image's memfd holds this.
const MEMFD: &str = "memfd:cr-image";
/// The most pages one mapping of the image may have.
const MAX_MAPPED_PAGES: usize = 1024;

#[derive(Clone, Copy)]
struct Regions {
    big: Mapping,
    sparse: Mapping,
    ro: Mapping,
    none: Mapping,
    nores: Mapping,
    brk: Mapping,
    named: Mapping,
    small: Mapping,
    edge16: Mapping,
    edge15: Mapping,
    wipe: Mapping,
    nofork: Mapping,
    nodump: Mapping,
    locked: Mapping,
    rwx: Mapping,
    /// Where the moved part of BIG goes: 4 MiB of PROT_NONE mapped beforehand.
    dest: Mapping,
}

/// What /proc/self/maps must show over a range.
#[derive(Clone, Copy)]
enum Want<'a> {
    /// Mappings of the image's memfd, each at most [`MAX_MAPPED_PAGES`].
    Image,
    /// Anonymous memory (no file), named this (`""` for none, `None`: any name but a file's).
    Anon(Option<&'a str>),
}

fn maps() -> Result<Vec<MapsEntry>, String> {
    let text = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("read /proc/self/maps: {e}"))?;
    Ok(text.lines().filter_map(parse_maps_line).collect())
}

/// `Err` unless the lines of `maps` over `m` (`what`) cover it wholly and are all as `want`.
fn expect_maps(maps: &[MapsEntry], m: Mapping, what: &str, want: Want) -> Check {
    let (start, end) = (m.addr(), m.addr() + m.len());
    let mut at = start;
    for e in maps.iter().filter(|e| e.end > start && e.start < end) {
        if e.start > at {
            return Err(format!("{what}: nothing mapped at {at:#x}-{:#x}", e.start));
        }
        let ok = match want {
            Want::Image => {
                e.name.contains(MEMFD)
                    && e.inode != 0
                    && (e.end - e.start) / PAGE <= MAX_MAPPED_PAGES
            }
            Want::Anon(name) => {
                e.inode == 0 && !e.name.contains("memfd:") && name.is_none_or(|n| e.name == n)
            }
        };
        if !ok {
            let expected = match want {
                Want::Image => format!(
                    "a mapping of the image's memfd ({MEMFD}) of at most {MAX_MAPPED_PAGES} pages"
                ),
                Want::Anon(Some(n)) => format!("anonymous memory named {n:?}"),
                Want::Anon(None) => "anonymous memory".to_string(),
            };
            return Err(format!(
                "{what} ({start:#x}-{end:#x}): /proc/self/maps has {:#x}-{:#x} {} {} inode {} \
                 {:?}, expected {expected}",
                e.start, e.end, e.perms, e.dev, e.inode, e.name
            ));
        }
        at = e.end;
    }
    if at < end {
        return Err(format!("{what}: nothing mapped at {at:#x}-{end:#x}"));
    }
    Ok(())
}

/// `Err` if anything is mapped over `m`.
fn expect_unmapped(maps: &[MapsEntry], m: Mapping, what: &str) -> Check {
    let (start, end) = (m.addr(), m.addr() + m.len());
    match maps.iter().find(|e| e.end > start && e.start < end) {
        None => Ok(()),
        Some(e) => Err(format!(
            "{what} ({start:#x}-{end:#x}): /proc/self/maps still has {:#x}-{:#x} {:?}",
            e.start, e.end, e.name
        )),
    }
}

/// `Err` unless each page `n` of `m` holds `seed + n`.
fn check_pages(m: Mapping, seed: u64, what: &str) -> Check {
    for n in 0..m.len() / PAGE {
        m.page(n)
            .check(seed + n as u64, &format!("{what} page {n}"))?;
    }
    Ok(())
}

fn drop_pages(m: Mapping, what: &str) -> Check {
    // SAFETY: drops our own private pages; nothing refers to their contents.
    let r = unsafe { libc::madvise(m.ptr().cast(), m.len(), libc::MADV_DONTNEED) };
    check_os(r, format_args!("madvise(MADV_DONTNEED) of {what}"))
}

/// After MADV_DONTNEED, page `n` of a region filled with `seed` holds the checkpoint's bytes
/// where it is mapped from the image, zeros where it is anonymous.
fn check_dropped(page: Mapping, seed: u64, n: usize, mapped: bool, what: &str) -> Check {
    let what = format!("{what} page {n} after MADV_DONTNEED");
    match mapped {
        true => page.check(seed + n as u64, &format!("{what} (the image's bytes)")),
        false => page.check_zero(&what),
    }
}

/// What SPARSE's page `n` held at the checkpoint: its seed plus `n` if written, else `None`.
fn sparse_page(n: usize) -> Option<u64> {
    let in_run = RUNS.iter().any(|&r| (r..r + RUN).contains(&n));
    (in_run || SINGLES.contains(&n)).then_some(SPARSE_SEED + n as u64)
}

fn advise(m: Mapping, advice: libc::c_int, what: &str) -> Check {
    // SAFETY: advice on our own mapping, which keeps its contents.
    let r = unsafe { libc::madvise(m.ptr().cast(), m.len(), advice) };
    check_os(r, format_args!("madvise({what})"))
}

fn setup() -> Result<Regions, String> {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let big = region(BIG_PAGES, 0)?;
    big.fill_pages(BIG_SEED);
    let sparse = region(SPARSE_PAGES, 0)?;
    for n in 0..SPARSE_PAGES {
        if let Some(seed) = sparse_page(n) {
            sparse.page(n).fill(seed);
        }
    }
    let ro = region(RO_PAGES, 0)?;
    ro.fill_pages(RO_SEED);
    ro.protect(libc::PROT_READ)?;
    let none = region(NONE_PAGES, 0)?;
    none.fill_pages(NONE_SEED);
    none.protect(libc::PROT_NONE)?;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let nores = mmap(NORES_PAGES * PAGE, rw, flags, -1, 0)?;
    nores.fill_pages(NORES_SEED);
    // SAFETY: sbrk grows the break; the new area is ours alone.
    let brk = unsafe { libc::sbrk((BRK_PAGES * PAGE) as libc::intptr_t) };
    if brk as isize == -1 {
        return Err(os_error("sbrk"));
    }
    // SAFETY: the area sbrk just added is ours, mapped read-write until the break shrinks,
    // which nothing here does.
    let brk = unsafe { Mapping::from_raw(brk.cast(), BRK_PAGES * PAGE) };
    brk.fill_pages(BRK_SEED);
    let named = region(NAMED_PAGES, 0)?;
    named.name(NAME)?;
    named.fill_pages(NAMED_SEED);
    let small = region(SMALL_PAGES, 0)?;
    small.fill_pages(SMALL_SEED);
    let edge16 = region(16, 0)?;
    edge16.fill_pages(EDGE16_SEED);
    let edge15 = region(15, 0)?;
    edge15.fill_pages(EDGE15_SEED);
    let advised = |advice, seed, what| -> Result<Mapping, String> {
        let m = region(KEPT_PAGES, 0)?;
        m.fill_pages(seed);
        advise(m, advice, what)?;
        Ok(m)
    };
    let wipe = advised(libc::MADV_WIPEONFORK, WIPE_SEED, "MADV_WIPEONFORK")?;
    let nofork = advised(libc::MADV_DONTFORK, NOFORK_SEED, "MADV_DONTFORK")?;
    let nodump = advised(libc::MADV_DONTDUMP, NODUMP_SEED, "MADV_DONTDUMP")?;
    let locked = region(KEPT_PAGES, 0)?;
    locked.fill_pages(LOCKED_SEED);
    // SAFETY: locks our own mapping in memory; its contents stay.
    let r = unsafe { libc::mlock(locked.ptr().cast(), locked.len()) };
    check_os(r, "mlock")?;
    let rwx = region(KEPT_PAGES, 0)?;
    rwx.protect(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC)?;
    rwx.fill_pages(RWX_SEED);
    let dest = region(MOVED.len(), 0)?;
    dest.protect(libc::PROT_NONE)?;
    Ok(Regions {
        big,
        sparse,
        ro,
        none,
        nores,
        brk,
        named,
        small,
        edge16,
        edge15,
        wipe,
        nofork,
        nodump,
        locked,
        rwx,
        dest,
    })
}

/// The regions that stay anonymous however many pages they hold, but STACK: (region, seed,
/// name).
fn kept(r: &Regions) -> [(Mapping, u64, &'static str); 5] {
    [
        (r.wipe, WIPE_SEED, "WIPE (MADV_WIPEONFORK)"),
        (r.nofork, NOFORK_SEED, "NOFORK (MADV_DONTFORK)"),
        (r.nodump, NODUMP_SEED, "NODUMP (MADV_DONTDUMP)"),
        (r.locked, LOCKED_SEED, "LOCKED (mlock)"),
        (r.rwx, RWX_SEED, "RWX (PROT_READ|PROT_WRITE|PROT_EXEC)"),
    ]
}

/// /proc/self/maps right after the restart; `stack` is STACK.
fn check_maps(r: &Regions, stack: Mapping, mapped: bool) -> Check {
    let maps = maps()?;
    let image = match mapped {
        true => Want::Image,
        false => Want::Anon(None),
    };
    expect_maps(&maps, r.big, "BIG (16 MiB)", image)?;
    for &n in &RUNS {
        let run = r.sparse.part(n * PAGE, RUN * PAGE);
        expect_maps(&maps, run, &format!("SPARSE's run at page {n}"), image)?;
    }
    for &n in &SINGLES {
        let what = format!("SPARSE's single page {n}");
        expect_maps(&maps, r.sparse.page(n), &what, Want::Anon(Some("")))?;
    }
    expect_maps(&maps, r.ro, "RO (read-only)", image)?;
    expect_maps(&maps, r.none, "NONE (PROT_NONE)", image)?;
    expect_maps(&maps, r.nores, "NORES (MAP_NORESERVE)", image)?;
    expect_maps(&maps, r.brk, "BRK (sbrk)", image)?;
    expect_maps(&maps, r.edge16, "EDGE16 (16 pages)", image)?;
    let named = format!("[anon:{NAME}]");
    expect_maps(&maps, r.named, "NAMED", Want::Anon(Some(&named)))?;
    expect_maps(&maps, r.small, "SMALL (8 pages)", Want::Anon(Some("")))?;
    expect_maps(&maps, r.edge15, "EDGE15 (15 pages)", Want::Anon(Some("")))?;
    for (m, _, what) in kept(r) {
        expect_maps(&maps, m, what, Want::Anon(Some("")))?;
    }
    let what = "STACK (an array on the stack)";
    expect_maps(&maps, stack, what, Want::Anon(Some("[stack]")))?;
    let perms = [
        (r.big, "rw-p", "BIG"),
        (r.ro, "r--p", "RO"),
        (r.none, "---p", "NONE"),
        (r.nores, "rw-p", "NORES"),
        (r.rwx, "rwxp", "RWX"),
    ];
    for (m, want, what) in perms {
        let (start, end) = (m.addr(), m.addr() + m.len());
        if let Some(e) = maps
            .iter()
            .find(|e| e.end > start && e.start < end && e.perms != want)
        {
            return Err(format!(
                "{what}: /proc/self/maps has {:#x}-{:#x} {}, expected {want}",
                e.start, e.end, e.perms
            ));
        }
    }
    Ok(())
}

/// Every page as at the checkpoint, STACK's (`stack`) too; NONE made readable first.
fn check_contents(r: &Regions, stack: Mapping) -> Check {
    check_pages(r.big, BIG_SEED, "BIG")?;
    for n in 0..SPARSE_PAGES {
        let page = r.sparse.page(n);
        match sparse_page(n) {
            Some(seed) => page.check(seed, &format!("SPARSE's written page {n}"))?,
            None => page.check_zero(&format!("SPARSE's page {n}, never written"))?,
        }
    }
    check_pages(r.ro, RO_SEED, "RO")?;
    check_pages(r.nores, NORES_SEED, "NORES")?;
    check_pages(r.brk, BRK_SEED, "BRK")?;
    check_pages(r.named, NAMED_SEED, "NAMED")?;
    check_pages(r.small, SMALL_SEED, "SMALL")?;
    check_pages(r.edge16, EDGE16_SEED, "EDGE16")?;
    check_pages(r.edge15, EDGE15_SEED, "EDGE15")?;
    for (m, seed, what) in kept(r) {
        check_pages(m, seed, what)?;
    }
    check_pages(stack, STACK_SEED, "STACK")?;
    r.none.protect(libc::PROT_READ)?;
    check_pages(r.none, NONE_SEED, "NONE, made readable")
}

/// The regions the child checks untouched and writes half of: (region, seed, name).
fn untouched(r: &Regions) -> Vec<(Mapping, u64, String)> {
    let mut v = vec![
        (r.nores, NORES_SEED, "NORES".to_string()),
        (r.brk, BRK_SEED, "BRK".to_string()),
    ];
    for &n in &RUNS {
        let run = r.sparse.part(n * PAGE, RUN * PAGE);
        v.push((
            run,
            SPARSE_SEED + n as u64,
            format!("SPARSE's run at page {n}"),
        ));
    }
    v
}

/// In the child forked after the restart: the parent's memory as it was at the fork, then its
/// own writes over half of BIG, NORES, SPARSE's runs and BRK.
fn child(r: &Regions) -> Check {
    check_pages(r.big, NEW_SEED, "child: BIG, rewritten before the fork")?;
    check_pages(r.ro, RO_SEED, "child: RO")?;
    check_pages(r.none, NONE_SEED, "child: NONE")?;
    let half = |m: Mapping| m.part(0, m.len() / 2);
    for (m, seed, what) in untouched(r) {
        check_pages(m, seed, &format!("child: {what}"))?;
    }
    r.wipe.check_zero("child: WIPE (MADV_WIPEONFORK)")?;
    expect_unmapped(&maps()?, r.nofork, "child: NOFORK (MADV_DONTFORK)")?;
    half(r.big).fill_pages(CHILD_SEED);
    check_pages(half(r.big), CHILD_SEED, "child: BIG's first half, its own")?;
    for (m, _, what) in untouched(r) {
        half(m).fill_pages(CHILD_SEED);
        check_pages(
            half(m),
            CHILD_SEED,
            &format!("child: {what}'s first half, its own"),
        )?;
    }
    Ok(())
}

/// What BIG's page `n` holds once rewritten, then partly dropped.
fn big_page(n: usize, mapped: bool) -> Option<u64> {
    match BIG_DROPPED.contains(&n) {
        true => mapped.then_some(BIG_SEED + n as u64),
        false => Some(NEW_SEED + n as u64),
    }
}

fn check_big_page(page: Mapping, n: usize, mapped: bool, what: &str) -> Check {
    match big_page(n, mapped) {
        Some(seed) => page.check(seed, &format!("{what} page {n}")),
        None => page.check_zero(&format!("{what} page {n}")),
    }
}

fn check(r: &Regions, stack: Mapping) -> Check {
    let mapped = !dry_run();
    check_maps(r, stack, mapped)?;
    check_contents(r, stack)?;

    r.big.fill_pages(NEW_SEED);
    check_pages(r.big, NEW_SEED, "BIG, rewritten after the restart")?;

    let regions = *r;
    let kid = fork_checker(move || child(&regions))?;
    reap(&[Kid { pid: kid, code: 0 }])?;
    check_pages(r.big, NEW_SEED, "BIG, after the child wrote its own")?;
    check_pages(r.ro, RO_SEED, "RO, after the child")?;
    check_pages(r.none, NONE_SEED, "NONE, after the child")?;
    for (m, seed, what) in untouched(r) {
        check_pages(m, seed, &format!("{what}, after the child wrote its own"))?;
    }
    check_pages(r.wipe, WIPE_SEED, "WIPE, after the child")?;
    check_pages(r.nofork, NOFORK_SEED, "NOFORK, after the child")?;

    for n in NORES_DROPPED {
        drop_pages(r.nores.page(n), "NORES")?;
        check_dropped(r.nores.page(n), NORES_SEED, n, mapped, "NORES (untouched)")?;
    }
    for n in BIG_DROPPED {
        drop_pages(r.big.page(n), "BIG")?;
        check_dropped(r.big.page(n), BIG_SEED, n, mapped, "BIG (rewritten)")?;
    }
    let n = SMALL_DROPPED;
    drop_pages(r.small.page(n), "SMALL")?;
    check_dropped(r.small.page(n), SMALL_SEED, n, false, "SMALL (anonymous)")?;

    let gone = r.big.part(UNMAPPED.start * PAGE, UNMAPPED.len() * PAGE);
    gone.unmap()?;
    expect_unmapped(&maps()?, gone, "BIG's unmapped pages")?;
    for n in [UNMAPPED.start - 1, UNMAPPED.end] {
        check_big_page(r.big.page(n), n, mapped, "BIG, next to the unmapped pages,")?;
    }

    let part = r.big.part(MOVED.start * PAGE, MOVED.len() * PAGE);
    let pieces: Vec<(usize, usize)> = maps()?
        .iter()
        .filter(|e| e.end > part.addr() && e.start < part.addr() + part.len())
        .map(|e| {
            let start = e.start.max(part.addr());
            (
                start - part.addr(),
                e.end.min(part.addr() + part.len()) - start,
            )
        })
        .collect();
    for &(offset, len) in &pieces {
        part.part(offset, len)
            .move_to(r.dest.part(offset, len))
            .map_err(|e| format!("moving 4 MiB of BIG in {} pieces: {e}", pieces.len()))?;
    }
    let maps = maps()?;
    expect_unmapped(&maps, part, "BIG's moved pages, at their old place")?;
    let image = match mapped {
        true => Want::Image,
        false => Want::Anon(Some("")),
    };
    expect_maps(
        &maps,
        r.dest,
        "BIG's moved pages, at their new place",
        image,
    )?;
    for k in 0..MOVED.len() {
        let n = MOVED.start + k;
        check_big_page(r.dest.page(k), n, mapped, "BIG, moved with mremap,")?;
    }
    drop_pages(r.dest.page(MOVED_DROPPED), "BIG's moved pages")?;
    let n = MOVED.start + MOVED_DROPPED;
    check_dropped(
        r.dest.page(MOVED_DROPPED),
        BIG_SEED,
        n,
        mapped,
        "BIG (moved)",
    )?;

    for n in (0..BIG_PAGES).filter(|n| !UNMAPPED.contains(n) && !MOVED.contains(n)) {
        check_big_page(r.big.page(n), n, mapped, "BIG, at the end,")?;
    }
    Ok(())
}

fn main() {
    let mut target = Target::spawn(|| {
        let regions = setup()?;
        Ok(move || {
            // STACK: page-aligned pages of an array in this frame, which lives until the
            // checks are done.
            let mut array = [0u64; (STACK_PAGES + 1) * PAGE / 8];
            let at = array.as_mut_ptr() as usize;
            let start = at.next_multiple_of(PAGE) - at;
            // SAFETY: the pages lie within `array`, which outlives every use of `stack` and is
            // used by nothing else meanwhile.
            let stack = unsafe {
                Mapping::from_raw(
                    array.as_mut_ptr().cast::<u8>().add(start),
                    STACK_PAGES * PAGE,
                )
            };
            stack.fill_pages(STACK_SEED);
            wait_restored();
            let result = check(&regions, stack);
            std::hint::black_box(&mut array);
            result
        })
    });
    target.checkpoint(KILL);
    target.mapped();
    target.restart();
    target.finish();
    pass(
        "RESTART_MAP maps runs of 16 or more pages of private memory from the image's memfd, \
         copy-on-write, the rest anonymous (advised, locked, executable, the stack too); \
         contents, writes, fork, MADV_DONTNEED (the image's bytes), munmap and mremap hold",
    );
}
