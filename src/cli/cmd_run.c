/*
 * cmd_run: `cvisor run [CONFIG]` — one VM in the foreground, console on
 * stdout, exit status from the guest (SPEC §5b):
 *   debug-exit code | 0 after power-off | 1 cvisor failed | 2 usage |
 *   3 stopped on a reboot request (on_reboot = "stop" / --no-reboot) |
 *   128+N when stopped by signal N.
 * SIGTERM, SIGINT or SIGHUP stops the VM gracefully, as `vm stop` does:
 * the power button and the shutdown request, then up to --stop-timeout
 * seconds (default 10) for the guest to power off, then force; a second
 * signal forces at once.  Without CONFIG it boots the built-in demo guest.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "builtin.h"
#include "console.h"
#include "fsutil.h"
#include "hostopts.h"
#include "hostpaths.h"
#include "sandbox.h"
#include "vm.h"
#include "vmconfig.h"
#include "tmark.h"

static const char run_usage[] =
	"Usage: cvisor run [CONFIG.toml] [options]\n"
	"\n"
	"Create and start one VM in the foreground with its serial console on\n"
	"stdout; exit with the guest's exit status.  Without CONFIG, boot the\n"
	"built-in demo guest.\n"
	"\n"
	"Options:\n"
	"  --accel auto|kvm|emu   backend when the config says auto (default auto)\n"
	"  --state-dir DIR        where VM data directories live\n"
	"  --no-reboot            stop (exit status 3) when the guest reboots\n"
	"  --keep-data            keep the VM's data directory (console.log)\n"
	"  --image NAME           boot the built-in image NAME instead of the demo\n"
	"  --list-images          list the built-in images\n"
	"  --stop-timeout SECS    on SIGTERM/SIGINT/SIGHUP: how long the guest\n"
	"                         may take to shut down before it is forced\n"
	"                         (default 10; 0 forces at once)\n"
	"  -q, --quiet            no cvisor messages on stderr\n"
	"  -h, --help             this help\n"
	"%s"
	"\n"
	"SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops the VM gracefully, like 'vm\n"
	"stop': the ACPI power button and the shutdown request (port 0x5f0), up\n"
	"to --stop-timeout seconds for the guest to power off, then force.  A\n"
	"second signal forces at once.\n"
	"\n"
	"Exit status: the guest's debug-exit code (port 0xf4); 0 after a\n"
	"power-off; 1 when cvisor failed; 2 usage error; 3 stopped on a reboot\n"
	"request; 128+N when stopped by signal N (N of the first signal, whether\n"
	"the guest shut down in time or was forced).\n";

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void to_stdout(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	CV_TMARK_ONCE("run: first console bytes on stdout");
	write_all(STDOUT_FILENO, buf, len);
}

/*
 * The config of a built-in image: its own guests/configs/<name>.toml text
 * when it has one, else a minimal raw boot; the same loader as files use.
 */
static int builtin_config(const char *name, struct vm_config *cfg,
			  struct vmcfg_diags *diags)
{
	const struct builtin_image *b = builtin_find(name);
	if (!b) {
		fprintf(stderr, "cvisor run: no built-in image '%s' "
				"(see --list-images)\n", name);
		return -ENOENT;
	}
	if (b->config_toml)
		return vmcfg_load_string(b->config_toml, strlen(b->config_toml),
					 name, NULL, cfg, diags, NULL);
	static const char *const modes[] = { "real", "protected", "long" };
	char text[1024];
	snprintf(text, sizeof(text),
		 "[base]\nname = \"%s\"\ncpu_num = 1\n"
		 "[kernel]\nimage_location = \"memory\"\nkernel_path = \"%s\"\n"
		 "entry_point = 0x%llx\nkernel_load_addr = 0x%llx\n"
		 "boot_protocol = \"raw\"\ncpu_mode = \"%s\"\n"
		 "memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n",
		 name, name, (unsigned long long)b->entry,
		 (unsigned long long)b->load_addr,
		 modes[b->cpu_mode >= 0 && b->cpu_mode <= 2 ? b->cpu_mode : 0]);
	return vmcfg_load_string(text, strlen(text), name, NULL, cfg, diags,
				 NULL);
}

