//! A task restored asleep in a system call that a signal with a handler interrupts, sent
//! before the task first returned to user mode (the restart left it stopped, RESTART_FROZEN):
//! the call ends with EINTR once the handler ran, as it does for a task stopped in it, and is
//! not issued again after the handler. pause(2) returns -ERESTARTNOHAND when interrupted,
//! nanosleep(2) -ERESTART_RESTARTBLOCK with its time left saved in the image.

use cr_tests::pass;
use cr_tests::sleepers::{self, check_interrupted, sleep_timespec, Wake};
use cr_tests::target::unblock_restore_signal;

fn main() {
    sleepers::run(Wake::SignalFirst, || {
        unblock_restore_signal()?;
        // SAFETY: pause has no preconditions.
        let r = unsafe { libc::pause() };
        check_interrupted(r.into(), "pause")
    });
    sleepers::run(Wake::SignalFirst, || {
        unblock_restore_signal()?;
        let mut rem = sleep_timespec();
        // SAFETY: both timespecs are valid.
        let r = unsafe { libc::nanosleep(&sleep_timespec(), &mut rem) };
        check_interrupted(r.into(), "nanosleep")
    });
    pass("a signal sent before the restored task ran ends its call with EINTR");
}
