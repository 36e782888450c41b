//! Unix listeners holding connections not yet accepted ("embryo" sockets in the listener's
//! queue) come back holding them: accept() after the restart gives each waiting connection,
//! in the order its client connected, with what its client wrote before the checkpoint, and
//! the client is still connected to it. The target T (TAG: its pid) works in a directory D of
//! its own under the test's scratch directory (chdir()) and makes:
//!
//! - L (fd 40), a stream listener bound to the abstract name "\0cr-wait-TAG", listen(8);
//! - P (fd 41), a seqpacket listener bound to the relative name "wsock", listen(4).
//!
//! Then, each connection done before the next is made, these clients connect to L:
//!
//! - c1 (fd 50, T's) connects and writes "one";
//! - c2 (fd 51, of T's child K, which closed its copies of L, P and c1) connects, writes
//!   "two" and shuts down writing (shutdown(SHUT_WR)); K also connects q1 (fd 54, seqpacket)
//!   to P by "D/wsock" (absolute) and sends the records "rec1" and "rec-two"; K then says
//!   ready on a pipe, which T waits for before going on;
//! - c3 (fd 52, T's) connects, writes "three" and is closed;
//! - c4 (fd 53, T's), with SO_PASSCRED set before connect() (which autobinds it to an abstract
//!   name: a NUL and 5 hex digits, which T records), sends "four" with one sendmsg() carrying
//!   an eventfd of count 7 (SCM_RIGHTS), which T then closes (only the message holds it), and
//!   T's credentials (SCM_CREDENTIALS: T's pid, 0, 0).
//!
//! Nobody accepts before the checkpoint. After the restart T checks:
//!
//! - L, made non-blocking, accepts 4 connections a1..a4 (fds 60-63), then accept() fails with
//!   EAGAIN; getsockname() of each is exactly L's name;
//! - a1: SO_PEERCRED (T's pid, 0, 0); one recvmsg() gives exactly "one" (no sender's name: c1
//!   has none), then a recv() with MSG_DONTWAIT fails with EAGAIN; a1 writes "back1", which c1
//!   receives from L's name (msg_name); getpeername() of c1 is exactly L's name, SO_PEERCRED
//!   of c1 (T's pid, 0, 0) (the process that called listen());
//! - a2: SO_PEERCRED (K's pid, 0, 0); it reads "two", then its end (0 bytes); it writes
//!   "back2", which K receives on c2;
//! - a3: SO_PEERCRED (T's pid, 0, 0); it reads "three", then its end; send() with
//!   MSG_NOSIGNAL fails with EPIPE;
//! - a4: SO_PEERCRED (T's pid, 0, 0); getpeername() is exactly c4's autobound name, which
//!   getsockname() of c4 still gives, and getpeername() of c4 is L's name; with SO_PASSCRED
//!   set on a4, one recvmsg() gives exactly "four", the credentials (T's pid, 0, 0) and one
//!   fd, an eventfd ("anon_inode:[eventfd]") that reads 7;
//! - L still works: a new client c5 connects to L's name and L accepts it, the accepted
//!   socket having L's name;
//! - P, made non-blocking, accepts one connection p1 (fd 65), then accept() fails with EAGAIN;
//!   getsockname() of p1 is exactly "wsock" and its NUL (as bound, relative), SO_PEERCRED
//!   (K's pid, 0, 0); p1 receives the records "rec1", then "rec-two", each whole, then a
//!   recv() with MSG_DONTWAIT fails with EAGAIN; p1 sends the record "ack".
//!
//! Then T wakes K, which checks: getpeername() of c2 is exactly L's name, SO_PEERCRED (T's
//! pid, 0, 0), and c2 receives "back2" from L's name (msg_name); getpeername() of q1 is
//! "wsock" and its NUL, SO_PEERCRED (T's pid, 0, 0), and q1 receives the record "ack" from
//! that name. K exits 0 and T reaps it.
//!
//! Run with CKPT_KILL once K sleeps, checkpointed and restarted through the image file, then
//! through pipes.

use std::os::fd::{AsRawFd, RawFd};

