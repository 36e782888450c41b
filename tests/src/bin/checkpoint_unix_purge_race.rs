//! checkpoint(2) of a target whose datagram socket a process outside the tree disconnects
//! (connect() to AF_UNSPEC) while checkpoint copies the socket's receive queue.
//!
//! `checkpoint_unix_queue()` (`net/unix/af_unix.c`) copies a socket's messages holding its
//! iolock, which the socket's readers take. A datagram socket's disconnect does not take it:
//! `unix_dgram_connect()` → `unix_dgram_disconnected()` → `skb_queue_purge()` splices the whole
//! queue away under the queue's lock alone and frees its buffers. A copy that let go of the
//! queue's lock between buffers and then followed `->next` walked into that freed list (a
//! use-after-free KASAN reports); the copy must hold a reference on every buffer it reads and
//! find, under the queue's lock, the same buffers queued after, or end with EAGAIN and the log
//! line "a unix socket: cannot read its messages".
//!
//! Each round spawns a target that makes a datagram pair (fds 41 and 40), raises the send
//! buffer of 40 with SO_SNDBUFFORCE (SO_SNDBUF, which wmem_max caps, if that is refused), and
//! queues on 41 datagrams of 16 KiB sent from 40 until 40 has no room or 8 MiB are queued; it
//! says ready and sleeps. The sender comes first in the image: once 41 is written nothing of
//! the pair is looked at again, so that a purge after its copy lets the checkpoint save (the
//! sender, written after a disconnect, would be refused as "connected to a socket that is not
//! its pair"). The main thread checkpoints the target without CKPT_KILL into its image file
//! while a thread of the test, the racer, follows that file's records as they are written
//! (their headers, with `pread()`). Checkpoint writes the `File` record of fd 41 (the socket's
//! inode number in it), then counts its queue, writes its `UnixSock` record (the pair's `UnixPair` came with 40),
//! copies the queue and only then writes its messages (`UnixMsg` records): the copy runs
//! between that `File` record and the first `UnixMsg` record, and the image does not grow
//! meanwhile. A set delay after the `File` record appears, the racer takes fd 41 with
//! pidfd_getfd(), disconnects it with connect(AF_UNSPEC) (purging its queue) and closes its
//! copy. The delay homes in on the copy: the rounds bisect it between the longest that came
//! before the copy took its references (the socket found disconnected, or an EAGAIN whose
//! purge freed the buffers itself, see below) and the shortest that let the checkpoint save
//! (the purge came after the copy), with some jitter, from 0 and twice the time from the
//! `File` record to the first `UnixMsg` one that a checkpoint alone took (measured first on a
//! target checkpointed twice without a racer, which must be saved).
//!
//! Each checkpoint must be saved (its image holding at least the queued bytes), or refused with
//! EOPNOTSUPP and a log line (41 found "disconnected from the pair it was made with", 40
//! "connected to a socket that is not its pair", or the racer's copy of 41 found by leak
//! detection: the purge came before the count), or end with EAGAIN and the log line "a unix
//! socket: cannot read its messages" (the purge landed between the count and the end of the
//! copy), or with EINTR. Anything else fails, as does a target that did not run on. Every
//! target then checks that its fd 41 is disconnected (getpeername() ENOTCONN) and empty, and
//! that 40 reports the lost messages once (SO_ERROR ECONNRESET). The test prints how the rounds
//! ended, and how many of the EAGAINs came with a purge that took less than half the time a
//! purge alone takes: one that found the buffers held by the copy, so that it freed none of
//! them, landed in the copy itself (between its references and its check), not between the
//! count and the copy's start. How many EAGAINs it saw is down to timing, so it proves nothing
//! about how often the race was hit, only that every interleaving it ran ended cleanly. The guest kernel has KASAN,
//! lockdep and panic_on_warn, and the harness reads its console.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use abi::stream::{RECORD_ALIGN, RECORD_HEADER_LEN};
use abi::RecordType;
use cr_tests::craft::Rec;
use cr_tests::outside::take_fd;
use cr_tests::target::dry_run;
use cr_tests::unix::{
    getsockopt_int, peername, recv, send, setsockopt_int, socketpair_at, try_setsockopt_int,
};
use cr_tests::{
    check_eq, check_os, describe_errno, log_names, pass, wait_restored, Check, Prng, Target,
    NO_KILL,
};

