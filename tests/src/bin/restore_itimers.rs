//! A process's interval timers (setitimer(2)) come back armed, with the time they had left
//! and their intervals: ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF. A real timer that fired
//! while SIGALRM was blocked (no time left, the signal pending) comes back the same, and is
//! armed again with its interval once the restored process takes the signal.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cr_tests::proc::sigset_of;
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target};

const SEC: i64 = 1_000_000;

/// (which, name, time left, interval), in microseconds.
const ARMED: [(libc::c_int, &str, i64, i64); 3] = [
    (libc::ITIMER_REAL, "ITIMER_REAL", 600 * SEC, 7 * SEC),
    (libc::ITIMER_VIRTUAL, "ITIMER_VIRTUAL", 900 * SEC, 3 * SEC),
    (
        libc::ITIMER_PROF,
        "ITIMER_PROF",
        1200 * SEC,
        5 * SEC + 250_000,
    ),
];

fn timeval(us: i64) -> libc::timeval {
    libc::timeval {
        tv_sec: us / SEC,
        tv_usec: (us % SEC) as libc::suseconds_t,
    }
}

fn micros(t: &libc::timeval) -> i64 {
    t.tv_sec * SEC + t.tv_usec
}

fn set(which: libc::c_int, left: i64, interval: i64, name: &str) -> Check {
    let v = libc::itimerval {
        it_interval: timeval(interval),
        it_value: timeval(left),
    };
    // SAFETY: `v` is valid; the old value is not asked for.
    check_os(
        unsafe { libc::setitimer(which, &v, std::ptr::null_mut()) },
        format_args!("setitimer({name})"),
    )
}

fn get(which: libc::c_int, name: &str) -> Result<(i64, i64), String> {
    // SAFETY: all-zero is a valid itimerval, overwritten by the call.
    let mut v: libc::itimerval = unsafe { std::mem::zeroed() };
    // SAFETY: `v` is valid for the write.
    check_os(
        unsafe { libc::getitimer(which, &mut v) },
        format_args!("getitimer({name})"),
    )?;
    Ok((micros(&v.it_value), micros(&v.it_interval)))
}

/// Each timer has its interval, and some of its time left, never more than it was set to
/// (a CPU timer may read one tick more).
fn check_armed() -> Check {
    for (which, name, left, interval) in ARMED {
        let (now_left, now_interval) = get(which, name)?;
        check_eq(format!("{name} interval (us)"), now_interval, interval)?;
        if now_left <= 0 || now_left > left + 100_000 {
            return Err(format!(
                "{name} has {now_left} us left, set to {left} us (disarmed?)"
            ));
        }
    }
    Ok(())
}

static ALARMS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    ALARMS.fetch_add(1, Ordering::SeqCst);
}

fn block_alarm(how: libc::c_int) -> Check {
    let set = sigset_of(&[libc::SIGALRM]);
    // SAFETY: `set` is a valid signal set.
    check_os(
        unsafe { libc::sigprocmask(how, &set, std::ptr::null_mut()) },
        "sigprocmask(SIGALRM)",
    )
}

/// A real timer that fired with SIGALRM blocked: nothing left, its interval kept.
fn check_fired(interval: i64) -> Check {
    let (left, now_interval) = get(libc::ITIMER_REAL, "ITIMER_REAL")?;
    check_eq("fired ITIMER_REAL: time left (us)", left, 0)?;
    check_eq("fired ITIMER_REAL: interval (us)", now_interval, interval)
}

fn main() {
    let mut armed = Target::spawn(|| {
        for (which, name, left, interval) in ARMED {
            set(which, left, interval, name)?;
        }
        check_armed()?;
        Ok(|| {
            wait_restored();
            check_armed()
        })
    });
    armed.cycle();
    armed.finish();

    const INTERVAL: i64 = 50_000;
    let mut fired = Target::spawn(|| {
        // SAFETY: the handler only counts.
        unsafe {
            libc::signal(
                libc::SIGALRM,
                on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
        block_alarm(libc::SIG_BLOCK)?;
        set(libc::ITIMER_REAL, 1000, INTERVAL, "ITIMER_REAL")?;
        std::thread::sleep(Duration::from_millis(100));
        check_fired(INTERVAL)?;
        Ok(|| {
            wait_restored();
            check_fired(INTERVAL)?;
            block_alarm(libc::SIG_UNBLOCK)?;
            // Taking the pending SIGALRM arms the timer again, every 50 ms from then on.
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while ALARMS.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            match ALARMS.load(Ordering::SeqCst) {
                n if n >= 3 => Ok(()),
                n => Err(format!(
                    "{n} SIGALRM in 20 s after the restart, from a 50 ms interval timer"
                )),
            }
        })
    });
    fired.cycle();
    fired.finish();
    pass("interval timers come back with their time left and intervals, a fired one rearms");
}
