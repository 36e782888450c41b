//! Epoll watches across the edge of the checkpointed tree are refused, with a log line saying
//! which, and the target runs on with its epoll and files as they were:
//!
//! - an epoll of the target that watches a pipe's read end which only a process outside the
//!   tree holds (a sibling made with CLONE_PARENT): restart could not make that file;
//! - an eventfd of the target that only the sibling's epoll watches, and a pipe's read end
//!   that only an epoll of the test watches: restart could not watch the new file with it.
//!
//! Both are EOPNOTSUPP for a subtree and EBUSY, leaks, for a container: there the test holds
//! the pipe's ends (taken with pidfd_getfd() before the container closed its own), and its
//! epoll watches the eventfd; once the test closes that epoll the container checkpoints.
//!
//! A watch of a signalfd is woken by the signals of the process that added it, and restart
//! adds it again in the process that restores the epoll: the first in the image that holds
//! it. So an epoll of the target watching its signalfd (for SIGUSR2, blocked) with a watch
//! that the target's child added on the shared instance is refused too, EOPNOTSUPP with a log
//! line saying so. The child's watch works on: woken after the refusal, its epoll reports
//! nothing, then its epoll_wait(), asleep, is woken with the watch's data by a SIGUSR2 the
//! test sends the child, and the child reads SIGUSR2 from the signalfd.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cr_tests::outside::{refused_while_used, take_fd, watch_with_epoll};
use cr_tests::proc::{in_syscall, proc_state, wait_status_text};
use cr_tests::target::{fork_checker, kill_and_reap, restored_flag};
use cr_tests::{
    check_eq, check_os, epoll_add, log_names, pass, pipe_at, read_u64, signalfd_at, wait_restored,
    Check, Target, KILL,
};

const READ_END: RawFd = 37;
const WRITE_END: RawFd = 38;
const EVENTFD: RawFd = 39;
const EPOLL: RawFd = 40;
const SIGNALFD: RawFd = 41;
/// The data of the target's watch.
const DATA: u64 = 0x5EE;
const COUNT: u64 = 3;
/// The signal of the signalfd: SIGUSR1 is the harness's "restored" signal.
const SIGNAL: libc::c_int = libc::SIGUSR2;
/// `__NR_epoll_wait` and `__NR_epoll_pwait`, as /proc/PID/syscall shows them.
const NR_EPOLL_WAITS: [i64; 2] = [libc::SYS_epoll_wait, libc::SYS_epoll_pwait];
/// The log line's words for a watch of a signalfd added by another process.
const SIGNALFD_WATCH: &str = "a watch of a signalfd added by another process";

/// A pipe on [`READ_END`] and [`WRITE_END`] holding "hello".
fn pipe_with_hello() -> Check {
    pipe_at(READ_END, WRITE_END, 0)?;
    // SAFETY: writes a literal to our own fd.
    let n = unsafe { libc::write(WRITE_END, b"hello".as_ptr().cast(), 5) };
    check_os(n as i64, "write")?;
    Ok(())
}

fn still_hello() -> Check {
    let mut buf = [0u8; 5];
    // SAFETY: `buf` has room for 5 bytes.
    let n = unsafe { libc::read(READ_END, buf.as_mut_ptr().cast(), 5) };
    check_eq("bytes read back from the pipe", (n, &buf), (5, b"hello"))
}

/// An eventfd on [`EVENTFD`] at [`COUNT`].
fn eventfd_at_three() -> Check {
    // SAFETY: creates an fd and moves it to EVENTFD, which the target does not use otherwise.
    unsafe {
        let got = libc::eventfd(COUNT as u32, 0);
        check_os(got, "eventfd")?;
        check_os(libc::dup2(got, EVENTFD), "dup2")?;
        libc::close(got);
    }
    Ok(())
}

fn still_three() -> Check {
    check_eq("the eventfd's count", read_u64(EVENTFD), Ok(COUNT))
}

