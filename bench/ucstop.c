/*
 * ucstop: what the emu backend's stop mechanism and Unicorn's memory path
 * cost, measured on a bare Unicorn engine (no cvisor code), and which ways
 * of stopping a running engine land on an exact instruction boundary.
 * The evidence behind src/backend/emu/emu.c's per-block hook and the
 * README's "Performance" section.
 *
 *  speed    a 2-instruction loop (dec ecx; jnz) in a 64-bit engine:
 *           guest instructions per second of thread CPU time with
 *             none      no hooks at all
 *             block     a UC_HOOK_BLOCK on every block (cvisor's check)
 *             empty     the same hook with an empty callback
 *             bounded   a UC_HOOK_BLOCK whose range matches no block
 *             others    cvisor's other hooks (IN/OUT/CPUID insn hooks,
 *                       INTR, INSN_INVALID, MEM_INVALID), no block hook
 *             all       block + others + MMIO gaps + exits enabled
 *  store    the same loop with one 4-byte store to RAM per iteration:
 *           the cost of one guest store (to a page holding no code)
 *  copy     `rep movsq` of 14 MB (the Linux decompressor's first copy)
 *  stop     a counting loop (inc rax; mov [m], rax; inc rbx; jmp) stopped
 *           N times by
 *             cross     uc_emu_stop from another thread
 *             signal    tgkill to the engine's thread, whose handler
 *                       calls uc_emu_stop (same thread)
 *             hook      a flag the block hook turns into uc_emu_stop
 *           and resumed at the reported RIP: a stop that re-executes the
 *           block's first instructions makes rax run ahead of rbx.
 *
 * CPU time, not wall time: the benchmark is meant for loaded machines.
 * Usage: ucstop [-n STOPS] [-r REPEATS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unicorn/unicorn.h>

#define MEM_SIZE (64u << 20)
#define CODE 0x1000u
#define LOOPS 20000000u

struct probe {
	uint8_t *mem;
	uc_engine *uc;
	atomic_bool stop_wanted;
	atomic_int how;		/* stop mechanism, see kicker() */
	atomic_bool running;
	pid_t tid;
};

/* the engine the signal handler stops: only touched on its own thread */
static _Thread_local uc_engine *sig_uc;

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_block(uc_engine *uc, uint64_t a, uint32_t s, void *o)
{
	struct probe *p = o;
	(void)a;
	(void)s;
	if (atomic_load_explicit(&p->stop_wanted, memory_order_relaxed))
		uc_emu_stop(uc);
}

static void on_block_empty(uc_engine *uc, uint64_t a, uint32_t s, void *o)
{
	(void)uc;
	(void)a;
	(void)s;
	(void)o;
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *o)
{
	(void)uc;
	(void)port;
	(void)size;
	(void)o;
	return 0xffffffffu;
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t v,
		   void *o)
{
	(void)uc;
	(void)port;
	(void)size;
	(void)v;
	(void)o;
}

static int on_cpuid(uc_engine *uc, void *o)
{
	(void)uc;
	(void)o;
	return 0;
}

static void on_intr(uc_engine *uc, uint32_t n, void *o)
{
	(void)n;
	(void)o;
	uc_emu_stop(uc);
}

static bool on_invalid(uc_engine *uc, void *o)
{
	(void)o;
	uc_emu_stop(uc);
	return true;
}

static bool on_badmem(uc_engine *uc, uc_mem_type t, uint64_t a, int s,
		      int64_t v, void *o)
{
	(void)uc;
	(void)t;
	(void)a;
	(void)s;
	(void)v;
	(void)o;
	return false;
}

static uint64_t gap_read(uc_engine *uc, uint64_t off, unsigned s, void *o)
{
	(void)uc;
	(void)off;
	(void)s;
	(void)o;
	return ~0ull;
}

