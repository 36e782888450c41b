// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets (`AF_UNIX`): what checkpoint reads of one and the messages it holds,
//! without taking them; a socket pair as restart makes, fills and sets it up again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use crate::alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec};
use crate::error::to_result;
use crate::fs::{file::File, path::OwnedPath};
use crate::task::Task;
use crate::{bindings, prelude::*, types::ARef};
use core::ptr::NonNull;

/// What a socket is set up with, as checkpoint reads it and restart sets it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnixState {
    /// `RCV_SHUTDOWN` (1) and `SEND_SHUTDOWN` (2).
    pub shutdown: u32,
    /// Its pending error: 0 or `ECONNRESET`.
    pub err: i32,
    /// `SO_SNDBUF`.
    pub sndbuf: i32,
    /// `SO_RCVBUF`.
    pub rcvbuf: i32,
    /// Whether the user set `sndbuf`, which restart sets only then.
    pub sndbuf_set: bool,
    /// Whether the user set `rcvbuf`, likewise.
    pub rcvbuf_set: bool,
    /// `SO_RCVTIMEO` in microseconds, `u64::MAX` for none.
    pub rcvtimeo: u64,
    /// `SO_SNDTIMEO` likewise.
    pub sndtimeo: u64,
    /// `SO_RCVLOWAT`.
    pub rcvlowat: i32,
    /// `SO_PEEK_OFF`, negative for none.
    pub peek_off: i32,
    /// Its owner, in the caller's user namespace.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// `SO_PASSCRED`.
    pub passcred: bool,
    /// `SO_PASSPIDFD`.
    pub passpidfd: bool,
    /// Whether it is a datagram socket connected to none that another connected to, which
    /// stays established.
    pub established: bool,
}

const SNDBUF_LOCK: u32 = bindings::SOCK_SNDBUF_LOCK;
const RCVBUF_LOCK: u32 = bindings::SOCK_RCVBUF_LOCK;

impl UnixState {
    fn to_raw(self) -> bindings::checkpoint_unix {
        let mut userlocks = 0;
        if self.sndbuf_set {
            userlocks |= SNDBUF_LOCK;
        }
        if self.rcvbuf_set {
            userlocks |= RCVBUF_LOCK;
        }
        bindings::checkpoint_unix {
            shutdown: self.shutdown,
            err: self.err,
            sndbuf: self.sndbuf,
            rcvbuf: self.rcvbuf,
            userlocks,
            rcvtimeo: self.rcvtimeo,
            sndtimeo: self.sndtimeo,
            rcvlowat: self.rcvlowat,
            peek_off: self.peek_off,
            uid: self.uid,
            gid: self.gid,
            passcred: self.passcred,
            passpidfd: self.passpidfd,
            established: self.established,
            ..Default::default()
        }
    }
}

/// What a unix socket is besides the bytes it holds.
#[derive(Clone, Copy, Debug)]
pub struct UnixInfo {
    /// The socket's address: it names the socket while its file is held.
    pub id: usize,
    /// Its peer's, 0 if it has none.
    pub peer: usize,
    /// Whether its peer was closed.
    pub peer_dead: bool,
    /// Whether `SO_PEERCRED` names a process: the maker of its pair.
    pub peercred: bool,
    /// The main thread of the process that `SO_PEERCRED` names, 0 if none is alive: only
    /// compared.
    pub creator: usize,
    /// Whether `creator`'s credentials are still those `SO_PEERCRED` and `SO_PEERGROUPS`
    /// report.
    pub creator_cred: bool,
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub sock_type: u32,
    /// What of it checkpoint cannot save: an option, an address, a message with credentials.
    pub refused: Option<&'static CStr>,
    /// The messages its receive queue holds.
    pub msgs: u32,
    /// Their bytes in all.
    pub bytes: u64,
    /// At least the files they carry (`SCM_RIGHTS`): a few paths free files without
    /// counting them out.
    pub files: u32,
    /// Those that carry their sender's credentials (`SCM_CREDENTIALS`).
    pub creds: u32,
    /// Its abstract name: empty if none, or a path.
    pub name: Name,
    /// Whether `bind()` gave it `name`: an accepted socket has its listener's.
    pub bound: bool,
    /// Its peer's abstract name (`getpeername()`), which a closed peer keeps: empty if
    /// none, or a path.
    pub peer_name: Name,
    /// Whether it listens.
    pub listening: bool,
    /// Its `listen()` backlog.
    pub backlog: u32,
    /// Whether its peer is a listener's socket not accepted yet, which no file holds.
    pub peer_embryo: bool,
    /// With `peer_embryo`, the listener whose queue holds its peer: only compared.
    pub peer_listener: usize,
    /// For a connection a listener has not accepted, which of the listener's it is, from 0
    /// in the order `accept()` takes them: read through the listener's file.
    pub waiting: Option<u32>,
    /// Whether its peer is the other socket of its pair: connected to it, or closed, with
    /// peer credentials if it has them.
    pub paired: bool,
    /// Its state and options.
    pub state: UnixState,
}

