#!/usr/bin/python3
"""Generates the golden data of tests/test_golden.cpp: PyTorch's own grid_sample and affine_grid
outputs for the edge cases of SEMANTICS.md S12.

usage: /usr/bin/python3 tests/golden/make_golden.py [--out DIR]

Needs PyTorch and NumPy on the system Python (Debian: apt-get install python3-torch python3-numpy).
The output is deterministic (fixed seeds, one torch thread). DIR (default tests/data/golden) is
emptied first; it then holds one folder per case with the .npy files, and manifest.txt, which lists
the cases and documents its own format in its header.

What the data covers (S12 items in brackets):
  random_*     every mode/padding/align_corners combination, 2-D and 3-D, float32 and float64 [1]
  identity_*   identity grids made by torch's affine_grid, both align_corners [2]
  exact_*      grid values exactly -1, 0, +1, pixel centres and pixel edges, which also puts
               border/reflection coordinates exactly on 0 and S-1 [2, 6]
  ties_*       2-D nearest at exact rounding ties: unnormalized -1.5, -0.5, 0.5, 1.5, 2.5, S-1.5,
               S-0.5, S+0.5 [3]
  outside_*    just outside the grid range (+-1.0001, +-1.5): the zeros-padding halo [4]
  far_*        far outside (+-3.5, +-12.5, +-100, +-1e6) with reflection [4]; float64, plus a
               float32 set up to +-1e3 whose tolerance the test scales with |g| (S11)
  sizes_*      S = 1 and S = 2 on each axis independently, non-square, Ho/Wo != H/W [5]
  bicubic_*    per-tap padding at g = +-0.95 on a 4x4 input, reflection tap folding, overshoot [7]
  nonfinite_*  NaN, +inf, -inf in each component alone and together, every mode/padding [8]
  huge_*       finite values whose coordinate exceeds 2^30 / 2^31, up to 1e20 and 3e38 [9]
  large_*, channels_*  a batch-1 image of 64x96 (and a volume), C = 1 and C = 16 [12]
  affine_*     affine_grid, 2-D and 3-D, sizes including 1 and 2, both align_corners
Layouts [11] are the C++ test's business: it feeds every case again through a channels-last input,
a planar or batch-expanded (stride-0) grid and a padded channels-last output.

Where PyTorch 1.13 is not the oracle:
  * 3-D nearest: torch 1.13's 3-D CPU kernel rounds half away from zero, S5 rounds half to even.
    No 3-D nearest case contains a coordinate within 1e-4 of a tie (checked below), so those
    goldens hold under either rounding. 3-D tie behaviour is left to the reference tests.
  * Non-finite and huge grid values (S7): torch 1.13 returns NaN or picks path-dependent pixels
    (NaN for zeros padding and for bicubic, the last pixel instead of the first on its 3-D path,
    cancellation noise for bicubic reflection taps at 1e20). For those cases PyTorch runs on a
    rewritten grid whose finite values give the S7 result (see s7_grid()); the ORIGINAL grid is
    stored as the test input and the manifest marks the case `s7`. The rewrite also expresses
    two S7 rules torch has no direct input for: S = 1 with align_corners and an infinite g (any
    finite g returns the single pixel) and bicubic centres beyond 2^30 (treated as infinite).
  * Left to the reference tests, because the value is not pinned down: reflection with
    bilinear/nearest at finite coordinates whose float precision is coarser than the image
    (float64 1e20, float32 beyond ~1e4), where S7 only asks for a finite output; and 3-D
    nearest ties.
"""
import argparse
import os
import shutil
import subprocess
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "data", "golden"))
SEED = 1234

MODES_2D = ("bilinear", "nearest", "bicubic")
MODES_3D = ("bilinear", "nearest")
PADDINGS = ("zeros", "border", "reflection")
DTYPES = {"f32": np.float32, "f64": np.float64}
ALIGN = (False, True)

# S7: bicubic centres (and zeros-padding coordinates) beyond this are treated as infinite.
MAX_INDEX_COORD = 2.0 ** 30
# How far (in unnormalized coordinates) a 3-D nearest coordinate must stay from a rounding tie.
TIE_MARGIN = 1e-4


