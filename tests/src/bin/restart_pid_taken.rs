//! restart(2) of an image whose pid is taken, by the running original or by its unreaped
//! zombie, fails with EBUSY and creates no process; once the pid is free the same image
//! restarts.

use cr_tests::proc::my_children;
use cr_tests::{check_eq, pass, Target, KILL, NO_KILL};

fn expect_busy(target: &mut Target, what: &str) {
    let result = target.try_restart(0);
    if result.is_err() {
        let children = my_children();
        check_eq("our children", children, vec![target.pid()]).unwrap_or_else(|e| target.fail(e));
    }
    target.expect_restart_errno(result, libc::EBUSY, what);
}

fn main() {
    let mut target = Target::fingerprinted();
    target.checkpoint(NO_KILL);
    expect_busy(&mut target, "restart while the original runs");
    if target.try_checkpoint(KILL).is_err() {
        target.fail("checkpoint with CKPT_KILL failed");
    }
    // SAFETY: kill(pid, 0) checks the zombie is there; nothing is sent.
    if unsafe { libc::kill(target.pid(), 0) } != 0 {
        target.fail("the killed original is not a zombie");
    }
    expect_busy(
        &mut target,
        "restart while the original is an unreaped zombie",
    );
    target.reap_killed("after checkpoint with CKPT_KILL");
    target.restart();
    target.finish();
    pass("a taken pid gives EBUSY and no process; the freed pid restarts");
}
