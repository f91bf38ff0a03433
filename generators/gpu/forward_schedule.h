// The GPU schedule of the forward (algorithm/forward.h), for CUDA and OpenCL targets; used by
// grid_sample and affine_grid_sample.
//
// One thread per output point, looping over the channels: the point's taps (indices, in-range
// flags, weights) are computed once, in registers, and every channel reuses them, as PyTorch's
// CUDA kernel does. Threads of a block cover a 32 x 8 tile of output points, so a warp reads and
// writes 32 consecutive points of a row (coalesced grid loads and output stores in the usual
// layouts) and gathers taps that lie close together in the input (L1/L2 hits for smooth grids).
// The blocks cover x, y and the remaining dimensions (z fused with the batch).
//
// One kernel per call: no specialization and no loop partitioning (never_partition_all), which
// would multiply the kernels (every one is JIT-compiled by the driver on first use), and no
// intermediate in device memory (taps live in registers).
#pragma once

#include "Halide.h"
#include "algorithm/forward.h"

#include <string>
#include <vector>

namespace gridsample_gen {

// Threads per block along x and y. 256 threads a block, PyTorch's launch bound for its 2-D kernel.
inline constexpr int kGpuTileX = 32;
inline constexpr int kGpuTileY = 8;

inline void schedule_forward_gpu(Halide::Func out, Forward &f) {
    using namespace Halide;
    const int d = static_cast<int>(f.space.size());
    Var x = f.space[0], y = f.space[1];
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
    out.split(x, xo, xi, kGpuTileX, TailStrategy::GuardWithIf)
        .split(y, yo, yi, kGpuTileY, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> order{f.c, xi, yi, xo, yo};
    for (int k = 2; k < d; k++) order.push_back(f.space[k]);
    order.push_back(f.n);
    out.reorder(order);
    Var outer = f.n;
    for (int k = d - 1; k >= 2; k--) {
        Var fused("zn_" + std::to_string(k));
        out.fuse(f.space[k], outer, fused);
        outer = fused;
    }
    out.gpu_threads(xi, yi).gpu_blocks(xo, yo, outer).never_partition_all();
    if (f.taps.defined()) f.taps.compute_at(out, xi);
}

}  // namespace gridsample_gen
