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
use kernel::prelude::*;
use kernel::signal::{ITimer, SiglockGuard};

/// The timers in the image's order, which is setitimer()'s `which`.
const WHICH: [ITimer; 3] = [ITimer::Real, ITimer::Virtual, ITimer::Prof];

/// The timers of the process whose signal lock `g` holds.
pub(crate) fn save_locked(g: &SiglockGuard<'_>) -> [u64; 6] {
    let mut out = [0; 6];
    for (i, which) in WHICH.into_iter().enumerate() {
        (out[2 * i], out[2 * i + 1]) = g.itimer(which);
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
        kernel::signal::set_itimer(which, itimer[2 * i], itimer[2 * i + 1]);
    }
}
