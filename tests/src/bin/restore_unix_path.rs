//! Unix sockets bound to a path come back bound to it: each with its name exactly as bind()
//! was given it (a relative one too), on the very inode it had while that inode is still
//! there, or on a new one with the saved mode if the file was removed. Each target gets a
//! directory D of its own (mode 0755) under the test's scratch directory and works in it
//! (chdir()). The target S sets up:
//!
//! - L (fd 40), a stream listener bound to the relative name "lsock" (backlog 4), then
//!   chmod("lsock", 0640);
//! - Q (fd 41), a seqpacket listener bound to the absolute name "D/qsock" (backlog 4);
//! - G (fd 42), a datagram socket bound to "D/dsock", holding nothing;
//! - a stream pair (fds 53 and 54), 53 bound by hand to "D/psock", 54 writing "hello" to it;
//! - K (fd 45), a datagram socket bound to the abstract name "\0cr-path-k-PID" (PID: S's),
//!   and H (fd 44), a datagram socket bound to "D/hsock", then connect()ed to K; both hold
//!   nothing.
//!
//! Its child C closes its copies of L and Q and connects A_c (fd 60, stream) to "D/lsock"
//! (absolute), writing "ping", and P_c (fd 62, seqpacket) to "D/qsock", writing the record
//! "rec1"; then B_c (fd 61, stream), with SO_PASSCRED set before connect() (which autobinds
//! it to an abstract name: a NUL and 5 hex digits), to "D/lsock", writing "bye", and closes
//! B_c. S accepts A_s (fd 50), then B_s (fd 51) from L (in the order C connected them) and
//! P_s (fd 52) from Q, records getpeername() of B_s (it must be an autobound name), and
//! writes "pong" on A_s and "rep1" on P_s. Then S sets up sockets whose peer, named by a
//! path, was closed, and datagram sockets connected by name to a path:
//!
//! - E (fd 46, stream) connects to "lsock" (relative); L accepts the connection (fd 47),
//!   which writes "gone" and is closed: S keeps no accepted socket for E;
//! - a datagram pair, F (fd 63) and F_b (fd 64), F_b bound to "D/gone.sock", sends "d2" to F
//!   and is closed (its file stays);
//! - X (fd 65), an unbound datagram socket, connect()s to G by its name relative to D
//!   ("dsock");
//! - Y1 (fd 66), a datagram socket bound to "D/y1.sock", and Y2 (fd 67), bound to "y2.sock"
//!   (relative); Y1 connect()s to Y2 by "D/y2.sock", Y2 to Y1 by "y1.sock" (each by another
//!   spelling than its peer was bound with).
//!
//! Nothing is read before the checkpoint; S records stat() of the seven files of its bound
//! sockets (L's mode must be S_IFSOCK | 0640) and of "D/gone.sock" (all sockets).
//!
//! After the restart S checks:
//!
//! - getsockname() of L is exactly "lsock" (bytes and length: Linux counts the NUL ending a
//!   path in the address length, so 5 bytes and a NUL), of Q and P_s "D/qsock", of A_s and
//!   B_s "lsock", of G "D/dsock", of 53 "D/psock", of H "D/hsock", of K its abstract name;
//!   getpeername() of 54 is "D/psock", of A_s empty (A_c has no name), of B_s exactly the
//!   autobound name recorded before the checkpoint (B_c's, closed), of H exactly K's name;
//! - stat() of each of the seven files of the bound sockets gives what it gave before: the
//!   same device, inode, mode and owner (only the device, mode and owner when the files were
//!   removed);
//! - L accepts a new stream connection to "D/lsock", whose accepted socket's name is "lsock",
//!   also its client's peer name; Q accepts a new seqpacket connection, named "D/qsock";
//! - A_s reads exactly "ping", P_s the record "rec1" whole, 53 "hello" (no sender's name);
//!   B_s "bye" sent by B_c's autobound name (msg_name), then its end (0 bytes);
//! - an unbound datagram socket sends "dg" to "D/dsock" with sendto(), which G receives;
//! - H sends "hk" with send(), which K receives from "D/hsock" (msg_name);
//! - getpeername() of E is exactly "lsock" (its closed peer's name, L's), E reads "gone" sent
//!   by "lsock" (msg_name), then its end (0 bytes);
//! - getpeername() of F is exactly "D/gone.sock" (F_b's, closed), F receives "d2" from
//!   "D/gone.sock" (msg_name); its send() fails with ECONNREFUSED (its peer is closed), after
//!   which it has no peer (getpeername() ENOTCONN); stat() of "D/gone.sock" gives what it gave
//!   before (the very inode: restart binds nothing to it), or, when the test removed the
//!   files, nothing is there (restart did not make it again);
//! - getsockname() of X is empty, getpeername() exactly "D/dsock" (G's name as G's bind() was
//!   given it, not "dsock"); X sends "xg" with send(), which G receives with no sender's name;
//! - getsockname() of Y1 is "D/y1.sock" and of Y2 "y2.sock", getpeername() of Y1 exactly
//!   "y2.sock" and of Y2 "D/y1.sock"; Y1 sends "12", which Y2 receives from "D/y1.sock"
//!   (msg_name), and Y2 sends "21", which Y1 receives from "y2.sock";
//! - bind() of a new stream socket to "D/lsock" fails with EADDRINUSE.
//!
//! Then S wakes C, which checks that getpeername() of A_c is "lsock" and that it reads "pong"
//! from "lsock" (msg_name), and getpeername() of P_c "D/qsock", reading the record "rep1"
//! from "D/qsock"; then a round trip: C sends "again" on A_c, S reads it on A_s and answers
//! "back", which C reads. C exits 0 and S reaps it.
//!
//! Run with CKPT_KILL, through the image file, through pipes, and from the file after
//! the test removed the eight socket files (the restart makes the seven of the bound sockets
//! again: L's is a socket of mode 0640, the chmod coming back on a new inode; not F_b's).
//!
//! Then a smaller target with L and Q only (the same names), which after the restart checks
//! their names, L's file (mode S_IFSOCK | 0640, the same inode unless removed) and that both
//! accept a connection:
//!
//! - after a checkpoint with CKPT_KILL the test removes both files and puts a regular file
//!   holding "mine" at "D/qsock": the restart fails with EADDRINUSE and the log line "unix
//!   socket: cannot bind it to D/qsock at D/qsock: another file is there, or a socket is
//!   bound to it (EADDRINUSE)", leaves no process, no file at "D/lsock" (restart made it for
//!   L, restored first, and removed it again) and the regular file as it was; once the test
//!   removed that file the image restarts;
//! - a container checkpointed without CKPT_KILL (a container, for its pid not to be taken by
//!   the original) is restarted while the original runs: EADDRINUSE and the log line for
//!   "lsock" at "D/lsock", no process left; the original passes the checks (its own inodes
//!   still there), and once it exited the image restarts on the inodes it left.

