//! `cargo xtask bench`: checkpoint and restart times, measured in the guest on a kernel built
//! without the debugging options (`configs/bench.config` instead of `debug.config`). The 1 GiB
//! process is killed by its checkpoint before it is restarted, so the tests' 3 GiB guest holds
//! its image and its restored copy.
//!
//! The guest runs `cr-bench` (tests/src/bin/cr-bench.rs), which prints one `BENCH <name>
//! <value> <unit>` line per measurement: the guest's memcpy bandwidth and that of the image's
//! checksum, then for each memory size (`--mem`) the limits (writing that much from memory to
//! a tmpfs file, reading it back into fresh memory) and a process with every page written, for
//! each tree size (`--tree`) a tree of
//! sleeping processes, for each socket size (`--sock`) a process whose unix socket pair holds
//! that many bytes, and for each count N (`--files`) a process holding N files of one kind, for
//! each kind (pipe, eventfd, timerfd, signalfd, epoll, memfd, unix socket pair, pty) and none:
//! each checkpointed with `CKPT_KILL` to tmpfs and restarted (the files 3 times each, the
//! medians reported, with what one file of each kind adds to the checkpoint and restart times
//! and to the image); then the memory, trees and sockets with CRIU (Debian's `criu`, installed
//! on the host if missing and copied into the guest with its libraries), dumped to and
//! restored from tmpfs, unless `--no-criu`. An empty list (`--mem ''`) leaves its benchmark
//! out. The results are printed side by side and kept in `target/bench/<time>.md`; where
//! CRIU failed, its error is printed instead.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::util::target_dir;
use crate::{build_kernel, guest, qemu, setup};

/// The kernel's config fragments: the tested ones, minus the debugging options.
const CONFIGS: &[&str] = &["base", "checkpoint", "bench"];

/// Debian's CRIU, at the same path in the guest.
const CRIU: &str = "/usr/sbin/criu";

#[derive(clap::Args)]
pub struct Args {
    /// Memory sizes in MiB, comma-separated (each list may be empty: '' leaves it out).
    #[arg(long, default_value = "64,1024")]
    mem: String,
    /// Tree sizes in processes, comma-separated.
    #[arg(long, default_value = "10,100,1000")]
    tree: String,
    /// Bytes queued on a unix socket pair, in MiB, comma-separated.
    #[arg(long, default_value = "16")]
    sock: String,
    /// Files of each kind one process holds, comma-separated.
    #[arg(long, default_value = "256")]
    files: String,
    /// Leave CRIU out.
    #[arg(long)]
    no_criu: bool,
}

/// One `BENCH` line.
struct Measure {
    name: String,
    value: f64,
    unit: String,
}

fn parse(console: &str) -> Vec<Measure> {
    console
        .lines()
        .filter_map(|l| {
            let mut w = l.trim().strip_prefix("BENCH ")?.split_whitespace();
            let (name, value, unit) = (w.next()?, w.next()?.parse().ok()?, w.next()?);
            Some(Measure {
                name: name.into(),
                value,
                unit: unit.into(),
            })
        })
        .collect()
}

/// The results as a Markdown table: one row per measure (`mem64.checkpoint`...), ours and
/// CRIU's (named `criu:<measure>`) side by side.
fn table(measures: &[Measure]) -> String {
    let mut out = String::from("| benchmark | measure | linux-cr-rs | CRIU |\n|---|---|---|---|\n");
    let show = |m: Option<&Measure>| match m {
        Some(m) => format!("{:.3} {}", m.value, m.unit),
        None => "-".into(),
    };
    for m in measures.iter().filter(|m| !m.name.starts_with("criu:")) {
        let criu = measures
            .iter()
            .find(|c| c.name.strip_prefix("criu:") == Some(&m.name));
        let (bench, what) = m.name.split_once('.').unwrap_or((&m.name, ""));
        let _ = writeln!(
            out,
            "| {bench} | {what} | {} | {} |",
            show(Some(m)),
            show(criu)
        );
    }
    out
}

