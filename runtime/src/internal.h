// Internal helpers of the runtime library (not installed).
#pragma once

#include "gridsample/gridsample.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>

namespace gridsample::detail {

// ---- strings.cpp -----------------------------------------------------------------------------
// "[2, 3, 5, 5]"
std::string shape_string(const int64_t* sizes, int rank);
std::string shape_string(const TensorView& t);
Status invalid(std::string message);
Status unsupported(std::string message);

// ---- build_options.cpp -----------------------------------------------------------------------
// `unsupported` for a call whose variant this build left out (GRIDSAMPLE_OPERATIONS and the other
// selection options): names the variant and the options, and values, that would compile it.
// `operation` is the GRIDSAMPLE_OPERATIONS value (forward, fused, affine_grid, backward); mode
// and padding are null for affine_grid. Every kernel table starts with an entry of spatial_dims 0,
// which no call matches, so that a table stays well-formed when a build leaves all of it out.
Status not_compiled(const char* function, const char* operation, int spatial_dims,
                    const Interpolation* mode, const Padding* padding, DType dtype);
// Ok when the build's selection holds the call's variant, not_compiled otherwise. The public
// functions ask it first: a selection may compile kernels beyond it (the storage types' CPU
// paths run on other operations' kernels, cmake/GridsampleVariants.cmake), and those stay
// internal.
Status check_selected(const char* function, const char* operation, int spatial_dims,
                      const Interpolation* mode, const Padding* padding, DType dtype);

// ---- validate.cpp ----------------------------------------------------------------------------
// The element type of a kernel buffer holding `dtype` (bfloat16: uint16, its bits).
halide_type_t halide_type(DType dtype);
// float16, bfloat16, uint8: stored in that type, computed in float32 (S10).
bool is_storage_type(DType dtype);

// S8, S8b checks of one tensor argument: known dtype, rank within [min_rank, max_rank] (the
// message uses `rank_hint`, e.g. "a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) tensor"), sizes and
// strides non-negative, a data pointer when non-empty, sizes within the kernels' 32-bit
// extents, and a memory span that can exist (for_each_kernel_chunk deals with large strides).
Status check_tensor(const TensorView& t, const char* name, int min_rank, int max_rank,
                    const char* rank_hint);

// The byte range [first, last] a non-empty tensor touches (valid after check_tensor).
struct ByteRange {
    Device device;
    uintptr_t space = 0;  // the OpenCL buffer (cl_mem) for OpenCL views, else 0
    uintptr_t first = 0, last = 0;
    bool empty = true;
    bool overlaps(const ByteRange& other) const;
};
ByteRange byte_range(const TensorView& t);

// S8: an output must not overlap itself (checked conservatively: dimensions sorted by stride must
// nest) nor any input (checked on byte ranges).
Status check_output_memory(const TensorView& out, const char* name,
                           std::initializer_list<std::pair<const TensorView*, const char*>> inputs);

// ---- grid_sample.cpp -------------------------------------------------------------------------
// S8 checks shared by grid_sample and its backward.
Status check_options(const Options& options);
// options and the input: rank, non-empty spatial sizes, bicubic in 2-D only.
Status check_sampled_input(const TensorView& input, const Options& options);
// check_sampled_input, then the grid and how it agrees: rank, last dimension, batch size, dtype.
Status check_sampling_problem(const TensorView& input, const TensorView& grid,
                              const Options& options);
// S10: the grid's (or theta's, named `name`) dtype for the input's: the same, or float32 under a
// storage type (uint8: float32 only).
Status check_coordinate_dtype(const TensorView& input, const TensorView& t, const char* name);
// grid_sample on validated, non-empty tensors, without the selection check (check_selected):
// for the paths that build on it (the storage types' fused call on the CPU).
Status run_grid_sample(const TensorView& input, const TensorView& grid, const TensorView& output,
                       const Options& options);
// The output shape S1 gives: (N, C, grid's spatial sizes...), input.rank entries.
void sampled_shape(const TensorView& input, const TensorView& grid, int64_t* shape);
// A tensor the call writes (or reads) whose shape is fixed by the problem: its rank (message
// hint `rank_hint`), the input's dtype and the `expected` sizes (input.rank entries).
Status check_result_tensor(const TensorView& t, const char* name, const char* rank_hint,
                           const TensorView& input, const int64_t* expected);
// The same with the dtype `dtype` expected, `whose` naming where it comes from ("the grid's").
Status check_result_tensor(const TensorView& t, const char* name, const char* rank_hint,
                           const TensorView& input, const int64_t* expected, DType dtype,
                           const char* whose);

// ---- affine_grid.cpp -------------------------------------------------------------------------
// affine_grid on validated, non-empty tensors, without the selection check (check_selected).
Status run_affine_grid(const TensorView& theta, const int64_t* size, int32_t size_len,
                       const TensorView& grid, bool align_corners, const Stream& stream);

// ---- halide_call.cpp -------------------------------------------------------------------------
// A TensorView as a halide_buffer_t: dimensions reversed (Halide's dim 0 is innermost). Extents
// and strides are 32-bit there (for_each_kernel_chunk makes the views fit); a view that does not
// fit gives a null get(), which the kernel refuses with an error instead of reading truncated
// strides.
// A view on a GPU is wrapped (device.cpp): host is null and the device handle is the view's
// memory, detached again when the HalideBuffer goes (it never frees the caller's memory).
struct HalideBuffer {
    halide_buffer_t buffer{};
    halide_dimension_t dims[kMaxRank]{};
    bool fits = true;
    DeviceType wrapped = DeviceType::cpu;
    explicit HalideBuffer(const TensorView& t);
    ~HalideBuffer();
    HalideBuffer(const HalideBuffer&) = delete;
    HalideBuffer& operator=(const HalideBuffer&) = delete;
    halide_buffer_t* get() { return fits ? &buffer : nullptr; }

private:
    void wrap_device(const TensorView& t);
};

// Per-call state handed to the kernels as Halide's user_context: the runtime's error handler
// writes the message here, whatever thread it runs on; a GPU call's hooks read the stream or
// queue (and context) it runs on (device.cpp).
struct CallContext {
    std::string error_message;
    Stream stream;
};

// Runs a compiled kernel (a callable taking the user_context) and turns its result into a
// Status. Installs the library's Halide error handler on first use, so Halide never aborts.
Status status_from_halide(const char* what, int result, const CallContext& context);
void install_halide_hooks();

// Installs Halide's host allocator for the kernels' intermediates (scratch_memory.cpp): large
// blocks reused from call to call, on huge pages. Called by install_halide_hooks().
void install_scratch_allocator();

// ---- cpu_dispatch.cpp ------------------------------------------------------------------------
// The variant to run now: the best the CPU supports, capped by set_max_cpu_isa(). Recorded for
// last_dispatched_cpu_isa().
CpuIsa select_cpu_isa();

// The level a forward call (grid_sample, affine_grid_sample) of `mode` on these tensors runs at,
// `isa` being select_cpu_isa()'s: `isa`, except on CPUs whose single-float gathers are slower than
// scalar loads (AMD's AVX-512 CPUs, cpu_dispatch.cpp), where float32 nearest sampling,
// channels-last RGB/RGBA images and the planar 2-D bilinear calls that the avx512 level samples
// channels-last run at avx512 instead of avx512_gather (set_cpu_tuning()), where the variant is
// compiled at avx512 (`compiled_at_avx512`; the scattered-grid variants are not).
// Every level gives the same bits, so this changes speed only.
CpuIsa tuned_forward_isa(CpuIsa isa, Interpolation mode, const TensorView& input,
                         const TensorView& output, bool compiled_at_avx512);

// Held shared by every kernel call (KernelCallLock) and exclusively by set_num_threads(), which
// may restart Halide's thread pool. set_num_threads() takes g_pool_gate first and keeps it until
// done; a kernel call passes the gate before taking its shared lock. So a pending
// set_num_threads() holds back new calls and gets its turn as soon as the running ones finish:
// a steady stream of calls from many threads cannot starve it (std::shared_mutex alone lets new
// readers in ahead of a waiting writer on glibc).
extern std::mutex g_pool_gate;
extern std::shared_mutex g_pool_lock;
class KernelCallLock {
public:
    KernelCallLock() {
        std::lock_guard<std::mutex> gate(g_pool_gate);
        g_pool_lock.lock_shared();
    }
    ~KernelCallLock() { g_pool_lock.unlock_shared(); }
    KernelCallLock(const KernelCallLock&) = delete;
    KernelCallLock& operator=(const KernelCallLock&) = delete;
};

// GRIDSAMPLE_BY_ISA(name): the compiled functions of one variant, indexed by CpuIsa (null for a
// level this build leaves out, see GRIDSAMPLE_CPU_ISAS in cmake/GridsampleVariants.cmake);
// kCpuIsaCount; kCpuIsaCompiled[isa]. select_cpu_isa() only returns compiled levels.
#include "cpu_isas.inc"

// The level a variant runs at when `isa` is picked: `isa`, or the highest level below it that
// compiles the variant (the storage types are compiled at fewer levels than float32, see
// GRIDSAMPLE_STORAGE_CPU_ISAS). Recorded for last_dispatched_cpu_isa().
CpuIsa variant_cpu_isa(CpuIsa isa, const bool* compiled_at);

// Runs the function of `by_isa` for CPU level `isa` (a compiled one, from select_cpu_isa()), or
// the highest level below it that has the variant, with the given arguments after the
// user_context, and turns its result into a Status. Installs the library's Halide error handler
// on first use, so Halide never aborts.
template <typename Fn, typename... Args>
Status run_kernel_on(CpuIsa isa, const char* what, const Fn (&by_isa)[kCpuIsaCount],
                     Args... args) {
    install_halide_hooks();
    KernelCallLock pool;
    bool compiled_at[kCpuIsaCount];
    for (int i = 0; i < kCpuIsaCount; i++) compiled_at[i] = by_isa[i] != nullptr;
    const Fn fn = by_isa[static_cast<int>(variant_cpu_isa(isa, compiled_at))];
    CallContext context;
    const int result = fn(static_cast<void*>(&context), args...);
    return status_from_halide(what, result, context);
}

// run_kernel_on() for the CPU level select_cpu_isa() picks now.
template <typename Fn, typename... Args>
Status run_kernel(const char* what, const Fn (&by_isa)[kCpuIsaCount], Args... args) {
    return run_kernel_on(select_cpu_isa(), what, by_isa, args...);
}

// ---- device.cpp ------------------------------------------------------------------------------
// GRIDSAMPLE_BY_GPU(name): the GPU kernels of one variant, {cuda, opencl}, null where the build
// has no such backend; kGpuBackendCount; kGpuBackendCompiled[backend].
#include "gpu_backends.inc"
// The index of a GPU device type in GRIDSAMPLE_BY_GPU (cuda 0, opencl 1).
int gpu_backend(DeviceType type);
void install_device_hooks();

// S13: every tensor given (null entries are skipped) names a known device, and all the same one.
Status check_devices(std::initializer_list<std::pair<const TensorView*, const char*>> tensors);

// Where a call's kernels run: a CPU level, or a GPU device and the stream or queue (context
// resolved: the CUDA primary context, the library's OpenCL queue where the caller gave none).
struct Placement {
    Device device;
    CpuIsa isa = CpuIsa::baseline;
    Stream stream;
    bool gpu() const { return device.type != DeviceType::cpu; }
};
// After validation: picks the CPU level, or checks that the GPU device can run the call (backend
// compiled, driver, device, float64 and, for the deterministic grad_input, 64-bit atomics:
// `unsupported` naming what is missing) and resolves its stream.
Status place_call(const Device& device, DType dtype, const Stream& stream, const char* what,
                  bool needs_int64_atomics, Placement& placement);

// Calls fn(byte offset, bytes) for each run of contiguous elements of a non-empty view that does
// not overlap itself (validated), in order: the dimensions are merged from the innermost out while
// they are contiguous.
template <typename Fn>
void for_each_contiguous_run(const TensorView& t, Fn&& fn) {
    const int64_t element = element_size(t.dtype);
    int inner = t.rank;  // dimensions [inner, rank) form one run
    int64_t run = 1;     // elements in a run
    while (inner > 0 && (t.sizes[inner - 1] == 1 || t.strides[inner - 1] == run)) {
        run *= t.sizes[--inner];
    }
    int64_t index[kMaxRank] = {};
    const int64_t runs = t.numel() / run;
    for (int64_t r = 0; r < runs; r++) {
        int64_t offset = 0;
        for (int d = 0; d < inner; d++) offset += index[d] * t.strides[d];
        fn(offset * element, run * element);
        for (int d = inner - 1; d >= 0; d--) {
            if (++index[d] < t.sizes[d]) break;
            index[d] = 0;
        }
    }
}

// Writes 0 to every element of a (validated, non-overlapping) view on the placement's GPU device,
// asynchronously on its stream or queue: the gradients that receive nothing (C = 0, no output
// points), where the kernels would index empty tensors.
Status fill_zeros_on_device(const Placement& placement, const TensorView& t);

// Runs a variant's kernel where `placement` says: its CPU level from by_isa or its GPU backend
// from by_gpu, with the arguments after the user_context.
template <typename Fn, typename... Args>
Status run_kernel_at(const Placement& placement, const char* what,
                     const Fn (&by_isa)[kCpuIsaCount], const Fn (&by_gpu)[kGpuBackendCount],
                     Args... args) {
    if (!placement.gpu()) return run_kernel_on(placement.isa, what, by_isa, args...);
    install_halide_hooks();
    const Fn fn = by_gpu[gpu_backend(placement.device.type)];
    if (fn == nullptr) {
        return unsupported(std::string(what) + ": no " + to_string(placement.device.type) +
                           " kernel in this build");
    }
    CallContext context;
    context.stream = placement.stream;
    const int result = fn(static_cast<void*>(&context), args...);
    return status_from_halide(what, result, context);
}

// ---- convert_elements.cpp --------------------------------------------------------------------
// A dense (C-order) copy of a tensor in another element type, in memory it owns.
struct DenseCopy {
    std::unique_ptr<unsigned char[]> memory;
    TensorView view;
};
// Writes `source` converted to `dest`'s dtype into `dest` (same shape, validated, on the CPU,
// not overlapping) with the convert_elements kernels at the placement's CPU level (S10: exact
// where dest's type is wider, rounded once where narrower).
Status convert_elements(const Placement& placement, const TensorView& source,
                        const TensorView& dest);
// A dense tensor of `dtype` and the given sizes in memory `copy` owns (uninitialized);
// out_of_memory naming `what` when it cannot be allocated.
Status allocate_dense(DType dtype, int rank, const int64_t* sizes, const char* what,
                      DenseCopy& copy);
// The same into a dense tensor of dtype `to` in memory `copy` owns.
Status convert_to_dense(const Placement& placement, const TensorView& source, DType to,
                        DenseCopy& copy);

// ---- kernel_chunks.cpp -----------------------------------------------------------------------
// Tensors of any size through kernels whose halide_dimension_t holds 32-bit extents and strides.
// The backward and affine_grid kernels index memory with 64 bits (Halide's large_buffers); what
// limits them is a stride above 2^31 - 1 (a dimension of size 1 has its stride dropped) and their
// loops over rows, which fuse every dimension but x (and a grid's components) and count in 32
// bits. The forward kernels index with 32 bits (cmake/GridsampleVariants.cmake says why), so each
// of their calls must also stay within 2^31 - 1 elements, size x stride and largest offset per
// tensor. A call that does not fit is split into chunks of batch items, and where the kernel
// allows, of channels; anything else is refused with `unsupported`.
//
// A kernel argument: its view and what its dimensions are.
enum class ArgLayout {
    features,  // (N, C, spatial...): x innermost (input, output, grad_output, grad_input)
    points,    // (N, spatial..., k): k innermost, then x (grid, grad_grid; theta)
};
struct KernelArg {
    TensorView view;
    const char* name;
    ArgLayout layout;
};
// How a call is cut: batch items [n, n + batch_step) and channels [c, c + channel_step).
struct ChunkPlan {
    int64_t batch = 0, batch_step = 1;
    int64_t channels = 0, channel_step = 1;
};
// How a kernel indexes memory: `wide`, 64-bit (Halide's large_buffers: the backward and
// affine_grid), where only the 32-bit strides and row counts above limit a call; `narrow`, 32-bit
// (the forward kernels, see cmake/GridsampleVariants.cmake), where each chunk's tensors must also
// hold at most 2^31 - 1 elements and span at most 2^31 - 1 elements along each dimension.
enum class Indexing { wide, narrow };
Status plan_kernel_chunks(const KernelArg* args, int count, bool split_channels, Indexing indexing,
                          ChunkPlan& plan);
// t restricted to [start, start + size) along `dim`.
TensorView narrow(const TensorView& t, int dim, int64_t start, int64_t size);

// Calls run(chunk) once per chunk, in order, stopping at the first error; chunk[i] is args[i]
// narrowed to the chunk's batch items (and channels, for features when `split_channels`).
// Everything that fits (every tensor below 2^31 rows, with 32-bit strides) is one chunk: the
// arguments themselves. All args share the batch size, and the features args the channel count.
// A call split into several chunks that fails part way has written the chunks before (a kernel
// failure after validation is a bug or an allocation failure).
template <typename Run>
Status for_each_kernel_chunk(KernelArg* args, int count, bool split_channels, Indexing indexing,
                             Run&& run) {
    ChunkPlan plan;
    if (Status s = plan_kernel_chunks(args, count, split_channels, indexing, plan); !s.ok()) {
        return s;
    }
    // A cl_mem cannot be offset into: an OpenCL call runs whole or not at all.
    if (args[0].view.device.type == DeviceType::opencl &&
        (plan.batch_step < plan.batch || plan.channel_step < plan.channels)) {
        return unsupported(std::string(args[0].name) +
                           ": too large for one OpenCL kernel call (2^31 - 1 elements, spans and "
                           "offsets per tensor), and OpenCL buffers cannot be split");
    }
    constexpr int kMaxArgs = 4;
    if (count > kMaxArgs) return Status(StatusCode::internal, "too many kernel arguments");
    TensorView chunk[kMaxArgs];
    for (int64_t n = 0; n < plan.batch; n += plan.batch_step) {
        for (int64_t c = 0; c < plan.channels; c += plan.channel_step) {
            for (int i = 0; i < count; i++) {
                const TensorView& t = args[i].view;
                chunk[i] = narrow(t, 0, n, std::min(plan.batch_step, plan.batch - n));
                if (args[i].layout == ArgLayout::features && plan.channel_step < plan.channels) {
                    chunk[i] = narrow(chunk[i], 1, c, std::min(plan.channel_step, plan.channels - c));
                }
            }
            if (Status s = run(static_cast<const TensorView*>(chunk)); !s.ok()) return s;
        }
    }
    return Status::Ok();
}

}  // namespace gridsample::detail
