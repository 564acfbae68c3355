/*
 * session: one request from decoding to its response, on a worker thread.
 * A command runs in a fresh shell session over the daemon's registry, its
 * human output captured with open_memstream and sent back with the
 * structured result — so a client prints exactly what the local shell
 * prints.  Two requests turn the connection into a stream: `vm console ID`
 * (raw bytes both ways, the shell's own console attach on the socket) and
 * `events` (one JSON line per registry event).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "event_json.h"
#include "fault.h"
#include "shell.h"

struct req_ctx {
	struct daemon *d;
	const struct peer *p;
	const struct proto_request *req;
};

int session_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int fe = CV_FAULT("daemon.send");
	if (fe)
		return -fe;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, 30000) <= 0)
				return -ETIMEDOUT;	/* client not reading */
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool send_line(int fd, char *line)
{
	bool ok = line && !session_write_all(fd, line, strlen(line));
	free(line);
	return ok;
}

/* ---- shell hooks ------------------------------------------------------- */

static int read_config(void *ctx, const char *path, char **text, size_t *len,
		       char *dir, size_t dirlen)
{
	struct req_ctx *rc = ctx;
	const struct proto_file *f = proto_request_file(rc->req, path);
	if (!f)
		return -ENODATA;	/* the client did not send this file */
	if (f->error)
		return -f->error;
	*text = malloc(f->len + 1);
	if (!*text)
		return -ENOMEM;
	memcpy(*text, f->data, f->len + 1);
	*len = f->len;
	snprintf(dir, dirlen, "%s", f->dir);
	return 0;
}

static int check_config(void *ctx, const struct vm_config *cfg,
			struct cv_err *err)
{
	struct req_ctx *rc = ctx;
	if (cfg->image_location != VM_IMAGE_FS)
		return 0;		/* built-in images */
	const char *paths[] = {
		cfg->kernel_path,
		cfg->has_bios ? cfg->bios_path : "",
		cfg->has_ramdisk ? cfg->ramdisk_path : "",
		cfg->has_dtb ? cfg->dtb_path : "",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i][0] && peer_may_read(rc->p, paths[i], err))
			return -EACCES;
	return 0;
}

/* ---- commands ---------------------------------------------------------- */

static bool is_verb(const struct proto_request *r, const char *verb)
{
	return r->argc >= 2 && !strcmp(r->argv[0], "vm") &&
	       !strcmp(r->argv[1], verb);
}

