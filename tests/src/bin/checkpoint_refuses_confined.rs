//! A process confined by `no_new_privs` or by a seccomp filter is refused with EOPNOTSUPP and
//! a log line naming it and the confinement: restart does not restore either yet, and a
//! restored process that silently lost its sandbox would be more privileged than the one
//! that was saved. The target keeps running untouched.

use std::time::Duration;

use cr_tests::{check_os, errno_problem, log_names, pass, wait_restored, Check, Target, KILL};

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

/// Checkpoints a target that confined itself with `confine`; expects EOPNOTSUPP and a log line
/// naming the target and `what`.
fn refused(confine: fn() -> Check, what: &str) {
    let mut target = Target::spawn(move || {
        confine()?;
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    let pid = target.pid();
    let result = target.try_checkpoint(KILL);
    if let Some(problem) = errno_problem(
        &result,
        libc::EOPNOTSUPP,
        &format!("checkpoint of a process under {what}"),
    ) {
        target.fail(problem);
    }
    if !log_names(target.klog(), &pid.to_string()) || !log_names(target.klog(), what) {
        target.fail(format!("no kernel log line names pid {pid} and {what}"));
    }
    target.expect_asleep(Duration::from_millis(200));
    target.finish();
}

fn main() {
    refused(no_new_privs, "no_new_privs");
    refused(allow_all, "seccomp");
    pass("processes under no_new_privs or a seccomp filter are refused by name and run on");
}
