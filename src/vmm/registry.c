/*
 * registry: the VM table of one hypervisor process (see registry.h).
 *
 * Locking: r->lock protects the table, every entry's refs/listed/loading/
 * deleted/vm fields; r->cond is broadcast when a load ends or a reference
 * is dropped.  v->op is the per-VM command lock that makes delete atomic
 * with the commands that could change the state it validated.  Order:
 * v->op before r->lock; vm.c's own locks are taken with neither held
 * except v->op.
 */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fsutil.h"
#include "vmstate.h"

struct reg_vm {
	struct registry *reg;
	uint32_t id;
	struct vm_config *cfg;		/* heap: the struct is large */
	char data_dir[PATH_MAX];
	uint64_t mem;			/* guest RAM, counted while listed */
	int dir_fd;			/* holds the data dir's flock */
	bool made_dir;			/* we created the data dir */
	pthread_mutex_t op;
	bool ev_done;			/* under reg->ev_lock: DELETED sent */

	/* under reg->lock */
	struct vm *vm;
	unsigned refs;
	bool listed, loading, deleted;
	bool deleting;			/* a delete passed its checks */
};

struct registry {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct reg_vm **vms;		/* listed VMs, sorted by id */
	size_t n, cap;
	char state_dir[PATH_MAX];
	struct vm_host_opts host;	/* data_dir filled per VM */
	struct host_opts limits;
	uint64_t mem_in_use;		/* guest RAM of the listed VMs */
	void (*loading_hook)(void *ctx, uint32_t id);
	void *hook_ctx;

	/* events: ev_lock serializes deliveries and guards the list */
	pthread_mutex_t ev_lock;
	struct reg_listener *listeners;
	size_t nlisteners;
	uint64_t ev_seq;
};

struct reg_listener {
	registry_listener_fn fn;
	void *ctx;
};

/* ---- event delivery ----------------------------------------------------- */

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Deliver one event to every listener.  ev_lock is a leaf: callers may
 * hold r->lock or the VM's lock; listeners take no registry/VM lock.
 */
static void emit(struct registry *r, struct reg_vm *v,
		 enum reg_event_kind kind, enum vm_state old_state,
		 enum vm_state new_state, enum vm_stop_reason reason,
		 int exit_code)
{
	pthread_mutex_lock(&r->ev_lock);
	if (v->ev_done) {	/* a late change of a deleted VM: dropped */
		pthread_mutex_unlock(&r->ev_lock);
		return;
	}
	if (kind == REG_EVENT_DELETED)
		v->ev_done = true;
	struct reg_event e = {
		.kind = kind, .seq = ++r->ev_seq, .time_ns = realtime_ns(),
		.id = v->id, .name = v->cfg->name,
		.old_state = old_state, .new_state = new_state,
		.reason = reason, .exit_code = exit_code,
	};
	for (size_t i = 0; i < r->nlisteners; i++)
		r->listeners[i].fn(r->listeners[i].ctx, &e);
	pthread_mutex_unlock(&r->ev_lock);
}

/* vm_host_opts.on_state: a VM's transition (its lock held). */
static void on_vm_state(void *ctx, struct vm *vm, enum vm_state old_state,
			enum vm_state new_state, enum vm_stop_reason reason,
			int exit_code)
{
	(void)vm;
	struct reg_vm *v = ctx;
	emit(v->reg, v, old_state == new_state ? REG_EVENT_REBOOTED
					       : REG_EVENT_STATE,
	     old_state, new_state, reason, exit_code);
}

/* ---- entries and references ------------------------------------------ */

static void entry_free(struct reg_vm *v)
{
	pthread_mutex_destroy(&v->op);
	free(v->cfg);
	free(v);
}

struct reg_vm *reg_vm_ref(struct reg_vm *v)
{
	pthread_mutex_lock(&v->reg->lock);
	v->refs++;
	pthread_mutex_unlock(&v->reg->lock);
	return v;
}

void reg_vm_put(struct reg_vm *v)
{
	if (!v)
		return;
	struct registry *r = v->reg;
	pthread_mutex_lock(&r->lock);
	bool last = --v->refs == 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (last)
		entry_free(v);
}

