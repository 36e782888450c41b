//! Echoes a pty's line discipline (N_TTY) has not written yet, because the other side's
//! buffers were full, come back with a restart and are written when N_TTY would have written
//! them, each once, with the output columns their echo operations work from: the restored
//! pty gives the same bytes as a pty never checkpointed that went through the same steps.
//!
//! The steps, on a pty whose master (fd 40) is `/dev/ptmx` opened `O_RDWR | O_NOCTTY |
//! O_NONBLOCK` and unlocked, and whose slave (fd 41) is `/dev/pts/N` opened likewise, the
//! slave with a new pty's termios and canonical, ECHO, ECHOE, ECHOCTL and IEXTEN set, ECHOPRT,
//! ISTRIP and IUTF8 clear, VERASE DEL, c_oflag OPOST, ONLCR and TAB3 (tabs written as spaces,
//! which shows the column):
//!
//! 1. the slave writes the prompt "$ " (the output column is 2), then fills the pty: bytes 1
//!    to 7 over and over (control bytes, which OPOST passes as they are without moving the
//!    column) until a write gives EAGAIN, again once FIONREAD of the master has not grown
//!    for 200 ms, until the first write after that gives EAGAIN: N bytes, the master's line
//!    discipline and flip buffers full, no room for an echo;
//! 2. the master types "ab", ^A, 0xff, a tab and DEL (VERASE); a poll() of the slave, which
//!    waits for the flush worker when nothing is readable (`n_tty_poll`), sees nothing: N_TTY
//!    took them all, a line being edited, "ab", ^A and 0xff, its echoes pending: the chars,
//!    ^A as "^A" and 0xff (each an echo operation: 0xff and the byte), the tab, and the erase
//!    of the tab (ECHO_OP_ERASE_TAB and the columns the line had before it);
//! 3. the master reads exactly "$ " and the N bytes, then poll() sees nothing within 300 ms
//!    and a read gives EAGAIN: nothing writes the echoes, although there is room again;
//! 4. the master types "c": N_TTY writes its pending echoes, then the echo of "c"; the master
//!    reads until nothing comes for 300 ms (on 6.12 "ab^A", 0xff, one space for the tab
//!    from column 7, one backspace for its erase, from the line's start at column 2, "c");
//! 5. the master types a tab, DEL, DEL and a newline: the slave reads the line "ab", ^A,
//!    0xff and "\n" (the second DEL erased "c"), then nothing, and the master reads until
//!    nothing comes for 300 ms the echoes: the tab's spaces and the backspaces of its erase,
//!    which count from the columns the pending echoes left, "\b \b" for "c", "\r\n".
//!
//! The test first goes through all the steps on a reference pty of its own, which it closes
//! before it spawns the target (nothing of it is in the image): steps 3 and 5 must pass on it
//! too, and the bytes of step 4 must begin with "ab^A" and 0xff and end with "c" (its echoes
//! were pending). The target goes through steps 1 and 2 and records FIONREAD of the master.
//! Checkpointed with CKPT_KILL, the image must hold what N_TTY held: the `Pty` record the
//! output column 2 and the line's start column 2 (set by the echo operation N_TTY ran before
//! the first char: it needs no room), the slave's `PtyQueue` 4 bytes "ab", ^A, 0xff, no
//! complete line, no flip bytes, and the 10 bytes of echoes "ab", 0xff 0x01, 0xff 0xff, the
//! tab, 0xff 0x82 0x05, committed and marked to their end. Once `/dev/pts/N` is gone the
//! image restarts. Then the target checks: FIONREAD of the master is what it recorded and of
//! the slave 0 (no complete line); steps 3 to 5 pass, and the master's bytes of steps 4 and 5
//! are exactly the reference's (echoes dropped, doubled, or written at the restart, before
//! the master was drained, would not be; nor those of columns not restored).
//!
//! With `CR_TESTS_DRY_RUN=1` the target's setup and checks run without checkpoint and restart,
//! and the image is not looked at.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use cr_tests::craft::Image;
use cr_tests::pty::{
    check_pattern, fill, inq, open_master_at, open_slave_at, read_len, read_once, read_until_quiet,
    recorded_indexes, tcgetattr, tcsetattr, try_read, unlock, wait_readable, wait_released,
};
use cr_tests::target::dry_run;
use cr_tests::unix::{check_bytes, close_all};
use cr_tests::{check_eq, fail, pass, poll_in, wait_restored, write_all, Check, Target, KILL};

/// The pty's master and slave, in the target and in the test's reference run.
const MASTER: RawFd = 40;
const SLAVE: RawFd = 41;

