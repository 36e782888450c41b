//! Unix98 pseudo-terminals come back as they were: the same index, the slave's termios, the
//! window size, packet mode, the lock, the column of the slave's line discipline, every open
//! file of either side with its flags, files shared by fork and dup still shared, and a task
//! asleep in a read of the slave still waiting. The target P (the root of the tree) makes:
//!
//! - pty A: its master (fd 40) `/dev/ptmx` opened `O_RDWR | O_NOCTTY`, unlocked (unlockpt);
//!   its index N; ptsname() `/dev/pts/N`;
//! - S1 (fd 41), `/dev/pts/N` opened `O_RDWR | O_NOCTTY`, and a dup of it (fd 42);
//! - S2 (fd 43), `/dev/pts/N` opened again, `O_RDWR | O_NOCTTY | O_NONBLOCK`;
//! - the slave's termios set with tcsetattr() on S1: ICANON on, ECHO off, OPOST, ONLCR and
//!   TAB3 (XTABS) in c_oflag, VINTR ^E, VEOF ^D, 9600 baud both ways (CBAUD);
//! - the window size set on the master (TIOCSWINSZ): 33 rows, 111 columns, 640 x 480 pixels;
//! - packet mode on the master (TIOCPKT 1);
//! - "$ " written to S1 and read back from the master (a status byte TIOCPKT_DATA, then "$ "):
//!   nothing is left unread and the slave's output column is 2;
//! - `/dev/pts/N` given group 5 (tty) and mode 0620, as login leaves a user's terminal;
//! - pty B: its master (fd 44) `/dev/ptmx` opened `O_RDWR | O_NOCTTY | O_NONBLOCK`, never
//!   unlocked; its index M.
//!
//! P records tcgetattr() of S1, the `st_rdev` of S1 and the status flags (F_GETFL) of every
//! fd, then forks C, which holds the same files and sleeps in a read() of S1 (canonical
//! mode) until the restart.
//!
//! Checkpointed with CKPT_KILL once C sleeps; once the tree is gone (and `/dev/pts/N` and
//! `/dev/pts/M` with it: the indexes are free) it is restarted. Then P checks:
//!
//! - TIOCGPTN of A is N, ptsname() of A is the same path, S1, its dup and S2 link to it
//!   (/proc/self/fd), `st_rdev` of S1 and S2 is the recorded one, and `/dev/pts/N` has its
//!   owner, group and mode;
//! - tcgetattr() of S1 (and of S2) equals the recorded one field by field;
//! - TIOCGWINSZ of the master, S1 and S2 is the size set;
//! - TIOCGPKT of A is 1, TIOCGPTLCK of A is 0;
//! - each fd has its recorded status flags: S2 and B `O_NONBLOCK`, A and S1 not;
//! - S1 and its dup are one file, S2 another: O_APPEND set on the dup with F_SETFL shows on
//!   S1 and not on S2 (then cleared; O_APPEND and not O_NONBLOCK, as C sleeps in a read of
//!   that very file);
//! - a read() of S2 gives EAGAIN;
//! - B: TIOCGPTN is M, TIOCGPTLCK is 1, F_GETFL has O_NONBLOCK, a read() gives EAGAIN, an
//!   open() of `/dev/pts/M` gives EIO (locked).
//!
//! Then P writes "ping\n" to A; C's read gives exactly that line, C writes "pong\t" to S1 and
//! checks that its own tcgetattr() of S1 is the recorded one, and exits 0. P reads from A
//! packets of data (each a status byte TIOCPKT_DATA, then data) making exactly "pong" and two
//! spaces, then nothing more: the tab expanded from column 6 to 8, so the column came back as
//! 2 (from column 0 there would be four spaces). P reaps C, which must have exited 0.
//!
//! A second case runs the same tree without pty B as a container (the init of its own pid
//! namespace) checkpointed without CKPT_KILL: its restart beside the running original fails
//! with EBUSY and the log line "pty N: its index is taken", leaving only the original; the
//! original passes the checks above, and once it exited the image restarts and passes them
//! too.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use cr_tests::proc::proc_state;
use cr_tests::pty::{
    check_termios, index, locked, open_master_at, open_slave_at, packet_mode, ptsname, read_once,
    read_packets, recorded_indexes, set_packet_mode, set_winsize, slave_path, tcgetattr, tcsetattr,
    try_open, try_read, unlock, wait_released, winsize, WinSize,
};
use cr_tests::target::fork_checker;
use cr_tests::tree::{kill_checker, reap, Kid};
use cr_tests::unix::check_bytes;
use cr_tests::{
    check_eq, check_os, fd_link, fstat, pass, poll_in, wait_restored, write_all, Check, Target,
};

