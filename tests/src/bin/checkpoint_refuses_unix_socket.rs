//! Unix sockets that restart could not make again as they are are refused before anything is
//! written, with EOPNOTSUPP and a log line saying why, and the target runs on with its
//! sockets as they were (each case checks afterwards that its socket still works, mostly by
//! reading back the "hello" it held):
//!
//! - a socket of a pair bound to a path in the scratch directory, the path unlinked since:
//!   "named by a path that was deleted or is outside the task's root";
//! - a socket accepted from a listener bound to a path in the scratch directory (closed
//!   since), on a lower fd than the socket that connected to it (which, its peer live, is
//!   not refused): "accepted from a listener bound to a path, since closed";
//! - a socket accepted from a listener bound to a path, its client in the target too, the
//!   listener handed to a sibling of the target outside its tree (which lives on through the
//!   checkpoint) and closed by the target: "accepted from a listener bound to a path outside
//!   the tree"; afterwards the accepted socket reads "hello" from its client and answers;
//! - a datagram socket bound to "srv.sock" in the scratch directory (fd 37), and an unbound
//!   one (fd 34, checked first) connected with connect() to that path, the path unlinked
//!   since: "connected by name to a socket bound to a path that was deleted or is outside
//!   the task's root" (of the client); afterwards the client still names the path as its
//!   peer and sends "x", which the other receives;
//! - a datagram socket bound to the relative name "srv.sock" (fd 37) in a directory deep
//!   enough under the scratch directory that its absolute path is 110 bytes or longer (more
//!   than an address holds), the target's working directory, and an unbound one (fd 34,
//!   checked first) connected with connect() to "srv.sock": "connected by name to a socket
//!   bound to a path as long as a name may be or longer, from the task's root" (of the
//!   client); afterwards the client still names "srv.sock" as its peer and sends "x", which
//!   the other receives;
//! - a stream socket connected to a listener of the test's (bound to an abstract name before
//!   the target was spawned, its fd not kept by the target) that has not accepted it yet,
//!   which wrote "hello": "connected to a listener outside the tree that has not accepted it
//!   yet"; afterwards the test accepts the connection, which reads "hello" and answers, and
//!   the target reads the answer from its socket, whose peer still has the listener's name;
//! - a stream listener of the target bound to an abstract name with a connection waiting from
//!   a socket of the test's, which connected to it by that name once the target had set it up
//!   and wrote "hello": "listening, with a connection waiting from a socket outside the
//!   tree"; afterwards the listener accepts it, the connection reads "hello" and answers
//!   "back", which the test reads, and the listener accepts another;
//! - where the kernel has out-of-band data, a stream listener bound to an abstract name with
//!   a connection waiting from a socket of the target that wrote "hello", then "!" with
//!   MSG_OOB: "listening, with a connection waiting holding out-of-band data (MSG_OOB)";
//!   afterwards the listener accepts it, and the connection reads "hello", then "!" with
//!   MSG_OOB;
//! - a datagram socket bound to an abstract name holding "hello", which an unbound datagram
//!   socket of the target sent to that name: "bound to a name, holding messages"; afterwards
//!   it keeps its name and receives another datagram;
//! - a datagram socket A bound to an abstract name holding "hello", which an unbound datagram
//!   socket X of the target sent to that name before A connected to B, a datagram socket
//!   bound to another name, which then connected to A: "holding a message from another
//!   socket than its peer"; afterwards A keeps its name and its peer's, and receives
//!   "hello";
//! - a datagram socket D connected by name to F, which then connected to G: "connected to a
//!   datagram socket connected to another"; a socket of a pair (its other closed) and a
//!   socket that socket(2) made, each bound and connected to the other by name: "connected
//!   to a socket that is not its pair" (of the socket(2) one, on the lower fd; leak detection
//!   counts neither as a pair); afterwards each still names its peer;
//! - a datagram socket of the target connected with connect() to one of the test's, bound to
//!   an abstract name: "connected to a socket outside the tree"; afterwards its peer is still
//!   that socket, which receives what it sends;
//! - a socket holding a message that carries a file (SCM_RIGHTS) that only the message holds,
//!   of a kind restart could only make in the process that held it: /dev/null, a regular file
//!   of the scratch directory ("a file in flight to fd 37 (SCM_RIGHTS): a file that only a
//!   message holds is not supported unless it is a pipe, socket, eventfd, timerfd or memfd",
//!   with its path); or of a kind checkpoint has not, a UDP socket ("a socket is not
//!   supported");
//! - a socket holding a message that carries an eventfd that a sibling of the target, outside
//!   its tree, kept open and the test took from it with pidfd_getfd(): "a file in flight to fd
//!   37 (SCM_RIGHTS): the open file is shared with pid" the test's, with its fd;
//! - a stream socket holding out-of-band data (MSG_OOB), where the kernel has it;
//! - a socket with SO_PASSCRED holding a message whose sender (SCM_CREDENTIALS) is outside
//!   the tree: the test, which took the other socket of the pair with pidfd_getfd(), wrote
//!   on it and closed it; the message still carries the test's pid afterwards;
//! - a socket with SO_PASSCRED holding a message whose sender (SCM_CREDENTIALS) exited: a
//!   child of the target that wrote it, reaped; the message still carries its pid afterwards;
//! - a socket with SO_KEEPALIVE, SO_PRIORITY, SO_LINGER or SO_MARK set (the one of its pair
//!   that holds nothing);
//! - a datagram socket whose pair's other socket was closed, its send() then refused with
//!   ECONNREFUSED: disconnected from its pair;
//! - a pair whose peer credentials (SO_PEERCRED) name a process outside the tree (the test,
//!   which made it), a process that exited (a child of the target that made it, reaped), or
//!   the target, which made it, but whose effective ids changed since;
//! - a pair whose other socket only the test holds (taken with pidfd_getfd() from a sibling
//!   of the target, outside its tree, that the target left it to): "unix socket pair is also
//!   open outside the tree";
//! - a socket the test holds too (taken with pidfd_getfd()): "shared with pid";
//! - an idle listener bound to an abstract name that the test holds too, checkpointed with
//!   CKPT_UNSHARE_OPEN_FILES, which accepts other files held outside: "the open file is
//!   shared with pid" the test's "outside the tree (restart could not share it again)" (the
//!   test's copy would keep the name); the listener then still accepts a connection.
//!
//! `checkpoint_refuses_unix_socket WORD` runs only the cases whose name holds WORD; each
//! case prints the kernel's log lines of its refusal.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use cr_tests::outside::take_fd;
use cr_tests::proc::wait_status_text;
use cr_tests::sys::waitpid;
use cr_tests::target::{fork_checker, kill_and_reap, scratch_dir};
use cr_tests::tree::Ready;
use cr_tests::unix::{
    accept_at, bind, check_eventfd, close_all, connect, eventfd_at, getsockopt_int, listen,
    move_fd, peek_creds, peer_name, recv_with_fd, recv_within, send, send_to, send_with_fd,
    setsockopt_int, socket_at, socketpair_at, sockname,
};
use cr_tests::{
    check_eq, check_os, describe_errno, errno_problem, fail, fd_link, fstat, log_names, open_at,
    pass, pread_exact, wait_restored, write_all, Check, Target, KILL,
};

