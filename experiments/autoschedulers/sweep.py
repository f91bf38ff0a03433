#!/usr/bin/env python3
"""Does every kernel compile under an autoscheduler? Runs each kernel's generator the way a build
runs it (its target and parameters, from that build's build.ninja), through the AnyShape wrapper
with the chosen autoscheduler, and writes one table: per kernel, whether it compiled, the
generator's seconds (wall and CPU) and peak memory, and the first line of its error (a generator
killed by a signal is reported as such: SIGKILL is usually the out-of-memory killer, so lower
--jobs). coverage.py counts what the committed tables cover.

    experiments/autoschedulers/sweep.py --autoscheduler Li2018 --kernels '_cuda$' \\
        --out experiments/autoschedulers/results/sweep_li2018_cuda.md

--not-run goes on where earlier runs stopped: it leaves out the kernels that a table in results/
already has a result for under that autoscheduler (write such a run to a new --out).

--build names the build whose commands are used (default release: every CPU level, CUDA and
OpenCL); the generators are that build's (build/<build>/generators). Mullapudi2016 on a GPU
target runs in its experimental GPU mode, as cmake/GridsampleAutoscheduler.cmake runs it. Each
generator run emits the object, header and .schedule.h into a scratch directory and nothing
else; the build's own outputs are not touched.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from coverage import newest_results
from experiment_paths import PLUGINS, halide_dir, kernel_commands, plugin_path


def default_params(scheduler, gpu):
    """The parameters of the presets (CMakePresets.json): on CPUs this machine's cores; on GPUs
    Mullapudi2016's parallelism of 128 and Anderson2021's 80 (streaming multiprocessors)."""
    if not gpu:
        return [f"parallelism={os.cpu_count()}"]
    return {"Mullapudi2016": ["parallelism=128"], "Anderson2021": ["parallelism=80"]}.get(scheduler, [])


def run_one(argv, kernel, scheduler, params, plugin, timeout):
    with tempfile.TemporaryDirectory() as out:
        cmd = list(argv)
        cmd[cmd.index("-e") + 1] = "object,c_header,schedule"
        cmd[cmd.index("-o") + 1] = out
        target = next(a for a in cmd if a.startswith("target="))
        gpu = re.search(r"-(cuda|opencl|metal|vulkan|d3d12compute)\b", target) is not None
        cmd += ["-p", plugin, "autoscheduler=AnyShape", f"autoscheduler.base={scheduler}"]
        if scheduler == "Mullapudi2016" and gpu:
            cmd.append("autoscheduler.experimental_gpu_schedule=1")
        if params is None:
            params = default_params(scheduler, gpu)
        cmd += [f"autoscheduler.{p}" for p in params]
        start = time.time()
        log = os.path.join(out, "generator.log")
        code, peak, cpu = run_measured(cmd, timeout, log)
        seconds = time.time() - start
        with open(log, errors="replace") as f:
            text = f.read()
    ok = code == 0
    if code is None:
        text = f"timed out after {timeout} s"
    elif code < 0:
        # A generator killed by a signal prints nothing; SIGKILL is usually the kernel's
        # out-of-memory killer (Adams2019's default searches on the backward kernels took from
        # 9.5 GB to more than the 23 GB of a 24 GB machine).
        text = f"killed by signal {-code}" + (" (SIGKILL: out of memory?)" if code == -9 else "")
    error = ""
    if not ok:
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        at = next((i for i, l in enumerate(lines) if "Error" in l or "error" in l),
                  len(lines) - 1)
        # An error whose first line is only "Error:" carries its text on the lines after.
        error = " ".join(lines[at:at + 4]) if lines and lines[at].endswith(":") else \
            (lines[at] if lines else "")
        error = error.replace("|", "/")[:240]
    return kernel, ok, seconds, cpu, peak, error


def run_measured(cmd, timeout, log):
    """Runs cmd, its output into the file log; returns (exit code, negative for a signal, or None
    after timeout seconds, when it is killed; the process's peak resident memory in bytes; its
    CPU seconds, user and system, which other work on the machine inflates less than the wall
    time)."""
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
        if time.time() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return None, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--autoscheduler", required=True, choices=sorted(PLUGINS))
    parser.add_argument("--params", nargs="*", default=None,
                        help="the autoscheduler's parameters, key=value (default: the presets': "
                        "parallelism=<cores> on CPUs; on GPUs parallelism=128 for "
                        "Mullapudi2016, 80 for Anderson2021, none for Li2018)")
    parser.add_argument("--build", default="release")
    parser.add_argument("--kernels", default="", help="a regular expression the kernel names match")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--out", help="write the table here (markdown) as well as to stdout")
    parser.add_argument("--not-run", action="store_true",
                        help="only the kernels that no committed table (results/sweep_*.md) has "
                        "a result for under this autoscheduler, as coverage.py counts them")
    args = parser.parse_args()

    plugin = plugin_path(halide_dir(), args.autoscheduler)
    commands = {k: v for k, v in kernel_commands(args.build).items() if re.search(args.kernels, k)}
    if not commands:
        sys.exit(f"no kernel of build/{args.build} matches '{args.kernels}'")
    if args.not_run:
        done = newest_results(args.autoscheduler).get(args.autoscheduler, {})
        commands = {k: v for k, v in commands.items() if k not in done}
        if not commands:
            sys.exit(f"every kernel of build/{args.build} matching '{args.kernels}' has a result "
                     f"under {args.autoscheduler} in results/ already")
    print(f"{len(commands)} kernels under {args.autoscheduler}", file=sys.stderr, flush=True)
    def table(results, total):
        done = [r for r in results if r[1]]
        status = (f"{len(done)} of {len(results)} compile" if len(results) == total else
                  f"partial, {len(results)} of {total} kernels run so far: {len(done)} compile")
        lines = [f"# Kernels of build/{args.build} matching `{args.kernels}` under "
                 f"{args.autoscheduler}", "",
                 f"`{' '.join(['experiments/autoschedulers/sweep.py'] + sys.argv[1:])}`, "
                 f"{time.strftime('%Y-%m-%d')}: {status}.", "",
                 "| kernel | compiles | generator s | CPU s | peak memory GB | error |",
                 "|---|---|---|---|---|---|"]
        for kernel, ok, seconds, cpu, peak, error in sorted(results):
            lines.append(f"| {kernel} | {'yes' if ok else 'no'} | {seconds:.1f} | {cpu:.1f} | "
                         f"{peak / 2**30:.1f} | {error} |")
        if done:
            secs = sorted(r[2] for r in done)
            cpus = sorted(r[3] for r in done)
            lines += ["", f"Generator seconds of the kernels that compile: median "
                      f"{secs[len(secs) // 2]:.1f}, max {secs[-1]:.1f} (CPU seconds: median "
                      f"{cpus[len(cpus) // 2]:.1f}, max {cpus[-1]:.1f})."]
        return "\n".join(lines) + "\n"

    def write(text):
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(text)

    results = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, argv, kernel, args.autoscheduler, args.params, plugin,
                               args.timeout) for kernel, argv in sorted(commands.items())]
        for future in as_completed(futures):
            results.append(future.result())
            kernel, ok, seconds = results[-1][:3]
            print(f"{len(results)}/{len(commands)} {kernel}: {'ok' if ok else 'FAILED'} "
                  f"{seconds:.1f} s", file=sys.stderr, flush=True)
            write(table(results, len(commands)))  # the table so far, kept if the run stops
    text = table(results, len(commands))
    print(text)
    write(text)
    done = [r for r in results if r[1]]
    sys.exit(0 if len(done) == len(results) else 1)


if __name__ == "__main__":
    main()
