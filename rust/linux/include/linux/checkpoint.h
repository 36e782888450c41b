/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel checkpoint/restart (kernel/checkpoint/): the C interfaces the
 * Rust crate calls that live in other subsystems' files.
 */
#ifndef _LINUX_CHECKPOINT_H
#define _LINUX_CHECKPOINT_H

struct file;
struct mm_struct;

int restart_exec_mmap(struct mm_struct *mm, struct file *exe_file);
int restart_share_mm(struct mm_struct *mm);

#endif /* _LINUX_CHECKPOINT_H */
