//! Crafted images: a real image taken apart into records, changed field by field (or with
//! records dropped, repeated or moved), and written out again with a tail that matches, so
//! that what restart(2) sees gets past the checksum and reaches the parser. This is the
//! attacker's position: anyone who can write an image can write its checksum.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use crate::damage::attempt_expecting;
use crate::proc::{pid_exists, waitid};
use abi::stream::{Writer, RECORD_ALIGN, RECORD_HEADER_LEN};
use abi::{FieldType, Header, Record, RecordType};
use cr::image::VecSink;

/// One record: its type and its payload, without framing or padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub ty: u32,
    pub payload: Vec<u8>,
}

impl Rec {
    /// The name of its type in the schema, or its number.
    pub fn name(&self) -> String {
        abi::record_desc(self.ty)
            .map_or_else(|| format!("type {}", self.ty), |d| d.name.to_string())
    }

    /// Where element `index` of field `name` lies in the payload, and its type.
    fn place(&self, name: &str, index: usize) -> (usize, FieldType) {
        let desc = abi::record_desc(self.ty)
            .unwrap_or_else(|| panic!("no struct record of type {}", self.ty));
        let f = desc
            .fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no field {name}", desc.name));
        assert!(
            index < f.count as usize,
            "{}.{name} has {} elements",
            desc.name,
            f.count
        );
        (f.offset as usize + index * width(f.ty), f.ty)
    }

    /// Element `index` of a field (0 for a scalar), widened to 64 bits (sign-extended for
    /// the signed types).
    pub fn get_at(&self, name: &str, index: usize) -> i64 {
        let (at, ty) = self.place(name, index);
        let n = width(ty);
        let mut bytes = [0u8; 8];
        bytes[..n].copy_from_slice(&self.payload[at..at + n]);
        let v = u64::from_le_bytes(bytes);
        match ty {
            FieldType::I32 => v as u32 as i32 as i64,
            _ => v as i64,
        }
    }

    /// A scalar field.
    pub fn get(&self, name: &str) -> i64 {
        self.get_at(name, 0)
    }

    /// Sets element `index` of a field to the low bytes of `value`.
    pub fn set_at(&mut self, name: &str, index: usize, value: i64) -> &mut Self {
        let (at, ty) = self.place(name, index);
        let n = width(ty);
        self.payload[at..at + n].copy_from_slice(&value.to_le_bytes()[..n]);
        self
    }

    /// Sets a scalar field.
    pub fn set(&mut self, name: &str, value: i64) -> &mut Self {
        self.set_at(name, 0, value)
    }

    /// Decodes the payload as `R`.
    pub fn decode<R: Record>(&self) -> R {
        assert_eq!(self.ty, R::TYPE, "decode {} as {}", self.name(), R::NAME);
        R::decode(&self.payload)
    }
}

fn width(ty: FieldType) -> usize {
    match ty {
        FieldType::U8 => 1,
        FieldType::U16 => 2,
        FieldType::U32 | FieldType::I32 => 4,
        FieldType::U64 | FieldType::I64 => 8,
    }
}

/// An image as a list of records: the header first, no `Pad` records (sealing puts them back
/// where pages need them), no tail.
#[derive(Clone, Debug)]
pub struct Image {
    pub recs: Vec<Rec>,
}

impl Image {
    /// Takes a well-framed image apart; panics on an image that is not (crafting starts from
    /// real images only).
    pub fn parse(bytes: &[u8]) -> Image {
        let mut recs = Vec::new();
        let mut at = 0usize;
        let hdr = RECORD_HEADER_LEN as usize;
        while at + hdr <= bytes.len() {
            let ty = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            assert!(
                len >= hdr && at + len <= bytes.len(),
                "record at {at:#x}: bad length {len}"
            );
            if ty == RecordType::Tail.id() {
                return Image { recs };
            }
            if ty != RecordType::Pad.id() {
                recs.push(Rec {
                    ty,
                    payload: bytes[at + hdr..at + len].to_vec(),
                });
            }
            at = (at + len).next_multiple_of(RECORD_ALIGN as usize);
        }
        panic!("image without a tail");
    }

