//! A pipe shared by three processes comes back with its bytes in flight and a writer still
//! asleep on it, and a splice asleep on an empty pipe keeps waiting. The target and its two
//! children, the filler and the writer, hold both ends of P, a pipe of 8 KiB (F_SETPIPE_SZ)
//! filled to its size by a write of the target's and one of the filler's; the writer sleeps
//! in a write() of 3000 more bytes. The splicer, a third child, sleeps in splice() from the
//! empty pipe Q to the pipe D.
//!
//! After the restart the writer and the splicer sleep in the very calls they made (their
//! /proc/PID/syscall: the same numbers and arguments) and every fd of the pipes a child holds
//! is the target's own file (kcmp), as fork left them. The target drains P: exactly its 8 KiB
//! in flight, then the writer's bytes, whose write() returns its full count, then nothing;
//! the filler, woken, writes a marker that the target reads through P. The target writes 4000
//! bytes into Q: the splice returns all of them and D holds exactly them. Every byte is its
//! offset's in one pattern, so a write lost, doubled or out of place at a boundary shows.

use std::os::fd::RawFd;

use cr_tests::proc::{proc_state, syscall_text};
use cr_tests::target::{fork_checker, os_error};
use cr_tests::tree::{self, Forker, Kid, Ready};
use cr_tests::{
    byte_pattern, check_byte_pattern, check_eq, check_os, fd_link, fionread, pass, pipe_at,
    pipe_size, poll_in, read_exact, wait_restored, write_all, Check, Target,
};

const P_R: RawFd = 20;
const P_W: RawFd = 21;
const Q_R: RawFd = 22;
const Q_W: RawFd = 23;
const D_R: RawFd = 24;
const D_W: RawFd = 25;

/// P's size: two pages, two buffers.
const SIZE: usize = 8192;
/// The target's part of P's bytes: a page and 904 bytes, whose buffer the filler's write
/// fills up (it merges into it), so that P is full and holds exactly its size.
const OURS: usize = 5000;
/// What the writer writes into the full P: at most PIPE_BUF bytes, which go in whole or not
/// at all, so that its write has written nothing when the checkpoint interrupts it.
const BLOCKED: usize = 3000;
/// What the filler writes into P once woken after the restart.
const MARKER: &[u8] = b"the filler, after the restart";
/// What the target writes into Q for the splicer, in one write of at most PIPE_BUF bytes.
const SPLICED: usize = 4000;
/// Where in the pattern Q's bytes start: far past P's, whose bytes in D would show.
const SPLICE_FROM: usize = 1 << 20;
/// What the splicer asks for: more than comes, so that it returns what it found.
const ASK: usize = 64 << 10;
/// `KCMP_FILE` of <linux/kcmp.h>.
const KCMP_FILE: libc::c_long = 0;

/// `len` bytes of [`byte_pattern`] from offset `from`.
fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(byte_pattern).collect()
}

/// The target's children, and the address of the writer's bytes (in the writer, a copy of
/// the target, the same as in the target when it forked).
struct Kids {
    filler: Kid,
    writer: Kid,
    splicer: Kid,
    writer_buf: u64,
}

/// The filler: its part of P's bytes, then, once woken after the restart, a marker.
fn filler(_: Forker) -> Result<impl FnOnce() -> Check, String> {
    write_all(P_W, &pattern(OURS, SIZE - OURS))?;
    Ok(|| write_all(P_W, MARKER))
}

/// The splicer: asleep in splice() from the empty Q until the target writes into it after
/// the restart; the splice must return all of the target's bytes, moved into D.
fn splicer() -> Check {
    let what = "the splice from Q to D, asleep across the restart";
    // SAFETY: splice between two pipes of ours, without offsets.
    let n = unsafe { libc::splice(Q_R, std::ptr::null_mut(), D_W, std::ptr::null_mut(), ASK, 0) };
    match n {
        -1 => Err(os_error(what)),
        n if n as usize == SPLICED => Ok(()),
        n => Err(format!(
            "{what} returned {n}, expected the {SPLICED} bytes the target writes after the restart"
        )),
    }
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    pipe_at(P_R, P_W, 0)?;
    // SAFETY: fcntl on our own fd.
    let r = unsafe { libc::fcntl(P_W, libc::F_SETPIPE_SZ, SIZE as libc::c_int) };
    check_os(r, "F_SETPIPE_SZ of P")?;
    check_eq("P's size", pipe_size(P_R)?, SIZE)?;
    write_all(P_W, &pattern(0, OURS))?;
    // The filler's bytes must be in before the writer writes: it says ready once they are.
    let ready = Ready::new()?;
    let filler = ready.fork(0, filler)?;
    ready.wait(1)?;
    check_eq("P's bytes once full", fionread(P_R)?, SIZE)?;

    pipe_at(Q_R, Q_W, 0)?;
    pipe_at(D_R, D_W, 0)?;
    let blocked = pattern(SIZE, BLOCKED);
    let writer_buf = blocked.as_ptr() as u64;
    let writer = fork_checker(move || {
        write_all(P_W, &blocked)
            .map_err(|e| format!("the writer's write() into P, asleep across the restart: {e}"))
    })?;
    let splicer = fork_checker(splicer)?;
    let kids = Kids {
        filler,
        writer: Kid {
            pid: writer,
            code: 0,
        },
        splicer: Kid {
            pid: splicer,
            code: 0,
        },
        writer_buf,
    };
    Ok(move || {
        wait_restored();
        check(&kids)
    })
}

