//! Anonymous memory named with prctl(PR_SET_VMA_ANON_NAME) keeps its names through checkpoint
//! and restart: a private mapping, shared memory, and the lower half of a private mapping
//! whose upper half has no name (the naming split it in two). /proc/self/maps shows each name
//! again, the unnamed half stays unnamed, and the data is intact.

use cr_tests::mem::{anon, mmap, Mapping};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

const PAGE: usize = 4096;

/// A mapping, the name it was given (`None`: none), and its data seed.
struct Named(Vec<(Mapping, Option<&'static str>, u64)>);

fn setup() -> Result<Named, String> {
    let private = anon(4 * PAGE)?;
    let shared = mmap(
        4 * PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
        0,
    )?;
    // Mapped just below the shared memory, which it cannot merge with: its unnamed upper
    // half stays a mapping of its own (a later mapping below could merge with a lower one).
    let halves = anon(8 * PAGE)?;
    let (lower, upper) = (halves.part(0, 4 * PAGE), halves.part(4 * PAGE, 4 * PAGE));
    private.name("cr private")?;
    shared.name("cr-shared:1")?;
    lower.name("cr half")?;
    let named = Named(vec![
        (private, Some("cr private"), 1),
        (shared, Some("cr-shared:1"), 2),
        (lower, Some("cr half"), 3),
        (upper, None, 4),
    ]);
    for (m, _, seed) in &named.0 {
        m.fill(*seed);
    }
    named.check()?;
    Ok(named)
}

impl Named {
    /// Each mapping shows its name, or none, in /proc/self/maps, and holds its data.
    fn check(&self) -> Check {
        let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("maps: {e}"))?;
        for (m, name, seed) in &self.0 {
            let head = format!("{:x}-{:x} ", m.addr(), m.addr() + m.len());
            let line = maps
                .lines()
                .find(|l| l.starts_with(&head))
                .ok_or_else(|| format!("no mapping {head}in /proc/self/maps:\n{maps}"))?;
            // The path column: after the 5 fields of address, perms, offset, dev and inode.
            let shown = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            let want = match name {
                Some(n) if line.contains("rw-s") => format!("[anon_shmem:{n}]"),
                Some(n) => format!("[anon:{n}]"),
                None => String::new(),
            };
            check_eq(format_args!("the name of {head}"), shown.as_str(), &want)?;
            m.check(*seed, &want)?;
        }
        Ok(())
    }
}

fn main() {
    let mut target = Target::spawn(|| {
        let named = setup()?;
        Ok(move || {
            wait_restored();
            named.check()
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("named private and shared anonymous memory, and a half-named mapping, show the same names after restart, with their data");
}
