// SPDX-License-Identifier: GPL-2.0

//! Unix98 pseudo-terminals (`/dev/ptmx` and `/dev/pts/N`): a pair as checkpoint reads it
//! through a file of either side, and a new pair as restart makes it at the index the old
//! one had.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use crate::alloc::{flags, KVBox};
use crate::error::to_result;
use crate::fs::file::File;
use crate::pid::PidNamespace;
use crate::task::Task;
use crate::{bindings, prelude::*, str::CStr, types::ARef};
use core::ptr::NonNull;

/// The termios of a pty's slave, which the master's termios ioctls reach too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Termios {
    /// Input modes (`c_iflag`).
    pub iflag: u32,
    /// Output modes (`c_oflag`).
    pub oflag: u32,
    /// Control modes (`c_cflag`).
    pub cflag: u32,
    /// Local modes (`c_lflag`).
    pub lflag: u32,
    /// The line discipline it names (`c_line`).
    pub line: u8,
    /// Control characters (`c_cc`).
    pub cc: [u8; bindings::NCCS as usize],
    /// Input speed.
    pub ispeed: u32,
    /// Output speed.
    pub ospeed: u32,
}

/// A pty's window size (`TIOCGWINSZ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Winsize {
    /// Rows.
    pub row: u16,
    /// Columns.
    pub col: u16,
    /// Width in pixels.
    pub xpixel: u16,
    /// Height in pixels.
    pub ypixel: u16,
}

/// What checkpoint reads of a unix98 pty, through a file of either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PtyInfo {
    /// The pair's address: it names the pair while a file of it is held.
    pub key: usize,
    /// Its index, the N of `/dev/pts/N`.
    pub index: u32,
    /// `PtyInfo::MASTER` and the other flags below.
    pub flags: u32,
    /// The open files of both sides.
    pub files: u32,
    /// The output column of the slave's line discipline (for tab expansion).
    pub column: u32,
    /// The column the slave's line being edited starts at (for erasing a tab).
    pub canon_column: u32,
    /// The slave's termios.
    pub termios: Termios,
    /// The window size.
    pub winsize: Winsize,
    /// The packet-mode events (`TIOCPKT_*`) the master has not read yet.
    pub pktstatus: u8,
    /// The owner of the slave's node in devpts, in the caller's user namespace.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Its permission bits.
    pub mode: u16,
}

impl PtyInfo {
    /// The file is the master's.
    pub const MASTER: u32 = bindings::CKPT_PTY_MASTER;
    /// The slave may not be opened (`TIOCSPTLCK`).
    pub const LOCKED: u32 = bindings::CKPT_PTY_LOCKED;
    /// The master is in packet mode (`TIOCPKT`).
    pub const PACKET: u32 = bindings::CKPT_PTY_PACKET;
    /// The slave's last file was closed: reads of the master give `EIO` until a new open.
    pub const SLAVE_CLOSED: u32 = bindings::CKPT_PTY_SLAVE_CLOSED;
    /// Echoes not written yet, on either side, in a state checkpoint cannot save: not all
    /// committed and marked, which N_TTY does not leave.
    pub const UNREAD: u32 = bindings::CKPT_PTY_UNREAD;
    /// A line discipline other than `N_TTY` on either side.
    pub const LDISC: u32 = bindings::CKPT_PTY_LDISC;
    /// Exclusive mode (`TIOCEXCL`) on either side.
    pub const EXCLUSIVE: u32 = bindings::CKPT_PTY_EXCLUSIVE;
    /// Locked termios (`TIOCSLCKTRMIOS`).
    pub const LOCKED_TERMIOS: u32 = bindings::CKPT_PTY_LOCKED_TERMIOS;
    /// The controlling tty of a session.
    pub const CTTY: u32 = bindings::CKPT_PTY_CTTY;
    /// Output stopped by flow control (`^S`, `TCOOFF`).
    pub const STOPPED: u32 = bindings::CKPT_PTY_STOPPED;
    /// Either side hung up.
    pub const HUNG_UP: u32 = bindings::CKPT_PTY_HUNG_UP;
    /// The master's file was closed.
    pub const MASTER_CLOSED: u32 = bindings::CKPT_PTY_MASTER_CLOSED;
    /// A line discipline being changed, or gone with a hangup: try again.
    pub const BUSY: u32 = bindings::CKPT_PTY_BUSY;
    /// More unread bytes on either side than [`PtyQueues`] holds.
    pub const OVERRUN: u32 = bindings::CKPT_PTY_OVERRUN;

