//! `cargo xtask bench`: checkpoint and restart times, measured in the guest on a kernel built
//! without the debugging options (`configs/bench.config` instead of `debug.config`). The 1 GiB
//! process is killed by its checkpoint before it is restarted, so the tests' 3 GiB guest holds
//! its image and its restored copy.
//!
//! The guest runs `cr-bench` (tests/src/bin/cr-bench.rs), which prints one `BENCH <name>
//! <value> <unit>` line per measurement: the guest's memcpy bandwidth and that of the image's
//! checksum, then for each memory size (`--mem`) the limits (writing that much from memory to a
//! tmpfs file, reading it back into fresh memory) and a process with every page written,
//! restarted from the image file, checkpointed again and restarted from a pipe, and
//! checkpointed into a sealed memfd and restarted by mapping its page data (`RESTART_MAP`),
//! checkpointed again and restarted from the file while the guest's free memory is sampled
//! (`restart-mem`, in MB: the most memory the restart used during the call beyond what it left
//! in use, its own memory, which should not grow with the image), and for sizes up to 64 MiB checkpointed and
//! restarted once more by the guest's `cr` commands, each timed whole, from its spawn to its exit
//! (`cr-checkpoint`, `cr-restart`; with `--mem 1,...`, the figures of the target "a 1 MiB process
//! checkpointed and restarted each under 10 ms"); for each tree size (`--tree`) a tree of sleeping
//! processes, for each socket size (`--sock`) a process whose unix socket pair holds that many
//! bytes, and for each count N (`--files`) a process holding N files of one kind, for each kind
//! (pipe, eventfd, timerfd, signalfd, epoll, memfd, unix socket pair, pty) and none: each
//! checkpointed with `CKPT_KILL` to tmpfs and restarted (the files 3 times each, the medians
//! reported, with what one file of each kind adds to the checkpoint and restart times and to the
//! image); then the memory, trees and sockets with CRIU (Debian's `criu`, installed on the host if
//! missing and copied into the guest with its libraries), dumped to and restored from tmpfs, unless
//! `--no-criu`. An empty list (`--mem ''`) leaves its benchmark out. The whole sequence runs
//! `--runs` times (5 by default).
//!
//! Each measure is reported as the median of its samples with their range, ours and CRIU's
//! side by side (a restart from a pipe or by mapping beside CRIU's one restore; the `cr`
//! commands beside CRIU's dump and restore, which are whole commands too), with ours as a
//! multiple of CRIU's and of its limit (the restart's memory has neither: CRIU's is not
//! measured). The results are kept in `target/bench/<time>.md`, every sample in `<time>.json`,
//! and a plot of time against size for each tool (times only) in `<time>.svg` (see `plot`);
//! where CRIU failed, its error is printed instead.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::util::target_dir;
use crate::{build_kernel, guest, plot, qemu, setup};

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
    /// Runs of the whole benchmark: each figure is the median of this many, with min and max.
    #[arg(long, default_value_t = 5)]
    runs: u32,
}

/// One `BENCH` line: one sample of a measure.
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

/// All the samples of one measure, in the order the runs gave them.
pub(crate) struct Stat {
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) samples: Vec<f64>,
}

