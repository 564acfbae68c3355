/*
 * attach: the session's terminal joined to a VM's serial console
 * (`vm console`, `vm start` of one VM in the interactive shell).  The last
 * 64 KiB are replayed, then output is live; keys go to the guest's UART
 * (console_input); Ctrl-] detaches and the VM keeps running.
 *
 * Guest output reaches this thread through a non-blocking pipe, so a slow
 * terminal can never stall a vCPU thread (which runs console listeners);
 * if the pipe is full, bytes are dropped and counted.  The loop sleeps in
 * poll() with no timer: a second pipe wakes it when the console says a
 * partial line (a prompt) waits - it flushes it CONSOLE_PARTIAL_FLUSH_MS
 * later - and when the registry reports a change of this VM (stopped,
 * deleted).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "shell_int.h"

#define DETACH_KEY 0x1d		/* Ctrl-] */
#define PIPE_BYTES (1 << 20)

struct attach {
	int rd, wr;		/* guest output */
	int wake_rd, wake_wr;	/* a partial line or a VM event (a byte) */
	uint32_t id;
	atomic_bool partial;	/* a partial line waits for its flush */
	atomic_bool stopped;	/* the VM went to Stopped */
	atomic_ullong dropped;
};

/* From a console or registry hook: a full pipe is a pending wake-up. */
static void wake(struct attach *a)
{
	char b = 0;
	while (write(a->wake_wr, &b, 1) < 0 && errno == EINTR)
		;
}

static void on_partial(void *ctx)
{
	struct attach *a = ctx;
	atomic_store(&a->partial, true);
	wake(a);
}

static void on_event(void *ctx, const struct reg_event *e)
{
	struct attach *a = ctx;
	if (e->id != a->id)
		return;
	if (e->kind == REG_EVENT_STATE && e->new_state == VM_STOPPED)
		atomic_store(&a->stopped, true);
	wake(a);
}

