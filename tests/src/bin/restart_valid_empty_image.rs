//! restart(2) of a valid image with nothing in it (header and tail only) gets past every
//! stream check and is refused with EOPNOTSUPP and a log line: there is no task to restore.

use cr_tests::{expect_log, expect_restart_errno, fd, pass, pipe_with, sys, with_log};

fn main() {
    let input = pipe_with(&cr::image::minimal());
    let (result, log) = with_log(|logfd| sys::restart(fd(&input), 0, logfd));
    for line in &log {
        eprintln!("kernel: {line}");
    }
    expect_restart_errno(result, libc::EOPNOTSUPP, "restart of a header+tail image");
    expect_log(&log, "restart of a header+tail image");
    pass("a valid image with no tasks gives EOPNOTSUPP and a log line");
}