use std::os::fd::RawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use cr_tests::target::{dry_run, scratch_dir};
use cr_tests::tree::{reap_after, wake, Kid, Ready};
use cr_tests::unix::{
    accept_at, bind, check_autobound, check_bytes, check_message, check_name, check_peer,
    close_all, connect, enter_dir, listen, path_name, peer_name, peername, recv_within, send,
    send_all, send_to, setsockopt_int, socket_at, socketpair_at, try_bind,
};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// S's listeners: L, stream, bound to "lsock" in D, and Q, seqpacket, bound to "D/qsock".
const L: RawFd = 40;
const Q: RawFd = 41;
/// S's datagram socket bound to "D/dsock".
const G: RawFd = 42;
/// S's datagram socket H bound to "D/hsock", connected to K, a datagram socket of S's bound
/// to an abstract name.
const H: RawFd = 44;
const K: RawFd = 45;
/// The connections S accepted: A_s and B_s from L, P_s from Q.
const A_S: RawFd = 50;
const B_S: RawFd = 51;
const P_S: RawFd = 52;
/// S's stream pair: the socket bound to "D/psock", and the one that writes to it.
const PAIR_BOUND: RawFd = 53;
const PAIR_OTHER: RawFd = 54;
/// The sockets S makes after the restart: L's and Q's new clients and the connections they
/// accept, the datagram socket that sends to G and the stream socket that tries L's path.
const L_CLIENT: RawFd = 55;
const L_ACCEPTED: RawFd = 56;
const Q_CLIENT: RawFd = 57;
const Q_ACCEPTED: RawFd = 58;
const DG_SENDER: RawFd = 59;
const BINDER: RawFd = 43;
/// C's clients: A_c and B_c (closed before the checkpoint) of L, P_c of Q.
const A_C: RawFd = 60;
const B_C: RawFd = 61;
const P_C: RawFd = 62;
/// S's own client E of L, and (until S closed it) the connection L accepted from it.
const E: RawFd = 46;
const E_ACCEPTED: RawFd = 47;
/// S's datagram pair: F, and F's other socket F_b, bound to "D/gone.sock" (closed before the
/// checkpoint).
const F: RawFd = 63;
const F_B: RawFd = 64;
/// S's unbound datagram socket X, connect()ed to G by the relative name "dsock".
const X: RawFd = 65;
/// S's datagram sockets Y1, bound to "D/y1.sock", and Y2, bound to "y2.sock", each
/// connect()ed to the other.
const Y1: RawFd = 66;
const Y2: RawFd = 67;

