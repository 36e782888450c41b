//! Protections survive checkpoint and restart: a read-only region keeps its data, a PROT_NONE
//! region stays inaccessible and holds its data once made readable again, an executable region
//! still runs, and a mapping split by mprotect keeps its three parts; /proc/self/maps shows the
//! same permissions.

use cr_tests::mem::{anon, Mapping, PAGE};
use cr_tests::proc::check_mapping;
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// `mov eax, 42; ret`
const CODE: [u8; 6] = [0xb8, 42, 0, 0, 0, 0xc3];

struct Regions {
    read_only: Mapping,
    none: Mapping,
    code: Mapping,
    split: Mapping,
}

fn setup() -> Result<Regions, String> {
    let r = Regions {
        read_only: anon(4 * PAGE)?,
        none: anon(2 * PAGE)?,
        code: anon(PAGE)?,
        split: anon(3 * PAGE)?,
    };
    r.read_only.fill(1);
    r.read_only.protect(libc::PROT_READ)?;
    r.none.fill(2);
    r.none.protect(libc::PROT_NONE)?;
    // SAFETY: `code` is a fresh writable page of our own.
    unsafe { std::ptr::copy_nonoverlapping(CODE.as_ptr(), r.code.ptr(), CODE.len()) };
    r.code.protect(libc::PROT_READ | libc::PROT_EXEC)?;
    r.split.fill(3);
    r.split.part(PAGE, PAGE).protect(libc::PROT_READ)?;
    Ok(r)
}

fn check_maps(r: &Regions) -> Check {
    check_mapping(r.read_only.addr(), 4 * PAGE, "r--p")?;
    check_mapping(r.none.addr(), 2 * PAGE, "---p")?;
    check_mapping(r.code.addr(), PAGE, "r-xp")?;
    check_mapping(r.split.addr(), PAGE, "rw-p")?;
    check_mapping(r.split.addr() + PAGE, PAGE, "r--p")?;
    check_mapping(r.split.addr() + 2 * PAGE, PAGE, "rw-p")
}

fn check(r: &Regions) -> Check {
    check_maps(r)?;
    r.read_only.check(1, "read-only region")?;
    r.split.check(3, "split region")?;
    // SAFETY: `code` holds CODE, a function of the C ABI taking nothing and returning eax.
    let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(r.code.ptr()) };
    check_eq("the executable region's function", f(), 42)?;
    r.none.protect(libc::PROT_READ)?;
    r.none.check(2, "PROT_NONE region made readable")
}

fn main() {
    let mut target = Target::spawn(|| {
        let regions = setup()?;
        check_maps(&regions)?;
        Ok(move || {
            wait_restored();
            check(&regions)
        })
    });
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    pass("read-only, PROT_NONE, executable and split regions restored with their protections");
}
