//! A task asleep in nanosleep(2) is still asleep after checkpoint and restart and wakes on its
//! first deadline: not early, and not after sleeping its whole time again.

use cr_tests::proc::monotonic;
use cr_tests::sleepers::{self, check_slept, sleep_timespec, Wake};
use cr_tests::{check_os, pass};

fn main() {
    sleepers::run(Wake::Timeout, || {
        let t0 = monotonic();
        let mut rem = sleep_timespec();
        // SAFETY: both timespecs are valid.
        let r = unsafe { libc::nanosleep(&sleep_timespec(), &mut rem) };
        check_os(r, "nanosleep")?;
        check_slept(t0, "nanosleep")
    });
    pass("nanosleep sleeps what remained of its time across checkpoint and restart");
}
