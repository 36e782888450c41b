//! Open files survive checkpoint and restart with their numbers, flags and offsets: a file
//! open read-write at an offset, an O_APPEND file, a read-only one, two dup'ed fds sharing one
//! offset, a close-on-exec fd, a directory (openat and fchdir through it), /dev/null,
//! /dev/zero and the console; the cwd and the umask come back too.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;

use cr_tests::target::scratch_dir;
use cr_tests::{check_eq, check_os, os_error, pass, wait_restored, Check, Target, KILL};

const RW: libc::c_int = 10;
const APPEND: libc::c_int = 11;
const RDONLY: libc::c_int = 12;
const SHARED: libc::c_int = 13;
const SHARED_DUP: libc::c_int = 40;
const CLOEXEC: libc::c_int = 14;
const DIR: libc::c_int = 15;
const NULL: libc::c_int = 16;
const ZERO: libc::c_int = 17;
const CONSOLE: libc::c_int = 18;
const UMASK: libc::mode_t = 0o027;

const TEXT: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn open_at(path: &str, flags: libc::c_int, fd: libc::c_int) -> Check {
    let c = CString::new(path).map_err(|_| "NUL in a path".to_string())?;
    // SAFETY: open and dup3 on a valid C string and fd numbers of our own.
    unsafe {
        let got = libc::open(c.as_ptr(), flags, 0o644);
        check_os(got, format_args!("open {path}"))?;
        if got != fd {
            let cloexec = flags & libc::O_CLOEXEC;
            check_os(
                libc::dup3(got, fd, cloexec),
                format_args!("dup3 {path} to {fd}"),
            )?;
            libc::close(got);
        }
    }
    Ok(())
}

fn offset(fd: libc::c_int) -> i64 {
    // SAFETY: lseek on an fd number; no memory involved.
    unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
}

fn read_n(fd: libc::c_int, n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    // SAFETY: `buf` has room for `n` bytes.
    let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), n) };
    check_os(got as i64, format_args!("read fd {fd}"))?;
    buf.truncate(got as usize);
    Ok(buf)
}

fn write_all(fd: libc::c_int, bytes: &[u8]) -> Check {
    // SAFETY: `bytes` is valid for its length.
    let got = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    check_os(got as i64, format_args!("write fd {fd}"))?;
    check_eq(
        format_args!("bytes written to fd {fd}"),
        got as usize,
        bytes.len(),
    )
}

fn fcntl(fd: libc::c_int, cmd: libc::c_int) -> Result<libc::c_int, String> {
    // SAFETY: F_GETFL/F_GETFD take no pointer.
    let r = unsafe { libc::fcntl(fd, cmd) };
    check_os(r, format_args!("fcntl({fd}, {cmd})"))?;
    Ok(r)
}

/// (st_dev, st_ino, st_rdev) of every fd, for identity.
fn identity(fd: libc::c_int) -> Result<(u64, u64, u64), String> {
    let m =
        std::fs::metadata(format!("/proc/self/fd/{fd}")).map_err(|e| format!("fd {fd}: {e}"))?;
    Ok((m.dev(), m.ino(), m.rdev()))
}

const FDS: [libc::c_int; 10] = [
    RW, APPEND, RDONLY, SHARED, SHARED_DUP, CLOEXEC, DIR, NULL, ZERO, CONSOLE,
];

struct Before {
    dir: String,
    ids: Vec<(u64, u64, u64)>,
    flags: Vec<libc::c_int>,
}

