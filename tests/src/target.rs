//! Checkpoint targets: a forked child that sets up the state a test is about, says "ready",
//! is checkpointed and restarted from outside, then checks its own state.
//!
//! The child (see [`Target::spawn`]) has its stdin on `/dev/null` and its stdout and stderr in
//! a log file under `/tmp`, so that it holds no pipe when it is checkpointed; the parent prints
//! that log, and the kernel's log lines, when anything fails. SIGUSR1 is the "you have been
//! restored" signal: the child keeps it blocked and waits for it with [`wait_restored`], the
//! parent sends it with [`Target::wake`]. The child ends with `_exit(0)` when its checks hold,
//! [`EXIT_CHECK`] when one fails and [`EXIT_SETUP`] when its setup failed.

use std::ffi::CString;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::proc::{proc_state, wait_status_text};
use crate::{describe_errno, fail, sys, with_log};

/// What a target's own checks return: `Err` holds the message for its log.
pub type Check = Result<(), String>;

/// The target's exit status when its setup failed before it said "ready".
pub const EXIT_SETUP: i32 = 2;
/// The target's exit status when a check after the restart failed.
pub const EXIT_CHECK: i32 = 3;

/// The fd on which a target says "ready": inherited by a program a target execs.
pub const READY_FD: RawFd = 3;

/// The signal that tells a target it was restored.
pub const RESTORE_SIGNAL: libc::c_int = libc::SIGUSR1;

/// `CKPT_SUBTREE | CKPT_KILL`: dump the target, then kill it.
pub const KILL: u32 = abi::CKPT_SUBTREE | abi::CKPT_KILL;
/// `CKPT_SUBTREE`: dump the target and let it run on.
pub const NO_KILL: u32 = abi::CKPT_SUBTREE;
/// `CKPT_KILL` alone: dump a container target (see [`Target::spawn_container`]), then kill it.
pub const CONTAINER_KILL: u32 = abi::CKPT_KILL;

static RESTORED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_restore_signal(_: libc::c_int) {
    RESTORED.store(true, Ordering::SeqCst);
}

/// The flag the SIGUSR1 handler sets, for code that waits on it by other means (a spin loop).
pub fn restored_flag() -> &'static AtomicBool {
    &RESTORED
}

/// Whether the target got SIGUSR1.
pub fn was_woken() -> bool {
    RESTORED.load(Ordering::SeqCst)
}

/// In the target: sleeps in sigsuspend(2), SIGUSR1 unblocked, until SIGUSR1 came.
pub fn wait_restored() {
    let mut mask = crate::proc::blocked_mask();
    // SAFETY: `mask` is a valid sigset_t; sigsuspend only reads it.
    unsafe {
        libc::sigdelset(&mut mask, RESTORE_SIGNAL);
        while !was_woken() {
            libc::sigsuspend(&mask);
        }
    }
}

/// In the target: forks a plain child (no target of its own) that runs `child` and exits with
/// 0 or, if it fails, [`EXIT_CHECK`] for the target to reap; returns its pid.
pub fn fork_checker(child: impl FnOnce() -> Check) -> Result<libc::pid_t, String> {
    // SAFETY: the child only makes system calls and ends in _exit.
    let kid = unsafe { libc::fork() };
    check_os(kid, "fork")?;
    if kid == 0 {
        // SAFETY: the harness's ready pipe, which only the target answers on.
        unsafe { libc::close(READY_FD) };
        let code = match child() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("child: FAIL: {e}");
                EXIT_CHECK
            }
        };
        // SAFETY: ends the child.
        unsafe { libc::_exit(code) };
    }
    Ok(kid)
}

/// In the target: unblocks SIGUSR1 for code that waits for it other than by
/// [`wait_restored`] (a spin loop, the sleep under test).
pub fn unblock_restore_signal() -> Check {
    let set = crate::proc::sigset_of(&[RESTORE_SIGNAL]);
    // SAFETY: `set` is a valid signal set; the old mask is not asked for.
    let r = unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    check_os(r, "unblock SIGUSR1")
}

/// `"<what>: <errno text>"` for the errno the last call left.
pub fn os_error(what: impl Display) -> String {
    let err = io::Error::last_os_error();
    format!(
        "{what}: {}",
        describe_errno(err.raw_os_error().unwrap_or(0))
    )
}

/// `Err("<what>: <errno>")` when a libc call returned -1.
pub fn check_os(ret: impl Into<i64>, what: impl Display) -> Check {
    match ret.into() {
        -1 => Err(os_error(what)),
        _ => Ok(()),
    }
}

