// gridsample::grid_sample_backward against the independent float64 reference
// (tests/reference: ref::grid_sample_backward, written from SEMANTICS.md S9 alone). Tolerances
// are S11's backward ones: float32 1e-4 and float64 1e-10, relative to the largest magnitude of
// the gradient compared. Covered: every mode x padding x align_corners x dims x dtype on random
// shapes with sizes 1 and 2 (S12.1, S12.5); every gradient selection (both, grad_input only,
// grad_grid only: the other is never written); the layouts of S8b (channels-last input,
// non-contiguous and stride-0 grids, non-contiguous and stride-0 grad_output, strided and
// channels-last gradients whose gaps must stay untouched; S12.11); border/reflection exactly at
// 0 and S-1 (S12.6); NaN/+-inf in each component for every mode and padding (S7, S12.8); huge
// values (S12.9); empty tensors (S12.10); every compiled CPU ISA; bit-identical results from run
// to run and for 1 and 2 threads, on every ISA (S9).
#include <gtest/gtest.h>

#include "forward_configs.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
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
// What is differentiated

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
const char* isa_name(gs::CpuIsa isa) { return gs::to_string(isa); }
std::string kernel_name(const Kernel& k) {
    return std::to_string(k.dims) + "d_" + mode_name(k.mode);
}
void PrintTo(const Kernel& k, std::ostream* os) { *os << kernel_name(k); }

// Which gradients a call asks for.
enum class Want { both, input_only, grid_only };
const Want kWants[] = {Want::both, Want::input_only, Want::grid_only};
const char* want_name(Want w) {
    switch (w) {
    case Want::both: return "both";
    case Want::input_only: return "grad_input_only";
    case Want::grid_only: return "grad_grid_only";
    }
    return "?";
}
bool wants_input(Want w) { return w != Want::grid_only; }
bool wants_grid(Want w) { return w != Want::input_only; }

// Memory layouts of S8b. "mixed" combines all of them at once.
enum class Layout {
    contiguous,
    channels_last_input,      // NHWC / NDHWC input
    permuted_grid,            // W-contiguous grid, as permuted from (N, 2, H, W)
    expanded_grid,            // stride 0 along the batch
    strided_grad_output,      // channels-last grad_output inside a padded buffer
    padded_gradients,         // gradients written into larger buffers; the gaps stay untouched
    channels_last_gradients,  // channels-last grad_input, component-planar grad_grid
    broadcast_grad_output,    // grad_output expanded over batch and channels (stride 0)
    scalar_grad_output,       // one grad_output value expanded everywhere (all strides 0), as
                              // torch's backward of out.sum() passes it
    mixed,
};
const Layout kLayouts[] = {Layout::contiguous,          Layout::channels_last_input,
                           Layout::permuted_grid,       Layout::expanded_grid,
                           Layout::strided_grad_output, Layout::padded_gradients,
                           Layout::channels_last_gradients, Layout::broadcast_grad_output,
                           Layout::scalar_grad_output,  Layout::mixed};
