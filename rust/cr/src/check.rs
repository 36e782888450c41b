//! `cr check`: does the running kernel support C/R, and does it speak the tool's ABI.

use std::io;

use crate::sys;

pub const SYSFS_ABI: &str = "/sys/kernel/checkpoint/abi";
pub const SYSFS_SCHEMA: &str = "/sys/kernel/checkpoint/schema";

/// Whether a syscall exists, as told by calling it with flags no kernel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// `EINVAL`: the kernel looked at the flags.
    Present,
    /// `ENOSYS`: no such syscall.
    Absent,
    /// Anything else; the kernel does not follow the contract.
    Unexpected(i32),
}

impl Syscall {
    fn from_probe(result: io::Result<()>) -> Self {
        match result.err().and_then(|e| e.raw_os_error()) {
            Some(libc::EINVAL) => Syscall::Present,
            Some(libc::ENOSYS) => Syscall::Absent,
            Some(errno) => Syscall::Unexpected(errno),
            None => Syscall::Unexpected(0),
        }
    }

    fn describe(self) -> String {
        match self {
            Syscall::Present => "present".into(),
            Syscall::Absent => "absent".into(),
            Syscall::Unexpected(0) => "unexpected success on invalid flags".into(),
            Syscall::Unexpected(e) => format!("unexpected {} on invalid flags", sys::errno_name(e)),
        }
    }
}

/// Flags with every bit the contract does not define: the kernel's first check refuses them
/// before it looks at any other argument.
const BAD_CHECKPOINT_FLAGS: u32 = !(abi::CKPT_SUBTREE | abi::CKPT_KILL);
const BAD_RESTART_FLAGS: u32 = !abi::RESTART_FROZEN;

/// What `cr check` found.
#[derive(Debug)]
pub struct Report {
    /// The hash in sysfs, or why it could not be read.
    pub kernel_abi: Result<String, String>,
    pub checkpoint: Syscall,
    pub restart: Syscall,
}

impl Report {
    pub fn supported(&self) -> bool {
        self.kernel_abi.is_ok()
            && self.checkpoint == Syscall::Present
            && self.restart == Syscall::Present
    }

    pub fn abi_matches(&self) -> bool {
        self.kernel_abi.as_deref() == Ok(abi::ABI_HASH_HEX)
    }

    /// The report as printed, one `key: value` line each.
    pub fn to_text(&self) -> String {
        let kernel = match &self.kernel_abi {
            Ok(hash) => hash.clone(),
            Err(why) => format!("unknown ({SYSFS_ABI}: {why})"),
        };
        format!(
            "kernel abi: {kernel}\n\
             tool abi:   {}\n\
             abi match:  {}\n\
             checkpoint: syscall {} {}\n\
             restart:    syscall {} {}\n\
             supported:  {}\n",
            abi::ABI_HASH_HEX,
            if self.abi_matches() { "yes" } else { "no" },
            abi::NR_CHECKPOINT,
            self.checkpoint.describe(),
            abi::NR_RESTART,
            self.restart.describe(),
            if self.supported() { "yes" } else { "no" },
        )
    }
}

/// Reads sysfs and probes both syscalls; changes nothing.
pub fn run() -> Report {
    let kernel_abi = std::fs::read_to_string(SYSFS_ABI)
        .map(|s| s.trim_end().to_string())
        .map_err(|e| sys::error_text(&e));
    let checkpoint = Syscall::from_probe(sys::checkpoint(-1, -1, BAD_CHECKPOINT_FLAGS, -1));
    let restart = Syscall::from_probe(sys::restart(-1, BAD_RESTART_FLAGS, -1).map(|_| ()));
    Report {
        kernel_abi,
        checkpoint,
        restart,
    }
}

/// A line diff of `old` against `new` (`-` only in old, `+` only in new, ` ` both), from their
/// longest common subsequence; schemas are a few hundred lines, so quadratic is fine.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!(" {}\n", a[i]);
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("-{}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+{}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changed_lines() {
        let d = diff("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(d, " a\n-b\n+x\n c\n+d\n");
        assert_eq!(diff("same\n", "same\n"), " same\n");
    }

    #[test]
    fn report_wants_everything() {
        let mut r = Report {
            kernel_abi: Ok(abi::ABI_HASH_HEX.to_string()),
            checkpoint: Syscall::Present,
            restart: Syscall::Present,
        };
        assert!(r.supported() && r.abi_matches());
        assert!(r.to_text().contains("abi match:  yes"));
        r.restart = Syscall::Absent;
        assert!(!r.supported());
        r.kernel_abi = Ok("00".into());
        assert!(!r.abi_matches());
        assert!(r.to_text().contains("abi match:  no"));
    }

    #[test]
    fn probe_classification() {
        let e = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(Syscall::from_probe(e(libc::EINVAL)), Syscall::Present);
        assert_eq!(Syscall::from_probe(e(libc::ENOSYS)), Syscall::Absent);
        assert_eq!(Syscall::from_probe(Ok(())), Syscall::Unexpected(0));
    }
}
