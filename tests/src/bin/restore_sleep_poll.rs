//! A task asleep in poll(2) with no fds and a timeout is still asleep after checkpoint and
//! restart and returns 0 on its first deadline.

use cr_tests::proc::monotonic;
use cr_tests::sleepers::{self, check_slept, Wake, SLEEP};
use cr_tests::{check_eq, check_os, pass};

fn main() {
    sleepers::run(Wake::Timeout, || {
        let t0 = monotonic();
        // SAFETY: no fds, so the null array is never read.
        let r = unsafe { libc::poll(std::ptr::null_mut(), 0, SLEEP.as_millis() as libc::c_int) };
        check_os(r, "poll")?;
        check_eq("poll's result", r, 0)?;
        check_slept(t0, "poll")
    });
    pass("poll with a timeout sleeps until its deadline across checkpoint and restart");
}
