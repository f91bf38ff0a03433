// gridsample::grid_sample against the independent float64 reference (tests/reference), which is
// written from SEMANTICS.md alone. Every expected value comes from the reference; tolerances
// follow S11. Covered: every mode x padding x align_corners x dims x dtype on random shapes and
// grids (S12.1, S12.5), every memory layout of S8b (S12.11), non-finite and huge grid values (S7,
// S12.8, S12.9), the deterministic edge cases of S12.2-S12.7 and S12.10, every compiled x86 ISA
// variant, and thread-count independence.
#include <gtest/gtest.h>

#include "forward_configs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "grid_sample_reference.h"
#include "gridsample/gridsample.h"

namespace gridsample {
// Readable parameter values in test listings (found by argument-dependent lookup).
void PrintTo(Padding p, std::ostream* os);
void PrintTo(CpuIsa isa, std::ostream* os);
}  // namespace gridsample

namespace {

namespace gs = gridsample;
namespace ref = gridsample_ref;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ------------------------------------------------------------------------------------------------
// What is sampled

// One compiled kernel family: spatial dims and mode (bicubic is 2-D only, S8).
struct Kernel {
    int dims;
    gs::Interpolation mode;
};
const Kernel kKernels[] = {{2, gs::Interpolation::bilinear},
                           {2, gs::Interpolation::nearest},
                           {2, gs::Interpolation::bicubic},
                           {3, gs::Interpolation::bilinear},
                           {3, gs::Interpolation::nearest}};
const gs::Padding kPaddings[] = {gs::Padding::zeros, gs::Padding::border,
                                 gs::Padding::reflection};
const gs::DType kDTypes[] = {gs::DType::float32, gs::DType::float64};

const char* mode_name(gs::Interpolation m) {
    switch (m) {
    case gs::Interpolation::bilinear: return "bilinear";
    case gs::Interpolation::nearest: return "nearest";
    case gs::Interpolation::bicubic: return "bicubic";
    }
    return "?";
}
const char* padding_name(gs::Padding p) {
    switch (p) {
    case gs::Padding::zeros: return "zeros";
    case gs::Padding::border: return "border";
    case gs::Padding::reflection: return "reflection";
    }
    return "?";
}
const char* dtype_name(gs::DType t) { return t == gs::DType::float32 ? "f32" : "f64"; }
const char* isa_name(gs::CpuIsa isa) {
    switch (isa) {
    case gs::CpuIsa::baseline: return "baseline";
    case gs::CpuIsa::sse41: return "sse41";
    case gs::CpuIsa::avx2: return "avx2";
    case gs::CpuIsa::avx512: return "avx512";
    case gs::CpuIsa::avx512_gather: return "avx512_gather";
    }
    return "?";
}
std::string kernel_name(const Kernel& k) {
    return std::to_string(k.dims) + "d_" + mode_name(k.mode);
}

// GoogleTest prints parameters in test listings (and ctest test names): keep them readable.
void PrintTo(const Kernel& k, std::ostream* os) { *os << kernel_name(k); }

// Memory layouts of S8b. "mixed" combines all of them at once.
enum class Layout {
    contiguous,
    padded_input,         // a view into a larger buffer (every dimension padded, offset start)
    channels_last_input,  // NHWC / NDHWC strides
    permuted_grid,        // W-contiguous grid, as permuted from (N, 2, H, W)
    expanded_grid,        // stride 0 along the batch
    padded_output,        // written into a larger buffer; the rest must stay untouched
    mixed,
};
const Layout kLayouts[] = {Layout::contiguous,    Layout::padded_input,  Layout::channels_last_input,
                           Layout::permuted_grid, Layout::expanded_grid, Layout::padded_output,
                           Layout::mixed};
const char* layout_name(Layout l) {
    switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::padded_input: return "padded_input";
    case Layout::channels_last_input: return "channels_last_input";
    case Layout::permuted_grid: return "permuted_grid";
    case Layout::expanded_grid: return "expanded_grid";
    case Layout::padded_output: return "padded_output";
    case Layout::mixed: return "mixed";
    }
    return "?";
}

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
};

std::string sizes_string(const std::vector<int64_t>& s) {
    std::ostringstream os;
    os << "(";
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << ")";
    return os.str();
}

struct Case {
    Kernel kernel{};
    gs::Padding padding = gs::Padding::zeros;
    bool align_corners = false;
    gs::DType dtype = gs::DType::float64;
    Layout layout = Layout::contiguous;
    Shape shape;
    uint64_t seed = 0;  // drives the data and the layout paddings

    gs::Options options() const { return {kernel.mode, padding, align_corners}; }
    std::string describe() const {
        std::ostringstream os;
        os << kernel_name(kernel) << " padding=" << padding_name(padding)
           << " align_corners=" << align_corners << " dtype=" << dtype_name(dtype)
           << " layout=" << layout_name(layout) << " input=" << sizes_string(shape.input_sizes())
           << " grid=" << sizes_string(shape.grid_sizes()) << " seed=" << seed;
        return os.str();
    }
};

using Rng = std::mt19937_64;

double uniform(Rng& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}
int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}
uint64_t mix_seed(uint64_t a, uint64_t b) { return a * 1000003u + b; }

// ------------------------------------------------------------------------------------------------
// Strided storage of S8b

struct StridedLayout {
    std::vector<int64_t> sizes;
    std::vector<int64_t> strides;
    int64_t offset = 0;
    int64_t storage_size = 1;
};

// order lists dimensions from outermost to innermost in memory; pads adds unused elements to
// each dimension's extent; expand_batch gives dimension 0 a stride of 0.
StridedLayout make_layout(const std::vector<int64_t>& sizes, const std::vector<int>& order,
                          const std::vector<int64_t>& pads, int64_t offset, bool expand_batch) {
    StridedLayout l;
    l.sizes = sizes;
    l.strides.assign(sizes.size(), 0);
    l.offset = offset;
    int64_t running = 1;
    for (size_t k = order.size(); k-- > 0;) {
        const int d = order[k];
        if (d == 0 && expand_batch) continue;
        l.strides[d] = running;
        running *= std::max<int64_t>(sizes[d] + pads[d], 1);
    }
    l.storage_size = offset + running + 1;
    return l;
}

