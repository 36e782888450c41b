//! What a process set for its whole address space comes back with it, not the restarter's:
//! not dumpable (PR_SET_DUMPABLE 0), a coredump filter of its own, transparent huge pages
//! disabled (PR_SET_THP_DISABLE) and memory-deny-write-execute (PR_SET_MDWE), under which a
//! writable and executable mapping is refused. The coredump filter is checked where the
//! kernel has core dumps (CONFIG_ELF_CORE: /proc/PID/coredump_filter), as the test guest has.

use cr_tests::{check_eq, check_os, pass, Check, Target};

const FILTER: &str = "00000021";
const FILTER_PATH: &str = "/proc/self/coredump_filter";

/// Whether this kernel has a coredump filter.
fn has_filter() -> bool {
    std::path::Path::new(FILTER_PATH).exists()
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> libc::c_int {
    // SAFETY: prctl options that take integers only.
    unsafe { libc::prctl(option, arg, 0, 0, 0) }
}

fn set() -> Check {
    check_os(prctl(libc::PR_SET_DUMPABLE, 0), "PR_SET_DUMPABLE 0")?;
    if has_filter() {
        std::fs::write(FILTER_PATH, format!("0x{FILTER}\n"))
            .map_err(|e| format!("write {FILTER_PATH}: {e}"))?;
    }
    check_os(prctl(libc::PR_SET_THP_DISABLE, 1), "PR_SET_THP_DISABLE")?;
    let mdwe = libc::PR_MDWE_REFUSE_EXEC_GAIN as libc::c_ulong;
    check_os(prctl(libc::PR_SET_MDWE, mdwe), "PR_SET_MDWE")
}

fn check() -> Check {
    check_eq("PR_GET_DUMPABLE", prctl(libc::PR_GET_DUMPABLE, 0), 0)?;
    if has_filter() {
        let filter =
            std::fs::read_to_string(FILTER_PATH).map_err(|e| format!("read {FILTER_PATH}: {e}"))?;
        check_eq("coredump_filter", filter.trim(), FILTER)?;
    }
    check_eq("PR_GET_THP_DISABLE", prctl(libc::PR_GET_THP_DISABLE, 0), 1)?;
    let mdwe = libc::PR_MDWE_REFUSE_EXEC_GAIN as libc::c_int;
    check_eq("PR_GET_MDWE", prctl(libc::PR_GET_MDWE, 0), mdwe)?;
    let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
    // SAFETY: a new anonymous mapping, unmapped at once should it be made.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            rwx,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if at != libc::MAP_FAILED {
        // SAFETY: the mapping just made.
        unsafe { libc::munmap(at, 4096) };
        return Err("a writable and executable mapping was made under MDWE".into());
    }
    Ok(())
}

fn main() {
    Target::round_trip(|| set().and_then(|()| check()), check);
    pass("dumpable, coredump filter, THP disable and MDWE come back with the address space");
}
