/*
 * bus: the per-VM address dispatch for port I/O and MMIO, shared by both
 * backends.  Devices register ranges before any vCPU runs; after that the
 * bus is read-only and lookups take no lock (devices lock themselves).
 * Unassigned ports and MMIO read as all-ones; writes are ignored; both are
 * counted.
 */
#ifndef CV_BUS_H
#define CV_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum bus_space { BUS_PIO, BUS_MMIO };

/*
 * Access result: BUS_CONTINUE lets the vCPU go on; BUS_EXIT asks the
 * backend to return from its run call to the VM layer after this access
 * (the device posted a VM event, e.g. debug-exit or power-off).
 */
enum bus_action { BUS_CONTINUE = 0, BUS_EXIT = 1 };

struct bus_device_ops {
	/* offset is relative to the range base; size is 1, 2, 4 or 8 */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	enum bus_action (*write)(void *opaque, uint64_t offset, unsigned size,
				 uint64_t value);
};

struct bus_range {
	uint64_t base, len;
	const char *name;		/* static or owned by the device */
	const struct bus_device_ops *ops;
	void *opaque;
	atomic_uint_least64_t reads, writes;
};

#define BUS_MAX_RANGES 64

struct bus_space_map {
	struct bus_range ranges[BUS_MAX_RANGES];	/* sorted by base */
	size_t n;
	atomic_uint_least64_t unassigned_reads, unassigned_writes;
};

struct bus {
	struct bus_space_map pio, mmio;
};

void bus_init(struct bus *bus);

/* Register [base, base+len); overlapping an existing range is an error. */
int bus_register(struct bus *bus, enum bus_space space, uint64_t base,
		 uint64_t len, const char *name,
		 const struct bus_device_ops *ops, void *opaque,
		 struct cv_err *err);

/*
 * Dispatch one access.  size 1, 2, 4 or 8.  The range holding the first
 * byte gets the whole access, even when it runs past the range's end (the
 * device bounds-checks offset + size); see bus.c for the exact rules.
 */
uint64_t bus_read(struct bus *bus, enum bus_space space, uint64_t addr,
		  unsigned size);
enum bus_action bus_write(struct bus *bus, enum bus_space space,
			  uint64_t addr, unsigned size, uint64_t value);

/* The range holding addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, enum bus_space space,
				 uint64_t addr);

/*
 * Added by devices: remove the range that starts at base (so a device set
 * that fails half-way, or is destroyed, leaves the bus as it found it).
 * Only while no vCPU runs.  0, or -ENOENT when no range starts there.
 */
int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base);

#endif
