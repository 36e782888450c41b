//! Every restored thread has its rseq(2) area registered again, as glibc registered it
//! before the checkpoint: the kernel refreshes the CPU number in it, registering it a second
//! time gives EBUSY, and a thread that was spinning inside an rseq critical section when it
//! was checkpointed has the section aborted after the restart (the critical section pointer
//! was kept, not cleared as a fresh registration clears it).
//!
//! The target: its main thread, one thread that only checks, and one that spins inside a
//! critical section (SIGUSR1 blocked) until it has seen the restart. Only the kernel gets it
//! out of the section, by aborting it: on the way back to user mode after the restart, or
//! on a later preemption or signal, which the main thread then sends it (SIGUSR2) so that
//! the test does not depend on the scheduler. An abort needs the registration and the
//! section pointer to have survived the restart.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cr_tests::threads::{self, check_rseq, rseq_area, Gate, Ident};
use cr_tests::{check_os, pass, skip, wait_restored, Check, Target};

/// The part of `struct rseq_cs` the kernel reads: 32-byte aligned, as the ABI requires.
#[repr(C, align(32))]
struct RseqCs {
    version: u32,
    flags: u32,
    start_ip: u64,
    post_commit_offset: u64,
    abort_ip: u64,
}

/// Set once the target saw the restart; the spinner stops entering its section.
static STOP: AtomicBool = AtomicBool::new(false);
/// Times the spinner's critical section was aborted.
static ABORTS: AtomicU64 = AtomicU64::new(0);
/// The spinner's tid, once it is about to enter its section.
static SPINNER: AtomicI32 = AtomicI32::new(0);
/// Set when the spinner left its section for good.
static LEFT: AtomicBool = AtomicBool::new(false);

/// Spins inside a critical section until the kernel aborts it (on preemption, migration or
/// signal delivery), then returns.
fn spin_in_critical_section(area: usize) {
    let mut cs = RseqCs {
        version: 0,
        flags: 0,
        start_ip: 0,
        post_commit_offset: 0,
        abort_ip: 0,
    };
    let cs_ptr: *mut RseqCs = &mut cs;
    // SAFETY: fills `cs` with the section's bounds, points the thread's own rseq area at it
    // (the `rseq_cs` field, at offset 8) and spins at label 2 until the kernel moves the
    // thread to the abort handler at 4, preceded by the registered signature; the kernel
    // clears `rseq_cs` when it aborts, so `cs` is not used after the block.
    unsafe {
        core::arch::asm!(
            "lea {t}, [rip + 2f]",
            "mov [{cs} + 8], {t}",
            "lea {u}, [rip + 3f]",
            "sub {u}, {t}",
            "mov [{cs} + 16], {u}",
            "lea {t}, [rip + 4f]",
            "mov [{cs} + 24], {t}",
            "mov [{area} + 8], {cs}",
            "2:",
            "jmp 2b",
            "3:",
            "jmp 5f",
            ".long 0x53053053",
            "4:",
            "5:",
            cs = in(reg) cs_ptr,
            area = in(reg) area,
            t = out(reg) _,
            u = out(reg) _,
            options(nostack),
        );
    }
}

/// The spinner: enters the critical section again after each abort until the target saw
/// the restart, then checks itself.
fn spinner() -> Check {
    let id = Ident::take("spinner");
    let block = cr_tests::proc::sigset_of(&[libc::SIGUSR1]);
    // SAFETY: `block` is a valid set; the old mask is not asked for.
    check_os(
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &block, std::ptr::null_mut()) },
        "block SIGUSR1",
    )?;
    let Some((area, _)) = rseq_area() else {
        return Err("no rseq area".into());
    };
    SPINNER.store(id.tid(), Ordering::SeqCst);
    while !STOP.load(Ordering::SeqCst) {
        spin_in_critical_section(area);
        ABORTS.fetch_add(1, Ordering::SeqCst);
    }
    LEFT.store(true, Ordering::SeqCst);
    id.check()
}

/// Signals the spinner until it left its section, for up to 20 s.
fn kick_spinner() -> Check {
    let tid = SPINNER.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !LEFT.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            return Err(
                "the spinner is still in its critical section 20 s after the restart".into(),
            );
        }
        // SAFETY: a signal with an empty handler to a thread of this process.
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR2) };
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

extern "C" fn on_usr2(_: libc::c_int) {}

/// The kernel writes the current CPU into the area on the way back from a signal handler:
/// a value planted there does not survive one.
fn check_cpu_refreshed() -> Check {
    let Some((area, _)) = rseq_area() else {
        return Err("no rseq area".into());
    };
    let cpu_id_start = area as *mut u32;
    let planted = 0xdead_0000;
    // SAFETY: the first field of the thread's own rseq area; the SIGUSR2 handler is empty.
    unsafe {
        cpu_id_start.write_volatile(planted);
        libc::raise(libc::SIGUSR2);
    }
    // SAFETY: as above.
    let cpu = unsafe { cpu_id_start.read_volatile() };
    // SAFETY: no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) } as u32;
    if cpu >= cpus.max(1) {
        return Err(format!(
            "rseq cpu_id_start is {cpu:#x} after a signal (the kernel did not refresh it)"
        ));
    }
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: an empty handler, set before any thread may get the signal.
    unsafe {
        libc::signal(
            libc::SIGUSR2,
            on_usr2 as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    let id = Ident::take("main");
    let gate = std::sync::Arc::new(Gate::default());
    let g = gate.clone();
    let checker = threads::spawn(move || {
        let id = Ident::take("checker");
        g.wait();
        check_cpu_refreshed()?;
        id.check()
    })?;
    let spinning = threads::spawn(spinner)?;
    // The spinner is in its section nearly all the time from here on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while SPINNER.load(Ordering::SeqCst) == 0 {
        if Instant::now() > deadline {
            return Err("the spinner did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(move || {
        wait_restored();
        let before = ABORTS.load(Ordering::SeqCst);
        STOP.store(true, Ordering::SeqCst);
        gate.open();
        check_cpu_refreshed()?;
        check_rseq()?;
        id.check()?;
        checker.join(Duration::from_secs(20))?;
        kick_spinner().map_err(|e| format!("{e} ({before} aborts before it)"))?;
        spinning.join(Duration::from_secs(20))
    })
}

fn main() {
    if rseq_area().is_none() {
        skip("glibc registered no rseq area (kernel without rseq, or the tunable is off)");
    }
    let mut target = Target::spawn(setup);
    target.cycle();
    target.finish();
    pass("rseq areas registered again, the CPU number refreshed, a critical section aborted");
}
