// SPDX-License-Identifier: GPL-2.0

//! Unix98 ptys: the master (`/dev/ptmx`) with the pty's index, the slave's termios, the
//! window size, packet mode and lock state, the output column of the slave's line discipline
//! and what the readers of either side have not read; each file of the slave (`/dev/pts/N`)
//! by its path. A slave's file names its master's, which is written before it.
//!
//! What a side's readers have not read is in two places: its line discipline holds the bytes
//! it processed (echoed, canonical lines marked, a line being edited), its flip buffers those
//! it has not taken yet. Both are saved as they are and put back where they were, so that
//! nothing is processed or echoed twice; a writer asleep on a full pty stays asleep.
//!
//! Restart opens the ptmx node by its path, with the caller's credentials, for a pty at the
//! same index in the same devpts instance (`EBUSY` if another pty has it), gives it its state
//! before any slave is open, then opens each slave's file by its path with `O_NOCTTY`.
//!
//! The slave's input in its flip buffers goes to its line discipline only once the sessions
//! have their terminals again ([`start`]), so that a signal character among it reaches the
//! foreground group.
//!
//! Echoes a side's line discipline has not written yet, because the other side's buffers
//! were full, are saved and restored with its other state, to be written when they would
//! have been. A pty holding more than checkpoint saves (PARMRK takes N_TTY past its buffer)
//! is refused. A pty with a file outside the tree is refused by leak detection, even with
//! `CKPT_UNSHARE_OPEN_FILES`: restart could not give the outside its share back. A pty that is
//! the controlling terminal of a session comes back as such with the session, once the tree
//! is linked ([`set_controlling`]), with its foreground process group; one of a session
//! outside the tree is refused.

