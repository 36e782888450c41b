//! Unix domain sockets, for the tests of their checkpoint and restart: pairs and lone sockets
//! at fixed fd numbers, addresses (bind, connect, listen, accept), socket options, sends and
//! receives that give the errno or wait a bounded time, and fds passed with SCM_RIGHTS.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::target::{check_os, Check};

/// How long [`recv_within`] waits for something to receive, in milliseconds.
const PATIENCE_MS: libc::c_int = 10_000;

/// The errno the last failed call left.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Moves the fd `from` to `to` (dup2 and close), unless it is there already.
pub fn move_fd(from: RawFd, to: RawFd) -> Check {
    if from != to {
        // SAFETY: dup2 and close of fds of our own; `to` is the caller's to overwrite.
        unsafe {
            check_os(libc::dup2(from, to), format_args!("dup2({from}, {to})"))?;
            libc::close(from);
        }
    }
    Ok(())
}

/// A pair of connected unix sockets of type `ty` (`SOCK_STREAM`, `SOCK_DGRAM` or
/// `SOCK_SEQPACKET`, maybe with `SOCK_NONBLOCK` or `SOCK_CLOEXEC`) made by socketpair(2), its
/// first socket on fd `fd0` and its second on fd `fd1`. Both fds must be above the ones
/// socketpair(2) returns (the lowest free ones).
pub fn socketpair_at(ty: libc::c_int, fd0: RawFd, fd1: RawFd) -> Check {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) };
    check_os(r, format_args!("socketpair(AF_UNIX, {ty:#x})"))?;
    move_fd(fds[0], fd0)?;
    move_fd(fds[1], fd1)
}

/// A unix socket of type `ty` made by socket(2), connected to none, on fd `fd`.
pub fn socket_at(ty: libc::c_int, fd: RawFd) -> Check {
    // SAFETY: socket takes integers.
    let got = unsafe { libc::socket(libc::AF_UNIX, ty, 0) };
    check_os(got, format_args!("socket(AF_UNIX, {ty:#x})"))?;
    move_fd(got, fd)
}

/// The unix address `name`: a path, or an abstract name if it starts with a NUL.
fn address(name: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), String> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if name.len() >= sun.sun_path.len() {
        return Err(format!("unix address {name:?} too long"));
    }
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, &b) in sun.sun_path.iter_mut().zip(name) {
        *to = b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + name.len();
    Ok((sun, len as libc::socklen_t))
}

/// bind(2) of the socket `fd` to `name`: a path, or an abstract name if it starts with a NUL;
/// an empty `name` (the address length only that of `sun_family`) asks for an abstract name
/// the kernel chooses (autobind).
pub fn bind(fd: RawFd, name: &[u8]) -> Check {
    let shown = String::from_utf8_lossy(name);
    try_bind(fd, name)
        .map_err(|e| format!("bind(fd {fd}, {shown:?}): {}", crate::describe_errno(e)))
}

/// [`bind`], giving the errno if it fails (`ENAMETOOLONG` for a name longer than an address
/// holds).
pub fn try_bind(fd: RawFd, name: &[u8]) -> Result<(), i32> {
    with_address(fd, name, libc::bind)
}

/// Calls `call` (bind(2), connect(2)) on the socket `fd` with the address of `name`: the
/// errno if it fails (`ENAMETOOLONG` for a name longer than an address holds).
fn with_address(
    fd: RawFd,
    name: &[u8],
    call: unsafe extern "C" fn(RawFd, *const libc::sockaddr, libc::socklen_t) -> libc::c_int,
) -> Result<(), i32> {
    let (sun, len) = address(name).map_err(|_| libc::ENAMETOOLONG)?;
    // SAFETY: `sun` is a valid address of `len` bytes, which `call` only reads.
    match unsafe { call(fd, (&raw const sun).cast(), len) } {
        0 => Ok(()),
        _ => Err(errno()),
    }
}

/// connect(2) of the socket `fd` to `name`: a path, or an abstract name if it starts with a
/// NUL.
pub fn connect(fd: RawFd, name: &[u8]) -> Check {
    let shown = String::from_utf8_lossy(name);
    try_connect(fd, name)
        .map_err(|e| format!("connect(fd {fd}, {shown:?}): {}", crate::describe_errno(e)))
}

