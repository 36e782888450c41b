//! Images crafted from a real checkpoint, with one field an attacker controls set to a hostile
//! value and the tail fixed up so that the checksum passes, are refused with EINVAL (EBADMSG
//! where the crafted image is also cut short): a log line, no task left behind, the restarting
//! process unharmed and no kernel report. The intact image then restarts and passes its checks.
//!
//! ```text
//! root
//! ├── z   zombie, exited with status 5
//! ├── k   alive
//! └── k2  alive
//! ```
//!
//! Each case names the item of the review (issue "Hostile images and racing callers") it
//! reproduces: before its fix, a case failed as its comment says.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

use abi::Record;
use cr_tests::craft::{expect_refused, Image, Rec};
use cr_tests::tree::{descendants, exit_with, wait_gone, wake_and_reap, zombie, Kid, Ready};
use cr_tests::{pass, wait_restored, Check, Target, KILL};

/// What the root's pipe holds.
const PIPE_BYTES: &[u8] = b"pipe data";

/// Where the root's deleted file holds [`PIPE_BYTES`] the second time, after a hole; its size.
const DELETED_AT: usize = 1 << 20;
const DELETED_SIZE: usize = DELETED_AT + PIPE_BYTES.len();

/// The most bytes the unlinked files of the target may hold in all, for the checkpoint.
const UNLINKED_MAX: u64 = 4 << 20;

/// The bytes of [`locked_in`] (first and last) that the root's OFD write lock holds, its
/// POSIX write lock and its POSIX read lock.
const OFD_LOCK: (i64, i64) = (0, 99);
const POSIX_WRITE: (i64, i64) = (100, 199);
const POSIX_READ: (i64, i64) = (200, 299);

/// An fd the root does not have open.
const NOT_OPEN: i64 = 999;

/// What the first socket of the root's stream pair holds, from the other.
const UNIX_BYTES: &[u8] = b"hello";

/// What the first socket of the root's seqpacket pair holds, from the other, in a message
/// that carries the root's eventfd and the read end of a pipe that only the message holds,
/// which holds [`CARRIED_PIPE_BYTES`].
const CARRIED: &[u8] = b"carried";
const CARRIED_PIPE_BYTES: &[u8] = b"in flight";
/// The eventfd's count when the root made it, and what the restored root adds through the
/// file the message carries.
const EVENTFD_COUNT: u64 = 1;
const EVENTFD_ADDED: u64 = 2;

/// What the receiver of the root's second datagram pair, which has SO_PASSCRED, holds from
/// the other socket, in a message that carries the root's credentials (SCM_CREDENTIALS).
const WITH_CREDS: &[u8] = b"with creds";

/// TLS entries `set_thread_area()` cannot make, each otherwise a sane user (DPL 3) segment:
/// `tls_desc_okay()` refuses 16-bit, code and not-present segments (a 16-bit stack segment is
/// the CVE-2014-8133 class: it leaks kernel stack bits through espfix-less iret), and
/// `fill_ldt()` always sets the accessed bit (the CPU would write it into the read-only GDT:
/// an oops) and never the long-mode bit.
const BAD_TLS: [(&str, u32, u32); 5] = [
    ("a 16-bit data segment", 0x0000_ffff, 0x0000_f300),
    ("a code segment", 0x0000_ffff, 0x00cf_fb00),
    (
        "a data segment that is not present",
        0x0000_ffff,
        0x00cf_7300,
    ),
    (
        "a data segment without its accessed bit",
        0x0000_ffff,
        0x00cf_f200,
    ),
    ("a long-mode data segment", 0x0000_ffff, 0x00ef_f300),
];

/// The root keeps `plain` open for reading: a regular file without exec permission, an
/// eventfd, a signalfd, a timerfd due in 100 s, a pipe that holds [`PIPE_BYTES`], an epoll
/// instance that watches the pipe and the eventfd, a reader and a writer of the FIFO
/// [`fifo_of`] `plain`, which holds [`PIPE_BYTES`] too, and a memfd of 2 MiB sealed against
/// growing that holds [`PIPE_BYTES`] at 0 and at 1 MiB, between holes, with a second file
/// opened through /proc/self/fd; the unlinked files of [`unlinked_files`], in the
/// directory of `plain`; the locked file of [`lock_files`] there; and the unix socket pairs
/// of [`unix_pairs`], one of which holds a message that carries the eventfd, another one
/// that carries the root's credentials; and the sockets of [`named_sockets`], bound to names,
/// one to the path [`sock_in`] the directory of `plain`.
fn setup(plain: &str) -> Result<impl FnOnce() -> Check, String> {
    let fifo = std::ffi::CString::new(fifo_of(plain)).map_err(|e| e.to_string())?;
    let dir = dir_of(plain);
    let locked = locked_in(&dir);
    std::fs::write(plain, b"not a program\n").map_err(|e| format!("write {plain}: {e}"))?;
    let plain = std::fs::File::open(plain).map_err(|e| format!("open {plain}: {e}"))?;
    // SAFETY: creates fds, left open; the signal set is filled by the libc calls.
    let efd = unsafe {
        let efd = libc::eventfd(EVENTFD_COUNT as u32, 0);
        cr_tests::check_os(efd, "eventfd")?;
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        cr_tests::check_os(libc::signalfd(-1, &set, 0), "signalfd")?;
        let timer = libc::timerfd_create(libc::CLOCK_MONOTONIC, 0);
        cr_tests::check_os(timer, "timerfd_create")?;
        let spec = libc::itimerspec {
            it_value: libc::timespec {
                tv_sec: 100,
                tv_nsec: 0,
            },
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let r = libc::timerfd_settime(timer, 0, &spec, std::ptr::null_mut());
        cr_tests::check_os(r, "timerfd_settime")?;
        let mut fds = [0; 2];
        cr_tests::check_os(libc::pipe(fds.as_mut_ptr()), "pipe")?;
        let n = libc::write(fds[1], PIPE_BYTES.as_ptr().cast(), PIPE_BYTES.len());
        cr_tests::check_os(n as i64, "write to the pipe")?;
        let ep = libc::epoll_create1(0);
        cr_tests::check_os(ep, "epoll_create1")?;
        let watches = [
            (fds[0], libc::EPOLLIN, 7),
            (efd, libc::EPOLLIN | libc::EPOLLET, 8),
        ];
        for (fd, events, data) in watches {
            cr_tests::epoll_add(ep, fd, events as u32, data)?;
        }
        libc::unlink(fifo.as_ptr());
        cr_tests::check_os(libc::mkfifo(fifo.as_ptr(), 0o600), "mkfifo")?;
        let r = libc::open(fifo.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK);
        cr_tests::check_os(r, "open the FIFO to read")?;
        let w = libc::open(fifo.as_ptr(), libc::O_WRONLY);
        cr_tests::check_os(w, "open the FIFO to write")?;
        let n = libc::write(w, PIPE_BYTES.as_ptr().cast(), PIPE_BYTES.len());
        cr_tests::check_os(n as i64, "write to the FIFO")?;
        let m = libc::memfd_create(c"crafted".as_ptr(), libc::MFD_ALLOW_SEALING);
        cr_tests::check_os(m, "memfd_create")?;
        cr_tests::check_os(libc::ftruncate(m, 2 << 20), "ftruncate the memfd")?;
        for at in [0, 1 << 20] {
            let n = libc::pwrite(m, PIPE_BYTES.as_ptr().cast(), PIPE_BYTES.len(), at);
            cr_tests::check_os(n as i64, "write to the memfd")?;
        }
        let sealed = libc::fcntl(m, libc::F_ADD_SEALS, libc::F_SEAL_GROW);
        cr_tests::check_os(sealed, "F_ADD_SEALS")?;
        let again = std::ffi::CString::new(format!("/proc/self/fd/{m}")).unwrap_or_default();
        let r = libc::open(again.as_ptr(), libc::O_RDONLY);
        cr_tests::check_os(r, "open the memfd again")?;
        efd
    };
    let (deleted, tmpfile) = unlinked_files(&dir)?;
    lock_files(&locked)?;
    posix_timers()?;
    let sockets = unix_pairs(efd)?;
    let path_name = named_sockets(&dir)?;
    cr_tests::pty::open_master_at(0, PTY_MASTER)?;
    cr_tests::pty::unlock(PTY_MASTER)?;
    cr_tests::pty::open_slave_at(PTY_MASTER, 0, PTY_SLAVE)?;
    let ready = Ready::new()?;
    let z = zombie(exit_with(5))?;
    let k = ready.fork(42, |_| Ok(|| Ok(())))?;
    let k2 = ready.fork(43, |_| Ok(|| Ok(())))?;
    ready.wait(2)?;
    let kids = [Kid { pid: z, code: 5 }, k, k2];
    Ok(move || {
        wait_restored();
        drop(plain);
        let unlinked = check_unlinked(deleted, tmpfile);
        let locks = check_locks(&locked);
        let unix = check_unix_pairs(sockets).and(check_named(&path_name));
        let reaped = wake_and_reap(&kids);
        unlinked.and(locks).and(unix).and(reaped)
    })
}

/// The file the root holds locks of, in `dir`.
fn locked_in(dir: &str) -> String {
    format!("{dir}/locked")
}

/// `fcntl(fd, cmd)` with a lock of `ty` (`F_RDLCK`, `F_WRLCK`) of the bytes `range` (first
/// and last, `i64::MAX` for up to the end of the file): the lock the call returns.
fn fcntl_lock(
    fd: RawFd,
    cmd: libc::c_int,
    ty: libc::c_int,
    (start, end): (i64, i64),
) -> Result<libc::flock, String> {
    // SAFETY: an all-zero flock is valid (l_pid 0, as the OFD commands want).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start;
    fl.l_len = if end == i64::MAX { 0 } else { end - start + 1 };
    // SAFETY: `fl` is valid for the call, which reads and may fill it.
    let r = unsafe { libc::fcntl(fd, cmd, &mut fl as *mut libc::flock) };
    cr_tests::check_os(
        r,
        format_args!("fcntl({fd}, {cmd}) of bytes {start}..={end}"),
    )?;
    Ok(fl)
}

/// Locks of `path`, made with a line of text, each in a file of its own left open: read-write
/// with an exclusive flock() lock; read-write with an OFD write lock of [`OFD_LOCK`]; and,
/// owned by the root's fd table and process, POSIX locks: a write lock of [`POSIX_WRITE`]
/// through the fd of the first file, and a read lock of [`POSIX_READ`] through that of a
/// third, read-only. No fd of `path` may be closed after: that would drop the POSIX locks.
fn lock_files(path: &str) -> Check {
    std::fs::write(path, b"locked\n").map_err(|e| format!("write {path}: {e}"))?;
    let cpath = CString::new(path).map_err(|e| e.to_string())?;
    let open = |flags: libc::c_int| {
        // SAFETY: open of a valid C string.
        let fd = unsafe { libc::open(cpath.as_ptr(), flags) };
        cr_tests::check_os(fd, format_args!("open {path}")).map(|()| fd)
    };
    let ex = open(libc::O_RDWR)?;
    // SAFETY: flock of our own fd.
    let r = unsafe { libc::flock(ex, libc::LOCK_EX | libc::LOCK_NB) };
    cr_tests::check_os(r, format_args!("flock {path}"))?;
    let ofd = open(libc::O_RDWR)?;
    fcntl_lock(ofd, libc::F_OFD_SETLK, libc::F_WRLCK, OFD_LOCK)?;
    fcntl_lock(ex, libc::F_SETLK, libc::F_WRLCK, POSIX_WRITE)?;
    let ro = open(libc::O_RDONLY)?;
    fcntl_lock(ro, libc::F_SETLK, libc::F_RDLCK, POSIX_READ)?;
    Ok(())
}

/// Checks, after the restart, that the locks of [`lock_files`] are held: a file of `path`
/// opened anew is refused an exclusive flock() lock, and finds the OFD and POSIX locks in
/// the way of a write lock of their bytes. Its close drops the root's POSIX locks.
fn check_locks(path: &str) -> Check {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: flock of our own fd.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Err(format!(
            "{path}: an exclusive flock() lock was granted: the restored one is not held"
        ));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(format!("flock {path}: {e}"));
    }
    for (what, range, ty) in [
        ("OFD write lock", OFD_LOCK, libc::F_WRLCK),
        ("POSIX write lock", POSIX_WRITE, libc::F_WRLCK),
        ("POSIX read lock", POSIX_READ, libc::F_RDLCK),
    ] {
        let (start, end) = range;
        let fl = fcntl_lock(fd, libc::F_OFD_GETLK, libc::F_WRLCK, range)?;
        cr_tests::check_eq(
            format_args!("{path}: the {what}'s type, first byte and length"),
            (libc::c_int::from(fl.l_type), fl.l_start, fl.l_len),
            (ty, start, end - start + 1),
        )?;
    }
    Ok(())
}

/// Checks, in the harness, that no lock of `path` is left: an exclusive flock() lock and an
/// OFD write lock of the whole file are free.
fn locks_free(path: &str) -> Check {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let fl = fcntl_lock(fd, libc::F_OFD_GETLK, libc::F_WRLCK, (0, i64::MAX))?;
    if libc::c_int::from(fl.l_type) != libc::F_UNLCK {
        return Err(format!(
            "{path}: a lock of type {} of {} bytes from {} is left (pid {})",
            fl.l_type, fl.l_len, fl.l_start, fl.l_pid
        ));
    }
    // SAFETY: flock of our own fd; closing it drops the lock.
    let r = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
    cr_tests::check_os(r, format_args!("{path}: an exclusive flock() lock"))
}

/// The directory `plain` is in.
fn dir_of(plain: &str) -> String {
    let dir = std::path::Path::new(plain).parent();
    dir.map_or_else(|| ".".into(), |d| d.to_string_lossy().into_owned())
}

/// A file opened again through /proc/self/fd/`fd` with `flags`: its fd.
fn reopen(fd: RawFd, flags: libc::c_int) -> Result<RawFd, String> {
    let path = CString::new(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
    // SAFETY: open of a valid C string.
    let again = unsafe { libc::open(path.as_ptr(), flags) };
    cr_tests::check_os(again, format_args!("open /proc/self/fd/{fd}"))?;
    Ok(again)
}

/// Unlinked files in `dir`, which checkpoint saves with `CKPT_UNLINKED`: one deleted while
/// open, that holds [`PIPE_BYTES`] at 0 and at [`DELETED_AT`] with a hole between (two runs
/// of bytes: a page, then [`PIPE_BYTES`] to its end), held by an fd, a dup of it and a
/// second file opened through /proc/self/fd; and one made with `O_TMPFILE` (linkable) that
/// holds [`PIPE_BYTES`]. The `O_TMPFILE` file is held by a file opened again through
/// /proc/self/fd, its first closed, so that the cases that change flags start from plain
/// ones. Returns the deleted file's second file and the `O_TMPFILE` file's.
fn unlinked_files(dir: &str) -> Result<(RawFd, RawFd), String> {
    let path = format!("{dir}/deleted");
    let cpath = CString::new(path.clone()).map_err(|e| e.to_string())?;
    let cdir = CString::new(dir).map_err(|e| e.to_string())?;
    let excl = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    // SAFETY: open, pwrite, dup, unlink and close of valid C strings, buffers of their
    // length and fds of our own.
    unsafe {
        let fd = libc::open(cpath.as_ptr(), excl, 0o600 as libc::c_uint);
        cr_tests::check_os(fd, format_args!("create {path}"))?;
        for at in [0, DELETED_AT] {
            let n = libc::pwrite(fd, PIPE_BYTES.as_ptr().cast(), PIPE_BYTES.len(), at as i64);
            cr_tests::check_os(n as i64, format_args!("write to {path}"))?;
        }
        cr_tests::check_os(libc::dup(fd), format_args!("dup the fd of {path}"))?;
        let deleted = reopen(fd, libc::O_RDONLY)?;
        cr_tests::check_os(libc::unlink(cpath.as_ptr()), format_args!("unlink {path}"))?;
        let flags = libc::O_TMPFILE | libc::O_RDWR;
        let first = libc::open(cdir.as_ptr(), flags, 0o600 as libc::c_uint);
        cr_tests::check_os(first, format_args!("open {dir} with O_TMPFILE"))?;
        cr_tests::write_all(first, PIPE_BYTES)?;
        let tmpfile = reopen(first, libc::O_RDWR)?;
        libc::close(first);
        Ok((deleted, tmpfile))
    }
}

/// Checks, after the restart, the size and bytes of the unlinked files of [`unlinked_files`]
/// through `deleted` and `tmpfile`.
fn check_unlinked(deleted: RawFd, tmpfile: RawFd) -> Check {
    // SAFETY: a zeroed stat is valid for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fills `st`.
    let r = unsafe { libc::fstat(deleted, &mut st) };
    cr_tests::check_os(r, "fstat of the deleted file")?;
    cr_tests::check_eq("the deleted file's size", st.st_size, DELETED_SIZE as i64)?;
    cr_tests::check_eq("its link count", st.st_nlink, 0)?;
    let len = PIPE_BYTES.len();
    for (what, fd, at) in [
        ("the deleted file's bytes at 0", deleted, 0),
        (
            "the deleted file's bytes after its hole",
            deleted,
            DELETED_AT,
        ),
        ("the O_TMPFILE file's bytes", tmpfile, 0),
    ] {
        cr_tests::check_eq(
            what,
            cr_tests::pread_exact(fd, len, at)?,
            PIPE_BYTES.to_vec(),
        )?;
    }
    Ok(())
}

/// The root's unix sockets of [`unix_pairs`], and its eventfd.
struct UnixSockets {
    /// The stream pair's first socket, which holds [`UNIX_BYTES`].
    first: RawFd,
    /// The datagram pair's sockets.
    a: RawFd,
    b: RawFd,
    /// The seqpacket pair's first socket, which holds the message that carries files.
    carrier: RawFd,
    /// The eventfd, of count [`EVENTFD_COUNT`], that the message carries too.
    efd: RawFd,
    /// The second datagram pair's receiver, with SO_PASSCRED, which holds [`WITH_CREDS`].
    creds: RawFd,
}

/// A stream pair made by socketpair(2), whose first socket (the lower fd, first in the image)
/// holds [`UNIX_BYTES`] written by the other; an empty datagram pair; and a seqpacket pair
/// whose first socket holds [`CARRIED`] from the other, in a message that carries (SCM_RIGHTS)
/// the eventfd `efd`, which the root keeps, and the read end of a pipe that holds
/// [`CARRIED_PIPE_BYTES`], whose ends the root closed: its messages come after the last task,
/// in a `UnixQueue` record, after the `File` record of the pipe. And a second datagram pair
/// whose first socket, with SO_PASSCRED, holds [`WITH_CREDS`] from the other, in a message
/// that carries the root's credentials (SCM_CREDENTIALS): after the last task too.
fn unix_pairs(efd: RawFd) -> Result<UnixSockets, String> {
    let pair = |ty: libc::c_int| {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds, left open.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) };
        cr_tests::check_os(r, format_args!("socketpair of type {ty}")).map(|()| fds)
    };
    let [first, second] = pair(libc::SOCK_STREAM)?;
    cr_tests::write_all(second, UNIX_BYTES)?;
    let [a, b] = pair(libc::SOCK_DGRAM)?;
    let [carrier, sender] = pair(libc::SOCK_SEQPACKET)?;
    let mut ends = [0; 2];
    // SAFETY: pipe writes two fds.
    let r = unsafe { libc::pipe(ends.as_mut_ptr()) };
    cr_tests::check_os(r, "pipe")?;
    cr_tests::write_all(ends[1], CARRIED_PIPE_BYTES)?;
    cr_tests::unix::send_with_fds(sender, CARRIED, &[efd, ends[0]])?;
    cr_tests::unix::close_all(&ends);
    let [creds, creds_sender] = pair(libc::SOCK_DGRAM)?;
    cr_tests::unix::setsockopt_int(creds, libc::SO_PASSCRED, 1)?;
    cr_tests::write_all(creds_sender, WITH_CREDS)?;
    Ok(UnixSockets {
        first,
        a,
        b,
        carrier,
        efd,
        creds,
    })
}

