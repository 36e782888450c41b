//! Epoll instances come back with their interest lists, shared by the processes that hold
//! them. The target holds a pipe, three eventfds and two epolls:
//!
//! - INNER, close-on-exec and made non-blocking with fcntl(), watches the pipe's read end
//!   (EPOLLIN);
//! - OUTER watches the read end edge-triggered (EPOLLIN | EPOLLET | EPOLLRDHUP); E1 one-shot;
//!   E2 one-shot, fired before the checkpoint and so disabled, with E2 left readable (a watch
//!   that came back enabled would report it); INNER (EPOLLIN: nested); and E3 (EPOLLOUT |
//!   EPOLLEXCLUSIVE), added under fd E3_ADDED and since moved to fd E3 with dup2(): the watch
//!   keeps the number it was added with.
//!
//! /proc/self/fdinfo shows the same watches (fd, events, data) before and after. After the
//! restart OUTER reports E3 alone; a write into the pipe is reported once by the edge-triggered
//! watch and, for as long as the pipe holds it, by INNER and through INNER by OUTER; a second
//! write is a new edge; a write into E1 is reported once; the watch of E3 is not found under E3
//! (ENOENT). A child holding OUTER finds the same instance: adding E1 under its fd again is
//! EEXIST, and a watch it adds under another fd shows in the target's fdinfo.
//!
//! A watch of a signalfd is woken by the signals of the process that added it. SIG_EP watches
//! SFD, a signalfd for SIGUSR2 (blocked in every thread), with a watch the target added; the
//! child holds both too, but the target is first in the image, restores SIG_EP and adds the
//! watch again. A second thread of the target sleeps in epoll_wait() on SIG_EP, without a
//! timeout, across checkpoint and restart. After the restart SIG_EP reports nothing until the
//! target sends itself SIGUSR2, which wakes that thread within 5 s with the watch's data; an
//! epoll_wait() with a timeout reports the same, and SFD gives SIGUSR2.

use std::fmt;
use std::os::fd::RawFd;
use std::time::Duration;

use cr_tests::proc::{proc_state, wait_in_syscall};
use cr_tests::target::fork_checker;
use cr_tests::threads::{self, Thread};
use cr_tests::{
    check_eq, check_fd_flags, check_os, epoll_add, epoll_ctl, pass, pipe_at, read_u64, signalfd_at,
    wait_restored, Check, Target,
};

const PIPE_R: RawFd = 20;
const PIPE_W: RawFd = 21;
const E1: RawFd = 22;
const E2: RawFd = 23;
/// The fd E3's watch was added with, closed since.
const E3_ADDED: RawFd = 24;
const INNER: RawFd = 25;
const OUTER: RawFd = 26;
/// A signalfd for SIGUSR2.
const SFD: RawFd = 27;
/// An epoll that watches SFD.
const SIG_EP: RawFd = 28;
/// Where E3 lives on.
const E3: RawFd = 30;
/// The child's second fd for E1, under which it adds a watch to OUTER after the restart.
const CHILD_E1: RawFd = 40;

/// INNER's data for the pipe.
const INNER_PIPE_DATA: u64 = 0xA1;
/// OUTER's data for the pipe: all 64 bits count.
const PIPE_DATA: u64 = 0x1111_2222_3333_4444;
const E1_DATA: u64 = 0xE1;
const E2_DATA: u64 = 0xE2;
const E3_DATA: u64 = 0xE3;
/// OUTER's data for INNER.
const INNER_DATA: u64 = 0x1AA;
const CHILD_DATA: u64 = 0xC40;
/// SIG_EP's data for SFD.
const SFD_DATA: u64 = 0x5167_5FD0_0000_0002;
/// The signal SFD takes: SIGUSR1 is the harness's "restored" signal.
const SIGNAL: libc::c_int = libc::SIGUSR2;
/// `__NR_epoll_wait`, `__NR_epoll_pwait` and `__NR_restart_syscall`, as
/// /proc/PID/task/TID/syscall shows them: where a thread asleep in epoll_wait() may be.
const NR_EPOLL_WAITS: [i64; 3] = [
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_restart_syscall,
];

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const PRI: u32 = libc::EPOLLPRI as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;
const ET: u32 = libc::EPOLLET as u32;
const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
/// What epoll_ctl() adds to every watch.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// A watch as /proc/PID/fdinfo shows it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Watch {
    fd: RawFd,
    events: u32,
    data: u64,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Watch { fd, events, data } = *self;
        write!(f, "(fd {fd}, events {events:#x}, data {data:#x})")
    }
}

fn watch(fd: RawFd, events: u32, data: u64) -> Watch {
    Watch { fd, events, data }
}

