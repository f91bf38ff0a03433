#!/usr/bin/python3
"""Offline checks of the CUDA kernels' PTX (Halide's device_code output), without a GPU.

usage: /usr/bin/python3 tests/gpu/check_ptx.py [--ptxas PATH] [-j N] FILE... | @LISTFILE

Each PTX file <variant>_cuda.device_code is assembled by ptxas twice, for sm_75 (the target of
the PTX) and for sm_90, both under --maxrregcount 64: Halide 21 caps kernels at 64 registers when
the driver compiles the PTX at load time, so the capped code is the code that runs (uncapped
assembly checked nothing more: a kernel that spills uncapped spills capped too). A file fails when
  - ptxas reports an error in either;
  - any function spills (spill stores or loads) or has a stack frame, in either;
  - the PTX reads or writes local memory (ld.local, st.local);
  - the PTX has a compare-and-swap atomic (atom.*cas): every scatter is a plain atomic add;
  - a grid_sample_grad_input file lacks atom.global.add.u64 (its deterministic fixed-point
    scatter-add);
  - its number of kernels (.entry, not counting Halide's _at_least_one_kernel) is not the one of
    its generator (EXPECTED_KERNELS), told by the file name.
With --autoscheduled (kernels scheduled by one of Halide's autoschedulers, not by
generators/gpu/), the rules that describe the hand schedules' design are reported, not failed:
the kernel count, compare-and-swap atomics, and which atomic grad_input's scatter uses. Assembler
errors, spills and local memory still fail.
A @LISTFILE names one file per line. Prints one line per file, a table per generator and the
failures; exits 1 on any failure.
"""

import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

# ptxas runs per file: (label, arguments).
CONFIGS = [
    ("sm_75/64", ["--gpu-name", "sm_75", "--maxrregcount", "64"]),
    ("sm_90/64", ["--gpu-name", "sm_90", "--maxrregcount", "64"]),
]
LABELS = [label for label, _ in CONFIGS]

# Kernels per generator. grid_sample_grad_input: the maximum of |grad_output| in three levels
# (it sets the fixed-point scale), zero-fill of the accumulator, the scatter-add, the conversion
# back to floating point.
EXPECTED_KERNELS = {
    "grid_sample": 1,
    "affine_grid_sample": 1,
    "affine_grid": 1,
    "grid_sample_grad_grid": 1,
    "grid_sample_grad_input": 6,
}

ENTRY = re.compile(r"\.entry\s+([\w$]+)")
CAS = re.compile(r"\batom\.[\w.]*\bcas\b")
LOCAL = re.compile(r"\b(?:ld|st)\.local\b")
ATOMIC = re.compile(r"\b(?:atom|red)\.[\w.]+")
REGISTERS = re.compile(r"Used (\d+) registers")
FRAME = re.compile(r"Function properties for (\S+)\s+(\d+) bytes stack frame, "
                   r"(\d+) bytes spill stores, (\d+) bytes spill loads")
ERROR = re.compile(r"\b(?:error|fatal)\s*:")


def generator_of(path):
    """The generator named by the file name's prefix (longest match), or None."""
    name = os.path.basename(path)
    for prefix in sorted(EXPECTED_KERNELS, key=len, reverse=True):
        if name.startswith(prefix + "_"):
            return prefix
    return None


def run_ptxas(ptxas, path, args):
    """Assembles one file; returns (error lines, max registers or None on errors, spills), where
    spills lists (function, stack frame, spill stores, spill loads) in bytes for each function
    with any."""
    cmd = [ptxas, *args, "-v", "--warn-on-spills", path, "-o", os.devnull]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout
    errors = [line for line in out.splitlines() if ERROR.search(line)]
    if proc.returncode != 0 and not errors:
        errors = [f"ptxas exited with {proc.returncode}"] + out.splitlines()[-3:]
    registers = None if errors else max((int(n) for n in REGISTERS.findall(out)), default=0)
    spills = [(name, *map(int, sizes)) for name, *sizes in FRAME.findall(out)
              if any(map(int, sizes))]
    return errors, registers, spills