StridedLayout contiguous_layout(const std::vector<int64_t>& sizes) {
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

struct CaseLayouts {
    StridedLayout input, grid, output;
};

CaseLayouts layouts_for(const Case& cs) {
    Rng rng(mix_seed(cs.seed, 77));
    const Shape& s = cs.shape;
    const int rank = s.dims + 2;
    auto identity = [&] {
        std::vector<int> order(static_cast<size_t>(rank));
        for (int i = 0; i < rank; ++i) order[static_cast<size_t>(i)] = i;
        return order;
    };
    auto random_pads = [&] {
        std::vector<int64_t> pads(static_cast<size_t>(rank));
        for (auto& p : pads) p = uniform_int(rng, 1, 3);
        return pads;
    };
    const std::vector<int64_t> no_pads(static_cast<size_t>(rank), 0);
    const Layout l = cs.layout;
    const bool mixed = l == Layout::mixed;

    // Input: channels moved innermost for channels-last, i.e. (N, [D,] H, W, C) in memory.
    std::vector<int> input_order = identity();
    if (l == Layout::channels_last_input || mixed) {
        input_order.erase(input_order.begin() + 1);
        input_order.push_back(1);
    }
    const bool pad_input = l == Layout::padded_input || mixed;
    CaseLayouts out;
    out.input = make_layout(s.input_sizes(), input_order, pad_input ? random_pads() : no_pads,
                            pad_input ? uniform_int(rng, 1, 7) : 0, false);

    // Grid: the component dimension right after the batch, so W is innermost.
    std::vector<int> grid_order = identity();
    if (l == Layout::permuted_grid || mixed) {
        grid_order.pop_back();
        grid_order.insert(grid_order.begin() + 1, rank - 1);
    }
    const bool expand = l == Layout::expanded_grid || mixed;
    out.grid = make_layout(s.grid_sizes(), grid_order, mixed ? random_pads() : no_pads,
                           mixed ? uniform_int(rng, 1, 7) : 0, expand);

    const bool pad_output = l == Layout::padded_output || mixed;
    out.output = make_layout(s.output_sizes(), identity(), pad_output ? random_pads() : no_pads,
                             pad_output ? uniform_int(rng, 1, 7) : 0, false);
    return out;
}

bool grid_is_expanded(Layout l) { return l == Layout::expanded_grid || l == Layout::mixed; }

// ------------------------------------------------------------------------------------------------
// Running the library

struct LibraryResult {
    gs::Status status;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    ref::Array output;                 // read back through the output strides
    std::vector<unsigned char> bytes;  // the whole output storage, for bit comparisons
    int64_t touched_outside = 0;       // storage elements outside the view that changed
};

template <typename T>
T sentinel() {
    return static_cast<T>(-7777.125);
}

template <typename T>
LibraryResult run_library_typed(const Case& cs, const ref::Array& input, const ref::Array& grid) {
    const CaseLayouts l = layouts_for(cs);
    std::vector<T> in_storage(static_cast<size_t>(l.input.storage_size), sentinel<T>());
    std::vector<T> grid_storage(static_cast<size_t>(l.grid.storage_size), sentinel<T>());
    std::vector<T> out_storage(static_cast<size_t>(l.output.storage_size), sentinel<T>());
    for_each_element(l.input, [&](int64_t flat, int64_t pos) {
        in_storage[static_cast<size_t>(pos)] = static_cast<T>(input.data[static_cast<size_t>(flat)]);
    });
    // With an expanded grid every batch writes the same elements; the grids are equal then.
    for_each_element(l.grid, [&](int64_t flat, int64_t pos) {
        grid_storage[static_cast<size_t>(pos)] = static_cast<T>(grid.data[static_cast<size_t>(flat)]);
    });

    const gs::DType dtype = sizeof(T) == 4 ? gs::DType::float32 : gs::DType::float64;
    auto view = [&](std::vector<T>& storage, const StridedLayout& sl) {
        return gs::TensorView::make(storage.data() + sl.offset, dtype,
                                    static_cast<int32_t>(sl.sizes.size()), sl.sizes.data(),
                                    sl.strides.data());
    };
    LibraryResult r;
    r.status = gs::grid_sample(view(in_storage, l.input), view(grid_storage, l.grid),
                               view(out_storage, l.output), cs.options());
    r.isa = gs::last_dispatched_cpu_isa();

    r.output = ref::Array(cs.shape.output_sizes());
    std::vector<char> inside(out_storage.size(), 0);
    for_each_element(l.output, [&](int64_t flat, int64_t pos) {
        r.output.data[static_cast<size_t>(flat)] = static_cast<double>(out_storage[static_cast<size_t>(pos)]);
        inside[static_cast<size_t>(pos)] = 1;
    });
    const T s = sentinel<T>();
    for (size_t i = 0; i < out_storage.size(); ++i) {
        if (!inside[i] && std::memcmp(&out_storage[i], &s, sizeof(T)) != 0) ++r.touched_outside;
    }
    r.bytes.resize(out_storage.size() * sizeof(T));
    std::memcpy(r.bytes.data(), out_storage.data(), r.bytes.size());
    return r;
}

LibraryResult run_library(const Case& cs, const ref::Array& input, const ref::Array& grid) {
    return cs.dtype == gs::DType::float32 ? run_library_typed<float>(cs, input, grid)
                                          : run_library_typed<double>(cs, input, grid);
}

ref::Array run_reference(const Case& cs, const ref::Array& input, const ref::Array& grid) {
    return ref::grid_sample(input, grid, static_cast<int>(cs.kernel.mode),
                            static_cast<int>(cs.padding), cs.align_corners);
}

// ------------------------------------------------------------------------------------------------
// Tolerances (S11) and the points that cannot be compared exactly

// S2, for deciding which points are near a rounding tie or imprecise (the comparison itself
// uses the reference).
double unnormalized(double g, int64_t size, bool align_corners) {
    if (std::isnan(g)) g = -1.0;
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : (g + 1.0) / 2.0 * (s - 1.0);
    return ((g + 1.0) * s - 1.0) / 2.0;
}

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// Grid values that hit half-integer coordinates are exact in every reasonable formulation of S2
// when the coordinate is a dyadic rational: S a power of two (align_corners = false) or S - 1
// a power of two (align_corners = true). Exact ties on such axes are compared, not skipped.
bool ties_are_exact(int64_t size, bool align_corners) {
    return align_corners ? is_power_of_two(size - 1) : is_power_of_two(size);
}

struct PointCheck {
    bool skip = false;  // nearest within the tie window (S11)
    double tol = 0.0;   // absolute tolerance
};

PointCheck point_check(const Case& cs, const double* g, double max_abs_input) {
    const bool f32 = cs.dtype == gs::DType::float32;
    const gs::Interpolation mode = cs.kernel.mode;
    const double eps = f32 ? 0x1p-23 : 0x1p-52;
    const double rel = f32 ? 2e-5 : (mode == gs::Interpolation::bicubic ? 1e-11 : 1e-12);
    double coordinate_error = 0.0;  // summed over axes, in pixels
    PointCheck pc;
    for (int k = 0; k < cs.kernel.dims; ++k) {
        const int64_t size = cs.shape.axis_size(k);
        const double x = unnormalized(g[k], size, cs.align_corners);
        if (!std::isfinite(x)) continue;  // S7 policy: exact
        const double s = static_cast<double>(size);
        // The library rounds the coordinate in its own precision (S2: tests must not depend on
        // the last bit); beyond the reach of any tap, zeros and border are exact again.
        double e = 4.0 * (std::fabs(x) + 1.0) * eps;
        if (cs.padding != gs::Padding::reflection && (x < -3.0 || x > s + 2.0)) e = 0.0;
        // S7: bicubic centres beyond 2^30 follow the infinity rule, exactly.
        if (mode == gs::Interpolation::bicubic && std::fabs(x) > 0x1p30) e = 0.0;
        // S11 last bullet: far outside with reflection, precision is that of the coordinate.
        if (cs.padding == gs::Padding::reflection && std::fabs(g[k]) > 10.0) e *= 4.0;
        coordinate_error += e;
        if (mode == gs::Interpolation::nearest) {
            const double to_tie = std::fabs(x - std::floor(x) - 0.5);
            const double window = (f32 ? 1e-4 : 1e-9) + e;
            const bool exact_tie = to_tie == 0.0 && ties_are_exact(size, cs.align_corners) &&
                                   std::fabs(x) < 0x1p20;
            if (to_tie < window && !exact_tie) pc.skip = true;
        }
    }
    // |d output / d coordinate| is at most 2 max|input| per axis for linear weights and about
    // 2.5 times that for the cubic weights.
    const double slope = mode == gs::Interpolation::bilinear  ? 2.0
                         : mode == gs::Interpolation::bicubic ? 6.0
                                                              : 0.0;
    const double scale = std::max(max_abs_input, 1e-300);
    pc.tol = rel * scale + slope * coordinate_error * scale;
    return pc;
}

struct CheckStats {
    int64_t compared = 0;
    int64_t skipped = 0;
    int64_t failures = 0;
};

std::string grid_point_string(const double* g, int dims) {
    std::ostringstream os;
    os.precision(17);
    os << "(";
    for (int k = 0; k < dims; ++k) os << (k ? ", " : "") << g[k];
    os << ")";
    return os.str();
}

// Compares one library result against the reference, element by element.
CheckStats compare(const Case& cs, const ref::Array& input, const ref::Array& grid,
                   const ref::Array& expected, const LibraryResult& got) {
    CheckStats st;
    constexpr int kMaxReports = 5;
    double max_abs_input = 0.0;
    for (double v : input.data) max_abs_input = std::max(max_abs_input, std::fabs(v));
    // Bilinear and nearest outputs are convex combinations; cubic weights sum (in absolute value)
    // to at most 1.375 per axis.
    const double bound =
        (cs.kernel.mode == gs::Interpolation::bicubic ? 1.375 * 1.375 : 1.0) * max_abs_input *
            (1.0 + 1e-5) + 1e-300;

    const Shape& s = cs.shape;
    const int64_t points = s.out[0] * s.out[1] * s.out[2];
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p = 0; p < points; ++p) {
            const double* g = &grid.data[static_cast<size_t>((n * points + p) * s.dims)];
            const PointCheck pc = point_check(cs, g, max_abs_input);
            for (int64_t c = 0; c < s.c; ++c) {
                const size_t at = static_cast<size_t>((n * s.c + c) * points + p);
                const double e = expected.data[at];
                const double v = got.output.data[at];
                const bool finite_ok = std::isfinite(v);  // S7: finite input, finite output
                const bool bound_ok = std::fabs(v) <= bound;
                const bool value_ok = pc.skip || std::fabs(v - e) <= pc.tol;
                if (pc.skip) {
                    ++st.skipped;
                } else {
                    ++st.compared;
                }
                if (finite_ok && bound_ok && value_ok) continue;
                if (++st.failures <= kMaxReports) {
                    std::ostringstream os;
                    os.precision(17);
                    os << cs.describe() << "\n  at n=" << n << " c=" << c << " point=" << p
                       << " (flat over output spatial dims) grid=" << grid_point_string(g, s.dims)
                       << "\n  expected=" << e << " got=" << v << " |diff|=" << std::fabs(v - e)
                       << " tol=" << pc.tol << (finite_ok ? "" : " [not finite]")
                       << (bound_ok ? "" : " [outside the bound of the input range]");
                    ADD_FAILURE() << os.str();
                }
            }
        }
    }
    if (st.failures > kMaxReports) {
        ADD_FAILURE() << cs.describe() << "\n  ... " << st.failures << " mismatches in all";
    }
    return st;
}

