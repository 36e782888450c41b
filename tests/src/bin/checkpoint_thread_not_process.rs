//! checkpoint(2) of a thread id that is not its process's gives EINVAL and a log line that
//! names the process: a process is checkpointed whole, by its pid. The process runs on.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use cr_tests::threads::{self, gettid};
use cr_tests::{
    dev_null, errno_problem, fd, log_names, pass, sys, wait_restored, with_log, Fingerprint,
    Target, NO_KILL,
};

static TID: AtomicI32 = AtomicI32::new(0);

fn main() {
    let target = Target::spawn(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        threads::spawn(move || {
            let _ = tx.send(gettid());
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        })?;
        TID.store(
            rx.recv().map_err(|_| "the thread ended".to_string())?,
            Ordering::SeqCst,
        );
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()
        })
    });
    let tid = target.peek_u64(TID.as_ptr() as usize) as i32;
    if tid <= target.pid() {
        target.fail(format!("the thread's id {tid} was not published"));
    }
    let out = dev_null(true);
    let (result, lines) = with_log(|logfd| sys::checkpoint(tid, fd(&out), NO_KILL, logfd));
    if let Some(problem) = errno_problem(&result, libc::EINVAL, "checkpoint of a thread by its tid")
    {
        target.fail(problem);
    }
    if !log_names(&lines, &format!("process {}", target.pid())) {
        target.fail(format!(
            "no kernel log line names the thread's process: {lines:?}"
        ));
    }
    target.expect_asleep(Duration::from_millis(200));
    target.finish();
    pass("checkpoint of a thread's id gives EINVAL and a log line naming its process");
}
