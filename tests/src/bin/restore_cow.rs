//! Private pages that processes still share copy-on-write after fork() are shared again after
//! the restart, three generations deep, and each process keeps what it wrote, or dropped,
//! since the fork, and only the mappings it had.
//!
//! The root maps, fills and forks a, which forks g:
//!
//! ```text
//! A  64 pages, anonymous   root: writes pages 40-41 after the fork
//!                          a: writes pages 10-11, drops 20-21 (MADV_DONTNEED); g: writes 30
//! F  8-page private file   root: writes pages 0-3; a: drops page 1, writes page 5
//! R  4 pages, read-only    a: writes page 1 (made writable for it, then read-only again)
//! B  8 pages               a: makes pages 2-3 read-only (three mappings, none as the root's)
//! C  8 pages               a: maps new read-only memory over pages 2-3 (MAP_FIXED)
//! N  2 pages               root: maps it after the fork (a and g never had it)
//! X  1 GiB, PROT_NONE      root: under an RLIMIT_AS with room for one, not two;
//!                          a: unmaps it, maps its own elsewhere (g inherits a's)
//! D  8 pages               root: MADV_NOHUGEPAGE on pages 0-3 (two mappings)
//! E  8 pages               root: MADV_NOHUGEPAGE on pages 4-7 (two mappings)
//! G  2 pages, zeroed       root: names page 0 "a", page 1 "x"; a: renames page 0 "x"
//!                          (still two mappings: each has its own anon_vma)
//! ```
//!
//! Each process notes, before the checkpoint, its /proc/self/maps and which of its anonymous
//! pages in A, F and R it maps alone and which it shares (/proc/self/pagemap), and finds the
//! same after the restart: each shared page is restored once. Then each checks its contents,
//! and writes to shared pages stay private: the root writes A page 0 before a checks it, a
//! writes A page 1 before the root does.

use cr_tests::mem::{fill_words, mmap, Mapping, PAGE};
use cr_tests::proc::MapsSnapshot;
use cr_tests::target::{cycle_tree_test, os_error};
use cr_tests::tree::{wake_and_reap, Forker, Kid, Ready};
use cr_tests::{check_eq, check_os, wait_restored, Check};

const A_PAGES: usize = 64;
const F_PAGES: usize = 8;
const R_PAGES: usize = 4;
const ARENA: usize = 1 << 30;
/// Seeds: the root's fills, its writes after the fork, a's, g's, and the writes after the
/// restart. Page `n` of a mapping holds its seed plus `n`.
const ROOT: u64 = 1000;
const ROOT_LATER: u64 = 2000;
const BY_A: u64 = 3000;
const BY_G: u64 = 4000;
const AFTER: u64 = 5000;
const B_SEED: u64 = 6000;
const C_SEED: u64 = 7000;
const R_SEED: u64 = 8000;
const N_SEED: u64 = 9000;
/// The file's page `n` holds pattern `FILE + n`; the root's writes `WRITTEN + n`.
const FILE: u64 = 100;
const WRITTEN: u64 = 200;

const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;
const PRIVATE_ANON: libc::c_int = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;

#[derive(Clone, Copy)]
struct Maps {
    a: Mapping,
    f: Mapping,
    r: Mapping,
    b: Mapping,
    c: Mapping,
}

impl Maps {
    /// Which anonymous pages of A, F and R the process maps alone, or shares.
    fn sharing(&self) -> Result<Vec<Option<bool>>, String> {
        let mut v = self.a.anon_pages()?;
        v.extend(self.f.anon_pages()?);
        v.extend(self.r.anon_pages()?);
        Ok(v)
    }

    /// Names entry `i` of [`Maps::sharing`].
    fn which(i: usize) -> String {
        match i {
            i if i < A_PAGES => format!("A page {i}"),
            i if i < A_PAGES + F_PAGES => format!("F page {}", i - A_PAGES),
            i => format!("R page {}", i - A_PAGES - F_PAGES),
        }
    }
}

/// What a process expects in each page: a pattern seed, or zeros.
struct Expect {
    a: fn(usize) -> Option<u64>,
    f: fn(usize) -> u64,
    r: fn(usize) -> u64,
    /// Whether B and C are as a left them.
    by_a: bool,
}

/// What a process notes before the checkpoint, with room for what it reads after.
struct Before {
    sharing: Vec<Option<bool>>,
    maps: MapsSnapshot,
    after: MapsSnapshot,
}

