/*
 * fuzz_vmconfig: libFuzzer target for the VM config loader.  Besides "no
 * crash, no leak, no UB" it checks the loader's contract on every input:
 * it succeeds exactly when it reported no error, and a valid config prints
 * as TOML that loads again and prints identically (a fixed point).
 *
 * Images resolve against FUZZ_CFG_DIR (tests/config/cfg), so the fuzzer
 * can reach valid configs that name its small images.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmconfig.h"

#ifndef FUZZ_CFG_DIR
#define FUZZ_CFG_DIR "/nonexistent"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print_cfg(const struct vm_config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	vmcfg_print(f, cfg);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* Returns 0; traps when the contract is broken. */
static int check_round_trip(const struct vm_config *cfg)
{
	size_t len1 = 0, len2 = 0;
	char *text1 = print_cfg(cfg, &len1), *text2 = NULL;
	struct vm_config *again = malloc(sizeof(*again));
	struct vmcfg_diags d = { 0 };

	if (text1 && again) {
		if (vmcfg_load_string(text1, len1, "printed.toml", "/", again,
				      &d, NULL) != 0 || d.n_errors)
			__builtin_trap();	/* printed config does not load */
		text2 = print_cfg(again, &len2);
		if (text2 && (len1 != len2 || memcmp(text1, text2, len1)))
			__builtin_trap();	/* printing is not a fixed point */
	}
	vmcfg_diags_free(&d);
	free(text1);
	free(text2);
	free(again);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	struct vmcfg_diags d = { 0 };

	if (!cfg)
		return 0;
	int ret = vmcfg_load_string((const char *)data, size, "fuzz.toml",
				    FUZZ_CFG_DIR, cfg, &d, NULL);
	if (ret != -ENOMEM && (ret == 0) != (d.n_errors == 0))
		__builtin_trap();
	for (size_t i = 0; i < d.n; i++)
		if (!d.items[i].msg[0] || memchr(d.items[i].msg, '\n',
						 strlen(d.items[i].msg)))
			__builtin_trap();	/* one sentence on one line */
	if (ret == 0)
		check_round_trip(cfg);
	vmcfg_diags_free(&d);
	free(cfg);
	return 0;
}
