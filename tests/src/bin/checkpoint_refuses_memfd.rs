//! Memfds that restart could not make again as they are, or whose bytes the checkpointer may
//! not read, are refused with EOPNOTSUPP and a log line saying why, and the target runs on with
//! its memfd as it was:
//!
//! - a memfd file that the test holds too (taken with pidfd_getfd()), also with
//!   `CKPT_UNSHARE_OPEN_FILES`: the file would come back unshared, but its memfd is memory
//!   shared with the test;
//! - a memfd that the test opened anew through /proc/PID/fd: a file of its own of the same
//!   memfd;
//! - a memfd the target only maps (MAP_SHARED, its fd closed) while the test has it open anew
//!   through the target's mapping (/proc/PID/map_files): a file of its own of the memfd. Also
//!   with `CKPT_UNSHARE_OPEN_FILES`, which accepts open files coming back unshared, but a
//!   memfd is memory shared with the test;
//! - a memfd sealed F_SEAL_FUTURE_WRITE while a writable MAP_SHARED mapping of it, made before
//!   the seal, still writes to it (a mapping made anew could not: mmap() gives EPERM);
//! - a memfd of mode 0200 that the target holds only through a write-only file, checkpointed
//!   by a checkpointer that may not read it: the target's parent, uid 1000 like the target and
//!   with no capabilities (ptrace rights, all checkpoint asks, need no more: Yama lets such a
//!   process ptrace its descendants);
//! - a memfd with an inode flag set by FS_IOC_SETFLAGS (chattr): FS_NOATIME_FL, and
//!   FS_APPEND_FL, each if the ioctl sets it on a memfd here (a kernel whose tmpfs takes no
//!   inode flags does not run the case, which the test notes on stderr);
//! - a memfd of huge pages (MFD_HUGETLB), if memfd_create() makes one here: the guest's kernel
//!   may have no hugetlbfs, which the test then notes on stderr.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use cr_tests::outside::{refused_while_used, take_fd};
use cr_tests::{
    check_eq, check_fails, check_os, describe_errno, exit_code, fail, memfd_at, pass, pread_exact,
    reopen_at, seals, write_all, Check, Child, Refusal, KILL,
};

/// Where each target keeps its memfd.
const FD: RawFd = 40;
/// Where the write-only target keeps the write-only file of its memfd.
const WRITE_ONLY_FD: RawFd = 41;
const PAGE: usize = 4096;

/// The user of the write-only case's target and checkpointer.
const USER: libc::uid_t = 1000;

/// The inode flags of <linux/fs.h> that tmpfs takes.
const FS_APPEND_FL: libc::c_int = 0x20;
const FS_NOATIME_FL: libc::c_int = 0x80;

fn held() -> Check {
    memfd_at("cr-held", 0, FD)?;
    write_all(FD, b"hello")
}

fn still_hello() -> Check {
    check_eq(
        "the memfd's bytes",
        pread_exact(FD, 5, 0)?,
        b"hello".to_vec(),
    )
}

/// The target's memfd, opened anew by the test as a file of its own.
fn reopen(pid: libc::pid_t) -> Result<Vec<RawFd>, String> {
    let path = std::ffi::CString::new(format!("/proc/{pid}/fd/{FD}")).unwrap_or_default();
    // SAFETY: opens a path of ours; the fd is the test's.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    check_os(fd, "open /proc/PID/fd")?;
    Ok(vec![fd])
}

/// The address of the target's writable shared mapping of its memfd.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

fn future_write() -> Check {
    memfd_at("cr-future", libc::MFD_ALLOW_SEALING, FD)?;
    // SAFETY: ftruncate of our own fd.
    check_os(
        unsafe { libc::ftruncate(FD, PAGE as libc::off_t) },
        "ftruncate",
    )?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let m = cr_tests::mem::mmap(PAGE, rw, libc::MAP_SHARED, FD, 0)?;
    MAPPED.store(m.addr(), Ordering::SeqCst);
    // SAFETY: the mapping is a page long, writable, and mapped for good.
    unsafe { std::ptr::copy_nonoverlapping(b"hello".as_ptr(), m.ptr(), 5) };
    // SAFETY: fcntl on our own fd.
    let r = unsafe { libc::fcntl(FD, libc::F_ADD_SEALS, libc::F_SEAL_FUTURE_WRITE) };
    check_os(r, "F_ADD_SEALS F_SEAL_FUTURE_WRITE")
}

