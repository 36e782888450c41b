// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of checkpoint/restart: the system call entry points and the
 * /sys/kernel/checkpoint/ files, which are C macros. All the work is done by
 * the Rust crate in checkpoint.rs.
 */
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/string.h>
#include <linux/syscalls.h>
#include <linux/sysfs.h>

long rust_checkpoint(pid_t pid, int fd, unsigned int flags, int logfd,
		     u64 unlinked_max);
long rust_restart(int fd, unsigned int flags, int logfd);
/* Bytes the Rust side owns for ever, not NUL-terminated. */
struct rust_bytes {
	const char *data;
	size_t len;
};

struct rust_bytes rust_checkpoint_abi_hash(void);
struct rust_bytes rust_checkpoint_schema(void);

SYSCALL_DEFINE5(checkpoint, pid_t, pid, int, fd, unsigned int, flags, int, logfd,
		u64, unlinked_max)
{
	return rust_checkpoint(pid, fd, flags, logfd, unlinked_max);
}

SYSCALL_DEFINE3(restart, int, fd, unsigned int, flags, int, logfd)
{
	return rust_restart(fd, flags, logfd);
}

/* /sys/kernel/checkpoint/abi: the hash of the image schema this kernel reads and writes. */
static ssize_t abi_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct rust_bytes hash = rust_checkpoint_abi_hash();

	return sysfs_emit(buf, "%.*s\n", (int)hash.len, hash.data);
}
static struct kobj_attribute abi_attr = __ATTR_RO(abi);

/* /sys/kernel/checkpoint/schema: the schema itself, larger than a page. */
static ssize_t schema_read(struct file *file, struct kobject *kobj,
			   struct bin_attribute *attr, char *buf, loff_t off,
			   size_t count)
{
	struct rust_bytes schema = rust_checkpoint_schema();

	return memory_read_from_buffer(buf, count, &off, schema.data, schema.len);
}
static struct bin_attribute schema_attr = __BIN_ATTR_RO(schema, 0);

static int __init checkpoint_sysfs_init(void)
{
	struct kobject *kobj;
	int err;

	schema_attr.size = rust_checkpoint_schema().len;

	kobj = kobject_create_and_add("checkpoint", kernel_kobj);
	if (!kobj)
		return -ENOMEM;
	err = sysfs_create_file(kobj, &abi_attr.attr);
	if (!err)
		err = sysfs_create_bin_file(kobj, &schema_attr);
	if (err)
		kobject_put(kobj);
	return err;
}
late_initcall(checkpoint_sysfs_init);
