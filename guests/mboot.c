/*
 * mboot: a multiboot 1 kernel (an ELF file whose header asks for memory
 * information, no a.out addresses), booted by cvisor's multiboot loader.
 * It checks the magic in %eax, then prints what the information structure
 * at %ebx says: mem_lower/mem_upper, the command line, the boot loader
 * name, the modules and the memory map; exits with 0 (1 on a bad magic,
 * 2 when a field it needs is missing).  32-bit protected mode.
 */
#include "guest.h"

#define MB_BOOT_MAGIC 0x2BADB002u
#define MBI_MEM 0x1u
#define MBI_CMDLINE 0x4u
#define MBI_MODS 0x8u
#define MBI_MMAP 0x40u
#define MBI_LOADER 0x200u

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr;
	uint32_t config_table, boot_loader_name;
};

struct mb_mmap {
	uint32_t size;
	uint32_t addr_lo, addr_hi, len_lo, len_hi;
	uint32_t type;
} __attribute__((packed));

static void print_hex64(uint32_t hi, uint32_t lo)
{
	if (hi) {
		print_hex(hi);
		print("_");
	}
	print_hex(lo);
}

static void print_mmap(const struct mb_info *mbi)
{
	uint32_t pos = 0, n = 0;
	while (pos + sizeof(struct mb_mmap) <= mbi->mmap_length && n < 64) {
		const struct mb_mmap *e = (const struct mb_mmap *)(uintptr_t)
					  (mbi->mmap_addr + pos);
		print("mboot: mmap ");
		print_hex64(e->addr_hi, e->addr_lo);
		print(" len ");
		print_hex64(e->len_hi, e->len_lo);
		print(" type ");
		print_dec(e->type);
		print("\n");
		pos += e->size + 4;
		n++;
	}
}

static void print_info(const struct mb_info *mbi)
{
	print("mboot: mem_lower=");
	print_dec(mbi->mem_lower);
	print(" KiB mem_upper=");
	print_dec(mbi->mem_upper);
	print(" KiB\n");
	if (mbi->flags & MBI_CMDLINE) {
		print("mboot: cmdline=\"");
		print((const char *)(uintptr_t)mbi->cmdline);
		print("\"\n");
	}
	if (mbi->flags & MBI_LOADER) {
		print("mboot: loader=");
		print((const char *)(uintptr_t)mbi->boot_loader_name);
		print("\n");
	}
	if (mbi->flags & MBI_MODS) {
		print("mboot: modules=");
		print_dec(mbi->mods_count);
		print("\n");
	}
	if (mbi->flags & MBI_MMAP)
		print_mmap(mbi);
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	if (r->eax != MB_BOOT_MAGIC) {
		print("mboot: bad magic ");
		print_hex(r->eax);
		print("\n");
		guest_exit(1);
	}
	const struct mb_info *mbi = (const struct mb_info *)(uintptr_t)r->ebx;
	print("mboot: magic ok, info at ");
	print_hex(r->ebx);
	print("\n");
	if (!(mbi->flags & MBI_MEM)) {
		print("mboot: no memory information\n");
		guest_exit(2);
	}
	print_info(mbi);
	print("mboot: done\n");
	guest_exit(0);
}
