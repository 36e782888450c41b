//! Mappings of deleted files come back with `CKPT_UNLINKED`: each file is made again, unlinked
//! (O_TMPFILE), in the directory it was deleted from, with its bytes, and mapped at the same
//! address with the same protection and file offset. In a directory of its own the target
//! holds:
//!
//! - S: 3 pages of [`byte_pattern`], open O_RDWR at fd 30 and mapped MAP_SHARED read-write,
//!   one byte written through the mapping; then deleted;
//! - P: 4 pages of patterns, mapped MAP_PRIVATE read-write, its fd closed, page 1 written
//!   through the mapping (a copy of its own) and page 2 read; then deleted;
//! - R: 4 pages of patterns, mapped MAP_PRIVATE read-only twice, pages 0-1 and page 3 (no page
//!   maps page 2), its fd closed; then deleted.
//!
//! Checked before the checkpoint and after the restart: each mapping's /proc/self/maps line
//! (its range, protection, file offset and device as before, its path `<dir>/... (deleted)`),
//! S's mapping on the inode of its fd, R's two on one inode, three inodes in all; S's bytes,
//! through the mapping and with pread() on its fd, the written byte included; S's link count 0
//! and size; P's written page as written, its other pages the file's; R's mappings the file's
//! pages at their offsets; P's and R's files, opened through /proc/self/map_files, hold their
//! bytes (R's page 2 too, which no mapping shows; P's without the private write), unlinked;
//! the directory empty. After the restart a byte written through S's mapping is read by
//! pread() on its fd and one written with pwrite() on the fd through the mapping; a page of P
//! written then reads back and does not reach its file; then the target removes the directory.
//!
//! The checkpoint with an `unlinked_max` one byte less than the three files' sizes is refused
//! with EFBIG (before, a log line naming `CKPT_UNLINKED`), the one with exactly their sizes
//! saves them: each file counts once, however many mappings and fds hold it.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use cr_tests::mem::{fill_words, mmap, Mapping, PAGE};
use cr_tests::proc::{maps_entry, MapsEntry};
use cr_tests::target::{dry_run, scratch_dir};
use cr_tests::{
    byte_pattern, check_byte_pattern, check_empty_dir, check_eq, fstat, open_at, pass, pread_exact,
    pwrite_all, wait_restored, Check, Target, KILL,
};

/// S's fd.
const S_FD: RawFd = 30;
const S_PAGES: usize = 3;
const P_PAGES: usize = 4;
const R_PAGES: usize = 4;
/// The byte of S written through its mapping before the checkpoint (with the pattern's byte
/// inverted), and those written after the restart through the mapping and with pwrite().
const S_WRITTEN: usize = PAGE + 123;
const S_MAP_WRITE: usize = 2 * PAGE + 7;
const S_FD_WRITE: usize = 17;
/// Page `n` of P's file holds pattern `P_SEED + n`, of R's `R_SEED + n`.
const P_SEED: u64 = 100;
const R_SEED: u64 = 300;
/// P's page written before the checkpoint (pattern `P_WRITE_SEED`), the page read, and the
/// page written after the restart (pattern `P_LATE_SEED`).
const P_WRITTEN: usize = 1;
const P_READ: usize = 2;
const P_LATE: usize = 3;
const P_WRITE_SEED: u64 = 200;
const P_LATE_SEED: u64 = 250;
/// R's mappings: `R1_PAGES` pages from file page 0, and one page from file page `R2_PAGE`.
/// Neither order of the two in memory makes their offsets follow on: they never merge.
const R1_PAGES: usize = 2;
const R2_PAGE: usize = 3;
/// The sizes of the three files, each counted once.
const SIZES: u64 = ((S_PAGES + P_PAGES + R_PAGES) * PAGE) as u64;

/// The files, their mappings and what /proc/self/maps said of them before the checkpoint.
struct Maps {
    /// The scratch directory, and the directory in it that the files were deleted from.
    top: String,
    dir: String,
    /// The device of the directory, as /proc/self/maps shows it (`08:01`).
    dev: String,
    s: Mapping,
    p: Mapping,
    r1: Mapping,
    r2: Mapping,
}

/// A mapping as the test expects it in /proc/self/maps.
struct Line {
    what: &'static str,
    map: Mapping,
    perms: &'static str,
    offset: u64,
}