// Runs one case through the library and the reference and compares; returns the stats and the
// dispatched ISA. Status, the untouched rest of the output buffer and every element are checked.
struct CaseOutcome {
    CheckStats stats;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    bool ran = false;
};

CaseOutcome check_case(const Case& cs, const ref::Array& input, const ref::Array& grid) {
    CaseOutcome out;
    const LibraryResult got = run_library(cs, input, grid);
    EXPECT_TRUE(got.status.ok()) << cs.describe() << "\n  status: " << got.status.message();
    if (!got.status.ok()) return out;
    out.ran = true;
    out.isa = got.isa;
    EXPECT_EQ(got.touched_outside, 0)
        << cs.describe() << "\n  output elements outside the view were written";
    out.stats = compare(cs, input, grid, run_reference(cs, input, grid), got);
    return out;
}

// ------------------------------------------------------------------------------------------------
// Random data

// Values are rounded to the case's dtype here, so the reference sees exactly what the library
// reads.
double to_dtype(double v, gs::DType dtype) {
    return dtype == gs::DType::float32 ? static_cast<double>(static_cast<float>(v)) : v;
}

ref::Array random_input(const Case& cs, Rng& rng) {
    ref::Array a(cs.shape.input_sizes());
    const double scales[] = {1.0, 1.0, 1.0, 1000.0, 1e-3};
    const double scale = scales[uniform_int(rng, 0, 4)];
    for (double& v : a.data) v = to_dtype(uniform(rng, -1.0, 1.0) * scale, cs.dtype);
    return a;
}

