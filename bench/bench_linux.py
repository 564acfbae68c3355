#!/usr/bin/env python3
"""Time to a stock Linux kernel's first serial output: cvisor vs. QEMU.

Every VMM boots the same Debian bzImage (tests/boot/fetch_linux.sh: one
download per machine, ~/.cache/cvisor) with the project's tiny initramfs,
256 MiB, one vCPU, the same command line, in one run.  The figure is the
wall time from process start to a line on the console (bootmark.py from
../shared/peers, which spawns the VMM, timestamps the marker and kills it):

  setup     "Probing EDD" -- the real-mode setup code's first line (the
            peers' "time to kernel entry"; kvmtool 23.9 ms, QEMU microvm
            57 ms on this host's KVM, ../shared/peers/README.md)
  decomp    "KASLR disabled" -- the decompressor's first line ("nokaslr"
            is on the command line; cvisor's 32-bit entry skips the setup
            code, QEMU runs the setup code first).  Software CPU only: on
            a nested PVM host the decompressor runs in KVM's emulator.

Software CPU: cvisor --accel emu vs. QEMU TCG (-M microvm, qboot).  KVM
(where /dev/kvm is usable): cvisor --accel kvm vs. QEMU -accel kvm
-M microvm.  cvisor enters the setup code through its 16-bit entry
(cpu_mode = "real") for "setup" and the 32-bit entry for "decomp".  A VMM
that cannot reach a marker (e.g. the emu backend before it delivers
real-mode BIOS interrupts) is reported as such, with its last words.
Prints medians, min-max and cvisor/QEMU ratios.

Usage: bench/bench_linux.py --cvisor BUILD/src/cli/cvisor
       [--kernel BZIMAGE] [--initrd CPIO] [-n RUNS] [--peers DIR]
       [--no-kvm] [--no-emu]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from bootmarkrun import bootmark, find_peers, kvm_usable, read_runs

HERE = os.path.dirname(os.path.abspath(__file__))
CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr"
# "EDD": QEMU's firmware (qboot) copies the setup code's BIOS teletype
# output to the UART too, so there the line reads "PPrroobbiinngg  EEDDDD"
MARKERS = {"setup": "EDD", "decomp": "KASLR disabled"}


def stats(csvpath):
    """label -> (median, min, max) of marker_ms, and peak RSS median."""
    out = {}
    for label, m in read_runs(csvpath).items():
        v = m.get("marker_ms")
        if v:
            out[label] = (statistics.median(v), min(v), max(v),
                          statistics.median(m.get("maxrss_kb", [0])) / 1024)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvisor", required=True)
    ap.add_argument("--kernel", help="bzImage (default: fetch_linux.sh's)")
    ap.add_argument("--initrd", help="initramfs (default: BUILD/guests/linux-init/initramfs.cpio)")
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--peers", default=os.path.join(HERE, "..", "..", "shared", "peers"))
    ap.add_argument("--no-kvm", action="store_true")
    ap.add_argument("--no-emu", action="store_true")
    ap.add_argument("--timeout", type=float, default=60.0, help="per run, s")
    a = ap.parse_args()
    peers = find_peers(a.peers)
    cvisor = os.path.abspath(a.cvisor)
    kernel = a.kernel
    if not kernel:
        r = subprocess.run(["sh", os.path.join(HERE, "..", "tests", "boot", "fetch_linux.sh")],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode:
            sys.exit(f"no kernel: {r.stdout.strip()}")
        kernel = r.stdout.strip().splitlines()[-1]
    kernel = os.path.abspath(kernel)
    initrd = a.initrd or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(cvisor))),
                                      "guests", "linux-init", "initramfs.cpio")
    if not os.path.exists(initrd):
        sys.exit(f"no initramfs at {initrd} (--initrd; built as guests/linux-init/initramfs.cpio)")
    initrd = os.path.abspath(initrd)
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        print("note: no qemu-system-x86_64 (Debian package qemu-system-x86): cvisor rows only")

    tmp = tempfile.mkdtemp(prefix="cvisor-bench-linux-")
    csvpath = os.path.join(tmp, "runs.csv")
    state = os.path.join(tmp, "state")

    def toml(accel, mode):
        p = os.path.join(tmp, f"{accel}-{mode}.toml")
        with open(p, "w") as f:
            f.write(f'[base]\nname = "linux"\ncpu_num = 1\naccel = "{accel}"\n'
                    f'[kernel]\nentry_point = 0x100000\nkernel_path = "{kernel}"\n'
                    'kernel_load_addr = 0x100000\nboot_protocol = "linux"\n'
                    f'cpu_mode = "{mode}"\ncmdline = "{CMDLINE}"\n'
                    f'ramdisk_path = "{initrd}"\nramdisk_load_addr = 0x8000000\n'
                    'memory_regions = [[0x0, 0x10000000, 0x7, 0]]\n'
                    '[devices]\ninterrupt_mode = "emu"\n'
                    'emu_devices = [["com1", 0x3f8, 0x8, 4, 0x2, []]]\n')
        return p

    accels = []
    if not a.no_emu:
        accels.append(("emu", ["-accel", "tcg", "-cpu", "qemu64"]))
    if not a.no_kvm:
        if kvm_usable():
            accels.append(("kvm", ["-accel", "kvm", "-cpu", "host"]))
        else:
            print("note: /dev/kvm is not usable here: no kvm rows")
    pvm = os.path.exists("/sys/module/kvm_pvm")
    print(f"kernel {kernel}\ninitramfs {initrd}\ncmdline \"{CMDLINE}\"\n"
          f"{a.runs} runs each; host /dev/kvm: "
          f"{'nested PVM (kvm_pvm)' if pvm else 'kvm' if kvm_usable() else 'none'}\n",
          flush=True)
    rows = []   # (accel, what, cvisor label, qemu label)
    for accel, qargs in accels:
        for what, mode in (("setup", "real"), ("decomp", "protected")):
            if accel == "kvm" and what == "decomp":
                continue
            marker = MARKERS[what]
            cl = f"cvisor-{accel} {what}"
            bootmark(peers, cl, marker,
                     [cvisor, "run", "-q", "--state-dir", state, toml(accel, mode)],
                     a.runs, csvpath, a.timeout)
            ql = None
            if qemu:
                ql = f"qemu-{'tcg' if accel == 'emu' else 'kvm'} microvm {what}"
                bootmark(peers, ql, marker,
                         [qemu, "-M", "microvm", *qargs, "-m", "256", "-smp", "1",
                          "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
                          "-nographic", "-nodefaults", "-serial", "stdio",
                          "-no-reboot"],
                         a.runs, csvpath, a.timeout)
            rows.append((accel, what, cl, ql))
    res = stats(csvpath) if os.path.exists(csvpath) else {}
    print(f"\n{'VMM':28s}{'marker':>34s}{'median ms':>11s}{'min-max ms':>16s}{'RSS MB':>8s}")
    for accel, what, cl, ql in rows:
        for label in (cl, ql):
            if not label:
                continue
            r = res.get(label)
            cell = (f"{r[0]:11.1f}{f'{r[1]:.1f}-{r[2]:.1f}':>16s}{r[3]:8.1f}"
                    if r else f"{'not reached':>27s}")
            print(f"{label:28s}{MARKERS[what]:>34s}{cell}")
    print()
    for accel, what, cl, ql in rows:
        if ql and cl in res and ql in res:
            print(f"ratio {cl} / {ql}: {res[cl][0] / res[ql][0]:.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