/// [`connect`], giving the errno if it fails (`ENAMETOOLONG` for a name longer than an
/// address holds).
pub fn try_connect(fd: RawFd, name: &[u8]) -> Result<(), i32> {
    with_address(fd, name, libc::connect)
}

/// sendto(2) of `buf` from the socket `fd` to `name` (a path, or an abstract name if it
/// starts with a NUL) with `MSG_NOSIGNAL`: the bytes sent, or the errno (`ENAMETOOLONG` for a
/// name longer than an address holds).
pub fn send_to(fd: RawFd, buf: &[u8], name: &[u8]) -> Result<usize, i32> {
    let (sun, len) = address(name).map_err(|_| libc::ENAMETOOLONG)?;
    // SAFETY: sends from a buffer of that length to `sun`, a valid address of `len` bytes.
    let n = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            (&raw const sun).cast(),
            len,
        )
    };
    match n {
        n if n >= 0 => Ok(n as usize),
        _ => Err(errno()),
    }
}

/// The name the socket `fd` is bound to, as getsockname(2) gives it: the bytes of `sun_path`
/// within the address length it returns (a NUL first for an abstract name; empty if it is
/// bound to none).
pub fn sockname(fd: RawFd) -> Result<Vec<u8>, String> {
    name_by(fd, libc::getsockname, "getsockname")
}

/// The name of the peer of the socket `fd`, as getpeername(2) gives it: the bytes of
/// `sun_path` within the address length it returns (a NUL first for an abstract name; empty
/// if the peer has none). `Err` if it has no peer (ENOTCONN) or the call fails otherwise.
pub fn peer_name(fd: RawFd) -> Result<Vec<u8>, String> {
    name_by(fd, libc::getpeername, "getpeername")
}

/// The name `call` (getsockname(2), getpeername(2), called `what`) gives of the socket `fd`.
fn name_by(
    fd: RawFd,
    call: unsafe extern "C" fn(RawFd, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
    what: &str,
) -> Result<Vec<u8>, String> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `sun` has room for `len` bytes.
    let r = unsafe { call(fd, (&raw mut sun).cast(), &mut len) };
    check_os(r, format_args!("{what}(fd {fd})"))?;
    let family = std::mem::size_of::<libc::sa_family_t>();
    match name_in(&sun, len) {
        Some(name) if len as usize >= family => Ok(name),
        _ => Err(format!("{what}(fd {fd}): address length {len}")),
    }
}

/// The bytes of `sun_path` within the address length `len` the kernel gave with `sun`: empty
/// for 0 (no address) or only `sun_family`; `None` for a length no unix address has.
fn name_in(sun: &libc::sockaddr_un, len: libc::socklen_t) -> Option<Vec<u8>> {
    let family = std::mem::size_of::<libc::sa_family_t>();
    let len = len as usize;
    if len > std::mem::size_of::<libc::sockaddr_un>() || (len > 0 && len < family) {
        return None;
    }
    let path = &sun.sun_path[..len.saturating_sub(family)];
    Some(path.iter().map(|&c| c as u8).collect())
}

/// listen(2) on the socket `fd`, with room for `backlog` connections.
pub fn listen(fd: RawFd, backlog: libc::c_int) -> Check {
    // SAFETY: listen takes integers.
    let r = unsafe { libc::listen(fd, backlog) };
    check_os(r, format_args!("listen(fd {fd}, {backlog})"))
}

/// accept(2) of a connection to the listening socket `listener`, on fd `fd`.
pub fn accept_at(listener: RawFd, fd: RawFd) -> Check {
    try_accept_at(listener, fd)
        .map_err(|e| format!("accept(fd {listener}): {}", crate::describe_errno(e)))
}

