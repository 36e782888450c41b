//! Shared helpers for the guest test programs in `src/bin/`.
//!
//! Every program proves one behaviour and ends through [`pass`], [`fail`] or [`skip`]: exit 0,
//! 1 or 77 with a one-line reason, which the harness reports. Children a test forks are killed
//! and reaped when their [`Child`] handle drops, so a failing test leaves nothing behind.
//!
//! The checkpoint/restart tests run their scenario with a [`Target`] (module [`target`]): a
//! child that sets up state, is checkpointed and restarted, and checks its own state.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

pub use cr::klog::KernelLog;
pub use cr::sys::{self, errno_name};

pub mod caps;
pub mod craft;
pub mod damage;
pub mod fuzz;
pub mod locks;
pub mod mem;
pub mod outside;
pub mod proc;
pub mod pty;
pub mod sched;
pub mod sleepers;
pub mod target;
pub mod threads;
pub mod tree;
pub mod unix;
pub mod vm;

pub use target::{
    check_eq, check_os, os_error, wait_restored, Check, Refusal, Target, CONTAINER_KILL, KILL,
    NO_KILL,
};

/// The exit status that tells the harness a test did not apply here.
pub const EXIT_SKIP: i32 = 77;

/// The test holds: say so and exit 0.
pub fn pass(why: &str) -> ! {
    println!("PASS: {why}");
    std::process::exit(0)
}

/// The test found a fault: say what on stderr and exit 1.
pub fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("FAIL: {why}");
    let _ = io::stdout().flush();
    std::process::exit(1)
}

/// The test cannot run here: say why and exit 77.
pub fn skip(why: impl std::fmt::Display) -> ! {
    eprintln!("SKIP: {why}");
    std::process::exit(EXIT_SKIP)
}

/// `"EINVAL (Invalid argument)"`.
pub fn describe_errno(errno: i32) -> String {
    format!("{} ({})", errno_name(errno), sys::strerror(errno))
}

fn describe_error(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => describe_errno(errno),
        None => err.to_string(),
    }
}

/// Fails unless `result` is the error `errno`; `what` names the call in the message.
pub fn expect_errno<T: Debug>(result: io::Result<T>, errno: i32, what: &str) {
    if let Some(problem) = errno_problem(&result, errno, what) {
        fail(problem)
    }
}

/// What is wrong if `result` is not the error `errno`, for [`expect_errno`] and the like.
pub fn errno_problem<T: Debug>(result: &io::Result<T>, errno: i32, what: &str) -> Option<String> {
    match result {
        Ok(v) => Some(format!(
            "{what}: succeeded ({v:?}), expected {}",
            describe_errno(errno)
        )),
        Err(e) if e.raw_os_error() == Some(errno) => None,
        Err(e) => Some(format!(
            "{what}: got {}, expected {}",
            describe_error(e),
            describe_errno(errno)
        )),
    }
}

/// [`expect_errno`] for `restart(2)`: a restart that unexpectedly succeeds made a child, which
/// is killed and reaped before failing.
pub fn expect_restart_errno(result: io::Result<libc::pid_t>, errno: i32, what: &str) {
    if let Ok(pid) = result {
        drop(Child { pid });
    }
    expect_errno(result, errno, what)
}

/// Runs `call` with a capturing kernel log as its `logfd`; returns its result and the lines.
pub fn with_log<T>(call: impl FnOnce(RawFd) -> T) -> (T, Vec<String>) {
    let log = KernelLog::capture().unwrap_or_else(|e| fail(format!("log pipe: {e}")));
    let result = call(log.fd());
    (result, log.finish())
}

