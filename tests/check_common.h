// What the reference checks of the forward (forward_check.h) and the backward (backward_check.h)
// share: the compiled kernel families, readable names, random numbers, strided storage (S8b) and
// the S2 coordinate.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "grid_sample_reference.h"
#include "gridsample/gridsample.h"

namespace gridsample {
// Readable parameter values in test listings (found by argument-dependent lookup).
inline void PrintTo(Padding p, std::ostream* os) { *os << to_string(p); }
inline void PrintTo(CpuIsa isa, std::ostream* os) { *os << to_string(isa); }
}  // namespace gridsample

namespace gridsample_test {

namespace gs = gridsample;
namespace ref = gridsample_ref;

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ------------------------------------------------------------------------------------------------
// What is sampled

// One compiled kernel family: spatial dims and mode (bicubic is 2-D only, S8).
struct Kernel {
    int dims;
    gs::Interpolation mode;
};
inline constexpr Kernel kKernels[] = {{2, gs::Interpolation::bilinear},
                                      {2, gs::Interpolation::nearest},
                                      {2, gs::Interpolation::bicubic},
                                      {3, gs::Interpolation::bilinear},
                                      {3, gs::Interpolation::nearest}};
inline constexpr gs::Padding kPaddings[] = {gs::Padding::zeros, gs::Padding::border,
                                            gs::Padding::reflection};
inline constexpr gs::DType kDTypes[] = {gs::DType::float32, gs::DType::float64};

inline const char* mode_name(gs::Interpolation m) {
    switch (m) {
    case gs::Interpolation::bilinear: return "bilinear";
    case gs::Interpolation::nearest: return "nearest";
    case gs::Interpolation::bicubic: return "bicubic";
    }
    return "?";
}
inline const char* padding_name(gs::Padding p) {
    switch (p) {
    case gs::Padding::zeros: return "zeros";
    case gs::Padding::border: return "border";
    case gs::Padding::reflection: return "reflection";
    }
    return "?";
}
inline const char* dtype_name(gs::DType t) { return t == gs::DType::float32 ? "f32" : "f64"; }
inline const char* isa_name(gs::CpuIsa isa) {
    switch (isa) {
    case gs::CpuIsa::baseline: return "baseline";
    case gs::CpuIsa::sse41: return "sse41";
    case gs::CpuIsa::avx2: return "avx2";
    case gs::CpuIsa::avx512: return "avx512";
    case gs::CpuIsa::avx512_gather: return "avx512_gather";
    }
    return "?";
}
// ------------------------------------------------------------------------------------------------
// CPU levels: float32 is compiled at every x86 level; float64 and the storage types at three of
// them, baseline, avx2 and avx512_gather (GRIDSAMPLE_FLOAT64_CPU_ISAS and
// GRIDSAMPLE_STORAGE_CPU_ISAS in cmake/GridsampleVariants.cmake), and a call runs the highest of
// those at or below the level float32 runs at.

inline bool reduced_level(gs::CpuIsa isa) {
    return isa == gs::CpuIsa::baseline || isa == gs::CpuIsa::avx2 ||
           isa == gs::CpuIsa::avx512_gather;
}

// The level a float32 call runs at now (what the CPU and the build give under the cap).
inline gs::CpuIsa float32_level() {
    float in[4] = {1, 2, 3, 4}, grid[2] = {0, 0}, out[1] = {0};
    const gs::Status s = gs::grid_sample(gs::TensorView(in, {1, 1, 2, 2}),
                                         gs::TensorView(grid, {1, 1, 1, 2}),
                                         gs::TensorView(out, {1, 1, 1, 1}));
    EXPECT_TRUE(s.ok()) << s.message();
    return gs::last_dispatched_cpu_isa();
}

// Whether a call of `dtype` that ran at `ran` ran where it should, float32 running at `level32`:
// float32 at level32; the other dtypes at level32 where it is one of their levels, else at one of
// theirs below it (which one depends on the levels the build compiles).
inline ::testing::AssertionResult ran_at_dtype_level(gs::DType dtype, gs::CpuIsa ran,
                                                     gs::CpuIsa level32) {
    const bool ok = dtype == gs::DType::float32 || reduced_level(level32)
                        ? ran == level32
                        : reduced_level(ran) && ran < level32;
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "ran " << gs::to_string(ran) << " where float32 runs "
                                         << gs::to_string(level32);
}

// Pins dispatch to `isa` for a test of that level: the cap, and the per-CPU tuning off (with it,
// some calls run a level below the cap on some CPUs; set_cpu_tuning). unpin_cpu_level() restores
// both defaults.
inline void pin_cpu_level(gs::CpuIsa isa) {
    gs::set_max_cpu_isa(isa);
    gs::set_cpu_tuning(false);
}
inline void unpin_cpu_level() {
    gs::set_max_cpu_isa(gs::kHighestCpuIsa);
    gs::set_cpu_tuning(true);
}

// A test of one CPU level and kernel family: runs with dispatch capped at that level (the cap
// and the thread count restored afterwards), skips where this CPU or build does not run it, and
// knows the level float32 runs at (level32(), the level itself where the test runs).
class CpuLevelTest : public ::testing::TestWithParam<std::tuple<gs::CpuIsa, Kernel>> {
protected:
    void SetUp() override {
        pin_cpu_level(isa());
        level32_ = float32_level();
        if (level32_ < isa()) {
            GTEST_SKIP() << "this CPU or build does not run " << gs::to_string(isa())
                         << "; float32 runs " << gs::to_string(level32_);
        }
    }
    void TearDown() override {
        unpin_cpu_level();
        gs::set_num_threads(0);
    }
    gs::CpuIsa isa() const { return std::get<0>(GetParam()); }
    Kernel kernel() const { return std::get<1>(GetParam()); }
    gs::CpuIsa level32() const { return level32_; }

private:
    gs::CpuIsa level32_ = gs::CpuIsa::baseline;
};

inline std::string kernel_name(const Kernel& k) {
    return std::to_string(k.dims) + "d_" + mode_name(k.mode);
}

// GoogleTest prints parameters in test listings (and ctest test names): keep them readable.
inline void PrintTo(const Kernel& k, std::ostream* os) { *os << kernel_name(k); }

// Shapes: spatial sizes are stored as (D, H, W); D is 1 and unused in 2-D.
struct Shape {
    int dims = 2;
    int64_t n = 1, c = 1;
    int64_t in[3] = {1, 1, 1};
    int64_t out[3] = {1, 1, 1};

