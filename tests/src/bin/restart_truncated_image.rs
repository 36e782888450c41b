//! restart(2) of a stream that ends before its tail (cut inside the tail, or no tail at all)
//! fails with EBADMSG.

use cr::image::{self, Breakage};
use cr_tests::{expect_log, expect_restart_errno, fd, pass, pipe_with, sys, with_log};

fn main() {
    for how in [Breakage::Truncated, Breakage::NoTail] {
        let input = pipe_with(&image::broken(how));
        let (result, log) = with_log(|logfd| sys::restart(fd(&input), 0, logfd));
        let what = format!("restart of an image broken as {how:?}");
        expect_restart_errno(result, libc::EBADMSG, &what);
        expect_log(&log, &what);
    }
    pass("a stream cut before its tail gives EBADMSG");
}