# ---- coordinate math of SEMANTICS.md, in float64 ---------------------------------------------

def unnormalize(g, size, ac):
    """S2 in float64."""
    g = np.asarray(g, np.float64)
    return (g + 1) / 2 * (size - 1) if ac else ((g + 1) * size - 1) / 2


def unnormalize_as_library(g, size, ac):
    """S2 in the grid's own dtype, the way the kernels evaluate it: (g + 1) * scale - shift; a zero
    scale (S = 1 with align_corners) gives 0 for every g."""
    t = g.dtype.type
    scale = t((size - 1) / 2 if ac else size / 2)
    if scale == 0:
        return np.zeros_like(g)
    with np.errstate(over="ignore", invalid="ignore"):
        return (g + t(1)) * scale - t(0 if ac else 0.5)


def pad_coordinate(x, size, padding, ac):
    """S3 for finite float64 coordinates (reflection with fmod, then clip)."""
    if padding == "zeros":
        return x
    if padding == "border":
        return np.clip(x, 0, size - 1)
    lo, hi = (0.0, size - 1.0) if ac else (-0.5, size - 0.5)
    span = hi - lo
    if span == 0:
        return np.zeros_like(x)
    d = np.abs(x - lo)
    flips = np.floor(d / span)
    extra = np.fmod(d, span)
    return np.clip(np.where(flips % 2 == 0, lo + extra, hi - extra), 0, size - 1)


def tie_distance(grid, sizes, padding, ac):
    """Per grid point, the smallest distance of a padded coordinate to a rounding tie, counting
    only coordinates where the rounding can matter (-1 < x < S)."""
    dist = np.full(grid.shape[:-1], np.inf)
    for k, size in enumerate(sizes):
        with np.errstate(invalid="ignore"):
            x = pad_coordinate(unnormalize(grid[..., k], size, ac), size, padding, ac)
            relevant = np.isfinite(x) & (x > -1) & (x < size)
            d = np.abs(x - np.floor(x) - 0.5)
        dist = np.where(relevant, np.minimum(dist, d), dist)
    return dist


def zero_coordinate_g(size, ac, t):
    """The grid value that unnormalizes to coordinate 0."""
    return t(-1.0) if ac else t(1.0 / size - 1.0)


def s7_grid(grid, sizes, mode, padding, ac):
    """A finite grid that gives, under PyTorch, the S7 result of `grid`:
      NaN -> -1 (for 3-D nearest: the g of coordinate 0, which rounds to the same pixel as the
             coordinate -0.5 of g = -1 under S5, but is no tie for torch 1.13's half-away rounding);
      a coordinate that is +-inf (also after float overflow of the unnormalization), or beyond
      2^30 where it becomes an index (zeros padding, bicubic centres):
             reflection -> the g of coordinate 0; zeros and border -> +-1e4, which is out of range
             (zeros) or clips to the edge (border) exactly as the infinity would;
      S = 1 with align_corners: every finite g gives the single pixel (S2), so any non-finite g
             becomes -1."""
    g = grid.copy()
    t = g.dtype.type
    for k, size in enumerate(sizes):
        c = g[..., k]
        zero_g = zero_coordinate_g(size, ac, t)
        c[np.isnan(c)] = zero_g if (grid.shape[-1] == 3 and mode == "nearest") else t(-1)
        if ac and size == 1:
            c[~np.isfinite(c)] = t(-1)
            continue
        x = unnormalize_as_library(c, size, ac)
        big = ~np.isfinite(x)
        if padding == "zeros" or mode == "bicubic":
            big |= np.abs(x) > MAX_INDEX_COORD
        if padding == "reflection":
            c[big] = zero_g
        else:
            c[big] = np.where(x[big] > 0, t(1e4), t(-1e4))
    return g


# ---- case construction ------------------------------------------------------------------------

