//! Unix sockets bound to an abstract name and connected to none come back bound to the same
//! name: listeners with their backlog and SO_PEERCRED, and bound sockets that do not listen.
//! The target (names made of a tag: its pid, or the test's for a container, whose init is
//! pid 1) makes:
//!
//! - L (fd 40), stream, bound to "\0cr-listen-TAG", listen(2);
//! - Q (fd 41), seqpacket, autobound (bind() with only `sun_family`: the kernel chooses an
//!   abstract name, which getsockname() gives the target before the checkpoint), listen(5);
//! - B (fd 42), datagram, bound to "\0cr-dgram-TAG";
//! - E (fd 44), datagram, bound to "\0cr-left-TAG", which a datagram socket of the target
//!   connected to with connect(), then closed: unix_dgram_connect() left E established;
//! - F (fd 45), datagram, bound to "\0cr-conn-TAG", and D (fd 46), a datagram socket
//!   connected to F with connect();
//! - N (fd 43), stream, bound to "\0cr-idle-TAG", not listening.
//!
//! It checks, after the restart (and the original, in the first part, once the restart
//! failed):
//!
//! - getsockname() of each gives exactly its name, of its length (Q's the one the kernel
//!   chose); SO_TYPE its type; SO_ACCEPTCONN 1 for L and Q, 0 for B and N;
//! - SO_PEERCRED of L and Q gives the process that called listen(), the target: (its pid,
//!   0, 0); of B and N none (pid 0, uid and gid -1);
//! - L's backlog, 2: of four non-blocking stream sockets that connect to L's name, three
//!   succeed and the fourth fails with EAGAIN (unix_stream_connect() refuses once the
//!   listener's queue holds more than its backlog); the first client's SO_PEERCRED is the
//!   listener's, (target's pid, 0, 0); L accepts the three, each with L's name
//!   (getsockname()); the first client sends "ping" and the first accepted socket reads it
//!   and answers "pong", which the client reads;
//! - Q: a seqpacket socket connects to Q's name, Q accepts it, the client sends "record"
//!   and the accepted socket receives it whole, and answers "reply", received whole;
//! - B: an unbound datagram socket sends "hi" to B's name; B receives exactly "hi", then
//!   nothing more (EAGAIN);
//! - E: /proc/net/unix gives it state 3 (connected, as unix_dgram_connect() left it), and B
//!   state 1 (unconnected); E receives exactly "hi" that an unbound socket sent to its name;
//! - D: getpeername() gives F's name, /proc/net/unix state 3 for both; D sends "via" with
//!   send(), which F receives;
//! - N: bind() of a stream socket to N's name fails with EADDRINUSE, and connect() of
//!   another to it with ECONNREFUSED.
//!
//! First, a container target checkpointed without CKPT_KILL: its original keeps the names,
//! so the restart fails with EADDRINUSE and the log line "unix socket: cannot bind it to
//! @cr-listen-TAG: a socket has that name (EADDRINUSE)" (L, on the lowest fd, is the first
//! socket restart makes), and leaves no process (the test's only child is the original). The
//! original, woken, passes the checks; once it exited the same image restarts, and the
//! restored container passes them too (pid 1 in SO_PEERCRED). (A subtree checkpointed
//! without CKPT_KILL could not be restarted next to its original at all: its pid is taken.)
//! Then a target checkpointed with CKPT_KILL and restarted, through the image file and through
//! pipes, passes them.

use std::os::fd::RawFd;

