//! checkpoint(2) refuses flag bits it does not define with EINVAL, before any other check.

use cr_tests::{dev_null, expect_errno, fd, pass, sys, Child};

fn main() {
    let target = Child::sleeper();
    let out = dev_null(true);
    // The lowest and highest bits past the defined ones.
    let first = abi::CKPT_FLAGS_ALL + 1;
    assert_eq!(
        first & abi::CKPT_FLAGS_ALL,
        0,
        "the defined flags are the low bits"
    );
    for bit in [first, 1 << 31] {
        let flags = abi::CKPT_SUBTREE | bit;
        expect_errno(
            sys::checkpoint(target.pid(), fd(&out), flags, -1),
            libc::EINVAL,
            &format!("checkpoint with flags {flags:#x}"),
        );
    }
    // Unknown flags come first: with every other argument bad too, the answer is still EINVAL.
    expect_errno(
        sys::checkpoint(-1, -1, 1 << 31, -1),
        libc::EINVAL,
        "checkpoint with unknown flags and bad everything",
    );
    pass("undefined flag bits give EINVAL");
}
