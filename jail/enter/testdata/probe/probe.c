/*
 * probe: attempts one way out of a chroot jail per subcommand, for
 * jail/escape_test.go. Built static (gcc -static -O1 -o probe probe.c), so a
 * jail needs nothing else to run it.
 *
 * Every subcommand prints one line and exits
 *   10  "ESCAPED: ..."    it reached the host (read the host's marker file,
 *                         signalled or traced a host process, opened a host
 *                         binary, pushed input into a host terminal);
 *    0  "contained: ..."  every attempt failed; the line names each errno;
 *    2  "cannot test: ..." bad usage, or the escape does not apply here.
 *
 * The host side decides for itself too (the marker's content is a secret it
 * checks for; a process it started must still be alive and untouched), so a
 * probe that lies cannot make a test pass.
 *
 *   chroot MARKER           mkdir /tmp/x, chroot(/tmp/x), chdir("..") many
 *                           times, chroot("."), read MARKER (absolute host path)
 *   fd N NAME               openat(N, NAME) on an inherited directory fd, then
 *                           the same on every other open directory fd
 *   procroot MARKER         read /proc/PID/root/MARKER for every PID
 *   handle REL              open_by_handle_at on the filesystem's root inode
 *                           (ext4: type 1, {ino 2, gen 0}), read REL below it
 *   kill PID                kill(PID, SIGTERM)
 *   ptrace PID              PTRACE_ATTACH, then detach delivering SIGUSR1
 *   exe PID                 open /proc/PID/exe read-only, by O_PATH, write-only
 *                           (never writes: it only says whether it could)
 *   mknod MAJOR MINOR REL   mknod the host disk as /tmp/escape-disk, mount it
 *                           (ext4) on /mnt, read /mnt/REL, unmount
 *   tiocsti TEXT            push TEXT and a newline into stdin's terminal:
 *                           TIOCSTI; TIOCSTI with high bits set in the request
 *                           (a 64-bit seccomp compare misses it, the kernel
 *                           truncates it to 32 bits); then both again after
 *                           taking stdin as controlling terminal (TIOCSCTTY)
 *   userns                  clone(CLONE_NEWUSER), clone3(CLONE_NEWUSER) and
 *                           unshare(CLONE_NEWUSER): a new user namespace
 *                           hands back every capability (CAP_SYS_ADMIN
 *                           included) within it, whatever the bounding set was
 *   fds                     list the open fds above 2
 *   abstract NAME           connect to the abstract unix socket @NAME (a host
 *                           process's, in the host's network namespace) and
 *                           read what it says
 *   unix PATH               connect to the unix socket PATH (one bound into the
 *                           jail on purpose) and say what it said; exit 0
 *   shm KEY                 attach the System V shared memory segment KEY (a
 *                           host process's, in the host's IPC namespace) and
 *                           read it
 *   autogroup GROUP         for every process in /proc, read its autogroup;
 *                           one that is GROUP (the host session's, such as
 *                           /autogroup-42) gets nice 19, which slows every
 *                           process of that session on the host
 *   stdin MARKER            stdin a directory: fchdir(0), chdir("..") many
 *                           times, read MARKER from there; stdin an O_PATH
 *                           file: open it anew through /proc/self/fd/0
 *   setuid DIR              make a setuid or setgid file (or directory) in DIR
 *                           every way there is: chmod, fchmod, fchmodat,
 *                           fchmodat2, open, openat, creat, O_TMPFILE then
 *                           linkat, openat2, io_uring openat, mknod, mknodat,
 *                           mkdir, mkdirat; DIR/WAY is each one's file
 *   fcap PATH               create PATH and give it file capabilities
 *                           (security.capability: CAP_SYS_ADMIN, effective)
 *   fill PATH MIB           write MIB MiB to PATH (escaped: all of it went)
 *   forks N                 fork N children that wait (escaped: all N, no
 *                           limit stopped it); says how many it got
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <termios.h>
#include <unistd.h>

#define EXIT_CONTAINED 0
#define EXIT_CANNOT 2
#define EXIT_ESCAPED 10

static char notes[8192]; /* what was tried, for the one output line */

