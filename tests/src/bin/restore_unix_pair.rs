//! Unix socket pairs come back with their messages, state and options, shared by the
//! processes that hold them. The target makes every pair, so that SO_PEERCRED names it, and
//! forks a child. Of five pairs the child holds the second socket and the target the first:
//!
//! - A, stream: the child set SO_SNDBUF 65536 on its socket and wrote "alpha", "beta",
//!   "gamma" and 70000 bytes of pattern, of which the target read "al" and made its socket
//!   non-blocking (fcntl); the target wrote "ping". After the restart the target reads "pha"
//!   (the rest of the buffer it read from), "beta", "gamma" and the pattern, then EAGAIN; the
//!   child reads "ping". SO_PEERCRED gives both the target's pid, uid 0 and gid 0;
//! - B, seqpacket: the child sent "one", "" and "three", received whole after the restart;
//!   SO_RCVTIMEO 2.5 s on the target's socket;
//! - C, datagram: the child sent datagrams of 1, 1000 and 60000 bytes, received whole; the
//!   target set SO_PEEK_OFF 0 on its socket and peeked with 10 bytes of room, which moved the
//!   offset past the first datagram (1): after the restart the offset is the same, and a peek
//!   sees the second datagram;
//! - G, stream: the child filled its socket with non-blocking writes until EAGAIN and sleeps
//!   across the checkpoint in a blocking write of 100 bytes more, which completes once the
//!   target has read what G held;
//! - W, stream: the child says on it how much it filled G with, and "done" at its end; the
//!   target's socket has SO_RCVLOWAT 3 and the target sleeps in a recv() of it across the
//!   checkpoint, until SIGUSR1 ends it (EINTR).
//!
//! The target holds both sockets of the others:
//!
//! - D, stream: D1 wrote "bye" and was shut down for writes, and has SO_PASSCRED (its queue
//!   empty): D0 reads "bye" then the end, a send on D1 is EPIPE, D1 receives D0's "back".
//!   D0 was given SO_PASSCRED after "bye" came, which came without its sender's credentials:
//!   a peek at it with SO_PASSCRED gives pid 0 and the overflow ids, after the restart too;
//! - E, stream: E1 wrote "last" and was closed: E0 reads "last" then the end, a send is
//!   EPIPE;
//! - F, datagram: F1 sent "x" and was closed: F0 receives "x", then a send is ECONNREFUSED;
//! - R, stream: R1 was closed with a message unread: R0 has ECONNRESET pending (SO_ERROR,
//!   once), then the end;
//! - a stream and a datagram socket made by socket(2), connected to none: SO_TYPE, and
//!   getpeername() is ENOTCONN;
//! - O, stream, made under fsuid and fsgid 1000, which stay its sockets' owner and group.
//!
//! Then A alone in a container, whose init makes it and forks the child: SO_PEERCRED gives
//! both pid 1, as before the checkpoint.

use std::os::fd::RawFd;

use cr_tests::target::{fork_checker, unblock_restore_signal, was_woken};
use cr_tests::tree::{wake_and_reap, Ready};
use cr_tests::unix::{
    check_is_socket, close_all, getsockopt_int, getsockopt_timeval, pattern, peek_creds, peercred,
    peername, recv, recv_exact, recv_within, send, send_all, set_nonblock, setsockopt_int,
    setsockopt_timeval, shutdown, socket_at, socketpair_at,
};
use cr_tests::{
    check_byte_pattern, check_eq, check_fd_flags, check_os, fstat, pass, read_exact, wait_restored,
    write_all, Check, Target, CONTAINER_KILL,
};

