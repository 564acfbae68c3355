/*
 * client: the cvisor binary as a client of `cvisor serve` — `cvisor vm
 * <verb> ...`, `cvisor events`, `cvisor metrics`, and with --connect the
 * shell modes (interactive, -c, script, stdin) with their commands run by
 * the daemon.  Output is the daemon's capture of the shell's own output,
 * replayed on stdout/stderr in the order it was written, and the exit
 * status is the command's: the same as the local shell.  Config files
 * for `vm create` are read here and sent as content.  No reachable daemon
 * is an error (exit 1); nothing is ever run locally instead.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "frontend.h"
#include "hostpaths.h"
#include "lineread.h"
#include "proto.h"
#include "registry.h"
#include "shell.h"
#include "tokenize.h"
#include "vmconfig.h"

#define DETACH_KEY 0x1d		/* Ctrl-] */

struct client {
	const char *path;
	struct line_reader in;	/* the connection; .fd -1 when closed */
	int64_t next_id;
	bool color;
	bool quiet;		/* no messages of its own (completion) */
	bool done;		/* `exit` ran */
	int exit_status;
	int worst;
};

static bool want_color(bool no_color)
{
	const char *term = getenv("TERM");
	return !no_color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
	       term && strcmp(term, "dumb");
}

static int cl_connect(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	c->in.fd = -1;
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "cvisor: socket path too long: %s\n", c->path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, c->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (!c->quiet)
			fprintf(stderr, "cvisor: cannot reach the cvisor daemon "
				"at %s: %s\n(start one with 'cvisor serve'; "
				"--connect PATH or $CVISOR_SOCKET name another "
				"socket)\n", c->path, strerror(e));
		return -e;
	}
	c->in.fd = fd;
	return 0;
}

