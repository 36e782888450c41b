// SPDX-License-Identifier: GPL-2.0
//
// The checkpoint image schema: the project's ABI.
//
// This file is never compiled. cr-codegen parses it with `syn` and generates the Rust codec
// (kernel and user space), include/uapi/linux/checkpoint.h, the ABI hash and the schema text.
//
// Rules (the generator enforces them):
// - fields are u8, u16, u32, u64, i32, i64 or fixed arrays of them; no usize, pointer or bool;
// - every field sits at an offset that is a multiple of its element size and every struct is
//   a multiple of 8 bytes, so there is no implicit padding and the layout is the same on i386
//   and x86_64; explicit padding fields are called `_pad*` and written as zero;
// - every constant, struct, field and record type has a doc comment;
// - a struct is bound to its record type with `#[record(Name, max = N)]`, a record type without
//   a struct is marked `#[raw(max = N)]`; `max` counts the 8-byte record header;
// - compatibility: fields are only ever appended to a struct (a reader zero-fills what an older
//   image lacks and ignores what a newer one adds); ids and constants never change meaning.

/// Image magic: the ASCII bytes "LNXCRIMG" read as a little-endian u64.
pub const MAGIC: u64 = b"LNXCRIMG";
/// Version of the framing and of the meaning of the records; bumped only for incompatible
/// changes (appending fields does not need it).
pub const FORMAT_VERSION: u32 = 1;
/// `Header.arch` of an x86_64 image (the ELF machine number EM_X86_64).
pub const ARCH_X86_64: u32 = 62;
/// Page size of the images this ABI describes; page bytes are aligned to it in the stream.
pub const IMAGE_PAGE_SIZE: u32 = 4096;

/// x86_64 syscall number of `checkpoint(pid, fd, flags, logfd)`.
pub const NR_CHECKPOINT: u32 = 463;
/// x86_64 syscall number of `restart(fd, flags, logfd)`.
pub const NR_RESTART: u32 = 464;

/// checkpoint flag: the root need not be a pid namespace init; dump the subtree under it.
pub const CKPT_SUBTREE: u32 = 1;
/// checkpoint flag: kill the tree after a successful dump instead of thawing it.
pub const CKPT_KILL: u32 = 2;
/// checkpoint flag: an open file the tree shares with processes outside it (a shell's
/// terminal, a log file) is saved as the tree sees it, and restart reopens it unshared.
/// Without it such a file is refused (EOPNOTSUPP for a subtree, EBUSY for a container). An
/// fd table shared with a process outside (CLONE_FILES) is refused all the same.
pub const CKPT_UNSHARE_OPEN_FILES: u32 = 4;
/// checkpoint flag: a regular file deleted while open (or made with `O_TMPFILE`) is saved with
/// its bytes, and restart makes it again, unlinked, in its directory. The fifth argument of
/// checkpoint(2) is then the most bytes such files may hold in all (their sizes, holes
/// included): more gives EFBIG before anything is written. Without the flag such a file is
/// refused (EOPNOTSUPP) and the fifth argument is not read.
pub const CKPT_UNLINKED: u32 = 8;
/// checkpoint flag: leave page data (the payload of `Pages` records) out of the image's
/// checksum (`HDR_NO_PAGE_CHECKSUM`): checkpoint and restart skip the pass that hashes it,
/// and a restart by mapping (`RESTART_MAP`) can verify the rest; damage to page data is then
/// not detected.
pub const CKPT_NO_PAGE_CHECKSUM: u32 = 16;
/// Every valid checkpoint flag; other bits give EINVAL.
pub const CKPT_FLAGS_ALL: u32 = CKPT_SUBTREE
    | CKPT_KILL
    | CKPT_UNSHARE_OPEN_FILES
    | CKPT_UNLINKED
    | CKPT_NO_PAGE_CHECKSUM;
/// restart flag: leave the restored tasks stopped until they get SIGCONT.
pub const RESTART_FROZEN: u32 = 1;
/// restart flag: map the page data of private anonymous memory from the image, copy-on-write,
/// instead of copying it. The image must be a memfd sealed against writing and shrinking
/// (`F_SEAL_WRITE | F_SEAL_SHRINK`), read from a page-aligned position, and every restored
/// task must have the restarter's credentials and a dumpable mm (EPERM otherwise). The
/// restored mappings show the memfd in /proc/PID/maps and `MADV_DONTNEED` gives the image's
/// bytes back, not zeros; the checksum is not verified; memory a process shares copy-on-write
/// with a relative is refused (EOPNOTSUPP). Documentation/checkpoint/index.rst says which
/// mappings are mapped and why.
pub const RESTART_MAP: u32 = 2;
/// Every valid restart flag; other bits give EINVAL.
pub const RESTART_FLAGS_ALL: u32 = RESTART_FROZEN | RESTART_MAP;

/// `Header.flags`: the image holds a subtree (CKPT_SUBTREE), not a whole pid namespace.
pub const HDR_SUBTREE: u32 = 1;
/// `Header.flags`: the tail's checksum leaves out the payload of every `Pages` record
/// (CKPT_NO_PAGE_CHECKSUM).
pub const HDR_NO_PAGE_CHECKSUM: u32 = 2;
/// Every `Header.flags` bit; restart refuses others.
pub const HDR_FLAGS_ALL: u32 = HDR_SUBTREE | HDR_NO_PAGE_CHECKSUM;

/// Largest number of pages in one `Pages` record; longer runs are split.
pub const PAGES_PER_RECORD: u32 = 1024;
/// Largest payload of a `String` record (PATH_MAX, the terminating NUL not written).
pub const STRING_MAX: u32 = 4096;
/// Most supplementary groups a task can have (the kernel's NGROUPS_MAX).
pub const GROUPS_MAX: u32 = 65536;
/// `Creds.flags`: the task has an audit login uid, `Creds.loginuid`; without it, none (unset).
pub const CREDS_F_LOGINUID: u32 = 1 << 0;
/// Number of resource limits saved (RLIM_NLIMITS on Linux).
pub const RLIMIT_COUNT: u32 = 16;

/// `ObjRef.kind` and shared object kinds: an mm_struct.
pub const OBJ_MM: u32 = 1;
/// Shared object kind: a files_struct (fd table).
pub const OBJ_FILES: u32 = 2;
/// Shared object kind: an open file description (struct file).
pub const OBJ_FILE: u32 = 3;
/// Shared object kind: an fs_struct (root, cwd, umask).
pub const OBJ_FS: u32 = 4;
/// Shared object kind: a sighand_struct (signal handlers).
pub const OBJ_SIGHAND: u32 = 5;
/// Shared object kind: a signal_struct (thread-group signal state, rlimits).
pub const OBJ_SIGNAL: u32 = 6;
/// Shared object kind: a task.
pub const OBJ_TASK: u32 = 7;

/// `Task.state`: stopped on its way back to user mode; runs after restart.
pub const TASK_STATE_RUNNING: u32 = 0;
/// `Task.state`: stopped by job control, as its whole process is (`SIGNAL_F_STOPPED`);
/// `exit_code` holds the signal that stopped it. It stays stopped until SIGCONT.
pub const TASK_STATE_STOPPED: u32 = 1;
/// `Task.state`: a zombie waiting to be reaped; `exit_code` holds its status.
pub const TASK_STATE_ZOMBIE: u32 = 2;
/// `Task.state`: a process's main thread that exited while other threads run (a zombie until
/// they end); `exit_code` holds its exit code. It has no registers or signal state of its own:
/// the process's records follow it, then its threads.
pub const TASK_STATE_EXITED: u32 = 3;

/// `Task.flags`: the task is the leader of its thread group.
pub const TASK_F_GROUP_LEADER: u32 = 1;
/// `Task.flags`: the task must restore its saved signal mask on return (TIF_RESTORE_SIGMASK).
pub const TASK_F_RESTORE_SIGMASK: u32 = 2;
/// `Task.flags`: its process group also holds processes outside the checkpointed subtree;
/// restart puts the task in the caller's process group instead.
pub const TASK_F_PGRP_OUTSIDE: u32 = 4;
/// `Task.flags`: its session also holds processes outside the checkpointed subtree; restart
/// puts the task in the caller's session instead.
pub const TASK_F_SESSION_OUTSIDE: u32 = 8;
/// `Task.flags`: the process is a vfork child (`CLONE_VFORK`) that has neither exec'd nor
/// exited: its parent thread sleeps in the system call that created it, saved as returning
/// the child's pid, and after a restart waits again until the child execs or exits.
pub const TASK_F_VFORK: u32 = 16;
/// `Task.flags`: the scheduling policy has SCHED_RESET_ON_FORK.
pub const TASK_F_RESET_ON_FORK: u32 = 32;
/// `Task.flags`: the task may run only on the CPUs of `Task.cpus`, which leave out CPUs the
/// checkpointing machine has; without it the task runs anywhere.
pub const TASK_F_AFFINITY: u32 = 64;
/// `Task.flags`: rdtsc and rdtscp fault with SIGSEGV (prctl PR_SET_TSC, PR_TSC_SIGSEGV).
pub const TASK_F_NOTSC: u32 = 128;
/// `Task.flags`: cpuid faults with SIGSEGV (arch_prctl ARCH_SET_CPUID 0).
pub const TASK_F_NOCPUID: u32 = 256;
/// `Task.flags`: system calls made outside `Task.sud_offset`..+`sud_len` are dispatched
/// to SIGSYS unless the byte at `Task.sud_selector` allows them (prctl
/// PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON).
pub const TASK_F_SYSCALL_DISPATCH: u32 = 512;
/// Every `TASK_F_*` flag.
pub const TASK_F_ALL: u32 = 1023;