static void note(const char *fmt, ...)
{
	size_t n = strlen(notes);
	va_list ap;
	if (n > 0 && n < sizeof notes - 2) {
		notes[n++] = ';';
		notes[n++] = ' ';
		notes[n] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(notes + n, sizeof notes - n, fmt, ap);
	va_end(ap);
}

static const char *ename(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "E?";
}

static int finish(int code, const char *fmt, ...)
{
	va_list ap;
	fputs(code == EXIT_ESCAPED ? "ESCAPED: " : code == EXIT_CONTAINED ? "contained: " : "cannot test: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (notes[0])
		printf(" [%s]", notes);
	putchar('\n');
	fflush(stdout);
	return code;
}

/* readat reads the small file path below dirfd into buf; 0 or an errno. */
static int readat(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	return 0;
}

static int do_chroot(const char *marker)
{
	char buf[512];
	if (mkdir("/tmp/x", 0700) < 0 && errno != EEXIST)
		note("mkdir /tmp/x: %s", ename(errno));
	if (chroot("/tmp/x") < 0)
		return finish(EXIT_CONTAINED, "chroot(/tmp/x): %s", ename(errno));
	/* The cwd is now outside the root: ".." is not stopped at the root. */
	for (int i = 0; i < 256; i++)
		chdir("..");
	if (chroot(".") < 0)
		return finish(EXIT_CONTAINED, "chroot(.) after climbing: %s", ename(errno));
	int e = readat(AT_FDCWD, marker, buf, sizeof buf);
	if (e == 0)
		return finish(EXIT_ESCAPED, "read %s after chroot(/tmp/x), chdir(..) x256, chroot(.): %s", marker, buf);
	return finish(EXIT_CONTAINED, "double chroot: open %s: %s", marker, ename(e));
}

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return "dir";
	case S_IFREG: return "file";
	case S_IFIFO: return "pipe";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFLNK: return "link";
	}
	return "?";
}

/* trydirfd reads name below fd when fd is an open directory: 1 escaped. */
static int trydirfd(int fd, const char *name, char *buf, size_t size)
{
	struct stat st;
	if (fcntl(fd, F_GETFD) < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		note("fd %d: fstat %s", fd, ename(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		note("fd %d: %s", fd, ftype(st.st_mode));
		return 0;
	}
	int e = readat(fd, name, buf, size);
	if (e == 0)
		return 1;
	note("fd %d: dir, openat %s: %s", fd, name, ename(e));
	return 0;
}

static int do_fd(int n, const char *name)
{
	char buf[512];
	if (fcntl(n, F_GETFD) < 0)
		note("fd %d: %s", n, ename(errno));
	else if (trydirfd(n, name, buf, sizeof buf))
		return finish(EXIT_ESCAPED, "read %s through inherited fd %d: %s", name, n, buf);
	for (int fd = 3; fd < 1024; fd++) {
		if (fd != n && trydirfd(fd, name, buf, sizeof buf))
			return finish(EXIT_ESCAPED, "read %s through inherited fd %d: %s", name, fd, buf);
	}
	return finish(EXIT_CONTAINED, "no inherited directory fd leads to %s", name);
}

static int do_fds(void)
{
	struct stat st;
	char link[64], target[256];
	int any = 0;
	for (int fd = 3; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &st) < 0)
			continue;
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = 0;
		note("fd %d: %s %s", fd, ftype(st.st_mode), target);
		any = 1;
	}
	return finish(EXIT_CONTAINED, any ? "open fds above 2" : "no open fds above 2");
}

static int cmp_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x < y) - (x > y);
}

static int do_procroot(const char *marker)
{
	char buf[512], path[4096];
	static int pids[65536];
	int n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return finish(EXIT_CONTAINED, "opendir /proc: %s", ename(errno));
	for (struct dirent *de; (de = readdir(d)) != NULL && n < 65536;) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end == 0 && pid > 0)
			pids[n++] = (int)pid;
	}
	closedir(d);
	/* Newest first: the processes that started this probe come before
	 * long-lived ones such as PID 1. */
	qsort(pids, n, sizeof pids[0], cmp_desc);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/proc/%d/root%s", pids[i], marker);
		int e = readat(AT_FDCWD, path, buf, sizeof buf);
		if (e == 0)
			return finish(EXIT_ESCAPED, "read %s: %s", path, buf);
		note("/proc/%d/root: %s", pids[i], ename(e));
	}
	return finish(EXIT_CONTAINED, "%d processes in /proc, no /proc/PID/root leads to %s", n, marker);
}

