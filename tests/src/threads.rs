//! Threads inside a target: raw pthreads (so that a thread may end in a bare `exit` system
//! call, which `std::thread` cannot join), and the per-thread state a restored thread checks.

use std::ffi::c_void;
use std::sync::Mutex;
use std::time::Duration;

use crate::proc::{blocked_mask, sigset_bits};
use crate::target::{check_eq, Check};

/// A thread's body: its checks after the restore, as a `Check`.
type Body = Box<dyn FnOnce() -> Check + Send>;

/// A started pthread; [`Thread::join`] returns what its body returned.
pub struct Thread {
    handle: libc::pthread_t,
    result: std::sync::Arc<Mutex<Option<Check>>>,
}

extern "C" fn thread_main(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the boxed pair leaked by `spawn`, handed to this thread only.
    let (body, result) =
        unsafe { *Box::from_raw(arg.cast::<(Body, std::sync::Arc<Mutex<Option<Check>>>)>()) };
    let r = body();
    if let Ok(mut slot) = result.lock() {
        *slot = Some(r);
    }
    std::ptr::null_mut()
}

/// Starts a pthread running `body`.
pub fn spawn(body: impl FnOnce() -> Check + Send + 'static) -> Result<Thread, String> {
    let result = std::sync::Arc::new(Mutex::new(None));
    let arg: Box<(Body, _)> = Box::new((Box::new(body), result.clone()));
    let arg = Box::into_raw(arg);
    // SAFETY: all-zero is a valid pthread_t to be overwritten.
    let mut handle: libc::pthread_t = unsafe { std::mem::zeroed() };
    // SAFETY: `thread_main` takes ownership of `arg`; default attributes.
    let r = unsafe { libc::pthread_create(&mut handle, std::ptr::null(), thread_main, arg.cast()) };
    if r != 0 {
        // SAFETY: the thread was not created: `arg` is still ours.
        drop(unsafe { Box::from_raw(arg) });
        return Err(format!("pthread_create: {}", crate::describe_errno(r)));
    }
    Ok(Thread { handle, result })
}

impl Thread {
    /// Waits up to `within` for the thread to end; its body's result, or why it has none. A
    /// join that times out means the kernel never cleared the thread's tid at its exit
    /// (`clear_child_tid`), or the thread hangs.
    pub fn join(self, within: Duration) -> Check {
        let mut deadline: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: `deadline` is valid for the write.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut deadline) };
        deadline.tv_sec += within.as_secs() as libc::time_t;
        // SAFETY: `handle` is a joinable thread of ours, joined once.
        let r = unsafe { libc::pthread_timedjoin_np(self.handle, std::ptr::null_mut(), &deadline) };
        if r != 0 {
            return Err(format!(
                "joining a thread: {} (its tid was not cleared at exit, or it hangs)",
                crate::describe_errno(r)
            ));
        }
        match self.result.lock().map(|mut r| r.take()) {
            Ok(Some(r)) => r,
            // It ended without returning: its body called exit itself.
            Ok(None) => Ok(()),
            Err(_) => Err("a thread's result is poisoned".into()),
        }
    }
}

/// The caller's thread id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

std::thread_local! {
    static MARK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// What a thread sees of itself that a restore must keep: its tid, its pthread handle (its fs
/// base), a thread-local value, its signal mask and its name.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    tid: libc::pid_t,
    handle: libc::pthread_t,
    mark: u64,
    mask: u64,
    name: [u8; 16],
}

fn thread_name() -> [u8; 16] {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes.
    unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
    name
}

impl Ident {
    /// Names the calling thread `name`, sets its thread-local mark and records who it is.
    pub fn take(name: &str) -> Ident {
        let mut c = [0u8; 16];
        let n = name.len().min(15);
        c[..n].copy_from_slice(&name.as_bytes()[..n]);
        // SAFETY: `c` is NUL-terminated.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
        let tid = gettid();
        MARK.with(|m| m.set(0x7ead_0000_0000 | tid as u64));
        Ident::now()
    }

    fn now() -> Ident {
        Ident {
            tid: gettid(),
            // SAFETY: pthread_self cannot fail.
            handle: unsafe { libc::pthread_self() },
            mark: MARK.with(|m| m.get()),
            mask: sigset_bits(&blocked_mask()),
            name: thread_name(),
        }
    }

    /// The thread's tid when it was taken.
    pub fn tid(&self) -> libc::pid_t {
        self.tid
    }

