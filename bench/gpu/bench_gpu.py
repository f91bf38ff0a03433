#!/usr/bin/env python3
"""gridsample on the GPU against PyTorch's CUDA grid_sample, side by side in one process.

Loads libgridsample_c.so (the C ABI, runtime/include/gridsample/gridsample_c.h) with ctypes and runs
it on PyTorch's own CUDA tensors, on PyTorch's current stream (options.stream.cuda_stream; a null
cuda_context is the device's primary context, the one PyTorch uses), so both implementations read
the same memory and queue on the same stream.

Workloads (float32 unless said; the output has the input's spatial size): the feature map
8x64x128x128 in every mode (bilinear, nearest, bicubic) and padding (zeros, border, reflection);
the image 1x3x1080x1920 bilinear, bicubic and nearest; the batch 32x128x64x64 bilinear; volumes
1x16x64^3 (border, align_corners) and 2x32x96^3 trilinear; 256x1x28x28 bilinear; the feature map in
float64; backward (both gradients) of the feature map bilinear and bicubic and of the 1x16x64^3
volume, ours deterministic (the default) and nondeterministic (n/a when the library answers
GRIDSAMPLE_UNSUPPORTED), against PyTorch's backward (atomics: non-deterministic). Grids: the
affine_grid of a small random rotation, scale and shift plus a little noise; fixed seeds.

For every workload:
  1. accuracy: our result against PyTorch's on the same data. Forward: max abs difference over
     max |input|, within SEMANTICS.md S11's tolerance (float32 2e-5, float64 1e-12) plus what two
     ulps of the unnormalized coordinate can change (S2: implementations may differ in its last
     bits; that matters on the 1920-wide image only); nearest: the fraction of elements that
     differ < 1e-3, since rounding ties may go either way. Backward: max abs difference over max
     |gradient|, the worse of grad_input and grad_grid (float32 1e-4, float64 1e-10); our
     deterministic backward must also repeat bit for bit.
  2. timing: ROUNDS rounds, the implementations in random order in each round, CALLS calls per
     implementation per round, after warm-up calls:
       kernel time  CUDA events around each call, with the stream held busy by a spin kernel
                    (torch.cuda._sleep) while the calls are queued, so that the events time the
                    device work of the call and not the host's launch gaps;
       call time    host wall time of each call (time.perf_counter around the call, without
                    synchronizing inside), from a second burst of calls that is not held back:
                    the host overhead of a call, or more if the call waits for the device.
     Medians and minima over all calls; ratios are PyTorch's time over ours.
  3. a device-to-device copy (Tensor.copy_) moving as many bytes as the feature-map input and
     output: the copy roofline that the bilinear forward is expressed against.
The report (Markdown, printed and written to --output) ends with the geometric mean and the
smallest of the forward ratios, the backward geometric mean, the roofline percentage, and the
targets: forward geometric mean >= 1.5x and no forward row below 1.0x; backward geometric mean
>= 1.5x (our faster mode per workload); the deterministic backward at most 1.5x PyTorch's time;
feature-map bilinear forward >= 60% of the copy roofline.

--device cpu runs the same workloads on CPU tensors (GRIDSAMPLE_CPU) and times with
time.perf_counter only (kernel time = call time); with --quick the tensors are small. It exercises
the ctypes plumbing, the accuracy checks and the report on a machine without a GPU.

usage: bench_gpu.py LIB [--output FILE.md] [--json FILE] [--device cuda|cpu] [--device-index N]
                    [--quick] [--rounds R] [--calls K] [--only REGEX] [--seed S]
                    [--budget-s SECONDS] [--build-info FILE] [--strict-targets]
       bench_gpu.py --torch-only ...   (PyTorch alone: no library)
Exit status: 0 when every row ran and is within tolerance, 1 when a call failed, a result is
outside tolerance or a row was not run (--budget-s), 2 when the library or the device cannot be
used (PyTorch is still timed and reported when only the library fails), 3 (only with
--strict-targets) when a performance target is not met.
"""
import argparse
import ctypes
import datetime
import hashlib
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# The C ABI (gridsample_c.h), declared field for field.

GRIDSAMPLE_FLOAT32, GRIDSAMPLE_FLOAT64, GRIDSAMPLE_FLOAT16, GRIDSAMPLE_BFLOAT16 = 0, 1, 2, 3
DTYPE_CODES = {torch.float32: GRIDSAMPLE_FLOAT32, torch.float64: GRIDSAMPLE_FLOAT64,
               torch.float16: GRIDSAMPLE_FLOAT16, torch.bfloat16: GRIDSAMPLE_BFLOAT16}
GRIDSAMPLE_OK, GRIDSAMPLE_INVALID_ARGUMENT, GRIDSAMPLE_UNSUPPORTED = 0, 1, 2
GRIDSAMPLE_OUT_OF_MEMORY, GRIDSAMPLE_INTERNAL = 3, 4
GRIDSAMPLE_CPU, GRIDSAMPLE_CUDA, GRIDSAMPLE_OPENCL = 1, 2, 4
STATUS_NAMES = {0: "ok", 1: "invalid_argument", 2: "unsupported", 3: "out_of_memory", 4: "internal"}

# PyTorch's integers, which the C ABI uses too (SEMANTICS.md S1).
MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
PADDINGS = {"zeros": 0, "border": 1, "reflection": 2}


class GsTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("sizes", ctypes.c_int64 * 5),
        ("strides", ctypes.c_int64 * 5),
        ("device_type", ctypes.c_int32),
        ("device_id", ctypes.c_int32),
    ]


