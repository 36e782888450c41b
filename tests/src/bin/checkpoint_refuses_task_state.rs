//! Task state that restart would not give back is refused with EOPNOTSUPP and a log line naming
//! the task and the state, and the target runs on with it: a thread asleep in clock_nanosleep()
//! on the process's CPU-time clock (issued again, it would sleep its whole time once more), a
//! protection key (pkey_alloc()), a mapping that keeps its key after pkey_free(), execute-only
//! memory (which takes a key of its own), a write watchpoint a tracer left enabled in the
//! target's debug registers before it detached, utilization clamps (sched_setattr()), a
//! machine-check kill policy (PR_MCE_KILL), the I/O flusher flag (PR_SET_IO_FLUSHER), and,
//! where the kernel and CPU let a task choose them, speculation controls
//! (PR_SET_SPECULATION_CTRL) and a core scheduling cookie (PR_SCHED_CORE). One watchpoint the
//! tracer disabled again before it detached is no reason to refuse: that target is checkpointed
//! and restarted. A restarter with utilization clamps of its own, which every task it creates
//! would inherit, is refused too (EOPNOTSUPP), and so is one under no_new_privs; the same image
//! restarts once the restarter dropped its clamps.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use cr_tests::mem::anon;
use cr_tests::proc::wait_in_syscall;
use cr_tests::sched::{self, SchedAttr};
use cr_tests::{check_eq, check_os, os_error, pass, wait_restored, Check, Refusal, Target};

/// `__NR_clock_nanosleep` on x86_64, as /proc/PID/task/TID/syscall shows it.
const NR_CLOCK_NANOSLEEP: i64 = 230;
/// `__NR_restart_syscall`.
const NR_RESTART_SYSCALL: i64 = 219;
/// `offsetof(struct user, u_debugreg)` on x86_64.
const DEBUGREG_OFFSET: usize = 848;
const PAGE: usize = 4096;
/// prctl() options and arguments of <linux/prctl.h>.
const PR_GET_SPECULATION_CTRL: libc::c_int = 52;
const PR_SET_SPECULATION_CTRL: libc::c_int = 53;
const PR_SPEC_STORE_BYPASS: libc::c_ulong = 0;
const PR_SPEC_INDIRECT_BRANCH: libc::c_ulong = 1;
const PR_SPEC_PRCTL: libc::c_int = 1 << 0;
const PR_SPEC_DISABLE: libc::c_int = 1 << 2;
const PR_SCHED_CORE: libc::c_int = 62;
const PR_SCHED_CORE_GET: libc::c_ulong = 0;
const PR_SCHED_CORE_CREATE: libc::c_ulong = 1;
/// `PR_SCHED_CORE_SCOPE_THREAD_GROUP`.
const SCOPE_THREAD_GROUP: libc::c_ulong = 1;
/// `SCHED_FLAG_KEEP_ALL`: sched_setattr() changes neither policy nor parameters.
const SCHED_FLAG_KEEP_ALL: u64 = 0x18;
/// `SCHED_FLAG_UTIL_CLAMP_MIN`.
const SCHED_FLAG_UTIL_CLAMP_MIN: u64 = 0x20;
/// The minimum utilization clamp the target asks for (of 1024).
const UTIL_MIN: u32 = 256;

/// What the target set up, for its check after the refusal.
static KEPT: AtomicUsize = AtomicUsize::new(0);
/// The word the tracer watches.
static WATCHED: AtomicU32 = AtomicU32::new(0);

fn cpu_clock_sleep() -> Check {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: gettid takes no arguments.
        let _ = tx.send(unsafe { libc::syscall(libc::SYS_gettid) });
        let t = libc::timespec {
            tv_sec: 1000,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid relative time; no remainder asked for. The process uses next
        // to no CPU, so this sleeps on.
        unsafe {
            libc::clock_nanosleep(libc::CLOCK_PROCESS_CPUTIME_ID, 0, &t, std::ptr::null_mut())
        };
    });
    let tid = rx
        .recv()
        .map_err(|_| "the sleeping thread did not start".to_string())?;
    KEPT.store(tid as usize, Ordering::SeqCst);
    wait_in_syscall(tid as libc::pid_t, &[NR_CLOCK_NANOSLEEP])
}

/// The sleep goes on after the refusal: thawed, the thread resumed it through
/// restart_syscall(), with the time it had left.
fn still_asleep() -> Check {
    wait_in_syscall(
        KEPT.load(Ordering::SeqCst) as libc::pid_t,
        &[NR_CLOCK_NANOSLEEP, NR_RESTART_SYSCALL],
    )
}

