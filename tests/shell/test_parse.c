/*
 * Unit tests of the shell's command-line syntax (SPEC §2): the tokenizer
 * (words, quotes, escapes, comments, ';'), the option parser (--opt value,
 * --opt=value, clustered flags, unknown options) and completion.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "args.h"
#include "registry.h"
#include "shell.h"
#include "tokenize.h"

/* Tokenize and compare with "cmd1word1|cmd1word2;cmd2word1" notation. */
static void expect_tokens(const char *text, const char *want)
{
	struct sh_script s;
	struct cv_err e = {0};
	int rc = sh_tokenize(text, strlen(text), &s, &e);
	if (rc)
		fail_msg("tokenize(%s): %s", text, e.msg);
	char got[1024] = "";
	for (size_t i = 0; i < s.n; i++) {
		if (i)
			strcat(got, ";");
		for (size_t k = 0; k < s.cmds[i].n; k++) {
			if (k)
				strcat(got, "|");
			strcat(got, s.cmds[i].v[k]);
		}
		assert_null(s.cmds[i].v[s.cmds[i].n]);
	}
	if (strcmp(got, want))
		fail_msg("tokenize(%s) = [%s], want [%s]", text, got, want);
	sh_script_free(&s);
}

static void expect_error(const char *text, size_t len, const char *msg_part)
{
	struct sh_script s;
	struct cv_err e = {0};
	assert_int_not_equal(sh_tokenize(text, len, &s, &e), 0);
	assert_int_equal(s.n, 0);
	if (!strstr(e.msg, msg_part))
		fail_msg("error for %s: '%s' lacks '%s'", text, e.msg, msg_part);
}

static void test_words(void **state)
{
	(void)state;
	expect_tokens("vm list", "vm|list");
	expect_tokens("  vm\tlist  ", "vm|list");
	expect_tokens("", "");
	expect_tokens("   \t ", "");
	expect_tokens("vm stop 0 1 2 --force", "vm|stop|0|1|2|--force");
}

static void test_separators_and_comments(void **state)
{
	(void)state;
	expect_tokens("vm list; vm show 0", "vm|list;vm|show|0");
	expect_tokens("vm list;vm show 0;", "vm|list;vm|show|0");
	expect_tokens(";;; vm list ;;", "vm|list");
	expect_tokens("vm list\nvm show 1\n", "vm|list;vm|show|1");
	expect_tokens("# only a comment", "");
	expect_tokens("vm list # the table; vm show 0", "vm|list");
	expect_tokens("vm list # c\nvm show 0", "vm|list;vm|show|0");
	expect_tokens("vm show a#b", "vm|show|a#b");
	expect_tokens("vm show '#x'", "vm|show|#x");
}

static void test_quotes(void **state)
{
	(void)state;
	expect_tokens("vm create 'my vm.toml'", "vm|create|my vm.toml");
	expect_tokens("vm create \"my vm.toml\"", "vm|create|my vm.toml");
	expect_tokens("a'b c'd", "ab cd");
	expect_tokens("'a;b' \"c;d\"", "a;b|c;d");
	expect_tokens("'' \"\"", "|");
	expect_tokens("'it\\'s", "it\\s");	/* no escapes in '...' */
	expect_tokens("\"a\\\"b\"", "a\"b");
	expect_tokens("\"a\\\\b\"", "a\\b");
	expect_tokens("\"x\\ty\"", "x\ty");
	expect_tokens("\"x\\ny\"", "x\ny");
	expect_tokens("\"\\q\"", "\\q");	/* unknown escapes stay */
	expect_tokens("\"a\\\nb\"", "ab");	/* continuation */
	expect_tokens("'\"' \"'\"", "\"|'");
}

static void test_backslash(void **state)
{
	(void)state;
	expect_tokens("a\\ b", "a b");
	expect_tokens("a\\;b", "a;b");
	expect_tokens("\\#x", "#x");
	expect_tokens("vm \\\nlist", "vm|list");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("vm show 'abc", 12, "unterminated single quote");
	expect_error("vm show \"abc", 12, "unterminated double quote");
	expect_error("vm show \"a\\\"", 12, "unterminated double quote");
	expect_error("vm list \\", 9, "backslash");
	expect_error("vm\0list", 7, "NUL");
	/* column of the opening quote */
	expect_error("ab 'x", 5, "column 4");
}

