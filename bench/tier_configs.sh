# tier_configs.sh: the VM configs of the kvm-tier benchmarks, sourced by
# bench/tier_bench.sh and bench/tier_repeat.sh (one definition for both).

# The Linux command line of the tier benchmarks (QEMU gets the same one).
TIER_LINUX_CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr"

# tier_micro_toml FILE IMAGE: the peers' micro-guest, real mode at 1000:0000.
tier_micro_toml() {
	cat >"$1" <<EOT
[base]
name = "pioguest"
cpu_num = 1
accel = "kvm"
[kernel]
kernel_path = "$2"
kernel_load_addr = 0x10000
entry_point = 0x10000
boot_protocol = "raw"
cpu_mode = "real"
memory_regions = [[0x0, 0x100000, 0x7, 0]]
EOT
}

# tier_linux_toml FILE INITRD: the tier's own kernel through its 16-bit
# entry, 256 MiB, COM1 with interrupts.
tier_linux_toml() {
	cat >"$1" <<EOT
[base]
name = "linux"
cpu_num = 1
accel = "kvm"
[kernel]
entry_point = 0x100000
kernel_path = "/linux/vmlinuz"
kernel_load_addr = 0x100000
boot_protocol = "linux"
cpu_mode = "real"
cmdline = "$TIER_LINUX_CMDLINE"
ramdisk_path = "$2"
ramdisk_load_addr = 0x8000000
memory_regions = [[0x0, 0x10000000, 0x7, 0]]
[devices]
interrupt_mode = "emu"
emu_devices = [["com1", 0x3f8, 0x8, 4, 0x2, []]]
EOT
}
