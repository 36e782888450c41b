// SPDX-License-Identifier: GPL-2.0

//! File descriptors of the current task used for sequential I/O, as `read(2)`/`write(2)` do.
//!
//! C header: [`include/linux/file.h`](srctree/include/linux/file.h)

use super::{inode::Inode, path::Path};
use crate::{
    bindings,
    error::code::*,
    error::{from_err_ptr, Error, Result},
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{
    marker::PhantomData,
    ptr::{self, NonNull},
};

crate::static_assert!(
    core::mem::offset_of!(bindings::file, f_mode) == bindings::OFFSETOF_FILE_F_MODE
);
crate::static_assert!(
    core::mem::offset_of!(bindings::file, f_pos) == bindings::OFFSETOF_FILE_F_POS
);

/// Access modes of an open file (`FMODE_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Mode(u32);

impl Mode {
    /// The `FMODE_*` bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The file was opened for reading.
    pub fn readable(self) -> bool {
        self.0 & bindings::FMODE_READ != 0
    }

    /// The file was opened for writing.
    pub fn writable(self) -> bool {
        self.0 & bindings::FMODE_WRITE != 0
    }

    /// The file has no position (pipes, sockets, character streams).
    pub fn stream(self) -> bool {
        self.0 & bindings::FMODE_STREAM != 0
    }
}

/// An open file: `struct file`.
///
/// # Invariants
///
/// Every instance is a valid file with a reference (`f_count`) held for as long as the
/// reference through which it is reached exists.
#[repr(transparent)]
pub struct File {
    inner: Opaque<bindings::file>,
}

// SAFETY: a file reference may be dropped from any task: `fput` defers the final release to
// a task-work or workqueue context of its own.
unsafe impl Send for File {}
// SAFETY: the methods below only read fields fixed at open, or read them once.
unsafe impl Sync for File {}

// SAFETY: `get_file` and `fput` take and drop a reference, which keeps the file valid as the
// type's invariant asks.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: the file has a reference (type invariant), so `get_file` may add one.
        unsafe { bindings::get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives back a reference it holds.
        unsafe { bindings::fput(obj.cast().as_ptr()) };
    }
}

