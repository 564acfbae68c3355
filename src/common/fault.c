/*
 * fault: the fault-point table, the armed fault and the hit counters
 * (see fault.h).  Compiled into every build; with fault injection off no
 * code calls cv_fault_check(), so the counters stay at zero.
 */
#include "fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const points[] = {
	"mem.mmap",
	"kvm.create_vm",
	"kvm.set_memory",
	"kvm.create_vcpu",
	"kvm.vcpu_mmap",
	"emu.uc_open",
	"emu.mem_map",
	"vm.thread",
	"data.mkdir",
	"reg.config_write",
	"console.open",
	"devices.create",
	"boot.load",
	"store.open",
	"store.write",
	"store.fsync",
	"store.rename",
	"daemon.lock",
	"daemon.accept",
	"daemon.recv",
	"daemon.send",
	"daemon.worker",
	"daemon.seccomp_probe_worker",
	"daemon.seccomp_probe_loop",
};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

/* Process-wide by nature (see fault.h); guarded by `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long hits[NPOINTS];
static int armed = -1;		/* index into points, -1 = none */
static unsigned armed_left;	/* hits to go until the failing one */
static int armed_errno;
static bool fired;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static int find(const char *point)
{
	for (size_t i = 0; i < NPOINTS; i++)
		if (!strcmp(points[i], point))
			return (int)i;
	return -1;
}

bool cv_fault_enabled(void)
{
#ifdef CV_FAULT_INJECTION
	return true;
#else
	return false;
#endif
}

const char *cv_fault_point(size_t i)
{
	return i < NPOINTS ? points[i] : NULL;
}

static int arm_locked(const char *point, unsigned nth, int errnum)
{
	int i = find(point);
	if (i < 0)
		return -ENOENT;
	armed = i;
	armed_left = nth ? nth : 1;
	armed_errno = errnum > 0 ? errnum : ENOMEM;
	fired = false;
	return 0;
}

/* $CVISOR_FAULT = "point:nth[:errno]" */
static void env_arm(void)
{
	const char *s = getenv("CVISOR_FAULT");
	if (!s || !*s)
		return;
	char name[64];
	size_t n = strcspn(s, ":");
	if (n >= sizeof(name))
		return;
	memcpy(name, s, n);
	name[n] = '\0';
	unsigned long nth = 1, e = 0;
	if (s[n] == ':') {
		char *end;
		nth = strtoul(s + n + 1, &end, 10);
		if (*end == ':')
			e = strtoul(end + 1, NULL, 10);
	}
	pthread_mutex_lock(&lock);
	arm_locked(name, (unsigned)nth, (int)e);
	pthread_mutex_unlock(&lock);
}

int cv_fault_check(const char *point)
{
	pthread_once(&env_once, env_arm);
	int i = find(point);
	if (i < 0)
		return 0;
	int e = 0;
	pthread_mutex_lock(&lock);
	hits[i]++;
	if (armed == i && --armed_left == 0) {
		e = armed_errno;
		fired = true;
		armed = -1;
	}
	pthread_mutex_unlock(&lock);
	return e;
}

int cv_fault_arm(const char *point, unsigned nth, int errnum)
{
	if (!cv_fault_enabled())
		return -ENOTSUP;
	pthread_once(&env_once, env_arm);
	pthread_mutex_lock(&lock);
	int rc = arm_locked(point, nth, errnum);
	pthread_mutex_unlock(&lock);
	return rc;
}

void cv_fault_disarm(void)
{
	pthread_mutex_lock(&lock);
	armed = -1;
	pthread_mutex_unlock(&lock);
}

bool cv_fault_fired(void)
{
	pthread_mutex_lock(&lock);
	bool f = fired;
	pthread_mutex_unlock(&lock);
	return f;
}

long cv_fault_hits(const char *point)
{
	int i = find(point);
	if (i < 0)
		return -1;
	pthread_mutex_lock(&lock);
	long h = hits[i];
	pthread_mutex_unlock(&lock);
	return h;
}

void cv_fault_reset_counts(void)
{
	pthread_mutex_lock(&lock);
	memset(hits, 0, sizeof(hits));
	pthread_mutex_unlock(&lock);
}
