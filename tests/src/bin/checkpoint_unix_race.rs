//! checkpoint(2) of a tree whose unix sockets a process outside it receives from and sends to
//! at the same time, through files it took with pidfd_getfd() after leak detection ran.
//!
//! Leak detection refuses a socket whose file is also held outside the tree, but it looks
//! once, early: a process with ptrace rights over the tree (here the test, the target's parent,
//! as root) can take the file with pidfd_getfd() right after and use the socket while
//! checkpoint copies its receive queue. That copy (`checkpoint_unix_queue()` in
//! `net/unix/af_unix.c`) runs under the socket's iolock, holds a reference on each buffer and
//! follows `->next` under the queue's lock; a buffer taken from the queue meanwhile, more
//! messages, bytes or files (SCM_RIGHTS) than were counted, or a message of a kind checkpoint
//! refuses (MSG_OOB) queued meanwhile must end it with EAGAIN and the log line "a unix socket:
//! cannot read its messages". The files in flight are read more than once: leak detection
//! counts them as the tree's ("the unix socket's messages changed while they were read" if the
//! queue changes under it), and a socket whose messages carry files is written after the last
//! task ("its messages changed while the tree was checkpointed" if they carry a file leak
//! detection did not count): EAGAIN too. Whatever the interleaving, checkpoint must end cleanly
//! and leave the queues as they were: the guest kernel has KASAN, lockdep and panic_on_warn,
//! and the harness reads its console.
//!
//! The target makes a datagram pair (fds 40 and 41) and a stream pair (42 and 43), queues on
//! 40 up to 300 numbered datagrams sent from 41 and on 42 up to 200 KiB of a byte sequence
//! written to 43 (each until EAGAIN), says ready and sleeps. A thread of the test, the racer,
//! then loops for about 3 s (and at most [`MAX_ROUNDS`] rounds). Each round it takes the
//! target's fds one at a time with pidfd_getfd() (one pidfd for the whole race), receives the
//! oldest datagram from 40 and sends the next from 41, receives a random amount of the stream
//! from 42 and writes a random amount of the sequence's next bytes to 43, all without waiting,
//! and closes each fd at once; now and then it pauses a little with none of them held, so that
//! some checkpoints get past leak detection. Once every [`CYCLE`] rounds the datagram carries
//! a file (/dev/null, SCM_RIGHTS), and [`OOB_AT`] rounds later a byte goes to the stream out of
//! band (0xff, MSG_OOB), which every other cycle the next round takes back with MSG_OOB, leaving
//! its mark: each is queued behind everything else and leaves as the racer reaches it, so the
//! queues hold a message checkpoint refuses for part of each cycle and none for the rest. The
//! /dev/null in flight is refused while the racer holds its file, as a file of the tree shared
//! outside it ("a file in flight to fd 40 (SCM_RIGHTS): the open file is shared with pid"),
//! and once the racer closed it as a file only a message holds that restart could not make
//! anywhere ("a file that only a message holds is not supported unless it is a pipe, ...").
//!
//! Meanwhile the main thread checkpoints the target without CKPT_KILL ([`MAX_CHECKPOINTS`]
//! times, or fewer once about 3 s passed, at least [`MIN_CHECKPOINTS`]), with a random pause
//! after each. Each must be saved, or refused with EOPNOTSUPP, EBUSY or EAGAIN and a kernel
//! log line, or end with EINTR; anything else fails the test, which prints the kernel's lines.
//! The target must run on after each. The racer checks all it receives: the datagrams in
//! order, whole, with /dev/null exactly when they say so; the stream's bytes in order, an
//! out-of-band byte read inline aside (a newer one makes the older an ordinary byte).
//!
//! Once the racer stopped and closed its fds (/dev/null too), one last checkpoint must be
//! saved, or refused with EOPNOTSUPP and a log line naming what the racer left queued: a
//! message with /dev/null, which only messages hold then ("a file in flight to fd 40
//! (SCM_RIGHTS): a file that only a message holds is not supported ..."), or out-of-band data
//! or its mark (MSG_OOB); if the racer left a message with a file it must not be saved, if not
//! the log must not name SCM_RIGHTS (the racer knows: it numbers its datagrams), and a log that
//! names it must say that only a message holds the file. The test then sends the target, from
//! 40 into the queue of 41 (empty: nobody sends on 40), the numbers of the first datagram and
//! stream byte the racer did not receive and of the next it would have sent, and wakes it.
//! The target checks that its queues hold exactly those: no message lost, doubled or changed
//! by the checkpoints; that 43's queue is empty; and that both pairs still carry messages both
//! ways.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use cr_tests::target::dry_run;
use cr_tests::unix::{
    recv, recv_exact, recv_with_fd, recv_within, send, send_all, sendmsg_with_fd, socketpair_at,
};
use cr_tests::{
    check_eq, check_os, describe_errno, log_names, pass, poll_in, wait_restored, Check, Prng,
    Target, NO_KILL,
};

