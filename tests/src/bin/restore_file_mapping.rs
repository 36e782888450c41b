//! A private file mapping survives checkpoint and restart: pages written before the checkpoint
//! (copied on write) keep what was written, even zeros, clean pages (read, or never touched)
//! show the file, and the file itself is unchanged. A second mapping starts at a file offset.

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use cr_tests::mem::{fill_words, mmap, Mapping, PAGE};
use cr_tests::proc::maps_entry;
use cr_tests::target::scratch_dir;
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

const PAGES: usize = 8;
const WRITTEN: [usize; 2] = [1, 5];
const READ: usize = 2;
/// A page the process overwrote with zeros: its copy must not read as the file again.
const ZEROED: usize = 6;
const OFFSET_PAGES: usize = 3;

/// Page `n` of the file holds pattern `100 + n`; a written page holds pattern `200 + n`.
fn file_bytes() -> Vec<u8> {
    let mut words = vec![0u64; PAGE / 8];
    let mut bytes = Vec::with_capacity(PAGES * PAGE);
    for n in 0..PAGES {
        fill_words(&mut words, 100 + n as u64);
        bytes.extend(words.iter().flat_map(|w| w.to_ne_bytes()));
    }
    bytes
}

struct Mapped {
    path: String,
    whole: Mapping,
    tail: Mapping,
    entry: cr_tests::proc::MapsEntry,
}

fn setup(path: String) -> Result<Mapped, String> {
    std::fs::write(&path, file_bytes()).map_err(|e| format!("write {path}: {e}"))?;
    let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let whole = mmap(PAGES * PAGE, rw, libc::MAP_PRIVATE, file.as_raw_fd(), 0)?;
    let tail_len = (PAGES - OFFSET_PAGES) * PAGE;
    let tail = mmap(
        tail_len,
        rw,
        libc::MAP_PRIVATE,
        file.as_raw_fd(),
        OFFSET_PAGES * PAGE,
    )?;
    // The file is closed now: the mappings alone keep it.
    for n in WRITTEN {
        whole.part(n * PAGE, PAGE).fill(200 + n as u64);
    }
    whole.part(ZEROED * PAGE, PAGE).fill_zero();
    tail.part(0, PAGE).fill(300);
    whole
        .part(READ * PAGE, PAGE)
        .check(100 + READ as u64, "read page")?;
    let entry = maps_entry(whole.addr()).ok_or("the file mapping is not in /proc/self/maps")?;
    Ok(Mapped {
        path,
        whole,
        tail,
        entry,
    })
}

fn check(m: &Mapped) -> Check {
    let line = maps_entry(m.whole.addr());
    check_eq(
        "the mapping's /proc/self/maps line",
        line,
        Some(m.entry.clone()),
    )?;
    for n in 0..PAGES {
        let p = m.whole.part(n * PAGE, PAGE);
        match (WRITTEN.contains(&n), n == ZEROED) {
            (true, _) => p.check(200 + n as u64, &format!("written page {n}"))?,
            (_, true) => p.check_zero(&format!("page {n}, overwritten with zeros"))?,
            _ => p.check(100 + n as u64, &format!("clean page {n}"))?,
        }
    }
    let first = m.tail.part(0, PAGE);
    first.check(300, "written first page of the offset mapping")?;
    for n in OFFSET_PAGES + 1..PAGES {
        let p = m.tail.part((n - OFFSET_PAGES) * PAGE, PAGE);
        p.check(100 + n as u64, &format!("offset mapping, file page {n}"))?;
    }
    let file = std::fs::File::open(&m.path).map_err(|e| format!("open {}: {e}", m.path))?;
    let mut now = vec![0u8; PAGES * PAGE];
    file.read_exact_at(&mut now, 0)
        .map_err(|e| format!("read {}: {e}", m.path))?;
    if now != file_bytes() {
        return Err(format!(
            "{} changed: private writes reached the file",
            m.path
        ));
    }
    Ok(())
}

fn main() {
    let dir = scratch_dir();
    let mut target = Target::spawn(move || {
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
        let mapped = setup(format!("{dir}/file"))?;
        Ok(move || {
            wait_restored();
            check(&mapped)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("written pages of private file mappings kept, clean pages read from the file");
}
