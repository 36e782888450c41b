// SPDX-License-Identifier: GPL-2.0

//! Registers (x86_64): general registers with the fs/gs bases, the xsave area, and the TLS
//! descriptors.
//!
//! Both directions go through the ptrace regsets, which validate what they are given (user
//! segment selectors, flags, bases below `TASK_SIZE_MAX`, xstate features this CPU allows).
//! They act on a task that is off its CPU: the frozen target, or at restart the new task while
//! it waits for the restarter.

use crate::image::{Dumper, Restorer};
use crate::{abi, abi::Record, abi::RecordType, log};
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::task::Task;

/// ELF note types naming the regsets.
const NT_PRSTATUS: u32 = bindings::NT_PRSTATUS;
const NT_X86_XSTATE: u32 = bindings::NT_X86_XSTATE;

/// User code and stack segment selectors of 64-bit tasks.
const USER_CS: u64 = bindings::__USER_CS as u64;
const USER_DS: u64 = bindings::__USER_DS as u64;

/// Offset of `xstate_bv` in a standard-format xsave area.
const XSTATE_BV_OFFSET: usize = 512;

kernel::static_assert!(abi::Regs::SIZE == core::mem::size_of::<bindings::user_regs_struct>());

/// The regset of `task` with ELF note type `note`.
fn regset(task: *mut bindings::task_struct, note: u32) -> Result<&'static bindings::user_regset> {
    // SAFETY: `task` is valid; the view and its regsets are static tables.
    let view = unsafe { &*bindings::task_user_regset_view(task) };
    for i in 0..view.n as usize {
        // SAFETY: `regsets` has `n` entries.
        let rs = unsafe { &*view.regsets.add(i) };
        if rs.core_note_type == note {
            return Ok(rs);
        }
    }
    Err(ENODEV)
}

fn regset_size(rs: &bindings::user_regset) -> usize {
    rs.n as usize * rs.size as usize
}

