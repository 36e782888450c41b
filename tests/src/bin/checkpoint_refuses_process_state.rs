//! State a distribution kernel lets a process create, and restart does not set again yet, is
//! refused with EOPNOTSUPP and a log line naming the task and the state, and the target runs on
//! with it: an LDT entry (modify_ldt()), I/O port permissions (ioperm()) and an I/O privilege
//! level (iopl()), a NUMA policy of the task (set_mempolicy()), of a private mapping and of
//! shared memory (mbind()), KSM merging all its memory (PR_SET_MEMORY_MERGE), a thread, process
//! or session keyring of its own, a default request_key() keyring, a UTS, IPC, mount, network,
//! cgroup or time namespace other than the checkpointer's, SysV semaphore adjustments to undo
//! (SEM_UNDO) or an undo list shared with another process (CLONE_SYSVSEM), a task it traces,
//! a session led by the target whose controlling terminal is a pty no process of the tree
//! holds a file of (the test took its master with pidfd_getfd(), the target closed its own),
//! a session led by the target that holds an orphan outside the tree, and a child left in
//! another cgroup than the target's. No reason to refuse: the terminal of a session outside
//! the tree, a tree wholly in one cgroup, and the user session keyring, which a task joins by
//! naming `@s` (restart's task joins it again).

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use cr_tests::mem::{anon, mmap, Mapping};
use cr_tests::outside::take_fd;
use cr_tests::target::dry_run;
use cr_tests::tree::{wake_and_reap, Kid, Ready};
use cr_tests::{check_eq, check_os, os_error, pass, wait_restored, Check, Refusal, Target};

const PAGE: usize = 4096;
/// The port read to prove port I/O still works (the POST diagnostic port: reads are harmless).
const PORT: u16 = 0x80;
/// `get_mempolicy()`: the policy of the mapping at `addr`.
const MPOL_F_ADDR: libc::c_ulong = 2;
/// keyctl() operations and special keyring ids, from <linux/keyctl.h>.
const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SET_REQKEY_KEYRING: libc::c_long = 14;
const KEY_SPEC_THREAD_KEYRING: libc::c_long = -1;
const KEY_SPEC_PROCESS_KEYRING: libc::c_long = -2;
const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
const KEY_REQKEY_DEFL_NO_CHANGE: libc::c_long = -1;
const KEY_REQKEY_DEFL_USER_KEYRING: libc::c_long = 4;

/// What the target set up, for its check after the refusal.
static KEPT: AtomicUsize = AtomicUsize::new(0);
/// The child a target forked, woken and reaped by its check after the refusal.
static KID: AtomicI32 = AtomicI32::new(0);
/// The cgroup a target moves into, apart from its child.
const CGROUP: &str = "/sys/fs/cgroup/cr-refused";
/// The task the target traces, forked by the test beforehand.
static TRACEE: AtomicI32 = AtomicI32::new(0);

/// `struct user_desc` of <asm/ldt.h>; `flags` holds seg_32bit (bit 0), contents (bits 1-2),
/// read_exec_only (3), limit_in_pages (4), seg_not_present (5) and useable (6).
#[repr(C)]
#[derive(Default)]
struct UserDesc {
    entry_number: u32,
    base_addr: u32,
    limit: u32,
    flags: u32,
}

fn ldt() -> Check {
    let desc = UserDesc {
        entry_number: 0,
        limit: 0xfffff,
        flags: 1 | 1 << 4 | 1 << 6,
        ..UserDesc::default()
    };
    // SAFETY: writes one LDT entry from our own descriptor.
    check_os(
        unsafe {
            libc::syscall(
                libc::SYS_modify_ldt,
                1,
                &desc as *const UserDesc,
                std::mem::size_of::<UserDesc>(),
            )
        },
        "modify_ldt",
    )
}

fn ldt_works() -> Check {
    let mut table = [0u8; 64];
    // SAFETY: reads the LDT into our own buffer.
    let n = unsafe { libc::syscall(libc::SYS_modify_ldt, 0, table.as_mut_ptr(), table.len()) };
    check_os(n, "modify_ldt read")?;
    // An entry is 8 bytes; the one written holds the limit's low 16 bits first.
    check_eq(
        "the LDT entry's low limit",
        (n >= 8, &table[..2]),
        (true, &[0xff, 0xff][..]),
    )
}