// The grid value whose coordinate is x = k + 0.5 (a nearest tie) or x = k (a pixel centre).
double grid_value_at(double x, int64_t size, bool align_corners) {
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : 2.0 * x / (s - 1.0) - 1.0;
    return (2.0 * x + 1.0) / s - 1.0;
}

// Mostly uniform in [-1.3, 1.3]; with probability `special` one of the S7/S12 values.
double random_grid_value(Rng& rng, int64_t size, bool align_corners, double special) {
    if (uniform(rng, 0.0, 1.0) >= special) return uniform(rng, -1.3, 1.3);
    static const double kSpecial[] = {kNaN,  kInf,    -kInf, -1.0, 0.0,  1.0,   1.0001, -1.0001,
                                      1.5,   -1.5,    3.5,   -3.5, 100., -100., 1e6,    -1e6,
                                      1e20,  -1e20,   1e30,  -1e30};
    constexpr int64_t kCount = sizeof(kSpecial) / sizeof(kSpecial[0]);
    const int64_t pick = uniform_int(rng, 0, kCount + 1);
    if (pick < kCount) return kSpecial[pick];
    const double k = static_cast<double>(uniform_int(rng, -1, size - 1));
    return pick == kCount ? grid_value_at(k + 0.5, size, align_corners)  // a tie
                          : grid_value_at(k, size, align_corners);       // a pixel centre
}

ref::Array random_grid(const Case& cs, Rng& rng, double special) {
    ref::Array a(cs.shape.grid_sizes());
    const int dims = cs.kernel.dims;
    for (size_t i = 0; i < a.data.size(); ++i) {
        const int k = static_cast<int>(i % static_cast<size_t>(dims));
        a.data[i] = to_dtype(
            random_grid_value(rng, cs.shape.axis_size(k), cs.align_corners, special), cs.dtype);
    }
    if (grid_is_expanded(cs.layout)) {  // every batch sees batch 0's grid
        const size_t per_batch = a.data.size() / static_cast<size_t>(std::max<int64_t>(cs.shape.n, 1));
        for (size_t i = per_batch; i < a.data.size(); ++i) a.data[i] = a.data[i % per_batch];
    }
    return a;
}

// Sizes 1 and 2 are frequent on every axis, independently.
int64_t random_extent(Rng& rng, int64_t max) {
    const double u = uniform(rng, 0.0, 1.0);
    if (u < 0.15) return 1;
    if (u < 0.3) return 2;
    return uniform_int(rng, 3, max);
}

Shape random_shape(int dims, Rng& rng) {
    Shape s;
    s.dims = dims;
    s.n = uniform_int(rng, 1, 3);
    s.c = uniform_int(rng, 0, 1) ? 1 : uniform_int(rng, 2, 8);
    const int64_t in_max = dims == 2 ? 9 : 6;
    const int64_t out_max = dims == 2 ? 7 : 5;
    for (int d = 3 - dims; d < 3; ++d) {
        s.in[d] = random_extent(rng, in_max);
        s.out[d] = random_extent(rng, out_max);
    }
    return s;
}

Case random_case(const Kernel& kernel, gs::Padding padding, bool align_corners, gs::DType dtype,
                 Layout layout, uint64_t seed) {
    Case cs;
    cs.kernel = kernel;
    cs.padding = padding;
    cs.align_corners = align_corners;
    cs.dtype = dtype;
    cs.layout = layout;
    cs.seed = seed;
    Rng rng(seed);
    cs.shape = random_shape(kernel.dims, rng);
    return cs;
}

// Builds the random data of a case (from its seed) and checks it.
CaseOutcome check_random_case(const Case& cs) {
    Rng rng(mix_seed(cs.seed, 1));
    const double specials[] = {0.0, 0.1, 0.35};
    const double special = specials[cs.seed % 3];
    const ref::Array input = random_input(cs, rng);
    const ref::Array grid = random_grid(cs, rng, special);
    return check_case(cs, input, grid);
}

// ------------------------------------------------------------------------------------------------
// Randomized: every kernel x padding (one test each), every align_corners x dtype x layout inside.

