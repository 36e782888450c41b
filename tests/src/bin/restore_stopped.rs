//! A process stopped by job control (SIGSTOP) is checkpointed where it stopped: a live
//! checkpoint leaves it stopped, and a restart brings it back stopped, with SIGUSR1 sent
//! meanwhile still pending. Only SIGCONT lets it run again; its SIGCONT handler then runs
//! (which the target checks), and so does its wait for SIGUSR1.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cr_tests::proc::proc_state;
use cr_tests::{check_os, pass, wait_restored, Target, KILL, NO_KILL};

static CONTINUED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigcont(_: libc::c_int) {
    CONTINUED.store(true, Ordering::SeqCst);
}

/// Fails unless the target stays stopped for 300 ms.
fn expect_stopped(target: &Target, when: &str) {
    target.wait_state("T", &format!("to be stopped {when}"));
    std::thread::sleep(Duration::from_millis(300));
    match proc_state(target.pid()) {
        Some('T') => {}
        state => target.fail(format!("state {state:?} {when}, expected stopped (T)")),
    }
}

fn main() {
    let mut target = Target::spawn(|| {
        // SAFETY: an all-zero sigaction is valid; the handler only stores to an atomic.
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigcont as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(libc::SIGCONT, &sa, std::ptr::null_mut())
        };
        check_os(r, "sigaction(SIGCONT)")?;
        Ok(|| {
            wait_restored();
            match CONTINUED.load(Ordering::SeqCst) {
                true => Ok(()),
                false => Err("its SIGCONT handler never ran".to_string()),
            }
        })
    });
    target.signal(libc::SIGSTOP);
    expect_stopped(&target, "after SIGSTOP");
    if let Err(e) = target.try_checkpoint(NO_KILL) {
        target.fail(format!("live checkpoint of a stopped process: {e}"));
    }
    expect_stopped(&target, "after a live checkpoint");
    if let Err(e) = target.try_checkpoint(KILL) {
        target.fail(format!("checkpoint of a stopped process: {e}"));
    }
    target.reap_killed("after checkpoint with CKPT_KILL");
    target.restart();
    expect_stopped(&target, "after the restart");
    // Sent while it is stopped: it waits until SIGCONT.
    target.wake();
    expect_stopped(&target, "with SIGUSR1 pending");
    target.signal(libc::SIGCONT);
    target.expect_exit("after SIGCONT, with SIGUSR1 pending");
    pass("a stopped process stays stopped through a live checkpoint and comes back stopped from a restart; SIGCONT resumes it");
}
