#!/usr/bin/env python3
"""A guard on the cost of a round trip that does not depend on the clock (issue 18).

  scripts/instructions.py [--build DIR] [--tasks N] [--baseline FILE] [--update | --no-compare]
                          [--breakdown] [--op NAME] [--window N] [--keep DIR]

Runs bench/hops (empty tasks one after another, appose-cpp service -> C++ worker, the `noop`
operation of examples/worker_ops) under callgrind, both processes (--trace-children=yes; the
lifeline's /bin/sh is left out), one output file per thread (--separate-threads=yes). It adds
up the instructions each process executed and divides by the number of round trips: the host's
figure, the worker's, and their sum. Start-up and shutdown are counted too, shared out over the
tasks: with 10,000 of them they weigh well under 1% (docs/benchmarks.md). Instruction counts
repeat from run to run, whatever else the machine is doing; wall time does not.

It then compares the sum with the figure committed in --baseline
(bench/instructions_baseline.json) and fails (exit 1) if it grew by more than the baseline's
tolerance (20%). A baseline taken with another build type or compiler is not comparable: the
script says so and fails.
--update writes the figures of this run as the new baseline instead (for a change that is meant
to add work, or a new compiler): commit the file with the change, saying why.

--no-compare prints the figures only (for a build the baseline is not for, such as a Release
build's breakdown). --breakdown also prints, for each thread, its instructions and calls to
malloc per round trip and the functions with the largest inclusive cost (the hops of issue 18's
table in docs/benchmarks.md). --op runs another operation of examples/worker_ops (such as
`noop_immediate`, Dispatch::immediate); only `noop`, the default, compares with the baseline.
--window N keeps N tasks in flight instead (bench/compare's rows 6h and 6i: 64), with
--no-compare: the baseline is for tasks one after another.

Exit status: 0 within the tolerance (or --update); 1 grown beyond it, or not comparable; 2 usage
or tool error.
"""

import argparse
import collections
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP = 20  # bench/measure.hpp kWarmup: round_trips() runs these before its timed ones

# What names a thread in --breakdown: the first hop whose functions it runs (the second name is
# for a Release build, where the first is inlined into the thread's lambda).
HOPS = [
    ("host I/O thread", ("ServiceImpl::io_loop", "platform::pump_output")),
    ("host event thread", ("EventQueue::run",)),
    ("worker reader thread", ("WorkerImpl::reader_loop", "ProtocolChannel::read_line")),
    ("worker task thread", ("WorkerImpl::execute",)),
]


def fail(message, code=2):
    print(f"instructions.py: {message}", file=sys.stderr)
    sys.exit(code)


def parse_callgrind(path):
    """One callgrind output file: its header and, per function, self cost, inclusive cost and
    the calls it makes (callee -> count). Handles name compression ("(id) name", then "(id")."""
    header = {}
    names = {}
    self_cost = collections.Counter()
    call_cost = collections.Counter()
    calls = collections.defaultdict(collections.Counter)
    fn = None
    callee = None
    pending_call = None
    events = None

    def name(value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), value)

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call is not None:
                    call_cost[fn] += cost
                    calls[fn][callee] += pending_call
                    pending_call = None
                else:
                    self_cost[fn] += cost
                continue
            key, _, value = line.partition("=")
            if key == "fn":
                fn = name(value)
            elif key == "cfn":
                callee = name(value)
            elif key == "calls":
                pending_call = int(value.split()[0])
            elif key in ("fl", "fi", "fe", "ob", "cob", "cfi", "cfl"):
                pass
            elif ":" in line and not key.startswith(("jump", "jcnd")):
                k, _, v = line.partition(":")
                header[k.strip()] = v.strip()
                if k.strip() == "events":
                    events = v.split()
    if events is not None and events[0] != "Ir":
        fail(f"{path}: expected Ir as the first event, got {events}")
    inclusive = collections.Counter()
    for f_name in set(self_cost) | set(call_cost):
        inclusive[f_name] = self_cost[f_name] + call_cost[f_name]
    total = int(header.get("totals", header.get("summary", "0")).split()[0])
    return {
        "header": header,
        "total": total,
        "self": self_cost,
        "inclusive": inclusive,
        "calls": calls,
    }


def malloc_calls(profile):
    """Calls to malloc, calloc and realloc made from this thread (operator new calls malloc)."""
    allocators = {"malloc", "calloc", "realloc"}
    return sum(
        count
        for callees in profile["calls"].values()
        for callee, count in callees.items()
        if callee.split("'")[0] in allocators
    )