/// The seal holds for write(), and the mapping made before it still writes.
fn future_write_works() -> Check {
    check_eq("the seals", seals(FD)?, libc::F_SEAL_FUTURE_WRITE)?;
    // SAFETY: writes from a literal to our own fd.
    let r = unsafe { libc::write(FD, b"x".as_ptr().cast(), 1) };
    check_fails(r as i64, libc::EPERM, "write() to the sealed memfd")?;
    let p = MAPPED.load(Ordering::SeqCst) as *mut u8;
    // SAFETY: the target's writable shared mapping of a page, mapped for good.
    unsafe { std::ptr::copy_nonoverlapping(b"again".as_ptr(), p, 5) };
    check_eq(
        "the memfd's bytes after a write through its mapping",
        pread_exact(FD, 5, 0)?,
        b"again".to_vec(),
    )
}

fn huge() -> Check {
    memfd_at("cr-huge", libc::MFD_HUGETLB, FD)
}

fn still_huge() -> Check {
    let link = std::fs::read_link(format!("/proc/self/fd/{FD}"))
        .map_err(|e| format!("readlink of fd {FD}: {e}"))?;
    let link = link.to_string_lossy().into_owned();
    check_eq("the memfd's path", &link[..], "/memfd:cr-huge (deleted)")
}

/// The name of the memfd the target only maps, as the target's maps show its mapping.
const MAPPED_NAME: &str = "/memfd:cr-mapped (deleted)";

/// A memfd the target maps shared and writable, then closes its fd of: only the mapping holds
/// it.
fn mapped_only() -> Check {
    memfd_at("cr-mapped", 0, FD)?;
    write_all(FD, b"hello")?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let m = cr_tests::mem::mmap(PAGE, rw, libc::MAP_SHARED, FD, 0)?;
    MAPPED.store(m.addr(), Ordering::SeqCst);
    // SAFETY: our own fd, which nothing else uses.
    check_os(unsafe { libc::close(FD) }, "close of the mapped memfd's fd")
}

/// The fd stays closed and the mapping still shows the memfd's bytes.
fn still_mapped() -> Check {
    // SAFETY: F_GETFD takes no pointer.
    let r = unsafe { libc::fcntl(FD, libc::F_GETFD) };
    check_fails(
        r,
        libc::EBADF,
        "F_GETFD of the closed fd of the mapped memfd",
    )?;
    let p = MAPPED.load(Ordering::SeqCst) as *const u8;
    // SAFETY: the target's shared mapping of a page, mapped for good; the memfd holds 5 bytes.
    let got = unsafe { std::slice::from_raw_parts(p, 5) }.to_vec();
    check_eq("the bytes of the memfd's mapping", got, b"hello".to_vec())
}

/// The memfd the target only maps, opened anew by the test through
/// `/proc/PID/map_files/START-END` of the mapping: a file of its own of it.
fn open_mapped(pid: libc::pid_t) -> Result<Vec<RawFd>, String> {
    let maps = format!("/proc/{pid}/maps");
    let text = std::fs::read_to_string(&maps).map_err(|e| format!("read {maps}: {e}"))?;
    let range = text
        .lines()
        .find(|l| l.ends_with(MAPPED_NAME))
        .and_then(|l| l.split(' ').next())
        .and_then(|r| r.split_once('-'))
        .ok_or_else(|| format!("no mapping of {MAPPED_NAME} in {maps}:\n{text}"))?;
    let hex = |a: &str| usize::from_str_radix(a, 16).map_err(|e| format!("{maps}: {a}: {e}"));
    // map_files names a mapping by its bounds in unpadded hex.
    let (start, end) = (hex(range.0)?, hex(range.1)?);
    let path = format!("/proc/{pid}/map_files/{start:x}-{end:x}");
    let cpath = std::ffi::CString::new(path.clone()).unwrap_or_default();
    // SAFETY: opens a path of ours; the fd is the test's.
    let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY) };
    check_os(fd, format_args!("open {path}"))?;
    Ok(vec![fd])
}

/// A memfd of the target's own user with mode 0200, which the target holds only through a
/// file it opened write-only through /proc/self/fd: no process of that user may read it.
fn write_only() -> Check {
    memfd_at("cr-write-only", 0, FD)?;
    write_all(FD, b"hello")?;
    // SAFETY: fchmod of our own fd.
    check_os(
        unsafe { libc::fchmod(FD, 0o200) },
        "fchmod 0200 of the memfd",
    )?;
    reopen_at(FD, libc::O_WRONLY, WRITE_ONLY_FD)?;
    // SAFETY: our own fd, which nothing else uses.
    check_os(unsafe { libc::close(FD) }, "close of the memfd's first fd")
}

