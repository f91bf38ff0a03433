// grid_sample_backward: validation (S8 plus the gradients' shapes) and dispatch to the compiled
// kernels of the gradients asked for: grid_sample_grad_input (the scatter-add) and
// grid_sample_grad_grid (the gather). The math lives in generators/.
#include "internal.h"

#include "kernel_headers.inc"

#include <cstring>

namespace gridsample {
namespace {

using namespace detail;

// grid_sample_grad_input(grad_output, grid, align_corners, grad_input)
using GradInputKernel = int (*)(void const*, halide_buffer_t*, halide_buffer_t*, bool,
                                halide_buffer_t*);
// grid_sample_grad_grid(grad_output, input, grid, align_corners, grad_grid)
using GradGridKernel = int (*)(void const*, halide_buffer_t*, halide_buffer_t*, halide_buffer_t*,
                               bool, halide_buffer_t*);

template <typename Kernel>
struct BackwardVariant {
    int spatial_dims;
    Interpolation mode;
    Padding padding;
    DType dtype;
    DType grid_dtype;  // the grid's and grad_grid's: the tensors' own, or float32 (S10)
    Kernel by_isa[kCpuIsaCount];
    Kernel by_gpu[kGpuBackendCount];
};

// Every compiled variant (generated from cmake/GridsampleVariants.cmake).
constexpr BackwardVariant<GradInputKernel> kGradInputVariants[] = {
    {0, {}, {}, {}, {}, {}, {}},  // matches no call (not_compiled, internal.h)
#define GRIDSAMPLE_VARIANT_grid_sample_grad_input(name, dims, mode, padding, dtype, grid_dtype) \
    {dims, mode, padding, dtype, grid_dtype, GRIDSAMPLE_BY_ISA(name), GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};
constexpr BackwardVariant<GradGridKernel> kGradGridVariants[] = {
    {0, {}, {}, {}, {}, {}, {}},  // matches no call (not_compiled, internal.h)
#define GRIDSAMPLE_VARIANT_grid_sample_grad_grid(name, dims, mode, padding, dtype, grid_dtype) \
    {dims, mode, padding, dtype, grid_dtype, GRIDSAMPLE_BY_ISA(name), GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};

template <typename Kernel, size_t N>
const BackwardVariant<Kernel>* find_variant(const BackwardVariant<Kernel> (&variants)[N], int dims,
                                            const Options& o, DType dtype, DType grid_dtype) {
    for (const BackwardVariant<Kernel>& v : variants) {
        if (v.spatial_dims == dims && v.mode == o.mode && v.padding == o.padding &&
            v.dtype == dtype && v.grid_dtype == grid_dtype) {
            return &v;
        }
    }
    return nullptr;
}

Status no_variant(const char* kernel, int dims, DType dtype, const Options& o) {
    return not_compiled(kernel, "backward", dims, &o.mode, &o.padding, dtype);
}

bool overlap(const TensorView& a, const TensorView& b) {
    return byte_range(a).overlaps(byte_range(b));
}

// S8 for the backward, in the order a caller would fix things: the forward's problem (options,
// input, grid), grad_output, which gradients are wanted, their shapes and dtypes, and then
// memory: a gradient must not overlap itself, an input or the other gradient.
Status check_backward(const TensorView& grad_output, const TensorView& input,
                      const TensorView& grid, const TensorView* grad_input,
                      const TensorView* grad_grid, const Options& options) {
    if (Status s = check_sampling_problem(input, grid, options); !s.ok()) return s;
    if (input.dtype == DType::uint8) {
        return invalid("input: uint8 tensors have no gradients (S10: uint8 is for the forward "
                       "calls only)");
    }
    const bool two_d = input.rank == 4;
    int64_t output_shape[kMaxRank];
    sampled_shape(input, grid, output_shape);
    if (Status s = check_result_tensor(grad_output, "grad_output",
                                       two_d ? "a 4-D (N, C, Ho, Wo) tensor for 4-D input"
                                             : "a 5-D (N, C, Do, Ho, Wo) tensor for 5-D input",
                                       input, output_shape);
        !s.ok()) {
        return s;
    }
    if (grad_input == nullptr && grad_grid == nullptr) {
        return invalid("grad_input, grad_grid: both are null; ask for at least one gradient");
    }
    if (grad_input != nullptr) {
        if (Status s = check_result_tensor(*grad_input, "grad_input",
                                           two_d ? "a 4-D (N, C, H, W) tensor for 4-D input"
                                                 : "a 5-D (N, C, D, H, W) tensor for 5-D input",
                                           input, input.sizes);
            !s.ok()) {
            return s;
        }
    }
    if (grad_grid != nullptr) {
        // grad_grid has the grid's dtype (S10: float32 under a storage-type input, or the same).
        if (Status s = check_result_tensor(*grad_grid, "grad_grid",
                                           two_d ? "a 4-D (N, Ho, Wo, 2) tensor for 4-D input"
                                                 : "a 5-D (N, Do, Ho, Wo, 3) tensor for 5-D input",
                                           input, grid.sizes, grid.dtype, "the grid's");
            !s.ok()) {
            return s;
        }
    }
    const std::pair<const TensorView*, const char*> inputs[] = {
        {&grad_output, "grad_output"}, {&input, "input"}, {&grid, "grid"}};
    for (const auto& [out, name] : {std::pair{grad_input, "grad_input"},
                                    std::pair{grad_grid, "grad_grid"}}) {
        if (out == nullptr) continue;
        if (Status s = check_output_memory(*out, name, {inputs[0], inputs[1], inputs[2]});
            !s.ok()) {
            return s;
        }
    }
    if (Status s = check_devices({{&grad_output, "grad_output"},
                                  {&input, "input"},
                                  {&grid, "grid"},
                                  {grad_input, "grad_input"},
                                  {grad_grid, "grad_grid"}});
        !s.ok()) {
        return s;
    }
    if (grad_input != nullptr && grad_grid != nullptr && overlap(*grad_input, *grad_grid)) {
        return invalid("grad_grid: memory overlaps grad_input (the two gradients must not share "
                       "memory)");
    }
    return Status::Ok();
}

// Writes 0 to every element of a (non-empty, validated) view, through its strides.
void fill_zeros(const TensorView& t) {
    for_each_contiguous_run(t, [&](int64_t offset, int64_t bytes) {
        std::memset(static_cast<unsigned char*>(t.data) + offset, 0, static_cast<size_t>(bytes));
    });
}

// The backward of validated tensors whose kernels exist as they are (their dtype is
// grad_output's; float32 and float64, and on a GPU float16 and bfloat16 too): the kernels of the
// gradients asked for. `input` is read only for grad_grid.
Status run_backward(const TensorView& grad_output, const TensorView& input,
                    const TensorView& grid, const TensorView* grad_input,
                    const TensorView* grad_grid, const Options& options) {
    const DType dtype = grad_output.dtype;
    const int dims = input.rank - 2;
    // A gradient with no elements needs no work. A non-empty one is written in full even where
    // nothing flows into it (no output points, or C = 0 for grad_grid): it is then all zeros.
    const bool want_input = grad_input != nullptr && grad_input->numel() > 0;
    const bool want_grid = grad_grid != nullptr && grad_grid->numel() > 0;
    const BackwardVariant<GradInputKernel>* input_variant = nullptr;
    const BackwardVariant<GradGridKernel>* grid_variant = nullptr;
    if (want_input) {
        input_variant = find_variant(kGradInputVariants, dims, options, dtype, grid.dtype);
        if (input_variant == nullptr) {
            return no_variant("grid_sample_grad_input", dims, dtype, options);
        }
    }
    if (want_grid) {
        grid_variant = find_variant(kGradGridVariants, dims, options, dtype, grid.dtype);
        if (grid_variant == nullptr) {
            return no_variant("grid_sample_grad_grid", dims, dtype, options);
        }
    }
    Placement placement;  // one CPU level or device for both kernels and every chunk
    if (Status s = place_call(input.device, dtype, options.stream, "grid_sample_backward",
                              /*needs_int64_atomics=*/want_input,
                              placement);
        !s.ok()) {
        return s;
    }
    // The kernels run only on non-empty tensors: grad_input's when there are output points,
    // grad_grid's when there are channels (below); otherwise the gradient is zero-filled.
    const TensorView &go = grad_output, &in = input, &g = grid;
    // The GPU kernels index with 32 bits (generators/gpu/), the CPU backward with 64.
    const Indexing indexing = placement.gpu() ? Indexing::narrow : Indexing::wide;
    // Channels are independent in grad_input's scatter: its calls may be split by channel.
    // grad_grid sums over channels: by batch item only. Both are planned before either runs, so
    // that a refusal writes nothing.
    KernelArg input_args[] = {{go, "grad_output", ArgLayout::features},
                              {g, "grid", ArgLayout::points},
                              {want_input ? *grad_input : TensorView(), "grad_input",
                               ArgLayout::features}};
    KernelArg grid_args[] = {{go, "grad_output", ArgLayout::features},
                             {in, "input", ArgLayout::features},
                             {g, "grid", ArgLayout::points},
                             {want_grid ? *grad_grid : TensorView(), "grad_grid",
                              ArgLayout::points}};
    // C = 0: grad_grid is a sum over no channels, zeros without a kernel (whose channel blocks
    // cannot be formed from empty tensors).
    const bool grid_kernel = want_grid && input.sizes[1] > 0;
    // No output points (an empty grad_output): grad_input receives nothing, zeros without a
    // kernel (the GPU kernels would index the empty tensor to size their fixed-point format).
    const bool input_kernel = want_input && grad_output.numel() > 0;
    ChunkPlan plan;
    if (input_kernel) {
        if (Status s = plan_kernel_chunks(input_args, 3, true, indexing, plan); !s.ok()) return s;
    }
    if (grid_kernel) {
        if (Status s = plan_kernel_chunks(grid_args, 4, false, indexing, plan); !s.ok()) return s;
    }
    auto zeros = [&](const TensorView& t) {
        if (placement.gpu()) return fill_zeros_on_device(placement, t);
        fill_zeros(t);
        return Status::Ok();
    };
    if (want_input && !input_kernel) {
        if (Status s = zeros(*grad_input); !s.ok()) return s;
    }
    if (input_kernel) {
        if (Status s = for_each_kernel_chunk(
                input_args, 3, /*split_channels=*/true, indexing,
                [&](const TensorView* chunk) {
                    HalideBuffer go_buf(chunk[0]), g_buf(chunk[1]), out(chunk[2]);
                    return run_kernel_at(placement, "grid_sample_grad_input",
                                         input_variant->by_isa, input_variant->by_gpu,
                                         go_buf.get(), g_buf.get(), options.align_corners,
                                         out.get());
                });
            !s.ok()) {
            return s;
        }
    }
    if (want_grid && !grid_kernel) return zeros(*grad_grid);
    if (grid_kernel) {
        return for_each_kernel_chunk(
            grid_args, 4, /*split_channels=*/false, indexing, [&](const TensorView* chunk) {
                HalideBuffer go_buf(chunk[0]), in_buf(chunk[1]), g_buf(chunk[2]), out(chunk[3]);
                return run_kernel_at(placement, "grid_sample_grad_grid", grid_variant->by_isa,
                                     grid_variant->by_gpu, go_buf.get(), in_buf.get(),
                                     g_buf.get(), options.align_corners, out.get());
            });
    }
    return Status::Ok();
}

// The backward of float16 and bfloat16 tensors on the CPU (S10; the GPUs have kernels of these
// types): grad_output, the grid (a 16-bit one) and, for grad_grid, the input are converted
// exactly to dense float32 copies; the float32 kernels accumulate both gradients in float32 into
// float32 scratch (grad_grid straight into a float32 grad_grid), and each gradient is rounded
// once into the caller's tensor. The same bits as kernels that read the storage type themselves
// and rounded at the end, at the cost of the copies: grad_output's and the gradients' elements
// in float32, and the input's for grad_grid.
Status backward_in_float32(const TensorView& grad_output, const TensorView& input,
                           const TensorView& grid, const TensorView* grad_input,
                           const TensorView* grad_grid, const Options& options) {
    const bool want_input = grad_input != nullptr && grad_input->numel() > 0;
    const bool want_grid = grad_grid != nullptr && grad_grid->numel() > 0;
    if (!want_input && !want_grid) return Status::Ok();
    Placement placement;
    if (Status s = place_call(input.device, input.dtype, options.stream, "grid_sample_backward",
                              /*needs_int64_atomics=*/false, placement);
        !s.ok()) {
        return s;
    }
    DenseCopy go32, in32, grid32, gi32, gg32;
    if (Status s = convert_to_dense(placement, grad_output, DType::float32, go32); !s.ok()) {
        return s;
    }
    TensorView in_view = input, grid_view = grid, gi_view, gg_view;
    if (want_grid) {
        if (Status s = convert_to_dense(placement, input, DType::float32, in32); !s.ok()) return s;
        in_view = in32.view;
    }
    if (grid.dtype != DType::float32) {
        if (Status s = convert_to_dense(placement, grid, DType::float32, grid32); !s.ok()) {
            return s;
        }
        grid_view = grid32.view;
    }
    if (want_input) {
        if (Status s = allocate_dense(DType::float32, input.rank, input.sizes,
                                      "a float32 grad_input", gi32);
            !s.ok()) {
            return s;
        }
        gi_view = gi32.view;
    }
    if (want_grid) {
        gg_view = *grad_grid;
        if (grad_grid->dtype != DType::float32) {
            if (Status s = allocate_dense(DType::float32, grid.rank, grid.sizes,
                                          "a float32 grad_grid", gg32);
                !s.ok()) {
                return s;
            }
            gg_view = gg32.view;
        }
    }
    if (Status s = run_backward(go32.view, in_view, grid_view, want_input ? &gi_view : nullptr,
                                want_grid ? &gg_view : nullptr, options);
        !s.ok()) {
        return s;
    }
    if (want_input) {
        if (Status s = convert_elements(placement, gi_view, *grad_input); !s.ok()) return s;
    }
    if (want_grid && gg32.memory != nullptr) return convert_elements(placement, gg_view, *grad_grid);
    return Status::Ok();
}

}  // namespace

Status grid_sample_backward(const TensorView& grad_output, const TensorView& input,
                            const TensorView& grid, const TensorView* grad_input,
                            const TensorView* grad_grid, const Options& options) {
    if (Status s = check_backward(grad_output, input, grid, grad_input, grad_grid, options);
        !s.ok()) {
        return s;
    }
    // A gradient with no elements needs no kernel (run_backward), so no selection either.
    const bool wanted = (grad_input != nullptr && grad_input->numel() > 0) ||
                        (grad_grid != nullptr && grad_grid->numel() > 0);
    if (Status s = wanted ? check_selected("grid_sample_backward", "backward", input.rank - 2,
                                           &options.mode, &options.padding, input.dtype)
                          : Status::Ok();
        !s.ok()) {
        return s;
    }
    if (is_storage_type(input.dtype) && input.device.type == DeviceType::cpu) {
        return backward_in_float32(grad_output, input, grid, grad_input, grad_grid, options);
    }
    return run_backward(grad_output, input, grid, grad_input, grad_grid, options);
}

}  // namespace gridsample
