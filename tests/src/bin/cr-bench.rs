//! `cr-bench [--mem MIB,...] [--tree N,...] [--sock MIB,...] [--criu PATH]`: the guest half of `cargo xtask
//! bench`, not a test (the guest has it in /bin). Measures, each as one `BENCH <name> <value>
//! <unit>` line:
//!
//! - the guest's memcpy bandwidth, the yardstick for the rest;
//! - for each MIB, a `memhog MIB` process (every page written): checkpoint with `CKPT_KILL` to
//!   a file in tmpfs, the image size, restart from that file; the restored process then checks
//!   its memory and must exit 0;
//! - for each N, a tree of N processes (a root with N-1 children, all asleep): checkpoint
//!   with `CKPT_KILL` and restart; all N must come back;
//! - for each MIB given with `--sock`, a process holding a unix stream socket pair with MIB
//!   of bytes queued: checkpoint with `CKPT_KILL` and restart; the restored process then
//!   reads them back and checks them.
//!
//! With `--criu`, each of those is also dumped and restored by CRIU (names `criu:<name>`),
//! into and from a directory in tmpfs; where CRIU fails, a `BENCH-SKIP criu:<name> <why>` line
//! says so and the rest goes on. Any failure of our own ends it with status 1 and a
//! `FAIL: ...` line.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use cr_tests::proc::children_of;
use cr_tests::target::kill_and_reap;
use cr_tests::{describe_errno, fail, sys};

const IMAGE: &str = "/tmp/cr-bench.img";

fn report(name: &str, value: f64, unit: &str) {
    println!("BENCH {name} {value:.3} {unit}");
}

fn list(arg: Option<String>, default: &[u64]) -> Vec<u64> {
    match arg {
        Some(a) => a
            .split(',')
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| fail(format!("not a number: {n}")))
            })
            .collect(),
        None => default.to_vec(),
    }
}

/// Copies 64 MiB eight times; MB/s.
fn memcpy_bandwidth() {
    let len = 64 << 20;
    let src = vec![0x5au8; len];
    let mut dst = vec![0u8; len];
    dst.copy_from_slice(&src);
    let start = Instant::now();
    for _ in 0..8 {
        dst.copy_from_slice(std::hint::black_box(&src));
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&dst);
    report("memcpy", (8 * len) as f64 / 1e6 / secs, "MB/s");
}

