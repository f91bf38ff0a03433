#!/usr/bin/env python3
"""Adams2019's autotuning loop on one gridsample kernel, fitted to a small machine.

Each batch builds a number of schedules of the kernel with Adams2019, benchmarks each with
Halide's RunGen driver, turns each schedule's featurization and measured time into a training
sample, and retrains the cost model on every sample so far; the next batch searches with the
retrained weights. Sample 0 of a batch is the cost model's own choice (beam search, no
randomness); the others are random probes biased by the model (beam 1, random dropout), as in
Halide's adams2019_autotune_loop.sh. The differences from that script:

- the kernel is run through the AnyShape wrapper (generators/autoschedule/any_shape.h), as the
  library's autoscheduled builds are, so every schedule is one the library could ship;
- parallelism, jobs, benchmark threads and batch size are options, defaulting to this machine's
  2 cores (Halide's script assumes 32), and the number of batches is an option;
- the start weights are Adams2019's built-in weights: the wheel ships no weights file, so they
  are read out of the plugin itself (start.weights in the work directory, checked to be a
  complete weights file of the version the plugin reads);
- the hand-scheduled kernel is built and timed with the same driver, on the same data, so that
  every schedule is compared with it directly; for the generators whose CPU schedule adds
  lowering passes (grid_sample, affine_grid_sample), so is the hand schedule without them
  (lowering_passes=false): the part of the hand schedule that the scheduling language states,
  which is all an autoscheduler can emit;
- it writes a record (JSON, and markdown with --record): per batch, the samples built and timed,
  the batch's best, the model's choice, and the best so far against the start and the hand
  schedule.

    experiments/autoschedulers/autotune.py grid_sample spatial_dims=2 mode=bilinear \\
        padding=zeros dtype=float32 --batches 6 --batch-size 8 \\
        --record experiments/autoschedulers/results/autotune_grid_sample_2d_bilinear_zeros_f32.md

The work directory (default build/autotune/<kernel>) keeps every sample: its .schedule.h,
featurization, training sample, compile log and timing. A second run with the same directory
continues after the last batch, with the weights retrained so far (updated.weights).
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from experiment_paths import ROOT, halide_dir, plugin_path

# The AVX2 level of the library (cmake/GridsampleVariants.cmake), with its kernel features.
DEFAULT_TARGET = "x86-64-linux-avx2-avx-f16c-fma-sse41-user_context"
GENERATOR_FEATURES = {"grid_sample": ["enable_llvm_loop_opt"],
                      "affine_grid_sample": ["enable_llvm_loop_opt"]}
# The generators with the lowering_passes parameter (their CPU schedules' lowering passes).
WITH_LOWERING_PASSES = {"grid_sample", "affine_grid_sample"}
SHORT = {"float32": "f32", "float64": "f64"}


def kernel_name(generator, params):
    p = dict(kv.split("=", 1) for kv in params)
    parts = [generator]
    if "spatial_dims" in p:
        parts.append(f"{p['spatial_dims']}d")
    for key in ("mode", "padding"):
        if key in p:
            parts.append(p[key])
    if "dtype" in p:
        parts.append(SHORT.get(p["dtype"], p["dtype"]))
    return "_".join(parts)


WEIGHTS_SIGNATURE = 0x68776631  # a .weights file's first word, 'hwf1' (Adams2019's Weights.cpp)


def weights_length(data, at):
    """The length of the weights file starting at data[at:], or None if it is not one: the
    signature, two feature versions, six buffers (each: dimension count, extents, float data)."""
    try:
        signature, _, _, buffers = struct.unpack_from("<4I", data, at)
        if signature != WEIGHTS_SIGNATURE or buffers != 6:
            return None
        p = at + 16
        for _ in range(buffers):
            (dims,) = struct.unpack_from("<I", data, p)
            if not 0 < dims <= 4:
                return None
            extents = struct.unpack_from(f"<{dims}I", data, p + 4)
            p += 4 + 4 * dims + 4 * math.prod(extents)
            if p > len(data):
                return None
        return p - at
    except struct.error:
        return None


def extract_builtin_weights(plugin, out):
    """Writes the weights compiled into the Adams2019 plugin (what it searches with when no
    weights_path is given) to `out`."""
    with open(plugin, "rb") as f:
        data = f.read()
    found = []
    at = data.find(struct.pack("<I", WEIGHTS_SIGNATURE))
    while at >= 0:
        n = weights_length(data, at)
        if n:
            found.append(data[at:at + n])
        at = data.find(struct.pack("<I", WEIGHTS_SIGNATURE), at + 1)
    if len(found) != 1:
        sys.exit(f"{plugin}: expected one built-in weights block, found {len(found)}")
    with open(out, "wb") as f:
        f.write(found[0])


class Tools:
    def __init__(self, args, work):
        self.halide = halide_dir()
        self.bin = os.path.join(self.halide, "bin")
        self.plugin = plugin_path(self.halide, "Adams2019")
        self.generator = os.path.join(ROOT, "build", "release", "generators",
                                      f"{args.generator}.generator")
        if not os.path.exists(self.generator):
            sys.exit(f"{self.generator} not found: build it first "
                     f"(cmake --build --preset release --target {args.generator}.generator)")
        self.work = work
        self.args = args
        features = GENERATOR_FEATURES.get(args.generator, [])
        self.target = "-".join([args.target] + features)
        self.driver = self._driver_objects()

    def _driver_objects(self):
        """RunGenMain and the kernels' support code, compiled once per work directory."""
        out = os.path.join(self.work, "driver")
        os.makedirs(out, exist_ok=True)
        objects = []
        for src in (os.path.join(self.halide, "share", "tools", "RunGenMain.cpp"),
                    os.path.join(ROOT, "generators", "cpu", "prefetch_rows.cpp")):
            obj = os.path.join(out, os.path.basename(src) + ".o")
            if not os.path.exists(obj):
                subprocess.run(["c++", "-std=c++17", "-O2", "-c", src, "-o", obj,
                                "-I", os.path.join(self.halide, "include"),
                                "-DHALIDE_NO_PNG", "-DHALIDE_NO_JPEG"], check=True)
            objects.append(obj)
        return objects

    def build(self, out, name, scheduler_params, extra_params=()):
        """Runs the generator into `out` (with Adams2019 when scheduler_params is not None; more
        generator parameters in extra_params) and links the RunGen driver. Returns (ok,
        generator seconds)."""
        os.makedirs(out, exist_ok=True)
        emit = "static_library,c_header,registration"
        cmd = [self.generator, "-g", self.args.generator, "-f", name, "-n", name, "-o", out,
               f"target={self.target}"] + self.args.params + list(extra_params)
        if scheduler_params is not None:
            emit += ",schedule,featurization"
            cmd += ["-p", self.plugin, "autoscheduler=AnyShape", "autoscheduler.base=Adams2019",
                    f"autoscheduler.parallelism={self.args.parallelism}"]
            cmd += [f"autoscheduler.{k}={v}" for k, v in scheduler_params.items()]
        cmd[1:1] = ["-e", emit]
        start = time.time()
        with open(os.path.join(out, "compile_log.txt"), "w") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            try:
                r = subprocess.run(cmd, stdout=log, stderr=log, timeout=self.args.compile_timeout,
                                   env=dict(os.environ, HL_DEBUG_AUTOSCHEDULE="0"))
                ok = r.returncode == 0
            except subprocess.TimeoutExpired:
                log.write(f"\ngenerator timed out after {self.args.compile_timeout} s\n")
                ok = False
        seconds = time.time() - start
        if ok:
            link = ["c++", "-std=c++17", "-O1", "-I", os.path.join(self.halide, "include"),
                    os.path.join(out, f"{name}.registration.cpp"), os.path.join(out, f"{name}.a"),
                    *self.driver, "-o", os.path.join(out, "bench"), "-ldl", "-lpthread"]
            with open(os.path.join(out, "compile_log.txt"), "a") as log:
                ok = subprocess.run(link, stdout=log, stderr=log).returncode == 0
        return ok, seconds

    def bench(self, out):
        """Seconds per call of the sample's kernel (RunGen's best), or None."""
        binary = os.path.join(out, "bench")
        if not os.path.exists(binary):
            return None
        cmd = [binary, "--estimate_all", "--benchmarks=all", "--parsable_output",
               f"--benchmark_min_time={self.args.min_time}"]
        env = dict(os.environ, HL_NUM_THREADS=str(self.args.threads))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                               timeout=self.args.bench_timeout)
        except subprocess.TimeoutExpired:
            return None
        with open(os.path.join(out, "bench.txt"), "w") as f:
            f.write(r.stdout + r.stderr)
        if r.returncode != 0:
            return None
        # --parsable_output: "<name>  BEST_TIME_MSEC_PER_ITER  <ms>" among the lines.
        m = re.search(r"BEST_TIME_MSEC_PER_ITER\s+([0-9.eE+-]+)", r.stdout)
        return float(m.group(1)) / 1000.0 if m else None

    def to_sample(self, out, name, seconds, pipeline_id, schedule_id):
        featurization = os.path.join(out, f"{name}.featurization")
        sample = os.path.join(out, f"{name}.sample")
        r = subprocess.run([os.path.join(self.bin, "featurization_to_sample"), featurization,
                            str(seconds), str(pipeline_id), str(schedule_id), sample],
                           capture_output=True, text=True)
        return r.returncode == 0 and os.path.exists(sample)

    def retrain(self, weights, epochs):
        samples = sorted(glob.glob(os.path.join(self.work, "batch_*", "*", "*.sample")))
        cmd = [os.path.join(self.bin, "adams2019_retrain_cost_model"), f"--epochs={epochs}",
               "--rates=0.0001", f"--num_cores={self.args.parallelism}",
               f"--initial_weights={weights}", f"--weights_out={weights}",
               f"--best_benchmark={os.path.join(self.work, 'best.benchmark.txt')}",
               f"--best_schedule={os.path.join(self.work, 'best.schedule.h')}"]
        with open(os.path.join(self.work, "retrain_log.txt"), "a") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            subprocess.run(cmd, input="\n".join(samples) + "\n", text=True, stdout=log,
                           stderr=log, check=True)
        return len(samples)