/// `Mm.flags`: transparent huge pages are disabled (PR_SET_THP_DISABLE).
pub const MM_F_DISABLE_THP: u32 = 1;
/// `Mm.flags`: memory-deny-write-execute (PR_SET_MDWE with PR_MDWE_REFUSE_EXEC_GAIN).
pub const MM_F_MDWE: u32 = 2;
/// `Mm.flags`: with `MM_F_MDWE`, PR_MDWE_NO_INHERIT.
pub const MM_F_MDWE_NO_INHERIT: u32 = 4;
/// `Mm.flags`: mmap() allocates top-down from `mmap_base` (not the legacy layout).
pub const MM_F_TOPDOWN: u32 = 8;
/// Every `MM_F_*` flag.
pub const MM_F_ALL: u32 = 15;

/// `Signal.flags`: the thread group is a child subreaper (PR_SET_CHILD_SUBREAPER).
pub const SIGNAL_F_CHILD_SUBREAPER: u32 = 1;
/// `Signal.flags`: an ancestor is a child subreaper.
pub const SIGNAL_F_HAS_CHILD_SUBREAPER: u32 = 2;
/// `Signal.flags`: the group stop is complete (every live thread is `TASK_STATE_STOPPED`);
/// `group_exit_code` is what wait(2) with WUNTRACED has yet to report.
pub const SIGNAL_F_STOPPED: u32 = 4;
/// `Signal.flags`: continued by SIGCONT since the last report of wait(2) with WCONTINUED,
/// which reports it (the parent was notified already).
pub const SIGNAL_F_CONTINUED: u32 = 8;

/// `PosixTimer.state`: not armed.
pub const POSIX_TIMER_DISARMED: u32 = 0;
/// `PosixTimer.state`: armed (a `SIGEV_NONE` timer: with time left).
pub const POSIX_TIMER_ARMED: u32 = 1;
/// `PosixTimer.state`: an interval timer whose signal is pending, armed again when the signal
/// is taken.
pub const POSIX_TIMER_REARM: u32 = 2;
/// `PosixTimer.flags`: `expires` is the expiry on the timer's clock, not the time left.
pub const POSIX_TIMER_F_ABSOLUTE: u32 = 1;
/// `PosixTimer.flags`: the timer's signal is pending.
pub const POSIX_TIMER_F_QUEUED: u32 = 2;

/// `SigPending.shared`: pending on the task only.
pub const SIGPENDING_TASK: u32 = 0;
/// `SigPending.shared`: pending on the whole thread group.
pub const SIGPENDING_SHARED: u32 = 1;

/// `RestartBlock.kind`: nanosleep() or clock_nanosleep() with a relative time.
pub const RESTART_NANOSLEEP: u32 = 1;
/// `RestartBlock.kind`: poll() with a timeout.
pub const RESTART_POLL: u32 = 2;
/// `RestartBlock.kind`: a futex wait with a timeout.
pub const RESTART_FUTEX: u32 = 3;

/// `XsaveInfo.format`: the standard (non-compacted) user layout, as PTRACE_GETREGSET
/// NT_X86_XSTATE returns it.
pub const XSAVE_FMT_STANDARD: u32 = 1;

/// `Vma.flags`: readable.
pub const VMA_READ: u64 = 0x1;
/// `Vma.flags`: writable.
pub const VMA_WRITE: u64 = 0x2;
/// `Vma.flags`: executable.
pub const VMA_EXEC: u64 = 0x4;
/// `Vma.flags`: shared mapping (writes reach the file or other mappers).
pub const VMA_SHARED: u64 = 0x8;
/// `Vma.flags`: mprotect may add read.
pub const VMA_MAYREAD: u64 = 0x10;
/// `Vma.flags`: mprotect may add write.
pub const VMA_MAYWRITE: u64 = 0x20;
/// `Vma.flags`: mprotect may add exec.
pub const VMA_MAYEXEC: u64 = 0x40;
/// `Vma.flags`: mapped MAP_SHARED (even if now read-only).
pub const VMA_MAYSHARE: u64 = 0x80;
/// `Vma.flags`: grows down (a stack).
pub const VMA_GROWSDOWN: u64 = 0x100;
/// `Vma.flags`: locked in memory (mlock).
pub const VMA_LOCKED: u64 = 0x200;
/// `Vma.flags`: not copied on fork (MADV_DONTFORK).
pub const VMA_DONTCOPY: u64 = 0x400;
/// `Vma.flags`: cannot be expanded by mremap.
pub const VMA_DONTEXPAND: u64 = 0x800;
/// `Vma.flags`: no swap space reserved (MAP_NORESERVE).
pub const VMA_NORESERVE: u64 = 0x1000;
/// `Vma.flags`: excluded from core dumps (MADV_DONTDUMP).
pub const VMA_DONTDUMP: u64 = 0x2000;
/// `Vma.flags`: zeroed in the child on fork (MADV_WIPEONFORK).
pub const VMA_WIPEONFORK: u64 = 0x4000;
/// `Vma.flags`: transparent huge pages requested (MADV_HUGEPAGE).
pub const VMA_HUGEPAGE: u64 = 0x8000;
/// `Vma.flags`: transparent huge pages refused (MADV_NOHUGEPAGE).
pub const VMA_NOHUGEPAGE: u64 = 0x10000;
/// `Vma.flags`: pages will be read at random (MADV_RANDOM).
pub const VMA_RAND_READ: u64 = 0x20000;
/// `Vma.flags`: pages will be read in order (MADV_SEQUENTIAL).
pub const VMA_SEQ_READ: u64 = 0x40000;
/// `Vma.flags`: offered to KSM for merging (MADV_MERGEABLE).
pub const VMA_MERGEABLE: u64 = 0x80000;
/// `Vma.flags`: an anonymous mapping named by PR_SET_VMA_ANON_NAME; a `String` record with
/// the name (at most 79 bytes) follows the `Vma`.
pub const VMA_ANON_NAME: u64 = 0x100000;

/// `Vma.kind`: private anonymous memory.
pub const VMA_KIND_ANON: u32 = 1;
/// `Vma.kind`: a file mapping (private or shared); `Vma.file` names the file.
pub const VMA_KIND_FILE: u32 = 2;
/// `Vma.kind`: shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS).
pub const VMA_KIND_SHARED_ANON: u32 = 3;
/// `Vma.kind`: the vDSO text.
pub const VMA_KIND_VDSO: u32 = 4;
/// `Vma.kind`: the vDSO data pages (vvar).
pub const VMA_KIND_VVAR: u32 = 5;
/// `Vma.kind`: the main thread's stack.
pub const VMA_KIND_STACK: u32 = 6;
/// `Vma.kind`: the brk heap.
pub const VMA_KIND_HEAP: u32 = 7;

/// `File.kind`: a regular file.
pub const FILE_KIND_REGULAR: u32 = 1;
/// `File.kind`: a directory.
pub const FILE_KIND_DIRECTORY: u32 = 2;
/// `File.kind`: a character device.
pub const FILE_KIND_CHARDEV: u32 = 3;
/// `File.kind`: a block device.
pub const FILE_KIND_BLOCKDEV: u32 = 4;
/// `File.kind`: a file of a named pipe (a FIFO in a file system); its path from the task's
/// root in a `String` record, the pipe's `Pipe` record (the first time) and a `PipeEnd`
/// record follow.
pub const FILE_KIND_FIFO: u32 = 5;
/// `File.kind`: a file of an anonymous pipe; the pipe's `Pipe` record, the first time, and a
/// `PipeEnd` record follow.
pub const FILE_KIND_PIPE: u32 = 6;
/// `File.kind`: a socket.
pub const FILE_KIND_SOCKET: u32 = 7;
/// `File.kind`: an anonymous-inode file of a kind not saved yet.
pub const FILE_KIND_ANON_INODE: u32 = 8;
/// `File.kind`: an O_PATH descriptor, of a file of any type: reopened by its path with O_PATH,
/// as it only names the file.
pub const FILE_KIND_PATH: u32 = 9;
/// `File.kind`: an eventfd; an `Eventfd` record follows.
pub const FILE_KIND_EVENTFD: u32 = 10;
/// `File.kind`: a signalfd; a `Signalfd` record follows.
pub const FILE_KIND_SIGNALFD: u32 = 11;
/// `File.kind`: a timerfd; a `Timerfd` record follows.
pub const FILE_KIND_TIMERFD: u32 = 12;
/// `File.kind`: an epoll instance; an `Epoll` record and its `EpollWatch` records follow. The
/// files it watches are written before its `File` record.
pub const FILE_KIND_EPOLL: u32 = 13;
/// `File.kind`: a file of a memfd (`memfd_create(2)`); the memfd's `Memfd` record (the first
/// time) and a `MemfdFile` record follow.
pub const FILE_KIND_MEMFD: u32 = 14;
/// `File.kind`: a regular file deleted while open, or made with `O_TMPFILE` and never linked;
/// its inode's `Unlinked` record (the first time) and an `UnlinkedFile` record follow.
pub const FILE_KIND_UNLINKED: u32 = 15;
/// `File.kind`: a unix domain socket (`AF_UNIX`) of a pair that `socketpair(2)` made or of a
/// connection a listener accepted, or an unconnected one that `socket(2)` made; its pair's
/// `UnixPair` record (the first time) and a `UnixSock` record follow.
pub const FILE_KIND_UNIX: u32 = 16;
/// `File.kind`: the master of a unix98 pty (`/dev/ptmx`); its path from the task's root in a
/// `String` record, the pty's `Pty` record and two `PtyQueue` records, the slave's then the
/// master's, each with its bytes, follow.
pub const FILE_KIND_PTY_MASTER: u32 = 17;
/// `File.kind`: a file of the slave of a unix98 pty (`/dev/pts/N`); its path from the task's
/// root in a `String` record and a `PtySlave` record follow. The `File` record of the pty's
/// master comes before it.
pub const FILE_KIND_PTY_SLAVE: u32 = 18;

