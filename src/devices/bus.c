/*
 * bus: per-VM port I/O and MMIO dispatch (see bus.h).
 *
 * Ranges are kept sorted by base in a fixed array, so a lookup is a binary
 * search with no lock and no allocation.  Registration happens before any
 * vCPU runs; only the counters change afterwards, and they are atomics.
 *
 * Access rules (what the backends and devices can rely on):
 *  - The device that owns the FIRST byte of an access gets the whole
 *    access, with offset = addr - base and the original size, even when
 *    offset + size runs past the end of its range.  A device must bound-
 *    check offset + size itself (the 16550 splits wide accesses into byte
 *    accesses and ignores bytes past its registers).  An access whose
 *    first byte is unassigned is unassigned as a whole, even if it reaches
 *    into a range.
 *  - Sizes other than 1, 2, 4, 8 are a backend bug: they never reach a
 *    device; they are counted as unassigned, read as all-ones (64 bits)
 *    and writes are dropped.
 *  - Values are masked to the access width both ways: a device never sees
 *    stray high bits in a write, and a sloppy device cannot leak high bits
 *    into a narrow read.
 */
#include "bus.h"

#include <errno.h>
#include <string.h>

#define PIO_SPACE_END 0x10000ull	/* x86 port space is 64 KiB */

static uint64_t width_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static struct bus_space_map *space_map(struct bus *bus, enum bus_space space)
{
	if (space == BUS_PIO)
		return &bus->pio;
	if (space == BUS_MMIO)
		return &bus->mmio;
	return NULL;
}

static const struct bus_space_map *space_map_const(const struct bus *bus,
						   enum bus_space space)
{
	return space_map((struct bus *)bus, space);
}

static const char *space_name(enum bus_space space)
{
	return space == BUS_PIO ? "port" : "MMIO";
}

static uint64_t range_last(const struct bus_range *r)
{
	return r->base + (r->len - 1);
}

static void map_init(struct bus_space_map *m)
{
	m->n = 0;
	atomic_init(&m->unassigned_reads, 0);
	atomic_init(&m->unassigned_writes, 0);
	for (size_t i = 0; i < BUS_MAX_RANGES; i++) {
		struct bus_range *r = &m->ranges[i];
		r->base = r->len = 0;
		r->name = NULL;
		r->ops = NULL;
		r->opaque = NULL;
		atomic_init(&r->reads, 0);
		atomic_init(&r->writes, 0);
	}
}

void bus_init(struct bus *bus)
{
	map_init(&bus->pio);
	map_init(&bus->mmio);
}

