//! A full container: the init of a pid namespace and its tree, checkpointed without
//! CKPT_SUBTREE, comes back in a new pid namespace with every pid as it was inside. The
//! restored container is checkpointed and restarted again, and its last image is then
//! restarted a second time, side by side with the first: two containers with the same pids.
//!
//! ```text
//! init  pid 1, setsid(), a second thread asleep on a condition variable
//! ├── a  its own process group
//! │   └── b  in a's group
//! └── z  a zombie that exited with status 7
//! ```
//!
//! After each restart init checks its pid and its thread, reaps z with its status and wakes
//! a, which checks its pid, parent, group and session, wakes b (which checks its own) and
//! reaps it. Before the second side-by-side restart, the image cut after its third task must
//! fail cleanly: the namespace's init, already made, must not wait forever for the others.

use std::sync::Arc;
use std::time::Duration;

use std::os::fd::AsRawFd;

use cr_tests::damage::record_offsets;
use cr_tests::proc::children_of;
use cr_tests::target::kill_and_reap;
use cr_tests::threads::{self, gettid, Gate};
use cr_tests::tree::{check_ids, wake_and_reap, Ready};
use cr_tests::with_log;
use cr_tests::{
    check_eq, check_os, os_error, pass, sys, wait_restored, Check, Target, CONTAINER_KILL,
};

/// Waits until the child `pid` has exited, leaving it a zombie.
fn wait_exited(pid: libc::pid_t) -> Check {
    cr_tests::proc::waitid(pid, libc::WEXITED | libc::WNOWAIT).map(|_| ())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let me = std::process::id() as libc::pid_t;
    check_eq("the container's init pid", me, 1)?;
    // SAFETY: init leaves the test's session for one of its own.
    check_os(unsafe { libc::setsid() }, "setsid")?;

    let gate = Arc::new(Gate::default());
    let thread = {
        let gate = gate.clone();
        threads::spawn(move || {
            let before = gettid();
            gate.wait();
            check_eq("init's second thread's tid", gettid(), before)
        })?
    };

    // SAFETY: the child ends at once.
    let z = match unsafe { libc::fork() } {
        -1 => return Err(os_error("fork")),
        // SAFETY: ends the child.
        0 => unsafe { libc::_exit(7) },
        pid => pid,
    };
    wait_exited(z)?;

    let ready = Ready::new()?;
    let a = ready.fork(21, |f| {
        // SAFETY: a leads its own group.
        check_os(unsafe { libc::setpgid(0, 0) }, "setpgid")?;
        let a = std::process::id() as libc::pid_t;
        let b = f.fork(22, move |_| {
            let b = std::process::id() as libc::pid_t;
            Ok(move || {
                check_eq("b's pid", std::process::id() as libc::pid_t, b)?;
                check_ids((a, a, 1))
            })
        })?;
        Ok(move || {
            check_eq("a's pid", std::process::id() as libc::pid_t, a)?;
            check_ids((1, a, 1))?;
            wake_and_reap(&[b])
        })
    })?;
    ready.wait(2)?;

    Ok(move || {
        wait_restored();
        check_eq("init's pid", std::process::id() as libc::pid_t, 1)?;
        gate.open();
        thread.join(Duration::from_secs(10))?;
        let status = sys::waitpid(z).map_err(|e| format!("wait for the zombie {z}: {e}"))?;
        check_eq("the zombie's exit status", status, 7 << 8)?;
        wake_and_reap(&[a])
    })
}

/// A second container restarted from the same image; killed and reaped on drop.
struct Twin(libc::pid_t);

impl Drop for Twin {
    fn drop(&mut self) {
        kill_and_reap(self.0);
    }
}

/// The offsets of the image's `Task` records.
fn task_offsets(image: &[u8]) -> Vec<usize> {
    let task = abi::RecordType::Task.id().to_le_bytes();
    record_offsets(image)
        .into_iter()
        .filter(|&at| image[at..at + 4] == task)
        .collect()
}

fn main() {
    let mut target = Target::spawn_container(setup);
    target.checkpoint(CONTAINER_KILL);
    target.restart();
    // The restored container, checkpointed and restarted again.
    target.checkpoint(CONTAINER_KILL);
    target.restart();
    // A cut image: restart fails once it has made init and two more tasks.
    let image = target.image();
    let cut = task_offsets(&image)
        .get(3)
        .copied()
        .unwrap_or_else(|| target.fail("the image holds fewer than four tasks"));
    let truncated = cr_tests::temp_file_with(&image[..cut], false);
    let (result, lines) = with_log(|logfd| sys::restart(truncated.as_raw_fd(), 0, logfd));
    if let Some(problem) =
        cr_tests::errno_problem(&result, libc::EBADMSG, "restart of a cut container image")
    {
        if let Ok(pid) = result {
            kill_and_reap(pid);
        }
        target.fail(format!("{problem}; kernel: {lines:?}"));
    }
    let me = std::process::id() as libc::pid_t;
    let kids = children_of(me);
    if kids != [target.pid()] {
        target.fail(format!(
            "after a failed restart the test has children {kids:?}"
        ));
    }
    // The same image once more, beside it.
    let twin = match target.try_restart(0) {
        Ok(pid) => Twin(pid),
        Err(e) => target.fail(format!("a second restart of the same image: {e}")),
    };
    if twin.0 == target.pid() {
        target.fail("two restarts of a container gave the same pid");
    }
    // SAFETY: kill takes integers; the twin is our unreaped child.
    if unsafe { libc::kill(twin.0, libc::SIGUSR1) } != 0 {
        target.fail(os_error("wake the second container"));
    }
    match sys::waitpid(twin.0) {
        Ok(0) => std::mem::forget(twin),
        Ok(status) => target.fail(format!(
            "the second container {}",
            cr_tests::proc::wait_status_text(status)
        )),
        Err(e) => target.fail(format!("wait for the second container: {e}")),
    }
    target.finish();
    pass("a container came back in a new pid namespace twice in a row, and twice side by side");
}
