//! Memory locked on fault (mlock2(MLOCK_ONFAULT)) and an address space whose future mappings
//! are locked (mlockall(MCL_FUTURE)) are refused with EOPNOTSUPP and a log line naming them:
//! restart would lock and fault in the first, and not lock what the second maps next. Both
//! targets keep running, their memory still locked.

use cr_tests::mem::anon;
use cr_tests::{check_os, pass, wait_restored, Target};

/// `Ok` if the calling process has some memory locked (VmLck in /proc/self/status).
fn has_locked_memory() -> Result<(), String> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| format!("status: {e}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    match kb {
        Some(kb) if kb > 0 => Ok(()),
        other => Err(format!("VmLck is {other:?} kB: nothing locked")),
    }
}

fn main() {
    let mut on_fault = Target::spawn(|| {
        let m = anon(16 * 4096)?;
        // SAFETY: locks our own mapping.
        check_os(
            unsafe { libc::mlock2(m.ptr().cast(), m.len(), libc::MLOCK_ONFAULT) },
            "mlock2(MLOCK_ONFAULT)",
        )?;
        m.fill(1);
        has_locked_memory()?;
        Ok(|| {
            wait_restored();
            has_locked_memory()
        })
    });
    on_fault.expect_refused("MLOCK_ONFAULT");
    on_fault.finish();

    let mut future = Target::spawn(|| {
        // SAFETY: no pointers.
        check_os(
            unsafe { libc::mlockall(libc::MCL_FUTURE) },
            "mlockall(MCL_FUTURE)",
        )?;
        let m = anon(16 * 4096)?;
        m.fill(2);
        has_locked_memory()?;
        Ok(|| {
            wait_restored();
            has_locked_memory()
        })
    });
    future.expect_refused("mlockall");
    future.finish();
    pass("memory locked on fault and mlockall(MCL_FUTURE) are refused by name and run on");
}