static void gap_write(uc_engine *uc, uint64_t off, unsigned s, uint64_t v,
		      void *o)
{
	(void)uc;
	(void)off;
	(void)s;
	(void)v;
	(void)o;
}

enum hooks { H_NONE, H_BLOCK, H_EMPTY, H_BOUNDED, H_OTHERS, H_ALL };
static const char *const hook_names[] = { "none", "block", "empty",
					  "bounded", "others", "all" };

static int engine(struct probe *p, enum hooks h)
{
	uc_hook hh;
	uc_err e = uc_open(UC_ARCH_X86, UC_MODE_64, &p->uc);
	if (e == UC_ERR_OK)
		e = uc_mem_map_ptr(p->uc, 0, MEM_SIZE, UC_PROT_ALL, p->mem);
	if (e == UC_ERR_OK && h == H_ALL)
		e = uc_mmio_map(p->uc, MEM_SIZE, (1ull << 36) - MEM_SIZE,
				gap_read, NULL, gap_write, NULL);
	if (e == UC_ERR_OK && (h == H_BLOCK || h == H_ALL))
		e = uc_hook_add(p->uc, &hh, UC_HOOK_BLOCK, (void *)on_block, p,
				1, 0);
	if (e == UC_ERR_OK && h == H_EMPTY)
		e = uc_hook_add(p->uc, &hh, UC_HOOK_BLOCK,
				(void *)on_block_empty, p, 1, 0);
	if (e == UC_ERR_OK && h == H_BOUNDED)	/* begin = end: one address */
		e = uc_hook_add(p->uc, &hh, UC_HOOK_BLOCK, (void *)on_block, p,
				0xfff00000, 0xfff00000);
	if (e == UC_ERR_OK && (h == H_OTHERS || h == H_ALL)) {
		if ((e = uc_hook_add(p->uc, &hh, UC_HOOK_INSN, (void *)on_in, p,
				     1, 0, UC_X86_INS_IN)) == UC_ERR_OK &&
		    (e = uc_hook_add(p->uc, &hh, UC_HOOK_INSN, (void *)on_out, p,
				     1, 0, UC_X86_INS_OUT)) == UC_ERR_OK &&
		    (e = uc_hook_add(p->uc, &hh, UC_HOOK_INSN, (void *)on_cpuid,
				     p, 1, 0, UC_X86_INS_CPUID)) == UC_ERR_OK &&
		    (e = uc_hook_add(p->uc, &hh, UC_HOOK_INTR, (void *)on_intr,
				     p, 1, 0)) == UC_ERR_OK &&
		    (e = uc_hook_add(p->uc, &hh, UC_HOOK_INSN_INVALID,
				     (void *)on_invalid, p, 1, 0)) == UC_ERR_OK)
			e = uc_hook_add(p->uc, &hh, UC_HOOK_MEM_INVALID,
					(void *)on_badmem, p, 1, 0);
	}
	if (e == UC_ERR_OK && h == H_ALL)
		e = uc_ctl_exits_enable(p->uc);
	if (e != UC_ERR_OK) {
		fprintf(stderr, "unicorn set-up failed: %s\n", uc_strerror(e));
		return -1;
	}
	return 0;
}

static void put32(uint8_t *b, uint32_t v)
{
	memcpy(b, &v, 4);
}

