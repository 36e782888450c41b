//! A checkpoint without CKPT_KILL leaves the original running: it passes its own checks and
//! exits, then the image restarts and the restored copy passes them too.

use std::time::Duration;

use cr_tests::{pass, Target, NO_KILL};

fn main() {
    let mut target = Target::fingerprinted();
    target.checkpoint(NO_KILL);
    target.expect_asleep(Duration::from_millis(200));
    target.wake();
    target.expect_exit("the original, after a checkpoint without CKPT_KILL");
    target.restart();
    target.finish();
    pass("the original runs on after a checkpoint without CKPT_KILL, and its image restarts");
}