    /// The pty `file` is open on, with only its key, index, files and side (cheap: takes
    /// only a spinlock); `None` if `file` is not a unix98 pty's.
    pub fn side(file: &File) -> Option<PtyInfo> {
        PtyInfo::read(file, false, None).ok()
    }

    /// All checkpoint reads of the pty `file` is open on, with the locks its users take;
    /// `ENOTTY` if `file` is not a unix98 pty's, `EINTR` if a fatal signal came while it
    /// waited for one. Consistent only while the files of the pty are held by frozen tasks.
    pub fn of(file: &File) -> Result<PtyInfo> {
        PtyInfo::read(file, true, None)
    }

    /// As [`PtyInfo::of`], with what the readers of either side have not read, unless
    /// `UNREAD` or `OVERRUN` says that it cannot be saved. Both first let the slave's flush
    /// worker finish what it was about to do, which may signal its foreground group.
    pub fn with_queues(file: &File) -> Result<(PtyInfo, PtyQueues)> {
        let mut q = PtyQueues::new()?;
        let p = PtyInfo::read(file, true, Some(&mut q))?;
        Ok((p, q))
    }

    fn read(file: &File, all: bool, q: Option<&mut PtyQueues>) -> Result<PtyInfo> {
        let mut p = bindings::checkpoint_pty::default();
        let q = q.map_or(core::ptr::null_mut(), |q| &mut *q.0 as *mut _);
        // SAFETY: the file is valid, `q` is NULL or valid; the callee fills `p` (and `q`)
        // before it returns 0 and keeps no pointer to them.
        to_result(unsafe { bindings::checkpoint_pty(file.as_ptr(), &mut p, all, q) })?;
        let (t, w) = (&p.termios, &p.winsize);
        Ok(PtyInfo {
            key: p.key,
            index: p.index,
            flags: p.flags,
            files: p.files,
            column: p.column,
            canon_column: p.canon_column,
            termios: Termios {
                iflag: t.c_iflag,
                oflag: t.c_oflag,
                cflag: t.c_cflag,
                lflag: t.c_lflag,
                line: t.c_line,
                cc: t.c_cc,
                ispeed: t.c_ispeed,
                ospeed: t.c_ospeed,
            },
            winsize: Winsize {
                row: w.ws_row,
                col: w.ws_col,
                xpixel: w.ws_xpixel,
                ypixel: w.ws_ypixel,
            },
            pktstatus: p.pktstatus,
            uid: p.uid,
            gid: p.gid,
            mode: p.mode,
        })
    }

    /// The master's file of the pty `file` is open on; `None` if it was closed or `file` is
    /// not a unix98 pty's.
    pub fn master(file: &File) -> Option<ARef<File>> {
        // SAFETY: the file is valid; the callee returns a counted file or NULL.
        let master = NonNull::new(unsafe { bindings::checkpoint_pty_master(file.as_ptr()) })?;
        // SAFETY: a counted file, which the `ARef` owns from here; `File` is transparent
        // over `struct file`.
        Some(unsafe { ARef::from_raw(master.cast()) })
    }

