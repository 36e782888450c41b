//! A task asleep in pause(2) is still asleep after checkpoint and restart, and returns EINTR
//! only once SIGUSR1's handler ran.

use cr_tests::pass;
use cr_tests::sleepers::{self, check_interrupted, Wake};
use cr_tests::target::unblock_restore_signal;

fn main() {
    sleepers::run(Wake::Signal, || {
        unblock_restore_signal()?;
        // SAFETY: pause has no preconditions.
        let r = unsafe { libc::pause() };
        check_interrupted(r.into(), "pause")
    });
    pass("pause keeps sleeping across checkpoint and restart until a signal");
}
