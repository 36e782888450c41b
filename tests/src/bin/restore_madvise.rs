//! The advice a process gave for its mappings comes back with them: MADV_DONTFORK,
//! MADV_DONTDUMP, MADV_WIPEONFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_RANDOM,
//! MADV_SEQUENTIAL and MADV_MERGEABLE (KSM), and mlock(2). Each
//! mapping shows its flag in /proc/self/smaps after the restart, keeps its data, and a child
//! forked after the restart does not get the MADV_DONTFORK mapping and sees the
//! MADV_WIPEONFORK one zeroed.

use cr_tests::mem::{anon, Mapping};
use cr_tests::vm::reap_within_10s;
use cr_tests::{check_os, pass, wait_restored, Check, Target, KILL};

const PAGE: usize = 4096;
/// Twice a huge page, so that the huge page advice covers a whole aligned huge page.
const HUGE_LEN: usize = 4 << 20;

/// The advised mappings: (what, smaps VmFlags token, mapping, data seed).
struct Advised(Vec<(&'static str, &'static str, Mapping, u64)>);

fn advise(m: &Mapping, advice: libc::c_int, what: &str) -> Check {
    // SAFETY: advice on our own mapping.
    check_os(
        unsafe { libc::madvise(m.ptr().cast(), m.len(), advice) },
        what,
    )
}

fn setup() -> Result<Advised, String> {
    let mut all = Vec::new();
    let cases = [
        ("MADV_DONTFORK", "dc", Some(libc::MADV_DONTFORK), 4 * PAGE),
        ("MADV_DONTDUMP", "dd", Some(libc::MADV_DONTDUMP), 4 * PAGE),
        (
            "MADV_WIPEONFORK",
            "wf",
            Some(libc::MADV_WIPEONFORK),
            4 * PAGE,
        ),
        ("MADV_HUGEPAGE", "hg", Some(libc::MADV_HUGEPAGE), HUGE_LEN),
        (
            "MADV_NOHUGEPAGE",
            "nh",
            Some(libc::MADV_NOHUGEPAGE),
            HUGE_LEN,
        ),
        ("MADV_RANDOM", "rr", Some(libc::MADV_RANDOM), 4 * PAGE),
        (
            "MADV_SEQUENTIAL",
            "sr",
            Some(libc::MADV_SEQUENTIAL),
            4 * PAGE,
        ),
        ("MADV_MERGEABLE", "mg", Some(libc::MADV_MERGEABLE), 4 * PAGE),
        ("mlock", "lo", None, 4 * PAGE),
    ];
    for (i, (what, token, advice, len)) in cases.into_iter().enumerate() {
        let m = anon(len)?;
        match advice {
            Some(a) => advise(&m, a, what)?,
            // SAFETY: locks our own mapping.
            None => check_os(unsafe { libc::mlock(m.ptr().cast(), m.len()) }, what)?,
        }
        m.fill(0x5eed_0000 + i as u64);
        all.push((what, token, m, 0x5eed_0000 + i as u64));
    }
    let advised = Advised(all);
    advised.check()?;
    Ok(advised)
}

/// The VmFlags line of the mapping that starts at `addr`, from /proc/self/smaps.
fn vm_flags(addr: usize) -> Result<String, String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| format!("smaps: {e}"))?;
    let head = format!("{addr:x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
    lines
        .find_map(|l| l.strip_prefix("VmFlags:").map(str::to_string))
        .ok_or_else(|| format!("no mapping at {addr:#x} in /proc/self/smaps"))
}

impl Advised {
    /// Each mapping has its flag and its data.
    fn check(&self) -> Check {
        for (what, token, m, seed) in &self.0 {
            let flags = vm_flags(m.addr())?;
            if !flags.split_whitespace().any(|f| f == *token) {
                return Err(format!(
                    "the {what} mapping at {:#x} has VmFlags{flags}, without {token}",
                    m.addr()
                ));
            }
            m.check(*seed, what)?;
        }
        Ok(())
    }

    fn find(&self, what: &str) -> &Mapping {
        &self
            .0
            .iter()
            .find(|(w, ..)| *w == what)
            .expect("a case of the table")
            .2
    }

    /// In a forked child: the MADV_DONTFORK mapping is gone, the MADV_WIPEONFORK one zeroed.
    fn check_fork(&self) -> Check {
        let gone = self.find("MADV_DONTFORK").addr();
        let wiped = *self.find("MADV_WIPEONFORK");
        // SAFETY: the child only reads /proc and memory, then _exits.
        match unsafe { libc::fork() } {
            -1 => Err(cr_tests::os_error("fork")),
            0 => {
                let ok = vm_flags(gone).is_err() && wiped.check_zero("MADV_WIPEONFORK").is_ok();
                // SAFETY: ends the child without running the parent's exit handlers.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid => match reap_within_10s(pid)? {
                0 => Ok(()),
                s => Err(format!(
                    "a child forked after the restart got the MADV_DONTFORK mapping or unwiped \
                     MADV_WIPEONFORK memory (status {s:#x})"
                )),
            },
        }
    }
}

fn main() {
    let mut target = Target::spawn(|| {
        let advised = setup()?;
        Ok(move || {
            wait_restored();
            advised.check()?;
            advised.check_fork()
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("madvise() advice and mlock() come back with their mappings");
}
