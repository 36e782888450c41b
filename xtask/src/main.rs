//! `cargo xtask`: build the patched kernel, boot it in QEMU, run the guest tests.
//!
//! One file per command; every external tool runs through `xshell`.

mod bench;
mod build_kernel;
mod console;
mod demo;
mod fuzz;
mod guest;
mod initramfs;
mod lint;
mod plot;
mod qemu;
mod series;
mod setup;
mod test;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "linux-cr-rs build and test driver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing: Debian packages, rust-src, bindgen-cli (idempotent).
    Setup,
    /// Extract, patch, overlay, generate, configure and build the kernel.
    BuildKernel(build_kernel::Args),
    /// Boot the guest and run a command in it (or an interactive shell).
    QemuRun(qemu::RunArgs),
    /// Build what is stale, boot the guest and run the test programs in it.
    QemuTest(test::Args),
    /// Boot, start a program, checkpoint it, kill it, restart it.
    Demo,
    /// Write a `git am`-able patch series under target/series/.
    ExportSeries(series::Args),
    /// Measure checkpoint and restart times on a kernel without debugging options.
    Bench(bench::Args),
    /// Boot the guest and fuzz restart(2) with mutated real images (`cr-fuzz`).
    Fuzz(fuzz::Args),
    /// The kernel's Rust checks of the C/R crate: rustfmtcheck, clippy, rustdoc.
    LintKernel,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let sh = util::shell()?;
    match cli.cmd {
        Cmd::Setup => setup::run(&sh),
        Cmd::BuildKernel(args) => build_kernel::run(&sh, &args).map(|_| ()),
        Cmd::QemuRun(args) => qemu::run(&sh, &args),
        Cmd::QemuTest(args) => test::run(&sh, &args),
        Cmd::Demo => demo::run(&sh),
        Cmd::ExportSeries(args) => series::run(&sh, &args),
        Cmd::Bench(args) => bench::run(&sh, &args),
        Cmd::Fuzz(args) => fuzz::run(&sh, &args),
        Cmd::LintKernel => lint::run(&sh),
    }
}
