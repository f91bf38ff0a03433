// grid_sample backward, the grid gradient (SEMANTICS.md S9) for one (spatial dims, mode, padding,
// dtype): grad_grid = d(sum of grad_output * output) / d grid. A gather like the forward: every
// output point reads the input at its taps, channel by channel, and sums over channels; no two
// points write the same element, so the result is deterministic for any thread count.
// The variants compiled from this generator are listed in cmake/GridsampleVariants.cmake.
//
// The sum over channels is the expensive part (C gathers of every tap per point). Vectorizing
// across output points makes every tap load a gather, which Halide emulates with scalar loads on
// Intel targets (~17 instructions per point and channel). Instead the channels are the vector
// lanes: the input is transposed once per batch item into blocks of V channels, channels
// innermost, with a zero slot past every axis (out-of-range taps read it: no per-tap select);
// grad_output is transposed per row of points. A tap then loads V channels with one vector load,
// the lanes accumulate over the blocks, and one horizontal add per coordinate finishes a point.
// Measured on the feat workload (8x64x128x128 float32, affine grid, bilinear zeros; one thread of
// a Xeon Sapphire Rapids VM, AVX-512): ~41 ms with gathers across points, ~13 ms with channel
// lanes (V = 8; of which ~7 ms are the two transposes); PyTorch 1.13 takes ~90 ms for the same
// gradient. The same schedule serves ARM, whose NEON has no gather at all: in the generated 2-D
// bilinear float32 kernel (arm-64-linux, V = 4) the channel-block loop is 22 instructions per
// point and block of 4 channels (4 `ldr q` taps, one of grad_output, 4 `fsub`, 2 `fmul`, 4
// `fmla`).
//
// Choices S9 leaves open (see also sampling_math.h): the chain factor is 0 for a NaN component
// (S9) and wherever S7 replaces the coordinate by a constant (+-inf with border or reflection,
// bicubic centres beyond 2^30), so such components get gradient 0; bicubic centres outside
// [-3, S+2] with zeros or border, where every tap is out of range or on one edge pixel, get 0
// rather than the formula's rounding noise.
//
// generate() states the algorithm with the helpers of sampling_math.h; schedule() picks the loop
// structure.
#include "Halide.h"
#include "algorithm/backward_common.h"
#include "algorithm/sampling_math.h"
#include "algorithm/storage_types.h"
#include "autoschedule/estimates.h"
#include "gpu/backward_schedule.h"