static int do_handle(const char *rel)
{
	char buf[512];
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h, root;
	int mnt;
	int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return finish(EXIT_CANNOT, "open /: %s", ename(errno));
	/* The jail root's own handle tells the filesystem's handle type. */
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h.fh, &mnt, 0) < 0) {
		note("name_to_handle_at(/): %s", ename(errno));
	} else {
		note("handle of / is type %d, %u bytes", h.fh.handle_type, h.fh.handle_bytes);
		if (h.fh.handle_type != 1 || h.fh.handle_bytes != 8)
			return finish(EXIT_CANNOT, "not an ext4-style handle (FILEID_INO32_GEN, 8 bytes)");
	}
	/* "shocker": a handle made up for inode 2, the ext4 root directory;
	 * generation 0 is not checked. */
	root.fh.handle_bytes = 8;
	root.fh.handle_type = 1;
	uint32_t ino_gen[2] = {2, 0};
	memcpy(root.fh.f_handle, ino_gen, sizeof ino_gen);
	int fd = syscall(SYS_open_by_handle_at, rootfd, &root.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return finish(EXIT_CONTAINED, "open_by_handle_at(inode 2): %s", ename(errno));
	struct stat a, b;
	fstat(fd, &a);
	fstat(rootfd, &b);
	int e = readat(fd, rel, buf, sizeof buf);
	if (e == 0)
		return finish(EXIT_ESCAPED, "open_by_handle_at(inode 2), then read %s: %s", rel, buf);
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return finish(EXIT_ESCAPED, "open_by_handle_at(inode 2) opened a directory outside the jail (ino %lu), but %s: %s",
			      (unsigned long)a.st_ino, rel, ename(e));
	return finish(EXIT_CONTAINED, "open_by_handle_at gave the jail's own root; %s: %s", rel, ename(e));
}

static int do_kill(int pid)
{
	if (kill(pid, SIGTERM) == 0)
		return finish(EXIT_ESCAPED, "kill(%d, SIGTERM) succeeded", pid);
	return finish(EXIT_CONTAINED, "kill(%d, SIGTERM): %s", pid, ename(errno));
}

static int do_ptrace(int pid)
{
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
		return finish(EXIT_CONTAINED, "ptrace(PTRACE_ATTACH, %d): %s", pid, ename(errno));
	int st;
	if (waitpid(pid, &st, __WALL) < 0)
		note("waitpid: %s", ename(errno));
	struct user_regs_struct regs;
	memset(&regs, 0, sizeof regs);
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
		note("PTRACE_GETREGS: %s", ename(errno));
	/* Proof of control the host can see: the tracee gets SIGUSR1. */
	if (ptrace(PTRACE_DETACH, pid, 0, (void *)(long)SIGUSR1) < 0)
		note("PTRACE_DETACH: %s", ename(errno));
	return finish(EXIT_ESCAPED, "attached to %d (rip %#llx), detached delivering SIGUSR1", pid, (unsigned long long)regs.rip);
}

