#!/usr/bin/env python3
"""`cvisor run` waits without a timer (issue 4: no sleep-polling).

Usage: wakeup_test.py CVISOR   (env CVISOR_TEST_ACCEL=emu|kvm, default emu)

The `prompt` guest prints "prompt: start\\n", then "prompt> " without a
newline, then spins inside the guest: only `cvisor run`'s own delayed flush
of a partial line can show the prompt.
  1. the prompt shows within PROMPT_MAX_MS of the line before it;
  2. the main thread (tid = pid), waiting for the VM, makes at most
     IDLE_MAX voluntary context switches in IDLE_S seconds.  A thread
     blocked on a condition variable switches only when something wakes
     it; the old wait woke every 50 ms (~20 in 1 s, measured 20-21), the
     event-driven one is expected at 0.  The bound leaves room for a
     stray wake-up or two (e.g. a futex hand-over), not for any period
     shorter than 200 ms;
  3. the first SIGTERM is acted on at once: the time from the signal to
     the "stopping VM" line on stderr, over RUNS runs (--stop-timeout 0).
     The old loop noticed the signal at its next 50 ms tick, uniformly
     0-50 ms later, i.e. >= SLOW_MS in ~80% of runs; here a run is slow
     only when the host did not schedule us.  At most SLOW_MAX of RUNS
     may be >= SLOW_MS (the old code passes that with p < 0.1%);
  4. a partial line still waiting for its flush when the stop begins is
     flushed on time, not when the stop ends: SIGTERM as soon as
     "prompt: start" shows (--stop-timeout 20; the prompt guest never
     powers off), then "prompt> " within STOP_PROMPT_MAX_MS of the
     signal.  The old main thread slept in the graceful stop and printed
     it when the stop was forced, 20 s later.  (When the flush beat the
     signal this passes either way; the test sees the line < 1 ms after
     it was written, the flush comes 30 ms later.)
  5. a flooding guest (hostile_flood): the main thread wakes for partial
     lines at most FLOOD_MAX times in FLOOD_S seconds, i.e. once per
     flush period (the notice and its deadline: ~67 a second), not once
     per line; the old console told it of every line, 20 000-36 000
     wake-ups a second (measured).
"""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)),
                                "..", "common"))
import wakeutil  # noqa: E402
from wakeutil import report  # noqa: E402

PROMPT_MAX_MS = 200
IDLE_S = 1.0
IDLE_MAX = 4
RUNS = 10
SLOW_MS = 10
SLOW_MAX = 3
STOP_PROMPT_MAX_MS = 1000
FLOOD_S = 1.0
FLOOD_MAX = 200

cv = sys.argv[1]
accel = os.environ.get("CVISOR_TEST_ACCEL", "emu")
tmp = tempfile.mkdtemp()


