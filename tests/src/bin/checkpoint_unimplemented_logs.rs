//! A checkpoint with valid arguments reaches the dump, which is not written yet: EOPNOTSUPP,
//! and the kernel says so on the log fd. Once the dump exists this test skips.

use cr_tests::{dev_null, expect_errno, expect_log, fail, fd, pass, skip, sys, with_log, Child};

fn main() {
    let target = Child::sleeper();
    let out = dev_null(true);
    let (result, log) =
        with_log(|logfd| sys::checkpoint(target.pid(), fd(&out), abi::CKPT_SUBTREE, logfd));
    for line in &log {
        eprintln!("kernel: {line}");
    }
    if result.is_ok() {
        skip("checkpoint succeeded: the dump is implemented, this stub test no longer applies");
    }
    expect_errno(result, libc::EOPNOTSUPP, "checkpoint with valid arguments");
    expect_log(&log, "checkpoint with valid arguments");
    if !log.iter().any(|l| l.contains("not implemented")) {
        fail("no kernel log line says \"not implemented\"");
    }
    pass("valid arguments give EOPNOTSUPP and a log line");
}
