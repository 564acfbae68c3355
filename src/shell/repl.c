/*
 * repl: the interactive shell on a terminal — libedit line editing with
 * the prompt `cvisor:$ `, history kept in <state-dir>/history, and tab
 * completion from shell_complete().  Ctrl-C drops the line being typed
 * (SIGINT is read from a signalfd, so no handler or global is needed);
 * Ctrl-D on an empty line leaves like `exit`.
 */
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "frontend.h"
#include "shell.h"

#define PROMPT "cvisor:$ "
#define HISTORY_SIZE 1000
#define CANCEL_KEY 0x07		/* Ctrl-G: what a Ctrl-C turns into */

struct repl {
	const struct repl_ops *ops;
	EditLine *el;
	int sigfd;		/* SIGINT, -1 when unavailable */
	mbstate_t mb;
	bool cancelled;
};

static char *prompt(EditLine *el)
{
	(void)el;
	return (char *)PROMPT;
}

static struct repl *repl_of(EditLine *el)
{
	void *p = NULL;
	el_get(el, EL_CLIENTDATA, &p);
	return p;
}

/* Wait for a byte or a SIGINT; 1 byte, 0 EOF, -1 error, 2 interrupted. */
static int next_byte(struct repl *r, unsigned char *b)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
				       { .fd = r->sigfd, .events = POLLIN } };
		if (poll(p, r->sigfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r->sigfd >= 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(r->sigfd, &si, sizeof(si)) > 0)
				return 2;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(STDIN_FILENO, b, 1);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			return n < 0 ? -1 : (int)n;
		}
	}
}

/* libedit's character source: UTF-8 decoding plus Ctrl-C handling. */
static int read_char(EditLine *el, wchar_t *wc)
{
	struct repl *r = repl_of(el);
	for (;;) {
		unsigned char b;
		int rc = next_byte(r, &b);
		if (rc == 2) {
			memset(&r->mb, 0, sizeof(r->mb));
			*wc = CANCEL_KEY;
			return 1;
		}
		if (rc <= 0)
			return rc;
		size_t n = mbrtowc(wc, (const char *)&b, 1, &r->mb);
		if (n == (size_t)-2)
			continue;	/* more bytes of this character */
		if (n == (size_t)-1) {
			memset(&r->mb, 0, sizeof(r->mb));
			*wc = b;	/* not UTF-8: pass the byte on */
		}
		return 1;
	}
}

static unsigned char cancel_line(EditLine *el, int ch)
{
	(void)ch;
	struct repl *r = repl_of(el);
	r->cancelled = true;
	fputs("^C", stdout);
	fflush(stdout);
	return CC_NEWLINE;
}

/* Escape what the tokenizer would otherwise split or interpret. */
static void insert_word(EditLine *el, const char *s)
{
	char buf[8192];
	size_t n = 0;
	for (; *s && n + 2 < sizeof(buf); s++) {
		if (strchr(" \t'\"\\;#", *s))
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	if (n)
		el_insertstr(el, buf);
}

static void list_candidates(const struct sh_completion *c)
{
	size_t width = 0;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->items[i]) > width)
			width = strlen(c->items[i]);
	size_t per_line = width + 2 < 80 ? 80 / (width + 2) : 1;
	fputc('\n', stdout);
	for (size_t i = 0; i < c->n; i++)
		fprintf(stdout, "%-*s%s", (int)(width + 2), c->items[i],
			(i + 1) % per_line && i + 1 < c->n ? "" : "\n");
	fflush(stdout);
}

