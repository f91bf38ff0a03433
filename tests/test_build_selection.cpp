// What a build compiles (GRIDSAMPLE_OPERATIONS, _MODES, _PADDINGS, _DIMS, _DTYPES; cmake/
// GridsampleVariants.cmake): every compiled variant of every operation runs and matches the
// reference (S11); every variant left out is refused with `unsupported`, a message that names the
// variant and the option (and value) that would compile it, and nothing written (S8). In a full
// build this checks that every variant is reachable; trimmed builds run only this suite (and, with
// GPU backends, its device counterpart, device/test_device_build_selection.cpp).
#include "build_selection_check.h"
#include "storage_backward_check.h"
#include "storage_forward_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::selection;
namespace gs = gridsample;

// A refused call (expect_refused) that also left every element of `data` as it was (the sentinel).
template <typename T>
void expect_refused_untouched(const gs::Status& status, const std::vector<std::string>& missing,
                              const std::string& what, const std::vector<T>& data) {
    expect_refused(status, missing, what);
    const T s = sentinel<T>();
    for (const T& v : data) {
        ASSERT_EQ(std::memcmp(&v, &s, sizeof(T)), 0) << what << ": a refused call wrote its result";
    }
}

int64_t element_count(const std::vector<int64_t>& sizes) {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
}

TEST(BuildSelection, ForwardVariants) {
    record(check_forward_selection(host_placement(), 31000));
}

TEST(BuildSelection, BackwardVariants) {
    record(check_backward_selection(host_placement(), 32000));
}

template <typename T>
std::vector<T> stored(const ref::Array& a) {
    return std::vector<T>(a.data.begin(), a.data.end());
}

template <typename T>
gs::TensorView view(std::vector<T>& data, const std::vector<int64_t>& sizes) {
    return storage_view(data, contiguous_layout(sizes));
}

// affine_grid on random thetas: compiled, within S11 of the reference (as test_affine_grid.cpp);
// left out, refused with the grid untouched.
template <typename T>
void check_affine_grid(int dims, gs::DType dtype, uint64_t seed) {
    Rng rng(seed);
    const int64_t n = 2;
    std::vector<int64_t> size{n, 3};
    for (int d = 0; d < dims; ++d) size.push_back(uniform_int(rng, 1, 6));
    ref::Array theta({n, dims, dims + 1});
    for (double& v : theta.data) v = to_dtype(uniform(rng, -1.3, 1.3), dtype);
    std::vector<int64_t> grid_sizes{n};
    for (int d = 0; d < dims; ++d) grid_sizes.push_back(size[static_cast<size_t>(2 + d)]);
    grid_sizes.push_back(dims);
    const bool align_corners = (seed & 1) != 0;

    std::vector<T> theta_data = stored<T>(theta);
    std::vector<T> grid_data(static_cast<size_t>(element_count(grid_sizes)), sentinel<T>());
    const gs::Status status = gs::affine_grid(view(theta_data, theta.shape), size.data(),
                                              static_cast<int32_t>(size.size()),
                                              view(grid_data, grid_sizes), align_corners);
    const std::string what = "affine_grid " + std::to_string(dims) + "-D " + dtype_name(dtype);
    const std::vector<std::string> missing = missing_options("affine_grid", dims, nullptr, nullptr, dtype);
    if (!missing.empty()) {
        expect_refused_untouched(status, missing, what, grid_data);
        return;
    }
    ASSERT_TRUE(status.ok()) << what << ": " << status.message();
    const ref::Array want = ref::affine_grid(theta, size, align_corners);
    const double tol = sizeof(T) == 8 ? 1e-12 : 1e-6;
    for (size_t i = 0; i < grid_data.size(); ++i) {
        ASSERT_NEAR(static_cast<double>(grid_data[i]), want.data[i],
                    tol * std::max(1.0, std::fabs(want.data[i])))
            << what << ", element " << i;
    }
}

TEST(BuildSelection, AffineGridVariants) {
    uint64_t seed = 33000;
    for (int dims : {2, 3}) {
        check_affine_grid<float>(dims, gs::DType::float32, seed++);
        check_affine_grid<double>(dims, gs::DType::float64, seed++);
    }
}

