//! Restart must not touch the restarter's memory. A restored task starts out sharing the
//! restarter's address space until it installs its own, and installing one releases the old
//! one as exec does: with the saved `clear_child_tid` already set, that zeroed (and woke) the
//! word at that address in the restarter. Here the target's `clear_child_tid` points at a
//! static, which sits at the same address in the test (the restarter): it must keep its value.

use std::sync::atomic::{AtomicU32, Ordering};

use cr_tests::{check_eq, pass, wait_restored, Target, KILL};

const CANARY: u32 = 0x5eed_c0de;

static WORD: AtomicU32 = AtomicU32::new(CANARY);

fn main() {
    let mut target = Target::spawn(|| {
        // SAFETY: the kernel clears WORD (a static that lives as long as the process) when
        // this process's main thread exits.
        unsafe { libc::syscall(libc::SYS_set_tid_address, WORD.as_ptr()) };
        Ok(move || {
            wait_restored();
            check_eq("the target's own word", WORD.load(Ordering::SeqCst), CANARY)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    let word = WORD.load(Ordering::SeqCst);
    if word != CANARY {
        target.fail(format!(
            "restart changed the restarter's word at {:p} from {CANARY:#x} to {word:#x}",
            WORD.as_ptr()
        ));
    }
    target.finish();
    pass("restart left the restarter's memory at the restored clear_child_tid alone");
}
