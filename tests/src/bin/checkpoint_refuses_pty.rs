//! Ptys in a state that restart could not make again are refused with EOPNOTSUPP and a log
//! line "pid P: fd F: a pty <why> is not supported" naming the target and an fd of the pty,
//! and the target runs on with its pty as it was: once it undid the state it checks that a
//! byte goes through each way (the slave in raw mode). Each target holds one pty: its master
//! (fd 30), `/dev/ptmx` opened `O_RDWR | O_NOCTTY` and unlocked, and its slave (fd 31),
//! `/dev/pts/N` opened `O_RDWR | O_NOCTTY`, in raw mode (cfmakeraw) unless said otherwise:
//!
//! - unread data towards the slave: the target writes "x" to the master and waits until the
//!   slave is readable (poll), nobody reads it: "with unread input or output"; afterwards the
//!   slave reads "x";
//! - unread data towards the master: the target writes "y" to the slave and waits until the
//!   master is readable (the kernel's flush worker passed it on), nobody reads it: the same;
//!   afterwards the master reads "y";
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
//! Where both sides are open a line naming either fd passes: the state is the pty's, not one
//! file's. With `CR_TESTS_DRY_RUN=1` only the targets' setup and their checks afterwards run.
//! `checkpoint_refuses_pty WORD` runs only the cases whose name holds WORD; each case prints
//! the kernel's log lines of its refusal.

use std::os::fd::RawFd;

use cr_tests::pty::{
    ioctl_get, locked, make_raw, open_master_at, open_slave_at, read_within, set_locked, tcgetattr,
    try_read, try_write, unlock, wait_readable, wait_writable,
};
use cr_tests::target::dry_run;
use cr_tests::unix::{check_bytes, close_all};
use cr_tests::{check_eq, check_os, log_names, pass, wait_restored, write_all};
use cr_tests::{Check, Refusal, Target};

/// The pty's master and slave in each target.
const MASTER: RawFd = 30;
const SLAVE: RawFd = 31;
/// Both, for a line that may name either.
const BOTH: &[RawFd] = &[MASTER, SLAVE];

/// What the log line of each refusal says.
const UNREAD: &str = "a pty with unread input or output is not supported";
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
    write_all(MASTER, b"b")?;
    check_bytes(
        "what the slave reads of \"b\" written to the master",
        &read_within(SLAVE, "the slave")?,
        b"b",
    )?;
    write_all(SLAVE, b"c")?;
    check_bytes(
        "what the master reads of \"c\" written to the slave",
        &read_within(MASTER, "the master")?,
        b"c",
    )
}

/// "x" written to the master, in the slave's line discipline, unread.
fn unread_towards_slave() -> Check {
    open_pair(true)?;
    write_all(MASTER, b"x")?;
    wait_readable(SLAVE, "the slave, after \"x\" was written to the master")
}

fn still_unread_towards_slave() -> Check {
    check_bytes(
        "what the slave reads",
        &read_within(SLAVE, "the slave")?,
        b"x",
    )?;
    byte_goes_through()
}

/// "y" written to the slave, passed on to the master, unread.
fn unread_towards_master() -> Check {
    open_pair(true)?;
    write_all(SLAVE, b"y")?;
    wait_readable(MASTER, "the master, after \"y\" was written to the slave")
}

fn still_unread_towards_master() -> Check {
    check_bytes(
        "what the master reads",
        &read_within(MASTER, "the master")?,
        b"y",
    )?;
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
        name: "unread towards the slave",
        refusal: Refusal {
            setup: unread_towards_slave,
            named: UNREAD,
            works: still_unread_towards_slave,
        },
        fds: BOTH,
    },
    Case {
        name: "unread towards the master",
        refusal: Refusal {
            setup: unread_towards_master,
            named: UNREAD,
            works: still_unread_towards_master,
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
    pass("a pty with unread data towards its slave or its master, in exclusive mode (TIOCEXCL), stopped by flow control (^S), locked again (TIOCSPTLCK) with its slave open, whose master is closed, with locked termios (TIOCSLCKTRMIOS) or whose slave the test opened too is refused with EOPNOTSUPP and a log line naming the target, an fd of the pty and why; each target runs on with its pty as it was, and once it undid the state a byte goes through each way");
}
