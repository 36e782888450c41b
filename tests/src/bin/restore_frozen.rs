//! restart(2) with RESTART_FROZEN leaves the process stopped, even with a signal pending,
//! until SIGCONT; then it runs and passes its checks.

use std::time::Duration;

use cr_tests::proc::proc_state;
use cr_tests::{pass, Target, KILL};

fn main() {
    let mut target = Target::fingerprinted();
    target.checkpoint(KILL);
    target.restart_with(abi::RESTART_FROZEN);
    target.wait_state("Tt", "to be stopped after a RESTART_FROZEN restart");
    target.wake();
    std::thread::sleep(Duration::from_millis(300));
    match proc_state(target.pid()) {
        Some('T' | 't') => {}
        state => target.fail(format!(
            "state {state:?} before SIGCONT, expected stopped (T)"
        )),
    }
    target.signal(libc::SIGCONT);
    target.expect_exit("after SIGCONT, with SIGUSR1 pending");
    pass("RESTART_FROZEN keeps the process stopped until SIGCONT");
}
