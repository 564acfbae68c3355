#include "uc_lazy.h"
#include "uc_latch.h"
#include "tmark.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unicorn/unicorn.h>

#define UC_LIBRARY "libunicorn.so.2"
#define UCMOD_NAME "cvisor-unicorn.so"

/*
 * The resolved entry points.  Process-wide by nature: a library is loaded
 * once per process; written only under pthread_once.
 */
static struct {
	bool (*arch_supported)(uc_arch);
	uc_err (*open)(uc_arch, uc_mode, uc_engine **);
	uc_err (*close)(uc_engine *);
	uc_err (*ctl)(uc_engine *, uc_control_type, ...);
	const char *(*strerror)(uc_err);
	uc_err (*reg_write)(uc_engine *, int, const void *);
	uc_err (*reg_read)(uc_engine *, int, void *);
	uc_err (*emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
	uc_err (*emu_stop)(uc_engine *);
	uc_err (*hook_del)(uc_engine *, uc_hook);
	uc_err (*hook_add)(uc_engine *, uc_hook *, int, void *, void *,
			   uint64_t, uint64_t, ...);
	uc_err (*mem_map_ptr)(uc_engine *, uint64_t, size_t, uint32_t, void *);
	uc_err (*mmio_map)(uc_engine *, uint64_t, size_t, uc_cb_mmio_read_t,
			   void *, uc_cb_mmio_write_t, void *);
	uc_err (*context_alloc)(uc_engine *, uc_context **);
	uc_err (*context_free)(uc_context *);
	uc_err (*context_save)(uc_engine *, uc_context *);
	uc_err (*context_restore)(uc_engine *, uc_context *);
	size_t (*context_size)(uc_engine *);
} api;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static char api_error[256];
static char api_path[PATH_MAX];	/* what was loaded */
static long api_latch = UC_LATCH_UNKNOWN;	/* the module's (uc_latch.h) */
static int api_ok;
static atomic_bool api_done;	/* load_once has returned */
static atomic_bool preload_started;

#define RESOLVE(h, field, name)                                              \
	do {                                                                 \
		*(void **)&api.field = dlsym(h, name);                       \
		if (!api.field) {                                            \
			snprintf(api_error, sizeof(api_error),               \
				 "%s lacks %s", api_path, name);             \
			return;                                              \
		}                                                            \
	} while (0)

/*
 * cvisor's Unicorn module (ucmod.c), beside the executable (a build tree,
 * an unpacked tarball), where `meson install` put it relative to the
 * executable (an installed tree moved elsewhere: DESTDIR, a container
 * image) or at its installed absolute path; NULL when absent.
 */
static void *open_module(char *path, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash = NULL;
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
	}
	if (slash) {
		*slash = 0;
		const char *const rel[] = { "", CV_UCMOD_FROM_BIN "/" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			if (i && !CV_UCMOD_FROM_BIN[0])
				break;
			snprintf(path, len, "%s/%s" UCMOD_NAME, exe, rel[i]);
			void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (h)
				return h;
		}
	}
	snprintf(path, len, "%s", CV_UCMOD_INSTALLED);
	return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void load(void);

static void load_once(void)
{
	load();
	atomic_store(&api_done, true);
}

static void load(void)
{
	/* $CVISOR_LIBUNICORN: another build of the library (or a test's) */
	const char *lib = getenv("CVISOR_LIBUNICORN");
	cv_tmark("uc: load start");
	void *h = NULL;
	if (!lib || !*lib) {
		h = open_module(api_path, sizeof(api_path));
		lib = UC_LIBRARY;
	}
	if (!h) {
		snprintf(api_path, sizeof(api_path), "%s", lib);
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	}
	cv_tmark("uc: loaded");
	if (!h) {
		snprintf(api_error, sizeof(api_error), "cannot load %s: %s",
			 lib, dlerror());
		return;
	}
	RESOLVE(h, arch_supported, "uc_arch_supported");
	RESOLVE(h, open, "uc_open");
	RESOLVE(h, close, "uc_close");
	RESOLVE(h, ctl, "uc_ctl");
	RESOLVE(h, strerror, "uc_strerror");
	RESOLVE(h, reg_write, "uc_reg_write");
	RESOLVE(h, reg_read, "uc_reg_read");
	RESOLVE(h, emu_start, "uc_emu_start");
	RESOLVE(h, emu_stop, "uc_emu_stop");
	RESOLVE(h, hook_add, "uc_hook_add");
	RESOLVE(h, hook_del, "uc_hook_del");
	RESOLVE(h, mem_map_ptr, "uc_mem_map_ptr");
	RESOLVE(h, mmio_map, "uc_mmio_map");
	RESOLVE(h, context_alloc, "uc_context_alloc");
	RESOLVE(h, context_free, "uc_context_free");
	RESOLVE(h, context_save, "uc_context_save");
	RESOLVE(h, context_restore, "uc_context_restore");
	RESOLVE(h, context_size, "uc_context_size");
	const long *latch = dlsym(h, "uc_cvisor_latch_offset");
	if (latch)
		api_latch = *latch;
	api_ok = 1;	/* the handle stays open for the process's life */
}

int uc_lazy_load(char *err, size_t errlen)
{
	pthread_once(&api_once, load_once);
	if (!api_ok && err)
		snprintf(err, errlen, "%s", api_error);
	return api_ok ? 0 : -1;
}

bool uc_lazy_done(void)
{
	return atomic_load(&api_done);
}

/*
 * The preload's spare engine: an x86-64 engine already through unicorn's
 * first-use initialisation (~3-5 ms: its translator, the CPU model), for
 * the first vCPU to take.  Process-wide, like the library.
 */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spare_cond = PTHREAD_COND_INITIALIZER;
static enum { SPARE_NONE, SPARE_PENDING, SPARE_READY } spare_state;
static uc_engine *spare;

static void *preload_main(void *arg)
{
	(void)arg;
	uc_engine *e = NULL;
	uint64_t zero = 0;
	/* any register access runs the engine's deferred initialisation */
	if (!uc_lazy_load(NULL, 0) &&
	    (api.open(UC_ARCH_X86, UC_MODE_64, &e) ||
	     api.reg_write(e, UC_X86_REG_RAX, &zero))) {
		if (e)
			api.close(e);
		e = NULL;
	}
	cv_tmark("uc: spare engine ready");
	pthread_mutex_lock(&spare_lock);
	spare = e;
	spare_state = SPARE_READY;
	pthread_cond_broadcast(&spare_cond);
	pthread_mutex_unlock(&spare_lock);
	return NULL;
}

uc_engine *uc_lazy_take_spare(void)
{
	pthread_mutex_lock(&spare_lock);
	while (spare_state == SPARE_PENDING)
		pthread_cond_wait(&spare_cond, &spare_lock);
	uc_engine *e = spare;
	spare = NULL;
	pthread_mutex_unlock(&spare_lock);
	return e;
}

void uc_lazy_preload(void)
{
	if (uc_lazy_done() || atomic_exchange(&preload_started, true))
		return;
	pthread_attr_t a;
	pthread_t t;
	if (pthread_attr_init(&a))
		return;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* the caller's signals are for its own threads (cvisor run's waiter) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&spare_lock);
	spare_state = SPARE_PENDING;
	if (pthread_create(&t, &a, preload_main, NULL))
		spare_state = SPARE_NONE;
	pthread_mutex_unlock(&spare_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
}

