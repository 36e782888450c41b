//! A tree in which two processes share one fd table (clone with CLONE_FILES, no CLONE_VM) is
//! refused with EOPNOTSUPP and a kernel log line naming the process: restart would rebuild
//! the table twice. Both processes keep running untouched.

use std::time::Duration;

use cr_tests::proc::{children_of, proc_state};
use cr_tests::{check_os, log_names, pass, wait_restored, Fingerprint, Target, KILL};

fn main() {
    let mut target = Target::spawn(|| {
        let flags = (libc::CLONE_FILES | libc::SIGCHLD) as libc::c_long;
        // SAFETY: without CLONE_VM and with no new stack this is fork() that keeps the fd
        // table shared; the child only sleeps until killed.
        let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        check_os(child, "clone(CLONE_FILES)")?;
        if child == 0 {
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        let child = child as libc::pid_t;
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            // SAFETY: kill and waitpid on our own child.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, std::ptr::null_mut(), 0);
            }
            fingerprint.check()
        })
    });
    let child = match children_of(target.pid())[..] {
        [c] => c,
        ref other => target.fail(format!("the target should have one child, has {other:?}")),
    };
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a tree sharing an fd table",
    );
    if !log_names(target.klog(), "fd table") {
        target.fail("no kernel log line says which process shares its fd table");
    }
    target.expect_asleep(Duration::from_millis(200));
    if proc_state(child) != Some('S') {
        target.fail(format!(
            "the child is in state {:?}, should be asleep",
            proc_state(child)
        ));
    }
    target.finish();
    pass("two processes sharing an fd table give EOPNOTSUPP and a log line; both run on");
}