/// The datagram pair: the target's queue the racer receives from, and its peer, which the
/// racer sends from.
const D_RECV: RawFd = 40;
const D_SEND: RawFd = 41;
/// The stream pair, the same way round.
const S_RECV: RawFd = 42;
const S_SEND: RawFd = 43;

/// Datagrams the target queues at most (fewer if its socket's send buffer is full first), and
/// at least.
const FILL_DGRAMS: u64 = 300;
const MIN_DGRAMS: u64 = 32;
/// Bytes the target writes to the stream at most (fewer if it is full first), at least, and
/// per write.
const FILL_BYTES: u64 = 200 << 10;
const MIN_BYTES: u64 = 16 << 10;
const FILL_CHUNK: u64 = 4096;

/// Bytes at the start of a datagram: its number (u64, little-endian) and 1 if it carries a
/// file, 0 if not.
const DGRAM_HEAD: usize = 9;
/// The stream's byte at offset `i` is `i % STREAM_PERIOD`: never [`OOB_BYTE`].
const STREAM_PERIOD: u64 = 251;
/// The byte the racer sends out of band.
const OOB_BYTE: u8 = 0xff;
/// Most bytes the racer reads from or writes to the stream in one round.
const MAX_STREAM_CHUNK: usize = 4096;
/// Room for any message of the test.
const ROOM: usize = 1 << 16;
/// The test's message to the target once the race is over: this, then four u64 (see
/// [`Tally::end_message`]).
const END: &[u8] = b"END";
/// What the last checkpoint's log says of /dev/null in flight, which only messages hold then.
const ONLY_MESSAGE: &str = "a file that only a message holds is not supported unless it is a pipe, socket, eventfd, timerfd or memfd (/dev/null)";

/// How long the checkpoints race, and how many there are at most and at least.
const RACE: Duration = Duration::from_secs(3);
const MAX_CHECKPOINTS: u32 = 30;
const MIN_CHECKPOINTS: u32 = 5;
/// Longest pause after a checkpoint, in ms.
const MAX_PAUSE_MS: usize = 30;
/// Bounds on the racer should the main thread not stop it.
const MAX_ROUNDS: u64 = 2_000_000;
const RACER_LIMIT: Duration = Duration::from_secs(60);
/// The racer's rounds form cycles of this many: in round 0 of each its datagram carries a
/// file, in round [`OOB_AT`] it sends a byte out of band, which in the next round of every
/// other cycle it takes back.
const CYCLE: u64 = 1024;
const OOB_AT: u64 = 64;

/// What the target queued, read by the test from its memory (the same address after fork).
static FILLED_DGRAMS: AtomicU64 = AtomicU64::new(0);
static FILLED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Datagram number `seq`, marked as carrying a file if `with_fd`: its number, the mark, then
/// bytes that follow from its number, 12 to 64 bytes in all.
fn datagram(seq: u64, with_fd: bool) -> Vec<u8> {
    let len = 12 + (seq % 53) as usize;
    let mut d = Vec::with_capacity(len);
    d.extend_from_slice(&seq.to_le_bytes());
    d.push(u8::from(with_fd));
    d.extend((DGRAM_HEAD..len).map(|j| (seq as usize * 31 + j) as u8));
    d
}