    /// The image as bytes, framed, padded and with a tail that matches it.
    pub fn seal(&self) -> Vec<u8> {
        let mut w = Writer::new(VecSink::default());
        let (first, rest) = self.recs.split_first().expect("an image has a header");
        w.header(&first.decode::<Header>())
            .expect("a header into memory");
        for r in rest {
            if r.ty == RecordType::Pages.id() {
                w.pad_to_page().expect("a pad into memory");
            }
            w.raw(r.ty, &r.payload)
                .unwrap_or_else(|e| panic!("{}: cannot write it: {e:?}", r.name()));
        }
        let out: Result<VecSink, abi::stream::StreamError<Infallible>> = w.finish();
        out.expect("a tail into memory").0
    }

    /// Indexes of the records of type `R`, in image order.
    pub fn all<R: Record>(&self) -> Vec<usize> {
        (0..self.recs.len())
            .filter(|&i| self.recs[i].ty == R::TYPE)
            .collect()
    }

    /// Index of the `n`th (from 0) record of type `R`.
    pub fn nth<R: Record>(&self, n: usize) -> usize {
        *self
            .all::<R>()
            .get(n)
            .unwrap_or_else(|| panic!("the image has no {} record number {n}", R::NAME))
    }

    /// Index of the `Task` record of the task saved with pid `pid`.
    pub fn task(&self, pid: i32) -> usize {
        self.all::<abi::Task>()
            .into_iter()
            .find(|&i| self.recs[i].decode::<abi::Task>().pid == pid)
            .unwrap_or_else(|| panic!("the image has no task {pid}"))
    }

    /// Index of the `File` record of the open file whose path is `path` (its `String` record
    /// follows it).
    pub fn file(&self, path: &str) -> usize {
        (1..self.recs.len())
            .find(|&i| {
                self.recs[i].ty == RecordType::String.id()
                    && self.recs[i].payload == path.as_bytes()
                    && self.recs[i - 1].ty == abi::File::TYPE
            })
            .map(|i| i - 1)
            .unwrap_or_else(|| panic!("the image has no open file {path}"))
    }

    /// Moves the `File` record at `file` and its `String` to index `to` (counted before the
    /// move).
    pub fn move_file(&mut self, file: usize, to: usize) {
        let pair: Vec<Rec> = self.recs.drain(file..file + 2).collect();
        let to = if to > file { to - 2 } else { to };
        self.recs.splice(to..to, pair);
    }

    /// Index of the first record of type `R` at or after `from`.
    pub fn next<R: Record>(&self, from: usize) -> usize {
        (from..self.recs.len())
            .find(|&i| self.recs[i].ty == R::TYPE)
            .unwrap_or_else(|| panic!("no {} record after record {from}", R::NAME))
    }

    /// Index of the first raw record of type `ty` at or after `from`.
    pub fn next_raw(&self, from: usize, ty: RecordType) -> usize {
        (from..self.recs.len())
            .find(|&i| self.recs[i].ty == ty.id())
            .unwrap_or_else(|| panic!("no {ty:?} record after record {from}"))
    }

    /// Index of the first `Vma` record of kind `kind` (`abi::VMA_KIND_*`) from the `Task` of
    /// `pid` on: with the task's mm written there, one of its mappings.
    pub fn vma(&self, pid: i32, kind: u32) -> usize {
        let task = self.task(pid);
        (task..self.recs.len())
            .find(|&r| {
                self.recs[r].ty == abi::Vma::TYPE && self.recs[r].get("kind") == i64::from(kind)
            })
            .unwrap_or_else(|| panic!("no mapping of kind {kind} after the task of pid {pid}"))
    }

    /// Record `i`.
    pub fn rec(&mut self, i: usize) -> &mut Rec {
        &mut self.recs[i]
    }