impl UnixInfo {
    /// The unix socket of `file`; `EINVAL` if it is not one.
    pub fn of(file: &File) -> Result<UnixInfo> {
        let mut u = bindings::checkpoint_unix::default();
        // SAFETY: the file is valid; the callee fills `u` before it returns 0.
        to_result(unsafe { bindings::checkpoint_unix(file.as_ptr(), &mut u) })?;
        Ok(Self::from_raw(&u, None))
    }

    /// The socket of the `i`-th connection (from 0, in the order `accept()` takes them) that
    /// the listener of `file` holds, not accepted yet, as `accept()` would give it (its
    /// options are the listener's then), owned as the listener is; `EINVAL` if `file` is not
    /// a unix socket, `ENOENT` if it does not listen or holds fewer connections.
    pub fn waiting(file: &File, i: u32) -> Result<UnixInfo> {
        let mut u = bindings::checkpoint_unix::default();
        // SAFETY: the file is valid; the callee fills `u` before it returns 0.
        to_result(unsafe { bindings::checkpoint_unix_waiting(file.as_ptr(), i, &mut u) })?;
        Ok(Self::from_raw(&u, Some(i)))
    }

    fn from_raw(u: &bindings::checkpoint_unix, waiting: Option<u32>) -> UnixInfo {
        let refused = NonNull::new(u.refused.cast_mut()).map(|p| {
            // SAFETY: the callee returns a static, NUL-terminated string or NULL.
            unsafe { CStr::from_char_ptr(p.as_ptr()) }
        });
        UnixInfo {
            id: u.sock as usize,
            peer: u.peer as usize,
            peer_dead: u.peer_dead,
            peercred: u.peercred,
            creator: u.creator as usize,
            creator_cred: u.creator_cred,
            sock_type: u.type_,
            refused,
            msgs: u.qlen,
            bytes: u.bytes,
            files: u.files,
            creds: u.creds,
            // The kernel's `char` is unsigned.
            name: Name {
                len: u.namelen,
                bytes: u.name,
            },
            bound: u.bound,
            peer_name: Name {
                len: u.peer_namelen,
                bytes: u.peer_name,
            },
            listening: u.listening,
            backlog: u.backlog,
            peer_embryo: u.peer_embryo,
            peer_listener: u.peer_listener as usize,
            waiting,
            paired: u.paired,
            state: UnixState {
                shutdown: u.shutdown,
                err: u.err,
                sndbuf: u.sndbuf,
                rcvbuf: u.rcvbuf,
                sndbuf_set: u.userlocks & SNDBUF_LOCK != 0,
                rcvbuf_set: u.userlocks & RCVBUF_LOCK != 0,
                rcvtimeo: u.rcvtimeo,
                sndtimeo: u.sndtimeo,
                rcvlowat: u.rcvlowat,
                peek_off: u.peek_off,
                uid: u.uid,
                gid: u.gid,
                passcred: u.passcred,
                passpidfd: u.passpidfd,
                established: u.established,
            },
        }
    }

