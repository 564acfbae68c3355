/*
 * init: the /init of cvisor's tiny Linux initramfs (guests/linux-init).
 * A freestanding static x86-64 program, no libc: raw system calls only.
 * It opens /dev/console and /dev/kmsg (mounting devtmpfs on /dev when a
 * node is missing), prints the marker line the Linux boot tests wait for,
 *
 *     cvisor-init: hello from /init
 *
 * then the kernel's uptime as "cvisor-init: uptime N.NN s" (from
 * /proc/uptime when procfs mounts), the /proc/interrupts lines of the
 * timer and the ACPI SCI with their blanks collapsed ("cvisor-init: irq
 * 0: 57 IO-APIC 2-edge timer": which controller and pin the kernel uses,
 * for the tests), and powers the machine off with reboot(RB_POWER_OFF).
 *
 * Every line also goes to /dev/kmsg, i.e. through printk to the kernel's
 * console, which writes the UART by polling.  /dev/console is a tty: the
 * 8250 driver sends its bytes from the UART's THRE interrupt, so on a VMM
 * whose UART raises no interrupt (cvisor's kvm backend before the UART
 * line is wired to the irqchip) they never leave the kernel; the kmsg copy
 * ("[   7.05] cvisor-init: ...") still shows that /init ran.  When the power-off returns (no ACPI: the kernel
 * only halts, and an init that exits makes the kernel panic) it says so
 * and waits forever; the VMM then has to stop the VM itself.
 */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_pause 34
#define SYS_mkdir 83
#define SYS_mount 165
#define SYS_reboot 169

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_NOCTTY 0400

#define REBOOT_MAGIC1 0xfee1deadL
#define REBOOT_MAGIC2 672274793L
#define REBOOT_CMD_POWER_OFF 0x4321fedcL

#define MARKER "cvisor-init: hello from /init\n"

typedef unsigned long size_t;

static long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys5(long nr, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void put(int fd, const char *s)
{
	size_t n = slen(s);
	while (n) {
		long w = sys3(SYS_write, fd, (long)s, (long)n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* "-N" for a failed call's return value, into buf (at least 24 bytes). */
static const char *errstr(long rc, char *buf)
{
	char tmp[24];
	unsigned long v = rc < 0 ? (unsigned long)-rc : (unsigned long)rc;
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 22);
	int i = 0;
	if (rc < 0)
		buf[i++] = '-';
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
	return buf;
}

static int con_fd = -1, kmsg_fd = -1;

static void say(const char *s)
{
	put(con_fd, s);
	if (kmsg_fd >= 0)
		put(kmsg_fd, s);	/* one record per write: whole lines */
}

static int open_console(void)
{
	long fd = sys3(SYS_open, (long)"/dev/console", O_RDWR | O_NOCTTY, 0);
	if (fd >= 0)
		return (int)fd;
	/* no node in the archive: the kernel's devtmpfs has one */
	sys3(SYS_mkdir, (long)"/dev", 0755, 0);
	sys5(SYS_mount, (long)"dev", (long)"/dev", (long)"devtmpfs", 0, 0);
	fd = sys3(SYS_open, (long)"/dev/console", O_RDWR | O_NOCTTY, 0);
	return fd >= 0 ? (int)fd : 1;	/* the kernel's own fd 1, if any */
}

static void print_uptime(void)
{
	sys3(SYS_mkdir, (long)"/proc", 0555, 0);
	if (sys5(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0) < 0)
		return;
	long fd = sys3(SYS_open, (long)"/proc/uptime", O_RDONLY, 0);
	if (fd < 0)
		return;
	char buf[64];
	long n = sys3(SYS_read, fd, (long)buf, sizeof(buf) - 1);
	sys3(SYS_close, fd, 0, 0);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (long i = 0; i < n; i++)
		if (buf[i] == ' ' || buf[i] == '\n')
			buf[i] = 0;
	char line[96] = "cvisor-init: uptime ";
	size_t at = slen(line);
	for (long i = 0; buf[i] && at < sizeof(line) - 4; i++)
		line[at++] = buf[i];
	line[at++] = ' ';
	line[at++] = 's';
	line[at++] = '\n';
	line[at] = 0;
	say(line);
}

/* Does the line (its blanks collapsed) end with " name"? */
static int ends_with(const char *line, size_t n, const char *name)
{
	size_t k = slen(name);
	if (n < k + 1 || line[n - k - 1] != ' ')
		return 0;
	for (size_t i = 0; i < k; i++)
		if (line[n - k + i] != name[i])
			return 0;
	return 1;
}

static void print_interrupts(void)
{
	static char buf[16384];
	long fd = sys3(SYS_open, (long)"/proc/interrupts", O_RDONLY, 0);
	if (fd < 0)
		return;
	long n = 0, r;
	while (n < (long)sizeof(buf) - 1 &&
	       (r = sys3(SYS_read, fd, (long)buf + n, (long)sizeof(buf) - 1 - n)) > 0)
		n += r;
	sys3(SYS_close, fd, 0, 0);
	buf[n < 0 ? 0 : n] = 0;
	char line[160] = "cvisor-init: irq ";
	const size_t head = slen(line);
	size_t at = head;
	for (long i = 0; i <= n; i++) {
		char c = buf[i];
		if (c == '\n' || c == 0) {
			while (at > head && line[at - 1] == ' ')
				at--;
			if (ends_with(line, at, "timer") || ends_with(line, at, "acpi")) {
				line[at++] = '\n';
				line[at] = 0;
				say(line);
			}
			at = head;
		} else if (c == ' ' || c == '\t') {
			if (at > head && line[at - 1] != ' ' && at < sizeof(line) - 2)
				line[at++] = ' ';
		} else if (at < sizeof(line) - 2) {
			line[at++] = c;
		}
	}
}

void init_main(void);

void init_main(void)
{
	con_fd = open_console();
	long k = sys3(SYS_open, (long)"/dev/kmsg", O_WRONLY | O_NOCTTY, 0);
	if (k < 0) {
		sys5(SYS_mount, (long)"dev", (long)"/dev", (long)"devtmpfs", 0, 0);
		k = sys3(SYS_open, (long)"/dev/kmsg", O_WRONLY | O_NOCTTY, 0);
	}
	kmsg_fd = k >= 0 ? (int)k : -1;
	say(MARKER);
	print_uptime();
	print_interrupts();
	say("cvisor-init: powering off\n");
	long rc = sys5(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2,
		       REBOOT_CMD_POWER_OFF, 0, 0);
	char num[24], line[80] = "cvisor-init: reboot(RB_POWER_OFF) returned ";
	size_t at = slen(line);
	for (const char *p = errstr(rc, num); *p; p++)
		line[at++] = *p;
	line[at++] = '\n';
	line[at] = 0;
	say(line);
	for (;;)
		sys3(SYS_pause, 0, 0, 0);
}

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	xorl %ebp, %ebp\n"
	"	andq $-16, %rsp\n"
	"	call init_main\n"
	"	hlt\n");