static void test_limits(void **state)
{
	(void)state;
	size_t n = SH_MAX_WORDS + 1;
	char *big = malloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++) {
		big[2 * i] = 'x';
		big[2 * i + 1] = ' ';
	}
	big[2 * n] = '\0';
	expect_error(big, strlen(big), "too many words");
	free(big);
	char *huge = malloc(SH_MAX_TEXT + 2);
	memset(huge, 'a', SH_MAX_TEXT + 1);
	huge[SH_MAX_TEXT + 1] = '\0';
	expect_error(huge, SH_MAX_TEXT + 1, "too long");
	free(huge);
}

static void test_partial(void **state)
{
	(void)state;
	struct sh_words w;
	bool partial;
	assert_int_equal(sh_tokenize_partial("vm sto", 6, &w, &partial), 0);
	assert_true(partial);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.v[1], "sto");
	sh_words_free(&w);
	assert_int_equal(sh_tokenize_partial("vm stop ", 8, &w, &partial), 0);
	assert_false(partial);
	assert_int_equal(w.n, 2);
	sh_words_free(&w);
	/* an open quote is fine while typing; only the last command counts */
	assert_int_equal(sh_tokenize_partial("vm list; vm show 'my v", 22, &w,
					     &partial), 0);
	assert_true(partial);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.v[0], "vm");
	assert_string_equal(w.v[2], "my v");
	sh_words_free(&w);
}

/* ---- options ---------------------------------------------------------- */

enum { O_FORCE, O_TIMEOUT, O_KEEP, O_CONFIG };
static const struct sh_opt opts[] = {
	[O_FORCE] = { "force", 'f', SH_FLAG, NULL, "" },
	[O_TIMEOUT] = { "timeout", 't', SH_VALUE, "SECONDS", "" },
	[O_KEEP] = { "keep-data", 0, SH_FLAG, NULL, "" },
	[O_CONFIG] = { "config", 'c', SH_FLAG, NULL, "" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* The words of the last parse(), alive for a->pos. */
static struct sh_script keep;

static int parse(struct sh_args *a, struct cv_err *e, const char *line)
{
	struct sh_script s;
	assert_int_equal(sh_tokenize(line, strlen(line), &s, e), 0);
	assert_int_equal(s.n, 1);
	int rc = sh_args_parse(opts, NOPTS, s.cmds[0].n, s.cmds[0].v, a, e);
	sh_script_free(&keep);
	keep = s;
	return rc;
}

static void test_options(void **state)
{
	(void)state;
	struct sh_args a;
	struct cv_err e = {0};
	assert_int_equal(parse(&a, &e, "0 1 --force --timeout 3"), 0);
	assert_true(a.given[O_FORCE]);
	assert_string_equal(a.value[O_TIMEOUT], "3");
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "0");
	assert_string_equal(a.pos[1], "1");
	sh_args_free(&a);

	assert_int_equal(parse(&a, &e, "--timeout=2.5 7"), 0);
	assert_string_equal(a.value[O_TIMEOUT], "2.5");
	assert_false(a.given[O_FORCE]);
	assert_int_equal(a.npos, 1);
	sh_args_free(&a);

	/* clustered short flags, a value in the cluster or the next word */
	assert_int_equal(parse(&a, &e, "-fc 3"), 0);
	assert_true(a.given[O_FORCE] && a.given[O_CONFIG]);
	assert_int_equal(a.npos, 1);
	sh_args_free(&a);
	assert_int_equal(parse(&a, &e, "-ft5"), 0);
	assert_true(a.given[O_FORCE]);
	assert_string_equal(a.value[O_TIMEOUT], "5");
	sh_args_free(&a);
	assert_int_equal(parse(&a, &e, "-ft 6 x"), 0);
	assert_string_equal(a.value[O_TIMEOUT], "6");
	assert_int_equal(a.npos, 1);
	sh_args_free(&a);

	/* the last value wins; -- ends options; "-" is a word */
	assert_int_equal(parse(&a, &e, "-t 1 --timeout 2 -- --force -"), 0);
	assert_string_equal(a.value[O_TIMEOUT], "2");
	assert_false(a.given[O_FORCE]);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "--force");
	assert_string_equal(a.pos[1], "-");
	sh_args_free(&a);

	/* an empty value is a value */
	assert_int_equal(parse(&a, &e, "--timeout= x"), 0);
	assert_string_equal(a.value[O_TIMEOUT], "");
	sh_args_free(&a);

	assert_int_equal(parse(&a, &e, "--keep-data --help"), 0);
	assert_true(a.given[O_KEEP]);
	assert_true(a.help);
	sh_args_free(&a);
	assert_int_equal(parse(&a, &e, "-h"), 0);
	assert_true(a.help);
	sh_args_free(&a);
}

