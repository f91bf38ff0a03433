#!/usr/bin/python3
"""Generates the golden data of tests/test_golden_backward.cpp: PyTorch's own gradients of
grid_sample (torch.autograd on the CPU) for the cases of SEMANTICS.md S9 and S12.

usage: /usr/bin/python3 tests/golden/make_golden_backward.py [--out DIR]

Needs PyTorch and NumPy on the system Python (Debian: apt-get install python3-torch python3-numpy).
The output is deterministic (fixed seeds, one torch thread). DIR (default
tests/data/golden_backward) is emptied first; it then holds one folder per case with the .npy
files and manifest.txt, which lists the cases and documents its own format in its header.

Every case stores input, grid, grad_output and PyTorch's grad_input and grad_grid of
L = sum(grad_output * grid_sample(input, grid)). What the data covers (S12 items in brackets):
  random_*     every mode/padding/align_corners combination, 2-D and 3-D, float32 and float64 [1]
  exact_*      grid values exactly -1, 0, +1, pixel centres and pixel edges: border/reflection
               coordinates exactly on 0 and S-1, where S9 counts the edge as clipped [2, 6]
  outside_*    just outside the grid range (+-1.0001, +-1.5): the zeros-padding halo [4]
  far_*        far outside (+-3.5, +-12.5, +-100) with reflection: the gradient's sign flips [4]
  sizes_*      S = 1 and S = 2 on each axis, non-square, Ho/Wo != H/W [5]
  bicubic_*    per-tap padding at g = +-0.95 on a 4x4 input: taps folding onto one pixel [7]
  nonfinite_*  NaN, +inf, -inf in each component, every mode and padding [8]
  channels_*   C = 1 and C = 16; large_* a 40x56 image [12]
The C++ test feeds every case again through strided layouts [11].

Where PyTorch 1.13 is not the oracle:
  * Random grids keep every coordinate 1e-3 pixels away from the points where the forward is not
    differentiable (integer coordinates for bilinear, rounding ties for nearest), so that the
    last bit of a coordinate (S2) cannot pick a different one-sided derivative.
  * 3-D nearest: torch 1.13 rounds ties half away from zero (S5: half to even); no 3-D nearest case
    comes near a tie.
  * Non-finite grids (S7, manifest mark `s7`): torch 1.13 returns NaN gradients for NaN grids
    with zeros padding and its 2-D CPU backward crashes on NaN grids with border/reflection. As in
    make_golden.py, PyTorch runs on the rewritten finite grid s7_grid() (NaN -> -1, infinite ->
    coordinate 0 for reflection or +-1e4 for zeros/border), which gives the S7 forward taps and
    so S7's grad_input; the stored grid is the ORIGINAL one. grad_grid of a rewritten component is
    0 by S9 (a NaN component has gradient 0; an infinite one is clipped, out of range or replaced
    by a constant), whatever PyTorch says at the stand-in value, so the expected data sets it to 0.
"""
import os
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as fwd  # noqa: E402  (the forward script's S2/S3/S7 helpers)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "data", "golden_backward"))
SEED = 4321
KINK_MARGIN = 1e-3  # pixels


def kink_distance(grid, sizes, mode, padding, ac):
    """Per grid point, the smallest distance (pixels) of a coordinate to a point where the
    forward is not differentiable: integer padded coordinates (bilinear), ties (nearest)."""
    dist = np.full(grid.shape[:-1], np.inf)
    for k, size in enumerate(sizes):
        with np.errstate(invalid="ignore", over="ignore"):
            x = fwd.unnormalize(grid[..., k], size, ac)
            p = fwd.pad_coordinate(x, size, padding, ac)
            if mode == "bilinear" and padding == "reflection":
                # Before the clip (a clipped coordinate is flat, not a kink).
                lo, span = (0.0, size - 1.0) if ac else (-0.5, float(size))
                if span > 0:
                    dd = np.abs(x - lo)
                    flips = np.floor(dd / span)
                    extra = np.fmod(dd, span)
                    p = np.where(flips % 2 == 0, lo + extra, lo + span - extra)
            if mode == "nearest":
                d = np.abs(p - np.floor(p) - 0.5)
            elif mode == "bilinear":
                d = np.abs(p - np.round(p))
                if padding == "border":  # clipped: constant, no kink unless at the edge itself
                    d = np.where((x < -1e-2) | (x > size - 1 + 1e-2), np.inf, d)
            else:
                d = np.full(x.shape, np.inf)
            d = np.where(np.isfinite(x), d, np.inf)
            if ac and size == 1:  # S2: the coordinate is 0 for every g, exactly, in both
                d = np.full(x.shape, np.inf)
        dist = np.minimum(dist, d)
    return dist


