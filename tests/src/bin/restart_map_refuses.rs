//! restart(2) with RESTART_MAP refuses an image it cannot map, and memory a process shares
//! copy-on-write with a relative, and restores nothing then.
//!
//! From the image of a sleeping target (a filled 64-page mapping, checkpointed with
//! CKPT_KILL): the image file itself on /tmp (tmpfs), a memfd copy without seals, one sealed
//! F_SEAL_SHRINK only, one sealed F_SEAL_WRITE only: EINVAL, a log line "sealed memfd"; a
//! memfd sealed as [`Target::mapped`] seals it (write, shrink, grow) holding 100 junk bytes
//! then the image, read from 100: EINVAL, "page-aligned"; a sealed memfd holding the image
//! but its last 8 bytes: EBADMSG. After each, no process has the target's pid and the test has
//! no child. Then from a sealed memfd holding 4096 junk bytes then the image, read from 4096
//! (page-aligned), the target is restored and passes its checks, and once more with
//! [`Target::mapped`].
//!
//! A target that filled 256 pages and forked a child that only sleeps, neither writing them
//! since (all of them shared copy-on-write, as /proc/self/pagemap shows), checkpointed as a
//! tree: RESTART_MAP from a sealed memfd gives EOPNOTSUPP with a log line "copy-on-write", and
//! neither process is left; the same image restarts without the flag, both share the pages
//! again and find their contents.
//!
//! RESTART_MAP restores only tasks with exactly the restarter's credentials, and only dumpable
//! address spaces (SUID_DUMP_USER): the restored processes could otherwise read each other's
//! memory through the image they map. A target (a filled 64-page mapping) that left root for
//! uid and gid 1000 (setresgid, setresuid; then PR_SET_DUMPABLE 1, as leaving root cleared
//! it), and one that made itself not dumpable (PR_SET_DUMPABLE 0): each checkpointed with
//! CKPT_KILL, RESTART_MAP from a sealed memfd gives EPERM with a log line saying
//! "RESTART_MAP" and "credentials" or "dumpable", no process has the target's pid and the
//! test has no child; the same image restarts without the flag, the first with uid and gid
//! 1000 (its getresuid(), getresgid() and the Uid and Gid lines of /proc/PID/status), the
//! second still not dumpable (PR_GET_DUMPABLE 0), each finding its mapping.
//!
//! With `CR_TESTS_DRY_RUN=1` only the targets' setup and checks run.

use std::os::fd::RawFd;

use cr_tests::mem::{region, Mapping, Sharing, PAGE};
use cr_tests::proc::{my_children, wait_status_text};
use cr_tests::target::{dry_run, image_memfd, kill_and_reap, IMAGE_SEALS, RESTORE_SIGNAL};
use cr_tests::tree::{wait_gone, wake_and_reap, Kid, Ready};
use cr_tests::{
    check_eq, check_os, errno_problem, fd, pass, seek_fd, sys, wait_restored, with_log, Check,
    Fingerprint, Target, KILL,
};

const PAGES: usize = 64;
const SEED: u64 = 1000;
const TREE_PAGES: usize = 256;
const TREE_SEED: u64 = 2000;

/// `Err` unless each page `n` of `m` holds `seed + n`.
fn check_pages(m: Mapping, seed: u64, what: &str) -> Check {
    for n in 0..m.len() / PAGE {
        m.page(n)
            .check(seed + n as u64, &format!("{what} page {n}"))?;
    }
    Ok(())
}

/// restart(2) with RESTART_MAP from `fd` must fail with `errno` (`what`: from what), with a
/// kernel log line holding every one of `words` (no such check if none), and leave no process
/// with one of `pids` and no child of the test.
fn expect_refused(
    target: &Target,
    fd: RawFd,
    (errno, what): (i32, &str),
    words: &[&str],
    pids: &[libc::pid_t],
) {
    let (result, log) = with_log(|logfd| sys::restart(fd, abi::RESTART_MAP, logfd));
    let failed = |why: String| -> ! {
        for l in &log {
            eprintln!("kernel: [restart with RESTART_MAP from {what}] {l}");
        }
        target.fail(format!("restart with RESTART_MAP from {what}: {why}"))
    };
    if let Some(problem) = errno_problem(&result, errno, "restart") {
        if let Ok(pid) = result {
            kill_and_reap(pid);
        }
        failed(problem);
    }
    if !words.is_empty() && !log.iter().any(|l| words.iter().all(|w| l.contains(w))) {
        failed(format!("no kernel log line says all of {words:?}"));
    }
    let left = my_children();
    if !left.is_empty() {
        failed(format!("the test has children after it: {left:?}"));
    }
    if let Err(e) = wait_gone(pids) {
        failed(format!("a process is left: {e}"));
    }
}

/// A sleeping target with a filled mapping of `PAGES` pages (runs long enough to be mapped).
fn simple() -> Target {
    Target::spawn(|| {
        let fingerprint = Fingerprint::take();
        let m = region(PAGES, 0)?;
        m.fill_pages(SEED);
        Ok(move || {
            wait_restored();
            fingerprint.check()?;
            check_pages(m, SEED, "the filled mapping")
        })
    })
}