const A0: RawFd = 40;
const A1: RawFd = 41;
const B0: RawFd = 42;
const B1: RawFd = 43;
const C0: RawFd = 44;
const C1: RawFd = 45;
const G0: RawFd = 46;
const G1: RawFd = 47;
const W0: RawFd = 48;
const W1: RawFd = 49;
/// What SCM_CREDENTIALS says of a message sent without its sender's credentials.
const NO_CREDS: (libc::pid_t, libc::uid_t, libc::gid_t) = (0, 65534, 65534);
const D0: RawFd = 50;
const D1: RawFd = 51;
const E0: RawFd = 52;
const E1: RawFd = 53;
const F0: RawFd = 54;
const F1: RawFd = 55;
const R0: RawFd = 56;
const R1: RawFd = 57;
const LONE_STREAM: RawFd = 58;
const LONE_DGRAM: RawFd = 59;
const O0: RawFd = 60;
const O1: RawFd = 61;

/// The sockets of the pairs the child holds, and the target's.
const CHILDS: [RawFd; 5] = [A1, B1, C1, G1, W1];
const TARGETS: [RawFd; 5] = [A0, B0, C0, G0, W0];

/// What the child writes to A before the pattern, in three writes, and how much of it the
/// target reads before the checkpoint.
const WORDS: [&[u8]; 3] = [b"alpha", b"beta", b"gamma"];
const READ_EARLY: usize = 2;
const PATTERN_LEN: usize = 70000;
const PING: &[u8] = b"ping";
const SNDBUF: libc::c_int = 65536;

/// B's messages.
const MESSAGES: [&[u8]; 3] = [b"one", b"", b"three"];
const RCVTIMEO: (i64, i64) = (2, 500_000);

/// C's datagrams: their lengths (their bytes are the pattern, each from its own offset),
/// and the room of the peek before the checkpoint.
const DATAGRAMS: [usize; 3] = [1, 1000, 60000];
const PEEK: usize = 10;

/// G: the size of the child's non-blocking writes, and of its last, blocking one.
const FILL_CHUNK: usize = 4096;
const TAIL: usize = 100;
const RCVLOWAT: libc::c_int = 3;
const DONE: &[u8] = b"done";

const OWNER: u32 = 1000;
/// Room for any message of the test.
const ROOM: usize = 1 << 17;

/// C's datagram `i`: the pattern from the sum of the lengths before it.
fn datagram(i: usize) -> Vec<u8> {
    pattern(DATAGRAMS[..i].iter().sum(), DATAGRAMS[i])
}

/// The pid, uid and gid SO_PEERCRED of a socket of a pair `maker` made must give.
fn check_peercred(fd: RawFd, what: &str, maker: libc::pid_t) -> Check {
    check_eq(
        format_args!("SO_PEERCRED of {what} (pid, uid, gid)"),
        peercred(fd)?,
        (maker, 0, 0),
    )
}

/// A in the child, before the checkpoint: SO_SNDBUF, then the words and the pattern. Returns
/// the SO_SNDBUF getsockopt() gives.
fn a_child_setup() -> Result<libc::c_int, String> {
    setsockopt_int(A1, libc::SO_SNDBUF, SNDBUF)?;
    let sndbuf = getsockopt_int(A1, libc::SO_SNDBUF)?;
    check_eq("A1's SO_SNDBUF as set", sndbuf, 2 * SNDBUF)?;
    for word in WORDS {
        write_all(A1, word)?;
    }
    write_all(A1, &pattern(0, PATTERN_LEN))?;
    Ok(sndbuf)
}

/// A in the child, after the restart: "ping", the pair's maker (the child's parent) and
/// SO_SNDBUF as it was.
fn a_child_check(sndbuf: libc::c_int) -> Check {
    check_eq("A1's bytes", recv_exact(A1, PING.len())?, PING.to_vec())?;
    // SAFETY: getppid has no preconditions.
    check_peercred(A1, "A1 (the child's)", unsafe { libc::getppid() })?;
    check_eq(
        "A1's SO_SNDBUF",
        getsockopt_int(A1, libc::SO_SNDBUF)?,
        sndbuf,
    )
}

