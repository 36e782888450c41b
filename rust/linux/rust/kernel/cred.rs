// SPDX-License-Identifier: GPL-2.0

//! Credentials: a task's ids, supplementary groups, capability sets and securebits as the
//! current task's user namespace names them, its audit login uid and session, and the current
//! task's capability checks.
//!
//! C headers: [`include/linux/cred.h`](srctree/include/linux/cred.h),
//! [`include/linux/capability.h`](srctree/include/linux/capability.h),
//! [`include/linux/audit.h`](srctree/include/linux/audit.h)

use crate::{
    bindings,
    error::{code::*, Error, Result},
    str::CStr,
    task::Task,
};

/// Whether the current task has capability `cap` (`CAP_*`) in the initial user namespace, as
/// `capable()` answers (which marks the task as having used a privilege).
///
/// A capability the kernel does not know is not held (`capable()` itself would `BUG()`).
pub fn capable(cap: u32) -> bool {
    if cap > bindings::CAP_LAST_CAP {
        return false;
    }
    // SAFETY: `capable()` acts on the current task, which is valid while it runs; `cap` is
    // one it knows (`cap_valid()`), checked above.
    unsafe { bindings::capable(cap as i32) }
}

/// A task's ids, capability sets and securebits, as the current task's user namespace names
/// the ids.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Ids {
    /// Real, effective, saved and filesystem uid; `u32::MAX` for one the namespace cannot name.
    pub uid: [u32; 4],
    /// Real, effective, saved and filesystem gid, as `uid`.
    pub gid: [u32; 4],
    /// The inheritable capability set.
    pub cap_inheritable: u64,
    /// The permitted capability set.
    pub cap_permitted: u64,
    /// The effective capability set.
    pub cap_effective: u64,
    /// The bounding set.
    pub cap_bset: u64,
    /// The ambient set.
    pub cap_ambient: u64,
    /// `SECBIT_*`.
    pub securebits: u32,
}

impl Ids {
    fn from_c(c: &bindings::checkpoint_creds) -> Ids {
        Ids {
            uid: [c.uid, c.euid, c.suid, c.fsuid],
            gid: [c.gid, c.egid, c.sgid, c.fsgid],
            cap_inheritable: c.cap_inheritable,
            cap_permitted: c.cap_permitted,
            cap_effective: c.cap_effective,
            cap_bset: c.cap_bset,
            cap_ambient: c.cap_ambient,
            securebits: c.securebits,
        }
    }

    fn to_c(self, groups: &[u32]) -> Result<bindings::checkpoint_creds> {
        Ok(bindings::checkpoint_creds {
            uid: self.uid[0],
            euid: self.uid[1],
            suid: self.uid[2],
            fsuid: self.uid[3],
            gid: self.gid[0],
            egid: self.gid[1],
            sgid: self.gid[2],
            fsgid: self.gid[3],
            cap_inheritable: self.cap_inheritable,
            cap_permitted: self.cap_permitted,
            cap_effective: self.cap_effective,
            cap_bset: self.cap_bset,
            cap_ambient: self.cap_ambient,
            securebits: self.securebits,
            ngroups: u32::try_from(groups.len()).map_err(|_| EINVAL)?,
            // Only read (the C side takes the structure as const).
            groups: groups.as_ptr().cast_mut(),
        })
    }
}

/// Why [`set_current`] refused credentials: the error, and which of them it could not set
/// ("uids", "supplementary groups", ...).
pub struct SetError {
    /// `EINVAL` for credentials no task can have, `EPERM` for what the current task may not
    /// take, `EBUSY` while it runs with overridden credentials, `EAGAIN` or `ENOMEM` if
    /// memory is short, or `EINTR` if it was killed.
    pub error: Error,
    /// What could not be set.
    pub what: &'static CStr,
}

