//! O_PATH descriptors come back as O_PATH descriptors of the same files: a regular file, a
//! directory, a symlink itself (O_PATH | O_NOFOLLOW), a FIFO and a character device, one of
//! them close-on-exec. After the restart each still has O_PATH in its flags and names the same
//! inode; it cannot be read (EBADF), the directory serves openat(), the symlink readlinkat().

use cr_tests::target::scratch_dir;
use cr_tests::{check_eq, check_os, cstring, fstat, pass, wait_restored, Check, Target, KILL};

const TEXT: &[u8] = b"named, not opened";

/// (fd, path, extra open flags)
const FDS: [(libc::c_int, &str, libc::c_int); 6] = [
    (20, "file", 0),
    (21, "", libc::O_DIRECTORY),
    (22, "link", libc::O_NOFOLLOW),
    (23, "fifo", 0),
    (24, "/dev/null", 0),
    (25, "file", libc::O_CLOEXEC),
];

fn path(dir: &str, name: &str) -> String {
    match name {
        "" => dir.to_string(),
        n if n.starts_with('/') => n.to_string(),
        n => format!("{dir}/{n}"),
    }
}

/// (st_dev, st_ino, st_mode, st_rdev) of an fd.
fn identity(fd: libc::c_int) -> Result<(u64, u64, u32, u64), String> {
    let st = fstat(fd)?;
    Ok((st.st_dev, st.st_ino, st.st_mode, st.st_rdev))
}

type Identities = Vec<(u64, u64, u32, u64)>;

fn setup(dir: &str) -> Result<Identities, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    std::fs::write(format!("{dir}/file"), TEXT).map_err(|e| format!("write {dir}/file: {e}"))?;
    std::os::unix::fs::symlink("file", format!("{dir}/link"))
        .map_err(|e| format!("symlink: {e}"))?;
    let fifo = cstring(&format!("{dir}/fifo"))?;
    // SAFETY: a valid C string.
    check_os(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, "mkfifo")?;
    let mut ids = Vec::new();
    for (fd, name, flags) in FDS {
        let p = cstring(&path(dir, name))?;
        // SAFETY: open and dup3 on a valid C string and fd numbers of our own.
        unsafe {
            let got = libc::open(p.as_ptr(), libc::O_PATH | flags);
            check_os(got, format_args!("open({name:?}, O_PATH)"))?;
            check_os(libc::dup3(got, fd, flags & libc::O_CLOEXEC), "dup3")?;
            libc::close(got);
        }
        ids.push(identity(fd)?);
    }
    Ok(ids)
}

fn verify(ids: &Identities) -> Check {
    for ((fd, name, flags), id) in FDS.iter().zip(ids) {
        // SAFETY: fcntl on fd numbers of our own.
        let (fl, fdfl) = unsafe {
            (
                libc::fcntl(*fd, libc::F_GETFL),
                libc::fcntl(*fd, libc::F_GETFD),
            )
        };
        check_os(fl, format_args!("F_GETFL of fd {fd}"))?;
        if fl & libc::O_PATH == 0 {
            return Err(format!("fd {fd} ({name:?}) lost O_PATH: flags {fl:#o}"));
        }
        check_eq(
            format_args!("fd {fd} ({name:?}) close-on-exec"),
            fdfl & libc::FD_CLOEXEC != 0,
            flags & libc::O_CLOEXEC != 0,
        )?;
        check_eq(
            format_args!("fd {fd} ({name:?}) dev, ino, mode, rdev"),
            identity(*fd)?,
            *id,
        )?;
    }
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into `byte`.
    let n = unsafe { libc::read(20, (&raw mut byte).cast(), 1) };
    check_eq(
        "read() of an O_PATH fd",
        (n, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EBADF)),
    )?;
    // SAFETY: a relative path under the directory fd; the fd is ours and closed below.
    let fd = unsafe { libc::openat(21, c"file".as_ptr(), libc::O_RDONLY) };
    check_os(fd, "openat() under the O_PATH directory")?;
    let mut buf = [0u8; 64];
    // SAFETY: `buf` has room for 64 bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    check_eq(
        "the file read through the directory",
        buf.get(..n.max(0) as usize),
        Some(TEXT),
    )?;
    // SAFETY: `buf` has room for 64 bytes; an empty path reads the link the fd is.
    let n = unsafe { libc::readlinkat(22, c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    check_eq(
        "readlinkat() of the O_PATH symlink",
        buf.get(..n.max(0) as usize),
        Some(&b"file"[..]),
    )
}

fn main() {
    let dir = scratch_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let mut target = Target::spawn(move || {
        let ids = setup(&dir)?;
        verify(&ids)?;
        Ok(move || {
            wait_restored();
            let ok = verify(&ids);
            let _ = std::fs::remove_dir_all(&dir);
            ok
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("O_PATH fds of a file, a directory, a symlink, a FIFO and a device come back as O_PATH fds of the same inodes");
}
