// SPDX-License-Identifier: GPL-2.0

//! The image stream on the caller's descriptors.
//!
//! Framing, limits and verification are the shared stream layer in `abi::stream`, the same code
//! `cr` uses; this module only connects it to the files passed to the system calls.

use crate::abi::objref::{ObjError, MAX_OBJREFS};
use crate::abi::stream::{Reader, Sink, Source, StreamError, Writer};
use crate::abi::xxh64::Xxh64;
use crate::abi::{Record, RecordType};
use crate::objects::Objects;
use crate::{abi, log, log::Log};
use kernel::alloc::{flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVec};
use kernel::bindings;
use kernel::fs::memfd::{Memfd, NAME_MAX};
use kernel::fs::{batch::WriteBatch, file::PosFd};
use kernel::mm::page::PageRef;
use kernel::mm::vm_mmap;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::rbtree::RBTree;

/// Takes descriptor `fd` of the caller, which must be open in the mode `ok` accepts.
fn open_fd(log: &Log, fd: i32, what: &str, ok: fn(&PosFd) -> bool) -> Result<PosFd> {
    let file = PosFd::get(fd).inspect_err(|_| log!(log, "image fd {fd}: not open"))?;
    if !ok(&file) {
        log!(log, "image fd {fd}: not open for {what}");
        return Err(EBADF);
    }
    Ok(file)
}

/// A signal while waiting on a pipe must not restart the call: the stream was consumed.
fn no_restart(e: Error) -> Error {
    if e == ERESTARTSYS {
        EINTR
    } else {
        e
    }
}

/// Where a checkpoint image goes: written sequentially, so pipes and sockets work, in
/// batches: records are staged, pages are written from the frozen tasks' own.
pub(crate) struct Output {
    file: PosFd,
    batch: WriteBatch,
}

/// Pages written by one call, at most.
const BATCH_PAGES: usize = 256;
/// Pages of staged record bytes written by one call, at most.
const BATCH_STAGE: usize = 16;

impl Output {
    /// Takes `fd`; `EBADF` unless it is open for writing.
    pub(crate) fn open(log: &Log, fd: i32) -> Result<Output> {
        let file = open_fd(log, fd, "writing", |f| f.mode().writable())?;
        Ok(Output {
            file,
            batch: WriteBatch::new(BATCH_PAGES, BATCH_STAGE)?,
        })
    }

    /// Adds `page` to what is written next, from where it is.
    fn page(&mut self, page: &PageRef) -> Result {
        if !self.batch.push_page(page) {
            self.flush()?;
            if !self.batch.push_page(page) {
                return Err(EINVAL);
            }
        }
        Ok(())
    }
}

impl Sink for Output {
    type Error = Error;

    fn write_all(&mut self, mut buf: &[u8]) -> Result {
        // Through the staging pages whatever the size: every byte reaches the file through the
        // same call, which takes files kernel_write() does not (a file with both ->write and
        // ->write_iter, as /dev/null).
        let mut flushed = false;
        loop {
            let n = self.batch.push_bytes(buf);
            buf = buf.get(n..).unwrap_or_default();
            if buf.is_empty() {
                return Ok(());
            }
            // An empty batch takes at least a byte.
            if n == 0 && flushed {
                return Err(EINVAL);
            }
            self.flush()?;
            flushed = true;
        }
    }

    fn flush(&mut self) -> Result {
        self.file.write_batch(&mut self.batch).map_err(no_restart)
    }
}

/// Where a restart image comes from, read sequentially.
pub(crate) struct Input {
    fd: PosFd,
    /// Whether page data is mapped from it (`RESTART_MAP`): a sealed memfd.
    maps: bool,
    /// Where in the file the image starts.
    base: u64,
}

/// Why reading the image failed: it ended, or the file returned an error.
pub(crate) enum ReadError {
    /// End of input.
    Eof,
    /// The file's error.
    File(Error),
    /// The bytes read could not be put into, or read back from, the new address space.
    Memory(Error),
}