def away_from_kinks(grid, sizes, mode, padding, ac):
    grid = grid.copy()
    for _ in range(30):
        near = kink_distance(grid, sizes, mode, padding, ac) < 3 * KINK_MARGIN
        if not near.any():
            return grid
        for k, size in enumerate(sizes):
            grid[..., k][near] += 0.013 / max(size, 1)
    raise AssertionError("could not move grid points away from kinks")


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.lines = []
        self.names = set()
        self.counts = {"s7": 0, "torch": 0}

    def rng(self, name):
        return np.random.default_rng([SEED, zlib.crc32(name.encode())])

    def case(self, name, inp, grid, mode, padding, ac, check_kinks=True):
        assert name not in self.names and all(c.isalnum() or c == "_" for c in name), name
        self.names.add(name)
        dims = grid.shape[-1]
        t = inp.dtype.type
        sizes = inp.shape[2:][::-1]  # grid component k indexes sizes[k]: x -> W, y -> H, z -> D
        sample_grid = fwd.s7_grid(grid, sizes, mode, padding, ac)
        assert np.isfinite(sample_grid).all(), name
        rewritten = ~(sample_grid == grid)  # NaN compares unequal too
        if check_kinks:  # the finite components; rewritten ones have gradient 0 anyway
            kept = np.where(rewritten, 0.5 / np.array(sizes, np.float64), sample_grid)
            assert (kink_distance(kept, sizes, mode, padding, ac) >= KINK_MARGIN).all(), \
                f"{name}: a coordinate is too close to a kink"
        if dims == 3 and mode == "nearest":
            assert (fwd.tie_distance(sample_grid, sizes, padding, ac) >= fwd.TIE_MARGIN).all(), name
        out_shape = inp.shape[:2] + grid.shape[1:-1]
        grad_output = self.rng(name + "/grad_output").standard_normal(out_shape).astype(t)
        x = torch.from_numpy(inp.copy()).requires_grad_(True)
        g = torch.from_numpy(sample_grid.copy()).requires_grad_(True)
        out = F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=ac)
        out.backward(torch.from_numpy(grad_output))
        grad_input = x.grad.numpy()
        grad_grid = g.grad.numpy().copy()
        expected = "torch"
        if rewritten.any():
            expected = "s7"
            grad_grid[rewritten] = 0  # S9: see the module docstring
        assert np.isfinite(grad_input).all() and np.isfinite(grad_grid).all(), name
        os.makedirs(os.path.join(self.out_dir, name))
        files = [("input", inp), ("grid", grid), ("grad_output", grad_output),
                 ("grad_input", grad_input), ("grad_grid", grad_grid)]
        for fname, arr in files:
            np.save(os.path.join(self.out_dir, name, fname + ".npy"), np.ascontiguousarray(arr))
        dt = "f32" if inp.dtype == np.float32 else "f64"
        self.lines.append(f"{name} {mode} {padding} {int(ac)} {dt} {expected} " +
                          " ".join(f + ".npy" for f, _ in files))
        self.counts[expected] += 1


def tag(dims, mode, padding, ac, dt):
    return f"{dims}d_{mode}_{padding}_ac{int(ac)}_{dt}"


def random_grid(rng, shape, sizes, lo, hi, mode, padding, ac, t):
    grid = rng.uniform(lo, hi, size=shape)
    grid = away_from_kinks(grid.astype(t).astype(np.float64), sizes, mode, padding, ac)
    return grid.astype(t)


def cases_random(w):
    for dims, in_shape, grid_shape in ((2, (2, 3, 5, 7), (2, 4, 6, 2)),
                                       (3, (2, 2, 3, 4, 5), (2, 3, 2, 4, 3))):
        for mode, padding, ac, dt in fwd.combos(dims):
            name = "random_" + tag(dims, mode, padding, ac, dt)
            rng, t = w.rng(name), fwd.DTYPES[dt]
            inp = rng.standard_normal(in_shape).astype(t)
            grid = random_grid(rng, grid_shape, in_shape[2:][::-1], -1.25, 1.25, mode, padding,
                               ac, t)
            w.case(name, inp, grid, mode, padding, ac)


