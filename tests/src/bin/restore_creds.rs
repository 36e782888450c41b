//! Credentials come back thread by thread: real, effective, saved and filesystem user and
//! group ids, supplementary groups, the five capability sets and the securebits. The main
//! thread gives up root the way a daemon does (keeping some capabilities, one of them
//! ambient, and dropping two from its bounding set); another thread of the same process
//! (raw system calls: glibc would change every thread) runs as another user with no
//! capabilities. Each thread checks its own credentials after the restart. A change of
//! credentials resets the process's dumpable flag and parent-death signal, which restart
//! must not do: both are checked too.
//!
//! A restarter that may not set what the image holds gets EPERM, a log line naming it, and
//! leaves nothing behind (root's restart then takes the same pids): one without CAP_SETGID
//! or CAP_SETUID in its effective set, one whose permitted set lacks a capability a task had,
//! one whose bounding set lacks one the image's has, one that locked a securebit the image
//! has set, and one that locked SECBIT_KEEP_CAPS and SECBIT_NO_SETUID_FIXUP off, so that
//! leaving root by hand would clear the permitted set the daemon thread kept. A process
//! whose credentials belong to another user namespace is refused at checkpoint, and runs on.

use std::sync::mpsc;
use std::time::Duration;

use cr_tests::caps::{capget, capset};
use cr_tests::target::was_woken;
use cr_tests::threads::{self, gettid};
use cr_tests::{check_eq, check_os, fail, pass, require_root, wait_restored, Check, Target, KILL};

const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SETPCAP: u32 = 8;
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_SYS_BOOT: u32 = 22;
const CAP_MKNOD: u32 = 27;
const CAP_SYS_NICE: u32 = 23;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS: libc::c_ulong = 1 << 4;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;

fn bits(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | 1 << c)
}

/// The calling thread's credentials, as the system calls report them.
#[derive(Clone, Debug, PartialEq)]
struct Creds {
    tid: libc::pid_t,
    uids: [u32; 4],
    gids: [u32; 4],
    groups: Vec<u32>,
    /// Effective, permitted, inheritable.
    caps: [u64; 3],
    bounding: u64,
    ambient: u64,
    securebits: i64,
}

