//! A refused `cr checkpoint -o FILE PID` exits non-zero with `cr: checkpoint PID: <errno
//! text>` and leaves no partial image behind.

use cr_tests::{fail, pass, run_cr, Child};

fn main() {
    let target = Child::sleeper();
    let pid = target.pid().to_string();
    let path = format!("/tmp/cr-checkpoint-{}.img", std::process::id());
    // Without --subtree an ordinary child is not a pid-namespace init: EINVAL.
    let run = run_cr(&["checkpoint", "-o", &path, &pid], None);
    let exists = std::path::Path::new(&path).exists();
    let _ = std::fs::remove_file(&path);
    let want = format!("cr: checkpoint {pid}: {}", cr::sys::strerror(libc::EINVAL));
    run.expect_failure_line(&want, "cr checkpoint of a non-init pid");
    if exists {
        fail(format!("{path} left behind after a failed checkpoint"));
    }
    pass("cr checkpoint reports the errno and removes its output");
}
