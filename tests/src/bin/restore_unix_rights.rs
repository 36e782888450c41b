//! Unix sockets whose queues hold messages that carry files (SCM_RIGHTS) come back with them:
//! each message with its bytes and its files, in their order, the files open as before (the
//! same open files as the fds that still hold them, at their offsets), those that only
//! messages held made again. The target makes every pair and one child; then:
//!
//! - S, stream: S1 was sent over itself with "peer" (into S0's queue), then closed: a socket
//!   carrying its own peer, which only the message holds. After the restart a recvmsg() of one
//!   byte of S0 gives "p" and a socket X, the files coming with the message's first byte, and
//!   the next "eer" alone; X is a stream socket whose SO_PEERCRED names the target; "hello"
//!   sent on X reaches S0 and "back" sent on S0 reaches X; S0 holds nothing more;
//! - P, pipe, and D, datagram: P1 wrote "inpipe" and P0 went from D1 into D0's queue with
//!   "pipe", then was closed. D0 receives "pipe" and a read end of P (O_RDONLY, not
//!   close-on-exec) that reads "inpipe", then "more" once the target writes it to P1;
//! - Q, seqpacket: Q1 sent "two" with two files in one SCM_RIGHTS: the eventfd E (count 7),
//!   which the target keeps on fd [`E`], and a memfd holding "memfd-data" (at offset 10),
//!   closed since. Q0 receives "two" and exactly two fds, in that order: the eventfd, through
//!   which a 1 written reads 8 through E (the same open file), and the memfd, with its status
//!   flags, at offset 10, holding "memfd-data";
//! - R, stream: R1 sent "partial" with E, of which the target read "pa", which took the file
//!   with it: the message's rest comes back alone, "rtial" without a file;
//! - N, datagram, and M, stream: M1 sent a timerfd (armed 100 s ahead, closed since) into M0's
//!   queue with "inner", then N1 sent M0 into N0's queue with "outer", and M0 was closed: a
//!   file in flight in a socket in flight. N0 receives "outer" and M0', a stream socket whose
//!   SO_PEERCRED names the target, which receives "inner" and the timerfd, with its status
//!   flags, still armed with 1 to 100 s to go, without a period; "m" sent on M1 reaches M0';
//! - C, stream, across processes: the child holds C1, the target C0 and a regular file of the
//!   scratch directory holding "0123456789", at offset 3, which it sent on C0 (into C1's
//!   queue) with "file" and keeps open. After the restart the child receives "file" and the
//!   file (its path), reads "34" through it, at offset 5 then, and says so on C1; the
//!   target's fd is then at offset 5 (the same open file) and reads "56789".
//!
//! - K, stream: K1 sent an eventfd (count 3, closed since) with "closing" into K0's queue,
//!   then was closed: K0 receives "closing" and the eventfd, which reads 3, then the end; a
//!   send on it is EPIPE.
//!
//! Every socket holds nothing more after its messages. Checkpoint writes and restart reads the
//! image through pipes: it streams, files in flight and cycles included.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use cr_tests::target::scratch_dir;
use cr_tests::tree::{reap, wake, Ready};
use cr_tests::unix::{
    check_drained, check_is_socket, close_all, getsockopt_int, move_fd, peercred, recv, recv_exact,
    recv_with_fds, send, send_all, send_with_fd, send_with_fds, socketpair_at,
};
use cr_tests::{
    check_eq, check_fd_flags, check_os, fd_link, fd_position, memfd_at, open_at, pass, pipe_at,
    pread_exact, read_exact, read_u64, seek_fd, wait_restored, write_all, Check, Target,
};

/// C: the target's socket and the child's.
const C0: RawFd = 40;
const C1: RawFd = 41;
/// S: the socket that holds its peer, and that peer.
const S0: RawFd = 42;
const S1: RawFd = 43;
/// P: the pipe, and D, the datagram pair its read end went through.
const P0: RawFd = 44;
const P1: RawFd = 45;
const D0: RawFd = 46;
const D1: RawFd = 47;
/// Q: the seqpacket pair; the eventfd the target keeps, and the memfd until it is sent.
const Q0: RawFd = 48;
const Q1: RawFd = 49;
const E: RawFd = 50;
const MEMFD: RawFd = 51;
/// R: the stream pair whose message's file was taken with its first bytes.
const R0: RawFd = 58;
const R1: RawFd = 59;
/// N, the datagram pair that carries M0; M, the stream pair that carries the timerfd; the
/// timerfd until it is sent.
const N0: RawFd = 52;
const N1: RawFd = 53;
const M0: RawFd = 54;
const M1: RawFd = 55;
const TIMER: RawFd = 56;
/// The regular file the target keeps and sends to the child.
const FILE: RawFd = 57;
/// K: the socket whose peer was closed, and that peer; the eventfd it sent.
const K0: RawFd = 60;
const K1: RawFd = 61;
const K_EVENT: RawFd = 62;

