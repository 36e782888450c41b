//! Leak detection: a container is refused with EBUSY before anything is written, with a kernel
//! log line naming the object, while something outside it holds one of its objects: an open
//! file (the test takes a copy of the container's fd 1 with pidfd_getfd()), shared memory the
//! container inherited from the test, a process that entered the container's pid namespace
//! with setns(). Each time the container runs on, and once the outside holder lets go the same
//! checkpoint succeeds: the refusal was about that object.
//!
//! The ends of what the container talks through are leaks too, which a subtree's checkpoint
//! refuses as not supported (EOPNOTSUPP) and a container's as leaks (EBUSY, and no log line
//! says "is not supported"); the container shares the test's network namespace, so abstract
//! names reach from one to the other:
//!
//! - a pipe whose write end only the test holds (the container made the pipe and handed the
//!   end over by SCM_RIGHTS): leak detection counts the pipe's files, "the pipe is also open
//!   outside the tree (1 more files)"; the test writes "hello" and closes its end, the
//!   checkpoint succeeds, the container reads "hello" and the end;
//! - a stream socket pair whose other socket only the test holds, handed over the same way:
//!   "the unix socket pair is also open outside the tree (1 more files)"; the same afterwards;
//! - a datagram socket connected by an abstract name to one that only the test has bound:
//!   "a unix socket connected to a socket outside the tree"; afterwards it still names the
//!   test's socket as its peer and sends to it.
//!
//! (A connection waiting between a socket of the container and one outside that the process
//! outside made is refused as not supported in both modes: its peer credentials name that
//! process, which restart could not name; checkpoint_refuses_unix_socket covers it.)

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use cr_tests::unix::{
    bind, check_end, close_all, connect, peer_name, recv_with_fd, recv_within, send, send_with_fd,
    socket_at, socketpair_at,
};
use cr_tests::{
    check_eq, fail, log_names, os_error, pass, pipe_at, read_exact, read_some, sys, wait_restored,
    write_all, Check, Target,
};

/// The container's fd of what it shares with the outside: a pipe's read end, a socket.
const OURS: RawFd = 37;
/// The container's fd of what it hands to the test, until it is sent.
const THEIRS: RawFd = 38;
/// The container's socket that sends [`THEIRS`] to the test.
const COURIER: RawFd = 39;
/// The test's socket of a case: its inbox for what the container hands out, or its datagram
/// socket.
const TEST_SOCK: RawFd = 40;

/// What goes through the pipes and sockets.
const HELLO: &[u8] = b"hello";

/// A container whose init only waits to be woken.
fn container() -> Target {
    container_with(|| Ok(()), || Ok(()))
}

/// A container whose init runs `setup`, then, once woken, `works`.
fn container_with(setup: impl FnOnce() -> Check, works: impl FnOnce() -> Check) -> Target {
    Target::spawn_container(move || {
        setup()?;
        Ok(move || {
            wait_restored();
            works()
        })
    })
}

/// An abstract name of the test's own, made of `what` (the test's pid: the container's own is
/// 1).
fn abstract_name(what: &str) -> Vec<u8> {
    format!("\0cr-container-leaks-{what}-{}", std::process::id()).into_bytes()
}

/// Checkpoint (no kill) must fail with EBUSY and a log line holding each of `words`, and no
/// line may call it "not supported": a container must hold all it uses, what it shares with
/// the outside is a leak. The container must run on.
fn expect_leak(target: &mut Target, words: &[&str], what: &str) {
    let result = target.try_checkpoint(0);
    target.expect_checkpoint_errno(result, libc::EBUSY, what);
    if let Some(w) = words.iter().find(|w| !log_names(target.klog(), w)) {
        target.fail(format!("{what}: no kernel log line names {w:?}"));
    }
    if let Some(line) = target
        .klog()
        .iter()
        .find(|l| l.contains("is not supported"))
    {
        target.fail(format!("{what}: a leak logged as not supported: {line}"));
    }
    target.wait_state("S", "to sleep on after a refused checkpoint");
}