def markdown(record):
    k = record["kernel"]
    lines = [f"# Adams2019 autotuning: `{k}`", "",
             f"Command: `{record['command']}`", ""] + [
             f"Continued with: `{c}`" for c in record.get("continued", [])] + [
             *([""] if record.get("continued") else []),
             f"Target `{record['target']}`; schedules for {record['parallelism']} cores, timed with "
             f"{record['threads']} threads by Halide's RunGen on random data of the generator's "
             f"estimated shapes (`--estimate_all`); the hand-scheduled kernel timed the same way. "
             f"Start weights: Adams2019's built-in weights. Batch size {record['batch_size']} "
             f"(sample 0: beam search, beam {record['beam_size']}; the others: beam 1, random "
             f"dropout {record['dropout']}%).", "",
             f"Hand schedule: {record['hand_ms']:.3f} ms (its best over every batch). Start (batch 1's beam search with the "
             f"built-in weights): {fmt(record['start_ms'])} ms."]
    plain = record.get("hand_plain_ms")
    if plain is not None:
        lines += ["", f"Hand schedule without its lowering passes (`lowering_passes=false`, the "
                  f"schedule as the scheduling language states it): {plain:.3f} ms (its best "
                  f"over every batch), {ratio(plain, record['hand_ms'])} the hand schedule's."]
    lines += ["", "| batch | built | timed | model's choice ms | batch best ms | best so far ms | "
              "best / start | best / hand |" + (" best / hand without passes |" if plain else "")
              + " batch seconds |",
              "|---|---|---|---|---|---|---|---|" + ("---|" if plain else "") + "---|"]
    for b in record["batches"]:
        lines.append(f"| {b['batch']} | {b['built']} | {b['timed']} | {fmt(b['choice_ms'])} | "
                     f"{fmt(b['best_ms'])} | {fmt(b['best_so_far_ms'])} | "
                     f"{ratio(b['best_so_far_ms'], record['start_ms'])} | "
                     f"{ratio(b['best_so_far_ms'], record['hand_ms'])} | "
                     + (f"{ratio(b['best_so_far_ms'], plain)} | " if plain else "")
                     + f"{b['seconds']:.0f} |")
    c = record.get("confirmed")
    if c:
        rounds = record.get("confirm_rounds")
        lines += ["", f"Timed again side by side at the end ({str(rounds) + ' ' if rounds else ''}"
                  f"alternating rounds), the best of each: {side_by_side(c)}"]
        m = record.get("confirmed_median")
        if m:
            lines += ["", f"The medians of those rounds: {side_by_side(m)}"]
    best = record.get("best")
    if best:
        lines += ["", f"Best schedule: batch {best['batch']}, sample {best['sample']}: "
                  f"{best['ms']:.3f} ms, {ratio(best['ms'], record['hand_ms'])} the hand "
                  f"schedule's time and {ratio(best['ms'], record['start_ms'])} the start's "
                  f"(its schedule: the `.schedule.h` beside this record)."]
    return "\n".join(lines) + "\n"


