//! Processes that share an fd table and root/cwd/umask (clone with CLONE_FILES | CLONE_FS, no
//! CLONE_VM) share them again after the restart, and a forked process that shares neither
//! still has its own.
//!
//! ```text
//! root   opened F (fd 5) before the checkpoint
//! ├── s  clone(CLONE_FILES | CLONE_FS): the root's fd table and fs
//! └── p  fork(): copies of both
//! ```
//!
//! After the restart the root opens G, chdir()s into a directory and wakes s, which finds G
//! at the same fd, the new cwd, and F's offset moved by the root's read; s sets a umask that
//! the root then sees. p finds neither G nor the new cwd.

use std::ffi::CString;
use std::os::fd::RawFd;

use cr_tests::target::scratch_dir;
use cr_tests::tree::{wake_and_reap, Kid, Ready};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

/// F's fd in the root, fixed so that the children know it.
const F: RawFd = 5;

fn c(path: &str) -> CString {
    CString::new(path).unwrap_or_default()
}

/// The (device, inode) of `path`, or of the open `fd` if `path` is `None`.
fn identity(fd: RawFd, path: Option<&str>) -> Result<(u64, u64), String> {
    // SAFETY: all-zero is a valid stat buffer to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is valid for the write; the path is NUL-terminated.
    let r = unsafe {
        match path {
            Some(p) => libc::stat(c(p).as_ptr(), &mut st),
            None => libc::fstat(fd, &mut st),
        }
    };
    check_os(r, format!("stat of fd {fd} / {path:?}"))?;
    Ok((st.st_dev, st.st_ino))
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The process's umask (set back after reading it).
fn umask() -> libc::mode_t {
    // SAFETY: umask always succeeds; the old value is put back.
    unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    }
}

/// What s checks once woken: the root's new fd `g` and cwd `dir`, then it sets umask 027.
fn sharer(g_fd: RawFd, g: String, dir: String) -> Check {
    check_eq(
        "G at the root's new fd, seen from s",
        identity(g_fd, None)?,
        identity(0, Some(&g))?,
    )?;
    check_eq("cwd seen from s", cwd(), dir)?;
    // SAFETY: lseek on a shared fd.
    let off = unsafe { libc::lseek(F, 0, libc::SEEK_CUR) };
    check_eq("F's offset seen from s after the root read 4 bytes", off, 7)?;
    // SAFETY: sets this process's umask, shared with the root.
    unsafe { libc::umask(0o027) };
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let dir = scratch_dir();
    std::fs::create_dir_all(format!("{dir}/inner")).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let f = format!("{dir}/f");
    let g = format!("{dir}/g");
    std::fs::write(&f, b"0123456789").map_err(|e| format!("write {f}: {e}"))?;
    std::fs::write(&g, b"g").map_err(|e| format!("write {g}: {e}"))?;
    // SAFETY: opens F and moves it to fd 5; the offset 3 is read back after the restart.
    unsafe {
        let fd = libc::open(c(&f).as_ptr(), libc::O_RDONLY);
        check_os(fd, format!("open {f}"))?;
        check_os(libc::dup2(fd, F), "dup2")?;
        libc::close(fd);
        check_os(libc::lseek(F, 3, libc::SEEK_SET), "lseek")?;
    }
    let inner = format!("{dir}/inner");
    let g_fd: RawFd = 9;
    let ready = Ready::new()?;
    // p: its own copies; after the restart it must not see the root's changes.
    let p = {
        let (g, inner) = (g.clone(), inner.clone());
        ready.fork(22, move |_| {
            Ok(move || {
                // SAFETY: fcntl on a number that must not be open here.
                if unsafe { libc::fcntl(g_fd, libc::F_GETFD) } != -1 {
                    return Err(format!("p sees fd {g_fd} ({g}) that the root opened"));
                }
                if cwd() == inner {
                    return Err("p's cwd moved with the root's".into());
                }
                Ok(())
            })
        })?
    };
    let flags = (libc::CLONE_FILES | libc::CLONE_FS | libc::SIGCHLD) as libc::c_long;
    // SAFETY: without CLONE_VM and with no new stack this is fork() sharing the fd table and
    // fs; the child waits for SIGUSR1, runs its checks and exits.
    let s = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    check_os(s, "clone(CLONE_FILES | CLONE_FS)")?;
    if s == 0 {
        wait_restored();
        let code = match sharer(g_fd, g, inner) {
            Ok(()) => 21,
            Err(e) => {
                eprintln!("s: FAIL: {e}");
                1
            }
        };
        // SAFETY: ends the child.
        unsafe { libc::_exit(code) }
    }
    let s = s as libc::pid_t;
    // Closes the ready pipe in the shared table too.
    ready.wait(1)?;
    Ok(move || {
        wait_restored();
        // SAFETY: opens G at fd 9 and reads 4 bytes of F: both seen by s.
        unsafe {
            let fd = libc::open(c(&g).as_ptr(), libc::O_RDONLY);
            check_os(fd, format!("open {g}"))?;
            check_os(libc::dup2(fd, g_fd), "dup2")?;
            libc::close(fd);
            let mut buf = [0u8; 4];
            check_eq(
                "F read after the restart",
                libc::read(F, buf.as_mut_ptr().cast(), 4),
                4,
            )?;
            check_eq("F's bytes", &buf, b"3456")?;
        }
        std::env::set_current_dir(&inner).map_err(|e| format!("chdir {inner}: {e}"))?;
        wake_and_reap(&[Kid { pid: s, code: 21 }, p])?;
        check_eq("umask set by s, seen by the root", umask(), 0o027)?;
        // SAFETY: fcntl on our own fd.
        check_os(
            unsafe { libc::fcntl(g_fd, libc::F_GETFD) },
            "fd 9 after s exited",
        )
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("an fd table and fs shared by two processes are shared again; a forked copy is its own");
}
