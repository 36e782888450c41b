//! A restored process can be checkpointed and restarted again: two cycles in a row (the second
//! once the restored process sleeps again), then it checks its state.

use std::time::Duration;

use cr_tests::{pass, wait_restored, Fingerprint, Target};

fn main() {
    let mut target = Target::spawn(|| {
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()
        })
    });
    target.cycle();
    target.expect_asleep(Duration::ZERO);
    target.cycle();
    target.finish();
    pass("checkpoint and restart twice in a row");
}
