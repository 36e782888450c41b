//! checkpoint(2) into an fd that is not open fails with EBADF.

use cr_tests::{closed_fd, expect_errno, pass, sys, Child};

fn main() {
    let target = Child::sleeper();
    for bad in [closed_fd(), -1] {
        expect_errno(
            sys::checkpoint(target.pid(), bad, abi::CKPT_SUBTREE, -1),
            libc::EBADF,
            &format!("checkpoint into fd {bad}"),
        );
    }
    pass("an fd that is not open gives EBADF");
}