const char* layout_name(Layout l) {
    switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::channels_last_input: return "channels_last_input";
    case Layout::permuted_grid: return "permuted_grid";
    case Layout::expanded_grid: return "expanded_grid";
    case Layout::strided_grad_output: return "strided_grad_output";
    case Layout::padded_gradients: return "padded_gradients";
    case Layout::channels_last_gradients: return "channels_last_gradients";
    case Layout::broadcast_grad_output: return "broadcast_grad_output";
    case Layout::scalar_grad_output: return "scalar_grad_output";
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
    int64_t points() const { return out[0] * out[1] * out[2]; }
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
    Want want = Want::both;
    Shape shape;
    uint64_t seed = 0;  // drives the data and the layout paddings

    gs::Options options() const { return {kernel.mode, padding, align_corners}; }
    std::string describe() const {
        std::ostringstream os;
        os << kernel_name(kernel) << " padding=" << padding_name(padding)
           << " align_corners=" << align_corners << " dtype=" << dtype_name(dtype)
           << " layout=" << layout_name(layout) << " want=" << want_name(want)
           << " input=" << sizes_string(shape.input_sizes())
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
// each dimension's extent; the first `expanded` dimensions get a stride of 0 (by default the
// batch if expand_batch).
StridedLayout make_layout(const std::vector<int64_t>& sizes, const std::vector<int>& order,
                          const std::vector<int64_t>& pads, int64_t offset, bool expand_batch,
                          int expanded = -1) {
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
    StridedLayout grad_output, input, grid, grad_input, grad_grid;
};

// How many leading dimensions of grad_output have stride 0 in a layout.
int grad_output_expanded_dims(Layout l, int rank) {
    if (l == Layout::broadcast_grad_output) return 2;
    if (l == Layout::scalar_grad_output) return rank;
    return 0;
}

CaseLayouts layouts_for(const Case& cs) {
    Rng rng(mix_seed(cs.seed, 77));
    const Shape& s = cs.shape;
    const int rank = s.dims + 2;
    auto identity = [&] {
        std::vector<int> order(static_cast<size_t>(rank));
        for (int i = 0; i < rank; ++i) order[static_cast<size_t>(i)] = i;
        return order;
    };
    // (N, C, spatial...) -> (N, spatial..., C) in memory.
    auto channels_last = [&] {
        std::vector<int> order = identity();
        order.erase(order.begin() + 1);
        order.push_back(1);
        return order;
    };
    // (N, spatial..., k) -> (N, k, spatial...) in memory.
    auto component_planar = [&] {
        std::vector<int> order = identity();
        order.pop_back();
        order.insert(order.begin() + 1, rank - 1);
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

    CaseLayouts out;
    const bool cl_input = l == Layout::channels_last_input || mixed;
    out.input = make_layout(s.input_sizes(), cl_input ? channels_last() : identity(),
                            mixed ? random_pads() : no_pads, mixed ? uniform_int(rng, 1, 7) : 0,
                            false);
    const bool planar_grid = l == Layout::permuted_grid || mixed;
    const bool expand = l == Layout::expanded_grid || mixed;
    out.grid = make_layout(s.grid_sizes(), planar_grid ? component_planar() : identity(),
                           mixed ? random_pads() : no_pads, mixed ? uniform_int(rng, 1, 7) : 0,
                           expand);
    const bool strided_go = l == Layout::strided_grad_output || mixed;
    out.grad_output =
        make_layout(s.output_sizes(), strided_go ? channels_last() : identity(),
                    strided_go ? random_pads() : no_pads, strided_go ? uniform_int(rng, 1, 7) : 0,
                    false, grad_output_expanded_dims(l, rank));
    const bool padded = l == Layout::padded_gradients || mixed;
    const bool cl_grads = l == Layout::channels_last_gradients || mixed;
    out.grad_input = make_layout(s.input_sizes(), cl_grads ? channels_last() : identity(),
                                 padded ? random_pads() : no_pads,
                                 padded ? uniform_int(rng, 1, 7) : 0, false);
    out.grad_grid = make_layout(s.grid_sizes(), cl_grads ? component_planar() : identity(),
                                padded ? random_pads() : no_pads,
                                padded ? uniform_int(rng, 1, 7) : 0, false);
    return out;
}

bool grid_is_expanded(Layout l) { return l == Layout::expanded_grid || l == Layout::mixed; }

// ------------------------------------------------------------------------------------------------
// Running the library

// One gradient read back from the library: the values through the view's strides, the whole
// storage (for bit comparisons) and how many storage elements outside the view changed.
struct GradientResult {
    ref::Array values;
    std::vector<unsigned char> bytes;
    int64_t touched_outside = 0;
    int64_t touched_inside = 0;  // elements of the view that changed (for a gradient not asked for)
};

struct LibraryResult {
    gs::Status status;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    GradientResult grad_input, grad_grid;
};

template <typename T>
T sentinel() {
    return static_cast<T>(-7777.125);
}

template <typename T>
GradientResult read_back(const std::vector<T>& storage, const StridedLayout& l,
                         const std::vector<int64_t>& shape) {
    GradientResult r;
    r.values = ref::Array(shape);
    std::vector<char> inside(storage.size(), 0);
    const T s = sentinel<T>();
    for_each_element(l, [&](int64_t flat, int64_t pos) {
        const T v = storage[static_cast<size_t>(pos)];
        r.values.data[static_cast<size_t>(flat)] = static_cast<double>(v);
        inside[static_cast<size_t>(pos)] = 1;
        if (std::memcmp(&v, &s, sizeof(T)) != 0) ++r.touched_inside;
    });
    for (size_t i = 0; i < storage.size(); ++i) {
        if (!inside[i] && std::memcmp(&storage[i], &s, sizeof(T)) != 0) ++r.touched_outside;
    }
    r.bytes.resize(storage.size() * sizeof(T));
    std::memcpy(r.bytes.data(), storage.data(), r.bytes.size());
    return r;
}

template <typename T>
LibraryResult run_library_typed(const Case& cs, const ref::Array& grad_output,
                                const ref::Array& input, const ref::Array& grid) {
    const CaseLayouts l = layouts_for(cs);
    auto fill = [](const StridedLayout& sl, const ref::Array& a) {
        std::vector<T> storage(static_cast<size_t>(sl.storage_size), sentinel<T>());
        // With an expanded grid every batch writes the same elements; the grids are equal then.
        for_each_element(sl, [&](int64_t flat, int64_t pos) {
            storage[static_cast<size_t>(pos)] = static_cast<T>(a.data[static_cast<size_t>(flat)]);
        });
        return storage;
    };
    std::vector<T> go_storage = fill(l.grad_output, grad_output);
    std::vector<T> in_storage = fill(l.input, input);
    std::vector<T> grid_storage = fill(l.grid, grid);
    std::vector<T> gi_storage(static_cast<size_t>(l.grad_input.storage_size), sentinel<T>());
    std::vector<T> gg_storage(static_cast<size_t>(l.grad_grid.storage_size), sentinel<T>());

    const gs::DType dtype = sizeof(T) == 4 ? gs::DType::float32 : gs::DType::float64;
    auto view = [&](std::vector<T>& storage, const StridedLayout& sl) {
        return gs::TensorView::make(storage.data() + sl.offset, dtype,
                                    static_cast<int32_t>(sl.sizes.size()), sl.sizes.data(),
                                    sl.strides.data());
    };
    const gs::TensorView gi = view(gi_storage, l.grad_input), gg = view(gg_storage, l.grad_grid);
    LibraryResult r;
    r.status = gs::grid_sample_backward(view(go_storage, l.grad_output), view(in_storage, l.input),
                                        view(grid_storage, l.grid),
                                        wants_input(cs.want) ? &gi : nullptr,
                                        wants_grid(cs.want) ? &gg : nullptr, cs.options());
    r.isa = gs::last_dispatched_cpu_isa();
    r.grad_input = read_back(gi_storage, l.grad_input, cs.shape.input_sizes());
    r.grad_grid = read_back(gg_storage, l.grad_grid, cs.shape.grid_sizes());
    return r;
}

LibraryResult run_library(const Case& cs, const ref::Array& grad_output, const ref::Array& input,
                          const ref::Array& grid) {
    return cs.dtype == gs::DType::float32
               ? run_library_typed<float>(cs, grad_output, input, grid)
               : run_library_typed<double>(cs, grad_output, input, grid);
}

ref::Gradients run_reference(const Case& cs, const ref::Array& grad_output,
                             const ref::Array& input, const ref::Array& grid) {
    return ref::grid_sample_backward(grad_output, input, grid, static_cast<int>(cs.kernel.mode),
                                     static_cast<int>(cs.padding), cs.align_corners);
}

// ------------------------------------------------------------------------------------------------
// Tolerances (S11) and the points that cannot be compared exactly

// S2 in float64 (the reference's coordinate).
double unnormalized(double g, int64_t size, bool align_corners) {
    if (std::isnan(g)) g = -1.0;
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : (g + 1.0) / 2.0 * (s - 1.0);
    return ((g + 1.0) * s - 1.0) / 2.0;
}

// S2 evaluated in the case's dtype, as (g + 1) * scale - shift: when this equals the float64
// coordinate, the library's coordinate is exact and every comparison can be exact too.
template <typename T>
double unnormalized_in(double g_value, int64_t size, bool align_corners) {
    T g = static_cast<T>(g_value);
    if (std::isnan(g)) g = T(-1);
    const T s = static_cast<T>(size);
    const T scale = (align_corners ? s - T(1) : s) * T(0.5);
    if (scale == T(0)) return 0.0;
    return static_cast<double>((g + T(1)) * scale - (align_corners ? T(0) : T(0.5)));
}

double reflect(double x, double lo, double hi) {
    const double span = hi - lo;
    if (span == 0.0) return 0.0;
    const double d = std::fabs(x - lo);
    const double flips = std::floor(d / span);
    const double extra = std::fmod(d, span);
    return std::fmod(flips, 2.0) == 0.0 ? lo + extra : hi - extra;
}

struct AxisPrecision {
    double error = 0.0;  // how far (pixels) the library's coordinate may be from the reference's
    bool kink = false;   // bilinear: a derivative jump lies within that error
};

// How precisely the library can know one axis' coordinate of a point, and whether a bilinear
// derivative jump (an integer coordinate, a border edge, a reflection fold) lies within reach.
AxisPrecision axis_precision(const Case& cs, double g, int64_t size) {
    AxisPrecision p;
    const bool f32 = cs.dtype == gs::DType::float32;
    const double x = unnormalized(g, size, cs.align_corners);
    if (!std::isfinite(x)) return p;  // S7 policy: exact
    const double lib = f32 ? unnormalized_in<float>(g, size, cs.align_corners)
                           : unnormalized_in<double>(g, size, cs.align_corners);
    if (lib == x && std::fabs(x) < 4096.0) return p;  // the library's coordinate is exact
    const double s = static_cast<double>(size);
    const double eps = f32 ? 0x1p-23 : 0x1p-52;
    double e = 4.0 * (std::fabs(x) + 1.0) * eps;
    const bool reflection = cs.padding == gs::Padding::reflection;
    // Beyond the reach of any tap, zeros and border are exact again.
    if (!reflection && (x < -3.0 || x > s + 2.0)) return p;
    // S7: bicubic centres beyond 2^30 follow the infinity rule, exactly.
    if (cs.kernel.mode == gs::Interpolation::bicubic && std::fabs(x) > 0x1p30) return p;
    // S11: far outside with reflection, precision is that of the coordinate.
    if (reflection && std::fabs(g) > 10.0) e *= 4.0;
    p.error = e;
    if (cs.kernel.mode != gs::Interpolation::bilinear) return p;
    double c = x;  // where the derivative jumps: integers of the padded coordinate
    if (reflection) {
        const double lo = cs.align_corners ? 0.0 : -0.5;
        c = reflect(x, lo, cs.align_corners ? s - 1.0 : s - 0.5);
    }
    const double to_integer = std::fabs(c - std::nearbyint(c));
    // Border: outside [0, S-1] the coordinate is clipped and the gradient is exactly 0.
    const bool clipped = cs.padding == gs::Padding::border && (x < -2 * e || x > s - 1.0 + 2 * e);
    p.kink = !clipped && to_integer <= 2.0 * e;
    return p;
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

double max_abs(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
}

void report(CheckStats& st, const std::string& what) {
    constexpr int kMaxReports = 5;
    if (++st.failures <= kMaxReports) ADD_FAILURE() << what;
}

// Compares the library's gradients with the reference's, element by element.
CheckStats compare(const Case& cs, const ref::Array& grad_output, const ref::Array& input,
                   const ref::Array& grid, const ref::Gradients& expected,
                   const LibraryResult& got) {
    CheckStats st;
    const bool f32 = cs.dtype == gs::DType::float32;
    const double rel = f32 ? 1e-4 : 1e-10;
    const Shape& s = cs.shape;
    const int64_t points = s.points();
    const double max_input = max_abs(input.data);
    double max_scale = 0.0;
    for (int k = 0; k < s.dims; ++k) {
        max_scale = std::max(max_scale, static_cast<double>(s.axis_size(k)) / 2.0);
    }
    const double slope = cs.kernel.mode == gs::Interpolation::bicubic ? 6.0 : 2.0;
    const int taps = cs.kernel.mode == gs::Interpolation::bicubic ? 16
                     : cs.kernel.mode == gs::Interpolation::nearest ? 1
                                                                     : (1 << s.dims);

    // Per point: the coordinate error, bilinear kinks, and |grad_output| summed over channels.
    const double eps = f32 ? 0x1p-23 : 0x1p-52;
    // grad_input tolerance from imprecise coordinates (f32 far out) and from rounding.
    double input_extra = 64.0 * eps * max_abs(grad_output.data);
    std::vector<double> point_extra(static_cast<size_t>(s.n * points), 0.0);
    std::vector<char> point_kink(static_cast<size_t>(s.n * points), 0);
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p = 0; p < points; ++p) {
            const double* g = &grid.data[static_cast<size_t>((n * points + p) * s.dims)];
            double error = 0.0;
            bool kink = false;
            for (int k = 0; k < s.dims; ++k) {
                const AxisPrecision ap = axis_precision(cs, g[k], s.axis_size(k));
                error += ap.error;
                kink = kink || ap.kink;
            }
            double go_sum = 0.0, go_max = 0.0;
            for (int64_t c = 0; c < s.c; ++c) {
                const double v = std::fabs(
                    grad_output.data[static_cast<size_t>((n * s.c + c) * points + p)]);
                go_sum += v;
                go_max = std::max(go_max, v);
            }
            const size_t at = static_cast<size_t>(n * points + p);
            point_kink[at] = kink;
            // Plus float rounding of the sums themselves: where the exact gradient is 0 by
            // cancellation (e.g. every bicubic tap clipped onto one pixel), the largest
            // gradient magnitude is itself rounding noise.
            point_extra[at] = (16.0 * error + 64.0 * eps) * max_input * go_sum *
                              std::max(max_scale, 1.0);
            if (error * slope > 1e-5) input_extra += slope * error * go_max * taps;
        }
    }

    if (wants_input(cs.want)) {
        const ref::Array& e = expected.grad_input;
        const ref::Array& v = got.grad_input.values;
        const double tol = rel * max_abs(e.data) + input_extra + 1e-300;
        for (size_t i = 0; i < e.data.size(); ++i) {
            ++st.compared;
            const bool finite = std::isfinite(v.data[i]);
            if (finite && std::fabs(v.data[i] - e.data[i]) <= tol) continue;
            std::ostringstream os;
            os.precision(17);
            os << cs.describe() << "\n  grad_input at flat index " << i
               << " (N, C, [D,] H, W order): expected=" << e.data[i] << " got=" << v.data[i]
               << " |diff|=" << std::fabs(v.data[i] - e.data[i]) << " tol=" << tol
               << (finite ? "" : " [not finite]");
            report(st, os.str());
        }
    } else {
        EXPECT_EQ(got.grad_input.touched_inside, 0) << cs.describe() << "\n  grad_input was not asked for";
    }
    EXPECT_EQ(got.grad_input.touched_outside, 0)
        << cs.describe() << "\n  grad_input storage outside the view was written";

    if (wants_grid(cs.want)) {
        const ref::Array& e = expected.grad_grid;
        const ref::Array& v = got.grad_grid.values;
        const double base = rel * max_abs(e.data) + 1e-300;
        for (int64_t n = 0; n < s.n; ++n) {
            for (int64_t p = 0; p < points; ++p) {
                const size_t pt = static_cast<size_t>(n * points + p);
                const double* g = &grid.data[pt * static_cast<size_t>(s.dims)];
                for (int k = 0; k < s.dims; ++k) {
                    const size_t i = pt * static_cast<size_t>(s.dims) + static_cast<size_t>(k);
                    const bool finite = std::isfinite(v.data[i]);
                    if (point_kink[pt] && finite) {
                        ++st.skipped;
                        continue;
                    }
                    ++st.compared;
                    const double tol = base + point_extra[pt];
                    if (finite && std::fabs(v.data[i] - e.data[i]) <= tol) continue;
                    std::ostringstream os;
                    os.precision(17);
                    os << cs.describe() << "\n  grad_grid at n=" << n << " point=" << p
                       << " component=" << k << " grid=" << grid_point_string(g, s.dims)
                       << "\n  expected=" << e.data[i] << " got=" << v.data[i]
                       << " |diff|=" << std::fabs(v.data[i] - e.data[i]) << " tol=" << tol
                       << (finite ? "" : " [not finite]");
                    report(st, os.str());
                }
            }
        }
    } else {
        EXPECT_EQ(got.grad_grid.touched_inside, 0) << cs.describe() << "\n  grad_grid was not asked for";
    }
    EXPECT_EQ(got.grad_grid.touched_outside, 0)
        << cs.describe() << "\n  grad_grid storage outside the view was written";
    if (st.failures > 5) {
        ADD_FAILURE() << cs.describe() << "\n  ... " << st.failures << " mismatches in all";
    }
    return st;
}

// Nearest (S5, S11): where a coordinate is within rounding reach of a tie (and not exactly on
// one that the library computes exactly), the whole contribution of the point may go to either
// neighbour. Such points get grad_output 0, which takes them out of both results.
ref::Array without_nearest_near_ties(const Case& cs, const ref::Array& grad_output,
                                     const ref::Array& grid) {
    if (cs.kernel.mode != gs::Interpolation::nearest) return grad_output;
    const bool f32 = cs.dtype == gs::DType::float32;
    const Shape& s = cs.shape;
    const int64_t points = s.points();
    // Which points are near a tie, per batch item.
    std::vector<char> near(static_cast<size_t>(s.n * points), 0);
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p = 0; p < points; ++p) {
            const double* g = &grid.data[static_cast<size_t>((n * points + p) * s.dims)];
            bool near_tie = false;
            for (int k = 0; k < s.dims; ++k) {
                const int64_t size = s.axis_size(k);
                const double x = unnormalized(g[k], size, cs.align_corners);
                if (!std::isfinite(x)) continue;
                const double sz = static_cast<double>(size);
                double c = x;
                if (cs.padding == gs::Padding::border) c = std::min(sz - 1.0, std::max(x, 0.0));
                if (cs.padding == gs::Padding::reflection) {
                    const double lo = cs.align_corners ? 0.0 : -0.5;
                    c = std::min(sz - 1.0,
                                 std::max(reflect(x, lo, cs.align_corners ? sz - 1.0 : sz - 0.5), 0.0));
                }
                const double lib = f32 ? unnormalized_in<float>(g[k], size, cs.align_corners)
                                       : unnormalized_in<double>(g[k], size, cs.align_corners);
                const bool exact = lib == x && std::fabs(x) < 0x1p20;
                const double eps = f32 ? 0x1p-23 : 0x1p-52;
                double e = 4.0 * (std::fabs(x) + 1.0) * eps;
                if (cs.padding == gs::Padding::reflection && std::fabs(g[k]) > 10.0) e *= 4.0;
                const double to_tie = std::fabs(c - std::floor(c) - 0.5);
                if (!exact && to_tie < (f32 ? 1e-4 : 1e-9) + e) near_tie = true;
            }
            near[static_cast<size_t>(n * points + p)] = near_tie;
        }
    }
    // An expanded grad_output stores one value for all its stride-0 indices: mask alike there.
    const int expanded = grad_output_expanded_dims(cs.layout, s.dims + 2);
    bool any = false;
    for (char v : near) any = any || v;
    ref::Array masked = grad_output;
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p = 0; p < points; ++p) {
            bool mask = near[static_cast<size_t>(n * points + p)];
            if (expanded >= 1) {
                for (int64_t m = 0; m < s.n; ++m) mask = mask || near[static_cast<size_t>(m * points + p)];
            }
            if (expanded > 2) mask = any;
            if (!mask) continue;
            for (int64_t c = 0; c < s.c; ++c) {
                masked.data[static_cast<size_t>((n * s.c + c) * points + p)] = 0.0;
            }
        }
    }
    return masked;
}

