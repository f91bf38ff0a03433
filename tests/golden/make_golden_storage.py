#!/usr/bin/python3
"""Generates the golden data of tests/test_golden_storage.cpp: PyTorch's grid_sample and its
gradients for the storage types of SEMANTICS.md S10 (float16, bfloat16, uint8).

usage: /usr/bin/python3 tests/golden/make_golden_storage.py [--out DIR]

Needs PyTorch and NumPy on the system Python (Debian: apt-get install python3-torch python3-numpy).
The output is deterministic (fixed seeds, one torch thread). DIR (default
tests/data/golden_storage) is emptied first; it then holds one folder per case with the .npy files
and manifest.txt, which lists the cases and documents its own format in its header.

PyTorch's CPU grid_sample has no float16, bfloat16 or uint8 kernel, so, as S10 says, the expected
data is PyTorch's float32 result on the stored values (converted exactly to float32), rounded to
the storage type: to nearest, ties to even (torch's own float32 -> float16/bfloat16 conversion;
uint8: torch.round, half to even, then clamped to [0, 255]). The float32 result is stored too, for
the S10 comparison.

What the data covers:
  fwd_*   grid_sample: every mode/padding/align_corners, 2-D and 3-D; float16 and bfloat16 with
          a grid of the same type and with a float32 grid; uint8 images with a float32 grid
          (3 channels, so that the test's channels-last layout is an interleaved RGB image).
  bwd_*   the gradients of L = sum(grad_output * grid_sample(input, grid)) for float16 and
          bfloat16, every mode/padding/align_corners, 2-D and 3-D, both grid types: grad_input in
          the storage type, grad_grid in the grid's type.
Random grids keep coordinates 1e-3 pixels away from nearest-rounding ties (and, for the
gradients, from bilinear kinks), so that the last bit of a coordinate cannot pick another pixel;
grid values 1e-3 outside [-1.1, 1.1] exercise the padding.
"""
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as fwd  # noqa: E402  (the S2/S3 helpers)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "data", "golden_storage"))
SEED = 2610
MARGIN = 1e-3  # pixels from a nearest tie or a bilinear kink

TORCH_TYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "u8": torch.uint8,
               "f32": torch.float32}


def rng_for(name):
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def as_numpy(t, dt):
    """A torch tensor of storage type dt as the array the .npy file holds (bfloat16: its bits as
    '<u2', the convention of the library's .npy reader)."""
    t = t.contiguous()
    if dt == "bf16":
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def to_storage(x32, dt):
    """S10: a float32 tensor rounded once to the storage type."""
    if dt == "u8":
        return torch.clamp(torch.round(x32), 0, 255).to(torch.uint8)
    return x32.to(TORCH_TYPES[dt])


def random_grid(rng, shape, sizes, mode, padding, ac, kinks, gdt):
    """A grid of values in [-1.1, 1.1], rounded to gdt, whose coordinates keep MARGIN from
    nearest ties (and bilinear kinks where `kinks`)."""
    dims = len(sizes)

    def rounded(v):
        return torch.from_numpy(v).to(TORCH_TYPES[gdt]).to(torch.float64).numpy()

    g = rounded(rng.uniform(-1.1, 1.1, shape + (dims,)))
    for k, size in enumerate(sizes):
        for _ in range(1000):
            x = fwd.pad_coordinate(fwd.unnormalize(g[..., k], size, ac), size, padding, ac)
            frac = x - np.floor(x)
            bad = np.zeros(x.shape, bool)
            if mode == "nearest":
                bad |= np.abs(frac - 0.5) < 4 * MARGIN
            if kinks and mode == "bilinear":
                bad |= np.minimum(frac, 1 - frac) < 4 * MARGIN
            if not bad.any():
                break
            g[..., k][bad] = rounded(rng.uniform(-1.1, 1.1, bad.sum()))
    return g


def grid_in(g64, gdt):
    """The grid in its storage type, and its float32 values (exact)."""
    t = torch.from_numpy(g64).to(TORCH_TYPES[gdt])
    return t, t.to(torch.float32)


def check_margin(name, g32, sizes, mode, padding, ac, kinks):
    """The rounded grid keeps its coordinates MARGIN from ties (and kinks) too."""
    g = g32.numpy().astype(np.float64)
    for k, size in enumerate(sizes):
        x = fwd.pad_coordinate(fwd.unnormalize(g[..., k], size, ac), size, padding, ac)
        frac = x - np.floor(x)
        if mode == "nearest":
            assert (np.abs(frac - 0.5) >= MARGIN).all(), name
        if kinks and mode == "bilinear":
            assert (np.minimum(frac, 1 - frac) >= MARGIN).all(), name


def combos():
    for dims in (2, 3):
        for mode in ("bilinear", "nearest", "bicubic") if dims == 2 else ("bilinear", "nearest"):
            for padding in ("zeros", "border", "reflection"):
                for ac in (False, True):
                    yield dims, mode, padding, ac


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.lines = []

    def save(self, name, line, files):
        os.makedirs(os.path.join(self.out_dir, name))
        for fname, arr in files:
            np.save(os.path.join(self.out_dir, name, fname + ".npy"), np.ascontiguousarray(arr))
        self.lines.append(f"{name} {line} " + " ".join(f + ".npy" for f, _ in files))