/// `Err` naming `what` with both values unless `got == want`.
pub fn check_eq<T: PartialEq + std::fmt::Debug>(what: impl Display, got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

/// `/tmp/cr-<test>-<pid>`: where this test's targets keep their logs and images.
fn base_name() -> String {
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "target".into());
    format!("/tmp/cr-{name}-{}", std::process::id())
}

/// A directory for the files a test's targets work on (not created here). Call it before
/// spawning (a target has another pid); it is removed when a [`Target`] is dropped or fails.
pub fn scratch_dir() -> String {
    format!("{}.d", base_name())
}

/// The whole of a test of a tree: spawns a target that runs `setup` with the
/// [`scratch_dir`], waits for its `descendants`, checkpoints and restarts the tree
/// ([`Target::cycle_tree`]), waits for every process's own checks and passes with `what`.
pub fn cycle_tree_test<S, V>(descendants: usize, setup: S, what: &str) -> !
where
    S: FnOnce(String) -> Result<V, String>,
    V: FnOnce() -> Check,
{
    let dir = scratch_dir();
    let mut target = Target::spawn(move || setup(dir));
    let kids = target.descendants(descendants);
    target.cycle_tree(&kids);
    target.finish();
    crate::pass(what)
}

/// State that checkpoint must refuse: `setup` makes it in a target, the refusal's log line
/// must name `named`, and `works` checks in the target, after the refusal, that the state is
/// still there and works.
pub struct Refusal {
    pub setup: fn() -> Check,
    pub named: &'static str,
    pub works: fn() -> Check,
}

impl Refusal {
    /// Spawns a target with the state and expects checkpoint to refuse it by name (see
    /// [`Target::expect_refused`]); returns the target, running on, for the caller's own
    /// checks before [`Target::finish`].
    pub fn refused(&'static self) -> Target {
        let mut target = Target::spawn(move || {
            (self.setup)()?;
            Ok(move || {
                wait_restored();
                (self.works)()
            })
        });
        target.expect_refused(self.named);
        target
    }
}

/// A forked checkpoint target, its image file and its log; killed, reaped and cleaned up on
/// drop.
pub struct Target {
    pid: libc::pid_t,
    /// Whether `pid` is our child and not reaped yet.
    live: bool,
    log_path: String,
    image_path: String,
    /// Kernel log lines of every checkpoint and restart so far, each behind the call's name.
    klog: Vec<String>,
    /// Checkpoint and restart calls so far.
    calls: u32,
    /// Whether it is the init of its own pid namespace, checkpointed as a full container.
    container: bool,
    /// With `Some`, checkpoints save the deleted files the tree holds (`CKPT_UNLINKED`), at
    /// most this many bytes of them in all (see [`Target::save_unlinked`]).
    unlinked_max: Option<u64>,
    /// Whether checkpoints write and restarts read the image through a pipe (see
    /// [`Target::through_pipes`]).
    through_pipe: bool,
    /// Whether restarts read the image from a sealed memfd copy of it with `RESTART_MAP` (see
    /// [`Target::mapped`]).
    mapped: bool,
}

