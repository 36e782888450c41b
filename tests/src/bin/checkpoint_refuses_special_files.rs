//! Each kind of file and kernel object checkpoint cannot save yet is refused with EOPNOTSUPP
//! and a log line naming the task and the object as /proc/PID/fd would (`anon_inode:inotify`),
//! for an anonymous-inode file or a socket on one line with its fd (`pid P: fd 40: `), and
//! the target runs on with the object still working:
//! inotify, fanotify, a bpf map, a perf event, a userfaultfd (an fd, and a registered range
//! whose fd only the test holds), a pidfd, an nsfs file, secret memory, a UDP socket,
//! io_uring (an fd, a ring registered without one, and a submission thread), a file asking for
//! SIGIO (O_ASYNC, F_SETOWN, F_SETSIG) or a directory watched with F_NOTIFY (dnotify, whose
//! watcher owns the signal), an AIO context, sealed (mseal) and droppable
//! (MAP_DROPPABLE) memory.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use cr_tests::{
    check_eq, check_os, log_names, os_error, pass, wait_restored, Check, Refusal, Target,
};

/// Where each target keeps the fd under test.
const FD: RawFd = 40;
/// The directory the dnotify case watches (as `dnotify()` opens it).
const DNOTIFY_DIR: &str = "/tmp/cr-dnotify";
const PAGE: usize = 4096;

/// Moves `fd` to [`FD`].
fn keep(fd: i64, what: &str) -> Result<(), String> {
    check_os(fd, what)?;
    // SAFETY: dup2 and close of our own fds.
    unsafe {
        check_os(libc::dup2(fd as RawFd, FD), "dup2")?;
        libc::close(fd as RawFd);
    }
    Ok(())
}

/// [`FD`] is still open.
fn still_open() -> Check {
    // SAFETY: fcntl on a plain fd number.
    check_os(
        unsafe { libc::fcntl(FD, libc::F_GETFD) },
        "F_GETFD of the kept fd",
    )
}

fn inotify() -> Check {
    // SAFETY: creates an fd and a watch on a path of ours.
    unsafe {
        keep(libc::inotify_init1(0).into(), "inotify_init1")?;
        check_os(
            libc::inotify_add_watch(FD, c"/tmp".as_ptr(), libc::IN_CREATE),
            "inotify_add_watch",
        )
    }
}

fn fanotify() -> Check {
    // SAFETY: creates an fd.
    keep(
        unsafe { libc::fanotify_init(libc::FAN_CLASS_NOTIF, libc::O_RDONLY as u32) }.into(),
        "fanotify_init",
    )
}

/// `union bpf_attr` for BPF_MAP_CREATE, as far as it is used.
#[repr(C)]
#[derive(Default)]
struct BpfMapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    rest: [u64; 12],
}

fn bpf_map() -> Check {
    const BPF_MAP_CREATE: i64 = 0;
    const BPF_MAP_TYPE_ARRAY: u32 = 2;
    let attr = BpfMapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    // SAFETY: `attr` is valid for reads of its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            &attr,
            size_of::<BpfMapCreate>(),
        )
    };
    keep(fd, "bpf(BPF_MAP_CREATE)")
}

fn perf_event() -> Check {
    const PERF_TYPE_SOFTWARE: u32 = 1;
    const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
    // struct perf_event_attr, PERF_ATTR_SIZE_VER0: type, size, config, then zeros.
    let mut attr = [0u64; 8];
    attr[0] = u64::from(PERF_TYPE_SOFTWARE) | (64u64 << 32);
    attr[1] = PERF_COUNT_SW_TASK_CLOCK;
    // SAFETY: `attr` is 64 valid bytes; measures this process on any CPU.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0, -1, -1, 0) };
    keep(fd, "perf_event_open")
}

/// `struct uffdio_api`.
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

/// `struct uffdio_register`.
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;

/// A userfaultfd of this process, its API handshake done.
fn new_userfaultfd() -> Result<RawFd, String> {
    // SAFETY: creates an fd.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) };
    check_os(fd, "userfaultfd")?;
    let mut api = UffdioApi {
        api: 0xaa,
        features: 0,
        ioctls: 0,
    };
    // SAFETY: `api` is valid for the ioctl's reads and writes.
    check_os(
        unsafe { libc::ioctl(fd as RawFd, UFFDIO_API, &mut api) },
        "UFFDIO_API",
    )?;
    Ok(fd as RawFd)
}

fn userfaultfd() -> Check {
    keep(new_userfaultfd()?.into(), "userfaultfd")
}

/// The abstract unix socket address that the test, process `test`, receives the userfaultfd
/// on.
fn address(test: libc::pid_t) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_un is valid; the name is written below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let name = format!("cr-uffd-{test}");
    for (d, s) in addr.sun_path[1..].iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + 1 + name.len();
    (addr, len as libc::socklen_t)
}

