//! Processes that share one address space (clone with CLONE_VM but not CLONE_THREAD, as
//! posix_spawn() and vfork() children are made) share it again after the restart, and one
//! that also shares its parent's signal handlers (CLONE_SIGHAND) shares those again too.
//!
//! ```text
//! root   maps a page and wakes v and h once restarted
//! ├── v  clone(CLONE_VM): the root's memory, handlers of its own
//! └── h  clone(CLONE_VM | CLONE_SIGHAND): the root's memory and handlers
//! ```
//!
//! v and h sleep across the checkpoint in a private futex wait on a word of the shared
//! memory. After the restart the root maps a new page, writes a number there, ignores
//! SIGWINCH and wakes them with a private FUTEX_WAKE, which only reaches waiters of its own
//! address space. Each must wake, read the number from the new page and write an answer
//! that the root reads; h also ignores SIGPWR. Seen from /proc, h then ignores SIGWINCH and
//! the root SIGPWR; v ignores neither, and kept its own handler for SIGUSR1.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use cr_tests::proc::{proc_state, status_mask};
use cr_tests::target::RESTORE_SIGNAL;
use cr_tests::vm::{
    clone_vm, close_ready_fd, ignore_raw, reap_within_10s, set_and_wake, wait_while,
};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// How many children went to sleep.
static READY: AtomicU32 = AtomicU32::new(0);
/// 0 until the root wakes the children after the restart.
static PHASE: AtomicU32 = AtomicU32::new(0);
/// Address of the page the root maps after the restart.
static PAGE: AtomicU64 = AtomicU64::new(0);
/// What each child read there, plus one plus its index.
static ANSWER: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

const NUMBER: u64 = 0x5eed_0000_cafe_f00d;

fn bit(sig: libc::c_int) -> u64 {
    1 << (sig - 1)
}

/// Child `i` (0: v, 1: h): sleeps until woken, then answers through the new page.
extern "C" fn sharer(arg: *mut libc::c_void) -> libc::c_int {
    let i = arg as usize;
    close_ready_fd();
    READY.fetch_add(1, Ordering::AcqRel);
    wait_while(&PHASE, 0);
    let page = PAGE.load(Ordering::Acquire) as *const u64;
    if page.is_null() {
        return 10;
    }
    // SAFETY: the root mapped the page before it woke us: valid in our shared memory.
    let n = unsafe { page.read_volatile() };
    ANSWER[i].store(n + 1 + i as u64, Ordering::Release);
    if i == 1 && ignore_raw(libc::SIGPWR) != 0 {
        return 11;
    }
    0
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let v = clone_vm(libc::CLONE_VM, sharer, 0)?;
    let h = clone_vm(libc::CLONE_VM | libc::CLONE_SIGHAND, sharer, 1)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while READY.load(Ordering::Acquire) < 2 || [v, h].iter().any(|&p| proc_state(p) != Some('S')) {
        if std::time::Instant::now() > deadline {
            return Err("the CLONE_VM children did not fall asleep".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(move || {
        wait_restored();
        // SAFETY: a new private anonymous page, written once.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(cr_tests::os_error("mmap"));
        }
        // SAFETY: the page was just mapped, writable.
        unsafe { page.cast::<u64>().write_volatile(NUMBER) };
        PAGE.store(page as u64, Ordering::Release);
        check_eq(
            "sigaction(SIGWINCH, SIG_IGN)",
            ignore_raw(libc::SIGWINCH),
            0,
        )?;
        let ignored = |pid| status_mask(pid, "SigIgn").unwrap_or(0) & bit(libc::SIGWINCH) != 0;
        check_eq(
            "h ignores SIGWINCH with the root (shared handlers)",
            ignored(h),
            true,
        )?;
        check_eq(
            "v ignores SIGWINCH with the root (its own handlers)",
            ignored(v),
            false,
        )?;
        let caught = status_mask(v, "SigCgt").unwrap_or(0) & bit(RESTORE_SIGNAL) != 0;
        check_eq(
            "v still catches SIGUSR1 (its own handlers, restored)",
            caught,
            true,
        )?;
        set_and_wake(&PHASE, 1);
        for (name, pid) in [("v", v), ("h", h)] {
            let status = reap_within_10s(pid).map_err(|e| {
                format!("{name}: {e} (not woken: not in the root's address space?)")
            })?;
            check_eq(format!("{name}'s exit status"), status, 0)?;
        }
        check_eq(
            "v's answer, written in the shared memory",
            ANSWER[0].load(Ordering::Acquire),
            NUMBER + 1,
        )?;
        check_eq(
            "h's answer, written in the shared memory",
            ANSWER[1].load(Ordering::Acquire),
            NUMBER + 2,
        )?;
        let me = std::process::id() as libc::pid_t;
        let pwr = status_mask(me, "SigIgn").unwrap_or(0) & bit(libc::SIGPWR) != 0;
        check_eq(
            "the root ignores SIGPWR, as h set it (shared handlers)",
            pwr,
            true,
        )
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("processes sharing an address space, and handlers, share them again after a restart");
}
