// SPDX-License-Identifier: GPL-2.0

//! Event files (`eventfd(2)`): their counter and `EFD_SEMAPHORE` mode. Restart makes a new
//! eventfd with them; its id in `/proc/PID/fdinfo` (`eventfd-id`) is a new one.

use super::{check_made_anew, made_anew_nonblock, FileKind, FileRef, Names, MADE_ANEW_FLAGS};
use crate::image::{Dumper, Restorer};
use crate::{abi, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::eventfd::Eventfd;
use kernel::prelude::*;

/// The creation flag kept in the image: `EFD_NONBLOCK` is the file's `O_NONBLOCK`, which
/// `fcntl()` may have changed since, and `EFD_CLOEXEC` the fd's.
const EFD_SEMAPHORE: u32 = 1;

pub(super) struct EventfdFile;

impl FileKind for EventfdFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        Eventfd::is(file.file()).then_some(Ok(abi::FILE_KIND_EVENTFD))
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let (_, kernel_users) = Eventfd::of(file.file())?;
        // It would not be linked to the new eventfd.
        let kernel =
            "that a kernel subsystem signals too (AIO, io_uring, KVM, vhost, a cgroup event)";
        let why = kernel_users.then_some(kernel);
        check_made_anew(at, file, "an eventfd", why, MADE_ANEW_FLAGS)
    }

    fn dump(d: &mut Dumper<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let (e, _) = Eventfd::of(file.file())?;
        d.record(&abi::Eventfd {
            count: e.count,
            flags: e.flags & EFD_SEMAPHORE,
            _pad0: 0,
        })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_EVENTFD
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let rec = r.next()?;
        let e = r.decode::<abi::Eventfd>(rec)?;
        let nonblock = made_anew_nonblock(r, f)?;
        if e.flags & !EFD_SEMAPHORE != 0 {
            return Err(r.bad("eventfd flag other than EFD_SEMAPHORE"));
        }
        let state = Eventfd {
            count: e.count,
            flags: e.flags | if nonblock { bindings::O_NONBLOCK } else { 0 },
        };
        state.create().map(FileRef::from)
    }
}
