// SPDX-License-Identifier: GPL-2.0

//! A task's user-mode state as ptrace and signal delivery see it (x86_64): the regsets, the
//! TLS descriptors, the restart block of an interrupted sleep, and the return value the task
//! finds on its way back to user mode.
//!
//! The regsets read and write a task's user registers on its kernel stack, which is gone once
//! the task is dead: they are only for a user task that is not running and whose stack stays
//! (stopped by ptrace, frozen, or new and waiting), hence `unsafe`, as ptrace reaches them
//! only through a stopped tracee. The setters check the values they are given as the system
//! calls that set them do.
//!
//! C headers: [`include/linux/regset.h`](srctree/include/linux/regset.h),
//! [`include/linux/restart_block.h`](srctree/include/linux/restart_block.h),
//! [`arch/x86/include/asm/desc_defs.h`](srctree/arch/x86/include/asm/desc_defs.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::*, to_result, Error, Result},
    task::Task,
};
use core::ptr::{addr_of, addr_of_mut};

/// A regset of a 64-bit task, named by its ELF note type.
#[derive(Clone, Copy)]
pub struct Regset {
    rs: &'static bindings::user_regset,
}

/// The regsets C/R uses.
#[derive(Clone, Copy)]
pub enum Note {
    /// General registers with the segment bases (`NT_PRSTATUS`, `struct user_regs_struct`).
    General,
    /// The xsave area in its standard format (`NT_X86_XSTATE`).
    Xstate,
}

impl Regset {
    /// The regset `note` of `task`'s view (`task_user_regset_view()`); `ENODEV` if this machine
    /// has none (no xsave), or if the task is a 32-bit one, whose view is another.
    ///
    /// # Safety
    ///
    /// `task` must be a user task that does not run and whose stack stays for the call: its
    /// view depends on its user registers.
    pub unsafe fn find(task: &Task, note: Note) -> Result<Regset> {
        let note = match note {
            Note::General => bindings::NT_PRSTATUS,
            Note::Xstate => bindings::NT_X86_XSTATE,
        };
        // SAFETY: the task is valid; the view and its regsets are static tables.
        let view = unsafe { &*bindings::task_user_regset_view(task.as_ptr()) };
        // SAFETY: `regsets` is an array of `n` entries, static like the view.
        let all = unsafe { core::slice::from_raw_parts(view.regsets, view.n as usize) };
        // A regset without `active`/`set` is still listed; a zero-sized one is not usable.
        let rs = all
            .iter()
            .find(|rs| rs.core_note_type == note && rs.n != 0)
            .map(|rs| Regset { rs })
            .ok_or(ENODEV)?;
        // A 32-bit task's general registers are a `user_regs_struct32`.
        let general = core::mem::size_of::<bindings::user_regs_struct>();
        if note == bindings::NT_PRSTATUS && rs.size() != general {
            return Err(ENODEV);
        }
        Ok(rs)
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.rs.n as usize * self.rs.size as usize
    }

    /// Reads it from `task`, as `PTRACE_GETREGSET` does, into `buf` (at most [`Regset::size`]
    /// bytes are written). May sleep.
    ///
    /// # Safety
    ///
    /// `task` must be a user task that does not run and whose stack stays for the call, with
    /// its address space (the fs and gs bases of a CPU without FSGSBASE are read from the
    /// LDT).
    pub unsafe fn get(&self, task: &Task, buf: &mut [u8]) -> Result {
        let len = buf.len().min(self.size()) as u32;
        // SAFETY: the task and regset are valid, and the task's registers stay (caller); `buf`
        // holds at least `len` bytes.
        to_result(unsafe {
            bindings::regset_get(task.as_ptr(), self.rs, len, buf.as_mut_ptr().cast())
        })
    }

    /// Writes `buf` to it in `task`, as `PTRACE_SETREGSET` does, with its checks (user
    /// segment selectors, flags, bases below `TASK_SIZE_MAX`, xstate features this CPU allows);
    /// `EINVAL` if the regset cannot be written.
    ///
    /// # Safety
    ///
    /// As for [`Regset::get`], and `task` must not be the current task: it must not run until
    /// the call returns.
    pub unsafe fn set(&self, task: &Task, buf: &[u8]) -> Result {
        let set = self.rs.set.ok_or(EINVAL)?;
        if buf.len() > self.size() {
            return Err(EINVAL);
        }
        // SAFETY: the task and regset are valid and the task off its CPU (caller); a kernel
        // buffer of `buf.len()` bytes is passed, no user one.
        to_result(unsafe {
            set(
                task.as_ptr(),
                self.rs,
                0,
                buf.len() as u32,
                buf.as_ptr().cast(),
                core::ptr::null(),
            )
        })
    }
}

