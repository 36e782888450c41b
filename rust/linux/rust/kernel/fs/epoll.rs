// SPDX-License-Identifier: GPL-2.0

//! Epoll instances (`epoll_create1(2)`): their interest lists as checkpoint reads them, and a
//! new instance as restart makes it and adds its watches again.
//!
//! C header: [`include/linux/checkpoint.h`](srctree/include/linux/checkpoint.h)

use super::file::File;
use crate::error::to_result;
use crate::{bindings, prelude::*, types::ARef};
use core::ptr::NonNull;

/// One watch of an epoll instance.
pub struct Watch {
    /// The file it watches.
    pub file: ARef<File>,
    /// The fd the file was added with, which names the watch with the file.
    pub fd: i32,
    /// Its events, as `epoll_ctl(2)` takes them, with the private bits (`EPOLLET`...).
    pub events: u32,
    /// What `epoll_wait(2)` reports with its events.
    pub data: u64,
    /// The address of the wait queue it waits on, which names it (the last the file's
    /// `poll()` added, for a file that adds several); 0 if none, as for a watch whose queue
    /// went away (`POLLFREE`).
    pub queue: usize,
}

/// The watches of an epoll instance, read one at a time in the order of their keys: see
/// [`Epoll::watches`].
pub struct Watches<'a> {
    epoll: &'a File,
    pos: bindings::checkpoint_epoll_pos,
    done: bool,
}

impl Iterator for Watches<'_> {
    type Item = Result<Watch>;

    fn next(&mut self) -> Option<Result<Watch>> {
        if self.done {
            return None;
        }
        let mut w = bindings::checkpoint_epoll_watch::default();
        // SAFETY: the file is valid; `pos` is the position the last call left, or zero; the
        // callee fills `w` with a counted file when it returns 1.
        let found =
            unsafe { bindings::checkpoint_epoll_next(self.epoll.as_ptr(), &mut self.pos, &mut w) };
        if found <= 0 {
            self.done = true;
            return to_result(found).err().map(Err);
        }
        let file = NonNull::new(w.file)?;
        Some(Ok(Watch {
            // SAFETY: the callee returned a counted file, which the `ARef` owns from here;
            // `File` is transparent over `struct file`.
            file: unsafe { ARef::from_raw(file.cast()) },
            fd: w.fd,
            events: w.events,
            data: w.data,
            queue: w.queue as usize,
        }))
    }
}

/// An epoll instance.
pub struct Epoll;

impl Epoll {
    /// Whether `file` is an epoll instance.
    pub fn is(file: &File) -> bool {
        // SAFETY: the file is valid; only its file operations are compared.
        unsafe { bindings::checkpoint_is_epoll(file.as_ptr()) }
    }

    /// Whether `file` is an epoll instance with busy-poll parameters (`EPIOCSPARAMS`).
    pub fn busy_poll(file: &File) -> bool {
        // SAFETY: the file is valid; the instance's parameters are read once each.
        unsafe { bindings::checkpoint_epoll_busy_poll(file.as_ptr()) }
    }

    /// The watches of the epoll instance of `file`, each read under its mutex; the iterator
    /// yields `EINVAL` if `file` is not one.
    pub fn watches(file: &File) -> Watches<'_> {
        Watches {
            epoll: file,
            pos: bindings::checkpoint_epoll_pos::default(),
            done: false,
        }
    }

    /// How many watches of epoll instances `file` has, read once (a file that an instance
    /// watches under two fds counts twice).
    pub fn watchers(file: &File) -> u32 {
        if !file.watched_by_epoll() {
            return 0;
        }
        // SAFETY: the file is valid; its list of watches is read under its lock.
        unsafe { bindings::checkpoint_epoll_watchers(file.as_ptr()) }
    }

    /// A new epoll instance, its file non-blocking if `nonblock`, in no fd table.
    pub fn create(nonblock: bool) -> Result<ARef<File>> {
        // SAFETY: the callee returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::restart_epoll(nonblock)) }
    }

    /// Adds to the epoll instance of `epoll` a watch of `target` under `fd`, as
    /// `EPOLL_CTL_ADD` would (`EPERM` for a file that cannot be polled), except that a
    /// one-shot watch with no events but its private bits is added disarmed, and that
    /// `EPOLLWAKEUP` without `CAP_BLOCK_SUSPEND` fails with `EPERM`. `EINVAL` if `epoll` is
    /// not an epoll instance.
    pub fn add(epoll: &File, target: &File, fd: i32, events: u32, data: u64) -> Result {
        // SAFETY: both files are valid for the call.
        to_result(unsafe {
            bindings::restart_epoll_add(epoll.as_ptr(), target.as_ptr(), fd, events, data)
        })
    }
}
