//! restart(2) from an fd that is not open fails with EBADF.

use cr_tests::{closed_fd, expect_restart_errno, pass, sys};

fn main() {
    for bad in [closed_fd(), -1] {
        expect_restart_errno(
            sys::restart(bad, 0, -1),
            libc::EBADF,
            &format!("restart from fd {bad}"),
        );
    }
    pass("an fd that is not open gives EBADF");
}
