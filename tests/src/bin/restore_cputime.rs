//! CPU time goes on from where it was: after a restart, a process's CPU-time clock, each
//! thread's, times(2) with its user and system split and /proc/PID/stat read at least what
//! they read before the checkpoint, and little more; getrusage() and times() for its reaped
//! children read the same. The time of an exited thread still counts for its process, a
//! zombie's for its parent once reaped, and RLIMIT_CPU counts what the process used before.
//!
//! ```text
//! root   burns user and system time; a thread that burns and sleeps, one that burns and
//! │      exits; a child that burned, reaped
//! └── z  zombie that burned
//! ```
//!
//! Before CPU time was restored, every clock started again near zero.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use cr_tests::tree::zombie;
use cr_tests::{check_os, pass, threads, wait_restored, Check, Target, KILL};

/// Nanoseconds of `clock`.
fn clock_ns(clock: libc::clockid_t) -> Result<u64, String> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes.
    check_os(
        unsafe { libc::clock_gettime(clock, &mut ts) },
        "clock_gettime",
    )?;
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The CPU-time clock of thread `tid` of the caller's process (MAKE_THREAD_CPUCLOCK).
fn thread_clock(tid: libc::pid_t) -> libc::clockid_t {
    (!tid << 3) | 6
}

/// Burns about `ms` of the caller's CPU time in user mode.
fn burn_user(ms: u64) -> Check {
    let clock = libc::CLOCK_THREAD_CPUTIME_ID;
    let end = clock_ns(clock)? + ms * 1_000_000;
    let mut x = 1u64;
    while clock_ns(clock)? < end {
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    Ok(())
}

/// Burns about `ms` of the caller's CPU time mostly in the kernel, copying zeroes.
fn burn_system(ms: u64) -> Check {
    use std::io::Read;
    let clock = libc::CLOCK_THREAD_CPUTIME_ID;
    let end = clock_ns(clock)? + ms * 1_000_000;
    let mut zero = std::fs::File::open("/dev/zero").map_err(|e| format!("/dev/zero: {e}"))?;
    let mut buf = vec![1u8; 1 << 20];
    while clock_ns(clock)? < end {
        zero.read_exact(&mut buf)
            .map_err(|e| format!("read /dev/zero: {e}"))?;
    }
    Ok(())
}

/// What the root reads of its CPU time, in nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Reading {
    process: u64,
    main: u64,
    sleeper: u64,
    /// times(2): user, system, children's user and system.
    times: [u64; 4],
    /// /proc/self/stat utime and stime.
    stat: [u64; 2],
    /// getrusage(RUSAGE_CHILDREN) user plus system.
    children: u64,
}

fn ticks_ns(ticks: u64) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * 1_000_000_000 / hz
}

fn read(sleeper: libc::pid_t) -> Result<Reading, String> {
    // SAFETY: an all-zero tms is valid; times() fills it.
    let mut t: libc::tms = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is valid for writes.
    check_os(unsafe { libc::times(&mut t) }, "times")?;
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("stat: {e}"))?;
    let after = &stat[stat.rfind(')').ok_or("no comm in stat")? + 2..];
    let field = |n: usize| -> Result<u64, String> {
        after
            .split(' ')
            .nth(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or(format!("stat field {n}"))
    };
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writes.
    check_os(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        "getrusage",
    )?;
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    Ok(Reading {
        process: clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)?,
        main: clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)?,
        sleeper: clock_ns(thread_clock(sleeper))?,
        times: [t.tms_utime, t.tms_stime, t.tms_cutime, t.tms_cstime].map(|x| ticks_ns(x as u64)),
        stat: [ticks_ns(field(14)?), ticks_ns(field(15)?)],
        children: tv(ru.ru_utime) + tv(ru.ru_stime),
    })
}