use super::{check_made_anew, cstr, Behind, Escaped, FileKind, FileRef, Names, Shown};
use crate::image::{Dumper, FlagMap, Restorer};
use crate::task::ParkedTask;
use crate::{abi, log, log::Log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::tty::{PtyInfo, PtyQueues, Queue, QueueMut, QueueShape, Termios, Winsize};

/// The flags a pty's file is opened with again.
const PTY_FLAGS: u32 =
    bindings::O_ACCMODE | bindings::O_NONBLOCK | bindings::O_LARGEFILE | bindings::O_APPEND;

/// The device of the ptmx node (5:2, as the kernel encodes it).
const PTMX: u32 = 5 << 20 | 2;
/// The majors of the slaves' devices (`UNIX98_PTY_SLAVE_MAJOR` and the next seven).
const PTS_MAJORS: core::ops::Range<u32> = 136..144;

/// The bits of a mode that chmod() sets.
const PERMISSIONS: u32 = 0o7777;

/// The image's `PTY_*` flags and the kernel's.
const FLAGS: FlagMap<u32> = FlagMap(&[
    (abi::PTY_LOCKED, PtyInfo::LOCKED),
    (abi::PTY_PACKET, PtyInfo::PACKET),
    (abi::PTY_SLAVE_CLOSED, PtyInfo::SLAVE_CLOSED),
]);

/// The image's `PTY_QUEUE_*` flags and the kernel's.
const QUEUE_FLAGS: FlagMap<u32> = FlagMap(&[
    (abi::PTY_QUEUE_PUSH, PtyQueues::PUSH),
    (abi::PTY_QUEUE_LNEXT, PtyQueues::LNEXT),
    (abi::PTY_QUEUE_ERASING, PtyQueues::ERASING),
]);

pub(super) struct PtyFile;

impl FileKind for PtyFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        let p = PtyInfo::side(file.file())?;
        Some(Ok(match p.flags & PtyInfo::MASTER != 0 {
            true => abi::FILE_KIND_PTY_MASTER,
            false => abi::FILE_KIND_PTY_SLAVE,
        }))
    }

    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
        let p = PtyInfo::of(file.file())?;
        // First: a slave's node is gone with its master.
        let why = refused(&p).or(outside_session(names, &p));
        check_made_anew(at, file, "a pty", why, PTY_FLAGS)?;
        if p.flags & PtyInfo::BUSY != 0 {
            return Err(busy(at.log, format_args!("{at}: "), file));
        }
        names.check(at, file)?;
        let master = p.flags & PtyInfo::MASTER != 0;
        // Restart opens it by its path: not through /dev/tty, which leads to the opener's
        // controlling terminal.
        let rdev = file.inode().rdev();
        let node = match master {
            true => rdev == PTMX,
            false => PTS_MAJORS.contains(&(rdev >> 20)),
        };
        if !node {
            log!(
                at.log,
                "{at}: a pty opened through another node than /dev/ptmx or /dev/pts is not supported ({})",
                Shown::of(file)
            );
            return Err(EOPNOTSUPP);
        }
        if !master {
            // Written before the slave's file, named from the same root.
            if let Some(master) = PtyInfo::master(file.file()) {
                names.check(at, &FileRef::from(master))?;
            }
        }
        Ok(())
    }

    fn behind(file: &FileRef) -> Option<Behind> {
        let p = PtyInfo::side(file.file())?;
        Some(Behind {
            key: p.key,
            what: "pty",
            files: p.files,
            opens: p.files.into(),
            always: true,
        })
    }

    fn dump_named(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        if PtyInfo::side(file.file()).is_some_and(|p| p.flags & PtyInfo::MASTER != 0) {
            return Ok(());
        }
        let master = master_of(d, file)?;
        super::dump_file(d, names, &master).map(drop)
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        let side = PtyInfo::side(file.file()).ok_or(EINVAL)?;
        if side.flags & PtyInfo::MASTER == 0 {
            names.write(d, file, "a pty's slave")?;
            let master = master_of(d, file)?;
            let Some(master) = d.file_written(master.as_ptr()) else {
                return Err(changed(d, file));
            };
            return d.record(&abi::PtySlave { master, _pad0: 0 });
        }
        names.write(d, file, "a pty's master")?;
        // Checked again: anyone allowed to may open the slave by its path at any time.
        let (p, q) = PtyInfo::with_queues(file.file())?;
        if let Some(why) = refused(&p).or(outside_session(names, &p)) {
            log!(d.log, "a pty {why} is not supported ({})", Shown::of(file));
            return Err(EOPNOTSUPP);
        }
        if p.flags & PtyInfo::BUSY != 0 {
            return Err(busy(d.log, format_args!(""), file));
        }
        if !d.behind_unchanged(p.key, p.files, p.files.into()) {
            log!(
                d.log,
                "a pty was opened outside the tree while it was being saved ({})",
                Shown::of(file)
            );
            return Err(EBUSY);
        }
        let t = &p.termios;
        let w = &p.winsize;
        d.record(&abi::Pty {
            index: p.index,
            flags: FLAGS.image(p.flags),
            iflag: t.iflag,
            oflag: t.oflag,
            cflag: t.cflag,
            lflag: t.lflag,
            ispeed: t.ispeed,
            ospeed: t.ospeed,
            column: p.column,
            canon_column: p.canon_column,
            row: w.row,
            col: w.col,
            xpixel: w.xpixel,
            ypixel: w.ypixel,
            cc: t.cc,
            line: t.line,
            pktstatus: p.pktstatus,
            _pad0: 0,
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
        })?;
        dump_queue(d, q.input())?;
        dump_queue(d, q.output())
    }

    fn restores(kind: u32) -> bool {
        matches!(kind, abi::FILE_KIND_PTY_MASTER | abi::FILE_KIND_PTY_SLAVE)
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let path = r.string()?;
        if f.f_flags & !PTY_FLAGS != 0
            || f.pos != 0
            || f.i_mode & bindings::S_IFMT != bindings::S_IFCHR
        {
            return Err(r.bad("pty file with flags or a position a pty's file does not have"));
        }
        let path = cstr(&path)?;
        let flags = f.f_flags & PTY_FLAGS;
        if f.kind == abi::FILE_KIND_PTY_MASTER {
            restore_master(r, path, flags)
        } else {
            restore_slave(r, path, flags)
        }
    }
}