impl Input {
    /// Takes `fd`; `EBADF` unless it is open for reading. With `maps` (`RESTART_MAP`),
    /// `EINVAL` unless it is a memfd whose bytes cannot change or go while a restored process
    /// maps them (sealed against writing and shrinking), read from a page boundary, so that
    /// page data lies on pages of its own.
    pub(crate) fn open(log: &Log, fd: i32, maps: bool) -> Result<Input> {
        let file = open_fd(log, fd, "reading", |f| f.mode().readable())?;
        let input = Input {
            base: file.as_file().pos() as u64,
            fd: file,
            maps,
        };
        if !maps {
            return Ok(input);
        }
        let mut name = [0u8; NAME_MAX + 1];
        const SEALS: u32 = bindings::F_SEAL_WRITE | bindings::F_SEAL_SHRINK;
        match Memfd::of(input.fd.as_file(), &mut name) {
            Ok((m, _)) if m.seals & SEALS == SEALS => {}
            _ => {
                log!(
                    log,
                    "image fd {fd}: RESTART_MAP needs a sealed memfd (F_SEAL_WRITE | F_SEAL_SHRINK)"
                );
                return Err(EINVAL);
            }
        }
        if input.base % PAGE_SIZE as u64 != 0 {
            log!(
                log,
                "image fd {fd}: RESTART_MAP needs the image at a page-aligned position"
            );
            return Err(EINVAL);
        }
        Ok(input)
    }

    /// Moves `len` bytes on without reading them.
    fn pass(&mut self, len: usize) -> Result<(), ReadError> {
        self.fd.advance(len as u64).map_err(ReadError::File)?;
        Ok(())
    }

    /// Reads exactly `len` bytes into the current task's memory at `addr`.
    fn read_user(&mut self, mut addr: usize, mut len: usize) -> Result<(), ReadError> {
        while len > 0 {
            let n = match self.fd.read_user(addr, len) {
                Ok(n) if n > len => return Err(ReadError::File(EIO)),
                Ok(n) => n,
                // The file does not read into user memory: the address is the new mapping's.
                Err(e) if e == EFAULT => return Err(ReadError::Memory(e)),
                Err(e) => return Err(ReadError::File(no_restart(e))),
            };
            if n == 0 {
                return Err(ReadError::Eof);
            }
            addr += n;
            len -= n;
        }
        Ok(())
    }
}

impl Source for Input {
    type Error = ReadError;

    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), ReadError> {
        while !buf.is_empty() {
            let n = self
                .fd
                .read(buf)
                .map_err(|e| ReadError::File(no_restart(e)))?;
            if n == 0 {
                return Err(ReadError::Eof);
            }
            buf = buf.get_mut(n..).unwrap_or_default();
        }
        Ok(())
    }

    fn is_eof(error: &ReadError) -> bool {
        matches!(error, ReadError::Eof)
    }
}

/// How much [`Restorer::read_raw_user`] reads per call: enough to make calls rare, little
/// enough that its checksum reads what the call just wrote from the CPU's cache.
const USER_CHUNK: usize = 1 << 20;

/// Adds the `len` bytes of the current task's memory at `addr` to `sum`, word-aligned, read
/// from the pages they are in. Nothing of restart writes them meanwhile, but a ptracer of the
/// new task may (through /proc/PID/mem): its writes can make the checksum fail, nothing else.
fn sum_user(mut addr: usize, len: usize, sum: &mut Xxh64) -> Result {
    let end = addr.checked_add(len).ok_or(EFAULT)?;
    if addr % 8 != 0 || len % 8 != 0 {
        return Err(EINVAL);
    }
    let mut pages: [Option<PageRef>; 16] = Default::default();
    while addr < end {
        let first = addr & !(PAGE_SIZE - 1);
        let want = (end - first).div_ceil(PAGE_SIZE).min(pages.len());
        let got = kernel::mm::get_user_pages_fast(first, &mut pages[..want])?;
        if got == 0 {
            return Err(EFAULT);
        }
        for page in pages[..got].iter().flatten() {
            let (from, n) = (
                (addr % PAGE_SIZE) / 8,
                (PAGE_SIZE - addr % PAGE_SIZE).min(end - addr),
            );
            page.with_words(|w| {
                sum.update_words(n / 8, |i| w.get(from + i).map_or(0, u64::from_le))
            });
            addr += n;
        }
    }
    Ok(())
}

