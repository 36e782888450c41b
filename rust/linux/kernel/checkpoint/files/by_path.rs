// SPDX-License-Identifier: GPL-2.0

//! Files reopened by their path: regular files, directories, stateless character devices and
//! `O_PATH` descriptors. Their state is the inode's, which stays on disk, plus the open flags
//! and the position: the image holds the path from the task's root, and restart opens it
//! again with the caller's credentials, refusing (`ESTALE`) a path that now leads to another
//! kind of file.

use super::{cstr, decode_dev, encode_dev, Escaped, FileKind, FileRef, Names};
use crate::image::{Dumper, Restorer};
use crate::{abi, log, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::file::File;
use kernel::prelude::*;

/// Character devices that hold no state of their own and can be reopened by path: the mem
/// devices (/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom), ttys and the console.
fn reopenable_chardev(rdev: u32) -> bool {
    let (major, minor) = (rdev >> 20, rdev & 0xfffff);
    matches!(
        (major, minor),
        (1, 3) | (1, 5) | (1, 7) | (1, 8) | (1, 9) | (5, 0) | (5, 1)
    ) || major == 4
}

/// Open flags a file may be reopened with (the access mode and status flags).
const REOPEN_FLAGS: u32 = bindings::O_ACCMODE
    | bindings::O_APPEND
    | bindings::O_NONBLOCK
    | bindings::O_DSYNC
    | bindings::O_DIRECT
    | bindings::O_LARGEFILE
    | bindings::O_DIRECTORY
    | bindings::O_NOFOLLOW
    | bindings::O_NOATIME
    | bindings::__O_SYNC;

/// A file reopened by its path.
pub(super) struct ByPath;

impl FileKind for ByPath {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        if file.file().flags() & bindings::O_PATH != 0 {
            // Only names a file, whatever its type, and holds none of its state.
            return Some(Ok(abi::FILE_KIND_PATH));
        }
        let inode = file.inode();
        Some(match inode.file_type() {
            bindings::S_IFREG => Ok(abi::FILE_KIND_REGULAR),
            bindings::S_IFDIR => Ok(abi::FILE_KIND_DIRECTORY),
            bindings::S_IFCHR if reopenable_chardev(inode.rdev()) => Ok(abi::FILE_KIND_CHARDEV),
            bindings::S_IFCHR => {
                Err("a character device other than null, zero, random, a tty or the console")
            }
            bindings::S_IFBLK => Err("a block device"),
            _ => return None,
        })
    }

    fn check(at: Place<'_>, names: &mut Names, file: &FileRef) -> Result {
        names.check(at, file)
    }

    fn dump(d: &mut Dumper<'_>, names: &mut Names, file: &FileRef) -> Result {
        names.write(d, file, "a file")
    }

    fn restores(kind: u32) -> bool {
        matches!(
            kind,
            abi::FILE_KIND_REGULAR
                | abi::FILE_KIND_DIRECTORY
                | abi::FILE_KIND_CHARDEV
                | abi::FILE_KIND_PATH
        )
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let path = r.string()?;
        let ty = f.i_mode & bindings::S_IFMT;
        let flags = match f.kind {
            abi::FILE_KIND_REGULAR if ty == bindings::S_IFREG => f.f_flags & REOPEN_FLAGS,
            abi::FILE_KIND_DIRECTORY if ty == bindings::S_IFDIR => f.f_flags & REOPEN_FLAGS,
            abi::FILE_KIND_CHARDEV
                if ty == bindings::S_IFCHR && reopenable_chardev(decode_dev(f.rdev)) =>
            {
                f.f_flags & REOPEN_FLAGS
            }
            // open() keeps nothing else of an O_PATH open's flags.
            abi::FILE_KIND_PATH if f.f_flags & bindings::O_PATH != 0 && f.pos == 0 => {
                f.f_flags & (bindings::O_PATH | bindings::O_DIRECTORY | bindings::O_NOFOLLOW)
            }
            _ => return Err(r.bad("file kind that cannot be reopened")),
        };
        let path = cstr(&path)?;
        let name = Escaped(path.as_bytes());
        // Opened with the caller's credentials, in the restored task's root.
        let file = match File::open(path, flags) {
            Ok(file) => FileRef::from(file),
            Err(e) => {
                log!(r.log, "file {name}: cannot reopen it ({})", e.to_errno());
                return Err(e);
            }
        };
        let inode = file.inode();
        let device = matches!(inode.file_type(), bindings::S_IFCHR | bindings::S_IFBLK);
        let same_kind = inode.file_type() == ty && (!device || encode_dev(inode.rdev()) == f.rdev);
        if !same_kind {
            log!(r.log, "file {name}: is not the kind of file it was");
            return Err(ESTALE);
        }
        // Not yet shared with anyone: the position is ours to set.
        if !file.file().mode().stream() && f.pos != 0 {
            if file.file().seek(f.pos) != Ok(f.pos) {
                log!(r.log, "file {name}: cannot seek to {}", f.pos);
                return Err(EINVAL);
            }
        }
        Ok(file)
    }
}
