/*
 * shtest: helpers for the shell's cmocka tests — a registry + session in a
 * fresh state directory on the backend named by $CVISOR_TEST_ACCEL (emu by
 * default; exit 77 when it is unusable), commands run through the real
 * command layer with their output captured, guest console capture, and
 * process resource counters.
 */
#ifndef CV_SHTEST_H
#define CV_SHTEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "registry.h"
#include "shell.h"

struct shtest {
	char dir[256];		/* temp dir; state dir = <dir>/state */
	char state[300];
	struct registry *reg;
	struct shell *sh;
	char *out, *err;	/* output of the last sht_run */
	int status;
};

struct sht_opts {
	bool color;
	bool no_state_dir;
	void (*loading_hook)(void *ctx, uint32_t id);
	void *hook_ctx;
};

const char *sht_accel_name(void);
enum vm_accel sht_accel(void);
/* Skips (exit 77) when the backend under test is unusable. */
void sht_require_backend(void);

void sht_setup(struct shtest *t, const struct sht_opts *o);
void sht_teardown(struct shtest *t);

/* Run a command line; t->out/t->err hold its output.  Returns status. */
int sht_run(struct shtest *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* guests/configs/<name>.toml (absolute). */
const char *sht_cfg(const char *name);
/* A config written to <dir>/<file> with this text; returns its path. */
const char *sht_write(struct shtest *t, const char *file, const char *text);

/*
 * Console capture of a registered VM (capture.h), holding a reference to
 * it until cap_detach.
 */
void cap_attach(struct capture *c, struct registry *reg, uint32_t id);
void cap_detach(struct capture *c);

bool sht_path_exists(const char *path);

#endif
