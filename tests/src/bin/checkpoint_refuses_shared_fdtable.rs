//! A process that shares its fd table with a process outside the checkpointed subtree (a
//! sibling made with clone(CLONE_FILES | CLONE_PARENT)) is refused with EOPNOTSUPP and a kernel
//! log line naming it: restart could not share the table with the outside process again.
//! Both keep running untouched. (Sharing inside the tree is restored: restore_shared_fdtable.)

use std::time::Duration;

use cr_tests::target::kill_and_reap;
use cr_tests::{check_os, log_names, pass, wait_restored, Fingerprint, Target, KILL};

fn main() {
    let mut target = Target::spawn(|| {
        let flags = (libc::CLONE_FILES | libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_long;
        // SAFETY: without CLONE_VM and with no new stack this is fork() that keeps the fd
        // table shared and makes the test the child's parent; the child only sleeps until
        // killed.
        let child = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        check_os(child, "clone(CLONE_FILES)")?;
        if child == 0 {
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()
        })
    });
    let child = target.sibling();
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a process sharing its fd table outside the tree",
    );
    if !log_names(target.klog(), "fd table") {
        target.fail("no kernel log line says which process shares its fd table");
    }
    target.expect_asleep(Duration::from_millis(200));
    target.expect_sibling_asleep(child);
    target.finish();
    kill_and_reap(child);
    pass("a process sharing its fd table outside the tree gives EOPNOTSUPP and a log line; both run on");
}