/// Turns a stream error into the errno and a log line naming the record offset.
fn stream_error(log: &Log, offset: u64, e: StreamError<ReadError>) -> Error {
    match e {
        StreamError::Io(ReadError::File(err)) => {
            log!(
                log,
                "record at offset {offset}: read failed ({})",
                err.to_errno()
            );
            err
        }
        StreamError::Io(ReadError::Memory(err)) => {
            log!(
                log,
                "record at offset {offset}: cannot write its pages into the new address space ({})",
                err.to_errno()
            );
            err
        }
        e => {
            log!(log, "record at offset {offset}: {}", e.what());
            Error::from_errno(-e.errno().unwrap_or(abi::stream::EINVAL))
        }
    }
}

pub(crate) fn obj_error(log: &Log, e: ObjError) -> Error {
    log!(
        log,
        "object table: {}",
        match e {
            ObjError::NoMemory => "out of memory",
            ObjError::TooMany => "too many objects",
            ObjError::BadRef => "reference to an object not in the image",
            ObjError::Duplicate => "object defined twice",
        }
    );
    Error::from_errno(-e.errno())
}

/// Image flags and the kernel flags each stands for, one bit each.
///
/// The image has its own numbers for every flag, so a kernel that renumbers one still reads
/// old images; a flag of the kernel that the table lacks is not saved.
pub(crate) struct FlagMap<T: 'static>(pub(crate) &'static [(T, T)]);

impl<T> FlagMap<T>
where
    T: Copy + Default + PartialEq + core::ops::BitOr<Output = T> + core::ops::BitAnd<Output = T>,
{
    /// The image flags of kernel flags `kernel`.
    pub(crate) fn image(&self, kernel: T) -> T {
        self.0
            .iter()
            .filter(|&&(_, k)| kernel & k != T::default())
            .fold(T::default(), |f, &(i, _)| f | i)
    }

    /// The kernel flags of image flags `image`, or `None` if one of them is not in the table.
    pub(crate) fn kernel(&self, image: T) -> Option<T> {
        let (mut known, mut kernel) = (T::default(), T::default());
        for &(i, k) in self.0 {
            known = known | i;
            if image & i != T::default() {
                kernel = kernel | k;
            }
        }
        // `image` has a bit outside `known` exactly when the two differ there.
        ((image | known) == known).then_some(kernel)
    }
}

/// How deep files that name files may be written before them ([`Dumper::naming`]): epoll
/// instances nest at most five deep.
const NAMING_DEPTH: usize = 8;

/// The checkpoint side of the image: the record writer, and the tree's objects by objref.
pub(crate) struct Dumper<'a> {
    w: Writer<Output>,
    pub(crate) log: &'a Log,
    objs: Objects<'a>,
    /// The files whose named files are being written, outermost first.
    naming: [usize; NAMING_DEPTH],
    depth: usize,
}

impl<'a> Dumper<'a> {
    /// Starts an image on `out` with `header`, for the objects `objs`.
    pub(crate) fn new(
        log: &'a Log,
        out: Output,
        header: &abi::Header,
        objs: Objects<'a>,
    ) -> Result<Self> {
        let mut d = Dumper {
            w: Writer::new(out),
            log,
            objs,
            naming: [0; NAMING_DEPTH],
            depth: 0,
        };
        let r = d.w.header(header);
        d.check(r)?;
        Ok(d)
    }

