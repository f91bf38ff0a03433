// Forward grid_sample (SEMANTICS.md S1..S8b) for one (spatial dims, mode, padding, dtype).
// The variants compiled from this generator are listed in cmake/GridsampleVariants.cmake.
//
// generate() states the algorithm with the helpers of sampling_math.h; schedule() picks the
// loop structure. A schedule change never touches the math.
#include "Halide.h"
#include "sampling_math.h"

#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

const std::map<std::string, Interpolation> kInterpolationNames = {
    {"bilinear", Interpolation::bilinear},
    {"nearest", Interpolation::nearest},
    {"bicubic", Interpolation::bicubic},
};
const std::map<std::string, Padding> kPaddingNames = {
    {"zeros", Padding::zeros},
    {"border", Padding::border},
    {"reflection", Padding::reflection},
};

class GridSample : public Generator<GridSample> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Interpolation> mode{"mode", Interpolation::bilinear, kInterpolationNames};
    GeneratorParam<Padding> padding{"padding", Padding::zeros, kPaddingNames};
    GeneratorParam<Type> dtype{"dtype", Float(32)};

    // input: (x, y, [z,] c, n), PyTorch's (N, C, [D,] H, W) reversed; any strides.
    Input<Buffer<>> input{"input"};
    // grid: (k, x, y, [z,] n), PyTorch's (N, [Do,] Ho, Wo, k) reversed; k = 0 is x, 1 is y,
    // 2 is z (S1). Any strides, including 0.
    Input<Buffer<>> grid{"grid"};
    Input<bool> align_corners{"align_corners"};
    // output: (x, y, [z,] c, n), PyTorch's (N, C, [Do,] Ho, Wo) reversed; any strides.
    Output<Buffer<>> output{"output"};

    void configure() {
        const int d = spatial_dims;
        input.set_type(dtype);
        input.set_dimensions(d + 2);
        grid.set_type(dtype);
        grid.set_dimensions(d + 2);
        output.set_type(dtype);
        output.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = dtype;
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";

        for (int k = 0; k < d; k++) {
            space.push_back(Var("s" + std::to_string(k)));
            axes.push_back(make_axis(t, input.dim(k).extent(), align_corners));
        }
        // Arguments of a per-point Func: the output point without its channel.
        std::vector<Var> point = space;
        point.push_back(n);
        // Arguments of the output: (space..., c, n).
        std::vector<Var> out_args = space;
        out_args.push_back(c);
        out_args.push_back(n);

        // The grid component k at an output point.
        auto grid_at = [&](int k) {
            std::vector<Expr> args{k};
            for (const Var &v : space) args.push_back(v);
            args.push_back(n);
            return grid(args);
        };
        // The input value at integer indices (one per axis), already inside the input.
        auto input_at = [&](const std::vector<Expr> &idx) {
            std::vector<Expr> args(idx.begin(), idx.end());
            args.push_back(c);
            args.push_back(n);
            return input(args);
        };

        // Per axis: the taps (S4 bilinear/trilinear: 2, S5 nearest: 1, S6 bicubic: 4), each with
        // the index to load, whether it is in range, and its 1-D weight.
        std::vector<AxisTaps> taps_of(d);
        for (int k = 0; k < d; k++) {
            const Axis &a = axes[k];
            AxisTaps &at = taps_of[k];
            Expr x = unnormalize(grid_at(k), a);
            if (mode == Interpolation::nearest) {
                // S5: round half to even (Halide's round) of the padded coordinate.
                Expr i = cast<int>(strict_float(round(pad_coordinate(x, a, padding))));
                at.add(pad_tap(i, a, Padding::zeros, align_corners), Expr());
                continue;
            }
            Expr centre = mode == Interpolation::bilinear ? pad_coordinate(x, a, padding)
                                                          : bicubic_centre(x, a, padding);
            Expr floor_x = strict_float(floor(centre));
            Expr frac = strict_float(centre - floor_x);
            Expr i0 = cast<int>(floor_x);
            if (mode == Interpolation::bilinear) {
                // S4: taps i0 and i0 + 1 with weights 1 - t and t, each bounds-checked on its
                // own. border/reflection keep i0 in range; i0 + 1 may still fall out at S - 1.
                Tap tap0 = pad_tap(i0, a, Padding::zeros, align_corners);
                if (padding != Padding::zeros) tap0.in_range = always();
                at.add(tap0, constant(t, 1) - frac);
                at.add(pad_tap(i0 + 1, a, Padding::zeros, align_corners), frac);
            } else {
                // S6: padding applies to each of the four integer taps.
                std::array<Expr, 4> w = cubic_weights(frac);
                for (int j = 0; j < 4; j++) {
                    at.add(pad_tap(i0 + (j - 1), a, padding, align_corners), w[j]);
                }
            }
        }
        // Everything per output point is computed once in `taps` and reused for every channel.
        materialize_per_point(taps_of, point);

        Expr result;
        if (mode == Interpolation::bicubic) {
            // Separable, rows along x first, then along y (S6), as PyTorch does.
            const AxisTaps &tx = taps_of[0], &ty = taps_of[1];
            for (int jy = 0; jy < 4; jy++) {
                Expr row;
                for (int jx = 0; jx < 4; jx++) {
                    Expr v = select(tx.in_range[jx] && ty.in_range[jy],
                                    input_at({tx.index[jx], ty.index[jy]}), constant(t, 0));
                    row = accumulate(row, tx.weight[jx] * v);
                }
                result = accumulate(result, ty.weight[jy] * row);
            }
        } else {
            // Bilinear/trilinear: 2^d corners, weight = product of 1-D weights (S4).
            // Nearest: the single rounded tap (S5).
            const int taps_per_axis = (int)taps_of[0].index.size();
            const int corners = 1 << (d * (taps_per_axis - 1));
            for (int corner = 0; corner < corners; corner++) {
                std::vector<Expr> idx;
                Expr in_range = always();
                Expr weight;
                for (int k = 0; k < d; k++) {
                    const int j = (corner >> k) & 1;
                    idx.push_back(taps_of[k].index[j]);
                    in_range = in_range && taps_of[k].in_range[j];
                    if (taps_of[k].weight[j].defined()) weight = accumulate_product(weight, taps_of[k].weight[j]);
                }
                Expr v = select(in_range, input_at(idx), constant(t, 0));
                result = accumulate(result, weight.defined() ? weight * v : v);
            }
        }
        output(out_args) = result;
    }

    void schedule() {
        const int d = spatial_dims;
        // Estimates, for the autoschedulers and RunGen: a 2-D 8x64x128x128 feature map or a
        // 3-D 1x16x64x64x64 volume, sampled at its own resolution.
        std::vector<std::pair<int, int>> est = d == 2
            ? std::vector<std::pair<int, int>>{{0, 128}, {0, 128}, {0, 64}, {0, 8}}
            : std::vector<std::pair<int, int>>{{0, 64}, {0, 64}, {0, 64}, {0, 16}, {0, 1}};
        Region in_est, out_est, grid_est{{0, d}};
        for (auto [lo, ext] : est) {
            in_est.push_back({lo, ext});
            out_est.push_back({lo, ext});
        }
        for (int k = 0; k < d; k++) grid_est.push_back(out_est[k]);
        grid_est.push_back(out_est.back());
        input.set_estimates(in_est);
        grid.set_estimates(grid_est);
        align_corners.set_estimate(false);
        output.set_estimates(out_est);

        // Every layout is accepted (S8b): no dense innermost dimension is assumed.
        for (int k = 0; k < d + 2; k++) {
            input.dim(k).set_stride(Expr());
            grid.dim(k).set_stride(Expr());
            output.dim(k).set_stride(Expr());
        }

        if (using_autoscheduler()) return;
        schedule_cpu();
    }