/// The simple target's image, refused in every way but the last.
fn refusals(target: &Target) {
    let image = target.image();
    let pids = [target.pid()];
    let memfd = |bytes: &[u8], seals| {
        image_memfd(&mut &bytes[..], seals).unwrap_or_else(|e| target.fail(e))
    };
    let path = target.image_path();
    let file = std::fs::File::open(path).unwrap_or_else(|e| target.fail(format!("{path}: {e}")));
    let what = "the image file on /tmp (tmpfs)";
    expect_refused(
        target,
        fd(&file),
        (libc::EINVAL, what),
        &["sealed memfd"],
        &pids,
    );
    let cases = [
        (0, "a memfd without seals"),
        (libc::F_SEAL_SHRINK, "a memfd sealed F_SEAL_SHRINK only"),
        (libc::F_SEAL_WRITE, "a memfd sealed F_SEAL_WRITE only"),
    ];
    for (seals, what) in cases {
        let m = memfd(&image, seals);
        expect_refused(
            target,
            fd(&m),
            (libc::EINVAL, what),
            &["sealed memfd"],
            &pids,
        );
    }

    let mut junk = vec![0x5a; 100];
    junk.extend_from_slice(&image);
    let m = memfd(&junk, IMAGE_SEALS);
    seek_fd(fd(&m), 100).unwrap_or_else(|e| target.fail(e));
    let what = "a sealed memfd, at position 100";
    expect_refused(
        target,
        fd(&m),
        (libc::EINVAL, what),
        &["page-aligned"],
        &pids,
    );

    let m = memfd(&image[..image.len() - 8], IMAGE_SEALS);
    let what = "a sealed memfd holding the image but its last 8 bytes";
    expect_refused(target, fd(&m), (libc::EBADMSG, what), &[], &pids);

    // The image at a page-aligned position past 0: the target comes back, and passes.
    let mut junk = vec![0x5a; PAGE];
    junk.extend_from_slice(&image);
    let m = memfd(&junk, IMAGE_SEALS);
    seek_fd(fd(&m), PAGE as i64).unwrap_or_else(|e| target.fail(e));
    let (result, log) = with_log(|logfd| sys::restart(fd(&m), abi::RESTART_MAP, logfd));
    drop(m);
    let failed = |why: String| -> ! {
        for l in &log {
            eprintln!("kernel: [restart with RESTART_MAP at 4096] {l}");
        }
        target.fail(format!(
            "restart with RESTART_MAP from a sealed memfd at position 4096: {why}"
        ))
    };
    match result {
        Ok(pid) if pid == target.pid() => {}
        Ok(pid) => {
            kill_and_reap(pid);
            failed(format!("restored pid {pid}, expected {}", target.pid()));
        }
        Err(e) => failed(e.to_string()),
    }
    // SAFETY: kill takes integers; the pid is our restored child.
    if unsafe { libc::kill(target.pid(), RESTORE_SIGNAL) } != 0 {
        failed(format!("kill: {}", std::io::Error::last_os_error()));
    }
    match sys::waitpid(target.pid()) {
        Ok(s) if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0 => {}
        Ok(s) => failed(format!("the restored target {}", wait_status_text(s))),
        Err(e) => failed(format!("wait: {e}")),
    }
}

/// A target that filled `TREE_PAGES` and forked a child, neither writing them since.
fn sharing_tree() -> Target {
    Target::spawn(|| {
        let w = region(TREE_PAGES, 0)?;
        w.fill_pages(TREE_SEED);
        let ready = Ready::new()?;
        let kid: Kid = ready.fork(41, move |_| {
            let before = Sharing::take("child", w, |_| false)?;
            Ok(move || {
                before.check()?;
                check_pages(w, TREE_SEED, "child: the shared mapping")
            })
        })?;
        ready.wait(1)?;
        let before = Sharing::take("root", w, |_| false)?;
        Ok(move || {
            wait_restored();
            before.check()?;
            check_pages(w, TREE_SEED, "root: the shared mapping")?;
            wake_and_reap(&[kid])
        })
    })
}

/// The uid and gid the [`other_user`] target leaves root for.
const USER: u32 = 1000;

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> libc::c_int {
    // SAFETY: prctl options that take integers only.
    unsafe { libc::prctl(option, arg, 0, 0, 0) }
}

/// The caller's real, effective and saved uids and gids.
fn ids() -> Result<([libc::uid_t; 3], [libc::gid_t; 3]), String> {
    let (mut u, mut g) = ([0; 3], [0; 3]);
    // SAFETY: each pointer is to a valid id of ours.
    let r = unsafe { libc::getresuid(&mut u[0], &mut u[1], &mut u[2]) };
    check_os(r, "getresuid")?;
    // SAFETY: as above.
    let r = unsafe { libc::getresgid(&mut g[0], &mut g[1], &mut g[2]) };
    check_os(r, "getresgid")?;
    Ok((u, g))
}

