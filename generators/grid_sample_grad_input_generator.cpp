// grid_sample backward, the input gradient (SEMANTICS.md S9) for one (spatial dims, mode,
// padding, dtype): grad_input = d(sum of grad_output * output) / d input, a scatter-add. Every
// tap the forward reads in range receives weight * grad_output, summed over all output points.
// The variants compiled from this generator are listed in cmake/GridsampleVariants.cmake.
//
// Deterministic and parallel (S9: bit-for-bit reproducible, independent of the thread count)
// ------------------------------------------------------------------------------------------------
// A scatter-add has write conflicts between output points, so it is partitioned by what it
// writes instead: every (batch n, block of V channels) is one task that owns those V planes of
// grad_input and no other task touches them. Inside a task the output points are walked in one
// fixed order (z, y, x, then the taps in the forward's order), so every element of grad_input
// receives its contributions in the same order whatever the thread count, the ISA's vector
// width aside (V only groups channels; each channel's arithmetic is the same).
//
// The V channels of a block are the vector lanes: the block's accumulator `acc` is stored
// channels-innermost, (ci, x, y, [z]), so the contribution of one tap to all V channels is one
// contiguous vector read-modify-write instead of V scalar scatters, and lanes never conflict
// (each is its own channel). `acc` has one padding slot past the end of every spatial axis: a
// tap that is out of range (zeros padding) adds into the padding, which is never read back, so
// the scatter has no per-tap test or select (and a NaN or infinite grad_output there goes nowhere,
// as in PyTorch, which skips such taps). The block's grad_output is transposed into the lane
// layout one row of output points at a time, and `acc` is transposed back into grad_input's
// layout one row at a time at the end. The taps (indices, weights) of V output points at a time
// are computed once per block, vectorized along x, and shared by the V channels; recomputing them
// per block costs little next to the scatter and needs no per-batch buffer.
// Lanes past the last channel (C not a multiple of V) accumulate zeros and are never stored.
//
// Measured on the feat workload (8x64x128x128 float32, affine grid, bilinear zeros; one thread of
// a Xeon Sapphire Rapids VM, AVX-512, V = 8; Halide profiler): ~17 ms, of which the scatter is
// ~5 ms, the transposes in and out ~6 ms, writing grad_input ~5 ms and the taps ~2 ms (so
// recomputing them per block is cheap). A first version with 16 lanes, per-tap selects and
// element-wise transposes took ~32 ms. PyTorch 1.13's CPU backward spends ~135 ms on its scalar
// scatter into grad_input.
//
// The same schedule serves ARM: NEON has no gather or scatter, and this one needs neither. In the
// generated 2-D bilinear float32 kernel (arm-64-linux, V = 4) the scatter's inner loop is 38
// instructions per output point and block of 4 channels: per tap one `ldr q` of `acc`, one
// `fmla` by the tap's weight and one `str q`, the rest the taps' offsets and weights.
//
// Choices S9 leaves open: a NaN grid component samples as -1 (S7), so grad_input receives the
// taps of that coordinate, exactly the taps the forward read (only the grid gradient of a NaN is
// defined as 0). Parallelism is N x ceil(C / V) tasks (a 1x16 volume is 2 tasks, while grad_grid
// parallelizes over rows); scratch is one V-channel block of the input's size per running task.
//
// generate() states the algorithm; schedule() picks V and the loop structure.
#include "Halide.h"
#include "algorithm/backward_common.h"
#include "algorithm/fixed_point.h"
#include "algorithm/sampling_math.h"
#include "algorithm/storage_types.h"
#include "autoschedule/estimates.h"
#include "gpu/backward_schedule.h"

