//! Zombies come back as zombies, under the same parents, with their exit statuses for the
//! parents to reap; a zombie that leads a process group keeps its group's id for the member
//! that outlived it, and the root is still a child subreaper.
//!
//! ```text
//! root (PR_SET_CHILD_SUBREAPER)
//! ├── z1   exited with status 42, as uid 1234, gid 4321, groups 4322
//! ├── z2   killed by SIGTERM
//! ├── a    alive
//! │   └── z3  exited with status 7
//! ├── zg   setpgid(0, 0), forked g, exited with status 43
//! └── g    zg's orphan, reparented to the root (the subreaper), in zg's group
//! ```
//!
//! The test compares each zombie's name, state, parent, group, session and credentials (uids,
//! gids and groups) from /proc before the checkpoint and after the restart; after the restart
//! the root checks them again, reaps them with their statuses, then wakes a (which reaps z3)
//! and g (which checks it is still in zg's group, now that zg is gone).

use cr_tests::proc::proc_state;
use cr_tests::tree::{descendants, exit_with, ids, wait_gone, wake_and_reap, zombie, Kid, Ready};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

/// From /proc/PID/stat: "(comm) state ppid pgrp session", then the Uid, Gid and Groups lines
/// of /proc/PID/status.
fn stat_ids(pid: libc::pid_t) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start = stat.find('(')?;
    let end = stat.rfind(')')?;
    let rest: Vec<&str> = stat[end + 2..].split(' ').take(4).collect();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let creds: Vec<&str> = status
        .lines()
        .filter(|l| ["Uid:", "Gid:", "Groups:"].iter().any(|k| l.starts_with(k)))
        .collect();
    Some(format!(
        "{} {} {}",
        &stat[start..=end],
        rest.join(" "),
        creds.join(" ")
    ))
}

/// What z1 runs: it takes other credentials, then exits with 42.
fn z1_end() {
    let groups = [4322 as libc::gid_t];
    // SAFETY: the zombie-to-be changes its own credentials, then exits.
    unsafe {
        if libc::setgroups(1, groups.as_ptr()) == 0
            && libc::setresgid(4321, 4321, 4321) == 0
            && libc::setresuid(1234, 1234, 1234) == 0
        {
            libc::_exit(42);
        }
    }
}

/// Reaps the zombie `pid` (a child of the caller) and checks its wait status.
fn reap(pid: libc::pid_t, want: libc::c_int) -> Check {
    check_eq(
        format!("zombie {pid}: state after the restart"),
        proc_state(pid),
        Some('Z'),
    )?;
    let mut status = 0;
    // SAFETY: `status` is valid for the write; `pid` is our child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    check_eq(format!("waitpid({pid}, WNOHANG)"), r, pid)?;
    check_eq(format!("zombie {pid}: wait status"), status, want)
}

/// `a`: forks z3, which exits with 7, and reaps it after the restart.
fn a_setup() -> Result<impl FnOnce() -> Check, String> {
    let z3 = zombie(exit_with(7))?;
    Ok(move || reap(z3, 7 << 8))
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: a flag of the caller's own process.
    check_os(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) },
        "PR_SET_CHILD_SUBREAPER",
    )?;
    let root = std::process::id() as libc::pid_t;
    let sid = ids().2;
    let ready = Ready::new()?;
    let f = ready.forker();
    let z1 = zombie(z1_end)?;
    // SAFETY: the child signals itself; SIGTERM's default action ends it.
    let z2 = zombie(|| unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    })?;
    let a = ready.fork(41, |_| a_setup())?;
    // zg leads a group, forks g into it, and exits: g is left to the root.
    let zg = zombie(move || {
        // SAFETY: zg's own group; g only checks its ids after the restart.
        unsafe {
            libc::close(cr_tests::target::READY_FD);
            if libc::setpgid(0, 0) != 0 {
                return;
            }
        }
        let zg = std::process::id() as libc::pid_t;
        let g = f.fork(44, move |_| {
            Ok(move || check_eq("g: (parent, group, session)", ids(), (root, zg, sid)))
        });
        if g.is_ok() {
            // SAFETY: ends zg with 43, leaving g.
            unsafe { libc::_exit(43) }
        }
    })?;
    ready.wait(2)?;
    let g = cr_tests::proc::children_of(root)
        .into_iter()
        .find(|&p| ![z1, z2, a.pid, zg].contains(&p))
        .ok_or("zg's child g was not reparented to the root")?;
    let kids = [a, Kid { pid: g, code: 44 }];
    Ok(move || {
        wait_restored();
        let mut flag: libc::c_int = 0;
        // SAFETY: PR_GET_CHILD_SUBREAPER writes an int.
        unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut flag) };
        check_eq("PR_GET_CHILD_SUBREAPER after the restart", flag, 1)?;
        reap(z1, 42 << 8)?;
        reap(z2, libc::SIGTERM)?;
        reap(zg, 43 << 8)?;
        wake_and_reap(&kids)
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = descendants(target.pid());
    let zombies: Vec<libc::pid_t> = kids
        .iter()
        .copied()
        .filter(|&p| proc_state(p) == Some('Z'))
        .collect();
    if kids.len() != 6 || zombies.len() != 4 {
        target.fail(format!(
            "the target should have 6 descendants, 4 of them zombies: {kids:?}, {zombies:?}"
        ));
    }
    let before: Vec<Option<String>> = zombies.iter().map(|&z| stat_ids(z)).collect();
    target.checkpoint(KILL);
    wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
    target.restart();
    let after: Vec<Option<String>> = zombies.iter().map(|&z| stat_ids(z)).collect();
    if !before
        .iter()
        .flatten()
        .any(|z| z.contains("Uid:\t1234\t1234\t1234\t1234"))
    {
        target.fail(format!("z1 did not take its credentials: {before:?}"));
    }
    if after != before {
        target.fail(format!(
            "the zombies were {before:?}, are {after:?} after the restart"
        ));
    }
    target.finish();
    pass("four zombies came back under their parents with their statuses and credentials, a zombie group leader kept its group");
}