/// Restarts `image` in a child that first gives up a right with `prepare`: the restart must
/// fail with EPERM and a kernel log line for which `names` holds, or the test fails, saying
/// the restarter `how`. A process the restart made anyway is killed.
pub fn expect_restart_denied(
    image: &str,
    how: &str,
    prepare: impl FnOnce() -> Check,
    names: impl Fn(&str) -> bool,
) {
    let child = Child::spawn(|| {
        let check = || -> Check {
            prepare()?;
            let file = File::open(image).map_err(|e| format!("open {image}: {e}"))?;
            let (result, log) = with_log(|fd| sys::restart(file.as_raw_fd(), 0, fd));
            for line in &log {
                eprintln!("kernel: {line}");
            }
            if let Some(problem) = errno_problem(&result, libc::EPERM, "restart") {
                if let Ok(pid) = result {
                    target::kill_and_reap(pid);
                }
                return Err(problem);
            }
            match log.iter().any(|l| names(l)) {
                true => Ok(()),
                false => Err("no kernel log line says why".into()),
            }
        };
        match check() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("FAIL: {e}");
                1
            }
        }
    });
    let code = exit_code(child.wait());
    if code != 0 {
        fail(format!("a restarter {how}: exit {code}"));
    }
}

/// Fails unless the kernel wrote at least one non-empty log line.
pub fn expect_log(lines: &[String], what: &str) {
    if !lines.iter().any(|l| !l.trim().is_empty()) {
        fail(format!("{what}: the kernel wrote no log line"));
    }
}

/// A forked child process, killed and reaped on drop.
pub struct Child {
    pid: libc::pid_t,
}

impl Child {
    /// A child that sleeps until killed: a harmless checkpoint target.
    pub fn sleeper() -> Child {
        Child::spawn(|| loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        })
    }

    /// A child that runs `body` and exits with its result, without running any of the
    /// parent's destructors or atexit handlers.
    pub fn spawn(body: impl FnOnce() -> i32) -> Child {
        let _ = io::stdout().flush();
        // SAFETY: the child only runs `body` and `_exit`s; test programs fork before starting
        // threads, or with threads that hold no lock the child needs.
        match unsafe { libc::fork() } {
            -1 => fail(format!("fork: {}", io::Error::last_os_error())),
            0 => {
                let code = body();
                let _ = io::stdout().flush();
                // SAFETY: _exit ends the child at once, which is what it must do here.
                unsafe { libc::_exit(code) }
            }
            pid => Child { pid },
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Waits for the child to end on its own; returns its wait status.
    pub fn wait(self) -> libc::c_int {
        let status = sys::waitpid(self.pid).unwrap_or_else(|e| fail(format!("waitpid: {e}")));
        std::mem::forget(self);
        status
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: `pid` is our unreaped child, so the number cannot name anyone else.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = sys::waitpid(self.pid);
    }
}

/// The exit code of a wait status, or 128 + the killing signal.
pub fn exit_code(status: libc::c_int) -> i32 {
    cr::cli::exit_status(status)
}

/// The pid of a child that has exited and been reaped: a pid that names no process (until the
/// pid counter wraps, which a test run does not reach).
pub fn dead_pid() -> libc::pid_t {
    let child = Child::spawn(|| 0);
    let pid = child.pid();
    child.wait();
    pid
}

/// An fd number that is not open in this process.
pub fn closed_fd() -> RawFd {
    (100..4096)
        // SAFETY: F_GETFD only asks about the number; it touches no memory.
        .find(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0)
        .unwrap_or_else(|| fail("no free fd number below 4096"))
}

/// `/dev/null` opened read-only (`write == false`) or write-only.
pub fn dev_null(write: bool) -> File {
    let mut o = OpenOptions::new();
    if write {
        o.write(true);
    } else {
        o.read(true);
    }
    o.open("/dev/null")
        .unwrap_or_else(|e| fail(format!("open /dev/null: {e}")))
}

/// The read end of a pipe that holds `bytes` and whose write end is closed: a stream that ends
/// right after them, the way a restart from `cat image |` sees it.
pub fn pipe_with(bytes: &[u8]) -> OwnedFd {
    let (read, write) = cr::klog::pipe().unwrap_or_else(|e| fail(format!("pipe: {e}")));
    // A pipe holds 64 KiB by default; larger images would block here with no reader.
    if bytes.len() > 65536 {
        fail(format!(
            "pipe_with: {} bytes do not fit a pipe",
            bytes.len()
        ));
    }
    File::from(write)
        .write_all(bytes)
        .unwrap_or_else(|e| fail(format!("write pipe: {e}")));
    read
}

/// A file in `/tmp` holding `bytes`, opened again as `write_only` or read-only, and unlinked.
pub fn temp_file_with(bytes: &[u8], write_only: bool) -> File {
    let path = format!(
        "/tmp/cr-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    std::fs::write(&path, bytes).unwrap_or_else(|e| fail(format!("write {path}: {e}")));
    let file = if write_only {
        OpenOptions::new().write(true).open(&path)
    } else {
        File::open(&path)
    };
    let _ = std::fs::remove_file(&path);
    file.unwrap_or_else(|e| fail(format!("open {path}: {e}")))
}

/// The raw fd of anything that has one, for the syscall wrappers.
pub fn fd<F: AsRawFd>(f: &F) -> RawFd {
    f.as_raw_fd()
}

/// Skips unless the program runs as root (the guest's init runs tests as root).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("needs root");
    }
}