/// Room for any message of the test, and for more fds than any carries.
const ROOM: usize = 256;
const FDS_ROOM: usize = 4;

/// S's message and what goes both ways on it after the restart.
const PEER: &[u8] = b"peer";
const HELLO: &[u8] = b"hello";
const BACK: &[u8] = b"back";
/// P and D.
const IN_PIPE: &[u8] = b"inpipe";
const PIPE_MSG: &[u8] = b"pipe";
const MORE: &[u8] = b"more";
/// Q: its message, the eventfd's count, what is written to it after and the memfd's bytes.
const TWO: &[u8] = b"two";
const COUNT: u32 = 7;
const ADDED: u64 = 1;
const MEMFD_NAME: &str = "rights";
const MEMFD_BYTES: &[u8] = b"memfd-data";
/// R: its message, and how much of it the target reads before the checkpoint.
const PARTIAL: &[u8] = b"partial";
const READ_EARLY: usize = 2;
/// N and M: their messages, the timerfd's delay (s) and M's message after the restart.
const OUTER: &[u8] = b"outer";
const INNER: &[u8] = b"inner";
const TIMER_SECS: i64 = 100;
const M_AFTER: &[u8] = b"m";
/// C: the file's bytes, its offset when sent, what the child reads, C's message, and what the
/// child says after reading.
const FILE_BYTES: &[u8] = b"0123456789";
const FILE_AT: usize = 3;
const CHILD_READS: usize = 2;
const FILE_MSG: &[u8] = b"file";
const READ: &[u8] = b"read";

const SEC: i64 = 1_000_000_000;

/// K's message, and the count of the eventfd it carries.
const CLOSING: &[u8] = b"closing";
const K_COUNT: u32 = 3;

/// The file status flags of `fd` (`F_GETFL`).
fn status_flags(fd: RawFd) -> Result<libc::c_int, String> {
    // SAFETY: F_GETFL takes no pointer.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    check_os(flags, format_args!("F_GETFL of fd {fd}"))?;
    Ok(flags)
}

/// The fds that came with `what`, which must be exactly `N`.
fn exactly<const N: usize>(fds: Vec<OwnedFd>, what: &str) -> Result<[OwnedFd; N], String> {
    let n = fds.len();
    fds.try_into()
        .map_err(|_| format!("{what} came with {n} fds, expected {N}"))
}

/// The next message of `sock`, which must be there already: its bytes, and its fds, which
/// must be `N`.
fn message<const N: usize>(sock: RawFd, what: &str) -> Result<(Vec<u8>, [OwnedFd; N]), String> {
    let (bytes, fds) = recv_with_fds(sock, ROOM, FDS_ROOM, libc::MSG_DONTWAIT)?;
    Ok((bytes, exactly(fds, what)?))
}

/// `fd` is a socket of type `ty` of a pair the target, `me`, made.
fn check_socket(fd: RawFd, ty: libc::c_int, me: libc::pid_t, what: &str) -> Check {
    check_is_socket(fd)?;
    check_eq(
        format_args!("SO_TYPE of {what}"),
        getsockopt_int(fd, libc::SO_TYPE)?,
        ty,
    )?;
    check_eq(
        format_args!("SO_PEERCRED of {what} (pid, uid, gid)"),
        peercred(fd)?,
        (me, 0, 0),
    )
}

/// S: S1 sent over itself into S0's queue, then closed.
fn s_setup() -> Check {
    socketpair_at(libc::SOCK_STREAM, S0, S1)?;
    send_with_fd(S1, PEER, S1)?;
    close_all(&[S1]);
    Ok(())
}