#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class GridSampleGradInput : public Generator<GridSampleGradInput> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Interpolation> mode{"mode", Interpolation::bilinear, kInterpolationByName};
    GeneratorParam<Padding> padding{"padding", Padding::zeros, kPaddingByName};
    // The tensors' element type, and the grid's (S10, algorithm/storage_types.h): float16 and
    // bfloat16 read exactly into float32 and round each gradient once.
    GeneratorParam<Type> dtype{"dtype", Float(32)};
    GeneratorParam<GridDType> grid_dtype{"grid_dtype", GridDType::same, kGridDTypeByName};

    // grad_output: (x, y, [z,] c, n), PyTorch's (N, C, [Do,] Ho, Wo) reversed; any strides.
    Input<Buffer<>> grad_output{"grad_output"};
    // grid: (k, x, y, [z,] n), PyTorch's (N, [Do,] Ho, Wo, k) reversed; k = 0 is x, 1 is y, 2 is z
    // (S1). Any strides, including 0.
    Input<Buffer<>> grid{"grid"};
    Input<bool> align_corners{"align_corners"};
    // grad_input: the input's shape, (x, y, [z,] c, n), PyTorch's (N, C, [D,] H, W) reversed; any
    // strides. Its spatial extents are the input's sizes S of S2.
    Output<Buffer<>> grad_input{"grad_input"};

    void configure() {
        const int d = spatial_dims;
        grad_output.set_type(buffer_type(dtype));
        grid.set_type(buffer_type(grid_type(dtype, grid_dtype)));
        for (auto *b : {&grad_output, &grid}) b->set_dimensions(d + 2);
        grad_input.set_type(buffer_type(dtype));
        grad_input.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = compute_type(dtype), grid_t = grid_type(dtype, grid_dtype);
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";
        // The channel block V (backward_common.h); see the block comment above. On a GPU each
        // thread walks the channels one by one (gpu/backward_schedule.h).
        gpu = get_target().has_gpu_feature();
        block = gpu ? 1 : channel_block(get_target(), t);
        const Expr channels = grad_input.dim(d).extent();

        std::vector<Axis> axes;
        std::vector<Var> point;  // an output point: (px, py, [pz])
        for (int k = 0; k < d; k++) {
            space.push_back(Var("s" + std::to_string(k)));
            point.push_back(Var("p" + std::to_string(k)));
            axes.push_back(make_axis(t, grad_input.dim(k).extent(), align_corners,
                                     !get_target().has_gpu_feature()));
        }
        std::vector<Var> point_n = point;
        point_n.push_back(n);

        // The taps of each axis at an output point (the forward's, bit for bit), out-of-range
        // taps sent to the padding slot of `acc`, stored per point in `taps` (see the schedule
        // for where).
        std::vector<AxisTaps> taps_of;
        for (int k = 0; k < d; k++) {
            std::vector<Expr> g_args{k};
            g_args.insert(g_args.end(), point_n.begin(), point_n.end());
            const Expr g = grid(within_bounds(grid, g_args, using_autoscheduler()));
            taps_of.push_back(
                axis_taps(to_compute(g, grid_t, t), axes[k], mode, padding, align_corners));
            send_out_of_range_taps_to_slot(taps_of[k], axes[k].size);
        }
        std::vector<Expr *> slots;
        std::vector<IndexRange> indices;
        for (int k = 0; k < d; k++) {
            AxisTaps &at = taps_of[k];
            for (auto *list : {&at.index, &at.weight}) {
                for (Expr &e : *list) slots.push_back(&e);
            }
            for (Expr &e : at.index) indices.push_back({&e, axes[k].size});
        }
        taps = materialize("taps", slots, indices, point_n,
                           autoschedule_form(using_autoscheduler(), get_target()));

        // grad_output of one channel block, channels innermost: (ci, px, py, [pz,] cb, n).
        // Lanes past the last channel read 0.
        {
            std::vector<Expr> args{ci};
            args.insert(args.end(), point.begin(), point.end());
            args.push_back(cb);
            args.push_back(n);
            Expr c = cb * block + ci;
            std::vector<Expr> go_args(point.begin(), point.end());
            go_args.push_back(min(c, channels - 1));
            go_args.push_back(n);
            const Expr go = grad_output(within_bounds(grad_output, go_args, using_autoscheduler()));
            grad_output_block(args) =
                select(likely(c < channels), to_compute(go, dtype, t), constant(t, 0));
        }

        // The scatter: r walks the output points (x fastest) and, innermost, every tap of a
        // point (axis 0 fastest). Each tap adds weight * grad_output to its element of `acc`
        // (channels of the block innermost, one padding slot past every axis), for the V
        // channels at once; an out-of-range tap adds into the padding, which is never read.
        const int taps_per_axis = (int)taps_of[0].index.size();
        int corners = 1;
        for (int k = 0; k < d; k++) corners *= taps_per_axis;
        // Nearest has one corner. Under an autoscheduler its loop of one iteration is left out:
        // Mullapudi2016's GPU mode fails on such a loop (3-D nearest: "Condition failed:
        // inner_iter != ordering.end()", the loop-of-one failure of autoschedule/estimates.h).
        const bool corner_loop = corners > 1 || !using_autoscheduler();
        Region r_region;
        if (corner_loop) r_region.push_back({0, corners});
        for (int k = 0; k < d; k++) {
            r_region.push_back({0, grad_output.dim(k).extent()});
        }
        scatter = RDom(r_region, "r");
        const RDom &r = scatter;
        const Expr corner = corner_loop ? Expr(r[0]) : Expr(0);
        // The tap data at the point r visits, and the tap `corner` of it.
        std::vector<Expr> r_point;
        for (int k = 0; k < d; k++) r_point.push_back(r[k + (corner_loop ? 1 : 0)]);
        auto at_r = [&](Expr e) {
            for (int k = 0; k < d; k++) e = substitute(point[k].name(), r_point[k], e);
            return e;
        };
        std::vector<Expr> index(d);
        Expr weight;
        for (int k = 0; k < d; k++) {
            // The corner's tap along axis k: (corner / taps_per_axis^k) % taps_per_axis. The
            // corner loop is unrolled, so each copy selects its tap statically.
            int stride = 1;
            for (int m = 0; m < k; m++) stride *= taps_per_axis;
            Expr j = (corner / stride) % taps_per_axis;
            const AxisTaps &at = taps_of[k];
            Expr idx = at.index.back(), w = at.weight.back();
            for (int m = taps_per_axis - 2; m >= 0; m--) {
                idx = select(j == m, at.index[m], idx);
                w = select(j == m, at.weight[m], w);
            }
            index[k] = at_r(idx);
            weight = weight.defined() ? weight * at_r(w) : at_r(w);
        }
        std::vector<Expr> go_args{ci};
        go_args.insert(go_args.end(), r_point.begin(), r_point.end());
        go_args.push_back(cb);
        go_args.push_back(n);

        std::vector<Expr> acc_pure{ci};
        acc_pure.insert(acc_pure.end(), space.begin(), space.end());
        acc_pure.push_back(cb);
        acc_pure.push_back(n);
        // On a GPU the threads of different output points add into `acc` at once: it holds
        // 64-bit fixed-point sums (algorithm/fixed_point.h), whose integer atomic adds give the
        // same bits in any order (S13). The CPU adds floats in a fixed order.
        if (gpu) {
            std::vector<Expr> extents;
            for (int k = 0; k < d + 2; k++) extents.push_back(grad_output.dim(k).extent());
            Expr points = 1;
            for (int k = 0; k < d; k++) points = points * grad_output.dim(k).extent();
            fixed = fixed_point_for(
                [&](const std::vector<Expr> &coords) {
                    return to_compute(grad_output(coords), dtype, t);
                },
                extents, points, t, /*for_autoscheduler=*/using_autoscheduler());
        }
        auto contribution = [&](const Expr &v) { return gpu ? fixed.to_fixed(v) : v; };
        acc(acc_pure) = gpu ? cast<int64_t>(0) : constant(t, 0);
        std::vector<Expr> acc_at_tap{ci};
        acc_at_tap.insert(acc_at_tap.end(), index.begin(), index.end());
        acc_at_tap.push_back(cb);
        acc_at_tap.push_back(n);
        acc(acc_at_tap) += contribution(weight * grad_output_block(go_args));

        // Back to grad_input's layout: one row of the block at a time with the channels
        // outermost (acc_rows), then each channel's row.
        //
        // Under an autoscheduler these two reads take their coordinates from grad_input's clamped
        // to it (`at`; within_bounds' reason, storage_types.h, for the intermediate Funcs):
        // Li2018 computes acc, acc_rows and grad_input at the root, each one fused loop split
        // into tasks of its estimate's size and rounded up, and through those loops Halide sized
        // acc for batch items -17159 to 17159 of a 1x40x10x12x16 volume's one (3.3 G elements,
        // refused by the allocator). Clamped, acc covers grad_input's region; inside it nothing
        // changes.
        std::vector<Expr> out_args(space.begin(), space.end());
        out_args.push_back(c_var);
        out_args.push_back(n);
        const std::vector<Expr> at = within_bounds(grad_input, out_args, using_autoscheduler());
        std::vector<Expr> rows_args{space[0], ci};
        rows_args.insert(rows_args.end(), space.begin() + 1, space.end());
        rows_args.push_back(cb);
        rows_args.push_back(n);
        std::vector<Expr> acc_read{ci};
        acc_read.insert(acc_read.end(), at.begin(), at.begin() + d);
        acc_read.push_back(using_autoscheduler() ? clamp(Expr(cb), 0, (channels - 1) / block)
                                                 : Expr(cb));
        acc_read.push_back(at[d + 1]);
        acc_rows(rows_args) = acc(acc_read);
        std::vector<Expr> from_rows{at[0], at[d] % block};
        from_rows.insert(from_rows.end(), at.begin() + 1, at.begin() + d);
        from_rows.push_back(at[d] / block);
        from_rows.push_back(at[d + 1]);
        grad_input(out_args) =
            to_storage(gpu ? fixed.from_fixed(acc_rows(from_rows)) : acc_rows(from_rows), dtype,
                       get_target());
    }

    void schedule() {
        const int d = spatial_dims;
        // Estimates, for the autoschedulers and RunGen (autoschedule/estimates.h).
        const auto est =
            feature_estimates(d, autoscheduler_.value(), get_target(), /*scatter=*/true);
        Region feature_est, grid_est{{0, d}};
        for (auto [lo, ext] : est) feature_est.push_back({lo, ext});
        for (int k = 0; k < d; k++) grid_est.push_back(feature_est[k]);
        grid_est.push_back(feature_est.back());
        grad_output.set_estimates(feature_est);
        grid.set_estimates(grid_est);
        align_corners.set_estimate(false);
        grad_input.set_estimates(feature_est);

        // Every layout is accepted (S8b): no dense innermost dimension is assumed.
        for (int k = 0; k < d + 2; k++) {
            grad_output.dim(k).set_stride(Expr());
            grid.dim(k).set_stride(Expr());
            grad_input.dim(k).set_stride(Expr());
        }
        grid.dim(0).set_bounds(0, d);  // the d coordinates (S1)

        if (using_autoscheduler()) return;
        if (gpu) {
            schedule_grad_input_gpu(grad_input, {taps, grad_output_block, acc, acc_rows}, scatter,
                                    space, c_var, n, fixed);
        } else {
            schedule_cpu();
        }
    }