/// Pty A: its master, S1, a dup of S1, S2.
const A: RawFd = 40;
const S1: RawFd = 41;
const S1_DUP: RawFd = 42;
const S2: RawFd = 43;
/// Pty B's master, locked.
const B: RawFd = 44;

/// The window size set on A's master: rows, columns, x and y pixels.
const WINDOW: WinSize = (33, 111, 640, 480);
/// What P writes to S1 and reads back before the checkpoint: it leaves the column at 2.
const PROMPT: &[u8] = b"$ ";
/// The line P writes to A after the restart, which C reads.
const PING: &[u8] = b"ping\n";
/// What C writes to S1 then, and what A reads of it: the tab from column 6 to 8.
const PONG: &[u8] = b"pong\t";
const PONG_OUT: &[u8] = b"pong  ";
/// VINTR and VEOF as set: ^E and ^D.
const INTR: u8 = 0x05;
const EOF: u8 = 0x04;
/// The group (tty) and mode P gives `/dev/pts/N`, which devpts would not.
const NODE_GID: libc::gid_t = 5;
const NODE_MODE: libc::mode_t = 0o620;

/// A's index N in the high half, B's M in the low half (`u32::MAX` without B), for the test
/// to read in the target's memory.
static INDEXES: AtomicU64 = AtomicU64::new(u64::MAX);

/// What P recorded before the checkpoint.
struct Saved {
    me: libc::pid_t,
    /// A's index and its slave's path.
    n: u32,
    path: String,
    /// B's index, if P made B.
    m: Option<u32>,
    rdev: libc::dev_t,
    /// The owner, group and permission bits of `/dev/pts/N`.
    node: (libc::uid_t, libc::gid_t, libc::mode_t),
    termios: libc::termios,
    /// F_GETFL of each fd.
    flags: Vec<(RawFd, libc::c_int)>,
    kid: Kid,
}

/// In P: the slave's termios, set on S1 as the module doc says; returns what tcgetattr()
/// gives then, checked to hold what was set.
fn set_termios() -> Result<libc::termios, String> {
    let mut t = tcgetattr(S1)?;
    t.c_lflag = (t.c_lflag | libc::ICANON) & !libc::ECHO;
    t.c_oflag = (t.c_oflag & !libc::TABDLY) | libc::OPOST | libc::ONLCR | libc::TAB3;
    t.c_cc[libc::VINTR] = INTR;
    t.c_cc[libc::VEOF] = EOF;
    // As cfsetspeed() would (which a static glibc does not link): both speeds from CBAUD.
    t.c_cflag = (t.c_cflag & !(libc::CBAUD | libc::CIBAUD)) | libc::B9600;
    tcsetattr(S1, &t)?;
    let got = tcgetattr(S1)?;
    let on = |flags: libc::tcflag_t, bits: libc::tcflag_t| flags & bits == bits;
    let set = on(got.c_lflag, libc::ICANON)
        && got.c_lflag & libc::ECHO == 0
        && on(got.c_oflag, libc::OPOST | libc::ONLCR)
        && got.c_oflag & libc::TABDLY == libc::TAB3
        && got.c_oflag & libc::TABDLY == libc::XTABS
        && (got.c_cc[libc::VINTR], got.c_cc[libc::VEOF]) == (INTR, EOF);
    let speeds = (got.c_cflag & libc::CBAUD, got.c_cflag & libc::CIBAUD);
    if !set || speeds != (libc::B9600, 0) {
        return Err(format!(
            "tcgetattr of S1 after tcsetattr: c_lflag {:#o}, c_oflag {:#o}, VINTR {:#x}, VEOF {:#x}, speeds {speeds:?}: not what was set",
            got.c_lflag, got.c_oflag, got.c_cc[libc::VINTR], got.c_cc[libc::VEOF]
        ));
    }
    Ok(got)
}

/// F_GETFL of `fd`.
fn status_flags(fd: RawFd) -> Result<libc::c_int, String> {
    // SAFETY: F_GETFL takes no pointer.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    check_os(flags, format_args!("F_GETFL of fd {fd}"))?;
    Ok(flags)
}

/// F_SETFL of `fd` to `flags`.
fn set_status_flags(fd: RawFd, flags: libc::c_int) -> Check {
    // SAFETY: F_SETFL takes an int.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    check_os(r, format_args!("F_SETFL of fd {fd} to {flags:#o}"))
}

