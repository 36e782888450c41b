//! A task asleep in a private FUTEX_WAIT, without and then with a timeout, is still asleep
//! after checkpoint and restart and returns EINTR only once SIGUSR1's handler ran.

use std::sync::atomic::AtomicU32;

use cr_tests::sleepers::{self, check_interrupted, Wake};
use cr_tests::target::unblock_restore_signal;
use cr_tests::{check_eq, pass};

static WORD: AtomicU32 = AtomicU32::new(0);

fn wait(timeout: bool) -> cr_tests::Check {
    unblock_restore_signal()?;
    let ts = libc::timespec {
        tv_sec: 50,
        tv_nsec: 0,
    };
    let ts_ptr = if timeout {
        &ts as *const libc::timespec
    } else {
        std::ptr::null()
    };
    // SAFETY: WORD is a valid futex word; `ts` outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            WORD.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            0u32,
            ts_ptr,
        )
    };
    let what = if timeout {
        "FUTEX_WAIT with a timeout"
    } else {
        "FUTEX_WAIT"
    };
    check_interrupted(r, what)?;
    check_eq(
        "futex word",
        WORD.load(std::sync::atomic::Ordering::SeqCst),
        0,
    )
}

fn main() {
    sleepers::run(Wake::Signal, || wait(false));
    sleepers::run(Wake::Signal, || wait(true));
    pass("futex waits keep sleeping across checkpoint and restart until a signal");
}
