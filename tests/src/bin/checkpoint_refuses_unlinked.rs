//! Deleted files (and files made with O_TMPFILE) that checkpoint cannot save, without
//! `CKPT_UNLINKED` or even with it, are refused, each target running on with its file as it
//! was:
//!
//! - without `CKPT_UNLINKED`, a deleted file and an O_TMPFILE one held by an fd: EOPNOTSUPP,
//!   with a log line naming the fd and `CKPT_UNLINKED`, before the first byte of the image;
//! - without `CKPT_UNLINKED`, a deleted file only mapped MAP_SHARED, and one only mapped
//!   MAP_PRIVATE with a page written (both fds closed: an fd would be refused first, by fd):
//!   EOPNOTSUPP, with a log line naming the mapping and `CKPT_UNLINKED`, before the first byte
//!   of the image (with it, both are saved: see `restore_unlinked_maps`);
//! - with it, deleted files whose sizes (holes included, each inode once however many files
//!   and fds open it; a named file not counted) are one byte more than the most the caller
//!   allows: EFBIG, with a log line naming `CKPT_UNLINKED`, before the first byte of the
//!   image. With exactly their sizes allowed the same target is checkpointed (and runs on);
//! - a deleted name of a file that has another (hard) link: EOPNOTSUPP, with a log line
//!   naming the fd and the "hard link", before the first byte of the image;
//! - a deleted file the test holds too, taken with pidfd_getfd() (the same open file), or
//!   opened anew through /proc/PID/fd (a file of its own), also with
//!   `CKPT_UNSHARE_OPEN_FILES`: its bytes are storage shared with the test, which restart could
//!   not share again: EOPNOTSUPP with a log line saying so.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use cr_tests::mem::mmap;
use cr_tests::outside::{expect_refused_while_used, take_fd};
use cr_tests::target::scratch_dir;
use cr_tests::{
    check_eq, check_os, cstring, fstat, log_names, open_at, pass, pread_exact, reopen_at,
    wait_restored, write_all, Check, Target, KILL, NO_KILL,
};

/// Where each target keeps its file.
const FD: RawFd = 40;
/// More than any target's deleted files hold.
const UNLINKED_MAX: u64 = 64 << 20;
const PAGE: usize = 4096;
const MIB: usize = 1 << 20;
const HELLO: &[u8] = b"hello";

/// The directory the targets make their files in: [`scratch_dir`], named by the test before
/// it spawns them (a target has another pid).
static DIR: OnceLock<String> = OnceLock::new();

/// The targets' directory, made if it is not there: each [`Target`] removes it when it is
/// done.
fn dir() -> Result<&'static str, String> {
    let dir = DIR.get().ok_or("no directory named")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    Ok(dir)
}

/// `name` in the targets' directory.
fn path(name: &str) -> Result<String, String> {
    Ok(format!("{}/{name}", dir()?))
}

fn unlink(path: &str) -> Check {
    std::fs::remove_file(path).map_err(|e| format!("unlink {path}: {e}"))
}

fn ftruncate(fd: RawFd, len: usize) -> Check {
    // SAFETY: ftruncate of an fd number; no memory involved.
    let r = unsafe { libc::ftruncate(fd, len as libc::off_t) };
    check_os(r, format_args!("ftruncate of fd {fd} to {len}"))
}

/// A file made as `name` in the directory, holding `bytes`, open O_RDWR at `fd`, then
/// deleted.
fn deleted_at(name: &str, bytes: &[u8], fd: RawFd) -> Check {
    let path = path(name)?;
    open_at(
        &path,
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        0o600,
        fd,
    )?;
    write_all(fd, bytes)?;
    unlink(&path)
}

/// A file made with O_TMPFILE (linkable) in the directory, holding `bytes`, at `fd`.
fn tmpfile_at(bytes: &[u8], fd: RawFd) -> Check {
    open_at(dir()?, libc::O_TMPFILE | libc::O_RDWR, 0o600, fd)?;
    write_all(fd, bytes)
}

/// A deleted file holding "hello" at [`FD`].
fn deleted() -> Check {
    deleted_at("deleted", HELLO, FD)
}