/// [`accept_at`], giving the errno if accept(2) fails (`EAGAIN` for a non-blocking listener
/// with no connection waiting).
pub fn try_accept_at(listener: RawFd, fd: RawFd) -> Result<(), i32> {
    // SAFETY: accept without an address.
    let got = unsafe { libc::accept(listener, std::ptr::null_mut(), std::ptr::null_mut()) };
    if got < 0 {
        return Err(errno());
    }
    move_fd(got, fd).map_err(|_| errno())
}

/// Closes `fds`, which the caller owns and does not use again.
pub fn close_all(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: the caller's own fds.
        unsafe { libc::close(fd) };
    }
}

/// The int value of the `SOL_SOCKET` option `opt` of the socket `fd`.
pub fn getsockopt_int(fd: RawFd, opt: libc::c_int) -> Result<libc::c_int, String> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` has room for the `len` bytes asked for.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut v).cast(), &mut len) };
    check_os(r, format_args!("getsockopt(fd {fd}, option {opt})"))?;
    Ok(v)
}

/// Sets the int `SOL_SOCKET` option `opt` of the socket `fd` to `v`.
pub fn setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) -> Check {
    try_setsockopt_int(fd, opt, v).map_err(|e| {
        format!(
            "setsockopt(fd {fd}, option {opt}, {v}): {}",
            crate::describe_errno(e)
        )
    })
}

/// [`setsockopt_int`], giving the errno if it fails.
pub fn try_setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) -> Result<(), i32> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes one int.
    match unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, opt, (&raw const v).cast(), len) } {
        0 => Ok(()),
        _ => Err(errno()),
    }
}

/// The timeout `opt` (`SO_RCVTIMEO`, `SO_SNDTIMEO`) of the socket `fd`, as (tv_sec, tv_usec).
pub fn getsockopt_timeval(fd: RawFd, opt: libc::c_int) -> Result<(i64, i64), String> {
    // SAFETY: an all-zero timeval is valid.
    let mut tv: libc::timeval = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` has room for the `len` bytes asked for.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut tv).cast(), &mut len) };
    check_os(r, format_args!("getsockopt(fd {fd}, option {opt})"))?;
    Ok((tv.tv_sec, tv.tv_usec))
}

/// Sets the timeout `opt` (`SO_RCVTIMEO`, `SO_SNDTIMEO`) of the socket `fd` to
/// (tv_sec, tv_usec).
pub fn setsockopt_timeval(fd: RawFd, opt: libc::c_int, (sec, usec): (i64, i64)) -> Check {
    let tv = libc::timeval {
        tv_sec: sec,
        tv_usec: usec,
    };
    let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: passes one timeval.
    let r = unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, opt, (&raw const tv).cast(), len) };
    check_os(
        r,
        format_args!("setsockopt(fd {fd}, option {opt}, {sec} s {usec} us)"),
    )
}

/// What `SO_PEERCRED` of the socket `fd` says: (pid, uid, gid) of the process that made its
/// pair (or connected it).
pub fn peercred(fd: RawFd) -> Result<(libc::pid_t, libc::uid_t, libc::gid_t), String> {
    // SAFETY: an all-zero ucred is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` has room for the `len` bytes asked for.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    check_os(r, format_args!("getsockopt(fd {fd}, SO_PEERCRED)"))?;
    Ok((cred.pid, cred.uid, cred.gid))
}

/// SO_PEERCRED of `what` (fd `fd`) is (`pid`, 0, 0): the process at the other end (that
/// connected, or called listen()), as root.
pub fn check_peercred(what: &str, fd: RawFd, pid: libc::pid_t) -> Check {
    crate::check_eq(
        format_args!("SO_PEERCRED of {what} (fd {fd}) (pid, uid, gid)"),
        peercred(fd)?,
        (pid, 0, 0),
    )
}

/// Sets or clears `O_NONBLOCK` on the file of `fd`, keeping its other status flags.
pub fn set_nonblock(fd: RawFd, on: bool) -> Check {
    // SAFETY: fcntl on an fd number; no memory involved.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        check_os(flags, format_args!("F_GETFL of fd {fd}"))?;
        let flags = match on {
            true => flags | libc::O_NONBLOCK,
            false => flags & !libc::O_NONBLOCK,
        };
        check_os(
            libc::fcntl(fd, libc::F_SETFL, flags),
            format_args!("F_SETFL of fd {fd}"),
        )
    }
}