def check_ties(name, grid, sizes, padding, ac):
    """Nearest results must not hinge on the last bit of a coordinate (S2, S11). In 2-D a
    coordinate may sit exactly on a tie when the kernels' own float arithmetic hits it exactly;
    otherwise every coordinate stays 1e-4 away from ties (S11). In 3-D (torch 1.13 rounds half
    away from zero there, S5 half to even) no coordinate comes within 1e-4 of a tie at all."""
    dims = grid.shape[-1]
    for k, size in enumerate(sizes):
        g = grid[..., k]
        with np.errstate(invalid="ignore"):
            exact = unnormalize(g, size, ac)
            as_kernel = unnormalize_as_library(g, size, ac).astype(np.float64)
        d = tie_distance(g[..., None], [size], padding, ac)
        if dims == 3:
            bad = d < TIE_MARGIN
        else:
            bad = (d < TIE_MARGIN) & ~((d == 0) & (exact == as_kernel))
        assert not bad.any(), f"{name}: axis {k} coordinate near a rounding tie: {g[bad][:4]}"


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.lines = []
        self.names = set()
        self.counts = {"s7": 0, "torch": 0}

    def rng(self, name):
        return np.random.default_rng([SEED, zlib.crc32(name.encode())])

    def _save(self, name, files):
        assert name not in self.names, name
        assert all(ch.isalnum() or ch == "_" for ch in name), name
        self.names.add(name)
        os.makedirs(os.path.join(self.out_dir, name))
        paths = []
        for fname, arr in files:
            np.save(os.path.join(self.out_dir, name, fname + ".npy"), np.ascontiguousarray(arr))
            paths.append(fname + ".npy")
        return paths

    def grid_sample(self, name, inp, grid, mode, padding, ac, ties="strict"):
        dims = grid.shape[-1]
        assert inp.ndim == dims + 2 and inp.dtype == grid.dtype
        sizes = inp.shape[2:][::-1]  # grid component k indexes sizes[k]: x -> W, y -> H, z -> D
        sample_grid = s7_grid(grid, sizes, mode, padding, ac)
        assert np.isfinite(sample_grid).all(), name
        if mode == "nearest" and ties == "strict":
            check_ties(name, sample_grid, sizes, padding, ac)
        if padding == "reflection" and mode != "bicubic":
            x = np.stack([unnormalize(sample_grid[..., k], s, ac) for k, s in enumerate(sizes)])
            limit = 1e12 if grid.dtype == np.float64 else 1e4
            assert (np.abs(x) <= limit).all(), f"{name}: reflection coordinate without precision"
        expected = "torch" if np.array_equal(sample_grid, grid, equal_nan=True) else "s7"
        out = F.grid_sample(torch.from_numpy(inp), torch.from_numpy(sample_grid), mode=mode,
                            padding_mode=padding, align_corners=ac).numpy()
        assert np.isfinite(out).all(), name
        paths = self._save(name, [("input", inp), ("grid", grid), ("output", out)])
        dt = "f32" if inp.dtype == np.float32 else "f64"
        if mode != "nearest":
            ties = "-"
        self.lines.append(f"{name} grid_sample {mode} {padding} {int(ac)} {dt} {expected} {ties} "
                          + " ".join(paths))
        self.counts[expected] += 1
        return out

    def affine_grid(self, name, theta, size, ac):
        out = F.affine_grid(torch.from_numpy(theta), list(size), align_corners=ac).numpy()
        paths = self._save(name, [("theta", theta), ("output", out)])
        dt = "f32" if theta.dtype == np.float32 else "f64"
        self.lines.append(f"{name} affine_grid - - {int(ac)} {dt} torch - " + " ".join(paths))
        self.counts["torch"] += 1


def tag(dims, mode, padding, ac, dt):
    return f"{dims}d_{mode}_{padding}_ac{int(ac)}_{dt}"


def combos(dims, dtypes=("f32", "f64"), modes=None, paddings=PADDINGS):
    modes = modes or (MODES_2D if dims == 2 else MODES_3D)
    for mode in modes:
        for padding in paddings:
            for ac in ALIGN:
                for dt in dtypes:
                    yield mode, padding, ac, dt


