//! restart(2) with a logfd that is not open, or not open for writing, fails with EBADF before
//! the image is read.

use cr_tests::{closed_fd, dev_null, expect_restart_errno, fd, pass, pipe_with, sys};

fn main() {
    let read_only = dev_null(false);
    for (logfd, what) in [(closed_fd(), "not open"), (fd(&read_only), "read-only")] {
        let image = pipe_with(&cr::image::minimal());
        expect_restart_errno(
            sys::restart(fd(&image), 0, logfd),
            libc::EBADF,
            &format!("restart with a logfd that is {what}"),
        );
    }
    pass("a bad logfd gives EBADF");
}
