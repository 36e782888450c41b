//! restart(2) of an image written for another ABI (its checksum intact) fails with EINVAL.

use cr::image::{self, Breakage};
use cr_tests::{expect_log, expect_restart_errno, fd, pass, pipe_with, sys, with_log};

fn main() {
    let input = pipe_with(&image::broken(Breakage::WrongAbiHash));
    let (result, log) = with_log(|logfd| sys::restart(fd(&input), 0, logfd));
    expect_restart_errno(result, libc::EINVAL, "restart of an image for another ABI");
    expect_log(&log, "restart of an image for another ABI");
    pass("an ABI hash mismatch gives EINVAL");
}
