//! A program whose executable was deleted while it ran (a binary upgraded under a running
//! service) comes back with `CKPT_UNLINKED`: its executable is made again, unlinked, in the
//! directory it was deleted from, and its code runs on from it.
//!
//! The test copies itself (a static program) into a directory of its own and execs the copy
//! as a target ([`Target::exec`]), with [`TARGET_ARG`]: the copy notes its /proc/self/exe
//! (the copy's path), its executable's bytes and the /proc/self/maps lines that map it, and a
//! [`Fingerprint`], then says ready. The test deletes the copy: /proc/PID/exe reads
//! `<copy> (deleted)`.
//!
//! - Checkpointed with `CKPT_UNLINKED` and an `unlinked_max` of the copy's size and a page,
//!   and restarted: /proc/PID/exe reads `<dir>/... (deleted)` from outside, a file of the
//!   copy's size with no link. The restored program checks its fingerprint; its
//!   /proc/self/exe (`<dir>/... (deleted)`, no link, the copy's size and bytes); the lines that
//!   map it, the same ranges, protections, offsets and device as before, on its inode, with
//!   the same path; and that its code in memory (the `r-xp` lines) is its file's bytes.
//! - Checkpointed without `CKPT_UNLINKED`: EOPNOTSUPP before the first byte of the image,
//!   with a log line naming the pid and "its executable" and saying `CKPT_UNLINKED`; the
//!   program runs on and passes the same checks.
//! - A program run from a memfd: the test execs itself ([`Target::exec`]) with
//!   [`MEMFD_LAUNCHER_ARG`], which copies the program into a memfd ([`MEMFD_NAME`],
//!   `MFD_CLOEXEC`) and runs it with `execveat(fd, "", ..., AT_EMPTY_PATH)` (`fexecve`) with
//!   [`MEMFD_TARGET_ARG`]: the same target, whose /proc/self/exe reads `/memfd:<name>
//!   (deleted)`. Restart makes only files again as executables, not memfds: checkpointed even
//!   with `CKPT_UNLINKED` and a large `unlinked_max`, it is refused with EOPNOTSUPP before the
//!   first byte of the image, with one log line naming the pid, "its executable" and "memfd";
//!   the program runs on from its memfd and passes the same checks.
//! - The same deleted copy run twice: the target, and a second instance that the test forks
//!   and execs from the copy before deleting it, a plain child of the test outside the
//!   target's tree (the target is checkpointed as a subtree), asleep until the end.
//!   Checkpointed with `CKPT_UNLINKED` and a large `unlinked_max`, the target is refused with
//!   EOPNOTSUPP before the first byte of the image, with a log line naming the pid and saying
//!   the deleted file is "also open outside the tree" (restart could not share it again); the
//!   target runs on and passes the same checks, and the outside instance is killed and reaped.
//!
//! With `CR_TESTS_DRY_RUN=1` the refusals are not expected (nothing is checkpointed): the
//! targets of those cases are only woken and must pass their checks.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;

use cr_tests::mem::PAGE;
use cr_tests::proc::{parse_maps_line, MapsEntry};
use cr_tests::target::{
    dry_run, kill_and_reap, os_error, restored_flag, scratch_dir, EXIT_CHECK, EXIT_SETUP,
    RESTORE_SIGNAL,
};
use cr_tests::{
    check_eq, check_os, fail, log_names, pass, wait_restored, write_all, Check, Fingerprint,
    Target, KILL,
};

