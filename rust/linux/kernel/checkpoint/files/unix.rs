// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets (`AF_UNIX`) of a pair that `socketpair(2)` made, stream, datagram or
//! seqpacket, and unconnected ones that `socket(2)` made: the messages each holds, with
//! their boundaries, its shutdown state, pending error, owner and options (`O_NONBLOCK`,
//! buffer sizes the user set, timeouts, `SO_RCVLOWAT`, `SO_PEEK_OFF`, `SO_PASSCRED`,
//! `SO_PASSPIDFD`), and the process `SO_PEERCRED` names.
//!
//! The pair is written with the first of its sockets in the image; each socket's file names
//! it and its end. Restart makes the pair as `socketpair(2)` does, and queues each socket's
//! messages again as its peer's writes, without waiting, within the caller's limits. A pair
//! whose other socket was closed is made whole and filled, then that socket is closed, as
//! it was. The shutdown state, errors and `SO_PASSCRED` come once every socket is filled;
//! the peer credentials once every task has its own, as those of the restored process that
//! made the pair, which checkpoint found unchanged since.
//!
//! Refused, with the reason: a socket bound to an address or connected to one, a peer held
//! outside the tree (leak detection: [`FileKind::behind`]), messages carrying files
//! (`SCM_RIGHTS`), their sender's credentials (`SCM_CREDENTIALS`, `SO_PASSCRED`) or
//! out-of-band data, options restart does not set, and peer credentials that name a process
//! outside the tree or credentials its maker no longer has.

use super::{check_made_anew, made_anew_nonblock, made_with_first, Behind, FileKind, FileRef};
use super::{Names, Shown, MADE_ANEW_FLAGS};
use crate::image::{Dumper, Rec, Restorer};
use crate::task::ParkedTask;
use crate::{abi, log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::bindings;
use kernel::net::unix::{self, NewUnix, UnixInfo, UnixState};
use kernel::prelude::*;

/// Bytes copied to the image, or read back, at a time.
const CHUNK: usize = abi::PIPE_DATA_MAX as usize;

/// `SOCK_STREAM`, `SOCK_DGRAM` and `SOCK_SEQPACKET`.
const TYPES: [u32; 3] = [1, 2, 5];

pub(super) struct UnixFile;

impl FileKind for UnixFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        UnixInfo::of(file.file())
            .ok()
            .map(|_| Ok(abi::FILE_KIND_UNIX))
    }

    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
        let u = UnixInfo::of(file.file())?;
        let why = refused(names, &u);
        check_made_anew(at, file, "a unix socket", why, MADE_ANEW_FLAGS)
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        let u = UnixInfo::of(file.file()).ok()?;
        let (key, files) = pair_of(&u);
        // Restart makes the pair whole: a socket of it held outside would be another's.
        Some(Behind {
            key,
            what: "unix socket pair",
            files,
            opens: 0,
            always: true,
        })
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        let u = UnixInfo::of(file.file())?;
        if let Some(why) = refused(names, &u) {
            log!(
                d.log,
                "a unix socket {why} is not supported ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        }
        let (key, _) = pair_of(&u);
        let (pair, first) = d.first_write(key as *const u8)?;
        if first {
            d.record(&abi::UnixPair {
                objref: pair,
                sock_type: u.sock_type,
                peer: peer_kind(&u),
                _pad0: 0,
            })?;
        }
        // Its maker is a process of the tree (`refused`), whose `Task` record has this objref.
        let creator = match u.peercred {
            true => d.objref(u.creator as *const u8)?,
            false => 0,
        };
        let m = u.messages(file.file(), true).inspect_err(|e| {
            log!(
                d.log,
                "a unix socket: cannot read its messages ({}; {})",
                e.to_errno(),
                Shown::of(file)
            )
        })?;
        let s = &u.state;
        d.record(&abi::UnixSock {
            pair,
            end: u32::from(u.id != key),
            flags: flags_of(*s),
            shutdown: s.shutdown,
            err: s.err,
            sndbuf: s.sndbuf,
            rcvbuf: s.rcvbuf,
            rcvlowat: s.rcvlowat,
            peek_off: s.peek_off,
            uid: s.uid,
            gid: s.gid,
            creator,
            msgs: u.msgs,
            _pad0: 0,
            bytes: u.bytes,
            rcvtimeo: s.rcvtimeo,
            sndtimeo: s.sndtimeo,
        })?;
        let mut at = 0;
        for &len in m.lens.iter() {
            d.record(&abi::UnixMsg { len, _pad0: 0 })?;
            let msg = m.bytes.get(at..at + len as usize).ok_or(EINVAL)?;
            for chunk in msg.chunks(CHUNK) {
                d.raw(abi::RecordType::Data, chunk)?;
            }
            at += len as usize;
            crate::resched();
        }
        Ok(())
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_UNIX
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let nonblock = made_anew_nonblock(r, f)?;
        let s = made_with_first(
            r,
            abi::RecordType::UnixPair,
            restore_pair,
            |s: &abi::UnixSock| s.pair,
        )?;
        let e = s.end as usize;
        let (sock_type, peer, sock, other) = match r.lookup(s.pair)? {
            Obj::Unix(pair) => match pair.ends.get(e) {
                Some(End {
                    file: Some(file),
                    saved: None,
                }) => (
                    pair.sock_type,
                    pair.peer,
                    file.clone(),
                    pair.ends[1 - e].file.clone(),
                ),
                Some(End { saved: Some(_), .. }) => {
                    return Err(r.bad("unix socket opened by two files"))
                }
                _ => return Err(r.bad("unix socket file of a socket its pair does not have")),
            },
            _ => return Err(r.bad("unix socket file that names an object that is not a pair")),
        };
        let state = state_of(r, &s, peer)?;
        // Its messages are its peer's writes.
        fill(r, &s, sock_type, other.as_ref())?;
        unix::set(&sock, &state, nonblock).inspect_err(|e| {
            log!(
                r.log,
                "unix socket: cannot set it up as saved ({})",
                e.to_errno()
            )
        })?;
        let Obj::Unix(pair) = r.lookup_mut(s.pair)? else {
            return Err(EINVAL);
        };
        pair.ends[e].saved = Some((state, s.creator));
        if peer == abi::UNIX_PAIR_CLOSED {
            // Closed as it was, once its messages to this one are queued: that shuts this one
            // down, and the socket lives on while they do.
            drop((other, pair.ends[1].file.take()));
            kernel::current_task::run_task_work();
        }
        Ok(FileRef::from(sock.file().clone()))
    }
}