impl Before {
    /// Notes the process's maps and sharing, which must show what `want` says of some pages
    /// of A (`(page, alone)`, `None` for a hole): else the tree did not share what the test
    /// is about. Last thing before the checkpoint: nothing is mapped after it.
    fn take(m: &Maps, who: &str, want: &[(usize, Option<bool>)]) -> Result<Before, String> {
        let sharing = m.sharing()?;
        for &(n, w) in want {
            check_eq(
                format!("{who}: A page {n} before the checkpoint (alone?)"),
                sharing[n],
                w,
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
    fn check(mut self, m: &Maps, who: &str, expect: &Expect) -> Check {
        self.after.take()?;
        self.maps
            .compare(&self.after)
            .map_err(|e| format!("{who}: {e}"))?;
        // Before reading a page: reading a hole would map the zero page.
        let now = m.sharing()?;
        for (i, (b, n)) in self.sharing.iter().zip(now.iter()).enumerate() {
            let what = format!(
                "{who}: {}: mapped alone (Some(true)), shared or not at all",
                Maps::which(i)
            );
            check_eq(what, *n, *b)?;
        }
        for n in 0..A_PAGES {
            let what = format!("{who}: A page {n}");
            match (expect.a)(n) {
                Some(seed) => m.a.page(n).check(seed, &what)?,
                None => m.a.page(n).check_zero(&what)?,
            }
        }
        for n in 0..F_PAGES {
            m.f.page(n)
                .check((expect.f)(n), &format!("{who}: F page {n}"))?;
        }
        for n in 0..R_PAGES {
            m.r.page(n)
                .check((expect.r)(n), &format!("{who}: R page {n}"))?;
        }
        for n in 0..8 {
            m.b.page(n)
                .check(B_SEED + n as u64, &format!("{who}: B page {n}"))?;
            let what = format!("{who}: C page {n}");
            match expect.by_a && (2..4).contains(&n) {
                true => m.c.page(n).check_zero(&what)?,
                false => m.c.page(n).check(C_SEED + n as u64, &what)?,
            }
        }
        Ok(())
    }
}

fn root_a(n: usize) -> Option<u64> {
    Some(if n == 40 || n == 41 {
        ROOT_LATER + n as u64
    } else {
        ROOT + n as u64
    })
}

fn root_f(n: usize) -> u64 {
    if n < 4 {
        WRITTEN + n as u64
    } else {
        FILE + n as u64
    }
}

fn root_r(n: usize) -> u64 {
    R_SEED + n as u64
}

fn a_a(n: usize) -> Option<u64> {
    match n {
        10 | 11 => Some(BY_A + n as u64),
        20 | 21 => None,
        _ => Some(ROOT + n as u64),
    }
}

fn a_f(n: usize) -> u64 {
    match n {
        1 => FILE + 1,
        5 => BY_A + 5,
        n => root_f(n),
    }
}

fn a_r(n: usize) -> u64 {
    if n == 1 {
        BY_A + 1
    } else {
        root_r(n)
    }
}

fn g_a(n: usize) -> Option<u64> {
    if n == 30 {
        Some(BY_G + 30)
    } else {
        a_a(n)
    }
}

fn drop_pages(p: Mapping) -> Check {
    // SAFETY: drops our own private pages; nothing refers to their contents.
    check_os(
        unsafe { libc::madvise(p.ptr().cast(), p.len(), libc::MADV_DONTNEED) },
        "madvise(MADV_DONTNEED)",
    )
}

/// Maps `len` bytes of inaccessible memory, not reserved, at `hint` if it is free.
fn arena(hint: usize) -> Result<Mapping, String> {
    let flags = PRIVATE_ANON | libc::MAP_NORESERVE;
    // SAFETY: a new mapping, at the hint only where nothing is mapped.
    let p = unsafe { libc::mmap(hint as *mut _, ARENA, libc::PROT_NONE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(os_error("mmap of the 1 GiB arena"));
    }
    // SAFETY: `p` is the mapping just made, ARENA bytes long.
    Ok(unsafe { Mapping::from_raw(p.cast(), ARENA) })
}

fn g_setup(m: Maps) -> Result<impl FnOnce() -> Check, String> {
    m.a.page(30).fill(BY_G + 30);
    let before = Before::take(
        &m,
        "g",
        &[
            (30, Some(true)),
            (0, Some(false)),
            (10, Some(false)),
            (20, None),
        ],
    )?;
    Ok(move || {
        before.check(
            &m,
            "g",
            &Expect {
                a: g_a,
                f: a_f,
                r: a_r,
                by_a: true,
            },
        )
    })
}

fn a_setup(fork: Forker, m: Maps, x: Mapping) -> Result<impl FnOnce() -> Check, String> {
    for n in [10, 11] {
        m.a.page(n).fill(BY_A + n as u64);
    }
    drop_pages(m.a.part(20 * PAGE, 2 * PAGE))?;
    drop_pages(m.f.page(1))?;
    m.f.page(5).fill(BY_A + 5);
    m.r.protect(RW)?;
    m.r.page(1).fill(BY_A + 1);
    m.r.protect(libc::PROT_READ)?;
    m.b.part(2 * PAGE, 2 * PAGE).protect(libc::PROT_READ)?;
    let over = m.c.part(2 * PAGE, 2 * PAGE);
    // SAFETY: replaces two pages of our own mapping C, which nothing refers to.
    let p = unsafe {
        libc::mmap(
            over.ptr().cast(),
            over.len(),
            libc::PROT_READ,
            PRIVATE_ANON | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os_error("mmap(MAP_FIXED) over C"));
    }
    // SAFETY: our own mapping, which nothing refers to.
    check_os(
        unsafe { libc::munmap(x.ptr().cast(), x.len()) },
        "munmap of the root's arena",
    )?;
    let mine = arena(x.addr().saturating_sub(2 * ARENA))?;
    if mine.addr() == x.addr() {
        return Err("a's arena took the root's place".into());
    }
    let g = fork.fork(47, move |_| g_setup(m))?;
    let before = Before::take(&m, "a", &[(0, Some(false)), (10, Some(false)), (20, None)])?;
    Ok(move || {
        // The root wrote A page 0 before waking a: a's stays as it was.
        before.check(
            &m,
            "a",
            &Expect {
                a: a_a,
                f: a_f,
                r: a_r,
                by_a: true,
            },
        )?;
        m.a.page(1).fill(AFTER + 1);
        wake_and_reap(&[g])
    })
}

/// The file F maps: page `n` holds pattern `FILE + n`.
fn make_file(dir: &str) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let path = format!("{dir}/file");
    let mut words = vec![0u64; PAGE / 8];
    let mut bytes = Vec::new();
    for n in 0..F_PAGES {
        fill_words(&mut words, FILE + n as u64);
        bytes.extend(words.iter().flat_map(|w| w.to_ne_bytes()));
    }
    std::fs::write(&path, bytes).map_err(|e| format!("write {path}: {e}"))?;
    std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))
}

/// An address-space limit with room for one arena more than the process has, not two.
fn limit_address_space() -> Check {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmSize in /proc/self/status")?;
    let limit = kib * 1024 + ARENA as u64 * 3 / 2;
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: `rl` is valid for the call.
    check_os(
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) },
        "setrlimit(RLIMIT_AS)",
    )
}

fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    let file = make_file(&dir)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let m = Maps {
        a: mmap(A_PAGES * PAGE, RW, PRIVATE_ANON, -1, 0)?,
        f: mmap(F_PAGES * PAGE, RW, libc::MAP_PRIVATE, fd, 0)?,
        r: mmap(R_PAGES * PAGE, RW, PRIVATE_ANON, -1, 0)?,
        b: mmap(8 * PAGE, RW, PRIVATE_ANON, -1, 0)?,
        c: mmap(8 * PAGE, RW, PRIVATE_ANON, -1, 0)?,
    };
    drop(file);
    m.a.fill_pages(ROOT);
    m.f.part(0, 4 * PAGE).fill_pages(WRITTEN);
    m.r.fill_pages(R_SEED);
    m.r.protect(libc::PROT_READ)?;
    m.b.fill_pages(B_SEED);
    m.c.fill_pages(C_SEED);
    // Neighbours that differ only in their huge page advice stay two mappings.
    for (first, pages) in [(0, 0..4), (1, 4..8)] {
        let d = mmap(8 * PAGE, RW, PRIVATE_ANON, -1, 0)?;
        d.fill_pages(B_SEED + 100 * first);
        let half = d.part(pages.start * PAGE, 4 * PAGE);
        // SAFETY: advice on our own mapping.
        check_os(
            unsafe { libc::madvise(half.ptr().cast(), half.len(), libc::MADV_NOHUGEPAGE) },
            "madvise(MADV_NOHUGEPAGE)",
        )?;
    }
    let g = mmap(2 * PAGE, RW, PRIVATE_ANON, -1, 0)?;
    g.page(0).name("a")?;
    g.page(1).name("x")?;
    g.fill_zero();
    limit_address_space()?;
    let x = arena(0)?;
    let ready = Ready::new()?;
    let kid: Kid = ready.fork(46, move |fork| {
        g.page(0).name("x")?;
        a_setup(fork, m, x)
    })?;
    for n in [40, 41] {
        m.a.page(n).fill(ROOT_LATER + n as u64);
    }
    let n = mmap(2 * PAGE, RW, PRIVATE_ANON, -1, 0)?;
    n.fill_pages(N_SEED);
    ready.wait(2)?;
    let before = Before::take(
        &m,
        "root",
        &[
            (0, Some(false)),
            (10, Some(true)),
            (20, Some(true)),
            (40, Some(true)),
        ],
    )?;
    Ok(move || {
        wait_restored();
        before.check(
            &m,
            "root",
            &Expect {
                a: root_a,
                f: root_f,
                r: root_r,
                by_a: false,
            },
        )?;
        for i in 0..2 {
            n.page(i)
                .check(N_SEED + i as u64, "root: N, mapped after the fork")?;
        }
        m.a.page(0).fill(AFTER);
        wake_and_reap(&[kid])?;
        m.a.page(1)
            .check(ROOT + 1, "root: A page 1, after a wrote its own")
    })
}

fn main() {
    cycle_tree_test(
        2,
        setup,
        "pages shared copy-on-write by three generations are shared again, each one's own kept",
    );
}
