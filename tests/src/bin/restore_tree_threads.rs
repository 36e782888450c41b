//! Threads and processes together: each child comes back as the child of the very thread that
//! forked it, and that thread, not another one of its process, waits for it.
//!
//! ```text
//! root      main thread + thread t
//! └── a     forked by t; setsid(); main thread + thread a2
//!     └── g forked by a2; setpgid(0, 0)
//! ```
//!
//! After the restart every thread checks its identity (tid, fs base, thread-local value,
//! mask, name), every process its parent, group and session; each forking thread wakes its
//! child and reaps it with `__WNOTHREAD`, which only its parent thread can; the root's main
//! thread must find no child of its own.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use cr_tests::threads::{self, reap_own_child, tids_of, Gate, Ident};
use cr_tests::tree::{check_ids, ids, Forker, Kid, Ready};
use cr_tests::{check_os, pass, wait_restored, Check, Target};

/// How long a thread may take to end after it was let go.
const JOIN: Duration = Duration::from_secs(20);

/// Starts a thread that forks a child with `fork` right away, and once `gate` opens checks
/// itself, wakes the child and reaps it.
fn forking_thread(
    name: &'static str,
    gate: Arc<Gate>,
    fork: impl FnOnce() -> Result<Kid, String> + Send + 'static,
) -> Result<(threads::Thread, Kid), String> {
    let (tx, rx) = mpsc::channel();
    let thread = threads::spawn(move || {
        let id = Ident::take(name);
        let kid = fork();
        let _ = tx.send(kid.clone());
        let kid = kid?;
        gate.wait();
        id.check()?;
        // SAFETY: kill takes integers; `kid.pid` is this thread's unreaped child.
        check_os(
            unsafe { libc::kill(kid.pid, libc::SIGUSR1) },
            "wake the child",
        )?;
        reap_own_child(kid.pid, kid.code)
    })?;
    let kid = rx
        .recv()
        .map_err(|_| format!("thread {name} ended before it forked"))??;
    Ok((thread, kid))
}

/// In `a`: a new session, a second thread that forks `g`.
fn a_setup(f: Forker) -> Result<impl FnOnce() -> Check, String> {
    // SAFETY: makes the caller a session leader; it is not a group leader.
    check_os(unsafe { libc::setsid() }, "setsid")?;
    let gate = Arc::new(Gate::default());
    let (a2, _g) = forking_thread("a2", gate.clone(), move || {
        f.fork(46, |_| {
            // SAFETY: changes only the caller's own process group.
            check_os(unsafe { libc::setpgid(0, 0) }, "setpgid(0, 0)")?;
            let want = ids();
            Ok(move || check_ids(want))
        })
    })?;
    let me = Ident::take("a");
    let want = ids();
    Ok(move || {
        check_ids(want)?;
        me.check()?;
        gate.open();
        a2.join(JOIN)
    })
}

fn setup() -> Result<impl FnOnce() -> Check, String> {
    let ready = Ready::new()?;
    let f = ready.forker();
    let gate = Arc::new(Gate::default());
    let (t, _a) = forking_thread("t", gate.clone(), move || f.fork(45, a_setup))?;
    ready.wait(2)?;
    let me = Ident::take("root");
    let want = ids();
    Ok(move || {
        wait_restored();
        check_ids(want)?;
        me.check()?;
        // SAFETY: a non-blocking wait for a child of this thread only.
        let r =
            unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG | libc::__WNOTHREAD) };
        if r != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ECHILD) {
            return Err(format!(
                "the main thread has a child of its own ({r}): a is not t's"
            ));
        }
        gate.open();
        t.join(JOIN)
    })
}

fn main() {
    let mut target = Target::spawn(setup);
    let kids = target.descendants(2);
    let threads: Vec<Vec<libc::pid_t>> = std::iter::once(target.pid())
        .chain(kids.iter().copied())
        .map(tids_of)
        .collect();
    if threads.iter().map(Vec::len).collect::<Vec<_>>() != [2, 2, 1] {
        target.fail(format!("expected 2, 2 and 1 threads, found {threads:?}"));
    }
    target.cycle_tree(&kids);
    for (pid, tids) in std::iter::once(target.pid())
        .chain(kids.iter().copied())
        .zip(&threads)
    {
        let now = tids_of(pid);
        if &now != tids {
            target.fail(format!(
                "process {pid} has threads {now:?} after the restart, had {tids:?}"
            ));
        }
    }
    target.finish();
    pass("a tree of threaded processes came back with each child under the thread that forked it");
}
