//! restart(2) from an empty stream (a pipe closed at once, an empty file) fails with EBADMSG
//! and says so on the log fd.

use cr_tests::{
    expect_log, expect_restart_errno, fd, pass, pipe_with, sys, temp_file_with, with_log,
};

fn main() {
    let pipe = pipe_with(&[]);
    let file = temp_file_with(&[], false);
    for (input, what) in [(fd(&pipe), "empty pipe"), (fd(&file), "empty file")] {
        let (result, log) = with_log(|logfd| sys::restart(input, 0, logfd));
        let what = format!("restart from an {what}");
        expect_restart_errno(result, libc::EBADMSG, &what);
        expect_log(&log, &what);
    }
    pass("an empty image gives EBADMSG");
}