static void unlist_locked(struct registry *r, struct reg_vm *v)
{
	if (!v->listed)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->vms[i] != v)
			continue;
		memmove(&r->vms[i], &r->vms[i + 1],
			(r->n - i - 1) * sizeof(r->vms[0]));
		r->n--;
		break;
	}
	v->listed = false;
	r->mem_in_use -= v->mem;
	v->refs--;		/* the table's reference; the caller has one */
	pthread_cond_broadcast(&r->cond);
}

uint32_t reg_vm_id(const struct reg_vm *v) { return v->id; }
const char *reg_vm_name(const struct reg_vm *v) { return v->cfg->name; }
const struct vm_config *reg_vm_config(const struct reg_vm *v)
{
	return v->cfg;
}
const char *reg_vm_data_dir(const struct reg_vm *v) { return v->data_dir; }

bool reg_vm_deleted(struct reg_vm *v)
{
	pthread_mutex_lock(&v->reg->lock);
	bool d = v->deleted;
	pthread_mutex_unlock(&v->reg->lock);
	return d;
}

bool reg_vm_deleting(struct reg_vm *v)
{
	pthread_mutex_lock(&v->reg->lock);
	bool d = v->deleting || v->deleted;
	pthread_mutex_unlock(&v->reg->lock);
	return d;
}

struct vm *reg_vm_vm(struct reg_vm *v)
{
	pthread_mutex_lock(&v->reg->lock);
	struct vm *vm = v->vm;
	pthread_mutex_unlock(&v->reg->lock);
	return vm;
}

enum vm_state reg_vm_state(struct reg_vm *v)
{
	struct vm *vm = reg_vm_vm(v);
	return vm ? vm_state(vm) : VM_LOADING;
}

enum vm_state reg_vm_snapshot(struct reg_vm *v, struct vm_vcpu_info *out,
			      unsigned n, bool regs)
{
	struct vm *vm = reg_vm_vm(v);
	if (vm)
		return vm_snapshot(vm, out, n, regs);
	for (unsigned i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].state = VCPU_CREATED;
	}
	return VM_LOADING;
}

int reg_vm_wait_loaded(struct reg_vm *v)
{
	struct registry *r = v->reg;
	pthread_mutex_lock(&r->lock);
	while (v->loading)
		pthread_cond_wait(&r->cond, &r->lock);
	int rc = v->vm ? 0 : -ENOENT;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_vm_lock_op(struct reg_vm *v)
{
	pthread_mutex_lock(&v->op);
	if (reg_vm_deleted(v)) {
		pthread_mutex_unlock(&v->op);
		return -ENOENT;
	}
	return 0;
}

void reg_vm_unlock_op(struct reg_vm *v)
{
	pthread_mutex_unlock(&v->op);
}

/* ---- lookups ---------------------------------------------------------- */

static struct reg_vm *find_id_locked(struct registry *r, uint32_t id)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->vms[mid]->id == id)
			return r->vms[mid];
		if (r->vms[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct reg_vm *registry_get(struct registry *r, uint32_t id)
{
	pthread_mutex_lock(&r->lock);
	struct reg_vm *v = find_id_locked(r, id);
	if (v)
		v->refs++;
	pthread_mutex_unlock(&r->lock);
	return v;
}

/* An id is written in decimal digits only; anything else is a name. */
static bool parse_id(const char *key, uint32_t *id)
{
	if (!*key || strlen(key) > 10)
		return false;
	unsigned long long n = 0;
	for (const char *p = key; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n > UINT32_MAX)
		return false;
	*id = (uint32_t)n;
	return true;
}

static int lookup_name_locked(struct registry *r, const char *name,
			      struct reg_vm **out, struct cv_err *err)
{
	struct reg_vm *found = NULL;
	char ids[128] = "";
	size_t used = 0, matches = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->vms[i]->cfg->name, name))
			continue;
		matches++;
		found = r->vms[i];
		if (used < sizeof(ids))
			used += (size_t)snprintf(ids + used, sizeof(ids) - used,
						 "%s%u", used ? ", " : "",
						 r->vms[i]->id);
	}
	if (!matches)
		return cv_err_set(err, ENOENT, "no VM is named '%s'", name);
	if (matches > 1)
		return cv_err_set(err, EEXIST,
				  "the name '%s' matches several VMs (%s): "
				  "use the id", name, ids);
	found->refs++;
	*out = found;
	return 0;
}