fn get(task: &Task, rs: &bindings::user_regset, buf: &mut [u8]) -> Result {
    // SAFETY: the task is valid and off its CPU; `buf` holds `buf.len()` bytes.
    let ret = unsafe {
        bindings::regset_get(task.as_ptr(), rs, buf.len() as u32, buf.as_mut_ptr().cast())
    };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

fn set(task: &Task, rs: &bindings::user_regset, buf: &[u8]) -> Result {
    let set = rs.set.ok_or(EINVAL)?;
    // SAFETY: the task is valid and off its CPU; a kernel buffer is passed, no user one.
    let ret = unsafe {
        set(
            task.as_ptr(),
            rs,
            0,
            buf.len() as u32,
            buf.as_ptr().cast(),
            core::ptr::null(),
        )
    };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Size and features of this machine's user xsave area.
pub(crate) fn xsave_config() -> (u32, u64) {
    // SAFETY: `fpu_user_cfg` is set up at boot and never changes afterwards.
    unsafe {
        (
            bindings::fpu_user_cfg.max_size,
            bindings::fpu_user_cfg.max_features,
        )
    }
}

/// Writes the `Regs`, `XsaveInfo`, `Xsave` and `Tls` records of a frozen task; `returns` is
/// the value of the system call it sleeps in, for one that is known to return it.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task, returns: Option<i32>) -> Result {
    let t = task.as_ptr();
    let mut regs = [0u8; abi::Regs::SIZE];
    get(task, regset(t, NT_PRSTATUS)?, &mut regs)?;
    let mut regs = abi::Regs::decode(&regs);
    if let Some(v) = returns {
        regs.ax = i64::from(v) as u64;
    }
    d.record(&regs)?;
    if let Some(rb) = saved_restart_block(task, &regs) {
        d.record(&rb)?;
    }

    if let Ok(rs) = regset(t, NT_X86_XSTATE) {
        let mut area = KVec::from_elem(0u8, regset_size(rs), GFP_KERNEL)?;
        if get(task, rs, &mut area).is_ok() {
            let bv = area
                .get(XSTATE_BV_OFFSET..XSTATE_BV_OFFSET + 8)
                .unwrap_or(&[0; 8]);
            let features = u64::from_le_bytes(bv.try_into().unwrap_or([0; 8]));
            d.record(&abi::XsaveInfo {
                features,
                size: area.len() as u32,
                format: abi::XSAVE_FMT_STANDARD,
            })?;
            d.raw(RecordType::Xsave, &area)?;
        }
    }

    let mut tls = abi::Tls::default();
    // SAFETY: the task is frozen; its GDT TLS entries change only by its own set_thread_area.
    let descs = unsafe { &(*t).thread.tls_array };
    for (i, desc) in descs.iter().enumerate() {
        // SAFETY: a `desc_struct` is two 32-bit words of bitfields.
        let words: [u32; 2] = unsafe { core::mem::transmute_copy(desc) };
        tls.desc[2 * i] = words[0];
        tls.desc[2 * i + 1] = words[1];
    }
    d.record(&tls)
}

/// `-ERESTART_RESTARTBLOCK` in `ax`: the interrupted call resumes through `restart_block`.
const RESTARTBLOCK: i64 = -(bindings::ERESTART_RESTARTBLOCK as i64);
/// `__NR_restart_syscall`.
const NR_RESTART_SYSCALL: u64 = bindings::__NR_restart_syscall as u64;
/// Kernel futex flags (kernel/futex/futex.h) a restored futex wait may carry.
const FUTEX_SIZE_32: u32 = 0x2;
const FUTEX_SHARED: u32 = 0x10;
const FUTEX_CLOCKRT: u32 = 0x20;
const FUTEX_HAS_TIMEOUT: u32 = 0x40;

/// The current time of `clock` in the base hrtimers use for it, in nanoseconds.
fn clock_now(clock: u32) -> Option<i64> {
    let offs = match clock {
        bindings::CLOCK_MONOTONIC => return Some(monotonic_now()),
        bindings::CLOCK_REALTIME => bindings::tk_offsets_TK_OFFS_REAL,
        bindings::CLOCK_BOOTTIME => bindings::tk_offsets_TK_OFFS_BOOT,
        bindings::CLOCK_TAI => bindings::tk_offsets_TK_OFFS_TAI,
        _ => return None,
    };
    // SAFETY: reading a clock has no preconditions.
    Some(unsafe { bindings::ktime_get_with_offset(offs) })
}

fn monotonic_now() -> i64 {
    kernel::time::Ktime::ktime_get().to_ns()
}

fn fn_addr(f: unsafe extern "C" fn(*mut bindings::restart_block) -> kernel::ffi::c_long) -> usize {
    f as *const () as usize
}

/// Why the frozen `task` cannot be saved in the call it sleeps in, if so: one that resumes
/// through its restart block, but not with a time left restart can keep. In 6.12 these are
/// clock_nanosleep() on a CPU-time or an alarm clock; issued again, it would sleep its whole
/// time once more. (An absolute sleep on a CPU-time clock is issued again, against the CPU
/// time that restarts from zero: see the inventory.)
pub(crate) fn unsupported_sleep(task: &Task) -> Option<&'static str> {
    // SAFETY: `task` is valid and frozen; the helper pins its stack to read its registers.
    let f = unsafe { bindings::checkpoint_task_restart_fn(task.as_ptr()) }?;
    let kept = [
        fn_addr(bindings::hrtimer_nanosleep_restart),
        fn_addr(bindings::do_restart_poll),
        fn_addr(bindings::futex_wait_restart),
    ];
    (!kept.contains(&fn_addr(f))).then_some(
        "sleeps in a system call whose time left is not saved (clock_nanosleep() on a CPU-time or alarm clock)",
    )
}

