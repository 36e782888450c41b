//! Memfds (memfd_create(2)) come back with their name, size, owner, mode, seals and bytes,
//! holes kept as holes, every file of them with its own flags and position, and their
//! mappings, shared with the memfd and between the processes again. The target and its child
//! (forked last, so it shares all of it) hold five memfds:
//!
//! - cr-data: 16 MiB, a pattern in its first 10 MiB, a hole, a page of pattern at 12 MiB, two
//!   pages of written zeros (data, not a hole) at 14 MiB and a hole to its end; owned by
//!   1000:1000, mode 0640, sealed F_SEAL_SHRINK | F_SEAL_GROW. Besides memfd_create()'s file
//!   it has two opened anew through /proc/self/fd: one read-only, one O_RDWR | O_APPEND |
//!   O_NONBLOCK and close-on-exec; each keeps its own position. Its first MiB is mapped
//!   MAP_SHARED (a page written through the mapping), 64 KiB at 8 MiB MAP_PRIVATE (a page
//!   written, copied on write, a page read, the others untouched);
//! - cr-sealed: a line of text sealed F_SEAL_WRITE | F_SEAL_SEAL, with a second, write-only
//!   file opened before the seal;
//! - cr-noexec: made with MFD_NOEXEC_SEAL: F_SEAL_EXEC, mode 0666;
//! - cr-future: a line of text sealed F_SEAL_FUTURE_WRITE, mapped read-only MAP_SHARED after
//!   the seal (a mapping that may never write);
//! - cr-plain: empty, made without MFD_ALLOW_SEALING (so F_SEAL_SEAL) and with MFD_CLOEXEC.
//!
//! Checked before the checkpoint and after the restart: every file's F_GETFL flags,
//! close-on-exec flag, position and path (`/memfd:NAME (deleted)`), one inode for the files
//! of one memfd and another for each memfd; each memfd's device, mode, owner, size, link
//! count, blocks and seals; cr-data's bytes and where SEEK_DATA and SEEK_HOLE find its data
//! runs; the mappings' /proc/self/maps lines (their inode the memfd's) and contents; and that
//! the seals hold: EPERM for ftruncate() beyond or below cr-data, for an O_APPEND write that
//! would grow it, for writes to cr-sealed (through either file) and cr-future, for
//! F_ADD_SEALS to cr-sealed and cr-plain, for fchmod() giving cr-noexec exec bits, and for a
//! writable MAP_SHARED mmap() of cr-sealed or cr-future; EACCES for mprotect() making the
//! read-only mapping of cr-future writable; EBADF for a write through the read-only file.
//!
//! After the restart the target also finds every page of the private mapping the file's but
//! the written one, and sees its pwrite()s of a read and an untouched page through it; adds
//! F_SEAL_SHRINK to cr-noexec (not sealed against sealing); moves cr-data's position, which
//! the child sees on its own fd (the same open file). The child sees the same, then writes a
//! page through its shared mapping, which the target reads through its own mapping and with
//! pread(); the target's pwrite() of another page shows in the child's mapping.

use std::os::fd::RawFd;

use cr_tests::mem::{check_words, fill_words, mmap, Mapping, PAGE};
use cr_tests::proc::{maps_entry, wait_status_text, MapsEntry};
use cr_tests::target::fork_checker;
use cr_tests::vm::reap_within_10s;
use cr_tests::{
    check_eq, check_fails, check_fd_flags, check_os, fd_position, fstat, memfd_at, pass, pipe_at,
    poll_in, pread_exact, pwrite_all, read_exact, reopen_at, seals, seek_fd, wait_restored,
    write_all, Check, Target,
};

/// cr-data as memfd_create() made it, and its two files opened anew.
const DATA: RawFd = 20;
const DATA_RO: RawFd = 21;
const DATA_APPEND: RawFd = 22;
/// cr-sealed, and its write-only file opened anew.
const SEALED: RawFd = 23;
const SEALED_W: RawFd = 24;
const NOEXEC: RawFd = 25;
const FUTURE: RawFd = 26;
const PLAIN: RawFd = 27;
/// The target's words to the child, and the child's to the target.
const GO_R: RawFd = 30;
const GO_W: RawFd = 31;
const BACK_R: RawFd = 32;
const BACK_W: RawFd = 33;
/// A file of cr-data the target opens to look for its data runs, and closes again.
const TEMP: RawFd = 40;

