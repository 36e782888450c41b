//! A three-level process tree comes back whole: every process with its pid, parent, process
//! group and session, children that the parents wait for with their exit statuses, and a file
//! opened before the forks whose offset all of them share.
//!
//! ```text
//! root                      the target: the test's child, in the test's group and session
//! ├── a     setpgid(0, 0)   a new process group
//! │   └── g                 in a's group
//! └── b     setsid()        a new session
//!     └── c setpgid(0, 0)   a group of its own in b's session
//! ```
//!
//! After the restart each process checks its ids, reads one byte of the shared file, wakes
//! its children and checks their exit statuses; the root then finds the shared offset moved
//! by the four reads of its descendants. The checkpoint and restart logs have a line for
//! each process.

use std::os::fd::AsRawFd;

use cr_tests::target::scratch_dir;
use cr_tests::tree::{check_ids, ids, wake_and_reap, Kid, Ready};
use cr_tests::{check_os, log_names, os_error, pass, wait_restored, Check, Target};

/// Where the shared file's offset is when the root forks.
const START: i64 = 2;

/// In a descendant: reads one byte from the shared file `fd`.
fn read_one(fd: libc::c_int) -> Check {
    let mut b = [0u8];
    // SAFETY: `b` has room for one byte.
    let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
    check_os(n as i64, "read the shared file")?;
    if n != 1 {
        return Err("the shared file ended early".into());
    }
    Ok(())
}

/// A descendant that only checks its ids and reads its byte, then wakes `kids`.
fn leaf_check(fd: libc::c_int, kids: Vec<Kid>) -> impl FnOnce() -> Check {
    let want = ids();
    move || {
        check_ids(want)?;
        read_one(fd)?;
        wake_and_reap(&kids)
    }
}

fn setpgid_self() -> Check {
    // SAFETY: changes only the caller's own process group.
    check_os(unsafe { libc::setpgid(0, 0) }, "setpgid(0, 0)")
}

fn setup(dir: &str) -> Result<impl FnOnce() -> Check, String> {
    let path = format!("{dir}/shared");
    std::fs::write(&path, b"0123456789").map_err(|e| format!("write {path}: {e}"))?;
    let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let fd = file.as_raw_fd();
    // SAFETY: lseek on our own fd.
    if unsafe { libc::lseek(fd, START, libc::SEEK_SET) } != START {
        return Err(os_error("lseek"));
    }
    let ready = Ready::new()?;
    let a = ready.fork(41, |ready| {
        setpgid_self()?;
        let g = ready.fork(43, |_| Ok(leaf_check(fd, Vec::new())))?;
        Ok(leaf_check(fd, vec![g]))
    })?;
    let b = ready.fork(42, |ready| {
        // SAFETY: makes the caller a session leader; it is not a group leader yet.
        check_os(unsafe { libc::setsid() }, "setsid")?;
        let c = ready.fork(44, |_| {
            setpgid_self()?;
            Ok(leaf_check(fd, Vec::new()))
        })?;
        Ok(leaf_check(fd, vec![c]))
    })?;
    ready.wait(4)?;
    let want = ids();
    Ok(move || {
        wait_restored();
        check_ids(want)?;
        wake_and_reap(&[a, b])?;
        // SAFETY: lseek on the shared fd, still open.
        let at = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_CUR) };
        if at != START + 4 {
            return Err(format!(
                "the shared offset is {at}, expected {}: the children's reads did not move it",
                START + 4
            ));
        }
        let _ = std::fs::remove_file(&path);
        Ok(())
    })
}

fn main() {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| cr_tests::fail(format!("mkdir {dir}: {e}")));
    let mut target = Target::spawn(|| setup(&dir));
    let kids = target.descendants(4);
    target.cycle_tree(&kids);
    // The log has a line per task, each way.
    for pid in std::iter::once(target.pid()).chain(kids.iter().copied()) {
        for (what, token) in [
            ("checkpoint", format!("pid {pid}: saved")),
            ("restart", format!("pid {pid}: restored")),
        ] {
            if !log_names(target.klog(), &token) {
                target.fail(format!("the {what} log has no line for pid {pid}"));
            }
        }
    }
    target.finish();
    pass("a three-level tree with a new process group and a new session came back with its ids, exit statuses and shared offset");
}
