// SPDX-License-Identifier: GPL-2.0

//! Epoll instances (`epoll_create1(2)`): their interest lists, each watch with the fd it was
//! added with, its events and its data. The files an instance watches are written before its
//! `File` record, so that restart has made them when it adds the watches to a new instance,
//! as `EPOLL_CTL_ADD` would.
//!
//! Every file watched must be open in the tree, and every watch of a file of the tree must
//! be an instance's of the tree: leak detection counts them (`Objects::check_leaks`).
//!
//! Restart polls each file as it adds its watch: one ready then is reported by the next
//! `epoll_wait()`, an edge-triggered one too, though its edge may have been reported before
//! checkpoint. A one-shot watch that fired comes back disarmed. The watches are charged to
//! the user that restarts.
//!
//! A signalfd wakes its watches on the signals of the process that added them, and restart
//! adds them in the process that restores the instance: the first whose fd table holds it.
//! A watch of a signalfd added by another process is refused.

use super::MADE_ANEW_FLAGS;
use super::{check_made_anew, made_anew_nonblock, FileKind, FileRef, Names, Shown};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::bindings;
use kernel::fs::{epoll::Epoll, signalfd::Signalfd};
use kernel::prelude::*;

/// `ELOOP`, which the kernel crate does not name.
const ELOOP: i32 = bindings::ELOOP as i32;

// The image's EPOLL* bits are the kernel's, which epoll_ctl(2) takes.
const _: () = assert!(
    abi::EPOLL_ERR == bindings::EPOLLERR
        && abi::EPOLL_HUP == bindings::EPOLLHUP
        && abi::EPOLL_WAKEUP == bindings::EPOLLWAKEUP
        && abi::EPOLL_ONESHOT == bindings::EPOLLONESHOT
        && abi::EPOLL_PRIVATE
            == bindings::EPOLLEXCLUSIVE
                | bindings::EPOLLWAKEUP
                | bindings::EPOLLONESHOT
                | bindings::EPOLLET
);

/// What a watch that is not disarmed always reports, whatever it was added with.
const ALWAYS: u32 = abi::EPOLL_ERR | abi::EPOLL_HUP;

pub(super) struct EpollFile;

impl FileKind for EpollFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        Epoll::is(file.file()).then_some(Ok(abi::FILE_KIND_EPOLL))
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let busy = "with busy-poll parameters (EPIOCSPARAMS)";
        let why = Epoll::busy_poll(file.file()).then_some(busy);
        check_made_anew(at, file, "an epoll instance", why, MADE_ANEW_FLAGS)
    }

    fn dump_named(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        for w in Epoll::watches(file.file()) {
            let target = w?.file;
            // Checked, with the tree's files, before anything was written.
            if !d.tree_file(target.as_ptr()) {
                return Err(changed(d));
            }
            super::dump_file(d, names, &FileRef::from(target))?;
            crate::resched();
        }
        Ok(())
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        // Checked again: with CKPT_UNSHARE_OPEN_FILES, a holder outside may have set them.
        if Epoll::busy_poll(file.file()) {
            log!(
                d.log,
                "epoll: busy-poll parameters were set while it was being saved"
            );
            return Err(EOPNOTSUPP);
        }
        let mut watches = KVVec::new();
        for w in Epoll::watches(file.file()) {
            let w = w?;
            let Some(target) = d.file_written(w.file.as_ptr()) else {
                return Err(changed(d));
            };
            if Signalfd::is(&w.file) && w.queue != names.signalfd_queue {
                log!(
                    d.log,
                    "epoll: a watch of a signalfd added by another process than the one that restores the instance, or by one that exited, is not supported ({})",
                    Shown::of(&FileRef::from(w.file))
                );
                return Err(EOPNOTSUPP);
            }
            let w = abi::EpollWatch {
                file: target,
                fd: w.fd,
                events: w.events,
                _pad0: 0,
                data: w.data,
            };
            watches.push(w, GFP_KERNEL)?;
            crate::resched();
        }
        d.record(&abi::Epoll {
            watches: u32::try_from(watches.len()).map_err(|_| E2BIG)?,
            _pad0: 0,
        })?;
        for w in watches.iter() {
            d.record(w)?;
        }
        Ok(())
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_EPOLL
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let ep = r.expect::<abi::Epoll>()?;
        let nonblock = made_anew_nonblock(r, f)?;
        let file = Epoll::create(nonblock).inspect_err(|e| {
            log!(r.log, "epoll: cannot make an instance ({})", e.to_errno());
        })?;
        for _ in 0..ep.watches {
            let w = r.expect::<abi::EpollWatch>()?;
            let disarmed = w.events & !abi::EPOLL_PRIVATE == 0;
            if disarmed && w.events & abi::EPOLL_ONESHOT == 0 {
                return Err(r.bad("epoll watch disarmed but not one-shot"));
            }
            if !disarmed && w.events & ALWAYS != ALWAYS {
                return Err(r.bad("epoll watch without EPOLLERR and EPOLLHUP"));
            }
            if w.fd < 0 {
                return Err(r.bad("epoll watch of a negative fd"));
            }
            let Obj::File(target) = r.lookup(w.file)? else {
                return Err(r.bad("epoll watch of an object that is not a file"));
            };
            let target = target.file.clone();
            if !target.file().can_poll() {
                return Err(r.bad("epoll watch of a file that cannot be polled"));
            }
            let fd = w.fd;
            match Epoll::add(&file, target.file(), fd, w.events, w.data) {
                Ok(()) => {}
                // Twice the same watch, the instance itself, a loop of instances, or
                // EPOLLEXCLUSIVE where epoll_ctl() refuses it.
                Err(e) if e == EEXIST || e == EINVAL || e.to_errno() == -ELOOP => {
                    return Err(r.bad("epoll watch that epoll_ctl() would refuse"));
                }
                Err(e) if e == EPERM => {
                    log!(
                        r.log,
                        "epoll: a watch with EPOLLWAKEUP needs CAP_BLOCK_SUSPEND"
                    );
                    return Err(e);
                }
                Err(e) => {
                    log!(
                        r.log,
                        "epoll: cannot watch fd {fd} again ({})",
                        e.to_errno()
                    );
                    return Err(e);
                }
            }
            crate::resched();
        }
        Ok(FileRef::from(file))
    }
}

/// Logs that a holder outside the tree, which `CKPT_UNSHARE_OPEN_FILES` accepts, changed an
/// interest list while it was being saved; `EAGAIN`.
fn changed(d: &Dumper<'_>) -> Error {
    log!(
        d.log,
        "epoll: its interest list changed while it was being saved"
    );
    EAGAIN
}
