//! A process holding a file that was deleted (an open fd, a mapping) or whose cwd was removed
//! cannot be restarted (files are reopened by path): checkpoint refuses it with EOPNOTSUPP and
//! a log line naming the process and the fd, mapping or cwd, before it writes the first byte
//! of the image, so that a reader of a pipe or a file sees nothing of a tree that was not
//! saved. The process keeps running untouched.

use std::os::fd::{AsRawFd, IntoRawFd};

use cr_tests::mem::mmap;
use cr_tests::{pass, wait_restored, Check, Target};

/// A file in `dir`, created, then unlinked once `keep` holds it.
fn deleted(dir: &str, name: &str, keep: impl FnOnce(std::fs::File) -> Check) -> Check {
    let path = format!("{dir}/{name}");
    std::fs::write(&path, [7u8; 4096]).map_err(|e| format!("write {path}: {e}"))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {path}: {e}"))?;
    keep(file)?;
    std::fs::remove_file(&path).map_err(|e| format!("unlink {path}: {e}"))
}

/// A target that set itself up with `setup` must be refused, named with `what`, before the
/// first byte of its image.
fn refused(dir: &str, what: &str, setup: fn(&str) -> Check) {
    // Each target removes the directory when it is done.
    std::fs::create_dir_all(dir).unwrap_or_else(|e| cr_tests::fail(format!("mkdir {dir}: {e}")));
    let dir = dir.to_string();
    let mut target = Target::spawn(move || {
        setup(&dir)?;
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    target.expect_refused(what);
    let written = std::fs::metadata(target.image_path())
        .map(|m| m.len())
        .unwrap_or(0);
    if written != 0 {
        target.fail(format!(
            "the refused checkpoint wrote {written} bytes of image"
        ));
    }
    target.finish();
}

fn main() {
    let dir = cr_tests::target::scratch_dir();
    refused(&dir, "fd", |dir| {
        deleted(dir, "fd", |file| {
            // Kept open for the process's life, at the fd `into_raw_fd` leaves it.
            let _ = file.into_raw_fd();
            Ok(())
        })
    });
    refused(&dir, "mapping", |dir| {
        deleted(dir, "mapped", |file| {
            // Stays mapped for the process's life (a `Mapping` does not unmap); the file
            // itself is closed.
            mmap(4096, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0).map(drop)
        })
    });
    refused(&dir, "cwd", |dir| {
        let cwd = format!("{dir}/cwd");
        std::fs::create_dir(&cwd).map_err(|e| format!("mkdir {cwd}: {e}"))?;
        std::env::set_current_dir(&cwd).map_err(|e| format!("chdir {cwd}: {e}"))?;
        std::fs::remove_dir(&cwd).map_err(|e| format!("rmdir {cwd}: {e}"))
    });
    pass("a deleted fd, mapping or cwd is refused by name before the first byte of the image");
}