/// An O_TMPFILE file holding "hello" at [`FD`].
fn tmpfile() -> Check {
    tmpfile_at(HELLO, FD)
}

/// The file at [`FD`] still holds "hello", deleted.
fn still_hello() -> Check {
    check_eq(
        "the file's bytes",
        pread_exact(FD, HELLO.len(), 0)?,
        HELLO.to_vec(),
    )?;
    check_eq("the file's link count", fstat(FD)?.st_nlink, 0)
}

/// A file with a second name: made as "x", linked as "y", opened as "x" at [`FD`], "x"
/// deleted. The fd's name is deleted, its inode is not.
fn hard_linked() -> Check {
    let (x, y) = (path("x")?, path("y")?);
    std::fs::write(&x, HELLO).map_err(|e| format!("write {x}: {e}"))?;
    std::fs::hard_link(&x, &y).map_err(|e| format!("link {x} to {y}: {e}"))?;
    open_at(&x, libc::O_RDWR, 0o600, FD)?;
    unlink(&x)
}

/// The file still holds "hello" and is the one named "y", with its one link.
fn still_hard_linked() -> Check {
    check_eq(
        "the file's bytes",
        pread_exact(FD, HELLO.len(), 0)?,
        HELLO.to_vec(),
    )?;
    let y = path("y")?;
    let named = std::fs::metadata(&y).map_err(|e| format!("stat {y}: {e}"))?;
    let st = fstat(FD)?;
    check_eq(
        "the fd's inode and link count, against y's",
        (st.st_ino, st.st_nlink),
        (std::os::unix::fs::MetadataExt::ino(&named), 1),
    )
}

/// A deleted file X of a page, open at FD, FD + 1 (a second file, through /proc/self/fd) and
/// FD + 2 (a dup); a deleted file Y of 1 MiB, all hole, at FD + 3; an O_TMPFILE file Z of 100
/// bytes at FD + 4; a named file of 2 MiB (all hole) at FD + 5, which does not count.
const X_LEN: usize = PAGE;
const Y_LEN: usize = MIB;
const Z_LEN: usize = 100;
const NAMED_LEN: usize = 2 * MIB;
/// The sizes of the deleted files, each once.
const SIZES: u64 = (X_LEN + Y_LEN + Z_LEN) as u64;

fn sized() -> Check {
    deleted_at("x", &[b'x'; X_LEN], FD)?;
    reopen_at(FD, libc::O_RDONLY, FD + 1)?;
    // SAFETY: dup2 of fds of our own.
    check_os(unsafe { libc::dup2(FD, FD + 2) }, "dup2")?;
    deleted_at("y", &[], FD + 3)?;
    ftruncate(FD + 3, Y_LEN)?;
    tmpfile_at(&[b'z'; Z_LEN], FD + 4)?;
    let named = path("named")?;
    open_at(
        &named,
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        0o600,
        FD + 5,
    )?;
    ftruncate(FD + 5, NAMED_LEN)
}

fn still_sized() -> Check {
    let sizes: Vec<i64> = [FD, FD + 1, FD + 2, FD + 3, FD + 4, FD + 5]
        .iter()
        .map(|&fd| fstat(fd).map(|st| st.st_size))
        .collect::<Result<_, _>>()?;
    let want = [X_LEN, X_LEN, X_LEN, Y_LEN, Z_LEN, NAMED_LEN].map(|n| n as i64);
    check_eq("the sizes of the files of fds 40-45", sizes, want.to_vec())?;
    check_eq(
        "X's bytes",
        pread_exact(FD + 1, X_LEN, 0)?,
        vec![b'x'; X_LEN],
    )?;
    check_eq("Y's bytes", pread_exact(FD + 3, Y_LEN, 0)?, vec![0; Y_LEN])?;
    check_eq(
        "Z's bytes",
        pread_exact(FD + 4, Z_LEN, 0)?,
        vec![b'z'; Z_LEN],
    )
}

