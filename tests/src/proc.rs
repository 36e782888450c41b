//! What the kernel says about processes: states and parents from /proc, wait statuses, the
//! signal mask, /proc/self/maps.

use std::fmt::Write as _;

use crate::target::{os_error, Check};

/// The state letter of `pid` in /proc/PID/stat (`R`, `S`, `T`, `Z`...); `None` if it is gone.
pub fn proc_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    after_comm(&stat).next()?.chars().next()
}

/// The state letter of thread `tid` of process `pid` (R, S, Z...), from /proc.
pub fn task_state(pid: libc::pid_t, tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    after_comm(&stat).next()?.chars().next()
}

/// What thread `tid` of process `pid` is doing, as /proc/PID/task/TID/syscall shows it: the
/// number of the system call it is in (decimal) and its arguments (hex), `-1` and its stack
/// and program counters outside one, `running`; empty if it is gone.
pub fn syscall_text(pid: libc::pid_t, tid: libc::pid_t) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).unwrap_or_default()
}

/// Whether thread `tid` of process `pid` is in one of the system calls `nrs`.
pub fn in_syscall(pid: libc::pid_t, tid: libc::pid_t, nrs: &[i64]) -> bool {
    let text = syscall_text(pid, tid);
    let nr = text.split_whitespace().next().and_then(|n| n.parse().ok());
    nr.is_some_and(|nr| nrs.contains(&nr))
}

/// Waits up to 10 s until our thread `tid` is in one of the system calls `nrs`.
pub fn wait_in_syscall(tid: libc::pid_t, nrs: &[i64]) -> Check {
    // SAFETY: no arguments.
    let pid = unsafe { libc::getpid() };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !in_syscall(pid, tid, nrs) {
        if std::time::Instant::now() > deadline {
            let now = syscall_text(pid, tid);
            return Err(format!(
                "thread {tid} is not in system call {nrs:?} after 10 s: {:?}",
                now.trim()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}

/// The fields of a /proc/PID/stat line after `(comm)`, which may hold spaces.
fn after_comm(stat: &str) -> std::str::SplitWhitespace<'_> {
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    rest.split_whitespace()
}

/// A signal mask of `pid` from /proc/PID/status (`field` is `SigIgn`, `SigCgt`, `SigBlk`...),
/// with bit `n - 1` for signal `n`; `None` if it cannot be read.
pub fn status_mask(pid: libc::pid_t, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// Every process with its parent, from one scan of /proc, sorted by pid.
pub fn parents() -> Vec<(libc::pid_t, libc::pid_t)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some(parent) = after_comm(&stat).nth(1).and_then(|p| p.parse().ok()) {
            found.push((pid, parent));
        }
    }
    found.sort();
    found
}

/// The pids whose parent is `ppid`, sorted.
pub fn children_of(ppid: libc::pid_t) -> Vec<libc::pid_t> {
    parents()
        .into_iter()
        .filter(|&(_, p)| p == ppid)
        .map(|(pid, _)| pid)
        .collect()
}

/// The children of the calling process.
pub fn my_children() -> Vec<libc::pid_t> {
    // Scanning /proc costs a read per process, which adds up on a debug kernel under TCG;
    // waitid answers "none" (the usual case in a loop of checks) in one call.
    if !has_children() {
        return Vec::new();
    }
    children_of(std::process::id() as libc::pid_t)
}

/// Whether the calling process has any child, running, stopped or zombie.
pub fn has_children() -> bool {
    // SAFETY: all-zero is a valid siginfo_t; waitid writes into it and, with WNOWAIT, reaps
    // nobody.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid siginfo_t for the call to fill.
    let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ECHILD)
}

/// Whether any process (zombies included) has the pid `pid`.
pub fn pid_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the pid exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() != libc::ESRCH }
}

/// What waitid(P_PID, `pid`, `flags`) reports of the child `pid`: (si_code, si_status), or
/// `None` when nothing is to report (with WNOHANG).
pub fn waitid(pid: libc::pid_t, flags: libc::c_int) -> Result<Option<(i32, i32)>, String> {
    // SAFETY: an all-zero siginfo is valid; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid for writes.
    let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    if r != 0 {
        return Err(os_error(format!("waitid({pid}, {flags:#x})")));
    }
    // SAFETY: a siginfo that waitid filled carries the child's pid and status.
    Ok(match unsafe { info.si_pid() } {
        0 => None,
        _ => Some((info.si_code, unsafe { info.si_status() })),
    })
}

/// `"exited with status N"`, `"was killed by signal N (NAME)"`, for messages.
pub fn wait_status_text(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        format!("was killed by signal {sig} ({})", signal_name(sig))
    } else {
        format!("has wait status {status:#x}")
    }
}

/// `"SIGKILL"` for the signals the tests meet; `"SIG<n>"` otherwise.
pub fn signal_name(sig: libc::c_int) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("SIG{sig}"),
    };
    name.to_string()
}

/// The calling thread's blocked signals.
pub fn blocked_mask() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigprocmask only writes `old`.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut old);
        old
    }
}

/// The members of a signal set among signals 1..=64, as a bit mask (bit `n - 1` for signal n).
pub fn sigset_bits(set: &libc::sigset_t) -> u64 {
    // SAFETY: sigismember only reads the set.
    (1..=64).fold(0, |bits, sig| {
        if unsafe { libc::sigismember(set, sig) } == 1 {
            bits | 1 << (sig - 1)
        } else {
            bits
        }
    })
}