impl Maps {
    fn lines(&self) -> [Line; 4] {
        [
            Line {
                what: "S's MAP_SHARED mapping",
                map: self.s,
                perms: "rw-s",
                offset: 0,
            },
            Line {
                what: "P's MAP_PRIVATE mapping",
                map: self.p,
                perms: "rw-p",
                offset: 0,
            },
            Line {
                what: "R's first mapping",
                map: self.r1,
                perms: "r--p",
                offset: 0,
            },
            Line {
                what: "R's second mapping",
                map: self.r2,
                perms: "r--p",
                offset: (R2_PAGE * PAGE) as u64,
            },
        ]
    }
}

/// S's bytes: the pattern, with the byte at [`S_WRITTEN`] inverted.
fn s_bytes() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..S_PAGES * PAGE).map(byte_pattern).collect();
    bytes[S_WRITTEN] = !bytes[S_WRITTEN];
    bytes
}

/// A file of `pages` pages, page `n` holding pattern `seed + n`.
fn file_pages(seed: u64, pages: usize) -> Vec<u8> {
    let mut words = vec![0u64; PAGE / 8];
    let mut bytes = Vec::with_capacity(pages * PAGE);
    for n in 0..pages {
        fill_words(&mut words, seed + n as u64);
        bytes.extend(words.iter().flat_map(|w| w.to_ne_bytes()));
    }
    bytes
}

/// `Err` naming the first page of `bytes` that is not that of [`file_pages`] `seed`.
fn check_file_pages(bytes: &[u8], seed: u64, pages: usize, what: &str) -> Check {
    check_eq(
        format_args!("{what}: its length"),
        bytes.len(),
        pages * PAGE,
    )?;
    let want = file_pages(seed, pages);
    match (0..pages).find(|&n| bytes[n * PAGE..][..PAGE] != want[n * PAGE..][..PAGE]) {
        Some(n) => Err(format!(
            "{what}: page {n} is not the file's (pattern {})",
            seed + n as u64
        )),
        None => Ok(()),
    }
}

/// The `len` bytes at `offset` of the mapping, read one by one (volatile: what the memory
/// holds now, after a write through another path).
fn read_mapped(m: &Mapping, offset: usize, len: usize) -> Vec<u8> {
    let part = m.part(offset, len);
    // SAFETY: a readable part of a mapping the target keeps for good.
    (0..len)
        .map(|i| unsafe { std::ptr::read_volatile(part.ptr().add(i)) })
        .collect()
}

/// Writes `byte` at `offset` of the mapping.
fn write_mapped(m: &Mapping, offset: usize, byte: u8) {
    let part = m.part(offset, 1);
    // SAFETY: a writable byte of a mapping the target keeps for good.
    unsafe { std::ptr::write_volatile(part.ptr(), byte) };
}

/// A new file `path` holding `bytes`, open O_RDWR (closed when dropped).
fn new_file(path: &str, bytes: &[u8]) -> Result<std::fs::File, String> {
    std::fs::write(path, bytes).map_err(|e| format!("write {path}: {e}"))?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))
}

fn unlink(path: &str) -> Check {
    std::fs::remove_file(path).map_err(|e| format!("unlink {path}: {e}"))
}

/// `dev` as /proc/PID/maps prints it.
fn maps_dev(dev: libc::dev_t) -> String {
    format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev))
}

/// The bytes and metadata of the file a mapping maps, opened anew through
/// /proc/self/map_files.
fn mapped_file(m: &Mapping) -> Result<(Vec<u8>, std::fs::Metadata), String> {
    let path = format!(
        "/proc/self/map_files/{:x}-{:x}",
        m.addr(),
        m.addr() + m.len()
    );
    let bytes = std::fs::read(&path).map_err(|e| format!("read {path}: {e}"))?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok((bytes, meta))
}

