//! Without CKPT_SUBTREE, the target must be the init of its pid namespace: an ordinary child
//! is refused with EINVAL, and the same call with CKPT_SUBTREE is not refused for that reason.

use cr_tests::{dev_null, expect_errno, fail, fd, pass, sys, Child};

fn main() {
    let target = Child::sleeper();
    let out = dev_null(true);
    expect_errno(
        sys::checkpoint(target.pid(), fd(&out), 0, -1),
        libc::EINVAL,
        "checkpoint of an ordinary child without CKPT_SUBTREE",
    );
    if let Err(e) = sys::checkpoint(target.pid(), fd(&out), abi::CKPT_SUBTREE, -1) {
        if e.raw_os_error() == Some(libc::EINVAL) {
            fail("checkpoint of the same child with CKPT_SUBTREE also gives EINVAL");
        }
    }
    pass("a non-init target without CKPT_SUBTREE gives EINVAL");
}