/// The socket that holds what its peer wrote, and that peer.
const RECV: RawFd = 37;
const SEND: RawFd = 38;
/// A listener, for the time it takes to accept; in the test, its own listener.
const LISTENER: RawFd = 39;
/// A connection a listener on [`RECV`] accepts, or in the test, one its listener accepts.
const ACCEPTED: RawFd = 35;
/// A third socket, which sends to [`RECV`] from outside its pair.
const THIRD: RawFd = 34;
/// A file that a message carries, until it is sent.
const CARRIED: RawFd = 36;

/// What the sockets hold.
const HELLO: &[u8] = b"hello";

/// The log line's words for a socket bound to a path that was unlinked since.
const UNLINKED: &str =
    "a unix socket named by a path that was deleted or is outside the task's root is not supported";
/// For a socket accepted from a listener bound to a path, closed since.
const ACCEPTED_PATH: &str =
    "a unix socket accepted from a listener bound to a path, since closed is not supported";
/// For a socket accepted from a listener bound to a path that only a process outside the tree
/// holds.
const LISTENER_OUTSIDE: &str =
    "a unix socket accepted from a listener bound to a path outside the tree is not supported";
/// For a datagram socket connected with connect() to one bound to a path unlinked since.
const CONNECTED_DELETED: &str = "a unix socket connected by name to a socket bound to a path that was deleted or is outside the task's root is not supported";
/// For a datagram socket connected with connect() to one bound to a path whose absolute place
/// does not fit in an address.
const CONNECTED_LONG: &str = "a unix socket connected by name to a socket bound to a path as long as a name may be or longer, from the task's root is not supported";
/// For a socket connected to a listener outside the tree that has not accepted it yet.
const NOT_ACCEPTED: &str = "a unix socket connected to a listener outside the tree that has not accepted it yet is not supported";
/// For a socket holding a message that another socket than its peer sent.
const FROM_ANOTHER: &str =
    "a unix socket holding a message from another socket than its peer is not supported";
/// For a listener with a connection waiting from a socket outside the tree.
const WAITING_OUTSIDE: &str =
    "a unix socket listening, with a connection waiting from a socket outside the tree is not supported";
/// For a listener with a connection waiting whose client sent out-of-band data.
const WAITING_OOB: &str = "a unix socket listening, with a connection waiting holding out-of-band data (MSG_OOB) is not supported";
/// For a socket bound to a name that holds a message.
const HOLDING: &str = "a unix socket bound to a name, holding messages is not supported";
/// For a datagram socket connected to one the tree does not have.
const CONNECTED_OUTSIDE: &str =
    "a unix socket connected to a socket outside the tree is not supported";

/// The log line's words for a file that only a message holds, of a kind restart makes only
/// in the process that holds it.
const ONLY_MESSAGE: &str = "a file that only a message holds is not supported unless it is a pipe, socket, eventfd, timerfd or memfd";
/// What the regular file a message carries holds, and its name in the scratch directory.
const FILE_BYTES: &[u8] = b"carried";
const FILE_NAME: &str = "carried";
/// The count of the eventfds that messages carry.
const EVENTFD_COUNT: u32 = 5;

/// A stream pair whose [`RECV`] holds [`HELLO`].
fn stream_hello() -> Check {
    socketpair_at(libc::SOCK_STREAM, RECV, SEND)?;
    write_all(SEND, HELLO)
}

/// A stream pair whose [`RECV`] has SO_PASSCRED: what is written on [`SEND`] carries its
/// sender's credentials.
fn passcred_pair() -> Check {
    socketpair_at(libc::SOCK_STREAM, RECV, SEND)?;
    setsockopt_int(RECV, libc::SO_PASSCRED, 1)
}

/// The log line's words for a socket holding a message whose sender `is`.
fn sender_refused(is: &str) -> String {
    format!("a unix socket holding a message whose sender (SCM_CREDENTIALS) {is} is not supported")
}

/// [`RECV`] still holds [`HELLO`] with the credentials of `sender`, uid 0 and gid 0.
fn still_hello_from(sender: libc::pid_t) -> Check {
    check_eq(
        "the credentials of the message (pid, uid, gid)",
        peek_creds(RECV)?,
        (sender, 0, 0),
    )?;
    still_hello()
}

/// [`RECV`] still holds [`HELLO`], and no more.
fn still_hello() -> Check {
    check_eq(
        "bytes read back from the socket",
        recv_within(RECV, 64, 0)?,
        HELLO.to_vec(),
    )
}

/// An abstract name of the calling process's own, made of `what`.
fn abstract_name(what: &str) -> Vec<u8> {
    abstract_name_of(what, std::process::id() as libc::pid_t)
}

/// The abstract name [`abstract_name`] gives `what` in the process `pid`.
fn abstract_name_of(what: &str, pid: libc::pid_t) -> Vec<u8> {
    format!("\0cr-unix-{what}-{pid}").into_bytes()
}

/// A stream socket on `fd` bound to `name`, listening.
fn listener_at(name: &[u8], fd: RawFd) -> Check {
    socket_at(libc::SOCK_STREAM, fd)?;
    bind(fd, name)?;
    listen(fd, 4)
}

