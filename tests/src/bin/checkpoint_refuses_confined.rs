//! A process confined by `no_new_privs` or by a seccomp filter is refused with EOPNOTSUPP and
//! a log line naming it and the confinement: restart does not restore either yet, and a
//! restored process that silently lost its sandbox would be more privileged than the one
//! that was saved. The target keeps running untouched.

use cr_tests::{check_os, pass, wait_restored, Check, Target};

/// A filter of one instruction: `SECCOMP_RET_ALLOW` for every system call.
fn allow_all() -> Check {
    let mut prog = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at a valid one-instruction program for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog) };
    check_os(r, "seccomp(SECCOMP_SET_MODE_FILTER) of an allow-all filter")
}

fn no_new_privs() -> Check {
    // SAFETY: a flag of the calling thread.
    check_os(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
        "PR_SET_NO_NEW_PRIVS",
    )
}

/// A target that confined itself with `confine` must be refused, named with `what`.
fn refused(confine: fn() -> Check, what: &str) {
    let mut target = Target::spawn(move || {
        confine()?;
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    target.expect_refused(what);
    target.finish();
}

fn main() {
    refused(no_new_privs, "no_new_privs");
    refused(allow_all, "seccomp");
    pass("processes under no_new_privs or a seccomp filter are refused by name and run on");
}
