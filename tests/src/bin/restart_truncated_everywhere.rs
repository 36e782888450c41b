//! A real image cut at every record boundary and at 50 random offsets, and 50 copies with one
//! byte flipped at a random offset, are all refused by restart(2) with EBADMSG or EINVAL and a
//! log line, and leave no process behind (the saved pid names nobody, we have no child). The
//! intact image then restarts and passes its checks. Offsets come from a fixed-seed generator.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use abi::stream::{Reader, RECORD_ALIGN, RECORD_HEADER_LEN};
use cr_tests::proc::{my_children, pid_exists};
use cr_tests::target::kill_and_reap;
use cr_tests::{describe_errno, pass, sys, with_log, Prng, Target, KILL};

const RANDOM_CUTS: usize = 50;
const FLIPS: usize = 50;

/// Offsets of every record, `Pad` records included, from the framing: `{u32 type; u32 len}`,
/// the next record at the next multiple of 8 after `len` bytes.
fn record_offsets(image: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0usize;
    while at + RECORD_HEADER_LEN as usize <= image.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(image[at + 4..at + 8].try_into().unwrap_or_default());
        let next = (at + len as usize).next_multiple_of(RECORD_ALIGN as usize);
        if len < RECORD_HEADER_LEN || next <= at {
            break;
        }
        at = next;
    }
    offsets
}

/// Restarts from `path`; `Err` describes what was wrong with the outcome.
fn attempt(path: &str, pid: libc::pid_t, what: &str) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    let (result, log) = with_log(|logfd| sys::restart(file.as_raw_fd(), 0, logfd));
    let lines = log
        .iter()
        .map(|l| format!("\nkernel: {l}"))
        .collect::<String>();
    match result {
        Ok(new) => {
            kill_and_reap(new);
            return Err(format!("{what}: restart succeeded (pid {new}){lines}"));
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBADMSG | libc::EINVAL)) => {}
        Err(e) => {
            let got = describe_errno(e.raw_os_error().unwrap_or(0));
            return Err(format!(
                "{what}: got {got}, expected EBADMSG or EINVAL{lines}"
            ));
        }
    }
    if log.iter().all(|l| l.trim().is_empty()) {
        return Err(format!("{what}: the kernel wrote no log line"));
    }
    if pid_exists(pid) {
        return Err(format!(
            "{what}: the failed restart left pid {pid} behind{lines}"
        ));
    }
    let children = my_children();
    if !children.is_empty() {
        return Err(format!(
            "{what}: the failed restart left children {children:?}{lines}"
        ));
    }
    Ok(())
}

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

    let bad = format!("{}.bad", target.image_path());
    let mut cuts = record_offsets(&image);
    let boundaries = cuts.len();
    let mut rng = Prng::new(0x5eed_c0de);
    cuts.extend((0..RANDOM_CUTS).map(|_| rng.below(image.len())));
    cuts.sort();
    cuts.dedup();
    // The file grows cut by cut: each restart sees the image up to the current cut.
    let mut file = File::create(&bad).unwrap_or_else(|e| target.fail(format!("create {bad}: {e}")));
    let mut written = 0;
    for &cut in &cuts {
        file.write_all(&image[written..cut])
            .unwrap_or_else(|e| target.fail(format!("write {bad}: {e}")));
        written = cut;
        let what = format!("image cut at {cut:#x} of {:#x}", image.len());
        attempt(&bad, pid, &what).unwrap_or_else(|e| target.fail(e));
    }
    file.write_all(&image[written..])
        .unwrap_or_else(|e| target.fail(format!("write {bad}: {e}")));
    drop(file);
    let file = OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap_or_else(|e| target.fail(e));
    for _ in 0..FLIPS {
        let at = rng.below(image.len());
        let flipped = image[at] ^ (1 + rng.below(255) as u8);
        let put = |byte: u8| {
            file.write_all_at(&[byte], at as u64)
                .unwrap_or_else(|e| target.fail(format!("write {bad}: {e}")))
        };
        put(flipped);
        let what = format!(
            "image with byte {at:#x} flipped from {:#04x} to {flipped:#04x}",
            image[at]
        );
        attempt(&bad, pid, &what).unwrap_or_else(|e| target.fail(e));
        put(image[at]);
    }
    let _ = std::fs::remove_file(&bad);
    target.restart();
    target.finish();
    pass(&format!(
        "{boundaries} record boundaries, {} cuts in all and {FLIPS} flipped bytes refused cleanly",
        cuts.len()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_framing() {
        let image = cr::image::minimal();
        let header = RECORD_HEADER_LEN as usize + <abi::Header as abi::Record>::SIZE;
        assert_eq!(record_offsets(&image), [0, header]);
        assert_eq!(record_offsets(&image[..header + 4]), [0]);
    }
}