class RandomVsReference
    : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(RandomVsReference, MatchesReference) {
    const auto [kernel, padding] = GetParam();
    const uint64_t test_seed = 1000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    int64_t compared = 0;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kDTypes) {
            for (Layout layout : kLayouts) {
                for (int rep = 0; rep < 6; ++rep) {
                    const Case cs = random_case(kernel, padding, align_corners, dtype, layout,
                                                mix_seed(test_seed, index++));
                    compared += check_random_case(cs).stats.compared;
                }
            }
        }
    }
    EXPECT_GT(compared, 0);
}

std::string kernel_padding_name(
    const ::testing::TestParamInfo<std::tuple<Kernel, gs::Padding>>& info) {
    return kernel_name(std::get<0>(info.param)) + "_" + padding_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, RandomVsReference,
                         ::testing::Combine(::testing::ValuesIn(kKernels),
                                            ::testing::ValuesIn(kPaddings)),
                         kernel_padding_name);

// ------------------------------------------------------------------------------------------------
// Every compiled CPU variant: the dispatcher is limited to each ISA in turn.

class CpuIsaVsReference : public ::testing::TestWithParam<std::tuple<gs::CpuIsa, Kernel>> {
protected:
    void TearDown() override { gs::set_max_cpu_isa(gs::kHighestCpuIsa); }

    // Checks the case make(padding, dtype, rep, seed) for every padding x dtype x rep in
    // [0, reps), with the dispatcher limited to this test's ISA. The first case that runs tells
    // whether this CPU has that ISA (if not, the test skips); every case must run on it.
    void check_cases(uint64_t seed_base, int reps,
                     const std::function<Case(gs::Padding, gs::DType, int, uint64_t)>& make) {
        const auto [isa, kernel] = GetParam();
        gs::set_max_cpu_isa(isa);
        const uint64_t test_seed = seed_base + 1000u * static_cast<uint64_t>(isa) +
                                   10u * static_cast<uint64_t>(kernel.dims) +
                                   static_cast<uint64_t>(kernel.mode);
        SCOPED_TRACE("test seed " + std::to_string(test_seed));
        uint64_t index = 0;
        bool any_ran = false;
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kDTypes) {
                for (int rep = 0; rep < reps; ++rep) {
                    const Case cs = make(padding, dtype, rep, mix_seed(test_seed, index++));
                    const CaseOutcome outcome = check_random_case(cs);
                    if (!outcome.ran) continue;
                    if (!any_ran && outcome.isa < isa) {
                        GTEST_SKIP() << "this CPU does not support " << isa_name(isa)
                                     << "; the dispatcher ran " << isa_name(outcome.isa);
                    }
                    any_ran = true;
                    ASSERT_EQ(outcome.isa, isa) << cs.describe() << "\n  dispatched "
                                                << isa_name(outcome.isa) << " with max "
                                                << isa_name(isa);
                }
            }
        }
        EXPECT_TRUE(any_ran) << "no kernel call succeeded";
    }
};

TEST_P(CpuIsaVsReference, MatchesReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(5000u, 3, [&](gs::Padding padding, gs::DType dtype, int, uint64_t seed) {
        const Layout layout = kLayouts[seed % (sizeof(kLayouts) / sizeof(kLayouts[0]))];
        return random_case(kernel, padding, (seed % 2) == 0, dtype, layout, seed);
    });
}

// Rows wider than the schedule's tiles (64 and 128 points): the random cases above are a few
// points wide, while some lowering passes act only on whole tiles or on rows of several tiles
// (2-D: PairGathers' 64-bit pair loads of planar bilinear, NextTileGridPrefetch,
// HoistTileInvariants). 333 output points a row are 5 tiles of 64 plus 13, or 2 of 128 plus 77.
// Inputs 1 and 2 pixels wide are included: PairGathers needs two, and keeps the plain loads for
// one. Each width is sampled with 3 channels and with 7: HoistTileInvariants acts from 6.
TEST_P(CpuIsaVsReference, WideRowsMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(7000u, 6, [&](gs::Padding padding, gs::DType dtype, int rep, uint64_t seed) {
        const int64_t widths[] = {1, 2, 150};
        Case cs;
        cs.kernel = kernel;
        cs.padding = padding;
        cs.align_corners = (seed % 2) == 1;
        cs.dtype = dtype;
        cs.layout = (seed % 3) == 2 ? Layout::padded_output : Layout::contiguous;
        cs.seed = seed;
        cs.shape.dims = kernel.dims;
        cs.shape.c = rep < 3 ? 3 : 7;
        cs.shape.in[0] = kernel.dims == 3 ? 5 : 1;
        cs.shape.in[1] = 19;
        cs.shape.in[2] = widths[rep % 3];
        cs.shape.out[0] = kernel.dims == 3 ? 2 : 1;
        cs.shape.out[1] = 4;
        cs.shape.out[2] = 333;
        return cs;
    });
}

std::string isa_kernel_name(const ::testing::TestParamInfo<std::tuple<gs::CpuIsa, Kernel>>& info) {
    return std::string(isa_name(std::get<0>(info.param))) + "_" +
           kernel_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, CpuIsaVsReference,
                         ::testing::Combine(::testing::ValuesIn(gridsample_test::all_cpu_isas()),
                                            ::testing::ValuesIn(kKernels)),
                         isa_kernel_name);

// ------------------------------------------------------------------------------------------------
// Threads: one and two threads give bit-identical output (and both match the reference).

class ThreadsVsReference : public ::testing::TestWithParam<Kernel> {
protected:
    void TearDown() override { gs::set_num_threads(0); }
};

