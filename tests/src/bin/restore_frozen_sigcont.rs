//! A SIGCONT sent as soon as restart(2) with RESTART_FROZEN returns lets the process run: the
//! stop is already pending when the call returns, and SIGCONT cancels it. (When each task
//! stopped itself once it ran, a SIGCONT that came first was lost and the process stopped for
//! good.) Five cycles, to give the race its chances.

use std::time::Duration;

use cr_tests::proc::proc_state;
use cr_tests::{pass, Target, KILL};

fn main() {
    let mut target = Target::fingerprinted();
    for cycle in 1..=5 {
        target.checkpoint(KILL);
        target.restart_with(abi::RESTART_FROZEN);
        target.signal(libc::SIGCONT);
        std::thread::sleep(Duration::from_millis(300));
        if let Some('T' | 't') = proc_state(target.pid()) {
            target.fail(format!(
                "cycle {cycle}: stopped after a SIGCONT sent right after the restart"
            ));
        }
        target.wait_state("S", "to sleep again after SIGCONT");
    }
    target.finish();
    pass("a SIGCONT right after a RESTART_FROZEN restart lets the process run");
}
