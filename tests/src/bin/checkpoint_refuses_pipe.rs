//! A target holding a pipe is refused with EOPNOTSUPP and a kernel log line naming the fd;
//! the target keeps running untouched (its pipe still holds what it wrote) and nothing else
//! is left behind.

use std::time::Duration;

use cr_tests::proc::my_children;
use cr_tests::{check_eq, check_os, log_names, pass, wait_restored, Fingerprint, Target, KILL};

const READ_END: libc::c_int = 37;
const WRITE_END: libc::c_int = 38;

fn main() {
    let mut target = Target::spawn(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds; dup2 and write use our own fds and a literal.
        unsafe {
            check_os(libc::pipe(fds.as_mut_ptr()), "pipe")?;
            check_os(libc::dup2(fds[0], READ_END), "dup2")?;
            check_os(libc::dup2(fds[1], WRITE_END), "dup2")?;
            libc::close(fds[0]);
            libc::close(fds[1]);
            check_os(
                libc::write(WRITE_END, b"hello".as_ptr().cast(), 5) as i64,
                "write",
            )?;
        }
        let fingerprint = Fingerprint::take();
        Ok(move || {
            wait_restored();
            let mut buf = [0u8; 5];
            // SAFETY: `buf` has room for 5 bytes.
            let n = unsafe { libc::read(READ_END, buf.as_mut_ptr().cast(), 5) };
            check_eq("bytes read back from the pipe", (n, &buf), (5, b"hello"))?;
            fingerprint.check()
        })
    });
    let result = target.try_checkpoint(KILL);
    target.expect_checkpoint_errno(
        result,
        libc::EOPNOTSUPP,
        "checkpoint of a process holding a pipe",
    );
    if !log_names(target.klog(), &READ_END.to_string())
        && !log_names(target.klog(), &WRITE_END.to_string())
    {
        target.fail(format!(
            "no kernel log line names fd {READ_END} or {WRITE_END}"
        ));
    }
    target.expect_asleep(Duration::from_millis(200));
    check_eq("our children", my_children(), vec![target.pid()]).unwrap_or_else(|e| target.fail(e));
    target.finish();
    pass("a pipe fd gives EOPNOTSUPP and a log line naming it; the target runs on");
}