fn dgram_socket() -> Result<RawFd, String> {
    // SAFETY: creates an fd.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check_os(fd, "socket")?;
    Ok(fd)
}

/// A page registered for missing faults with a userfaultfd that only the test holds: it is
/// sent to the test's socket, and the target keeps no fd of it.
fn userfaultfd_elsewhere() -> Check {
    let sock = dgram_socket()?;
    let uffd = new_userfaultfd()?;
    // SAFETY: a new anonymous page of our own; never unmapped.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(os_error("mmap"));
    }
    let mut reg = UffdioRegister {
        start: page as u64,
        len: PAGE as u64,
        mode: UFFDIO_REGISTER_MODE_MISSING,
        ioctls: 0,
    };
    // SAFETY: `reg` is valid for the ioctl's reads and writes.
    check_os(
        unsafe { libc::ioctl(uffd, UFFDIO_REGISTER, &mut reg) },
        "UFFDIO_REGISTER",
    )?;
    send_fd(sock, uffd)?;
    // SAFETY: closes our own fds; the test's copy keeps the registration.
    unsafe {
        libc::close(uffd);
        libc::close(sock);
    }
    Ok(())
}

/// Whether this process's mapping at the registered page still reports missing faults.
fn registered() -> Check {
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| format!("smaps: {e}"))?;
    match smaps
        .lines()
        .any(|l| l.starts_with("VmFlags:") && l.split_whitespace().any(|f| f == "um"))
    {
        true => Ok(()),
        false => Err("no mapping is registered with a userfaultfd any more".into()),
    }
}

/// A message of one byte, `byte`, with `control` as room for one fd: the buffers must outlive
/// its use.
fn fd_message(byte: &mut u8, iov: &mut libc::iovec, control: &mut [u64; 4]) -> libc::msghdr {
    *iov = libc::iovec {
        iov_base: (byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero msghdr is valid; its pointers are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(control);
    msg
}

fn send_fd(sock: RawFd, fd: RawFd) -> Check {
    let (mut byte, mut control) = (0u8, [0u64; 4]);
    let mut iov = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut msg = fd_message(&mut byte, &mut iov, &mut control);
    // SAFETY: no arguments; the target's parent is the test.
    let (mut addr, len) = address(unsafe { libc::getppid() });
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = len;
    // SAFETY: one SCM_RIGHTS header and fd in `control`, which has room and alignment for them.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
        libc::CMSG_DATA(c).cast::<RawFd>().write_unaligned(fd);
        check_os(libc::sendmsg(sock, &msg, 0) as i64, "sendmsg(SCM_RIGHTS)")
    }
}

fn recv_fd(sock: RawFd) -> Result<RawFd, String> {
    let (mut byte, mut control) = (0u8, [0u64; 4]);
    let mut iov = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut msg = fd_message(&mut byte, &mut iov, &mut control);
    // SAFETY: receives into the message's buffers, then reads its one control header.
    unsafe {
        check_os(
            libc::recvmsg(sock, &mut msg, 0) as i64,
            "recvmsg(SCM_RIGHTS)",
        )?;
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err("no fd came with the message".into());
        }
        Ok(libc::CMSG_DATA(c).cast::<RawFd>().read_unaligned())
    }
}

fn pidfd() -> Check {
    // SAFETY: creates an fd for our own process.
    keep(
        unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) },
        "pidfd_open",
    )
}

fn nsfs() -> Check {
    // SAFETY: opens a path of our own.
    keep(
        unsafe { libc::open(c"/proc/self/ns/uts".as_ptr(), libc::O_RDONLY) }.into(),
        "open /proc/self/ns/uts",
    )
}

fn secretmem() -> Check {
    // SAFETY: creates an fd.
    keep(
        unsafe { libc::syscall(libc::SYS_memfd_secret, 0) },
        "memfd_secret",
    )
}

/// A UDP socket: only unix sockets are saved.
fn socket() -> Check {
    // SAFETY: creates an fd.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    keep(fd.into(), "socket(AF_INET)")
}

/// `struct io_uring_params`: 120 bytes, the flags at byte 8.
fn io_uring_setup(flags: u32) -> Result<RawFd, String> {
    let mut params = [0u32; 30];
    params[2] = flags;
    // SAFETY: `params` is a valid, zeroed io_uring_params with `flags` set.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    check_os(fd, "io_uring_setup")?;
    Ok(fd as RawFd)
}

fn io_uring() -> Check {
    keep(io_uring_setup(0)?.into(), "io_uring_setup")
}

