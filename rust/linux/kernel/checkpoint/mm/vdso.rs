// SPDX-License-Identifier: GPL-2.0

//! The vDSO and its vvar pages: not written, but mapped again from this kernel at their
//! saved addresses.

use super::current_mm;
use super::map::unmap;
use crate::image::Restorer;
use crate::{abi, log, Obj};
use kernel::mm;
use kernel::prelude::*;

/// Which halves of this kernel's vDSO pair, the text and the vvar pages below it, the image
/// lists: the first maps both, and a half it does not list (the process unmapped it) goes at
/// the end.
#[derive(Default)]
pub(super) struct VdsoPair {
    text: bool,
    vvar: bool,
}

impl VdsoPair {
    /// Unmaps the half of the pair the image did not list.
    pub(super) fn finish(&self) -> Result {
        if self.text == self.vvar {
            return Ok(());
        }
        // Set when the pair was mapped, with room for the vvar pages below it.
        let text = current_mm()?.mmap_read_lock().vdso() as u64;
        match self.text {
            true => unmap(text - vvar_size(), text),
            false => unmap(text, text + vdso_size()),
        }
    }
}

/// Maps this kernel's vDSO (and its vvar pages before it) at the saved address.
pub(super) fn map_vdso(r: &mut Restorer<'_, Obj>, v: &abi::Vma, pair: &mut VdsoPair) -> Result {
    let vvar_len = vvar_size();
    let text = if v.kind == abi::VMA_KIND_VDSO {
        v.start
    } else {
        v.end
    };
    let expect_len = if v.kind == abi::VMA_KIND_VDSO {
        vdso_size()
    } else {
        vvar_len
    };
    // `map_area` checked `start < end`; the vvar area below the text must fit above 0.
    let base = match text.checked_sub(vvar_len) {
        Some(base) if v.end - v.start == expect_len => base,
        _ => {
            log!(
                r.log,
                "vdso mapping {:#x}-{:#x} differs from this kernel's",
                v.start,
                v.end
            );
            return Err(EINVAL);
        }
    };
    let mapped = pair.text || pair.vvar;
    let half = match v.kind == abi::VMA_KIND_VDSO {
        true => &mut pair.text,
        false => &mut pair.vvar,
    };
    if *half {
        log!(
            r.log,
            "vdso mapping {:#x}-{:#x}: listed twice",
            v.start,
            v.end
        );
        return Err(EINVAL);
    }
    *half = true;
    if mapped {
        // The pair is mapped: a later record may only describe its other half.
        let at = current_mm()?.mmap_read_lock().vdso() as u64;
        if at != text {
            log!(
                r.log,
                "vdso mapping {:#x}-{:#x}: a second vDSO",
                v.start,
                v.end
            );
            return Err(EINVAL);
        }
    } else {
        let mapped = mm::vdso::map_once(base as usize);
        let at = current_mm()?.mmap_read_lock().vdso() as u64;
        if mapped.is_err() || at != text {
            let e = mapped.err().unwrap_or(EINVAL);
            log!(r.log, "vdso: cannot map it at {text:#x} ({})", e.to_errno());
            return Err(e);
        }
    }
    Ok(())
}

/// The size of this kernel's vDSO text.
fn vdso_size() -> u64 {
    mm::vdso::size() as u64
}

/// The size of this kernel's vvar pages, below the vDSO text.
fn vvar_size() -> u64 {
    mm::vdso::vvar_size() as u64
}