/// send(2) of `buf` on `fd` with `flags`: the bytes sent, or the errno.
pub fn send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> Result<usize, i32> {
    // SAFETY: sends from a buffer of that length.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) };
    match n {
        n if n >= 0 => Ok(n as usize),
        _ => Err(errno()),
    }
}

/// Sends all of `buf` on `fd` in one send(2) with `MSG_NOSIGNAL`, or fails.
pub fn send_all(fd: RawFd, buf: &[u8]) -> Check {
    match send(fd, buf, libc::MSG_NOSIGNAL) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(n) => Err(format!("send of {} bytes on fd {fd}: {n} sent", buf.len())),
        Err(e) => Err(format!(
            "send of {} bytes on fd {fd}: {}",
            buf.len(),
            crate::describe_errno(e)
        )),
    }
}

/// The credentials a unix message carries (SCM_CREDENTIALS): pid, uid and gid.
pub type Creds = (libc::pid_t, libc::uid_t, libc::gid_t);

/// The most fds [`recv_with_creds`] has room for with a message.
const CREDS_FDS_ROOM: usize = 8;

/// CMSG_SPACE of a control message with `len` bytes of data.
fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic.
    unsafe { libc::CMSG_SPACE(len as u32) as usize }
}

/// The room, in u64s for its alignment, of the control messages for `fds` fds (SCM_RIGHTS,
/// none if 0) and, if `creds`, one SCM_CREDENTIALS.
fn control_room(fds: usize, creds: bool) -> Vec<u64> {
    let mut space = 0;
    if creds {
        space += cmsg_space(std::mem::size_of::<libc::ucred>());
    }
    if fds > 0 {
        space += cmsg_space(fds * std::mem::size_of::<RawFd>());
    }
    vec![0; space.div_ceil(8)]
}

/// A msghdr of the one buffer `iov` and the control buffer `control` (none if empty), which
/// must outlive its use.
fn msghdr(iov: &mut libc::iovec, control: &mut [u64]) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid; its buffers are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(control) as _;
    }
    msg
}

/// sendmsg(2) of `buf` on the socket `sock` with `flags`, with the credentials `creds` in one
/// SCM_CREDENTIALS message if `Some` (otherwise the kernel's, if any), and the fds `fds` in one
/// SCM_RIGHTS message (none if empty), in their order: the bytes sent, or the errno.
fn sendmsg_control(
    sock: RawFd,
    buf: &[u8],
    creds: Option<Creds>,
    fds: &[RawFd],
    flags: libc::c_int,
) -> Result<usize, i32> {
    let mut control = control_room(fds.len(), creds.is_some());
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    let msg = msghdr(&mut iov, &mut control);
    // SAFETY: the control buffer, zeroed, has room for a header and its data for each message
    // written, which CMSG_FIRSTHDR and CMSG_NXTHDR find within it; sendmsg only reads `buf`.
    let n = unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        if let Some((pid, uid, gid)) = creds {
            let cred = libc::ucred { pid, uid, gid };
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(&cred) as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), cred);
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if !fds.is_empty() {
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, &fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned(data.add(i), fd);
            }
        }
        libc::sendmsg(sock, &msg, flags)
    };
    match n {
        n if n >= 0 => Ok(n as usize),
        _ => Err(errno()),
    }
}

/// sendmsg(2) of `buf` on the socket `sock` with `flags`, passing the fds `fds` with it in
/// one SCM_RIGHTS message, in their order: the bytes sent, or the errno.
pub fn sendmsg_with_fds(
    sock: RawFd,
    buf: &[u8],
    fds: &[RawFd],
    flags: libc::c_int,
) -> Result<usize, i32> {
    sendmsg_control(sock, buf, None, fds, flags)
}

/// [`sendmsg_with_fds`] of one fd, `fd`.
pub fn sendmsg_with_fd(
    sock: RawFd,
    buf: &[u8],
    fd: RawFd,
    flags: libc::c_int,
) -> Result<usize, i32> {
    sendmsg_with_fds(sock, buf, &[fd], flags)
}