def short_name(fn):
    """`fn` without its namespace and parameters, or None if it is not one of this library's
    functions (the standard library's, a thread's entry point, a lambda's wrapper)."""
    fn = fn.replace("(anonymous namespace)::", "").replace("appose::detail::", "")
    if "appose::" not in fn and "codec::" not in fn and "Impl::" not in fn:
        if not re.match(r"[A-Za-z]+::[A-Za-z_]+", fn):
            return None
    if "{lambda" in fn or fn.startswith(("std::", "0x", "???")):
        return None
    fn = re.sub(r"\[abi:cxx11\]", "", fn)
    depth = 0
    for i, c in enumerate(fn):  # cut at the parameter list: the first '(' outside templates
        depth += c == "<"
        depth -= c == ">"
        if c == "(" and depth == 0:
            fn = fn[:i]
            break
    if "std::" in fn or " " in fn:  # a template of the standard library, or its return type
        return None
    return fn.replace("'2", " (recursive)")


def thread_label(profile, process):
    thread = profile["header"].get("thread", "?")
    for label, functions in HOPS:
        if any(name in f for name in functions for f in profile["inclusive"]):
            return f"{label} ({thread})"
    if thread == "1":
        return f"{process} main thread (1)" + (" = the caller" if process == "host" else "")
    return f"{process} thread {thread}"


def tool_versions(build):
    """The build type and compiler of `build`, from its CMake cache."""
    cache = {}
    try:
        with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"(CMAKE_BUILD_TYPE|CMAKE_CXX_COMPILER):[A-Z]+=(.*)", line)
                if m:
                    cache[m.group(1)] = m.group(2).strip()
    except OSError:
        fail(f"no CMakeCache.txt in {build}: configure it first (cmake --preset dev)")
    compiler = cache.get("CMAKE_CXX_COMPILER", "c++")
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True)
        compiler = out.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    return cache.get("CMAKE_BUILD_TYPE", "") or "untyped", compiler


def run(build, tasks, keep, op, window):
    hops = os.path.join(build, "bench", "hops")
    worker = os.path.join(build, "examples", "worker_ops")
    for program in (hops, worker):
        if not os.access(program, os.X_OK):
            fail(f"{program} is missing: build it (cmake --build {build} --target hops)")
    if shutil.which("valgrind") is None:
        fail("valgrind is not installed (scripts/deps.sh ci installs it)")
    out_dir = keep or tempfile.mkdtemp(prefix="appose-instructions-")
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "callgrind.*")):
        os.remove(old)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--trace-children-skip=/bin/sh,/usr/bin/sh",  # the lifeline: not ours, not per task
        "--separate-threads=yes",
        "--fair-sched=yes",
        f"--callgrind-out-file={out_dir}/callgrind.%p",
        hops,
        worker,
        str(tasks),
        "--op",
        op,
    ] + (["--window", str(window)] if window else [])
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        fail(f"bench/hops failed under callgrind ({result.returncode}):\n{result.stderr[-3000:]}")
    processes = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(out_dir, "callgrind.*"))):
        if os.path.getsize(path) == 0:
            continue
        profile = parse_callgrind(path)
        program = os.path.basename((profile["header"].get("cmd", "").split() or [""])[0])
        if program == "worker_ops":
            processes["worker"].append(profile)
        elif program == "hops":
            processes["host"].append(profile)
    if not processes["host"] or not processes["worker"]:
        missing = "the host" if not processes["host"] else "the worker"
        fail(f"callgrind wrote no output for {missing} (in {out_dir})")
    if not keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    return processes, seconds, result.stdout