fn pkey_alloc() -> Result<i64, String> {
    // SAFETY: no pointers.
    let key = unsafe { libc::syscall(libc::SYS_pkey_alloc, 0, 0) };
    check_os(key, "pkey_alloc")?;
    Ok(key)
}

fn pkey() -> Check {
    KEPT.store(pkey_alloc()? as usize, Ordering::SeqCst);
    Ok(())
}

fn pkey_works() -> Check {
    // SAFETY: frees our own key.
    check_os(
        unsafe { libc::syscall(libc::SYS_pkey_free, KEPT.load(Ordering::SeqCst)) },
        "pkey_free",
    )
}

fn pkey_mapping() -> Check {
    let key = pkey_alloc()?;
    let page = anon(PAGE)?;
    KEPT.store(page.addr(), Ordering::SeqCst);
    // SAFETY: our own new page is given our key, which is then freed (the page keeps it).
    unsafe {
        check_os(
            libc::syscall(
                libc::SYS_pkey_mprotect,
                page.ptr(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                key,
            ),
            "pkey_mprotect",
        )?;
        page.ptr().write(7);
        check_os(libc::syscall(libc::SYS_pkey_free, key), "pkey_free")
    }
}

fn pkey_mapping_works() -> Check {
    // SAFETY: the page mapped by `pkey_mapping`, which its key (all rights) lets us read.
    check_eq(
        "the keyed page's byte",
        unsafe { (KEPT.load(Ordering::SeqCst) as *const u8).read() },
        7,
    )
}

fn execute_only() -> Check {
    let page = anon(PAGE)?;
    KEPT.store(page.addr(), Ordering::SeqCst);
    page.protect(libc::PROT_EXEC)
}

fn execute_only_works() -> Check {
    let page = KEPT.load(Ordering::SeqCst);
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("maps: {e}"))?;
    let line = maps
        .lines()
        .find(|l| l.starts_with(&format!("{page:x}-")))
        .ok_or_else(|| format!("no mapping at {page:#x}"))?;
    check_eq(
        "the execute-only page's permissions",
        &line[line.find(' ').unwrap_or(0)..][..5],
        " --xp",
    )
}

/// Sets the calling thread's minimum utilization clamp to `min`, or resets it (`u32::MAX`,
/// UCLAMP_RESET).
fn set_util_min(min: u32) -> Check {
    let attr = SchedAttr {
        util_min: min,
        util_max: 1024,
        ..SchedAttr::new(0, SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP_MIN)
    };
    sched::set(&attr, &format!("SCHED_FLAG_UTIL_CLAMP_MIN, {min}"))
}

fn uclamp() -> Check {
    set_util_min(UTIL_MIN)
}

/// A restarter with clamps of its own is refused, and restarts once it reset them.
fn clamped_restarter() {
    let mut target = Target::spawn(|| {
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    target.checkpoint(cr_tests::KILL);
    set_util_min(UTIL_MIN).unwrap_or_else(|e| target.fail(e));
    let result = target.try_restart(0);
    target.expect_restart_errno(
        result,
        libc::EOPNOTSUPP,
        "restart by a restarter with utilization clamps",
    );
    if !cr_tests::log_names(target.klog(), "utilization clamps") {
        target.fail("no kernel log line names the restarter's utilization clamps");
    }
    set_util_min(u32::MAX).unwrap_or_else(|e| target.fail(e));
    restart_confined(target.image_path()).unwrap_or_else(|e| target.fail(e));
    target.restart();
    target.finish();
}

/// restart(2) of `image` from a child under no_new_privs, which every restored task would
/// inherit: it must fail with EOPNOTSUPP.
fn restart_confined(image: &str) -> Check {
    let file = std::fs::File::open(image).map_err(|e| format!("open {image}: {e}"))?;
    // SAFETY: the child only makes system calls and exits.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            // SAFETY: a flag of the child itself.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            let code = match cr_tests::sys::restart(file.as_raw_fd(), 0, -1) {
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => 0,
                _ => 1,
            };
            // SAFETY: ends the child.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: `pid` is our child; `status` is valid for the write.
            if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
                return Err(os_error("waitpid"));
            }
            check_eq(
                "restart under no_new_privs refused with EOPNOTSUPP (wait status)",
                status,
                0,
            )
        }
    }
}

fn uclamp_works() -> Check {
    check_eq(
        "the minimum utilization clamp",
        sched::get()?.util_min,
        UTIL_MIN,
    )
}

