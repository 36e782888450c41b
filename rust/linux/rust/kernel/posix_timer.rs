// SPDX-License-Identifier: GPL-2.0

//! POSIX timers (timer_create(2)) of a process: read whole for a checkpoint, and created
//! again in the current process with their IDs, times, overrun counts and pending signals.
//!
//! C header: [`include/linux/posix-timers.h`](srctree/include/linux/posix-timers.h)

use crate::{
    bindings,
    error::{Error, Result},
    task::Task,
};

/// Whether a timer runs, and how.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Not armed.
    Disarmed,
    /// Started, or a `SIGEV_NONE` timer with time left.
    Armed,
    /// An interval timer whose signal is pending: it is armed again when the signal is
    /// taken.
    Rearm,
}

/// A POSIX timer as a process has it. Times are in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct PosixTimer {
    /// Its ID in the process.
    pub id: i32,
    /// The clock it runs on (`CLOCK_*`, or a negative CPU-time clock id).
    pub clock: i32,
    /// `sigev_notify`: `SIGEV_*`.
    pub notify: i32,
    /// With `SIGEV_THREAD_ID`, the thread it signals, in the process's pid namespace.
    pub tid: i32,
    /// The signal it sends.
    pub signo: i32,
    /// Whether it runs.
    pub state: State,
    /// `sigev_value`, as a word.
    pub value: u64,
    /// Time left, or with `absolute` the expiry on the timer's clock.
    pub expires: i64,
    /// Its interval; 0 for a one-shot timer.
    pub interval: i64,
    /// Expiries counted since the signal was last queued (-1: none yet).
    pub overrun: i64,
    /// The overrun count timer_getoverrun(2) returns.
    pub overrun_last: i64,
    /// With `queued`, the `si_overrun` of the pending signal.
    pub pending_overrun: i32,
    /// Whether `expires` is absolute: the timer follows changes of the wall clock.
    pub absolute: bool,
    /// Whether its signal is pending.
    pub queued: bool,
    /// Whether the thread it signals exited (only when read).
    pub target_gone: bool,
}

impl PosixTimer {
    fn from_c(t: &bindings::checkpoint_posix_timer) -> PosixTimer {
        PosixTimer {
            id: t.id,
            clock: t.clock,
            notify: t.notify,
            tid: t.tid,
            signo: t.signo,
            state: match t.state as u32 {
                bindings::CHECKPOINT_TIMER_ARMED => State::Armed,
                bindings::CHECKPOINT_TIMER_REARM => State::Rearm,
                _ => State::Disarmed,
            },
            value: t.value,
            expires: t.expires,
            interval: t.interval,
            overrun: t.overrun,
            overrun_last: t.overrun_last,
            pending_overrun: t.pending_overrun,
            absolute: t.absolute,
            queued: t.queued,
            target_gone: t.target_gone,
        }
    }

    fn to_c(self) -> bindings::checkpoint_posix_timer {
        let state = match self.state {
            State::Disarmed => bindings::CHECKPOINT_TIMER_DISARMED,
            State::Armed => bindings::CHECKPOINT_TIMER_ARMED,
            State::Rearm => bindings::CHECKPOINT_TIMER_REARM,
        };
        bindings::checkpoint_posix_timer {
            id: self.id,
            clock: self.clock,
            notify: self.notify,
            tid: self.tid,
            signo: self.signo,
            state: state as i32,
            value: self.value,
            expires: self.expires,
            interval: self.interval,
            overrun: self.overrun,
            overrun_last: self.overrun_last,
            pending_overrun: self.pending_overrun,
            absolute: self.absolute,
            queued: self.queued,
            target_gone: false,
        }
    }
}

#[cfg(CONFIG_CHECKPOINT)]
impl Task {
    /// The IDs of the timers of the task's process, newest first, as many as fit in `ids`;
    /// with their number (which may exceed `ids.len()`) and the ID timer_create(2) tries
    /// first for the next one. `ESRCH` if the process is exiting.
    pub fn posix_timer_ids(&self, ids: &mut [i32]) -> Result<(usize, i32)> {
        let room = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        let mut next_id = 0;
        // SAFETY: the task is valid; the callee walks the timers under its siglock and writes
        // at most `room` IDs to `ids`.
        let n = unsafe {
            bindings::checkpoint_posix_timer_ids(
                self.as_ptr(),
                ids.as_mut_ptr(),
                room,
                &mut next_id,
            )
        };
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n))?;
        Ok((n, next_id))
    }

    /// The timer `id` of the task's process, read under its lock as timer_gettime(2) reads it
    /// (for a timer on a clock hrtimers do not run, only `id` and `clock` are set). `ESRCH` if
    /// it or the process is gone.
    ///
    /// A timer's state is one moment of a running timer unless every thread of the process
    /// is stopped.
    pub fn posix_timer(&self, id: i32) -> Result<PosixTimer> {
        // SAFETY: the timer is plain data; all zero is a valid value, which the callee
        // overwrites.
        let mut t: bindings::checkpoint_posix_timer = unsafe { core::mem::zeroed() };
        // SAFETY: the task is valid; the callee finds the timer under RCU and reads it under
        // its lock.
        let ret = unsafe { bindings::checkpoint_posix_timer(self.as_ptr(), id, &mut t) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(PosixTimer::from_c(&t))
    }
}

/// Creates `t` in the current process with its ID and signal event, as timer_create(2) would,
/// and sets it as timer_settime(2) would, with its overrun counts. A timer whose signal is
/// `queued` is not started: [`queue_signal`] queues the signal, and taking it starts the
/// timer.
///
/// Returns `EINVAL` for what timer_create(2) or timer_settime(2) would refuse, `EBUSY` if the
/// process has a timer with that ID or another of its threads set it meanwhile, `EAGAIN`
/// over `RLIMIT_SIGPENDING`, and `ESRCH` if the process is exiting or another of its threads
/// deleted the timer meanwhile. Overrun counts past `i32::MAX` are taken as `i32::MAX`, all
/// that timer_getoverrun(2) shows of them.
///
/// Threads of the process that create timers at the same time may be given the same ID.
#[cfg(CONFIG_CHECKPOINT)]
pub fn create(t: &PosixTimer) -> Result {
    let c = t.to_c();
    // SAFETY: acts on the current process; the callee checks every field.
    let ret = unsafe { bindings::restart_posix_timer(&c) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Queues the pending signal of timer `id` of the current process, with `si_overrun`
/// `overrun`, as the timer does when it expires. `EINVAL` for a timer that sends no signal
/// or a negative `overrun`; `ESRCH` for no such timer.
#[cfg(CONFIG_CHECKPOINT)]
pub fn queue_signal(id: i32, overrun: i32) -> Result {
    // SAFETY: acts on the current process; the callee finds the timer by ID under its lock.
    let ret = unsafe { bindings::restart_posix_timer_queue(id, overrun) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Sets the ID timer_create(2) tries first for the current process's next timer (only the
/// low 31 bits count: IDs are not negative).
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_next_id(id: i32) {
    // SAFETY: acts on the current process, under the lock timer_create(2) takes.
    unsafe { bindings::restart_posix_timer_next_id(id) }
}