#include <functional>
#include <optional>
#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class GridSampleGradGrid : public Generator<GridSampleGradGrid> {
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
    // input: (x, y, [z,] c, n), PyTorch's (N, C, [D,] H, W) reversed; any strides.
    Input<Buffer<>> input{"input"};
    // grid: (k, x, y, [z,] n), PyTorch's (N, [Do,] Ho, Wo, k) reversed; k = 0 is x, 1 is y, 2 is z
    // (S1). Any strides, including 0.
    Input<Buffer<>> grid{"grid"};
    Input<bool> align_corners{"align_corners"};
    // grad_grid: the grid's shape, (k, x, y, [z,] n); any strides.
    Output<Buffer<>> grad_grid{"grad_grid"};

    void configure() {
        const int d = spatial_dims;
        grad_output.set_type(buffer_type(dtype));
        input.set_type(buffer_type(dtype));
        grid.set_type(buffer_type(grid_type(dtype, grid_dtype)));
        for (auto *b : {&grad_output, &input, &grid}) b->set_dimensions(d + 2);
        grad_grid.set_type(buffer_type(grid_type(dtype, grid_dtype)));
        grad_grid.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = compute_type(dtype), grid_t = grid_type(dtype, grid_dtype);
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";

        std::vector<Axis> axes;
        for (int k = 0; k < d; k++) {
            space.push_back(Var("s" + std::to_string(k)));
            axes.push_back(make_axis(t, input.dim(k).extent(), align_corners,
                                     !get_target().has_gpu_feature()));
        }
        std::vector<Var> point = space;
        point.push_back(n);
        std::vector<Expr> point_args(point.begin(), point.end());
        std::vector<Expr> grid_args{k_var};
        grid_args.insert(grid_args.end(), point.begin(), point.end());

        if (mode == Interpolation::nearest) {
            // S9: nearest is piecewise constant; its grid gradient is 0 everywhere.
            grad_grid(grid_args) = to_storage(constant(t, 0), grid_t, get_target());
            return;
        }

        // The taps of each axis at an output point (the forward's, bit for bit), out-of-range
        // taps sent to the zero slot of `input_block`.
        // Under an autoscheduler every input load is clamped to its buffer (within_bounds).
        const bool clamp_loads = using_autoscheduler();
        std::vector<AxisTaps> taps_of;
        for (int k = 0; k < d; k++) {
            std::vector<Expr> g_args{k};
            g_args.insert(g_args.end(), point.begin(), point.end());
            const Expr g = grid(within_bounds(grid, g_args, clamp_loads));
            taps_of.push_back(
                axis_taps(to_compute(g, grid_t, t), axes[k], mode, padding, align_corners));
            send_out_of_range_taps_to_slot(taps_of[k], axes[k].size);
        }
        // The per-point values go into `taps`, which the schedule places; with rows_outside
        // (below) they stay inline, computed where each row's channel loop uses them.
        rows_outside = get_target().has_gpu_feature() && mode == Interpolation::bicubic &&
                       t.bits() == 64 && !using_autoscheduler();
        std::vector<Expr *> slots;
        std::vector<IndexRange> indices;
        for (int k = 0; k < d && !rows_outside; k++) {
            AxisTaps &at = taps_of[k];
            for (auto *list : {&at.index, &at.weight, &at.dweight}) {
                for (Expr &e : *list) slots.push_back(&e);
            }
            for (Expr &e : at.index) indices.push_back({&e, axes[k].size});
            slots.push_back(&at.coordinate_grad);
        }
        const AutoscheduleForm form = autoschedule_form(using_autoscheduler(), get_target());
        taps = materialize("taps", slots, indices, point, form);

        // The channels in blocks of V (channel_block(), backward_common.h), channels innermost:
        // input_block (ci, x, y, [z,] cb, n), with one zero slot past the end of every spatial
        // axis, and grad_output_block (ci, px, py, [pz,] cb, n). Lanes past the last channel
        // read 0.
        // On a GPU each thread walks the channels one by one (gpu/backward_schedule.h).
        block = get_target().has_gpu_feature() ? 1 : channel_block(get_target(), t);
        const Expr channels = input.dim(d).extent();
        {
            Expr c = cb * block + ci;
            Expr inside = c < channels;
            std::vector<Expr> in_args;
            for (int k = 0; k < d; k++) {
                inside = inside && space[k] < axes[k].size;
                in_args.push_back(min(space[k], axes[k].size - 1));
            }
            in_args.push_back(min(c, channels - 1));
            in_args.push_back(n);
            std::vector<Expr> args{ci};
            args.insert(args.end(), space.begin(), space.end());
            args.push_back(cb);
            args.push_back(n);
            const Expr in = input(within_bounds(input, in_args, clamp_loads));
            input_block(args) = select(likely(inside), to_compute(in, dtype, t), constant(t, 0));

            std::vector<Expr> go_args(space.begin(), space.end());
            go_args.push_back(min(c, channels - 1));
            go_args.push_back(n);
            const Expr go = grad_output(within_bounds(grad_output, go_args, clamp_loads));
            grad_output_block(args) =
                select(likely(c < channels), to_compute(go, dtype, t), constant(t, 0));
        }

        // Per channel c: d(sample)/d(coordinate k) = sum over the taps of v * dweight_k * the
        // weights of the other axes, as nested sums with axis 0 innermost (the forward's
        // separable order, S6). For bilinear, dweight is -1/+1, which gives S9's differences
        // (v_x1 - v_x0) weighted by the other axes' weights. Out-of-range taps read the zero
        // slot (v = 0). `lanes` accumulates grad_output * that per lane (channel ci of every
        // block), summing over the blocks; `channel_sum_k` then adds the V lanes.
        // rows_outside: on a GPU a thread keeps its point's taps in registers across its channel
        // loop. For 2-D bicubic in float64, 16 tap offsets and in-range flags, 16 weights and
        // derivatives of 8 bytes and the 16 values of a channel are more than the 64 registers
        // Halide 21's CUDA runtime allows a kernel (the kernel used 110 and spilled 132 bytes).
        // There the sum over the outermost axis's taps (rows) runs outside the channel loop
        // instead of inside it: one pass over the channels per row (unrolled,
        // gpu/backward_schedule.h), each computing its own taps and holding one row's; 56
        // registers, no spills (ptxas, sm_90). The same terms, added in a different order (S11).
        // Not under an autoscheduler: it places the taps itself, and they must stay in `taps`
        // for the opaque indices its bounds need (AutoscheduleForm, backward_common.h).
        const Expr blocks = (channels + (block - 1)) / block;
        const int row_count = static_cast<int>(taps_of[d - 1].index.size());
        RDom rcb = rows_outside ? RDom(0, blocks, 0, row_count, "rcb") : RDom(0, blocks, "rcb");
        if (rows_outside) row = RVar(rcb.y);
        const Expr channel_block_index = rcb.x;
        std::function<Expr(int, int, std::vector<Expr> &)> nested =
            [&](int axis, int deriv_axis, std::vector<Expr> &idx) -> Expr {
            if (axis < 0) {
                std::vector<Expr> args{ci};
                args.insert(args.end(), idx.begin(), idx.end());
                args.push_back(channel_block_index);
                args.push_back(n);
                return input_block(args);
            }
            const AxisTaps &at = taps_of[axis];
            const std::vector<Expr> &weights = axis == deriv_axis ? at.dweight : at.weight;
            if (rows_outside && axis == d - 1) {
                idx[axis] = mux(rcb.y, at.index);
                return mux(rcb.y, weights) * nested(axis - 1, deriv_axis, idx);
            }
            Expr sum;
            for (size_t j = 0; j < at.index.size(); j++) {
                idx[axis] = at.index[j];
                Expr term = weights[j] * nested(axis - 1, deriv_axis, idx);
                sum = sum.defined() ? sum + term : term;
            }
            return sum;
        };
        std::vector<Expr> lane_args{ci};
        lane_args.insert(lane_args.end(), point.begin(), point.end());
        std::vector<Expr> go_args{ci};
        go_args.insert(go_args.end(), space.begin(), space.end());
        go_args.push_back(channel_block_index);
        go_args.push_back(n);
        Expr go = grad_output_block(go_args);
        // The lanes of coordinate k: lanes(...)[k], or in the one-Func-per-value form
        // (AutoscheduleForm, GPU autoschedulers) one Func per coordinate, lanes_k: Anderson2021
        // counts a Tuple element as one access (d values a point), and in 3-D, where grad_grid's
        // threads tile the 3 coordinates, that fails its memory transaction assertion
        // ("total_bytes_used = 6336, total_bytes = 6144": 11 points of 12 bytes a request), as
        // the taps' Tuple did (experiments/autoschedulers/repro/anderson2021_tuple.cpp). The
        // same values.
        const bool lanes_per_axis = form.one_func_per_value;
        std::vector<Func> lanes_of;
        if (lanes_per_axis) {
            for (int k = 0; k < d; k++) {
                Func f("lanes_" + std::to_string(k));
                std::vector<Expr> idx(d);
                f(lane_args) = constant(t, 0);
                f(lane_args) += go * nested(d - 1, k, idx);
                lanes_of.push_back(f);
            }
        } else {
            lanes(lane_args) = Tuple(std::vector<Expr>(d, constant(t, 0)));
            std::vector<Expr> update;
            for (int k = 0; k < d; k++) {
                std::vector<Expr> idx(d);
                update.push_back(lanes(lane_args)[k] + go * nested(d - 1, k, idx));
            }
            lanes(lane_args) = Tuple(update);
        }

        RDom rl(0, block, "rl");
        std::vector<Expr> rl_args{rl};
        rl_args.insert(rl_args.end(), point.begin(), point.end());
        std::vector<Expr> per_axis;
        for (int k = 0; k < d; k++) {
            Func sum("channel_sum_" + std::to_string(k));
            sum(point_args) = constant(t, 0);
            sum(point_args) +=
                lanes_per_axis ? Expr(lanes_of[k](rl_args)) : Expr(lanes(rl_args)[k]);
            channel_sum.push_back(sum);
            // S9: times the chain factor of the axis (scale, border/reflection multiplier, 0
            // for NaN).
            per_axis.push_back(sum(point_args) * taps_of[k].coordinate_grad);
        }
        grad_grid(grid_args) = to_storage(mux(k_var, per_axis), grid_t, get_target());
    }

    void schedule() {
        const int d = spatial_dims;
        // Estimates, for the autoschedulers and RunGen (autoschedule/estimates.h).
        const auto est = feature_estimates(d, autoscheduler_.value(), get_target());
        Region feature_est, grid_est{{0, d}};
        for (auto [lo, ext] : est) feature_est.push_back({lo, ext});
        for (int k = 0; k < d; k++) grid_est.push_back(feature_est[k]);
        grid_est.push_back(feature_est.back());
        grad_output.set_estimates(feature_est);
        input.set_estimates(feature_est);
        grid.set_estimates(grid_est);
        align_corners.set_estimate(false);
        grad_grid.set_estimates(grid_est);

        // Every layout is accepted (S8b): no dense innermost dimension is assumed.
        for (int k = 0; k < d + 2; k++) {
            grad_output.dim(k).set_stride(Expr());
            input.dim(k).set_stride(Expr());
            grid.dim(k).set_stride(Expr());
            grad_grid.dim(k).set_stride(Expr());
        }
        // The component dimension always holds exactly the d coordinates (S1).
        grid.dim(0).set_bounds(0, d);
        grad_grid.dim(0).set_bounds(0, d);

        if (using_autoscheduler()) return;
        if (get_target().has_gpu_feature()) {
            schedule_grad_grid_gpu(grad_grid, {taps, lanes, channel_sum, row}, k_var, space, n);
        } else {
            schedule_cpu();
        }
    }