struct CaseOutcome {
    CheckStats stats;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    bool ran = false;
    LibraryResult result;
};

CaseOutcome check_case(const Case& cs, const ref::Array& unmasked_grad_output,
                       const ref::Array& input, const ref::Array& grid) {
    const ref::Array grad_output = without_nearest_near_ties(cs, unmasked_grad_output, grid);
    CaseOutcome out;
    out.result = run_library(cs, grad_output, input, grid);
    EXPECT_TRUE(out.result.status.ok())
        << cs.describe() << "\n  status: " << out.result.status.message();
    if (!out.result.status.ok()) return out;
    out.ran = true;
    out.isa = out.result.isa;
    out.stats = compare(cs, grad_output, input, grid, run_reference(cs, grad_output, input, grid),
                        out.result);
    return out;
}

// ------------------------------------------------------------------------------------------------
// Random data

// Values are rounded to the case's dtype here, so the reference sees exactly what the library
// reads.
double to_dtype(double v, gs::DType dtype) {
    return dtype == gs::DType::float32 ? static_cast<double>(static_cast<float>(v)) : v;
}

ref::Array random_array(const std::vector<int64_t>& shape, gs::DType dtype, Rng& rng) {
    ref::Array a(shape);
    const double scales[] = {1.0, 1.0, 1.0, 1000.0, 1e-3};
    const double scale = scales[uniform_int(rng, 0, 4)];
    for (double& v : a.data) v = to_dtype(uniform(rng, -1.0, 1.0) * scale, dtype);
    return a;
}

