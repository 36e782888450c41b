//! A FIFO that a process outside the tree has open too cannot be shared again by a restart:
//!
//! - checkpoint of a subtree refuses it with EOPNOTSUPP and a log line saying why, whether the
//!   test opened the FIFO by its path (a file of its own) or took the target's file with
//!   pidfd_getfd(); the target runs on with its FIFO as it was;
//! - restart refuses an image whose FIFO's path is gone (ENOENT), and one whose FIFO the test
//!   has opened since (EBUSY: its pipe is not the image's alone). Neither makes a process or a
//!   file at the path; the busy FIFO keeps its size, gets no bytes, and no writer comes and
//!   goes (its reader would see POLLHUP);
//! - restart refuses it too (EBUSY, "files outside have it open") while a writer of the
//!   test's, a child, is asleep in open() waiting for a reader, and makes no process: the
//!   writer sleeps on in open(), woken by no reader of restart's (its open would return, and
//!   its first write get SIGPIPE once restart closed that reader). Once the FIFO is back and
//!   free, the image restarts.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cr_tests::outside::{refused_while_used, take_fd};
use cr_tests::proc::{in_syscall, my_children, proc_state, syscall_text, wait_status_text};
use cr_tests::target::scratch_dir;
use cr_tests::{
    check_eq, check_os, fail, fionread, mkfifo, open_fifo_at, pass, pipe_size, poll_in, read_exact,
    wait_restored, write_all, Check, Child, Target, KILL,
};

const READ_END: RawFd = 37;
const WRITE_END: RawFd = 38;
/// Not a pipe's default size: a pipe made anew does not have it.
const SIZE: usize = 128 << 10;
/// `__NR_open` and `__NR_openat`, as /proc/PID/syscall shows them.
const NR_OPENS: [i64; 2] = [libc::SYS_open, libc::SYS_openat];
/// How the writer outside ends if its open() returns: with a file (a reader came), or not.
const OPENED: i32 = 1;
const NOT_OPENED: i32 = 2;

/// The FIFO's path, in the scratch directory: set before any target is forked.
static FIFO: OnceLock<String> = OnceLock::new();

fn fifo() -> &'static str {
    FIFO.get().map_or("", String::as_str)
}

/// Makes the FIFO, and its directory, again: every target removes the directory as it ends.
fn make_fifo() {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("mkdir {dir}: {e}")));
    mkfifo(fifo()).unwrap_or_else(|e| fail(e));
}

/// In the target: a reader and a writer of the FIFO, which holds "hello" in 128 KiB.
fn open_fifo() -> Check {
    open_fifo_at(fifo(), libc::O_RDONLY | libc::O_NONBLOCK, READ_END)?;
    open_fifo_at(fifo(), libc::O_WRONLY, WRITE_END)?;
    // SAFETY: fcntl on our own fd.
    let r = unsafe { libc::fcntl(WRITE_END, libc::F_SETPIPE_SZ, SIZE as libc::c_int) };
    check_os(r, "F_SETPIPE_SZ")?;
    write_all(WRITE_END, b"hello")
}

fn still_hello() -> Check {
    check_eq("the FIFO's size", pipe_size(READ_END)?, SIZE)?;
    check_eq(
        "bytes read back from the FIFO",
        read_exact(READ_END, 5)?,
        b"hello".to_vec(),
    )
}

/// A reader of the test's own, opened by the FIFO's path; it does not wait for a writer.
fn open_outside() -> Result<RawFd, String> {
    let name = std::ffi::CString::new(fifo()).map_err(|_| "NUL in the path".to_string())?;
    // SAFETY: opens a valid C string; the fd is the test's.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    check_os(fd, format_args!("open {}", fifo()))?;
    Ok(fd)
}

/// A failed restart made no process: the original was reaped, so the test has no child.
fn expect_no_child(target: &Target) {
    let children = my_children();
    check_eq("our children after a failed restart", children, vec![])
        .unwrap_or_else(|e| target.fail(e));
}

/// Whether `pid` is asleep in open() or openat(), as its state and /proc/PID/syscall show.
fn asleep_in_open(pid: libc::pid_t) -> bool {
    proc_state(pid) == Some('S') && in_syscall(pid, pid, &NR_OPENS)
}

/// A child of the test's that opens the FIFO to write, without O_NONBLOCK: with no reader, it
/// sleeps in open() until one comes. Returned once it sleeps there, for a while: not on a
/// lock of the path's lookup, before it has the FIFO open.
fn writer_outside(target: &Target) -> Child {
    let name = CString::new(fifo()).unwrap_or_else(|_| target.fail("NUL in the FIFO's path"));
    let writer = Child::spawn(|| {
        // SAFETY: opens a valid C string; the child ends right after.
        let fd = unsafe { libc::open(name.as_ptr(), libc::O_WRONLY) };
        if fd >= 0 {
            OPENED
        } else {
            NOT_OPENED
        }
    });
    let pid = writer.pid();
    target.wait_until("for the writer outside to sleep in open()", || {
        asleep_in_open(pid)
    });
    stays_in_open(pid, Duration::from_millis(100)).unwrap_or_else(|e| target.fail(e));
    writer
}