/// [`Task::ids`] of `task`.
///
/// # Safety
///
/// `task` must be a valid task for the duration of the call.
#[cfg(CONFIG_CHECKPOINT)]
unsafe fn ids_of(task: *mut bindings::task_struct, groups: &mut [u32]) -> Result<(Ids, usize)> {
    // SAFETY: the credentials are plain data; all zero is a valid value, which the callee
    // overwrites.
    let mut c: bindings::checkpoint_creds = unsafe { core::mem::zeroed() };
    c.groups = groups.as_mut_ptr();
    let room = u32::try_from(groups.len()).unwrap_or(u32::MAX);
    // SAFETY: the caller guarantees the task is valid; the callee reads its credentials under
    // RCU and writes at most `room` groups to `c.groups`, which has room for `groups.len()`.
    let ret = unsafe { bindings::checkpoint_task_creds(task, &mut c, room) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok((Ids::from_c(&c), c.ngroups as usize))
}

/// The current task's ids, capability sets and securebits, and its number of supplementary
/// groups, as [`Task::ids`] gives them.
#[cfg(CONFIG_CHECKPOINT)]
pub fn current_ids(groups: &mut [u32]) -> Result<(Ids, usize)> {
    // SAFETY: the current task is valid while it runs this.
    unsafe { ids_of(bindings::get_current(), groups) }
}

#[cfg(CONFIG_CHECKPOINT)]
impl Task {
    /// The task's ids, capability sets and securebits, and its number of supplementary groups,
    /// which are written to `groups` if they fit (past that, `groups` is left as it was).
    ///
    /// Returns `EOPNOTSUPP` for credentials that belong to another user namespace than the
    /// current task's: their ids would mean nothing in it.
    pub fn ids(&self, groups: &mut [u32]) -> Result<(Ids, usize)> {
        // SAFETY: the task is valid (type invariant).
        unsafe { ids_of(self.as_ptr(), groups) }
    }

    /// The task's audit login uid (`/proc/PID/loginuid`) as the current task's user namespace
    /// names it, `None` if it has none; `EOVERFLOW` for one the namespace cannot name.
    pub fn audit_loginuid(&self) -> Result<Option<u32>> {
        let mut uid = 0;
        // SAFETY: the task is valid; the login uid is one word, which only the task itself
        // changes.
        let ret = unsafe { bindings::checkpoint_task_loginuid(self.as_ptr(), &mut uid) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok((uid != u32::MAX).then_some(uid))
    }

    /// The task's audit session id (`/proc/PID/sessionid`): `u32::MAX` for none.
    pub fn audit_sessionid(&self) -> u32 {
        // SAFETY: the task is valid; the session id is one word, which only the task itself
        // changes.
        unsafe { bindings::checkpoint_task_sessionid(self.as_ptr()) }
    }
}

/// Gives the current task the ids, capability sets and securebits `ids` and the supplementary
/// groups `groups`, all at once, if it could take each by hand from the credentials it has:
/// as setresuid(2), setfsuid(2), setresgid(2), setfsgid(2), setgroups(2), capset(2) and
/// prctl(2) allow them, with the LSM hooks of the set*id calls and capset(2). A group of
/// `u32::MAX` (one that had no name in the reader's namespace) is only kept: `groups` must
/// then be the groups the task has.
///
/// Unlike those calls, it keeps the task's dumpability and parent-death signal: it is for a
/// task whose dumpability is set from the same saved state, not for dropping privilege.
/// `EBUSY` while the task runs with overridden credentials.
#[cfg(CONFIG_CHECKPOINT)]
pub fn set_current(ids: &Ids, groups: &[u32]) -> core::result::Result<(), SetError> {
    let c = ids.to_c(groups).map_err(|error| SetError {
        error,
        what: crate::c_str!("supplementary groups"),
    })?;
    let mut what = core::ptr::null();
    // SAFETY: acts on the current task; `c.groups` holds `c.ngroups` groups, which the callee
    // only reads; it checks every value and points `what` at a static string.
    let ret = unsafe { bindings::restart_set_creds(&c, &mut what) };
    if ret == 0 {
        return Ok(());
    }
    let what = if what.is_null() {
        crate::c_str!("credentials")
    } else {
        // SAFETY: the callee set `what` to a static, NUL-terminated string.
        unsafe { CStr::from_char_ptr(what) }
    };
    Err(SetError {
        error: Error::from_errno(ret),
        what,
    })
}

/// A login uid as the C helpers take it: `u32::MAX` for none.
fn raw_loginuid(uid: Option<u32>) -> Result<u32> {
    match uid {
        Some(u32::MAX) => Err(EINVAL),
        Some(uid) => Ok(uid),
        None => Ok(u32::MAX),
    }
}

/// Gives the current task the audit login uid `uid` (`None`: unset), as the current task's
/// user namespace names it, as writing `/proc/self/loginuid` would: with
/// `audit_set_loginuid()`'s permission checks, a new audit session and an audit record. If it
/// has that login uid already, nothing, unless `fresh` asks for a new session all the same.
///
/// Returns `EINVAL` for a uid the namespace cannot name, `EPERM` if the task may not set
/// it, and `EOPNOTSUPP` without `CONFIG_AUDIT` where it would set one.
pub fn set_audit_loginuid(uid: Option<u32>, fresh: bool) -> Result {
    let uid = raw_loginuid(uid)?;
    // SAFETY: acts on the current task; no task to join is given.
    let ret = unsafe { bindings::checkpoint_set_loginuid(uid, fresh, core::ptr::null_mut()) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Puts the current task in the audit session of `from`, with its login uid, which must be
/// `uid` (`EINVAL` otherwise), as if it had forked from `from`. Unless the current task is in
/// that session already, `audit_set_loginuid()`'s permission checks are made (`EPERM`) and
/// the change is logged as that logs its own. Nothing without `CONFIG_AUDIT`.
///
/// # Safety
///
/// This guards privilege, not memory: `from` must have opened its session through
/// [`set_audit_loginuid`] for the caller, as restart does for the first process of each
/// saved session. A task without a login uid may set any without privilege, but never takes
/// a session that exists; joining another task's would let it.
pub unsafe fn join_audit_session(from: &Task, uid: Option<u32>) -> Result {
    let uid = raw_loginuid(uid)?;
    // SAFETY: acts on the current task; `from` is a valid task, which is only read.
    let ret = unsafe { bindings::checkpoint_set_loginuid(uid, false, from.as_ptr()) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}