    fn check(&self, r: Result<(), StreamError<Error>>) -> Result {
        r.map_err(|e| match e {
            StreamError::Io(err) => {
                log!(self.log, "writing the image failed ({})", err.to_errno());
                err
            }
            e => {
                log!(self.log, "image writer: {}", e.what());
                EINVAL
            }
        })
    }

    /// Writes one struct record.
    pub(crate) fn record<R: Record>(&mut self, r: &R) -> Result {
        let res = self.w.record(r);
        self.check(res)
    }

    /// Writes a whole raw record.
    pub(crate) fn raw(&mut self, ty: RecordType, payload: &[u8]) -> Result {
        let res = self.w.raw(ty.id(), payload);
        self.check(res)
    }

    /// Writes a `String` record (a path or name, without NUL).
    pub(crate) fn string(&mut self, s: &[u8]) -> Result {
        self.raw(RecordType::String, s)
    }

    /// Writes `bytes` in `Data` records, as many as they take.
    pub(crate) fn data(&mut self, bytes: &[u8]) -> Result {
        for chunk in bytes.chunks(abi::PIPE_DATA_MAX as usize) {
            self.raw(RecordType::Data, chunk)?;
        }
        Ok(())
    }

    /// Opens a run of `npages` pages at `addr`; the pages follow with [`Dumper::page`].
    pub(crate) fn page_run_begin(&mut self, addr: u64, npages: u32) -> Result {
        let res = self.w.page_run_begin(addr, npages);
        self.check(res)
    }

    /// Writes a run of `npages` pages at `addr` that a copied mapping drops.
    pub(crate) fn page_drop(&mut self, addr: u64, npages: u32) -> Result {
        let res = self.w.page_drop(addr, npages);
        self.check(res)
    }

    /// Writes a run of `npages` pages at `addr` that a copied mapping shares with the mm
    /// `from`, which has them at `from_addr` (zero: at `addr`).
    pub(crate) fn page_share(
        &mut self,
        addr: u64,
        npages: u32,
        from: u32,
        from_addr: u64,
    ) -> Result {
        let res = self.w.page_share(addr, npages, from, from_addr);
        self.check(res)
    }

    /// Writes the next page of the open raw record from `page` itself, once the batch it
    /// joins is written.
    ///
    /// # Safety
    ///
    /// Nothing may write `page` until the checkpoint ends: the page of a frozen task, or of
    /// shared memory only frozen tasks map.
    pub(crate) unsafe fn page(&mut self, page: &PageRef) -> Result {
        // SAFETY: nothing writes the page (caller), so the bytes checksummed here are those
        // the batch writes later.
        let res =
            unsafe { page.with_bytes(|bytes| self.w.raw_chunk_by(bytes, |out| out.page(page))) };
        self.check(res)
    }

    /// Closes the open raw record.
    pub(crate) fn raw_end(&mut self) -> Result {
        let res = self.w.raw_end();
        self.check(res)
    }

    /// The objref of the object at `addr`.
    pub(crate) fn objref<T>(&mut self, addr: *const T) -> Result<u32> {
        self.objs.objref(addr as usize)
    }

    /// The objref of the object at `addr`, and whether its records are to be written now: the
    /// first time only. (Its objref may be known before, from a record that names it.)
    pub(crate) fn first_write<T>(&mut self, addr: *const T) -> Result<(u32, bool)> {
        self.objs.first_write(addr as usize)
    }

    /// Whether leak detection counted the files of the object behind open files at `key`:
    /// one that became what it is while the tree was saved was not.
    pub(crate) fn is_behind(&self, key: usize) -> bool {
        self.objs.is_behind(key)
    }

    /// The objref of the object at `addr` if its records are written.
    pub(crate) fn written<T>(&self, addr: *const T) -> Option<u32> {
        self.objs.written(addr as usize)
    }