    /// Opens the ptmx node at `path` with `flags` (as `open()` would, with the caller's
    /// credentials, from its root and cwd) for a new pty at this index, and gives it this
    /// termios (its speeds from its flags, as `TCSETS` does), window size, columns, packet
    /// mode, pending packet events, what its readers had not read (`q`) and `SLAVE_CLOSED`;
    /// returns the master's file, its pty still locked, whose slave's node
    /// [`PtyInfo::set_node`] then gives its owner and mode before it unlocks it. `EBUSY` if
    /// another pty of that devpts instance has the index, `ENOSPC` if it has no room for it,
    /// `ESTALE` if `path` is not a ptmx node, `EINVAL` if a line discipline could not hold
    /// `q` in the termios' mode, or `q` has echoes N_TTY would not have left.
    pub fn make(&self, path: &CStr, flags: u32, q: &PtyQueues) -> Result<ARef<File>> {
        let index = i32::try_from(self.index).map_err(|_| ENOSPC)?;
        // SAFETY: `path` is NUL-terminated; the callee keeps no pointer to it and returns a
        // counted file or an ERR_PTR.
        let master = unsafe {
            File::from_new(bindings::restart_ptmx_open(
                path.as_char_ptr(),
                flags as i32,
                index,
            ))
        }?;
        let (t, w) = (&self.termios, &self.winsize);
        let p = bindings::checkpoint_pty {
            index: self.index,
            flags: self.flags,
            column: self.column,
            canon_column: self.canon_column,
            termios: bindings::ktermios {
                c_iflag: t.iflag,
                c_oflag: t.oflag,
                c_cflag: t.cflag,
                c_lflag: t.lflag,
                c_line: t.line,
                c_cc: t.cc,
                c_ispeed: t.ispeed,
                c_ospeed: t.ospeed,
            },
            winsize: bindings::winsize {
                ws_row: w.row,
                ws_col: w.col,
                ws_xpixel: w.xpixel,
                ws_ypixel: w.ypixel,
            },
            pktstatus: self.pktstatus,
            uid: self.uid,
            gid: self.gid,
            mode: self.mode,
            ..Default::default()
        };
        // SAFETY: the file is valid (`ARef` invariant) and no slave is open yet; `p` and `q`
        // are valid, and the callee keeps no pointer to them.
        to_result(unsafe { bindings::restart_pty_set(master.as_ptr(), &p, &*q.0) })?;
        Ok(master)
    }

    /// Gives the slave's node of the pty whose master's file is `master` (made by
    /// [`PtyInfo::make`]) this owner and mode, as `fchown()` and `fchmod()` by the caller
    /// would, then unlocks the pty unless [`PtyInfo::LOCKED`]: `EPERM` if the caller may not,
    /// `EINVAL` for an owner it does not map or a mode with more than permission bits.
    pub fn set_node(&self, master: &File) -> Result {
        let p = bindings::checkpoint_pty {
            flags: self.flags,
            uid: self.uid,
            gid: self.gid,
            mode: self.mode,
            ..Default::default()
        };
        // SAFETY: the file and `p` are valid; the callee keeps no pointer to them.
        to_result(unsafe { bindings::restart_pty_node(master.as_ptr(), &p) })
    }

    /// The master's file of the pty whose slave is the controlling terminal of `task`, a live
    /// process of a frozen tree, with the terminal's foreground process group numbered in
    /// `ns` (0 if it has none or one `ns` does not see); `None` if `task` has no controlling
    /// terminal, `ENOTTY` if it is another tty, a pty whose master was closed or one that is
    /// not its session's terminal, `EINTR` if a fatal signal came while it waited for the
    /// pty's lock.
    pub fn controlling(task: &Task, ns: &PidNamespace) -> Result<Option<(ARef<File>, i32)>> {
        let mut pgrp = 0;
        // SAFETY: the task and namespace are valid; the callee returns a counted file, NULL
        // or an ERR_PTR, and writes `pgrp` before it returns.
        let master =
            unsafe { bindings::checkpoint_task_ctty(task.as_ptr(), ns.as_ptr(), &mut pgrp) };
        if master.is_null() {
            return Ok(None);
        }
        // SAFETY: a counted file or an ERR_PTR (not NULL: checked above).
        let master = unsafe { File::from_new(master) }?;
        Ok(Some((master, pgrp)))
    }

    /// Makes the pty whose master's file is `master` (made by [`PtyInfo::make`]) the
    /// controlling terminal of `task`, a process restart made, linked into its session and
    /// group and not running yet, as `TIOCSCTTY` by its session leader would, with the
    /// process group of `fg` in the foreground (`TIOCSPGRP`); `EINVAL` if `fg` is of another
    /// session or `task` of the caller's, `EBUSY` if the pty was hung up, or another session
    /// (one that opened it meanwhile) or foreground group has it.
    pub fn set_controlling(task: &Task, master: &File, fg: &Task) -> Result {
        // SAFETY: the tasks and the file are valid; the callee keeps what it references.
        to_result(unsafe {
            bindings::restart_set_ctty(task.as_ptr(), master.as_ptr(), fg.as_ptr())
        })
    }