/// A ring registered with IORING_REGISTER_RING_FDS (at index 0), its fd closed: only the
/// task's io_uring context holds it.
fn io_uring_registered() -> Check {
    const IORING_REGISTER_RING_FDS: u32 = 20;
    let fd = io_uring_setup(0)?;
    // struct io_uring_rsrc_update: offset (u32), resv (u32), data (u64): any free index.
    let mut update = [u32::MAX, 0, fd as u32, 0];
    // SAFETY: `update` is one valid io_uring_rsrc_update, which the call fills with the index.
    let n = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            IORING_REGISTER_RING_FDS,
            update.as_mut_ptr(),
            1,
        )
    };
    check_eq("rings registered", n, 1)?;
    check_eq("index of the registered ring", update[0], 0)?;
    // SAFETY: closes our own fd.
    unsafe { libc::close(fd) };
    Ok(())
}

/// io_uring_enter() on the registered ring at index 0 still works.
fn io_uring_registered_works() -> Check {
    const IORING_ENTER_REGISTERED_RING: u32 = 16;
    // SAFETY: submits nothing, waits for nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            0,
            0,
            0,
            IORING_ENTER_REGISTERED_RING,
            0,
            0,
        )
    };
    check_os(r, "io_uring_enter on the registered ring")
}

/// A ring with a kernel submission thread, made by a thread that then exits: the process
/// keeps the ring's fd and the submission thread, which is refused first (before the frozen
/// tasks' io_uring contexts are looked at).
fn io_uring_sqpoll() -> Check {
    const IORING_SETUP_SQPOLL: u32 = 2;
    let fd = std::thread::spawn(|| io_uring_setup(IORING_SETUP_SQPOLL))
        .join()
        .map_err(|_| "the ring's thread panicked".to_string())??;
    keep(fd.into(), "io_uring_setup(IORING_SETUP_SQPOLL)")?;
    // The joined thread may be listed a moment longer.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let threads = std::fs::read_dir("/proc/self/task")
            .map_err(|e| format!("/proc/self/task: {e}"))?
            .count();
        if threads == 2 || Instant::now() > deadline {
            return check_eq(
                "threads (ours and the ring's submission thread)",
                threads,
                2,
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn aio() -> Check {
    let mut ctx: libc::c_ulong = 0;
    // SAFETY: `ctx` is zero, as io_setup() requires, and valid for its write.
    check_os(
        unsafe { libc::syscall(libc::SYS_io_setup, 1, &mut ctx) },
        "io_setup",
    )
}

/// `path` open at [`FD`] with `fcntl(cmd, arg)` done.
fn sigio(path: &std::ffi::CStr, cmd: libc::c_int, arg: libc::c_int) -> Check {
    // SAFETY: opens a path of ours; fcntl on our own fd.
    unsafe {
        keep(
            libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY).into(),
            &format!("open {path:?}"),
        )?;
        check_os(
            libc::fcntl(FD, cmd, arg),
            format_args!("fcntl({cmd}, {arg:#x})"),
        )
    }
}

/// O_ASYNC is kept only by a file that can signal I/O (fasync): the console can.
fn o_async() -> Check {
    sigio(c"/dev/console", libc::F_SETFL, libc::O_ASYNC)?;
    // SAFETY: fcntl on our own fd.
    match unsafe { libc::fcntl(FD, libc::F_GETFL) } & libc::O_ASYNC {
        0 => Err("the console did not keep O_ASYNC".into()),
        _ => Ok(()),
    }
}

fn owner() -> Check {
    // SAFETY: no arguments.
    sigio(c"/dev/null", libc::F_SETOWN, unsafe { libc::getpid() })
}

fn sigio_signal() -> Check {
    const F_SETSIG: libc::c_int = 10;
    sigio(c"/dev/null", F_SETSIG, libc::SIGRTMIN() + 1)
}

/// A directory of its own watched for new entries with F_NOTIFY (dnotify), which makes the
/// target the owner of its SIGIO. Nothing else writes there (SIGIO would end the target).
fn dnotify() -> Check {
    const DN_CREATE: libc::c_int = 0x4;
    const DN_MULTISHOT: libc::c_int = i32::MIN;
    match std::fs::create_dir(DNOTIFY_DIR) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(format!("mkdir {DNOTIFY_DIR}: {e}"))
        }
        _ => {}
    }
    // SAFETY: opens a directory; fcntl on our own fd.
    unsafe {
        keep(
            libc::open(
                c"/tmp/cr-dnotify".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY,
            )
            .into(),
            "open the watched directory",
        )?;
        check_os(
            libc::fcntl(FD, libc::F_NOTIFY, DN_CREATE | DN_MULTISHOT),
            "fcntl(F_NOTIFY)",
        )
    }
}

/// A new page of anonymous memory mapped with `flags`.
fn page(flags: libc::c_int) -> Result<*mut libc::c_void, String> {
    // SAFETY: a new mapping of our own; never unmapped.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            flags | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    match p {
        libc::MAP_FAILED => Err(os_error("mmap")),
        p => Ok(p),
    }
}

