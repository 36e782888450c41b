//! The attacker's position: an unprivileged user (uid 65534) in a user, pid and mount
//! namespace of its own, where CAP_CHECKPOINT_RESTORE over its pid namespace is its own, runs
//! the crafted hostile images of `restart_crafted` and the tree of `restore_tree` through
//! checkpoint and restart. Every one must behave there as it does for root.
//!
//! The first process of the new pid namespace is a small init: it mounts a /proc of its
//! namespace (the tests find their tasks there), runs each test as its child and reaps every
//! orphan, as an init does.

use std::ffi::CString;

use cr_tests::{exit_code, fail, pass, require_root, Child};

const NOBODY: libc::uid_t = 65534;
const TESTS: [&str; 2] = ["restart_crafted", "restore_tree"];

fn os(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Drops to uid/gid 65534 and enters new user, pid and mount namespaces, mapping 0 inside to
/// 65534 outside.
fn become_unprivileged() -> Result<(), String> {
    // SAFETY: credential and namespace syscalls on this process; each result is checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(NOBODY) != 0
            || libc::setuid(NOBODY) != 0
        {
            return Err(os("drop to uid 65534"));
        }
        // Changing uid made us undumpable, which gives /proc/self to root: the id maps
        // below could not be written.
        if libc::prctl(libc::PR_SET_DUMPABLE, 1) != 0 {
            return Err(os("PR_SET_DUMPABLE"));
        }
        if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNS) != 0 {
            return Err(os("unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS)"));
        }
    }
    let write = |path: &str, what: &str| {
        std::fs::write(path, what).map_err(|e| format!("write {path}: {e}"))
    };
    write("/proc/self/setgroups", "deny")?;
    write("/proc/self/uid_map", &format!("0 {NOBODY} 1\n"))?;
    write("/proc/self/gid_map", &format!("0 {NOBODY} 1\n"))
}

/// Pid 1 of the new namespace: a /proc of its own, then each test, reaping all children.
fn init() -> i32 {
    let proc_ = CString::new("proc").unwrap_or_default();
    let at = CString::new("/proc").unwrap_or_default();
    // SAFETY: mounts a new proc over /proc in our own mount namespace; strings are valid.
    if unsafe {
        libc::mount(
            proc_.as_ptr(),
            at.as_ptr(),
            proc_.as_ptr(),
            0,
            std::ptr::null(),
        )
    } != 0
    {
        eprintln!("FAIL: {}", os("mount proc"));
        return 1;
    }
    // The harness's cwd (/root) is not ours to reopen at restart.
    if let Err(e) = std::env::set_current_dir("/tmp") {
        eprintln!("FAIL: chdir /tmp: {e}");
        return 1;
    }
    for test in TESTS {
        // SAFETY: the child only execs.
        let child = match unsafe { libc::fork() } {
            -1 => {
                eprintln!("FAIL: {}", os("fork"));
                return 1;
            }
            0 => {
                let path = CString::new(format!("/tests/{test}")).unwrap_or_default();
                let argv = [path.as_ptr(), std::ptr::null()];
                // SAFETY: a NUL-terminated path and argv.
                unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
                eprintln!("FAIL: {}", os(&format!("exec {test}")));
                // SAFETY: ends the child.
                unsafe { libc::_exit(1) }
            }
            pid => pid,
        };
        loop {
            let mut status = 0;
            // SAFETY: `status` is valid for the write.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid == child {
                if exit_code(status) != 0 {
                    eprintln!(
                        "FAIL: {test} as uid {NOBODY} in its own namespaces: exit code {}",
                        exit_code(status)
                    );
                    return 1;
                }
                eprintln!("# {test}: passed as uid {NOBODY} in its own namespaces");
                break;
            }
            if pid < 0 {
                eprintln!("FAIL: {}", os("waitpid"));
                return 1;
            }
        }
    }
    0
}

fn main() {
    require_root();
    let outer = Child::spawn(|| {
        if let Err(e) = become_unprivileged() {
            eprintln!("FAIL: {e}");
            return 1;
        }
        // The first child is the new pid namespace's init.
        let init = Child::spawn(init);
        exit_code(init.wait())
    });
    match exit_code(outer.wait()) {
        0 => pass("hostile images and a tree restart behave the same for an unprivileged user in its own namespaces"),
        code => fail(format!("the unprivileged lane exited with {code}")),
    }
}
