/*
 * hostopts: the host-side options every front end shares — `cvisor run`,
 * the shell modes and the daemon (`cvisor serve`): seccomp on/off and the
 * resource limits of SPEC §5 (VM count, total guest memory, vCPUs per VM,
 * console log size).  One struct, one parser for the option values (sizes
 * with K/M/G/T suffixes), one check that refuses a VM with a sentence
 * naming the limit and its option, so every front end says the same.
 */
#ifndef CV_HOSTOPTS_H
#define CV_HOSTOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "vmconfig.h"

#define HOST_MAX_VMS_DEFAULT 1024u
#define HOST_MAX_VMS_LIMIT 65536u
#define HOST_LOG_CAP_MIN (4ull << 10)
#define HOST_MEMORY_MIN (1ull << 20)
#define HOST_VCPU_NICE_MAX 19
/* vCPU threads' nice above their creator's (README "vCPU scheduling") */
#define HOST_VCPU_NICE_DEFAULT 10

struct host_opts {
	bool no_seccomp;		/* --no-seccomp */
	uint32_t max_vms;		/* --max-vms; 0 = 1024 */
	uint64_t max_memory;		/* --max-memory, all VMs; 0 = host RAM */
	uint32_t max_vcpus;		/* --max-vcpus, per VM; 0 = 64 */
	uint64_t console_log_cap;	/* --console-log-cap; 0 = 16 MiB */
	bool vcpu_nice_set;		/* --vcpu-nice given */
	int vcpu_nice;			/* its value, 0-19 */
};

/*
 * Is `name` (without the leading "--", e.g. "max-memory") one of these
 * options?  Returns 0 = no, 1 = a flag, 2 = takes a value.
 */
int host_opt_kind(const char *name);

/*
 * Apply option `name` with value (NULL for a flag).  -EINVAL with a
 * sentence naming the option, what it expects and what it got.
 */
int host_opt_set(struct host_opts *o, const char *name, const char *value,
		 struct cv_err *err);

/*
 * For hand-written argv loops: when argv[*i] is one of these options
 * ("--max-vms 4" or "--max-vms=4"), apply it (consuming its value) and
 * return 1; 0 when it is not; -EINVAL with err filled when it is bad.
 */
int host_opt_argv(struct host_opts *o, int argc, char **argv, int *i,
		  struct cv_err *err);

/* The usage lines of these options (indented two spaces). */
extern const char host_opts_usage[];

/* The effective limits (defaults filled in). */
uint32_t host_max_vms(const struct host_opts *o);
uint64_t host_max_memory(const struct host_opts *o);
uint32_t host_max_vcpus(const struct host_opts *o);
uint64_t host_log_cap(const struct host_opts *o);
/* --vcpu-nice, else HOST_VCPU_NICE_DEFAULT. */
int host_vcpu_nice(const struct host_opts *o);

/*
 * May a VM with config cfg be added to vms_now VMs using mem_now bytes of
 * guest RAM?  0, or -ENOSPC with a sentence like "total guest memory would
 * be 5 GiB, limit 4 GiB (--max-memory)".
 */
int host_limits_check(const struct host_opts *o, const struct vm_config *cfg,
		      size_t vms_now, uint64_t mem_now, struct cv_err *err);

/*
 * "16M", "4G", "512KiB", "1t", "4096": binary units, bytes without a
 * suffix.  0 or -EINVAL (also on overflow past 2^63).
 */
int parse_size(const char *s, uint64_t *out);

/* "4 GiB", "1.5 GiB", "512 MiB", "12 KiB", "100 bytes". */
void format_size(uint64_t bytes, char *buf, size_t len);

#endif