/// The first argument that makes this program the target: `<program> TARGET_ARG <dir>
/// <ready fd>`.
const TARGET_ARG: &str = "--deleted-exe-target";
/// The first argument that makes this program the launcher of the memfd case: `<program>
/// MEMFD_LAUNCHER_ARG <ready fd>` copies the program into a memfd and runs it there as
/// `<program> MEMFD_TARGET_ARG <ready fd>`.
const MEMFD_LAUNCHER_ARG: &str = "--memfd-exe-launcher";
/// The first argument that makes this program the target run from a memfd: `<program>
/// MEMFD_TARGET_ARG <ready fd>`.
const MEMFD_TARGET_ARG: &str = "--memfd-exe-target";
/// The copy's name in the scratch directory.
const EXE_NAME: &str = "exe";
/// The name of the memfd the launcher copies the program into.
const MEMFD_NAME: &str = "cr-deleted-exe";
/// The `unlinked_max` of the memfd case: far more than the program's size, so that only its
/// being a memfd may refuse it.
const LARGE: u64 = 1 << 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(TARGET_ARG | MEMFD_TARGET_ARG) => target_main(&args),
        Some(MEMFD_LAUNCHER_ARG) => launcher_main(&args),
        _ => {}
    }
    restored();
    refused();
    memfd_refused();
    outside_refused();
    pass("a program whose executable was deleted comes back with CKPT_UNLINKED on its executable made again unlinked in its directory (/proc/PID/exe \"<dir>/... (deleted)\", the same bytes, the same maps lines on its inode) and runs its code from it; without CKPT_UNLINKED it is refused naming its executable and runs on; a program run from a memfd (fexecve) is refused even with CKPT_UNLINKED, one log line naming the pid, its executable and memfd, no image written, and runs on from its memfd; a target whose deleted executable another instance outside its tree also runs is refused even with CKPT_UNLINKED, a log line naming the pid and \"also open outside the tree\", no image written, and runs on");
}

// The target: the copy, or the memfd, exec'd; and the launcher of the memfd.

/// Where the target runs from.
enum Origin {
    /// The copy `<dir>/`[`EXE_NAME`], deleted once the target is ready.
    Copy(String),
    /// The memfd [`MEMFD_NAME`].
    Memfd,
}

/// What /proc/self/exe of a program run from the memfd reads.
fn memfd_link() -> String {
    format!("/memfd:{MEMFD_NAME} (deleted)")
}

impl Origin {
    /// What /proc/self/exe reads when the target gets ready.
    fn link_when_ready(&self) -> String {
        match self {
            Origin::Copy(dir) => format!("{dir}/{EXE_NAME}"),
            Origin::Memfd => memfd_link(),
        }
    }

    /// `Err` unless /proc/self/exe reads as it should once the target is woken: a deleted file
    /// in its directory (the copy, or the one restart made), or still the memfd.
    fn check_link(&self, link: &str) -> Check {
        match self {
            Origin::Copy(dir) => {
                match link.starts_with(&format!("{dir}/")) && link.ends_with(" (deleted)") {
                    true => Ok(()),
                    false => Err(format!(
                        "/proc/self/exe is {link:?}, should be \"{dir}/... (deleted)\""
                    )),
                }
            }
            Origin::Memfd => check_eq("/proc/self/exe", link.to_string(), memfd_link()),
        }
    }
}

/// What the target notes before it says ready.
struct Exe {
    origin: Origin,
    fingerprint: Fingerprint,
    /// The executable's size and [`fnv`] hash.
    len: u64,
    hash: u64,
    /// The lines of /proc/self/maps that map it.
    maps: Vec<MapsEntry>,
}

extern "C" fn on_restore_signal(_: libc::c_int) {
    restored_flag().store(true, Ordering::SeqCst);
}

/// SIGUSR1 handled (exec reset it to its default) and blocked (it was, across exec).
fn handle_restore_signal() -> Check {
    // SAFETY: plain signal setup with a handler that only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_restore_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        let r = libc::sigaction(RESTORE_SIGNAL, &sa, std::ptr::null_mut());
        check_os(r, "sigaction(SIGUSR1)")?;
        let set = cr_tests::proc::sigset_of(&[RESTORE_SIGNAL]);
        let r = libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        check_os(r, "block SIGUSR1")
    }
}