int registry_lookup(struct registry *r, const char *key, struct reg_vm **out,
		    struct cv_err *err)
{
	uint32_t id;
	int rc = 0;
	*out = NULL;
	pthread_mutex_lock(&r->lock);
	if (parse_id(key, &id)) {
		struct reg_vm *v = find_id_locked(r, id);
		if (v) {
			v->refs++;
			*out = v;
		} else {
			rc = cv_err_set(err, ENOENT, "no VM has id %u", id);
		}
	} else {
		rc = lookup_name_locked(r, key, out, err);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int registry_snapshot(struct registry *r, struct reg_vm ***out, size_t *n)
{
	pthread_mutex_lock(&r->lock);
	struct reg_vm **a = calloc(r->n ? r->n : 1, sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&r->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++) {
		a[i] = r->vms[i];
		a[i]->refs++;
	}
	*n = r->n;
	pthread_mutex_unlock(&r->lock);
	*out = a;
	return 0;
}

void registry_snapshot_free(struct reg_vm **vms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		reg_vm_put(vms[i]);
	free(vms);
}

size_t registry_count(struct registry *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* ---- data directories ------------------------------------------------- */

/* Names come from configs: keep the directory name a plain file name. */
static void dir_name(uint32_t id, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%u-", id);
	size_t i = n > 0 ? (size_t)n : 0;
	for (const char *p = name; *p && i + 1 < len && p - name < 64; p++) {
		unsigned char c = (unsigned char)*p;
		buf[i++] = isalnum(c) || c == '-' || c == '_' ||
			   (c == '.' && p != name) ? (char)c : '_';
	}
	buf[i] = '\0';
}

static int write_config_copy(struct reg_vm *v, struct cv_err *err)
{
	char tmp[PATH_MAX + 32], dst[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s/config.toml.tmp", v->data_dir);
	snprintf(dst, sizeof(dst), "%s/config.toml", v->data_dir);
	struct vm_config *copy = malloc(sizeof(*copy));
	if (!copy)
		return cv_err_set(err, ENOMEM, "out of memory");
	*copy = *v->cfg;
	copy->has_id = true;	/* the copy re-creates the same VM */
	copy->id = v->id;
	int fe = CV_FAULT("reg.config_write");
	FILE *f = fe ? NULL : fopen(tmp, "w");
	int rc = 0;
	if (!f) {
		int e = fe ? fe : errno;
		rc = cv_err_set(err, e, "cannot write %s: %s", tmp,
				strerror(e));
	} else {
		fprintf(f, "# cvisor: configuration of VM %u (from %s)\n",
			v->id, v->cfg->path[0] ? v->cfg->path : "-");
		vmcfg_print(f, copy);
		if (fflush(f) || ferror(f))
			rc = cv_err_set(err, errno ? errno : EIO,
					"cannot write %s", tmp);
		if (fclose(f) && !rc)
			rc = cv_err_set(err, errno, "cannot write %s", tmp);
		if (!rc && rename(tmp, dst))
			rc = cv_err_set(err, errno, "cannot rename %s: %s", tmp,
					strerror(errno));
		if (rc)
			unlink(tmp);
	}
	free(copy);
	return rc;
}

/*
 * <state_dir>/vms/<id>-<name>: created (or taken over, when a deleted VM
 * kept it or a crashed process left it) and flock'ed, so two processes
 * sharing a state dir never write the same VM's files.
 */
/* The path is fixed before the VM is listed: readers never see it change. */
static int set_data_dir_locked(struct registry *r, struct reg_vm *v,
			       struct cv_err *err)
{
	char name[128];
	if (!r->state_dir[0])
		return 0;
	dir_name(v->id, v->cfg->name, name, sizeof(name));
	int n = snprintf(v->data_dir, sizeof(v->data_dir), "%s/vms/%s",
			 r->state_dir, name);
	if (n < 0 || (size_t)n >= sizeof(v->data_dir))
		return cv_err_set(err, ENAMETOOLONG,
				  "the state directory path is too long");
	return 0;
}

static int prepare_data_dir(struct reg_vm *v, struct cv_err *err)
{
	struct stat st;
	v->made_dir = stat(v->data_dir, &st) != 0;
	int fe = CV_FAULT("data.mkdir");
	int rc = fe ? cv_err_set(err, fe, "cannot create %s: %s", v->data_dir,
				 strerror(fe))
		    : cv_mkdir_p(v->data_dir, err);
	if (rc)
		return rc;
	v->dir_fd = open(v->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dir_fd < 0)
		return cv_err_set(err, errno, "cannot open %s: %s", v->data_dir,
				  strerror(errno));
	if (flock(v->dir_fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		close(v->dir_fd);
		v->dir_fd = -1;
		v->made_dir = false;	/* someone else's: leave it alone */
		if (e == EWOULDBLOCK)
			return cv_err_set(err, EBUSY,
					  "data directory %s is in use by "
					  "another cvisor process", v->data_dir);
		return cv_err_set(err, e, "cannot lock %s: %s", v->data_dir,
				  strerror(e));
	}
	return write_config_copy(v, err);
}

/* Remove (unless keep) and unlock the data directory. */
static int release_data_dir(struct reg_vm *v, bool keep, struct cv_err *err)
{
	int rc = 0;
	if (v->data_dir[0] && !keep) {
		rc = cv_remove_tree(v->data_dir);
		if (rc)
			cv_err_set(err, -rc, "cannot remove %s: %s",
				   v->data_dir, strerror(-rc));
	}
	if (v->dir_fd >= 0)
		close(v->dir_fd);
	v->dir_fd = -1;
	return rc;
}

/* ---- create ----------------------------------------------------------- */

/* The id, then the host limits (a refusal names the id it would have). */
static int reserve_id_locked(struct registry *r, const struct vm_config *cfg,
			     uint32_t *id, struct cv_err *err)
{
	if (cfg->has_id) {
		struct reg_vm *other = find_id_locked(r, cfg->id);
		if (other)
			return cv_err_set(err, EEXIST,
					  "[base] id %u is already used by VM "
					  "'%s'", cfg->id, other->cfg->name);
		*id = cfg->id;
	} else {
		uint32_t next = 0;
		for (size_t i = 0; i < r->n && r->vms[i]->id == next; i++)
			next++;	/* sorted: the first gap is the lowest free */
		*id = next;
	}
	return host_limits_check(&r->limits, cfg, r->n, r->mem_in_use, err);
}

static int insert_locked(struct registry *r, struct reg_vm *v)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct reg_vm **a = realloc(r->vms, ncap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		r->vms = a;
		r->cap = ncap;
	}
	size_t pos = 0;
	while (pos < r->n && r->vms[pos]->id < v->id)
		pos++;
	memmove(&r->vms[pos + 1], &r->vms[pos],
		(r->n - pos) * sizeof(r->vms[0]));
	r->vms[pos] = v;
	r->n++;
	r->mem_in_use += v->mem;
	v->listed = true;
	v->refs++;
	return 0;
}

static struct reg_vm *entry_new(struct registry *r,
				const struct vm_config *cfg)
{
	struct reg_vm *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cfg = malloc(sizeof(*v->cfg));
	if (!v->cfg) {
		free(v);
		return NULL;
	}
	*v->cfg = *cfg;
	v->mem = vmcfg_total_memory(cfg);
	v->reg = r;
	v->dir_fd = -1;
	v->refs = 1;		/* registry_add's own */
	v->loading = true;
	pthread_mutex_init(&v->op, NULL);
	return v;
}

static int build_machine(struct registry *r, struct reg_vm *v,
			 struct vm **vm, struct cv_err *err)
{
	int rc = 0;
	if (v->data_dir[0])
		rc = prepare_data_dir(v, err);
	if (!rc && r->loading_hook)
		r->loading_hook(r->hook_ctx, v->id);
	if (rc)
		return rc;
	struct vm_host_opts host = r->host;
	host.data_dir = v->data_dir[0] ? v->data_dir : NULL;
	host.on_state = on_vm_state;
	host.state_ctx = v;
	return vm_create(v->cfg, v->id, &host, vm, err);
}

int registry_add(struct registry *r, const struct vm_config *cfg,
		 uint32_t *id_out, struct cv_err *err)
{
	struct reg_vm *v = entry_new(r, cfg);
	if (!v)
		return cv_err_set(err, ENOMEM, "out of memory");
	pthread_mutex_lock(&r->lock);
	int rc = reserve_id_locked(r, cfg, &v->id, err);
	if (!rc)
		rc = set_data_dir_locked(r, v, err);
	if (!rc && insert_locked(r, v))
		rc = cv_err_set(err, ENOMEM, "out of memory");
	if (!rc)
		emit(r, v, REG_EVENT_CREATED, VM_LOADING, VM_LOADING,
		     VM_STOP_NONE, -1);
	pthread_mutex_unlock(&r->lock);
	if (rc) {
		if (rc == -ENOSPC && id_out)
			*id_out = v->id;
		entry_free(v);
		return rc;
	}

	struct vm *vm = NULL;
	rc = build_machine(r, v, &vm, err);

	pthread_mutex_lock(&r->lock);
	v->loading = false;
	/* under r->lock: nobody can reach the VM to change it before these */
	if (rc) {
		v->deleted = true;
		unlist_locked(r, v);
		emit(r, v, REG_EVENT_DELETED, VM_LOADING, VM_LOADING,
		     VM_STOP_NONE, -1);
	} else {
		v->vm = vm;
		emit(r, v, REG_EVENT_STATE, VM_LOADING, VM_LOADED,
		     VM_STOP_NONE, -1);
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (rc)
		release_data_dir(v, !v->made_dir, NULL);
	else if (id_out)
		*id_out = v->id;
	reg_vm_put(v);
	return rc;
}

/* ---- delete ----------------------------------------------------------- */

/* Validate and, when allowed, take the VM out of the table. */
static int unlist_for_delete(struct registry *r, struct reg_vm *v, bool force,
			     enum vm_state *seen, struct cv_err *err)
{
	if (reg_vm_lock_op(v))
		return cv_err_set(err, ENOENT, "VM %u was already deleted",
				  v->id);
	enum vm_state s = reg_vm_state(v);
	if (seen)
		*seen = s;
	const char *why = vm_refusal(VM_CMD_DELETE, s, force);
	if (why) {
		reg_vm_unlock_op(v);
		return cv_err_set(err, s == VM_LOADING ? EINVAL : EBUSY, "%s",
				  why);
	}
	if (s == VM_LOADING && reg_vm_wait_loaded(v)) {
		reg_vm_unlock_op(v);
		return cv_err_set(err, ENOENT, "VM %u failed to load", v->id);
	}
	/* from here on it is deleted: watchers that see it stop (an
	   attached console) tell the delete, not the stop */
	pthread_mutex_lock(&r->lock);
	v->deleting = true;
	pthread_mutex_unlock(&r->lock);
	struct vm *vm = reg_vm_vm(v);
	s = vm_state(vm);
	/* signal shutdown: no vCPU runs guest code past this point */
	if (s == VM_RUNNING || s == VM_SUSPENDED || s == VM_STOPPING)
		vm_stop(vm, true, 0, NULL);
	s = vm_state(vm);
	pthread_mutex_lock(&r->lock);
	v->deleted = true;
	unlist_locked(r, v);
	/*
	 * Now, under r->lock: a new VM may take the id right after, and its
	 * CREATED must follow this.  Later changes of this VM are dropped.
	 */
	emit(r, v, REG_EVENT_DELETED, s, s, VM_STOP_NONE, -1);
	pthread_mutex_unlock(&r->lock);
	reg_vm_unlock_op(v);
	return 0;
}

int registry_delete(struct registry *r, struct reg_vm *v, bool force,
		    bool keep_data, enum vm_state *state_seen,
		    struct cv_err *err)
{
	int rc = unlist_for_delete(r, v, force, state_seen, err);
	if (rc)
		return rc;
	/* the other holders see `deleted` and let go */
	pthread_mutex_lock(&r->lock);
	while (v->refs > 1)
		pthread_cond_wait(&r->cond, &r->lock);
	struct vm *vm = v->vm;
	v->vm = NULL;
	pthread_mutex_unlock(&r->lock);
	vm_destroy(vm);
	return release_data_dir(v, keep_data, err) ? 1 : 0;
}

/* ---- registry --------------------------------------------------------- */

void registry_opts_set_host(struct registry_opts *ro,
			    const struct host_opts *h)
{
	ro->no_seccomp = h->no_seccomp;
	ro->max_vms = h->max_vms;
	ro->max_memory = h->max_memory;
	ro->max_vcpus = h->max_vcpus;
	ro->console_log_cap = h->console_log_cap;
	ro->vcpu_nice = host_vcpu_nice(h);
}

int registry_create(const struct registry_opts *opts, struct registry **out,
		    struct cv_err *err)
{
	struct registry *r = calloc(1, sizeof(*r));
	if (!r)
		return cv_err_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_init(&r->ev_lock, NULL);
	if (opts) {
		if (opts->state_dir)
			snprintf(r->state_dir, sizeof(r->state_dir), "%s",
				 opts->state_dir);
		r->host.accel_default = opts->accel_default;
		r->host.console_log_cap = opts->console_log_cap;
		r->host.no_seccomp = opts->no_seccomp;
		r->host.vcpu_nice = opts->vcpu_nice;
		r->limits.max_vms = opts->max_vms;
		r->limits.max_memory = opts->max_memory;
		r->limits.max_vcpus = opts->max_vcpus;
		r->limits.console_log_cap = opts->console_log_cap;
		r->loading_hook = opts->loading_hook;
		r->hook_ctx = opts->hook_ctx;
	}
	*out = r;
	return 0;
}

void registry_destroy(struct registry *r, bool keep_data)
{
	if (!r)
		return;
	struct reg_vm **vms;
	size_t n;
	if (!registry_snapshot(r, &vms, &n)) {
		for (size_t i = 0; i < n; i++) {
			registry_delete(r, vms[i], true, keep_data, NULL, NULL);
			reg_vm_put(vms[i]);
		}
		free(vms);
	}
	free(r->vms);
	free(r->listeners);
	pthread_mutex_destroy(&r->ev_lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- events ------------------------------------------------------------ */

int registry_add_listener(struct registry *r, registry_listener_fn fn,
			  void *ctx)
{
	pthread_mutex_lock(&r->ev_lock);
	for (size_t i = 0; i < r->nlisteners; i++) {
		if (r->listeners[i].fn == fn && r->listeners[i].ctx == ctx) {
			pthread_mutex_unlock(&r->ev_lock);
			return -EEXIST;
		}
	}
	struct reg_listener *l = realloc(r->listeners,
		(r->nlisteners + 1) * sizeof(*l));
	if (!l) {
		pthread_mutex_unlock(&r->ev_lock);
		return -ENOMEM;
	}
	l[r->nlisteners++] = (struct reg_listener){ fn, ctx };
	r->listeners = l;
	pthread_mutex_unlock(&r->ev_lock);
	return 0;
}

void registry_remove_listener(struct registry *r, registry_listener_fn fn,
			      void *ctx)
{
	/* deliveries hold ev_lock: once we have it, none is running */
	pthread_mutex_lock(&r->ev_lock);
	for (size_t i = 0; i < r->nlisteners; i++) {
		if (r->listeners[i].fn != fn || r->listeners[i].ctx != ctx)
			continue;
		memmove(&r->listeners[i], &r->listeners[i + 1],
			(r->nlisteners - i - 1) * sizeof(r->listeners[0]));
		r->nlisteners--;
		break;
	}
	pthread_mutex_unlock(&r->ev_lock);
}

const char *reg_event_kind_name(enum reg_event_kind k)
{
	switch (k) {
	case REG_EVENT_CREATED: return "created";
	case REG_EVENT_STATE: return "state";
	case REG_EVENT_REBOOTED: return "rebooted";
	case REG_EVENT_DELETED: return "deleted";
	}
	return "?";
}
