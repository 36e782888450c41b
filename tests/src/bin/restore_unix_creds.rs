//! Unix socket messages come back with the credentials they carry (SCM_CREDENTIALS): each
//! queued message keeps its sender's pid, uid and gid, the pid naming the restored task. The
//! target makes three pairs, forks a child C that holds them too and a child D, starts a
//! thread and leaves a zombie Z; C and D sleep across the checkpoint, Z stays a zombie. D sent
//! a message with credentials only a process with CAP_SETUID may claim, then dropped all its
//! capabilities (effective, permitted and inheritable sets empty, still uid 0).
//!
//! First, restarting with CAP_SETUID out of the restarter's effective set fails with EPERM and
//! a kernel log line naming D's credentials (SCM_CREDENTIALS, uid 1234, gid 5678): neither the
//! restarter nor D could pass them. Then the restart with every capability succeeds, and, in
//! order, each message comes back with its exact bytes and (pid, uid, gid):
//!
//! - G, datagram, received on G0 with SO_PASSCRED, all sent on G1:
//!   - "early", sent by the target before G0 had SO_PASSCRED, so without credentials: pid 0
//!     and the overflow ids (65534, 65534);
//!   - "parent", sent by the target: (target's pid, 0, 0);
//!   - "child", sent by C: (C's pid, 0, 0);
//!   - "dropped", sent by D, then still with every capability, with explicit credentials
//!     (D's pid, 1234, 5678);
//!   - "forged", sent by the target with explicit credentials (target's pid, 1234, 5678);
//!   - "thread", sent by a thread of the target, alive (asleep) at the checkpoint, with
//!     explicit credentials naming its tid: (thread's tid, 0, 0);
//!   - "zombie", sent by Z before it exited with status 7: (Z's pid, 0, 0); the target then
//!     reaps Z, which exited with status 7;
//!   - "withfile", sent by the target with an eventfd (count 5, closed since): one recvmsg
//!     gives (target's pid, 0, 0) and one fd, an eventfd that reads 5;
//! - T, stream, T0 with SO_PASSCRED before any write: the target wrote "aaa", C "bbb", the
//!   target "ccc": recvmsg() of 64 bytes gives "aaa" alone with (target's pid, 0, 0) (a reader
//!   with SO_PASSCRED does not read across a change of sender), then "bbb" with (C's pid, 0,
//!   0), then "ccc" with the target's;
//! - S, stream, S0 with SO_PASSCRED before any write: the target moved 65536 bytes of the byte
//!   pattern into S1 with one splice() from a pipe (of 64 KiB, filled first), which must
//!   move them all, then C wrote "zzz": one recvmsg() of 128 KiB gives exactly the 65536
//!   pattern bytes with (target's pid, 0, 0), a second "zzz" with (C's pid, 0, 0).
//!
//! G0, T0 and S0 hold nothing more (EAGAIN); the thread ends, C is woken and exits 0, D is
//! woken, finds its three capability sets still empty and exits 0. The restored children are C
//! and D asleep and Z a zombie. Run twice: checkpointed and restarted through the image file,
//! then through pipes.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::time::Duration;

use cr_tests::caps::{capget, capset, expect_restart_needs};
use cr_tests::proc::proc_state;
use cr_tests::target::{dry_run, was_woken};
use cr_tests::threads::{self, gettid};
use cr_tests::tree::{reap, wait_gone, wake_and_reap, zombie, Kid, Ready};
use cr_tests::unix::{
    close_all, move_fd, pattern, recv, recv_with_creds, send_all, send_with_creds, send_with_fd,
    setsockopt_int, socketpair_at, Creds,
};
use cr_tests::{
    check_byte_pattern, check_eq, check_os, pass, read_u64, wait_restored, write_all, Check,
    Target, KILL,
};

/// G: the datagram pair, its receiver and its sender.
const G0: RawFd = 40;
const G1: RawFd = 41;
/// T: the stream pair, its reader and its writer.
const T0: RawFd = 42;
const T1: RawFd = 43;
/// The eventfd "withfile" carries, until it is sent.
const E: RawFd = 44;
/// S: the stream pair the splice fills, its reader and its writer.
const S0: RawFd = 45;
const S1: RawFd = 46;