/// The address of a target's mapping of its deleted file.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// A deleted file of a page, "hello" first, mapped MAP_SHARED and writable; its fd closed.
fn mapped_shared() -> Check {
    deleted_at("shared", HELLO, FD)?;
    ftruncate(FD, PAGE)?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let m = mmap(PAGE, rw, libc::MAP_SHARED, FD, 0)?;
    MAPPED.store(m.addr(), Ordering::SeqCst);
    // SAFETY: our own fd, which nothing else uses; the mapping holds the file.
    check_os(unsafe { libc::close(FD) }, "close of the mapped file's fd")
}

/// The shared mapping still shows "hello" and writes to the file.
fn still_mapped_shared() -> Check {
    let p = MAPPED.load(Ordering::SeqCst) as *mut u8;
    // SAFETY: the target's shared mapping of a page, mapped for good.
    let got = unsafe { std::slice::from_raw_parts(p, HELLO.len()) }.to_vec();
    check_eq("the bytes of the shared mapping", got, HELLO.to_vec())?;
    // SAFETY: as above; writable.
    unsafe { std::ptr::copy_nonoverlapping(b"again".as_ptr(), p, 5) };
    // SAFETY: as above.
    let got = unsafe { std::slice::from_raw_parts(p, 5) }.to_vec();
    check_eq("the shared mapping after a write", got, b"again".to_vec())
}

/// A deleted file of a page, "hello" first, mapped MAP_PRIVATE, its first bytes written
/// through the mapping ("HELLO", a copy of the page of its own); its fd closed.
fn mapped_private() -> Check {
    deleted_at("private", HELLO, FD)?;
    ftruncate(FD, PAGE)?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let m = mmap(PAGE, rw, libc::MAP_PRIVATE, FD, 0)?;
    MAPPED.store(m.addr(), Ordering::SeqCst);
    // SAFETY: the mapping is a page long and writable.
    unsafe { std::ptr::copy_nonoverlapping(b"HELLO".as_ptr(), m.ptr(), 5) };
    // SAFETY: our own fd, which nothing else uses; the mapping holds the file.
    check_os(unsafe { libc::close(FD) }, "close of the mapped file's fd")
}

/// The private mapping keeps its copy, the file (opened through /proc/self/map_files) its
/// bytes, deleted.
fn still_mapped_private() -> Check {
    let addr = MAPPED.load(Ordering::SeqCst);
    // SAFETY: the target's private mapping of a page, mapped for good.
    let got = unsafe { std::slice::from_raw_parts(addr as *const u8, 5) }.to_vec();
    check_eq("the bytes of the private mapping", got, b"HELLO".to_vec())?;
    let path = format!("/proc/self/map_files/{addr:x}-{:x}", addr + PAGE);
    open_at(&path, libc::O_RDONLY, 0o600, FD)?;
    let r = still_hello();
    // SAFETY: the fd just opened, which nothing else uses.
    unsafe { libc::close(FD) };
    r
}

/// A target that ran `setup`, and runs `works` once woken.
fn spawn(setup: fn() -> Check, works: fn() -> Check) -> Target {
    Target::spawn(move || {
        setup()?;
        Ok(move || {
            wait_restored();
            works()
        })
    })
}

/// A checkpoint of `target` with [`KILL`] must fail with `errno` (`what` says of what) before
/// the first byte of its image, with a kernel log line that names each of `words` (as whole
/// words) and says `says`; the target sleeps on.
fn expect_refusal(target: &mut Target, errno: i32, what: &str, words: &[String], says: &str) {
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(result, errno, &format!("checkpoint of {what}"));
    let fits = |line: &String| {
        line.contains(says)
            && words
                .iter()
                .all(|w| log_names(std::slice::from_ref(line), w))
    };
    if !target.klog().iter().any(fits) {
        target.fail(format!(
            "no kernel log line names {words:?} and says {says:?}"
        ));
    }
    let written = std::fs::metadata(target.image_path())
        .map(|m| m.len())
        .unwrap_or(0);
    if written != 0 {
        target.fail(format!(
            "the refused checkpoint of {what} wrote {written} bytes of image"
        ));
    }
    target.expect_asleep(Duration::from_millis(200));
}

/// "pid N" and "fd 40" of `target`, for a log line to name.
fn pid_and_fd(target: &Target) -> Vec<String> {
    vec![format!("pid {}", target.pid()), format!("fd {FD}")]
}

