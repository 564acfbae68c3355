/*
 * vminfo: one consistent view of a registered VM (state and vCPU states
 * read together) for `vm list`, `vm show` and `vm stats`, plus the pieces
 * of `show` that `stats` shares.
 */
#ifndef CV_SH_VMINFO_H
#define CV_SH_VMINFO_H

#include <jansson.h>
#include <stdint.h>

#include "registry.h"
#include "shell_int.h"
#include "vm.h"

struct sh_vm_view {
	uint32_t id;
	const char *name;
	enum vm_state state;
	unsigned ncpu;
	struct vm_vcpu_info *vcpus;	/* ncpu entries */
	uint64_t mem_bytes;		/* RAM regions */
	unsigned mem_regions;
	int exit_code;			/* -1: none */
	struct vm *vm;			/* NULL while Loading */
};

/* regs: also the parked vCPUs' registers (for show --full). */
int sh_view_get(struct reg_vm *v, struct sh_vm_view *out, bool regs);
void sh_view_free(struct sh_vm_view *view);

/* vCPUs per enum vcpu_state. */
void sh_view_counts(const struct sh_vm_view *view,
		    unsigned counts[VCPU_BLOCKED + 1]);

/* "Run:2,Blk:1" */
void sh_view_state_summary(const struct sh_vm_view *view, char *buf,
			   size_t len);

/* Per-vCPU exit counters summed. */
void sh_view_exit_totals(const struct sh_vm_view *view,
			 struct vm_vcpu_info *sum);

/* The list row of SPEC §2's JSON (plus cvisor's extra fields). */
json_t *sh_view_json_row(const struct sh_vm_view *view);

#endif
