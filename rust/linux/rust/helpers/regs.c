// SPDX-License-Identifier: GPL-2.0
/*
 * A stopped task's user registers and what traps its user mode: rseq,
 * debug registers, restart blocks, TSC/CPUID traps and syscall user dispatch.
 */

#include <linux/errno.h>
#include <linux/prctl.h>
#include <linux/ptrace.h>
#include <linux/rseq.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <linux/syscall_user_dispatch.h>
#include <linux/thread_info.h>
#include <asm/prctl.h>
#include <asm/processor.h>
#include <asm/proto.h>

struct pt_regs *rust_helper_task_pt_regs(struct task_struct *task)
{
	return task_pt_regs(task);
}

/*
 * The rseq(2) area @t registered, if any: its address, length and signature.
 * Only @t itself sets them, and checkpoint reads them once @t is frozen.
 */
bool rust_helper_checkpoint_task_rseq(struct task_struct *t, u64 *rseq,
				      u32 *len, u32 *sig)
{
#ifdef CONFIG_RSEQ
	*rseq = (unsigned long)t->rseq;
	*len = t->rseq_len;
	*sig = t->rseq_sig;
	return t->rseq;
#else
	return false;
#endif
}

/*
 * Whether a tracer left hardware breakpoints or watchpoints enabled in @t's
 * debug registers (PTRACE_POKEUSER of DR7): they outlive its detach, and
 * restart does not set them again. Disabled ones stay registered until exec or
 * exit, and are nothing to lose. Only a tracer changes DR7.
 */
bool rust_helper_checkpoint_task_hw_breakpoints(struct task_struct *t)
{
	/* L0-L3 and G0-G3. */
	return READ_ONCE(t->thread.ptrace_dr7) & 0xff;
}

/*
 * The function @t's interrupted system call resumes through, if it sleeps in
 * one that restarts through its restart block (-ERESTART_RESTARTBLOCK); NULL
 * otherwise, or if its stack is gone (it died meanwhile). @t is frozen: its
 * user registers are all in pt_regs, and only it changes its restart block.
 */
long (*rust_helper_checkpoint_task_restart_fn(struct task_struct *t))(struct restart_block *)
{
	long (*fn)(struct restart_block *) = NULL;
	struct pt_regs *regs;

	if (!try_get_task_stack(t))
		return NULL;
	regs = task_pt_regs(t);
	if ((long)regs->orig_ax >= 0 && regs->ax == -ERESTART_RESTARTBLOCK)
		fn = t->restart_block.fn;
	put_task_stack(t);
	return fn;
}

/*
 * What the frozen task @t traps on: rdtsc (PR_SET_TSC), cpuid (ARCH_SET_CPUID)
 * and system calls from outside its dispatcher region (syscall user dispatch,
 * whose selector address and region it returns). Only @t changes them.
 */
bool rust_helper_checkpoint_task_traps(struct task_struct *t, bool *notsc,
				       bool *nocpuid, u64 *selector,
				       u64 *offset, u64 *len)
{
	*notsc = test_tsk_thread_flag(t, TIF_NOTSC);
	*nocpuid = test_tsk_thread_flag(t, TIF_NOCPUID);
#ifdef CONFIG_GENERIC_ENTRY
	if (test_task_syscall_work(t, SYSCALL_USER_DISPATCH)) {
		*selector = (unsigned long)t->syscall_dispatch.selector;
		*offset = t->syscall_dispatch.offset;
		*len = t->syscall_dispatch.len;
		return true;
	}
#endif
	return false;
}

/*
 * Gives the current task the rdtsc and cpuid modes @notsc and @nocpuid as
 * prctl(PR_SET_TSC) and arch_prctl(ARCH_SET_CPUID) would: it inherited the
 * restarter's. -ENODEV if cpuid is to fault on a CPU that cannot do it.
 */
int rust_helper_checkpoint_set_traps(bool notsc, bool nocpuid)
{
	int err = set_tsc_mode(notsc ? PR_TSC_SIGSEGV : PR_TSC_ENABLE);

	if (!err && nocpuid != test_thread_flag(TIF_NOCPUID))
		err = do_arch_prctl_common(ARCH_SET_CPUID, !nocpuid);
	return err;
}

/*
 * Turns on syscall user dispatch for the current task as
 * prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON) would, with its
 * checks (-EINVAL for a region that wraps, -EFAULT for a selector outside user
 * space; -EINVAL without CONFIG_GENERIC_ENTRY).
 */
int rust_helper_checkpoint_set_syscall_dispatch(u64 selector, u64 offset,
						 u64 len)
{
	return set_syscall_user_dispatch(PR_SYS_DISPATCH_ON, offset, len,
					 (char __user *)(unsigned long)selector);
}

void rust_helper_set_tsk_thread_flag(struct task_struct *t, int flag)
{
	set_tsk_thread_flag(t, flag);
}
