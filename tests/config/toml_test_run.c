/*
 * toml_test_run: runs the toml-test 1.0.0 corpus through the toml_decode
 * program, the way toml-test itself drives a decoder.
 *
 *   toml_test_run <corpus-dir> <decoder>
 *
 * Every path in <corpus-dir>/files-toml-1.0.0 is fed to the decoder on
 * stdin.  valid/ files must exit 0 and print JSON equal to the matching
 * .json file, compared as toml-test compares (objects by key, arrays in
 * order, floats by value with any NaN equal to any NaN, date-times by
 * value: "t"/" " for "T", "z" for "Z", offset date-times as instants).
 * invalid/ files must exit 1 with a message on stderr.  Exits 0 only when
 * both are 100%, 77 (skip) when the corpus is absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define DECODER_TIMEOUT_S 20

struct run {
	char *out;
	size_t outlen;
	char err[4096];		/* the decoder's stderr */
	int status;
};

/* A sanitizer report means failure, whatever the exit status says. */
static bool sanitizer_report(const struct run *r)
{
	return strstr(r->err, "runtime error:") || strstr(r->err, "Sanitizer");
}

static const char *first_line(const struct run *r, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(r->err, "\n"), r->err);
	return out;
}

static int read_fd(int fd, struct run *r)
{
	size_t cap = 4096;
	r->out = malloc(cap);
	r->outlen = 0;
	if (!r->out)
		return -ENOMEM;
	for (;;) {
		if (r->outlen == cap) {
			char *n = realloc(r->out, cap * 2);
			if (!n)
				return -ENOMEM;
			r->out = n;
			cap *= 2;
		}
		ssize_t n = read(fd, r->out + r->outlen, cap - r->outlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r->outlen += (size_t)n;
	}
}

/* Run the decoder with input on stdin; stderr goes to errf. */
static int run_decoder(const char *decoder, const char *input, FILE *errf,
		       struct run *r)
{
	memset(r, 0, sizeof(*r));
	int in = open(input, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;
		close(in);
		return -e;
	}
	if (ftruncate(fileno(errf), 0) < 0 || lseek(fileno(errf), 0, SEEK_SET) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(pfd[1], 1) < 0 ||
		    dup2(fileno(errf), 2) < 0)
			_exit(126);
		alarm(DECODER_TIMEOUT_S); /* survives exec: kills a hang */
		execl(decoder, decoder, (char *)NULL);
		_exit(127);
	}
	int e = pid < 0 ? errno : 0;
	close(in);
	close(pfd[1]);
	int rc = pid < 0 ? -e : read_fd(pfd[0], r);
	close(pfd[0]);
	if (pid > 0) {
		while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
			;
		ssize_t n = pread(fileno(errf), r->err, sizeof(r->err) - 1, 0);
		r->err[n > 0 ? n : 0] = '\0';
	}
	return rc;
}

/* ------------------------------------------------------------ datetimes */

struct dt {
	bool has_date, has_time, has_off;
	int y, mo, d, h, mi, s, off;
	long ns;
};

static bool num(const char **s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return false;
		*out = *out * 10 + (c - '0');
	}
	*s += n;
	return true;
}

static bool parse_dt(const char *s, struct dt *o)
{
	memset(o, 0, sizeof(*o));
	if (strlen(s) >= 10 && s[4] == '-') {
		if (!num(&s, 4, &o->y) || *s++ != '-' || !num(&s, 2, &o->mo) ||
		    *s++ != '-' || !num(&s, 2, &o->d))
			return false;
		o->has_date = true;
		if (*s == '\0')
			return true;
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		s++;
	}
	if (!num(&s, 2, &o->h) || *s++ != ':' || !num(&s, 2, &o->mi) ||
	    *s++ != ':' || !num(&s, 2, &o->s))
		return false;
	o->has_time = true;
	if (*s == '.') {
		int digits = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 9)
				o->ns = o->ns * 10 + (*s - '0');
		if (!digits)
			return false;
		for (; digits < 9; digits++)
			o->ns *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		o->has_off = true;
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om;
		if (!num(&s, 2, &oh) || *s++ != ':' || !num(&s, 2, &om))
			return false;
		o->has_off = true;
		o->off = sign * (oh * 60 + om);
	}
	return *s == '\0';
}

/* Days since 1970-01-01 in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool cmp_datetime(const char *type, const char *want, const char *have)
{
	struct dt w, h;
	if (!parse_dt(want, &w) || !parse_dt(have, &h))
		return false;
	bool date = strcmp(type, "time-local") != 0;
	bool time = strcmp(type, "date-local") != 0;
	bool off = strcmp(type, "datetime") == 0;
	if (h.has_date != date || h.has_time != time || h.has_off != off)
		return false;
	if (off) {
		int64_t ws = days_from_civil(w.y, w.mo, w.d) * 86400 +
			     w.h * 3600 + w.mi * 60 + w.s - w.off * 60;
		int64_t hs = days_from_civil(h.y, h.mo, h.d) * 86400 +
			     h.h * 3600 + h.mi * 60 + h.s - h.off * 60;
		return ws == hs && w.ns == h.ns;
	}
	return w.y == h.y && w.mo == h.mo && w.d == h.d && w.h == h.h &&
	       w.mi == h.mi && w.s == h.s && w.ns == h.ns;
}

/* ----------------------------------------------------------- comparison */