    /// Runs `f`, which writes the files that the file at `addr` names before its `File`
    /// record. `EAGAIN` past [`NAMING_DEPTH`] such files within each other, which only files
    /// changed by a holder outside the tree while they are saved reach.
    pub(crate) fn naming<T>(
        &mut self,
        addr: *const T,
        f: impl FnOnce(&mut Self) -> Result,
    ) -> Result {
        let Some(slot) = self.naming.get_mut(self.depth) else {
            log!(
                self.log,
                "files that name files nest too deep: changed while being saved?"
            );
            return Err(EAGAIN);
        };
        *slot = addr as usize;
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Whether the file at `addr` is open in an fd table of the tree, as found before
    /// anything was written.
    pub(crate) fn tree_file<T>(&self, addr: *const T) -> bool {
        self.objs.is_tree_file(addr as usize)
    }

    /// The objref of the file at `addr` if it is one of the tree's ([`Dumper::tree_file`])
    /// and its `File` record is written.
    pub(crate) fn file_written<T>(&self, addr: *const T) -> Option<u32> {
        let key = addr as usize;
        let naming = self.naming.get(..self.depth).unwrap_or(&[]);
        if naming.contains(&key) || !self.objs.is_tree_file(key) {
            return None;
        }
        self.objs.written(key)
    }

    /// Whether the object behind open files at `key` (a pipe) still has the `files` and
    /// `opens` leak detection counted, if it counted them: none was opened since.
    pub(crate) fn behind_unchanged(&self, key: usize, files: u32, opens: u64) -> bool {
        self.objs.behind_unchanged(key, files, opens)
    }

    /// Writes the tail; the image is complete.
    pub(crate) fn finish(self) -> Result {
        let log = self.log;
        match self.w.finish() {
            Ok(_) => Ok(()),
            Err(StreamError::Io(err)) => {
                log!(log, "writing the image failed ({})", err.to_errno());
                Err(err)
            }
            Err(e) => {
                log!(log, "image writer: {}", e.what());
                Err(EINVAL)
            }
        }
    }
}

/// A record read by [`Restorer::next`]; a struct record's payload stays in the restorer.
#[derive(Clone, Copy)]
pub(crate) struct Rec {
    pub(crate) ty: u32,
    pub(crate) offset: u64,
    /// Payload bytes of a struct record (0 for a raw one).
    len: usize,
}

/// The restart side of the image: records in stream order, with one record of look-ahead,
/// and the objects restored so far by objref.
pub(crate) struct Restorer<'a, T> {
    r: Reader<Input>,
    buf: KVec<u8>,
    back: Option<Rec>,
    pub(crate) log: &'a Log,
    objs: RBTree<u32, T>,
    /// Page runs mapped from the image so far.
    runs_mapped: u64,
    /// The address spaces restored with pages mapped from the image, by objref.
    mapped_mms: RBTree<u32, ()>,
}

impl<'a, T> Restorer<'a, T> {
    /// Starts reading `input`; reads and checks the header.
    pub(crate) fn new(log: &'a Log, input: Input) -> Result<Self> {
        let mut r = Restorer {
            r: Reader::new(input),
            buf: KVec::from_elem(0u8, abi::MAX_STRUCT_PAYLOAD, GFP_KERNEL)?,
            back: None,
            log,
            objs: RBTree::new(),
            runs_mapped: 0,
            mapped_mms: RBTree::new(),
        };
        r.next()?;
        if r.header().flags & !abi::HDR_FLAGS_ALL != 0 {
            return Err(r.bad("header flags"));
        }
        Ok(r)
    }

    /// The image header.
    pub(crate) fn header(&self) -> &abi::Header {
        self.r.header()
    }

    /// The next record. The tail is returned like any other record (and verified); reading
    /// past it is an error.
    pub(crate) fn next(&mut self) -> Result<Rec> {
        if let Some(rec) = self.back.take() {
            return Ok(rec);
        }
        match self.r.next(&mut self.buf) {
            Ok(Some(rec)) => Ok(Rec {
                ty: rec.ty,
                offset: rec.offset,
                len: rec.payload.len(),
            }),
            Ok(None) => Err(self.bad("read past the tail")),
            Err(e) => Err(stream_error(self.log, self.r.record_offset(), e)),
        }
    }

