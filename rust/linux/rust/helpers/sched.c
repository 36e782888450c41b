// SPDX-License-Identifier: GPL-2.0
/*
 * Scheduling parameters and I/O priority of a task, read and set.
 */

#include <linux/cpumask.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <uapi/linux/sched/types.h>

/*
 * A task's scheduling state as checkpoint saves it, read under its pi_lock,
 * which __sched_setscheduler() and __set_cpus_allowed_ptr() hold while they
 * change it. The affinity is the one asked for with sched_setaffinity() (or
 * inherited), not cpus_mask, which a cpuset or isolcpus may have narrowed.
 * Returns whether it leaves out a possible CPU.
 */
bool rust_helper_checkpoint_task_sched(struct task_struct *p, unsigned int *policy,
				       int *nice, unsigned int *rt_priority,
				       bool *reset_on_fork, struct cpumask *cpus)
{
	guard(raw_spinlock_irqsave)(&p->pi_lock);
	*policy = p->policy;
	*nice = task_nice(p);
	*rt_priority = p->rt_priority;
	*reset_on_fork = p->sched_reset_on_fork;
	if (!p->user_cpus_ptr) {
		cpumask_copy(cpus, cpu_possible_mask);
		return false;
	}
	cpumask_copy(cpus, p->user_cpus_ptr);
	return !cpumask_subset(cpu_possible_mask, cpus);
}

/*
 * sched_setattr() of the current task from the fields of a struct sched_attr
 * (which bindgen cannot see), with the permission checks of sched_setattr(2).
 */
int rust_helper_checkpoint_sched_setattr(unsigned int policy, bool reset_on_fork,
					 int nice, unsigned int rt_priority)
{
	struct sched_attr attr = {
		.size		= sizeof(attr),
		.sched_policy	= policy,
		.sched_flags	= reset_on_fork ? SCHED_FLAG_RESET_ON_FORK : 0,
		.sched_nice	= nice,
		.sched_priority	= rt_priority,
	};

	return sched_setattr(current, &attr);
}

/*
 * The I/O priority @t set with ioprio_set(2), as its io_context holds it: 0
 * (IOPRIO_CLASS_NONE) if it has none, and its priority follows its nice value.
 */
u16 rust_helper_checkpoint_task_ioprio(struct task_struct *t)
{
	u16 ioprio = 0;

#ifdef CONFIG_BLOCK
	task_lock(t);
	if (t->io_context)
		ioprio = t->io_context->ioprio;
	task_unlock(t);
#endif
	return ioprio;
}

/*
 * Sets the current task's I/O priority as ioprio_set(2) would for it. A task
 * without an io_context keeps none for priority 0, which it means anyway.
 */
int rust_helper_checkpoint_set_ioprio(int ioprio)
{
#ifdef CONFIG_BLOCK
	int err;

	if (!ioprio && !current->io_context)
		return 0;
	err = ioprio_check_cap(ioprio);
	return err ? err : set_task_ioprio(current, ioprio);
#else
	return ioprio ? -EINVAL : 0;
#endif
}

/*
 * cond_resched() itself: with its might-sleep check, and in every preemption
 * model (__cond_resched() exists only in some).
 */
int rust_helper_cond_resched(void)
{
	return cond_resched();
}