/// A stream listener on [`RECV`] bound to the abstract name that [`abstract_name`] gives
/// "listen" in the target, which the test connects to.
fn listening() -> Check {
    listener_at(&abstract_name("listen"), RECV)
}

/// The listener on [`RECV`] still listens; it accepts the waiting connection, the test's,
/// which reads [`HELLO`] and answers "back" (which the test reads); then one of its own.
fn still_listening() -> Check {
    check_eq(
        "SO_ACCEPTCONN",
        getsockopt_int(RECV, libc::SO_ACCEPTCONN)?,
        1,
    )?;
    accept_at(RECV, ACCEPTED)?;
    check_eq(
        "bytes the accepted connection reads",
        recv_within(ACCEPTED, 64, 0)?,
        HELLO.to_vec(),
    )?;
    write_all(ACCEPTED, b"back")?;
    close_all(&[ACCEPTED]);
    socket_at(libc::SOCK_STREAM, SEND)?;
    connect(SEND, &abstract_name("listen"))?;
    accept_at(RECV, ACCEPTED)?;
    close_all(&[ACCEPTED, SEND]);
    Ok(())
}

/// A stream listener of the target's with a connection waiting from the test's socket on
/// [`SEND`], which connected to it by its name once the target had set it up and wrote
/// [`HELLO`]. After the refusal the target accepts the connection, which reads [`HELLO`] and
/// answers "back", which the test reads.
fn waiting_from_outside() {
    let mut target = spawn(listening, still_listening);
    let name = abstract_name_of("listen", target.pid());
    let client = socket_at(libc::SOCK_STREAM, SEND)
        .and_then(|()| connect(SEND, &name))
        .and_then(|()| write_all(SEND, HELLO));
    client.unwrap_or_else(|e| target.fail(format!("the test's client: {e}")));
    target.expect_refused(WAITING_OUTSIDE);
    show_log_and_finish(target);
    let answer = recv_within(SEND, 64, 0);
    close_all(&[SEND]);
    check_eq(
        "bytes the test's client reads",
        answer,
        Ok(b"back".to_vec()),
    )
    .unwrap_or_else(|e| fail(e));
}

/// A stream listener on [`RECV`] with a connection waiting: the socket on [`SEND`], which
/// connected to it, wrote [`HELLO`], then "!" out of band.
fn waiting_out_of_band() -> Check {
    let name = abstract_name("oob");
    listener_at(&name, RECV)?;
    socket_at(libc::SOCK_STREAM, SEND)?;
    connect(SEND, &name)?;
    write_all(SEND, HELLO)?;
    send_oob(SEND)
}

/// The listener on [`RECV`] accepts the waiting connection, which reads [`HELLO`], then "!"
/// with MSG_OOB.
fn still_waiting_out_of_band() -> Check {
    accept_at(RECV, ACCEPTED)?;
    out_of_band_on(ACCEPTED)
}

/// A datagram socket on [`RECV`] bound to an abstract name, holding [`HELLO`] that the
/// unbound datagram socket on [`SEND`] sent to that name.
fn bound_holding() -> Check {
    let name = abstract_name("dgram");
    socket_at(libc::SOCK_DGRAM, RECV)?;
    bind(RECV, &name)?;
    socket_at(libc::SOCK_DGRAM, SEND)?;
    check_eq(
        "sendto() of the datagram",
        send_to(SEND, HELLO, &name),
        Ok(HELLO.len()),
    )
}

/// The datagram socket on [`RECV`] keeps its name and [`HELLO`], and receives another.
fn still_bound_holding() -> Check {
    let name = abstract_name("dgram");
    check_eq("getsockname()", sockname(RECV)?, name.clone())?;
    still_hello()?;
    check_eq(
        "sendto() of another datagram",
        send_to(SEND, b"more", &name),
        Ok(4),
    )?;
    check_eq(
        "the other datagram",
        recv_within(RECV, 64, 0)?,
        b"more".to_vec(),
    )
}

/// A socket on [`RECV`] accepted from a listener bound to `path`, closed since, that holds
/// [`HELLO`] from the socket on [`SEND`], which connected to it.
fn accepted_from(path: &str) -> Check {
    listener_at(path.as_bytes(), LISTENER)?;
    socket_at(libc::SOCK_STREAM, SEND)?;
    connect(SEND, path.as_bytes())?;
    accept_at(LISTENER, RECV)?;
    close_all(&[LISTENER]);
    write_all(SEND, HELLO)
}

/// A socket accepted from a listener bound to a path in the scratch directory.
fn accepted_from_path() {
    let path = format!("{}/listener", scratch_dir());
    refused(move || accepted_from(&path), still_hello, ACCEPTED_PATH)
}

/// In the target: a socket on [`RECV`] accepted from a listener on [`LISTENER`] bound to
/// `path`, holding [`HELLO`] from the socket on [`SEND`], which connected to it; then a
/// sibling outside the tree keeps the listener ([`to_sibling`]), which the target closes.
fn accepted_listener_to_sibling(path: &str) -> Check {
    listener_at(path.as_bytes(), LISTENER)?;
    socket_at(libc::SOCK_STREAM, SEND)?;
    connect(SEND, path.as_bytes())?;
    accept_at(LISTENER, RECV)?;
    write_all(SEND, HELLO)?;
    to_sibling(LISTENER)
}

/// The accepted socket on [`RECV`] still reads [`HELLO`] and answers; its client on [`SEND`]
/// reads the answer.
fn still_exchange() -> Check {
    still_hello()?;
    write_all(RECV, b"back")?;
    check_eq(
        "bytes the client reads",
        recv_within(SEND, 64, 0)?,
        b"back".to_vec(),
    )
}

/// A socket accepted from a listener bound to a path in the scratch directory that only the
/// target's sibling, outside the tree, holds: the sibling lives on through the checkpoint
/// (closed, the listener would be "since closed").
fn accepted_listener_outside() {
    let path = format!("{}/listener", scratch_dir());
    let mut target = spawn(move || accepted_listener_to_sibling(&path), still_exchange);
    let sibling = target.sibling();
    target.expect_refused(LISTENER_OUTSIDE);
    kill_and_reap(sibling);
    show_log_and_finish(target);
}