const MIB: usize = 1 << 20;
const SIZE: usize = 16 * MIB;
/// Pages 0..PATTERN_PAGES hold pattern `FILE_SEED + n`, and so does LONE_PAGE.
const PATTERN_PAGES: usize = 10 * MIB / PAGE;
const LONE_PAGE: usize = 12 * MIB / PAGE;
/// Zeros written with pwrite(): data, not a hole.
const ZEROS_AT: usize = 14 * MIB;
const ZEROS_LEN: usize = 2 * PAGE;
/// Where SEEK_DATA and SEEK_HOLE find cr-data's data: start and end of each run.
const RUNS: [(usize, usize); 3] = [
    (0, PATTERN_PAGES * PAGE),
    (LONE_PAGE * PAGE, LONE_PAGE * PAGE + PAGE),
    (ZEROS_AT, ZEROS_AT + ZEROS_LEN),
];
const FILE_SEED: u64 = 1000;

/// The shared mapping: cr-data's first MiB. A page written through it before the checkpoint,
/// one the child writes through its own after the restart, one the target pwrite()s.
const SHARED_LEN: usize = MIB;
const SHARED_WRITTEN: usize = 3;
const SHARED_SEED: u64 = 5000;
const CHILD_WRITES: usize = 7;
const CHILD_SEED: u64 = 6000;
const TARGET_WRITES: usize = 8;
const TARGET_SEED: u64 = 6100;

/// The private mapping: 16 pages of cr-data at 8 MiB. One written before the checkpoint,
/// one read, one untouched; after the restart the target pwrite()s the file under the read
/// and the untouched ones.
const PRIVATE_AT: usize = 8 * MIB;
const PRIVATE_PAGES: usize = 16;
const PRIVATE_WRITTEN: usize = 2;
const PRIVATE_SEED: u64 = 7000;
const PRIVATE_READ: usize = 5;
const PRIVATE_UNTOUCHED: usize = 9;
const LATE_SEED: u64 = 8000;

const DATA_POS: i64 = 12345;
const RO_POS: i64 = 777_777;
const APPEND_POS: i64 = 4242;
const SEALED_W_POS: i64 = 3;
/// cr-data's position once the target moved it after the restart.
const NEW_POS: i64 = 54321;
const OWNER: u32 = 1000;
const DATA_MODE: u32 = 0o640;

const SEALED_TEXT: &[u8] = b"sealed: no more writes\n";
const NOEXEC_TEXT: &[u8] = b"#!/bin/sh\necho never run\n";
const FUTURE_TEXT: &[u8] = b"no writes from now on\n";

const DATA_SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
const SEALED_SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;

/// Each memfd's first fd, name and seals.
const MEMFDS: [(RawFd, &str, libc::c_int); 5] = [
    (DATA, "cr-data", DATA_SEALS),
    (SEALED, "cr-sealed", SEALED_SEALS),
    (NOEXEC, "cr-noexec", libc::F_SEAL_EXEC),
    (FUTURE, "cr-future", libc::F_SEAL_FUTURE_WRITE),
    (PLAIN, "cr-plain", libc::F_SEAL_SEAL),
];

/// A file of a memfd: its fd, the memfd's first fd, its access mode, O_APPEND and O_NONBLOCK,
/// and its close-on-exec flag.
struct Opened {
    fd: RawFd,
    of: RawFd,
    flags: libc::c_int,
    cloexec: bool,
}

const fn opened(fd: RawFd, of: RawFd, flags: libc::c_int, cloexec: bool) -> Opened {
    Opened {
        fd,
        of,
        flags,
        cloexec,
    }
}

const FILES: [Opened; 8] = [
    opened(DATA, DATA, libc::O_RDWR, false),
    opened(DATA_RO, DATA, libc::O_RDONLY, false),
    opened(
        DATA_APPEND,
        DATA,
        libc::O_RDWR | libc::O_APPEND | libc::O_NONBLOCK,
        true,
    ),
    opened(SEALED, SEALED, libc::O_RDWR, false),
    opened(SEALED_W, SEALED, libc::O_WRONLY, false),
    opened(NOEXEC, NOEXEC, libc::O_RDWR, false),
    opened(FUTURE, FUTURE, libc::O_RDWR, false),
    opened(PLAIN, PLAIN, libc::O_RDWR, true),
];