fn prctl(option: libc::c_int, arg: libc::c_ulong, arg3: libc::c_ulong) -> Result<i64, String> {
    // SAFETY: prctl with integer arguments acts on the calling thread or process.
    let r = unsafe { libc::prctl(option, arg, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    check_os(r, format!("prctl({option}, {arg}, {arg3})"))?;
    Ok(r.into())
}

/// A raw credential system call of the calling thread alone.
fn sys3(nr: libc::c_long, a: u32, b: u32, c: u32, what: &str) -> Check {
    // SAFETY: a credential system call with integer arguments, on the calling thread.
    let r = unsafe { libc::syscall(nr, a, b, c) };
    check_os(r, what)
}

fn setgroups(groups: &[u32]) -> Check {
    // SAFETY: `groups` is valid for `groups.len()` gids.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    check_os(r, format!("setgroups({groups:?})"))
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn observe() -> Result<Creds, String> {
    let (mut uids, mut gids) = ([0u32; 4], [0u32; 4]);
    // SAFETY: out-pointers to our arrays; setfsuid(-1)/setfsgid(-1) change nothing and
    // return the current value.
    unsafe {
        let [r, e, s, fs] = &mut uids;
        check_os(
            libc::syscall(
                libc::SYS_getresuid,
                r as *mut u32,
                e as *mut u32,
                s as *mut u32,
            ),
            "getresuid",
        )?;
        *fs = libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32;
        let [r, e, s, fs] = &mut gids;
        check_os(
            libc::syscall(
                libc::SYS_getresgid,
                r as *mut u32,
                e as *mut u32,
                s as *mut u32,
            ),
            "getresgid",
        )?;
        *fs = libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32;
    }
    let mut groups = vec![0u32; 64];
    // SAFETY: `groups` has room for 64 gids.
    let n = unsafe { libc::syscall(libc::SYS_getgroups, groups.len(), groups.as_mut_ptr()) };
    check_os(n, "getgroups")?;
    groups.truncate(n as usize);
    let (mut bounding, mut ambient) = (0u64, 0u64);
    for cap in 0..=last_cap() {
        let c = libc::c_ulong::from(cap);
        if prctl(libc::PR_CAPBSET_READ, c, 0)? == 1 {
            bounding |= 1 << cap;
        }
        let is_set = libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong;
        if prctl(libc::PR_CAP_AMBIENT, is_set, c)? == 1 {
            ambient |= 1 << cap;
        }
    }
    Ok(Creds {
        tid: gettid(),
        uids,
        gids,
        groups,
        caps: capget()?,
        bounding,
        ambient,
        securebits: prctl(libc::PR_GET_SECUREBITS, 0, 0)?,
    })
}

/// The main thread: leaves root for uids 2001-2004 and gids 1001-1004 with groups 10, 20, 30,
/// keeping CAP_SETUID (effective), CAP_SETGID, CAP_KILL and CAP_NET_BIND_SERVICE (also
/// inheritable and ambient), without CAP_SYS_BOOT and CAP_MKNOD in its bounding set, with
/// SECBIT_KEEP_CAPS and SECBIT_NO_CAP_AMBIENT_RAISE.
fn become_daemon() -> Check {
    setgroups(&[30, 10, 20])?;
    sys3(libc::SYS_setresgid, 1001, 1002, 1003, "setresgid")?;
    // SAFETY: setfsgid takes an integer; it reports the old value, checked below.
    unsafe { libc::syscall(libc::SYS_setfsgid, 1004) };
    prctl(libc::PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0)?;
    sys3(libc::SYS_setresuid, 2001, 2002, 2003, "setresuid")?;
    let kept = bits(&[
        CAP_SETUID,
        CAP_SETGID,
        CAP_SETPCAP,
        CAP_KILL,
        CAP_NET_BIND_SERVICE,
    ]);
    let inheritable = bits(&[CAP_KILL, CAP_NET_BIND_SERVICE]);
    capset(bits(&[CAP_SETUID, CAP_SETPCAP]), kept, inheritable)?;
    // SAFETY: as setfsgid above.
    unsafe { libc::syscall(libc::SYS_setfsuid, 2004) };
    for cap in [CAP_SYS_BOOT, CAP_MKNOD] {
        prctl(libc::PR_CAPBSET_DROP, cap.into(), 0)?;
    }
    let raise = libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong;
    prctl(libc::PR_CAP_AMBIENT, raise, CAP_NET_BIND_SERVICE.into())?;
    let secure = SECBIT_KEEP_CAPS | SECBIT_NO_CAP_AMBIENT_RAISE;
    prctl(libc::PR_SET_SECUREBITS, secure, 0)?;
    capset(
        bits(&[CAP_SETUID]),
        kept & !bits(&[CAP_SETPCAP]),
        inheritable,
    )?;
    // Both were reset by the changes above; a restart must not reset them again.
    prctl(libc::PR_SET_DUMPABLE, 1, 0)?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGWINCH as libc::c_ulong, 0)?;
    Ok(())
}

/// Another thread: uid and gid 3001, group 40, no capabilities.
fn become_user() -> Check {
    setgroups(&[40])?;
    sys3(libc::SYS_setresgid, 3001, 3001, 3001, "setresgid")?;
    sys3(libc::SYS_setresuid, 3001, 3001, 3001, "setresuid")
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let (tx, rx) = mpsc::channel();
    let thread = threads::spawn(move || {
        let before = become_user().and_then(|()| observe());
        let _ = tx.send(before.clone());
        while !was_woken() {
            std::thread::sleep(Duration::from_millis(10));
        }
        check_eq("the other thread's credentials", &observe()?, &before?)
    })?;
    let other = rx
        .recv()
        .map_err(|e| format!("the thread's report: {e}"))??;
    check_eq("the other thread's uids", other.uids, [3001; 4])?;
    check_eq("the other thread's groups", other.groups, vec![40])?;
    check_eq("the other thread's capabilities", other.caps, [0, 0, 0])?;
    become_daemon()?;
    let mine = observe()?;
    check_eq("uids", mine.uids, [2001, 2002, 2003, 2004])?;
    check_eq("gids", mine.gids, [1001, 1002, 1003, 1004])?;
    check_eq("groups", mine.groups.clone(), vec![10, 20, 30])?;
    check_eq("ambient", mine.ambient, bits(&[CAP_NET_BIND_SERVICE]))?;
    Ok(move || {
        wait_restored();
        check_eq("the main thread's credentials", &observe()?, &mine)?;
        check_eq("dumpable", prctl(libc::PR_GET_DUMPABLE, 0, 0)?, 1)?;
        let mut sig: libc::c_int = 0;
        // SAFETY: PR_GET_PDEATHSIG writes an int at the pointer.
        let r = unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig as *mut libc::c_int) };
        check_os(r, "PR_GET_PDEATHSIG")?;
        check_eq("parent-death signal", sig, libc::SIGWINCH)?;
        thread.join(Duration::from_secs(10))
    })
}