class GsStream(ctypes.Structure):
    _fields_ = [
        ("cuda_context", ctypes.c_void_p),
        ("cuda_stream", ctypes.c_void_p),
        ("opencl_context", ctypes.c_void_p),
        ("opencl_queue", ctypes.c_void_p),
    ]


class GsOptions(ctypes.Structure):
    _fields_ = [
        ("mode", ctypes.c_int32),
        ("padding", ctypes.c_int32),
        ("align_corners", ctypes.c_int32),
        ("nondeterministic", ctypes.c_int32),
        ("stream", GsStream),
    ]


# The x86-64 layout of the header's structs; a mismatch here means the declarations above drifted.
assert ctypes.sizeof(GsTensor) == 104 and GsTensor.device_type.offset == 96
assert ctypes.sizeof(GsOptions) == 48 and GsOptions.stream.offset == 16


class Library:
    """libgridsample_c.so through ctypes."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.dll = ctypes.CDLL(self.path)
        T, P = ctypes.POINTER(GsTensor), ctypes.POINTER(GsOptions)
        i32 = ctypes.c_int32
        self.grid_sample = self._fn("gridsample_grid_sample", [T, T, T, P])
        self.grid_sample_backward = self._fn("gridsample_grid_sample_backward", [T, T, T, T, T, P])
        self.last_error_fn = self._fn("gridsample_last_error", [], ctypes.c_char_p)
        self.set_num_threads = self._fn("gridsample_set_num_threads", [i32])
        try:
            self.device_status_fn = self._fn("gridsample_device_status", [i32, i32])
        except AttributeError:
            self.device_status_fn = None

    def _fn(self, name, argtypes, restype=ctypes.c_int32):
        f = getattr(self.dll, name)
        f.argtypes, f.restype = argtypes, restype
        return f

    def last_error(self):
        m = self.last_error_fn()
        return m.decode(errors="replace") if m else ""

    def device_status(self, device_type, device_id):
        """(status code, message); OK when the library cannot tell (an older build)."""
        if self.device_status_fn is None:
            return GRIDSAMPLE_OK, ""
        rc = self.device_status_fn(device_type, device_id)
        return rc, (self.last_error() if rc else "")


def view(t):
    """A gridsample_tensor viewing torch tensor t: sizes and strides in elements, PyTorch's order."""
    if t.dtype not in DTYPE_CODES:
        raise ValueError(f"unsupported dtype {t.dtype}")
    v = GsTensor()
    v.data = t.data_ptr()
    v.dtype = DTYPE_CODES[t.dtype]
    v.rank = t.dim()
    for i, (s, st) in enumerate(zip(t.shape, t.stride())):
        v.sizes[i], v.strides[i] = s, st
    if t.is_cuda:
        v.device_type, v.device_id = GRIDSAMPLE_CUDA, t.device.index
    else:
        v.device_type, v.device_id = GRIDSAMPLE_CPU, 0
    return v


def options(mode, padding, align_corners, nondeterministic=False, stream=None):
    o = GsOptions()
    o.mode, o.padding = MODES[mode], PADDINGS[padding]
    o.align_corners = int(align_corners)
    o.nondeterministic = int(nondeterministic)
    # cuda_context stays null: the device's primary context, which PyTorch uses.
    o.stream.cuda_stream = stream
    return o


class CallFailed(Exception):
    def __init__(self, rc, message):
        super().__init__(f"{STATUS_NAMES.get(rc, rc)}: {message}")
        self.rc = rc


# ---------------------------------------------------------------------------------------------
# Workloads.


class Workload:
    def __init__(self, name, shape, mode="bilinear", padding="zeros", align_corners=False,
                 dtype=torch.float32, backward=False, nondeterministic=False, quick_shape=None):
        self.name, self.shape, self.mode, self.padding = name, shape, mode, padding
        self.align_corners, self.dtype = align_corners, dtype
        self.backward, self.nondeterministic = backward, nondeterministic
        self.quick_shape = quick_shape or shape

    @property
    def dims(self):
        return len(self.shape) - 2

    @property
    def storage(self):
        """float16 / bfloat16 (SEMANTICS.md S10): compared with PyTorch in the same dtype, with a
        target of their own."""
        return self.dtype in (torch.float16, torch.bfloat16)

    @property
    def label(self):
        if not self.backward:
            return self.name
        return f"backward {self.name} ({'nondeterministic' if self.nondeterministic else 'deterministic'})"


FEAT, FEAT_Q = (8, 64, 128, 128), (2, 8, 24, 32)
IMAGE, IMAGE_Q = (1, 3, 1080, 1920), (1, 3, 45, 80)
BATCH, BATCH_Q = (32, 128, 64, 64), (4, 8, 16, 16)
VOL64, VOL64_Q = (1, 16, 64, 64, 64), (1, 4, 10, 12, 14)
VOL96, VOL96_Q = (2, 32, 96, 96, 96), (2, 4, 12, 12, 12)
SMALL, SMALL_Q = (256, 1, 28, 28), (16, 1, 28, 28)