static void print_diags(const struct vmcfg_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s: %s\n", d->items[i].is_error ? "error"
								  : "warning",
			d->items[i].msg);
}

/*
 * What the main thread waits for (run_wait): the VM reached Stopped (the
 * VM's on_state hook), the first stop signal (the signal thread), a
 * partial console line to flush (the console's partial-line notice).
 * All three wake it through cond; beyond them it sleeps only until a
 * deadline of its own (a partial line's flush, a graceful stop's
 * --stop-timeout), never on a period.
 * Lock order: the VM's and the console's locks (held by the hooks), then
 * this one; the main thread calls no vm_ or console_ function holding it.
 */
struct run_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC */
	bool stopped;
	bool partial;
	bool signalled;
};

static int run_wait_init(struct run_wait *rw)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc)
		return -rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(&rw->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -rc;
	rc = pthread_mutex_init(&rw->lock, NULL);
	if (rc) {
		pthread_cond_destroy(&rw->cond);
		return -rc;
	}
	rw->stopped = rw->partial = rw->signalled = false;
	return 0;
}

static void run_wait_destroy(struct run_wait *rw)
{
	pthread_cond_destroy(&rw->cond);
	pthread_mutex_destroy(&rw->lock);
}

/* Set *flag and wake the main thread. */
static void run_wake(struct run_wait *rw, bool *flag)
{
	pthread_mutex_lock(&rw->lock);
	*flag = true;
	pthread_cond_signal(&rw->cond);
	pthread_mutex_unlock(&rw->lock);
}

/* vm_host_opts.on_state (the VM's lock held) */
static void on_vm_state(void *ctx, struct vm *vm, enum vm_state old_state,
			enum vm_state new_state, enum vm_stop_reason reason,
			int exit_code)
{
	struct run_wait *rw = ctx;
	(void)vm, (void)old_state, (void)reason, (void)exit_code;
	if (new_state == VM_STOPPED)
		run_wake(rw, &rw->stopped);
}

/* console_watch_partial (the console's lock held) */
static void on_partial(void *ctx)
{
	struct run_wait *rw = ctx;
	run_wake(rw, &rw->partial);
}

struct sigwaiter {
	pthread_t thread;
	struct vm *vm;
	struct run_wait *rw;
	atomic_int signo;	/* the first stop signal, 0 if none */
	bool sandbox;
};

static void *sigwait_main(void *arg)
{
	struct sigwaiter *w = arg;
	struct cv_err err = {0};
	if (w->sandbox &&
	    sandbox_enter(SANDBOX_SIGNALS, "the signal thread", &err))
		fprintf(stderr, "cvisor run: %s\n", err.msg);	/* runs on */
	cv_tmark("run: signal thread confined");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);	/* "we are done" from the main thread */
	/*
	 * The first signal asks the main thread for a graceful stop (raising
	 * the power button's interrupt takes backend calls that this thread's
	 * seccomp filter does not allow); a second one forces the stop from
	 * here, overtaking the graceful one.
	 */
	int sig = 0;
	while (sigwait(&set, &sig) == 0 && sig != SIGUSR2) {
		int first = 0;
		if (atomic_compare_exchange_strong(&w->signo, &first, sig))
			run_wake(w->rw, &w->rw->signalled);
		else
			vm_stop(w->vm, true, 0, NULL);
	}
	return NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * On the first stop signal: ask the guest to shut down and return at
 * once; wait_vm() waits for it (flushing partial lines meanwhile) and
 * forces the stop past the deadline.  Returns that deadline, 0 when
 * there is nothing to wait for: --stop-timeout 0 forced the stop here,
 * or the request was refused (the guest is stopping by itself already,
 * or a second signal forced it: wait_vm waits for Stopped either way).
 */
static uint64_t stop_on_signal(struct vm *vm, int sig, uint64_t timeout_ns,
			       bool quiet, bool *stop_asked)
{
	if (!quiet)
		fprintf(stderr, "cvisor: %s: stopping VM '%s' (up to "
			"%.3g s for the guest to shut down; a second "
			"signal forces)\n", strsignal(sig),
			vm_config(vm)->name, (double)timeout_ns / 1e9);
	if (timeout_ns == 0) {
		*stop_asked = vm_stop(vm, true, 0, NULL) == 0;
		return 0;
	}
	if (vm_stop_begin(vm, NULL))
		return 0;
	*stop_asked = true;
	return mono_ns() + timeout_ns;
}