    /// Puts `rec`, the record just returned by [`Restorer::next`], back.
    pub(crate) fn unread(&mut self, rec: Rec) {
        self.back = Some(rec);
    }

    /// Logs a malformed record at the current offset; returns `EINVAL`.
    pub(crate) fn bad(&self, what: &str) -> Error {
        log!(
            self.log,
            "record at offset {}: {what}",
            self.r.record_offset()
        );
        EINVAL
    }

    /// The next record, which must be a `R`.
    pub(crate) fn expect<R: Record>(&mut self) -> Result<R> {
        let rec = self.next()?;
        self.decode(rec)
    }

    /// Decodes `rec`, the record just read, as a `R`.
    pub(crate) fn decode<R: Record>(&self, rec: Rec) -> Result<R> {
        if rec.ty != R::TYPE {
            log!(
                self.log,
                "record at offset {}: type {} where {} belongs",
                rec.offset,
                rec.ty,
                R::NAME
            );
            return Err(EINVAL);
        }
        // Only this record's payload: a shorter (older) one reads its missing fields as zero.
        let r = R::decode(self.buf.get(..rec.len).unwrap_or(&[]));
        if !r.padding_is_zero() {
            log!(
                self.log,
                "record at offset {}: {} with padding that is not zero",
                rec.offset,
                R::NAME
            );
            return Err(EINVAL);
        }
        Ok(r)
    }

    /// The next record, which must be a raw record of type `ty`; returns its payload length.
    pub(crate) fn expect_raw(&mut self, ty: RecordType) -> Result<u64> {
        let rec = self.next()?;
        if rec.ty != ty.id() {
            log!(
                self.log,
                "record at offset {}: type {} where a raw record of type {} belongs",
                rec.offset,
                rec.ty,
                ty.id()
            );
            return Err(EINVAL);
        }
        Ok(self.r.raw_left())
    }

    /// Reads the next bytes of the current raw record; fails unless `buf` is filled.
    pub(crate) fn read_raw(&mut self, buf: &mut [u8]) -> Result {
        self.raw_chunks(buf.len(), |r, done| {
            r.read_raw_chunk(buf.get_mut(done..).unwrap_or(&mut []))
        })
    }

    /// Reads the next `len` bytes of the current raw record into the current task's memory at
    /// `addr`, where they stay: one copy, read(2)'s, from the page cache or pipe, in calls of
    /// [`USER_CHUNK`] bytes, each then checksummed from the pages it landed in (see
    /// [`sum_user`]) unless the image leaves them out of its checksum. The memory must be
    /// readable as well as writable.
    pub(crate) fn read_raw_user(&mut self, addr: usize, len: usize) -> Result {
        addr.checked_add(len).ok_or(EFAULT)?;
        let summed = self.r.raw_summed();
        self.raw_chunks(len, |r, done| {
            let at = addr + done;
            r.read_raw_chunk_by((len - done).min(USER_CHUNK), |src, k, sum| {
                src.read_user(at, k)?;
                match summed {
                    true => sum_user(at, k, sum).map_err(ReadError::Memory),
                    false => Ok(()),
                }
            })
        })
    }

    /// Whether page data may be mapped from the image ([`Restorer::map_raw_user`]).
    pub(crate) fn maps_image(&self) -> bool {
        self.r.source().maps
    }