/// `Pty.flags`: the slave may not be opened (`TIOCSPTLCK`).
pub const PTY_LOCKED: u32 = 1;
/// `Pty.flags`: the master is in packet mode (`TIOCPKT`).
pub const PTY_PACKET: u32 = 2;
/// `Pty.flags`: the slave's last file was closed, so that reads of the master give `EIO`
/// until it is opened again.
pub const PTY_SLAVE_CLOSED: u32 = 4;
/// `Pty.pktstatus`: the `TIOCPKT_*` events a master in packet mode may have to report.
pub const PTY_PKTSTATUS: u32 = 0x7f;
/// `PtyQueue.flags`: the last complete line ends without its delimiter, as when canonical
/// mode was turned on with bytes unread.
pub const PTY_QUEUE_PUSH: u32 = 1;
/// `PtyQueue.flags`: the next byte received is taken literally (`VLNEXT` was typed).
pub const PTY_QUEUE_LNEXT: u32 = 2;
/// `PtyQueue.flags`: an erase is being echoed between `\` and `/` (`ECHOPRT`).
pub const PTY_QUEUE_ERASING: u32 = 4;
/// Most bytes a side's line discipline holds (`PtyQueue.len`): `N_TTY_BUF_SIZE`.
pub const PTY_QUEUE_READ_MAX: u32 = 4096;
/// Most bytes checkpoint saves of a side's flip buffers (`PtyQueue.flip`).
pub const PTY_QUEUE_FLIP_MAX: u32 = 32768;

/// `Unlinked.flags`: it may be given a name again (`linkat(2)`): made with `O_TMPFILE`
/// without `O_EXCL`.
pub const UNLINKED_LINKABLE: u32 = 1;

/// `Memfd.seals`: no seal can be added (F_SEAL_SEAL).
pub const MEMFD_SEAL_SEAL: u32 = 0x1;
/// `Memfd.seals`: it cannot shrink (F_SEAL_SHRINK).
pub const MEMFD_SEAL_SHRINK: u32 = 0x2;
/// `Memfd.seals`: it cannot grow (F_SEAL_GROW).
pub const MEMFD_SEAL_GROW: u32 = 0x4;
/// `Memfd.seals`: it cannot be written (F_SEAL_WRITE).
pub const MEMFD_SEAL_WRITE: u32 = 0x8;
/// `Memfd.seals`: it cannot be written through new mappings or writes (F_SEAL_FUTURE_WRITE).
pub const MEMFD_SEAL_FUTURE_WRITE: u32 = 0x10;
/// `Memfd.seals`: its execute bits cannot change (F_SEAL_EXEC).
pub const MEMFD_SEAL_EXEC: u32 = 0x20;

/// `PipeEnd.flags`: a reader of a FIFO that has seen no writer since it was opened, to which
/// `poll()` does not report `EPOLLHUP` while the FIFO has no writer.
pub const PIPE_END_WAITING: u32 = 1;

/// `Timerfd.flags`: the expiry is absolute on the timer's clock (TFD_TIMER_ABSTIME).
pub const TIMERFD_F_ABSTIME: u32 = 1;
/// `Timerfd.flags`: a read fails with ECANCELED once the realtime clock is set
/// (TFD_TIMER_CANCEL_ON_SET; it takes effect with `TIMERFD_F_ABSTIME` on a realtime clock).
pub const TIMERFD_F_CANCEL_ON_SET: u32 = 2;
/// `Timerfd.flags`: the clock was set since; the next read fails with ECANCELED.
pub const TIMERFD_F_CANCELED: u32 = 4;

/// `EpollWatch.events`: report errors (EPOLLERR), which every watch that is not disarmed has.
pub const EPOLL_ERR: u32 = 0x8;
/// `EpollWatch.events`: report a hang-up (EPOLLHUP), which every watch that is not disarmed
/// has.
pub const EPOLL_HUP: u32 = 0x10;
/// `EpollWatch.events`: keep the system awake while the event is not taken (EPOLLWAKEUP,
/// which needs CAP_BLOCK_SUSPEND).
pub const EPOLL_WAKEUP: u32 = 1 << 29;
/// `EpollWatch.events`: a one-shot watch (EPOLLONESHOT).
pub const EPOLL_ONESHOT: u32 = 1 << 30;
/// `EpollWatch.events`: the bits that set how a watch reports, not what (EPOLLEXCLUSIVE,
/// EPOLLWAKEUP, EPOLLONESHOT, EPOLLET). A one-shot watch that fired has only these left.
pub const EPOLL_PRIVATE: u32 = 0xf000_0000;

/// `FileLock.kind`: a lock taken with flock(), owned by its open file.
pub const LOCK_FLOCK: u32 = 1;
/// `FileLock.kind`: an open file description lock (F_OFD_SETLK), owned by its open file.
pub const LOCK_OFD: u32 = 2;
/// `FileLock.kind`: a POSIX record lock (F_SETLK), owned by the fd table and the process
/// that took it.
pub const LOCK_POSIX: u32 = 3;
/// `FileLock.mode`: a shared (read) lock.
pub const LOCK_READ: u32 = 1;
/// `FileLock.mode`: an exclusive (write) lock.
pub const LOCK_WRITE: u32 = 2;

/// `UnixPair.peer`: both sockets of the pair have files.
pub const UNIX_PAIR_BOTH: u32 = 0;
/// `UnixPair.peer`: the socket of end 1 was closed; only end 0 has a file.
pub const UNIX_PAIR_CLOSED: u32 = 1;
/// `UnixPair.peer`: end 0 alone, a socket connected to none.
pub const UNIX_PAIR_NONE: u32 = 2;

/// The most bytes the messages of one unix socket may hold in an image.
pub const UNIX_QUEUE_MAX: u64 = 64 << 20;

/// `UnixSock.flags`: `SO_PASSCRED`.
pub const UNIX_PASSCRED: u32 = 1;
/// `UnixSock.flags`: `SO_PASSPIDFD`.
pub const UNIX_PASSPIDFD: u32 = 2;
/// `UnixSock.flags`: the user set `SO_SNDBUF`: `sndbuf` is restored.
pub const UNIX_SNDBUF_LOCK: u32 = 4;
/// `UnixSock.flags`: the user set `SO_RCVBUF`: `rcvbuf` is restored.
pub const UNIX_RCVBUF_LOCK: u32 = 8;
/// `UnixSock.flags`: its messages carry files (`SCM_RIGHTS`) or their senders' credentials
/// (`SCM_CREDENTIALS`): they follow the last task, in a `UnixQueue` record, after the files
/// they carry that no earlier record wrote.
pub const UNIX_QUEUE_LATER: u32 = 16;
/// `UnixSock.flags`: it is bound to a name (`bind()`), which a `UnixName` record right after it
/// gives.
pub const UNIX_BOUND: u32 = 32;
/// `UnixSock.flags`: it listens (`listen()`), bound; its `msgs` are the connections it holds,
/// not accepted yet.
pub const UNIX_LISTENING: u32 = 64;
/// `UnixSock.flags`: a socket of a connection that a listener accepted, which has the
/// listener's name without being bound to it; a `UnixName` record right after it gives it.
pub const UNIX_NAMED: u32 = 128;
/// `UnixSock.flags`: the other socket of its pair, closed, had a name (`getpeername()`
/// reports it); a `UnixName` record gives it, after its own.
pub const UNIX_PEER_NAMED: u32 = 256;
/// `UnixSock.flags`: a datagram socket connected to none that another connected to
/// (`connect()`), which leaves it established whatever becomes of that one.
pub const UNIX_ESTABLISHED: u32 = 512;
/// `UnixSock.flags`: a datagram socket that `socket(2)` made, connected (`connect()`) to one of
/// the tree bound to the name a `UnixName` record gives, after its own.
pub const UNIX_CONNECTED: u32 = 1024;
/// `UnixSock.flags` that a connection a listener holds, not accepted yet, does not have: as
/// `connect()` left it, the listener names it, and `accept()` gives it its options
/// (`UNIX_PASSCRED | UNIX_PASSPIDFD | UNIX_BOUND | UNIX_LISTENING | UNIX_NAMED |
/// UNIX_ESTABLISHED | UNIX_CONNECTED`).
pub const UNIX_NOT_WAITING: u32 = 1763;
/// Longest name a unix socket may be bound to (`sun_path`).
pub const UNIX_NAME_MAX: u32 = 108;
/// Most files one message carries (`SCM_MAX_FD`).
pub const UNIX_CARRIED_MAX: u32 = 253;

/// `UnixSock.shutdown`: no more reads (`SHUT_RD`, or the peer's `SHUT_WR`).
pub const UNIX_SHUT_RD: u32 = 1;
/// `UnixSock.shutdown`: no more writes (`SHUT_WR`, or the peer's `SHUT_RD`).
pub const UNIX_SHUT_WR: u32 = 2;

/// Largest payload of a `PipeData` record.
pub const PIPE_DATA_MAX: u32 = 65536;

