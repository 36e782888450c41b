//! A process cannot checkpoint its own thread group: EINVAL.

use cr_tests::{dev_null, expect_errno, fd, pass, sys};

fn main() {
    let out = dev_null(true);
    let me = std::process::id() as libc::pid_t;
    // With CKPT_SUBTREE, so that the pid-namespace-init rule cannot be what refuses it.
    expect_errno(
        sys::checkpoint(me, fd(&out), abi::CKPT_SUBTREE, -1),
        libc::EINVAL,
        "checkpoint of the caller itself",
    );
    pass("checkpointing oneself gives EINVAL");
}