/// What epoll_wait() reports of a watch: its data, and the events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event(u64, u32);

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(data {:#x}, events {:#x})", self.0, self.1)
    }
}

fn eventfd_at(fd: RawFd) -> Check {
    // SAFETY: creates an fd and moves it to `fd`, which the target does not use otherwise.
    unsafe {
        let got = libc::eventfd(0, 0);
        check_os(got, "eventfd")?;
        check_os(libc::dup2(got, fd), "dup2")?;
        libc::close(got);
    }
    Ok(())
}

fn epoll_at(fd: RawFd, flags: libc::c_int) -> Check {
    // SAFETY: creates an fd and moves it to `fd`, which the target does not use otherwise.
    unsafe {
        let got = libc::epoll_create1(flags);
        check_os(got, "epoll_create1")?;
        check_os(libc::dup3(got, fd, flags & libc::EPOLL_CLOEXEC), "dup3")?;
        libc::close(got);
    }
    Ok(())
}

/// What epoll_wait() of `ep` reports without waiting, by data.
fn ready(ep: RawFd) -> Result<Vec<Event>, String> {
    wait_events(ep, 0)
}

/// What epoll_wait() of `ep` reports within `timeout_ms` (-1: no timeout), by data.
fn wait_events(ep: RawFd, timeout_ms: libc::c_int) -> Result<Vec<Event>, String> {
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
    // SAFETY: `evs` has room for as many events as it is told.
    let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as libc::c_int, timeout_ms) };
    check_os(n, format_args!("epoll_wait({ep})"))?;
    let mut got: Vec<Event> = evs[..n as usize]
        .iter()
        .map(|e| Event(e.u64, e.events))
        .collect();
    got.sort();
    Ok(got)
}

/// The watches of epoll `ep` in /proc/self/fdinfo, sorted.
fn watches(ep: RawFd) -> Result<Vec<Watch>, String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{ep}"))
        .map_err(|e| format!("read fdinfo of {ep}: {e}"))?;
    let mut all = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("tfd:")) {
        // "tfd: %8d events: %8x data: %16llx  pos:..."
        let words: Vec<&str> = line.split_whitespace().collect();
        let parsed = match words[..] {
            ["tfd:", fd, "events:", events, "data:", data, ..] => (
                fd.parse().ok(),
                u32::from_str_radix(events, 16).ok(),
                u64::from_str_radix(data, 16).ok(),
            ),
            _ => (None, None, None),
        };
        let (Some(fd), Some(events), Some(data)) = parsed else {
            return Err(format!("fdinfo of epoll {ep}: cannot read {line:?}"));
        };
        all.push(watch(fd, events, data));
    }
    all.sort();
    Ok(all)
}

fn write_u64(fd: RawFd, v: u64) -> Check {
    // SAFETY: writes 8 bytes from `v`.
    let n = unsafe { libc::write(fd, (&raw const v).cast(), 8) };
    check_os(n as i64, format_args!("write to eventfd {fd}"))?;
    check_eq(format_args!("bytes written to eventfd {fd}"), n, 8)
}

fn write_byte(fd: RawFd) -> Check {
    // SAFETY: writes one byte from a literal.
    let n = unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
    check_os(n as i64, format_args!("write to fd {fd}"))?;
    check_eq(format_args!("bytes written to fd {fd}"), n, 1)
}

fn expected_inner() -> Vec<Watch> {
    vec![watch(PIPE_R, IN | ALWAYS, INNER_PIPE_DATA)]
}

fn expected_outer() -> Vec<Watch> {
    let mut all = vec![
        watch(PIPE_R, IN | ET | RDHUP | ALWAYS, PIPE_DATA),
        watch(E1, IN | ONESHOT | ALWAYS, E1_DATA),
        // Fired: only the bits that say how it reports are left.
        watch(E2, ONESHOT, E2_DATA),
        watch(E3_ADDED, OUT | EXCLUSIVE | ALWAYS, E3_DATA),
        watch(INNER, IN | ALWAYS, INNER_DATA),
    ];
    all.sort();
    all
}

/// SFD, a signalfd for [`SIGNAL`], which is blocked, and SIG_EP, which watches it for input
/// with [`SFD_DATA`].
fn signalfd_watched() -> Check {
    signalfd_at(SFD, &[SIGNAL], 0)?;
    epoll_at(SIG_EP, 0)?;
    epoll_add(SIG_EP, SFD, IN, SFD_DATA)
}

