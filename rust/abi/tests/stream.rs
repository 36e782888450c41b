//! Writer/reader round trip, alignment, verification errors, truncation and corruption.

mod common;

use abi::stream::{EndOfInput, Reader, Source, StreamError, Writer, EBADMSG, EINVAL};
use abi::*;
use common::*;

/// (type, offset, payload) of each record returned.
type Records = Vec<(u32, u64, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> Result<Records, StreamError<EndOfInput>> {
    let mut src = bytes;
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    let mut out = Vec::new();
    while let Some(rec) = r.next(&mut buf)? {
        let mut payload = rec.payload.to_vec();
        let (ty, off, raw) = (rec.ty, rec.offset, rec.raw);
        if raw {
            let mut chunk = [0u8; 777];
            loop {
                let n = r.read_raw_chunk(&mut chunk)?;
                if n == 0 {
                    break;
                }
                payload.extend_from_slice(&chunk[..n]);
            }
        }
        out.push((ty, off, payload));
    }
    assert!(r.is_done());
    Ok(out)
}

#[test]
fn round_trip() {
    let img = sample_image();
    assert_eq!(img.len() % 8, 0);
    let recs = read_all(&img).unwrap();
    assert_eq!(recs[0].0, Header::TYPE);
    assert_eq!(Header::decode(&recs[0].2), sample_header());
    assert_eq!(Task::decode(&recs[1].2), sample_task());
    assert_eq!(recs.last().unwrap().0, Tail::TYPE);
    // Pad and unknown records are not returned.
    assert!(recs
        .iter()
        .all(|r| r.0 != RecordType::Pad.id() && r.0 != UNKNOWN_TYPE));
    // Every record starts 8-aligned; the Pages payload starts on a page.
    assert!(recs.iter().all(|r| r.1 % 8 == 0));
    let pages = recs.iter().find(|r| r.0 == RecordType::Pages.id()).unwrap();
    assert_eq!((pages.1 + 8) % 4096, 0);
    assert_eq!(pages.2, sample_pages());
    let strings: Vec<_> = recs
        .iter()
        .filter(|r| r.0 == RecordType::String.id())
        .map(|r| r.2.clone())
        .collect();
    assert_eq!(strings, [&b"/tmp/data.txt"[..], b"/", b"/root"]);
    assert_eq!(walk(&img, true).unwrap() as usize, recs.len() - 1);
}

#[test]
fn unknown_records_are_counted_as_skipped() {
    let img = sample_image();
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    while r.next(&mut buf).unwrap().is_some() {}
    assert_eq!(r.skipped(), 1);
}

#[test]
fn page_alignment_from_every_start_offset() {
    for extra in 0..40usize {
        let mut w = Writer::new(Vec::new());
        w.header(&sample_header()).unwrap();
        w.raw(RecordType::String.id(), &vec![b'x'; extra * 97 % 4000])
            .unwrap();
        w.page_run_begin(0x1000, 1).unwrap();
        assert_eq!(w.position() % 4096, 0);
        w.raw_chunk(&[1; 4096]).unwrap();
        w.raw_end().unwrap();
        let img = w.finish().unwrap();
        read_all(&img).unwrap();
    }
}

/// A sink that keeps what it is given until `flush`, and takes pages by reference, as the
/// kernel's does.
#[derive(Default)]
struct Batched {
    out: Vec<u8>,
    kept: Vec<u8>,
    pages: usize,
    flushes: usize,
}

impl stream::Sink for Batched {
    type Error = std::io::Error;
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.kept.extend_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.append(&mut self.kept);
        self.flushes += 1;
        Ok(())
    }
}

#[test]
fn chunks_a_sink_takes_its_own_way_read_back_the_same() {
    let page = [7u8; 4096];
    let write = |w: &mut Writer<_>, by: bool| {
        w.header(&sample_header()).unwrap();
        w.page_run_begin(0x1000, 2).unwrap();
        for _ in 0..2 {
            match by {
                true => w
                    .raw_chunk_by(&page, |s: &mut Batched| {
                        s.pages += 1;
                        s.kept.extend_from_slice(&page);
                        Ok(())
                    })
                    .unwrap(),
                false => w.raw_chunk(&page).unwrap(),
            }
        }
        w.raw_end().unwrap();
    };
    let mut a = Writer::new(Batched::default());
    let mut b = Writer::new(Batched::default());
    write(&mut a, true);
    write(&mut b, false);
    // Nothing leaves the sink before the tail, which flushes it once.
    assert!(a.sink().out.is_empty());
    let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
    assert_eq!((a.pages, a.flushes, b.pages), (2, 1, 0));
    assert_eq!(a.out, b.out);
    read_all(&a.out).unwrap();
}

