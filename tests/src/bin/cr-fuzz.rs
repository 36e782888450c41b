//! `cr-fuzz [--cases N] [--seed S] [--case K] [--shard I/J] [--dir DIR]`: a structure-aware
//! fuzzer for restart(2), run in the guest.
//!
//! It checkpoints two real targets (CKPT_KILL) for its base images: a small tree (a root with a
//! second thread, a zombie child and a live child) and a single process with a few written
//! pages of anonymous memory; it checks that each restarts intact. Then each case takes a base
//! and applies one to three mutations (`cr_tests::fuzz`: a field set to an interesting value, a
//! record duplicated, deleted, swapped, moved, the image cut short), seals it with a matching
//! tail and restarts it in a forked child (every odd case by mapping: `RESTART_MAP` from a
//! sealed memfd copy of the image), which reports the outcome through a pipe before
//! anything else, then, if the restart succeeded, kills the restored tree. A case is clean
//! when restart returned an errno (EBADMSG for an image only cut short, EBADMSG or EINVAL for
//! a cut one) or succeeded and its tree was killed, and afterwards no task of the base image and
//! no child of ours is left, within a few seconds. The fuzzer is a child subreaper, so orphans
//! of a restored tree come back to it.
//!
//! Both base images must restart intact both ways. Everything a case does comes from `(seed, case)`: `--seed S --case K` replays case K alone,
//! printing its mutations and the kernel's log. `--shard I/J` runs only the cases K of the N
//! with `K % J == I`, with base images of its own, so that J fuzzers side by side share one
//! run's cases (they cannot share base images: each restart takes the base's pids). The fuzzer runs itself again without address
//! randomization first, and resets the signal dispositions and mask it inherited, so that base
//! images made again, under the harness or not, have the same records at the same places.
//!
//! Output: `# cr-fuzz: seed S, N cases` first; a line per case before its restart (on stdout
//! when it is a terminal, else on /dev/console as `cr-fuzz: case K: ...`, so that a kernel
//! report in the console log can be pinned on a case even under the harness, which captures
//! stdout); `# case K: <mutations> -> <outcome>` every 50 cases, for the first case of each
//! errno and for every outcome that is not an errno; `# cr-fuzz: N cases, seed S, X refused
//! (by errno: ...), Y restored, Z s` at the end (`cr-fuzz: shard I/J: ...` for a shard); `FAIL: ...` and exit status 1 at the first
//! case that is not clean (the fuzzer stops there, its image kept in DIR).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use abi::Record;
use cr_tests::craft::Image;
use cr_tests::fuzz::{self, Base, Case};
use cr_tests::proc::{my_children, pid_exists, proc_state, wait_status_text};
use cr_tests::target::{image_memfd, IMAGE_SEALS};
use cr_tests::threads::tids_of;
use cr_tests::tree::{descendants, exit_with, zombie, Ready};
use cr_tests::{fail, mem, threads, wait_restored, Check, Target, KILL};

/// The cases of a run without `--cases`: the qemu-test lane's, bounded (CI) and full. 500 cases
/// took 364 s on the debug kernel under TCG (2 CPUs, nothing else running), so the bounded
/// form takes about two minutes and the full one about ten.
const DEFAULT_CASES: (u64, u64) = (150, 800);
/// How often an errno outcome is printed.
const EVERY: u64 = 50;
/// A restart that has not returned by then hangs.
const RESTART_LIMIT: Duration = Duration::from_secs(60);
/// How long the restarting child may take to kill a restored tree and exit.
const CHILD_LIMIT: Duration = Duration::from_secs(30);
/// How long the tasks of a case may take to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(5);
/// Pages of the anonymous mapping of the single-process base: enough for restart by mapping
/// to map them (a run of 16 pages at least).
const ANON_PAGES: usize = 20;

/// The seed without `--seed`: that of the `qemu-test` lane, which must give the same verdict
/// every time it runs on the same kernel (800 clean cases when it was chosen); new seeds are
/// for `cargo xtask fuzz`, which takes one from the clock.
const LANE_SEED: u64 = 447_090_856_059;

struct Options {
    cases: u64,
    seed: u64,
    case: Option<u64>,
    /// `(I, J)`: run the cases `K % J == I` only.
    shard: (u64, u64),
    dir: String,
}

