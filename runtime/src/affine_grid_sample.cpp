// affine_grid_sample: grid_sample through affine_grid without storing the grid. Validation (S8
// for the input and options, affine_grid's rules for theta) and dispatch to the compiled variant.
#include "internal.h"

#include "kernel_headers.inc"

namespace gridsample {
namespace {

using namespace detail;

using AffineGridSampleKernel = int (*)(void const*, halide_buffer_t*, halide_buffer_t*, bool,
                                       halide_buffer_t*);

struct AffineGridSampleVariant {
    int spatial_dims;
    Interpolation mode;
    Padding padding;
    DType dtype;
    DType theta_dtype;  // the tensors' own, or float32 for the storage types' (S10)
    AffineGridSampleKernel by_isa[kCpuIsaCount];
    AffineGridSampleKernel by_gpu[kGpuBackendCount];
};

constexpr AffineGridSampleVariant kVariants[] = {
    {0, {}, {}, {}, {}, {}, {}},  // matches no call (not_compiled, internal.h)
#define GRIDSAMPLE_VARIANT_affine_grid_sample(name, dims, mode, padding, dtype, theta_dtype) \
    {dims, mode, padding, dtype, theta_dtype, GRIDSAMPLE_BY_ISA(name), GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};

Status check_affine_grid_sample(const TensorView& input, const TensorView& theta,
                                const TensorView& output, const Options& options) {
    if (Status s = check_sampled_input(input, options); !s.ok()) return s;
    const int rank = input.rank;
    const int dims = rank - 2;
    const int64_t expected_theta[3] = {input.sizes[0], dims, dims + 1};
    if (Status s = check_tensor(theta, "theta", 3, 3,
                                dims == 2 ? "a 3-D (N, 2, 3) tensor for 4-D input"
                                          : "a 3-D (N, 3, 4) tensor for 5-D input");
        !s.ok()) {
        return s;
    }
    for (int i = 0; i < 3; i++) {
        if (theta.sizes[i] != expected_theta[i]) {
            return invalid("theta: expected shape " + shape_string(expected_theta, 3) +
                           " for input of shape " + shape_string(input) + ", got " +
                           shape_string(theta));
        }
    }
    if (Status s = check_coordinate_dtype(input, theta, "theta"); !s.ok()) return s;
    // The output's spatial sizes are free (they are affine_grid's size); N and C are the input's.
    if (Status s = check_tensor(output, "output", rank, rank,
                                dims == 2 ? "a 4-D (N, C, Ho, Wo) tensor for 4-D input"
                                          : "a 5-D (N, C, Do, Ho, Wo) tensor for 5-D input");
        !s.ok()) {
        return s;
    }
    int64_t expected[kMaxRank];
    for (int i = 0; i < rank; i++) expected[i] = i < 2 ? input.sizes[i] : output.sizes[i];
    if (Status s = check_result_tensor(output, "output", "", input, expected); !s.ok()) return s;
    if (Status s = check_devices({{&input, "input"}, {&theta, "theta"}, {&output, "output"}});
        !s.ok()) {
        return s;
    }
    return check_output_memory(output, "output", {{&input, "input"}, {&theta, "theta"}});
}

// The storage types (S10) on the CPU: affine_grid in float32 (from theta converted exactly to
// float32) into a grid of one batch item at a time, then grid_sample's storage-type kernel on it.
// Bit for bit the two calls, as the fused kernels are; the grid costs Do x Ho x Wo x k float32 of
// memory. (The GPUs have fused storage-type kernels.)
Status affine_grid_sample_storage(const TensorView& input, const TensorView& theta,
                                  const TensorView& output, const Options& options) {
    Placement placement;
    if (Status s = place_call(input.device, input.dtype, options.stream, "affine_grid_sample",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    DenseCopy theta_f32;
    const TensorView* theta32 = &theta;
    if (theta.dtype != DType::float32) {
        if (Status s = convert_to_dense(placement, theta, DType::float32, theta_f32); !s.ok()) {
            return s;
        }
        theta32 = &theta_f32.view;
    }
    const int rank = input.rank, dims = rank - 2;
    int64_t size[kMaxRank] = {1, input.sizes[1]};
    int64_t grid_sizes[kMaxRank] = {1};
    for (int i = 2; i < rank; i++) size[i] = grid_sizes[i - 1] = output.sizes[i];
    grid_sizes[rank - 1] = dims;
    DenseCopy grid;
    if (Status s = allocate_dense(DType::float32, rank, grid_sizes,
                                  "affine_grid_sample's float32 grid of one batch item", grid);
        !s.ok()) {
        return s;
    }
    const TensorView& grid_view = grid.view;
    for (int64_t n = 0; n < input.sizes[0]; n++) {
        if (Status s = run_affine_grid(narrow(*theta32, 0, n, 1), size, rank, grid_view,
                                       options.align_corners, {});
            !s.ok()) {
            return s;
        }
        if (Status s = run_grid_sample(narrow(input, 0, n, 1), grid_view,
                                       narrow(output, 0, n, 1), options);
            !s.ok()) {
            return s;
        }
    }
    return Status::Ok();
}

}  // namespace

Status affine_grid_sample(const TensorView& input, const TensorView& theta,
                          const TensorView& output, const Options& options) {
    if (Status s = check_affine_grid_sample(input, theta, output, options); !s.ok()) return s;
    if (output.numel() == 0) return Status::Ok();
    if (Status s = check_selected("affine_grid_sample", "fused", input.rank - 2, &options.mode,
                                  &options.padding, input.dtype);
        !s.ok()) {
        return s;
    }
    const bool gpu = input.device.type != DeviceType::cpu;
    if (is_storage_type(input.dtype) && !gpu) {
        return affine_grid_sample_storage(input, theta, output, options);
    }
    const AffineGridSampleVariant* variant = nullptr;
    for (const AffineGridSampleVariant& v : kVariants) {
        if (v.spatial_dims == input.rank - 2 && v.mode == options.mode &&
            v.padding == options.padding && v.dtype == input.dtype &&
            v.theta_dtype == theta.dtype) {
            variant = &v;
        }
    }
    if (variant == nullptr) {
        return not_compiled("affine_grid_sample", "fused", input.rank - 2, &options.mode,
                            &options.padding, input.dtype);
    }
    // theta is (N, k, k + 1): a "points" argument, cut by batch items only. The output's spatial
    // sizes, which the grid is computed from, are the same in every chunk.
    Placement placement;  // one CPU level or device for every chunk
    if (Status s = place_call(input.device, input.dtype, options.stream, "affine_grid_sample",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    placement.isa = tuned_forward_isa(placement.isa, options.mode, input, output,
                                      variant->by_isa[static_cast<int>(CpuIsa::avx512)] != nullptr);
    KernelArg args[] = {{input, "input", ArgLayout::features},
                        {theta, "theta", ArgLayout::points},
                        {output, "output", ArgLayout::features}};
    return for_each_kernel_chunk(args, 3, /*split_channels=*/true, Indexing::narrow,
                                 [&](const TensorView* chunk) {
        HalideBuffer in(chunk[0]), t(chunk[1]), out(chunk[2]);
        return run_kernel_at(placement, "affine_grid_sample", variant->by_isa, variant->by_gpu,
                             in.get(), t.get(), options.align_corners, out.get());
    });
}

}  // namespace gridsample
