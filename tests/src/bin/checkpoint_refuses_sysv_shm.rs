//! A process with a SysV shared memory segment attached (shmat) is refused with EOPNOTSUPP
//! and a log line naming it and the mapping: restart does not attach segments yet, and saved
//! as plain shared memory the mapping would come back detached from its segment (shmdt()
//! would fail). The target keeps running, still attached.

use cr_tests::{check_eq, check_os, pass, wait_restored, Target};

fn main() {
    let mut target = Target::spawn(|| {
        // SAFETY: a new private segment, attached where the kernel chooses; every result is
        // checked. Removed at once, it goes away with its last attachment.
        let (id, at) = unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            check_os(id, "shmget")?;
            let at = libc::shmat(id, std::ptr::null(), 0);
            if at as isize == -1 {
                return Err(cr_tests::os_error("shmat"));
            }
            check_os(
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
                "shmctl(IPC_RMID)",
            )?;
            at.cast::<u64>().write_volatile(0x5359_5356);
            (id, at as usize)
        };
        Ok(move || {
            wait_restored();
            // SAFETY: the segment is still attached at `at` (the checkpoint was refused).
            let word = unsafe { (at as *const u64).read_volatile() };
            check_eq(format!("word of segment {id}"), word, 0x5359_5356)?;
            // SAFETY: detaches the segment attached at `at`.
            check_os(unsafe { libc::shmdt(at as *const libc::c_void) }, "shmdt")
        })
    });
    target.expect_refused("SysV");
    target.finish();
    pass("a process with a SysV shared memory segment attached is refused by name and runs on");
}
