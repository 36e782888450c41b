// SPDX-License-Identifier: GPL-2.0
/*
 * The audit login uid and session of a task, read and set.
 */

#include <linux/audit.h>
#include <linux/checkpoint.h>
#include <linux/cred.h>
#include <linux/uidgid.h>

/*
 * @t's audit login uid (/proc/PID/loginuid) in *@uid, as the caller's user
 * namespace sees it; (uid_t)-1 if it has none. -EOVERFLOW if it has one the
 * namespace cannot name.
 */
int rust_helper_checkpoint_task_loginuid(struct task_struct *t, uid_t *uid)
{
	kuid_t login = audit_get_loginuid(t);

	*uid = (uid_t)-1;
	if (!uid_valid(login))
		return 0;
	*uid = from_kuid(current_user_ns(), login);
	return *uid == (uid_t)-1 ? -EOVERFLOW : 0;
}

/* The audit session id of @t; AUDIT_SID_UNSET without CONFIG_AUDIT. */
unsigned int rust_helper_checkpoint_task_sessionid(struct task_struct *t)
{
	return audit_get_sessionid(t);
}

/*
 * Gives the current task the audit login uid @uid ((uid_t)-1 for none), as
 * the caller's user namespace names it, as writing /proc/self/loginuid would:
 * with audit_set_loginuid()'s permission checks (none needed while the task
 * has none), a new session id, and an audit record. If it has that login uid
 * already, nothing unless @fresh asks for a new session all the same. With
 * @join, takes @join's login uid and session instead (its uid must be @uid),
 * with the same checks unless the current task is in that session already.
 */
int rust_helper_checkpoint_set_loginuid(uid_t uid, bool fresh,
					struct task_struct *join)
{
	kuid_t login = INVALID_UID;

	if (uid != (uid_t)-1) {
		login = make_kuid(current_user_ns(), uid);
		if (!uid_valid(login))
			return -EINVAL;
	}
	if (join) {
		if (!uid_eq(login, audit_get_loginuid(join)))
			return -EINVAL;
#if defined(CONFIG_AUDIT) && defined(CONFIG_CHECKPOINT)
		return restart_audit_join_session(join);
#elif defined(CONFIG_AUDIT)
		return -EOPNOTSUPP;
#else
		return 0;
#endif
	}
	if (!fresh && uid_eq(login, audit_get_loginuid(current)))
		return 0;
#ifdef CONFIG_AUDIT
	return audit_set_loginuid(login);
#else
	return -EOPNOTSUPP;
#endif
}
