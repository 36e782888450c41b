// SPDX-License-Identifier: GPL-2.0

//! Record framing of the image stream: a [`Writer`] over a [`Sink`] and a [`Reader`] over a
//! [`Source`].
//!
//! # Framing
//!
//! A record is a header `{u32 type; u32 len;}` (little-endian) and a payload; `len` is 8 plus
//! the payload length, *without* alignment padding. Every record starts at a multiple of 8 from
//! the start of the stream: the writer follows each payload with zero bytes up to the next
//! multiple of 8, so the next record starts at `align8(start + len)`. Counting the unpadded
//! length keeps the exact payload size (a `String` needs no terminator, a struct record's size
//! tells its schema version), and alignment is still implied by `len`.
//!
//! The first record is a `Header`, the last a `Tail` holding the number of bytes and records
//! before it and the XXH64 (seed 0) of those bytes, but the payloads of `Pages` records when
//! the header has `HDR_NO_PAGE_CHECKSUM`. The payload of every `Pages` record starts
//! at a multiple of [`PAGE_SIZE`]; the writer gets there with a `Pad` record, which readers
//! skip. Records of types this schema does not know are skipped by `len`.
//!
//! # Limits
//!
//! A reader never allocates: struct payloads go into a buffer the caller gives, raw payloads
//! are read in caller-sized chunks. A record's `len` is bounded by its type's `max` from the
//! schema, an unknown type's by [`MAX_RECORD_LEN`]. Everything is consumed sequentially, so a
//! hostile stream can only make a reader read, never seek or loop without input.
//!
//! This file is shared verbatim by the kernel and user space: core only, no unsafe, no
//! panicking paths, generated items reached through `super::`.

use core::fmt;

use super::xxh64::Xxh64;
use super::{
    record_desc, Header, PageRun, Record, RecordType, Tail, ABI_HASH, FORMAT_VERSION,
    HDR_NO_PAGE_CHECKSUM, IMAGE_PAGE_SIZE, MAGIC, MAX_SCHEMA_RECORD_LEN, PAGES_PER_RECORD,
    PAGE_RUN_DROP, PAGE_RUN_SHARE,
};

/// Size of the record header `{u32 type; u32 len;}`.
pub const RECORD_HEADER_LEN: u32 = 8;
/// Every record starts at a multiple of this from the start of the stream.
pub const RECORD_ALIGN: u64 = 8;
/// `Pages` payloads start at a multiple of this from the start of the stream.
pub const PAGE_SIZE: u64 = IMAGE_PAGE_SIZE as u64;
/// Largest `len` of any record, known type or not: what a reader will skip at most for a
/// record it does not understand.
pub const MAX_RECORD_LEN: u32 = 8 << 20;

const _: () = assert!(MAX_SCHEMA_RECORD_LEN <= MAX_RECORD_LEN);
const _: () = assert!(PAGE_SIZE.is_power_of_two());

/// `EINVAL`: a malformed record, a bad header or a limit exceeded.
pub const EINVAL: i32 = 22;
/// `EBADMSG`: checksum mismatch or truncated stream.
pub const EBADMSG: i32 = 74;

/// Where a [`Writer`] puts bytes: the kernel writes to a `struct file`, `cr` to std io.
pub trait Sink {
    /// The sink's error.
    type Error;
    /// Writes all of `buf` or fails. A sink may keep bytes back until [`Sink::flush`].
    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error>;
    /// Writes what it kept back; [`Writer::finish`] calls it after the tail.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Where a [`Reader`] gets bytes.
pub trait Source {
    /// The source's error.
    type Error;
    /// Fills all of `buf` or fails.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Whether `error` means the input ended before `buf` was full; the reader reports it as
    /// [`StreamError::Truncated`] instead of [`StreamError::Io`].
    fn is_eof(error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}

impl<T: Sink + ?Sized> Sink for &mut T {
    type Error = T::Error;
    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        (**self).write_all(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        (**self).flush()
    }
}

impl<T: Source + ?Sized> Source for &mut T {
    type Error = T::Error;
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), Self::Error> {
        (**self).read_exact(buf)
    }
    fn is_eof(error: &Self::Error) -> bool {
        T::is_eof(error)
    }
}

/// The error of a slice [`Source`]: the slice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndOfInput;

/// A byte slice is a [`Source`]; reading advances it.
impl Source for &[u8] {
    type Error = EndOfInput;
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), EndOfInput> {
        let head = self.get(..buf.len()).ok_or(EndOfInput)?;
        buf.copy_from_slice(head);
        *self = self.get(buf.len()..).unwrap_or(&[]);
        Ok(())
    }
    fn is_eof(_: &EndOfInput) -> bool {
        true
    }
}