    /// Copies the messages that the socket of `file` (or its connection, if `self` is one it
    /// holds), which `self` describes, holds, leaving them there: with their bytes if `bytes`.
    /// `EAGAIN` if it holds other messages or bytes than `self` counted, or more files;
    /// `EINTR` if a fatal signal came while it waited for the socket's readers.
    pub fn messages(&self, file: &File, bytes: bool) -> Result<Messages> {
        let msgs = self.msgs as usize;
        let len = if bytes { self.bytes as usize } else { 0 };
        let mut lens = KVVec::from_elem(0u32, msgs, GFP_KERNEL_ACCOUNT)?;
        let mut carried = KVVec::from_elem(0u32, msgs, GFP_KERNEL_ACCOUNT)?;
        let no_cred = bindings::checkpoint_unix_cred {
            sender: core::ptr::null_mut(),
            uid: 0,
            gid: 0,
        };
        let mut creds = KVVec::from_elem(no_cred, msgs, GFP_KERNEL_ACCOUNT)?;
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL_ACCOUNT)?;
        let nfiles = self.files as usize;
        let mut raw = KVVec::from_elem(core::ptr::null_mut(), nfiles, GFP_KERNEL_ACCOUNT)?;
        // Reserved before the copy, so that every reference it takes finds a place.
        let mut files = KVVec::with_capacity(nfiles, GFP_KERNEL_ACCOUNT)?;
        let mut q = bindings::checkpoint_unix_msgs {
            lens: lens.as_mut_ptr(),
            carried: carried.as_mut_ptr(),
            creds: creds.as_mut_ptr(),
            buf: match bytes {
                true => buf.as_mut_ptr().cast(),
                false => core::ptr::null_mut(),
            },
            files: raw.as_mut_ptr(),
            bytes: self.bytes.try_into().map_err(|_| EINVAL)?,
            msgs: self.msgs,
            nfiles: self.files,
        };
        // SAFETY: the file is valid; each buffer is a kernel buffer with the room `q` says
        // (`buf` only when its bytes are asked for: `len` is then the room).
        to_result(unsafe {
            match self.waiting {
                Some(i) => bindings::checkpoint_unix_waiting_queue(file.as_ptr(), i, &mut q),
                None => bindings::checkpoint_unix_queue(file.as_ptr(), &mut q),
            }
        })?;
        for &f in raw.iter() {
            // SAFETY: the callee returned 0: `raw` holds counted files, ours.
            if let Some(f) = unsafe { own(f) } {
                // Cannot fail: there is room for every file.
                files.push(f, GFP_KERNEL_ACCOUNT)?;
            }
        }
        if files.len() != q.nfiles as usize {
            return Err(EINVAL);
        }
        let mut sent = KVVec::with_capacity(msgs, GFP_KERNEL_ACCOUNT)?;
        for c in creds.iter() {
            let c = (!c.sender.is_null()).then_some(Cred {
                sender: c.sender as usize,
                uid: c.uid,
                gid: c.gid,
            });
            sent.push(c, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Messages {
            lens,
            carried,
            creds: sent,
            bytes: buf,
            files,
        })
    }
}

/// The socket inode of a unix socket named by a path: the one `bind()` made for it, or its
/// listener's.
pub struct SockInode {
    /// Where it is.
    pub path: OwnedPath,
    /// The socket bound to it, 0 if none: only compared.
    pub bound_to: usize,
    /// What it is, and what restart makes it again with.
    pub attrs: SockInodeAttrs,
    /// Whether the caller's user namespace maps its owner and group.
    pub mapped: bool,
}

/// What the inode of a unix socket named by a path is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockInodeAttrs {
    /// Its inode number.
    pub ino: u64,
    /// Its filesystem's device (the kernel's `dev_t`).
    pub dev: u32,
    /// Its mode.
    pub mode: u32,
    /// Its owner, in the caller's user namespace.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
}

impl SockInode {
    /// The socket inode of the unix socket of `file`, or of its peer if `peer`, if a path
    /// names it; `EINVAL` if it is not a unix socket.
    pub fn of(file: &File, peer: bool) -> Result<Option<SockInode>> {
        let mut p = bindings::checkpoint_unix_path::default();
        // SAFETY: the file is valid; the callee fills `p`, with a counted path, when it
        // returns 0.
        let res = unsafe { bindings::checkpoint_unix_path(file.as_ptr(), peer, &mut p) };
        match to_result(res) {
            Err(e) if e == ENOENT => return Ok(None),
            res => res?,
        }
        Ok(Some(SockInode {
            // SAFETY: the callee counted the path for us.
            path: unsafe { OwnedPath::from_counted(p.path) },
            bound_to: p.bound_to as usize,
            attrs: SockInodeAttrs {
                ino: p.ino,
                dev: p.dev,
                mode: u32::from(p.mode),
                uid: p.uid,
                gid: p.gid,
            },
            mapped: p.mapped,
        }))
    }
}