// The grid value whose coordinate is x.
double grid_value_at(double x, int64_t size, bool align_corners) {
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : 2.0 * x / (s - 1.0) - 1.0;
    return (2.0 * x + 1.0) / s - 1.0;
}

// Mostly uniform in [-1.3, 1.3]; with probability `special` one of the S7/S12 values, a pixel
// centre or a pixel edge (exactly, where the size allows).
double random_grid_value(Rng& rng, int64_t size, bool align_corners, double special) {
    if (uniform(rng, 0.0, 1.0) >= special) return uniform(rng, -1.3, 1.3);
    static const double kSpecial[] = {kNaN, kInf,  -kInf,  -1.0, 0.0,   1.0, 1.0001, -1.0001,
                                      1.5,  -1.5,  3.5,    -3.5, 100.,  -100., 1e6, -1e6,
                                      1e20, -1e20, 1e30,   -1e30};
    constexpr int64_t kCount = sizeof(kSpecial) / sizeof(kSpecial[0]);
    const int64_t pick = uniform_int(rng, 0, kCount + 1);
    if (pick < kCount) return kSpecial[pick];
    const double k = static_cast<double>(uniform_int(rng, -1, size));
    return grid_value_at(pick == kCount ? k : k + 0.5, size, align_corners);
}

// Nearest: a grid value near a rounding tie moves the whole contribution to the neighbour; keep
// random values 1e-3 pixels away from ties unless they sit on one exactly (handled by S5 alike).
double away_from_ties(double g, int64_t size, bool align_corners, gs::DType dtype) {
    for (int i = 0; i < 8; ++i) {
        const double x = unnormalized(g, size, align_corners);
        if (!std::isfinite(x) || std::fabs(x) > 1e6) return g;
        const double to_tie = std::fabs(x - std::floor(x) - 0.5);
        const double lib = dtype == gs::DType::float32 ? unnormalized_in<float>(g, size, align_corners)
                                                       : unnormalized_in<double>(g, size, align_corners);
        if (to_tie > 1e-3 || (to_tie == 0.0 && lib == x)) return g;
        g = to_dtype(g + 0.01 / static_cast<double>(size), dtype);
    }
    return g;
}

