//! restart(2) from an fd not opened for reading fails with EBADF, even if the file holds a
//! valid image.

use cr_tests::{expect_restart_errno, fd, pass, sys, temp_file_with};

fn main() {
    let write_only = temp_file_with(&cr::image::minimal(), true);
    expect_restart_errno(
        sys::restart(fd(&write_only), 0, -1),
        libc::EBADF,
        "restart from a write-only file",
    );
    pass("a write-only fd gives EBADF");
}