fn setup(top: String) -> Result<Maps, String> {
    let dir = format!("{top}/maps");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;

    let s_path = format!("{dir}/s");
    open_at(
        &s_path,
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        0o600,
        S_FD,
    )?;
    let pattern: Vec<u8> = (0..S_PAGES * PAGE).map(byte_pattern).collect();
    pwrite_all(S_FD, &pattern, 0)?;
    let s = mmap(S_PAGES * PAGE, rw, libc::MAP_SHARED, S_FD, 0)?;
    write_mapped(&s, S_WRITTEN, !byte_pattern(S_WRITTEN));
    unlink(&s_path)?;

    let p_path = format!("{dir}/p");
    let file = new_file(&p_path, &file_pages(P_SEED, P_PAGES))?;
    let p = mmap(P_PAGES * PAGE, rw, libc::MAP_PRIVATE, file.as_raw_fd(), 0)?;
    drop(file);
    p.page(P_WRITTEN).fill(P_WRITE_SEED);
    p.page(P_READ)
        .check(P_SEED + P_READ as u64, "P's page read")?;
    unlink(&p_path)?;

    let r_path = format!("{dir}/r");
    let file = new_file(&r_path, &file_pages(R_SEED, R_PAGES))?;
    let fd = file.as_raw_fd();
    let r1 = mmap(R1_PAGES * PAGE, libc::PROT_READ, libc::MAP_PRIVATE, fd, 0)?;
    let r2 = mmap(PAGE, libc::PROT_READ, libc::MAP_PRIVATE, fd, R2_PAGE * PAGE)?;
    drop(file);
    unlink(&r_path)?;

    let maps = Maps {
        dev: maps_dev(fstat(S_FD)?.st_dev),
        top,
        dir,
        s,
        p,
        r1,
        r2,
    };
    check_files(&maps)?;
    Ok(maps)
}

/// Checks the mappings' lines in /proc/self/maps, their bytes and their files; changes
/// nothing.
fn check_files(m: &Maps) -> Check {
    let dir_dev = std::fs::metadata(&m.dir)
        .map_err(|e| format!("stat {}: {e}", m.dir))?
        .dev();
    check_eq(
        "the directory's device",
        maps_dev(dir_dev as libc::dev_t),
        m.dev.clone(),
    )?;
    let mut inodes = Vec::new();
    for l in m.lines() {
        let addr = l.map.addr();
        let e: MapsEntry =
            maps_entry(addr).ok_or_else(|| format!("{}: nothing mapped at {addr:#x}", l.what))?;
        check_eq(
            format_args!(
                "{}'s range, protection and offset in /proc/self/maps",
                l.what
            ),
            (e.start, e.end, e.perms.as_str(), e.offset),
            (addr, addr + l.map.len(), l.perms, l.offset),
        )?;
        check_eq(
            format_args!("{}'s device in /proc/self/maps", l.what),
            e.dev.clone(),
            m.dev.clone(),
        )?;
        if !e.name.starts_with(&format!("{}/", m.dir)) || !e.name.ends_with(" (deleted)") {
            return Err(format!(
                "{}'s path in /proc/self/maps is {:?}, should be \"{}/... (deleted)\"",
                l.what, e.name, m.dir
            ));
        }
        inodes.push(e.inode);
    }
    let [s_ino, p_ino, r1_ino, r2_ino] = inodes[..] else {
        return Err("four mappings expected".into());
    };
    let st = fstat(S_FD)?;
    check_eq(
        "the inode of S's mapping, against its fd's",
        s_ino,
        st.st_ino,
    )?;
    check_eq(
        "the inode of R's second mapping, against its first's",
        r2_ino,
        r1_ino,
    )?;
    let mut distinct = vec![s_ino, p_ino, r1_ino];
    distinct.sort_unstable();
    distinct.dedup();
    check_eq("distinct inodes of S, P and R", distinct.len(), 3)?;

    check_eq("S's link count", st.st_nlink, 0)?;
    check_eq("S's size", st.st_size, (S_PAGES * PAGE) as i64)?;
    let link = std::fs::read_link(format!("/proc/self/fd/{S_FD}"))
        .map_err(|e| format!("readlink of /proc/self/fd/{S_FD}: {e}"))?;
    let link = link.to_string_lossy();
    if !link.starts_with(&format!("{}/", m.dir)) || !link.ends_with(" (deleted)") {
        return Err(format!(
            "S's fd's path is {link:?}, should be \"{}/... (deleted)\"",
            m.dir
        ));
    }
    let mapped = read_mapped(&m.s, 0, S_PAGES * PAGE);
    let read = pread_exact(S_FD, S_PAGES * PAGE, 0)?;
    if mapped != read {
        let i = mapped.iter().zip(&read).position(|(a, b)| a != b);
        return Err(format!(
            "S's bytes through its mapping differ from pread() on its fd, first at byte {i:?}"
        ));
    }
    let want = s_bytes();
    check_eq(
        "S's byte written through the mapping",
        read[S_WRITTEN],
        want[S_WRITTEN],
    )?;
    check_byte_pattern("S's", &read[..S_WRITTEN], 0)?;
    check_byte_pattern("S's", &read[S_WRITTEN + 1..], S_WRITTEN + 1)?;

    for n in 0..P_PAGES {
        match n {
            P_WRITTEN => m.p.page(n).check(P_WRITE_SEED, "P's written page")?,
            _ => {
                m.p.page(n)
                    .check(P_SEED + n as u64, &format!("P's page {n}"))?
            }
        }
    }
    for n in 0..R1_PAGES {
        let what = format!("R's first mapping, page {n}");
        m.r1.page(n).check(R_SEED + n as u64, &what)?;
    }
    m.r2.page(0)
        .check(R_SEED + R2_PAGE as u64, "R's second mapping")?;

    for (what, map, seed, pages) in [
        ("P's file", &m.p, P_SEED, P_PAGES),
        ("R's file", &m.r1, R_SEED, R_PAGES),
    ] {
        let (bytes, meta) = mapped_file(map)?;
        let what = format!("{what}, read through /proc/self/map_files");
        check_file_pages(&bytes, seed, pages, &what)?;
        check_eq(format_args!("{what}: its link count"), meta.nlink(), 0)?;
    }
    check_empty_dir(&m.dir)
}

