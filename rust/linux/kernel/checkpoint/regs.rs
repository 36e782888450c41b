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

/// ELF note types naming the regsets (include/uapi/linux/elf.h).
const NT_PRSTATUS: u32 = 1;
const NT_X86_XSTATE: u32 = 0x202;

/// User code and stack segment selectors of 64-bit tasks (arch/x86/include/asm/segment.h).
const USER_CS: u64 = 6 * 8 + 3;
const USER_DS: u64 = 5 * 8 + 3;

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
        set(task.as_ptr(), rs, 0, buf.len() as u32, buf.as_ptr().cast(), core::ptr::null())
    };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Size and features of this machine's user xsave area.
pub(crate) fn xsave_config() -> (u32, u64) {
    // SAFETY: `fpu_user_cfg` is set up at boot and never changes afterwards.
    unsafe { (bindings::fpu_user_cfg.max_size, bindings::fpu_user_cfg.max_features) }
}

/// Writes the `Regs`, `XsaveInfo`, `Xsave` and `Tls` records of a frozen task.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task) -> Result {
    let t = task.as_ptr();
    let mut regs = [0u8; abi::Regs::SIZE];
    get(task, regset(t, NT_PRSTATUS)?, &mut regs)?;
    d.record(&abi::Regs::decode(&regs))?;

    if let Ok(rs) = regset(t, NT_X86_XSTATE) {
        let mut area = KVec::from_elem(0u8, regset_size(rs), GFP_KERNEL)?;
        if get(task, rs, &mut area).is_ok() {
            let bv = area.get(XSTATE_BV_OFFSET..XSTATE_BV_OFFSET + 8).unwrap_or(&[0; 8]);
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

/// A task's registers as read from the image, ready to be applied.
pub(crate) struct Saved {
    regs: abi::Regs,
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
            // restart_block functions are static and cannot be restored, so a restart-block
            // sleep is re-issued with its original arguments.
            regs.ax = regs.orig_ax;
            regs.ip = regs.ip.wrapping_sub(2);
        }
    }
    regs.orig_ax = u64::MAX;
}

/// Whether a TLS descriptor is empty or a present-or-not user (DPL 3) code/data segment.
fn tls_ok(lo: u32, hi: u32) -> bool {
    let dpl = (hi >> 13) & 3;
    let s = (hi >> 12) & 1;
    (lo == 0 && hi == 0) || (dpl == 3 && s == 1)
}

/// Reads the `Regs`, `XsaveInfo`/`Xsave` and `Tls` records that follow a `Task`.
pub(crate) fn read<T>(r: &mut Restorer<'_, T>) -> Result<Saved> {
    let mut regs = r.expect::<abi::Regs>()?;
    restart_syscall(&mut regs);
    regs.cs = USER_CS;
    regs.ss = USER_DS;

    let mut rec = r.next()?;
    let mut xsave = None;
    if rec.ty == abi::XsaveInfo::TYPE {
        let info = r.decode::<abi::XsaveInfo>(rec)?;
        let (size, features) = xsave_config();
        if info.format != abi::XSAVE_FMT_STANDARD || info.size != size {
            log!(r.log, "xsave area of {} bytes (format {}); this machine uses {size}",
                info.size, info.format);
            return Err(EINVAL);
        }
        if info.features & !features != 0 {
            log!(r.log, "xsave features {:#x} missing on this machine ({features:#x})",
                info.features & !features);
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
    Ok(Saved { regs, xsave, tls })
}

/// Applies saved registers to `task`, a restored task waiting off its CPU for the restarter.
pub(crate) fn apply(task: &Task, saved: &Saved) -> Result {
    let t = task.as_ptr();
    set(task, regset(t, NT_PRSTATUS)?, &saved.regs.to_bytes())?;
    if let Some(area) = &saved.xsave {
        set(task, regset(t, NT_X86_XSTATE)?, area)?;
    }
    // SAFETY: the task is off its CPU and not running user code yet; its TLS entries are
    // loaded into the GDT when it is next switched in.
    let descs = unsafe { &mut (*t).thread.tls_array };
    for (i, desc) in descs.iter_mut().enumerate() {
        let words = [saved.tls.desc[2 * i], saved.tls.desc[2 * i + 1]];
        // SAFETY: a `desc_struct` is two 32-bit words; `read` checked they are user segments.
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
