//! `cr restart` of a bad image exits non-zero with `cr: restart: <errno text>` as its last line
//! and forwards the kernel's log lines before it.

use cr::image::{self, Breakage};
use cr_tests::{fail, pass, run_cr, temp_file_with};

fn main() {
    let input = temp_file_with(&image::broken(Breakage::Truncated), false);
    let run = run_cr(&["restart"], Some(input));
    let want = format!("cr: restart: {}", cr::sys::strerror(libc::EBADMSG));
    run.expect_failure_line(&want, "cr restart of a truncated image");
    if !run
        .stderr
        .lines()
        .any(|l| l.starts_with(cr::klog::STDERR_PREFIX))
    {
        fail(format!("no kernel log line on stderr: {}", run.describe()));
    }
    pass("cr restart reports the errno and the kernel's log");
}