impl Options {
    /// `shard I/J: ` for a shard, else nothing.
    fn shard_name(&self) -> String {
        match self.shard {
            (_, 1) => String::new(),
            (i, j) => format!("shard {i}/{j}: "),
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: cr-fuzz [--cases N] [--seed S] [--case K] [--shard I/J] [--dir DIR]");
    std::process::exit(2)
}

fn options() -> Options {
    let mut opts = Options {
        cases: if cr_tests::full() {
            DEFAULT_CASES.1
        } else {
            DEFAULT_CASES.0
        },
        seed: LANE_SEED,
        case: None,
        shard: (0, 1),
        dir: "/tmp/cr-fuzz".into(),
    };
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>| v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cases" => opts.cases = number(args.next()),
            "--seed" => opts.seed = number(args.next()),
            "--case" => opts.case = Some(number(args.next())),
            "--dir" => opts.dir = args.next().unwrap_or_else(|| usage()),
            "--shard" => {
                let v = args.next().unwrap_or_else(|| usage());
                let (i, j) = v.split_once('/').unwrap_or_else(|| usage());
                opts.shard = (number(Some(i.into())), number(Some(j.into())));
                if opts.shard.0 >= opts.shard.1 {
                    usage();
                }
            }
            _ => usage(),
        }
    }
    opts
}

/// Runs this program again with the same arguments and `ADDR_NO_RANDOMIZE`, so that the base
/// images of a replay have the layout of the run they replay; returns if that cannot be done.
fn without_aslr() {
    // SAFETY: personality(0xffffffff) only reads the persona.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    if persona < 0 || persona & libc::ADDR_NO_RANDOMIZE != 0 {
        return;
    }
    // SAFETY: sets a flag of our own persona, which only exec reads.
    if unsafe { libc::personality((persona | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong) } < 0 {
        return;
    }
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // By its own path, not /proc/self/exe: the name is what the kernel calls its tasks.
    let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|p| CString::new(p.as_os_str().as_bytes()).ok())
    else {
        return;
    };
    // SAFETY: `argv` is a NULL-terminated array of C strings that outlive the call; on success
    // this process image is replaced.
    unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
}

/// Resets what a process inherits through exec from whoever started it and what its image
/// would show: ignored signals (a `SigAction` record each) and the signal mask. SIGPIPE stays
/// as the Rust runtime set it.
fn normalize_signals() {
    for sig in (1..=64).filter(|&s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGPIPE].contains(&s)) {
        // SAFETY: all-zero is a valid sigaction to be overwritten; the query changes nothing.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `old` is valid for the write; a null new action only reads.
        let ignored = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0
            && old.sa_sigaction == libc::SIG_IGN;
        if ignored {
            // SAFETY: default disposition for a signal we ignored; no memory involved.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    let empty = cr_tests::proc::sigset_of(&[]);
    // SAFETY: `empty` is a valid signal set; the old mask is not asked for.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) };
}

/// Where the per-case lines go.
struct Out {
    /// /dev/console when stdout is not a terminal (the harness captures stdout).
    console: Option<File>,
}

impl Out {
    fn new() -> Out {
        let console = match std::io::stdout().is_terminal() {
            true => None,
            false => std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/console")
                .ok(),
        };
        Out { console }
    }

    /// A line that must be out before what comes next can crash the kernel: written and
    /// drained to the terminal or the console.
    fn now(&mut self, line: &str) {
        match &mut self.console {
            None => {
                println!("# {line}");
                let _ = std::io::stdout().flush();
                // SAFETY: tcdrain only waits on fd 1.
                unsafe { libc::tcdrain(1) };
            }
            Some(console) => {
                let line = line.strip_prefix("cr-fuzz: ").unwrap_or(line);
                let _ = writeln!(console, "cr-fuzz: {line}");
                // SAFETY: tcdrain only waits on the console's fd.
                unsafe { libc::tcdrain(console.as_raw_fd()) };
            }
        }
    }

    /// A line for stdout, and for the console too when stdout does not go there.
    fn both(&mut self, line: &str) {
        println!("# {line}");
        if self.console.is_some() {
            self.now(line);
        }
    }
}

/// The root of the tree base: a zombie child, a live child, then a second thread.
fn tree_setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let dead = zombie(exit_with(5))?;
    let kid = ready.fork(42, |_| Ok(|| Ok(())))?;
    ready.wait(1)?;
    // Started after the forks: a child of a threaded process is forked by one thread.
    let thread = threads::spawn(|| -> Check {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    })?;
    Ok(move || {
        wait_restored();
        let _ = (dead, kid, thread);
        Ok(())
    })
}

