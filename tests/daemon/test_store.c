/*
 * The definition store: the file format (round trip, every rejection),
 * put/get/remove/autostart with their modes, load_all skipping every kind
 * of bad file through the callback, temp files cleaned at open, writers on
 * several threads, and crash safety (a child writing in a loop is killed
 * with SIGKILL at random moments; every file left parses and matches one
 * complete write).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsutil.h"
#include "store.h"

static char *make_state_dir(void)
{
	char tmpl[] = "/tmp/cvstore-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void drop_state_dir(char *d)
{
	cv_remove_tree(d);
	free(d);
}

static struct store_def def(uint32_t id, const char *name, const char *cfg)
{
	struct store_def d = {
		.id = id, .name = (char *)name, .config = (char *)cfg,
		.config_len = strlen(cfg), .config_path = (char *)"/etc/vm.toml",
		.autostart = false, .created = 1795622400,
	};
	return d;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ---- format ---------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	(void)state;
	const char *cfg = "[base]\nid = 3\nname = \"a \\\"q\\\" é\"\n\t# tab\n";
	struct store_def d = def(4000000000u, "linux-ü", cfg);
	d.autostart = true;
	d.created = -5;
	struct cv_err e = {0};
	size_t len;
	char *text = store_def_encode(&d, &len, &e);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_int_equal(text[len - 1], '\n');
	struct store_def back;
	assert_int_equal(store_def_decode(text, len, &back, &e), 0);
	assert_int_equal(back.id, 4000000000u);
	assert_string_equal(back.name, "linux-ü");
	assert_int_equal(back.config_len, strlen(cfg));
	assert_memory_equal(back.config, cfg, strlen(cfg));
	assert_string_equal(back.config_path, "/etc/vm.toml");
	assert_true(back.autostart);
	assert_int_equal(back.created, -5);
	store_def_fini(&back);
	free(text);

	char dir[64];
	store_def_base_dir(&d, dir, sizeof(dir));
	assert_string_equal(dir, "/etc");
	d.config_path = (char *)"/x.toml";
	store_def_base_dir(&d, dir, sizeof(dir));
	assert_string_equal(dir, "/");
	d.config_path = (char *)"";
	store_def_base_dir(&d, dir, sizeof(dir));
	assert_string_equal(dir, ".");
}

static void expect_bad(const char *text, const char *why)
{
	struct store_def d;
	struct cv_err e = {0};
	int rc = store_def_decode(text, strlen(text), &d, &e);
	if (rc != -EINVAL || !strstr(e.msg, why))
		fail_msg("decode(%s) = %d '%s', expected '%s'", text, rc, e.msg,
			 why);
	assert_null(d.name);	/* nothing to free on failure */
}

#define GOOD_TAIL "\"autostart\":false,\"created\":1,\"config_path\":\"\"," \
		  "\"config\":\"x\"}"

static void test_decode_rejects(void **state)
{
	(void)state;
	expect_bad("", "not valid JSON");
	expect_bad("{\"v\":1,", "not valid JSON");
	expect_bad("[1]", "not a JSON object");
	expect_bad("{\"id\":1}", "no format version");
	expect_bad("{\"v\":2,\"id\":1}", "unknown format version 2");
	expect_bad("{\"v\":\"1\"}", "no format version");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\",\"x\":0," GOOD_TAIL,
		   "unknown key 'x'");
	expect_bad("{\"v\":1,\"id\":-1,\"name\":\"a\"," GOOD_TAIL,
		   "'id' is out of range");
	expect_bad("{\"v\":1,\"id\":4294967296,\"name\":\"a\"," GOOD_TAIL,
		   "'id' is out of range");
	expect_bad("{\"v\":1,\"id\":1.5,\"name\":\"a\"," GOOD_TAIL,
		   "'id' is not an integer");
	expect_bad("{\"v\":1,\"name\":\"a\"," GOOD_TAIL, "'id' is missing");
	expect_bad("{\"v\":1,\"id\":1," GOOD_TAIL, "'name' is missing");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"\"," GOOD_TAIL,
		   "the name is empty");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\\nb\"," GOOD_TAIL,
		   "control character");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\\u0000b\"," GOOD_TAIL,
		   "\\u0000 is not allowed");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"0123456789012345678901234567"
		   "8901234567890123456789012345678901234\"," GOOD_TAIL,
		   "longer than 63 bytes");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\",\"autostart\":0,"
		   "\"created\":1,\"config_path\":\"\",\"config\":\"x\"}",
		   "'autostart' is not a boolean");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\",\"autostart\":true,"
		   "\"created\":1,\"config_path\":\"rel/a.toml\","
		   "\"config\":\"x\"}", "not absolute");
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\",\"autostart\":true,"
		   "\"created\":1,\"config_path\":\"\",\"config\":\"a\\u0000\"}",
		   "\\u0000 is not allowed");
	expect_bad("{\"v\":1,\"id\":1,\"id\":2,\"name\":\"a\"," GOOD_TAIL,
		   "not valid JSON");	/* duplicate key */
	expect_bad("{\"v\":1,\"id\":1,\"name\":\"a\",\"autostart\":true,"
		   "\"created\":1,\"config_path\":\"\"}", "'config' is missing");

	/* encode refuses what decode would refuse */
	struct store_def d = def(1, "", "x");
	struct cv_err e = {0};
	assert_null(store_def_encode(&d, NULL, &e));
	assert_string_equal(e.msg, "the name is empty");
	d = def(1, "a", "\xff\xfe");
	assert_null(store_def_encode(&d, NULL, &e));
	assert_string_equal(e.msg, "the config text is not valid UTF-8");
}

