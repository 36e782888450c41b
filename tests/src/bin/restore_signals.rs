//! Signal state survives checkpoint and restart: handlers with their flags, masks and restorer,
//! ignored signals, the blocked mask, a pending blocked standard signal, queued real-time
//! signals with their sigqueue values (in order), and the alternate signal stack, on which an
//! SA_ONSTACK handler still runs.

use std::sync::atomic::{AtomicUsize, Ordering};

use cr_tests::mem::anon;
use cr_tests::proc::{blocked_mask, sigset_bits, sigset_of};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

const ALTSTACK: usize = 64 << 10;

/// Where the SIGUSR2 handler found its own stack frame.
static HANDLER_SP: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr2(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let local = 0u8;
    HANDLER_SP.store(&local as *const u8 as usize, Ordering::SeqCst);
}

extern "C" fn on_term(_: libc::c_int) {}

fn rt(n: libc::c_int) -> libc::c_int {
    libc::SIGRTMIN() + n
}

/// The signals whose disposition is compared.
fn watched() -> Vec<libc::c_int> {
    vec![
        libc::SIGUSR2,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGPIPE,
        libc::SIGUSR1,
        rt(1),
        rt(2),
    ]
}

/// A disposition as (handler, flags, mask, restorer).
fn disposition(sig: libc::c_int) -> Result<(usize, libc::c_int, u64, usize), String> {
    // SAFETY: a query only: sigaction writes `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        check_os(
            libc::sigaction(sig, std::ptr::null(), &mut old),
            format_args!("sigaction({sig})"),
        )?;
        let restorer = old.sa_restorer.map_or(0, |f| f as usize);
        Ok((
            old.sa_sigaction,
            old.sa_flags,
            sigset_bits(&old.sa_mask),
            restorer,
        ))
    }
}

fn set_handler(
    sig: libc::c_int,
    handler: usize,
    flags: libc::c_int,
    mask: &[libc::c_int],
) -> Check {
    // SAFETY: installs a handler that is async-signal-safe, or SIG_IGN.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = flags;
        sa.sa_mask = sigset_of(mask);
        check_os(
            libc::sigaction(sig, &sa, std::ptr::null_mut()),
            format_args!("sigaction({sig})"),
        )
    }
}

fn sigqueue(sig: libc::c_int, value: usize) -> Check {
    // SAFETY: rt_sigqueueinfo to ourselves with a siginfo filled as sigqueue(3) does.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let raw = &mut info as *mut libc::siginfo_t as *mut libc::c_int;
        *raw = sig; // si_signo
        *raw.add(2) = libc::SI_QUEUE; // si_code
        *raw.add(4) = libc::getpid(); // si_pid
        *raw.add(5) = libc::getuid() as libc::c_int; // si_uid
        *(raw.add(6) as *mut usize) = value; // si_value
        let r = libc::syscall(libc::SYS_rt_sigqueueinfo, libc::getpid(), sig, &info);
        check_os(r, format_args!("sigqueue({sig}, {value})"))
    }
}

struct Before {
    dispositions: Vec<(usize, libc::c_int, u64, usize)>,
    blocked: u64,
    pending: u64,
    altstack: libc::stack_t,
}

fn pending() -> u64 {
    // SAFETY: sigpending writes the set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        sigset_bits(&set)
    }
}

fn altstack() -> Result<libc::stack_t, String> {
    // SAFETY: a query only.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        check_os(libc::sigaltstack(std::ptr::null(), &mut old), "sigaltstack")?;
        Ok(old)
    }
}