/// `Err` unless the file received with a datagram is /dev/null.
fn check_devnull(fd: &OwnedFd, what: &str) -> Check {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let link = std::fs::read_link(&path).map_err(|e| format!("readlink {path}: {e}"))?;
    check_eq(
        format_args!("the file that came with {what}"),
        link.to_string_lossy().into_owned(),
        "/dev/null".to_string(),
    )
}

/// Checks that `got`, with the file `fd` that came with it, is a datagram as [`datagram`]
/// makes them, with a file (/dev/null) exactly if it says so; returns its number.
fn check_datagram(got: &[u8], fd: Option<&OwnedFd>, what: &str) -> Result<u64, String> {
    let Some(head) = got.get(..DGRAM_HEAD) else {
        return Err(format!("{what} is {got:?}, too short to be the test's"));
    };
    let seq = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let with_fd = match head[8] {
        0 => false,
        1 => true,
        m => {
            return Err(format!(
                "{what} (number {seq}) has {m} where 0 or 1 belongs"
            ))
        }
    };
    let want = datagram(seq, with_fd);
    if got != want {
        return Err(format!(
            "{what} (number {seq}) is {got:?}, should be {want:?}"
        ));
    }
    match (with_fd, fd) {
        (true, Some(fd)) => check_devnull(fd, what)?,
        (false, None) => {}
        (true, None) => return Err(format!("{what} (number {seq}) came without its file")),
        (false, Some(_)) => return Err(format!("{what} (number {seq}) came with a file")),
    }
    Ok(seq)
}

/// The stream's bytes from offset `from`, `len` of them.
fn stream_bytes(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64)
        .map(|i| (i % STREAM_PERIOD) as u8)
        .collect()
}

/// Checks that `got`, read from the stream at offset `*at`, is the stream's bytes from there,
/// out-of-band bytes read inline aside; moves `*at` past them and returns how many
/// out-of-band bytes there were.
fn check_stream(got: &[u8], at: &mut u64, who: &str) -> Result<u64, String> {
    let mut inline = 0;
    for &b in got {
        if b == OOB_BYTE {
            inline += 1;
            continue;
        }
        let want = (*at % STREAM_PERIOD) as u8;
        if b != want {
            return Err(format!(
                "{who} read {b:#x} at stream offset {at}, expected {want:#x}"
            ));
        }
        *at += 1;
    }
    Ok(inline)
}

/// In the target: the pairs and their queues.
fn setup() -> Result<impl FnOnce() -> Check, String> {
    socketpair_at(libc::SOCK_DGRAM, D_RECV, D_SEND)?;
    socketpair_at(libc::SOCK_STREAM, S_RECV, S_SEND)?;
    let now = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    let mut dgrams = 0;
    while dgrams < FILL_DGRAMS {
        let d = datagram(dgrams, false);
        match send(D_SEND, &d, now) {
            Ok(n) if n == d.len() => dgrams += 1,
            Ok(n) => return Err(format!("datagram {dgrams}: {n} of {} bytes sent", d.len())),
            Err(libc::EAGAIN) => break,
            Err(e) => return Err(format!("send of datagram {dgrams}: {}", describe_errno(e))),
        }
    }
    let mut bytes = 0;
    while bytes < FILL_BYTES {
        let len = FILL_CHUNK.min(FILL_BYTES - bytes) as usize;
        match send(S_SEND, &stream_bytes(bytes, len), now) {
            Ok(n) => bytes += n as u64,
            Err(libc::EAGAIN) => break,
            Err(e) => return Err(format!("write to the stream: {}", describe_errno(e))),
        }
    }
    if dgrams < MIN_DGRAMS || bytes < MIN_BYTES {
        return Err(format!(
            "only {dgrams} datagrams and {bytes} stream bytes queued before EAGAIN"
        ));
    }
    FILLED_DGRAMS.store(dgrams, Ordering::SeqCst);
    FILLED_BYTES.store(bytes, Ordering::SeqCst);
    Ok(move || {
        wait_restored();
        verify()
    })
}

