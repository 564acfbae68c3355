/*
 * pvh: a PVH kernel: an ELF file with a XEN_ELFNOTE_PHYS32_ENTRY note
 * that points at _start.  cvisor enters it in 32-bit protected mode with
 * %ebx = hvm_start_info.  It checks the magic and version, prints the
 * command line, the modules and the memory map, and exits with 0 (1 on a
 * bad magic).
 */
#include "guest.h"

#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* The PVH entry note (Xen's elfnote.h: name "Xen", type 18). */
__asm__(".pushsection .note.Xen, \"a\", @note\n"
	"\t.balign 4\n"
	"\t.long 4, 4, 18\n"
	"\t.asciz \"Xen\"\n"
	"\t.balign 4\n"
	"\t.long _start\n"
	"\t.popsection\n");

static void print_hex64(uint64_t v)
{
	if (v >> 32) {
		print_hex((uint32_t)(v >> 32));
		print("_");
	}
	print_hex((uint32_t)v);
}

static void print_memmap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *m = (const struct hvm_memmap_entry *)
					   (uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries && i < 64; i++) {
		print("pvh: memmap ");
		print_hex64(m[i].addr);
		print(" len ");
		print_hex64(m[i].size);
		print(" type ");
		print_dec(m[i].type);
		print("\n");
	}
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	const struct hvm_start_info *si = (const struct hvm_start_info *)
					  (uintptr_t)r->ebx;
	if (si->magic != HVM_START_MAGIC) {
		print("pvh: bad magic ");
		print_hex(si->magic);
		print("\n");
		guest_exit(1);
	}
	print("pvh: magic ok, version ");
	print_dec(si->version);
	print(", start_info at ");
	print_hex(r->ebx);
	print("\n");
	if (si->cmdline_paddr) {
		print("pvh: cmdline=\"");
		print((const char *)(uintptr_t)si->cmdline_paddr);
		print("\"\n");
	}
	print("pvh: modules=");
	print_dec(si->nr_modules);
	print("\n");
	print_memmap(si);
	print("pvh: done\n");
	guest_exit(0);
}