/// Sets or clears `cap` in the caller's effective set (it stays permitted).
fn effective(cap: u32, on: bool) {
    let run = || {
        let [e, p, i] = capget()?;
        let e = if on { e | 1 << cap } else { e & !(1 << cap) };
        capset(e, p, i)
    };
    if let Err(e) = run() {
        fail(e);
    }
}

/// Restarts `image` in a child that first changes its own credentials with `prepare`: the
/// restart must fail with EPERM and a log line saying the restarter may not set `what`.
fn refused(image: &str, how: &str, prepare: fn() -> Check, what: &str) {
    let line = format!("the restarter may not set the {what}");
    cr_tests::expect_restart_denied(image, how, prepare, |l| l.contains(&line));
}

/// Takes `caps` out of the caller's effective set (`permitted`: and permitted and inheritable).
fn drop_caps(caps: &[u32], permitted: bool) -> Check {
    let [e, p, i] = capget()?;
    let m = !bits(caps);
    match permitted {
        true => capset(e & m, p & m, i & m),
        false => capset(e & m, p, i),
    }
}

fn no_setuid() -> Check {
    drop_caps(&[CAP_SETUID], false)
}

fn no_kill() -> Check {
    drop_caps(&[CAP_KILL], true)
}

fn no_sys_nice_bound() -> Check {
    prctl(libc::PR_CAPBSET_DROP, CAP_SYS_NICE.into(), 0).map(drop)
}

fn ambient_raise_locked() -> Check {
    prctl(
        libc::PR_SET_SECUREBITS,
        SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
        0,
    )
    .map(drop)
}

/// Without SECBIT_KEEP_CAPS and SECBIT_NO_SETUID_FIXUP, both locked: leaving root by hand
/// would clear the permitted set, so capabilities kept by a non-root task may not be had.
fn fixup_locked() -> Check {
    let locks = SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED;
    prctl(libc::PR_SET_SECUREBITS, locks, 0).map(drop)
}

/// A single-threaded process that left root keeping CAP_KILL (SECBIT_KEEP_CAPS): only a
/// restarter that could keep capabilities when it leaves root may restore it.
fn keeps_caps() {
    let mut target = Target::spawn(|| {
        prctl(libc::PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0)?;
        sys3(libc::SYS_setresuid, 2001, 2001, 2001, "setresuid")?;
        capset(0, bits(&[CAP_KILL]), 0)?;
        let mine = observe()?;
        check_eq("permitted", mine.caps[1], bits(&[CAP_KILL]))?;
        Ok(move || {
            wait_restored();
            check_eq("the credentials", &observe()?, &mine)
        })
    });
    target.checkpoint(KILL);
    let image = target.image_path().to_string();
    refused(
        &image,
        "that may not keep capabilities when it leaves root",
        fixup_locked,
        "capability sets",
    );
    target.restart();
    target.finish();
}

fn refuses_other_user_namespace() {
    let mut target = Target::spawn(|| {
        // SAFETY: a namespace system call on this single-threaded process.
        check_os(
            unsafe { libc::unshare(libc::CLONE_NEWUSER) },
            "unshare(CLONE_NEWUSER)",
        )?;
        Ok(|| {
            wait_restored();
            Ok(())
        })
    });
    target.expect_refused("another user namespace");
    target.finish();
}

fn main() {
    require_root();
    refuses_other_user_namespace();
    keeps_caps();
    let mut target = Target::spawn(setup);
    target.checkpoint(KILL);
    effective(CAP_SETGID, false);
    let result = target.try_restart(0);
    effective(CAP_SETGID, true);
    target.expect_restart_errno(result, libc::EPERM, "restart without CAP_SETGID");
    if !target
        .klog()
        .iter()
        .any(|l| l.contains("the restarter may not set the gids"))
    {
        target.fail("no kernel log line says which credentials the restarter may not set");
    }
    let image = target.image_path().to_string();
    refused(&image, "without CAP_SETUID", no_setuid, "uids");
    refused(&image, "without CAP_KILL", no_kill, "capability sets");
    refused(
        &image,
        "without CAP_SYS_NICE in its bounding set",
        no_sys_nice_bound,
        "capability bounding set",
    );
    refused(
        &image,
        "with SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED",
        ambient_raise_locked,
        "securebits",
    );
    target.restart();
    target.finish();
    pass("ids, groups, capability sets and securebits come back per thread, dumpable and the parent-death signal with them; only for a restarter that may set them");
}