static unsigned char complete(EditLine *el, int ch)
{
	(void)ch;
	struct repl *r = repl_of(el);
	const LineInfo *li = el_line(el);
	char *text = strndup(li->buffer, (size_t)(li->cursor - li->buffer));
	struct sh_completion c;
	if (!text || shell_complete(r->ops->completer, text, &c)) {
		free(text);
		return CC_ERROR;
	}
	size_t have = strlen(text) - c.word_start;
	free(text);
	unsigned char ret = CC_REFRESH;
	if (!c.n) {
		ret = CC_REFRESH_BEEP;
	} else {
		size_t common = strlen(c.items[0]);
		for (size_t i = 1; i < c.n; i++)
			for (size_t k = 0; k < common; k++)
				if (c.items[i][k] != c.items[0][k]) {
					common = k;
					break;
				}
		if (common > have) {
			char *add = strndup(c.items[0] + have, common - have);
			if (add)
				insert_word(el, add);
			free(add);
		}
		if (c.n == 1) {
			size_t l = strlen(c.items[0]);
			if (!c.files || !l || c.items[0][l - 1] != '/')
				el_insertstr(el, " ");
		} else if (common <= have) {
			list_candidates(&c);
			ret = CC_REDISPLAY;
		}
	}
	shell_completion_free(&c);
	return ret;
}

static void make_parent(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0700);
		*p = '/';
	}
}

static int open_sigint(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* A Ctrl-C typed while a command ran must not cancel the next line. */
static void drain_sigint(int fd)
{
	struct signalfd_siginfo si;
	while (fd >= 0 && read(fd, &si, sizeof(si)) > 0)
		;
}

static EditLine *make_editor(struct repl *r, History *h)
{
	EditLine *el = el_init("cvisor", stdin, stdout, stderr);
	if (!el)
		return NULL;
	el_set(el, EL_CLIENTDATA, r);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_SIGNAL, 1);
	el_set(el, EL_PROMPT, prompt);
	el_set(el, EL_HIST, history, h);
	el_set(el, EL_GETCFN, read_char);
	/* el_wset: el_set(EL_ADDFN) leaks its wcsdup'ed copies of the names */
	el_wset(el, EL_ADDFN, L"cv-complete", L"complete a word", complete);
	el_wset(el, EL_ADDFN, L"cv-cancel", L"drop the line", cancel_line);
	el_set(el, EL_BIND, "^I", "cv-complete", NULL);
	el_set(el, EL_BIND, "^G", "cv-cancel", NULL);
	el_source(el, NULL);
	return el;
}

static int run_local(void *ctx, const char *line)
{
	return shell_run_line(ctx, line, stdout, stderr);
}

static bool done_local(void *ctx)
{
	return shell_exit_requested(ctx, NULL);
}

int shell_repl(struct shell *sh, const char *history_path)
{
	struct repl_ops ops = { .ctx = sh, .run_line = run_local,
				.done = done_local, .completer = sh };
	return shell_repl_ops(&ops, history_path);
}

int shell_repl_ops(const struct repl_ops *ops, const char *history_path)
{
	struct repl r = { .ops = ops };
	sigset_t old;
	HistEvent ev;
	setlocale(LC_CTYPE, "");
	r.sigfd = open_sigint(&old);
	History *h = history_init();
	history(h, &ev, H_SETSIZE, HISTORY_SIZE);
	history(h, &ev, H_SETUNIQUE, 1);
	history(h, &ev, H_LOAD, history_path);
	make_parent(history_path);
	r.el = h ? make_editor(&r, h) : NULL;
	if (!r.el) {
		fprintf(stderr, "cvisor: cannot start the line editor\n");
		if (h)
			history_end(h);
		return SH_FAILED;
	}
	for (;;) {
		int count = 0;
		drain_sigint(r.sigfd);
		r.cancelled = false;
		const char *line = el_gets(r.el, &count);
		if (!line || count <= 0) {
			fputc('\n', stdout);	/* Ctrl-D */
			break;
		}
		if (r.cancelled || strspn(line, " \t\r\n") == strlen(line))
			continue;
		history(h, &ev, H_ENTER, line);
		history(h, &ev, H_SAVE, history_path);
		ops->run_line(ops->ctx, line);
		if (ops->done(ops->ctx))
			break;
	}
	el_end(r.el);
	history_end(h);
	if (r.sigfd >= 0)
		close(r.sigfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return SH_OK;
}
