// Internal helpers of the runtime library (not installed).
#pragma once

#include "gridsample/gridsample.h"

#include <HalideRuntime.h>

#include <initializer_list>
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

// ---- validate.cpp ----------------------------------------------------------------------------
int64_t element_size(DType dtype);

// S8, S8b checks of one tensor argument: known dtype, rank within [min_rank, max_rank] (the
// message uses `rank_hint`, e.g. "a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) tensor"), sizes and
// strides non-negative, a data pointer when non-empty, and extents, strides and the memory span
// within what the compiled kernels index (Halide's 32-bit buffer limits).
Status check_tensor(const TensorView& t, const char* name, int min_rank, int max_rank,
                    const char* rank_hint);

// The byte range [first, last] a non-empty tensor touches (valid after check_tensor).
struct ByteRange {
    uintptr_t first = 0, last = 0;
    bool empty = true;
};
ByteRange byte_range(const TensorView& t);

// S8: an output must not overlap itself (checked conservatively: dimensions sorted by stride must
// nest) nor any input (checked on byte ranges).
Status check_output_memory(const TensorView& out, const char* name,
                           std::initializer_list<std::pair<const TensorView*, const char*>> inputs);

// ---- grid_sample.cpp -------------------------------------------------------------------------
// S8 checks shared by grid_sample and its backward.
Status check_options(const Options& options);
// options, input, grid and how they agree: ranks, the grid's last dimension, batch sizes,
// non-empty input spatial sizes, bicubic in 2-D only, the grid's dtype.
Status check_sampling_problem(const TensorView& input, const TensorView& grid,
                              const Options& options);
// The output shape S1 gives: (N, C, grid's spatial sizes...), input.rank entries.
void sampled_shape(const TensorView& input, const TensorView& grid, int64_t* shape);
// A tensor the call writes (or reads) whose shape is fixed by the problem: its rank (message
// hint `rank_hint`), the input's dtype and the `expected` sizes (input.rank entries).
Status check_result_tensor(const TensorView& t, const char* name, const char* rank_hint,
                           const TensorView& input, const int64_t* expected);

// ---- halide_call.cpp -------------------------------------------------------------------------
// A TensorView as a halide_buffer_t: dimensions reversed (Halide's dim 0 is innermost).
struct HalideBuffer {
    halide_buffer_t buffer{};
    halide_dimension_t dims[kMaxRank]{};
    explicit HalideBuffer(const TensorView& t);
    halide_buffer_t* get() { return &buffer; }
};

// Per-call state handed to the kernels as Halide's user_context: the runtime's error handler
// writes the message here, whatever thread it runs on.
struct CallContext {
    std::string error_message;
};

// Runs a compiled kernel (a callable taking the user_context) and turns its result into a
// Status. Installs the library's Halide error handler on first use, so Halide never aborts.
Status status_from_halide(const char* what, int result, const CallContext& context);
void install_halide_hooks();

// ---- cpu_dispatch.cpp ------------------------------------------------------------------------
// The variant to run now: the best the CPU supports, capped by set_max_cpu_isa(). Recorded for
// last_dispatched_cpu_isa().
CpuIsa select_cpu_isa();

// Held shared by every kernel call and exclusively by set_num_threads(), which may restart
// Halide's thread pool.
extern std::shared_mutex g_pool_lock;

// The compiled functions of one variant, indexed by CpuIsa (see GRIDSAMPLE_X86_TARGET_ISAS in
// cmake/GridsampleVariants.cmake for the suffixes).
#define GRIDSAMPLE_BY_ISA(name) \
    {name##_baseline, name##_sse41, name##_avx2, name##_avx512, name##_avx512_zen4}
inline constexpr int kCpuIsaCount = 5;

// Runs the function of `by_isa` for the selected CPU variant with the given arguments after the
// user_context, and turns its result into a Status. Installs the library's Halide error handler
// on first use, so Halide never aborts.
template <typename Fn, typename... Args>
Status run_kernel(const char* what, const Fn (&by_isa)[kCpuIsaCount], Args... args) {
    install_halide_hooks();
    std::shared_lock<std::shared_mutex> pool(g_pool_lock);
    const Fn fn = by_isa[static_cast<int>(select_cpu_isa())];
    CallContext context;
    const int result = fn(static_cast<void*>(&context), args...);
    return status_from_halide(what, result, context);
}

}  // namespace gridsample::detail
