//! Leak detection: a container is refused with EBUSY before anything is written, with a kernel
//! log line naming the object, while something outside it holds one of its objects: an open
//! file (the test takes a copy of the container's fd 1 with pidfd_getfd()), shared memory the
//! container inherited from the test, a process that entered the container's pid namespace
//! with setns(). Each time the container runs on, and once the outside holder lets go the same
//! checkpoint succeeds: the refusal was about that object.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};

use cr_tests::{fail, log_names, os_error, pass, sys, wait_restored, Target};

/// A container whose init only waits to be woken.
fn container() -> Target {
    Target::spawn_container(|| {
        Ok(|| {
            wait_restored();
            Ok(())
        })
    })
}

/// Checkpoint (no kill) must fail with EBUSY and a log line holding each of `words`; the
/// container must run on.
fn expect_leak(target: &mut Target, words: &[&str], what: &str) {
    let result = target.try_checkpoint(0);
    target.expect_checkpoint_errno(result, libc::EBUSY, what);
    if let Some(w) = words.iter().find(|w| !log_names(target.klog(), w)) {
        target.fail(format!("{what}: no kernel log line names {w:?}"));
    }
    target.wait_state("S", "to sleep on after a refused checkpoint");
}

/// The container's fd 1 (its log file), copied into the test.
fn open_file() {
    let mut target = container();
    // SAFETY: plain system calls on integers; the fds returned are ours.
    let stolen = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, target.pid(), 0);
        if pidfd < 0 {
            target.fail(os_error("pidfd_open"));
        }
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, 1, 0);
        libc::close(pidfd as i32);
        if fd < 0 {
            target.fail(os_error("pidfd_getfd"));
        }
        OwnedFd::from_raw_fd(fd as i32)
    };
    let me = std::process::id().to_string();
    expect_leak(
        &mut target,
        &["fd 1", &me, "shared"],
        "a container file also open in the test",
    );
    drop(stolen);
    target.checkpoint(0);
    target.finish();
}

/// Shared anonymous memory that the test mapped and the container inherited.
fn shared_memory() {
    let len = 4 * 4096;
    // SAFETY: a new mapping, unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        fail(os_error("mmap"));
    }
    let mut target = container();
    expect_leak(
        &mut target,
        &["shared memory"],
        "shared memory also mapped by the test",
    );
    // SAFETY: our own mapping, no longer used.
    unsafe { libc::munmap(map, len) };
    target.checkpoint(0);
    target.finish();
}

/// A process of the container's pid namespace whose parent is a helper of the test.
fn foreign_task() {
    let mut target = container();
    let ns = format!("/proc/{}/ns/pid", target.pid());
    let (read, write) = cr::klog::pipe().unwrap_or_else(|e| target.fail(format!("pipe: {e}")));
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: the helper only makes system calls and ends in `_exit`.
    let helper = match unsafe { libc::fork() } {
        -1 => target.fail(os_error("fork")),
        0 => unsafe {
            let path = std::ffi::CString::new(ns.clone()).unwrap_or_default();
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
            if fd < 0 || libc::setns(fd, libc::CLONE_NEWPID) != 0 {
                libc::_exit(1);
            }
            match libc::fork() {
                -1 => libc::_exit(1),
                0 => loop {
                    libc::pause();
                },
                guest => {
                    let bytes = guest.to_ne_bytes();
                    libc::write(
                        std::os::fd::AsRawFd::as_raw_fd(&write),
                        bytes.as_ptr().cast(),
                        4,
                    );
                    libc::waitpid(guest, std::ptr::null_mut(), 0);
                    libc::_exit(0)
                }
            }
        },
        pid => pid,
    };
    drop(write);
    let mut bytes = [0u8; 4];
    if std::fs::File::from(read).read_exact(&mut bytes).is_err() {
        target.fail(format!("the helper could not enter {ns} and fork"));
    }
    let guest = libc::pid_t::from_ne_bytes(bytes);
    expect_leak(
        &mut target,
        &["not in the tree"],
        "a foreign process in the container's pid namespace",
    );
    // SAFETY: kill takes integers; the helper reaps the guest, we reap the helper.
    unsafe { libc::kill(guest, libc::SIGKILL) };
    if !matches!(sys::waitpid(helper), Ok(0)) {
        target.fail("the helper did not end cleanly");
    }
    target.checkpoint(0);
    target.finish();
}

fn main() {
    open_file();
    shared_memory();
    foreign_task();
    pass("leaks of a file, shared memory and the pid namespace are refused with EBUSY, and only while they last");
}