def random_input(rng, shape, t):
    return rng.standard_normal(shape).astype(t)


def product_grid(axis_values, batch=1):
    """A grid holding every combination of the per-axis values (x first), the same in every batch
    entry. Its spatial shape is (len(z),) len(y), len(x)."""
    mesh = np.meshgrid(*axis_values[::-1], indexing="ij")  # z, y, x order
    grid = np.stack(mesh[::-1], axis=-1)
    return np.broadcast_to(grid, (batch,) + grid.shape).copy()


def values_for_axis(values, size, mode, padding, ac, dims):
    """The values usable on one axis: for 3-D nearest, those whose coordinate is not at a tie."""
    values = np.asarray(values, np.float64)
    if dims == 3 and mode == "nearest":
        keep = tie_distance(values[:, None], [size], padding, ac) >= 10 * TIE_MARGIN
        values = values[keep]
    return values


def away_from_ties(grid, sizes, padding, ac):
    """Moves random grid points whose coordinate lies within 1e-3 of a rounding tie by a few
    hundredths of a pixel, so that nearest results do not depend on last-bit rounding."""
    grid = grid.copy()
    for _ in range(20):
        near = tie_distance(grid, sizes, padding, ac) < 1e-3
        if not near.any():
            return grid
        for k, size in enumerate(sizes):
            grid[..., k][near] += 0.05 / max(size, 1)
    raise AssertionError("could not move grid points away from rounding ties")


def random_grid(rng, shape, sizes, lo, hi, mode, padding, ac, t):
    grid = rng.uniform(lo, hi, size=shape)
    if mode == "nearest":
        grid = away_from_ties(grid, sizes, padding, ac)
    grid = grid.astype(t)
    if mode == "nearest":
        assert (tie_distance(grid, sizes, padding, ac) >= 5e-4).all()
    return grid


def edge_centre_values(size, ac):
    """-1, 0, +1 and the normalized positions of every pixel centre and pixel edge."""
    k = np.arange(size + 1, dtype=np.float64)
    if ac:
        centres = 2 * k[:size] / max(size - 1, 1) - 1 if size > 1 else np.array([0.0])
        edges = (2 * k - 1) / max(size - 1, 1) - 1 if size > 1 else np.array([-1.0, 1.0])
    else:
        centres = (2 * k[:size] + 1) / size - 1
        edges = 2 * k / size - 1
    return np.unique(np.concatenate([[-1.0, 0.0, 1.0], centres, edges]))


# ---- the cases ----------------------------------------------------------------------------------

def cases_random(w):
    for mode, padding, ac, dt in combos(2):
        name = "random_" + tag(2, mode, padding, ac, dt)
        rng, t = w.rng(name), DTYPES[dt]
        inp = random_input(rng, (2, 3, 5, 7), t)
        grid = random_grid(rng, (2, 4, 6, 2), (7, 5), -1.25, 1.25, mode, padding, ac, t)
        w.grid_sample(name, inp, grid, mode, padding, ac)
    for mode, padding, ac, dt in combos(3):
        name = "random_" + tag(3, mode, padding, ac, dt)
        rng, t = w.rng(name), DTYPES[dt]
        inp = random_input(rng, (2, 2, 3, 4, 5), t)
        grid = random_grid(rng, (2, 3, 2, 4, 3), (5, 4, 3), -1.25, 1.25, mode, padding, ac, t)
        w.grid_sample(name, inp, grid, mode, padding, ac)


def identity_grid(dims, spatial, ac, t, batch=2):
    theta = np.zeros((1, dims, dims + 1), t)
    theta[0, :, :dims] = np.eye(dims)
    g = F.affine_grid(torch.from_numpy(theta), [1, 1, *spatial], align_corners=ac).numpy()
    return np.broadcast_to(g, (batch,) + g.shape[1:]).copy()