/// G's datagrams, in their order.
const EARLY: &[u8] = b"early";
const PARENT: &[u8] = b"parent";
const CHILD: &[u8] = b"child";
const DROPPED: &[u8] = b"dropped";
const FORGED: &[u8] = b"forged";
const THREAD: &[u8] = b"thread";
const ZOMBIE: &[u8] = b"zombie";
const WITH_FILE: &[u8] = b"withfile";
/// T's writes: the target's, C's, the target's.
const AAA: &[u8] = b"aaa";
const BBB: &[u8] = b"bbb";
const CCC: &[u8] = b"ccc";
/// S's contents: the bytes of [`pattern`] the target splices, C's write.
const SPLICED: usize = 65536;
const ZZZ: &[u8] = b"zzz";
/// Room for S's first recvmsg, twice what it should give.
const S_ROOM: usize = 128 << 10;
/// The capability D lacks, and the restarter in the failing restart: CAP_SETUID.
const CAP_SETUID: u32 = 7;

/// What SCM_CREDENTIALS says of a message sent without its sender's credentials.
const NO_CREDS: Creds = (0, 65534, 65534);
/// The uid and gid "forged" and "dropped" claim.
const FORGED_UID: libc::uid_t = 1234;
const FORGED_GID: libc::gid_t = 5678;
/// Z's exit status; the eventfd's count.
const ZOMBIE_CODE: i32 = 7;
const COUNT: u32 = 5;
/// Room for any message of the test.
const ROOM: usize = 64;

/// Where `/proc/self/fd/{fd}` leads.
fn link(fd: RawFd) -> Result<String, String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|l| l.to_string_lossy().into_owned())
        .map_err(|e| format!("readlink of fd {fd}: {e}"))
}

/// Receives the next message of `sock` (`what`) with its credentials: it must be `bytes`
/// with `creds`, and come with `fds` fds, which are returned.
fn expect_message(
    sock: RawFd,
    what: &str,
    bytes: &[u8],
    creds: Creds,
    fds: usize,
) -> Result<Vec<OwnedFd>, String> {
    let name = String::from_utf8_lossy(bytes);
    let (got, got_creds, got_fds) = recv_with_creds(sock, ROOM)?;
    check_eq(
        format_args!("{what}'s message {name:?}"),
        got.as_slice(),
        bytes,
    )?;
    check_eq(
        format_args!("the credentials of {what}'s {name:?} (pid, uid, gid)"),
        got_creds,
        creds,
    )?;
    check_eq(
        format_args!("the fds that came with {what}'s {name:?}"),
        got_fds.len(),
        fds,
    )?;
    Ok(got_fds)
}

/// `sock` holds nothing more.
fn drained(sock: RawFd, what: &str) -> Check {
    check_eq(
        format_args!("a recv of {what} after its messages"),
        recv(sock, ROOM, libc::MSG_DONTWAIT),
        Err(libc::EAGAIN),
    )
}

/// What the target found before the checkpoint, to compare after the restart.
struct Before {
    me: libc::pid_t,
    child: Kid,
    dropped: Kid,
    thread: threads::Thread,
    tid: libc::pid_t,
    zombie: libc::pid_t,
}

