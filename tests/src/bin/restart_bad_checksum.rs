//! restart(2) of an image with one flipped byte fails the tail checksum with EBADMSG.

use cr::image::{self, Breakage};
use cr_tests::{expect_log, expect_restart_errno, fd, pass, pipe_with, sys, with_log};

fn main() {
    let input = pipe_with(&image::broken(Breakage::FlippedByte));
    let (result, log) = with_log(|logfd| sys::restart(fd(&input), 0, logfd));
    expect_restart_errno(
        result,
        libc::EBADMSG,
        "restart of an image with a flipped byte",
    );
    expect_log(&log, "restart of an image with a flipped byte");
    pass("a checksum mismatch gives EBADMSG");
}
