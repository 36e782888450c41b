//! Damaged images: cut short or with bytes flipped, each must be refused by restart(2) with
//! EBADMSG or EINVAL and a log line, and leave no task behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use abi::stream::{RECORD_ALIGN, RECORD_HEADER_LEN};

use crate::proc::{my_children, pid_exists};
use crate::target::kill_and_reap;
use crate::{describe_errno, sys, with_log, Prng, Target};

/// Offsets of every record, `Pad` records included, from the framing: `{u32 type; u32 len}`,
/// the next record at the next multiple of 8 after `len` bytes.
pub fn record_offsets(image: &[u8]) -> Vec<usize> {
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

/// Restarts from `path`, which must be refused with EBADMSG or EINVAL; `Err` describes what
/// was wrong with the outcome: a success, another errno, no log line, or a task left behind
/// (one of `pids`, the image's, or a child of ours).
pub fn attempt(path: &str, pids: &[libc::pid_t], what: &str) -> Result<(), String> {
    attempt_expecting(path, pids, what, &[libc::EBADMSG, libc::EINVAL], None)
}

/// [`attempt`], refused with one of `errnos` and, if given, a log line that holds `why`.
pub fn attempt_expecting(
    path: &str,
    pids: &[libc::pid_t],
    what: &str,
    errnos: &[i32],
    why: Option<&str>,
) -> Result<(), String> {
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
        Err(e) if errnos.contains(&e.raw_os_error().unwrap_or(0)) => {}
        Err(e) => {
            let got = describe_errno(e.raw_os_error().unwrap_or(0));
            let want: Vec<String> = errnos.iter().map(|&e| crate::errno_name(e)).collect();
            return Err(format!(
                "{what}: got {got}, expected {}{lines}",
                want.join(" or ")
            ));
        }
    }
    if log.iter().all(|l| l.trim().is_empty()) {
        return Err(format!("{what}: the kernel wrote no log line"));
    }
    if let Some(why) = why.filter(|w| !log.iter().any(|l| l.contains(w))) {
        return Err(format!("{what}: refused, but not for \"{why}\"{lines}"));
    }
    if let Some(pid) = pids.iter().find(|&&p| pid_exists(p)) {
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

/// Restarts from `image` cut at each of `cuts` (sorted), then from `flips` copies with one
/// byte at a random offset flipped, all of which must be refused (see [`attempt`]); `pids` are
/// the image's tasks. The damaged image is written next to the target's.
pub fn refuse_damaged(
    target: &Target,
    image: &[u8],
    pids: &[libc::pid_t],
    cuts: &[usize],
    flips: usize,
    rng: &mut Prng,
) {
    let bad = format!("{}.bad", target.image_path());
    // The file grows cut by cut: each restart sees the image up to the current cut.
    let mut file = File::create(&bad).unwrap_or_else(|e| target.fail(format!("create {bad}: {e}")));
    let mut written = 0;
    for &cut in cuts {
        file.write_all(&image[written..cut])
            .unwrap_or_else(|e| target.fail(format!("write {bad}: {e}")));
        written = cut;
        let what = format!("image cut at {cut:#x} of {:#x}", image.len());
        attempt(&bad, pids, &what).unwrap_or_else(|e| target.fail(e));
    }
    file.write_all(&image[written..])
        .unwrap_or_else(|e| target.fail(format!("write {bad}: {e}")));
    drop(file);
    let file = OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap_or_else(|e| target.fail(e));
    for _ in 0..flips {
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
        attempt(&bad, pids, &what).unwrap_or_else(|e| target.fail(e));
        put(image[at]);
    }
    let _ = std::fs::remove_file(&bad);
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
