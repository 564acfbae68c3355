"""Shared by the wakeup tests (tests/cli, tests/daemon: no sleep-polling):
the "ok"/"FAIL" lines with their count, and a thread's voluntary context
switches (a thread blocked on a condition variable or in poll() switches
only when something wakes it)."""

failed = 0


def report(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failed += not ok


def vol_switches(pid, tid):
    """Voluntary context switches of thread tid of process pid (OSError
    when the thread is gone)."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise RuntimeError("no voluntary_ctxt_switches")
