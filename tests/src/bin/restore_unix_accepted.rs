//! Unix connections that a listener accepted come back connected, each socket with its name
//! and its peer's, SO_PEERCRED naming the process at the other end, and what it held. The
//! target S (names made of a tag: its pid) makes a stream listener L (fd 40) bound to
//! "\0cr-acc-TAG" and a seqpacket listener Q (fd 41) bound to "\0cr-accq-TAG", both with a
//! backlog of 4, and forks its child C, which closes its copies of L and Q and connects:
//!
//! - A_c (fd 60), stream, with SO_PASSCRED set before connect(), so that the kernel autobinds
//!   it (an abstract name of a NUL and 5 hex digits, which C checks), to L; it writes "ping";
//! - B_c (fd 61), stream, without options, to L;
//! - P_c (fd 62), seqpacket, to Q; it writes the record "rec1".
//!
//! Once C said ready, S accepts A_s (fd 50) and B_s (fd 51) from L (A_s's peer has C's
//! autobound name, B_s's none: the accepts came in the connects' order) and P_s (fd 52) from
//! Q, writes "pong" on A_s, "rep1" on P_s, and "bye" on B_s, which it then closes. S also
//! makes a stream pair (fds 53 and 54), binds 53 to "\0cr-pairb-TAG" and writes "hello" on
//! 54. S makes a datagram pair (fds 45 and 46), sets SO_PASSCRED on 46 and sends "d1" on it,
//! which autobinds 46 (S checks its name is a NUL and 5 hex digits), then closes 46. S makes
//! a stream listener R (fd 44) bound to "\0cr-rebind-TAG", connects a client (fd 47) to it,
//! accepts the connection (fd 48) and closes R; then it binds the client, connected, to R's
//! name (which R's closing freed), writes "late" on 48 and closes 48. C never has a copy of
//! these. Nothing is read before the checkpoint; S records A_s's peer name (C's autobound
//! name), 46's autobound name and C's pid, C its own name and S's pid.
//!
//! After the restart S checks:
//!
//! - getsockname() of A_s is exactly L's name (bytes and length), getpeername() C's
//!   autobound name, SO_PEERCRED (C's pid, 0, 0); a recvmsg() gives exactly "ping" with C's
//!   autobound name as the sender's (msg_name);
//! - getsockname() of P_s is Q's name, getpeername() empty (P_c has no name), SO_PEERCRED
//!   (C's pid, 0, 0); a recvmsg() gives the record "rec1" whole, with no sender's name;
//! - getsockname() of 53 is "\0cr-pairb-TAG" and getpeername() of 54 that name; 53 reads
//!   "hello" (no sender's name); bind() of a new stream socket to that name fails with
//!   EADDRINUSE, connect() of another with ECONNREFUSED;
//! - L still works: a new stream socket connects to L's name, L accepts it, the accepted
//!   socket has L's name;
//! - getpeername() of 45 is exactly 46's autobound name (its peer, closed, keeps its name); a
//!   recvmsg() gives exactly "d1" with that name as the sender's, then a recv() with
//!   MSG_DONTWAIT fails with EAGAIN (nothing more); send() of "x" with MSG_NOSIGNAL |
//!   MSG_DONTWAIT fails with ECONNREFUSED (its peer is closed); bind() of a new datagram socket
//!   to 46's name succeeds (the name went with the closed socket), and that socket is closed;
//! - getsockname() of R's client (fd 47) is exactly "\0cr-rebind-TAG", and so is its
//!   getpeername() (the closed accepted socket's, R's); a recvmsg() gives "late" with that name
//!   as the sender's, the next recv() the end (0 bytes); bind() of a new stream socket to that
//!   name fails with EADDRINUSE (the client holds it).
//!
//! Then S wakes C, which checks:
//!
//! - getpeername() of A_c is L's name, getsockname() its autobound name, SO_PASSCRED 1,
//!   SO_PEERCRED (S's pid, 0, 0) (the process that called listen()); a recvmsg() gives "pong"
//!   with L's name as the sender's;
//! - getpeername() of B_c is L's name (its peer's, closed), SO_PEERCRED (S's pid, 0, 0); a
//!   recvmsg() gives "bye" with L's name as the sender's, the next recv() the end (0 bytes),
//!   and send() with MSG_NOSIGNAL fails with EPIPE;
//! - getpeername() of P_c is Q's name, SO_PEERCRED (S's pid, 0, 0); a recvmsg() gives the
//!   record "rep1" whole, with Q's name as the sender's;
//! - then a round trip: C sends "again" on A_c, which S receives on A_s with C's autobound
//!   name as the sender's, and S answers "back", which C reads. C exits 0 and S reaps it.
//!
//! Run with CKPT_KILL, through the image file, then checkpointed into and restarted from pipes.
//!
//! Then the rule for the accepted socket's name: a target makes a stream listener G bound to
//! "\0cr-gone-TAG", connects a client to it, accepts the connection, writes "x" on the
//! client and closes G: only the accepted socket and the client remain. After a checkpoint
//! with CKPT_KILL the test binds a stream socket of its own to "\0cr-gone-TAG": the restart
//! fails with EADDRINUSE and the log line "unix socket: cannot give it its listener's name
//! @cr-gone-TAG: a socket outside the restart has that name (EADDRINUSE)", leaves no process, and the test's socket keeps its name. Once the test
//! closed its socket the same image restarts, and the target finds getsockname() of the
//! accepted socket "\0cr-gone-TAG", getpeername() of the client that name, and the accepted
//! socket reads "x".

