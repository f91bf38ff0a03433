// Fused affine_grid + grid_sample for one (spatial dims, mode, padding, dtype, theta dtype):
// samples the input through the affine transform theta without materializing the grid. Every
// output point computes its grid value exactly as the affine_grid generator writes it
// (affine_component, strict, in the computation type), then samples exactly as grid_sample does
// (define_forward), so the result is bit for bit that of the two-step path. The storage types
// (S10) compute the grid in float32 from theta converted exactly, as their two-step path does.
// The variants are listed in cmake/GridsampleVariants.cmake.
#include "Halide.h"
#include "algorithm/forward.h"
#include "algorithm/storage_types.h"
#include "autoschedule/estimates.h"
#include "cpu/forward_schedule.h"
#include "gpu/forward_schedule.h"

#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class AffineGridSample : public Generator<AffineGridSample> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Interpolation> mode{"mode", Interpolation::bilinear, kInterpolationByName};
    GeneratorParam<Padding> padding{"padding", Padding::zeros, kPaddingByName};
    // The input's and output's element type, and theta's (S10, algorithm/storage_types.h).
    GeneratorParam<Type> dtype{"dtype", Float(32)};
    GeneratorParam<GridDType> grid_dtype{"grid_dtype", GridDType::same, kGridDTypeByName};
    // Tile knobs for experiments; 0 keeps the mode's default (cpu/forward_schedule.h).
    GeneratorParam<int> rows_per_block{"rows_per_block", 0};
    GeneratorParam<int> tile_width{"tile_width", 0};
    GeneratorParam<int> interleaved_rows{"interleaved_rows", 0};
    GeneratorParam<int> interleaved_width{"interleaved_width", 0};
    // GPU experiment knob: channels per unrolled step of a thread's channel loop (1: not unrolled;
    // gpu/forward_schedule.h).
    GeneratorParam<int> gpu_channel_unroll{"gpu_channel_unroll", 1, 1, 16};
    // Size over speed (GRIDSAMPLE_COMPACT_KERNELS; cpu/forward_schedule.h, forward_layouts).
    GeneratorParam<bool> compact{"compact", false};
    // Experiment knob: false leaves out the CPU schedule's lowering passes (add_forward_cpu_passes
    // in cpu/forward_schedule.h), so that the hand schedule can be timed as the scheduling
    // language alone states it, beside the autoschedulers' (experiments/autoschedulers/). The
    // passes keep every result bit for bit, so the output is the same either way.
    GeneratorParam<bool> lowering_passes{"lowering_passes", true};

    // input: (x, y, [z,] c, n), PyTorch's (N, C, [D,] H, W) reversed; any strides.
    Input<Buffer<>> input{"input"};
    // theta: (j, k, n), PyTorch's (N, d, d+1) reversed: row k maps (x, y, [z,] 1) to grid
    // component k. Any strides.
    Input<Buffer<>> theta{"theta"};
    Input<bool> align_corners{"align_corners"};
    // output: (x, y, [z,] c, n), PyTorch's (N, C, [Do,] Ho, Wo) reversed; any strides. Its
    // spatial size is the size affine_grid builds the grid for.
    Output<Buffer<>> output{"output"};

    void configure() {
        const int d = spatial_dims;
        input.set_type(buffer_type(dtype));
        input.set_dimensions(d + 2);
        theta.set_type(buffer_type(grid_type(dtype, grid_dtype)));
        theta.set_dimensions(3);
        output.set_type(buffer_type(dtype));
        output.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        const Type t = compute_type(dtype), theta_t = grid_type(dtype, grid_dtype);
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";
        std::vector<Expr> sizes;
        for (int k = 0; k < d; k++) sizes.push_back(input.dim(k).extent());
        forward = define_forward(
            d, mode, padding, t, align_corners, sizes,
            [&](int k, const std::vector<Var> &point) {
                std::vector<Expr> base;
                for (int j = 0; j < d; j++) {
                    base.push_back(affine_base_coordinate(point[j], output.dim(j).extent(),
                                                          align_corners, t));
                }
                base.push_back(constant(t, 1));
                std::vector<Expr> row;
                for (int j = 0; j <= d; j++) {
                    const Expr at = theta(within_bounds(theta, {j, k, point.back()},
                                                        using_autoscheduler()));
                    row.push_back(to_compute(at, theta_t, t));
                }
                return affine_component(row, base);
            },
            [&](const std::vector<Expr> &idx, const Var &c, const Var &n) {
                std::vector<Expr> args(idx.begin(), idx.end());
                args.push_back(c);
                args.push_back(n);
                // The taps are in range (clamped); the channel and the batch item are clamped.
                return to_compute(input(within_bounds(input, args, using_autoscheduler(), d)),
                                  dtype, t);
            },
            channels_last_condition(), autoschedule_form(using_autoscheduler(), get_target()),
            /*finite_input=*/storage_of(dtype) == Storage::uint8,
            /*float_remainder=*/!get_target().has_gpu_feature());
        std::vector<Expr> out_args(forward.space.begin(), forward.space.end());
        out_args.push_back(forward.c);
        out_args.push_back(forward.n);
        output(out_args) = to_storage(forward.value, dtype, get_target());
    }

    void schedule() {
        const int d = spatial_dims;
        // Estimates, for the autoschedulers and RunGen (autoschedule/estimates.h).
        const auto est = feature_estimates(d, autoscheduler_.value(), get_target());
        Region feature_est;
        for (auto [lo, ext] : est) feature_est.push_back({lo, ext});
        input.set_estimates(feature_est);
        theta.set_estimates({{0, d + 1}, {0, d}, feature_est.back()});
        align_corners.set_estimate(false);
        output.set_estimates(feature_est);

        // Every layout is accepted (S8b).
        for (int k = 0; k < d + 2; k++) {
            input.dim(k).set_stride(Expr());
            output.dim(k).set_stride(Expr());
        }
        for (int k = 0; k < 3; k++) theta.dim(k).set_stride(Expr());
        theta.dim(0).set_bounds(0, d + 1);
        theta.dim(1).set_bounds(0, d);

        if (using_autoscheduler()) return;
        if (get_target().has_gpu_feature()) {
            schedule_forward_gpu(output, forward, gpu_channel_unroll);
            return;
        }
        Expr dense = input.dim(0).stride() == 1 && output.dim(0).stride() == 1;
        ForwardLayouts layouts = forward_layouts(input, output, d, dense, compact,
                                                 natural_vector_size(compute_type(dtype)));
        schedule_forward_cpu(output, forward, layouts,
                             forward_schedule(mode, rows_per_block, tile_width, interleaved_rows,
                                              interleaved_width),
                             natural_vector_size(compute_type(dtype)), get_target());
        if (lowering_passes) add_forward_cpu_passes(get_pipeline(), output, forward, get_target());
    }

private:
    Forward forward;

    // Where the CPU kernels sample a channels-last copy of the input (cpu/forward_schedule.h);
    // nowhere on GPUs and under the autoschedulers, which schedule the plain algorithm.
    Expr channels_last_condition() {
        if (get_target().has_gpu_feature() || using_autoscheduler()) return Expr();
        return channels_last_copy(input, output, spatial_dims, mode,
                                  natural_vector_size(compute_type(dtype)), Type(dtype),
                                  get_target());
    }
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::AffineGridSample, affine_grid_sample)