/// The single-process base: a few pages of anonymous memory, written.
fn anon_setup() -> Result<impl FnOnce() -> Check, String> {
    let mapping = mem::anon(ANON_PAGES * 4096)?;
    mapping.fill(0xf022);
    Ok(move || {
        wait_restored();
        mapping.check(0xf022, "the anonymous mapping")
    })
}

/// A base image, the pids of its tasks and the target it came from, kept so that the files
/// its image names (the target's log) stay.
struct Made {
    base: Base,
    pids: Vec<libc::pid_t>,
    _target: Target,
}

/// Checkpoints `target` (CKPT_KILL) into a base image; `tasks` is how many tasks it must hold.
fn make_base(name: &str, mut target: Target, tasks: usize) -> Made {
    let root = target.pid();
    let mut pids = tids_of(root);
    pids.extend(descendants(root));
    if pids.len() != tasks {
        target.fail(format!(
            "the {name} target should have {tasks} tasks, has {pids:?}"
        ));
    }
    target.checkpoint(KILL);
    // Its children come back to us, the subreaper, when it is killed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| pid_exists(p)) {
        reap_any();
        if Instant::now() > deadline {
            target.fail(format!(
                "the {name} tree is not gone 10 s after its checkpoint"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let bytes = target.image();
    let image = Image::parse(&bytes);
    if image.seal() != bytes {
        target.fail(format!(
            "taking the {name} image apart and sealing it again changed it"
        ));
    }
    Made {
        base: Base::new(name, image),
        pids,
        _target: target,
    }
}

/// Reaps every child of ours that has ended; returns them with their wait statuses.
fn reap_any() -> Vec<(libc::pid_t, libc::c_int)> {
    let mut reaped = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid for the write.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid <= 0 {
            return reaped;
        }
        reaped.push((pid, status));
    }
}

/// SIGKILL to every descendant of `pid` (deepest first), then to `pid`.
fn kill_tree(pid: libc::pid_t) {
    for p in descendants(pid).into_iter().rev().chain([pid]) {
        // SAFETY: kill takes integers; these are our descendants.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
}

/// What restart(2) did with a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Refused(i32),
    Restored(libc::pid_t),
    /// The restarting process was killed by the root's exit signal (SIGKILL, set by the image)
    /// before it could report, and the restored tree came back to us.
    RestoredUnreported,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Refused(e) => f.write_str(&errno_name(*e)),
            Outcome::Restored(pid) => write!(f, "restored (pid {pid})"),
            Outcome::RestoredUnreported => {
                f.write_str("restored (its root's exit signal killed the restarting process)")
            }
        }
    }
}

/// `"EINVAL"`: `cr`'s names, and a few more that restart may give.
fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::ENXIO => "ENXIO",
        libc::ENOEXEC => "ENOEXEC",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ELOOP => "ELOOP",
        libc::ESTALE => "ESTALE",
        _ => return cr_tests::errno_name(errno),
    };
    name.to_string()
}

