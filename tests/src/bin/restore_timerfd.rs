//! Timerfds come back with their clock, timer and the expiries not yet read. The test waits
//! [`GAP`] between checkpoint and restart: a relative timer does not count that time (it has
//! the time it had left at the checkpoint), an absolute one keeps its expiry on its clock.
//!
//! - FIRED: a non-blocking periodic CLOCK_MONOTONIC timer of 1000 s that expired once at
//!   setup and was not read: one expiry to read after the restart, the next one still about
//!   1000 s away, the gap not counted;
//! - ONCE: a non-blocking one-shot timer that expired unread: one expiry, then disarmed;
//! - RELATIVE: a CLOCK_BOOTTIME timer due in 500 s with a 7 s period, non-blocking: due in
//!   (a little less than) 500 s after the restart, the gap not counted, still 7 s apart,
//!   nothing to read;
//! - ABSOLUTE: a CLOCK_REALTIME timer at a wall-clock time 1000 s after setup, with
//!   TFD_TIMER_ABSTIME and TFD_TIMER_CANCEL_ON_SET: the same wall-clock time, the same flags,
//!   and a read fails with ECANCELED once the test sets the clock (to what it is);
//! - WALL: a non-blocking CLOCK_REALTIME timer with TFD_TIMER_ABSTIME alone, at a wall-clock
//!   time 600 s after setup, every 11 s: the same wall-clock time (made relative it would be
//!   due the gap later), the same period, nothing to read, and setting the clock does not
//!   cancel it;
//! - IDLE: a close-on-exec CLOCK_REALTIME timer never set: disarmed.
//!
//! /proc/self/fdinfo shows the clock and flags of each. A timerfd an outside epoll watches is
//! refused by name.

use std::os::fd::RawFd;
use std::time::Duration;

use cr_tests::outside::{refused_while_used, watch_with_epoll};
use cr_tests::target::dry_run;
use cr_tests::{
    check_eq, check_fd_flags, check_os, pass, poll_in, read_u64, wait_restored, Check, Target, KILL,
};

const FIRED: RawFd = 20;
const RELATIVE: RawFd = 21;
const ABSOLUTE: RawFd = 22;
const IDLE: RawFd = 23;
const ONCE: RawFd = 24;
const WALL: RawFd = 25;

const SEC: i64 = 1_000_000_000;

/// How long the test waits between checkpoint and restart: the time a relative timer must
/// not count and an absolute one must.
const GAP: Duration = Duration::from_secs(3);
/// Half the gap: how far a timer may be off its expected expiry. A timer restored the wrong
/// way (absolute made relative, or relative counting the gap) is off by the whole gap or more.
const MARGIN: i64 = GAP.as_nanos() as i64 / 2;
/// WALL's period.
const WALL_PERIOD: i64 = 11 * SEC;

fn ts(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns / SEC,
        tv_nsec: ns % SEC,
    }
}

fn ns(t: libc::timespec) -> i64 {
    t.tv_sec * SEC + t.tv_nsec
}

fn timerfd_at(fd: RawFd, clock: libc::clockid_t, flags: libc::c_int) -> Check {
    // SAFETY: creates an fd and moves it to `fd`, which the target does not use otherwise.
    unsafe {
        let got = libc::timerfd_create(clock, flags);
        check_os(got, "timerfd_create")?;
        check_os(libc::dup3(got, fd, flags & libc::TFD_CLOEXEC), "dup3")?;
        libc::close(got);
    }
    Ok(())
}

fn settime(fd: RawFd, flags: libc::c_int, value: i64, interval: i64) -> Check {
    let spec = libc::itimerspec {
        it_value: ts(value),
        it_interval: ts(interval),
    };
    // SAFETY: `spec` is valid; the old value is not asked for.
    let r = unsafe { libc::timerfd_settime(fd, flags, &spec, std::ptr::null_mut()) };
    check_os(r, format_args!("timerfd_settime({fd})"))
}