// affine_grid_sample: compiled, the sampling of the reference's affine grid (rounded to the
// dtype) within S11 of the reference; left out, refused with the output untouched.
template <typename T>
void check_fused(const Kernel& kernel, gs::Padding padding, gs::DType dtype, uint64_t seed) {
    forward::Case cs = forward::random_case(kernel, padding, (seed & 1) != 0, dtype,
                                            forward::Layout::contiguous, seed);
    cs.shape.n = 2;
    Rng rng(mix_seed(seed, 7));
    const ref::Array input = forward::random_input(cs, rng);
    const int dims = kernel.dims;
    ref::Array theta({cs.shape.n, dims, dims + 1});
    for (double& v : theta.data) v = to_dtype(uniform(rng, -1.3, 1.3), dtype);
    const std::vector<int64_t> out_sizes = cs.shape.output_sizes();

    std::vector<T> input_data = stored<T>(input), theta_data = stored<T>(theta);
    std::vector<T> output_data(static_cast<size_t>(element_count(out_sizes)), sentinel<T>());
    const gs::Status status =
        gs::affine_grid_sample(view(input_data, input.shape), view(theta_data, theta.shape),
                               view(output_data, out_sizes), cs.options());
    const std::string what = "affine_grid_sample " + cs.describe();
    const std::vector<std::string> missing =
        missing_options("fused", dims, &kernel.mode, &padding, dtype);
    if (!missing.empty()) {
        expect_refused_untouched(status, missing, what, output_data);
        return;
    }
    ASSERT_TRUE(status.ok()) << what << ": " << status.message();
    ref::Array grid = ref::affine_grid(theta, out_sizes, cs.align_corners);
    for (double& g : grid.data) g = to_dtype(g, dtype);
    forward::LibraryResult got;
    got.output = ref::Array(out_sizes);
    got.output.data.assign(output_data.begin(), output_data.end());
    forward::compare(cs, input, grid, forward::run_reference(cs, input, grid), got);
}

TEST(BuildSelection, FusedVariants) {
    uint64_t seed = 34000;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            check_fused<float>(kernel, padding, gs::DType::float32, seed++);
            check_fused<double>(kernel, padding, gs::DType::float64, seed++);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The storage types (S10). On the CPU their fused call, affine_grid and backward run on other
// operations' kernels, which the selection compiles along (cmake/GridsampleVariants.cmake); a
// call is answered as the selection says all the same: run and exact to S10 where selected,
// refused with nothing written where not.

bool untouched(const std::vector<unsigned char>& bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return b == 0xa5; });
}

TEST(BuildSelection, StorageForwardVariants) {
    uint64_t seed = 35000;
    int ran = 0, refused = 0;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kStorageDTypes) {
                for (gs::DType grid_dtype : forward::grid_dtypes(dtype)) {
                    const forward::StorageCase sc =
                        forward::make_case(kernel, padding, (seed & 1) != 0, dtype, grid_dtype,
                                           forward::Layout::contiguous, seed);
                    ++seed;
                    ref::Array input, grid;
                    forward::storage_random_data(sc, input, grid);
                    const forward::CaseLayouts l = forward::layouts_for(sc.cs);
                    const std::vector<std::string> missing =
                        missing_options("forward", kernel.dims, &kernel.mode, &padding, dtype);
                    if (missing.empty()) {
                        forward::check_storage_case(sc, input, grid, l);
                        ++ran;
                        continue;
                    }
                    const forward::StorageResult got = forward::run_storage(sc, input, grid, l);
                    expect_refused(got.status, missing, "grid_sample " + sc.describe());
                    EXPECT_TRUE(untouched(got.bytes)) << sc.describe() << ": a refused call wrote";
                    ++refused;
                }
            }
        }
    }
    RecordProperty("ran", ran);
    RecordProperty("refused", refused);
}

TEST(BuildSelection, StorageFusedVariants) {
    uint64_t seed = 36000;
    int ran = 0, refused = 0;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kStorageDTypes) {
                forward::StorageCase sc =
                    forward::make_case(kernel, padding, (seed & 1) != 0, dtype, gs::DType::float32,
                                       forward::Layout::contiguous, seed);
                sc.cs.shape.n = 2;
                ref::Array input, unused;
                forward::storage_random_data(sc, input, unused);
                // theta near the identity, in float32.
                Rng rng(mix_seed(seed++, 5));
                const int dims = kernel.dims;
                ref::Array theta({sc.cs.shape.n, dims, dims + 1});
                for (int64_t b = 0; b < sc.cs.shape.n; ++b) {
                    for (int r = 0; r < dims; ++r) {
                        for (int c = 0; c <= dims; ++c) {
                            theta.at({b, r, c}) = to_dtype(
                                (r == c ? 1.0 : 0.0) + uniform(rng, -0.4, 0.4), gs::DType::float32);
                        }
                    }
                }
                std::vector<float> theta32 = stored<float>(theta);
                const forward::CaseLayouts l = forward::layouts_for(sc.cs);
                forward::Storage in(dtype, l.input.storage_size), out(dtype, l.output.storage_size);
                for_each_element(l.input, [&](int64_t flat, int64_t pos) {
                    store_element(input.data[static_cast<size_t>(flat)], dtype, in.at(pos));
                });
                const gs::Status status = gs::affine_grid_sample(
                    in.view(l.input), view(theta32, theta.shape), out.view(l.output),
                    sc.cs.options());
                const std::string what = "affine_grid_sample " + sc.describe();
                const std::vector<std::string> missing =
                    missing_options("fused", dims, &kernel.mode, &padding, dtype);
                if (!missing.empty()) {
                    expect_refused(status, missing, what);
                    EXPECT_TRUE(untouched(out.bytes)) << what << ": a refused call wrote";
                    ++refused;
                    continue;
                }
                ++ran;
                ASSERT_TRUE(status.ok()) << what << ": " << status.message();
                // Against the reference on the reference's affine grid rounded to float32 (the
                // library computes it in float32), as check_fused above.
                ref::Array grid = ref::affine_grid(theta, sc.cs.shape.output_sizes(),
                                                   sc.cs.align_corners);
                for (double& g : grid.data) g = to_dtype(g, gs::DType::float32);
                forward::StorageResult got;
                got.status = status;
                got.output = ref::Array(sc.cs.shape.output_sizes());
                for_each_element(l.output, [&](int64_t flat, int64_t pos) {
                    got.output.data[static_cast<size_t>(flat)] = load_element(out.at(pos), dtype);
                });
                forward::compare_storage(sc, input, grid, got);
            }
        }
    }
    RecordProperty("ran", ran);
    RecordProperty("refused", refused);
}

