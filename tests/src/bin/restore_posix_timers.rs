//! A process's POSIX timers (timer_create(2)) come back with their IDs, clocks and signal
//! events (/proc/self/timers reads the same), their time left and intervals: a relative
//! CLOCK_MONOTONIC timer, an absolute CLOCK_REALTIME one, SIGEV_NONE ones (one of them with a
//! signal number no signal has). An absolute timer saved armed that expires before the restart
//! fires as restart sets it, its signal blocked (and fatal by default) as it was.
//! An interval timer whose signal was pending (blocked) comes back with it pending, its
//! overrun count carried, and is armed again once the restored process takes the signal; a
//! SIGEV_THREAD_ID timer's signal is pending on its thread again. The next timer created
//! gets the ID it would have had.

use std::time::Duration;

use cr_tests::craft::Image;
use cr_tests::proc::{sigset_of, status_mask};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000 * MS;
/// The absolute CLOCK_REALTIME timer that expires between checkpoint and restart: its value,
/// and how long after the setup it expires.
const X_VALUE: usize = 0x70;
const X_DELAY: i64 = 5 * SEC;

fn rt(n: i32) -> libc::c_int {
    libc::SIGRTMIN() + n
}

fn create(
    clock: libc::clockid_t,
    notify: libc::c_int,
    signo: libc::c_int,
    value: usize,
) -> Result<i32, String> {
    // SAFETY: an all-zero sigevent is valid; the fields that matter are set below.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    ev.sigev_notify = notify;
    ev.sigev_signo = signo;
    ev.sigev_value = libc::sigval {
        sival_ptr: value as *mut libc::c_void,
    };
    // SAFETY: gettid has no preconditions.
    ev.sigev_notify_thread_id = unsafe { libc::gettid() };
    let mut id: libc::timer_t = std::ptr::null_mut();
    // SAFETY: `ev` and `id` are valid for the call.
    check_os(
        unsafe { libc::timer_create(clock, &mut ev, &mut id) },
        "timer_create",
    )?;
    Ok(id as usize as i32)
}

fn timespec(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns / SEC,
        tv_nsec: ns % SEC,
    }
}

fn nanos(t: &libc::timespec) -> i64 {
    t.tv_sec * SEC + t.tv_nsec
}

fn set(id: i32, flags: libc::c_int, value: i64, interval: i64) -> Check {
    let its = libc::itimerspec {
        it_interval: timespec(interval),
        it_value: timespec(value),
    };
    // SAFETY: `its` is valid; the old value is not asked for.
    check_os(
        unsafe {
            libc::timer_settime(
                id as usize as libc::timer_t,
                flags,
                &its,
                std::ptr::null_mut(),
            )
        },
        format_args!("timer_settime({id})"),
    )
}

/// The time left and the interval of timer `id`, in nanoseconds.
fn get(id: i32) -> Result<(i64, i64), String> {
    // SAFETY: all-zero is a valid itimerspec, overwritten by the call.
    let mut its: libc::itimerspec = unsafe { std::mem::zeroed() };
    // SAFETY: `its` is valid for the write.
    check_os(
        unsafe { libc::timer_gettime(id as usize as libc::timer_t, &mut its) },
        format_args!("timer_gettime({id})"),
    )?;
    Ok((nanos(&its.it_value), nanos(&its.it_interval)))
}

fn now(clock: libc::clockid_t) -> i64 {
    // SAFETY: all-zero is a valid timespec, overwritten by the call.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is valid for the write.
    unsafe { libc::clock_gettime(clock, &mut t) };
    nanos(&t)
}

/// Timer `id` has its interval and some time left, at most `most`.
fn check_armed(name: &str, id: i32, most: i64, interval: i64) -> Check {
    let (left, now_interval) = get(id)?;
    check_eq(format!("{name}: interval (ns)"), now_interval, interval)?;
    if left <= 0 || left > most {
        return Err(format!(
            "{name} has {left} ns left, at most {most} expected (disarmed?)"
        ));
    }
    Ok(())
}