/// The datagram pair: the socket whose queue is purged, and its peer, which filled it and
/// comes first in the image.
const D_RECV: RawFd = 41;
const D_SEND: RawFd = 40;

/// Bytes in each datagram, most bytes queued, fewest datagrams queued.
const DGRAM: usize = 16 << 10;
const FILL_MAX: usize = 8 << 20;
const MIN_DGRAMS: u64 = 8;

/// Rounds at most and at least, and the time they may take in all, as the calibration
/// estimates it; past [`DEADLINE`] since the start no further round begins.
const MAX_ROUNDS: u32 = 12;
const MIN_ROUNDS: u32 = 4;
const ROUNDS_BUDGET: Duration = Duration::from_secs(40);
const DEADLINE: Duration = Duration::from_secs(50);

/// The narrowest bisection interval, in µs; a narrower one is widened again around its middle
/// (timing on TCG is noisy).
const MIN_SPAN_US: u64 = 1_000;

/// The log line of a copy that found the queue changed.
const COPY_FAILED: &str = "a unix socket: cannot read its messages";
/// Why checkpoint refuses a socket whose disconnect came first.
const DISCONNECTED: &str = "disconnected from the pair it was made with";

/// What the target queued, and how it raised 40's send buffer (0: SO_SNDBUFFORCE, else the
/// errno that refused it), read by the test from its memory (the same address after fork).
static FILLED_DGRAMS: AtomicU64 = AtomicU64::new(0);
static FILLED_BYTES: AtomicU64 = AtomicU64::new(0);
static FORCE_ERRNO: AtomicU64 = AtomicU64::new(0);

/// In the target: the pair, 40's send buffer and 41's queue.
fn setup() -> Result<impl FnOnce() -> Check, String> {
    socketpair_at(libc::SOCK_DGRAM, D_RECV, D_SEND)?;
    let want = FILL_MAX as libc::c_int;
    if let Err(errno) = try_setsockopt_int(D_SEND, libc::SO_SNDBUFFORCE, want) {
        // Without CAP_NET_ADMIN: SO_SNDBUF, which wmem_max caps.
        if errno != libc::EPERM {
            return Err(format!(
                "setsockopt(fd {D_SEND}, SO_SNDBUFFORCE, {want}): {}",
                describe_errno(errno)
            ));
        }
        FORCE_ERRNO.store(errno as u64, Ordering::SeqCst);
        setsockopt_int(D_SEND, libc::SO_SNDBUF, want)?;
    }
    let d: Vec<u8> = (0..DGRAM).map(|i| (i % 251) as u8).collect();
    let (mut dgrams, mut bytes) = (0u64, 0usize);
    while bytes + DGRAM <= FILL_MAX {
        match send(D_SEND, &d, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) {
            Ok(n) if n == DGRAM => {
                dgrams += 1;
                bytes += n;
            }
            Ok(n) => return Err(format!("datagram {dgrams}: {n} of {DGRAM} bytes sent")),
            Err(libc::EAGAIN) => break,
            Err(e) => return Err(format!("send of datagram {dgrams}: {}", describe_errno(e))),
        }
    }
    if dgrams < MIN_DGRAMS {
        return Err(format!("only {dgrams} datagrams queued before EAGAIN"));
    }
    FILLED_DGRAMS.store(dgrams, Ordering::SeqCst);
    FILLED_BYTES.store(bytes as u64, Ordering::SeqCst);
    Ok(|| {
        wait_restored();
        verify()
    })
}