/// The timed sleep a frozen task was in, as a `RestartBlock` record, if it is one restart can
/// resume with its remaining time.
fn saved_restart_block(task: &Task, regs: &abi::Regs) -> Option<abi::RestartBlock> {
    if (regs.orig_ax as i64) < 0 || regs.ax as i64 != RESTARTBLOCK {
        return None;
    }
    // SAFETY: the task is frozen; only it changes its restart block.
    let rb = unsafe { &(*task.as_ptr()).restart_block };
    let f = rb.fn_? as *const () as usize;
    let left = |end: i64, now: i64| end.saturating_sub(now).max(0);
    // SAFETY: the union member read is the one the restart function uses.
    unsafe {
        if f == fn_addr(bindings::hrtimer_nanosleep_restart) {
            let n = &rb.__bindgen_anon_1.nanosleep;
            let clock = n.clockid as u32;
            Some(abi::RestartBlock {
                kind: abi::RESTART_NANOSLEEP,
                clock,
                remaining_ns: left(n.expires as i64, clock_now(clock)?),
                args: [n.type_ as u64, n.__bindgen_anon_1.rmtp as u64, 0, 0],
            })
        } else if f == fn_addr(bindings::do_restart_poll) {
            let p = &rb.__bindgen_anon_1.poll;
            let end = (p.tv_sec as i64)
                .saturating_mul(1_000_000_000)
                .saturating_add(p.tv_nsec as i64);
            Some(abi::RestartBlock {
                kind: abi::RESTART_POLL,
                clock: bindings::CLOCK_MONOTONIC,
                remaining_ns: if p.has_timeout != 0 {
                    left(end, monotonic_now())
                } else {
                    -1
                },
                args: [p.ufds as u64, p.nfds as u64, 0, 0],
            })
        } else if f == fn_addr(bindings::futex_wait_restart) {
            let x = &rb.__bindgen_anon_1.futex;
            let clock = if x.flags & FUTEX_CLOCKRT != 0 {
                bindings::CLOCK_REALTIME
            } else {
                bindings::CLOCK_MONOTONIC
            };
            Some(abi::RestartBlock {
                kind: abi::RESTART_FUTEX,
                clock: x.flags,
                remaining_ns: if x.flags & FUTEX_HAS_TIMEOUT != 0 {
                    left(x.time as i64, clock_now(clock)?)
                } else {
                    -1
                },
                args: [
                    x.uaddr as u64,
                    u64::from(x.val),
                    u64::from(x.bitset),
                    x.uaddr2 as u64,
                ],
            })
        } else {
            None
        }
    }
}

/// Checks a `RestartBlock` from an image.
fn restart_block_ok(rb: &abi::RestartBlock) -> bool {
    match rb.kind {
        abi::RESTART_NANOSLEEP => {
            clock_now(rb.clock).is_some()
                && rb.args[0] <= bindings::timespec_type_TT_NATIVE as u64
                && rb.remaining_ns >= 0
        }
        abi::RESTART_POLL => rb.args[1] <= i32::MAX as u64,
        abi::RESTART_FUTEX => {
            let allowed = FUTEX_SIZE_32 | FUTEX_SHARED | FUTEX_CLOCKRT | FUTEX_HAS_TIMEOUT;
            rb.clock & !allowed == 0
                && rb.clock & 3 == FUTEX_SIZE_32
                && rb.args[1] <= u64::from(u32::MAX)
                && rb.args[2] <= u64::from(u32::MAX)
                && (rb.clock & FUTEX_HAS_TIMEOUT == 0) == (rb.remaining_ns < 0)
        }
        _ => false,
    }
}

/// Sets the restart block of `task`, a restored task off its CPU, to resume its sleep with
/// the time it had left.
fn set_restart_block(task: &Task, rb: &abi::RestartBlock) {
    // SAFETY: the task is off its CPU and has not run user code; nothing else reads its
    // restart block until it returns to user mode.
    unsafe {
        let r = &mut (*task.as_ptr()).restart_block;
        let u = &mut r.__bindgen_anon_1;
        match rb.kind {
            abi::RESTART_NANOSLEEP => {
                let now = clock_now(rb.clock).unwrap_or(0);
                u.nanosleep.clockid = rb.clock as _;
                u.nanosleep.type_ = rb.args[0] as _;
                u.nanosleep.__bindgen_anon_1.rmtp = rb.args[1] as _;
                u.nanosleep.expires = now.saturating_add(rb.remaining_ns) as u64;
                r.fn_ = Some(bindings::hrtimer_nanosleep_restart);
            }
            abi::RESTART_POLL => {
                let end = monotonic_now().saturating_add(rb.remaining_ns.max(0));
                u.poll.ufds = rb.args[0] as _;
                u.poll.nfds = rb.args[1] as _;
                u.poll.has_timeout = i32::from(rb.remaining_ns >= 0);
                u.poll.tv_sec = (end / 1_000_000_000) as _;
                u.poll.tv_nsec = (end % 1_000_000_000) as _;
                r.fn_ = Some(bindings::do_restart_poll);
            }
            _ => {
                let clock = if rb.clock & FUTEX_CLOCKRT != 0 {
                    bindings::CLOCK_REALTIME
                } else {
                    bindings::CLOCK_MONOTONIC
                };
                let now = clock_now(clock).unwrap_or(0);
                u.futex.uaddr = rb.args[0] as _;
                u.futex.val = rb.args[1] as u32;
                u.futex.flags = rb.clock;
                u.futex.bitset = rb.args[2] as u32;
                u.futex.time = now.saturating_add(rb.remaining_ns.max(0)) as u64;
                u.futex.uaddr2 = rb.args[3] as _;
                r.fn_ = Some(bindings::futex_wait_restart);
            }
        }
    }
}