    /// Maps the next `len` bytes of the current raw record, which start on a page, at `addr`
    /// of the current task's address space, private and copy-on-write, with protection `prot`
    /// (and `MAP_NORESERVE` if `noreserve`), in place of what is there: no byte is read, nor
    /// checksummed. Only for an image that [`Restorer::maps_image`].
    pub(crate) fn map_raw_user(
        &mut self,
        addr: usize,
        len: usize,
        prot: u32,
        noreserve: bool,
    ) -> Result {
        let input = self.r.source();
        if !input.maps {
            return Err(EINVAL);
        }
        // Where the stream has the bytes, whatever moved the file's position.
        let at = input.base + self.r.position();
        if at % PAGE_SIZE as u64 != 0 {
            return Err(self.bad("page data not on a page boundary of the image"));
        }
        // The file cannot shrink (sealed): past its end, the mapping would fault.
        let size = input.fd.as_file().inode().size() as u64;
        if at.checked_add(len as u64).map_or(true, |end| end > size) {
            log!(
                self.log,
                "record at offset {}: page data past the end of the image file: truncated",
                self.r.record_offset()
            );
            return Err(EBADMSG);
        }
        self.raw_chunks(len, |r, done| {
            r.pass_raw_by(len - done, |src, k| src.pass(k))
        })?;
        let mut flags = bindings::MAP_PRIVATE | bindings::MAP_FIXED;
        if noreserve {
            flags |= bindings::MAP_NORESERVE;
        }
        let file = self.r.source().fd.as_file();
        let mapped = vm_mmap(
            Some(file),
            addr,
            len,
            prot as usize,
            flags as usize,
            at as usize,
        );
        if mapped != Ok(addr) {
            let e = mapped.err().unwrap_or(EINVAL);
            log!(
                self.log,
                "pages at {addr:#x}: cannot map them from the image ({})",
                e.to_errno()
            );
            return Err(e);
        }
        self.runs_mapped += 1;
        Ok(())
    }

    /// Page runs [`Restorer::map_raw_user`] mapped so far.
    pub(crate) fn runs_mapped(&self) -> u64 {
        self.runs_mapped
    }

    /// Records that the address space `objref` has pages mapped from the image.
    pub(crate) fn set_mm_mapped(&mut self, objref: u32) -> Result {
        self.mapped_mms
            .try_create_and_insert(objref, (), GFP_KERNEL_ACCOUNT)
            .map(|_| ())
    }

    /// Whether the address space `objref` has pages mapped from the image.
    pub(crate) fn is_mm_mapped(&self, objref: u32) -> bool {
        self.mapped_mms.get(&objref).is_some()
    }

    /// Reads `len` bytes of the current raw record a chunk at a time with `chunk`, which is
    /// given the reader and the count read so far and returns the count it reads; fails
    /// unless all `len` are read.
    fn raw_chunks(
        &mut self,
        len: usize,
        mut chunk: impl FnMut(&mut Reader<Input>, usize) -> Result<usize, StreamError<ReadError>>,
    ) -> Result {
        let mut done = 0;
        while done < len {
            let n = match chunk(&mut self.r, done) {
                Ok(n) => n,
                Err(e) => return Err(stream_error(self.log, self.r.record_offset(), e)),
            };
            if n == 0 {
                return Err(self.bad("raw record shorter than announced"));
            }
            done += n;
        }
        Ok(())
    }

    /// Fills `buf` from `Data` records, none of which may hold more than what is left of it
    /// or be empty; `what` says what a record that does not fit was, in the log line.
    pub(crate) fn data(&mut self, buf: &mut [u8], what: &str) -> Result {
        let mut got = 0;
        while got < buf.len() {
            let n = self.expect_raw(RecordType::Data)? as usize;
            let Some(bytes) = buf.get_mut(got..got.saturating_add(n)).filter(|_| n > 0) else {
                return Err(self.bad(what));
            };
            self.read_raw(bytes)?;
            got += n;
        }
        Ok(())
    }

    /// Reads a `String` record into a NUL-terminated buffer.
    pub(crate) fn string(&mut self) -> Result<KVec<u8>> {
        let len = self.expect_raw(RecordType::String)? as usize;
        let mut s = KVec::from_elem(0u8, len + 1, GFP_KERNEL)?;
        self.read_raw(s.get_mut(..len).unwrap_or(&mut []))?;
        if s.get(..len).unwrap_or(&[]).contains(&0) {
            return Err(self.bad("string with a NUL byte"));
        }
        Ok(s)
    }