static int do_exe(int pid)
{
	char path[64], via[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fstat(fd, &st);
		close(fd);
		return finish(EXIT_ESCAPED, "opened %s read-only: dev=%lu ino=%lu size=%ld", path,
			      (unsigned long)st.st_dev, (unsigned long)st.st_ino, (long)st.st_size);
	}
	note("O_RDONLY: %s", ename(errno));
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		fstat(fd, &st);
		snprintf(via, sizeof via, "/proc/self/fd/%d", fd);
		int rfd = open(via, O_RDONLY | O_CLOEXEC);
		note("reopen O_PATH fd read-only: %s", rfd >= 0 ? "ok" : ename(errno));
		if (rfd >= 0)
			close(rfd);
		close(fd);
		return finish(EXIT_ESCAPED, "opened %s by O_PATH: dev=%lu ino=%lu size=%ld", path,
			      (unsigned long)st.st_dev, (unsigned long)st.st_ino, (long)st.st_size);
	}
	note("O_PATH: %s", ename(errno));
	/* Never O_TRUNC and never a write: only whether the open works. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return finish(EXIT_ESCAPED, "opened %s for writing", path);
	}
	note("O_WRONLY: %s", ename(errno));
	return finish(EXIT_CONTAINED, "%s cannot be opened", path);
}

static int do_mknod(unsigned maj, unsigned min, const char *rel)
{
	char buf[512], path[4096];
	const char *node = "/tmp/escape-disk";
	if (mkdir("/mnt", 0755) < 0 && errno != EEXIST)
		note("mkdir /mnt: %s", ename(errno));
	if (mknod(node, S_IFBLK | 0600, makedev(maj, min)) < 0)
		return finish(EXIT_CONTAINED, "mknod %s b %u %u: %s", node, maj, min, ename(errno));
	if (mount(node, "/mnt", "ext4", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int e = errno;
		unlink(node);
		return finish(EXIT_CONTAINED, "mknod worked; mount %s (ext4) on /mnt: %s", node, ename(e));
	}
	snprintf(path, sizeof path, "/mnt/%s", rel);
	int e = readat(AT_FDCWD, path, buf, sizeof buf);
	if (umount2("/mnt", MNT_DETACH) < 0)
		note("umount /mnt: %s", ename(errno));
	unlink(node);
	if (e == 0)
		return finish(EXIT_ESCAPED, "mounted the host disk %u:%u, read %s: %s", maj, min, path, buf);
	return finish(EXIT_ESCAPED, "mounted the host disk %u:%u, but %s: %s", maj, min, path, ename(e));
}

/* push puts text and a newline into fd's terminal input, one byte per
 * ioctl, with the given request; 0 or an errno. */
static int push(unsigned long req, const char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? text[i] : '\n';
		if (syscall(SYS_ioctl, 0, req, &c) < 0)
			return errno;
	}
	return 0;
}

static int do_tiocsti(const char *text)
{
	const unsigned long plain = TIOCSTI, high = (unsigned long)TIOCSTI | (1UL << 32);
	if (!isatty(0))
		return finish(EXIT_CANNOT, "stdin is not a terminal");
	int e = push(plain, text);
	if (e == 0)
		return finish(EXIT_ESCAPED, "TIOCSTI on stdin pushed %s", text);
	note("TIOCSTI: %s", ename(e));
	e = push(high, text);
	if (e == 0)
		return finish(EXIT_ESCAPED, "TIOCSTI|1<<32 on stdin (past a 64-bit seccomp compare) pushed %s", text);
	note("TIOCSTI|1<<32: %s", ename(e));
	if (ioctl(0, TIOCSCTTY, 0) < 0) {
		note("TIOCSCTTY: %s", ename(errno));
		return finish(EXIT_CONTAINED, "no TIOCSTI on stdin");
	}
	note("TIOCSCTTY: ok (stdin is now the controlling terminal)");
	e = push(plain, text);
	if (e == 0)
		return finish(EXIT_ESCAPED, "TIOCSCTTY, then TIOCSTI pushed %s", text);
	note("then TIOCSTI: %s", ename(e));
	e = push(high, text);
	if (e == 0)
		return finish(EXIT_ESCAPED, "TIOCSCTTY, then TIOCSTI|1<<32 (past a 64-bit seccomp compare) pushed %s", text);
	note("then TIOCSTI|1<<32: %s", ename(e));
	return finish(EXIT_CONTAINED, "no TIOCSTI on stdin");
}

/* in_new_userns runs in the child of a clone into a new user namespace:
 * exit 42 when it holds CAP_SYS_ADMIN there, 43 when not. */
static void in_new_userns(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) == 0 && (data[0].effective & (1u << CAP_SYS_ADMIN)))
		_exit(42);
	_exit(43);
}

/* newuser reports what a child started by start() got: 1 when it held
 * CAP_SYS_ADMIN in a new user namespace. */
