//! `cargo xtask qemu-test [FILTER]`: boots the guest, runs `cr-harness` in it, then judges the
//! run on the host from the console: the harness's own verdict, its exit status, whether it got
//! to the end at all, and the kernel reports `console::scan` finds. Ends with one line
//! `N passed, N failed` in which each test that saw a kernel report counts as one more failed
//! test, `kernel-log (<test>)`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use xshell::Shell;

use crate::console::{self, Finding};
use crate::qemu::{self, BootOutcome};
use crate::{build_kernel, guest, setup};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run only the tests the harness selects with FILTER (passed to `cr-harness`).
    pub filter: Option<String>,
    /// Run the tests at full scale (`cr-harness --full`): more fuzz cases, more files, the
    /// costs CI's bounded form is too small to show.
    #[arg(long)]
    pub full: bool,
    /// Kill the guest after SECS seconds [default: 2700, 4800 with --full].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Boot this kernel image instead of building target/kernel/bzImage.
    #[arg(long, value_name = "BZIMAGE")]
    pub kernel: Option<PathBuf>,
}

/// kmemleak reports an object only once it survived two scans unchanged and is older than 5s,
/// so after the tests: wait, scan twice. `--verbose` on the kernel command line (see `qemu.rs`)
/// makes it print each leak on the console, where `console::scan` finds it.
pub const AFTER_TESTS: &str = "s=$?; if [ -w /sys/kernel/debug/kmemleak ]; then echo '# RUNNING kmemleak'; \
    sleep 6; echo scan >/sys/kernel/debug/kmemleak; echo scan >/sys/kernel/debug/kmemleak; fi; exit $s";

/// Installs what is missing, builds what is stale: the kernel to boot (`kernel`, or
/// target/kernel/bzImage) and the guest programs.
pub fn prepare(sh: &Shell, kernel: &Option<PathBuf>) -> Result<(PathBuf, guest::GuestBins)> {
    setup::run(sh)?;
    let kernel = match kernel {
        Some(kernel) => kernel.clone(),
        None => build_kernel::ensure_built(sh)?,
    };
    Ok((kernel, guest::build(sh)?))
}

pub fn run(sh: &Shell, args: &Args) -> Result<()> {
    let (kernel, bins) = prepare(sh, &args.kernel)?;
    let mut harness = "cr-harness".to_string();
    if args.full {
        harness += " --full";
    }
    if let Some(filter) = &args.filter {
        harness = format!("{harness} {}", shell_quote(filter));
    }
    let command = format!("{harness}; {AFTER_TESTS}");
    let default = if args.full { 4800 } else { 2700 };
    let timeout = Duration::from_secs(args.timeout.unwrap_or(default));
    let outcome = qemu::boot(sh, &kernel, &bins, &[], &command, timeout, "test")?;

    let verdict = judge(&outcome);
    println!(
        "\n==== qemu-test results (console log: {}) ====",
        outcome.log_path.display()
    );
    for line in ktap_lines(&outcome.console) {
        // The harness's own count comes again, amended, as the last line.
        match console::is_summary(line) {
            true => println!("# cr-harness: {line}"),
            false => println!("{line}"),
        }
    }
    for problem in &verdict.problems {
        println!("{problem}");
    }
    if verdict.skipped > 0 {
        println!("# {} skipped", verdict.skipped);
    }
    println!("{} passed, {} failed", verdict.passed, verdict.failed);
    if verdict.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// The host's reading of a test run.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    passed: u32,
    failed: u32,
    skipped: u32,
    /// KTAP-style `not ok - <what>` lines (with `# ` details) for failures the harness did not
    /// count itself: a crash or timeout, its exit status, kernel reports.
    problems: Vec<String>,
}

fn judge(out: &BootOutcome) -> Verdict {
    let user_lines: Vec<&str> = out
        .console
        .lines()
        .map(|l| console::split_kernel(l).0.trim_end())
        .collect();
    let summary = user_lines
        .iter()
        .rev()
        .find_map(|l| console::parse_summary(l));
    let mut problems = Vec::new();
    let (passed, mut failed, skipped) = match summary {
        Some(counts) => counts,
        None => {
            // No verdict from the harness: count the results it did print, plus the test
            // that was running when the guest went away.
            let count =
                |prefix: &str| user_lines.iter().filter(|l| l.starts_with(prefix)).count() as u32;
            let running = console::running_at_end(&out.console);
            let why = if out.timed_out {
                "timed out"
            } else {
                "stopped (crash or panic?)"
            };
            problems.push(format!(
                "not ok - {running}\n# the guest {why} while running `{running}`"
            ));
            (count("ok "), count("not ok ") + 1, 0)
        }
    };
    match (summary, out.exit) {
        (None, _) | (_, Some(0)) => {}
        (Some(_), Some(status)) if failed == 0 => {
            problems.push(format!(
                "not ok - cr-harness\n# exited with status {status}"
            ));
            failed += 1;
        }
        (Some(_), Some(_)) => {}
        (Some(_), None) => {
            let why = if out.timed_out {
                "timed out"
            } else {
                "stopped"
            };
            problems.push(format!(
                "not ok - after-tests\n# the guest {why} after the harness's summary"
            ));
            failed += 1;
        }
    }
    for (test, findings) in by_test(console::scan(&out.console)) {
        let mut text = format!("not ok - kernel-log ({test})");
        for f in findings {
            text.push_str(&format!(
                "\n# {}: console line {}: {}",
                f.kind, f.line_no, f.line
            ));
        }
        problems.push(text);
        failed += 1;
    }
    Verdict {
        passed,
        failed,
        skipped,
        problems,
    }
}

