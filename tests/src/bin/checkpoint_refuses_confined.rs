//! A process confined by `no_new_privs`, a seccomp filter or a Landlock domain is refused with
//! EOPNOTSUPP and a log line naming it and the confinement: restart does not restore them yet,
//! and a restored process that silently lost its sandbox would be more privileged than the one
//! that was saved. So is one that let a tracer in with Yama's `PR_SET_PTRACER`, an exception
//! restart would not make again. The target keeps running untouched, still confined.

use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target};

/// `LANDLOCK_ACCESS_FS_MAKE_FIFO` of <linux/landlock.h>: the one right the domain handles (and
/// so denies), harmless to the test's other steps.
const LANDLOCK_ACCESS_FS_MAKE_FIFO: u64 = 1 << 10;
/// `PR_SET_PTRACER` of <linux/prctl.h>.
const PR_SET_PTRACER: libc::c_int = 0x59616d61;

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

/// Confines the process to a Landlock domain that denies making FIFOs. Root does not need
/// no_new_privs for it (it has CAP_SYS_ADMIN), so this is refused for the domain itself.
fn landlock() -> Check {
    let attr: u64 = LANDLOCK_ACCESS_FS_MAKE_FIFO;
    // SAFETY: `attr` is a `struct landlock_ruleset_attr` of its one first-version field.
    let fd = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr, 8, 0) };
    check_os(fd, "landlock_create_ruleset")?;
    // SAFETY: `fd` is the ruleset just created; closed once enforced.
    unsafe {
        check_os(
            libc::syscall(libc::SYS_landlock_restrict_self, fd, 0),
            "landlock_restrict_self",
        )?;
        libc::close(fd as libc::c_int);
    }
    Ok(())
}

/// The domain still denies what it handles: making a FIFO fails with EACCES.
fn landlock_works() -> Check {
    let path = format!("/tmp/landlocked-fifo-{}\0", std::process::id());
    // SAFETY: `path` is NUL-terminated.
    let r = unsafe { libc::mkfifo(path.as_ptr().cast(), 0o600) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    check_eq(
        "mkfifo() under the Landlock domain",
        (r, errno),
        (-1, Some(libc::EACCES)),
    )
}

/// Lets the parent (the test) trace the target, as Yama's relational mode allows only then.
fn ptracer() -> Check {
    // SAFETY: no pointers; names our parent, which is alive.
    check_os(
        unsafe { libc::prctl(PR_SET_PTRACER, libc::getppid(), 0, 0, 0) },
        "PR_SET_PTRACER",
    )
}

/// A target that confined itself with `confine` must be refused, named with `what`.
/// `works` checks it is still confined once it runs on.
fn refused(confine: fn() -> Check, what: &str, works: fn() -> Check) {
    let mut target = Target::spawn(move || {
        confine()?;
        Ok(move || {
            wait_restored();
            works()
        })
    });
    target.expect_refused(what);
    target.finish();
}

fn main() {
    refused(no_new_privs, "no_new_privs", || Ok(()));
    refused(allow_all, "seccomp", || Ok(()));
    refused(landlock, "Landlock", landlock_works);
    refused(ptracer, "PR_SET_PTRACER", || Ok(()));
    pass("processes under no_new_privs, a seccomp filter or a Landlock domain, or with a Yama ptracer exception, are refused by name and run on");
}