/* The first line of the error text, for the structured error. */
static void first_line(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	while (n < len && s[n] != '\n')
		n++;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * The command's two streams, captured with the order of their flushes
 * (the shell flushes stdout before it writes to stderr), so the client
 * can replay them interleaved as a terminal would have shown them.
 */
struct capture {
	char *buf[2];
	size_t len[2], cap[2];
	json_t *order;		/* [[1|2, bytes], ...], runs merged */
	int last;
	bool oom;
};

struct cap_stream {
	struct capture *cap;
	int which;		/* 0 stdout, 1 stderr */
};

static ssize_t cap_write(void *cookie, const char *p, size_t n)
{
	struct cap_stream *cs = cookie;
	struct capture *c = cs->cap;
	int w = cs->which;
	if (c->len[w] + n + 1 > c->cap[w]) {
		size_t ncap = (c->len[w] + n + 1) * 2;
		char *nb = realloc(c->buf[w], ncap);
		if (!nb) {
			c->oom = true;
			return -1;
		}
		c->buf[w] = nb;
		c->cap[w] = ncap;
	}
	memcpy(c->buf[w] + c->len[w], p, n);
	c->len[w] += n;
	c->buf[w][c->len[w]] = '\0';
	size_t k = json_array_size(c->order);
	if (k && c->last == w) {
		json_t *run = json_array_get(c->order, k - 1);
		json_array_set_new(run, 1, json_integer(
			json_integer_value(json_array_get(run, 1)) +
			(json_int_t)n));
	} else if (n) {
		json_array_append_new(c->order, json_pack("[i,I]", w + 1,
							  (json_int_t)n));
		c->last = w;
	}
	return (ssize_t)n;
}

static int run_captured(struct daemon *d, struct shell_opts *so,
			size_t argc, char *const *argv, struct capture *cap,
			json_t **result, int *exit_status)
{
	struct shell *sh;
	struct cap_stream cs[2] = { { cap, 0 }, { cap, 1 } };
	cookie_io_functions_t io = { .write = cap_write };
	memset(cap, 0, sizeof(*cap));
	cap->last = -1;
	cap->order = json_array();
	FILE *out = fopencookie(&cs[0], "w", io);
	FILE *err = fopencookie(&cs[1], "w", io);
	*exit_status = -1;
	*result = NULL;
	if (!cap->order || !out || !err || shell_create(d->reg, so, &sh, NULL)) {
		if (out)
			fclose(out);
		if (err)
			fclose(err);
		return -ENOMEM;
	}
	int status = shell_run_argv(sh, argc, argv, out, err, result);
	int asked;
	if (shell_exit_requested(sh, &asked))
		*exit_status = asked;
	shell_destroy(sh);
	fclose(out);
	fclose(err);
	return cap->oom ? -ENOMEM : status;
}

static void capture_free(struct capture *cap)
{
	free(cap->buf[0]);
	free(cap->buf[1]);
	json_decref(cap->order);
}

int daemon_run_internal(struct daemon *d, size_t argc, char *const *argv)
{
	struct shell_opts so = { .tty_out = -1, .tty_in = -1 };
	struct capture cap;
	json_t *result;
	int ex;
	int st = run_captured(d, &so, argc, argv, &cap, &result, &ex);
	char cmd[256] = "";
	for (size_t i = 0, n = 0; i < argc && n + 1 < sizeof(cmd); i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s%s",
				      i ? " " : "", argv[i]);
	char s[16];
	snprintf(s, sizeof(s), "%d", st);
	cv_log_kv(&d->log, st ? CV_LOG_WARN : CV_LOG_INFO, "internal command",
		  "cmd", cmd, "status", s, "out", cap.buf[0] ? cap.buf[0] : "",
		  "err", cap.buf[1] ? cap.buf[1] : "", NULL);
	capture_free(&cap);
	json_decref(result);
	return st;
}

static bool run_command(struct daemon *d, const struct peer *p, int fd,
			const struct proto_request *req)
{
	struct req_ctx rc = { .d = d, .p = p, .req = req };
	struct shell_hooks hooks = { .ctx = &rc, .read_config = read_config,
				     .check_config = check_config };
	struct shell_opts so = { .color = req->color, .tty_in = -1,
				 .tty_out = -1, .hooks = &hooks };
	bool defs = is_verb(req, "create") || is_verb(req, "delete");
	struct capture cap;
	json_t *result = NULL;
	int ex;
	if (defs)
		pthread_mutex_lock(&d->defs_lock);
	int st = run_captured(d, &so, req->argc, req->argv, &cap, &result, &ex);
	if (defs && st >= 0 && result) {
		char why[1024];
		if (!is_verb(req, "create")) {
			persist_deleted(d, result);
		} else if (persist_created(d, req, result, why, sizeof(why))) {
			/* told after the shell's own lines, as it would */
			struct cap_stream cs = { &cap, 1 };
			if (cap_write(&cs, why, strlen(why)) < 0)
				st = -ENOMEM;
			else if (st == 0)
				st = 1;
		}
	}
	if (defs)
		pthread_mutex_unlock(&d->defs_lock);
	bool ok;
	if (st < 0) {
		ok = send_line(fd, proto_encode_error(req->id, 1, PROTO_E_FAILED,
						      "out of memory"));
	} else {
		struct proto_error e;
		struct proto_response r = {
			.id = req->id, .ok = st == 0, .status = st,
			.result = result, .text = cap.buf[0],
			.text_len = cap.len[0], .errtext = cap.buf[1],
			.errtext_len = cap.len[1], .exit = ex,
			.order = json_array_size(cap.order) > 1 ? cap.order
								: NULL,
		};
		if (st) {
			snprintf(e.code, sizeof(e.code), "%s", st == SH_USAGE
				 ? PROTO_E_USAGE : PROTO_E_FAILED);
			if (cap.len[1])
				first_line(cap.buf[1], cap.len[1], e.message,
					   sizeof(e.message));
			else
				snprintf(e.message, sizeof(e.message),
					 "the command failed");
			r.error = &e;
		}
		ok = send_line(fd, proto_encode_response(&r));
	}
	capture_free(&cap);
	json_decref(result);
	return !ok;
}

/*
 * `vm autostart <ID|NAME> on|off`: a daemon-only verb (definitions exist
 * only here) — whether the VM is started when the daemon starts.
 */
static bool autostart(struct daemon *d, int fd, const struct proto_request *req)
{
	static const char usage[] = "Usage: vm autostart <ID|NAME> on|off\n\n"
		"Start the VM whenever the daemon starts (on) or leave it "
		"Loaded (off).\n";
	char text[256] = "", etext[512] = "";
	int st = 0;
	struct reg_vm *v = NULL;
	struct cv_err e = {0};
	bool help = req->argc == 3 && (!strcmp(req->argv[2], "--help") ||
				       !strcmp(req->argv[2], "-h"));
	if (help) {
		snprintf(text, sizeof(text), "%s", usage);
	} else if (req->argc != 4 || (strcmp(req->argv[3], "on") &&
				      strcmp(req->argv[3], "off"))) {
		snprintf(etext, sizeof(etext), "vm autostart: expected a VM and "
			 "on or off\n%s", usage);
		st = 2;
	} else if (registry_lookup(d->reg, req->argv[2], &v, &e)) {
		snprintf(etext, sizeof(etext), "✗ %s\n", e.msg);
		st = 1;
	} else if (!d->store) {
		snprintf(etext, sizeof(etext), "✗ VM[%u]: this daemon keeps no "
			 "definitions\n", reg_vm_id(v));
		st = 1;
	} else {
		bool on = !strcmp(req->argv[3], "on");
		pthread_mutex_lock(&d->defs_lock);
		int rc = store_set_autostart(d->store, reg_vm_id(v), on, &e);
		pthread_mutex_unlock(&d->defs_lock);
		if (rc) {
			snprintf(etext, sizeof(etext), "✗ Failed to set autostart "
				 "of VM[%u]: %s\n", reg_vm_id(v), e.msg);
			st = 1;
		} else {
			snprintf(text, sizeof(text), "✓ VM[%u] %s\n", reg_vm_id(v),
				 on ? "starts when the daemon starts"
				    : "stays Loaded when the daemon starts");
		}
	}
	if (v)
		reg_vm_put(v);
	struct proto_error pe;
	struct proto_response r = { .id = req->id, .ok = st == 0, .status = st,
				    .text = text, .text_len = strlen(text),
				    .errtext = etext, .errtext_len = strlen(etext),
				    .exit = -1 };
	if (st) {
		snprintf(pe.code, sizeof(pe.code), "%s",
			 st == 2 ? PROTO_E_USAGE : PROTO_E_FAILED);
		first_line(etext, strlen(etext), pe.message, sizeof(pe.message));
		r.error = &pe;
	}
	return !send_line(fd, proto_encode_response(&r));
}

/* ---- streams ----------------------------------------------------------- */

/*
 * `vm console ID`: when the VM exists and is loaded, answer with a
 * "stream":"console" response and hand the socket to the shell's console
 * attach as its terminal: replay + live output to the client, the
 * client's bytes to the guest; the client's Ctrl-] (or hanging up)
 * detaches.  Anything else (bad arguments, unknown VM) runs as a plain
 * command so the client sees the local shell's exact error.
 */
static bool console_stream(struct daemon *d, int fd,
			   const struct proto_request *req, bool *handled)
{
	*handled = false;
	if (req->argc != 3 || req->argv[2][0] == '-')
		return false;
	struct reg_vm *v;
	if (registry_lookup(d->reg, req->argv[2], &v, NULL))
		return false;
	bool loaded = reg_vm_vm(v) != NULL;
	reg_vm_put(v);
	if (!loaded)
		return false;
	*handled = true;
	struct proto_response r = { .id = req->id, .ok = true,
				    .stream = "console", .exit = -1 };
	if (!send_line(fd, proto_encode_response(&r)))
		return true;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	int ofd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	FILE *out = ofd >= 0 ? fdopen(ofd, "w") : NULL;
	if (!out) {
		if (ofd >= 0)
			close(ofd);
		return true;
	}
	struct shell_opts so = { .interactive = true, .attach_any_fd = true,
				 .tty_in = fd, .tty_out = fd };
	struct shell *sh;
	if (!shell_create(d->reg, &so, &sh, NULL)) {
		shell_run_argv(sh, req->argc, req->argv, out, out, NULL);
		shell_destroy(sh);
	}
	fclose(out);
	return true;
}

/* Events reach the streaming thread through a pipe (listeners must not
   block); a full pipe drops lines and says so at the end. */
struct ev_stream {
	int rd, wr;
	atomic_ullong dropped;
};

static void on_event(void *ctx, const struct reg_event *e)
{
	struct ev_stream *s = ctx;
	char line[1024];
	int n = reg_event_json_line(e, line, sizeof(line));
	if (n <= 0 || write(s->wr, line, (size_t)n) != n)
		atomic_fetch_add(&s->dropped, 1);
}

static bool events_stream(struct daemon *d, int fd,
			  const struct proto_request *req)
{
	struct ev_stream s = { .rd = -1, .wr = -1 };
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK))
		return send_line(fd, proto_encode_error(req->id, 1,
				PROTO_E_FAILED, "cannot stream events: %s",
				strerror(errno))), true;
	s.rd = fds[0];
	s.wr = fds[1];
	fcntl(s.wr, F_SETPIPE_SZ, 1 << 20);
	int lrc = registry_add_listener(d->reg, on_event, &s);
	struct proto_response r = { .id = req->id, .ok = lrc == 0,
				    .status = lrc ? 1 : 0,
				    .stream = lrc ? NULL : "events",
				    .exit = -1 };
	struct proto_error e = { PROTO_E_FAILED, "" };
	if (lrc) {
		snprintf(e.message, sizeof(e.message), "cannot stream events: %s",
			 strerror(-lrc));
		r.error = &e;
	}
	bool alive = send_line(fd, proto_encode_response(&r)) && !lrc;
	char buf[16384];
	/*
	 * No timeout: the daemon's shutdown shuts the socket's reading side
	 * (server.c shutdown_all, after it set `stopping`), which makes fd
	 * readable at EOF; a stream that starts after that sees EOF at once.
	 */
	while (alive && !atomic_load(&d->stopping)) {
		struct pollfd pf[2] = { { .fd = fd, .events = POLLIN },
					{ .fd = s.rd, .events = POLLIN } };
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;	/* the client went away */
		}
		if (pf[1].revents & POLLIN) {
			ssize_t n = read(s.rd, buf, sizeof(buf));
			if (n > 0 && session_write_all(fd, buf, (size_t)n))
				break;
		}
	}
	if (!lrc)
		registry_remove_listener(d->reg, on_event, &s);
	close(s.rd);
	close(s.wr);
	return true;
}

bool session_handle(struct daemon *d, const struct peer *p, int fd,
		    const char *line, size_t len)
{
	struct proto_request req;
	struct proto_error e;
	int64_t id;
	bool close_after = false;
	int rc = proto_decode_request(line, len, &req, &id, &e);
	if (rc) {
		cv_log_kv(&d->log, CV_LOG_WARN, "bad request", "code", e.code,
			  "error", e.message, NULL);
		close_after = !send_line(fd, proto_encode_error(id, 2, e.code,
							"%s", e.message));
	} else if (atomic_load(&d->stopping)) {
		close_after = !send_line(fd, proto_encode_error(req.id, 1,
				PROTO_E_BUSY, "the daemon is shutting down"));
	} else if (req.argc == 1 && !strcmp(req.argv[0], "events")) {
		close_after = events_stream(d, fd, &req);
	} else if (is_verb(&req, "autostart")) {
		close_after = autostart(d, fd, &req);
	} else {
		bool handled = false;
		if (is_verb(&req, "console"))
			close_after = console_stream(d, fd, &req, &handled);
		if (!handled)
			close_after = run_command(d, p, fd, &req);
	}
	proto_request_free(&req);
	return close_after;
}
