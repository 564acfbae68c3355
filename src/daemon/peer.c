/*
 * peer: who is connected (SO_PEERCRED, supplementary groups from
 * /proc/<pid>/status) and what they may do — use the daemon at all (same
 * uid, root, or the --group given to serve), and have the daemon read an
 * image file named in their config.
 *
 * Image check.  The client sends config *content*, so the daemon never
 * opens a config path for anyone.  Images named inside it (kernel_path,
 * bios_path, ramdisk_path, dtb_path) are opened later by the VM loader,
 * with the daemon's rights, so before a `vm create` instantiates a config
 * the daemon checks that the peer could read each image itself:
 * - the daemon runs as root and the peer is not root: the worker thread
 *   takes the peer's file-system identity (setfsuid/setfsgid and the
 *   peer's supplementary groups, with raw per-thread system calls, not the
 *   process-wide glibc wrappers), opens the file read-only, and switches
 *   back — the kernel itself decides, path walk and ACLs included;
 * - the peer is root, or has the daemon's own uid: it could read whatever
 *   the daemon can, nothing to check;
 * - a non-root daemon serving a member of --group (another uid): the
 *   daemon cannot take another identity, so it checks the file's mode
 *   bits for the peer's uid/groups (no ACLs, no directory search bits).
 * The check and the loader's open are separate opens of the same path: a
 * peer that can swap the path for a symlink in between could still get a
 * root daemon to load a file it cannot read (documented in protocol.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon_int.h"

static void read_groups(struct peer *p)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7))
			continue;
		char *s = line + 7, *end;
		while (p->ngroups < PEER_GROUPS_MAX) {
			unsigned long g = strtoul(s, &end, 10);
			if (end == s)
				break;
			p->groups[p->ngroups++] = (gid_t)g;
			s = end;
		}
		break;
	}
	fclose(f);
}

int peer_identify(int fd, struct peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len))
		return -errno;
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	read_groups(p);
	return 0;
}

static bool in_group(const struct peer *p, gid_t g)
{
	if (p->gid == g)
		return true;
	for (size_t i = 0; i < p->ngroups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

bool peer_allowed(const struct daemon *d, const struct peer *p)
{
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	return d->o.has_group && in_group(p, d->o.group);
}

/* Per-thread identity switch (raw syscalls: glibc's apply to every thread). */
static int open_as(const struct peer *p, const char *path)
{
	gid_t saved[PEER_GROUPS_MAX];
	long n = syscall(SYS_getgroups, PEER_GROUPS_MAX, saved);
	if (n < 0)
		return -errno;
	if (syscall(SYS_setgroups, p->ngroups, p->groups))
		return -errno;
	syscall(SYS_setfsgid, p->gid);
	syscall(SYS_setfsuid, p->uid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int e = fd < 0 ? errno : 0;
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, (size_t)n, saved);
	if (fd >= 0)
		close(fd);
	return -e;
}

static int mode_check(const struct peer *p, const char *path)
{
	struct stat st;
	if (stat(path, &st))
		return -errno;
	mode_t need = st.st_uid == p->uid ? S_IRUSR
		      : in_group(p, st.st_gid) ? S_IRGRP : S_IROTH;
	return st.st_mode & need ? 0 : -EACCES;
}

int peer_may_read(const struct peer *p, const char *path, struct cv_err *err)
{
	int rc = 0;
	if (p->uid == 0 || p->uid == geteuid())
		return 0;
	if (geteuid() == 0)
		rc = open_as(p, path);
	else
		rc = mode_check(p, path);
	if (rc)
		return cv_err_set(err, -rc, "%s: the client may not read it: %s",
				  path, strerror(-rc));
	return 0;
}
