// SPDX-License-Identifier: GPL-2.0

//! The bytes of a file that restart makes again (a memfd, a deleted file): saved run by run
//! between its holes, each run a `DataRun` record and its bytes in `Data` records of up to
//! 64 KiB; holes cost nothing, and restart leaves them holes.

use crate::image::{Dumper, Restorer};
use crate::{abi, log, Obj};
use core::fmt::Display;
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::fs::file::File;
use kernel::prelude::*;

/// Bytes copied at a time.
const CHUNK: usize = abi::PIPE_DATA_MAX as usize;

/// The runs of bytes a file of `size` bytes holds between its holes, as `next` finds them
/// (the first at or after an offset). `EAGAIN` if they change meanwhile.
pub(super) fn runs(
    size: u64,
    next: impl Fn(i64) -> Result<Option<(i64, i64)>>,
) -> Result<KVVec<(i64, i64)>> {
    let mut runs = KVVec::new();
    let mut pos = 0;
    while let Some((start, end)) = next(pos)? {
        if start < pos || end <= start || end as u64 > size {
            return Err(EAGAIN);
        }
        runs.push((start, end), GFP_KERNEL)?;
        pos = end;
        crate::resched();
    }
    Ok(runs)
}

/// Writes a `DataRun` record for each of `runs` and its bytes, which `read` copies from an
/// offset (short only at the end of the file). `what` names the file in log lines.
pub(super) fn dump(
    d: &mut Dumper<'_>,
    runs: &[(i64, i64)],
    what: &dyn Display,
    read: impl Fn(i64, &mut [u8]) -> Result<usize>,
) -> Result {
    let mut buf = KVVec::new();
    for &(start, end) in runs {
        d.record(&abi::DataRun {
            offset: start as u64,
            len: (end - start) as u64,
        })?;
        let mut at = start;
        while at < end {
            let want = ((end - at) as usize).min(CHUNK);
            if buf.len() < want {
                buf = KVVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
            }
            let chunk = buf.get_mut(..want).ok_or(EINVAL)?;
            let n = read(at, chunk).inspect_err(|e| {
                log!(d.log, "{what}: cannot read its bytes ({})", e.to_errno());
            })?;
            if n != want {
                log!(d.log, "{what}: it shrank while it was being saved");
                return Err(EAGAIN);
            }
            d.raw(abi::RecordType::Data, chunk)?;
            at += n as i64;
            crate::resched();
        }
    }
    Ok(())
}

/// Reads `count` `DataRun` records and their bytes, in order and within `size`, and writes
/// the bytes to `file` at their offsets. `what` names the file in log lines.
pub(super) fn restore(
    r: &mut Restorer<'_, Obj>,
    file: &File,
    count: u64,
    size: u64,
    what: &dyn Display,
) -> Result {
    let mut buf = KVVec::new();
    let mut pos = 0;
    for _ in 0..count {
        let run = r.expect::<abi::DataRun>()?;
        let end = run.offset.checked_add(run.len);
        if run.offset < pos || run.len == 0 || end.map_or(true, |e| e > size) {
            return Err(r.bad("data run out of order, empty or past its file's size"));
        }
        let mut at = run.offset;
        let mut left = run.len;
        while left > 0 {
            let n = r.expect_raw(abi::RecordType::Data)?;
            if n == 0 || n > left {
                return Err(r.bad("data longer or shorter than its run"));
            }
            if buf.len() < n as usize {
                buf = KVVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
            }
            let bytes = buf.get_mut(..n as usize).ok_or(EINVAL)?;
            r.read_raw(bytes)?;
            if file.write_at(bytes, at as i64) != Ok(n as usize) {
                log!(r.log, "{what}: cannot write its bytes at {at}");
                return Err(EIO);
            }
            at += n;
            left -= n;
            crate::resched();
        }
        pos = at;
    }
    Ok(())
}
