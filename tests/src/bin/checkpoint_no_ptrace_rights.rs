//! A caller without ptrace-attach rights over the target (an unprivileged user checkpointing a
//! root process) is refused with EPERM.

use cr_tests::{dev_null, exit_code, expect_errno, fail, fd, pass, require_root, sys, Child};

const NOBODY: libc::uid_t = 65534;

fn main() {
    require_root();
    let target = Child::sleeper();
    let out = dev_null(true);
    let pid = target.pid();
    let checker = Child::spawn(|| {
        // SAFETY: plain credential syscalls on this process; each result is checked.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                fail(format!(
                    "dropping to uid {NOBODY}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        expect_errno(
            sys::checkpoint(pid, fd(&out), abi::CKPT_SUBTREE, -1),
            libc::EPERM,
            &format!("checkpoint of root's pid {pid} as uid {NOBODY}"),
        );
        0
    });
    // The checker reports its own failure on stderr; a non-zero code is all we need here.
    match exit_code(checker.wait()) {
        0 => pass("no ptrace rights gives EPERM"),
        code => fail(format!("the unprivileged checker exited with {code}")),
    }
}