/// A task's registers as read from the image, ready to be applied.
pub(crate) struct Saved {
    regs: abi::Regs,
    restart: Option<abi::RestartBlock>,
    xsave: Option<KVec<u8>>,
    tls: abi::Tls,
}

impl Saved {
    /// The `ax` the task must see in user mode (restored after `ret_from_fork` zeroes it).
    pub(crate) fn ax(&self) -> u64 {
        self.regs.ax
    }
}

/// Resumes an interrupted system call the way signal delivery without a handler does: the
/// task re-executes the `syscall` instruction with its arguments still in registers.
fn restart_syscall(regs: &mut abi::Regs) {
    if regs.orig_ax as i64 >= 0 {
        let err = (regs.ax as i64).wrapping_neg();
        let restart = [
            bindings::ERESTARTSYS,
            bindings::ERESTARTNOINTR,
            bindings::ERESTARTNOHAND,
            bindings::ERESTART_RESTARTBLOCK,
        ];
        if restart.iter().any(|&e| i64::from(e) == err) {
            // A restart-block sleep without a `RestartBlock` record is re-issued with its
            // original arguments (`read` then points it at restart_syscall() instead).
            regs.ax = regs.orig_ax;
            regs.ip = regs.ip.wrapping_sub(2);
        }
    }
    regs.orig_ax = u64::MAX;
}