/// In C: its read of S1, asleep across the checkpoint and the restart, gives "ping\n"; it
/// writes "pong\t" and checks its own view of the termios.
fn child(termios: &libc::termios) -> Check {
    let line = read_once(S1, 64, "S1 in C, asleep since before the checkpoint")?;
    check_bytes(
        format_args!("what C's read of S1 (fd {S1}, canonical mode) gives"),
        &line,
        PING,
    )?;
    write_all(S1, PONG)?;
    check_termios("tcgetattr of S1 in C", &tcgetattr(S1)?, termios)
}

/// P's setup (see the module doc); pty B only `with_b`.
fn setup(with_b: bool) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    open_master_at(0, A)?;
    unlock(A)?;
    let n = open_slave_at(A, 0, S1)?;
    let path = ptsname(A)?;
    check_eq("ptsname of A", path.clone(), slave_path(n))?;
    // SAFETY: dup2 of our own fd onto a number we do not use otherwise.
    check_os(unsafe { libc::dup2(S1, S1_DUP) }, "dup2 of S1")?;
    open_slave_at(A, libc::O_NONBLOCK, S2)?;
    let termios = set_termios()?;
    set_winsize(A, WINDOW)?;
    set_packet_mode(A, true)?;
    write_all(S1, PROMPT)?;
    let read = read_packets(A, PROMPT.len(), "A, the prompt")?;
    check_bytes("what A reads of the prompt", &read, PROMPT)?;
    check_eq("poll of A after the prompt", poll_in(A, 100)?, 0)?;
    // As login and sshd leave a user's terminal: group tty, writable by the group.
    // SAFETY: fchmod and fchown of our own fd.
    unsafe {
        check_os(libc::fchmod(S1, NODE_MODE), "fchmod of S1")?;
        check_os(libc::fchown(S1, u32::MAX, NODE_GID), "fchown of S1")?;
    }
    let st = fstat(S1)?;
    let (rdev, node) = (st.st_rdev, (st.st_uid, st.st_gid, st.st_mode & 0o7777));
    check_eq(
        "the group and mode of /dev/pts/N",
        (node.1, node.2),
        (NODE_GID, NODE_MODE),
    )?;
    let m = match with_b {
        true => {
            open_master_at(libc::O_NONBLOCK, B)?;
            Some(index(B)?)
        }
        false => None,
    };
    INDEXES.store(
        u64::from(n) << 32 | u64::from(m.unwrap_or(u32::MAX)),
        Ordering::SeqCst,
    );
    let fds = [A, S1, S1_DUP, S2].into_iter().chain(m.map(|_| B));
    let flags = fds
        .map(|fd| status_flags(fd).map(|f| (fd, f)))
        .collect::<Result<Vec<_>, _>>()?;
    let for_child = termios;
    let pid = fork_checker(move || child(&for_child))?;
    let saved = Saved {
        me,
        n,
        path,
        m,
        rdev,
        node,
        termios,
        flags,
        kid: Kid { pid, code: 0 },
    };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// A's index, its slave's path and files, the termios, the window size, packet mode and the
/// lock.
fn check_a(s: &Saved) -> Check {
    check_eq("TIOCGPTN of A", index(A)?, s.n)?;
    check_eq("ptsname of A", ptsname(A)?, s.path.clone())?;
    for fd in [S1, S1_DUP, S2] {
        check_eq(
            format_args!("the file of fd {fd}"),
            fd_link(fd)?,
            s.path.clone(),
        )?;
    }
    check_eq("st_rdev of S1", fstat(S1)?.st_rdev, s.rdev)?;
    check_eq("st_rdev of S2", fstat(S2)?.st_rdev, s.rdev)?;
    let st = fstat(S1)?;
    check_eq(
        "the owner, group and mode of /dev/pts/N",
        (st.st_uid, st.st_gid, st.st_mode & 0o7777),
        s.node,
    )?;
    check_termios("tcgetattr of S1", &tcgetattr(S1)?, &s.termios)?;
    check_termios("tcgetattr of S2", &tcgetattr(S2)?, &s.termios)?;
    for (what, fd) in [("A", A), ("S1", S1), ("S2", S2)] {
        check_eq(
            format_args!("TIOCGWINSZ of {what} (fd {fd})"),
            winsize(fd)?,
            WINDOW,
        )?;
    }
    check_eq("TIOCGPKT of A", packet_mode(A)?, 1)?;
    check_eq("TIOCGPTLCK of A", locked(A)?, 0)
}