/// A in the target, before the checkpoint, once the child wrote: reads the first bytes,
/// makes its socket non-blocking and writes "ping". Returns its pid, which SO_PEERCRED gives.
fn a_target_setup() -> Result<libc::pid_t, String> {
    check_eq(
        "A0's first bytes",
        read_exact(A0, READ_EARLY)?,
        WORDS[0][..READ_EARLY].to_vec(),
    )?;
    set_nonblock(A0, true)?;
    write_all(A0, PING)?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    check_peercred(A0, "A0 before the checkpoint", me)?;
    Ok(me)
}

/// A in the target, after the restart: non-blocking still, the rest of the first buffer,
/// the other words and the pattern, then nothing; SO_PEERCRED gives its pid, `me`.
fn a_target_check(me: libc::pid_t) -> Check {
    check_is_socket(A0)?;
    check_fd_flags(A0, libc::O_RDWR | libc::O_NONBLOCK, false)?;
    // SAFETY: getpid has no preconditions.
    check_eq("getpid() after the restart", unsafe { libc::getpid() }, me)?;
    check_peercred(A0, "A0 (the target's)", me)?;
    // One read of the first buffer's unread bytes gives them alone.
    let rest = &WORDS[0][READ_EARLY..];
    check_eq(
        "A0's first read",
        recv_within(A0, rest.len(), 0)?,
        rest.to_vec(),
    )?;
    for word in &WORDS[1..] {
        check_eq("A0's next word", recv_exact(A0, word.len())?, word.to_vec())?;
    }
    check_byte_pattern("A0", &recv_exact(A0, PATTERN_LEN)?, 0)?;
    check_eq("recv of the drained A0", recv(A0, 16, 0), Err(libc::EAGAIN))
}

/// B and C in the child: the messages and the datagrams.
fn b_c_child_setup() -> Check {
    for m in MESSAGES {
        send_all(B1, m)?;
    }
    for i in 0..DATAGRAMS.len() {
        send_all(C1, &datagram(i))?;
    }
    Ok(())
}

/// B in the target, before the checkpoint: SO_RCVTIMEO.
fn b_target_setup() -> Check {
    setsockopt_timeval(B0, libc::SO_RCVTIMEO, RCVTIMEO)
}

