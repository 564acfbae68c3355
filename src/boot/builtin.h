/*
 * builtin: guest images compiled into the cvisor binary.  A config with
 * image_location = "memory" names one of them as kernel_path; `cvisor run`
 * with no config boots "demo".  The table is generated at build time from
 * the guests in guests/ (see guests/meson.build).
 */
#ifndef CV_BUILTIN_H
#define CV_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

struct builtin_image {
	const char *name;		/* "demo", "ticker", ... */
	const char *description;
	const uint8_t *data;
	size_t size;
	uint64_t load_addr;		/* where the image expects to live */
	uint64_t entry;
	int cpu_mode;			/* enum vm_cpu_mode */
	/*
	 * Added by boot: a ready-to-load config for the image (the text of
	 * guests/configs/<name>.toml, image_location = "memory"), or NULL.
	 * `cvisor run` with no config feeds demo's to vmcfg_load_string().
	 */
	const char *config_toml;
};

/* NULL when there is no such image. */
const struct builtin_image *builtin_find(const char *name);
/* The table, terminated by an entry with name == NULL. */
const struct builtin_image *builtin_list(void);

#endif