/// A datagram socket on [`RECV`] bound to "srv.sock" in the scratch directory, and an
/// unbound one on [`THIRD`], a lower fd (checkpoint checks it first), connected to that path
/// with connect(); then the path is unlinked. After the refusal the client still names the
/// path as its peer, and sends "x", which the server receives.
fn connected_to_deleted_path() {
    let path = format!("{}/srv.sock", scratch_dir());
    let to = path.clone();
    let setup = move || {
        socket_at(libc::SOCK_DGRAM, RECV)?;
        bind(RECV, to.as_bytes())?;
        socket_at(libc::SOCK_DGRAM, THIRD)?;
        connect(THIRD, to.as_bytes())?;
        std::fs::remove_file(&to).map_err(|e| format!("unlink {to}: {e}"))
    };
    // The kernel gives a path's address with its terminating NUL.
    let name = [path.as_bytes(), b"\0"].concat();
    refused(setup, move || client_still_sends(&name), CONNECTED_DELETED)
}

/// The datagram client on [`THIRD`] still names `peer` as its peer, and sends "x", which the
/// server on [`RECV`] receives.
fn client_still_sends(peer: &[u8]) -> Check {
    check_eq(
        "getpeername() of the client",
        peer_name(THIRD)?,
        peer.to_vec(),
    )?;
    check_eq("send() of the client", send(THIRD, b"x", 0), Ok(1))?;
    check_eq(
        "what the server receives",
        recv_within(RECV, 64, 0)?,
        b"x".to_vec(),
    )
}

