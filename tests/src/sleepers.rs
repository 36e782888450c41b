//! A task asleep in a syscall across checkpoint and restart: the scenario the `restore_sleep_*`
//! tests share. The sleep must go on after the restart (the task is still asleep), timed
//! sleeps must sleep after the restart what remained of them at the checkpoint (neither less,
//! nor their full time again), and sleeps a signal ends must end by SIGUSR1's handler, not by
//! the checkpoint, also when SIGUSR1 comes before the restored task first ran
//! ([`Wake::SignalFirst`]).

use std::time::Duration;

use crate::proc::monotonic;
use crate::target::{was_woken, Check, Target, KILL};

/// How long the timed sleeps last.
pub const SLEEP: Duration = Duration::from_secs(6);

/// How long a timed sleeper has slept when it is checkpointed: a sleep that starts its full
/// time again after the restart lasts this much longer than one that resumes.
pub const BEFORE: Duration = Duration::from_secs(3);

/// How long the parent waits between the checkpoint and the restart of a timed sleeper. The
/// task does not exist meanwhile, so its sleep (on CLOCK_MONOTONIC) lasts that much longer.
pub const OFFLINE: Duration = Duration::from_millis(1500);

/// How long after it starts an absolute sleep ends: [`SLEEP`] plus the time offline, so that
/// the deadline still lies [`SLEEP`] - [`BEFORE`] after the restart begins, however slow the
/// checkpoint was. A sleep that (wrongly) resumed with its remaining time would overshoot it by
/// [`OFFLINE`], which [`check_deadline`] tells apart.
pub const DEADLINE: Duration = SLEEP.saturating_add(OFFLINE);

/// What ends the sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// SIGUSR1, sent once the restored task is seen asleep.
    Signal,
    /// Its own timeout.
    Timeout,
    /// SIGUSR1, sent while the restored task is still stopped by `RESTART_FROZEN`, before it
    /// first returned to user mode, then SIGCONT: the call must end as it does for a task
    /// stopped in it, by the handler (`EINTR`), not be issued again after it.
    SignalFirst,
}

/// Runs one sleeper: `sleep` runs in the target right after it said ready, sleeps in the
/// syscall under test and checks how it woke. The parent checkpoints it (with CKPT_KILL) once
/// it is asleep, restarts it, sees it still asleep, then wakes it or lets it time out.
pub fn run(wake: Wake, sleep: impl FnOnce() -> Check) {
    let mut target = Target::spawn(move || Ok(sleep));
    if wake == Wake::Timeout {
        std::thread::sleep(BEFORE);
    }
    target.checkpoint(KILL);
    if wake == Wake::Timeout {
        std::thread::sleep(OFFLINE);
    }
    if wake == Wake::SignalFirst {
        target.restart_with(abi::RESTART_FROZEN);
        target.wait_state("Tt", "to be stopped after a RESTART_FROZEN restart");
        target.wake();
        target.signal(libc::SIGCONT);
        // A call issued again after the handler would sleep on: give it time to show.
        target.wait_state(
            "Z",
            "to end after SIGUSR1 then SIGCONT, its call ended by the handler",
        );
        target.expect_exit("after SIGUSR1 then SIGCONT");
        return;
    }
    target.restart();
    target.expect_asleep(Duration::from_millis(300));
    match wake {
        Wake::Signal => target.finish(),
        Wake::Timeout => target.expect_exit("after its timed sleep"),
        Wake::SignalFirst => unreachable!(),
    }
}

/// In the target: a `timespec` of [`SLEEP`].
pub fn sleep_timespec() -> libc::timespec {
    libc::timespec {
        tv_sec: SLEEP.as_secs() as libc::time_t,
        tv_nsec: 0,
    }
}

/// In the target: `Ok` if a timed sleep that began at `t0` (CLOCK_MONOTONIC) lasted
/// [`SLEEP`] plus the time it did not exist: not less, and not its full time again after the
/// restart.
pub fn check_slept(t0: Duration, what: &str) -> Check {
    let slept = monotonic().saturating_sub(t0);
    if slept < SLEEP + OFFLINE {
        return Err(format!(
            "{what} ended after {slept:?}, before its {SLEEP:?} plus {OFFLINE:?} offline"
        ));
    }
    // Resumed, it ends after SLEEP + OFFLINE plus the checkpoint's and restart's own time;
    // started again, after SLEEP + OFFLINE + BEFORE plus the same: the cut between leaves the
    // checkpoint and restart BEFORE to take on a slow machine.
    if slept >= SLEEP + OFFLINE + BEFORE {
        return Err(format!(
            "{what} lasted {slept:?} for {SLEEP:?}: after the restart it slept its full time \
             again instead of what remained"
        ));
    }
    if was_woken() {
        return Err(format!("{what}: SIGUSR1 came, but nobody sent it"));
    }
    Ok(())
}

/// In the target: `Ok` if a sleep until the absolute CLOCK_MONOTONIC deadline [`DEADLINE`]
/// after `t0` ended on that deadline, however long the task did not exist.
pub fn check_deadline(t0: Duration, what: &str) -> Check {
    let slept = monotonic().saturating_sub(t0);
    if slept < DEADLINE || slept >= DEADLINE + OFFLINE {
        return Err(format!(
            "{what} ended after {slept:?}, not on its deadline {DEADLINE:?}"
        ));
    }
    if was_woken() {
        return Err(format!("{what}: SIGUSR1 came, but nobody sent it"));
    }
    Ok(())
}

/// In the target: `Ok` if a sleep returned `ret` (-1, EINTR) because SIGUSR1's handler ran,
/// not before.
pub fn check_interrupted(ret: i64, what: &str) -> Check {
    let err = std::io::Error::last_os_error();
    if !was_woken() {
        return Err(format!(
            "{what} returned {ret} ({err}) before SIGUSR1 came: the checkpoint or restart woke it"
        ));
    }
    if ret != -1 || err.raw_os_error() != Some(libc::EINTR) {
        return Err(format!(
            "{what} returned {ret} ({err}) after SIGUSR1, expected -1 with EINTR"
        ));
    }
    Ok(())
}
