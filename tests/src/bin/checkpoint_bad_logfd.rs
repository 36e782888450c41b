//! checkpoint(2) with a logfd that is not open, or not open for writing, fails with EBADF.

use cr_tests::{closed_fd, dev_null, expect_errno, fd, pass, sys, Child};

fn main() {
    let target = Child::sleeper();
    let out = dev_null(true);
    let read_only = dev_null(false);
    for (logfd, what) in [(closed_fd(), "not open"), (fd(&read_only), "read-only")] {
        expect_errno(
            sys::checkpoint(target.pid(), fd(&out), abi::CKPT_SUBTREE, logfd),
            libc::EBADF,
            &format!("checkpoint with a logfd that is {what}"),
        );
    }
    pass("a bad logfd gives EBADF");
}
