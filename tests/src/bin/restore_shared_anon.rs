//! MAP_SHARED anonymous memory survives checkpoint and restart with its contents, still
//! shared: a child the restored process forks writes to it and the parent sees the write.

use cr_tests::mem::{mmap, Mapping, PAGE};
use cr_tests::proc::{check_mapping, wait_status_text};
use cr_tests::{check_eq, os_error, pass, sys, wait_restored, Check, Target, KILL};

const LEN: usize = 256 * PAGE;

fn still_shared(m: Mapping) -> Check {
    let last = m.part(LEN - PAGE, PAGE);
    // SAFETY: the child only writes to the shared mapping and _exits.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            last.fill(2);
            // SAFETY: ends the forked child at once.
            unsafe { libc::_exit(0) }
        }
        pid => {
            let status = sys::waitpid(pid).map_err(|e| format!("wait: {e}"))?;
            check_eq(
                "the writer child",
                wait_status_text(status),
                wait_status_text(0),
            )?;
            last.check(2, "page written by a forked child")
        }
    }
}

fn main() {
    let mut target = Target::spawn(|| {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let m = mmap(LEN, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)?;
        m.part(0, LEN - PAGE).fill(1);
        Ok(move || {
            wait_restored();
            check_mapping(m.addr(), LEN, "rw-s")?;
            m.part(0, LEN - PAGE).check(1, "shared anonymous mapping")?;
            still_shared(m)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("MAP_SHARED anonymous memory restored with its contents, still shared");
}
