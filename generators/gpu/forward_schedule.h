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

// Splits the first two of `space` into 32 x 8 thread tiles of `s`, orders the loops
// (inner..., threads, blocks), fuses every dimension past y into the third block dimension, and
// maps them to the GPU. `inner` are loops inside a thread (serial or unrolled). The loops of a
// thread's point are named xi and yi: compute_at(out, Var("xi")) computes a Func per thread.
inline void gpu_point_tiles(Halide::Stage s, const std::vector<Halide::VarOrRVar> &inner,
                            const std::vector<Halide::Var> &space, const std::vector<Halide::Var> &outer) {
    using namespace Halide;
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
    s.split(space[0], xo, xi, kGpuTileX, TailStrategy::GuardWithIf)
        .split(space[1], yo, yi, kGpuTileY, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> order = inner;
    for (const VarOrRVar &v : std::vector<VarOrRVar>{xi, yi, xo, yo}) order.push_back(v);
    for (size_t k = 2; k < space.size(); k++) order.push_back(space[k]);
    for (const Var &v : outer) order.push_back(v);
    s.reorder(order);
    std::vector<Var> rest(space.begin() + 2, space.end());
    rest.insert(rest.end(), outer.begin(), outer.end());
    Var fused = rest.empty() ? Var() : rest[0];
    for (size_t k = 1; k < rest.size(); k++) {
        Var f("blocks_" + std::to_string(k));
        s.fuse(fused, rest[k], f);
        fused = f;
    }
    s.gpu_threads(xi, yi);
    if (rest.empty()) {
        s.gpu_blocks(xo, yo);
    } else {
        s.gpu_blocks(xo, yo, fused);
    }
}

// `channel_unroll` > 1 (an experiment knob, the generators' gpu_channel_unroll): the channel loop
// split by that factor and unrolled, so that a thread has that many channels' tap loads in flight
// at once; the last channels are guarded (GuardWithIf), so any channel count works.
inline void schedule_forward_gpu(Halide::Func out, Forward &f, int channel_unroll = 1) {
    if (channel_unroll > 1) {
        Halide::Var co("co"), ci("ci");
        out.split(f.c, co, ci, channel_unroll, Halide::TailStrategy::GuardWithIf).unroll(ci);
        gpu_point_tiles(out, {ci, co}, f.space, {f.n});
    } else {
        gpu_point_tiles(out, {f.c}, f.space, {f.n});
    }
    out.never_partition_all();
    if (f.taps.defined()) f.taps.compute_at(out, Halide::Var("xi"));
}

}  // namespace gridsample_gen
