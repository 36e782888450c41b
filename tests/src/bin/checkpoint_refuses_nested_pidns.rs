//! A tree holding a pid namespace of its own (a child made with CLONE_NEWPID) is refused with
//! EOPNOTSUPP and a kernel log line: restart would put that child among the others and
//! change its pid. The tree keeps running untouched.

use std::time::Duration;

use cr_tests::{check_os, log_names, pass, wait_restored, Fingerprint, Target, KILL};

fn main() {
    let mut target = Target::spawn(|| {
        let flags = (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_long;
        // SAFETY: with no new stack this is fork() into a new pid namespace; the child only
        // sleeps until killed.
        let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        check_os(child, "clone(CLONE_NEWPID)")?;
        if child == 0 {
            // SAFETY: our copy of the test's ready pipe: the test waits for it to be closed.
            unsafe { libc::close(cr_tests::target::READY_FD) };
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
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a tree with a nested pid namespace",
    );
    if !log_names(target.klog(), "nested") {
        target.fail("no kernel log line says which process lives in a nested pid namespace");
    }
    target.expect_asleep(Duration::from_millis(200));
    target.finish();
    pass("a child in its own pid namespace gives EOPNOTSUPP and a log line; the tree runs on");
}
