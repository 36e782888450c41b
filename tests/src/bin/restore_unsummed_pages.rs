//! checkpoint(2) with CKPT_NO_PAGE_CHECKSUM leaves page data out of the image's checksum, and
//! only page data: restart then takes a flipped byte of page data as it is, but still refuses
//! any other damage with EBADMSG, with RESTART_MAP too (which cannot verify a normal image).
//!
//! A target fills a 4 MiB private anonymous mapping with a pattern and is checkpointed with
//! CKPT_KILL | CKPT_NO_PAGE_CHECKSUM through a pipe ([`Target::through_pipes`]). The image's
//! header has flags HDR_SUBTREE | HDR_NO_PAGE_CHECKSUM, and the test's own stream reader reads
//! it back whole (its tail's checksum matching with page data left out). Then:
//!
//! - the image restarts through a pipe and the target finds its mapping intact;
//! - the image with byte `FLIP_AT` of the mapping flipped (XOR `FLIP_MASK`) in the payload of
//!   the `Pages` record that holds it (found by walking the records: `PageRun` then `Pages`)
//!   still reads back whole, restarts through a pipe, and the target finds exactly that one
//!   word of its mapping changed, by that byte (told so by a marker file the test writes
//!   before it wakes it);
//! - the image with a byte of the `Regs` record flipped (the low byte of r15) fails the test's
//!   reader with a checksum mismatch, and restart(2) gives EBADMSG with a log line "checksum
//!   mismatch" from the file and with RESTART_MAP from a sealed memfd: the target's pid names
//!   nobody afterwards and the test has no child;
//! - with RESTART_MAP from a sealed memfd ([`Target::mapped`]), the image with the flipped
//!   page byte restores with the flipped word, and the intact image restores intact; each
//!   time the lines of /proc/PID/maps over the mapping are all "memfd:cr-image" and cover it
//!   (its pages mapped from the image, not read).
//!
//! With `CR_TESTS_DRY_RUN=1` only the target's setup and its check of the intact mapping run.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use abi::stream::{Reader, StreamError, RECORD_HEADER_LEN};
use abi::{PageRun, Record, RecordType};
use cr_tests::mem::{pattern, region, Mapping, PAGE};
use cr_tests::proc::{my_children, parse_maps_line};
use cr_tests::target::{dry_run, image_memfd, kill_and_reap, scratch_dir, IMAGE_SEALS};
use cr_tests::tree::wait_gone;
use cr_tests::{
    errno_problem, fd, pass, sys, temp_file_with, wait_restored, with_log, Check, Target, KILL,
};

/// The mapping's size: 4 MiB.
const PAGES: usize = 1024;
/// Page `n` of the mapping holds pattern `SEED + n`.
const SEED: u64 = 0x5eed;
/// The byte of the mapping flipped in the image's page data, and how.
const FLIP_AT: usize = 1000 * PAGE + 0x123;
const FLIP_MASK: u8 = 0x5a;
/// The field of the `Regs` record whose low byte is flipped, and how.
const REGS_FIELD: &str = "r15";
const REGS_MASK: u8 = 0x01;
/// What the kernel's log says of a tail that does not match.
const CHECKSUM_LINE: &str = "checksum mismatch";
/// The name /proc/PID/maps gives a mapping of the image's memfd holds this.
const MEMFD: &str = "memfd:cr-image";

/// Where the target keeps its mapping, at the same address in the test (fork, no exec): the
/// test reads it from the target's memory.
static MAPPING: AtomicUsize = AtomicUsize::new(0);

/// `Err` unless page `n` of `m` holds pattern `SEED + n`, but, if `flipped`, the word holding
/// byte `FLIP_AT`, which must differ from it by `FLIP_MASK` in that byte.
fn check_mapping(m: Mapping, flipped: bool) -> Check {
    for n in 0..PAGES {
        let page = m.page(n);
        let seed = SEED + n as u64;
        if !flipped || n != FLIP_AT / PAGE {
            page.check(seed, &format!("page {n}"))?;
            continue;
        }
        // SAFETY: the page is mapped read-write for good (`region`) and page aligned; nothing
        // writes it while this shared view lives.
        let words = unsafe { std::slice::from_raw_parts(page.ptr().cast::<u64>(), PAGE / 8) };
        let (word, byte) = ((FLIP_AT % PAGE) / 8, FLIP_AT % 8);
        for (i, &got) in words.iter().enumerate() {
            let mut want = pattern(seed, i);
            if i == word {
                want ^= u64::from(FLIP_MASK) << (8 * byte);
            }
            if got != want {
                let which = if i == word { " (the flipped word)" } else { "" };
                return Err(format!(
                    "page {n} word {i}{which} (byte {:#x}) is {got:#x}, expected {want:#x}",
                    i * 8
                ));
            }
        }
    }
    Ok(())
}