/// The listeners' backlog.
const BACKLOG: libc::c_int = 4;
/// L's name, relative to D, as bind() was given it, and as getsockname() gives it: Linux
/// counts the NUL that ends a path in the address length. The mode of its file after chmod().
const L_PATH: &str = "lsock";
const L_NAME: &[u8] = b"lsock\0";
const L_MODE: u32 = libc::S_IFSOCK | 0o640;
/// The socket files in D of the sockets S holds: L's, Q's, G's, the pair's bound socket's,
/// H's, Y1's and Y2's.
const FILES: [&str; 7] = [
    "lsock", "qsock", "dsock", "psock", "hsock", "y1.sock", "y2.sock",
];
/// The socket file in D of F_b, closed before the checkpoint: restart binds nothing to it.
const GONE_FILE: &str = "gone.sock";

/// What is left unread at the checkpoint (BYE: what B_c wrote before it was closed), the
/// datagrams sent after the restart (HK: from H to K), the round trip's two messages and what
/// the test's regular file holds.
const PING: &[u8] = b"ping";
const BYE: &[u8] = b"bye";
const HK: &[u8] = b"hk";
const PONG: &[u8] = b"pong";
const REC1: &[u8] = b"rec1";
const REP1: &[u8] = b"rep1";
const HELLO: &[u8] = b"hello";
const DG: &[u8] = b"dg";
const AGAIN: &[u8] = b"again";
const BACK: &[u8] = b"back";
const MINE: &[u8] = b"mine";
/// What the closed peers left: the connection L accepted from E on E, F_b on F.
const GONE: &[u8] = b"gone";
const D2: &[u8] = b"d2";
/// The datagrams sent after the restart: X to G, Y1 to Y2, Y2 to Y1.
const XG: &[u8] = b"xg";
const Y12: &[u8] = b"12";
const Y21: &[u8] = b"21";
/// Room for any message of the test.
const ROOM: usize = 64;

/// `dir`/`file`.
fn at(dir: &str, file: &str) -> String {
    format!("{dir}/{file}")
}

/// A fresh directory for one target, under the test's scratch directory (computed in the
/// test, whose pid names it; removed with it when the target is dropped).
fn target_dir(what: &str) -> String {
    at(&scratch_dir(), what)
}

/// What stat() says of a socket file.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Inode {
    dev: u64,
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// stat() (not following a symlink) of `path`.
fn inode(path: &str) -> Result<Inode, String> {
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok(Inode {
        dev: m.dev(),
        ino: m.ino(),
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
    })
}

