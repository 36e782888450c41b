//! A tree of 1000 processes is checkpointed and restarted whole.
//!
//! ```text
//! root                 the target
//! └── 9 × child        each in a process group of its own
//!     └── 110 × leaf   in their parent's group
//! ```
//!
//! After the restart every process checks its parent, process group and session, wakes its
//! children and checks their exit statuses; the root gets every child's. The test prints how
//! long the checkpoint and the restart took (on the debug kernel the tests run on: the
//! benchmark, `cargo xtask bench`, measures them without debug options).

use std::time::Instant;

use cr_tests::tree::{check_ids, descendants, ids, wait_gone, wake_and_reap, Ready};
use cr_tests::{check_os, pass, wait_restored, Check, Target, KILL};

const CHILDREN: usize = 9;
const LEAVES: usize = 110;

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let mut children = Vec::with_capacity(CHILDREN);
    for _ in 0..CHILDREN {
        children.push(ready.fork(21, |ready| {
            // SAFETY: changes only the caller's own process group.
            check_os(unsafe { libc::setpgid(0, 0) }, "setpgid(0, 0)")?;
            let mut leaves = Vec::with_capacity(LEAVES);
            for _ in 0..LEAVES {
                leaves.push(ready.fork(22, |_| {
                    let want = ids();
                    Ok(move || check_ids(want))
                })?);
            }
            let want = ids();
            Ok(move || {
                check_ids(want)?;
                wake_and_reap(&leaves)
            })
        })?);
    }
    ready.wait(CHILDREN * (1 + LEAVES))?;
    let want = ids();
    Ok(move || {
        wait_restored();
        check_ids(want)?;
        wake_and_reap(&children)
    })
}

fn main() {
    let start = Instant::now();
    let mut target = Target::spawn(setup);
    let kids = descendants(target.pid());
    if kids.len() != CHILDREN * (1 + LEAVES) {
        target.fail(format!("the target has {} descendants", kids.len()));
    }
    println!("# set up in {:.2} s", start.elapsed().as_secs_f64());
    let start = Instant::now();
    target.checkpoint(KILL);
    let checkpointed = start.elapsed();
    // The killed descendants are orphans, which init reaps.
    wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
    let start = Instant::now();
    target.restart();
    let restarted = start.elapsed();
    println!(
        "# 1000 processes: checkpoint {:.2} s, restart {:.2} s (debug kernel)",
        checkpointed.as_secs_f64(),
        restarted.as_secs_f64()
    );
    let start = Instant::now();
    target.finish();
    println!("# checked in {:.2} s", start.elapsed().as_secs_f64());
    pass("a tree of 1000 processes comes back whole");
}
