//! Finds kernel problems (oops, BUG, WARN, KASAN, lockdep, kmemleak, stalls...) in a guest
//! console log and names the test that was running when each appeared.
//!
//! How a kernel line is told from user output: the guest is always booted with `printk.time=1`
//! (see `qemu.rs`), so every kernel message on the console starts with a `[    1.234567]`
//! timestamp, optionally followed by a `[    T42]` caller id (CONFIG_PRINTK_CALLER). Programs
//! don't print that, so text without it (a test's `# WARNING: ...` diagnostic, the harness's
//! KTAP) is never taken for a kernel report. A kernel message may start in the middle of a
//! console line when user output lacked its newline, so the timestamp is looked for anywhere in
//! the line: what precedes it is user output, what follows is kernel text.
//!
//! Only a report's headline counts (`WARNING: CPU: 1 PID: 7 at ...`, `BUG: KASAN: ...`), matched
//! at the start of the kernel text, so a boot message that merely mentions a word
//! (`Spectre V2 : WARNING: Unprivileged eBPF ...`) is not a finding, and the lines that follow a
//! headline (registers, `Call Trace:`, lock chains) belong to it. A `Call Trace:` with no
//! headline shortly before it is reported on its own: some stack dump we have no pattern for.
//!
//! Attribution: the harness prints `# RUNNING <name>` before each test; a finding belongs to the
//! last such name before it, to `boot` before any, and to `after-tests` once the harness printed
//! its `N passed, N failed` summary (unless a later `# RUNNING` names a new phase).

use std::fmt;

/// One kernel report found in a console log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of report this is, e.g. `WARN`, `KASAN`, `lockdep`.
    pub kind: &'static str,
    /// The test (or `boot`, `after-tests`) that was running when it appeared.
    pub test: String,
    /// 1-based line number in the console log.
    pub line_no: usize,
    /// The kernel text of the headline, without its timestamp.
    pub line: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} during {} (console line {}): {}",
            self.kind, self.test, self.line_no, self.line
        )
    }
}

/// Headline patterns: (kind, prefix of the kernel text). Order matters: the first match wins,
/// so the specific kinds come before the generic `BUG:` and `WARNING:`.
const STARTS: &[(&str, &str)] = &[
    ("KASAN", "BUG: KASAN:"),
    ("KFENCE", "BUG: KFENCE:"),
    ("soft lockup", "watchdog: BUG: soft lockup"),
    ("soft lockup", "BUG: soft lockup"),
    ("hard lockup", "watchdog: Watchdog detected hard LOCKUP"),
    ("lockdep", "WARNING: possible circular locking dependency"),
    ("lockdep", "WARNING: possible recursive locking"),
    ("lockdep", "WARNING: inconsistent lock state"),
    ("lockdep", "WARNING: possible irq lock inversion"),
    ("lockdep", "WARNING: bad unlock balance"),
    ("lockdep", "WARNING: held lock freed"),
    ("lockdep", "WARNING: lock held when returning to user space"),
    ("lockdep", "WARNING: suspicious RCU usage"),
    ("lockdep", "INFO: possible recursive locking"),
    ("lockdep", "INFO: possible circular locking"),
    ("lockdep", "INFO: trying to register non-static key"),
    ("hung task", "INFO: task "),
    ("RCU stall", "rcu: INFO: "),
    ("RCU stall", "INFO: rcu_"),
    ("kmemleak", "kmemleak: unreferenced object"),
    ("kmemleak", "kmemleak: Kernel memory leak detector disabled"),
    ("UBSAN", "UBSAN:"),
    ("BUG", "kernel BUG at"),
    ("BUG", "BUG:"),
    ("Oops", "Oops"),
    ("Oops", "general protection fault"),
    ("Oops", "invalid opcode:"),
    ("panic", "PANIC:"),
    ("panic", "Kernel panic"),
    ("WARN", "WARNING:"),
];

/// Found anywhere in the kernel text: reports whose headline carries a variable prefix.
const CONTAINS: &[(&str, &str)] = &[
    ("kmemleak", "new suspected memory leaks"),
    ("hung task", "blocked for more than"),
    ("RCU stall", "self-detected stall"),
    ("RCU stall", "detected stalls on CPUs"),
];

