//! A process registered for membarrier(2)'s private expedited command is refused with
//! EOPNOTSUPP and a log line naming it: restart does not register the restored address space
//! again, and a later MEMBARRIER_CMD_PRIVATE_EXPEDITED would fail with EPERM where it worked.
//! The target keeps running, still registered.

use cr_tests::{check_os, pass, wait_restored, Target};

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

fn membarrier(cmd: libc::c_long) -> libc::c_long {
    // SAFETY: membarrier takes integers only.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }
}

fn main() {
    let mut target = Target::spawn(|| {
        check_os(
            membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED),
            "membarrier(REGISTER_PRIVATE_EXPEDITED)",
        )?;
        check_os(
            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
            "membarrier(PRIVATE_EXPEDITED)",
        )?;
        Ok(|| {
            wait_restored();
            check_os(
                membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
                "membarrier(PRIVATE_EXPEDITED) afterwards",
            )
        })
    });
    target.expect_refused("membarrier");
    target.finish();
    pass("a process registered for expedited membarrier(2) is refused by name and runs on");
}
