//! `cargo xtask qemu-run`, and the one place that knows how the guest is booted.
//!
//! The guest is the kernel plus an initramfs (see `initramfs.rs`) whose /init (`qemu/init`) runs
//! one command and prints `CR-EXIT=<status>` before powering off. Every boot's console goes to
//! the terminal as it comes and to `target/qemu/<time>-<what>.log` (copied to `latest.log`).

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::guest::GuestBins;
use crate::initramfs::{self, Extra};
use crate::util::target_dir;
use crate::{build_kernel, console, guest, setup};

/// `qemu-run`'s default limit for a command; the interactive shell has none unless asked.
const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// The kernel command line. `printk.time=1` is what `console.rs` tells kernel lines by;
/// `loglevel=5` shows warnings (WARN, lockdep) and worse but not the info chatter that would
/// drown the tests' output; `panic=-1` with QEMU's `-no-reboot` turns a panic into QEMU's exit.
/// `panic_on_warn=1 oops=panic`: a WARN or an oops ends the run where it happened, so that no
/// test can pass on a kernel that already went wrong. `no5lvl`: `-cpu max` has LA57, and with
/// 5-level paging an interrupt while `identify_cpu()` has cleared the boot CPU's feature bits
/// makes KASAN take 4-level limits and report a per-CPU access as wild (an early boot panic).
const KERNEL_CMDLINE: &str = "console=ttyS0 loglevel=5 printk.time=1 panic=-1 panic_on_warn=1 \
     oops=panic kmemleak.verbose=1 no5lvl";

/// The CPU model every run but a `qemu-run --cpu` uses: all TCG can do, the same everywhere.
const CPU: &str = "max";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Copy a host file or directory (recursively) into the guest at GUEST.
    #[arg(long = "add", value_name = "HOST:GUEST")]
    pub add: Vec<Extra>,
    /// Kill the guest after SECS seconds [default: 600 with a COMMAND, none for the shell].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Boot this kernel image instead of building target/kernel/bzImage.
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
    /// QEMU's CPU model, to try the code on a CPU without a feature (`max,-pku`).
    #[arg(long, value_name = "MODEL", default_value = CPU)]
    pub cpu: String,
    /// Run under `/bin/sh -c` in the guest (words joined by spaces); a shell if absent.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// What came of one guest boot.
#[derive(Debug)]
pub struct BootOutcome {
    /// The command's exit status, from the `CR-EXIT=` line; `None` if the guest never printed
    /// it (crash, panic, timeout).
    pub exit: Option<i32>,
    /// Whether the timeout expired and QEMU was killed.
    pub timed_out: bool,
    /// Where the console log was kept.
    pub log_path: PathBuf,
    /// The whole console output, carriage returns removed.
    pub console: String,
}

#[cfg(test)]
impl BootOutcome {
    /// A boot that printed `console`, for the judges' tests.
    pub fn of(console: &str, exit: Option<i32>, timed_out: bool) -> BootOutcome {
        BootOutcome {
            exit,
            timed_out,
            log_path: PathBuf::new(),
            console: console.to_string(),
        }
    }
}

