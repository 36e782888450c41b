// SPDX-License-Identifier: GPL-2.0

//! A task's credentials: user and group ids, supplementary groups, capability sets and
//! securebits, and its audit login uid.
//!
//! Checkpoint reads them as its caller's user namespace sees them, and refuses a task whose
//! credentials belong to another user namespace: restart creates every task in its own
//! caller's, and user namespaces are not restored yet. Restart sets them in each restored task
//! as the last step of its own restore, judged against the credentials the task inherited from
//! the restarter (`restart_set_creds()`): it takes only what the restarter could take by hand,
//! or the restart fails with EPERM and a log line, so that a restart never grants more than
//! its caller has.

use crate::image::{Dumper, Restorer};
use crate::task::Created;
use crate::{abi, abi::RecordType, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::task::Task;
use kernel::types::ARef;

/// A task's credentials as the image holds them.
pub(crate) struct Creds {
    rec: abi::Creds,
    groups: KVVec<u32>,
    session: Session,
}

/// How a restored task with an audit login uid takes its audit session.
enum Session {
    /// From setting its login uid: a new session, or the one it has if it has that login uid
    /// already (the restarter's).
    Own,
    /// A new session, even if it has that login uid already.
    Fresh,
    /// The session of this task, restored earlier, which shared its session.
    Join(ARef<Task>),
}

/// Reads the credentials of the frozen `task`, with room for `room` groups in `groups`.
fn read(task: &Task, groups: &mut [u32]) -> Result<bindings::checkpoint_creds> {
    // SAFETY: all-zero credentials are valid plain data; the callee fills them.
    let mut c: bindings::checkpoint_creds = unsafe { core::mem::zeroed() };
    c.groups = groups.as_mut_ptr();
    // SAFETY: `task` is valid; `c.groups` has room for `groups.len()` groups.
    let ret =
        unsafe { bindings::checkpoint_task_creds(task.as_ptr(), &mut c, groups.len() as u32) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(c)
}

/// The audit login uid of `task` as the caller's user namespace sees it; `None` if it has
/// none.
fn loginuid(task: &Task) -> Result<Option<u32>> {
    let mut uid = 0;
    // SAFETY: `task` is valid; `uid` is valid for writes. The login uid is read racily: only
    // the task itself changes it, and it is frozen.
    let ret = unsafe { bindings::checkpoint_task_loginuid(task.as_ptr(), &mut uid) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok((uid != u32::MAX).then_some(uid))
}

/// The audit session id of `task`.
fn sessionid(task: &Task) -> u32 {
    // SAFETY: `task` is valid; only the task itself changes its session id, and it is frozen
    // (or the restarter's own, or a restored task that finished its restore).
    unsafe { bindings::checkpoint_task_sessionid(task.as_ptr()) }
}

/// Why checkpoint cannot save `task`'s credentials, if it cannot.
pub(crate) fn unsupported(task: &Task) -> Option<&'static str> {
    if read(task, &mut []).is_err() {
        return Some(
            "has credentials of another user namespace than the checkpointer's (not restored yet)",
        );
    }
    if loginuid(task).is_err() {
        return Some("has an audit login uid the checkpointer's user namespace cannot name");
    }
    // A thread that wrote /proc/thread-self/loginuid.
    (sessionid(task) != sessionid(task.group_leader()))
        .then_some("is in another audit session than its process's main thread (not restored)")
}

/// Writes the `Creds` record of the frozen `task`, and its `Groups`.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task) -> Result {
    let mut groups = KVVec::new();
    // Only the task itself changes its credentials, and it is frozen; but should its group
    // count change between two reads, this reads them again.
    let c = loop {
        let c = read(task, &mut groups)?;
        if c.ngroups as usize <= groups.len() {
            break c;
        }
        groups = KVVec::from_elem(0u32, c.ngroups as usize, GFP_KERNEL)?;
    };
    let groups = &groups[..c.ngroups as usize];
    let login = loginuid(task)?;
    d.record(&abi::Creds {
        uid: [c.uid, c.euid, c.suid, c.fsuid],
        gid: [c.gid, c.egid, c.sgid, c.fsgid],
        cap_inheritable: c.cap_inheritable,
        cap_permitted: c.cap_permitted,
        cap_effective: c.cap_effective,
        cap_bset: c.cap_bset,
        cap_ambient: c.cap_ambient,
        securebits: c.securebits,
        ngroups: c.ngroups,
        flags: if login.is_some() {
            abi::CREDS_F_LOGINUID
        } else {
            0
        },
        loginuid: login.unwrap_or(0),
        sessionid: if login.is_some() { sessionid(task) } else { 0 },
        _pad0: 0,
    })?;
    if groups.is_empty() {
        return Ok(());
    }
    let mut bytes = KVVec::with_capacity(groups.len() * 4, GFP_KERNEL)?;
    for g in groups.iter() {
        bytes.extend_from_slice(&g.to_le_bytes(), GFP_KERNEL)?;
    }
    d.raw(RecordType::Groups, &bytes)
}

impl Creds {
    /// The record they were read from.
    pub(crate) fn rec(&self) -> &abi::Creds {
        &self.rec
    }

    /// Reads a task's `Creds` record and its `Groups`.
    pub(crate) fn read(r: &mut Restorer<'_, Obj>) -> Result<Creds> {
        let rec = r.expect::<abi::Creds>()?;
        if rec.ngroups > abi::GROUPS_MAX {
            return Err(r.bad("number of supplementary groups"));
        }
        if rec.flags & !abi::CREDS_F_LOGINUID != 0
            || (rec.flags == 0 && (rec.loginuid != 0 || rec.sessionid != 0))
            || rec.loginuid == u32::MAX
            || rec.sessionid == u32::MAX
            || rec._pad0 != 0
        {
            return Err(r.bad("credentials flags, audit login uid or session"));
        }
        let mut groups = KVVec::with_capacity(rec.ngroups as usize, GFP_KERNEL_ACCOUNT)?;
        if rec.ngroups > 0 {
            let len = r.expect_raw(RecordType::Groups)?;
            if len != u64::from(rec.ngroups) * 4 {
                return Err(r.bad("supplementary groups of another length than announced"));
            }
            let mut bytes = KVVec::from_elem(0u8, len as usize, GFP_KERNEL)?;
            r.read_raw(&mut bytes)?;
            for g in bytes.chunks_exact(4) {
                groups.push(
                    u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
                    GFP_KERNEL_ACCOUNT,
                )?;
            }
        }
        Ok(Creds {
            rec,
            groups,
            session: Session::Own,
        })
    }

    /// Gives the current task, the restored task of pid `pid`, its audit login uid, while it
    /// still has the restarter's credentials (CAP_AUDIT_CONTROL may be needed). A leader takes
    /// it before it creates its threads, which inherit it with its session id: a process
    /// gets one new session id, not one per thread.
    ///
    /// A process takes the audit session [`Sessions::place`] chose for it.
    pub(crate) fn restore_loginuid(&self, log: &Log, pid: i32) -> Result {
        let rec = &self.rec;
        let login = if rec.flags & abi::CREDS_F_LOGINUID != 0 {
            rec.loginuid
        } else {
            u32::MAX
        };
        let (fresh, join) = match &self.session {
            Session::Own => (false, core::ptr::null_mut()),
            Session::Fresh => (true, core::ptr::null_mut()),
            Session::Join(t) => (false, t.as_ptr()),
        };
        // SAFETY: acts on the current task; `join` is null or a task we hold a reference to.
        let ret = unsafe { bindings::checkpoint_set_loginuid(login, fresh, join) };
        if ret < 0 {
            let (what, login) = (
                if ret == -(bindings::EPERM as i32) {
                    "may not"
                } else {
                    "cannot"
                },
                rec.loginuid,
            );
            match (rec.flags & abi::CREDS_F_LOGINUID != 0, fresh) {
                (true, true) => log!(log, "pid {pid}: credentials: the restarter {what} open a second audit session of login uid {login} ({ret})"),
                (true, false) => log!(log, "pid {pid}: credentials: the restarter {what} set the audit login uid {login} ({ret})"),
                (false, _) => log!(log, "pid {pid}: credentials: the restarter {what} unset the audit login uid ({ret})"),
            }
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Gives the current task, the restored task of pid `pid`, these credentials (but its
    /// login uid, see [`Creds::restore_loginuid`]).
    pub(crate) fn restore(&mut self, log: &Log, pid: i32) -> Result {
        let rec = &self.rec;
        let c = bindings::checkpoint_creds {
            uid: rec.uid[0],
            euid: rec.uid[1],
            suid: rec.uid[2],
            fsuid: rec.uid[3],
            gid: rec.gid[0],
            egid: rec.gid[1],
            sgid: rec.gid[2],
            fsgid: rec.gid[3],
            cap_inheritable: rec.cap_inheritable,
            cap_permitted: rec.cap_permitted,
            cap_effective: rec.cap_effective,
            cap_bset: rec.cap_bset,
            cap_ambient: rec.cap_ambient,
            securebits: rec.securebits,
            ngroups: self.groups.len() as u32,
            groups: self.groups.as_mut_ptr(),
        };
        let mut what = core::ptr::null();
        // SAFETY: acts on the current task; `c.groups` holds `c.ngroups` groups.
        let ret = unsafe { bindings::restart_set_creds(&c, &mut what) };
        if ret == 0 {
            return Ok(());
        }
        let what = match what.is_null() {
            true => kernel::c_str!("credentials"),
            // SAFETY: the callee points `what` at a static string.
            false => unsafe { CStr::from_char_ptr(what) },
        };
        match ret == -(bindings::EPERM as i32) {
            true => log!(
                log,
                "pid {pid}: credentials: the restarter may not set the {what}"
            ),
            false => log!(
                log,
                "pid {pid}: credentials: cannot set the {what} (error {ret})"
            ),
        }
        Err(Error::from_errno(ret))
    }
}

/// The audit sessions of the processes restored so far, so that those that shared one share
/// one again: each saved session id with its login uid and the first process restored in it.
///
/// The first restored session of the restarter's login uid, in the image's order, keeps the
/// restarter's session (it needs no privilege); another one of that login uid is opened anew.
pub(crate) struct Sessions {
    first: RBTree<u32, (u32, ARef<Task>)>,
    /// The restarter's login uid (`None`: none, or one its user namespace cannot name, which
    /// no login uid of the image can be).
    restarter: Option<u32>,
    restarter_taken: bool,
}

impl Sessions {
    /// No session seen yet.
    pub(crate) fn new() -> Sessions {
        let restarter = loginuid(kernel::current!()).unwrap_or(None);
        Sessions {
            first: RBTree::new(),
            restarter,
            restarter_taken: false,
        }
    }

    /// Chooses how the process about to be restored from `creds` takes its audit session:
    /// joining the process restored first in its saved session, or as that first one, when
    /// this returns the session to [`Sessions::record`] it under once it is restored.
    pub(crate) fn place(
        &mut self,
        r: &Restorer<'_, Obj>,
        creds: &mut Creds,
    ) -> Result<Option<NewSession>> {
        let rec = &creds.rec;
        if rec.flags & abi::CREDS_F_LOGINUID == 0 {
            return Ok(None);
        }
        if let Some((login, first)) = self.first.get(&rec.sessionid) {
            if *login != rec.loginuid {
                return Err(r.bad("processes of one audit session with different login uids"));
            }
            creds.session = Session::Join(first.clone());
            return Ok(None);
        }
        if self.restarter == Some(rec.loginuid) {
            if self.restarter_taken {
                creds.session = Session::Fresh;
            }
            self.restarter_taken = true;
        }
        Ok(Some(NewSession {
            id: rec.sessionid,
            loginuid: rec.loginuid,
        }))
    }

    /// Records `task`, restored in `session`, as the first restored process of it.
    pub(crate) fn record(&mut self, session: NewSession, task: &Created) -> Result {
        let value = (session.loginuid, task.task.clone());
        self.first
            .try_create_and_insert(session.id, value, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }
}

/// A saved audit session whose first process is about to be restored.
pub(crate) struct NewSession {
    id: u32,
    loginuid: u32,
}
