/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel checkpoint/restart (kernel/checkpoint/): the C interfaces the
 * Rust crate calls that live in other subsystems' files.
 */
#ifndef _LINUX_CHECKPOINT_H
#define _LINUX_CHECKPOINT_H

#include <linux/types.h>
#include <linux/path.h>
#include <linux/termios.h>

struct file;
struct files_struct;
struct fs_struct;
struct itimerspec64;
struct mm_struct;
struct path;
struct pid;
struct pid_namespace;
struct rlimit;
struct rseq;
struct sighand_struct;
struct task_struct;
struct tty_port;
struct tty_struct;

/*
 * A task's credentials as checkpoint(2) saves them and restart(2) sets them:
 * ids as the caller's user namespace sees them, capability sets as bit masks,
 * and ngroups supplementary groups at groups.
 */
struct checkpoint_creds {
	uid_t uid, euid, suid, fsuid;
	gid_t gid, egid, sgid, fsgid;
	u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	unsigned int securebits;
	unsigned int ngroups;
	gid_t *groups;
};

struct files_struct *get_files_struct(struct task_struct *tsk);
void restart_share_files(struct files_struct *files);
void restart_get_fs(struct fs_struct *fs);
void restart_put_fs(struct fs_struct *fs);
int restart_share_fs(struct fs_struct *fs);

int restart_exec_mmap(struct mm_struct *mm, struct file *exe_file);
int restart_share_mm(struct mm_struct *mm);
int restart_share_sighand(struct sighand_struct *sighand);
int restart_copy_vma(struct mm_struct *oldmm, unsigned long start,
		     unsigned long end, unsigned long src);
long restart_share_pages(struct mm_struct *srcmm, unsigned long start,
			 unsigned long end, unsigned long src);
int checkpoint_present_pages(struct mm_struct *mm, unsigned long start,
			     unsigned long nr, bool anon_only,
			     unsigned long *map);
/* Only with CONFIG_RSEQ. */
int restart_rseq_register(struct rseq __user *rseq, u32 rseq_len, u32 sig);

int checkpoint_getitimer(struct task_struct *tsk, int which,
			 struct itimerspec64 *value);
int restart_setitimer(int which, struct itimerspec64 *value);

/* checkpoint_posix_timer.state */
enum {
	CHECKPOINT_TIMER_DISARMED,
	/* Started, or a SIGEV_NONE timer with time left. */
	CHECKPOINT_TIMER_ARMED,
	/* An interval timer armed again when its pending signal is taken. */
	CHECKPOINT_TIMER_REARM,
};

/*
 * A POSIX timer (timer_create(2)) as checkpoint(2) reads it and restart(2)
 * creates it again. Times are in nanoseconds; expires is the time left, or,
 * with absolute, the expiry on the timer's clock.
 */
struct checkpoint_posix_timer {
	s32 id;
	s32 clock;
	s32 notify;
	/* The SIGEV_THREAD_ID thread, in the process's pid namespace. */
	s32 tid;
	s32 signo;
	s32 state;
	u64 value;
	s64 expires;
	s64 interval;
	s64 overrun;
	s64 overrun_last;
	/* With queued, the si_overrun of the pending signal. */
	s32 pending_overrun;
	bool absolute;
	bool queued;
	/* The SIGEV_THREAD_ID thread exited (checkpoint only). */
	bool target_gone;
};

int checkpoint_posix_timer_ids(struct task_struct *tsk, int *ids,
			       unsigned int room, int *next_id);
int checkpoint_posix_timer(struct task_struct *tsk, int id,
			   struct checkpoint_posix_timer *t);
int restart_posix_timer(const struct checkpoint_posix_timer *t);
int restart_posix_timer_queue(int id, int overrun);
void restart_posix_timer_next_id(int id);

/*
 * CPU time in nanoseconds, of a task or (with its children's) of what a
 * process keeps for its exited threads; adj_* is the split times(2) shows.
 */
struct checkpoint_cputime {
	u64 utime, stime, gtime, runtime;
	u64 adj_utime, adj_stime;
	u64 cutime, cstime, cgtime;
};

