//! Unix98 pseudo-terminals, for the tests of their checkpoint and restart: masters opened from
//! `/dev/ptmx` and slaves from `/dev/pts/N` at fixed fd numbers (always `O_NOCTTY`), their
//! index, lock, packet mode, window size and termios, reads that wait a bounded time, what
//! FIONREAD says of a side, and filling a pty until its buffers take no byte more.

use std::io;
use std::os::fd::RawFd;

use crate::target::{check_os, Check};
use crate::{check_eq, describe_errno, open_at};

/// How long the reads and waits here wait, in milliseconds.
const PATIENCE_MS: libc::c_int = 10_000;

/// The status byte before the data of each read of a master in packet mode (`TIOCPKT`).
pub const TIOCPKT_DATA: u8 = 0;

/// The errno the last failed call left.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A new pty's master, `/dev/ptmx` opened `O_RDWR | O_NOCTTY | flags`, on fd `at` (its slave
/// still locked).
pub fn open_master_at(flags: libc::c_int, at: RawFd) -> Check {
    open_at("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY | flags, 0, at)
}

/// The path of the slave of pty `n`: `/dev/pts/N`.
pub fn slave_path(n: u32) -> String {
    format!("/dev/pts/{n}")
}

/// The slave of the master `master`, `/dev/pts/N` opened `O_RDWR | O_NOCTTY | flags`, on fd
/// `at`; returns N.
pub fn open_slave_at(master: RawFd, flags: libc::c_int, at: RawFd) -> Result<u32, String> {
    let n = index(master)?;
    open_at(&slave_path(n), libc::O_RDWR | libc::O_NOCTTY | flags, 0, at)?;
    Ok(n)
}

/// What open(2) of `path` `O_RDWR | O_NOCTTY` gives: `Ok` (the file closed again) or the
/// errno.
pub fn try_open(path: &str) -> Result<(), i32> {
    let c = crate::cstring(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: open of a valid C string; the fd it may make is ours, closed at once.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: our own fd, just made.
    unsafe { libc::close(fd) };
    Ok(())
}

/// An ioctl on `fd` that writes one int (`TIOCGPTN`, `TIOCGPTLCK`, `TIOCGPKT`, `TIOCGEXCL`),
/// `name` naming it: the int.
pub fn ioctl_get(fd: RawFd, request: libc::Ioctl, name: &str) -> Result<libc::c_int, String> {
    let mut v: libc::c_int = 0;
    // SAFETY: the request writes one int, to `v`.
    let r = unsafe { libc::ioctl(fd, request, &raw mut v) };
    check_os(r, format_args!("{name} of fd {fd}"))?;
    Ok(v)
}

/// An ioctl on `fd` that reads one int (`TIOCSPTLCK`, `TIOCPKT`), `name` naming it, with `v`.
pub fn ioctl_set(fd: RawFd, request: libc::Ioctl, v: libc::c_int, name: &str) -> Check {
    // SAFETY: the request reads one int, from `v`.
    let r = unsafe { libc::ioctl(fd, request, &raw const v) };
    check_os(r, format_args!("{name} {v} on fd {fd}"))
}

/// The index N of the pty whose master is `master` (`TIOCGPTN`).
pub fn index(master: RawFd) -> Result<u32, String> {
    ioctl_get(master, libc::TIOCGPTN, "TIOCGPTN").map(|n| n as u32)
}

/// unlockpt(3) of the master `master`: its slave may be opened.
pub fn unlock(master: RawFd) -> Check {
    // SAFETY: unlockpt takes an fd.
    check_os(
        unsafe { libc::unlockpt(master) },
        format_args!("unlockpt of fd {master}"),
    )
}

/// Locks (`TIOCSPTLCK` 1) or unlocks (0) the slave of the master `master`.
pub fn set_locked(master: RawFd, locked: bool) -> Check {
    ioctl_set(master, libc::TIOCSPTLCK, locked.into(), "TIOCSPTLCK")
}

/// Whether the slave of the master `master` is locked (`TIOCGPTLCK`): 1 or 0.
pub fn locked(master: RawFd) -> Result<libc::c_int, String> {
    ioctl_get(master, libc::TIOCGPTLCK, "TIOCGPTLCK")
}

/// Sets packet mode (`TIOCPKT`) on the master `master`.
pub fn set_packet_mode(master: RawFd, on: bool) -> Check {
    ioctl_set(master, libc::TIOCPKT, on.into(), "TIOCPKT")
}

/// Whether the master `master` is in packet mode (`TIOCGPKT`): 1 or 0.
pub fn packet_mode(master: RawFd) -> Result<libc::c_int, String> {
    ioctl_get(master, libc::TIOCGPKT, "TIOCGPKT")
}

/// The name of the slave of the master `master`, by ptsname_r(3).
pub fn ptsname(master: RawFd) -> Result<String, String> {
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ptsname_r writes a C string of at most `buf.len()` bytes into `buf`.
    let r = unsafe { libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) };
    if r != 0 {
        return Err(format!("ptsname_r of fd {master}: {}", describe_errno(r)));
    }
    // SAFETY: ptsname_r succeeded: `buf` holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Ok(name.to_string_lossy().into_owned())
}

/// A window size as (ws_row, ws_col, ws_xpixel, ws_ypixel).
pub type WinSize = (u16, u16, u16, u16);

/// Sets the window size of the pty of `fd` (`TIOCSWINSZ`).
pub fn set_winsize(fd: RawFd, (row, col, x, y): WinSize) -> Check {
    let ws = libc::winsize {
        ws_row: row,
        ws_col: col,
        ws_xpixel: x,
        ws_ypixel: y,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    let r = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &raw const ws) };
    check_os(r, format_args!("TIOCSWINSZ on fd {fd}"))
}

