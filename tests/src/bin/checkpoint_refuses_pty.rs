//! Ptys in a state that restart could not make again are refused with EOPNOTSUPP and a log
//! line "pid P: fd F: a pty <why> is not supported" naming the target and an fd of the pty,
//! and the target runs on with its pty as it was: once it undid the state it checks that a
//! byte goes through each way (the slave in raw mode). Each target holds one pty: its master
//! (fd 30), `/dev/ptmx` opened `O_RDWR | O_NOCTTY` and unlocked, and its slave (fd 31),
//! `/dev/pts/N` opened `O_RDWR | O_NOCTTY`, in raw mode (cfmakeraw) unless said otherwise:
//!
//! - more than a line discipline holds: the slave canonical with PARMRK, without ECHO, ISIG,
//!   IEXTEN, ISTRIP, IXON or ICRNL; the target writes to the master 4095 bytes "a", 64 bytes
//!   0xff and a newline, and waits until FIONREAD of the slave is more than 4096 (N_TTY, full
//!   with no complete line, takes a byte at a time and keeps each 0xff twice): "holding more
//!   unread bytes than checkpoint saves"; afterwards FIONREAD is still more than 4096, the
//!   slave is read to its end (non-blocking) and bytes go through;
//! - the slave in exclusive mode (TIOCEXCL): "in exclusive mode (TIOCEXCL)"; afterwards
//!   TIOCGEXCL is 1, and 0 after TIOCNXCL;
//! - the slave stopped by flow control: its termios as a new pty's (IXON), the target writes
//!   ^S to the master and waits until poll() of the slave no longer says POLLOUT: "stopped
//!   by flow control"; afterwards the slave is still stopped, and ^Q starts it;
//! - the pty locked again with its slave open (TIOCSPTLCK 1 on the master): "locked
//!   (TIOCSPTLCK) with its slave open"; afterwards TIOCGPTLCK is 1, and unlocked the pty
//!   works;
//! - the master closed, only the slave left: "whose master is closed", naming the slave's
//!   fd; afterwards the slave is hung up (a read gives 0 bytes, a write EIO);
//! - locked termios (TIOCSLCKTRMIOS with c_lflag ECHO, as root): "with locked termios
//!   (TIOCSLCKTRMIOS)"; afterwards TIOCGLCKTRMIOS gives c_lflag ECHO, and unlocked the pty
//!   works;
//! - the slave also opened by the test (`/dev/pts/N`, the path the target's fd 31 links to):
//!   leak detection refuses it with EOPNOTSUPP (a subtree checkpoint: restart could not share
//!   it again) and "the pty is also open outside the tree", naming the target and an fd of
//!   the pty.
//!
//! A pty with echoes not written yet (its master's buffers full) is saved, not refused
//! (`restore_pty_echoes`). Where both sides are open a line naming either fd passes: the
//! state is the pty's, not one file's. With `CR_TESTS_DRY_RUN=1` only the targets' setup and
//! their checks afterwards run. `checkpoint_refuses_pty WORD` runs only the cases whose name
//! holds WORD; each case prints the kernel's log lines of its refusal.

use std::os::fd::RawFd;

use cr_tests::pty::{
    byte_each_way, inq, ioctl_get, locked, make_raw, open_master_at, open_slave_at, set_locked,
    tcgetattr, tcsetattr, try_read, try_write, unlock, wait_writable,
};
use cr_tests::target::dry_run;
use cr_tests::unix::{close_all, set_nonblock};
use cr_tests::{check_eq, check_os, log_names, pass, wait_restored, write_all};
use cr_tests::{Check, Refusal, Target};

/// The pty's master and slave in each target.
const MASTER: RawFd = 30;
const SLAVE: RawFd = 31;
/// Both, for a line that may name either.
const BOTH: &[RawFd] = &[MASTER, SLAVE];

/// What the log line of each refusal says.
const OVERRUN: &str = "a pty holding more unread bytes than checkpoint saves is not supported";
const EXCLUSIVE: &str = "a pty in exclusive mode (TIOCEXCL) is not supported";
const STOPPED: &str = "a pty stopped by flow control is not supported";
const RELOCKED: &str = "a pty locked (TIOCSPTLCK) with its slave open is not supported";
const MASTER_CLOSED: &str = "a pty whose master is closed is not supported";
const LOCKED_TERMIOS: &str = "a pty with locked termios (TIOCSLCKTRMIOS) is not supported";
const OUTSIDE: &str = "the pty is also open outside the tree";

