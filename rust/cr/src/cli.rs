//! The command line: `cr check|checkpoint|restart|inspect`.
//!
//! Every command returns the process exit status. Failures print one line
//! `cr: <what>: <errno text>` on stderr, after the kernel's own log lines, which are forwarded
//! as they arrive behind [`klog::STDERR_PREFIX`].

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::{check, inspect, klog::KernelLog, klog::STDERR_PREFIX, sys};

#[derive(Parser, Debug)]
#[command(
    name = "cr",
    version,
    about = "Checkpoint and restart process trees in the kernel"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Tell whether the running kernel supports checkpoint/restart and with which ABI.
    Check {
        /// Print the schema; if the kernel's differs from the tool's, print the difference.
        #[arg(long)]
        schema: bool,
    },
    /// Write an image of the process tree rooted at PID.
    Checkpoint {
        /// PID is any task, not the init of a pid namespace (no check for pids that entered
        /// its namespace).
        #[arg(long)]
        subtree: bool,
        /// Kill the tree once it is dumped instead of letting it run on.
        #[arg(long)]
        kill: bool,
        /// Save open files the tree shares with processes outside it (a shell's terminal)
        /// as the tree sees them; a restart reopens them unshared. Without it they are
        /// refused.
        #[arg(long)]
        unshare_open_files: bool,
        /// Leave page data out of the image's checksum: checkpoint and restart skip hashing
        /// it (and `restart --map` can verify the rest), but damage to it goes undetected.
        #[arg(long)]
        no_page_checksum: bool,
        /// Save files deleted while open with their bytes, up to BYTES in all (their sizes,
        /// holes included; more is refused); a restart makes them again, unlinked. Without
        /// it they are refused.
        #[arg(long, value_name = "BYTES")]
        unlinked_max: Option<u64>,
        /// Write the image to FILE (created with mode 0600) instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        pid: libc::pid_t,
    },
    /// Rebuild a process tree from an image.
    Restart {
        /// Read the image from FILE instead of standard input.
        #[arg(short = 'i', long = "input", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Print the restored root's pid and exit instead of waiting for it.
        #[arg(long)]
        detach: bool,
        /// Leave the restored tasks stopped until they get SIGCONT.
        #[arg(long)]
        frozen: bool,
        /// Map the image's page data copy-on-write instead of copying it. The restored
        /// mappings show the image memfd in /proc/PID/maps and MADV_DONTNEED gives back the
        /// image's bytes, not zeros (not for programs whose allocator relies on zeros, as
        /// jemalloc's does); the checksum is verified only for an image checkpointed with
        /// --no-page-checksum; every process must have the
        /// caller's credentials and be dumpable, and one sharing memory copy-on-write with a
        /// relative is refused. An input that is not a memfd sealed against writing and
        /// shrinking is copied into one first.
        #[arg(long)]
        map: bool,
        /// Write the restored root's pid to FILE.
        #[arg(long, value_name = "FILE")]
        pidfile: Option<PathBuf>,
    },
    /// Decode an image: every record with its fields, then totals per record type.
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The image; `-` reads standard input.
        file: PathBuf,
    },
}

/// A failure as the user sees it: `cr: <what>: <text>`.
#[derive(Debug)]
pub struct Failure {
    pub what: String,
    pub text: String,
}

impl Failure {
    fn io(what: impl Into<String>, err: &io::Error) -> Self {
        Failure {
            what: what.into(),
            text: sys::error_text(err),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cr: {}: {}", self.what, self.text)
    }
}

/// Runs one command; returns the exit status.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.cmd {
        Cmd::Check { schema } => run_check(schema),
        Cmd::Checkpoint {
            subtree,
            kill,
            unshare_open_files,
            no_page_checksum,
            unlinked_max,
            output,
            pid,
        } => {
            let flags = [
                (subtree, abi::CKPT_SUBTREE),
                (kill, abi::CKPT_KILL),
                (unshare_open_files, abi::CKPT_UNSHARE_OPEN_FILES),
                (no_page_checksum, abi::CKPT_NO_PAGE_CHECKSUM),
                (unlinked_max.is_some(), abi::CKPT_UNLINKED),
            ];
            let flags = flags
                .iter()
                .filter(|(on, _)| *on)
                .fold(0, |f, (_, bit)| f | bit);
            run_checkpoint(pid, flags, unlinked_max.unwrap_or(0), output.as_deref())
        }
        Cmd::Restart {
            input,
            detach,
            frozen,
            map,
            pidfile,
        } => run_restart(input.as_deref(), detach, frozen, map, pidfile.as_deref()),
        Cmd::Inspect { json, file } => run_inspect(&file, json),
    };
    match result {
        Ok(status) => status,
        Err(failure) => {
            eprintln!("{failure}");
            1
        }
    }
}