/// What one recv() of up to 64 bytes of `fd` gives, without waiting.
fn recv_now(fd: RawFd) -> Result<Vec<u8>, String> {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` has room for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    cr_tests::check_os(n as i64, format_args!("recv of fd {fd}"))?;
    Ok(buf[..n as usize].to_vec())
}

/// Checks, after the restart, the pairs of [`unix_pairs`]: the stream pair's first socket
/// holds [`UNIX_BYTES`]; a datagram goes from one socket of the datagram pair to the other;
/// the seqpacket pair's first socket holds [`CARRIED`] with two files, the root's eventfd
/// (what is written through it reads through the root's fd) and the pipe's read end, which
/// reads [`CARRIED_PIPE_BYTES`], then its end; the second datagram pair's first socket holds
/// [`WITH_CREDS`] with the root's credentials (its pid, uid 0, gid 0).
fn check_unix_pairs(s: UnixSockets) -> Check {
    cr_tests::check_eq(
        "the credentials of the message the second datagram pair holds (pid, uid, gid)",
        cr_tests::unix::peek_creds(s.creds)?,
        (std::process::id() as libc::pid_t, 0, 0),
    )?;
    cr_tests::check_eq(
        "the message the second datagram pair holds",
        recv_now(s.creds)?,
        WITH_CREDS.to_vec(),
    )?;
    cr_tests::check_eq(
        "the bytes the stream socket holds",
        recv_now(s.first)?,
        UNIX_BYTES.to_vec(),
    )?;
    cr_tests::write_all(s.a, b"ping")?;
    cr_tests::check_eq(
        "the datagram through the datagram pair",
        recv_now(s.b)?,
        b"ping".to_vec(),
    )?;
    let (bytes, fds) = cr_tests::unix::recv_with_fds(s.carrier, 64, 4, libc::MSG_DONTWAIT)?;
    cr_tests::check_eq(
        "the message the seqpacket socket holds",
        bytes.as_slice(),
        CARRIED,
    )?;
    let [eventfd, pipe] = <[_; 2]>::try_from(fds)
        .map_err(|fds| format!("the message came with {} fds, expected 2", fds.len()))?;
    cr_tests::write_all(eventfd.as_raw_fd(), &EVENTFD_ADDED.to_ne_bytes())?;
    cr_tests::check_eq(
        "the root's eventfd, once written through the file the message carries",
        cr_tests::read_u64(s.efd),
        Ok(EVENTFD_COUNT + EVENTFD_ADDED),
    )?;
    cr_tests::check_eq(
        "the bytes of the pipe the message carries",
        cr_tests::read_exact(pipe.as_raw_fd(), CARRIED_PIPE_BYTES.len())?,
        CARRIED_PIPE_BYTES.to_vec(),
    )?;
    cr_tests::check_eq(
        "a read of the pipe past its bytes (no writer)",
        cr_tests::read_some(pipe.as_raw_fd()),
        Ok(0),
    )
}

/// The root's stream socket bound to [`listener_name`], listening with backlog
/// [`BACKLOG`], its datagram socket bound to [`dgram_name`] and its datagram socket bound to
/// the path [`sock_in`] its directory, each connected to none.
const LISTENER: RawFd = 60;
const BOUND_DGRAM: RawFd = 61;
const BOUND_PATH: RawFd = 62;
/// A pty's master and a file of its slave.
const PTY_MASTER: RawFd = 63;
const PTY_SLAVE: RawFd = 64;
const BACKLOG: libc::c_int = 3;

/// The path [`BOUND_PATH`] is bound to, in the directory `dir`: its socket file, which the
/// target leaves there when it is killed.
fn sock_in(dir: &str) -> String {
    format!("{dir}/bound.sock")
}

/// The abstract name of the listening socket of the root `root`.
fn listener_name(root: i32) -> Vec<u8> {
    format!("\0crafted-{root}").into_bytes()
}

/// The abstract name of the bound datagram socket of the root `root`.
fn dgram_name(root: i32) -> Vec<u8> {
    format!("\0crafted-dgram-{root}").into_bytes()
}

/// Makes [`LISTENER`], [`BOUND_DGRAM`] and [`BOUND_PATH`], bound to [`sock_in`] `dir`, which
/// holds no message: each a `UnixPair` record of peer `UNIX_PAIR_NONE`, then its `UnixSock`
/// with `UNIX_BOUND` (and `UNIX_LISTENING`), then its `UnixName`; [`BOUND_PATH`]'s is a path,
/// followed by a `UnixPath` record with its socket inode and a `String` with where that is.
/// Returns the name getsockname(2) gives [`BOUND_PATH`].
fn named_sockets(dir: &str) -> Result<Vec<u8>, String> {
    let root = std::process::id() as i32;
    cr_tests::unix::socket_at(libc::SOCK_STREAM, LISTENER)?;
    cr_tests::unix::bind(LISTENER, &listener_name(root))?;
    cr_tests::unix::listen(LISTENER, BACKLOG)?;
    cr_tests::unix::socket_at(libc::SOCK_DGRAM, BOUND_DGRAM)?;
    cr_tests::unix::bind(BOUND_DGRAM, &dgram_name(root))?;
    cr_tests::unix::socket_at(libc::SOCK_DGRAM, BOUND_PATH)?;
    cr_tests::unix::bind(BOUND_PATH, sock_in(dir).as_bytes())?;
    sockname(BOUND_PATH)
}

/// The name the socket `fd` is bound to (getsockname(2)).
fn sockname(fd: RawFd) -> Result<Vec<u8>, String> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `sun` has room for the `len` bytes the call may write.
    let r = unsafe { libc::getsockname(fd, (&raw mut sun).cast(), &mut len) };
    cr_tests::check_os(r, format_args!("getsockname(fd {fd})"))?;
    let n = (len as usize).saturating_sub(std::mem::size_of::<libc::sa_family_t>());
    Ok(sun.sun_path[..n.min(sun.sun_path.len())]
        .iter()
        .map(|&c| c as u8)
        .collect())
}

/// Checks, after the restart, the sockets of [`named_sockets`]: each has its name (the one
/// bound to a path `path_name`, as before the checkpoint), the stream one listens and the
/// datagram ones do not; a datagram sent to the path from a new socket reaches the socket
/// bound to it.
fn check_named(path_name: &[u8]) -> Check {
    let root = std::process::id() as i32;
    let sockets = [
        ("listening", LISTENER, listener_name(root), 1),
        ("bound datagram", BOUND_DGRAM, dgram_name(root), 0),
        (
            "datagram bound to a path",
            BOUND_PATH,
            path_name.to_vec(),
            0,
        ),
    ];
    for (what, fd, name, accepts) in sockets {
        cr_tests::check_eq(
            format_args!("the name of the {what} socket"),
            sockname(fd)?,
            name,
        )?;
        cr_tests::check_eq(
            format_args!("SO_ACCEPTCONN of the {what} socket"),
            cr_tests::unix::getsockopt_int(fd, libc::SO_ACCEPTCONN)?,
            accepts,
        )?;
    }
    let to = path_name.strip_suffix(b"\0").unwrap_or(path_name);
    // SAFETY: socket takes integers.
    let sender = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) };
    cr_tests::check_os(sender, "socket(AF_UNIX, SOCK_DGRAM)")?;
    let sent = cr_tests::unix::send_to(sender, b"to the path", to);
    // SAFETY: closes the fd made above.
    unsafe { libc::close(sender) };
    let shown = String::from_utf8_lossy(to);
    sent.map_err(|e| format!("sendto {shown}: {}", cr_tests::describe_errno(e)))?;
    cr_tests::check_eq(
        format_args!("the datagram sent to {shown}"),
        recv_now(BOUND_PATH)?,
        b"to the path".to_vec(),
    )
}

/// Two POSIX timers in the root, 600 s to go, one with a 1 s interval.
fn posix_timers() -> Check {
    for interval in [0, 1] {
        // SAFETY: an all-zero sigevent is valid; the fields that matter are set below.
        let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
        ev.sigev_notify = libc::SIGEV_SIGNAL;
        ev.sigev_signo = libc::SIGRTMIN();
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `ev` and `id` are valid for the call.
        cr_tests::check_os(
            unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut id) },
            "timer_create",
        )?;
        let its = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: interval,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: 600,
                tv_nsec: 0,
            },
        };
        // SAFETY: `id` is the timer just made; the old value is not asked for.
        cr_tests::check_os(
            unsafe { libc::timer_settime(id, 0, &its, std::ptr::null_mut()) },
            "timer_settime",
        )?;
    }
    Ok(())
}

/// Where a file's `File` record is in an image.
type FileOf = fn(&Image) -> usize;

/// Where the first pty's `PtyQueue` record of side `side` is in an image: 0 for its slave's
/// (right after its `Pty` record), 1 for its master's (the next one). The target's pty has
/// nothing unread: the queue must announce no bytes.
fn pty_queue(image: &Image, side: usize) -> usize {
    let slave = image.next::<abi::PtyQueue>(image.next::<abi::Pty>(0));
    let q = match side {
        0 => slave,
        _ => image.next::<abi::PtyQueue>(slave + 1),
    };
    let r = &image.recs[q];
    assert_eq!(
        (r.get("len"), r.get("canon"), r.get("flip"), r.get("echo")),
        (0, 0, 0, 0),
        "the target's pty queue {side}: (len, canon, flip, echo)"
    );
    q
}

/// Gives pty queue `side` of `image` (0 the slave's, 1 the master's) the echoes `echoes`
/// (its `Data` record), of which `commit` committed and `mark` up to its echo mark.
fn pty_echoes(image: &mut Image, side: usize, echoes: &[u8], commit: u32, mark: u32) {
    let q = pty_queue(image, side);
    let echo = echoes.len() as u32;
    image
        .rec(q)
        .set("echo", echo.into())
        .set("echo_commit", commit.into())
        .set("echo_mark", mark.into());
    image.recs.insert(q + 1, data_rec(echoes.to_vec()));
}

/// A `Data` record of `bytes`.
fn data_rec(bytes: Vec<u8>) -> Rec {
    Rec {
        ty: abi::RecordType::Data.id(),
        payload: bytes,
    }
}

/// A value for a field, read from an image.
type FieldOf = fn(&Image) -> i64;

/// The FIFO the root of the target holds, beside `plain`.
fn fifo_of(plain: &str) -> String {
    format!("{plain}.fifo")
}

/// The image's processes: the root, its zombie child and its two live children.
struct Tree {
    /// The file the root holds open for reading.
    plain: String,
    /// The FIFO it holds a reader and a writer of.
    fifo: String,
    /// The directory of both, where its unlinked files were.
    dir: String,
    /// The file it holds locks of ([`lock_files`]).
    locked: String,
    /// The path its datagram socket [`BOUND_PATH`] is bound to, in `dir`.
    sock: String,
    root: i32,
    zombie: i32,
    kid: i32,
    kid2: i32,
}

fn objref(image: &Image, pid: i32) -> i64 {
    image.recs[image.task(pid)].get("objref")
}

/// The cases: what each does to the image, and whether to cut the tail off after.
fn cases(base: &Image, t: &Tree) -> Vec<Case> {
    let mut out = Vec::new();
    let mut case = |what: &str, cut: bool, craft: &dyn Fn(&mut Image)| {
        let mut image = base.clone();
        craft(&mut image);
        let errnos = if cut {
            vec![libc::EBADMSG]
        } else {
            vec![libc::EINVAL]
        };
        out.push(Case {
            what: what.to_string(),
            image,
            cut,
            errnos,
            why: None,
        });
    };
    // Item 1: the zombie died before the tree was linked; k, moved under it, kept a dangling
    // parent once the root reaped it (KASAN: slab-use-after-free in __task_pid_nr_ns).
    case("a live task whose parent is a zombie", false, &|i| {
        let z = objref(i, t.zombie);
        let k = i.task(t.kid);
        i.rec(k).set("parent", z);
    });
    // Item 12: the root was created with the image's exit signal, so when the restart failed
    // its death sent SIGKILL to the restarting process.
    case(
        "every exit signal SIGKILL, then a bad parent",
        false,
        &|i| {
            for pid in [t.root, t.kid] {
                let at = i.task(pid);
                i.rec(at).set("exit_signal", libc::SIGKILL.into());
            }
            let k = i.task(t.kid);
            i.rec(k).set("parent", 0);
        },
    );
    // The root keeps the restarter as its parent, which the image may not have killed,
    // stopped or signalled when the root dies: it gets SIGCHLD, as from any child of its own.
    for (what, signo) in [
        ("a root whose exit signal is SIGKILL", libc::SIGKILL),
        ("a root whose exit signal is SIGSTOP", libc::SIGSTOP),
        ("a root whose exit signal is SIGTERM", libc::SIGTERM),
    ] {
        case(what, false, &|i| {
            let at = i.task(t.root);
            i.rec(at).set("exit_signal", signo.into());
        });
    }
    // A process group outlives its leader's move to another group, never to another session:
    // kid's group named after kid2, which leads a session of its own (9999, reserved).
    case(
        "a process group named after a process of another session",
        false,
        &|i| {
            let inside = !i64::from(abi::TASK_F_PGRP_OUTSIDE | abi::TASK_F_SESSION_OUTSIDE);
            let k2 = i.task(t.kid2);
            let flags = i.recs[k2].get("flags");
            i.rec(k2)
                .set("sid", 9999)
                .set("pgid", 9999)
                .set("flags", flags & inside);
            let k = i.task(t.kid);
            let flags = i.recs[k].get("flags");
            i.rec(k)
                .set("pgid", t.kid2.into())
                .set("flags", flags & !i64::from(abi::TASK_F_PGRP_OUTSIDE));
        },
    );
    // Item 10: the objref table was a vector indexed by objref: 10^6 asked kmalloc for tens of
    // megabytes (WARNING at mm/page_alloc.c).
    case("a task with objref 1000000, cut short", true, &|i| {
        let k = i.task(t.kid);
        i.rec(k).set("objref", 1_000_000);
    });
    // Item 10: a second `Mm` naming the process's own address space reached the
    // WARN_ON_ONCE(old_mm == mm) of restart_share_mm().
    case(
        "a process with a second Mm record naming its own",
        false,
        &|i| {
            let k = i.task(t.kid);
            let mm = i.next::<abi::Mm>(k);
            let again = abi::Mm {
                objref: i.recs[mm].decode::<abi::Mm>().objref,
                ..Default::default()
            };
            let at = i.next::<abi::FdTable>(mm);
            i.recs.insert(
                at,
                Rec {
                    ty: abi::Mm::TYPE,
                    payload: again.to_bytes().to_vec(),
                },
            );
        },
    );
    // Item 11: the second vfork child of a parent was refused after the tree was linked, so
    // the failed restart could no longer wait for its tasks, which it left behind.
    case("two vfork children of one parent", false, &|i| {
        for pid in [t.kid, t.kid2] {
            let at = i.task(pid);
            let flags = i.recs[at].get("flags");
            i.rec(at).set("flags", flags | i64::from(abi::TASK_F_VFORK));
        }
    });
    // Item 5: `text - vvar_len` underflowed for a vDSO below the vvar size (a Rust overflow
    // panic with overflow checks, a vDSO mapped at a wrapped address without).
    case("a vDSO at address 0", false, &|i| {
        let vma = i.vma(t.root, abi::VMA_KIND_VDSO);
        let len = i.recs[vma].get("end") - i.recs[vma].get("start");
        i.rec(vma).set("start", 0).set("end", len);
    });
    // Most of k's mappings are copies of the root's (it forked and wrote little since): what
    // a copy may take is a mapping its source has, as it is, and nothing else.
    let copied = |i: &Image| {
        let mm = i.next::<abi::Mm>(i.task(t.kid));
        (mm..i.recs.len())
            .find(|&r| i.recs[r].ty == abi::Vma::TYPE && i.recs[r].get("copy_of") != 0)
            .expect("k has a copied mapping")
    };
    case("a mapping copied from an fd table", false, &|i| {
        let table = i.recs[i.next::<abi::FdTable>(i.task(t.root))].get("objref");
        let vma = copied(i);
        i.rec(vma).set("copy_of", table);
    });
    case("a mapping copied from its own mm", false, &|i| {
        let mm = i.next::<abi::Mm>(i.task(t.kid));
        let own = i.recs[mm].get("objref");
        let vma = copied(i);
        i.rec(vma).set("copy_of", own);
    });
    case("a mapping copied from an mm restored later", false, &|i| {
        let from = i.recs[copied(i)].get("copy_of");
        let later = i.recs[i.next::<abi::Mm>(i.task(t.kid))].get("objref");
        let root = i.next::<abi::Mm>(i.task(t.root));
        let vma = i.next::<abi::Vma>(root);
        assert_eq!(i.recs[vma].get("copy_of"), 0);
        i.rec(vma).set("copy_of", later);
        assert_ne!(from, later);
    });
    // Memory may have grown since the fork, a file mapping not. k's mappings: (record,
    // start, end).
    let kid_vmas = |i: &Image| -> Vec<(usize, i64, i64)> {
        let mm = i.next::<abi::Mm>(i.task(t.kid));
        (mm..i.recs.len())
            .filter(|&r| i.recs[r].ty == abi::Vma::TYPE)
            .take(i.recs[mm].get("vma_count") as usize)
            .map(|r| (r, i.recs[r].get("start"), i.recs[r].get("end")))
            .collect()
    };
    let show = |i: &Image, vmas: &[(usize, i64, i64)]| {
        let show = |&(r, s, e): &(usize, i64, i64)| {
            let (kind, copy_of) = (i.recs[r].get("kind"), i.recs[r].get("copy_of"));
            format!("{s:#x}-{e:#x} kind {kind} copy_of {copy_of}")
        };
        vmas.iter().map(show).collect::<Vec<_>>().join(", ")
    };
    let copy_of_kind = |i: &Image, r: usize, kinds: &[u32]| {
        let rec = &i.recs[r];
        rec.get("copy_of") != 0 && kinds.iter().any(|&k| rec.get("kind") == i64::from(k))
    };
    // The first page of the next file mapping goes to the one before it.
    case("a copied file mapping grown a page", false, &|i| {
        let vmas = kid_vmas(i);
        let file = |r| copy_of_kind(i, r, &[abi::VMA_KIND_FILE]);
        let (vma, next) = vmas
            .iter()
            .filter(|&&(r, _, _)| file(r))
            .find_map(|&(r, _, e)| {
                let &(n, _, _) = vmas
                    .iter()
                    .find(|&&(n, s, ne)| s == e && ne - s > 4096 && file(n))?;
                Some((r, n))
            })
            .unwrap_or_else(|| {
                panic!(
                    "k has no two copied file mappings in a row: {}",
                    show(i, &vmas)
                )
            });
        let end = i.recs[vma].get("end");
        let pgoff = i.recs[next].get("pgoff");
        i.rec(vma).set("end", end + 4096);
        i.rec(next).set("start", end + 4096).set("pgoff", pgoff + 1);
    });
    case("copied memory grown over the next mapping", false, &|i| {
        let vmas = kid_vmas(i);
        let memory = [abi::VMA_KIND_ANON, abi::VMA_KIND_HEAP, abi::VMA_KIND_STACK];
        let vma = vmas
            .iter()
            .filter(|&&(r, _, _)| copy_of_kind(i, r, &memory))
            .find_map(|&(r, _, e)| vmas.iter().any(|&(_, s, _)| s == e).then_some(r))
            .unwrap_or_else(|| {
                panic!(
                    "k has no copied memory right before a mapping: {}",
                    show(i, &vmas)
                )
            });
        let end = i.recs[vma].get("end");
        i.rec(vma).set("end", end + 4096);
    });
    case("a copied mapping made executable", false, &|i| {
        let vma = copied(i);
        let prot = i.recs[vma].get("prot");
        i.rec(vma).set("prot", prot | i64::from(libc::PROT_EXEC));
    });
    case("copied mappings that go back", false, &|i| {
        let vma = copied(i);
        let next = i.next::<abi::Vma>(vma + 1);
        let start = i.recs[vma].get("start");
        i.rec(next).set("start", start);
    });
    // Restart copies a source's mapping whole before it trims it: the copy of a second part
    // of one mapping would overlap the first.
    case("two parts of one mapping copied", false, &|i| {
        // One with neither pages of its own nor a name, and room for two parts.
        let mm = i.next::<abi::Mm>(i.task(t.kid));
        let vma = (mm..i.recs.len())
            .find(|&r| {
                let rec = &i.recs[r];
                rec.ty == abi::Vma::TYPE
                    && rec.get("copy_of") != 0
                    && rec.get("end") - rec.get("start") > 4096
                    && i.recs[r + 1].ty == abi::Vma::TYPE
            })
            .expect("k has a copied mapping with no pages of its own");
        let end = i.recs[vma].get("end");
        let mut part = i.recs[vma].clone();
        part.set("start", end - 4096);
        i.recs.insert(vma + 1, part);
        i.rec(vma).set("end", end - 4096);
        let n = i.recs[mm].get("vma_count");
        i.rec(mm).set("vma_count", n + 1);
    });
    // A special mapping cannot be copied.
    case("the vDSO copied as anonymous memory", false, &|i| {
        let from = i.recs[copied(i)].get("copy_of");
        let vma = i.vma(t.kid, abi::VMA_KIND_VDSO);
        i.rec(vma)
            .set("kind", abi::VMA_KIND_ANON.into())
            .set("copy_of", from);
        let rec = i.recs.remove(vma);
        let mm = i.next::<abi::Mm>(i.task(t.kid));
        i.recs.insert(mm + 1, rec);
    });
    // Restart maps the vDSO and vvar pair with the first of their records: a second record of
    // one half must not pass as the other.
    case("the vDSO listed twice", false, &|i| {
        let vma = i.vma(t.root, abi::VMA_KIND_VDSO);
        let again = i.recs[vma].clone();
        i.recs.insert(vma + 1, again);
        let mm = i.next::<abi::Mm>(i.task(t.root));
        let n = i.recs[mm].get("vma_count");
        i.rec(mm).set("vma_count", n + 1);
    });
    // Copied mappings come first: one after the others could overlap them. The highest one
    // (the stack), with its page runs, moved after the vvar and vDSO above it: the addresses
    // still go up, only the order of copies and new mappings is wrong.
    case("a copied mapping after the others", false, &|i| {
        let vmas = kid_vmas(i);
        let &(vma, _, _) = vmas
            .iter()
            .filter(|&&(r, _, _)| i.recs[r].get("copy_of") != 0)
            .max_by_key(|&&(_, s, _)| s)
            .expect("k has copied mappings");
        let &(last, _, _) = vmas.last().expect("k has mappings");
        assert_eq!(
            i.recs[last].get("copy_of"),
            0,
            "k's last mapping is a new one"
        );
        let auxv = i.next_raw(last, abi::RecordType::Auxv);
        let next = (vma + 1..auxv)
            .find(|&r| i.recs[r].ty == abi::Vma::TYPE)
            .unwrap_or(auxv);
        let block: Vec<Rec> = i.recs.drain(vma..next).collect();
        let at = auxv - block.len();
        i.recs.splice(at..at, block);
    });
    // A drop run must stay within its mapping: past it, MADV_DONTNEED would take the pages of
    // the copy after it.
    case("pages dropped past a copied mapping", false, &|i| {
        let vmas = kid_vmas(i);
        let memory = [abi::VMA_KIND_ANON, abi::VMA_KIND_HEAP, abi::VMA_KIND_STACK];
        let &(vma, _, end) = vmas
            .iter()
            .filter(|&&(r, _, _)| copy_of_kind(i, r, &memory))
            .find(|&&(_, _, e)| vmas.iter().any(|&(_, s, _)| s == e))
            .unwrap_or_else(|| {
                panic!(
                    "k has no copied memory right before a mapping: {}",
                    show(i, &vmas)
                )
            });
        let run = abi::PageRun {
            addr: end as u64 - 4096,
            npages: 2,
            flags: abi::PAGE_RUN_DROP,
            ..Default::default()
        };
        let rec = Rec {
            ty: abi::PageRun::TYPE,
            payload: run.to_bytes().to_vec(),
        };
        i.recs.insert(vma + 1, rec);
    });
    case("a shared mapping copied", false, &|i| {
        let vma = copied(i);
        let flags = i.recs[vma].get("flags");
        i.rec(vma).set(
            "flags",
            flags | (abi::VMA_SHARED | abi::VMA_MAYSHARE) as i64,
        );
    });
    case("pages dropped from a new mapping", false, &|i| {
        let run = i.next::<abi::PageRun>(i.task(t.root));
        i.rec(run).set("flags", i64::from(abi::PAGE_RUN_DROP));
    });
    // Found by review: /proc/PID/auxv reads up to an AT_NULL, past the saved vector if it
    // has none, into the rest of the mm (kernel pointers).
    case("an auxiliary vector without AT_NULL", false, &|i| {
        let auxv = i.next_raw(i.task(t.root), abi::RecordType::Auxv);
        let len = i.recs[auxv].payload.len();
        i.recs[auxv].payload[len - 16] = 33;
    });
    case("page run flags beyond drop and share", false, &|i| {
        let run = i.next::<abi::PageRun>(i.task(t.kid));
        i.rec(run).set("flags", 4);
    });
    // A run of one page at the start of k's first copied mapping of memory, inserted right
    // after its `Vma` record; its index.
    let run_at_copy = |i: &mut Image, flags: u32, from: i64| {
        let memory = [abi::VMA_KIND_ANON, abi::VMA_KIND_HEAP, abi::VMA_KIND_STACK];
        let vmas = kid_vmas(i);
        let &(vma, start, _) = vmas
            .iter()
            .find(|&&(r, _, _)| copy_of_kind(i, r, &memory))
            .unwrap_or_else(|| panic!("k has no copied memory: {}", show(i, &vmas)));
        let run = abi::PageRun {
            addr: start as u64,
            npages: 1,
            flags,
            from: from as u32,
            ..Default::default()
        };
        let rec = Rec {
            ty: abi::PageRun::TYPE,
            payload: run.to_bytes().to_vec(),
        };
        i.recs.insert(vma + 1, rec);
        vma + 1
    };
    // A run of pages k shares with a second relative (`PAGE_RUN_SHARE`) naming `from`.
    let shared_run = |i: &mut Image, from: i64| run_at_copy(i, abi::PAGE_RUN_SHARE, from);
    case("pages shared with the process's own mm", false, &|i| {
        let own = i.recs[i.next::<abi::Mm>(i.task(t.kid))].get("objref");
        shared_run(i, own);
    });
    case("pages shared with an fd table", false, &|i| {
        let table = i.recs[i.next::<abi::FdTable>(i.task(t.root))].get("objref");
        shared_run(i, table);
    });
    case("pages shared naming no mm", false, &|i| {
        shared_run(i, 0);
    });
    case("pages dropped naming an mm", false, &|i| {
        let root = i.recs[i.next::<abi::Mm>(i.task(t.root))].get("objref");
        run_at_copy(i, abi::PAGE_RUN_DROP, root);
    });
    // Where a relative that moved its mapping (mremap(2)) has it, or the pages shared.
    case("pages dropped naming an address", false, &|i| {
        let run = run_at_copy(i, abi::PAGE_RUN_DROP, 0);
        i.rec(run).set("from_addr", 0x10000);
    });
    let root_mm = |i: &Image| i.recs[i.next::<abi::Mm>(i.task(t.root))].get("objref");
    case("pages shared from an unaligned address", false, &|i| {
        let run = shared_run(i, root_mm(i));
        let addr = i.recs[run].get("addr");
        i.rec(run).set("from_addr", addr + 1);
    });
    case(
        "pages shared from where the relative maps nothing",
        false,
        &|i| {
            let run = shared_run(i, root_mm(i));
            i.rec(run).set("from_addr", 0x10000);
        },
    );
    case(
        "pages shared from the end of the address space",
        false,
        &|i| {
            let run = shared_run(i, root_mm(i));
            i.rec(run).set("from_addr", -4096);
        },
    );
    case("a mapping copied from an unaligned address", false, &|i| {
        let vma = copied(i);
        let start = i.recs[vma].get("start");
        i.rec(vma).set("copy_from", start + 1);
    });
    case(
        "a mapping copied from where the relative maps nothing",
        false,
        &|i| {
            let vma = copied(i);
            i.rec(vma).set("copy_from", 0x10000);
        },
    );
    case("a new mapping copied from an address", false, &|i| {
        let vma = i.next::<abi::Vma>(i.task(t.root));
        i.rec(vma).set("copy_from", 0x10000);
    });
    case("page run padding that is not zero", false, &|i| {
        let run = i.next::<abi::PageRun>(i.task(t.kid));
        i.rec(run).set("_pad0", 1);
    });
    // Runs go up: a run again over the same pages could make restart work without end.
    case("pages dropped twice", false, &|i| {
        run_at_copy(i, abi::PAGE_RUN_DROP, 0);
        run_at_copy(i, abi::PAGE_RUN_DROP, 0);
    });
    case("pages shared in a new mapping", false, &|i| {
        let root = i.recs[i.next::<abi::Mm>(i.task(t.root))].get("objref");
        let run = i.next::<abi::PageRun>(i.task(t.root));
        i.rec(run)
            .set("flags", i64::from(abi::PAGE_RUN_SHARE))
            .set("from", root);
    });
    // Found by cr-fuzz: these restored, the field's extra bits silently dropped.
    case("a umask beyond 0777", false, &|i| {
        let fs = i.next::<abi::Fs>(i.task(t.root));
        i.rec(fs).set("umask", 0xffff_ffff);
    });
    case("fd flags beyond close-on-exec", false, &|i| {
        let fd = i.next::<abi::Fd>(i.task(t.root));
        i.rec(fd).set("flags", 62);
    });
    // An fd's: its table's padding became its count of locks.
    case("padding that is not zero", false, &|i| {
        let fd = i.next::<abi::Fd>(i.task(t.root));
        i.rec(fd).set("_pad0", 1);
    });
    // Item 4: the check accepted any DPL 3 segment descriptor.
    for (what, lo, hi) in BAD_TLS {
        case(&format!("a TLS entry that is {what}"), false, &|i| {
            let tls = i.next::<abi::Tls>(i.task(t.root));
            i.rec(tls)
                .set_at("desc", 2, lo.into())
                .set_at("desc", 3, hi.into());
        });
    }
    // Restart trusted a File's kind where its type said otherwise, and reopened any character
    // device, not only the stateless ones checkpoint saves.
    case("a character device labeled a regular file", false, &|i| {
        let dev = (1..i.recs.len())
            .find(|&r| {
                i.recs[r].ty == abi::File::TYPE
                    && i.recs[r].get("kind") == i64::from(abi::FILE_KIND_CHARDEV)
            })
            .expect("the root has the console open");
        i.rec(dev).set("kind", abi::FILE_KIND_REGULAR.into());
    });
    // Each kind of file reads its own records: a path is not an eventfd's counter.
    case("a regular file labeled an eventfd", false, &|i| {
        let file = i.file(&t.plain);
        i.rec(file).set("kind", abi::FILE_KIND_EVENTFD.into());
    });
    // An eventfd or a signalfd is read-write at offset 0, with O_NONBLOCK at most: their
    // system calls and fcntl() give them no more.
    let eventfd: FileOf = |i| i.next::<abi::Eventfd>(0) - 1;
    let signalfd: FileOf = |i| i.next::<abi::Signalfd>(0) - 1;
    let timerfd: FileOf = |i| i.next::<abi::Timerfd>(0) - 1;
    let epoll: FileOf = |i| i.next::<abi::Epoll>(0) - 1;
    let kinds = [
        ("an eventfd", eventfd),
        ("a signalfd", signalfd),
        ("a timerfd", timerfd),
        ("an epoll instance", epoll),
    ];
    for (kind, file_of) in kinds {
        case(&format!("{kind} open read-only"), false, &|i| {
            let file = file_of(i);
            i.rec(file).set("f_flags", libc::O_RDONLY.into());
        });
        case(&format!("{kind} open with O_APPEND"), false, &|i| {
            let file = file_of(i);
            let flags = i.recs[file].get("f_flags");
            i.rec(file)
                .set("f_flags", flags | i64::from(libc::O_APPEND));
        });
        case(&format!("{kind} at an offset"), false, &|i| {
            let file = file_of(i);
            i.rec(file).set("pos", 1);
        });
    }
    case(
        "an eventfd with a flag other than EFD_SEMAPHORE",
        false,
        &|i| {
            let e = i.next::<abi::Eventfd>(0);
            i.rec(e).set("flags", 2);
        },
    );
    // signalfd(2) takes SIGKILL and SIGSTOP out of any mask.
    for (name, signal) in [("SIGKILL", libc::SIGKILL), ("SIGSTOP", libc::SIGSTOP)] {
        case(&format!("a signalfd that takes {name}"), false, &|i| {
            let s = i.next::<abi::Signalfd>(0);
            let mask = i.recs[s].get("mask");
            i.rec(s).set("mask", mask | 1 << (signal - 1));
        });
    }
    // A pty's state is what its ioctls could give it, its slave's node a mode chmod() could;
    // its files are character devices at offset 0, with an access mode, O_NONBLOCK and
    // O_APPEND at most; a slave's file names the master's file that came before it. What a
    // side's readers have not read is at most what a line discipline holds and checkpoint
    // saves of flip buffers and their memory, its complete lines and looked-at bytes within
    // its bytes, the last buffer's room within its memory, its echoes at most what a line
    // discipline holds, whole echo operations (a byte, or 0xff and an operation code, and
    // the column count of ECHO_OP_ERASE_TAB 0x82), its echo commit and echo mark at the end
    // of its echoes, with the flags a queue has, zero padding, and its bytes as many as it
    // announces (the target's pty has nothing unread: each case gives a queue the bytes it
    // announces, but for the two announcing bytes that are not there or more than it
    // announces).
    type Craft = fn(&mut Image);
    let pty_cases: [(&str, Craft); 31] = [
        ("a pty with a flag no pty has", |i| {
            let p = i.next::<abi::Pty>(0);
            let flags = i.recs[p].get("flags");
            i.rec(p).set("flags", flags | 8);
        }),
        ("a pty with packet events no pty has", |i| {
            let p = i.next::<abi::Pty>(0);
            i.rec(p).set("pktstatus", 0x80);
        }),
        (
            "a pty's slave's node with a mode beyond permission bits",
            |i| {
                let p = i.next::<abi::Pty>(0);
                i.rec(p).set("mode", 0o10620);
            },
        ),
        ("a pty's master with O_DIRECT", |i| {
            let file = i.next::<abi::Pty>(0) - 2;
            let flags = i.recs[file].get("f_flags");
            i.rec(file)
                .set("f_flags", flags | i64::from(libc::O_DIRECT));
        }),
        ("a pty's master at an offset", |i| {
            let file = i.next::<abi::Pty>(0) - 2;
            i.rec(file).set("pos", 1);
        }),
        ("a pty's master that is a regular file", |i| {
            let file = i.next::<abi::Pty>(0) - 2;
            i.rec(file).set("i_mode", (libc::S_IFREG | 0o644).into());
        }),
        ("a pty's slave at an offset", |i| {
            let file = i.next::<abi::PtySlave>(0) - 2;
            i.rec(file).set("pos", 1);
        }),
        ("a pty's slave of an eventfd", |i| {
            let eventfd = i.next::<abi::Eventfd>(0) - 1;
            let objref = i.recs[eventfd].get("objref");
            let s = i.next::<abi::PtySlave>(0);
            i.rec(s).set("master", objref);
        }),
        ("a pty's slave of an undefined master", |i| {
            let s = i.next::<abi::PtySlave>(0);
            i.rec(s).set("master", 999_999);
        }),
        ("a pty's slave labeled a master", |i| {
            let file = i.next::<abi::PtySlave>(0) - 2;
            i.rec(file).set("kind", abi::FILE_KIND_PTY_MASTER.into());
        }),
        ("a pty's master labeled a slave", |i| {
            let file = i.next::<abi::Pty>(0) - 2;
            i.rec(file).set("kind", abi::FILE_KIND_PTY_SLAVE.into());
        }),
        ("a pty queue longer than a line discipline holds", |i| {
            let q = pty_queue(i, 0);
            let len = abi::PTY_QUEUE_READ_MAX + 1;
            i.rec(q).set("len", len.into());
            i.recs.insert(q + 1, data_rec(vec![b'a'; len as usize]));
        }),
        (
            "a pty queue with more flip bytes than checkpoint saves",
            |i| {
                let q = pty_queue(i, 0);
                let flip = abi::PTY_QUEUE_FLIP_MAX + 1;
                i.rec(q).set("flip", flip.into());
                i.recs.insert(q + 1, data_rec(vec![b'a'; flip as usize]));
            },
        ),
        ("a pty queue with complete lines past its bytes", |i| {
            // The bitmap of one line end, where its bytes end (none).
            let q = pty_queue(i, 0);
            i.rec(q).set("canon", 1);
            i.recs.insert(q + 1, data_rec(vec![1]));
        }),
        ("a pty queue whose lookahead passes its flip bytes", |i| {
            let q = pty_queue(i, 0);
            i.rec(q).set("lookahead", 1);
        }),
        ("a pty queue with a flag no queue has", |i| {
            let q = pty_queue(i, 0);
            i.rec(q).set("flags", 16);
        }),
        ("a pty queue announcing bytes that are not there", |i| {
            let q = pty_queue(i, 1);
            i.rec(q).set("len", 3);
        }),
        ("a pty queue whose bytes are more than it announces", |i| {
            let q = pty_queue(i, 1);
            i.rec(q).set("len", 1);
            i.recs.insert(q + 1, data_rec(b"ab".to_vec()));
        }),
        ("a pty queue using more memory than checkpoint saves", |i| {
            let q = pty_queue(i, 0);
            let used = abi::PTY_QUEUE_FLIP_MAX / 2 + 1;
            i.rec(q).set("used", used.into());
        }),
        ("a pty queue with padding that is not zero", |i| {
            let q = pty_queue(i, 0);
            i.rec(q).set("_pad0", 1);
        }),
        ("a pty queue with a second padding that is not zero", |i| {
            let q = pty_queue(i, 0);
            i.rec(q).set("_pad1", 1);
        }),
        (
            "a pty queue with more echoes than a line discipline holds",
            |i| {
                let echo = abi::PTY_QUEUE_READ_MAX + 1;
                pty_echoes(i, 0, &vec![b'a'; echo as usize], echo, echo);
            },
        ),
        ("a pty queue whose echo commit passes its echoes", |i| {
            pty_echoes(i, 0, b"a", 2, 1);
        }),
        ("a pty queue whose echo mark passes its echoes", |i| {
            pty_echoes(i, 0, b"a", 1, 2);
        }),
        // N_TTY's echo operations: ECHO_OP_START 0xff, then the operation's code.
        (
            "a pty queue whose echoes end inside an echo operation",
            |i| {
                pty_echoes(i, 0, &[0xff], 1, 1);
            },
        ),
        (
            "a pty queue whose echoes end inside an erase of a tab",
            |i| {
                // ECHO_OP_ERASE_TAB without its column count.
                pty_echoes(i, 0, &[0xff, 0x82], 2, 2);
            },
        ),
        // N_TTY marks each echo it adds and commits all at the end of each receive: it holds
        // no others.
        ("a pty queue with echoes not all committed", |i| {
            pty_echoes(i, 0, b"ab", 1, 2);
        }),
        ("a pty queue with echoes not all marked", |i| {
            pty_echoes(i, 0, b"ab", 2, 1);
        }),
        // The master's termios cannot be set: it never echoes.
        ("a pty master's queue with echoes", |i| {
            pty_echoes(i, 1, b"ab", 2, 2);
        }),
        (
            "a pty queue whose last buffer has room past its memory",
            |i| {
                let q = pty_queue(i, 1);
                i.rec(q).set("used", 256).set("room", 513);
            },
        ),
        // The master's line discipline is never canonical: its termios cannot be set.
        ("a complete line in the master's pty queue", |i| {
            let q = pty_queue(i, 1);
            i.rec(q).set("len", 1).set("canon", 1);
            i.recs.insert(q + 1, data_rec(b"\n".to_vec()));
            i.recs.insert(q + 2, data_rec(vec![1]));
        }),
    ];
    for (what, craft) in pty_cases {
        case(what, false, &craft);
    }
    // A process's controlling terminal is a pty's master made before, given to a process of a
    // session restored with the tree, with a foreground group of the session: the root's
    // session, and its children's, is the test's, outside the tree.
    let master = |i: &Image| i.recs[i.next::<abi::Pty>(0) - 2].get("objref");
    let signal = |i: &Image, pid| i.next::<abi::Signal>(i.task(pid));
    case(
        "a controlling terminal without a foreground group",
        false,
        &|i| {
            let m = master(i);
            let s = signal(i, t.kid);
            i.rec(s).set("tty", m);
        },
    );
    case(
        "a foreground group without a controlling terminal",
        false,
        &|i| {
            let s = signal(i, t.kid);
            i.rec(s).set("tty_pgrp", t.kid.into());
        },
    );
    case(
        "a controlling terminal of a session outside the tree",
        false,
        &|i| {
            let m = master(i);
            let s = signal(i, t.kid);
            i.rec(s).set("tty", m).set("tty_pgrp", t.root.into());
        },
    );
    case("a regular file labeled a pty's master", false, &|i| {
        let file = i.file(&t.plain);
        i.rec(file).set("kind", abi::FILE_KIND_PTY_MASTER.into());
    });
    // A pipe holds at most its size, a size F_SETPIPE_SZ gives, and as many bytes as its
    // record says; its files have an access mode and O_NONBLOCK at most, at offset 0, and
    // the first of them opens the pipe that comes with it.
    let len = PIPE_BYTES.len() as i64;
    let pipe_cases: [(&str, i64, i64); 6] = [
        ("a pipe that holds more bytes than its size", 4096, 4097),
        ("a pipe of a size F_SETPIPE_SZ would round", 65537, len),
        ("a pipe of size 0", 0, 0),
        ("a pipe of 2^32 - 4096 bytes", 0xffff_f000, len),
        (
            "a pipe whose bytes are longer than it holds",
            65536,
            len - 1,
        ),
        (
            "a pipe whose bytes are shorter than it holds",
            65536,
            len + 1,
        ),
    ];
    for (what, size, len) in pipe_cases {
        case(what, false, &|i| {
            let p = i.next::<abi::Pipe>(0);
            i.rec(p).set("size", size).set("len", len);
        });
    }
    let pipe_file: FileOf = |i| i.next::<abi::Pipe>(0) - 1;
    case("a pipe's file of access mode 3", false, &|i| {
        let file = pipe_file(i);
        i.rec(file).set("f_flags", libc::O_ACCMODE.into());
    });
    case("a pipe's file with O_APPEND", false, &|i| {
        let file = pipe_file(i);
        let flags = i.recs[file].get("f_flags");
        i.rec(file)
            .set("f_flags", flags | i64::from(libc::O_APPEND));
    });
    case("a pipe's file at an offset", false, &|i| {
        let file = pipe_file(i);
        i.rec(file).set("pos", 1);
    });
    // The pipe's second file: no `Pipe` record comes with it.
    let second_end = |i: &Image| i.next::<abi::PipeEnd>(i.next::<abi::PipeEnd>(0) + 1);
    case("a pipe's file that opens an eventfd", false, &|i| {
        let eventfd = i.next::<abi::Eventfd>(0) - 1;
        let objref = i.recs[eventfd].get("objref");
        let end = second_end(i);
        i.rec(end).set("pipe", objref);
    });
    case("a pipe's file that opens an undefined pipe", false, &|i| {
        let end = second_end(i);
        i.rec(end).set("pipe", 999_999);
    });
    case("a pipe that none of its files opens", false, &|i| {
        let eventfd = i.next::<abi::Eventfd>(0) - 1;
        let objref = i.recs[eventfd].get("objref");
        let end = i.next::<abi::PipeEnd>(0);
        i.rec(end).set("pipe", objref);
    });
    case("an eventfd labeled a pipe's file", false, &|i| {
        let eventfd = i.next::<abi::Eventfd>(0) - 1;
        i.rec(eventfd).set("kind", abi::FILE_KIND_PIPE.into());
    });
    // A FIFO's files have their paths and a pipe of their own; only a reader that saw no
    // writer is marked so. The first is the reader, which the `Pipe` record follows.
    let fifo_end = |i: &Image| i.next::<abi::PipeEnd>(i.file(&t.fifo));
    let fifo_writer_end = |i: &Image| i.next::<abi::PipeEnd>(fifo_end(i) + 1);
    case("a FIFO's file that opens a pipe", false, &|i| {
        let pipe = i.recs[i.next::<abi::Pipe>(0)].get("objref");
        let end = fifo_writer_end(i);
        i.rec(end).set("pipe", pipe);
    });
    case("a FIFO with an owner", false, &|i| {
        let p = i.next::<abi::Pipe>(i.file(&t.fifo));
        i.rec(p).set("uid", 1000);
    });
    case("a FIFO's writer that saw no writer", false, &|i| {
        let end = fifo_writer_end(i);
        i.rec(end).set("flags", abi::PIPE_END_WAITING.into());
    });
    case("a pipe's reader that saw no writer", false, &|i| {
        let end = i.next::<abi::PipeEnd>(0);
        i.rec(end).set("flags", abi::PIPE_END_WAITING.into());
    });
    case("a pipe's end with flag 2", false, &|i| {
        let end = fifo_end(i);
        i.rec(end).set("flags", 2);
    });
    case("a FIFO's file of a regular file", false, &|i| {
        let file = i.file(&t.fifo);
        i.rec(file).set("i_mode", (libc::S_IFREG | 0o600).into());
    });
    case("a FIFO's file that takes RWF_NOWAIT", false, &|i| {
        let file = i.file(&t.fifo);
        let mode = i.recs[file].get("f_mode");
        i.rec(file).set("f_mode", mode | 1 << 27);
    });
    // Restart fills a pipe record by record, each write() merged into the last buffer only
    // where it fits in that buffer's page: 1, 4096 and 4095 bytes take three buffers, which a
    // pipe of 8 KiB does not have. Restart's writer of a FIFO must not wait for room: the
    // third write would hang the restart.
    let cut_data = |i: &mut Image, pipe: usize| {
        i.rec(pipe).set("size", 8192).set("len", 8192);
        let data = abi::RecordType::PipeData.id();
        let end = (pipe + 1..i.recs.len())
            .find(|&r| i.recs[r].ty != data)
            .unwrap_or(i.recs.len());
        assert!(end > pipe + 1, "no PipeData record after the Pipe record");
        let cut = [1, 4096, 4095].map(|n| Rec {
            ty: data,
            payload: vec![b'p'; n],
        });
        i.recs.splice(pipe + 1..end, cut);
    };
    let fifo_pipe = |i: &Image| i.next::<abi::Pipe>(i.file(&t.fifo));
    case(
        "a pipe whose bytes need more buffers than it has",
        false,
        &|i| {
            let p = i.next::<abi::Pipe>(0);
            cut_data(i, p);
        },
    );
    case(
        "a FIFO whose bytes need more buffers than it has",
        false,
        &|i| {
            let p = fifo_pipe(i);
            cut_data(i, p);
        },
    );
    case("a FIFO of a size F_SETPIPE_SZ would round", false, &|i| {
        let p = fifo_pipe(i);
        i.rec(p).set("size", 65537);
    });
    // A memfd has seals, a mode and a size a memfd can have, a name memfd_create() would have
    // made, and runs of bytes in order within its size, each as long as its bytes; its files
    // have a memfd's flags.
    let memfd = |i: &Image| i.next::<abi::Memfd>(0);
    let memfd_cases: [(&str, &str, i64); 5] = [
        ("a memfd with seal 0x40", "seals", 0x40),
        ("a memfd of mode 0100644", "mode", 0o100644),
        ("a memfd of 2^63 bytes", "size", i64::MIN),
        ("a memfd of 1 MiB", "size", 1 << 20),
        ("a memfd with one run more than it has", "runs", 3),
    ];
    for (what, field, value) in memfd_cases {
        case(what, false, &|i| {
            let m = memfd(i);
            i.rec(m).set(field, value);
        });
    }
    // 256 bytes, one more than a name has (a `String` record has no NUL).
    let long = |start: &[u8]| {
        let mut name = vec![b'm'; 256];
        name[..start.len()].copy_from_slice(start);
        name
    };
    let names: [(&str, Vec<u8>); 3] = [
        ("a memfd named without memfd:", b"crafted".to_vec()),
        ("a memfd with a name of 256 bytes", long(b"memfd:")),
        (
            "a memfd whose long name forges a log line",
            long(b"memfd:x\n[0.0] forged"),
        ),
    ];
    for (what, name) in names {
        case(what, false, &|i| {
            let m = memfd(i);
            i.rec(m + 1).payload = name.clone();
        });
    }
    let run = |i: &Image, n: usize| {
        let first = i.next::<abi::DataRun>(memfd(i));
        if n == 0 {
            first
        } else {
            i.next::<abi::DataRun>(first + 1)
        }
    };
    let run_cases: [(&str, usize, &str, i64); 4] = [
        ("a memfd run past its size", 1, "offset", 2 << 20),
        ("a memfd run before the one before", 1, "offset", 0),
        ("a memfd run that wraps around", 1, "offset", -4096),
        ("a memfd run of 0 bytes", 0, "len", 0),
    ];
    for (what, n, field, value) in run_cases {
        case(what, false, &|i| {
            let r = run(i, n);
            i.rec(r).set(field, value);
        });
    }
    case("a memfd run longer than its bytes", false, &|i| {
        let r = run(i, 0);
        let len = i.recs[r].get("len");
        i.rec(r).set("len", len + 1);
    });
    case("a memfd run shorter than its bytes", false, &|i| {
        let r = run(i, 0);
        let len = i.recs[r].get("len");
        i.rec(r).set("len", len - 1);
    });
    let memfd_file = |i: &Image| memfd(i) - 1;
    case("a memfd's file of access mode 3", false, &|i| {
        let f = memfd_file(i);
        i.rec(f).set("f_flags", libc::O_ACCMODE.into());
    });
    case("a memfd's file at offset -1", false, &|i| {
        let f = memfd_file(i);
        i.rec(f).set("pos", -1);
    });
    let memfd_end = |i: &Image| i.next::<abi::MemfdFile>(memfd(i));
    case("a memfd that none of its files opens", false, &|i| {
        let pipe = i.recs[i.next::<abi::Pipe>(0)].get("objref");
        let end = memfd_end(i);
        i.rec(end).set("memfd", pipe);
    });
    // The second file: no `Memfd` record comes with it.
    case("a memfd's file that opens a pipe", false, &|i| {
        let pipe = i.recs[i.next::<abi::Pipe>(0)].get("objref");
        let end = i.next::<abi::MemfdFile>(memfd_end(i) + 1);
        i.rec(end).set("memfd", pipe);
    });
    // An unlinked file has flags and a mode it can have, a size that fits in an i64 and runs
    // of bytes in order within it, each as long as its bytes, then as many files as open it;
    // its files have the flags restart reopens with, and the first of them, which brings it,
    // opens it. The deleted file: `Unlinked` record, `String`, a run of a page and its
    // `Data`, a run of `PIPE_BYTES` at `DELETED_AT` and its `Data`, `UnlinkedFile`.
    let unlinked_of = |i: &Image, size: usize| {
        let found = i.all::<abi::Unlinked>().into_iter();
        let mut found = found.filter(|&r| i.recs[r].get("size") == size as i64);
        let u = found
            .next()
            .unwrap_or_else(|| panic!("the image has no unlinked file of {size} bytes"));
        assert!(found.next().is_none(), "two unlinked files of {size} bytes");
        u
    };
    let deleted = |i: &Image| {
        let u = unlinked_of(i, DELETED_SIZE);
        assert_eq!(i.recs[u].get("runs"), 2, "the deleted file's runs of bytes");
        u
    };
    let tmpfile = |i: &Image| unlinked_of(i, PIPE_BYTES.len());
    let deleted_objref = |i: &Image| i.recs[deleted(i)].get("objref");
    let deleted_run = |i: &Image, n: usize| {
        let first = i.next::<abi::DataRun>(deleted(i));
        if n == 0 {
            first
        } else {
            i.next::<abi::DataRun>(first + 1)
        }
    };
    // The `UnlinkedFile` record of its first file, and of its second (right after its `File`).
    let deleted_end = |i: &Image| i.next::<abi::UnlinkedFile>(deleted(i));
    let deleted_second_end = |i: &Image| {
        let objref = deleted_objref(i);
        (deleted_end(i) + 1..i.recs.len())
            .find(|&r| {
                i.recs[r].ty == abi::UnlinkedFile::TYPE
                    && i.recs[r - 1].ty == abi::File::TYPE
                    && i.recs[r].get("unlinked") == objref
            })
            .expect("the deleted file has a second file")
    };
    let unlinked_cases: [(&str, &str, i64); 5] = [
        ("an unlinked file with flag 2", "flags", 2),
        ("an unlinked file of mode 0100600", "mode", 0o100_600),
        ("an unlinked file of 2^63 bytes", "size", i64::MIN),
        ("an unlinked file of 1 MiB", "size", 1 << 20),
        ("an unlinked file with one run more than it has", "runs", 3),
    ];
    for (what, field, value) in unlinked_cases {
        case(what, false, &|i| {
            let u = deleted(i);
            i.rec(u).set(field, value);
        });
    }
    case(
        "an unlinked file with one run fewer than it has",
        false,
        &|i| {
            let u = deleted(i);
            i.rec(u).set("runs", 1);
        },
    );
    case(
        "an unlinked file with padding that is not zero",
        false,
        &|i| {
            let u = deleted(i);
            i.rec(u).set("_pad0", 1);
        },
    );
    // Linkable, and a flag it cannot have.
    case("an unlinked O_TMPFILE file with flags 3", false, &|i| {
        let u = tmpfile(i);
        assert_eq!(
            i.recs[u].get("flags"),
            i64::from(abi::UNLINKED_LINKABLE),
            "the O_TMPFILE file is linkable"
        );
        i.rec(u).set("flags", 3);
    });
    let unlinked_run_cases: [(&str, usize, &str, i64); 3] = [
        (
            "an unlinked file's run before the one before",
            1,
            "offset",
            0,
        ),
        ("an unlinked file's run that wraps around", 1, "offset", -1),
        ("an unlinked file's run of 0 bytes", 0, "len", 0),
    ];
    for (what, n, field, value) in unlinked_run_cases {
        case(what, false, &|i| {
            let r = deleted_run(i, n);
            i.rec(r).set(field, value);
        });
    }
    // A byte past the end, which its `Data` would not even hold.
    case("an unlinked file's run past its size", false, &|i| {
        let r = deleted_run(i, 1);
        let len = i.recs[r].get("len");
        i.rec(r).set("len", len + 1);
    });
    // Its `Data` record ends before its run does: the next record is the next run's.
    case(
        "an unlinked file's run longer than its bytes",
        false,
        &|i| {
            let r = deleted_run(i, 0);
            let len = i.recs[r].get("len");
            i.rec(r).set("len", len + 1);
        },
    );
    // Its last run's `Data` record ends before it, which ends at the file's end, a byte
    // further: the next record is the `UnlinkedFile`.
    case(
        "an unlinked file's last run longer than its bytes",
        false,
        &|i| {
            let u = deleted(i);
            let r = deleted_run(i, 1);
            let len = i.recs[r].get("len");
            i.rec(r).set("len", len + 1);
            i.rec(u).set("size", DELETED_SIZE as i64 + 1);
        },
    );
    case(
        "an unlinked file's run shorter than its bytes",
        false,
        &|i| {
            let r = deleted_run(i, 0);
            let len = i.recs[r].get("len");
            i.rec(r).set("len", len - 1);
        },
    );
    case(
        "an unlinked file's run with an empty Data record",
        false,
        &|i| {
            let r = deleted_run(i, 0);
            let empty = Rec {
                ty: abi::RecordType::Data.id(),
                payload: Vec::new(),
            };
            i.recs.insert(r + 1, empty);
        },
    );
    // The last run again, after those its record counts.
    case(
        "an unlinked file with a run more than its record says",
        false,
        &|i| {
            let r = deleted_run(i, 1);
            let end = deleted_end(i);
            let again: Vec<Rec> = i.recs[r..end].to_vec();
            i.recs.splice(end..end, again);
        },
    );
    // The second file names an object that is not an unlinked file, or none.
    let second_cases: [(&str, FieldOf); 3] = [
        ("an unlinked file's second file that opens a pipe", |i| {
            i.recs[i.next::<abi::Pipe>(0)].get("objref")
        }),
        ("an unlinked file's second file that opens a memfd", |i| {
            i.recs[i.next::<abi::Memfd>(0)].get("objref")
        }),
        (
            "an unlinked file's second file that opens an undefined object",
            |_| 999_999,
        ),
    ];
    for (what, value) in second_cases {
        case(what, false, &|i| {
            let v = value(i);
            let end = deleted_second_end(i);
            i.rec(end).set("unlinked", v);
        });
    }
    case(
        "an unlinked file's second file that opens a regular file",
        false,
        &|i| {
            let plain = i.recs[i.file(&t.plain)].get("objref");
            let end = deleted_second_end(i);
            i.rec(end).set("unlinked", plain);
        },
    );
    case(
        "an unlinked file that none of its files opens",
        false,
        &|i| {
            let tmp = i.recs[tmpfile(i)].get("objref");
            let end = deleted_end(i);
            i.rec(end).set("unlinked", tmp);
        },
    );
    // Its `Unlinked` record, its directory and its bytes again with its second file.
    case("an unlinked file written twice", false, &|i| {
        let u = deleted(i);
        let again: Vec<Rec> = i.recs[u..deleted_end(i)].to_vec();
        let end = deleted_second_end(i);
        i.recs.splice(end..end, again);
    });
    case("an unlinked file under the objref of a pipe", false, &|i| {
        let pipe = i.recs[i.next::<abi::Pipe>(0)].get("objref");
        let u = deleted(i);
        i.rec(u).set("objref", pipe);
    });
    case("an unlinked file under objref 0", false, &|i| {
        let u = deleted(i);
        i.rec(u).set("objref", 0);
    });
    // Under the objref of its first file, which every file of it names: made and opened, the
    // file then cannot take its own objref.
    case(
        "an unlinked file under the objref of its first file",
        false,
        &|i| {
            let u = deleted(i);
            let (old, file) = (i.recs[u].get("objref"), i.recs[u - 1].get("objref"));
            i.rec(u).set("objref", file);
            for r in i.all::<abi::UnlinkedFile>() {
                if i.recs[r].get("unlinked") == old {
                    i.rec(r).set("unlinked", file);
                }
            }
        },
    );
    // Its files: the flags restart reopens with, a position, a regular file.
    let deleted_file = |i: &Image| deleted(i) - 1;
    let flag_cases: [(&str, libc::c_int); 5] = [
        ("an unlinked file's file with O_CREAT", libc::O_CREAT),
        ("an unlinked file's file with O_TRUNC", libc::O_TRUNC),
        (
            "an unlinked file's file with O_DIRECTORY",
            libc::O_DIRECTORY,
        ),
        ("an unlinked file's file with O_PATH", libc::O_PATH),
        (
            "an unlinked file's file with half of O_TMPFILE",
            libc::O_TMPFILE & !libc::O_DIRECTORY,
        ),
    ];
    for (what, flag) in flag_cases {
        case(what, false, &|i| {
            let f = deleted_file(i);
            let flags = i.recs[f].get("f_flags");
            i.rec(f).set("f_flags", flags | i64::from(flag));
        });
    }
    case("an unlinked file's file of access mode 3", false, &|i| {
        let f = deleted_file(i);
        let flags = i.recs[f].get("f_flags");
        i.rec(f).set("f_flags", flags | i64::from(libc::O_ACCMODE));
    });
    case("an unlinked file's file at offset -1", false, &|i| {
        let f = deleted_file(i);
        i.rec(f).set("pos", -1);
    });
    case("an unlinked file's file of a directory", false, &|i| {
        let f = deleted_file(i);
        i.rec(f).set("i_mode", (libc::S_IFDIR | 0o600).into());
    });
    // The second file: no `Unlinked` record comes with it.
    case("an unlinked file's second file with O_TRUNC", false, &|i| {
        let f = deleted_second_end(i) - 1;
        let flags = i.recs[f].get("f_flags");
        i.rec(f).set("f_flags", flags | i64::from(libc::O_TRUNC));
    });
    // A timerfd is on one of the clocks timerfd_create() takes, with a timer
    // timerfd_settime() takes, and only canceled if it is absolute on a realtime clock.
    let timer_cases: [(&str, &str, i64); 5] = [
        ("a timerfd on clock 99", "clockid", 99),
        ("a timerfd on clock 2^31", "clockid", 1 << 31),
        ("a timerfd due in -1 ns", "value", -1),
        ("a timerfd with a period of -1 ns", "interval", -1),
        (
            "a canceled timerfd that is not absolute",
            "flags",
            abi::TIMERFD_F_CANCELED.into(),
        ),
    ];
    for (what, field, value) in timer_cases {
        case(what, false, &|i| {
            let t = i.next::<abi::Timerfd>(0);
            i.rec(t).set(field, value);
        });
    }
    case("a timerfd flag it cannot have", false, &|i| {
        let t = i.next::<abi::Timerfd>(0);
        i.rec(t).set("flags", 8);
    });
    // An epoll instance watches, each once, files written before it that can be polled,
    // under an fd, with what epoll_ctl() takes: EPOLLERR and EPOLLHUP unless it is a one-shot
    // watch that fired, EPOLLEXCLUSIVE without EPOLLONESHOT.
    let watch = |i: &Image| i.next::<abi::EpollWatch>(0);
    let objref_of = |i: &Image, file: usize| i.recs[file].get("objref");
    let watch_cases: [(&str, &str, FieldOf); 5] = [
        ("an epoll watch of an undefined file", "file", |_| 999_999),
        ("an epoll watch of a pipe, not a file of it", "file", |i| {
            i.recs[i.next::<abi::Pipe>(0)].get("objref")
        }),
        ("an epoll watch of its own instance", "file", |i| {
            i.recs[i.next::<abi::Epoll>(0) - 1].get("objref")
        }),
        ("an epoll watch of fd -1", "fd", |_| -1),
        (
            "an epoll watch without EPOLLERR and EPOLLHUP",
            "events",
            |_| libc::EPOLLIN.into(),
        ),
    ];
    for (what, field, value) in watch_cases {
        case(what, false, &|i| {
            let v = value(i);
            let w = watch(i);
            i.rec(w).set(field, v);
        });
    }
    case("an epoll watch of a regular file", false, &|i| {
        let plain = objref_of(i, i.file(&t.plain));
        let w = watch(i);
        i.rec(w).set("file", plain);
    });
    case("an epoll watch disarmed but not one-shot", false, &|i| {
        let w = watch(i);
        i.rec(w).set("events", i64::from(libc::EPOLLET as u32));
    });
    case("an epoll watch exclusive and one-shot", false, &|i| {
        let events = libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP;
        let events = events | libc::EPOLLEXCLUSIVE | libc::EPOLLONESHOT;
        let w = watch(i);
        i.rec(w).set("events", i64::from(events as u32));
    });
    case("an epoll watch twice", false, &|i| {
        let first = watch(i);
        let (file, fd) = (i.recs[first].get("file"), i.recs[first].get("fd"));
        let second = i.next::<abi::EpollWatch>(first + 1);
        i.rec(second).set("file", file).set("fd", fd);
    });
    case("an epoll with more watches than records", false, &|i| {
        let ep = i.next::<abi::Epoll>(0);
        i.rec(ep).set("watches", 3);
    });
    // An O_PATH file has no offset, and cannot be mapped or be an executable.
    case("an O_PATH file at an offset", false, &|i| {
        let file = i.file(&t.plain);
        let flags = i.recs[file].get("f_flags");
        i.rec(file)
            .set("kind", abi::FILE_KIND_PATH.into())
            .set("f_flags", flags | i64::from(libc::O_PATH))
            .set("pos", 5);
    });
    case(
        "an executable and its mapping from an O_PATH file",
        false,
        &|i| {
            let exe = std::env::current_exe().expect("our own path");
            let file = i.file(exe.to_str().expect("a UTF-8 path"));
            let flags = i.recs[file].get("f_flags");
            i.rec(file)
                .set("kind", abi::FILE_KIND_PATH.into())
                .set("f_flags", flags | i64::from(libc::O_PATH));
        },
    );
    case("a mapping read both at random and in order", false, &|i| {
        let vma = i.next::<abi::Vma>(i.task(t.root));
        let flags = i.recs[vma].get("flags");
        i.rec(vma).set(
            "flags",
            flags | (abi::VMA_RAND_READ | abi::VMA_SEQ_READ) as i64,
        );
    });
    case("a mapping advised both huge pages and none", false, &|i| {
        let vma = i.next::<abi::Vma>(i.task(t.root));
        let flags = i.recs[vma].get("flags");
        i.rec(vma).set(
            "flags",
            flags | (abi::VMA_HUGEPAGE | abi::VMA_NOHUGEPAGE) as i64,
        );
    });
    // The offset of a file mapping in bytes overflowed: EINVAL without a log line.
    case("a file mapping at page offset 2^64-1", false, &|i| {
        let vma = i.vma(t.root, abi::VMA_KIND_FILE);
        i.rec(vma).set("pgoff", -1);
    });
    // A name prctl(PR_SET_VMA_ANON_NAME) would refuse, and one longer than it takes.
    for (what, name) in [
        ("a mapping named with a '$'", b"cr$name".to_vec()),
        ("a mapping name of 80 bytes", vec![b'n'; 80]),
    ] {
        case(what, false, &|i| {
            let vma = i.vma(t.root, abi::VMA_KIND_ANON);
            let flags = i.recs[vma].get("flags");
            i.rec(vma).set("flags", flags | abi::VMA_ANON_NAME as i64);
            i.recs.insert(
                vma + 1,
                Rec {
                    ty: abi::RecordType::String.id(),
                    payload: name.clone(),
                },
            );
        });
    }
    // ioprio_set() refuses a class it does not know.
    case("an I/O priority of class 7", false, &|i| {
        let root = i.task(t.root);
        i.rec(root).set("ioprio", 7 << 13);
    });
    case(
        "a syscall dispatch region without dispatch on",
        false,
        &|i| {
            let root = i.task(t.root);
            i.rec(root).set("sud_offset", 0x1000).set("sud_len", 16);
        },
    );
    // prctl() refuses a region that wraps around the address space.
    case("a syscall dispatch region that wraps", false, &|i| {
        let root = i.task(t.root);
        let flags = i.recs[root].get("flags");
        i.rec(root)
            .set("flags", flags | i64::from(abi::TASK_F_SYSCALL_DISPATCH))
            .set("sud_offset", -4096)
            .set("sud_len", 8192);
    });
    // access_ok() refuses a selector beyond user space (EFAULT from prctl()).
    case("a syscall dispatch selector in kernel space", false, &|i| {
        let root = i.task(t.root);
        let flags = i.recs[root].get("flags");
        i.rec(root)
            .set("flags", flags | i64::from(abi::TASK_F_SYSCALL_DISPATCH))
            .set("sud_selector", -4096);
    });
    // The root's credentials: the audit login uid is set only under its flag, and never to
    // the "none" value, which the flag's absence means.
    case("credentials flags beyond CREDS_F_LOGINUID", false, &|i| {
        let creds = i.next::<abi::Creds>(i.task(t.root));
        i.rec(creds).set("flags", 2);
    });
    case("an audit login uid without its flag", false, &|i| {
        let creds = i.next::<abi::Creds>(i.task(t.root));
        i.rec(creds).set("flags", 0).set("loginuid", 5);
    });
    case("an audit login uid of -1", false, &|i| {
        let creds = i.next::<abi::Creds>(i.task(t.root));
        i.rec(creds)
            .set("flags", abi::CREDS_F_LOGINUID.into())
            .set("loginuid", u32::MAX.into());
    });
    // Job control: the kernel stops a process as a whole, by one of four signals, and wait()
    // reports a stop only of a stopped process.
    let stopped = |i: &mut Image, signal: i32| {
        let k = i.task(t.kid);
        i.rec(k)
            .set("state", abi::TASK_STATE_STOPPED.into())
            .set("exit_code", signal.into());
    };
    let stop_flags = |i: &mut Image, flags: u32, report: i32| {
        let signal = i.next::<abi::Signal>(i.task(t.kid));
        i.rec(signal)
            .set("flags", flags.into())
            .set("group_exit_code", report.into());
    };
    case("a running task with an exit code", false, &|i| {
        let k = i.task(t.kid);
        i.rec(k).set("exit_code", libc::SIGTSTP.into());
    });
    case("a task stopped by SIGKILL", false, &|i| {
        stopped(i, libc::SIGKILL);
        stop_flags(i, abi::SIGNAL_F_STOPPED, 0);
    });
    case("a stopped task in a process that is not", false, &|i| {
        stopped(i, libc::SIGTSTP)
    });
    case("a stopped process whose task runs", false, &|i| {
        stop_flags(i, abi::SIGNAL_F_STOPPED, libc::SIGTSTP)
    });
    case("a process both stopped and continued", false, &|i| {
        stopped(i, libc::SIGTSTP);
        stop_flags(i, abi::SIGNAL_F_STOPPED | abi::SIGNAL_F_CONTINUED, 0);
    });
    case("a stop to report of a running process", false, &|i| {
        stop_flags(i, 0, libc::SIGSTOP)
    });
    case("a stop reported as SIGCONT", false, &|i| {
        stopped(i, libc::SIGTSTP);
        stop_flags(i, abi::SIGNAL_F_STOPPED, libc::SIGCONT);
    });
    // CPU time: the kernel divides by a process's user plus system time (cputime_adjust()).
    case("a zombie's CPU time of 2^62 ns", false, &|i| {
        let z = i.task(t.zombie);
        i.rec(z).set_at("cputime", 1, 1 << 62);
    });
    case("a process's CPU time summing to 2^62 ns", false, &|i| {
        let root = i.task(t.root);
        i.rec(root)
            .set_at("cputime", 0, 1 << 61)
            .set_at("group_cputime", 1, 1 << 61);
    });
    // Summed in the process's CPU clock: a timer on it would loop forever (bump_cpu_timer()).
    case(
        "a process's time on a CPU summing to 2^62 ns",
        false,
        &|i| {
            let root = i.task(t.root);
            i.rec(root)
                .set_at("cputime", 3, 1 << 61)
                .set_at("group_cputime", 3, 1 << 61);
        },
    );
    case("a task's guest time above its user time", false, &|i| {
        let root = i.task(t.root);
        i.rec(root).set_at("cputime", 2, 1 << 40);
    });
    // Audit sessions: a session id only with a login uid, and one login uid per session.
    case("an audit session without a login uid", false, &|i| {
        let creds = i.next::<abi::Creds>(i.task(t.root));
        i.rec(creds)
            .set("flags", 0)
            .set("loginuid", 0)
            .set("sessionid", 9);
    });
    case("an audit session of -1", false, &|i| {
        let creds = i.next::<abi::Creds>(i.task(t.root));
        i.rec(creds)
            .set("flags", abi::CREDS_F_LOGINUID.into())
            .set("loginuid", 5)
            .set("sessionid", u32::MAX.into());
    });
    case("one audit session of two login uids", false, &|i| {
        for (pid, login) in [(t.root, 5), (t.kid, 6)] {
            let creds = i.next::<abi::Creds>(i.task(pid));
            i.rec(creds)
                .set("flags", abi::CREDS_F_LOGINUID.into())
                .set("loginuid", login)
                .set("sessionid", 9);
        }
    });
    case("mm flags beyond MM_F_ALL", false, &|i| {
        let mm = i.next::<abi::Mm>(i.task(t.root));
        i.rec(mm).set("flags", 0x100);
    });
    // The root's two POSIX timers: each field is handed to timer_create() and timer_settime()
    // inside the kernel, or decides how the timer's signal is queued again.
    let timer = |i: &Image, n: usize| i.all::<abi::PosixTimer>()[n];
    case("a POSIX timer on a CPU-time clock", false, &|i| {
        let at = timer(i, 0);
        i.rec(at)
            .set("clock", libc::CLOCK_PROCESS_CPUTIME_ID.into());
    });
    case("a POSIX timer ID above INT_MAX", false, &|i| {
        let at = timer(i, 0);
        i.rec(at).set("id", 1 << 31);
    });
    case("two POSIX timers with one ID", false, &|i| {
        let first = timer(i, 0);
        let id = i.recs[first].get("id");
        let at = timer(i, 1);
        i.rec(at).set("id", id);
    });
    // The restarting process exists while the root's timers are made; its children do not.
    case(
        "a POSIX timer that signals a thread of another process",
        false,
        &|i| {
            let at = timer(i, 0);
            i.rec(at)
                .set(
                    "notify",
                    (libc::SIGEV_SIGNAL | libc::SIGEV_THREAD_ID).into(),
                )
                .set("tid", std::process::id().into());
        },
    );
    case("a POSIX timer that has counted -2 overruns", false, &|i| {
        let at = timer(i, 0);
        i.rec(at).set("overrun", -2);
    });
    case("a next POSIX timer ID above INT_MAX", false, &|i| {
        let signal = i.next::<abi::Signal>(i.task(t.root));
        i.rec(signal).set("next_posix_timer_id", 1 << 31);
    });
    case(
        "a pending signal of a SIGEV_NONE POSIX timer",
        false,
        &|i| {
            let at = timer(i, 0);
            i.rec(at)
                .set("notify", libc::SIGEV_NONE.into())
                .set("flags", abi::POSIX_TIMER_F_QUEUED.into());
        },
    );
    case(
        "a POSIX timer waiting for its signal without an interval",
        false,
        &|i| {
            let at = timer(i, 1);
            i.rec(at)
                .set("state", abi::POSIX_TIMER_REARM.into())
                .set("interval", 0);
        },
    );
    // File locks ([`lock_files`]): the flock() lock and the OFD lock each follow the `File`
    // and `String` records of the file that owns it, and the root's two POSIX locks its fd
    // table's `Fd` records. Each is in the image once: the children share the files and took
    // no POSIX lock. Every description holds "file locks" (`restart_crafted locks` runs the
    // group alone). Where records are added, the count of their `File` or table is too.
    let lock_of = |i: &Image, kind: u32, mode: u32| {
        let found: Vec<usize> = i
            .all::<abi::FileLock>()
            .into_iter()
            .filter(|&r| {
                let rec = &i.recs[r];
                rec.get("kind") == i64::from(kind) && rec.get("mode") == i64::from(mode)
            })
            .collect();
        match found[..] {
            [r] => r,
            _ => panic!("the image has file locks of kind {kind} and mode {mode} at {found:?}"),
        }
    };
    // Each lock of the image, by its kind and mode.
    const FLOCK: (u32, u32) = (abi::LOCK_FLOCK, abi::LOCK_WRITE);
    const OFD: (u32, u32) = (abi::LOCK_OFD, abi::LOCK_WRITE);
    const POSIX_W: (u32, u32) = (abi::LOCK_POSIX, abi::LOCK_WRITE);
    const POSIX_R: (u32, u32) = (abi::LOCK_POSIX, abi::LOCK_READ);
    let flock = |i: &Image| lock_of(i, FLOCK.0, FLOCK.1);
    let ofd = |i: &Image| lock_of(i, OFD.0, OFD.1);
    let posix_write = |i: &Image| lock_of(i, POSIX_W.0, POSIX_W.1);
    let posix_read = |i: &Image| lock_of(i, POSIX_R.0, POSIX_R.1);
    // The `File` record of the file that owns the lock at `l`.
    let owner = |i: &Image, l: usize| {
        let file = (0..l).rev().find(|&r| i.recs[r].ty == abi::File::TYPE);
        let file = file.expect("a file lock after a File record");
        assert_eq!(
            i.recs[file + 1].payload,
            t.locked.as_bytes(),
            "a file lock of the locked file"
        );
        file
    };
    let table = |i: &Image| i.next::<abi::FdTable>(i.task(t.root));
    // The read-only file of the locked file, which owns no lock.
    let read_only = |i: &Image| {
        (1..i.recs.len())
            .find(|&r| {
                i.recs[r].ty == abi::RecordType::String.id()
                    && i.recs[r].payload == t.locked.as_bytes()
                    && i.recs[r - 1].ty == abi::File::TYPE
                    && i.recs[r - 1].get("f_flags") & i64::from(libc::O_ACCMODE)
                        == i64::from(libc::O_RDONLY)
            })
            .map(|r| r - 1)
            .expect("the locked file open read-only")
    };
    let lock = |kind: u32, mode: u32, (start, end): (i64, i64), fd: i64| Rec {
        ty: abi::FileLock::TYPE,
        payload: abi::FileLock {
            kind,
            mode,
            start,
            end,
            fd: fd as i32,
            _pad0: 0,
        }
        .to_bytes()
        .to_vec(),
    };
    // `rec` as the last lock of the file whose `File` record is at `file`, counted.
    let add_owned = |i: &mut Image, file: usize, rec: Rec| {
        assert_eq!(i.recs[file + 1].ty, abi::RecordType::String.id());
        let n = i.recs[file].get("locks");
        i.recs.insert(file + 2 + n as usize, rec);
        i.rec(file).set("locks", n + 1);
    };
    // `rec` as the last POSIX lock of the root's table, counted.
    let add_posix = |i: &mut Image, rec: Rec| {
        let at = posix_write(i).max(posix_read(i)) + 1;
        i.recs.insert(at, rec);
        let table = table(i);
        let n = i.recs[table].get("locks");
        i.rec(table).set("locks", n + 1);
    };
    // A lock that restart refuses after all the others are taken: through an fd not open.
    let then_refused = |i: &mut Image| {
        add_posix(
            i,
            lock(abi::LOCK_POSIX, abi::LOCK_READ, (300, 300), NOT_OPEN),
        );
    };
    let whole = (0, i64::MAX);
    let lock_cases: [(&str, (u32, u32), &str, i64); 14] = [
        ("file locks with one of kind 0", FLOCK, "kind", 0),
        ("file locks with one of kind 4", OFD, "kind", 4),
        (
            "file locks with a POSIX one owned by a file",
            FLOCK,
            "kind",
            abi::LOCK_POSIX.into(),
        ),
        (
            "file locks with a flock() one owned by a table",
            POSIX_W,
            "kind",
            abi::LOCK_FLOCK.into(),
        ),
        (
            "file locks with an OFD one owned by a table",
            POSIX_R,
            "kind",
            abi::LOCK_OFD.into(),
        ),
        ("file locks with one of mode 0", FLOCK, "mode", 0),
        ("file locks with one of mode 3", POSIX_R, "mode", 3),
        ("file locks with one from byte -1", OFD, "start", -1),
        (
            "file locks with a flock() one from byte 1",
            FLOCK,
            "start",
            1,
        ),
        ("file locks with a flock() one to byte 99", FLOCK, "end", 99),
        ("file locks with a flock() one through fd 3", FLOCK, "fd", 3),
        ("file locks with an OFD one through fd 3", OFD, "fd", 3),
        (
            "file locks with a POSIX one through fd -1",
            POSIX_W,
            "fd",
            -1,
        ),
        (
            "file locks with padding that is not zero",
            POSIX_W,
            "_pad0",
            1,
        ),
    ];
    for (what, (kind, mode), field, value) in lock_cases {
        case(what, false, &|i| {
            let l = lock_of(i, kind, mode);
            i.rec(l).set(field, value);
        });
    }
    case(
        "file locks with one that ends before it starts",
        false,
        &|i| {
            let l = posix_read(i);
            let start = i.recs[l].get("start");
            i.rec(l).set("end", start - 1);
        },
    );
    case(
        "file locks with a POSIX one through an fd not open",
        false,
        &|i| {
            let l = posix_write(i);
            i.rec(l).set("fd", NOT_OPEN);
        },
    );
    // fcntl(F_SETLK) refuses a write lock through a file not open for writing (EBADF).
    case(
        "file locks with a POSIX write lock through a read-only fd",
        false,
        &|i| {
            let l = posix_read(i);
            i.rec(l).set("mode", abi::LOCK_WRITE.into());
        },
    );
    case(
        "file locks with an OFD write lock of a read-only file",
        false,
        &|i| {
            let file = read_only(i);
            add_owned(i, file, lock(abi::LOCK_OFD, abi::LOCK_WRITE, (0, 0), 0));
        },
    );
    case("file locks of a table without fds", false, &|i| {
        let table = table(i);
        i.rec(table).set("count", 0);
    });
    // Counts that do not match the records: the next record is read as a lock, or a lock
    // as the next record (the flock() lock's file is followed by its `Fd`; the table, by the
    // next process's `Task`).
    case("file locks counted one more by their file", false, &|i| {
        let file = owner(i, flock(i));
        i.rec(file).set("locks", 2);
    });
    case("file locks counted one fewer by their file", false, &|i| {
        let file = owner(i, flock(i));
        i.rec(file).set("locks", 0);
    });
    case("file locks counted one more by their table", false, &|i| {
        let table = table(i);
        i.rec(table).set("locks", 3);
    });
    case("file locks counted one fewer by their table", false, &|i| {
        let table = table(i);
        i.rec(table).set("locks", 1);
    });
    case(
        "file locks of a file with padding that is not zero",
        false,
        &|i| {
            let file = owner(i, flock(i));
            i.rec(file).set("_pad0", 1);
        },
    );
    // Valid locks, taken for real: flock() takes a second exclusive lock of a file that
    // holds one as its own, the same owner's (it keeps it); a shared one, then an exclusive
    // one, as a conversion. A POSIX lock may be of any range within an i64, from 100 on to
    // keep out of the OFD lock's way. Alone, each restarts; here restart is then refused by
    // a POSIX lock after all the others, through an fd not open: that refusal (EINVAL and its
    // line, not EBUSY or another errno) tells the locks before it were taken, and the failed
    // restart must drop them ([`locks_free`], and the intact image takes them again).
    case(
        "file locks with one flock() lock taken twice, then a bad one",
        false,
        &|i| {
            let l = flock(i);
            let file = owner(i, l);
            add_owned(i, file, lock(abi::LOCK_FLOCK, abi::LOCK_WRITE, whole, 0));
            then_refused(i);
        },
    );
    case(
        "file locks with a flock() one shared, then exclusive, then a bad one",
        false,
        &|i| {
            let l = flock(i);
            let file = owner(i, l);
            i.rec(l).set("mode", abi::LOCK_READ.into());
            add_owned(i, file, lock(abi::LOCK_FLOCK, abi::LOCK_WRITE, whole, 0));
            then_refused(i);
        },
    );
    case(
        "file locks with a POSIX one to byte 2^63-2, then a bad one",
        false,
        &|i| {
            let l = posix_write(i);
            i.rec(l).set("end", i64::MAX - 1);
            then_refused(i);
        },
    );
    case(
        "file locks with a POSIX one of byte 2^63-1 on, then a bad one",
        false,
        &|i| {
            let l = posix_write(i);
            i.rec(l).set("start", i64::MAX).set("end", i64::MAX);
            then_refused(i);
        },
    );
    case(
        "file locks with a POSIX one from byte 100 on, then a bad one",
        false,
        &|i| {
            let l = posix_write(i);
            i.rec(l).set("start", POSIX_WRITE.0).set("end", i64::MAX);
            then_refused(i);
        },
    );
    // Unix socket pairs ([`unix_pairs`]): each `UnixPair` record follows the `File` record
    // of the first of its sockets, right before that socket's `UnixSock`; the second's
    // `UnixSock` follows its own `File` later. The stream pair's first socket holds
    // [`UNIX_BYTES`] in one message (a `UnixMsg` and its `Data`). The seqpacket pair's first
    // socket holds [`CARRIED`] in a message that carries files: its `UnixSock` has
    // `UNIX_QUEUE_LATER` and no `UnixMsg` after it; after the last task come the `File`
    // record of the pipe's read end, which only the message holds, then a `UnixQueue` naming
    // the pair and the socket's end, its `UnixMsg` (2 files), a `UnixCarried` for each file
    // (the eventfd, then the pipe) and the `Data`. The second datagram pair's first socket
    // holds a message with the root's credentials: its `UnixSock` has `UNIX_QUEUE_LATER` too,
    // and after the last task come its `UnixQueue`, `UnixMsg`, a `UnixCreds` naming the
    // root's `Task`, and the `Data`. The sockets of [`named_sockets`], connected to none, each
    // have a `UnixPair` of peer `UNIX_PAIR_NONE`, then a `UnixSock` with `UNIX_BOUND` (and
    // `UNIX_LISTENING`), then a `UnixName`. Each socket is in the image once: the children
    // share the files. Every description holds "unix socket" (`restart_crafted unix` runs the
    // group alone).
    // The `UnixCreds` record, the only one.
    let creds = |i: &Image| {
        let all = i.all::<abi::UnixCreds>();
        assert_eq!(all.len(), 1, "the messages with credentials");
        let c = all[0];
        assert_eq!(
            i.recs[c - 1].ty,
            abi::UnixMsg::TYPE,
            "credentials after a message"
        );
        assert_eq!(
            i.recs[c - 2].ty,
            abi::UnixQueue::TYPE,
            "the message of a UnixQueue"
        );
        assert_eq!(
            i.recs[c].get("sender"),
            objref(i, t.root),
            "the sender of the message with credentials"
        );
        c
    };
    // The objref of the pair whose messages carry credentials.
    let creds_pair = |i: &Image| i.recs[creds(i) - 2].get("pair");
    // The pair of type `ty`, but for the one whose messages carry credentials and the lone
    // sockets of [`named_sockets`].
    let unix_pair = |i: &Image, ty: libc::c_int| {
        let apart = creds_pair(i);
        let pairs = i.all::<abi::UnixPair>().into_iter();
        let mut found = pairs.filter(|&r| {
            i.recs[r].get("sock_type") == i64::from(ty)
                && i.recs[r].get("objref") != apart
                && i.recs[r].get("peer") != i64::from(abi::UNIX_PAIR_NONE)
        });
        let p = found
            .next()
            .unwrap_or_else(|| panic!("the image has no unix socket pair of type {ty}"));
        assert!(found.next().is_none(), "two unix socket pairs of type {ty}");
        assert_eq!(i.recs[p - 1].ty, abi::File::TYPE, "a pair after a File");
        assert_eq!(
            i.recs[p + 1].ty,
            abi::UnixSock::TYPE,
            "a socket after a pair"
        );
        p
    };
    let stream = |i: &Image| unix_pair(i, libc::SOCK_STREAM);
    let dgram = |i: &Image| unix_pair(i, libc::SOCK_DGRAM);
    let seqpacket = |i: &Image| unix_pair(i, libc::SOCK_SEQPACKET);
    // The seqpacket pair's `UnixQueue` record, and the end of its messages' records.
    let queue = |i: &Image| {
        let pair = i.recs[seqpacket(i)].get("objref");
        let q = i
            .all::<abi::UnixQueue>()
            .into_iter()
            .find(|&r| i.recs[r].get("pair") == pair)
            .expect("the seqpacket pair's UnixQueue");
        let within = [
            abi::UnixMsg::TYPE,
            abi::UnixCarried::TYPE,
            abi::RecordType::Data.id(),
        ];
        let end = (q + 1..i.recs.len())
            .find(|&r| !within.contains(&i.recs[r].ty))
            .unwrap_or(i.recs.len());
        (q, end)
    };
    // The message of the `UnixQueue`, which carries the eventfd and the pipe.
    let carrying = |i: &Image| {
        let m = i.next::<abi::UnixMsg>(queue(i).0);
        assert_eq!(i.recs[m].get("files"), 2, "the files the message carries");
        m
    };
    // The `UnixSock` of the second socket of the pair at `p`.
    let second_sock = |i: &Image, p: usize| {
        let objref = i.recs[p].get("objref");
        (p + 2..i.recs.len())
            .find(|&r| i.recs[r].ty == abi::UnixSock::TYPE && i.recs[r].get("pair") == objref)
            .expect("the pair's second socket in the image")
    };
    // The stream pair's first socket, which holds the message.
    let held = |i: &Image| {
        let s = stream(i) + 1;
        assert_eq!(i.recs[s].get("msgs"), 1, "the stream socket's messages");
        assert_eq!(i.recs[s].get("bytes"), UNIX_BYTES.len() as i64);
        s
    };
    let plain_objref = |i: &Image| i.recs[i.file(&t.plain)].get("objref");
    case("a unix socket pair of type 3 (SOCK_RAW)", false, &|i| {
        let p = stream(i);
        i.rec(p).set("sock_type", 3);
    });
    case("a unix socket pair with peer 7", false, &|i| {
        let p = stream(i);
        i.rec(p).set("peer", 7);
    });
    case("a unix socket of end 2", false, &|i| {
        let s = dgram(i) + 1;
        i.rec(s).set("end", 2);
    });
    case(
        "a unix socket pair opened by two files of one end",
        false,
        &|i| {
            let p = stream(i);
            let end = i.recs[p + 1].get("end");
            let second = second_sock(i, p);
            i.rec(second).set("end", end);
        },
    );
    case(
        "a unix socket of a pair that is a regular file",
        false,
        &|i| {
            let plain = plain_objref(i);
            let p = dgram(i);
            let second = second_sock(i, p);
            i.rec(second).set("pair", plain);
        },
    );
    let sock_cases: [(&str, &str, i64); 3] = [
        ("a unix socket shut down 4", "shutdown", 4),
        ("a unix socket with error 5", "err", 5),
        ("a unix socket of a pair made by no process", "creator", 0),
    ];
    for (what, field, value) in sock_cases {
        case(what, false, &|i| {
            let s = stream(i) + 1;
            i.rec(s).set(field, value);
        });
    }
    case("a unix socket with flag 2048", false, &|i| {
        let s = dgram(i) + 1;
        let flags = i.recs[s].get("flags");
        i.rec(s).set("flags", flags | 2048);
    });
    case("a unix socket of a pair made by a file", false, &|i| {
        let plain = plain_objref(i);
        let s = stream(i) + 1;
        i.rec(s).set("creator", plain);
    });
    case(
        "a unix socket message longer than its socket holds",
        false,
        &|i| {
            let s = held(i);
            let m = i.next::<abi::UnixMsg>(s);
            i.rec(m).set("len", UNIX_BYTES.len() as i64 + 1);
        },
    );
    case(
        "a unix socket that holds more than its messages",
        false,
        &|i| {
            let s = held(i);
            i.rec(s).set("bytes", UNIX_BYTES.len() as i64 + 1);
        },
    );
    // Only the first socket of a pair whose other socket was closed has a file.
    case("a unix socket of end 1 of a closed pair", false, &|i| {
        let p = stream(i);
        i.rec(p).set("peer", abi::UNIX_PAIR_CLOSED.into());
        i.rec(p + 1).set("end", 1);
    });
    // A socket connected to none (and made by none), with the message.
    case("a unix socket alone with messages", false, &|i| {
        let s = held(i);
        i.rec(s - 1).set("peer", abi::UNIX_PAIR_NONE.into());
        i.rec(s).set("end", 0).set("creator", 0);
    });
    // The pipe's first file: its `Pipe` record follows.
    case("a pipe's reader labeled a unix socket", false, &|i| {
        let file = pipe_file(i);
        i.rec(file)
            .set("kind", abi::FILE_KIND_UNIX.into())
            .set("f_flags", libc::O_RDWR.into());
    });
    case("a unix socket labeled a pipe's write end", false, &|i| {
        let file = stream(i) - 1;
        i.rec(file)
            .set("kind", abi::FILE_KIND_PIPE.into())
            .set("f_flags", libc::O_WRONLY.into());
    });
    case("a unix socket with SO_RCVLOWAT 0", false, &|i| {
        let s = stream(i) + 1;
        i.rec(s).set("rcvlowat", 0);
    });
    case("a unix socket with a send buffer of 1 byte", false, &|i| {
        let s = stream(i) + 1;
        let flags = i.recs[s].get("flags");
        i.rec(s)
            .set("sndbuf", 1)
            .set("flags", flags | i64::from(abi::UNIX_SNDBUF_LOCK));
    });
    // Files in flight (SCM_RIGHTS): only a message of a `UnixQueue` carries files, at most
    // 253, each a `File` record before it.
    case(
        "a unix socket message carrying a file inline",
        false,
        &|i| {
            let m = i.next::<abi::UnixMsg>(held(i));
            i.rec(m).set("files", 1);
        },
    );
    case("a unix socket message carrying 254 files", false, &|i| {
        let m = carrying(i);
        i.rec(m).set("files", i64::from(abi::UNIX_CARRIED_MAX) + 1);
    });
    case("a unix socket message carrying its pair", false, &|i| {
        let pair = i.recs[seqpacket(i)].get("objref");
        let c = i.next::<abi::UnixCarried>(carrying(i));
        i.rec(c).set("file", pair);
    });
    case(
        "a unix socket message carrying an object not in the image",
        false,
        &|i| {
            let c = i.next::<abi::UnixCarried>(carrying(i));
            i.rec(c).set("file", 999_999);
        },
    );
    case(
        "a unix socket message carrying a file with padding that is not zero",
        false,
        &|i| {
            let c = i.next::<abi::UnixCarried>(carrying(i));
            i.rec(c).set("_pad0", 1);
        },
    );
    // A `UnixQueue` brings the messages of the socket whose `UnixSock` said they come, once.
    case(
        "a unix socket's messages that carry files for the other socket of its pair",
        false,
        &|i| {
            let (q, _) = queue(i);
            let end = i.recs[q].get("end");
            i.rec(q).set("end", 1 - end);
        },
    );
    case(
        "a unix socket's messages that carry files for another pair",
        false,
        &|i| {
            let pair = i.recs[stream(i)].get("objref");
            let (q, _) = queue(i);
            i.rec(q).set("pair", pair);
        },
    );
    case(
        "a unix socket's messages that carry files for a regular file",
        false,
        &|i| {
            let plain = plain_objref(i);
            let (q, _) = queue(i);
            i.rec(q).set("pair", plain);
        },
    );
    case(
        "a unix socket's messages that carry files, twice",
        false,
        &|i| {
            let (q, end) = queue(i);
            let again: Vec<Rec> = i.recs[q..end].to_vec();
            i.recs.splice(end..end, again);
        },
    );
    case(
        "a unix socket whose messages that carry files do not come",
        false,
        &|i| {
            let (q, end) = queue(i);
            i.recs.drain(q..end);
        },
    );
    case(
        "a unix socket with UNIX_QUEUE_LATER and nothing to come",
        false,
        &|i| {
            let s = dgram(i) + 1;
            let flags = i.recs[s].get("flags");
            i.rec(s)
                .set("flags", flags | i64::from(abi::UNIX_QUEUE_LATER));
        },
    );
    // After the last task come only files that restart makes alike in any process.
    case(
        "a unix socket message carrying a regular file made after the last task",
        false,
        &|i| {
            let (q, _) = queue(i);
            let file = (0..q)
                .rev()
                .find(|&r| i.recs[r].ty == abi::File::TYPE)
                .expect("the pipe's File record before the UnixQueue");
            assert_eq!(
                i.recs[file].get("kind"),
                i64::from(abi::FILE_KIND_PIPE),
                "the file only the message holds"
            );
            let last_task = i.all::<abi::Task>().into_iter().max();
            assert!(
                last_task.is_some_and(|t| file > t),
                "the pipe's file after the last task"
            );
            i.rec(file).set("kind", abi::FILE_KIND_REGULAR.into());
        },
    );
    // Credentials (SCM_CREDENTIALS) name the task that sent the message, a `Task` before.
    case(
        "a unix socket message whose credentials name its pair",
        false,
        &|i| {
            let pair = creds_pair(i);
            let c = creds(i);
            i.rec(c).set("sender", pair);
        },
    );
    case(
        "a unix socket message whose credentials name a regular file",
        false,
        &|i| {
            let plain = plain_objref(i);
            let c = creds(i);
            i.rec(c).set("sender", plain);
        },
    );
    case(
        "a unix socket message whose credentials name an object not in the image",
        false,
        &|i| {
            let c = creds(i);
            i.rec(c).set("sender", 999_999);
        },
    );
    case(
        "a unix socket message whose credentials have padding that is not zero",
        false,
        &|i| {
            let c = creds(i);
            i.rec(c).set("_pad0", 1);
        },
    );
    // Sockets bound to a name ([`named_sockets`]): the `UnixSock` of the lone socket of type
    // `ty` whose `UnixName` follows with the name `name`, with the flags `flags`.
    let named = |i: &Image, ty: libc::c_int, flags: u32, name: &[u8]| {
        let lone = i64::from(abi::UNIX_PAIR_NONE);
        let has_name = |r: usize| {
            i.recs.get(r).is_some_and(|n| {
                n.ty == abi::UnixName::TYPE && {
                    let n = n.decode::<abi::UnixName>();
                    n.name.get(..n.len as usize) == Some(name)
                }
            })
        };
        let p = i.all::<abi::UnixPair>().into_iter().find(|&r| {
            i.recs[r].get("sock_type") == i64::from(ty)
                && i.recs[r].get("peer") == lone
                && has_name(r + 2)
        });
        let shown = String::from_utf8_lossy(name);
        let s = p.unwrap_or_else(|| {
            panic!("the image has no lone unix socket of type {ty} named {shown:?}")
        }) + 1;
        assert_eq!(i.recs[s].ty, abi::UnixSock::TYPE, "a socket after its pair");
        assert_eq!(
            i.recs[s].get("flags"),
            i64::from(flags),
            "the socket's flags"
        );
        s
    };
    let bound_listening = abi::UNIX_BOUND | abi::UNIX_LISTENING;
    let listener = |i: &Image| {
        let s = named(
            i,
            libc::SOCK_STREAM,
            bound_listening,
            &listener_name(t.root),
        );
        assert_eq!(i.recs[s + 1].get("backlog"), i64::from(BACKLOG));
        s
    };
    let bound_dgram = |i: &Image| {
        let s = named(i, libc::SOCK_DGRAM, abi::UNIX_BOUND, &dgram_name(t.root));
        assert_eq!(i.recs[s + 1].get("backlog"), 0);
        s
    };
    let name_len = listener_name(t.root).len() as i64;
    case("a unix socket name of 0 bytes", false, &|i| {
        let s = listener(i);
        i.rec(s + 1).set("len", 0);
    });
    case("a unix socket name of 109 bytes", false, &|i| {
        let s = listener(i);
        i.rec(s + 1).set("len", i64::from(abi::UNIX_NAME_MAX) + 1);
    });
    // A path is followed by its inode's `UnixPath` record, which the listener's abstract
    // name turned into one does not have.
    case(
        "a unix socket path name without its inode record",
        false,
        &|i| {
            let s = listener(i);
            i.rec(s + 1).set_at("name", 0, b'/'.into());
        },
    );
    case(
        "a unix socket name with a byte after its length",
        false,
        &|i| {
            let s = listener(i);
            i.rec(s + 1).set_at("name", name_len as usize, b'x'.into());
        },
    );
    case(
        "a unix socket name with padding that is not zero",
        false,
        &|i| {
            let s = listener(i);
            i.rec(s + 1).set("_pad0", 1);
        },
    );
    case(
        "a unix socket bound, not listening, with a backlog",
        false,
        &|i| {
            let s = bound_dgram(i);
            i.rec(s + 1).set("backlog", BACKLOG.into());
        },
    );
    // A name as an accepted socket has it, or its closed peer's, on a socket of no pair.
    for (what, flags) in [
        (
            "a unix socket connected to none, with its listener's name",
            abi::UNIX_NAMED,
        ),
        (
            "a unix socket connected to none, with a closed peer's name",
            abi::UNIX_PEER_NAMED,
        ),
        (
            "a unix socket bound to a name and with its listener's",
            abi::UNIX_BOUND | abi::UNIX_NAMED,
        ),
    ] {
        case(what, false, &|i| {
            let s = bound_dgram(i);
            i.rec(s).set("flags", flags.into());
        });
    }
    // The listener's name, as an accepted socket has it, after the `UnixSock` at `s`.
    let name_as_accepted = |i: &mut Image, s: usize| {
        let mut name = i.recs[listener(i) + 1].clone();
        name.set("backlog", 0);
        let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_NAMED);
        i.rec(s).set("flags", flags);
        i.recs.insert(s + 1, name);
    };
    // Only a connection's socket has a name it was not bound to: a datagram socket could send
    // under it.
    case(
        "a unix datagram socket of a pair with a listener's name",
        false,
        &|i| {
            let s = dgram(i) + 1;
            name_as_accepted(i, s);
        },
    );
    case(
        "a unix socket pair whose two sockets have a listener's name",
        false,
        &|i| {
            let p = stream(i);
            name_as_accepted(i, p + 1);
            let second = second_sock(i, p);
            name_as_accepted(i, second);
        },
    );
    // Only a socket whose peer was closed names it.
    case(
        "a unix socket of a pair with both sockets, with a closed peer's name",
        false,
        &|i| {
            let s = stream(i) + 1;
            let mut name = i.recs[listener(i) + 1].clone();
            name.set("backlog", 0);
            let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_PEER_NAMED);
            i.rec(s).set("flags", flags);
            i.recs.insert(s + 1, name);
        },
    );
    // Connected by name, which only a lone datagram socket is, to a socket restart bound.
    case("a unix socket of a pair connected by name", false, &|i| {
        let s = dgram(i) + 1;
        let mut name = i.recs[listener(i) + 1].clone();
        name.set("backlog", 0);
        let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_CONNECTED);
        i.rec(s).set("flags", flags);
        i.recs.insert(s + 1, name);
    });
    // Connected, so not left established by another.
    case(
        "a unix datagram socket connected by name, left established",
        false,
        &|i| {
            let s = bound_dgram(i);
            let name = i.recs[s + 1].clone();
            let flags = abi::UNIX_BOUND | abi::UNIX_CONNECTED | abi::UNIX_ESTABLISHED;
            i.rec(s).set("flags", flags.into());
            i.recs.insert(s + 2, name);
        },
    );
    case(
        "a unix datagram socket connected to a name no socket of the image has",
        false,
        &|i| {
            let s = bound_dgram(i);
            let mut name = i.recs[s + 1].clone();
            name.set_at("name", 1, b'~'.into());
            let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_CONNECTED);
            i.rec(s).set("flags", flags);
            i.recs.insert(s + 2, name);
        },
    );
    // Only a datagram socket connected to none stays established once another connected to it.
    case("a unix socket of a pair left established", false, &|i| {
        let s = stream(i) + 1;
        let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_ESTABLISHED);
        i.rec(s).set("flags", flags);
    });
    case("a unix stream listener left established", false, &|i| {
        let s = listener(i);
        let flags = i.recs[s].get("flags") | i64::from(abi::UNIX_ESTABLISHED);
        i.rec(s).set("flags", flags);
    });
    // Made to listen by the root, as a listener is.
    case("a unix datagram socket listening", false, &|i| {
        let root = objref(i, t.root);
        let s = bound_dgram(i);
        i.rec(s)
            .set("flags", bound_listening.into())
            .set("creator", root);
        i.rec(s + 1).set("backlog", BACKLOG.into());
    });
    // Its creator, which only a listener has, is refused before its backlog.
    case(
        "a unix socket no longer listening, with its backlog",
        false,
        &|i| {
            let s = listener(i);
            i.rec(s).set("flags", abi::UNIX_BOUND.into());
        },
    );
    case("a unix socket listening, not bound", false, &|i| {
        let s = listener(i);
        i.rec(s).set("flags", abi::UNIX_LISTENING.into());
        i.recs.remove(s + 1);
    });
    case("a unix socket bound, without its name", false, &|i| {
        let s = listener(i);
        i.recs.remove(s + 1);
    });
    // A lone socket that is not bound nor listening, made by none, with the name still after.
    case("a unix socket name after a socket not bound", false, &|i| {
        let s = listener(i);
        i.rec(s).set("flags", 0).set("creator", 0);
    });
    // Connections the listener holds, not accepted yet (the intact one holds none): its
    // `msgs` counts them, and after its `UnixName` (abstract: no `UnixPath` follows), before
    // its `Fd` record, come for each the pair's `UnixPair` if it is the pair's first record in
    // the image, then the `UnixSock` of the socket accept() would give. Restart reads them as
    // it restores the listener's file, right after its name (`restore_waiting`): the first
    // record it refuses is the connection's. `hold` sets the listener's `msgs` to `count` and
    // puts `conns` there.
    let hold = |i: &mut Image, count: i64, conns: Vec<Rec>| {
        let s = listener(i);
        assert_eq!(
            i.recs[s].get("msgs"),
            0,
            "the connections the listener holds"
        );
        assert_eq!(
            i.recs[s + 2].ty,
            abi::Fd::TYPE,
            "the listener's fd after its name"
        );
        i.rec(s).set("msgs", count);
        i.recs.splice(s + 2..s + 2, conns);
    };
    // An objref no object of the image has.
    let new_ref = 999_998;
    // The `UnixPair` of a new pair of the stream pair's type, with both its sockets: the
    // stream pair's, with another objref.
    let new_pair = |i: &Image| {
        let mut p = i.recs[stream(i)].clone();
        assert_eq!(
            p.get("peer"),
            i64::from(abi::UNIX_PAIR_BOTH),
            "the stream pair's sockets"
        );
        p.set("objref", new_ref);
        p
    };
    // The `UnixSock` of the socket of end `end` of the new pair: the stream pair's second
    // socket's, which holds nothing, names the root as its maker (SO_PEERCRED) and has no
    // flag a waiting connection may not have.
    let new_sock = |i: &Image, end: i64| {
        let mut s = i.recs[second_sock(i, stream(i))].clone();
        let unset = abi::UNIX_NOT_WAITING;
        assert_eq!(
            s.get("flags") & i64::from(unset),
            0,
            "the flags of the stream pair's second socket"
        );
        assert_eq!(
            (s.get("msgs"), s.get("bytes")),
            (0, 0),
            "what the stream pair's second socket holds"
        );
        assert_eq!(s.get("creator"), objref(i, t.root), "its maker");
        s.set("pair", new_ref).set("end", end);
        s
    };
    // A waiting connection is as connect() left the socket its listener made for it: of a
    // live pair of the listener's type (the other socket is its client), not bound, without
    // the listener's name (which restart gives it as it queues it), SO_PASSCRED or
    // SO_PASSPIDFD (which it gets from the listener as it is accepted). The socket of a live
    // pair may have each of these: `state_of` passes it, and the connection's check, right
    // after, refuses it.
    for (what, flag) in [
        (
            "a unix socket waiting on a listener, bound",
            abi::UNIX_BOUND,
        ),
        (
            "a unix socket waiting on a listener, with the listener's name",
            abi::UNIX_NAMED,
        ),
        (
            "a unix socket waiting on a listener, with SO_PASSCRED",
            abi::UNIX_PASSCRED,
        ),
        (
            "a unix socket waiting on a listener, with SO_PASSPIDFD",
            abi::UNIX_PASSPIDFD,
        ),
    ] {
        case(what, false, &|i| {
            let mut s = new_sock(i, 1);
            let flags = s.get("flags") | i64::from(flag);
            s.set("flags", flags);
            let conns = vec![new_pair(i), s];
            hold(i, 1, conns);
        });
    }
    // Listening, connected by name and established are states of a socket connected to none
    // (`state_of` refuses them on a socket of a live pair): a new pair of peer
    // `UNIX_PAIR_NONE`, whose socket is otherwise one `state_of` passes, of end 0, made by
    // none but the listening one (bound, as the listener's own `UnixSock`), made by the root.
    // The connection's check refuses a pair connected to none before it looks at the flags.
    for (what, flags) in [
        ("a unix socket waiting on a listener, connected to none", 0),
        (
            "a unix socket waiting on a listener, connected to none by name",
            abi::UNIX_CONNECTED,
        ),
        (
            "a unix socket waiting on a listener, connected to none, established",
            abi::UNIX_ESTABLISHED,
        ),
        (
            "a unix socket waiting on a listener, itself listening",
            abi::UNIX_BOUND | abi::UNIX_LISTENING,
        ),
    ] {
        case(what, false, &|i| {
            let mut p = new_pair(i);
            p.set("peer", abi::UNIX_PAIR_NONE.into());
            let creator = match flags & abi::UNIX_LISTENING {
                0 => 0,
                _ => objref(i, t.root),
            };
            let mut s = new_sock(i, 0);
            s.set("flags", flags.into()).set("creator", creator);
            hold(i, 1, vec![p, s]);
        });
    }
    // A listener accepts connections of its own type only: the socket of a live pair of
    // another type, otherwise as above (`state_of` does not look at the type).
    for (what, ty) in [
        (
            "a unix socket of a datagram pair waiting on a stream listener",
            libc::SOCK_DGRAM,
        ),
        (
            "a unix socket of a seqpacket pair waiting on a stream listener",
            libc::SOCK_SEQPACKET,
        ),
    ] {
        case(what, false, &|i| {
            let mut p = new_pair(i);
            p.set("sock_type", ty.into());
            let conns = vec![p, new_sock(i, 1)];
            hold(i, 1, conns);
        });
    }
    // A socket has one file, or waits on a listener, which holds it without one. The stream
    // pair's files come before the listener's (their fds are lower), the bound datagram
    // socket's after: whichever of the two openings comes second finds the socket restored
    // (the first thing `restore_sock` looks at).
    case(
        "a unix socket opened by a file, then waiting on a listener",
        false,
        &|i| {
            let second = second_sock(i, stream(i));
            assert!(
                second < listener(i),
                "the stream pair's second socket before the listener"
            );
            let again = i.recs[second].clone();
            hold(i, 1, vec![again]);
        },
    );
    // The bound datagram socket's file opens the new pair's waiting socket instead: its
    // `UnixPair`, `UnixSock` and `UnixName` give way to that socket's `UnixSock`.
    case(
        "a unix socket waiting on a listener, then opened by a file",
        false,
        &|i| {
            let d = bound_dgram(i);
            assert!(
                d > listener(i),
                "the bound datagram socket after the listener"
            );
            assert_eq!(
                i.recs[d + 2].ty,
                abi::Fd::TYPE,
                "the bound datagram socket's fd after its name"
            );
            let again = new_sock(i, 1);
            i.recs.splice(d - 1..d + 2, [again]);
            let conns = vec![new_pair(i), new_sock(i, 1)];
            hold(i, 1, conns);
        },
    );
    // The other socket of a connection's pair is its client: it waits on no listener. Both
    // sockets of the new pair wait here, end 0 first, which passes.
    case(
        "a unix socket pair whose two sockets wait on a listener",
        false,
        &|i| {
            let conns = vec![new_pair(i), new_sock(i, 0), new_sock(i, 1)];
            hold(i, 2, conns);
        },
    );
    // A connection counted, whose records do not come: the listener's `Fd` follows its name.
    case(
        "a unix socket listening with a connection whose records do not come",
        false,
        &|i| hold(i, 1, Vec::new()),
    );
    // A socket connected to none holds no message, so no byte; a listener's `msgs` count its
    // connections, which hold their own.
    case(
        "a unix socket connected to none, not listening, holding a byte without messages",
        false,
        &|i| {
            let s = bound_dgram(i);
            assert_eq!(
                i.recs[s].get("msgs"),
                0,
                "the bound datagram socket's messages"
            );
            i.rec(s).set("bytes", 1);
        },
    );
    case("a unix socket listening, holding a byte", false, &|i| {
        let s = listener(i);
        i.rec(s).set("bytes", 1);
    });
    // The socket bound to a path ([`BOUND_PATH`]): the `UnixSock` of the lone datagram socket
    // whose `UnixName` is the path, followed by its inode's `UnixPath` record (a socket's
    // mode) and the `String` of where that inode is, the path itself. Every description holds
    // "unix socket path" (`restart_crafted "unix socket path"` runs the group alone).
    let bound_path = |i: &Image| {
        let s = named(i, libc::SOCK_DGRAM, abi::UNIX_BOUND, t.sock.as_bytes());
        assert_eq!(i.recs[s + 1].get("backlog"), 0);
        assert_eq!(
            i.recs[s + 2].ty,
            abi::UnixPath::TYPE,
            "a path's inode after its name"
        );
        assert_eq!(
            i.recs[s + 2].get("mode") & i64::from(libc::S_IFMT),
            i64::from(libc::S_IFSOCK),
            "the type of the path's inode"
        );
        assert_eq!(
            i.recs[s + 3].ty,
            abi::RecordType::String.id(),
            "where the path's inode is, after it"
        );
        assert_eq!(
            i.recs[s + 3].payload,
            t.sock.as_bytes(),
            "where the path's inode is"
        );
        s
    };
    for (what, mode) in [
        (
            "a unix socket path whose inode is a regular file",
            libc::S_IFREG | 0o644,
        ),
        (
            "a unix socket path whose inode has mode bit 0o10000",
            libc::S_IFSOCK | 0o10000,
        ),
    ] {
        case(what, false, &|i| {
            let s = bound_path(i);
            i.rec(s + 2).set("mode", mode.into());
        });
    }
    case(
        "a unix socket path whose inode record has padding that is not zero",
        false,
        &|i| {
            let s = bound_path(i);
            i.rec(s + 2).set("_pad0", 1);
        },
    );
    case(
        "a unix socket path whose inode is not from the root",
        false,
        &|i| {
            let s = bound_path(i);
            i.rec(s + 3).payload = b"bound.sock".to_vec();
        },
    );
    case("a unix socket path name with a NUL inside", false, &|i| {
        let s = bound_path(i);
        i.rec(s + 1).set_at("name", 4, 0);
    });
    // Where no file is, restart makes the socket inode, and unlinks it again when it fails
    // after: the directory holds no "elsewhere.sock" at the end.
    case(
        "a unix socket path where no file is, then a bad lock",
        false,
        &|i| {
            let s = bound_path(i);
            i.rec(s + 3).payload = format!("{}/elsewhere.sock", t.dir).into_bytes();
            then_refused(i);
            let bad = i
                .all::<abi::FileLock>()
                .into_iter()
                .find(|&l| i.recs[l].get("fd") == NOT_OPEN);
            assert!(
                bad.is_some_and(|l| l > s),
                "the bad lock comes after the socket"
            );
        },
    );
    // A file at the place that is not the socket's inode, or no directory to make it in.
    let in_use = |place: &str| {
        format!(
            "unix socket: cannot bind it to {} at {place}: another file is there, or a socket \
             is bound to it (EADDRINUSE)",
            t.sock
        )
    };
    let path_cases = [
        (
            "a unix socket path at the place of a regular file",
            t.plain.clone(),
            0,
            libc::EADDRINUSE,
            in_use(&t.plain),
        ),
        (
            "a unix socket path whose inode has another number",
            t.sock.clone(),
            1,
            libc::EADDRINUSE,
            in_use(&t.sock),
        ),
        (
            "a unix socket path in a directory that does not exist",
            format!("{}/gone/bound.sock", t.dir),
            0,
            libc::ENOENT,
            format!(
                "unix socket: cannot bind it to {} at {}/gone/bound.sock (-2)",
                t.sock, t.dir
            ),
        ),
    ];
    for (what, place, ino_added, errno, why) in path_cases {
        let mut image = base.clone();
        let s = bound_path(&image);
        let ino = image.recs[s + 2].get("ino");
        image.rec(s + 2).set("ino", ino + ino_added);
        image.rec(s + 3).payload = place.into_bytes();
        out.push(Case {
            what: what.into(),
            image,
            cut: false,
            errnos: vec![errno],
            why: Some(why),
        });
    }
    // One POSIX timer record per pending signal the restarter may have, and the records are
    // not even there: refused before anything is allocated for them.
    let mut image = base.clone();
    let signal = image.next::<abi::Signal>(image.task(t.root));
    image.rec(signal).set("posix_timers", 1 << 30);
    out.push(Case {
        what: "2^30 POSIX timers".into(),
        image,
        cut: false,
        errnos: vec![libc::EAGAIN],
        why: None,
    });
    // A FIFO reopened by a path that leads to another kind of file.
    let mut image = base.clone();
    let file = image.file(&t.fifo);
    image.rec(file + 1).payload = t.plain.as_bytes().to_vec();
    out.push(Case {
        what: "a FIFO whose path leads to a regular file".into(),
        image,
        cut: false,
        errnos: vec![libc::ESTALE],
        why: None,
    });
    // A pty's index must be free and within its devpts instance's maximum (mount option
    // max, at most 2^20); its master is opened by a path that leads to a ptmx node, its
    // slave's files by paths that lead to its slave.
    let pty_errnos = [
        ("a pty at index 2^31", libc::ENOSPC),
        ("a pty at index 2^20", libc::ENOSPC),
        (
            "a pty's master whose path leads to a regular file",
            libc::ESTALE,
        ),
        (
            "a pty's slave whose path leads to a regular file",
            libc::ESTALE,
        ),
    ];
    for (n, (what, errno)) in pty_errnos.into_iter().enumerate() {
        let mut image = base.clone();
        let pty = image.next::<abi::Pty>(0);
        let slave = image.next::<abi::PtySlave>(0) - 2;
        let plain = t.plain.as_bytes().to_vec();
        match n {
            0 | 1 => {
                image
                    .rec(pty)
                    .set("index", if n == 0 { 1 << 31 } else { 1 << 20 });
            }
            2 => image.rec(pty - 1).payload = plain,
            _ => image.rec(slave + 1).payload = plain,
        }
        out.push(Case::errno(what, image, errno));
    }
    // An unlinked file is made in its directory as open(2) with O_TMPFILE would: one that is
    // not there, or not a directory, is refused by the lookup.
    let unlinked_dirs = [
        (
            "an unlinked file in a directory that does not exist",
            format!("{}/gone", t.dir),
            libc::ENOENT,
        ),
        (
            "an unlinked file in a regular file",
            t.plain.clone(),
            libc::ENOTDIR,
        ),
    ];
    for (what, dir, errno) in unlinked_dirs {
        let mut image = base.clone();
        let u = deleted(&image);
        assert_eq!(image.recs[u + 1].ty, abi::RecordType::String.id());
        image.rec(u + 1).payload = dir.into_bytes();
        out.push(Case::errno(what, image, errno));
    }
    // In a user namespace that maps only its own ids (as restart_unprivileged runs this
    // test), restart cannot give an unlinked file an owner or a group the namespace does not
    // map, as fchown(2) could not (EINVAL there). Root of the initial namespace can give any.
    if !initial_user_ns() {
        for (what, field) in [
            ("an unlinked file owned by an unmapped user", "uid"),
            ("an unlinked file of an unmapped group", "gid"),
        ] {
            let mut image = base.clone();
            let u = deleted(&image);
            image.rec(u).set(field, 1000);
            out.push(Case {
                what: what.into(),
                image,
                cut: false,
                errnos: vec![libc::EINVAL],
                why: Some("cannot give it its owner and mode (-22)".into()),
            });
        }
    }
    // A FIFO's pipe comes with the first of its files only: the writer bringing one of its own
    // (under an objref of its own, its bytes with it) finds the FIFO open, by the reader
    // restored before it.
    let mut image = base.clone();
    let first = image.next::<abi::Pipe>(image.file(&t.fifo));
    let end = image.next::<abi::PipeEnd>(first);
    let again: Vec<Rec> = image.recs[first..end].to_vec();
    let writer = (end + 1..image.recs.len())
        .find(|&r| {
            image.recs[r].ty == abi::RecordType::String.id()
                && image.recs[r].payload == t.fifo.as_bytes()
                && image.recs[r - 1].ty == abi::File::TYPE
        })
        .expect("the FIFO's writer comes after its reader");
    let writer_end = image.next::<abi::PipeEnd>(writer);
    assert_eq!(writer_end, writer + 1, "the writer's end follows its path");
    image.rec(writer_end).set("pipe", 999_998);
    image.recs.splice(writer + 1..writer + 1, again);
    image.rec(writer + 1).set("objref", 999_998);
    out.push(Case {
        what: "a FIFO whose writer brings its pipe again".into(),
        image,
        cut: false,
        errnos: vec![libc::EBUSY],
        why: None,
    });
    // Locks of the image in each other's way, which restart cannot take (EAGAIN inside,
    // EBUSY out): an OFD lock over the POSIX write lock's first bytes (the files' locks
    // come first), and an exclusive flock() lock of the second read-write file.
    let mut image = base.clone();
    let l = ofd(&image);
    image.rec(l).set("end", POSIX_WRITE.0 + 50);
    out.push(Case {
        what: "file locks in each other's way".into(),
        image,
        cut: false,
        errnos: vec![libc::EBUSY],
        why: Some("is held by another process".into()),
    });
    let mut image = base.clone();
    let file = owner(&image, ofd(&image));
    add_owned(
        &mut image,
        file,
        lock(abi::LOCK_FLOCK, abi::LOCK_WRITE, whole, 0),
    );
    out.push(Case {
        what: "file locks with two files flock()ed exclusively".into(),
        image,
        cut: false,
        errnos: vec![libc::EBUSY],
        why: Some("is held by another process".into()),
    });
    // SUID_DUMP_ROOT has the kernel write a crashing process's core as root.
    let mut image = base.clone();
    let mm = image.next::<abi::Mm>(image.task(t.root));
    image.rec(mm).set("dumpable", 2);
    out.push(Case {
        what: "dumpable SUID_DUMP_ROOT".into(),
        image,
        cut: false,
        errnos: vec![libc::EPERM],
        why: None,
    });
    // Item 9: exe_file was set without prctl(PR_SET_MM_EXE_FILE)'s checks, so any file the
    // caller can read became unwritable for everyone (ETXTBSY) while the process lived.
    let mut image = base.clone();
    let mm = image.next::<abi::Mm>(image.task(t.root));
    // Its fd's file comes after the `Mm` record; the executable's, before.
    let file = image.file(&t.plain);
    let plain = image.recs[file].get("objref");
    image.move_file(file, mm);
    let mm = image.next::<abi::Mm>(image.task(t.root));
    image.rec(mm).set("exe_file", plain);
    out.push(Case {
        what: "an exe_file that is not executable".into(),
        image,
        cut: false,
        errnos: vec![libc::EACCES],
        why: None,
    });
    // The unix connections waiting on the listener, refused each by the check of a waiting
    // connection, as opened by two files, as a second waiting socket of a pair, or as a
    // listener whose connection's records do not come (the decoder's line).
    let waiting_bad = "unix connection waiting on a listener of another type, or in a state or with options no such connection has";
    let no_conn = format!("type {} where UnixSock belongs", abi::Fd::TYPE);
    // A pty queue refused by the decoder's check of what a queue may hold, or by N_TTY's of
    // what its line discipline can hold in its mode (whole echo operations among them).
    let queue_bad = "pty queue holding more bytes, memory, room or echoes than a pty holds, or complete lines or echo marks past its bytes";
    let ldisc_bad = "its line disciplines cannot hold what its readers had not read in the modes its termios set";
    // The copy cases are refused with EINVAL by one check or another: each must be by its own.
    for (what, why) in [
        (
            "a mapping copied from an fd table",
            "not an address space restored earlier",
        ),
        // Restored by then, but refused by restart_copy_vma().
        (
            "a mapping copied from its own mm",
            "copied mapping that its source does not have",
        ),
        (
            "a mapping copied from an mm restored later",
            "not an address space restored earlier",
        ),
        (
            "a copied file mapping grown a page",
            "copied mapping that its source does not have",
        ),
        (
            "copied memory grown over the next mapping",
            "copied mapping bounds, order",
        ),
        (
            "a copied mapping made executable",
            "copied mapping that its source does not have",
        ),
        (
            "copied mappings that go back",
            "copied mapping bounds, order",
        ),
        (
            "the vDSO copied as anonymous memory",
            "copied mapping that its source does not have",
        ),
        (
            "a copied mapping after the others",
            "copied mapping after the others",
        ),
        (
            "pages dropped past a copied mapping",
            "page run outside its mapping",
        ),
        (
            "a shared mapping copied",
            "copied mapping bounds, order or sharing",
        ),
        ("pages dropped from a new mapping", "page run flags"),
        ("page run flags beyond drop and share", "page run flags"),
        (
            "pages shared with the process's own mm",
            "pages shared with the address space they are in",
        ),
        ("pages dropped naming an mm", "page run flags"),
        (
            "page run padding that is not zero",
            "padding that is not zero",
        ),
        ("pages dropped twice", "not after the one before"),
        (
            "pages shared with an fd table",
            "not an address space restored earlier",
        ),
        ("pages shared naming no mm", "page run flags"),
        ("pages shared in a new mapping", "page run flags"),
        ("pages dropped naming an address", "page run flags"),
        (
            "pages shared from an unaligned address",
            "pages shared from an unaligned address",
        ),
        (
            "pages shared from where the relative maps nothing",
            "does not map them",
        ),
        (
            "pages shared from the end of the address space",
            "past the last",
        ),
        (
            "a mapping copied from an unaligned address",
            "copied mapping bounds, order or sharing",
        ),
        (
            "a mapping copied from where the relative maps nothing",
            "copied mapping that its source does not have",
        ),
        (
            "a new mapping copied from an address",
            "a new mapping copied from an address",
        ),
        ("the vDSO listed twice", "listed twice"),
        (
            "a pipe that holds more bytes than its size",
            "more bytes than its size",
        ),
        (
            "a pipe of a size F_SETPIPE_SZ would round",
            "cannot make one of 65537 bytes",
        ),
        ("a pipe of size 0", "cannot make one of 0 bytes"),
        (
            "a pipe of 2^32 - 4096 bytes",
            "cannot make one of 4294963200",
        ),
        (
            "a pipe whose bytes are longer than it holds",
            "longer or shorter than the pipe holds",
        ),
        (
            "a pipe whose bytes are shorter than it holds",
            "where a raw record",
        ),
        (
            "a pipe's file of access mode 3",
            "a pipe's file does not have",
        ),
        ("a pipe's file with O_APPEND", "a pipe's file does not have"),
        ("a pipe's file at an offset", "a pipe's file does not have"),
        ("a pipe's file that opens an eventfd", "not a pipe"),
        (
            "a pipe's file that opens an undefined pipe",
            "an object not in the image",
        ),
        (
            "a pipe that none of its files opens",
            "none of its files opens",
        ),
        ("an eventfd labeled a pipe's file", "PipeEnd"),
        ("a timerfd on clock 99", "cannot make it again"),
        ("a timerfd on clock 2^31", "on a clock it cannot have"),
        ("a timerfd due in -1 ns", "cannot make it again"),
        ("a timerfd with a period of -1 ns", "cannot make it again"),
        (
            "a canceled timerfd that is not absolute",
            "cannot make it again",
        ),
        ("a timerfd flag it cannot have", "flag it cannot have"),
        (
            "an epoll watch of an undefined file",
            "an object not in the image",
        ),
        ("an epoll watch of a pipe, not a file of it", "not a file"),
        (
            "an epoll watch of its own instance",
            "an object not in the image",
        ),
        ("an epoll watch of fd -1", "negative fd"),
        (
            "an epoll watch without EPOLLERR and EPOLLHUP",
            "without EPOLLERR and EPOLLHUP",
        ),
        ("an epoll watch of a regular file", "cannot be polled"),
        (
            "an epoll watch disarmed but not one-shot",
            "disarmed but not one-shot",
        ),
        (
            "an epoll watch exclusive and one-shot",
            "epoll_ctl() would refuse",
        ),
        ("an epoll watch twice", "epoll_ctl() would refuse"),
        ("an epoll with more watches than records", "EpollWatch"),
        (
            "a FIFO's file that opens a pipe",
            "names a FIFO, or a FIFO's that names a pipe",
        ),
        ("a FIFO with an owner", "an owner of its own"),
        (
            "a FIFO's writer that saw no writer",
            "flags its end does not take",
        ),
        (
            "a pipe's reader that saw no writer",
            "flags its end does not take",
        ),
        ("a pipe's end with flag 2", "flags its end does not take"),
        (
            "a FIFO's file of a regular file",
            "a pipe's file does not have",
        ),
        (
            "a FIFO's file that takes RWF_NOWAIT",
            "a pipe's file does not have",
        ),
        (
            "a FIFO whose path leads to a regular file",
            "cannot open it with",
        ),
        ("a memfd with seal 0x40", "a size it cannot have"),
        ("a memfd of mode 0100644", "a size it cannot have"),
        ("a memfd of 2^63 bytes", "a size it cannot have"),
        ("a memfd of 1 MiB", "past its file's size"),
        ("a memfd with one run more than it has", "DataRun"),
        ("a memfd named without memfd:", "cannot make it"),
        ("a memfd with a name of 256 bytes", "cannot make it"),
        (
            "a memfd whose long name forges a log line",
            "memfd:x\\x0a[0.0] forgedmmm",
        ),
        ("a memfd run past its size", "past its file's size"),
        ("a memfd run before the one before", "out of order"),
        ("a memfd run that wraps around", "past its file's size"),
        ("a memfd run of 0 bytes", "empty"),
        ("a memfd run longer than its bytes", "where a raw record"),
        (
            "a memfd run shorter than its bytes",
            "longer or shorter than its run",
        ),
        ("a memfd's file of access mode 3", "a memfd's does not have"),
        ("a memfd's file at offset -1", "a memfd's does not have"),
        (
            "a memfd that none of its files opens",
            "none of its files opens",
        ),
        ("a memfd's file that opens a pipe", "not a memfd"),
        (
            "an unlinked file with flag 2",
            "deleted file with flags, a mode or a size",
        ),
        (
            "an unlinked file of mode 0100600",
            "deleted file with flags, a mode or a size",
        ),
        (
            "an unlinked file of 2^63 bytes",
            "deleted file with flags, a mode or a size",
        ),
        ("an unlinked file of 1 MiB", "past its file's size"),
        (
            "an unlinked file with one run more than it has",
            "where DataRun belongs",
        ),
        (
            "an unlinked file with one run fewer than it has",
            "where UnlinkedFile belongs",
        ),
        (
            "an unlinked file with padding that is not zero",
            "Unlinked with padding that is not zero",
        ),
        (
            "an unlinked O_TMPFILE file with flags 3",
            "deleted file with flags, a mode or a size",
        ),
        (
            "an unlinked file's run past its size",
            "past its file's size",
        ),
        (
            "an unlinked file's run before the one before",
            "data run out of order",
        ),
        (
            "an unlinked file's run that wraps around",
            "past its file's size",
        ),
        ("an unlinked file's run of 0 bytes", "empty or past"),
        (
            "an unlinked file's run longer than its bytes",
            "type 61 where a raw record of type 62 belongs",
        ),
        (
            "an unlinked file's last run longer than its bytes",
            "type 70 where a raw record of type 62 belongs",
        ),
        (
            "an unlinked file's run shorter than its bytes",
            "data longer or shorter than its run",
        ),
        (
            "an unlinked file's run with an empty Data record",
            "data longer or shorter than its run",
        ),
        (
            "an unlinked file with a run more than its record says",
            "where UnlinkedFile belongs",
        ),
        (
            "an unlinked file's second file that opens a pipe",
            "not a deleted file",
        ),
        (
            "an unlinked file's second file that opens a memfd",
            "not a deleted file",
        ),
        (
            "an unlinked file's second file that opens an undefined object",
            "an object not in the image",
        ),
        (
            "an unlinked file's second file that opens a regular file",
            "not a deleted file",
        ),
        (
            "an unlinked file that none of its files opens",
            "none of its files opens",
        ),
        (
            "an unlinked file written twice",
            "deleted file written twice",
        ),
        (
            "an unlinked file under the objref of a pipe",
            "deleted file written twice",
        ),
        (
            "an unlinked file under objref 0",
            "an object not in the image",
        ),
        (
            "an unlinked file under the objref of its first file",
            "object defined twice",
        ),
        (
            "an unlinked file's file with O_CREAT",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file with O_TRUNC",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file with O_DIRECTORY",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file with O_PATH",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file with half of O_TMPFILE",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file of access mode 3",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file at offset -1",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's file of a directory",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file's second file with O_TRUNC",
            "deleted file with flags, a position or a type",
        ),
        (
            "an unlinked file in a directory that does not exist",
            "cannot make it (-2)",
        ),
        ("an unlinked file in a regular file", "cannot make it (-20)"),
        (
            "a pipe whose bytes need more buffers than it has",
            "does not fit its size",
        ),
        (
            "a FIFO whose bytes need more buffers than it has",
            "does not fit its size",
        ),
        (
            "a FIFO of a size F_SETPIPE_SZ would round",
            "cannot open it with 65537 bytes",
        ),
        (
            "a FIFO whose writer brings its pipe again",
            "files outside have it open",
        ),
        (
            "file locks with one of kind 0",
            "file lock of an unknown kind, or not of its owner's",
        ),
        (
            "file locks with one of kind 4",
            "file lock of an unknown kind, or not of its owner's",
        ),
        (
            "file locks with a POSIX one owned by a file",
            "file lock of an unknown kind, or not of its owner's",
        ),
        (
            "file locks with a flock() one owned by a table",
            "file lock of an unknown kind, or not of its owner's",
        ),
        (
            "file locks with an OFD one owned by a table",
            "file lock of an unknown kind, or not of its owner's",
        ),
        (
            "file locks with one of mode 0",
            "file lock neither shared nor exclusive",
        ),
        (
            "file locks with one of mode 3",
            "file lock neither shared nor exclusive",
        ),
        (
            "file locks with one from byte -1",
            "file lock of a range that is not one",
        ),
        (
            "file locks with one that ends before it starts",
            "file lock of a range that is not one",
        ),
        (
            "file locks with a flock() one from byte 1",
            "flock() lock of a part of its file",
        ),
        (
            "file locks with a flock() one to byte 99",
            "flock() lock of a part of its file",
        ),
        (
            "file locks with a flock() one through fd 3",
            "file lock with an fd it cannot have",
        ),
        (
            "file locks with an OFD one through fd 3",
            "file lock with an fd it cannot have",
        ),
        (
            "file locks with a POSIX one through fd -1",
            "file lock with an fd it cannot have",
        ),
        (
            "file locks with padding that is not zero",
            "FileLock with padding that is not zero",
        ),
        (
            "file locks with a POSIX one through an fd not open",
            "POSIX lock through an fd not open, or not for its mode",
        ),
        (
            "file locks with a POSIX write lock through a read-only fd",
            "POSIX lock through an fd not open, or not for its mode",
        ),
        (
            "file locks with an OFD write lock of a read-only file",
            "lock of a file not open for its mode",
        ),
        (
            "file locks of a table without fds",
            "POSIX locks of a table without fds",
        ),
        (
            "file locks counted one more by their file",
            "where FileLock belongs",
        ),
        (
            "file locks counted one fewer by their file",
            "type 71 where Fd belongs",
        ),
        (
            "file locks counted one more by their table",
            "where FileLock belongs",
        ),
        (
            "file locks counted one fewer by their table",
            "type 71 where",
        ),
        (
            "file locks of a file with padding that is not zero",
            "File with padding that is not zero",
        ),
        (
            "file locks with one flock() lock taken twice, then a bad one",
            "POSIX lock through an fd not open",
        ),
        (
            "file locks with a flock() one shared, then exclusive, then a bad one",
            "POSIX lock through an fd not open",
        ),
        (
            "file locks with a POSIX one to byte 2^63-2, then a bad one",
            "POSIX lock through an fd not open",
        ),
        (
            "file locks with a POSIX one of byte 2^63-1 on, then a bad one",
            "POSIX lock through an fd not open",
        ),
        (
            "file locks with a POSIX one from byte 100 on, then a bad one",
            "POSIX lock through an fd not open",
        ),
        (
            "a unix socket pair of type 3 (SOCK_RAW)",
            "unix socket pair of a type or state no pair has",
        ),
        (
            "a unix socket pair with peer 7",
            "unix socket pair of a type or state no pair has",
        ),
        (
            "a unix socket of end 2",
            "unix socket file of a socket its pair does not have",
        ),
        (
            "a unix socket pair opened by two files of one end",
            "unix socket opened by two files",
        ),
        (
            "a unix socket of a pair that is a regular file",
            "unix socket file that names an object that is not a pair",
        ),
        (
            "a unix socket shut down 4",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket with error 5",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket of a pair made by no process",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket with flag 2048",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket of a pair made by a file",
            "unix socket made by an object that is not a process",
        ),
        (
            "a unix socket message longer than its socket holds",
            "unix socket message longer than its socket holds, or empty",
        ),
        (
            "a unix socket that holds more than its messages",
            "unix socket messages shorter than its socket holds",
        ),
        (
            "a unix socket of end 1 of a closed pair",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket alone with messages",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a pipe's reader labeled a unix socket",
            "where UnixSock belongs",
        ),
        (
            "a unix socket labeled a pipe's write end",
            "where PipeEnd belongs",
        ),
        (
            "a unix socket with SO_RCVLOWAT 0",
            "unix socket: cannot set it up as saved (-22)",
        ),
        (
            "a unix socket with a send buffer of 1 byte",
            "unix socket: cannot set it up as saved (-22)",
        ),
        (
            "a unix socket message carrying a file inline",
            "unix socket message carrying more files than one may",
        ),
        (
            "a unix socket message carrying 254 files",
            "unix socket message carrying more files than one may",
        ),
        (
            "a unix socket message carrying its pair",
            "unix socket message carrying an object that is no file",
        ),
        (
            "a unix socket message carrying an object not in the image",
            "an object not in the image",
        ),
        (
            "a unix socket message carrying a file with padding that is not zero",
            "UnixCarried with padding that is not zero",
        ),
        (
            "a unix socket's messages that carry files for the other socket of its pair",
            "unix socket messages for a socket that has none to come",
        ),
        (
            "a unix socket's messages that carry files for another pair",
            "unix socket messages for a socket that has none to come",
        ),
        (
            "a unix socket's messages that carry files for a regular file",
            "unix socket messages for a socket that has none to come",
        ),
        (
            "a unix socket's messages that carry files, twice",
            "unix socket messages for a socket that has none to come",
        ),
        (
            "a unix socket whose messages that carry files do not come",
            "unix socket whose messages that carry files never came",
        ),
        (
            "a unix socket with UNIX_QUEUE_LATER and nothing to come",
            "unix socket whose messages that carry files never came",
        ),
        (
            "a unix socket message carrying a regular file made after the last task",
            "file after the last task of a kind only a process makes",
        ),
        (
            "a unix socket message whose credentials name its pair",
            "unix socket message whose credentials name an object that is not a task",
        ),
        (
            "a unix socket message whose credentials name a regular file",
            "unix socket message whose credentials name an object that is not a task",
        ),
        (
            "a unix socket message whose credentials name an object not in the image",
            "an object not in the image",
        ),
        (
            "a unix socket message whose credentials have padding that is not zero",
            "UnixCreds with padding that is not zero",
        ),
        (
            "a unix socket name of 0 bytes",
            "unix socket name or backlog no socket has",
        ),
        (
            "a unix socket name of 109 bytes",
            "unix socket name longer than a name may be",
        ),
        (
            "a unix socket path name without its inode record",
            "where UnixPath belongs",
        ),
        (
            "a unix socket name with a byte after its length",
            "unix socket name or backlog no socket has",
        ),
        (
            "a unix socket name with padding that is not zero",
            "UnixName with padding that is not zero",
        ),
        (
            "a unix socket bound, not listening, with a backlog",
            "unix socket name or backlog no socket has",
        ),
        (
            "a unix datagram socket listening",
            "unix datagram socket listening, or with a name it was not bound to",
        ),
        (
            "a unix socket of a pair with both sockets, with a closed peer's name",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket of a pair connected by name",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix datagram socket connected by name, left established",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix datagram socket connected to a name no socket of the image has",
            "unix socket connected to a name no restored socket is bound to",
        ),
        (
            "a unix socket of a pair left established",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix stream listener left established",
            "unix socket in a state no socket has",
        ),
        (
            "a unix datagram socket of a pair with a listener's name",
            "unix datagram socket listening, or with a name it was not bound to",
        ),
        (
            "a unix socket pair whose two sockets have a listener's name",
            "unix socket pair whose two sockets have a listener's name",
        ),
        (
            "a unix socket connected to none, with its listener's name",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket connected to none, with a closed peer's name",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket bound to a name and with its listener's",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket no longer listening, with its backlog",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket listening, not bound",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket bound, without its name",
            "where UnixName belongs",
        ),
        (
            "a unix socket name after a socket not bound",
            "type 78 where",
        ),
        ("a unix socket waiting on a listener, bound", waiting_bad),
        (
            "a unix socket waiting on a listener, with the listener's name",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, with SO_PASSCRED",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, with SO_PASSPIDFD",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, connected to none",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, connected to none by name",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, connected to none, established",
            waiting_bad,
        ),
        (
            "a unix socket waiting on a listener, itself listening",
            waiting_bad,
        ),
        (
            "a unix socket of a datagram pair waiting on a stream listener",
            waiting_bad,
        ),
        (
            "a unix socket of a seqpacket pair waiting on a stream listener",
            waiting_bad,
        ),
        (
            "a unix socket opened by a file, then waiting on a listener",
            "unix socket opened by two files",
        ),
        (
            "a unix socket waiting on a listener, then opened by a file",
            "unix socket opened by two files",
        ),
        (
            "a unix socket pair whose two sockets wait on a listener",
            "unix socket pair whose two sockets wait on listeners",
        ),
        (
            "a unix socket listening with a connection whose records do not come",
            no_conn.as_str(),
        ),
        (
            "a unix socket connected to none, not listening, holding a byte without messages",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket listening, holding a byte",
            "unix socket with flags, a state or messages no socket has",
        ),
        (
            "a unix socket path whose inode is a regular file",
            "unix socket path that names no socket inode, or not from the root",
        ),
        (
            "a unix socket path whose inode has mode bit 0o10000",
            "unix socket path that names no socket inode, or not from the root",
        ),
        (
            "a unix socket path whose inode record has padding that is not zero",
            "UnixPath with padding that is not zero",
        ),
        (
            "a unix socket path whose inode is not from the root",
            "unix socket path that names no socket inode, or not from the root",
        ),
        (
            "a unix socket path name with a NUL inside",
            "unix socket name or backlog no socket has",
        ),
        (
            "a unix socket path where no file is, then a bad lock",
            "POSIX lock through an fd not open",
        ),
        ("a complete line in the master's pty queue", ldisc_bad),
        (
            "a pty queue whose last buffer has room past its memory",
            queue_bad,
        ),
        (
            "a pty queue using more memory than checkpoint saves",
            queue_bad,
        ),
        (
            "a pty queue with more echoes than a line discipline holds",
            queue_bad,
        ),
        ("a pty queue whose echo commit passes its echoes", queue_bad),
        ("a pty queue whose echo mark passes its echoes", queue_bad),
        (
            "a pty queue whose echoes end inside an echo operation",
            ldisc_bad,
        ),
        (
            "a pty queue whose echoes end inside an erase of a tab",
            ldisc_bad,
        ),
        ("a pty queue with echoes not all committed", ldisc_bad),
        ("a pty queue with echoes not all marked", ldisc_bad),
        ("a pty master's queue with echoes", ldisc_bad),
        (
            "a pty queue with padding that is not zero",
            "PtyQueue with padding that is not zero",
        ),
        (
            "a pty queue with a second padding that is not zero",
            "PtyQueue with padding that is not zero",
        ),
    ] {
        let case = out.iter_mut().find(|c| c.what == what);
        case.unwrap_or_else(|| panic!("no case \"{what}\"")).why = Some(why.into());
    }
    out
}

/// The inode number and device (as stat(2) gives it, `new_encode_dev()`) of the socket file
/// at `path`.
fn sock_file(path: &str) -> Result<(u64, u64), String> {
    let m = std::fs::symlink_metadata(path).map_err(|e| format!("stat {path}: {e}"))?;
    if !m.file_type().is_socket() {
        return Err(format!("{path} is not a socket: {:?}", m.file_type()));
    }
    Ok((m.ino(), m.dev()))
}

/// Whether this process is in the initial user namespace, which maps every id.
fn initial_user_ns() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// A crafted image, whether to cut its tail off, and the errnos restart may answer.
struct Case {
    what: String,
    image: Image,
    cut: bool,
    errnos: Vec<i32>,
    /// What the refusal's log line says, where the errno alone does not tell which check
    /// refused the image.
    why: Option<String>,
}

impl Case {
    /// A crafted image, whole, that restart refuses with `errno`.
    fn errno(what: &str, image: Image, errno: i32) -> Case {
        Case {
            what: what.into(),
            image,
            cut: false,
            errnos: vec![errno],
            why: None,
        }
    }
}

fn main() {
    let dir = cr_tests::target::scratch_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| cr_tests::fail(format!("mkdir {dir}: {e}")));
    let plain = format!("{dir}/plain");
    let mut target = Target::spawn(|| setup(&plain));
    let kids = descendants(target.pid());
    let zombie = kids
        .iter()
        .copied()
        .find(|&p| cr_tests::proc::proc_state(p) == Some('Z'));
    let live: Vec<i32> = kids
        .iter()
        .copied()
        .filter(|&p| Some(p) != zombie)
        .collect();
    let (Some(zombie), &[kid, kid2]) = (zombie, &live[..]) else {
        target.fail(format!(
            "the target should have a zombie and two live children, has {kids:?}"
        ));
    };
    target.save_unlinked(UNLINKED_MAX);
    target.checkpoint(KILL);
    wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
    let tree = Tree {
        plain: plain.clone(),
        fifo: fifo_of(&plain),
        dir: dir.clone(),
        locked: locked_in(&dir),
        sock: sock_in(&dir),
        root: target.pid(),
        zombie,
        kid,
        kid2,
    };
    let base = Image::parse(&target.image());
    if base.seal() != target.image() {
        target.fail("taking the image apart and sealing it again changed it");
    }
    // The socket file of [`BOUND_PATH`], which the killed target left: the image names its
    // inode, to which every restart binds the socket again.
    let sock = sock_file(&tree.sock).unwrap_or_else(|e| target.fail(e));
    let saved = base.all::<abi::UnixPath>().into_iter().find_map(|r| {
        let at = base.recs.get(r + 1)?;
        let p = base.recs[r].decode::<abi::UnixPath>();
        (at.payload == tree.sock.as_bytes()).then_some((p.ino, p.dev))
    });
    if saved != Some(sock) {
        target.fail(format!(
            "the image should name the inode and device {sock:?} of {}, names {saved:?}",
            tree.sock
        ));
    }
    let pids = [tree.root, tree.zombie, tree.kid, tree.kid2];
    let mut failed = Vec::new();
    // `restart_crafted WORD` runs only the cases whose description holds WORD.
    let only = std::env::args().nth(1).unwrap_or_default();
    let mut cases = cases(&base, &tree);
    cases.retain(|c| c.what.contains(&only));
    for case in &cases {
        let mut bytes = case.image.seal();
        if case.cut {
            bytes.truncate(bytes.len() - 16);
        }
        if let Err(e) = expect_refused(&bytes, &pids, &case.what, &case.errnos, case.why.as_deref())
        {
            eprintln!("# {e}");
            failed.push(case.what.clone());
        }
    }
    if let Err(e) = std::fs::OpenOptions::new().write(true).open(&plain) {
        target.fail(format!(
            "{plain} cannot be opened for writing after the crafted restarts: {e}"
        ));
    }
    // Unlinked files made by the failed restarts have no name: the directory holds what the
    // target made there and no more, the socket file too (no failed restart unlinked it, nor
    // left one it made).
    let names = std::fs::read_dir(&dir).and_then(|d| {
        d.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()
    });
    match names.map(|mut n| {
        n.sort();
        n
    }) {
        Ok(n) if n == ["bound.sock", "locked", "plain", "plain.fifo"] => {}
        other => target.fail(format!(
            "{dir} should hold only bound.sock, locked, plain and plain.fifo after the crafted \
             restarts: {other:?}"
        )),
    }
    match sock_file(&tree.sock) {
        Ok(now) if now == sock => {}
        other => target.fail(format!(
            "{} should be the socket file the target left, {sock:?}, after the crafted \
             restarts: {other:?}",
            tree.sock
        )),
    }
    // No lock the failed restarts took is left, of those the image holds or of crafted ones.
    if let Err(e) = locks_free(&tree.locked) {
        target.fail(format!("after the crafted restarts: {e}"));
    }
    // No reader of the FIFO is left: a writer that does not wait finds none.
    let fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&tree.fifo);
    if fifo.as_ref().map_err(|e| e.raw_os_error()).err() != Some(Some(libc::ENXIO)) {
        target.fail(format!(
            "{}: a writer should find no reader after the crafted restarts, got {fifo:?}",
            tree.fifo
        ));
    }
    if !failed.is_empty() {
        target.fail(format!(
            "{} of {} crafted images were not refused cleanly: {}",
            failed.len(),
            cases.len(),
            failed.join("; ")
        ));
    }
    target.restart();
    target.finish();
    pass(&format!(
        "{} crafted images refused cleanly, the intact one restarted",
        cases.len()
    ));
}
