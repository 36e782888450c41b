//! restart(2) refuses flag bits it does not define with EINVAL, before reading the image.

use cr_tests::{expect_restart_errno, fd, pass, pipe_with, sys};

fn main() {
    for bit in [1u32 << 2, 1 << 31] {
        let image = pipe_with(&cr::image::minimal());
        expect_restart_errno(
            sys::restart(fd(&image), bit, -1),
            libc::EINVAL,
            &format!("restart with flags {bit:#x}"),
        );
    }
    expect_restart_errno(
        sys::restart(-1, 1 << 31, -1),
        libc::EINVAL,
        "restart with unknown flags and a bad fd",
    );
    pass("undefined flag bits give EINVAL");
}