impl Target {
    /// Forks a target that runs `setup` (its `Err` ends the target with [`EXIT_SETUP`]), says
    /// "ready", then runs the returned check, which waits as the test needs (usually
    /// [`wait_restored`]). Returns once the target said "ready" and sleeps (state `S`).
    pub fn spawn<S, V>(setup: S) -> Target
    where
        S: FnOnce() -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        let target = Target::fork(false, setup);
        target.wait_state("S", "to fall asleep after saying ready");
        target
    }

    /// The round trip of most restore tests: spawns a target that runs `setup`, checkpoints
    /// it with [`KILL`], restarts it, and expects the restored target to pass `check`.
    pub fn round_trip(setup: impl FnOnce() -> Check, check: impl FnOnce() -> Check) {
        let mut target = Target::spawn(move || {
            setup()?;
            Ok(move || {
                wait_restored();
                check()
            })
        });
        target.checkpoint(KILL);
        target.restart();
        target.finish();
    }

    /// [`Target::spawn`] for a target whose main thread does not sleep once ready: returns once
    /// `ready(pid)` holds (checked every 5 ms, for up to 10 s).
    pub fn spawn_until<S, V>(setup: S, ready: impl Fn(libc::pid_t) -> bool) -> Target
    where
        S: FnOnce() -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        let target = Target::fork(false, setup);
        target.wait_until("to get ready", || ready(target.pid));
        target
    }

    /// Waits until `done` holds, for up to 10 s; fails saying it was waiting `what`.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            if Instant::now() > deadline {
                self.fail(format!("still waiting {what} after 10 s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// [`Target::spawn`] for a container: the target is the init (pid 1) of a new pid
    /// namespace, checkpointed without `CKPT_SUBTREE`. Each restart makes a new namespace,
    /// so its pid as the test sees it changes (see [`Target::pid`]).
    pub fn spawn_container<S, V>(setup: S) -> Target
    where
        S: FnOnce() -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        let target = Target::fork(true, setup);
        target.wait_state("S", "to fall asleep after saying ready");
        target
    }

    /// [`Target::spawn`] for a target with no state of its own to set up: after the restore it
    /// checks the [`crate::Fingerprint`] it took before (its pid, memory and registers as seen from
    /// inside).
    pub fn fingerprinted() -> Target {
        Target::spawn(|| {
            let fingerprint = crate::Fingerprint::take();
            Ok(move || {
                wait_restored();
                fingerprint.check()
            })
        })
    }

    /// [`Target::spawn`] for a target that does not sleep but runs: returns once the byte at
    /// `marker` (a static, at the same address in the forked child) is non-zero in the target.
    pub fn spawn_busy<S, V>(setup: S, marker: &'static std::sync::atomic::AtomicU8) -> Target
    where
        S: FnOnce() -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        let target = Target::fork(false, setup);
        let deadline = Instant::now() + Duration::from_secs(10);
        while target.peek_byte(marker.as_ptr() as usize) == 0 {
            if Instant::now() > deadline {
                target.fail("the target did not set its marker within 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        target
    }

    /// A target that execs `path` with `args` and then [`READY_FD`] as its last argument; the
    /// program writes one byte to that fd and closes it when ready, keeps SIGUSR1 blocked,
    /// sleeps until it arrives, checks its own state and exits 0 or non-zero.
    pub fn exec(path: &str, args: &[&str]) -> Target {
        let argv: Vec<CString> = std::iter::once(path)
            .chain(args.iter().copied())
            .map(str::to_string)
            .chain(std::iter::once(READY_FD.to_string()))
            .map(|a| CString::new(a).unwrap_or_else(|_| fail("NUL in an argument")))
            .collect();
        let target = Target::fork(false, move || -> Result<fn() -> Check, String> {
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            // SAFETY: `ptrs` is a NULL-terminated array of valid C strings that outlive the call.
            unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
            Err(os_error(format!("exec {}", argv[0].to_string_lossy())))
        });
        target.wait_state("S", "to fall asleep after saying ready");
        target
    }

    /// Forks the target, in a new pid namespace if `container`.
    fn fork<S, V>(container: bool, setup: S) -> Target
    where
        S: FnOnce() -> Result<V, String>,
        V: FnOnce() -> Check,
    {
        let base = format!("{}-{}", base_name(), SERIAL.fetch_add(1, Ordering::Relaxed));
        let log_path = format!("{base}.log");
        let (read, write) = cr::klog::pipe().unwrap_or_else(|e| fail(format!("pipe: {e}")));
        let _ = io::Write::flush(&mut io::stdout());
        // SAFETY: the test programs are single-threaded when they fork a target; the child only
        // runs `child_main`, which ends in `_exit`. A bare clone() is a fork() that glibc does
        // not see: fine in a single-threaded process (glibc caches no pid).
        let pid = match unsafe {
            match container {
                true => libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_NEWPID | libc::SIGCHLD,
                    0,
                    0,
                    0,
                    0,
                ) as libc::pid_t,
                false => libc::fork(),
            }
        } {
            -1 => fail(format!("fork: {}", io::Error::last_os_error())),
            0 => {
                drop(read);
                child_main(write, &log_path, setup)
            }
            pid => pid,
        };
        drop(write);
        let mut target = Target {
            pid,
            live: true,
            log_path,
            image_path: format!("{base}.img"),
            klog: Vec::new(),
            calls: 0,
            container,
            unlinked_max: None,
            through_pipe: false,
            mapped: false,
        };
        // End of file means the child closed its end: it said ready, or it is gone.
        let mut said = Vec::new();
        let _ = File::from(read).read_to_end(&mut said);
        if said != b"R" {
            let status = sys::waitpid(pid).unwrap_or(0);
            target.live = false;
            target.fail(format!(
                "the target did not get ready: it {}",
                wait_status_text(status)
            ));
        }
        target
    }

    /// The target's pid: the same before and after a restart, except for a container, whose
    /// pid in the test's namespace is the one its last restart returned.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Where its image is written.
    pub fn image_path(&self) -> &str {
        &self.image_path
    }

    /// The image of the last checkpoint.
    pub fn image(&self) -> Vec<u8> {
        std::fs::read(&self.image_path)
            .unwrap_or_else(|e| self.fail(format!("read {}: {e}", self.image_path)))
    }

    /// The kernel's log lines of every call so far.
    pub fn klog(&self) -> &[String] {
        &self.klog
    }

    /// Makes every later checkpoint save the regular files the tree holds deleted (or made
    /// with `O_TMPFILE`): `CKPT_UNLINKED` is added to its flags, with `max` as the most bytes
    /// those files may have in all (their sizes, holes included).
    pub fn save_unlinked(&mut self, max: u64) {
        self.unlinked_max = Some(max);
    }

    /// Makes every later checkpoint write the image into a pipe, which a thread of the test
    /// drains into the image file as checkpoint writes, and every restart read it through a
    /// pipe, which a thread fills from the file as restart reads: the image must stream, each
    /// record written and read once, in order, with nothing named before it is written.
    pub fn through_pipes(&mut self) {
        self.through_pipe = true;
    }

    /// Makes every later restart copy the image file into a new memfd ([`image_memfd`], named
    /// "cr-image", sealed with [`IMAGE_SEALS`], read from 0) and call restart(2) from it with
    /// `RESTART_MAP` added to its flags: the kernel maps the page data of private memory from
    /// the memfd, copy-on-write, instead of copying it. The test closes the memfd once restart
    /// returned: the restored mappings hold it. Restarts no longer go through a pipe (a pipe
    /// cannot be mapped); checkpoints still do after [`Target::through_pipes`].
    pub fn mapped(&mut self) {
        self.mapped = true;
    }

    /// checkpoint(2) of the target into its image file; the result as is. The file is a new
    /// one each time: a process restarted from the previous image may map its pages. After
    /// [`Target::save_unlinked`] the flags have `CKPT_UNLINKED` too.
    pub fn try_checkpoint(&mut self, flags: u32) -> io::Result<()> {
        if dry_run() {
            return Ok(());
        }
        let _ = std::fs::remove_file(&self.image_path);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.image_path)
            .unwrap_or_else(|e| self.fail(format!("create {}: {e}", self.image_path)));
        let (pid, unlinked) = (self.pid, self.unlinked_max);
        let dump = |fd: RawFd| match unlinked {
            None => with_log(|logfd| sys::checkpoint(pid, fd, flags, logfd)),
            Some(max) => with_log(|logfd| {
                sys::checkpoint_unlinked(pid, fd, flags | abi::CKPT_UNLINKED, logfd, max)
            }),
        };
        if !self.through_pipe {
            let (result, lines) = dump(file.as_raw_fd());
            self.keep_log("checkpoint", lines);
            return result;
        }
        let mut file = file;
        let copy = move |mut read: File| io::copy(&mut read, &mut file);
        let ((result, lines), copied) =
            streamed(false, copy, dump).unwrap_or_else(|e| self.fail(e));
        self.keep_log("checkpoint", lines);
        if result.is_ok() {
            if let Err(e) = copied {
                self.fail(format!("reading the image from the pipe: {e}"));
            }
        }
        result
    }

    /// Keeps a call's kernel log lines behind `[<call> <n>]`, n counting the calls.
    fn keep_log(&mut self, call: &str, lines: Vec<String>) {
        self.calls += 1;
        let n = self.calls;
        self.klog
            .extend(lines.into_iter().map(|l| format!("[{call} {n}] {l}")));
    }

    /// checkpoint(2) that must succeed. With `CKPT_KILL` the original must then die of SIGKILL
    /// (it is reaped); without, it must be running again (not stopped).
    pub fn checkpoint(&mut self, flags: u32) {
        if let Err(e) = self.try_checkpoint(flags) {
            self.fail(format!(
                "checkpoint({}, flags {flags:#x}): {}{}",
                self.pid,
                describe_errno(e.raw_os_error().unwrap_or(0)),
                enosys_hint(&e)
            ));
        }
        if flags & abi::CKPT_KILL != 0 && !dry_run() {
            self.reap_killed("after checkpoint with CKPT_KILL");
        } else {
            self.wait_state("SR", "to run again after a checkpoint without CKPT_KILL");
        }
    }

    /// Reaps the target, which must have died of SIGKILL.
    pub fn reap_killed(&mut self, when: &str) {
        let status = sys::waitpid(self.pid).unwrap_or_else(|e| self.fail(format!("wait: {e}")));
        self.live = false;
        if !(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL) {
            self.fail(format!(
                "{when}: expected the target to be killed by SIGKILL, it {}",
                wait_status_text(status)
            ));
        }
    }

    /// restart(2) from the image file with `flags` (through a pipe after
    /// [`Target::through_pipes`], from a sealed memfd with `RESTART_MAP` after
    /// [`Target::mapped`]); the result as is. A process it made is the caller's to reap.
    pub fn try_restart(&mut self, flags: u32) -> io::Result<libc::pid_t> {
        if dry_run() {
            return Ok(self.pid);
        }
        let mut file = File::open(&self.image_path)
            .unwrap_or_else(|e| self.fail(format!("open {}: {e}", self.image_path)));
        if self.mapped {
            let memfd = image_memfd(&mut file, IMAGE_SEALS).unwrap_or_else(|e| self.fail(e));
            let flags = flags | abi::RESTART_MAP;
            let (result, lines) = with_log(|logfd| sys::restart(memfd.as_raw_fd(), flags, logfd));
            self.keep_log("restart", lines);
            return result;
        }
        if !self.through_pipe {
            let (result, lines) = with_log(|logfd| sys::restart(file.as_raw_fd(), flags, logfd));
            self.keep_log("restart", lines);
            return result;
        }
        let copy = move |mut write: File| io::copy(&mut file, &mut write);
        let call = |fd: RawFd| with_log(|logfd| sys::restart(fd, flags, logfd));
        // A restart that stopped reading leaves the writer EPIPE (SIGPIPE is ignored).
        let ((result, lines), written) =
            streamed(true, copy, call).unwrap_or_else(|e| self.fail(e));
        self.keep_log("restart", lines);
        if result.is_ok() {
            if let Err(e) = written {
                self.fail(format!("writing the image into the pipe: {e}"));
            }
        }
        result
    }

    /// restart(2) that must succeed and give back the target's own pid (a container's new
    /// one).
    pub fn restart_with(&mut self, flags: u32) {
        match self.try_restart(flags) {
            Ok(pid) if pid == self.pid || self.container && pid > 0 && !self.live => {
                self.pid = pid;
                self.live = true;
            }
            Ok(pid) => {
                kill_and_reap(pid);
                self.fail(format!("restart returned pid {pid}, expected {}", self.pid));
            }
            Err(e) => self.fail(format!(
                "restart: {}{}",
                describe_errno(e.raw_os_error().unwrap_or(0)),
                enosys_hint(&e)
            )),
        }
    }

    /// [`Target::restart_with`] without flags.
    pub fn restart(&mut self) {
        self.restart_with(0);
    }

    /// Once its `count` children sleep (`what`: "for the child to sleep in its read"),
    /// checkpoints the target with [`KILL`], restarts it, and expects it and its restored
    /// children to sleep again; returns those children.
    pub fn restart_with_children_asleep(&mut self, count: usize, what: &str) -> Vec<libc::pid_t> {
        self.restart_with_children_asleep_after(count, what, |_| {})
    }

    /// [`Target::restart_with_children_asleep`], calling `between` once the checkpointed
    /// tree is gone, before the restart (not in a dry run, where nothing is killed).
    pub fn restart_with_children_asleep_after(
        &mut self,
        count: usize,
        what: &str,
        between: impl FnOnce(&Target),
    ) -> Vec<libc::pid_t> {
        let asleep = |kids: &[libc::pid_t]| kids.iter().all(|&k| proc_state(k) == Some('S'));
        let kids = self.descendants(count);
        self.wait_until(what, || asleep(&kids));
        self.checkpoint(KILL);
        if !dry_run() {
            crate::tree::wait_gone(&kids).unwrap_or_else(|e| self.fail(e));
            between(self);
        }
        self.restart();
        self.expect_asleep(Duration::from_millis(300));
        let kids = self.descendants(count);
        if !asleep(&kids) {
            let states: Vec<_> = kids.iter().map(|&k| proc_state(k)).collect();
            self.fail(format!(
                "the restored children are in states {states:?}, should be asleep"
            ));
        }
        kids
    }

    /// The target's descendants, parents before children; the test fails unless there are
    /// `count`.
    pub fn descendants(&self, count: usize) -> Vec<libc::pid_t> {
        let kids = crate::tree::descendants(self.pid());
        if kids.len() != count {
            self.fail(format!(
                "the target should have {count} descendants, has {kids:?}"
            ));
        }
        kids
    }

    /// Checkpoint with `CKPT_KILL`, wait until the target's descendants `kids`, killed with
    /// it, are gone (init reaps them), restart.
    pub fn cycle_tree(&mut self, kids: &[libc::pid_t]) {
        self.checkpoint(KILL);
        crate::tree::wait_gone(kids).unwrap_or_else(|e| self.fail(e));
        self.restart();
    }

    /// Checkpoint with `CKPT_KILL`, reap the original, restart.
    pub fn cycle(&mut self) {
        self.checkpoint(KILL);
        self.restart();
    }

    /// Fails (with the logs) unless a checkpoint's `result` is the error `errno`.
    pub fn expect_checkpoint_errno(&self, result: io::Result<()>, errno: i32, what: &str) {
        if let Some(problem) = crate::errno_problem(&result, errno, what) {
            self.fail(problem);
        }
    }

    /// Checkpoint with `CKPT_KILL` must be refused with EOPNOTSUPP and a log line naming the
    /// target's pid and `what`; the target must run on, asleep.
    pub fn expect_refused(&mut self, what: &str) {
        let pid = self.pid;
        let result = self.try_checkpoint(KILL);
        self.expect_checkpoint_errno(
            result,
            libc::EOPNOTSUPP,
            &format!("checkpoint of a process with {what}"),
        );
        if !crate::log_names(self.klog(), &pid.to_string()) || !crate::log_names(self.klog(), what)
        {
            self.fail(format!("no kernel log line names pid {pid} and {what}"));
        }
        self.expect_asleep(std::time::Duration::from_millis(200));
    }

    /// Fails (with the logs) unless a restart's `result` is the error `errno`; a process it
    /// made anyway is killed and reaped first.
    pub fn expect_restart_errno(&self, result: io::Result<libc::pid_t>, errno: i32, what: &str) {
        if let Some(problem) = crate::errno_problem(&result, errno, what) {
            if let Ok(pid) = result {
                kill_and_reap(pid);
            }
            self.fail(problem);
        }
    }

    /// Checkpoints the target without [`KILL`] and restarts it beside its original, which
    /// must fail with `errno` (`what`: why) and the kernel log line `line`, leaving only the
    /// original; wakes the original, which must pass its checks, and once it exited restarts
    /// the image, which must pass them too. A dry run only checkpoints.
    pub fn refused_beside_original(mut self, (errno, what): (i32, &str), line: &str) {
        self.checkpoint(0);
        if dry_run() {
            self.finish();
            return;
        }
        let original = self.pid();
        self.expect_restart_refused(0, (errno, what), line, &[original]);
        self.expect_asleep(Duration::from_millis(200));
        self.wake();
        self.expect_exit("the original, after the refused restart");
        self.restart();
        self.finish();
    }

    /// Restarts with `flags` and fails (with the logs) unless the restart is the error
    /// `errno`, with a kernel log line that says `line`, and leaves the test no children but
    /// `children`.
    pub fn expect_restart_refused(
        &mut self,
        flags: u32,
        (errno, what): (i32, &str),
        line: &str,
        children: &[libc::pid_t],
    ) {
        let result = self.try_restart(flags);
        if result.is_err() {
            let left = crate::proc::my_children();
            if left != children {
                self.fail(format!(
                    "the test's children after the refused restart: {left:?}, expected {children:?}"
                ));
            }
        }
        self.expect_restart_errno(result, errno, what);
        if !crate::log_names(self.klog(), line) {
            self.fail(format!("no kernel log line says {line:?}"));
        }
    }

    /// Sends `sig` to the target.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill takes integers; `pid` is our child (or our zombie).
        if unsafe { libc::kill(self.pid, sig) } != 0 {
            self.fail(os_error(format!("kill({}, {sig})", self.pid)));
        }
    }

    /// Sends the restore signal (SIGUSR1).
    pub fn wake(&self) {
        self.signal(RESTORE_SIGNAL);
    }

    /// Waits until the target's state (from /proc) is one of `states`, for up to 10 s.
    pub fn wait_state(&self, states: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = proc_state(self.pid);
            match state {
                Some(s) if states.contains(s) => return,
                Some('Z') | None => self.fail(format!("the target ended while waiting {what}")),
                _ if Instant::now() > deadline => self.fail(format!(
                    "the target is in state {state:?} 10 s after, still waiting {what}"
                )),
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// The target is asleep (state `S`) and stays asleep for `at_least`: it did not wake or
    /// exit on its own.
    pub fn expect_asleep(&self, at_least: Duration) {
        self.wait_state("S", "to be asleep");
        let until = Instant::now() + at_least;
        while Instant::now() < until {
            match proc_state(self.pid) {
                Some('S') => std::thread::sleep(Duration::from_millis(10)),
                state => self.fail(format!(
                    "the target should still be asleep, its state is {state:?}"
                )),
            }
        }
    }

    /// The test's one child besides the target, asleep: a process the target made with
    /// CLONE_PARENT to share something with it from outside its tree.
    pub fn sibling(&self) -> libc::pid_t {
        let others: Vec<_> = crate::proc::my_children()
            .into_iter()
            .filter(|&c| c != self.pid)
            .collect();
        let [sibling] = others[..] else {
            self.fail(format!(
                "the test should have one child besides the target, has {others:?}"
            ));
        };
        self.wait_until("for the sibling to sleep", || {
            proc_state(sibling) == Some('S')
        });
        sibling
    }

    /// Fails unless the target's `sibling` is still asleep.
    pub fn expect_sibling_asleep(&self, sibling: libc::pid_t) {
        if proc_state(sibling) != Some('S') {
            self.fail(format!(
                "the sibling is in state {:?}, should be asleep",
                proc_state(sibling)
            ));
        }
    }

    /// Waits for the target to exit; fails unless it exited 0.
    pub fn expect_exit(&mut self, what: &str) {
        let status = sys::waitpid(self.pid).unwrap_or_else(|e| self.fail(format!("wait: {e}")));
        self.live = false;
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            let why = match status {
                s if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == EXIT_CHECK => {
                    " (its own check failed)"
                }
                s if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == EXIT_SETUP => " (setup failed)",
                _ => "",
            };
            self.fail(format!(
                "{what}: the target {}{why}",
                wait_status_text(status)
            ));
        }
    }

    /// Sends SIGUSR1 and expects the target to pass its checks and exit 0.
    pub fn finish(mut self) {
        self.wake();
        self.expect_exit("after SIGUSR1");
    }

    /// Fails the test, first printing the target's log and the kernel's lines, and killing the
    /// target.
    pub fn fail(&self, why: impl Display) -> ! {
        self.cleanup();
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        for line in log.lines() {
            eprintln!("target: {line}");
        }
        for line in &self.klog {
            eprintln!("kernel: {line}");
        }
        let _ = std::fs::remove_file(&self.log_path);
        fail(format!("pid {}: {why}", self.pid))
    }

    /// The byte at `addr` in the target's memory, read through /proc/PID/mem.
    pub fn peek_byte(&self, addr: usize) -> u8 {
        let mut b = [0u8];
        self.peek(addr, &mut b);
        b[0]
    }

    /// The 64-bit word at `addr` in the target's memory.
    pub fn peek_u64(&self, addr: usize) -> u64 {
        let mut b = [0u8; 8];
        self.peek(addr, &mut b);
        u64::from_ne_bytes(b)
    }

    fn peek(&self, addr: usize, buf: &mut [u8]) {
        let path = format!("/proc/{}/mem", self.pid);
        let file = File::open(&path).unwrap_or_else(|e| self.fail(format!("open {path}: {e}")));
        file.read_exact_at(buf, addr as u64)
            .unwrap_or_else(|e| self.fail(format!("read {path} at {addr:#x}: {e}")));
    }

    fn cleanup(&self) {
        if self.live {
            kill_and_reap(self.pid);
        }
        let _ = std::fs::remove_file(&self.image_path);
        let _ = std::fs::remove_dir_all(scratch_dir());
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.cleanup();
        self.live = false;
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// SIGKILL and reap a child of ours.
pub fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: kill takes integers; callers pass their own unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = sys::waitpid(pid);
}

/// Whether `CR_TESTS_DRY_RUN=1` asks to skip the checkpoint and restart calls, so that on a
/// kernel without C/R the targets' setup and checks can be tried (the original process is
/// woken instead of a restored one). Never set in the guest.
pub fn dry_run() -> bool {
    std::env::var_os("CR_TESTS_DRY_RUN").is_some_and(|v| v == "1")
}

/// The seals [`Target::mapped`] puts on the memfd it restarts from: no write, shrink or grow
/// (restart with `RESTART_MAP` needs at least `F_SEAL_WRITE | F_SEAL_SHRINK`).
pub const IMAGE_SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;

/// A new memfd named "cr-image" (`MFD_CLOEXEC | MFD_ALLOW_SEALING`) holding all that `contents`
/// reads, with `seals` added (`F_ADD_SEALS`; none if 0), its file position at 0: an image for
/// restart(2) with `RESTART_MAP`.
pub fn image_memfd(contents: &mut impl Read, seals: libc::c_int) -> Result<File, String> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: makes a new fd from a valid C string.
    let fd = unsafe { libc::memfd_create(c"cr-image".as_ptr(), flags) };
    check_os(fd, "memfd_create(\"cr-image\")")?;
    // SAFETY: `fd` was just made and is ours alone.
    let mut memfd = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    io::copy(contents, &mut memfd).map_err(|e| format!("copy the image into a memfd: {e}"))?;
    if seals != 0 {
        // SAFETY: fcntl on our own fd; no memory involved.
        let r = unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) };
        check_os(
            r,
            format_args!("F_ADD_SEALS {seals:#x} on the image's memfd"),
        )?;
    }
    // SAFETY: lseek on our own fd; no memory involved.
    let r = unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
    check_os(r, "lseek of the image's memfd to 0")?;
    Ok(memfd)
}

