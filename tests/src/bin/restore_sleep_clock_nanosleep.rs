//! A task asleep in clock_nanosleep(2) on CLOCK_MONOTONIC, for a relative time and then until
//! an absolute deadline, is still asleep after checkpoint and restart: the relative sleep
//! sleeps what remained of it, the absolute one ends on its deadline.

use cr_tests::proc::monotonic;
use cr_tests::sleepers::{self, check_deadline, check_slept, sleep_timespec, Wake, DEADLINE};
use cr_tests::{os_error, pass};

fn sleep(absolute: bool) -> cr_tests::Check {
    let t0 = monotonic();
    let (flags, until) = if absolute {
        let end = t0 + DEADLINE;
        let ts = libc::timespec {
            tv_sec: end.as_secs() as libc::time_t,
            tv_nsec: end.subsec_nanos() as libc::c_long,
        };
        (libc::TIMER_ABSTIME, ts)
    } else {
        (0, sleep_timespec())
    };
    // SAFETY: `until` is a valid timespec; no remainder is asked for.
    let err = unsafe {
        libc::clock_nanosleep(libc::CLOCK_MONOTONIC, flags, &until, std::ptr::null_mut())
    };
    if err != 0 {
        // SAFETY: clock_nanosleep returns its errno instead of setting it.
        unsafe { *libc::__errno_location() = err };
        return Err(os_error(format!("clock_nanosleep (absolute: {absolute})")));
    }
    if absolute {
        check_deadline(t0, "absolute clock_nanosleep")
    } else {
        check_slept(t0, "relative clock_nanosleep")
    }
}

fn main() {
    sleepers::run(Wake::Timeout, || sleep(false));
    sleepers::run(Wake::Timeout, || sleep(true));
    pass("clock_nanosleep, relative and absolute, sleeps until its deadline across checkpoint and restart");
}
