//! `cargo xtask lint-kernel`: the kernel's own checks of its Rust code, over the C/R crate
//! and the abstractions it adds to the `kernel` crate: `make rustfmtcheck`, a build of both
//! crates under clippy (`CLIPPY=1`, with the kernel's lint set) and `make rustdoc`, each
//! without a warning. Kbuild documents only the crates under rust/: `rustdoc` covers the
//! abstractions, not the C/R crate, a kernel object.
//!
//! It runs on the default kernel, built first if stale. The crates compiled under clippy are
//! compiled again by the next build: run it after the tests that boot that kernel.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::build_kernel;
use crate::util::Phase;

/// The crate roots compiled again under clippy: the `kernel` crate and the C/R crate.
const CRATE_ROOTS: &[&str] = &["rust/kernel/lib.rs", "kernel/checkpoint/checkpoint.rs"];

pub fn run(sh: &Shell) -> Result<()> {
    build_kernel::ensure_built(sh)?;
    let src = build_kernel::source_dir();
    let build = build_kernel::build_dir(&[])?;
    let o = format!("O={}", build.display());
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let _d = sh.push_dir(&src);
    check(sh, &build, "rustfmtcheck", &["rustfmtcheck"], &o, &jobs)?;
    // Kbuild compiles a crate under clippy-driver only when it compiles it at all.
    for root in CRATE_ROOTS {
        touch(&src.join(root))?;
    }
    check(
        sh,
        &build,
        "clippy",
        &["CLIPPY=1", "rust/", "kernel/checkpoint/"],
        &o,
        &jobs,
    )?;
    check(sh, &build, "rustdoc", &["rustdoc"], &o, &jobs)?;
    Ok(())
}

/// Runs `make` with `args` in the build directory; fails if it fails or warns, with the
/// warnings and errors it printed (all of its output in `lint-<name>.log` there).
fn check(sh: &Shell, build: &Path, name: &str, args: &[&str], o: &str, jobs: &str) -> Result<()> {
    let _p = Phase::start(name);
    let out = cmd!(sh, "make {o} LLVM=1 {jobs} {args...}")
        .quiet()
        .ignore_status()
        .output()?;
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    let log = build.join(format!("lint-{name}.log"));
    fs::write(&log, &text)?;
    let text = String::from_utf8_lossy(&text);
    let found: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("warning") || l.starts_with("error") || l.starts_with("Diff in"))
        .collect();
    if !out.status.success() || !found.is_empty() {
        let shown: Vec<&str> = found.iter().take(40).copied().collect();
        bail!(
            "make {name}: {} (full log: {}):\n{}",
            if out.status.success() {
                "warnings"
            } else {
                "failed"
            },
            log.display(),
            shown.join("\n")
        );
    }
    Ok(())
}

/// Sets the modification time of `path` to now.
fn touch(path: &Path) -> Result<()> {
    fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("touching {}", path.display()))
}