/// Checkpoints the tree at `pid` into [`IMAGE`] with `CKPT_SUBTREE | CKPT_KILL`, which kills
/// it (the caller reaps it). Returns the time taken and the image size.
fn checkpoint(pid: libc::pid_t, what: &str) -> (Duration, u64) {
    let _ = std::fs::remove_file(IMAGE);
    let out = File::create(IMAGE).unwrap_or_else(|e| fail(format!("create {IMAGE}: {e}")));
    let start = Instant::now();
    let r = sys::checkpoint(pid, out.as_raw_fd(), abi::CKPT_SUBTREE | abi::CKPT_KILL, -1);
    let took = start.elapsed();
    if let Err(e) = r {
        kill_and_reap(pid);
        fail(format!(
            "checkpoint of {what}: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        ));
    }
    let size = out.metadata().map(|m| m.len()).unwrap_or(0);
    (took, size)
}

/// Restarts [`IMAGE`]; returns the restored root and the time taken.
fn restart(what: &str) -> (libc::pid_t, Duration) {
    let input = File::open(IMAGE).unwrap_or_else(|e| fail(format!("open {IMAGE}: {e}")));
    let start = Instant::now();
    let r = sys::restart(input.as_raw_fd(), 0, -1);
    let took = start.elapsed();
    match r {
        Ok(pid) => (pid, took),
        Err(e) => fail(format!(
            "restart of {what}: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// The checkpoint and restart measures of one benchmark.
fn report_cycle(name: &str, ckpt: Duration, rst: Duration, bytes: u64) {
    report(&format!("{name}.checkpoint"), ckpt.as_secs_f64(), "s");
    report(&format!("{name}.restart"), rst.as_secs_f64(), "s");
    report(&format!("{name}.image"), bytes as f64 / 1e6, "MB");
}

/// Waits up to 10 minutes for `done`, checking every 10 ms.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() {
        if Instant::now() > deadline {
            fail(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reaps every child that has exited (orphans of restored trees come to us: we are a child
/// subreaper).
fn reap_exited() {
    // SAFETY: waits for no particular child, without blocking.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

/// Starts `memhog MIB` and waits until it wrote its memory.
fn start_memhog(mib: u64, what: &str) -> std::process::Child {
    let out = format!("/tmp/cr-bench-memhog-{mib}.out");
    let child = std::process::Command::new("/bin/memhog")
        .arg(mib.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(File::create(&out).unwrap_or_else(|e| fail(format!("create {out}: {e}"))))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| fail(format!("start {what}: {e}")));
    wait_for(what, || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("ready"))
    });
    child
}

/// Wakes the restored process `pid` (`what`), our child, which checks what it holds (a
/// memhog its memory, a socket holder its bytes) and must exit 0.
fn wake_and_check(pid: libc::pid_t, what: &str) {
    // SAFETY: kill takes integers; `pid` is our child.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    match sys::waitpid(pid) {
        Ok(0) => {}
        Ok(status) => fail(format!("the restored {what} ended with status {status:#x}")),
        Err(e) => fail(format!("wait for the restored {what}: {e}")),
    }
}

fn memory(mib: u64, criu: Option<&str>) {
    let what = format!("memhog {mib}");
    let name = format!("mem{mib}");
    let mut child = start_memhog(mib, &what);
    let (ckpt, size) = checkpoint(child.id() as libc::pid_t, &what);
    let _ = child.wait();
    let (restored, rst) = restart(&what);
    wake_and_check(restored, &what);
    report_cycle(&name, ckpt, rst, size);
    let _ = std::fs::remove_file(IMAGE);
    let Some(criu) = criu else { return };
    let mut child = start_memhog(mib, &what);
    let pid = child.id() as libc::pid_t;
    if let Some((restored, dump, rst, size)) = criu_cycle(criu, &name, pid, || drop(child.wait())) {
        wake_and_check(restored, &what);
        report_cycle(&format!("criu:{name}"), dump, rst, size);
    }
}

/// Dumps the tree at `pid` with CRIU (which kills it; `reap` reaps it) and restores it
/// detached; the restored root becomes our child. Returns it, the dump and restore times and
/// the images' size; `None` after a `BENCH-SKIP` line if CRIU failed.
fn criu_cycle(
    criu: &str,
    name: &str,
    pid: libc::pid_t,
    reap: impl FnOnce(),
) -> Option<(libc::pid_t, Duration, Duration, u64)> {
    let dir = format!("/tmp/cr-bench-criu-{name}");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("mkdir {dir}: {e}")));
    let run = |args: &[&str]| {
        let start = Instant::now();
        let ok = std::process::Command::new(criu)
            .args(args)
            .args(["-D", &dir, "--shell-job", "-v2"])
            .stdin(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (ok, start.elapsed())
    };
    let skip = |log: &str| {
        let text = std::fs::read_to_string(format!("{dir}/{log}")).unwrap_or_default();
        let why: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Error"))
            .take(3)
            .collect();
        println!("BENCH-SKIP criu:{name} criu {log}: {}", why.join(" / "));
    };
    let (ok, dump) = run(&["dump", "-t", &pid.to_string(), "-o", "dump.log"]);
    if !ok {
        skip("dump.log");
        kill_and_reap(pid);
        return None;
    }
    reap();
    let size = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0);
    let (ok, rst) = run(&["restore", "-d", "--pidfile", "pid", "-o", "restore.log"]);
    if !ok {
        skip("restore.log");
        return None;
    }
    let restored = std::fs::read_to_string(format!("{dir}/pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| fail(format!("CRIU restored {name} but wrote no pid")));
    let _ = std::fs::remove_dir_all(&dir);
    Some((restored, dump, rst, size))
}

/// Forks a root with `n - 1` children, all asleep with their stdio on /dev/null.
fn spawn_tree(n: u64) -> libc::pid_t {
    // SAFETY: the child only makes system calls and ends in `_exit` or sleeps until killed.
    match unsafe { libc::fork() } {
        -1 => fail("fork"),
        0 => unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::syscall(libc::SYS_close_range, 3, u32::MAX, 0);
            for _ in 1..n {
                match libc::fork() {
                    -1 => libc::_exit(1),
                    0 => loop {
                        libc::pause();
                    },
                    _ => {}
                }
            }
            loop {
                libc::pause();
            }
        },
        pid => pid,
    }
}

/// Waits until the tree under the restored root `root` has all its `n` processes, then kills
/// it.
fn check_tree(root: libc::pid_t, n: u64, what: &str) {
    wait_for(&format!("the restored {what}"), || {
        children_of(root).len() as u64 + 1 == n
    });
    for kid in children_of(root) {
        // SAFETY: kill takes integers; the restored root's children are only killed.
        unsafe { libc::kill(kid, libc::SIGKILL) };
    }
    kill_and_reap(root);
    reap_exited();
}

/// Reaps the killed tree under `root`, whose children were `kids`: once the root is reaped,
/// they are ours (we are a child subreaper), and their pids must be free again.
fn reap_tree(root: libc::pid_t, kids: &[libc::pid_t]) {
    let _ = sys::waitpid(root);
    for &kid in kids {
        let _ = sys::waitpid(kid);
    }
}

fn tree(n: u64, criu: Option<&str>) {
    let what = format!("a tree of {n} processes");
    let name = format!("tree{n}");
    let root = spawn_tree(n);
    wait_for(&what, || children_of(root).len() as u64 + 1 == n);
    let kids = children_of(root);
    let (ckpt, size) = checkpoint(root, &what);
    reap_tree(root, &kids);
    let (restored, rst) = restart(&what);
    check_tree(restored, n, &what);
    report_cycle(&name, ckpt, rst, size);
    let _ = std::fs::remove_file(IMAGE);
    let Some(criu) = criu else { return };
    let root = spawn_tree(n);
    wait_for(&what, || children_of(root).len() as u64 + 1 == n);
    let kids = children_of(root);
    if let Some((restored, dump, rst, size)) =
        criu_cycle(criu, &name, root, || reap_tree(root, &kids))
    {
        check_tree(restored, n, &what);
        report_cycle(&format!("criu:{name}"), dump, rst, size);
    }
}

/// Where the socket holder says it queued its bytes.
const SOCK_READY: &str = "/tmp/cr-bench-sock.ready";

/// The byte at offset `i` of what the socket holder queues.
fn sock_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Forks a process that queues `mib` MiB on a unix stream socket pair it holds (its send
/// buffer raised with SO_SNDBUFFORCE), says so in [`SOCK_READY`] and sleeps; woken by
/// SIGUSR1 it reads them back and exits 0 if they are whole.
fn spawn_sock_holder(mib: u64) -> libc::pid_t {
    let _ = std::fs::remove_file(SOCK_READY);
    let len = (mib << 20) as usize;
    // SAFETY: the child only makes system calls on its own memory and ends in `_exit`.
    match unsafe { libc::fork() } {
        -1 => fail("fork"),
        0 => unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::syscall(libc::SYS_close_range, 3, u32::MAX, 0);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let mut fds = [0; 2];
            if libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) != 0 {
                libc::_exit(2);
            }
            // Room for the bytes and what each buffer costs besides them.
            let room = (len * 2) as libc::c_int;
            let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let opt = (&raw const room).cast();
            libc::setsockopt(fds[1], libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, opt, size);
            let bytes: Vec<u8> = (0..len).map(sock_byte).collect();
            let mut at = 0;
            while at < len {
                let n = libc::write(fds[1], bytes[at..].as_ptr().cast(), (len - at).min(1 << 16));
                if n <= 0 {
                    libc::_exit(3);
                }
                at += n as usize;
            }
            drop(bytes);
            let ready = libc::open(
                c"/tmp/cr-bench-sock.ready".as_ptr(),
                libc::O_CREAT | libc::O_WRONLY,
                0o600,
            );
            libc::close(ready);
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
            let mut buf = vec![0u8; 1 << 16];
            let mut at = 0;
            while at < len {
                let n = libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len().min(len - at));
                if n <= 0
                    || buf[..n as usize]
                        .iter()
                        .enumerate()
                        .any(|(k, &b)| b != sock_byte(at + k))
                {
                    libc::_exit(4);
                }
                at += n as usize;
            }
            libc::_exit(0);
        },
        pid => {
            wait_for("the socket holder", || {
                std::path::Path::new(SOCK_READY).exists()
            });
            pid
        }
    }
}

fn sock(mib: u64, criu: Option<&str>) {
    let what = format!("a socket pair holding {mib} MiB");
    let name = format!("sock{mib}");
    let pid = spawn_sock_holder(mib);
    let (ckpt, size) = checkpoint(pid, &what);
    let _ = sys::waitpid(pid);
    let (restored, rst) = restart(&what);
    wake_and_check(restored, &what);
    report_cycle(&name, ckpt, rst, size);
    let _ = std::fs::remove_file(IMAGE);
    let Some(criu) = criu else { return };
    let pid = spawn_sock_holder(mib);
    if let Some((restored, dump, rst, size)) = criu_cycle(criu, &name, pid, || {
        let _ = sys::waitpid(pid);
    }) {
        wake_and_check(restored, &what);
        report_cycle(&format!("criu:{name}"), dump, rst, size);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut mem, mut trees, mut socks, mut criu) = (None, None, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mem" => mem = args.next(),
            "--tree" => trees = args.next(),
            "--sock" => socks = args.next(),
            "--criu" => criu = args.next(),
            _ => fail(format!(
                "usage: cr-bench [--mem MIB,...] [--tree N,...] [--sock MIB,...] [--criu PATH] (not {a})"
            )),
        }
    }
    // Orphans of restored trees, and CRIU's detached restores, come to us.
    // SAFETY: a flag of our own process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    memcpy_bandwidth();
    for mib in list(mem, &[64, 1024]) {
        memory(mib, criu.as_deref());
    }
    for n in list(trees, &[10, 100, 1000]) {
        tree(n, criu.as_deref());
    }
    for mib in list(socks, &[16]) {
        sock(mib, criu.as_deref());
    }
    let _ = std::fs::remove_file(IMAGE);
    println!("cr-bench: done");
}
