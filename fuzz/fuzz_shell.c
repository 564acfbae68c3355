/*
 * fuzz_shell: the shell's command-line parser on arbitrary bytes —
 * sh_tokenize, sh_tokenize_partial and sh_args_parse — plus the dispatcher
 * (shell_run_argv over an empty registry) on whatever tokenizes.  Checks
 * the parsers' promises: argv shape, positional words pointing into argv,
 * values for value options, and a round trip: every word re-quoted and
 * tokenized again gives the same commands.
 *
 *   ./build-fuzz/fuzz/fuzz_shell -max_total_time=300 fuzz-out/shell \
 *       tests/fuzz/shell-seeds
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "args.h"
#include "registry.h"
#include "shell.h"
#include "tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sh_opt opts[] = {
	{ "force", 'f', SH_FLAG, NULL, "" },
	{ "timeout", 't', SH_VALUE, "SECONDS", "" },
	{ "keep-data", 0, SH_FLAG, NULL, "" },
	{ "format", 0, SH_VALUE, "FMT", "" },
	{ "config", 'c', SH_FLAG, NULL, "" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void check_args(const struct sh_words *w)
{
	struct sh_args a;
	struct cv_err e = {0};
	if (sh_args_parse(opts, NOPTS, w->n, w->v, &a, &e)) {
		CHECK(e.msg[0] && a.pos == NULL && a.npos == 0);
		return;
	}
	CHECK(a.npos <= w->n);
	for (size_t i = 0; i < a.npos; i++) {
		bool found = false;
		for (size_t k = 0; k < w->n && !found; k++)
			found = a.pos[i] == w->v[k];
		CHECK(found);
	}
	for (size_t k = 0; k < NOPTS; k++)
		if (opts[k].type == SH_VALUE && a.given[k])
			CHECK(a.value[k] != NULL);
	sh_args_free(&a);
}

/* 'word' with ' written as '\'' */
static char *requote(const struct sh_script *s)
{
	size_t cap = 16;
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->cmds[i].n; k++)
			cap += strlen(s->cmds[i].v[k]) * 4 + 4;
	char *out = malloc(cap), *p = out;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t k = 0; k < s->cmds[i].n; k++) {
			*p++ = '\'';
			for (const char *c = s->cmds[i].v[k]; *c; c++) {
				if (*c == '\'') {
					memcpy(p, "'\\''", 4);
					p += 4;
				} else {
					*p++ = *c;
				}
			}
			*p++ = '\'';
			*p++ = ' ';
		}
		*p++ = ';';
	}
	*p = '\0';
	return out;
}

static void check_round_trip(const struct sh_script *s)
{
	char *text = requote(s);
	struct sh_script again;
	struct cv_err e = {0};
	int rc = sh_tokenize(text, strlen(text), &again, &e);
	if (rc && strlen(text) > SH_MAX_TEXT) {
		free(text);	/* quoting made it too long: fine */
		return;
	}
	CHECK(rc == 0);
	CHECK(again.n == s->n);
	for (size_t i = 0; i < s->n; i++) {
		CHECK(again.cmds[i].n == s->cmds[i].n);
		for (size_t k = 0; k < s->cmds[i].n; k++)
			CHECK(!strcmp(again.cmds[i].v[k], s->cmds[i].v[k]));
	}
	sh_script_free(&again);
	free(text);
}

/* Commands that touch files or block are left out of the dispatch. */
static bool safe_to_run(const struct sh_words *w)
{
	for (size_t k = 0; k < w->n; k++)
		if (strstr(w->v[k], "create") || strstr(w->v[k], "wait") ||
		    strstr(w->v[k], "console"))
			return false;
	return true;
}

static void dispatch(const struct sh_script *s)
{
	static struct registry *reg;
	static struct shell *sh;
	static FILE *null;
	if (!reg) {
		struct registry_opts ro = { .accel_default = VM_ACCEL_EMU };
		CHECK(registry_create(&ro, &reg, NULL) == 0);
		CHECK(shell_create(reg, NULL, &sh, NULL) == 0);
		null = fopen("/dev/null", "w");
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!safe_to_run(&s->cmds[i]))
			continue;
		int st = shell_run_argv(sh, s->cmds[i].n, s->cmds[i].v, null,
					null, NULL);
		CHECK(st >= 0 && st <= 255);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sh_script s;
	struct cv_err e = {0};
	if (sh_tokenize(text, size, &s, &e) == 0) {
		for (size_t i = 0; i < s.n; i++) {
			CHECK(s.cmds[i].n > 0);
			CHECK(s.cmds[i].v[s.cmds[i].n] == NULL);
			check_args(&s.cmds[i]);
		}
		check_round_trip(&s);
		dispatch(&s);
		sh_script_free(&s);
	} else {
		CHECK(e.msg[0] != '\0');
		CHECK(s.n == 0 && s.cmds == NULL);
	}
	struct sh_words w;
	bool partial;
	if (sh_tokenize_partial(text, size, &w, &partial) == 0) {
		CHECK(!partial || w.n > 0);
		sh_words_free(&w);
	}
	return 0;
}
