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
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::regs::{clock_now, futex_flags, Note, Regset, RestartBlock, TLS_ENTRIES};
use kernel::task::Task;

/// User code and stack segment selectors of 64-bit tasks.
const USER_CS: u64 = bindings::__USER_CS as u64;
const USER_DS: u64 = bindings::__USER_DS as u64;

/// Offset of `xstate_bv` in a standard-format xsave area.
const XSTATE_BV_OFFSET: usize = 512;

kernel::static_assert!(abi::Regs::SIZE == core::mem::size_of::<bindings::user_regs_struct>());

/// Writes the `Regs`, `XsaveInfo`, `Xsave` and `Tls` records of a frozen task; `returns` is
/// the value of the system call it sleeps in, for one that is known to return it.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task, returns: Option<i32>) -> Result {
    let mut regs = [0u8; abi::Regs::SIZE];
    // SAFETY: `task` is a frozen user task, held, that has not exited: it does not run, and
    // its stack and address space stay.
    let xsave = unsafe {
        Regset::find(task, Note::General)?.get(task, &mut regs)?;
        match Regset::find(task, Note::Xstate) {
            Ok(rs) => {
                let mut area = KVec::from_elem(0u8, rs.size(), GFP_KERNEL)?;
                rs.get(task, &mut area).is_ok().then_some(area)
            }
            Err(_) => None,
        }
    };
    let mut regs = abi::Regs::decode(&regs);
    if let Some(v) = returns {
        regs.ax = i64::from(v) as u64;
    }
    d.record(&regs)?;
    if let Some(rb) = saved_restart_block(task, &regs) {
        d.record(&rb)?;
    }

    if let Some(area) = xsave {
        {
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
    for (i, words) in task.tls().iter().enumerate() {
        tls.desc[2 * i] = words[0];
        tls.desc[2 * i + 1] = words[1];
    }
    d.record(&tls)
}

/// `-ERESTART_RESTARTBLOCK` in `ax`: the interrupted call resumes through `restart_block`.
const RESTARTBLOCK: i64 = -(bindings::ERESTART_RESTARTBLOCK as i64);

fn monotonic_now() -> i64 {
    kernel::time::Ktime::ktime_get().to_ns()
}

/// The clock a futex wait's timeout is on.
fn futex_clock(flags: u32) -> u32 {
    match flags & futex_flags::CLOCKRT {
        0 => bindings::CLOCK_MONOTONIC,
        _ => bindings::CLOCK_REALTIME,
    }
}

/// Why the frozen `task` cannot be saved in the call it sleeps in, if so: one that resumes
/// through its restart block, but not with a time left restart can keep. In 6.12 these are
/// clock_nanosleep() on a CPU-time or an alarm clock; issued again, it would sleep its whole
/// time once more. (An absolute sleep on a CPU-time clock is issued again, against the CPU
/// time that restarts from zero: see the inventory.) Also any such sleep entered by an ia32
/// call (`int $0x80` from a 64-bit task), which restart would resume as a native call.
pub(crate) fn unsupported_sleep(task: &Task) -> Option<&'static str> {
    (task.restart_block() == Some(None)).then_some(
        "sleeps in a system call whose time left is not saved (clock_nanosleep() on a CPU-time or alarm clock, or an ia32 call)",
    )
}

/// The timed sleep a frozen task was in, as a `RestartBlock` record, if it is one restart can
/// resume with its remaining time.
fn saved_restart_block(task: &Task, regs: &abi::Regs) -> Option<abi::RestartBlock> {
    if (regs.orig_ax as i64) < 0 || regs.ax as i64 != RESTARTBLOCK {
        return None;
    }
    let left = |end: i64, now: i64| end.saturating_sub(now).max(0);
    Some(match task.restart_block()?? {
        RestartBlock::Nanosleep {
            clock,
            mode,
            rmtp,
            expires,
        } => abi::RestartBlock {
            kind: abi::RESTART_NANOSLEEP,
            clock,
            remaining_ns: left(expires, clock_now(clock)?),
            args: [u64::from(mode), rmtp, 0, 0],
        },
        RestartBlock::Poll { ufds, nfds, end } => abi::RestartBlock {
            kind: abi::RESTART_POLL,
            clock: bindings::CLOCK_MONOTONIC,
            remaining_ns: end.map_or(-1, |end| left(end, monotonic_now())),
            args: [ufds, u64::from(nfds), 0, 0],
        },
        RestartBlock::Futex {
            uaddr,
            val,
            flags,
            bitset,
            time,
            uaddr2,
        } => abi::RestartBlock {
            kind: abi::RESTART_FUTEX,
            clock: flags,
            remaining_ns: if flags & futex_flags::HAS_TIMEOUT != 0 {
                left(time, clock_now(futex_clock(flags))?)
            } else {
                -1
            },
            args: [uaddr, u64::from(val), u64::from(bitset), uaddr2],
        },
    })
}