/// Reads [`PORT`]: a task without the permission gets SIGSEGV.
fn port_read() {
    // SAFETY: one byte read from an I/O port this task was given.
    unsafe { std::arch::asm!("in al, dx", in("dx") PORT, out("al") _) };
}

fn ioperm() -> Check {
    // SAFETY: no pointers.
    check_os(unsafe { libc::ioperm(PORT.into(), 1, 1) }, "ioperm")?;
    port_read();
    Ok(())
}

fn iopl() -> Check {
    // SAFETY: no pointers.
    check_os(unsafe { libc::syscall(libc::SYS_iopl, 3) }, "iopl")?;
    port_read();
    Ok(())
}

fn port_works() -> Check {
    port_read();
    Ok(())
}

/// Node 0, the one node every machine has.
const NODE0: libc::c_ulong = 1;

fn set_mempolicy() -> Check {
    // SAFETY: a node mask of one word.
    check_os(
        unsafe { libc::syscall(libc::SYS_set_mempolicy, libc::MPOL_BIND, &NODE0, 64) },
        "set_mempolicy",
    )
}

/// The policy mode of the task, or of the mapping at `addr`.
fn policy(addr: usize) -> Result<libc::c_int, String> {
    let mut mode: libc::c_int = -1;
    let flags = if addr == 0 { 0 } else { MPOL_F_ADDR };
    // SAFETY: `mode` is ours; no node mask asked for.
    check_os(
        unsafe {
            libc::syscall(
                libc::SYS_get_mempolicy,
                &mut mode,
                std::ptr::null_mut::<libc::c_ulong>(),
                0,
                addr,
                flags,
            )
        },
        "get_mempolicy",
    )?;
    Ok(mode)
}

fn task_policy_works() -> Check {
    check_eq("the task's policy", policy(0)?, libc::MPOL_BIND)
}

/// Binds `m` to node 0 and keeps its address.
fn bind(m: Mapping) -> Check {
    // SAFETY: our own mapping, a node mask of one word.
    check_os(
        unsafe {
            libc::syscall(
                libc::SYS_mbind,
                m.ptr(),
                m.len(),
                libc::MPOL_BIND,
                &NODE0,
                64,
                0,
            )
        },
        "mbind",
    )?;
    KEPT.store(m.addr(), Ordering::SeqCst);
    Ok(())
}

fn mbind_private() -> Check {
    bind(anon(4 * PAGE)?)
}

/// Shared memory whose policy a child set and took with it when it exited: the policy stays
/// with the memory, though the target's own mapping has none.
fn mbind_shared() -> Check {
    let m = mmap(
        4 * PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
        0,
    )?;
    // SAFETY: the child only binds its copy of the mapping and exits.
    match unsafe { libc::fork() } {
        -1 => return Err(cr_tests::os_error("fork")),
        // SAFETY: ends the child without running the parent's exit handlers.
        0 => unsafe { libc::_exit(i32::from(bind(m).is_err())) },
        pid => match cr_tests::vm::reap_within_10s(pid)? {
            0 => {}
            s => return Err(format!("the child's mbind() failed (status {s:#x})")),
        },
    }
    KEPT.store(m.addr(), Ordering::SeqCst);
    Ok(())
}

fn mapping_policy_works() -> Check {
    check_eq(
        "the mapping's policy",
        policy(KEPT.load(Ordering::SeqCst))?,
        libc::MPOL_BIND,
    )
}

/// prctl() options of KSM's merging of all the process's memory.
const PR_SET_MEMORY_MERGE: libc::c_int = 67;
const PR_GET_MEMORY_MERGE: libc::c_int = 68;

fn merge_any() -> Check {
    // SAFETY: no pointers.
    check_os(
        unsafe { libc::prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) },
        "PR_SET_MEMORY_MERGE",
    )
}