def all_workloads():
    w = []
    for mode in MODES:
        for padding in PADDINGS:
            w.append(Workload(f"feat_{mode}_{padding}", FEAT, mode, padding, quick_shape=FEAT_Q))
    for mode in ("bilinear", "bicubic", "nearest"):
        w.append(Workload(f"image_{mode}_zeros", IMAGE, mode, quick_shape=IMAGE_Q))
    w.append(Workload("batch_bilinear_zeros", BATCH, quick_shape=BATCH_Q))
    w.append(Workload("volume64_trilinear_border_ac", VOL64, padding="border", align_corners=True,
                      quick_shape=VOL64_Q))
    w.append(Workload("volume96_trilinear_zeros", VOL96, quick_shape=VOL96_Q))
    w.append(Workload("small_bilinear_zeros", SMALL, quick_shape=SMALL_Q))
    w.append(Workload("feat_bilinear_zeros_f64", FEAT, dtype=torch.float64, quick_shape=FEAT_Q))
    # The storage types (S10), grid in the same dtype (PyTorch requires it), forward and backward.
    for dtype, suffix in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        for name, shape, quick, mode, padding in (
                ("feat_bilinear_zeros", FEAT, FEAT_Q, "bilinear", "zeros"),
                ("feat_bicubic_border", FEAT, FEAT_Q, "bicubic", "border"),
                ("image_bilinear_zeros", IMAGE, IMAGE_Q, "bilinear", "zeros")):
            w.append(Workload(f"{name}_{suffix}", shape, mode, padding, dtype=dtype,
                              quick_shape=quick))
        for name, shape, quick, mode, padding in (
                ("feat_bilinear_zeros", FEAT, FEAT_Q, "bilinear", "zeros"),
                ("feat_bicubic_border", FEAT, FEAT_Q, "bicubic", "border")):
            w.append(Workload(f"{name}_{suffix}", shape, mode, padding, dtype=dtype, backward=True,
                              quick_shape=quick))
    for name, shape, quick, mode, padding, ac in (
            ("feat_bilinear_zeros", FEAT, FEAT_Q, "bilinear", "zeros", False),
            ("feat_bicubic_border", FEAT, FEAT_Q, "bicubic", "border", False),
            ("volume64_trilinear_border_ac", VOL64, VOL64_Q, "bilinear", "border", True)):
        for nondet in (False, True):
            w.append(Workload(name, shape, mode, padding, ac, backward=True, nondeterministic=nondet,
                              quick_shape=quick))
    return w


ROOFLINE_WORKLOAD = "feat_bilinear_zeros"

# SEMANTICS tolerances: forward relative to max |input|, backward relative to max |gradient|.
# float16/bfloat16 (S10): one unit in the storage type's last place on top of float32's; the
# backward's looser still, as PyTorch's CUDA backward accumulates grad_input in the storage type.
TOLERANCE = {torch.float32: (2e-5, 1e-4), torch.float64: (1e-12, 1e-10),
             torch.float16: (2e-5 + 2**-10, 1e-2), torch.bfloat16: (2e-5 + 2**-7, 5e-2)}
NEAREST_MISMATCH_LIMIT = 1e-3

# ---------------------------------------------------------------------------------------------
# Data: a random smooth affine grid (a small random rotation, scale and shift per batch element)
# plus a little noise; inputs uniform in [-1, 1]. Fixed seeds.


def make_theta(n, dims, rng):
    rows = []
    for _ in range(n):
        a = rng.uniform(-0.25, 0.25)
        s = rng.uniform(0.85, 1.15)
        t = [rng.uniform(-0.05, 0.05) for _ in range(dims)]
        ca, sa = math.cos(a), math.sin(a)
        if dims == 2:
            rows.append([[s * ca, -s * sa, t[0]], [s * sa, s * ca, t[1]]])
        else:
            b = rng.uniform(-0.15, 0.15)
            cb, sb = math.cos(b), math.sin(b)
            # rotation about z by a, then about x by b, scaled by s; columns x, y, z, shift
            rz = [[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]]
            rx = [[1.0, 0.0, 0.0], [0.0, cb, -sb], [0.0, sb, cb]]
            r = [[sum(rz[i][k] * rx[k][j] for k in range(3)) * s for j in range(3)] for i in range(3)]
            rows.append([r[i] + [t[i]] for i in range(3)])
    return torch.tensor(rows, dtype=torch.float64)


def make_data(w, shape, device, seed):
    """input, grid and (backward) grad_output on device, contiguous."""
    rng = random.Random(f"{seed}:{w.name}:{shape}")
    gen = torch.Generator(device=device)
    gen.manual_seed(rng.randrange(2**31))
    inp = torch.rand(shape, generator=gen, device=device, dtype=w.dtype).mul_(2).sub_(1)
    n, spatial = shape[0], shape[2:]
    theta = make_theta(n, w.dims, rng).to(device)
    grid = F.affine_grid(theta, [n, 1, *spatial], align_corners=w.align_corners)
    noise = torch.randn(grid.shape, generator=gen, device=device, dtype=torch.float64)
    grid = (grid + noise.mul_(0.003)).to(w.dtype).contiguous()
    go = None
    if w.backward:
        go = torch.rand((n, shape[1], *spatial), generator=gen, device=device, dtype=w.dtype)
        go.mul_(2).sub_(1)
    return inp, grid, go


# ---------------------------------------------------------------------------------------------
# The two implementations of one workload, as argument-free callables.


def torch_forward(w, inp, grid):
    mode, padding, ac = w.mode, w.padding, w.align_corners
    return lambda: F.grid_sample(inp, grid, mode=mode, padding_mode=padding, align_corners=ac)


def torch_backward(w, go, inp, grid):
    """PyTorch's backward (atomics on CUDA: non-deterministic): both gradients."""
    op = torch.ops.aten.grid_sampler_2d_backward if w.dims == 2 else torch.ops.aten.grid_sampler_3d_backward
    m, p, ac = MODES[w.mode], PADDINGS[w.padding], w.align_corners
    direct = lambda: op(go, inp, grid, m, p, ac, [True, True])
    try:
        direct()
        return direct, "aten.grid_sampler_%dd_backward" % w.dims
    except (RuntimeError, TypeError):
        pass
    # Releases whose op has another signature: autograd through the forward, graph kept.
    inp_r, grid_r = inp.detach().requires_grad_(True), grid.detach().requires_grad_(True)
    out = F.grid_sample(inp_r, grid_r, mode=w.mode, padding_mode=w.padding, align_corners=ac)
    return (lambda: torch.autograd.grad(out, (inp_r, grid_r), go, retain_graph=True)), "autograd.grad"


