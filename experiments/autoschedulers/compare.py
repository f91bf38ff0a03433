#!/usr/bin/env python3
"""The hand schedules against Halide's autoschedulers on the CPU benchmark suite, in one run.

Each build (a preset's build directory: release for the hand schedules, autoschedule-* for the
autoschedulers) has its own bench/gridsample_bench. This script runs the same benchmarks of every
build in alternating rounds (the order rotates each round, so that every build meets the
machine's fast and slow phases), keeps each benchmark's fastest repetition, and writes one table:
per workload and thread count, each schedule's time and its ratio to the hand schedule, and the
time each schedule's generator took on the workload's kernels (from the build's .ninja_log: the
generator run, autoscheduler and LLVM included).

    experiments/autoschedulers/compare.py --builds release autoschedule-mullapudi2016 \\
        autoschedule-li2018 autoschedule-adams2019 --out experiments/autoschedulers/results/cpu.md

The benchmarks: the planar forward (fwd/<workload>/ours), the fused affine forward
(fwd/<workload>/fused) and the backward (bwd/<workload>/both and grad_grid), at 1 and 2 threads.

Before timing, every build's outputs on every workload of the suite (forward planar,
channels-last, fused and two-step, both gradients; at 1 and all threads) are compared with the
first build's (`gridsample_bench --digests`): the forward's bit for bit, the gradients within
SEMANTICS.md S11 where their bits differ (sums in another order, or another CPU level's); and
each build's outputs at 1 and at all threads with each other, bit for bit (S13); the table says
what differed or failed.
`--verify` does only that and exits non-zero when a build's output differs from the first
build's or a call failed where the first build's succeeded (CI runs it on an autoscheduled build):

    experiments/autoschedulers/compare.py --verify --builds release autoschedule-check
"""
import argparse
import array
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

from experiment_paths import ROOT

DEFAULT_FILTER = (r"^(fwd/[^/]+/(ours|fused)|bwd/[^/]+/(both|grad_grid)/ours)"
                  r"/threads:[12]/real_time$")
ISAS = ["avx512_gather", "avx512", "avx2", "sse41", "baseline"]


def cache_value(build, variable):
    """A variable of a build's CMakeCache.txt (empty when unset)."""
    cache = os.path.join(ROOT, "build", build, "CMakeCache.txt")
    with open(cache) as f:
        for line in f:
            if line.startswith(variable + ":"):
                return line.split("=", 1)[1].strip()
    return ""


def schedule_name(build):
    """The column title of a build: the autoscheduler of an autoschedule-* build, else hand;
    with "+ llvm_vectorize" where its parameters hand the output's loops to LLVM (AnyShape's
    llvm_vectorize=1)."""
    name = cache_value(build, "GRIDSAMPLE_AUTOSCHEDULER") or "hand"
    params = cache_value(build, "GRIDSAMPLE_AUTOSCHEDULER_PARAMS").split(";")
    return name + (" + llvm_vectorize" if "llvm_vectorize=1" in params else "")


def kernels_of(benchmark, isa):
    """The kernels a benchmark runs, as <variant>_<isa> (cmake/GridsampleVariants.cmake)."""
    parts = benchmark.split("/")
    kind, workload, impl = parts[0], parts[1], parts[2]
    dims = 3 if workload.startswith("volume") else 2
    mode = "bilinear" if "trilinear" in workload else re.search(
        r"(bilinear|nearest|bicubic)", workload).group(1)
    padding = re.search(r"(zeros|border|reflection)", workload).group(1)
    dtype = "f64" if workload.endswith("_f64") else "f32"
    variant = f"{dims}d_{mode}_{padding}_{dtype}_{isa}"
    if kind == "bwd":
        generators = ["grid_sample_grad_input", "grid_sample_grad_grid"] if impl == "both" \
            else ["grid_sample_grad_grid"]
    else:
        generators = ["affine_grid_sample"] if impl == "fused" else ["grid_sample"]
    return [f"{g}_{variant}" for g in generators]


def generator_seconds(build):
    """Seconds each kernel's generation took, from the build's .ninja_log (latest entry)."""
    seconds = {}
    log = os.path.join(ROOT, "build", build, ".ninja_log")
    with open(log) as f:
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 4:
                continue
            m = re.match(r"^(?:.*/)?generators/([A-Za-z0-9_]+)\.o$", fields[3])
            if m:
                seconds[m.group(1)] = (int(fields[1]) - int(fields[0])) / 1000.0
    return seconds