fn name_of(fd: RawFd) -> &'static str {
    MEMFDS.iter().find(|m| m.0 == fd).map_or("?", |m| m.1)
}

/// What fstat() says of a memfd, but its inode number: device, mode, owner, group, size, link
/// count and blocks.
type Stat = (u64, u32, u32, u32, i64, u64, i64);

#[derive(Clone)]
struct Before {
    /// F_GETFL and the position of each of [`FILES`].
    flags: Vec<libc::c_int>,
    positions: Vec<i64>,
    /// Of each of [`MEMFDS`].
    stats: Vec<Stat>,
    shared: Mapping,
    private: Mapping,
    future: Mapping,
    /// The /proc/self/maps lines of the three mappings.
    maps: Vec<MapsEntry>,
}

impl Before {
    fn mappings(&self) -> [(Mapping, RawFd); 3] {
        [
            (self.shared, DATA),
            (self.private, DATA),
            (self.future, FUTURE),
        ]
    }
}

fn stat_of(fd: RawFd) -> Result<Stat, String> {
    let st = fstat(fd)?;
    Ok((
        st.st_dev,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_nlink,
        st.st_blocks,
    ))
}

fn add_seals(fd: RawFd, seals: libc::c_int) -> Check {
    // SAFETY: fcntl on an fd number; no memory involved.
    let r = unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) };
    check_os(r, format_args!("F_ADD_SEALS {seals:#x} to {}", name_of(fd)))
}

/// A page of pattern `seed`.
fn pattern_page(seed: u64) -> Vec<u8> {
    let mut words = vec![0u64; PAGE / 8];
    fill_words(&mut words, seed);
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// The seed of the pattern page `n` of cr-data holds before the restart; `None` for zeros
/// (a hole, or the zeros written at [`ZEROS_AT`]).
fn data_page(n: usize) -> Option<u64> {
    match n {
        SHARED_WRITTEN => Some(SHARED_SEED + n as u64),
        n if n < PATTERN_PAGES || n == LONE_PAGE => Some(FILE_SEED + n as u64),
        _ => None,
    }
}

/// `Err` unless `bytes` (a page) hold pattern `seed`, or zeros for `None`.
fn check_page(bytes: &[u8], seed: Option<u64>, what: &str) -> Check {
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or_default()))
        .collect();
    match seed {
        Some(seed) => check_words(&words, seed, what),
        None => match words.iter().position(|&w| w != 0) {
            None => Ok(()),
            Some(i) => Err(format!("{what}: word {i} is {:#x}, expected 0", words[i])),
        },
    }
}

/// Where SEEK_DATA and SEEK_HOLE find the data of the memfd of `fd`: each run's start and
/// end. Moves the position of `fd`.
fn data_runs(fd: RawFd) -> Result<Vec<(usize, usize)>, String> {
    let mut runs = Vec::new();
    let mut pos = 0;
    loop {
        // SAFETY: lseek on an fd number; no memory involved.
        let start = unsafe { libc::lseek(fd, pos, libc::SEEK_DATA) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        if start < 0 && errno == Some(libc::ENXIO) {
            return Ok(runs);
        }
        check_os(start, format_args!("SEEK_DATA from {pos}"))?;
        // SAFETY: as above.
        let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        check_os(end, format_args!("SEEK_HOLE from {start}"))?;
        runs.push((start as usize, end as usize));
        pos = end;
    }
}

/// Checks every file of `FILES`: its flags as `b` has them and as it was opened, its position
/// (cr-data's first file at `data_pos`), its path, and its inode: its memfd's, no other's.
fn check_files(b: &Before, data_pos: i64) -> Check {
    for (i, f) in FILES.iter().enumerate() {
        let want = if f.fd == DATA {
            data_pos
        } else {
            b.positions[i]
        };
        check_eq(
            format_args!("fd {}'s position", f.fd),
            fd_position(f.fd)?,
            want,
        )?;
        // SAFETY: F_GETFL takes no pointer.
        let got = unsafe { libc::fcntl(f.fd, libc::F_GETFL) };
        check_os(got, format_args!("F_GETFL of fd {}", f.fd))?;
        check_eq(
            format_args!("fd {}'s access mode, O_APPEND and O_NONBLOCK", f.fd),
            got & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK),
            f.flags,
        )?;
        check_fd_flags(f.fd, b.flags[i], f.cloexec)?;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", f.fd))
            .map_err(|e| format!("readlink of fd {}: {e}", f.fd))?;
        check_eq(
            format_args!("fd {}'s path", f.fd),
            link.to_string_lossy().into_owned(),
            format!("/memfd:{} (deleted)", name_of(f.of)),
        )?;
        check_eq(
            format_args!("fd {}'s inode, against fd {}'s", f.fd, f.of),
            fstat(f.fd)?.st_ino,
            fstat(f.of)?.st_ino,
        )?;
    }
    let mut inodes = Vec::new();
    for (fd, ..) in MEMFDS {
        inodes.push(fstat(fd)?.st_ino);
    }
    inodes.sort_unstable();
    inodes.dedup();
    check_eq(
        "distinct inodes of the five memfds",
        inodes.len(),
        MEMFDS.len(),
    )
}