/// Findings grouped by test, tests in order of their first finding.
fn by_test(findings: Vec<Finding>) -> Vec<(String, Vec<Finding>)> {
    let mut groups: Vec<(String, Vec<Finding>)> = Vec::new();
    for f in findings {
        match groups.iter_mut().find(|(test, _)| *test == f.test) {
            Some((_, group)) => group.push(f),
            None => groups.push((f.test.clone(), vec![f])),
        }
    }
    groups
}

/// The harness's KTAP output (and its summary) from the console, kernel lines left out.
fn ktap_lines(console: &str) -> Vec<&str> {
    const STARTS: &[&str] = &["KTAP version", "TAP version", "1..", "ok ", "not ok ", "#"];
    console
        .lines()
        .map(|l| console::split_kernel(l).0.trim_end())
        .filter(|l| {
            let t = l.trim_start();
            (STARTS.iter().any(|s| t.starts_with(s)) && !t.starts_with("# RUNNING "))
                || console::is_summary(t)
        })
        .collect()
}

/// `s` as one word for `sh -c`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(crate::util::project_root().join("qemu/testdata").join(name))
            .unwrap()
    }

    #[test]
    fn clean_run_passes() {
        let v = judge(&BootOutcome::of(&fixture("clean.log"), Some(0), false));
        assert_eq!(
            v,
            Verdict {
                passed: 3,
                failed: 0,
                skipped: 0,
                problems: vec![]
            }
        );
    }

    #[test]
    fn kernel_reports_count_once_per_test() {
        let v = judge(&BootOutcome::of(
            &fixture("debug-reports.log"),
            Some(1),
            false,
        ));
        assert_eq!((v.passed, v.failed), (3, 1 + 4));
        let names: Vec<_> = v
            .problems
            .iter()
            .map(|p| p.lines().next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "not ok - kernel-log (files_dup_shared)",
                "not ok - kernel-log (pipe_buffered_data)",
                "not ok - kernel-log (signal_pending_rt)",
                "not ok - kernel-log (kmemleak)",
            ]
        );
    }

    #[test]
    fn crash_names_the_running_test() {
        let log = "KTAP version 1\n1..3\n# RUNNING a\nok 1 a\n# RUNNING b\n\
                   [    7.000000] Kernel panic - not syncing: Fatal exception\n";
        let v = judge(&BootOutcome::of(log, None, false));
        assert_eq!((v.passed, v.failed), (1, 2));
        assert!(
            v.problems[0].starts_with("not ok - b\n"),
            "{:?}",
            v.problems
        );
        assert_eq!(
            v.problems[1].lines().next(),
            Some("not ok - kernel-log (b)")
        );
    }

    #[test]
    fn timeout_and_bad_exit_status() {
        let v = judge(&BootOutcome::of("# RUNNING slow\n", None, true));
        assert_eq!((v.passed, v.failed), (0, 1));
        assert!(v.problems[0].contains("timed out while running `slow`"));
        let v = judge(&BootOutcome::of(
            "1 passed, 0 failed\nCR-EXIT=2\n",
            Some(2),
            false,
        ));
        assert_eq!((v.passed, v.failed), (1, 1));
    }

    #[test]
    fn ktap_is_echoed_without_kernel_lines() {
        let log = fixture("oops-in-test.log");
        let lines = ktap_lines(&log);
        assert_eq!(lines.first(), Some(&"KTAP version 1"));
        assert!(lines.contains(&"not ok 2 mm_private_anon"));
        assert!(lines.contains(&"# checkpoint: killed by signal 9"));
        assert_eq!(lines.last(), Some(&"2 passed, 1 failed"));
        assert!(!lines
            .iter()
            .any(|l| l.contains("RIP") || l.contains("RUNNING")));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("mm_*"), "'mm_*'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