/// In the target, once woken: the test's message on 41, then the queues exactly as the
/// racer left them, then messages both ways on both pairs.
fn verify() -> Check {
    let end = recv_within(D_SEND, ROOM, 0)?;
    let numbers = match end.strip_prefix(END) {
        Some(rest) if rest.len() == 32 => rest
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect::<Vec<_>>(),
        _ => return Err(format!("the test's message on fd {D_SEND} is {end:?}")),
    };
    let [dgram_in, dgram_out, stream_in, stream_out] = numbers[..] else {
        return Err("the test's message holds no four numbers".into());
    };
    let dontwait = libc::MSG_DONTWAIT;
    check_eq(
        format_args!("a recv of fd {D_SEND} after the test's message"),
        recv(D_SEND, ROOM, dontwait),
        Err(libc::EAGAIN),
    )?;
    check_eq(
        format_args!("a recv of fd {S_SEND}, to which nobody wrote"),
        recv(S_SEND, ROOM, dontwait),
        Err(libc::EAGAIN),
    )?;

    let mut fds = 0;
    for want in dgram_in..dgram_out {
        if poll_in(D_RECV, 0)? == 0 {
            return Err(format!(
                "fd {D_RECV} holds datagrams {dgram_in} to {} only; the racer left {dgram_in} to {}",
                want - 1,
                dgram_out - 1
            ));
        }
        let (got, fd) = recv_with_fd(D_RECV, ROOM, dontwait)?;
        let seq = check_datagram(&got, fd.as_ref(), "a datagram the target received")?;
        check_eq("the number of the target's next datagram", seq, want)?;
        fds += u64::from(fd.is_some());
    }
    check_eq(
        format_args!("a recv of fd {D_RECV} past the datagrams the racer left"),
        recv(D_RECV, ROOM, dontwait).map(|d| d.len()),
        Err(libc::EAGAIN),
    )?;

    let (mut at, mut inline) = (stream_in, 0);
    loop {
        match recv(S_RECV, ROOM, dontwait) {
            Ok(got) if got.is_empty() => return Err(format!("fd {S_RECV} at its end")),
            Ok(got) => inline += check_stream(&got, &mut at, "the target")?,
            Err(libc::EAGAIN) => break,
            Err(e) => return Err(format!("recv of fd {S_RECV}: {}", describe_errno(e))),
        }
    }
    check_eq(
        "the stream offset the target read up to (the racer wrote up to it)",
        at,
        stream_out,
    )?;
    println!(
        "received {} datagrams ({fds} with /dev/null) and {} stream bytes (and {inline} out-of-band bytes inline), as the racer left them",
        dgram_out - dgram_in,
        stream_out - stream_in
    );

    for (from, to) in [(D_SEND, D_RECV), (D_RECV, D_SEND)] {
        send_all(from, b"after")?;
        check_eq(
            format_args!("the datagram sent from fd {from} to fd {to}"),
            recv_within(to, ROOM, 0)?,
            b"after".to_vec(),
        )?;
    }
    for (from, to) in [(S_SEND, S_RECV), (S_RECV, S_SEND)] {
        send_all(from, b"after")?;
        check_eq(
            format_args!("the bytes written to fd {from}, read from fd {to}"),
            recv_exact(to, 5)?,
            b"after".to_vec(),
        )?;
    }
    Ok(())
}

/// What the racer did, and where it stopped.
#[derive(Default)]
struct Tally {
    rounds: u64,
    /// The number of the next datagram it receives from 40, and sends from 41.
    dgram_in: u64,
    dgram_out: u64,
    /// The numbers of the datagrams it sent with a file.
    with_fd: Vec<u64>,
    fds_in: u64,
    /// Receives that found nothing, sends that found no room.
    dgram_empty: u64,
    dgram_full: u64,
    /// The stream offset of the next byte it reads from 42, and writes to 43.
    stream_in: u64,
    stream_out: u64,
    stream_empty: u64,
    stream_full: u64,
    /// Out-of-band bytes sent, taken back with MSG_OOB, read inline, and MSG_OOB reads that
    /// found none (EINVAL).
    oob_sent: u64,
    oob_taken: u64,
    oob_inline: u64,
    oob_none: u64,
    /// Why out-of-band data was not sent, if the kernel refused it.
    no_oob: Option<String>,
}

