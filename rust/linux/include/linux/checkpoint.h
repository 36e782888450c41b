/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel checkpoint/restart (kernel/checkpoint/): the C interfaces the
 * Rust crate calls that live in other subsystems' files.
 */
#ifndef _LINUX_CHECKPOINT_H
#define _LINUX_CHECKPOINT_H

#include <linux/types.h>

struct file;
struct itimerspec64;
struct mm_struct;
struct rseq;
struct task_struct;

int restart_exec_mmap(struct mm_struct *mm, struct file *exe_file);
int restart_share_mm(struct mm_struct *mm);
/* Only with CONFIG_RSEQ. */
int restart_rseq_register(struct rseq __user *rseq, u32 rseq_len, u32 sig);

int checkpoint_getitimer(struct task_struct *tsk, int which,
			 struct itimerspec64 *value);
int restart_setitimer(int which, struct itimerspec64 *value);

#endif /* _LINUX_CHECKPOINT_H */