/// prctl() options of <linux/prctl.h>: the machine-check kill policy and the I/O flusher.
const PR_MCE_KILL: libc::c_int = 33;
const PR_MCE_KILL_GET: libc::c_int = 34;
const PR_MCE_KILL_SET: libc::c_ulong = 1;
const PR_MCE_KILL_EARLY: libc::c_ulong = 1;
const PR_SET_IO_FLUSHER: libc::c_int = 57;
const PR_GET_IO_FLUSHER: libc::c_int = 58;

/// prctl(`option`, `arg`) with zero further arguments.
fn prctl(option: libc::c_int, arg: libc::c_ulong) -> Result<libc::c_int, String> {
    // SAFETY: no pointers; acts on the calling thread.
    let r = unsafe { libc::prctl(option, arg, 0, 0, 0) };
    check_os(r, format!("prctl({option}, {arg})"))?;
    Ok(r)
}

fn mce_kill() -> Check {
    // SAFETY: no pointers; the calling thread's machine-check policy.
    let r = unsafe { libc::prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0) };
    check_os(r, "PR_MCE_KILL")
}

fn mce_kill_works() -> Check {
    check_eq(
        "PR_MCE_KILL_GET",
        prctl(PR_MCE_KILL_GET, 0)?,
        PR_MCE_KILL_EARLY as libc::c_int,
    )
}

fn io_flusher() -> Check {
    prctl(PR_SET_IO_FLUSHER, 1).map(drop)
}

fn io_flusher_works() -> Check {
    check_eq("PR_GET_IO_FLUSHER", prctl(PR_GET_IO_FLUSHER, 0)?, 1)
}

const CASES: &[Refusal] = &[
    Refusal {
        setup: cpu_clock_sleep,
        named: "clock_nanosleep",
        works: still_asleep,
    },
    Refusal {
        setup: uclamp,
        named: "utilization clamps",
        works: uclamp_works,
    },
    Refusal {
        setup: mce_kill,
        named: "PR_MCE_KILL",
        works: mce_kill_works,
    },
    Refusal {
        setup: io_flusher,
        named: "PR_SET_IO_FLUSHER",
        works: io_flusher_works,
    },
];

/// The speculation control this CPU lets a task set for itself, if any.
fn controllable_speculation() -> Option<libc::c_ulong> {
    [PR_SPEC_STORE_BYPASS, PR_SPEC_INDIRECT_BRANCH]
        .into_iter()
        .find(|&which| {
            // SAFETY: no pointers.
            let r = unsafe { libc::prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0) };
            r >= 0 && r & PR_SPEC_PRCTL != 0
        })
}

/// Disables the speculation the CPU lets it control (the first of [`controllable_speculation`]).
fn speculation() -> Check {
    let which = controllable_speculation().ok_or("no speculation control")?;
    // SAFETY: no pointers.
    check_os(
        unsafe { libc::prctl(PR_SET_SPECULATION_CTRL, which, PR_SPEC_DISABLE, 0, 0) },
        "PR_SET_SPECULATION_CTRL",
    )
}

fn speculation_works() -> Check {
    let which = controllable_speculation().ok_or("no speculation control")?;
    // SAFETY: no pointers.
    let r = unsafe { libc::prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0) };
    check_eq(
        "the speculation control",
        r & PR_SPEC_DISABLE,
        PR_SPEC_DISABLE,
    )
}

/// The calling thread's core scheduling cookie, or the error of PR_SCHED_CORE_GET (ENODEV on a
/// machine without SMT, where no task can have one).
fn core_cookie() -> Result<u64, String> {
    let mut cookie = 0u64;
    // SAFETY: `cookie` is valid for writes of a u64.
    let r = unsafe {
        libc::prctl(
            PR_SCHED_CORE,
            PR_SCHED_CORE_GET,
            0,
            0,
            &mut cookie as *mut u64,
        )
    };
    check_os(r, "PR_SCHED_CORE_GET")?;
    Ok(cookie)
}

fn core_sched() -> Check {
    // SAFETY: no pointers; a cookie for the whole calling process.
    let r = unsafe {
        libc::prctl(
            PR_SCHED_CORE,
            PR_SCHED_CORE_CREATE,
            0,
            SCOPE_THREAD_GROUP,
            0,
        )
    };
    check_os(r, "PR_SCHED_CORE_CREATE")
}