/// Why the pty `p` cannot be saved, if it cannot.
fn refused(p: &PtyInfo) -> Option<&'static str> {
    const WHY: [(u32, &str); 9] = [
        (PtyInfo::MASTER_CLOSED, "whose master is closed"),
        (PtyInfo::HUNG_UP, "that was hung up"),
        (PtyInfo::LDISC, "with a line discipline other than N_TTY"),
        (
            PtyInfo::UNREAD,
            "with echoes not written yet that are not all committed and marked",
        ),
        (
            PtyInfo::OVERRUN,
            "holding more unread bytes than checkpoint saves",
        ),
        (PtyInfo::STOPPED, "stopped by flow control"),
        (PtyInfo::EXCLUSIVE, "in exclusive mode (TIOCEXCL)"),
        (
            PtyInfo::LOCKED_TERMIOS,
            "with locked termios (TIOCSLCKTRMIOS)",
        ),
        // Restart opens the slave's files after it made the pty, which it leaves locked then.
        (PtyInfo::LOCKED, "locked (TIOCSPTLCK) with its slave open"),
    ];
    // The master's file is the only one of its side: ptmx opens a new pty each time.
    let slave_open = p.files > u32::from(p.flags & PtyInfo::MASTER_CLOSED == 0);
    WHY.iter()
        .find(|(flag, _)| p.flags & flag != 0 && (*flag != PtyInfo::LOCKED || slave_open))
        .map(|(_, why)| *why)
}

/// Logs, after `at`, that a line discipline of the pty of `file` is being changed (or it is
/// being hung up); `EAGAIN`, as it may be saved once that is done.
fn busy(log: &Log, at: core::fmt::Arguments<'_>, file: &FileRef) -> Error {
    log!(
        log,
        "{at}a pty's line discipline is being changed ({})",
        Shown::of(file)
    );
    EAGAIN
}

/// Why the pty `p` cannot be saved if it is the controlling terminal of a session, which
/// restart gives it back only with the session: one not restored with the tree.
fn outside_session(names: &Names, p: &PtyInfo) -> Option<&'static str> {
    let outside = p.flags & PtyInfo::CTTY != 0 && !names.is_tty(p.key);
    outside.then_some("that is the controlling terminal of a session outside the tree")
}

/// The master's file of the pty of `file`, a slave's, which leak detection found in the tree.
fn master_of(d: &Dumper<'_>, file: &FileRef) -> Result<FileRef> {
    match PtyInfo::master(file.file()) {
        Some(master) if d.tree_file(master.as_ptr()) => Ok(FileRef::from(master)),
        _ => Err(changed(d, file)),
    }
}

/// Logs that the master of the pty of `file` was closed or changed since it was checked;
/// `EAGAIN`.
fn changed(d: &Dumper<'_>, file: &FileRef) -> Error {
    log!(
        d.log,
        "a pty's master changed while it was being saved ({})",
        Shown::of(file)
    );
    EAGAIN
}

/// Writes a `PtyQueue` record and its bytes.
fn dump_queue(d: &mut Dumper<'_>, q: Queue<'_>) -> Result {
    let (read, marks, flip, echoes) = (q.read()?, q.marks()?, q.flip()?, q.echoes()?);
    d.record(&abi::PtyQueue {
        len: read.len() as u32,
        canon: q.canon(),
        flip: flip.len() as u32,
        lookahead: q.lookahead(),
        flags: QUEUE_FLAGS.image(q.flags()),
        used: q.used(),
        room: q.room(),
        echo: echoes.len() as u32,
        echo_commit: q.echo_commit(),
        echo_mark: q.echo_mark(),
        _pad0: 0,
        _pad1: 0,
    })?;
    d.data(read)?;
    d.data(marks)?;
    d.data(flip)?;
    d.data(echoes)
}

/// Reads a `PtyQueue` record and its bytes into `q`.
fn restore_queue(r: &mut Restorer<'_, Obj>, mut q: QueueMut<'_>) -> Result {
    let rec = r.expect::<abi::PtyQueue>()?;
    let flags = match QUEUE_FLAGS.kernel(rec.flags) {
        Some(flags) if rec.lookahead <= rec.flip => flags,
        _ => return Err(r.bad("pty queue with flags no queue has, or looked at past its bytes")),
    };
    let shape = QueueShape {
        len: rec.len,
        canon: rec.canon,
        flip: rec.flip,
        lookahead: rec.lookahead,
        used: rec.used,
        room: rec.room,
        flags,
        echo: rec.echo,
        echo_commit: rec.echo_commit,
        echo_mark: rec.echo_mark,
    };
    q.set(&shape)
        .map_err(|_| r.bad("pty queue holding more bytes, memory, room or echoes than a pty holds, or complete lines or echo marks past its bytes"))?;
    const SHORT: &str = "pty queue with bytes longer or shorter than it";
    r.data(q.read(), SHORT)?;
    r.data(q.marks(), SHORT)?;
    r.data(q.flip(), SHORT)?;
    r.data(q.echoes(), SHORT)
}