/// S after the restart: the files come with the first byte of their message.
fn s_check(me: libc::pid_t) -> Check {
    let (first, fds) = recv_with_fds(S0, 1, FDS_ROOM, libc::MSG_DONTWAIT)?;
    check_eq("S0's first byte", first.as_slice(), &PEER[..1])?;
    let [x] = exactly(fds, "S0's first byte")?;
    let (rest, fds) = recv_with_fds(S0, ROOM, FDS_ROOM, libc::MSG_DONTWAIT)?;
    check_eq("the rest of S0's message", rest.as_slice(), &PEER[1..])?;
    check_eq("the fds with the rest of S0's message", fds.len(), 0)?;
    let x = x.as_raw_fd();
    check_socket(x, libc::SOCK_STREAM, me, "the socket S0 received")?;
    send_all(x, HELLO)?;
    check_eq(
        "S0's bytes from the socket it received",
        recv_exact(S0, HELLO.len())?,
        HELLO.to_vec(),
    )?;
    send_all(S0, BACK)?;
    check_eq(
        "the bytes of the socket S0 received, from S0",
        recv_exact(x, BACK.len())?,
        BACK.to_vec(),
    )?;
    check_drained("S0, after its messages", S0)?;
    check_drained("the socket S0 received, after its messages", x)
}

/// P and D: P0 sent from D1 into D0's queue, then closed.
fn p_setup() -> Check {
    pipe_at(P0, P1, 0)?;
    write_all(P1, IN_PIPE)?;
    socketpair_at(libc::SOCK_DGRAM, D0, D1)?;
    send_with_fd(D1, PIPE_MSG, P0)?;
    close_all(&[P0]);
    Ok(())
}

/// P and D after the restart.
fn p_check() -> Check {
    let (bytes, [r]) = message::<1>(D0, "D0's datagram")?;
    check_eq("D0's datagram", bytes.as_slice(), PIPE_MSG)?;
    let r = r.as_raw_fd();
    check_eq(
        "the pipe of the fd D0 received",
        fd_link(r)?,
        fd_link(P1)?, // "pipe:[inode]": the same pipe
    )?;
    check_fd_flags(r, libc::O_RDONLY, false)?;
    check_eq(
        "the bytes of the pipe's read end",
        read_exact(r, IN_PIPE.len())?,
        IN_PIPE.to_vec(),
    )?;
    write_all(P1, MORE)?;
    check_eq(
        "the bytes written to P1 after the restart",
        read_exact(r, MORE.len())?,
        MORE.to_vec(),
    )?;
    check_drained("D0, after its messages", D0)
}

/// What Q's setup found of the memfd, to compare after the restart: its status flags.
struct MemfdBefore {
    flags: libc::c_int,
}

/// Q: the eventfd and the memfd in one message, the memfd closed since.
fn q_setup() -> Result<MemfdBefore, String> {
    socketpair_at(libc::SOCK_SEQPACKET, Q0, Q1)?;
    // SAFETY: eventfd takes integers and makes an fd of ours.
    let e = unsafe { libc::eventfd(COUNT, 0) };
    check_os(e, "eventfd")?;
    move_fd(e, E)?;
    memfd_at(MEMFD_NAME, 0, MEMFD)?;
    write_all(MEMFD, MEMFD_BYTES)?;
    let flags = status_flags(MEMFD)?;
    send_with_fds(Q1, TWO, &[E, MEMFD])?;
    close_all(&[MEMFD]);
    Ok(MemfdBefore { flags })
}

/// Q after the restart.
fn q_check(memfd: &MemfdBefore) -> Check {
    let (bytes, [ev, mem]) = message::<2>(Q0, "Q0's message")?;
    check_eq("Q0's message", bytes.as_slice(), TWO)?;
    let (ev, mem) = (ev.as_raw_fd(), mem.as_raw_fd());
    check_eq(
        "the first fd of Q0's message",
        fd_link(ev)?,
        "anon_inode:[eventfd]".to_string(),
    )?;
    write_all(ev, &ADDED.to_ne_bytes())?;
    check_eq(
        "E's count once 1 was written through the eventfd Q0 received",
        read_u64(E),
        Ok(u64::from(COUNT) + ADDED),
    )?;
    let path = fd_link(mem)?;
    let want = format!("/memfd:{MEMFD_NAME} (deleted)");
    check_eq("the second fd of Q0's message", path, want)?;
    check_eq(
        "the status flags of the memfd Q0 received",
        status_flags(mem)?,
        memfd.flags,
    )?;
    check_eq(
        "the offset of the memfd Q0 received",
        fd_position(mem)?,
        MEMFD_BYTES.len() as i64,
    )?;
    check_eq(
        "the memfd's bytes",
        pread_exact(mem, MEMFD_BYTES.len(), 0)?,
        MEMFD_BYTES.to_vec(),
    )?;
    check_drained("Q0, after its messages", Q0)
}