/// B in the target, after the restart: SO_RCVTIMEO, each message whole, then nothing.
fn b_target_check() -> Check {
    check_eq(
        "B0's SO_RCVTIMEO (tv_sec, tv_usec)",
        getsockopt_timeval(B0, libc::SO_RCVTIMEO)?,
        RCVTIMEO,
    )?;
    for (i, m) in MESSAGES.iter().enumerate() {
        check_eq(
            format_args!("B0's message {i}"),
            recv_within(B0, ROOM, 0)?,
            m.to_vec(),
        )?;
    }
    check_eq(
        "recv of the drained B0",
        recv(B0, ROOM, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )
}

/// C in the target, before the checkpoint: SO_PEEK_OFF 0 and a peek, which gets the first
/// datagram and moves the offset past it. Returns the offset.
fn c_target_setup() -> Result<libc::c_int, String> {
    setsockopt_int(C0, libc::SO_PEEK_OFF, 0)?;
    check_eq(
        "C0's peek",
        recv_within(C0, PEEK, libc::MSG_PEEK)?,
        datagram(0),
    )?;
    let off = getsockopt_int(C0, libc::SO_PEEK_OFF)?;
    check_eq(
        "C0's SO_PEEK_OFF after the peek",
        off,
        DATAGRAMS[0] as libc::c_int,
    )?;
    Ok(off)
}

/// C in the target, after the restart: the peek offset as it was, a peek from there (the
/// second datagram's start), then each datagram whole and nothing more.
fn c_target_check(peek_off: libc::c_int) -> Check {
    check_eq(
        "C0's SO_PEEK_OFF",
        getsockopt_int(C0, libc::SO_PEEK_OFF)?,
        peek_off,
    )?;
    check_eq(
        "C0's peek after the restart (from SO_PEEK_OFF, past the first datagram)",
        recv_within(C0, PEEK, libc::MSG_PEEK)?,
        datagram(1)[..PEEK].to_vec(),
    )?;
    check_eq(
        "C0's SO_PEEK_OFF after that peek",
        getsockopt_int(C0, libc::SO_PEEK_OFF)?,
        peek_off + PEEK as libc::c_int,
    )?;
    for (i, &len) in DATAGRAMS.iter().enumerate() {
        let got = recv_within(C0, ROOM, 0)?;
        check_eq(format_args!("C0's datagram {i} length"), got.len(), len)?;
        check_eq(format_args!("C0's datagram {i}"), got, datagram(i))?;
    }
    check_eq(
        "recv of the drained C0",
        recv(C0, ROOM, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )
}

/// G in the child: fills its socket with non-blocking writes of the pattern until EAGAIN,
/// and makes it blocking again. Returns how many bytes it wrote.
fn fill_g() -> Result<usize, String> {
    set_nonblock(G1, true)?;
    let mut count = 0;
    loop {
        match send(G1, &pattern(count, FILL_CHUNK), libc::MSG_NOSIGNAL) {
            Ok(n) => count += n,
            Err(libc::EAGAIN) => break,
            Err(e) => {
                return Err(format!(
                    "a write filling G: {}",
                    cr_tests::describe_errno(e)
                ))
            }
        }
        if count > 64 << 20 {
            return Err("G takes more than 64 MiB without EAGAIN".into());
        }
    }
    set_nonblock(G1, false)?;
    Ok(count)
}

/// The child: its writes, then its blocking write into the full G, asleep across the
/// checkpoint, then its checks.
fn child() -> Check {
    close_all(&TARGETS);
    let sndbuf = a_child_setup()?;
    b_c_child_setup()?;
    let filled = fill_g()?;
    send_all(W1, &(filled as u64).to_ne_bytes())?;
    // Asleep here across the checkpoint and the restart, until the target reads G.
    write_all(G1, &pattern(filled, TAIL))?;
    a_child_check(sndbuf)?;
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    for (fd, what) in [(B1, "B1"), (C1, "C1"), (G1, "G1"), (W1, "W1")] {
        check_peercred(fd, what, parent)?;
    }
    send_all(W1, DONE)
}

/// The pairs the target holds alone, before the checkpoint.
fn own_pairs_setup() -> Check {
    socketpair_at(libc::SOCK_STREAM, D0, D1)?;
    write_all(D1, b"bye")?;
    shutdown(D1, libc::SHUT_WR)?;
    setsockopt_int(D1, libc::SO_PASSCRED, 1)?;
    setsockopt_int(D0, libc::SO_PASSCRED, 1)?;
    check_eq("the credentials of D0's bytes", peek_creds(D0)?, NO_CREDS)?;

    socketpair_at(libc::SOCK_STREAM, E0, E1)?;
    write_all(E1, b"last")?;
    close_all(&[E1]);

    socketpair_at(libc::SOCK_DGRAM, F0, F1)?;
    send_all(F1, b"x")?;
    close_all(&[F1]);

    socketpair_at(libc::SOCK_STREAM, R0, R1)?;
    write_all(R0, b"unread")?;
    close_all(&[R1]);

    socket_at(libc::SOCK_STREAM, LONE_STREAM)?;
    socket_at(libc::SOCK_DGRAM, LONE_DGRAM)?;

    // SAFETY: setfsuid and setfsgid take integers; the fs ids are ours again after.
    unsafe {
        libc::setfsgid(OWNER);
        libc::setfsuid(OWNER);
    }
    let owned = socketpair_at(libc::SOCK_STREAM, O0, O1);
    // SAFETY: as above.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
    }
    owned
}

/// D, E, F and R after the restart; the target, `me`, made them.
fn closed_pairs_check(me: libc::pid_t) -> Check {
    for (fd, what) in [(D0, "D0"), (D1, "D1"), (E0, "E0"), (F0, "F0"), (R0, "R0")] {
        check_peercred(fd, what, me)?;
    }
    check_eq(
        "D0's SO_PASSCRED",
        getsockopt_int(D0, libc::SO_PASSCRED)?,
        1,
    )?;
    check_eq("the credentials of D0's bytes", peek_creds(D0)?, NO_CREDS)?;
    check_eq("D0's bytes", recv_exact(D0, 3)?, b"bye".to_vec())?;
    check_eq("D0 after them", recv_within(D0, 16, 0)?, vec![])?;
    check_eq(
        "send on D1, shut down for writes",
        send(D1, b"more", libc::MSG_NOSIGNAL),
        Err(libc::EPIPE),
    )?;
    check_eq(
        "D1's SO_PASSCRED",
        getsockopt_int(D1, libc::SO_PASSCRED)?,
        1,
    )?;
    send_all(D0, b"back")?;
    check_eq("D1's bytes", recv_exact(D1, 4)?, b"back".to_vec())?;

    check_eq("E0's SO_ERROR", getsockopt_int(E0, libc::SO_ERROR)?, 0)?;
    check_eq("E0's bytes", recv_exact(E0, 4)?, b"last".to_vec())?;
    check_eq("E0 after them", recv_within(E0, 16, 0)?, vec![])?;
    check_eq(
        "send on E0, whose peer is closed",
        send(E0, b"more", libc::MSG_NOSIGNAL),
        Err(libc::EPIPE),
    )?;

    check_eq("F0's datagram", recv_within(F0, ROOM, 0)?, b"x".to_vec())?;
    check_eq(
        "send on F0, whose peer is closed",
        send(F0, b"y", libc::MSG_NOSIGNAL),
        Err(libc::ECONNREFUSED),
    )?;

    check_eq(
        "R0's SO_ERROR",
        getsockopt_int(R0, libc::SO_ERROR)?,
        libc::ECONNRESET,
    )?;
    check_eq(
        "R0's SO_ERROR once read",
        getsockopt_int(R0, libc::SO_ERROR)?,
        0,
    )?;
    check_eq("R0 at its end", recv_within(R0, 16, 0)?, vec![])
}

/// The lone sockets and O after the restart; the target, `me`, made O.
fn lone_and_owned_check(me: libc::pid_t) -> Check {
    for (fd, ty, what) in [
        (LONE_STREAM, libc::SOCK_STREAM, "the lone stream socket"),
        (LONE_DGRAM, libc::SOCK_DGRAM, "the lone datagram socket"),
    ] {
        check_is_socket(fd)?;
        check_eq(
            format_args!("{what}'s SO_DOMAIN"),
            getsockopt_int(fd, libc::SO_DOMAIN)?,
            libc::AF_UNIX,
        )?;
        check_eq(
            format_args!("{what}'s SO_TYPE"),
            getsockopt_int(fd, libc::SO_TYPE)?,
            ty,
        )?;
        check_eq(
            format_args!("getpeername of {what}"),
            peername(fd),
            Err(libc::ENOTCONN),
        )?;
        check_eq(
            format_args!("the pid SO_PEERCRED of {what} gives"),
            peercred(fd)?.0,
            0,
        )?;
    }
    check_eq(
        "the lone stream socket's SO_ACCEPTCONN",
        getsockopt_int(LONE_STREAM, libc::SO_ACCEPTCONN)?,
        0,
    )?;
    for (fd, what) in [(O0, "O0"), (O1, "O1")] {
        let st = fstat(fd)?;
        check_eq(
            format_args!("{what}'s file type"),
            st.st_mode & libc::S_IFMT,
            libc::S_IFSOCK,
        )?;
        check_eq(
            format_args!("{what}'s owner and group"),
            (st.st_uid, st.st_gid),
            (OWNER, OWNER),
        )?;
        check_peercred(fd, what, me)?;
    }
    Ok(())
}

/// What the target found before the checkpoint, to compare after the restart.
struct Before {
    me: libc::pid_t,
    kid: libc::pid_t,
    peek_off: libc::c_int,
    filled: usize,
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    socketpair_at(libc::SOCK_STREAM, A0, A1)?;
    socketpair_at(libc::SOCK_SEQPACKET, B0, B1)?;
    socketpair_at(libc::SOCK_DGRAM, C0, C1)?;
    socketpair_at(libc::SOCK_STREAM, G0, G1)?;
    socketpair_at(libc::SOCK_STREAM, W0, W1)?;
    let kid = fork_checker(child)?;
    close_all(&CHILDS);
    // Once the child says how much G holds, it has written everything else too.
    let filled = recv_exact(W0, 8)?;
    let filled = u64::from_ne_bytes(filled.try_into().unwrap_or_default()) as usize;
    setsockopt_int(W0, libc::SO_RCVLOWAT, RCVLOWAT)?;

    let me = a_target_setup()?;
    b_target_setup()?;
    let peek_off = c_target_setup()?;
    own_pairs_setup()?;
    let before = Before {
        me,
        kid,
        peek_off,
        filled,
    };
    Ok(move || {
        unblock_restore_signal()?;
        // Asleep here across the checkpoint and the restart, until SIGUSR1.
        let r = recv(W0, 16, 0);
        check_eq("the recv of W0 that SIGUSR1 ends", r, Err(libc::EINTR))?;
        if !was_woken() {
            return Err("the recv of W0 ended before SIGUSR1".into());
        }
        check(before)
    })
}

/// In the target, after the restart.
fn check(before: Before) -> Check {
    a_target_check(before.me)?;
    b_target_check()?;
    c_target_check(before.peek_off)?;
    check_eq(
        "W0's SO_RCVLOWAT",
        getsockopt_int(W0, libc::SO_RCVLOWAT)?,
        RCVLOWAT,
    )?;
    // The child's write goes through once there is room.
    let g = recv_exact(G0, before.filled + TAIL)?;
    check_byte_pattern("G0", &g, 0)?;
    check_eq("W0's bytes", recv_exact(W0, DONE.len())?, DONE.to_vec())?;
    let mut status = 0;
    // SAFETY: waits for our own child.
    let r = unsafe { libc::waitpid(before.kid, &mut status, 0) };
    check_os(r, "waitpid")?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("the child ended with status {status:#x}"));
    }
    // The child's G1 is closed with it: nothing more than its writes.
    check_eq(
        "G0 after them",
        recv(G0, 16, libc::MSG_DONTWAIT),
        Ok(vec![]),
    )?;
    closed_pairs_check(before.me)?;
    lone_and_owned_check(before.me)
}