def ours_forward(lib, w, inp, grid, out, stream):
    keep = (view(inp), view(grid), view(out), options(w.mode, w.padding, w.align_corners, stream=stream))
    args = tuple(ctypes.byref(k) for k in keep)
    fn = lib.grid_sample

    def call():
        rc = fn(*args)
        if rc:
            raise CallFailed(rc, lib.last_error())
    call.keep = keep  # the structs live as long as the callable
    return call


def ours_backward(lib, w, go, inp, grid, gi, gg, stream):
    keep = (view(go), view(inp), view(grid), view(gi), view(gg),
            options(w.mode, w.padding, w.align_corners, w.nondeterministic, stream))
    args = tuple(ctypes.byref(k) for k in keep)
    fn = lib.grid_sample_backward

    def call():
        rc = fn(*args)
        if rc:
            raise CallFailed(rc, lib.last_error())
    call.keep = keep
    return call


# ---------------------------------------------------------------------------------------------
# Accuracy.


def max_abs_diff(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def max_abs(a):
    return a.double().abs().max().item() if a.numel() else 0.0


def coordinate_allowance(w, inp):
    """What an implementation may differ by because the unnormalized coordinate may differ in its
    last bits (SEMANTICS.md S2, S11): two ulps of the largest in-range coordinate (S - 0.5) times
    the input's largest step between neighbouring elements (twice that for bicubic, whose slope can
    exceed it). On a 128-wide float32 map of noise in [-1, 1] that is 3e-5 of max |input| (6e-5
    bicubic); on a 1920-wide image of noise 4.9e-4: one ulp of the coordinate there is 1.2e-4 pixels."""
    largest = max(inp.shape[2:]) - 0.5
    ulp = 2.0 ** math.floor(math.log2(largest)) * torch.finfo(w.dtype).eps if largest >= 1 else 0.0
    step = max((inp.diff(dim=d).abs().max().item() if inp.shape[d] > 1 else 0.0) for d in range(2, inp.dim()))
    return 2 * ulp * step * (2 if w.mode == "bicubic" else 1)


def check_forward(w, ours, ref, inp):
    scale = max(max_abs(inp), 1e-30)
    tol = TOLERANCE[w.dtype][0]
    if not torch.isfinite(ours).all():
        return False, "FAIL: non-finite output"
    if w.mode == "nearest":
        bad = int(((ours.double() - ref.double()).abs() > tol * scale).sum().item())
        frac = bad / max(ref.numel(), 1)
        ok = frac < NEAREST_MISMATCH_LIMIT
        return ok, f"{'ok' if ok else 'FAIL'}: {bad}/{ref.numel()} differ ({frac:.1e}, limit {NEAREST_MISMATCH_LIMIT:.0e})"
    rel = max_abs_diff(ours, ref) / scale
    limit = tol + coordinate_allowance(w, inp) / scale
    ok = rel <= limit
    return ok, f"{'ok' if ok else 'FAIL'}: {rel:.1e} {'<=' if ok else '>'} {limit:.1e}"


def check_backward(w, gi, gg, ref_gi, ref_gg):
    tol = TOLERANCE[w.dtype][1]
    if not (torch.isfinite(gi).all() and torch.isfinite(gg).all()):
        return False, "FAIL: non-finite gradient"
    rel_i = max_abs_diff(gi, ref_gi) / max(max_abs(ref_gi), 1e-30)
    rel_g = max_abs_diff(gg, ref_gg) / max(max_abs(ref_gg), 1e-30)
    rel = max(rel_i, rel_g)
    ok = rel <= tol
    text = f"{'ok' if ok else 'FAIL'}: grad_input {rel_i:.1e}, grad_grid {rel_g:.1e}"
    return ok, text + ("" if ok else f" > {tol:.0e}")


# ---------------------------------------------------------------------------------------------
# Timing.


class CpuClock:
    """Synchronous calls: the host wall time is the kernel time."""
    kind = "cpu"

    def sync(self):
        pass

    def burst(self, fn, calls):
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return times, times

    def first_call_ms(self, fn):
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


class CudaClock:
    kind = "cuda"

    def __init__(self, device):
        self.device = device
        self.events = {}
        self.short_pads = 0
        self.cycles_per_ms = None
        if hasattr(torch.cuda, "_sleep"):
            torch.cuda._sleep(1000)
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            cycles = 20_000_000
            s.record()
            torch.cuda._sleep(cycles)
            e.record()
            e.synchronize()
            ms = s.elapsed_time(e)
            if ms > 0:
                self.cycles_per_ms = cycles / ms
        self.host_ms = {}  # an estimate of each callable's host time, to size the spin kernel

    def sync(self):
        torch.cuda.synchronize(self.device)

    def _events(self, calls):
        if calls not in self.events:
            self.events[calls] = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                                  for _ in range(calls)]
        return self.events[calls]

    def burst(self, fn, calls):
        # Kernel time: the calls are queued behind a spin kernel long enough to cover their
        # launches, so each pair of events brackets the call's device work only.
        self.sync()
        ev = self._events(calls)
        pad_ms = min(50.0, 0.2 + 3.0 * calls * (self.host_ms.get(fn, 0.05) + 0.01))
        if self.cycles_per_ms:
            torch.cuda._sleep(int(pad_ms * self.cycles_per_ms))
        t0 = time.perf_counter()
        for s, e in ev:
            s.record()
            fn()
            e.record()
        if self.cycles_per_ms and (time.perf_counter() - t0) * 1e3 > pad_ms:
            self.short_pads += 1
        self.sync()
        kernel = [s.elapsed_time(e) for s, e in ev]
        # Call time: the same number of calls, not held back.
        host = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            host.append((time.perf_counter() - t0) * 1e3)
        self.sync()
        self.host_ms[fn] = statistics.median(host)
        return kernel, host

    def first_call_ms(self, fn):
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return (time.perf_counter() - t0) * 1e3


