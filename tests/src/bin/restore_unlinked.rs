//! Regular files deleted while open, and files made with O_TMPFILE, come back with
//! `CKPT_UNLINKED`: made again, unlinked, in the directory they were deleted from, with their
//! size, bytes (holes kept as holes), mode and owner, every fd of one file on one new inode
//! with its flags and position. In a directory of its own the target holds:
//!
//! - A: 10 MiB of a pattern, a 2 MiB hole, a page of 0x5a at 12 MiB and a hole to its end
//!   (12 MiB + 8292 bytes), owned by 1000:1001, mode 0640; open O_RDWR at 12345, a dup of that
//!   fd, and a second file O_RDONLY | O_NOATIME at 5 MiB; then deleted;
//! - B: made again under A's name once A was deleted: 100 bytes, held O_WRONLY | O_APPEND,
//!   then deleted;
//! - C: made with O_TMPFILE (linkable), holding "tmp";
//! - D: made with O_TMPFILE | O_EXCL (never linkable), holding "x", its fd close-on-exec;
//! - E: empty, held O_RDWR | O_NONBLOCK | O_DSYNC, deleted.
//!
//! Checked before the checkpoint and after the restart: each file's mode, owner, size, link
//! count (0) and blocks as before the checkpoint (A's mode, owner and size, and the others'
//! sizes, as made), a regular file on the directory's device; A's three fds on one inode, the
//! other files each on its own; each fd's access mode and status flags, close-on-exec flag,
//! position, and path (`<dir>/... (deleted)`); A's bytes, read with pread() through its
//! read-only fd, B's through /proc/self/fd, C's and D's; the directory empty. After the
//! restart a position set through A's first fd shows through its dup and not through its
//! read-only file, a byte written through the first is read through the read-only one, a
//! write through B's fd lands at its end (O_APPEND); C can be linked into the directory
//! through /proc/self/fd (the link holds "tmp", C has one link until it is removed), A, B, D
//! and E cannot (ENOENT); then the target removes the directory, which the files it holds do
//! not keep.

use std::os::fd::RawFd;

use cr_tests::target::scratch_dir;
use cr_tests::{
    byte_pattern, check_byte_pattern, check_empty_dir, check_eq, check_fails, check_os, cstring,
    fd_position, fstat, open_at, pass, pread_exact, pwrite_all, seek_fd, wait_restored, write_all,
    Check, Target, KILL,
};

/// A's file opened O_RDWR, its dup, and its second file, opened O_RDONLY | O_NOATIME.
const A_RW: RawFd = 20;
const A_RO: RawFd = 21;
const A_DUP: RawFd = 22;
const B: RawFd = 23;
const C: RawFd = 24;
const D: RawFd = 25;
const E: RawFd = 26;

const MIB: usize = 1 << 20;
const PAGE: usize = 4096;
/// A holds [`byte_pattern`] up to `PATTERN_END`, a hole, a page of `PAGE_BYTE` at
/// `LONE_PAGE`, a hole to `A_SIZE`.
const PATTERN_END: usize = 10 * MIB;
const LONE_PAGE: usize = 12 * MIB;
const PAGE_BYTE: u8 = 0x5a;
const A_SIZE: usize = 12 * MIB + 8192 + 100;
const A_MODE: u32 = 0o640;
const A_UID: libc::uid_t = 1000;
const A_GID: libc::gid_t = 1001;
const A_RW_POS: i64 = 12345;
const A_RO_POS: i64 = 5 * MIB as i64;
const B_BYTES: [u8; 100] = [b'b'; 100];
const C_BYTES: &[u8] = b"tmp";
const D_BYTES: &[u8] = b"x";
/// Where the target moves A's first fd after the restart.
const NEW_POS: i64 = 777;
/// Each file's first fd, its name in messages and its size.
const FILES: [(RawFd, &str, usize); 5] = [
    (A_RW, "A", A_SIZE),
    (B, "B", B_BYTES.len()),
    (C, "C", C_BYTES.len()),
    (D, "D", D_BYTES.len()),
    (E, "E", 0),
];
/// The files that may not be given a name again: deleted, or made with O_EXCL.
const UNLINKABLE: [RawFd; 4] = [A_RW, B, D, E];
/// The most bytes the files may have in all, for the checkpoint: far more than they have.
const UNLINKED_MAX: u64 = 64 << 20;

