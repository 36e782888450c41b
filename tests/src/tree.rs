//! Process trees inside a target: descendants that the target forks while it sets up, which
//! are checkpointed and restarted with it and check themselves afterwards.
//!
//! Every descendant sets up, says ready on a pipe that is closed everywhere before the
//! checkpoint (pipes cannot be checkpointed yet), then waits for SIGUSR1 like the target. Once
//! woken it runs its checks, wakes its own children and checks their exit statuses, and exits
//! with the status its parent expects, or [`EXIT_CHECK`] after printing what failed.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::proc::proc_state;
use crate::target::{os_error, wait_restored, Check, EXIT_CHECK, READY_FD, RESTORE_SIGNAL};

/// The pipe descendants say ready on; made by the target before it forks any.
pub struct Ready {
    read: OwnedFd,
    write: OwnedFd,
}

/// What forks a descendant: the ready pipe's fds, without owning them, so that a thread or a
/// descendant can fork further ones while the target's [`Ready`] keeps the pipe.
#[derive(Clone, Copy)]
pub struct Forker {
    read: RawFd,
    write: RawFd,
}

/// A child forked by [`Forker::fork`]: its pid and the exit status it ends with when its
/// checks hold.
#[derive(Clone, Copy, Debug)]
pub struct Kid {
    pub pid: libc::pid_t,
    pub code: i32,
}

impl Ready {
    pub fn new() -> Result<Ready, String> {
        let (read, write) = cr::klog::pipe().map_err(|e| format!("pipe: {e}"))?;
        Ok(Ready { read, write })
    }

    /// Forks descendants; valid until [`Ready::wait`].
    pub fn forker(&self) -> Forker {
        Forker {
            read: self.read.as_raw_fd(),
            write: self.write.as_raw_fd(),
        }
    }

    /// [`Forker::fork`] through this pipe.
    pub fn fork<S, V>(&self, code: i32, setup: S) -> Result<Kid, String>
    where
        S: FnOnce(Forker) -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        self.forker().fork(code, setup)
    }

    /// In the target: waits until every descendant said ready and closed the pipe; checks
    /// that `count` of them did.
    pub fn wait(self, count: usize) -> Check {
        let Ready { read, write } = self;
        drop(write);
        let mut said = Vec::new();
        std::fs::File::from(read)
            .read_to_end(&mut said)
            .map_err(|e| format!("read the ready pipe: {e}"))?;
        if said.len() != count {
            return Err(format!("{} of {count} descendants got ready", said.len()));
        }
        Ok(())
    }
}

impl Forker {
    /// Forks a child (of the calling thread) that runs `setup`, says ready, waits for
    /// SIGUSR1, runs the returned check and exits with `code` if it held. `setup` may fork
    /// further descendants.
    pub fn fork<S, V>(self, code: i32, setup: S) -> Result<Kid, String>
    where
        S: FnOnce(Forker) -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        // SAFETY: the child runs `descendant`, which ends in `_exit`; in a threaded target it
        // only uses what fork() leaves usable (glibc resets its own locks for the child).
        match unsafe { libc::fork() } {
            -1 => Err(os_error("fork")),
            0 => self.descendant(code, setup),
            pid => Ok(Kid { pid, code }),
        }
    }

    fn descendant<S, V>(self, code: i32, setup: S) -> !
    where
        S: FnOnce(Forker) -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        // SAFETY: the target's ready fd is the test's pipe, which only the target answers on.
        unsafe { libc::close(READY_FD) };
        let me = std::process::id();
        let verify = match setup(self) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("pid {me}: setup failed: {e}");
                // SAFETY: ends the forked child at once.
                unsafe { libc::_exit(EXIT_CHECK) }
            }
        };
        // SAFETY: writes one byte to our copy of the pipe, then closes our copies (pipes
        // cannot be checkpointed); nothing uses them afterwards in this process.
        unsafe {
            libc::write(self.write, b"R".as_ptr().cast(), 1);
            libc::close(self.read);
            libc::close(self.write);
        }
        wait_restored();
        let status = match verify() {
            Ok(()) => code,
            Err(e) => {
                eprintln!("pid {me}: FAIL: {e}");
                EXIT_CHECK
            }
        };
        // SAFETY: as above.
        unsafe { libc::_exit(status) }
    }
}

/// After the restore: sends SIGUSR1 to each of `kids`, waits for them and checks their exit
/// statuses.
pub fn wake_and_reap(kids: &[Kid]) -> Check {
    wake(kids)?;
    reap(kids)
}

/// After the restore: sends SIGUSR1 to each of `kids`, which then run their checks.
pub fn wake(kids: &[Kid]) -> Check {
    for k in kids {
        // SAFETY: kill takes integers; `k.pid` is our unreaped child.
        if unsafe { libc::kill(k.pid, RESTORE_SIGNAL) } != 0 {
            return Err(os_error(format!("wake child {}", k.pid)));
        }
    }
    Ok(())
}

/// Waits for each of `kids` and checks its exit status.
pub fn reap(kids: &[Kid]) -> Check {
    for k in kids {
        let status =
            cr::sys::waitpid(k.pid).map_err(|e| format!("wait for child {}: {e}", k.pid))?;
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == k.code) {
            return Err(format!(
                "child {} {}, expected exit status {}",
                k.pid,
                crate::proc::wait_status_text(status),
                k.code
            ));
        }
    }
    Ok(())
}