/* ---- the store ------------------------------------------------------- */

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_put_get_remove(void **state)
{
	(void)state;
	char *sd = make_state_dir();
	struct cv_store *s;
	struct cv_err e = {0};
	mode_t old = umask(0);	/* the modes must not depend on the umask */
	int rc = store_open(sd, &s, &e);
	umask(old);
	assert_int_equal(rc, 0);
	char p[4200];
	snprintf(p, sizeof(p), "%s/defs", sd);
	assert_string_equal(store_dir(s), p);
	assert_int_equal(mode_of(p), 0700);

	struct store_def d = def(7, "seven", "[base]\nid = 7\n");
	assert_int_equal(store_put(s, &d, &e), 0);
	snprintf(p, sizeof(p), "%s/defs/7.json", sd);
	assert_int_equal(mode_of(p), 0600);

	struct store_def got;
	assert_int_equal(store_get(s, 7, &got, &e), 0);
	assert_string_equal(got.name, "seven");
	assert_false(got.autostart);
	store_def_fini(&got);

	assert_int_equal(store_set_autostart(s, 7, true, &e), 0);
	assert_int_equal(store_get(s, 7, &got, &e), 0);
	assert_true(got.autostart);
	assert_string_equal(got.config, "[base]\nid = 7\n");
	assert_int_equal(got.created, 1795622400);
	store_def_fini(&got);
	assert_int_equal(mode_of(p), 0600);

	/* replace */
	d.name = (char *)"seven-b";
	assert_int_equal(store_put(s, &d, &e), 0);
	assert_int_equal(store_get(s, 7, &got, &e), 0);
	assert_string_equal(got.name, "seven-b");
	store_def_fini(&got);

	assert_int_equal(store_get(s, 8, &got, &e), -ENOENT);
	assert_string_equal(e.msg, "VM 8 has no definition");
	assert_int_equal(store_set_autostart(s, 8, true, &e), -ENOENT);
	assert_int_equal(store_remove(s, 7, &e), 0);
	assert_int_equal(store_remove(s, 7, &e), -ENOENT);
	assert_int_equal(store_get(s, 7, &got, &e), -ENOENT);

	/* an invalid definition is refused and leaves nothing behind */
	d = def(9, "nine", "x");
	d.config_path = (char *)"relative.toml";
	assert_int_equal(store_put(s, &d, &e), -EINVAL);
	struct store_def *all;
	size_t n;
	assert_int_equal(store_load_all(s, &all, &n, NULL, NULL, &e), 0);
	assert_int_equal(n, 0);
	store_defs_free(all, n);
	DIR *dir = opendir(store_dir(s));
	struct dirent *de;
	int files = 0;
	while ((de = readdir(dir)))
		files += de->d_name[0] != '.' ||
			 !strncmp(de->d_name, ".tmp-", 5);
	closedir(dir);
	assert_int_equal(files, 0);
	store_close(s);

	/* an existing group/other-readable defs dir is made private */
	snprintf(p, sizeof(p), "%s/defs", sd);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(store_open(sd, &s, &e), 0);
	assert_int_equal(mode_of(p), 0700);
	store_close(s);
	assert_int_equal(store_open("", &s, &e), -EINVAL);
	drop_state_dir(sd);
}

