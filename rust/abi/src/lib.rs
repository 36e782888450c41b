//! The linux-cr-rs image ABI for user space and host tests.
//!
//! The crate root is the code cr-codegen generates from `schema.rs` (record structs, the
//! `Record` codec, field descriptions, ABI hash, schema text); `stream`, `xxh64` and `objref`
//! are shared verbatim with the kernel, which gets the same tree as
//! `kernel/checkpoint/abi/{mod,stream,xxh64,objref}.rs`. With the `std` feature, `host` adds
//! the std implementations of the storage and I/O traits.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

include!(concat!(env!("OUT_DIR"), "/abi.rs"));

pub mod objref;
pub mod stream;
pub mod xxh64;

/// std implementations of the stream and storage traits (feature `std`; not in the kernel).
#[cfg(feature = "std")]
pub mod host {
    use std::io;
    use std::vec::Vec;

    use crate::objref::{Full, Slots};
    use crate::stream::{Sink, Source};

    impl Sink for Vec<u8> {
        type Error = io::Error;
        fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            self.extend_from_slice(buf);
            Ok(())
        }
    }

    /// A [`Sink`] over any [`io::Write`].
    pub struct IoSink<W: io::Write>(pub W);

    impl<W: io::Write> Sink for IoSink<W> {
        type Error = io::Error;
        fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            self.0.write_all(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    /// A [`Source`] over any [`io::Read`]; a short read is end of input.
    pub struct IoSource<R: io::Read>(pub R);

    impl<R: io::Read> Source for IoSource<R> {
        type Error = io::Error;
        fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
            self.0.read_exact(buf)
        }
        fn is_eof(e: &io::Error) -> bool {
            e.kind() == io::ErrorKind::UnexpectedEof
        }
    }

    impl<T> Slots<T> for Vec<T> {
        fn len(&self) -> usize {
            Vec::len(self)
        }
        fn get(&self, i: usize) -> Option<&T> {
            <[T]>::get(self, i)
        }
        fn get_mut(&mut self, i: usize) -> Option<&mut T> {
            <[T]>::get_mut(self, i)
        }
        fn push(&mut self, value: T) -> Result<(), Full> {
            self.try_reserve(1).map_err(|_| Full)?;
            Vec::push(self, value);
            Ok(())
        }
        fn clear(&mut self) {
            Vec::clear(self)
        }
    }
}

/// Reads a whole image from `bytes` the way a restart would (every struct record decoded and
/// re-encoded, every raw payload read in chunks) and returns the number of records it
/// returned before the tail (`Pad` and unknown records are skipped and not counted). Used by tests, the fuzz target and `cr inspect`-like checks.
pub fn walk(
    mut bytes: &[u8],
    check_abi: bool,
) -> Result<u64, stream::StreamError<stream::EndOfInput>> {
    let mut reader = stream::Reader::new(&mut bytes);
    reader.set_check_abi(check_abi);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    let mut out = [0u8; MAX_STRUCT_PAYLOAD];
    let mut chunk = [0u8; 1000];
    let mut n = 0u64;
    while let Some(r) = reader.next(&mut buf)? {
        if r.raw {
            while reader.read_raw_chunk(&mut chunk)? > 0 {}
        } else {
            let _ = reencode(r.ty, r.payload, &mut out);
        }
        n += 1;
    }
    Ok(n.saturating_sub(1))
}
