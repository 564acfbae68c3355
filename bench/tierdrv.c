/*
 * tierdrv: the in-guest driver of bench/tier_bench.sh.  Runs VMMs
 * ALTERNATING (run 1 of every VMM of a group, then run 2, ...) and
 * timestamps, per run, from just before the process is spawned to:
 *   - the first byte on its stdout ("first byte"),
 *   - the first occurrence of the group's marker on its stdout,
 *   - each window's START and END markers: (END - START) / ITERS in us,
 * and its peak RSS (wait4's ru_maxrss).  Prints one RUN line per run and a
 * table of median [min-max] and the ratios asked for.  A program, not a
 * test: it never judges the figures.
 *
 * Usage: tierdrv SPECFILE
 * SPECFILE, one directive per line ('#' comments):
 *   runs N                 measured runs per VMM (default 5)
 *   warmup N               discarded runs per VMM first (default 1)
 *   timeout SECONDS        per run (default 60)
 *   group NAME             starts a group; the lines below belong to it
 *   marker TEXT            the group's marker (rest of the line)
 *   window NAME START END ITERS
 *   kill-at TEXT           kill the VMM once TEXT is seen (default: wait
 *                          for it to exit)
 *   vmm LABEL ARGV...      one VMM (argv split on blanks; "..." quotes
 *                          a word with blanks)
 *   ratio LABEL-A LABEL-B  print A/B for every figure (medians)
 *   show-stderr LABEL      print each run's stderr of VMM LABEL
 *                          (instrumented builds)
 * Every VMM gets TIERDRV_T0_NS=<CLOCK_MONOTONIC ns at spawn> in its
 * environment, so an instrumented VMM can print times on the same scale.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAXV 8
#define MAXW 6
#define MAXG 4
#define MAXR 64
#define MAXRAT 8

struct window { char name[32], start[64], end[64]; double iters; };

struct vmm {
	char label[64];
	char *argv[49];
	/* per measured run */
	double first[MAXR], marker[MAXR], win[MAXW][MAXR], rss[MAXR];
	int n;
	int fails;
};

struct group {
	char name[64], marker[128], kill_at[128];
	struct window w[MAXW];
	int nw;
	struct vmm v[MAXV];
	int nv;
	char ratio[MAXRAT][2][64];
	int nratio;
	char show_stderr[64];
};

static struct group groups[MAXG];
static int ngroups, runs = 5, warmup = 1;
static double timeout_s = 60;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *rest_of(char *line, int skip)
{
	char *p = line;
	for (int i = 0; i < skip; i++) {
		p += strspn(p, " \t");
		p += strcspn(p, " \t");
	}
	p += strspn(p, " \t");
	return p;
}

/* The next blank-separated word of *p, "double quotes" group; in place. */
static char *next_token(char **p)
{
	char *s = *p + strspn(*p, " \t"), *out = s, *w = s;
	if (!*s)
		return NULL;
	bool q = false;
	for (; *s && (q || (*s != ' ' && *s != '\t')); s++) {
		if (*s == '"')
			q = !q;
		else
			*w++ = *s;
	}
	*p = *s ? s + 1 : s;
	*w = 0;
	return out;
}