/// Without `CKPT_UNLINKED`, a deleted file and an O_TMPFILE one are refused by fd, and the
/// log says which flag would save them.
fn refused_without_flag() {
    for (setup, what) in [
        (
            deleted as fn() -> Check,
            "a deleted file without CKPT_UNLINKED",
        ),
        (tmpfile, "an O_TMPFILE file without CKPT_UNLINKED"),
    ] {
        let mut target = spawn(setup, still_hello);
        let words = pid_and_fd(&target);
        expect_refusal(&mut target, libc::EOPNOTSUPP, what, &words, "CKPT_UNLINKED");
        target.finish();
    }
}

/// One byte more than the deleted files' sizes is EFBIG; their sizes are enough.
fn too_big() {
    let mut target = spawn(sized, still_sized);
    target.save_unlinked(SIZES - 1);
    let what = format!(
        "{SIZES} bytes of deleted files with unlinked_max {}",
        SIZES - 1
    );
    expect_refusal(&mut target, libc::EFBIG, &what, &[], "CKPT_UNLINKED");
    target.save_unlinked(SIZES);
    target.checkpoint(NO_KILL);
    target.finish();
}

fn refused_hard_link() {
    let mut target = spawn(hard_linked, still_hard_linked);
    target.save_unlinked(UNLINKED_MAX);
    let words = pid_and_fd(&target);
    expect_refusal(
        &mut target,
        libc::EOPNOTSUPP,
        "a deleted name of a file with another link",
        &words,
        "hard link",
    );
    target.finish();
}

/// Without `CKPT_UNLINKED`, a deleted file only mapped, shared or private, is refused by
/// mapping, and the log says which flag would save it.
fn refused_mappings_without_flag() {
    for (setup, works, what) in [
        (
            mapped_shared as fn() -> Check,
            still_mapped_shared as fn() -> Check,
            "a MAP_SHARED mapping of a deleted file without CKPT_UNLINKED",
        ),
        (
            mapped_private,
            still_mapped_private,
            "a written MAP_PRIVATE mapping of a deleted file without CKPT_UNLINKED",
        ),
    ] {
        let mut target = spawn(setup, works);
        // The static is at the same address in the forked target.
        let addr = target.peek_u64(MAPPED.as_ptr() as usize);
        let words = [
            format!("pid {}", target.pid()),
            format!("mapping {addr:#x}"),
        ];
        expect_refusal(&mut target, libc::EOPNOTSUPP, what, &words, "CKPT_UNLINKED");
        target.finish();
    }
}

/// The target's deleted file, opened anew by the test as a file of its own.
fn reopen(pid: libc::pid_t) -> Result<Vec<RawFd>, String> {
    let path = cstring(&format!("/proc/{pid}/fd/{FD}"))?;
    // SAFETY: opens a path of ours; the fd is the test's.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    check_os(fd, "open /proc/PID/fd")?;
    Ok(vec![fd])
}

fn refused_held_outside() {
    for flags in [KILL, KILL | abi::CKPT_UNSHARE_OPEN_FILES] {
        let mut target = spawn(deleted, still_hello);
        target.save_unlinked(UNLINKED_MAX);
        let taken = |pid| take_fd(pid, FD).map(|fd| vec![fd]);
        expect_refused_while_used(target, taken, flags, "shared with pid");

        let mut target = spawn(deleted, still_hello);
        target.save_unlinked(UNLINKED_MAX);
        expect_refused_while_used(target, reopen, flags, "also open outside the tree");
    }
}

fn main() {
    let _ = DIR.set(scratch_dir());
    refused_without_flag();
    refused_mappings_without_flag();
    too_big();
    refused_hard_link();
    refused_held_outside();
    pass("deleted and O_TMPFILE files are refused without CKPT_UNLINKED (by fd, or by mapping when only mapped, shared or private), and with it when they hold more than unlinked_max (EFBIG; exactly as much is saved), when the deleted name has another link, or when the test holds them too (also with CKPT_UNSHARE_OPEN_FILES), each by name, all but the last before the first byte of the image; the targets run on");
}