void checkpoint_task_cputime(struct task_struct *t, struct checkpoint_cputime *c);
void checkpoint_group_cputime(struct task_struct *t, struct checkpoint_cputime *c);
void restart_add_cputime(const struct checkpoint_cputime *c);
void restart_add_group_cputime(const struct checkpoint_cputime *c);

int restart_set_job_control(int signr, int report, bool continued);
int restart_setrlimit(unsigned int resource, struct rlimit *new_rlim);
int restart_set_oom_score_adj(int adj, int min);

int checkpoint_eventfd(struct file *file, u64 *count, unsigned int *flags,
		       bool *kernel_users);
struct file *restart_eventfd(u64 count, unsigned int flags);
int checkpoint_signalfd(struct file *file, u64 *mask);
struct file *restart_signalfd(u64 mask, int flags);

/**
 * struct checkpoint_timerfd - what checkpoint reads of a timerfd
 * @value: nanoseconds to its next expiry, or with TFD_TIMER_ABSTIME its
 *	expiry on its clock in the caller's time namespace; zero if it is
 *	disarmed
 * @interval: its period in nanoseconds, zero for a one-shot timer
 * @ticks: expiries not yet read
 * @clockid: its clock
 * @flags: TFD_TIMER_ABSTIME and TFD_TIMER_CANCEL_ON_SET as last set (both
 *	for a timer on the cancel list)
 * @canceled: whether the clock was set since, which a read reports
 */
struct checkpoint_timerfd {
	s64 value;
	s64 interval;
	u64 ticks;
	int clockid;
	unsigned int flags;
	bool canceled;
};

bool checkpoint_is_timerfd(struct file *file);
int checkpoint_timerfd(struct file *file, struct checkpoint_timerfd *t);
struct file *restart_timerfd(const struct checkpoint_timerfd *t, int flags);

/**
 * struct checkpoint_pipe - what checkpoint reads of a pipe
 * @pipe: the pipe, an address that names it while one of its files is held
 * @len: the bytes it holds
 * @size: its capacity in bytes, as F_GETPIPE_SZ reports it
 * @files: its open files, both ends counted
 * @uid: its owner, in the caller's user namespace
 * @gid: its group, in the caller's user namespace
 * @packets: whether a buffer it holds is a packet (written in O_DIRECT mode)
 * @fifo: whether it is a FIFO in a file system, not a pipe(2)
 * @waiting: whether the file, a reader of a FIFO, has seen no writer since it
 *	was opened, for which poll() does not report EPOLLHUP
 * @opens: how many times files of it were opened after pipe(2) made it or
 *	since a FIFO's first file opened it, readers and writers counted apart;
 *	only compared, to tell whether one was opened since
 */
struct checkpoint_pipe {
	void *pipe;
	u64 len;
	unsigned int size;
	unsigned int files;
	uid_t uid;
	gid_t gid;
	u64 opens;
	bool packets;
	bool fifo;
	bool waiting;
};

/**
 * struct checkpoint_pipe_pos - where checkpoint_pipe_read() goes on
 * @slot: buffer, counted from the one a read() takes first
 * @off: offset in that buffer
 */
struct checkpoint_pipe_pos {
	unsigned int slot;
	unsigned int off;
};

/**
 * struct checkpoint_memfd - what checkpoint reads of a memfd
 * @memfd: its inode, an address that names it while one of its files is held
 * @size: its size in bytes
 * @files: its open files (the references to its dentry)
 * @seals: its seals (F_SEAL_*)
 * @mode: its permission bits
 * @uid: its owner, in the caller's user namespace
 * @gid: its group, in the caller's user namespace
 * @fsflags: its inode flags (FS_IOC_SETFLAGS)
 * @ctime: its change time in nanoseconds, only compared
 * @writably_mapped: whether a shared mapping may write to it
 */
struct checkpoint_memfd {
	void *memfd;
	u64 size;
	u64 ctime;
	unsigned int files;
	unsigned int seals;
	unsigned int mode;
	unsigned int fsflags;
	uid_t uid;
	gid_t gid;
	bool writably_mapped;
};

bool checkpoint_shmem_internal(struct file *file);
int checkpoint_memfd(struct file *file, struct checkpoint_memfd *m, char *name,
		     size_t room);
