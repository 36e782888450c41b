//! MAP_SHARED anonymous memory whose pages are swapped out when it is checkpointed comes back
//! with its contents. Such pages are not in the object's page cache but in swap; a dump that
//! only looks in the page cache restores them as zeros.
//!
//! The test swaps on a zram disk of its own (made here, with the swap header written by
//! hand), fills the mapping, pushes it out with MADV_PAGEOUT and checks in
//! `/proc/self/smaps` that it is swapped out before the checkpoint.

use std::io::Write;
use std::os::unix::fs::FileExt;

use cr_tests::mem::{mmap, PAGE};
use cr_tests::proc::check_mapping;
use cr_tests::{fail, pass, skip, wait_restored, Target, KILL};

const LEN: usize = 64 * PAGE;
const ZRAM: &str = "/dev/zram0";
const ZRAM_SIZE: u64 = 32 << 20;

/// Makes `ZRAM` a swap device and swaps on it, unless that is done already.
fn swap_on() -> Result<(), String> {
    let swaps = std::fs::read_to_string("/proc/swaps").map_err(|e| format!("/proc/swaps: {e}"))?;
    if swaps.lines().any(|l| l.starts_with(ZRAM)) {
        return Ok(());
    }
    let sys = "/sys/block/zram0/disksize";
    if !std::path::Path::new(sys).exists() {
        skip("no zram device (CONFIG_ZRAM)");
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(sys)
        .and_then(|mut f| f.write_all(ZRAM_SIZE.to_string().as_bytes()))
        .map_err(|e| format!("set {sys}: {e}"))?;
    // The version 1 swap header of mkswap: `last_page` after the boot block, the magic at
    // the end of the first page.
    let mut header = vec![0u8; PAGE];
    header[1024..1028].copy_from_slice(&1u32.to_le_bytes());
    let last_page = (ZRAM_SIZE / PAGE as u64 - 1) as u32;
    header[1028..1032].copy_from_slice(&last_page.to_le_bytes());
    header[PAGE - 10..].copy_from_slice(b"SWAPSPACE2");
    let dev = std::fs::OpenOptions::new()
        .write(true)
        .open(ZRAM)
        .map_err(|e| format!("open {ZRAM}: {e}"))?;
    dev.write_all_at(&header, 0)
        .and_then(|()| dev.sync_all())
        .map_err(|e| format!("write the swap header: {e}"))?;
    let path = std::ffi::CString::new(ZRAM).map_err(|e| e.to_string())?;
    // SAFETY: `path` is NUL-terminated.
    if unsafe { libc::swapon(path.as_ptr(), 0) } != 0 {
        return Err(cr_tests::os_error(format!("swapon {ZRAM}")));
    }
    Ok(())
}

/// The `Swap:` of the mapping at `addr` in `/proc/self/smaps`, in bytes.
fn swapped(addr: usize) -> Result<usize, String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| format!("smaps: {e}"))?;
    let start = format!("{addr:x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
    lines
        .next()
        .ok_or_else(|| format!("no mapping at {addr:#x} in smaps"))?;
    let line = lines
        .find(|l| l.starts_with("Swap:"))
        .ok_or("no Swap: line in smaps")?;
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read {line:?}"))?;
    Ok(kb * 1024)
}

fn main() {
    cr_tests::require_root();
    if let Err(e) = swap_on() {
        fail(format!("set up swap: {e}"));
    }
    let mut target = Target::spawn(|| {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let m = mmap(LEN, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)?;
        m.fill(5);
        // Pages still in another CPU's LRU batch cannot be isolated yet: advise again.
        let mut out = 0;
        for _ in 0..50 {
            // SAFETY: advice on our own mapping.
            if unsafe { libc::madvise(m.ptr().cast(), LEN, libc::MADV_PAGEOUT) } != 0 {
                return Err(cr_tests::os_error("madvise(MADV_PAGEOUT)"));
            }
            out = swapped(m.addr())?;
            if out == LEN {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if out != LEN {
            return Err(format!(
                "{out} of {LEN} bytes swapped out by MADV_PAGEOUT, advised 50 times"
            ));
        }
        Ok(move || {
            wait_restored();
            check_mapping(m.addr(), LEN, "rw-s")?;
            m.check(5, "swapped-out shared anonymous memory")
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("swapped-out MAP_SHARED anonymous memory restored with its contents");
}