/// The abstract name of a unix socket (`sun_path`): a NUL and its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    /// Its length, 0 for none.
    pub len: u32,
    /// Its bytes, `len` of them.
    pub bytes: [u8; 108],
}

impl Name {
    /// Its bytes; none if the socket has none.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len as usize).unwrap_or(&[])
    }
}

/// The messages a unix socket holds, as [`UnixInfo::messages`] copies them.
pub struct Messages {
    /// The length of each.
    pub lens: KVVec<u32>,
    /// How many of `files` each carries, in order (`SCM_RIGHTS`).
    pub carried: KVVec<u32>,
    /// The credentials each carries (`SCM_CREDENTIALS`), if any.
    pub creds: KVVec<Option<Cred>>,
    /// Their bytes, one after the other, if asked for.
    pub bytes: KVVec<u8>,
    /// The files they carry.
    pub files: KVVec<ARef<File>>,
}

/// The credentials a message carries (`SCM_CREDENTIALS`), as checkpoint reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cred {
    /// The address of the task whose pid they name, alive when the message was copied: only
    /// compared.
    pub sender: usize,
    /// The user id, in the caller's user namespace.
    pub uid: u32,
    /// The group id, likewise.
    pub gid: u32,
}

/// Credentials for a message that restart queues again: `uid` and `gid` in the caller's user
/// namespace, and the pid of `sender`.
pub struct SendAs<'a> {
    /// The task restart made for the message's sender.
    pub sender: &'a Task,
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

/// Takes the counted file a callee put in `f`.
///
/// # Safety
///
/// `f` must be null or a counted file that nothing else owns.
unsafe fn own(f: *mut bindings::file) -> Option<ARef<File>> {
    let f = NonNull::new(f)?;
    // SAFETY: a counted file, whose reference the `ARef` takes (the caller's guarantee).
    Some(unsafe { ARef::from_raw(f.cast::<File>()) })
}

/// A unix socket that restart made ([`NewUnix::make`]) and fills and sets up again: only such
/// a socket may be given a peer's credentials ([`NewUnix::set_peercred`]).
///
/// # Invariants
///
/// The file is a unix socket's, made by `restart_unix_pair()`.
#[derive(Clone)]
pub struct NewUnix(ARef<File>);

impl NewUnix {
    /// Makes a unix socket pair of `sock_type` (`SOCK_STREAM`, `SOCK_DGRAM`,
    /// `SOCK_SEQPACKET`) as `socketpair(2)` does, or with `pair` false one socket connected to
    /// none, as `socket(2)` does; their files are non-blocking. `EINVAL` for another type.
    pub fn make(sock_type: u32, pair: bool) -> Result<(NewUnix, Option<NewUnix>)> {
        let mut res = [core::ptr::null_mut(); 2];
        // SAFETY: `res` has room for the two files the callee makes.
        to_result(unsafe { bindings::restart_unix_pair(sock_type, pair, res.as_mut_ptr()) })?;
        // SAFETY: the callee returned 0: each is null or a counted file, ours.
        // INVARIANT: the files of the sockets `restart_unix_pair()` made.
        let [a, b] = res.map(|f| unsafe { own(f) }.map(NewUnix));
        match (a, b, pair) {
            (Some(a), b @ Some(_), true) => Ok((a, b)),
            (Some(a), None, false) => Ok((a, None)),
            _ => Err(EINVAL),
        }
    }

    /// The socket's file.
    pub fn file(&self) -> &ARef<File> {
        &self.0
    }
}