private:
    Var k_var{"k"}, n{"n"};
    std::vector<Var> space;
    int block = 1;
    bool rows_outside = false;
    std::optional<RVar> row;  // with rows_outside: the loop over the outermost axis's taps
    Var ci{"ci"}, cb{"cb"};
    Func taps{"taps"}, input_block{"input_block"}, grad_output_block{"grad_output_block"},
        lanes{"lanes"};
    std::vector<Func> channel_sum;

    // CPU, per batch item: first the input in channel blocks (parallel over its rows), then the
    // output points (parallel over rows). For each row, the taps (vectorized along x) and the
    // row's grad_output in blocks are computed once; for each point, the sum over channels runs
    // V channels per vector instruction with the accumulators in registers, and ends in one
    // horizontal add per coordinate. The order of every sum is fixed by the algorithm, so the
    // result does not depend on the thread count.
    void schedule_cpu() {
        const int d = spatial_dims;
        const int vec = natural_vector_size(compute_type(dtype));
        Func out = grad_grid;
        Var x = space[0];

        if (mode == Interpolation::nearest) {
            std::vector<VarOrRVar> order{k_var};
            for (const Var &v : space) order.push_back(v);
            order.push_back(n);
            out.reorder(order);
            Var fused = fuse_rows(out);
            out.parallel(fused).vectorize(x, vec, TailStrategy::GuardWithIf);
            return;
        }

        // grad_grid: n; rows (parallel); x; the d components (unrolled).
        std::vector<VarOrRVar> order{k_var, x};
        Var rows = space.size() > 1 ? space[1] : x;
        if (d == 3) {
            rows = Var("rows");
            order.push_back(space[1]);
            order.push_back(space[2]);
            order.push_back(n);
            out.reorder(order).fuse(space[1], space[2], rows);
        } else {
            order.push_back(space[1]);
            order.push_back(n);
            out.reorder(order);
        }
        out.unroll(k_var).parallel(rows);

        // The input's channel blocks of this batch item, transposed a row at a time: one
        // vector load per channel, interleaved into the block.
        Var bx = input_block.args()[1], bxo("bxo"), bxi("bxi");
        input_block.compute_at(out, n)
            .split(bx, bxo, bxi, block, TailStrategy::GuardWithIf)
            .reorder(bxi, ci, bxo)
            .vectorize(bxi)
            .unroll(ci);
        // Parallel over rows (2-D) or planes (3-D; fusing them confuses bounds inference).
        input_block.parallel(input_block.args()[d]);
        Var gx = grad_output_block.args()[1], gxo("gxo"), gxi("gxi");
        grad_output_block.compute_at(out, rows)
            .split(gx, gxo, gxi, block, TailStrategy::GuardWithIf)
            .reorder(gxi, ci, gxo)
            .vectorize(gxi)
            .unroll(ci);
        taps.compute_at(out, rows).vectorize(x, vec, TailStrategy::GuardWithIf);

        // Per point: the lanes over all channel blocks, then the horizontal sums (atomic() tells
        // Halide the sum may be reassociated, so that vectorizing it gives one horizontal add;
        // its tree is fixed, so the bits do not change from run to run).
        lanes.compute_at(out, x).vectorize(ci);
        lanes.update().reorder(ci, RVar("rcb$x")).vectorize(ci);
        for (Func &sum : channel_sum) {
            sum.compute_at(out, x);
            sum.update().atomic().vectorize(RVar("rl$x"));
        }

        // The usual layout, W-contiguous input and grad_output, gets contiguous vector loads;
        // any other layout runs the same loops with gathers.
        out.specialize(grad_output.dim(0).stride() == 1 && input.dim(0).stride() == 1);
    }

    // Fuses the outer spatial dimensions with the batch into one loop of rows (y, [z,] n).
    Var fuse_rows(Func out) {
        const int d = spatial_dims;
        Var fused = n;
        for (int k = d - 1; k >= 1; k--) {
            Var rows("rows_" + std::to_string(k));
            out.fuse(space[k], fused, rows);
            fused = rows;
        }
        return fused;
    }
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::GridSampleGradGrid, grid_sample_grad_grid)