/// A hint for a call that failed because the kernel has no C/R at all (ENOSYS, or on 6.13+
/// whatever the syscalls that took numbers 463/464 there say).
fn enosys_hint(e: &io::Error) -> &'static str {
    let no_cr = !std::path::Path::new(cr::check::SYSFS_ABI).exists();
    if e.raw_os_error() == Some(libc::ENOSYS) || no_cr {
        " (this kernel has no checkpoint/restart: run the tests in the guest with cargo xtask \
         qemu-test, or try the targets alone with CR_TESTS_DRY_RUN=1)"
    } else {
        ""
    }
}

/// Runs `call` on one end of a new pipe, the read end if `call_reads`, while a thread runs
/// `copy` on the other: an image larger than a pipe holds streams through it. The end of
/// `call` is closed once it returns, so that a `copy` blocked on the pipe ends.
fn streamed<T>(
    call_reads: bool,
    copy: impl FnOnce(File) -> io::Result<u64> + Send + 'static,
    call: impl FnOnce(RawFd) -> T,
) -> Result<(T, io::Result<u64>), String> {
    let (read, write) = cr::klog::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (ours, theirs) = match call_reads {
        true => (read, write),
        false => (write, read),
    };
    let copier = std::thread::spawn(move || copy(File::from(theirs)));
    let result = call(ours.as_raw_fd());
    drop(ours);
    let copied = copier
        .join()
        .map_err(|_| "the thread copying the image panicked".to_string())?;
    Ok((result, copied))
}

