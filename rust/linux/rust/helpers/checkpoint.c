// SPDX-License-Identifier: GPL-2.0
/*
 * Why checkpoint refuses a task, an address space or a mapping, or restart its
 * caller: state the core kernel keeps private that checkpoint/restart does not
 * save yet.
 * (The helpers the rust/kernel abstractions call are in the files named after
 * them: cred.c, fs.c, mm.c, regs.c, sched.c, tasklist.c.)
 */

#ifdef CONFIG_CHECKPOINT

#include <linux/checkpoint.h>
#include <linux/cred.h>
#include <linux/key.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/nsproxy.h>
#include <linux/pkeys.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seccomp.h>
#include <linux/security.h>
#include <linux/shmem_fs.h>
#include <linux/userfaultfd_k.h>
#include <asm/fpu/xstate.h>
#include <asm/mmu_context.h>
#include <asm/processor.h>

#ifdef CONFIG_KEYS
/*
 * The session keyring @cred names for itself: none if it has only the user
 * session keyring, which its first use of @s installs, and restart's would.
 */
static struct key *checkpoint_own_session(const struct cred *cred)
{
	struct key *s = cred->session_keyring;

	return s && test_bit(KEY_FLAG_UID_KEYRING, &s->flags) ? NULL : s;
}
#endif

#ifdef CONFIG_X86_64
/* Whether @perm, a process's xstate permission, takes in dynamic features. */
static bool checkpoint_xstate_dynamic(struct fpu_state_perm *perm)
{
	return READ_ONCE(perm->__state_perm) & XFEATURE_MASK_USER_DYNAMIC;
}
#endif

/*
 * Why checkpoint cannot save the frozen task @t, for per-task state which
 * restart does not set again and which a task inherits from its parent
 * (copy_process()): a seccomp filter, no_new_privs, a NUMA policy, an I/O
 * privilege level, a machine-check kill policy, the I/O flusher flags,
 * utilization clamps, a core scheduling cookie, speculation controls, shadow
 * stacks, permission for dynamic xstate (AMX), for itself or for guests, a
 * Landlock domain. With @forks, only what the children @t forks inherit: the
 * restarter's would pass to every task it restores. NULL if none applies.
 */
static const char *checkpoint_task_inherited(struct task_struct *t, bool forks)
{
	/* Both are task flags that copy_process() keeps. */
	unsigned int io_flusher = PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE;
	unsigned int flags = READ_ONCE(t->flags);
	const char *why __maybe_unused = NULL;

	/*
	 * Set by the task itself, or by another thread of its process under
	 * its siglock (seccomp TSYNC), and only ever tightened.
	 */
	if (seccomp_mode(&t->seccomp) != SECCOMP_MODE_DISABLED)
		return "is confined by seccomp (not restored yet)";
	if (task_no_new_privs(t))
		return "has no_new_privs set (not restored yet)";
#ifdef CONFIG_NUMA
	if (READ_ONCE(t->mempolicy))
		return "has a NUMA memory policy (set_mempolicy(2), not restored yet)";
#endif
#ifdef CONFIG_X86_IOPL_IOPERM
	/* copy_thread() drops the I/O bitmap (see below), not the level. */
	if (t->thread.iopl_emul)
		return "has an I/O privilege level (iopl(2), not restored yet)";
#endif
	if (flags & (PF_MCE_PROCESS | PF_MCE_EARLY))
		return "has a machine-check kill policy (PR_MCE_KILL, not restored yet)";
	/* As PR_GET_IO_FLUSHER reads them. */
	if ((flags & io_flusher) == io_flusher)
		return "is an I/O flusher (PR_SET_IO_FLUSHER, not restored yet)";
#ifdef CONFIG_UCLAMP_TASK
	/*
	 * Set with the task's pi_lock and rq lock, each bit a plain read. The
	 * task's children do not inherit them under SCHED_RESET_ON_FORK.
	 */
	if ((!forks || !t->sched_reset_on_fork) &&
	    (t->uclamp_req[UCLAMP_MIN].user_defined ||
	     t->uclamp_req[UCLAMP_MAX].user_defined))
		return "has utilization clamps (sched_setattr(2) SCHED_FLAG_UTIL_CLAMP, not restored yet)";
#endif
#ifdef CONFIG_SCHED_CORE
	if (READ_ONCE(t->core_cookie))
		return "has a core scheduling cookie (PR_SCHED_CORE, not restored yet)";
#endif
	/* The force-disable and disable-on-exec modes set the disable bit too. */
	if (task_spec_ssb_disable(t) || task_spec_ib_disable(t) ||
	    test_tsk_thread_flag(t, TIF_SPEC_L1D_FLUSH))
		return "has speculation control set (PR_SET_SPECULATION_CTRL, not restored yet)";
#ifdef CONFIG_X86_USER_SHADOW_STACK
	/*
	 * Locked features without enabled ones are no loss: a lock only keeps
	 * the program from changing them again.
	 */
	if (READ_ONCE(t->thread.features))
		return "has x86 shadow stack features enabled (arch_prctl(2) ARCH_SHSTK_ENABLE, not restored yet)";
#endif
#ifdef CONFIG_X86_64
	/*
	 * The permission is the process's, kept by its leader, which RCU keeps
	 * while @t is not released (a released thread may outlive it).
	 */
	rcu_read_lock();
	if (pid_alive(t)) {
		struct task_struct *leader = READ_ONCE(t->group_leader);

		if (checkpoint_xstate_dynamic(&leader->thread.fpu.perm))
			why = "may use dynamically enabled xstate such as AMX (ARCH_REQ_XCOMP_PERM, not restored yet)";
		else if (checkpoint_xstate_dynamic(&leader->thread.fpu.guest_perm))
			why = "may give guests dynamically enabled xstate such as AMX (ARCH_REQ_XCOMP_GUEST_PERM, not restored yet)";
	}
	rcu_read_unlock();
	if (why)
		return why;
#endif
#ifdef CONFIG_SECURITY_LANDLOCK
	if (checkpoint_task_landlocked(t))
		return "is confined by a Landlock domain (not restored yet)";
#endif
	return NULL;
}

