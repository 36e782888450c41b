//! The image of a ten-process tree (a root, three children, two grandchildren each), cut short
//! or with bytes flipped, is always refused with EBADMSG or EINVAL and a log line, and no
//! process of the tree is left behind, however many restart had created when it hit the
//! damage. The intact image then restarts and the whole tree passes its checks.
//!
//! The cuts: before each task, at the tail, at every record boundary of the second task's
//! part (restart then has one task to undo), and at random offsets. Cutting at all of the
//! image's ~1600 record boundaries takes over five minutes under TCG, for what the single
//! process's `restart_truncated_everywhere` already covers record kind by record kind.

use cr_tests::damage::{record_offsets, refuse_damaged};
use cr_tests::tree::{check_ids, descendants, ids, wait_gone, wake_and_reap, Kid, Ready};
use cr_tests::{pass, wait_restored, Check, Prng, Target, KILL};

// Few: most flips land in page bytes, which only the tail's checksum catches, after all ten
// tasks were created (about 0.8 s each under TCG with KASAN).
const FLIPS: usize = 8;
const RANDOM_CUTS: usize = 8;

/// The type of the record at offset `at`.
fn type_at(image: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(image[at..at + 4].try_into().unwrap_or_default())
}

/// A process that checks its ids after the restart, then wakes and reaps `kids`.
fn checks(kids: Vec<Kid>) -> impl FnOnce() -> Check {
    let want = ids();
    move || {
        check_ids(want)?;
        wake_and_reap(&kids)
    }
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let mut kids = Vec::new();
    for i in 0..3 {
        kids.push(ready.fork(41 + i, |ready| {
            let grandkids = (0..2)
                .map(|j| ready.fork(51 + 2 * i + j, |_| Ok(checks(Vec::new()))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(checks(grandkids))
        })?);
    }
    ready.wait(9)?;
    let check = checks(kids);
    Ok(move || {
        wait_restored();
        check()
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let mut pids = descendants(target.pid());
    if pids.len() != 9 {
        target.fail(format!(
            "the target should have 9 descendants, has {pids:?}"
        ));
    }
    target.checkpoint(KILL);
    wait_gone(&pids).unwrap_or_else(|e| target.fail(e));
    pids.push(target.pid());
    let image = target.image();
    let boundaries = record_offsets(&image);
    let task = abi::RecordType::Task.id();
    let starts: Vec<usize> = boundaries
        .iter()
        .copied()
        .filter(|&at| type_at(&image, at) == task)
        .collect();
    if starts.len() != 10 {
        target.fail(format!(
            "the image should hold 10 tasks, holds {}",
            starts.len()
        ));
    }
    let mut cuts = starts.clone();
    cuts.extend(
        boundaries
            .iter()
            .filter(|&&at| at >= starts[1] && at <= starts[2]),
    );
    cuts.extend(boundaries.last());
    let mut rng = Prng::new(0x7ee_5eed);
    cuts.extend((0..RANDOM_CUTS).map(|_| rng.below(image.len())));
    cuts.sort();
    cuts.dedup();
    refuse_damaged(&target, &image, &pids, &cuts, FLIPS, &mut rng);
    target.restart();
    target.finish();
    pass(&format!(
        "a 10-process image cut at {} places and with {FLIPS} flipped bytes was refused cleanly",
        cuts.len()
    ));
}