/// The window size of the pty of `fd` (`TIOCGWINSZ`).
pub fn winsize(fd: RawFd) -> Result<WinSize, String> {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &raw mut ws) };
    check_os(r, format_args!("TIOCGWINSZ of fd {fd}"))?;
    Ok((ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel))
}

/// tcgetattr(3) of `fd`.
pub fn tcgetattr(fd: RawFd) -> Result<libc::termios, String> {
    // SAFETY: an all-zero termios is valid for tcgetattr to fill.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fills `t`.
    let r = unsafe { libc::tcgetattr(fd, &mut t) };
    check_os(r, format_args!("tcgetattr of fd {fd}"))?;
    Ok(t)
}

/// tcsetattr(3) of `fd` to `t`, at once (`TCSANOW`).
pub fn tcsetattr(fd: RawFd, t: &libc::termios) -> Check {
    // SAFETY: reads `t`.
    let r = unsafe { libc::tcsetattr(fd, libc::TCSANOW, t) };
    check_os(r, format_args!("tcsetattr of fd {fd}"))
}

/// Puts the terminal of `fd` in raw mode (cfmakeraw(3)): no echo, no line editing, no
/// output processing, no flow control; a read returns once a byte came.
pub fn make_raw(fd: RawFd) -> Check {
    let mut t = tcgetattr(fd)?;
    // SAFETY: changes `t` in place.
    unsafe { libc::cfmakeraw(&mut t) };
    tcsetattr(fd, &t)
}

/// `Err` naming `what` and the first field of the termios `got` that is not `want`'s: the
/// four flag words, the line discipline, each control character, the input and output speeds.
pub fn check_termios(what: &str, got: &libc::termios, want: &libc::termios) -> Check {
    let flags = [
        ("c_iflag", got.c_iflag, want.c_iflag),
        ("c_oflag", got.c_oflag, want.c_oflag),
        ("c_cflag", got.c_cflag, want.c_cflag),
        ("c_lflag", got.c_lflag, want.c_lflag),
    ];
    for (field, g, w) in flags {
        if g != w {
            return Err(format!("{what}: {field} is {g:#o}, expected {w:#o}"));
        }
    }
    check_eq(format_args!("{what}: c_line"), got.c_line, want.c_line)?;
    for (i, (g, w)) in got.c_cc.iter().zip(&want.c_cc).enumerate() {
        check_eq(format_args!("{what}: c_cc[{i}]"), g, w)?;
    }
    let speeds = |t: &libc::termios| (t.c_cflag & libc::CBAUD, t.c_cflag & libc::CIBAUD);
    check_eq(
        format_args!("{what}: (CBAUD, CIBAUD)"),
        speeds(got),
        speeds(want),
    )?;
    check_eq(
        format_args!("{what}: (c_ispeed, c_ospeed)"),
        (got.c_ispeed, got.c_ospeed),
        (want.c_ispeed, want.c_ospeed),
    )
}