/// What the slave writes before it fills the pty: the output column is then 2.
const PROMPT: &[u8] = b"$ ";
/// The most bytes the slave writes to fill the pty before it must get EAGAIN.
const FILL_CAP: usize = 256 << 10;
/// What the master types while the pty is full: "ab", ^A, 0xff, a tab and DEL (VERASE).
const TYPED: &[u8] = b"ab\x01\xff\t\x7f";
/// What N_TTY holds of it: the line being edited, the tab erased.
const LINE_SO_FAR: &[u8] = b"ab\x01\xff";
/// Its echoes, pending, in N_TTY's encoding: "ab", ^A (0xff 0x01: "^A"), 0xff (0xff 0xff),
/// the tab, its erase (ECHO_OP_ERASE_TAB 0x82, the 5 columns of the line before it). The
/// operation that sets the line's start column (0xff 0x81), first, ran before the checkpoint.
const SAVED_ECHOES: &[u8] = b"ab\xff\x01\xff\xff\t\xff\x82\x05";
/// What the master types once drained, to make N_TTY write its pending echoes.
const TRIGGER: &[u8] = b"c";
/// How the master's bytes then begin: the echoes of "ab", ^A and 0xff.
const ECHOED_FIRST: &[u8] = b"ab^A\xff";
/// What the master types next: a tab, DEL (erasing it), DEL (erasing "c"), a newline.
const MORE: &[u8] = b"\t\x7f\x7f\n";
/// The line the slave then reads.
const LINE: &[u8] = b"ab\x01\xff\n";

/// How long poll() must see nothing for a side to be taken as read to its end, in ms.
const QUIET_MS: libc::c_int = 300;

/// The pty's index in the low half (`u32::MAX` in the high half), for the test to read in the
/// target's memory.
static INDEX: AtomicU64 = AtomicU64::new(u64::MAX);

/// Byte `i` of what fills the pty: 1 to 7, control bytes that OPOST writes as they are and
/// that do not move the output column.
fn controls(i: usize) -> u8 {
    (i % 7 + 1) as u8
}

/// What the master reads of the echoes once drained: when "c" is typed, then when the tab,
/// the two DEL and the newline are.
struct Outcome {
    pending: Vec<u8>,
    after: Vec<u8>,
}

/// Steps 1 and 2 (see the module doc): the pty on [`MASTER`] and [`SLAVE`], filled from the
/// slave after [`PROMPT`], [`TYPED`] into the master, taken by N_TTY. Returns the pty's
/// index and how many bytes filled it.
fn prepare() -> Result<(u32, usize), String> {
    open_master_at(libc::O_NONBLOCK, MASTER)?;
    unlock(MASTER)?;
    let index = open_slave_at(MASTER, libc::O_NONBLOCK, SLAVE)?;
    let mut t = tcgetattr(SLAVE)?;
    t.c_lflag |= libc::ICANON | libc::ECHO | libc::ECHOE | libc::ECHOCTL | libc::IEXTEN;
    t.c_lflag &= !libc::ECHOPRT;
    t.c_iflag &= !(libc::ISTRIP | libc::IUTF8);
    t.c_oflag = libc::OPOST | libc::ONLCR | libc::TAB3;
    t.c_cc[libc::VERASE] = 0x7f;
    tcsetattr(SLAVE, &t)?;
    write_all(SLAVE, PROMPT)?;
    let n = fill(
        SLAVE,
        MASTER,
        controls,
        FILL_CAP,
        "the pty, from its slave through OPOST",
    )?;
    write_all(MASTER, TYPED)?;
    check_eq(
        "poll of the slave once the master typed (it waits for the flush worker; a line being edited is not readable)",
        poll_in(SLAVE, 0)?,
        0,
    )?;
    Ok((index, n))
}

/// Steps 3 to 5 (see the module doc) on the pty [`prepare`] filled with `n` bytes: what the
/// master reads of the echoes.
fn drain_and_type(n: usize) -> Result<Outcome, String> {
    let got = read_len(MASTER, PROMPT.len() + n, "the master, full")?;
    let (prompt, filler) = got.split_at(PROMPT.len());
    check_bytes("what the master reads first", prompt, PROMPT)?;
    check_pattern(
        &format!("what the master reads of the {n} bytes that filled it"),
        filler,
        controls,
    )?;
    check_eq(
        format_args!(
            "poll of the master after its {} bytes (the echoes pending, nothing writes them)",
            got.len()
        ),
        poll_in(MASTER, QUIET_MS)?,
        0,
    )?;
    check_eq(
        "a read of the master, non-blocking, read to its end",
        try_read(MASTER),
        Err(libc::EAGAIN),
    )?;
    write_all(MASTER, TRIGGER)?;
    let pending = read_until_quiet(MASTER, QUIET_MS, "the master, once \"c\" was typed")?;
    write_all(MASTER, MORE)?;
    wait_readable(SLAVE, "the slave, once a newline ended its line")?;
    check_bytes(
        "the line the slave reads (\"ab\", ^A and 0xff: the tab and \"c\" erased)",
        &read_once(SLAVE, 256, "the slave")?,
        LINE,
    )?;
    check_eq("poll of the slave after its line", poll_in(SLAVE, 0)?, 0)?;
    let after = read_until_quiet(MASTER, QUIET_MS, "the master, once the line ended")?;
    Ok(Outcome { pending, after })
}