/// `Fd.flags`: close on exec.
pub const FD_F_CLOEXEC: u32 = 1;

/// Record types: the `type` of the `{u32 type; u32 len;}` record header.
#[repr(u32)]
pub enum RecordType {
    /// Image header; always the first record.
    Header = 1,
    /// Stream trailer with length and checksum; always the last record.
    Tail = 2,
    /// Filler that moves the next record to an offset the writer needs; readers skip it.
    #[raw(max = 8 + IMAGE_PAGE_SIZE + 8)]
    Pad = 3,
    /// A path or name (bytes, no NUL) following the record that announces it.
    #[raw(max = 8 + STRING_MAX)]
    String = 4,
    /// A reference to an object written earlier.
    ObjRef = 5,
    /// One task.
    Task = 16,
    /// The task's general-purpose registers.
    Regs = 17,
    /// Announces the task's extended state; an `Xsave` record follows.
    XsaveInfo = 18,
    /// The task's xsave area, `XsaveInfo.size` bytes in `XsaveInfo.format`.
    #[raw(max = 8 + 32768)]
    Xsave = 19,
    /// The task's TLS descriptors in the GDT.
    Tls = 20,
    /// Per-task signal state.
    TaskSignal = 21,
    /// An interrupted timed sleep to resume with what remained of it.
    RestartBlock = 22,
    /// The task's credentials; with `ngroups` above zero a `Groups` record follows.
    Creds = 23,
    /// Supplementary group ids, `Creds.ngroups` u32 words.
    #[raw(max = 8 + GROUPS_MAX * 4)]
    Groups = 24,
    /// An address space; its `Vma`, `PageRun` and `Auxv` records follow.
    Mm = 32,
    /// One memory mapping.
    Vma = 33,
    /// Announces a run of present pages; a `Pad` and a `Pages` record follow.
    PageRun = 34,
    /// Page contents; the payload starts at a multiple of the page size in the stream.
    #[raw(max = 8 + PAGES_PER_RECORD * IMAGE_PAGE_SIZE)]
    Pages = 35,
    /// The saved ELF auxiliary vector (`Mm.auxv_words` u64 words).
    #[raw(max = 8 + 1024)]
    Auxv = 36,
    /// A file descriptor table; `count` `Fd` records follow, then `locks` `FileLock` records of
/// the POSIX locks it owns. A table shared by processes (`CLONE_FILES`) is written with the
/// first of them, which took those locks; the others' record names it with a `count` and
/// `locks` of zero.
    FdTable = 48,
    /// One file descriptor.
    Fd = 49,
    /// An open file description; what follows is its kind's.
    File = 50,
    /// Root, cwd and umask; root then cwd follow in two `String` records.
    Fs = 51,
    /// An eventfd's counter and flags, after its `File` record.
    Eventfd = 52,
    /// The signals a signalfd takes, after its `File` record.
    Signalfd = 53,
    /// A pipe or a FIFO's pipe, after the `File` record of the first of its files; `PipeData`
    /// records with the bytes it holds follow.
    Pipe = 54,
    /// The pipe a pipe's file opens, after its `File` record (and the pipe's).
    PipeEnd = 55,
    /// Bytes a pipe holds, in the order a read returns them.
    #[raw(max = 8 + PIPE_DATA_MAX)]
    PipeData = 56,
    /// A timerfd's clock, timer and ticks, after its `File` record.
    Timerfd = 57,
    /// An epoll instance's interest list, after its `File` record; `watches` `EpollWatch`
    /// records follow.
    Epoll = 58,
    /// One watch of an epoll instance.
    EpollWatch = 59,
    /// A memfd, after the `File` record of the first of its files; its name in a `String`
    /// record and `runs` `DataRun` records follow.
    Memfd = 60,
    /// A run of bytes a memfd or unlinked file holds, between holes; `Data` records with its
    /// bytes follow.
    DataRun = 61,
    /// Bytes of a memfd, an unlinked file, a unix socket's message or a pty queue (its bytes,
    /// its line-end bitmap, its flip buffers' bytes), in order.
    #[raw(max = 8 + PIPE_DATA_MAX)]
    Data = 62,
    /// The memfd a memfd's file opens, after its `File` record (and the memfd's).
    MemfdFile = 63,
    /// Signal handlers; `count` `SigAction` records follow.
    Sighand = 64,
    /// One signal handler.
    SigAction = 65,
    /// Thread-group signal state and resource limits.
    Signal = 66,
    /// One pending signal.
    SigPending = 67,
    /// One POSIX timer.
    PosixTimer = 68,
    /// A regular file deleted while open, after the `File` record of the first of its files;
    /// the path of its directory in a `String` record and `runs` `DataRun` records follow.
    Unlinked = 69,
    /// The unlinked file a file opens, after its `File` record (and the unlinked file's).
    UnlinkedFile = 70,
    /// A file lock, after its file's `File` record or its fd table's `Fd` records.
    FileLock = 71,
    /// A unix socket pair, after the `File` record of the first of its sockets.
    UnixPair = 72,
    /// A unix socket of a pair, after its `File` record (and the pair's); `msgs` `UnixMsg`
    /// records follow.
    UnixSock = 73,
    /// One message a unix socket holds; `UnixCarried` records naming the files it carries and
    /// `Data` records with its bytes follow.
    UnixMsg = 74,
    /// The messages of a unix socket whose messages carry files, after the last task; `msgs`
    /// `UnixMsg` records follow, as its `UnixSock` record says.
    UnixQueue = 75,
    /// A file a unix socket's message carries (`SCM_RIGHTS`).
    UnixCarried = 76,
    /// The credentials a unix socket's message carries (`SCM_CREDENTIALS`).
    UnixCreds = 77,
    /// The name of a unix socket or of its closed peer, after its `UnixSock` record.
    UnixName = 78,
    /// The socket inode of a unix socket named by a path, after its `UnixName` record.
    UnixPath = 79,
    /// A unix98 pty, after the `File` record of its master.
    Pty = 80,
    /// Which pty a slave's file is of, after its `File` record.
    PtySlave = 81,
    /// What the readers of one side of a pty have not read, after its `Pty` record.
    PtyQueue = 82,
}

/// Image header: what was dumped, where, and with which ABI.
#[repr(C)]
#[record(Header, max = 512)]
pub struct Header {
    /// `MAGIC`.
    pub magic: u64,
    /// `FORMAT_VERSION` of the writer.
    pub version: u32,
    /// Architecture (`ARCH_X86_64`).
    pub arch: u32,
    /// ABI hash of the writer's schema.
    pub abi_hash: [u8; 32],
    /// Page size of the dumped tasks.
    pub page_size: u32,
    /// `HDR_*` flags.
    pub flags: u32,
    /// Wall-clock time of the dump, seconds since the epoch.
    pub time_sec: i64,
    /// Nanoseconds part of the dump time.
    pub time_nsec: u32,
    /// Zero.
    pub _pad0: u32,
    /// XCR0 of the dumping machine: xsave features user space may be using.
    pub xsave_features: u64,
    /// Size of the standard-format xsave area for those features.
    pub xsave_size: u32,
    /// Number of `Task` records in the image.
    pub task_count: u32,
    /// Kernel release (utsname release), NUL padded.
    pub release: [u8; 72],
    /// Machine name (utsname machine), NUL padded.
    pub machine: [u8; 16],
    /// AT_HWCAP of the dumping machine.
    pub hwcap: u64,
    /// AT_HWCAP2 of the dumping machine.
    pub hwcap2: u64,
}

/// Stream trailer; not included in its own length and checksum.
#[repr(C)]
#[record(Tail, max = 256)]
pub struct Tail {
    /// Bytes in the stream before this record.
    pub stream_len: u64,
    /// XXH64 (seed 0) of those bytes.
    pub checksum: u64,
    /// Number of records before this one.
    pub records: u64,
}

/// A reference to an object already written in the image.
#[repr(C)]
#[record(ObjRef, max = 64)]
pub struct ObjRef {
    /// The object's number (1-based).
    pub objref: u32,
    /// `OBJ_*` kind.
    pub kind: u32,
}