/// Reads `img` with raw payloads taken by `read_raw_chunk_by` into a destination of their own,
/// `sum` choosing what goes into the checksum; returns those payloads.
fn read_by(
    img: &[u8],
    sum: impl Fn(&mut [u8]) -> Vec<u8>,
) -> Result<Vec<Vec<u8>>, StreamError<EndOfInput>> {
    let mut src = img;
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    let mut raws = Vec::new();
    while let Some(rec) = r.next(&mut buf)? {
        if !rec.raw {
            continue;
        }
        let mut dst = Vec::new();
        loop {
            let n = r.read_raw_chunk_by(1000, |src, k, hash| {
                let mut bytes = vec![0u8; k];
                src.read_exact(&mut bytes)?;
                hash.update(&sum(&mut bytes));
                dst.extend_from_slice(&bytes);
                Ok(())
            })?;
            if n == 0 {
                break;
            }
            assert!(n <= 1000);
        }
        raws.push(dst);
    }
    Ok(raws)
}

#[test]
fn chunks_a_source_reads_its_own_way_read_the_same() {
    let img = sample_image();
    let raws: Vec<Vec<u8>> = read_all(&img)
        .unwrap()
        .into_iter()
        .filter(|r| record_desc(r.0).is_some_and(|d| d.raw))
        .map(|r| r.2)
        .collect();
    assert!(raws.iter().any(|r| r.len() > 1000));
    assert_eq!(read_by(&img, |b| b.to_vec()).unwrap(), raws);
    // Bytes that are not the ones read do not verify.
    let e = read_by(&img, |b| {
        b[0] ^= 1;
        b.to_vec()
    })
    .unwrap_err();
    assert!(matches!(e, StreamError::BadChecksum), "{e:?}");
    // Neither do bytes left out of the checksum.
    let e = read_by(&img, |b| b[1..].to_vec()).unwrap_err();
    assert!(matches!(e, StreamError::BadChecksum), "{e:?}");
    // The source ending inside a raw record is a truncation.
    let pages = read_all(&img).unwrap();
    let at = pages
        .iter()
        .find(|r| r.0 == RecordType::Pages.id())
        .unwrap()
        .1 as usize
        + 8
        + 10;
    let e = read_by(&img[..at], |b| b.to_vec()).unwrap_err();
    assert!(matches!(e, StreamError::Truncated), "{e:?}");
}

#[test]
fn every_flipped_byte_is_detected() {
    let img = sample_image();
    for i in 0..img.len() {
        let mut bad = img.clone();
        bad[i] ^= 0x20;
        assert!(walk(&bad, true).is_err(), "flip at {i} not detected");
    }
}

#[test]
fn flipped_page_byte_is_a_checksum_error() {
    let img = sample_image();
    let recs = read_all(&img).unwrap();
    let pages = recs.iter().find(|r| r.0 == RecordType::Pages.id()).unwrap();
    let mut bad = img.clone();
    bad[pages.1 as usize + 8 + 100] ^= 1;
    let e = walk(&bad, true).unwrap_err();
    assert_eq!(e, StreamError::BadChecksum);
    assert_eq!(e.errno(), Some(EBADMSG));
}

#[test]
fn every_truncation_is_an_error() {
    let img = sample_image();
    for n in 0..img.len() {
        let e = walk(&img[..n], true).unwrap_err();
        assert_eq!(e.errno(), Some(EBADMSG), "cut at {n}: {e}");
    }
}

