// SPDX-License-Identifier: GPL-2.0

//! Timer files (`timerfd_create(2)`): their clock, their timer and the expiries not yet read.
//! Restart arms a new timerfd as `timerfd_settime()` would: a relative timer with the time
//! it had left at checkpoint (the time between checkpoint and restart is not counted), an
//! absolute one (`TFD_TIMER_ABSTIME`) with its expiry, which on `CLOCK_REALTIME` stays the
//! same wall-clock time and expires at once if it passed meanwhile.

use super::{check_made_anew, made_anew_nonblock, FileKind, FileRef, Names, MADE_ANEW_FLAGS};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::timerfd::Timerfd;
use kernel::prelude::*;

// The image's flags a timer is set with are the kernel's, which timerfd_settime(2) takes.
const _: () = assert!(
    abi::TIMERFD_F_ABSTIME == bindings::TFD_TIMER_ABSTIME
        && abi::TIMERFD_F_CANCEL_ON_SET == bindings::TFD_TIMER_CANCEL_ON_SET
);

/// The `TIMERFD_F_*` flags a timer is set with; `TIMERFD_F_CANCELED` is its state.
const SETTIME: u32 = abi::TIMERFD_F_ABSTIME | abi::TIMERFD_F_CANCEL_ON_SET;

pub(super) struct TimerfdFile;

impl FileKind for TimerfdFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        Timerfd::is(file.file()).then_some(Ok(abi::FILE_KIND_TIMERFD))
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        check_made_anew(at, file, "a timerfd", None, MADE_ANEW_FLAGS)
    }

    fn dump(d: &mut Dumper<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let t = Timerfd::of(file.file())?;
        let canceled = if t.canceled {
            abi::TIMERFD_F_CANCELED
        } else {
            0
        };
        d.record(&abi::Timerfd {
            value: t.value,
            interval: t.interval,
            ticks: t.ticks,
            clockid: t.clockid as u32,
            flags: (t.flags & SETTIME) | canceled,
        })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_TIMERFD
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let rec = r.next()?;
        let t = r.decode::<abi::Timerfd>(rec)?;
        let nonblock = made_anew_nonblock(r, f)?;
        if t.flags & !(SETTIME | abi::TIMERFD_F_CANCELED) != 0 {
            return Err(r.bad("timerfd flag it cannot have"));
        }
        let Ok(clockid) = i32::try_from(t.clockid) else {
            return Err(r.bad("timerfd on a clock it cannot have"));
        };
        let state = Timerfd {
            value: t.value,
            interval: t.interval,
            ticks: t.ticks,
            clockid,
            flags: t.flags & SETTIME,
            canceled: t.flags & abi::TIMERFD_F_CANCELED != 0,
        };
        let file = state.create(nonblock).inspect_err(|e| {
            log!(r.log, "timerfd: cannot make it again ({})", e.to_errno());
        })?;
        Ok(FileRef::from(file))
    }
}
