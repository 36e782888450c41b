//! The POSIX timers restart cannot create again are refused with EOPNOTSUPP and a log line
//! naming the timer: one on a CPU-time clock (not restored yet), and one whose
//! SIGEV_THREAD_ID thread exited (timer_create() would refuse it). The target keeps running,
//! its timer as it was.

use cr_tests::{check_os, pass, Check, Refusal};

/// The timer the setup made: the kernel's timer IDs of a process start at 0.
const ID: libc::timer_t = std::ptr::null_mut();

fn create(clock: libc::clockid_t, notify: libc::c_int, tid: libc::pid_t) -> Check {
    // SAFETY: an all-zero sigevent is valid; the fields that matter are set below.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    ev.sigev_notify = notify;
    ev.sigev_signo = libc::SIGRTMIN();
    ev.sigev_notify_thread_id = tid;
    let mut id: libc::timer_t = std::ptr::null_mut();
    // SAFETY: `ev` and `id` are valid for the call.
    check_os(
        unsafe { libc::timer_create(clock, &mut ev, &mut id) },
        "timer_create",
    )?;
    if id != ID {
        return Err(format!("the first timer has ID {id:?}"));
    }
    let its = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: 600,
            tv_nsec: 0,
        },
    };
    // SAFETY: `id` is the timer just made; the old value is not asked for.
    check_os(
        unsafe { libc::timer_settime(id, 0, &its, std::ptr::null_mut()) },
        "timer_settime",
    )
}

/// The timer is still there, armed for up to 600 s.
fn armed() -> Check {
    // SAFETY: all-zero is a valid itimerspec, overwritten by the call.
    let mut left: libc::itimerspec = unsafe { std::mem::zeroed() };
    // SAFETY: `left` is valid for the write.
    check_os(
        unsafe { libc::timer_gettime(ID, &mut left) },
        "timer_gettime",
    )?;
    match left.it_value.tv_sec {
        0..=600 if left.it_value.tv_sec + left.it_value.tv_nsec > 0 => Ok(()),
        s => Err(format!("the timer has {s} s left, armed for 600 s")),
    }
}

static CPU_CLOCK: Refusal = Refusal {
    setup: || create(libc::CLOCK_PROCESS_CPUTIME_ID, libc::SIGEV_NONE, 0),
    named: "POSIX timer 0 is on a CPU-time clock",
    works: armed,
};

static EXITED_THREAD: Refusal = Refusal {
    setup: || {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (exit_tx, exit_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            // Lives until the timer that signals it is made.
            let _ = exit_rx.recv();
        });
        let tid = tid_rx.recv().map_err(|e| e.to_string())?;
        let made = create(
            libc::CLOCK_MONOTONIC,
            libc::SIGEV_SIGNAL | libc::SIGEV_THREAD_ID,
            tid,
        );
        drop(exit_tx);
        thread
            .join()
            .map_err(|_| "the thread panicked".to_string())?;
        // join() returns once the thread cleared its tid, before its pid is released.
        let gone = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
            if std::time::Instant::now() > gone {
                return Err(format!("thread {tid} still in /proc/self/task after 10 s"));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        made
    },
    named: "signals thread",
    works: armed,
};

fn main() {
    CPU_CLOCK.refused().finish();
    EXITED_THREAD.refused().finish();
    pass("POSIX timers on a CPU-time clock or signalling an exited thread are refused by name");
}