fn merge_any_works() -> Check {
    // SAFETY: no pointers.
    check_eq(
        "PR_GET_MEMORY_MERGE",
        unsafe { libc::prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) },
        1,
    )
}

fn keyctl(op: libc::c_long, a: libc::c_long, b: libc::c_long) -> Result<libc::c_long, String> {
    // SAFETY: the operations used take no pointers, or NULL.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, op, a, b) };
    check_os(r, "keyctl")?;
    Ok(r)
}

/// Creates the keyring `spec` names and keeps its id.
fn make_keyring(spec: libc::c_long) -> Check {
    KEPT.store(
        keyctl(KEYCTL_GET_KEYRING_ID, spec, 1)? as usize,
        Ordering::SeqCst,
    );
    Ok(())
}

/// The keyring `spec` names is still the one made.
fn same_keyring(spec: libc::c_long) -> Check {
    check_eq(
        "the keyring's id",
        keyctl(KEYCTL_GET_KEYRING_ID, spec, 0)? as usize,
        KEPT.load(Ordering::SeqCst),
    )
}

fn thread_keyring() -> Check {
    make_keyring(KEY_SPEC_THREAD_KEYRING)
}

fn thread_keyring_works() -> Check {
    same_keyring(KEY_SPEC_THREAD_KEYRING)
}

fn process_keyring() -> Check {
    make_keyring(KEY_SPEC_PROCESS_KEYRING)
}

fn process_keyring_works() -> Check {
    same_keyring(KEY_SPEC_PROCESS_KEYRING)
}

fn session_keyring() -> Check {
    KEPT.store(
        keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0)? as usize,
        Ordering::SeqCst,
    );
    Ok(())
}

fn session_keyring_works() -> Check {
    same_keyring(KEY_SPEC_SESSION_KEYRING)
}

fn request_keyring() -> Check {
    keyctl(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_USER_KEYRING, 0).map(drop)
}

fn request_keyring_works() -> Check {
    check_eq(
        "the default request_key() keyring",
        keyctl(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_NO_CHANGE, 0)?,
        KEY_REQKEY_DEFL_USER_KEYRING,
    )
}

/// The inode of the namespace /proc/self/ns/`name` shows.
fn ns_inode(name: &str) -> Result<usize, String> {
    let path = format!("/proc/self/ns/{name}");
    let link = std::fs::read_link(&path).map_err(|e| format!("readlink {path}: {e}"))?;
    let link = link.to_string_lossy();
    link.split(['[', ']'])
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{path} -> {link}"))
}

/// Enters a new namespace of the kind `flag` and keeps the inode of `name`, which must
/// differ from the one it replaced.
fn unshare(flag: libc::c_int, name: &str) -> Check {
    let before = ns_inode(name)?;
    // SAFETY: no pointers.
    check_os(
        unsafe { libc::unshare(flag) },
        format_args!("unshare for {name}"),
    )?;
    let now = ns_inode(name)?;
    if now == before {
        return Err(format!("unshare left /proc/self/ns/{name} as it was"));
    }
    KEPT.store(now, Ordering::SeqCst);
    Ok(())
}

/// The namespace `name` is still the one entered.
fn same_ns(name: &str) -> Check {
    check_eq(
        format_args!("/proc/self/ns/{name}"),
        ns_inode(name)?,
        KEPT.load(Ordering::SeqCst),
    )
}

fn uts_ns() -> Check {
    unshare(libc::CLONE_NEWUTS, "uts")?;
    // SAFETY: a name of our own, in our own namespace.
    check_os(
        unsafe { libc::sethostname(UTS_NAME.as_ptr().cast(), UTS_NAME.len()) },
        "sethostname",
    )
}

const UTS_NAME: &str = "cr-test-uts";

fn uts_ns_works() -> Check {
    same_ns("uts")?;
    let mut name = [0u8; 65];
    // SAFETY: a buffer of ours, one byte longer than what it may take.
    check_os(
        unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len() - 1) },
        "gethostname",
    )?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(0);
    check_eq("the host name", &name[..end], UTS_NAME.as_bytes())
}