impl File {
    /// Reaches a file from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid file, with a reference held for the whole of `'a`.
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: the caller's guarantee is the type invariant; the type is transparent.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct file`, for C functions the abstraction does not cover.
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }

    /// Its access modes.
    pub fn mode(&self) -> Mode {
        // SAFETY: the file is valid (type invariant). The access-mode bits are fixed at open;
        // others change under `f_lock` (`FMODE_RANDOM`), so the word is read once.
        Mode(unsafe { ptr::addr_of!((*self.as_ptr()).f_mode).read_volatile() })
    }

    /// Its inode (`file_inode()`).
    pub fn inode(&self) -> &Inode {
        // SAFETY: an open file keeps its inode for as long as it is open (type invariant).
        unsafe { Inode::from_raw(ptr::addr_of!((*self.as_ptr()).f_inode).read()) }
    }

    /// Its path (`f_path`), set at open.
    pub fn path(&self) -> &Path {
        // SAFETY: an open file holds its path's counts until it is released (type
        // invariant), and `f_path` does not change after open.
        unsafe { Path::from_raw(ptr::addr_of!((*self.as_ptr()).f_path)) }
    }

    /// Its open flags (`f_flags`: `O_*`); `fcntl(F_SETFL)` may change the status flags at any
    /// time, so the word is read once.
    pub fn flags(&self) -> u32 {
        // SAFETY: the file is valid (type invariant).
        unsafe { ptr::addr_of!((*self.as_ptr()).f_flags).read_volatile() }
    }

    /// Its position (`f_pos`), read once: a task that uses the file may move it.
    pub fn pos(&self) -> i64 {
        // SAFETY: the file is valid (type invariant).
        unsafe { ptr::addr_of!((*self.as_ptr()).f_pos).read_volatile() }
    }

    /// Whether it can be polled (`file_can_poll()`): its file operations have `poll`.
    pub fn can_poll(&self) -> bool {
        // SAFETY: the file is valid (type invariant); an open file's `f_op` points to
        // operations that outlive it.
        unsafe { (*(*self.as_ptr()).f_op).poll.is_some() }
    }

    /// Whether an epoll instance watches it (`f_ep`), read once: only to tell, as the watcher
    /// holds no reference to the file.
    #[cfg(CONFIG_EPOLL)]
    pub fn watched_by_epoll(&self) -> bool {
        // SAFETY: the file is valid (type invariant); the pointer is read once and not followed.
        unsafe {
            !ptr::addr_of!((*self.as_ptr()).f_ep)
                .read_volatile()
                .is_null()
        }
    }

    /// Whether an epoll instance watches it: never, without epoll.
    #[cfg(not(CONFIG_EPOLL))]
    pub fn watched_by_epoll(&self) -> bool {
        false
    }

    /// Whether it was given an owner or a signal for SIGIO (`F_SETOWN`, `F_SETSIG`, or
    /// `F_NOTIFY`, whose watcher becomes the owner).
    pub fn has_sigio_owner(&self) -> bool {
        // SAFETY: the file is valid (type invariant). `f_owner`, once allocated, lives as
        // long as the file; its `pid` and `signum` are only tested for zero, each read once.
        unsafe {
            let owner = ptr::addr_of!((*self.as_ptr()).f_owner).read_volatile();
            !owner.is_null()
                && (!ptr::addr_of!((*owner).pid).read_volatile().is_null()
                    || ptr::addr_of!((*owner).signum).read_volatile() != 0)
        }
    }

    /// Takes the file a C function made, or its error.
    ///
    /// # Safety
    ///
    /// `ptr` is what a function returned that returns a counted file, whose reference passes
    /// to the caller, or an `ERR_PTR`.
    pub unsafe fn from_new(ptr: *mut bindings::file) -> Result<ARef<File>> {
        let file = NonNull::new(from_err_ptr(ptr)?).ok_or(EINVAL)?;
        // SAFETY: a counted file (the function's precondition), which the `ARef` owns from
        // here; `File` is transparent over `struct file`.
        Ok(unsafe { ARef::from_raw(file.cast()) })
    }

    /// Opens `name` with `O_*` `flags` (`filp_open()`), with the current task's credentials,
    /// from its root and cwd.
    pub fn open(name: &CStr, flags: u32) -> Result<ARef<File>> {
        // SAFETY: `name` is NUL-terminated; `filp_open` returns a counted file or an ERR_PTR.
        unsafe { File::from_new(bindings::filp_open(name.as_char_ptr(), flags as i32, 0)) }
    }

    /// Sets its position to `pos` (`vfs_llseek(SEEK_SET)`); returns the new position. Meant
    /// for a file not yet shared with anyone: users of the file may move it at once.
    pub fn seek(&self, pos: i64) -> Result<i64> {
        // SAFETY: the file is valid (type invariant).
        let ret = unsafe { bindings::vfs_llseek(self.as_ptr(), pos, bindings::SEEK_SET as i32) };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret)
    }

    /// Whether the current task may execute it as `prctl(PR_SET_MM_EXE_FILE)` asks: a
    /// regular file, not on a `noexec` mount, that it has the right to execute
    /// (`file_permission(MAY_EXEC)`); `EACCES` or the permission check's error otherwise.
    pub fn may_exec(&self) -> Result {
        if self.inode().file_type() != bindings::S_IFREG {
            return Err(EACCES);
        }
        // SAFETY: the file is valid (type invariant), and so is its path.
        if unsafe { bindings::path_noexec(self.path().as_ptr()) } {
            return Err(EACCES);
        }
        // SAFETY: as above.
        crate::error::to_result(unsafe {
            bindings::file_permission(self.as_ptr(), bindings::MAY_EXEC as i32)
        })
    }

    /// Reads into `buf` from `pos` (`kernel_read()`), leaving the file position alone; the
    /// number of bytes read, short at the end of the file. `EBADF` unless it was opened for
    /// reading.
    pub fn read_at(&self, buf: &mut [u8], pos: i64) -> Result<usize> {
        if !self.mode().readable() {
            return Err(EBADF);
        }
        let mut pos = pos;
        // SAFETY: the file is valid (type invariant); `buf` is a kernel buffer of its length.
        let n = unsafe {
            bindings::kernel_read(self.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut pos)
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// Writes `buf` at `pos` (`kernel_write()`), leaving the file position alone; the number
    /// of bytes written. `EBADF` unless it was opened for writing.
    pub fn write_at(&self, buf: &[u8], pos: i64) -> Result<usize> {
        if !self.mode().writable() {
            return Err(EBADF);
        }
        let mut pos = pos;
        // SAFETY: the file is valid (type invariant); `buf` is a kernel buffer of its length.
        let n = unsafe {
            bindings::kernel_write(self.as_ptr(), buf.as_ptr().cast(), buf.len(), &mut pos)
        };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(n as usize)
    }

    /// Its references (`file_count()`), a snapshot: fds, mappings and the kernel's own.
    pub fn count(&self) -> i64 {
        // SAFETY: the file is valid (type invariant); its count is one word, read once.
        let count = unsafe { ptr::addr_of!((*self.as_ptr()).f_count.counter).read_volatile() };
        // An `atomic_long_t`: as wide as an `i64` here, narrower on 32-bit machines.
        #[allow(clippy::unnecessary_cast)]
        let count = count as i64;
        count
    }

    /// How many shared mappings that may write its page cache has (`i_mmap_writable`: those
    /// with `VM_SHARED | VM_MAYWRITE`, which `mapping_writably_mapped()` tests; negative
    /// while they are denied), a snapshot.
    pub fn writable_shared_maps(&self) -> i32 {
        // SAFETY: the file is valid (type invariant), and so is its page cache while it is
        // open (`f_mapping` is set before the file is published); the count is one word,
        // read once.
        unsafe { ptr::addr_of!((*self.mapping()).i_mmap_writable.counter).read_volatile() }
    }

    /// The page cache it reads and writes (`f_mapping`), only for comparing.
    pub fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: the file is valid (type invariant); `f_mapping` is set at open, and the
        // drivers that change it (block devices, DRM, VFIO) do so before the file is
        // published.
        unsafe { ptr::addr_of!((*self.as_ptr()).f_mapping).read() }
    }
}