/// What poll() of `fd` for `events` within `timeout_ms` sees: its revents (0 if nothing).
pub fn poll_events(
    fd: RawFd,
    events: libc::c_short,
    timeout_ms: libc::c_int,
) -> Result<libc::c_short, String> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    check_os(n, format_args!("poll of fd {fd}"))?;
    Ok(pfd.revents)
}

/// Waits up to 10 s for `fd` to be readable; `Err` naming `what` if it is not.
pub fn wait_readable(fd: RawFd, what: &str) -> Check {
    match poll_events(fd, libc::POLLIN, PATIENCE_MS)? & libc::POLLIN {
        0 => Err(format!(
            "{what} (fd {fd}): nothing to read within {} s",
            PATIENCE_MS / 1000
        )),
        _ => Ok(()),
    }
}

/// Waits up to 10 s, polling every 5 ms, until poll() of `fd` for POLLOUT says `writable`;
/// `Err` naming `what` if it does not.
pub fn wait_writable(fd: RawFd, writable: bool, what: &str) -> Check {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(PATIENCE_MS as u64);
    loop {
        let now = poll_events(fd, libc::POLLOUT, 0)? & libc::POLLOUT != 0;
        if now == writable {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{what} (fd {fd}): poll() for POLLOUT still says {now} after {} s",
                PATIENCE_MS / 1000
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// One read(2) of up to `len` bytes from `fd`, waiting as the file does: what it gave, or
/// `Err` naming `what` and the errno.
pub fn read_once(fd: RawFd, len: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    // SAFETY: reads into `buf`, of that length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) };
    check_os(n as i64, format_args!("read of {what} (fd {fd})"))?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// Waits up to 10 s for `fd` to be readable, then [`read_once`]s up to 64 bytes.
pub fn read_within(fd: RawFd, what: &str) -> Result<Vec<u8>, String> {
    wait_readable(fd, what)?;
    read_once(fd, 64, what)
}

/// What one read(2) of up to 16 bytes from `fd` gives: the bytes, or the errno.
pub fn try_read(fd: RawFd) -> Result<Vec<u8>, i32> {
    let mut buf = [0u8; 16];
    // SAFETY: reads into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        n if n >= 0 => Ok(buf[..n as usize].to_vec()),
        _ => Err(errno()),
    }
}

/// What one write(2) of `buf` to `fd` gives: the bytes written, or the errno.
pub fn try_write(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: writes from a buffer of that length.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    match n {
        n if n >= 0 => Ok(n as usize),
        _ => Err(errno()),
    }
}

/// Reads the master `master` (`what`), in packet mode, until at least `len` bytes of data
/// came, each read within 10 s: every read must be one packet of data (its status byte
/// `TIOCPKT_DATA`, then at least one byte). Returns the data of all the packets.
pub fn read_packets(master: RawFd, len: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    while data.len() < len {
        let packet = read_within(master, what)?;
        match packet.split_first() {
            Some((&TIOCPKT_DATA, rest)) if !rest.is_empty() => data.extend_from_slice(rest),
            _ => {
                return Err(format!(
                    "{what} (fd {master}, packet mode): a read gave \"{}\" after \"{}\", not a status byte {TIOCPKT_DATA} (TIOCPKT_DATA) and data",
                    packet.escape_ascii(),
                    data.escape_ascii()
                ))
            }
        }
    }
    Ok(data)
}

/// The path of the pty slave process `pid` holds on `fd` (`/dev/pts/N`, read from
/// /proc/PID/fd); fails `target` if it is not one.
pub fn slave_held(target: &crate::Target, pid: libc::pid_t, fd: RawFd) -> String {
    let link = format!("/proc/{pid}/fd/{fd}");
    let path = std::fs::read_link(&link)
        .unwrap_or_else(|e| target.fail(format!("readlink {link}: {e}")))
        .to_string_lossy()
        .into_owned();
    if !path.starts_with("/dev/pts/") {
        target.fail(format!("{link} is {path:?}, not a pty's slave"));
    }
    path
}

/// How long [`wait_settled`] wants FIONREAD unchanged before it takes the flush worker to be
/// done, in milliseconds.
const SETTLE_MS: u64 = 200;

/// The bytes a read of the pty side `fd` would find now (`FIONREAD`, which N_TTY answers as
/// `TIOCINQ`): those its line discipline holds (in canonical mode, only those of complete
/// lines), not those still in its flip buffers, which the flush worker has not passed on yet.
pub fn inq(fd: RawFd) -> Result<usize, String> {
    crate::fionread(fd)
}

/// Waits up to 5 s, looking every 2 ms, until [`inq`] of `fd` is `want`; `Err` naming `what`
/// and what it was last otherwise.
pub fn wait_inq(fd: RawFd, want: usize, what: &str) -> Check {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = inq(fd)?;
        if now == want {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{what} (fd {fd}): FIONREAD is {now} after 5 s, expected {want}"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Waits, looking every 5 ms, until [`inq`] of `fd` has not changed for 200 ms: the flush
/// worker, which nothing else shows, has passed on what the line discipline takes. Returns
/// the count; `Err` naming `what` if it still changes after 10 s.
pub fn wait_settled(fd: RawFd, what: &str) -> Result<usize, String> {
    let start = std::time::Instant::now();
    let (mut last, mut since) = (inq(fd)?, start);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(5));
        let now = inq(fd)?;
        let t = std::time::Instant::now();
        if now != last {
            (last, since) = (now, t);
        } else if t - since >= std::time::Duration::from_millis(SETTLE_MS) {
            return Ok(now);
        }
        if t - start > std::time::Duration::from_millis(PATIENCE_MS as u64) {
            return Err(format!(
                "{what} (fd {fd}): FIONREAD still changes after {} s (now {now})",
                PATIENCE_MS / 1000
            ));
        }
    }
}

/// The size of [`fill`]'s larger writes.
const FILL_CHUNK: usize = 1024;

/// Writes to `fd` (non-blocking) bytes `pattern(i)`, `i` from `from`, until a write gives
/// EAGAIN: in chunks of 1024, then one byte at a time (a small write may still find room
/// that a large one does not: a flip buffer on its free list). Returns how many it wrote;
/// `Err` naming `what` once `from` and those would pass `cap`, or on another error.
fn write_until_full(
    fd: RawFd,
    pattern: fn(usize) -> u8,
    from: usize,
    cap: usize,
    what: &str,
) -> Result<usize, String> {
    let mut at = from;
    for chunk in [FILL_CHUNK, 1] {
        loop {
            if at + chunk > cap {
                return Err(format!(
                    "{what} (fd {fd}): no EAGAIN after {at} bytes (at most {cap} were to fit)"
                ));
            }
            let buf: Vec<u8> = (at..at + chunk).map(pattern).collect();
            match try_write(fd, &buf) {
                Ok(n) => at += n,
                Err(libc::EAGAIN) => break,
                Err(e) => {
                    return Err(format!(
                        "{what} (fd {fd}): a write after {at} bytes: {}",
                        describe_errno(e)
                    ))
                }
            }
        }
    }
    Ok(at - from)
}

/// Fills the pty from its side `fd` (non-blocking) towards its other side `reader`, which
/// nobody reads: writes bytes `pattern(i)`, `i` from 0, until a write gives EAGAIN (see
/// [`write_until_full`]), waits until FIONREAD of `reader` settles ([`wait_settled`]: the
/// flush worker moved what `reader`'s line discipline takes, freeing flip buffers), and
/// again, until the first write after it settled gives EAGAIN: then `reader`'s line
/// discipline is full and its flip buffers take no byte more. Returns how many bytes were
/// written; `Err` naming `what` if more than `cap` would be.
pub fn fill(
    fd: RawFd,
    reader: RawFd,
    pattern: fn(usize) -> u8,
    cap: usize,
    what: &str,
) -> Result<usize, String> {
    let mut written = write_until_full(fd, pattern, 0, cap, what)?;
    loop {
        wait_settled(reader, what)?;
        match write_until_full(fd, pattern, written, cap, what)? {
            0 => return Ok(written),
            more => written += more,
        }
    }
}

/// Reads `fd` (`what`) until exactly `len` bytes came, each read within 10 s of the last
/// (a non-blocking file's EAGAIN is waited out too); returns them.
pub fn read_len(fd: RawFd, len: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        wait_readable(fd, &format!("{what}, after {} of {len} bytes", data.len()))?;
        let mut buf = vec![0u8; (len - data.len()).min(65536)];
        // SAFETY: reads into `buf`, of that length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match (n, errno()) {
            (0, _) => {
                return Err(format!(
                    "read of {what} (fd {fd}): end of file after {} of {len} bytes",
                    data.len()
                ))
            }
            (n, _) if n > 0 => data.extend_from_slice(&buf[..n as usize]),
            (_, libc::EAGAIN) => {}
            (_, e) => return Err(format!("read of {what} (fd {fd}): {}", describe_errno(e))),
        }
    }
    Ok(data)
}

/// Reads `fd` (`what`) until poll() sees nothing more for `quiet_ms`; returns what came.
/// `Err` if it still gives bytes after 10 s.
pub fn read_until_quiet(fd: RawFd, quiet_ms: libc::c_int, what: &str) -> Result<Vec<u8>, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(PATIENCE_MS as u64);
    let mut data = Vec::new();
    while poll_events(fd, libc::POLLIN, quiet_ms)? & libc::POLLIN != 0 {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{what} (fd {fd}): still readable after {} s, {} bytes read",
                PATIENCE_MS / 1000,
                data.len()
            ));
        }
        let mut buf = [0u8; 4096];
        // SAFETY: reads into `buf`.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match (n, errno()) {
            (0, _) => break,
            (n, _) if n > 0 => data.extend_from_slice(&buf[..n as usize]),
            (_, libc::EAGAIN) => {}
            (_, e) => return Err(format!("read of {what} (fd {fd}): {}", describe_errno(e))),
        }
    }
    Ok(data)
}