/// How many kernel lines after a headline a `Call Trace:` still belongs to it. Lockdep's
/// circular dependency report lists whole lock chains before its trace, hence the room.
const TRACE_WINDOW: usize = 300;

/// The harness's marker before each test.
const RUNNING: &str = "# RUNNING ";

/// Splits a console line into the user output before a kernel message and the kernel text
/// (timestamp and caller id removed), if the line holds a kernel message.
pub fn split_kernel(line: &str) -> (&str, Option<&str>) {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(off) = line[from..].find('[') {
        let start = from + off;
        if let Some(end) = timestamp_end(bytes, start) {
            let mut rest = &line[end..];
            if let Some(after) = caller_end(rest) {
                rest = &rest[after..];
            }
            return (&line[..start], Some(rest.strip_prefix(' ').unwrap_or(rest)));
        }
        from = start + 1;
    }
    (line, None)
}

/// If `bytes[start..]` begins with `[ <digits>.<6 digits>]`, the index after the `]`.
fn timestamp_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start || bytes.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i - frac_start == 6 && bytes.get(i) == Some(&b']')).then_some(i + 1)
}

/// If `s` begins with a CONFIG_PRINTK_CALLER id such as `[    T1]` or `[  C0]`, its length.
fn caller_end(s: &str) -> Option<usize> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find(']')?;
    let id = inner[..close].trim_start();
    let digits = id.strip_prefix('T').or_else(|| id.strip_prefix('C'))?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(close + 2)
}

/// Whether `s` is the harness's final `N passed, N failed[, N skipped]` line.
pub fn is_summary(s: &str) -> bool {
    parse_summary(s).is_some()
}

/// Parses `N passed, N failed` with an optional `, N skipped`: (passed, failed, skipped).
pub fn parse_summary(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.trim().split(", ");
    let count = |part: Option<&str>, word: &str| -> Option<u32> {
        part?.strip_suffix(word)?.strip_suffix(' ')?.parse().ok()
    };
    let passed = count(parts.next(), "passed")?;
    let failed = count(parts.next(), "failed")?;
    let skipped = match parts.next() {
        Some(p) => count(Some(p), "skipped")?,
        None => 0,
    };
    parts.next().is_none().then_some((passed, failed, skipped))
}

/// The kind of report `text` (kernel text of one line) is the headline of, if any.
fn classify(text: &str) -> Option<&'static str> {
    let text = text.trim_start();
    // SLUB debugging: `BUG kmalloc-64 (Not tainted): Poison overwritten`.
    let slub =
        text.starts_with("BUG ") && (text.contains("tainted):") || text.contains("(Tainted: "));
    if slub {
        return Some("slab corruption");
    }
    STARTS
        .iter()
        .find(|(_, p)| text.starts_with(p))
        .or_else(|| CONTAINS.iter().find(|(_, p)| text.contains(p)))
        .map(|(kind, _)| *kind)
}

/// Updates `test`, the phase being attributed, from one line of user output.
fn follow_harness(test: &mut String, user: &str) {
    let user = user.trim();
    if let Some(name) = user
        .find(RUNNING)
        .map(|at| user[at + RUNNING.len()..].trim())
    {
        if !name.is_empty() {
            *test = name.to_string();
        }
    } else if is_summary(user) {
        *test = String::from("after-tests");
    }
}

/// What a kernel report at the end of `log` would be attributed to: the test that was running
/// when the guest stopped, `boot` or `after-tests`.
pub fn running_at_end(log: &str) -> String {
    let mut test = String::from("boot");
    for line in log.lines() {
        follow_harness(&mut test, split_kernel(line).0);
    }
    test
}

