// SPDX-License-Identifier: GPL-2.0

//! A process's interval timers: setitimer(2) and alarm(2).
//!
//! Checkpoint reads each timer's time left and interval, as getitimer(2) reports them, under
//! the siglock it holds for the rest of the process's signal state. Restart sets them with
//! that time left once the process is restored, before its threads may run: the restore of
//! the process does not count against them, that of the rest of the tree does (a timer
//! that expires meanwhile leaves its signal pending).

use crate::image::Restorer;
use crate::Obj;
use kernel::bindings;
use kernel::prelude::*;
use kernel::signal::SiglockGuard;

/// The timers in the image's order, which is setitimer()'s `which`.
const WHICH: [u32; 3] = [
    bindings::ITIMER_REAL,
    bindings::ITIMER_VIRTUAL,
    bindings::ITIMER_PROF,
];

fn nanoseconds(t: &bindings::timespec64) -> u64 {
    // A timespec64 from getitimer() is normalised and not negative.
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

fn timespec(ns: u64) -> bindings::timespec64 {
    bindings::timespec64 {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    }
}

/// The timers of the process whose signal lock `g` holds.
pub(crate) fn save_locked(g: &SiglockGuard<'_>) -> [u64; 6] {
    let mut out = [0; 6];
    for (i, which) in WHICH.into_iter().enumerate() {
        // SAFETY: an all-zero itimerspec64 is valid; it is overwritten.
        let mut v: bindings::itimerspec64 = unsafe { core::mem::zeroed() };
        // SAFETY: `g` holds the siglock, as the callee requires; `which` is known.
        unsafe { bindings::checkpoint_getitimer(g.task().as_ptr(), which as i32, &mut v) };
        out[2 * i] = nanoseconds(&v.it_value);
        out[2 * i + 1] = nanoseconds(&v.it_interval);
    }
    out
}

/// Checks the timers of a `Signal` record.
pub(crate) fn check(r: &Restorer<'_, Obj>, itimer: &[u64; 6]) -> Result {
    // What a ktime_t holds: a longer time would be cut short.
    if itimer.iter().any(|&ns| ns > i64::MAX as u64) {
        return Err(r.bad("interval timer beyond the largest kernel time"));
    }
    Ok(())
}

/// Arms the current process's timers from `itimer`, checked by `check`.
pub(crate) fn restore(itimer: &[u64; 6]) {
    for (i, which) in WHICH.into_iter().enumerate() {
        if itimer[2 * i] == 0 && itimer[2 * i + 1] == 0 {
            continue;
        }
        let mut v = bindings::itimerspec64 {
            it_interval: timespec(itimer[2 * i + 1]),
            it_value: timespec(itimer[2 * i]),
        };
        // SAFETY: acts on the current process; it fails only for an unknown `which`.
        unsafe { bindings::restart_setitimer(which as i32, &mut v) };
    }
}