/// `Ok` if a sendmsg of `what`, of `len` bytes, sent them all.
fn sent_all(what: std::fmt::Arguments, len: usize, sent: Result<usize, i32>) -> Check {
    match sent {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(format!("{what}: {n} bytes sent")),
        Err(e) => Err(format!("{what}: {}", crate::describe_errno(e))),
    }
}

/// Sends all of `buf` on the socket `sock` in one sendmsg(2) with `MSG_NOSIGNAL`, passing the
/// fds `fds` with it (SCM_RIGHTS, in their order), or fails.
pub fn send_with_fds(sock: RawFd, buf: &[u8], fds: &[RawFd]) -> Check {
    sent_all(
        format_args!(
            "sendmsg of {} bytes and fds {fds:?} on fd {sock}",
            buf.len()
        ),
        buf.len(),
        sendmsg_with_fds(sock, buf, fds, libc::MSG_NOSIGNAL),
    )
}

/// [`send_with_fds`] of one fd, `fd`.
pub fn send_with_fd(sock: RawFd, buf: &[u8], fd: RawFd) -> Check {
    send_with_fds(sock, buf, &[fd])
}

/// Sends all of `buf` on the socket `sock` in one sendmsg(2) with `MSG_NOSIGNAL`, with the
/// credentials `creds` (pid, uid, gid) in an SCM_CREDENTIALS message, which only a process
/// with the rights to claim them may send, and the fds `fds` (SCM_RIGHTS, in their order,
/// none if empty), or fails.
pub fn send_with_creds(sock: RawFd, buf: &[u8], creds: Creds, fds: &[RawFd]) -> Check {
    sent_all(
        format_args!(
            "sendmsg of {} bytes, credentials {creds:?} and fds {fds:?} on fd {sock}",
            buf.len()
        ),
        buf.len(),
        sendmsg_control(sock, buf, Some(creds), fds, libc::MSG_NOSIGNAL),
    )
}

/// What one recvmsg(2) gave: the bytes, the sender's name (`msg_name`: the bytes of its
/// `sun_path`, empty if it has none), the credentials if an SCM_CREDENTIALS message came, the
/// fds of the SCM_RIGHTS messages, in their order (as fds of the caller's, closed when
/// dropped), and whether more control data came than there was room for (MSG_CTRUNC).
struct Received {
    bytes: Vec<u8>,
    name: Vec<u8>,
    creds: Option<Creds>,
    fds: Vec<OwnedFd>,
    truncated: bool,
}