struct skipped {
	char names[16][64];
	char whys[16][CV_ERR_MAX];
	int n;
};

static void on_skip(void *ctx, const char *file, const char *why)
{
	struct skipped *k = ctx;
	assert_true(k->n < 16);
	snprintf(k->names[k->n], sizeof(k->names[0]), "%s", file);
	snprintf(k->whys[k->n], sizeof(k->whys[0]), "%s", why);
	k->n++;
}

static const char *why_of(const struct skipped *k, const char *file)
{
	for (int i = 0; i < k->n; i++)
		if (!strcmp(k->names[i], file))
			return k->whys[i];
	fail_msg("%s was not reported", file);
	return "";
}

static void test_load_all_skips(void **state)
{
	(void)state;
	char *sd = make_state_dir();
	struct cv_store *s;
	struct cv_err e = {0};
	assert_int_equal(store_open(sd, &s, &e), 0);
	for (uint32_t id = 12; id >= 10; id--) {
		struct store_def d = def(id, "ok", "cfg");
		assert_int_equal(store_put(s, &d, &e), 0);
	}
	const char *dir = store_dir(s);
	write_file(dir, "5.json", "{not json");
	write_file(dir, "6.json", "{\"v\":99}");
	/* a valid definition of VM 1 under the name of VM 7 */
	struct store_def one = def(1, "one", "x");
	char *text = store_def_encode(&one, NULL, &e);
	write_file(dir, "7.json", text);
	free(text);
	write_file(dir, "README", "hello");
	write_file(dir, "007.json", "{}");
	write_file(dir, ".tmp-3-abcdef", "{\"v\":1");	/* a crash's leftover */
	char p[4200];
	snprintf(p, sizeof(p), "%s/8.json", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/9.json", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/13.json", dir);
	assert_int_equal(symlink("10.json", p), 0);

	struct skipped k = {0};
	struct store_def *all;
	size_t n;
	assert_int_equal(store_load_all(s, &all, &n, on_skip, &k, &e), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(all[i].id, 10 + i);	/* sorted */
	store_defs_free(all, n);
	assert_int_equal(k.n, 8);
	assert_non_null(strstr(why_of(&k, "5.json"), "not valid JSON"));
	assert_non_null(strstr(why_of(&k, "6.json"),
			       "unknown format version 99"));
	assert_string_equal(why_of(&k, "7.json"),
			    "it defines VM 1, not VM 7 as its name says");
	assert_non_null(strstr(why_of(&k, "README"),
			       "not a definition file name"));
	assert_non_null(strstr(why_of(&k, "007.json"),
			       "not a definition file name"));
	assert_string_equal(why_of(&k, "8.json"), "not a regular file");
	assert_string_equal(why_of(&k, "9.json"), "not a regular file");
	assert_non_null(strstr(why_of(&k, "13.json"), "cannot open"));

	/* get reports a corrupt file as -EINVAL with the file name */
	assert_int_equal(store_get(s, 5, &one, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "/defs/5.json: not valid JSON"));
	store_close(s);

	/* reopening removes the temp file, nothing else */
	assert_int_equal(store_open(sd, &s, &e), 0);
	snprintf(p, sizeof(p), "%s/.tmp-3-abcdef", store_dir(s));
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/5.json", store_dir(s));
	assert_int_equal(access(p, F_OK), 0);
	store_close(s);
	drop_state_dir(sd);
}

/* ---- threads ----------------------------------------------------------- */

struct writer {
	struct cv_store *s;
	uint32_t id;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct cv_err e = {0};
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "w%u-%d", w->id, i);
		struct store_def d = def(w->id, name, "cfg");
		if (store_put(w->s, &d, &e))
			return (void *)1;
		/* every writer also toggles VM 0's flag: read-modify-write */
		if (store_set_autostart(w->s, 0, i % 2, &e))
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	char *sd = make_state_dir();
	struct cv_store *s;
	struct cv_err e = {0};
	assert_int_equal(store_open(sd, &s, &e), 0);
	struct store_def zero = def(0, "zero", "the config of zero");
	assert_int_equal(store_put(s, &zero, &e), 0);
	pthread_t t[4];
	struct writer w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ s, (uint32_t)i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		assert_null(rv);
	}
	struct skipped k = {0};
	struct store_def *all;
	size_t n;
	assert_int_equal(store_load_all(s, &all, &n, on_skip, &k, &e), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(n, 5);
	assert_string_equal(all[0].config, "the config of zero");
	for (size_t i = 1; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "w%zu-39", i);
		assert_string_equal(all[i].name, name);
	}
	store_defs_free(all, n);
	store_close(s);
	drop_state_dir(sd);
}

