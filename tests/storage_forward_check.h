// grid_sample on the storage types of SEMANTICS.md S10 against the independent float64 reference,
// shared by the CPU suite (test_storage_types.cpp) and the device suite
// (device/test_device_storage.cpp): a case (a forward Case and the grid's dtype), its random data,
// running the library on a Placement, and the S10 comparison of storage_check.h.
#pragma once

#include "forward_check.h"
#include "storage_check.h"
#include "tensor_placement.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace gridsample_test::forward {

// A case on a storage type: cs.dtype is the input's and output's, grid_dtype the grid's.
struct StorageCase {
    Case cs;
    gs::DType grid_dtype = gs::DType::float32;

    std::string describe() const {
        return cs.describe() + " storage=" + storage_name(cs.dtype) +
               " grid_dtype=" + storage_name(grid_dtype);
    }
};

// Bytes holding a strided tensor of `dtype`, every byte 0xa5 outside what is written.
struct Storage {
    gs::DType dtype;
    std::vector<unsigned char> bytes;
    Storage(gs::DType t, int64_t elements)
        : dtype(t), bytes(static_cast<size_t>(elements) * element_size(t), 0xa5) {}
    unsigned char* at(int64_t pos) { return bytes.data() + pos * static_cast<int64_t>(element_size(dtype)); }
    bool untouched(int64_t pos) const {
        for (size_t b = 0; b < element_size(dtype); ++b) {
            if (bytes[static_cast<size_t>(pos) * element_size(dtype) + b] != 0xa5) return false;
        }
        return true;
    }
    gs::TensorView view(const StridedLayout& l) {
        return gs::TensorView::make(at(l.offset), dtype, static_cast<int32_t>(l.sizes.size()),
                                    l.sizes.data(), l.strides.data());
    }
};

struct StorageResult {
    gs::Status status;
    gs::CpuIsa isa = gs::CpuIsa::baseline;
    ref::Array output;
    std::vector<unsigned char> bytes;  // the output storage, for bit comparisons
    int64_t touched_outside = 0;
};

inline StorageResult run_storage(const StorageCase& sc, const ref::Array& input,
                                 const ref::Array& grid, const CaseLayouts& l,
                                 const Placement& where = host_placement()) {
    const Case& cs = sc.cs;
    Storage in(cs.dtype, l.input.storage_size), g(sc.grid_dtype, l.grid.storage_size),
        out(cs.dtype, l.output.storage_size);
    for_each_element(l.input, [&](int64_t flat, int64_t pos) {
        store_element(input.data[static_cast<size_t>(flat)], cs.dtype, in.at(pos));
    });
    for_each_element(l.grid, [&](int64_t flat, int64_t pos) {
        store_element(grid.data[static_cast<size_t>(flat)], sc.grid_dtype, g.at(pos));
    });
    StorageResult r;
    {
        const std::unique_ptr<PlacedCall> call = where.begin();
        gs::Options options = cs.options();
        options.stream = call->stream();
        r.status = gs::grid_sample(call->input(in.view(l.input)), call->input(g.view(l.grid)),
                                   call->output(out.view(l.output)), options);
        r.isa = gs::last_dispatched_cpu_isa();
        call->finish();
    }
    r.output = ref::Array(cs.shape.output_sizes());
    std::vector<char> inside(static_cast<size_t>(l.output.storage_size), 0);
    for_each_element(l.output, [&](int64_t flat, int64_t pos) {
        r.output.data[static_cast<size_t>(flat)] = load_element(out.at(pos), cs.dtype);
        inside[static_cast<size_t>(pos)] = 1;
    });
    for (int64_t pos = 0; pos < l.output.storage_size; ++pos) {
        if (!inside[static_cast<size_t>(pos)] && !out.untouched(pos)) ++r.touched_outside;
    }
    r.bytes = out.bytes;
    return r;
}