/// One task. Tasks come parents first; its `Creds`, `Regs`, `XsaveInfo`, `Tls`, `TaskSignal`
/// and the shared objects it is first to reference follow.
#[repr(C)]
#[record(Task, max = 1024)]
pub struct Task {
    /// The task's objref.
    pub objref: u32,
    /// Pid, in the pid namespace of the dumped tree's root.
    pub pid: i32,
    /// Thread group id, in the same namespace.
    pub tgid: i32,
    /// Objref of the parent task, 0 for the root of the tree.
    pub parent: u32,
    /// Process group id.
    pub pgid: i32,
    /// Session id.
    pub sid: i32,
    /// Signal sent to the parent on exit.
    pub exit_signal: i32,
    /// `TASK_STATE_*`.
    pub state: u32,
    /// Exit status of a zombie or an exited main thread; the stop signal (SIGSTOP, SIGTSTP,
    /// SIGTTIN or SIGTTOU) of a stopped task; 0 for a running one.
    pub exit_code: i32,
    /// `TASK_F_*` flags.
    pub flags: u32,
    /// personality(2) value.
    pub personality: u32,
    /// Executable name, NUL padded.
    pub comm: [u8; 16],
    /// Objref of the `Mm` (0 for none).
    pub mm: u32,
    /// Objref of the `FdTable`.
    pub files: u32,
    /// Objref of the `Fs`.
    pub fs: u32,
    /// Objref of the `Sighand`.
    pub sighand: u32,
    /// Objref of the `Signal`.
    pub signal: u32,
    /// clear_child_tid (CLONE_CHILD_CLEARTID address).
    pub clear_child_tid: u64,
    /// set_child_tid (CLONE_CHILD_SETTID address).
    pub set_child_tid: u64,
    /// Robust futex list head (set_robust_list).
    pub robust_list: u64,
    /// Length of the robust list head.
    pub robust_list_len: u64,
    /// Parent-death signal (PR_SET_PDEATHSIG).
    pub pdeath_signal: i32,
    /// Scheduling policy: SCHED_NORMAL, SCHED_FIFO, SCHED_RR, SCHED_BATCH or SCHED_IDLE.
    pub sched_policy: u32,
    /// Nice value, -20 to 19 (kept under a real-time policy too).
    pub nice: i32,
    /// Real-time priority: 1 to 99 under SCHED_FIFO and SCHED_RR, 0 otherwise.
    pub rt_priority: u32,
    /// With `TASK_F_AFFINITY`, the CPUs it may run on: bit `n % 64` of `cpus[n / 64]` is CPU n.
    pub cpus: [u64; 16],
    /// Address of the thread's registered rseq(2) area, 0 for none.
    pub rseq: u64,
    /// Length it was registered with (0 without an area).
    pub rseq_len: u32,
    /// Signature expected before its abort handlers (0 without an area).
    pub rseq_sig: u32,
    /// Timer slack in nanoseconds (PR_SET_TIMERSLACK; 0 under a real-time policy).
    pub timer_slack_ns: u64,
    /// What PR_SET_TIMERSLACK with 0 goes back to: the parent's slack at fork.
    pub default_timer_slack_ns: u64,
    /// I/O priority as ioprio_set(2) set it (class << 13 | level); 0 if it follows the nice
    /// value.
    pub ioprio: u32,
    /// Zero.
    pub _pad0: u32,
    /// With `TASK_F_SYSCALL_DISPATCH`: the address of the selector byte (0 for none: every
    /// call outside the region is dispatched), else 0.
    pub sud_selector: u64,
    /// With `TASK_F_SYSCALL_DISPATCH`: the start of the region whose calls are never
    /// dispatched, else 0.
    pub sud_offset: u64,
    /// With `TASK_F_SYSCALL_DISPATCH`: the length of that region, else 0.
    pub sud_len: u64,
    /// CPU time the task used, in nanoseconds: user, system, guest (at most user), on a CPU in
    /// all (sum_exec_runtime), then the user and system split of that which times(2) showed
    /// (together at most the time on a CPU).
    pub cputime: [u64; 6],
    /// For a process's leader (else 0): the CPU time its exited threads left, as `cputime`
    /// (the split: of the whole process's), then its reaped children's user, system and guest
    /// time (each below 2^62). Each of a process's user, system, guest and CPU times summed
    /// over its tasks and exited threads, and its user plus system time, stay below 2^62.
    pub group_cputime: [u64; 9],
}

/// General-purpose registers in the order of x86_64 `struct user_regs_struct`.
#[repr(C)]
#[record(Regs, max = 512)]
pub struct Regs {
    /// r15
    pub r15: u64,
    /// r14
    pub r14: u64,
    /// r13
    pub r13: u64,
    /// r12
    pub r12: u64,
    /// rbp
    pub bp: u64,
    /// rbx
    pub bx: u64,
    /// r11
    pub r11: u64,
    /// r10
    pub r10: u64,
    /// r9
    pub r9: u64,
    /// r8
    pub r8: u64,
    /// rax
    pub ax: u64,
    /// rcx
    pub cx: u64,
    /// rdx
    pub dx: u64,
    /// rsi
    pub si: u64,
    /// rdi
    pub di: u64,
    /// Syscall number being restarted, or -1 (as u64) outside a syscall.
    pub orig_ax: u64,
    /// rip
    pub ip: u64,
    /// cs selector
    pub cs: u64,
    /// rflags
    pub flags: u64,
    /// rsp
    pub sp: u64,
    /// ss selector
    pub ss: u64,
    /// FS base address.
    pub fs_base: u64,
    /// GS base address.
    pub gs_base: u64,
    /// ds selector
    pub ds: u64,
    /// es selector
    pub es: u64,
    /// fs selector
    pub fs: u64,
    /// gs selector
    pub gs: u64,
}

/// Announces the xsave area that follows in an `Xsave` record.
#[repr(C)]
#[record(XsaveInfo, max = 128)]
pub struct XsaveInfo {
    /// Features present in the area (its XSTATE_BV).
    pub features: u64,
    /// Size of the area in bytes.
    pub size: u32,
    /// `XSAVE_FMT_*` layout of the area.
    pub format: u32,
}

/// The three GDT TLS entries (GDT_ENTRY_TLS_MIN..), each as its two descriptor words.
#[repr(C)]
#[record(Tls, max = 128)]
pub struct Tls {
    /// Low and high words of each descriptor, entry by entry.
    pub desc: [u32; 6],
}

/// A timed sleep interrupted by the checkpoint (`Regs.ax` is `-ERESTART_RESTARTBLOCK`); follows
/// `Regs`. Without it such a sleep is issued again with its original arguments.
#[repr(C)]
#[record(RestartBlock, max = 256)]
pub struct RestartBlock {
    /// `RESTART_*`.
    pub kind: u32,
    /// The clock of a nanosleep (CLOCK_*), or the kernel's futex flags of a futex wait.
    pub clock: u32,
    /// Nanoseconds the sleep had left at the checkpoint.
    pub remaining_ns: i64,
    /// nanosleep: timespec type and rmtp address; poll: ufds address, nfds; futex: uaddr, val,
    /// bitset, uaddr2.
    pub args: [u64; 4],
}

/// A task's credentials. The ids are those the checkpointer's user namespace sees, which is
/// the task's own (checkpoint refuses a task of another user namespace), and mean the same in
/// the restarter's. The capability sets are bit masks of capability numbers.
#[repr(C)]
#[record(Creds, max = 256)]
pub struct Creds {
    /// Real, effective, saved set and filesystem user ids.
    pub uid: [u32; 4],
    /// Real, effective, saved set and filesystem group ids.
    pub gid: [u32; 4],
    /// Inheritable capabilities.
    pub cap_inheritable: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// Capability bounding set.
    pub cap_bset: u64,
    /// Ambient capabilities.
    pub cap_ambient: u64,
    /// `SECBIT_*` securebits.
    pub securebits: u32,
    /// Number of supplementary groups, at most `GROUPS_MAX`.
    pub ngroups: u32,
    /// `CREDS_F_*` flags.
    pub flags: u32,
    /// Audit login uid (/proc/PID/loginuid), with `CREDS_F_LOGINUID`.
    pub loginuid: u32,
    /// With `CREDS_F_LOGINUID`: the audit session id (/proc/PID/sessionid) as the
    /// checkpointing kernel numbered it, which only says which processes shared a session
    /// (they share one after restart); else 0. A thread's is its process's.
    pub sessionid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// Per-task signal state; `pending_count` per-task `SigPending` records follow.
#[repr(C)]
#[record(TaskSignal, max = 256)]
pub struct TaskSignal {
    /// Blocked signal mask (bit n-1 for signal n).
    pub blocked: u64,
    /// real_blocked mask (saved while in rt_sigtimedwait).
    pub real_blocked: u64,
    /// Mask to restore on return when TASK_F_RESTORE_SIGMASK is set.
    pub saved_sigmask: u64,
    /// sigaltstack base.
    pub altstack_sp: u64,
    /// sigaltstack size.
    pub altstack_size: u64,
    /// sigaltstack flags (SS_AUTODISARM...).
    pub altstack_flags: u32,
    /// Number of per-task pending signals that follow.
    pub pending_count: u32,
}

/// An address space. `vma_count` `Vma` records follow, each with its page runs, then an
/// `Auxv` record. Files it maps come before it, in `File` records. An address space shared by
/// processes (`CLONE_VM`) is written with the first of them; the others' record only names it:
/// every field but `objref` is zero, and nothing follows.
#[repr(C)]
#[record(Mm, max = 1024)]
pub struct Mm {
    /// The mm's objref.
    pub objref: u32,
    /// Number of `Vma` records that follow.
    pub vma_count: u32,
    /// Start of the text segment.
    pub start_code: u64,
    /// End of the text segment.
    pub end_code: u64,
    /// Start of the data segment.
    pub start_data: u64,
    /// End of the data segment.
    pub end_data: u64,
    /// Start of the brk heap.
    pub start_brk: u64,
    /// Current brk.
    pub brk: u64,
    /// Start of the main stack (as set at exec).
    pub start_stack: u64,
    /// Start of the argument strings.
    pub arg_start: u64,
    /// End of the argument strings.
    pub arg_end: u64,
    /// Start of the environment strings.
    pub env_start: u64,
    /// End of the environment strings.
    pub env_end: u64,
    /// Base of the mmap area.
    pub mmap_base: u64,
    /// Address of the vDSO text (mm->context.vdso).
    pub vdso: u64,
    /// Objref of the executable's `File` (0 for none).
    pub exe_file: u32,
    /// Dumpable setting (PR_GET_DUMPABLE): SUID_DUMP_DISABLE (0) or SUID_DUMP_USER (1).
    /// SUID_DUMP_ROOT (2), which dumps core as root, is refused at restart.
    pub dumpable: u32,
    /// Number of u64 words in the `Auxv` record.
    pub auxv_words: u32,
    /// `MM_F_*` flags.
    pub flags: u32,
    /// /proc/PID/coredump_filter: a mask of 9 bits.
    pub coredump_filter: u32,
    /// Zero.
    pub _pad0: u32,
}

/// One memory mapping; its page runs follow.
#[repr(C)]
#[record(Vma, max = 512)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// Address after the last byte.
    pub end: u64,
    /// Offset in the file, in pages.
    pub pgoff: u64,
    /// `VMA_*` flags.
    pub flags: u64,
    /// PROT_* bits.
    pub prot: u32,
    /// `VMA_KIND_*`.
    pub kind: u32,
    /// Objref of the mapped `File` (0 for none).
    pub file: u32,
    /// Objref of an `Mm` restored earlier (0 for none) whose mapping at `start` (else at
    /// `end` - 1) this one is a copy of, as fork(2) copies a parent's: a private mapping with
    /// the same flags, protection, file and offset, trimmed to `start..end` (or, memory only,
    /// widened to it on one side, the rest zeros), with the pages of that mapping, shared
    /// copy-on-write. Its `PageRun` records give only the pages that differ: the
    /// process's own and, with `PAGE_RUN_DROP`, those it does not have (zero again, or the
    /// file's). An mm's copied mappings come first, in address order, before its other ones;
    /// the mapping each copies starts at or above the end of the one before. A mapping's
    /// `PageRun` records follow it up to the next record of another type, so that the writer
    /// needs no second pass over the page tables.
    pub copy_of: u32,
    /// Size in bytes of the shared memory object behind a `VMA_KIND_SHARED_ANON` mapping,
    /// which `file` then names by objref (0 and 0 in older images: an object of its own, the
    /// size of the mapping).
    pub size: u64,
    /// With `copy_of`, zero, or the address in that `Mm` of what this mapping has at `start`:
    /// one of the two moved its mapping with mremap(2) since the fork. The mapping of
    /// `copy_of` there covers `copy_from` to `copy_from + end - start`, and this one is a
    /// copy of that part, made at `start` without its pages: its `PageRun` records give all
    /// of them, those it shares with `PAGE_RUN_SHARE`.
    pub copy_from: u64,
}