/// In the target, after the restart: the exchange, then the children's exit statuses; if the
/// exchange failed, each child is killed and what became of it told.
fn check(k: &Kids) -> Check {
    let kids = [k.filler, k.writer, k.splicer];
    match exchange(k) {
        Ok(()) => tree::reap(&kids),
        Err(e) => Err(kids
            .into_iter()
            .fold(e, |e, kid| tree::kill_checker(kid, e))),
    }
}

fn exchange(k: &Kids) -> Check {
    check_eq("P's size", pipe_size(P_R)?, SIZE)?;
    check_eq("P's bytes", fionread(P_R)?, SIZE)?;
    check_eq("Q's bytes", fionread(Q_R)?, 0)?;
    check_eq("D's bytes", fionread(D_R)?, 0)?;
    check_shared(k)?;
    // Nothing has read P or written Q yet: both still wait, in the calls they made.
    let write = [
        libc::SYS_write as u64,
        P_W as u64,
        k.writer_buf,
        BLOCKED as u64,
    ];
    check_asleep_in(k.writer.pid, "the writer", &write)?;
    let splice = [
        libc::SYS_splice as u64,
        Q_R as u64,
        0,
        D_W as u64,
        0,
        ASK as u64,
        0,
    ];
    check_asleep_in(k.splicer.pid, "the splicer", &splice)?;

    let in_flight = read_exact(P_R, SIZE)?;
    check_byte_pattern("P's bytes in flight", &in_flight, 0)?;
    // The read made room: the writer's bytes go in, whole.
    expect_bytes(P_R, BLOCKED, "the writer's bytes on P")?;
    let blocked = read_exact(P_R, BLOCKED)?;
    check_byte_pattern("the writer's bytes on P", &blocked, SIZE)?;

    tree::wake(&[k.filler])?;
    expect_bytes(P_R, MARKER.len(), "the filler's marker on P")?;
    let marker = read_exact(P_R, MARKER.len())?;
    check_eq("the filler's marker on P", marker, MARKER.to_vec())?;

    write_all(Q_W, &pattern(SPLICE_FROM, SPLICED))?;
    expect_bytes(D_R, SPLICED, "the splicer's bytes on D")?;
    check_eq("Q's bytes after the splice", fionread(Q_R)?, 0)?;
    let moved = read_exact(D_R, SPLICED)?;
    check_byte_pattern("D's bytes", &moved, SPLICE_FROM)
}

/// Each pipe's two ends in the target are one pipe, and every fd of the pipes a child holds
/// (the filler was forked before Q and D were made) is the target's own file of that fd, as
/// fork left them: one file in all three processes, not one each.
fn check_shared(k: &Kids) -> Check {
    for (r, w, name) in [(P_R, P_W, "P"), (Q_R, Q_W, "Q"), (D_R, D_W, "D")] {
        check_eq(
            format_args!("the pipe of {name}'s write end, against its read end's"),
            fd_link(w)?,
            fd_link(r)?,
        )?;
    }
    let all = [P_R, P_W, Q_R, Q_W, D_R, D_W];
    let holders = [
        (k.filler, "the filler", &all[..2]),
        (k.writer, "the writer", &all[..]),
        (k.splicer, "the splicer", &all[..]),
    ];
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    for (kid, who, fds) in holders {
        for &fd in fds {
            let (fd, pid) = (fd as libc::c_long, kid.pid as libc::c_long);
            // SAFETY: kcmp compares two processes' files by number; no memory is involved.
            let r = unsafe {
                libc::syscall(libc::SYS_kcmp, me as libc::c_long, pid, KCMP_FILE, fd, fd)
            };
            check_os(r, format_args!("kcmp of fd {fd} with {who}'s"))?;
            if r != 0 {
                return Err(format!(
                    "{who}'s fd {fd} is another file than the target's fd {fd} (kcmp {r})"
                ));
            }
        }
    }
    Ok(())
}

/// `who` (`pid`) is asleep (state S) in the system call `call[0]` with the arguments
/// `call[1..]`, as /proc/PID/syscall shows them: the call it made before the checkpoint,
/// made again with its arguments.
fn check_asleep_in(pid: libc::pid_t, who: &str, call: &[u64]) -> Check {
    check_eq(format_args!("{who}'s state"), proc_state(pid), Some('S'))?;
    let text = syscall_text(pid, pid);
    // The number in decimal, then the arguments in hex.
    let got: Vec<u64> = text
        .split_whitespace()
        .take(call.len())
        .enumerate()
        .filter_map(|(i, w)| match i {
            0 => w.parse().ok(),
            _ => u64::from_str_radix(w.trim_start_matches("0x"), 16).ok(),
        })
        .collect();
    check_eq(
        format_args!(
            "{who}'s system call and arguments (/proc/{pid}/syscall: {:?})",
            text.trim()
        ),
        got,
        call.to_vec(),
    )
}

/// Waits up to 10 s for `fd` to be readable; `Err` unless it then holds exactly `len` bytes.
fn expect_bytes(fd: RawFd, len: usize, what: &str) -> Check {
    if poll_in(fd, 10_000)? == 0 {
        return Err(format!("{what}: none came within 10 s"));
    }
    // FIONREAD takes the pipe's lock: a write or splice under way ends first.
    check_eq(format_args!("{what} (FIONREAD)"), fionread(fd)?, len)
}

fn main() {
    let mut target = Target::spawn(setup);
    target.restart_with_children_asleep(
        3,
        "for the writer to sleep in write() and the splicer in splice()",
    );
    target.finish();
    pass("a pipe shared by three processes keeps its bytes in flight and its writer asleep, and a splice asleep on an empty pipe keeps waiting");
}