use std::os::fd::RawFd;

use cr_tests::target::dry_run;
use cr_tests::tree::{reap_after, wake, Kid, Ready};
use cr_tests::unix::{
    accept_at, bind, check_autobound, check_message, check_name, check_peer, check_peercred,
    close_all, connect, getsockopt_int, listen, peer_name, recv, recv_within, send, send_all,
    setsockopt_int, socket_at, socketpair_at, sockname, try_bind, try_connect,
};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// S's listeners: L, stream, and Q, seqpacket.
const L: RawFd = 40;
const Q: RawFd = 41;
/// S's listener R, closed before the checkpoint, whose name its client then took.
const R: RawFd = 44;
/// S's datagram pair: the socket kept, and its peer, autobound by SO_PASSCRED when it sent
/// "d1", closed before the checkpoint.
const DGRAM_KEPT: RawFd = 45;
const DGRAM_CLOSED: RawFd = 46;
/// R's client, bound to R's name once R was closed, and the connection R accepted, closed
/// before the checkpoint.
const R_CLIENT: RawFd = 47;
const R_ACCEPTED: RawFd = 48;
/// The connections S accepted: A_s and B_s from L, P_s from Q.
const A_S: RawFd = 50;
const B_S: RawFd = 51;
const P_S: RawFd = 52;
/// S's stream pair: the socket bound to a name, and the one that writes to it.
const PAIR_BOUND: RawFd = 53;
const PAIR_OTHER: RawFd = 54;
/// The sockets S makes after the restart: L's new client and the connection L accepts, the
/// sockets that try the pair's name with bind() and with connect(), the datagram socket that
/// takes the closed datagram socket's name and the stream socket that tries R's.
const L_CLIENT: RawFd = 55;
const L_ACCEPTED: RawFd = 56;
const BINDER: RawFd = 57;
const CALLER: RawFd = 58;
const DGRAM_BINDER: RawFd = 49;
const R_BINDER: RawFd = 59;
/// C's clients: A_c (autobound) and B_c of L, P_c of Q.
const A_C: RawFd = 60;
const B_C: RawFd = 61;
const P_C: RawFd = 62;

/// The second part's listener G, its client and the connection it accepted.
const G: RawFd = 40;
const G_CLIENT: RawFd = 41;
const G_ACCEPTED: RawFd = 42;
/// The test's own socket bound to G's name.
const HOLDER: RawFd = 43;

/// The listeners' backlog.
const BACKLOG: libc::c_int = 4;

