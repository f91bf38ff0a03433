// grid_sample_backward against the independent float64 reference (tests/reference:
// ref::grid_sample_backward, written from SEMANTICS.md S9 alone), shared by the CPU suite
// (test_backward_vs_reference.cpp) and the device suites (tests/device): cases (kernel, padding,
// align_corners, dtype, memory layout of S8b, which gradients, shape, seed), their random data,
// running the library on a Placement (host memory or a device), S11's backward tolerances (float32
// 1e-4 and float64 1e-10, relative to the largest magnitude of the gradient compared), the
// comparison, and the deterministic edge cases of S12 as functions of one kernel family.
#pragma once

#include "check_common.h"
#include "tensor_placement.h"

#include <array>
#include <cstring>

namespace gridsample_test::backward {

// Which gradients a call asks for.
enum class Want { both, input_only, grid_only };
const Want kWants[] = {Want::both, Want::input_only, Want::grid_only};
inline const char* want_name(Want w) {
    switch (w) {
    case Want::both: return "both";
    case Want::input_only: return "grad_input_only";
    case Want::grid_only: return "grad_grid_only";
    }
    return "?";
}
inline bool wants_input(Want w) { return w != Want::grid_only; }
inline bool wants_grid(Want w) { return w != Want::input_only; }

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
inline const char* layout_name(Layout l) {
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

struct Case {
    Kernel kernel{};
    gs::Padding padding = gs::Padding::zeros;
    bool align_corners = false;
    gs::DType dtype = gs::DType::float64;
    Layout layout = Layout::contiguous;
    Want want = Want::both;
    Shape shape;
    uint64_t seed = 0;  // drives the data and the layout paddings
    // Options::deterministic (GPU grad_input: fixed-point sums when true, the default).
    bool deterministic = true;

    gs::Options options() const {
        gs::Options o;
        o.mode = kernel.mode;
        o.padding = padding;
        o.align_corners = align_corners;
        o.deterministic = deterministic;
        return o;
    }
    std::string describe() const {
        std::ostringstream os;
        os << kernel_name(kernel) << " padding=" << padding_name(padding)
           << " align_corners=" << align_corners << " dtype=" << dtype_name(dtype)
           << " layout=" << layout_name(layout) << " want=" << want_name(want)
           << " input=" << sizes_string(shape.input_sizes())
           << " grid=" << sizes_string(shape.grid_sizes()) << " seed=" << seed
           << (deterministic ? "" : " deterministic=false");
        return os.str();
    }
};

struct CaseLayouts {
    StridedLayout grad_output, input, grid, grad_input, grad_grid;
};

// How many leading dimensions of grad_output have stride 0 in a layout.
inline int grad_output_expanded_dims(Layout l, int rank) {
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

inline bool grid_is_expanded(Layout l) { return l == Layout::expanded_grid || l == Layout::mixed; }

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
                                const ref::Array& input, const ref::Array& grid,
                                const Placement& where) {
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

    LibraryResult r;
    {
        const std::unique_ptr<PlacedCall> call = where.begin();
        const gs::TensorView go = call->input(storage_view(go_storage, l.grad_output));
        const gs::TensorView in = call->input(storage_view(in_storage, l.input));
        const gs::TensorView g = call->input(storage_view(grid_storage, l.grid));
        const gs::TensorView gi = call->output(storage_view(gi_storage, l.grad_input));
        const gs::TensorView gg = call->output(storage_view(gg_storage, l.grad_grid));
        gs::Options options = cs.options();
        options.stream = call->stream();
        r.status = gs::grid_sample_backward(go, in, g, wants_input(cs.want) ? &gi : nullptr,
                                            wants_grid(cs.want) ? &gg : nullptr, options);
        r.isa = gs::last_dispatched_cpu_isa();
        call->finish();
    }
    r.grad_input = read_back(gi_storage, l.grad_input, cs.shape.input_sizes());
    r.grad_grid = read_back(gg_storage, l.grad_grid, cs.shape.grid_sizes());
    return r;
}

inline LibraryResult run_library(const Case& cs, const ref::Array& grad_output,
                                 const ref::Array& input, const ref::Array& grid,
                                 const Placement& where = host_placement()) {
    return cs.dtype == gs::DType::float32
               ? run_library_typed<float>(cs, grad_output, input, grid, where)
               : run_library_typed<double>(cs, grad_output, input, grid, where);
}

inline ref::Gradients run_reference(const Case& cs, const ref::Array& grad_output,
                             const ref::Array& input, const ref::Array& grid) {
    return ref::grid_sample_backward(grad_output, input, grid, static_cast<int>(cs.kernel.mode),
                                     static_cast<int>(cs.padding), cs.align_corners);
}

// ------------------------------------------------------------------------------------------------
// Tolerances (S11) and the points that cannot be compared exactly

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

struct AxisPrecision {
    double error = 0.0;  // how far (pixels) the library's coordinate may be from the reference's
    bool kink = false;   // bilinear: a derivative jump lies within that error
};

// How precisely the library can know one axis' coordinate of a point, and whether a bilinear
// derivative jump (an integer coordinate, a border edge, a reflection fold) lies within reach.
inline AxisPrecision axis_precision(const Case& cs, double g, int64_t size) {
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

inline void report(CheckStats& st, const std::string& what) {
    constexpr int kMaxReports = 5;
    if (++st.failures <= kMaxReports) ADD_FAILURE() << what;
}

// Compares the library's gradients with the reference's, element by element.
// storage_rel widens the relative tolerance, for gradients rounded to a storage type (S10: one
// unit in its last place relative to the largest gradient).
inline CheckStats compare(const Case& cs, const ref::Array& grad_output, const ref::Array& input,
                   const ref::Array& grid, const ref::Gradients& expected,
                   const LibraryResult& got, double storage_rel = 0.0) {
    CheckStats st;
    const bool f32 = cs.dtype == gs::DType::float32;
    const double rel = (f32 ? 1e-4 : 1e-10) + storage_rel;
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
inline ref::Array without_nearest_near_ties(const Case& cs, const ref::Array& grad_output,
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

// Where the placement cannot run the case's dtype, the library must refuse it as `unsupported`
// and write nothing (S13); the case does not count as run.
inline CaseOutcome check_case(const Case& cs, const ref::Array& unmasked_grad_output,
                              const ref::Array& input, const ref::Array& grid,
                              const Placement& where = host_placement()) {
    const ref::Array grad_output = without_nearest_near_ties(cs, unmasked_grad_output, grid);
    CaseOutcome out;
    out.result = run_library(cs, grad_output, input, grid, where);
    const std::string unsupported = where.unsupported_reason(cs.dtype, wants_input(cs.want));
    if (!unsupported.empty()) {
        EXPECT_EQ(out.result.status.code(), gs::StatusCode::unsupported)
            << cs.describe() << "\n  " << where.name() << ": " << unsupported
            << "; expected an unsupported error, got: " << out.result.status.message();
        const GradientResult& gi = out.result.grad_input;
        const GradientResult& gg = out.result.grad_grid;
        EXPECT_EQ(gi.touched_inside + gi.touched_outside + gg.touched_inside + gg.touched_outside, 0)
            << cs.describe() << "\n  a refused call wrote to a gradient";
        return out;
    }
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

inline ref::Array random_array(const std::vector<int64_t>& shape, gs::DType dtype, Rng& rng) {
    ref::Array a(shape);
    const double scales[] = {1.0, 1.0, 1.0, 1000.0, 1e-3};
    const double scale = scales[uniform_int(rng, 0, 4)];
    for (double& v : a.data) v = to_dtype(uniform(rng, -1.0, 1.0) * scale, dtype);
    return a;
}

// Mostly uniform in [-1.3, 1.3]; with probability `special` one of the S7/S12 values, a pixel
// centre or a pixel edge (exactly, where the size allows).
inline double random_grid_value(Rng& rng, int64_t size, bool align_corners, double special) {
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
inline double away_from_ties(double g, int64_t size, bool align_corners, gs::DType dtype) {
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

inline ref::Array random_grid(const Case& cs, Rng& rng, double special) {
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
inline int64_t random_extent(Rng& rng, int64_t max) {
    const double u = uniform(rng, 0.0, 1.0);
    if (u < 0.15) return 1;
    if (u < 0.3) return 2;
    return uniform_int(rng, 3, max);
}

inline Shape random_shape(int dims, Rng& rng) {
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

inline Case random_case(const Kernel& kernel, gs::Padding padding, bool align_corners, gs::DType dtype,
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

inline CaseData random_data(const Case& cs, double special) {
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

inline CaseOutcome check_random_case(const Case& cs, const Placement& where = host_placement()) {
    const double specials[] = {0.0, 0.1, 0.35};
    const CaseData d = random_data(cs, specials[cs.seed % 3]);
    return check_case(cs, d.grad_output, d.input, d.grid, where);
}


// Random cases of one kernel and padding: every align_corners x dtype x layout, `reps` each,
// cycling through the gradient selections. Returns how many values were compared.
inline int64_t check_random_cases(const Kernel& kernel, gs::Padding padding, int reps,
                                  const Placement& where = host_placement()) {
    const uint64_t test_seed = 21000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    int64_t compared = 0;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kDTypes) {
            for (Layout layout : kLayouts) {
                for (int rep = 0; rep < reps; ++rep) {
                    const Want want = kWants[index % 3];
                    const Case cs = random_case(kernel, padding, align_corners, dtype, layout, want,
                                                mix_seed(test_seed, index++));
                    compared += check_random_case(cs, where).stats.compared;
                }
            }
        }
    }
    return compared;
}

// ------------------------------------------------------------------------------------------------
// Deterministic edge cases (S12). Each runs every padding x align_corners x dtype on one kernel,
// with grids built from per-axis value lists, asking for both gradients. `seed` is advanced per
// input shape.

// A grid holding the cartesian product of per-axis values (x varies fastest), for batch n
// repeated. values[k] is the list for grid component k (x, y, z).
inline ref::Array product_grid(const Shape& s, const std::vector<std::vector<double>>& values,
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
                               uint64_t seed, MakeValues make_values,
                               const Placement& where = host_placement()) {
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
                total.add(check_case(cs, grad_output, input, grid, where).stats);
            }
        }
    }
    return total;
}

// S12.2, S12.6: grid values at -1, 0, +1, every pixel centre and pixel edge (exact in binary on
// these sizes), which puts border/reflection coordinates exactly on 0 and S-1, where S9 counts
// the edges as clipped; plus the fade halo, far outside, and huge (S12.4, S12.9).
inline std::vector<double> special_axis_values(int64_t size, bool align_corners) {
    std::vector<double> v = {-1.0, 0.0, 1.0, -1.0001, 1.0001, -1.5, 1.5, -3.5, 3.5, -100.0,
                             100.0, -1e6, 1e6, -1e9, 1e9, -1e20, 1e20, -1e30, 1e30};
    for (int64_t k = 0; k < size; ++k) {
        v.push_back(grid_value_at(static_cast<double>(k), size, align_corners));        // centre
        v.push_back(grid_value_at(static_cast<double>(k) - 0.5, size, align_corners));  // edge
    }
    v.push_back(grid_value_at(static_cast<double>(size) - 0.5, size, align_corners));
    return v;
}


inline void check_special_grid_values(const Kernel& kernel, uint64_t& seed,
                                      const Placement& where = host_placement()) {
    // Sizes whose coordinates are exact for one align_corners or the other (S or S - 1 a power
    // of two), and sizes 1 and 2.
    const int64_t shapes2[][3] = {{1, 5, 4}, {1, 1, 2}, {1, 2, 1}, {1, 4, 8}, {1, 9, 3}};
    const int64_t shapes3[][3] = {{3, 4, 5}, {1, 2, 3}, {2, 1, 1}};
    if (kernel.dims == 2) {
        for (const auto& s : shapes2) {
            check_product_grids(kernel, 2, 2, s, seed++, special_axis_values, where);
        }
    } else {
        for (const auto& s : shapes3) {
            check_product_grids(kernel, 1, 2, s, seed++, special_axis_values, where);
        }
    }
}

// The dtype of the edge cases that run one dtype only: float64 where the placement has it.
inline gs::DType preferred_dtype(const Placement& where) {
    return where.unsupported_reason(gs::DType::float64, true).empty() ? gs::DType::float64
                                                                : gs::DType::float32;
}

// S12.6 on its own: coordinates exactly 0 and S-1 and the pixels next to them, on sizes where
// they are exact, must be compared, not skipped, and border/reflection gradients there are 0.
inline void check_edges_exactly(const Placement& where = host_placement()) {
    const Kernel bilinear{2, gs::Interpolation::bilinear};
    auto values = [](int64_t size, bool align_corners) {
        const double s = static_cast<double>(size);
        return std::vector<double>{grid_value_at(0.0, size, align_corners),
                                   grid_value_at(s - 1.0, size, align_corners),
                                   grid_value_at(0.25, size, align_corners),
                                   grid_value_at(s - 1.25, size, align_corners)};
    };
    for (const auto& shape : {std::array<int64_t, 3>{1, 5, 9}, std::array<int64_t, 3>{1, 4, 8}}) {
        const CheckStats st = check_product_grids(bilinear, 1, 3, shape.data(), 2200, values, where);
        EXPECT_GT(st.compared, 0);
    }
    // The gradient itself is 0 at the edges for border (and reflection, whose reflected
    // coordinate is the edge): S9.
    for (gs::Padding padding : {gs::Padding::border, gs::Padding::reflection}) {
        Case cs;
        cs.kernel = bilinear;
        cs.padding = padding;
        cs.align_corners = true;
        cs.dtype = preferred_dtype(where);
        if (!where.unsupported_reason(cs.dtype, true).empty()) continue;  // checked above
        cs.shape.n = 1, cs.shape.c = 2;
        cs.shape.in[1] = 5, cs.shape.in[2] = 9;
        cs.shape.out[1] = 2, cs.shape.out[2] = 2;
        Rng rng(2201);
        const ref::Array input = random_array(cs.shape.input_sizes(), cs.dtype, rng);
        const ref::Array grad_output = random_array(cs.shape.output_sizes(), cs.dtype, rng);
        const ref::Array grid = product_grid(cs.shape, {{-1.0, 1.0}, {-1.0, 1.0}}, cs.dtype);
        const CaseOutcome outcome = check_case(cs, grad_output, input, grid, where);
        ASSERT_TRUE(outcome.ran);
        for (double v : outcome.result.grad_grid.values.data) {
            EXPECT_EQ(v, 0.0) << cs.describe() << "\n  gradient at an edge must be 0 (S9)";
        }
    }
}

// S12.3: nearest at exact ties, 2-D and 3-D: the whole grad_output goes to the S5 pixel (half to
// even), and grad_grid is 0.
inline void check_nearest_exact_ties(const Kernel& kernel, uint64_t& seed,
                                     const Placement& where = host_placement()) {
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
    if (kernel.dims == 2) {
        for (const auto& s : shapes2) {
            EXPECT_GT(check_product_grids(kernel, 1, 2, s, seed++, ties, where).compared, 0);
        }
    } else {
        for (const auto& s : shapes3) {
            EXPECT_GT(check_product_grids(kernel, 1, 2, s, seed++, ties, where).compared, 0);
        }
    }
}

// S12.7: bicubic per-tap padding near the edges of a 4x4 input: several taps fold onto one edge
// pixel and add up there.
inline void check_bicubic_near_edges(const Placement& where = host_placement()) {
    const Kernel bicubic{2, gs::Interpolation::bicubic};
    const int64_t shape[3] = {1, 4, 4};
    auto values = [](int64_t, bool) {
        return std::vector<double>{-1.05, -1.0, -0.95, -0.5, 0.0, 0.3, 0.5, 0.95, 1.0, 1.05};
    };
    const CheckStats st = check_product_grids(bicubic, 1, 3, shape, 2400, values, where);
    EXPECT_GT(st.compared, 0);
}

// S7 / S12.8: NaN, +inf and -inf in x only, y only, z only and together, next to finite values,
// for every mode and padding, including axes of size 1. S9: a NaN component has gradient 0; an
// infinite one is clipped or out of range, also 0.
inline void check_non_finite_grid_values(const Kernel& kernel, uint64_t& seed,
                                         const Placement& where = host_placement()) {
    auto values = [](int64_t, bool) {
        return std::vector<double>{kNaN, kInf, -kInf, 0.3, -1.0, 1.2};
    };
    const int64_t shapes2[][3] = {{1, 3, 4}, {1, 1, 3}, {1, 2, 1}};
    const int64_t shapes3[][3] = {{2, 3, 4}, {1, 2, 1}};
    if (kernel.dims == 2) {
        for (const auto& s : shapes2) check_product_grids(kernel, 1, 2, s, seed++, values, where);
    } else {
        for (const auto& s : shapes3) check_product_grids(kernel, 1, 2, s, seed++, values, where);
    }
    // The non-finite components themselves get exactly 0.
    for (gs::Padding padding : kPaddings) {
        Case cs;
        cs.kernel = kernel;
        cs.padding = padding;
        cs.dtype = preferred_dtype(where);
        if (!where.unsupported_reason(cs.dtype, true).empty()) continue;  // checked above
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
        const CaseOutcome outcome = check_case(cs, grad_output, input, grid, where);
        ASSERT_TRUE(outcome.ran);
        for (int64_t p = 0; p < 3; ++p) {
            EXPECT_EQ(outcome.result.grad_grid.values.data[static_cast<size_t>(p * kernel.dims)], 0.0)
                << cs.describe() << "\n  x = " << specials[static_cast<size_t>(p)];
        }
    }
}

// S12.5: sizes 1 and 2 on each axis independently, with random grids including non-finite and
// huge values.
inline void check_sizes_one_and_two(const Kernel& kernel, uint64_t& seed,
                                    const Placement& where = host_placement()) {
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
                    check_case(cs, d.grad_output, d.input, d.grid, where);
                }
            }
        }
    }
}

// S12.12: batch 1 with a larger image, C = 1 and C = 40 (several channel blocks).
inline void check_large_image(const Kernel& kernel, uint64_t& seed,
                              const Placement& where = host_placement()) {
    for (int64_t c : {1, 40}) {
        Case cs = random_case(kernel, kPaddings[seed % 3], seed % 2 == 0, kDTypes[(seed / 3) % 2],
                              Layout::contiguous, Want::both, seed);
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
        check_random_case(cs, where);
    }
}

// S8 / S12.10: N = 0, C = 0 or an output spatial size 0 are valid. Gradients with elements are
// still written in full: grad_input is 0 where no output point reads it (an empty output), and
// grad_grid is 0 when there are no channels to sum.
inline void check_empty_tensors(const Kernel& kernel, const Placement& where = host_placement()) {
    for (gs::DType dtype : kDTypes) {
        if (!where.unsupported_reason(dtype, true).empty()) continue;
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
            const CaseOutcome outcome = check_case(cs, d.grad_output, d.input, d.grid, where);
            ASSERT_TRUE(outcome.ran) << cs.describe();
            for (double v : outcome.result.grad_input.values.data) EXPECT_EQ(v, 0.0) << cs.describe();
            for (double v : outcome.result.grad_grid.values.data) EXPECT_EQ(v, 0.0) << cs.describe();
        }
    }
}

}  // namespace gridsample_test::backward