/// What went wrong in a stream; [`StreamError::errno`] gives the syscall's errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError<E> {
    /// The sink or source failed.
    Io(E),
    /// The input ended before the tail record (EBADMSG).
    Truncated,
    /// The tail's length, record count or checksum does not match the stream (EBADMSG).
    BadChecksum,
    /// The stream does not start with a header record carrying the image magic (EINVAL).
    BadMagic,
    /// The header's format version is not ours (EINVAL).
    BadVersion {
        /// The image's version.
        image: u32,
    },
    /// The image was written with another schema (EINVAL).
    AbiMismatch {
        /// The image's ABI hash.
        image: [u8; 32],
        /// This code's ABI hash.
        ours: [u8; 32],
    },
    /// A record length below 8, above its type's maximum, or not what the writer announced
    /// (EINVAL).
    BadLen {
        /// The record type.
        ty: u32,
        /// The offending length.
        len: u64,
    },
    /// A struct record does not fit the caller's buffer, or another bound was hit (EINVAL).
    Limit,
    /// Records in an order the framing does not allow (EINVAL): a second header, a raw
    /// record left open, writing after an error...
    Order,
}

impl<E> StreamError<E> {
    /// The positive errno for the syscall's return value; `None` for [`StreamError::Io`],
    /// whose error the caller converts itself.
    pub fn errno(&self) -> Option<i32> {
        match self {
            StreamError::Io(_) => None,
            StreamError::Truncated | StreamError::BadChecksum => Some(EBADMSG),
            _ => Some(EINVAL),
        }
    }

    /// A short description for log lines.
    pub fn what(&self) -> &'static str {
        match self {
            StreamError::Io(_) => "I/O error",
            StreamError::Truncated => "image truncated",
            StreamError::BadChecksum => "image checksum mismatch",
            StreamError::BadMagic => "not a checkpoint image",
            StreamError::BadVersion { .. } => "unsupported image format version",
            StreamError::AbiMismatch { .. } => "image written with another ABI",
            StreamError::BadLen { .. } => "bad record length",
            StreamError::Limit => "record exceeds a limit",
            StreamError::Order => "record out of order",
        }
    }
}

impl<E: fmt::Debug> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())?;
        match self {
            StreamError::Io(e) => write!(f, ": {e:?}"),
            StreamError::BadVersion { image } => write!(f, " {image}"),
            StreamError::AbiMismatch { image, ours } => {
                f.write_str(": image ")?;
                hex(f, image)?;
                f.write_str(", kernel ")?;
                hex(f, ours)
            }
            StreamError::BadLen { ty, len } => write!(f, " {len} for type {ty}"),
            _ => Ok(()),
        }
    }
}

fn hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Zero bytes needed after `len` bytes to reach a multiple of 8.
const fn pad_after(len: u64) -> u64 {
    (RECORD_ALIGN - len % RECORD_ALIGN) % RECORD_ALIGN
}

const ZEROS: [u8; 8] = [0; 8];

/// The payload of the longest `Pad` record.
static PAD: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];