/// In the target, once woken: 41 disconnected and purged, 40 told so once.
fn verify() -> Check {
    check_eq(
        format_args!("getpeername() of fd {D_RECV}, disconnected"),
        peername(D_RECV),
        Err(libc::ENOTCONN),
    )?;
    check_eq(
        format_args!("a recv of fd {D_RECV}, whose queue the disconnect purged"),
        recv(D_RECV, DGRAM, libc::MSG_DONTWAIT).map(|d| d.len()),
        Err(libc::EAGAIN),
    )?;
    check_eq(
        format_args!("SO_ERROR of fd {D_SEND}, whose messages to fd {D_RECV} were purged"),
        getsockopt_int(D_SEND, libc::SO_ERROR)?,
        libc::ECONNRESET,
    )?;
    check_eq(
        format_args!("SO_ERROR of fd {D_SEND} read again"),
        getsockopt_int(D_SEND, libc::SO_ERROR)?,
        0,
    )
}

/// connect(2) of the socket `fd` to AF_UNSPEC: disconnects a datagram socket.
fn disconnect(fd: RawFd) -> Check {
    // SAFETY: an all-zero sockaddr is valid.
    let mut addr: libc::sockaddr = unsafe { std::mem::zeroed() };
    addr.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    let len = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    // SAFETY: passes one sockaddr of that length.
    let r = unsafe { libc::connect(fd, &raw const addr, len) };
    check_os(
        r,
        format_args!("connect(fd {fd} of the target's, AF_UNSPEC)"),
    )
}

/// Takes the target's fd 41 and disconnects it, closing the test's copy after.
fn purge(pid: libc::pid_t) -> Check {
    let fd = take_fd(pid, D_RECV)?;
    // SAFETY: the fd pidfd_getfd just made, ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    disconnect(fd.as_raw_fd())
}

/// Waits until `at` after `start`: sleeps most of it, spins the last 2 ms.
fn wait_until(start: Instant, at: Duration) {
    let spin = Duration::from_millis(2);
    if let Some(sleep) = at.checked_sub(start.elapsed() + spin) {
        std::thread::sleep(sleep);
    }
    while start.elapsed() < at {
        std::hint::spin_loop();
    }
}

/// Records of the image that the racer watches for.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Seen {
    /// The `File` record of the socket followed, whole: checkpoint counts its queue next.
    File,
    /// A `UnixMsg` record's header: the copy is over.
    Msg,
}

impl Seen {
    fn record(self) -> &'static str {
        match self {
            Seen::File => "File",
            Seen::Msg => "UnixMsg",
        }
    }
}

/// What a `pread()` of `len` bytes at `at` of `file` gives, if all of them are there.
fn read_at(file: &File, len: usize, at: u64) -> Result<Option<Vec<u8>>, String> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("pread of the image at {at}: {e}")),
        }
    }
    Ok(Some(buf))
}

/// Follows the image at `path` as checkpoint writes it, from its creation, and tells `seen`
/// when each record it watches for appears (the `File` record of the socket of inode `ino`,
/// then `UnixMsg` records), with the time since `start`, until `seen` returns true, the image
/// ends, or the checkpoint returned (`done`) and the image has no more.
fn follow(
    path: &str,
    ino: u64,
    start: Instant,
    done: &AtomicBool,
    mut seen: impl FnMut(Seen, Duration) -> bool,
) -> Check {
    let file = loop {
        match File::open(path) {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if done.load(Ordering::Acquire) {
                    return Ok(());
                }
                std::hint::spin_loop();
            }
            Err(e) => return Err(format!("open {path}: {e}")),
        }
    };
    let hdr = RECORD_HEADER_LEN as usize;
    let (mut at, mut found) = (0u64, false);
    loop {
        // Read after `done`: then the image has all it will have.
        let last = done.load(Ordering::Acquire);
        let Some(head) = read_at(&file, hdr, at)? else {
            match last {
                true => return Ok(()),
                false => continue,
            }
        };
        let ty = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len < hdr {
            return Err(format!(
                "the image has a record of type {ty} and length {len} at {at}"
            ));
        }
        let now = start.elapsed();
        let event = if ty == RecordType::File.id() && !found {
            let Some(payload) = read_at(&file, len - hdr, at + hdr as u64)? else {
                match last {
                    true => return Ok(()),
                    false => continue,
                }
            };
            let rec = Rec { ty, payload };
            found =
                rec.get("kind") == i64::from(abi::FILE_KIND_UNIX) && rec.get("ino") as u64 == ino;
            found.then_some(Seen::File)
        } else if ty == RecordType::UnixMsg.id() {
            Some(Seen::Msg)
        } else if ty == RecordType::Tail.id() {
            return Ok(());
        } else {
            None
        };
        if let Some(event) = event {
            if seen(event, now) {
                return Ok(());
            }
        }
        at = (at + len as u64).next_multiple_of(RECORD_ALIGN);
    }
}