    /// Lets the slave of the pty whose master's file is `master` (made by [`PtyInfo::make`])
    /// receive the input its flip buffers held, once its session has it as its terminal.
    pub fn start(master: &File) {
        // SAFETY: the file is valid; the callee keeps no pointer to it.
        unsafe { bindings::restart_pty_start(master.as_ptr()) }
    }

    /// Whether `file` is open on the slave of the pty whose master's file is `master`.
    pub fn is_slave(master: &File, file: &File) -> bool {
        // SAFETY: both files are valid; the callee keeps no pointer to them.
        unsafe { bindings::restart_pty_is_slave(master.as_ptr(), file.as_ptr()) }
    }
}

/// What the readers of both sides of a pty have not read yet: the slave's input, written by
/// the master, and the master's output, written by the slave or echoed.
pub struct PtyQueues(KVBox<bindings::checkpoint_pty_queues>);

impl PtyQueues {
    /// The last complete line ends without its delimiter (canonical mode turned on with bytes
    /// unread).
    pub const PUSH: u32 = bindings::CKPT_TTY_Q_PUSH;
    /// The next byte is taken literally (`VLNEXT`).
    pub const LNEXT: u32 = bindings::CKPT_TTY_Q_LNEXT;
    /// An erase is being echoed (`ECHOPRT`).
    pub const ERASING: u32 = bindings::CKPT_TTY_Q_ERASING;
    /// Most bytes a side's line discipline holds.
    pub const READ_MAX: u32 = bindings::CKPT_TTY_READ_MAX;
    /// Most bytes of a side's flip buffers saved.
    pub const FLIP_MAX: u32 = bindings::CKPT_TTY_FLIP_MAX;
    /// Most memory they may use.
    pub const USED_MAX: u32 = bindings::CKPT_TTY_USED_MAX;

    /// Two empty queues.
    pub fn new() -> Result<PtyQueues> {
        let q = KVBox::<bindings::checkpoint_pty_queues>::new_uninit(
            flags::GFP_KERNEL | flags::__GFP_ZERO,
        )?;
        // SAFETY: zeroed by `__GFP_ZERO`: integers and byte arrays, for which zero is valid.
        Ok(PtyQueues(unsafe { q.assume_init() }))
    }

    /// The slave's: its input, and its echoes not written to the master yet.
    pub fn input(&self) -> Queue<'_> {
        Queue(&self.0.in_)
    }

    /// The master's: its output, and the slave's echoes written so far.
    pub fn output(&self) -> Queue<'_> {
        Queue(&self.0.out)
    }

    /// The slave's, to fill.
    pub fn input_mut(&mut self) -> QueueMut<'_> {
        QueueMut(&mut self.0.in_)
    }

    /// The master's, to fill.
    pub fn output_mut(&mut self) -> QueueMut<'_> {
        QueueMut(&mut self.0.out)
    }
}

/// One side's part of [`PtyQueues`].
pub struct Queue<'a>(&'a bindings::checkpoint_tty_queue);

impl Queue<'_> {
    /// The bytes its line discipline holds, from the oldest; `EINVAL` if it says it holds
    /// more than a queue does.
    pub fn read(&self) -> Result<&[u8]> {
        self.0.buf.get(..self.0.len as usize).ok_or(EINVAL)
    }

    /// How many of them are of complete lines (canonical mode).
    pub fn canon(&self) -> u32 {
        self.0.canon
    }

    /// Which of those end a line: bit `i % 8` of byte `i / 8` for byte `i`; `EINVAL` if
    /// it says more are in lines than it holds.
    pub fn marks(&self) -> Result<&[u8]> {
        if self.0.canon > self.0.len {
            return Err(EINVAL);
        }
        let n = self.0.canon.div_ceil(8) as usize;
        self.0.marks.get(..n).ok_or(EINVAL)
    }

    /// The bytes its flip buffers hold, not taken by the line discipline yet; `EINVAL` if
    /// it says it holds more than a queue does.
    pub fn flip(&self) -> Result<&[u8]> {
        let (len, flip) = (self.0.len as usize, self.0.flip as usize);
        if flip > PtyQueues::FLIP_MAX as usize {
            return Err(EINVAL);
        }
        self.0.buf.get(len..len + flip).ok_or(EINVAL)
    }

    /// How many of those flow control looked at already.
    pub fn lookahead(&self) -> u32 {
        self.0.lookahead
    }

    /// The memory its flip buffers use, which decides whether a writer has room.
    pub fn used(&self) -> u32 {
        self.0.used
    }

    /// The bytes the last flip buffer has room for.
    pub fn room(&self) -> u32 {
        self.0.room
    }

    /// [`PtyQueues::PUSH`] and the other flags.
    pub fn flags(&self) -> u32 {
        self.0.flags
    }

    /// The echoes its line discipline has not written to the other side yet, with its
    /// echo operations; `EINVAL` if it says it holds more than a queue does.
    pub fn echoes(&self) -> Result<&[u8]> {
        self.0.echoes.get(..self.0.echo as usize).ok_or(EINVAL)
    }

    /// How many of them it writes as soon as there is room (its echo commit).
    pub fn echo_commit(&self) -> u32 {
        self.0.echo_commit
    }

    /// How many of them it writes before a write of its own (up to its echo mark).
    pub fn echo_mark(&self) -> u32 {
        self.0.echo_mark
    }
}

