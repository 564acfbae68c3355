/*
 * backend_select: which backend runs a VM, and a sentence saying why.
 *
 * auto = kvm when /dev/kvm opens and a probe VM works, else emu.  A nested
 * "PVM" /dev/kvm (kvm_pvm) runs ordinary guest code in KVM's instruction
 * emulator at ~0.3 µs per instruction — slower than the software CPU — so
 * auto prefers emu there and says so; accel = "kvm" still uses it.
 */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool host_kvm_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0 &&
	       access("/sys/module/kvm_intel", F_OK) != 0 &&
	       access("/sys/module/kvm_amd", F_OK) != 0;
}

/*
 * Whether KVM works is a fact about the host: probe it once per process
 * (a probe VM costs milliseconds) and remember the answer and its reason.
 */
static pthread_once_t kvm_probe_once = PTHREAD_ONCE_INIT;
static struct cv_err kvm_probe_err;
static int kvm_probe_rc;

static void kvm_probe_run(void)
{
	kvm_probe_rc = kvm_backend_ops.probe(&kvm_probe_err);
}

static int kvm_probe_cached(struct cv_err *err)
{
	pthread_once(&kvm_probe_once, kvm_probe_run);
	if (err)
		*err = kvm_probe_err;
	return kvm_probe_rc;
}

void backend_prestart(enum vm_accel hint)
{
	if (hint != VM_ACCEL_EMU && !host_kvm_is_pvm() &&
	    !access("/dev/kvm", R_OK | W_OK))
		kvm_backend_ops.prestart();
	else	/* the VM will be emu's (or fail): load its library */
		emu_backend_ops.prestart();
}

static const struct backend_ops *select_ops(enum vm_accel want, char *why,
					    size_t whylen, struct cv_err *err)
{
	struct cv_err perr = {0};

	switch (want) {
	case VM_ACCEL_KVM:
		/* no probe VM: creating the real one fails just as clearly */
		if (access("/dev/kvm", R_OK | W_OK)) {
			int e = errno;
			snprintf(why, whylen, "kvm requested: /dev/kvm: %s",
				 strerror(e));
			cv_err_set(err, e, "accel = \"kvm\" but KVM is not usable: "
				   "cannot open /dev/kvm: %s", strerror(e));
			return NULL;
		}
		snprintf(why, whylen, "requested (accel = \"kvm\")");
		return &kvm_backend_ops;
	case VM_ACCEL_EMU:
		if (emu_backend_ops.probe(&perr)) {
			snprintf(why, whylen, "emu requested: %s", perr.msg);
			cv_err_set(err, perr.code ? perr.code : ENODEV,
				   "the software CPU is not usable: %s",
				   perr.msg);
			return NULL;
		}
		snprintf(why, whylen, "requested (accel = \"emu\")");
		return &emu_backend_ops;
	case VM_ACCEL_AUTO:
		break;
	}
	if (host_kvm_is_pvm()) {
		snprintf(why, whylen,
			 "auto: /dev/kvm is nested PVM (guest code would run in "
			 "KVM's instruction emulator), using the software CPU");
	} else if (kvm_probe_cached(&perr) == 0) {
		snprintf(why, whylen, "auto: /dev/kvm works");
		return &kvm_backend_ops;
	} else {
		snprintf(why, whylen, "auto: %s, using the software CPU",
			 perr.msg[0] ? perr.msg : "KVM is not usable");
	}
	cv_err_clear(&perr);
	if (emu_backend_ops.probe(&perr)) {
		cv_err_set(err, perr.code ? perr.code : ENODEV,
			   "no usable backend (%s) and the software CPU failed: "
			   "%s", why, perr.msg);
		return NULL;
	}
	return &emu_backend_ops;
}

const struct backend_ops *backend_select(enum vm_accel want, char *why,
					 size_t whylen, struct cv_err *err)
{
	const struct backend_ops *ops = select_ops(want, why, whylen, err);
	if (ops != &kvm_backend_ops)
		kvm_backend_ops.prestart_release();
	return ops;
}
