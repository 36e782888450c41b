//! `cr-bench [--runs N] [--mem MIB,...] [--tree N,...] [--sock MIB,...] [--files N,...]
//! [--criu PATH]`: the guest half of `cargo xtask bench`, not a test (the guest has it in
//! /bin). An empty list (`--mem ''`) leaves its benchmark out. Measures, each as one `BENCH
//! <name> <value> <unit>` line, all of them once per run (`--runs`, 1 by default: the host
//! takes the median of the samples of each name):
//!
//! - the guest's memcpy bandwidth, the yardstick for the rest, and that of the image's
//!   checksum (`xxh64`, over 64 MiB, as the kernel computes it);
//! - for each MIB, a `memhog MIB` process (every page written): checkpoint with `CKPT_KILL` to
//!   a file in tmpfs, the image size, restart from that file; the restored process then checks
//!   its memory and must exit 0; then another checkpoint, restarted from a pipe that a child
//!   fills from the image file with splice(2) (`memMIB.restart-pipe`); then a third, written
//!   by checkpoint(2) straight into a memfd, which is then sealed against writing, shrinking
//!   and growing and restarted with `RESTART_MAP`: the page data mapped copy-on-write instead
//!   of copied (`memMIB.restart-map`); then a fourth, restarted from the image file as the
//!   first while a child of ours reads `MemFree` from /proc/meminfo every millisecond (into a
//!   buffer of its own: it allocates nothing), from just before restart(2) until just after it
//!   returned, with the restored process, asleep until it is checked, holding its memory:
//!   `memMIB.restart-mem`, the most memory the restart used beyond what it left in use (MemFree
//!   just after the call minus its least during it: the restart's own memory, which should not
//!   grow with the image), in MB (10^6 bytes; the free memory moves by a few MB of its own,
//!   pages freed to and taken from the per-CPU lists, and a peak shorter than a sample is
//!   missed); not on the timed restart, which the sampler would slow down. Before them, the
//!   limits for the same bytes: `memMIB.copy-out`, writing them from memory to a new file in
//!   tmpfs, and `memMIB.copy-in`, reading that file into fresh memory, each in `write(2)` or
//!   `read(2)` calls of 1 MiB. After them, for MIB up to 64 only (larger ones would only add
//!   minutes), a fifth checkpoint and restart by the `cr` tool (the guest's /bin/cr, or
//!   `$CR`), each command timed whole, from just before its spawn to just after it was waited
//!   for, as a user waits for it: `memMIB.cr-checkpoint`, `cr checkpoint --subtree --kill -o
//!   FILE PID` into a file in tmpfs, and `memMIB.cr-restart`, `cr restart --detach -i FILE`,
//!   which prints the restored root's pid and exits without waiting for it; the restored
//!   process, orphaned to us, is then checked as above;
//! - for each N, a tree of N processes (a root with N-1 children, all asleep): checkpoint
//!   with `CKPT_KILL` and restart; all N must come back;
//! - for each MIB given with `--sock`, a process holding a unix stream socket pair with MIB
//!   of bytes queued: checkpoint with `CKPT_KILL` and restart; the restored process then
//!   reads them back and checks them;
//! - for each N given with `--files` (256 if not given), what each kind of file costs: for
//!   each kind K below, a process holding N objects of kind K, and one holding none (K =
//!   `none`, the baseline), each checkpointed with `CKPT_KILL` and restarted; the restored
//!   process checks every object it holds and must exit 0. Each (K, N) runs 3 times, each
//!   figure the median of its 3: `files-K-N.checkpoint` and `.restart` in s, `.image` in MB,
//!   and for each K but `none` what one object adds to the baseline, (K's figure - none's) / N:
//!   `files-K-N.per-object-checkpoint` and `.per-object-restart` in µs (unit `us`),
//!   `.per-object-image` in bytes (unit `B`). The kinds, and what the restored process checks
//!   of each object (one or two system calls):
//!   - `pipe`: 4096 bytes buffered (read back whole, and nothing more);
//!   - `eventfd`: its count set to its index plus 1 (read back);
//!   - `timerfd`: CLOCK_MONOTONIC, armed for 1 h, not fired (`timerfd_gettime()`: still armed,
//!     at most 1 h away, no period);
//!   - `signalfd`: for SIGUSR2, which the holder blocks and has pending (`poll()`: readable);
//!   - `epoll`: an epoll instance watching, for EPOLLIN with its index as data, an eventfd
//!     that all N share (made once, count 1: 1/N of an eventfd is in each object's figures)
//!     (`epoll_wait()`: that eventfd ready, with that data);
//!   - `memfd`: 4096 bytes written (read back whole with `pread()`);
//!   - `socketpair`: a unix stream socket pair, 512 bytes queued each way (each side reads
//!     the other's whole, and nothing more);
//!   - `pty`: a master opened from /dev/ptmx, unlocked, and its slave, with a new pty's
//!     termios (canonical, echo on), a line of 64 bytes written to the master and not read
//!     from the slave (the slave reads that line; the master its echo, 65 bytes: the newline
//!     came back as "\r\n").
//!
//!   Pipes, socket pairs and ptys take 2 fds each; the holder raises its RLIMIT_NOFILE as far
//!   as N asks.
//!
//! The memhog, the tree's root and the socket holder lead sessions of their own (setsid()),
//! for both tools; the file holders do not, so that their ptys are no one's controlling
//! terminal.
//!
//! With `--criu`, the memory, tree and socket benchmarks are also dumped and restored by CRIU
//! (names `criu:<name>`), into and from a directory in tmpfs; where CRIU fails, a `BENCH-SKIP
//! criu:<name> <why>` line says so and the rest goes on. The files are not (CRIU's support
//! differs from one kind of file to the next: no comparison of like with like). Any failure of
//! our own ends it with status 1 and a `FAIL: ...` line.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use cr_tests::proc::{children_of, sigset_of};
use cr_tests::pty;
use cr_tests::target::kill_and_reap;
use cr_tests::{
    check_eq, check_os, describe_errno, epoll_add, fail, pread_exact, read_u64, sys, write_all,
    Check,
};

const IMAGE: &str = "/tmp/cr-bench.img";