fn ipc_ns() -> Check {
    unshare(libc::CLONE_NEWIPC, "ipc")
}

fn ipc_ns_works() -> Check {
    same_ns("ipc")
}

fn mnt_ns() -> Check {
    unshare(libc::CLONE_NEWNS, "mnt")
}

fn mnt_ns_works() -> Check {
    same_ns("mnt")
}

fn net_ns() -> Check {
    unshare(libc::CLONE_NEWNET, "net")
}

fn net_ns_works() -> Check {
    same_ns("net")
}

fn cgroup_ns() -> Check {
    unshare(libc::CLONE_NEWCGROUP, "cgroup")
}

fn cgroup_ns_works() -> Check {
    same_ns("cgroup")
}

/// The new time namespace is for the children: the task stays in its own until it forks.
fn time_ns() -> Check {
    unshare(libc::CLONE_NEWTIME, "time_for_children")
}

fn time_ns_works() -> Check {
    same_ns("time_for_children")
}

/// The semaphore array the target adjusts with SEM_UNDO.
static SEMID: AtomicI32 = AtomicI32::new(-1);

fn sem_undo() -> Check {
    // SAFETY: no pointers.
    let id = unsafe { libc::semget(libc::IPC_PRIVATE, 1, 0o600) };
    check_os(id, "semget")?;
    SEMID.store(id, Ordering::SeqCst);
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: 1,
        sem_flg: libc::SEM_UNDO as libc::c_short,
    };
    // SAFETY: one operation from our own buffer.
    check_os(unsafe { libc::semop(id, &mut op, 1) }, "semop")
}

/// The semaphore still holds the target's increment, which its exit will undo; the array is
/// removed here, its last use.
fn sem_undo_works() -> Check {
    let id = SEMID.load(Ordering::SeqCst);
    // SAFETY: no pointers.
    let value = unsafe { libc::semctl(id, 0, libc::GETVAL) };
    // SAFETY: as above.
    let removed = unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
    check_eq("the semaphore's value", value, 1)?;
    check_os(removed, "IPC_RMID")
}

/// A child the target cloned with CLONE_SYSVSEM: a process sharing its undo list.
static SHARER: AtomicI32 = AtomicI32::new(0);

fn shared_undo_list() -> Check {
    // SAFETY: a fork that also shares the undo list; the child only waits to die with us.
    match unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_SYSVSEM | libc::SIGCHLD,
            0,
            0,
            0,
            0,
        )
    } {
        -1 => Err(cr_tests::os_error("clone(CLONE_SYSVSEM)")),
        0 => {
            // It holds none of the target's fds (the harness reads the ready pipe to its
            // end), and dies with the target.
            // SAFETY: no pointers; then waits for a signal.
            unsafe {
                libc::syscall(libc::SYS_close_range, 0, u32::MAX, 0);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                loop {
                    libc::pause();
                }
            }
        }
        pid => {
            SHARER.store(pid as i32, Ordering::SeqCst);
            Ok(())
        }
    }
}

fn shared_undo_list_works() -> Check {
    // SAFETY: no pointers.
    check_os(
        unsafe { libc::kill(SHARER.load(Ordering::SeqCst), 0) },
        "the child sharing the undo list",
    )
}

fn trace() -> Check {
    let pid = TRACEE.load(Ordering::SeqCst);
    // SAFETY: attaches to the test's sleeping child, without stopping it.
    check_os(
        unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) },
        "PTRACE_SEIZE",
    )
}

fn trace_works() -> Check {
    // SAFETY: only its tracer may interrupt a task.
    check_os(
        unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, TRACEE.load(Ordering::SeqCst), 0, 0) },
        "PTRACE_INTERRUPT of the tracee",
    )
}

