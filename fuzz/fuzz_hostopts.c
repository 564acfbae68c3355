/*
 * fuzz_hostopts: the host option parser (src/vmm/hostopts.c) on arbitrary
 * bytes.  The input is NUL-separated words handed to host_opt_argv() as
 * an argv, the way `cvisor shell`/`serve` parse them; every word is also
 * fed to parse_size().  Checked: an accepted size prints back (decimal)
 * to the same value, accepted options stay within their documented
 * ranges, and a refusal always has a sentence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *argv[64];
	int argc = 0;
	for (char *p = buf; p <= buf + size && argc < 64;) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	for (int i = 0; i < argc; i++) {
		uint64_t v;
		if (parse_size(argv[i], &v) == 0) {
			char txt[32], again[64];
			snprintf(txt, sizeof(txt), "%llu", (unsigned long long)v);
			uint64_t w = 0;
			if (parse_size(txt, &w) || w != v)
				abort();
			format_size(v, again, sizeof(again));
		}
	}
	struct host_opts o = {0};
	for (int i = 0; i < argc; i++) {
		struct cv_err e = {0};
		int rc = host_opt_argv(&o, argc, argv, &i, &e);
		if (rc < 0 && !e.msg[0])
			abort();
	}
	if (o.max_vms > HOST_MAX_VMS_LIMIT || o.max_vcpus > VMCFG_MAX_VCPUS ||
	    (o.max_memory && o.max_memory < HOST_MEMORY_MIN) ||
	    (o.console_log_cap && o.console_log_cap < HOST_LOG_CAP_MIN) ||
	    (o.vcpu_nice_set && (o.vcpu_nice < 0 ||
				 o.vcpu_nice > HOST_VCPU_NICE_MAX)) ||
	    host_vcpu_nice(&o) < 0 || host_vcpu_nice(&o) > HOST_VCPU_NICE_MAX)
		abort();
	free(buf);
	return 0;
}