def report(processes, round_trips, breakdown, top):
    figures = {}
    for process in ("host", "worker"):
        threads = processes[process]
        total = sum(p["total"] for p in threads)
        figures[process] = total / round_trips
        if not breakdown:
            continue
        print(f"\n{process}: {total / round_trips:,.0f} instructions per round trip")
        for p in sorted(threads, key=lambda p: -p["total"]):
            if p["total"] / round_trips < 100:
                continue
            print(f"  {thread_label(p, process)}: {p['total'] / round_trips:,.0f} instructions, "
                  f"{malloc_calls(p) / round_trips:.1f} allocations per round trip")
            shown = 0
            for fn, cost in p["inclusive"].most_common():
                if shown >= top or cost / round_trips < 0.02 * p["total"] / round_trips:
                    break
                short = short_name(fn)
                if short is None:
                    continue
                print(f"    {cost / round_trips:>10,.0f}  {short}")
                shown += 1
    figures["total"] = figures["host"] + figures["worker"]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(HERE, "build", "dev"),
                        help="a build with bench/hops and examples/worker_ops (build/dev)")
    parser.add_argument("--tasks", type=int, default=10000, help="round trips timed (10000)")
    parser.add_argument("--baseline",
                        default=os.path.join(HERE, "bench", "instructions_baseline.json"),
                        help="the committed figures (bench/instructions_baseline.json)")
    parser.add_argument("--update", action="store_true", help="write this run as the baseline")
    parser.add_argument("--no-compare", action="store_true", help="print only, no baseline")
    parser.add_argument("--breakdown", action="store_true", help="per thread, top functions")
    parser.add_argument("--op", default="noop", help="the operation run (noop)")
    parser.add_argument("--window", type=int, default=0,
                        help="tasks kept in flight (default: one after another)")
    parser.add_argument("--top", type=int, default=12, help="functions listed per thread")
    parser.add_argument("--keep", help="keep callgrind's files in this directory")
    args = parser.parse_args()
    if args.tasks < 1:
        fail("--tasks must be at least 1")
    if args.update and args.no_compare:
        fail("--update and --no-compare exclude each other")
    if args.op != "noop" and not args.no_compare:
        fail("the baseline is for `noop`: run another --op with --no-compare")
    if args.window and not args.no_compare:
        fail("the baseline is for tasks one after another: run --window with --no-compare")

    build_type, compiler = tool_versions(args.build)
    processes, seconds, output = run(args.build, args.tasks, args.keep, args.op, args.window)
    round_trips = args.tasks + WARMUP + 1  # hops starts the worker with one task first
    if args.breakdown:
        print(output.rstrip())
    figures = report(processes, round_trips, args.breakdown, args.top)
    print(f"\ninstructions per round trip, appose-cpp service -> C++ worker ({round_trips} empty "
          f"`{args.op}` tasks under callgrind, {build_type} build, {compiler}; {seconds:.0f} s):")
    print(f"  host    {figures['host']:>12,.0f}")
    print(f"  worker  {figures['worker']:>12,.0f}")
    print(f"  sum     {figures['total']:>12,.0f}")

    if args.update:
        baseline = {
            "what": "instructions per round trip, appose-cpp service -> C++ worker (noop), "
                    "scripts/instructions.py",
            "host": round(figures["host"]),
            "worker": round(figures["worker"]),
            "total": round(figures["total"]),
            "tolerance": 0.20,
            "tasks": args.tasks,
            "build_type": build_type,
            "compiler": compiler,
            "date": datetime.date.today().isoformat(),
        }
        with open(args.baseline, "w", encoding="utf-8") as f:
            json.dump(baseline, f, indent=2)
            f.write("\n")
        print(f"baseline written to {os.path.relpath(args.baseline, HERE)}: commit it")
        return 0

    if args.no_compare:
        return 0
    try:
        with open(args.baseline, encoding="utf-8") as f:
            baseline = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the baseline {args.baseline}: {e} (--update writes one)")
    if baseline.get("build_type") != build_type or baseline.get("compiler") != compiler:
        print(f"FAIL: the baseline was taken with a {baseline.get('build_type')} build and "
              f"{baseline.get('compiler')}, this run with a {build_type} build and {compiler}: "
              f"not comparable. Take a new one (--update) on a build like CI's.")
        return 1
    if baseline.get("tasks") != args.tasks:
        print(f"note: the baseline ran {baseline.get('tasks')} tasks, this run {args.tasks}: "
              f"start-up and shutdown weigh differently")
    tolerance = float(baseline.get("tolerance", 0.20))
    worst = 0
    print(f"baseline ({baseline.get('date')}, {os.path.relpath(args.baseline, HERE)}), "
          f"tolerance +{tolerance:.0%}:")
    for key in ("host", "worker", "total"):
        then = float(baseline[key])
        growth = figures[key] / then - 1
        print(f"  {key:<7} {then:>12,.0f}  now {growth:+.1%}")
        if key == "total":
            worst = growth
    if worst > tolerance:
        print(f"FAIL: a round trip costs {worst:+.1%} instructions against the baseline "
              f"(more than +{tolerance:.0%}). If the change is meant to add work, say why and "
              f"update the baseline: scripts/instructions.py --update (docs/benchmarks.md).")
        return 1
    print(f"OK: within +{tolerance:.0%} of the baseline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
