//! A restored process can be checkpointed and restarted again: two cycles in a row (the second
//! once the restored process sleeps again), then it checks its state.

use std::time::Duration;

use cr_tests::{pass, Target};

fn main() {
    let mut target = Target::fingerprinted();
    target.cycle();
    target.expect_asleep(Duration::ZERO);
    target.cycle();
    target.finish();
    pass("checkpoint and restart twice in a row");
}