/// The timer of `fd`: (ns to its expiry, its period).
fn gettime(fd: RawFd) -> Result<(i64, i64), String> {
    // SAFETY: a zeroed itimerspec for the call to fill.
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    // SAFETY: fills `spec`.
    check_os(
        unsafe { libc::timerfd_gettime(fd, &mut spec) },
        "timerfd_gettime",
    )?;
    Ok((ns(spec.it_value), ns(spec.it_interval)))
}

fn now(clock: libc::clockid_t) -> i64 {
    // SAFETY: a zeroed timespec for the call to fill.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: fills `t`.
    unsafe { libc::clock_gettime(clock, &mut t) };
    ns(t)
}

/// `clockid` and `settime flags` of `fd` in /proc/self/fdinfo.
fn fdinfo(fd: RawFd) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| format!("read fdinfo of {fd}: {e}"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    Ok((field("clockid:"), field("settime flags:")))
}

/// Within `(lo, hi]`.
fn check_within(what: &str, got: i64, lo: i64, hi: i64) -> Check {
    if got <= lo || got > hi {
        return Err(format!("{what}: {got} ns, not within ({lo}, {hi}]"));
    }
    Ok(())
}

/// `fd`'s absolute timer is still due at `at` on the wall clock, give or take [`MARGIN`]
/// (restored as a relative one it would be due [`GAP`] or more later), every `period`.
fn check_wall_expiry(name: &str, fd: RawFd, at: i64, period: i64) -> Check {
    let (value, interval) = gettime(fd)?;
    let left = at - now(libc::CLOCK_REALTIME);
    check_within(
        &format!("{name}'s expiry"),
        value,
        left - MARGIN,
        left + MARGIN,
    )?;
    check_eq(format_args!("{name}'s period"), interval, period)
}

/// `fd`'s relative timer, set to `full` at `set_at` on `clock`, ran down by less than the time
/// since then: the time between checkpoint and restart ([`GAP`] or more) is not counted.
/// A dry run has no such time: its timer counts it all.
fn check_gap_not_counted(
    name: &str,
    fd: RawFd,
    clock: libc::clockid_t,
    set_at: i64,
    full: i64,
) -> Check {
    let (value, _) = gettime(fd)?;
    // Read after the timer: what it ran down may only come out smaller.
    let since = now(clock) - set_at;
    let ran_down = full - value;
    if !dry_run() && ran_down > since - MARGIN {
        return Err(format!(
            "{name} ran down {ran_down} ns of the {since} ns since it was set: the time \
             between checkpoint and restart was counted"
        ));
    }
    Ok(())
}