/// `Err` naming `what` and the first byte of `got` that is not `pattern(i)` for its index
/// `i`.
pub fn check_pattern(what: &str, got: &[u8], pattern: fn(usize) -> u8) -> Check {
    match got.iter().enumerate().find(|&(i, &b)| b != pattern(i)) {
        Some((i, b)) => Err(format!(
            "{what}: byte {i} of {} is {b:#x}, should be {:#x}",
            got.len(),
            pattern(i)
        )),
        None => Ok(()),
    }
}

/// Waits (up to 10 s) until `/dev/pts/N` of each of `indexes` is gone: the killed tree's
/// ptys are released and their indexes free.
pub fn wait_released(target: &crate::Target, indexes: &[u32]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for &i in indexes {
        let path = slave_path(i);
        while std::fs::symlink_metadata(&path).is_ok() {
            if std::time::Instant::now() > deadline {
                target.fail(format!(
                    "{path} still exists 10 s after its tree was killed"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Two pty indexes a target recorded in `at` (one in each half, `u32::MAX` for none) for the
/// test to read in its memory; the test fails if the target recorded none.
pub fn recorded_indexes(target: &crate::Target, at: &std::sync::atomic::AtomicU64) -> (u32, u32) {
    let both = target.peek_u64(at.as_ptr() as usize);
    if both == u64::MAX {
        target.fail("the target did not record its pty indexes");
    }
    ((both >> 32) as u32, both as u32)
}

/// A byte written to `master` is read from `slave`, and one written to `slave` from
/// `master`; `what` names the pty in the messages.
pub fn byte_each_way(master: RawFd, slave: RawFd, what: &str) -> Check {
    crate::write_all(master, b"b")?;
    crate::unix::check_bytes(
        format_args!("what {what}'s slave reads of \"b\" written to the master"),
        &read_within(slave, what)?,
        b"b",
    )?;
    crate::write_all(slave, b"c")?;
    crate::unix::check_bytes(
        format_args!("what {what}'s master reads of \"c\" written to the slave"),
        &read_within(master, what)?,
        b"c",
    )
}