/// What one side's part of [`PtyQueues`] holds, but for its bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueShape {
    /// Bytes its line discipline holds.
    pub len: u32,
    /// Of which in complete lines (canonical mode).
    pub canon: u32,
    /// Bytes its flip buffers hold.
    pub flip: u32,
    /// Of which flow control looked at already.
    pub lookahead: u32,
    /// The memory its flip buffers use.
    pub used: u32,
    /// The bytes the last of them has room for.
    pub room: u32,
    /// [`PtyQueues::PUSH`] and the other flags.
    pub flags: u32,
    /// Bytes of echoes not written yet.
    pub echo: u32,
    /// Of which those it writes as soon as there is room.
    pub echo_commit: u32,
    /// Of which those it writes before a write of its own.
    pub echo_mark: u32,
}

/// One side's part of [`PtyQueues`], to fill: [`QueueMut::set`] first, then the bytes.
pub struct QueueMut<'a>(&'a mut bindings::checkpoint_tty_queue);

impl QueueMut<'_> {
    /// Sets what it holds (see [`Queue`]); `EINVAL` if more than a queue holds. The line
    /// discipline checks the rest.
    pub fn set(&mut self, s: &QueueShape) -> Result {
        let (read_max, flip_max) = (PtyQueues::READ_MAX, PtyQueues::FLIP_MAX);
        let used_max = PtyQueues::USED_MAX;
        if s.len > read_max
            || s.flip > flip_max
            || s.used > used_max
            || s.room > 2 * s.used
            || s.canon > s.len
            || s.echo > read_max
            || s.echo_commit > s.echo
            || s.echo_mark > s.echo
        {
            return Err(EINVAL);
        }
        let q = &mut *self.0;
        (q.len, q.canon, q.flip, q.lookahead) = (s.len, s.canon, s.flip, s.lookahead);
        (q.used, q.room, q.flags) = (s.used, s.room, s.flags);
        (q.echo, q.echo_commit, q.echo_mark) = (s.echo, s.echo_commit, s.echo_mark);
        Ok(())
    }

    /// The bytes its line discipline holds, to fill.
    pub fn read(&mut self) -> &mut [u8] {
        self.0.buf.get_mut(..self.0.len as usize).unwrap_or(&mut [])
    }

    /// The bitmap of line ends among its first `canon` bytes, to fill.
    pub fn marks(&mut self) -> &mut [u8] {
        let n = self.0.canon.div_ceil(8) as usize;
        self.0.marks.get_mut(..n).unwrap_or(&mut [])
    }

    /// The bytes its flip buffers hold, to fill.
    pub fn flip(&mut self) -> &mut [u8] {
        let (len, flip) = (self.0.len as usize, self.0.flip as usize);
        self.0.buf.get_mut(len..len + flip).unwrap_or(&mut [])
    }

    /// The echoes its line discipline has not written yet, to fill.
    pub fn echoes(&mut self) -> &mut [u8] {
        self.0
            .echoes
            .get_mut(..self.0.echo as usize)
            .unwrap_or(&mut [])
    }
}
