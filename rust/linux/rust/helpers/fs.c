// SPDX-License-Identifier: GPL-2.0

#include <linux/dcache.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>

struct file *rust_helper_get_file(struct file *file)
{
	return get_file(file);
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

int rust_helper_file_permission(struct file *file, int mask)
{
	return file_permission(file, mask);
}