/* The end of a stop we asked for: whether the guest made it in time. */
static void say_stopped(struct vm *vm, bool quiet)
{
	if (!quiet)
		fprintf(stderr, "cvisor: VM '%s' %s\n", vm_config(vm)->name,
			vm_stop_reason(vm) == VM_STOP_REQUESTED
			? "forced to stop" : "shut down");
}

static struct timespec ns_to_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

/*
 * The main thread's wait for the VM: it sleeps until the VM stopped, a
 * stop signal came, a partial console line (a prompt) is due for its
 * flush, CONSOLE_PARTIAL_FLUSH_MS after the console said it waits, or a
 * graceful stop's deadline passed (then it forces the stop).  Partial
 * lines are flushed during a graceful stop too: the guest's last words.
 */
static void wait_vm(struct vm *vm, struct run_wait *rw,
		    const struct sigwaiter *w, uint64_t timeout_ns, bool quiet)
{
	bool stopping = false, stop_asked = false;
	uint64_t flush_at = 0;		/* 0: no partial line waiting */
	uint64_t force_at = 0;		/* 0: no graceful stop to time */
	pthread_mutex_lock(&rw->lock);
	while (!rw->stopped) {
		if (rw->partial && !flush_at) {
			rw->partial = false;
			flush_at = mono_ns() +
				   CONSOLE_PARTIAL_FLUSH_MS * 1000000ull;
		}
		bool sig = rw->signalled && !stopping;
		uint64_t now = flush_at || force_at ? mono_ns() : 0;
		bool due = flush_at && now >= flush_at;
		bool force = force_at && now >= force_at;
		if (!sig && !due && !force) {
			uint64_t at = !flush_at ? force_at
				      : !force_at || flush_at < force_at
				      ? flush_at : force_at;
			if (!at) {
				pthread_cond_wait(&rw->cond, &rw->lock);
			} else {
				struct timespec ts = ns_to_ts(at);
				pthread_cond_timedwait(&rw->cond, &rw->lock,
						       &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&rw->lock);
		if (due) {
			flush_at = 0;
			console_flush(vm_console(vm));
		}
		if (force) {
			force_at = 0;
			vm_stop(vm, true, 0, NULL);
		}
		if (sig) {
			stopping = true;
			force_at = stop_on_signal(vm, atomic_load(&w->signo),
						  timeout_ns, quiet,
						  &stop_asked);
		}
		pthread_mutex_lock(&rw->lock);
	}
	pthread_mutex_unlock(&rw->lock);
	if (stop_asked)
		say_stopped(vm, quiet);
}

static int exit_status(struct vm *vm, int signo)
{
	if (signo)
		return 128 + signo;
	switch (vm_stop_reason(vm)) {
	case VM_STOP_DEBUG_EXIT:
		return vm_exit_code(vm);
	case VM_STOP_POWEROFF:
	case VM_STOP_REQUESTED:
		return 0;
	case VM_STOP_REBOOT:
		return 3;
	case VM_STOP_ERROR:
	case VM_STOP_NONE:
		break;
	}
	return 1;
}

/* "SECS" (0..86400, fractions allowed) -> ns; -EINVAL otherwise. */
static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end || !(d >= 0 && d <= 86400.0) ||
	    s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return -EINVAL;
	*ns = (uint64_t)(d * 1e9);
	return 0;
}

static int list_images(void)
{
	for (const struct builtin_image *b = builtin_list(); b->name; b++)
		printf("%-12s %s\n", b->name, b->description);
	return 0;
}

/*
 * Before the options are parsed: the backend hint (--accel) and whether
 * this run makes a VM at all (not for --help or --list-images), so that
 * the prestart begins first thing.  Exact spellings only; an abbreviated
 * option (getopt_long takes them) just prestarts for the default hint,
 * and a prestart nobody takes is released or dies with the process.
 */
static bool run_prescan(int argc, char **argv, enum vm_accel *hint)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help") ||
		    !strcmp(a, "--list-images"))
			return false;
		if (!strcmp(a, "--accel") && i + 1 < argc)
			(void)parse_accel(argv[++i], hint);
		else if (!strncmp(a, "--accel=", 8))
			(void)parse_accel(a + 8, hint);
	}
	return true;
}

