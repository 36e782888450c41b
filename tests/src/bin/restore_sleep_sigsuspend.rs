//! A task asleep in sigsuspend(2) is still asleep after checkpoint and restart, returns EINTR
//! once SIGUSR1's handler ran, and has its own signal mask back afterwards.

use cr_tests::proc::{blocked_mask, sigset_bits};
use cr_tests::sleepers::{self, check_interrupted, Wake};
use cr_tests::target::RESTORE_SIGNAL;
use cr_tests::{check_eq, pass};

fn main() {
    sleepers::run(Wake::Signal, || {
        let before = blocked_mask();
        let mut during = before;
        // SAFETY: sigdelset edits our copy; sigsuspend only reads it.
        let r = unsafe {
            libc::sigdelset(&mut during, RESTORE_SIGNAL);
            libc::sigsuspend(&during)
        };
        check_interrupted(r.into(), "sigsuspend")?;
        check_eq(
            "blocked mask after sigsuspend (SIGUSR1 blocked again)",
            sigset_bits(&blocked_mask()),
            sigset_bits(&before),
        )
    });
    pass("sigsuspend keeps sleeping across checkpoint and restart, its mask restored after");
}
