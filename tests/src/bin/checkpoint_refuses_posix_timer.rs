//! A process with a POSIX timer (timer_create) is refused with EOPNOTSUPP and a log line
//! naming it: restart does not create timers yet, and the restored process would find its
//! timer id invalid and its signal never sent. The target keeps running, its timer armed.

use cr_tests::{check_os, pass, wait_restored, Target};

fn main() {
    let mut target = Target::spawn(|| {
        // SAFETY: all-zero sigevent and itimerspec are valid, filled in below.
        let (mut ev, mut its): (libc::sigevent, libc::itimerspec) = unsafe { std::mem::zeroed() };
        ev.sigev_notify = libc::SIGEV_NONE;
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `ev` and `id` are valid for the call.
        check_os(
            unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut id) },
            "timer_create",
        )?;
        its.it_value.tv_sec = 600;
        // SAFETY: `id` is the timer just made; the old value is not asked for.
        check_os(
            unsafe { libc::timer_settime(id, 0, &its, std::ptr::null_mut()) },
            "timer_settime",
        )?;
        let id = id as usize;
        Ok(move || {
            wait_restored();
            // SAFETY: all-zero is a valid itimerspec, overwritten by the call.
            let mut left: libc::itimerspec = unsafe { std::mem::zeroed() };
            // SAFETY: the timer made above, still there since the checkpoint was refused.
            check_os(
                unsafe { libc::timer_gettime(id as libc::timer_t, &mut left) },
                "timer_gettime",
            )?;
            match left.it_value.tv_sec {
                1..=600 => Ok(()),
                s => Err(format!("the timer has {s} s left, armed for 600 s")),
            }
        })
    });
    target.expect_refused("POSIX");
    target.finish();
    pass("a process with a POSIX timer is refused by name and runs on");
}
