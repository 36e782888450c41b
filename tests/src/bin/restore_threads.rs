//! A process of six threads comes back with all of them, and they go on where they were.
//!
//! - Three threads count under one pthread mutex (a shared counter and one of their own) and
//!   are frozen wherever they are: running, or asleep on the mutex's futex. After the restart
//!   they go on counting, and the counts still add up.
//! - Two threads sleep in pthread_cond_wait, one of them with a 120 s timeout: neither wakes
//!   before the broadcast that follows the restart, nor times out.
//! - One thread holds a robust mutex and, once woken, ends with a bare exit system call: the
//!   main thread can only join it if the kernel cleared its tid (`clear_child_tid`), and only
//!   gets EOWNERDEAD on the mutex if the kernel walked its robust list.
//!
//! Every thread checks its tid, pthread handle (fs base), a thread-local value, its own signal
//! mask and name, and takes the signal that was pending for it alone; the main thread also
//! takes a signal pending for the whole process. The test checks the thread ids from /proc and
//! that the counter did not go back.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use cr_tests::threads::{self, block, gettid, take_pending, tids_of, Ident, Thread};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

const COUNTERS: usize = 3;

/// A pthread object in a static.
struct Shared<T>(UnsafeCell<T>);
// SAFETY: only handed to the pthread functions, which synchronise themselves.
unsafe impl<T> Sync for Shared<T> {}
impl<T> Shared<T> {
    fn get(&self) -> *mut T {
        self.0.get()
    }
}

static LOCK: Shared<libc::pthread_mutex_t> =
    Shared(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
static COND: Shared<libc::pthread_cond_t> = Shared(UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER));
static ROBUST: Shared<libc::pthread_mutex_t> =
    Shared(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));

/// Under LOCK: the shared counter, each counter's own count, and the broadcast flag.
static COUNT: AtomicU64 = AtomicU64::new(0);
static OWN: [AtomicU64; COUNTERS] = [const { AtomicU64::new(0) }; COUNTERS];
static GO: AtomicBool = AtomicBool::new(false);
/// Set by the main thread after the restart: the counters stop.
static STOP: AtomicBool = AtomicBool::new(false);
/// Threads that finished their setup.
static SET_UP: AtomicU32 = AtomicU32::new(0);
/// Tids of the threads, in order, for the main thread's tgkill.
static TIDS: [AtomicU32; COUNTERS + 3] = [const { AtomicU32::new(0) }; COUNTERS + 3];

/// The signal pending for thread `i` alone (blocked in it).
fn own_signal(i: usize) -> libc::c_int {
    libc::SIGRTMIN() + 1 + i as libc::c_int
}

/// The signal pending for the whole process (blocked everywhere).
fn process_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

fn lock(m: &Shared<libc::pthread_mutex_t>) -> libc::c_int {
    // SAFETY: an initialised mutex in a static.
    unsafe { libc::pthread_mutex_lock(m.get()) }
}

extern "C" {
    fn pthread_mutex_timedlock(
        m: *mut libc::pthread_mutex_t,
        deadline: *const libc::timespec,
    ) -> libc::c_int;
}

/// Locks `m`, giving up after `secs` seconds.
fn lock_within(m: &Shared<libc::pthread_mutex_t>, secs: libc::time_t) -> libc::c_int {
    // SAFETY: all-zero is a valid timespec to be overwritten.
    let mut deadline: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `deadline` is valid for the write; the mutex is initialised.
    unsafe {
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut deadline);
        deadline.tv_sec += secs;
        pthread_mutex_timedlock(m.get(), &deadline)
    }
}

fn unlock(m: &Shared<libc::pthread_mutex_t>) {
    // SAFETY: locked by the caller.
    unsafe { libc::pthread_mutex_unlock(m.get()) };
}

/// Runs in each thread before the checkpoint: names it, blocks its own signal, records its
/// tid and identity.
fn set_up(i: usize, name: &str) -> Result<Ident, String> {
    block(&[own_signal(i)])?;
    let id = Ident::take(name);
    TIDS[i].store(gettid() as u32, Ordering::SeqCst);
    Ok(id)
}

/// The thread is where the checkpoint may find it.
fn in_place() {
    SET_UP.fetch_add(1, Ordering::SeqCst);
}

/// After the restart, in each thread: it is still itself, and its own signal waits for it.
fn check_self(i: usize, id: &Ident) -> Check {
    id.check()?;
    let info = take_pending(own_signal(i))?;
    check_eq(
        format!("thread {}: si_code of its signal", id.tid()),
        info.si_code,
        libc::SI_TKILL,
    )?;
    // SAFETY: the siginfo of a tgkill carries the sender's pid.
    check_eq(
        format!("thread {}: sender of its signal", id.tid()),
        unsafe { info.si_pid() },
        std::process::id() as i32,
    )
}

fn counter(i: usize) -> Result<Thread, String> {
    threads::spawn(move || {
        let id = set_up(i, &format!("count{i}"))?;
        in_place();
        while !STOP.load(Ordering::SeqCst) {
            lock(&LOCK);
            // Plain load and store: only correct under the mutex.
            COUNT.store(COUNT.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            OWN[i].store(OWN[i].load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            unlock(&LOCK);
        }
        check_self(i, &id)
    })
}

/// Waits on COND until GO, with a deadline 120 s away if `timed`; must not return before.
fn waiter(i: usize, timed: bool) -> Result<Thread, String> {
    threads::spawn(move || {
        let id = set_up(i, if timed { "timedwait" } else { "condwait" })?;
        // SAFETY: all-zero is a valid timespec to be overwritten.
        let mut deadline: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: `deadline` is valid for the write.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut deadline) };
        deadline.tv_sec += 120;
        lock(&LOCK);
        // Counted under LOCK, which the first wait releases: once the main thread holds
        // LOCK with every thread counted, this one is a waiter of COND.
        in_place();
        let mut early = 0;
        let mut r = 0;
        while !GO.load(Ordering::SeqCst) && r == 0 {
            // SAFETY: LOCK is held; COND and `deadline` are valid.
            r = unsafe {
                if timed {
                    libc::pthread_cond_timedwait(COND.get(), LOCK.get(), &deadline)
                } else {
                    libc::pthread_cond_wait(COND.get(), LOCK.get())
                }
            };
            if !GO.load(Ordering::SeqCst) {
                early += 1;
            }
        }
        unlock(&LOCK);
        check_eq(
            format!("thread {}: pthread_cond_wait result", id.tid()),
            r,
            0,
        )?;
        check_eq(
            format!("thread {}: returns before the broadcast", id.tid()),
            early,
            0,
        )?;
        check_self(i, &id)
    })
}

