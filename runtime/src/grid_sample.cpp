// grid_sample: validation (S8) and dispatch to the compiled variant for
// (spatial dims, mode, padding, dtype). The sampling itself lives in generators/.
#include "internal.h"

#include "kernel_headers.inc"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gridsample {
namespace {

using namespace detail;

using GridSampleKernel = int (*)(void const*, halide_buffer_t*, halide_buffer_t*, bool,
                                 halide_buffer_t*);

struct GridSampleVariant {
    int spatial_dims;
    Interpolation mode;
    Padding padding;
    DType dtype;
    DType grid_dtype;  // the tensors' own, or float32 for the storage types' (S10)
    bool scattered;    // scheduled for scattered grids (scattered_grid below)
    GridSampleKernel by_isa[kCpuIsaCount];
    GridSampleKernel by_gpu[kGpuBackendCount];
};

// Every compiled variant (generated from cmake/GridsampleVariants.cmake).
constexpr GridSampleVariant kVariants[] = {
    {0, {}, {}, {}, {}, false, {}, {}},  // matches no call (not_compiled, internal.h)
#define GRIDSAMPLE_VARIANT_grid_sample(name, dims, mode, padding, dtype, grid_dtype, scattered) \
    {dims, mode, padding, dtype, grid_dtype, scattered, GRIDSAMPLE_BY_ISA(name),              \
     GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};

// The variant for a call whose grid has dtype `grid_dtype`, on the CPU or a GPU. A storage type's
// CPU kernels take a float32 grid (a 16-bit grid is converted first); its GPU kernels read either
// grid type. For a scattered grid, the variant scheduled for one where the build has it.
const GridSampleVariant* find_variant(int dims, const Options& o, DType dtype, DType grid_dtype,
                                      bool gpu, bool scattered) {
    const DType kernel_grid = is_storage_type(dtype) && !gpu ? DType::float32 : grid_dtype;
    const GridSampleVariant* found = nullptr;
    for (const GridSampleVariant& v : kVariants) {
        if (v.spatial_dims == dims && v.mode == o.mode && v.padding == o.padding &&
            v.dtype == dtype && v.grid_dtype == kernel_grid &&
            (found == nullptr || v.scattered == scattered)) {
            found = &v;
        }
    }
    return found;
}

// Whether a 2-D grid's points scatter over the input, for the variants scheduled for such grids
// (generators/cpu/forward_schedule.h, kScatteredRows; 2-D bilinear float32 and float64 on x86).
// A block of the grid the size of a planar tile (16 x 64 points) in the middle of the first batch
// item is mapped to input pixels (S3), and the box of its taps, rows times cache lines along x,
// is compared with the most a tile's next-plane prefetch takes (512 lines,
// generators/cpu/channel_prefetch.h): beyond that, a tile's taps spread over most of a plane.
// The bench's affine grid gives boxes of about 150 lines on the 8x64x128x128 feature map; a
// uniformly random grid the whole plane, 1024 lines. Reads at most 1024 grid points.
bool scattered_grid(const TensorView& input, const TensorView& grid, bool align_corners) {
    if (input.rank != 4 || input.device.type != DeviceType::cpu ||
        (grid.dtype != DType::float32 && grid.dtype != DType::float64)) {
        return false;
    }
    constexpr int64_t kRows = 16, kCols = 64, kMaxLines = 512, kLine = 64;
    const int64_t height = input.sizes[2], width = input.sizes[3];
    const int64_t rows = std::min(grid.sizes[1], kRows), cols = std::min(grid.sizes[2], kCols);
    const int64_t y0 = (grid.sizes[1] - rows) / 2, x0 = (grid.sizes[2] - cols) / 2;
    const auto* base = static_cast<const unsigned char*>(grid.data);
    const int64_t bytes = element_size(grid.dtype);
    auto component = [&](int64_t y, int64_t x, int64_t k) {
        const int64_t at = y * grid.strides[1] + x * grid.strides[2] + k * grid.strides[3];
        if (grid.dtype == DType::float32) {
            float v;
            std::memcpy(&v, base + at * bytes, sizeof v);
            return static_cast<double>(v);
        }
        double v;
        std::memcpy(&v, base + at * bytes, sizeof v);
        return v;
    };
    // A pixel coordinate (S3, before padding), clamped to one pixel beyond the input.
    auto pixel = [&](double g, int64_t size) {
        const double p = align_corners ? (g + 1) / 2 * static_cast<double>(size - 1)
                                       : ((g + 1) * static_cast<double>(size) - 1) / 2;
        return std::clamp(std::floor(p), -1.0, static_cast<double>(size));
    };
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (int64_t r = y0; r < y0 + rows; r++) {
        for (int64_t c = x0; c < x0 + cols; c++) {
            const double gx = component(r, c, 0), gy = component(r, c, 1);
            if (!std::isfinite(gx) || !std::isfinite(gy)) continue;
            const double px = pixel(gx, width), py = pixel(gy, height);
            x_lo = std::min(x_lo, px), x_hi = std::max(x_hi, px);
            y_lo = std::min(y_lo, py), y_hi = std::max(y_hi, py);
        }
    }
    if (!(x_lo <= x_hi)) return false;
    // Bilinear taps reach one pixel on along each axis.
    const double lines = (y_hi - y_lo + 2) *
                         std::floor((x_hi - x_lo + 2) * static_cast<double>(element_size(input.dtype)) /
                                        kLine + 1);
    return lines > kMaxLines;
}

// S8: everything about the arguments of grid_sample, in the order a caller would fix them.
Status check_grid_sample(const TensorView& input, const TensorView& grid,
                         const TensorView& output, const Options& options) {
    if (Status s = check_sampling_problem(input, grid, options); !s.ok()) return s;
    int64_t expected[kMaxRank];
    sampled_shape(input, grid, expected);
    const char* hint = input.rank == 4 ? "a 4-D (N, C, Ho, Wo) tensor for 4-D input"
                                       : "a 5-D (N, C, Do, Ho, Wo) tensor for 5-D input";
    if (Status s = check_result_tensor(output, "output", hint, input, expected); !s.ok()) return s;
    if (Status s = check_devices({{&input, "input"}, {&grid, "grid"}, {&output, "output"}}); !s.ok()) {
        return s;
    }
    return check_output_memory(output, "output", {{&input, "input"}, {&grid, "grid"}});
}

// Output rows shorter than a tile of the forward schedule (64 points, default_forward_schedule in
// generators/grid_sample_forward.h) leave its vector loops mostly in their remainders: 256
// images of 28x28, bilinear, one thread, sampled 1.01 ms as 28-point rows and 0.43-0.50 ms as
// rows of 112 to 784 points (Sapphire Rapids VM, the generated kernel alone, min of 15 calls).
// An output point of grid_sample depends only on the grid at that point (S1), so where the grid's
// and the output's rows follow each other in memory (row stride = W x point stride), k rows of W
// points are sampled as one row of k x W points: same points, same bits, longer loops.
//
// k is the largest divisor of H with k x W <= 512 that keeps the parallel tasks (blocks of 16
// rows per batch item and slice, the schedule's rows_per_block for planar layouts) at 8 or more,
// or at as many as before where there were fewer.
void merge_short_rows(TensorView& grid, TensorView& output) {
    constexpr int64_t kTileWidth = 64, kMergedWidth = 512, kRowsPerTask = 16, kEnoughTasks = 8;
    const int rank = output.rank;
    const int oy = rank - 2, ox = rank - 1;  // output (N, C, [D,] H, W)
    const int gy = rank - 3, gx = rank - 2;  // grid (N, [D,] H, W, k)
    const int64_t width = output.sizes[ox], height = output.sizes[oy];
    if (width >= kTileWidth || height <= 1) return;
    if (output.strides[oy] != width * output.strides[ox] ||
        grid.strides[gy] != width * grid.strides[gx]) {
        return;
    }
    int64_t items = output.sizes[0];
    for (int i = 2; i < oy; i++) items *= output.sizes[i];  // 3-D: each slice is a task row
    auto tasks = [&](int64_t k) { return items * ((height / k + kRowsPerTask - 1) / kRowsPerTask); };
    const int64_t wanted = std::min(tasks(1), kEnoughTasks);
    int64_t best = 1;
    for (int64_t k = 2; k <= height && k * width <= kMergedWidth; k++) {
        if (height % k == 0 && tasks(k) >= wanted) best = k;
    }
    if (best == 1) return;
    output.sizes[ox] = grid.sizes[gx] = width * best;
    output.sizes[oy] = grid.sizes[gy] = height / best;
    output.strides[oy] *= best;
    grid.strides[gy] *= best;
}

}  // namespace

namespace detail {

Status check_options(const Options& o) {
    const auto mode = static_cast<int32_t>(o.mode);
    const auto padding = static_cast<int32_t>(o.padding);
    if (mode < 0 || mode > 2) {
        return invalid("options.mode: invalid value " + std::to_string(mode) +
                       " (expected 0 = bilinear, 1 = nearest, 2 = bicubic)");
    }
    if (padding < 0 || padding > 2) {
        return invalid("options.padding: invalid value " + std::to_string(padding) +
                       " (expected 0 = zeros, 1 = border, 2 = reflection)");
    }
    return Status::Ok();
}

Status check_sampled_input(const TensorView& input, const Options& options) {
    if (Status s = check_options(options); !s.ok()) return s;
    if (Status s = check_tensor(input, "input", 4, 5,
                                "a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) tensor");
        !s.ok()) {
        return s;
    }
    for (int i = 2; i < input.rank; i++) {
        if (input.sizes[i] == 0) {
            return invalid("input: spatial dimensions must be non-empty, got shape " +
                           shape_string(input));
        }
    }
    if (options.mode == Interpolation::bicubic && input.rank == 5) {
        return invalid("options.mode: bicubic interpolation supports 4-D input only, got 5-D");
    }
    return Status::Ok();
}

Status check_sampling_problem(const TensorView& input, const TensorView& grid,
                              const Options& options) {
    if (Status s = check_sampled_input(input, options); !s.ok()) return s;
    const int rank = input.rank;
    const int dims = rank - 2;
    const std::string rank_text = std::to_string(rank) + "-D";
    const std::string grid_hint = dims == 2 ? "a 4-D (N, Ho, Wo, 2) tensor for 4-D input"
                                            : "a 5-D (N, Do, Ho, Wo, 3) tensor for 5-D input";
    if (Status s = check_tensor(grid, "grid", rank, rank, grid_hint.c_str()); !s.ok()) return s;
    if (grid.sizes[rank - 1] != dims) {
        return invalid("grid: expected last dimension " + std::to_string(dims) + " for " +
                       rank_text + " input, got " + std::to_string(grid.sizes[rank - 1]));
    }
    if (grid.sizes[0] != input.sizes[0]) {
        return invalid("grid: expected batch size " + std::to_string(input.sizes[0]) +
                       " (the input's), got " + std::to_string(grid.sizes[0]));
    }
    return check_coordinate_dtype(input, grid, "grid");
}

Status check_coordinate_dtype(const TensorView& input, const TensorView& t, const char* name) {
    // S10: the input's dtype, or float32 under a storage type; uint8 takes float32 only.
    const std::string n = name;
    if (input.dtype == DType::uint8 && t.dtype != DType::float32) {
        return invalid(n + ": expected dtype float32 for uint8 input, got " + to_string(t.dtype));
    }
    if (t.dtype != input.dtype && !(is_storage_type(input.dtype) && t.dtype == DType::float32)) {
        return invalid(n + ": expected dtype " + to_string(input.dtype) +
                       (is_storage_type(input.dtype) ? " (the input's) or float32, got "
                                                     : " (the input's), got ") +
                       to_string(t.dtype));
    }
    return Status::Ok();
}

void sampled_shape(const TensorView& input, const TensorView& grid, int64_t* shape) {
    shape[0] = input.sizes[0];
    shape[1] = input.sizes[1];
    for (int i = 2; i < input.rank; i++) shape[i] = grid.sizes[i - 1];
}

Status check_result_tensor(const TensorView& t, const char* name, const char* rank_hint,
                           const TensorView& input, const int64_t* expected) {
    return check_result_tensor(t, name, rank_hint, input, expected, input.dtype, "the input's");
}

Status check_result_tensor(const TensorView& t, const char* name, const char* rank_hint,
                           const TensorView& input, const int64_t* expected, DType dtype,
                           const char* whose) {
    const int rank = input.rank;
    const std::string n = name;
    if (Status s = check_tensor(t, name, rank, rank, rank_hint); !s.ok()) return s;
    if (t.dtype != dtype) {
        return invalid(n + ": expected dtype " + to_string(dtype) + " (" + whose + "), got " +
                       to_string(t.dtype));
    }
    for (int i = 0; i < rank; i++) {
        if (t.sizes[i] != expected[i]) {
            return invalid(n + ": expected shape " + shape_string(expected, rank) + ", got " +
                           shape_string(t));
        }
    }
    return Status::Ok();
}

Status run_grid_sample(const TensorView& input, const TensorView& grid, const TensorView& output,
                       const Options& options) {
    const bool gpu = input.device.type != DeviceType::cpu;
    const GridSampleVariant* variant =
        find_variant(input.rank - 2, options, input.dtype, grid.dtype, gpu, false);
    // The grid is looked at only where the build has a scattered-grid twin of the variant.
    if (const GridSampleVariant* twin =
            find_variant(input.rank - 2, options, input.dtype, grid.dtype, gpu, true);
        !gpu && twin != variant && scattered_grid(input, grid, options.align_corners)) {
        variant = twin;
    }
    if (variant == nullptr) {
        return not_compiled("grid_sample", "forward", input.rank - 2, &options.mode,
                            &options.padding, input.dtype);
    }
    Placement placement;  // one CPU level or device for every chunk
    if (Status s = place_call(input.device, input.dtype, options.stream, "grid_sample",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    placement.isa = tuned_forward_isa(placement.isa, options.mode, input, output,
                                      variant->by_isa[static_cast<int>(CpuIsa::avx512)] != nullptr);
    KernelArg args[] = {{input, "input", ArgLayout::features},
                        {grid, "grid", ArgLayout::points},
                        {output, "output", ArgLayout::features}};
    return for_each_kernel_chunk(args, 3, /*split_channels=*/true, Indexing::narrow,
                                 [&](const TensorView* chunk) {
        // Merged per chunk: a chunk that fits 32-bit indexing still fits with its rows merged
        // (same elements, same spans). The GPU schedule has no tiles to fill.
        TensorView grid_rows = chunk[1], output_rows = chunk[2];
        // The storage types' CPU kernels take a float32 grid: a 16-bit one is converted first
        // (S10).
        DenseCopy grid_f32;
        if (grid_rows.dtype != variant->grid_dtype) {
            if (Status s = convert_to_dense(placement, grid_rows, DType::float32, grid_f32);
                !s.ok()) {
                return s;
            }
            grid_rows = grid_f32.view;
        }
        if (!placement.gpu()) merge_short_rows(grid_rows, output_rows);
        HalideBuffer in(chunk[0]), g(grid_rows), out(output_rows);
        return run_kernel_at(placement, "grid_sample", variant->by_isa, variant->by_gpu, in.get(),
                             g.get(), options.align_corners, out.get());
    });
}

}  // namespace detail

Status grid_sample(const TensorView& input, const TensorView& grid, const TensorView& output,
                   const Options& options) {
    if (Status s = check_grid_sample(input, grid, output, options); !s.ok()) return s;
    if (output.numel() == 0) return Status::Ok();  // N, C or an output size is 0 (S8)
    if (Status s = check_selected("grid_sample", "forward", input.rank - 2, &options.mode,
                                  &options.padding, input.dtype);
        !s.ok()) {
        return s;
    }
    return run_grid_sample(input, grid, output, options);
}

}  // namespace gridsample