impl Stat {
    /// The median (of an even count, the mean of the middle two).
    pub(crate) fn median(&self) -> f64 {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n % 2 {
            1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub(crate) fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub(crate) fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// The samples grouped by measure, in the order the measures first came.
fn stats(measures: &[Measure]) -> Vec<Stat> {
    let mut out: Vec<Stat> = Vec::new();
    for m in measures {
        match out.iter_mut().find(|s| s.name == m.name) {
            Some(s) => s.samples.push(m.value),
            None => out.push(Stat {
                name: m.name.clone(),
                unit: m.unit.clone(),
                samples: vec![m.value],
            }),
        }
    }
    out
}

/// The measure a measure of ours is bounded by: the copy of the same bytes in the same
/// direction (a checkpoint by `memN.copy-out`, a restart by `memN.copy-in`).
fn limit_of(name: &str) -> Option<String> {
    let (bench, what) = name.split_once('.')?;
    let limit = match what {
        "checkpoint" | "checkpoint-nosum" | "cr-checkpoint" => "copy-out",
        "restart" | "restart-pipe" | "restart-pipe-nosum" | "restart-map" | "cr-restart" => {
            "copy-in"
        }
        _ => return None,
    };
    bench
        .strip_prefix("mem")
        .map(|_| format!("{bench}.{limit}"))
}

/// CRIU's measure beside a measure of ours: the same name behind `criu:`, but CRIU's one
/// restore (`criu:memN.restart`) for our other restarts (from a pipe, by mapping, by the `cr`
/// command), and its dump (`criu:memN.checkpoint`) for our other checkpoints: CRIU's
/// figures are whole commands too.
fn criu_of(name: &str) -> String {
    match name.split_once('.') {
        Some((bench, "restart-pipe" | "restart-pipe-nosum" | "restart-map" | "cr-restart")) => {
            format!("criu:{bench}.restart")
        }
        Some((bench, "checkpoint-nosum" | "cr-checkpoint")) => format!("criu:{bench}.checkpoint"),
        _ => format!("criu:{name}"),
    }
}

/// The results as a Markdown table: one row per measure (`mem64.checkpoint`...), ours and
/// CRIU's (named `criu:<measure>`, see [`criu_of`]) side by side, each the median with the
/// range of the runs, then ours as a multiple of CRIU's and of its limit.
fn table(stats: &[Stat]) -> String {
    let mut out = String::from(
        "| benchmark | measure | linux-cr-rs | CRIU | / CRIU | / limit |\n|---|---|---|---|---|---|\n",
    );
    let find = |name: &str| stats.iter().find(|s| s.name == name);
    let show = |s: Option<&Stat>| match s {
        Some(s) if s.samples.len() > 1 => format!(
            "{:.3} {} ({:.3}-{:.3})",
            s.median(),
            s.unit,
            s.min(),
            s.max()
        ),
        Some(s) => format!("{:.3} {}", s.median(), s.unit),
        None => "-".into(),
    };
    let ratio = |a: &Stat, b: Option<&Stat>| match b {
        Some(b) if b.unit == a.unit && b.median() > 0.0 => {
            format!("{:.2}x", a.median() / b.median())
        }
        _ => String::new(),
    };
    for m in stats.iter().filter(|m| !m.name.starts_with("criu:")) {
        let criu = find(&criu_of(&m.name));
        let limit = limit_of(&m.name).and_then(|l| find(&l));
        let (bench, what) = m.name.split_once('.').unwrap_or((&m.name, ""));
        let _ = writeln!(
            out,
            "| {bench} | {what} | {} | {} | {} | {} |",
            show(Some(m)),
            show(criu),
            ratio(m, criu),
            ratio(m, limit)
        );
    }
    out
}

/// The results as JSON: each measure with its median, range and samples.
fn json(stats: &[Stat], kernel: &str, runs: u32) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = format!(
        "{{\n  \"kernel\": {},\n  \"runs\": {runs},\n  \"measures\": [",
        quote(kernel)
    );
    for (i, s) in stats.iter().enumerate() {
        let samples: Vec<String> = s.samples.iter().map(|v| format!("{v}")).collect();
        let _ = write!(
            out,
            "{}\n    {{\"name\": {}, \"unit\": {}, \"median\": {}, \"min\": {}, \"max\": {}, \"samples\": [{}]}}",
            if i == 0 { "" } else { "," },
            quote(&s.name),
            quote(&s.unit),
            s.median(),
            s.min(),
            s.max(),
            samples.join(", ")
        );
    }
    out.push_str("\n  ]\n}\n");
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
    if args.runs == 0 {
        bail!("--runs 0: at least one run");
    }
    let _ = write!(command, " --runs {}", args.runs);
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
    let stats = stats(&measures);
    let kernel = format!(
        "{} (production: -O2, full SLUB, lockup detectors); QEMU TCG, `-cpu max`, 2 CPUs, 3 GiB",
        CONFIGS.join(" + ")
    );
    let mut text = format!(
        "# cargo xtask bench\n\nKernel: {kernel}. Each figure: the median of {} runs (min-max).\n\n{}",
        args.runs,
        table(&stats)
    );
    for skip in skipped(&out.console) {
        let _ = writeln!(text, "\nNot measured: {skip}");
    }
    let dir = target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    let stamp = qemu::stamp_now();
    let kept = [
        ("md", text.clone()),
        ("json", json(&stats, &kernel, args.runs)),
        ("svg", plot::svg(&stats)),
    ];
    for (ext, body) in kept {
        let path = dir.join(format!("{stamp}.{ext}"));
        fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "\n{text}\n[xtask] kept in {}/{stamp}.{{md,json,svg}}",
        dir.display()
    );
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
        let t = table(&stats(&m));
        assert!(
            t.contains("| mem64 | checkpoint | 1.250 s | 3.500 s | 0.36x |  |"),
            "{t}"
        );
        assert!(t.contains("| memcpy |  | 900.000 MB/s | - |  |  |"), "{t}");
        assert!(!t.contains("criu:"), "{t}");
        assert_eq!(skipped(console), ["criu:tree10 criu dump.log: Error (x)"]);
    }

    #[test]
    fn runs_make_medians_with_their_range() {
        let console = "BENCH mem64.copy-in 0.2 s\nBENCH mem64.restart 0.5 s\nBENCH mem64.restart-pipe 0.3 s\n\
            BENCH mem64.copy-in 0.3 s\nBENCH mem64.restart 0.9 s\nBENCH mem64.restart-pipe 0.3 s\n\
            BENCH mem64.copy-in 0.25 s\nBENCH mem64.restart 0.6 s\n";
        let s = stats(&parse(console));
        assert_eq!(s.len(), 3);
        assert_eq!((s[1].median(), s[1].min(), s[1].max()), (0.6, 0.5, 0.9));
        // An even count: the mean of the middle two.
        assert_eq!(s[2].median(), 0.3);
        let t = table(&s);
        assert!(
            t.contains("| mem64 | restart | 0.600 s (0.500-0.900) | - |  | 2.40x |"),
            "{t}"
        );
        assert!(
            t.contains("| mem64 | restart-pipe | 0.300 s (0.300-0.300) | - |  | 1.20x |"),
            "{t}"
        );
        let j = json(&s, "k \"q\"", 3);
        assert!(j.contains("\"kernel\": \"k \\\"q\\\"\""), "{j}");
        assert!(
            j.contains("{\"name\": \"mem64.restart\", \"unit\": \"s\", \"median\": 0.6, \"min\": 0.5, \"max\": 0.9, \"samples\": [0.5, 0.9, 0.6]}"),
            "{j}"
        );
    }

    #[test]
    fn restarts_from_a_pipe_by_mapping_and_by_cr_stand_beside_criu_restore() {
        let console = "BENCH mem64.copy-out 0.1 s\nBENCH mem64.copy-in 0.2 s\n\
            BENCH mem64.checkpoint 0.15 s\nBENCH mem64.restart 0.5 s\n\
            BENCH mem64.restart-pipe 0.4 s\nBENCH mem64.restart-map 0.05 s\n\
            BENCH mem64.restart-mem 1.5 MB\n\
            BENCH mem64.cr-checkpoint 0.2 s\nBENCH mem64.cr-restart 0.6 s\n\
            BENCH criu:mem64.checkpoint 0.8 s\nBENCH criu:mem64.restart 0.5 s\n\
            BENCH tree10.restart 0.02 s\nBENCH mem1.cr-checkpoint 0.004 s\n";
        let s = stats(&parse(console));
        let t = table(&s);
        assert!(
            t.contains("| mem64 | cr-checkpoint | 0.200 s | 0.800 s | 0.25x | 2.00x |"),
            "{t}"
        );
        assert!(
            t.contains("| mem64 | cr-restart | 0.600 s | 0.500 s | 1.20x | 3.00x |"),
            "{t}"
        );
        // No CRIU, no limit: the row still stands.
        assert!(
            t.contains("| mem1 | cr-checkpoint | 0.004 s | - |  |  |"),
            "{t}"
        );
        assert_eq!(criu_of("mem64.cr-checkpoint"), "criu:mem64.checkpoint");
        assert_eq!(criu_of("mem64.cr-restart"), "criu:mem64.restart");
        assert!(
            t.contains("| mem64 | restart | 0.500 s | 0.500 s | 1.00x | 2.50x |"),
            "{t}"
        );
        assert!(
            t.contains("| mem64 | restart-pipe | 0.400 s | 0.500 s | 0.80x | 2.00x |"),
            "{t}"
        );
        assert!(
            t.contains("| mem64 | restart-map | 0.050 s | 0.500 s | 0.10x | 0.25x |"),
            "{t}"
        );
        assert!(
            t.contains("| tree10 | restart | 0.020 s | - |  |  |"),
            "{t}"
        );
        // The restart's memory: no CRIU figure (not CRIU's restore time), no limit.
        assert!(
            t.contains("| mem64 | restart-mem | 1.500 MB | - |  |  |"),
            "{t}"
        );
        assert_eq!(limit_of("mem64.restart-mem"), None);
        assert_eq!(criu_of("tree10.checkpoint"), "criu:tree10.checkpoint");
        let j = json(&s, "k", 1);
        assert!(
            j.contains("{\"name\": \"mem64.restart-map\", \"unit\": \"s\", \"median\": 0.05, \"min\": 0.05, \"max\": 0.05, \"samples\": [0.05]}"),
            "{j}"
        );
        // Every measure, ours and CRIU's, is in the JSON.
        for m in &s {
            assert!(j.contains(&format!("{{\"name\": \"{}\"", m.name)), "{j}");
        }
        assert!(
            j.contains("{\"name\": \"mem64.restart-mem\", \"unit\": \"MB\", \"median\": 1.5, \"min\": 1.5, \"max\": 1.5, \"samples\": [1.5]}"),
            "{j}"
        );
        assert!(
            j.contains("{\"name\": \"mem64.cr-restart\", \"unit\": \"s\", \"median\": 0.6, \"min\": 0.6, \"max\": 0.6, \"samples\": [0.6]}"),
            "{j}"
        );
    }

    #[test]
    fn lists_are_quoted_and_checked() {
        let args = |files: &str| Args {
            mem: String::new(),
            tree: "10,100".into(),
            sock: "16".into(),
            files: files.into(),
            no_criu: true,
            runs: 5,
        };
        assert_eq!(
            command(&args("256")).unwrap(),
            "cr-bench --mem '' --tree '10,100' --sock '16' --files '256' --runs 5"
        );
        assert!(command(&args("256,")).is_err());
        assert!(command(&args("x")).is_err());
        assert!(command(&args("1;reboot")).is_err());
    }
}