TEST_P(ThreadsVsReference, BitIdenticalAcrossThreadCounts) {
    const Kernel kernel = GetParam();
    const uint64_t test_seed = 9000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               static_cast<uint64_t>(kernel.mode);
    uint64_t index = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            Case cs;
            cs.kernel = kernel;
            cs.padding = padding;
            cs.dtype = dtype;
            cs.align_corners = (index % 2) == 1;
            cs.layout = index % 3 == 0 ? Layout::mixed : Layout::contiguous;
            cs.seed = mix_seed(test_seed, index++);
            cs.shape.dims = kernel.dims;
            cs.shape.n = 2;
            cs.shape.c = 3;
            if (kernel.dims == 2) {
                cs.shape.in[1] = 37, cs.shape.in[2] = 45;
                cs.shape.out[1] = 40, cs.shape.out[2] = 33;
            } else {
                cs.shape.in[0] = 9, cs.shape.in[1] = 11, cs.shape.in[2] = 13;
                cs.shape.out[0] = 7, cs.shape.out[1] = 8, cs.shape.out[2] = 9;
            }
            Rng rng(cs.seed);
            const ref::Array input = random_input(cs, rng);
            const ref::Array grid = random_grid(cs, rng, 0.05);
            gs::set_num_threads(1);
            const LibraryResult one = run_library(cs, input, grid);
            gs::set_num_threads(2);
            const LibraryResult two = run_library(cs, input, grid);
            ASSERT_TRUE(one.status.ok() && two.status.ok()) << cs.describe();
            EXPECT_TRUE(one.bytes == two.bytes)
                << cs.describe() << "\n  1 and 2 threads give different bits";
            compare(cs, input, grid, run_reference(cs, input, grid), two);
        }
    }
}

std::string kernel_param_name(const ::testing::TestParamInfo<Kernel>& info) {
    return kernel_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, ThreadsVsReference, ::testing::ValuesIn(kKernels),
                         kernel_param_name);

// ------------------------------------------------------------------------------------------------
// Deterministic edge cases (S12). Each runs every padding x align_corners x dtype on the kernels
// it names, with grids built from per-axis value lists.

// A grid holding the cartesian product of per-axis values (x varies fastest), for batch n
// repeated. values[k] is the list for grid component k (x, y, z).
struct ProductGrid {
    Shape shape;
    ref::Array grid;
};

ProductGrid product_grid(int dims, int64_t n, int64_t c, const int64_t in_dhw[3],
                         const std::vector<std::vector<double>>& values, gs::DType dtype) {
    ProductGrid pg;
    Shape& s = pg.shape;
    s.dims = dims;
    s.n = n;
    s.c = c;
    for (int d = 0; d < 3; ++d) s.in[d] = in_dhw[d];
    s.out[2] = static_cast<int64_t>(values[0].size());
    s.out[1] = static_cast<int64_t>(values[1].size());
    s.out[0] = dims == 3 ? static_cast<int64_t>(values[2].size()) : 1;
    pg.grid = ref::Array(s.grid_sizes());
    size_t at = 0;
    for (int64_t b = 0; b < n; ++b) {
        for (int64_t z = 0; z < s.out[0]; ++z) {
            for (int64_t y = 0; y < s.out[1]; ++y) {
                for (int64_t x = 0; x < s.out[2]; ++x) {
                    pg.grid.data[at++] = to_dtype(values[0][static_cast<size_t>(x)], dtype);
                    pg.grid.data[at++] = to_dtype(values[1][static_cast<size_t>(y)], dtype);
                    if (dims == 3) pg.grid.data[at++] = to_dtype(values[2][static_cast<size_t>(z)], dtype);
                }
            }
        }
    }
    return pg;
}

// Runs `make_values(axis size, align_corners)` -> per-axis list over every padding,
// align_corners and dtype for one kernel and input shape.
template <typename MakeValues>
CheckStats check_product_grids(const Kernel& kernel, int64_t n, int64_t c, const int64_t in_dhw[3],
                               uint64_t seed, MakeValues make_values) {
    CheckStats total;
    for (gs::Padding padding : kPaddings) {
        for (bool align_corners : {false, true}) {
            for (gs::DType dtype : kDTypes) {
                std::vector<std::vector<double>> values;
                for (int k = 0; k < kernel.dims; ++k) {
                    values.push_back(make_values(in_dhw[2 - k], align_corners));
                }
                ProductGrid pg = product_grid(kernel.dims, n, c, in_dhw, values, dtype);
                Case cs;
                cs.kernel = kernel;
                cs.padding = padding;
                cs.align_corners = align_corners;
                cs.dtype = dtype;
                cs.shape = pg.shape;
                cs.seed = seed;
                Rng rng(seed);
                const ref::Array input = random_input(cs, rng);
                const CheckStats st = check_case(cs, input, pg.grid).stats;
                total.compared += st.compared;
                total.skipped += st.skipped;
                total.failures += st.failures;
            }
        }
    }
    return total;
}