/// A datagram socket on [`RECV`] bound to the relative name "srv.sock" in a directory under the
/// scratch directory deep enough that the absolute path of "srv.sock" is at least 110 bytes
/// long (an address holds at most 107 and a NUL), the target's working directory (the target
/// is a process of its own: the test's stays), and an unbound one on [`THIRD`], a lower fd
/// (checkpoint checks it first), connected to "srv.sock" with connect(). Restart could not
/// connect it again by the absolute place of the server. After the refusal the client still
/// names "srv.sock" as its peer, and sends "x", which the server receives.
fn connected_to_long_path() {
    let dir = format!("{}{}", scratch_dir(), "/aaaaaaaaaaaaaaaaaaaa".repeat(4));
    let setup = move || {
        let path = format!("{dir}/srv.sock");
        if path.len() < 110 {
            return Err(format!("{path} is only {} bytes long", path.len()));
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir -p {dir}: {e}"))?;
        std::env::set_current_dir(&dir).map_err(|e| format!("chdir {dir}: {e}"))?;
        socket_at(libc::SOCK_DGRAM, RECV)?;
        bind(RECV, b"srv.sock")?;
        socket_at(libc::SOCK_DGRAM, THIRD)?;
        connect(THIRD, b"srv.sock")
    };
    // The kernel gives a path's address with its terminating NUL.
    refused(setup, || client_still_sends(b"srv.sock\0"), CONNECTED_LONG)
}

/// A stream socket of the target on [`RECV`] connected to a listener of the test's, which
/// has not accepted it: the test listens on an abstract name on [`LISTENER`] before spawning
/// the target (which closes every fd it inherits above fd 3), the target connects and
/// writes [`HELLO`]. After the refusal the test accepts the connection, which reads
/// [`HELLO`] and answers "back"; the target's socket, whose peer has the listener's name,
/// reads the answer.
fn not_accepted_yet() {
    let name = abstract_name("waiting");
    listener_at(&name, LISTENER).unwrap_or_else(|e| fail(format!("the test's listener: {e}")));
    let to = name.clone();
    let setup = move || {
        socket_at(libc::SOCK_STREAM, RECV)?;
        connect(RECV, &to)?;
        write_all(RECV, HELLO)
    };
    let works = move || {
        check_eq("getpeername()", peer_name(RECV)?, name)?;
        check_eq(
            "bytes read from the listener's connection",
            recv_within(RECV, 64, 0)?,
            b"back".to_vec(),
        )
    };
    let mut target = spawn(setup, works);
    target.expect_refused(NOT_ACCEPTED);
    let answered = accept_at(LISTENER, ACCEPTED).and_then(|()| {
        check_eq(
            "bytes the connection the test accepted reads",
            recv_within(ACCEPTED, 64, 0)?,
            HELLO.to_vec(),
        )?;
        write_all(ACCEPTED, b"back")
    });
    answered.unwrap_or_else(|e| target.fail(format!("the test's listener: {e}")));
    show_log_and_finish(target);
    close_all(&[ACCEPTED, LISTENER]);
}

/// A datagram socket of the target on [`RECV`] connected with connect() to a datagram socket
/// of the test's, bound to an abstract name on [`LISTENER`] before the target was spawned.
/// After the refusal the target's socket still names it as its peer, and sends "more", which
/// the test receives after the [`HELLO`] the target sent before.
fn connected_outside() {
    let name = abstract_name("server");
    let bound = socket_at(libc::SOCK_DGRAM, LISTENER).and_then(|()| bind(LISTENER, &name));
    bound.unwrap_or_else(|e| fail(format!("the test's datagram socket: {e}")));
    let to = name.clone();
    let setup = move || {
        socket_at(libc::SOCK_DGRAM, RECV)?;
        connect(RECV, &to)?;
        check_eq(
            "send() of the greeting",
            send(RECV, HELLO, 0),
            Ok(HELLO.len()),
        )
    };
    let works = move || {
        check_eq("getpeername()", peer_name(RECV)?, name)?;
        check_eq("send() after the refusal", send(RECV, b"more", 0), Ok(4))
    };
    let mut target = spawn(setup, works);
    target.expect_refused(CONNECTED_OUTSIDE);
    show_log_and_finish(target);
    for want in [HELLO, b"more".as_slice()] {
        let got = recv_within(LISTENER, 64, 0);
        check_eq("what the test's socket receives", got, Ok(want.to_vec()))
            .unwrap_or_else(|e| fail(e));
    }
    close_all(&[LISTENER]);
}

/// A datagram socket A on [`RECV`] bound to an abstract name, holding [`HELLO`] that an
/// unbound datagram socket X on [`THIRD`] sent to that name; then A connects to B on
/// [`SEND`], bound to another name, and B to A: A holds a message from another socket than
/// its peer.
fn from_another() -> Check {
    let (a, b) = (abstract_name("a"), abstract_name("b"));
    socket_at(libc::SOCK_DGRAM, RECV)?;
    bind(RECV, &a)?;
    socket_at(libc::SOCK_DGRAM, SEND)?;
    bind(SEND, &b)?;
    socket_at(libc::SOCK_DGRAM, THIRD)?;
    check_eq(
        "sendto() of the datagram from X",
        send_to(THIRD, HELLO, &a),
        Ok(HELLO.len()),
    )?;
    connect(RECV, &b)?;
    connect(SEND, &a)
}

/// A datagram socket D on [`RECV`] connected by name to F on [`SEND`], which then connected
/// to G on [`THIRD`]: restart could connect D only before F.
fn chain() -> Check {
    let (f, g) = (abstract_name("f"), abstract_name("g"));
    socket_at(libc::SOCK_DGRAM, SEND)?;
    bind(SEND, &f)?;
    socket_at(libc::SOCK_DGRAM, THIRD)?;
    bind(THIRD, &g)?;
    socket_at(libc::SOCK_DGRAM, RECV)?;
    connect(RECV, &f)?;
    connect(SEND, &g)
}

/// D and F still name their peers.
fn still_chain() -> Check {
    check_eq("getpeername() of D", peer_name(RECV)?, abstract_name("f"))?;
    check_eq("getpeername() of F", peer_name(SEND)?, abstract_name("g"))
}

/// A datagram socket D on [`THIRD`] that socket(2) made, bound to a name, and A on [`RECV`],
/// a socket of a pair (whose other, on [`SEND`], is closed), bound to another: each connected
/// to the other by name. A has the peer credentials of its pair, D none.
fn pair_connected_back() -> Check {
    let (a, d) = (abstract_name("a"), abstract_name("d"));
    socketpair_at(libc::SOCK_DGRAM, RECV, SEND)?;
    bind(RECV, &a)?;
    socket_at(libc::SOCK_DGRAM, THIRD)?;
    bind(THIRD, &d)?;
    connect(RECV, &d)?;
    connect(THIRD, &a)?;
    close_all(&[SEND]);
    Ok(())
}

/// A and D still name each other as peers.
fn still_connected_back() -> Check {
    check_eq("getpeername() of A", peer_name(RECV)?, abstract_name("d"))?;
    check_eq("getpeername() of D", peer_name(THIRD)?, abstract_name("a"))
}

/// A on [`RECV`] keeps its name and its peer's, and receives [`HELLO`].
fn still_from_another() -> Check {
    check_eq("getsockname() of A", sockname(RECV)?, abstract_name("a"))?;
    check_eq("getpeername() of A", peer_name(RECV)?, abstract_name("b"))?;
    still_hello()
}

/// What the log line of a refused file in flight to [`RECV`] says: `why`, behind where.
fn in_flight(why: &str) -> String {
    format!("a file in flight to fd {RECV} (SCM_RIGHTS): {why}")
}

/// A stream pair whose [`RECV`] holds [`HELLO`] in a message that carries the file `open`
/// opens on [`CARRIED`], which the target then closes: the message holds the only reference
/// to it.
fn carrying(open: impl FnOnce() -> Check) -> Check {
    open()?;
    socketpair_at(libc::SOCK_STREAM, RECV, SEND)?;
    send_with_fd(SEND, HELLO, CARRIED)?;
    close_all(&[CARRIED]);
    Ok(())
}

/// [`RECV`] still holds [`HELLO`] and the fd that came with it, which `works` checks.
fn still_carrying(works: impl FnOnce(RawFd) -> Check) -> Check {
    let (bytes, fd) = recv_with_fd(RECV, 64, libc::MSG_DONTWAIT)?;
    check_eq("bytes read back", bytes.as_slice(), HELLO)?;
    let fd = fd.ok_or("the message came without its fd")?;
    works(fd.as_raw_fd())
}

/// /dev/null, read-only, on [`CARRIED`].
fn open_dev_null() -> Check {
    open_at("/dev/null", libc::O_RDONLY, 0, CARRIED)
}

/// The file that came with the message is /dev/null.
fn is_dev_null(fd: RawFd) -> Check {
    check_eq(
        "the file of the fd that came with the message",
        fd_link(fd)?,
        "/dev/null".to_string(),
    )
}

/// A new regular file at `path` holding [`FILE_BYTES`], on [`CARRIED`].
fn open_regular(path: &str) -> Check {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    open_at(path, flags, 0o600, CARRIED)?;
    write_all(CARRIED, FILE_BYTES)
}

/// The file that came with the message is a regular file holding [`FILE_BYTES`].
fn is_regular(fd: RawFd) -> Check {
    check_eq(
        "the file type of the fd that came with the message",
        fstat(fd)?.st_mode & libc::S_IFMT,
        libc::S_IFREG,
    )?;
    check_eq(
        "the bytes of the file that came with the message",
        pread_exact(fd, FILE_BYTES.len(), 0)?,
        FILE_BYTES.to_vec(),
    )
}

/// A UDP socket on [`CARRIED`].
fn open_udp() -> Check {
    // SAFETY: socket takes integers and makes an fd of ours.
    let got = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    check_os(got, "socket(AF_INET, SOCK_DGRAM)")?;
    move_fd(got, CARRIED)
}

/// The file that came with the message is a UDP socket.
fn is_udp(fd: RawFd) -> Check {
    check_eq(
        "SO_DOMAIN of the socket that came with the message",
        getsockopt_int(fd, libc::SO_DOMAIN)?,
        libc::AF_INET,
    )?;
    check_eq(
        "SO_TYPE of the socket that came with the message",
        getsockopt_int(fd, libc::SO_TYPE)?,
        libc::SOCK_DGRAM,
    )
}

/// An eventfd of count [`EVENTFD_COUNT`] on [`CARRIED`].
fn open_eventfd() -> Check {
    eventfd_at(EVENTFD_COUNT, CARRIED)
}

/// The file that came with the message is an eventfd of count [`EVENTFD_COUNT`].
fn is_eventfd(fd: RawFd) -> Check {
    check_eventfd("the fd that came with the message", fd, EVENTFD_COUNT)
}

/// Sends one byte of out-of-band data from `fd`: the errno if it fails.
fn send_oob(fd: RawFd) -> Check {
    match send(fd, b"!", libc::MSG_OOB) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("send with MSG_OOB: {}", describe_errno(e))),
    }
}