/// What is left unread at the checkpoint: on A_s, on A_c, on P_s, on P_c, on B_c, on the
/// pair's bound socket, on the kept datagram socket, on R's client, on the second part's
/// accepted socket.
const PING: &[u8] = b"ping";
const PONG: &[u8] = b"pong";
const REC1: &[u8] = b"rec1";
const REP1: &[u8] = b"rep1";
const BYE: &[u8] = b"bye";
const HELLO: &[u8] = b"hello";
const D1: &[u8] = b"d1";
const LATE: &[u8] = b"late";
const X: &[u8] = b"x";
/// The round trip after the restart: C's, S's answer.
const AGAIN: &[u8] = b"again";
const BACK: &[u8] = b"back";
/// Room for any message of the test.
const ROOM: usize = 64;

/// The names made of S's pid `tag`.
#[derive(Clone)]
struct Names {
    /// L's: "\0cr-acc-TAG".
    l: Vec<u8>,
    /// Q's: "\0cr-accq-TAG".
    q: Vec<u8>,
    /// The pair's bound socket's: "\0cr-pairb-TAG".
    pair: Vec<u8>,
    /// R's, then its client's: "\0cr-rebind-TAG".
    rebind: Vec<u8>,
}

impl Names {
    fn of(tag: libc::pid_t) -> Names {
        let name = |what: &str| format!("\0cr-{what}-{tag}").into_bytes();
        Names {
            l: name("acc"),
            q: name("accq"),
            pair: name("pairb"),
            rebind: name("rebind"),
        }
    }
}

/// G's name, made of the second part's target's pid `tag`.
fn gone_name(tag: libc::pid_t) -> Vec<u8> {
    format!("\0cr-gone-{tag}").into_bytes()
}

/// What C found before the checkpoint, to compare after.
struct ClientSaved {
    /// S, C's parent, which called listen().
    server: libc::pid_t,
    /// A_c's autobound name.
    a_name: Vec<u8>,
    names: Names,
}

/// In C: closes its copies of the listeners, connects A_c (autobound by SO_PASSCRED), B_c
/// and P_c, writes "ping" on A_c and "rec1" on P_c.
fn client_setup(names: Names) -> Result<impl FnOnce() -> Check, String> {
    close_all(&[L, Q]);
    // SAFETY: getppid has no preconditions.
    let server = unsafe { libc::getppid() };
    socket_at(libc::SOCK_STREAM, A_C)?;
    setsockopt_int(A_C, libc::SO_PASSCRED, 1)?;
    connect(A_C, &names.l)?;
    let a_name = sockname(A_C)?;
    check_autobound(
        "getsockname() of A_c, with SO_PASSCRED before connect()",
        &a_name,
    )?;
    socket_at(libc::SOCK_STREAM, B_C)?;
    connect(B_C, &names.l)?;
    socket_at(libc::SOCK_SEQPACKET, P_C)?;
    connect(P_C, &names.q)?;
    send_all(A_C, PING)?;
    send_all(P_C, REC1)?;
    let saved = ClientSaved {
        server,
        a_name,
        names,
    };
    Ok(move || client_check(&saved))
}

/// In C, woken by S after the restart: everything the module doc lists of C.
fn client_check(c: &ClientSaved) -> Check {
    let (l, q) = (&c.names.l, &c.names.q);
    check_peer("A_c", A_C, l)?;
    check_name("A_c", A_C, &c.a_name)?;
    check_eq(
        "SO_PASSCRED of A_c",
        getsockopt_int(A_C, libc::SO_PASSCRED)?,
        1,
    )?;
    check_peercred("A_c", A_C, c.server)?;
    check_message("A_c", A_C, PONG, l)?;
    check_peer("B_c, whose peer was closed", B_C, l)?;
    check_peercred("B_c", B_C, c.server)?;
    check_message("B_c", B_C, BYE, l)?;
    check_eq(
        "what B_c reads after \"bye\" (its peer closed)",
        recv_within(B_C, ROOM, 0)?,
        Vec::new(),
    )?;
    check_eq(
        "send() with MSG_NOSIGNAL on B_c (its peer closed)",
        send(B_C, b"late", libc::MSG_NOSIGNAL),
        Err(libc::EPIPE),
    )?;
    check_peer("P_c", P_C, q)?;
    check_peercred("P_c", P_C, c.server)?;
    check_message("P_c", P_C, REP1, q)?;
    send_all(A_C, AGAIN)?;
    check_message("A_c, after the round trip", A_C, BACK, l)?;
    close_all(&[A_C, B_C, P_C]);
    Ok(())
}

