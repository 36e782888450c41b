//! The committed golden image (`tests/golden/v1-basic.img`) still decodes, and a schema that
//! appends a field reads it (and is read by today's code) by the compatibility rules.
//!
//! `CR_BLESS=1 cargo test -p abi --test golden` rewrites the golden image (only do that when
//! the format version changes: old images must keep decoding).

mod common;

use std::path::PathBuf;

use abi::stream::{Reader, StreamError};
use abi::*;
use common::*;

#[allow(dead_code)]
mod v2;

fn golden_path() -> PathBuf {
    let abi = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap();
    abi.join("../../tests/golden/v1-basic.img")
}

fn golden() -> Vec<u8> {
    let p = golden_path();
    if std::env::var_os("CR_BLESS").is_some() {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, sample_image()).unwrap();
    }
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (CR_BLESS=1 writes it)", p.display()))
}

#[test]
fn golden_image_decodes() {
    let img = golden();
    // Read by the compatibility rules, so that this keeps passing when fields are appended.
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    r.set_check_abi(false);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    let mut seen = Vec::new();
    while let Some(rec) = r.next(&mut buf).unwrap() {
        seen.push(rec.ty);
        if let Some(t) = rec.decode::<Task>() {
            assert_eq!(t.pid, 42);
            assert_eq!(&t.comm[..6], b"hello\0");
            assert_eq!(t.nice, -3);
        }
        if let Some(fs) = rec.decode::<Fs>() {
            assert_eq!(
                fs,
                Fs {
                    objref: 5,
                    umask: 0o022
                }
            );
        }
        if let Some(s) = rec.decode::<Signal>() {
            assert_eq!(s.rlim[14], 8 << 20);
        }
        if rec.ty == RecordType::Pages.id() {
            let mut pages = vec![0u8; 8192];
            let mut got = 0;
            while got < pages.len() {
                got += r.read_raw_chunk(&mut pages[got..]).unwrap();
            }
            assert_eq!(pages, sample_pages());
        }
    }
    assert_eq!(r.header().time_sec, 1_700_000_000);
    for ty in [
        Header::TYPE,
        Task::TYPE,
        Regs::TYPE,
        Vma::TYPE,
        Fs::TYPE,
        Tail::TYPE,
    ] {
        assert!(seen.contains(&ty), "record type {ty} missing");
    }
}

#[test]
fn golden_image_is_todays_format() {
    // While the schema is unchanged the golden image is exactly what the writer produces;
    // once the ABI changes this documents that old images still load (previous test).
    let img = golden();
    let h = Header::decode(&img[8..8 + Header::SIZE]);
    if h.abi_hash == ABI_HASH {
        assert_eq!(img, sample_image());
        assert!(walk(&img, true).is_ok());
    }
}

#[test]
fn appended_field_reads_as_zero_from_old_image() {
    use v2::Record as _;
    assert_eq!(v2::Fs::SIZE, Fs::SIZE + 8);
    assert_ne!(v2::ABI_HASH, ABI_HASH);
    let img = golden();
    let mut src = &img[..];
    let mut r = v2::stream::Reader::new(&mut src);
    let mut buf = [0u8; v2::MAX_STRUCT_PAYLOAD];
    // The strict reader refuses the older ABI...
    assert!(matches!(
        r.next(&mut buf),
        Err(v2::stream::StreamError::AbiMismatch { .. })
    ));
    // ...the compatible one reads it, the appended field as zero.
    let mut src = &img[..];
    let mut r = v2::stream::Reader::new(&mut src);
    r.set_check_abi(false);
    let mut found = false;
    while let Some(rec) = r.next(&mut buf).unwrap() {
        if let Some(fs) = rec.decode::<v2::Fs>() {
            assert_eq!(fs.objref, 5);
            assert_eq!(fs.umask, 0o022);
            assert_eq!(fs.appended, 0);
            found = true;
        }
    }
    assert!(found && r.is_done());
}

#[test]
fn todays_reader_ignores_appended_field() {
    let mut h = v2::Header::ZERO;
    let today = sample_header();
    h.magic = today.magic;
    h.version = today.version;
    h.abi_hash = v2::ABI_HASH;
    let mut w = v2::stream::Writer::new(v2::VecSink(Vec::new()));
    w.header(&h).unwrap();
    w.record(&v2::Fs {
        objref: 8,
        umask: 0o027,
        appended: 0xdead_beef,
    })
    .unwrap();
    let img = w.finish().unwrap().0;

    // Strict: another ABI. Compatible: the extra tail is ignored.
    assert!(matches!(
        walk(&img, true),
        Err(StreamError::AbiMismatch { .. })
    ));
    let mut src = &img[..];
    let mut r = Reader::new(&mut src);
    r.set_check_abi(false);
    let mut buf = [0u8; MAX_STRUCT_PAYLOAD];
    r.next(&mut buf).unwrap().unwrap();
    let rec = r.next(&mut buf).unwrap().unwrap();
    assert_eq!(rec.payload_len() as usize, Fs::SIZE + 8);
    assert_eq!(
        rec.decode::<Fs>(),
        Some(Fs {
            objref: 8,
            umask: 0o027
        })
    );
    assert_eq!(r.next(&mut buf).unwrap().unwrap().ty, Tail::TYPE);
    assert!(r.next(&mut buf).unwrap().is_none());
}