/// The restart block of a `RestartBlock` record, its sleep ending `remaining_ns` from now (or
/// never if negative, where that is allowed); `None` if the record is not one a 64-bit task's
/// system call could have set up.
fn restart_block(rb: &abi::RestartBlock) -> Option<RestartBlock> {
    let block = match rb.kind {
        abi::RESTART_NANOSLEEP if rb.remaining_ns >= 0 => RestartBlock::Nanosleep {
            clock: rb.clock,
            mode: u32::try_from(rb.args[0]).ok()?,
            rmtp: rb.args[1],
            expires: clock_now(rb.clock)?.saturating_add(rb.remaining_ns),
        },
        abi::RESTART_POLL => RestartBlock::Poll {
            ufds: rb.args[0],
            nfds: u32::try_from(rb.args[1]).ok()?,
            end: (rb.remaining_ns >= 0).then(|| monotonic_now().saturating_add(rb.remaining_ns)),
        },
        abi::RESTART_FUTEX
            if (rb.clock & futex_flags::HAS_TIMEOUT == 0) == (rb.remaining_ns < 0) =>
        {
            RestartBlock::Futex {
                uaddr: rb.args[0],
                val: u32::try_from(rb.args[1]).ok()?,
                flags: rb.clock,
                bitset: u32::try_from(rb.args[2]).ok()?,
                time: clock_now(futex_clock(rb.clock))?.saturating_add(rb.remaining_ns.max(0)),
                uaddr2: rb.args[3],
            }
        }
        _ => return None,
    };
    block.is_valid().then_some(block)
}

/// A task's registers as read from the image, ready to be applied.
pub(crate) struct Saved {
    /// With `orig_ax` -1: the task is in no system call until `set_syscall_return()` puts
    /// it back, so that nothing on its way there (`ret_from_fork`'s syscall-exit tracepoint)
    /// reports the call as ended.
    regs: abi::Regs,
    /// The system call it was interrupted in (to be resumed through the signal code), or -1.
    orig_ax: u64,
    restart: Option<abi::RestartBlock>,
    xsave: Option<KVec<u8>>,
    tls: abi::Tls,
}

impl Saved {
    /// The `ax` it leaves the kernel with (restored after `ret_from_fork` zeroes it): an
    /// `-ERESTART*` code the signal code resolves, or what user mode sees.
    pub(crate) fn ax(&self) -> u64 {
        self.regs.ax
    }

    /// The system call it is in, or -1: restored with `ax`.
    pub(crate) fn orig_ax(&self) -> u64 {
        self.orig_ax
    }
}

/// Leaves an interrupted system call to be resumed as the kernel resumes one: the task returns
/// from it with its `-ERESTART*` code through the signal code (`set_syscall_return()`), which
/// restarts it unless a handler runs first, and then ends it with `EINTR` or restarts it as
/// the code and the handler's `SA_RESTART` say. A restart-block sleep without a
/// `RestartBlock` record (`has_block`) is issued again with its original arguments, or ends
/// with `EINTR` for a handler, as `-ERESTARTNOHAND` does. Any other task is not in a system
/// call for the signal code: `orig_ax` -1.
fn leave_to_signal_code(regs: &mut abi::Regs, has_block: bool) {
    if !kernel::regs::interrupted_call(regs.orig_ax, regs.ax) {
        regs.orig_ax = u64::MAX;
    } else if regs.ax as i64 == RESTARTBLOCK && !has_block {
        regs.ax = (-i64::from(bindings::ERESTARTNOHAND)) as u64;
    }
}

/// Reads the `Regs`, `XsaveInfo`/`Xsave` and `Tls` records that follow a `Task`.
pub(crate) fn read<T>(r: &mut Restorer<'_, T>) -> Result<Saved> {
    let mut regs = r.expect::<abi::Regs>()?;
    let interrupted_sleep = (regs.orig_ax as i64) >= 0 && regs.ax as i64 == RESTARTBLOCK;
    regs.cs = USER_CS;
    regs.ss = USER_DS;

    let mut rec = r.next()?;
    let mut restart = None;
    if rec.ty == abi::RestartBlock::TYPE {
        let rb = r.decode::<abi::RestartBlock>(rec)?;
        if !interrupted_sleep || restart_block(&rb).is_none() {
            return Err(r.bad("restart block"));
        }
        // Without a handler first, restart_syscall() runs the restored restart block.
        restart = Some(rb);
        rec = r.next()?;
    }
    leave_to_signal_code(&mut regs, restart.is_some());
    let orig_ax = core::mem::replace(&mut regs.orig_ax, u64::MAX);
    let mut xsave = None;
    if rec.ty == abi::XsaveInfo::TYPE {
        let info = r.decode::<abi::XsaveInfo>(rec)?;
        let (size, features) = kernel::regs::xsave_config();
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
        if !kernel::regs::tls_desc_ok([pair[0], pair.get(1).copied().unwrap_or(0)]) {
            return Err(r.bad("TLS descriptor is not a user segment"));
        }
    }
    Ok(Saved {
        regs,
        orig_ax,
        restart,
        xsave,
        tls,
    })
}

/// Applies saved registers to `task`, a restored task waiting off its CPU for the restarter.
pub(crate) fn apply(task: &Task, saved: &Saved) -> Result {
    let mut tls = [[0u32; 2]; TLS_ENTRIES];
    for (i, desc) in tls.iter_mut().enumerate() {
        *desc = [saved.tls.desc[2 * i], saved.tls.desc[2 * i + 1]];
    }
    // SAFETY: `task` is a restored user task, not the current one, that waits off its CPU
    // until the restarter releases it, after this.
    unsafe {
        Regset::find(task, Note::General)?.set(task, &saved.regs.to_bytes())?;
        if let Some(area) = &saved.xsave {
            Regset::find(task, Note::Xstate)?.set(task, area)?;
        }
        if let Some(rb) = &saved.restart {
            // Checked when read; the sleep's end is counted from now.
            task.set_restart_block(&restart_block(rb).ok_or(EINVAL)?)?;
        }
        task.set_tls(&tls)
    }
}