fn main() {
    let wall = now(libc::CLOCK_REALTIME) + 1000 * SEC;
    // After the restart, so that WALL is still armed when it is checked.
    let wall_at = now(libc::CLOCK_REALTIME) + 600 * SEC;
    // Returns when FIRED and RELATIVE were set, each on its clock.
    let setup = move || -> Result<(i64, i64), String> {
        timerfd_at(FIRED, libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK)?;
        // Taken before each timer is set, so that the time since comes out no smaller.
        let fired_set = now(libc::CLOCK_MONOTONIC);
        settime(FIRED, 0, 1, 1000 * SEC)?;
        timerfd_at(ONCE, libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK)?;
        settime(ONCE, 0, 1, 0)?;
        // Both expired, not read.
        std::thread::sleep(Duration::from_millis(10));
        timerfd_at(RELATIVE, libc::CLOCK_BOOTTIME, libc::TFD_NONBLOCK)?;
        let relative_set = now(libc::CLOCK_BOOTTIME);
        settime(RELATIVE, 0, 500 * SEC, 7 * SEC)?;
        timerfd_at(ABSOLUTE, libc::CLOCK_REALTIME, 0)?;
        let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
        settime(ABSOLUTE, flags, wall, 0)?;
        timerfd_at(WALL, libc::CLOCK_REALTIME, libc::TFD_NONBLOCK)?;
        settime(WALL, libc::TFD_TIMER_ABSTIME, wall_at, WALL_PERIOD)?;
        timerfd_at(IDLE, libc::CLOCK_REALTIME, libc::TFD_CLOEXEC)?;
        Ok((fired_set, relative_set))
    };
    let check = move |(fired_set, relative_set): (i64, i64)| {
        let rdwr = libc::O_RDWR;
        for (fd, flags, cloexec, clock, settime) in [
            (FIRED, rdwr | libc::O_NONBLOCK, false, "1", "00"),
            (ONCE, rdwr | libc::O_NONBLOCK, false, "1", "00"),
            (RELATIVE, rdwr | libc::O_NONBLOCK, false, "7", "00"),
            (ABSOLUTE, rdwr, false, "0", "03"),
            (WALL, rdwr | libc::O_NONBLOCK, false, "0", "01"),
            (IDLE, rdwr, true, "0", "00"),
        ] {
            check_fd_flags(fd, flags, cloexec)?;
            let want = (clock.to_string(), settime.to_string());
            check_eq(format_args!("fd {fd} clockid and flags"), fdinfo(fd)?, want)?;
        }
        check_eq("expiries of FIRED", read_u64(FIRED), Ok(1))?;
        let (value, interval) = gettime(FIRED)?;
        check_within("FIRED's next expiry", value, 900 * SEC, 1000 * SEC)?;
        check_eq("FIRED's period", interval, 1000 * SEC)?;
        check_gap_not_counted("FIRED", FIRED, libc::CLOCK_MONOTONIC, fired_set, 1000 * SEC)?;
        check_eq("expiries of ONCE", read_u64(ONCE), Ok(1))?;
        check_eq("ONCE's timer", gettime(ONCE)?, (0, 0))?;
        check_eq("expiries of ONCE, read", read_u64(ONCE), Err(libc::EAGAIN))?;
        check_eq(
            "expiries of RELATIVE",
            read_u64(RELATIVE),
            Err(libc::EAGAIN),
        )?;
        let (value, interval) = gettime(RELATIVE)?;
        check_within("RELATIVE's next expiry", value, 400 * SEC, 500 * SEC)?;
        check_eq("RELATIVE's period", interval, 7 * SEC)?;
        check_gap_not_counted(
            "RELATIVE",
            RELATIVE,
            libc::CLOCK_BOOTTIME,
            relative_set,
            500 * SEC,
        )?;
        check_wall_expiry("ABSOLUTE", ABSOLUTE, wall, 0)?;
        check_wall_expiry("WALL", WALL, wall_at, WALL_PERIOD)?;
        check_eq("expiries of WALL", read_u64(WALL), Err(libc::EAGAIN))?;
        check_eq("IDLE's timer", gettime(IDLE)?, (0, 0))?;
        // Setting the clock, even to what it is, cancels ABSOLUTE: it is on the cancel list.
        let t = ts(now(libc::CLOCK_REALTIME));
        // SAFETY: reads `t`.
        let r = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &t) };
        check_os(r, "clock_settime")?;
        let n = poll_in(ABSOLUTE, 2000)?;
        check_eq("poll() of ABSOLUTE after the clock was set", n, 1)?;
        check_eq(
            "read of ABSOLUTE after the clock was set",
            read_u64(ABSOLUTE),
            Err(libc::ECANCELED),
        )?;
        // WALL is not on the cancel list: it stays armed for the same time.
        check_eq(
            "read of WALL after the clock was set",
            read_u64(WALL),
            Err(libc::EAGAIN),
        )?;
        check_wall_expiry("WALL, after the clock was set", WALL, wall_at, WALL_PERIOD)
    };
    let mut target = Target::spawn(move || {
        let set_at = setup()?;
        Ok(move || {
            wait_restored();
            check(set_at)
        })
    });
    target.checkpoint(KILL);
    // The gap the relative timers must not count and the absolute ones must.
    std::thread::sleep(GAP);
    target.restart();
    target.finish();
    let idle = || timerfd_at(IDLE, libc::CLOCK_MONOTONIC, 0);
    let still_idle = || check_eq("the refused timerfd's timer", gettime(IDLE)?, (0, 0));
    let epoll = |pid| watch_with_epoll(pid, IDLE).map(|ep| vec![ep]);
    refused_while_used(idle, still_idle, epoll, KILL, "epoll");
    pass("timerfds come back with their clock, timer, flags and unread expiries, relative ones not counting the time between checkpoint and restart, absolute ones at the same time; one an outside epoll watches is refused by name");
}