bool checkpoint_memfd_readable(struct file *file);
loff_t checkpoint_memfd_next(struct file *file, loff_t pos, loff_t *end);
ssize_t checkpoint_memfd_read(struct file *file, loff_t pos, void *buf, size_t len);
struct file *restart_memfd(const char *name, loff_t size, bool exec);
int restart_memfd_seal(struct file *file, uid_t uid, gid_t gid, umode_t mode,
		       unsigned int seals);
struct file *restart_memfd_open(struct file *memfd, unsigned int flags);

/**
 * struct checkpoint_unlinked - what checkpoint reads of a deleted file
 * @unlinked: its inode, an address that names it while one of its files is held
 * @size: its size in bytes
 * @ctime: its change time in nanoseconds, only compared
 * @files: its open files (the references to its dentries)
 * @nlink: its links: more than none if it has another name still
 * @mode: its permission bits
 * @iflags: the inode flags chattr(1) sets (S_APPEND, S_IMMUTABLE...) it has
 * @uid: its owner, in the caller's user namespace
 * @gid: its group, in the caller's user namespace
 * @linkable: whether linkat(2) may name it (O_TMPFILE without O_EXCL)
 * @writably_mapped: whether a shared mapping may write to it
 * @tmpfile: whether its directory is there and can make it again (O_TMPFILE)
 */
struct checkpoint_unlinked {
	void *unlinked;
	u64 size;
	u64 ctime;
	unsigned int files;
	unsigned int nlink;
	unsigned int mode;
	unsigned int iflags;
	uid_t uid;
	gid_t gid;
	bool linkable;
	bool writably_mapped;
	bool tmpfile;
};

int checkpoint_unlinked(struct file *file, struct checkpoint_unlinked *u);
bool checkpoint_unlinked_readable(struct file *file);
int checkpoint_unlinked_dir(struct file *file, struct path *dir);
struct file *checkpoint_unlinked_reader(struct file *file);
loff_t checkpoint_unlinked_next(struct file *reader, loff_t pos, loff_t *end);
struct file *restart_unlinked(const char *dir, loff_t size, bool linkable);
struct file *restart_unlinked_done(struct file *file);
int restart_set_owner(struct file *file, uid_t uid, gid_t gid, umode_t mode);
struct file *restart_reopen(struct file *file, unsigned int flags);

int checkpoint_pipe(struct file *file, struct checkpoint_pipe *p);
ssize_t checkpoint_pipe_read(struct file *file, struct checkpoint_pipe_pos *pos,
			     void *buf, size_t len);
int restart_pipe(unsigned int size, uid_t uid, gid_t gid, struct file **res);
struct file *restart_pipe_open(struct file *end, unsigned int flags,
			       bool nowait);
int restart_fifo_free(const char *name);
int restart_fifo(struct file *held, unsigned int size);
int restart_fifo_end(struct file *held, struct file *file, bool nonblock,
		     bool waiting);
/**
 * struct checkpoint_unix - what checkpoint reads of a unix socket
 * @sock: the socket, an address that names it while its file is held
 * @peer: its peer's, NULL if it has none; only compared
 * @peer_listener: with @peer_embryo, the listener whose queue holds its peer;
 *	only compared
 * @creator: the main thread of the process that SO_PEERCRED names, NULL if
 *	none is alive; only compared
 * @refused: what of it checkpoint cannot save, NULL if nothing
 * @bytes: the bytes its receive queue holds
 * @rcvtimeo: SO_RCVTIMEO in microseconds, U64_MAX for none
 * @sndtimeo: SO_SNDTIMEO likewise
 * @type: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET
 * @shutdown: RCV_SHUTDOWN and SEND_SHUTDOWN
 * @qlen: the messages its receive queue holds; a listener's, its connections
 *	not accepted yet
 * @files: at least the files they carry (SCM_RIGHTS)
 * @creds: those that carry their sender's credentials (SCM_CREDENTIALS)
 * @backlog: its listen() backlog
 * @namelen: the length of its abstract name, 0 if none, or a path
 * @name: that name (sun_path): a NUL and the name's bytes
 * @peer_namelen: the length of its peer's abstract name (getpeername()), 0
 *	if none, or a path
 * @peer_name: that name
 * @userlocks: SOCK_SNDBUF_LOCK and SOCK_RCVBUF_LOCK: the sizes the user set
 * @err: its pending error (SO_ERROR)
 * @sndbuf: SO_SNDBUF
 * @rcvbuf: SO_RCVBUF
 * @rcvlowat: SO_RCVLOWAT
 * @peek_off: SO_PEEK_OFF
 * @uid: its owner, in the caller's user namespace
 * @gid: its group, likewise
 * @peer_dead: whether its peer was closed
 * @peercred: whether SO_PEERCRED names a process: the maker of its pair
 * @creator_cred: whether @creator's credentials are still those SO_PEERCRED
 *	and SO_PEERGROUPS report
 * @passcred: SO_PASSCRED
 * @passpidfd: SO_PASSPIDFD
 * @listening: whether it listens
 * @established: whether it is a datagram socket connected to none that
 *	another connected to, which unix_dgram_connect() leaves established
 * @bound: whether bind() gave it its name; an accepted socket has its
 *	listener's
 * @peer_embryo: whether its peer is a listener's socket not accepted yet,
 *	which no file holds
 * @paired: whether its peer is the other socket of its pair: connected to
 *	it or closed, with peer credentials if it has them
 */
