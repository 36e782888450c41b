//! A target that another process ptraces is refused with EOPNOTSUPP and a kernel log line
//! naming it; it keeps running untouched and nothing else is left behind.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::Duration;

use cr_tests::proc::my_children;
use cr_tests::{check_eq, errno_problem, fail, log_names, pass, Child, Target, KILL};

fn main() {
    let mut target = Target::fingerprinted();
    let pid = target.pid();
    let (read, write) = cr::klog::pipe().unwrap_or_else(|e| fail(format!("pipe: {e}")));
    let (read_fd, write_fd) = (read.as_raw_fd(), write.as_raw_fd());
    let tracer = Child::spawn(move || {
        // SAFETY: closing the pipe ends, this process's copies; PTRACE_SEIZE attaches without
        // stopping the tracee and passes no memory.
        let r = unsafe {
            libc::close(read_fd);
            libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0)
        };
        if r != 0 {
            eprintln!("PTRACE_SEIZE {pid}: {}", std::io::Error::last_os_error());
            return 1;
        }
        // SAFETY: as above.
        unsafe { libc::close(write_fd) };
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    });
    drop(write);
    let mut seized = Vec::new();
    let _ = std::fs::File::from(read).read_to_end(&mut seized);
    if cr_tests::proc::proc_state(tracer.pid()).is_none_or(|s| s == 'Z') {
        target.fail("the tracer could not attach");
    }
    let result = target.try_checkpoint(KILL);
    let children = my_children();
    // The tracer goes first: a traced target's death is reported to its tracer, so failing
    // (which kills and reaps the target) would wait forever with the tracer alive.
    let tracer_pid = tracer.pid();
    drop(tracer);
    let what = "checkpoint of a ptraced process";
    if let Some(problem) = errno_problem(&result, libc::EOPNOTSUPP, what) {
        target.fail(problem);
    }
    if !log_names(target.klog(), &pid.to_string()) {
        target.fail(format!("no kernel log line names the traced pid {pid}"));
    }
    let expected = vec![pid.min(tracer_pid), pid.max(tracer_pid)];
    check_eq("our children", children, expected).unwrap_or_else(|e| target.fail(e));
    target.expect_asleep(Duration::from_millis(200));
    target.finish();
    pass("a ptraced process gives EOPNOTSUPP and a log line naming it; it runs on");
}