const CASES: &[Refusal] = &[
    Refusal {
        setup: ldt,
        named: "modify_ldt",
        works: ldt_works,
    },
    Refusal {
        setup: ioperm,
        named: "ioperm",
        works: port_works,
    },
    Refusal {
        setup: iopl,
        named: "iopl",
        works: port_works,
    },
    Refusal {
        setup: set_mempolicy,
        named: "set_mempolicy",
        works: task_policy_works,
    },
    Refusal {
        setup: mbind_private,
        named: "mbind",
        works: mapping_policy_works,
    },
    Refusal {
        setup: mbind_shared,
        named: "mbind",
        works: mapping_policy_works,
    },
    Refusal {
        setup: merge_any,
        named: "PR_SET_MEMORY_MERGE",
        works: merge_any_works,
    },
    Refusal {
        setup: thread_keyring,
        named: "thread keyring",
        works: thread_keyring_works,
    },
    Refusal {
        setup: process_keyring,
        named: "process keyring",
        works: process_keyring_works,
    },
    Refusal {
        setup: session_keyring,
        named: "session keyring",
        works: session_keyring_works,
    },
    Refusal {
        setup: request_keyring,
        named: "request_key",
        works: request_keyring_works,
    },
    Refusal {
        setup: uts_ns,
        named: "UTS namespace",
        works: uts_ns_works,
    },
    Refusal {
        setup: ipc_ns,
        named: "IPC namespace",
        works: ipc_ns_works,
    },
    Refusal {
        setup: mnt_ns,
        named: "mount namespace",
        works: mnt_ns_works,
    },
    Refusal {
        setup: net_ns,
        named: "network namespace",
        works: net_ns_works,
    },
    Refusal {
        setup: cgroup_ns,
        named: "cgroup namespace",
        works: cgroup_ns_works,
    },
    Refusal {
        setup: time_ns,
        named: "time namespace",
        works: time_ns_works,
    },
    Refusal {
        setup: sem_undo,
        named: "SEM_UNDO",
        works: sem_undo_works,
    },
    Refusal {
        setup: shared_undo_list,
        named: "undo list",
        works: shared_undo_list_works,
    },
    Refusal {
        setup: trace,
        named: "traces another task",
        works: trace_works,
    },
    Refusal {
        setup: lead_outside,
        named: "also holds processes outside the tree",
        works: lead_outside_works,
    },
    Refusal {
        setup: cgroup,
        named: "cgroups",
        works: cgroup_works,
    },
];

/// Forks the child whose state is refused, which runs `setup` and waits.
fn fork_kid(setup: fn() -> Check) -> Check {
    let ready = Ready::new()?;
    let kid = ready.fork(46, move |_| {
        setup()?;
        Ok(|| Ok(()))
    })?;
    ready.wait(1)?;
    KID.store(kid.pid, Ordering::SeqCst);
    Ok(())
}

fn reap_kid() -> Check {
    wake_and_reap(&[Kid {
        pid: KID.load(Ordering::SeqCst),
        code: 46,
    }])
}

/// Field 7 of /proc/`pid`/stat (0: the caller's): the controlling terminal's device number,
/// 0 for none.
fn tty_nr(pid: libc::pid_t) -> Result<u64, String> {
    let path = match pid {
        0 => "/proc/self/stat".to_string(),
        _ => format!("/proc/{pid}/stat"),
    };
    let stat = std::fs::read_to_string(path).map_err(|e| format!("stat of {pid}: {e}"))?;
    let after = &stat[stat.rfind(')').ok_or("no comm in stat")? + 2..];
    after
        .split(' ')
        .nth(4)
        .and_then(|f| f.parse().ok())
        .ok_or(format!("tty_nr of {pid}"))
}

/// Makes the caller lead a new session whose controlling terminal is a pty it opened;
/// returns the fd of the pty's master, which stays open (its slave's is closed).
fn session_with_terminal() -> Result<RawFd, String> {
    // SAFETY: plain calls on the caller's own session and fds; the master stays open (a pty
    // whose master is closed hangs up its session).
    let master = unsafe {
        check_os(libc::setsid(), "setsid")?;
        let master = libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        check_os(master, "open /dev/ptmx")?;
        check_os(libc::unlockpt(master), "unlockpt")?;
        let mut name = [0 as libc::c_char; 64];
        let r = libc::ptsname_r(master, name.as_mut_ptr(), name.len());
        if r != 0 {
            return Err(format!("ptsname: {}", cr_tests::describe_errno(r)));
        }
        // Without O_NOCTTY: a session leader with no terminal takes it as its own.
        let slave = libc::open(name.as_ptr(), libc::O_RDWR);
        check_os(slave, "open the pty")?;
        libc::close(slave);
        master
    };
    terminal_works()?;
    Ok(master)
}

