// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets (`AF_UNIX`) of a pair that `socketpair(2)` made or of a connection a
//! listener accepted or holds, not accepted yet, stream, datagram or seqpacket, and
//! unconnected ones that `socket(2)` made, listening or not; each bound to a name (abstract
//! or a path) or not: the messages each holds, with their boundaries, its shutdown state,
//! pending error, owner and options (`O_NONBLOCK`, buffer sizes the user set, timeouts,
//! `SO_RCVLOWAT`, `SO_PEEK_OFF`, `SO_PASSCRED`, `SO_PASSPIDFD`), its name and backlog, and the
//! process `SO_PEERCRED` names.
//!
//! The pair is written with the first of its sockets in the image; each socket's file names
//! it and its end. Restart makes the pair as `socketpair(2)` does, and queues each socket's
//! messages again as its peer's writes, without waiting, within the caller's limits. A pair
//! whose other socket was closed is made whole and filled, then that socket is closed, as
//! it was. The shutdown state, errors and `SO_PASSCRED` come once every socket is filled;
//! the peer credentials once every task has its own, as those of the restored process that
//! made the pair, which checkpoint found unchanged since.
//!
//! A connection is a pair whose sockets name different processes in `SO_PEERCRED`: the
//! accepted socket the one that connected, the other the one that made the listener listen.
//! The accepted socket has the listener's name without being bound to it, which restart
//! gives it again if no socket outside the restart is bound to that name: a restart cannot
//! pass a socket off as accepted by a listener it does not own. A closed peer's name, which
//! `getpeername()` still reports, comes with the socket that remains, and is given to the
//! peer once restart closed it again: nothing but that socket reaches it then.
//!
//! A socket bound to an abstract name is bound to it again as it is made (one with no peer
//! set up as saved first): a restart fails with `EADDRINUSE` while another socket has the
//! name (the checkpointed one, if it was not killed). A socket bound to a path keeps the name
//! `bind()` was given (maybe relative), and comes back on its inode, found where it was from
//! the task's root: the same inode if it is still there (a killed socket leaves it), with
//! its mode and owner, for a caller who could unlink it and bind anew; else a new one that
//! restart makes as `bind()` does, with the mode and owner it had, which only a caller who
//! may give them gets, and unlinks again if the restart fails. Another file there, or a
//! socket bound to the inode, fails the restart with `EADDRINUSE`. A connection that a
//! listener bound to a path accepted is named once every socket is bound, with the name and
//! inode of its listener, which must be of the tree. A listener listens again with its
//! backlog once every task has its credentials, with the peer credentials of the process
//! that made it listen, which a connecting socket copies. The connections it holds, not
//! accepted yet, follow it in the image in the order `accept()` takes them: each the socket
//! `accept()` would give, of the pair whose other socket is its client, which must be of
//! the tree (or closed, its maker of the tree), and its listener too. Restart makes that
//! pair, fills and sets up the socket as any other, and once the listener listens queues
//! it there again, out of its file, with the listener's name. What comes from outside the
//! tree after the listener is saved is not in the image. A datagram socket that another
//! connected to stays established, as `connect()` left it, whatever became of that one. A
//! datagram socket connected (`connect()`) to one of the tree bound to a name is a socket of
//! no pair that names it: restart connects it again once every socket is filled, through
//! that name (a path, through where its inode is now), to the socket restart bound to it; it
//! holds no message, as the sender of each could be another.
//!
//! Files in flight (`SCM_RIGHTS`) are the tree's (leak detection counts each message's
//! reference). A message may carry any file of the tree, the socket that holds it or its
//! peer included, so the messages of a socket that carry files come after the last task
//! ([`dump_later`]), once every file a process holds is written, each after the files that
//! only messages hold: restart makes those in the restarter, and queues the message with
//! them. So do the messages of a socket that carry their sender's credentials
//! (`SCM_CREDENTIALS`, which a reader with `SO_PASSCRED` gets): their pid names a task of the
//! tree, by objref, which restart has made by then; the restarter or that task must be
//! able to pass them itself.
//!
//! Refused, with the reason: a socket named by a path that was deleted or is outside the
//! task's root, or accepted by a listener of such a name closed since or outside the tree, a
//! datagram socket connected by name to one bound to such a path, to one outside the tree or
//! closed, one connected to a listener outside the tree that did not accept it yet, a
//! listener with a connection waiting from a socket outside the tree, a socket connected to
//! none and bound, or connected by name, holding messages (each one's sender could be
//! another), a message from another socket than the peer, a peer held outside the tree
//! (leak detection: [`FileKind::behind`]), messages whose credentials name a sender outside
//! the tree or one that exited, out-of-band data, options restart does not set, and peer
//! credentials that name a process outside the tree or credentials it no longer has.

use super::{check_made_anew, made_anew_nonblock, made_with_first, Behind, FileKind, FileRef};
use super::{cstr, decode_dev, encode_dev, Escaped, Names, Shown, MADE_ANEW_FLAGS};
use crate::abi::{objref::MAX_OBJREFS, xxh64::xxh64};
use crate::image::{Dumper, Rec, Restorer};
use crate::log::Log;
use crate::task::ParkedTask;
use crate::{abi, log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::net::unix::{self, Messages, NewUnix, SendAs, SockInode, SockInodeAttrs};
use kernel::net::unix::{UnixInfo, UnixState};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::types::ARef;

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
        let again = names
            .unix_socks
            .try_create_and_insert(u.id, (), GFP_KERNEL_ACCOUNT)?;
        // Once for each socket, however many fds it has.
        let first = again.is_none();
        if first && connected_by_name(&u) {
            let client = (u.peer, PEER_OUTSIDE, at.task.vnr(), at.at);
            names.unix_clients.push(client, GFP_KERNEL_ACCOUNT)?;
        }
        if first && u.peer_embryo {
            let listener = (
                u.peer_listener,
                LISTENER_WAITING_OUTSIDE,
                at.task.vnr(),
                at.at,
            );
            names.unix_clients.push(listener, GFP_KERNEL_ACCOUNT)?;
        }
        // Its peer credentials are its listener's maker's: the clearer reason first.
        let mut why = match u.peer_embryo && maker_outside(names, &u) {
            true => Some(LISTENER_WAITING_OUTSIDE),
            false => refused(names, &u),
        };
        if why.is_none() && is_path(&u.name) {
            why = path_refused(at, names, &u, file, first)?;
        }
        if why.is_none() && connected_by_name(&u) && is_path(&u.peer_name) {
            why = peer_path_refused(names, file)?;
        }
        if why.is_none() && u.creds > 0 {
            why = senders_refused(&u.messages(file.file(), false)?, names, u.creds);
        }
        check_made_anew(at, file, "a unix socket", why, MADE_ANEW_FLAGS)?;
        for i in 0..connections(&u) {
            let c = waiting(file, i)?;
            // Its peer credentials are its client's maker's: the clearer reason first.
            if maker_outside(names, &c) {
                let why = Some(CLIENT_OUTSIDE);
                return check_made_anew(at, file, "a unix socket", why, MADE_ANEW_FLAGS);
            }
            let mut why = refused(names, &c);
            if why.is_none() && c.creds > 0 {
                why = senders_refused(&c.messages(file.file(), false)?, names, c.creds);
            }
            let kind = "a unix socket listening, with a connection waiting";
            check_made_anew(at, file, kind, why, MADE_ANEW_FLAGS)?;
            // A client closed since is no one's: its maker must be of the tree (`refused`).
            if first && !c.peer_dead {
                let client = (c.peer, CLIENT_OUTSIDE, at.task.vnr(), at.at);
                names.unix_clients.push(client, GFP_KERNEL_ACCOUNT)?;
            }
            crate::resched();
        }
        Ok(())
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
        Self::dump_sock(d, names, file, u)?;
        // Those that came since are not in the image, as what comes after a socket is.
        for i in 0..connections(&u) {
            Self::dump_sock(d, names, file, waiting(file, i)?)?;
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
        let sock = Self::restore_sock(r, &s, nonblock, None)?;
        if s.flags & abi::UNIX_LISTENING != 0 {
            restore_waiting(r, &s)?;
        }
        Ok(FileRef::from(sock.file().clone()))
    }
}