/// The target's main: sets up, says ready on the fd of its last argument, waits for SIGUSR1,
/// checks; exits 0, [`EXIT_SETUP`] or [`EXIT_CHECK`].
fn target_main(args: &[String]) -> ! {
    let parsed = match args.get(1).map(String::as_str) {
        Some(TARGET_ARG) => args
            .get(2)
            .map(|dir| Origin::Copy(dir.clone()))
            .zip(args.get(3)),
        _ => Some(Origin::Memfd).zip(args.get(2)),
    };
    let exe = match parsed.and_then(|(origin, fd)| Some(origin).zip(fd.parse().ok())) {
        Some((origin, ready)) => handle_restore_signal()
            .and_then(|()| note(origin))
            .and_then(|exe| say_ready(ready).map(|()| exe)),
        None => Err(format!(
            "usage: {0} {TARGET_ARG} DIR READY_FD, or {0} {MEMFD_TARGET_ARG} READY_FD",
            args[0]
        )),
    };
    let exe = exe.unwrap_or_else(|e| {
        eprintln!("setup failed: {e}");
        std::process::exit(EXIT_SETUP)
    });
    wait_restored();
    match check(&exe) {
        Ok(()) => {
            match exe.origin {
                Origin::Copy(_) => println!("restored with its executable deleted: checks hold"),
                Origin::Memfd => println!("woken, running from its memfd: checks hold"),
            }
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("FAIL: {e}");
            std::process::exit(EXIT_CHECK)
        }
    }
}

/// The launcher's main: copies the program into a memfd and runs it there as the target run
/// from a memfd; exits [`EXIT_SETUP`] if it cannot.
fn launcher_main(args: &[String]) -> ! {
    let e = match args.get(2) {
        Some(ready) => exec_from_memfd(&args[0], ready),
        None => format!("usage: {} {MEMFD_LAUNCHER_ARG} READY_FD", args[0]),
    };
    eprintln!("setup failed: {e}");
    std::process::exit(EXIT_SETUP)
}

/// `CString`s of `strings`, then the NULL-terminated array of their pointers (valid while the
/// first lives).
fn c_strings(
    strings: impl Iterator<Item = Vec<u8>>,
) -> Result<(Vec<CString>, Vec<*const libc::c_char>), String> {
    let owned = strings
        .map(|s| CString::new(s).map_err(|_| "NUL in an argument or the environment".to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let ptrs = owned
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    Ok((owned, ptrs))
}

/// Copies this program into a memfd ([`MEMFD_NAME`], `MFD_CLOEXEC`: the fd is gone once it
/// runs) and execs it from the fd, as `<program> MEMFD_TARGET_ARG <ready>`, with this
/// environment; returns why it could not.
fn exec_from_memfd(program: &str, ready: &str) -> String {
    let bytes = match std::fs::read("/proc/self/exe") {
        Ok(bytes) => bytes,
        Err(e) => return format!("read /proc/self/exe: {e}"),
    };
    let name = CString::new(MEMFD_NAME).unwrap_or_default();
    // SAFETY: makes an fd from a valid C string. MFD_EXEC (Linux 6.3) asks for an executable
    // memfd: without it, vm.memfd_noexec=1 would seal it non-executable, and the kernel warns
    // once. An older kernel does not know it (EINVAL).
    let fd = unsafe {
        match libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_EXEC) {
            -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) => {
                libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC)
            }
            fd => fd,
        }
    };
    if fd < 0 {
        return os_error(format_args!("memfd_create {MEMFD_NAME:?}"));
    }
    // SAFETY: a new fd of ours, closed by exec (MFD_CLOEXEC) or when dropped.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Err(e) = write_all(memfd.as_raw_fd(), &bytes) {
        return format!("copy of the program into the memfd: {e}");
    }
    let argv = [program, MEMFD_TARGET_ARG, ready].map(|a| a.as_bytes().to_vec());
    let env = std::env::vars_os().map(|(k, v)| {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        kv
    });
    let ((_argv, argv), (_env, env)) =
        match c_strings(argv.into_iter()).and_then(|a| Ok((a, c_strings(env)?))) {
            Ok(both) => both,
            Err(e) => return e,
        };
    // SAFETY: `argv` and `env` are NULL-terminated arrays of C strings that outlive the call;
    // the path is the empty C string.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            memfd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            env.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    os_error("execveat(memfd, \"\", AT_EMPTY_PATH)")
}