def run_bench(build, bench_filter, repetitions, min_time):
    binary = os.path.join(ROOT, "build", build, "bench", "gridsample_bench")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_filter={bench_filter}",
                        f"--benchmark_repetitions={repetitions}",
                        f"--benchmark_min_time={min_time}",
                        "--benchmark_out_format=json", f"--benchmark_out={out.name}"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            data = json.load(f)
    times = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        ms = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        name = b["run_name"]
        times[name] = min(ms, times.get(name, math.inf))
    return times


def digests(build, outputs_dir):
    """{output name: digest, or "unsupported: ..." / "error: ..."} of a build's benchmark binary;
    the outputs that may differ in their last bits (the backward's) are written to outputs_dir."""
    binary = os.path.join(ROOT, "build", build, "bench", "gridsample_bench")
    out = subprocess.run([binary, f"--digests={outputs_dir}"], check=True, capture_output=True,
                         text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


# SEMANTICS.md S11's backward tolerances, relative to the largest gradient magnitude.
BACKWARD_TOLERANCE = {"f": 1e-4, "d": 1e-10}


def relative_difference(name, want_dir, have_dir):
    """max |have - want| / max |want| of an output both builds wrote (inf where sizes differ or
    the output has a NaN where the other has not: an element left unwritten)."""
    typecode = "d" if "_f64/" in name else "f"
    file = name.replace("/", ".") + ".bin"
    arrays = []
    for d in (want_dir, have_dir):
        a = array.array(typecode)
        with open(os.path.join(d, file), "rb") as f:
            a.frombytes(f.read())
        arrays.append(a)
    want, have = arrays
    if len(want) != len(have) or any(map(math.isnan, have)) != any(map(math.isnan, want)):
        return math.inf, typecode
    largest = max(map(abs, want), default=0.0)
    diff = max(map(abs, map(float.__sub__, have, want)), default=0.0)
    return (diff / largest if largest > 0 else diff), typecode


def thread_count_differences(outputs):
    """The outputs whose bits differ between thread counts (S13: none may)."""
    by_output = {}
    for name, digest in outputs.items():
        if not digest.startswith(("unsupported", "error")):
            by_output.setdefault(re.sub(r"/threads:\d+", "", name), set()).add(digest)
    return sorted(name for name, seen in by_output.items() if len(seen) > 1)


def verify(builds):
    """Compares every build's outputs with the first build's: the forward's bit for bit (S13: the
    same bits on every CPU level), the backward's within S11; and within each build, every output
    at 1 and at all threads, bit for bit (S13). Returns (lines, problems)."""
    first = builds[0]
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {b: os.path.join(tmp, str(i)) for i, b in enumerate(builds)}
        for d in dirs.values():
            os.mkdir(d)
        ref = digests(first, dirs[first])
        lines, problems = [], 0
        uneven = thread_count_differences(ref)
        problems += len(uneven)
        lines.append(f"- `{first}`: {len(uneven)} outputs that differ between thread counts")
        lines += [f"  - differs between thread counts: {n}" for n in uneven]
        for b in builds[1:]:
            got = digests(b, dirs[b])
            uneven = thread_count_differences(got)
            same, close, worst, differ, failed, skipped = 0, 0, 0.0, [], [], 0
            for name, want in ref.items():
                have = got.get(name, "missing")
                if want.startswith(("unsupported", "error")) or have.startswith("unsupported"):
                    skipped += 1  # not computed by both builds
                elif have.startswith(("error", "missing")):
                    failed.append(f"{name} ({have})")
                elif have == want:
                    same += 1
                elif name.startswith("bwd/"):
                    rel, typecode = relative_difference(name, dirs[first], dirs[b])
                    if rel <= BACKWARD_TOLERANCE[typecode]:
                        close += 1
                        worst = max(worst, rel)
                    else:
                        differ.append(f"{name} (relative difference {rel:.3g})")
                else:
                    differ.append(name)
            problems += len(differ) + len(failed) + len(uneven)
            line = (f"- `{b}` against `{first}`: {same} outputs bit-identical, {close} within "
                    f"S11 (backward sums in another order; largest difference {worst:.2g} of the "
                    f"largest gradient), {len(differ)} different, {len(failed)} failed, "
                    f"{skipped} not computed by both builds; {len(uneven)} outputs that differ "
                    f"between thread counts")
            lines.append(line)
            lines += [f"  - different: {n}" for n in differ]
            lines += [f"  - failed: {n}" for n in failed]
            lines += [f"  - differs between thread counts: {n}" for n in uneven]
            print(line, file=sys.stderr, flush=True)
    return lines, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", nargs="+", required=True,
                        help="build directories under build/, the hand schedules' first")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--min-time", default="0.1")
    parser.add_argument("--filter", default=DEFAULT_FILTER)
    parser.add_argument("--isa", default="avx2",
                        help="the CPU level the benchmarks run (for the generator times)")
    parser.add_argument("--out", help="write the table here (markdown) as well as to stdout")
    parser.add_argument("--verify", action="store_true",
                        help="only compare the builds' outputs with the first build's")
    args = parser.parse_args()

    print("comparing outputs", file=sys.stderr, flush=True)
    verified, problems = verify(args.builds)
    if args.verify:
        print("\n".join(verified))
        sys.exit(1 if problems else 0)

    names = [schedule_name(b) for b in args.builds]
    best = {b: {} for b in args.builds}
    for r in range(args.rounds):
        order = args.builds[r % len(args.builds):] + args.builds[:r % len(args.builds)]
        for b in order:
            print(f"round {r + 1}/{args.rounds}: {b}", file=sys.stderr, flush=True)
            for name, ms in run_bench(b, args.filter, args.repetitions, args.min_time).items():
                best[b][name] = min(ms, best[b].get(name, math.inf))
    gen = {b: generator_seconds(b) for b in args.builds}

    hand = args.builds[0]
    lines = ["| benchmark | threads | " + " | ".join(f"{n} ms" for n in names) + " | "
             + " | ".join(f"{n} generator s" for n in names) + " |",
             "|---|---|" + "---|" * (2 * len(names))]
    ratios = {b: {1: [], 2: []} for b in args.builds[1:]}
    for name in sorted(best[hand], key=lambda n: (n.split("/threads:")[0], n)):
        m = re.match(r"^(.*)/threads:(\d+)/real_time$", name)
        if not m:
            continue
        bench, threads = m.group(1), int(m.group(2))
        cells, gen_cells = [], []
        for b in args.builds:
            ms = best[b].get(name)
            if ms is None:
                cells.append("-")
            elif b == hand:
                cells.append(f"{ms:.2f}")
            else:
                cells.append(f"{ms:.2f} ({ms / best[hand][name]:.2f}x)")
                ratios[b][threads].append(ms / best[hand][name])
            kernels = kernels_of(bench, args.isa)
            secs = [gen[b].get(k) for k in kernels]
            gen_cells.append("-" if None in secs else f"{sum(secs):.1f}")
        lines.append(f"| {bench} | {threads} | " + " | ".join(cells) + " | "
                     + " | ".join(gen_cells) + " |")
    lines.append("")
    lines.append("Times are each benchmark's fastest repetition over all rounds; (Nx) is the time "
                 "relative to the hand schedule (above 1: slower).")
    for b, n in zip(args.builds[1:], names[1:]):
        for t in (1, 2):
            v = ratios[b][t]
            if v:
                g = math.exp(sum(math.log(x) for x in v) / len(v))
                lines.append(f"- {n}, {t} thread(s): geometric mean {g:.2f}x the hand schedule's "
                             f"time over {len(v)} benchmarks (range {min(v):.2f}x to {max(v):.2f}x)")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU") if os.path.exists("/proc/cpuinfo") else ""
    head = [f"# The hand schedules against the autoschedulers ({', '.join(names[1:])})", "",
            f"`{' '.join(['experiments/autoschedulers/compare.py'] + sys.argv[1:])}`, "
            f"{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, the "
            f"{args.isa} kernels. A `-` is a benchmark that failed on that build "
            "(its error is in the benchmark's output).", "",
            "The builds: " + "; ".join(
                f"`{b}` ({n}" + (f", `GRIDSAMPLE_AUTOSCHEDULER_PARAMS={p}`" if p else "") + ")"
                for b, n, p in ((b, n, cache_value(b, "GRIDSAMPLE_AUTOSCHEDULER_PARAMS"))
                                for b, n in zip(args.builds, names))) + ".", "",
            "Outputs on every workload of the suite (forward planar, channels-last, fused and "
            "two-step, both gradients; 1 and all threads), compared with the first build's "
            "(`--digests`; the forward bit for bit, the gradients within S11):", ""]
    head += verified + [""]
    text = "\n".join(head + lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
