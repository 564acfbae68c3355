/*
 * complete: tab-completion candidates for a partly typed command line —
 * top-level commands, vm verbs, a verb's options and option values, VM ids
 * and names, and file names for `vm create`.  Pure apart from reading the
 * registry and the directory being completed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shell_int.h"
#include "tokenize.h"

struct cands {
	struct sh_completion *c;
	const char *prefix;
	int rc;
};

static void add(struct cands *k, const char *s)
{
	if (k->rc || strncmp(s, k->prefix, strlen(k->prefix)))
		return;
	for (size_t i = 0; i < k->c->n; i++)
		if (!strcmp(k->c->items[i], s))
			return;
	char **a = realloc(k->c->items, (k->c->n + 1) * sizeof(*a));
	char *d = a ? strdup(s) : NULL;
	if (a)
		k->c->items = a;
	if (!d) {
		k->rc = -ENOMEM;
		return;
	}
	a[k->c->n++] = d;
}

static void add_vms(struct cands *k, struct shell *sh)
{
	if (sh->vm_names) {
		char **names = NULL;
		size_t n = 0;
		if (sh->vm_names(sh->vm_names_ctx, &names, &n))
			return;
		for (size_t i = 0; i < n; i++) {
			add(k, names[i]);
			free(names[i]);
		}
		free(names);
		return;
	}
	struct reg_vm **vms;
	size_t n;
	if (registry_snapshot(sh->reg, &vms, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%u", reg_vm_id(vms[i]));
		add(k, id);
		add(k, reg_vm_name(vms[i]));
	}
	registry_snapshot_free(vms, n);
}

static void add_files(struct cands *k)
{
	const char *slash = strrchr(k->prefix, '/');
	char dir[4096];
	size_t dlen = slash ? (size_t)(slash - k->prefix) + 1 : 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)dlen, k->prefix);
	const char *base = k->prefix + dlen;
	DIR *d = opendir(dlen ? dir : ".");
	if (!d)
		return;
	k->c->files = true;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (e->d_name[0] == '.' && base[0] != '.'))
			continue;
		if (strncmp(e->d_name, base, strlen(base)))
			continue;
		char full[8192];
		struct stat st;
		snprintf(full, sizeof(full), "%s%s", dir, e->d_name);
		bool is_dir = !stat(full, &st) && S_ISDIR(st.st_mode);
		if (is_dir)
			strncat(full, "/", sizeof(full) - strlen(full) - 1);
		add(k, full);
	}
	closedir(d);
}

static const struct sh_opt *find_opt(const struct sh_verb *v, const char *w)
{
	for (size_t i = 0; i < v->nopts; i++) {
		const struct sh_opt *o = &v->opts[i];
		if ((w[0] == '-' && w[1] == '-' && !strcmp(w + 2, o->name)) ||
		    (w[0] == '-' && w[1] == o->short_name && !w[2] &&
		     o->short_name))
			return o;
	}
	return NULL;
}

static void add_values(struct cands *k, const struct sh_opt *o)
{
	if (!strcmp(o->name, "format")) {
		add(k, "table");
		add(k, "json");
	} else if (!strcmp(o->name, "state")) {
		for (int s = VM_LOADING; s <= VM_STOPPED; s++)
			add(k, vm_state_name((enum vm_state)s));
	}
}

static void complete_verb_word(struct cands *k, struct shell *sh,
			       const struct sh_verb *v, const char *prev)
{
	const struct sh_opt *o = prev ? find_opt(v, prev) : NULL;
	if (o && o->type == SH_VALUE) {
		add_values(k, o);
		return;
	}
	if (k->prefix[0] == '-') {
		char buf[64];
		for (size_t i = 0; i < v->nopts; i++) {
			snprintf(buf, sizeof(buf), "--%s", v->opts[i].name);
			add(k, buf);
		}
		add(k, "--help");
		return;
	}
	if (v->pos == SH_POS_VMS)
		add_vms(k, sh);
	else if (v->pos == SH_POS_FILES)
		add_files(k);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int shell_complete(struct shell *sh, const char *line,
		   struct sh_completion *out)
{
	static const char *const top[] = { "vm", "help", "exit", "quit",
					   "version", NULL };
	struct sh_words w;
	bool partial;
	memset(out, 0, sizeof(*out));
	if (sh_tokenize_partial(line, strlen(line), &w, &partial))
		return -EINVAL;
	size_t idx = partial ? w.n - 1 : w.n;
	struct cands k = { .c = out, .prefix = partial ? w.v[idx] : "" };
	out->word_start = strlen(line) - strlen(k.prefix);
	if (idx == 0) {
		for (size_t i = 0; top[i]; i++)
			add(&k, top[i]);
	} else if (!strcmp(w.v[0], "vm") && idx == 1) {
		for (size_t i = 0; sh_verbs[i]; i++)
			add(&k, sh_verbs[i]->name);
		add(&k, "help");
	} else if (!strcmp(w.v[0], "help") && idx == 1) {
		add(&k, "vm");
	} else if (!strcmp(w.v[0], "vm")) {
		const struct sh_verb *v = sh_find_verb(w.v[1]);
		if (v)
			complete_verb_word(&k, sh, v, w.v[idx - 1]);
	}
	sh_words_free(&w);
	if (k.rc) {
		shell_completion_free(out);
		return k.rc;
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), cmp);
	return 0;
}

void shell_completion_free(struct sh_completion *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i]);
	free(c->items);
	memset(c, 0, sizeof(*c));
}
