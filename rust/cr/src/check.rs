//! `cr check`: does the running kernel support C/R, and does it speak the tool's ABI.
//!
//! Also the gate in front of the syscalls: numbers 463/464 are this project's on 6.12 only (on
//! 6.13+ they are `setxattrat`/`getxattrat`), so `cr` calls them only once sysfs says the kernel
//! has C/R with the tool's ABI.

use std::io;
use std::path::Path;

use crate::sys;

pub const SYSFS_ABI: &str = "/sys/kernel/checkpoint/abi";
pub const SYSFS_SCHEMA: &str = "/sys/kernel/checkpoint/schema";

/// What the kernel's ABI hash file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelAbi {
    /// No readable hash file, so no C/R in this kernel: `<path>: <errno text>`.
    Missing(String),
    /// C/R with another image ABI: the kernel's hash.
    Differs(String),
    /// C/R with the tool's image ABI.
    Matches,
}

impl KernelAbi {
    /// Reads the hash file at `path` (the kernel writes the hex hash and a newline).
    pub fn read(path: &Path) -> Self {
        match std::fs::read_to_string(path) {
            Err(e) => KernelAbi::Missing(format!("{}: {}", path.display(), sys::error_text(&e))),
            Ok(content) => {
                // Exactly the one newline the kernel adds; anything else is a different hash.
                let hash = content.strip_suffix('\n').unwrap_or(&content);
                if hash == abi::ABI_HASH_HEX {
                    KernelAbi::Matches
                } else {
                    KernelAbi::Differs(hash.to_string())
                }
            }
        }
    }

    /// Whether the C/R syscalls may be called; otherwise why not, for a kernel of `release`.
    pub fn require(&self, release: &str) -> Result<(), String> {
        match self {
            KernelAbi::Matches => Ok(()),
            KernelAbi::Missing(why) => Err(format!(
                "the running kernel ({release}) has no checkpoint/restart ({why})"
            )),
            KernelAbi::Differs(hash) => Err(format!(
                "the running kernel's image ABI differs from the tool's (kernel abi {hash}, \
                 cr abi {}); rebuild cr for this kernel",
                abi::ABI_HASH_HEX
            )),
        }
    }
}

/// The running kernel's [`KernelAbi`], from [`SYSFS_ABI`].
pub fn kernel_abi() -> KernelAbi {
    KernelAbi::read(Path::new(SYSFS_ABI))
}

/// The gate for `cr checkpoint` and `cr restart`: `Ok` only when the running kernel has C/R with
/// the tool's ABI, otherwise the text of the error.
pub fn require_support() -> Result<(), String> {
    kernel_abi().require(&sys::kernel_release())
}

/// Whether a syscall exists, as told by calling it with flags no kernel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// `EINVAL`: the kernel looked at the flags.
    Present,
    /// `ENOSYS`: no such syscall.
    Absent,
    /// Anything else; the kernel does not follow the contract.
    Unexpected(i32),
    /// Not called: without C/R the number may belong to another syscall.
    NotProbed,
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
            Syscall::NotProbed => "not probed: no checkpoint/restart in this kernel".into(),
        }
    }
}

/// Flags with every bit the contract does not define: the kernel's first check refuses them
/// before it looks at any other argument.
const BAD_CHECKPOINT_FLAGS: u32 = !abi::CKPT_FLAGS_ALL;
const BAD_RESTART_FLAGS: u32 = !abi::RESTART_FLAGS_ALL;

/// What `cr check` found.
#[derive(Debug)]
pub struct Report {
    /// What the hash in sysfs says.
    pub kernel_abi: KernelAbi,
    pub checkpoint: Syscall,
    pub restart: Syscall,
}

impl Report {
    pub fn supported(&self) -> bool {
        !matches!(self.kernel_abi, KernelAbi::Missing(_))
            && self.checkpoint == Syscall::Present
            && self.restart == Syscall::Present
    }

    pub fn abi_matches(&self) -> bool {
        self.kernel_abi == KernelAbi::Matches
    }

