//! Restart refuses (ESTALE) a private mapping of a regular file that changed since the
//! checkpoint: the pages checkpoint did not save, the clean ones (here all of them), would
//! come from the new file. The target writes a file of its own, maps it read-only with
//! MAP_PRIVATE, closes it, reads the mapping and is checkpointed with CKPT_KILL; then the test
//! changes the file, in two cases:
//!
//! - a byte appended: its size differs;
//! - its bytes rewritten at the same size, its modification time set with utimensat() a second
//!   after the one the checkpoint saw: only the time tells.
//!
//! Restart must fail with ESTALE and the log line "mapping START-END: its file changed since
//! the checkpoint" naming the target's mapping, and leave no process behind (none with the
//! target's pid, no child of the test). Once the test has put back the file's bytes and its
//! modification time, to the nanosecond, the same image restarts and the target reads its
//! mapping as it was: the refusal was about the change, and nothing else.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use cr_tests::mem::{mmap, pattern, Mapping, PAGE};
use cr_tests::proc::pid_exists;
use cr_tests::target::{dry_run, scratch_dir};
use cr_tests::{check_eq, check_os, cstring, pass, wait_restored, Check, Target, KILL};

const PAGES: usize = 4;
/// The pattern of the file's bytes.
const SEED: u64 = 0xF11E;

/// Where the target's mapping starts: the static is at the same address in the forked target,
/// whose memory the test reads before the checkpoint.
static MAPPED_AT: AtomicUsize = AtomicUsize::new(0);

/// A modification time: seconds and nanoseconds.
type Mtime = (i64, i64);

/// The file's bytes: pattern `seed` (see [`cr_tests::mem`]) over [`PAGES`] pages.
fn bytes(seed: u64) -> Vec<u8> {
    let words = PAGES * PAGE / 8;
    (0..words)
        .flat_map(|i| pattern(seed, i).to_ne_bytes())
        .collect()
}

/// In the target: writes the file at `path`, maps it and closes it (the mapping alone holds
/// it), reads the mapping, and leaves its address in [`MAPPED_AT`].
fn map_file(dir: &str, path: &str) -> Result<Mapping, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    std::fs::write(path, bytes(SEED)).map_err(|e| format!("write {path}: {e}"))?;
    let file = std::fs::File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    let mapping = mmap(
        PAGES * PAGE,
        libc::PROT_READ,
        libc::MAP_PRIVATE,
        file.as_raw_fd(),
        0,
    )?;
    mapping.check(SEED, "the mapping before the checkpoint")?;
    MAPPED_AT.store(mapping.addr(), Ordering::SeqCst);
    Ok(mapping)
}

/// The size and modification time of the file at `path`: what restart compares, with its
/// device and inode, which the test never changes (it writes the file in place).
fn size_and_mtime(path: &str) -> Result<(u64, Mtime), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("stat {path}: {e}"))?;
    Ok((meta.len(), (meta.mtime(), meta.mtime_nsec())))
}

/// Sets the modification time of the file at `path` to `mtime` (its access time untouched).
fn set_mtime(path: &str, (sec, nsec): Mtime) -> Check {
    let c_path = cstring(path)?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    ];
    // SAFETY: a valid path and an array of two timespecs, which utimensat only reads.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), times.as_ptr(), 0) };
    check_os(r, format_args!("utimensat({path})"))
}

/// Appends a byte to the file at `path`.
fn append_byte(path: &str, _: Mtime) -> Check {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))?;
    file.write_all(b"!")
        .map_err(|e| format!("append to {path}: {e}"))
}

/// Rewrites the file at `path` in place with other bytes of the same size, and sets its
/// modification time a second after `saved`, the checkpoint's.
fn rewrite_later(path: &str, (sec, nsec): Mtime) -> Check {
    std::fs::write(path, bytes(SEED + 1)).map_err(|e| format!("rewrite {path}: {e}"))?;
    set_mtime(path, (sec + 1, nsec))
}

/// Puts back the file at `path` as the checkpoint saw it: its bytes, written in place, then
/// its modification time `saved`; fails unless its size and time are the saved ones again.
fn put_back(path: &str, saved: Mtime) -> Check {
    std::fs::write(path, bytes(SEED)).map_err(|e| format!("write {path}: {e}"))?;
    set_mtime(path, saved)?;
    check_eq(
        format_args!("the size and modification time of {path}, put back"),
        size_and_mtime(path)?,
        ((PAGES * PAGE) as u64, saved),
    )
}

/// One case: the target maps the file `name` of the scratch directory; between its checkpoint
/// and the restart the test changes the file with `change` (given the checkpoint's
/// modification time), which must keep its size if `same_size`. Restart is refused, and once
/// the file is put back it restarts.
fn case(name: &str, change: fn(&str, Mtime) -> Check, same_size: bool, what: &str) {
    let dir = scratch_dir();
    let path = format!("{dir}/{name}");
    let in_target = path.clone();
    let mut target = Target::spawn(move || {
        let mapping = map_file(&dir, &in_target)?;
        Ok(move || {
            wait_restored();
            mapping.check(SEED, "the mapping after the restart")
        })
    });
    let start = target.peek_u64(MAPPED_AT.as_ptr() as usize) as usize;
    let pid = target.pid();
    target.checkpoint(KILL);
    if !dry_run() {
        let (size, saved) = size_and_mtime(&path).unwrap_or_else(|e| target.fail(e));
        change(&path, saved).unwrap_or_else(|e| target.fail(format!("{what}: {e}")));
        let now = size_and_mtime(&path).unwrap_or_else(|e| target.fail(e));
        if (now.0 == size) != same_size || now == (size, saved) {
            target.fail(format!(
                "{what}: the file's size and modification time went from {:?} to {now:?}",
                (size, saved)
            ));
        }
        let line = format!(
            "mapping {start:#x}-{:#x}: its file changed since the checkpoint",
            start + PAGES * PAGE
        );
        let why = format!("restart of a private mapping of a file after {what}");
        target.expect_restart_refused(0, (libc::ESTALE, &why), &line, &[]);
        if pid_exists(pid) {
            target.fail(format!(
                "{what}: pid {pid} exists after the refused restart"
            ));
        }
        put_back(&path, saved).unwrap_or_else(|e| target.fail(e));
    }
    target.restart();
    target.finish();
}

fn main() {
    case("grown", append_byte, false, "a byte was appended to it");
    case(
        "rewritten",
        rewrite_later,
        true,
        "its bytes were rewritten and its modification time set a second later",
    );
    pass("a private mapping of a file grown by a byte, or rewritten at the same size with a later modification time, is refused by restart with ESTALE and a log line naming the mapping, leaving no process; with the file's bytes and modification time put back the image restarts and the mapping reads as before");
}