/// Why checkpoint cannot save the unix socket `u`, if it cannot.
fn refused(names: &Names, u: &UnixInfo) -> Option<&'static str> {
    if let Some(why) = u.refused {
        return Some(why.to_str().unwrap_or("in a state restart cannot make"));
    }
    if !TYPES.contains(&u.sock_type) {
        return Some("of an unknown type");
    }
    if u.files > 0 {
        return Some("holding messages that carry file descriptors (SCM_RIGHTS)");
    }
    if u.peer == 0 && u.peercred {
        return Some("disconnected from the pair it was made with");
    }
    if u.peer == 0 && u.msgs > 0 {
        return Some("connected to none, with messages queued");
    }
    if u.peer != 0 && !u.peercred {
        return Some("connected to a socket that is not its pair");
    }
    if u.bytes > abi::UNIX_QUEUE_MAX {
        return Some("holding more bytes than restart takes back");
    }
    if u.peercred {
        if u.creator == 0 {
            return Some("whose peer credentials (SO_PEERCRED) name a process that exited");
        }
        if !names.is_task(u.creator) {
            return Some("whose peer credentials (SO_PEERCRED) name a process outside the tree");
        }
        if !u.creator_cred {
            return Some("whose peer credentials (SO_PEERCRED) are not its maker's any more");
        }
    }
    None
}

/// The address that names the pair of `u` (its lower socket's, or its own if its peer is
/// gone) and the number of files it has.
fn pair_of(u: &UnixInfo) -> (usize, u32) {
    match peer_kind(u) {
        abi::UNIX_PAIR_BOTH => (u.id.min(u.peer), 2),
        _ => (u.id, 1),
    }
}

/// The `UNIX_PAIR_*` of `u`'s pair.
fn peer_kind(u: &UnixInfo) -> u32 {
    match (u.peer != 0, u.peer_dead) {
        (true, false) => abi::UNIX_PAIR_BOTH,
        (true, true) => abi::UNIX_PAIR_CLOSED,
        (false, _) => abi::UNIX_PAIR_NONE,
    }
}

