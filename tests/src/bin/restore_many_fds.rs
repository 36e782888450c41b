//! A container whose init holds 20,000 open files at full scale, 4,000 in CI's bounded form (or
//! as many as the first argument says), which its child shares through a copy of its fd table,
//! comes back with every file at its fd, offset and close-on-exec flag, still shared between
//! the two.
//!
//! Each of the files is counted, checked for leaks, written and restored once, and looked up
//! by address at every step: a scan of the table for each file (O(n^2)) keeps a CPU in the
//! kernel for longer than the soft-lockup detector allows, and the debug guest panics (it did
//! for 20,000 files, stuck 23 s in leak detection's count of the files). The bounded form is
//! too small for that: it checks the restore, the full one (`cargo xtask qemu-test --full`)
//! the cost.
//!
//! After the restart the child moves every 1000th file on by 7 bytes and exits; init checks
//! all of its fds first, then sees those moves through the files they share.

use std::os::fd::RawFd;

use cr_tests::tree::{wake_and_reap, Ready};
use cr_tests::{
    check_eq, check_os, fd_position, pass, wait_restored, Check, Target, CONTAINER_KILL,
};

/// How many files init opens, unless the first argument says.
fn files() -> usize {
    let default = if cr_tests::full() { 20_000 } else { 4_000 };
    std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}
/// Every how many files the child moves one.
const STRIDE: usize = 1000;
/// How far it moves them.
const MOVE: i64 = 7;

/// The offset the file at fd `first + i` is left at before the checkpoint.
fn offset_of(i: usize) -> i64 {
    3 * i as i64
}

/// Checks every file: its offset (`moved` for every STRIDE-th one) and close-on-exec flag.
fn check_all(first: RawFd, moved: i64) -> Check {
    for i in 0..files() {
        let fd = first + i as RawFd;
        let want = offset_of(i) + if i % STRIDE == 0 { moved } else { 0 };
        check_eq(format!("the offset of fd {fd}"), fd_position(fd)?, want)?;
        // SAFETY: fcntl on an fd of ours.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        check_os(flags, format!("F_GETFD on fd {fd}"))?;
        let cloexec = if i % 2 == 1 { libc::FD_CLOEXEC } else { 0 };
        check_eq(format!("the fd flags of fd {fd}"), flags, cloexec)?;
    }
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let path = format!("/tmp/cr-many-fds-{}", std::process::id());
    std::fs::write(&path, b"x").map_err(|e| format!("write {path}: {e}"))?;
    let limit = libc::rlimit {
        rlim_cur: (files() + 64) as libc::rlim_t,
        rlim_max: (files() + 64) as libc::rlim_t,
    };
    // SAFETY: `limit` is valid for the read.
    check_os(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) },
        "setrlimit(RLIMIT_NOFILE)",
    )?;
    let cpath = std::ffi::CString::new(path.clone()).map_err(|e| e.to_string())?;
    let mut first = -1;
    for i in 0..files() {
        let cloexec = if i % 2 == 1 { libc::O_CLOEXEC } else { 0 };
        // SAFETY: `cpath` is NUL-terminated.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR | cloexec) };
        check_os(fd, format!("open {path} for the {i}th time"))?;
        if i == 0 {
            first = fd;
        } else if fd != first + i as RawFd {
            return Err(format!(
                "open {path} gave fd {fd}, not {}",
                first + i as RawFd
            ));
        }
        // SAFETY: lseek takes integers.
        check_os(
            unsafe { libc::lseek(fd, offset_of(i), libc::SEEK_SET) },
            "lseek",
        )?;
    }
    let ready = Ready::new()?;
    let kid = ready.fork(0, move |_| {
        Ok(move || {
            for i in (0..files()).step_by(STRIDE) {
                let fd = first + i as RawFd;
                // SAFETY: lseek takes integers.
                check_os(
                    unsafe { libc::lseek(fd, MOVE, libc::SEEK_CUR) },
                    format!("move fd {fd}"),
                )?;
            }
            Ok(())
        })
    })?;
    ready.wait(1)?;
    Ok(move || {
        wait_restored();
        let checked = check_all(first, 0).and_then(|()| wake_and_reap(&[kid]));
        let checked = checked.and_then(|()| check_all(first, MOVE));
        std::fs::remove_file(&path).map_err(|e| format!("remove {path}: {e}"))?;
        checked
    })
}

fn main() {
    let t = std::time::Instant::now();
    let mut target = Target::spawn_container(setup);
    eprintln!("# set up in {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    target.checkpoint(CONTAINER_KILL);
    eprintln!("# checkpointed in {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    target.restart();
    eprintln!("# restarted in {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    target.finish();
    eprintln!("# checked in {:.1} s", t.elapsed().as_secs_f64());
    pass(&format!(
        "{} files shared by two processes came back, each where it was",
        files()
    ));
}
