//! The log and the image may be the same open file, even a shared one: the kernel must not
//! wait on the file's position lock twice (a task stuck in D state), and the log line must land
//! in the file.

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;

use cr_tests::{expect_errno, fail, fd, pass, sys, Child};

fn main() {
    let path = "/tmp/log_shares_image_file";
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap_or_else(|e| fail(format!("open {path}: {e}")));
    // A second reference makes the kernel lock the position (file_needs_f_pos_lock).
    let dup = file
        .try_clone()
        .unwrap_or_else(|e| fail(format!("dup: {e}")));

    let target = Child::sleeper();
    expect_errno(
        sys::checkpoint(target.pid(), fd(&file), abi::CKPT_SUBTREE, dup.as_raw_fd()),
        libc::EOPNOTSUPP,
        "checkpoint whose logfd is a dup of its image fd",
    );
    expect_text(&file, "checkpoint: ");
    // An image that is the log itself, read from the start: garbage, so EINVAL, and no hang.
    rewind(&file);
    expect_errno(
        sys::restart(fd(&file), 0, dup.as_raw_fd()),
        libc::EINVAL,
        "restart whose logfd is a dup of its image fd",
    );
    expect_text(&file, "restart: ");
    let _ = std::fs::remove_file(path);
    pass("log and image on one shared file: errnos as usual, log written, no hang");
}

fn rewind(mut file: &std::fs::File) {
    file.seek(SeekFrom::Start(0))
        .unwrap_or_else(|e| fail(format!("seek: {e}")));
}

/// The file, read from its start, contains `needle`.
fn expect_text(file: &std::fs::File, needle: &str) {
    rewind(file);
    let mut text = String::new();
    let mut reader = file;
    reader
        .read_to_string(&mut text)
        .unwrap_or_else(|e| fail(format!("read: {e}")));
    if !text.contains(needle) {
        fail(format!(
            "expected a log line {needle:?} in the file, got {text:?}"
        ));
    }
}