/// Whether this kernel takes out-of-band data on a unix stream socket (CONFIG_AF_UNIX_OOB):
/// `Err` says why not.
fn oob_supported() -> Check {
    socketpair_at(libc::SOCK_STREAM, RECV, SEND)?;
    let sent = send_oob(SEND);
    close_all(&[RECV, SEND]);
    sent
}

/// A stream pair whose [`RECV`] holds [`HELLO`], then "!" out of band.
fn out_of_band() -> Check {
    stream_hello()?;
    send_oob(SEND)
}

/// [`RECV`] still holds [`HELLO`], then "!" out of band.
fn still_out_of_band() -> Check {
    out_of_band_on(RECV)
}

/// The stream socket `fd` reads [`HELLO`], then "!" with MSG_OOB.
fn out_of_band_on(fd: RawFd) -> Check {
    check_eq(
        "the bytes before the out-of-band mark",
        recv_within(fd, 64, 0)?,
        HELLO.to_vec(),
    )?;
    check_eq(
        "the out-of-band byte",
        recv_within(fd, 64, libc::MSG_OOB)?,
        b"!".to_vec(),
    )
}

/// A stream pair whose [`RECV`] holds [`HELLO`], with the option `opt` set to `value` on
/// [`SEND`].
fn with_option(opt: libc::c_int, value: libc::c_int) -> Check {
    stream_hello()?;
    setsockopt_int(SEND, opt, value)
}

/// SO_LINGER on, 5 s, on [`SEND`].
fn linger() -> Check {
    stream_hello()?;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 5,
    };
    let len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: passes a linger of its size.
    let r = unsafe {
        libc::setsockopt(
            SEND,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const l).cast(),
            len,
        )
    };
    check_os(r, "setsockopt(SO_LINGER)")
}

/// `Err` unless a send() of a byte from [`RECV`] fails with `errno`.
fn send_fails(errno: i32, what: &str) -> Check {
    let sent = send(RECV, b"x", libc::MSG_DONTWAIT).map_err(io::Error::from_raw_os_error);
    errno_problem(&sent, errno, what).map_or(Ok(()), Err)
}

/// A datagram pair whose [`SEND`] was closed; [`RECV`]'s send() found it gone
/// (ECONNREFUSED), which disconnected it.
fn disconnected() -> Check {
    socketpair_at(libc::SOCK_DGRAM, RECV, SEND)?;
    close_all(&[SEND]);
    send_fails(
        libc::ECONNREFUSED,
        "send() of a datagram socket whose peer was closed",
    )
}

/// [`RECV`] is a datagram socket still, connected to none.
fn still_disconnected() -> Check {
    check_eq(
        "SO_TYPE",
        getsockopt_int(RECV, libc::SO_TYPE)?,
        libc::SOCK_DGRAM,
    )?;
    send_fails(
        libc::ENOTCONN,
        "send() of a datagram socket disconnected from its peer",
    )
}

/// Takes [`RECV`] and [`SEND`] of the process `pid` with pidfd_getfd(), to the same fds.
fn take_pair(pid: libc::pid_t) -> Check {
    for fd in [RECV, SEND] {
        move_fd(take_fd(pid, fd)?, fd)?;
    }
    Ok(())
}

/// A stream pair whose [`RECV`] holds [`HELLO`], made by a child of the target, which then
/// exited and was reaped.
fn made_by_dead_child() -> Check {
    let ready = Ready::new()?;
    let kid = ready.fork(0, |_| stream_hello().map(|()| || Ok(())))?;
    let taken = ready.wait(1).and_then(|()| take_pair(kid.pid));
    kill_and_reap(kid.pid);
    taken
}

/// A stream pair whose [`RECV`] holds [`HELLO`], made by the target as root, which then took
/// another effective group and user.
fn maker_changed_ids() -> Check {
    stream_hello()?;
    // SAFETY: setegid and seteuid take integers.
    unsafe {
        check_os(libc::setegid(1000), "setegid(1000)")?;
        check_os(libc::seteuid(1000), "seteuid(1000)")
    }
}

/// In the target: makes a sibling (a child of the test, outside the tree: CLONE_PARENT) that
/// keeps only [`SEND`] of the fds it inherited and sleeps until killed; closes [`SEND`].
fn send_end_to_sibling() -> Check {
    stream_hello()?;
    to_sibling(SEND)
}

/// In the target: a stream pair whose [`RECV`] holds [`HELLO`] in a message that carries an
/// eventfd, which a sibling keeps ([`to_sibling`]) and the target closes.
fn carried_by_sibling() -> Check {
    open_eventfd()?;
    socketpair_at(libc::SOCK_STREAM, RECV, SEND)?;
    send_with_fd(SEND, HELLO, CARRIED)?;
    to_sibling(CARRIED)
}

/// In the target: makes a sibling (a child of the test, outside the tree: CLONE_PARENT) that
/// keeps only `fd` of the fds it inherited and sleeps until killed; closes `fd`.
fn to_sibling(fd: RawFd) -> Check {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_long;
    // SAFETY: without CLONE_VM and with no new stack this is fork() that makes the test the
    // child's parent; the child only closes fds and sleeps until killed.
    let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    check_os(child, "clone(CLONE_PARENT)")?;
    if child == 0 {
        // SAFETY: closes fds of the sibling's own table, then sleeps until killed.
        unsafe {
            libc::syscall(libc::SYS_close_range, 0, (fd - 1) as libc::c_uint, 0);
            libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0);
            loop {
                libc::pause();
            }
        }
    }
    close_all(&[fd]);
    Ok(())
}

/// A target that runs `setup`, then, once woken, `works`.
fn spawn(setup: impl FnOnce() -> Check, works: impl FnOnce() -> Check) -> Target {
    Target::spawn(move || {
        setup()?;
        Ok(move || {
            wait_restored();
            works()
        })
    })
}

/// Prints the kernel's log lines of the target's checkpoints, for the record, and expects
/// the target to pass its check.
fn show_log_and_finish(target: Target) {
    for line in target.klog() {
        println!("# kernel: {line}");
    }
    target.finish();
}

/// Checkpoint of `target` must be refused with a log line naming it and `why`; it then runs
/// on, and passes its check.
fn expect_refused(mut target: Target, why: &str) {
    target.expect_refused(why);
    show_log_and_finish(target);
}