/// The thread: sends "thread" naming its tid, says so with its tid on `tx`, and sleeps
/// until the target is woken.
fn thread_setup() -> Result<(threads::Thread, libc::pid_t), String> {
    let (tx, rx) = mpsc::channel();
    let thread = threads::spawn(move || {
        let tid = gettid();
        let sent = send_with_creds(G1, THREAD, (tid, 0, 0), &[]).map(|()| tid);
        let _ = tx.send(sent);
        while !was_woken() {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })?;
    let tid = rx
        .recv()
        .map_err(|e| format!("the thread's report: {e}"))??;
    Ok((thread, tid))
}

/// Z: sends "zombie" and exits with [`ZOMBIE_CODE`], left unreaped.
fn zombie_setup() -> Result<libc::pid_t, String> {
    zombie(|| {
        if send_all(G1, ZOMBIE).is_ok() {
            // SAFETY: ends Z at once.
            unsafe { libc::_exit(ZOMBIE_CODE) }
        }
    })
}

/// Moves [`SPLICED`] bytes of [`pattern`] into the stream socket `sock` with one splice()
/// from a pipe of at least that size, which holds them all first; the splice must move them
/// all. The pipe is closed after.
fn splice_pattern(sock: RawFd) -> Check {
    let mut p = [0; 2];
    // SAFETY: pipe2 writes two fds.
    check_os(
        unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) },
        "pipe2",
    )?;
    let moved = (|| {
        // SAFETY: fcntl and splice on fds of ours; no memory involved.
        unsafe {
            let size = libc::fcntl(p[1], libc::F_SETPIPE_SZ, SPLICED as libc::c_int);
            check_os(size, format_args!("F_SETPIPE_SZ {SPLICED}"))?;
            write_all(p[1], &pattern(0, SPLICED))?;
            let n = libc::splice(
                p[0],
                std::ptr::null_mut(),
                sock,
                std::ptr::null_mut(),
                SPLICED,
                0,
            );
            check_os(
                n as i64,
                format_args!("splice of {SPLICED} bytes into fd {sock}"),
            )?;
            check_eq(
                format_args!("the bytes one splice() moved from a full pipe into fd {sock}"),
                n as usize,
                SPLICED,
            )
        }
    })();
    close_all(&p);
    moved
}

/// D: sends "dropped" with the explicit credentials (its pid, 1234, 5678), then drops all its
/// capabilities; after the restart, checks it has none still.
fn dropped_setup(ready: &Ready) -> Result<Kid, String> {
    ready.fork(0, |_| {
        close_all(&[G0, T0, T1, S0, S1]);
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        send_with_creds(G1, DROPPED, (me, FORGED_UID, FORGED_GID), &[])?;
        capset(0, 0, 0)?;
        check_eq("D's capability sets once dropped", capget()?, [0; 3])?;
        Ok(|| {
            check_eq(
                "D's capability sets (effective, permitted, inheritable) after the restart",
                capget()?,
                [0; 3],
            )
        })
    })
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    socketpair_at(libc::SOCK_DGRAM, G0, G1)?;
    socketpair_at(libc::SOCK_STREAM, T0, T1)?;
    socketpair_at(libc::SOCK_STREAM, S0, S1)?;
    send_all(G1, EARLY)?;
    setsockopt_int(G0, libc::SO_PASSCRED, 1)?;
    setsockopt_int(T0, libc::SO_PASSCRED, 1)?;
    setsockopt_int(S0, libc::SO_PASSCRED, 1)?;
    send_all(G1, PARENT)?;
    write_all(T1, AAA)?;
    splice_pattern(S1)?;
    // C sends its messages in its setup: they are queued once it is ready.
    let ready = Ready::new()?;
    let child = ready.fork(0, |_| {
        close_all(&[G0, T0, S0]);
        send_all(G1, CHILD)?;
        write_all(T1, BBB)?;
        write_all(S1, ZZZ)?;
        Ok(|| Ok(()))
    })?;
    ready.wait(1)?;
    let ready = Ready::new()?;
    let dropped = dropped_setup(&ready)?;
    ready.wait(1)?;
    send_with_creds(G1, FORGED, (me, FORGED_UID, FORGED_GID), &[])?;
    let (thread, tid) = thread_setup()?;
    let zombie = zombie_setup()?;
    // SAFETY: eventfd takes integers and makes an fd of ours.
    let e = unsafe { libc::eventfd(COUNT, 0) };
    check_os(e, "eventfd")?;
    move_fd(e, E)?;
    send_with_fd(G1, WITH_FILE, E)?;
    close_all(&[E]);
    write_all(T1, CCC)?;
    let before = Before {
        me,
        child,
        dropped,
        thread,
        tid,
        zombie,
    };
    Ok(move || {
        wait_restored();
        check(before)
    })
}

