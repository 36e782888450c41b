//! checkpoint(2) into an fd not opened for writing fails with EBADF.

use cr_tests::{dev_null, expect_errno, fd, pass, sys, Child};

fn main() {
    let target = Child::sleeper();
    let read_only = dev_null(false);
    expect_errno(
        sys::checkpoint(target.pid(), fd(&read_only), abi::CKPT_SUBTREE, -1),
        libc::EBADF,
        "checkpoint into /dev/null opened read-only",
    );
    pass("a read-only fd gives EBADF");
}
