// affine_grid and affine_grid_sample on each GPU device (OpenCL, CUDA). affine_grid against the
// reference's affine_grid (random thetas, 2-D and 3-D, both align_corners, float32 and float64,
// sizes 1 to 9, strided thetas and outputs whose gaps must stay untouched). affine_grid_sample,
// for every kernel family x padding x dtype: bit for bit the result of the two calls it fuses
// (affine_grid, then grid_sample on that grid, both on the device, the grid never leaving it), and
// within S11 of the reference sampling that grid; planar and channels-last inputs, output sizes
// other than the input's, strided outputs.
#include <gtest/gtest.h>

#include "device_suite.h"
#include "forward_check.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::forward;

// Every dimension padded by one element: the gaps catch writes outside the view.
StridedLayout padded_layout(const std::vector<int64_t>& sizes) {
    std::vector<int> order(sizes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    return make_layout(sizes, order, std::vector<int64_t>(sizes.size(), 1), 0, false);
}

template <typename T>
std::vector<T> fill_storage(const StridedLayout& l, const ref::Array& a) {
    std::vector<T> storage(static_cast<size_t>(l.storage_size), sentinel<T>());
    for_each_element(l, [&](int64_t flat, int64_t pos) {
        storage[static_cast<size_t>(pos)] = static_cast<T>(a.data[static_cast<size_t>(flat)]);
    });
    return storage;
}

// The view's values (C order), and how many storage elements outside it differ from the sentinel.
template <typename T>
ref::Array read_view(const std::vector<T>& storage, const StridedLayout& l, int64_t* touched_outside) {
    ref::Array a(l.sizes);
    std::vector<char> inside(storage.size(), 0);
    for_each_element(l, [&](int64_t flat, int64_t pos) {
        a.data[static_cast<size_t>(flat)] = static_cast<double>(storage[static_cast<size_t>(pos)]);
        inside[static_cast<size_t>(pos)] = 1;
    });
    const T s = sentinel<T>();
    *touched_outside = 0;
    for (size_t i = 0; i < storage.size(); ++i) {
        if (!inside[i] && std::memcmp(&storage[i], &s, sizeof(T)) != 0) ++*touched_outside;
    }
    return a;
}

// ------------------------------------------------------------------------------------------------
// affine_grid

class DeviceAffineGrid : public DeviceSuite<gs::Device> {
protected:
    template <typename T>
    void run_case(int dims, bool align_corners, uint32_t seed) {
        const gs::DType dtype = sizeof(T) == 8 ? gs::DType::float64 : gs::DType::float32;
        std::mt19937 rng(seed);
        std::uniform_real_distribution<double> coef(-2.0, 2.0);
        std::uniform_int_distribution<int> size_dist(1, 9), batch_dist(1, 3);
        std::vector<int64_t> size{batch_dist(rng), 1};
        for (int k = 0; k < dims; k++) size.push_back(size_dist(rng));
        const int64_t n = size[0];

        ref::Array theta({n, dims, dims + 1});
        for (double& v : theta.data) v = to_dtype(coef(rng), dtype);
        const ref::Array expected = ref::affine_grid(theta, size, align_corners);

        // theta: contiguous, or (for odd seeds) its rows and columns transposed in memory.
        StridedLayout theta_layout = contiguous_layout(theta.shape);
        if (seed % 2 == 1) theta_layout = make_layout(theta.shape, {0, 2, 1}, {0, 0, 0}, 0, false);
        std::vector<T> theta_storage = fill_storage<T>(theta_layout, theta);
        const StridedLayout grid_layout = padded_layout(expected.shape);
        std::vector<T> grid_storage(static_cast<size_t>(grid_layout.storage_size), sentinel<T>());

        gs::Status status;
        {
            const std::unique_ptr<PlacedCall> call = placement().begin();
            const gs::TensorView th = call->input(storage_view(theta_storage, theta_layout));
            const gs::TensorView grid = call->output(storage_view(grid_storage, grid_layout));
            status = gs::affine_grid(th, size.data(), static_cast<int32_t>(size.size()), grid,
                                     align_corners, call->stream());
            call->finish();
        }
        const std::string what = std::to_string(dims) + "-D " + dtype_name(dtype) +
                                 " align_corners=" + std::to_string(align_corners) +
                                 " size=" + sizes_string(size) + " seed=" + std::to_string(seed);
        ASSERT_TRUE(status.ok()) << what << "\n  " << status.message();
        int64_t touched_outside = 0;
        const ref::Array got = read_view(grid_storage, grid_layout, &touched_outside);
        EXPECT_EQ(touched_outside, 0) << what << "\n  wrote outside the grid view";
        // As the CPU suite: float32 products round in float; 1e-6 relative is generous for three
        // or four terms of magnitude <= 2 (fused multiply-adds only make them more exact).
        const double tol = dtype == gs::DType::float64 ? 1e-12 : 1e-6;
        int failures = 0;
        for (size_t i = 0; i < expected.data.size(); ++i) {
            const double want = expected.data[i];
            if (std::fabs(got.data[i] - want) <= tol * std::max(1.0, std::fabs(want))) continue;
            if (++failures <= 5) {
                ADD_FAILURE() << what << "\n  grid element " << i << ": expected " << want << ", got "
                              << got.data[i];
            }
        }
    }
};

TEST_P(DeviceAffineGrid, RandomThetasMatchReference) {
    for (int dims : {2, 3}) {
        for (bool align_corners : {false, true}) {
            for (uint32_t seed = 1; seed <= 8; seed++) {
                run_case<float>(dims, align_corners, seed);
                if (unsupported_reason(gs::DType::float64).empty()) {
                    run_case<double>(dims, align_corners, seed);
                }
                if (HasFatalFailure()) return;
            }
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceAffineGrid);

// ------------------------------------------------------------------------------------------------
// affine_grid_sample

class DeviceAffineGridSample : public DeviceKernelSuite {
protected:
    template <typename T>
    void run_case(gs::Padding padding, uint32_t seed) {
        const gs::DType dtype = sizeof(T) == 8 ? gs::DType::float64 : gs::DType::float32;
        const Kernel k = kernel();
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> size(1, 9), batch(1, 3), channels(1, 4);
        std::uniform_real_distribution<double> value(-2.0, 2.0), coef(-1.3, 1.3);

        Case cs;
        cs.kernel = k;
        cs.padding = padding;
        cs.align_corners = (seed & 1) != 0;
        cs.dtype = dtype;
        cs.layout = seed % 4 >= 2 ? Layout::channels_last_input : Layout::padded_output;
        cs.seed = seed;
        cs.shape.dims = k.dims;
        cs.shape.n = batch(rng);
        cs.shape.c = channels(rng);
        for (int d = 3 - k.dims; d < 3; ++d) {
            cs.shape.in[d] = size(rng);
            cs.shape.out[d] = size(rng);
        }
        const int dims = k.dims;
        ref::Array input(cs.shape.input_sizes());
        for (double& v : input.data) v = to_dtype(value(rng), dtype);
        ref::Array theta({cs.shape.n, dims, dims + 1});
        for (double& v : theta.data) v = to_dtype(coef(rng), dtype);

        // Input and output in the case's layouts; grid and two-step output contiguous.
        const CaseLayouts l = layouts_for(cs);
        const StridedLayout theta_layout = contiguous_layout(theta.shape);
        const StridedLayout grid_layout = contiguous_layout(cs.shape.grid_sizes());
        const StridedLayout two_layout = contiguous_layout(cs.shape.output_sizes());
        std::vector<T> in_storage = fill_storage<T>(l.input, input);
        std::vector<T> theta_storage = fill_storage<T>(theta_layout, theta);
        std::vector<T> grid_storage(static_cast<size_t>(grid_layout.storage_size), sentinel<T>());
        std::vector<T> two_storage(static_cast<size_t>(two_layout.storage_size), sentinel<T>());
        std::vector<T> fused_storage(static_cast<size_t>(l.output.storage_size), sentinel<T>());

        const std::vector<int64_t> out_size = cs.shape.output_sizes();
        gs::Options options = cs.options();
        gs::Status grid_status, two_status, fused_status;
        {
            // One call's buffers: the grid affine_grid writes is the grid grid_sample reads, on
            // the device, in queue order.
            const std::unique_ptr<PlacedCall> call = placement().begin();
            const gs::TensorView in = call->input(storage_view(in_storage, l.input));
            const gs::TensorView th = call->input(storage_view(theta_storage, theta_layout));
            const gs::TensorView grid = call->output(storage_view(grid_storage, grid_layout));
            const gs::TensorView two = call->output(storage_view(two_storage, two_layout));
            const gs::TensorView fused = call->output(storage_view(fused_storage, l.output));
            options.stream = call->stream();
            grid_status = gs::affine_grid(th, out_size.data(), static_cast<int32_t>(out_size.size()),
                                          grid, cs.align_corners, options.stream);
            two_status = gs::grid_sample(in, grid, two, options);
            fused_status = gs::affine_grid_sample(in, th, fused, options);
            call->finish();
        }
        ASSERT_TRUE(grid_status.ok()) << cs.describe() << "\n  affine_grid: " << grid_status.message();
        ASSERT_TRUE(two_status.ok()) << cs.describe() << "\n  grid_sample: " << two_status.message();
        ASSERT_TRUE(fused_status.ok()) << cs.describe() << "\n  affine_grid_sample: " << fused_status.message();

        int64_t touched = 0;
        const ref::Array grid = read_view(grid_storage, grid_layout, &touched);
        const ref::Array two = read_view(two_storage, two_layout, &touched);
        LibraryResult fused;
        fused.output = read_view(fused_storage, l.output, &fused.touched_outside);
        EXPECT_EQ(fused.touched_outside, 0) << cs.describe() << "\n  wrote into the output's gaps";

        // Bit for bit the two calls (gridsample.h).
        int mismatches = 0;
        for (size_t i = 0; i < two.data.size(); ++i) {
            const T a = static_cast<T>(fused.output.data[i]), b = static_cast<T>(two.data[i]);
            if (std::memcmp(&a, &b, sizeof(T)) == 0) continue;
            if (++mismatches <= 5) {
                ADD_FAILURE() << cs.describe() << "\n  output element " << i << ": fused " << a
                              << ", affine_grid + grid_sample " << b;
            }
        }
        // The sampling of the device's own grid, within S11 of the reference.
        compare(cs, input, grid, run_reference(cs, input, grid), fused);
    }
};

TEST_P(DeviceAffineGridSample, MatchesTwoStepsAndReference) {
    for (gs::Padding padding : kPaddings) {
        for (uint32_t seed = 1; seed <= 6; seed++) {
            run_case<float>(padding, seed);
            if (unsupported_reason(gs::DType::float64).empty()) run_case<double>(padding, seed);
            if (HasFatalFailure()) return;
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(DeviceAffineGridSample);

}  // namespace
