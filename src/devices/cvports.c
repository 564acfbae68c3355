/*
 * cvports: debug-exit, boot port, shutdown-request port and the i8042
 * stub (see cvports.h).
 *
 * The simple ports are lock-free atomics (the boot port is hit by Linux's
 * io_delay in tight loops).  The i8042 keeps a little state machine
 * (pending command, output buffer) under its own mutex.
 */
#include "cvports.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* i8042 controller commands and bits this stub understands */
#define KBC_READ_CTR 0x20
#define KBC_WRITE_CTR 0x60
#define KBC_AUX_DISABLE 0xa7
#define KBC_AUX_ENABLE 0xa8
#define KBC_AUX_TEST 0xa9
#define KBC_SELF_TEST 0xaa
#define KBC_KBD_TEST 0xab
#define KBC_KBD_DISABLE 0xad
#define KBC_KBD_ENABLE 0xae
#define KBC_READ_OUTPORT 0xd0
#define KBC_WRITE_OUTPORT 0xd1
#define KBC_WRITE_KBD_OUT 0xd2
#define KBC_WRITE_AUX_OUT 0xd3
#define KBC_WRITE_AUX 0xd4
#define KBC_PULSE_FIRST 0xf0	/* 0xf0-0xff pulse output lines low */

#define CTR_KBD_DISABLED 0x10
#define CTR_AUX_DISABLED 0x20
#define CTR_DEFAULT 0x45	/* kbd int, system flag, translate */
#define OUTPORT_RESET_LINE 0x01	/* active low */
#define OUTPORT_DEFAULT 0x03	/* not in reset, A20 on */
#define SELF_TEST_OK 0x55
#define NO_AUX_DEVICE 0xff

struct i8042 {
	pthread_mutex_t lock;
	uint8_t status, ctr, outport;
	uint8_t out;		/* output buffer (valid while STR_OBF) */
	uint8_t pending;	/* command waiting for its data byte, 0 = none */
};

struct cvports {
	struct vm_event_sink sink;
	atomic_bool shutdown;
	atomic_int exit_code;	/* -1 = none */

	atomic_uint_least64_t boot_writes, boot_first_ns;
	atomic_uint boot_last_value;
	atomic_uint_least64_t start_ns;

	struct i8042 kbc;
};

uint64_t cvports_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void post(struct cvports *p, enum vm_event_kind kind, int arg)
{
	if (p->sink.post)
		p->sink.post(p->sink.ctx, kind, arg);
}

/* ---- 0xf4 debug-exit ---------------------------------------------------- */

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque, (void)offset, (void)size;
	return 0;
}

static enum bus_action debug_exit_write(void *opaque, uint64_t offset,
					unsigned size, uint64_t value)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return BUS_CONTINUE;
	int code = (int)(value & 0xff);
	atomic_store(&p->exit_code, code);
	post(p, VM_EVENT_DEBUG_EXIT, code);
	return BUS_EXIT;
}

const struct bus_device_ops cvports_debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

/* ---- 0x80 boot port ----------------------------------------------------- */

static uint64_t boot_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cvports *p = opaque;
	(void)size;
	return offset == 0 ? atomic_load(&p->boot_last_value) : 0;
}

static enum bus_action boot_write(void *opaque, uint64_t offset,
				  unsigned size, uint64_t value)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return BUS_CONTINUE;
	/*
	 * Only the first write is timestamped (the boot time): a clock read
	 * per write would be a system call per exit wherever the vDSO cannot
	 * read the clock source, and Linux's outb_p() writes here after every
	 * slow port access.  Plain load first: the CAS (a locked op) only
	 * until the first write.
	 */
	if (atomic_load_explicit(&p->boot_first_ns, memory_order_relaxed) == 0) {
		uint64_t now = cvports_now_ns(), zero = 0;
		if (now == 0)
			now = 1;	/* 0 means "no write yet" */
		atomic_compare_exchange_strong(&p->boot_first_ns, &zero, now);
	}
	atomic_store_explicit(&p->boot_last_value, (unsigned)(value & 0xff),
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&p->boot_writes, 1, memory_order_relaxed);
	return BUS_CONTINUE;
}

