//! `cargo xtask fuzz [--cases N] [--seed S] [--jobs J] [--case K]`: boots the guest and runs the
//! restart(2) fuzzer, `cr-fuzz` (tests/src/bin/cr-fuzz.rs), for N cases with seed S (from the
//! clock if not given, and printed), or case K of seed S alone, then the kmemleak scans
//! `qemu-test` does. With J > 1, J fuzzers side by side each run one shard of the N cases (a
//! fuzzer keeps about one and a half of the guest's two CPUs busy: two side by side ran 1.4
//! times as many cases a second). The run is judged on the host like `qemu-test`'s: the
//! fuzzers' exit status, whether the guest got to the end, and every kernel report
//! `console::scan` finds, each pinned on the case whose line came last before it (the fuzzer
//! prints one before each restart), or on the last J cases with J fuzzers.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use xshell::Shell;

use crate::console;
use crate::qemu::{self, BootOutcome};
use crate::test;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many cases to run.
    #[arg(long, default_value_t = 1000)]
    pub cases: u64,
    /// The seed [default: from the clock].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only case K of the seed (with its mutations and the kernel's log printed).
    #[arg(long, value_name = "K")]
    pub case: Option<u64>,
    /// Run J fuzzers side by side, each on its share of the cases.
    #[arg(long, value_name = "J", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    pub jobs: u64,
    /// Kill the guest after SECS seconds [default: scaled to the cases].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Boot this kernel image instead of building target/kernel/bzImage.
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
}

/// The guest's time besides the cases: boot, the base images and their intact restarts, the
/// kmemleak scans.
const FIXED_SECS: u64 = 300;
/// The time a case may take on the debug kernel under TCG (0.73 s on average, measured: see
/// tests/README.md), with room for a slower or busier machine.
const SECS_PER_CASE: u64 = 2;

pub fn run(sh: &Shell, args: &Args) -> Result<()> {
    let (kernel, bins) = test::prepare(sh, &args.kernel)?;
    let seed = args.seed.unwrap_or_else(clock_seed);
    let jobs = if args.case.is_some() { 1 } else { args.jobs };
    let (fuzz, cases) = match args.case {
        Some(k) => (format!("/tests/cr-fuzz --seed {seed} --case {k}"), 1),
        None if jobs == 1 => (
            format!("/tests/cr-fuzz --cases {} --seed {seed}", args.cases),
            args.cases,
        ),
        None => (shards(args.cases, seed, jobs), args.cases),
    };
    println!("[xtask] fuzz: seed {seed}, {cases} case(s), {jobs} fuzzer(s)");
    let command = format!("{fuzz}; {}", test::AFTER_TESTS);
    // Side by side, each fuzzer runs its cases more slowly than it would alone, but all of
    // them together still faster.
    let secs = args
        .timeout
        .unwrap_or(FIXED_SECS + cases.saturating_mul(SECS_PER_CASE) / jobs.min(2));
    let outcome = qemu::boot(
        sh,
        &kernel,
        &bins,
        &[],
        &command,
        Duration::from_secs(secs),
        "fuzz",
    )?;
    let verdict = judge(&outcome, jobs);
    println!(
        "\n==== fuzz results (seed {seed}; console log: {}) ====",
        outcome.log_path.display()
    );
    for line in &verdict.lines {
        println!("{line}");
    }
    if !verdict.clean {
        if args.case.is_none() {
            println!("replay one case: cargo xtask fuzz --seed {seed} --case K");
        }
        std::process::exit(1);
    }
    Ok(())
}

/// The guest's command for `jobs` fuzzers side by side: each in a directory of its own, the
/// status that of the first to fail.
fn shards(cases: u64, seed: u64, jobs: u64) -> String {
    let start: Vec<String> = (0..jobs)
        .map(|i| {
            format!(
                "/tests/cr-fuzz --cases {cases} --seed {seed} --shard {i}/{jobs} --dir /tmp/cr-fuzz/{i} & p{i}=$!"
            )
        })
        .collect();
    let wait: Vec<String> = (0..jobs).map(|i| format!("wait $p{i} || s=1")).collect();
    format!("{}; s=0; {}; (exit $s)", start.join("; "), wait.join("; "))
}

/// A seed from the clock: seconds and microseconds, kept to 12 digits.
fn clock_seed() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ((now.as_secs() << 20) ^ u64::from(now.subsec_micros())) % 1_000_000_000_000
}

/// The host's reading of a fuzzing run: the lines to show, and whether it was clean.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    clean: bool,
    lines: Vec<String>,
}

/// The case a console line announces: `# case K: ...` (the fuzzer on a terminal) or
/// `cr-fuzz: case K: ...` (under the harness, on /dev/console).
fn case_of(user: &str) -> Option<u64> {
    let t = user.trim();
    let rest = t
        .strip_prefix("# case ")
        .or_else(|| t.strip_prefix("cr-fuzz: case "))?;
    rest.split(':').next()?.parse().ok()
}