#[test]
fn header_checks() {
    let img = sample_image();
    let mut bad = img.clone();
    bad[8] ^= 1; // magic
    assert_eq!(walk(&bad, true).unwrap_err(), StreamError::BadMagic);

    let mut bad = img.clone();
    bad[16] = 2; // version
    assert_eq!(
        walk(&bad, true).unwrap_err(),
        StreamError::BadVersion { image: 2 }
    );

    let mut bad = img.clone();
    bad[8 + 16] ^= 0xff; // first ABI hash byte
    let e = walk(&bad, true).unwrap_err();
    assert!(matches!(e, StreamError::AbiMismatch { ours, .. } if ours == ABI_HASH));
    assert_eq!(e.errno(), Some(EINVAL));
    assert!(e.to_string().contains(ABI_HASH_HEX));
    // Without the ABI check the same image is read up to the (now wrong) checksum.
    assert_eq!(walk(&bad, false).unwrap_err(), StreamError::BadChecksum);

    // A stream that starts with another record.
    let mut w = Writer::new(Vec::new());
    assert!(w.record(&Fs::ZERO).is_err());
    let mut s: &[u8] = &[5, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut r = Reader::new(&mut s);
    assert_eq!(r.next(&mut [0; 64]).unwrap_err(), StreamError::BadMagic);
    // After an error the reader stays failed.
    assert_eq!(r.next(&mut [0; 64]).unwrap_err(), StreamError::Order);
}

#[test]
fn length_checks() {
    let img = sample_image();
    // The Task record's len (second record, at offset 8 + align8(Header::SIZE)).
    let at = 8 + Header::SIZE + 4;
    for len in [0u32, 7, Task::MAX_LEN + 1, u32::MAX] {
        let mut bad = img.clone();
        bad[at..at + 4].copy_from_slice(&len.to_le_bytes());
        let e = walk(&bad, true).unwrap_err();
        assert!(matches!(e, StreamError::BadLen { .. }), "len {len}: {e:?}");
    }
    // A buffer too small for a struct record is an error, not a partial read.
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    let mut small = [0u8; 16];
    assert_eq!(r.next(&mut small).unwrap_err(), StreamError::Limit);
}

#[test]
fn writer_rejects_misuse() {
    let mut w = Writer::new(Vec::new());
    w.header(&sample_header()).unwrap();
    assert!(matches!(
        w.header(&sample_header()),
        Err(StreamError::Order)
    ));
    let mut w = Writer::new(Vec::new());
    w.header(&sample_header()).unwrap();
    assert!(w.raw(RecordType::String.id(), &[0; 5000]).is_err());
    let mut w = Writer::new(Vec::new());
    w.header(&sample_header()).unwrap();
    w.raw_begin(RecordType::Auxv.id(), 16).unwrap();
    w.raw_chunk(&[0; 8]).unwrap();
    assert!(w.raw_end().is_err());
    let mut w = Writer::new(Vec::new());
    w.header(&sample_header()).unwrap();
    assert!(w.page_run_begin(0, PAGES_PER_RECORD + 1).is_err());
    assert!(
        w.record(&Fs::ZERO).is_err(),
        "broken writer must stay broken"
    );
}

#[test]
fn longer_and_shorter_records_in_a_stream() {
    // A newer writer's longer Fs, an older writer's shorter Mm.
    let mut w = Writer::new(Vec::new());
    w.header(&sample_header()).unwrap();
    let mut fs = Fs {
        objref: 9,
        umask: 0o77,
    }
    .to_bytes()
    .to_vec();
    fs.extend_from_slice(&[0xee; 16]);
    w.raw(Fs::TYPE, &fs).unwrap();
    let mm = Mm {
        objref: 2,
        vma_count: 3,
        start_code: 0x1000,
        ..Mm::ZERO
    };
    w.raw(Mm::TYPE, &mm.to_bytes()[..16]).unwrap();
    let img = w.finish().unwrap();
    let recs = read_all(&img).unwrap();
    assert_eq!(
        Fs::decode(&recs[1].2),
        Fs {
            objref: 9,
            umask: 0o77
        }
    );
    assert_eq!(recs[1].2.len(), Fs::SIZE + 16);
    assert_eq!(Mm::decode(&recs[2].2), mm);
}

#[test]
fn random_streams_never_panic() {
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let img = sample_image();
    for _ in 0..3000 {
        let mut bad = img.clone();
        for _ in 0..(next() % 8 + 1) {
            let i = (next() as usize) % bad.len();
            bad[i] = next() as u8;
        }
        let cut = (next() as usize) % (bad.len() + 1);
        let _ = walk(&bad[..cut], next() % 2 == 0);
        let noise: Vec<u8> = (0..(next() % 300)).map(|_| next() as u8).collect();
        let _ = walk(&noise, false);
    }
}

#[test]
fn error_texts() {
    let e: StreamError<EndOfInput> = StreamError::Truncated;
    assert_eq!(e.what(), "image truncated");
    assert_eq!(StreamError::Io(EndOfInput).errno(), None);
}

/// Reads `img`, passing over every `Pages` payload with `pass_raw_by` (as restart by mapping
/// does), 3000 bytes at a time; returns the offsets passed over and whether the reader still
/// claims to be checksummed at the end.
fn read_passing(img: &[u8]) -> Result<(Vec<u64>, bool), StreamError<EndOfInput>> {
    let mut src = img;
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    let mut passed = Vec::new();
    while let Some(rec) = r.next(&mut buf)? {
        if rec.ty != RecordType::Pages.id() {
            continue;
        }
        passed.push(r.position());
        loop {
            let n = r.pass_raw_by(3000, |src, k| match src.get(k..) {
                Some(rest) => {
                    **src = rest;
                    Ok(())
                }
                None => Err(EndOfInput),
            })?;
            if n == 0 {
                break;
            }
        }
    }
    assert!(r.is_done());
    Ok((passed, r.is_checksummed()))
}

#[test]
fn passed_over_bytes_are_not_checksummed_but_the_rest_is_framed() {
    let img = sample_image();
    let recs = read_all(&img).unwrap();
    let pages = recs.iter().find(|r| r.0 == RecordType::Pages.id()).unwrap();
    let (passed, summed) = read_passing(&img).unwrap();
    // Passed over where the payload starts, on a page.
    assert_eq!(passed, [pages.1 + 8]);
    assert!(!summed);
    // A flipped byte in what was passed over goes unseen: the checksum is not compared...
    let mut bad = img.clone();
    bad[pages.1 as usize + 8 + 100] ^= 1;
    assert!(read_passing(&bad).is_ok());
    // ...but the tail's length and record count still are, and the source must hold it all.
    let tail = recs.last().unwrap().1 as usize;
    let mut bad = img.clone();
    bad[tail + 8] ^= 1;
    assert_eq!(read_passing(&bad).unwrap_err(), StreamError::BadChecksum);
    let at = pages.1 as usize + 8 + 10;
    assert_eq!(
        read_passing(&img[..at]).unwrap_err(),
        StreamError::Truncated
    );
    // A reader that passes over nothing stays checksummed.
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    while r.next(&mut buf).unwrap().is_some() {
        assert_eq!(r.pass_raw_by(0, |_, _| Err(EndOfInput)).unwrap(), 0);
    }
    assert!(r.is_checksummed());
}

#[test]
fn page_data_left_out_of_the_checksum_is_all_that_is_left_out() {
    let img = sample_image_with(HDR_SUBTREE | HDR_NO_PAGE_CHECKSUM);
    let recs = read_all(&img).unwrap();
    assert_eq!(
        recs,
        read_all(&sample_image()).unwrap()[..]
            .iter()
            .map(|r| {
                // The same records but the header's flags.
                if r.0 == Header::TYPE {
                    let h = Header {
                        flags: HDR_SUBTREE | HDR_NO_PAGE_CHECKSUM,
                        ..Header::decode(&r.2)
                    };
                    (r.0, r.1, h.to_bytes().as_ref().to_vec())
                } else {
                    r.clone()
                }
            })
            .collect::<Vec<_>>()[..]
    );
    let pages = recs.iter().find(|r| r.0 == RecordType::Pages.id()).unwrap();
    let at = pages.1 as usize + 8;
    // Every byte but the page data's is still checked...
    for i in (0..img.len()).filter(|i| !(at..at + pages.2.len()).contains(i)) {
        let mut bad = img.clone();
        bad[i] ^= 0x20;
        assert!(walk(&bad, true).is_err(), "flip at {i} not detected");
    }
    // ...and page data is not.
    let mut bad = img.clone();
    bad[at + 100] ^= 1;
    assert_eq!(walk(&bad, true).unwrap(), walk(&img, true).unwrap());
    // Passing over it leaves the stream checksummed.
    let (passed, summed) = read_passing(&img).unwrap();
    assert_eq!(passed, [at as u64]);
    assert!(summed);
    // The writer and reader tell the page data apart.
    let mut w = Writer::new(Vec::new());
    w.header(&Header {
        flags: HDR_NO_PAGE_CHECKSUM,
        ..sample_header()
    })
    .unwrap();
    w.raw_begin(RecordType::Data.id(), 3).unwrap();
    assert!(w.raw_summed());
    w.raw_chunk(b"abc").unwrap();
    w.raw_end().unwrap();
    w.page_run_begin(0x1000, 1).unwrap();
    assert!(!w.raw_summed());
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    while let Some(rec) = r.next(&mut buf).unwrap() {
        assert_eq!(r.raw_summed(), rec.ty != RecordType::Pages.id());
    }
}