impl UnixFile {
    /// Writes the `UnixSock` record of `u`, the unix socket of `file` or a connection that its
    /// listener holds, not accepted yet, with its names and messages (or leaves the messages for
    /// after the last task).
    fn dump_sock(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef, u: UnixInfo) -> Result {
        let what = match u.waiting {
            Some(_) => "a unix socket listening, with a connection waiting",
            None => "a unix socket",
        };
        if let Some(why) = refused(names, &u) {
            log!(d.log, "{what} {why} is not supported ({})", Shown::of(file));
            return Err(EOPNOTSUPP);
        }
        // One that a socket outside the tree made since it was checked.
        if u.waiting.is_some() && !u.peer_dead && names.unix_socks.get(&u.peer).is_none() {
            log!(
                d.log,
                "a unix socket listening: a socket outside the tree connected to it while the tree was checkpointed ({})",
                Shown::of(file)
            );
            return Err(EAGAIN);
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
        let end = u32::from(u.id != key);
        // A listener's are connections, which follow it.
        let m = match u.listening {
            true => no_messages(),
            false => messages(d, file, &u)?,
        };
        // A message that came since leak detection.
        if let Some(why) = senders_refused(&m, names, u.creds) {
            log!(d.log, "{what} {why} is not supported ({})", Shown::of(file));
            return Err(EOPNOTSUPP);
        }
        // Their files and senders are written by then.
        let later = !m.files.is_empty() || m.creds.iter().any(Option::is_some);
        let s = &u.state;
        // A connection waiting has its listener's, which restart gives it as it queues it.
        let named = u.name.len > 0 && u.waiting.is_none();
        // Only a closed peer's: a live one's comes with its own socket.
        let peer_named = u.peer_name.len > 0 && peer_kind(&u) == abi::UNIX_PAIR_CLOSED;
        let connected = connected_by_name(&u);
        let mut flags = flags_of(*s);
        for (on, bit) in [
            (later, abi::UNIX_QUEUE_LATER),
            (named && u.bound, abi::UNIX_BOUND),
            (named && !u.bound, abi::UNIX_NAMED),
            (u.listening, abi::UNIX_LISTENING),
            (peer_named, abi::UNIX_PEER_NAMED),
            (connected, abi::UNIX_CONNECTED),
        ] {
            flags |= if on { bit } else { 0 };
        }
        d.record(&abi::UnixSock {
            pair,
            end,
            flags,
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
        let names_of = [
            (named, &u.name, false),
            (peer_named || connected, &u.peer_name, true),
        ];
        for (on, name, peer) in names_of {
            if !on {
                continue;
            }
            d.record(&abi::UnixName {
                len: name.len,
                backlog: if u.listening { u.backlog } else { 0 },
                name: name.bytes,
                _pad0: 0,
            })?;
            // Right after it, a path's inode: a closed peer's has none.
            if is_path(name) && !(peer && peer_named) {
                dump_path(d, names, file, peer)?;
            }
        }
        if later {
            // Copied again then, with as many files, or the queue changed.
            let files = m.files.len() as u32;
            let queue = Later {
                file: file.clone(),
                info: UnixInfo { files, ..u },
                pair,
                end,
            };
            return Ok(names.queues_later.push(queue, GFP_KERNEL_ACCOUNT)?);
        }
        dump_messages(d, &m, &[])
    }

    /// Makes the socket of the `UnixSock` record `s` again, its file non-blocking if `nonblock`,
    /// from what follows the record; for a connection a listener of `waiting` (its type) holds,
    /// not accepted yet, to queue on it ([`finish`]).
    fn restore_sock(
        r: &mut Restorer<'_, Obj>,
        s: &abi::UnixSock,
        nonblock: bool,
        waiting: Option<u32>,
    ) -> Result<NewUnix> {
        let e = s.end as usize;
        let (sock_type, peer, sock, other) = match r.lookup(s.pair)? {
            Obj::Unix(pair) => match pair.ends.get(e) {
                Some(End {
                    file: Some(file),
                    saved: None,
                    ..
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
        let state = state_of(r, s, peer)?;
        let listening = s.flags & abi::UNIX_LISTENING != 0;
        let named = s.flags & abi::UNIX_NAMED != 0;
        if waiting.is_some_and(|ty| {
            ty != sock_type || peer == abi::UNIX_PAIR_NONE || s.flags & abi::UNIX_NOT_WAITING != 0
        }) {
            return Err(r.bad(
                "unix connection waiting on a listener of another type, or in a state or with options no such connection has",
            ));
        }
        // A datagram socket is named only by bind(): it could send under any other name.
        if (listening || named) && sock_type == TYPES[1] {
            return Err(r.bad("unix datagram socket listening, or with a name it was not bound to"));
        }
        // Set before anything outside can reach it by its name; it has no peer to fill. One
        // with a peer takes no message but its peer's.
        let early = s.flags & abi::UNIX_BOUND != 0 && peer == abi::UNIX_PAIR_NONE;
        if early {
            unix::finish(&sock, &state)
                .map_err(|_| r.bad("unix socket in a state no socket has"))?;
        }
        let (mut backlog, mut listener) = (None, None);
        if s.flags & abi::UNIX_BOUND != 0 {
            let name = name_of(r, listening, true)?;
            bind_holder(r, &sock, sock_type, &name)?;
            backlog = listening.then_some(name.backlog);
        } else if named {
            let name = name_of(r, false, true)?;
            match &name.path {
                // Its listener may come later: it is named once every socket is bound.
                Some(p) => {
                    listener = Some(KBox::new((name.name, p.key), GFP_KERNEL_ACCOUNT)?);
                }
                None => name_as_accepted(r, &sock, sock_type, &name)?,
            }
        }
        let mut connect_to = None;
        if s.flags & abi::UNIX_CONNECTED != 0 {
            if sock_type != TYPES[1] {
                return Err(r.bad("unix socket connected by name that is no datagram socket"));
            }
            let name = name_of(r, false, true)?;
            let key = name.path.as_ref().map(|p| p.key);
            connect_to = Some(KBox::new((name.name, key), GFP_KERNEL_ACCOUNT)?);
        }
        let mut closed_name = None;
        if s.flags & abi::UNIX_PEER_NAMED != 0 {
            // Named once it is closed again, as nothing but this socket reaches it then.
            let name = name_of(r, false, false)?;
            closed_name = Some(KBox::new(name.name, GFP_KERNEL_ACCOUNT)?);
        }
        let later = s.flags & abi::UNIX_QUEUE_LATER != 0;
        // Its messages are its peer's writes; those that carry files come after the last task. A
        // listener's are its connections, which follow.
        if !later && !listening {
            fill(
                r,
                (s.msgs, s.bytes),
                sock_type,
                (other.as_ref(), &sock),
                None,
            )?;
        }
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
        if named && pair.ends[1 - e].named {
            return Err(r.bad("unix socket pair whose two sockets have a listener's name"));
        }
        if waiting.is_some() && pair.ends[1 - e].waiting {
            return Err(r.bad("unix socket pair whose two sockets wait on listeners"));
        }
        pair.ends[e].waiting = waiting.is_some();
        pair.ends[e].saved = Some((state, s.creator));
        pair.ends[e].later = later.then_some((s.msgs, s.bytes));
        pair.ends[e].early = early;
        pair.ends[e].named = named;
        pair.ends[e].listen = backlog;
        pair.ends[e].connect_to = connect_to;
        pair.ends[e].listener = listener;
        pair.ends[e].closed_name = closed_name;
        if peer == abi::UNIX_PAIR_CLOSED && !later {
            let closed = close_peer(pair, other);
            name_closed(r, closed)?;
        }
        Ok(sock)
    }
}

/// The connections that `u` holds, not accepted yet, if it listens.
fn connections(u: &UnixInfo) -> u32 {
    match u.listening {
        true => u.msgs,
        false => 0,
    }
}

/// The `i`-th connection that the listener of `file` holds, not accepted yet: `EAGAIN` if it
/// holds fewer, which only an `accept()` since could have taken.
fn waiting(file: &FileRef, i: u32) -> Result<UnixInfo> {
    UnixInfo::waiting(file.file(), i).map_err(|e| if e == ENOENT { EAGAIN } else { e })
}

/// Why a listener of the tree is refused if a connection it has not accepted comes from a
/// socket outside the tree.
const CLIENT_OUTSIDE: &str = "listening, with a connection waiting from a socket outside the tree";

/// Why a socket is refused if it is connected to a listener outside the tree that has not
/// accepted it.
const LISTENER_WAITING_OUTSIDE: &str =
    "connected to a listener outside the tree that has not accepted it yet";

/// Reads the `UnixSock` records of the connections that the listener of `l`, its own, holds,
/// not accepted yet, with what follows each, and makes each, to queue it on the listener once
/// it listens ([`finish`]).
fn restore_waiting(r: &mut Restorer<'_, Obj>, l: &abi::UnixSock) -> Result {
    let sock_type = match r.lookup(l.pair)? {
        Obj::Unix(pair) => pair.sock_type,
        _ => return Err(EINVAL),
    };
    let mut waiting = KVVec::new();
    for _ in 0..l.msgs {
        let s = made_with_first(
            r,
            abi::RecordType::UnixPair,
            restore_pair,
            |s: &abi::UnixSock| s.pair,
        )?;
        // Not an fd's: `restore_sock` refuses a file of it, and the listener takes its file.
        UnixFile::restore_sock(r, &s, false, Some(sock_type))?;
        waiting.push((s.pair, s.end), GFP_KERNEL_ACCOUNT)?;
        crate::resched();
    }
    let Obj::Unix(pair) = r.lookup_mut(l.pair)? else {
        return Err(EINVAL);
    };
    pair.ends[0].waiting_here = waiting;
    Ok(())
}

/// Closes the socket of end 1 of `pair`, whose other socket was closed when it was saved, as
/// it was, once its messages to end 0 are queued: that shuts end 0 down, and the socket lives
/// on while they do. `other` is a reference to it, dropped too. Returns end 0 and the name
/// the closed socket had, if it had one, to give it ([`name_closed`]).
fn close_peer(pair: &mut UnixPair, other: Option<NewUnix>) -> Option<(NewUnix, KBox<unix::Name>)> {
    drop((other, pair.ends[1].file.take()));
    kernel::current_task::run_task_work();
    let name = pair.ends[0].closed_name.take()?;
    Some((pair.ends[0].file.clone()?, name))
}

/// Gives the closed peer of a socket the name it had, which `close_peer` returned.
fn name_closed(r: &Restorer<'_, Obj>, closed: Option<(NewUnix, KBox<unix::Name>)>) -> Result {
    let Some((sock, name)) = closed else {
        return Ok(());
    };
    sock.name_closed_peer(name.as_bytes()).inspect_err(|e| {
        let (at, shown) = shown(&name);
        log!(
            r.log,
            "unix socket: cannot give its closed peer its name {at}{shown} ({})",
            e.to_errno()
        )
    })
}

/// Queues the messages of a `UnixQueue` record again, with the files and credentials they
/// carry, for a socket whose `UnixSock` record said they come after the last task, once
/// every task is in `created`.
pub(crate) fn restore_queue(r: &mut Restorer<'_, Obj>, rec: Rec, created: &[ParkedTask]) -> Result {
    let q = r.decode::<abi::UnixQueue>(rec)?;
    let e = q.end as usize;
    let pending = match r.lookup_mut(q.pair)? {
        Obj::Unix(pair) if e < 2 => match (pair.ends[e].later.take(), &pair.ends[e].file) {
            (Some(s), Some(sock)) => {
                let other = pair.ends[1 - e].file.clone();
                Some((s, pair.sock_type, other, sock.clone()))
            }
            _ => None,
        },
        _ => None,
    };
    let Some((queue, sock_type, other, sock)) = pending else {
        return Err(r.bad("unix socket messages for a socket that has none to come"));
    };
    fill(r, queue, sock_type, (other.as_ref(), &sock), Some(created))?;
    let closed = match r.lookup_mut(q.pair)? {
        Obj::Unix(pair) if pair.peer == abi::UNIX_PAIR_CLOSED => close_peer(pair, other),
        _ => None,
    };
    name_closed(r, closed)
}

/// A unix socket whose messages carry files or credentials, written after the last task:
/// what its `UnixSock` record said.
pub(super) struct Later {
    file: FileRef,
    info: UnixInfo,
    pair: u32,
    end: u32,
}

/// The messages of a socket that holds none.
fn no_messages() -> Messages {
    Messages {
        lens: KVVec::new(),
        carried: KVVec::new(),
        creds: KVVec::new(),
        bytes: KVVec::new(),
        files: KVVec::new(),
    }
}

/// Copies the messages of the socket of `file`, which `u` describes, with their bytes.
fn messages(d: &Dumper<'_>, file: &FileRef, u: &UnixInfo) -> Result<Messages> {
    u.messages(file.file(), true).inspect_err(|e| {
        log!(
            d.log,
            "a unix socket: cannot read its messages ({}; {})",
            e.to_errno(),
            Shown::of(file)
        )
    })
}

/// Writes the messages `m`, naming the files they carry by their objrefs, `files`, and their
/// senders, tasks of the tree, by theirs.
fn dump_messages(d: &mut Dumper<'_>, m: &Messages, files: &[u32]) -> Result {
    let (mut at, mut carried) = (0, files.iter());
    let each = m.lens.iter().zip(m.carried.iter()).zip(m.creds.iter());
    for ((&len, &n), cred) in each {
        d.record(&abi::UnixMsg { len, files: n })?;
        if let Some(c) = cred {
            let sender = d.objref(c.sender as *const u8)?;
            d.record(&abi::UnixCreds {
                sender,
                uid: c.uid,
                gid: c.gid,
                _pad0: 0,
            })?;
        }
        for _ in 0..n {
            let file = *carried.next().ok_or(EINVAL)?;
            d.record(&abi::UnixCarried { file, _pad0: 0 })?;
        }
        d.data(m.bytes.get(at..at + len as usize).ok_or(EINVAL)?)?;
        at += len as usize;
        crate::resched();
    }
    Ok(())
}

/// The files that the messages of the unix socket of `file` carry (a listener's, those of its
/// connections not accepted yet); none if it is no unix socket. `EAGAIN` if its messages
/// changed while they were read.
pub(crate) fn carried(file: &FileRef) -> Result<KVVec<ARef<File>>> {
    let u = match UnixInfo::of(file.file()) {
        Ok(u) if u.listening => u,
        Ok(u) if u.files > 0 => return Ok(u.messages(file.file(), false)?.files),
        _ => return Ok(KVVec::new()),
    };
    // A listener's connections' too: it holds them.
    let mut files = KVVec::new();
    for i in 0..u.msgs {
        let c = waiting(file, i)?;
        if c.files > 0 {
            for f in c.messages(file.file(), false)?.files.iter() {
                files.push(f.clone(), GFP_KERNEL_ACCOUNT)?;
            }
        }
    }
    Ok(files)
}

/// Writes, after the last task, the messages of the unix sockets whose messages carry
/// files or credentials, each socket's after the files they carry that no earlier record
/// wrote (which may add sockets). `EAGAIN` if a socket's messages changed since leak
/// detection counted the files they carry, or name a sender outside the tree.
pub(crate) fn dump_later(d: &mut Dumper<'_>, names: &mut Names) -> Result {
    let mut i = 0;
    while let Some(q) = names.queues_later.get(i) {
        let Later {
            file,
            info,
            pair,
            end,
        } = q;
        let (file, info, pair, end) = (file.clone(), *info, *pair, *end);
        i += 1;
        let m = messages(d, &file, &info)?;
        if m.files.len() != info.files as usize || senders_refused(&m, names, info.creds).is_some()
        {
            return Err(changed(d, &file));
        }
        let mut refs = KVVec::with_capacity(m.files.len(), GFP_KERNEL_ACCOUNT)?;
        for f in m.files.iter() {
            let f = FileRef::from(&**f);
            // Only files leak detection counted, and that the restarter can make.
            let ok = d.file_written(f.as_ptr()).is_some()
                || (d.tree_file(f.as_ptr()) && super::made_anywhere(&f));
            if !ok {
                return Err(changed(d, &file));
            }
            refs.push(super::dump_file(d, names, &f)?, GFP_KERNEL_ACCOUNT)?;
        }
        d.record(&abi::UnixQueue { pair, end })?;
        dump_messages(d, &m, &refs)?;
    }
    Ok(())
}

/// Logs that the messages of the socket of `file` changed while the tree was checkpointed:
/// `EAGAIN`.
fn changed(d: &Dumper<'_>, file: &FileRef) -> Error {
    log!(
        d.log,
        "a unix socket: its messages changed while the tree was checkpointed ({})",
        Shown::of(file)
    );
    EAGAIN
}

/// Why checkpoint cannot save the unix socket `u`, if it cannot.
fn refused(names: &Names, u: &UnixInfo) -> Option<&'static str> {
    if let Some(why) = u.refused {
        return Some(why.to_str().unwrap_or("in a state restart cannot make"));
    }
    if !TYPES.contains(&u.sock_type) {
        return Some("of an unknown type");
    }
    // A listener's names the process that made it listen.
    if u.peer == 0 && u.peercred && !u.listening {
        return Some("disconnected from the pair it was made with");
    }
    // A listener's are its connections.
    if u.peer == 0 && u.msgs > 0 && !u.listening {
        return Some("connected to none, with messages queued");
    }
    // Only an accepted socket has one: a datagram socket could send under it.
    if u.name.len > 0 && !u.bound && (u.peer == 0 || u.sock_type == TYPES[1]) {
        return Some("with a name it was not bound to, as no such socket has");
    }
    // Restart connects it once every socket is filled: with none of the messages, each of
    // whose senders could be another.
    if connected_by_name(u) && u.msgs > 0 {
        return Some("connected to a datagram socket by name, holding messages");
    }
    if u.peer != 0 && !u.peercred && !connected_by_name(u) {
        return Some(match u.peer_dead && u.sock_type == TYPES[1] {
            true => "connected to a datagram socket that was closed",
            false => "connected to a socket that is not its pair",
        });
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

/// Whether `SO_PEERCRED` of `u` names a live process outside the tree.
fn maker_outside(names: &Names, u: &UnixInfo) -> bool {
    u.peercred && u.creator != 0 && !names.is_task(u.creator)
}

/// Why checkpoint cannot save the messages `m` of a unix socket, of which `creds` carry
/// credentials, if it cannot: a sender their credentials name that is not a task of the
/// tree, or that exited since they were counted (a copy without the bytes leaves it out).
fn senders_refused(m: &Messages, names: &Names, creds: u32) -> Option<&'static str> {
    let mut senders = m.creds.iter().flatten();
    if senders.clone().count() != creds as usize {
        return Some("holding a message whose sender (SCM_CREDENTIALS) exited");
    }
    let outside = senders.any(|c| !names.is_task(c.sender));
    outside.then_some("holding a message whose sender (SCM_CREDENTIALS) is outside the tree")
}

/// The address that names the pair of `u` (its lower socket's, or its own if its peer is
/// gone) and the number of files it has: one for a client whose peer, a listener's socket,
/// was not accepted yet.
fn pair_of(u: &UnixInfo) -> (usize, u32) {
    match peer_kind(u) {
        abi::UNIX_PAIR_BOTH if u.peer_embryo => (u.id.min(u.peer), 1),
        abi::UNIX_PAIR_BOTH => (u.id.min(u.peer), 2),
        _ => (u.id, 1),
    }
}

/// Whether `u` is a datagram socket that `socket(2)` made, connected (`connect()`) to a live
/// one bound to a name.
fn connected_by_name(u: &UnixInfo) -> bool {
    u.sock_type == TYPES[1] && u.peer != 0 && !u.peercred && !u.peer_dead && u.peer_name.len > 0
}

/// Connects `sock` to the datagram socket restart bound to the name `to`: an abstract one,
/// or a path with the key of where its inode is.
fn connect(
    r: &Restorer<'_, Obj>,
    sock: &NewUnix,
    (name, key): (unix::Name, Option<u64>),
) -> Result {
    let Some(to) = holder(r, TYPES[1], name, key) else {
        return Err(r.bad("unix socket connected to a name no restored socket is bound to"));
    };
    sock.connect(to).inspect_err(|e| {
        let (at, name) = shown(&name);
        log!(
            r.log,
            "unix socket: cannot connect it to {at}{name} again ({})",
            e.to_errno()
        )
    })
}

/// Why a datagram socket connected by name is refused if its peer is not a socket of the tree.
const PEER_OUTSIDE: &str = "connected to a socket outside the tree";

/// Why a socket a listener bound to a path accepted is refused if the listener is not a
/// socket of the tree.
const LISTENER_OUTSIDE: &str = "accepted from a listener bound to a path outside the tree";

/// Checks, once every file of the tree is, before the first byte, that each datagram socket
/// connected by name is connected to a socket of the tree, each socket that a listener bound
/// to a path accepted was accepted by one of the tree, and each connection waiting whose peer
/// credentials name a process of the tree is between sockets of the tree: if not, `EBUSY` in
/// a `container`, which must hold every end of what it uses as leak detection requires of a
/// pipe, `EOPNOTSUPP` in a subtree.
pub(crate) fn check_peers(log: &Log, names: &Names, container: bool) -> Result {
    let (errno, tail) = match container {
        true => (EBUSY, ""),
        false => (EOPNOTSUPP, " is not supported"),
    };
    for &(peer, why, pid, at) in names.unix_clients.iter() {
        crate::resched();
        if names.unix_socks.get(&peer).is_none() {
            log!(log, "pid {pid}: {at}: a unix socket {why}{tail}");
            return Err(errno);
        }
    }
    Ok(())
}

/// Whether `name` is a path: not abstract, and not none.
fn is_path(name: &unix::Name) -> bool {
    name.as_bytes().first().is_some_and(|&b| b != 0)
}

/// Why checkpoint cannot save `u`, the unix socket of `file` named by a path, held `at` a
/// frozen task, if it cannot. When it is checked `first`, one a listener accepted waits
/// until every file is checked for its listener to be one of the tree ([`check_peers`]).
fn path_refused(
    at: Place<'_>,
    names: &mut Names,
    u: &UnixInfo,
    file: &FileRef,
    first: bool,
) -> Result<Option<&'static str>> {
    let Some(inode) = SockInode::of(file.file(), false)? else {
        return Ok(Some("named by a path without its inode"));
    };
    if names.name(&inode.path).is_none() {
        return Ok(Some(
            "named by a path that was deleted or is outside the task's root",
        ));
    }
    if !inode.mapped {
        return Ok(Some(
            "named by a path whose owner the checkpointer's user namespace cannot name",
        ));
    }
    if u.bound {
        return Ok(None);
    }
    // An accepted socket keeps its listener's inode, which another may be bound to by now.
    if inode.bound_to == 0 {
        return Ok(Some(
            "accepted from a listener bound to a path, since closed",
        ));
    }
    if first {
        let listener = (inode.bound_to, LISTENER_OUTSIDE, at.task.vnr(), at.at);
        names.unix_clients.push(listener, GFP_KERNEL_ACCOUNT)?;
    }
    Ok(None)
}

/// Why checkpoint cannot save the datagram socket of `file`, connected by name to one bound to
/// a path, if it cannot: restart connects it through where that one's inode is, which must be
/// short enough for a name.
fn peer_path_refused(names: &mut Names, file: &FileRef) -> Result<Option<&'static str>> {
    let Some(inode) = SockInode::of(file.file(), true)? else {
        return Ok(Some(
            "connected by name to a socket bound to a path, closed since",
        ));
    };
    Ok(match names.name(&inode.path) {
        None => Some(
            "connected by name to a socket bound to a path that was deleted or is outside the task's root",
        ),
        Some(place) if place.len() >= abi::UNIX_NAME_MAX as usize => Some(
            "connected by name to a socket bound to a path as long as a name may be or longer, from the task's root",
        ),
        Some(_) => None,
    })
}

/// Writes the `UnixPath` record of the unix socket of `file`, or of its peer if `peer`, named
/// by a path, and where its inode is.
fn dump_path(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef, peer: bool) -> Result {
    let inode = SockInode::of(file.file(), peer)?.ok_or(EINVAL)?;
    let a = inode.attrs;
    d.record(&abi::UnixPath {
        ino: a.ino,
        dev: encode_dev(a.dev),
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        _pad0: 0,
    })?;
    let Some(place) = names.name(&inode.path) else {
        log!(
            d.log,
            "a unix socket named by a path, or connected to one, deleted while the tree was checkpointed ({})",
            Shown::of(file)
        );
        return Err(EAGAIN);
    };
    d.string(place)
}

/// The `UNIX_PAIR_*` of `u`'s pair: a socket connected by name is alone in it.
fn peer_kind(u: &UnixInfo) -> u32 {
    // Nor is one whose peer is not its pair: its check refuses it, and leak detection,
    // which counts a pair's sockets, leaves the reason to that.
    if connected_by_name(u) || (u.peer != 0 && !u.paired) {
        return abi::UNIX_PAIR_NONE;
    }
    match (u.peer != 0, u.peer_dead) {
        (true, false) => abi::UNIX_PAIR_BOTH,
        (true, true) => abi::UNIX_PAIR_CLOSED,
        (false, _) => abi::UNIX_PAIR_NONE,
    }
}

/// An option of a socket that a `UnixSock.flags` bit stands for.
type FlagOption = fn(&mut UnixState) -> &mut bool;

/// The `UnixSock.flags` bits, each with the option it stands for.
const FLAGS: [(u32, FlagOption); 5] = [
    (abi::UNIX_PASSCRED, |s| &mut s.passcred),
    (abi::UNIX_PASSPIDFD, |s| &mut s.passpidfd),
    (abi::UNIX_SNDBUF_LOCK, |s| &mut s.sndbuf_set),
    (abi::UNIX_RCVBUF_LOCK, |s| &mut s.rcvbuf_set),
    (abi::UNIX_ESTABLISHED, |s| &mut s.established),
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
    let known = FLAGS.iter().fold(
        abi::UNIX_QUEUE_LATER
            | abi::UNIX_BOUND
            | abi::UNIX_LISTENING
            | abi::UNIX_NAMED
            | abi::UNIX_PEER_NAMED
            | abi::UNIX_CONNECTED,
        |all, (bit, _)| all | bit,
    );
    let shut = abi::UNIX_SHUT_RD | abi::UNIX_SHUT_WR;
    let bound = s.flags & abi::UNIX_BOUND != 0;
    let listening = s.flags & abi::UNIX_LISTENING != 0;
    // An accepted socket's listener's name.
    let named = s.flags & abi::UNIX_NAMED != 0;
    let peer_named = s.flags & abi::UNIX_PEER_NAMED != 0;
    // A pair's sockets name their maker, a listener the process that made it listen.
    let maker = peer != abi::UNIX_PAIR_NONE || listening;
    if s.flags & !known != 0
        || s.shutdown & !shut != 0
        || (s.err != 0 && s.err != bindings::ECONNRESET as i32)
        || s._pad0 != 0
        || s.bytes > abi::UNIX_QUEUE_MAX
        || (s.creator != 0) != maker
        || (bound && named)
        || (named && peer == abi::UNIX_PAIR_NONE)
        || (peer_named && peer != abi::UNIX_PAIR_CLOSED)
        || (s.flags & abi::UNIX_ESTABLISHED != 0 && peer != abi::UNIX_PAIR_NONE)
        || (s.flags & abi::UNIX_CONNECTED != 0
            && (peer != abi::UNIX_PAIR_NONE || listening || s.flags & abi::UNIX_ESTABLISHED != 0))
        || (listening && (!bound || peer != abi::UNIX_PAIR_NONE))
        || (peer != abi::UNIX_PAIR_BOTH && s.end != 0)
        || (peer == abi::UNIX_PAIR_NONE
            && ((s.msgs > 0 && !listening) || s.bytes > 0 || s.flags & abi::UNIX_QUEUE_LATER != 0))
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

/// A `UnixName` record, as far as the image alone tells it is one a socket may have.
struct Named {
    name: unix::Name,
    /// The backlog its socket listens with once its maker has its credentials ([`finish`]).
    backlog: u32,
    /// For a path, its `UnixPath` record (boxed: few names are paths).
    path: Option<KBox<SockPath>>,
}

/// The socket inode of a unix socket named by a path, as its `UnixPath` record has it.
struct SockPath {
    attrs: SockInodeAttrs,
    /// Where it is, from the root of the task: a NUL-terminated path.
    place: KVec<u8>,
    /// The key of `place` in [`UnixNames`].
    key: u64,
}

/// The name `name` as the log shows it: an abstract one after a `@`.
fn shown(name: &unix::Name) -> (&'static str, Escaped<'_>) {
    match is_path(name) {
        true => ("", Escaped(name.as_bytes())),
        false => ("@", Escaped(name.as_bytes().get(1..).unwrap_or(&[]))),
    }
}

/// Reads the `UnixName` record that follows, of a socket that listens if `listening`; a path
/// with its `UnixPath` and `String` records if it has an `inode`.
fn name_of(r: &mut Restorer<'_, Obj>, listening: bool, inode: bool) -> Result<Named> {
    let n = r.expect::<abi::UnixName>()?;
    let len = n.len as usize;
    let (Some(name), Some(rest)) = (n.name.get(..len), n.name.get(len..)) else {
        return Err(r.bad("unix socket name longer than a name may be"));
    };
    let is_path = name.first().is_some_and(|&b| b != 0);
    if name.is_empty()
        || rest.iter().any(|&b| b != 0)
        || (!listening && n.backlog != 0)
        || (is_path && name.contains(&0))
    {
        return Err(r.bad("unix socket name or backlog no socket has"));
    }
    let path = match is_path && inode {
        true => Some(KBox::new(path_of(r)?, GFP_KERNEL_ACCOUNT)?),
        false => None,
    };
    Ok(Named {
        name: unix::Name {
            len: n.len,
            bytes: n.name,
        },
        backlog: n.backlog,
        path,
    })
}

/// Reads the `UnixPath` record that follows and where its inode is.
fn path_of(r: &mut Restorer<'_, Obj>) -> Result<SockPath> {
    let p = r.expect::<abi::UnixPath>()?;
    let place = r.string()?;
    let perms = bindings::S_IALLUGO;
    if p.mode & bindings::S_IFMT != bindings::S_IFSOCK
        || p.mode & !(bindings::S_IFMT | perms) != 0
        || p._pad0 != 0
        || place.first() != Some(&b'/')
    {
        return Err(r.bad("unix socket path that names no socket inode, or not from the root"));
    }
    // The String record's bytes and a NUL.
    let key = xxh64(place.get(..place.len() - 1).unwrap_or(&[]), 0);
    Ok(SockPath {
        attrs: SockInodeAttrs {
            ino: p.ino,
            dev: decode_dev(p.dev),
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
        },
        place,
        key,
    })
}

/// The key of the restart's index of the names it bound sockets to ([`UnixNames`]).
const NAMES: u32 = MAX_OBJREFS + 1;

/// The unix sockets restart bound: the holders of the names it gives accepted sockets, and
/// the sockets it connects datagram sockets to again.
pub(crate) struct UnixNames {
    /// Those bound to abstract names, by type and name.
    names: RBTree<(u32, unix::Name), NewUnix>,
    /// Those bound to paths, by type and the key of where their inode is.
    paths: RBTree<(u32, u64), BoundPath>,
}

/// A unix socket restart bound to a path.
struct BoundPath {
    sock: NewUnix,
    name: unix::Name,
    /// Whether restart made its inode, which it unlinks if it fails ([`unlink_made`]).
    made: bool,
}

/// Binds `sock` to the abstract name `n`.
fn bind(r: &Restorer<'_, Obj>, sock: &NewUnix, n: &Named) -> Result {
    let res = sock.bind(n.name.as_bytes());
    res.inspect_err(|e| name_failed(r, e, "bind it to", n, "a socket has that name"))
}

/// The restart's index of the sockets it bound.
fn index<'a>(r: &'a mut Restorer<'_, Obj>) -> Result<&'a mut UnixNames> {
    let names = r.own_mut(NAMES, || {
        Obj::UnixNames(UnixNames {
            names: RBTree::new(),
            paths: RBTree::new(),
        })
    })?;
    let Obj::UnixNames(names) = names else {
        return Err(EINVAL);
    };
    Ok(names)
}

/// Binds `sock`, a socket of `sock_type` that lives on, to the name `n`, which it then holds
/// for the sockets that restart gives the name of the listener that accepted them.
fn bind_holder(r: &mut Restorer<'_, Obj>, sock: &NewUnix, sock_type: u32, n: &Named) -> Result {
    let Some(p) = &n.path else {
        bind(r, sock, n)?;
        // Once: no other socket of its type could be bound to it.
        let key = (sock_type, n.name);
        let names = &mut index(r)?.names;
        names.try_create_and_insert(key, sock.clone(), GFP_KERNEL_ACCOUNT)?;
        return Ok(());
    };
    let key = (sock_type, p.key);
    if index(r)?.paths.get(&key).is_some() {
        return Err(r.bad("unix sockets bound to one path"));
    }
    let place = cstr(&p.place)?;
    let made = sock
        .bind_path(n.name.as_bytes(), place, &p.attrs)
        .inspect_err(|e| bind_path_failed(r, e, n, p))?;
    let bound = BoundPath {
        sock: sock.clone(),
        name: n.name,
        made,
    };
    let res = index(r).and_then(|i| {
        i.paths
            .try_create_and_insert(key, bound, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    });
    if res.is_err() && made {
        let _ = sock.unlink_path();
    }
    res
}

/// Logs that restart could not bind a socket to the path `n`, whose inode `p` describes: `e`.
fn bind_path_failed(r: &Restorer<'_, Obj>, e: &Error, n: &Named, p: &SockPath) {
    let place = Escaped(p.place.get(..p.place.len() - 1).unwrap_or(&[]));
    let (_, name) = shown(&n.name);
    let a = &p.attrs;
    match e.to_errno() {
        e if e == -(bindings::EADDRINUSE as i32) => log!(
            r.log,
            "unix socket: cannot bind it to {name} at {place}: another file is there, or a socket is bound to it (EADDRINUSE)"
        ),
        e if e == -(bindings::EPERM as i32) => log!(
            r.log,
            "unix socket: cannot bind it to {name} at {place} with mode {:o}, uid {}, gid {}: the caller may not (EPERM)",
            a.mode & bindings::S_IALLUGO,
            a.uid,
            a.gid
        ),
        e => log!(r.log, "unix socket: cannot bind it to {name} at {place} ({e})"),
    }
}

/// Gives `sock`, a socket of `sock_type` of a connection, the name and path of the listener
/// bound to a path that accepted it, which restart bound: `at` is the name and the key of
/// where its inode is.
fn name_as_accepted_path(
    r: &Restorer<'_, Obj>,
    sock: &NewUnix,
    sock_type: u32,
    at: &(unix::Name, u64),
) -> Result {
    let Some(holder) = holder(r, sock_type, at.0, Some(at.1)) else {
        return Err(
            r.bad("unix socket accepted by a listener bound to a path restart did not bind")
        );
    };
    sock.name_path(holder).inspect_err(|e| {
        let (_, name) = shown(&at.0);
        log!(
            r.log,
            "unix socket: cannot give it its listener's name {name} ({})",
            e.to_errno()
        )
    })
}

/// Unlinks the inodes that restart made for the sockets it bound to paths: for a restart that
/// failed, which leaves nothing behind.
pub(crate) fn unlink_made(r: &Restorer<'_, Obj>) {
    let Some(Obj::UnixNames(names)) = r.own(NAMES) else {
        return;
    };
    for bound in names.paths.values().filter(|b| b.made) {
        if let Err(e) = bound.sock.unlink_path() {
            let (_, name) = shown(&bound.name);
            log!(
                r.log,
                "unix socket: cannot unlink the inode restart made for {name} ({})",
                e.to_errno()
            );
        }
    }
}

/// Gives `sock`, a socket of `sock_type` of a connection, the abstract name `n` of the
/// listener that accepted it, which no socket but the one restart bound to it, if any, may
/// have.
fn name_as_accepted(r: &Restorer<'_, Obj>, sock: &NewUnix, sock_type: u32, n: &Named) -> Result {
    let res = sock.name(n.name.as_bytes(), holder(r, sock_type, n.name, None));
    let (what, taken) = (
        "give it its listener's name",
        "a socket outside the restart has that name",
    );
    res.inspect_err(|e| name_failed(r, e, what, n, taken))
}

/// The socket of `sock_type` that restart bound to `name`, if any: an abstract name, or with
/// `key`, a path whose inode is where `key` says.
fn holder<'a>(
    r: &'a Restorer<'_, Obj>,
    sock_type: u32,
    name: unix::Name,
    key: Option<u64>,
) -> Option<&'a NewUnix> {
    let Some(Obj::UnixNames(names)) = r.own(NAMES) else {
        return None;
    };
    match key {
        None => names.names.get(&(sock_type, name)),
        Some(key) => {
            let bound = names.paths.get(&(sock_type, key));
            bound.filter(|b| b.name == name).map(|b| &b.sock)
        }
    }
}

/// Logs that restart could not `what` the name `n`: `e`, `EADDRINUSE` if it was `taken`.
fn name_failed(r: &Restorer<'_, Obj>, e: &Error, what: &str, n: &Named, taken: &str) {
    let (at, shown) = shown(&n.name);
    match e.to_errno() {
        e if e == -(bindings::EADDRINUSE as i32) => {
            log!(
                r.log,
                "unix socket: cannot {what} {at}{shown}: {taken} (EADDRINUSE)"
            )
        }
        e => log!(r.log, "unix socket: cannot {what} {at}{shown} ({e})"),
    }
}

/// Queues again the messages a socket's `UnixSock` record counts, `(msgs, bytes)`, on the
/// socket `to` of a pair of `sock_type`, as writes of `other`, its peer; with the files and
/// credentials they carry if they come `late`, after the last task, when every task is in
/// the `created` it gives.
fn fill(
    r: &mut Restorer<'_, Obj>,
    (msgs, bytes): (u32, u64),
    sock_type: u32,
    (other, to): (Option<&NewUnix>, &NewUnix),
    late: Option<&[ParkedTask]>,
) -> Result {
    let stream = sock_type == TYPES[0];
    let mut left = bytes;
    for _ in 0..msgs {
        let m = r.expect::<abi::UnixMsg>()?;
        if u64::from(m.len) > left || (stream && m.len == 0) {
            return Err(r.bad("unix socket message longer than its socket holds, or empty"));
        }
        if m.files > abi::UNIX_CARRIED_MAX || (m.files > 0 && late.is_none()) {
            return Err(r.bad("unix socket message carrying more files than one may"));
        }
        let cred = match late {
            Some(created) => sent_as(r, created)?,
            None => None,
        };
        left -= u64::from(m.len);
        let len = m.len as usize;
        let mut files = KVVec::new();
        for _ in 0..m.files {
            let c = r.expect::<abi::UnixCarried>()?;
            let file = match r.lookup(c.file)? {
                Obj::File(f) => f.file.clone(),
                _ => return Err(r.bad("unix socket message carrying an object that is no file")),
            };
            files.push(file, GFP_KERNEL_ACCOUNT)?;
        }
        // Whole, as the buffer it was: a stream's cut no finer than a write cuts it.
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL_ACCOUNT)?;
        r.data(
            &mut buf,
            "unix socket message data longer or shorter than it",
        )?;
        send(r, (other, to), &buf, &files, cred)?;
        crate::resched();
    }
    if left != 0 {
        return Err(r.bad("unix socket messages shorter than its socket holds"));
    }
    Ok(())
}

/// The credentials of the `UnixCreds` record that follows a `UnixMsg`, if one does, whose
/// sender is a task of `created`.
fn sent_as<'a>(r: &mut Restorer<'_, Obj>, created: &'a [ParkedTask]) -> Result<Option<SendAs<'a>>> {
    let rec = r.next()?;
    if rec.ty != abi::RecordType::UnixCreds.id() {
        r.unread(rec);
        return Ok(None);
    }
    let c = r.decode::<abi::UnixCreds>(rec)?;
    let sender = match r.lookup(c.sender)? {
        Obj::Task(i) if c._pad0 == 0 => created.get(*i),
        _ => None,
    };
    let Some(sender) = sender else {
        return Err(
            r.bad("unix socket message whose credentials name an object that is not a task")
        );
    };
    Ok(Some(SendAs {
        sender: &sender.task,
        uid: c.uid,
        gid: c.gid,
    }))
}

/// Queues `bytes` on `to` as one write of `from`, its peer, that carries `files` and `cred`;
/// `EPERM` if the caller's limits leave no room for it, or it could not send `cred`.
fn send(
    r: &Restorer<'_, Obj>,
    (from, to): (Option<&NewUnix>, &NewUnix),
    bytes: &[u8],
    files: &[FileRef],
    cred: Option<SendAs<'_>>,
) -> Result {
    let from = from.ok_or_else(|| r.bad("unix socket with messages and no peer"))?;
    let ids = cred.as_ref().map(|c| (c.uid, c.gid));
    match unix::fill(from, to, bytes, files.iter().map(FileRef::file), cred) {
        Err(e) if e == EAGAIN => Err(no_room(r)),
        Err(e) if e == EPERM && ids.is_some() => {
            let (uid, gid) = ids.unwrap_or_default();
            log!(
                r.log,
                "unix socket: a message carries credentials (SCM_CREDENTIALS, uid {uid}, gid {gid}) that neither the caller nor their sender could pass, or a security module refused its send (EPERM)"
            );
            Err(e)
        }
        Err(e) => {
            log!(
                r.log,
                "unix socket: cannot queue its messages again ({})",
                e.to_errno()
            );
            Err(e)
        }
        Ok(()) => Ok(()),
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
    let end = |file| End {
        file,
        saved: None,
        later: None,
        early: false,
        named: false,
        listen: None,
        connect_to: None,
        closed_name: None,
        listener: None,
        waiting: false,
        waiting_here: KVVec::new(),
    };
    r.define(
        p.objref,
        Obj::Unix(KBox::new(
            UnixPair {
                sock_type: p.sock_type,
                peer: p.peer,
                ends: [end(Some(a)), end(b)],
            },
            GFP_KERNEL_ACCOUNT,
        )?),
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
    /// The messages and bytes its `UnixSock` record counts, until those messages, which come
    /// after the last task, are queued.
    later: Option<(u32, u64)>,
    /// Whether it was set up as saved before it was bound to its name, with no peer.
    early: bool,
    /// Whether it has the name of a listener that accepted it.
    named: bool,
    /// The name of the socket it is connected to, which restart bound, once every socket is
    /// (boxed: few sockets have one), and for a path the key of where its inode is.
    connect_to: Option<KBox<(unix::Name, Option<u64>)>>,
    /// The name its closed peer had, which restart gives it once it is closed again (boxed:
    /// few sockets have one).
    closed_name: Option<KBox<unix::Name>>,
    /// The backlog it listens with once its maker has its credentials.
    listen: Option<u32>,
    /// The name of the listener bound to a path that accepted it, and the key of where its
    /// inode is: restart gives it that name once every socket is bound (boxed: few sockets
    /// have one).
    listener: Option<KBox<(unix::Name, u64)>>,
    /// Whether it is a connection a listener holds, not accepted yet, which no fd has.
    waiting: bool,
    /// For a listener, the objref and end of each connection it holds, not accepted yet, in
    /// the order `accept()` takes them: queued on it once it listens.
    waiting_here: KVVec<(u32, u32)>,
}

/// Gives each unix socket restored its shutdown state, error, `SO_PASSCRED` and peer
/// credentials, once every socket is filled and every task of `created` has its
/// credentials, and queues the connections of each listener, not accepted yet, once it
/// listens; `EINVAL` for a pair with a socket no file opened.
pub(crate) fn finish(r: &mut Restorer<'_, Obj>, created: &[ParkedTask]) -> Result {
    let (mut listeners, mut waiting) = (KVVec::new(), KVVec::new());
    set_up(r, created, &mut listeners, &mut waiting)?;
    for l in listeners.iter() {
        let mut socks = KVVec::with_capacity(l.waiting.len(), GFP_KERNEL_ACCOUNT)?;
        for &(pair, end) in waiting.get(l.waiting.clone()).unwrap_or(&[]) {
            let Obj::Unix(p) = r.lookup_mut(pair)? else {
                return Err(EINVAL);
            };
            let end = p.ends.get_mut(end as usize).filter(|e| e.waiting);
            let Some(sock) = end.and_then(|e| e.file.take()) else {
                return Err(r.bad("unix connection waiting on two listeners, or closed"));
            };
            socks.push(sock, GFP_KERNEL_ACCOUNT)?;
        }
        let maker = &created.get(l.maker).ok_or(EINVAL)?.task;
        let backlog = l.backlog;
        // A connecting socket copies the credentials: they come as it starts to listen.
        l.sock.listen(backlog, maker, socks).inspect_err(|e| {
            log!(
                r.log,
                "unix socket: cannot make it listen again with backlog {backlog}, holding its connections ({}{})",
                e.to_errno(),
                if *e == EPERM {
                    ": above net.core.somaxconn, or refused"
                } else {
                    ""
                }
            )
        })?;
        crate::resched();
    }
    Ok(())
}

/// A listener restart made, to make listen once every socket is set up ([`finish`]).
struct Listen {
    sock: NewUnix,
    backlog: u32,
    /// The index of the process that made it listen among the created tasks.
    maker: usize,
    /// Where the objrefs and ends of the connections it holds, not accepted yet, are among
    /// those `set_up` leaves.
    waiting: core::ops::Range<usize>,
}

/// What [`finish`] does but make listeners listen, which it leaves in `listeners`, with the
/// connections they hold, not accepted yet, in `waiting`: each its pair's objref and end.
fn set_up(
    r: &Restorer<'_, Obj>,
    created: &[ParkedTask],
    listeners: &mut KVVec<Listen>,
    waiting: &mut KVVec<(u32, u32)>,
) -> Result {
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
            if end.later.is_some() {
                return Err(r.bad("unix socket whose messages that carry files never came"));
            }
            if let Some(at) = &end.listener {
                name_as_accepted_path(r, file, pair.sock_type, at)?;
            }
            if let Some(to) = &end.connect_to {
                connect(r, file, **to)?;
            }
            if !end.early {
                unix::finish(file, &state)
                    .map_err(|_| r.bad("unix socket in a state no socket has"))?;
            }
            if creator == 0 {
                continue;
            }
            let maker = match r.lookup(creator)? {
                Obj::Task(i) => created.get(*i).filter(|c| c.is_leader()).map(|c| (*i, c)),
                _ => None,
            };
            let Some((maker, made)) = maker else {
                return Err(r.bad("unix socket made by an object that is not a process"));
            };
            let Some(backlog) = end.listen else {
                file.set_peercred(&made.task)?;
                continue;
            };
            let from = waiting.len();
            for &w in end.waiting_here.iter() {
                waiting.push(w, GFP_KERNEL_ACCOUNT)?;
            }
            let l = Listen {
                sock: file.clone(),
                backlog,
                maker,
                waiting: from..waiting.len(),
            };
            listeners.push(l, GFP_KERNEL_ACCOUNT)?;
        }
        crate::resched();
    }
    Ok(())
}
