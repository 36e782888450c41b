//! A task asleep in read(2) on a signalfd for SIGUSR1 (blocked, as the harness keeps it) is
//! still asleep after checkpoint and restart, asleep on the restored signalfd, and the
//! SIGUSR1 that ends the test is read through it: the restored signalfd and the restored
//! handlers' wait queue meet.

use cr_tests::sleepers::{self, Wake};
use cr_tests::{check_eq, check_os, pass};

fn main() {
    sleepers::run(Wake::Signal, || {
        // SAFETY: a zeroed sigset_t filled by the libc calls; creates an fd and reads one
        // signalfd_siginfo into a zeroed one of our own.
        let (n, signo) = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            let fd = libc::signalfd(-1, &set, 0);
            check_os(fd, "signalfd")?;
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = libc::read(fd, (&raw mut info).cast(), size);
            check_os(n as i64, "read of the signalfd")?;
            (n as usize, info.ssi_signo)
        };
        check_eq(
            "bytes read",
            n,
            std::mem::size_of::<libc::signalfd_siginfo>(),
        )?;
        check_eq("the signal read", signo, libc::SIGUSR1 as u32)
    });
    pass("a read() asleep on a signalfd sleeps on across checkpoint and restart and returns the signal that wakes it");
}
