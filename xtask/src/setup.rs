//! `cargo xtask setup`: install what is missing, and nothing else.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

/// Debian packages the build, the guest and the tests need.
const PACKAGES: &[&str] = &[
    "linux-source-6.12",
    "clang",
    "lld",
    "llvm",
    "libclang-dev",
    "bc",
    "flex",
    "bison",
    "libelf-dev",
    "libssl-dev",
    "patch",
    "libc6-dev",
    "cpio",
    "busybox-static",
    "qemu-system-x86",
];

/// The bindgen the kernel's Rust support is known to work with here.
const BINDGEN_VERSION: &str = "0.73.2";

pub fn run(sh: &Shell) -> Result<()> {
    ensure_packages(sh, PACKAGES)?;
    let components = cmd!(sh, "rustup component list --installed")
        .quiet()
        .read()?;
    if !components.lines().any(|l| l.starts_with("rust-src")) {
        eprintln!("[setup] adding rust-src");
        cmd!(sh, "rustup component add rust-src").run()?;
    }
    let bindgen = cmd!(sh, "bindgen --version")
        .quiet()
        .ignore_status()
        .read()
        .unwrap_or_default();
    if !bindgen.contains(BINDGEN_VERSION) {
        eprintln!("[setup] installing bindgen-cli {BINDGEN_VERSION}");
        let spec = format!("bindgen-cli@{BINDGEN_VERSION}");
        cmd!(sh, "cargo install --locked --quiet {spec}").run()?;
    }
    Ok(())
}

/// Installs those of the Debian `packages` that are missing.
pub fn ensure_packages(sh: &Shell, packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !installed(sh, p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("[setup] installing Debian packages: {}", missing.join(" "));
    let install = &missing;
    cmd!(sh, "apt-get update -qq")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    cmd!(
        sh,
        "apt-get install -y -qq --no-install-recommends {install...}"
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .run()?;
    let still: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|p| !installed(sh, p))
        .collect();
    if !still.is_empty() {
        bail!("apt-get did not install: {}", still.join(" "));
    }
    Ok(())
}

fn installed(sh: &Shell, package: &str) -> bool {
    let format = "${Status}";
    cmd!(sh, "dpkg-query -W --showformat {format} {package}")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|s| s.ends_with("install ok installed"))
}