// S12.2: identity grids from the reference affine_grid, for both align_corners. The reference
// must give the input back; the library must match the reference.
TEST(DeterministicVsReference, IdentityGrid) {
    const int64_t shapes2[][4] = {{1, 2, 3, 5}, {2, 1, 4, 4}, {1, 1, 1, 6}, {1, 3, 7, 1}};
    const int64_t shapes3[][5] = {{1, 2, 3, 4, 5}, {2, 1, 2, 1, 3}};
    uint64_t seed = 42;
    auto run = [&](const Kernel& kernel, const std::vector<int64_t>& size) {
        for (gs::Padding padding : kPaddings) {
            for (bool align_corners : {false, true}) {
                for (gs::DType dtype : kDTypes) {
                    const int dims = kernel.dims;
                    ref::Array theta({size[0], dims, dims + 1});
                    for (int64_t b = 0; b < size[0]; ++b) {
                        for (int r = 0; r < dims; ++r) theta.at({b, r, r}) = 1.0;
                    }
                    ref::Array grid = ref::affine_grid(theta, size, align_corners);
                    for (double& v : grid.data) v = to_dtype(v, dtype);
                    Case cs;
                    cs.kernel = kernel;
                    cs.padding = padding;
                    cs.align_corners = align_corners;
                    cs.dtype = dtype;
                    cs.seed = seed++;
                    cs.shape.dims = dims;
                    cs.shape.n = size[0];
                    cs.shape.c = size[1];
                    for (int d = 0; d < dims; ++d) {
                        cs.shape.in[2 - d] = cs.shape.out[2 - d] = size[size.size() - 1 - d];
                    }
                    Rng rng(cs.seed);
                    const ref::Array input = random_input(cs, rng);
                    const ref::Array expected = run_reference(cs, input, grid);
                    double max_abs = 0.0, max_diff = 0.0;
                    for (size_t i = 0; i < input.data.size(); ++i) {
                        max_abs = std::max(max_abs, std::fabs(input.data[i]));
                        max_diff = std::max(max_diff, std::fabs(expected.data[i] - input.data[i]));
                    }
                    // float32 grids move the coordinate by up to an ulp of the grid value.
                    const double tol = (dtype == gs::DType::float32 ? 1e-5 : 1e-12) * max_abs;
                    EXPECT_LE(max_diff, tol)
                        << cs.describe() << "\n  the reference does not reproduce the input";
                    check_case(cs, input, grid);
                }
            }
        }
    };
    for (const Kernel& kernel : kKernels) {
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) run(kernel, {s[0], s[1], s[2], s[3]});
        } else {
            for (const auto& s : shapes3) run(kernel, {s[0], s[1], s[2], s[3], s[4]});
        }
    }
}

// Per-axis values at -1, 0, +1, every pixel centre and edge, the fade halo, far outside and
// huge (S12.2, S12.4, S12.6, S12.9).
std::vector<double> special_axis_values(int64_t size, bool align_corners) {
    std::vector<double> v = {-1.0, 0.0, 1.0, -1.0001, 1.0001, -1.5, 1.5, -3.5, 3.5, -100.0,
                             100.0, -1e6, 1e6, -1e9, 1e9, -1e20, 1e20, -1e30, 1e30};
    for (int64_t k = 0; k < size; ++k) {
        v.push_back(grid_value_at(static_cast<double>(k), size, align_corners));        // centre
        v.push_back(grid_value_at(static_cast<double>(k) - 0.5, size, align_corners));  // edge
    }
    v.push_back(grid_value_at(static_cast<double>(size) - 0.5, size, align_corners));
    return v;
}

TEST(DeterministicVsReference, SpecialGridValues) {
    const int64_t shapes2[][3] = {{1, 5, 4}, {1, 1, 2}, {1, 2, 1}, {1, 4, 4}};
    const int64_t shapes3[][3] = {{3, 4, 5}, {1, 2, 3}, {2, 1, 1}};
    uint64_t seed = 100;
    for (const Kernel& kernel : kKernels) {
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) {
                check_product_grids(kernel, 2, 2, s, seed++, special_axis_values);
            }
        } else {
            for (const auto& s : shapes3) {
                check_product_grids(kernel, 1, 2, s, seed++, special_axis_values);
            }
        }
    }
}

// S12.3: nearest at exact ties (0.5, 1.5, 2.5, -0.5, S-0.5, S-1.5) in 2-D and 3-D, on sizes where
// the ties are exact for either align_corners. None may be skipped.
TEST(DeterministicVsReference, NearestExactTies) {
    auto ties = [](int64_t size, bool align_corners) {
        std::vector<double> v;
        const double s = static_cast<double>(size);
        for (double x : {-0.5, 0.5, 1.5, 2.5, s - 0.5, s - 1.5}) {
            if (ties_are_exact(size, align_corners)) v.push_back(grid_value_at(x, size, align_corners));
        }
        // No exact ties on this axis for this align_corners: sample pixel 0's centre instead.
        if (v.empty()) v.push_back(grid_value_at(0.0, size, align_corners));
        return v;
    };
    const int64_t shapes2[][3] = {{1, 4, 8}, {1, 3, 5}, {1, 8, 9}, {1, 2, 1}, {1, 9, 2}};
    const int64_t shapes3[][3] = {{4, 8, 2}, {3, 5, 9}, {2, 3, 4}};
    uint64_t seed = 200;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode != gs::Interpolation::nearest) continue;
        const auto run = [&](const int64_t s[3]) {
            const CheckStats st = check_product_grids(kernel, 1, 2, s, seed++, ties);
            EXPECT_EQ(st.skipped, 0) << kernel_name(kernel) << " exact ties were skipped";
            EXPECT_GT(st.compared, 0);
        };
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) run(s);
        } else {
            for (const auto& s : shapes3) run(s);
        }
    }
}

// S12.7: bicubic per-tap padding near the edges of a 4x4 input (g = +-0.95 and around), and
// overshoot of a step edge.
TEST(DeterministicVsReference, BicubicNearEdges) {
    const Kernel bicubic{2, gs::Interpolation::bicubic};
    const int64_t shape[3] = {1, 4, 4};
    auto values = [](int64_t, bool) {
        return std::vector<double>{-1.05, -1.0, -0.95, -0.5, 0.0, 0.3, 0.5, 0.95, 1.0, 1.05};
    };
    const CheckStats st = check_product_grids(bicubic, 1, 3, shape, 300, values);
    EXPECT_GT(st.compared, 0);

    // A step edge: the cubic weights overshoot past 1 next to it, and the library must too.
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            Case cs;
            cs.kernel = bicubic;
            cs.padding = padding;
            cs.align_corners = true;
            cs.dtype = dtype;
            cs.seed = 301;
            cs.shape.n = 1;
            cs.shape.c = 1;
            cs.shape.in[1] = 4, cs.shape.in[2] = 4;
            cs.shape.out[1] = 1, cs.shape.out[2] = 7;
            ref::Array input(cs.shape.input_sizes());
            for (int64_t y = 0; y < 4; ++y) {
                for (int64_t x = 0; x < 4; ++x) input.at({0, 0, y, x}) = x >= 2 ? 1.0 : 0.0;
            }
            ref::Array grid(cs.shape.grid_sizes());
            for (int64_t i = 0; i < 7; ++i) {
                const double x = 1.25 + 0.25 * static_cast<double>(i);  // coordinates 1.25..2.75
                grid.at({0, 0, i, 0}) = to_dtype(grid_value_at(x, 4, true), dtype);
                grid.at({0, 0, i, 1}) = 0.0;
            }
            const ref::Array expected = run_reference(cs, input, grid);
            const double peak = *std::max_element(expected.data.begin(), expected.data.end());
            EXPECT_GT(peak, 1.0) << cs.describe() << "\n  the reference shows no overshoot";
            check_case(cs, input, grid);
        }
    }
}