use cr_tests::target::scratch_dir;
use cr_tests::tree::{wake_and_reap, Kid, Ready};
use cr_tests::unix::{
    accept_at, bind, check_autobound, check_bytes, check_drained, check_end, check_eventfd,
    check_message, check_name, check_peer, check_peercred, close_all, connect, enter_dir,
    eventfd_at, listen, path_name, recv_with_creds, send, send_all, send_with_creds, set_nonblock,
    setsockopt_int, shutdown, socket_at, sockname, try_accept_at,
};
use cr_tests::{check_eq, pass, wait_restored, Check, Target};

/// T's listeners: L, stream, bound to an abstract name; P, seqpacket, bound to "wsock" in D.
const L: RawFd = 40;
const P: RawFd = 41;
/// The eventfd c4's message carries, until it is sent.
const EV: RawFd = 44;
/// L's clients: c1, c3 (closed before the checkpoint) and c4 of T's, c2 of K's.
const C1: RawFd = 50;
const C2: RawFd = 51;
const C3: RawFd = 52;
const C4: RawFd = 53;
/// K's client of P.
const Q1: RawFd = 54;
/// The client T connects to L after the restart, and the connection L accepts from it.
const C5: RawFd = 55;
const A5: RawFd = 56;
/// The connections L accepts after the restart, in their order: c1's, c2's, c3's, c4's.
const A1: RawFd = 60;
const A2: RawFd = 61;
const A3: RawFd = 62;
const A4: RawFd = 63;
/// Where an accept() that should find no connection would put one.
const NONE: RawFd = 64;
/// The connection P accepts after the restart, q1's.
const P1: RawFd = 65;

/// The listeners' backlogs.
const L_BACKLOG: libc::c_int = 8;
const P_BACKLOG: libc::c_int = 4;
/// P's name, relative to D, as bind() was given it.
const P_PATH: &str = "wsock";

/// What the clients write before the checkpoint: c1, c2, c3, c4; q1's two records.
const ONE: &[u8] = b"one";
const TWO: &[u8] = b"two";
const THREE: &[u8] = b"three";
const FOUR: &[u8] = b"four";
const REC1: &[u8] = b"rec1";
const REC_TWO: &[u8] = b"rec-two";
/// The count of the eventfd "four" carries.
const COUNT: u32 = 7;
/// What the accepted sockets write after the restart: a1, a2, p1.
const BACK1: &[u8] = b"back1";
const BACK2: &[u8] = b"back2";
const ACK: &[u8] = b"ack";
/// Room for any message of the test.
const ROOM: usize = 64;

/// L's name, made of T's pid `tag`: "\0cr-wait-TAG".
fn l_name(tag: libc::pid_t) -> Vec<u8> {
    format!("\0cr-wait-{tag}").into_bytes()
}

/// In K: closes its copies of L, P and c1; connects c2 to L, writes "two" on it and shuts
/// down its writing; connects q1 to P by `wsock`, its absolute path, and sends "rec1" and
/// "rec-two" on it.
fn k_setup(l: Vec<u8>, wsock: String) -> Result<impl FnOnce() -> Check, String> {
    close_all(&[L, P, C1]);
    // SAFETY: getppid has no preconditions.
    let t = unsafe { libc::getppid() };
    socket_at(libc::SOCK_STREAM, C2)?;
    connect(C2, &l)?;
    send_all(C2, TWO)?;
    shutdown(C2, libc::SHUT_WR)?;
    socket_at(libc::SOCK_SEQPACKET, Q1)?;
    connect(Q1, wsock.as_bytes())?;
    send_all(Q1, REC1)?;
    send_all(Q1, REC_TWO)?;
    Ok(move || k_check(t, &l))
}

/// In K, woken by T after the restart: c2's and q1's peers, and what T's accepted sockets
/// sent them.
fn k_check(t: libc::pid_t, l: &[u8]) -> Check {
    check_peer("c2", C2, l)?;
    check_peercred("c2", C2, t)?;
    check_message("c2", C2, BACK2, l)?;
    let p = path_name(P_PATH);
    check_peer("q1", Q1, &p)?;
    check_peercred("q1", Q1, t)?;
    check_message("q1", Q1, ACK, &p)?;
    close_all(&[C2, Q1]);
    Ok(())
}