/// stat() of `path` gives `saved` again: all of it if `same` (the very inode), its device,
/// mode and owner otherwise (a new inode where the test removed the file).
fn check_inode(path: &str, saved: &Inode, same: bool) -> Check {
    let got = inode(path)?;
    match same {
        true => check_eq(format_args!("stat of {path} (the same inode)"), got, *saved),
        false => check_eq(
            format_args!("stat of {path} (dev, mode, uid, gid)"),
            (got.dev, got.mode, got.uid, got.gid),
            (saved.dev, saved.mode, saved.uid, saved.gid),
        ),
    }
}

/// In a target: enters `dir`, binds L to "lsock" (relative), chmod()s its file to 0640, binds
/// Q to `dir`/qsock; both listen. Returns stat() of L's file.
fn listeners(dir: &str) -> Result<Inode, String> {
    enter_dir(dir)?;
    socket_at(libc::SOCK_STREAM, L)?;
    bind(L, L_PATH.as_bytes())?;
    listen(L, BACKLOG)?;
    std::fs::set_permissions("lsock", std::fs::Permissions::from_mode(0o640))
        .map_err(|e| format!("chmod lsock 0640: {e}"))?;
    let l = inode(&at(dir, "lsock"))?;
    check_eq("the mode of lsock after chmod 0640", l.mode, L_MODE)?;
    socket_at(libc::SOCK_SEQPACKET, Q)?;
    bind(Q, at(dir, "qsock").as_bytes())?;
    listen(Q, BACKLOG)?;
    Ok(l)
}

/// L's and Q's names, and each accepts a new connection to its absolute path, the accepted
/// socket and its client's peer having the listener's name.
fn check_listeners(dir: &str) -> Check {
    let (l, q) = (at(dir, "lsock"), at(dir, "qsock"));
    let q_name = path_name(&q);
    check_name("L", L, L_NAME)?;
    check_name("Q", Q, &q_name)?;
    for (what, ty, listener, client, accepted, path, name) in [
        ("L", libc::SOCK_STREAM, L, L_CLIENT, L_ACCEPTED, &l, L_NAME),
        (
            "Q",
            libc::SOCK_SEQPACKET,
            Q,
            Q_CLIENT,
            Q_ACCEPTED,
            &q,
            &q_name,
        ),
    ] {
        socket_at(ty, client)?;
        connect(client, path.as_bytes())?;
        accept_at(listener, accepted)?;
        check_name(
            format!("a connection {what} accepted after the restart"),
            accepted,
            name,
        )?;
        check_peer(format!("{what}'s new client"), client, name)?;
    }
    close_all(&[L_CLIENT, L_ACCEPTED, Q_CLIENT, Q_ACCEPTED]);
    Ok(())
}

/// In C: closes its copies of the listeners, connects A_c to L by its absolute path and P_c
/// to Q, writes "ping" on A_c and "rec1" on P_c; then connects B_c to L, with SO_PASSCRED set
/// before (so that connect() autobinds it to an abstract name), writes "bye" on it and closes
/// it. L accepts A_c's connection first, then B_c's: connect() queues them in that order.
fn client_setup(dir: String) -> Result<impl FnOnce() -> Check, String> {
    close_all(&[L, Q]);
    socket_at(libc::SOCK_STREAM, A_C)?;
    connect(A_C, at(&dir, "lsock").as_bytes())?;
    socket_at(libc::SOCK_SEQPACKET, P_C)?;
    connect(P_C, at(&dir, "qsock").as_bytes())?;
    send_all(A_C, PING)?;
    send_all(P_C, REC1)?;
    socket_at(libc::SOCK_STREAM, B_C)?;
    setsockopt_int(B_C, libc::SO_PASSCRED, 1)?;
    connect(B_C, at(&dir, "lsock").as_bytes())?;
    send_all(B_C, BYE)?;
    close_all(&[B_C]);
    Ok(move || client_check(&dir))
}