/// The environment variable `cr-harness --full` sets for the tests it runs.
pub const FULL_ENV: &str = "CR_TESTS_FULL";

/// Whether the tests run at full scale (`cargo xtask qemu-test --full`) rather than the bounded
/// form CI runs: the few tests whose size is what they test (many files, many fuzz cases) pick
/// their size with it.
pub fn full() -> bool {
    std::env::var_os(FULL_ENV).is_some_and(|v| v == "1")
}

/// Where the guest has the `cr` tool; `$CR` overrides it (for a run outside the guest).
pub fn cr_path() -> String {
    std::env::var("CR").unwrap_or_else(|_| "/bin/cr".to_string())
}

/// What a `cr` run printed and how it ended.
pub struct CrRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CrRun {
    /// Everything about the run, for a failure message.
    pub fn describe(&self) -> String {
        format!(
            "exit {}; stdout: {:?}; stderr: {:?}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Fails the test unless `cr` exited non-zero with `want` as its last stderr line.
    pub fn expect_failure_line(&self, want: &str, what: &str) {
        if self.code == 0 {
            fail(format!("{what}: {}", self.describe()));
        }
        if self.stderr.lines().last() != Some(want) {
            fail(format!(
                "last stderr line is not {want:?}: {}",
                self.describe()
            ));
        }
    }
}

/// Runs `cr ARGS...` with `stdin` (or /dev/null) and waits for it.
pub fn run_cr(args: &[&str], stdin: Option<File>) -> CrRun {
    use std::os::unix::process::ExitStatusExt;
    let path = cr_path();
    let stdin = stdin.map_or_else(std::process::Stdio::null, std::process::Stdio::from);
    let out = std::process::Command::new(&path)
        .args(args)
        .stdin(stdin)
        .output()
        .unwrap_or_else(|e| fail(format!("run {path}: {e}")));
    CrRun {
        code: exit_code(out.status.into_raw()),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A little of every kind of process state, taken in a target before its checkpoint and
/// checked after: the pid, a heap buffer, a static, cwd and umask.
pub struct Fingerprint {
    pid: libc::pid_t,
    heap: Vec<u64>,
    cwd: std::path::PathBuf,
    umask: libc::mode_t,
}

static FINGERPRINT_STATIC: AtomicU64 = AtomicU64::new(0);

impl Fingerprint {
    /// Records the state, filling the heap buffer and the static with values of its own.
    pub fn take() -> Fingerprint {
        let (pid, umask) = pid_and_umask();
        FINGERPRINT_STATIC.store(mem::pattern(1, pid as usize), Ordering::SeqCst);
        let mut heap = vec![0u64; 4096];
        mem::fill_words(&mut heap, pid as u64);
        Fingerprint {
            pid,
            heap,
            cwd: std::env::current_dir().unwrap_or_default(),
            umask,
        }
    }

    /// `Err` naming the first thing that changed.
    pub fn check(&self) -> Check {
        let (pid, umask) = pid_and_umask();
        check_eq("getpid()", pid, self.pid)?;
        check_eq("umask", umask, self.umask)?;
        let value = FINGERPRINT_STATIC.load(Ordering::SeqCst);
        check_eq("a static variable", value, mem::pattern(1, pid as usize))?;
        mem::check_words(&self.heap, pid as u64, "heap buffer")?;
        threads::check_rseq()?;
        let cwd = std::env::current_dir().unwrap_or_default();
        check_eq("cwd", cwd, self.cwd.clone())
    }
}

fn pid_and_umask() -> (libc::pid_t, libc::mode_t) {
    // SAFETY: getpid has no preconditions; umask is read by setting it and putting it back.
    unsafe {
        let umask = libc::umask(0o022);
        libc::umask(umask);
        (libc::getpid(), umask)
    }
}

/// A fixed-seed xorshift64* generator: the same "random" offsets on every run.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// What a read of 8 bytes from `fd` (an eventfd's or a timerfd's count) gives: the value,
/// or the errno.
pub fn read_u64(fd: RawFd) -> Result<u64, i32> {
    let mut v = 0u64;
    // SAFETY: `v` has room for 8 bytes.
    let n = unsafe { libc::read(fd, (&raw mut v).cast(), 8) };
    match n {
        8 => Ok(v),
        _ => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// A pipe made with `pipe2()` `flags`, its read end on fd `r` and its write end on fd `w`.
pub fn pipe_at(r: RawFd, w: RawFd, flags: libc::c_int) -> Check {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds; dup2 and close use our own fds.
    unsafe {
        check_os(libc::pipe2(fds.as_mut_ptr(), flags), "pipe2")?;
        for (from, to) in [(fds[0], r), (fds[1], w)] {
            if from != to {
                check_os(libc::dup2(from, to), "dup2")?;
                if from != r && from != w {
                    libc::close(from);
                }
            }
        }
    }
    Ok(())
}

/// A FIFO made at `path` (`mkfifo()`, mode 0600).
pub fn mkfifo(path: &str) -> Check {
    let name = std::ffi::CString::new(path).map_err(|_| format!("NUL in {path:?}"))?;
    // SAFETY: makes a FIFO at a valid C string.
    check_os(
        unsafe { libc::mkfifo(name.as_ptr(), 0o600) },
        format_args!("mkfifo {path}"),
    )
}

/// The FIFO at `path` opened with `flags` on fd `at`, without waiting for a partner: a reader
/// is opened with `O_NONBLOCK`, which is then taken off again unless `flags` has it. A writer
/// needs a reader already (or `open()` waits, or fails with ENXIO if `O_NONBLOCK`).
pub fn open_fifo_at(path: &str, flags: libc::c_int, at: RawFd) -> Check {
    let name = std::ffi::CString::new(path).map_err(|_| format!("NUL in {path:?}"))?;
    let reader = flags & libc::O_ACCMODE == libc::O_RDONLY;
    let open_flags = if reader {
        flags | libc::O_NONBLOCK
    } else {
        flags
    };
    // SAFETY: opens a valid C string; dup2, fcntl and close use our own fds.
    unsafe {
        let got = libc::open(name.as_ptr(), open_flags);
        check_os(got, format_args!("open {path}"))?;
        if got != at {
            check_os(libc::dup2(got, at), format_args!("dup2 {path} to {at}"))?;
            libc::close(got);
        }
        if open_flags != flags {
            let now = libc::fcntl(at, libc::F_GETFL);
            check_os(now, "F_GETFL")?;
            let r = libc::fcntl(at, libc::F_SETFL, now & !libc::O_NONBLOCK);
            check_os(r, format_args!("F_SETFL of {path}"))?;
        }
    }
    Ok(())
}

/// Writes all of `buf` to `fd` in one `write()`, or fails.
pub fn write_all(fd: RawFd, buf: &[u8]) -> Check {
    // SAFETY: writes from a buffer of that length.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    check_os(n as i64, format_args!("write to fd {fd}"))?;
    check_eq(
        format_args!("bytes written to fd {fd}"),
        n as usize,
        buf.len(),
    )
}

/// Reads exactly `len` bytes from `fd`, or fails.
pub fn read_exact(fd: RawFd, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        // SAFETY: reads into the rest of `buf`.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), len - done) };
        check_os(n as i64, format_args!("read of fd {fd}"))?;
        if n == 0 {
            return Err(format!("fd {fd}: end of file after {done} of {len} bytes"));
        }
        done += n as usize;
    }
    Ok(buf)
}

/// Reads exactly `len` bytes of `fd` at `offset` with pread(), or fails; the file's position
/// does not move.
pub fn pread_exact(fd: RawFd, len: usize, offset: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let at = (offset + done) as libc::off_t;
        // SAFETY: reads into the rest of `buf`.
        let n = unsafe { libc::pread(fd, buf[done..].as_mut_ptr().cast(), len - done, at) };
        check_os(n as i64, format_args!("pread of fd {fd} at {at}"))?;
        if n == 0 {
            return Err(format!(
                "fd {fd}: end of file at {at}, {done} of {len} bytes read from {offset}"
            ));
        }
        done += n as usize;
    }
    Ok(buf)
}

/// Writes all of `buf` to `fd` at `offset` in one `pwrite()`, or fails; the file's position
/// does not move.
pub fn pwrite_all(fd: RawFd, buf: &[u8], offset: usize) -> Check {
    // SAFETY: writes from a buffer of that length.
    let n = unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), offset as libc::off_t) };
    check_os(n as i64, format_args!("pwrite to fd {fd} at {offset}"))?;
    check_eq(
        format_args!("bytes written with pwrite() to fd {fd} at {offset}"),
        n as usize,
        buf.len(),
    )
}

/// What `fstat()` says of `fd`.
pub fn fstat(fd: RawFd) -> Result<libc::stat, String> {
    // SAFETY: a zeroed stat is valid for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fills `st`.
    let r = unsafe { libc::fstat(fd, &mut st) };
    check_os(r, format_args!("fstat of fd {fd}"))?;
    Ok(st)
}

/// The file position of `fd`: where it reads or writes next (`lseek(fd, 0, SEEK_CUR)`).
pub fn fd_position(fd: RawFd) -> Result<i64, String> {
    // SAFETY: lseek on an fd number; no memory involved.
    let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    check_os(pos, format_args!("lseek of fd {fd}"))?;
    Ok(pos)
}

/// Moves the file position of `fd` to `pos` (`lseek(fd, pos, SEEK_SET)`).
pub fn seek_fd(fd: RawFd, pos: i64) -> Check {
    // SAFETY: lseek on an fd number; no memory involved.
    let r = unsafe { libc::lseek(fd, pos, libc::SEEK_SET) };
    check_os(r, format_args!("lseek of fd {fd} to {pos}"))
}

/// `Err` unless a call returned `ret` -1 with `errno`: call it right after the call, before
/// anything else can change errno.
pub fn check_fails(ret: impl Into<i64>, errno: i32, what: impl std::fmt::Display) -> Check {
    let ret = ret.into();
    let got = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match ret {
        -1 if got == errno => Ok(()),
        -1 => Err(format!(
            "{what}: got {}, expected {}",
            describe_errno(got),
            describe_errno(errno)
        )),
        _ => Err(format!(
            "{what}: succeeded ({ret}), expected {}",
            describe_errno(errno)
        )),
    }
}

/// `s` as a C string; an error naming it if it holds a NUL.
pub fn cstring(s: &str) -> Result<std::ffi::CString, String> {
    std::ffi::CString::new(s).map_err(|_| format!("NUL in {s:?}"))
}

/// open(2) of `path` with `flags` and `mode` (if it makes a file), moved to fd `at`
/// (close-on-exec if `flags` has O_CLOEXEC).
pub fn open_at(path: &str, flags: libc::c_int, mode: libc::mode_t, at: RawFd) -> Check {
    let c = cstring(path)?;
    // SAFETY: open of a valid C string; dup3 and close of fds of our own.
    unsafe {
        let got = libc::open(c.as_ptr(), flags, mode as libc::c_uint);
        check_os(got, format_args!("open {path} with flags {flags:#o}"))?;
        if got != at {
            let r = libc::dup3(got, at, flags & libc::O_CLOEXEC);
            check_os(r, format_args!("dup3 of {path} to fd {at}"))?;
            libc::close(got);
        }
    }
    Ok(())
}

/// Where `/proc/self/fd/{fd}` leads (`"/dev/null"`, `"anon_inode:[eventfd]"`, `"pipe:[...]"`).
pub fn fd_link(fd: RawFd) -> Result<String, String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|l| l.to_string_lossy().into_owned())
        .map_err(|e| format!("readlink of fd {fd}: {e}"))
}