/// What T found before the checkpoint, to compare after.
struct Saved {
    me: libc::pid_t,
    k: Kid,
    l: Vec<u8>,
    /// c4's autobound name.
    c4_name: Vec<u8>,
}

/// In T: c3 connects to L, writes "three" and is closed.
fn c3_setup(l: &[u8]) -> Check {
    socket_at(libc::SOCK_STREAM, C3)?;
    connect(C3, l)?;
    send_all(C3, THREE)?;
    close_all(&[C3]);
    Ok(())
}

/// In T (`me`): c4, with SO_PASSCRED, connects to L (autobound) and sends "four" with an
/// eventfd, then closed, and T's credentials. Returns c4's autobound name.
fn c4_setup(l: &[u8], me: libc::pid_t) -> Result<Vec<u8>, String> {
    socket_at(libc::SOCK_STREAM, C4)?;
    setsockopt_int(C4, libc::SO_PASSCRED, 1)?;
    connect(C4, l)?;
    let name = sockname(C4)?;
    check_autobound(
        "getsockname() of c4, with SO_PASSCRED before connect()",
        &name,
    )?;
    eventfd_at(COUNT, EV)?;
    send_with_creds(C4, FOUR, (me, 0, 0), &[EV])?;
    close_all(&[EV]);
    Ok(name)
}

/// T's setup (see the module doc) in `dir`.
fn setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let l = l_name(me);
    enter_dir(&dir)?;
    socket_at(libc::SOCK_STREAM, L)?;
    bind(L, &l)?;
    listen(L, L_BACKLOG)?;
    socket_at(libc::SOCK_SEQPACKET, P)?;
    bind(P, P_PATH.as_bytes())?;
    listen(P, P_BACKLOG)?;
    socket_at(libc::SOCK_STREAM, C1)?;
    connect(C1, &l)?;
    send_all(C1, ONE)?;
    let ready = Ready::new()?;
    let (for_k, wsock) = (l.clone(), format!("{dir}/{P_PATH}"));
    let k = ready.fork(0, move |_| k_setup(for_k, wsock))?;
    ready.wait(1)?;
    c3_setup(&l)?;
    let c4_name = c4_setup(&l, me)?;
    let saved = Saved { me, k, l, c4_name };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// `listener` (`what`), made non-blocking, accepts a connection on each of `fds`, in their
/// order, then none (EAGAIN).
fn accept_waiting(what: &str, listener: RawFd, fds: &[RawFd]) -> Check {
    set_nonblock(listener, true)?;
    for (i, &fd) in fds.iter().enumerate() {
        accept_at(listener, fd).map_err(|e| {
            format!(
                "connection {} of {} waiting on {what}: {e}",
                i + 1,
                fds.len()
            )
        })?;
    }
    check_eq(
        format_args!(
            "accept() of {what} (fd {listener}, non-blocking) after its {} waiting connections",
            fds.len()
        ),
        try_accept_at(listener, NONE),
        Err(libc::EAGAIN),
    )
}

/// a1 and c1: "one" and nothing more, then "back1" the other way; c1's peer is L.
fn check_a1(s: &Saved) -> Check {
    check_peercred("a1", A1, s.me)?;
    check_message("a1", A1, ONE, b"")?;
    check_drained("a1, after \"one\"", A1)?;
    send_all(A1, BACK1)?;
    check_message("c1", C1, BACK1, &s.l)?;
    check_peer("c1", C1, &s.l)?;
    check_peercred("c1", C1, s.me)
}

/// a2: K's, "two", then its end (c2 shut down writing); "back2" to K.
fn check_a2(s: &Saved) -> Check {
    check_peercred("a2", A2, s.k.pid)?;
    check_message("a2", A2, TWO, b"")?;
    check_end("a2 (c2 shut down writing)", A2)?;
    send_all(A2, BACK2)
}

/// a3: "three", then its end (c3 was closed); send() is EPIPE.
fn check_a3(s: &Saved) -> Check {
    check_peercred("a3", A3, s.me)?;
    check_message("a3", A3, THREE, b"")?;
    check_end("a3 (c3 was closed)", A3)?;
    check_eq(
        format_args!("send() with MSG_NOSIGNAL on a3 (fd {A3}), c3 closed"),
        send(A3, b"x", libc::MSG_NOSIGNAL),
        Err(libc::EPIPE),
    )
}

