// SPDX-License-Identifier: GPL-2.0

//! A process's POSIX timers: timer_create(2).
//!
//! Checkpoint reads each timer through posix-timers.c: its ID, clock and signal event, the
//! time left (or, for a timer that follows the wall clock, its expiry), interval and overrun
//! counts, and whether its signal is pending. That signal is the timer's own preallocated one,
//! so it is saved with the timer, not among the pending signals. Restart creates the timers
//! with their IDs where it arms the interval timers (`timers`), and queues their signals with
//! the other pending signals, last: taking one arms its interval timer again, as it would have.

use crate::image::Restorer;
use crate::log::Log;
use crate::{abi, log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::bindings;
use kernel::posix_timer::{self, PosixTimer, State};
use kernel::prelude::*;
use kernel::task::Task;

/// The clocks whose timers are restored: those hrtimers run.
const CLOCKS: [u32; 4] = [
    bindings::CLOCK_REALTIME,
    bindings::CLOCK_MONOTONIC,
    bindings::CLOCK_BOOTTIME,
    bindings::CLOCK_TAI,
];
/// `sigev_notify` values timer_create(2) takes.
const NOTIFY: [u32; 4] = [
    bindings::SIGEV_SIGNAL,
    bindings::SIGEV_NONE,
    bindings::SIGEV_THREAD,
    bindings::SIGEV_SIGNAL | bindings::SIGEV_THREAD_ID,
];
/// Largest overrun count taken from an image: far more expiries than a timer can count, far
/// from overflowing the counter.
const OVERRUN_MAX: i64 = i64::MAX / 2;
/// Most timers a process is restored with: more than any program uses, far below what
/// would strain an allocation.
const TIMERS_MAX: u64 = 1 << 20;

/// The timers of a process, as checkpoint writes them.
pub(crate) struct Saved {
    pub(crate) next_id: u32,
    pub(crate) timers: KVVec<abi::PosixTimer>,
}

/// Reads the timers of the frozen process of `task`: EOPNOTSUPP and a log line for one that
/// restart could not create again.
pub(crate) fn save(log: &Log, task: &Task) -> Result<Saved> {
    let mut ids = KVVec::from_elem(0i32, 8, GFP_KERNEL)?;
    let (n, next_id) = loop {
        let (n, next_id) = task.posix_timer_ids(&mut ids)?;
        if n <= ids.len() {
            break (n, next_id);
        }
        // Only the process's own threads create timers, and they are frozen: one more round.
        ids = KVVec::from_elem(0i32, n, GFP_KERNEL)?;
    };
    let mut timers = KVVec::with_capacity(n, GFP_KERNEL)?;
    for &id in ids.iter().take(n) {
        let t = task.posix_timer(id)?;
        if !CLOCKS.contains(&(t.clock as u32)) {
            // Negative ids name the CPU-time clocks of a process or thread.
            let what = match t.clock as u32 {
                c if t.clock < 0
                    || c == bindings::CLOCK_PROCESS_CPUTIME_ID
                    || c == bindings::CLOCK_THREAD_CPUTIME_ID =>
                {
                    "a CPU-time clock"
                }
                bindings::CLOCK_REALTIME_ALARM | bindings::CLOCK_BOOTTIME_ALARM => "an alarm clock",
                _ => "a clock without hrtimers",
            };
            log!(
                log,
                "pid {}: POSIX timer {id} is on {what} ({}): not restored yet",
                task.vnr(),
                t.clock
            );
            return Err(EOPNOTSUPP);
        }
        if t.target_gone {
            log!(
                log,
                "pid {}: POSIX timer {id} signals thread {}, which exited",
                task.vnr(),
                t.tid
            );
            return Err(EOPNOTSUPP);
        }
        let armed = t.state != State::Disarmed;
        let mut flags = 0;
        if t.absolute {
            flags |= abi::POSIX_TIMER_F_ABSOLUTE;
        }
        if t.queued {
            flags |= abi::POSIX_TIMER_F_QUEUED;
        }
        timers.push(
            abi::PosixTimer {
                id: id as u32,
                clock: t.clock as u32,
                notify: t.notify as u32,
                tid: t.tid as u32,
                signo: t.signo as u32,
                state: match t.state {
                    State::Disarmed => abi::POSIX_TIMER_DISARMED,
                    State::Armed => abi::POSIX_TIMER_ARMED,
                    State::Rearm => abi::POSIX_TIMER_REARM,
                },
                value: t.value,
                // An armed timer has time left, if only the nanosecond of one whose signal is
                // on its way.
                expires: if armed { t.expires.max(1) as u64 } else { 0 },
                interval: if armed { t.interval.max(0) as u64 } else { 0 },
                overrun: t.overrun,
                overrun_last: t.overrun_last,
                flags,
                pending_overrun: if t.queued {
                    t.pending_overrun.max(0) as u32
                } else {
                    0
                },
            },
            GFP_KERNEL,
        )?;
    }
    Ok(Saved {
        next_id: next_id as u32,
        timers,
    })
}

/// The timers of a process read from the image, to create once the process is restored.
pub(crate) struct Restored {
    next_id: u32,
    timers: KVVec<abi::PosixTimer>,
}

impl Default for Restored {
    fn default() -> Restored {
        Restored {
            next_id: 0,
            timers: KVVec::new(),
        }
    }
}

/// Checks one `PosixTimer` record against what timer_create(2) and timer_settime(2) take and
/// what checkpoint writes.
fn check(r: &Restorer<'_, Obj>, t: &abi::PosixTimer) -> Result {
    let max = i64::MAX as u64;
    let signal = t.notify != bindings::SIGEV_NONE;
    let queued = t.flags & abi::POSIX_TIMER_F_QUEUED != 0;
    let absolute = t.flags & abi::POSIX_TIMER_F_ABSOLUTE != 0;
    let why = if t.id > i32::MAX as u32 {
        "POSIX timer ID"
    } else if !CLOCKS.contains(&t.clock) {
        "POSIX timer clock"
    } else if !NOTIFY.contains(&t.notify) || signal && !(1..=bindings::SIGRTMAX).contains(&t.signo)
    {
        "POSIX timer signal event"
    } else if t.flags & !(abi::POSIX_TIMER_F_ABSOLUTE | abi::POSIX_TIMER_F_QUEUED) != 0 {
        "POSIX timer flags"
    } else if t.expires > max || t.interval > max {
        "POSIX timer time beyond the largest kernel time"
    } else if match t.state {
        abi::POSIX_TIMER_DISARMED => t.expires != 0 || t.interval != 0 || absolute,
        abi::POSIX_TIMER_ARMED => t.expires == 0,
        // Only a timer that sends a signal waits for it to be taken.
        abi::POSIX_TIMER_REARM => t.expires == 0 || t.interval == 0 || !signal,
        _ => true,
    } {
        "POSIX timer state"
    } else if absolute && t.clock != bindings::CLOCK_REALTIME && t.clock != bindings::CLOCK_TAI {
        "POSIX timer with an absolute expiry on a clock that does not follow the wall clock"
    } else if t.notify & bindings::SIGEV_THREAD_ID == 0 && t.tid != 0 {
        "POSIX timer thread without SIGEV_THREAD_ID"
    } else if !(-1..=OVERRUN_MAX).contains(&t.overrun)
        || !(-1..=OVERRUN_MAX).contains(&t.overrun_last)
    {
        // -1 is "none yet", also after the wall clock went back past an expiry.
        "POSIX timer overrun count"
    } else if !queued && t.pending_overrun != 0
        || queued
            && (!signal || t.signo == bindings::SIGKILL || t.pending_overrun > i32::MAX as u32)
    {
        "pending signal of a POSIX timer"
    } else {
        return Ok(());
    };
    Err(r.bad(why))
}

/// Reads `count` `PosixTimer` records and the ID for the next timer into `out`. Each timer
/// takes a pending signal: they are at most as many as the restarter's hard limit of pending
/// signals (which only a restarter with CAP_SYS_RESOURCE may raise for the restored process),
/// and `TIMERS_MAX`.
pub(crate) fn read(
    r: &mut Restorer<'_, Obj>,
    count: u32,
    next_id: u32,
    out: &mut Restored,
) -> Result {
    if next_id > i32::MAX as u32 {
        return Err(r.bad("next POSIX timer ID"));
    }
    let limit =
        kernel::signal::with_current_siglock(|g| g.rlimit(bindings::RLIMIT_SIGPENDING as usize))
            .flatten()
            .ok_or(ESRCH)?
            .1;
    if u64::from(count) > limit.min(TIMERS_MAX) {
        log!(
            r.log,
            "{count} POSIX timers: more than RLIMIT_SIGPENDING ({limit}) or {TIMERS_MAX} allow"
        );
        return Err(EAGAIN);
    }
    out.next_id = next_id;
    for _ in 0..count {
        let t = r.expect::<abi::PosixTimer>()?;
        check(r, &t)?;
        out.timers.push(t, GFP_KERNEL_ACCOUNT)?;
    }
    Ok(())
}

impl Restored {
    /// Creates the timers in the current process, whose threads all exist (a timer may
    /// signal one of them), and sets them; their pending signals wait for `queue`.
    pub(crate) fn create(&self, log: &Log) -> Result {
        // Oldest first, as checkpoint found them newest first: each goes to the head of the
        // process's list, which /proc/PID/timers shows.
        for t in self.timers.iter().rev() {
            let c = PosixTimer {
                id: t.id as i32,
                clock: t.clock as i32,
                notify: t.notify as i32,
                tid: t.tid as i32,
                signo: t.signo as i32,
                state: match t.state {
                    abi::POSIX_TIMER_ARMED => State::Armed,
                    abi::POSIX_TIMER_REARM => State::Rearm,
                    // `check` let no other through.
                    _ => State::Disarmed,
                },
                value: t.value,
                expires: t.expires as i64,
                interval: t.interval as i64,
                overrun: t.overrun,
                overrun_last: t.overrun_last,
                pending_overrun: t.pending_overrun as i32,
                absolute: t.flags & abi::POSIX_TIMER_F_ABSOLUTE != 0,
                queued: t.flags & abi::POSIX_TIMER_F_QUEUED != 0,
                target_gone: false,
            };
            let ret = posix_timer::create(&c);
            // The process had no timer before these.
            if ret == Err(EBUSY) {
                log!(log, "POSIX timer {}: two timers with this ID", t.id);
                return Err(EINVAL);
            }
            if let Err(e) = ret {
                log!(
                    log,
                    "POSIX timer {}: cannot create it again ({})",
                    t.id,
                    e.to_errno()
                );
                return Err(e);
            }
        }
        posix_timer::set_next_id(self.next_id as i32);
        Ok(())
    }

    /// Queues the timers' pending signals again, with the other pending signals of the thread
    /// that created the timers.
    pub(crate) fn queue(&self) {
        for t in self
            .timers
            .iter()
            .filter(|t| t.flags & abi::POSIX_TIMER_F_QUEUED != 0)
        {
            // It fails only for what `check` refused, or if a thread of the process, running
            // again, deleted the timer first: its signal is then not queued, as if the timer
            // had been deleted before it expired.
            let _ = posix_timer::queue_signal(t.id as i32, t.pending_overrun as i32);
        }
    }
}