    std::vector<int64_t> input_sizes() const {
        return dims == 2 ? std::vector<int64_t>{n, c, in[1], in[2]}
                         : std::vector<int64_t>{n, c, in[0], in[1], in[2]};
    }
    std::vector<int64_t> grid_sizes() const {
        return dims == 2 ? std::vector<int64_t>{n, out[1], out[2], 2}
                         : std::vector<int64_t>{n, out[0], out[1], out[2], 3};
    }
    std::vector<int64_t> output_sizes() const {
        return dims == 2 ? std::vector<int64_t>{n, c, out[1], out[2]}
                         : std::vector<int64_t>{n, c, out[0], out[1], out[2]};
    }
    // Input size along the axis indexed by grid component k (x -> W, y -> H, z -> D; S1).
    int64_t axis_size(int k) const { return in[2 - k]; }
    int64_t points() const { return out[0] * out[1] * out[2]; }
};

inline std::string sizes_string(const std::vector<int64_t>& s) {
    std::ostringstream os;
    os << "(";
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << ")";
    return os.str();
}

using Rng = std::mt19937_64;

inline double uniform(Rng& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}
inline int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}
inline uint64_t mix_seed(uint64_t a, uint64_t b) { return a * 1000003u + b; }

// ------------------------------------------------------------------------------------------------
// Strided storage of S8b

struct StridedLayout {
    std::vector<int64_t> sizes;
    std::vector<int64_t> strides;
    int64_t offset = 0;
    int64_t storage_size = 1;
};

// order lists dimensions from outermost to innermost in memory; pads adds unused elements to
// each dimension's extent; the first `expanded` dimensions get a stride of 0 (by default the
// batch if expand_batch).
inline StridedLayout make_layout(const std::vector<int64_t>& sizes, const std::vector<int>& order,
                                 const std::vector<int64_t>& pads, int64_t offset,
                                 bool expand_batch, int expanded = -1) {
    if (expanded < 0) expanded = expand_batch ? 1 : 0;
    StridedLayout l;
    l.sizes = sizes;
    l.strides.assign(sizes.size(), 0);
    l.offset = offset;
    int64_t running = 1;
    for (size_t k = order.size(); k-- > 0;) {
        const int d = order[k];
        if (d < expanded) continue;
        l.strides[d] = running;
        running *= std::max<int64_t>(sizes[d] + pads[d], 1);
    }
    l.storage_size = offset + running + 1;
    return l;
}