ref::Array random_grid(const Case& cs, Rng& rng, double special) {
    ref::Array a(cs.shape.grid_sizes());
    const int dims = cs.kernel.dims;
    for (size_t i = 0; i < a.data.size(); ++i) {
        const int k = static_cast<int>(i % static_cast<size_t>(dims));
        const int64_t size = cs.shape.axis_size(k);
        double g = to_dtype(random_grid_value(rng, size, cs.align_corners, special), cs.dtype);
        if (cs.kernel.mode == gs::Interpolation::nearest) {
            g = away_from_ties(g, size, cs.align_corners, cs.dtype);
        }
        a.data[i] = g;
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
    // Channel counts below, at and above every ISA's channel block (4 to 16 lanes).
    const int64_t channel_choices[] = {1, 2, 3, 5, 8, 17};
    s.c = channel_choices[uniform_int(rng, 0, 5)];
    const int64_t in_max = dims == 2 ? 9 : 6;
    const int64_t out_max = dims == 2 ? 7 : 5;
    for (int d = 3 - dims; d < 3; ++d) {
        s.in[d] = random_extent(rng, in_max);
        s.out[d] = random_extent(rng, out_max);
    }
    return s;
}

Case random_case(const Kernel& kernel, gs::Padding padding, bool align_corners, gs::DType dtype,
                 Layout layout, Want want, uint64_t seed) {
    Case cs;
    cs.kernel = kernel;
    cs.padding = padding;
    cs.align_corners = align_corners;
    cs.dtype = dtype;
    cs.layout = layout;
    cs.want = want;
    cs.seed = seed;
    Rng rng(seed);
    cs.shape = random_shape(kernel.dims, rng);
    return cs;
}

struct CaseData {
    ref::Array grad_output, input, grid;
};

CaseData random_data(const Case& cs, double special) {
    Rng rng(mix_seed(cs.seed, 1));
    CaseData d;
    d.input = random_array(cs.shape.input_sizes(), cs.dtype, rng);
    d.grad_output = random_array(cs.shape.output_sizes(), cs.dtype, rng);
    d.grid = random_grid(cs, rng, special);
    // An expanded grad_output holds the same values along its stride-0 dimensions.
    const int expanded = grad_output_expanded_dims(cs.layout, cs.shape.dims + 2);
    if (expanded > 0) {
        const std::vector<int64_t> sizes = cs.shape.output_sizes();
        int64_t repeat = 1;  // elements per index of the expanded dimensions
        for (size_t k = static_cast<size_t>(expanded); k < sizes.size(); ++k) repeat *= sizes[k];
        for (size_t i = 0; i < d.grad_output.data.size(); ++i) {
            d.grad_output.data[i] = d.grad_output.data[i % static_cast<size_t>(std::max<int64_t>(repeat, 1))];
        }
    }
    return d;
}

CaseOutcome check_random_case(const Case& cs) {
    const double specials[] = {0.0, 0.1, 0.35};
    const CaseData d = random_data(cs, specials[cs.seed % 3]);
    return check_case(cs, d.grad_output, d.input, d.grid);
}

// ------------------------------------------------------------------------------------------------
// Randomized: every kernel x padding (one test each); align_corners x dtype x layout x gradient
// selection inside.

class RandomBackward : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(RandomBackward, MatchesReference) {
    const auto [kernel, padding] = GetParam();
    const uint64_t test_seed = 21000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    int64_t compared = 0;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kDTypes) {
            for (Layout layout : kLayouts) {
                for (int rep = 0; rep < 4; ++rep) {
                    const Want want = kWants[index % 3];
                    const Case cs = random_case(kernel, padding, align_corners, dtype, layout, want,
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

INSTANTIATE_TEST_SUITE_P(AllKernels, RandomBackward,
                         ::testing::Combine(::testing::ValuesIn(kKernels),
                                            ::testing::ValuesIn(kPaddings)),
                         kernel_padding_name);

// ------------------------------------------------------------------------------------------------
// Every compiled CPU variant: the dispatcher is limited to each ISA in turn. Each case also runs
// twice and must give the same bits (S9).

class CpuIsaBackward : public ::testing::TestWithParam<std::tuple<gs::CpuIsa, Kernel>> {
protected:
    void TearDown() override { gs::set_max_cpu_isa(gs::kHighestCpuIsa); }
};

TEST_P(CpuIsaBackward, MatchesReferenceAndRepeatsBitForBit) {
    const auto [isa, kernel] = GetParam();
    gs::set_max_cpu_isa(isa);
    const uint64_t test_seed = 25000u + 1000u * static_cast<uint64_t>(isa) +
                               10u * static_cast<uint64_t>(kernel.dims) +
                               static_cast<uint64_t>(kernel.mode);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    bool first = true;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            for (int rep = 0; rep < 2; ++rep) {
                const uint64_t seed = mix_seed(test_seed, index++);
                const Layout layout = kLayouts[seed % (sizeof(kLayouts) / sizeof(kLayouts[0]))];
                Case cs = random_case(kernel, padding, (index % 2) == 0, dtype, layout, Want::both,
                                      seed);
                cs.shape.c = rep == 0 ? 3 : 21;  // below and above every channel block
                CaseData d = random_data(cs, 0.1);
                d.grad_output = without_nearest_near_ties(cs, d.grad_output, d.grid);
                const CaseOutcome outcome = check_case(cs, d.grad_output, d.input, d.grid);
                if (!outcome.ran) continue;
                if (first && outcome.isa < isa) {
                    GTEST_SKIP() << "this CPU does not support " << isa_name(isa)
                                 << "; the dispatcher ran " << isa_name(outcome.isa);
                }
                first = false;
                ASSERT_EQ(outcome.isa, isa) << cs.describe();
                const LibraryResult again = run_library(cs, d.grad_output, d.input, d.grid);
                EXPECT_TRUE(again.grad_input.bytes == outcome.result.grad_input.bytes)
                    << cs.describe() << "\n  grad_input differs between two identical calls";
                EXPECT_TRUE(again.grad_grid.bytes == outcome.result.grad_grid.bytes)
                    << cs.describe() << "\n  grad_grid differs between two identical calls";
            }
        }
    }
    EXPECT_FALSE(first) << "no kernel call succeeded";
}

std::string isa_kernel_name(const ::testing::TestParamInfo<std::tuple<gs::CpuIsa, Kernel>>& info) {
    return std::string(isa_name(std::get<0>(info.param))) + "_" +
           kernel_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, CpuIsaBackward,
                         ::testing::Combine(::testing::ValuesIn(gridsample_test::all_cpu_isas()),
                                            ::testing::ValuesIn(kKernels)),
                         isa_kernel_name);

// ------------------------------------------------------------------------------------------------
// Determinism (S9), for every compiled ISA: 1 and 2 threads, and repeated runs, give identical
// bits, with many output points landing on the same input pixels (a shrinking grid) and several
// channel blocks and batches, so that the scatter's tasks really run in parallel.

class DeterministicBackward : public ::testing::TestWithParam<std::tuple<gs::CpuIsa, Kernel>> {
protected:
    void TearDown() override {
        gs::set_num_threads(0);
        gs::set_max_cpu_isa(gs::kHighestCpuIsa);
    }
};

TEST_P(DeterministicBackward, BitIdenticalAcrossThreadCountsAndRuns) {
    const auto [isa, kernel] = GetParam();
    gs::set_max_cpu_isa(isa);
    const uint64_t test_seed = 29000u + 10u * static_cast<uint64_t>(kernel.dims) +
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
            cs.shape.n = 3;
            cs.shape.c = 37;
            if (kernel.dims == 2) {
                cs.shape.in[1] = 13, cs.shape.in[2] = 11;
                cs.shape.out[1] = 40, cs.shape.out[2] = 33;
            } else {
                cs.shape.in[0] = 5, cs.shape.in[1] = 6, cs.shape.in[2] = 7;
                cs.shape.out[0] = 7, cs.shape.out[1] = 8, cs.shape.out[2] = 9;
            }
            CaseData d = random_data(cs, 0.05);
            d.grad_output = without_nearest_near_ties(cs, d.grad_output, d.grid);
            gs::set_num_threads(1);
            const LibraryResult one = run_library(cs, d.grad_output, d.input, d.grid);
            gs::set_num_threads(2);
            const LibraryResult two = run_library(cs, d.grad_output, d.input, d.grid);
            const LibraryResult again = run_library(cs, d.grad_output, d.input, d.grid);
            ASSERT_TRUE(one.status.ok() && two.status.ok() && again.status.ok()) << cs.describe();
            if (one.isa < isa) GTEST_SKIP() << "this CPU does not support " << isa_name(isa);
            ASSERT_EQ(one.isa, isa);
            EXPECT_TRUE(one.grad_input.bytes == two.grad_input.bytes)
                << cs.describe() << "\n  grad_input: 1 and 2 threads give different bits";
            EXPECT_TRUE(one.grad_grid.bytes == two.grad_grid.bytes)
                << cs.describe() << "\n  grad_grid: 1 and 2 threads give different bits";
            EXPECT_TRUE(two.grad_input.bytes == again.grad_input.bytes)
                << cs.describe() << "\n  grad_input differs from run to run";
            EXPECT_TRUE(two.grad_grid.bytes == again.grad_grid.bytes)
                << cs.describe() << "\n  grad_grid differs from run to run";
            compare(cs, d.grad_output, d.input, d.grid,
                    run_reference(cs, d.grad_output, d.input, d.grid), two);
        }
    }
}


INSTANTIATE_TEST_SUITE_P(AllIsas, DeterministicBackward,
                         ::testing::Combine(::testing::ValuesIn(gridsample_test::all_cpu_isas()),
                                            ::testing::ValuesIn(kKernels)),
                         isa_kernel_name);

// ------------------------------------------------------------------------------------------------
// Deterministic edge cases (S12). Each runs every padding x align_corners x dtype on the kernels
// it names, with grids built from per-axis value lists, asking for both gradients.

// A grid holding the cartesian product of per-axis values (x varies fastest), for batch n
// repeated. values[k] is the list for grid component k (x, y, z).
ref::Array product_grid(const Shape& s, const std::vector<std::vector<double>>& values,
                        gs::DType dtype) {
    ref::Array grid(s.grid_sizes());
    size_t at = 0;
    for (int64_t b = 0; b < s.n; ++b) {
        for (int64_t z = 0; z < s.out[0]; ++z) {
            for (int64_t y = 0; y < s.out[1]; ++y) {
                for (int64_t x = 0; x < s.out[2]; ++x) {
                    grid.data[at++] = to_dtype(values[0][static_cast<size_t>(x)], dtype);
                    grid.data[at++] = to_dtype(values[1][static_cast<size_t>(y)], dtype);
                    if (s.dims == 3) grid.data[at++] = to_dtype(values[2][static_cast<size_t>(z)], dtype);
                }
            }
        }
    }
    return grid;
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
                Case cs;
                cs.kernel = kernel;
                cs.padding = padding;
                cs.align_corners = align_corners;
                cs.dtype = dtype;
                cs.seed = seed;
                cs.shape.dims = kernel.dims;
                cs.shape.n = n;
                cs.shape.c = c;
                std::vector<std::vector<double>> values;
                for (int k = 0; k < kernel.dims; ++k) {
                    values.push_back(make_values(in_dhw[2 - k], align_corners));
                }
                for (int d = 0; d < 3; ++d) cs.shape.in[d] = in_dhw[d];
                cs.shape.out[2] = static_cast<int64_t>(values[0].size());
                cs.shape.out[1] = static_cast<int64_t>(values[1].size());
                cs.shape.out[0] = kernel.dims == 3 ? static_cast<int64_t>(values[2].size()) : 1;
                Rng rng(seed);
                const ref::Array input = random_array(cs.shape.input_sizes(), dtype, rng);
                const ref::Array grad_output = random_array(cs.shape.output_sizes(), dtype, rng);
                const ref::Array grid = product_grid(cs.shape, values, dtype);
                const CheckStats st = check_case(cs, grad_output, input, grid).stats;
                total.compared += st.compared;
                total.skipped += st.skipped;
                total.failures += st.failures;
            }
        }
    }
    return total;
}