/// Checks that the directory `dir` has no entries.
pub fn check_empty_dir(dir: &str) -> Check {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("read_dir {dir}: {e}"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read_dir {dir}: {e}"))?;
    check_eq(format_args!("the names in {dir}"), names, Vec::new())
}

/// Opens `/proc/self/fd/{fd}` with `flags` on fd `at`: a file of its own of what `fd` is
/// open on. With `at` -1 the file is closed again (only the open is tried).
pub fn reopen_at(fd: RawFd, flags: libc::c_int, at: RawFd) -> Check {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default();
    // SAFETY: opens a path of ours; dup3 and close use our own fds.
    unsafe {
        let got = libc::open(path.as_ptr(), flags);
        check_os(got, format_args!("open /proc/self/fd/{fd}"))?;
        if at >= 0 && got != at {
            let r = libc::dup3(got, at, flags & libc::O_CLOEXEC);
            check_os(r, format_args!("dup3 to fd {at}"))?;
        }
        if got != at {
            libc::close(got);
        }
    }
    Ok(())
}

/// A memfd named `name` made with `memfd_create()` `flags`, on fd `at` (close-on-exec if
/// `flags` has MFD_CLOEXEC).
pub fn memfd_at(name: &str, flags: libc::c_uint, at: RawFd) -> Check {
    let cname = std::ffi::CString::new(name).map_err(|_| format!("NUL in {name:?}"))?;
    let cloexec = match flags & libc::MFD_CLOEXEC {
        0 => 0,
        _ => libc::O_CLOEXEC,
    };
    // SAFETY: makes an fd from a valid C string; dup3 and close use our own fds.
    unsafe {
        let got = libc::memfd_create(cname.as_ptr(), flags);
        check_os(got, format_args!("memfd_create {name:?} ({flags:#x})"))?;
        if got != at {
            check_os(
                libc::dup3(got, at, cloexec),
                format_args!("dup3 to fd {at}"),
            )?;
            libc::close(got);
        }
    }
    Ok(())
}

/// The seals of the memfd of `fd` (`F_GET_SEALS`).
pub fn seals(fd: RawFd) -> Result<libc::c_int, String> {
    // SAFETY: fcntl on an fd number; no memory involved.
    let s = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    check_os(s, format_args!("F_GET_SEALS of fd {fd}"))?;
    Ok(s)
}

/// What a read of up to 16 bytes from `fd` gives: its length, or the errno.
pub fn read_some(fd: RawFd) -> Result<usize, i32> {
    let mut buf = [0u8; 16];
    // SAFETY: reads into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        n if n >= 0 => Ok(n as usize),
        _ => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// The capacity of the pipe or FIFO of `fd` (`F_GETPIPE_SZ`).
pub fn pipe_size(fd: RawFd) -> Result<usize, String> {
    // SAFETY: fcntl on an fd number; no memory involved.
    let n = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    check_os(n, format_args!("F_GETPIPE_SZ of fd {fd}"))?;
    Ok(n as usize)
}

/// The bytes the pipe or FIFO of `fd` holds (`FIONREAD`).
pub fn fionread(fd: RawFd) -> Result<usize, String> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    check_os(r, format_args!("FIONREAD of fd {fd}"))?;
    Ok(n as usize)
}

/// Byte `i` of the pattern the pipe tests fill pipes with: no short period.
pub fn byte_pattern(i: usize) -> u8 {
    (i * 7 + i / 251) as u8
}

/// `Err` naming `what` and the first byte of `got`, which starts at byte `from` of
/// [`byte_pattern`], that is not the pattern's.
pub fn check_byte_pattern(what: &str, got: &[u8], from: usize) -> Check {
    match got
        .iter()
        .enumerate()
        .find(|&(i, &b)| b != byte_pattern(from + i))
    {
        Some((i, b)) => Err(format!(
            "{what} byte {} is {b:#x}, should be {:#x}",
            from + i,
            byte_pattern(from + i)
        )),
        None => Ok(()),
    }
}

/// Blocks `signals` and makes a signalfd for them with `flags` (`SFD_*`) on `fd`, which the
/// caller does not use otherwise.
pub fn signalfd_at(fd: RawFd, signals: &[libc::c_int], flags: libc::c_int) -> Check {
    let set = proc::sigset_of(signals);
    // SAFETY: blocks the signals, makes a signalfd for them and moves it to `fd`, which the
    // caller does not use otherwise.
    unsafe {
        check_os(
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            "sigprocmask",
        )?;
        let got = libc::signalfd(-1, &set, flags);
        check_os(got, "signalfd")?;
        let cloexec = flags & libc::SFD_CLOEXEC;
        check_os(libc::dup3(got, fd, cloexec), "dup3")?;
        libc::close(got);
    }
    Ok(())
}

/// epoll_ctl(`ep`, `op`, `fd`) with `events` and `data`: the errno if it failed.
pub fn epoll_ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> Result<(), i32> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event.
    match unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// Adds `fd` to the epoll instance `ep`, waiting for `events`, reported with `data`.
pub fn epoll_add(ep: RawFd, fd: RawFd, events: u32, data: u64) -> Check {
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, events, data).map_err(|e| {
        format!(
            "EPOLL_CTL_ADD of fd {fd} to epoll {ep}: {}",
            describe_errno(e)
        )
    })
}