/// The size and the features of this machine's user xsave area (`fpu_user_cfg`).
pub fn xsave_config() -> (u32, u64) {
    // SAFETY: `fpu_user_cfg` is set up at boot and never changes afterwards.
    unsafe {
        (
            bindings::fpu_user_cfg.max_size,
            bindings::fpu_user_cfg.max_features,
        )
    }
}

/// One GDT TLS descriptor as its low and high words.
pub type TlsDesc = [u32; 2];

/// The number of TLS descriptors a task has (`GDT_ENTRY_TLS_ENTRIES`).
pub const TLS_ENTRIES: usize = bindings::GDT_ENTRY_TLS_ENTRIES as usize;

crate::static_assert!(core::mem::size_of::<bindings::desc_struct>() == 8);
// The descriptors are read and written as aligned words, though `desc_struct` is packed.
crate::static_assert!(core::mem::offset_of!(bindings::task_struct, thread) % 8 == 0);
crate::static_assert!(core::mem::offset_of!(bindings::thread_struct, tls_array) % 8 == 0);

/// Whether a TLS descriptor is one `set_thread_area()` could have made: empty, or what
/// `fill_ldt()` makes of a `user_desc` that `tls_desc_okay()` (arch/x86/kernel/tls.c)
/// accepts: a user (S = 1, DPL 3) data segment, 32-bit, present, accessed, not long mode. A
/// 16-bit segment would leak kernel stack bits through `iret` (espfix covers only the LDT),
/// code or not-present segments are an attack surface the kernel refuses to offer, and
/// loading one without its accessed bit would make the CPU write it into the read-only GDT:
/// an oops.
pub fn tls_desc_ok(desc: TlsDesc) -> bool {
    let [lo, hi] = desc;
    let ty = (hi >> 8) & 0xf;
    let s = (hi >> 12) & 1;
    let dpl = (hi >> 13) & 3;
    let present = (hi >> 15) & 1;
    let long = (hi >> 21) & 1;
    let big = (hi >> 22) & 1;
    // `contents` is `type >> 2`; above 1 is a code segment. Bit 0 is the accessed bit.
    let data = ty >> 2 <= 1;
    let accessed = ty & 1;
    (lo == 0 && hi == 0)
        || (s == 1 && dpl == 3 && present == 1 && big == 1 && data && accessed == 1 && long == 0)
}

impl Task {
    /// Its TLS descriptors (`thread.tls_array`), which it changes with `set_thread_area()`
    /// (and restart with [`Task::set_tls`]); each is read as one word.
    pub fn tls(&self) -> [TlsDesc; TLS_ENTRIES] {
        let mut out = [[0; 2]; TLS_ENTRIES];
        // SAFETY: the task is valid; each descriptor is an aligned 8-byte word, read once.
        let descs = unsafe { addr_of!((*self.as_ptr()).thread.tls_array) }.cast::<u64>();
        for (i, d) in out.iter_mut().enumerate() {
            // SAFETY: `i` is within the array.
            let w = unsafe { descs.add(i).read_volatile() };
            *d = [w as u32, (w >> 32) as u32];
        }
        out
    }

    /// Sets its TLS descriptors, loaded into the GDT when it is next switched in; `EINVAL`
    /// (and nothing set) unless each is one [`tls_desc_ok`] accepts.
    ///
    /// # Safety
    ///
    /// The task must be a user task that does not run until the call returns, and not the
    /// current task (whose GDT would keep the old ones).
    pub unsafe fn set_tls(&self, descs: &[TlsDesc; TLS_ENTRIES]) -> Result {
        if !descs.iter().all(|&d| tls_desc_ok(d)) {
            return Err(EINVAL);
        }
        // SAFETY: the task is valid; each descriptor is an aligned 8-byte word, written once,
        // so that even a task switched in meanwhile loads only checked ones.
        let slots = unsafe { addr_of_mut!((*self.as_ptr()).thread.tls_array) }.cast::<u64>();
        for (i, d) in descs.iter().enumerate() {
            // SAFETY: `i` is within the array.
            unsafe {
                slots
                    .add(i)
                    .write_volatile(u64::from(d[0]) | u64::from(d[1]) << 32)
            };
        }
        Ok(())
    }
}

