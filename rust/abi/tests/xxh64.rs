//! XXH64 against published vectors and against the xxhash-rust crate.

use abi::xxh64::{xxh64, Xxh64};
use proptest::prelude::*;

#[test]
fn known_vectors() {
    assert_eq!(xxh64(b"", 0), 0xef46_db37_51d8_e999);
    assert_eq!(xxh64(b"a", 0), 0xd24e_c4f1_a98c_6e5b);
    assert_eq!(xxh64(b"abc", 0), 0x44bc_2cf5_ad77_0999);
    // Long inputs go through the 32-byte stripes; checked against the reference crate.
    let long: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    assert_eq!(xxh64(&long, 0), xxhash_rust::xxh64::xxh64(&long, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300), seed in any::<u64>()) {
        prop_assert_eq!(xxh64(&data, seed), xxhash_rust::xxh64::xxh64(&data, seed));
    }

    #[test]
    fn streaming_equals_one_shot(data in proptest::collection::vec(any::<u8>(), 0..300), cuts in proptest::collection::vec(0usize..300, 0..8)) {
        let mut h = Xxh64::new(0);
        let mut at = 0;
        let mut cuts = cuts;
        cuts.sort();
        for c in cuts {
            let c = c.min(data.len());
            if c >= at {
                h.update(&data[at..c]);
                at = c;
            }
        }
        h.update(&data[at..]);
        prop_assert_eq!(h.digest(), xxhash_rust::xxh64::xxh64(&data, 0));
    }

    #[test]
    fn words_equal_their_bytes(head in proptest::collection::vec(any::<u8>(), 0..70), words in proptest::collection::vec(any::<u64>(), 0..40), tail in proptest::collection::vec(any::<u8>(), 0..40)) {
        // Any number of bytes buffered before the words, any after.
        let mut h = Xxh64::new(0);
        h.update(&head);
        h.update_words(words.len(), |i| words[i]);
        h.update(&tail);
        let mut bytes = head.clone();
        words.iter().for_each(|w| bytes.extend_from_slice(&w.to_le_bytes()));
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(h.digest(), xxhash_rust::xxh64::xxh64(&bytes, 0));
    }
}
