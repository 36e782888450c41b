//! `cargo xtask demo`: boot the guest and run `qemu/demo.sh` in it, the README's walk-through.

use std::time::Duration;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::initramfs::Extra;
use crate::util::project_root;
use crate::{build_kernel, guest, qemu, setup};

const GUEST_SCRIPT: &str = "/root/demo.sh";

pub fn run(sh: &Shell) -> Result<()> {
    setup::run(sh)?;
    let kernel = build_kernel::ensure_built(sh)?;
    let bins = guest::build(sh)?;
    let script = Extra {
        host: project_root().join("qemu/demo.sh"),
        guest: GUEST_SCRIPT.into(),
    };
    let command = format!("sh {GUEST_SCRIPT}");
    let out = qemu::boot(
        sh,
        &kernel,
        &bins,
        &[script],
        &command,
        Duration::from_secs(600),
        "demo",
    )?;
    let log = out.log_path.display();
    match out.exit {
        Some(0) => {
            eprintln!("\n[xtask] demo done (log: {log})");
            Ok(())
        }
        Some(status) => bail!("the demo failed with status {status} (log: {log})"),
        None if out.timed_out => bail!("the demo timed out (log: {log})"),
        None => bail!("the guest stopped before the demo ended (log: {log})"),
    }
}