/// The kernel's O_LARGEFILE on x86-64, which it sets on every open (libc's is 0 there).
const O_LARGEFILE: libc::c_int = 0o100000;
/// The status flags that restart keeps, with the access mode.
const KEPT: libc::c_int = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_NOATIME
    | O_LARGEFILE
    | libc::O_DSYNC
    | libc::O_SYNC;

/// An fd: its number, its file's first fd, the flags of [`KEPT`] it was opened with (less
/// O_LARGEFILE), whether it is close-on-exec, and its position.
struct Fd {
    fd: RawFd,
    of: RawFd,
    flags: libc::c_int,
    cloexec: bool,
    pos: i64,
}

const fn fd(fd: RawFd, of: RawFd, flags: libc::c_int, cloexec: bool, pos: i64) -> Fd {
    Fd {
        fd,
        of,
        flags,
        cloexec,
        pos,
    }
}

const FDS: [Fd; 7] = [
    fd(A_RW, A_RW, libc::O_RDWR, false, A_RW_POS),
    fd(
        A_RO,
        A_RW,
        libc::O_RDONLY | libc::O_NOATIME,
        false,
        A_RO_POS,
    ),
    fd(A_DUP, A_RW, libc::O_RDWR, false, A_RW_POS),
    fd(
        B,
        B,
        libc::O_WRONLY | libc::O_APPEND,
        false,
        B_BYTES.len() as i64,
    ),
    fd(C, C, libc::O_RDWR, false, C_BYTES.len() as i64),
    fd(D, D, libc::O_RDWR, true, D_BYTES.len() as i64),
    fd(
        E,
        E,
        libc::O_RDWR | libc::O_NONBLOCK | libc::O_DSYNC,
        false,
        0,
    ),
];

fn name_of(fd: RawFd) -> &'static str {
    FILES.iter().find(|f| f.0 == fd).map_or("?", |f| f.1)
}

/// What fstat() says of a file but its device and inode: mode, owner, group, size, link count
/// and blocks.
type Stat = (u32, u32, u32, i64, u64, i64);

struct Before {
    /// The scratch directory, and the directory in it that the files were deleted from.
    top: String,
    dir: String,
    /// The directory's device.
    dev: u64,
    /// Of each of [`FILES`].
    stats: Vec<Stat>,
}

fn unlink(path: &str) -> Check {
    std::fs::remove_file(path).map_err(|e| format!("unlink {path}: {e}"))
}

fn stat(path: &str) -> Result<libc::stat, String> {
    let c = cstring(path)?;
    // SAFETY: a zeroed stat is valid for stat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string; fills `st`.
    let r = unsafe { libc::stat(c.as_ptr(), &mut st) };
    check_os(r, format_args!("stat {path}"))?;
    Ok(st)
}

fn stat_of(st: &libc::stat) -> Stat {
    (
        st.st_mode,
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_nlink,
        st.st_blocks,
    )
}