/// R: the eventfd E sent with a message, whose first bytes the target read, the file with
/// them.
fn r_setup() -> Check {
    socketpair_at(libc::SOCK_STREAM, R0, R1)?;
    send_with_fd(R1, PARTIAL, E)?;
    let (first, fds) = recv_with_fds(R0, READ_EARLY, FDS_ROOM, libc::MSG_DONTWAIT)?;
    check_eq("R0's first bytes", first.as_slice(), &PARTIAL[..READ_EARLY])?;
    check_eq("the fds with R0's first bytes", fds.len(), 1)
}

/// R after the restart: the rest of the message, without a file.
fn r_check() -> Check {
    let (rest, fds) = recv_with_fds(R0, ROOM, FDS_ROOM, libc::MSG_DONTWAIT)?;
    check_eq(
        "the rest of R0's message",
        rest.as_slice(),
        &PARTIAL[READ_EARLY..],
    )?;
    check_eq("the fds with the rest of R0's message", fds.len(), 0)?;
    check_drained("R0, after its messages", R0)
}

/// The timerfd's timer: (ns to its expiry, its period in ns).
fn timer_of(fd: RawFd) -> Result<(i64, i64), String> {
    // SAFETY: a zeroed itimerspec for the call to fill.
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    // SAFETY: fills `spec`.
    let r = unsafe { libc::timerfd_gettime(fd, &mut spec) };
    check_os(r, format_args!("timerfd_gettime of fd {fd}"))?;
    let ns = |t: libc::timespec| t.tv_sec * SEC + t.tv_nsec;
    Ok((ns(spec.it_value), ns(spec.it_interval)))
}

/// N and M: the timerfd into M0's queue, M0 into N0's; both closed. Returns the timerfd's
/// status flags.
fn n_m_setup() -> Result<libc::c_int, String> {
    socketpair_at(libc::SOCK_DGRAM, N0, N1)?;
    socketpair_at(libc::SOCK_STREAM, M0, M1)?;
    // SAFETY: timerfd_create takes integers and makes an fd of ours.
    let t = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, 0) };
    check_os(t, "timerfd_create")?;
    move_fd(t, TIMER)?;
    let spec = libc::itimerspec {
        it_value: libc::timespec {
            tv_sec: TIMER_SECS,
            tv_nsec: 0,
        },
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
    };
    // SAFETY: `spec` is valid; the old value is not asked for.
    let r = unsafe { libc::timerfd_settime(TIMER, 0, &spec, std::ptr::null_mut()) };
    check_os(r, "timerfd_settime")?;
    let flags = status_flags(TIMER)?;
    send_with_fd(M1, INNER, TIMER)?;
    close_all(&[TIMER]);
    send_with_fd(N1, OUTER, M0)?;
    close_all(&[M0]);
    Ok(flags)
}

/// N and M after the restart.
fn n_m_check(me: libc::pid_t, timer_flags: libc::c_int) -> Check {
    let (bytes, [m0]) = message::<1>(N0, "N0's datagram")?;
    check_eq("N0's datagram", bytes.as_slice(), OUTER)?;
    let m0 = m0.as_raw_fd();
    check_socket(m0, libc::SOCK_STREAM, me, "the socket N0 received (M0)")?;
    let (bytes, [timer]) = message::<1>(m0, "M0's message")?;
    check_eq("M0's message", bytes.as_slice(), INNER)?;
    let timer = timer.as_raw_fd();
    check_eq(
        "the fd of M0's message",
        fd_link(timer)?,
        "anon_inode:[timerfd]".to_string(),
    )?;
    check_eq(
        "the status flags of the timerfd M0 received",
        status_flags(timer)?,
        timer_flags,
    )?;
    let (left, period) = timer_of(timer)?;
    if left <= SEC || left > TIMER_SECS * SEC {
        return Err(format!(
            "the timerfd M0 received expires in {left} ns, not within (1 s, {TIMER_SECS} s]"
        ));
    }
    check_eq("the period of the timerfd M0 received", period, 0)?;
    send_all(M1, M_AFTER)?;
    check_eq(
        "M0's bytes from M1 after the restart",
        recv_exact(m0, M_AFTER.len())?,
        M_AFTER.to_vec(),
    )?;
    check_drained("M0, after its messages", m0)?;
    check_drained("N0, after its messages", N0)
}

/// C in the target: the file, at its offset, sent to the child's socket.
fn c_setup(path: &str) -> Check {
    open_at(
        path,
        libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        0o600,
        FILE,
    )?;
    write_all(FILE, FILE_BYTES)?;
    seek_fd(FILE, FILE_AT as i64)?;
    send_with_fd(C0, FILE_MSG, FILE)
}