// S12.2, S12.6: grid values at -1, 0, +1, every pixel centre and pixel edge (exact in binary on
// these sizes), which puts border/reflection coordinates exactly on 0 and S-1, where S9 counts
// the edges as clipped; plus the fade halo, far outside, and huge (S12.4, S12.9).
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

TEST(EdgeCasesBackward, SpecialGridValues) {
    // Sizes whose coordinates are exact for one align_corners or the other (S or S - 1 a power
    // of two), and sizes 1 and 2.
    const int64_t shapes2[][3] = {{1, 5, 4}, {1, 1, 2}, {1, 2, 1}, {1, 4, 8}, {1, 9, 3}};
    const int64_t shapes3[][3] = {{3, 4, 5}, {1, 2, 3}, {2, 1, 1}};
    uint64_t seed = 2100;
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

// S12.6 on its own: coordinates exactly 0 and S-1 and the pixels next to them, on sizes where
// they are exact, must be compared, not skipped, and border/reflection gradients there are 0.
TEST(EdgeCasesBackward, BorderAndReflectionExactlyAtTheEdges) {
    const Kernel bilinear{2, gs::Interpolation::bilinear};
    auto values = [](int64_t size, bool align_corners) {
        const double s = static_cast<double>(size);
        return std::vector<double>{grid_value_at(0.0, size, align_corners),
                                   grid_value_at(s - 1.0, size, align_corners),
                                   grid_value_at(0.25, size, align_corners),
                                   grid_value_at(s - 1.25, size, align_corners)};
    };
    for (const auto& shape : {std::array<int64_t, 3>{1, 5, 9}, std::array<int64_t, 3>{1, 4, 8}}) {
        const CheckStats st = check_product_grids(bilinear, 1, 3, shape.data(), 2200, values);
        EXPECT_GT(st.compared, 0);
    }
    // The gradient itself is 0 at the edges for border (and reflection, whose reflected
    // coordinate is the edge): S9.
    for (gs::Padding padding : {gs::Padding::border, gs::Padding::reflection}) {
        Case cs;
        cs.kernel = bilinear;
        cs.padding = padding;
        cs.align_corners = true;
        cs.shape.n = 1, cs.shape.c = 2;
        cs.shape.in[1] = 5, cs.shape.in[2] = 9;
        cs.shape.out[1] = 2, cs.shape.out[2] = 2;
        Rng rng(2201);
        const ref::Array input = random_array(cs.shape.input_sizes(), cs.dtype, rng);
        const ref::Array grad_output = random_array(cs.shape.output_sizes(), cs.dtype, rng);
        const ref::Array grid = product_grid(cs.shape, {{-1.0, 1.0}, {-1.0, 1.0}}, cs.dtype);
        const CaseOutcome outcome = check_case(cs, grad_output, input, grid);
        ASSERT_TRUE(outcome.ran);
        for (double v : outcome.result.grad_grid.values.data) {
            EXPECT_EQ(v, 0.0) << cs.describe() << "\n  gradient at an edge must be 0 (S9)";
        }
    }
}

// S12.3: nearest at exact ties, 2-D and 3-D: the whole grad_output goes to the S5 pixel (half to
// even), and grad_grid is 0.
TEST(EdgeCasesBackward, NearestExactTies) {
    auto ties = [](int64_t size, bool align_corners) {
        std::vector<double> v;
        const double s = static_cast<double>(size);
        const bool exact = align_corners ? (size > 1 && ((size - 1) & (size - 2)) == 0)
                                         : ((size & (size - 1)) == 0);
        for (double x : {-0.5, 0.5, 1.5, 2.5, s - 0.5, s - 1.5}) {
            if (exact) v.push_back(grid_value_at(x, size, align_corners));
        }
        if (v.empty()) v.push_back(grid_value_at(0.0, size, align_corners));
        return v;
    };
    const int64_t shapes2[][3] = {{1, 4, 8}, {1, 3, 5}, {1, 8, 9}, {1, 2, 1}};
    const int64_t shapes3[][3] = {{4, 8, 2}, {3, 5, 9}};
    uint64_t seed = 2300;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode != gs::Interpolation::nearest) continue;
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) EXPECT_GT(check_product_grids(kernel, 1, 2, s, seed++, ties).compared, 0);
        } else {
            for (const auto& s : shapes3) EXPECT_GT(check_product_grids(kernel, 1, 2, s, seed++, ties).compared, 0);
        }
    }
}

