// SPDX-License-Identifier: GPL-2.0

//! Signal files (`signalfd(2)`): which signals a read takes from the reader's pending ones,
//! as checkpoint reads it and restart makes it again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};

/// What a signalfd holds: the signals it takes, bit `n - 1` for signal `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signalfd {
    /// The signals it takes (never `SIGKILL` or `SIGSTOP`).
    pub mask: u64,
}

impl Signalfd {
    /// The signals `file` takes; `EINVAL` if it is not a signalfd.
    pub fn of(file: &File) -> Result<Signalfd> {
        let mut mask = 0;
        // SAFETY: the file is valid; the callee writes the mask before it returns 0.
        to_result(unsafe { bindings::checkpoint_signalfd(file.as_ptr(), &mut mask) })?;
        Ok(Signalfd { mask })
    }

    /// Whether `file` is a signalfd.
    pub fn is(file: &File) -> bool {
        Signalfd::of(file).is_ok()
    }

    /// A new signalfd that takes these signals (but `SIGKILL` and `SIGSTOP`), non-blocking
    /// if `nonblock`, in no fd table.
    pub fn create(&self, nonblock: bool) -> Result<ARef<File>> {
        let flags = if nonblock {
            bindings::O_NONBLOCK as i32
        } else {
            0
        };
        // SAFETY: no pointer is passed; the callee returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_signalfd(self.mask, flags)) }
    }
}