/// The largest `len` accepted for record type `ty`.
fn max_len(ty: u32) -> u32 {
    match record_desc(ty) {
        Some(d) => d.max_len,
        None => MAX_RECORD_LEN,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WState {
    Start,
    Body,
    Raw { left: u64, pad: u64, summed: bool },
    Broken,
}

/// Writes an image: [`Writer::header`] first, then records, then [`Writer::finish`].
///
/// Tracks the stream position, the record count and the running checksum. After any error
/// the writer refuses further records ([`StreamError::Order`]).
pub struct Writer<S: Sink> {
    sink: S,
    pos: u64,
    records: u64,
    hash: Xxh64,
    state: WState,
    sum_pages: bool,
}

impl<S: Sink> Writer<S> {
    /// A writer at the start of a stream.
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            pos: 0,
            records: 0,
            hash: Xxh64::new(0),
            state: WState::Start,
            sum_pages: true,
        }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The sink.
    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), StreamError<S::Error>> {
        self.emit_by(bytes, true, |sink| sink.write_all(bytes))
    }

    /// Counts `bytes`, and checksums them if `summed`, which `put` gives the sink.
    fn emit_by(
        &mut self,
        bytes: &[u8],
        summed: bool,
        put: impl FnOnce(&mut S) -> Result<(), S::Error>,
    ) -> Result<(), StreamError<S::Error>> {
        if let Err(e) = put(&mut self.sink) {
            self.state = WState::Broken;
            return Err(StreamError::Io(e));
        }
        if summed {
            self.hash.update(bytes);
        }
        self.pos = self.pos.saturating_add(bytes.len() as u64);
        Ok(())
    }

    fn fail<T>(&mut self, e: StreamError<S::Error>) -> Result<T, StreamError<S::Error>> {
        self.state = WState::Broken;
        Err(e)
    }

    /// Writes a record header for a payload of `payload_len` bytes.
    fn begin(&mut self, ty: u32, payload_len: u64) -> Result<(), StreamError<S::Error>> {
        let len = payload_len.saturating_add(u64::from(RECORD_HEADER_LEN));
        if len > u64::from(max_len(ty)) {
            return self.fail(StreamError::BadLen { ty, len });
        }
        let [t0, t1, t2, t3] = ty.to_le_bytes();
        let [l0, l1, l2, l3] = (len as u32).to_le_bytes();
        self.emit(&[t0, t1, t2, t3, l0, l1, l2, l3])?;
        self.records = self.records.saturating_add(1);
        Ok(())
    }

    fn check_body(&mut self, ty: u32) -> Result<(), StreamError<S::Error>> {
        let framing = ty == RecordType::Header.id() || ty == RecordType::Tail.id();
        if self.state != WState::Body || framing {
            return self.fail(StreamError::Order);
        }
        Ok(())
    }

    fn put_record<R: Record>(&mut self, r: &R) -> Result<(), StreamError<S::Error>> {
        let bytes = r.to_bytes();
        let bytes = bytes.as_ref();
        self.begin(R::TYPE, bytes.len() as u64)?;
        self.emit(bytes)?;
        self.emit(
            ZEROS
                .get(..pad_after(bytes.len() as u64) as usize)
                .unwrap_or(&[]),
        )
    }

    /// Writes the header record; must be the first record. Callers fill every field; this
    /// does not patch magic, version or ABI hash.
    pub fn header(&mut self, h: &Header) -> Result<(), StreamError<S::Error>> {
        if self.state != WState::Start {
            return self.fail(StreamError::Order);
        }
        self.put_record(h)?;
        self.sum_pages = h.flags & HDR_NO_PAGE_CHECKSUM == 0;
        self.state = WState::Body;
        Ok(())
    }

    /// Writes one struct record.
    pub fn record<R: Record>(&mut self, r: &R) -> Result<(), StreamError<S::Error>> {
        self.check_body(R::TYPE)?;
        self.put_record(r)
    }

    /// Writes a whole raw record of type `ty`.
    pub fn raw(&mut self, ty: u32, payload: &[u8]) -> Result<(), StreamError<S::Error>> {
        self.raw_begin(ty, payload.len() as u64)?;
        self.raw_chunk(payload)?;
        self.raw_end()
    }

    /// Starts a record of type `ty` with a `payload_len`-byte payload that follows in
    /// [`Writer::raw_chunk`] calls and ends with [`Writer::raw_end`].
    pub fn raw_begin(&mut self, ty: u32, payload_len: u64) -> Result<(), StreamError<S::Error>> {
        self.check_body(ty)?;
        self.begin(ty, payload_len)?;
        self.state = WState::Raw {
            left: payload_len,
            pad: pad_after(payload_len),
            summed: self.sum_pages || ty != RecordType::Pages.id(),
        };
        Ok(())
    }

    /// Writes the next bytes of the open raw record.
    pub fn raw_chunk(&mut self, bytes: &[u8]) -> Result<(), StreamError<S::Error>> {
        self.raw_chunk_by(bytes, |sink| sink.write_all(bytes))
    }

    /// Writes the next bytes of the open raw record, `bytes`, with `put` instead of
    /// [`Sink::write_all`]: for a sink that can write them from where they are (the kernel
    /// writes a page it holds a reference on), in order with the rest. The checksum is of
    /// `bytes`, so what `put` gives must not change until the sink has written it (but for
    /// page data left out of it, see [`Writer::raw_summed`]).
    pub fn raw_chunk_by(
        &mut self,
        bytes: &[u8],
        put: impl FnOnce(&mut S) -> Result<(), S::Error>,
    ) -> Result<(), StreamError<S::Error>> {
        let WState::Raw { left, pad, summed } = self.state else {
            return self.fail(StreamError::Order);
        };
        let n = bytes.len() as u64;
        if n > left {
            return self.fail(StreamError::BadLen { ty: 0, len: n });
        }
        self.emit_by(bytes, summed, put)?;
        self.state = WState::Raw {
            left: left - n,
            pad,
            summed,
        };
        Ok(())
    }

    /// Whether the checksum covers the payload of the open raw record: all but page data
    /// under `HDR_NO_PAGE_CHECKSUM`, whose bytes [`Writer::raw_chunk_by`] then never reads.
    pub fn raw_summed(&self) -> bool {
        !matches!(self.state, WState::Raw { summed: false, .. })
    }

    /// Ends the open raw record once all its announced bytes are written.
    pub fn raw_end(&mut self) -> Result<(), StreamError<S::Error>> {
        match self.state {
            WState::Raw { left: 0, pad, .. } => {
                self.emit(ZEROS.get(..pad as usize).unwrap_or(&[]))?;
                self.state = WState::Body;
                Ok(())
            }
            WState::Raw { left, .. } => self.fail(StreamError::BadLen { ty: 0, len: left }),
            _ => self.fail(StreamError::Order),
        }
    }

    /// Writes a `Pad` record if needed so that the payload of the next record starts at a
    /// multiple of [`PAGE_SIZE`].
    pub fn pad_to_page(&mut self) -> Result<(), StreamError<S::Error>> {
        let hdr = u64::from(RECORD_HEADER_LEN);
        let at = self.pos % PAGE_SIZE;
        if (at + hdr) & (PAGE_SIZE - 1) == 0 {
            return Ok(());
        }
        // A pad record (header + n zero bytes) and the next record's header end on a page.
        let n = (PAGE_SIZE - (at + 2 * hdr) % PAGE_SIZE) % PAGE_SIZE;
        self.raw_begin(RecordType::Pad.id(), n)?;
        self.raw_chunk(PAD.get(..n as usize).unwrap_or(&[]))?;
        self.raw_end()
    }

    /// Starts a run of `npages` present pages at `addr`: writes the `PageRun` record, pads,
    /// and opens the `Pages` record whose payload (`npages` pages) the caller then writes
    /// with [`Writer::raw_chunk`] or [`Writer::raw_chunk_by`] and closes with
    /// [`Writer::raw_end`]. At most
    /// `PAGES_PER_RECORD` pages; longer runs are split by the caller.
    pub fn page_run_begin(&mut self, addr: u64, npages: u32) -> Result<(), StreamError<S::Error>> {
        self.page_run_record(addr, npages, 0, (0, 0))?;
        self.pad_to_page()?;
        self.raw_begin(
            RecordType::Pages.id(),
            u64::from(npages).saturating_mul(PAGE_SIZE),
        )
    }

    /// Writes a run of `npages` pages at `addr` dropped from an inherited mapping
    /// (`PAGE_RUN_DROP`): the `PageRun` record alone, no data. At most `PAGES_PER_RECORD`.
    pub fn page_drop(&mut self, addr: u64, npages: u32) -> Result<(), StreamError<S::Error>> {
        self.page_run_record(addr, npages, PAGE_RUN_DROP, (0, 0))
    }

    /// Writes a run of `npages` pages at `addr` that a copied mapping shares with the mm
    /// `from`, which has them at `from_addr` (zero: at `addr`) (`PAGE_RUN_SHARE`): the
    /// `PageRun` record alone, no data. At most `PAGES_PER_RECORD`.
    pub fn page_share(
        &mut self,
        addr: u64,
        npages: u32,
        from: u32,
        from_addr: u64,
    ) -> Result<(), StreamError<S::Error>> {
        self.page_run_record(addr, npages, PAGE_RUN_SHARE, (from, from_addr))
    }

    /// Writes the `PageRun` record of `npages` pages (1 to `PAGES_PER_RECORD`) at `addr`,
    /// with `from` and `from_addr`.
    fn page_run_record(
        &mut self,
        addr: u64,
        npages: u32,
        flags: u32,
        (from, from_addr): (u32, u64),
    ) -> Result<(), StreamError<S::Error>> {
        if npages == 0 || npages > PAGES_PER_RECORD {
            return self.fail(StreamError::Limit);
        }
        self.record(&PageRun {
            addr,
            npages,
            flags,
            from,
            _pad0: 0,
            from_addr,
        })
    }

    /// Writes a page run whose bytes are all in `pages` (a multiple of [`PAGE_SIZE`]).
    pub fn page_run(&mut self, addr: u64, pages: &[u8]) -> Result<(), StreamError<S::Error>> {
        let len = pages.len() as u64;
        if len & (PAGE_SIZE - 1) != 0 || len / PAGE_SIZE > u64::from(PAGES_PER_RECORD) {
            return self.fail(StreamError::Limit);
        }
        self.page_run_begin(addr, (len / PAGE_SIZE) as u32)?;
        self.raw_chunk(pages)?;
        self.raw_end()
    }

    /// Writes the tail record, flushes the sink ([`Sink::flush`]) and returns it.
    pub fn finish(mut self) -> Result<S, StreamError<S::Error>> {
        if self.state != WState::Body {
            return Err(StreamError::Order);
        }
        let tail = Tail {
            stream_len: self.pos,
            checksum: self.hash.digest(),
            records: self.records,
        };
        self.put_record(&tail)?;
        self.sink.flush().map_err(StreamError::Io)?;
        Ok(self.sink)
    }
}