def check_text(path, generator, autoscheduled=False):
    """The checks on the PTX text; returns (kernels, atomics counter, failures)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        code = [line.split("//", 1)[0] for line in f]
    text = "\n".join(code)
    failures = []
    kernels = [k for k in ENTRY.findall(text) if "_at_least_one_kernel" not in k]
    atomics = collections.Counter(ATOMIC.findall(text))
    expected = EXPECTED_KERNELS[generator]
    if len(kernels) != expected:
        failures.append(f"kernel count: {len(kernels)} kernels, expected {expected} for "
                        f"{generator} ({', '.join(kernels) or 'none'})")
    cas = sorted(a for a in atomics if CAS.search(a))
    if cas:
        failures.append(f"compare-and-swap atomics: {', '.join(cas)}")
    if generator == "grid_sample_grad_input" and "atom.global.add.u64" not in atomics:
        failures.append("no atom.global.add.u64 (the fixed-point scatter-add)")
    if autoscheduled:
        for failure in failures:
            print(f"note {os.path.basename(path)} (autoscheduled): {failure}")
        failures = []
    local = [i + 1 for i, line in enumerate(code) if LOCAL.search(line)]
    if local:
        failures.append(f"local memory: ld/st.local on line(s) {', '.join(map(str, local[:5]))}")
    return len(kernels), atomics, failures


def read_files(args):
    files = []
    for arg in args:
        if arg.startswith("@"):
            with open(arg[1:], encoding="utf-8") as f:
                files += [line.strip() for line in f if line.strip()]
        else:
            files.append(arg)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="PTX files, or @LISTFILE (one path per line)")
    parser.add_argument("--ptxas", default=shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--known-spills", metavar="FILE",
                        help="kernels whose spills are known and reported, not failed: one file "
                             "name (without directory) per line, '#' starts a comment; an entry "
                             "that no longer spills fails, so the list stays true")
    parser.add_argument("--autoscheduled", action="store_true",
                        help="the kernels come from an autoscheduler: report the hand schedules' "
                             "design rules (kernel count, atomics) instead of failing them")
    opts = parser.parse_args()
    known_spills = set()
    if opts.known_spills:
        with open(opts.known_spills) as f:
            for line in f:
                name = line.split("#", 1)[0].strip()
                if name:
                    known_spills.add(name)
    files = read_files(opts.files)
    if not files:
        sys.exit("check_ptx: no PTX files given")
    if not os.access(opts.ptxas, os.X_OK):
        sys.exit(f"check_ptx: ptxas not found at {opts.ptxas}")

    failures = []  # (file, rule and detail)
    present = []
    for path in files:
        if not os.path.isfile(path):
            failures.append((path, "missing: the kernel build did not write it"))
        elif generator_of(path) is None:
            failures.append((path, "unknown generator: the file name starts with none of "
                                   + ", ".join(EXPECTED_KERNELS)))
        else:
            present.append(path)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        runs = {(path, label): pool.submit(run_ptxas, opts.ptxas, path, args)
                for path in present for label, args in CONFIGS}
        results = {key: future.result() for key, future in runs.items()}

    # Per generator: files, most kernels, max registers per configuration, files that spill,
    # files that fail.
    table = {g: {"files": 0, "kernels": 0, "regs": dict.fromkeys(LABELS, 0), "spilling": 0,
                 "failed": 0} for g in EXPECTED_KERNELS}
    for path in present:
        generator = generator_of(path)
        kernels, atomics, file_failures = check_text(path, generator, opts.autoscheduled)
        regs = {}
        spill_text = []
        for label, _ in CONFIGS:
            errors, regs[label], spills = results[(path, label)]
            if errors:
                file_failures.append(f"ptxas error ({label}): {' | '.join(errors[:3])}")
            for function, frame, stores, loads in spills:
                detail = (f"spills ({label}): {function}: {frame} bytes stack frame, "
                          f"{stores} bytes spill stores, {loads} bytes spill loads")
                if os.path.basename(path) in known_spills:
                    print(f"known spill {os.path.basename(path)}: {detail}")
                else:
                    file_failures.append(detail)
                spill_text.append(f"{label} {stores}/{loads} B")
        if os.path.basename(path) in known_spills and not spill_text:
            file_failures.append("listed in --known-spills but no longer spills: remove the entry")
        atomic_text = ", ".join(f"{a} x{n}" for a, n in sorted(atomics.items())) or "none"
        print(f"{'FAIL' if file_failures else 'ok  '} {os.path.basename(path)}: "
              f"kernels {kernels}, registers "
              + " ".join(f"{label} {regs[label] or '-'}" for label in LABELS)
              + f", spills {', '.join(spill_text) or 'none'}, atomics {atomic_text}")
        row = table[generator]
        row["files"] += 1
        row["kernels"] = max(row["kernels"], kernels)
        row["spilling"] += bool(spill_text)
        row["failed"] += bool(file_failures)
        for label in regs:
            row["regs"][label] = max(row["regs"][label], regs[label] or 0)
        failures += [(path, rule) for rule in file_failures]

    print()
    print(f"{'generator':<24} {'files':>5} {'kernels':>7} "
          + " ".join(f"{'regs ' + label:>13}" for label in LABELS)
          + f" {'spilling':>8} {'failed':>6}")
    for generator, row in table.items():
        if row["files"]:
            print(f"{generator:<24} {row['files']:>5} {row['kernels']:>7} "
                  + " ".join(f"{row['regs'][label]:>13}" for label in LABELS)
                  + f" {row['spilling']:>8} {row['failed']:>6}")
    print("(registers: the maximum over the generator's files and kernels; spilling, failed: "
          "files)")

    if failures:
        print(f"\ncheck_ptx: {len(failures)} failure(s) in "
              f"{len({path for path, _ in failures})} of {len(files)} file(s):")
        for path, rule in failures:
            print(f"  {path}: {rule}")
        return 1
    print(f"\ncheck_ptx: all {len(files)} file(s) pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