int cmd_run(int argc, char **argv)
{
	enum { O_ACCEL = 256, O_STATE, O_NOREBOOT, O_KEEP, O_IMAGE, O_LIST,
	       O_HOST, O_STOP_TIMEOUT };
	static const struct option opts[] = {
		{ "no-seccomp", no_argument, NULL, O_HOST },
		{ "max-vms", required_argument, NULL, O_HOST },
		{ "max-memory", required_argument, NULL, O_HOST },
		{ "max-vcpus", required_argument, NULL, O_HOST },
		{ "console-log-cap", required_argument, NULL, O_HOST },
		{ "vcpu-nice", required_argument, NULL, O_HOST },
		{ "accel", required_argument, NULL, O_ACCEL },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "no-reboot", no_argument, NULL, O_NOREBOOT },
		{ "keep-data", no_argument, NULL, O_KEEP },
		{ "image", required_argument, NULL, O_IMAGE },
		{ "list-images", no_argument, NULL, O_LIST },
		{ "stop-timeout", required_argument, NULL, O_STOP_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vm_host_opts hopts = { .accel_default = VM_ACCEL_AUTO };
	struct host_opts host = {0};
	char state_dir[PATH_MAX] = "";
	const char *image = "demo";
	bool keep = false, quiet = false;
	uint64_t stop_timeout_ns = 10000000000ull;
	int c, which = 0;
	struct cv_err herr = {0};

	/*
	 * Off the path to the guest's first byte: the kvm backend makes its
	 * VM on a helper thread (KVM_CREATE_VM mostly waits in the kernel)
	 * while this thread parses the options, loads the config and builds
	 * the machine.  The seccomp filters are readied by the first VM
	 * thread that confines itself, in parallel too (sandbox_enter); only
	 * the five that run uses (precompiled: nothing to compile).
	 */
	enum vm_accel hint = VM_ACCEL_AUTO;
	if (run_prescan(argc, argv, &hint))
		backend_prestart(hint);
	cv_tmark("run: backend prestart begun");

	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, &which)) != -1) {
		switch (c) {
		case O_HOST:
			if (host_opt_set(&host, opts[which].name, optarg,
					 &herr)) {
				fprintf(stderr, "cvisor run: %s\n", herr.msg);
				return 2;
			}
			break;
		case O_ACCEL:
			if (parse_accel(optarg, &hopts.accel_default)) {
				fprintf(stderr, "cvisor run: --accel: expected "
						"auto, kvm or emu, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_STATE:
			snprintf(state_dir, sizeof(state_dir), "%s", optarg);
			break;
		case O_NOREBOOT:
			hopts.force_reboot_stop = true;
			break;
		case O_KEEP:
			keep = true;
			break;
		case O_IMAGE:
			image = optarg;
			break;
		case O_LIST:
			return list_images();
		case O_STOP_TIMEOUT:
			if (parse_seconds(optarg, &stop_timeout_ns)) {
				fprintf(stderr, "cvisor run: --stop-timeout: "
						"expected seconds (0 to 86400), "
						"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf(run_usage, host_opts_usage);
			return 0;
		default:
			fprintf(stderr, run_usage, host_opts_usage);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "cvisor run: expected at most one config file\n");
		fprintf(stderr, run_usage, host_opts_usage);
		return 2;
	}

	cv_tmark("run: options parsed");
	if (!host.no_seccomp)
		sandbox_only(1u << SANDBOX_VCPU_KVM | 1u << SANDBOX_VCPU_EMU |
			     1u << SANDBOX_RESET | 1u << SANDBOX_SIGNALS |
			     1u << SANDBOX_RUN_MAIN);
	cv_tmark("run: prestarted");

	struct vm_config cfg;
	struct vmcfg_diags diags = {0};
	int rc = optind < argc
		 ? vmcfg_load_file(argv[optind], &cfg, &diags, NULL)
		 : builtin_config(image, &cfg, &diags);
	cv_tmark("run: config loaded");
	print_diags(&diags);
	vmcfg_diags_free(&diags);
	if (rc) {
		if (optind < argc && rc != -EINVAL)
			fprintf(stderr, "cvisor run: %s: %s\n", argv[optind],
				strerror(-rc));
		return 1;
	}

	if (host_limits_check(&host, &cfg, 0, 0, &herr)) {
		fprintf(stderr, "cvisor run: VM '%s' refused: %s\n", cfg.name,
			herr.msg);
		return 1;
	}
	hopts.no_seccomp = host.no_seccomp;
	hopts.console_log_cap = host.console_log_cap;
	hopts.vcpu_nice = host_vcpu_nice(&host);

	if (!state_dir[0])
		default_state_dir(state_dir, sizeof(state_dir));
	char data_dir[PATH_MAX + 64];
	snprintf(data_dir, sizeof(data_dir), "%s/run/%ld-%s", state_dir,
		 (long)getpid(), cfg.name);
	hopts.data_dir = data_dir;

	/* Signals go to one waiter thread; every other thread blocks them. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old);

	struct cv_err err = {0};
	struct run_wait rw;
	rc = run_wait_init(&rw);
	if (rc) {
		fprintf(stderr, "cvisor run: cannot create a lock: %s\n",
			strerror(-rc));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	hopts.on_state = on_vm_state;
	hopts.state_ctx = &rw;
	struct vm *vm = NULL;
	rc = vm_create(&cfg, 0, &hopts, &vm, &err);
	if (rc) {
		fprintf(stderr, "cvisor run: cannot create VM '%s': %s\n",
			cfg.name, err.msg);
		cv_remove_tree(data_dir);
		run_wait_destroy(&rw);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	cv_tmark("run: vm_create done");
	if (!quiet)
		fprintf(stderr, "cvisor: VM '%s' on %s (%s)\n", cfg.name,
			vm_backend_name(vm), vm_backend_why(vm));
	int lid = console_add_listener(vm_console(vm), to_stdout, &rw);
	if (lid >= 0)
		console_watch_partial(vm_console(vm), lid, on_partial);

	/*
	 * The signal waiter comes after vm_start (off the path to the
	 * guest's first byte): until then the signals stay blocked and
	 * pending, and it takes them as soon as it runs.
	 */
	struct sigwaiter w = { .vm = vm, .rw = &rw,
			       .sandbox = !host.no_seccomp };
	bool waiter = false;

	int status;
	rc = vm_start(vm, &err);
	cv_tmark("run: vm_start done");
	if (!rc)
		waiter = pthread_create(&w.thread, NULL, sigwait_main, &w) == 0;
	if (rc) {
		fprintf(stderr, "cvisor run: cannot start VM: %s\n", err.msg);
		status = 1;
	} else if (!host.no_seccomp &&
		   sandbox_enter(SANDBOX_RUN_MAIN, "the main thread", &err)) {
		fprintf(stderr, "cvisor run: %s\n", err.msg);
		vm_stop(vm, true, 0, NULL);
		rc = -1;
		status = 1;
	} else {
		cv_tmark("run: main thread confined");
		wait_vm(vm, &rw, &w, stop_timeout_ns, quiet);
		status = waiter ? 0 : 1;
	}
	if (waiter) {
		pthread_kill(w.thread, SIGUSR2);
		pthread_join(w.thread, NULL);
	}
	if (!rc)
		status = exit_status(vm, atomic_load(&w.signo));
	char lasterr[256];
	vm_last_error(vm, lasterr, sizeof(lasterr));
	if (lasterr[0])
		fprintf(stderr, "cvisor run: VM '%s' failed: %s\n", cfg.name,
			lasterr);
	console_flush(vm_console(vm));
	if (lid >= 0)
		console_remove_listener(vm_console(vm), lid);
	vm_destroy(vm);
	run_wait_destroy(&rw);
	if (keep) {
		if (!quiet)
			fprintf(stderr, "cvisor: data kept in %s\n", data_dir);
	} else {
		cv_remove_tree(data_dir);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return status;
}