/// When the racer acted, since the checkpoint's start.
struct Purge {
    /// When the `File` record of fd 41 appeared, if it did before the checkpoint returned.
    anchor: Option<Duration>,
    /// When the purge began (pidfd_getfd()) and ended.
    fired: Duration,
    ended: Duration,
}

/// The racer's thread: `delay` after the `File` record of the socket `ino` (fd 41) appears
/// in the image at `path` (or once the checkpoint returned without it), purges 41.
fn racer(
    pid: libc::pid_t,
    (path, ino): (&str, u64),
    (go, done): (&Barrier, &AtomicBool),
    delay: Duration,
) -> Result<Purge, String> {
    go.wait();
    let start = Instant::now();
    let mut anchor = None;
    follow(path, ino, start, done, |event, at| {
        if event == Seen::File {
            anchor = Some(at);
        }
        anchor.is_some()
    })?;
    wait_until(start, anchor.unwrap_or_else(|| start.elapsed()) + delay);
    let fired = start.elapsed();
    purge(pid)?;
    Ok(Purge {
        anchor,
        fired,
        ended: start.elapsed(),
    })
}

/// How a checkpoint of the race ended.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Outcome {
    /// Saved: the purge came after the copy.
    Saved,
    /// EOPNOTSUPP, the socket found disconnected: the purge came before the count.
    Disconnected,
    /// EOPNOTSUPP for another reason: the purge came before the count too (fd 40 found
    /// "connected to a socket that is not its pair", or leak detection found the racer's copy
    /// of the file).
    Refused,
    /// EAGAIN, "cannot read its messages": the purge came between the count and the copy's
    /// end.
    Copy,
    /// EINTR.
    Interrupted,
}

const OUTCOMES: [(Outcome, &str); 5] = [
    (Outcome::Saved, "saved"),
    (Outcome::Disconnected, "EOPNOTSUPP (disconnected)"),
    (Outcome::Refused, "EOPNOTSUPP (other)"),
    (Outcome::Copy, "EAGAIN (cannot read its messages)"),
    (Outcome::Interrupted, "EINTR"),
];

fn name(o: Outcome) -> &'static str {
    OUTCOMES
        .iter()
        .find(|(k, _)| *k == o)
        .map_or("?", |(_, n)| n)
}

/// What a checkpoint's `result` with its kernel log `lines` counts as; `Err` for an errno the
/// race may not give, or one without the log line it must have.
fn outcome(result: &io::Result<()>, lines: &[String]) -> Result<Outcome, String> {
    let Err(e) = result else {
        return Ok(Outcome::Saved);
    };
    let said = lines.iter().any(|l| {
        l.split_once("] ")
            .is_some_and(|(_, text)| !text.trim().is_empty())
    });
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) if log_names(lines, DISCONNECTED) => Ok(Outcome::Disconnected),
        Some(libc::EOPNOTSUPP) if said => Ok(Outcome::Refused),
        Some(libc::EOPNOTSUPP) => Err("EOPNOTSUPP without a log line".into()),
        Some(libc::EAGAIN) if log_names(lines, COPY_FAILED) => Ok(Outcome::Copy),
        Some(libc::EAGAIN) => Err(format!("EAGAIN without the log line \"{COPY_FAILED}\"")),
        Some(libc::EINTR) => Ok(Outcome::Interrupted),
        Some(errno) => Err(format!(
            "{}; expected success, EOPNOTSUPP, EAGAIN or EINTR",
            describe_errno(errno)
        )),
        None => Err(e.to_string()),
    }
}