/// a4 and c4: their names; "four" with the eventfd and T's credentials.
fn check_a4(s: &Saved) -> Check {
    check_peercred("a4", A4, s.me)?;
    check_peer("a4 (c4's autobound name)", A4, &s.c4_name)?;
    check_name("c4", C4, &s.c4_name)?;
    check_peer("c4", C4, &s.l)?;
    setsockopt_int(A4, libc::SO_PASSCRED, 1)?;
    let (bytes, creds, fds) = recv_with_creds(A4, ROOM)?;
    check_bytes(format_args!("what a4 (fd {A4}) receives"), &bytes, FOUR)?;
    check_eq(
        "the credentials of \"four\" (SCM_CREDENTIALS: pid, uid, gid)",
        creds,
        (s.me, 0, 0),
    )?;
    let [fd] = &fds[..] else {
        return Err(format!("\"four\" came with {} fds, expected 1", fds.len()));
    };
    check_eventfd("the fd that came with \"four\"", fd.as_raw_fd(), COUNT)
}

/// L accepts a new client, c5, with L's name.
fn check_new_client(s: &Saved) -> Check {
    socket_at(libc::SOCK_STREAM, C5)?;
    connect(C5, &s.l)?;
    accept_at(L, A5)?;
    check_name("the connection L accepted from c5", A5, &s.l)?;
    check_peer("c5", C5, &s.l)
}

/// p1: its name, K's credentials, "rec1" and "rec-two" whole and nothing more; it sends
/// "ack".
fn check_p1(s: &Saved) -> Check {
    accept_waiting("P", P, &[P1])?;
    check_name("p1", P1, &path_name(P_PATH))?;
    check_peercred("p1", P1, s.k.pid)?;
    check_message("p1", P1, REC1, b"")?;
    check_message("p1", P1, REC_TWO, b"")?;
    check_drained("p1, after its two records", P1)?;
    send_all(P1, ACK)
}

/// In T, woken: everything the module doc lists of T, then K's checks.
fn check(s: &Saved) -> Check {
    // SAFETY: getpid has no preconditions.
    check_eq("getpid()", unsafe { libc::getpid() }, s.me)?;
    let accepted = [A1, A2, A3, A4];
    accept_waiting("L", L, &accepted)?;
    for (i, &a) in accepted.iter().enumerate() {
        check_name(format_args!("a{}", i + 1), a, &s.l)?;
    }
    check_a1(s)?;
    check_a2(s)?;
    check_a3(s)?;
    check_a4(s)?;
    check_new_client(s)?;
    check_p1(s)?;
    wake_and_reap(&[s.k])?;
    close_all(&[A1, A2, A3, A4, A5, C1, C4, C5, P1]);
    Ok(())
}

/// T and K checkpointed with CKPT_KILL once K sleeps, and restarted, the image through pipes if
/// `through_pipe`.
fn run(through_pipe: bool, what: &str) {
    let dir = format!("{}/{what}", scratch_dir());
    let mut target = Target::spawn(move || setup(dir));
    if through_pipe {
        target.through_pipes();
    }
    target.restart_with_children_asleep(1, "for K to sleep");
    target.finish();
}

fn main() {
    run(false, "file");
    run(true, "pipe");
    pass("unix listeners holding connections not yet accepted come back holding them, checkpointed and restarted through a file, then through pipes: a stream listener bound to an abstract name accepts its four waiting connections in the order they connected, then EAGAIN, each with the listener's name and SO_PEERCRED naming the process that connected (the target's or its child's); each reads what its client wrote: \"one\" and nothing more, \"two\" then the end (its client shut down writing), \"three\" then the end and EPIPE to send (its client closed), \"four\" with an eventfd only the message held (count 7) and the target's credentials (SCM_CREDENTIALS), its peer the client's autobound name; the clients are still connected (getpeername() the listener's name, SO_PEERCRED the target, which called listen()) and receive what the accepted sockets write; the listener accepts a new client; a seqpacket listener bound to a relative path accepts its waiting connection, named \"wsock\" exactly, with its two records whole, and the record \"ack\" goes back to the client");
}