/// Takes pending signal `signo` within `wait`: its timer ID, overrun count and value.
fn take(signo: libc::c_int, wait: Duration) -> Result<(i32, i32, usize), String> {
    let set = sigset_of(&[signo]);
    let t = libc::timespec {
        tv_sec: wait.as_secs() as _,
        tv_nsec: wait.subsec_nanos() as _,
    };
    // SAFETY: all-zero is a valid siginfo_t, overwritten by the call.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set`, `info` and `t` are valid for the call.
    let got = unsafe { libc::sigtimedwait(&set, &mut info, &t) };
    if got != signo {
        return Err(format!(
            "signal {signo} not taken within {wait:?}: {}",
            cr_tests::os_error("sigtimedwait")
        ));
    }
    // SAFETY: a siginfo_t is 128 bytes of plain data; a timer's has its ID at 16, its
    // overrun count at 20 and its value at 24.
    let raw: [u8; 128] = unsafe { std::mem::transmute(info) };
    let word = |at: usize| i32::from_ne_bytes(raw[at..at + 4].try_into().unwrap());
    let value = usize::from_ne_bytes(raw[24..32].try_into().unwrap());
    Ok((word(16), word(20), value))
}

fn pending(signo: libc::c_int, field: &str) -> Result<bool, String> {
    // SAFETY: getpid has no preconditions.
    let mask = status_mask(unsafe { libc::getpid() }, field)
        .ok_or(format!("no {field} in /proc/self/status"))?;
    Ok(mask & (1 << (signo - 1)) != 0)
}

fn timers_text() -> Result<String, String> {
    std::fs::read_to_string("/proc/self/timers")
        .map_err(|e| format!("reading /proc/self/timers: {e}"))
}