impl Task {
    /// Whether a tracer left hardware breakpoints or watchpoints enabled in its debug
    /// registers (DR7, set with `PTRACE_POKEUSER`): they outlive the tracer's detach. Only a
    /// tracer changes them; the word is read once.
    pub fn has_hw_breakpoints(&self) -> bool {
        // SAFETY: the task is valid; the helper reads one word.
        unsafe { bindings::checkpoint_task_hw_breakpoints(self.as_ptr()) }
    }
}

/// What a task traps on in user mode: `rdtsc` (`PR_SET_TSC`), `cpuid` (`ARCH_SET_CPUID`) and
/// system calls outside a region (syscall user dispatch: the selector's address, the region's
/// start and length).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Traps {
    /// `rdtsc` faults.
    pub notsc: bool,
    /// `cpuid` faults.
    pub nocpuid: bool,
    /// Syscall user dispatch is on: selector, offset, length.
    pub dispatch: Option<(u64, u64, u64)>,
}

impl Task {
    /// What it traps on. It changes these itself, and a tracer may change its syscall user
    /// dispatch while it is stopped: one sample for a task frozen, or stopped with no tracer
    /// at work; for one that runs, the fields may come from either side of a change.
    pub fn traps(&self) -> Traps {
        let (mut notsc, mut nocpuid) = (false, false);
        let (mut selector, mut offset, mut len) = (0, 0, 0);
        // SAFETY: the task is valid; the helper reads its thread flags and dispatch fields.
        let dispatch = unsafe {
            bindings::checkpoint_task_traps(
                self.as_ptr(),
                &mut notsc,
                &mut nocpuid,
                &mut selector,
                &mut offset,
                &mut len,
            )
        };
        Traps {
            notsc,
            nocpuid,
            dispatch: dispatch.then_some((selector, offset, len)),
        }
    }

    /// Its rseq registration (rseq(2)): the area's address, its length and the signature,
    /// `None` if it has none. Only it changes it: one sample for a task that does not run;
    /// for one that runs, the fields may come from either side of a change.
    pub fn rseq(&self) -> Option<(u64, u32, u32)> {
        let (mut rseq, mut len, mut sig) = (0, 0, 0);
        // SAFETY: the task is valid; the helper reads three of its fields.
        unsafe { bindings::checkpoint_task_rseq(self.as_ptr(), &mut rseq, &mut len, &mut sig) }
            .then_some((rseq, len, sig))
    }
}

/// Makes `rdtsc` and `cpuid` fault for the current task or not, as `prctl(PR_SET_TSC)` and
/// `arch_prctl(ARCH_SET_CPUID)` do; `ENODEV` if `cpuid` is to fault on a CPU that cannot.
pub fn set_traps(notsc: bool, nocpuid: bool) -> Result {
    // SAFETY: acts on the current task only.
    to_result(unsafe { bindings::checkpoint_set_traps(notsc, nocpuid) })
}

/// Turns on syscall user dispatch for the current task, as
/// `prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON)` does, with its checks (`EINVAL`
/// for a region that wraps, `EFAULT` for a selector outside user space).
pub fn set_syscall_dispatch(selector: u64, offset: u64, len: u64) -> Result {
    // SAFETY: acts on the current task only; the selector is a user address, checked there.
    to_result(unsafe { bindings::checkpoint_set_syscall_dispatch(selector, offset, len) })
}

/// Registers `area` (`len` bytes, signature `sig`) as the current task's rseq area for
/// restart (`restart_rseq_register()`): rseq(2)'s checks of the arguments, but the area is not
/// read (its critical section is kept; a bad one faults on the way to user mode), and
/// `EBUSY` if the task has one. `EOPNOTSUPP` without `CONFIG_RSEQ`.
pub fn register_rseq(area: u64, len: u32, sig: u32) -> Result {
    #[cfg(all(CONFIG_CHECKPOINT, CONFIG_RSEQ))]
    // SAFETY: acts on the current task only; the area is a user address, checked there.
    return to_result(unsafe {
        bindings::restart_rseq_register(area as usize as *mut _, len, sig)
    });
    #[cfg(not(all(CONFIG_CHECKPOINT, CONFIG_RSEQ)))]
    {
        let _ = (area, len, sig);
        Err(EOPNOTSUPP)
    }
}