/// recvmsg(2) of up to `len` bytes from the socket `sock` with `flags`, with room for `room`
/// fds and, if `creds`, the credentials.
fn recvmsg_control(
    sock: RawFd,
    len: usize,
    room: usize,
    creds: bool,
    flags: libc::c_int,
) -> Result<Received, String> {
    let mut bytes = vec![0u8; len];
    let mut control = control_room(room, creds);
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: len,
    };
    let mut msg = msghdr(&mut iov, &mut control);
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut sun).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: the buffers are ours and as long as the header says.
    let n = unsafe { libc::recvmsg(sock, &mut msg, flags) };
    check_os(n as i64, format_args!("recvmsg from fd {sock}"))?;
    bytes.truncate(n as usize);
    let namelen = msg.msg_namelen;
    let name = name_in(&sun, namelen)
        .ok_or_else(|| format!("recvmsg from fd {sock}: the sender's address length {namelen}"))?;
    let mut got = Received {
        bytes,
        name,
        creds: None,
        fds: Vec::new(),
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    };
    // SAFETY: the kernel filled the control buffer, whose headers CMSG_FIRSTHDR and
    // CMSG_NXTHDR walk within it; each header is checked before its data, an SCM_CREDENTIALS
    // message holds a struct ucred (maybe unaligned), and the fds an SCM_RIGHTS message holds
    // are new ones of ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    let data = data.cast::<RawFd>();
                    for i in 0..bytes / std::mem::size_of::<RawFd>() {
                        let fd = std::ptr::read_unaligned(data.add(i));
                        got.fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                    if bytes >= std::mem::size_of::<libc::ucred>() =>
                {
                    let c: libc::ucred = std::ptr::read_unaligned(data.cast());
                    got.creds = Some((c.pid, c.uid, c.gid));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(got)
}

/// recvmsg(2) of up to `len` bytes from the socket `sock` with `flags`, with room for `room`
/// fds passed with them (SCM_RIGHTS): the bytes, and the fds that came, in their order (as fds
/// of the caller's, closed when dropped). `Err` if more control data came than there was room
/// for (MSG_CTRUNC: more fds, or credentials too).
pub fn recv_with_fds(
    sock: RawFd,
    len: usize,
    room: usize,
    flags: libc::c_int,
) -> Result<(Vec<u8>, Vec<OwnedFd>), String> {
    let got = recvmsg_control(sock, len, room, false, flags)?;
    if got.truncated {
        return Err(format!(
            "recvmsg from fd {sock}: more control data came than room for {room} fds (MSG_CTRUNC)"
        ));
    }
    Ok((got.bytes, got.fds))
}

/// [`recv_with_fds`] with room for one fd: the bytes, and the fd if one came.
pub fn recv_with_fd(
    sock: RawFd,
    len: usize,
    flags: libc::c_int,
) -> Result<(Vec<u8>, Option<OwnedFd>), String> {
    let (buf, fds) = recv_with_fds(sock, len, 1, flags)?;
    Ok((buf, fds.into_iter().next()))
}

/// One recvmsg(2) of up to `len` bytes from the socket `sock`, with SO_PASSCRED, without
/// waiting (`MSG_DONTWAIT`): the bytes, the credentials that came with them (SCM_CREDENTIALS,
/// which must come) and the fds (SCM_RIGHTS, in their order, as fds of the caller's, closed
/// when dropped). A stream socket's recvmsg stops where the sender's credentials change.
/// `Err` if more control data came than room for the credentials and 8 fds (MSG_CTRUNC).
pub fn recv_with_creds(sock: RawFd, len: usize) -> Result<(Vec<u8>, Creds, Vec<OwnedFd>), String> {
    let got = recvmsg_control(sock, len, CREDS_FDS_ROOM, true, libc::MSG_DONTWAIT)?;
    if got.truncated {
        return Err(format!(
            "recvmsg from fd {sock}: more control data came than room for the credentials \
             and {CREDS_FDS_ROOM} fds (MSG_CTRUNC)"
        ));
    }
    match got.creds {
        Some(creds) => Ok((got.bytes, creds, got.fds)),
        None => Err(format!("recvmsg from fd {sock}: no SCM_CREDENTIALS came")),
    }
}

/// recv(2) of up to `len` bytes from `fd` with `flags`: what it received (a datagram or a
/// message whole if it fits), or the errno.
pub fn recv(fd: RawFd, len: usize, flags: libc::c_int) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; len];
    // SAFETY: receives into `buf`, of that length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, flags) };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A recv() of `what` (fd `fd`) with `MSG_DONTWAIT` fails with EAGAIN: it holds nothing
