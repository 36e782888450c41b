//! A thread that left its process's fd table (unshare(CLONE_FILES)) is refused with
//! EOPNOTSUPP and a kernel log line naming it: restart makes every thread share its process's
//! table. The process keeps running untouched.

use std::sync::mpsc;
use std::time::Duration;

use cr_tests::threads;
use cr_tests::{check_os, log_names, pass, wait_restored, Fingerprint, Target, KILL};

fn main() {
    let mut target = Target::spawn(|| {
        let (tx, rx) = mpsc::channel();
        threads::spawn(move || {
            // SAFETY: gives this thread its own copy of the fd table.
            let r = check_os(
                unsafe { libc::unshare(libc::CLONE_FILES) },
                "unshare(CLONE_FILES)",
            );
            // Its copy of the ready pipe would keep the test waiting for "ready".
            // SAFETY: closes this thread's own copy only.
            unsafe { libc::close(cr_tests::target::READY_FD) };
            let _ = tx.send(r);
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        })?;
        rx.recv().map_err(|_| "the thread ended".to_string())??;
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()
        })
    });
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a thread with its own fd table",
    );
    if !log_names(target.klog(), "fd table") {
        target.fail("no kernel log line says which thread has its own fd table");
    }
    target.expect_asleep(Duration::from_millis(200));
    target.finish();
    pass("a thread with its own fd table gives EOPNOTSUPP and a log line; the process runs on");
}