static int parse_spec(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char line[2048];
	struct group *g = NULL;
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		char *s = line + strspn(line, " \t");
		if (!*s || *s == '#')
			continue;
		char kw[32] = "";
		sscanf(s, "%31s", kw);
		if (!strcmp(kw, "runs")) {
			runs = atoi(rest_of(s, 1));
		} else if (!strcmp(kw, "warmup")) {
			warmup = atoi(rest_of(s, 1));
		} else if (!strcmp(kw, "timeout")) {
			timeout_s = atof(rest_of(s, 1));
		} else if (!strcmp(kw, "group")) {
			if (ngroups == MAXG)
				goto bad;
			g = &groups[ngroups++];
			snprintf(g->name, sizeof(g->name), "%s", rest_of(s, 1));
		} else if (!g) {
			goto bad;
		} else if (!strcmp(kw, "marker")) {
			snprintf(g->marker, sizeof(g->marker), "%s", rest_of(s, 1));
		} else if (!strcmp(kw, "kill-at")) {
			snprintf(g->kill_at, sizeof(g->kill_at), "%s", rest_of(s, 1));
		} else if (!strcmp(kw, "show-stderr")) {
			snprintf(g->show_stderr, sizeof(g->show_stderr), "%s",
				 rest_of(s, 1));
		} else if (!strcmp(kw, "window")) {
			if (g->nw == MAXW)
				goto bad;
			struct window *w = &g->w[g->nw];
			if (sscanf(s, "%*s %31s %63s %63s %lf", w->name, w->start,
				   w->end, &w->iters) != 4 || w->iters <= 0)
				goto bad;
			g->nw++;
		} else if (!strcmp(kw, "ratio")) {
			if (g->nratio == MAXRAT ||
			    sscanf(s, "%*s %63s %63s", g->ratio[g->nratio][0],
				   g->ratio[g->nratio][1]) != 2)
				goto bad;
			g->nratio++;
		} else if (!strcmp(kw, "vmm")) {
			if (g->nv == MAXV)
				goto bad;
			struct vmm *v = &g->v[g->nv++];
			char *p = strdup(rest_of(s, 1)), *tok;
			int a = 0;
			while ((tok = next_token(&p)) && a < 48)
				if (!v->label[0])
					snprintf(v->label, sizeof(v->label), "%s", tok);
				else
					v->argv[a++] = tok;
			if (!a || a == 48)
				goto bad;
			v->argv[a] = NULL;
		} else {
			goto bad;
		}
	}
	fclose(f);
	if (runs < 1 || runs > MAXR) {
		fprintf(stderr, "tierdrv: runs must be 1..%d\n", MAXR);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "tierdrv: %s:%d: cannot parse \"%s\"\n", path, lineno,
		line);
	fclose(f);
	return -1;
}

