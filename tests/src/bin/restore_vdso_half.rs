//! A process that unmapped its vvar pages and kept the vDSO text comes back the same: the
//! vDSO text at its address, no vvar pages. Restart maps the two together and unmaps the half
//! the image does not list. (The process calls nothing in the vDSO: without the vvar pages
//! its clock functions would fault.)

use cr_tests::proc::{maps_named, MapsEntry};
use cr_tests::{check_eq, check_os, pass, wait_restored, Check, Target, KILL};

/// The vDSO text, which must be mapped, and whether the vvar pages are.
fn halves() -> Result<(MapsEntry, bool), String> {
    let text = maps_named("[vdso]").ok_or("no [vdso] in /proc/self/maps")?;
    Ok((text, maps_named("[vvar]").is_some()))
}

fn main() {
    let mut target = Target::spawn(|| {
        let (text, vvar) = halves()?;
        let vvar_map = maps_named("[vvar]").ok_or("no [vvar] to unmap")?;
        check_eq("[vvar] mapped at first", vvar, true)?;
        // SAFETY: unmaps the vvar pages, which nothing in this process reads from now on.
        let len = vvar_map.end - vvar_map.start;
        check_os(
            unsafe { libc::munmap(vvar_map.start as *mut libc::c_void, len) },
            "munmap [vvar]",
        )?;
        check_eq("[vvar] after munmap", halves()?.1, false)?;
        Ok(move || -> Check {
            wait_restored();
            let (now, vvar) = halves()?;
            check_eq("[vvar] mapped after the restart", vvar, false)?;
            check_eq(
                "[vdso] after the restart",
                (now.start, now.end),
                (text.start, text.end),
            )
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("a process without its vvar pages comes back without them, its vDSO where it was");
}
