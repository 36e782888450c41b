//! The guest's root file system: a newc cpio archive the kernel unpacks into its rootfs.
//!
//! Written here rather than with `cpio(1)` so that the layout is in one place, needs no staging
//! directory, and comes out byte-identical for identical inputs (owner root, mtime 0, entries in
//! path order), which lets `write_if_changed` leave an unchanged archive alone.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::guest::GuestBins;
use crate::util::{project_root, write_if_changed};

/// Debian's busybox-static: one static binary for the shell and every tool /init needs.
const BUSYBOX: &str = "/bin/busybox";

/// Where /init reads the command to run; absent or empty means an interactive shell.
pub const COMMAND_FILE: &str = "etc/cr-cmd";

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// A host file or directory to copy into the guest, from `--add HOST:GUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    pub host: PathBuf,
    /// Absolute path in the guest.
    pub guest: String,
}

impl FromStr for Extra {
    type Err = String;

    fn from_str(s: &str) -> Result<Extra, String> {
        match s.split_once(':') {
            Some((host, guest)) if !host.is_empty() && guest.starts_with('/') => Ok(Extra {
                host: host.into(),
                guest: guest.into(),
            }),
            _ => Err(format!(
                "`{s}`: expected HOST:GUEST with an absolute GUEST path"
            )),
        }
    }
}

/// Writes the guest's archive to `out` (only if its bytes changed): busybox and its applets,
/// `qemu/init` as /init, the guest programs and their files, the extras, and `command` in
/// /etc/cr-cmd.
pub fn build(
    sh: &Shell,
    bins: &GuestBins,
    extras: &[Extra],
    command: Option<&str>,
    out: &Path,
) -> Result<()> {
    let mut root = Tree::default();
    for dir in ["dev", "etc", "proc", "root", "sys", "tests"] {
        root.dir(dir, 0o755)?;
    }
    root.dir("tmp", 0o1777)?;
    // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
    root.char_dev("dev/console", 0o600, 5, 1)?;
    root.char_dev("dev/null", 0o666, 1, 3)?;

    root.file("bin/busybox", 0o755, read(Path::new(BUSYBOX))?)?;
    let applets = cmd!(sh, "{BUSYBOX} --list-full").quiet().read()?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet != "bin/busybox" && applet != "linuxrc" {
            root.symlink(applet, "/bin/busybox")?;
        }
    }
    root.file("init", 0o755, read(&project_root().join("qemu/init"))?)?;

    for path in &bins.bin {
        root.file(&format!("bin/{}", file_name(path)?), 0o755, read(path)?)?;
    }
    for path in &bins.tests {
        root.file(&format!("tests/{}", file_name(path)?), 0o755, read(path)?)?;
    }
    for (host, guest) in &bins.files {
        root.file(guest, 0o755, read(host)?)?;
    }
    if let Some(command) = command {
        root.file(COMMAND_FILE, 0o644, format!("{command}\n").into_bytes())?;
    }
    for extra in extras {
        root.copy_from_host(&extra.host, &extra.guest)
            .with_context(|| format!("adding {}:{}", extra.host.display(), extra.guest))?;
    }
    write_if_changed(out, &root.to_newc())?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: no file name", path.display()))
}

/// One archive member; the key of `Tree` is its path.
#[derive(Debug, Clone)]
struct Entry {
    mode: u32,
    rdev: (u32, u32),
    data: Vec<u8>,
}