/// Makes a pty again from its `Pty` and `PtyQueue` records, opening the ptmx node at `path`
/// with `flags`.
fn restore_master(r: &mut Restorer<'_, Obj>, path: &CStr, flags: u32) -> Result<FileRef> {
    let p = r.expect::<abi::Pty>()?;
    let pty_flags = match FLAGS.kernel(p.flags) {
        Some(flags)
            if u32::from(p.pktstatus) & !abi::PTY_PKTSTATUS == 0
                && u32::from(p.mode) & !PERMISSIONS == 0 =>
        {
            flags
        }
        _ => return Err(r.bad("pty with flags, packet events or a mode no pty has")),
    };
    let mut q = PtyQueues::new()?;
    restore_queue(r, q.input_mut())?;
    restore_queue(r, q.output_mut())?;
    let pty = PtyInfo {
        index: p.index,
        flags: pty_flags,
        column: p.column,
        canon_column: p.canon_column,
        termios: Termios {
            iflag: p.iflag,
            oflag: p.oflag,
            cflag: p.cflag,
            lflag: p.lflag,
            line: p.line,
            cc: p.cc,
            ispeed: p.ispeed,
            ospeed: p.ospeed,
        },
        winsize: Winsize {
            row: p.row,
            col: p.col,
            xpixel: p.xpixel,
            ypixel: p.ypixel,
        },
        pktstatus: p.pktstatus,
        uid: p.uid,
        gid: p.gid,
        mode: p.mode,
        ..Default::default()
    };
    let index = p.index;
    let name = Escaped(path.as_bytes());
    let master = pty.make(path, flags, &q).inspect_err(|e| match *e {
        EBUSY => log!(r.log, "pty {index}: its index is taken"),
        ENOSPC => log!(
            r.log,
            "pty {index}: the devpts instance of {name} has no room for it"
        ),
        ESTALE => log!(r.log, "file {name}: is not a ptmx node"),
        EINVAL => log!(
            r.log,
            "pty {index}: its line disciplines cannot hold what its readers had not read in the modes its termios set, or echoes N_TTY would not have left"
        ),
        e => log!(
            r.log,
            "pty {index}: cannot make it again ({})",
            e.to_errno()
        ),
    })?;
    pty.set_node(&master).inspect_err(|e| {
        log!(
            r.log,
            "pty {index}: cannot give /dev/pts/{index} its owner {}:{} and mode {:o} ({})",
            p.uid,
            p.gid,
            p.mode,
            e.to_errno()
        )
    })?;
    Ok(FileRef::from(master))
}

/// Opens a file of a pty's slave again by its `path`, with `flags`.
fn restore_slave(r: &mut Restorer<'_, Obj>, path: &CStr, flags: u32) -> Result<FileRef> {
    let s = r.expect::<abi::PtySlave>()?;
    let master = match r.lookup(s.master)? {
        Obj::File(m) if m.rec.kind == abi::FILE_KIND_PTY_MASTER => m.file.clone(),
        _ => return Err(r.bad("pty slave of an object that is not a pty's master")),
    };
    let name = Escaped(path.as_bytes());
    // Not the caller's controlling terminal, nor a restored session's: they have none.
    let file = kernel::fs::file::File::open(path, flags | bindings::O_NOCTTY)
        .map(FileRef::from)
        .inspect_err(|e| {
            log!(
                r.log,
                "file {name}: cannot reopen a pty's slave ({})",
                e.to_errno()
            );
        })?;
    if !PtyInfo::is_slave(master.file(), file.file()) {
        log!(r.log, "file {name}: is not the slave of its pty");
        return Err(ESTALE);
    }
    Ok(file)
}

/// A restored process's controlling terminal, as [`controlling_ttys`] checked it.
pub(crate) struct Ctty {
    /// The process, by index in the created tasks.
    process: usize,
    /// The master's file of the pty.
    master: FileRef,
    /// A process of the terminal's foreground group, likewise.
    fg: usize,
}

