//! `counter`: the demo's program, not a test (the guest has it in /bin, see xtask/src/guest.rs).
//! Prints 1, 2, 3... on standard output, one line a second, until killed. `qemu/demo.sh` runs
//! it with its output in a file, checkpoints it, kills it, restarts it and shows that the
//! count goes on where it was.

use std::io::Write;
use std::time::Duration;

fn main() {
    let mut out = std::io::stdout().lock();
    for n in 1u64.. {
        if writeln!(out, "{n}").and_then(|()| out.flush()).is_err() {
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