static void cl_close(struct client *c)
{
	if (c->in.fd >= 0)
		close(c->in.fd);
	c->in.fd = -1;
	line_reader_free(&c->in);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The config files of a `vm create`, read here and sent as content. */
static int add_files(struct proto_request *r)
{
	if (r->argc < 2 || strcmp(r->argv[0], "vm") ||
	    strcmp(r->argv[1], "create"))
		return 0;
	r->files = calloc(r->argc, sizeof(*r->files));
	if (!r->files)
		return -ENOMEM;
	for (size_t i = 2; i < r->argc && r->nfiles < PROTO_FILES_MAX; i++) {
		const char *p = r->argv[i];
		if (p[0] == '-' || proto_request_file(r, p))
			continue;
		struct proto_file *f = &r->files[r->nfiles++];
		f->path = strdup(p);
		int rc = vmcfg_read_file(p, &f->data, &f->len);
		char dir[PATH_MAX], abs[PATH_MAX];
		const char *slash = strrchr(p, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == p)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
		if (!rc && !realpath(dir, abs))
			rc = -errno;
		if (rc) {
			free(f->data);
			f->data = NULL;
			f->len = 0;
			f->error = -rc;
		} else {
			char *nb = realloc(f->data, f->len + 1);
			if (nb) {
				f->data = nb;
				f->data[f->len] = '\0';
			}
			f->dir = strdup(abs);
		}
		if (!f->path || (!f->error && (!f->dir || !f->data)))
			return -ENOMEM;
	}
	return 0;
}

/* Write what the command printed, interleaved as it was written. */
static void replay(const struct proto_decoded *d)
{
	if (!d->norder) {
		if (d->text_len)
			fwrite(d->text, 1, d->text_len, stdout);
		fflush(stdout);
		if (d->errtext_len)
			fwrite(d->errtext, 1, d->errtext_len, stderr);
		fflush(stderr);
		return;
	}
	size_t off[2] = { 0, 0 };
	for (size_t i = 0; i < d->norder; i++) {
		int w = d->order[i].stream - 1;
		FILE *f = w ? stderr : stdout;
		fwrite((w ? d->errtext : d->text) + off[w], 1, d->order[i].len, f);
		fflush(f);
		off[w] += d->order[i].len;
	}
}

/*
 * Send argv, read the response.  Returns 0 with *d filled, or -errno
 * (reported) when the daemon could not be talked to.
 */
static int cl_call(struct client *c, size_t argc, char *const *argv,
		   struct proto_decoded *d)
{
	struct proto_request r = { .id = ++c->next_id, .argc = argc,
				   .color = c->color };
	r.argv = (char **)argv;
	int rc = add_files(&r);
	char *line = rc ? NULL : proto_encode_request(&r);
	for (size_t i = 0; i < r.nfiles; i++) {
		free(r.files[i].path);
		free(r.files[i].dir);
		free(r.files[i].data);
	}
	free(r.files);
	if (!line) {
		fprintf(stderr, "cvisor: out of memory\n");
		return -ENOMEM;
	}
	if (strlen(line) > PROTO_LINE_MAX) {
		free(line);
		fprintf(stderr, "cvisor: the request is larger than the "
			"protocol's %u bytes\n", PROTO_LINE_MAX);
		return -E2BIG;
	}
	rc = write_all(c->in.fd, line, strlen(line));
	free(line);
	char *resp = NULL;
	size_t len = 0;
	/* after a failed write too: a refusing daemon says why, then closes */
	int rrc = line_read(&c->in, &resp, &len);
	if (!rrc)
		rc = 0;
	else if (!rc)
		rc = rrc;
	if (rc && !c->quiet) {
		fprintf(stderr, "cvisor: lost the connection to the daemon at "
			"%s: %s\n", c->path, rc == -EPIPE ? "it closed the "
			"connection" : strerror(-rc));
	}
	if (rc)
		return rc;
	struct proto_error e;
	rc = proto_decode_response(resp, len, d, &e);
	free(resp);
	if (rc && !c->quiet) {
		fprintf(stderr, "cvisor: bad response from the daemon: %s\n",
			e.message);
	}
	return rc;
}

/* A refusal of the request itself (not a command's failure): say so. */
static bool protocol_error(const struct proto_decoded *d)
{
	if (!d->has_error || !strcmp(d->error.code, PROTO_E_FAILED) ||
	    !strcmp(d->error.code, PROTO_E_USAGE))
		return false;
	fprintf(stderr, "cvisor: the daemon refused the request (%s): %s\n",
		d->error.code, d->error.message);
	return true;
}

/* ---- console ----------------------------------------------------------- */

static int console_stream(struct client *c)
{
	struct termios saved;
	bool tty = isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved);
	if (tty) {
		struct termios t = saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
		t.c_iflag &= ~(tcflag_t)(IXON | ICRNL | INLCR | IGNCR);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	/* bytes that came with the response line belong to the stream */
	if (c->in.len)
		write_all(STDOUT_FILENO, c->in.buf, c->in.len);
	c->in.len = 0;
	bool keys = true;
	char buf[16384];
	for (;;) {
		struct pollfd p[2] = { { .fd = c->in.fd, .events = POLLIN },
				       { .fd = STDIN_FILENO, .events = POLLIN } };
		if (poll(p, keys ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = read(c->in.fd, buf, sizeof(buf));
			if (n <= 0 && !(n < 0 && errno == EINTR))
				break;		/* the daemon ended the stream */
			if (n > 0)
				write_all(STDOUT_FILENO, buf, (size_t)n);
		}
		if (keys && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {	/* no more keys: detach */
				char k = DETACH_KEY;
				write_all(c->in.fd, &k, 1);
				keys = false;
				continue;
			}
			char *stop = memchr(buf, DETACH_KEY, (size_t)n);
			size_t len = stop ? (size_t)(stop - buf) + 1 : (size_t)n;
			if (write_all(c->in.fd, buf, len))
				break;
			if (stop)
				keys = false;	/* wait for the daemon's goodbye */
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return 0;
}

/* ---- one command --------------------------------------------------------- */

/* Run one command remotely; returns its status (1 when unreachable). */
static int remote_command(struct client *c, size_t argc, char *const *argv)
{
	if (c->in.fd < 0 && cl_connect(c))
		return SH_FAILED;
	struct proto_decoded d;
	if (cl_call(c, argc, argv, &d)) {
		cl_close(c);
		return SH_FAILED;
	}
	int st = d.status;
	if (protocol_error(&d)) {
		st = d.status ? d.status : SH_FAILED;
	} else if (!strcmp(d.stream, "console")) {
		console_stream(c);
		cl_close(c);		/* the stream used the connection up */
	} else {
		replay(&d);
		if (d.exit >= 0) {
			c->done = true;
			c->exit_status = d.exit;
		}
	}
	proto_decoded_free(&d);
	return st;
}

/* Help needs no daemon: the local command table answers it. */
static bool wants_help(size_t argc, char *const *argv)
{
	if (argc < 2)
		return true;
	if (!strcmp(argv[1], "autostart"))
		return false;		/* the daemon's own verb */
	if (!strcmp(argv[1], "help"))
		return true;
	for (size_t i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int local_help(size_t argc, char *const *argv)
{
	struct registry *reg;
	struct shell *sh;
	struct registry_opts ro = { 0 };
	if (registry_create(&ro, &reg, NULL))
		return SH_FAILED;
	int st = SH_FAILED;
	if (!shell_create(reg, NULL, &sh, NULL)) {
		st = shell_run_argv(sh, argc, argv, stdout, stderr, NULL);
		shell_destroy(sh);
	}
	registry_destroy(reg, false);
	return st;
}

int client_command(const char *connect_path, bool no_color, int argc,
		   char **argv)
{
	char path[PATH_MAX];
	if (connect_path)
		snprintf(path, sizeof(path), "%s", connect_path);
	else
		client_socket_path(path, sizeof(path));
	signal(SIGPIPE, SIG_IGN);
	if ((!strcmp(argv[0], "vm") && wants_help((size_t)argc, argv)) ||
	    (!strcmp(argv[0], "metrics") && argc > 1 &&
	     wants_help((size_t)argc, argv)))
		return local_help((size_t)argc, argv);
	struct client c = { .path = path, .in.fd = -1,
			    .color = want_color(no_color) };
	int st;
	if (!strcmp(argv[0], "events")) {
		if (argc > 1) {
			fputs(!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
			      ? "Usage: cvisor [--connect PATH] events\n\n"
				"Stream the daemon's VM events (created, state "
				"changes, deleted) as JSON lines\nuntil "
				"interrupted.\n"
			      : "Usage: cvisor [--connect PATH] events\n",
			      argc > 1 && (!strcmp(argv[1], "--help") ||
					   !strcmp(argv[1], "-h"))
			      ? stdout : stderr);
			return !strcmp(argv[1], "--help") ||
			       !strcmp(argv[1], "-h") ? 0 : 2;
		}
		if (cl_connect(&c))
			return 1;
		struct proto_decoded d;
		char *args[] = { (char *)"events", NULL };
		if (cl_call(&c, 1, args, &d)) {
			cl_close(&c);
			return 1;
		}
		st = d.status;
		if (protocol_error(&d) || strcmp(d.stream, "events")) {
			replay(&d);
			st = st ? st : 1;
		} else {
			setvbuf(stdout, NULL, _IOLBF, 0);
			char *line;
			size_t len;
			while (!line_read(&c.in, &line, &len)) {
				fwrite(line, 1, len, stdout);
				fputc('\n', stdout);
				free(line);
			}
			st = 0;
		}
		proto_decoded_free(&d);
		cl_close(&c);
		return st;
	}
	st = remote_command(&c, (size_t)argc, argv);
	cl_close(&c);
	return st;
}

/* ---- shell modes ----------------------------------------------------------- */

static int run_text(struct client *c, const char *text, size_t len,
		    const char *where)
{
	struct sh_script s;
	struct cv_err e = {0};
	if (sh_tokenize(text, len, &s, &e)) {
		fflush(stdout);
		fprintf(stderr, "%s%s%s\n", where ? where : "", where ? ": " : "✗ ",
			e.msg);
		return SH_USAGE;
	}
	int worst = SH_OK;
	for (size_t i = 0; i < s.n && !c->done; i++) {
		int st = remote_command(c, s.cmds[i].n, s.cmds[i].v);
		if (st > worst)
			worst = st;
	}
	sh_script_free(&s);
	if (worst > c->worst)
		c->worst = worst;
	return worst;
}

static int run_stream(struct client *c, FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	while (!c->done && (len = getline(&line, &cap, in)) >= 0) {
		char where[PATH_MAX + 32];
		snprintf(where, sizeof(where), "%s:%lu", name, ++lineno);
		run_text(c, line, (size_t)len, where);
	}
	free(line);
	return c->worst;
}

static int repl_run(void *ctx, const char *line)
{
	return run_text(ctx, line, strlen(line), NULL);
}

static bool repl_done(void *ctx)
{
	return ((struct client *)ctx)->done;
}

/* The VM ids and names in json's "vms" (a `vm list` result) to *names. */
static int names_of(json_t *json, char ***names, size_t *n)
{
	json_t *vms = json_object_get(json, "vms");
	if (!json_is_array(vms))
		return -EPROTO;
	size_t len = json_array_size(vms);
	char **a = calloc(2 * len + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		json_t *v = json_array_get(vms, i);
		json_t *id = json_object_get(v, "id");
		const char *name = json_string_value(json_object_get(v, "name"));
		char buf[24];
		if (json_is_integer(id)) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(id));
			a[k++] = strdup(buf);
		}
		if (name && *name)
			a[k++] = strdup(name);
	}
	for (size_t i = 0; i < k; i++) {
		if (!a[i]) {
			for (size_t j = 0; j < k; j++)
				free(a[j]);
			free(a);
			return -ENOMEM;
		}
	}
	*names = a;
	*n = k;
	return 0;
}

/*
 * Completion's VM ids and names in a remote shell: the daemon's `vm
 * list`, asked quietly (a failure just offers no VM).
 */
static int remote_vm_names(void *ctx, char ***names, size_t *n)
{
	struct client *c = ctx;
	char *argv[] = { (char *)"vm", (char *)"list", (char *)"--format",
			 (char *)"json", NULL };
	struct proto_decoded d;
	c->quiet = true;
	int rc = c->in.fd < 0 ? cl_connect(c) : 0;
	if (!rc)
		rc = cl_call(c, 4, argv, &d);
	c->quiet = false;
	if (rc) {
		cl_close(c);	/* the next command reconnects and says why */
		return rc;
	}
	if (d.status || strcmp(d.stream, "")) {
		rc = -EPROTO;
	} else if (d.result) {
		rc = names_of(d.result, names, n);
	} else {
		json_t *j = json_loadb(d.text ? d.text : "", d.text_len, 0,
				       NULL);
		rc = j ? names_of(j, names, n) : -EPROTO;
		json_decref(j);
	}
	proto_decoded_free(&d);
	return rc;
}

int client_shell(const char *connect_path, const struct shell_main_opts *o)
{
	struct client c = { .path = connect_path, .in.fd = -1,
			    .color = want_color(o->no_color) };
	signal(SIGPIPE, SIG_IGN);
	/* connect first: no daemon, no shell */
	if (cl_connect(&c))
		return 1;
	bool repl = !o->commands && !o->script && isatty(STDIN_FILENO);
	int st;
	if (o->commands) {
		st = run_text(&c, o->commands, strlen(o->commands), NULL);
	} else if (o->script && strcmp(o->script, "-")) {
		FILE *f = fopen(o->script, "r");
		if (!f) {
			fprintf(stderr, "cvisor: cannot read %s: %s\n", o->script,
				strerror(errno));
			cl_close(&c);
			return SH_FAILED;
		}
		st = run_stream(&c, f, o->script);
		fclose(f);
	} else if (repl) {
		/*
		 * completion of verbs and options from the local table, of VM
		 * ids and names from the daemon
		 */
		struct registry *reg = NULL;
		struct shell *sh = NULL;
		struct registry_opts ro = { 0 };
		char hist[PATH_MAX + 16];
		snprintf(hist, sizeof(hist), "%s/remote-history", o->state_dir);
		if (registry_create(&ro, &reg, NULL) ||
		    shell_create(reg, NULL, &sh, NULL)) {
			fprintf(stderr, "cvisor: out of memory\n");
			st = SH_FAILED;
		} else {
			shell_set_vm_names(sh, remote_vm_names, &c);
			struct repl_ops ops = { .ctx = &c, .run_line = repl_run,
						.done = repl_done,
						.completer = sh };
			shell_repl_ops(&ops, hist);
			st = SH_OK;
		}
		if (sh)
			shell_destroy(sh);
		if (reg)
			registry_destroy(reg, false);
	} else {
		st = run_stream(&c, stdin, "<stdin>");
	}
	if (c.done)
		st = c.exit_status ? c.exit_status : (repl ? 0 : st);
	cl_close(&c);
	return st;
}