/// What S found before the checkpoint, to compare after.
struct Saved {
    me: libc::pid_t,
    client: Kid,
    /// C's autobound name, as A_s's peer name.
    c_name: Vec<u8>,
    /// The closed datagram socket's autobound name.
    d_name: Vec<u8>,
    names: Names,
}

/// S's datagram pair: its second socket, with SO_PASSCRED, sends "d1" (which autobinds it)
/// and is closed. Returns its autobound name.
fn dgram_setup() -> Result<Vec<u8>, String> {
    socketpair_at(libc::SOCK_DGRAM, DGRAM_KEPT, DGRAM_CLOSED)?;
    setsockopt_int(DGRAM_CLOSED, libc::SO_PASSCRED, 1)?;
    send_all(DGRAM_CLOSED, D1)?;
    let name = sockname(DGRAM_CLOSED)?;
    check_autobound(
        "getsockname() of the datagram socket that sent \"d1\" with SO_PASSCRED",
        &name,
    )?;
    close_all(&[DGRAM_CLOSED]);
    Ok(name)
}

/// R bound to `name`, its client and the connection it accepted; R closed, then the client
/// bound to `name`, "late" written on the accepted socket, which is closed too.
fn rebind_setup(name: &[u8]) -> Check {
    socket_at(libc::SOCK_STREAM, R)?;
    bind(R, name)?;
    listen(R, BACKLOG)?;
    socket_at(libc::SOCK_STREAM, R_CLIENT)?;
    connect(R_CLIENT, name)?;
    accept_at(R, R_ACCEPTED)?;
    close_all(&[R]);
    bind(R_CLIENT, name)?;
    send_all(R_ACCEPTED, LATE)?;
    close_all(&[R_ACCEPTED]);
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let names = Names::of(me);
    socket_at(libc::SOCK_STREAM, L)?;
    bind(L, &names.l)?;
    listen(L, BACKLOG)?;
    socket_at(libc::SOCK_SEQPACKET, Q)?;
    bind(Q, &names.q)?;
    listen(Q, BACKLOG)?;
    let ready = Ready::new()?;
    let for_client = names.clone();
    let client = ready.fork(0, move |_| client_setup(for_client))?;
    ready.wait(1)?;
    accept_at(L, A_S)?;
    accept_at(L, B_S)?;
    accept_at(Q, P_S)?;
    let c_name = peer_name(A_S)?;
    check_autobound("getpeername() of A_s (A_c's autobound name)", &c_name)?;
    check_peer("B_s (B_c has no name)", B_S, b"")?;
    send_all(A_S, PONG)?;
    send_all(P_S, REP1)?;
    send_all(B_S, BYE)?;
    close_all(&[B_S]);
    socketpair_at(libc::SOCK_STREAM, PAIR_BOUND, PAIR_OTHER)?;
    bind(PAIR_BOUND, &names.pair)?;
    send_all(PAIR_OTHER, HELLO)?;
    let d_name = dgram_setup()?;
    rebind_setup(&names.rebind)?;
    let saved = Saved {
        me,
        client,
        c_name,
        d_name,
        names,
    };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// A_s and P_s: their names, peers, peer credentials and what they hold.
fn check_accepted(s: &Saved) -> Check {
    let c = s.client.pid;
    check_name("A_s", A_S, &s.names.l)?;
    check_peer("A_s", A_S, &s.c_name)?;
    check_peercred("A_s", A_S, c)?;
    check_message("A_s", A_S, PING, &s.c_name)?;
    check_name("P_s", P_S, &s.names.q)?;
    check_peer("P_s (P_c has no name)", P_S, b"")?;
    check_peercred("P_s", P_S, c)?;
    check_message("P_s", P_S, REC1, b"")
}

/// The pair: its bound socket's name, which its other socket sees as its peer's and no other
/// socket may take, and "hello".
fn check_pair(s: &Saved) -> Check {
    let name = &s.names.pair;
    check_name("the pair's bound socket", PAIR_BOUND, name)?;
    check_peer("the pair's other socket", PAIR_OTHER, name)?;
    check_message("the pair's bound socket", PAIR_BOUND, HELLO, b"")?;
    socket_at(libc::SOCK_STREAM, BINDER)?;
    check_eq(
        "bind() of another stream socket to the pair's name",
        try_bind(BINDER, name),
        Err(libc::EADDRINUSE),
    )?;
    socket_at(libc::SOCK_STREAM, CALLER)?;
    check_eq(
        "connect() to the pair's name",
        try_connect(CALLER, name),
        Err(libc::ECONNREFUSED),
    )
}

/// L accepts a new connection, which has L's name.
fn check_listener(s: &Saved) -> Check {
    socket_at(libc::SOCK_STREAM, L_CLIENT)?;
    connect(L_CLIENT, &s.names.l)?;
    accept_at(L, L_ACCEPTED)?;
    check_name(
        "a connection L accepted after the restart",
        L_ACCEPTED,
        &s.names.l,
    )?;
    check_peer("L's new client", L_CLIENT, &s.names.l)
}

/// The datagram socket whose peer was closed: the peer's name, "d1" from that name and
/// nothing more, ECONNREFUSED to send, and the name free for a new socket.
fn check_dgram(s: &Saved) -> Check {
    let name = &s.d_name;
    let what = "the datagram socket whose peer was closed";
    check_peer(what, DGRAM_KEPT, name)?;
    check_message(what, DGRAM_KEPT, D1, name)?;
    check_eq(
        format_args!("a recv() of {what} (fd {DGRAM_KEPT}) after \"d1\""),
        recv(DGRAM_KEPT, ROOM, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )?;
    check_eq(
        format_args!("send() with MSG_NOSIGNAL | MSG_DONTWAIT on {what} (fd {DGRAM_KEPT})"),
        send(DGRAM_KEPT, X, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT),
        Err(libc::ECONNREFUSED),
    )?;
    socket_at(libc::SOCK_DGRAM, DGRAM_BINDER)?;
    let bound = check_eq(
        "bind() of a new datagram socket to the closed datagram socket's name",
        try_bind(DGRAM_BINDER, name),
        Ok(()),
    );
    close_all(&[DGRAM_BINDER]);
    bound
}

/// R's client, bound to R's name after R was closed: that name as its own and its peer's,
/// "late" from that name, then the end, and no other socket may take the name.
fn check_rebound(s: &Saved) -> Check {
    let name = &s.names.rebind;
    check_name(
        "R's client, bound to R's name after R closed",
        R_CLIENT,
        name,
    )?;
    check_peer("R's client, whose peer was closed", R_CLIENT, name)?;
    check_message("R's client", R_CLIENT, LATE, name)?;
    check_eq(
        "what R's client reads after \"late\" (its peer closed)",
        recv_within(R_CLIENT, ROOM, 0)?,
        Vec::new(),
    )?;
    socket_at(libc::SOCK_STREAM, R_BINDER)?;
    check_eq(
        "bind() of a new stream socket to R's name (R's client has it)",
        try_bind(R_BINDER, name),
        Err(libc::EADDRINUSE),
    )
}

/// In S, woken: its own checks, then C's and the round trip.
fn check(s: &Saved) -> Check {
    // SAFETY: getpid has no preconditions.
    check_eq("getpid()", unsafe { libc::getpid() }, s.me)?;
    check_accepted(s)?;
    check_pair(s)?;
    check_listener(s)?;
    check_dgram(s)?;
    check_rebound(s)?;
    wake(&[s.client])?;
    let trip = check_message("A_s, in the round trip", A_S, AGAIN, &s.c_name)
        .and_then(|()| send_all(A_S, BACK));
    reap_after(&[s.client], trip)?;
    close_all(&[L_CLIENT, L_ACCEPTED, BINDER, CALLER, R_BINDER]);
    Ok(())
}

/// S and C checkpointed with CKPT_KILL once C sleeps, and restarted, the image through pipes if
/// `through_pipe`.
fn run(through_pipe: bool) {
    let mut target = Target::spawn(setup);
    if through_pipe {
        target.through_pipes();
    }
    target.restart_with_children_asleep(1, "for C to sleep");
    target.finish();
}

/// The second part's target: G, its client and the connection it accepted; G closed.
fn gone_setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let name = gone_name(unsafe { libc::getpid() });
    socket_at(libc::SOCK_STREAM, G)?;
    bind(G, &name)?;
    listen(G, BACKLOG)?;
    socket_at(libc::SOCK_STREAM, G_CLIENT)?;
    connect(G_CLIENT, &name)?;
    accept_at(G, G_ACCEPTED)?;
    send_all(G_CLIENT, X)?;
    close_all(&[G]);
    Ok(move || {
        wait_restored();
        check_name("the socket G accepted", G_ACCEPTED, &name)?;
        check_peer("G's client", G_CLIENT, &name)?;
        check_message("the socket G accepted", G_ACCEPTED, X, b"")
    })
}

/// While a socket of the test has G's name the restart fails, leaving no process; once the
/// test closed it the image restarts.
fn name_taken_outside() {
    let mut target = Target::spawn(gone_setup);
    let tag = target.pid();
    let name = gone_name(tag);
    target.checkpoint(KILL);
    let held = socket_at(libc::SOCK_STREAM, HOLDER).and_then(|()| bind(HOLDER, &name));
    held.unwrap_or_else(|e| target.fail(format!("the test's socket: {e}")));
    if !dry_run() {
        let line = format!(
            "unix socket: cannot give it its listener's name @cr-gone-{tag}: a socket outside the restart has that name (EADDRINUSE)"
        );
        target.expect_restart_refused(
            0,
            (
                libc::EADDRINUSE,
                "restart while a socket of the test has the name of the listener that accepted a socket of the image",
            ),
            &line,
            &[],
        );
        check_name(
            "the test's socket, after the refused restart",
            HOLDER,
            &name,
        )
        .unwrap_or_else(|e| target.fail(e));
    }
    close_all(&[HOLDER]);
    target.restart();
    target.finish();
}

fn main() {
    run(false);
    run(true);
    name_taken_outside();
    pass("unix connections accepted by a stream and a seqpacket listener bound to abstract names come back, checkpointed and restarted through a file, then through pipes: the accepted sockets keep the listener's name (getsockname(), exact), their clients see it (getpeername()), SO_PEERCRED names the process that connected (on the accepted socket) and the one that called listen() (on the client); a client autobound by SO_PASSCRED keeps its name, seen by its peer and as the sender (msg_name) of each message it wrote, before and after the restart; a client whose accepted socket was closed keeps its peer's name, reads \"bye\", then the end, and send() is EPIPE; a seqpacket record each way comes whole; a pair's socket bound to an abstract name keeps it (EADDRINUSE to bind, ECONNREFUSED to connect); the listener accepts again; a datagram socket whose peer, autobound by SO_PASSCRED, sent \"d1\" and was closed keeps that peer's name (getpeername(), exact), reads \"d1\" from it (msg_name) and nothing more, send() is ECONNREFUSED, and the name is free to bind; a client bound to its listener's name after the listener closed keeps it (getsockname() and getpeername(), exact), reads \"late\" from it, then the end, and holds it (EADDRINUSE to bind); a round trip works; a restart whose accepted socket's listener's name a socket outside holds fails with EADDRINUSE naming @cr-gone-TAG and leaves no process, and restarts once that socket is closed");
}
