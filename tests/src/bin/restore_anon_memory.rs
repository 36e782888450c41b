//! Private memory of every kind survives checkpoint and restart: a patterned anonymous
//! mapping, a 16 MiB one, a sparse one (three pages written, some only read: the rest reads
//! zero, and none of it fills the image), the brk heap grown with sbrk, malloc'd memory, the
//! program's data and bss, the stack; /proc/self/maps and the break are unchanged.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use cr_tests::mem::{anon, check_words, fill_words, pattern, Mapping, PAGE};
use cr_tests::proc::MapsSnapshot;
use cr_tests::{check_eq, os_error, pass, wait_restored, Check, Target, KILL};

const SMALL: usize = 64 << 10;
const BIG: usize = 16 << 20;
const SPARSE: usize = 64 << 20;
const WRITTEN: [usize; 3] = [0, SPARSE / 2 + 5 * PAGE, SPARSE - PAGE];
const BRK_GROWTH: usize = 1 << 20;
const DATA_INIT: u64 = 0x0123_4567_89ab_cdef;

static DATA: [AtomicU64; 512] = [const { AtomicU64::new(DATA_INIT) }; 512];
static BSS: [AtomicU64; 2048] = [const { AtomicU64::new(0) }; 2048];

/// Grows the stack well below anything the checks use, so that the [stack] mapping does not
/// grow between the two /proc/self/maps snapshots.
#[inline(never)]
fn touch_stack() {
    let mut deep = [0u8; 512 << 10];
    black_box(&mut deep);
}

/// Everything the check needs, allocated before the first snapshot.
struct Memory {
    small: Mapping,
    big: Mapping,
    sparse: Mapping,
    brk_area: Mapping,
    brk_end: usize,
    heap: Vec<u64>,
    before: MapsSnapshot,
    after: MapsSnapshot,
}

fn setup() -> Result<Memory, String> {
    let (small, big, sparse) = (anon(SMALL)?, anon(BIG)?, anon(SPARSE)?);
    small.fill(1);
    big.fill(2);
    for (n, &at) in WRITTEN.iter().enumerate() {
        sparse.part(at, PAGE).fill(10 + n as u64);
    }
    // Read faults map the zero page: nothing the image should hold either.
    for page in (PAGE..SPARSE / 4).step_by(PAGE) {
        black_box(sparse.part(page, PAGE).check_zero("read-faulted page")?);
    }
    // SAFETY: sbrk grows the break; the new area is ours alone (malloc finds the new break
    // through sbrk(0) as well).
    let brk_area = unsafe { libc::sbrk(BRK_GROWTH as libc::intptr_t) };
    if brk_area as isize == -1 {
        return Err(os_error("sbrk"));
    }
    // SAFETY: the area sbrk just added is ours, mapped read-write until the break shrinks,
    // which nothing here does.
    let brk_area = unsafe { Mapping::from_raw(brk_area.cast(), BRK_GROWTH) };
    brk_area.fill(3);
    let heap: Vec<u64> = (0..10_000).map(|i| pattern(4, i)).collect();
    for (i, w) in DATA.iter().enumerate().step_by(3) {
        w.store(pattern(5, i), Ordering::Relaxed);
    }
    for (i, w) in BSS.iter().enumerate().skip(1000).step_by(7) {
        w.store(pattern(6, i), Ordering::Relaxed);
    }
    touch_stack();
    Ok(Memory {
        small,
        big,
        sparse,
        brk_area,
        // SAFETY: sbrk(0) only reads the break.
        brk_end: unsafe { libc::sbrk(0) } as usize,
        heap,
        before: MapsSnapshot::new(),
        after: MapsSnapshot::new(),
    })
}

fn check(m: &Memory) -> Check {
    m.before.compare(&m.after)?;
    // SAFETY: sbrk(0) only reads the break.
    check_eq("sbrk(0)", unsafe { libc::sbrk(0) } as usize, m.brk_end)?;
    m.small.check(1, "64 KiB mapping")?;
    m.big.check(2, "16 MiB mapping")?;
    m.brk_area.check(3, "brk area")?;
    for page in (0..SPARSE).step_by(PAGE) {
        let p = m.sparse.part(page, PAGE);
        match WRITTEN.iter().position(|&at| at == page) {
            Some(n) => p.check(10 + n as u64, "written page of the sparse mapping")?,
            None => p.check_zero(&format!("sparse mapping page +{page:#x}"))?,
        }
    }
    check_words(&m.heap, 4, "malloc'd buffer")?;
    for (i, w) in DATA.iter().enumerate() {
        let want = if i % 3 == 0 { pattern(5, i) } else { DATA_INIT };
        check_eq(
            format_args!("data word {i}"),
            w.load(Ordering::Relaxed),
            want,
        )?;
    }
    for (i, w) in BSS.iter().enumerate() {
        let written = i >= 1000 && (i - 1000) % 7 == 0;
        let want = if written { pattern(6, i) } else { 0 };
        check_eq(
            format_args!("bss word {i}"),
            w.load(Ordering::Relaxed),
            want,
        )?;
    }
    Ok(())
}

fn main() {
    let mut target = Target::spawn(|| {
        let mut memory = setup()?;
        Ok(move || {
            let mut stack = [0u64; 2048];
            fill_words(&mut stack, 7);
            black_box(&mut stack);
            memory.before.take()?;
            wait_restored();
            memory.after.take()?;
            check_words(black_box(&stack), 7, "stack array")?;
            check(&memory)
        })
    });
    target.checkpoint(KILL);
    // Written: 16 MiB, 1 MiB of brk, 64 KiB and a few pages; the sparse 64 MiB must not be.
    let len = std::fs::metadata(target.image_path()).map_or(0, |m| m.len());
    if len > (BIG + BRK_GROWTH + (8 << 20)) as u64 {
        target.fail(format!(
            "the image has {len} bytes: untouched or zero pages of the sparse mapping were written"
        ));
    }
    target.restart();
    target.finish();
    pass("anonymous, brk, heap, data, bss and stack memory, maps and break restored");
}