/// An option of a socket that a `UnixSock.flags` bit stands for.
type FlagOption = fn(&mut UnixState) -> &mut bool;

/// The `UnixSock.flags` bits, each with the option it stands for.
const FLAGS: [(u32, FlagOption); 4] = [
    (abi::UNIX_PASSCRED, |s| &mut s.passcred),
    (abi::UNIX_PASSPIDFD, |s| &mut s.passpidfd),
    (abi::UNIX_SNDBUF_LOCK, |s| &mut s.sndbuf_set),
    (abi::UNIX_RCVBUF_LOCK, |s| &mut s.rcvbuf_set),
];

/// The `UnixSock.flags` of `s`.
fn flags_of(mut s: UnixState) -> u32 {
    FLAGS
        .iter()
        .filter(|(_, on)| *on(&mut s))
        .fold(0, |flags, (bit, _)| flags | bit)
}

/// The state of the `UnixSock` record `s`, of a socket whose pair is `peer`
/// (`UNIX_PAIR_*`), as far as the image alone tells it is one a socket may have; the kernel
/// judges the rest.
fn state_of(r: &Restorer<'_, Obj>, s: &abi::UnixSock, peer: u32) -> Result<UnixState> {
    let known = FLAGS.iter().fold(0, |all, (bit, _)| all | bit);
    let shut = abi::UNIX_SHUT_RD | abi::UNIX_SHUT_WR;
    if s.flags & !known != 0
        || s.shutdown & !shut != 0
        || (s.err != 0 && s.err != bindings::ECONNRESET as i32)
        || s._pad0 != 0
        || s.bytes > abi::UNIX_QUEUE_MAX
        || (s.creator == 0) != (peer == abi::UNIX_PAIR_NONE)
        || (peer != abi::UNIX_PAIR_BOTH && s.end != 0)
        || (peer == abi::UNIX_PAIR_NONE && s.msgs > 0)
    {
        return Err(r.bad("unix socket with flags, a state or messages no socket has"));
    }
    let mut state = UnixState {
        shutdown: s.shutdown,
        err: s.err,
        sndbuf: s.sndbuf,
        rcvbuf: s.rcvbuf,
        rcvtimeo: s.rcvtimeo,
        sndtimeo: s.sndtimeo,
        rcvlowat: s.rcvlowat,
        peek_off: s.peek_off,
        uid: s.uid,
        gid: s.gid,
        ..UnixState::default()
    };
    for (bit, on) in FLAGS {
        *on(&mut state) = s.flags & bit != 0;
    }
    Ok(state)
}

/// Queues the messages of `UnixSock` record `s` again, as writes of `other`, its peer, of a
/// pair of `sock_type`.
fn fill(
    r: &mut Restorer<'_, Obj>,
    s: &abi::UnixSock,
    sock_type: u32,
    other: Option<&NewUnix>,
) -> Result {
    let stream = sock_type == TYPES[0];
    let mut left = s.bytes;
    let mut buf = KVVec::new();
    for _ in 0..s.msgs {
        let m = r.expect::<abi::UnixMsg>()?;
        if m._pad0 != 0 || u64::from(m.len) > left || (stream && m.len == 0) {
            return Err(r.bad("unix socket message longer than its socket holds, or empty"));
        }
        left -= u64::from(m.len);
        let len = m.len as usize;
        // A datagram is sent whole; a stream's bytes a chunk at a time.
        if !stream || buf.is_empty() {
            let size = if stream { CHUNK } else { len };
            buf = KVVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
        }
        let mut got = 0;
        while got < len {
            let n = r.expect_raw(abi::RecordType::Data)? as usize;
            let at = if stream { 0 } else { got };
            if n == 0 || n > len - got || at + n > buf.len() {
                return Err(r.bad("unix socket message data longer or shorter than it"));
            }
            let bytes = buf.get_mut(at..at + n).ok_or(EINVAL)?;
            r.read_raw(bytes)?;
            if stream {
                send(r, other, bytes)?;
            }
            got += n;
        }
        if !stream {
            send(r, other, buf.get(..len).ok_or(EINVAL)?)?;
        }
        crate::resched();
    }
    if left != 0 {
        return Err(r.bad("unix socket messages shorter than its socket holds"));
    }
    Ok(())
}

