//! A crafted image reopens the target's stdin as `/proc/self/mem` before its `Mm` record: a
//! restored process is created in the restarter's address space (`CLONE_VM`), so a file it
//! opened then would read and write the restarter's memory for as long as it lives. The
//! restored process checks through that fd that the restarter's secret, at the same address
//! in both (the target is a fork of the test), is out of its reach.

use std::sync::atomic::{AtomicU64, Ordering};

use cr_tests::craft::Image;
use cr_tests::{pass, wait_restored, Target, KILL};

/// Set in the restarter only, after the target was forked.
static SECRET: AtomicU64 = AtomicU64::new(0);
const MAGIC: u64 = 0x5ec2_e7ed_c0ff_ee01;

fn main() {
    let mut target = Target::spawn(|| {
        Ok(|| {
            wait_restored();
            let mut word = [0u8; 8];
            let at = SECRET.as_ptr() as libc::off_t;
            // SAFETY: `word` is valid for 8 bytes; fd 0 is whatever the restart made of it.
            let n = unsafe { libc::pread(0, word.as_mut_ptr().cast(), word.len(), at) };
            if n == 8 && u64::from_ne_bytes(word) == MAGIC {
                return Err("fd 0 reads the restarter's memory".into());
            }
            Ok(())
        })
    });
    SECRET.store(MAGIC, Ordering::SeqCst);
    target.checkpoint(KILL);
    let mut image = Image::parse(&target.image());
    let root = image.task(target.pid());
    let first = image.next::<abi::Signal>(root);
    let file = image.file("/dev/null");
    image.rec(file).set("kind", abi::FILE_KIND_REGULAR.into());
    image
        .rec(file)
        .set("i_mode", i64::from(libc::S_IFREG | 0o600));
    image.rec(file + 1).payload = b"/proc/self/mem".to_vec();
    // Before the process's first record, so before its `Mm`.
    image.move_file(file, first);
    let path = target.image_path().to_string();
    image.write(&path);
    target.restart();
    target.finish();
    pass("a file reopened before the process's Mm record does not reach the restarter's memory");
}
