//! What a thread's instructions trap on comes back, per thread: the main thread dispatches its
//! system calls to a SIGSYS handler when its selector byte says so
//! (PR_SET_SYSCALL_USER_DISPATCH) except those made from a region it names; a second thread
//! has rdtsc fault (PR_SET_TSC, PR_TSC_SIGSEGV).
//!
//! A restored task inherits the restarting thread's rdtsc mode, and a thread the mode of the
//! main thread that creates it, so it takes two restarts to see each way: the first from a
//! thread whose rdtsc faults (the main thread must not keep that), the second, after another
//! checkpoint, from one whose rdtsc does not (the second thread must get it from the image).
//! After each, the main thread reads rdtsc, has a blocked call dispatched to its handler
//! (which answers it), an allowed one and one made with the selector blocked from inside the
//! region go through; after the second, the second thread's rdtsc faults and PR_GET_TSC says
//! so.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;

use cr_tests::target::restored_flag;
use cr_tests::{check_eq, check_os, fail, os_error, pass, wait_restored, Check, Target, KILL};

const PR_SET_SYSCALL_USER_DISPATCH: libc::c_int = 59;
const PR_SYS_DISPATCH_ON: libc::c_ulong = 1;
const SYSCALL_DISPATCH_FILTER_ALLOW: u8 = 0;
const SYSCALL_DISPATCH_FILTER_BLOCK: u8 = 1;
/// `si_code` of a dispatched call's SIGSYS.
const SYS_USER_DISPATCH: libc::c_int = 2;
/// What the handler answers a dispatched call with.
const ANSWER: i64 = 4242;

/// The selector byte: read by the kernel at each system call.
static SELECTOR: AtomicU8 = AtomicU8::new(SYSCALL_DISPATCH_FILTER_ALLOW);
/// The call number the SIGSYS handler saw last, plus one (0: none yet).
static DISPATCHED: AtomicU64 = AtomicU64::new(0);
/// Set by the target once its main thread passed its checks after the first restart.
static FIRST_CHECK_DONE: AtomicU8 = AtomicU8::new(0);
/// SIGSEGVs the handler skipped an rdtsc for.
static RDTSC_FAULTS: AtomicU32 = AtomicU32::new(0);

/// getppid(2) made from `direct_getppid`'s own code, which is the dispatcher region.
#[inline(never)]
#[no_mangle]
extern "C" fn direct_getppid() -> i64 {
    let ret: i64;
    // SAFETY: a system call without memory arguments; rcx and r11 are clobbered by it.
    unsafe {
        std::arch::asm!("syscall", inlateout("rax") libc::SYS_getppid => ret,
            out("rcx") _, out("r11") _, options(nostack))
    };
    ret
}

/// A dispatched call: remember it, answer [`ANSWER`], and allow calls again so that the
/// handler's own rt_sigreturn goes through.
extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    SELECTOR.store(SYSCALL_DISPATCH_FILTER_ALLOW, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler;
    // SIGSYS's siginfo has the call number after the address (struct __sifields._sigsys).
    unsafe {
        if (*info).si_code == SYS_USER_DISPATCH {
            let sys = (info as *const u8).add(16 + 8).cast::<i32>().read();
            DISPATCHED.store(sys as u64 + 1, Ordering::SeqCst);
        }
        let uc = ctx.cast::<libc::ucontext_t>();
        (*uc).uc_mcontext.gregs[libc::REG_RAX as usize] = ANSWER;
    }
}

/// rdtsc (0f 31) faulted: step over it.
extern "C" fn on_sigsegv(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: as above; the faulting instruction is at rip.
    unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        let rip = (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as *const u8;
        if rip.read() == 0x0f && rip.add(1).read() == 0x31 {
            RDTSC_FAULTS.fetch_add(1, Ordering::SeqCst);
            (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] += 2;
            return;
        }
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
    }
}

fn handle(
    sig: libc::c_int,
    f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void),
) -> Check {
    // SAFETY: all-zero is a valid sigaction; the handler only touches atomics and the context.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = f as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        check_os(
            libc::sigaction(sig, &sa, std::ptr::null_mut()),
            format_args!("sigaction({sig})"),
        )
    }
}

/// rdtsc; whether it faulted.
fn rdtsc_faults() -> bool {
    let before = RDTSC_FAULTS.load(Ordering::SeqCst);
    // SAFETY: rdtsc only writes edx:eax; a fault is stepped over by `on_sigsegv`.
    unsafe { std::arch::asm!("rdtsc", out("eax") _, out("edx") _, options(nostack)) };
    RDTSC_FAULTS.load(Ordering::SeqCst) != before
}

fn tsc_mode() -> libc::c_int {
    let mut mode: libc::c_int = 0;
    // SAFETY: writes one int.
    unsafe { libc::prctl(libc::PR_GET_TSC, &mut mode) };
    mode
}

fn set_tsc_sigsegv() -> Check {
    // SAFETY: a mode of the calling thread.
    check_os(
        unsafe { libc::prctl(libc::PR_SET_TSC, libc::PR_TSC_SIGSEGV) },
        "PR_SET_TSC",
    )
}

/// getppid(2) through libc with the selector at `selector`; what it returned.
fn getppid_with(selector: u8) -> i64 {
    SELECTOR.store(selector, Ordering::SeqCst);
    // SAFETY: no arguments; a dispatched call is answered by `on_sigsys`.
    let r = unsafe { libc::syscall(libc::SYS_getppid) };
    SELECTOR.store(SYSCALL_DISPATCH_FILTER_ALLOW, Ordering::SeqCst);
    r
}

