//! A process holding a file lock, flock(2), POSIX (F_SETLK) or OFD (F_OFD_SETLK), is refused
//! with EOPNOTSUPP and a log line naming it and the kind of lock, also when the locked file
//! is only mapped any more (its fd closed): restart does not take locks
//! again yet, and the restored process would run on as if it held a lock that another process
//! may have taken meanwhile. Each target keeps running with its lock, which it checks through
//! a second open of the file (flock(LOCK_NB) and F_OFD_GETLK see the lock as another owner's).
//!
//! A lock on the same file held by another process, outside the tree, is not the target's:
//! that target is checkpointed and restarted.

use std::os::fd::AsRawFd;

use cr_tests::{check_os, fail, pass, wait_restored, Check, Target};

#[derive(Clone, Copy)]
enum Kind {
    Flock,
    Posix,
    Ofd,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Flock => "flock",
            Kind::Posix => "POSIX",
            Kind::Ofd => "OFD",
        }
    }
}

fn path(what: &str) -> String {
    format!("/tmp/cr-file-lock-{what}-{}", std::process::id())
}

fn open(path: &str) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("open {path}: {e}"))
}

/// A write lock on the first 100 bytes.
fn flock_struct(ty: libc::c_int) -> libc::flock {
    // SAFETY: an all-zero struct flock is valid; fields set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_len = 100;
    fl
}

fn lock(file: &std::fs::File, kind: Kind) -> Check {
    let fd = file.as_raw_fd();
    let fl = flock_struct(libc::F_WRLCK);
    // SAFETY: lock calls on our own fd; `fl` is valid for the call.
    let r = unsafe {
        match kind {
            Kind::Flock => libc::flock(fd, libc::LOCK_EX),
            Kind::Posix => libc::fcntl(fd, libc::F_SETLK, &fl),
            Kind::Ofd => libc::fcntl(fd, libc::F_OFD_SETLK, &fl),
        }
    };
    check_os(r, format!("take a {} lock", kind.name()))
}

/// Whether a new open file description of `path` finds it locked by someone else. It stays
/// open: closing any fd of the file would drop the process's POSIX locks on it.
fn locked(path: &str, kind: Kind) -> Result<bool, String> {
    let other = open(path)?;
    let fd = other.as_raw_fd();
    std::mem::forget(other);
    if let Kind::Flock = kind {
        // SAFETY: a lock call on our own fd.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(false);
        }
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EWOULDBLOCK) => Ok(true),
            _ => Err(cr_tests::os_error("flock(LOCK_NB)")),
        };
    }
    let mut fl = flock_struct(libc::F_WRLCK);
    // SAFETY: `fl` is valid for the call, which fills it.
    check_os(
        unsafe { libc::fcntl(fd, libc::F_OFD_GETLK, &mut fl) },
        "F_OFD_GETLK",
    )?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

fn refuses(kind: Kind) {
    let p = path(kind.name());
    let _ = std::fs::remove_file(&p);
    let mut target = Target::spawn(move || {
        let file = open(&p)?;
        lock(&file, kind)?;
        if !locked(&p, kind)? {
            return Err(format!(
                "the {} lock is not seen by a second open",
                kind.name()
            ));
        }
        Ok(move || {
            wait_restored();
            match locked(&p, kind)? {
                true => {
                    drop(file);
                    Ok(())
                }
                false => Err(format!("the {} lock is gone", kind.name())),
            }
        })
    });
    target.expect_refused(&format!("{} file lock", kind.name()));
    target.finish();
    let _ = std::fs::remove_file(path(kind.name()));
}

/// A flock lock lasts as long as its open file, which a mapping may hold alone.
fn refuses_mapped() {
    let p = path("mapped");
    let _ = std::fs::remove_file(&p);
    let mut target = Target::spawn(move || {
        let file = open(&p)?;
        file.set_len(4096)
            .map_err(|e| format!("ftruncate {p}: {e}"))?;
        lock(&file, Kind::Flock)?;
        // SAFETY: a new private read-only mapping of our own file; never unmapped.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(cr_tests::os_error("mmap"));
        }
        drop(file);
        if !locked(&p, Kind::Flock)? {
            return Err("the flock lock of the mapped file is not seen".into());
        }
        Ok(move || {
            wait_restored();
            match locked(&p, Kind::Flock)? {
                true => Ok(()),
                false => Err("the mapped file's flock lock is gone".into()),
            }
        })
    });
    target.expect_refused("flock file lock");
    target.finish();
    let _ = std::fs::remove_file(path("mapped"));
}

fn main() {
    for kind in [Kind::Flock, Kind::Posix, Kind::Ofd] {
        refuses(kind);
    }
    refuses_mapped();
    // The test holds the lock, through its own open file; the target only has the file open.
    let p = path("outside");
    let mine = open(&p).unwrap_or_else(|e| fail(e));
    lock(&mine, Kind::Flock).unwrap_or_else(|e| fail(e));
    let q = p.clone();
    let mut target = Target::spawn(move || {
        let file = open(&q)?;
        Ok(move || {
            wait_restored();
            if !locked(&q, Kind::Flock)? {
                return Err("the test's flock lock is not seen after the restart".into());
            }
            drop(file);
            Ok(())
        })
    });
    target.cycle();
    target.finish();
    drop(mine);
    let _ = std::fs::remove_file(&p);
    pass("flock, POSIX and OFD locks (also of a file only mapped) are refused by name, the target running on with its lock; a lock held outside the tree is not the target's");
}
