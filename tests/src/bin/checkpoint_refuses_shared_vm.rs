//! A process that shares its address space with a process outside the checkpointed subtree
//! (a sibling made with clone(CLONE_VM | CLONE_PARENT)) is refused with EOPNOTSUPP and a
//! kernel log line naming the other process: restart could not share the memory with it
//! again. Both keep running untouched. (Sharing inside the tree is restored:
//! restore_shared_vm.)

use std::time::Duration;

use cr_tests::target::kill_and_reap;
use cr_tests::vm::{clone_vm, close_ready_fd};
use cr_tests::{log_names, pass, wait_restored, Fingerprint, Target, KILL};

/// The sibling: sleeps until killed.
extern "C" fn sleeper(_: *mut libc::c_void) -> libc::c_int {
    close_ready_fd();
    loop {
        // SAFETY: a raw pause(), which only sleeps.
        unsafe { libc::syscall(libc::SYS_pause) };
    }
}

fn main() {
    let mut target = Target::spawn(|| {
        clone_vm(libc::CLONE_VM | libc::CLONE_PARENT, sleeper, 0)?;
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()
        })
    });
    let sibling = target.sibling();
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a process sharing its memory outside the tree",
    );
    if !log_names(target.klog(), &format!("address space with pid {sibling}")) {
        target.fail("no kernel log line names the process it shares its address space with");
    }
    target.expect_asleep(Duration::from_millis(200));
    target.expect_sibling_asleep(sibling);
    target.finish();
    kill_and_reap(sibling);
    pass("a process sharing its address space outside the tree gives EOPNOTSUPP and a log line; both run on");
}
