// A dynamically linked checkpoint target for restore_dynamic (see tests/src/target.rs,
// Target::exec): `dynamic_target READY_FD`. It fills memory through libc (malloc, a thread-local,
// a global), snapshots /proc/self/maps, writes one byte to READY_FD and closes it, then sleeps
// in sigsuspend until SIGUSR1. Restored, it checks that the maps, the memory and its pid are
// unchanged and that libc still works (stdio, malloc), and exits 0; 3 with a message on stderr
// when a check fails, 2 when the setup fails.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAP_LEN (1 << 20)
#define MAPS_LEN (64 << 10)

static volatile sig_atomic_t woken;
static char maps_before[MAPS_LEN], maps_after[MAPS_LEN];
static __thread unsigned long tls_value;
unsigned long global_value = 0x0123456789abcdefUL;

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static int fail(int code, const char *what)
{
	fprintf(stderr, "%s: %s (errno %d)\n", code == 2 ? "setup failed" : "FAIL", what, errno);
	return code;
}

static ssize_t read_maps(char *buf)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t len = 0, n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, MAPS_LEN - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return n < 0 ? -1 : len;
}

static unsigned long pattern(size_t i)
{
	return (i * 0x9e3779b97f4a7c15UL) ^ 0xd1ad;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t block, during;
	unsigned long *heap;
	pid_t pid = getpid();
	char text[64];
	size_t i;
	int ready;

	if (argc != 2)
		return fail(2, "usage: dynamic_target READY_FD");
	ready = atoi(argv[1]);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	if (sigaction(SIGUSR1, &sa, NULL) || sigprocmask(SIG_BLOCK, &block, &during))
		return fail(2, "SIGUSR1");
	sigdelset(&during, SIGUSR1);
	heap = malloc(HEAP_LEN);
	if (!heap)
		return fail(2, "malloc");
	for (i = 0; i < HEAP_LEN / sizeof(*heap); i++)
		heap[i] = pattern(i);
	tls_value = 0x7e57;
	global_value ^= pid;
	/* stdio allocates its buffer on first use: before the snapshot. */
	fprintf(stdout, "dynamic target %d ready\n", pid);
	fflush(stdout);
	if (read_maps(maps_before) < 0)
		return fail(2, "read /proc/self/maps");
	if (write(ready, "R", 1) != 1 || close(ready))
		return fail(2, "ready fd");

	while (!woken)
		sigsuspend(&during);

	if (read_maps(maps_after) < 0)
		return fail(3, "read /proc/self/maps");
	if (strcmp(maps_before, maps_after)) {
		fprintf(stderr, "before:\n%s\nafter:\n%s\n", maps_before, maps_after);
		return fail(3, "/proc/self/maps changed");
	}
	for (i = 0; i < HEAP_LEN / sizeof(*heap); i++)
		if (heap[i] != pattern(i))
			return fail(3, "malloc'd memory changed");
	if (tls_value != 0x7e57)
		return fail(3, "thread-local variable changed");
	if (global_value != (0x0123456789abcdefUL ^ pid))
		return fail(3, "global variable changed");
	if (getpid() != pid)
		return fail(3, "getpid() changed");
	free(heap);
	heap = malloc(3 * HEAP_LEN);
	if (!heap)
		return fail(3, "malloc after the restart");
	memset(heap, 1, 3 * HEAP_LEN);
	snprintf(text, sizeof(text), "pid %d", pid);
	if (strlen(text) < 5)
		return fail(3, "snprintf");
	printf("dynamic target restored: %s\n", text);
	return fflush(stdout) ? fail(3, "stdout") : 0;
}
