/* store: VM definitions on disk (see store.h).  STUB: not implemented yet. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int store_open(const char *state_dir, struct cv_store **out,
	       struct cv_err *err)
{
	(void)state_dir;
	*out = NULL;
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

void store_close(struct cv_store *s) { (void)s; }
const char *store_dir(const struct cv_store *s) { (void)s; return ""; }

int store_put(struct cv_store *s, const struct store_def *d,
	      struct cv_err *err)
{
	(void)s; (void)d;
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

int store_remove(struct cv_store *s, uint32_t id, struct cv_err *err)
{
	(void)s; (void)id;
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

int store_set_autostart(struct cv_store *s, uint32_t id, bool on,
			struct cv_err *err)
{
	(void)s; (void)id; (void)on;
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

int store_get(struct cv_store *s, uint32_t id, struct store_def *out,
	      struct cv_err *err)
{
	(void)s; (void)id;
	memset(out, 0, sizeof(*out));
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

int store_load_all(struct cv_store *s, struct store_def **defs, size_t *n,
		   store_skip_fn skip, void *ctx, struct cv_err *err)
{
	(void)s; (void)skip; (void)ctx;
	*defs = NULL;
	*n = 0;
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

void store_defs_free(struct store_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_def_fini(&defs[i]);
	free(defs);
}

void store_def_fini(struct store_def *d)
{
	free(d->name);
	free(d->config);
	free(d->config_path);
	memset(d, 0, sizeof(*d));
}

int store_def_decode(const char *buf, size_t len, struct store_def *out,
		     struct cv_err *err)
{
	(void)buf; (void)len;
	memset(out, 0, sizeof(*out));
	return cv_err_set(err, ENOSYS, "store: not implemented yet");
}

char *store_def_encode(const struct store_def *d, size_t *len,
		       struct cv_err *err)
{
	(void)d; (void)len;
	cv_err_set(err, ENOSYS, "store: not implemented yet");
	return NULL;
}

void store_def_base_dir(const struct store_def *d, char *buf, size_t len)
{
	(void)d;
	snprintf(buf, len, ".");
}
