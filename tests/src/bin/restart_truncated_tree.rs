//! The image of a ten-process tree (a root, three children, two grandchildren each; the first
//! child has two more threads), cut short or with bytes flipped, is always refused with
//! EBADMSG or EINVAL and a log line, and no task of the tree is left behind, however many
//! restart had created when it hit the damage. The intact image then restarts and the whole
//! tree passes its checks.
//!
//! The cuts: before each task, at the tail, at every record boundary of the first child's
//! part, its threads' included (restart then has that process, some of its threads and the
//! root to undo), and at random offsets. Cutting at all of the image's ~1600 record
//! boundaries takes over five minutes under TCG, for what the single process's
//! `restart_truncated_everywhere` already covers record kind by record kind.

use cr_tests::damage::{record_offsets, refuse_damaged};
use std::sync::Arc;
use std::time::Duration;

use cr_tests::threads::{self, tids_of, Gate, Ident};
use cr_tests::tree::{check_ids, ids, wait_gone, wake_and_reap, Kid, Ready};
use cr_tests::{pass, wait_restored, Check, Prng, Target, KILL};

/// Extra threads of the first child.
const THREADS: usize = 2;

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

/// Starts threads that wait for the restart, then check who they are.
fn with_threads(then: impl FnOnce() -> Check) -> Result<impl FnOnce() -> Check, String> {
    let gate = Arc::new(Gate::default());
    let started = (0..THREADS)
        .map(|i| {
            let gate = gate.clone();
            threads::spawn(move || {
                let id = Ident::take(&format!("thread{i}"));
                gate.wait();
                id.check()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(move || {
        gate.open();
        let joined: Check = started
            .into_iter()
            .try_for_each(|t| t.join(Duration::from_secs(20)));
        then().and(joined)
    })
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let mut kids = Vec::new();
    for i in 0..3 {
        kids.push(ready.fork(41 + i, |ready| {
            let grandkids = (0..2)
                .map(|j| ready.fork(51 + 2 * i + j, |_| Ok(checks(Vec::new()))))
                .collect::<Result<Vec<_>, _>>()?;
            // Started after the forks: a child of a threaded process is forked by one thread.
            let check: Box<dyn FnOnce() -> Check> = match i {
                0 => Box::new(with_threads(checks(grandkids))?),
                _ => Box::new(checks(grandkids)),
            };
            Ok(check)
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
    let mut pids = target.descendants(9);
    let threads = tids_of(pids[0]);
    if threads.len() != 1 + THREADS {
        target.fail(format!(
            "the first child should have {} threads, has {threads:?}",
            1 + THREADS
        ));
    }
    target.checkpoint(KILL);
    pids.extend(&threads[1..]);
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
    if starts.len() != 10 + THREADS {
        target.fail(format!(
            "the image should hold {} tasks, holds {}",
            10 + THREADS,
            starts.len()
        ));
    }
    // The first child and its threads follow the root.
    let mut cuts = starts.clone();
    cuts.extend(
        boundaries
            .iter()
            .filter(|&&at| at >= starts[1] && at <= starts[2 + THREADS]),
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
        "a 10-process, 12-task image cut at {} places and with {FLIPS} flipped bytes was refused cleanly",
        cuts.len()
    ));
}