static bool ends_with_nan(const char *s)
{
	size_t n = strlen(s);
	return n >= 3 && strcmp(s + n - 3, "nan") == 0;
}

static bool cmp_float(const char *want, const char *have)
{
	if (ends_with_nan(want) || ends_with_nan(have))
		return strcmp(want + strspn(want, "+-"),
			      have + strspn(have, "+-")) == 0;
	char *e1, *e2;
	double a = strtod(want, &e1), b = strtod(have, &e2);
	return *want && *have && !*e1 && !*e2 && a == b;
}

static bool cmp_integer(const char *want, const char *have)
{
	char *e1, *e2;
	errno = 0;
	long long a = strtoll(want, &e1, 10), b = strtoll(have, &e2, 10);
	if (errno || !*want || !*have || *e1 || *e2)
		return strcmp(want, have) == 0;
	return a == b;
}

static bool is_tagged(json_t *o)
{
	return json_is_object(o) && json_object_size(o) == 2 &&
	       json_is_string(json_object_get(o, "type")) &&
	       json_object_get(o, "value");
}

static bool cmp_json(json_t *want, json_t *have, const char *path,
		     char *why, size_t wsz);

static bool cmp_scalar(json_t *want, json_t *have, const char *path,
		       char *why, size_t wsz)
{
	const char *wt = json_string_value(json_object_get(want, "type"));
	const char *ht = json_string_value(json_object_get(have, "type"));
	if (strcmp(wt, ht) != 0) {
		snprintf(why, wsz, "%s: expected type %s, got %s", path, wt, ht);
		return false;
	}
	json_t *wv = json_object_get(want, "value");
	json_t *hv = json_object_get(have, "value");
	if (json_is_array(wv))		/* old corpora tag arrays too */
		return cmp_json(wv, hv, path, why, wsz);
	const char *w = json_string_value(wv), *h = json_string_value(hv);
	if (!w || !h) {
		snprintf(why, wsz, "%s: value is not a string", path);
		return false;
	}
	bool ok;
	if (strcmp(wt, "float") == 0)
		ok = cmp_float(w, h);
	else if (strcmp(wt, "integer") == 0)
		ok = cmp_integer(w, h);
	else if (strstr(wt, "date") || strstr(wt, "time"))
		ok = cmp_datetime(wt, w, h);
	else
		ok = json_equal(wv, hv);	/* handles embedded NULs */
	if (!ok)
		snprintf(why, wsz, "%s: expected %s %s, got %s", path, wt, w, h);
	return ok;
}

static bool cmp_json(json_t *want, json_t *have, const char *path,
		     char *why, size_t wsz)
{
	char sub[512];
	if (json_is_array(want)) {
		if (!json_is_array(have) ||
		    json_array_size(want) != json_array_size(have)) {
			snprintf(why, wsz, "%s: expected an array of %zu items",
				 path, json_array_size(want));
			return false;
		}
		for (size_t i = 0; i < json_array_size(want); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!cmp_json(json_array_get(want, i),
				      json_array_get(have, i), sub, why, wsz))
				return false;
		}
		return true;
	}
	if (!json_is_object(want) || !json_is_object(have)) {
		snprintf(why, wsz, "%s: expected a table or value", path);
		return false;
	}
	if (is_tagged(want) != is_tagged(have)) {
		snprintf(why, wsz, "%s: expected %s", path,
			 is_tagged(want) ? "a value, got a table"
					 : "a table, got a value");
		return false;
	}
	if (is_tagged(want))
		return cmp_scalar(want, have, path, why, wsz);
	const char *k;
	json_t *v;
	json_object_foreach(have, k, v) {
		if (!json_object_get(want, k)) {
			snprintf(why, wsz, "%s: unexpected key '%s'", path, k);
			return false;
		}
	}
	json_object_foreach(want, k, v) {
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
		json_t *h = json_object_get(have, k);
		if (!h) {
			snprintf(why, wsz, "missing key '%s'", sub);
			return false;
		}
		if (!cmp_json(v, h, sub, why, wsz))
			return false;
	}
	return true;
}

/*
 * jansson refuses NUL in object keys, and TOML keys may hold one.  Both
 * texts get every \u0000 escape replaced by the escape of U+F0000 (private
 * use), after checking that U+F0000 itself occurs in neither text, so no
 * two different strings can compare equal.
 */