/// The clocks whose hrtimer bases a restart block's times are on, and their time now in
/// nanoseconds; `None` for another clock.
pub fn clock_now(clock: u32) -> Option<i64> {
    let offs = match clock {
        bindings::CLOCK_MONOTONIC => return Some(crate::time::Ktime::ktime_get().to_ns()),
        bindings::CLOCK_REALTIME => bindings::tk_offsets_TK_OFFS_REAL,
        bindings::CLOCK_BOOTTIME => bindings::tk_offsets_TK_OFFS_BOOT,
        bindings::CLOCK_TAI => bindings::tk_offsets_TK_OFFS_TAI,
        _ => return None,
    };
    // SAFETY: reading a clock has no preconditions.
    Some(unsafe { bindings::ktime_get_with_offset(offs) })
}

/// Kernel futex flags (kernel/futex/futex.h) a futex wait's restart block carries.
pub mod futex_flags {
    /// A 32-bit futex (`FLAGS_SIZE_32`).
    pub const SIZE_32: u32 = 0x2;
    /// The size bits.
    pub const SIZE_MASK: u32 = 0x3;
    /// Not private to the process (`FLAGS_SHARED`).
    pub const SHARED: u32 = 0x10;
    /// The timeout is on `CLOCK_REALTIME` (`FLAGS_CLOCKRT`).
    pub const CLOCKRT: u32 = 0x20;
    /// It has a timeout (`FLAGS_HAS_TIMEOUT`).
    pub const HAS_TIMEOUT: u32 = 0x40;
}

/// How a task's interrupted sleep resumes through `restart_syscall()`, for the sleeps whose
/// end is kept (the others cannot be resumed faithfully elsewhere).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestartBlock {
    /// `clock_nanosleep()`/`nanosleep()` until `expires` on `clock` (nanoseconds of its
    /// hrtimer base), writing the time left to `rmtp` in the `mode` format (`TT_*`).
    Nanosleep {
        /// The clock.
        clock: u32,
        /// `TT_NONE`, `TT_NATIVE` (`TT_COMPAT` is not for 64-bit tasks).
        mode: u32,
        /// Where the time left goes.
        rmtp: u64,
        /// The end.
        expires: i64,
    },
    /// `poll()`/`ppoll()` on `nfds` entries at `ufds`, until `end` (`CLOCK_MONOTONIC`
    /// nanoseconds), or for ever.
    Poll {
        /// The user array of `struct pollfd`.
        ufds: u64,
        /// Its length.
        nfds: u32,
        /// The end, if any.
        end: Option<i64>,
    },
    /// A futex wait, until `time` if `flags` has [`futex_flags::HAS_TIMEOUT`] (on
    /// `CLOCK_REALTIME` with [`futex_flags::CLOCKRT`], else `CLOCK_MONOTONIC`).
    Futex {
        /// The futex word.
        uaddr: u64,
        /// The value it was expected to hold.
        val: u32,
        /// [`futex_flags`].
        flags: u32,
        /// The wake bitset.
        bitset: u32,
        /// The end, if any (see `flags`).
        time: i64,
        /// The second futex of a requeue (unused by a plain wait).
        uaddr2: u64,
    },
}

fn fn_addr(f: unsafe extern "C" fn(*mut bindings::restart_block) -> crate::ffi::c_long) -> usize {
    f as usize
}

impl RestartBlock {
    /// Whether the system calls could have set it up: a clock hrtimers have, a `TT_*` mode of
    /// a 64-bit task, at most `i32::MAX` poll entries, only the flags of a 32-bit futex wait.
    pub fn is_valid(&self) -> bool {
        use futex_flags::*;
        match *self {
            RestartBlock::Nanosleep { clock, mode, .. } => {
                clock_now(clock).is_some() && mode <= bindings::timespec_type_TT_NATIVE
            }
            RestartBlock::Poll { nfds, .. } => nfds <= i32::MAX as u32,
            RestartBlock::Futex { flags, .. } => {
                flags & !(SIZE_MASK | SHARED | CLOCKRT | HAS_TIMEOUT) == 0
                    && flags & SIZE_MASK == SIZE_32
            }
        }
    }
}