/// The restarting child: restart(2), the outcome on `report` before anything else, then (on
/// success) the restored tree killed and reaped.
fn restarting_child(image: &str, log: &str, report: OwnedFd, mapped: bool) -> ! {
    // The restored root's exit signal is the image's choice: only SIGKILL and SIGSTOP can
    // still reach us before we report (SIGCHLD keeps its default, not to change how we reap).
    for sig in (1..=64).filter(|&s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&s)) {
        // SAFETY: ignoring a signal touches no memory; failures (glibc's own) do not matter.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let result = (|| {
        let mut file = File::open(image).map_err(|e| e.raw_os_error().unwrap_or(0))?;
        let logf = std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .map_err(|e| e.raw_os_error().unwrap_or(0))?;
        let flags = match mapped {
            true => {
                file = image_memfd(&mut file, IMAGE_SEALS).unwrap_or_else(|e| {
                    // No report: the case is not clean.
                    eprintln!("cr-fuzz: {e}");
                    // SAFETY: ends the child without running the parent's destructors.
                    unsafe { libc::_exit(3) }
                });
                abi::RESTART_MAP
            }
            false => 0,
        };
        cr::sys::restart(file.as_raw_fd(), flags, logf.as_raw_fd())
            .map_err(|e| e.raw_os_error().unwrap_or(0))
    })();
    let mut msg = [0u8; 5];
    let (tag, value) = match result {
        Ok(pid) => (b'S', pid),
        Err(errno) => (b'E', errno),
    };
    msg[0] = tag;
    msg[1..].copy_from_slice(&value.to_le_bytes());
    let mut report = File::from(report);
    let _ = report.write_all(&msg);
    drop(report);
    if let Ok(pid) = result {
        // Twice: a restored task may have forked between the scan and the kill.
        kill_tree(pid);
        std::thread::sleep(Duration::from_millis(5));
        kill_tree(pid);
        let _ = cr::sys::waitpid(pid);
        reap_any();
    }
    // SAFETY: ends the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

/// What one restart gave, with the kernel's log lines.
struct Ran {
    outcome: Outcome,
    log: Vec<String>,
    /// Seconds from the fork to the case's end.
    secs: f64,
}

/// Why a case was not clean.
struct NotClean(String);