def side_by_side(t):
    """The hand, start and best schedules' times of the rounds at the end (and the hand schedule
    without its lowering passes, where timed), with their ratios."""
    text = (f"hand {t['hand']:.3f} ms, start {t['start']:.3f} ms ({ratio(t['start'], t['hand'])} "
            f"the hand schedule's), best {t['best']:.3f} ms ({ratio(t['best'], t['hand'])} the "
            f"hand schedule's, {ratio(t['best'], t['start'])} the start's)")
    if t.get("hand_plain"):
        text += (f"; the hand schedule without its lowering passes {t['hand_plain']:.3f} ms "
                 f"(the best {ratio(t['best'], t['hand_plain'])} of it)")
    return text + "."


def fmt(ms):
    return "-" if ms is None else f"{ms:.3f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generator", help="grid_sample, affine_grid_sample, affine_grid, "
                        "grid_sample_grad_input or grid_sample_grad_grid")
    parser.add_argument("params", nargs="*", help="generator parameters, key=value")
    parser.add_argument("--batches", type=int, default=4, help="batches to run now")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="schedules per batch (at least 8: the retraining skips fewer)")
    parser.add_argument("--parallelism", type=int, default=os.cpu_count(),
                        help="cores the schedules are made for (autoscheduler.parallelism)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads the benchmarks run (HL_NUM_THREADS)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(),
                        help="generator runs at once")
    parser.add_argument("--beam-size", type=int, default=32, help="sample 0's beam")
    parser.add_argument("--dropout", type=int, default=1,
                        help="random_dropout of the probes (percent)")
    parser.add_argument("--extra", action="append", default=[],
                        help="more Adams2019 parameters for every sample, key=value")
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--min-time", default="0.5", help="RunGen's minimum benchmark time, s")
    parser.add_argument("--confirm-rounds", type=int, default=5,
                        help="rounds that time the hand, start and best schedules side by side "
                        "at the end")
    parser.add_argument("--compile-timeout", type=int, default=600)
    parser.add_argument("--bench-timeout", type=int, default=120)
    parser.add_argument("--work", help="work directory (default build/autotune/<kernel>)")
    parser.add_argument("--record", help="also write the record as markdown here")
    args = parser.parse_args()
    if args.batch_size < 8:
        parser.error("--batch-size: at least 8 (the retraining ignores pipelines with fewer)")

    name = kernel_name(args.generator, args.params)
    work = os.path.abspath(args.work or os.path.join(ROOT, "build", "autotune", name))
    os.makedirs(work, exist_ok=True)
    tools = Tools(args, work)
    weights = os.path.join(work, "updated.weights")
    start_weights = os.path.join(work, "start.weights")
    if not os.path.exists(start_weights):
        extract_builtin_weights(tools.plugin, start_weights)
    if not os.path.exists(weights):
        shutil.copy(start_weights, weights)
    record_path = os.path.join(work, "record.json")
    record = {"kernel": name, "target": tools.target, "parallelism": args.parallelism,
              "threads": args.threads, "batch_size": args.batch_size,
              "beam_size": args.beam_size, "dropout": args.dropout, "batches": [],
              "start_ms": None, "best": None,
              "command": " ".join(["experiments/autoschedulers/autotune.py"] + sys.argv[1:])}
    if os.path.exists(record_path):
        with open(record_path) as f:
            previous = json.load(f)
        record.update({k: previous[k] for k in ("batches", "start_ms", "start_dir", "best",
                                                 "hand_ms", "hand_plain_ms") if k in previous})
        # The first run's command heads the record; the runs that continued it follow.
        if "command" in previous:
            record["continued"] = previous.get("continued", []) + [record["command"]]
            record["command"] = previous["command"]

    def reference(directory, label, key, extra_params=()):
        """Builds (once) and times a hand-scheduled reference kernel; keeps its best in
        record[key]."""
        if not os.path.exists(os.path.join(directory, "bench")):
            ok, _ = tools.build(directory, name, None, extra_params)
            if not ok:
                sys.exit(f"{label} did not build: {directory}/compile_log.txt")
        s = tools.bench(directory)
        if s is None:
            sys.exit(f"{label} did not run: {directory}/bench.txt")
        record[key] = min(s * 1e3, record.get(key, math.inf))
        print(f"{name}: {label} {s * 1e3:.3f} ms", flush=True)

    hand = os.path.join(work, "hand")
    reference(hand, "the hand schedule", "hand_ms")
    # The hand schedule without its lowering passes, where the generator has them.
    hand_plain = None
    if args.generator in WITH_LOWERING_PASSES:
        hand_plain = os.path.join(work, "hand_without_passes")
        reference(hand_plain, "the hand schedule without its lowering passes", "hand_plain_ms",
                  ["lowering_passes=false"])

    first = 1 + max([b["batch"] for b in record["batches"]], default=0)
    for batch in range(first, first + args.batches):
        start = time.time()
        bdir = os.path.join(work, f"batch_{batch:03d}")
        os.makedirs(bdir, exist_ok=True)
        shutil.copy(weights, os.path.join(bdir, "used.weights"))

        def build(i):
            params = {"beam_size": args.beam_size if i == 0 else 1,
                      "random_dropout": 100 if i == 0 else args.dropout,
                      "random_dropout_seed": batch * 10000 + i,
                      "weights_path": os.path.join(bdir, "used.weights")}
            params.update(dict(kv.split("=", 1) for kv in args.extra))
            return tools.build(os.path.join(bdir, str(i)), name, params)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            built = list(pool.map(build, range(args.batch_size)))
        # The hand schedule again, beside this batch's timings: its best time so far is the
        # reference (the machine's speed drifts).
        hand_s = tools.bench(hand)
        if hand_s is not None:
            record["hand_ms"] = min(hand_s * 1e3, record["hand_ms"])
        plain_s = tools.bench(hand_plain) if hand_plain else None
        if plain_s is not None:
            record["hand_plain_ms"] = min(plain_s * 1e3, record["hand_plain_ms"])
        times = []
        for i in range(args.batch_size):
            out = os.path.join(bdir, str(i))
            s = tools.bench(out) if built[i][0] else None
            times.append(s)
            if s is not None:
                tools.to_sample(out, name, s, 0, batch * 10000 + i)
            print(f"batch {batch} sample {i}: generator {built[i][1]:.1f} s, "
                  + (f"{s * 1e3:.3f} ms" if s is not None else "failed"), flush=True)
        timed = [(s, i) for i, s in enumerate(times) if s is not None]
        if batch == 1 and times[0] is not None:
            record["start_ms"] = times[0] * 1e3
            record["start_dir"] = os.path.relpath(os.path.join(bdir, "0"), work)
        if timed:
            s, i = min(timed)
            if record["best"] is None or s * 1e3 < record["best"]["ms"]:
                record["best"] = {"batch": batch, "sample": i, "ms": s * 1e3,
                                  "dir": os.path.relpath(os.path.join(bdir, str(i)), work),
                                  "schedule": os.path.relpath(
                                      os.path.join(bdir, str(i), f"{name}.schedule.h"), ROOT)}
        if not timed:
            sys.exit(f"batch {batch}: no schedule built and ran (see {bdir}/*/compile_log.txt "
                     "and bench.txt)")
        n = tools.retrain(weights, args.batch_size)
        record["batches"].append({
            "batch": batch, "built": sum(ok for ok, _ in built), "timed": len(timed),
            "choice_ms": None if times[0] is None else times[0] * 1e3,
            "best_ms": min(timed)[0] * 1e3 if timed else None,
            "best_so_far_ms": record["best"]["ms"] if record["best"] else None,
            "generator_seconds": [round(t, 1) for _, t in built],
            "samples_trained": n, "seconds": time.time() - start})
        with open(record_path, "w") as f:
            json.dump(record, f, indent=1)
        b = record["batches"][-1]
        print(f"batch {batch}: {b['timed']}/{args.batch_size} timed, best {fmt(b['best_ms'])} ms, "
              f"best so far {fmt(b['best_so_far_ms'])} ms ({ratio(b['best_so_far_ms'], record['hand_ms'])} "
              f"the hand schedule), {b['seconds']:.0f} s", flush=True)

    # The ones that the record compares, timed again side by side, in alternating rounds.
    if record["best"] and record.get("start_dir") and args.confirm_rounds:
        dirs = {"hand": hand, "start": os.path.join(work, record["start_dir"]),
                "best": os.path.join(work, record["best"]["dir"])}
        if hand_plain:
            dirs["hand_plain"] = hand_plain
        times = {k: [] for k in dirs}
        for _ in range(args.confirm_rounds):
            for k, d in dirs.items():
                t = tools.bench(d)
                if t is not None:
                    times[k].append(t * 1e3)
        record["confirmed"] = {k: min(v, default=math.inf) for k, v in times.items()}
        record["confirmed_median"] = {k: statistics.median(v) if v else math.inf
                                      for k, v in times.items()}
        record["confirm_rounds"] = args.confirm_rounds
        with open(record_path, "w") as f:
            json.dump(record, f, indent=1)

    text = markdown(record)
    print(text)
    if args.record:
        os.makedirs(os.path.dirname(os.path.abspath(args.record)), exist_ok=True)
        with open(args.record, "w") as f:
            f.write(text)
        if record["best"]:
            # The best schedule beside the record, to read or paste into a generator.
            with open(os.path.join(work, record["best"]["dir"], f"{name}.schedule.h")) as f:
                schedule = f.read().replace(ROOT + os.sep, "")
            with open(os.path.splitext(args.record)[0] + ".schedule.h", "w") as f:
                f.write(schedule)


if __name__ == "__main__":
    main()