/// linkat() of the file of `fd`, through /proc/self/fd, to `path`: its result, for
/// [`check_os`] or [`check_fails`] right after.
fn link_fd(fd: RawFd, path: &str) -> Result<libc::c_int, String> {
    let from = cstring(&format!("/proc/self/fd/{fd}"))?;
    let to = cstring(path)?;
    // SAFETY: two valid C strings.
    Ok(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
}

/// `Err` naming the first byte of `got`, which starts at byte `from` of its file, that is not
/// `byte`.
fn check_filled(what: &str, got: &[u8], from: usize, byte: u8) -> Check {
    match got.iter().position(|&b| b != byte) {
        Some(i) => Err(format!(
            "{what}: byte {} is {:#x}, should be {byte:#x}",
            from + i,
            got[i]
        )),
        None => Ok(()),
    }
}

fn setup(top: String) -> Result<Before, String> {
    let dir = format!("{top}/unlinked");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let name = format!("{dir}/same");
    let excl = libc::O_CREAT | libc::O_EXCL;

    open_at(&name, excl | libc::O_RDWR, 0o600, A_RW)?;
    let pattern: Vec<u8> = (0..PATTERN_END).map(byte_pattern).collect();
    pwrite_all(A_RW, &pattern, 0)?;
    drop(pattern);
    pwrite_all(A_RW, &[PAGE_BYTE; PAGE], LONE_PAGE)?;
    // SAFETY: ftruncate, fchown, fchmod and dup2 of fds of our own.
    unsafe {
        check_os(libc::ftruncate(A_RW, A_SIZE as libc::off_t), "ftruncate A")?;
        check_os(libc::fchown(A_RW, A_UID, A_GID), "fchown A")?;
        check_os(libc::fchmod(A_RW, A_MODE), "fchmod A")?;
        check_os(libc::dup2(A_RW, A_DUP), "dup2 of A")?;
    }
    open_at(&name, libc::O_RDONLY | libc::O_NOATIME, 0, A_RO)?;
    seek_fd(A_RW, A_RW_POS)?;
    seek_fd(A_RO, A_RO_POS)?;
    unlink(&name)?;

    open_at(&name, excl | libc::O_WRONLY | libc::O_APPEND, 0o604, B)?;
    write_all(B, &B_BYTES)?;
    unlink(&name)?;

    open_at(&dir, libc::O_TMPFILE | libc::O_RDWR, 0o660, C)?;
    write_all(C, C_BYTES)?;
    let flags = libc::O_TMPFILE | libc::O_RDWR | libc::O_EXCL | libc::O_CLOEXEC;
    open_at(&dir, flags, 0o400, D)?;
    write_all(D, D_BYTES)?;

    let empty = format!("{dir}/empty");
    let flags = excl | libc::O_RDWR | libc::O_NONBLOCK | libc::O_DSYNC;
    open_at(&empty, flags, 0o751, E)?;
    unlink(&empty)?;

    let before = Before {
        dev: stat(&dir)?.st_dev,
        stats: FILES
            .iter()
            .map(|f| fstat(f.0).map(|st| stat_of(&st)))
            .collect::<Result<_, _>>()?,
        top,
        dir,
    };
    check_files(&before)?;
    Ok(before)
}

/// Checks the files, their fds and their bytes against `b` and what they were made with;
/// changes nothing.
fn check_files(b: &Before) -> Check {
    check_eq("the directory's device", stat(&b.dir)?.st_dev, b.dev)?;
    let mut inodes = Vec::new();
    for (i, &(fd, name, size)) in FILES.iter().enumerate() {
        let st = fstat(fd)?;
        check_eq(
            format_args!("{name}'s file type"),
            st.st_mode & libc::S_IFMT,
            libc::S_IFREG,
        )?;
        check_eq(format_args!("{name}'s link count"), st.st_nlink, 0)?;
        check_eq(format_args!("{name}'s size"), st.st_size, size as i64)?;
        check_eq(
            format_args!("{name}'s device, against the directory's"),
            st.st_dev,
            b.dev,
        )?;
        check_eq(
            format_args!("{name}'s mode, owner, group, size, link count and blocks"),
            stat_of(&st),
            b.stats[i],
        )?;
        inodes.push(st.st_ino);
    }
    let a = fstat(A_RW)?;
    check_eq(
        "A's mode, owner and group",
        (a.st_mode & 0o7777, a.st_uid, a.st_gid),
        (A_MODE, A_UID, A_GID),
    )?;
    inodes.sort_unstable();
    inodes.dedup();
    check_eq(
        "distinct inodes of the five files",
        inodes.len(),
        FILES.len(),
    )?;

    for f in &FDS {
        let (st, of) = (fstat(f.fd)?, fstat(f.of)?);
        check_eq(
            format_args!("fd {}'s device and inode, against fd {}'s", f.fd, f.of),
            (st.st_dev, st.st_ino),
            (of.st_dev, of.st_ino),
        )?;
        // SAFETY: F_GETFL and F_GETFD take no pointer.
        let (flags, fd_flags) = unsafe {
            (
                libc::fcntl(f.fd, libc::F_GETFL),
                libc::fcntl(f.fd, libc::F_GETFD),
            )
        };
        check_os(flags.min(fd_flags), format_args!("fcntl of fd {}", f.fd))?;
        check_eq(
            format_args!(
                "fd {}'s access mode and O_APPEND, O_NONBLOCK, O_NOATIME, O_LARGEFILE, \
                 O_DSYNC and O_SYNC ({:#o} of F_GETFL {flags:#o})",
                f.fd, KEPT
            ),
            flags & KEPT,
            f.flags | O_LARGEFILE,
        )?;
        check_eq(
            format_args!("fd {}'s close-on-exec flag", f.fd),
            fd_flags & libc::FD_CLOEXEC != 0,
            f.cloexec,
        )?;
        check_eq(
            format_args!("fd {}'s position", f.fd),
            fd_position(f.fd)?,
            f.pos,
        )?;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", f.fd))
            .map_err(|e| format!("readlink of /proc/self/fd/{}: {e}", f.fd))?;
        let link = link.to_string_lossy();
        if !link.starts_with(&format!("{}/", b.dir)) || !link.ends_with(" (deleted)") {
            return Err(format!(
                "fd {}'s path (of {}) is {link:?}, should be \"{}/... (deleted)\"",
                f.fd,
                name_of(f.of),
                b.dir
            ));
        }
    }

    let bytes = pread_exact(A_RO, A_SIZE, 0)?;
    check_byte_pattern("A's", &bytes[..PATTERN_END], 0)?;
    let hole = &bytes[PATTERN_END..LONE_PAGE];
    check_filled("A's hole after the pattern", hole, PATTERN_END, 0)?;
    let page = &bytes[LONE_PAGE..LONE_PAGE + PAGE];
    check_filled("A's page at 12 MiB", page, LONE_PAGE, PAGE_BYTE)?;
    let tail = &bytes[LONE_PAGE + PAGE..];
    check_filled("A's hole to its end", tail, LONE_PAGE + PAGE, 0)?;
    let path = format!("/proc/self/fd/{B}");
    let got = std::fs::read(&path).map_err(|e| format!("read {path}: {e}"))?;
    check_eq(
        "B's bytes, read through /proc/self/fd",
        got,
        B_BYTES.to_vec(),
    )?;
    check_eq(
        "C's bytes",
        pread_exact(C, C_BYTES.len(), 0)?,
        C_BYTES.to_vec(),
    )?;
    check_eq(
        "D's bytes",
        pread_exact(D, D_BYTES.len(), 0)?,
        D_BYTES.to_vec(),
    )?;
    check_empty_dir(&b.dir)
}

fn check_restored(b: &Before) -> Check {
    check_files(b)?;

    // A's first fd and its dup share one open file, the read-only fd has its own.
    seek_fd(A_RW, NEW_POS)?;
    check_eq("the position of A's dup", fd_position(A_DUP)?, NEW_POS)?;
    check_eq(
        "the position of A's read-only file",
        fd_position(A_RO)?,
        A_RO_POS,
    )?;
    // And both files are of one inode.
    pwrite_all(A_RW, b"Z", 0)?;
    check_eq(
        "A's first byte, read through the read-only file after a pwrite() through the other",
        pread_exact(A_RO, 1, 0)?,
        b"Z".to_vec(),
    )?;

    seek_fd(B, 0)?;
    write_all(B, b"+")?;
    check_eq(
        "B's position after an O_APPEND write",
        fd_position(B)?,
        B_BYTES.len() as i64 + 1,
    )?;
    let path = format!("/proc/self/fd/{B}");
    let got = std::fs::read(&path).map_err(|e| format!("read {path}: {e}"))?;
    check_eq(
        "B's bytes after an O_APPEND write",
        got,
        [&B_BYTES[..], b"+"].concat(),
    )?;

    let linked = format!("{}/linked", b.dir);
    check_os(
        link_fd(C, &linked)?,
        format_args!("linkat of C to {linked}"),
    )?;
    let st = stat(&linked)?;
    check_eq(
        "the inode linked from C, against C's",
        (st.st_dev, st.st_ino),
        (fstat(C)?.st_dev, fstat(C)?.st_ino),
    )?;
    check_eq("C's link count once linked", fstat(C)?.st_nlink, 1)?;
    let got = std::fs::read(&linked).map_err(|e| format!("read {linked}: {e}"))?;
    check_eq("the bytes of the file linked from C", got, C_BYTES.to_vec())?;
    unlink(&linked)?;
    check_eq("C's link count once unlinked", fstat(C)?.st_nlink, 0)?;
    for fd in UNLINKABLE {
        let r = link_fd(fd, &linked)?;
        check_fails(
            r,
            libc::ENOENT,
            format_args!("linkat of {} (fd {fd}) to {linked}", name_of(fd)),
        )?;
    }

    check_empty_dir(&b.dir)?;
    for dir in [&b.dir, &b.top] {
        std::fs::remove_dir(dir).map_err(|e| format!("rmdir {dir}: {e}"))?;
    }
    Ok(())
}

fn main() {
    let top = scratch_dir();
    let mut target = Target::spawn(move || {
        let before = setup(top)?;
        Ok(move || {
            wait_restored();
            check_restored(&before)
        })
    });
    target.save_unlinked(UNLINKED_MAX);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("deleted files (one of 12 MiB with holes, with three fds, two of them dup'ed; another made later under its name; an empty one) and O_TMPFILE files (linkable, and made with O_EXCL) come back unlinked in their directory with their sizes, bytes, modes, owners, fds, flags and positions; the O_TMPFILE one made without O_EXCL alone can be linked");
}
