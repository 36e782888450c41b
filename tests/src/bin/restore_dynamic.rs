//! A dynamically linked program (C, with the guest's ld.so and libc.so.6) survives checkpoint
//! and restart: its maps, heap, thread-local and global variables are unchanged and libc still
//! works afterwards. The program, `tests/c/dynamic_target.c`, checks itself.

use cr_tests::{fail, pass, Target};

/// Where the guest image has the program (see xtask/src/guest.rs); `$CR_DYNAMIC_TARGET`
/// overrides it.
const PROGRAM: &str = "/usr/libexec/cr-tests/dynamic_target";

fn main() {
    let program = std::env::var("CR_DYNAMIC_TARGET").unwrap_or_else(|_| PROGRAM.into());
    if !std::path::Path::new(&program).exists() {
        fail(format!(
            "{program} is missing: the guest image should ship it (xtask/src/guest.rs)"
        ));
    }
    let mut target = Target::exec(&program, &[]);
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", target.pid())).unwrap_or_default();
    for lib in ["libc.so.6", "ld-linux-x86-64.so.2"] {
        if !maps.lines().any(|l| l.ends_with(lib)) {
            target.fail(format!(
                "{program} has no {lib} mapped: not dynamically linked?"
            ));
        }
    }
    target.cycle();
    target.finish();
    pass("a dynamically linked program restored with its libraries");
}