/// The fd on which a target keeps its terminal's master until the test took it.
const TERMINAL_MASTER: RawFd = 40;
/// Why a session whose controlling terminal no process of the tree holds is refused.
const NOT_OF_THE_TREE: &str = "its session's controlling terminal is not a pty of the tree";

/// The target leads a session of its own, whose controlling terminal is a pty it opened,
/// its master on [`TERMINAL_MASTER`].
fn terminal() -> Check {
    let master = session_with_terminal()?;
    if master != TERMINAL_MASTER {
        // SAFETY: moves our own fd to a number the target does not use otherwise.
        unsafe {
            check_os(
                libc::dup2(master, TERMINAL_MASTER),
                "dup2 of the terminal's master",
            )?;
            libc::close(master);
        }
    }
    Ok(())
}

/// A target leading a session whose controlling terminal is a pty that no process of the tree
/// holds a file of: the target makes it its terminal, the test takes its master with
/// pidfd_getfd() and holds it to the end, then the target closes its own (its slave's it
/// closed already), its session keeping the terminal. Checkpoint refuses it with EOPNOTSUPP
/// and "pid P: its session's controlling terminal is not a pty of the tree"; the target runs
/// on, its session still with a terminal. A dry run only sets up and checks.
fn terminal_outside_tree() {
    let mut target = Target::spawn(|| {
        terminal()?;
        Ok(|| {
            // Woken once the test holds the master; woken again after the refusal.
            wait_restored();
            cr_tests::target::restored_flag().store(false, Ordering::SeqCst);
            // SAFETY: closes our own fd, which nothing else here uses.
            check_os(
                unsafe { libc::close(TERMINAL_MASTER) },
                "close of the terminal's master",
            )?;
            wait_restored();
            terminal_works()
        })
    });
    let pid = target.pid();
    let master = take_fd(pid, TERMINAL_MASTER).unwrap_or_else(|e| target.fail(e));
    target.wake();
    let dir = format!("/proc/{pid}/fd");
    let fds = || -> Vec<String> {
        let mut fds: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        fds.sort();
        fds
    };
    target.wait_until("for the target to close its terminal's master", || {
        fds() == ["0", "1", "2"]
    });
    target.wait_state("S", "to wait again once it closed its terminal's master");
    if !dry_run() {
        target.expect_refused(NOT_OF_THE_TREE);
        let line = format!("pid {pid}: {NOT_OF_THE_TREE}");
        if !cr_tests::log_names(target.klog(), &line) {
            target.fail(format!("no kernel log line says {line:?}"));
        }
    }
    target.finish();
    // SAFETY: our own fd, taken from the target.
    unsafe { libc::close(master) };
}

