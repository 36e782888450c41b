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
use crate::task::ParkedTask;
use crate::{abi, abi::RecordType, log, log::Log, Obj};
use kernel::alloc::{flags::GFP_KERNEL, flags::GFP_KERNEL_ACCOUNT, KVVec};
use kernel::cred;
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

/// Why checkpoint cannot save `task`'s credentials, if it cannot.
pub(crate) fn unsupported(task: &Task) -> Option<&'static str> {
    if task.ids(&mut []).is_err() {
        return Some(
            "has credentials of another user namespace than the checkpointer's (not restored yet)",
        );
    }
    if task.audit_loginuid().is_err() {
        return Some("has an audit login uid the checkpointer's user namespace cannot name");
    }
    // A thread that wrote /proc/thread-self/loginuid.
    (task.audit_sessionid() != task.group_leader().audit_sessionid())
        .then_some("is in another audit session than its process's main thread (not restored)")
}

/// Writes the `Creds` record of the frozen `task`, and its `Groups`.
pub(crate) fn dump(d: &mut Dumper<'_>, task: &Task) -> Result {
    let mut groups = KVVec::new();
    // Only the task itself changes its credentials, and it is frozen; but should its group
    // count change between two reads, this reads them again.
    let (c, ngroups) = loop {
        let (c, n) = task.ids(&mut groups)?;
        if n <= groups.len() {
            break (c, n);
        }
        groups = KVVec::from_elem(0u32, n, GFP_KERNEL)?;
    };
    let groups = &groups[..ngroups];
    let login = task.audit_loginuid()?;
    d.record(&abi::Creds {
        uid: c.uid,
        gid: c.gid,
        cap_inheritable: c.cap_inheritable,
        cap_permitted: c.cap_permitted,
        cap_effective: c.cap_effective,
        cap_bset: c.cap_bset,
        cap_ambient: c.cap_ambient,
        securebits: c.securebits,
        ngroups: ngroups as u32,
        flags: if login.is_some() {
            abi::CREDS_F_LOGINUID
        } else {
            0
        },
        loginuid: login.unwrap_or(0),
        sessionid: if login.is_some() {
            task.audit_sessionid()
        } else {
            0
        },
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
        let creds = Creds {
            rec,
            groups,
            session: Session::Own,
        };
        if r.maps_image() && !creds.are_current()? {
            log!(
                r.log,
                "credentials: RESTART_MAP restores only tasks with the restarter's: others could read each other's memory in the image they map"
            );
            return Err(EPERM);
        }
        Ok(creds)
    }

    /// Whether these are the current task's ids, capabilities, securebits and groups.
    fn are_current(&self) -> Result<bool> {
        let mut groups = KVVec::from_elem(0u32, self.groups.len(), GFP_KERNEL)?;
        let (ids, n) = cred::current_ids(&mut groups)?;
        Ok(ids == self.ids() && n == self.groups.len() && groups[..] == self.groups[..])
    }

    /// The ids, capability sets and securebits of the record.
    fn ids(&self) -> cred::Ids {
        let rec = &self.rec;
        cred::Ids {
            uid: rec.uid,
            gid: rec.gid,
            cap_inheritable: rec.cap_inheritable,
            cap_permitted: rec.cap_permitted,
            cap_effective: rec.cap_effective,
            cap_bset: rec.cap_bset,
            cap_ambient: rec.cap_ambient,
            securebits: rec.securebits,
        }
    }

    /// Gives the current task, the restored task of pid `pid`, its audit login uid, while it
    /// still has the restarter's credentials (CAP_AUDIT_CONTROL may be needed). A leader takes
    /// it before it creates its threads, which inherit it with its session id: a process
    /// gets one new session id, not one per thread.
    ///
    /// A process takes the audit session [`Sessions::place`] chose for it.
    pub(crate) fn restore_loginuid(&self, log: &Log, pid: i32) -> Result {
        let rec = &self.rec;
        let login = (rec.flags & abi::CREDS_F_LOGINUID != 0).then_some(rec.loginuid);
        let fresh = matches!(self.session, Session::Fresh);
        let res = match &self.session {
            Session::Own | Session::Fresh => cred::set_audit_loginuid(login, fresh),
            // SAFETY: `first` is the first process restored in this saved session, which
            // opened it with `set_audit_loginuid()` in this restart or kept the restarter's,
            // which the current task has already (`Sessions::place`).
            Session::Join(first) => unsafe { cred::join_audit_session(first, login) },
        };
        if let Err(e) = res {
            let (what, login, ret) = (
                if e == EPERM { "may not" } else { "cannot" },
                rec.loginuid,
                e.to_errno(),
            );
            match (rec.flags & abi::CREDS_F_LOGINUID != 0, fresh) {
                (true, true) => log!(log, "pid {pid}: credentials: the restarter {what} open a second audit session of login uid {login} ({ret})"),
                (true, false) => log!(log, "pid {pid}: credentials: the restarter {what} set the audit login uid {login} ({ret})"),
                (false, _) => log!(log, "pid {pid}: credentials: the restarter {what} unset the audit login uid ({ret})"),
            }
            return Err(e);
        }
        Ok(())
    }

    /// Gives the current task, the restored task of pid `pid`, these credentials (but its
    /// login uid, see [`Creds::restore_loginuid`]).
    pub(crate) fn restore(&self, log: &Log, pid: i32) -> Result {
        let Err(e) = cred::set_current(&self.ids(), &self.groups) else {
            return Ok(());
        };
        let what = e.what;
        match e.error == EPERM {
            true => log!(
                log,
                "pid {pid}: credentials: the restarter may not set the {what}"
            ),
            false => log!(
                log,
                "pid {pid}: credentials: cannot set the {what} (error {})",
                e.error.to_errno()
            ),
        }
        Err(e.error)
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
        let restarter = kernel::current!().audit_loginuid().unwrap_or(None);
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
    pub(crate) fn record(&mut self, session: NewSession, task: &ParkedTask) -> Result {
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