/// The main thread's checks: dispatch on, with its region; rdtsc allowed.
fn main_thread(ppid: i64) -> Check {
    check_eq("main thread: PR_GET_TSC", tsc_mode(), libc::PR_TSC_ENABLE)?;
    if rdtsc_faults() {
        return Err("main thread: rdtsc faulted (the restarter's mode?)".into());
    }
    check_eq(
        "main thread: an allowed getppid",
        getppid_with(SYSCALL_DISPATCH_FILTER_ALLOW),
        ppid,
    )?;
    DISPATCHED.store(0, Ordering::SeqCst);
    check_eq(
        "main thread: a blocked getppid (answered by the SIGSYS handler)",
        getppid_with(SYSCALL_DISPATCH_FILTER_BLOCK),
        ANSWER,
    )?;
    check_eq(
        "main thread: the dispatched call number, plus one",
        DISPATCHED.load(Ordering::SeqCst),
        libc::SYS_getppid as u64 + 1,
    )?;
    SELECTOR.store(SYSCALL_DISPATCH_FILTER_BLOCK, Ordering::SeqCst);
    let direct = direct_getppid();
    SELECTOR.store(SYSCALL_DISPATCH_FILTER_ALLOW, Ordering::SeqCst);
    check_eq(
        "main thread: a blocked getppid from the dispatcher region",
        direct,
        ppid,
    )
}

/// The second thread's checks: rdtsc faults. (Not its lack of dispatch: the selector is the
/// main thread's, which may make calls meanwhile.)
fn second_thread() -> Check {
    check_eq("thread: PR_GET_TSC", tsc_mode(), libc::PR_TSC_SIGSEGV)?;
    if !rdtsc_faults() {
        return Err("thread: rdtsc did not fault".into());
    }
    Ok(())
}

fn main() {
    let mut target = Target::spawn(|| {
        handle(libc::SIGSYS, on_sigsys)?;
        handle(libc::SIGSEGV, on_sigsegv)?;
        let (go, wait) = mpsc::channel::<()>();
        let (ready, is_ready) = mpsc::channel::<Check>();
        let thread = std::thread::spawn(move || {
            let setup = set_tsc_sigsegv().and_then(|()| {
                if rdtsc_faults() {
                    Ok(())
                } else {
                    Err("thread: rdtsc did not fault before the checkpoint".to_string())
                }
            });
            let ok = setup.is_ok();
            let _ = ready.send(setup);
            match wait.recv() {
                Ok(()) if ok => second_thread(),
                _ => Err("the thread was not woken after the restart".to_string()),
            }
        });
        is_ready
            .recv()
            .map_err(|_| "the thread ended before its setup".to_string())??;
        let region = direct_getppid as *const () as usize;
        // SAFETY: the selector is a static byte; the region is the code of `direct_getppid`,
        // well within its first 64 bytes.
        check_os(
            unsafe {
                libc::prctl(
                    PR_SET_SYSCALL_USER_DISPATCH,
                    PR_SYS_DISPATCH_ON,
                    region,
                    64,
                    SELECTOR.as_ptr(),
                )
            },
            "PR_SET_SYSCALL_USER_DISPATCH",
        )?;
        check_eq(
            "before the checkpoint: a blocked getppid",
            getppid_with(SYSCALL_DISPATCH_FILTER_BLOCK),
            ANSWER,
        )?;
        Ok(move || {
            wait_restored();
            // SAFETY: no arguments.
            main_thread(unsafe { libc::getppid() }.into())?;
            FIRST_CHECK_DONE.store(1, Ordering::SeqCst);
            // Once more, after the second restart.
            restored_flag().store(false, Ordering::SeqCst);
            wait_restored();
            // SAFETY: no arguments.
            main_thread(unsafe { libc::getppid() }.into())?;
            let _ = go.send(());
            thread
                .join()
                .map_err(|_| "the thread panicked".to_string())?
        })
    });
    target.checkpoint(KILL);
    // Restart from a thread whose rdtsc faults: what the restored tasks inherit. Only raw
    // system calls there: a clock read through the vDSO may use rdtsc.
    let image =
        File::open(target.image_path()).unwrap_or_else(|e| fail(format!("open the image: {e}")));
    let log_path = format!("{}.traps.log", target.image_path());
    let log = File::create(&log_path).unwrap_or_else(|e| fail(format!("{log_path}: {e}")));
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: a mode of this thread, which ends with the restart.
            if unsafe { libc::prctl(libc::PR_SET_TSC, libc::PR_TSC_SIGSEGV) } != 0 {
                return Err(os_error("PR_SET_TSC in the restarting thread"));
            }
            cr::sys::restart(image.as_raw_fd(), 0, log.as_raw_fd())
                .map_err(|e| format!("restart: {e}"))
        })
        .join()
        .unwrap_or_else(|_| Err("the restarting thread panicked".into()))
    });
    let pid = result.unwrap_or_else(|e| {
        let lines = std::fs::read_to_string(&log_path).unwrap_or_default();
        target.fail(format!("{e}\n{lines}"))
    });
    if pid != target.pid() {
        target.fail(format!(
            "restart returned pid {pid}, expected {}",
            target.pid()
        ));
    }
    // The main thread checks itself, then sleeps again (or exits if its check failed).
    target.wake();
    let checked = FIRST_CHECK_DONE.as_ptr() as usize;
    target.wait_until(
        "for the main thread's check after the first restart",
        || cr_tests::proc::proc_state(pid) == Some('Z') || target.peek_byte(checked) == 1,
    );
    if cr_tests::proc::proc_state(pid) == Some('Z') {
        target.expect_exit("after the first restart");
    }
    target.wait_state("S", "to sleep again after its check");
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("syscall user dispatch, rdtsc faulting and their absence come back per thread, not the restarter's");
}
