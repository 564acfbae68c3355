/*
 * ucfloor: the smallest software-CPU VMM on Unicorn — the floor cvisor's
 * emu backend is measured against (like minivmm is for KVM).
 *
 * Runs a flat real-mode image at 1000:0000 with 1 MiB of RAM: COM1 LSR
 * (0x3fd) reads 0x60, THR (0x3f8) writes go to stdout (buffered per line
 * with -b, else one write(2) per byte), port 0xf4 ends the run with the
 * byte as exit status.  Every other port reads 0xff.
 *
 * Usage: ucfloor [-b] image.bin
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unicorn/unicorn.h>

#define MEM_SIZE (1u << 20)

struct floor {
	uc_engine *uc;
	int buffered;
	char obuf[4096];
	size_t olen;
	int exit_code;
};

static void flush_out(struct floor *f)
{
	size_t off = 0;
	while (off < f->olen) {
		ssize_t n = write(1, f->obuf + off, f->olen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	f->olen = 0;
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
	(void)uc;
	(void)size;
	(void)ud;
	return port == 0x3fd ? 0x60 : 0xffffffffu;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		     void *ud)
{
	struct floor *f = ud;
	(void)size;
	if (port == 0x3f8) {
		f->obuf[f->olen++] = (char)value;
		if (!f->buffered || value == '\n' || f->olen == sizeof(f->obuf))
			flush_out(f);
	} else if (port == 0xf4) {
		f->exit_code = (int)(value & 0xff);
		uc_emu_stop(uc);
	}
}

int main(int argc, char **argv)
{
	struct floor f = { .exit_code = -1 };
	int ai = 1;
	if (argc > 1 && !strcmp(argv[1], "-b")) {
		f.buffered = 1;
		ai++;
	}
	if (ai >= argc) {
		fprintf(stderr, "usage: %s [-b] image.bin\n", argv[0]);
		return 2;
	}
	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int fd = open(argv[ai], O_RDONLY);
	if (mem == MAP_FAILED || fd < 0) {
		perror(argv[ai]);
		return 2;
	}
	ssize_t n = read(fd, mem + 0x10000, MEM_SIZE - 0x10000);
	close(fd);
	if (n <= 0) {
		perror("read");
		return 2;
	}
	uc_hook hin, hout;
	if (uc_open(UC_ARCH_X86, UC_MODE_16, &f.uc) ||
	    uc_mem_map_ptr(f.uc, 0, MEM_SIZE, UC_PROT_ALL, mem) ||
	    uc_hook_add(f.uc, &hin, UC_HOOK_INSN, (void *)hook_in, &f, 1, 0,
			UC_X86_INS_IN) ||
	    uc_hook_add(f.uc, &hout, UC_HOOK_INSN, (void *)hook_out, &f, 1, 0,
			UC_X86_INS_OUT)) {
		fprintf(stderr, "unicorn setup failed\n");
		return 2;
	}
	uint32_t cs = 0x1000, sp = 0x7000, fl = 2;
	uc_reg_write(f.uc, UC_X86_REG_CS, &cs);
	uc_reg_write(f.uc, UC_X86_REG_ESP, &sp);
	uc_reg_write(f.uc, UC_X86_REG_EFLAGS, &fl);
	uc_err e = uc_emu_start(f.uc, 0x10000, 0, 0, 0);
	flush_out(&f);
	if (e != UC_ERR_OK && f.exit_code < 0)
		fprintf(stderr, "emulation stopped: %s\n", uc_strerror(e));
	uc_close(f.uc);
	return f.exit_code < 0 ? 1 : f.exit_code;
}