impl Tally {
    /// Whether it left a datagram with a file in 40's queue.
    fn left_fd(&self) -> bool {
        self.with_fd.iter().any(|&seq| seq >= self.dgram_in)
    }

    /// The test's message to the target: where the racer stopped.
    fn end_message(&self) -> Vec<u8> {
        let mut m = END.to_vec();
        for n in [
            self.dgram_in,
            self.dgram_out,
            self.stream_in,
            self.stream_out,
        ] {
            m.extend_from_slice(&n.to_le_bytes());
        }
        m
    }
}

/// The target's fd `fd`, taken through its `pidfd`: an fd of the test's, closed when dropped.
fn take(pidfd: &OwnedFd, fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: pidfd_getfd takes integers and makes an fd of our own.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    check_os(got, format_args!("pidfd_getfd of the target's fd {fd}"))?;
    // SAFETY: a new fd, ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(got as RawFd) })
}

/// The racer's state: the target's pid as a pidfd, its file to pass, its random numbers.
struct Racer<'a> {
    pidfd: OwnedFd,
    devnull: File,
    prng: Prng,
    tally: Tally,
    rounds: &'a AtomicU64,
}

impl Racer<'_> {
    /// Round `i`: a datagram, then the stream.
    fn round(&mut self, i: u64) -> Check {
        let at = i % CYCLE;
        self.datagram_round(at == 0)?;
        let take_oob = at == OOB_AT + 1 && (i / CYCLE) % 2 == 1;
        self.stream_round(at == OOB_AT, take_oob)?;
        self.tally.rounds += 1;
        self.rounds.store(self.tally.rounds, Ordering::Release);
        Ok(())
    }

    /// Receives the oldest datagram from 40 and checks it; sends the next from 41, with
    /// /dev/null if `with_fd`.
    fn datagram_round(&mut self, with_fd: bool) -> Check {
        let t = &mut self.tally;
        {
            let sock = take(&self.pidfd, D_RECV)?;
            // Nobody else receives from it: what poll() finds stays.
            if poll_in(sock.as_raw_fd(), 0)? == 1 {
                let (got, fd) = recv_with_fd(sock.as_raw_fd(), ROOM, libc::MSG_DONTWAIT)?;
                let seq = check_datagram(&got, fd.as_ref(), "a datagram the racer received")?;
                check_eq("the number of the racer's next datagram", seq, t.dgram_in)?;
                t.dgram_in += 1;
                t.fds_in += u64::from(fd.is_some());
            } else {
                t.dgram_empty += 1;
            }
        }
        let sock = take(&self.pidfd, D_SEND)?;
        let d = datagram(t.dgram_out, with_fd);
        let sent = match with_fd {
            true => sendmsg_with_fd(
                sock.as_raw_fd(),
                &d,
                self.devnull.as_raw_fd(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            ),
            false => send(
                sock.as_raw_fd(),
                &d,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            ),
        };
        match sent {
            Ok(n) if n == d.len() => {
                if with_fd {
                    t.with_fd.push(t.dgram_out);
                }
                t.dgram_out += 1;
            }
            Ok(n) => {
                return Err(format!(
                    "the racer's datagram: {n} of {} bytes sent",
                    d.len()
                ))
            }
            Err(libc::EAGAIN) => t.dgram_full += 1,
            Err(e) => {
                return Err(format!(
                    "the racer's send on fd {D_SEND}: {}",
                    describe_errno(e)
                ))
            }
        }
        Ok(())
    }

    /// Reads up to 4 KiB of the stream from 42 (or with `take_oob` its out-of-band byte) and
    /// checks them; writes up to 4 KiB more of it to 43 (or with `send_oob` a byte out of
    /// band).
    fn stream_round(&mut self, send_oob: bool, take_oob: bool) -> Check {
        let (read, write) = (
            1 + self.prng.below(MAX_STREAM_CHUNK),
            1 + self.prng.below(MAX_STREAM_CHUNK),
        );
        let now = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let oob = self.tally.no_oob.is_none();
        {
            let sock = take(&self.pidfd, S_RECV)?;
            let t = &mut self.tally;
            if take_oob && oob {
                match recv(sock.as_raw_fd(), 1, libc::MSG_OOB | libc::MSG_DONTWAIT) {
                    Ok(b) if b == [OOB_BYTE] => t.oob_taken += 1,
                    Ok(b) => return Err(format!("the racer's MSG_OOB read gave {b:?}")),
                    // No out-of-band byte (a read reached it first).
                    Err(libc::EINVAL) => t.oob_none += 1,
                    Err(e) => {
                        return Err(format!(
                            "the racer's MSG_OOB read of fd {S_RECV}: {}",
                            describe_errno(e)
                        ))
                    }
                }
            } else {
                match recv(sock.as_raw_fd(), read, libc::MSG_DONTWAIT) {
                    Ok(got) if got.is_empty() => {
                        return Err(format!("the racer found fd {S_RECV} at its end"))
                    }
                    Ok(got) => t.oob_inline += check_stream(&got, &mut t.stream_in, "the racer")?,
                    Err(libc::EAGAIN) => t.stream_empty += 1,
                    Err(e) => {
                        return Err(format!(
                            "the racer's read of fd {S_RECV}: {}",
                            describe_errno(e)
                        ))
                    }
                }
            }
        }
        let sock = take(&self.pidfd, S_SEND)?;
        let t = &mut self.tally;
        if send_oob && oob {
            match send(sock.as_raw_fd(), &[OOB_BYTE], now | libc::MSG_OOB) {
                Ok(1) => t.oob_sent += 1,
                Ok(n) => return Err(format!("the racer's MSG_OOB write sent {n} bytes")),
                Err(libc::EAGAIN) => t.stream_full += 1,
                // No CONFIG_AF_UNIX_OOB.
                Err(e @ libc::EOPNOTSUPP) => t.no_oob = Some(describe_errno(e)),
                Err(e) => {
                    return Err(format!(
                        "the racer's MSG_OOB write to fd {S_SEND}: {}",
                        describe_errno(e)
                    ))
                }
            }
        } else {
            match send(sock.as_raw_fd(), &stream_bytes(t.stream_out, write), now) {
                Ok(n) => t.stream_out += n as u64,
                Err(libc::EAGAIN) => t.stream_full += 1,
                Err(e) => {
                    return Err(format!(
                        "the racer's write to fd {S_SEND}: {}",
                        describe_errno(e)
                    ))
                }
            }
        }
        Ok(())
    }
}

