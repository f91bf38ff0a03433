// Forward grid_sample (SEMANTICS.md S1..S8b, S10) for one (spatial dims, mode, padding, dtype,
// grid dtype).
// The variants compiled from this generator are listed in cmake/GridsampleVariants.cmake.
//
// generate() states the algorithm (algorithm/forward.h, with the helpers of sampling_math.h);
// schedule() picks the loop structure for the target: cpu/forward_schedule.h or
// gpu/forward_schedule.h. A schedule change never touches the math.
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

class GridSample : public Generator<GridSample> {
public:
    GeneratorParam<int> spatial_dims{"spatial_dims", 2, 2, 3};
    GeneratorParam<Interpolation> mode{"mode", Interpolation::bilinear, kInterpolationByName};
    GeneratorParam<Padding> padding{"padding", Padding::zeros, kPaddingByName};
    // The input's and output's element type, and the grid's (S10, algorithm/storage_types.h).
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
    // The CPU schedule for grids whose points scatter over the input (cpu/forward_schedule.h,
    // kScatteredRows): a variant of its own, which the runtime calls for such grids.
    GeneratorParam<bool> scattered_grid{"scattered_grid", false};

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
        input.set_type(buffer_type(dtype));
        input.set_dimensions(d + 2);
        grid.set_type(buffer_type(grid_type(dtype, grid_dtype)));
        grid.set_dimensions(d + 2);
        output.set_type(buffer_type(dtype));
        output.set_dimensions(d + 2);
    }

    void generate() {
        const int d = spatial_dims;
        _halide_user_assert(!(d == 3 && mode == Interpolation::bicubic))
            << "bicubic interpolation is 2-D only (S8)";
        std::vector<Expr> sizes;
        for (int k = 0; k < d; k++) sizes.push_back(input.dim(k).extent());
        const Type compute = compute_type(dtype), grid_t = grid_type(dtype, grid_dtype);
        forward = define_forward(
            d, mode, padding, compute, align_corners, sizes,
            [&](int k, const std::vector<Var> &point) {
                std::vector<Expr> args{k};
                args.insert(args.end(), point.begin(), point.end());
                return to_compute(grid(within_bounds(grid, args, using_autoscheduler())), grid_t,
                                  compute);
            },
            [&](const std::vector<Expr> &idx, const Var &c, const Var &n) {
                std::vector<Expr> args(idx.begin(), idx.end());
                args.push_back(c);
                args.push_back(n);
                // The taps are in range (clamped); the channel and the batch item are clamped.
                return to_compute(input(within_bounds(input, args, using_autoscheduler(), d)),
                                  dtype, compute);
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
        if (get_target().has_gpu_feature()) {
            schedule_forward_gpu(output, forward, gpu_channel_unroll);
        } else {
            schedule_cpu();
        }
    }

private:
    Forward forward;

    // Where the CPU kernels sample a channels-last copy of the input (cpu/forward_schedule.h);
    // nowhere on GPUs and under the autoschedulers, which schedule the plain algorithm.
    Expr channels_last_condition() {
        if (get_target().has_gpu_feature() || using_autoscheduler()) return Expr();
        return channels_last_copy(input, output, spatial_dims, mode,
                                  natural_vector_size(compute_type(dtype)), Type(dtype),
                                  get_target(), scattered_grid);
    }

    void schedule_cpu() {
        const int d = spatial_dims;
        // The common layout: unit strides along x everywhere and the grid's components
        // interleaved, for dense loads and stores.
        Expr dense_grid = grid.dim(0).stride() == 1 && grid.dim(1).stride() == d;
        Expr dense = input.dim(0).stride() == 1 && output.dim(0).stride() == 1 && dense_grid;
        // The channels-last specializations want the dense grid too: with its strides unknown,
        // the taps load its components lane by lane (an insert per lane) instead of as dense
        // vectors. Image 1x3x1080x1920 channels-last, avx512_gather level, one thread, the kernel
        // alone, median ratio of 4-8 shuffled rounds: bilinear 0.78 (4/4 rounds faster), bicubic
        // 0.93 (4/4), nearest 0.95-1.00. Other grid layouts take the strided branch.
        ForwardLayouts layouts = forward_layouts(input, output, d, dense, compact,
                                                 natural_vector_size(compute_type(dtype)));
        for (InterleavedLayout &layout : layouts.interleaved) {
            layout.condition = layout.condition && dense_grid;
        }
        if (layouts.channels_innermost.defined()) {
            layouts.channels_innermost = layouts.channels_innermost && dense_grid;
        }
        schedule_forward_cpu(output, forward, layouts,
                             forward_schedule(mode, rows_per_block, tile_width, interleaved_rows,
                                              interleaved_width, scattered_grid),
                             natural_vector_size(compute_type(dtype)), get_target());
        if (lowering_passes) add_forward_cpu_passes(get_pipeline(), output, forward, get_target());
    }
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::GridSample, grid_sample)