use cr_tests::unix::{
    accept_at, bind, check_name, close_all, connect, getsockopt_int, listen, peer_name, peercred,
    proc_state, recv, recv_within, send, send_all, send_to, socket_at, sockname, try_bind,
    try_connect,
};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// The sockets under test: the stream listener, the seqpacket listener (autobound), the
/// bound datagram socket and the bound stream socket that does not listen. L comes first.
const L: RawFd = 40;
const Q: RawFd = 41;
const B: RawFd = 42;
const N: RawFd = 43;
/// The clients of L, non-blocking: three that get in, and the one the backlog keeps out.
const CLIENTS: [RawFd; 4] = [50, 51, 52, 53];
/// The connections L accepts, of the first three clients.
const ACCEPTED: [RawFd; 3] = [60, 61, 62];
/// Q's client and the connection Q accepts.
const Q_CLIENT: RawFd = 54;
const Q_ACCEPTED: RawFd = 63;
/// The unbound datagram socket that sends to B.
const B_SENDER: RawFd = 55;
/// The sockets that try N's name: with bind(), with connect().
const N_BINDER: RawFd = 56;
const N_CALLER: RawFd = 57;
/// The datagram socket another connected to, the one that did, and one that sends to it.
const E: RawFd = 44;
const E_CLIENT: RawFd = 58;
const E_SENDER: RawFd = 59;
/// A datagram socket bound to a name, and one connected to it.
const F: RawFd = 45;
const D: RawFd = 46;

/// L's backlog and Q's.
const L_BACKLOG: libc::c_int = 2;
const Q_BACKLOG: libc::c_int = 5;

/// What SO_PEERCRED gives of a socket that has no peer credentials (cred_to_ucred()).
const NO_CREDS: (libc::pid_t, libc::uid_t, libc::gid_t) = (0, u32::MAX, u32::MAX);
/// Room for any message of the test.
const ROOM: usize = 64;

/// The names of L, B, N, E and F, made of `tag`.
fn names(tag: libc::pid_t) -> [Vec<u8>; 5] {
    ["listen", "dgram", "idle", "left", "conn"]
        .map(|what| format!("\0cr-{what}-{tag}").into_bytes())
}

/// What the target found before the checkpoint, to compare after.
struct Saved {
    me: libc::pid_t,
    l_name: Vec<u8>,
    q_name: Vec<u8>,
    b_name: Vec<u8>,
    n_name: Vec<u8>,
    e_name: Vec<u8>,
    f_name: Vec<u8>,
}

fn setup(tag: libc::pid_t) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let [l_name, b_name, n_name, e_name, f_name] = names(tag);
    socket_at(libc::SOCK_STREAM, L)?;
    bind(L, &l_name)?;
    listen(L, L_BACKLOG)?;
    socket_at(libc::SOCK_SEQPACKET, Q)?;
    bind(Q, b"")?;
    listen(Q, Q_BACKLOG)?;
    let q_name = sockname(Q)?;
    if q_name.len() < 2 || q_name[0] != 0 {
        return Err(format!(
            "the autobound name of Q should be abstract, is {q_name:?}"
        ));
    }
    socket_at(libc::SOCK_DGRAM, B)?;
    bind(B, &b_name)?;
    socket_at(libc::SOCK_STREAM, N)?;
    bind(N, &n_name)?;
    socket_at(libc::SOCK_DGRAM, E)?;
    bind(E, &e_name)?;
    socket_at(libc::SOCK_DGRAM, E_CLIENT)?;
    connect(E_CLIENT, &e_name)?;
    close_all(&[E_CLIENT]);
    socket_at(libc::SOCK_DGRAM, F)?;
    bind(F, &f_name)?;
    socket_at(libc::SOCK_DGRAM, D)?;
    connect(D, &f_name)?;
    let saved = Saved {
        me,
        l_name,
        q_name,
        b_name,
        n_name,
        e_name,
        f_name,
    };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// Each socket's name, type, SO_ACCEPTCONN and SO_PEERCRED.