fn say_ready(fd: libc::c_int) -> Check {
    // SAFETY: writes a byte from a static buffer to the harness's pipe, then closes it.
    unsafe {
        let n = libc::write(fd, b"R".as_ptr().cast(), 1);
        check_os(n as i64, format_args!("write to the ready fd {fd}"))?;
        check_os(libc::close(fd), format_args!("close of the ready fd {fd}"))
    }
}

/// FNV-1a, 64 bits.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn own_exe() -> Result<(String, std::fs::Metadata, Vec<u8>), String> {
    const EXE: &str = "/proc/self/exe";
    let link = std::fs::read_link(EXE).map_err(|e| format!("readlink {EXE}: {e}"))?;
    let meta = std::fs::metadata(EXE).map_err(|e| format!("stat {EXE}: {e}"))?;
    let bytes = std::fs::read(EXE).map_err(|e| format!("read {EXE}: {e}"))?;
    Ok((link.to_string_lossy().into_owned(), meta, bytes))
}

/// The lines of /proc/self/maps that map the file of inode `ino`.
fn maps_of(ino: u64) -> Result<Vec<MapsEntry>, String> {
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("read /proc/self/maps: {e}"))?;
    Ok(maps
        .lines()
        .filter_map(parse_maps_line)
        .filter(|e| e.inode == ino && !e.name.is_empty())
        .collect())
}

/// `Err` unless the executable's code in memory (each `r-xp` line of `maps`) is the bytes of
/// its file (`bytes`) at the line's offset.
fn check_code(maps: &[MapsEntry], bytes: &[u8]) -> Check {
    let mut code = 0;
    for e in maps.iter().filter(|e| e.perms == "r-xp") {
        let from = e.offset as usize;
        let len = (e.end - e.start).min(bytes.len().saturating_sub(from));
        // SAFETY: the program's own code, mapped readable for as long as it runs.
        let mem = unsafe { std::slice::from_raw_parts(e.start as *const u8, len) };
        if let Some(i) = mem.iter().zip(&bytes[from..]).position(|(a, b)| a != b) {
            return Err(format!(
                "the code at {:#x} is not its executable's byte {:#x}",
                e.start + i,
                from + i
            ));
        }
        code += len;
    }
    match code {
        0 => Err(format!("no r-xp line maps the executable: {maps:?}")),
        _ => Ok(()),
    }
}

/// Before ready: the executable is the copy, not deleted yet, or the memfd.
fn note(origin: Origin) -> Result<Exe, String> {
    let (link, meta, bytes) = own_exe()?;
    check_eq("/proc/self/exe", link.clone(), origin.link_when_ready())?;
    let maps: Vec<MapsEntry> = maps_of(meta.ino())?
        .into_iter()
        .filter(|e| e.name == link)
        .collect();
    check_code(&maps, &bytes)?;
    Ok(Exe {
        origin,
        fingerprint: Fingerprint::take(),
        len: meta.len(),
        hash: fnv(&bytes),
        maps,
    })
}

/// Once woken: the process is as it was, its executable deleted (or a memfd, which has no
/// link), and runs its code from it.
fn check(exe: &Exe) -> Check {
    exe.fingerprint.check()?;
    let (link, meta, bytes) = own_exe()?;
    exe.origin.check_link(&link)?;
    check_eq("its executable's link count", meta.nlink(), 0)?;
    check_eq("its executable's size", meta.len(), exe.len)?;
    check_eq(
        "its executable's bytes (length and FNV-1a hash)",
        (bytes.len() as u64, fnv(&bytes)),
        (exe.len, exe.hash),
    )?;
    let maps = maps_of(meta.ino())?;
    let key = |e: &MapsEntry| (e.start, e.end, e.perms.clone(), e.offset, e.dev.clone());
    check_eq(
        "the range, protection, offset and device of each line mapping its executable",
        maps.iter().map(key).collect::<Vec<_>>(),
        exe.maps.iter().map(key).collect::<Vec<_>>(),
    )?;
    if let Some(e) = maps.iter().find(|e| e.name != link) {
        return Err(format!(
            "the maps line {e:?} of its executable is not named {link:?}, as /proc/self/exe"
        ));
    }
    check_code(&maps, &bytes)
}