/// Every kernel report in `log`, in order, each attributed to the test running at the time.
pub fn scan(log: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut test = String::from("boot");
    let mut kernel_lines = 0usize;
    let mut last_headline: Option<usize> = None;
    for (idx, raw) in log.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let (user, kernel) = split_kernel(line);
        follow_harness(&mut test, user);
        let Some(text) = kernel else { continue };
        kernel_lines += 1;
        let kind = classify(text).or_else(|| {
            let orphan = last_headline.is_none_or(|at| kernel_lines - at > TRACE_WINDOW);
            (text.trim_start().starts_with("Call Trace:") && orphan).then_some("stack dump")
        });
        if let Some(kind) = kind {
            last_headline = Some(kernel_lines);
            findings.push(Finding {
                kind,
                test: test.clone(),
                line_no: idx + 1,
                line: text.trim().to_string(),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = crate::util::project_root().join("qemu/testdata").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn clean_run_has_no_findings() {
        assert_eq!(scan(&fixture("clean.log")), vec![]);
    }

    #[test]
    fn oops_is_attributed_to_the_running_test() {
        let found = scan(&fixture("oops-in-test.log"));
        let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.test.as_str())).collect();
        assert_eq!(
            kinds,
            [("BUG", "mm_private_anon"), ("Oops", "mm_private_anon")]
        );
        assert!(found[0]
            .line
            .starts_with("BUG: kernel NULL pointer dereference"));
    }

    #[test]
    fn boot_warning_is_attributed_to_boot() {
        let found = scan(&fixture("warn-at-boot.log"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].kind, found[0].test.as_str()), ("WARN", "boot"));
        assert!(found[0].line.contains("kernel/checkpoint/image.rs"));
    }

    #[test]
    fn lockdep_kasan_and_kmemleak() {
        let found = scan(&fixture("debug-reports.log"));
        let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.test.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("lockdep", "files_dup_shared"),
                ("KASAN", "pipe_buffered_data"),
                ("hung task", "signal_pending_rt"),
                ("RCU stall", "signal_pending_rt"),
                ("kmemleak", "kmemleak"),
                ("kmemleak", "kmemleak"),
            ]
        );
    }

    #[test]
    fn user_output_is_not_a_kernel_report() {
        let log = "# RUNNING t\n# WARNING: expected\nBUG: in my own test\nOops, typo\n\
                   Call Trace: printed by a test\nok 1 t\n";
        assert_eq!(scan(log), vec![]);
    }

    #[test]
    fn kernel_text_after_unterminated_user_output() {
        let log = "# RUNNING t1\npartial[   12.000001] WARNING: CPU: 0 PID: 9 at x.c:1 f+0x1/0x2\n";
        let found = scan(log);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].test, "t1");
        assert_eq!(found[0].line_no, 2);
        assert!(found[0].line.starts_with("WARNING: CPU: 0"));
    }

    #[test]
    fn caller_id_and_carriage_returns() {
        let (user, kernel) = split_kernel("[    3.141592][  T123] BUG: sleeping function\r");
        assert_eq!(user, "");
        assert_eq!(kernel, Some("BUG: sleeping function\r"));
        let found = scan("[    3.141592][    C1] Kernel panic - not syncing: x\r\n");
        assert_eq!(found[0].kind, "panic");
    }

    #[test]
    fn summary_line() {
        assert_eq!(parse_summary("12 passed, 0 failed"), Some((12, 0, 0)));
        assert_eq!(
            parse_summary("3 passed, 1 failed, 2 skipped"),
            Some((3, 1, 2))
        );
        assert_eq!(parse_summary("3 passed"), None);
        assert_eq!(parse_summary("3 passed, 1 failed, x"), None);
    }

    #[test]
    fn test_running_when_the_log_ends() {
        assert_eq!(running_at_end("[    0.1] x\n"), "boot");
        assert_eq!(
            running_at_end("# RUNNING a\nok 1 a\n# RUNNING b\n[    9.000000] Kernel panic\n"),
            "b"
        );
        assert_eq!(running_at_end(&fixture("clean.log")), "after-tests");
    }

    #[test]
    fn slub_report() {
        let log = "[    5.000000] BUG kmalloc-64 (Not tainted): Poison overwritten\n\
                   [    5.000001] BUG task_struct (Tainted: G    B   ): Object already free\n";
        let kinds: Vec<_> = scan(log).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["slab corruption", "slab corruption"]);
    }

    #[test]
    fn stack_dump_without_headline() {
        let log =
            "# RUNNING t\n[    5.000000] CPU: 1 PID: 40 Comm: t\n[    5.000001] Call Trace:\n";
        let found = scan(log);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "stack dump");
    }
}