fn main() {
    let mut target = Target::spawn(|| {
        let blocked = sigset_of(&[rt(1), rt(2), rt(5)]);
        // SAFETY: `blocked` is a valid signal set.
        check_os(
            unsafe { libc::sigprocmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut()) },
            "sigprocmask",
        )?;
        let a = create(libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL, rt(3), 0xa0)?;
        set(a, 0, 600 * SEC, 0)?;
        let b = create(libc::CLOCK_REALTIME, libc::SIGEV_SIGNAL, rt(4), 0xb0)?;
        set(
            b,
            libc::TIMER_ABSTIME,
            now(libc::CLOCK_REALTIME) + 500 * SEC,
            3 * SEC,
        )?;
        let c = create(libc::CLOCK_BOOTTIME, libc::SIGEV_NONE, 0, 0)?;
        set(c, 0, 1000 * SEC, 7 * SEC)?;
        // Fires at once, then every 20 ms; its signal is blocked, so it stays pending and the
        // timer waits for it to be taken, counting overruns.
        let d = create(libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL, rt(1), 0xd0)?;
        set(d, 0, MS, 20 * MS)?;
        let e = create(
            libc::CLOCK_MONOTONIC,
            libc::SIGEV_SIGNAL | libc::SIGEV_THREAD_ID,
            rt(2),
            0xe0,
        )?;
        set(e, 0, MS, 0)?;
        // Its signal number is never checked, and /proc/self/timers shows it.
        let n = create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 12345, 0x50)?;
        set(n, 0, 900 * SEC, 0)?;
        // Expires while the process is checkpointed (see main), so at once when restart sets
        // it again: its signal, blocked and fatal by default, must find the restored mask in
        // place.
        let x = create(libc::CLOCK_REALTIME, libc::SIGEV_SIGNAL, rt(5), X_VALUE)?;
        set(
            x,
            libc::TIMER_ABSTIME,
            now(libc::CLOCK_REALTIME) + X_DELAY,
            0,
        )?;
        let f = create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 0, 0)?;
        // SAFETY: the timer just made.
        check_os(
            unsafe { libc::timer_delete(f as usize as libc::timer_t) },
            "timer_delete",
        )?;
        std::thread::sleep(Duration::from_millis(150));
        if !pending(rt(1), "ShdPnd")? || !pending(rt(2), "SigPnd")? {
            return Err("the timers' signals are not pending before the checkpoint".into());
        }
        let before = timers_text()?;
        Ok(move || {
            wait_restored();
            check_eq("/proc/self/timers", timers_text()?, before)?;
            check_armed("the CLOCK_MONOTONIC timer", a, 600 * SEC, 0)?;
            check_armed("the absolute CLOCK_REALTIME timer", b, 500 * SEC, 3 * SEC)?;
            check_armed(
                "the SIGEV_NONE CLOCK_BOOTTIME timer",
                c,
                1000 * SEC,
                7 * SEC,
            )?;
            check_armed(
                "the interval timer whose signal is pending",
                d,
                20 * MS,
                20 * MS,
            )?;
            check_eq("the SIGEV_THREAD_ID timer", get(e)?, (0, 0))?;
            check_armed("the SIGEV_NONE timer", n, 900 * SEC, 0)?;
            check_eq(
                "the expired absolute timer's signal",
                take(rt(5), Duration::from_secs(5))?,
                (x, 0, X_VALUE),
            )?;
            check_eq("the expired absolute timer", get(x)?, (0, 0))?;
            if !pending(rt(1), "ShdPnd")? {
                return Err("the interval timer's signal is no longer pending".into());
            }
            if !pending(rt(2), "SigPnd")? {
                return Err(
                    "the SIGEV_THREAD_ID timer's signal is no longer pending on its thread".into(),
                );
            }
            check_eq(
                "the SIGEV_THREAD_ID timer's signal",
                take(rt(2), Duration::ZERO)?,
                (e, 0, 0xe0),
            )?;
            // It fired 150 ms before the checkpoint, every 20 ms since.
            let (id, overrun, value) = take(rt(1), Duration::ZERO)?;
            check_eq(
                "the interval timer's signal: timer and value",
                (id, value),
                (d, 0xd0),
            )?;
            if overrun < 5 {
                return Err(format!(
                    "the interval timer's signal counts {overrun} overruns, 5 or more expected"
                ));
            }
            // SAFETY: the timer made above.
            let last = unsafe { libc::timer_getoverrun(d as usize as libc::timer_t) };
            check_eq("timer_getoverrun() after the signal", last, overrun)?;
            // Taking it armed the timer again: it fires every 20 ms from now on.
            for _ in 0..3 {
                check_eq(
                    "the rearmed timer's next signal: timer",
                    take(rt(1), Duration::from_secs(5))?.0,
                    d,
                )?;
            }
            let g = create(libc::CLOCK_MONOTONIC, libc::SIGEV_NONE, 0, 0)?;
            check_eq("the ID of a timer created after the restart", g, f + 1)
        })
    });
    target.checkpoint(KILL);
    // The absolute timer must have been saved armed, not fired yet, to expire before the
    // restart.
    let image = Image::parse(&target.image());
    let saved: Vec<abi::PosixTimer> = image
        .all::<abi::PosixTimer>()
        .into_iter()
        .map(|i| image.recs[i].decode::<abi::PosixTimer>())
        .filter(|t| t.value == X_VALUE as u64)
        .collect();
    match saved[..] {
        [t] if t.state == abi::POSIX_TIMER_ARMED && t.flags & abi::POSIX_TIMER_F_QUEUED == 0 => {}
        ref other => target.fail(format!(
            "the absolute timer was saved as {other:?}, armed expected"
        )),
    }
    std::thread::sleep(Duration::from_nanos(X_DELAY as u64));
    target.restart();
    target.finish();
    pass("POSIX timers come back with their IDs, events and times; a pending one rearms");
}