/* CPU seconds for one run of the code at CODE, or -1. */
static double run(struct probe *p, enum hooks h, const uint8_t *code,
		  size_t len)
{
	memcpy(p->mem + CODE, code, len);
	if (engine(p, h))
		return -1;
	uint64_t rsp = 0x8000;
	uc_reg_write(p->uc, UC_X86_REG_RSP, &rsp);
	double t0 = cpu_s();
	uc_err e = uc_emu_start(p->uc, CODE, 0, 0, 0);
	double t = cpu_s() - t0;
	uc_close(p->uc);
	if (e != UC_ERR_OK) {
		fprintf(stderr, "guest failed: %s\n", uc_strerror(e));
		return -1;
	}
	return t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* median of r runs */
static double best(struct probe *p, enum hooks h, const uint8_t *code,
		   size_t len, int r)
{
	double t[32];
	if (r > 32)
		r = 32;
	for (int i = 0; i < r; i++)
		if ((t[i] = run(p, h, code, len)) < 0)
			return -1;
	qsort(t, (size_t)r, sizeof(t[0]), cmp_d);
	return t[r / 2];
}

static void sig_stop(int s)
{
	(void)s;
	if (sig_uc)
		uc_emu_stop(sig_uc);
}

enum how { HOW_CROSS = 1, HOW_SIGNAL, HOW_HOOK };
static const char *const how_names[] = { "", "cross-thread uc_emu_stop",
					 "signal + same-thread uc_emu_stop",
					 "block hook + flag (cvisor)" };

static void *kicker(void *arg)
{
	struct probe *p = arg;
	unsigned seed = 1;
	while (atomic_load(&p->running)) {
		struct timespec ts = { 0, 20000 + (long)(rand_r(&seed) % 50000) };
		nanosleep(&ts, NULL);
		switch (atomic_load(&p->how)) {
		case HOW_CROSS:
			uc_emu_stop(p->uc);
			break;
		case HOW_SIGNAL:
			syscall(SYS_tgkill, getpid(), p->tid, SIGUSR1);
			break;
		case HOW_HOOK:
			atomic_store(&p->stop_wanted, true);
			break;
		}
	}
	return NULL;
}

/* Stops that re-executed instructions, out of n. */
static int stops(struct probe *p, enum how how, int n, int *done)
{
	static const uint8_t loop[] = {
		0x48, 0xff, 0xc0,			/* 1: inc rax */
		0x48, 0x89, 0x04, 0x25, 0, 0x80, 0, 0,	/* mov [0x8000], rax */
		0x48, 0xff, 0xc3,			/* inc rbx */
		0xeb, 0xf1,				/* jmp 1b */
	};
	memcpy(p->mem + CODE, loop, sizeof(loop));
	if (engine(p, how == HOW_HOOK ? H_BLOCK : H_NONE))
		return -1;
	sig_uc = p->uc;
	p->tid = (pid_t)syscall(SYS_gettid);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_stop;
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&p->how, how);
	atomic_store(&p->running, true);
	pthread_t th;
	if (pthread_create(&th, NULL, kicker, p)) {
		uc_close(p->uc);
		return -1;
	}
	uint64_t pc = CODE, a = 0, b = 0, lead = 0;
	int bad = 0, i;
	uc_reg_write(p->uc, UC_X86_REG_RAX, &a);
	uc_reg_write(p->uc, UC_X86_REG_RBX, &b);
	for (i = 0; i < n; i++) {
		atomic_store(&p->stop_wanted, false);
		uc_emu_start(p->uc, pc, 0, 0, 0);
		uc_reg_read(p->uc, UC_X86_REG_RIP, &pc);
		uc_reg_read(p->uc, UC_X86_REG_RAX, &a);
		uc_reg_read(p->uc, UC_X86_REG_RBX, &b);
		/* exact: rax - rbx stays 0 or 1; each re-execution adds one */
		if (a - b > lead + 1) {
			bad++;
			lead = a - b - 1;
		}
	}
	atomic_store(&p->running, false);
	pthread_join(th, NULL);
	sig_uc = NULL;
	uc_close(p->uc);
	*done = i;
	return bad;
}

