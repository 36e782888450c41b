// SPDX-License-Identifier: GPL-2.0

//! XXH64, the checksum of the image stream.
//!
//! Why XXH64: the stream is written and read once, sequentially, possibly through a pipe, so
//! the checksum must be computed incrementally (this is a streaming hasher with a 32-byte
//! buffer and no allocation); it runs at close to memory bandwidth, so checksumming gigabytes
//! of pages costs little next to copying them; and 64 bits make an accidental match after
//! corruption or truncation practically impossible. It is not a cryptographic hash and gives
//! no authentication: whoever can write an image can write a matching checksum, so an image
//! that crosses a trust boundary must be signed or MACed outside the kernel. The ABI hash of
//! the schema, which is not about the data, is SHA-256.
//!
//! Pure core Rust, no unsafe, no panics: all arithmetic is explicitly wrapping as the
//! algorithm defines it, and input is consumed with `chunks_exact` and checked accessors.

const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const P4: u64 = 0x85eb_ca77_c2b2_ae63;
const P5: u64 = 0x27d4_eb2f_1656_67c5;

#[inline(always)]
fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

/// Little-endian u64 at the start of `b` (zero-extended if `b` is shorter).
#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(..8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Little-endian u32 at the start of `b` (zero-extended if `b` is shorter).
#[inline(always)]
fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(..4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// Incremental XXH64 state.
#[derive(Clone, Debug)]
pub struct Xxh64 {
    seed: u64,
    v: [u64; 4],
    total: u64,
    buf: [u8; 32],
    buffered: usize,
}

impl Xxh64 {
    /// A fresh state with `seed` (the image uses seed 0).
    pub const fn new(seed: u64) -> Self {
        Self {
            seed,
            v: [
                seed.wrapping_add(P1).wrapping_add(P2),
                seed.wrapping_add(P2),
                seed,
                seed.wrapping_sub(P1),
            ],
            total: 0,
            buf: [0; 32],
            buffered: 0,
        }
    }

    #[inline(always)]
    fn stripe(v: &mut [u64; 4], block: &[u8]) {
        for (acc, lane) in v.iter_mut().zip(block.chunks_exact(8)) {
            *acc = round(*acc, le64(lane));
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let want = 32usize.saturating_sub(self.buffered);
            let take = if data.len() < want { data.len() } else { want };
            let head = data.get(..take).unwrap_or(&[]);
            if let Some(dst) = self
                .buf
                .get_mut(self.buffered..self.buffered.saturating_add(head.len()))
            {
                dst.copy_from_slice(head);
            }
            self.buffered = self.buffered.saturating_add(head.len());
            data = data.get(take..).unwrap_or(&[]);
            if self.buffered < 32 {
                return;
            }
            let block = self.buf;
            Self::stripe(&mut self.v, &block);
            self.buffered = 0;
        }
        let blocks = data.chunks_exact(32);
        let tail = blocks.remainder();
        for block in blocks {
            Self::stripe(&mut self.v, block);
        }
        if let Some(dst) = self.buf.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
            self.buffered = tail.len();
        }
    }

    /// Feeds `n` words, the `i`th of which is `word(i)`, as [`Xxh64::update`] feeds their
    /// little-endian bytes: for input that is read a word at a time because it may change
    /// meanwhile (the kernel reads memory that user space can write with volatile loads),
    /// where a byte slice must not be made of it.
    pub fn update_words(&mut self, n: usize, mut word: impl FnMut(usize) -> u64) {
        let mut i = 0;
        if self.buffered == 0 {
            // Whole stripes straight from the words.
            while n - i >= 4 {
                for (k, acc) in self.v.iter_mut().enumerate() {
                    *acc = round(*acc, word(i + k));
                }
                i += 4;
                self.total = self.total.wrapping_add(32);
            }
        }
        while i < n {
            self.update(&word(i).to_le_bytes());
            i += 1;
        }
    }

    /// The hash of everything fed so far (the state is not changed).
    pub fn digest(&self) -> u64 {
        let [v1, v2, v3, v4] = self.v;
        let mut h = if self.total >= 32 {
            let h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            merge(merge(merge(merge(h, v1), v2), v3), v4)
        } else {
            self.seed.wrapping_add(P5)
        };
        h = h.wrapping_add(self.total);

        let rest = self.buf.get(..self.buffered).unwrap_or(&[]);
        let words = rest.chunks_exact(8);
        let mut tail = words.remainder();
        for w in words {
            h = (h ^ round(0, le64(w)))
                .rotate_left(27)
                .wrapping_mul(P1)
                .wrapping_add(P4);
        }
        if tail.len() >= 4 {
            h = (h ^ u64::from(le32(tail)).wrapping_mul(P1))
                .rotate_left(23)
                .wrapping_mul(P2)
                .wrapping_add(P3);
            tail = tail.get(4..).unwrap_or(&[]);
        }
        for &b in tail {
            h = (h ^ u64::from(b).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

/// XXH64 of `data` in one call.
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let mut s = Xxh64::new(seed);
    s.update(data);
    s.digest()
}
