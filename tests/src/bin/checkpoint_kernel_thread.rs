//! checkpoint(2) of a kernel thread (kthreadd, pid 2) is refused with EPERM.

use cr_tests::{dev_null, expect_errno, fd, pass, skip, sys};

const KTHREADD: libc::pid_t = 2;

fn main() {
    let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
    if comm.trim_end() != "kthreadd" {
        skip(format!("pid 2 is {comm:?}, not kthreadd"));
    }
    let out = dev_null(true);
    for flags in [abi::CKPT_SUBTREE, 0] {
        expect_errno(
            sys::checkpoint(KTHREADD, fd(&out), flags, -1),
            libc::EPERM,
            &format!("checkpoint of kthreadd with flags {flags:#x}"),
        );
    }
    pass("a kernel thread gives EPERM");
}