/// The file tree to archive, by path without a leading `/`. Sorted order puts every directory
/// before what it holds, which is the order the kernel's unpacker needs; a later entry for a
/// path replaces an earlier one, so `--add` may override anything.
#[derive(Debug, Default)]
struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    fn dir(&mut self, path: &str, perm: u32) -> Result<()> {
        self.insert(
            path,
            Entry {
                mode: S_IFDIR | perm,
                rdev: (0, 0),
                data: Vec::new(),
            },
        )
    }

    fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<()> {
        self.insert(
            path,
            Entry {
                mode: S_IFREG | perm,
                rdev: (0, 0),
                data,
            },
        )
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        let data = target.as_bytes().to_vec();
        self.insert(
            path,
            Entry {
                mode: S_IFLNK | 0o777,
                rdev: (0, 0),
                data,
            },
        )
    }

    fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.insert(
            path,
            Entry {
                mode: S_IFCHR | perm,
                rdev: (major, minor),
                data: Vec::new(),
            },
        )
    }

    /// Adds `entry` at `path`, and any missing parent directories (mode 0755).
    fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let path = normalize(path)?;
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            let dir = Entry {
                mode: S_IFDIR | 0o755,
                rdev: (0, 0),
                data: Vec::new(),
            };
            let existing = self.entries.entry(parent.clone()).or_insert(dir);
            if existing.mode & 0o170000 != S_IFDIR {
                bail!("/{parent} is not a directory, cannot hold /{path}");
            }
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Copies a host file, symlink or directory (recursively) to `guest`, keeping permissions.
    fn copy_from_host(&mut self, host: &Path, guest: &str) -> Result<()> {
        let meta = fs::symlink_metadata(host).with_context(|| format!("{}", host.display()))?;
        let perm = meta.permissions().mode() & 0o7777;
        if meta.is_symlink() {
            let target = fs::read_link(host)?;
            let target = target.to_str().context("symlink target is not UTF-8")?;
            self.symlink(guest, target)
        } else if meta.is_dir() {
            self.dir(guest, perm)?;
            let mut children = fs::read_dir(host)?.collect::<std::io::Result<Vec<_>>>()?;
            children.sort_by_key(|c| c.file_name());
            for child in children {
                let name = child.file_name();
                let name = name
                    .to_str()
                    .with_context(|| format!("{name:?} is not UTF-8"))?;
                self.copy_from_host(&child.path(), &format!("{guest}/{name}"))?;
            }
            Ok(())
        } else if meta.is_file() {
            self.file(guest, perm, read(host)?)
        } else {
            bail!(
                "{}: only files, directories and symlinks can be added",
                host.display()
            )
        }
    }

    /// The archive in the "new ASCII" (newc) format of `Documentation/driver-api/early-userspace`.
    fn to_newc(&self) -> Vec<u8> {
        let size = self
            .entries
            .iter()
            .map(|(p, e)| 120 + p.len() + e.data.len())
            .sum::<usize>();
        let mut out = Vec::with_capacity(size + 128);
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let nlink = if entry.mode & 0o170000 == S_IFDIR {
                2
            } else {
                1
            };
            newc_member(
                &mut out,
                path,
                ino as u32 + 1,
                entry.mode,
                nlink,
                entry.rdev,
                &entry.data,
            );
        }
        newc_member(&mut out, "TRAILER!!!", 0, 0, 1, (0, 0), &[]);
        out
    }
}

/// Strips the leading `/` and refuses paths that would leave the root or name it.
fn normalize(path: &str) -> Result<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        bail!("bad guest path `{path}`");
    }
    Ok(parts.join("/"))
}