fn setup() -> Result<Before, String> {
    let stack = anon(ALTSTACK)?;
    let ss = libc::stack_t {
        ss_sp: stack.ptr().cast(),
        ss_flags: 0,
        ss_size: ALTSTACK,
    };
    // SAFETY: `stack` is ours for good.
    check_os(
        unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) },
        "sigaltstack",
    )?;
    let usr2 = on_usr2 as *const () as usize;
    let flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    set_handler(libc::SIGUSR2, usr2, flags, &[libc::SIGINT, libc::SIGQUIT])?;
    let term = on_term as *const () as usize;
    set_handler(
        libc::SIGTERM,
        term,
        libc::SA_NODEFER | libc::SA_RESETHAND,
        &[rt(3)],
    )?;
    set_handler(libc::SIGHUP, libc::SIG_IGN, 0, &[])?;
    set_handler(libc::SIGPIPE, libc::SIG_IGN, 0, &[])?;
    let block = sigset_of(&[libc::SIGINT, libc::SIGWINCH, rt(1), rt(2)]);
    // SAFETY: blocks signals; kill sends one to ourselves, blocked.
    unsafe {
        check_os(
            libc::sigprocmask(libc::SIG_BLOCK, &block, std::ptr::null_mut()),
            "block",
        )?;
        check_os(
            libc::kill(libc::getpid(), libc::SIGINT),
            "kill(self, SIGINT)",
        )?;
    }
    sigqueue(rt(1), 1111)?;
    sigqueue(rt(2), 3333)?;
    sigqueue(rt(1), 2222)?;
    Ok(Before {
        dispositions: watched()
            .into_iter()
            .map(disposition)
            .collect::<Result<_, _>>()?,
        blocked: sigset_bits(&blocked_mask()),
        pending: pending(),
        altstack: altstack()?,
    })
}

/// Takes one pending signal of `sig` with sigtimedwait: (si_code, si_pid, si_value).
fn take(sig: libc::c_int) -> Result<(libc::c_int, libc::pid_t, usize), String> {
    let set = sigset_of(&[sig]);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: sigtimedwait writes `info`; the siginfo accessors read the union as the kernel
    // filled it for a queued or kill()ed signal.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let got = libc::sigtimedwait(&set, &mut info, &zero);
        check_os(got, format_args!("sigtimedwait for signal {sig}"))?;
        Ok((
            info.si_code,
            info.si_pid(),
            info.si_value().sival_ptr as usize,
        ))
    }
}

fn check(b: &Before) -> Check {
    for (sig, want) in watched().into_iter().zip(&b.dispositions) {
        check_eq(
            format_args!("signal {sig}'s (handler, flags, mask, restorer)"),
            disposition(sig)?,
            *want,
        )?;
    }
    check_eq(
        "blocked mask",
        format!("{:#x}", sigset_bits(&blocked_mask())),
        format!("{:#x}", b.blocked),
    )?;
    check_eq(
        "pending signals",
        format!("{:#x}", pending()),
        format!("{:#x}", b.pending),
    )?;
    let ss = altstack()?;
    check_eq(
        "sigaltstack (sp, size, flags)",
        (ss.ss_sp, ss.ss_size, ss.ss_flags),
        (b.altstack.ss_sp, b.altstack.ss_size, b.altstack.ss_flags),
    )?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    check_eq("queued signal", take(rt(1))?, (libc::SI_QUEUE, me, 1111))?;
    check_eq(
        "second queued signal",
        take(rt(1))?,
        (libc::SI_QUEUE, me, 2222),
    )?;
    check_eq(
        "other queued signal",
        take(rt(2))?,
        (libc::SI_QUEUE, me, 3333),
    )?;
    let (code, pid, _) = take(libc::SIGINT)?;
    check_eq(
        "pending SIGINT (si_code, si_pid)",
        (code, pid),
        (libc::SI_USER, me),
    )?;
    check_eq("pending signals after taking them", pending(), 0)?;
    // SAFETY: raise runs the SIGUSR2 handler, which only stores to an atomic.
    check_os(unsafe { libc::raise(libc::SIGUSR2) }, "raise(SIGUSR2)")?;
    let sp = HANDLER_SP.load(Ordering::SeqCst);
    let base = b.altstack.ss_sp as usize;
    if !(base..base + ALTSTACK).contains(&sp) {
        return Err(format!(
            "the SA_ONSTACK handler ran at {sp:#x}, not on the alternate stack at {base:#x}"
        ));
    }
    Ok(())
}

fn main() {
    let mut target = Target::spawn(|| {
        let before = setup()?;
        Ok(move || {
            wait_restored();
            check(&before)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("handlers, ignored and blocked signals, pending and queued signals, sigaltstack restored");
}
