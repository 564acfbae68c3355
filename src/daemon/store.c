/*
 * store: VM definitions on disk, one JSON file per VM, written atomically
 * (see store.h for the format and the rules the daemon follows).
 *
 * Locking: s->lock serializes every write (put, remove, set_autostart) so
 * a read-modify-write never loses a concurrent update; reads take it too,
 * which keeps them simple and costs nothing at the daemon's rates.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fsutil.h"

#define TMP_PREFIX ".tmp-"

struct cv_store {
	pthread_mutex_t lock;
	int dir_fd;
	char dir[PATH_MAX];
};

/* ---- the file format ---------------------------------------------------- */

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return true;
	return false;
}

static int validate(const struct store_def *d, struct cv_err *err)
{
	if (!d->name || !d->name[0])
		return cv_err_set(err, EINVAL, "the name is empty");
	if (strlen(d->name) >= STORE_NAME_MAX)
		return cv_err_set(err, EINVAL,
				  "the name is longer than %u bytes",
				  STORE_NAME_MAX - 1);
	if (has_ctl(d->name))
		return cv_err_set(err, EINVAL,
				  "the name contains a control character");
	if (!d->config)
		return cv_err_set(err, EINVAL, "the config text is missing");
	if (d->config_len > STORE_CONFIG_MAX)
		return cv_err_set(err, EINVAL,
				  "the config text is larger than %u bytes",
				  STORE_CONFIG_MAX);
	if (memchr(d->config, '\0', d->config_len))
		return cv_err_set(err, EINVAL,
				  "the config text contains a NUL byte");
	const char *p = d->config_path ? d->config_path : "";
	if (strlen(p) >= STORE_PATH_MAX)
		return cv_err_set(err, EINVAL, "config_path is too long");
	if (p[0] && p[0] != '/')
		return cv_err_set(err, EINVAL,
				  "config_path '%s' is not absolute", p);
	if (has_ctl(p))
		return cv_err_set(err, EINVAL,
				  "config_path contains a control character");
	return 0;
}

