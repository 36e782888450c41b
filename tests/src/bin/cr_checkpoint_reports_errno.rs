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
    if run.code == 0 {
        fail(format!(
            "cr checkpoint of a non-init pid: {}",
            run.describe()
        ));
    }
    let want = format!("cr: checkpoint {pid}: {}", cr::sys::strerror(libc::EINVAL));
    if run.stderr.lines().last() != Some(want.as_str()) {
        fail(format!(
            "last stderr line is not {want:?}: {}",
            run.describe()
        ));
    }
    if exists {
        fail(format!("{path} left behind after a failed checkpoint"));
    }
    pass("cr checkpoint reports the errno and removes its output");
}
