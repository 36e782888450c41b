//! A subtree that shares an open file or shared memory with a process outside it is refused
//! with EOPNOTSUPP and a log line naming the object: its restart could not share them again.
//! It runs on, and once the outside holder lets go the same checkpoint succeeds. With
//! `CKPT_UNSHARE_OPEN_FILES` the caller accepts that a shared file comes back unshared: the
//! restored target reads on from its own offset while the test moves its copy's.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use cr_tests::mem::shared_anon;

use cr_tests::{
    check_eq, fail, fd_position, log_names, os_error, pass, wait_restored, Check, Target, KILL,
    NO_KILL,
};

/// The fd the target holds the shared file at.
const FD: i32 = 20;
const TEXT: &[u8] = b"0123456789";

/// Checkpoint must fail with EOPNOTSUPP and a log line holding each of `words`; the target
/// must run on.
fn expect_refused(target: &mut Target, flags: u32, words: &[&str], what: &str) {
    let result = target.try_checkpoint(flags);
    target.expect_checkpoint_errno(result, libc::EOPNOTSUPP, what);
    if let Some(w) = words.iter().find(|w| !log_names(target.klog(), w)) {
        target.fail(format!("{what}: no kernel log line names {w:?}"));
    }
    target.wait_state("S", "to sleep on after a refused checkpoint");
}

/// The target opens a file, reads 3 bytes of it, and after the restart reads on from there.
fn file_target(path: String) -> Target {
    Target::spawn(move || {
        std::fs::write(&path, TEXT).map_err(|e| format!("write {path}: {e}"))?;
        let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        // SAFETY: fd juggling on a file we own; FD is free in a target.
        unsafe {
            if libc::dup2(file.as_raw_fd(), FD) < 0 {
                return Err(os_error("dup2"));
            }
            let mut three = [0u8; 3];
            if libc::read(FD, three.as_mut_ptr().cast(), 3) != 3 {
                return Err(os_error("read"));
            }
        }
        Ok(|| -> Check {
            wait_restored();
            check_eq("the restored file's offset", fd_position(FD)?, 3)?;
            let mut rest = [0u8; 7];
            // SAFETY: reads into our buffer.
            let n = unsafe { libc::read(FD, rest.as_mut_ptr().cast(), rest.len()) };
            check_eq("what it reads on", &rest[..n.max(0) as usize], &TEXT[3..])
        })
    })
}

/// A copy of the target's fd `FD` in the test.
fn steal(target: &Target) -> OwnedFd {
    // SAFETY: plain system calls on integers; the fd returned is ours.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, target.pid(), 0);
        if pidfd < 0 {
            target.fail(os_error("pidfd_open"));
        }
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, FD, 0);
        libc::close(pidfd as i32);
        if fd < 0 {
            target.fail(os_error("pidfd_getfd"));
        }
        OwnedFd::from_raw_fd(fd as i32)
    }
}

fn open_file(dir: &str) {
    let mut target = file_target(format!("{dir}/shared"));
    let stolen = steal(&target);
    let me = std::process::id().to_string();
    let words = ["fd 20", me.as_str(), "shared"];
    expect_refused(&mut target, KILL, &words, "a file also open in the test");
    target.checkpoint(KILL | abi::CKPT_UNSHARE_OPEN_FILES);
    target.restart();
    // The restored target's file is its own: moving the test's copy does not move it.
    // SAFETY: lseek takes integers; `stolen` is our fd.
    if unsafe { libc::lseek(stolen.as_raw_fd(), 7, libc::SEEK_SET) } != 7 {
        target.fail(os_error("lseek the test's copy"));
    }
    target.finish();
}

/// Shared anonymous memory that the test mapped and the target inherited.
fn shared_memory() {
    let map = shared_anon(4 * 4096).unwrap_or_else(|e| fail(e));
    let mut target = Target::spawn(|| {
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    // Files are not the matter: the flag changes nothing for memory.
    let what = "shared memory also mapped by the test";
    expect_refused(
        &mut target,
        NO_KILL | abi::CKPT_UNSHARE_OPEN_FILES,
        &["shared memory"],
        what,
    );
    // SAFETY: our own mapping, which nothing uses.
    unsafe { libc::munmap(map.ptr().cast(), map.len()) };
    target.cycle();
    target.finish();
}

fn main() {
    let dir = cr_tests::target::scratch_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("mkdir {dir}: {e}")));
    open_file(&dir);
    shared_memory();
    pass("a subtree sharing a file or shared memory with the test is refused by name and runs on; with CKPT_UNSHARE_OPEN_FILES the file comes back unshared, at its offset");
}