pub fn run(sh: &Shell, args: &RunArgs) -> Result<()> {
    setup::run(sh)?;
    let kernel = match &args.kernel {
        Some(kernel) => kernel.clone(),
        None => build_kernel::ensure_built(sh)?,
    };
    let bins = guest::build(sh)?;
    if args.command.is_empty() {
        return interactive(
            sh,
            &kernel,
            &bins,
            &args.add,
            args.timeout.map(Duration::from_secs),
            &args.cpu,
        );
    }
    let timeout = Duration::from_secs(args.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let out = boot_on(
        sh,
        &kernel,
        &bins,
        &args.add,
        &args.command.join(" "),
        timeout,
        "run",
        &args.cpu,
    )?;
    for finding in console::scan(&out.console) {
        eprintln!("[xtask] kernel report: {finding}");
    }
    let log = out.log_path.display();
    if out.timed_out {
        bail!(
            "the guest did not finish within {}s; QEMU was killed (log: {log})",
            timeout.as_secs()
        );
    }
    match out.exit {
        Some(0) => Ok(()),
        Some(status) => {
            eprintln!("[xtask] the command exited with status {status} (log: {log})");
            std::process::exit(status)
        }
        None => {
            bail!("the guest stopped without reporting the command's status: crash? (log: {log})")
        }
    }
}

/// The guest's memory. (A bench kernel guest with more than 4 GiB was seen to hang under
/// TCG; 3 GiB holds a 1 GiB process's image and its restored copy.)
const MEMORY: &str = "3G";

/// Boots `kernel` with the guest programs and `extras`, runs `command` under `sh -c`, and
/// returns once the guest powered off or `timeout` expired (then QEMU is killed). The console is
/// streamed to stdout and kept in `target/qemu/<time>-<log_name>.log`.
pub fn boot(
    sh: &Shell,
    kernel: &Path,
    bins: &GuestBins,
    extras: &[Extra],
    command: &str,
    timeout: Duration,
    log_name: &str,
) -> Result<BootOutcome> {
    boot_on(sh, kernel, bins, extras, command, timeout, log_name, CPU)
}

/// [`boot`] on the CPU model `cpu`.
#[allow(clippy::too_many_arguments)]
fn boot_on(
    sh: &Shell,
    kernel: &Path,
    bins: &GuestBins,
    extras: &[Extra],
    command: &str,
    timeout: Duration,
    log_name: &str,
    cpu: &str,
) -> Result<BootOutcome> {
    if !kernel.is_file() {
        bail!("no kernel image at {}", kernel.display());
    }
    let initrd = Initrd::new(log_name);
    initramfs::build(sh, bins, extras, Some(command), &initrd.0)?;
    run_captured(sh, kernel, &initrd.0, new_log_path(log_name)?, timeout, cpu)
}

/// The initramfs of one boot, removed when the boot is done, however it ends: one per
/// process, as two runs at once would otherwise boot each other's command.
struct Initrd(PathBuf);

impl Initrd {
    fn new(what: &str) -> Initrd {
        let name = format!("qemu/initramfs-{what}-{}.cpio", std::process::id());
        Initrd(target_dir().join(name))
    }
}

impl Drop for Initrd {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Copies the console log `log_path` to `latest.log`, whole even if another boot does too.
fn copy_to_latest(log_path: &Path) -> Result<()> {
    let latest = log_path.with_file_name("latest.log");
    let part = log_path.with_file_name(format!("latest.log.{}", std::process::id()));
    fs::copy(log_path, &part)?;
    fs::rename(&part, &latest)?;
    Ok(())
}

/// SysRq keys sent to a guest that did not finish in time: every message to the console
/// (`9`, or the tasks' lines are below the console's level), its tasks and their stacks
/// (`t`), those blocked (`w`), and what each CPU runs (`l`).
const SYSRQ_ON_TIMEOUT: &[u8] = b"9twl";

/// Asks the guest's kernel where its tasks are, as a serial console's break and SysRq key
/// do: a hung guest then shows what it waits for. QEMU's mux sends a break on Ctrl-A b.
fn dump_guest_tasks(child: &mut std::process::Child) {
    let Some(stdin) = child.stdin.as_mut() else {
        return;
    };
    for &key in SYSRQ_ON_TIMEOUT {
        if stdin
            .write_all(&[0x01, b'b', key])
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return;
        }
        // Each dump goes out at the serial line's pace.
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// Boots `kernel` with the initramfs `initrd` until the guest powers off or `timeout`
/// passes, with the console captured to `log_path`; on timeout, the guest's tasks are
/// dumped first.
fn run_captured(
    sh: &Shell,
    kernel: &Path,
    initrd: &Path,
    log_path: PathBuf,
    timeout: Duration,
    cpu: &str,
) -> Result<BootOutcome> {
    let mut log =
        fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;

    let args = qemu_args(kernel, initrd, MEMORY, cpu, ConsoleMode::Captured);
    let mut qemu: Command = cmd!(sh, "qemu-system-x86_64 {args...}").into();
    let mut child = qemu
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64 (is it installed? `cargo xtask setup`)")?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    // Copies the console to the terminal and the log as it comes, so that a hang shows
    // where it is and the log survives even if we are interrupted.
    let tee = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stdout.read(&mut buf)?;
            if n == 0 {
                return Ok(all);
            }
            let chunk = &buf[..n];
            let mut term = std::io::stdout().lock();
            term.write_all(chunk)?;
            term.flush()?;
            let clean: Vec<u8> = chunk.iter().copied().filter(|&b| b != b'\r').collect();
            log.write_all(&clean)?;
            all.extend_from_slice(&clean);
        }
    });

    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            dump_guest_tasks(&mut child);
            // The kill may race with QEMU's own exit; either way `wait` reaps it.
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let bytes = tee
        .join()
        .expect("console thread panicked")
        .context("copying the console")?;
    let console = String::from_utf8_lossy(&bytes).into_owned();
    copy_to_latest(&log_path)?;
    if timed_out {
        eprintln!(
            "\n[xtask] timeout: killed QEMU after {}s",
            timeout.as_secs()
        );
    } else if !status.success() {
        bail!(
            "qemu-system-x86_64 failed ({status}); console log: {}",
            log_path.display()
        );
    }
    Ok(BootOutcome {
        exit: parse_exit(&console),
        timed_out,
        log_path,
        console,
    })
}

