"""appose-python's side of bench/compare and bench/task_rtt.

appose-python's own Service drives appose-python's worker, launched with the same command line
the C++ benchmarks use, and everything is timed here, inside Python, so that the figures leave
out the interpreter's own start-up. Each job prints one line: its name, then its samples
(microseconds, or tasks per second for `inflight`). Warm-up samples are not printed.

Usage: python peer_bench.py JOB [JOB ...], where JOB is one of
  rtt:ITERATIONS:WARMUP   empty-task round trips on one service
  startup:RUNS            a fresh service until its first empty task completes (one untimed run
                          first)
  handoff:BYTES:ITERATIONS:WARMUP
                          a float32 NDArray of BYTES passed to a task that reads its last
                          element (allocation not timed)
  json:COUNT:ITERATIONS   a list of COUNT seven-digit integers to `len(data)` (one untimed run
                          first; building the list is not timed, encoding it is)
  inflight:TOTAL:WINDOW[:locked]
                          tasks per second with WINDOW in flight; one rate per WINDOW
                          completions, the first and last windows left out (as the C++ side).
                          If the oldest task stays unfinished for STALL seconds, the job fails.
                          `locked`: the worker's print() runs under a lock (see LOCKED_WORKER)
A job that fails prints its name, "!", and why; the next job still runs.
"""

import collections
import sys
import time

from appose.service import Service
from appose.shm import NDArray

WORKER = "import appose.python_worker; appose.python_worker.main()"

# appose-python's worker writes each response with print(), which writes the text and the
# newline separately; tasks run on their own threads, so with many in flight two responses can
# interleave into one unreadable line and their tasks never finish. This variant serialises
# print() with a lock, as appose-cpp's private-channel bootstrap does, so that the services can
# be compared on throughput at all.
LOCKED_WORKER = """import builtins, threading
import appose.python_worker as w
lock = threading.Lock()
def locked_print(*args, **kwargs):
    with lock:
        builtins.print(*args, **kwargs)
w.print = locked_print
w.main()"""

# How long the oldest task in flight may stay unfinished (as kStall in bench/measure.hpp).
STALL = 3.0


def service(code=WORKER):
    return Service(".", None, sys.executable, "-c", code)


def stop(s):
    s.close()
    s.wait_for()


def micros(t0):
    return (time.perf_counter() - t0) * 1e6


def rtt(iterations, warmup):
    s = service()
    out = []
    for i in range(iterations + warmup):
        t0 = time.perf_counter()
        s.task("None").wait_for()
        d = micros(t0)
        if i >= warmup:
            out.append(d)
    stop(s)
    return out


def startup(runs):
    out = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        s = service()
        s.task("None").wait_for()
        d = micros(t0)
        stop(s)
        if i > 0:
            out.append(d)
    return out


def handoff(nbytes, iterations, warmup):
    n = nbytes // 4
    data = NDArray("float32", [n])
    view = data.ndarray()
    view[-1] = 1.5
    # The view must go before the block is closed: a live export would keep it mapped.
    del view
    s = service()
    out = []
    for i in range(iterations + warmup):
        task = s.task("float(data.ndarray()[-1])", {"data": data})
        t0 = time.perf_counter()
        task.wait_for()
        d = micros(t0)
        if i == 0 and task.result() != 1.5:
            raise RuntimeError(f"the worker read {task.result()!r}, not 1.5")
        if i >= warmup:
            out.append(d)
    stop(s)
    data.shm.dispose()
    return out


def json_input(count, iterations):
    data = [1000000 + (i * 7919) % 9000000 for i in range(count)]
    s = service()
    out = []
    for i in range(iterations + 1):
        task = s.task("len(data)", {"data": data})
        t0 = time.perf_counter()
        task.wait_for()
        d = micros(t0)
        if i == 0 and task.result() != count:
            raise RuntimeError(f"the worker saw {task.result()!r} items, not {count}")
        if i > 0:
            out.append(d)
    stop(s)
    return out


def inflight(total, window, variant=""):
    s = service(LOCKED_WORKER if variant == "locked" else WORKER)
    s.task("None").wait_for()  # started and warm
    ring = collections.deque()
    done = []
    started = 0

    def launch():
        nonlocal started
        ring.append(s.task("None").start())
        started += 1

    while started < window:
        launch()
    while ring:
        task = ring.popleft()
        # Task.wait_for() has no deadline; this is the same wait with one.
        with task.cv:
            if not task.cv.wait_for(lambda: task.status.is_finished(), timeout=STALL):
                invalid = len(s.invalid_lines())
                s.kill()
                raise RuntimeError(
                    f"stalled: a task unfinished after {STALL:.0f} s, {len(done)} of {total} "
                    f"completed, {invalid} invalid lines from the worker"
                )
        task.wait_for()  # raises if it failed
        done.append(time.perf_counter())
        if started < total:
            launch()
    stop(s)
    rates = []
    k = 1
    while (k + 2) * window <= len(done):
        rates.append(window / (done[(k + 1) * window - 1] - done[k * window - 1]))
        k += 1
    return rates


JOBS = {
    "rtt": rtt,
    "startup": startup,
    "handoff": handoff,
    "json": json_input,
    "inflight": inflight,
}


def main(argv):
    for job in argv:
        name, *params = job.split(":")
        args = [int(p) if p.isdigit() else p for p in params]
        try:
            samples = JOBS[name](*args)
        except Exception as e:  # noqa: BLE001 -- reported to bench/compare, which goes on
            print(job, "!", f"{type(e).__name__}: {e}".replace("\n", " "), flush=True)
            continue
        print(job, " ".join(f"{x:.1f}" for x in samples), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