/// In C, woken by S after the restart: its peers' names, what it holds, the round trip.
fn client_check(dir: &str) -> Check {
    check_peer("A_c", A_C, L_NAME)?;
    check_message("A_c", A_C, PONG, L_NAME)?;
    let q = path_name(&at(dir, "qsock"));
    check_peer("P_c", P_C, &q)?;
    check_message("P_c", P_C, REP1, &q)?;
    send_all(A_C, AGAIN)?;
    check_message("A_c, after the round trip", A_C, BACK, L_NAME)?;
    close_all(&[A_C, P_C]);
    Ok(())
}

/// What S found before the checkpoint, to compare after.
struct Saved {
    me: libc::pid_t,
    client: Kid,
    dir: String,
    /// K's abstract name, which H is connected to.
    k_name: Vec<u8>,
    /// The abstract name the kernel gave B_c (autobind), B_s's peer.
    b_peer: Vec<u8>,
    /// stat() of each of [`FILES`], in that order.
    inodes: Vec<Inode>,
    /// stat() of [`GONE_FILE`], F_b's, which F_b left when it was closed.
    gone: Inode,
    /// Whether the files are expected to be the same inodes (the test did not remove them).
    same: bool,
}

/// S's setup (see the module doc) in `dir`; after the restart the files are the same inodes
/// if `same`.
fn setup(dir: String, same: bool) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    listeners(&dir)?;
    let ready = Ready::new()?;
    let for_client = dir.clone();
    let client = ready.fork(0, move |_| client_setup(for_client))?;
    ready.wait(1)?;
    accept_at(L, A_S)?;
    accept_at(L, B_S)?;
    accept_at(Q, P_S)?;
    let b_peer = peer_name(B_S)?;
    check_autobound(
        &format!("getpeername() of B_s (fd {B_S}), the second connection L accepted"),
        &b_peer,
    )?;
    send_all(A_S, PONG)?;
    send_all(P_S, REP1)?;
    socket_at(libc::SOCK_DGRAM, G)?;
    bind(G, at(&dir, "dsock").as_bytes())?;
    socketpair_at(libc::SOCK_STREAM, PAIR_BOUND, PAIR_OTHER)?;
    bind(PAIR_BOUND, at(&dir, "psock").as_bytes())?;
    send_all(PAIR_OTHER, HELLO)?;
    let k_name = format!("\0cr-path-k-{me}").into_bytes();
    socket_at(libc::SOCK_DGRAM, K)?;
    bind(K, &k_name)?;
    socket_at(libc::SOCK_DGRAM, H)?;
    bind(H, at(&dir, "hsock").as_bytes())?;
    connect(H, &k_name)?;
    closed_peers(&dir)?;
    connected_by_name(&dir)?;
    let inodes = FILES
        .iter()
        .map(|f| inode(&at(&dir, f)))
        .collect::<Result<Vec<_>, _>>()?;
    let gone = inode(&at(&dir, GONE_FILE))?;
    if let Some(i) = inodes
        .iter()
        .chain([&gone])
        .find(|i| i.mode & libc::S_IFMT != libc::S_IFSOCK)
    {
        return Err(format!("a file of a bound socket is not a socket: {i:?}"));
    }
    let saved = Saved {
        me,
        client,
        dir,
        k_name,
        b_peer,
        inodes,
        gone,
        same,
    };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// In S, after L accepted C's connections: E, a client of L whose connection, accepted,
/// wrote "gone" and was closed (S keeps no accepted socket for it); F, a socket of a datagram
/// pair whose other, F_b, bound to "D/gone.sock", sent "d2" to F and was closed.
fn closed_peers(dir: &str) -> Check {
    socket_at(libc::SOCK_STREAM, E)?;
    connect(E, L_PATH.as_bytes())?;
    accept_at(L, E_ACCEPTED)?;
    send_all(E_ACCEPTED, GONE)?;
    close_all(&[E_ACCEPTED]);
    socketpair_at(libc::SOCK_DGRAM, F, F_B)?;
    bind(F_B, at(dir, GONE_FILE).as_bytes())?;
    send_all(F_B, D2)?;
    close_all(&[F_B]);
    Ok(())
}