/* Ranges hold atomics, so they are moved field by field, not memmove'd. */
static void range_move(struct bus_range *dst, struct bus_range *src)
{
	dst->base = src->base;
	dst->len = src->len;
	dst->name = src->name;
	dst->ops = src->ops;
	dst->opaque = src->opaque;
	atomic_store_explicit(&dst->reads,
			      atomic_load_explicit(&src->reads,
						   memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&dst->writes,
			      atomic_load_explicit(&src->writes,
						   memory_order_relaxed),
			      memory_order_relaxed);
}

/* Index of the first range whose base is > addr (0..n). */
static size_t upper_bound(const struct bus_space_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct bus_range *map_find(const struct bus_space_map *m,
					uint64_t addr)
{
	size_t i = upper_bound(m, addr);

	if (i == 0)
		return NULL;
	const struct bus_range *r = &m->ranges[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

static int check_new_range(enum bus_space space, uint64_t base, uint64_t len,
			   const char *name, const struct bus_device_ops *ops,
			   struct cv_err *err)
{
	const char *sp = space_name(space);

	if (!name)
		name = "(unnamed)";
	if (!ops || !ops->read || !ops->write)
		return cv_err_set(err, EINVAL,
				  "Device \"%s\" has no read/write handlers.",
				  name);
	if (len == 0)
		return cv_err_set(err, EINVAL,
				  "Device \"%s\" has an empty %s range at 0x%llx.",
				  name, sp, (unsigned long long)base);
	if (len - 1 > UINT64_MAX - base)
		return cv_err_set(err, EINVAL,
				  "Device \"%s\" %s range at 0x%llx with length 0x%llx wraps around the address space.",
				  name, sp, (unsigned long long)base,
				  (unsigned long long)len);
	if (space == BUS_PIO && base + (len - 1) >= PIO_SPACE_END)
		return cv_err_set(err, EINVAL,
				  "Device \"%s\" port range 0x%llx-0x%llx goes past the last port 0xffff.",
				  name, (unsigned long long)base,
				  (unsigned long long)(base + (len - 1)));
	return 0;
}

static int overlap_error(enum bus_space space, uint64_t base, uint64_t len,
			 const char *name, const struct bus_range *old,
			 struct cv_err *err)
{
	return cv_err_set(err, EEXIST,
			  "Device \"%s\" %s range 0x%llx-0x%llx overlaps device \"%s\" at 0x%llx-0x%llx.",
			  name ? name : "(unnamed)", space_name(space),
			  (unsigned long long)base,
			  (unsigned long long)(base + (len - 1)),
			  old->name ? old->name : "(unnamed)",
			  (unsigned long long)old->base,
			  (unsigned long long)range_last(old));
}

int bus_register(struct bus *bus, enum bus_space space, uint64_t base,
		 uint64_t len, const char *name,
		 const struct bus_device_ops *ops, void *opaque,
		 struct cv_err *err)
{
	struct bus_space_map *m = bus ? space_map(bus, space) : NULL;
	if (!m)
		return cv_err_set(err, EINVAL,
				  "Device \"%s\" was given no bus or an unknown address space.",
				  name ? name : "(unnamed)");

	int rc = check_new_range(space, base, len, name, ops, err);
	if (rc)
		return rc;

	size_t pos = upper_bound(m, base);
	uint64_t last = base + (len - 1);

	/* Sorted and disjoint: only the two neighbours can overlap. */
	if (pos > 0 && range_last(&m->ranges[pos - 1]) >= base)
		return overlap_error(space, base, len, name,
				     &m->ranges[pos - 1], err);
	if (pos < m->n && m->ranges[pos].base <= last)
		return overlap_error(space, base, len, name, &m->ranges[pos],
				     err);
	if (m->n >= BUS_MAX_RANGES)
		return cv_err_set(err, ENOSPC,
				  "Device \"%s\" cannot be added: the %s bus already has %d ranges.",
				  name ? name : "(unnamed)", space_name(space),
				  BUS_MAX_RANGES);

	for (size_t i = m->n; i > pos; i--)
		range_move(&m->ranges[i], &m->ranges[i - 1]);

	struct bus_range *r = &m->ranges[pos];
	r->base = base;
	r->len = len;
	r->name = name;
	r->ops = ops;
	r->opaque = opaque;
	atomic_store_explicit(&r->reads, 0, memory_order_relaxed);
	atomic_store_explicit(&r->writes, 0, memory_order_relaxed);
	m->n++;
	return 0;
}

int bus_unregister(struct bus *bus, enum bus_space space, uint64_t base)
{
	struct bus_space_map *m = bus ? space_map(bus, space) : NULL;
	if (!m)
		return -EINVAL;

	size_t i = upper_bound(m, base);
	if (i == 0 || m->ranges[i - 1].base != base)
		return -ENOENT;
	for (i = i - 1; i + 1 < m->n; i++)
		range_move(&m->ranges[i], &m->ranges[i + 1]);
	m->n--;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, enum bus_space space,
				 uint64_t addr)
{
	const struct bus_space_map *m = bus ? space_map_const(bus, space) : NULL;
	return m ? map_find(m, addr) : NULL;
}

uint64_t bus_read(struct bus *bus, enum bus_space space, uint64_t addr,
		  unsigned size)
{
	struct bus_space_map *m = space_map(bus, space);
	if (!m)
		return UINT64_MAX;

	struct bus_range *r = valid_size(size)
		? (struct bus_range *)map_find(m, addr) : NULL;
	if (!r) {
		atomic_fetch_add_explicit(&m->unassigned_reads, 1,
					  memory_order_relaxed);
		return valid_size(size) ? width_mask(size) : UINT64_MAX;
	}
	atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
	return r->ops->read(r->opaque, addr - r->base, size) & width_mask(size);
}

enum bus_action bus_write(struct bus *bus, enum bus_space space,
			  uint64_t addr, unsigned size, uint64_t value)
{
	struct bus_space_map *m = space_map(bus, space);
	if (!m)
		return BUS_CONTINUE;

	struct bus_range *r = valid_size(size)
		? (struct bus_range *)map_find(m, addr) : NULL;
	if (!r) {
		atomic_fetch_add_explicit(&m->unassigned_writes, 1,
					  memory_order_relaxed);
		return BUS_CONTINUE;
	}
	atomic_fetch_add_explicit(&r->writes, 1, memory_order_relaxed);
	return r->ops->write(r->opaque, addr - r->base, size,
			     value & width_mask(size));
}