/// A target that runs `setup` must be refused with a log line naming it and `why`; after the
/// refusal it passes `works`.
fn refused(setup: impl FnOnce() -> Check, works: impl FnOnce() -> Check, why: &str) {
    expect_refused(spawn(setup, works), why);
}

/// Checkpoint of `target` with `flags` while the test holds `fd`, a socket of it, must be
/// refused with EOPNOTSUPP and a log line naming `token`; the target then runs on, and
/// passes its check.
fn refused_outside(mut target: Target, flags: u32, fd: RawFd, token: &str) {
    let result = target.try_checkpoint(flags);
    let what = format!("checkpoint while the test holds a file of the target (\"{token}\")");
    target.expect_checkpoint_errno(result, libc::EOPNOTSUPP, &what);
    if !log_names(target.klog(), token) {
        target.fail(format!("no kernel log line says \"{token}\""));
    }
    target.expect_asleep(Duration::from_millis(200));
    show_log_and_finish(target);
    close_all(&[fd]);
}

/// A socket of a pair bound to a path in the scratch directory, which was unlinked since.
fn bound_to_unlinked_path() {
    let path = format!("{}/socket", scratch_dir());
    let setup = move || {
        stream_hello()?;
        bind(RECV, path.as_bytes())?;
        std::fs::remove_file(&path).map_err(|e| format!("unlink {path}: {e}"))
    };
    refused(setup, still_hello, UNLINKED)
}

/// A case of out-of-band data ([`refused`] with `setup`, `works` and `why`), where the kernel
/// has it.
fn out_of_band_case(setup: fn() -> Check, works: fn() -> Check, why: &str) {
    match oob_supported() {
        Ok(()) => refused(setup, works, why),
        Err(e) => println!("# no MSG_OOB case: {e}"),
    }
}

/// A pair made by the test, which closes its own sockets of it once the target took them.
fn maker_outside() {
    stream_hello().unwrap_or_else(|e| fail(e));
    // SAFETY: getppid has no preconditions.
    let target = spawn(|| take_pair(unsafe { libc::getppid() }), still_hello);
    close_all(&[RECV, SEND]);
    let why = "whose peer credentials (SO_PEERCRED) name a process outside the tree";
    expect_refused(target, why);
}

/// A pair whose [`SEND`] only the test holds, taken from the target's sibling.
fn peer_outside() {
    let target = spawn(send_end_to_sibling, still_hello);
    let sibling = target.sibling();
    let taken = take_fd(sibling, SEND).unwrap_or_else(|e| target.fail(e));
    kill_and_reap(sibling);
    let token = "unix socket pair is also open outside the tree";
    refused_outside(target, KILL, taken, token);
}

/// A message that carries an eventfd that only the test holds besides, taken from the
/// target's sibling.
fn in_flight_outside() {
    let target = spawn(carried_by_sibling, || still_carrying(is_eventfd));
    let sibling = target.sibling();
    let taken = take_fd(sibling, CARRIED).unwrap_or_else(|e| target.fail(e));
    kill_and_reap(sibling);
    let me = std::process::id();
    let token = in_flight(&format!(
        "the open file is shared with pid {me} (fd {taken}) outside the tree"
    ));
    refused_outside(target, KILL, taken, &token);
}

/// A message that carries a file that only it holds, opened by `open`, whose log line says
/// `why`; the target then passes `works` on the file.
fn in_flight_refused(open: fn() -> Check, works: fn(RawFd) -> Check, why: &str) {
    refused(
        move || carrying(open),
        move || still_carrying(works),
        &in_flight(why),
    );
}

/// A message whose sender is the test, outside the tree: it takes [`SEND`] of the target,
/// writes [`HELLO`] on it and closes its copy (which leak detection would refuse first).
fn sender_outside() {
    let test = std::process::id() as libc::pid_t;
    let target = spawn(passcred_pair, move || still_hello_from(test));
    let taken = take_fd(target.pid(), SEND).unwrap_or_else(|e| target.fail(e));
    let sent = write_all(taken, HELLO);
    close_all(&[taken]);
    sent.unwrap_or_else(|e| target.fail(e));
    expect_refused(target, &sender_refused("is outside the tree"));
}

/// In the target: a pair ([`passcred_pair`]) whose [`RECV`] holds [`HELLO`] that a child of
/// the target wrote on [`SEND`] before it exited; the target reaped it. Returns its pid.
fn sent_by_dead_child() -> Result<libc::pid_t, String> {
    passcred_pair()?;
    let kid = fork_checker(|| write_all(SEND, HELLO))?;
    let status = waitpid(kid).map_err(|e| format!("wait for child {kid}: {e}"))?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("child {kid} {}", wait_status_text(status)));
    }
    Ok(kid)
}

/// A message whose sender, a child of the target, exited and was reaped.
fn sender_exited() {
    let target = Target::spawn(|| {
        let kid = sent_by_dead_child()?;
        Ok(move || {
            wait_restored();
            still_hello_from(kid)
        })
    });
    expect_refused(target, &sender_refused("exited"));
}

/// A regular file of the scratch directory that only a message holds.
fn carrying_regular_file() {
    let path = format!("{}/{FILE_NAME}", scratch_dir());
    let why = format!("{ONLY_MESSAGE} ({path})");
    refused(
        move || carrying(|| open_regular(&path)),
        || still_carrying(is_regular),
        &in_flight(&why),
    );
}

/// A pair whose [`SEND`] the test holds too.
fn shared_with_test() {
    let target = spawn(stream_hello, still_hello);
    let taken = take_fd(target.pid(), SEND).unwrap_or_else(|e| target.fail(e));
    refused_outside(target, KILL, taken, "shared with pid");
}

/// An idle listener bound to an abstract name that the test holds too, checkpointed with
/// CKPT_UNSHARE_OPEN_FILES (which accepts other files held outside): the test's copy would
/// keep the name, which restart could not bind again.
fn listener_held_outside() {
    let name = abstract_name("held");
    let target = spawn(move || listener_at(&name, RECV), still_accepts);
    let taken = take_fd(target.pid(), RECV).unwrap_or_else(|e| target.fail(e));
    let flags = KILL | abi::CKPT_UNSHARE_OPEN_FILES;
    // Not "... CKPT_UNSHARE_OPEN_FILES accepts that": it is refused with the flag.
    let token = "outside the tree (restart could not share it again)";
    refused_outside(target, flags, taken, token);
}