/// (more), and its peer may still send.
pub fn check_drained(what: &str, fd: RawFd) -> Check {
    crate::check_eq(
        format_args!("a recv() of {what} (fd {fd}) with MSG_DONTWAIT"),
        recv(fd, 64, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )
}

/// The next recv() of `what` (fd `fd`), within 10 s, gives 0 bytes: the end of its stream
/// (its peer shut down writing, or was closed).
pub fn check_end(what: &str, fd: RawFd) -> Check {
    check_bytes(
        format_args!("the next recv() of {what} (fd {fd}), at its end"),
        &recv_within(fd, 64, 0)?,
        b"",
    )
}

/// Waits up to 10 s for `fd` to have something to receive (or its end), then [`recv`]s up to
/// `len` bytes with `flags`; `Err` naming what failed or that nothing came.
pub fn recv_within(fd: RawFd, len: usize, flags: libc::c_int) -> Result<Vec<u8>, String> {
    wait_readable(fd)?;
    recv(fd, len, flags).map_err(|e| format!("recv from fd {fd}: {}", crate::describe_errno(e)))
}

/// Waits up to 10 s for the socket `sock` to have something to receive (or its end), then
/// receives up to `len` bytes with one recvmsg(2): the bytes and the name of the socket that
/// sent them (`msg_name`: the bytes of its `sun_path`, a NUL first for an abstract name, empty
/// if it has none). Control messages are not asked for (credentials and fds that come are
/// dropped).
pub fn recv_from_within(sock: RawFd, len: usize) -> Result<(Vec<u8>, Vec<u8>), String> {
    wait_readable(sock)?;
    let got = recvmsg_control(sock, len, 0, false, 0)?;
    Ok((got.bytes, got.name))
}

/// Waits up to 10 s for `fd` to have something to receive (or its end); `Err` naming what
/// failed or that nothing came.
fn wait_readable(fd: RawFd) -> Check {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, PATIENCE_MS) };
    check_os(n, format_args!("poll of fd {fd}"))?;
    if n == 0 {
        return Err(format!(
            "fd {fd}: nothing to receive within {} s",
            PATIENCE_MS / 1000
        ));
    }
    Ok(())
}

/// The credentials a reader with SO_PASSCRED gets (SCM_CREDENTIALS) with the next message of
/// `fd`, peeked without waiting: pid, uid and gid. A message sent without its sender's gives
/// pid 0 and the overflow ids.
pub fn peek_creds(fd: RawFd) -> Result<Creds, String> {
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    let got = recvmsg_control(fd, 1, 0, true, flags)
        .map_err(|e| format!("{e} (MSG_PEEK, for its credentials)"))?;
    got.creds
        .ok_or_else(|| format!("fd {fd}: no SCM_CREDENTIALS with its next message"))
}

/// Receives exactly `len` bytes from the stream socket `fd`, each part within 10 s
/// ([`recv_within`]), or fails (also at its end).
pub fn recv_exact(fd: RawFd, len: usize) -> Result<Vec<u8>, String> {
    let mut got = Vec::with_capacity(len);
    while got.len() < len {
        let part = recv_within(fd, len - got.len(), 0)?;
        if part.is_empty() {
            return Err(format!(
                "fd {fd}: end of stream after {} of {len} bytes",
                got.len()
            ));
        }
        got.extend_from_slice(&part);
    }
    Ok(got)
}

/// What getpeername(2) of the socket `fd` gives: `Ok` if it has a peer, or the errno.
pub fn peername(fd: RawFd) -> Result<(), i32> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` has room for `len` bytes.
    let r = unsafe { libc::getpeername(fd, (&raw mut addr).cast(), &mut len) };
    match r {
        0 => Ok(()),
        _ => Err(errno()),
    }
}

/// shutdown(2) of the socket `fd`, `how` being `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
pub fn shutdown(fd: RawFd, how: libc::c_int) -> Check {
    // SAFETY: shutdown takes integers.
    let r = unsafe { libc::shutdown(fd, how) };
    check_os(r, format_args!("shutdown(fd {fd}, {how})"))
}

/// The bytes `from..from + len` of [`crate::byte_pattern`].
pub fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(crate::byte_pattern).collect()
}

/// `Err` unless `/proc/self/fd/{fd}` says `socket:[...]`.
pub fn check_is_socket(fd: RawFd) -> Check {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("readlink of fd {fd}: {e}"))?;
    match link.to_string_lossy().starts_with("socket:[") {
        true => Ok(()),
        false => Err(format!("fd {fd} is {link:?}, not a socket")),
    }
}

/// The state /proc/net/unix gives the socket `fd` (its "St" column, a `socket_state`:
/// 1 unconnected, 3 connected, for a datagram socket another connected to too).
pub fn proc_state(fd: RawFd) -> Result<u32, String> {
    let ino = crate::fstat(fd)?.st_ino;
    let table = std::fs::read_to_string("/proc/net/unix")
        .map_err(|e| format!("reading /proc/net/unix: {e}"))?;
    // Num RefCount Protocol Flags Type St Inode [Path]
    let row = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(6)?.parse::<u64>().ok()? == ino).then(|| fields.get(5).copied())?
    });
    let st = row.ok_or_else(|| format!("no line of /proc/net/unix for fd {fd} (inode {ino})"))?;
    u32::from_str_radix(st, 16).map_err(|e| format!("the state {st:?} of fd {fd}: {e}"))
}

