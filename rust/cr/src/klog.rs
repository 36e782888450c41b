//! The kernel's log lines: a pipe whose write end is passed as `logfd`.
//!
//! A thread drains the read end while the syscall runs, so a chatty kernel never blocks on a
//! full pipe, and the lines reach the terminal as they are written rather than after the call.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::thread::JoinHandle;

/// What `cr` puts in front of each kernel line it forwards to stderr, to tell them apart from
/// its own messages.
pub const STDERR_PREFIX: &str = "cr: kernel: ";

/// A pipe for the kernel's log lines and the thread that collects them.
pub struct KernelLog {
    write: Option<OwnedFd>,
    reader: Option<JoinHandle<Vec<String>>>,
}

impl KernelLog {
    /// Collect the lines and also copy each one to stderr behind `prefix` as it arrives.
    pub fn forward_to_stderr(prefix: &'static str) -> io::Result<Self> {
        Self::spawn(Some(prefix))
    }

    /// Only collect the lines; [`KernelLog::finish`] returns them.
    pub fn capture() -> io::Result<Self> {
        Self::spawn(None)
    }

    fn spawn(echo: Option<&'static str>) -> io::Result<Self> {
        let (read, write) = pipe()?;
        let reader = std::thread::Builder::new()
            .name("kernel-log".into())
            .spawn(move || drain(File::from(read), echo))?;
        Ok(KernelLog {
            write: Some(write),
            reader: Some(reader),
        })
    }

    /// The `logfd` argument for the syscalls.
    pub fn fd(&self) -> RawFd {
        self.write.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// Closes our write end, waits until every writer is gone and returns the lines read.
    ///
    /// Every process holding a copy of the write end (a child forked while this log was open)
    /// must have closed it or exited, otherwise this waits for it.
    pub fn finish(mut self) -> Vec<String> {
        self.close()
    }

    fn close(&mut self) -> Vec<String> {
        drop(self.write.take());
        self.reader
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for KernelLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn drain(read: File, echo: Option<&'static str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if let Some(prefix) = echo {
                    let _ = writeln!(io::stderr().lock(), "{prefix}{line}");
                }
                lines.push(line);
            }
        }
    }
    lines
}

/// A close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_lines_written_to_the_fd() {
        let log = KernelLog::capture().unwrap();
        let fd = log.fd();
        // SAFETY: `fd` is the log's open write end; ManuallyDrop keeps it from being closed here.
        let mut f = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
        f.write_all(b"restart: one\nrestart: two").unwrap();
        assert_eq!(log.finish(), ["restart: one", "restart: two"]);
    }
}