fn sealed() -> Check {
    let p = page(libc::MAP_PRIVATE)?;
    // SAFETY: seals our own page.
    check_os(
        unsafe { libc::syscall(libc::SYS_mseal, p, PAGE, 0) },
        "mseal",
    )
}

fn droppable() -> Check {
    const MAP_DROPPABLE: libc::c_int = 0x08;
    page(MAP_DROPPABLE).map(|_| ())
}

/// A case whose log line must also give `why` (several cases share a name).
struct Why(&'static str, Refusal);

const CASES: &[Refusal] = &[
    Refusal {
        setup: inotify,
        named: "anon_inode:inotify",
        works: still_open,
    },
    Refusal {
        setup: fanotify,
        named: "anon_inode:[fanotify]",
        works: still_open,
    },
    Refusal {
        setup: bpf_map,
        named: "anon_inode:bpf-map",
        works: still_open,
    },
    Refusal {
        setup: perf_event,
        named: "anon_inode:[perf_event]",
        works: still_open,
    },
    Refusal {
        setup: userfaultfd,
        named: "anon_inode:[userfaultfd]",
        works: still_open,
    },
    Refusal {
        setup: pidfd,
        named: "anon_inode:[pidfd]",
        works: still_open,
    },
    Refusal {
        setup: nsfs,
        named: "uts",
        works: still_open,
    },
    Refusal {
        setup: secretmem,
        named: "secretmem",
        works: still_open,
    },
    Refusal {
        setup: socket,
        named: "socket:",
        works: still_open,
    },
    Refusal {
        setup: io_uring,
        named: "uses io_uring",
        works: still_open,
    },
    Refusal {
        setup: io_uring_registered,
        named: "uses io_uring",
        works: io_uring_registered_works,
    },
    Refusal {
        setup: io_uring_sqpoll,
        named: "kernel worker thread",
        works: still_open,
    },
    Refusal {
        setup: aio,
        named: "AIO context",
        works: || Ok(()),
    },
    Refusal {
        setup: sealed,
        named: "mseal",
        works: || Ok(()),
    },
    Refusal {
        setup: droppable,
        named: "MAP_DROPPABLE",
        works: || Ok(()),
    },
];

/// The SIGIO cases: each names its file, and why.
const SIGIO: &[Why] = &[
    Why(
        "O_ASYNC",
        Refusal {
            setup: o_async,
            named: "/dev/console",
            works: still_open,
        },
    ),
    Why(
        "F_SETOWN",
        Refusal {
            setup: owner,
            named: "/dev/null",
            works: still_open,
        },
    ),
    Why(
        "F_SETSIG",
        Refusal {
            setup: sigio_signal,
            named: "/dev/null",
            works: still_open,
        },
    ),
    Why(
        "F_NOTIFY",
        Refusal {
            setup: dnotify,
            named: DNOTIFY_DIR,
            works: still_open,
        },
    ),
];

fn refused(case: &'static Refusal, why: Option<&str>) {
    let target = case.refused();
    // A file the target holds at FD is named with its fd, on the line that names its kind.
    let fd_file = ["anon_inode:", "socket:"]
        .iter()
        .any(|k| case.named.starts_with(k));
    let at = format!("pid {}: fd {FD}: ", target.pid());
    if fd_file
        && !target
            .klog()
            .iter()
            .any(|l| l.contains(&at) && l.contains(case.named))
    {
        target.fail(format!(
            "no kernel log line names {at:?} with {:?}",
            case.named
        ));
    }
    if let Some(why) = why {
        if !log_names(target.klog(), why) {
            target.fail(format!("no kernel log line says {why}"));
        }
    }
    target.finish();
}

fn main() {
    for case in CASES {
        refused(case, None);
    }
    for Why(why, case) in SIGIO {
        refused(case, Some(why));
    }
    let ours = dgram_socket().unwrap_or_else(|e| cr_tests::fail(e));
    // SAFETY: no arguments.
    let (addr, len) = address(unsafe { libc::getpid() });
    // SAFETY: `addr` is valid for `len` bytes.
    check_os(
        unsafe { libc::bind(ours, (&raw const addr).cast(), len) },
        "bind",
    )
    .unwrap_or_else(|e| cr_tests::fail(e));
    let mut target = Target::spawn(|| {
        userfaultfd_elsewhere()?;
        Ok(|| {
            wait_restored();
            registered()
        })
    });
    let uffd = recv_fd(ours).unwrap_or_else(|e| target.fail(e));
    target.expect_refused("userfaultfd");
    target.finish();
    // SAFETY: our own fds.
    unsafe {
        libc::close(uffd);
        libc::close(ours);
    }
    pass("every kind of file and object that is not saved yet is refused by name; each target runs on with it");
}