/// The target: a filled 4 MiB mapping; once woken it checks it, with the flip that `marker`
/// existing announces.
fn spawn(marker: String) -> Target {
    Target::spawn(move || {
        let m = region(PAGES, 0)?;
        m.fill_pages(SEED);
        MAPPING.store(m.addr(), Ordering::SeqCst);
        Ok(move || {
            wait_restored();
            check_mapping(m, std::path::Path::new(&marker).exists())
        })
    })
}

/// Where the test found what it flips: stream offsets in the image.
struct Places {
    header: abi::Header,
    /// The byte of page data that holds byte `FLIP_AT` of the mapping.
    page_byte: usize,
    /// The low byte of `REGS_FIELD` in the first `Regs` record.
    regs_byte: usize,
}

/// Reads `image` through the abi stream reader to its tail, which must match.
fn reads_back(image: &[u8]) -> Result<(), StreamError<abi::stream::EndOfInput>> {
    let mut reader = Reader::new(image);
    let mut buf = vec![0u8; abi::MAX_STRUCT_PAYLOAD];
    while reader.next(&mut buf)?.is_some() {}
    Ok(())
}

/// Walks the records of `image` (the mapping at `addr`) for the places it flips.
fn locate(image: &[u8], addr: usize) -> Result<Places, String> {
    let flip = (addr + FLIP_AT) as u64;
    let regs_field = abi::record_desc(RecordType::Regs.id())
        .and_then(|d| d.fields.iter().find(|f| f.name == REGS_FIELD))
        .map(|f| f.offset as usize)
        .ok_or_else(|| format!("the schema's Regs has no field {REGS_FIELD}"))?;
    let payload = |offset: u64| offset as usize + RECORD_HEADER_LEN as usize;
    let mut reader = Reader::new(image);
    let mut buf = vec![0u8; abi::MAX_STRUCT_PAYLOAD];
    let (mut run, mut page_byte, mut regs_byte) = (None::<PageRun>, None, None);
    loop {
        let rec = match reader.next(&mut buf) {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                return Err(format!(
                    "the image does not read back (at {:#x}): {e}",
                    reader.position()
                ))
            }
        };
        if rec.ty == RecordType::PageRun.id() {
            run = Some(PageRun::decode(rec.payload)).filter(|r| r.flags == 0);
        } else if rec.ty == RecordType::Pages.id() {
            if let Some(r) = run.take() {
                let end = r.addr + u64::from(r.npages) * PAGE as u64;
                if (r.addr..end).contains(&flip) && page_byte.is_none() {
                    page_byte = Some(payload(rec.offset) + (flip - r.addr) as usize);
                }
            }
        } else if rec.ty == RecordType::Regs.id() && regs_byte.is_none() {
            regs_byte = Some(payload(rec.offset) + regs_field);
        }
    }
    Ok(Places {
        header: *reader.header(),
        page_byte: page_byte
            .ok_or_else(|| format!("no Pages record holds the byte at {flip:#x}"))?,
        regs_byte: regs_byte.ok_or("the image has no Regs record")?,
    })
}

/// `image` with byte `at` XORed with `mask`.
fn flipped(image: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut bad = image.to_vec();
    bad[at] ^= mask;
    bad
}

/// restart(2) from `fd` with `flags` (`what`: from what) must fail with EBADMSG and a log line
/// saying "checksum mismatch", and leave no process with the target's pid and no child.
fn expect_checksum_refused(target: &Target, fd: RawFd, flags: u32, what: &str) {
    let (result, log) = with_log(|logfd| sys::restart(fd, flags, logfd));
    let failed = |why: String| -> ! {
        for l in &log {
            eprintln!("kernel: [restart from {what}] {l}");
        }
        target.fail(format!("restart from {what}: {why}"))
    };
    if let Some(problem) = errno_problem(&result, libc::EBADMSG, "restart") {
        if let Ok(pid) = result {
            kill_and_reap(pid);
        }
        failed(problem);
    }
    if !log.iter().any(|l| l.contains(CHECKSUM_LINE)) {
        failed(format!("no kernel log line says {CHECKSUM_LINE:?}"));
    }
    let left = my_children();
    if !left.is_empty() {
        failed(format!("the test has children after it: {left:?}"));
    }
    if let Err(e) = wait_gone(&[target.pid()]) {
        failed(format!("a process is left: {e}"));
    }
}

