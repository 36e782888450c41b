//! What the readers of a unix98 pty have not read comes back with a restart, exactly: the
//! bytes each side's line discipline (N_TTY) holds, which of them end canonical lines and
//! its VLNEXT state, and the bytes still in each side's flip buffers, not given to the line
//! discipline yet; nothing is processed or echoed twice, nothing is lost, and a writer asleep
//! because the buffers are full goes on. The target P (the root of the tree) makes:
//!
//! - pty A: its master (fd 40), `/dev/ptmx` opened `O_RDWR | O_NOCTTY`, unlocked, and its
//!   slave (fd 41), `/dev/pts/N` opened `O_RDWR | O_NOCTTY`, with a new pty's termios
//!   (checked: ICANON, ECHO, ECHOCTL, IEXTEN, ISIG, ICRNL, OPOST and ONLCR; VEOF ^D, VLNEXT
//!   ^V, VERASE DEL). P writes to the master, one write each, "line one\n", "eof" with ^D
//!   (VEOF: it ends the line without a delimiter, unechoed), "line tw", and ^V (VLNEXT:
//!   echoed "^" and a backspace; the next byte is taken literally), and after each waits (up
//!   to 5 s) until FIONREAD of the master is the length of all the echoes so far; then it
//!   writes "out\n" to the slave and waits until FIONREAD of the master is 5 more. Nobody
//!   reads: the slave's line discipline holds two complete lines, "line tw" and the VLNEXT
//!   state, the master's `"line one\r\neofline tw^\bout\r\n"`;
//! - pty R: its master (fd 44) and slave (fd 45), both `O_NONBLOCK`, the slave in raw mode
//!   (cfmakeraw). P writes to the master bytes of a pattern (byte i is i * 7 % 251), in
//!   chunks of 1024 and then one by one, until a write gives EAGAIN, waits until FIONREAD of
//!   the slave stops growing (200 ms unchanged, within 10 s: the flush worker passed on
//!   what the slave's line discipline takes) and writes again, until the first write after
//!   that gives EAGAIN (256 KiB at most): N_in bytes. Then likewise to the slave, another
//!   pattern ((i * 13 + 5) % 251), FIONREAD of the master: N_out bytes. Both must be over
//!   4096, more than a line discipline holds: the rest is in the flip buffers;
//! - pty O: its master (fd 47) and slave (fd 48), both `O_NONBLOCK`, the slave with a new
//!   pty's termios (OPOST, ONLCR); P writes to the slave letters "a" to "z" over and over
//!   (no newline for ONLCR to expand) until a write gives EAGAIN, as for R: N_o bytes. A
//!   writer through OPOST waits for the room the master's buffers have by their memory (the
//!   last buffer may still have some), where a raw one waits for the last buffer to be full.
//!
//! P then forks C, which opens `/dev/pts/M` (R's slave) again, `O_RDWR | O_NOCTTY` without
//! `O_NONBLOCK`, and writes 64 bytes "Z" in one write(): it sleeps, the master's buffers
//! being full; and D, which likewise writes 64 bytes "Y" to `/dev/pts/O` (O's slave) opened
//! again: it sleeps too.
//!
//! Checkpointed with CKPT_KILL once C and D sleep (and stay asleep after the restart); once
//! the tree is gone (and `/dev/pts/N`, `/dev/pts/M` and `/dev/pts/O` with it: the indexes
//! are free) it is restarted. Then P checks, in this order:
//!
//! - A: the master reads (until nothing comes for 300 ms) exactly
//!   `"line one\r\neofline tw^\bout\r\n"`, each echo and the output once; the slave's first
//!   read (of up to 256 bytes) gives "line one\n", its second "eof" (the line VEOF ended,
//!   without a delimiter); P writes DEL, "o" and "\n" to the master: the slave reads exactly
//!   "line tw", DEL, "o\n" (DEL taken literally after the VLNEXT; without it DEL would erase
//!   the "w": "line to\n") and the master reads the echo, "^?o\r\n";
//! - R: the slave reads N_in bytes, the pattern, then poll() sees nothing more within
//!   300 ms; the master reads N_out + 64 bytes, the other pattern then 64 "Z" (C's write,
//!   which goes on once the master is read), then nothing more within 300 ms; C, whose write
//!   returned 64, exits 0 and is reaped (within 10 s); then a byte written to the master is
//!   read from the slave and one written to the slave from the master;
//! - O: the master reads N_o + 64 bytes, the letters then 64 "Y" (D's write), then nothing
//!   more within 300 ms; D exits 0 and is reaped.
//!
//! With `CR_TESTS_DRY_RUN=1` the target's setup and checks run without checkpoint and restart.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cr_tests::proc::waitid;
use cr_tests::pty::{
    byte_each_way, check_pattern, fill, make_raw, open_master_at, open_slave_at, read_len,
    read_once, read_until_quiet, recorded_indexes, slave_path, tcgetattr, try_write, unlock,
    wait_inq, wait_readable, wait_released,
};
use cr_tests::target::fork_checker;
use cr_tests::tree::{kill_checker, reap, Kid};
use cr_tests::unix::check_bytes;
use cr_tests::{check_eq, open_at, pass, poll_in, wait_restored, write_all, Check, Target};