/// Checks that a saved checkpoint's image holds at least the bytes queued on 41.
fn check_saved_image(target: &Target, queued: u64, what: &str) {
    if dry_run() {
        return;
    }
    let len = std::fs::metadata(target.image_path())
        .unwrap_or_else(|e| target.fail(format!("stat {}: {e}", target.image_path())))
        .len();
    if len < queued {
        target.fail(format!(
            "{what}: saved, but its image has {len} bytes, fewer than the {queued} queued on fd {D_RECV}"
        ));
    }
}

/// A filled target, what it queued, and the inode number of its socket 41.
fn spawn() -> (Target, u64, u64) {
    let target = Target::spawn(setup);
    let bytes = target.peek_u64(FILLED_BYTES.as_ptr() as usize);
    let path = format!("/proc/{}/fd/{D_RECV}", target.pid());
    let ino = std::fs::metadata(&path)
        .unwrap_or_else(|e| target.fail(format!("stat {path}: {e}")))
        .ino();
    (target, bytes, ino)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What the calibration measured: a spawn's time, a checkpoint's, the time from the `File`
/// record of fd 41 to the first `UnixMsg` record, and a purge's with nobody else holding the
/// buffers.
struct Calibration {
    spawn: Duration,
    checkpoint: Duration,
    window: Duration,
    purge: Duration,
}

/// Spawns a target and checkpoints it twice with no racer (each must be saved), the second
/// time following its image; then disconnects 41 from the test and lets the target check it.
fn calibrate() -> Calibration {
    let started = Instant::now();
    let (mut target, bytes, ino) = spawn();
    let spawn_took = started.elapsed();
    let dgrams = target.peek_u64(FILLED_DGRAMS.as_ptr() as usize);
    let how = match target.peek_u64(FORCE_ERRNO.as_ptr() as usize) {
        0 => "raised with SO_SNDBUFFORCE".to_string(),
        e => format!(
            "SO_SNDBUFFORCE refused ({}), raised with SO_SNDBUF as far as wmem_max lets it",
            describe_errno(e as i32)
        ),
    };
    println!(
        "# each target queues {dgrams} datagrams of {DGRAM} bytes ({bytes} bytes; the send buffer {how}); a spawn took {:.1} ms",
        ms(spawn_took)
    );
    let mut took = Duration::ZERO;
    let mut times = Vec::new();
    for n in 1..=2 {
        // No stale image for the follower to find.
        let _ = std::fs::remove_file(target.image_path());
        let (go, done) = (Barrier::new(2), AtomicBool::new(false));
        let path = target.image_path().to_string();
        let (result, followed) = std::thread::scope(|s| {
            let follower = s.spawn(|| {
                go.wait();
                let start = Instant::now();
                let mut times = Vec::new();
                follow(&path, ino, start, &done, |event, at| {
                    if !times.iter().any(|&(e, _)| e == event) {
                        times.push((event, at));
                    }
                    event == Seen::Msg
                })
                .map(|()| times)
            });
            go.wait();
            let start = Instant::now();
            let result = target.try_checkpoint(NO_KILL);
            took = start.elapsed();
            done.store(true, Ordering::Release);
            let followed = follower.join();
            (result, followed)
        });
        if let Err(e) = result {
            target.fail(format!(
                "checkpoint {n} of a filled target with no racer: {}; expected success",
                describe_errno(e.raw_os_error().unwrap_or(0))
            ));
        }
        times = match followed {
            Ok(Ok(times)) => times,
            Ok(Err(e)) => target.fail(format!("following the image: {e}")),
            Err(_) => target.fail("the image's follower panicked"),
        };
        target.wait_state("SR", "to run on after a checkpoint without CKPT_KILL");
        check_saved_image(&target, bytes, "a checkpoint with no racer");
        let seen: Vec<String> = times
            .iter()
            .map(|(e, at)| format!("{} at {:.1} ms", e.record(), ms(*at)))
            .collect();
        println!(
            "# checkpoint {n} of a filled target with no racer: saved in {:.1} ms; its image showed {}",
            ms(took),
            match seen.is_empty() {
                true => "none of the records followed".to_string(),
                false => seen.join(", "),
            }
        );
    }
    let at = |event| times.iter().find(|&&(e, _)| e == event).map(|&(_, t)| t);
    let window = match (at(Seen::File), at(Seen::Msg)) {
        (Some(file), Some(msg)) if msg >= file => msg - file,
        _ if dry_run() => Duration::from_millis(10),
        _ => target.fail(
            "the image of a checkpoint with no racer showed no File record of fd 41 followed by a UnixMsg record",
        ),
    };
    let start = Instant::now();
    purge(target.pid()).unwrap_or_else(|e| target.fail(e));
    let purge_took = start.elapsed();
    println!(
        "# a purge of fd {D_RECV} with no checkpoint took {:.1} ms",
        ms(purge_took)
    );
    target.finish();
    Calibration {
        spawn: spawn_took,
        checkpoint: took,
        window,
        purge: purge_took,
    }
}

/// The bisection of the racer's delay, in µs: `lo` is the longest delay seen to come before
/// the copy took its references (before the count, or after it with the purge freeing the
/// buffers), `hi` the shortest seen to come after the copy.
struct Aim {
    lo: u64,
    hi: u64,
    /// How far a collapsed interval is widened either way.
    widen: u64,
    prng: Prng,
}

impl Aim {
    /// The next delay: the interval's middle, give or take a quarter of its width.
    fn next(&mut self) -> u64 {
        let span = self.hi - self.lo;
        let jitter = self.prng.below(span as usize / 2 + 1) as u64;
        self.lo + span / 4 + jitter
    }

    /// Moves a bound to `delay` for what it gave, `held` if the purge found the buffers held.
    fn learn(&mut self, delay: u64, o: Outcome, held: bool) {
        match (o, held) {
            (Outcome::Disconnected | Outcome::Refused, _) | (Outcome::Copy, false) => {
                self.lo = self.lo.max(delay)
            }
            (Outcome::Saved, _) => self.hi = self.hi.min(delay),
            (Outcome::Copy, true) | (Outcome::Interrupted, _) => {}
        }
        if self.hi < self.lo + MIN_SPAN_US {
            let mid = (self.lo + self.hi) / 2;
            self.lo = mid.saturating_sub(self.widen);
            self.hi = mid + self.widen;
        }
    }
}

/// One round: a fresh target checkpointed while the racer purges 41 `delay` after its `File`
/// record appeared. How it ended, with its kernel log, when the racer acted and when the
/// checkpoint ended.
fn round(n: u32, delay: Duration) -> (Outcome, Vec<String>, Purge, Duration) {
    let (mut target, bytes, ino) = spawn();
    let pid = target.pid();
    let path = target.image_path().to_string();
    let (go, done) = (Barrier::new(2), AtomicBool::new(false));
    let (result, took, lines, purge) = std::thread::scope(|s| {
        let racer = s.spawn(|| racer(pid, (&path, ino), (&go, &done), delay));
        go.wait();
        let start = Instant::now();
        let before = target.klog().len();
        let result = target.try_checkpoint(NO_KILL);
        let took = start.elapsed();
        done.store(true, Ordering::Release);
        let lines = target.klog()[before..].to_vec();
        let purge = match racer.join() {
            Ok(Ok(purge)) => purge,
            Ok(Err(e)) => target.fail(format!("round {n}: the racer: {e}")),
            Err(_) => target.fail(format!("round {n}: the racer panicked")),
        };
        (result, took, lines, purge)
    });
    let kind = outcome(&result, &lines)
        .unwrap_or_else(|e| target.fail(format!("round {n}: the checkpoint: {e}")));
    target.wait_state("SR", "to run on after a checkpoint without CKPT_KILL");
    if kind == Outcome::Saved {
        check_saved_image(&target, bytes, &format!("round {n}"));
    }
    target.finish();
    (kind, lines, purge, took)
}

fn main() {
    let started = Instant::now();
    let cal = calibrate();
    // A checkpoint with the racer takes longer than one alone.
    let per_round = cal.spawn + cal.checkpoint * 2;
    let fit = ROUNDS_BUDGET.as_secs_f64() / per_round.as_secs_f64().max(1e-3);
    let rounds = (fit as u32).clamp(MIN_ROUNDS, MAX_ROUNDS);
    let w = cal.window.as_micros() as u64;
    println!(
        "# {rounds} rounds (about {:.1} s each expected), the purge aimed first between 0 and {:.1} ms after the File record of fd {D_RECV} (its count and copy took {:.1} ms)",
        per_round.as_secs_f64(),
        2.0 * w as f64 / 1e3,
        w as f64 / 1e3
    );
    let mut aim = Aim {
        lo: 0,
        hi: (2 * w).max(MIN_SPAN_US),
        widen: (w / 8).max(MIN_SPAN_US),
        prng: Prng::new(0x9e3d_c0de),
    };
    let mut counts = [0u32; OUTCOMES.len()];
    let mut first: [Option<Vec<String>>; OUTCOMES.len()] = Default::default();
    let (mut ran, mut in_copy) = (0, 0);
    for n in 1..=rounds {
        if n > MIN_ROUNDS && started.elapsed() > DEADLINE {
            println!(
                "# stopped after {ran} rounds: {:.1} s passed",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        let delay = aim.next();
        let (kind, lines, p, took) = round(n, Duration::from_micros(delay));
        ran += 1;
        // A purge that freed no buffer, the copy holding them, is quick.
        let held = p.ended - p.fired < cal.purge / 2;
        if kind == Outcome::Copy && held {
            in_copy += 1;
        }
        let anchor = match p.anchor {
            Some(a) => format!("File record at {:.1} ms", ms(a)),
            None => "no File record before the checkpoint returned".to_string(),
        };
        println!(
            "# round {n}: {anchor}, purge from {:.1} to {:.1} ms (aimed {:.1} ms after{}), checkpoint {:.1} ms: {}",
            ms(p.fired),
            ms(p.ended),
            delay as f64 / 1e3,
            if held { "; quick: the buffers were held" } else { "" },
            ms(took),
            name(kind)
        );
        if let Some(i) = OUTCOMES.iter().position(|(k, _)| *k == kind) {
            counts[i] += 1;
            first[i].get_or_insert(lines);
        }
        if let Some(a) = p.anchor {
            aim.learn(p.fired.saturating_sub(a).as_micros() as u64, kind, held);
        }
    }
    let copy = OUTCOMES
        .iter()
        .position(|(k, _)| *k == Outcome::Copy)
        .unwrap_or(0);
    let tally: Vec<String> = OUTCOMES
        .iter()
        .zip(counts)
        .map(|((_, name), c)| format!("{c} {name}"))
        .collect();
    println!(
        "# {ran} rounds in {:.1} s: {}; of the EAGAINs {in_copy} with a purge under half as long as one alone (the copy held the buffers: it landed in the copy), {} with a longer one (between the count and the copy)",
        started.elapsed().as_secs_f64(),
        tally.join(", "),
        counts[copy] - in_copy
    );
    for ((kind, name), lines) in OUTCOMES.iter().zip(&first) {
        if let (false, Some(lines)) = (*kind == Outcome::Saved, lines) {
            for line in lines {
                println!("# the first {name}: kernel: {line}");
            }
        }
    }
    pass("checkpoints of targets whose datagram socket the test disconnected (connect(AF_UNSPEC), purging its queue of up to 8 MiB) at delays after its File record appeared in the image homing in on the copy of that queue each ended cleanly (saved with the bytes, EOPNOTSUPP with a log line, EAGAIN \"cannot read its messages\", or EINTR); every target ran on and found its socket disconnected and empty, and its peer told once (ECONNRESET)");
}