// The test.

/// The scratch directory, made, with a copy of this program in it: its path and size.
fn copy_self() -> (String, String, u64) {
    let dir = scratch_dir();
    let copy = format!("{dir}/{EXE_NAME}");
    let me = std::env::current_exe().unwrap_or_else(|e| fail(format!("current_exe: {e}")));
    let made = std::fs::create_dir_all(&dir)
        .map_err(|e| format!("mkdir {dir}: {e}"))
        .and_then(|()| {
            std::fs::copy(&me, &copy).map_err(|e| format!("copy {} to {copy}: {e}", me.display()))
        });
    match made {
        Ok(size) => (dir, copy, size),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            fail(e)
        }
    }
}

/// The copy exec'd as a target, ready, then deleted.
fn spawn_deleted(copy: &str, dir: &str) -> Target {
    let target = Target::exec(copy, &[TARGET_ARG, dir]);
    delete_copy(&target, copy);
    target
}

/// Deletes the copy the target runs from, and fails unless /proc/PID/exe then reads
/// `<copy> (deleted)`.
fn delete_copy(target: &Target, copy: &str) {
    if let Err(e) = std::fs::remove_file(copy) {
        target.fail(format!("unlink {copy}: {e}"));
    }
    let link = exe_link(target);
    if link != format!("{copy} (deleted)") {
        target.fail(format!(
            "/proc/PID/exe of the target is {link:?} once its copy is deleted, should be \
             \"{copy} (deleted)\""
        ));
    }
}

/// What /proc/PID/exe of the target reads.
fn exe_link(target: &Target) -> String {
    let path = format!("/proc/{}/exe", target.pid());
    std::fs::read_link(&path)
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_else(|e| target.fail(format!("readlink {path}: {e}")))
}

fn restored() {
    let (dir, copy, size) = copy_self();
    let mut target = spawn_deleted(&copy, &dir);
    target.save_unlinked(size + PAGE as u64);
    target.checkpoint(KILL);
    target.restart();
    let link = exe_link(&target);
    if !link.starts_with(&format!("{dir}/")) || !link.ends_with(" (deleted)") {
        target.fail(format!(
            "/proc/PID/exe of the restored target is {link:?}, should be \"{dir}/... (deleted)\""
        ));
    }
    let path = format!("/proc/{}/exe", target.pid());
    let meta =
        std::fs::metadata(&path).unwrap_or_else(|e| target.fail(format!("stat {path}: {e}")));
    if (meta.nlink(), meta.len()) != (0, size) {
        target.fail(format!(
            "the restored target's executable has {} links and {} bytes, should have 0 and {size}",
            meta.nlink(),
            meta.len()
        ));
    }
    target.finish();
}

/// Fails unless the refused checkpoint wrote no byte of the image.
fn expect_no_image(target: &Target) {
    let written = std::fs::metadata(target.image_path()).map_or(0, |m| m.len());
    if written != 0 {
        target.fail(format!(
            "the refused checkpoint wrote {written} bytes of image"
        ));
    }
}

/// Finishes a refused `target`, which must still run its deleted `copy`.
fn finish_still_deleted(target: Target, copy: &str) {
    let link = exe_link(&target);
    if link != format!("{copy} (deleted)") {
        target.fail(format!(
            "/proc/PID/exe of the refused target is {link:?}, should still be \"{copy} (deleted)\""
        ));
    }
    target.finish();
}

fn refused() {
    let (dir, copy, _) = copy_self();
    let mut target = spawn_deleted(&copy, &dir);
    if !dry_run() {
        target.expect_refused("its executable");
        let says = |l: &String| l.contains("its executable") && l.contains("CKPT_UNLINKED");
        if !target.klog().iter().any(says) {
            target.fail("no kernel log line names its executable and says CKPT_UNLINKED");
        }
        expect_no_image(&target);
    }
    finish_still_deleted(target, &copy);
}