/// In S, once G is bound: X, unbound, connect()ed to G by its name relative to D ("dsock");
/// Y1 bound to "D/y1.sock" and Y2 to "y2.sock", Y1 connect()ed to Y2 by the absolute path
/// and Y2 to Y1 by the relative one (not the names they were bound to: their peers' names
/// are the names bind() was given).
fn connected_by_name(dir: &str) -> Check {
    socket_at(libc::SOCK_DGRAM, X)?;
    connect(X, b"dsock")?;
    socket_at(libc::SOCK_DGRAM, Y1)?;
    bind(Y1, at(dir, "y1.sock").as_bytes())?;
    socket_at(libc::SOCK_DGRAM, Y2)?;
    bind(Y2, b"y2.sock")?;
    connect(Y1, at(dir, "y2.sock").as_bytes())?;
    connect(Y2, b"y1.sock")
}

/// In S, woken: E and F, whose peers, named by a path, were closed: their peers' names, what
/// they hold, F's send() refused; F_b's file still there as it was (gone if `same` is false:
/// the test removed it, and restart binds nothing to it).
fn check_closed_peers(s: &Saved) -> Check {
    check_peer("E (its peer, accepted from L, closed)", E, L_NAME)?;
    check_message("E", E, GONE, L_NAME)?;
    check_bytes(
        format_args!("the next recv() of E (fd {E}), its peer closed"),
        &recv_within(E, ROOM, 0)?,
        b"",
    )?;
    let path = at(&s.dir, GONE_FILE);
    let gone = path_name(&path);
    check_peer("F (F_b closed)", F, &gone)?;
    check_message("F", F, D2, &gone)?;
    check_eq(
        format_args!("send() on F (fd {F}), its peer closed"),
        send(F, b"x", libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT),
        Err(libc::ECONNREFUSED),
    )?;
    check_eq(
        format_args!("getpeername() of F (fd {F}) after that send()"),
        peername(F),
        Err(libc::ENOTCONN),
    )?;
    match s.same {
        true => check_inode(&path, &s.gone, true),
        false => match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            got => Err(format!(
                "{path} (F_b's, closed, removed by the test) should not be made again by the \
                 restart, stat: {got:?}"
            )),
        },
    }
}

/// In S, woken: X, connected to G by name, and Y1 and Y2, connected to each other by name:
/// their names, their peers' names as bind() was given them, and what they send.
fn check_connected_by_name(s: &Saved) -> Check {
    let d = path_name(&at(&s.dir, "dsock"));
    let y1 = path_name(&at(&s.dir, "y1.sock"));
    let y2 = path_name("y2.sock");
    check_name("X (unbound)", X, b"")?;
    check_peer("X (connected to G by \"dsock\")", X, &d)?;
    send_all(X, XG)?;
    check_message("G, from X", G, XG, b"")?;
    check_name("Y1", Y1, &y1)?;
    check_name("Y2", Y2, &y2)?;
    check_peer("Y1", Y1, &y2)?;
    check_peer("Y2", Y2, &y1)?;
    send_all(Y1, Y12)?;
    check_message("Y2", Y2, Y12, &y1)?;
    send_all(Y2, Y21)?;
    check_message("Y1", Y1, Y21, &y2)
}

