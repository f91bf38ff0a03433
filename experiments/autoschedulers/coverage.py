#!/usr/bin/env python3
"""Which kernels have been compiled under which autoscheduler? Reads every sweep table in
results/ (sweep_*.md, written by sweep.py) and counts, per autoscheduler and backend, the kernels
of a build (default release) that compiled, failed or were not run yet, per generator.

    experiments/autoschedulers/coverage.py                 # every autoscheduler and backend
    experiments/autoschedulers/coverage.py --backend cuda  # CUDA only

A kernel's status is its newest result: tables are read in the order of the date on their
second line, and a later table's row replaces an earlier one (a kernel that failed, was worked
around and compiled later counts as compiled). Of two rows of the same date, a compile wins.
Kernels a table names that the build no longer has are reported apart, so that a renamed or
removed variant does not count.
"""
import argparse
import glob
import os
import re
import sys
from collections import defaultdict

from experiment_paths import ROOT, kernel_commands

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def generator_of(argv):
    """The generator a kernel's command runs (build/<build>/generators/<name>.generator)."""
    return os.path.basename(argv[0]).removesuffix(".generator")


def backend_of(kernel):
    """cuda, opencl or the CPU level the kernel was compiled for (its name's last part, or the
    last two for avx512_gather)."""
    if kernel.endswith("_avx512_gather"):
        return "avx512_gather"
    return kernel.rsplit("_", 1)[1]


def read_table(path):
    """(autoscheduler, date, {kernel: compiled}) of one sweep table."""
    with open(path) as f:
        text = f.read()
    head = re.search(r"^# Kernels of build/\S+ matching `.*` under (\S+)", text, re.M)
    date = re.search(r", (\d{4}-\d{2}-\d{2})[:,]", text)
    if not head or not date:
        return None
    rows = {}
    for m in re.finditer(r"^\| (\S+) \| (yes|no) \|", text, re.M):
        rows[m.group(1)] = m.group(2) == "yes"
    return head.group(1), date.group(1), rows


def newest_results(autoscheduler=None):
    """{scheduler: {kernel: (date, compiled)}}: each kernel's newest result in the committed
    tables (of one autoscheduler, or of all)."""
    status = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(RESULTS, "sweep_*.md"))):
        table = read_table(path)
        if table is None:
            print(f"skipped {os.path.relpath(path, ROOT)}: not a sweep.py table", file=sys.stderr)
            continue
        scheduler, date, rows = table
        if autoscheduler and scheduler != autoscheduler:
            continue
        for kernel, compiled in rows.items():
            old = status[scheduler].get(kernel)
            if old is None or (date, compiled) > old:
                status[scheduler][kernel] = (date, compiled)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="release", help="the build whose kernels are counted")
    parser.add_argument("--backend", help="only this backend (cuda, opencl or a CPU level)")
    parser.add_argument("--autoscheduler", help="only this autoscheduler")
    args = parser.parse_args()

    commands = kernel_commands(args.build)
    kernels = sorted(commands)
    if not kernels:
        sys.exit(f"build/{args.build}/build.ninja lists no kernel")
    status = newest_results(args.autoscheduler)

    lines = ["| autoscheduler | backend | generator | kernels | compile | fail | not run |",
             "|---|---|---|---|---|---|---|"]
    for scheduler in sorted(status):
        results = status[scheduler]
        compiled = {k: results[k][1] if k in results else None for k in kernels}
        unknown = sorted(k for k in results if k not in commands)
        for backend in sorted({backend_of(k) for k in results if k in commands}):
            if args.backend and backend != args.backend:
                continue
            by_generator = defaultdict(list)
            for k in kernels:
                if backend_of(k) == backend:
                    by_generator[generator_of(commands[k])].append(compiled[k])
            totals = [0, 0, 0, 0]
            for g in sorted(by_generator):
                found = by_generator[g]
                row = [len(found), found.count(True), found.count(False), found.count(None)]
                totals = [a + b for a, b in zip(totals, row)]
                lines.append(f"| {scheduler} | {backend} | {g} | " + " | ".join(map(str, row)) + " |")
            lines.append(f"| {scheduler} | {backend} | **all** | " +
                         " | ".join(f"**{v}**" for v in totals) + " |")
            for k in kernels:
                if backend_of(k) == backend and compiled[k] is False:
                    print(f"{scheduler}: {k} failed in its newest table ({results[k][0]})",
                          file=sys.stderr)
        if unknown:
            print(f"{scheduler}: {len(unknown)} kernels of the tables are not in build/"
                  f"{args.build} (e.g. {unknown[0]})", file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
