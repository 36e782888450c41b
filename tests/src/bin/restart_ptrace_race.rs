//! Another thread of the restarting process attaches with `PTRACE_SEIZE` to the restored
//! root while restart(2) is still rebuilding it (its 32 MiB take a while to read back). The
//! caller is the root's parent, so the attach is allowed; linking the tree would then replace
//! the tracer as the task's parent and `forget_original_parent()` would hit its `BUG_ON` later.
//! Restart must refuse with EBUSY and a log line, leave no task behind and no kernel report;
//! the intact image then restarts with nobody attaching and passes its checks.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cr_tests::mem::anon;
use cr_tests::proc::{my_children, pid_exists};
use cr_tests::{errno_problem, log_names, pass, wait_restored, Target, KILL};

const MEMORY: usize = 32 << 20;

fn main() {
    let mut target = Target::spawn(|| {
        let memory = anon(MEMORY)?;
        memory.fill(7);
        Ok(move || {
            wait_restored();
            memory.check(7, "the 32 MiB after the restart")
        })
    });
    let pid = target.pid();
    target.checkpoint(KILL);
    let done = Arc::new(AtomicBool::new(false));
    let seized = Arc::new(AtomicI32::new(0));
    let attacker = {
        let (done, seized) = (done.clone(), seized.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !done.load(Ordering::Acquire) && Instant::now() < deadline {
                // SAFETY: PTRACE_SEIZE takes integers and attaches without stopping the task.
                if seized.load(Ordering::Relaxed) == 0
                    && unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) } == 0
                {
                    seized.store(1, Ordering::Release);
                }
                // A tracer that exits detaches from its tracees: stay until restart returns.
                std::thread::yield_now();
            }
        })
    };
    let result = target.try_restart(0);
    done.store(true, Ordering::Release);
    let _ = attacker.join();
    if seized.load(Ordering::Acquire) == 0 {
        if let Ok(new) = result {
            cr_tests::target::kill_and_reap(new);
        }
        target.fail("the attacking thread never attached to the task being restored");
    }
    if let Some(problem) = errno_problem(
        &result,
        libc::EBUSY,
        "restart with a task attached to by ptrace",
    ) {
        if let Ok(new) = result {
            cr_tests::target::kill_and_reap(new);
        }
        target.fail(problem);
    }
    if !log_names(target.klog(), "ptrace") {
        target.fail("no kernel log line says a task was attached to by ptrace");
    }
    if pid_exists(pid) || !my_children().is_empty() {
        target.fail(format!(
            "the failed restart left tasks behind: pid {pid} exists: {}, children {:?}",
            pid_exists(pid),
            my_children()
        ));
    }
    target.restart();
    target.finish();
    pass("a task attached to by ptrace during restart gives EBUSY and nothing is left; the image restarts");
}