def cases_identity(w):
    for dims, spatial in ((2, (6, 5)), (3, (3, 4, 5))):
        for mode, padding, ac, dt in combos(dims):
            name = "identity_" + tag(dims, mode, padding, ac, dt)
            t = DTYPES[dt]
            inp = random_input(w.rng(name), (2, 2, *spatial), t)
            w.grid_sample(name, inp, identity_grid(dims, spatial, ac, t), mode, padding, ac)


def cases_exact(w):
    # Sizes where every value below is exact in binary: S for align_corners=False, S - 1 for True
    # a power of two.
    for dims, shapes in ((2, {False: (4, 8), True: (5, 9)}),
                         (3, {False: (2, 2, 4), True: (2, 3, 5)})):
        for mode, padding, ac, dt in combos(dims):
            name = "exact_" + tag(dims, mode, padding, ac, dt)
            t = DTYPES[dt]
            spatial = shapes[ac]
            sizes = spatial[::-1]
            axis_values = [values_for_axis(edge_centre_values(s, ac), s, mode, padding, ac, dims)
                           for s in sizes]
            inp = random_input(w.rng(name), (2, 2, *spatial), t)
            w.grid_sample(name, inp, product_grid(axis_values, 2).astype(t), mode, padding, ac)


def cases_ties(w):
    shapes = {False: (4, 8), True: (5, 9)}
    for _, padding, ac, dt in combos(2, modes=("nearest",)):
        name = "ties_" + tag(2, "nearest", padding, ac, dt)
        t = DTYPES[dt]
        spatial = shapes[ac]
        axis_values = []
        for s in spatial[::-1]:
            x = np.array([-1.5, -0.5, 0.5, 1.5, 2.5, s - 1.5, s - 0.5, s + 0.5])
            g = x / ((s - 1) / 2) - 1 if ac else (2 * x + 1) / s - 1
            assert np.array_equal(unnormalize(g.astype(t), s, ac), x)  # exact ties
            axis_values.append(g)
        inp = random_input(w.rng(name), (1, 2, *spatial), t)
        w.grid_sample(name, inp, product_grid(axis_values).astype(t), "nearest", padding, ac)


def cases_outside(w):
    values = [-1.5, -1.0001, -1.0, -0.999, 0.2, 0.999, 1.0, 1.0001, 1.5]
    for mode, padding, ac, dt in combos(2):
        name = "outside_" + tag(2, mode, padding, ac, dt)
        t = DTYPES[dt]
        spatial = (3, 4)
        inp = random_input(w.rng(name), (1, 2, *spatial), t)
        w.grid_sample(name, inp, product_grid([values, values]).astype(t), mode, padding, ac)
    for mode, padding, ac, dt in combos(3, dtypes=("f64",)):
        name = "outside_" + tag(3, mode, padding, ac, dt)
        t = DTYPES[dt]
        spatial = (3, 5, 6)
        axis_values = [values_for_axis(values, s, mode, padding, ac, 3) for s in spatial[::-1]]
        inp = random_input(w.rng(name), (1, 2, *spatial), t)
        w.grid_sample(name, inp, product_grid(axis_values).astype(t), mode, padding, ac)


def cases_far(w):
    far64 = [-1e6, -100.0, -12.5, -3.5, 0.25, 3.5, 12.5, 100.0, 1e6]
    far32 = [-1e3, -100.0, -12.5, -3.5, 0.25, 3.5, 12.5, 100.0, 1e3]
    for dims, spatial in ((2, (5, 7)), (3, (3, 5, 6))):
        for mode, padding, ac, dt in combos(dims, paddings=("reflection",)):
            t = DTYPES[dt]
            if dt == "f32" and dims == 3:
                continue
            name = "far_" + tag(dims, mode, padding, ac, dt)
            values = far64 if dt == "f64" else far32
            sizes = spatial[::-1]
            axis_values = [values_for_axis(values, s, mode, padding, ac, dims) for s in sizes]
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            grid = product_grid(axis_values).astype(t)
            # float32 far outside: the coordinate itself is only good to ~|x| * 2^-24, so nearest
            # may legitimately pick a neighbour near a tie; the test widens its window (S11).
            ties = "lenient" if dt == "f32" else "strict"
            w.grid_sample(name, inp, grid, mode, padding, ac, ties)


