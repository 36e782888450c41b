//! Scheduling state comes back thread by thread: the policy (SCHED_BATCH, SCHED_IDLE,
//! SCHED_FIFO, SCHED_RR), SCHED_RESET_ON_FORK, the nice value (also that of a real-time or
//! SCHED_IDLE thread, which sched_setattr() leaves alone), the real-time priority and the
//! CPU affinity.
//!
//! The image asks for more than a restarter without CAP_SYS_NICE may set by hand (nice -3,
//! SCHED_FIFO): such a restarter gets EPERM and a log line, and leaves nothing behind, since
//! root's restart of the same image takes the same pids next. A process under SCHED_DEADLINE,
//! which is not saved, is refused at checkpoint by name and runs on.

use std::sync::mpsc;

use cr_tests::sched::{self, SchedAttr};
use cr_tests::threads::{self, gettid};
use cr_tests::{check_eq, check_os, pass, require_root, wait_restored, Check, Target, KILL};

const CAP_SYS_NICE: u32 = 23;

/// A thread's scheduling state as the system calls report it.
#[derive(Debug, PartialEq)]
struct Sched {
    tid: libc::pid_t,
    /// sched_getscheduler(): the policy, with SCHED_RESET_ON_FORK.
    policy: libc::c_int,
    nice: libc::c_int,
    priority: libc::c_int,
    cpus: Vec<usize>,
}

fn observe(tid: libc::pid_t) -> Result<Sched, String> {
    // SAFETY: queries about a thread of ours; every result is checked.
    unsafe {
        let policy = libc::sched_getscheduler(tid);
        check_os(policy, format!("sched_getscheduler({tid})"))?;
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        if nice == -1 && *libc::__errno_location() != 0 {
            return Err(cr_tests::os_error(format!("getpriority({tid})")));
        }
        let mut param: libc::sched_param = std::mem::zeroed();
        check_os(
            libc::sched_getparam(tid, &mut param),
            format!("sched_getparam({tid})"),
        )?;
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        check_os(
            libc::sched_getaffinity(tid, size, &mut set),
            format!("sched_getaffinity({tid})"),
        )?;
        let cpus = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect();
        Ok(Sched {
            tid,
            policy,
            nice,
            priority: param.sched_priority,
            cpus,
        })
    }
}

/// Sets the calling thread's policy and priority.
fn policy(policy: libc::c_int, priority: libc::c_int) -> Check {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: acts on the calling thread; `param` is valid for the call.
    let r = unsafe { libc::sched_setscheduler(0, policy, &param) };
    check_os(r, format!("sched_setscheduler({policy:#x}, {priority})"))
}

/// Sets the calling thread's nice value (PRIO_PROCESS acts on one thread on Linux).
fn nice(nice: libc::c_int) -> Check {
    // SAFETY: acts on the calling thread.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    check_os(r, format!("setpriority({nice})"))
}

/// Lets the calling thread run on `cpu` only.
fn pin(cpu: usize) -> Check {
    // SAFETY: an all-zero cpu_set_t is empty; acts on the calling thread.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    check_os(r, format!("sched_setaffinity({{{cpu}}})"))
}

/// Puts the calling thread under SCHED_DEADLINE: 2 ms every 50 ms.
fn deadline() -> Check {
    let attr = SchedAttr {
        runtime: 2_000_000,
        deadline: 50_000_000,
        period: 50_000_000,
        ..SchedAttr::new(6, 0)
    };
    sched::set(&attr, "SCHED_DEADLINE")
}

/// Sets or clears `cap` in the caller's effective set (it stays permitted).
fn effective(cap: u32, on: bool) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: `header` and `data` are what _LINUX_CAPABILITY_VERSION_3 asks for.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if r != 0 {
        cr_tests::fail(cr_tests::os_error("capget"));
    }
    let bit = 1u32 << (cap % 32);
    let d = &mut data[cap as usize / 32];
    d.effective = if on {
        d.effective | bit
    } else {
        d.effective & !bit
    };
    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if r != 0 {
        cr_tests::fail(cr_tests::os_error(format!("capset (CAP_SYS_NICE {on})")));
    }
}

/// Starts a thread that sets up its state with `set`, reports it and sleeps for good.
fn thread(
    set: impl FnOnce() -> Check + Send + 'static,
    report: &mpsc::Sender<Result<Sched, String>>,
) -> Check {
    let report = report.clone();
    threads::spawn(move || {
        let state = set().and_then(|()| observe(gettid()));
        let _ = report.send(state);
        loop {
            // SAFETY: sleeps until a signal; SIGUSR1 is blocked in this thread.
            unsafe { libc::pause() };
        }
    })
    .map(drop)
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: sysconf takes an integer.
    let last = (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) - 1) as usize;
    let (tx, rx) = mpsc::channel();
    thread(|| nice(6).and_then(|()| policy(libc::SCHED_IDLE, 0)), &tx)?;
    thread(
        || nice(-3).and_then(|()| policy(libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, 7)),
        &tx,
    )?;
    thread(
        move || policy(libc::SCHED_RR, 3).and_then(|()| pin(last)),
        &tx,
    )?;
    thread(|| nice(12).and_then(|()| pin(0)), &tx)?;
    let mut want = Vec::new();
    for _ in 0..4 {
        want.push(rx.recv().map_err(|e| format!("a thread's report: {e}"))??);
    }
    // The main thread last, so that the threads did not inherit its state.
    policy(libc::SCHED_BATCH, 0)?;
    nice(5)?;
    want.push(observe(gettid())?);
    Ok(move || {
        wait_restored();
        for w in &want {
            check_eq(
                format!("thread {}'s scheduling state", w.tid),
                &observe(w.tid)?,
                w,
            )?;
        }
        Ok(())
    })
}

fn refuses_deadline() {
    let mut target = Target::spawn(|| {
        deadline()?;
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    target.expect_refused("SCHED_DEADLINE");
    target.finish();
}

fn main() {
    require_root();
    refuses_deadline();
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    effective(CAP_SYS_NICE, false);
    let result = target.try_restart(0);
    effective(CAP_SYS_NICE, true);
    target.expect_restart_errno(
        result,
        libc::EPERM,
        "restart without CAP_SYS_NICE of nice -3 and SCHED_FIFO",
    );
    if !target
        .klog()
        .iter()
        .any(|l| l.contains("the restarter may not set it"))
    {
        target.fail("no kernel log line says which scheduling state the restarter may not set");
    }
    target.restart();
    target.finish();
    pass("policies, nice values, priorities, reset-on-fork and affinity come back per thread; only for a restarter that may set them");
}
