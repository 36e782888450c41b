//! A real image cut at every record boundary and at 50 random offsets, and 50 copies with one
//! byte flipped at a random offset, are all refused by restart(2) with EBADMSG or EINVAL and a
//! log line, and leave no process behind (the saved pid names nobody, we have no child). The
//! intact image then restarts and passes its checks. Offsets come from a fixed-seed generator.

use abi::stream::Reader;
use cr_tests::damage::{record_offsets, refuse_damaged};
use cr_tests::{pass, Prng, Target, KILL};

const RANDOM_CUTS: usize = 50;
const FLIPS: usize = 50;

fn main() {
    let mut target = Target::fingerprinted();
    let pid = target.pid();
    target.checkpoint(KILL);
    let image = target.image();
    let mut reader = Reader::new(&image[..]);
    let mut buf = vec![0u8; abi::MAX_STRUCT_PAYLOAD];
    while let Ok(Some(_)) = reader.next(&mut buf) {}
    if !reader.is_done() {
        target.fail(format!(
            "the image does not read back whole (stopped at {:#x})",
            reader.position()
        ));
    }

    let mut cuts = record_offsets(&image);
    let boundaries = cuts.len();
    let mut rng = Prng::new(0x5eed_c0de);
    cuts.extend((0..RANDOM_CUTS).map(|_| rng.below(image.len())));
    cuts.sort();
    cuts.dedup();
    refuse_damaged(&target, &image, &[pid], &cuts, FLIPS, &mut rng);
    target.restart();
    target.finish();
    pass(&format!(
        "{boundaries} record boundaries, {} cuts in all and {FLIPS} flipped bytes refused cleanly",
        cuts.len()
    ));
}
