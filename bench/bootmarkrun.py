"""What bench_linux.py and microguest.py share: finding the peers' kit,
running its bootmark.py harness for one VMM, reading its CSV, and
whether /dev/kvm is usable."""
import csv
import os
import subprocess
import sys


def find_peers(path):
    """The peers' kit (with bootmark.py) as an absolute path, or exit."""
    peers = os.path.abspath(path)
    if not os.path.exists(os.path.join(peers, "bootmark.py")):
        sys.exit(f"peers kit not found at {peers} (--peers DIR)")
    return peers


def bootmark(peers, label, marker, cmd, runs, csvpath, timeout,
             windows=()):
    """Run bootmark.py over cmd; True when every run saw the marker (and
    every window's markers).  A failure is reported with the VMM's last
    output lines (or the harness's own words when there are none)."""
    log = csvpath + ".log"
    w = [a for win in windows for a in ("--window", win)]
    r = subprocess.run([sys.executable, os.path.join(peers, "bootmark.py"),
                        "-n", str(runs), "-m", marker, *w, "--timeout",
                        str(timeout), "--label", label, "--csv", csvpath,
                        "--log", log, "--quiet-runs", "--", *cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        try:
            with open(log, errors="replace") as f:
                last = [l for l in f.read().splitlines() if l.strip()][-2:]
        except OSError:
            last = []
        last = last or r.stdout.strip().splitlines()[-5:]
        print(f"  {label}: did not reach \"{marker}\" in every run; "
              f"its last output:\n    " + "\n    ".join(last), flush=True)
        return False
    return True


def read_runs(csvpath):
    """bootmark's CSV as label -> metric -> [values]."""
    data = {}
    with open(csvpath) as f:
        for row in csv.DictReader(f, fieldnames=["label", "run", "metric", "value"]):
            data.setdefault(row["label"], {}).setdefault(
                row["metric"], []).append(float(row["value"]))
    return data


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False