/*
 * Why checkpoint cannot save the frozen task @t, for what
 * checkpoint_task_inherited() names, and the nice value of its autogroup and a
 * Yama ptracer exception, which restart does not set again either. NULL if
 * none applies.
 */
static const char *checkpoint_task_controls(struct task_struct *t)
{
	const char *why = checkpoint_task_inherited(t, false);

	if (why)
		return why;
#ifdef CONFIG_SCHED_AUTOGROUP
	if (checkpoint_autogroup_nice(t))
		return "has an autogroup nice value (/proc/PID/autogroup, not restored yet)";
#endif
#ifdef CONFIG_SECURITY_YAMA
	if (checkpoint_task_ptracer(t))
		return "lets a tracer in with Yama's PR_SET_PTRACER (not restored yet)";
#endif
	return NULL;
}

/*
 * Why restart cannot restore tasks for the current task, its caller: state
 * every task it creates would inherit (checkpoint_task_inherited()), where
 * the saved tasks had none, since checkpoint refuses it. NULL if it has none.
 */
const char *rust_helper_checkpoint_restarter_unsupported(void)
{
	return checkpoint_task_inherited(current, true);
}

/*
 * Why checkpoint cannot save the frozen task @t, for its security label, which
 * restart's task inherits from the restarter: NULL if it is the checkpointer's.
 */
static const char *checkpoint_task_identity(struct task_struct *t)
{
	u32 theirs, mine;

	security_task_getsecid_obj(t, &theirs);
	security_current_getsecid_subj(&mine);
	if (theirs != mine)
		return "has a security label other than the checkpointer's (LSM, not restored yet)";
	return NULL;
}

/*
 * Why checkpoint cannot save the frozen task @t, for state restart does not
 * set again: port I/O permissions, keyrings of its own, tasks it traces, namespaces other than the checkpointer's, and what
 * checkpoint_task_controls() and checkpoint_task_identity() name. Its session
 * keyring and namespaces are the checkpointer's, and become the restarter's.
 * NULL if none applies.
 */
const char *rust_helper_checkpoint_task_unsupported(struct task_struct *t)
{
	const char *why;
	struct nsproxy *ns, *mine = current->nsproxy;
	const struct cred *cred __maybe_unused;

	/* An exiting checkpointer has no namespaces left to compare with. */
	if (!mine)
		return "is checked by an exiting task";

#ifdef CONFIG_X86_IOPL_IOPERM
	if (t->thread.io_bitmap)
		return "has I/O port permissions (ioperm(2), not restored yet)";
#endif
	why = checkpoint_task_controls(t) ?: checkpoint_task_identity(t);
	if (why)
		return why;
	read_lock(&tasklist_lock);
	if (!list_empty(&t->ptraced))
		why = "traces another task (ptrace links are not restored)";
	read_unlock(&tasklist_lock);
	if (why)
		return why;
	/* Also the ones it will give its children: its own are the same until then. */
	task_lock(t);
	ns = t->nsproxy;
	if (!ns)
		; /* exiting */
	else if (ns->uts_ns != mine->uts_ns)
		why = "is in a UTS namespace other than the checkpointer's (not restored yet)";
	else if (ns->ipc_ns != mine->ipc_ns)
		why = "is in an IPC namespace other than the checkpointer's (not restored yet)";
	else if (ns->mnt_ns != mine->mnt_ns)
		why = "is in a mount namespace other than the checkpointer's (not restored yet)";
	else if (ns->net_ns != mine->net_ns)
		why = "is in a network namespace other than the checkpointer's (not restored yet)";
	else if (ns->cgroup_ns != mine->cgroup_ns)
		why = "is in a cgroup namespace other than the checkpointer's (not restored yet)";
	else if (ns->time_ns != mine->time_ns ||
		 ns->time_ns_for_children != mine->time_ns_for_children)
		why = "is in a time namespace other than the checkpointer's (not restored yet)";
	task_unlock(t);
	if (why)
		return why;
#ifdef CONFIG_KEYS
	rcu_read_lock();
	cred = __task_cred(t);
	if (cred->thread_keyring)
		why = "has a thread keyring (not restored yet)";
	else if (cred->process_keyring)
		why = "has a process keyring (not restored yet)";
	else if (checkpoint_own_session(cred) != checkpoint_own_session(current_cred()))
		why = "has a session keyring other than the checkpointer's (not restored yet)";
	else if (cred->jit_keyring != current_cred()->jit_keyring)
		why = "has a default request_key(2) keyring other than the checkpointer's (not restored yet)";
	else if (cred->request_key_auth)
		why = "is instantiating a key for request_key(2) (not restored yet)";
	rcu_read_unlock();
#endif
	return why;
}