/// Fails unless the lines of the restored target's /proc/PID/maps over the mapping at `addr`
/// are all of the image's memfd and cover it wholly.
fn expect_mapped(target: &Target, addr: usize) {
    let path = format!("/proc/{}/maps", target.pid());
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| target.fail(format!("{path}: {e}")));
    let (end, mut covered) = (addr + PAGES * PAGE, addr);
    let mut lines: Vec<_> = text
        .lines()
        .filter_map(parse_maps_line)
        .filter(|e| e.end > addr && e.start < end)
        .collect();
    lines.sort_by_key(|e| e.start);
    for e in &lines {
        if e.start > covered || !e.name.contains(MEMFD) {
            target.fail(format!(
                "the mapping {addr:#x}-{end:#x}: {path} has {:#x}-{:#x} {:?} after {covered:#x}, \
                 expected {MEMFD} lines covering it",
                e.start, e.end, e.name
            ));
        }
        covered = covered.max(e.end);
    }
    if covered < end {
        target.fail(format!(
            "the mapping {addr:#x}-{end:#x}: {path} covers it only up to {covered:#x}"
        ));
    }
}

/// Puts `bytes` in the target's image file, for its next restart.
fn write_image(target: &Target, bytes: &[u8]) {
    let path = target.image_path();
    std::fs::write(path, bytes).unwrap_or_else(|e| target.fail(format!("write {path}: {e}")));
}

/// Restarts the target (as set: through a pipe, or mapped), checks its mapping's lines in
/// /proc/PID/maps if `mapped`, wakes it and expects it to pass its check (`what`: the case).
fn restored(target: &mut Target, addr: usize, mapped: bool, what: &str) {
    target.restart();
    if mapped {
        expect_mapped(target, addr);
    }
    target.wake();
    target.expect_exit(what);
}

fn main() {
    let dir = scratch_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        cr_tests::fail(format!("mkdir {dir}: {e}"));
    }
    let marker = format!("{dir}/flipped");
    let mut target = spawn(marker.clone());
    let addr = target.peek_u64(MAPPING.as_ptr() as usize) as usize;
    target.through_pipes();
    target.checkpoint(KILL | abi::CKPT_NO_PAGE_CHECKSUM);
    if dry_run() {
        target.restart();
        target.finish();
        pass("dry run: the target's setup and its check of the intact mapping");
    }

    let image = target.image();
    let places = locate(&image, addr).unwrap_or_else(|e| target.fail(e));
    let want = abi::HDR_SUBTREE | abi::HDR_NO_PAGE_CHECKSUM;
    if places.header.flags != want {
        target.fail(format!(
            "the image's header has flags {:#x}, expected HDR_SUBTREE | HDR_NO_PAGE_CHECKSUM \
             ({want:#x})",
            places.header.flags
        ));
    }
    restored(&mut target, addr, false, "the intact image, through a pipe");

    // A byte of page data flipped: not in the checksum, taken as it is.
    let bad_page = flipped(&image, places.page_byte, FLIP_MASK);
    if let Err(e) = reads_back(&bad_page) {
        target.fail(format!(
            "the image with page byte {:#x} flipped does not read back: {e}",
            places.page_byte
        ));
    }
    write_image(&target, &bad_page);
    std::fs::write(&marker, b"").unwrap_or_else(|e| target.fail(format!("create {marker}: {e}")));
    let what = "the image with a byte of page data flipped, through a pipe";
    restored(&mut target, addr, false, what);

    // A byte of the registers flipped: in the checksum, from a file and mapped.
    let bad_regs = flipped(&image, places.regs_byte, REGS_MASK);
    match reads_back(&bad_regs) {
        Err(StreamError::BadChecksum) => {}
        other => target.fail(format!(
            "the image with Regs byte {:#x} flipped reads back with {other:?}, expected \
             BadChecksum",
            places.regs_byte
        )),
    }
    let file = temp_file_with(&bad_regs, false);
    let what = "a file holding the image with a byte of Regs flipped";
    expect_checksum_refused(&target, fd(&file), 0, what);
    drop(file);
    let memfd = image_memfd(&mut &bad_regs[..], IMAGE_SEALS).unwrap_or_else(|e| target.fail(e));
    let what = "a sealed memfd holding the image with a byte of Regs flipped, with RESTART_MAP";
    expect_checksum_refused(&target, fd(&memfd), abi::RESTART_MAP, what);
    drop(memfd);

    // Mapped from a sealed memfd: the flipped page byte, then the intact image.
    target.mapped();
    let what = "the image with a byte of page data flipped, with RESTART_MAP";
    restored(&mut target, addr, true, what);
    let _ = std::fs::remove_file(&marker);
    write_image(&target, &image);
    target.restart();
    expect_mapped(&target, addr);
    target.finish();
    pass(
        "an image made with CKPT_NO_PAGE_CHECKSUM has HDR_NO_PAGE_CHECKSUM and restarts intact; \
         with a byte of page data flipped it restarts with that byte flipped (through a pipe, \
         and mapped); a flipped byte of Regs gives EBADMSG, from a file and with RESTART_MAP, \
         leaving nothing; with RESTART_MAP its pages are mapped from the memfd",
    );
}