/// A session leader whose terminal's foreground group is a job that has just ended, as a
/// shell's before it reaps the job and takes its terminal back: the job, in a group of its own
/// made the foreground group, was killed and is a zombie the target has not reaped. EAGAIN
/// and a log line saying so; once the target reaped it and made its own group the foreground
/// group again, the checkpoint succeeds and the target keeps its terminal.
fn ended_foreground_job() {
    let mut target = Target::spawn(|| {
        let master = session_with_terminal()?;
        // SAFETY: the job only waits to be killed; the calls take our own fds and pids.
        let job = unsafe {
            let job = match libc::fork() {
                -1 => return Err(os_error("fork")),
                0 => loop {
                    libc::pause();
                },
                job => job,
            };
            check_os(libc::setpgid(job, job), "setpgid of the job")?;
            check_os(libc::tcsetpgrp(master, job), "tcsetpgrp to the job")?;
            check_os(libc::kill(job, libc::SIGKILL), "kill of the job")?;
            job
        };
        Ok(move || {
            // Woken after the refusal; woken again after the checkpoint.
            wait_restored();
            cr_tests::target::restored_flag().store(false, Ordering::SeqCst);
            cr::sys::waitpid(job).map_err(|e| format!("wait for the job: {e}"))?;
            // SAFETY: tcsetpgrp on our own fd; a background group's tcsetpgrp() would stop
            // us with SIGTTOU, which we ignore, as a shell does.
            unsafe {
                libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                check_os(
                    libc::tcsetpgrp(master, libc::getpgrp()),
                    "tcsetpgrp back to the target",
                )?;
            }
            wait_restored();
            terminal_works()
        })
    });
    let job = target.descendants(1)[0];
    target.wait_until("for the job to be a zombie", || {
        cr_tests::proc::proc_state(job) == Some('Z')
    });
    target.wait_state("S", "to wait with its job ended");
    if !dry_run() {
        let result = target.try_checkpoint(cr_tests::KILL);
        target.expect_checkpoint_errno(
            result,
            libc::EAGAIN,
            "checkpoint with an ended job in the foreground",
        );
        let line = format!(
            "pid {}: the foreground process group of its terminal has only exited processes, not reaped yet",
            target.pid()
        );
        if !cr_tests::log_names(target.klog(), &line) {
            target.fail(format!("no kernel log line says {line:?}"));
        }
    }
    target.wake();
    target.wait_until("for the target to reap its job", || {
        !cr_tests::proc::pid_exists(job)
    });
    target.wait_state("S", "to wait with its terminal back");
    target.checkpoint(abi::CKPT_SUBTREE);
    target.finish();
}

fn terminal_works() -> Check {
    match tty_nr(0)? {
        0 => Err("the session has no terminal".into()),
        _ => Ok(()),
    }
}

/// The target leads a session (and process group) of its own, in which a grandchild whose
/// parent exited lives on outside the tree.
fn lead_outside() -> Check {
    // SAFETY: makes the caller a session leader; it is not a group leader yet.
    check_os(unsafe { libc::setsid() }, "setsid")?;
    let (read, write) = cr::klog::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the children only fork, write, pause and exit.
    let child = unsafe {
        match libc::fork() {
            -1 => return Err(os_error("fork")),
            0 => {
                // The target's ready pipe: the test reads it until every holder closed it.
                libc::close(cr_tests::target::READY_FD);
                match libc::fork() {
                    -1 => libc::_exit(1),
                    0 => loop {
                        libc::pause();
                    },
                    orphan => {
                        let bytes = orphan.to_ne_bytes();
                        libc::write(write.as_raw_fd(), bytes.as_ptr().cast(), 4);
                    }
                }
                libc::_exit(0)
            }
            pid => pid,
        }
    };
    drop(write);
    let mut bytes = [0u8; 4];
    std::fs::File::from(read)
        .read_exact(&mut bytes)
        .map_err(|e| format!("the orphan's pid: {e}"))?;
    KID.store(libc::pid_t::from_ne_bytes(bytes), Ordering::SeqCst);
    cr::sys::waitpid(child).map_err(|e| format!("wait for {child}: {e}"))?;
    Ok(())
}

/// The orphan is still in the target's session; it is ended here.
fn lead_outside_works() -> Check {
    let orphan = KID.load(Ordering::SeqCst);
    // SAFETY: getsid and kill take integers.
    let sid = unsafe { libc::getsid(orphan) };
    // SAFETY: as above.
    unsafe { libc::kill(orphan, libc::SIGKILL) };
    check_eq(
        "the orphan's session",
        sid,
        std::process::id() as libc::pid_t,
    )
}

/// Moves the caller into [`CGROUP`], made if need be.
fn enter_cgroup() -> Check {
    if let Err(e) = std::fs::create_dir(CGROUP) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(format!("mkdir {CGROUP}: {e}"));
        }
    }
    std::fs::write(format!("{CGROUP}/cgroup.procs"), "0")
        .map_err(|e| format!("{CGROUP}/cgroup.procs: {e}"))
}