static void on_output(void *ctx, const void *buf, size_t len)
{
	struct attach *a = ctx;
	const char *p = buf;
	while (len) {
		ssize_t n = write(a->wr, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			atomic_fetch_add(&a->dropped, len);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Read a non-blocking pipe empty, to out (-1: discard). */
static void drain(int rd, int out)
{
	char buf[16384];
	ssize_t n;
	while ((n = read(rd, buf, sizeof(buf))) > 0)
		if (out >= 0)
			write_all(out, buf, (size_t)n);
}

/* Keys typed: to the guest, up to Ctrl-].  Returns true to detach. */
static bool forward_keys(int in, struct console *con)
{
	char buf[256];
	ssize_t n = read(in, buf, sizeof(buf));
	if (n < 0)
		return errno != EINTR && errno != EAGAIN;
	if (n == 0)
		return true;		/* the terminal went away */
	char *stop = memchr(buf, DETACH_KEY, (size_t)n);
	size_t len = stop ? (size_t)(stop - buf) : (size_t)n;
	if (len)
		console_input(con, buf, len);
	return stop != NULL;
}

static int raw_mode(int fd, struct termios *saved)
{
	if (tcgetattr(fd, saved))
		return -errno;
	struct termios t = *saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(IXON | ICRNL | INLCR | IGNCR);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	return tcsetattr(fd, TCSANOW, &t) ? -errno : 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Why the loop ended: 0 Ctrl-], 1 stopped, 2 deleted. */
static int attach_loop(struct sh_ctx *c, struct reg_vm *v, struct vm *vm,
		       struct attach *a, bool was_stopped)
{
	int in = c->sh->o.tty_in, out = c->sh->o.tty_out;
	struct console *con = vm_console(vm);
	uint64_t flush_at = 0;		/* 0: no partial line waiting */
	for (;;) {
		int timeout = -1;
		if (flush_at) {
			uint64_t now = mono_ms();
			timeout = now >= flush_at ? 0 : (int)(flush_at - now);
		}
		struct pollfd p[3] = { { .fd = in, .events = POLLIN },
				       { .fd = a->rd, .events = POLLIN },
				       { .fd = a->wake_rd, .events = POLLIN } };
		int n = poll(p, 3, timeout);
		if (n < 0 && errno != EINTR)
			return 0;
		if (n > 0 && (p[1].revents & POLLIN))
			drain(a->rd, out);
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    forward_keys(in, con))
			return 0;
		if (n > 0 && (p[2].revents & POLLIN))
			drain(a->wake_rd, -1);
		if (atomic_exchange(&a->partial, false) && !flush_at)
			flush_at = mono_ms() + CONSOLE_PARTIAL_FLUSH_MS;
		if (flush_at && mono_ms() >= flush_at) {
			flush_at = 0;
			console_flush(con);	/* on_output: to a->rd */
		}
		if (reg_vm_deleting(v))
			return 2;
		bool stopped = vm_state(vm) == VM_STOPPED;
		if (atomic_exchange(&a->stopped, false) ||
		    (stopped && !was_stopped))
			return 1;
		was_stopped = stopped;
	}
}

int sh_console_attach(struct sh_ctx *c, struct reg_vm *v)
{
	uint32_t id = reg_vm_id(v);
	struct vm *vm = reg_vm_vm(v);
	int in = c->sh->o.tty_in, out = c->sh->o.tty_out;
	if (!c->sh->o.interactive || (!c->sh->o.attach_any_fd && !isatty(in))) {
		sh_err(c, "✗ Cannot attach to VM[%u]: the console needs an "
			  "interactive terminal (use 'vm log %u')\n", id, id);
		return SH_FAILED;
	}
	if (!vm) {
		sh_err(c, "✗ Cannot attach to VM[%u]: VM is still loading\n", id);
		return SH_FAILED;
	}
	struct attach a = { .rd = -1, .wr = -1, .wake_rd = -1, .wake_wr = -1,
			    .id = id };
	int fds[2], wfds[2];
	struct termios saved;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		sh_err(c, "✗ Cannot attach to VM[%u]: %s\n", id, strerror(errno));
		return SH_FAILED;
	}
	if (pipe2(wfds, O_NONBLOCK | O_CLOEXEC)) {
		sh_err(c, "✗ Cannot attach to VM[%u]: %s\n", id, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return SH_FAILED;
	}
	a.rd = fds[0];
	a.wr = fds[1];
	a.wake_rd = wfds[0];
	a.wake_wr = wfds[1];
	fcntl(a.wr, F_SETPIPE_SZ, PIPE_BYTES);	/* best effort */
	/* before the first look at the state: no change goes unseen */
	int erc = registry_add_listener(c->reg, on_event, &a);
	if (erc) {
		sh_err(c, "✗ Cannot attach to VM[%u]: %s\n", id, strerror(-erc));
		close(a.rd);
		close(a.wr);
		close(a.wake_rd);
		close(a.wake_wr);
		return SH_FAILED;
	}
	bool was_stopped = vm_state(vm) == VM_STOPPED;
	sh_out(c, "Connected to VM[%u] console (Ctrl-] detaches; the VM "
		  "keeps running)\n", id);
	fflush(c->out);
	bool raw = raw_mode(in, &saved) == 0;
	int lid = console_add_listener_replay(vm_console(vm), on_output, &a);
	if (lid >= 0)
		console_watch_partial(vm_console(vm), lid, on_partial);
	int why = lid >= 0 ? attach_loop(c, v, vm, &a, was_stopped) : 0;
	if (lid >= 0)
		console_remove_listener(vm_console(vm), lid);
	registry_remove_listener(c->reg, on_event, &a);
	drain(a.rd, out);
	if (raw)
		tcsetattr(in, TCSANOW, &saved);
	close(a.rd);
	close(a.wr);
	close(a.wake_rd);
	close(a.wake_wr);
	unsigned long long lost = atomic_load(&a.dropped);
	static const char *const how[] = { "Detached from", "VM stopped; left",
					   "VM deleted; left" };
	sh_out(c, "\r\n%s VM[%u] console", how[why], id);
	if (lost)
		sh_out(c, " (%llu output bytes dropped: terminal too slow)",
		       lost);
	sh_out(c, "\n");
	fflush(c->out);
	return lid >= 0 ? SH_OK : SH_FAILED;
}
