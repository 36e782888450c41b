//! A task asleep in epoll_pwait(2) without a timeout, with a signal mask of its own (which
//! blocks SIGUSR2 too), on an epoll instance that watches a signalfd for SIGUSR1 (blocked, as
//! the harness keeps it), is still asleep after checkpoint and restart, where it used to fail
//! with EINTR: the freezer's trap does not end the wait. The SIGUSR1 that ends the test wakes
//! it through the restored signalfd and instance, with the watch's data, and its own mask is
//! back afterwards.

use cr_tests::sleepers::{self, Wake};
use cr_tests::{check_eq, check_os, epoll_add, pass};

/// The data of the signalfd's watch.
const DATA: u64 = 0x5167_0051_6700_0001;

fn main() {
    sleepers::run(Wake::Signal, || {
        // SAFETY: a zeroed sigset_t filled by the libc calls; creates fds and waits for one
        // event into an array of our own.
        let (n, ev) = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            let sfd = libc::signalfd(-1, &set, 0);
            check_os(sfd, "signalfd")?;
            let ep = libc::epoll_create1(0);
            check_os(ep, "epoll_create1")?;
            epoll_add(ep, sfd, libc::EPOLLIN as u32, DATA)?;
            let mut during = cr_tests::proc::blocked_mask();
            libc::sigaddset(&mut during, libc::SIGUSR2);
            let mut out = [libc::epoll_event { events: 0, u64: 0 }; 2];
            let n = libc::epoll_pwait(ep, out.as_mut_ptr(), 2, -1, &during);
            check_os(n, "epoll_pwait")?;
            (n, out[0])
        };
        let mask = cr_tests::proc::blocked_mask();
        // SAFETY: reads a signal set of our own.
        let usr2 = unsafe { libc::sigismember(&mask, libc::SIGUSR2) };
        check_eq("SIGUSR2 blocked after epoll_pwait", usr2, 0)?;
        check_eq("events returned", n, 1)?;
        let (events, data) = (ev.events, ev.u64);
        check_eq("the event", events, libc::EPOLLIN as u32)?;
        check_eq("the watch's data", data, DATA)
    });
    pass("an epoll_pwait() without a timeout sleeps on across checkpoint and restart, returns the event that wakes it and gives the mask back");
}