/// The listener on [`RECV`] still listens: a socket on [`SEND`] connects to it, and the
/// connection, accepted, reads what the client writes.
fn still_accepts() -> Check {
    check_eq(
        "SO_ACCEPTCONN",
        getsockopt_int(RECV, libc::SO_ACCEPTCONN)?,
        1,
    )?;
    socket_at(libc::SOCK_STREAM, SEND)?;
    connect(SEND, &sockname(RECV)?)?;
    write_all(SEND, HELLO)?;
    accept_at(RECV, ACCEPTED)?;
    check_eq(
        "bytes the accepted connection reads",
        recv_within(ACCEPTED, 64, 0)?,
        HELLO.to_vec(),
    )
}

/// How a case runs: a target that sets up, is refused with a log line naming the words, and
/// passes its check; or a function of its own.
enum Run {
    Refused(fn() -> Check, fn() -> Check, &'static str),
    Own(fn()),
}

use Run::{Own, Refused};

/// The cases, by name.
const CASES: &[(&str, Run)] = &[
    ("bound to a path, unlinked", Own(bound_to_unlinked_path)),
    ("accepted from a path", Own(accepted_from_path)),
    ("accepted, listener outside", Own(accepted_listener_outside)),
    (
        "connected by name to a deleted path",
        Own(connected_to_deleted_path),
    ),
    (
        "connected by name to a long path",
        Own(connected_to_long_path),
    ),
    ("not accepted yet", Own(not_accepted_yet)),
    ("connected outside", Own(connected_outside)),
    ("listening, waiting from outside", Own(waiting_from_outside)),
    (
        "listening, waiting with out of band",
        Own(|| out_of_band_case(waiting_out_of_band, still_waiting_out_of_band, WAITING_OOB)),
    ),
    (
        "bound, holding a datagram",
        Refused(bound_holding, still_bound_holding, HOLDING),
    ),
    (
        "message from another socket",
        Refused(from_another, still_from_another, FROM_ANOTHER),
    ),
    (
        "connected to one connected to another",
        Refused(
            chain,
            still_chain,
            "a unix socket connected to a datagram socket connected to another is not supported",
        ),
    ),
    (
        "pair socket connected back",
        Refused(
            pair_connected_back,
            still_connected_back,
            "a unix socket connected to a socket that is not its pair is not supported",
        ),
    ),
    (
        "carrying /dev/null",
        Own(|| {
            let why = format!("{ONLY_MESSAGE} (/dev/null)");
            in_flight_refused(open_dev_null, is_dev_null, &why)
        }),
    ),
    ("carrying a regular file", Own(carrying_regular_file)),
    (
        "carrying a UDP socket",
        Own(|| in_flight_refused(open_udp, is_udp, "a socket is not supported")),
    ),
    ("carrying a file held outside", Own(in_flight_outside)),
    ("listener held outside", Own(listener_held_outside)),
    (
        "out of band",
        Own(|| {
            out_of_band_case(
                out_of_band,
                still_out_of_band,
                "holding out-of-band data (MSG_OOB)",
            )
        }),
    ),
    ("sender outside the tree", Own(sender_outside)),
    ("sender exited", Own(sender_exited)),
    (
        "SO_KEEPALIVE",
        Refused(
            || with_option(libc::SO_KEEPALIVE, 1),
            still_hello,
            "with SO_KEEPALIVE",
        ),
    ),
    (
        "SO_PRIORITY",
        Refused(
            || with_option(libc::SO_PRIORITY, 3),
            still_hello,
            "with SO_PRIORITY",
        ),
    ),
    ("SO_LINGER", Refused(linger, still_hello, "with SO_LINGER")),
    (
        "SO_MARK",
        Refused(
            || with_option(libc::SO_MARK, 7),
            still_hello,
            "with SO_MARK",
        ),
    ),
    (
        "disconnected",
        Refused(
            disconnected,
            still_disconnected,
            "disconnected from the pair it was made with",
        ),
    ),
    ("maker outside", Own(maker_outside)),
    (
        "maker exited",
        Refused(
            made_by_dead_child,
            still_hello,
            "whose peer credentials (SO_PEERCRED) name a process that exited",
        ),
    ),
    (
        "maker's ids changed",
        Refused(
            maker_changed_ids,
            still_hello,
            "whose peer credentials (SO_PEERCRED) are not its maker's any more",
        ),
    ),
    ("peer outside", Own(peer_outside)),
    ("shared with the test", Own(shared_with_test)),
];

fn main() {
    // `checkpoint_refuses_unix_socket WORD` runs only the cases whose name holds WORD.
    let only = std::env::args().nth(1).unwrap_or_default();
    for (name, run) in CASES.iter().filter(|(name, _)| name.contains(&only)) {
        println!("# {name}");
        // Each target removes the scratch directory as it ends: made anew for each case.
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("mkdir {dir}: {e}")));
        match run {
            Refused(setup, works, why) => refused(*setup, *works, why),
            Own(run) => run(),
        }
    }
    let oob = match oob_supported() {
        Ok(()) => "",
        Err(_) => " (not MSG_OOB: the kernel has no out-of-band data for unix sockets)",
    };
    pass(&format!("unix sockets bound to a path since unlinked, accepted from a listener bound to a path since closed or held outside the tree, connected by name to a datagram socket bound to a path since unlinked or whose absolute place is longer than an address holds, connected to a listener outside the tree that has not accepted them yet, listening with a connection waiting from a socket outside the tree or holding out-of-band data, bound to a name and holding a datagram, or holding a datagram from another socket than their peer, holding files in flight that only messages hold of kinds restart cannot make anywhere (/dev/null, a regular file) or does not have (a UDP socket), an eventfd in flight held outside, out-of-band data or messages whose sender (SCM_CREDENTIALS) is outside the tree or exited, with SO_KEEPALIVE, SO_PRIORITY, SO_LINGER or SO_MARK, disconnected, with peer credentials of a process outside, exited or changed, or a pair or socket shared with the test, are refused by name; the targets run on{oob}"));
}