static int newuser(const char *how, long pid)
{
	int st;
	if (pid < 0) {
		note("%s: %s", how, ename(errno));
		return 0;
	}
	if (pid == 0)
		in_new_userns();
	if (waitpid(pid, &st, __WALL) < 0) {
		note("%s: waitpid: %s", how, ename(errno));
		return 0;
	}
	int got = WIFEXITED(st) && WEXITSTATUS(st) == 42;
	note("%s: a child in a new user namespace %s CAP_SYS_ADMIN", how, got ? "with" : "without");
	return got;
}

static int do_userns(void)
{
	int n = 0;
	n += newuser("clone(CLONE_NEWUSER)", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	struct clone_args a;
	memset(&a, 0, sizeof a);
	a.flags = CLONE_NEWUSER;
	a.exit_signal = SIGCHLD;
	n += newuser("clone3(CLONE_NEWUSER)", syscall(SYS_clone3, &a, sizeof a));
	long pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(100 + errno); /* errno values are small */
		in_new_userns();
	}
	if (pid > 0) {
		int st;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) >= 100) {
			note("unshare(CLONE_NEWUSER): %s", ename(WEXITSTATUS(st) - 100));
		} else {
			int got = WIFEXITED(st) && WEXITSTATUS(st) == 42;
			note("unshare(CLONE_NEWUSER): in a new user namespace %s CAP_SYS_ADMIN", got ? "with" : "without");
			n += got;
		}
	}
	if (n > 0)
		return finish(EXIT_ESCAPED, "%d of 3 ways gave a process CAP_SYS_ADMIN in a new user namespace", n);
	return finish(EXIT_CONTAINED, "no new user namespace");
}

/* unix_say connects to the unix socket name (abstract: @name) and reads
 * what it says into buf; -1 with errno set when it cannot connect. */
static int unix_say(const char *name, int abstract, char *buf, size_t size)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n + 1 > sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n); /* abstract: sun_path[0] = 0 */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + (abstract ? 1 : 0) + n) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	ssize_t r = read(fd, buf, size - 1);
	close(fd);
	buf[r < 0 ? 0 : r] = 0;
	while (r > 0 && buf[r - 1] == '\n')
		buf[--r] = 0;
	return 0;
}

static int do_abstract(const char *name)
{
	char buf[512];
	if (unix_say(name, 1, buf, sizeof buf) < 0)
		return finish(EXIT_CONTAINED, "connect @%s: %s", name, ename(errno));
	return finish(EXIT_ESCAPED, "connected to the host's @%s, which said: %s", name, buf);
}

/* do_unix is no escape: a socket bound into the jail on purpose (--bind)
 * answers; it exits 0 saying what the socket said. */
static int do_unix(const char *path)
{
	char buf[512];
	if (unix_say(path, 0, buf, sizeof buf) < 0)
		return finish(EXIT_CANNOT, "connect %s: %s", path, ename(errno));
	return finish(EXIT_CONTAINED, "connected to %s, which said: %s", path, buf);
}

static int do_shm(int key)
{
	int id = shmget((key_t)key, 0, 0);
	if (id < 0)
		return finish(EXIT_CONTAINED, "shmget(%#x): %s", key, ename(errno));
	char *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return finish(EXIT_ESCAPED, "shmget(%#x) found the host's segment %d, but shmat: %s", key, id, ename(errno));
	char buf[512];
	snprintf(buf, sizeof buf, "%s", p);
	shmdt(p);
	return finish(EXIT_ESCAPED, "attached the host's segment %#x: %s", key, buf);
}

static int do_autogroup(const char *group)
{
	char path[64], buf[256];
	size_t n = strlen(group);
	int seen = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return finish(EXIT_CONTAINED, "opendir /proc: %s", ename(errno));
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end != 0 || pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/autogroup", pid);
		if (readat(AT_FDCWD, path, buf, sizeof buf) != 0 || buf[0] == 0)
			continue; /* gone, or a kernel thread */
		seen++;
		if (seen <= 8)
			note("%s: %s", path, buf);
		if (strncmp(buf, group, n) != 0 || buf[n] != ' ')
			continue;
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "19", 2) != 2) {
			note("write nice 19 to %s: %s", path, ename(errno));
			continue;
		}
		close(fd);
		closedir(d);
		return finish(EXIT_ESCAPED, "process %ld is in the host session's %s: set its nice to 19", pid, group);
	}
	closedir(d);
	return finish(EXIT_CONTAINED, "%d processes' autogroups read, none is %s", seen, group);
}