struct checkpoint_unix {
	void *sock;
	void *peer;
	void *peer_listener;
	void *creator;
	const char *refused;
	u64 bytes;
	u64 rcvtimeo;
	u64 sndtimeo;
	unsigned int type;
	unsigned int shutdown;
	unsigned int qlen;
	unsigned int files;
	unsigned int creds;
	unsigned int backlog;
	unsigned int namelen;
	char name[108];
	unsigned int peer_namelen;
	char peer_name[108];
	unsigned int userlocks;
	int err;
	int sndbuf;
	int rcvbuf;
	int rcvlowat;
	int peek_off;
	uid_t uid;
	gid_t gid;
	bool peer_dead;
	bool peercred;
	bool creator_cred;
	bool passcred;
	bool passpidfd;
	bool listening;
	bool established;
	bool bound;
	bool peer_embryo;
	bool paired;
};

int checkpoint_unix(struct file *file, struct checkpoint_unix *u);
int checkpoint_unix_waiting(struct file *file, unsigned int i, struct checkpoint_unix *u);

/**
 * struct checkpoint_unix_path - the inode of a unix socket named by a path
 * @path: where it is
 * @bound_to: the socket bound to it, if any; only compared
 * @ino: its inode number
 * @dev: its filesystem's device
 * @mode: its mode
 * @uid: its owner, in the caller's user namespace
 * @gid: its group, likewise
 * @mapped: whether the caller's user namespace maps @uid and @gid
 */
struct checkpoint_unix_path {
	struct path path;
	void *bound_to;
	u64 ino;
	dev_t dev;
	umode_t mode;
	uid_t uid;
	gid_t gid;
	bool mapped;
};

int checkpoint_unix_path(struct file *file, bool peer, struct checkpoint_unix_path *p);

/**
 * struct checkpoint_unix_cred - the credentials a message carries
 *	(SCM_CREDENTIALS)
 * @sender: the task whose pid they name, NULL for a message without them;
 *	only compared at checkpoint, a task restart made at restart
 * @uid: the user id, in the caller's user namespace
 * @gid: the group id, likewise
 */
struct checkpoint_unix_cred {
	struct task_struct *sender;
	uid_t uid;
	gid_t gid;
};

/**
 * struct checkpoint_unix_msgs - the messages of a unix socket, as copied
 * @lens: set to the length of each message
 * @carried: set to the number of files each carries
 * @creds: set to the credentials each carries
 * @buf: set to their bytes, one after the other; NULL to copy none
 * @files: set to the files they carry, one after the other, each with a
 *	reference that the caller puts
 * @bytes: the room in @buf: the bytes checkpoint_unix() counted
 * @msgs: the room in @lens and @carried: the messages it counted
 * @nfiles: the room in @files: the files it counted, which are at least those
 *	the messages carry; set to the number copied
 */
struct checkpoint_unix_msgs {
	u32 *lens;
	u32 *carried;
	struct checkpoint_unix_cred *creds;
	void *buf;
	struct file **files;
	size_t bytes;
	unsigned int msgs;
	unsigned int nfiles;
};