/// Reaps `kids` ([`reap`]) once the test's side of an exchange with them ended as `ours`:
/// theirs first, as their failure may be what made ours fail; both if both failed.
pub fn reap_after(kids: &[Kid], ours: Check) -> Check {
    match (reap(kids), ours) {
        (Ok(()), ours) => ours,
        (Err(c), Ok(())) => Err(c),
        (Err(c), Err(o)) => Err(format!("{c}; {o}")),
    }
}

/// Kills and reaps `kid`, a checker child ([`crate::target::fork_checker`]), once the
/// parent's own check failed with `e`: `e` with what became of the child, which may be what
/// failed (its own line is then in the log) or may still wait for the parent.
pub fn kill_checker(kid: Kid, e: String) -> String {
    // SAFETY: kill takes integers; `pid` is our unreaped child.
    unsafe { libc::kill(kid.pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: waits for our own child.
    let r = unsafe { libc::waitpid(kid.pid, &mut status, 0) };
    let c = match r {
        -1 => crate::target::os_error("waitpid"),
        _ if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == crate::target::EXIT_CHECK => {
            "its own check failed".to_string()
        }
        _ => crate::proc::wait_status_text(status),
    };
    format!("{e} (child {}: {c})", kid.pid)
}

/// The calling process's parent, process group and session, as `(ppid, pgid, sid)`.
pub fn ids() -> (libc::pid_t, libc::pid_t, libc::pid_t) {
    // SAFETY: these calls only read the caller's ids.
    unsafe { (libc::getppid(), libc::getpgrp(), libc::getsid(0)) }
}

/// `Ok` if the caller's parent, process group and session are `want`.
pub fn check_ids(want: (libc::pid_t, libc::pid_t, libc::pid_t)) -> Check {
    let got = ids();
    if got != want {
        return Err(format!(
            "(parent, process group, session) is {got:?}, was {want:?} before the checkpoint"
        ));
    }
    Ok(())
}

/// The pids of every descendant of `pid`, from one scan of /proc, parents before children.
pub fn descendants(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let all = crate::proc::parents();
    let children = |of: libc::pid_t| all.iter().filter(move |&&(_, p)| p == of).map(|&(c, _)| c);
    let mut found: Vec<libc::pid_t> = children(pid).collect();
    let mut i = 0;
    while i < found.len() {
        found.extend(children(found[i]));
        i += 1;
    }
    found
}

/// Waits until none of `pids` exists, failing after 10 s without one going away:
/// descendants killed with the target are orphans, which init reaps.
pub fn wait_gone(pids: &[libc::pid_t]) -> Check {
    let wait = Duration::from_secs(10);
    let mut deadline = Instant::now() + wait;
    let mut left = pids.len();
    loop {
        let alive = pids.iter().filter(|&&p| crate::proc::pid_exists(p));
        let Some(&pid) = alive.clone().next() else {
            return Ok(());
        };
        // A large tree takes a while: 10 s without progress is what fails.
        let now = alive.count();
        if now < left {
            left = now;
            deadline = Instant::now() + wait;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "pid {pid} still exists 10 s after its tree was killed"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to 10 s for `pid` to be a zombie.
pub fn wait_zombie(pid: libc::pid_t) -> Check {
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_state(pid) != Some('Z') {
        if Instant::now() > deadline {
            return Err(format!("pid {pid} did not become a zombie"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Forks a child that ends at once by `end`; waits until it is a zombie (of the caller).
pub fn zombie(end: impl FnOnce()) -> Result<libc::pid_t, String> {
    // SAFETY: the child only runs `end` and `_exit`.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            end();
            // SAFETY: ends the child.
            unsafe { libc::_exit(99) }
        }
        pid => wait_zombie(pid).map(|()| pid),
    }
}

/// What [`zombie`] runs to exit with `code`.
pub fn exit_with(code: i32) -> impl FnOnce() {
    // SAFETY: ends the child with `code`.
    move || unsafe { libc::_exit(code) }
}

/// A count in a page of a file that a target and its descendants map shared, on which they
/// wait for one another after the restart (shared anonymous memory would come back as another
/// /dev/zero inode in /proc/self/maps, which some tests compare).
#[derive(Clone, Copy)]
pub struct Barrier(crate::mem::Mapping);

impl Barrier {
    /// Maps a new page of a file in `dir`.
    pub fn new(dir: &str) -> Result<Barrier, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
        let path = format!("{dir}/count");
        std::fs::write(&path, vec![0u8; crate::mem::PAGE])
            .map_err(|e| format!("write {path}: {e}"))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("open {path}: {e}"))?;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let page = crate::mem::mmap(crate::mem::PAGE, rw, libc::MAP_SHARED, file.as_raw_fd(), 0)?;
        Ok(Barrier(page))
    }

    /// Counts this arrival, then waits until `n` arrivals in all.
    pub fn wait(self, n: u32) -> Check {
        use std::sync::atomic::{AtomicU32, Ordering};
        // SAFETY: the first word of a shared page that only these atomics touch.
        let at = unsafe { &*self.0.ptr().cast::<AtomicU32>() };
        at.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        while at.load(Ordering::SeqCst) < n {
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "the others did not get to {n}: {} of us did",
                    at.load(Ordering::SeqCst)
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}