fn run_check(schema: bool) -> Result<i32, Failure> {
    let report = check::run();
    print!("{}", report.to_text());
    if schema {
        match std::fs::read_to_string(check::SYSFS_SCHEMA) {
            Ok(kernel) if kernel == abi::SCHEMA => print!("{}", abi::SCHEMA),
            Ok(kernel) => {
                println!("--- kernel ({})", check::SYSFS_SCHEMA);
                println!("+++ cr");
                print!("{}", check::diff(&kernel, abi::SCHEMA));
            }
            Err(e) => {
                eprintln!(
                    "{}",
                    Failure::io(format!("read {}", check::SYSFS_SCHEMA), &e)
                );
                print!("{}", abi::SCHEMA);
            }
        }
    }
    // The same words as `checkpoint` and `restart` for a kernel without C/R or with another ABI.
    report
        .kernel_abi
        .require(&sys::kernel_release())
        .map_err(|text| Failure {
            what: "check".into(),
            text,
        })?;
    if !report.supported() {
        return Err(Failure {
            what: "check".into(),
            text: "the running kernel does not support checkpoint/restart".into(),
        });
    }
    Ok(0)
}

/// Fails as `what` unless the C/R syscalls may be called (see [`check::require_support`]).
fn require_support(what: &str) -> Result<(), Failure> {
    check::require_support().map_err(|text| Failure {
        what: what.into(),
        text,
    })
}

/// Checkpoints the tree of `pid` with the `CKPT_*` `flags`.
fn run_checkpoint(
    pid: libc::pid_t,
    flags: u32,
    unlinked_max: u64,
    output: Option<&Path>,
) -> Result<i32, Failure> {
    let what = format!("checkpoint {pid}");
    // Before the output file too: a refused checkpoint leaves nothing behind.
    require_support(&what)?;
    let file = match output {
        Some(path) => Some(
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Failure::io(format!("open {}", path.display()), &e))?,
        ),
        None if io::stdout().is_terminal() => {
            return Err(Failure {
                what,
                text: "standard output is a terminal; use -o FILE or redirect it".into(),
            })
        }
        None => None,
    };
    let fd: RawFd = file.as_ref().map_or(libc::STDOUT_FILENO, |f| f.as_raw_fd());
    let result =
        with_kernel_log(|logfd| sys::checkpoint_unlinked(pid, fd, flags, logfd, unlinked_max))?;
    if let Err(e) = result {
        // A partial image is worse than none: nothing could tell it from a good one by name.
        if let Some(path) = output {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        return Err(Failure::io(what, &e));
    }
    Ok(0)
}

/// The seals `RESTART_MAP` requires of the image memfd.
const MAP_SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK;

fn run_restart(
    input: Option<&Path>,
    detach: bool,
    frozen: bool,
    map: bool,
    pidfile: Option<&Path>,
) -> Result<i32, Failure> {
    require_support("restart")?;
    let mut file = input
        .map(|path| {
            File::open(path).map_err(|e| Failure::io(format!("open {}", path.display()), &e))
        })
        .transpose()?;
    let mut fd: RawFd = file.as_ref().map_or(libc::STDIN_FILENO, |f| f.as_raw_fd());
    let mut flags = if frozen { abi::RESTART_FROZEN } else { 0 };
    // The memfd the image is copied into, if it was not one already.
    let mut memfd = None;
    if map {
        flags |= abi::RESTART_MAP;
        if !sys::seals(fd).is_ok_and(|s| s & MAP_SEALS == MAP_SEALS) {
            let copy = match file.as_mut() {
                Some(f) => image_memfd(f),
                None => image_memfd(io::stdin().lock()),
            }?;
            fd = memfd.insert(copy).as_raw_fd();
        }
    }
    let pid = with_kernel_log(|logfd| sys::restart(fd, flags, logfd))?
        .map_err(|e| Failure::io("restart", &e))?;
    // The restored mappings hold the memfd on their own.
    drop((file, memfd));
    if let Some(path) = pidfile {
        std::fs::write(path, format!("{pid}\n"))
            .map_err(|e| Failure::io(format!("write {}", path.display()), &e))?;
    }
    if detach {
        println!("{pid}");
        return Ok(0);
    }
    let status = sys::waitpid(pid).map_err(|e| Failure::io(format!("wait {pid}"), &e))?;
    Ok(exit_status(status))
}

/// A memfd holding the image that `input` gives from where it is, sealed for `RESTART_MAP`
/// and read from its start.
fn image_memfd(mut input: impl Read) -> Result<File, Failure> {
    let mut memfd = sys::memfd_create(c"cr-image", libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        .map_err(|e| Failure::io("memfd_create", &e))?;
    // On Linux, copy_file_range(2), splice(2) or sendfile(2) where they apply.
    io::copy(&mut input, &mut memfd).map_err(|e| Failure::io("copy the image into a memfd", &e))?;
    let seals = MAP_SEALS | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    sys::add_seals(memfd.as_raw_fd(), seals)
        .map_err(|e| Failure::io("seal the image memfd", &e))?;
    memfd
        .rewind()
        .map_err(|e| Failure::io("seek the image memfd", &e))?;
    Ok(memfd)
}

fn run_inspect(path: &Path, json: bool) -> Result<i32, Failure> {
    let name = path.display().to_string();
    let ins = if path == Path::new("-") {
        inspect::inspect(io::stdin().lock())
    } else {
        let file = File::open(path).map_err(|e| Failure::io(format!("open {name}"), &e))?;
        inspect::inspect(io::BufReader::with_capacity(1 << 16, file))
    };
    let text = if json {
        let mut s = serde_json::to_string_pretty(&inspect::to_json(&ins)).unwrap_or_default();
        s.push('\n');
        s
    } else {
        inspect::to_text(&ins)
    };
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        return Err(Failure::io("write standard output", &e));
    }
    match ins.corruption {
        None => Ok(0),
        Some(c) => Err(Failure {
            what: format!("inspect {name}: offset {:#x}: {}", c.offset, c.what),
            text: sys::strerror(c.errno),
        }),
    }
}