static json_t *load_json(const char *text, size_t len, json_error_t *jerr)
{
	static const char marker[] = "\\uDB80\\uDC00";
	json_t *j = NULL;
	char *t = malloc(len * 2 + 1);
	if (!t) {
		snprintf(jerr->text, sizeof(jerr->text), "out of memory");
		return NULL;
	}
	size_t o = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!in_str) {
			in_str = c == '"';
		} else if (c == '"') {
			in_str = false;
		} else if (c == '\\' && i + 1 < len) {
			if (len - i >= 6 && memcmp(text + i, "\\u0000", 6) == 0) {
				memcpy(t + o, marker, 12);
				o += 12;
				i += 5;
				continue;
			}
			if (len - i >= 12 && strncasecmp(text + i, marker, 12) == 0)
				goto clash;
			t[o++] = c;
			c = text[++i];
		} else if (len - i >= 4 && memcmp(text + i, "\xF3\xB0\x80\x80", 4) == 0) {
			goto clash;
		}
		t[o++] = c;
	}
	j = json_loadb(t, o, JSON_ALLOW_NUL, jerr);
	free(t);
	return j;
clash:
	snprintf(jerr->text, sizeof(jerr->text), "U+F0000 present: cannot "
		 "stand in for NUL");
	free(t);
	return NULL;
}

static json_t *load_json_file(const char *path, json_error_t *jerr)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(jerr->text, sizeof(jerr->text), "%s", strerror(errno));
		return NULL;
	}
	struct run r = { 0 };
	int rc = read_fd(fileno(f), &r);
	fclose(f);
	json_t *j = rc ? NULL : load_json(r.out, r.outlen, jerr);
	if (rc)
		snprintf(jerr->text, sizeof(jerr->text), "%s", strerror(-rc));
	free(r.out);
	return j;
}

/* --------------------------------------------------------------- driver */

static bool check_valid(const char *dir, const char *rel, const char *decoder,
			FILE *errf)
{
	char path[4096], jpath[4096], why[1024] = "", line[512];
	struct run r;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(jpath, sizeof(jpath), "%.*s.json", (int)(strlen(path) - 5),
		 path);
	bool ok = false;
	json_error_t jerr;
	json_t *want = load_json_file(jpath, &jerr), *have = NULL;
	int rc = run_decoder(decoder, path, errf, &r);
	if (!want)
		snprintf(why, sizeof(why), "cannot read %s: %s", jpath, jerr.text);
	else if (rc < 0)
		snprintf(why, sizeof(why), "cannot run %s: %s", decoder,
			 strerror(-rc));
	else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 ||
		 sanitizer_report(&r))
		snprintf(why, sizeof(why), "rejected (status 0x%x): %s",
			 (unsigned)r.status, first_line(&r, line, sizeof(line)));
	else if (!(have = load_json(r.out, r.outlen, &jerr)))
		snprintf(why, sizeof(why), "decoder printed bad JSON: %s",
			 jerr.text);
	else
		ok = cmp_json(want, have, "", why, sizeof(why));
	if (!ok)
		printf("FAIL %s: %s\n", rel, why);
	json_decref(want);
	json_decref(have);
	free(r.out);
	return ok;
}

static bool check_invalid(const char *dir, const char *rel,
			  const char *decoder, FILE *errf)
{
	char path[4096], line[512];
	struct run r;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int rc = run_decoder(decoder, path, errf, &r);
	first_line(&r, line, sizeof(line));
	bool ok = false;
	if (rc < 0)
		printf("FAIL %s: cannot run %s: %s\n", rel, decoder,
		       strerror(-rc));
	else if (WIFSIGNALED(r.status))
		printf("FAIL %s: decoder killed by signal %d\n", rel,
		       WTERMSIG(r.status));
	else if (WEXITSTATUS(r.status) == 0)
		printf("FAIL %s: accepted\n", rel);
	else if (sanitizer_report(&r))
		printf("FAIL %s: sanitizer report: %s\n", rel, line);
	else if (WEXITSTATUS(r.status) != 1 || strncmp(line, "line ", 5) != 0)
		printf("FAIL %s: exit status %d, message '%s'\n", rel,
		       WEXITSTATUS(r.status), line);
	else
		ok = true;
	free(r.out);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s <toml-test-dir> <decoder>\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1], *decoder = argv[2];
	char list[4096], line[4096];
	snprintf(list, sizeof(list), "%s/files-toml-1.0.0", dir);
	FILE *f = fopen(list, "r");
	if (!f) {
		printf("SKIP: toml-test corpus not found at %s\n", dir);
		return 77;
	}
	FILE *errf = tmpfile();
	if (!errf) {
		perror("tmpfile");
		return 1;
	}
	unsigned vpass = 0, vtotal = 0, ipass = 0, itotal = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		size_t n = strlen(line);
		if (n < 5 || strcmp(line + n - 5, ".toml") != 0)
			continue;
		if (strncmp(line, "valid/", 6) == 0) {
			vtotal++;
			vpass += check_valid(dir, line, decoder, errf);
		} else if (strncmp(line, "invalid/", 8) == 0) {
			itotal++;
			ipass += check_invalid(dir, line, decoder, errf);
		}
	}
	fclose(f);
	fclose(errf);
	printf("toml-test valid: %u/%u passed, invalid: %u/%u rejected\n",
	       vpass, vtotal, ipass, itotal);
	return vtotal && itotal && vpass == vtotal && ipass == itotal ? 0 : 1;
}