/// Appends one newc member: a 110-byte header of hex fields, the NUL-terminated name and the
/// data, each padded to a multiple of four bytes.
fn newc_member(
    out: &mut Vec<u8>,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &[u8],
) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // dev major
        0, // dev minor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, mode, rdev, data)
    type Member = (String, u32, (u32, u32), Vec<u8>);

    /// Reads a newc archive back, trailer excluded.
    fn parse(mut buf: &[u8]) -> Vec<Member> {
        let total = buf.len();
        let mut members = Vec::new();
        loop {
            assert_eq!(&buf[..6], b"070701");
            let field = |i: usize| {
                let hex = std::str::from_utf8(&buf[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(hex, 16).unwrap() as usize
            };
            let (mode, size, rdev) = (
                field(1) as u32,
                field(6),
                (field(9) as u32, field(10) as u32),
            );
            let name_len = field(11);
            let name = std::str::from_utf8(&buf[110..110 + name_len - 1])
                .unwrap()
                .to_string();
            assert_eq!(buf[110 + name_len - 1], 0);
            let data_at = (110 + name_len).next_multiple_of(4);
            let data = buf[data_at..data_at + size].to_vec();
            buf = &buf[(data_at + size).next_multiple_of(4)..];
            assert_eq!((total - buf.len()) % 4, 0);
            if name == "TRAILER!!!" {
                assert!(buf.is_empty());
                return members;
            }
            members.push((name, mode, rdev, data));
        }
    }

    fn sample() -> Tree {
        let mut t = Tree::default();
        t.dir("tmp", 0o1777).unwrap();
        t.char_dev("/dev/console", 0o600, 5, 1).unwrap();
        t.file("/tests/a/b", 0o755, b"hello".to_vec()).unwrap();
        t.symlink("usr/bin/env", "/bin/busybox").unwrap();
        t.file("init", 0o755, b"#!/bin/sh\n".to_vec()).unwrap();
        t
    }

    #[test]
    fn members_round_trip_with_parents_first() {
        let members = parse(&sample().to_newc());
        let names: Vec<_> = members.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev",
                "dev/console",
                "init",
                "tests",
                "tests/a",
                "tests/a/b",
                "tmp",
                "usr",
                "usr/bin",
                "usr/bin/env"
            ]
        );
        let b = &members[5];
        assert_eq!((b.1, b.3.as_slice()), (S_IFREG | 0o755, &b"hello"[..]));
        assert_eq!((members[1].1, members[1].2), (S_IFCHR | 0o600, (5, 1)));
        assert_eq!(
            (members[9].1, members[9].3.as_slice()),
            (S_IFLNK | 0o777, &b"/bin/busybox"[..])
        );
        assert_eq!(members[6].1, S_IFDIR | 0o1777);
    }

    #[test]
    fn later_entry_replaces_and_bad_paths_are_refused() {
        let mut t = sample();
        t.file("init", 0o700, b"x".to_vec()).unwrap();
        assert_eq!(t.entries["init"].data, b"x");
        assert!(t.file("../etc/passwd", 0o644, vec![]).is_err());
        assert!(t.file("/", 0o644, vec![]).is_err());
        assert!(t.file("init/x", 0o644, vec![]).is_err(), "init is a file");
    }

    #[test]
    fn parses_extra() {
        let e: Extra = "target/x:/root/x".parse().unwrap();
        assert_eq!(
            e,
            Extra {
                host: "target/x".into(),
                guest: "/root/x".into()
            }
        );
        assert!("x".parse::<Extra>().is_err());
        assert!("x:relative".parse::<Extra>().is_err());
    }

    /// The real tool agrees with our reading of the format.
    #[test]
    fn cpio_tool_lists_the_archive() {
        let Ok(sh) = Shell::new() else { return };
        if cmd!(sh, "cpio --version")
            .quiet()
            .ignore_stdout()
            .run()
            .is_err()
        {
            eprintln!("cpio not installed, skipping");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-newc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("a.cpio");
        let mut tree = sample();
        tree.entries.remove("dev/console"); // mknod needs privileges cpio may lack
        fs::write(&archive, tree.to_newc()).unwrap();
        sh.change_dir(&dir);
        let listing = cmd!(
            sh,
            "cpio -i --quiet --make-directories --no-absolute-filenames -F a.cpio"
        )
        .quiet()
        .run()
        .and_then(|_| cmd!(sh, "cpio -t --quiet -F a.cpio").quiet().read());
        let unpacked_b = fs::read(dir.join("tests/a/b"));
        let link = fs::read_link(dir.join("usr/bin/env"));
        fs::remove_dir_all(&dir).unwrap();
        let listing = listing.unwrap();
        assert!(listing.lines().any(|l| l == "tests/a/b"), "{listing}");
        assert_eq!(unpacked_b.unwrap(), b"hello");
        assert_eq!(link.unwrap(), Path::new("/bin/busybox"));
    }
}
