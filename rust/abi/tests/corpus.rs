//! Replays the fuzz corpus (`fuzz/corpus/stream/`) through the reader: no input may panic.
//!
//! `CR_BLESS=1 cargo test -p abi --test corpus` regenerates the seeds: the sample image, some
//! truncations, byte flips, length and type mutations, and noise.

mod common;

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stream")
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let img = common::sample_image();
    let mut out = vec![("valid".to_string(), img.clone())];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (i, cut) in [0, 7, 8, 100, 208, 4096, 4104, img.len() - 25, img.len() - 1]
        .into_iter()
        .enumerate()
    {
        out.push((format!("cut-{i:02}"), img[..cut].to_vec()));
    }
    for i in 0..16 {
        let mut m = img.clone();
        let at = (rnd() as usize) % m.len();
        m[at] ^= 1 << (i % 8);
        out.push((format!("flip-{i:02}"), m));
    }
    // Record lengths and types overwritten in the record after the header.
    let at = 8 + <abi::Header as abi::Record>::SIZE;
    for (i, v) in [0u32, 8, 9, 0xffff_fff8, 35, 3, 2, 0x7777]
        .into_iter()
        .enumerate()
    {
        let mut m = img.clone();
        let field = if i < 4 { at + 4 } else { at };
        m[field..field + 4].copy_from_slice(&v.to_le_bytes());
        out.push((format!("field-{i:02}"), m));
    }
    for i in 0..8 {
        let n = (rnd() % 600) as usize;
        let noise: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
        out.push((format!("noise-{i:02}"), noise));
    }
    out
}

#[test]
fn corpus_never_panics() {
    let d = dir();
    if std::env::var_os("CR_BLESS").is_some() {
        std::fs::create_dir_all(&d).unwrap();
        for (name, bytes) in seeds() {
            std::fs::write(d.join(name), bytes).unwrap();
        }
    }
    let mut n = 0;
    for ent in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
        let bytes = std::fs::read(ent.unwrap().path()).unwrap();
        let _ = abi::walk(&bytes, true);
        let _ = abi::walk(&bytes, false);
        n += 1;
    }
    assert!(n >= 30, "corpus has only {n} files");
    assert!(abi::walk(&std::fs::read(d.join("valid")).unwrap(), true).is_ok());
}