int main(int argc, char **argv)
{
	struct probe pr;
	int nstops = 1000, reps = 5;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-n"))
			nstops = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-r"))
			reps = atoi(argv[i + 1]);
	}
	if (argc % 2 == 0 || nstops <= 0 || reps <= 0) {
		fprintf(stderr, "usage: %s [-n STOPS] [-r REPEATS]\n", argv[0]);
		return 2;
	}
	memset(&pr, 0, sizeof(pr));
	pr.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pr.mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	uint8_t spin[] = { 0xb9, 0, 0, 0, 0,	/* mov ecx, LOOPS */
			   0xff, 0xc9, 0x75, 0xfc,	/* 1: dec ecx; jnz 1b */
			   0xf4 };
	put32(spin + 1, LOOPS);

	unsigned v = uc_version(NULL, NULL);
	printf("unicorn %u.%u.%u; CPU time, median of %d runs\n", v >> 24,
	       (v >> 16) & 0xff, (v >> 8) & 0xff, reps);
	/* the first engine of a process runs ~1.6x slower (one-time set-up) */
	if (run(&pr, H_NONE, spin, sizeof(spin)) < 0)
		return 1;
	printf("speed: %u x (dec ecx; jnz), one translated block each\n", LOOPS);
	double base = 0;
	for (int h = H_NONE; h <= H_ALL; h++) {
		double t = best(&pr, (enum hooks)h, spin, sizeof(spin), reps);
		if (t < 0)
			return 1;
		if (h == H_NONE)
			base = t;
		printf("  %-8s %6.0f M instr/s  %5.2f ns/block  (%+.2f ns vs none)\n",
		       hook_names[h], 2.0 * LOOPS / t / 1e6, t * 1e9 / LOOPS,
		       (t - base) * 1e9 / LOOPS);
	}

	uint8_t st[] = { 0xb9, 0, 0, 0, 0,		/* mov ecx, n */
			 0x89, 0x04, 0x25, 0, 0, 2, 0,	/* 1: mov [0x20000], eax */
			 0xff, 0xc9, 0x75, 0xf5,	/* dec ecx; jnz 1b */
			 0xf4 };
	uint32_t nst = LOOPS / 20;
	put32(st + 1, nst);
	double ts = best(&pr, H_NONE, st, sizeof(st), reps);
	if (ts < 0)
		return 1;
	printf("store: %u x (mov [0x20000], eax; dec; jnz): %.1f ns per iteration, %.1f ns per store\n",
	       nst, ts * 1e9 / nst, (ts - base * nst / LOOPS) * 1e9 / nst);

	uint32_t bytes = 14u << 20;
	uint8_t cp[] = { 0xfd,				/* std */
			 0xbe, 0, 0, 0, 0,		/* mov esi, src end */
			 0xbf, 0, 0, 0, 0,		/* mov edi, dst end */
			 0xb9, 0, 0, 0, 0,		/* mov ecx, qwords */
			 0xf3, 0x48, 0xa5,		/* rep movsq */
			 0xfc, 0xf4 };			/* cld; hlt */
	put32(cp + 2, 0x100000 + bytes - 8);
	put32(cp + 7, 0x100000 + 2 * bytes - 8);
	put32(cp + 12, bytes / 8);
	memset(pr.mem + 0x100000, 0x5a, 2 * (size_t)bytes);	/* no first-touch faults */
	double tc = best(&pr, H_NONE, cp, sizeof(cp), reps);
	if (tc < 0)
		return 1;
	printf("copy: rep movsq of %u MiB backwards: %.1f ms (%.1f ns per 8-byte move)\n",
	       bytes >> 20, tc * 1e3, tc * 1e9 / (bytes / 8));

	printf("stop: %d stops of a counting loop at random moments, resumed at the reported RIP\n",
	       nstops);
	int failures = 0;
	for (int how = HOW_CROSS; how <= HOW_HOOK; how++) {
		int done = 0, bad = stops(&pr, (enum how)how, nstops, &done);
		if (bad < 0)
			return 1;
		printf("  %-34s %5d of %d stops re-executed instructions\n",
		       how_names[how], bad, done);
		if (how == HOW_HOOK && bad)
			failures++;
	}
	munmap(pr.mem, MEM_SIZE);
	return failures ? 1 : 0;
}