/// Restarts `bytes` in a forked child, by mapping if `mapped`, and judges the outcome (see the
/// module comment). `pids` are the base image's tasks; `exit_signal` the mutated image's
/// root's.
fn run(
    bytes: &[u8],
    dir: &str,
    pids: &[libc::pid_t],
    exit_signal: Option<i64>,
    mapped: bool,
) -> Result<Ran, NotClean> {
    let image = format!("{dir}/case.img");
    let log = format!("{dir}/case.log");
    let setup = |what: &str, e: std::io::Error| NotClean(format!("{what}: {e}"));
    // A new file each time: a process restored from the last one might still map it.
    let _ = std::fs::remove_file(&image);
    std::fs::write(&image, bytes).map_err(|e| setup(&image, e))?;
    std::fs::write(&log, b"").map_err(|e| setup(&log, e))?;
    let (read, write) = cr::klog::pipe().map_err(|e| setup("pipe", e))?;
    let _ = std::io::stdout().flush();
    // SAFETY: we are single-threaded; the child runs `restarting_child`, which ends in _exit.
    let child = match unsafe { libc::fork() } {
        -1 => return Err(setup("fork", std::io::Error::last_os_error())),
        0 => {
            drop(read);
            restarting_child(&image, &log, write, mapped)
        }
        pid => pid,
    };
    drop(write);
    let started = Instant::now();
    let mut watch = Watch {
        child,
        status: None,
        orphans: Vec::new(),
    };
    let report = watch.report(File::from(read));
    let kernel_log = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let lines = kernel_log();
            watch.sweep();
            return Err(NotClean(format!("{e}{}", with_lines(&lines))));
        }
    };
    let ended = watch.wait_child();
    let log = kernel_log();
    let fail = |why: String, watch: &mut Watch| {
        watch.sweep();
        Err(NotClean(format!("{why}{}", with_lines(&log))))
    };
    let outcome = match report {
        Some(Outcome::Refused(e)) => {
            if let Err(e) = ended {
                return fail(e, &mut watch);
            }
            if let Some(s) = watch.status.filter(|&s| libc::WIFSIGNALED(s)) {
                return fail(format!("restart failed ({}), and the restarting process {}: the failed restart signalled it", errno_name(e), wait_status_text(s)), &mut watch);
            }
            if let Some(left) = watch.leftovers(pids) {
                return fail(
                    format!("restart failed ({}), and left {left}", errno_name(e)),
                    &mut watch,
                );
            }
            Outcome::Refused(e)
        }
        Some(restored) => {
            if let Err(e) = ended {
                return fail(e, &mut watch);
            }
            restored
        }
        None => {
            // No report: the child ended (killed, most likely) before it wrote one.
            if let Err(e) = ended {
                return fail(e, &mut watch);
            }
            let status = watch.status.unwrap_or(0);
            let killed = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL;
            let back = !watch.orphans.is_empty()
                || !my_children().is_empty()
                || log.iter().any(|l| l.contains("restored"));
            if !(killed && exit_signal == Some(libc::SIGKILL.into()) && back) {
                let why = format!(
                    "the restarting process {} before it reported an outcome",
                    wait_status_text(status)
                );
                return fail(why, &mut watch);
            }
            Outcome::RestoredUnreported
        }
    };
    if !matches!(outcome, Outcome::Refused(_)) {
        if let Err(e) = watch.kill_restored(pids) {
            return fail(e, &mut watch);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(Ran { outcome, log, secs })
}

fn with_lines(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n  kernel: {l}")).collect()
}

/// The restarting child and what we reaped while it ran.
struct Watch {
    child: libc::pid_t,
    status: Option<libc::c_int>,
    /// Pids we reaped other than the child: orphans of its restored tree.
    orphans: Vec<libc::pid_t>,
}

impl Watch {
    /// Reaps what ended; a stopped child (SIGSTOP as the root's exit signal) is continued.
    fn reap(&mut self) {
        for (pid, status) in reap_any() {
            match pid == self.child {
                true => self.status = Some(status),
                false => self.orphans.push(pid),
            }
        }
        if self.status.is_none() && proc_state(self.child) == Some('T') {
            // SAFETY: kill takes integers; the child is ours and unreaped.
            unsafe { libc::kill(self.child, libc::SIGCONT) };
        }
    }

    /// Reads the child's report: `None` if it ended without one; `Err` if restart has not
    /// returned within [`RESTART_LIMIT`] (the child is killed).
    fn report(&mut self, mut pipe: File) -> Result<Option<Outcome>, String> {
        let start = Instant::now();
        let mut msg = Vec::new();
        loop {
            let mut pfd = libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
            if ready > 0 {
                let mut buf = [0u8; 5];
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => msg.extend_from_slice(&buf[..n]),
                }
                if msg.len() >= 5 {
                    break;
                }
            }
            self.reap();
            if start.elapsed() > RESTART_LIMIT {
                // SAFETY: kill takes integers; the child is ours and unreaped.
                unsafe { libc::kill(self.child, libc::SIGKILL) };
                return Err(format!(
                    "restart(2) has not returned after {} s",
                    RESTART_LIMIT.as_secs()
                ));
            }
        }
        if msg.len() < 5 {
            return Ok(None);
        }
        let value = i32::from_le_bytes(msg[1..5].try_into().unwrap_or_default());
        Ok(Some(match msg[0] {
            b'S' => Outcome::Restored(value),
            _ => Outcome::Refused(value),
        }))
    }

    /// Waits for the child to end, for up to [`CHILD_LIMIT`].
    fn wait_child(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            self.reap();
            if self.status.is_some() {
                return Ok(());
            }
            if start.elapsed() > CHILD_LIMIT {
                return Err(format!(
                    "the restarting process did not end {} s after restart returned",
                    CHILD_LIMIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// After a failed restart: what of it is still there (an orphan we reaped, a child, a task
    /// of the base image after [`GONE_WITHIN`]), if anything.
    fn leftovers(&mut self, pids: &[libc::pid_t]) -> Option<String> {
        let start = Instant::now();
        loop {
            self.reap();
            if !self.orphans.is_empty() {
                return Some(format!(
                    "tasks {:?} behind (they came back to the fuzzer)",
                    self.orphans
                ));
            }
            let children = my_children();
            if !children.is_empty() {
                return Some(format!("children {children:?} behind"));
            }
            let alive: Vec<_> = pids.iter().copied().filter(|&p| pid_exists(p)).collect();
            if alive.is_empty() {
                return None;
            }
            if start.elapsed() > GONE_WITHIN {
                return Some(format!("pids {alive:?} of the image behind"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// After a successful restart: kills whatever of the restored tree the child left (it
    /// came back to us), and checks that it and every task of the base image are gone within
    /// [`GONE_WITHIN`].
    fn kill_restored(&mut self, pids: &[libc::pid_t]) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let children = my_children();
            for &c in &children {
                kill_tree(c);
            }
            self.reap();
            let alive: Vec<_> = pids.iter().copied().filter(|&p| pid_exists(p)).collect();
            if children.is_empty() && alive.is_empty() {
                return Ok(());
            }
            if start.elapsed() > GONE_WITHIN {
                return Err(format!(
                    "{} s after the restored tree was killed, children {children:?} and pids {alive:?} of the image are still there",
                    GONE_WITHIN.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Leaves nothing behind after a failure: kills and reaps every child, for up to 5 s.
    fn sweep(&mut self) {
        let _ = self.kill_restored(&[]);
    }
}

/// The exit signal of the first task record (the root), if the image has one.
fn root_exit_signal(image: &Image) -> Option<i64> {
    let at = image.all::<abi::Task>().into_iter().next()?;
    let rec = &image.recs[at];
    (rec.payload.len() >= abi::Task::SIZE).then(|| rec.get("exit_signal"))
}

/// Whether `outcome` is what the case may give; `Err` says why not.
fn judge(case: &Case, outcome: Outcome) -> Result<(), String> {
    if !case.cut() {
        return Ok(());
    }
    let alone = case.mutations.len() == 1;
    let allowed: &[i32] = if alone {
        &[libc::EBADMSG]
    } else {
        &[libc::EBADMSG, libc::EINVAL]
    };
    match outcome {
        Outcome::Refused(e) if allowed.contains(&e) => Ok(()),
        _ => {
            let want: Vec<String> = allowed.iter().map(|&e| errno_name(e)).collect();
            Err(format!(
                "an image cut short (no tail) gave {outcome}, expected {}",
                want.join(" or ")
            ))
        }
    }
}

/// Counts of the outcomes so far.
#[derive(Default)]
struct Tally {
    refused: BTreeMap<i32, u64>,
    restored: u64,
    cases: u64,
    /// Refusals without a kernel log line (not a failure: reported), and the first such case.
    silent: u64,
    first_silent: Option<u64>,
}

impl Tally {
    fn add(&mut self, k: u64, ran: &Ran) {
        self.cases += 1;
        match ran.outcome {
            Outcome::Refused(e) => *self.refused.entry(e).or_default() += 1,
            _ => self.restored += 1,
        }
        if matches!(ran.outcome, Outcome::Refused(_)) && ran.log.iter().all(|l| l.trim().is_empty())
        {
            self.silent += 1;
            self.first_silent.get_or_insert(k);
        }
    }

    /// A line on the refusals without a kernel log line, if there were any.
    fn silent(&self) -> Option<String> {
        let k = self.first_silent?;
        Some(format!(
            "cr-fuzz: {} refusals wrote no kernel log line (the first: case {k})",
            self.silent
        ))
    }

    fn summary(&self, opts: &Options, started: Instant) -> String {
        let mut by: Vec<(i32, u64)> = self.refused.iter().map(|(&e, &n)| (e, n)).collect();
        by.sort_by_key(|&(e, n)| (std::cmp::Reverse(n), e));
        let by: Vec<String> = by
            .iter()
            .map(|&(e, n)| format!("{} {n}", errno_name(e)))
            .collect();
        let refused: u64 = self.refused.values().sum();
        format!(
            "cr-fuzz: {}{} cases, seed {}, {refused} refused (by errno: {}), {} restored, {:.0} s",
            opts.shard_name(),
            self.cases,
            opts.seed,
            by.join(", "),
            self.restored,
            started.elapsed().as_secs_f64()
        )
    }
}

fn main() {
    without_aslr();
    normalize_signals();
    let opts = options();
    let mut out = Out::new();
    match opts.case {
        Some(k) => out.both(&format!("cr-fuzz: seed {}, case {k} alone", opts.seed)),
        None => out.both(&format!(
            "cr-fuzz: seed {}, {} cases{}",
            opts.seed,
            opts.cases,
            match opts.shard.1 {
                1 => String::new(),
                j => format!(", those of shard {}/{j}", opts.shard.0),
            }
        )),
    }
    std::fs::create_dir_all(&opts.dir).unwrap_or_else(|e| fail(format!("mkdir {}: {e}", opts.dir)));
    // SAFETY: a flag of our own process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        fail(cr_tests::os_error("prctl(PR_SET_CHILD_SUBREAPER)"));
    }
    // Both targets first: one forked after the other's image was read would carry it in its
    // heap, and in its own image.
    let (tree, anon) = (Target::spawn(tree_setup), Target::spawn(anon_setup));
    let made = [make_base("tree", tree, 4), make_base("anon", anon, 1)];
    let bases: Vec<Base> = made.iter().map(|m| m.base.clone()).collect();
    let started = Instant::now();
    if let Some(k) = opts.case {
        replay(&opts, &bases, &made, k);
    }
    for (m, mapped) in made.iter().flat_map(|m| [(m, false), (m, true)]) {
        let bytes = m.base.image.seal();
        let how = if mapped { " (mapped)" } else { "" };
        match run(&bytes, &opts.dir, &m.pids, None, mapped) {
            Ok(Ran {
                outcome: Outcome::Restored(_),
                ..
            }) => {}
            Ok(Ran { outcome, log, .. }) => fail(format!(
                "the intact {} image{how} gave {outcome}{}",
                m.base.name,
                with_lines(&log)
            )),
            Err(NotClean(why)) => fail(format!("the intact {} image{how}: {why}", m.base.name)),
        }
    }
    let mut tally = Tally::default();
    for k in (0..opts.cases).filter(|k| k % opts.shard.1 == opts.shard.0) {
        let case = fuzz::case(&bases, opts.seed, k);
        let line = format!(
            "case {k}: {}{} {}",
            bases[case.base].name,
            if mapped(k) { " (mapped)" } else { "" },
            case.describe()
        );
        out.now(&line);
        let m = &made[case.base];
        let result = run(
            &case.bytes,
            &opts.dir,
            &m.pids,
            root_exit_signal(&case.image),
            mapped(k),
        );
        let verdict = result.and_then(|ran| match judge(&case, ran.outcome) {
            Ok(()) => Ok(ran),
            Err(why) => Err(NotClean(format!("{why}{}", with_lines(&ran.log)))),
        });
        match verdict {
            Ok(ran) => {
                // The first case of each errno too: the one to replay for it.
                let new_errno = match ran.outcome {
                    Outcome::Refused(e) => !tally.refused.contains_key(&e),
                    _ => true,
                };
                tally.add(k, &ran);
                if new_errno || k % EVERY == 0 {
                    out.both(&format!("{line} -> {} ({:.1} s)", ran.outcome, ran.secs));
                }
            }
            Err(NotClean(why)) => {
                let kept = format!("{}/case-{k}.img", opts.dir);
                let _ = std::fs::write(&kept, &case.bytes);
                out.both(&format!("{line} -> NOT CLEAN"));
                out.both(&tally.summary(&opts, started));
                fail(format!(
                    "case {k} (seed {}, {} {}): {why}\n# replay: cr-fuzz --seed {} --case {k}; image kept in {kept}",
                    opts.seed,
                    bases[case.base].name,
                    case.describe(),
                    opts.seed
                ));
            }
        }
    }
    if let Some(line) = tally.silent() {
        out.both(&line);
    }
    out.both(&tally.summary(&opts, started));
    cr_tests::pass(&format!(
        "{}{} cases clean (seed {})",
        opts.shard_name(),
        tally.cases,
        opts.seed
    ));
}

/// Whether case `k` restarts by mapping (`RESTART_MAP`): every odd one.
fn mapped(k: u64) -> bool {
    k % 2 == 1
}

/// `--case K`: runs case K alone, showing its mutations, outcome and the kernel's log.
fn replay(opts: &Options, bases: &[Base], made: &[Made], k: u64) -> ! {
    let case = fuzz::case(bases, opts.seed, k);
    println!(
        "# case {k} of seed {}: base {}, {} bytes{}",
        opts.seed,
        bases[case.base].name,
        case.bytes.len(),
        if mapped(k) { ", by mapping" } else { "" }
    );
    for m in &case.mutations {
        println!("#   {m}");
    }
    let result = run(
        &case.bytes,
        &opts.dir,
        &made[case.base].pids,
        root_exit_signal(&case.image),
        mapped(k),
    );
    match result {
        Ok(ran) => {
            for l in &ran.log {
                println!("# kernel: {l}");
            }
            println!("# case {k}: -> {}", ran.outcome);
            match judge(&case, ran.outcome) {
                Ok(()) => cr_tests::pass(&format!("case {k} is clean")),
                Err(why) => fail(format!("case {k}: {why}")),
            }
        }
        Err(NotClean(why)) => fail(format!("case {k}: {why}")),
    }
}