/// Checks the memfds, their bytes and the mappings, touching no page of the private mapping
/// but the written and the read one.
fn check_memfds(b: &Before) -> Check {
    for (i, &(fd, name, want)) in MEMFDS.iter().enumerate() {
        check_eq(
            format_args!("{name}'s device, mode, owner, group, size, links and blocks"),
            stat_of(fd)?,
            b.stats[i],
        )?;
        check_eq(format_args!("{name}'s seals"), seals(fd)?, want)?;
    }
    let st = fstat(DATA)?;
    check_eq(
        "cr-data's mode, owner and group",
        (st.st_mode, st.st_uid, st.st_gid),
        (libc::S_IFREG | DATA_MODE, OWNER, OWNER),
    )?;
    check_eq("cr-data's size", st.st_size, SIZE as i64)?;
    check_eq(
        "cr-noexec's permission bits",
        fstat(NOEXEC)?.st_mode & 0o7777,
        0o666,
    )?;
    check_eq("cr-plain's size", fstat(PLAIN)?.st_size, 0)?;
    for (fd, text) in [
        (SEALED, SEALED_TEXT),
        (NOEXEC, NOEXEC_TEXT),
        (FUTURE, FUTURE_TEXT),
    ] {
        check_eq(
            format_args!("{}'s bytes", name_of(fd)),
            pread_exact(fd, text.len(), 0)?,
            text.to_vec(),
        )?;
        check_eq(
            format_args!("{}'s size", name_of(fd)),
            fstat(fd)?.st_size,
            text.len() as i64,
        )?;
    }

    for at in (0..SIZE).step_by(MIB) {
        let bytes = pread_exact(DATA_RO, MIB, at)?;
        for (i, page) in bytes.chunks_exact(PAGE).enumerate() {
            let n = at / PAGE + i;
            check_page(page, data_page(n), &format!("cr-data's page {n}"))?;
        }
    }
    reopen_at(DATA, libc::O_RDONLY, TEMP)?;
    let runs = data_runs(TEMP);
    // SAFETY: our own fd.
    unsafe { libc::close(TEMP) };
    check_eq(
        "cr-data's data runs (SEEK_DATA, SEEK_HOLE)",
        runs?,
        RUNS.to_vec(),
    )?;

    for ((m, fd), was) in b.mappings().into_iter().zip(&b.maps) {
        let want = MapsEntry {
            inode: fstat(fd)?.st_ino,
            ..was.clone()
        };
        check_eq(
            format_args!("the /proc/self/maps line of {:#x}", m.addr()),
            maps_entry(m.addr()),
            Some(want),
        )?;
    }
    for n in 0..SHARED_LEN / PAGE {
        let seed = data_page(n).ok_or("a hole under the shared mapping")?;
        b.shared
            .page(n)
            .check(seed, &format!("page {n} of the shared mapping"))?;
    }
    let written = b.private.page(PRIVATE_WRITTEN);
    let seed = PRIVATE_SEED + PRIVATE_WRITTEN as u64;
    written.check(seed, "the written page of the private mapping")?;
    let seed = FILE_SEED + (PRIVATE_AT / PAGE + PRIVATE_READ) as u64;
    let read = b.private.page(PRIVATE_READ);
    read.check(seed, "the read page of the private mapping")?;
    // SAFETY: the mapping is a page long, readable, and mapped for good.
    let future = unsafe { std::slice::from_raw_parts(b.future.ptr(), PAGE) };
    let mut want = FUTURE_TEXT.to_vec();
    want.resize(PAGE, 0);
    check_eq("cr-future through its mapping", future, &want[..])
}