fn check_sockets(s: &Saved) -> Check {
    let me = (s.me, 0, 0);
    for (what, fd, name, ty, listening, creds) in [
        ("L", L, &s.l_name, libc::SOCK_STREAM, 1, me),
        ("Q", Q, &s.q_name, libc::SOCK_SEQPACKET, 1, me),
        ("B", B, &s.b_name, libc::SOCK_DGRAM, 0, NO_CREDS),
        ("N", N, &s.n_name, libc::SOCK_STREAM, 0, NO_CREDS),
    ] {
        check_name(what, fd, name)?;
        check_eq(
            format_args!("SO_TYPE of {what}"),
            getsockopt_int(fd, libc::SO_TYPE)?,
            ty,
        )?;
        check_eq(
            format_args!("SO_ACCEPTCONN of {what}"),
            getsockopt_int(fd, libc::SO_ACCEPTCONN)?,
            listening,
        )?;
        check_eq(
            format_args!("SO_PEERCRED of {what} (pid, uid, gid)"),
            peercred(fd)?,
            creds,
        )?;
    }
    Ok(())
}

/// L takes [`L_BACKLOG`] + 1 connections and refuses one more; accepts them; one works both
/// ways.
fn check_backlog(s: &Saved) -> Check {
    let [first, .., last] = CLIENTS;
    for (i, &c) in CLIENTS.iter().enumerate() {
        socket_at(libc::SOCK_STREAM | libc::SOCK_NONBLOCK, c)?;
        let want = match c == last {
            true => Err(libc::EAGAIN),
            false => Ok(()),
        };
        check_eq(
            format_args!(
                "non-blocking connect() {} of 4 to L (backlog {L_BACKLOG})",
                i + 1
            ),
            try_connect(c, &s.l_name),
            want,
        )?;
    }
    check_eq(
        "SO_PEERCRED of the first client of L (pid, uid, gid)",
        peercred(first)?,
        (s.me, 0, 0),
    )?;
    for a in ACCEPTED {
        accept_at(L, a)?;
        check_name("a connection L accepted", a, &s.l_name)?;
    }
    send_all(first, b"ping")?;
    check_eq(
        "what the first connection L accepted reads",
        recv_within(ACCEPTED[0], ROOM, 0)?,
        b"ping".to_vec(),
    )?;
    send_all(ACCEPTED[0], b"pong")?;
    check_eq(
        "what the first client of L reads",
        recv_within(first, ROOM, 0)?,
        b"pong".to_vec(),
    )
}

/// Q accepts a seqpacket connection, which carries one record each way.
fn check_seqpacket(s: &Saved) -> Check {
    socket_at(libc::SOCK_SEQPACKET, Q_CLIENT)?;
    connect(Q_CLIENT, &s.q_name)?;
    accept_at(Q, Q_ACCEPTED)?;
    send_all(Q_CLIENT, b"record")?;
    check_eq(
        "the record Q's connection receives",
        recv_within(Q_ACCEPTED, ROOM, 0)?,
        b"record".to_vec(),
    )?;
    send_all(Q_ACCEPTED, b"reply")?;
    check_eq(
        "the record Q's client receives",
        recv_within(Q_CLIENT, ROOM, 0)?,
        b"reply".to_vec(),
    )
}

