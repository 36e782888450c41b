//! On a kernel without checkpoint/restart (no `/sys/kernel/checkpoint/abi`), `cr` must not issue
//! syscalls 463/464, which belong to other syscalls there (`setxattrat`/`getxattrat` on 6.13+):
//! `checkpoint` and `restart` fail with one plain line and `check` probes nothing.
//!
//! Runs the built binary on the host; skipped where the host itself has C/R.

use std::process::{Command, Output};

/// Whether the host has C/R, in which case there is nothing to test here.
fn host_has_cr(test: &str) -> bool {
    let has = std::path::Path::new(cr::check::SYSFS_ABI).exists();
    if has {
        eprintln!(
            "{test}: skipped, {} exists on this host",
            cr::check::SYSFS_ABI
        );
    }
    has
}

fn run_cr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cr"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cr")
}

/// Checks that `cr ARGS` exited 1 with exactly one stderr line `cr: WHAT: ...no checkpoint/restart
/// (SYSFS_ABI: ...)`, and nothing from the kernel before it.
fn expect_no_cr_failure(args: &[&str], what: &str) -> Output {
    let out = run_cr(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("cr {}: {:?}, stderr {stderr:?}", args.join(" "), out.status);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{shown}");
    let want_start = format!("cr: {what}: the running kernel (");
    assert!(lines[0].starts_with(&want_start), "{shown}");
    let want_end = format!(") has no checkpoint/restart ({}: ", cr::check::SYSFS_ABI);
    assert!(lines[0].contains(&want_end), "{shown}");
    out
}

#[test]
fn checkpoint_refuses_without_kernel_support() {
    if host_has_cr("checkpoint_refuses_without_kernel_support") {
        return;
    }
    expect_no_cr_failure(&["checkpoint", "1"], "checkpoint 1");
    // Refused before anything is done: not even the output file is created.
    let dir = std::env::temp_dir().join(format!("cr-no-kernel-support-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let img = dir.join("img");
    let img_arg = img.to_str().expect("utf-8 temp path");
    expect_no_cr_failure(&["checkpoint", "-o", img_arg, "1"], "checkpoint 1");
    let created = img.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!created, "cr checkpoint -o created {img_arg}");
}

#[test]
fn restart_refuses_without_kernel_support() {
    if host_has_cr("restart_refuses_without_kernel_support") {
        return;
    }
    expect_no_cr_failure(&["restart", "-i", "/dev/null"], "restart");
}

#[test]
fn check_probes_nothing_without_kernel_support() {
    if host_has_cr("check_probes_nothing_without_kernel_support") {
        return;
    }
    let out = expect_no_cr_failure(&["check"], "check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        format!(
            "checkpoint: syscall {} not probed: no checkpoint/restart in this kernel",
            abi::NR_CHECKPOINT
        ),
        format!(
            "restart:    syscall {} not probed: no checkpoint/restart in this kernel",
            abi::NR_RESTART
        ),
        "supported:  no".to_string(),
    ] {
        assert!(
            stdout.lines().any(|l| l == want),
            "cr check printed no line {want:?}: {stdout}"
        );
    }
}