/// The `BENCH-SKIP` lines: what CRIU could not do, and why.
fn skipped(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter_map(|l| l.trim().strip_prefix("BENCH-SKIP "))
        .collect()
}

/// The guest's `cr-bench` command line (run by `sh -c`): each list quoted, so that an empty
/// one stays an argument.
fn command(args: &Args) -> Result<String> {
    let mut command = String::from("cr-bench");
    for (flag, list) in [
        ("--mem", &args.mem),
        ("--tree", &args.tree),
        ("--sock", &args.sock),
        ("--files", &args.files),
    ] {
        let mut numbers = list.split(',').filter(|_| !list.is_empty());
        if let Some(bad) = numbers.find(|n| n.parse::<u64>().is_err()) {
            bail!("{flag} {list:?}: {bad:?} is not a number");
        }
        let _ = write!(command, " {flag} '{list}'");
    }
    Ok(command)
}

pub fn run(sh: &Shell, args: &Args) -> Result<()> {
    let mut command = command(args)?;
    setup::run(sh)?;
    let configs: Vec<String> = CONFIGS.iter().map(|c| c.to_string()).collect();
    let kernel = build_kernel::build(sh, &configs, "bzImage-bench")?;
    let mut bins = guest::build(sh)?;
    if !args.no_criu {
        setup::ensure_packages(sh, &["criu"])?;
        bins.files
            .extend(guest::with_libraries(sh, Path::new(CRIU), CRIU)?);
        command += &format!(" --criu {CRIU}");
    }
    let out = qemu::boot(
        sh,
        &kernel,
        &bins,
        &[],
        &command,
        Duration::from_secs(3600),
        "bench",
    )?;
    let log = out.log_path.display();
    if out.exit != Some(0) {
        bail!("cr-bench failed (exit {:?}; log: {log})", out.exit);
    }
    let measures = parse(&out.console);
    if measures.is_empty() {
        bail!("cr-bench reported nothing (log: {log})");
    }
    let mut text = format!(
        "# cargo xtask bench\n\nKernel: {} (production: -O2, full SLUB, lockup detectors); QEMU TCG, `-cpu max`, 2 CPUs, 3 GiB.\n\n{}",
        CONFIGS.join(" + "),
        table(&measures)
    );
    for skip in skipped(&out.console) {
        let _ = writeln!(text, "\nNot measured: {skip}");
    }
    let dir = target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.md", qemu::stamp_now()));
    fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("\n{text}\n[xtask] kept in {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_make_rows() {
        let console = "[  1.0] boot\nBENCH mem64.checkpoint 1.250 s\r\nBENCH memcpy 900.000 MB/s\n\
            BENCH bad x\nBENCH criu:mem64.checkpoint 3.5 s\nBENCH-SKIP criu:tree10 criu dump.log: Error (x)\n";
        let m = parse(console);
        assert_eq!(m.len(), 3);
        let t = table(&m);
        assert!(
            t.contains("| mem64 | checkpoint | 1.250 s | 3.500 s |"),
            "{t}"
        );
        assert!(t.contains("| memcpy |  | 900.000 MB/s | - |"), "{t}");
        assert!(!t.contains("criu:"), "{t}");
        assert_eq!(skipped(console), ["criu:tree10 criu dump.log: Error (x)"]);
    }

    #[test]
    fn lists_are_quoted_and_checked() {
        let args = |files: &str| Args {
            mem: String::new(),
            tree: "10,100".into(),
            sock: "16".into(),
            files: files.into(),
            no_criu: true,
        };
        assert_eq!(
            command(&args("256")).unwrap(),
            "cr-bench --mem '' --tree '10,100' --sock '16' --files '256'"
        );
        assert!(command(&args("256,")).is_err());
        assert!(command(&args("x")).is_err());
        assert!(command(&args("1;reboot")).is_err());
    }
}