/// B receives a datagram sent to its name, and nothing else.
fn check_datagram(s: &Saved) -> Check {
    socket_at(libc::SOCK_DGRAM, B_SENDER)?;
    check_eq(
        "sendto() of \"hi\" to B's name",
        send_to(B_SENDER, b"hi", &s.b_name),
        Ok(2),
    )?;
    check_eq("what B receives", recv_within(B, ROOM, 0)?, b"hi".to_vec())?;
    check_eq(
        "a recv() of B after \"hi\"",
        recv(B, ROOM, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )
}

/// E is established, as the client that connected to it left it, B is not, and E receives a
/// datagram sent to its name.
fn check_left_established(s: &Saved) -> Check {
    check_eq("the state of B in /proc/net/unix", proc_state(B)?, 1)?;
    check_eq("the state of E in /proc/net/unix", proc_state(E)?, 3)?;
    check_name("E", E, &s.e_name)?;
    socket_at(libc::SOCK_DGRAM, E_SENDER)?;
    check_eq(
        "sendto() of \"hi\" to E's name",
        send_to(E_SENDER, b"hi", &s.e_name),
        Ok(2),
    )?;
    check_eq("what E receives", recv_within(E, ROOM, 0)?, b"hi".to_vec())
}

/// D is connected to F again: it names it as its peer, and what it sends goes there.
fn check_connected(s: &Saved) -> Check {
    check_eq("getpeername() of D", peer_name(D)?, s.f_name.clone())?;
    check_eq("the state of D in /proc/net/unix", proc_state(D)?, 3)?;
    check_eq("the state of F in /proc/net/unix", proc_state(F)?, 3)?;
    check_eq("send() of \"via\" on D", send(D, b"via", 0), Ok(3))?;
    check_eq("what F receives", recv_within(F, ROOM, 0)?, b"via".to_vec())
}

/// N has its name, and takes no connection.
fn check_idle(s: &Saved) -> Check {
    socket_at(libc::SOCK_STREAM, N_BINDER)?;
    check_eq(
        "bind() of another stream socket to N's name",
        try_bind(N_BINDER, &s.n_name),
        Err(libc::EADDRINUSE),
    )?;
    socket_at(libc::SOCK_STREAM, N_CALLER)?;
    check_eq(
        "connect() to N's name",
        try_connect(N_CALLER, &s.n_name),
        Err(libc::ECONNREFUSED),
    )
}

/// In the target, woken: everything the module doc lists.
fn check(s: &Saved) -> Check {
    // SAFETY: getpid has no preconditions.
    check_eq("getpid()", unsafe { libc::getpid() }, s.me)?;
    check_sockets(s)?;
    check_backlog(s)?;
    check_seqpacket(s)?;
    check_datagram(s)?;
    check_left_established(s)?;
    check_connected(s)?;
    check_idle(s)?;
    close_all(&CLIENTS);
    close_all(&ACCEPTED);
    close_all(&[Q_CLIENT, Q_ACCEPTED, B_SENDER, N_BINDER, N_CALLER, E_SENDER]);
    Ok(())
}

/// A container checkpointed without CKPT_KILL: the restart fails on L's name, which the
/// original holds, leaving no process; the original passes its checks, and once it exited
/// the image restarts.
fn while_the_original_runs() {
    let tag = std::process::id() as libc::pid_t;
    let target = Target::spawn_container(move || setup(tag));
    let line = format!(
        "unix socket: cannot bind it to @cr-listen-{tag}: a socket has that name (EADDRINUSE)"
    );
    let why = "restart while the original holds its names";
    target.refused_beside_original((libc::EADDRINUSE, why), &line);
}

/// A target checkpointed with CKPT_KILL and restarted, the image through pipes if
/// `through_pipe`.
fn run(through_pipe: bool) {
    // SAFETY: getpid has no preconditions.
    let mut target = Target::spawn(|| setup(unsafe { libc::getpid() }));
    if through_pipe {
        target.through_pipes();
    }
    target.checkpoint(KILL);
    target.restart();
    target.finish();
}

fn main() {
    while_the_original_runs();
    run(false);
    run(true);
    pass("unix sockets bound to an abstract name and connected to none come back bound to it, checkpointed and restarted through a file, then through pipes: a stream listener with its backlog (2: three non-blocking connects get in, the fourth EAGAIN) and SO_PEERCRED (the target's, also its clients'), an autobound seqpacket listener with the name the kernel chose, a datagram socket that receives what is sent to its name, a datagram socket that another connected to, left established (state 3 in /proc/net/unix), a datagram socket connected to another by its name (getpeername(), send()), a stream socket that keeps its name (EADDRINUSE to bind, ECONNREFUSED to connect); each with its exact name, SO_TYPE and SO_ACCEPTCONN; a restart while the original container holds the names fails with EADDRINUSE naming @cr-listen-TAG and leaves no process; the image restarts once the original exited");
}