    /// The report as printed, one `key: value` line each.
    pub fn to_text(&self) -> String {
        let kernel = match &self.kernel_abi {
            KernelAbi::Matches => abi::ABI_HASH_HEX.to_string(),
            KernelAbi::Differs(hash) => hash.clone(),
            KernelAbi::Missing(why) => format!("unknown ({why})"),
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

/// Reads sysfs and, if it shows C/R, probes both syscalls; changes nothing.
pub fn run() -> Report {
    let kernel_abi = kernel_abi();
    // A kernel with another ABI still has our syscalls, and the probe tells whether they work.
    let (checkpoint, restart) = if let KernelAbi::Missing(_) = kernel_abi {
        (Syscall::NotProbed, Syscall::NotProbed)
    } else {
        (
            Syscall::from_probe(sys::checkpoint(-1, -1, BAD_CHECKPOINT_FLAGS, -1)),
            Syscall::from_probe(sys::restart(-1, BAD_RESTART_FLAGS, -1).map(|_| ())),
        )
    };
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
            kernel_abi: KernelAbi::Matches,
            checkpoint: Syscall::Present,
            restart: Syscall::Present,
        };
        assert!(r.supported() && r.abi_matches());
        assert!(r.to_text().contains("abi match:  yes"));
        r.restart = Syscall::Absent;
        assert!(!r.supported());
        r.kernel_abi = KernelAbi::Differs("00".into());
        assert!(!r.abi_matches());
        assert!(r.to_text().contains("kernel abi: 00\n"));
        assert!(r.to_text().contains("abi match:  no"));
    }

    #[test]
    fn report_without_cr_probes_nothing() {
        let r = Report {
            kernel_abi: KernelAbi::Missing(format!("{SYSFS_ABI}: No such file or directory")),
            checkpoint: Syscall::NotProbed,
            restart: Syscall::NotProbed,
        };
        assert!(!r.supported() && !r.abi_matches());
        let text = r.to_text();
        assert!(
            text.contains(&format!(
                "kernel abi: unknown ({SYSFS_ABI}: No such file or directory)\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "checkpoint: syscall {} not probed: no checkpoint/restart in this kernel\n",
                abi::NR_CHECKPOINT
            )),
            "{text}"
        );
        assert!(text.contains("supported:  no\n"), "{text}");
    }

    /// A scratch directory of this test's own, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("cr-check-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// A file `abi` in the directory holding `content`.
        fn abi_file(&self, content: &str) -> std::path::PathBuf {
            let path = self.0.join("abi");
            std::fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn gate_refuses_a_kernel_without_cr() {
        let dir = Scratch::new("absent");
        let path = dir.0.join("abi");
        let abi = KernelAbi::read(&path);
        let why = format!("{}: No such file or directory", path.display());
        assert_eq!(abi, KernelAbi::Missing(why.clone()));
        assert_eq!(
            abi.require("6.18.44"),
            Err(format!(
                "the running kernel (6.18.44) has no checkpoint/restart ({why})"
            ))
        );
    }

    #[test]
    fn gate_refuses_another_abi() {
        let dir = Scratch::new("differs");
        let abi = KernelAbi::read(&dir.abi_file("00ff\n"));
        assert_eq!(abi, KernelAbi::Differs("00ff".into()));
        let text = abi.require("6.12.0").unwrap_err();
        assert!(text.contains("image ABI differs"), "{text}");
        assert!(text.contains("kernel abi 00ff,"), "{text}");
        assert!(
            text.contains(&format!("cr abi {}", abi::ABI_HASH_HEX)),
            "{text}"
        );
        // An empty file is no hash at all, not a missing kernel.
        let abi = KernelAbi::read(&dir.abi_file(""));
        assert_eq!(abi, KernelAbi::Differs(String::new()));
        assert!(abi.require("6.12.0").is_err());
    }

    #[test]
    fn gate_admits_the_tools_abi() {
        let dir = Scratch::new("matches");
        let abi = KernelAbi::read(&dir.abi_file(&format!("{}\n", abi::ABI_HASH_HEX)));
        assert_eq!(abi, KernelAbi::Matches);
        assert_eq!(abi.require("6.12.0"), Ok(()));
    }

    #[test]
    fn gate_strips_one_newline_only() {
        let dir = Scratch::new("newline");
        let hash = abi::ABI_HASH_HEX;
        assert_eq!(KernelAbi::read(&dir.abi_file(hash)), KernelAbi::Matches);
        for content in [
            format!("{hash}\n\n"),
            format!("{hash} \n"),
            format!("{hash}\r\n"),
            format!(" {hash}\n"),
            format!("{}\n", &hash[1..]),
        ] {
            let abi = KernelAbi::read(&dir.abi_file(&content));
            assert!(
                matches!(abi, KernelAbi::Differs(_)),
                "{content:?} read as {abi:?}"
            );
        }
    }

    #[test]
    fn probe_classification() {
        let e = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(Syscall::from_probe(e(libc::EINVAL)), Syscall::Present);
        assert_eq!(Syscall::from_probe(e(libc::ENOSYS)), Syscall::Absent);
        assert_eq!(Syscall::from_probe(Ok(())), Syscall::Unexpected(0));
    }
}