int checkpoint_unix_queue(struct file *file, struct checkpoint_unix_msgs *q);
int checkpoint_unix_waiting_queue(struct file *file, unsigned int i,
				  struct checkpoint_unix_msgs *q);
int restart_unix_pair(unsigned int type, bool pair, struct file **res);
int restart_unix_fill(struct file *from, struct file *to, const void *buf, size_t len,
		      struct file **files, unsigned int n,
		      const struct checkpoint_unix_cred *cred);
int restart_unix_bind(struct file *file, const char *name, unsigned int len);
int restart_unix_name(struct file *file, const char *name, unsigned int len, struct file *holder);
int restart_unix_bind_path(struct file *file, const char *name, unsigned int len,
			   const char *where, const struct checkpoint_unix_path *saved);
int restart_unix_unlink(struct file *file);
int restart_unix_name_path(struct file *file, struct file *holder);
int restart_unix_name_closed_peer(struct file *file, const char *name, unsigned int len);
int restart_unix_connect(struct file *file, struct file *to);
int restart_unix_listen(struct file *file, unsigned int backlog, struct task_struct *creator,
			struct file **waiting, unsigned int n);
int restart_unix_set(struct file *file, const struct checkpoint_unix *u,
		     bool nonblock);
int restart_unix_finish(struct file *file, const struct checkpoint_unix *u);
int restart_unix_peercred(struct file *file, struct task_struct *creator);
/**
 * struct checkpoint_epoll_pos - where checkpoint_epoll_next() goes on
 * @file: the file of the watch read last, only compared
 * @fd: the fd of the watch read last
 */
struct checkpoint_epoll_pos {
	const void *file;
	int fd;
};

/**
 * struct checkpoint_epoll_watch - a watch of an epoll instance
 * @file: the file watched, counted
 * @fd: the fd it was added with
 * @events: its events, with the private bits (EPOLLET, EPOLLONESHOT, ...)
 * @data: what epoll_wait(2) reports with its events
 * @queue: the wait queue the watch waits on, the last the file's poll()
 *	added for a file that adds several, NULL if none; only compared
 */
struct checkpoint_epoll_watch {
	struct file *file;
	int fd;
	__poll_t events;
	u64 data;
	const void *queue;
};

bool checkpoint_is_epoll(struct file *file);
bool checkpoint_epoll_busy_poll(struct file *file);
unsigned int checkpoint_epoll_watchers(struct file *file);
int checkpoint_epoll_next(struct file *file, struct checkpoint_epoll_pos *pos,
			  struct checkpoint_epoll_watch *w);
struct file *restart_epoll(bool nonblock);
int restart_epoll_add(struct file *file, struct file *tfile, int fd,
		      __poll_t events, u64 data);
/* What checkpoint_pty() reports of a unix98 pty (@flags). */
#define CKPT_PTY_MASTER		0x0001	/* the file is the master's */
#define CKPT_PTY_LOCKED		0x0002	/* the slave may not be opened (TIOCSPTLCK) */
#define CKPT_PTY_PACKET		0x0004	/* the master is in packet mode (TIOCPKT) */
#define CKPT_PTY_SLAVE_CLOSED	0x0008	/* the slave's last file was closed */
/* ... and what it cannot be saved with: */
#define CKPT_PTY_UNREAD		0x0100	/* echoes checkpoint cannot save */
#define CKPT_PTY_LDISC		0x0200	/* a line discipline other than N_TTY */
#define CKPT_PTY_EXCLUSIVE	0x0400	/* TIOCEXCL on either side */
#define CKPT_PTY_LOCKED_TERMIOS	0x0800	/* TIOCSLCKTRMIOS */
#define CKPT_PTY_CTTY		0x1000	/* the controlling tty of a session */
#define CKPT_PTY_STOPPED	0x2000	/* output stopped (^S, TCOOFF) */
#define CKPT_PTY_HUNG_UP	0x4000	/* either side hung up */
#define CKPT_PTY_MASTER_CLOSED	0x8000	/* the master's file was closed */
#define CKPT_PTY_BUSY		0x10000	/* a line discipline being changed */
#define CKPT_PTY_OVERRUN	0x20000	/* more unread than checkpoint_tty_queue
					 * holds */

