//! `cr-harness [--dir DIR] [--timeout SECS] [--full] [FILTER]`: runs the guest test programs and
//! prints KTAP.
//!
//! Every executable in DIR (default `/tests`) whose name contains FILTER runs in name order, in
//! its own process group, with its stdout and stderr captured together. A test that outlives
//! its timeout (longer for the few in `LONG`) is killed with its whole group. `# RUNNING
//! <name>` goes out before each test so that a kernel oops in the console log can be pinned on
//! the test that was running. `--full` sets `CR_TESTS_FULL=1` for the tests, which then run at
//! the scale of `cargo xtask qemu-test --full` (see `cr_tests::full`), with the longer timeouts
//! that takes. The last
//! line is `X passed, Y failed` (`, Z skipped` when any were); the exit status is 0 only if
//! nothing failed.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const EXIT_SKIP: i32 = cr_tests::EXIT_SKIP;

/// Tests that need longer than the default timeout, with theirs in the bounded form and at full
/// scale: a tree of 1000 processes takes seven to eight minutes to set up, checkpoint, restart
/// and check on the debug kernel under TCG (KASAN and lockdep make each task's checkpoint some
/// 25 times slower); the fuzzer's 150 cases about two (800 about ten); 4,000 files in one fd table
/// about one (20,000 about five).
const LONG: &[(&str, u64, u64)] = &[
    ("restore_tree_1000", 900, 900),
    ("restart_crafted", 300, 300),
    ("restart_unprivileged", 400, 400),
    ("cr-fuzz", 600, 1800),
    ("restore_many_fds", 300, 1200),
];

struct Options {
    dir: PathBuf,
    timeout: Duration,
    filter: String,
    full: bool,
}

fn usage() -> ! {
    eprintln!("usage: cr-harness [--dir DIR] [--timeout SECS] [--full] [FILTER]");
    std::process::exit(2)
}

fn options() -> Options {
    let mut opts = Options {
        dir: PathBuf::from("/tests"),
        // Catches hangs, not slowness: the tree truncation test takes ~40 s under TCG on a
        // debug kernel, and CI machines can be slower than that.
        timeout: Duration::from_secs(120),
        filter: String::new(),
        full: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => opts.dir = args.next().unwrap_or_else(|| usage()).into(),
            "--timeout" => {
                let secs = args.next().and_then(|s| s.parse().ok());
                opts.timeout = Duration::from_secs(secs.unwrap_or_else(|| usage()));
            }
            "--full" => opts.full = true,
            "-h" | "--help" => usage(),
            _ if arg.starts_with('-') => usage(),
            _ => opts.filter = arg,
        }
    }
    opts
}

/// The test programs: executable regular files in `dir`, sorted, minus this harness.
fn tests(dir: &Path, filter: &str) -> std::io::Result<Vec<PathBuf>> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let executable = meta.is_file() && meta.permissions().mode() & 0o111 != 0;
        let is_me = me.is_some() && path.canonicalize().ok() == me;
        if executable && !is_me && name != "cr-harness" && name.contains(filter) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

/// Runs one test program; returns its verdict and everything it printed.
fn run(path: &Path, timeout: Duration, full: bool) -> (Verdict, String) {
    let (read, write) = match cr::klog::pipe() {
        Ok(p) => p,
        Err(e) => return (Verdict::Fail(format!("pipe: {e}")), String::new()),
    };
    let write2 = match write.try_clone() {
        Ok(w) => w,
        Err(e) => return (Verdict::Fail(format!("dup: {e}")), String::new()),
    };
    let mut command = Command::new(path);
    if full {
        command.env(cr_tests::FULL_ENV, "1");
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(write2))
        .process_group(0)
        .spawn();
    // The Command holds our copies of the write end: without them the reader sees end of file
    // once the test and everything it left running are gone.
    drop(command);
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (Verdict::Fail(format!("spawn: {e}")), String::new()),
    };
    // What the test printed so far: all of it at end of file, or as much as came before a
    // descendant that kept the pipe open was given up on.
    let out = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&out);
    std::thread::spawn(move || {
        let mut read = File::from(read);
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = read.read(&mut buf) {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(());
    });
    let pgid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    // Whatever the test forked and left behind goes too, timed out or not.
    // SAFETY: kill on a process group we created; no memory is involved.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
    let ended = rx.recv_timeout(Duration::from_secs(5)).is_ok();
    let mut output = {
        let bytes = out.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    };
    if !ended {
        output += "(output cut short: a descendant kept the pipe open)\n";
    }
    let verdict = match status {
        None => Verdict::Fail(format!("timed out after {}s", timeout.as_secs())),
        Some(s) => match s.code() {
            Some(0) => Verdict::Pass,
            Some(EXIT_SKIP) => Verdict::Skip(skip_reason(&output)),
            Some(code) => Verdict::Fail(format!("exit status {code}")),
            None => Verdict::Fail(format!("killed by signal {}", s.signal().unwrap_or(0))),
        },
    };
    (verdict, output)
}

/// The last line a skipping test printed, without its `SKIP: ` label.
fn skip_reason(output: &str) -> String {
    let line = output.lines().rev().find(|l| !l.trim().is_empty());
    let line = line.unwrap_or("no reason given").trim();
    line.strip_prefix("SKIP: ").unwrap_or(line).to_string()
}

fn main() {
    let opts = options();
    let tests = tests(&opts.dir, &opts.filter).unwrap_or_else(|e| {
        eprintln!("cr-harness: {}: {e}", opts.dir.display());
        std::process::exit(2)
    });
    println!("KTAP version 1");
    println!("1..{}", tests.len());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (i, path) in tests.iter().enumerate() {
        let n = i + 1;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("# RUNNING {name}");
        let started = Instant::now();
        let long = LONG.iter().find(|(long, ..)| *long == name);
        let timeout = long.map_or(opts.timeout, |&(_, bounded, full)| {
            let secs = if opts.full { full } else { bounded };
            opts.timeout.max(Duration::from_secs(secs))
        });
        let (verdict, output) = run(path, timeout, opts.full);
        // Slow tests show up here long before they hit the timeout on a slower machine.
        println!("# {name}: {:.1}s", started.elapsed().as_secs_f64());
        match verdict {
            Verdict::Pass => {
                passed += 1;
                println!("ok {n} {name}");
            }
            Verdict::Skip(reason) => {
                skipped += 1;
                println!("ok {n} {name} # SKIP {reason}");
            }
            Verdict::Fail(why) => {
                failed += 1;
                for line in output.lines() {
                    println!("# {line}");
                }
                println!("# {name}: {why}");
                println!("not ok {n} {name}");
            }
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
