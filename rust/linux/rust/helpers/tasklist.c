// SPDX-License-Identifier: GPL-2.0
/*
 * Task locks, the task list, pids and namespaces, for the task, tasklist and
 * pid abstractions.
 */

#include <linux/atomic.h>
#include <linux/cgroup.h>
#include <linux/nsproxy.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/utsname.h>

void rust_helper_unlock_task_sighand(struct task_struct *task,
				     unsigned long *flags)
{
	unlock_task_sighand(task, flags);
}

void rust_helper_task_lock(struct task_struct *task)
{
	task_lock(task);
}

void rust_helper_task_unlock(struct task_struct *task)
{
	task_unlock(task);
}

void rust_helper_init_task_work(struct callback_head *twork, task_work_func_t func)
{
	init_task_work(twork, func);
}

struct new_utsname *rust_helper_utsname(void)
{
	return utsname();
}

void rust_helper_spin_lock_irq(spinlock_t *lock)
{
	spin_lock_irq(lock);
}

void rust_helper_spin_unlock_irq(spinlock_t *lock)
{
	spin_unlock_irq(lock);
}

void rust_helper_read_lock_tasklist(void)
{
	read_lock(&tasklist_lock);
}

void rust_helper_read_unlock_tasklist(void)
{
	read_unlock(&tasklist_lock);
}

void rust_helper_write_lock_irq_tasklist(void)
{
	lockdep_assert_irqs_enabled();
	write_lock_irq(&tasklist_lock);
}

void rust_helper_write_unlock_irq_tasklist(void)
{
	write_unlock_irq(&tasklist_lock);
}

struct pid *rust_helper_get_pid(struct pid *pid)
{
	return get_pid(pid);
}

struct pid_namespace *rust_helper_get_pid_ns(struct pid_namespace *ns)
{
	return get_pid_ns(ns);
}

void rust_helper_get_nsproxy(struct nsproxy *ns)
{
	get_nsproxy(ns);
}

void rust_helper_put_nsproxy(struct nsproxy *ns)
{
	put_nsproxy(ns);
}

void rust_helper_atomic_inc(atomic_t *v)
{
	atomic_inc(v);
}

bool rust_helper_fatal_signal_pending(struct task_struct *p)
{
	return fatal_signal_pending(p);
}

/* Whether @a and @b are in the same cgroup of every hierarchy. */
bool rust_helper_checkpoint_same_cgroups(struct task_struct *a,
					 struct task_struct *b)
{
#ifdef CONFIG_CGROUPS
	bool same;

	rcu_read_lock();
	same = task_css_set(a) == task_css_set(b);
	rcu_read_unlock();
	return same;
#else
	return true;
#endif
}

bool rust_helper_test_tsk_restore_sigmask(struct task_struct *task)
{
	return test_tsk_restore_sigmask(task);
}
