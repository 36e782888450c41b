//! The audit login uid (/proc/PID/loginuid) comes back with each task: one a target set for
//! itself, and none (unset) for a target that never had one, restarted by a restarter that has
//! one. Setting another task's login uid over one of the restarter's own needs
//! CAP_AUDIT_CONTROL, as writing /proc/self/loginuid does: without it the restart fails with
//! EPERM and a log line naming the login uid, and leaves nothing behind.

use cr_tests::caps::{capget, capset, drop_effective};
use cr_tests::{check_eq, pass, wait_restored, Check, Target, KILL};

/// `CAP_AUDIT_CONTROL`.
const CAP_AUDIT_CONTROL: u32 = 30;
/// The target's login uid, and the restarter's.
const TARGET: &str = "4242";
const RESTARTER: &str = "777";
/// What /proc/PID/loginuid shows for none.
const UNSET: &str = "4294967295";

fn loginuid() -> Result<String, String> {
    std::fs::read_to_string("/proc/self/loginuid").map_err(|e| format!("/proc/self/loginuid: {e}"))
}

fn set_loginuid(uid: &str) -> Check {
    std::fs::write("/proc/self/loginuid", uid).map_err(|e| format!("loginuid {uid}: {e}"))
}

/// A target whose login uid is `uid` (`None`: unset, over the one it inherits from the
/// test), which it checks after the restart.
fn target(uid: Option<&'static str>) -> Target {
    let want = uid.unwrap_or(UNSET);
    Target::spawn(move || {
        set_loginuid(want)?;
        check_eq("the target's login uid", loginuid()?.as_str(), want)?;
        Ok(move || {
            wait_restored();
            check_eq(
                "the login uid after the restart",
                loginuid()?.as_str(),
                want,
            )
        })
    })
}

fn main() {
    // The test has no login uid yet, so restoring one needs no privilege.
    let mut own = target(Some(TARGET));
    own.cycle();
    own.finish();

    // With a login uid of its own, the restarter needs CAP_AUDIT_CONTROL to give the target
    // another one, or none.
    set_loginuid(RESTARTER).unwrap_or_else(|e| cr_tests::fail(e));
    for uid in [Some(TARGET), None] {
        let mut t = target(uid);
        t.checkpoint(KILL);
        let caps = capget().unwrap_or_else(|e| t.fail(e));
        drop_effective(CAP_AUDIT_CONTROL).unwrap_or_else(|e| t.fail(e));
        let result = t.try_restart(0);
        capset(caps[0], caps[1], caps[2]).unwrap_or_else(|e| t.fail(e));
        t.expect_restart_errno(result, libc::EPERM, "restart without CAP_AUDIT_CONTROL");
        if !cr_tests::log_names(t.klog(), "audit login uid") {
            t.fail("no kernel log line names the audit login uid");
        }
        t.restart();
        t.finish();
    }
    pass("login uids come back, set or unset; over the restarter's own only with CAP_AUDIT_CONTROL (EPERM without)");
}