/// An epoll on [`EPOLL`] that watches nothing yet.
fn epoll() -> Check {
    // SAFETY: creates an fd and moves it to EPOLL, which the target does not use otherwise.
    unsafe {
        let got = libc::epoll_create1(0);
        check_os(got, "epoll_create1")?;
        check_os(libc::dup2(got, EPOLL), "dup2")?;
        libc::close(got);
    }
    Ok(())
}

/// An epoll on [`EPOLL`] that watches `fd` for input with [`DATA`].
fn epoll_watching(fd: RawFd) -> Check {
    epoll()?;
    epoll_add(EPOLL, fd, libc::EPOLLIN as u32, DATA)
}

/// What epoll_wait() of [`EPOLL`] reports within `timeout_ms`: (data, events) of each watch.
fn reported(timeout_ms: libc::c_int) -> Result<Vec<(u64, u32)>, String> {
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: `evs` has room for as many events as it is told.
    let n = unsafe {
        libc::epoll_wait(
            EPOLL,
            evs.as_mut_ptr(),
            evs.len() as libc::c_int,
            timeout_ms,
        )
    };
    check_os(n, "epoll_wait")?;
    Ok(evs[..n as usize]
        .iter()
        .map(|e| (e.u64, e.events))
        .collect())
}

/// The epoll still reports the pipe, which holds "hello": (data, events) of what it reports.
fn still_reports() -> Check {
    check_eq(
        "what the epoll reports",
        reported(0)?,
        vec![(DATA, libc::EPOLLIN as u32)],
    )
}

/// A signalfd on [`SIGNALFD`] for [`SIGNAL`], which is blocked.
fn signalfd() -> Check {
    signalfd_at(SIGNALFD, &[SIGNAL], 0)
}

