//! checkpoint(2) of a pid that names no process, or is not a pid at all, fails with ESRCH.

use cr_tests::{dead_pid, dev_null, expect_errno, fd, pass, sys};

fn main() {
    let out = dev_null(true);
    for pid in [dead_pid(), 0, -1, i32::MAX] {
        expect_errno(
            sys::checkpoint(pid, fd(&out), abi::CKPT_SUBTREE, -1),
            libc::ESRCH,
            &format!("checkpoint of pid {pid}"),
        );
    }
    pass("pids with no process give ESRCH");
}