char *store_def_encode(const struct store_def *d, size_t *len,
		       struct cv_err *err)
{
	if (validate(d, err))
		return NULL;
	json_t *cfg = json_stringn(d->config, d->config_len);
	if (!cfg) {
		cv_err_set(err, EINVAL, "the config text is not valid UTF-8");
		return NULL;
	}
	json_t *name = json_string(d->name);
	json_t *path = json_string(d->config_path ? d->config_path : "");
	if (!name || !path) {
		json_decref(cfg);
		json_decref(name);
		json_decref(path);
		cv_err_set(err, EINVAL,
			   "the name or config_path is not valid UTF-8");
		return NULL;
	}
	json_t *o = json_pack("{s:i, s:I, s:o, s:b, s:I, s:o, s:o}",
			      "v", STORE_VERSION, "id", (json_int_t)d->id,
			      "name", name, "autostart", d->autostart,
			      "created", (json_int_t)d->created,
			      "config_path", path, "config", cfg);
	if (!o) {
		cv_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(o);
	if (!text) {
		cv_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	size_t n = strlen(text);
	char *out = realloc(text, n + 2);
	if (!out) {
		free(text);
		cv_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return out;
}

static const char *const known_keys[] = {
	"v", "id", "name", "autostart", "created", "config_path", "config",
};

static int get_string(json_t *o, const char *key, char **out, size_t *len,
		      struct cv_err *err)
{
	json_t *j = json_object_get(o, key);
	if (!j)
		return cv_err_set(err, EINVAL, "'%s' is missing", key);
	if (!json_is_string(j))
		return cv_err_set(err, EINVAL, "'%s' is not a string", key);
	size_t n = json_string_length(j);
	const char *s = json_string_value(j);
	if (memchr(s, '\0', n))
		return cv_err_set(err, EINVAL, "'%s' contains a NUL byte", key);
	*out = malloc(n + 1);
	if (!*out)
		return cv_err_set(err, ENOMEM, "out of memory");
	memcpy(*out, s, n + 1);
	if (len)
		*len = n;
	return 0;
}

static int get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi,
		   json_int_t *out, struct cv_err *err)
{
	json_t *j = json_object_get(o, key);
	if (!j)
		return cv_err_set(err, EINVAL, "'%s' is missing", key);
	if (!json_is_integer(j))
		return cv_err_set(err, EINVAL, "'%s' is not an integer", key);
	json_int_t v = json_integer_value(j);
	if (v < lo || v > hi)
		return cv_err_set(err, EINVAL, "'%s' is out of range", key);
	*out = v;
	return 0;
}

static int decode_object(json_t *o, struct store_def *d, struct cv_err *err)
{
	if (!json_is_object(o))
		return cv_err_set(err, EINVAL, "not a JSON object");
	json_int_t v;
	json_t *jv = json_object_get(o, "v");
	if (!jv || !json_is_integer(jv))
		return cv_err_set(err, EINVAL,
				  "no format version ('v') in the file");
	v = json_integer_value(jv);
	if (v != STORE_VERSION)
		return cv_err_set(err, EINVAL,
				  "unknown format version %" JSON_INTEGER_FORMAT
				  " (this cvisor reads version %d)", v,
				  STORE_VERSION);
	const char *key;
	json_t *val;
	json_object_foreach(o, key, val) {
		bool known = false;
		for (size_t i = 0; i < sizeof(known_keys) / sizeof(*known_keys);
		     i++)
			known |= !strcmp(key, known_keys[i]);
		if (!known)
			return cv_err_set(err, EINVAL, "unknown key '%s'", key);
	}
	json_int_t id = 0, created = 0;
	int rc = get_int(o, "id", 0, UINT32_MAX, &id, err);
	if (!rc)
		rc = get_int(o, "created", INT64_MIN, INT64_MAX, &created, err);
	if (rc)
		return rc;
	json_t *as = json_object_get(o, "autostart");
	if (!as)
		return cv_err_set(err, EINVAL, "'autostart' is missing");
	if (!json_is_boolean(as))
		return cv_err_set(err, EINVAL, "'autostart' is not a boolean");
	d->id = (uint32_t)id;
	d->created = (int64_t)created;
	d->autostart = json_is_true(as);
	rc = get_string(o, "name", &d->name, NULL, err);
	if (!rc)
		rc = get_string(o, "config_path", &d->config_path, NULL, err);
	if (!rc)
		rc = get_string(o, "config", &d->config, &d->config_len, err);
	if (!rc)
		rc = validate(d, err);
	return rc;
}

int store_def_decode(const char *buf, size_t len, struct store_def *out,
		     struct cv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len > STORE_FILE_MAX)
		return cv_err_set(err, EINVAL, "larger than %u bytes",
				  STORE_FILE_MAX);
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return cv_err_set(err, EINVAL, "not valid JSON (line %d: %s)",
				  je.line, je.text);
	int rc = decode_object(o, out, err);
	json_decref(o);
	if (rc)
		store_def_fini(out);
	return rc;
}

void store_def_fini(struct store_def *d)
{
	free(d->name);
	free(d->config);
	free(d->config_path);
	memset(d, 0, sizeof(*d));
}

void store_defs_free(struct store_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_def_fini(&defs[i]);
	free(defs);
}

void store_def_base_dir(const struct store_def *d, char *buf, size_t len)
{
	const char *p = d->config_path ? d->config_path : "";
	const char *slash = strrchr(p, '/');
	if (!slash) {
		snprintf(buf, len, ".");
		return;
	}
	size_t n = (size_t)(slash - p);
	if (n == 0)
		n = 1;			/* "/x.toml" -> "/" */
	snprintf(buf, len, "%.*s", (int)n, p);
}

/* ---- files -------------------------------------------------------------- */

/* "<digits>.json" without leading zeros, id <= UINT32_MAX. */
static bool def_name(const char *name, uint32_t *id)
{
	size_t n = strspn(name, "0123456789");
	if (n == 0 || n > 10 || strcmp(name + n, ".json") ||
	    (name[0] == '0' && n > 1))
		return false;
	unsigned long long v = strtoull(name, NULL, 10);
	if (v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* Read a whole definition file relative to the store directory. */
static int read_file_at(int dir_fd, const char *name, char **buf,
			size_t *len, struct cv_err *err)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
				      O_NONBLOCK);
	if (fd < 0)
		return cv_err_set(err, errno, "cannot open: %s",
				  strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st)) {
		rc = cv_err_set(err, errno, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = cv_err_set(err, EINVAL, "not a regular file");
	} else if ((uint64_t)st.st_size > STORE_FILE_MAX) {
		rc = cv_err_set(err, EFBIG, "larger than %u bytes",
				STORE_FILE_MAX);
	}
	if (rc) {
		close(fd);
		return rc;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *b = malloc(cap);
	if (!b) {
		close(fd);
		return cv_err_set(err, ENOMEM, "out of memory");
	}
	for (;;) {
		if (n == cap) {		/* grew since fstat */
			if (cap > STORE_FILE_MAX) {
				rc = cv_err_set(err, EFBIG,
						"larger than %u bytes",
						STORE_FILE_MAX);
				break;
			}
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				rc = cv_err_set(err, ENOMEM, "out of memory");
				break;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cv_err_set(err, errno, "cannot read: %s",
					strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Read and decode <id>.json; the id inside must match the file name. */
static int load_def(struct cv_store *s, const char *name, uint32_t id,
		    struct store_def *d, struct cv_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	memset(d, 0, sizeof(*d));
	int rc = read_file_at(s->dir_fd, name, &buf, &len, err);
	if (rc)
		return rc;
	rc = store_def_decode(buf, len, d, err);
	free(buf);
	if (!rc && d->id != id) {
		rc = cv_err_set(err, EINVAL,
				"it defines VM %u, not VM %u as its name says",
				d->id, id);
		store_def_fini(d);
	}
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sync_dir(struct cv_store *s, struct cv_err *err)
{
	int fe = CV_FAULT("store.fsync");
	if (fe ? (errno = fe, 1) : fsync(s->dir_fd))
		return cv_err_set(err, errno, "cannot sync %s: %s", s->dir,
				  strerror(errno));
	return 0;
}

/* temp file, write, fsync, rename, fsync the directory (lock held) */
static int put_locked(struct cv_store *s, const struct store_def *d,
		      struct cv_err *err)
{
	size_t len;
	char *text = store_def_encode(d, &len, err);
	if (!text)
		return -(err && err->code ? err->code : EINVAL);
	char tmp[PATH_MAX], dst[32];
	snprintf(dst, sizeof(dst), "%" PRIu32 ".json", d->id);
	int n = snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%" PRIu32
			 "-XXXXXX", s->dir, d->id);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		free(text);
		return cv_err_set(err, ENAMETOOLONG, "the path %s is too long",
				  s->dir);
	}
	int fe = CV_FAULT("store.open");
	int fd = fe ? (errno = fe, -1) : mkostemp(tmp, O_CLOEXEC); /* 0600 */
	if (fd < 0) {
		int e = errno;
		free(text);
		return cv_err_set(err, e, "cannot create a file in %s: %s",
				  s->dir, strerror(e));
	}
	fe = CV_FAULT("store.write");
	int rc = fe ? -fe : write_all(fd, text, len);
	free(text);
	if (rc)
		cv_err_set(err, -rc, "cannot write %s: %s", tmp, strerror(-rc));
	if (!rc && ((fe = CV_FAULT("store.fsync")) ? (errno = fe, 1) : fsync(fd)))
		rc = cv_err_set(err, errno, "cannot sync %s: %s", tmp,
				strerror(errno));
	if (close(fd) && !rc)
		rc = cv_err_set(err, errno, "cannot write %s: %s", tmp,
				strerror(errno));
	const char *base = strrchr(tmp, '/') + 1;
	if (!rc && ((fe = CV_FAULT("store.rename")) ? (errno = fe, 1)
		    : renameat(s->dir_fd, base, s->dir_fd, dst)))
		rc = cv_err_set(err, errno, "cannot rename %s to %s: %s", tmp,
				dst, strerror(errno));
	if (rc) {
		unlinkat(s->dir_fd, base, 0);
		return rc;
	}
	return sync_dir(s, err);
}

/* ---- the store ---------------------------------------------------------- */

static void remove_temp_files(struct cv_store *s)
{
	int fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			unlinkat(s->dir_fd, e->d_name, 0);
	closedir(d);
}

int store_open(const char *state_dir, struct cv_store **out,
	       struct cv_err *err)
{
	*out = NULL;
	if (!state_dir || !state_dir[0])
		return cv_err_set(err, EINVAL, "no state directory");
	struct cv_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cv_err_set(err, ENOMEM, "out of memory");
	s->dir_fd = -1;
	int n = snprintf(s->dir, sizeof(s->dir), "%s/defs", state_dir);
	int rc = 0;
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		rc = cv_err_set(err, ENAMETOOLONG,
				"the state directory path is too long");
	if (!rc)
		rc = cv_mkdir_p(s->dir, err);
	if (!rc) {
		s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dir_fd < 0)
			rc = cv_err_set(err, errno, "cannot open %s: %s",
					s->dir, strerror(errno));
	}
	struct stat st;
	if (!rc && fstat(s->dir_fd, &st))
		rc = cv_err_set(err, errno, "cannot stat %s: %s", s->dir,
				strerror(errno));
	/* definitions hold configs: only the owner may read them */
	if (!rc && (st.st_mode & 077) && fchmod(s->dir_fd, 0700))
		rc = cv_err_set(err, errno, "cannot make %s private: %s",
				s->dir, strerror(errno));
	if (rc) {
		if (s->dir_fd >= 0)
			close(s->dir_fd);
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->lock, NULL);
	remove_temp_files(s);
	*out = s;
	return 0;
}

void store_close(struct cv_store *s)
{
	if (!s)
		return;
	close(s->dir_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *store_dir(const struct cv_store *s)
{
	return s->dir;
}

int store_put(struct cv_store *s, const struct store_def *d,
	      struct cv_err *err)
{
	pthread_mutex_lock(&s->lock);
	int rc = put_locked(s, d, err);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_remove(struct cv_store *s, uint32_t id, struct cv_err *err)
{
	char name[32];
	snprintf(name, sizeof(name), "%" PRIu32 ".json", id);
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	if (unlinkat(s->dir_fd, name, 0))
		rc = errno == ENOENT
		     ? cv_err_set(err, ENOENT, "VM %u has no definition", id)
		     : cv_err_set(err, errno, "cannot remove %s/%s: %s",
				  s->dir, name, strerror(errno));
	if (!rc)
		rc = sync_dir(s, err);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int get_locked(struct cv_store *s, uint32_t id, struct store_def *d,
		      struct cv_err *err)
{
	char name[32];
	snprintf(name, sizeof(name), "%" PRIu32 ".json", id);
	int rc = load_def(s, name, id, d, err);
	if (rc == -ENOENT)
		return cv_err_set(err, ENOENT, "VM %u has no definition", id);
	if (rc)
		cv_err_prefix(err, "%s/%s", s->dir, name);
	return rc;
}

int store_get(struct cv_store *s, uint32_t id, struct store_def *out,
	      struct cv_err *err)
{
	pthread_mutex_lock(&s->lock);
	int rc = get_locked(s, id, out, err);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_set_autostart(struct cv_store *s, uint32_t id, bool on,
			struct cv_err *err)
{
	struct store_def d;
	pthread_mutex_lock(&s->lock);
	int rc = get_locked(s, id, &d, err);
	if (!rc && d.autostart != on) {
		d.autostart = on;
		rc = put_locked(s, &d, err);
	}
	store_def_fini(&d);	/* zeroed by load_def even on failure */
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int cmp_def(const void *a, const void *b)
{
	const struct store_def *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

int store_load_all(struct cv_store *s, struct store_def **defs, size_t *n,
		   store_skip_fn skip, void *ctx, struct cv_err *err)
{
	*defs = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	int fd = fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&s->lock);
		return cv_err_set(err, e, "cannot read %s: %s", s->dir,
				  strerror(e));
	}
	rewinddir(dir);		/* the dup shares the offset */
	struct store_def *a = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(dir))) {
		const char *name = e->d_name;
		uint32_t id;
		if (name[0] == '.')
			continue;	/* ., .., temp files */
		if (!def_name(name, &id)) {
			if (skip)
				skip(ctx, name, "not a definition file name "
				     "(expected <id>.json)");
			continue;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_def *na = realloc(a, ncap * sizeof(*na));
			if (!na) {
				rc = cv_err_set(err, ENOMEM, "out of memory");
				break;
			}
			a = na;
			cap = ncap;
		}
		struct cv_err why = {0};
		int r = load_def(s, name, id, &a[count], &why);
		if (r == -ENOMEM) {
			rc = cv_err_set(err, ENOMEM, "out of memory");
		} else if (r == -ENOENT) {
			continue;	/* removed meanwhile */
		} else if (r) {
			if (skip)
				skip(ctx, name, why.msg);
		} else {
			count++;
		}
	}
	closedir(dir);
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		store_defs_free(a, count);
		return rc;
	}
	if (count)
		qsort(a, count, sizeof(*a), cmp_def);
	*defs = a;
	*n = count;
	return 0;
}
