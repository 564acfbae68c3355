/* hostopts: shared host options, their parsing and the limit check. */
#include "hostopts.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char host_opts_usage[] =
	"  --no-seccomp           run without the per-thread seccomp filters\n"
	"                         (debugging; see docs/security.md)\n"
	"  --max-vms N            refuse VMs beyond N (default 1024)\n"
	"  --max-memory SIZE      refuse a VM when the guest RAM of all VMs\n"
	"                         would pass SIZE (default: host RAM)\n"
	"  --max-vcpus N          refuse VMs with more than N vCPUs (1-64,\n"
	"                         default 64)\n"
	"  --console-log-cap SIZE cap each VM's console.log (default 16M)\n"
	"                         SIZE: bytes, or with K, M, G, T (binary)\n"
	"  --vcpu-nice N          run vCPU threads N nice levels below the\n"
	"                         controlling threads (0-19, default 10; 0:\n"
	"                         equal weight)\n";

static const struct {
	const char *name;
	int kind;		/* 1 flag, 2 value */
} names[] = {
	{ "no-seccomp", 1 }, { "max-vms", 2 }, { "max-memory", 2 },
	{ "max-vcpus", 2 }, { "console-log-cap", 2 }, { "vcpu-nice", 2 },
};

int host_opt_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name))
			return names[i].kind;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix))
			continue;
		if (v > ((uint64_t)INT64_MAX >> units[i].shift))
			return -EINVAL;
		*out = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

void format_size(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (b < 1024) {
		snprintf(buf, len, "%" PRIu64 " byte%s", b, b == 1 ? "" : "s");
		return;
	}
	int u = 0;
	uint64_t div = 1024;
	while (u < 3 && b >= div * 1024) {
		div *= 1024;
		u++;
	}
	if (b % div == 0)
		snprintf(buf, len, "%" PRIu64 " %s", b / div, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)b / (double)div, unit[u]);
}

static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

int host_opt_set(struct host_opts *o, const char *name, const char *value,
		 struct cv_err *err)
{
	int kind = host_opt_kind(name);
	if (!kind)
		return cv_err_set(err, EINVAL, "unknown option '--%s'", name);
	if (kind == 1) {
		if (value)
			return cv_err_set(err, EINVAL, "--%s takes no value",
					  name);
		o->no_seccomp = true;
		return 0;
	}
	if (!value)
		return cv_err_set(err, EINVAL, "--%s needs a value", name);
	uint64_t v = 0;
	char lim[32];
	if (!strcmp(name, "max-vms")) {
		if (parse_count(value, HOST_MAX_VMS_LIMIT, &v) || !v)
			return cv_err_set(err, EINVAL, "--max-vms: expected a "
					  "number from 1 to %u, got '%s'",
					  HOST_MAX_VMS_LIMIT, value);
		o->max_vms = (uint32_t)v;
	} else if (!strcmp(name, "max-vcpus")) {
		if (parse_count(value, VMCFG_MAX_VCPUS, &v) || !v)
			return cv_err_set(err, EINVAL, "--max-vcpus: expected a "
					  "number from 1 to %d, got '%s'",
					  VMCFG_MAX_VCPUS, value);
		o->max_vcpus = (uint32_t)v;
	} else if (!strcmp(name, "vcpu-nice")) {
		if (parse_count(value, HOST_VCPU_NICE_MAX, &v))
			return cv_err_set(err, EINVAL, "--vcpu-nice: expected a "
					  "number from 0 to %d, got '%s'",
					  HOST_VCPU_NICE_MAX, value);
		o->vcpu_nice = (int)v;
		o->vcpu_nice_set = true;
	} else if (!strcmp(name, "max-memory")) {
		format_size(HOST_MEMORY_MIN, lim, sizeof(lim));
		if (parse_size(value, &v) || v < HOST_MEMORY_MIN)
			return cv_err_set(err, EINVAL, "--max-memory: expected a "
					  "size of at least %s (e.g. 4G, 512M), "
					  "got '%s'", lim, value);
		o->max_memory = v;
	} else {
		format_size(HOST_LOG_CAP_MIN, lim, sizeof(lim));
		if (parse_size(value, &v) || v < HOST_LOG_CAP_MIN)
			return cv_err_set(err, EINVAL, "--console-log-cap: "
					  "expected a size of at least %s (e.g. "
					  "16M), got '%s'", lim, value);
		o->console_log_cap = v;
	}
	return 0;
}

int host_opt_argv(struct host_opts *o, int argc, char **argv, int *i,
		  struct cv_err *err)
{
	const char *w = argv[*i];
	if (strncmp(w, "--", 2))
		return 0;
	char name[32];
	const char *eq = strchr(w + 2, '=');
	size_t n = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
	if (n >= sizeof(name))
		return 0;
	memcpy(name, w + 2, n);
	name[n] = '\0';
	int kind = host_opt_kind(name);
	if (!kind)
		return 0;
	const char *val = eq ? eq + 1 : NULL;
	if (kind == 2 && !val) {
		if (*i + 1 >= argc)
			return cv_err_set(err, EINVAL, "--%s needs a value",
					  name);
		val = argv[++*i];
	}
	int rc = host_opt_set(o, name, val, err);
	return rc ? rc : 1;
}

uint32_t host_max_vms(const struct host_opts *o)
{
	return o && o->max_vms ? o->max_vms : HOST_MAX_VMS_DEFAULT;
}

uint64_t host_max_memory(const struct host_opts *o)
{
	if (o && o->max_memory)
		return o->max_memory;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return UINT64_MAX;
	return (uint64_t)pages * (uint64_t)page;
}

uint32_t host_max_vcpus(const struct host_opts *o)
{
	return o && o->max_vcpus ? o->max_vcpus : VMCFG_MAX_VCPUS;
}

uint64_t host_log_cap(const struct host_opts *o)
{
	return o && o->console_log_cap ? o->console_log_cap : 16ull << 20;
}

int host_vcpu_nice(const struct host_opts *o)
{
	return o && o->vcpu_nice_set ? o->vcpu_nice : HOST_VCPU_NICE_DEFAULT;
}

int host_limits_check(const struct host_opts *o, const struct vm_config *cfg,
		      size_t vms_now, uint64_t mem_now, struct cv_err *err)
{
	uint32_t max_vms = host_max_vms(o), max_vcpus = host_max_vcpus(o);
	if (vms_now >= max_vms)
		return cv_err_set(err, ENOSPC, "the number of VMs would be %zu, "
				  "limit %u (--max-vms)", vms_now + 1, max_vms);
	if (cfg->cpu_num > max_vcpus)
		return cv_err_set(err, ENOSPC, "%u vCPU%s, limit %u per VM "
				  "(--max-vcpus)", cfg->cpu_num,
				  cfg->cpu_num == 1 ? "" : "s", max_vcpus);
	uint64_t mem = vmcfg_total_memory(cfg), max = host_max_memory(o);
	uint64_t total = mem > UINT64_MAX - mem_now ? UINT64_MAX : mem + mem_now;
	if (total > max) {
		char a[32], b[32];
		format_size(total, a, sizeof(a));
		format_size(max, b, sizeof(b));
		return cv_err_set(err, ENOSPC, "total guest memory would be %s, "
				  "limit %s (--max-memory)", a, b);
	}
	return 0;
}