/// Pty A: its master and slave.
const A_MASTER: RawFd = 40;
const A_SLAVE: RawFd = 41;
/// Pty R: its master and slave, both non-blocking.
const R_MASTER: RawFd = 44;
const R_SLAVE: RawFd = 45;
/// R's slave as C opens it again, blocking.
const C_SLAVE: RawFd = 46;
/// Pty O: its master and slave, both non-blocking; its slave as D opens it again, blocking.
const O_MASTER: RawFd = 47;
const O_SLAVE: RawFd = 48;
const D_SLAVE: RawFd = 49;

/// What P writes to A's master before the checkpoint, one write each, and what the slave's
/// line discipline echoes of it to the master, with a new pty's termios:
const TYPED: [(&[u8], &[u8]); 4] = [
    // The letters as they are, the newline through OPOST and ONLCR: "\r\n".
    (b"line one\n", b"line one\r\n"),
    // VEOF (^D) ends the line without a delimiter and is not echoed.
    (b"eof\x04", b"eof"),
    // A line being edited, no delimiter yet.
    (b"line tw", b"line tw"),
    // VLNEXT (^V) with ECHOCTL: "^" and a backspace over it; the next byte is literal.
    (b"\x16", b"^\x08"),
];
/// What P then writes to A's slave, and what the master reads of it (ONLCR).
const OUT: &[u8] = b"out\n";
const OUT_READ: &[u8] = b"out\r\n";
/// All the master holds unread at the checkpoint: the echoes of [`TYPED`] in order, then
/// [`OUT_READ`]. "line one" and "\r\n" (the newline's echo), "eof" (^D unechoed), "line tw",
/// "^" and "\b" (^V's echo), "out" and "\r\n" (the slave's newline through ONLCR).
const PENDING: &[u8] = b"line one\r\neofline tw^\x08out\r\n";
/// The slave's first two reads after the restart: the line "\n" ended, then the one ^D
/// ended (3 bytes, no delimiter).
const LINE_ONE: &[u8] = b"line one\n";
const LINE_EOF: &[u8] = b"eof";
/// What P writes to A's master after the restart: DEL (VERASE), taken literally after the
/// restored VLNEXT, "o" and a newline.
const AFTER: &[u8] = b"\x7fo\n";
/// The line the slave then reads: "line tw", DEL itself, "o\n" (with the VLNEXT lost, DEL
/// would erase the "w": "line to\n").
const LINE_TW: &[u8] = b"line tw\x7fo\n";
/// The echo of [`AFTER`] the master reads: DEL with ECHOCTL as "^?", "o", the newline as
/// "\r\n".
const AFTER_ECHO: &[u8] = b"^?o\r\n";

