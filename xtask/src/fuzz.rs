//! `cargo xtask fuzz [--cases N] [--seed S] [--case K]`: boots the guest and runs the restart(2)
//! fuzzer, `cr-fuzz` (tests/src/bin/cr-fuzz.rs), for N cases with seed S (from the clock if not
//! given, and printed), or case K of seed S alone, then the kmemleak scans `qemu-test` does.
//! The run is judged on the host like `qemu-test`'s: the fuzzer's exit status, whether the guest
//! got to the end, and every kernel report `console::scan` finds, each pinned on the case whose
//! line came last before it (the fuzzer prints one before each restart).

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
    let (fuzz, cases) = match args.case {
        Some(k) => (format!("/tests/cr-fuzz --seed {seed} --case {k}"), 1),
        None => (
            format!("/tests/cr-fuzz --cases {} --seed {seed}", args.cases),
            args.cases,
        ),
    };
    println!("[xtask] fuzz: seed {seed}, {cases} case(s)");
    let command = format!("{fuzz}; {}", test::AFTER_TESTS);
    let secs = args
        .timeout
        .unwrap_or(FIXED_SECS + cases.saturating_mul(SECS_PER_CASE));
    let outcome = qemu::boot(
        sh,
        &kernel,
        &bins,
        &[],
        &command,
        Duration::from_secs(secs),
        "fuzz",
    )?;
    let verdict = judge(&outcome);
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

/// `case K` for the last case line before console line `line_no` (1-based), or `cr-fuzz
/// setup` if the fuzzer started but no case did, or `boot`.
fn place(user_lines: &[&str], line_no: usize) -> String {
    let before = &user_lines[..line_no.saturating_sub(1).min(user_lines.len())];
    if let Some(k) = before.iter().rev().find_map(|l| case_of(l)) {
        return format!("case {k}");
    }
    match before.iter().any(|l| l.contains("cr-fuzz: seed ")) {
        true => "cr-fuzz setup".into(),
        false => "boot".into(),
    }
}

fn judge(out: &BootOutcome) -> Verdict {
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
    let summary = user
        .iter()
        .any(|l| l.contains("cr-fuzz: ") && l.contains(" cases, seed "));
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
            let at = place(&user, user.len() + 1);
            lines.push(format!("not ok - the guest {why} during {at}"));
        }
    }
    for f in console::scan(&out.console) {
        clean = false;
        let at = match f.test.as_str() {
            "boot" => place(&user, f.line_no),
            test => test.to_string(),
        };
        lines.push(format!(
            "not ok - kernel report ({}) during {at}: console line {}: {}",
            f.kind, f.line_no, f.line
        ));
    }
    if clean {
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
        let v = judge(&BootOutcome::of(&log, Some(0), false));
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
        let v = judge(&BootOutcome::of(&log, None, false));
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
    fn console_lines_of_the_harness_and_setup_reports() {
        assert_eq!(case_of("cr-fuzz: case 12: tree dup #3 Mm to #4"), Some(12));
        assert_eq!(case_of("# case 5: anon del #2 Regs -> EINVAL"), Some(5));
        assert_eq!(case_of("# cr-fuzz: seed 5, 10 cases"), None);
        let log = format!("{START}[    2.000000] WARNING: CPU: 0 PID: 70 at mm/x.c:1 f+0x1/0x2\n");
        let v = judge(&BootOutcome::of(&log, None, true));
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
        let v = judge(&BootOutcome::of(&log, Some(1), false));
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
