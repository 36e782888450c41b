// SPDX-License-Identifier: GPL-2.0

//! The log descriptor: human-readable progress and, on failure, where and why.

use core::fmt::{self, Write};
use kernel::fs::file::PosFd;
use kernel::prelude::*;

/// Longest line written; longer ones are cut and end with "...".
const LINE_MAX: usize = 256;

/// Where log lines go: the caller's `logfd`, or nowhere when it passed -1.
pub(crate) struct Log {
    fd: Option<PosFd>,
    prefix: &'static str,
}

impl Log {
    /// Takes `logfd` (-1 for none); `EBADF` unless it is open for writing.
    pub(crate) fn open(logfd: i32, prefix: &'static str) -> Result<Log> {
        let fd = match logfd {
            -1 => None,
            fd => {
                // Unlocked: the log may be the image's own file, whose position is locked.
                let fd = PosFd::get_unlocked(fd)?;
                if !fd.mode().writable() {
                    return Err(EBADF);
                }
                Some(fd)
            }
        };
        Ok(Log { fd, prefix })
    }

    /// Writes one line, `<prefix>: <text>\n`. A failing log never changes the call's result.
    pub(crate) fn line(&self, args: fmt::Arguments<'_>) {
        let Some(fd) = &self.fd else { return };
        let mut line = Line {
            buf: [0; LINE_MAX],
            len: 0,
        };
        if write!(line, "{}: {}", self.prefix, args).is_err() {
            line.len = LINE_MAX - 4;
            line.buf[line.len..LINE_MAX - 1].copy_from_slice(b"...");
            line.len = LINE_MAX - 1;
        }
        line.buf[line.len] = b'\n';
        let _ = fd.write_all(&line.buf[..line.len + 1]);
    }
}

/// A line being formatted; one byte is kept for the newline.
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Writes a formatted line to a [`Log`].
#[macro_export]
macro_rules! log {
    ($log:expr, $($arg:tt)*) => {
        $log.line(::core::format_args!($($arg)*))
    };
}