fn check_restored(m: &Maps) -> Check {
    check_files(m)?;

    // S's mapping and fd share one inode: a write through either is read through the other.
    let byte = !byte_pattern(S_MAP_WRITE);
    write_mapped(&m.s, S_MAP_WRITE, byte);
    check_eq(
        "S's byte read with pread() after a write through the mapping",
        pread_exact(S_FD, 1, S_MAP_WRITE)?,
        vec![byte],
    )?;
    let byte = !byte_pattern(S_FD_WRITE);
    pwrite_all(S_FD, &[byte], S_FD_WRITE)?;
    check_eq(
        "S's byte read through the mapping after a pwrite() on the fd",
        read_mapped(&m.s, S_FD_WRITE, 1),
        vec![byte],
    )?;

    // P's pages are its own: a write reads back and leaves the file alone.
    m.p.page(P_LATE).fill(P_LATE_SEED);
    m.p.page(P_LATE)
        .check(P_LATE_SEED, "P's page written after the restart")?;
    m.p.page(P_WRITTEN).check(
        P_WRITE_SEED,
        "P's page written before the checkpoint, after another write",
    )?;
    let (bytes, _) = mapped_file(&m.p)?;
    check_file_pages(
        &bytes,
        P_SEED,
        P_PAGES,
        "P's file after private writes, read through /proc/self/map_files",
    )?;

    check_empty_dir(&m.dir)?;
    for dir in [&m.dir, &m.top] {
        std::fs::remove_dir(dir).map_err(|e| format!("rmdir {dir}: {e}"))?;
    }
    Ok(())
}

fn main() {
    let top = scratch_dir();
    let mut target = Target::spawn(move || {
        let maps = setup(top)?;
        Ok(move || {
            wait_restored();
            check_restored(&maps)
        })
    });
    // One byte short of the files' sizes: refused before the image. Exactly their sizes: each
    // file counted once (S by its fd and its mapping, R by its two mappings).
    if !dry_run() {
        target.save_unlinked(SIZES - 1);
        let result = target.try_checkpoint(KILL);
        target.expect_checkpoint_errno(
            result,
            libc::EFBIG,
            &format!(
                "checkpoint of {SIZES} bytes of mapped deleted files with unlinked_max {}",
                SIZES - 1
            ),
        );
        if !target.klog().iter().any(|l| l.contains("CKPT_UNLINKED")) {
            target.fail("no kernel log line of the EFBIG refusal says CKPT_UNLINKED");
        }
        target.expect_asleep(Duration::from_millis(200));
    }
    target.save_unlinked(SIZES);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("mappings of deleted files (MAP_SHARED with its fd open, MAP_PRIVATE with a written page and its fd closed, two read-only MAP_PRIVATE ones of one file at two offsets) come back at their addresses with their protections and offsets on files made again unlinked in their directory, each file counted once in unlinked_max; the shared mapping shares its inode with the fd both ways, the private one keeps its written page and shows the file elsewhere");
}
