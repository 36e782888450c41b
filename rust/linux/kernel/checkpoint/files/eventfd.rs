// SPDX-License-Identifier: GPL-2.0

//! Event files (`eventfd(2)`): their counter and `EFD_SEMAPHORE` mode. Restart makes a new
//! eventfd with them; its id in `/proc/PID/fdinfo` (`eventfd-id`) is a new one.

use super::{FileKind, FileRef, Names};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, log::Log, Obj};
use kernel::bindings;
use kernel::fs::eventfd::Eventfd;
use kernel::prelude::*;
use kernel::task::Task;

/// The creation flag kept in the image: `EFD_NONBLOCK` is the file's `O_NONBLOCK`, which
/// `fcntl()` may have changed since, and `EFD_CLOEXEC` the fd's.
const EFD_SEMAPHORE: u32 = 1;

/// The flags an eventfd's file has: read-write, and `O_NONBLOCK` if asked.
const FILE_FLAGS: u32 = bindings::O_RDWR | bindings::O_NONBLOCK;

pub(super) struct EventfdFile;

impl FileKind for EventfdFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        Eventfd::is(file.file()).then_some(Ok(abi::FILE_KIND_EVENTFD))
    }

    fn check(
        log: &Log,
        _names: &mut Names,
        task: &Task,
        what: core::fmt::Arguments<'_>,
        file: &FileRef,
    ) -> Result {
        let (_, kernel_users) = Eventfd::of(file.file())?;
        // Either would lose its link to the eventfd: restart makes a new one.
        let why = if kernel_users {
            "that a kernel subsystem signals too (AIO, io_uring, KVM, vhost, a cgroup event)"
        } else if file.file().watched_by_epoll() {
            "that an epoll instance watches (epoll is not restored yet)"
        } else if file.file().flags() & !FILE_FLAGS != 0 {
            "with status flags that fcntl() set besides O_NONBLOCK"
        } else {
            return Ok(());
        };
        log!(
            log,
            "pid {}: {what}: an eventfd {why} is not supported",
            task.vnr()
        );
        Err(EOPNOTSUPP)
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
        let accmode = f.f_flags & bindings::O_ACCMODE;
        if e.flags & !EFD_SEMAPHORE != 0
            || f.f_flags & !FILE_FLAGS != 0
            || accmode != bindings::O_RDWR
            || f.pos != 0
        {
            return Err(r.bad("eventfd with flags or a position no eventfd has"));
        }
        let state = Eventfd {
            count: e.count,
            flags: e.flags | f.f_flags & bindings::O_NONBLOCK,
        };
        state.create().map(FileRef::from)
    }
}