/**
 * struct checkpoint_pty - what checkpoint reads of a unix98 pty
 * @key: the master's tty, only compared: it names the pair
 * @index: its index, the N of /dev/pts/N
 * @flags: CKPT_PTY_*
 * @files: the open files of both sides
 * @column: the output column of the slave's line discipline
 * @canon_column: the column its line being edited starts at
 * @termios: the slave's termios (the master's cannot be set)
 * @winsize: the window size
 * @pktstatus: the packet-mode events the master has not read yet
 * @uid: the owner of the slave's node in devpts, in the caller's user namespace
 * @gid: its group, likewise
 * @mode: its permission bits
 *
 * Only @key, @index, @files and CKPT_PTY_MASTER unless asked for all.
 */
struct checkpoint_pty {
	unsigned long key;
	unsigned int index;
	unsigned int flags;
	unsigned int files;
	unsigned int column;
	unsigned int canon_column;
	struct ktermios termios;
	struct winsize winsize;
	u8 pktstatus;
	uid_t uid;
	gid_t gid;
	umode_t mode;
};

/* Most bytes checkpoint saves of a side's N_TTY (N_TTY_BUF_SIZE) and flip buffers. */
#define CKPT_TTY_READ_MAX	4096
#define CKPT_TTY_FLIP_MAX	32768
/* Most memory they may use: a buffer without flags holds two bytes a unit. */
#define CKPT_TTY_USED_MAX	(CKPT_TTY_FLIP_MAX / 2)

/* The state checkpoint saves with the bytes (@flags of checkpoint_tty_queue). */
#define CKPT_TTY_Q_PUSH		0x1	/* the last line ends without its delimiter */
#define CKPT_TTY_Q_LNEXT	0x2	/* the next byte is taken literally (VLNEXT) */
#define CKPT_TTY_Q_ERASING	0x4	/* an erase being echoed (ECHOPRT) */

/**
 * struct checkpoint_tty_queue - what the readers of one side of a pty have not read
 * @len: bytes its N_TTY holds, in @buf from the oldest
 * @canon: of which in complete lines (canonical mode); the last of them ends one
 * @flip: bytes after them in @buf that its flip buffers hold, not received yet
 * @lookahead: of which flow control looked at already (lookahead_buf)
 * @used: the memory its flip buffers use, which a writer's room depends on
 *	  (at most CKPT_TTY_USED_MAX)
 * @room: the bytes the last of them has room for
 * @flags: CKPT_TTY_Q_*
 * @echo: bytes of echoes (and of N_TTY's echo operations) in @echoes that its
 *	  N_TTY has not written to the other side yet, at most CKPT_TTY_READ_MAX
 * @echo_commit: of which those it writes as soon as there is room (all: the
 *		 flush that ends each receive commits them)
 * @echo_mark: of which those up to its echo mark, which process_echoes()
 *	       writes before a write of its own (all: each is marked as added)
 * @marks: bit i % 8 of byte i / 8: byte i of @buf ends a line
 * @buf: the bytes
 * @echoes: the echoes
 */
struct checkpoint_tty_queue {
	unsigned int len;
	unsigned int canon;
	unsigned int flip;
	unsigned int lookahead;
	unsigned int used;
	unsigned int room;
	unsigned int flags;
	unsigned int echo;
	unsigned int echo_commit;
	unsigned int echo_mark;
	u8 marks[CKPT_TTY_READ_MAX / 8];
	u8 buf[CKPT_TTY_READ_MAX + CKPT_TTY_FLIP_MAX];
	u8 echoes[CKPT_TTY_READ_MAX];
};

/**
 * struct checkpoint_pty_queues - what the readers of a pty have not read
 * @in: the slave's: input, which the master wrote, and its echoes not written
 *	to the master yet
 * @out: the master's: output, which the slave wrote, and the slave's echoes
 *	 written so far
 */
struct checkpoint_pty_queues {
	struct checkpoint_tty_queue in;
	struct checkpoint_tty_queue out;
};

int checkpoint_pty(struct file *file, struct checkpoint_pty *p, bool all,
		   struct checkpoint_pty_queues *q);