static int do_stdin(const char *marker)
{
	char buf[512];
	struct stat st;
	if (fstat(0, &st) < 0)
		return finish(EXIT_CANNOT, "fstat(0): %s", ename(errno));
	int fl = fcntl(0, F_GETFL);
	if (S_ISDIR(st.st_mode)) {
		if (fchdir(0) < 0)
			return finish(EXIT_CONTAINED, "stdin is a directory, but fchdir(0): %s", ename(errno));
		for (int i = 0; i < 256; i++)
			chdir("..");
		int e = readat(AT_FDCWD, marker + strspn(marker, "/"), buf, sizeof buf);
		if (e == 0)
			return finish(EXIT_ESCAPED, "fchdir(0) to the directory on stdin, chdir(..) x256, read %s: %s", marker, buf);
		return finish(EXIT_CONTAINED, "fchdir(0), chdir(..) x256, %s: %s", marker, ename(e));
	}
	if (fl >= 0 && (fl & O_PATH)) {
		int e = readat(AT_FDCWD, "/proc/self/fd/0", buf, sizeof buf);
		if (e == 0)
			return finish(EXIT_ESCAPED, "reopened the O_PATH file on stdin through /proc/self/fd/0: %s", buf);
		return finish(EXIT_CONTAINED, "stdin is O_PATH, reopening it: %s", ename(e));
	}
	return finish(EXIT_CONTAINED, "stdin is a %s, not a directory or an O_PATH file", ftype(st.st_mode));
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6, the same number on every architecture */
#endif

/* uring_openat opens path with flags and mode through io_uring's openat,
 * which seccomp never sees: an fd, or -errno. */
static int uring_openat(const char *path, int flags, mode_t mode)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int ring = syscall(SYS_io_uring_setup, 4, &p);
	if (ring < 0)
		return -errno;
	size_t sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	int single = p.features & IORING_FEAT_SINGLE_MMAP;
	if (single && cqlen > sqlen)
		sqlen = cqlen;
	char *sq = mmap(NULL, sqlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = single ? sq : mmap(NULL, cqlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		int e = errno;
		close(ring);
		return -e;
	}
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned idx = *tail & *(unsigned *)(sq + p.sq_off.ring_mask);
	struct io_uring_sqe *e = &sqes[idx];
	memset(e, 0, sizeof *e);
	e->opcode = IORING_OP_OPENAT;
	e->fd = AT_FDCWD;
	e->addr = (unsigned long)path;
	e->len = mode;
	e->open_flags = flags;
	((unsigned *)(sq + p.sq_off.array))[idx] = idx;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		int err = errno;
		close(ring);
		return -err;
	}
	unsigned *head = (unsigned *)(cq + p.cq_off.head);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	int res = cqes[*head & *(unsigned *)(cq + p.cq_off.ring_mask)].res;
	__atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
	close(ring);
	return res;
}

/* setid says what one way of making DIR/way left, given the call's
 * result r (-1 with errno set; an fd to close when isfd): 1 when the file
 * has the setuid or setgid bit. */
static int setid(const char *dir, const char *way, long r, int isfd)
{
	int err = errno;
	char path[4096];
	struct stat st;
	if (r >= 0 && isfd)
		close((int)r);
	if (r < 0) {
		note("%s: %s", way, ename(err));
		return 0;
	}
	snprintf(path, sizeof path, "%s/%s", dir, way);
	if (lstat(path, &st) < 0) {
		note("%s: ok, but stat: %s", way, ename(errno));
		return 0;
	}
	note("%s: mode %04o", way, (unsigned)(st.st_mode & 07777));
	return (st.st_mode & (S_ISUID | S_ISGID)) != 0;
}

/* in returns DIR/way; plain also makes it an empty file, mode 0755, for
 * the chmods to change. */
static const char *in(const char *dir, const char *way)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, way);
	return path;
}

static const char *plain(const char *dir, const char *way)
{
	const char *path = in(dir, way);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
	if (fd >= 0)
		close(fd);
	return path;
}