/// The controlling terminals the `Signal` records of the restored processes name
/// (`created`: [`crate::task::ParkedTask`]), checked before the tree is linked, so that
/// [`set_controlling`] cannot fail on what the image says: each a pty the image made, of a
/// session restored with the tree whose live leader has it too, with a foreground group of
/// live processes of the session, and every process of a session naming the same pty and
/// group, which no other session names.
pub(crate) fn controlling_ttys(
    r: &Restorer<'_, Obj>,
    created: &[ParkedTask],
) -> Result<KVVec<Ctty>> {
    let live = |c: &ParkedTask| c.is_leader() && c.rec.state != abi::TASK_STATE_ZOMBIE;
    // (session, group, index) of every live process, for the foreground groups.
    let mut groups = KVec::with_capacity(created.len(), GFP_KERNEL)?;
    // (session, pty, foreground group, index) of every process with a terminal.
    let mut ttys = KVVec::new();
    for (i, c) in created.iter().enumerate().filter(|(_, c)| live(c)) {
        groups.push((c.rec.sid, c.rec.pgid, i), GFP_KERNEL)?;
        let Obj::Signal { tty, tty_pgrp } = *r.lookup(c.rec.signal)? else {
            return Err(r.bad("process whose signal struct is another object"));
        };
        if tty != 0 {
            if c.rec.flags & abi::TASK_F_SESSION_OUTSIDE != 0 {
                return Err(r.bad("controlling terminal of a session outside the tree"));
            }
            ttys.push((c.rec.sid, tty, tty_pgrp, i), GFP_KERNEL)?;
        }
    }
    groups.sort_unstable();
    ttys.sort_unstable();
    let mut out = KVVec::with_capacity(ttys.len(), GFP_KERNEL)?;
    for run in ttys.chunk_by(|a, b| a.0 == b.0) {
        let (sid, tty, tty_pgrp, _) = run[0];
        let same = run.iter().all(|&(_, t, g, _)| (t, g) == (tty, tty_pgrp));
        // The leader holds the terminal for its session, as TIOCSCTTY left it.
        let led = run.iter().any(|&(_, _, _, i)| created[i].rec.pid == sid);
        if !same || !led {
            return Err(r.bad("session whose processes or leader name other terminals"));
        }
        let master = match r.lookup(tty)? {
            Obj::File(m) if m.rec.kind == abi::FILE_KIND_PTY_MASTER => m.file.clone(),
            _ => return Err(r.bad("controlling terminal that is not a pty's master")),
        };
        let key = (sid, tty_pgrp);
        let at = groups.partition_point(|&(s, g, _)| (s, g) < key);
        let fg = match groups.get(at) {
            Some(&(s, g, f)) if (s, g) == key => f,
            _ => {
                return Err(
                    r.bad("controlling terminal whose foreground group is not of its session")
                )
            }
        };
        for &(_, _, _, process) in run {
            let master = master.clone();
            out.push(
                Ctty {
                    process,
                    master,
                    fg,
                },
                GFP_KERNEL,
            )?;
        }
    }
    // One session per terminal.
    let mut by_tty = KVVec::with_capacity(out.len(), GFP_KERNEL)?;
    for c in out.iter() {
        by_tty.push(
            (c.master.as_ptr() as usize, created[c.process].rec.sid),
            GFP_KERNEL,
        )?;
    }
    by_tty.sort_unstable();
    if by_tty
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1)
    {
        return Err(r.bad("pty that is the controlling terminal of two sessions"));
    }
    Ok(out)
}

/// Lets every pty the image made receive the input its flip buffers held, once the sessions
/// have their terminals ([`set_controlling`]): a signal character among it signals the
/// terminal's foreground process group, as it would have before the checkpoint.
pub(crate) fn start(r: &Restorer<'_, Obj>) {
    for o in r.objects() {
        if let Obj::File(f) = o {
            if f.rec.kind == abi::FILE_KIND_PTY_MASTER {
                PtyInfo::start(f.file.file());
            }
        }
    }
}

/// Gives each restored process its controlling terminal, and the terminal its session and
/// foreground group ([`controlling_ttys`]), once the tree is linked into its sessions and
/// groups; `EBUSY` if a session outside took a pty as its terminal meanwhile.
pub(crate) fn set_controlling(log: &Log, created: &[ParkedTask], ttys: KVVec<Ctty>) -> Result {
    for c in ttys.iter() {
        let (p, fg) = (&created[c.process], &created[c.fg]);
        PtyInfo::set_controlling(&p.task, c.master.file(), &fg.task).inspect_err(|e| {
            log!(
                log,
                "pid {}: cannot make its pty its controlling terminal again, another session took it during the restart? ({})",
                p.rec.pid,
                e.to_errno()
            )
        })?;
        crate::resched();
    }
    Ok(())
}