static void expect_opt_error(const char *line, const char *msg)
{
	struct sh_args a;
	struct cv_err e = {0};
	assert_int_not_equal(parse(&a, &e, line), 0);
	assert_null(a.pos);
	if (strcmp(e.msg, msg))
		fail_msg("'%s': error '%s', want '%s'", line, e.msg, msg);
}

static void test_option_errors(void **state)
{
	(void)state;
	expect_opt_error("--bogus", "unknown option '--bogus'");
	expect_opt_error("0 --bogus=3", "unknown option '--bogus'");
	expect_opt_error("-x", "unknown option '-x' in '-x'");
	expect_opt_error("-fx", "unknown option '-x' in '-fx'");
	expect_opt_error("--force=yes", "option '--force' takes no value");
	expect_opt_error("--timeout", "option '--timeout' needs a value (SECONDS)");
	expect_opt_error("0 -t", "option '-t' needs a value (SECONDS)");
	expect_opt_error("--forc", "unknown option '--forc'");	/* no prefixes */
	expect_opt_error("-\x01", "unknown option '-\\x01' in '-\x01'");
	assert_int_equal(sh_opt_index(opts, NOPTS, "keep-data"), O_KEEP);
	assert_int_equal(sh_opt_index(opts, NOPTS, "nope"), -1);
}

/* ---- completion's VM ids and names from elsewhere (a remote shell) ---- */

static int fake_names(void *ctx, char ***names, size_t *n)
{
	int *calls = ctx;
	(*calls)++;
	if (*calls > 2)
		return -ECONNREFUSED;	/* the daemon went away */
	static const char *const have[] = { "3", "web", "worker" };
	*names = calloc(3, sizeof(**names));
	assert_non_null(*names);
	for (size_t i = 0; i < 3; i++)
		(*names)[i] = strdup(have[i]);
	*n = 3;
	return 0;
}

static void test_complete_vm_names(void **state)
{
	(void)state;
	struct registry *reg;
	struct shell *sh;
	struct registry_opts ro = { 0 };
	assert_int_equal(registry_create(&ro, &reg, NULL), 0);
	assert_int_equal(shell_create(reg, NULL, &sh, NULL), 0);
	int calls = 0;
	struct sh_completion c;
	/* an empty registry: no VM offered */
	assert_int_equal(shell_complete(sh, "vm show w", &c), 0);
	assert_int_equal(c.n, 0);
	shell_completion_free(&c);
	shell_set_vm_names(sh, fake_names, &calls);
	assert_int_equal(shell_complete(sh, "vm show w", &c), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.items[0], "web");
	assert_string_equal(c.items[1], "worker");
	assert_int_equal(c.word_start, 8);
	shell_completion_free(&c);
	assert_int_equal(shell_complete(sh, "vm stop 3 ", &c), 0);
	assert_int_equal(c.n, 3);
	shell_completion_free(&c);
	/* a failing source offers nothing (and completion still works) */
	assert_int_equal(shell_complete(sh, "vm start ", &c), 0);
	assert_int_equal(c.n, 0);
	shell_completion_free(&c);
	/* verbs do not ask for VMs */
	assert_int_equal(shell_complete(sh, "vm sho", &c), 0);
	assert_int_equal(calls, 3);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.items[0], "show");
	shell_completion_free(&c);
	shell_destroy(sh);
	registry_destroy(reg, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_separators_and_comments),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_backslash),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_complete_vm_names),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh_script_free(&keep);
	return rc;
}