/// Whether a saved TLS descriptor (low and high words) is one `set_thread_area()` could have
/// made: empty, or what `fill_ldt()` makes of a `user_desc` that `tls_desc_okay()`
/// (arch/x86/kernel/tls.c) accepts: a user (S = 1, DPL 3) data segment, 32-bit, present,
/// accessed, not long mode. A 16-bit segment would leak kernel stack bits through `iret`
/// (espfix covers only the LDT), code or not-present segments are an attack surface the
/// kernel refuses to offer, and loading one without its accessed bit would make the CPU write
/// it into the read-only GDT: an oops.
fn tls_ok(lo: u32, hi: u32) -> bool {
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

/// Reads the `Regs`, `XsaveInfo`/`Xsave` and `Tls` records that follow a `Task`.
pub(crate) fn read<T>(r: &mut Restorer<'_, T>) -> Result<Saved> {
    let mut regs = r.expect::<abi::Regs>()?;
    let interrupted_sleep = (regs.orig_ax as i64) >= 0 && regs.ax as i64 == RESTARTBLOCK;
    restart_syscall(&mut regs);
    regs.cs = USER_CS;
    regs.ss = USER_DS;

    let mut rec = r.next()?;
    let mut restart = None;
    if rec.ty == abi::RestartBlock::TYPE {
        let rb = r.decode::<abi::RestartBlock>(rec)?;
        if !interrupted_sleep || !restart_block_ok(&rb) {
            return Err(r.bad("restart block"));
        }
        // Resume through restart_syscall(), which runs the restored restart block.
        regs.ax = NR_RESTART_SYSCALL;
        restart = Some(rb);
        rec = r.next()?;
    }
    let mut xsave = None;
    if rec.ty == abi::XsaveInfo::TYPE {
        let info = r.decode::<abi::XsaveInfo>(rec)?;
        let (size, features) = xsave_config();
        if info.format != abi::XSAVE_FMT_STANDARD || info.size != size {
            log!(
                r.log,
                "xsave area of {} bytes (format {}); this machine uses {size}",
                info.size,
                info.format
            );
            return Err(EINVAL);
        }
        if info.features & !features != 0 {
            log!(
                r.log,
                "xsave features {:#x} missing on this machine ({features:#x})",
                info.features & !features
            );
            return Err(EINVAL);
        }
        let len = r.expect_raw(RecordType::Xsave)?;
        if len != u64::from(size) {
            return Err(r.bad("xsave area length differs from its XsaveInfo"));
        }
        let mut area = KVec::from_elem(0u8, size as usize, GFP_KERNEL)?;
        r.read_raw(&mut area)?;
        xsave = Some(area);
        rec = r.next()?;
    }
    let tls = r.decode::<abi::Tls>(rec)?;
    for pair in tls.desc.chunks(2) {
        if !tls_ok(pair[0], pair.get(1).copied().unwrap_or(0)) {
            return Err(r.bad("TLS descriptor is not a user segment"));
        }
    }
    Ok(Saved {
        regs,
        restart,
        xsave,
        tls,
    })
}

/// Applies saved registers to `task`, a restored task waiting off its CPU for the restarter.
pub(crate) fn apply(task: &Task, saved: &Saved) -> Result {
    let t = task.as_ptr();
    set(task, regset(t, NT_PRSTATUS)?, &saved.regs.to_bytes())?;
    if let Some(area) = &saved.xsave {
        set(task, regset(t, NT_X86_XSTATE)?, area)?;
    }
    if let Some(rb) = &saved.restart {
        set_restart_block(task, rb);
    }
    // SAFETY: the task is off its CPU and not running user code yet; its TLS entries are
    // loaded into the GDT when it is next switched in.
    let descs = unsafe { &mut (*t).thread.tls_array };
    for (i, desc) in descs.iter_mut().enumerate() {
        let words = [saved.tls.desc[2 * i], saved.tls.desc[2 * i + 1]];
        // SAFETY: a `desc_struct` is two 32-bit words; `read` checked each is empty or one
        // `set_thread_area()` could have made (`tls_ok`).
        *desc = unsafe { core::mem::transmute_copy(&words) };
    }
    Ok(())
}

/// A task_work that puts back `ax`, which `ret_from_fork` zeroes after the restore function.
#[repr(C)]
struct AxWork {
    head: bindings::callback_head,
    ax: u64,
}

/// Puts back the `ax` of the `AxWork` whose `head` this is, and frees it.
///
/// # Safety
///
/// `head` must be the first field of an `AxWork` leaked by `restore_ax_on_return`, and the
/// current task the one it was queued on, as task_work runs it.
unsafe extern "C" fn restore_ax(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of an `AxWork` leaked by `restore_ax_on_return`.
    let work = unsafe { KBox::from_raw(head.cast::<AxWork>()) };
    // SAFETY: task_work runs in the task itself, whose user registers are in `pt_regs`.
    unsafe { (*bindings::task_pt_regs(bindings::get_current())).ax = work.ax as _ };
}

/// Makes the current task set `ax` on its way to user mode.
pub(crate) fn restore_ax_on_return(ax: u64) -> Result {
    let work = KBox::new(
        AxWork {
            // SAFETY: an all-zero callback head is a valid unqueued one.
            head: unsafe { core::mem::zeroed() },
            ax,
        },
        GFP_KERNEL,
    )?;
    let work = KBox::into_raw(work);
    // SAFETY: `work` is a valid, leaked `AxWork`; on success the task_work owns it and
    // `restore_ax` frees it (also when the task exits before returning to user mode).
    unsafe {
        bindings::init_task_work(core::ptr::addr_of_mut!((*work).head), Some(restore_ax));
        let ret = bindings::task_work_add(
            bindings::get_current(),
            core::ptr::addr_of_mut!((*work).head),
            bindings::task_work_notify_mode_TWA_RESUME,
        );
        if ret != 0 {
            drop(KBox::from_raw(work));
            return Err(Error::from_errno(ret));
        }
    }
    Ok(())
}
