//! A process's OOM score adjustment comes back with its floor: a process that set -500 with
//! CAP_SYS_RESOURCE (the floor), gave that capability up and raised its score to 300 finds 300
//! after the restart, may go back down to -500 but not to -501 (EACCES), as before. The score
//! is not the restarter's, and a restarter whose own floor is higher and who lacks
//! CAP_SYS_RESOURCE gets EPERM and a log line, with nothing left behind.

use cr_tests::caps::drop_effective;
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

const CAP_SYS_RESOURCE: u32 = 24;
const PATH: &str = "/proc/self/oom_score_adj";

fn set(value: i32) -> Result<(), std::io::Error> {
    std::fs::write(PATH, value.to_string())
}

fn get() -> Result<i32, String> {
    let text = std::fs::read_to_string(PATH).map_err(|e| format!("read {PATH}: {e}"))?;
    text.trim()
        .parse()
        .map_err(|e| format!("{PATH}: {text:?}: {e}"))
}

fn set_ok(value: i32) -> Check {
    set(value).map_err(|e| format!("write {value} to {PATH}: {e}"))
}

/// The score is 300, the floor -500: checked by moving down to it and failing below it.
fn verify() -> Check {
    check_eq("oom_score_adj", get()?, 300)?;
    match set(-501) {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {}
        r => {
            return Err(format!(
                "writing -501, below the floor of -500, gave {r:?}, not EACCES"
            ))
        }
    }
    set_ok(-500)?;
    check_eq("oom_score_adj at its floor", get()?, -500)
}

fn main() {
    let mut target = Target::spawn(|| {
        set_ok(-500)?;
        drop_effective(CAP_SYS_RESOURCE)?;
        set_ok(300)?;
        Ok(|| {
            wait_restored();
            verify()
        })
    });
    target.checkpoint(KILL);
    // The restarter's floor is 0 and it may not lower it.
    cr_tests::expect_restart_denied(
        target.image_path(),
        "with a floor of 0 and no CAP_SYS_RESOURCE",
        || {
            set_ok(0)?;
            drop_effective(CAP_SYS_RESOURCE)
        },
        |l| l.contains("oom_score_adj") && l.contains("CAP_SYS_RESOURCE"),
    );
    target.restart();
    target.finish();
    pass("oom_score_adj and its floor come back; a restarter may not lower the floor without CAP_SYS_RESOURCE");
}