/// Each value of `after` is at least the one `before` had, and at most 250 ms more (the
/// restore itself takes up to 100 ms of the process's time in the test guest: counting a
/// thread's time or the exited thread's twice is more); the reaped children's are equal.
fn compare(before: &Reading, after: &Reading) -> Check {
    let pairs = [
        ("process clock", before.process, after.process),
        ("main thread's clock", before.main, after.main),
        ("sleeping thread's clock", before.sleeper, after.sleeper),
        ("times() user", before.times[0], after.times[0]),
        ("times() system", before.times[1], after.times[1]),
        ("times() children's user", before.times[2], after.times[2]),
        ("times() children's system", before.times[3], after.times[3]),
        ("stat utime", before.stat[0], after.stat[0]),
        ("stat stime", before.stat[1], after.stat[1]),
        ("getrusage children", before.children, after.children),
    ];
    let slack = 250_000_000;
    for (what, b, a) in pairs {
        let children = what.contains("children");
        if a < b || a > b + slack || children && a != b {
            return Err(format!("{what}: {a} ns after the restart, {b} ns before"));
        }
    }
    Ok(())
}

static XCPU: AtomicBool = AtomicBool::new(false);

extern "C" fn on_xcpu(_: libc::c_int) {
    XCPU.store(true, Ordering::SeqCst);
}

/// Sets a soft RLIMIT_CPU of one second and expects SIGXCPU within 300 ms of CPU time.
fn over_cpu_limit() -> Check {
    // SAFETY: an all-zero sigaction is valid; the handler only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_xcpu as *const () as usize;
        check_os(
            libc::sigaction(libc::SIGXCPU, &sa, std::ptr::null_mut()),
            "sigaction",
        )?;
    }
    let limit = libc::rlimit {
        rlim_cur: 1,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `limit` is valid for the call.
    check_os(
        unsafe { libc::setrlimit(libc::RLIMIT_CPU, &limit) },
        "setrlimit",
    )?;
    let clock = libc::CLOCK_THREAD_CPUTIME_ID;
    let end = clock_ns(clock)? + 300_000_000;
    while !XCPU.load(Ordering::SeqCst) && clock_ns(clock)? < end {
        std::hint::spin_loop();
    }
    match XCPU.load(Ordering::SeqCst) {
        true => Ok(()),
        false => Err(
            "no SIGXCPU from a soft RLIMIT_CPU of 1 s, 300 ms of CPU time after it was set".into(),
        ),
    }
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    static SLEEPER: AtomicI32 = AtomicI32::new(0);
    let sleeper = threads::spawn(|| {
        burn_user(300)?;
        SLEEPER.store(threads::gettid(), Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    })?;
    threads::spawn(|| burn_user(300))?.join(Duration::from_secs(60))?;
    // A child that burns, reaped: the children's times.
    let child = cr_tests::Child::spawn(|| match burn_user(300) {
        Ok(()) => 0,
        Err(_) => 1,
    });
    child.wait();
    let z = zombie(|| {
        let _ = burn_user(300);
    })?;
    burn_user(400)?;
    burn_system(400)?;
    while SLEEPER.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let tid = SLEEPER.load(Ordering::SeqCst);
    let before = read(tid)?;
    // Meaningful only if each was counted at all.
    if before.times[1] < 100_000_000
        || before.children < 200_000_000
        || before.sleeper < 200_000_000
    {
        return Err(format!("too little CPU time to compare: {before:?}"));
    }
    Ok(move || {
        wait_restored();
        let after = read(tid)?;
        compare(&before, &after)?;
        // RLIMIT_CPU counts the user and system time restored: a soft limit of one second,
        // which the process is past, sends SIGXCPU at once.
        over_cpu_limit()?;
        // The zombie's time reaches the children's once it is reaped.
        let status = cr::sys::waitpid(z).map_err(|e| format!("wait for {z}: {e}"))?;
        let _ = status;
        let reaped = read(tid)?;
        let added = reaped.children - after.children;
        if !(250_000_000..800_000_000).contains(&added) {
            return Err(format!(
                "reaping the zombie added {added} ns to the children's time; it had burned 300 ms"
            ));
        }
        drop(sleeper);
        Ok(())
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("CPU time of a process, its threads (one exited), its reaped children and a zombie goes on after restart");
}