static int do_setuid(const char *dir)
{
	char via[64];
	int n = 0;
	long r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return finish(EXIT_CANNOT, "mkdir %s: %s", dir, ename(errno));
#ifdef SYS_chmod
	n += setid(dir, "chmod", syscall(SYS_chmod, plain(dir, "chmod"), 04755), 0);
#endif
	int fd = open(plain(dir, "fchmod"), O_RDONLY | O_CLOEXEC);
	n += setid(dir, "fchmod", syscall(SYS_fchmod, fd, 04755), 0);
	close(fd);
	n += setid(dir, "fchmodat", syscall(SYS_fchmodat, AT_FDCWD, plain(dir, "fchmodat"), 02755, 0), 0);
	n += setid(dir, "fchmodat2", syscall(SYS_fchmodat2, AT_FDCWD, plain(dir, "fchmodat2"), 04755, 0), 0);
#ifdef SYS_open
	n += setid(dir, "open", syscall(SYS_open, in(dir, "open"), O_CREAT | O_WRONLY | O_CLOEXEC, 04755), 1);
#endif
	n += setid(dir, "openat", syscall(SYS_openat, AT_FDCWD, in(dir, "openat"), O_CREAT | O_WRONLY | O_CLOEXEC, 06755), 1);
#ifdef SYS_creat
	n += setid(dir, "creat", syscall(SYS_creat, in(dir, "creat"), 04755), 1);
#endif
	/* An unnamed file made setuid, then given a name. */
	r = syscall(SYS_openat, AT_FDCWD, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 04755);
	if (r >= 0) {
		snprintf(via, sizeof via, "/proc/self/fd/%ld", r);
		n += setid(dir, "tmpfile", linkat(AT_FDCWD, via, AT_FDCWD, in(dir, "tmpfile"), AT_SYMLINK_FOLLOW), 0);
		close((int)r);
	} else {
		n += setid(dir, "tmpfile", r, 0);
	}
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = O_CREAT | O_WRONLY | O_CLOEXEC;
	how.mode = 04755;
	n += setid(dir, "openat2", syscall(SYS_openat2, AT_FDCWD, in(dir, "openat2"), &how, sizeof how), 1);
	r = uring_openat(in(dir, "io_uring"), O_CREAT | O_WRONLY | O_CLOEXEC, 04755);
	if (r < 0) {
		errno = (int)-r;
		r = -1;
	}
	n += setid(dir, "io_uring", r, 1);
#ifdef SYS_mknod
	n += setid(dir, "mknod", syscall(SYS_mknod, in(dir, "mknod"), S_IFREG | 04755, 0), 0);
#endif
	n += setid(dir, "mknodat", syscall(SYS_mknodat, AT_FDCWD, in(dir, "mknodat"), S_IFREG | 02755, 0), 0);
#ifdef SYS_mkdir
	n += setid(dir, "mkdir", syscall(SYS_mkdir, in(dir, "mkdir"), 02755), 0);
#endif
	n += setid(dir, "mkdirat", syscall(SYS_mkdirat, AT_FDCWD, in(dir, "mkdirat"), 02755), 0);
	if (n > 0)
		return finish(EXIT_ESCAPED, "%d ways made a setuid or setgid file in %s", n, dir);
	return finish(EXIT_CONTAINED, "no way made a setuid or setgid file in %s", dir);
}

static int do_fcap(const char *path)
{
	/* struct vfs_cap_data, revision 2: CAP_SYS_ADMIN permitted and effective. */
	struct {
		uint32_t magic_etc;
		struct {
			uint32_t permitted, inheritable;
		} data[2];
	} cap = {VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, {{1u << CAP_SYS_ADMIN, 0}, {0, 0}}};
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0)
		return finish(EXIT_CANNOT, "create %s: %s", path, ename(errno));
	if (write(fd, "#!/bin/sh\n", 10) != 10)
		note("write: %s", ename(errno));
	close(fd);
	if (setxattr(path, "security.capability", &cap, sizeof cap, 0) < 0)
		return finish(EXIT_CONTAINED, "setxattr(%s, security.capability): %s", path, ename(errno));
	ssize_t n = getxattr(path, "security.capability", NULL, 0);
	return finish(EXIT_ESCAPED, "gave %s CAP_SYS_ADMIN as a file capability (%zd bytes)", path, n);
}