/// The racer's thread: rounds until `stop` (or its own bounds); where it stopped, or what it
/// found wrong.
fn race(
    pid: libc::pid_t,
    (dgrams, bytes): (u64, u64),
    stop: &AtomicBool,
    rounds: &AtomicU64,
) -> Result<Tally, String> {
    // SAFETY: pidfd_open takes integers and makes an fd of our own.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check_os(pidfd, "pidfd_open")?;
    let mut racer = Racer {
        // SAFETY: a new fd, ours alone.
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) },
        devnull: File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?,
        prng: Prng::new(0x5eed_4ace),
        tally: Tally {
            dgram_out: dgrams,
            stream_out: bytes,
            ..Tally::default()
        },
        rounds,
    };
    let started = Instant::now();
    for i in 0..MAX_ROUNDS {
        if stop.load(Ordering::Acquire) || started.elapsed() > RACER_LIMIT {
            break;
        }
        racer.round(i)?;
        // A pause holding none of the target's files, for leak detection to find.
        if racer.prng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(racer.prng.below(100) as u64));
        }
    }
    Ok(racer.tally)
}

/// How the checkpoints ended: each kind, its count and the first one's log lines.
struct Outcomes {
    kinds: Vec<(&'static str, u32, Vec<String>)>,
}

impl Outcomes {
    fn new() -> Outcomes {
        let kinds = ["saved", "EOPNOTSUPP", "EBUSY", "EAGAIN", "EINTR"];
        Outcomes {
            kinds: kinds.iter().map(|&k| (k, 0, Vec::new())).collect(),
        }
    }

