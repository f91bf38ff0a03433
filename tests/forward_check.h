// grid_sample against the independent float64 reference (tests/reference), shared by the CPU
// suite (test_vs_reference.cpp) and the device suites (tests/device): cases (kernel, padding,
// align_corners, dtype, memory layout of S8b, shape, seed), their random data, running the library
// on a Placement (host memory or a device), the S11 tolerances, the comparison, and the
// deterministic edge cases of S12 as functions of one kernel family.
#pragma once

#include "check_common.h"
#include "tensor_placement.h"

#include <cstring>

namespace gridsample_test::forward {

// Memory layouts of S8b. "mixed" combines all of them at once.
enum class Layout {
    contiguous,
    padded_input,         // a view into a larger buffer (every dimension padded, offset start)
    channels_last_input,  // NHWC / NDHWC strides
    permuted_grid,        // W-contiguous grid, as permuted from (N, 2, H, W)
    expanded_grid,        // stride 0 along the batch
    padded_output,        // written into a larger buffer; the rest must stay untouched
    mixed,
    channels_last,        // input and output NHWC (with 3 or 4 channels: the interleaved kernels)
};
inline constexpr Layout kLayouts[] = {Layout::contiguous,    Layout::padded_input,
                                      Layout::channels_last_input, Layout::permuted_grid,
                                      Layout::expanded_grid, Layout::padded_output,
                                      Layout::mixed};
inline const char* layout_name(Layout l) {
    switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::padded_input: return "padded_input";
    case Layout::channels_last_input: return "channels_last_input";
    case Layout::permuted_grid: return "permuted_grid";
    case Layout::expanded_grid: return "expanded_grid";
    case Layout::padded_output: return "padded_output";
    case Layout::mixed: return "mixed";
    case Layout::channels_last: return "channels_last";
    }
    return "?";
}

struct Case {
    Kernel kernel{};
    gs::Padding padding = gs::Padding::zeros;
    bool align_corners = false;
    gs::DType dtype = gs::DType::float64;
    Layout layout = Layout::contiguous;
    Shape shape;
    uint64_t seed = 0;  // drives the data and the layout paddings

    gs::Options options() const {
        gs::Options o;
        o.mode = kernel.mode;
        o.padding = padding;
        o.align_corners = align_corners;
        return o;
    }
    std::string describe() const {
        std::ostringstream os;
        os << kernel_name(kernel) << " padding=" << padding_name(padding)
           << " align_corners=" << align_corners << " dtype=" << dtype_name(dtype)
           << " layout=" << layout_name(layout) << " input=" << sizes_string(shape.input_sizes())
           << " grid=" << sizes_string(shape.grid_sizes()) << " seed=" << seed;
        return os.str();
    }
};

struct CaseLayouts {
    StridedLayout input, grid, output;
};