/// `Err` unless `pid` is asleep in open() now and stays so for `at_least`.
fn stays_in_open(pid: libc::pid_t, at_least: Duration) -> Check {
    let until = Instant::now() + at_least;
    loop {
        if !asleep_in_open(pid) {
            let now = syscall_text(pid, pid);
            return Err(format!(
                "the writer outside should still be asleep in open(), its state is {:?}, /proc/{pid}/syscall {:?}",
                proc_state(pid),
                now.trim()
            ));
        }
        if Instant::now() >= until {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let _ = FIFO.set(format!("{}/fifo", scratch_dir()));

    make_fifo();
    let by_path = |_| open_outside().map(|fd| vec![fd]);
    // The log line names the pipe or the FIFO; this is what it says of either.
    refused_while_used(
        open_fifo,
        still_hello,
        by_path,
        KILL,
        "is also open outside the tree",
    );
    make_fifo();
    let taken = |pid| take_fd(pid, WRITE_END).map(|fd| vec![fd]);
    refused_while_used(open_fifo, still_hello, taken, KILL, "shared with pid");

    make_fifo();
    let mut target = Target::spawn(|| {
        open_fifo()?;
        Ok(|| {
            wait_restored();
            still_hello()
        })
    });
    target.checkpoint(KILL);

    let moved = format!("{}.moved", fifo());
    std::fs::rename(fifo(), &moved).unwrap_or_else(|e| target.fail(format!("rename: {e}")));
    let result = target.try_restart(0);
    if result.is_err() {
        expect_no_child(&target);
    }
    target.expect_restart_errno(result, libc::ENOENT, "restart with the FIFO's path gone");
    if std::fs::symlink_metadata(fifo()).is_ok() {
        target.fail("the failed restart made a file at the FIFO's path");
    }
    std::fs::rename(&moved, fifo()).unwrap_or_else(|e| target.fail(format!("rename: {e}")));

    let outside = open_outside().unwrap_or_else(|e| target.fail(e));
    let seen = || -> Result<(usize, usize, i32), String> {
        Ok((
            pipe_size(outside)?,
            fionread(outside)?,
            poll_in(outside, 0)?,
        ))
    };
    let before = seen().unwrap_or_else(|e| target.fail(e));
    check_eq("the size of a FIFO opened anew", before.0, 64 << 10)
        .unwrap_or_else(|e| target.fail(e));
    let result = target.try_restart(0);
    if result.is_err() {
        expect_no_child(&target);
    }
    target.expect_restart_errno(
        result,
        libc::EBUSY,
        "restart while the test has the FIFO open",
    );
    let after = seen().unwrap_or_else(|e| target.fail(e));
    check_eq(
        "the busy FIFO's size, bytes and poll() of the test's reader",
        after,
        before,
    )
    .unwrap_or_else(|e| target.fail(e));
    // SAFETY: the test's own fd.
    unsafe { libc::close(outside) };

    let writer = writer_outside(&target);
    let from = target.klog().len();
    let result = target.try_restart(0);
    let children = my_children();
    let asleep = stays_in_open(writer.pid(), Duration::from_millis(200));
    // SAFETY: kill takes integers; the writer is our unreaped child.
    unsafe { libc::kill(writer.pid(), libc::SIGKILL) };
    let (pid, status) = (writer.pid(), writer.wait());
    if result.is_err() {
        // No process but the writer, which is ours.
        check_eq("our children after a failed restart", children, vec![pid])
            .unwrap_or_else(|e| target.fail(e));
    }
    target.expect_restart_errno(
        result,
        libc::EBUSY,
        "restart while a writer outside sleeps in open() of the FIFO",
    );
    if !target.klog()[from..]
        .iter()
        .any(|l| l.contains("files outside have it open"))
    {
        target.fail("no kernel log line of the restart says files outside have the FIFO open");
    }
    asleep.unwrap_or_else(|e| target.fail(e));
    if !(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL) {
        let why = match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
            Some(OPENED) => ": its open() returned a file, a reader having come",
            Some(NOT_OPENED) => ": its open() failed",
            _ => "",
        };
        target.fail(format!(
            "the writer outside {}, should have slept in open() until killed{why}",
            wait_status_text(status)
        ));
    }

    target.restart();
    target.finish();
    pass("a FIFO open outside the tree is refused by checkpoint (EOPNOTSUPP) and by restart (EBUSY, a writer asleep in open() left asleep), a FIFO whose path is gone by restart (ENOENT), leaving nothing; the targets run on, and the image restarts once the FIFO is back and free");
}