class Run:
    """cvisor run --image prompt, its stdout and stderr read as they come."""

    def __init__(self, stop_timeout="0"):
        self.p = subprocess.Popen(
            [cv, "run", "--accel", accel, "--state-dir", tmp + "/state",
             "--image", "prompt", "--stop-timeout", stop_timeout],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.fo, self.fe = self.p.stdout.fileno(), self.p.stderr.fileno()
        self.out = {self.fo: b"", self.fe: b""}

    def wait_for(self, stream, text, timeout=60.0):
        """Monotonic time (s) at which text showed on stream, or None."""
        fd = stream.fileno()
        end = time.monotonic() + timeout
        while text not in self.out[fd]:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select(list(self.out), [], [], left)
            now = time.monotonic()
            for f in r:
                b = os.read(f, 65536)
                if b:
                    self.out[f] += b
                elif f == fd:
                    return None
            if text in self.out[fd]:
                return now
        return time.monotonic()

    def finish(self):
        try:
            o, e = self.p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            o, e = self.p.communicate()
        self.out[self.fo] += o
        self.out[self.fe] += e
        return self.p.returncode


# kvm where it is not usable: skip like run_test.sh
if accel == "kvm":
    pr = subprocess.run([cv, "run", "--accel", "kvm", "--image", "exitcode",
                         "--state-dir", tmp + "/state", "-q"],
                        capture_output=True, text=True)
    if "not usable" in pr.stderr:
        print("SKIP: kvm not usable here: " + pr.stderr.strip())
        sys.exit(77)

slow = []
for i in range(RUNS):
    r = Run()
    t_line = r.wait_for(r.p.stdout, b"prompt: start\n")
    t_prompt = r.wait_for(r.p.stdout, b"prompt> ", 10.0)
    if t_line is None or t_prompt is None:
        report(False, f"run {i}: the prompt never showed; stdout "
               f"{r.out[r.fo]!r} stderr {r.out[r.fe]!r}")
        r.finish()
        break
    if i == 0:
        ms = (t_prompt - t_line) * 1000
        report(ms < PROMPT_MAX_MS, f"the partial line 'prompt> ' shows "
               f"{ms:.1f} ms after the line before it (< {PROMPT_MAX_MS})")
        time.sleep(0.2)
        v0 = wakeutil.vol_switches(r.p.pid, r.p.pid)
        time.sleep(IDLE_S)
        v1 = wakeutil.vol_switches(r.p.pid, r.p.pid)
        report(v1 - v0 <= IDLE_MAX, f"idle main thread: {v1 - v0} "
               f"voluntary context switches in {IDLE_S} s (<= {IDLE_MAX})")
    t0 = time.monotonic()
    r.p.send_signal(signal.SIGTERM)
    t_stop = r.wait_for(r.p.stderr, b"stopping VM 'prompt'", 30.0)
    st = r.finish()
    if t_stop is None or st != 128 + signal.SIGTERM:
        report(False, f"run {i}: SIGTERM: status {st}, stderr "
               f"{r.out[r.fe]!r}")
        break
    slow.append((t_stop - t0) * 1000)
else:
    n = sum(ms >= SLOW_MS for ms in slow)
    report(n <= SLOW_MAX, f"SIGTERM acted on: {n} of {RUNS} runs took >= "
           f"{SLOW_MS} ms (<= {SLOW_MAX}); ms: "
           + " ".join(f"{ms:.1f}" for ms in slow))

r = Run("20")
t_line = r.wait_for(r.p.stdout, b"prompt: start\n")
t0 = time.monotonic()
r.p.send_signal(signal.SIGTERM)
t_prompt = r.wait_for(r.p.stdout, b"prompt> ", STOP_PROMPT_MAX_MS / 1000)
r.p.send_signal(signal.SIGINT)		# forces at once
st = r.finish()
report(t_line is not None and t_prompt is not None
       and st == 128 + signal.SIGTERM,
       "a partial line waiting when SIGTERM comes shows "
       + (f"{(t_prompt - t0) * 1000:.1f} ms" if t_prompt else "not")
       + f" after it (< {STOP_PROMPT_MAX_MS} ms; stop timeout 20 s); "
       f"status {st}")

# 5. the flooding guest (see the top)
p = subprocess.Popen(
    [cv, "run", "--accel", accel, "--state-dir", tmp + "/state",
     "--image", "hostile_flood", "-q", "--stop-timeout", "0"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
pfd = p.stdout.fileno()


def drain(secs):
    """Read the flood's stdout for secs seconds; the lines seen."""
    n = 0
    end = time.monotonic() + secs
    while (left := end - time.monotonic()) > 0:
        if select.select([pfd], [], [], left)[0]:
            b = os.read(pfd, 1 << 16)
            if not b:
                break
            n += b.count(b"\n")
    return n


drain(0.3)
try:
    v0 = wakeutil.vol_switches(p.pid, p.pid)
    lines = drain(FLOOD_S)
    v1 = wakeutil.vol_switches(p.pid, p.pid)
except OSError as e:
    v0, v1, lines = 0, FLOOD_MAX + 1, 0
    report(False, f"flooding guest: {e}")
p.send_signal(signal.SIGTERM)
while drain(1.0):
    pass
p.wait(timeout=30)
report(lines > 0 and v1 - v0 <= FLOOD_MAX,
       f"flooding guest: the main thread made {v1 - v0} voluntary context "
       f"switches in {FLOOD_S} s while {lines} lines came (<= {FLOOD_MAX})")

subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if wakeutil.failed else 0)