// S12.7: bicubic per-tap padding near the edges of a 4x4 input: several taps fold onto one edge
// pixel and add up there.
TEST(EdgeCasesBackward, BicubicNearEdges) {
    const Kernel bicubic{2, gs::Interpolation::bicubic};
    const int64_t shape[3] = {1, 4, 4};
    auto values = [](int64_t, bool) {
        return std::vector<double>{-1.05, -1.0, -0.95, -0.5, 0.0, 0.3, 0.5, 0.95, 1.0, 1.05};
    };
    const CheckStats st = check_product_grids(bicubic, 1, 3, shape, 2400, values);
    EXPECT_GT(st.compared, 0);
}

// S7 / S12.8: NaN, +inf and -inf in x only, y only, z only and together, next to finite values,
// for every mode and padding, including axes of size 1. S9: a NaN component has gradient 0; an
// infinite one is clipped or out of range, also 0.
TEST(EdgeCasesBackward, NonFiniteGridValues) {
    auto values = [](int64_t, bool) {
        return std::vector<double>{kNaN, kInf, -kInf, 0.3, -1.0, 1.2};
    };
    const int64_t shapes2[][3] = {{1, 3, 4}, {1, 1, 3}, {1, 2, 1}};
    const int64_t shapes3[][3] = {{2, 3, 4}, {1, 2, 1}};
    uint64_t seed = 2500;
    for (const Kernel& kernel : kKernels) {
        if (kernel.dims == 2) {
            for (const auto& s : shapes2) check_product_grids(kernel, 1, 2, s, seed++, values);
        } else {
            for (const auto& s : shapes3) check_product_grids(kernel, 1, 2, s, seed++, values);
        }
    }
    // The non-finite components themselves get exactly 0.
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            Case cs;
            cs.kernel = kernel;
            cs.padding = padding;
            cs.shape.dims = kernel.dims;
            cs.shape.c = 2;
            cs.shape.in[0] = kernel.dims == 3 ? 3 : 1;
            cs.shape.in[1] = 4, cs.shape.in[2] = 5;
            const std::vector<double> specials = {kNaN, kInf, -kInf};
            std::vector<std::vector<double>> per_axis(3, std::vector<double>{0.3});
            per_axis[0] = specials;
            cs.shape.out[2] = 3;
            Rng rng(2550);
            const ref::Array input = random_array(cs.shape.input_sizes(), cs.dtype, rng);
            const ref::Array grad_output = random_array(cs.shape.output_sizes(), cs.dtype, rng);
            const ref::Array grid = product_grid(cs.shape, per_axis, cs.dtype);
            const CaseOutcome outcome = check_case(cs, grad_output, input, grid);
            ASSERT_TRUE(outcome.ran);
            for (int64_t p = 0; p < 3; ++p) {
                EXPECT_EQ(outcome.result.grad_grid.values.data[static_cast<size_t>(p * kernel.dims)], 0.0)
                    << cs.describe() << "\n  x = " << specials[static_cast<size_t>(p)];
            }
        }
    }
}