inline StridedLayout contiguous_layout(const std::vector<int64_t>& sizes) {
    std::vector<int> order(sizes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    return make_layout(sizes, order, std::vector<int64_t>(sizes.size(), 0), 0, false);
}

// Calls fn(flat C-order index, storage position) for every element of the view.
template <typename F>
void for_each_element(const StridedLayout& l, F fn) {
    int64_t total = 1;
    for (int64_t s : l.sizes) total *= s;
    std::vector<int64_t> idx(l.sizes.size(), 0);
    for (int64_t flat = 0; flat < total; ++flat) {
        int64_t pos = l.offset;
        for (size_t d = 0; d < idx.size(); ++d) pos += idx[d] * l.strides[d];
        fn(flat, pos);
        for (size_t d = idx.size(); d-- > 0;) {
            if (++idx[d] < l.sizes[d]) break;
            idx[d] = 0;
        }
    }
}

// The view of `storage` that a layout describes.
template <typename T>
gs::TensorView storage_view(std::vector<T>& storage, const StridedLayout& l) {
    const gs::DType dtype = sizeof(T) == 4 ? gs::DType::float32 : gs::DType::float64;
    return gs::TensorView::make(storage.data() + l.offset, dtype, static_cast<int32_t>(l.sizes.size()),
                                l.sizes.data(), l.strides.data());
}

// What the storage around and between a view's elements holds, to detect writes there.
template <typename T>
T sentinel() {
    return static_cast<T>(-7777.125);
}

// ------------------------------------------------------------------------------------------------
// Values

// Values are rounded to the case's dtype, so the reference sees exactly what the library reads.
inline double to_dtype(double v, gs::DType dtype) {
    return dtype == gs::DType::float32 ? static_cast<double>(static_cast<float>(v)) : v;
}

// The grid value whose coordinate is x (S2 inverted).
inline double grid_value_at(double x, int64_t size, bool align_corners) {
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : 2.0 * x / (s - 1.0) - 1.0;
    return (2.0 * x + 1.0) / s - 1.0;
}

// S2 in float64 (the reference's coordinate), with S7's NaN -> -1.
inline double unnormalized(double g, int64_t size, bool align_corners) {
    if (std::isnan(g)) g = -1.0;
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : (g + 1.0) / 2.0 * (s - 1.0);
    return ((g + 1.0) * s - 1.0) / 2.0;
}

inline bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// Grid values that hit half-integer coordinates are exact in every reasonable formulation of S2
// when the coordinate is a dyadic rational: S a power of two (align_corners = false) or S - 1
// a power of two (align_corners = true). Exact ties on such axes are compared, not skipped.
inline bool ties_are_exact(int64_t size, bool align_corners) {
    return align_corners ? is_power_of_two(size - 1) : is_power_of_two(size);
}

// S3's reflection of a coordinate about [lo, hi].
inline double reflect(double x, double lo, double hi) {
    const double span = hi - lo;
    if (span == 0.0) return 0.0;
    const double d = std::fabs(x - lo);
    const double flips = std::floor(d / span);
    const double extra = std::fmod(d, span);
    return std::fmod(flips, 2.0) == 0.0 ? lo + extra : hi - extra;
}

// ------------------------------------------------------------------------------------------------
// Comparison bookkeeping

struct CheckStats {
    int64_t compared = 0;
    int64_t skipped = 0;
    int64_t failures = 0;

    void add(const CheckStats& o) {
        compared += o.compared;
        skipped += o.skipped;
        failures += o.failures;
    }
};

inline std::string grid_point_string(const double* g, int dims) {
    std::ostringstream os;
    os.precision(17);
    os << "(";
    for (int k = 0; k < dims; ++k) os << (k ? ", " : "") << g[k];
    os << ")";
    return os.str();
}

inline double max_abs(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
}

}  // namespace gridsample_test
