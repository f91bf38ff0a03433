// affine_grid: validation and dispatch to the compiled variant for (spatial dims, dtype).
#include "internal.h"

#include "kernel_headers.inc"

namespace gridsample {
namespace {

using namespace detail;

using AffineGridKernel = int (*)(void const*, halide_buffer_t*, bool, halide_buffer_t*);

struct AffineGridVariant {
    int spatial_dims;
    DType dtype;
    AffineGridKernel by_isa[kCpuIsaCount];
    AffineGridKernel by_gpu[kGpuBackendCount];
};

constexpr AffineGridVariant kVariants[] = {
    {0, {}, {}, {}},  // matches no call (not_compiled, internal.h)
#define GRIDSAMPLE_VARIANT_affine_grid(name, dims, dtype) \
    {dims, dtype, GRIDSAMPLE_BY_ISA(name), GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};

Status check_affine_grid(const TensorView& theta, const int64_t* size, int32_t size_len,
                         const TensorView& grid) {
    if (size == nullptr || (size_len != 4 && size_len != 5)) {
        return invalid("size: expected 4 entries (N, C, H, W) or 5 entries (N, C, D, H, W), got " +
                       std::to_string(size == nullptr ? 0 : size_len));
    }
    for (int i = 0; i < size_len; i++) {
        if (size[i] < 0) {
            return invalid("size: entries must be non-negative, got " +
                           shape_string(size, size_len));
        }
    }
    const int dims = size_len - 2;
    if (Status s = check_tensor(theta, "theta", 3, 3,
                                dims == 2 ? "a 3-D (N, 2, 3) tensor" : "a 3-D (N, 3, 4) tensor");
        !s.ok()) {
        return s;
    }
    if (theta.sizes[0] != size[0] || theta.sizes[1] != dims || theta.sizes[2] != dims + 1) {
        const int64_t expected[3] = {size[0], dims, dims + 1};
        return invalid("theta: expected shape " + shape_string(expected, 3) + " for size " +
                       shape_string(size, size_len) + ", got " + shape_string(theta));
    }
    if (Status s = check_tensor(grid, "grid", size_len, size_len,
                                dims == 2 ? "a 4-D (N, H, W, 2) tensor"
                                          : "a 5-D (N, D, H, W, 3) tensor");
        !s.ok()) {
        return s;
    }
    if (theta.dtype == DType::uint8) {
        return invalid("theta: uint8 is for images (S10); theta is float32, float64, float16 or "
                       "bfloat16");
    }
    if (grid.dtype != theta.dtype) {
        return invalid(std::string("grid: expected dtype ") + to_string(theta.dtype) +
                       " (theta's), got " + to_string(grid.dtype));
    }
    int64_t expected[kMaxRank] = {size[0]};
    for (int i = 1; i <= dims; i++) expected[i] = size[i + 1];
    expected[dims + 1] = dims;
    for (int i = 0; i < size_len; i++) {
        if (grid.sizes[i] != expected[i]) {
            return invalid("grid: expected shape " + shape_string(expected, size_len) +
                           " for size " + shape_string(size, size_len) + ", got " +
                           shape_string(grid));
        }
    }
    if (Status s = check_devices({{&theta, "theta"}, {&grid, "grid"}}); !s.ok()) return s;
    return check_output_memory(grid, "grid", {{&theta, "theta"}});
}

// float16 and bfloat16 (S10) on the CPU: theta converted exactly to float32, the grid of one
// batch item at a time computed in float32 and rounded once to the grid's type. (The GPUs have
// kernels of these types, which do the same in one pass.)
Status affine_grid_storage(const TensorView& theta, const int64_t* size, int32_t size_len,
                           const TensorView& grid, bool align_corners) {
    Placement placement;
    if (Status s = place_call(theta.device, theta.dtype, {}, "affine_grid",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    DenseCopy theta_f32;
    if (Status s = convert_to_dense(placement, theta, DType::float32, theta_f32); !s.ok()) {
        return s;
    }
    int64_t one_size[kMaxRank];
    for (int i = 0; i < size_len; i++) one_size[i] = i == 0 ? 1 : size[i];
    const TensorView first = narrow(grid, 0, 0, 1);
    DenseCopy grid_f32;
    if (Status s = allocate_dense(DType::float32, grid.rank, first.sizes,
                                  "affine_grid's float32 grid of one batch item", grid_f32);
        !s.ok()) {
        return s;
    }
    const TensorView& grid32 = grid_f32.view;
    for (int64_t n = 0; n < grid.sizes[0]; n++) {
        if (Status s = run_affine_grid(narrow(theta_f32.view, 0, n, 1), one_size, size_len,
                                       grid32, align_corners, {});
            !s.ok()) {
            return s;
        }
        if (Status s = convert_elements(placement, grid32, narrow(grid, 0, n, 1)); !s.ok()) {
            return s;
        }
    }
    return Status::Ok();
}

}  // namespace

namespace detail {

Status run_affine_grid(const TensorView& theta, const int64_t* size, int32_t size_len,
                       const TensorView& grid, bool align_corners, const Stream& stream) {
    if (is_storage_type(theta.dtype) && theta.device.type == DeviceType::cpu) {
        return affine_grid_storage(theta, size, size_len, grid, align_corners);
    }
    const AffineGridVariant* variant = nullptr;
    for (const AffineGridVariant& v : kVariants) {
        if (v.spatial_dims == size_len - 2 && v.dtype == theta.dtype) variant = &v;
    }
    if (variant == nullptr) {
        return not_compiled("affine_grid", "affine_grid", size_len - 2, nullptr, nullptr,
                            theta.dtype);
    }
    Placement placement;  // one CPU level or device for every chunk
    if (Status s = place_call(theta.device, theta.dtype, stream, "affine_grid",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    KernelArg args[] = {{theta, "theta", ArgLayout::points}, {grid, "grid", ArgLayout::points}};
    // The GPU kernels index with 32 bits (generators/gpu/).
    const Indexing indexing = placement.gpu() ? Indexing::narrow : Indexing::wide;
    return for_each_kernel_chunk(args, 2, /*split_channels=*/false, indexing,
                                 [&](const TensorView* chunk) {
        HalideBuffer t(chunk[0]), g(chunk[1]);
        return run_kernel_at(placement, "affine_grid", variant->by_isa, variant->by_gpu, t.get(),
                             align_corners, g.get());
    });
}

}  // namespace detail

Status affine_grid(const TensorView& theta, const int64_t* size, int32_t size_len,
                   const TensorView& grid, bool align_corners, const Stream& stream) {
    if (Status s = check_affine_grid(theta, size, size_len, grid); !s.ok()) return s;
    if (grid.numel() == 0) return Status::Ok();
    if (Status s = check_selected("affine_grid", "affine_grid", size_len - 2, nullptr, nullptr,
                                  theta.dtype);
        !s.ok()) {
        return s;
    }
    return run_affine_grid(theta, size, size_len, grid, align_corners, stream);
}

Status affine_grid(const TensorView& theta, std::initializer_list<int64_t> size,
                   const TensorView& grid, bool align_corners, const Stream& stream) {
    return affine_grid(theta, size.begin(), static_cast<int32_t>(size.size()), grid,
                       align_corners, stream);
}

}  // namespace gridsample