/// `Err` unless a MAP_SHARED, writable mmap() of `fd` fails with EPERM.
fn no_writable_map(fd: RawFd) -> Check {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a new mapping at an address the kernel picks, unmapped at once if made.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), PAGE, rw, libc::MAP_SHARED, fd, 0) };
    if p != libc::MAP_FAILED {
        // SAFETY: the mapping just made, which nothing uses.
        unsafe { libc::munmap(p, PAGE) };
    }
    let ret = if p == libc::MAP_FAILED { -1 } else { 0 };
    check_fails(
        ret,
        libc::EPERM,
        format_args!("a writable MAP_SHARED mmap() of {}", name_of(fd)),
    )
}

/// Checks that the seals hold (and the read-only file is one), changing nothing.
fn check_seals_hold(b: &Before) -> Check {
    let x = b"x".as_ptr().cast();
    let (grown, shrunk) = ((SIZE + PAGE) as libc::off_t, (SIZE - PAGE) as libc::off_t);
    // SAFETY: calls on fd numbers; writes from a literal; mprotect of our own mapping, which
    // stays as it is when the call fails as it must.
    unsafe {
        let r = libc::ftruncate(DATA, grown);
        check_fails(r, libc::EPERM, "ftruncate() beyond cr-data (F_SEAL_GROW)")?;
        let r = libc::ftruncate(DATA, shrunk);
        check_fails(r, libc::EPERM, "ftruncate() below cr-data (F_SEAL_SHRINK)")?;
        let r = libc::write(DATA_APPEND, x, 1) as i64;
        check_fails(
            r,
            libc::EPERM,
            "an O_APPEND write() to cr-data (F_SEAL_GROW)",
        )?;
        let r = libc::pwrite(DATA_RO, x, 1, 0) as i64;
        check_fails(r, libc::EBADF, "pwrite() through cr-data's read-only file")?;
        let r = libc::write(SEALED, x, 1) as i64;
        check_fails(r, libc::EPERM, "write() to cr-sealed (F_SEAL_WRITE)")?;
        let r = libc::pwrite(SEALED, x, 1, 0) as i64;
        check_fails(r, libc::EPERM, "pwrite() to cr-sealed (F_SEAL_WRITE)")?;
        let r = libc::write(SEALED_W, x, 1) as i64;
        check_fails(
            r,
            libc::EPERM,
            "write() through cr-sealed's write-only file",
        )?;
        let r = libc::fcntl(SEALED, libc::F_ADD_SEALS, libc::F_SEAL_GROW);
        check_fails(r, libc::EPERM, "F_ADD_SEALS to cr-sealed (F_SEAL_SEAL)")?;
        let r = libc::fcntl(PLAIN, libc::F_ADD_SEALS, libc::F_SEAL_WRITE);
        check_fails(
            r,
            libc::EPERM,
            "F_ADD_SEALS to cr-plain (no MFD_ALLOW_SEALING)",
        )?;
        let r = libc::fchmod(NOEXEC, 0o755);
        check_fails(r, libc::EPERM, "fchmod() 0755 of cr-noexec (F_SEAL_EXEC)")?;
        let r = libc::write(FUTURE, x, 1) as i64;
        check_fails(r, libc::EPERM, "write() to cr-future (F_SEAL_FUTURE_WRITE)")?;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let r = libc::mprotect(b.future.ptr().cast(), PAGE, rw);
        check_fails(
            r,
            libc::EACCES,
            "mprotect() making cr-future's read-only shared mapping writable",
        )?;
    }
    no_writable_map(SEALED)?;
    no_writable_map(FUTURE)
}

/// Waits up to 10 s for a word on `fd` from the other process, `what`.
fn expect_word(fd: RawFd, what: &str) -> Check {
    if poll_in(fd, 10_000)? == 0 {
        return Err(format!("no word within 10 s: {what}"));
    }
    read_exact(fd, 1)
        .map(drop)
        .map_err(|e| format!("{e}: no word {what}: its checks failed (its log says which)"))
}