/// A record returned by [`Reader::next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// The record type.
    pub ty: u32,
    /// The record length, header included, padding excluded.
    pub len: u32,
    /// Stream offset of the record header.
    pub offset: u64,
    /// The payload of a struct record; empty for a raw one, whose payload is read with
    /// [`Reader::read_raw_chunk`] or skipped.
    pub payload: &'a [u8],
    /// Whether this is a raw record.
    pub raw: bool,
}

impl RecordRef<'_> {
    /// The record type, if this schema knows it.
    pub fn kind(&self) -> Option<RecordType> {
        RecordType::from_u32(self.ty)
    }

    /// The payload length (`len - 8`).
    pub fn payload_len(&self) -> u32 {
        self.len.saturating_sub(RECORD_HEADER_LEN)
    }

    /// Decodes the payload as `R` if this record has `R`'s type.
    pub fn decode<R: Record>(&self) -> Option<R> {
        if self.ty == R::TYPE && !self.raw {
            Some(R::decode(self.payload))
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RState {
    Start,
    Body,
    Raw { left: u64, pad: u64, summed: bool },
    Done,
    Broken,
}

/// Reads and verifies an image record by record.
///
/// Checks the header (magic, version, ABI hash), every record length, and on the tail the
/// stream length, record count and checksum. `Pad` records and unknown record types are
/// skipped. After an error every call fails with [`StreamError::Order`].
pub struct Reader<S: Source> {
    src: S,
    pos: u64,
    records: u64,
    skipped: u64,
    hash: Xxh64,
    state: RState,
    header: Header,
    check_abi: bool,
    last_offset: u64,
    unsummed: bool,
    sum_pages: bool,
}

impl<S: Source> Reader<S> {
    /// A reader at the start of a stream; it requires the image's ABI hash to be ours.
    pub fn new(src: S) -> Self {
        Self {
            src,
            pos: 0,
            records: 0,
            skipped: 0,
            hash: Xxh64::new(0),
            state: RState::Start,
            header: Header::ZERO,
            check_abi: true,
            last_offset: 0,
            unsummed: false,
            sum_pages: true,
        }
    }

    /// Whether to refuse an image with another ABI hash (the default). Without the check,
    /// records are read by the compatibility rules: missing tail fields are zero, extra tails
    /// ignored, unknown record types skipped.
    pub fn set_check_abi(&mut self, check: bool) {
        self.check_abi = check;
    }

    /// The image header, once the first record was read (all zero before).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The source it reads.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// Stream offset of the last record header read, for error messages.
    pub fn record_offset(&self) -> u64 {
        self.last_offset
    }

    /// Records of unknown type skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether the checksum still covers every byte it should: none of those was passed over
    /// with [`Reader::pass_raw_by`] (page data left out of it may be).
    pub fn is_checksummed(&self) -> bool {
        !self.unsummed
    }

    /// Whether the tail was read and verified.
    pub fn is_done(&self) -> bool {
        self.state == RState::Done
    }

    fn fail<T>(&mut self, e: StreamError<S::Error>) -> Result<T, StreamError<S::Error>> {
        self.state = RState::Broken;
        Err(e)
    }

    /// Reads exactly `buf.len()` bytes into the checksum.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), StreamError<S::Error>> {
        self.take(buf.len(), |src, _, sum| {
            src.read_exact(buf)?;
            sum.update(buf);
            Ok(())
        })
    }

    /// Consumes the next `k` bytes with `read`, which reads them and adds them to the checksum.
    fn take(
        &mut self,
        k: usize,
        read: impl FnOnce(&mut S, usize, &mut Xxh64) -> Result<(), S::Error>,
    ) -> Result<(), StreamError<S::Error>> {
        if let Err(e) = read(&mut self.src, k, &mut self.hash) {
            let e = if S::is_eof(&e) {
                StreamError::Truncated
            } else {
                StreamError::Io(e)
            };
            return self.fail(e);
        }
        self.pos = self.pos.saturating_add(k as u64);
        Ok(())
    }

    /// Reads and discards `n` bytes.
    fn discard(&mut self, n: u64) -> Result<(), StreamError<S::Error>> {
        self.discard_summed(n, true)
    }

    /// Reads and discards `n` bytes, adding them to the checksum if `summed`.
    fn discard_summed(&mut self, mut n: u64, summed: bool) -> Result<(), StreamError<S::Error>> {
        let mut scratch = [0u8; 256];
        while n > 0 {
            let k = if n < 256 { n as usize } else { 256 };
            let buf = scratch.get_mut(..k).unwrap_or(&mut []);
            self.take(k, |src, _, sum| {
                src.read_exact(buf)?;
                if summed {
                    sum.update(buf);
                }
                Ok(())
            })?;
            n -= k as u64;
        }
        Ok(())
    }

    /// The next record, or `None` after the tail. A struct record's payload is read into
    /// `buf`, which must hold it (`MAX_STRUCT_PAYLOAD` bytes hold any); a raw record's
    /// payload is left for [`Reader::read_raw_chunk`] and skipped by the next call otherwise.
    pub fn next<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<RecordRef<'b>>, StreamError<S::Error>> {
        loop {
            match self.state {
                RState::Done => return Ok(None),
                RState::Broken => return Err(StreamError::Order),
                RState::Raw { left, pad, summed } => {
                    self.discard_summed(left, summed)?;
                    self.discard(pad)?;
                    self.state = RState::Body;
                }
                RState::Start | RState::Body => {}
            }
            let offset = self.pos;
            self.last_offset = offset;
            let before = self.hash.digest();
            let mut h = [0u8; 8];
            self.fill(&mut h)?;
            let ty = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            if len < RECORD_HEADER_LEN || len > max_len(ty) {
                return self.fail(StreamError::BadLen {
                    ty,
                    len: u64::from(len),
                });
            }
            let plen = u64::from(len - RECORD_HEADER_LEN);
            let pad = pad_after(plen);
            let first = self.state == RState::Start;
            if first != (ty == RecordType::Header.id()) {
                return self.fail(if first {
                    StreamError::BadMagic
                } else {
                    StreamError::Order
                });
            }
            if ty == RecordType::Tail.id() {
                return self.tail(offset, before, plen, pad, len).map(Some);
            }
            self.records = self.records.saturating_add(1);
            let desc = match record_desc(ty) {
                Some(d) if ty != RecordType::Pad.id() => d,
                known => {
                    // Pad, or a type from a newer schema.
                    self.discard(plen.saturating_add(pad))?;
                    if known.is_none() {
                        self.skipped = self.skipped.saturating_add(1);
                    }
                    continue;
                }
            };
            if desc.raw {
                self.state = RState::Raw {
                    left: plen,
                    pad,
                    summed: self.sum_pages || ty != RecordType::Pages.id(),
                };
                return Ok(Some(RecordRef {
                    ty,
                    len,
                    offset,
                    payload: &[],
                    raw: true,
                }));
            }
            let Some(payload) = buf.get_mut(..plen as usize) else {
                return self.fail(StreamError::Limit);
            };
            self.fill(payload)?;
            self.discard(pad)?;
            if first {
                self.check_header(Header::decode(payload))?;
                self.state = RState::Body;
            }
            return Ok(Some(RecordRef {
                ty,
                len,
                offset,
                payload,
                raw: false,
            }));
        }
    }

    fn check_header(&mut self, h: Header) -> Result<(), StreamError<S::Error>> {
        if h.magic != MAGIC {
            return self.fail(StreamError::BadMagic);
        }
        if h.version != FORMAT_VERSION {
            return self.fail(StreamError::BadVersion { image: h.version });
        }
        if self.check_abi && h.abi_hash != ABI_HASH {
            return self.fail(StreamError::AbiMismatch {
                image: h.abi_hash,
                ours: ABI_HASH,
            });
        }
        self.sum_pages = h.flags & HDR_NO_PAGE_CHECKSUM == 0;
        self.header = h;
        Ok(())
    }

    fn tail(
        &mut self,
        offset: u64,
        checksum: u64,
        plen: u64,
        pad: u64,
        len: u32,
    ) -> Result<RecordRef<'static>, StreamError<S::Error>> {
        let mut b = [0u8; 24];
        let n = if plen < 24 { plen } else { 24 };
        self.fill(b.get_mut(..n as usize).unwrap_or(&mut []))?;
        self.discard((plen - n).saturating_add(pad))?;
        let t = Tail::decode(&b);
        let sum_ok = self.unsummed || t.checksum == checksum;
        if t.stream_len != offset || !sum_ok || t.records != self.records {
            return self.fail(StreamError::BadChecksum);
        }
        self.state = RState::Done;
        Ok(RecordRef {
            ty: RecordType::Tail.id(),
            len,
            offset,
            payload: &[],
            raw: false,
        })
    }

    /// Reads up to `buf.len()` more payload bytes of the current raw record; 0 when it is
    /// all read (or no raw record is open). After an error every call fails.
    pub fn read_raw_chunk(&mut self, buf: &mut [u8]) -> Result<usize, StreamError<S::Error>> {
        let summed = self.raw_summed();
        self.read_raw_chunk_by(buf.len(), |src, k, sum| {
            let bytes = buf.get_mut(..k).unwrap_or(&mut []);
            src.read_exact(bytes)?;
            if summed {
                sum.update(bytes);
            }
            Ok(())
        })
    }

    /// Reads up to `max` more payload bytes of the current raw record with `read` instead of
    /// [`Source::read_exact`]: for a source that can put them where they belong (the kernel
    /// reads page data straight into the address space being restored). `read` is given the
    /// count `k` to read, must read exactly that many bytes from the source, or fail, and
    /// must add them to the checksum it is given, in order (a scratch one for page data left
    /// out of the checksum: see [`Reader::raw_summed`]). Returns `k`, which is 0 (and
    /// `read` not called) when the record is all read, no raw record is open, or `max` is 0.
    /// After an error every call fails with [`StreamError::Order`].
    pub fn read_raw_chunk_by(
        &mut self,
        max: usize,
        read: impl FnOnce(&mut S, usize, &mut Xxh64) -> Result<(), S::Error>,
    ) -> Result<usize, StreamError<S::Error>> {
        let RState::Raw { left, pad, summed } = self.state else {
            return match self.state {
                RState::Broken => Err(StreamError::Order),
                _ => Ok(0),
            };
        };
        let k = if (max as u64) < left {
            max
        } else {
            left as usize
        };
        if k > 0 {
            match summed {
                true => self.take(k, read)?,
                false => self.take(k, |src, k, _| read(src, k, &mut Xxh64::new(0)))?,
            }
        }
        let left = left - k as u64;
        if left == 0 {
            self.discard(pad)?;
            self.state = RState::Body;
        } else {
            self.state = RState::Raw { left, pad, summed };
        }
        Ok(k)
    }

    /// Whether the checksum covers the payload of the current raw record: all but page data
    /// under `HDR_NO_PAGE_CHECKSUM`, for which a source that reads its own way
    /// ([`Reader::read_raw_chunk_by`]) may skip the hash.
    pub fn raw_summed(&self) -> bool {
        !matches!(self.state, RState::Raw { summed: false, .. })
    }

    /// Passes over up to `max` more payload bytes of the current raw record with `skip`, which
    /// must advance the source by exactly the count `k` it is given, or fail, without reading
    /// them: for a source whose bytes are used where they are (the kernel maps page data from
    /// an image file it cannot change). Unless the checksum leaves those bytes out
    /// ([`Reader::raw_summed`]), it then no longer covers the stream, and the tail's is not
    /// compared; its stream length and record count still are. Returns `k`, as
    /// [`Reader::read_raw_chunk_by`] does.
    pub fn pass_raw_by(
        &mut self,
        max: usize,
        skip: impl FnOnce(&mut S, usize) -> Result<(), S::Error>,
    ) -> Result<usize, StreamError<S::Error>> {
        let was = self.unsummed;
        self.unsummed |= self.raw_summed();
        let k = self.read_raw_chunk_by(max, |src, k, _| skip(src, k));
        if matches!(k, Ok(0)) {
            self.unsummed = was;
        }
        k
    }

    /// Payload bytes of the current raw record not read yet.
    pub fn raw_left(&self) -> u64 {
        match self.state {
            RState::Raw { left, .. } => left,
            _ => 0,
        }
    }

    /// Skips the rest of the current raw record.
    pub fn skip_raw(&mut self) -> Result<(), StreamError<S::Error>> {
        if let RState::Raw { left, pad, summed } = self.state {
            self.discard_summed(left, summed)?;
            self.discard(pad)?;
            self.state = RState::Body;
        }
        Ok(())
    }
}