/// The signal a read of SFD gives, or the errno.
fn read_signal() -> Result<u32, i32> {
    // SAFETY: a zeroed signalfd_siginfo is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` has room for `size` bytes.
    let n = unsafe { libc::read(SFD, (&raw mut info).cast(), size) };
    match n {
        n if n == size as isize => Ok(info.ssi_signo),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// Starts the thread that sleeps in epoll_wait() on SIG_EP, without a timeout, until SFD is
/// readable; returns it once it sleeps there, with its tid.
fn start_waiter() -> Result<(Thread, libc::pid_t), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = threads::spawn(move || {
        let _ = tx.send(threads::gettid());
        check_eq(
            "what the thread asleep in epoll_wait() on SIG_EP is woken with",
            wait_events(SIG_EP, -1)?,
            vec![Event(SFD_DATA, IN)],
        )
    })?;
    let tid = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the waiting thread did not start".to_string())?;
    wait_in_syscall(tid, &NR_EPOLL_WAITS)?;
    Ok((waiter, tid))
}

/// In the target, after the restart: SIG_EP, restored by the target, is woken by the
/// target's SIGUSR2, and so is `waiter` (thread `tid`), asleep in epoll_wait() on it.
fn check_signalfd(waiter: Thread, tid: libc::pid_t) -> Check {
    check_eq(
        "SIG_EP's watches",
        watches(SIG_EP)?,
        vec![watch(SFD, IN | ALWAYS, SFD_DATA)],
    )?;
    check_eq("SIG_EP's events before SIGUSR2", ready(SIG_EP)?, vec![])?;
    // Asleep when the signal comes: its wakeup is what is tested, not only SFD's readiness.
    wait_in_syscall(tid, &NR_EPOLL_WAITS)?;
    // SAFETY: sends a signal that every thread of ours blocks to ourselves.
    check_os(
        unsafe { libc::kill(libc::getpid(), SIGNAL) },
        "kill(getpid(), SIGUSR2)",
    )?;
    waiter
        .join(Duration::from_secs(5))
        .map_err(|e| format!("SIG_EP's waiting thread, within 5 s of SIGUSR2: {e}"))?;
    check_eq(
        "SIG_EP's events within 5 s of SIGUSR2",
        wait_events(SIG_EP, 5000)?,
        vec![Event(SFD_DATA, IN)],
    )?;
    check_eq("the signal read from SFD", read_signal(), Ok(SIGNAL as u32))?;
    check_eq(
        "SIG_EP's events once SIGUSR2 was read",
        ready(SIG_EP)?,
        vec![],
    )
}

/// In the child, after the restart: OUTER is the target's instance, with its watches.
fn child() -> Check {
    check_eq(
        "EPOLL_CTL_ADD of E1 under its fd to the shared OUTER",
        epoll_ctl(OUTER, libc::EPOLL_CTL_ADD, E1, IN, 0),
        Err(libc::EEXIST),
    )?;
    // SAFETY: dup2 of our own fd to a free number.
    check_os(unsafe { libc::dup2(E1, CHILD_E1) }, "dup2")?;
    // Never reported (an eventfd has no priority data); stays while the target holds E1.
    epoll_add(OUTER, CHILD_E1, PRI, CHILD_DATA)
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    pipe_at(PIPE_R, PIPE_W, 0)?;
    eventfd_at(E1)?;
    eventfd_at(E2)?;
    epoll_at(INNER, libc::EPOLL_CLOEXEC)?;
    epoll_at(OUTER, 0)?;
    // SAFETY: fcntl on our own fd.
    let r = unsafe { libc::fcntl(INNER, libc::F_SETFL, libc::O_NONBLOCK) };
    check_os(r, "F_SETFL")?;
    epoll_add(INNER, PIPE_R, IN, INNER_PIPE_DATA)?;
    epoll_add(OUTER, PIPE_R, IN | ET | RDHUP, PIPE_DATA)?;
    epoll_add(OUTER, E1, IN | ONESHOT, E1_DATA)?;
    epoll_add(OUTER, E2, IN | ONESHOT, E2_DATA)?;
    epoll_add(OUTER, INNER, IN, INNER_DATA)?;
    // E2's one-shot watch fires once and is disabled; E2 stays readable.
    write_u64(E2, 1)?;
    check_eq(
        "OUTER's events, E2 written",
        ready(OUTER)?,
        vec![Event(E2_DATA, IN)],
    )?;
    check_eq("OUTER's events, E2 reported", ready(OUTER)?, vec![])?;
    eventfd_at(E3_ADDED)?;
    epoll_add(OUTER, E3_ADDED, OUT | EXCLUSIVE, E3_DATA)?;
    // SAFETY: dup2 and close of our own fds.
    unsafe {
        check_os(libc::dup2(E3_ADDED, E3), "dup2")?;
        libc::close(E3_ADDED);
    }
    let inner = watches(INNER)?;
    let outer = watches(OUTER)?;
    check_eq(
        "INNER's watches before the checkpoint",
        &inner,
        &expected_inner(),
    )?;
    check_eq(
        "OUTER's watches before the checkpoint",
        &outer,
        &expected_outer(),
    )?;

    signalfd_watched()?;

    let kid = fork_checker(|| {
        wait_restored();
        child()
    })?;
    // After the fork: the child is forked from a process with one thread.
    let (waiter, tid) = start_waiter()?;
    Ok(move || {
        wait_restored();
        check(kid, inner, outer)?;
        check_signalfd(waiter, tid)
    })
}

/// In the target, after the restart; `inner` and `outer` are the watches fdinfo showed before.
fn check(kid: libc::pid_t, inner: Vec<Watch>, outer: Vec<Watch>) -> Check {
    for fd in [INNER, OUTER] {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map_err(|e| format!("readlink fd {fd}: {e}"))?;
        check_eq(
            format_args!("fd {fd} target"),
            link.to_string_lossy().into_owned(),
            "anon_inode:[eventpoll]".to_string(),
        )?;
    }
    check_fd_flags(INNER, libc::O_RDWR | libc::O_NONBLOCK, true)?;
    check_fd_flags(OUTER, libc::O_RDWR, false)?;
    check_eq("INNER's watches", watches(INNER)?, inner)?;
    check_eq("OUTER's watches", watches(OUTER)?, outer.clone())?;

    // Nothing to read but E2, whose watch is disabled; E3 can be written.
    check_eq("OUTER's events", ready(OUTER)?, vec![Event(E3_DATA, OUT)])?;
    check_eq("INNER's events", ready(INNER)?, vec![])?;
    // The watch is E3's file under the fd it was added with.
    check_eq(
        "EPOLL_CTL_MOD of E3 under its new fd",
        epoll_ctl(OUTER, libc::EPOLL_CTL_MOD, E3, OUT, E3_DATA),
        Err(libc::ENOENT),
    )?;

    write_byte(PIPE_W)?;
    check_eq(
        "OUTER's events after a write into the pipe",
        ready(OUTER)?,
        vec![
            Event(E3_DATA, OUT),
            Event(INNER_DATA, IN),
            Event(PIPE_DATA, IN),
        ],
    )?;
    check_eq(
        "INNER's events after a write into the pipe",
        ready(INNER)?,
        vec![Event(INNER_PIPE_DATA, IN)],
    )?;
    // The edge was reported; INNER's watch is level-triggered and the pipe holds a byte.
    check_eq(
        "OUTER's events again",
        ready(OUTER)?,
        vec![Event(E3_DATA, OUT), Event(INNER_DATA, IN)],
    )?;
    write_byte(PIPE_W)?;
    check_eq(
        "OUTER's events after a second write into the pipe",
        ready(OUTER)?,
        vec![
            Event(E3_DATA, OUT),
            Event(INNER_DATA, IN),
            Event(PIPE_DATA, IN),
        ],
    )?;

    write_u64(E1, 1)?;
    check_eq(
        "OUTER's events after a write into E1",
        ready(OUTER)?,
        vec![
            Event(E1_DATA, IN),
            Event(E3_DATA, OUT),
            Event(INNER_DATA, IN),
        ],
    )?;
    check_eq(
        "OUTER's events once E1 was reported",
        ready(OUTER)?,
        vec![Event(E3_DATA, OUT), Event(INNER_DATA, IN)],
    )?;
    check_eq("E2's count", read_u64(E2), Ok(1))?;
    let mut want: Vec<Watch> = outer
        .into_iter()
        .map(|w| match w.fd {
            E1 => watch(E1, ONESHOT, E1_DATA),
            _ => w,
        })
        .collect();
    check_eq(
        "OUTER's watches once E1 fired",
        watches(OUTER)?,
        want.clone(),
    )?;

    // The child adds a watch to its OUTER: this one.
    // SAFETY: kill takes integers; `kid` is our unreaped child.
    check_os(unsafe { libc::kill(kid, libc::SIGUSR1) }, "wake the child")?;
    let status = cr_tests::sys::waitpid(kid).map_err(|e| format!("wait for the child: {e}"))?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "the child {}",
            cr_tests::proc::wait_status_text(status)
        ));
    }
    want.push(watch(CHILD_E1, PRI | ALWAYS, CHILD_DATA));
    want.sort();
    check_eq("OUTER's watches after the child's", watches(OUTER)?, want)
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(1);
    target.wait_until("for the child to sleep", || {
        proc_state(kids[0]) == Some('S')
    });
    target.cycle_tree(&kids);
    target.finish();
    pass("epoll instances come back with their watches (fd, events, data; edge-triggered, one-shot fired or not, exclusive, nested, under a closed fd), shared with a child; a watch of a signalfd the restoring process added wakes a thread asleep in epoll_wait() on its signal");
}
