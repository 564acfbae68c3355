/* dclient: a daemon child process and a bare protocol client (dclient.h). */
#include "dclient.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int dc_daemon_start(struct dc_daemon *d, const char *cvisor, const char *accel)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/cvdaemon.XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->sock, sizeof(d->sock), "%s/run/cv.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		/* the log becomes stderr; its own fd must not reach the
		 * daemon as one more open file */
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0 && fd != 2) {
			dup2(fd, 2);
			close(fd);
		}
		execl(cvisor, cvisor, "serve", "--socket", d->sock, "--state-dir",
		      d->state, "--accel", accel, "--stop-timeout", "5",
		      "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		struct dc_conn c;
		if (!dc_connect(&c, d->sock)) {
			dc_close(&c);
			return 0;
		}
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		struct timespec ts = { 0, 25 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int dc_daemon_stop(struct dc_daemon *d)
{
	int st;
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &st, 0) != d->pid)
		return -1;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void dc_daemon_cleanup(struct dc_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (d->dir[0] && system(cmd)) {
		/* best effort */
	}
}

int dc_connect(struct dc_conn *c, const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memset(c, 0, sizeof(*c));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	c->in.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->in.fd < 0)
		return -errno;
	if (connect(c->in.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		close(c->in.fd);
		c->in.fd = -1;
		return -e;
	}
	return 0;
}

void dc_close(struct dc_conn *c)
{
	if (c->in.fd >= 0)
		close(c->in.fd);
	c->in.fd = -1;
	line_reader_free(&c->in);
}

int dc_call(struct dc_conn *c, size_t argc, char *const *argv,
	    const struct proto_file *files, size_t nfiles,
	    struct proto_decoded *out)
{
	struct proto_request r = { .id = ++c->next_id, .argc = argc,
				   .argv = (char **)argv,
				   .files = (struct proto_file *)files,
				   .nfiles = nfiles };
	char *line = proto_encode_request(&r);
	if (!line)
		return -ENOMEM;
	size_t n = strlen(line), off = 0;
	while (off < n) {
		ssize_t w = write(c->in.fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			free(line);
			return w < 0 ? -errno : -EPIPE;
		}
		off += (size_t)w;
	}
	free(line);
	char *resp = NULL;
	size_t len = 0;
	int rc = line_read(&c->in, &resp, &len);
	if (rc)
		return rc;
	struct proto_error e;
	rc = proto_decode_response(resp, len, out, &e);
	free(resp);
	if (rc)
		return rc;
	return out->id == r.id ? 0 : -EPROTO;
}

int dc_callf(struct dc_conn *c, struct proto_decoded *out, const char *fmt,
	     ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	char *argv[64];
	size_t argc = 0;
	for (char *save = NULL, *w = strtok_r(text, " ", &save);
	     w && argc < 63; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	return dc_call(c, argc, argv, NULL, 0, out);
}
