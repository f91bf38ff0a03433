// grid_sample backward, the grid gradient (SEMANTICS.md S9) for one (spatial dims, mode, padding,
// dtype): grad_grid = d(sum of grad_output * output) / d grid. A gather like the forward: every
// output point reads the input at its taps, channel by channel, and sums over channels; no two
// points write the same element, so the result is deterministic for any thread count.
// The variants compiled from this generator are listed in cmake/GridsampleVariants.cmake.
//
// generate() states the algorithm with the helpers of sampling_math.h; schedule() picks the loop
// structure.
#include "Halide.h"
#include "backward_common.h"
#include "sampling_math.h"

#include <functional>
#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class GridSampleGradGrid : public Generator<GridSampleGradGrid> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Interpolation> mode{"mode", Interpolation::bilinear, kInterpolationByName};
    GeneratorParam<Padding> padding{"padding", Padding::zeros, kPaddingByName};
    GeneratorParam<Type> dtype{"dtype", Float(32)};

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
        for (auto *b : {&grad_output, &input, &grid}) {
            b->set_type(dtype);
            b->set_dimensions(d + 2);
        }
        grad_grid.set_type(dtype);
        grad_grid.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = dtype;
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";

        std::vector<Axis> axes;
        for (int k = 0; k < d; k++) {
            space.push_back(Var("s" + std::to_string(k)));
            axes.push_back(make_axis(t, input.dim(k).extent(), align_corners));
        }
        std::vector<Var> point = space;
        point.push_back(n);
        std::vector<Expr> point_args(point.begin(), point.end());
        std::vector<Expr> grid_args{k_var};
        grid_args.insert(grid_args.end(), point.begin(), point.end());

        if (mode == Interpolation::nearest) {
            // S9: nearest is piecewise constant; its grid gradient is 0 everywhere.
            grad_grid(grid_args) = constant(t, 0);
            return;
        }

        // The taps of each axis at an output point (the forward's, bit for bit).
        std::vector<AxisTaps> taps_of;
        for (int k = 0; k < d; k++) {
            std::vector<Expr> g_args{k};
            g_args.insert(g_args.end(), point.begin(), point.end());
            taps_of.push_back(axis_taps(grid(g_args), axes[k], mode, padding, align_corners));
        }
        std::vector<Expr *> slots;
        std::vector<IndexRange> indices;
        for (int k = 0; k < d; k++) {
            AxisTaps &at = taps_of[k];
            for (auto *list : {&at.index, &at.in_range, &at.weight, &at.dweight}) {
                for (Expr &e : *list) slots.push_back(&e);
            }
            for (Expr &e : at.index) indices.push_back({&e, axes[k].size - 1});
            slots.push_back(&at.coordinate_grad);
        }
        taps = materialize("taps", slots, indices, point);

        // Per channel c: d(sample)/d(coordinate k) = sum over the taps of v * dweight_k * the
        // weights of the other axes, as nested sums with axis 0 innermost (the forward's
        // separable order, S6). For bilinear, dweight is -1/+1, which gives S9's differences
        // (v_x1 - v_x0) weighted by the other axes' weights. Out-of-range taps read v = 0.
        RDom rc(0, input.dim(d).extent(), "rc");
        std::function<Expr(int, int, std::vector<Expr> &, Expr)> nested =
            [&](int axis, int deriv_axis, std::vector<Expr> &idx, Expr in_range) -> Expr {
            if (axis < 0) {
                std::vector<Expr> args(idx.begin(), idx.end());
                args.push_back(rc);
                args.push_back(n);
                return select(in_range, input(args), constant(t, 0));
            }
            const AxisTaps &at = taps_of[axis];
            Expr sum;
            for (size_t j = 0; j < at.index.size(); j++) {
                idx[axis] = at.index[j];
                Expr inner = nested(axis - 1, deriv_axis, idx, in_range && at.in_range[j]);
                Expr f = axis == deriv_axis ? at.dweight[j] : at.weight[j];
                Expr term = f * inner;
                sum = sum.defined() ? sum + term : term;
            }
            return sum;
        };
        std::vector<Expr> go_args(space.begin(), space.end());
        go_args.push_back(rc);
        go_args.push_back(n);
        Expr go = grad_output(go_args);
        channel_sum(point_args) = Tuple(std::vector<Expr>(d, constant(t, 0)));
        std::vector<Expr> update;
        for (int k = 0; k < d; k++) {
            std::vector<Expr> idx(d);
            update.push_back(channel_sum(point_args)[k] + go * nested(d - 1, k, idx, always()));
        }
        channel_sum(point_args) = Tuple(update);

        // S9: times the chain factor of each axis (scale, border/reflection multiplier, 0 for NaN).
        std::vector<Expr> per_axis;
        for (int k = 0; k < d; k++) {
            per_axis.push_back(channel_sum(point_args)[k] * taps_of[k].coordinate_grad);
        }
        grad_grid(grid_args) = mux(k_var, per_axis);
    }

    void schedule() {
        const int d = spatial_dims;
        // Estimates: the grid of a 2-D 8x64x128x128 feature map or a 3-D 1x16x64x64x64 volume,
        // sampled at its own resolution.
        std::vector<std::pair<int, int>> est = d == 2
            ? std::vector<std::pair<int, int>>{{0, 128}, {0, 128}, {0, 64}, {0, 8}}
            : std::vector<std::pair<int, int>>{{0, 64}, {0, 64}, {0, 64}, {0, 16}, {0, 1}};
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
        schedule_cpu();
    }

private:
    Var k_var{"k"}, n{"n"};
    std::vector<Var> space;
    Func taps{"taps"}, channel_sum{"channel_sum"};

    // CPU: parallel over output rows (fused with the outer spatial dims and the batch), so a
    // batch of 1 uses every core; vectorized along x. For each vector of points the taps are
    // computed once and the sum over channels runs with the vector's accumulators in registers.
    // The usual dense layout (grad_output, input W-contiguous; grid and grad_grid (..., k)
    // contiguous) is specialized: contiguous loads of grad_output and of the grid's interleaved
    // components, one interleaved store of grad_grid.
    void schedule_cpu() {
        const int d = spatial_dims;
        const int vec = natural_vector_size(Type(dtype));
        Func out = grad_grid;
        Var x = space[0], xo("xo"), xi("xi");

        if (mode == Interpolation::nearest) {
            std::vector<VarOrRVar> order{k_var};
            for (const Var &v : space) order.push_back(v);
            order.push_back(n);
            out.reorder(order);
            Var fused = fuse_rows(out);
            out.parallel(fused).vectorize(x, vec, TailStrategy::GuardWithIf);
            return;
        }

        std::vector<VarOrRVar> order{k_var, x};
        for (int k = 1; k < d; k++) order.push_back(space[k]);
        order.push_back(n);
        out.reorder(order);
        Var fused = fuse_rows(out);
        out.split(x, xo, xi, vec, TailStrategy::GuardWithIf)
            .reorder(k_var, xi, xo, fused)
            .unroll(k_var)
            .vectorize(xi)
            .parallel(fused);

        channel_sum.compute_at(out, xo).vectorize(x);
        channel_sum.update().reorder(x, RVar("rc$x")).vectorize(x);
        taps.compute_at(out, xo).vectorize(x);

        Expr dense = grad_output.dim(0).stride() == 1 && input.dim(0).stride() == 1 &&
                     grid.dim(0).stride() == 1 && grid.dim(1).stride() == d &&
                     grad_grid.dim(0).stride() == 1 && grad_grid.dim(1).stride() == d;
        out.specialize(dense);
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