const struct bus_device_ops cvports_boot_ops = {
	.read = boot_read,
	.write = boot_write,
};

/* ---- 0x5f0 shutdown request ----------------------------------------------- */

static uint64_t shutdown_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cvports *p = opaque;
	(void)size;

	/* A 32-bit register holding 0 or 1: byte 0 carries the flag, so any
	 * width read at 0x5f0 is the flag zero-extended. */
	return offset == 0 && atomic_load(&p->shutdown) ? 1 : 0;
}

static enum bus_action shutdown_write(void *opaque, uint64_t offset,
				      unsigned size, uint64_t value)
{
	(void)opaque, (void)offset, (void)size, (void)value;
	return BUS_CONTINUE;
}

const struct bus_device_ops cvports_shutdown_ops = {
	.read = shutdown_read,
	.write = shutdown_write,
};

/* ---- i8042 ------------------------------------------------------------------ */

static void kbc_reset_locked(struct i8042 *k)
{
	k->status = I8042_STR_SYS | I8042_STR_CMD | I8042_STR_UNLOCKED;
	k->ctr = CTR_DEFAULT;
	k->outport = OUTPORT_DEFAULT;
	k->out = 0;
	k->pending = 0;
}

static void kbc_put(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->status = (uint8_t)((k->status | I8042_STR_OBF) & ~I8042_STR_AUXDATA);
}

/* A byte "from the mouse" (the 0xD3 loopback): Linux checks AUXDATA. */
static void kbc_put_aux(struct i8042 *k, uint8_t v)
{
	kbc_put(k, v);
	k->status |= I8042_STR_AUXDATA;
}

/* A controller command; true when it pulses the CPU reset line. */
static bool kbc_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case KBC_READ_CTR: kbc_put(k, k->ctr); break;
	case KBC_WRITE_CTR:
	case KBC_WRITE_OUTPORT:
	case KBC_WRITE_KBD_OUT:
	case KBC_WRITE_AUX_OUT:
	case KBC_WRITE_AUX:
		k->pending = cmd;
		break;
	case KBC_AUX_DISABLE: k->ctr |= CTR_AUX_DISABLED; break;
	case KBC_AUX_ENABLE: k->ctr &= (uint8_t)~CTR_AUX_DISABLED; break;
	case KBC_AUX_TEST: kbc_put(k, NO_AUX_DEVICE); break;
	case KBC_SELF_TEST: kbc_put(k, SELF_TEST_OK); break;
	case KBC_KBD_TEST: kbc_put(k, 0x00); break;
	case KBC_KBD_DISABLE: k->ctr |= CTR_KBD_DISABLED; break;
	case KBC_KBD_ENABLE: k->ctr &= (uint8_t)~CTR_KBD_DISABLED; break;
	case KBC_READ_OUTPORT: kbc_put(k, k->outport); break;
	default:
		/* 0xf0-0xff pulse the output lines whose bit is 0; bit 0 is
		 * the CPU reset line (0xfe is the classic reboot). */
		return cmd >= KBC_PULSE_FIRST && !(cmd & OUTPORT_RESET_LINE);
	}
	return false;
}

/* The data byte of a pending command; true when it resets the CPU. */
static bool kbc_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case KBC_WRITE_CTR:
		k->ctr = v;
		break;
	case KBC_WRITE_OUTPORT:
		k->outport = v;
		return !(v & OUTPORT_RESET_LINE);
	case KBC_WRITE_KBD_OUT:
		kbc_put(k, v);	/* loop back, as firmware probes expect */
		break;
	case KBC_WRITE_AUX_OUT:
		kbc_put_aux(k, v);
		break;
	default:
		break;		/* keyboard/aux device bytes: none attached */
	}
	return false;
}

static uint64_t kbc_data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return 0;
	pthread_mutex_lock(&p->kbc.lock);
	uint8_t v = p->kbc.out;
	p->kbc.status &= (uint8_t)~(I8042_STR_OBF | I8042_STR_AUXDATA);
	pthread_mutex_unlock(&p->kbc.lock);
	return v;
}

