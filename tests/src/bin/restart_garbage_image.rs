//! restart(2) from bytes that are not an image, or an image whose header has the wrong magic,
//! fails with EINVAL and a log line.

use cr::image::{self, Breakage};
use cr_tests::{expect_log, expect_restart_errno, fd, pass, pipe_with, sys, with_log};

fn main() {
    // Text where the header should be: a record type and length no writer produces.
    let garbage: Vec<u8> = b"this is not a checkpoint image\n".repeat(64);
    let bad_magic = image::broken(Breakage::BadMagic);
    for (bytes, what) in [
        (&garbage, "text"),
        (&bad_magic, "an image with a bad magic"),
    ] {
        let input = pipe_with(bytes);
        let (result, log) = with_log(|logfd| sys::restart(fd(&input), 0, logfd));
        let what = format!("restart from {what}");
        expect_restart_errno(result, libc::EINVAL, &what);
        expect_log(&log, &what);
    }
    pass("garbage and a bad magic give EINVAL");
}
