// The GPU schedules of the backward generators (grid_sample_grad_input, grid_sample_grad_grid)
// and of affine_grid, for CUDA and OpenCL targets. The generators define their algorithm with a
// channel block of 1 on a GPU (a thread walks the channels one by one), so the blocked
// intermediates of the CPU schedules are plain loads here and stay inline.
#pragma once

#include "Halide.h"
#include "algorithm/fixed_point.h"
#include "gpu/forward_schedule.h"

#include <optional>
#include <string>
#include <vector>

namespace gridsample_gen {

// affine_grid: one thread per grid point, its d components unrolled.
inline void schedule_affine_grid_gpu(Halide::Func grid, const Halide::Var &k,
                                     const std::vector<Halide::Var> &space,
                                     const Halide::Var &n) {
    if (space.size() == 1) return;  // not a shape the generators have
    grid.unroll(k);
    gpu_point_tiles(grid, {k}, space, {n});
    grid.never_partition_all();
}

// The Funcs of grid_sample_grad_input's algorithm.
struct GradInputFuncs {
    Halide::Func taps, grad_output_block, acc, acc_rows;
};

// grad_input (deterministic; algorithm/fixed_point.h). Six kernels, in order:
//   1-3. M = max |grad_output| in three levels (kMaxPartials threads, kMaxLevel2 threads, one
//        thread), for the fixed-point format of this call;
//   4.   acc = 0 (the 64-bit sums, grad_input's shape plus the padding slot of every axis);
//   5.   the scatter: one thread per output point, walking the channels and, for each, the taps
//        (unrolled): one 64-bit integer atomic add per tap and channel;
//   6.   grad_input = acc converted back, one thread per element.
// acc and the reduction levels are device buffers of the pipeline; the runtime keeps Halide's
// device allocations for reuse, so steady-state calls allocate nothing.
inline void schedule_grad_input_gpu(Halide::Func out, GradInputFuncs f, const Halide::RDom &scatter,
                                    const std::vector<Halide::Var> &space, const Halide::Var &c,
                                    const Halide::Var &n, FixedPoint &fixed) {
    using namespace Halide;
    const int d = static_cast<int>(space.size());
    Var po("po"), pi("pi");
    fixed.partial.compute_root().bound(fixed.p, 0, kMaxPartials)
        .gpu_tile(fixed.p, po, pi, 128, TailStrategy::GuardWithIf);
    fixed.level2.compute_root().bound(fixed.p, 0, kMaxLevel2)
        .gpu_tile(fixed.p, po, pi, kMaxLevel2, TailStrategy::GuardWithIf);
    fixed.max_bits.compute_root().gpu_single_thread();

    // acc (ci, x, y, [z,] cb, n), ci of extent 1: zeroed, then the scatter.
    const std::vector<Var> acc_args = f.acc.args();
    Var ci = acc_args[0];
    std::vector<Var> acc_space(acc_args.begin() + 1, acc_args.begin() + 1 + d);
    Var cb = acc_args[d + 1];
    f.acc.compute_root().bound(ci, 0, 1);
    gpu_point_tiles(f.acc, {ci}, acc_space, {cb, acc_args[d + 2]});

    RVar pxo("pxo"), pxi("pxi"), pyo("pyo"), pyi("pyi");
    Stage update = f.acc.update();
    update.atomic()
        .split(scatter[1], pxo, pxi, kGpuTileX, TailStrategy::GuardWithIf)
        .split(scatter[2], pyo, pyi, kGpuTileY, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> order{ci, scatter[0], cb, pxi, pyi, pxo, pyo};
    if (d == 3) order.push_back(scatter[3]);
    order.push_back(acc_args[d + 2]);
    update.reorder(order).unroll(scatter[0]).gpu_threads(pxi, pyi);
    if (d == 3) {
        RVar yz("pyz");
        update.fuse(pyo, scatter[3], yz).gpu_blocks(pxo, yz, acc_args[d + 2]);
    } else {
        update.gpu_blocks(pxo, pyo, acc_args[d + 2]);
    }
    f.taps.compute_at(f.acc, pxi);

    gpu_point_tiles(out, {}, space, {c, n});
    out.never_partition_all();
    f.acc.never_partition_all();
}

// The Funcs of grid_sample_grad_grid's algorithm.
struct GradGridFuncs {
    Halide::Func taps, lanes;
    std::vector<Halide::Func> channel_sum;
    // Set where the sum over the outermost axis's taps runs outside the channel loop, one pass
    // per row (the generator's rows_outside): the loop over the rows, unrolled so that each
    // pass computes only its own row's taps.
    std::optional<Halide::RVar> row;
};

// grad_grid: one thread per grid point, summing over the channels in registers (in one pass, or
// one per row of taps), then its d components (unrolled). Nearest (a grid gradient of 0) is the
// same tiles without the sums.
inline void schedule_grad_grid_gpu(Halide::Func out, GradGridFuncs f, const Halide::Var &k,
                                   const std::vector<Halide::Var> &space, const Halide::Var &n) {
    using namespace Halide;
    out.unroll(k);
    gpu_point_tiles(out, {k}, space, {n});
    out.never_partition_all();
    if (!f.lanes.defined()) return;
    const Var xi("xi");
    if (f.taps.defined()) f.taps.compute_at(out, xi);
    f.lanes.compute_at(out, xi);
    if (f.row) f.lanes.update().unroll(*f.row);
    for (Func &sum : f.channel_sum) sum.compute_at(out, xi);
}

}  // namespace gridsample_gen