    /// `Ok` if the calling thread is still the one that took `self`.
    pub fn check(&self) -> Check {
        let now = Ident::now();
        let who = format!("thread {}", self.tid);
        check_eq(format!("{who}: tid"), now.tid, self.tid)?;
        check_eq(
            format!("{who}: pthread_self (fs base)"),
            now.handle,
            self.handle,
        )?;
        check_eq(format!("{who}: thread-local value"), now.mark, self.mark)?;
        check_eq(format!("{who}: blocked signals"), now.mask, self.mask)?;
        check_rseq()?;
        check_eq(
            format!("{who}: name"),
            String::from_utf8_lossy(&now.name).into_owned(),
            String::from_utf8_lossy(&self.name).into_owned(),
        )
    }
}

// Where glibc (2.35 and later) keeps the calling thread's rseq area: this offset from the
// thread pointer, and its registered size (0 when it registered none).
extern "C" {
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

/// The abort signature glibc registers on x86.
const RSEQ_SIG: u32 = 0x5305_3053;

/// The calling thread's rseq area as glibc registered it: (address, length), or `None` when
/// glibc registered none (a kernel without rseq, or the glibc.pthread.rseq tunable at 0).
pub fn rseq_area() -> Option<(usize, u32)> {
    // SAFETY: glibc sets both before main() and never changes them.
    let (offset, size) = unsafe { (__rseq_offset, __rseq_size) };
    if size == 0 {
        return None;
    }
    let tp: usize;
    // SAFETY: on x86_64 the word at %fs:0 is the thread pointer itself.
    unsafe {
        core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    // glibc registers at least the original 32-byte structure, even when it reports fewer
    // feature bytes in `__rseq_size`.
    Some((tp.wrapping_add_signed(offset), size.max(32)))
}

/// `Ok` if the calling thread's rseq area, when glibc registered one, is still registered
/// with the kernel. Registering it again fails with EBUSY then; it succeeds (and the check
/// fails) when the registration was lost, and the kernel no longer updates the CPU number
/// glibc reads from it.
pub fn check_rseq() -> Check {
    let Some((area, len)) = rseq_area() else {
        return Ok(());
    };
    // SAFETY: registers, at most, the thread's own area for itself.
    let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, 0, RSEQ_SIG) };
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match (r, errno) {
        (0, _) => Err(format!(
            "thread {}: rseq area {area:#x} was not registered",
            gettid()
        )),
        (_, libc::EBUSY) => Ok(()),
        _ => Err(crate::target::os_error(format!(
            "thread {}: registering rseq area {area:#x} ({len} bytes) again",
            gettid()
        ))),
    }
}

/// The thread ids of process `pid`, sorted, from /proc.
pub fn tids_of(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let mut tids: Vec<libc::pid_t> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// Blocks `signals` in the calling thread.
pub fn block(signals: &[libc::c_int]) -> Check {
    let set = crate::proc::sigset_of(signals);
    // SAFETY: `set` is a valid signal set; the old mask is not asked for.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    check_eq("pthread_sigmask", r, 0)
}

/// Takes the pending signal `sig` of the calling thread, which must be there, and returns
/// its siginfo.
pub fn take_pending(sig: libc::c_int) -> Result<libc::siginfo_t, String> {
    let set = crate::proc::sigset_of(&[sig]);
    // SAFETY: all-zero is a valid siginfo to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // The system call itself: glibc's sigtimedwait() reports SI_TKILL as SI_USER.
    // SAFETY: valid pointers and the kernel's sigset size; returns at once.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            &set as *const libc::sigset_t,
            &mut info as *mut libc::siginfo_t,
            &zero as *const libc::timespec,
            8usize,
        )
    };
    if r != sig as libc::c_long {
        return Err(format!(
            "thread {}: signal {sig} is not pending ({})",
            gettid(),
            crate::target::os_error("sigtimedwait")
        ));
    }
    Ok(info)
}

/// A one-way gate between threads: closed until [`Gate::open`].
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    cond: std::sync::Condvar,
}

impl Gate {
    pub fn open(&self) {
        if let Ok(mut open) = self.open.lock() {
            *open = true;
        }
        self.cond.notify_all();
    }

    /// Waits until the gate is open.
    pub fn wait(&self) {
        let Ok(mut open) = self.open.lock() else {
            return;
        };
        while !*open {
            match self.cond.wait(open) {
                Ok(o) => open = o,
                Err(_) => return,
            }
        }
    }
}

/// `waitpid(pid, __WNOTHREAD)`: succeeds only in the thread that is `pid`'s parent. Checks
/// that `pid` exited with `code`.
pub fn reap_own_child(pid: libc::pid_t, code: i32) -> Check {
    let mut status = 0;
    // SAFETY: `status` is valid for the write.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::__WNOTHREAD) };
    if r != pid {
        return Err(crate::target::os_error(format!(
            "thread {}: waitpid({pid}, __WNOTHREAD) (is it the parent?)",
            gettid()
        )));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code) {
        return Err(format!(
            "child {pid} {}, expected exit status {code}",
            crate::proc::wait_status_text(status)
        ));
    }
    Ok(())
}