/// `PageRun.flags`: the pages are dropped from a copied mapping (`Vma.copy_of`): they
/// read as zeros again, or as the file; no data follows.
pub const PAGE_RUN_DROP: u32 = 1;

/// `PageRun.flags`: the pages are those the mm `PageRun.from` (an `Mm` restored earlier, not
/// this one) has at the same addresses, or from `PageRun.from_addr`, which this copied mapping
/// (`Vma.copy_of`) shares copy-on-write with a relative; no data follows. Restart shares each
/// page where the rmap will find it in the copy (its mapping was copied from one copied from
/// that mm's, or from one in the same tree of anon_vmas), and copies its contents where not.
pub const PAGE_RUN_SHARE: u32 = 2;

/// Announces `npages` present pages at `addr`; a `Pad` then a `Pages` record follow, but for
/// a run of dropped or shared pages.
#[repr(C)]
#[record(PageRun, max = 128)]
pub struct PageRun {
    /// Address of the first page.
    pub addr: u64,
    /// Number of pages (at most `PAGES_PER_RECORD`).
    pub npages: u32,
    /// `PAGE_RUN_*` flags.
    pub flags: u32,
    /// With `PAGE_RUN_SHARE`, objref of the `Mm` whose pages these are; else zero.
    pub from: u32,
    /// Zero.
    pub _pad0: u32,
    /// With `PAGE_RUN_SHARE`, zero, or where `from` has the first page, if not at `addr`
    /// (one of the two moved its mapping with mremap(2) since the fork); else zero.
    pub from_addr: u64,
}

/// A file descriptor table; `count` `Fd` records follow. A table shared by processes
/// (`CLONE_FILES`) is written with the first of them; the others' record names it with a
/// `count` of zero.
#[repr(C)]
#[record(FdTable, max = 128)]
pub struct FdTable {
    /// The table's objref.
    pub objref: u32,
    /// Number of `Fd` records that follow.
    pub count: u32,
    /// Size of the table (max_fds) at dump time.
    pub max_fds: u32,
    /// Number of `FileLock` records that follow the `Fd` records.
    pub locks: u32,
}

/// One file descriptor.
#[repr(C)]
#[record(Fd, max = 128)]
pub struct Fd {
    /// The descriptor number.
    pub fd: i32,
    /// `FD_F_*` flags.
    pub flags: u32,
    /// Objref of the open file.
    pub file: u32,
    /// Zero.
    pub _pad0: u32,
}

/// An open file description. What follows is its kind's: the path in a `String` record for a
/// file reopened by path, an `Eventfd`, `Signalfd` or `Timerfd` record for such a file, a
/// `Pipe` record (the first time) and a `PipeEnd` record for a pipe's file (after its path
/// for a FIFO's), an `Epoll` record and its watches for an epoll instance. Then `locks`
/// `FileLock` records of the flock() and OFD locks the file owns.
#[repr(C)]
#[record(File, max = 512)]
pub struct File {
    /// The file's objref.
    pub objref: u32,
    /// `FILE_KIND_*`.
    pub kind: u32,
    /// f_flags (O_* open flags).
    pub f_flags: u32,
    /// f_mode (FMODE_READ, FMODE_WRITE...).
    pub f_mode: u32,
    /// File position.
    pub pos: i64,
    /// Device of the inode (new_encode_dev).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size at dump time, to detect a changed file.
    pub size: i64,
    /// Modification time, seconds.
    pub mtime_sec: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u32,
    /// i_mode (type and permission bits).
    pub i_mode: u32,
    /// Device number of a device inode (new_encode_dev).
    pub rdev: u64,
    /// Number of `FileLock` records after the kind's own.
    pub locks: u32,
    /// Zero.
    pub _pad0: u32,
}

