// SPDX-License-Identifier: GPL-2.0

//! Event files (`eventfd(2)`): a 64-bit counter that `write(2)` adds to and `read(2)` takes,
//! as checkpoint reads it and restart makes it again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};

/// What an eventfd holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eventfd {
    /// Its counter.
    pub count: u64,
    /// The `EFD_*` flags it was created with (`EFD_SEMAPHORE`; `EFD_NONBLOCK` and
    /// `EFD_CLOEXEC` as they were then).
    pub flags: u32,
}

impl Eventfd {
    /// The counter and flags of `file`, read under the counter's lock, and whether a kernel
    /// user (AIO, io_uring, KVM, vhost, a cgroup event) holds the eventfd too, which a new
    /// eventfd could not be linked to; `EINVAL` if it is not an eventfd.
    pub fn of(file: &File) -> Result<(Eventfd, bool)> {
        let (mut count, mut flags, mut kernel_users) = (0, 0, false);
        // SAFETY: the file is valid; the callee writes the three values before it returns 0.
        to_result(unsafe {
            bindings::checkpoint_eventfd(file.as_ptr(), &mut count, &mut flags, &mut kernel_users)
        })?;
        Ok((Eventfd { count, flags }, kernel_users))
    }

    /// Whether `file` is an eventfd.
    pub fn is(file: &File) -> bool {
        Eventfd::of(file).is_ok()
    }

    /// A new eventfd with this counter and flags, in no fd table: `EINVAL` for flags no
    /// eventfd has.
    pub fn create(&self) -> Result<ARef<File>> {
        // SAFETY: no pointer is passed; the callee returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_eventfd(self.count, self.flags)) }
    }
}