private:
    bool gpu = false;
    FixedPoint fixed;
    int block = 1;
    Var ci{"ci"}, cb{"cb"}, c_var{"c"}, n{"n"};
    std::vector<Var> space;
    Func taps{"taps"}, grad_output_block{"grad_output_block"}, acc{"acc"}, acc_rows{"acc_rows"};
    RDom scatter;  // (tap, output point...): the scatter's loops

    // CPU: one task per (n, channel block), see the block comment at the top of the file.
    void schedule_cpu() {
        const int d = spatial_dims;
        Func out = grad_input;
        Var c_inner("c_inner"), task("task"), xo("xo"), xi("xi");

        // grad_input, outermost first: (n, channel block) fused into the parallel tasks; rows;
        // the block's channels; x, vectorized.
        std::vector<VarOrRVar> order{xi, xo, c_inner};
        for (int k = 1; k < d; k++) order.push_back(space[k]);
        out.split(c_var, cb, c_inner, block, TailStrategy::GuardWithIf)
            .fuse(cb, n, task)
            .parallel(task)
            .split(space[0], xo, xi, block, TailStrategy::GuardWithIf)
            .reorder(order)
            .vectorize(xi);
        // One row of the block transposed back to channels outermost, a V x V tile at a time:
        // vectorized over x and the channels at once, it is one dense load of the tile from acc
        // and a shuffle (unrolled over the channels instead, each strided load became V scalar
        // loads and inserts).
        Var rxo("rxo"), rxi("rxi");
        acc_rows.compute_at(out, space[1])
            .store_at(out, task)
            .split(space[0], rxo, rxi, block, TailStrategy::GuardWithIf)
            .reorder(rxi, ci, rxo)
            .vectorize(rxi)
            .vectorize(ci);

        // One block per task: the split's tail guard hides from bounds inference that c / V is
        // the task's block for every c of the task.
        acc.compute_at(out, task).bound_extent(cb, 1).bound_extent(ci, block).vectorize(ci);
        // The scatter, outermost first: output points z, y, x; the taps (unrolled); the V
        // channels of the block as one vector. The x loop is split by V so that the taps of V
        // points, computed as one vector each, fit in a constant-size stack buffer (taps per row
        // were a heap allocation per tuple element and row: ~20% of the time in malloc/free).
        RVar pxo("pxo"), pxi("pxi");
        std::vector<VarOrRVar> scatter_order{ci, scatter[0], pxi, pxo};
        for (int k = 2; k <= d; k++) scatter_order.push_back(scatter[k]);
        acc.update()
            .split(scatter[1], pxo, pxi, block, TailStrategy::GuardWithIf)
            .reorder(scatter_order)
            .vectorize(ci)
            .unroll(scatter[0]);

        // The taps of V output points at a time; the transposed grad_output of one row of output
        // points at a time (the transpose loads each channel's row as vectors and interleaves
        // them).
        const RVar row = scatter[2];
        taps.compute_at(acc, pxo).vectorize(taps.args()[0], block, TailStrategy::GuardWithIf);
        Var p0 = grad_output_block.args()[1], p0o("p0o"), p0i("p0i");
        // Stored once per task (Halide folds it to one row) instead of allocated per row.
        grad_output_block.compute_at(acc, row)
            .store_at(out, task)
            .split(p0, p0o, p0i, block, TailStrategy::GuardWithIf)
            .reorder(p0i, ci, p0o)
            .vectorize(p0i)
            .unroll(ci);

        // The usual layout, W-contiguous grad_output and grad_input, gets contiguous vector
        // loads and stores; any other layout runs the same loops with gathers and scatters.
        out.specialize(grad_output.dim(0).stride() == 1 && grad_input.dim(0).stride() == 1);
    }
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::GridSampleGradInput, grid_sample_grad_input)