static int do_fill(const char *path, int mib)
{
	static char chunk[1 << 20];
	memset(chunk, 'x', sizeof chunk);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return finish(EXIT_CONTAINED, "create %s: %s", path, ename(errno));
	int i;
	for (i = 0; i < mib; i++) {
		size_t done = 0;
		while (done < sizeof chunk) {
			ssize_t w = write(fd, chunk + done, sizeof chunk - done);
			if (w <= 0) {
				int e = w < 0 ? errno : ENOSPC;
				fsync(fd);
				close(fd);
				return finish(EXIT_CONTAINED, "wrote %d MiB of %d to %s, then: %s", i, mib, path, ename(e));
			}
			done += (size_t)w;
		}
	}
	if (fsync(fd) < 0)
		note("fsync: %s", ename(errno));
	close(fd);
	return finish(EXIT_ESCAPED, "wrote all %d MiB to %s: no bound", mib, path);
}

static int do_forks(int n)
{
	static pid_t kids[1 << 16];
	if (n > (int)(sizeof kids / sizeof kids[0]))
		return finish(EXIT_CANNOT, "at most %zu forks", sizeof kids / sizeof kids[0]);
	int got = 0, err = 0;
	for (; got < n; got++) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		kids[got] = pid;
	}
	for (int i = 0; i < got; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < got; i++)
		waitpid(kids[i], NULL, 0);
	if (got == n)
		return finish(EXIT_ESCAPED, "forked all %d children (%d processes with this one): no limit stopped it", n, n + 1);
	return finish(EXIT_CONTAINED, "forked %d children (%d processes with this one), then fork: %s", got, got + 1, ename(err));
}

static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end != 0 || v < 0 || v > 0x7fffffff) {
		finish(EXIT_CANNOT, "not a number: %s", s);
		exit(EXIT_CANNOT);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	if (!strcmp(cmd, "chroot") && argc == 3)
		return do_chroot(argv[2]);
	if (!strcmp(cmd, "fd") && argc == 4)
		return do_fd(num(argv[2]), argv[3]);
	if (!strcmp(cmd, "fds") && argc == 2)
		return do_fds();
	if (!strcmp(cmd, "procroot") && argc == 3)
		return do_procroot(argv[2]);
	if (!strcmp(cmd, "handle") && argc == 3)
		return do_handle(argv[2]);
	if (!strcmp(cmd, "kill") && argc == 3)
		return do_kill(num(argv[2]));
	if (!strcmp(cmd, "ptrace") && argc == 3)
		return do_ptrace(num(argv[2]));
	if (!strcmp(cmd, "exe") && argc == 3)
		return do_exe(num(argv[2]));
	if (!strcmp(cmd, "mknod") && argc == 5)
		return do_mknod(num(argv[2]), num(argv[3]), argv[4]);
	if (!strcmp(cmd, "userns") && argc == 2)
		return do_userns();
	if (!strcmp(cmd, "tiocsti") && argc == 3)
		return do_tiocsti(argv[2]);
	if (!strcmp(cmd, "abstract") && argc == 3)
		return do_abstract(argv[2]);
	if (!strcmp(cmd, "unix") && argc == 3)
		return do_unix(argv[2]);
	if (!strcmp(cmd, "shm") && argc == 3)
		return do_shm(num(argv[2]));
	if (!strcmp(cmd, "autogroup") && argc == 3)
		return do_autogroup(argv[2]);
	if (!strcmp(cmd, "stdin") && argc == 3)
		return do_stdin(argv[2]);
	if (!strcmp(cmd, "setuid") && argc == 3)
		return do_setuid(argv[2]);
	if (!strcmp(cmd, "fcap") && argc == 3)
		return do_fcap(argv[2]);
	if (!strcmp(cmd, "fill") && argc == 4)
		return do_fill(argv[2], num(argv[3]));
	if (!strcmp(cmd, "forks") && argc == 3)
		return do_forks(num(argv[2]));
	return finish(EXIT_CANNOT, "usage: probe chroot|fd|fds|procroot|handle|kill|ptrace|exe|mknod|tiocsti|userns|abstract|shm|autogroup|stdin|setuid|fcap|fill|forks ARGS (see probe.c)");
}