// S12.5: sizes 1 and 2 on each axis independently, with random grids including non-finite and
// huge values.
TEST(EdgeCasesBackward, SizesOneAndTwo) {
    uint64_t seed = 2600;
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
                        const CaseData d = random_data(cs, 0.4);
                        check_case(cs, d.grad_output, d.input, d.grid);
                    }
                }
            }
        }
    }
}

// S12.12: batch 1 with a larger image, C = 1 and C = 40 (several channel blocks).
TEST(EdgeCasesBackward, LargeImage) {
    uint64_t seed = 2700;
    for (const Kernel& kernel : kKernels) {
        for (int64_t c : {1, 40}) {
            Case cs = random_case(kernel, kPaddings[seed % 3], seed % 2 == 0,
                                  kDTypes[(seed / 3) % 2], Layout::contiguous, Want::both, seed);
            ++seed;
            cs.shape.n = 1;
            cs.shape.c = c;
            if (kernel.dims == 2) {
                cs.shape.in[1] = 60, cs.shape.in[2] = 80;
                cs.shape.out[1] = 48, cs.shape.out[2] = 64;
            } else {
                cs.shape.in[0] = 10, cs.shape.in[1] = 12, cs.shape.in[2] = 16;
                cs.shape.out[0] = 10, cs.shape.out[1] = 12, cs.shape.out[2] = 16;
            }
            check_random_case(cs);
        }
    }
}

// S8 / S12.10: N = 0, C = 0 or an output spatial size 0 are valid. Gradients with elements are
// still written in full: grad_input is 0 where no output point reads it (an empty output), and
// grad_grid is 0 when there are no channels to sum.
TEST(EdgeCasesBackward, EmptyTensors) {
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
                cs.seed = 2800 + static_cast<uint64_t>(which);
                const CaseData d = random_data(cs, 0.0);
                const CaseOutcome outcome = check_case(cs, d.grad_output, d.input, d.grid);
                ASSERT_TRUE(outcome.ran) << cs.describe();
                for (double v : outcome.result.grad_input.values.data) EXPECT_EQ(v, 0.0) << cs.describe();
                for (double v : outcome.result.grad_grid.values.data) EXPECT_EQ(v, 0.0) << cs.describe();
            }
        }
    }
}

}  // namespace

namespace gridsample {
void PrintTo(Padding p, std::ostream* os) { *os << padding_name(p); }
void PrintTo(CpuIsa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace gridsample