fn pwrite_page(n: usize, seed: u64) -> Check {
    pwrite_all(DATA, &pattern_page(seed), n * PAGE)
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    memfd_at("cr-data", libc::MFD_ALLOW_SEALING | libc::MFD_EXEC, DATA)?;
    // SAFETY: ftruncate of our own fd.
    let r = unsafe { libc::ftruncate(DATA, SIZE as libc::off_t) };
    check_os(r, "ftruncate of cr-data")?;
    let pattern: Vec<u8> = (0..PATTERN_PAGES)
        .flat_map(|n| pattern_page(FILE_SEED + n as u64))
        .collect();
    pwrite_all(DATA, &pattern, 0)?;
    pwrite_page(LONE_PAGE, FILE_SEED + LONE_PAGE as u64)?;
    pwrite_all(DATA, &[0; ZEROS_LEN], ZEROS_AT)?;
    reopen_at(DATA, libc::O_RDONLY, DATA_RO)?;
    let append = libc::O_RDWR | libc::O_APPEND | libc::O_NONBLOCK | libc::O_CLOEXEC;
    reopen_at(DATA, append, DATA_APPEND)?;
    // SAFETY: fchown and fchmod of our own fd.
    unsafe {
        check_os(libc::fchown(DATA, OWNER, OWNER), "fchown of cr-data")?;
        check_os(libc::fchmod(DATA, DATA_MODE), "fchmod of cr-data")?;
    }
    add_seals(DATA, DATA_SEALS)?;
    seek_fd(DATA, DATA_POS)?;
    seek_fd(DATA_RO, RO_POS)?;
    seek_fd(DATA_APPEND, APPEND_POS)?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let shared = mmap(SHARED_LEN, rw, libc::MAP_SHARED, DATA, 0)?;
    shared
        .page(SHARED_WRITTEN)
        .fill(SHARED_SEED + SHARED_WRITTEN as u64);
    let private = mmap(
        PRIVATE_PAGES * PAGE,
        rw,
        libc::MAP_PRIVATE,
        DATA,
        PRIVATE_AT,
    )?;
    private
        .page(PRIVATE_WRITTEN)
        .fill(PRIVATE_SEED + PRIVATE_WRITTEN as u64);

    memfd_at(
        "cr-sealed",
        libc::MFD_ALLOW_SEALING | libc::MFD_EXEC,
        SEALED,
    )?;
    write_all(SEALED, SEALED_TEXT)?;
    reopen_at(SEALED, libc::O_WRONLY, SEALED_W)?;
    seek_fd(SEALED_W, SEALED_W_POS)?;
    add_seals(SEALED, SEALED_SEALS)?;
    memfd_at("cr-noexec", libc::MFD_NOEXEC_SEAL, NOEXEC)?;
    pwrite_all(NOEXEC, NOEXEC_TEXT, 0)?;
    memfd_at(
        "cr-future",
        libc::MFD_ALLOW_SEALING | libc::MFD_EXEC,
        FUTURE,
    )?;
    pwrite_all(FUTURE, FUTURE_TEXT, 0)?;
    add_seals(FUTURE, libc::F_SEAL_FUTURE_WRITE)?;
    // Made after the seal: it may never write.
    let future = mmap(PAGE, libc::PROT_READ, libc::MAP_SHARED, FUTURE, 0)?;
    memfd_at("cr-plain", libc::MFD_CLOEXEC | libc::MFD_EXEC, PLAIN)?;
    pipe_at(GO_R, GO_W, 0)?;
    pipe_at(BACK_R, BACK_W, 0)?;

    let mut b = Before {
        flags: Vec::new(),
        positions: Vec::new(),
        stats: Vec::new(),
        shared,
        private,
        future,
        maps: Vec::new(),
    };
    for f in &FILES {
        // SAFETY: F_GETFL takes no pointer.
        b.flags.push(unsafe { libc::fcntl(f.fd, libc::F_GETFL) });
        b.positions.push(fd_position(f.fd)?);
    }
    for (fd, ..) in MEMFDS {
        b.stats.push(stat_of(fd)?);
    }
    for (m, _) in b.mappings() {
        let entry = maps_entry(m.addr()).ok_or("a memfd mapping is not in /proc/self/maps")?;
        b.maps.push(entry);
    }
    check_files(&b, DATA_POS)?;
    check_memfds(&b)?;
    check_seals_hold(&b)?;

    let kid = {
        let b = b.clone();
        fork_checker(move || child(&b))?
    };
    // SAFETY: the child's ends, closed here so that either sees the other end.
    unsafe {
        libc::close(GO_R);
        libc::close(BACK_W);
    }
    Ok(move || {
        wait_restored();
        check(&b, kid)
    })
}