    /// Reads the tail, which verifies the length and checksum of the whole image. A memfd
    /// whose pages were mapped ([`Restorer::map_raw_user`]) must hold nothing after it: the
    /// restored process may grow a mapping of the image over what follows (mremap(2)).
    pub(crate) fn finish(&mut self) -> Result {
        let rec = self.next()?;
        if rec.ty != RecordType::Tail.id() {
            return Err(self.bad("record after the last task"));
        }
        let input = self.r.source();
        let end = input.base + self.r.position();
        if self.runs_mapped > 0 && input.fd.as_file().inode().size() as u64 != end {
            log!(
                self.log,
                "RESTART_MAP: the image memfd holds more than the image, which its mappings would show"
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Reads (and checks) the rest of the image without restoring it.
    pub(crate) fn drain(&mut self) -> Result {
        while self.next()?.ty != RecordType::Tail.id() {}
        Ok(())
    }

    /// Records the object `value` restored for objref `r`. The table is a tree, so that its
    /// memory follows the objects the image defines, never the numbers it picks for them;
    /// it is charged to the caller's memory cgroup, like every allocation whose count an
    /// image decides (objects, tasks, pending signals).
    pub(crate) fn define(&mut self, r: u32, value: T) -> Result {
        self.definable(r)?;
        self.objs
            .try_create_and_insert(r, value, GFP_KERNEL_ACCOUNT)
            .map(drop)
    }

    /// Checks that objref `r` can be defined, before what it names is made.
    pub(crate) fn definable(&self, r: u32) -> Result {
        let e = match r {
            0 => ObjError::BadRef,
            r if r > MAX_OBJREFS => ObjError::TooMany,
            r if self.objs.get(&r).is_some() => ObjError::Duplicate,
            _ => return Ok(()),
        };
        Err(obj_error(self.log, e))
    }

    /// The object restored for objref `r`, if any yet: for an object a record defines on its
    /// first use.
    pub(crate) fn defined(&self, r: u32) -> Option<&T> {
        self.objs.get(&r).filter(|_| r <= MAX_OBJREFS)
    }

    /// The object restored for objref `r`.
    pub(crate) fn lookup(&self, r: u32) -> Result<&T> {
        self.defined(r)
            .ok_or_else(|| obj_error(self.log, ObjError::BadRef))
    }

    /// The object restored for objref `r`, to change.
    pub(crate) fn lookup_mut(&mut self, r: u32) -> Result<&mut T> {
        match self.objs.get_mut(&r).filter(|_| r <= MAX_OBJREFS) {
            Some(obj) => Ok(obj),
            None => Err(obj_error(self.log, ObjError::BadRef)),
        }
    }

    /// The restart's own object under `key`, above every objref an image may name (an index
    /// of what it restored), if it was made.
    pub(crate) fn own(&self, key: u32) -> Option<&T> {
        self.objs.get(&key).filter(|_| key > MAX_OBJREFS)
    }

    /// The restart's own object under `key`, as [`Restorer::own`], made by `make` the first
    /// time; `EINVAL` for a key an image may name.
    pub(crate) fn own_mut(&mut self, key: u32, make: impl FnOnce() -> T) -> Result<&mut T> {
        if key <= MAX_OBJREFS {
            return Err(EINVAL);
        }
        if self.objs.get(&key).is_none() {
            self.objs
                .try_create_and_insert(key, make(), GFP_KERNEL_ACCOUNT)?;
        }
        self.objs.get_mut(&key).ok_or(EINVAL)
    }

    /// The objects restored so far.
    pub(crate) fn objects(&self) -> impl Iterator<Item = &T> {
        self.objs.values()
    }

    /// Drops every object restored so far, and the references they hold.
    pub(crate) fn forget_objects(&mut self) {
        self.objs = RBTree::new();
    }
}