private:
    // The taps of one axis: parallel lists, one entry per tap.
    struct AxisTaps {
        std::vector<Expr> index, in_range, weight;
        void add(const Tap &tap, const Expr &w) {
            index.push_back(tap.index);
            in_range.push_back(tap.in_range);
            weight.push_back(w);
        }
    };

    static Expr accumulate(const Expr &sum, const Expr &term) {
        return sum.defined() ? sum + term : term;
    }
    static Expr accumulate_product(const Expr &product, const Expr &factor) {
        return product.defined() ? product * factor : factor;
    }

    // Moves every non-constant per-point Expr of `taps_of` into the Func `taps` (one tuple
    // element each) and replaces it with a load from there.
    void materialize_per_point(std::vector<AxisTaps> &taps_of, const std::vector<Var> &point) {
        std::vector<Expr *> slots;
        for (AxisTaps &at : taps_of) {
            for (auto *list : {&at.index, &at.in_range, &at.weight}) {
                for (Expr &e : *list) {
                    if (e.defined() && !Internal::is_const(e)) slots.push_back(&e);
                }
            }
        }
        // Flags are stored as uint8 (Funcs hold no bool elements).
        std::vector<Expr> values;
        for (Expr *e : slots) values.push_back(e->type().is_bool() ? cast<uint8_t>(*e) : *e);
        taps = Func("taps");
        taps(point) = Tuple(values);
        for (size_t i = 0; i < slots.size(); i++) {
            Expr stored = values.size() == 1 ? Expr(taps(point)) : Expr(taps(point)[i]);
            *slots[i] = slots[i]->type().is_bool() ? stored != 0 : stored;
        }
    }

    Var c{"c"}, n{"n"};
    std::vector<Var> space;
    std::vector<Axis> axes;
    Func taps;

    // CPU: parallel over output rows (fused with the outer spatial dims and the batch), so a
    // batch of 1 uses every core; vectorized along x. The taps of a row are computed once and
    // reused by every channel.
    void schedule_cpu() {
        const int d = spatial_dims;
        const int vec = natural_vector_size(Type(dtype));
        Var x = space[0];
        Func out = output;

        // Loop nest, outermost first: n, [z,] y (fused, parallel), c, x (vectorized).
        std::vector<VarOrRVar> order{x, c};
        for (int k = 1; k < d; k++) order.push_back(space[k]);
        order.push_back(n);
        out.reorder(order);
        Var fused = n;
        for (int k = d - 1; k >= 1; k--) {
            Var rows("rows_" + std::to_string(k));
            out.fuse(space[k], fused, rows);
            fused = rows;
        }
        out.parallel(fused).vectorize(x, vec, TailStrategy::GuardWithIf);

        taps.compute_at(out, fused).vectorize(space[0], vec, TailStrategy::GuardWithIf);
    }
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::GridSample, grid_sample)