/* ---- crash safety ------------------------------------------------------ */

/*
 * A write's content is self-describing: name "g<gen>-<len>" and a config
 * of <len> bytes, every byte the letter for gen.  A torn or mixed file
 * would not match.
 */
static void crash_def(uint32_t id, unsigned gen, char *name, char *cfg,
		      struct store_def *d)
{
	size_t len = 1 + (gen * 7919u) % 20000u;
	sprintf(name, "g%u-%zu", gen, len);
	memset(cfg, 'a' + gen % 26, len);
	cfg[len] = '\0';
	*d = def(id, name, cfg);
	d->autostart = gen % 2;
}

/* Writes definitions until killed; a byte on ready after the first. */
static void child_writer(const char *sd, int ready)
{
	struct cv_store *s;
	if (store_open(sd, &s, NULL))
		_exit(2);
	static char cfg[20001];
	char name[64];
	for (unsigned gen = (unsigned)getpid();; gen++) {
		struct store_def d;
		crash_def(gen % 8, gen, name, cfg, &d);
		if (store_put(s, &d, NULL))
			_exit(3);
		if (ready >= 0) {
			if (write(ready, "w", 1) != 1)
				_exit(4);
			close(ready);
			ready = -1;
		}
		if (gen % 5 == 0)
			store_remove(s, (gen + 3) % 8, NULL);
	}
}

static void check_crash_def(const struct store_def *d)
{
	unsigned gen;
	size_t len;
	if (sscanf(d->name, "g%u-%zu", &gen, &len) != 2)
		fail_msg("bad name %s", d->name);
	assert_int_equal(d->config_len, len);
	for (size_t i = 0; i < len; i++)
		if (d->config[i] != (char)('a' + gen % 26))
			fail_msg("VM %u: byte %zu of %zu is wrong", d->id, i,
				 len);
	assert_int_equal(d->autostart, gen % 2);
	assert_int_equal(d->id, gen % 8);
}

static int count_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, ".tmp-", 5);
	closedir(d);
	return n;
}

static void test_crash_safety(void **state)
{
	(void)state;
	char *sd = make_state_dir();
	struct cv_store *s;	/* opened first: it never cleans afterwards */
	struct cv_err e = {0};
	assert_int_equal(store_open(sd, &s, &e), 0);
	unsigned seed = (unsigned)time(NULL);
	srand(seed);
	int rounds = 60, loaded = 0, temps_seen = 0;
	for (int r = 0; r < rounds; r++) {
		/*
		 * The kill lands 1-21 ms after the writer's first definition
		 * is in place, not after the fork: under TSan on a loaded
		 * host the child once wrote nothing before any of 60 kills.
		 */
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_writer(sd, p[1]);
		}
		close(p[1]);
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		char c;
		if (poll(&pf, 1, 30000) != 1 || read(p[0], &c, 1) != 1)
			fail_msg("round %d: the writer stored nothing in 30 s", r);
		close(p[0]);
		usleep(1000 + (useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st))
			fail_msg("the writer exited by itself (status %d)", st);
		temps_seen += count_temp_files(store_dir(s)) > 0;

		/* everything present parses; temp files are not definitions */
		struct skipped k = {0};
		struct store_def *all;
		size_t n;
		assert_int_equal(store_load_all(s, &all, &n, on_skip, &k, &e),
				 0);
		if (k.n)
			fail_msg("seed %u round %d: %s skipped: %s", seed, r,
				 k.names[0], k.whys[0]);
		for (size_t i = 0; i < n; i++)
			check_crash_def(&all[i]);
		loaded += (int)n;
		store_defs_free(all, n);
	}
	print_message("crash safety: %d kills, %d definitions checked, "
		      "%d rounds left a temp file (seed %u)\n", rounds, loaded,
		      temps_seen, seed);
	assert_true(loaded > 0);
	store_close(s);

	/* open cleans the leftovers */
	assert_int_equal(store_open(sd, &s, &e), 0);
	assert_int_equal(count_temp_files(store_dir(s)), 0);
	store_close(s);
	drop_state_dir(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_put_get_remove),
		cmocka_unit_test(test_load_all_skips),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_crash_safety),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