static enum bus_action kbc_data_write(void *opaque, uint64_t offset,
				      unsigned size, uint64_t value)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return BUS_CONTINUE;
	pthread_mutex_lock(&p->kbc.lock);
	p->kbc.status &= (uint8_t)~I8042_STR_CMD;
	bool reset = kbc_data(&p->kbc, (uint8_t)value);
	pthread_mutex_unlock(&p->kbc.lock);
	if (!reset)
		return BUS_CONTINUE;
	post(p, VM_EVENT_RESET, 0);
	return BUS_EXIT;
}

static uint64_t kbc_status_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return 0;
	pthread_mutex_lock(&p->kbc.lock);
	uint8_t v = p->kbc.status;
	pthread_mutex_unlock(&p->kbc.lock);
	return v;
}

static enum bus_action kbc_cmd_write(void *opaque, uint64_t offset,
				     unsigned size, uint64_t value)
{
	struct cvports *p = opaque;
	(void)size;

	if (offset != 0)
		return BUS_CONTINUE;
	pthread_mutex_lock(&p->kbc.lock);
	p->kbc.status |= I8042_STR_CMD;
	p->kbc.pending = 0;	/* a new command cancels a pending one */
	bool reset = kbc_command(&p->kbc, (uint8_t)value);
	pthread_mutex_unlock(&p->kbc.lock);
	if (!reset)
		return BUS_CONTINUE;
	post(p, VM_EVENT_RESET, 0);
	return BUS_EXIT;
}

const struct bus_device_ops cvports_i8042_data_ops = {
	.read = kbc_data_read,
	.write = kbc_data_write,
};

const struct bus_device_ops cvports_i8042_cmd_ops = {
	.read = kbc_status_read,
	.write = kbc_cmd_write,
};

/* ---- object ------------------------------------------------------------------ */

struct cvports *cvports_create(struct vm_event_sink sink, struct cv_err *err)
{
	struct cvports *p = calloc(1, sizeof(*p));
	if (!p) {
		cv_err_set(err, ENOMEM, "Out of memory for cvisor's ports.");
		return NULL;
	}
	int rc = pthread_mutex_init(&p->kbc.lock, NULL);
	if (rc) {
		cv_err_set(err, rc, "Cannot create the i8042 lock: %s.",
			   strerror(rc));
		free(p);
		return NULL;
	}
	p->sink = sink;
	atomic_init(&p->start_ns, 0);
	cvports_reset(p);
	return p;
}

void cvports_destroy(struct cvports *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->kbc.lock);
	free(p);
}

void cvports_reset(struct cvports *p)
{
	if (!p)
		return;
	atomic_store(&p->shutdown, false);
	atomic_store(&p->exit_code, -1);
	atomic_store(&p->boot_writes, 0);
	atomic_store(&p->boot_first_ns, 0);
	atomic_store(&p->boot_last_value, 0);
	pthread_mutex_lock(&p->kbc.lock);
	kbc_reset_locked(&p->kbc);
	pthread_mutex_unlock(&p->kbc.lock);
}

void cvports_request_shutdown(struct cvports *p)
{
	if (p)
		atomic_store(&p->shutdown, true);
}

bool cvports_shutdown_requested(const struct cvports *p)
{
	return p && atomic_load(&((struct cvports *)p)->shutdown);
}

bool cvports_exit_code(const struct cvports *p, int *code)
{
	int v = p ? atomic_load(&((struct cvports *)p)->exit_code) : -1;

	if (v < 0)
		return false;
	if (code)
		*code = v;
	return true;
}

void cvports_set_start_time(struct cvports *p, uint64_t start_ns)
{
	if (p)
		atomic_store(&p->start_ns, start_ns);
}

void cvports_boot_info(const struct cvports *cp, struct cvports_boot_info *out)
{
	struct cvports *p = (struct cvports *)cp;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!p)
		return;
	out->writes = atomic_load(&p->boot_writes);
	out->first_ns = atomic_load(&p->boot_first_ns);
	out->last_value = (uint8_t)atomic_load(&p->boot_last_value);
	out->start_ns = atomic_load(&p->start_ns);
	out->has_boot_time = out->first_ns && out->start_ns &&
			     out->first_ns >= out->start_ns;
	if (out->has_boot_time)
		out->boot_time_ns = out->first_ns - out->start_ns;
}