/// In S, woken: its own checks, then C's and the round trip.
fn check(s: &Saved) -> Check {
    // SAFETY: getpid has no preconditions.
    check_eq("getpid()", unsafe { libc::getpid() }, s.me)?;
    let dir = &s.dir;
    let [q, d, p, h] = ["qsock", "dsock", "psock", "hsock"].map(|f| at(dir, f));
    for (file, saved) in FILES.iter().zip(&s.inodes) {
        check_inode(&at(dir, file), saved, s.same)?;
    }
    check_listeners(dir)?;
    check_name("A_s", A_S, L_NAME)?;
    check_peer("A_s (A_c has no name)", A_S, b"")?;
    check_message("A_s", A_S, PING, b"")?;
    check_name("B_s", B_S, L_NAME)?;
    check_peer("B_s (B_c's autobound name)", B_S, &s.b_peer)?;
    check_message("B_s", B_S, BYE, &s.b_peer)?;
    check_bytes(
        format_args!("the next recv() of B_s (fd {B_S}), its peer closed"),
        &recv_within(B_S, ROOM, 0)?,
        b"",
    )?;
    check_name("P_s", P_S, &path_name(&q))?;
    check_message("P_s", P_S, REC1, b"")?;
    check_name("G", G, &path_name(&d))?;
    socket_at(libc::SOCK_DGRAM, DG_SENDER)?;
    check_eq(
        format_args!("sendto() of \"dg\" to {d}"),
        send_to(DG_SENDER, DG, d.as_bytes()),
        Ok(DG.len()),
    )?;
    check_message("G", G, DG, b"")?;
    check_name("the pair's bound socket", PAIR_BOUND, &path_name(&p))?;
    check_peer("the pair's other socket", PAIR_OTHER, &path_name(&p))?;
    check_message("the pair's bound socket", PAIR_BOUND, HELLO, b"")?;
    check_name("H", H, &path_name(&h))?;
    check_name("K", K, &s.k_name)?;
    check_peer("H", H, &s.k_name)?;
    send_all(H, HK)?;
    check_message("K", K, HK, &path_name(&h))?;
    check_closed_peers(s)?;
    check_connected_by_name(s)?;
    socket_at(libc::SOCK_STREAM, BINDER)?;
    check_eq(
        "bind() of a new stream socket to L's path",
        try_bind(BINDER, at(dir, "lsock").as_bytes()),
        Err(libc::EADDRINUSE),
    )?;
    wake(&[s.client])?;
    let trip =
        check_message("A_s, in the round trip", A_S, AGAIN, b"").and_then(|()| send_all(A_S, BACK));
    reap_after(&[s.client], trip)?;
    close_all(&[DG_SENDER, BINDER, E, F, X, Y1, Y2]);
    Ok(())
}

/// How [`run`] restarts S and C.
#[derive(Clone, Copy, PartialEq)]
enum How {
    File,
    Pipe,
    /// From the file, once the test removed the socket files (F_b's too).
    Removed,
}

/// S and C checkpointed with CKPT_KILL once C sleeps, and restarted as `how` says.
fn run(how: How, what: &str) {
    let dir = target_dir(what);
    // A dry run removes no file.
    let (for_target, same) = (dir.clone(), how != How::Removed || dry_run());
    let mut target = Target::spawn(move || setup(for_target, same));
    if how == How::Pipe {
        target.through_pipes();
    }
    let remove = |target: &Target| {
        if how != How::Removed {
            return;
        }
        for file in FILES.iter().chain(&[GONE_FILE]).map(|f| at(&dir, f)) {
            std::fs::remove_file(&file)
                .unwrap_or_else(|e| target.fail(format!("remove {file}: {e}")));
        }
    };
    target.restart_with_children_asleep_after(1, "for C to sleep", remove);
    target.finish();
}

/// The smaller target: L and Q in `dir`; after the restart their names, L's file (the same
/// inode if `same`) and a connection each.
fn listeners_setup(dir: String, same: bool) -> Result<impl FnOnce() -> Check, String> {
    let l = listeners(&dir)?;
    Ok(move || {
        wait_restored();
        check_inode(&at(&dir, "lsock"), &l, same)?;
        check_listeners(&dir)
    })
}

/// The log line of a restart that could not bind a socket to `name` at `place`.
fn taken_line(name: &str, place: &str) -> String {
    format!(
        "unix socket: cannot bind it to {name} at {place}: another file is there, \
         or a socket is bound to it (EADDRINUSE)"
    )
}