/// `case K` for the last case line before console line `line_no` (1-based), `case K or L`
/// for the last two with two fuzzers (`jobs`), or `cr-fuzz setup` if a fuzzer started but no
/// case did, or `boot`.
fn place(user_lines: &[&str], line_no: usize, jobs: u64) -> String {
    let before = &user_lines[..line_no.saturating_sub(1).min(user_lines.len())];
    let mut last: Vec<u64> = Vec::new();
    for k in before.iter().rev().filter_map(|l| case_of(l)) {
        if !last.contains(&k) {
            last.push(k);
        }
        if last.len() as u64 == jobs {
            break;
        }
    }
    if !last.is_empty() {
        let last: Vec<String> = last.iter().map(|k| k.to_string()).collect();
        return format!("case {}", last.join(" or "));
    }
    match before.iter().any(|l| l.contains("cr-fuzz: seed ")) {
        true => "cr-fuzz setup".into(),
        false => "boot".into(),
    }
}

/// `jobs` fuzzers ran side by side: each must print its summary.
fn judge(out: &BootOutcome, jobs: u64) -> Verdict {
    let user: Vec<&str> = out
        .console
        .lines()
        .map(|l| console::split_kernel(l).0.trim_end())
        .collect();
    let mut lines: Vec<String> = user
        .iter()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("FAIL: ") || t.starts_with("# replay: ") || t.starts_with("# cr-fuzz: ")
        })
        .map(|l| l.trim().to_string())
        .collect();
    // On stdout (`# cr-fuzz: ...`) and on the console (`cr-fuzz: ...`) under the harness.
    let summaries: std::collections::BTreeSet<&str> = user
        .iter()
        .filter_map(|l| l.trim().trim_start_matches("# ").strip_prefix("cr-fuzz: "))
        .filter(|l| l.contains(" cases, seed "))
        .collect();
    let summary = summaries.len() as u64 >= jobs;
    let mut clean = summary && out.exit == Some(0);
    match out.exit {
        Some(0) if summary => {}
        Some(0) => lines.push("not ok - cr-fuzz printed no summary".into()),
        Some(status) => lines.push(format!("not ok - cr-fuzz exited with status {status}")),
        None => {
            let why = if out.timed_out {
                "timed out"
            } else {
                "stopped (crash or panic?)"
            };
            let at = place(&user, user.len() + 1, jobs);
            lines.push(format!("not ok - the guest {why} during {at}"));
        }
    }
    for f in console::scan(&out.console) {
        clean = false;
        let at = match f.test.as_str() {
            "boot" => place(&user, f.line_no, jobs),
            test => test.to_string(),
        };
        lines.push(format!(
            "not ok - kernel report ({}) during {at}: console line {}: {}",
            f.kind, f.line_no, f.line
        ));
    }
    if clean && jobs > 1 {
        // The shards' cases together: `shard I/J: N cases, ...`.
        let total: u64 = summaries
            .iter()
            .filter_map(|l| l.split(": ").nth(1)?.split(' ').next()?.parse::<u64>().ok())
            .sum();
        lines.push(format!(
            "ok - cr-fuzz: {total} cases clean in {jobs} shards"
        ));
    } else if clean {
        lines.push("ok - cr-fuzz".into());
    }
    Verdict { clean, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "[    1.000000] Run /init as init process\n# cr-fuzz: seed 7, 3 cases\n";

    #[test]
    fn a_clean_run() {
        let log = format!(
            "{START}# case 0: tree #3 Task.pid=0 (was 70)\n# case 0: tree #3 Task.pid=0 (was 70) -> EINVAL\n\
             # case 1: anon del #4 Vma\n# case 2: anon cut at 0x40 of 0x2000\n\
             # cr-fuzz: 3 cases, seed 7, 3 refused (by errno: EINVAL 2, EBADMSG 1), 0 restored, 4 s\n\
             PASS: 3 cases clean (seed 7)\nCR-EXIT=0\n"
        );
        let v = judge(&BootOutcome::of(&log, Some(0), false), 1);
        assert!(v.clean, "{v:?}");
        assert_eq!(
            v.lines,
            [
                "# cr-fuzz: seed 7, 3 cases",
                "# cr-fuzz: 3 cases, seed 7, 3 refused (by errno: EINVAL 2, EBADMSG 1), 0 restored, 4 s",
                "ok - cr-fuzz"
            ]
        );
    }

    #[test]
    fn a_kernel_report_is_pinned_on_its_case() {
        let log = format!(
            "{START}# case 0: tree del #4 Vma\n# case 1: anon #9 Vma.start=0 (was 4096)\n\
             [    9.000000] BUG: KASAN: slab-use-after-free in restore_mm+0x1/0x2\n\
             [    9.100000] Kernel panic - not syncing: KASAN: panic_on_warn set ...\n"
        );
        let v = judge(&BootOutcome::of(&log, None, false), 1);
        assert!(!v.clean);
        assert!(
            v.lines.contains(
                &"not ok - the guest stopped (crash or panic?) during case 1".to_string()
            ),
            "{v:?}"
        );
        let reports: Vec<_> = v
            .lines
            .iter()
            .filter(|l| l.contains("kernel report"))
            .collect();
        assert_eq!(reports.len(), 2, "{v:?}");
        assert!(reports[0].starts_with(
            "not ok - kernel report (KASAN) during case 1: console line 5: BUG: KASAN"
        ));
    }

    #[test]
    fn two_fuzzers_side_by_side() {
        assert_eq!(
            shards(10, 7, 2),
            "/tests/cr-fuzz --cases 10 --seed 7 --shard 0/2 --dir /tmp/cr-fuzz/0 & p0=$!; \
             /tests/cr-fuzz --cases 10 --seed 7 --shard 1/2 --dir /tmp/cr-fuzz/1 & p1=$!; \
             s=0; wait $p0 || s=1; wait $p1 || s=1; (exit $s)"
        );
        let log = format!(
            "{START}# case 0: tree del #4 Vma\n# case 1: anon del #2 Regs\n\
             # cr-fuzz: shard 0/2: 1 cases, seed 7, 1 refused (by errno: EINVAL 1), 0 restored, 1 s\n\
             cr-fuzz: case 3: anon #9 Vma.start=0 (was 4096)\n\
             [    9.000000] BUG: KASAN: slab-use-after-free in restore_mm+0x1/0x2\n"
        );
        let v = judge(&BootOutcome::of(&log, None, false), 2);
        assert!(!v.clean);
        assert!(
            v.lines
                .iter()
                .any(|l| l.starts_with("not ok - kernel report (KASAN) during case 3 or 1:")),
            "{v:?}"
        );
        // One summary of two: not clean, even with a zero exit status.
        let log = format!(
            "{START}# cr-fuzz: shard 0/2: 1 cases, seed 7, 1 refused (by errno: EINVAL 1), 0 restored, 1 s\n\
             cr-fuzz: shard 0/2: 1 cases, seed 7, 1 refused (by errno: EINVAL 1), 0 restored, 1 s\nCR-EXIT=0\n"
        );
        let v = judge(&BootOutcome::of(&log, Some(0), false), 2);
        assert!(!v.clean, "{v:?}");
        let log = format!(
            "{START}# cr-fuzz: shard 0/2: 2 cases, seed 7, 2 refused (by errno: EINVAL 2), 0 restored, 1 s\n\
             # cr-fuzz: shard 1/2: 1 cases, seed 7, 0 refused (by errno: ), 1 restored, 1 s\nCR-EXIT=0\n"
        );
        let v = judge(&BootOutcome::of(&log, Some(0), false), 2);
        assert_eq!(
            v.lines.last().map(String::as_str),
            Some("ok - cr-fuzz: 3 cases clean in 2 shards")
        );
    }

    #[test]
    fn console_lines_of_the_harness_and_setup_reports() {
        assert_eq!(case_of("cr-fuzz: case 12: tree dup #3 Mm to #4"), Some(12));
        assert_eq!(case_of("# case 5: anon del #2 Regs -> EINVAL"), Some(5));
        assert_eq!(case_of("# cr-fuzz: seed 5, 10 cases"), None);
        let log = format!("{START}[    2.000000] WARNING: CPU: 0 PID: 70 at mm/x.c:1 f+0x1/0x2\n");
        let v = judge(&BootOutcome::of(&log, None, true), 1);
        assert!(
            v.lines
                .iter()
                .any(|l| l == "not ok - the guest timed out during cr-fuzz setup"),
            "{v:?}"
        );
        assert!(
            v.lines
                .iter()
                .any(|l| l.contains("(WARN) during cr-fuzz setup")),
            "{v:?}"
        );
    }

    #[test]
    fn a_failed_case_and_kmemleak() {
        let log = format!(
            "{START}# case 0: tree del #4 Vma\n# case 0: tree del #4 Vma -> NOT CLEAN\n\
             # cr-fuzz: 0 cases, seed 7, 0 refused (by errno: ), 0 restored, 1 s\n\
             FAIL: case 0 (seed 7, tree del #4 Vma): restart failed (EINVAL), and left pids [70] of the image behind\n\
             # replay: cr-fuzz --seed 7 --case 0; image kept in /tmp/cr-fuzz/case-0.img\n\
             # RUNNING kmemleak\n[   30.000000] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n\
             CR-EXIT=1\n"
        );
        let v = judge(&BootOutcome::of(&log, Some(1), false), 1);
        assert!(!v.clean);
        assert!(
            v.lines.iter().any(|l| l.starts_with("FAIL: case 0")),
            "{v:?}"
        );
        assert!(v.lines.iter().any(|l| l.starts_with("# replay: ")), "{v:?}");
        assert!(v
            .lines
            .contains(&"not ok - cr-fuzz exited with status 1".to_string()));
        assert!(
            v.lines
                .iter()
                .any(|l| l.contains("(kmemleak) during kmemleak")),
            "{v:?}"
        );
    }
}