struct file *checkpoint_pty_master(struct file *file);
struct file *restart_ptmx_open(const char *name, int flags, int index);
int restart_pty_set(struct file *file, const struct checkpoint_pty *p,
		    const struct checkpoint_pty_queues *q);
int restart_pty_node(struct file *file, const struct checkpoint_pty *p);
void restart_pty_start(struct file *file);
bool restart_pty_is_slave(struct file *master, struct file *file);
struct file *checkpoint_task_ctty(struct task_struct *p,
				  struct pid_namespace *ns, pid_t *pgrp);
int restart_set_ctty(struct task_struct *p, struct file *master,
		     struct task_struct *fg);
/* In drivers/tty: the tty under a tty file, the N_TTY state of a pty. */
struct tty_struct *checkpoint_file_tty(struct file *file, bool *hung_up);
int checkpoint_tty_buffer_lock(struct tty_port *port);
int checkpoint_tty_buffer_read(struct tty_port *port, u8 *to, size_t size,
			       unsigned int *used, unsigned int *room);
int restart_tty_buffer_fill(struct tty_port *port, const u8 *chars,
			    size_t size, size_t lookahead, unsigned int used,
			    unsigned int room, bool push);
int checkpoint_n_tty(struct tty_struct *tty, struct checkpoint_tty_queue *q,
		     unsigned int *column, unsigned int *canon_column);
void restart_n_tty_column(struct tty_struct *tty, unsigned int column,
			  unsigned int canon_column);
int restart_n_tty_queue(struct tty_struct *tty,
			const struct checkpoint_tty_queue *q);
int restart_can_reparent(struct task_struct *p, struct task_struct *parent,
			 int exit_signal);
int restart_reparent(struct task_struct *p, struct task_struct *parent,
		     int exit_signal);
int restart_can_set_pgrp_session(struct task_struct *p, struct pid *pgrp,
				 struct pid *session, bool leader);
int restart_set_pgrp_session(struct task_struct *p, struct pid *pgrp,
			     struct pid *session, bool leader);

int checkpoint_task_creds(struct task_struct *task, struct checkpoint_creds *c,
			  unsigned int room);
int restart_set_creds(const struct checkpoint_creds *c, const char **what);

/* A file lock as checkpoint_file_locks() finds it and restart_file_lock() takes it. */
enum checkpoint_lock_kind {
	CHECKPOINT_LOCK_FLOCK = 1,
	CHECKPOINT_LOCK_OFD,
	CHECKPOINT_LOCK_POSIX,
	CHECKPOINT_LOCK_LEASE,
};

struct checkpoint_lock {
	loff_t start, end;	/* the first and last byte, OFFSET_MAX: no end */
	pid_t pid;		/* who took it, as F_GETLK reports it */
	unsigned char kind;	/* enum checkpoint_lock_kind */
	unsigned char type;	/* F_RDLCK or F_WRLCK (F_UNLCK: a lease being broken) */
};

unsigned int checkpoint_file_locks(struct file *filp,
				   struct files_struct *files,
				   struct checkpoint_lock *locks,
				   unsigned int room);
int restart_file_lock(struct file *filp, unsigned int fd,
		      const struct checkpoint_lock *lock);
/* Only with CONFIG_AIO. */
bool checkpoint_mm_aio(struct mm_struct *mm);
/* Only with CONFIG_IO_URING. */
bool checkpoint_task_io_uring(struct task_struct *tsk);
/* Only with CONFIG_SYSVIPC. */
const char *checkpoint_task_sem_undo(struct task_struct *tsk);
/* Only with CONFIG_SECURITY_LANDLOCK. */
bool checkpoint_task_landlocked(struct task_struct *task);
/* Only with CONFIG_SECURITY_YAMA. */
bool checkpoint_task_ptracer(struct task_struct *task);
/* Only with CONFIG_AUDIT. */
int restart_audit_join_session(struct task_struct *from);
/* Only with CONFIG_SCHED_AUTOGROUP. */
int checkpoint_autogroup_nice(struct task_struct *p);
void restart_autogroup_join(struct task_struct *p, struct task_struct *with);

#endif /* _LINUX_CHECKPOINT_H */