fn setup(dir: String) -> Result<Before, String> {
    let sub = format!("{dir}/sub");
    std::fs::create_dir_all(&sub).map_err(|e| format!("mkdir {sub}: {e}"))?;
    for name in ["rw", "append", "rdonly", "shared", "cloexec", "sub/inside"] {
        std::fs::write(format!("{dir}/{name}"), TEXT).map_err(|e| format!("write {name}: {e}"))?;
    }
    open_at(&format!("{dir}/rw"), libc::O_RDWR, RW)?;
    open_at(
        &format!("{dir}/append"),
        libc::O_WRONLY | libc::O_APPEND,
        APPEND,
    )?;
    open_at(&format!("{dir}/rdonly"), libc::O_RDONLY, RDONLY)?;
    open_at(&format!("{dir}/shared"), libc::O_RDONLY, SHARED)?;
    open_at(
        &format!("{dir}/cloexec"),
        libc::O_RDONLY | libc::O_CLOEXEC,
        CLOEXEC,
    )?;
    open_at(&sub, libc::O_RDONLY | libc::O_DIRECTORY, DIR)?;
    open_at("/dev/null", libc::O_RDWR, NULL)?;
    open_at("/dev/zero", libc::O_RDONLY, ZERO)?;
    open_at("/dev/console", libc::O_WRONLY | libc::O_NOCTTY, CONSOLE)?;
    // SAFETY: dup2 of our own fd; lseek and umask take integers.
    unsafe {
        check_os(libc::dup2(SHARED, SHARED_DUP), "dup2")?;
        check_os(libc::lseek(RW, 5, libc::SEEK_SET), "lseek")?;
        check_os(libc::lseek(SHARED, 3, libc::SEEK_SET), "lseek")?;
        libc::umask(UMASK);
    }
    std::env::set_current_dir(&sub).map_err(|e| format!("chdir {sub}: {e}"))?;
    Ok(Before {
        ids: FDS
            .iter()
            .map(|&fd| identity(fd))
            .collect::<Result<_, _>>()?,
        flags: FDS
            .iter()
            .map(|&fd| fcntl(fd, libc::F_GETFL))
            .collect::<Result<_, _>>()?,
        dir,
    })
}

fn check(b: &Before) -> Check {
    for (i, &fd) in FDS.iter().enumerate() {
        check_eq(
            format_args!("fd {fd} (dev, inode, rdev)"),
            identity(fd)?,
            b.ids[i],
        )?;
        check_eq(
            format_args!("fd {fd} F_GETFL"),
            fcntl(fd, libc::F_GETFL)?,
            b.flags[i],
        )?;
        let cloexec = fcntl(fd, libc::F_GETFD)? & libc::FD_CLOEXEC != 0;
        check_eq(format_args!("fd {fd} FD_CLOEXEC"), cloexec, fd == CLOEXEC)?;
    }
    check_eq(
        "cwd",
        std::env::current_dir().ok(),
        Some(format!("{}/sub", b.dir).into()),
    )?;
    // SAFETY: umask takes and returns a mode.
    check_eq("umask", unsafe { libc::umask(UMASK) }, UMASK)?;

    check_eq("read-write fd offset", offset(RW), 5)?;
    check_eq("read at offset 5", read_n(RW, 3)?, b"567".to_vec())?;
    write_all(RW, b"XY")?;
    write_all(APPEND, b"+")?;
    check_eq("read-only fd offset", offset(RDONLY), 0)?;
    // SAFETY: as in write_all.
    if unsafe { libc::write(RDONLY, b"x".as_ptr().cast(), 1) } != -1 {
        return Err("writing to the O_RDONLY fd succeeded".into());
    }
    check_eq("shared offset", offset(SHARED_DUP), 3)?;
    check_eq("read through one dup", read_n(SHARED, 4)?, b"3456".to_vec())?;
    check_eq("offset seen through the other", offset(SHARED_DUP), 7)?;
    check_eq("/dev/null write", write_all(NULL, b"gone"), Ok(()))?;
    check_eq("/dev/null read", read_n(NULL, 8)?, Vec::new())?;
    check_eq("/dev/zero read", read_n(ZERO, 8)?, vec![0u8; 8])?;

    // SAFETY: openat and fchdir on our directory fd and a C string literal.
    let inside = unsafe { libc::openat(DIR, c"inside".as_ptr(), libc::O_RDONLY) };
    check_os(inside, "openat(dir fd, \"inside\")")?;
    check_eq(
        "file read through the directory fd",
        read_n(inside, 4)?,
        b"0123".to_vec(),
    )?;
    // SAFETY: as above.
    check_os(unsafe { libc::fchdir(DIR) }, "fchdir")?;

    let rw = std::fs::read(format!("{}/rw", b.dir)).map_err(|e| os_error(e.to_string()))?;
    check_eq("rw file", rw, [&TEXT[..8], b"XY", &TEXT[10..]].concat())?;
    let appended = std::fs::read(format!("{}/append", b.dir)).map_err(|e| e.to_string())?;
    check_eq("appended file", appended, [TEXT, b"+"].concat())
}

fn main() {
    let dir = scratch_dir();
    let mut target = Target::spawn(move || {
        let before = setup(dir)?;
        Ok(move || {
            wait_restored();
            check(&before)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("regular files, dup'ed offsets, flags, directory, /dev/null, /dev/zero, console, cwd and umask restored");
}