/// The largest memory size, in MiB, whose checkpoint and restart by the `cr` commands are
/// timed too (`memMIB.cr-checkpoint`, `memMIB.cr-restart`).
const CR_MEM_MAX: u64 = 64;

/// Where a holder (see [`spawn_holder`]) says it made what it holds.
const READY: &str = "/tmp/cr-bench-holder.ready";

/// Where a holder says what it found wrong: its stdio is /dev/null (see
/// [`forget_our_files`]).
const HOLDER_ERR: &str = "/tmp/cr-bench-holder.err";

/// How many times each (kind, N) of the files benchmark runs; each figure is the median.
const FILES_RUNS: usize = 3;

fn report(name: &str, value: f64, unit: &str) {
    println!("BENCH {name} {value:.3} {unit}");
}

/// The numbers of a comma-separated list, `default` if it was not given; an empty list is
/// no number.
fn list(arg: Option<String>, default: &[u64]) -> Vec<u64> {
    match arg {
        Some(a) if a.is_empty() => Vec::new(),
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

/// The bandwidth of the image's checksum.
fn checksum_bandwidth() {
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let start = Instant::now();
    std::hint::black_box(abi::xxh64::xxh64(std::hint::black_box(&data), 0));
    let secs = start.elapsed().as_secs_f64();
    report("xxh64", data.len() as f64 / 1e6 / secs, "MB/s");
}

/// What copying `mib` MiB costs at best, the limits of a checkpoint and a restart of that much
/// memory: from memory to a new file in tmpfs, and from that file into fresh memory, in calls
/// of 1 MiB.
fn copy_limits(mib: u64) {
    const CALL: usize = 1 << 20;
    let len = (mib as usize) << 20;
    let mut src = vec![0u8; len];
    src.iter_mut().step_by(4096).for_each(|b| *b = 0x5a);
    let _ = std::fs::remove_file(IMAGE);
    let mut out = File::create(IMAGE).unwrap_or_else(|e| fail(format!("create {IMAGE}: {e}")));
    let start = Instant::now();
    for chunk in src.chunks(CALL) {
        out.write_all(chunk)
            .unwrap_or_else(|e| fail(format!("write {IMAGE}: {e}")));
    }
    report(
        &format!("mem{mib}.copy-out"),
        start.elapsed().as_secs_f64(),
        "s",
    );
    drop((src, out));
    let mut input = File::open(IMAGE).unwrap_or_else(|e| fail(format!("open {IMAGE}: {e}")));
    // Fresh: calloc maps new anonymous memory, each page faulted in by the read.
    let mut dst = vec![0u8; len];
    let start = Instant::now();
    for chunk in dst.chunks_mut(CALL) {
        input
            .read_exact(chunk)
            .unwrap_or_else(|e| fail(format!("read {IMAGE}: {e}")));
    }
    report(
        &format!("mem{mib}.copy-in"),
        start.elapsed().as_secs_f64(),
        "s",
    );
    std::hint::black_box(&dst);
    let _ = std::fs::remove_file(IMAGE);
}

/// Checkpoints the tree at `pid` into [`IMAGE`] with `CKPT_SUBTREE | CKPT_KILL`, which kills
/// it (the caller reaps it). Returns the time taken and the image size.
fn checkpoint(pid: libc::pid_t, what: &str) -> (Duration, u64) {
    checkpoint_with(pid, 0, what)
}

/// [`checkpoint`] with the checkpoint flags `extra` too.
fn checkpoint_with(pid: libc::pid_t, extra: u32, what: &str) -> (Duration, u64) {
    let _ = std::fs::remove_file(IMAGE);
    let out = File::create(IMAGE).unwrap_or_else(|e| fail(format!("create {IMAGE}: {e}")));
    let took = checkpoint_into(pid, &out, extra, what);
    let size = out.metadata().map(|m| m.len()).unwrap_or(0);
    (took, size)
}

/// Checkpoints the tree at `pid` into a new memfd, as [`checkpoint`] into its file, and seals
/// it against writing, shrinking and growing, read from its start, as `RESTART_MAP` needs.
fn checkpoint_to_memfd(pid: libc::pid_t, what: &str) -> File {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut memfd = sys::memfd_create(c"cr-bench-image", flags)
        .unwrap_or_else(|e| fail(format!("memfd_create: {e}")));
    checkpoint_into(pid, &memfd, 0, what);
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
    sys::add_seals(memfd.as_raw_fd(), seals)
        .unwrap_or_else(|e| fail(format!("seal the image memfd of {what}: {e}")));
    memfd
        .rewind()
        .unwrap_or_else(|e| fail(format!("seek the image memfd of {what}: {e}")));
    memfd
}

/// Checkpoints the tree at `pid` into `out` with `CKPT_SUBTREE | CKPT_KILL` and `extra`, which
/// kills it (the caller reaps it). Returns the time taken.
fn checkpoint_into(pid: libc::pid_t, out: &File, extra: u32, what: &str) -> Duration {
    let flags = abi::CKPT_SUBTREE | abi::CKPT_KILL | extra;
    let start = Instant::now();
    let r = sys::checkpoint(pid, out.as_raw_fd(), flags, -1);
    let took = start.elapsed();
    if let Err(e) = r {
        kill_and_reap(pid);
        fail(format!(
            "checkpoint of {what}: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        ));
    }
    took
}

/// Restarts [`IMAGE`]; returns the restored root and the time taken.
fn restart(what: &str) -> (libc::pid_t, Duration) {
    let input = File::open(IMAGE).unwrap_or_else(|e| fail(format!("open {IMAGE}: {e}")));
    restart_from(input.as_raw_fd(), 0, what, "")
}

/// Restarts from the image memfd of [`checkpoint_to_memfd`] with `RESTART_MAP`; returns the
/// restored root and the time taken.
fn restart_mapped(memfd: &File, what: &str) -> (libc::pid_t, Duration) {
    restart_from(memfd.as_raw_fd(), abi::RESTART_MAP, what, " by mapping")
}

/// Restarts from `fd` with the `RESTART_*` `flags`; returns the restored root and the time
/// taken. A failure names `what` and `how` it was restarted.
fn restart_from(fd: RawFd, flags: u32, what: &str, how: &str) -> (libc::pid_t, Duration) {
    let start = Instant::now();
    let r = sys::restart(fd, flags, -1);
    let took = start.elapsed();
    match r {
        Ok(pid) => (pid, took),
        Err(e) => fail(format!(
            "restart of {what}{how}: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// /proc/meminfo, opened once and read whole into a buffer of its own with pread(2) at 0: a
/// sample allocates nothing, so that sampling adds nothing to the memory it measures.
struct MemInfo {
    file: File,
    buf: [u8; 4096],
}

impl MemInfo {
    fn open() -> MemInfo {
        let path = "/proc/meminfo";
        let file = File::open(path).unwrap_or_else(|e| fail(format!("open {path}: {e}")));
        MemInfo {
            file,
            buf: [0; 4096],
        }
    }

    /// The free memory, `MemFree`, in bytes.
    fn free(&mut self) -> u64 {
        let (fd, buf) = (self.file.as_raw_fd(), &mut self.buf);
        // SAFETY: reads into `buf`, at most its length.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            fail(format!(
                "read /proc/meminfo: {}",
                std::io::Error::last_os_error()
            ));
        }
        let kib = buf[..n as usize]
            .split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"MemFree:"))
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok());
        match kib {
            Some(kib) => kib << 10,
            None => fail("/proc/meminfo: no MemFree line in kB"),
        }
    }
}

/// `MemFree` in bytes around one restart: its minimum from just before the call until just
/// after it returned, and just after it.
struct FreeAround {
    least: u64,
    after: u64,
}

/// Restarts [`IMAGE`] as [`restart`] does, while a child of ours samples `MemFree` every
/// millisecond, from just before the call until just after it returned; returns the restored
/// root and what the child saw. A child, not a thread: a thread would leave a malloc arena in
/// our memory, which every tree target forked after it would carry into its image. Neither
/// the sampler nor the call allocates in between: the child samples from a buffer it has
/// before its first sample, the image file is opened before it.
fn restart_sampled(what: &str) -> (libc::pid_t, FreeAround) {
    let input = File::open(IMAGE).unwrap_or_else(|e| fail(format!("open {IMAGE}: {e}")));
    let mut meminfo = MemInfo::open();
    let (mut go, mut back) = ([0; 2], [0; 2]);
    for ends in [&mut go, &mut back] {
        // SAFETY: `ends` has room for the two descriptors.
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            fail(format!("pipe: {}", std::io::Error::last_os_error()));
        }
    }
    // SAFETY: the child samples into its own buffer, writes to a pipe and _exit()s.
    let sampler = unsafe { libc::fork() };
    if sampler == 0 {
        let before = meminfo.free();
        let mut least = before;
        let mut poll = libc::pollfd {
            fd: go[0],
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: writes one byte from a local; the parent waits for it.
        unsafe { libc::write(back[1], [1u8].as_ptr().cast(), 1) };
        loop {
            // SAFETY: polls one descriptor of ours for 1 ms.
            let done = unsafe { libc::poll(&mut poll, 1, 1) } > 0;
            let free = meminfo.free();
            least = least.min(free);
            if done {
                let mut out = [0u8; 24];
                for (i, v) in [before, least, free].into_iter().enumerate() {
                    out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
                }
                // SAFETY: writes a local buffer, then ends the child without running the
                // parent's destructors.
                unsafe {
                    libc::write(back[1], out.as_ptr().cast(), out.len());
                    libc::_exit(0)
                }
            }
        }
    }
    if sampler < 0 {
        fail(format!("fork: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: closes the child's ends, which are ours.
    unsafe {
        libc::close(go[0]);
        libc::close(back[1]);
    }
    // SAFETY: the read ends are ours alone from here.
    let mut back = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(back[0]) };
    let mut ready = [0u8; 1];
    if back.read_exact(&mut ready).is_err() {
        fail("the memory sampler did not start");
    }
    let r = sys::restart(input.as_raw_fd(), 0, -1);
    // SAFETY: writes one byte to our end of the pipe, then closes it.
    unsafe {
        libc::write(go[1], [1u8].as_ptr().cast(), 1);
        libc::close(go[1]);
    }
    let mut out = [0u8; 24];
    let got = back.read_exact(&mut out);
    // SAFETY: reaps the sampler, our child.
    unsafe { libc::waitpid(sampler, std::ptr::null_mut(), 0) };
    if got.is_err() {
        fail("the memory sampler ended without its samples");
    }
    let word = |i: usize| u64::from_le_bytes(out[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let free = FreeAround {
        least: word(1),
        after: word(2),
    };
    match r {
        Ok(pid) => (pid, free),
        Err(e) => fail(format!(
            "restart of {what} with its memory sampled: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// Restarts [`IMAGE`] from a pipe, which a child of ours fills from the file with splice(2)
/// as a transfer tool would, the pipe enlarged to 1 MiB as such a tool may; returns the
/// restored root and the time taken.
fn restart_from_pipe(what: &str) -> (libc::pid_t, Duration) {
    let input = File::open(IMAGE).unwrap_or_else(|e| fail(format!("open {IMAGE}: {e}")));
    let mut ends = [0; 2];
    // SAFETY: `ends` has room for the two descriptors.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        fail(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let [rd, wr] = ends;
    // SAFETY: fcntl takes integers. A smaller pipe only makes the restart slower.
    unsafe { libc::fcntl(wr, libc::F_SETPIPE_SZ, 1 << 20) };
    // SAFETY: the child only makes system calls, then _exit()s.
    let feeder = unsafe { libc::fork() };
    if feeder == 0 {
        // SAFETY: system calls on descriptors the child owns; no allocation, no unwinding.
        unsafe {
            libc::close(rd);
            loop {
                let n = libc::splice(
                    input.as_raw_fd(),
                    std::ptr::null_mut(),
                    wr,
                    std::ptr::null_mut(),
                    1 << 20,
                    0,
                );
                if n <= 0 {
                    libc::_exit(i32::from(n < 0));
                }
            }
        }
    }
    if feeder < 0 {
        fail(format!("fork: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: our descriptor, closed once; the child holds its own.
    unsafe { libc::close(wr) };
    let start = Instant::now();
    let r = sys::restart(rd, 0, -1);
    let took = start.elapsed();
    // SAFETY: as above. A feeder that did not finish then gets EPIPE.
    unsafe { libc::close(rd) };
    let fed = sys::waitpid(feeder);
    match (r, fed) {
        (Ok(pid), Ok(0)) => (pid, took),
        (Ok(pid), fed) => {
            kill_and_reap(pid);
            fail(format!("the pipe's feeder for {what} failed: {fed:?}"))
        }
        (Err(e), _) => fail(format!(
            "restart of {what} from a pipe: {}",
            describe_errno(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// Runs `cr ARGS...` (the guest's /bin/cr, or `$CR`) with stdin on /dev/null and waits for
/// it; returns what it printed on stdout and the time from just before its spawn to just
/// after the wait, or `Err` with its stderr unless it exited 0.
fn time_cr(args: &[&str]) -> Result<(String, Duration), String> {
    let path = cr_tests::cr_path();
    let mut command = std::process::Command::new(&path);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let out = command.output();
    let took = start.elapsed();
    let out = out.map_err(|e| format!("run {path}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{path} {}: {}; stderr: {:?}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), took))
}

/// Checkpoints the tree at `pid` (`what`) into [`IMAGE`] with `cr checkpoint --subtree
/// --kill`, which kills it (the caller reaps it). Returns the time the command took.
fn cr_checkpoint(pid: libc::pid_t, what: &str) -> Duration {
    let _ = std::fs::remove_file(IMAGE);
    let pid_arg = pid.to_string();
    let args = ["checkpoint", "--subtree", "--kill", "-o", IMAGE, &pid_arg];
    match time_cr(&args) {
        Ok((_, took)) => took,
        Err(e) => {
            kill_and_reap(pid);
            fail(format!("cr checkpoint of {what}: {e}"))
        }
    }
}

/// Restarts [`IMAGE`] with `cr restart --detach`; returns the restored root, which became our
/// child when `cr` exited (we are a child subreaper), and the time the command took.
fn cr_restart(what: &str) -> (libc::pid_t, Duration) {
    let (out, took) = time_cr(&["restart", "--detach", "-i", IMAGE])
        .unwrap_or_else(|e| fail(format!("cr restart of {what}: {e}")));
    match out.trim().parse() {
        Ok(pid) => (pid, took),
        Err(_) => fail(format!(
            "cr restart of {what} printed no pid on stdout: {out:?}"
        )),
    }
}

/// The checkpoint and restart times and the image size of one cycle.
type Cycle = (Duration, Duration, u64);

/// Checkpoints the tree at `pid` (`what`) with `CKPT_KILL`, reaps it with `reap`, restarts it
/// and checks the restored root with `check`; the image is removed.
fn cycle(
    pid: libc::pid_t,
    what: &str,
    reap: impl FnOnce(),
    check: impl FnOnce(libc::pid_t),
) -> Cycle {
    let (ckpt, size) = checkpoint(pid, what);
    reap();
    let (restored, rst) = restart(what);
    check(restored);
    let _ = std::fs::remove_file(IMAGE);
    (ckpt, rst, size)
}

/// The checkpoint and restart measures of one benchmark.
fn report_cycle(name: &str, (ckpt, rst, bytes): Cycle) {
    report(&format!("{name}.checkpoint"), ckpt.as_secs_f64(), "s");
    report(&format!("{name}.restart"), rst.as_secs_f64(), "s");
    report(&format!("{name}.image"), bytes as f64 / 1e6, "MB");
}

/// Measures the benchmark `name` (`what`): `spawn` starts its tree and returns the root and
/// what reaps the tree once it is killed, `check` checks a restored root. One [`cycle`] of
/// ours, then one of CRIU's if `criu` is its path.
fn measure<R: FnOnce()>(
    name: &str,
    what: &str,
    criu: Option<&str>,
    spawn: impl Fn() -> (libc::pid_t, R),
    check: impl Fn(libc::pid_t),
) {
    let (pid, reap) = spawn();
    report_cycle(name, cycle(pid, what, reap, &check));
    let Some(criu) = criu else { return };
    let (pid, reap) = spawn();
    if let Some((restored, dump, rst, size)) = criu_cycle(criu, name, pid, reap) {
        check(restored);
        report_cycle(&format!("criu:{name}"), (dump, rst, size));
    }
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
    let mut command = std::process::Command::new("/bin/memhog");
    // SAFETY: setsid() is async-signal-safe.
    unsafe { command.pre_exec(own_session) };
    let child = command
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

/// Makes the calling process the leader of a session of its own. A target must lead its own
/// session, as a daemon does: our /init never calls setsid(), so its session is 0, which CRIU
/// refuses ("a session leader ... is outside of its pid namespace"), and one led by cr-bench
/// would be a session whose leader is outside the tree, which checkpoint(2) refuses.
fn own_session() -> std::io::Result<()> {
    // SAFETY: setsid() takes no arguments and touches no memory of ours. (A forked child is
    // never a group leader, so it does not fail.)
    unsafe { libc::setsid() };
    Ok(())
}

/// What a holder wrote to [`HOLDER_ERR`], if anything.
fn holder_error() -> String {
    match std::fs::read_to_string(HOLDER_ERR) {
        Ok(why) => format!(": {why}"),
        Err(_) => String::new(),
    }
}

/// Wakes the restored process `pid` (`what`), our child, which checks what it holds (a
/// memhog its memory, a holder its files) and must exit 0.
fn wake_and_check(pid: libc::pid_t, what: &str) {
    // SAFETY: kill takes integers; `pid` is our child.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    match sys::waitpid(pid) {
        Ok(0) => {}
        Ok(status) => fail(format!(
            "the restored {what} ended with status {status:#x}{}",
            holder_error()
        )),
        Err(e) => fail(format!("wait for the restored {what}: {e}")),
    }
}

fn memory(mib: u64, criu: Option<&str>) {
    copy_limits(mib);
    let what = format!("memhog {mib}");
    let spawn = || {
        let mut child = start_memhog(mib, &what);
        (child.id() as libc::pid_t, move || drop(child.wait()))
    };
    let check = |restored| wake_and_check(restored, &what);
    measure(&format!("mem{mib}"), &what, criu, spawn, check);
    // The same from a pipe, with a checkpoint of its own (the cycle's image is gone).
    let (pid, mut reap) = spawn();
    checkpoint(pid, &what);
    reap();
    let (restored, took) = restart_from_pipe(&what);
    check(restored);
    let _ = std::fs::remove_file(IMAGE);
    report(&format!("mem{mib}.restart-pipe"), took.as_secs_f64(), "s");
    // Both again with page data left out of the checksum.
    let (pid, mut reap) = spawn();
    let (ckpt, _) = checkpoint_with(pid, abi::CKPT_NO_PAGE_CHECKSUM, &what);
    reap();
    let (restored, took) = restart_from_pipe(&what);
    check(restored);
    let _ = std::fs::remove_file(IMAGE);
    report(
        &format!("mem{mib}.checkpoint-nosum"),
        ckpt.as_secs_f64(),
        "s",
    );
    report(
        &format!("mem{mib}.restart-pipe-nosum"),
        took.as_secs_f64(),
        "s",
    );
    // The same by mapping, from a memfd of its own checkpoint (nothing in the image file).
    let (pid, mut reap) = spawn();
    let image = checkpoint_to_memfd(pid, &what);
    reap();
    let (restored, took) = restart_mapped(&image, &what);
    check(restored);
    // The restored process is reaped: nothing maps the memfd any more.
    drop(image);
    report(&format!("mem{mib}.restart-map"), took.as_secs_f64(), "s");
    // The memory the restart from the file uses, from a checkpoint of its own: not on the
    // timed restart, which the sampler would slow down. The restored process, asleep until
    // it is checked, still holds its memory when the call returns.
    let (pid, mut reap) = spawn();
    checkpoint(pid, &what);
    reap();
    let (restored, free) = restart_sampled(&what);
    check(restored);
    let _ = std::fs::remove_file(IMAGE);
    let mb = |bytes: i64| bytes as f64 / 1e6;
    let transient = free.after as i64 - free.least as i64;
    report(&format!("mem{mib}.restart-mem"), mb(transient), "MB");
    if mib > CR_MEM_MAX {
        return;
    }
    // The whole `cr` commands, as a user runs them, from a checkpoint of their own.
    let (pid, mut reap) = spawn();
    let ckpt = cr_checkpoint(pid, &what);
    reap();
    let (restored, rst) = cr_restart(&what);
    check(restored);
    let _ = std::fs::remove_file(IMAGE);
    report(&format!("mem{mib}.cr-checkpoint"), ckpt.as_secs_f64(), "s");
    report(&format!("mem{mib}.cr-restart"), rst.as_secs_f64(), "s");
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
        // The last errors: the first are often checks CRIU goes on after.
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("Error")).collect();
        let why = &errors[errors.len().saturating_sub(4)..];
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

/// In a child we forked: its stdio on /dev/null, every other file it got from us closed. A
/// file it shared with us would be shared outside the tree it is checkpointed in.
fn forget_our_files() {
    // SAFETY: fds of our own; nothing here uses what close_range closes.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::syscall(libc::SYS_close_range, 3, u32::MAX, 0);
    }
}

/// Forks a root with `n - 1` children, all asleep with their stdio on /dev/null.
fn spawn_tree(n: u64) -> libc::pid_t {
    // SAFETY: the child only makes system calls and ends in `_exit` or sleeps until killed.
    match unsafe { libc::fork() } {
        -1 => fail("fork"),
        0 => unsafe {
            forget_our_files();
            let _ = own_session();
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
    let spawn = || {
        let root = spawn_tree(n);
        wait_for(&what, || children_of(root).len() as u64 + 1 == n);
        let kids = children_of(root);
        (root, move || reap_tree(root, &kids))
    };
    measure(&format!("tree{n}"), &what, criu, spawn, |restored| {
        check_tree(restored, n, &what)
    });
}

/// The holder's side of [`spawn_holder`], in the forked child: never returns.
fn holder<C: FnOnce() -> Check>(setup: impl FnOnce() -> Result<C, String>) -> ! {
    let say = |why: &str| {
        let _ = std::fs::write(HOLDER_ERR, why);
    };
    let wake = sigset_of(&[libc::SIGUSR1]);
    forget_our_files();
    // SAFETY: blocks a signal for our own process.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &wake, std::ptr::null_mut()) };
    let code = match setup() {
        Err(why) => {
            say(&format!("setup: {why}"));
            2
        }
        // Closed at once: not a file the holder holds.
        Ok(check) => match File::create(READY).map(drop) {
            Err(e) => {
                say(&format!("create {READY}: {e}"));
                2
            }
            Ok(()) => {
                let mut sig = 0;
                // SAFETY: `wake` is a valid set, blocked; `sig` an int to write.
                unsafe { libc::sigwait(&wake, &mut sig) };
                match check() {
                    Ok(()) => 0,
                    Err(why) => {
                        say(&why);
                        1
                    }
                }
            }
        },
    };
    // SAFETY: ends this process, which holds nothing to flush.
    unsafe { libc::_exit(code) }
}

/// Forks a holder (`what`), leading its own session if `session`: with its stdio on
/// /dev/null and no other file of ours, SIGUSR1 blocked, it runs `setup`, which makes what it
/// holds and returns the check, says so in [`READY`] and sleeps; woken by SIGUSR1 it runs the
/// check and exits 0 if it holds, 1 if not (saying why in [`HOLDER_ERR`]). Returns once the
/// holder is ready.
fn spawn_holder<C: FnOnce() -> Check>(
    what: &str,
    session: bool,
    setup: impl FnOnce() -> Result<C, String>,
) -> libc::pid_t {
    let _ = std::fs::remove_file(READY);
    let _ = std::fs::remove_file(HOLDER_ERR);
    // SAFETY: we have one thread; the child runs `holder`, which ends in `_exit`.
    let pid = match unsafe { libc::fork() } {
        -1 => fail("fork"),
        0 => {
            if session {
                let _ = own_session();
            }
            holder(setup)
        }
        pid => pid,
    };
    wait_for(what, || {
        let mut status = 0;
        // SAFETY: `status` is an int to write; `pid` is our child.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            fail(format!(
                "{what} ended before it was ready, status {status:#x}{}",
                holder_error()
            ));
        }
        Path::new(READY).exists()
    });
    pid
}

/// Measures the holder that `setup` makes (see [`spawn_holder`]).
fn measure_holder<C: FnOnce() -> Check>(
    name: &str,
    what: &str,
    criu: Option<&str>,
    setup: impl Fn() -> Result<C, String>,
) {
    let spawn = || {
        let pid = spawn_holder(what, true, &setup);
        (pid, move || drop(sys::waitpid(pid)))
    };
    measure(name, what, criu, spawn, |restored| {
        wake_and_check(restored, what)
    });
}

/// The byte at offset `i` of what the socket holder queues.
fn sock_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// In the socket holder: a unix stream socket pair with `len` bytes queued (its send buffer
/// raised with SO_SNDBUFFORCE); returns the check, which reads them back.
fn sock_setup(len: usize) -> Result<impl FnOnce() -> Check, String> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into `fds`.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    check_os(r, "socketpair")?;
    // Room for the bytes and what each buffer costs besides them.
    let room = (len * 2) as libc::c_int;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_SNDBUFFORCE reads one int, `room`.
    let r = unsafe {
        let opt = (&raw const room).cast();
        libc::setsockopt(fds[1], libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, opt, size)
    };
    check_os(r, "SO_SNDBUFFORCE")?;
    let bytes: Vec<u8> = (0..len).map(sock_byte).collect();
    let mut at = 0;
    while at < len {
        // SAFETY: writes from `bytes`, within its length.
        let n =
            unsafe { libc::write(fds[1], bytes[at..].as_ptr().cast(), (len - at).min(1 << 16)) };
        check_os(n as i64, format_args!("write after {at} of {len} bytes"))?;
        at += n as usize;
    }
    Ok(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut at = 0;
        while at < len {
            // SAFETY: reads into `buf`, within its length.
            let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len().min(len - at)) };
            check_os(n as i64, format_args!("read after {at} of {len} bytes"))?;
            if n == 0 {
                return Err(format!("end of file after {at} of {len} bytes"));
            }
            let got = &buf[..n as usize];
            if let Some(k) = (0..got.len()).find(|&k| got[k] != sock_byte(at + k)) {
                return Err(format!("byte {} of {len} is wrong", at + k));
            }
            at += n as usize;
        }
        Ok(())
    })
}

fn sock(mib: u64, criu: Option<&str>) {
    let what = format!("a socket pair holding {mib} MiB");
    let len = (mib << 20) as usize;
    measure_holder(&format!("sock{mib}"), &what, criu, || sock_setup(len));
}

/// A kind of file the files benchmark measures (see the module doc).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    Pipe,
    Eventfd,
    Timerfd,
    Signalfd,
    Epoll,
    Memfd,
    Socketpair,
    Pty,
}

impl Kind {
    /// Every kind but the baseline.
    const MEASURED: [Kind; 8] = [
        Kind::Pipe,
        Kind::Eventfd,
        Kind::Timerfd,
        Kind::Signalfd,
        Kind::Epoll,
        Kind::Memfd,
        Kind::Socketpair,
        Kind::Pty,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Pipe => "pipe",
            Kind::Eventfd => "eventfd",
            Kind::Timerfd => "timerfd",
            Kind::Signalfd => "signalfd",
            Kind::Epoll => "epoll",
            Kind::Memfd => "memfd",
            Kind::Socketpair => "socketpair",
            Kind::Pty => "pty",
        }
    }

    /// The fds one object takes.
    fn fds(self) -> u64 {
        match self {
            Kind::Pipe | Kind::Socketpair | Kind::Pty => 2,
            _ => 1,
        }
    }
}

/// The bytes of a pipe or memfd.
const FILE_BYTES: usize = 4096;
/// The bytes queued each way on a socket pair.
const SOCK_BYTES: usize = 512;
/// The line written to a pty's master, its newline included.
const PTY_LINE: usize = 64;
/// What a timerfd is armed for.
const TIMER_SECS: libc::time_t = 3600;

/// `len` bytes for object `i`, side `side`: `i` in the first four, then a pattern of both, so
/// that no two objects (or sides) hold the same bytes.
fn object_bytes(i: usize, side: usize, len: usize) -> Vec<u8> {
    let id = (i as u32).to_le_bytes();
    (0..len)
        .map(|j| match id.get(j) {
            Some(&b) => b,
            None => ((i * 7 + j * 13 + side * 101) % 251) as u8,
        })
        .collect()
}

/// The line written to pty `i`'s master: its index in 8 digits, letters, a newline; nothing
/// the slave's line discipline would take as a control character.
fn pty_line(i: usize) -> Vec<u8> {
    let mut line = format!("{i:08}").into_bytes();
    line.extend((line.len()..PTY_LINE - 1).map(|j| b'a' + ((i + j) % 26) as u8));
    line.push(b'\n');
    line
}

/// The echo of [`pty_line`] the master reads: the newline as "\r\n" (OPOST, ONLCR).
fn pty_echo(i: usize) -> Vec<u8> {
    let mut echo = pty_line(i);
    echo.pop();
    echo.extend_from_slice(b"\r\n");
    echo
}

/// `Err` unless `got` is `want`: the lengths, or the first byte that differs.
fn same(what: &str, got: &[u8], want: &[u8]) -> Check {
    check_eq(
        format_args!("the bytes {what} gives"),
        got.len(),
        want.len(),
    )?;
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(k) => Err(format!(
            "byte {k} of what {what} gives is {:#x}, expected {:#x}",
            got[k], want[k]
        )),
        None => Ok(()),
    }
}

/// What the non-blocking `fd` gives now, up to `len` bytes: read until it gives `len`, the
/// end or EAGAIN.
fn read_now(fd: RawFd, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let mut at = 0;
    while at < len {
        // SAFETY: reads into `buf`, within its length.
        let n = unsafe { libc::read(fd, buf[at..].as_mut_ptr().cast(), len - at) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
            break;
        }
        check_os(n as i64, format_args!("read of fd {fd} after {at} bytes"))?;
        if n == 0 {
            break;
        }
        at += n as usize;
    }
    buf.truncate(at);
    Ok(buf)
}

/// `Err` unless the non-blocking `fd` holds exactly `want`, which it gives.
fn check_holds(what: &str, fd: RawFd, want: &[u8]) -> Check {
    same(what, &read_now(fd, want.len() + 1)?, want)
}

/// A new fd, or `Err` naming `what` with the errno.
fn new_fd(fd: RawFd, what: &str) -> Result<RawFd, String> {
    check_os(fd, what)?;
    Ok(fd)
}

/// Makes sure the soft RLIMIT_NOFILE (and the hard one, which root may raise) lets us have
/// `fds` open files.
fn raise_nofile(fds: u64) -> Check {
    // SAFETY: an all-zero rlimit is valid for getrlimit to fill.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit and setrlimit read or write `lim`.
    unsafe {
        check_os(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), "getrlimit")?;
        if lim.rlim_cur < fds {
            lim.rlim_cur = fds;
            lim.rlim_max = lim.rlim_max.max(fds);
            let r = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            check_os(r, format_args!("setrlimit RLIMIT_NOFILE to {fds}"))?;
        }
    }
    Ok(())
}

/// In a holder: makes object `i` of `kind` (see the module doc), with `shared` (the eventfd
/// the epolls watch); returns its fds (the second -1 if it has one).
fn make_object(kind: Kind, i: usize, shared: RawFd) -> Result<(RawFd, RawFd), String> {
    let mut two = [-1; 2];
    // SAFETY: system calls that make fds (writing two into `two` at most) and write to them.
    unsafe {
        match kind {
            Kind::None => Err("no object of kind none".into()),
            Kind::Pipe => {
                check_os(libc::pipe2(two.as_mut_ptr(), libc::O_NONBLOCK), "pipe2")?;
                write_all(two[1], &object_bytes(i, 0, FILE_BYTES))?;
                Ok((two[0], two[1]))
            }
            Kind::Eventfd => {
                let fd = new_fd(libc::eventfd(0, libc::EFD_NONBLOCK), "eventfd")?;
                write_all(fd, &(i as u64 + 1).to_ne_bytes())?;
                Ok((fd, -1))
            }
            Kind::Timerfd => {
                let fd = libc::timerfd_create(libc::CLOCK_MONOTONIC, 0);
                let fd = new_fd(fd, "timerfd_create")?;
                let mut spec: libc::itimerspec = std::mem::zeroed();
                spec.it_value.tv_sec = TIMER_SECS;
                let r = libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut());
                check_os(r, "timerfd_settime")?;
                Ok((fd, -1))
            }
            Kind::Signalfd => {
                let set = sigset_of(&[libc::SIGUSR2]);
                Ok((new_fd(libc::signalfd(-1, &set, 0), "signalfd")?, -1))
            }
            Kind::Epoll => {
                let fd = new_fd(libc::epoll_create1(0), "epoll_create1")?;
                epoll_add(fd, shared, libc::EPOLLIN as u32, i as u64)?;
                Ok((fd, -1))
            }
            Kind::Memfd => {
                let fd = new_fd(libc::memfd_create(c"cr-bench".as_ptr(), 0), "memfd_create")?;
                write_all(fd, &object_bytes(i, 0, FILE_BYTES))?;
                Ok((fd, -1))
            }
            Kind::Socketpair => {
                let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK;
                let r = libc::socketpair(libc::AF_UNIX, ty, 0, two.as_mut_ptr());
                check_os(r, "socketpair")?;
                write_all(two[0], &object_bytes(i, 0, SOCK_BYTES))?;
                write_all(two[1], &object_bytes(i, 1, SOCK_BYTES))?;
                Ok((two[0], two[1]))
            }
            Kind::Pty => {
                let flags = libc::O_RDWR | libc::O_NOCTTY;
                let master = new_fd(libc::open(c"/dev/ptmx".as_ptr(), flags), "open /dev/ptmx")?;
                pty::unlock(master)?;
                let path = pty::slave_path(pty::index(master)?);
                let c = cr_tests::cstring(&path)?;
                let slave = new_fd(libc::open(c.as_ptr(), flags), &format!("open {path}"))?;
                write_all(master, &pty_line(i))?;
                Ok((master, slave))
            }
        }
    }
}

/// In a restored holder: `Err` unless object `i` of `kind`, with fds `a` and `b`, is as it
/// was made (see the module doc).
fn check_object(kind: Kind, i: usize, (a, b): (RawFd, RawFd), shared: RawFd) -> Check {
    match kind {
        Kind::None => Ok(()),
        Kind::Pipe => check_holds("the pipe", a, &object_bytes(i, 0, FILE_BYTES)),
        Kind::Eventfd => check_eq(
            "the eventfd's count",
            read_u64(a).map_err(describe_errno)?,
            i as u64 + 1,
        ),
        Kind::Timerfd => {
            // SAFETY: an all-zero itimerspec is valid for timerfd_gettime to fill.
            let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
            // SAFETY: fills `spec`.
            check_os(
                unsafe { libc::timerfd_gettime(a, &mut spec) },
                "timerfd_gettime",
            )?;
            let (left, every) = (spec.it_value, spec.it_interval);
            let armed = (left.tv_sec, left.tv_nsec) != (0, 0) && left.tv_sec < TIMER_SECS;
            match armed && (every.tv_sec, every.tv_nsec) == (0, 0) {
                true => Ok(()),
                false => Err(format!(
                    "timerfd_gettime(): due in {}.{:09} s every {}.{:09} s, expected within {TIMER_SECS} s, once",
                    left.tv_sec, left.tv_nsec, every.tv_sec, every.tv_nsec
                )),
            }
        }
        Kind::Signalfd => check_eq(
            "poll() of the signalfd for SIGUSR2, pending",
            cr_tests::poll_in(a, 0)?,
            1,
        ),
        Kind::Epoll => {
            let mut ev = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: room for one event, in `ev`.
            let n = unsafe { libc::epoll_wait(a, &mut ev, 1, 0) };
            check_os(n, "epoll_wait")?;
            let (events, data) = (ev.events, ev.u64);
            check_eq(
                format_args!(
                    "epoll_wait() of the epoll watching fd {shared}: (events, (EPOLLIN, data))"
                ),
                (n, (events & libc::EPOLLIN as u32, data)),
                (1, (libc::EPOLLIN as u32, i as u64)),
            )
        }
        Kind::Memfd => same(
            "pread() of the memfd",
            &pread_exact(a, FILE_BYTES, 0)?,
            &object_bytes(i, 0, FILE_BYTES),
        ),
        Kind::Socketpair => {
            check_holds(
                "the socket pair's first socket",
                a,
                &object_bytes(i, 1, SOCK_BYTES),
            )?;
            check_holds(
                "the socket pair's second socket",
                b,
                &object_bytes(i, 0, SOCK_BYTES),
            )
        }
        Kind::Pty => {
            pty::wait_readable(b, "the slave")?;
            same(
                "the slave",
                &pty::read_once(b, 256, "the slave")?,
                &pty_line(i),
            )?;
            let echo = pty_echo(i);
            same(
                "the master",
                &pty::read_len(a, echo.len(), "the master")?,
                &echo,
            )
        }
    }
}

/// In a holder: `n` objects of `kind` (none for [`Kind::None`]); returns the check.
fn files_setup(kind: Kind, n: usize) -> Result<impl FnOnce() -> Check, String> {
    raise_nofile(kind.fds() * n as u64 + 16)?;
    // Every holder, the baseline too, has this much of its heap in use.
    let mut objects = Vec::with_capacity(n);
    let shared = match kind {
        Kind::Epoll => {
            // SAFETY: makes an fd and writes 8 bytes to it.
            let fd = new_fd(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK) }, "eventfd")?;
            write_all(fd, &1u64.to_ne_bytes())?;
            fd
        }
        Kind::Signalfd => {
            let set = sigset_of(&[libc::SIGUSR2]);
            // SAFETY: blocks SIGUSR2 and makes it pending, for our own process.
            unsafe {
                check_os(
                    libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
                    "sigprocmask",
                )?;
                check_os(libc::kill(libc::getpid(), libc::SIGUSR2), "kill")?;
            }
            -1
        }
        _ => -1,
    };
    let count = if kind == Kind::None { 0 } else { n };
    for i in 0..count {
        let fds = make_object(kind, i, shared).map_err(|e| format!("object {i}: {e}"))?;
        objects.push(fds);
    }
    if kind == Kind::Pty {
        // Until the line discipline took each line and echoed it: nothing left in flight.
        for (i, &(master, slave)) in objects.iter().enumerate() {
            pty::wait_inq(slave, PTY_LINE, &format!("the slave of pty {i}"))?;
            pty::wait_inq(master, PTY_LINE + 1, &format!("the master of pty {i}"))?;
        }
    }
    Ok(move || {
        for (i, &fds) in objects.iter().enumerate() {
            check_object(kind, i, fds, shared)
                .map_err(|e| format!("{} {i} of {n}: {e}", kind.name()))?;
        }
        Ok(())
    })
}

/// The entries of /dev/pts but ptmx: the ptys that are not released.
fn ptys() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/dev/pts")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .filter(|n| n != "ptmx")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The median of `values`, of which there is an odd number.
fn median<T: Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values.swap_remove(values.len() / 2)
}

/// [`FILES_RUNS`] cycles of a holder of `n` objects of `kind`; reports the median of each
/// figure as `files-<kind>-<n>` and returns them.
fn files_kind(kind: Kind, n: u64) -> Cycle {
    let what = format!("holder of {n} objects of kind {}", kind.name());
    let runs: Vec<Cycle> = (0..FILES_RUNS)
        .map(|_| {
            let before = ptys();
            let pid = spawn_holder(&what, false, || files_setup(kind, n as usize));
            let reap = || {
                let _ = sys::waitpid(pid);
                // Restart makes each pty again with its index, which must be free.
                let released = || ptys().iter().all(|p| before.contains(p));
                wait_for("the killed holder's ptys to be released", released);
            };
            cycle(pid, &what, reap, |restored| wake_and_check(restored, &what))
        })
        .collect();
    let figures = (
        median(runs.iter().map(|r| r.0).collect()),
        median(runs.iter().map(|r| r.1).collect()),
        median(runs.iter().map(|r| r.2).collect()),
    );
    report_cycle(&format!("files-{}-{n}", kind.name()), figures);
    figures
}

/// The files benchmark for `n` objects of each kind (see the module doc).
fn files(n: u64) {
    if n == 0 {
        fail("--files: 0 objects: nothing to divide by");
    }
    let (ckpt0, rst0, size0) = files_kind(Kind::None, n);
    for kind in Kind::MEASURED {
        let (ckpt, rst, size) = files_kind(kind, n);
        let name = format!("files-{}-{n}", kind.name());
        let per = |k: f64, base: f64| (k - base) / n as f64;
        let us = |k: Duration, base: Duration| per(k.as_secs_f64(), base.as_secs_f64()) * 1e6;
        report(
            &format!("{name}.per-object-checkpoint"),
            us(ckpt, ckpt0),
            "us",
        );
        report(&format!("{name}.per-object-restart"), us(rst, rst0), "us");
        report(
            &format!("{name}.per-object-image"),
            per(size as f64, size0 as f64),
            "B",
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut mem, mut trees, mut socks, mut files_n, mut criu) = (None, None, None, None, None);
    let mut runs = 1;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => runs = n,
                _ => fail("--runs takes a count of at least 1"),
            },
            "--mem" => mem = args.next(),
            "--tree" => trees = args.next(),
            "--sock" => socks = args.next(),
            "--files" => files_n = args.next(),
            "--criu" => criu = args.next(),
            _ => fail(format!(
                "usage: cr-bench [--runs N] [--mem MIB,...] [--tree N,...] [--sock MIB,...] [--files N,...] [--criu PATH] (not {a})"
            )),
        }
    }
    // Orphans of restored trees, and CRIU's detached restores, come to us.
    // SAFETY: a flag of our own process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let (mem, trees) = (list(mem, &[64, 1024]), list(trees, &[10, 100, 1000]));
    let (socks, files_n) = (list(socks, &[16]), list(files_n, &[256]));
    for _ in 0..runs {
        memcpy_bandwidth();
        checksum_bandwidth();
        for &mib in &mem {
            memory(mib, criu.as_deref());
        }
        for &n in &trees {
            tree(n, criu.as_deref());
        }
        for &mib in &socks {
            sock(mib, criu.as_deref());
        }
        for &n in &files_n {
            files(n);
        }
    }
    let _ = std::fs::remove_file(IMAGE);
    let _ = std::fs::remove_file(READY);
    let _ = std::fs::remove_file(HOLDER_ERR);
    println!("cr-bench: done");
}