/// The flow control characters: STOP (^S) and START (^Q), as a new pty's termios has them.
const STOP: u8 = 0x13;
const START: u8 = 0x11;

/// In the target: a pty, its master on [`MASTER`], unlocked, its slave on [`SLAVE`], in raw
/// mode if `raw`.
fn open_pair(raw: bool) -> Check {
    open_master_at(0, MASTER)?;
    unlock(MASTER)?;
    open_slave_at(MASTER, 0, SLAVE)?;
    match raw {
        true => make_raw(SLAVE),
        false => Ok(()),
    }
}

/// In the target, once it undid the refused state: with the slave in raw mode, a byte
/// written to the master is read from the slave, and one written to the slave from the
/// master.
fn byte_goes_through() -> Check {
    make_raw(SLAVE)?;
    byte_each_way(MASTER, SLAVE, "the pty")
}

/// How many bytes 0xff the target writes after the 4095 bytes "a" that fill the slave's line
/// discipline but for one byte.
const OVERRUN_FF: usize = 64;

/// The slave canonical with PARMRK, not echoing nor signalling; the master writes 4095 bytes
/// "a", then [`OVERRUN_FF`] bytes 0xff and a newline: N_TTY, its buffer full with no line
/// complete, still takes one byte at a time, keeping each 0xff twice (PARMRK) for one it
/// drops, and so holds more than its 4096-byte buffer (Linux 6.12 does). The target waits
/// until FIONREAD of the slave (the complete line) is more than 4096.
fn overrun() -> Check {
    open_pair(false)?;
    let mut t = tcgetattr(SLAVE)?;
    t.c_lflag = (t.c_lflag | libc::ICANON) & !(libc::ECHO | libc::ISIG | libc::IEXTEN);
    t.c_iflag = (t.c_iflag | libc::PARMRK) & !(libc::ISTRIP | libc::IXON | libc::ICRNL);
    tcsetattr(SLAVE, &t)?;
    write_all(MASTER, &[b'a'; 4095])?;
    write_all(MASTER, &[0xff; OVERRUN_FF])?;
    write_all(MASTER, b"\n")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = inq(SLAVE)?;
        if n > 4096 {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "FIONREAD of the slave is {n} 5 s after 4095 bytes \"a\", {OVERRUN_FF} bytes 0xff and a newline with PARMRK: not more than 4096"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// The slave's line, whatever N_TTY made of it, is read to its end; then bytes go through.
fn still_overrun() -> Check {
    check_eq(
        "FIONREAD of the slave, more than 4096",
        inq(SLAVE)? > 4096,
        true,
    )?;
    set_nonblock(SLAVE, true)?;
    let mut reads = 0;
    while try_read(SLAVE).is_ok() {
        reads += 1;
        if reads > 4096 {
            return Err("the slave still gives bytes after 4096 reads".into());
        }
    }
    set_nonblock(SLAVE, false)?;
    byte_goes_through()
}

/// The slave in exclusive mode.
fn exclusive() -> Check {
    open_pair(true)?;
    // SAFETY: TIOCEXCL takes no argument.
    let r = unsafe { libc::ioctl(SLAVE, libc::TIOCEXCL) };
    check_os(r, "TIOCEXCL on the slave")?;
    check_eq(
        "TIOCGEXCL of the slave",
        ioctl_get(SLAVE, libc::TIOCGEXCL, "TIOCGEXCL")?,
        1,
    )
}

fn still_exclusive() -> Check {
    check_eq(
        "TIOCGEXCL of the slave",
        ioctl_get(SLAVE, libc::TIOCGEXCL, "TIOCGEXCL")?,
        1,
    )?;
    // SAFETY: TIOCNXCL takes no argument.
    let r = unsafe { libc::ioctl(SLAVE, libc::TIOCNXCL) };
    check_os(r, "TIOCNXCL on the slave")?;
    check_eq(
        "TIOCGEXCL of the slave after TIOCNXCL",
        ioctl_get(SLAVE, libc::TIOCGEXCL, "TIOCGEXCL")?,
        0,
    )?;
    byte_goes_through()
}

/// The slave, with IXON (a new pty's termios), stopped by a ^S written to the master.
fn stopped() -> Check {
    open_pair(false)?;
    let t = tcgetattr(SLAVE)?;
    if t.c_iflag & libc::IXON == 0 || t.c_cc[libc::VSTOP] != STOP {
        return Err(format!(
            "a new pty's slave has c_iflag {:#o} and VSTOP {:#x}: not IXON with ^S",
            t.c_iflag,
            t.c_cc[libc::VSTOP]
        ));
    }
    write_all(MASTER, &[STOP])?;
    wait_writable(
        SLAVE,
        false,
        "the slave, after ^S was written to the master",
    )
}

fn still_stopped() -> Check {
    wait_writable(SLAVE, false, "the slave, stopped by ^S")?;
    write_all(MASTER, &[START])?;
    wait_writable(SLAVE, true, "the slave, after ^Q was written to the master")?;
    byte_goes_through()
}

/// The pty locked again once its slave is open.
fn relocked() -> Check {
    open_pair(true)?;
    set_locked(MASTER, true)?;
    check_eq("TIOCGPTLCK of the master", locked(MASTER)?, 1)
}

fn still_relocked() -> Check {
    check_eq("TIOCGPTLCK of the master", locked(MASTER)?, 1)?;
    set_locked(MASTER, false)?;
    byte_goes_through()
}

/// The master closed: only the slave is left, hung up.
fn master_closed() -> Check {
    open_pair(true)?;
    close_all(&[MASTER]);
    Ok(())
}

fn still_master_closed() -> Check {
    check_eq(
        "a read of the slave whose master is closed (hung up)",
        try_read(SLAVE),
        Ok(Vec::new()),
    )?;
    check_eq(
        "a write to the slave whose master is closed (hung up)",
        try_write(SLAVE, b"z"),
        Err(libc::EIO),
    )
}

/// The termios a TIOCGLCKTRMIOS or TIOCSLCKTRMIOS of `fd` reads or writes (`what`: its name).
fn locked_termios(fd: RawFd, request: libc::Ioctl, t: &mut libc::termios, what: &str) -> Check {
    // SAFETY: the request reads or writes the kernel's struct termios, a prefix of libc's.
    let r = unsafe { libc::ioctl(fd, request, &raw mut *t) };
    check_os(r, format_args!("{what} of fd {fd}"))
}

/// ECHO of the slave's termios locked.
fn termios_locked() -> Check {
    open_pair(true)?;
    // SAFETY: an all-zero termios is valid: nothing locked.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    t.c_lflag = libc::ECHO;
    locked_termios(SLAVE, libc::TIOCSLCKTRMIOS, &mut t, "TIOCSLCKTRMIOS")
}

fn still_termios_locked() -> Check {
    // SAFETY: an all-zero termios is valid.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    locked_termios(SLAVE, libc::TIOCGLCKTRMIOS, &mut t, "TIOCGLCKTRMIOS")?;
    let flags = (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
    check_eq(
        "the locked termios flags (c_iflag, c_oflag, c_cflag, c_lflag)",
        flags,
        (0, 0, 0, libc::ECHO),
    )?;
    // SAFETY: as above: nothing locked.
    let mut none: libc::termios = unsafe { std::mem::zeroed() };
    locked_termios(SLAVE, libc::TIOCSLCKTRMIOS, &mut none, "TIOCSLCKTRMIOS")?;
    byte_goes_through()
}

/// A pty the test opens too.
fn pair() -> Check {
    open_pair(true)
}

/// A case: a target set up as `refusal` says, refused with a line naming one of `fds`.
struct Case {
    name: &'static str,
    refusal: Refusal,
    fds: &'static [RawFd],
}

/// The cases of a state of the target's own, by name.
const CASES: &[Case] = &[
    Case {
        name: "more than a line discipline holds",
        refusal: Refusal {
            setup: overrun,
            named: OVERRUN,
            works: still_overrun,
        },
        fds: BOTH,
    },
    Case {
        name: "exclusive",
        refusal: Refusal {
            setup: exclusive,
            named: EXCLUSIVE,
            works: still_exclusive,
        },
        fds: BOTH,
    },
    Case {
        name: "stopped",
        refusal: Refusal {
            setup: stopped,
            named: STOPPED,
            works: still_stopped,
        },
        fds: BOTH,
    },
    Case {
        name: "locked again",
        refusal: Refusal {
            setup: relocked,
            named: RELOCKED,
            works: still_relocked,
        },
        fds: BOTH,
    },
    Case {
        name: "master closed",
        refusal: Refusal {
            setup: master_closed,
            named: MASTER_CLOSED,
            works: still_master_closed,
        },
        fds: &[SLAVE],
    },
    Case {
        name: "locked termios",
        refusal: Refusal {
            setup: termios_locked,
            named: LOCKED_TERMIOS,
            works: still_termios_locked,
        },
        fds: BOTH,
    },
];

/// Fails unless one kernel log line of `target`'s names its pid, says `what` and names one of
/// `fds` ("fd F").
fn expect_line(target: &Target, what: &str, fds: &[RawFd]) {
    let pid = target.pid().to_string();
    let names = |line: &String| {
        let one = std::slice::from_ref(line);
        log_names(one, &pid)
            && line.contains(what)
            && fds.iter().any(|fd| log_names(one, &format!("fd {fd}")))
    };
    if !target.klog().iter().any(names) {
        target.fail(format!(
            "no kernel log line names pid {pid}, one of the fds {fds:?} (\"fd F\") and says {what:?}"
        ));
    }
}

/// Prints the kernel's log lines of the target's checkpoints, for the record, and expects
/// the target to pass its check.
fn show_log_and_finish(target: Target) {
    for line in target.klog() {
        println!("# kernel: {line}");
    }
    target.finish();
}

/// A case of the target's own state: refused by name, the target runs on and passes its
/// check. A dry run only sets up and checks.
fn run(case: &'static Case) {
    if dry_run() {
        let r = &case.refusal;
        let target = Target::spawn(move || {
            (r.setup)()?;
            Ok(move || {
                wait_restored();
                (r.works)()
            })
        });
        return target.finish();
    }
    let target = case.refusal.refused();
    expect_line(&target, case.refusal.named, case.fds);
    show_log_and_finish(target);
}

/// The slave also opened by the test, by the path the target's slave links to: leak
/// detection refuses it; the target runs on.
fn open_outside() {
    let mut target = Target::spawn(|| {
        pair()?;
        Ok(|| {
            wait_restored();
            byte_goes_through()
        })
    });
    let path = cr_tests::pty::slave_held(&target, target.pid(), SLAVE);
    let c = cr_tests::cstring(&path).unwrap_or_else(|e| target.fail(e));
    // SAFETY: open of a valid C string; the fd is the test's, closed at the end.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
    if fd < 0 {
        target.fail(cr_tests::os_error(format!("open {path}")));
    }
    if !dry_run() {
        target.expect_refused(OUTSIDE);
        expect_line(&target, OUTSIDE, BOTH);
    }
    show_log_and_finish(target);
    close_all(&[fd]);
}

fn main() {
    // `checkpoint_refuses_pty WORD` runs only the cases whose name holds WORD.
    let only = std::env::args().nth(1).unwrap_or_default();
    for case in CASES.iter().filter(|c| c.name.contains(&only)) {
        println!("# {}", case.name);
        run(case);
    }
    let outside = "open outside";
    if outside.contains(&only) {
        println!("# {outside}");
        open_outside();
    }
    pass("a pty holding more unread bytes than its line discipline's buffer (PARMRK), in exclusive mode (TIOCEXCL), stopped by flow control (^S), locked again (TIOCSPTLCK) with its slave open, whose master is closed, with locked termios (TIOCSLCKTRMIOS) or whose slave the test opened too is refused with EOPNOTSUPP and a log line naming the target, an fd of the pty and why; each target runs on with its pty as it was, and once it undid the state a byte goes through each way");
}