/// A shell on the console, with QEMU's monitor muxed in (Ctrl-A c) and the session logged.
fn interactive(
    sh: &Shell,
    kernel: &Path,
    bins: &GuestBins,
    extras: &[Extra],
    timeout: Option<Duration>,
    cpu: &str,
) -> Result<()> {
    let initrd = Initrd::new("shell");
    initramfs::build(sh, bins, extras, None, &initrd.0)?;
    let log_path = new_log_path("shell")?;
    eprintln!(
        "[xtask] guest shell: `exit` or Ctrl-A x quits; log: {}",
        log_path.display()
    );
    let args = qemu_args(
        kernel,
        &initrd.0,
        MEMORY,
        cpu,
        ConsoleMode::Interactive { log: &log_path },
    );
    let mut qemu: Command = cmd!(sh, "qemu-system-x86_64 {args...}").into();
    let mut child = qemu.spawn().context("starting qemu-system-x86_64")?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            child.wait()?;
            bail!(
                "timeout: killed QEMU after {}s",
                timeout.unwrap_or_default().as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if log_path.exists() {
        copy_to_latest(&log_path)?;
    }
    if !status.success() {
        bail!("qemu-system-x86_64 failed ({status})");
    }
    Ok(())
}

/// How the serial console is wired.
enum ConsoleMode<'a> {
    /// To QEMU's stdout, for us to stream and parse; input only to send the guest a magic
    /// SysRq (QEMU's monitor is muxed in, for its break key).
    Captured,
    /// To the terminal, monitor muxed in, QEMU writing the log itself.
    Interactive { log: &'a Path },
}

/// The QEMU command line, all of it: two CPUs so that races in the C/R code can show, TCG so
/// that every machine (CI included) runs the same CPU model.
fn qemu_args(
    kernel: &Path,
    initrd: &Path,
    memory: &str,
    cpu: &str,
    mode: ConsoleMode<'_>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-accel",
        "tcg",
        "-cpu",
        cpu,
        "-smp",
        "2",
        "-m",
        memory,
        "-no-reboot",
        "-display",
        "none",
        "-kernel",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(kernel.into());
    args.push("-initrd".into());
    args.push(initrd.into());
    args.push("-append".into());
    args.push(KERNEL_CMDLINE.into());
    match mode {
        ConsoleMode::Captured => {
            args.extend(
                [
                    "-chardev",
                    "stdio,id=con,mux=on,signal=off",
                    "-serial",
                    "chardev:con",
                    "-mon",
                    "chardev=con,mode=readline",
                ]
                .map(OsString::from),
            );
        }
        ConsoleMode::Interactive { log } => {
            let mut chardev = OsString::from("stdio,id=con,mux=on,signal=off,logfile=");
            chardev.push(log);
            args.extend([
                "-chardev".into(),
                chardev,
                "-serial".into(),
                "chardev:con".into(),
                "-mon".into(),
                "chardev=con,mode=readline".into(),
            ]);
        }
    }
    args
}

/// The status in the last `CR-EXIT=<n>` marker of /init; the last, since the command's own
/// output comes before it.
fn parse_exit(console: &str) -> Option<i32> {
    let at = console.rfind("CR-EXIT=")? + "CR-EXIT=".len();
    let digits: String = console[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `target/qemu/<UTC time>-<what>.log`, made empty for this boot alone (a suffix if two
/// boots share a second).
fn new_log_path(what: &str) -> Result<PathBuf> {
    let dir = target_dir().join("qemu");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = stamp_now();
    let mut path = dir.join(format!("{stamp}-{what}.log"));
    let mut n = 1;
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                n += 1;
                path = dir.join(format!("{stamp}-{what}-{n}.log"));
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

/// `YYYYMMDD-HHMMSS` in UTC for seconds since the epoch (Howard Hinnant's civil-from-days).
/// The current UTC time as `YYYYMMDD-HHMMSS`, for file names.
pub fn stamp_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_stamp(secs)
}

fn utc_stamp(secs: u64) -> String {
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("{year:04}{month:02}{day:02}-{h:02}{m:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_marker() {
        assert_eq!(
            parse_exit("hello\nCR-EXIT=0\n[ 1.000000] reboot: Restarting system\n"),
            Some(0)
        );
        assert_eq!(
            parse_exit("echo CR-EXIT=3 from a test\nno newlineCR-EXIT=127\n"),
            Some(127)
        );
        assert_eq!(parse_exit("[ 2.000000] Kernel panic - not syncing\n"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        assert_eq!(utc_stamp(1_767_225_599), "20251231-235959");
    }

    #[test]
    fn command_line_wires_the_console() {
        let args = qemu_args(
            Path::new("bz"),
            Path::new("rd"),
            MEMORY,
            CPU,
            ConsoleMode::Captured,
        );
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
        assert_eq!(
            (after("-kernel"), after("-initrd"), after("-serial")),
            ("bz", "rd", "chardev:con")
        );
        // The console and the monitor, for SysRq on a timeout, share stdio.
        assert!(after("-chardev").starts_with("stdio,id=con,mux=on"));
        assert_eq!(after("-mon"), "chardev=con,mode=readline");
        assert!(after("-append").contains("printk.time=1"));
    }
}