def cases_sizes(w):
    values = [-1.3, -1.0, -0.45, 0.0, 0.7, 1.0, 1.15]
    for spatial in ((1, 5), (5, 1), (1, 1), (2, 6), (6, 2), (2, 2)):
        dtypes = ("f32", "f64") if spatial in ((1, 5), (6, 2)) else ("f64",)
        for mode, padding, ac, dt in combos(2, dtypes=dtypes):
            name = f"sizes_{tag(2, mode, padding, ac, dt)}_h{spatial[0]}w{spatial[1]}"
            t = DTYPES[dt]
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            w.grid_sample(name, inp, product_grid([values, values[:5]]).astype(t), mode, padding,
                          ac)
    for spatial in ((1, 3, 4), (3, 1, 4), (3, 4, 1), (2, 2, 3), (1, 1, 1)):
        for mode, padding, ac, dt in combos(3, dtypes=("f64",)):
            name = f"sizes_{tag(3, mode, padding, ac, dt)}_d{spatial[0]}h{spatial[1]}w{spatial[2]}"
            t = DTYPES[dt]
            axis_values = [values_for_axis(values[k:k + 5], s, mode, padding, ac, 3)
                           for k, s in enumerate(spatial[::-1])]
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            w.grid_sample(name, inp, product_grid(axis_values).astype(t), mode, padding, ac)


def cases_bicubic(w):
    # Channel 0 is a step (0 left of centre, 1 right; a bright row below), which makes Keys' kernel
    # overshoot [0, 1]; channel 1 is random. g = +-0.95 puts the outer taps past the edge, where
    # padding applies per tap (S6); near +-1 reflection folds taps back onto the input.
    values = [-1.05, -1.0, -0.99, -0.95, -0.75, -0.3, 0.0, 0.3, 0.75, 0.95, 0.99, 1.0, 1.05]
    overshoot = False
    for _, padding, ac, dt in combos(2, modes=("bicubic",)):
        name = "bicubic_" + tag(2, "bicubic", padding, ac, dt)
        t = DTYPES[dt]
        inp = np.zeros((1, 2, 4, 4), t)
        inp[0, 0, :, 2:] = 1
        inp[0, 0, 3, :] = 1
        inp[0, 1] = random_input(w.rng(name), (4, 4), t)
        out = w.grid_sample(name, inp, product_grid([values, values]).astype(t), "bicubic",
                            padding, ac)
        overshoot |= bool(out[0, 0].max() > 1 or out[0, 0].min() < 0)
    assert overshoot, "bicubic cases show no overshoot"


def cases_large_and_channels(w):
    specs = [  # name suffix, dims, input shape, grid spatial, mode, padding, ac, dtype
        ("large", 2, (1, 3, 64, 96), (40, 56), "bilinear", "zeros", False, "f32"),
        ("large", 2, (1, 3, 64, 96), (40, 56), "bicubic", "reflection", True, "f32"),
        ("large", 2, (1, 3, 64, 96), (24, 32), "nearest", "border", False, "f64"),
        ("large", 3, (1, 2, 16, 24, 32), (8, 12, 16), "bilinear", "border", False, "f32"),
        ("channels1", 2, (2, 1, 5, 6), (4, 3), "bilinear", "zeros", False, "f32"),
        ("channels1", 2, (2, 1, 5, 6), (4, 3), "bicubic", "border", True, "f64"),
        ("channels1", 3, (2, 1, 3, 4, 5), (2, 3, 4), "bilinear", "reflection", False, "f32"),
        ("channels16", 2, (2, 16, 5, 6), (4, 3), "bilinear", "reflection", True, "f32"),
        ("channels16", 2, (2, 16, 5, 6), (4, 3), "nearest", "zeros", False, "f64"),
        ("channels16", 2, (2, 16, 5, 6), (4, 3), "bicubic", "zeros", False, "f32"),
        ("channels16", 3, (2, 16, 3, 4, 5), (2, 3, 4), "bilinear", "zeros", True, "f64"),
        ("channels16", 3, (2, 16, 3, 4, 5), (2, 3, 4), "nearest", "reflection", True, "f32"),
    ]
    for prefix, dims, shape, out_spatial, mode, padding, ac, dt in specs:
        name = f"{prefix}_{tag(dims, mode, padding, ac, dt)}"
        rng, t = w.rng(name), DTYPES[dt]
        inp = random_input(rng, shape, t)
        grid = random_grid(rng, (shape[0], *out_spatial, dims), shape[2:][::-1], -1.1, 1.1, mode,
                           padding, ac, t)
        w.grid_sample(name, inp, grid, mode, padding, ac)