fn core_sched_works() -> Check {
    match core_cookie()? {
        0 => Err("the process lost its core scheduling cookie".into()),
        _ => Ok(()),
    }
}

static SPECULATION_CASE: Refusal = Refusal {
    setup: speculation,
    named: "speculation control",
    works: speculation_works,
};

static CORE_SCHED_CASE: Refusal = Refusal {
    setup: core_sched,
    named: "core scheduling",
    works: core_sched_works,
};

/// The cases of a CPU with protection keys (elsewhere there are none to lose).
const PKEY_CASES: &[Refusal] = &[
    Refusal {
        setup: pkey,
        named: "protection keys",
        works: pkey_works,
    },
    Refusal {
        setup: pkey_mapping,
        named: "pkey_mprotect",
        works: pkey_mapping_works,
    },
    Refusal {
        setup: execute_only,
        named: "execute-only memory",
        works: execute_only_works,
    },
];

/// Attaches to the target, sets a write watchpoint on [`WATCHED`] in its debug registers
/// (disabled again if not `enabled`), and detaches, which leaves the watchpoint.
fn leave_watchpoint(target: &Target, enabled: bool) {
    let pid = target.pid();
    let user = |what: &str, reg: usize, value: usize| {
        // SAFETY: POKEUSER of a debug register of our stopped tracee.
        let r =
            unsafe { libc::ptrace(libc::PTRACE_POKEUSER, pid, DEBUGREG_OFFSET + 8 * reg, value) };
        if r != 0 {
            target.fail(os_error(format!("PTRACE_POKEUSER {what}")));
        }
    };
    // SAFETY: ptrace requests on our own child, which stops for PTRACE_INTERRUPT.
    unsafe {
        if libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) != 0
            || libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) != 0
        {
            target.fail(os_error("PTRACE_SEIZE"));
        }
        let mut status = 0;
        if libc::waitpid(pid, &mut status, libc::__WALL) != pid {
            target.fail(os_error("waitpid for the tracee's stop"));
        }
    }
    user("DR0", 0, WATCHED.as_ptr() as usize);
    // DR7: local enable of DR0 (bit 0), break on writes (R/W0 = 01), 4 bytes (LEN0 = 11).
    user("DR7", 7, 1 | 1 << 16 | 3 << 18);
    if !enabled {
        user("DR7", 7, 0);
    }
    // SAFETY: detaches from our tracee, letting it run on.
    if unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) } != 0 {
        target.fail(os_error("PTRACE_DETACH"));
    }
}

/// Whether this CPU has protection keys: pkey_alloc() fails without them.
fn have_pkeys() -> bool {
    // SAFETY: no pointers; a key we got is freed at once.
    unsafe {
        let key = libc::syscall(libc::SYS_pkey_alloc, 0, 0);
        key >= 0 && libc::syscall(libc::SYS_pkey_free, key) == 0
    }
}

fn main() {
    for case in CASES {
        case.refused().finish();
    }
    match have_pkeys() {
        true => PKEY_CASES.iter().for_each(|case| case.refused().finish()),
        false => println!("# this CPU has no protection keys: their cases do not apply"),
    }
    let mut also = Vec::new();
    match controllable_speculation() {
        Some(_) => {
            SPECULATION_CASE.refused().finish();
            also.push("speculation controls");
        }
        None => println!(
            "# no task can control its speculation here (kernel without CPU_MITIGATIONS, or CPU): that case does not apply"
        ),
    }
    match core_cookie() {
        Ok(_) => {
            CORE_SCHED_CASE.refused().finish();
            also.push("core scheduling cookies");
        }
        Err(e) => println!("# no core scheduling here ({e}): that case does not apply"),
    }
    for enabled in [true, false] {
        let mut target = Target::spawn(|| {
            Ok(|| {
                wait_restored();
                check_eq("the watched word", WATCHED.load(Ordering::SeqCst), 0)
            })
        });
        leave_watchpoint(&target, enabled);
        target.wait_state("S", "to sleep again after the tracer detached");
        match enabled {
            true => target.expect_refused("hardware breakpoints"),
            false => target.cycle(),
        }
        target.finish();
    }
    clamped_restarter();
    pass(&format!("a CPU-clock sleep, protection keys, execute-only memory, a tracer's enabled watchpoint, utilization clamps, a machine-check kill policy and the I/O flusher flag{} are refused by name; each target runs on; a disabled watchpoint is no reason to refuse; a restarter with utilization clamps or under no_new_privs is refused", also.iter().map(|a| format!(", {a}")).collect::<String>()));
}