/// The most bytes P writes one way through R before it must get EAGAIN.
const FILL_CAP: usize = 256 << 10;
/// What N_TTY's buffer holds at most (`N_TTY_BUF_SIZE`): N_in and N_out must be over it.
const LDISC_MAX: usize = 4096;
/// What C writes to R's slave, asleep across the checkpoint: 64 bytes "Z".
const C_BYTES: [u8; 64] = [b'Z'; 64];
/// What D writes to O's slave, likewise: 64 bytes "Y".
const D_BYTES: [u8; 64] = [b'Y'; 64];

/// How long poll() must see nothing for a side to be taken as read to its end, in ms.
const QUIET_MS: libc::c_int = 300;

/// A's index N in the high half, R's M in the low half, for the test to read in the target's
/// memory; O's in the low half of the other (`u32::MAX` in its high half: none).
static INDEXES: AtomicU64 = AtomicU64::new(u64::MAX);
static INDEX_O: AtomicU64 = AtomicU64::new(u64::MAX);

/// Byte `i` of what P writes to R's master.
fn pattern_in(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// Byte `i` of what P writes to R's slave.
fn pattern_out(i: usize) -> u8 {
    ((i * 13 + 5) % 251) as u8
}

/// Byte `i` of what P writes to O's slave: letters, which OPOST leaves as they are.
fn letters(i: usize) -> u8 {
    b'a' + (i % 26) as u8
}

/// What P recorded before the checkpoint.
struct Saved {
    /// The bytes P wrote to R's master and to R's slave.
    n_in: usize,
    n_out: usize,
    /// The bytes P wrote to O's slave.
    n_o: usize,
    /// C, which exits 0 once its write returned 64.
    kid: Kid,
    /// D, likewise.
    d: Kid,
}

/// In P: `Err` unless A's slave has a new pty's termios as the module doc lists it.
fn check_new_termios() -> Check {
    let t = tcgetattr(A_SLAVE)?;
    let on = |flags: libc::tcflag_t, bits: libc::tcflag_t| flags & bits == bits;
    let lflag = libc::ICANON | libc::ECHO | libc::ECHOCTL | libc::IEXTEN | libc::ISIG;
    let cc = (
        t.c_cc[libc::VEOF],
        t.c_cc[libc::VLNEXT],
        t.c_cc[libc::VERASE],
    );
    match on(t.c_lflag, lflag)
        && on(t.c_iflag, libc::ICRNL)
        && on(t.c_oflag, libc::OPOST | libc::ONLCR)
        && cc == (0x04, 0x16, 0x7f)
    {
        true => Ok(()),
        false => Err(format!(
            "a new pty's slave has c_iflag {:#o}, c_oflag {:#o}, c_lflag {:#o}, (VEOF, VLNEXT, VERASE) {cc:x?}: not what the test types for",
            t.c_iflag, t.c_oflag, t.c_lflag
        )),
    }
}

/// In P: pty A, its slave holding two lines, a line being edited after a VLNEXT, its master
/// the echoes and the slave's output; returns its index.
fn setup_a() -> Result<u32, String> {
    open_master_at(0, A_MASTER)?;
    unlock(A_MASTER)?;
    let n = open_slave_at(A_MASTER, 0, A_SLAVE)?;
    check_new_termios()?;
    let mut echoed = 0;
    for (typed, echo) in TYPED {
        write_all(A_MASTER, typed)?;
        echoed += echo.len();
        let what = format!(
            "A's master, once \"{}\" was written to it (its echo \"{}\" to come)",
            typed.escape_ascii(),
            echo.escape_ascii()
        );
        wait_inq(A_MASTER, echoed, &what)?;
    }
    write_all(A_SLAVE, OUT)?;
    wait_inq(
        A_MASTER,
        echoed + OUT_READ.len(),
        "A's master, once \"out\\n\" was written to the slave",
    )?;
    Ok(n)
}

/// In P: pty R, filled both ways; returns its index, N_in and N_out.
fn setup_r() -> Result<(u32, usize, usize), String> {
    open_master_at(libc::O_NONBLOCK, R_MASTER)?;
    unlock(R_MASTER)?;
    let m = open_slave_at(R_MASTER, libc::O_NONBLOCK, R_SLAVE)?;
    make_raw(R_SLAVE)?;
    let n_in = fill(
        R_MASTER,
        R_SLAVE,
        pattern_in,
        FILL_CAP,
        "R, written from its master",
    )?;
    let n_out = fill(
        R_SLAVE,
        R_MASTER,
        pattern_out,
        FILL_CAP,
        "R, written from its slave",
    )?;
    if n_in <= LDISC_MAX || n_out <= LDISC_MAX {
        return Err(format!(
            "R took {n_in} bytes from its master and {n_out} from its slave before EAGAIN: not both over {LDISC_MAX}, a line discipline's, so its flip buffers may hold nothing"
        ));
    }
    Ok((m, n_in, n_out))
}

/// In P: pty O, filled from its slave through OPOST; returns its index and N_o.
fn setup_o() -> Result<(u32, usize), String> {
    open_master_at(libc::O_NONBLOCK, O_MASTER)?;
    unlock(O_MASTER)?;
    let o = open_slave_at(O_MASTER, libc::O_NONBLOCK, O_SLAVE)?;
    let n_o = fill(
        O_SLAVE,
        O_MASTER,
        letters,
        FILL_CAP,
        "O, written from its slave",
    )?;
    Ok((o, n_o))
}

/// In C (or D): a blocking write of `bytes` to the slave at `path`, opened again on `fd`,
/// asleep until the master is read after the restart.
fn child(path: &str, fd: RawFd, bytes: &[u8]) -> Check {
    open_at(path, libc::O_RDWR | libc::O_NOCTTY, 0, fd)?;
    check_eq(
        format_args!(
            "what a write() of {} bytes to {path} (fd {fd}), asleep across the checkpoint, returns",
            bytes.len()
        ),
        try_write(fd, bytes),
        Ok(bytes.len()),
    )
}

/// P's setup (see the module doc).
fn setup() -> Result<impl FnOnce() -> Check, String> {
    let n = setup_a()?;
    let (m, n_in, n_out) = setup_r()?;
    let (o, n_o) = setup_o()?;
    INDEXES.store(u64::from(n) << 32 | u64::from(m), Ordering::SeqCst);
    INDEX_O.store(u64::from(u32::MAX) << 32 | u64::from(o), Ordering::SeqCst);
    let path = slave_path(m);
    let pid = fork_checker(move || child(&path, C_SLAVE, &C_BYTES))?;
    let path = slave_path(o);
    let d = fork_checker(move || child(&path, D_SLAVE, &D_BYTES))?;
    let saved = Saved {
        n_in,
        n_out,
        n_o,
        kid: Kid { pid, code: 0 },
        d: Kid { pid: d, code: 0 },
    };
    Ok(move || {
        wait_restored();
        check(&saved)
    })
}

/// A: the master's echoes and output once, the slave's two lines, the VLNEXT.
fn check_a() -> Check {
    let held = read_until_quiet(A_MASTER, QUIET_MS, "A's master")?;
    check_bytes(
        "what A's master reads after the restart (the echoes and the slave's output, each once)",
        &held,
        PENDING,
    )?;
    for (n, line) in [(1, LINE_ONE), (2, LINE_EOF)] {
        wait_readable(A_SLAVE, "A's slave (canonical), its lines")?;
        let got = read_once(A_SLAVE, 256, "A's slave")?;
        check_bytes(
            format_args!("read {n} of A's slave (canonical) after the restart"),
            &got,
            line,
        )?;
    }
    write_all(A_MASTER, AFTER)?;
    wait_readable(A_SLAVE, "A's slave, once DEL, \"o\\n\" came")?;
    let got = read_once(A_SLAVE, 256, "A's slave")?;
    check_bytes(
        "the line A's slave reads once DEL, \"o\\n\" came after \"line tw\" and VLNEXT (\"line to\\n\" if the VLNEXT was lost: DEL erased the \"w\")",
        &got,
        LINE_TW,
    )?;
    let echo = read_until_quiet(A_MASTER, QUIET_MS, "A's master")?;
    check_bytes(
        "what A's master reads of the echo of DEL, \"o\\n\"",
        &echo,
        AFTER_ECHO,
    )
}

/// R: each side's bytes, in order, then nothing more; C's bytes after the slave's.
fn check_r(s: &Saved) -> Check {
    let got = read_len(R_SLAVE, s.n_in, "R's slave")?;
    check_pattern(
        &format!(
            "what R's slave reads of the {} bytes written to the master",
            s.n_in
        ),
        &got,
        pattern_in,
    )?;
    check_eq(
        format_args!("poll of R's slave after its {} bytes", s.n_in),
        poll_in(R_SLAVE, QUIET_MS)?,
        0,
    )?;
    let got = read_len(R_MASTER, s.n_out + C_BYTES.len(), "R's master")?;
    let (ours, c) = got.split_at(s.n_out);
    check_pattern(
        &format!(
            "what R's master reads of the {} bytes written to the slave",
            s.n_out
        ),
        ours,
        pattern_out,
    )?;
    check_bytes("what R's master reads after them (C's write)", c, &C_BYTES)?;
    check_eq(
        format_args!(
            "poll of R's master after its {} bytes and C's {}",
            s.n_out,
            C_BYTES.len()
        ),
        poll_in(R_MASTER, QUIET_MS)?,
        0,
    )
}

/// O: the letters, then D's bytes, then nothing more.
fn check_o(s: &Saved) -> Check {
    let got = read_len(O_MASTER, s.n_o + D_BYTES.len(), "O's master")?;
    let (ours, d) = got.split_at(s.n_o);
    check_pattern(
        &format!(
            "what O's master reads of the {} letters written to the slave",
            s.n_o
        ),
        ours,
        letters,
    )?;
    check_bytes("what O's master reads after them (D's write)", d, &D_BYTES)?;
    check_eq(
        format_args!("poll of O's master after its {} bytes and D's", s.n_o),
        poll_in(O_MASTER, QUIET_MS)?,
        0,
    )
}

/// Reaps C (or D), which must exit 0 within 10 s: its write returned; kills it if not.
fn reap_c(kid: Kid) -> Check {
    let deadline = Instant::now() + Duration::from_secs(10);
    while waitid(kid.pid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)?.is_none() {
        if Instant::now() > deadline {
            let e = format!(
                "the writer {} has not exited 10 s after the master read its bytes",
                kid.pid
            );
            return Err(kill_checker(kid, e));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    reap(&[kid])
}

/// In P, woken: A, then R, C reaped, then a byte each way through R; then O, D reaped.
fn check(s: &Saved) -> Check {
    let r = match check_a().and_then(|()| check_r(s)) {
        Ok(()) => reap_c(s.kid).and_then(|()| byte_each_way(R_MASTER, R_SLAVE, "R")),
        Err(e) => Err(kill_checker(s.kid, e)),
    };
    match r.and_then(|()| check_o(s)) {
        Ok(()) => reap_c(s.d),
        Err(e) => Err(kill_checker(s.d, e)),
    }
}

fn main() {
    let mut target = Target::spawn(setup);
    let (n, m) = recorded_indexes(&target, &INDEXES);
    let (_, o) = recorded_indexes(&target, &INDEX_O);
    let released = |t: &Target| wait_released(t, &[n, m, o]);
    target.restart_with_children_asleep_after(
        2,
        "for C and D to sleep in their writes to R's and O's slaves",
        released,
    );
    target.finish();
    pass("a pty's unread bytes come back exactly: a canonical slave's complete lines (one ended by VEOF, without its delimiter) and the line being edited with its VLNEXT state (DEL written after the restart is taken literally), the master's echoes and output, each once and nothing echoed again; and both ways through a raw pty, more than a line discipline holds (the rest in the flip buffers), every byte in order and nothing more, a writer asleep on the full master's buffers since before the checkpoint (raw, or through OPOST with room left in the last buffer) asleep after the restart and going on once the master is read");
}