    fn count(&mut self, kind: &str, lines: &[String]) {
        if let Some((_, n, first)) = self.kinds.iter_mut().find(|(k, ..)| *k == kind) {
            if *n == 0 {
                first.extend_from_slice(lines);
            }
            *n += 1;
        }
    }

    fn report(&self, total: u32, took: Duration) {
        let counts: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, n, _)| format!("{n} {k}"))
            .collect();
        println!(
            "# {total} checkpoints during the race in {:.1} s: {}",
            took.as_secs_f64(),
            counts.join(", ")
        );
        for (k, n, first) in &self.kinds {
            if *n > 0 && *k != "saved" {
                for line in first {
                    println!("# the first {k}: kernel: {line}");
                }
            }
        }
    }
}

/// What a checkpoint's `result` counts as; `Err` for an errno the race may not give.
fn outcome(result: &io::Result<()>) -> Result<&'static str, String> {
    let Err(e) = result else {
        return Ok("saved");
    };
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok("EOPNOTSUPP"),
        Some(libc::EBUSY) => Ok("EBUSY"),
        Some(libc::EAGAIN) => Ok("EAGAIN"),
        Some(libc::EINTR) => Ok("EINTR"),
        Some(errno) => Err(describe_errno(errno)),
        None => Err(e.to_string()),
    }
}

/// The kernel's log lines of the target's calls since it had `before`.
fn new_lines(target: &Target, before: usize) -> Vec<String> {
    target.klog()[before..].to_vec()
}

/// Whether one of `lines` (behind their `[checkpoint n]`) says anything.
fn says_something(lines: &[String]) -> bool {
    lines.iter().any(|l| {
        l.split_once("] ")
            .is_some_and(|(_, text)| !text.trim().is_empty())
    })
}

/// The main thread's part of the race: checkpoints without CKPT_KILL until enough were made
/// or the racer ended; each must end cleanly and the target run on.
fn checkpoints(target: &mut Target, racer: &ScopedJoinHandle<'_, Result<Tally, String>>) {
    let mut outcomes = Outcomes::new();
    let mut prng = Prng::new(0xc4ec_4b01);
    let started = Instant::now();
    let mut n = 0;
    while n < MAX_CHECKPOINTS
        && (n < MIN_CHECKPOINTS || started.elapsed() < RACE)
        && !racer.is_finished()
    {
        let before = target.klog().len();
        let result = target.try_checkpoint(NO_KILL);
        n += 1;
        let lines = new_lines(target, before);
        let kind = outcome(&result).unwrap_or_else(|e| {
            target.fail(format!(
                "checkpoint {n} during the race: {e}; expected success, EOPNOTSUPP, EBUSY, EAGAIN or EINTR"
            ))
        });
        if matches!(kind, "EOPNOTSUPP" | "EBUSY" | "EAGAIN") && !says_something(&lines) {
            target.fail(format!(
                "checkpoint {n} during the race failed with {kind} without a log line"
            ));
        }
        outcomes.count(kind, &lines);
        target.wait_state("SR", "to run on after a checkpoint without CKPT_KILL");
        std::thread::sleep(Duration::from_millis(prng.below(MAX_PAUSE_MS + 1) as u64));
    }
    outcomes.report(n, started.elapsed());
}

/// Prints what the racer did.
fn report(t: &Tally) {
    let filled = FILLED_DGRAMS.load(Ordering::Relaxed);
    println!(
        "# the racer: {} rounds; datagrams {} received ({} with /dev/null), {} sent ({} with /dev/null), {} receives found none, {} sends no room",
        t.rounds,
        t.dgram_in,
        t.fds_in,
        t.dgram_out - filled,
        t.with_fd.len(),
        t.dgram_empty,
        t.dgram_full
    );
    println!(
        "# the racer: stream bytes {} read, {} written, {} reads found none, {} writes no room; out of band {} sent, {} taken back, {} read inline, {} MSG_OOB reads found none",
        t.stream_in,
        t.stream_out - FILLED_BYTES.load(Ordering::Relaxed),
        t.stream_empty,
        t.stream_full,
        t.oob_sent,
        t.oob_taken,
        t.oob_inline,
        t.oob_none
    );
    if let Some(why) = &t.no_oob {
        println!("# no out-of-band data here (MSG_OOB: {why})");
    }
}

