/*
 * store: the daemon's persistent VM definitions — what `cvisor serve`
 * re-creates (in Loaded, autostart ones started) when it starts again.
 *
 * One file per VM, <state_dir>/defs/<id>.json (directories 0700, files
 * 0600), a JSON object:
 *
 *   {"v":1, "id":3, "name":"linux", "autostart":false,
 *    "created":1795622400, "config_path":"/home/u/vms/linux.toml",
 *    "config":"[base]\nid = 3\n..."}
 *
 * - config: the TOML text exactly as the client gave it (re-validated on
 *   every load, so a newer cvisor applies its own rules);
 * - config_path: the absolute path the text came from ("" = none), so that
 *   relative image paths resolve as they did (base dir = its directory;
 *   store_def_base_dir());
 * - created: seconds since the epoch (UTC) when the VM was first defined.
 *
 * Writes are atomic: a temp file ".tmp-<id>-XXXXXX" in the same directory
 * is written, fsync'ed, renamed over <id>.json, then the directory is
 * fsync'ed.  After a crash (kill -9, power loss) every <id>.json is either
 * the old or the new definition, never a mix; leftover temp files are
 * never read as definitions and are removed by store_open().
 *
 * The store knows nothing about the registry.  The daemon's rules, which
 * it must follow to keep the two in step (SPEC §4, issue 7):
 * - `vm create`: registry_add first, then store_put with the id it got
 *   (if store_put fails, delete the VM again and report the failure).
 * - `vm delete ID`: registry_delete, then store_remove(ID) — the
 *   definition always goes; the VM's data directory
 *   (<state_dir>/vms/<id>-<name>/, owned by the registry) is removed by
 *   registry_delete unless --keep-data was given.  The store never touches
 *   <state_dir>/vms.  A crash between the two leaves the definition, so
 *   the VM comes back on restart (a delete is only final once answered).
 * - start-up: store_load_all, then for each definition vmcfg_load_string
 *   with store_def_base_dir(), set cfg.has_id/cfg.id to the stored id and
 *   registry_add (Loaded; then vm_start when autostart); a definition that
 *   no longer validates or loads is reported (log) and left on disk.
 * - data directories under <state_dir>/vms without a definition (a crash
 *   between registry_delete and store_remove with --keep-data, or kept
 *   data) are the registry's business; the store neither lists nor
 *   removes them.
 *
 * Thread-safety: every function may be called from any thread; writes to
 * one store are serialized by its lock (store_set_autostart is an atomic
 * read-modify-write).  Only one process may use a state dir at a time —
 * the daemon enforces that (e.g. with a lock file), not the store.
 */
#ifndef CV_STORE_H
#define CV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_VERSION 1
#define STORE_CONFIG_MAX (1u << 20)	/* the config text, bytes */
#define STORE_FILE_MAX (8u << 20)	/* a definition file, bytes */
#define STORE_NAME_MAX 64		/* bytes, with the NUL */
#define STORE_PATH_MAX 4096		/* config_path, with the NUL */

struct cv_store;

/* One VM definition.  Strings are owned (store_def_fini frees them). */
struct store_def {
	uint32_t id;
	char *name;		/* non-empty, < STORE_NAME_MAX bytes */
	char *config;		/* TOML text, UTF-8, no NUL byte */
	size_t config_len;
	char *config_path;	/* "" or absolute */
	bool autostart;
	int64_t created;	/* seconds since the epoch */
};

/*
 * Open (creating as needed, mode 0700) <state_dir>/defs and remove
 * leftover temp files.  -errno with err filled when the directory cannot
 * be made or read.
 */
int store_open(const char *state_dir, struct cv_store **out,
	       struct cv_err *err);
void store_close(struct cv_store *s);
const char *store_dir(const struct cv_store *s);	/* .../defs */

/*
 * Write (create or replace) the definition of d->id atomically.  d is
 * validated like a decoded one (-EINVAL otherwise).
 */
int store_put(struct cv_store *s, const struct store_def *d,
	      struct cv_err *err);

/* Remove the definition of id (and fsync the directory); -ENOENT if none. */
int store_remove(struct cv_store *s, uint32_t id, struct cv_err *err);

/* Set the autostart flag of id (atomic rewrite); -ENOENT if none. */
int store_set_autostart(struct cv_store *s, uint32_t id, bool on,
			struct cv_err *err);

/* Read the definition of id; -ENOENT if none, -EINVAL if it is corrupt. */
int store_get(struct cv_store *s, uint32_t id, struct store_def *out,
	      struct cv_err *err);

/*
 * Called by store_load_all for each file it skips: file is the name in
 * the defs directory, why one sentence (corrupt JSON, unknown version,
 * id not matching the name, unreadable, not a definition name, ...).
 */
typedef void (*store_skip_fn)(void *ctx, const char *file, const char *why);

/*
 * Read every definition, sorted by id, into a new array (*defs, *n; free
 * with store_defs_free).  A file that cannot be used is reported through
 * skip (may be NULL) and skipped — never fatal.  Hidden files (temp
 * files) are ignored silently.  Fails only when the directory cannot be
 * read or memory runs out.
 */
int store_load_all(struct cv_store *s, struct store_def **defs, size_t *n,
		   store_skip_fn skip, void *ctx, struct cv_err *err);
void store_defs_free(struct store_def *defs, size_t n);

void store_def_fini(struct store_def *d);

/*
 * The file format, pure functions (the decoder is fuzzed):
 * store_def_decode parses and validates buf[0..len) into *out (zeroed
 * first; nothing to free on failure); -EINVAL with the reason in err.
 * store_def_encode returns the file text (malloc'ed, ends with a newline)
 * or NULL (invalid d: err says why, or out of memory).
 */
int store_def_decode(const char *buf, size_t len, struct store_def *out,
		     struct cv_err *err);
char *store_def_encode(const struct store_def *d, size_t *len,
		       struct cv_err *err);

/* The directory relative image paths resolve against ("." when none). */
void store_def_base_dir(const struct store_def *d, char *buf, size_t len);

#endif