/// The steps on a pty of the test's, closed at the end: what a pty never checkpointed gives.
fn reference() -> Result<Outcome, String> {
    let out = prepare().and_then(|(_, n)| drain_and_type(n));
    close_all(&[MASTER, SLAVE]);
    let out = out?;
    match out.pending.starts_with(ECHOED_FIRST) && out.pending.ends_with(TRIGGER) {
        true => Ok(out),
        false => Err(format!(
            "once \"c\" was typed the master read \"{}\": not the pending echoes (\"{}\" first) and then \"c\"",
            out.pending.escape_ascii(),
            ECHOED_FIRST.escape_ascii()
        )),
    }
}

/// In the target: steps 1 and 2, its index recorded; once restored, the checks of the module
/// doc against `reference`.
fn setup(reference: Outcome) -> Result<impl FnOnce() -> Check, String> {
    let (index, n) = prepare()?;
    INDEX.store(
        u64::from(u32::MAX) << 32 | u64::from(index),
        Ordering::SeqCst,
    );
    let held = inq(MASTER)?;
    Ok(move || {
        wait_restored();
        check(n, held, &reference)
    })
}

/// In the target, restored: FIONREAD of both sides as before, then steps 3 to 5, giving the
/// reference's bytes.
fn check(n: usize, held: usize, reference: &Outcome) -> Check {
    check_eq(
        "FIONREAD of the master after the restart (its line discipline's bytes, as at the checkpoint)",
        inq(MASTER)?,
        held,
    )?;
    check_eq(
        "FIONREAD of the slave after the restart (a line being edited, none complete)",
        inq(SLAVE)?,
        0,
    )?;
    let got = drain_and_type(n)?;
    check_bytes(
        "what the master reads once \"c\" is typed, drained (the pending echoes, then \"c\", as on the reference pty)",
        &got.pending,
        &reference.pending,
    )?;
    check_bytes(
        "what the master reads once a tab, DEL, DEL and a newline are typed (as on the reference pty)",
        &got.after,
        &reference.after,
    )
}

/// The image holds what the target's N_TTY held: see the module doc.
fn check_image(target: &Target) {
    let image = Image::parse(&target.image());
    let at = image.next::<abi::Pty>(0);
    let pty = image.recs[at].decode::<abi::Pty>();
    let at = image.next::<abi::PtyQueue>(at);
    let q = image.recs[at].decode::<abi::PtyQueue>();
    let bytes: Vec<u8> = image.recs[at + 1..]
        .iter()
        .take_while(|r| r.ty == abi::RecordType::Data.id())
        .flat_map(|r| r.payload.iter().copied())
        .collect();
    let echo = SAVED_ECHOES.len() as u32;
    let got = (
        (pty.column, pty.canon_column),
        (q.len, q.canon, q.flip),
        (q.echo, q.echo_commit, q.echo_mark),
    );
    let want = (
        (PROMPT.len() as u32, PROMPT.len() as u32),
        (LINE_SO_FAR.len() as u32, 0, 0),
        (echo, echo, echo),
    );
    if got != want {
        target.fail(format!(
            "the image's pty holds ((column, canon_column), (len, canon, flip), (echo, echo_commit, echo_mark)) {got:?}, expected {want:?}"
        ));
    }
    let want = [LINE_SO_FAR, SAVED_ECHOES].concat();
    if let Err(e) = check_bytes("the bytes of the slave's queue in the image", &bytes, &want) {
        target.fail(e);
    }
}

fn main() {
    let reference =
        reference().unwrap_or_else(|e| fail(format!("the reference pty, never checkpointed: {e}")));
    let mut target = Target::spawn(move || setup(reference));
    let (_, index) = recorded_indexes(&target, &INDEX);
    target.checkpoint(KILL);
    if !dry_run() {
        check_image(&target);
        wait_released(&target, &[index]);
    }
    target.restart();
    target.finish();
    pass("a pty's echoes not written yet (its master's buffers full: chars, ^A and 0xff as echo operations, a tab and its erase) are saved as N_TTY held them and come back pending: the master reads what filled it and nothing more until a char is typed, then the echoes once and the char, and the echoes of an erase of a tab and of a char after them, exactly as a pty never checkpointed gives them; the slave reads the edited line");
}