/// What poll() of `fd` for input within `timeout_ms` gives: 1 if it is readable, 0 if not.
pub fn poll_in(fd: RawFd, timeout_ms: libc::c_int) -> Result<libc::c_int, String> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    check_os(n, format_args!("poll({fd})"))?;
    Ok(n)
}

/// Checks the status flags (`F_GETFL`) and the close-on-exec flag of `fd`.
pub fn check_fd_flags(fd: RawFd, flags: libc::c_int, cloexec: bool) -> Check {
    // SAFETY: F_GETFL and F_GETFD take no pointer.
    let (got, fd_flags) = unsafe {
        (
            libc::fcntl(fd, libc::F_GETFL),
            libc::fcntl(fd, libc::F_GETFD),
        )
    };
    check_os(got.min(fd_flags), format_args!("fcntl({fd})"))?;
    check_eq(format_args!("fd {fd} F_GETFL"), got, flags)?;
    let fd_cloexec = fd_flags & libc::FD_CLOEXEC != 0;
    check_eq(format_args!("fd {fd} FD_CLOEXEC"), fd_cloexec, cloexec)
}

/// Whether one of `lines` holds `token` as a whole word (not inside a longer number or name).
pub fn log_names(lines: &[String], token: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    lines.iter().any(|line| {
        line.match_indices(token).any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + token.len()..].chars().next();
            !before.is_some_and(word) && !after.is_some_and(word)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prng_is_fixed() {
        let (mut a, mut b) = (Prng::new(7), Prng::new(7));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert!(xs.windows(2).all(|w| w[0] != w[1]));
        assert!((0..100).all(|_| a.below(10) < 10));
    }

    #[test]
    fn log_names_whole_words() {
        let lines = vec!["checkpoint: fd 37: pipe not supported".to_string()];
        assert!(log_names(&lines, "37"));
        assert!(!log_names(&lines, "3"));
        assert!(!log_names(&lines, "7"));
        assert!(log_names(&lines, "pipe"));
    }

    #[test]
    fn fingerprint_holds_in_place() {
        Fingerprint::take().check().unwrap();
    }
}