def nonfinite_points(dims, finite):
    """Grid points with NaN, +inf or -inf in each non-empty subset of the components (the others
    finite, one point per row of `finite`), plus every all-special combination."""
    specials = [np.nan, np.inf, -np.inf]
    points = []
    for s in specials:
        for mask in range(1, 2 ** dims):
            for f in finite:
                points.append([s if mask >> k & 1 else f[k] for k in range(dims)])
    for combo in np.array(np.meshgrid(*[specials] * dims, indexing="ij")).reshape(dims, -1).T:
        points.append(list(combo))
    return np.array(points)


def cases_nonfinite(w):
    finite = [[-0.55, 0.3, 0.85], [0.45, -0.8, 0.1]]
    for dims, spatial in ((2, (5, 6)), (3, (3, 4, 5))):
        points = nonfinite_points(dims, finite)
        out_shape = (3, len(points) // 3) if dims == 2 else (3, 1, len(points) // 3)
        for mode, padding, ac, dt in combos(dims):
            name = "nonfinite_" + tag(dims, mode, padding, ac, dt)
            t = DTYPES[dt]
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            grid = points.reshape(1, *out_shape, dims).astype(t)
            w.grid_sample(name, inp, grid, mode, padding, ac)
    # S = 1 on one axis: with align_corners the single row or column is returned for any g (S2).
    points = nonfinite_points(2, finite)
    for spatial in ((1, 4), (3, 1)):
        for mode, padding, ac, dt in combos(2, dtypes=("f64",)):
            name = f"nonfinite_{tag(2, mode, padding, ac, dt)}_h{spatial[0]}w{spatial[1]}"
            t = DTYPES[dt]
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            grid = points.reshape(1, 3, -1, 2).astype(t)
            w.grid_sample(name, inp, grid, mode, padding, ac)


def cases_huge(w):
    # Coordinates beyond 2^30 / 2^31; float32 3e38 overflows (g + 1) * scale to inf. Reflection
    # with bilinear/nearest keeps only values whose coordinate is exact enough to mean something.
    huge = {"f64": [-1e20, -1e9, 1e9, 3e9, 1e20], "f32": [-3e38, -1e20, -1e9, 1e9, 3e38]}
    precise = {"f64": [-1e9, 1e9], "f32": [-3e38, 3e38]}
    for dims, spatial in ((2, (5, 6)), (3, (3, 4, 5))):
        for mode, padding, ac, dt in combos(dims):
            name = "huge_" + tag(dims, mode, padding, ac, dt)
            t = DTYPES[dt]
            values = huge[dt]
            if padding == "reflection" and mode != "bicubic":
                values = precise[dt]
            finite = [-0.7, 0.35]
            axis_values = []
            for s in spatial[::-1]:
                v = np.array(values + finite, t)
                if padding == "reflection" and mode != "bicubic":  # overflow to inf, or precise
                    x = unnormalize_as_library(v, s, ac)
                    v = v[~np.isfinite(x) | (np.abs(x) <= (1e12 if dt == "f64" else 1e4))]
                axis_values.append(values_for_axis(v, s, mode, padding, ac, dims))
            inp = random_input(w.rng(name), (1, 2, *spatial), t)
            w.grid_sample(name, inp, product_grid(axis_values).astype(t), mode, padding, ac)


def cases_affine(w):
    for dims, sizes in ((2, [(5, 7), (1, 4), (3, 1), (2, 2), (1, 1)]),
                        (3, [(3, 4, 5), (1, 3, 2), (2, 1, 3), (2, 2, 2), (1, 1, 1)])):
        for spatial in sizes:
            for ac in ALIGN:
                for dt in ("f32", "f64"):
                    shape = "x".join(map(str, spatial))
                    name = f"affine_{dims}d_ac{int(ac)}_{dt}_{shape}"
                    theta = w.rng(name).standard_normal((2, dims, dims + 1)).astype(DTYPES[dt])
                    w.affine_grid(name, theta, (2, 3, *spatial), ac)


def torch_description():
    text = f"torch {torch.__version__}"
    try:
        pkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3-torch"],
                             capture_output=True, text=True, timeout=10)
        if pkg.returncode == 0 and pkg.stdout.strip():
            text += f" (Debian python3-torch {pkg.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    return text + f", numpy {np.__version__}"