/// An eventfd's state, after its `File` record.
#[repr(C)]
#[record(Eventfd, max = 64)]
pub struct Eventfd {
    /// The counter.
    pub count: u64,
    /// The `EFD_*` flags it was created with (only `EFD_SEMAPHORE` is kept: the others are
    /// the file's and the fd's, saved with them).
    pub flags: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A unix98 pty, after its master's `File` record and path: its index, the slave's termios
/// (which the master's termios ioctls reach too), its window size and what its line
/// discipline and packet mode hold. Two `PtyQueue` records follow.
#[repr(C)]
#[record(Pty, max = 128)]
pub struct Pty {
    /// Its index, the N of `/dev/pts/N`.
    pub index: u32,
    /// `PTY_*`.
    pub flags: u32,
    /// The slave's input modes (`c_iflag`).
    pub iflag: u32,
    /// The slave's output modes (`c_oflag`).
    pub oflag: u32,
    /// The slave's control modes (`c_cflag`).
    pub cflag: u32,
    /// The slave's local modes (`c_lflag`).
    pub lflag: u32,
    /// The slave's input speed.
    pub ispeed: u32,
    /// The slave's output speed.
    pub ospeed: u32,
    /// The output column of the slave's line discipline, from which tabs are expanded.
    pub column: u32,
    /// The column the slave's line being edited starts at, back to which a tab is erased.
    pub canon_column: u32,
    /// Window size: rows.
    pub row: u16,
    /// Window size: columns.
    pub col: u16,
    /// Window size: width in pixels.
    pub xpixel: u16,
    /// Window size: height in pixels.
    pub ypixel: u16,
    /// The slave's control characters (`c_cc`).
    pub cc: [u8; 19],
    /// The `c_line` of the slave's termios, which `TCSETS` may set to anything: it does not
    /// change the line discipline, which is N_TTY.
    pub line: u8,
    /// The packet-mode events the master has not read yet (`PTY_PKTSTATUS`).
    pub pktstatus: u8,
    /// Zero.
    pub _pad0: u8,
    /// The permission bits of the slave's node in devpts (`/dev/pts/N`).
    pub mode: u16,
    /// The node's owner, in the checkpointer's user namespace.
    pub uid: u32,
    /// The node's group, likewise.
    pub gid: u32,
}

/// What the readers of one side of a pty have not read yet, after its `Pty` record: first
/// the slave's (input), then the master's (output, which the master's line discipline takes
/// raw). `Data` records with, in this order, the `len` bytes its line discipline holds, the
/// `(canon + 7) / 8` bytes of the bitmap of which of the first `canon` of them end a line
/// (bit `i % 8` of byte `i / 8`, from the lowest, for byte `i`), the `flip` bytes its flip
/// buffers hold, and the `echo` bytes of echoes its line discipline has not written to the
/// other side yet, follow; each record holds bytes of one of the four only.
#[repr(C)]
#[record(PtyQueue, max = 64)]
pub struct PtyQueue {
    /// Bytes its line discipline processed, from the oldest (`PTY_QUEUE_READ_MAX` at most).
    pub len: u32,
    /// Of which those of complete lines, in canonical mode; the last of them ends a line.
    pub canon: u32,
    /// Bytes after them that its line discipline has not taken yet (`PTY_QUEUE_FLIP_MAX`
    /// at most).
    pub flip: u32,
    /// Of which flow control (`IXON`) has looked at already, from the first.
    pub lookahead: u32,
    /// `PTY_QUEUE_PUSH`, `PTY_QUEUE_LNEXT`, `PTY_QUEUE_ERASING`.
    pub flags: u32,
    /// The memory its flip buffers use (the kernel's `mem_used`, at most
    /// `PTY_QUEUE_FLIP_MAX / 2`), and so the room a writer through `OPOST` has: restart
    /// makes them use as much.
    pub used: u32,
    /// The bytes the last of them has room for (at most twice `used`), which a raw writer
    /// fills before it needs a new one (granted only while they use at most their limit):
    /// restart gives it as much.
    pub room: u32,
    /// Bytes of echoes its line discipline has not written to the other side yet, because
    /// the other side's buffers were full (`PTY_QUEUE_READ_MAX` at most): the line
    /// discipline's own encoding, characters and its echo operations (`0xff` and an
    /// operation code), each whole.
    pub echo: u32,
    /// Of which those it writes as soon as there is room (its echo commit): all, as the line
    /// discipline commits its echoes at the end of each receive; checkpoint saves and restart
    /// takes no other, the field kept for a line discipline that would leave some.
    pub echo_commit: u32,
    /// Of which those it writes before a write of its own (up to its echo mark): all, as it
    /// marks each echo it adds; likewise.
    pub echo_mark: u32,
    /// Zero.
    pub _pad0: u32,
    /// Zero.
    pub _pad1: u32,
}

/// Which pty a file of a slave is of, after its `File` record and path.
#[repr(C)]
#[record(PtySlave, max = 64)]
pub struct PtySlave {
    /// The objref of the `File` of the pty's master.
    pub master: u32,
    /// Zero.
    pub _pad0: u32,
}

/// The signals a signalfd takes, after its `File` record.
#[repr(C)]
#[record(Signalfd, max = 64)]
pub struct Signalfd {
    /// Bit `n - 1` for signal `n` (never SIGKILL or SIGSTOP).
    pub mask: u64,
}

/// A pipe or a FIFO's pipe, after the `File` record of the first of its files in the image:
/// its capacity and the bytes it holds, which `PipeData` records of `len` bytes in all follow.
#[repr(C)]
#[record(Pipe, max = 64)]
pub struct Pipe {
    /// The pipe's objref.
    pub objref: u32,
    /// Its capacity in bytes, as `F_GETPIPE_SZ` reports it: a power of two pages.
    pub size: u32,
    /// The bytes it holds, at most `size`.
    pub len: u32,
    /// Its owner, in the user namespace of the checkpointer (the overflow uid without a
    /// mapping there); zero for a FIFO, whose owner is its inode's.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A memfd, after the `File` record of the first of its files in the image: its size, owner,
/// mode and seals; its name (`memfd:` and the name `memfd_create(2)` took) in a `String`
/// record and `runs` `DataRun` records, in order, follow.
#[repr(C)]
#[record(Memfd, max = 64)]
pub struct Memfd {
    /// The memfd's objref.
    pub objref: u32,
    /// `MEMFD_SEAL_*`.
    pub seals: u32,
    /// Its size in bytes.
    pub size: u64,
    /// The `DataRun` records that follow.
    pub runs: u64,
    /// Its permission bits (07777).
    pub mode: u32,
    /// Its owner, in the user namespace of the checkpointer.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A run of bytes a memfd or unlinked file holds, after its `Memfd` or `Unlinked` record or
/// the run before: `Data` records of `len` bytes in all follow. Runs are in order, do not
/// overlap and lie within the file's size; what lies between them is a hole.
#[repr(C)]
#[record(DataRun, max = 64)]
pub struct DataRun {
    /// The offset of its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// Which memfd a memfd's file opens, after its `File` record.
#[repr(C)]
#[record(MemfdFile, max = 64)]
pub struct MemfdFile {
    /// The objref of the memfd.
    pub memfd: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A regular file deleted while open, after the `File` record of the first of its files in
/// the image: its size, owner and mode; the path of its directory from the task's root in a
/// `String` record and `runs` `DataRun` records, in order, follow. Restart makes it again
/// there, unlinked (`O_TMPFILE`).
#[repr(C)]
#[record(Unlinked, max = 64)]
pub struct Unlinked {
    /// The file's objref.
    pub objref: u32,
    /// `UNLINKED_*`.
    pub flags: u32,
    /// Its size in bytes.
    pub size: u64,
    /// The `DataRun` records that follow.
    pub runs: u64,
    /// Its permission bits (07777).
    pub mode: u32,
    /// Its owner, in the user namespace of the checkpointer.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A file lock: one a file owns, after its `File` record (`LOCK_FLOCK`, `LOCK_OFD`), or a
/// POSIX lock an fd table owns, after its `Fd` records (`LOCK_POSIX`).
#[repr(C)]
#[record(FileLock, max = 64)]
pub struct FileLock {
    /// `LOCK_*`.
    pub kind: u32,
    /// `LOCK_READ` or `LOCK_WRITE`.
    pub mode: u32,
    /// The first byte locked.
    pub start: i64,
    /// The last byte locked, `i64::MAX` (OFFSET_MAX) for up to the end of the file however
    /// long it grows; a flock() lock is from 0 to there.
    pub end: i64,
    /// `LOCK_POSIX`: a descriptor of the table for the open file it was taken through;
    /// zero for the others.
    pub fd: i32,
    /// Zero.
    pub _pad0: u32,
}

/// A unix socket pair (`socketpair(2)`, or a connection that `connect(2)` and `accept(2)`
/// made), or a socket connected to none, after the `File` record of the first of its sockets
/// in the image.
#[repr(C)]
#[record(UnixPair, max = 64)]
pub struct UnixPair {
    /// The pair's objref.
    pub objref: u32,
    /// `SOCK_STREAM` (1), `SOCK_DGRAM` (2) or `SOCK_SEQPACKET` (5).
    pub sock_type: u32,
    /// `UNIX_PAIR_*`: which of its sockets have files.
    pub peer: u32,
    /// Zero.
    pub _pad0: u32,
}

/// Which socket of a pair a unix socket's file is, and its state, after its `File` record:
/// `msgs` `UnixMsg` records follow, each with the bytes of one message its receive queue
/// holds, which its peer wrote. A listener's `msgs` are the connections it has not accepted
/// yet: after its name, for each in the order `accept()` takes them, the `UnixSock` record of
/// the socket `accept()` would give (a socket of the pair whose other is the client, after
/// the `UnixPair` record if it is the first of the pair in the image), with its messages.
#[repr(C)]
#[record(UnixSock, max = 128)]
pub struct UnixSock {
    /// The objref of its pair.
    pub pair: u32,
    /// Which socket of it: 0 or 1.
    pub end: u32,
    /// `UNIX_PASSCRED`, `UNIX_PASSPIDFD`, `UNIX_SNDBUF_LOCK`, `UNIX_RCVBUF_LOCK`,
    /// `UNIX_QUEUE_LATER`, `UNIX_BOUND`, `UNIX_LISTENING`, `UNIX_NAMED`, `UNIX_PEER_NAMED`,
    /// `UNIX_ESTABLISHED`, `UNIX_CONNECTED`.
    pub flags: u32,
    /// `UNIX_SHUT_*`.
    pub shutdown: u32,
    /// Its pending error (`SO_ERROR`): 0 or `ECONNRESET`.
    pub err: i32,
    /// `SO_SNDBUF`, restored with `UNIX_SNDBUF_LOCK`.
    pub sndbuf: i32,
    /// `SO_RCVBUF`, restored with `UNIX_RCVBUF_LOCK`.
    pub rcvbuf: i32,
    /// `SO_RCVLOWAT`.
    pub rcvlowat: i32,
    /// `SO_PEEK_OFF`: negative for none.
    pub peek_off: i32,
    /// Its owner, in the user namespace of the checkpointer.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// The objref of the main thread of the process whose credentials `SO_PEERCRED`
    /// reports: the maker of the pair; for a connection, the process that connected (on the
    /// accepted socket) and the one that made the listener listen (on the other); 0 for a
    /// socket connected to none.
    pub creator: u32,
    /// The `UnixMsg` records that follow (in its `UnixQueue` with `UNIX_QUEUE_LATER`); a
    /// listener's connections not accepted yet.
    pub msgs: u32,
    /// Zero.
    pub _pad0: u32,
    /// The bytes of its messages in all.
    pub bytes: u64,
    /// `SO_RCVTIMEO` in microseconds, `u64::MAX` for none.
    pub rcvtimeo: u64,
    /// `SO_SNDTIMEO` likewise.
    pub sndtimeo: u64,
}

/// One message a unix socket holds, after its `UnixSock` record or its `UnixQueue`; a
/// `UnixCreds` record if it carries credentials (only in a `UnixQueue`), `files`
/// `UnixCarried` records and `Data` records with its `len` bytes follow. A stream socket's
/// messages are the buffers its peer's writes made.
#[repr(C)]
#[record(UnixMsg, max = 64)]
pub struct UnixMsg {
    /// Its length in bytes.
    pub len: u32,
    /// The files it carries (`SCM_RIGHTS`): at most `UNIX_CARRIED_MAX`, and only in a
    /// `UnixQueue`.
    pub files: u32,
}

/// The messages of a unix socket with `UNIX_QUEUE_LATER`, after the last task and the
/// `File` records of the files they carry that no earlier record wrote.
#[repr(C)]
#[record(UnixQueue, max = 64)]
pub struct UnixQueue {
    /// The objref of its pair.
    pub pair: u32,
    /// Which socket of it: 0 or 1.
    pub end: u32,
}

/// The credentials a unix socket's message carries (`SCM_CREDENTIALS`), right after its
/// `UnixMsg` record in a `UnixQueue`: what a reader with `SO_PASSCRED` gets with it.
#[repr(C)]
#[record(UnixCreds, max = 64)]
pub struct UnixCreds {
    /// The objref of the task whose pid they name, whose `Task` record came before.
    pub sender: u32,
    /// The user id, in the checkpointer's user namespace.
    pub uid: u32,
    /// The group id, likewise.
    pub gid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A name after a `UnixSock` record: the one its socket is bound to with `UNIX_BOUND`, the one
/// it has with `UNIX_NAMED`, then its closed peer's with `UNIX_PEER_NAMED` or the one of the
/// socket it is connected to with `UNIX_CONNECTED`. An abstract name is a NUL, then its bytes;
/// a path has no NUL, and is followed by a `UnixPath` record, but for a closed peer's.
#[repr(C)]
#[record(UnixName, max = 128)]
pub struct UnixName {
    /// The bytes of `name`, from 1 to `UNIX_NAME_MAX`.
    pub len: u32,
    /// Its `listen()` backlog with `UNIX_LISTENING`, on the first, else 0.
    pub backlog: u32,
    /// The name (`sun_path`), zero after `len` bytes.
    pub name: [u8; 108],
    /// Zero.
    pub _pad0: u32,
}

/// The socket inode of a unix socket named by a path, after its `UnixName` record: the one
/// `bind()` made, or, with `UNIX_NAMED`, its listener's, or, after the name of the socket it
/// is connected to (`UNIX_CONNECTED`), that one's. A `String` record follows with where it
/// is, from the root of the task that holds the socket.
#[repr(C)]
#[record(UnixPath, max = 64)]
pub struct UnixPath {
    /// Its inode number.
    pub ino: u64,
    /// Its filesystem's device (`new_encode_dev()`).
    pub dev: u64,
    /// Its mode: `S_IFSOCK` and the permission bits.
    pub mode: u32,
    /// Its owner, in the user namespace of the checkpointer.
    pub uid: u32,
    /// Its group, likewise.
    pub gid: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A file a unix socket's message carries, after its `UnixMsg` record (and `UnixCreds`).
#[repr(C)]
#[record(UnixCarried, max = 64)]
pub struct UnixCarried {
    /// The objref of the file, which an earlier `File` record wrote.
    pub file: u32,
    /// Zero.
    pub _pad0: u32,
}

/// Which unlinked file a file opens, after its `File` record.
#[repr(C)]
#[record(UnlinkedFile, max = 64)]
pub struct UnlinkedFile {
    /// The objref of the unlinked file.
    pub unlinked: u32,
    /// Zero.
    pub _pad0: u32,
}

/// A timerfd's clock, timer and expiries not yet read, after its `File` record.
#[repr(C)]
#[record(Timerfd, max = 64)]
pub struct Timerfd {
    /// Nanoseconds to the next expiry, or with `TIMERFD_F_ABSTIME` the expiry on the clock
    /// as the checkpointer's time namespace sees it; zero if the timer is disarmed.
    pub value: i64,
    /// The period in nanoseconds; zero for a one-shot timer.
    pub interval: i64,
    /// Expiries not yet read.
    pub ticks: u64,
    /// The clock: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME or an alarm clock.
    pub clockid: u32,
    /// `TIMERFD_F_*`.
    pub flags: u32,
}

/// An epoll instance's interest list, after its `File` record.
#[repr(C)]
#[record(Epoll, max = 64)]
pub struct Epoll {
    /// The `EpollWatch` records that follow.
    pub watches: u32,
    /// Zero.
    pub _pad0: u32,
}

/// One watch of an epoll instance: a file it watches and the events it reports of it.
#[repr(C)]
#[record(EpollWatch, max = 64)]
pub struct EpollWatch {
    /// Objref of the file watched, written before the instance's `File` record.
    pub file: u32,
    /// The fd the file was added with (`epoll_ctl(2)`'s `fd`), which names the watch even
    /// after that fd was closed or reused.
    pub fd: i32,
    /// The events it waits for, as `epoll_ctl(2)` takes them (EPOLLIN...), with `EPOLL_ERR`
    /// and `EPOLL_HUP`; or a disarmed one-shot watch: only `EPOLL_PRIVATE` bits, with
    /// `EPOLL_ONESHOT`.
    pub events: u32,
    /// Zero.
    pub _pad0: u32,
    /// What `epoll_wait(2)` reports with its events.
    pub data: u64,
}

/// Which pipe a pipe's file opens, after its `File` record; the file's access mode says
/// which end.
#[repr(C)]
#[record(PipeEnd, max = 64)]
pub struct PipeEnd {
    /// The objref of the pipe.
    pub pipe: u32,
    /// `PIPE_END_*`.
    pub flags: u32,
}

/// Root, cwd and umask; root then cwd follow in two `String` records.
#[repr(C)]
#[record(Fs, max = 128)]
pub struct Fs {
    /// The fs_struct's objref.
    pub objref: u32,
    /// File mode creation mask.
    pub umask: u32,
}

/// Signal handlers; `count` `SigAction` records follow (default handlers are not written).
/// Handlers shared by processes (`CLONE_SIGHAND`) are written with the first of them; the
/// others' record names them with a `count` of zero.
#[repr(C)]
#[record(Sighand, max = 128)]
pub struct Sighand {
    /// The sighand's objref.
    pub objref: u32,
    /// Number of `SigAction` records that follow.
    pub count: u32,
}

/// One signal's disposition, as in the kernel's `struct sigaction`.
#[repr(C)]
#[record(SigAction, max = 128)]
pub struct SigAction {
    /// Signal number.
    pub signo: u32,
    /// SA_* flags.
    pub flags: u32,
    /// Handler address, or SIG_DFL (0) / SIG_IGN (1).
    pub handler: u64,
    /// sa_restorer address.
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// Thread-group signal state and resource limits; `pending_count` shared `SigPending` records
/// follow.
#[repr(C)]
#[record(Signal, max = 1024)]
pub struct Signal {
    /// The signal_struct's objref.
    pub objref: u32,
    /// `SIGNAL_F_*` flags.
    pub flags: u32,
    /// Resource limits: `rlim[2 * n]` is rlim_cur and `rlim[2 * n + 1]` rlim_max of limit n.
    pub rlim: [u64; 32],
    /// With `SIGNAL_F_STOPPED`: the stop signal wait(2) reports to the parent, 0 once it did;
    /// otherwise 0.
    pub group_exit_code: i32,
    /// Number of shared pending signals that follow.
    pub pending_count: u32,
    /// Interval timers (setitimer(2)), `ITIMER_REAL`, `ITIMER_VIRTUAL` then `ITIMER_PROF`:
    /// `itimer[2 * n]` is the time left and `itimer[2 * n + 1]` the interval of timer n, in
    /// nanoseconds (at most `i64::MAX`). A real timer with no time left but an interval fired
    /// and is armed again when its SIGALRM is taken.
    pub itimer: [u64; 6],
    /// /proc/PID/oom_score_adj, -1000 to 1000.
    pub oom_score_adj: i32,
    /// The lowest oom_score_adj the process may set without CAP_SYS_RESOURCE (the value last
    /// set by a writer that had it), at most `oom_score_adj`.
    pub oom_score_adj_min: i32,
    /// Number of `PosixTimer` records that follow the pending signals.
    pub posix_timers: u32,
    /// The ID timer_create(2) tries first for the process's next timer.
    pub next_posix_timer_id: u32,
    /// The objref of the `File` of the master of the pty whose slave is the process's
    /// controlling terminal; 0 for none (or the caller's, in a session outside the tree).
    pub tty: u32,
    /// With `tty`, the terminal's foreground process group (`TIOCGPGRP`), a group of the
    /// tree in the process's session.
    pub tty_pgrp: i32,
}

/// One POSIX timer (timer_create(2)) of the process. A pending signal of the timer is not
/// among the `SigPending` records: it is this record's, with `POSIX_TIMER_F_QUEUED`.
#[repr(C)]
#[record(PosixTimer, max = 128)]
pub struct PosixTimer {
    /// The timer ID, at most `i32::MAX`.
    pub id: u32,
    /// `CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` or `CLOCK_TAI`.
    pub clock: u32,
    /// `sigev_notify`: `SIGEV_SIGNAL`, `SIGEV_NONE`, `SIGEV_THREAD` or
    /// `SIGEV_SIGNAL | SIGEV_THREAD_ID`.
    pub notify: u32,
    /// With `SIGEV_THREAD_ID`, the thread the signal goes to, in the process's pid namespace.
    pub tid: u32,
    /// `sigev_signo`.
    pub signo: u32,
    /// `POSIX_TIMER_DISARMED`, `POSIX_TIMER_ARMED` or `POSIX_TIMER_REARM`.
    pub state: u32,
    /// `sigev_value`.
    pub value: u64,
    /// Armed: the time left in nanoseconds or, with `POSIX_TIMER_F_ABSOLUTE`, the expiry on the
    /// clock (at most `i64::MAX`); 0 when disarmed.
    pub expires: u64,
    /// The interval in nanoseconds, at most `i64::MAX`; 0 when disarmed.
    pub interval: u64,
    /// Expiries counted since the signal was last armed again (-1: none yet).
    pub overrun: i64,
    /// What timer_getoverrun(2) reports.
    pub overrun_last: i64,
    /// `POSIX_TIMER_F_*` flags.
    pub flags: u32,
    /// With `POSIX_TIMER_F_QUEUED`, the pending signal's `si_overrun`.
    pub pending_overrun: u32,
}

/// One pending signal with its siginfo.
#[repr(C)]
#[record(SigPending, max = 256)]
pub struct SigPending {
    /// `SIGPENDING_*`: per-task or shared.
    pub shared: u32,
    /// Signal number.
    pub signo: u32,
    /// The siginfo in the user `siginfo_t` layout (128 bytes).
    pub info: [u8; 128],
}
