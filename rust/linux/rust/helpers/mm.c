// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>

void rust_helper_mmget(struct mm_struct *mm)
{
	mmget(mm);
}

bool rust_helper_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

void rust_helper_mmap_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

void rust_helper_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

int rust_helper_mmap_write_lock_killable(struct mm_struct *mm)
{
	return mmap_write_lock_killable(mm);
}

void rust_helper_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

/*
 * The name prctl(PR_SET_VMA_ANON_NAME) gave @vma, or NULL; it lives as long
 * as the mapping keeps it, which the mmap lock ensures.
 */
const char *rust_helper_vma_anon_name(struct vm_area_struct *vma)
{
#ifdef CONFIG_ANON_VMA_NAME
	struct anon_vma_name *name = anon_vma_name(vma);

	return name ? name->name : NULL;
#else
	return NULL;
#endif
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

void rust_helper_vm_flags_mod(struct vm_area_struct *vma, vm_flags_t set,
			      vm_flags_t clear)
{
	vm_flags_mod(vma, set, clear);
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