impl Task {
    /// The restart block its interrupted system call resumes through, if it sleeps in one
    /// that does (`-ERESTART_RESTARTBLOCK`): `Some(None)` for a sleep whose end is not kept
    /// (`clock_nanosleep()` on a CPU-time or alarm clock) or an ia32 call made with
    /// `int $0x80` (with `IA32_EMULATION`), `None` if it sleeps in no such
    /// call or its stack is gone. For a task off its CPU, whose restart block only it changes.
    pub fn restart_block(&self) -> Option<Option<RestartBlock>> {
        // SAFETY: the task is valid; the helper pins its stack to read its registers.
        let f = unsafe { bindings::checkpoint_task_restart_fn(self.as_ptr()) }?;
        // SAFETY: the task is valid; the block is read through a raw pointer, field by field.
        let rb = unsafe { addr_of!((*self.as_ptr()).restart_block.__bindgen_anon_1) };
        let f = fn_addr(f);
        // SAFETY: the task is valid; `arch_data` is plain data only the task sets.
        let arch = unsafe { addr_of!((*self.as_ptr()).restart_block.arch_data).read_volatile() };
        if arch as u64 & u64::from(bindings::TS_COMPAT) != 0 {
            // An ia32 call (int $0x80 from a 64-bit task) restarts as one, which
            // `set_restart_block` does not make.
            return Some(None);
        }
        // SAFETY: the union member read is the one the restart function uses; every field is
        // plain data.
        Some(unsafe {
            if f == fn_addr(bindings::hrtimer_nanosleep_restart) {
                let n = addr_of!((*rb).nanosleep).read_volatile();
                Some(RestartBlock::Nanosleep {
                    clock: n.clockid as u32,
                    mode: n.type_,
                    rmtp: n.__bindgen_anon_1.rmtp as u64,
                    expires: n.expires as i64,
                })
            } else if f == fn_addr(bindings::do_restart_poll) {
                let p = addr_of!((*rb).poll).read_volatile();
                let end = (p.tv_sec as i64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(p.tv_nsec as i64);
                Some(RestartBlock::Poll {
                    ufds: p.ufds as u64,
                    nfds: p.nfds as u32,
                    end: (p.has_timeout != 0).then_some(end),
                })
            } else if f == fn_addr(bindings::futex_wait_restart) {
                let x = addr_of!((*rb).futex).read_volatile();
                Some(RestartBlock::Futex {
                    uaddr: x.uaddr as u64,
                    val: x.val,
                    flags: x.flags,
                    bitset: x.bitset,
                    time: x.time as i64,
                    uaddr2: x.uaddr2 as u64,
                })
            } else {
                None
            }
        })
    }

    /// Makes its interrupted sleep resume through `rb`, as a native 64-bit call (its `ax` must
    /// then be `-ERESTART_RESTARTBLOCK`); `EINVAL` unless [`RestartBlock::is_valid`].
    ///
    /// # Safety
    ///
    /// The task must be a user task that does not run until the call returns.
    pub unsafe fn set_restart_block(&self, rb: &RestartBlock) -> Result {
        if !rb.is_valid() {
            return Err(EINVAL);
        }
        // SAFETY: the task is valid and off its CPU (caller): nothing reads its restart block
        // meanwhile.
        let r = unsafe { &mut (*self.as_ptr()).restart_block };
        // A native 64-bit call (`get_nr_restart_syscall()` reads it; `restart_block()` does
        // not save an ia32 one), whatever the restarter's was.
        r.arch_data = 0;
        // Writing a union's fields is no hazard: the function reads the member written.
        let u = &mut r.__bindgen_anon_1;
        match *rb {
            RestartBlock::Nanosleep {
                clock,
                mode,
                rmtp,
                expires,
            } => {
                u.nanosleep.clockid = clock as _;
                u.nanosleep.type_ = mode;
                u.nanosleep.__bindgen_anon_1.rmtp = rmtp as _;
                u.nanosleep.expires = expires as u64;
                r.fn_ = Some(bindings::hrtimer_nanosleep_restart);
            }
            RestartBlock::Poll { ufds, nfds, end } => {
                let at = end.unwrap_or(0).max(0);
                u.poll.ufds = ufds as _;
                u.poll.nfds = nfds as _;
                u.poll.has_timeout = i32::from(end.is_some());
                u.poll.tv_sec = (at / 1_000_000_000) as _;
                u.poll.tv_nsec = (at % 1_000_000_000) as _;
                r.fn_ = Some(bindings::do_restart_poll);
            }
            RestartBlock::Futex {
                uaddr,
                val,
                flags,
                bitset,
                time,
                uaddr2,
            } => {
                u.futex.uaddr = uaddr as _;
                u.futex.val = val;
                u.futex.flags = flags;
                u.futex.bitset = bitset;
                u.futex.time = time as u64;
                u.futex.uaddr2 = uaddr2 as _;
                r.fn_ = Some(bindings::futex_wait_restart);
            }
        }
        Ok(())
    }
}

/// Whether a task whose registers hold `orig_ax` and `ax` is leaving an interrupted system
/// call: `orig_ax` the call, `ax` one of the `-ERESTART*` codes with which it asks the signal
/// code to restart it or end it with `EINTR`.
pub fn interrupted_call(orig_ax: u64, ax: u64) -> bool {
    let err = (ax as i64).wrapping_neg();
    (orig_ax as i64) >= 0
        && [
            bindings::ERESTARTSYS,
            bindings::ERESTARTNOINTR,
            bindings::ERESTARTNOHAND,
            bindings::ERESTART_RESTARTBLOCK,
        ]
        .into_iter()
        .any(|code| i64::from(code) == err)
}

/// A task_work that puts back `ax`, which `ret_from_fork` zeroes, and `orig_ax`.
#[repr(C)]
struct SyscallReturn {
    head: bindings::callback_head,
    ax: u64,
    orig_ax: u64,
}

/// Puts back the `ax` and `orig_ax` of the `SyscallReturn` whose `head` this is, and frees it.
///
/// # Safety
///
/// `head` must be the first field of a `SyscallReturn` leaked by [`set_syscall_return`], and the
/// current task the one it was queued on, as task_work runs it.
unsafe extern "C" fn restore_syscall_return(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of a leaked `SyscallReturn` (`repr(C)`), per the contract.
    let work = unsafe { KBox::from_raw(head.cast::<SyscallReturn>()) };
    // SAFETY: task_work runs in the task itself, whose user registers are in `pt_regs`.
    let regs = unsafe { &mut *bindings::task_pt_regs(bindings::get_current()) };
    regs.ax = work.ax as _;
    regs.orig_ax = work.orig_ax as _;
    if interrupted_call(work.orig_ax, work.ax) {
        // As a task woken in the call by a signal: through the signal code, whatever is
        // pending by then. Another round of the exit-to-user loop runs it if nothing is.
        // SAFETY: the current task sets a flag of its own.
        unsafe {
            bindings::set_tsk_thread_flag(bindings::get_current(), bindings::TIF_SIGPENDING as _)
        };
    }
}

/// Makes the current task set its `ax` (the return value user mode sees) and `orig_ax` (the
/// system call it is in, or -1) on its way back to user mode, after anything in the kernel
/// that sets them (`ret_from_fork` zeroes `ax`). Meant for a new task before it first returns,
/// with `orig_ax` -1 until then, so that nothing on the way (the syscall-exit tracepoint)
/// takes it for the end of a call. If `orig_ax` names a system call and `ax` is one of the
/// `-ERESTART*` codes, the task returns from that call as a task woken in it does, through
/// the signal code: a handler of a signal pending by then ends the call with `EINTR` or
/// restarts it (as the code and `SA_RESTART` say); without one, the call restarts. The
/// task_work runs before any signal is taken (`get_signal()` runs it first), so signal
/// delivery never sees the registers it replaces. `EINVAL` for a kernel thread.
pub fn set_syscall_return(ax: u64, orig_ax: u64) -> Result {
    // SAFETY: the current task is valid while it runs; `PF_KTHREAD` is fixed.
    if unsafe { (*bindings::get_current()).flags } & bindings::PF_KTHREAD != 0 {
        return Err(EINVAL);
    }
    let work = KBox::new(
        SyscallReturn {
            // SAFETY: an all-zero callback head is a valid unqueued one.
            head: unsafe { core::mem::zeroed() },
            ax,
            orig_ax,
        },
        GFP_KERNEL,
    )?;
    let work = KBox::into_raw(work);
    // SAFETY: `work` is a valid, leaked `SyscallReturn`; on success the task_work owns it and
    // `restore_syscall_return` frees it (also when the task exits before returning to user mode).
    unsafe {
        bindings::init_task_work(addr_of_mut!((*work).head), Some(restore_syscall_return));
        let ret = bindings::task_work_add(
            bindings::get_current(),
            addr_of_mut!((*work).head),
            bindings::task_work_notify_mode_TWA_RESUME,
        );
        if ret != 0 {
            drop(KBox::from_raw(work));
            return Err(Error::from_errno(ret));
        }
    }
    Ok(())
}
