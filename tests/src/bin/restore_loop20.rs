//! Twenty checkpoint-restart cycles in a row, with a queued real-time signal sent after each
//! restart and the next checkpoint right after it (the restored process may not have run yet,
//! or be in its handler): the process keeps its state and gets all twenty signals.

use std::sync::atomic::{AtomicU32, Ordering};

use cr_tests::{check_eq, check_os, pass, wait_restored, Fingerprint, Target};

const CYCLES: u32 = 20;

static COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn count(_: libc::c_int) {
    COUNT.fetch_add(1, Ordering::SeqCst);
}

fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

fn main() {
    let mut target = Target::spawn(|| {
        // SAFETY: the handler only increments an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = count as *const () as usize;
            check_os(
                libc::sigaction(signal(), &sa, std::ptr::null_mut()),
                "sigaction",
            )?;
        }
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            fingerprint.check()?;
            check_eq(
                "real-time signals handled",
                COUNT.load(Ordering::SeqCst),
                CYCLES,
            )
        })
    });
    for _ in 0..CYCLES {
        target.cycle();
        target.signal(signal());
    }
    target.finish();
    pass("20 checkpoint-restart cycles, state and queued signals kept");
}