inline CaseLayouts layouts_for(const Case& cs) {
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
    std::vector<int> channels_last_order = identity();
    channels_last_order.erase(channels_last_order.begin() + 1);
    channels_last_order.push_back(1);
    if (l == Layout::channels_last_input || l == Layout::channels_last || mixed) {
        input_order = channels_last_order;
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
    out.output = make_layout(s.output_sizes(),
                             l == Layout::channels_last ? channels_last_order : identity(),
                             pad_output ? random_pads() : no_pads,
                             pad_output ? uniform_int(rng, 1, 7) : 0, false);
    return out;
}

inline bool grid_is_expanded(Layout l) { return l == Layout::expanded_grid || l == Layout::mixed; }

// ------------------------------------------------------------------------------------------------
// Running the library

struct LibraryResult {
    gs::Status status;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    ref::Array output;                 // read back through the output strides
    std::vector<unsigned char> bytes;  // the whole output storage, for bit comparisons
    int64_t touched_outside = 0;       // storage elements outside the view that changed
    int64_t touched_inside = 0;        // elements of the view that changed (for a failed call)
};

template <typename T>
LibraryResult run_library_typed(const Case& cs, const ref::Array& input, const ref::Array& grid,
                                const Placement& where) {
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

    LibraryResult r;
    {
        const std::unique_ptr<PlacedCall> call = where.begin();
        const gs::TensorView in = call->input(storage_view(in_storage, l.input));
        const gs::TensorView g = call->input(storage_view(grid_storage, l.grid));
        const gs::TensorView out = call->output(storage_view(out_storage, l.output));
        gs::Options options = cs.options();
        options.stream = call->stream();
        r.status = gs::grid_sample(in, g, out, options);
        r.isa = gs::last_dispatched_cpu_isa();
        call->finish();
    }

    r.output = ref::Array(cs.shape.output_sizes());
    std::vector<char> inside(out_storage.size(), 0);
    const T s = sentinel<T>();
    for_each_element(l.output, [&](int64_t flat, int64_t pos) {
        const T v = out_storage[static_cast<size_t>(pos)];
        r.output.data[static_cast<size_t>(flat)] = static_cast<double>(v);
        inside[static_cast<size_t>(pos)] = 1;
        if (std::memcmp(&v, &s, sizeof(T)) != 0) ++r.touched_inside;
    });
    for (size_t i = 0; i < out_storage.size(); ++i) {
        if (!inside[i] && std::memcmp(&out_storage[i], &s, sizeof(T)) != 0) ++r.touched_outside;
    }
    r.bytes.resize(out_storage.size() * sizeof(T));
    std::memcpy(r.bytes.data(), out_storage.data(), r.bytes.size());
    return r;
}

inline LibraryResult run_library(const Case& cs, const ref::Array& input, const ref::Array& grid,
                                 const Placement& where = host_placement()) {
    return cs.dtype == gs::DType::float32 ? run_library_typed<float>(cs, input, grid, where)
                                          : run_library_typed<double>(cs, input, grid, where);
}

inline ref::Array run_reference(const Case& cs, const ref::Array& input, const ref::Array& grid) {
    return ref::grid_sample(input, grid, static_cast<int>(cs.kernel.mode),
                            static_cast<int>(cs.padding), cs.align_corners);
}

// ------------------------------------------------------------------------------------------------
// Tolerances (S11) and the points that cannot be compared exactly

struct PointCheck {
    bool skip = false;  // nearest within the tie window (S11)
    double tol = 0.0;   // absolute tolerance
};

inline PointCheck point_check(const Case& cs, const double* g, double max_abs_input) {
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

// Compares one library result against the reference, element by element.
inline CheckStats compare(const Case& cs, const ref::Array& input, const ref::Array& grid,
                          const ref::Array& expected, const LibraryResult& got) {
    CheckStats st;
    constexpr int kMaxReports = 5;
    const double max_abs_input = max_abs(input.data);
    // Bilinear and nearest outputs are convex combinations; cubic weights sum (in absolute value)
    // to at most 1.375 per axis.
    const double bound =
        (cs.kernel.mode == gs::Interpolation::bicubic ? 1.375 * 1.375 : 1.0) * max_abs_input *
            (1.0 + 1e-5) + 1e-300;

    const Shape& s = cs.shape;
    const int64_t points = s.points();
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
// Where the placement cannot run the case's dtype, the library must refuse it as `unsupported`
// and write nothing (S13); the case does not count as run.
struct CaseOutcome {
    CheckStats stats;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    bool ran = false;
};

inline CaseOutcome check_case(const Case& cs, const ref::Array& input, const ref::Array& grid,
                              const Placement& where = host_placement()) {
    CaseOutcome out;
    const LibraryResult got = run_library(cs, input, grid, where);
    const std::string unsupported = where.unsupported_reason(cs.dtype, false);
    if (!unsupported.empty()) {
        EXPECT_EQ(got.status.code(), gs::StatusCode::unsupported)
            << cs.describe() << "\n  " << where.name() << ": " << unsupported
            << "; expected an unsupported error, got: " << got.status.message();
        EXPECT_EQ(got.touched_inside + got.touched_outside, 0)
            << cs.describe() << "\n  a refused call wrote to the output";
        return out;
    }
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

inline ref::Array random_input(const Case& cs, Rng& rng) {
    ref::Array a(cs.shape.input_sizes());
    const double scales[] = {1.0, 1.0, 1.0, 1000.0, 1e-3};
    const double scale = scales[uniform_int(rng, 0, 4)];
    for (double& v : a.data) v = to_dtype(uniform(rng, -1.0, 1.0) * scale, cs.dtype);
    return a;
}

// Mostly uniform in [-1.3, 1.3]; with probability `special` one of the S7/S12 values, a nearest
// tie (x = k + 0.5) or a pixel centre (x = k).
inline double random_grid_value(Rng& rng, int64_t size, bool align_corners, double special) {
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

inline ref::Array random_grid(const Case& cs, Rng& rng, double special) {
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
    s.c = uniform_int(rng, 0, 1) ? 1 : uniform_int(rng, 2, 8);
    const int64_t in_max = dims == 2 ? 9 : 6;
    const int64_t out_max = dims == 2 ? 7 : 5;
    for (int d = 3 - dims; d < 3; ++d) {
        s.in[d] = random_extent(rng, in_max);
        s.out[d] = random_extent(rng, out_max);
    }
    return s;
}

inline Case random_case(const Kernel& kernel, gs::Padding padding, bool align_corners,
                        gs::DType dtype, Layout layout, uint64_t seed) {
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
inline CaseOutcome check_random_case(const Case& cs, const Placement& where = host_placement()) {
    Rng rng(mix_seed(cs.seed, 1));
    const double specials[] = {0.0, 0.1, 0.35};
    const double special = specials[cs.seed % 3];
    const ref::Array input = random_input(cs, rng);
    const ref::Array grid = random_grid(cs, rng, special);
    return check_case(cs, input, grid, where);
}

// Random cases of one kernel and padding: every align_corners x dtype x layout, `reps` each.
// Returns how many values were compared.
inline int64_t check_random_cases(const Kernel& kernel, gs::Padding padding, int reps,
                                  const Placement& where = host_placement()) {
    const uint64_t test_seed = 1000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    int64_t compared = 0;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kDTypes) {
            for (Layout layout : kLayouts) {
                for (int rep = 0; rep < reps; ++rep) {
                    const Case cs = random_case(kernel, padding, align_corners, dtype, layout,
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
// with grids built from per-axis value lists. `seed` is advanced per input shape.

// A grid holding the cartesian product of per-axis values (x varies fastest), for batch n
// repeated. values[k] is the list for grid component k (x, y, z).
struct ProductGrid {
    Shape shape;
    ref::Array grid;
};

inline ProductGrid product_grid(int dims, int64_t n, int64_t c, const int64_t in_dhw[3],
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
                               uint64_t seed, MakeValues make_values,
                               const Placement& where = host_placement()) {
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
                total.add(check_case(cs, input, pg.grid, where).stats);
            }
        }
    }
    return total;
}

// S12.2: identity grids from the reference affine_grid, for both align_corners. The reference
// must give the input back; the library must match the reference.
inline void check_identity_grids(const Kernel& kernel, uint64_t& seed,
                                 const Placement& where = host_placement()) {
    const int64_t shapes2[][4] = {{1, 2, 3, 5}, {2, 1, 4, 4}, {1, 1, 1, 6}, {1, 3, 7, 1}};
    const int64_t shapes3[][5] = {{1, 2, 3, 4, 5}, {2, 1, 2, 1, 3}};
    auto run = [&](const std::vector<int64_t>& size) {
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
                    double max_abs_input = 0.0, max_diff = 0.0;
                    for (size_t i = 0; i < input.data.size(); ++i) {
                        max_abs_input = std::max(max_abs_input, std::fabs(input.data[i]));
                        max_diff = std::max(max_diff, std::fabs(expected.data[i] - input.data[i]));
                    }
                    // float32 grids move the coordinate by up to an ulp of the grid value.
                    const double tol = (dtype == gs::DType::float32 ? 1e-5 : 1e-12) * max_abs_input;
                    EXPECT_LE(max_diff, tol)
                        << cs.describe() << "\n  the reference does not reproduce the input";
                    check_case(cs, input, grid, where);
                }
            }
        }
    };
    if (kernel.dims == 2) {
        for (const auto& s : shapes2) run({s[0], s[1], s[2], s[3]});
    } else {
        for (const auto& s : shapes3) run({s[0], s[1], s[2], s[3], s[4]});
    }
}

// Per-axis values at -1, 0, +1, every pixel centre and edge, the fade halo, far outside and
// huge (S12.2, S12.4, S12.6, S12.9).
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
    const int64_t shapes2[][3] = {{1, 5, 4}, {1, 1, 2}, {1, 2, 1}, {1, 4, 4}};
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

// S12.3: nearest at exact ties (0.5, 1.5, 2.5, -0.5, S-0.5, S-1.5) in 2-D and 3-D, on sizes where
// the ties are exact for either align_corners. None may be skipped.
inline void check_nearest_exact_ties(const Kernel& kernel, uint64_t& seed,
                                     const Placement& where = host_placement()) {
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
    const auto run = [&](const int64_t s[3]) {
        const CheckStats st = check_product_grids(kernel, 1, 2, s, seed++, ties, where);
        EXPECT_EQ(st.skipped, 0) << kernel_name(kernel) << " exact ties were skipped";
        EXPECT_GT(st.compared, 0);
    };
    if (kernel.dims == 2) {
        for (const auto& s : shapes2) run(s);
    } else {
        for (const auto& s : shapes3) run(s);
    }
}

// S12.7: bicubic per-tap padding near the edges of a 4x4 input (g = +-0.95 and around), and
// overshoot of a step edge.
inline void check_bicubic_near_edges(const Placement& where = host_placement()) {
    const Kernel bicubic{2, gs::Interpolation::bicubic};
    const int64_t shape[3] = {1, 4, 4};
    auto values = [](int64_t, bool) {
        return std::vector<double>{-1.05, -1.0, -0.95, -0.5, 0.0, 0.3, 0.5, 0.95, 1.0, 1.05};
    };
    const CheckStats st = check_product_grids(bicubic, 1, 3, shape, 300, values, where);
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
            check_case(cs, input, grid, where);
        }
    }
}

// S12.5: sizes 1 and 2 on each axis independently, with random grids including non-finite and
// huge values (S = 1 with align_corners returns the single pixel for every g).
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
                    Rng rng(cs.seed);
                    const ref::Array input = random_input(cs, rng);
                    const ref::Array grid = random_grid(cs, rng, 0.4);
                    check_case(cs, input, grid, where);
                }
            }
        }
    }
}