/// Queues `buf` as one message on `to`, from its peer `from`, as a write of it would, without
/// waiting, carrying `files` (`SCM_RIGHTS`, up to 253) and `cred` (`SCM_CREDENTIALS`): in one
/// buffer, a stream's in buffers no larger than a write makes. It takes room of `from`'s send
/// buffer, within the caller's limits; the files are in flight for the caller, within its
/// limit (`ETOOMANYREFS`); the credentials are ones it or the task they name could pass
/// (`EPERM`). `EPIPE` if `to` is not the peer of `from` any more; `EAGAIN` if the caller's
/// limits leave no room for it.
pub fn fill<'a>(
    from: &NewUnix,
    to: &NewUnix,
    buf: &[u8],
    files: impl Iterator<Item = &'a File>,
    cred: Option<SendAs<'_>>,
) -> Result {
    let mut raw = KVVec::new();
    for f in files {
        raw.push(f.as_ptr(), GFP_KERNEL_ACCOUNT)?;
    }
    let n = u32::try_from(raw.len()).map_err(|_| EINVAL)?;
    let cred = cred.map(|c| bindings::checkpoint_unix_cred {
        sender: c.sender.as_ptr(),
        uid: c.uid,
        gid: c.gid,
    });
    let cred_ptr = cred.as_ref().map_or(core::ptr::null(), |c| {
        c as *const bindings::checkpoint_unix_cred
    });
    // SAFETY: the files and the sender are valid while `files` and `cred` borrow them; `buf`
    // and `raw` are kernel buffers of their lengths; `cred_ptr` is null or points to `cred`;
    // the callee takes its own references.
    to_result(unsafe {
        bindings::restart_unix_fill(
            from.0.as_ptr(),
            to.0.as_ptr(),
            buf.as_ptr().cast(),
            buf.len(),
            raw.as_mut_ptr(),
            n,
            cred_ptr,
        )
    })
}

/// Sets up the socket `sock` with the owner, buffer sizes, timeouts, `SO_RCVLOWAT` and
/// `SO_PEEK_OFF` of `s`, and its file non-blocking if `nonblock`: what the caller could set
/// by hand (`EPERM` beyond), a socket could have (`EINVAL`).
pub fn set(sock: &NewUnix, s: &UnixState, nonblock: bool) -> Result {
    let file = &sock.0;
    let raw = s.to_raw();
    // SAFETY: the file is valid; the callee only reads `raw`.
    to_result(unsafe { bindings::restart_unix_set(file.as_ptr(), &raw, nonblock) })
}

/// Gives the socket `sock` the shutdown state, pending error, `SO_PASSCRED`/`SO_PASSPIDFD` and
/// established state of `s`, once the messages of both sockets of its pair are queued.
/// `EINVAL` for a state a socket cannot have.
pub fn finish(sock: &NewUnix, s: &UnixState) -> Result {
    let file = &sock.0;
    let raw = s.to_raw();
    // SAFETY: the file is valid; the callee only reads `raw`.
    to_result(unsafe { bindings::restart_unix_finish(file.as_ptr(), &raw) })
}

impl NewUnix {
    /// Binds the socket to the abstract `name` (a NUL, then its bytes), as `bind(2)` would,
    /// LSM included: `EADDRINUSE` if a socket has that name.
    pub fn bind(&self, name: &[u8]) -> Result {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid; `name` is a kernel buffer of `len` bytes, only read.
        to_result(unsafe {
            bindings::restart_unix_bind(self.0.as_ptr(), name.as_ptr().cast(), len)
        })
    }

    /// Gives the socket, connected to its pair's other, the abstract `name` (a NUL, then its
    /// bytes) of the listener that accepted it, without binding it: no other socket of its
    /// type may be bound to that name but `holder`, the one restart bound to it, if any
    /// (`EADDRINUSE`).
    pub fn name(&self, name: &[u8], holder: Option<&NewUnix>) -> Result {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        let holder = holder.map_or(core::ptr::null_mut(), |h| h.0.as_ptr());
        // SAFETY: the files are valid; `name` is a kernel buffer of `len` bytes, only read.
        to_result(unsafe {
            bindings::restart_unix_name(self.0.as_ptr(), name.as_ptr().cast(), len, holder)
        })
    }

