//! restart(2) with RESTART_FROZEN leaves every thread of every process of a tree stopped,
//! even with a signal pending, until each process gets SIGCONT; then the tree runs and
//! passes its checks.
//!
//! The tree: the root with a second thread, and a child with two more threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cr_tests::threads::{self, tids_of, Gate, Ident, Thread};
use cr_tests::tree::{descendants, wait_gone, wake_and_reap, Ready};
use cr_tests::{pass, wait_restored, Check, Target, KILL};

/// Starts `n` threads that wait for the restart, then check who they are.
fn threads(n: usize) -> Result<(Arc<Gate>, Vec<Thread>), String> {
    let gate = Arc::new(Gate::default());
    let started = (0..n)
        .map(|i| {
            let gate = gate.clone();
            threads::spawn(move || {
                let id = Ident::take(&format!("t{i}"));
                gate.wait();
                id.check()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((gate, started))
}

/// Lets the threads go and joins them.
fn release(gate: &Gate, started: Vec<Thread>) -> Check {
    gate.open();
    started
        .into_iter()
        .try_for_each(|t| t.join(Duration::from_secs(20)))
}

/// The state letter of thread `tid` of process `pid`.
fn thread_state(pid: libc::pid_t, tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let child = ready.fork(45, |_| {
        let (gate, started) = threads(2)?;
        Ok(move || release(&gate, started))
    })?;
    ready.wait(1)?;
    let (gate, started) = threads(1)?;
    Ok(move || {
        wait_restored();
        release(&gate, started)?;
        wake_and_reap(&[child])
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = descendants(target.pid());
    let pids: Vec<libc::pid_t> = std::iter::once(target.pid())
        .chain(kids.iter().copied())
        .collect();
    let tids: Vec<Vec<libc::pid_t>> = pids.iter().map(|&p| tids_of(p)).collect();
    if tids.iter().map(Vec::len).collect::<Vec<_>>() != [2, 3] {
        target.fail(format!(
            "expected a root with 2 threads and a child with 3, found {tids:?}"
        ));
    }
    target.checkpoint(KILL);
    wait_gone(&kids).unwrap_or_else(|e| target.fail(e));
    target.restart_with(abi::RESTART_FROZEN);
    let all = || {
        pids.iter()
            .zip(&tids)
            .flat_map(|(&p, ts)| ts.iter().map(move |&t| (p, t)))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some((p, t)) = all().find(|&(p, t)| thread_state(p, t) != Some('T')) {
        if Instant::now() > deadline {
            target.fail(format!(
                "thread {t} of {p} is in state {:?}, not stopped",
                thread_state(p, t)
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    target.wake();
    std::thread::sleep(Duration::from_millis(300));
    if let Some((p, t)) = all().find(|&(p, t)| thread_state(p, t) != Some('T')) {
        target.fail(format!(
            "thread {t} of {p} ran before SIGCONT ({:?})",
            thread_state(p, t)
        ));
    }
    for &p in &pids {
        // SAFETY: kill takes integers; the pids are the restored tree's.
        unsafe { libc::kill(p, libc::SIGCONT) };
    }
    target.expect_exit("after SIGCONT, with SIGUSR1 pending");
    pass("RESTART_FROZEN keeps every thread of a tree stopped until SIGCONT");
}