// S7 / S12.8: NaN, +inf and -inf in x only, y only, z only and together, next to finite values,
// for every mode and padding, including axes of size 1.
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
}

// S12.12: batch 1 with a larger image, C = 1 and C = 16.
inline void check_large_image(const Kernel& kernel, uint64_t& seed,
                              const Placement& where = host_placement()) {
    for (int64_t c : {1, 16}) {
        Case cs = random_case(kernel, kPaddings[seed % 3], seed % 2 == 0, kDTypes[(seed / 3) % 2],
                              Layout::contiguous, seed);
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
        check_random_case(cs, where);
    }
}

// S8 / S12.10: N = 0, C = 0 or an output spatial size 0 are valid and write nothing.
inline void check_empty_tensors(const Kernel& kernel, const Placement& where = host_placement()) {
    for (gs::DType dtype : kDTypes) {
        if (!where.unsupported_reason(dtype, false).empty()) continue;
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
            const LibraryResult got = run_library(cs, input, grid, where);
            EXPECT_TRUE(got.status.ok()) << cs.describe() << "\n  " << got.status.message();
            EXPECT_EQ(got.output.numel(), 0) << cs.describe();
            EXPECT_EQ(got.touched_outside, 0) << cs.describe() << "\n  wrote to an empty output";
        }
    }
}

}  // namespace gridsample_test::forward