MANIFEST_HEADER = """\
# Golden data for tests/test_golden.cpp, computed by PyTorch on the CPU.
# Generated by: {torch}
# Command:      /usr/bin/python3 tests/golden/make_golden.py   (from the repository root)
#
# One case per line, whitespace-separated columns:
#   name op mode padding align_corners dtype expected ties file...
# name           the case (letters, digits, '_'); its files are in the folder of that name
# op             grid_sample | affine_grid
# mode, padding  grid_sample's options (SEMANTICS.md S1); '-' for affine_grid
# align_corners  0 | 1
# dtype          f32 | f64 (every array of the case)
# expected       torch: output is PyTorch's result for the stored inputs.
#                s7:    the grid holds NaN, +-inf or huge values where PyTorch 1.13 disagrees with
#                       our policy (S7: it returns NaN or path-dependent pixels). output is
#                       PyTorch's result on a rewritten finite grid with the S7 meaning (NaN -> -1,
#                       or for 3-D nearest the g of coordinate 0, the same pixel; infinite or
#                       over-2^30 coordinates -> coordinate 0 for reflection, +-1e4 for
#                       zeros/border); grid.npy holds the ORIGINAL values.
# ties           nearest only ('-' otherwise). strict: compare every point; coordinates at exact
#                rounding ties are exact in binary and follow S5 (half to even).
#                lenient: skip points whose coordinate is within 1e-4 (or its own float32
#                precision) of a tie (S11).
# file...        in the case's folder. grid_sample: input.npy grid.npy output.npy
#                affine_grid: theta.npy output.npy; the size argument is (N, C, [D,] H, W) with N
#                and the spatial sizes from output.npy's shape (C does not matter; use 1).
# 3-D nearest cases keep every coordinate at least 1e-4 from a tie: torch 1.13 rounds 3-D ties half
# away from zero, unlike S5.
"""


def fresh_output_dir(doc, default_out):
    """The scripts' common start: the --out argument (a folder, emptied first; the first
    paragraph of `doc` is the help text) and one torch thread, for deterministic output."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output folder (emptied first)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out_dir = os.path.abspath(args.out)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    return out_dir


def write_manifest(out_dir, header, lines):
    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        f.write(header.format(torch=torch_description()))
        f.write("\n".join(lines) + "\n")


def main():
    out_dir = fresh_output_dir(__doc__, DEFAULT_OUT)
    # affine_grid warns about unit-size grids with align_corners; those are cases on purpose.
    warnings.filterwarnings("ignore", message="Since version 1.3.0, affine_grid")
    w = Writer(out_dir)
    cases_random(w)
    cases_identity(w)
    cases_exact(w)
    cases_ties(w)
    cases_outside(w)
    cases_far(w)
    cases_sizes(w)
    cases_bicubic(w)
    cases_large_and_channels(w)
    cases_nonfinite(w)
    cases_huge(w)
    cases_affine(w)
    write_manifest(out_dir, MANIFEST_HEADER, w.lines)
    print(f"{len(w.lines)} cases ({w.counts['torch']} torch, {w.counts['s7']} s7) in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