/// In the target, after the restart.
fn check(b: Before) -> Check {
    let me = b.me;
    // SAFETY: getpid has no preconditions.
    check_eq("getpid() after the restart", unsafe { libc::getpid() }, me)?;
    for (bytes, creds) in [
        (EARLY, NO_CREDS),
        (PARENT, (me, 0, 0)),
        (CHILD, (b.child.pid, 0, 0)),
        (DROPPED, (b.dropped.pid, FORGED_UID, FORGED_GID)),
        (FORGED, (me, FORGED_UID, FORGED_GID)),
        (THREAD, (b.tid, 0, 0)),
        (ZOMBIE, (b.zombie, 0, 0)),
    ] {
        expect_message(G0, "G0", bytes, creds, 0)?;
    }
    reap(&[Kid {
        pid: b.zombie,
        code: ZOMBIE_CODE,
    }])?;
    let [e] = <[OwnedFd; 1]>::try_from(expect_message(G0, "G0", WITH_FILE, (me, 0, 0), 1)?)
        .map_err(|_| "one fd, not one")?;
    let e = e.as_raw_fd();
    check_eq(
        "the fd that came with \"withfile\"",
        link(e)?,
        "anon_inode:[eventfd]".to_string(),
    )?;
    check_eq(
        "the count of the eventfd that came with \"withfile\"",
        read_u64(e),
        Ok(u64::from(COUNT)),
    )?;
    drained(G0, "G0")?;
    for (bytes, creds) in [
        (AAA, (me, 0, 0)),
        (BBB, (b.child.pid, 0, 0)),
        (CCC, (me, 0, 0)),
    ] {
        expect_message(T0, "T0", bytes, creds, 0)?;
    }
    drained(T0, "T0")?;
    let (got, creds, fds) = recv_with_creds(S0, S_ROOM)?;
    check_eq(
        "the bytes of S0's first recvmsg (the splice's)",
        got.len(),
        SPLICED,
    )?;
    check_byte_pattern("the bytes of S0's first recvmsg (the splice's)", &got, 0)?;
    check_eq(
        "the credentials of S0's first recvmsg (pid, uid, gid)",
        creds,
        (me, 0, 0),
    )?;
    check_eq("the fds that came with S0's first recvmsg", fds.len(), 0)?;
    expect_message(S0, "S0", ZZZ, (b.child.pid, 0, 0), 0)?;
    drained(S0, "S0")?;
    b.thread.join(Duration::from_secs(10))?;
    wake_and_reap(&[b.child, b.dropped])
}

/// The states of `pids` (from /proc), sorted.
fn states(pids: &[libc::pid_t]) -> Vec<Option<char>> {
    let mut s: Vec<_> = pids.iter().map(|&p| proc_state(p)).collect();
    s.sort();
    s
}

/// Spawns the target, checkpoints it once C and D sleep and Z is a zombie, expects a restart
/// without CAP_SETUID to fail on D's message, restarts it (the image through pipes if
/// `through_pipe`), expects C and D asleep and Z a zombie again, and the target's checks to
/// hold.
fn run(through_pipe: bool) {
    let want = vec![Some('S'), Some('S'), Some('Z')];
    let mut target = Target::spawn(setup);
    if through_pipe {
        target.through_pipes();
    }
    let kids = target.descendants(3);
    target.wait_until("for C and D to sleep and Z to be a zombie", || {
        states(&kids) == want
    });
    target.checkpoint(KILL);
    if !dry_run() {
        wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
        expect_restart_needs(
            &mut target,
            CAP_SETUID,
            &format!("credentials (SCM_CREDENTIALS, uid {FORGED_UID}, gid {FORGED_GID})"),
        );
    }
    target.restart();
    target.expect_asleep(Duration::from_millis(300));
    let kids = target.descendants(3);
    let now = states(&kids);
    if now != want {
        target.fail(format!(
            "the restored children {kids:?} are in states {now:?}, should be {want:?}"
        ));
    }
    target.finish();
}

fn main() {
    run(false);
    run(true);
    pass("unix socket messages come back with the credentials they carry (SCM_CREDENTIALS), checkpointed and restarted through a file, then through pipes: none for a datagram sent before SO_PASSCRED (pid 0, overflow ids), the target's, a child's, forged ids, a thread's tid, a zombie's (reaped after, with its status), the target's with an eventfd; a stream reader with SO_PASSCRED reads each sender's bytes apart, and a 64 KiB splice whole in one recvmsg; ids forged by a child that dropped its capabilities need CAP_SETUID of the restarter (EPERM without)");
}
