//! Any byte string through the image reader, with and without the ABI check: it may fail,
//! never panic. Run with `cargo +nightly fuzz run stream corpus/stream`; the corpus is
//! replayed by `cargo test -p abi --test corpus`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = abi::walk(data, true);
    let _ = abi::walk(data, false);
});