def cases_exact(w):
    # Sizes where every value is exact in binary: S for align_corners=False, S - 1 for True a
    # power of two. Integer coordinates are exact here, so torch and we take the same one-sided
    # derivative; nearest ties are left to the reference tests (none are included).
    for dims, shapes in ((2, {False: (4, 8), True: (5, 9)}), (3, {False: (2, 2, 4), True: (3, 3, 5)})):
        for mode, padding, ac, dt in fwd.combos(dims, dtypes=("f32", "f64") if dims == 2 else ("f64",)):
            name = "exact_" + tag(dims, mode, padding, ac, dt)
            t = fwd.DTYPES[dt]
            spatial = shapes[ac]
            sizes = spatial[::-1]
            axis_values = []
            for s in sizes:
                v = fwd.edge_centre_values(s, ac)
                if mode == "nearest":  # no ties: centres only
                    x = fwd.unnormalize(v, s, ac)
                    v = v[np.abs(x - np.floor(x) - 0.5) > 0.1]
                if dims == 3:  # every other value (with -1, +1) keeps the data small
                    ends = [] if mode == "nearest" else [-1.0, 1.0]
                    v = np.unique(np.concatenate([ends, v[::2]]))
                axis_values.append(v)
            inp = w.rng(name).standard_normal((1, 2, *spatial)).astype(t)
            w.case(name, inp, fwd.product_grid(axis_values).astype(t), mode, padding, ac,
                   check_kinks=False)


def cases_outside(w):
    values = [-1.5, -1.0001, -0.999, 0.2, 0.999, 1.0001, 1.5]
    for mode, padding, ac, dt in fwd.combos(2, dtypes=("f64",)):
        name = "outside_" + tag(2, mode, padding, ac, dt)
        t = fwd.DTYPES[dt]
        inp = w.rng(name).standard_normal((1, 2, 3, 4)).astype(t)
        grid = away_from_kinks(fwd.product_grid([values, values]), (4, 3), mode, padding, ac)
        w.case(name, inp, grid.astype(t), mode, padding, ac)


def cases_far(w):
    values = [-100.0, -12.5, -3.5, 0.25, 3.5, 12.5, 100.0]
    for dims, spatial in ((2, (5, 7)), (3, (3, 5, 6))):
        for mode, padding, ac, dt in fwd.combos(dims, dtypes=("f64",), paddings=("reflection",)):
            name = "far_" + tag(dims, mode, padding, ac, dt)
            t = fwd.DTYPES[dt]
            sizes = spatial[::-1]
            axis_values = [values] * 2 if dims == 2 else [values[::2]] * 3
            grid = away_from_kinks(fwd.product_grid(axis_values), sizes, mode, padding, ac)
            inp = w.rng(name).standard_normal((1, 2, *spatial)).astype(t)
            w.case(name, inp, grid.astype(t), mode, padding, ac)


def cases_sizes(w):
    values = [-1.3, -0.45, 0.0, 0.7, 1.15]
    for spatial in ((1, 5), (2, 1), (6, 2)):  # S = 1 and S = 2 on each axis
        for mode, padding, ac, dt in fwd.combos(2, dtypes=("f64",)):
            name = f"sizes_{tag(2, mode, padding, ac, dt)}_h{spatial[0]}w{spatial[1]}"
            t = fwd.DTYPES[dt]
            inp = w.rng(name).standard_normal((1, 2, *spatial)).astype(t)
            grid = away_from_kinks(fwd.product_grid([values, values[:4]]), spatial[::-1], mode,
                                   padding, ac)
            w.case(name, inp, grid.astype(t), mode, padding, ac)
    for spatial in ((1, 2, 3), (2, 1, 1)):
        for mode, padding, ac, dt in fwd.combos(3, dtypes=("f64",)):
            name = f"sizes_{tag(3, mode, padding, ac, dt)}_d{spatial[0]}h{spatial[1]}w{spatial[2]}"
            t = fwd.DTYPES[dt]
            inp = w.rng(name).standard_normal((1, 2, *spatial)).astype(t)
            grid = away_from_kinks(fwd.product_grid([values[:3], values[1:4], values[2:]]),
                                   spatial[::-1], mode, padding, ac)
            w.case(name, inp, grid.astype(t), mode, padding, ac)