/// A regular file where Q's socket file was: the restart fails, leaving no process and no
/// file it made (L's); once the file is gone the image restarts.
fn another_file_there() {
    let dir = target_dir("taken");
    let for_target = dir.clone();
    let mut target = Target::spawn(move || listeners_setup(for_target, false));
    target.checkpoint(KILL);
    let (l, q) = (at(&dir, "lsock"), at(&dir, "qsock"));
    if !dry_run() {
        for file in [&l, &q] {
            std::fs::remove_file(file)
                .unwrap_or_else(|e| target.fail(format!("remove {file}: {e}")));
        }
        std::fs::write(&q, MINE).unwrap_or_else(|e| target.fail(format!("write {q}: {e}")));
        target.expect_restart_refused(
            0,
            (
                libc::EADDRINUSE,
                "restart with a regular file where Q's socket file was",
            ),
            &taken_line(&q, &q),
            &[],
        );
        match std::fs::symlink_metadata(&l) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            got => target.fail(format!(
                "{l} should be gone after the refused restart (made for L), stat: {got:?}"
            )),
        }
        let kept = std::fs::read(&q).map_err(|e| e.to_string());
        check_eq(
            format_args!("what {q} holds after the refused restart"),
            kept,
            Ok(MINE.to_vec()),
        )
        .unwrap_or_else(|e| target.fail(e));
        std::fs::remove_file(&q).unwrap_or_else(|e| target.fail(format!("remove {q}: {e}")));
    }
    target.restart();
    target.finish();
}

/// A container checkpointed without CKPT_KILL: the restart fails on L's file, which the
/// original's L is bound to, leaving no process; the original passes the checks, and once it
/// exited the image restarts on the inodes it left.
fn while_the_original_runs() {
    let dir = target_dir("running");
    let for_target = dir.clone();
    let target = Target::spawn_container(move || listeners_setup(for_target, true));
    let line = taken_line("lsock", &at(&dir, "lsock"));
    let why = "restart while the original's L is bound to its file";
    target.refused_beside_original((libc::EADDRINUSE, why), &line);
}

fn main() {
    run(How::File, "file");
    run(How::Pipe, "pipe");
    run(How::Removed, "removed");
    another_file_there();
    while_the_original_runs();
    pass("unix sockets bound to a path come back bound to it, checkpointed and restarted through a file, then through pipes: a stream listener bound to a relative name (getsockname() exactly \"lsock\") and chmod()ed to 0640, a seqpacket listener, a datagram socket and a pair's socket bound by hand to absolute paths keep their names and the very inodes of their files (device, inode, mode, owner); the listeners accept again, with their names, the datagram socket receives what is sent to its path, bind() to L's path is EADDRINUSE; connections they accepted keep the listener's name (getsockname() of the accepted socket, getpeername() and msg_name on the client) and what they held, a seqpacket record each way whole, a round trip works; one whose client (autobound by SO_PASSCRED) wrote \"bye\" and was closed keeps that client's abstract name as its peer's and the sender's of \"bye\", then its end; a datagram socket bound to a path and connected to one bound to an abstract name keeps both names and sends there under its path; a stream client of L whose accepted connection wrote \"gone\" and was closed names L's \"lsock\" as its peer and as the sender of \"gone\", then its end; a datagram socket of a pair whose other, bound to a path, sent \"d2\" and was closed names that path as its peer and the sender's, then send() is ECONNREFUSED, the closed socket's file left as it was and not made again once removed; an unbound datagram socket connected to a path-bound one by a relative name names it as bound and sends to it, and two bound to an absolute and a relative path, connected to each other, name each other as bound and exchange datagrams from their names; with the files removed the restart makes them again, with their saved mode (0640) and owner; a regular file at Q's path makes the restart fail with EADDRINUSE and a log line naming the path, leaving no process and removing the file it made for L; a restart while the original container runs fails with EADDRINUSE naming lsock, the original runs on, and the image restarts on its inodes once it exited");
}