/// `pid` and the caller, and the caller's parent, are in the same cgroups.
fn same_cgroup(pid: libc::pid_t) -> Check {
    let of = |pid: libc::pid_t| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .map_err(|e| format!("cgroup of {pid}: {e}"))
    };
    let mine = of(std::process::id() as libc::pid_t)?;
    check_eq("the child's cgroups", of(pid)?, mine.clone())?;
    check_eq("the parent's cgroups", of(cr_tests::tree::ids().0)?, mine)
}

/// The target moves into a cgroup of its own, apart from the child it forked before.
fn cgroup() -> Check {
    fork_kid(|| Ok(()))?;
    enter_cgroup()
}

fn cgroup_works() -> Check {
    let mine = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cgroup: {e}"))?;
    if !mine.contains("/cr-refused") {
        return Err(format!("the target left its cgroup: {mine:?}"));
    }
    reap_kid()
}

/// The user session keyring, which a task without a session keyring joins when it first
/// names `@s`: restart's task would join it the same way.
fn user_session_keyring() -> Check {
    KEPT.store(
        keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)? as usize,
        Ordering::SeqCst,
    );
    Ok(())
}

fn main() {
    // The task the tracing target seizes: outside the checkpointed tree (a sibling of the
    // target), so that it is the tracer that is refused.
    // SAFETY: the child only sleeps until killed.
    let tracee = match unsafe { libc::fork() } {
        -1 => cr_tests::fail(cr_tests::os_error("fork")),
        0 => loop {
            // SAFETY: waits for a signal.
            unsafe { libc::pause() };
        },
        pid => pid,
    };
    TRACEE.store(tracee, Ordering::SeqCst);
    for case in CASES {
        case.refused().finish();
    }
    terminal_outside_tree();
    ended_foreground_job();
    let mut target = Target::spawn(|| {
        user_session_keyring()?;
        Ok(|| {
            wait_restored();
            same_keyring(KEY_SPEC_SESSION_KEYRING)
        })
    });
    target.cycle();
    target.finish();
    // SAFETY: ends and reaps our own child.
    unsafe {
        libc::kill(tracee, libc::SIGKILL);
        libc::waitpid(tracee, std::ptr::null_mut(), 0);
    }
    // Empty now that its target is gone.
    let _ = std::fs::remove_dir(CGROUP);
    // A terminal of a session outside the tree is no reason to refuse: the target is restored
    // into the restarter's session, terminal and all. (The test leads its process group, so
    // a child of it makes the session.)
    let outside = cr_tests::Child::spawn(|| {
        session_with_terminal().unwrap_or_else(|e| cr_tests::fail(e));
        let mut target = Target::spawn(|| {
            Ok(|| {
                wait_restored();
                terminal_works()
            })
        });
        target.cycle();
        target.finish();
        0
    });
    if cr_tests::exit_code(outside.wait()) != 0 {
        cr_tests::fail("a target in a session with a terminal outside the tree did not come back");
    }
    // Nor is a tree wholly in one cgroup other than the root's: it comes back in the
    // restarter's (here the same one, which the restarter moved into first).
    let whole = cr_tests::Child::spawn(|| {
        if let Err(e) = enter_cgroup() {
            cr_tests::fail(e);
        }
        let mut target = Target::spawn(|| {
            fork_kid(|| Ok(()))?;
            Ok(|| {
                wait_restored();
                same_cgroup(KID.load(Ordering::SeqCst))?;
                reap_kid()
            })
        });
        target.cycle();
        target.finish();
        0
    });
    let code = cr_tests::exit_code(whole.wait());
    let _ = std::fs::remove_dir(CGROUP);
    if code != 0 {
        cr_tests::fail("a tree wholly in one cgroup did not come back");
    }
    pass("an LDT, ioperm(), iopl(), NUMA policies of a task, a private mapping and shared memory, KSM's merge-any, keyrings of a thread, process and session, a default request_key() keyring, six kinds of namespace, SEM_UNDO, an undo list shared by two processes, a tracer, a session whose controlling terminal is a pty only the test holds, one that holds a process outside the tree and a tree in two cgroups are refused by name; each target runs on with its state; the user session keyring, a terminal outside the tree and a tree wholly in one cgroup are no reason to refuse");
}