/// C in the child, after the restart: the file from its socket, two bytes read through it.
fn c_child_check(path: &str) -> Check {
    let (bytes, [f]) = message::<1>(C1, "C1's message")?;
    check_eq("C1's message", bytes.as_slice(), FILE_MSG)?;
    let f = f.as_raw_fd();
    check_eq(
        "the path of the file C1 received",
        fd_link(f)?,
        path.to_string(),
    )?;
    check_eq(
        "the bytes read through the file C1 received",
        read_exact(f, CHILD_READS)?,
        FILE_BYTES[FILE_AT..FILE_AT + CHILD_READS].to_vec(),
    )?;
    check_eq(
        "the offset of the file C1 received, after the read",
        fd_position(f)?,
        (FILE_AT + CHILD_READS) as i64,
    )?;
    check_drained("C1, after its messages", C1)?;
    send_all(C1, READ)
}

/// C in the target, after the restart, once the child read: the target's fd moved with it.
fn c_check() -> Check {
    check_eq(
        "the child's word on C0",
        recv_exact(C0, READ.len())?,
        READ.to_vec(),
    )?;
    let at = FILE_AT + CHILD_READS;
    check_eq(
        "the offset of the target's fd of the file the child read through",
        fd_position(FILE)?,
        at as i64,
    )?;
    check_eq(
        "the rest of the file, through the target's fd",
        read_exact(FILE, FILE_BYTES.len() - at)?,
        FILE_BYTES[at..].to_vec(),
    )?;
    check_drained("C0, after its messages", C0)
}

/// K: K1 sent an eventfd with "closing" into K0's queue, then was closed with it.
fn k_setup() -> Check {
    socketpair_at(libc::SOCK_STREAM, K0, K1)?;
    // SAFETY: eventfd takes integers and makes an fd of ours.
    let e = unsafe { libc::eventfd(K_COUNT, 0) };
    check_os(e, "eventfd")?;
    move_fd(e, K_EVENT)?;
    send_with_fd(K1, CLOSING, K_EVENT)?;
    close_all(&[K_EVENT, K1]);
    Ok(())
}

/// K after the restart: the message and its eventfd, then the end; a send is EPIPE.
fn k_check() -> Check {
    let (bytes, [e]) = message::<1>(K0, "K0's message")?;
    check_eq("K0's message", bytes.as_slice(), CLOSING)?;
    check_eq(
        "the count of the eventfd K0 received",
        read_u64(e.as_raw_fd()),
        Ok(u64::from(K_COUNT)),
    )?;
    check_eq(
        "a recv of K0 after its message (its peer closed)",
        recv(K0, ROOM, libc::MSG_DONTWAIT),
        Ok(Vec::new()),
    )?;
    check_eq(
        "a send on K0 (its peer closed)",
        send(K0, M_AFTER, libc::MSG_NOSIGNAL),
        Err(libc::EPIPE),
    )
}

fn setup(path: String) -> Result<impl FnOnce() -> Check, String> {
    socketpair_at(libc::SOCK_STREAM, C0, C1)?;
    let ready = Ready::new()?;
    let child_path = path.clone();
    let kid = ready.fork(0, move |_| {
        close_all(&[C0]);
        Ok(move || c_child_check(&child_path))
    })?;
    close_all(&[C1]);
    ready.wait(1)?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    s_setup()?;
    p_setup()?;
    let memfd = q_setup()?;
    r_setup()?;
    let timer_flags = n_m_setup()?;
    c_setup(&path)?;
    k_setup()?;
    Ok(move || {
        wait_restored();
        // SAFETY: getpid has no preconditions.
        check_eq("getpid() after the restart", unsafe { libc::getpid() }, me)?;
        s_check(me)?;
        p_check()?;
        q_check(&memfd)?;
        r_check()?;
        n_m_check(me, timer_flags)?;
        k_check()?;
        wake(&[kid])?;
        c_check()?;
        reap(&[kid])
    })
}

fn main() {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| cr_tests::fail(format!("mkdir {dir}: {e}")));
    let path = format!("{dir}/in-flight");
    let mut target = Target::spawn(move || setup(path));
    // Messages name files by objref: the image streams all the same.
    target.through_pipes();
    target.restart_with_children_asleep(1, "for the child to sleep until woken");
    target.finish();
    pass("unix sockets holding messages that carry files (SCM_RIGHTS) come back with them, through an image written into and read from pipes: a stream socket's own peer, which only the message held, first byte and files together; a pipe's read end; an eventfd the target kept and a memfd in one message, in order; the rest of a message whose file was taken, alone; a timerfd in a socket in flight; a regular file sent to a child that reads through it, moving the target's offset; an eventfd from a peer closed since, then the end: the same open files, working");
}
