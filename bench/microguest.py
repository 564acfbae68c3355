#!/usr/bin/env python3
"""cvisor against its peers on the pioguest micro-guest, in one run.

Needs ../shared/peers (the micro-guest, minivmm and the bootmark.py
harness): benchmarks compare against peers, so they use the peers' kit.
Every VMM boots the same 64 KiB real-mode image; the figures:

  first     process start -> "INIT-REACHED" on the console (ms)
  base      guest-only loop: NLOOP x (dec ecx; jnz) -> guest instr/s
  pio       100000 x OUT to an unassigned port (us/iter)
  p80       100000 x OUT to port 0x80 (a device in every VMM)
  serial    204800 bytes through COM1, polled LSR+THR (KiB/s)
  rss       peak RSS of the VMM process (VmHWM)

NLOOP (--nloop) is 100000 by default: on a software CPU that base window
lasts 0.1-0.4 ms, so console latency weighs on its instr/s; use --nloop
10000000 --no-kvm for the software CPU's guest speed (10 M exits per loop
would take minutes on KVM).

Software CPU: cvisor --accel emu vs. ucfloor (a bare Unicorn loop, bench/
ucfloor.c) and QEMU TCG.  KVM (where /dev/kvm exists): cvisor --accel kvm
vs. minivmm (the bare KVM_RUN loop).  Prints medians and cvisor/peer ratios.

Usage: bench/microguest.py --cvisor BUILD/src/cli/cvisor --ucfloor
       BUILD/bench/ucfloor [-n RUNS] [--nloop N] [--peers DIR] [--no-qemu]
       [--no-kvm]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile

from bootmarkrun import bootmark as run_bootmark
from bootmarkrun import find_peers, kvm_usable, read_runs

N = 100000


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def bootmark(peers, label, cmd, runs, csvpath, n):
    return run_bootmark(peers, label, "INIT-REACHED", cmd, runs, csvpath, 120,
                        windows=(f"base=BASE-START:BASE-END:{n}",
                                 f"pio=PIO-START:PIO-END:{n}",
                                 f"p80=P80-START:P80-END:{n}",
                                 "serial=SERIAL-START:SERIAL-END"))


def medians(csvpath, n):
    out = {}
    for label, m in read_runs(csvpath).items():
        med = {k: statistics.median(v) for k, v in m.items()}
        res = {"first_ms": med.get("marker_ms"),
               "rss_mb": med.get("maxrss_kb", 0) / 1024,
               "pio_us": med.get("pio_us_per_iter"),
               "p80_us": med.get("p80_us_per_iter")}
        if med.get("base_ms"):
            res["mips"] = 2 * n / (med["base_ms"] / 1000) / 1e6
        if med.get("serial_ms"):
            res["serial_kibs"] = med["serial_bytes"] / 1024 / (med["serial_ms"] / 1000)
        out[label] = res
    return out


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(res, pairs):
    cols = [("first_ms", "first ms", ".1f"), ("pio_us", "pio us", ".3f"),
            ("p80_us", "p80 us", ".3f"), ("serial_kibs", "serial KiB/s", ".0f"),
            ("mips", "guest Minstr/s", ".0f"), ("rss_mb", "peak RSS MB", ".1f")]
    print(f"{'VMM':22s}" + "".join(f"{c[1]:>15s}" for c in cols))
    for label, r in res.items():
        print(f"{label:22s}" + "".join(f"{fmt(r.get(c[0]), c[2]):>15s}" for c in cols))
    print()
    for mine, peer in pairs:
        if mine not in res or peer not in res:
            continue
        a, b = res[mine], res[peer]
        parts = []
        for key, name in (("first_ms", "first output"), ("pio_us", "port I/O"),
                          ("rss_mb", "peak RSS")):
            if a.get(key) and b.get(key):
                parts.append(f"{name} {a[key] / b[key]:.2f}x")
        if a.get("serial_kibs") and b.get("serial_kibs"):
            parts.append(f"serial throughput {a['serial_kibs'] / b['serial_kibs']:.2f}x")
        print(f"ratio {mine} / {peer}: " + ", ".join(parts))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvisor", required=True)
    ap.add_argument("--ucfloor", required=True)
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--nloop", type=int, default=N,
                    help="iterations of the base/pio/p80 loops")
    ap.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "peers"))
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--no-kvm", action="store_true")
    a = ap.parse_args()
    peers = find_peers(a.peers)
    tmp = tempfile.mkdtemp(prefix="cvisor-bench-")
    sh(["bash", os.path.join(peers, "microguest", "build.sh"), tmp,
        f"-DNLOOP={a.nloop}", "-DSLINES=3200"], stdout=subprocess.DEVNULL)
    guest = os.path.join(tmp, "pioguest.bin")
    for accel in ("emu", "kvm"):
        with open(os.path.join(tmp, f"{accel}.toml"), "w") as f:
            f.write(f'[base]\nname = "pioguest"\ncpu_num = 1\naccel = "{accel}"\n'
                    f'[kernel]\nkernel_path = "{guest}"\nkernel_load_addr = 0x10000\n'
                    'entry_point = 0x10000\nboot_protocol = "raw"\ncpu_mode = "real"\n'
                    'memory_regions = [[0x0, 0x100000, 0x7, 0]]\n')
    state = os.path.join(tmp, "state")
    csvpath = os.path.join(tmp, "runs.csv")
    cv = [os.path.abspath(a.cvisor), "run", "-q", "--state-dir", state]
    pairs = []
    print(f"pioguest, {a.runs} runs each (median); NLOOP={a.nloop}", flush=True)
    bootmark(peers, "cvisor-emu", cv + [os.path.join(tmp, "emu.toml")], a.runs, csvpath, a.nloop)
    bootmark(peers, "ucfloor (bare unicorn)", [os.path.abspath(a.ucfloor), "-b", guest], a.runs, csvpath, a.nloop)
    pairs.append(("cvisor-emu", "ucfloor (bare unicorn)"))
    qemu = shutil.which("qemu-system-x86_64")
    if qemu and not a.no_qemu:
        bootmark(peers, "qemu-tcg microvm",
                 [qemu, "-M", "microvm", "-accel", "tcg", "-cpu", "qemu64", "-m", "256",
                  "-smp", "1", "-bios", guest, "-nographic", "-nodefaults", "-serial",
                  "stdio", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4"],
                 a.runs, csvpath, a.nloop)
        pairs.append(("cvisor-emu", "qemu-tcg microvm"))
    if kvm_usable() and not a.no_kvm:
        mini = os.path.join(tmp, "minivmm")
        sh(["gcc", "-O2", "-o", mini, os.path.join(peers, "minivmm", "minivmm.c")])
        bootmark(peers, "cvisor-kvm", cv + [os.path.join(tmp, "kvm.toml")], a.runs, csvpath, a.nloop)
        bootmark(peers, "minivmm (bare KVM)", [mini, "-b", guest], a.runs, csvpath, a.nloop)
        pairs.append(("cvisor-kvm", "minivmm (bare KVM)"))
    print()
    table(medians(csvpath, a.nloop), pairs)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