static int ready(void)
{
	return uc_lazy_load(NULL, 0) == 0;
}

bool uc_arch_supported(uc_arch arch)
{
	return ready() && api.arch_supported(arch);
}

uc_err uc_open(uc_arch arch, uc_mode mode, uc_engine **uc)
{
	return ready() ? api.open(arch, mode, uc) : UC_ERR_HANDLE;
}

uc_err uc_close(uc_engine *uc)
{
	return ready() ? api.close(uc) : UC_ERR_HANDLE;
}

/* Only the controls the backend uses; their argument types are known. */
uc_err uc_ctl(uc_engine *uc, uc_control_type control, ...)
{
	if (!ready())
		return UC_ERR_HANDLE;
	va_list ap;
	uc_err e;
	va_start(ap, control);
	if (control == UC_CTL_WRITE(UC_CTL_UC_USE_EXITS, 1)) {
		int on = va_arg(ap, int);
		e = api.ctl(uc, control, on);
	} else if (control == UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2)) {
		uint64_t start = va_arg(ap, uint64_t);
		uint64_t end = va_arg(ap, uint64_t);
		e = api.ctl(uc, control, start, end);
	} else {
		e = UC_ERR_ARG;
	}
	va_end(ap);
	return e;
}

const char *uc_strerror(uc_err code)
{
	return ready() ? api.strerror(code) : api_error;
}