    /// Binds the socket to the path `name` (`sun_path`, with no NUL), whose inode `saved`
    /// describes and lies at `place`, from the current task's root: to that inode if it is
    /// still there, else to one made as `bind(2)` makes it, with `saved`'s mode and owner.
    /// Whether it made the inode. `EADDRINUSE` if another file is there or another socket is
    /// bound to it, `EPERM` if the caller may not bind it there, as it was.
    pub fn bind_path(&self, name: &[u8], place: &CStr, saved: &SockInodeAttrs) -> Result<bool> {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        let raw = bindings::checkpoint_unix_path {
            ino: saved.ino,
            dev: saved.dev,
            mode: u16::try_from(saved.mode).map_err(|_| EINVAL)?,
            uid: saved.uid,
            gid: saved.gid,
            ..Default::default()
        };
        // SAFETY: the file is valid; `name` is a kernel buffer of `len` bytes, `place` a
        // NUL-terminated string, `raw` a valid record: all only read.
        let res = unsafe {
            bindings::restart_unix_bind_path(
                self.0.as_ptr(),
                name.as_ptr().cast(),
                len,
                place.as_char_ptr(),
                &raw,
            )
        };
        to_result(res).map(|()| res == 1)
    }

    /// Gives the socket's peer, which was closed, `name`: an abstract one (a NUL, then its
    /// bytes) or a path, which `getpeername()` and a reader of its messages report.
    pub fn name_closed_peer(&self, name: &[u8]) -> Result {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid; `name` is a kernel buffer of `len` bytes, only read.
        to_result(unsafe {
            bindings::restart_unix_name_closed_peer(self.0.as_ptr(), name.as_ptr().cast(), len)
        })
    }

    /// Unlinks the inode [`NewUnix::bind_path`] made for the socket, if it is still where it
    /// made it: for a restart that failed.
    pub fn unlink_path(&self) -> Result {
        // SAFETY: the file is valid.
        to_result(unsafe { bindings::restart_unix_unlink(self.0.as_ptr()) })
    }

    /// Gives the socket, connected to its pair's other, the name and path of `holder`, the
    /// listener of its type that accepted it, bound by [`NewUnix::bind_path`].
    pub fn name_path(&self, holder: &NewUnix) -> Result {
        // SAFETY: both files are valid; the callee takes its own references.
        to_result(unsafe { bindings::restart_unix_name_path(self.0.as_ptr(), holder.0.as_ptr()) })
    }

    /// Makes the socket, bound by [`NewUnix::bind`] or [`NewUnix::bind_path`], listen with
    /// `backlog`, as `listen(2)` would, with `SO_PEERCRED` naming the process of `creator` and
    /// its credentials, holding the connections `waiting`, not accepted yet, in the order
    /// `accept()` is to take them: each a socket of a stream or seqpacket pair whose other
    /// socket (the client) is alive or closed, queued as `connect(2)` would have queued it
    /// there, with this socket's name, before any `connect()` can. Their files are theirs no
    /// more, and nothing but `waiting` may hold them (`EBUSY`). `EPERM` for a backlog above
    /// `net.core.somaxconn`; `EINVAL` if a connection is not such a socket.
    pub fn listen(&self, backlog: u32, creator: &Task, waiting: KVVec<NewUnix>) -> Result {
        let mut raw = KVVec::with_capacity(waiting.len(), GFP_KERNEL_ACCOUNT)?;
        for w in waiting.iter() {
            raw.push(w.0.as_ptr(), GFP_KERNEL_ACCOUNT)?;
        }
        let n = u32::try_from(raw.len()).map_err(|_| EINVAL)?;
        // SAFETY: the files and the task are valid, `raw` a kernel buffer of `n` of them; the
        // callee takes its own references, and a socket leaves its file only if nothing but
        // `waiting` holds it, which is dropped after.
        let res = to_result(unsafe {
            bindings::restart_unix_listen(
                self.0.as_ptr(),
                backlog,
                creator.as_ptr(),
                raw.as_mut_ptr(),
                n,
            )
        });
        drop(waiting);
        res
    }

    /// Connects the socket, a datagram socket made without a pair, to `to`, a datagram socket
    /// restart bound to a name, as `connect(2)` to that name would, hooks included.
    pub fn connect(&self, to: &NewUnix) -> Result {
        // SAFETY: both files are valid; the callee takes its own references.
        to_result(unsafe { bindings::restart_unix_connect(self.0.as_ptr(), to.0.as_ptr()) })
    }

    /// Makes `SO_PEERCRED` on the socket report the process of `creator` and its credentials:
    /// those of the restored process that made its pair.
    pub fn set_peercred(&self, creator: &Task) -> Result {
        // SAFETY: both are valid; the callee takes its own references.
        to_result(unsafe { bindings::restart_unix_peercred(self.0.as_ptr(), creator.as_ptr()) })
    }
}