/// `Err` naming `what` unless `got` is exactly `want`, both shown escaped with their lengths.
pub fn check_bytes(what: impl std::fmt::Display, got: &[u8], want: &[u8]) -> Check {
    match got == want {
        true => Ok(()),
        false => Err(format!(
            "{what}: got \"{}\" ({} bytes), expected \"{}\" ({} bytes)",
            got.escape_ascii(),
            got.len(),
            want.escape_ascii(),
            want.len()
        )),
    }
}

/// getsockname() of `what` (fd `fd`) is exactly `name`.
pub fn check_name(what: impl std::fmt::Display, fd: RawFd, name: &[u8]) -> Check {
    let got = sockname(fd)?;
    check_bytes(
        format_args!("getsockname() of {what} (fd {fd})"),
        &got,
        name,
    )
}

/// getpeername() of `what` (fd `fd`) is exactly `name`.
pub fn check_peer(what: impl std::fmt::Display, fd: RawFd, name: &[u8]) -> Check {
    let got = peer_name(fd)?;
    check_bytes(
        format_args!("getpeername() of {what} (fd {fd})"),
        &got,
        name,
    )
}

/// One recvmsg() of at most 64 bytes on `what` (fd `fd`) gives exactly `bytes`, sent by a
/// socket named `from` (msg_name; empty for one without a name).
pub fn check_message(what: &str, fd: RawFd, bytes: &[u8], from: &[u8]) -> Check {
    let shown = String::from_utf8_lossy(bytes);
    let (got, sender) = recv_from_within(fd, 64)?;
    check_bytes(format_args!("what {what} (fd {fd}) receives"), &got, bytes)?;
    check_bytes(
        format_args!("the sender's name (msg_name) of {shown:?} on {what} (fd {fd})"),
        &sender,
        from,
    )
}

/// `Err` unless `name` is one the kernel autobinds a unix socket to: a NUL and 5 hex digits.
pub fn check_autobound(what: &str, name: &[u8]) -> Check {
    let hex = name
        .get(1..)
        .is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit));
    match name.len() == 6 && name[0] == 0 && hex {
        true => Ok(()),
        false => Err(format!(
            "{what}: \"{}\" ({} bytes), not an autobound name (a NUL and 5 hex digits)",
            name.escape_ascii(),
            name.len()
        )),
    }
}

/// The name of a socket bound to `path`, as getsockname(), getpeername() and msg_name give
/// it: the path and the NUL that ends it (Linux counts it in the address length).
pub fn path_name(path: &str) -> Vec<u8> {
    [path.as_bytes(), b"\0"].concat()
}

/// Makes `dir` (mode 0755, and its parents) and works in it (chdir()): a directory of the
/// caller's own to bind sockets in by relative names.
pub fn enter_dir(dir: &str) -> Check {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("mkdir {dir}: {e}"))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {dir}: {e}"))?;
    std::env::set_current_dir(dir).map_err(|e| format!("chdir {dir}: {e}"))
}

/// An eventfd of count `count` on fd `fd`, for a message to carry.
pub fn eventfd_at(count: u32, fd: RawFd) -> Check {
    // SAFETY: eventfd takes integers and makes an fd of ours.
    let got = unsafe { libc::eventfd(count, 0) };
    check_os(got, "eventfd")?;
    move_fd(got, fd)
}

/// `what` (fd `fd`) is an eventfd whose count reads `count` (which the read resets).
pub fn check_eventfd(what: &str, fd: RawFd, count: u32) -> Check {
    crate::check_eq(
        format_args!("the file of {what} (fd {fd})"),
        crate::fd_link(fd)?,
        "anon_inode:[eventfd]".to_string(),
    )?;
    crate::check_eq(
        format_args!("the count of {what} (fd {fd})"),
        crate::read_u64(fd),
        Ok(u64::from(count)),
    )
}