/// The status flags of every fd, and which are one file.
fn check_files(s: &Saved) -> Check {
    for &(fd, flags) in &s.flags {
        check_eq(format_args!("F_GETFL of fd {fd}"), status_flags(fd)?, flags)?;
        let nonblock = status_flags(fd)? & libc::O_NONBLOCK != 0;
        check_eq(
            format_args!("O_NONBLOCK on fd {fd}"),
            nonblock,
            fd == S2 || fd == B,
        )?;
    }
    let before = status_flags(S1_DUP)?;
    set_status_flags(S1_DUP, before | libc::O_APPEND)?;
    let (on_s1, on_s2) = (status_flags(S1)?, status_flags(S2)?);
    set_status_flags(S1_DUP, before)?;
    check_eq(
        "O_APPEND on S1 once set on its dup (one file)",
        on_s1 & libc::O_APPEND != 0,
        true,
    )?;
    check_eq(
        "O_APPEND on S2 once set on S1's dup (another file)",
        on_s2 & libc::O_APPEND != 0,
        false,
    )?;
    check_eq(
        "F_GETFL of S1 once O_APPEND is cleared",
        status_flags(S1)?,
        before,
    )?;
    check_eq(
        "a read of S2, non-blocking and empty",
        try_read(S2),
        Err(libc::EAGAIN),
    )
}

/// Pty B, locked: its index, the lock, a read, then an open of its slave.
fn check_b(m: u32) -> Check {
    check_eq("TIOCGPTN of B", index(B)?, m)?;
    check_eq("TIOCGPTLCK of B", locked(B)?, 1)?;
    check_eq(
        "a read of B, non-blocking and empty",
        try_read(B),
        Err(libc::EAGAIN),
    )?;
    let path = slave_path(m);
    check_eq(
        format_args!("open of {path}, B's slave, locked"),
        try_open(&path),
        Err(libc::EIO),
    )
}

/// "ping\n" to C through A; "pong" and the tab, expanded from column 6, back.
fn exchange() -> Check {
    write_all(A, PING)?;
    let got = read_packets(A, PONG_OUT.len(), "A, C's answer")?;
    check_bytes(
        "what A reads of C's \"pong\\t\" (TAB3, from column 2 + 4)",
        &got,
        PONG_OUT,
    )?;
    check_eq("poll of A after C's answer", poll_in(A, 300)?, 0)
}

/// In P, woken: everything the module doc lists, then the exchange with C, which is reaped.
fn check(s: &Saved) -> Check {
    let ours = (|| {
        // SAFETY: getpid has no preconditions.
        check_eq("getpid()", unsafe { libc::getpid() }, s.me)?;
        check_a(s)?;
        check_files(s)?;
        if let Some(m) = s.m {
            check_b(m)?;
        }
        exchange()
    })();
    match ours {
        Ok(()) => reap(&[s.kid]),
        Err(e) => Err(kill_checker(s.kid, e)),
    }
}

/// P and C checkpointed with CKPT_KILL once C sleeps, and restarted once the indexes are free.
fn restart_after_kill() {
    let mut target = Target::spawn(|| setup(true));
    let (n, m) = recorded_indexes(&target, &INDEXES);
    let released = |t: &Target| wait_released(t, &[n, m]);
    target.restart_with_children_asleep_after(1, "for C to sleep in its read of S1", released);
    target.finish();
}

/// The tree without B as a container, restarted beside its running original: EBUSY, "pty N:
/// its index is taken"; the original passes its checks, then the image restarts.
fn beside_original() {
    let target = Target::spawn_container(|| setup(false));
    let (n, _) = recorded_indexes(&target, &INDEXES);
    let kids = target.descendants(1);
    target.wait_until("for C to sleep in its read of S1", || {
        proc_state(kids[0]) == Some('S')
    });
    let why = format!("restart beside the running original, which holds pty {n}");
    target.refused_beside_original((libc::EBUSY, &why), &format!("pty {n}: its index is taken"));
}

fn main() {
    restart_after_kill();
    beside_original();
    pass("a pty comes back with its index, its slave's path and device, its termios (every flag, the line discipline, each control character, the speeds), its window size on both sides, packet mode, unlocked, and its output column (a tab written after the restart expands from where the prompt left it); its files keep their flags (O_NONBLOCK), a dup stays one file with its original and a second open another; a child asleep in a read of the slave since before the checkpoint reads the line written after the restart; a locked pty keeps its index, stays locked (its slave's open is EIO) and non-blocking; a restart beside the running original fails with EBUSY and \"pty N: its index is taken\", and succeeds once the original exited");
}