/// A sleeping target with a filled mapping of `PAGES` pages that left root for uid and gid
/// [`USER`] (setresgid, then setresuid) and made itself dumpable again (leaving root made it
/// not dumpable): its credentials, not its dumpability, are what sets it apart from the test.
/// After the restart it checks its ids and its mapping.
fn other_user() -> Target {
    Target::spawn(|| {
        let m = region(PAGES, 0)?;
        m.fill_pages(SEED);
        // SAFETY: the single-threaded target changes its own ids; no memory involved.
        check_os(unsafe { libc::setresgid(USER, USER, USER) }, "setresgid")?;
        // SAFETY: as above.
        check_os(unsafe { libc::setresuid(USER, USER, USER) }, "setresuid")?;
        check_os(prctl(libc::PR_SET_DUMPABLE, 1), "PR_SET_DUMPABLE 1")?;
        check_eq("ids after leaving root", ids()?, ([USER; 3], [USER; 3]))?;
        Ok(move || {
            wait_restored();
            check_eq("ids after the restart", ids()?, ([USER; 3], [USER; 3]))?;
            check_eq("PR_GET_DUMPABLE", prctl(libc::PR_GET_DUMPABLE, 0), 1)?;
            check_pages(m, SEED, "the filled mapping")
        })
    })
}

/// A sleeping target with a filled mapping of `PAGES` pages that made itself not dumpable
/// (PR_SET_DUMPABLE 0), its credentials the test's. After the restart it checks that it is
/// still not dumpable, and its mapping.
fn not_dumpable() -> Target {
    Target::spawn(|| {
        let m = region(PAGES, 0)?;
        m.fill_pages(SEED);
        check_os(prctl(libc::PR_SET_DUMPABLE, 0), "PR_SET_DUMPABLE 0")?;
        Ok(move || {
            wait_restored();
            check_eq("PR_GET_DUMPABLE", prctl(libc::PR_GET_DUMPABLE, 0), 0)?;
            check_pages(m, SEED, "the filled mapping")
        })
    })
}

/// Checkpoints `target` with KILL; RESTART_MAP from a sealed memfd copy of its image must
/// give EPERM with a log line saying "RESTART_MAP" and `why`, leaving nothing; then the image
/// restarts without the flag. Returns the restored target, for the caller's checks before
/// [`Target::finish`].
fn refused_then_copied(mut target: Target, what: &str, why: &str) -> Target {
    target.checkpoint(KILL);
    if !dry_run() {
        let image = target.image();
        let m = image_memfd(&mut &image[..], IMAGE_SEALS).unwrap_or_else(|e| target.fail(e));
        let pids = [target.pid()];
        let errno = (libc::EPERM, what);
        expect_refused(&target, fd(&m), errno, &["RESTART_MAP", why], &pids);
    }
    target.restart();
    target
}

/// The fields of the line of /proc/PID/status that starts with `key` ("Uid:").
fn status_fields(target: &Target, key: &str) -> Vec<String> {
    let path = format!("/proc/{}/status", target.pid());
    let status =
        std::fs::read_to_string(&path).unwrap_or_else(|e| target.fail(format!("{path}: {e}")));
    match status.lines().find_map(|l| l.strip_prefix(key)) {
        Some(rest) => rest.split_whitespace().map(str::to_string).collect(),
        None => target.fail(format!("{path} has no {key} line")),
    }
}

fn main() {
    let mut target = simple();
    target.checkpoint(KILL);
    if !dry_run() {
        refusals(&target);
    }
    target.mapped();
    target.restart();
    target.finish();

    let mut target = sharing_tree();
    let kids = target.descendants(1);
    target.checkpoint(KILL);
    if !dry_run() {
        wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
        let image = target.image();
        let m = image_memfd(&mut &image[..], IMAGE_SEALS).unwrap_or_else(|e| target.fail(e));
        let pids = [target.pid(), kids[0]];
        let what = "the image of a process sharing memory copy-on-write with its child";
        let errno = (libc::EOPNOTSUPP, what);
        expect_refused(&target, fd(&m), errno, &["copy-on-write"], &pids);
    }
    target.restart();
    target.descendants(1);
    target.finish();

    let what = "the image of a process with uid and gid 1000";
    let target = refused_then_copied(other_user(), what, "credentials");
    for key in ["Uid:", "Gid:"] {
        let fields = status_fields(&target, key);
        if fields != vec![USER.to_string(); 4] {
            target.fail(format!(
                "the restored target's /proc status says {key} {fields:?}, expected {USER} 4 times"
            ));
        }
    }
    target.finish();

    let what = "the image of a process that is not dumpable";
    refused_then_copied(not_dumpable(), what, "dumpable").finish();
    pass(
        "RESTART_MAP refuses an image not in a sealed memfd (EINVAL), at an unaligned position \
         (EINVAL), cut short (EBADMSG), memory shared copy-on-write (EOPNOTSUPP), a process with \
         other credentials or not dumpable (EPERM), leaving no process; a page-aligned position \
         past 0 restores, the others without the flag",
    );
}