def cases_bicubic(w):
    values = [-1.05, -0.99, -0.95, -0.3, 0.3, 0.95, 0.99, 1.05]
    for _, padding, ac, dt in fwd.combos(2, modes=("bicubic",)):
        name = "bicubic_" + tag(2, "bicubic", padding, ac, dt)
        t = fwd.DTYPES[dt]
        inp = w.rng(name).standard_normal((1, 2, 4, 4)).astype(t)
        w.case(name, inp, fwd.product_grid([values, values]).astype(t), "bicubic", padding, ac)


def cases_nonfinite(w):
    finite = [[-0.55, 0.3, 0.85], [0.45, -0.7, 0.15]]  # no coordinate near a kink
    for dims, spatial in ((2, (5, 6)), (3, (3, 4, 5))):
        points = fwd.nonfinite_points(dims, finite)
        out_shape = (3, len(points) // 3) if dims == 2 else (3, 1, len(points) // 3)
        for mode, padding, ac, dt in fwd.combos(dims, dtypes=("f64",)):
            name = "nonfinite_" + tag(dims, mode, padding, ac, dt)
            t = fwd.DTYPES[dt]
            inp = w.rng(name).standard_normal((1, 2, *spatial)).astype(t)
            grid = points.reshape(1, *out_shape, dims).astype(t)
            w.case(name, inp, grid, mode, padding, ac)


def cases_channels_and_large(w):
    specs = [  # name suffix, dims, input shape, grid spatial, mode, padding, ac, dtype
        ("channels1", 2, (2, 1, 5, 6), (4, 3), "bilinear", "zeros", False, "f32"),
        ("channels1", 3, (2, 1, 3, 4, 5), (2, 3, 4), "bilinear", "reflection", False, "f32"),
        ("channels16", 2, (2, 16, 5, 6), (4, 3), "bilinear", "reflection", True, "f32"),
        ("channels16", 2, (2, 16, 5, 6), (4, 3), "bicubic", "zeros", False, "f64"),
        ("channels16", 2, (1, 16, 5, 6), (4, 3), "nearest", "border", False, "f32"),
        ("channels16", 3, (1, 16, 3, 4, 5), (2, 3, 4), "bilinear", "zeros", True, "f64"),
        ("large", 2, (1, 3, 40, 56), (24, 32), "bilinear", "border", False, "f32"),
        ("large", 2, (1, 3, 40, 56), (24, 32), "bicubic", "reflection", True, "f32"),
    ]
    for prefix, dims, shape, out_spatial, mode, padding, ac, dt in specs:
        name = f"{prefix}_{tag(dims, mode, padding, ac, dt)}"
        rng, t = w.rng(name), fwd.DTYPES[dt]
        inp = rng.standard_normal(shape).astype(t)
        grid = random_grid(rng, (shape[0], *out_spatial, dims), shape[2:][::-1], -1.1, 1.1, mode,
                           padding, ac, t)
        w.case(name, inp, grid, mode, padding, ac)


MANIFEST_HEADER = """\
# Golden gradients for tests/test_golden_backward.cpp, computed by torch.autograd on the CPU.
# Generated by: {torch}
# Command:      /usr/bin/python3 tests/golden/make_golden_backward.py   (from the repository root)
#
# One case per line, whitespace-separated columns:
#   name mode padding align_corners dtype expected file...
# name           the case (letters, digits, '_'); its files are in the folder of that name
# mode, padding  grid_sample's options (SEMANTICS.md S1)
# align_corners  0 | 1
# dtype          f32 | f64 (every array of the case)
# expected       torch: grad_input and grad_grid are PyTorch's for the stored arrays.
#                s7:    the grid holds NaN or +-inf. PyTorch ran on a rewritten finite grid with the
#                       S7 meaning (see make_golden.py); grad_grid of every rewritten component is
#                       0 (S9); grid.npy holds the ORIGINAL values.
# file...        input.npy grid.npy grad_output.npy grad_input.npy grad_grid.npy
# Gradients are of L = sum(grad_output * grid_sample(input, grid)). Tolerances: S11 (backward).
"""


def main():
    out_dir = fwd.fresh_output_dir(__doc__, DEFAULT_OUT)
    warnings.filterwarnings("ignore")
    w = Writer(out_dir)
    cases_random(w)
    cases_exact(w)
    cases_outside(w)
    cases_far(w)
    cases_sizes(w)
    cases_bicubic(w)
    cases_nonfinite(w)
    cases_channels_and_large(w)
    fwd.write_manifest(out_dir, MANIFEST_HEADER, w.lines)
    print(f"{len(w.lines)} cases ({w.counts['torch']} torch, {w.counts['s7']} s7) in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
