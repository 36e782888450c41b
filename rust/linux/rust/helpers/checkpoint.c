// SPDX-License-Identifier: GPL-2.0
/*
 * Inline functions and macros used by the checkpoint/restart crate
 * (kernel/checkpoint/), wrapped so that Rust can call them.
 */

#include <linux/audit.h>
#include <linux/cgroup.h>
#include <linux/checkpoint.h>
#include <linux/cred.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/ioprio.h>
#include <linux/keyctl.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmap_lock.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/pid_namespace.h>
#include <linux/pkeys.h>
#include <linux/prctl.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/seccomp.h>
#include <linux/security.h>
#include <linux/shmem_fs.h>
#include <linux/syscall_user_dispatch.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/task_work.h>
#include <linux/userfaultfd_k.h>
#include <linux/utsname.h>
#include <uapi/linux/sched/types.h>
#include <asm/fpu/xstate.h>
#include <asm/mmu_context.h>
#include <asm/prctl.h>
#include <asm/processor.h>
#include <asm/proto.h>

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

struct pt_regs *rust_helper_task_pt_regs(struct task_struct *task)
{
	return task_pt_regs(task);
}

bool rust_helper_PageAnon(struct page *page)
{
	return PageAnon(page);
}

bool rust_helper_PageAnonExclusive(struct page *page)
{
	return PageAnonExclusive(page);
}

void rust_helper_get_page(struct page *page)
{
	get_page(page);
}

void rust_helper_put_page(struct page *page)
{
	put_page(page);
}

void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

struct page *rust_helper_folio_file_page(struct folio *folio, pgoff_t index)
{
	return folio_file_page(folio, index);
}

loff_t rust_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

bool rust_helper_close_on_exec(unsigned int fd, const struct files_struct *files)
{
	return close_on_exec(fd, files);
}

void rust_helper_get_fs_root(struct fs_struct *fs, struct path *root)
{
	get_fs_root(fs, root);
}

void rust_helper_get_fs_pwd(struct fs_struct *fs, struct path *pwd)
{
	get_fs_pwd(fs, pwd);
}

bool rust_helper_d_unlinked(const struct dentry *dentry)
{
	return d_unlinked(dentry);
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

void rust_helper_vm_flags_mod(struct vm_area_struct *vma, vm_flags_t set,
			      vm_flags_t clear)
{
	vm_flags_mod(vma, set, clear);
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

int rust_helper_file_permission(struct file *file, int mask)
{
	return file_permission(file, mask);
}

bool rust_helper_fatal_signal_pending(struct task_struct *p)
{
	return fatal_signal_pending(p);
}

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

/*
 * The root of the tree of anon_vmas @vma is linked to, or NULL before it has
 * an anonymous page; the mmap lock keeps it. Mappings that may map the same
 * anonymous page have the same root.
 */
const void *rust_helper_checkpoint_vma_anon_root(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = READ_ONCE(vma->anon_vma);

	return anon_vma ? anon_vma->root : NULL;
}

/*
 * Names the current task's anonymous mappings in [@start, @start + @len) @name
 * as prctl(PR_SET_VMA_ANON_NAME) would, with its rules (kernel/sys.c): at most
 * 79 bytes, printable ASCII but for \`$[]. -EINVAL otherwise or without
 * CONFIG_ANON_VMA_NAME, -EBADF for a file mapping in the range.
 */
int rust_helper_checkpoint_set_anon_name(u64 start, u64 len, const char *name)
{
#ifdef CONFIG_ANON_VMA_NAME
	struct mm_struct *mm = current->mm;
	struct anon_vma_name *anon_name;
	const char *p;
	int err;

	if (strnlen(name, 80) >= 80)
		return -EINVAL;
	for (p = name; *p; p++)
		if (*p < 0x20 || *p > 0x7e || strchr("\\`$[]", *p))
			return -EINVAL;
	anon_name = anon_vma_name_alloc(name);
	if (!anon_name)
		return -ENOMEM;
	mmap_write_lock(mm);
	err = madvise_set_anon_name(mm, start, len, anon_name);
	mmap_write_unlock(mm);
	anon_vma_name_put(anon_name);
	return err;
#else
	return -EINVAL;
#endif
}

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