/// The signal a read of [`SIGNALFD`] gives, or the errno.
fn read_signal() -> Result<u32, i32> {
    // SAFETY: a zeroed signalfd_siginfo is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` has room for `size` bytes.
    let n = unsafe { libc::read(SIGNALFD, (&raw mut info).cast(), size) };
    match n {
        n if n == size as isize => Ok(info.ssi_signo),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// The number of watches of [`EPOLL`] in /proc/self/fdinfo.
fn watch_count() -> Result<usize, String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{EPOLL}"))
        .map_err(|e| format!("read fdinfo of {EPOLL}: {e}"))?;
    Ok(text.lines().filter(|l| l.starts_with("tfd:")).count())
}

/// Whether process `pid` (its main thread) is in epoll_wait() or epoll_pwait().
fn in_epoll_wait(pid: libc::pid_t) -> bool {
    in_syscall(pid, pid, &NR_EPOLL_WAITS)
}

fn close(fd: RawFd) {
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
}

/// In the target: makes a sibling (a child of the test, outside the tree: CLONE_PARENT) that
/// keeps only the fds `keep` (ascending), none of the others it inherited, and sleeps until
/// killed.
fn sibling_keeping(keep: &[RawFd]) -> Check {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_long;
    // SAFETY: without CLONE_VM and with no new stack this is fork() that makes the test the
    // child's parent; the child only closes fds and sleeps until killed.
    let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    check_os(child, "clone(CLONE_PARENT)")?;
    if child == 0 {
        let close_range = |from: RawFd, to: libc::c_uint| {
            // SAFETY: closes fds of the sibling's own table, READY_FD among them.
            unsafe { libc::syscall(libc::SYS_close_range, from as libc::c_uint, to, 0) };
        };
        let mut from = 0;
        for &fd in keep {
            if fd > from {
                close_range(from, (fd - 1) as libc::c_uint);
            }
            from = fd + 1;
        }
        close_range(from, libc::c_uint::MAX);
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
    Ok(())
}

/// Checkpoint with `flags` must fail with `errno` and a log line holding each of `words`; the
/// target sleeps on.
fn expect_refused(target: &mut Target, flags: u32, errno: i32, words: &[&str], what: &str) {
    let result = target.try_checkpoint(flags);
    target.expect_checkpoint_errno(result, errno, what);
    if let Some(w) = words.iter().find(|w| !log_names(target.klog(), w)) {
        target.fail(format!("{what}: no kernel log line names {w:?}"));
    }
    target.expect_asleep(Duration::from_millis(200));
}

/// A target that runs `setup`, which leaves a sibling outside the tree holding what the
/// target shares with it, is refused with EOPNOTSUPP and a log line naming it and `token`;
/// it runs on and passes `works`, and its sibling sleeps on.
fn refused_with_sibling(setup: fn() -> Check, works: fn() -> Check, token: &str, what: &str) {
    let mut target = Target::spawn(move || {
        setup()?;
        Ok(move || {
            wait_restored();
            works()
        })
    });
    let sibling = target.sibling();
    let pid = target.pid().to_string();
    expect_refused(&mut target, KILL, libc::EOPNOTSUPP, &[&pid, token], what);
    target.expect_sibling_asleep(sibling);
    target.finish();
    kill_and_reap(sibling);
}

/// The target's epoll watches a pipe's read end that only its sibling holds.
fn watching_outside_pipe() -> Check {
    pipe_with_hello()?;
    epoll_watching(READ_END)?;
    sibling_keeping(&[READ_END, WRITE_END])?;
    close(READ_END);
    close(WRITE_END);
    Ok(())
}

/// The target's eventfd is watched by an epoll that only its sibling holds.
fn watched_from_outside() -> Check {
    eventfd_at_three()?;
    epoll_watching(EVENTFD)?;
    sibling_keeping(&[EPOLL])?;
    close(EPOLL);
    Ok(())
}

/// In the target's child, woken after the refusal: its watch reports nothing until the test
/// sends it [`SIGNAL`], which wakes its epoll_wait() with [`DATA`]; the signalfd gives the
/// signal, and then nothing is reported.
fn child_watch_works() -> Check {
    let input = libc::EPOLLIN as u32;
    check_eq(
        "what the child's epoll reports at first",
        reported(0)?,
        vec![],
    )?;
    check_eq(
        "what the child's epoll_wait() reports once the test sent SIGUSR2 (within 5 s)",
        reported(5000)?,
        vec![(DATA, input)],
    )?;
    check_eq(
        "the signal the child reads from the signalfd",
        read_signal(),
        Ok(SIGNAL as u32),
    )?;
    check_eq(
        "what the child's epoll reports once it read the signal",
        reported(0)?,
        vec![],
    )
}

/// The target's epoll watches its signalfd with a watch the target's child added: the target,
/// first in the image, would restore the epoll and add the watch again, woken by its own
/// signals instead of the child's. Refused; the child's watch still wakes it afterwards.
fn watch_added_by_child() {
    let mut target = Target::spawn(|| {
        signalfd()?;
        epoll()?;
        let kid = fork_checker(|| {
            epoll_add(EPOLL, SIGNALFD, libc::EPOLLIN as u32, DATA)?;
            wait_restored();
            child_watch_works()
        })?;
        // The instance is shared: the child's watch shows in our fdinfo once it is added.
        let deadline = Instant::now() + Duration::from_secs(10);
        while watch_count()? == 0 {
            if Instant::now() > deadline {
                return Err("the child added no watch within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(move || {
            wait_restored();
            let status =
                cr_tests::sys::waitpid(kid).map_err(|e| format!("wait for the child: {e}"))?;
            match libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                true => Ok(()),
                false => Err(format!("the child {}", wait_status_text(status))),
            }
        })
    });
    let kid = target.descendants(1)[0];
    target.wait_until("for the child to sleep", || proc_state(kid) == Some('S'));
    expect_refused(
        &mut target,
        KILL,
        libc::EOPNOTSUPP,
        &[SIGNALFD_WATCH],
        "checkpoint of an epoll whose watch of a signalfd the target's child added",
    );
    if proc_state(kid) != Some('S') {
        target.fail(format!(
            "the child is in state {:?} after the refusal, should be asleep",
            proc_state(kid)
        ));
    }
    let send = |sig: libc::c_int| {
        // SAFETY: kill takes integers; `kid` is the target's child, which it reaps only once
        // woken, after this.
        if unsafe { libc::kill(kid, sig) } != 0 {
            target.fail(cr_tests::os_error(format!("kill({kid}, {sig})")));
        }
    };
    send(libc::SIGUSR1);
    // Asleep in epoll_wait() when the signal comes: its wakeup is what is tested. A child that
    // ended instead is reported by the target.
    target.wait_until("for the child to sleep in epoll_wait()", || {
        in_epoll_wait(kid) || matches!(proc_state(kid), None | Some('Z'))
    });
    send(SIGNAL);
    // Before the target is woken: a signal to the target would wake a watch on its signals
    // too, and the child's epoll_wait(), woken, would find the child's SIGUSR2.
    target.wait_until("for the child to end", || {
        matches!(proc_state(kid), None | Some('Z'))
    });
    target.finish();
}

/// A container whose epoll watches a pipe's read end that only the test holds: it closes the
/// pipe when first woken, after the test took its ends, and checks its epoll when woken again.
fn container_watching_outside_pipe() {
    let mut target = Target::spawn_container(|| {
        pipe_with_hello()?;
        epoll_watching(READ_END)?;
        Ok(|| {
            wait_restored();
            restored_flag().store(false, Ordering::SeqCst);
            close(WRITE_END);
            close(READ_END);
            wait_restored();
            still_reports()
        })
    });
    let pid = target.pid();
    let taken = [READ_END, WRITE_END].map(|fd| take_fd(pid, fd).unwrap_or_else(|e| target.fail(e)));
    target.wake();
    let read_end = format!("/proc/{pid}/fd/{READ_END}");
    target.wait_until("for the container to close the pipe", || {
        !std::path::Path::new(&read_end).exists()
    });
    target.wait_state("S", "to sleep again after closing the pipe");
    expect_refused(
        &mut target,
        0,
        libc::EBUSY,
        &["watches a file"],
        "checkpoint of a container whose epoll watches a pipe only the test holds",
    );
    target.finish();
    for fd in taken {
        close(fd);
    }
}

/// A container's eventfd that an epoll of the test watches; the same checkpoint succeeds once
/// the test closed its epoll.
fn container_watched_by_test() {
    let mut target = Target::spawn_container(|| {
        eventfd_at_three()?;
        Ok(|| {
            wait_restored();
            still_three()
        })
    });
    let ep = watch_with_epoll(target.pid(), EVENTFD).unwrap_or_else(|e| target.fail(e));
    expect_refused(
        &mut target,
        0,
        libc::EBUSY,
        &["watched by an epoll"],
        "checkpoint of a container whose eventfd an epoll of the test watches",
    );
    close(ep);
    target.checkpoint(0);
    target.finish();
}

fn main() {
    refused_with_sibling(
        watching_outside_pipe,
        still_reports,
        "watches a file",
        "checkpoint of an epoll watching a pipe held only outside the tree",
    );
    refused_with_sibling(
        watched_from_outside,
        still_three,
        "watched by an epoll",
        "checkpoint of an eventfd watched by an epoll outside the tree",
    );
    let epoll = |pid| watch_with_epoll(pid, READ_END).map(|ep| vec![ep]);
    refused_while_used(
        pipe_with_hello,
        still_hello,
        epoll,
        KILL,
        "watched by an epoll",
    );
    watch_added_by_child();
    container_watching_outside_pipe();
    container_watched_by_test();
    pass("an epoll watching a file held only outside the tree, a file watched by an epoll outside it (EOPNOTSUPP, EBUSY in a container), and an epoll whose watch of a signalfd a child added are refused by name; the targets run on, the child's watch still woken by its signal");
}