/// The memfd is still the user's, of mode 0200 and its 5 bytes, held write-only.
fn still_write_only() -> Check {
    // SAFETY: F_GETFD takes no pointer.
    let r = unsafe { libc::fcntl(FD, libc::F_GETFD) };
    check_fails(r, libc::EBADF, "F_GETFD of the memfd's closed first fd")?;
    // SAFETY: a stat is plain integers, for which zeros are valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat into `st`.
    let r = unsafe { libc::fstat(WRITE_ONLY_FD, &mut st) };
    check_os(r, "fstat of the write-only memfd file")?;
    check_eq("the memfd's mode", st.st_mode & 0o7777, 0o200)?;
    check_eq("the memfd's owner", st.st_uid, USER)?;
    check_eq("the memfd's size", st.st_size, 5)?;
    let mut b = [0u8; 1];
    // SAFETY: reads at most one byte into `b`.
    let r = unsafe { libc::read(WRITE_ONLY_FD, b.as_mut_ptr().cast(), 1) };
    check_fails(r as i64, libc::EBADF, "read() of the write-only memfd file")?;
    write_all(WRITE_ONLY_FD, b"again")
}

/// Drops this process to uid and gid [`USER`], with no groups and so no capabilities, and
/// makes it dumpable again (changing uid made it not), so that the targets it forks, which
/// inherit that, are its to ptrace.
fn become_user() -> Check {
    // SAFETY: credential and prctl calls on this process; each result is checked.
    unsafe {
        check_os(libc::setgroups(0, std::ptr::null()), "setgroups")?;
        check_os(libc::setgid(USER), format_args!("setgid {USER}"))?;
        check_os(libc::setuid(USER), format_args!("setuid {USER}"))?;
        check_os(libc::prctl(libc::PR_SET_DUMPABLE, 1), "PR_SET_DUMPABLE")
    }
}

/// The write-only case, run by a child of the test as uid [`USER`]: it spawns the target,
/// which is thus its user's and its descendant, and checkpoints it. A refused checkpoint whose
/// log names the memfd is what a checkpointer that may not read its bytes must get.
fn write_only_as_user() {
    let checkpointer = Child::spawn(|| {
        if let Err(e) = become_user() {
            eprintln!("FAIL: {e}");
            return 1;
        }
        WRITE_ONLY.refused().finish();
        0
    });
    // The checkpointer reports its own failure on stderr, with the target's and kernel's logs.
    match exit_code(checkpointer.wait()) {
        0 => (),
        code => fail(format!("the checkpointer of uid {USER} exited with {code}")),
    }
}

