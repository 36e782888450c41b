// SPDX-License-Identifier: GPL-2.0

//! Timer files (`timerfd_create(2)`): a clock, a timer on it and the expiries not yet read,
//! as checkpoint reads them and restart makes them again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};

/// What a timerfd holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timerfd {
    /// Nanoseconds to its next expiry, or with `TFD_TIMER_ABSTIME` its expiry on its clock
    /// (as the caller's time namespace sees it); zero if it is disarmed.
    pub value: i64,
    /// Its period in nanoseconds; zero for a one-shot timer.
    pub interval: i64,
    /// Expiries not yet read.
    pub ticks: u64,
    /// Its clock (`CLOCK_*`).
    pub clockid: i32,
    /// `TFD_TIMER_ABSTIME` and `TFD_TIMER_CANCEL_ON_SET`, as last set.
    pub flags: u32,
    /// Whether its clock was set since, which a read reports with `ECANCELED`.
    pub canceled: bool,
}

impl Timerfd {
    /// The timer of `file`, a periodic one that expired moved on to its next expiry first
    /// (as `timerfd_gettime()` does); `EINVAL` if it is not a timerfd.
    pub fn of(file: &File) -> Result<Timerfd> {
        let mut t = bindings::checkpoint_timerfd::default();
        // SAFETY: the file is valid; the callee fills `t` before it returns 0.
        to_result(unsafe { bindings::checkpoint_timerfd(file.as_ptr(), &mut t) })?;
        Ok(Timerfd {
            value: t.value,
            interval: t.interval,
            ticks: t.ticks,
            clockid: t.clockid,
            flags: t.flags,
            canceled: t.canceled,
        })
    }

    /// Whether `file` is a timerfd.
    pub fn is(file: &File) -> bool {
        // SAFETY: the file is valid; only its file operations are compared.
        unsafe { bindings::checkpoint_is_timerfd(file.as_ptr()) }
    }

    /// A new timerfd with this clock, timer and ticks, non-blocking if `nonblock`, in no fd
    /// table: `EINVAL` for values no timerfd has, `EPERM` for an alarm clock without
    /// `CAP_WAKE_ALARM`.
    pub fn create(&self, nonblock: bool) -> Result<ARef<File>> {
        let t = bindings::checkpoint_timerfd {
            value: self.value,
            interval: self.interval,
            ticks: self.ticks,
            clockid: self.clockid,
            flags: self.flags,
            canceled: self.canceled,
        };
        let flags = if nonblock {
            bindings::O_NONBLOCK as i32
        } else {
            0
        };
        // SAFETY: `t` is valid for the call; the callee returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_timerfd(&t, flags)) }
    }
}