/// Runs `call` with a kernel log pipe as its `logfd`, forwarding the lines to stderr; returns
/// once every line is out, so that our own error line comes last.
fn with_kernel_log<T>(call: impl FnOnce(RawFd) -> T) -> Result<T, Failure> {
    let log = KernelLog::forward_to_stderr(STDERR_PREFIX)
        .map_err(|e| Failure::io("kernel log pipe", &e))?;
    let result = call(log.fd());
    log.finish();
    Ok(result)
}

/// The shell's convention: the exit code, or 128 + the signal that killed it.
pub fn exit_status(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("cr").chain(args.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn check() {
        assert_eq!(parse(&["check"]).unwrap(), Cmd::Check { schema: false });
        assert_eq!(
            parse(&["check", "--schema"]).unwrap(),
            Cmd::Check { schema: true }
        );
    }

    #[test]
    fn checkpoint() {
        assert_eq!(
            parse(&["checkpoint", "42"]).unwrap(),
            Cmd::Checkpoint {
                subtree: false,
                kill: false,
                unshare_open_files: false,
                no_page_checksum: false,
                unlinked_max: None,
                output: None,
                pid: 42
            }
        );
        assert_eq!(
            parse(&[
                "checkpoint",
                "--subtree",
                "--kill",
                "--unshare-open-files",
                "--no-page-checksum",
                "--unlinked-max",
                "1048576",
                "-o",
                "img",
                "7"
            ])
            .unwrap(),
            Cmd::Checkpoint {
                subtree: true,
                kill: true,
                unshare_open_files: true,
                no_page_checksum: true,
                unlinked_max: Some(1 << 20),
                output: Some("img".into()),
                pid: 7
            }
        );
        assert!(parse(&["checkpoint"]).is_err(), "PID is required");
        assert!(parse(&["checkpoint", "pid"]).is_err(), "PID is a number");
    }

    #[test]
    fn restart() {
        assert_eq!(
            parse(&["restart"]).unwrap(),
            Cmd::Restart {
                input: None,
                detach: false,
                frozen: false,
                map: false,
                pidfile: None
            }
        );
        assert_eq!(
            parse(&[
                "restart",
                "-i",
                "img",
                "--detach",
                "--frozen",
                "--pidfile",
                "p"
            ])
            .unwrap(),
            Cmd::Restart {
                input: Some("img".into()),
                detach: true,
                frozen: true,
                map: false,
                pidfile: Some("p".into())
            }
        );
        assert_eq!(
            parse(&["restart", "--map", "-i", "img"]).unwrap(),
            Cmd::Restart {
                input: Some("img".into()),
                detach: false,
                frozen: false,
                map: true,
                pidfile: None
            }
        );
        assert_eq!(
            parse(&["restart", "--frozen", "--map"]).unwrap(),
            Cmd::Restart {
                input: None,
                detach: false,
                frozen: true,
                map: true,
                pidfile: None
            }
        );
        assert!(
            parse(&["restart", "--map=yes"]).is_err(),
            "--map takes no value"
        );
        assert!(parse(&["restart", "img"]).is_err(), "input goes with -i");
    }

    #[test]
    fn inspect() {
        assert_eq!(
            parse(&["inspect", "--json", "img"]).unwrap(),
            Cmd::Inspect {
                json: true,
                file: "img".into()
            }
        );
        assert!(parse(&["inspect"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn image_memfd_is_sealed_and_read_from_its_start() {
        let image: Vec<u8> = (0..3 * 4096 + 5).map(|i| i as u8).collect();
        let mut memfd = image_memfd(&image[1..]).unwrap();
        let seals = sys::seals(memfd.as_raw_fd()).unwrap();
        let all = MAP_SEALS | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        assert_eq!(seals & all, all, "seals {seals:#x}");
        let mut back = Vec::new();
        memfd.read_to_end(&mut back).unwrap();
        assert_eq!(back, image[1..]);
        assert!(memfd.write_all(b"x").is_err(), "sealed against writing");
        let null = File::open("/dev/null").unwrap();
        assert!(sys::seals(null.as_raw_fd()).is_err(), "not a memfd: copied");
    }

    #[test]
    fn exit_status_follows_the_shell() {
        assert_eq!(exit_status(3 << 8), 3);
        assert_eq!(exit_status(libc::SIGKILL), 128 + 9);
    }

    #[test]
    fn failure_line() {
        let f = Failure::io(
            "checkpoint 42",
            &io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        );
        assert_eq!(f.to_string(), "cr: checkpoint 42: Operation not supported");
    }
}