/// FS_IOC_SETFLAGS of `flags` on the memfd at `fd`: the errno if it failed.
fn set_inode_flags(fd: RawFd, flags: libc::c_int) -> Result<(), i32> {
    // SAFETY: FS_IOC_SETFLAGS reads one int (whatever its number says).
    match unsafe { libc::ioctl(fd, libc::FS_IOC_SETFLAGS, &flags) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// A memfd holding "hello" with the inode flag `flag` set on it.
fn flagged(name: &str, flag: libc::c_int) -> Check {
    memfd_at(name, 0, FD)?;
    write_all(FD, b"hello")?;
    set_inode_flags(FD, flag).map_err(|e| {
        format!(
            "FS_IOC_SETFLAGS {flag:#x} of the memfd: {}",
            describe_errno(e)
        )
    })
}

/// The memfd still has `flag` and its bytes.
fn still_flagged(flag: libc::c_int) -> Check {
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one int (whatever its number says).
    let r = unsafe { libc::ioctl(FD, libc::FS_IOC_GETFLAGS, &mut flags) };
    check_os(r, "FS_IOC_GETFLAGS of the memfd")?;
    check_eq("the memfd's inode flag", flags & flag, flag)?;
    still_hello()
}

fn noatime() -> Check {
    flagged("cr-noatime", FS_NOATIME_FL)
}

fn still_noatime() -> Check {
    still_flagged(FS_NOATIME_FL)
}

fn append_only() -> Check {
    flagged("cr-append", FS_APPEND_FL)
}

fn still_append_only() -> Check {
    still_flagged(FS_APPEND_FL)
}

static WRITE_ONLY: Refusal = Refusal {
    setup: write_only,
    named: "neither its file nor the caller may read",
    works: still_write_only,
};

static NOATIME: Refusal = Refusal {
    setup: noatime,
    named: "inode flags",
    works: still_noatime,
};

static APPEND: Refusal = Refusal {
    setup: append_only,
    named: "inode flags",
    works: still_append_only,
};

static FUTURE_WRITE: Refusal = Refusal {
    setup: future_write,
    named: "F_SEAL_FUTURE_WRITE",
    works: future_write_works,
};

static HUGE: Refusal = Refusal {
    setup: huge,
    named: "huge pages",
    works: still_huge,
};

/// Errnos of a kernel that does not have what a case needs: `Err` with `errno` described if
/// it is one of `missing`; fails the test on any other, from `what`.
fn missing(errno: i32, missing: &[i32], what: &str) -> Result<(), String> {
    match missing.contains(&errno) {
        true => Err(describe_errno(errno)),
        false => fail(format!("{what}: {}", describe_errno(errno))),
    }
}

/// Whether memfd_create(MFD_HUGETLB) makes a memfd here; `Err` with the errno of a kernel
/// without hugetlbfs or huge pages, and fails the test on any other error.
fn huge_pages_here() -> Result<(), String> {
    // SAFETY: makes an fd from a literal, closed at once.
    let fd = unsafe { libc::memfd_create(c"cr-probe".as_ptr(), libc::MFD_HUGETLB) };
    if fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
        return Ok(());
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let absent = [
        libc::EINVAL,
        libc::ENOMEM,
        libc::ENOENT,
        libc::ENODEV,
        libc::ENOSYS,
    ];
    missing(errno, &absent, "memfd_create(MFD_HUGETLB)")
}

/// Whether FS_IOC_SETFLAGS sets `flag` on a memfd here; `Err` with the errno of a kernel
/// whose tmpfs takes no inode flags, or not this one, and fails the test on any other error.
fn inode_flag_here(flag: libc::c_int) -> Result<(), String> {
    // SAFETY: makes an fd from a literal.
    let fd = unsafe { libc::memfd_create(c"cr-probe".as_ptr(), 0) };
    check_os(fd, "memfd_create").unwrap_or_else(|e| fail(e));
    let r = set_inode_flags(fd, flag);
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    let absent = [libc::ENOTTY, libc::EOPNOTSUPP, libc::EINVAL];
    r.or_else(|e| missing(e, &absent, &format!("FS_IOC_SETFLAGS {flag:#x} of a memfd")))
}

fn main() {
    let taken = |pid| take_fd(pid, FD).map(|fd| vec![fd]);
    for flags in [KILL, KILL | abi::CKPT_UNSHARE_OPEN_FILES] {
        refused_while_used(held, still_hello, taken, flags, "shared with pid");
    }
    refused_while_used(
        held,
        still_hello,
        reopen,
        KILL,
        "the memfd is also open outside the tree",
    );
    for flags in [KILL, KILL | abi::CKPT_UNSHARE_OPEN_FILES] {
        refused_while_used(
            mapped_only,
            still_mapped,
            open_mapped,
            flags,
            "the memfd is also open outside the tree",
        );
    }
    FUTURE_WRITE.refused().finish();
    write_only_as_user();
    let mut flags = Vec::new();
    for (case, flag, name) in [
        (&NOATIME, FS_NOATIME_FL, "FS_NOATIME_FL"),
        (&APPEND, FS_APPEND_FL, "FS_APPEND_FL"),
    ] {
        match inode_flag_here(flag) {
            Ok(()) => {
                case.refused().finish();
                flags.push(name);
            }
            Err(e) => eprintln!(
                "note: FS_IOC_SETFLAGS {name} of a memfd fails here ({e}): its case is not run"
            ),
        }
    }
    let flags = match flags[..] {
        [] => String::new(),
        _ => format!("; a memfd with inode flag {}", flags.join(" or ")),
    };
    let huge = match huge_pages_here() {
        Ok(()) => {
            HUGE.refused().finish();
            "; a memfd of huge pages too"
        }
        Err(e) => {
            eprintln!(
                "note: memfd_create(MFD_HUGETLB) fails here ({e}): the huge pages case is not run"
            );
            ""
        }
    };
    pass(&format!("a memfd shared with the test (also with CKPT_UNSHARE_OPEN_FILES), opened anew by it, only mapped while the test opened it anew (also with CKPT_UNSHARE_OPEN_FILES), sealed F_SEAL_FUTURE_WRITE with a writable shared mapping, or held write-only and unreadable by its checkpointer of uid {USER} is refused by name{flags}{huge}; the targets run on"));
}