/// The test's program run from a memfd: refused even with `CKPT_UNLINKED`, by one log line,
/// before the image; it runs on from the memfd.
fn memfd_refused() {
    let me = std::env::current_exe().unwrap_or_else(|e| fail(format!("current_exe: {e}")));
    let mut target = Target::exec(&me.to_string_lossy(), &[MEMFD_LAUNCHER_ARG]);
    let memfd = memfd_link();
    let link = exe_link(&target);
    if link != memfd {
        target.fail(format!(
            "/proc/PID/exe of the target run from a memfd is {link:?}, should be {memfd:?}"
        ));
    }
    target.save_unlinked(LARGE);
    if !dry_run() {
        target.expect_refused("its executable");
        let pid = target.pid().to_string();
        let names = |l: &&String| {
            let line = std::slice::from_ref(*l);
            ["its executable", "memfd", &pid]
                .iter()
                .all(|w| log_names(line, w))
        };
        let lines = target.klog().iter().filter(names).count();
        if lines != 1 {
            target.fail(format!(
                "{lines} kernel log lines name pid {pid}, its executable and memfd, should be one"
            ));
        }
        expect_no_image(&target);
    }
    let link = exe_link(&target);
    if link != memfd {
        target.fail(format!(
            "/proc/PID/exe of the refused target is {link:?}, should still be {memfd:?}"
        ));
    }
    target.finish();
}

/// The copy exec'd a second time, by a plain child of the test (outside `target`'s tree), as
/// `<copy> TARGET_ARG <dir> <ready fd>`: ready, asleep until killed; its pid. It dies with the
/// test (`PR_SET_PDEATHSIG`), so that a failure leaves it behind neither.
fn exec_outside(target: &Target, copy: &str, dir: &str) -> libc::pid_t {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds into a two-int array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        target.fail(os_error("pipe"));
    }
    // SAFETY: our two new fds, closed when dropped.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let args =
        [copy, TARGET_ARG, dir, &write.as_raw_fd().to_string()].map(|a| a.as_bytes().to_vec());
    let (_argv, argv) = c_strings(args.into_iter()).unwrap_or_else(|e| target.fail(e));
    // SAFETY: getpid takes nothing.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the test is single-threaded; the child only calls prctl, getppid, close, execv
    // (on C strings made before the fork) and _exit.
    match unsafe { libc::fork() } {
        -1 => target.fail(os_error("fork of the outside instance")),
        0 => unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(EXIT_SETUP);
            }
            libc::close(read.as_raw_fd());
            libc::execv(argv[0], argv.as_ptr());
            libc::_exit(EXIT_SETUP)
        },
        pid => {
            drop(write);
            let mut said = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::fs::File::from(read), &mut said);
            if said != b"R" {
                kill_and_reap(pid);
                target.fail(format!(
                    "the outside instance of {copy} (pid {pid}) did not get ready"
                ));
            }
            pid
        }
    }
}

/// The target's deleted executable also run by a process outside its tree: refused even with
/// `CKPT_UNLINKED` and a large `unlinked_max`, before the image; the target runs on.
fn outside_refused() {
    let (dir, copy, _) = copy_self();
    let mut target = Target::exec(&copy, &[TARGET_ARG, &dir]);
    let outside = exec_outside(&target, &copy, &dir);
    delete_copy(&target, &copy);
    target.save_unlinked(LARGE);
    if !dry_run() {
        const OUTSIDE: &str = "also open outside the tree";
        target.expect_refused(OUTSIDE);
        let pid = target.pid().to_string();
        let names = |l: &String| log_names(std::slice::from_ref(l), &pid) && l.contains(OUTSIDE);
        if !target.klog().iter().any(names) {
            target.fail(format!(
                "no kernel log line names pid {pid} and says {OUTSIDE:?}"
            ));
        }
        expect_no_image(&target);
    }
    finish_still_deleted(target, &copy);
    kill_and_reap(outside);
}
