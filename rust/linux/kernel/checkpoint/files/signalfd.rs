// SPDX-License-Identifier: GPL-2.0

//! Signal files (`signalfd(2)`): the signals they take. A read takes them from the reader's
//! own pending signals, restored with the reader, so the mask is all the file holds.

use super::{check_made_anew, made_anew_nonblock, FileKind, FileRef, Names, MADE_ANEW_FLAGS};
use crate::image::{Dumper, Restorer};
use crate::{abi, objects::Place, Obj};
use kernel::bindings;
use kernel::fs::signalfd::Signalfd;
use kernel::prelude::*;

/// Signals no signalfd takes.
const NEVER: u64 = 1 << (bindings::SIGKILL - 1) | 1 << (bindings::SIGSTOP - 1);

pub(super) struct SignalfdFile;

impl FileKind for SignalfdFile {
    fn classify(file: &FileRef) -> Option<core::result::Result<u32, &'static str>> {
        Signalfd::is(file.file()).then_some(Ok(abi::FILE_KIND_SIGNALFD))
    }

    fn check(at: Place<'_>, _names: &mut Names, file: &FileRef) -> Result {
        check_made_anew(at, file, "a signalfd", None, MADE_ANEW_FLAGS)
    }

    fn dump(d: &mut Dumper<'_>, _names: &mut Names, file: &FileRef) -> Result {
        let s = Signalfd::of(file.file())?;
        d.record(&abi::Signalfd { mask: s.mask })
    }

    fn restores(kind: u32) -> bool {
        kind == abi::FILE_KIND_SIGNALFD
    }

    fn restore(r: &mut Restorer<'_, Obj>, f: &abi::File) -> Result<FileRef> {
        let rec = r.next()?;
        let s = r.decode::<abi::Signalfd>(rec)?;
        let nonblock = made_anew_nonblock(r, f)?;
        if s.mask & NEVER != 0 {
            return Err(r.bad("signalfd that takes SIGKILL or SIGSTOP"));
        }
        Signalfd { mask: s.mask }
            .create(nonblock)
            .map(FileRef::from)
    }
}