/// [`expect_leak`] of the container's [`OURS`]: its log line is "pid P: fd 37: `why`", P the
/// container's init.
fn expect_leak_of_ours(target: &mut Target, why: &str, what: &str) {
    let line = format!("pid {}: fd {OURS}: {why}", target.pid());
    expect_leak(target, &[&line], what);
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

/// In the container: sends its [`THEIRS`] to the test's socket bound to `inbox` (SCM_RIGHTS)
/// and closes its own fd of it, and the socket that sent it: only the test holds that file.
fn hand_out(inbox: &[u8]) -> Check {
    socket_at(libc::SOCK_DGRAM, COURIER)?;
    connect(COURIER, inbox)?;
    let sent = send_with_fd(COURIER, b"yours", THEIRS);
    close_all(&[COURIER, THEIRS]);
    sent
}

/// A container that runs `setup` with the name of the test's inbox, to which it hands a file
/// out ([`hand_out`]), then, once woken, `works`; with that file, the test's now.
fn handing_out(
    setup: impl FnOnce(&[u8]) -> Check,
    works: impl FnOnce() -> Check,
) -> (Target, OwnedFd) {
    let inbox = abstract_name("inbox");
    let bound = socket_at(libc::SOCK_DGRAM, TEST_SOCK).and_then(|()| bind(TEST_SOCK, &inbox));
    bound.unwrap_or_else(|e| fail(format!("the test's inbox: {e}")));
    let target = container_with(move || setup(&inbox), works);
    // Sent before the container said ready.
    let got = recv_with_fd(TEST_SOCK, 64, libc::MSG_DONTWAIT);
    close_all(&[TEST_SOCK]);
    match got {
        Ok((_, Some(file))) => (target, file),
        Ok((bytes, None)) => target.fail(format!(
            "the container's message {bytes:?} came without a file"
        )),
        Err(e) => target.fail(format!("the file the container handed out: {e}")),
    }
}

/// Writes [`HELLO`] into the test's end `theirs` and closes it: the container's checkpoint
/// then succeeds, and the container, woken, reads [`HELLO`] and the end.
fn let_go_and_finish(mut target: Target, theirs: OwnedFd) {
    write_all(theirs.as_raw_fd(), HELLO).unwrap_or_else(|e| target.fail(e));
    drop(theirs);
    target.checkpoint(0);
    target.finish();
}

/// A pipe whose read end the container holds and whose write end only the test does: the
/// container's file is its own, but the pipe behind it has another file outside.
fn pipe_end_outside() {
    let (mut target, write_end) = handing_out(
        |inbox| {
            pipe_at(OURS, THEIRS, 0)?;
            hand_out(inbox)
        },
        || {
            check_eq(
                "what the pipe holds",
                read_exact(OURS, HELLO.len())?,
                HELLO.to_vec(),
            )?;
            check_eq("a read of the pipe past its bytes", read_some(OURS), Ok(0))
        },
    );
    let why = "the pipe is also open outside the tree (1 more files)";
    expect_leak_of_ours(
        &mut target,
        why,
        "a container's pipe whose write end only the test holds",
    );
    let_go_and_finish(target, write_end);
}

/// A stream socket pair the container made, whose other socket only the test holds.
fn pair_end_outside() {
    let (mut target, theirs) = handing_out(
        |inbox| {
            socketpair_at(libc::SOCK_STREAM, OURS, THEIRS)?;
            hand_out(inbox)
        },
        || {
            let got = recv_within(OURS, 64, 0)?;
            check_eq("what the socket reads", got, HELLO.to_vec())?;
            check_end("the socket", OURS)
        },
    );
    let why = "the unix socket pair is also open outside the tree (1 more files)";
    expect_leak_of_ours(
        &mut target,
        why,
        "a container's socket pair whose other socket only the test holds",
    );
    let_go_and_finish(target, theirs);
}

/// A datagram socket of the container connected (connect()) by an abstract name to a
/// datagram socket of the test's, bound before the container was spawned; it sent
/// [`HELLO`]. After the refusal it still names that socket as its peer and sends "more";
/// the test receives both.
fn connected_outside() {
    let name = abstract_name("server");
    let bound = socket_at(libc::SOCK_DGRAM, TEST_SOCK).and_then(|()| bind(TEST_SOCK, &name));
    bound.unwrap_or_else(|e| fail(format!("the test's datagram socket: {e}")));
    let to = name.clone();
    let mut target = container_with(
        move || {
            socket_at(libc::SOCK_DGRAM, OURS)?;
            connect(OURS, &to)?;
            check_eq(
                "send() of the greeting",
                send(OURS, HELLO, 0),
                Ok(HELLO.len()),
            )
        },
        move || {
            check_eq("getpeername()", peer_name(OURS)?, name)?;
            check_eq("send() after the refusal", send(OURS, b"more", 0), Ok(4))
        },
    );
    let why = "a unix socket connected to a socket outside the tree";
    expect_leak_of_ours(
        &mut target,
        why,
        "a container's datagram socket connected to the test's",
    );
    target.finish();
    for want in [HELLO, b"more"] {
        let got = recv_within(TEST_SOCK, 64, 0);
        check_eq("what the test's socket receives", got, Ok(want.to_vec()))
            .unwrap_or_else(|e| fail(e));
    }
    close_all(&[TEST_SOCK]);
}

fn main() {
    open_file();
    shared_memory();
    foreign_task();
    pipe_end_outside();
    pair_end_outside();
    connected_outside();
    pass("leaks of a file, shared memory, the pid namespace, a pipe's and a socket pair's other end, and a datagram socket's peer are refused with EBUSY, not as unsupported; the container runs on each time, and checkpoints once the file, memory, process or end outside is gone");
}