/// In the target, after the restart.
fn check(b: &Before, kid: libc::pid_t) -> Check {
    check_files(b, DATA_POS)?;
    check_memfds(b)?;
    check_seals_hold(b)?;

    for n in 0..PRIVATE_PAGES {
        let page = b.private.page(n);
        match n {
            PRIVATE_WRITTEN => page.check(PRIVATE_SEED + n as u64, "the written private page"),
            _ => page.check(
                FILE_SEED + (PRIVATE_AT / PAGE + n) as u64,
                &format!("page {n} of the private mapping, not written"),
            ),
        }?;
    }
    for n in [PRIVATE_READ, PRIVATE_UNTOUCHED] {
        let seed = LATE_SEED + n as u64;
        pwrite_page(PRIVATE_AT / PAGE + n, seed)?;
        let what = format!("page {n} of the private mapping, not written, once the file changed");
        b.private.page(n).check(seed, &what)?;
    }
    let seed = PRIVATE_SEED + PRIVATE_WRITTEN as u64;
    let what = "the written private page, once the file under the others changed";
    b.private.page(PRIVATE_WRITTEN).check(seed, what)?;

    add_seals(NOEXEC, libc::F_SEAL_SHRINK)?;
    let both = libc::F_SEAL_EXEC | libc::F_SEAL_SHRINK;
    check_eq("cr-noexec's seals, one added", seals(NOEXEC)?, both)?;

    seek_fd(DATA, NEW_POS)?;
    write_all(GO_W, b"g")?;
    expect_word(BACK_R, "from the child after its checks and its write")?;
    let seed = CHILD_SEED + CHILD_WRITES as u64;
    let what = "the page the child wrote through its shared mapping, in the target's";
    b.shared.page(CHILD_WRITES).check(seed, what)?;
    let page = pread_exact(DATA, PAGE, CHILD_WRITES * PAGE)?;
    let what = "the page the child wrote through its shared mapping, read with pread()";
    check_page(&page, Some(seed), what)?;
    pwrite_page(TARGET_WRITES, TARGET_SEED + TARGET_WRITES as u64)?;
    write_all(GO_W, b"g")?;
    let status = reap_within_10s(kid)?;
    check_eq("the child", wait_status_text(status), wait_status_text(0))
}

/// In the child: asleep in its read of the target's word across the checkpoint and the
/// restart; then its checks, its write, and its check of the target's write.
fn child(b: &Before) -> Check {
    // SAFETY: the target's ends, closed here so that either sees the other end.
    unsafe {
        libc::close(GO_W);
        libc::close(BACK_R);
    }
    read_exact(GO_R, 1)?;
    check_files(b, NEW_POS)?;
    for (fd, name, want) in MEMFDS {
        let want = match fd {
            NOEXEC => want | libc::F_SEAL_SHRINK,
            _ => want,
        };
        check_eq(
            format_args!("{name}'s seals, in the child"),
            seals(fd)?,
            want,
        )?;
    }
    for n in 0..SHARED_LEN / PAGE {
        let seed = data_page(n).ok_or("a hole under the shared mapping")?;
        let what = format!("page {n} of the child's shared mapping");
        b.shared.page(n).check(seed, &what)?;
    }
    for n in 0..PRIVATE_PAGES {
        let seed = match n {
            PRIVATE_WRITTEN => PRIVATE_SEED + n as u64,
            PRIVATE_READ | PRIVATE_UNTOUCHED => LATE_SEED + n as u64,
            _ => FILE_SEED + (PRIVATE_AT / PAGE + n) as u64,
        };
        let what = format!("page {n} of the child's private mapping");
        b.private.page(n).check(seed, &what)?;
    }
    b.shared
        .page(CHILD_WRITES)
        .fill(CHILD_SEED + CHILD_WRITES as u64);
    write_all(BACK_W, b"w")?;
    expect_word(GO_R, "from the target after its write")?;
    let seed = TARGET_SEED + TARGET_WRITES as u64;
    let what = "the page the target wrote with pwrite(), in the child's shared mapping";
    b.shared.page(TARGET_WRITES).check(seed, what)
}

fn main() {
    let mut target = Target::spawn(setup);
    target.restart_with_children_asleep(1, "for the child to sleep in its read");
    target.finish();
    pass("memfds come back with their names, sizes, owners, modes, seals, bytes and holes, every file with its flags and position, their shared mappings shared with the memfd and between the processes, their private ones with their own pages");
}