def forward_cases(w):
    for dt, gdts in (("f16", ("f16", "f32")), ("bf16", ("bf16", "f32")), ("u8", ("f32",))):
        for gdt in gdts:
            for dims, mode, padding, ac in combos():
                name = f"fwd_{dt}_g{gdt}_{dims}d_{mode}_{padding}_ac{int(ac)}"
                rng = rng_for(name)
                spatial = (7, 9) if dims == 2 else (4, 5, 6)
                out_spatial = (5, 6) if dims == 2 else (3, 4, 5)
                n, c = 2, 3
                if dt == "u8":
                    inp = torch.from_numpy(rng.integers(0, 256, (n, c) + spatial).astype(np.uint8))
                else:
                    inp = torch.from_numpy(rng.standard_normal((n, c) + spatial)).to(TORCH_TYPES[dt])
                g64 = random_grid(rng, (n,) + out_spatial, spatial[::-1], mode, padding, ac,
                                  kinks=False, gdt=gdt)
                grid, g32 = grid_in(g64, gdt)
                check_margin(name, g32, spatial[::-1], mode, padding, ac, kinks=False)
                out32 = F.grid_sample(inp.to(torch.float32), g32, mode=mode,
                                      padding_mode=padding, align_corners=ac)
                w.save(name, f"forward {mode} {padding} {int(ac)} {dt} {gdt}",
                       [("input", as_numpy(inp, dt)), ("grid", as_numpy(grid, gdt)),
                        ("output", as_numpy(to_storage(out32, dt), dt)),
                        ("output_f32", out32.numpy())])


def backward_cases(w):
    for dt in ("f16", "bf16"):
        for gdt in (dt, "f32"):
            for dims, mode, padding, ac in combos():
                name = f"bwd_{dt}_g{gdt}_{dims}d_{mode}_{padding}_ac{int(ac)}"
                rng = rng_for(name)
                spatial = (6, 7) if dims == 2 else (3, 4, 5)
                out_spatial = (4, 5) if dims == 2 else (2, 3, 4)
                n, c = 2, 3
                inp = torch.from_numpy(rng.standard_normal((n, c) + spatial)).to(TORCH_TYPES[dt])
                go = torch.from_numpy(rng.standard_normal((n, c) + out_spatial)).to(TORCH_TYPES[dt])
                g64 = random_grid(rng, (n,) + out_spatial, spatial[::-1], mode, padding, ac,
                                  kinks=True, gdt=gdt)
                grid, g32 = grid_in(g64, gdt)
                check_margin(name, g32, spatial[::-1], mode, padding, ac, kinks=True)
                x = inp.to(torch.float32).requires_grad_(True)
                g = g32.clone().requires_grad_(True)
                out = F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=ac)
                (out * go.to(torch.float32)).sum().backward()
                gi32, gg32 = x.grad.detach(), g.grad.detach()
                # grad_grid of nearest is 0 (S9), and PyTorch agrees.
                w.save(name, f"backward {mode} {padding} {int(ac)} {dt} {gdt}",
                       [("input", as_numpy(inp, dt)), ("grid", as_numpy(grid, gdt)),
                        ("grad_output", as_numpy(go, dt)),
                        ("grad_input", as_numpy(to_storage(gi32, dt), dt)),
                        ("grad_grid", as_numpy(to_storage(gg32, gdt) if gdt != "f32" else gg32,
                                               gdt)),
                        ("grad_input_f32", gi32.numpy()), ("grad_grid_f32", gg32.numpy())])


MANIFEST_HEADER = """\
# Golden data for tests/test_golden_storage.cpp: PyTorch's float32 grid_sample (and gradients) on
# float16, bfloat16 and uint8 values, rounded to the storage type as SEMANTICS.md S10 says.
# Generated by: {torch}
# Command:      /usr/bin/python3 tests/golden/make_golden_storage.py   (from the repository root)
#
# One case per line, whitespace-separated columns:
#   name op mode padding align_corners dtype grid_dtype file...
# op          forward | backward
# dtype       f16 | bf16 | u8: input, output, grad_output, grad_input (bfloat16 as its bits, '<u2')
# grid_dtype  f32, or the dtype: grid and grad_grid
# file...     forward:  input grid output output_f32
#             backward: input grid grad_output grad_input grad_grid grad_input_f32 grad_grid_f32
#             (*_f32: PyTorch's float32 result before rounding)
"""


def main():
    out_dir = fwd.fresh_output_dir(__doc__, DEFAULT_OUT)
    w = Writer(out_dir)
    forward_cases(w)
    backward_cases(w)
    fwd.write_manifest(out_dir, MANIFEST_HEADER, w.lines)
    print(f"{len(w.lines)} cases in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