/// Holds ROBUST, waits for GO like a waiter, then exits without unlocking it.
fn robust(i: usize) -> Result<Thread, String> {
    threads::spawn(move || {
        let id = set_up(i, "robust")?;
        check_eq("lock the robust mutex", lock(&ROBUST), 0)?;
        lock(&LOCK);
        in_place();
        while !GO.load(Ordering::SeqCst) {
            // SAFETY: LOCK is held.
            unsafe { libc::pthread_cond_wait(COND.get(), LOCK.get()) };
        }
        unlock(&LOCK);
        check_self(i, &id)?;
        // SAFETY: ends this thread only, holding ROBUST; no Rust frame needs unwinding (the
        // closure's values are plain).
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        Err("exit returned".into())
    })
}

fn make_robust() -> Check {
    // SAFETY: plain attribute setup on locals and the static mutex, before any thread runs.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        check_eq(
            "robust attribute",
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST),
            0,
        )?;
        check_eq(
            "robust mutex init",
            libc::pthread_mutex_init(ROBUST.get(), &attr),
            0,
        )?;
        libc::pthread_mutexattr_destroy(&mut attr);
    }
    Ok(())
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    make_robust()?;
    // Blocked in every thread (they inherit it): pending for the process as a whole.
    block(&[process_signal()])?;
    let mut all = Vec::new();
    for i in 0..COUNTERS {
        all.push(counter(i)?);
    }
    all.push(waiter(COUNTERS, false)?);
    all.push(waiter(COUNTERS + 1, true)?);
    let robust = robust(COUNTERS + 2)?;
    loop {
        lock(&LOCK);
        let all_there = SET_UP.load(Ordering::SeqCst) == TIDS.len() as u32;
        unlock(&LOCK);
        if all_there {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // The three waiters asleep in their futex wait, not just about to.
    for tid in &TIDS[COUNTERS..] {
        let tid = tid.load(Ordering::SeqCst) as libc::pid_t;
        while cr_tests::proc::proc_state(tid) != Some('S') {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // SAFETY: kill/tgkill take integers; the tids are our own threads.
    unsafe {
        for (i, tid) in TIDS.iter().enumerate() {
            let tid = tid.load(Ordering::SeqCst) as libc::pid_t;
            if libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, own_signal(i)) != 0 {
                return Err(cr_tests::os_error(format!("tgkill {tid}")));
            }
        }
        if libc::kill(libc::getpid(), process_signal()) != 0 {
            return Err(cr_tests::os_error("kill"));
        }
    }
    let main_id = Ident::take("main");
    Ok(move || {
        wait_restored();
        main_id.check()?;
        let info = take_pending(process_signal())?;
        check_eq(
            "si_code of the process's signal",
            info.si_code,
            libc::SI_USER,
        )?;
        let before: Vec<u64> = OWN.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        std::thread::sleep(Duration::from_millis(300));
        STOP.store(true, Ordering::SeqCst);
        lock(&LOCK);
        GO.store(true, Ordering::SeqCst);
        // SAFETY: COND is initialised; LOCK is held.
        unsafe { libc::pthread_cond_broadcast(COND.get()) };
        unlock(&LOCK);
        let mut problems: Vec<String> = all
            .into_iter()
            .chain(std::iter::once(robust))
            .filter_map(|t| t.join(Duration::from_secs(20)).err())
            .collect();
        for (i, (own, was)) in OWN.iter().zip(&before).enumerate() {
            let own = own.load(Ordering::SeqCst);
            if own <= *was {
                problems.push(format!(
                    "counter {i} did not count after the restart ({was} -> {own})"
                ));
            }
        }
        let sum: u64 = OWN.iter().map(|c| c.load(Ordering::SeqCst)).sum();
        if sum != COUNT.load(Ordering::SeqCst) {
            problems.push(format!(
                "the counts add up to {sum}, the shared counter is {}",
                COUNT.load(Ordering::SeqCst)
            ));
        }
        let r = lock_within(&ROBUST, 10);
        if r != libc::EOWNERDEAD {
            problems.push(format!(
                "locking the robust mutex its owner left: got {r}, expected EOWNERDEAD"
            ));
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let tids = tids_of(target.pid());
    if tids.len() != 7 {
        target.fail(format!("the target should have 7 threads, has {tids:?}"));
    }
    let count = target.peek_u64(COUNT.as_ptr() as usize);
    target.checkpoint(KILL);
    target.restart();
    check_eq("thread ids after the restart", tids_of(target.pid()), tids)
        .unwrap_or_else(|e| target.fail(e));
    let now = target.peek_u64(COUNT.as_ptr() as usize);
    if now < count {
        target.fail(format!(
            "the shared counter went back from {count} to {now}"
        ));
    }
    target.finish();
    pass("six threads came back counting, waiting and holding a robust mutex, each with its own state");
}
