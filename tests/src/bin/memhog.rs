//! `memhog MIB [CHILDREN]`: a checkpoint target for measurements, not a test (the guest has it
//! in /bin, see xtask/src/guest.rs). Maps MIB mebibytes of private anonymous memory, writes a
//! non-zero word into every 8 bytes so that every page is saved, forks CHILDREN children (0 by
//! default) that share it copy-on-write, prints "ready" and sleeps until killed; on SIGUSR1
//! (blocked but in sigsuspend(), so that it is never lost) each checks the pattern and exits
//! 0, or 1 if a word changed.

use std::sync::atomic::{AtomicBool, Ordering};

static WOKEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    WOKEN.store(true, Ordering::SeqCst);
}

fn pattern(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

fn main() {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (mib, children) = (arg(1, 64), arg(2, 0));
    let len = mib << 20;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        eprintln!("memhog: mmap of {mib} MiB failed");
        std::process::exit(2);
    }
    // SAFETY: the mapping is `len` bytes, readable and writable, and only used here.
    let words = unsafe { std::slice::from_raw_parts_mut(p.cast::<u64>(), len / 8) };
    for (i, w) in words.iter_mut().enumerate() {
        *w = pattern(i);
    }
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGUSR1,
            on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    // SIGUSR1 stays blocked but in sigsuspend(), so that it cannot come between the test of
    // WOKEN and the wait, which would then never end (as with pause()): it may come any time
    // after "ready", also right after a restart, wherever the checkpoint caught us.
    // SAFETY: plain signal-set calls on sets of our own.
    let waiting = unsafe {
        let (mut block, mut old) = (std::mem::zeroed(), std::mem::zeroed());
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGUSR1);
        libc::sigprocmask(libc::SIG_BLOCK, &block, &mut old);
        libc::sigdelset(&mut old, libc::SIGUSR1);
        old
    };
    for _ in 0..children {
        // SAFETY: single-threaded; the child only runs what follows, as its parent does.
        match unsafe { libc::fork() } {
            -1 => {
                eprintln!("memhog: fork failed");
                std::process::exit(2);
            }
            0 => break,
            _ => {}
        }
    }
    println!("ready");
    while !WOKEN.load(Ordering::SeqCst) {
        // SAFETY: a valid signal set.
        unsafe { libc::sigsuspend(&waiting) };
    }
    let bad = words.iter().enumerate().any(|(i, &w)| w != pattern(i));
    std::process::exit(i32::from(bad));
}