    /// Writes the sealed image to `path`.
    pub fn write(&self, path: &str) {
        std::fs::write(path, self.seal()).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}

/// How long a crafted restart may take: one that waits for good on what the image made (a
/// pipe it fills, say) is killed and reported, not left to the harness's timeout.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

/// Restarts from `image` in a child process, which must see it refused with one of `errnos`,
/// a kernel log line (holding `reason`, if given) and no task left behind
/// ([`attempt_expecting`]), within [`RESTART_TIMEOUT`]; the child also must not be killed by
/// what the failed restart did. `pids` are the image's tasks: any left behind is killed.
pub fn expect_refused(
    image: &[u8],
    pids: &[libc::pid_t],
    what: &str,
    errnos: &[i32],
    reason: Option<&str>,
) -> Result<(), String> {
    let path = format!("/tmp/crafted-{}.img", std::process::id());
    let why = format!("{path}.why");
    std::fs::write(&path, image).map_err(|e| format!("write {path}: {e}"))?;
    let _ = std::fs::remove_file(&why);
    // SAFETY: the child only restarts, writes a file and exits.
    let child = match unsafe { libc::fork() } {
        -1 => return Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            let code = match attempt_expecting(&path, pids, what, errnos, reason) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::write(&why, e);
                    1
                }
            };
            // SAFETY: ends the child.
            unsafe { libc::_exit(code) }
        }
        pid => pid,
    };
    let hung = !exits_within(child, RESTART_TIMEOUT);
    if hung {
        // SAFETY: kill takes integers; `child` is our unreaped child.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    let status =
        cr::sys::waitpid(child).map_err(|e| format!("wait for the restarting child: {e}"))?;
    let _ = std::fs::remove_file(&path);
    for &pid in pids.iter().filter(|&&p| pid_exists(p)) {
        // SAFETY: kill takes integers; a task left behind by a restart that should have failed.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    if hung {
        return Err(format!(
            "{what}: restart did not return within {} s (its process was killed)",
            RESTART_TIMEOUT.as_secs()
        ));
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "{what}: the restarting process was killed by signal {}",
            libc::WTERMSIG(status)
        ));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        _ => Err(std::fs::read_to_string(&why).unwrap_or_else(|_| format!("{what}: failed"))),
    }
}

/// Whether our child `pid` ends within `limit` (or cannot be waited for: the caller's
/// waitpid() says why); it is not reaped.
fn exits_within(pid: libc::pid_t, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut nap = Duration::from_millis(1);
    loop {
        if !matches!(
            waitid(pid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT),
            Ok(None)
        ) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_then_seal_gives_the_same_bytes() {
        let image = cr::image::minimal();
        let parsed = Image::parse(&image);
        assert_eq!(parsed.recs.len(), 1);
        assert_eq!(parsed.seal(), image);
    }

    #[test]
    fn set_and_get_a_field() {
        let mut image = Image::parse(&cr::image::minimal());
        image.rec(0).set("flags", 5);
        assert_eq!(image.recs[0].get("flags"), 5);
        assert_eq!(image.recs[0].decode::<Header>().flags, 5);
        let sealed = Image::parse(&image.seal());
        assert_eq!(sealed.recs[0].decode::<Header>().flags, 5);
    }

    #[test]
    fn move_a_file_and_its_path() {
        let rec = |ty: RecordType, b: u8| Rec {
            ty: ty.id(),
            payload: vec![b],
        };
        let mut image = Image {
            recs: vec![
                rec(RecordType::Header, 0),
                rec(RecordType::Mm, 1),
                rec(RecordType::File, 2),
                rec(RecordType::String, 3),
            ],
        };
        image.move_file(2, 1);
        let order: Vec<u8> = image.recs.iter().map(|r| r.payload[0]).collect();
        assert_eq!(order, [0, 2, 3, 1]);
        image.move_file(1, 4);
        let order: Vec<u8> = image.recs.iter().map(|r| r.payload[0]).collect();
        assert_eq!(order, [0, 1, 2, 3]);
    }

    #[test]
    fn pages_stay_page_aligned() {
        let mut w = Writer::new(VecSink::default());
        w.header(&cr::image::header()).unwrap();
        w.page_run(0x1000, &[7u8; 4096]).unwrap();
        let image = w.finish().unwrap().0;
        let parsed = Image::parse(&image);
        assert_eq!(parsed.recs.len(), 3);
        assert_eq!(parsed.seal(), image);
    }
}