// Random data of a case: float16/bfloat16 inputs as float32's random inputs rounded to the type,
// uint8 inputs uniform in [0, 255]; the grid as float32's, rounded to the grid's type (1e6 and
// beyond become infinities in float16, which S7 covers).
inline void storage_random_data(const StorageCase& sc, ref::Array& input, ref::Array& grid) {
    Case wide = sc.cs;
    wide.dtype = gs::DType::float64;
    Rng rng(mix_seed(sc.cs.seed, 1));
    const double specials[] = {0.0, 0.1, 0.35};
    input = random_input(wide, rng);
    grid = random_grid(wide, rng, specials[sc.cs.seed % 3]);
    for (double& v : input.data) {
        v = sc.cs.dtype == gs::DType::uint8 ? static_cast<double>(uniform_int(rng, 0, 255))
                                            : round_to_storage(v, sc.cs.dtype);
    }
    for (double& v : grid.data) v = std::isnan(v) ? v : round_to_storage(v, sc.grid_dtype);
}

// Compares every element of an output with the reference (S10 on top of S11's float32
// tolerance).
inline void compare_storage(const StorageCase& sc, const ref::Array& input, const ref::Array& grid,
                            const StorageResult& got, CheckStats* stats = nullptr) {
    const ref::Array expected = run_reference(sc.cs, input, grid);
    Case computed = sc.cs;  // the arithmetic is float32's (S10)
    computed.dtype = gs::DType::float32;
    const double max_abs_input = max_abs(input.data);
    const Shape& s = sc.cs.shape;
    const int64_t points = s.points();
    int64_t failures = 0;
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p = 0; p < points; ++p) {
            const double* gp = &grid.data[static_cast<size_t>((n * points + p) * s.dims)];
            const PointCheck pc = point_check(computed, gp, max_abs_input);
            for (int64_t c = 0; c < s.c; ++c) {
                const size_t at = static_cast<size_t>((n * s.c + c) * points + p);
                const double e = expected.data[at], v = got.output.data[at];
                if (stats != nullptr) ++(pc.skip ? stats->skipped : stats->compared);
                if (pc.skip || storage_value_ok(v, e, pc.tol, sc.cs.dtype)) continue;
                if (++failures <= 5) {
                    std::ostringstream os;
                    os.precision(17);
                    os << sc.describe() << "\n  at n=" << n << " c=" << c << " point=" << p
                       << " grid=" << grid_point_string(gp, s.dims) << "\n  expected " << e
                       << " (float32 tolerance " << pc.tol << "), rounded to ["
                       << round_to_storage(e - pc.tol, sc.cs.dtype) << ", "
                       << round_to_storage(e + pc.tol, sc.cs.dtype) << "], got " << v;
                    ADD_FAILURE() << os.str();
                }
            }
        }
    }
    if (failures > 5) ADD_FAILURE() << sc.describe() << "\n  ... " << failures << " mismatches";
}

// Runs a case and compares every element with the reference (compare_storage). Returns the
// result for further checks.
inline StorageResult check_storage_case(const StorageCase& sc, const ref::Array& input,
                                        const ref::Array& grid, const CaseLayouts& l,
                                        CheckStats* stats = nullptr,
                                        const Placement& where = host_placement()) {
    const StorageResult got = run_storage(sc, input, grid, l, where);
    EXPECT_TRUE(got.status.ok()) << sc.describe() << "\n  status: " << got.status.message();
    if (!got.status.ok()) return got;
    EXPECT_EQ(got.touched_outside, 0) << sc.describe() << "\n  output storage outside the view was written";
    compare_storage(sc, input, grid, got, stats);
    return got;
}

inline StorageCase make_case(const Kernel& kernel, gs::Padding padding, bool align_corners,
                      gs::DType dtype, gs::DType grid_dtype, Layout layout, uint64_t seed) {
    StorageCase sc;
    sc.cs = random_case(kernel, padding, align_corners, dtype, layout, seed);
    sc.grid_dtype = grid_dtype;
    return sc;
}

// The grid types each storage type takes (S10).
inline std::vector<gs::DType> grid_dtypes(gs::DType t) {
    if (t == gs::DType::uint8) return {gs::DType::float32};
    return {t, gs::DType::float32};
}

}  // namespace gridsample_test::forward
