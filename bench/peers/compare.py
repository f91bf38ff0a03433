#!/usr/bin/env python3
"""Every peer on the forward workloads, in one run, on the same data, with ours timed in the
benchmark and through the command-line tool from outside.

The C++ suite (gridsample_bench) writes the workloads' data (--dump_workloads); then, per workload
and thread count:
  - ours, PyTorch (libtorch) and OpenCV's remap (image workloads) in gridsample_bench: Google
    Benchmark, fastest repetition;
  - ours through the CLI from outside: `gridsample sample --repeat K` timed as a process, per call
    (T(1 + K) - T(1)) / K, so that what a real process pays per call (allocations, page faults)
    shows, but not the start-up and file reading that every run has once; the fastest of
    --cli-rounds processes counts, and the slowest is shown beside it; each round also times the
    same call in gridsample_bench (a process of its own), and the CLI is held to the fastest of
    those, timed beside it;
  - ONNX Runtime's GridSample (opset 20) and ncnn's GridSample layer (no batch dimension: one
    extraction per batch item; its layout conversions are inside the timing, as in real use),
    on the same arrays, from Python; their outputs are checked against ours. They take planar
    tensors only: on the channels-last workloads (`_nhwc`, `_ndhwc`) they are timed on a planar
    copy of the same data, made outside the timing (ours and PyTorch run channels-last).
and writes one markdown table with the ratios the targets are stated in (ours against the
fastest peer that computes the workload, the CLI against the benchmark, the copy roofline).

  ./build.sh peers --out bench/results/peers.md          (builds, installs the peers, runs)
  .venv/bin/python bench/peers/compare.py --build build/release --filter '^feat_' --threads 1
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

MODES = {"bilinear": (1, "linear"), "nearest": (2, "nearest"), "bicubic": (3, "cubic")}
PADDINGS = {"zeros": 1, "border": 2, "reflection": 3}


def best_time(fn, min_seconds, repetitions):
    """The fastest of `repetitions` rounds, each at least `min_seconds` of back-to-back calls:
    seconds per call."""
    fn()  # warm-up: first-call costs (thread pools, JIT caches) are not per-call costs
    best = math.inf
    for _ in range(repetitions):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


# ---------------------------------------------------------------------------------------------
# Peers from Python


class OnnxRuntimePeer:
    name = "ONNX Runtime"

    def __init__(self):
        import onnx  # noqa: F401  (checked here so that a missing package skips the peer)
        import onnxruntime

        self.ort = onnxruntime
        self.version = onnxruntime.__version__

    def prepare(self, w, x, grid, threads):
        import onnx
        from onnx import TensorProto, helper

        elem = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
        node = helper.make_node("GridSample", ["X", "grid"], ["Y"], mode=MODES[w["mode"]][1],
                                padding_mode=w["padding"],
                                align_corners=int(w["align_corners"]))
        graph = helper.make_graph(
            [node], "grid_sample",
            [helper.make_tensor_value_info("X", elem, list(x.shape)),
             helper.make_tensor_value_info("grid", elem, list(grid.shape))],
            [helper.make_tensor_value_info("Y", elem, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
        model.ir_version = 9
        opts = self.ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        session = self.ort.InferenceSession(model.SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        feeds = {"X": x, "grid": grid}
        return lambda: session.run(None, feeds)[0]


class NcnnPeer:
    name = "ncnn"

    def __init__(self):
        import ncnn

        self.ncnn = ncnn
        self.version = ncnn.__version__

    def prepare(self, w, x, grid, threads):
        ncnn = self.ncnn
        if x.dtype != np.float32:
            return None  # ncnn computes in float32 (or lower) only
        param = ("7767517\n3 3\nInput in0 0 1 in0\nInput in1 0 1 in1\n"
                 f"GridSample gs 2 1 in0 in1 out0 0={MODES[w['mode']][0]} "
                 f"1={PADDINGS[w['padding']]} 2={int(w['align_corners'])} 3=0\n")
        net = ncnn.Net()
        net.opt.num_threads = threads
        net.opt.use_fp16_packed = False
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = False
        net.opt.use_vulkan_compute = False
        with tempfile.NamedTemporaryFile("w", suffix=".param", delete=False) as f:
            f.write(param)
        try:
            if net.load_param(f.name) != 0:
                raise RuntimeError("ncnn: load_param failed")
        finally:
            os.unlink(f.name)
        net.load_model(ncnn.DataReaderFromEmpty())
        # One item at a time (ncnn has no batch dimension): input (C, [D,] H, W) and grid
        # ([D,] H, W, k) as ncnn reads them, (c, [d,] h, w) with w = k.
        items = [(np.ascontiguousarray(x[i]), np.ascontiguousarray(grid[i]))
                 for i in range(x.shape[0])]

        def run():
            out = []
            for xi, gi in items:
                with net.create_extractor() as ex:
                    ex.input("in0", ncnn.Mat(xi))
                    ex.input("in1", ncnn.Mat(gi))
                    _, y = ex.extract("out0")
                    out.append(np.array(y))
            return np.stack(out)

        self._net = net  # keep alive
        return run


# ---------------------------------------------------------------------------------------------
# Ours through the CLI, timed from outside


def cli_per_call(cli, bench, w, inp, grid, out, threads, calls, rounds, min_time):
    base = [cli, "sample", "--input", inp, "--grid", grid, "--output", out, "--mode", w["mode"],
            "--padding", w["padding"], "--threads", str(threads)]
    if w["align_corners"]:
        base.append("--align-corners")
    if w.get("channels_last"):
        base.append("--channels-last")

    def process_time(repeat):
        start = time.perf_counter()
        subprocess.run(base + ["--repeat", str(repeat)], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    # Each round: the CLI once, the CLI K + 1 times, and the same call in the benchmark (a
    # process of its own), so that the CLI and the benchmark it is held to are timed minutes
    # apart never: this shared machine's speed drifts by 10-30% from minute to minute (README,
    # "Every peer, and the CLI from outside").
    onces, manys, benched = [], [], []
    key = f"fwd/{w['name']}/ours/threads:{threads}"
    for _ in range(rounds):
        onces.append(process_time(1))
        manys.append(process_time(1 + calls))
        benched.append(run_bench(bench, [w["name"]], [threads], 1, min_time,
                                 kinds=("ours",), copy=False).get(key, math.inf))
    # Per call: the fastest processes (what the target is stated in), and the slowest round
    # against the fastest start-up: how much the same call varies from process to process.
    def per_call(many):
        return max(many - min(onces), 0.0) / calls

    return per_call(min(manys)), per_call(max(manys)), min(benched)


# ---------------------------------------------------------------------------------------------
# gridsample_bench


BENCH_KINDS = ("ours", "torch", "opencv_hwc", "opencv_planar", "ours_hwc")


def run_bench(bench, names, threads, repetitions, min_time, kinds=BENCH_KINDS, copy=True):
    workloads = "|".join(re.escape(n) for n in names)
    pattern = "^(fwd/(" + workloads + ")/(" + "|".join(kinds) + ")" + \
        ("|copy/(" + workloads + ")" if copy else "") + \
        ")/threads:(" + "|".join(str(t) for t in threads) + ")(/real_time)?$"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        subprocess.run([bench, "--benchmark_filter=" + pattern,
                        f"--benchmark_repetitions={repetitions}",
                        f"--benchmark_min_time={min_time}",
                        "--benchmark_enable_random_interleaving=true",
                        "--benchmark_out=" + out, "--benchmark_out_format=json"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            data = json.load(f)
    finally:
        os.unlink(out)
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    times = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"].removesuffix("/real_time")
        ms = b["real_time"] * scale[b["time_unit"]]
        times[name] = min(times.get(name, math.inf), ms)
    return times


def fmt_ms(v):
    return f"{v:.3f}" if v is not None and math.isfinite(v) else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/release", help="build directory")
    ap.add_argument("--out", help="where to write the markdown table")
    ap.add_argument("--filter", default="", help="regular expression on workload names")
    ap.add_argument("--threads", default="", help="thread counts (default: 1 and all cores)")
    ap.add_argument("--repetitions", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repetition")
    ap.add_argument("--cli-rounds", type=int, default=5,
                    help="processes timed per workload and thread count (the fastest counts)")
    args = ap.parse_args()

    bench = os.path.join(args.build, "bench", "gridsample_bench")
    cli = os.path.join(args.build, "tools", "cli", "gridsample")
    for p in (bench, cli):
        if not os.access(p, os.X_OK):
            sys.exit(f"compare.py: {p} is missing: build gridsample_bench and gridsample_cli")
    cores = os.cpu_count() or 1
    threads = [int(t) for t in args.threads.split(",")] if args.threads else \
        sorted({1, cores})

    peers, missing = [], []
    for cls in (OnnxRuntimePeer, NcnnPeer):
        try:
            peers.append(cls())
        except ImportError as e:
            missing.append(f"{cls.name} ({e.name} not installed: scripts/bootstrap.sh --bench)")

    # In memory where there is a tmpfs: reading the inputs and writing the CLI's output then
    # costs the same in every process, and the per-call differences are not file-system noise.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    data_dir = tempfile.mkdtemp(prefix="gridsample-peers-", dir=shm)
    subprocess.run([bench, "--dump_workloads=" + data_dir], check=True)
    with open(os.path.join(data_dir, "workloads.json")) as f:
        workloads = [w for w in json.load(f) if re.search(args.filter, w["name"])]
    names = [w["name"] for w in workloads]

    print(f"gridsample_bench: {len(names)} workloads x {threads} threads ...", flush=True)
    bench_ms = run_bench(bench, names, threads, args.repetitions, args.min_time)

    rows, checks = [], []
    for w in workloads:
        inp = os.path.join(data_dir, w["input"])
        grd = os.path.join(data_dir, w["grid"])
        x, grid = np.load(inp), np.load(grd)
        if w.get("channels_last"):  # the file is (N, [D,] H, W, C); the Python peers take planar
            x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
        ours_out = os.path.join(data_dir, "ours.npy")
        for t in threads:
            sfx = f"/threads:{t}"
            row = {"name": w["name"], "threads": t,
                   "ours": bench_ms.get(f"fwd/{w['name']}/ours{sfx}"),
                   "PyTorch": bench_ms.get(f"fwd/{w['name']}/torch{sfx}"),
                   "copy": bench_ms.get(f"copy/{w['name']}{sfx}")}
            if w["images"]:
                row["OpenCV"] = bench_ms.get(f"fwd/{w['name']}/opencv_planar{sfx}")
                row["OpenCV HWC"] = bench_ms.get(f"fwd/{w['name']}/opencv_hwc{sfx}")
                row["ours HWC"] = bench_ms.get(f"fwd/{w['name']}/ours_hwc{sfx}")
            # Enough calls through the CLI for about half a second of sampling per round.
            per_call = (row["ours"] or 10.0) / 1e3
            calls = max(5, min(200, int(0.5 / per_call)))
            fastest, slowest, beside = cli_per_call(cli, bench, w, inp, grd, ours_out, t, calls,
                                                    args.cli_rounds, args.min_time)
            row["CLI"], row["CLI slowest"], row["bench beside"] = \
                1e3 * fastest, 1e3 * slowest, beside
            ours = np.load(ours_out)
            if w.get("channels_last"):
                ours = np.moveaxis(ours, -1, 1)
            for peer in peers:
                try:
                    fn = peer.prepare(w, x, grid, t)
                except Exception as e:  # the peer does not compute this case
                    checks.append(f"- {peer.name}, {w['name']}: not computed ({e})")
                    fn = None
                if fn is None:
                    row[peer.name] = None
                    continue
                y = fn()
                diff = float(np.max(np.abs(y.astype(np.float64) - ours.astype(np.float64))))
                if t == threads[0]:
                    checks.append(f"- {peer.name}, {w['name']}: max |peer - ours| = {diff:.3g}")
                row[peer.name] = 1e3 * best_time(fn, args.min_time, args.repetitions)
            rows.append(row)
            print(f"  {w['name']} threads {t}: " + ", ".join(
                f"{k} {fmt_ms(v)}" for k, v in row.items() if k not in ("name", "threads")),
                flush=True)

    peer_names = ["PyTorch", "OpenCV", "OpenCV HWC"] + [p.name for p in peers]
    lines = []
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    lines.append(f"Machine: {model}, {cores} hardware threads")
    lines.append("Peers: PyTorch (libtorch) and OpenCV in gridsample_bench; " + "; ".join(
        f"{p.name} {p.version}" for p in peers) + (("; missing: " + "; ".join(missing))
                                                   if missing else ""))
    lines.append("")
    lines.append("| workload | threads | ours ms | CLI ms/call | bench beside CLI ms | CLI / bench | "
                 "CLI slowest | " +
                 " | ".join(f"{p} ms" for p in peer_names) +
                 " | fastest peer | vs fastest | roofline |")
    lines.append("|---|---|---|---|---|---|---|" + "---|" * len(peer_names) + "---|---|---|")
    worst = {}
    for r in rows:
        ours = r["ours"]
        # OpenCV's channels-last remap is compared with ours on channels-last tensors.
        candidates = []
        for p in peer_names:
            v = r.get(p)
            if v is None:
                continue
            mine = r.get("ours HWC") if p == "OpenCV HWC" else ours
            if mine:
                candidates.append((v / mine, p))
        ratio, fastest = min(candidates) if candidates else (None, "-")
        # The CLI against the benchmark timed beside it, in the same rounds (cli_per_call).
        beside = r["bench beside"]
        cli_ratio = r["CLI"] / beside if beside and math.isfinite(beside) else None
        roof = r["copy"] / ours if ours and r["copy"] else None
        for key, v in (("vs fastest", ratio), ("CLI / bench", None if cli_ratio is None else
                                                 1 / cli_ratio)):
            if v is not None and (key not in worst or v < worst[key][0]):
                worst[key] = (v, f"{r['name']} at {r['threads']} thread(s)")
        lines.append(f"| {r['name']} | {r['threads']} | {fmt_ms(ours)} | {fmt_ms(r['CLI'])} | " +
                     f"{fmt_ms(beside)} | " +
                     (f"{cli_ratio:.2f}" if cli_ratio else "-") + " | " +
                     fmt_ms(r["CLI slowest"]) + " | " +
                     " | ".join(fmt_ms(r.get(p)) for p in peer_names) + f" | {fastest} | " +
                     (f"{ratio:.2f}x" if ratio else "-") + " | " +
                     (f"{100 * roof:.0f}%" if roof else "-") + " |")
    lines.append("")
    if "vs fastest" in worst:
        v, where = worst["vs fastest"]
        lines.append(f"Smallest ratio to the fastest peer: {v:.2f}x ({where}); target 1.5x: "
                     f"{'met' if v >= 1.5 else 'NOT met'}")
    if "CLI / bench" in worst:
        v, where = worst["CLI / bench"]
        lines.append(f"Largest CLI per-call time over the benchmark's: {1 / v:.2f} ({where}); "
                     f"target 1.15: {'met' if 1 / v <= 1.15 else 'NOT met'}")
    lines.append("")
    lines.append("Peer outputs against ours (same data):")
    lines.extend(checks)
    table = "\n".join(lines) + "\n"
    shutil.rmtree(data_dir, ignore_errors=True)
    print("\n" + table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