/*
 * Why checkpoint cannot save @mm, for state restart does not set up again;
 * NULL if none applies. Each would come back silently wrong: expedited
 * membarrier(2) commands failing, allocated protection keys free (key 0,
 * which every mm has when the CPU has keys, and the key execute-only memory
 * takes, whose mappings are refused on their own, do not count), selectors
 * loaded from the LDT faulting, tagged pointers faulting, AIO contexts gone.
 * The caller holds the mmap lock, which every writer of the key map takes
 * for writing; only the frozen tasks of @mm set up an LDT or LAM, once.
 */
const char *rust_helper_checkpoint_mm_unsupported(struct mm_struct *mm)
{
#ifdef CONFIG_MEMBARRIER
	if (atomic_read(&mm->membarrier_state))
		return "registered for expedited membarrier(2) (not restored yet)";
#endif
#ifdef CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS
	if (arch_pkeys_enabled()) {
		u16 map = mm_pkey_allocation_map(mm);
		int exec_only = mm->context.execute_only_pkey;

		if (exec_only > 0)
			map &= ~(1U << exec_only);
		if (map != 1)
			return "has memory protection keys (pkey_alloc(2), not restored yet)";
	}
#endif
#ifdef CONFIG_MODIFY_LDT_SYSCALL
	if (READ_ONCE(mm->context.ldt))
		return "has a local descriptor table (modify_ldt(2), not restored yet)";
#endif
#ifdef CONFIG_ADDRESS_MASKING
	if (mm_lam_cr3_mask(mm))
		return "has linear address masking enabled (ARCH_ENABLE_TAGGED_ADDR, not restored yet)";
#endif
#ifdef CONFIG_AIO
	if (checkpoint_mm_aio(mm))
		return "has an AIO context (io_setup(2), not restored yet)";
#endif
	return NULL;
}

/*
 * Why checkpoint cannot save a mapping, for the flags bindgen cannot see
 * (BIT() expressions) and the userfaultfd registration; NULL if none applies.
 * Each comes back silently wrong otherwise: unsealed, not droppable, or no
 * longer reporting its faults to the monitor.
 */
const char *rust_helper_checkpoint_vma_unsupported(const struct vm_area_struct *vma)
{
#ifdef VM_SEALED
	if (vma->vm_flags & VM_SEALED)
		return "memory sealed by mseal(2)";
#endif
	if (vma->vm_flags & VM_DROPPABLE)
		return "MAP_DROPPABLE memory";
	if (userfaultfd_armed((struct vm_area_struct *)vma))
		return "memory registered with a userfaultfd";
#ifdef CONFIG_NUMA
	/* Shared memory keeps its policies in its inode, per range. */
	if (vma->vm_policy ||
	    (vma_is_anon_shmem((struct vm_area_struct *)vma) &&
	     READ_ONCE(SHMEM_I(file_inode(vma->vm_file))->policy.root.rb_node)))
		return "memory with a NUMA policy (mbind(2))";
#endif
#ifdef CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS
	/*
	 * Kept by the mapping even after pkey_free(). Without keys in the CPU,
	 * every mapping has key 0, and so has execute_only_pkey (never set).
	 */
	if (arch_pkeys_enabled() && vma_pkey((struct vm_area_struct *)vma)) {
		if (vma_pkey((struct vm_area_struct *)vma) ==
		    vma->vm_mm->context.execute_only_pkey)
			return "execute-only memory (its protection key is not restored yet)";
		return "memory with a protection key (pkey_mprotect(2), not restored yet)";
	}
#endif
	return NULL;
}

#endif /* CONFIG_CHECKPOINT */