/// The forked target: fds 0-2 on /dev/null and the log, the ready pipe on [`READY_FD`], nothing
/// else open; SIGUSR1 handled and blocked; then setup, "ready", the check.
fn child_main<S, V>(ready: OwnedFd, log_path: &str, setup: S) -> !
where
    S: FnOnce() -> Result<V, String>,
    V: FnOnce() -> Check,
{
    if let Err(e) = child_stdio(ready, log_path) {
        eprintln!("target setup: {e}");
        // SAFETY: ends the forked child at once.
        unsafe { libc::_exit(EXIT_SETUP) }
    }
    let verify = match install_restore_handler().and_then(|()| setup()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("setup failed: {e}");
            // SAFETY: as above.
            unsafe { libc::_exit(EXIT_SETUP) }
        }
    };
    // SAFETY: READY_FD is our pipe end; writing one byte and closing it touch nothing else.
    unsafe {
        libc::write(READY_FD, b"R".as_ptr().cast(), 1);
        libc::close(READY_FD);
    }
    let code = match verify() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("FAIL: {e}");
            EXIT_CHECK
        }
    };
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}

fn child_stdio(ready: OwnedFd, log_path: &str) -> Result<(), String> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("open /dev/null: {e}"))?;
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log_path)
        .map_err(|e| format!("open {log_path}: {e}"))?;
    // SAFETY: fd juggling on fds we own. The original numbers of `null`, `log` and `ready` are
    // either overwritten by a dup2 or above READY_FD, where close_range closes them: they are
    // forgotten rather than closed twice.
    unsafe {
        for (from, to) in [
            (null.as_raw_fd(), 0),
            (log.as_raw_fd(), 1),
            (log.as_raw_fd(), 2),
            (ready.as_raw_fd(), READY_FD),
        ] {
            if libc::dup2(from, to) < 0 {
                return Err(os_error(format!("dup2({from}, {to})")));
            }
        }
        check_os(libc::fcntl(READY_FD, libc::F_SETFD, 0), "clear FD_CLOEXEC")?;
        std::mem::forget(null);
        std::mem::forget(log);
        std::mem::forget(ready);
        let r = libc::syscall(libc::SYS_close_range, READY_FD + 1, u32::MAX, 0);
        check_os(r, "close_range")?;
    }
    Ok(())
}

fn install_restore_handler() -> Check {
    // SAFETY: plain signal setup with a handler that only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_restore_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        check_os(
            libc::sigaction(RESTORE_SIGNAL, &sa, std::ptr::null_mut()),
            "sigaction(SIGUSR1)",
        )?;
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, RESTORE_SIGNAL);
        check_os(
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            "block SIGUSR1",
        )
    }
}