/// A file descriptor of the current task held like `fdget_pos()` (or `fdget()`) holds it: the
/// file stays valid and, when it is shared, its position is locked until the guard is dropped.
///
/// # Invariants
///
/// `word` is a non-empty `struct fd` value returned by `fdget_pos()` or `fdget()` and not yet
/// released; the guard is neither `Send` nor `Sync`, as it must be released by the task that
/// took it.
pub struct PosFd {
    word: usize,
    _not_send: PhantomData<*mut ()>,
}

impl PosFd {
    /// Takes descriptor `fd` of the current task and locks its position when the file is
    /// shared, as `read(2)` does; `EBADF` if it is not open.
    ///
    /// A task must not hold two of these on the same open file: the second would wait for the
    /// position lock the first holds. Use [`PosFd::get_unlocked`] for any other descriptor that
    /// may name the same file.
    pub fn get(fd: i32) -> Result<PosFd> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fdget_pos` accepts any descriptor number and returns an empty fd if unused.
        Self::from_word(unsafe { bindings::fdget_pos(fd) }.word as usize)
    }

    /// Takes descriptor `fd` without locking its position, as `fdget()` does: writes may
    /// interleave with other users of the same open file, which is fine for a log.
    pub fn get_unlocked(fd: i32) -> Result<PosFd> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fdget` accepts any descriptor number and returns an empty fd if unused.
        Self::from_word(unsafe { bindings::fdget(fd) }.word as usize)
    }

    fn from_word(word: usize) -> Result<PosFd> {
        if word & !Self::FLAG_MASK == 0 {
            return Err(EBADF);
        }
        // INVARIANT: `word` is a non-empty value from `fdget_pos` or `fdget`, whose release
        // `Drop` does according to the flag bits.
        Ok(PosFd {
            word,
            _not_send: PhantomData,
        })
    }

    const FLAG_MASK: usize = (bindings::FDPUT_FPUT | bindings::FDPUT_POS_UNLOCK) as usize;

    fn file(&self) -> *mut bindings::file {
        (self.word & !Self::FLAG_MASK) as *mut bindings::file
    }

    /// The file's access modes.
    pub fn mode(&self) -> Mode {
        // SAFETY: by the type invariant the file is valid; `f_mode` is fixed after open except
        // for bits that do not concern the access mode.
        Mode(unsafe { ptr::addr_of!((*self.file()).f_mode).read() })
    }

    /// The open file.
    pub fn as_file(&self) -> &File {
        // SAFETY: the guard holds the file, or the descriptor table of a task that cannot
        // close it meanwhile does (type invariant), for as long as the guard lives.
        unsafe { File::from_raw_file(self.file()) }
    }

    /// Moves the file position `n` bytes on without reading them, as if read; returns the
    /// position it was at. `ESPIPE` for a file without a position.
    pub fn advance(&self, n: u64) -> Result<i64> {
        if self.mode().stream() {
            return Err(ESPIPE);
        }
        let file = self.file();
        // SAFETY: as in `transfer`: the position is ours to use.
        let pos = unsafe { ptr::addr_of!((*file).f_pos).read() };
        let to = i64::try_from(n)
            .ok()
            .and_then(|n| pos.checked_add(n))
            .ok_or(EINVAL)?;
        // SAFETY: as above.
        unsafe { ptr::addr_of_mut!((*file).f_pos).write(to) };
        Ok(pos)
    }

    /// Runs one transfer (`kernel_read()`, `vfs_read()`...) at the file position and advances it.
    pub(super) fn transfer(
        &self,
        op: impl FnOnce(*mut bindings::file, *mut bindings::loff_t) -> isize,
    ) -> Result<usize> {
        let file = self.file();
        let stream = self.mode().stream();
        // SAFETY: the file is valid (type invariant); its position is ours to use because
        // `fdget_pos` locked it when the file is shared.
        let mut pos = unsafe { ptr::addr_of!((*file).f_pos).read() };
        let ppos = if stream {
            ptr::null_mut()
        } else {
            ptr::addr_of_mut!(pos)
        };
        let ret = op(file, ppos);
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        if !stream {
            // SAFETY: as above.
            unsafe { ptr::addr_of_mut!((*file).f_pos).write(pos) };
        }
        Ok(ret as usize)
    }

    /// Reads up to `buf.len()` bytes at the file position; `Ok(0)` at end of file.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.transfer(|file, ppos| {
            // SAFETY: `file` is valid, `buf` is a kernel buffer of the given length.
            unsafe { bindings::kernel_read(file, buf.as_mut_ptr().cast(), buf.len(), ppos) }
        })
    }

    /// Reads up to `len` bytes at the file position into the current task's memory at `addr`
    /// as read(2) does (`vfs_read()`), which checks the range: `EFAULT` where it is not
    /// writable memory. `Ok(0)` at end of file.
    pub fn read_user(&self, addr: usize, len: usize) -> Result<usize> {
        self.transfer(|file, ppos| {
            // SAFETY: `file` is valid; the callee takes a user address and checks it.
            unsafe { bindings::vfs_read(file, addr as *mut _, len, ppos) }
        })
    }

    /// Writes all of `buf` at the file position, retrying short writes.
    pub fn write_all(&self, mut buf: &[u8]) -> Result {
        while !buf.is_empty() {
            let n = self.transfer(|file, ppos| {
                // SAFETY: `file` is valid, `buf` is a kernel buffer of the given length.
                unsafe { bindings::kernel_write(file, buf.as_ptr().cast(), buf.len(), ppos) }
            })?;
            if n == 0 {
                return Err(EIO);
            }
            buf = buf.get(n..).unwrap_or_default();
        }
        Ok(())
    }
}

impl Drop for PosFd {
    fn drop(&mut self) {
        let file = self.file();
        if self.word & bindings::FDPUT_POS_UNLOCK as usize != 0 {
            // SAFETY: `fdget_pos` locked the position of this valid file (type invariant).
            unsafe { bindings::__f_unlock_pos(file) };
        }
        if self.word & bindings::FDPUT_FPUT as usize != 0 {
            // SAFETY: `fdget_pos` took this reference on the file (type invariant).
            unsafe { bindings::fput(file) };
        }
    }
}
