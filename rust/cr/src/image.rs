//! Building images from user space: the smallest valid image and broken variants of it.
//!
//! The guest tests feed these to `restart(2)` to check that every way an image can be wrong is
//! refused with its documented errno; `cr inspect`'s unit tests decode them.

use std::convert::Infallible;

use abi::stream::{Sink, Writer, RECORD_HEADER_LEN};
use abi::{Header, Record};

/// A header describing this machine and the ABI the tool was built with.
pub fn header() -> Header {
    let uts = uname();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Header {
        magic: abi::MAGIC,
        version: abi::FORMAT_VERSION,
        arch: abi::ARCH_X86_64,
        abi_hash: abi::ABI_HASH,
        page_size: abi::IMAGE_PAGE_SIZE,
        time_sec: now.as_secs() as i64,
        time_nsec: now.subsec_nanos(),
        release: c_chars(&uts.release),
        machine: c_chars(&uts.machine),
        ..Header::default()
    }
}

fn uname() -> libc::utsname {
    // SAFETY: utsname is plain old data, for which all zeroes is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    unsafe { libc::uname(&mut uts) };
    uts
}

/// A NUL-terminated C string copied into a NUL-padded array, cut to leave a final NUL.
fn c_chars<const N: usize>(src: &[libc::c_char]) -> [u8; N] {
    let mut out = [0u8; N];
    let text = src.iter().take_while(|&&c| c != 0).map(|&c| c as u8);
    for (o, c) in out.iter_mut().take(N - 1).zip(text) {
        *o = c;
    }
    out
}

/// A [`Sink`] collecting the image in memory.
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    type Error = Infallible;
    fn write_all(&mut self, buf: &[u8]) -> Result<(), Infallible> {
        self.0.extend_from_slice(buf);
        Ok(())
    }
}

/// An image of `header` followed directly by the tail: well framed, but with nothing to
/// restore.
pub fn with_header(header: &Header) -> Vec<u8> {
    let mut w = Writer::new(VecSink::default());
    // Neither call can fail: memory takes any write, and header-then-tail is the valid order.
    w.header(header).expect("a header into memory");
    w.finish().expect("a tail after the header").0
}

/// The smallest valid image: this machine's header and the tail.
pub fn minimal() -> Vec<u8> {
    with_header(&header())
}

/// The ways [`broken`] can spoil the minimal image, each with the errno restart must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breakage {
    /// The header's magic number is wrong (`EINVAL`).
    BadMagic,
    /// The header names an ABI other than the tool's; the checksum is still right (`EINVAL`).
    WrongAbiHash,
    /// One payload byte of the header is flipped after the checksum was taken (`EBADMSG`).
    FlippedByte,
    /// The stream stops in the middle of the tail (`EBADMSG`).
    Truncated,
    /// The stream stops after the header: no tail at all (`EBADMSG`).
    NoTail,
}

impl Breakage {
    pub const ALL: [Breakage; 5] = [
        Breakage::BadMagic,
        Breakage::WrongAbiHash,
        Breakage::FlippedByte,
        Breakage::Truncated,
        Breakage::NoTail,
    ];

    /// The errno the kernel documents for this kind of damage.
    pub fn errno(self) -> i32 {
        match self {
            Breakage::BadMagic | Breakage::WrongAbiHash => libc::EINVAL,
            Breakage::FlippedByte | Breakage::Truncated | Breakage::NoTail => libc::EBADMSG,
        }
    }
}

/// The minimal image, damaged as `how` says.
pub fn broken(how: Breakage) -> Vec<u8> {
    match how {
        Breakage::BadMagic => {
            let mut h = header();
            h.magic ^= 0xff;
            with_header(&h)
        }
        Breakage::WrongAbiHash => {
            let mut h = header();
            h.abi_hash[0] ^= 0xff;
            with_header(&h)
        }
        Breakage::FlippedByte => {
            // The dump time is a header field no reader checks, so flipping a bit in it leaves
            // the checksum as the only thing that can notice.
            let mut image = minimal();
            let at = RECORD_HEADER_LEN as usize + header_field_offset("time_sec");
            image[at] ^= 0x01;
            image
        }
        Breakage::Truncated => {
            let mut image = minimal();
            image.truncate(image.len() - 4);
            image
        }
        Breakage::NoTail => {
            let mut image = minimal();
            image.truncate(header_record_len());
            image
        }
    }
}

fn header_desc() -> &'static abi::RecordDesc {
    abi::record_desc(Header::TYPE).expect("the header has a description")
}

/// Where a header field starts, counted from the header's payload.
fn header_field_offset(name: &str) -> usize {
    let desc = header_desc();
    desc.fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("the header has no field {name}"))
        .offset as usize
}

/// The header record's length in the stream: its `{type, len}` prefix and payload (a struct
/// record's size is a multiple of 8, so there is no padding).
fn header_record_len() -> usize {
    RECORD_HEADER_LEN as usize + Header::SIZE
}