// S12.5: sizes 1 and 2 on each axis independently, with random grids including non-finite and
// huge values (S = 1 with align_corners returns the single pixel for every g).
TEST(DeterministicVsReference, SizesOneAndTwo) {
    uint64_t seed = 400;
    for (const Kernel& kernel : kKernels) {
        const int64_t extents[] = {1, 2, 3};
        const int combos = kernel.dims == 2 ? 9 : 27;
        for (int i = 0; i < combos; ++i) {
            for (gs::Padding padding : kPaddings) {
                for (bool align_corners : {false, true}) {
                    for (gs::DType dtype : kDTypes) {
                        Case cs;
                        cs.kernel = kernel;
                        cs.padding = padding;
                        cs.align_corners = align_corners;
                        cs.dtype = dtype;
                        cs.seed = seed++;
                        cs.shape.dims = kernel.dims;
                        cs.shape.n = 2;
                        cs.shape.c = 2;
                        cs.shape.in[2] = extents[i % 3];
                        cs.shape.in[1] = extents[(i / 3) % 3];
                        if (kernel.dims == 3) cs.shape.in[0] = extents[i / 9];
                        cs.shape.out[2] = 4;
                        cs.shape.out[1] = 3;
                        if (kernel.dims == 3) cs.shape.out[0] = 2;
                        Rng rng(cs.seed);
                        const ref::Array input = random_input(cs, rng);
                        const ref::Array grid = random_grid(cs, rng, 0.4);
                        check_case(cs, input, grid);
                    }
                }
            }
        }
    }
}

// S7 / S12.8: NaN, +inf and -inf in x only, y only, z only and together, next to finite values,
// for every mode and padding, including axes of size 1.
TEST(DeterministicVsReference, NonFiniteGridValues) {
    auto values = [](int64_t, bool) {
        return std::vector<double>{kNaN, kInf, -kInf, 0.3, -1.0, 1.2};
    };
    const int64_t shapes2[][3] = {{1, 3, 4}, {1, 1, 3}, {1, 2, 1}};
    const int64_t shapes3[][3] = {{2, 3, 4}, {1, 2, 1}};
    uint64_t seed = 500;
    for (const Kernel& kernel : kKernels) {
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) check_product_grids(kernel, 1, 2, s, seed++, values);
        } else {
            for (const auto& s : shapes3) check_product_grids(kernel, 1, 2, s, seed++, values);
        }
    }
}

// S12.12: batch 1 with a larger image, C = 1 and C = 16.
TEST(DeterministicVsReference, LargeImage) {
    uint64_t seed = 600;
    for (const Kernel& kernel : kKernels) {
        for (int64_t c : {1, 16}) {
            Case cs = random_case(kernel, kPaddings[seed % 3], seed % 2 == 0,
                                  kDTypes[(seed / 3) % 2], Layout::contiguous, seed);
            ++seed;
            cs.shape.n = 1;
            cs.shape.c = c;
            if (kernel.dims == 2) {
                cs.shape.in[1] = 120, cs.shape.in[2] = 160;
                cs.shape.out[1] = 48, cs.shape.out[2] = 64;
            } else {
                cs.shape.in[0] = 20, cs.shape.in[1] = 24, cs.shape.in[2] = 32;
                cs.shape.out[0] = 10, cs.shape.out[1] = 12, cs.shape.out[2] = 16;
            }
            check_random_case(cs);
        }
    }
}

// S8 / S12.10: N = 0, C = 0 or an output spatial size 0 are valid and write nothing.
TEST(DeterministicVsReference, EmptyTensors) {
    for (const Kernel& kernel : kKernels) {
        for (gs::DType dtype : kDTypes) {
            const int variants = kernel.dims == 2 ? 4 : 5;  // N, C, then each output spatial size
            for (int which = 0; which < variants; ++which) {
                Case cs;
                cs.kernel = kernel;
                cs.dtype = dtype;
                cs.shape.dims = kernel.dims;
                cs.shape.n = 2;
                cs.shape.c = 3;
                cs.shape.in[0] = kernel.dims == 3 ? 3 : 1;
                cs.shape.in[1] = 4, cs.shape.in[2] = 5;
                cs.shape.out[0] = kernel.dims == 3 ? 2 : 1;
                cs.shape.out[1] = 3, cs.shape.out[2] = 2;
                if (which == 0) cs.shape.n = 0;
                if (which == 1) cs.shape.c = 0;
                if (which >= 2) cs.shape.out[2 - (which - 2)] = 0;  // Wo, Ho, then Do
                Rng rng(700 + static_cast<uint64_t>(which));
                const ref::Array input = random_input(cs, rng);
                const ref::Array grid = random_grid(cs, rng, 0.0);
                const LibraryResult got = run_library(cs, input, grid);
                EXPECT_TRUE(got.status.ok()) << cs.describe() << "\n  " << got.status.message();
                EXPECT_EQ(got.output.numel(), 0) << cs.describe();
                EXPECT_EQ(got.touched_outside, 0) << cs.describe() << "\n  wrote to an empty output";
            }
        }
    }
}

}  // namespace

namespace gridsample {
void PrintTo(Padding p, std::ostream* os) { *os << padding_name(p); }
void PrintTo(CpuIsa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace gridsample