/// A signal set holding `signals`.
pub fn sigset_of(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialize and write the local set only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// CLOCK_MONOTONIC now.
pub fn monotonic() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A copy of `/proc/self/maps` taken into a buffer allocated beforehand, so that taking it
/// maps nothing new: two snapshots around a checkpoint and restart must be identical.
pub struct MapsSnapshot {
    buf: Vec<u8>,
    len: usize,
}

impl MapsSnapshot {
    /// An empty snapshot with room for 256 KiB of maps, its pages already touched.
    pub fn new() -> MapsSnapshot {
        MapsSnapshot {
            buf: vec![0xff; 256 << 10],
            len: 0,
        }
    }

    /// Reads `/proc/self/maps` with raw syscalls into the buffer.
    pub fn take(&mut self) -> Check {
        // SAFETY: open/read/close on a NUL-terminated path and our own buffer, within its
        // bounds.
        unsafe {
            let fd = libc::open(
                c"/proc/self/maps".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return Err(os_error("open /proc/self/maps"));
            }
            self.len = 0;
            loop {
                let room = self.buf.len() - self.len;
                if room == 0 {
                    libc::close(fd);
                    return Err("/proc/self/maps is larger than 256 KiB".into());
                }
                let n = libc::read(fd, self.buf.as_mut_ptr().add(self.len).cast(), room);
                if n < 0 {
                    let e = os_error("read /proc/self/maps");
                    libc::close(fd);
                    return Err(e);
                }
                if n == 0 {
                    break;
                }
                self.len += n as usize;
            }
            libc::close(fd);
        }
        Ok(())
    }

    /// The text read.
    pub fn text(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// `Err` listing the lines that differ, unless `after` reads the same as `self`.
    pub fn compare(&self, after: &MapsSnapshot) -> Check {
        if self.text() == after.text() {
            return Ok(());
        }
        let before = String::from_utf8_lossy(self.text());
        let after = String::from_utf8_lossy(after.text());
        let mut msg = String::from("/proc/self/maps changed (- before, + after):");
        let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        for line in &b {
            if !a.contains(line) {
                let _ = write!(msg, "\n- {line}");
            }
        }
        for line in &a {
            if !b.contains(line) {
                let _ = write!(msg, "\n+ {line}");
            }
        }
        Err(msg)
    }
}

impl Default for MapsSnapshot {
    fn default() -> Self {
        MapsSnapshot::new()
    }
}

/// One line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapsEntry {
    pub start: usize,
    pub end: usize,
    /// `rwxp`-style, e.g. `r--p`.
    pub perms: String,
    pub offset: u64,
    pub dev: String,
    pub inode: u64,
    /// The path or `[heap]`-style name; empty for anonymous memory.
    pub name: String,
}

/// The mapping that holds `addr` in this process, if any.
pub fn maps_entry(addr: usize) -> Option<MapsEntry> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(parse_maps_line)
        .find(|e| e.start <= addr && addr < e.end)
}

/// The mapping named `name` (`[vdso]`-style) in this process, if any.
pub fn maps_named(name: &str) -> Option<MapsEntry> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(parse_maps_line)
        .find(|e| e.name == name)
}

/// One line of `/proc/PID/maps`, parsed; `None` if it is not one.
pub fn parse_maps_line(line: &str) -> Option<MapsEntry> {
    let mut f = line.splitn(6, ' ');
    let (start, end) = f.next()?.split_once('-')?;
    let perms = f.next()?.to_string();
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let dev = f.next()?.to_string();
    let inode = f.next()?.parse().ok()?;
    let name = f.next().unwrap_or("").trim_start().to_string();
    Some(MapsEntry {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        dev,
        inode,
        name,
    })
}

/// `Err` unless the mapping holding `addr` is `[start, start + len)` with `perms`.
pub fn check_mapping(addr: usize, len: usize, perms: &str) -> Check {
    match maps_entry(addr) {
        Some(e) if e.start == addr && e.end == addr + len && e.perms == perms => Ok(()),
        Some(e) => Err(format!(
            "mapping at {addr:#x}: expected {addr:#x}-{:#x} {perms}, /proc/self/maps has {e:?}",
            addr + len
        )),
        None => Err(format!("no mapping at {addr:#x} in /proc/self/maps")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let e = parse_maps_line(
            "7f00aa000000-7f00aa021000 r-xp 00001000 08:01 1234                       /usr/lib/x",
        )
        .unwrap();
        assert_eq!((e.start, e.end), (0x7f00aa000000, 0x7f00aa021000));
        assert_eq!(
            (e.perms.as_str(), e.offset, e.inode),
            ("r-xp", 0x1000, 1234)
        );
        assert_eq!(e.name, "/usr/lib/x");
        let anon = parse_maps_line("7f00aa000000-7f00aa021000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!(anon.name, "");
    }

    #[test]
    fn own_state() {
        assert!(proc_state(std::process::id() as libc::pid_t).is_some());
        assert!(pid_exists(std::process::id() as libc::pid_t));
        let local = 0u8;
        let e = maps_entry(&local as *const u8 as usize).unwrap();
        assert!(e.perms.starts_with("rw"), "{e:?}");
        let mut a = MapsSnapshot::new();
        let mut b = MapsSnapshot::new();
        a.take().unwrap();
        b.take().unwrap();
        // Other test threads map memory meanwhile, so the two may differ; comparing a
        // snapshot with itself must succeed.
        a.compare(&a).unwrap();
        assert_eq!(
            sigset_bits(&sigset_of(&[libc::SIGINT, libc::SIGUSR1])),
            1 << 1 | 1 << 9
        );
    }
}