TEST(BuildSelection, StorageAffineGridVariants) {
    uint64_t seed = 37000;
    int ran = 0, refused = 0;
    for (gs::DType t : backward::kHalfTypes) {
        for (int dims : {2, 3}) {
            Rng rng(seed++);
            const bool align_corners = (seed & 1) != 0;
            const std::vector<int64_t> size = dims == 2 ? std::vector<int64_t>{2, 3, 5, 7}
                                                        : std::vector<int64_t>{2, 3, 4, 5, 6};
            ref::Array theta({2, dims, dims + 1});
            for (double& v : theta.data) v = round_to_storage(uniform(rng, -1.3, 1.3), t);
            const ref::Array expected = ref::affine_grid(theta, size, align_corners);
            forward::Storage th(t, theta.numel()), grid(t, expected.numel());
            for (int64_t i = 0; i < theta.numel(); ++i) {
                store_element(theta.data[static_cast<size_t>(i)], t, th.at(i));
            }
            const gs::Status status = gs::affine_grid(
                gs::TensorView::make(th.at(0), t, 3, theta.shape.data()), size.data(),
                static_cast<int32_t>(size.size()),
                gs::TensorView::make(grid.at(0), t, static_cast<int32_t>(expected.shape.size()),
                                     expected.shape.data()),
                align_corners);
            const std::string what =
                "affine_grid " + std::to_string(dims) + "-D " + gs::to_string(t);
            const std::vector<std::string> missing =
                missing_options("affine_grid", dims, nullptr, nullptr, t);
            if (!missing.empty()) {
                expect_refused(status, missing, what);
                EXPECT_TRUE(untouched(grid.bytes)) << what << ": a refused call wrote";
                ++refused;
                continue;
            }
            ++ran;
            ASSERT_TRUE(status.ok()) << what << ": " << status.message();
            for (int64_t i = 0; i < expected.numel(); ++i) {
                const double e = expected.data[static_cast<size_t>(i)];
                // float32 arithmetic (1e-6 of the largest term, test_affine_grid.cpp), rounded once.
                ASSERT_TRUE(storage_value_ok(load_element(grid.at(i), t), e,
                                             1e-6 * std::max(1.0, std::fabs(e)), t))
                    << what << ", element " << i << ": expected " << e << " rounded, got "
                    << load_element(grid.at(i), t);
            }
        }
    }
    RecordProperty("ran", ran);
    RecordProperty("refused", refused);
}

TEST(BuildSelection, StorageBackwardVariants) {
    uint64_t seed = 38000;
    int ran = 0, refused = 0;
    for (const Kernel& kernel : kKernels) {
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : backward::kHalfTypes) {
                backward::HalfCase hc;
                hc.cs = backward::random_case(kernel, padding, (seed & 1) != 0, gs::DType::float32,
                                              backward::Layout::contiguous,
                                              backward::kWants[seed % 3], seed);
                hc.dtype = dtype;
                hc.grid_dtype = (seed & 2) != 0 ? dtype : gs::DType::float32;
                ++seed;
                const backward::CaseData d = backward::half_data(hc);
                const backward::LibraryResult got = backward::run_half(hc, d);
                const std::vector<std::string> missing =
                    missing_options("backward", kernel.dims, &kernel.mode, &padding, dtype);
                const std::string what = "grid_sample_backward " + hc.describe();
                if (missing.empty()) {
                    ASSERT_TRUE(got.status.ok()) << what << ": " << got.status.message();
                    SCOPED_TRACE(what);
                    backward::compare(hc.cs, d.grad_output, d.input, d.grid,
                                      backward::run_reference(hc.cs, d.grad_output, d.input, d.grid),
                                      got, backward::storage_ulp(dtype));
                    ++ran;
                    continue;
                }
                expect_refused(got.status, missing, what);
                ++refused;
                const backward::GradientResult& gi = got.grad_input;
                const backward::GradientResult& gg = got.grad_grid;
                EXPECT_EQ(gi.touched_inside + gi.touched_outside + gg.touched_inside +
                              gg.touched_outside,
                          0)
                    << what;
            }
        }
    }
    RecordProperty("ran", ran);
    RecordProperty("refused", refused);
}

}  // namespace