uc_err uc_reg_write(uc_engine *uc, int regid, const void *value)
{
	return ready() ? api.reg_write(uc, regid, value) : UC_ERR_HANDLE;
}

uc_err uc_reg_read(uc_engine *uc, int regid, void *value)
{
	return ready() ? api.reg_read(uc, regid, value) : UC_ERR_HANDLE;
}

uc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until,
		    uint64_t timeout, size_t count)
{
	return ready() ? api.emu_start(uc, begin, until, timeout, count)
		       : UC_ERR_HANDLE;
}

uc_err uc_emu_stop(uc_engine *uc)
{
	return ready() ? api.emu_stop(uc) : UC_ERR_HANDLE;
}

/* UC_HOOK_INSN carries the instruction id; the other hook types nothing. */
uc_err uc_hook_add(uc_engine *uc, uc_hook *hh, int type, void *callback,
		   void *user_data, uint64_t begin, uint64_t end, ...)
{
	if (!ready())
		return UC_ERR_HANDLE;
	if (type == UC_HOOK_INSN) {
		va_list ap;
		va_start(ap, end);
		int insn = va_arg(ap, int);
		va_end(ap);
		return api.hook_add(uc, hh, type, callback, user_data, begin,
				    end, insn);
	}
	if (type == UC_HOOK_TCG_OPCODE)
		return UC_ERR_ARG;
	return api.hook_add(uc, hh, type, callback, user_data, begin, end);
}

uc_err uc_hook_del(uc_engine *uc, uc_hook hh)
{
	return ready() ? api.hook_del(uc, hh) : UC_ERR_HANDLE;
}

uc_err uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size,
		      uint32_t perms, void *ptr)
{
	return ready() ? api.mem_map_ptr(uc, address, size, perms, ptr)
		       : UC_ERR_HANDLE;
}

uc_err uc_mmio_map(uc_engine *uc, uint64_t address, size_t size,
		   uc_cb_mmio_read_t read_cb, void *user_data_read,
		   uc_cb_mmio_write_t write_cb, void *user_data_write)
{
	return ready() ? api.mmio_map(uc, address, size, read_cb,
				      user_data_read, write_cb, user_data_write)
		       : UC_ERR_HANDLE;
}

uc_err uc_context_alloc(uc_engine *uc, uc_context **context)
{
	return ready() ? api.context_alloc(uc, context) : UC_ERR_HANDLE;
}

uc_err uc_context_free(uc_context *context)
{
	return ready() ? api.context_free(context) : UC_ERR_HANDLE;
}

uc_err uc_context_save(uc_engine *uc, uc_context *context)
{
	return ready() ? api.context_save(uc, context) : UC_ERR_HANDLE;
}

uc_err uc_context_restore(uc_engine *uc, uc_context *context)
{
	return ready() ? api.context_restore(uc, context) : UC_ERR_HANDLE;
}

size_t uc_context_size(uc_engine *uc)
{
	return ready() ? api.context_size(uc) : 0;
}

const char *uc_lazy_path(void)
{
	return api_ok ? api_path : NULL;
}

long uc_lazy_latch_offset(void)
{
	return ready() ? api_latch : UC_LATCH_UNKNOWN;
}
