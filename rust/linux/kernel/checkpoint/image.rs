// SPDX-License-Identifier: GPL-2.0

//! The image stream on the caller's descriptors.
//!
//! Framing, limits and verification are the shared stream layer in `abi::stream`, the same code
//! `cr` uses; this module only connects it to the files passed to the system calls.

use crate::abi::stream::{Reader, Sink, Source, StreamError};
use crate::{abi, log, log::Log};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::fs::file::PosFd;
use kernel::prelude::*;

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

/// Where a checkpoint image goes: written sequentially, so pipes and sockets work.
pub(crate) struct Output(PosFd);

impl Output {
    /// Takes `fd`; `EBADF` unless it is open for writing.
    pub(crate) fn open(log: &Log, fd: i32) -> Result<Output> {
        open_fd(log, fd, "writing", |f| f.mode().writable()).map(Output)
    }
}

impl Sink for Output {
    type Error = Error;

    fn write_all(&mut self, buf: &[u8]) -> Result {
        self.0.write_all(buf).map_err(no_restart)
    }
}

/// Where a restart image comes from, read sequentially.
pub(crate) struct Input(PosFd);

/// Why reading the image failed: it ended, or the file returned an error.
pub(crate) enum ReadError {
    /// End of input.
    Eof,
    /// The file's error.
    File(Error),
}

impl Input {
    /// Takes `fd`; `EBADF` unless it is open for reading.
    pub(crate) fn open(log: &Log, fd: i32) -> Result<Input> {
        open_fd(log, fd, "reading", |f| f.mode().readable()).map(Input)
    }
}

impl Source for Input {
    type Error = ReadError;

    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), ReadError> {
        while !buf.is_empty() {
            let n = self.0.read(buf).map_err(|e| ReadError::File(no_restart(e)))?;
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

/// Turns a stream error into the errno and a log line naming the record offset.
fn stream_error(log: &Log, offset: u64, e: StreamError<ReadError>) -> Error {
    match e {
        StreamError::Io(ReadError::File(err)) => {
            log!(log, "record at offset {offset}: read failed ({})", err.to_errno());
            err
        }
        e => {
            log!(log, "record at offset {offset}: {}", e.what());
            Error::from_errno(-e.errno().unwrap_or(abi::stream::EINVAL))
        }
    }
}

/// Reads the whole image and verifies it (header, record lengths, tail checksum); returns the
/// number of records.
pub(crate) fn verify(log: &Log, input: &mut Input) -> Result<u64> {
    let mut buf = KVec::from_elem(0u8, abi::MAX_STRUCT_PAYLOAD, GFP_KERNEL)?;
    let mut reader = Reader::new(input);
    let mut records = 0u64;
    loop {
        match reader.next(&mut buf) {
            Ok(Some(_)) => records += 1,
            Ok(None) => return Ok(records),
            Err(e) => return Err(stream_error(log, reader.record_offset(), e)),
        }
    }
}
