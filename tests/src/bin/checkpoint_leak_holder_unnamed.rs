//! Leak detection looks into other processes' fd tables to name what holds a container's file.
//! An unprivileged user (uid 65534, a container of its own in new user and pid namespaces,
//! checkpointed from inside that user namespace) must not learn that way what root's
//! processes hold: when a root process has a copy of the container's file (pidfd_getfd()),
//! the checkpoint is still refused with EBUSY, but no log line names the root process or its
//! fd.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use cr_tests::{exit_code, fail, log_names, pass, require_root, sys, Child};

const NOBODY: libc::uid_t = 65534;
/// The container's file.
const FILE: &str = "/tmp/cr-leak-holder-unnamed";

fn os(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// In the unprivileged user's container: the container's own file as fd 3, nothing else.
fn container_init() -> ! {
    // SAFETY: replaces this process's fds 0-2 with /dev/null and opens fd 3; then sleeps.
    unsafe {
        let null = c"/dev/null".as_ptr();
        for fd in 0..3 {
            libc::close(fd);
            libc::open(null, libc::O_RDWR);
        }
        // The user's pipes (the kernel log's among them) are not the container's.
        for fd in 3..1024 {
            libc::close(fd);
        }
        let path = c"/tmp/cr-leak-holder-unnamed".as_ptr(); // FILE
        if libc::open(path, libc::O_RDWR | libc::O_CREAT, 0o600) != 3 {
            libc::_exit(2);
        }
        loop {
            libc::pause();
        }
    }
}

/// The unprivileged user: has a helper make the container in new user and pid namespaces,
/// which tells root its init's pid on `tell`; waits for a byte on `go`, joins the container's
/// user namespace, checkpoints the container and checks that the log does not name `root`.
fn user(tell: OwnedFd, go: OwnedFd, root: libc::pid_t) -> i32 {
    // SAFETY: credential syscalls on this process; each result is checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(NOBODY) != 0
            || libc::setuid(NOBODY) != 0
        {
            eprintln!("FAIL: {}", os("drop to uid 65534"));
            return 1;
        }
        // Changing uid made us undumpable, which gives /proc/self to root.
        libc::prctl(libc::PR_SET_DUMPABLE, 1);
    }
    let helper = Child::spawn(move || {
        // SAFETY: a namespace syscall on this single-threaded process.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID) } != 0 {
            eprintln!("FAIL: {}", os("unshare(CLONE_NEWUSER | CLONE_NEWPID)"));
            return 1;
        }
        let _ = std::fs::write("/proc/self/setgroups", "deny");
        let _ = std::fs::write("/proc/self/uid_map", format!("0 {NOBODY} 1\n"));
        let _ = std::fs::write("/proc/self/gid_map", format!("0 {NOBODY} 1\n"));
        let init = Child::spawn(|| container_init());
        let _ = std::fs::File::from(tell).write_all(&init.pid().to_ne_bytes());
        exit_code(init.wait())
    });
    let mut byte = [0u8; 5];
    let mut go = std::fs::File::from(go);
    if go.read_exact(&mut byte).is_err() {
        eprintln!("FAIL: no word from root");
        return 1;
    }
    let pid = libc::pid_t::from_ne_bytes([byte[1], byte[2], byte[3], byte[4]]);
    // Checkpoint saves credentials of the caller's user namespace only: join the container's,
    // which this user owns (while still single-threaded, as setns() requires).
    let ns = match std::fs::File::open(format!("/proc/{pid}/ns/user")) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("FAIL: open the container's user namespace: {e}");
            return 1;
        }
    };
    // SAFETY: joins a user namespace; `ns` is an open namespace file.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER) } != 0 {
        eprintln!("FAIL: {}", os("setns(CLONE_NEWUSER)"));
        return 1;
    }
    let klog = match cr_tests::KernelLog::capture() {
        Ok(klog) => klog,
        Err(e) => {
            eprintln!("FAIL: log pipe: {e}");
            return 1;
        }
    };
    let image = "/tmp/cr-leak-holder-unnamed.img";
    let out = match std::fs::File::create(image) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("FAIL: create {image}: {e}");
            return 1;
        }
    };
    let result = sys::checkpoint(pid, out.as_raw_fd(), 0, klog.fd());
    let log = klog.finish();
    drop(helper);
    for line in &log {
        eprintln!("kernel: {line}");
    }
    if result.as_ref().err().and_then(|e| e.raw_os_error()) != Some(libc::EBUSY) {
        eprintln!("FAIL: checkpoint of the container: {result:?}, expected EBUSY");
        return 1;
    }
    if log_names(&log, &root.to_string()) {
        eprintln!("FAIL: the log names root's pid {root}, which holds the container's file");
        return 1;
    }
    if !log.iter().any(|l| l.contains("outside the tree")) {
        eprintln!("FAIL: no log line says the file is held outside the tree");
        return 1;
    }
    0
}

fn main() {
    require_root();
    let root = std::process::id() as libc::pid_t;
    let (tell_r, tell_w) = cr::klog::pipe().unwrap_or_else(|e| fail(format!("pipe: {e}")));
    let (go_r, go_w) = cr::klog::pipe().unwrap_or_else(|e| fail(format!("pipe: {e}")));
    let (tw, gr) = (tell_w.as_raw_fd(), go_r.as_raw_fd());
    let child = Child::spawn(move || {
        // SAFETY: this process's own copies of the pipe ends, taken over once each.
        let (tell, go) = unsafe { (OwnedFd::from_raw_fd(tw), OwnedFd::from_raw_fd(gr)) };
        user(tell, go, root)
    });
    drop(tell_w);
    drop(go_r);
    let mut pid = [0u8; 4];
    if std::fs::File::from(tell_r).read_exact(&mut pid).is_err() {
        fail(format!(
            "the unprivileged user made no container (exit {})",
            exit_code(child.wait())
        ));
    }
    let init = libc::pid_t::from_ne_bytes(pid);
    // The init sets up its fds after its pid is told: wait until its fd 3 is its file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let path = format!("/proc/{init}/fd/3");
    while std::fs::read_link(&path).map_or(true, |l| l != std::path::Path::new(FILE)) {
        if std::time::Instant::now() > deadline {
            // SAFETY: kill takes integers.
            unsafe { libc::kill(init, libc::SIGKILL) };
            fail(format!("the container's init did not open {FILE} as fd 3"));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: plain system calls on integers; the fds returned are ours.
    let stolen = unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, init, 0);
        let fd = if pidfd < 0 {
            -1
        } else {
            libc::syscall(libc::SYS_pidfd_getfd, pidfd, 3, 0)
        };
        if fd < 0 {
            libc::kill(init, libc::SIGKILL);
            fail(os("pidfd_getfd of the container's fd 3"));
        }
        libc::close(pidfd as i32);
        OwnedFd::from_raw_fd(fd as i32)
    };
    // The byte, then the init's pid: the user sees it the same, in the same namespace.
    let mut word = vec![b'g'];
    word.extend_from_slice(&init.to_ne_bytes());
    let _ = std::fs::File::from(go_w).write_all(&word);
    let code = exit_code(child.wait());
    drop(stolen);
    // SAFETY: the container's init, orphaned by the user that made it.
    unsafe { libc::kill(init, libc::SIGKILL) };
    let _ = std::fs::remove_file(FILE);
    let _ = std::fs::remove_file("/tmp/cr-leak-holder-unnamed.img");
    match code {
        0 => {
            pass("an unprivileged user's leak check does not name root's process holding its file")
        }
        code => fail(format!("the unprivileged user's check exited with {code}")),
    }
}