/* One run: returns 0 when the marker (and every window) was seen. */
static int run_once(struct group *g, struct vmm *v, bool keep, int idx)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("pipe");
		return -1;
	}
	char errpath[128];
	snprintf(errpath, sizeof(errpath), "/tmp/tierdrv-%s.err", v->label);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, errpath,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);

	/* the markers to timestamp: [0] marker, [1] kill-at, then windows */
	const char *mk[2 + 2 * MAXW];
	double at[2 + 2 * MAXW];
	int nm = 0;
	mk[nm++] = g->marker;
	mk[nm++] = g->kill_at;
	for (int i = 0; i < g->nw; i++) {
		mk[nm++] = g->w[i].start;
		mk[nm++] = g->w[i].end;
	}
	for (int i = 0; i < nm; i++)
		at[i] = -1;

	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char t0s[32];
	snprintf(t0s, sizeof(t0s), "%lld",
		 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	setenv("TIERDRV_T0_NS", t0s, 1);
	double t0 = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6, first = -1;
	pid_t pid;
	int rc = posix_spawn(&pid, v->argv[0], &fa, NULL, v->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc) {
		fprintf(stderr, "tierdrv: cannot start %s: %s\n", v->argv[0],
			strerror(rc));
		close(pfd[0]);
		return -1;
	}

	static char buf[1 << 20];
	size_t len = 0;
	bool killed = false, timed_out = false;
	for (;;) {
		double left = timeout_s * 1e3 - (now_ms() - t0);
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, (int)left + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		if (len > sizeof(buf) - 4096) {	/* keep the tail only */
			memmove(buf, buf + len - 1024, 1024);
			len = 1024;
		}
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		double t = now_ms() - t0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (first < 0)
			first = t;
		size_t from = len > 200 ? len - 200 : 0;
		len += (size_t)n;
		buf[len] = 0;
		for (int i = 0; i < nm; i++)
			if (at[i] < 0 && mk[i][0] &&
			    memmem(buf + from, len - from, mk[i], strlen(mk[i])))
				at[i] = t;
		if (g->kill_at[0] && at[1] >= 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
	}
	if (timed_out)
		kill(pid, SIGKILL);
	close(pfd[0]);
	int st = 0;
	struct rusage ru = {0};
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;

	bool ok = !timed_out && at[0] >= 0;
	for (int i = 0; i < g->nw; i++)
		ok = ok && at[2 + 2 * i] >= 0 && at[3 + 2 * i] >= 0;
	if (!killed && ok && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		ok = false;
	printf("RUN %s %s %s%d first=%.2f marker=%.2f", g->name, v->label,
	       keep ? "" : "warmup", idx, first, at[0]);
	for (int i = 0; i < g->nw; i++) {
		double us = (at[2 + 2 * i] >= 0 && at[3 + 2 * i] >= 0)
			    ? (at[3 + 2 * i] - at[2 + 2 * i]) * 1e3 / g->w[i].iters
			    : -1;
		printf(" %s_us=%.3f", g->w[i].name, us);
		if (keep)
			v->win[i][v->n] = us;
	}
	printf(" rss_kb=%ld minflt=%ld status=%s%d%s\n", ru.ru_maxrss,
	       ru.ru_minflt,
	       WIFSIGNALED(st) ? "sig" : "", WIFSIGNALED(st) ? WTERMSIG(st)
							    : WEXITSTATUS(st),
	       timed_out ? " TIMEOUT" : "");
	if (!strcmp(g->show_stderr, v->label)) {
		fflush(stdout);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "sed 's/^/    /' %s", errpath);
		if (system(cmd) < 0)
			perror("system");
	}
	if (!ok) {
		v->fails++;
		printf("  %s: %s; its stderr (%s) ends:\n", v->label,
		       timed_out ? "timed out" : "marker/window missing or bad exit",
		       errpath);
		fflush(stdout);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "tail -n 5 %s | sed 's/^/    /'", errpath);
		if (system(cmd) < 0)
			perror("system");
		printf("  its stdout ends: %.200s\n", len > 200 ? buf + len - 200 : buf);
		return -1;
	}
	if (keep) {
		v->first[v->n] = first;
		v->marker[v->n] = at[0];
		v->rss[v->n] = ru.ru_maxrss / 1024.0;
		v->n++;
	}
	fflush(stdout);
	return 0;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void stats(const double *v, int n, double *med, double *lo, double *hi)
{
	double s[MAXR];
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmpd);
	*lo = s[0];
	*hi = s[n - 1];
	*med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double med_of(const double *v, int n)
{
	double m, lo, hi;
	stats(v, n, &m, &lo, &hi);
	return m;
}

static double min_of(const double *v, int n)
{
	double m, lo, hi;
	stats(v, n, &m, &lo, &hi);
	return lo;
}

static struct vmm *find(struct group *g, const char *label)
{
	for (int i = 0; i < g->nv; i++)
		if (!strcmp(g->v[i].label, label))
			return &g->v[i];
	return NULL;
}

static void report(struct group *g)
{
	printf("\n== %s: %d runs each, alternating; median [min-max]\n", g->name,
	       runs);
	printf("%-22s %-26s %-26s", "VMM", "first byte ms",
	       g->marker[0] ? g->marker : "marker");
	for (int i = 0; i < g->nw; i++)
		printf(" %-24s", g->w[i].name);
	printf(" %s\n", "peak RSS MB");
	for (int k = 0; k < g->nv; k++) {
		struct vmm *v = &g->v[k];
		if (!v->n) {
			printf("%-22s no successful run (%d failed)\n", v->label,
			       v->fails);
			continue;
		}
		double m, lo, hi;
		char cell[64];
		printf("%-22s", v->label);
		stats(v->first, v->n, &m, &lo, &hi);
		snprintf(cell, sizeof(cell), "%.2f [%.2f-%.2f]", m, lo, hi);
		printf(" %-26s", cell);
		stats(v->marker, v->n, &m, &lo, &hi);
		snprintf(cell, sizeof(cell), "%.2f [%.2f-%.2f]", m, lo, hi);
		printf(" %-26s", cell);
		for (int i = 0; i < g->nw; i++) {
			stats(v->win[i], v->n, &m, &lo, &hi);
			snprintf(cell, sizeof(cell), "%.3f [%.3f-%.3f] us", m, lo, hi);
			printf(" %-24s", cell);
		}
		stats(v->rss, v->n, &m, &lo, &hi);
		printf(" %.1f", m);
		if (v->fails)
			printf("  (%d failed runs)", v->fails);
		printf("\n");
	}
	for (int r = 0; r < g->nratio; r++) {
		struct vmm *a = find(g, g->ratio[r][0]), *b = find(g, g->ratio[r][1]);
		if (!a || !b || !a->n || !b->n)
			continue;
		printf("ratio %s / %s: first byte %.2fx, marker %.2fx", a->label,
		       b->label, med_of(a->first, a->n) / med_of(b->first, b->n),
		       med_of(a->marker, a->n) / med_of(b->marker, b->n));
		for (int i = 0; i < g->nw; i++)
			printf(", %s %.3fx", g->w[i].name,
			       med_of(a->win[i], a->n) / med_of(b->win[i], b->n));
		printf(", peak RSS %.2fx\n",
		       med_of(a->rss, a->n) / med_of(b->rss, b->n));
		/* minimums: the least disturbed runs, on a loaded host */
		printf("ratio of minimums %s / %s: first byte %.2fx", a->label,
		       b->label, min_of(a->first, a->n) / min_of(b->first, b->n));
		for (int i = 0; i < g->nw; i++)
			printf(", %s %.3fx", g->w[i].name,
			       min_of(a->win[i], a->n) / min_of(b->win[i], b->n));
		printf("\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SPECFILE\n", argv[0]);
		return 2;
	}
	if (parse_spec(argv[1]))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	/* the guest's clocksource: without a TSC-based one clock_gettime is
	 * a system call (and a device read), which shows in per-exit costs
	 * of VMMs that read the clock on an exit */
	FILE *cs = fopen("/sys/devices/system/clocksource/clocksource0/"
			 "current_clocksource", "r");
	char csname[64] = "?";
	if (cs) {
		if (fgets(csname, sizeof(csname), cs))
			csname[strcspn(csname, "\n")] = 0;
		fclose(cs);
	}
	printf("tierdrv: clocksource %s, %ld CPUs online\n", csname,
	       sysconf(_SC_NPROCESSORS_ONLN));
	int bad = 0;
	for (int gi = 0; gi < ngroups; gi++) {
		struct group *g = &groups[gi];
		printf("\n== group %s: %d VMMs, %d warm-up + %d runs each\n",
		       g->name, g->nv, warmup, runs);
		fflush(stdout);
		for (int i = 0; i < warmup; i++)
			for (int k = 0; k < g->nv; k++)
				run_once(g, &g->v[k], false, i);
		/* rounds: every VMM still short of `runs` runs once; up to 2
		 * extra rounds replace failed runs */
		for (int round = 0; round < runs + 2; round++) {
			bool more = false;
			for (int k = 0; k < g->nv; k++)
				if (g->v[k].n < runs) {
					run_once(g, &g->v[k], true, round);
					more = more || g->v[k].n < runs;
				}
			if (!more)
				break;
		}
		for (int k = 0; k < g->nv; k++)
			bad |= g->v[k].n < runs;
		report(g);
	}
	return bad ? 1 : 0;
}