/// The container's init: makes A, forks the child, which writes to it, and reads from it as
/// the target does.
fn container_setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    check_eq("the container's init pid", unsafe { libc::getpid() }, 1)?;
    socketpair_at(libc::SOCK_STREAM, A0, A1)?;
    let ready = Ready::new()?;
    let kid = ready.fork(0, |_| {
        close_all(&[A0]);
        let sndbuf = a_child_setup()?;
        Ok(move || a_child_check(sndbuf))
    })?;
    close_all(&[A1]);
    ready.wait(1)?;
    let me = a_target_setup()?;
    Ok(move || {
        wait_restored();
        a_target_check(me)?;
        wake_and_reap(&[kid])
    })
}

fn subtree() {
    let mut target = Target::spawn(setup);
    target.restart_with_children_asleep(1, "for the child to sleep in its write to G");
    target.finish();
}

fn container() {
    let mut target = Target::spawn_container(container_setup);
    target.checkpoint(CONTAINER_KILL);
    target.restart();
    target.finish();
}

fn main() {
    subtree();
    container();
    pass("unix socket pairs (stream, seqpacket, datagram) come back with their messages and boundaries (a partly read buffer's rest), shutdown state, pending error, O_NONBLOCK, SO_SNDBUF, SO_RCVTIMEO, SO_RCVLOWAT, SO_PEEK_OFF, SO_PASSCRED, owner and SO_PEERCRED, shared by the target and its child, whose write sleeps on; pairs whose other socket was closed give their messages then the end (EPIPE, ECONNREFUSED, ECONNRESET); lone sockets stay unconnected; in a container SO_PEERCRED keeps pid 1");
}