def measure(clock, impls, rounds, calls, warmup, rng):
    """impls: {name: callable}. Returns {name: (kernel ms list, call ms list)}."""
    for fn in impls.values():
        for _ in range(warmup):
            fn()
        clock.sync()
        if clock.kind == "cuda":
            clock.burst(fn, max(2, calls // 2))  # sizes the spin kernel from a host-time sample
    out = {name: ([], []) for name in impls}
    for _ in range(rounds):
        order = list(impls)
        rng.shuffle(order)
        for name in order:
            kernel, host = clock.burst(impls[name], calls)
            out[name][0].extend(kernel)
            out[name][1].extend(host)
    return out


def stats(values):
    return (statistics.median(values), min(values)) if values else (None, None)


# ---------------------------------------------------------------------------------------------
# One workload: data, accuracy, timing.


class Row:
    def __init__(self, w):
        self.w = w
        self.ours_kernel = self.torch_kernel = self.ours_call = self.torch_call = (None, None)
        self.accuracy = ""
        self.accurate = True
        self.error = None  # our call failed
        self.unsupported = False  # nondeterministic backward not in this build: "n/a"
        self.first_call_ms = None
        self.torch_op = ""
        self.not_run = False  # the time budget was spent before it

    def ratio(self, which=0):
        o, t = self.ours_kernel[which], self.torch_kernel[which]
        return t / o if o and t else None


def run_workload(w, lib, device, clock, args, stream):
    row = Row(w)
    shape = w.quick_shape if (args.quick and device.type == "cpu") else w.shape
    inp, grid, go = make_data(w, shape, device, args.seed)
    impls = {}
    if not w.backward:
        t_fn = torch_forward(w, inp, grid)
        row.torch_op = "F.grid_sample"
        ref = t_fn()
        impls["torch"] = t_fn
        if lib:
            out = torch.full_like(ref, float("nan"))
            o_fn = ours_forward(lib, w, inp, grid, out, stream)
            try:
                row.first_call_ms = clock.first_call_ms(o_fn)
                row.accurate, row.accuracy = check_forward(w, out, ref, inp)
                impls["ours"] = o_fn
            except CallFailed as e:
                row.error, row.accurate, row.accuracy = str(e), False, f"FAIL: {e}"
    else:
        t_fn, row.torch_op = torch_backward(w, go, inp, grid)
        ref_gi, ref_gg = t_fn()
        impls["torch"] = t_fn
        if lib:
            gi = torch.full_like(inp, float("nan"))
            gg = torch.full_like(grid, float("nan"))
            o_fn = ours_backward(lib, w, go, inp, grid, gi, gg, stream)
            try:
                row.first_call_ms = clock.first_call_ms(o_fn)
                row.accurate, row.accuracy = check_backward(w, gi, gg, ref_gi, ref_gg)
                if not w.nondeterministic:
                    # The deterministic backward must repeat bit for bit.
                    gi1, gg1 = gi.clone(), gg.clone()
                    gi.fill_(float("nan"))
                    gg.fill_(float("nan"))
                    o_fn()
                    clock.sync()
                    same = torch.equal(gi, gi1) and torch.equal(gg, gg1)
                    row.accuracy += ", bitwise repeatable" if same else ", FAIL: not bitwise repeatable"
                    row.accurate = row.accurate and same
                impls["ours"] = o_fn
            except CallFailed as e:
                if w.nondeterministic and e.rc == GRIDSAMPLE_UNSUPPORTED:
                    row.unsupported, row.accuracy = True, f"n/a ({e})"
                else:
                    row.error, row.accurate, row.accuracy = str(e), False, f"FAIL: {e}"
    clock.sync()
    rng = random.Random(f"{args.seed}:order:{w.label}")
    try:
        res = measure(clock, impls, args.rounds, args.calls, args.warmup, rng)
    except CallFailed as e:  # a call that passed its check failed later
        row.error, row.accurate, row.accuracy = str(e), False, f"FAIL while timing: {e}"
        return row
    row.torch_kernel, row.torch_call = stats(res["torch"][0]), stats(res["torch"][1])
    if "ours" in res:
        row.ours_kernel, row.ours_call = stats(res["ours"][0]), stats(res["ours"][1])
    return row


def run_roofline(device, clock, args):
    """A device-to-device copy moving as many bytes as the feature-map forward's input and output.
    Returns (copy kernel ms median, min; bytes moved by the copy)."""
    feat = FEAT_Q if (args.quick and device.type == "cpu") else FEAT
    numel = math.prod(feat)  # input and output have the same size: copy one into the other
    src = torch.rand(numel, device=device)
    dst = torch.empty_like(src)
    res = measure(clock, {"copy": lambda: dst.copy_(src)}, args.rounds, args.calls, args.warmup,
                  random.Random(args.seed))
    return stats(res["copy"][0]), 2 * numel * src.element_size()


# ---------------------------------------------------------------------------------------------
# The report.


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def fmt_ms(pair):
    m, lo = pair
    if m is None:
        return "-"
    digits = 4 if m < 1 else 3 if m < 10 else 2
    return f"{m:.{digits}f} / {lo:.{digits}f}"


def fmt_x(v):
    return "-" if v is None else f"{v:.2f}x"


def environment(device, lib, lib_error=None):
    lines = []
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        lines.append(f"device: {p.name} ({device}; compute capability {p.major}.{p.minor}, "
                     f"{p.multi_processor_count} SMs, {p.total_memory / 2**30:.1f} GiB)")
        lines.append(f"driver: {driver_version()}")
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        lines.append(f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {cudnn})")
    else:
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
        except OSError:
            pass
        lines.append(f"device: CPU, {cpu}, {os.cpu_count()} hardware threads "
                     f"(PyTorch {torch.get_num_threads()} threads)")
        lines.append(f"PyTorch {torch.__version__}")
    if lib:
        with open(lib.path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        lines.append(f"library: {lib.path} ({os.path.getsize(lib.path) / 2**20:.1f} MiB, sha256 {digest}...)")
    else:
        lines.append(f"library: FAILED: {lib_error}" if lib_error else "library: none (--torch-only)")
    lines.append(f"host: {platform.node()}, Python {platform.python_version()}, "
                 f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    return lines


def driver_version():
    text = ""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            r = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=20)
            text = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else ""
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    try:
        v = ctypes.c_int(0)
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(v)) == 0:
            api = f"CUDA driver API {v.value // 1000}.{v.value % 1000 // 10}"
            text = f"{text} ({api})" if text else api
    except OSError:
        pass
    return text or "unknown"


def summarize(rows, roofline, device, args):
    """The summary lines and the target checks."""
    storage = [r for r in rows if r.w.storage]
    rows = [r for r in rows if not r.w.storage]
    fwd = [r for r in rows if not r.w.backward]
    bwd = [r for r in rows if r.w.backward]
    lines, targets = [], []
    # float16/bfloat16 forward and backward against PyTorch in the same dtype (S10).
    s_ratios = [r.ratio() for r in storage if r.ratio()]
    s_geo = geomean(s_ratios)
    if storage:
        lines.append(f"float16/bfloat16: geometric mean torch/ours {s_geo:.2f}x over {len(s_ratios)} "
                     f"workloads (forward and backward)" if s_geo else
                     "float16/bfloat16: no workload has both timings")
        targets.append(("float16/bfloat16 forward and backward geometric mean >= 1.5x PyTorch",
                        s_geo is not None and len(s_ratios) == len(storage) and s_geo >= 1.5,
                        "-" if s_geo is None else f"{s_geo:.2f}x"))
    missing = [r.w.label for r in rows if r.ratio() is None and not r.unsupported]

    f_ratios = [(r.ratio(), r) for r in fwd if r.ratio()]
    f_geo = geomean([x for x, _ in f_ratios])
    f_geo_min = geomean([r.ratio(1) for _, r in f_ratios])
    if f_ratios:
        lo, lo_row = min(f_ratios, key=lambda p: p[0])
        lines.append(f"forward: geometric mean torch/ours {f_geo:.2f}x over {len(f_ratios)} workloads "
                     f"(of minima {f_geo_min:.2f}x); smallest {lo:.2f}x ({lo_row.w.name})")
    else:
        lo = None
        lines.append("forward: no workload has both timings")
    fwd_complete = len(f_ratios) == len(fwd)
    targets.append(("forward geometric mean >= 1.5x PyTorch", f_geo is not None and fwd_complete and f_geo >= 1.5,
                    "-" if f_geo is None else f"{f_geo:.2f}x"))
    targets.append(("no forward workload below 1.0x", lo is not None and fwd_complete and lo >= 1.0,
                    "-" if lo is None else f"smallest {lo:.2f}x"))

    # Backward: per workload, our fastest mode that this build runs.
    by_name = {}
    for r in bwd:
        by_name.setdefault(r.w.name, {})[r.w.nondeterministic] = r
    best, det_ratios, nondet_ratios, det_slowdowns = [], [], [], []
    for name, modes in by_name.items():
        cands = [r.ratio() for r in modes.values() if r.ratio()]
        if cands:
            best.append(max(cands))
        det = modes.get(False)
        if det and det.ratio():
            det_ratios.append(det.ratio())
            det_slowdowns.append((1 / det.ratio(), name))
        nd = modes.get(True)
        if nd and nd.ratio():
            nondet_ratios.append(nd.ratio())
    b_geo = geomean(best)
    if by_name:
        lines.append(f"backward: geometric mean torch/ours {b_geo:.2f}x (our faster mode per workload, "
                     f"{len(best)} workloads)" if b_geo else "backward: no workload has both timings")
        if det_ratios:
            lines.append(f"backward deterministic: geometric mean {geomean(det_ratios):.2f}x")
        if nondet_ratios or not args.torch_only:
            lines.append("backward nondeterministic: " + (f"geometric mean {geomean(nondet_ratios):.2f}x"
                                                          if nondet_ratios else "n/a in this build"))
    bwd_complete = len(best) == len(by_name) and len(det_ratios) == len(by_name)
    targets.append(("backward geometric mean >= 1.5x PyTorch", b_geo is not None and bwd_complete and b_geo >= 1.5,
                    "-" if b_geo is None else f"{b_geo:.2f}x"))
    worst = max(det_slowdowns) if det_slowdowns else None
    if worst:
        lines.append(f"deterministic backward: at most {worst[0]:.2f}x PyTorch's time ({worst[1]})")
    targets.append(("deterministic backward no slower than 1.5x PyTorch", worst is not None and bwd_complete and worst[0] <= 1.5,
                    "-" if worst is None else f"at most {worst[0]:.2f}x PyTorch's time"))

    pct = None
    feat = next((r for r in fwd if r.w.name == ROOFLINE_WORKLOAD), None)
    (copy_ms, copy_min), copy_bytes = roofline
    if feat and copy_ms:
        shape = feat.w.quick_shape if (args.quick and device.type == "cpu") else feat.w.shape
        esize = torch.finfo(feat.w.dtype).bits // 8
        io_bytes = 2 * math.prod(shape) * esize
        grid_bytes = shape[0] * math.prod(shape[2:]) * feat.w.dims * esize
        copy_bw = copy_bytes / (copy_ms * 1e-3) / 1e9
        line = (f"copy roofline: Tensor.copy_ moving {copy_bytes / 1e6:.1f} MB (the feature map's input "
                f"and output bytes) in {copy_ms:.4f} ms median, {copy_bw:.0f} GB/s")
        if feat.ours_kernel[0]:
            ours_bw = (io_bytes + grid_bytes) / (feat.ours_kernel[0] * 1e-3) / 1e9
            pct = 100 * ours_bw / copy_bw
            pct_min = 100 * ((io_bytes + grid_bytes) / feat.ours_kernel[1]) / (copy_bytes / copy_min)
            line += (f"; {ROOFLINE_WORKLOAD} moves {(io_bytes + grid_bytes) / 1e6:.1f} MB (input, output, grid) "
                     f"at {ours_bw:.0f} GB/s: {pct:.0f}% of the copy (of minima {pct_min:.0f}%)")
        lines.append(line)
    targets.append((f"{ROOFLINE_WORKLOAD} forward >= 60% of the copy roofline", pct is not None and pct >= 60,
                    "-" if pct is None else f"{pct:.0f}%"))

    ran = [r for r in rows if not r.not_run]
    bad = [r for r in ran if not r.accurate]
    lines.append(f"accuracy: {len(ran) - len(bad)}/{len(ran)} rows within tolerance" +
                 (f"; failed: {', '.join(r.w.label for r in bad)}" if bad else ""))
    not_run = [r.w.label for r in rows if r.not_run]
    if not_run:
        lines.append(f"not run (time budget spent): {', '.join(not_run)}")
    missing = [m for m in missing if m not in not_run]
    if missing and not args.torch_only:
        lines.append(f"rows without both timings: {', '.join(missing)}")
    return lines, targets


def report(rows, roofline, env, device, clock, args):
    lines, targets = summarize(rows, roofline, device, args)
    out = ["# gridsample vs PyTorch on " + ("the GPU" if device.type == "cuda" else "the CPU (harness check)"), ""]
    out += [f"- {l}" for l in env]
    if device.type == "cuda":
        method = (f"{args.rounds} rounds x {args.calls} calls per implementation after {args.warmup} warm-up calls, "
                  "implementations in random order each round, one process, PyTorch's current stream. "
                  "kernel: CUDA events around each call with the calls queued behind a spin kernel; "
                  "call: host wall time of a call (perf_counter, no synchronization inside). "
                  "Cells: median / min over all calls. Inputs stay warm in L2 between calls for both.")
    else:
        method = (f"{args.rounds} rounds x {args.calls} calls after {args.warmup} warm-up calls, random order "
                  "each round; CPU calls are synchronous, so kernel = call = perf_counter wall time"
                  + ("; --quick: small shapes" if args.quick else "") + ". Cells: median / min.")
    out.append(f"- method: {method}")
    out.append("- accuracy: against PyTorch on the same data; forward max |diff| / max |input|, backward "
               "max |diff| / max |PyTorch's gradient| (tolerances float32 2e-5 / 1e-4, float64 1e-12 / 1e-10; "
               "forward plus the coordinate's allowance of S2/S11: 2 ulps of the largest unnormalized coordinate "
               "times the input's largest step between neighbours, x2 for bicubic); "
               f"nearest: fraction of differing elements < {NEAREST_MISMATCH_LIMIT:.0e} (rounding ties). "
               "Backward: both gradients; PyTorch's is its atomics (non-deterministic) kernel.")
    out.append("")
    out.append("| workload | ours kernel ms | torch kernel ms | torch/ours | ours call ms | torch call ms | accuracy |")
    out.append("|---|---|---|---|---|---|---|")
    for r in rows:
        if r.unsupported:
            ours_k = ours_c = ratio = "n/a"
        else:
            ours_k, ours_c = fmt_ms(r.ours_kernel), fmt_ms(r.ours_call)
            ratio = "-" if r.ratio() is None else f"{r.ratio():.2f}x / {r.ratio(1):.2f}x"
        out.append(f"| {r.w.label} | {ours_k} | {fmt_ms(r.torch_kernel)} | {ratio} | {ours_c} | "
                   f"{fmt_ms(r.torch_call)} | {r.accuracy or '-'} |")
    out.append("")
    out += [f"- {l}" for l in lines]
    out.append("")
    out.append("Targets" + (" (set for CUDA; a CPU run only exercises the harness)" if device.type == "cpu" else "") + ":")
    for name, met, value in targets:
        out.append(f"- {name}: {value}: {'met' if met else 'NOT met'}")
    notes = []
    firsts = [(r.first_call_ms, r.w.label) for r in rows if r.first_call_ms is not None]
    if firsts:
        worst = max(firsts)
        notes.append(f"our first call per workload (synchronized; includes loading each kernel, on the GPU "
                     f"the driver's PTX JIT): median {statistics.median(f for f, _ in firsts):.1f} ms, "
                     f"largest {worst[0]:.1f} ms ({worst[1]})")
    ops = sorted({r.torch_op for r in rows if r.w.backward and r.torch_op})
    if ops:
        notes.append(f"PyTorch backward through {', '.join(ops)}")
    if getattr(clock, "cycles_per_ms", 1) is None:
        notes.append("torch.cuda._sleep is missing: kernel times include the host's launch gaps")
    if getattr(clock, "short_pads", 0):
        notes.append(f"{clock.short_pads} bursts outran their spin kernel (their kernel times may include launch gaps)")
    if notes:
        out.append("")
        out.append("Notes:")
        out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n", targets


def to_json(rows, targets, env):
    def pair(p):
        return {"median": p[0], "min": p[1]}
    return {
        "environment": env,
        "rows": [{"workload": r.w.label, "ours_kernel_ms": pair(r.ours_kernel), "torch_kernel_ms": pair(r.torch_kernel),
                  "ours_call_ms": pair(r.ours_call), "torch_call_ms": pair(r.torch_call), "ratio": r.ratio(),
                  "accuracy": r.accuracy, "accurate": r.accurate, "unsupported": r.unsupported,
                  "first_call_ms": r.first_call_ms} for r in rows],
        "targets": [{"target": n, "met": m, "value": v} for n, m, v in targets],
    }


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lib", nargs="?", help="path to libgridsample_c.so")
    ap.add_argument("--output", "-o", help="write the Markdown results here")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--device-index", type=int, default=0, help="CUDA device index (cuda:N)")
    ap.add_argument("--quick", action="store_true", help="few repetitions (and small shapes on the CPU)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--calls", type=int, help="calls per implementation per round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", help="run only the workloads whose label matches this regular expression")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--torch-only", action="store_true", help="time PyTorch alone (no library)")
    ap.add_argument("--strict-targets", action="store_true", help="exit 3 when a performance target is not met")
    ap.add_argument("--budget-s", type=float, help="start no workload after this many seconds (the rest are "
                    "reported as not run) and still write the report")
    ap.add_argument("--build-info", help="a text file about the build (commit, compiler) for the report's header")
    args = ap.parse_args()
    if not args.lib and not args.torch_only:
        ap.error("the path of libgridsample_c.so is required (or --torch-only)")
    if args.rounds is None:
        args.rounds = (5 if args.quick else 20) if args.device == "cuda" else (3 if args.quick else 5)
    if args.calls is None:
        args.calls = (3 if args.quick else 10) if args.device == "cuda" else 2
    if args.rounds < 1 or args.calls < 1:
        ap.error("--rounds and --calls must be at least 1")

    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("bench_gpu: PyTorch sees no CUDA device (use --device cpu on a machine without one)", file=sys.stderr)
            return 2
        if args.device_index >= torch.cuda.device_count():
            print(f"bench_gpu: no cuda:{args.device_index} ({torch.cuda.device_count()} devices)", file=sys.stderr)
            return 2
        device = torch.device("cuda", args.device_index)
        torch.cuda.set_device(device)
        torch.empty(1, device=device)  # creates PyTorch's context (the primary one) first
    else:
        device = torch.device("cpu")

    # A library that does not load or cannot use the device: PyTorch is still timed and reported.
    lib, lib_error = None, None
    if not args.torch_only:
        try:
            lib = Library(args.lib)
        except (OSError, AttributeError) as e:
            lib_error = f"cannot load {args.lib}: {e}"
        if lib and device.type == "cuda":
            rc, msg = lib.device_status(GRIDSAMPLE_CUDA, args.device_index)
            if rc != GRIDSAMPLE_OK:
                lib_error = f"{lib.path} cannot run on cuda:{args.device_index}: {STATUS_NAMES.get(rc, rc)}: {msg}"
                lib = None
        if lib_error:
            print(f"bench_gpu: {lib_error}; timing PyTorch alone", file=sys.stderr)

    clock = CudaClock(device) if device.type == "cuda" else CpuClock()
    stream = ctypes.c_void_p(torch.cuda.current_stream(device).cuda_stream).value if device.type == "cuda" else None

    workloads = all_workloads()
    if args.only:
        workloads = [w for w in workloads if re.search(args.only, w.label)]
    rows = []
    t_start = time.perf_counter()
    for w in workloads:
        t0 = time.perf_counter()
        if args.budget_s is not None and t0 - t_start > args.budget_s:
            row = Row(w)
            row.error = "not run: the time budget was spent"
            row.accurate, row.accuracy, row.not_run = False, row.error, True
            rows.append(row)
            continue
        try:
            row = run_workload(w, lib, device, clock, args, stream)
        except Exception as e:  # noqa: BLE001 - one workload's failure must not stop the others
            row = Row(w)
            row.error = f"{type(e).__name__}: {e}"
            row.accurate, row.accuracy = False, f"FAIL: {row.error}"[:300]
        rows.append(row)
        print(f"  {w.label}: ours {fmt_ms(row.ours_kernel)} ms, torch {fmt_ms(row.torch_kernel)} ms, "
              f"{fmt_x(row.ratio())}; {row.accuracy or '-'} ({time.perf_counter() - t0:.1f} s)", flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    roofline = run_roofline(device, clock, args) if any(w.name == ROOFLINE_WORKLOAD for w in workloads) else ((None, None), 0)
    env = environment(device, lib, lib_error)
    if args.build_info:
        try:
            with open(args.build_info) as f:
                env += [l.strip() for l in f if l.strip()]
        except OSError as e:
            env.append(f"build: {args.build_info} unreadable ({e})")
    text, targets = report(rows, roofline, env, device, clock, args)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(rows, targets, env), f, indent=1)
    print()
    print(text, end="")
    print(f"(bench_gpu: {time.perf_counter() - t_start:.0f} s)", flush=True)
    if lib_error:
        return 2
    if any(not r.accurate for r in rows) or any(r.error for r in rows):
        return 1
    if args.strict_targets and not all(m for _, m, _ in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