/// The checkpoint once the racer stopped: saved, or refused for what the racer left queued.
fn last_checkpoint(target: &mut Target, t: &Tally) {
    let before = target.klog().len();
    let result = target.try_checkpoint(NO_KILL);
    let lines = new_lines(target, before);
    target.wait_state("SR", "to run on after a checkpoint without CKPT_KILL");
    let scm = log_names(&lines, "SCM_RIGHTS");
    let oob = log_names(&lines, "MSG_OOB");
    match &result {
        Ok(()) => println!("# the last checkpoint, after the race: saved"),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) && (scm || oob) => {
            println!("# the last checkpoint, after the race: refused for what the racer left:");
            for line in &lines {
                println!("#   kernel: {line}");
            }
        }
        Err(e) => target.fail(format!(
            "the checkpoint after the race: {}; expected success, or EOPNOTSUPP with a log line naming SCM_RIGHTS or MSG_OOB",
            describe_errno(e.raw_os_error().unwrap_or(0))
        )),
    }
    if dry_run() {
        return;
    }
    let saved = result.is_ok();
    if saved && t.left_fd() {
        target.fail("the checkpoint after the race saved a socket holding a message with a file (SCM_RIGHTS)");
    }
    if scm && !t.left_fd() {
        target.fail("the checkpoint after the race names SCM_RIGHTS, but the racer left no message with a file");
    }
    if scm && !log_names(&lines, ONLY_MESSAGE) {
        target.fail(format!(
            "the checkpoint after the race names SCM_RIGHTS, but not with \"{ONLY_MESSAGE}\": the racer closed its /dev/null"
        ));
    }
}

/// Tells the target where the racer stopped: a datagram from its 40 into 41's empty queue.
fn send_end(target: &Target, t: &Tally) {
    let sock = cr_tests::outside::take_fd(target.pid(), D_RECV).unwrap_or_else(|e| target.fail(e));
    // SAFETY: the fd pidfd_getfd just made, ours alone.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    if let Err(e) = send_all(sock.as_raw_fd(), &t.end_message()) {
        target.fail(format!("the test's message to the target: {e}"));
    }
}

fn main() {
    let mut target = Target::spawn(setup);
    let filled = (
        target.peek_u64(FILLED_DGRAMS.as_ptr() as usize),
        target.peek_u64(FILLED_BYTES.as_ptr() as usize),
    );
    FILLED_DGRAMS.store(filled.0, Ordering::Relaxed);
    FILLED_BYTES.store(filled.1, Ordering::Relaxed);
    println!(
        "# the target queued {} datagrams and {} stream bytes",
        filled.0, filled.1
    );
    let pid = target.pid();
    let stop = AtomicBool::new(false);
    let rounds = AtomicU64::new(0);
    let tally = std::thread::scope(|s| {
        let racer = s.spawn(|| race(pid, filled, &stop, &rounds));
        target.wait_until("for the racer to start", || {
            rounds.load(Ordering::Acquire) > 0 || racer.is_finished()
        });
        checkpoints(&mut target, &racer);
        stop.store(true, Ordering::Release);
        match racer.join() {
            Ok(Ok(tally)) => tally,
            Ok(Err(e)) => target.fail(format!("the racer: {e}")),
            Err(_) => target.fail("the racer panicked"),
        }
    });
    report(&tally);
    if tally.rounds == 0 {
        target.fail("the racer made no round");
    }
    last_checkpoint(&mut target, &tally);
    send_end(&target, &tally);
    target.finish();
    pass("checkpoints of a target whose unix socket pairs a racing thread received from and sent to (plain, SCM_RIGHTS, MSG_OOB) through fds taken with pidfd_getfd() ended cleanly (saved, or EOPNOTSUPP, EBUSY, EAGAIN with a log line, or EINTR); the last, after the race, saved or refused for what was left (/dev/null only messages hold, out-of-band data); the target found its queues exactly as the racer left them and its sockets working");
}