/// Queues `bytes` as one write of `from`: all of them, or the caller's limits are too low
/// for what the socket held (`EPERM`).
fn send(r: &Restorer<'_, Obj>, from: Option<&NewUnix>, mut bytes: &[u8]) -> Result {
    let from = from.ok_or_else(|| r.bad("unix socket with messages and no peer"))?;
    // What a send without room returns: EAGAIN, or for a datagram too long EMSGSIZE.
    let no_room_errors = [EAGAIN.to_errno(), -(bindings::EMSGSIZE as i32)];
    loop {
        let n = match unix::fill(from, bytes) {
            Ok(n) if n > 0 || bytes.is_empty() => n,
            Ok(_) => return Err(no_room(r)),
            Err(e) if no_room_errors.contains(&e.to_errno()) => return Err(no_room(r)),
            Err(e) => {
                log!(
                    r.log,
                    "unix socket: cannot queue its messages again ({})",
                    e.to_errno()
                );
                return Err(e);
            }
        };
        bytes = bytes.get(n..).ok_or(EINVAL)?;
        if bytes.is_empty() {
            return Ok(());
        }
    }
}

/// Logs that the caller's limits give a socket too little room for the messages it held:
/// `EPERM`.
fn no_room(r: &Restorer<'_, Obj>) -> Error {
    log!(
        r.log,
        "unix socket: its messages take more room than the caller's limits give a socket (net.core.wmem_max)"
    );
    EPERM
}

/// Makes the pair of a `UnixPair` record and defines its objref, which it returns.
fn restore_pair(r: &mut Restorer<'_, Obj>, rec: Rec) -> Result<u32> {
    let p = r.decode::<abi::UnixPair>(rec)?;
    if !TYPES.contains(&p.sock_type) || p.peer > abi::UNIX_PAIR_NONE || p._pad0 != 0 {
        return Err(r.bad("unix socket pair of a type or state no pair has"));
    }
    r.definable(p.objref)?;
    let whole = p.peer != abi::UNIX_PAIR_NONE;
    let (a, b) = NewUnix::make(p.sock_type, whole)
        .inspect_err(|e| log!(r.log, "unix socket: cannot make one ({})", e.to_errno()))?;
    let end = |file| End { file, saved: None };
    r.define(
        p.objref,
        Obj::Unix(UnixPair {
            sock_type: p.sock_type,
            peer: p.peer,
            ends: [end(Some(a)), end(b)],
        }),
    )?;
    Ok(p.objref)
}

/// A unix socket pair made by restart, held until the restart ends.
pub(crate) struct UnixPair {
    sock_type: u32,
    /// `UNIX_PAIR_*`.
    peer: u32,
    ends: [End; 2],
}

/// A socket of a [`UnixPair`].
struct End {
    /// Its file: none for the second of a socket connected to none, or once closed.
    file: Option<NewUnix>,
    /// What its `UnixSock` record said, with the objref of its maker, once read.
    saved: Option<(UnixState, u32)>,
}

/// Gives each unix socket restored its shutdown state, error, `SO_PASSCRED` and peer
/// credentials, once every socket is filled and every task of `created` has its
/// credentials; `EINVAL` for a pair with a socket no file opened.
pub(crate) fn finish(r: &Restorer<'_, Obj>, created: &[ParkedTask]) -> Result {
    for obj in r.objects() {
        let Obj::Unix(pair) = obj else { continue };
        let live = match pair.peer {
            abi::UNIX_PAIR_BOTH => 2,
            _ => 1,
        };
        for end in &pair.ends[..live] {
            let (Some(file), Some((state, creator))) = (&end.file, end.saved) else {
                return Err(r.bad("unix socket pair with a socket no file opens"));
            };
            unix::finish(file, &state)
                .map_err(|_| r.bad("unix socket in a state no socket has"))?;
            if creator == 0 {
                continue;
            }
            let maker = match r.lookup(creator)? {
                Obj::Task(i) => created.get(*i).filter(|c| c.is_leader()),
                _ => None,
            };
            let Some(maker) = maker else {
                return Err(r.bad("unix socket made by an object that is not a process"));
            };
            file.set_peercred(&maker.task)?;
        }
        crate::resched();
    }
    Ok(())
}
