// The storage types of SEMANTICS.md S10 on each GPU device (float16 and bfloat16 with a grid or
// theta of the same type or float32, uint8 images with a float32 grid):
//   - grid_sample against the independent float64 reference with the CPU suite's S10 comparison
//     (storage_forward_check.h): every kernel family x padding x align_corners x dtype x grid
//     dtype, contiguous, channels-last and mixed strided layouts, non-finite grids;
//   - the backward (float16, bfloat16) against the reference within S11's float32 tolerance plus
//     one unit in the storage type's last place (storage_backward_check.h), every layout;
//   - affine_grid_sample bit for bit affine_grid (float32 theta) + grid_sample on the device,
//     and affine_grid of 16-bit theta bit for bit the CPU's (both compute in float32 and round
//     once).
// A device without float16 arithmetic (OpenCL without cl_khr_fp16, such as PoCL) must refuse
// float16 as `unsupported` and write nothing (S13); bfloat16 (integer conversions) and uint8 run
// everywhere.
#include <gtest/gtest.h>

#include "device_suite.h"
#include "storage_backward_check.h"
#include "storage_forward_check.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace gridsample_test;
using forward::CaseLayouts;
using forward::check_storage_case;
using forward::grid_dtypes;
using forward::Layout;
using forward::make_case;
using forward::storage_random_data;
using forward::run_storage;
using forward::Storage;
using forward::StorageCase;
using forward::StorageResult;

class DeviceStorage : public DeviceKernelSuite {};

TEST_P(DeviceStorage, MatchesReference) {
    uint64_t index = 0;
    CheckStats stats;
    int64_t refused = 0;
    for (gs::Padding padding : kPaddings) {
        for (bool align_corners : {false, true}) {
            for (gs::DType dtype : kStorageDTypes) {
                for (gs::DType grid_dtype : grid_dtypes(dtype)) {
                    for (Layout layout : {Layout::contiguous, Layout::channels_last_input,
                                          Layout::mixed}) {
                        const StorageCase sc = make_case(kernel(), padding, align_corners, dtype,
                                                         grid_dtype, layout,
                                                         mix_seed(seed_base(31000), index++));
                        ref::Array input, grid;
                        storage_random_data(sc, input, grid);
                        const CaseLayouts l = forward::layouts_for(sc.cs);
                        const std::string reason = unsupported_reason(dtype);
                        if (reason.empty()) {
                            check_storage_case(sc, input, grid, l, &stats, placement());
                            continue;
                        }
                        const StorageResult got = run_storage(sc, input, grid, l, placement());
                        EXPECT_EQ(got.status.code(), gs::StatusCode::unsupported)
                            << sc.describe() << "\n  " << reason << "; got "
                            << got.status.message();
                        Storage untouched(dtype, l.output.storage_size);
                        EXPECT_TRUE(got.bytes == untouched.bytes)
                            << sc.describe() << "\n  a refused call wrote to the output";
                        ++refused;
                    }
                }
            }
        }
    }
    EXPECT_GT(stats.compared + refused, 0);
}

// The backward of float16 and bfloat16 tensors: every layout, gradient selection and grid type.
TEST_P(DeviceStorage, BackwardMatchesReference) {
    using namespace gridsample_test::backward;
    uint64_t index = 0;
    int64_t compared = 0, refused = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kHalfTypes) {
            for (gs::DType grid_dtype : {dtype, gs::DType::float32}) {
                for (backward::Layout layout : {backward::Layout::contiguous,
                                                backward::Layout::channels_last_gradients,
                                                backward::Layout::mixed}) {
                    HalfCase hc;
                    hc.cs = random_case(kernel(), padding, index % 2 == 1, gs::DType::float32,
                                        layout, kWants[index % 3],
                                        mix_seed(seed_base(33000), index));
                    ++index;
                    hc.dtype = dtype;
                    hc.grid_dtype = grid_dtype;
                    const CaseData d = half_data(hc);
                    const LibraryResult got = run_half(hc, d, placement());
                    const std::string reason = unsupported_reason(dtype, wants_input(hc.cs.want));
                    if (!reason.empty()) {
                        EXPECT_EQ(got.status.code(), gs::StatusCode::unsupported)
                            << hc.describe() << "\n  " << reason << "; got " << got.status.message();
                        EXPECT_EQ(got.grad_input.touched_inside + got.grad_input.touched_outside +
                                      got.grad_grid.touched_inside + got.grad_grid.touched_outside,
                                  0)
                            << hc.describe() << "\n  a refused call wrote to a gradient";
                        ++refused;
                        continue;
                    }
                    ASSERT_TRUE(got.status.ok()) << hc.describe() << "\n  " << got.status.message();
                    compared += compare(hc.cs, d.grad_output, d.input, d.grid,
                                        run_reference(hc.cs, d.grad_output, d.input, d.grid), got,
                                        storage_ulp(dtype))
                                    .compared;
                }
            }
        }
    }
    EXPECT_GT(compared + refused, 0);
}

// affine_grid_sample on the device, bit for bit affine_grid (theta's values in float32) +
// grid_sample there; and affine_grid of 16-bit theta bit for bit the CPU's.
TEST_P(DeviceStorage, FusedAndAffineGridMatchTheirParts) {
    uint64_t index = 0;
    for (gs::DType dtype : kStorageDTypes) {
        for (gs::DType theta_dtype : grid_dtypes(dtype)) {
            if (!unsupported_reason(dtype).empty()) continue;
            const StorageCase sc = make_case(kernel(), gs::Padding::zeros, index % 2 == 0, dtype,
                                             theta_dtype, Layout::channels_last_input,
                                             mix_seed(seed_base(35000), index));
            ++index;
            ref::Array input, unused_grid;
            storage_random_data(sc, input, unused_grid);
            const forward::Case& cs = sc.cs;
            const int dims = cs.kernel.dims;
            Rng rng(mix_seed(cs.seed, 5));
            ref::Array theta({cs.shape.n, dims, dims + 1});
            for (double& v : theta.data) {
                v = round_to_storage(uniform(rng, -1.2, 1.2), theta_dtype);
            }
            const CaseLayouts l = forward::layouts_for(cs);
            const StridedLayout theta_layout = contiguous_layout(theta.shape);
            const StridedLayout grid_layout = contiguous_layout(cs.shape.grid_sizes());
            const StridedLayout out_layout = contiguous_layout(cs.shape.output_sizes());
            Storage in(dtype, l.input.storage_size), th(theta_dtype, theta_layout.storage_size),
                th32(gs::DType::float32, theta_layout.storage_size),
                grid(gs::DType::float32, grid_layout.storage_size),
                two(dtype, out_layout.storage_size), fused(dtype, out_layout.storage_size);
            for_each_element(l.input, [&](int64_t flat, int64_t pos) {
                store_element(input.data[static_cast<size_t>(flat)], dtype, in.at(pos));
            });
            for_each_element(theta_layout, [&](int64_t flat, int64_t pos) {
                store_element(theta.data[static_cast<size_t>(flat)], theta_dtype, th.at(pos));
                store_element(theta.data[static_cast<size_t>(flat)], gs::DType::float32,
                              th32.at(pos));
            });
            const std::vector<int64_t> size = cs.shape.output_sizes();
            gs::Status grid_status, two_status, fused_status;
            {
                const std::unique_ptr<PlacedCall> call = placement().begin();
                gs::Options options = cs.options();
                options.stream = call->stream();
                const gs::TensorView in_view = call->input(in.view(l.input));
                const gs::TensorView grid_view = call->output(grid.view(grid_layout));
                grid_status = gs::affine_grid(call->input(th32.view(theta_layout)), size.data(),
                                              static_cast<int32_t>(size.size()), grid_view,
                                              cs.align_corners, options.stream);
                two_status = gs::grid_sample(in_view, grid_view,
                                             call->output(two.view(out_layout)), options);
                fused_status = gs::affine_grid_sample(in_view, call->input(th.view(theta_layout)),
                                                      call->output(fused.view(out_layout)),
                                                      options);
                call->finish();
            }
            ASSERT_TRUE(grid_status.ok() && two_status.ok() && fused_status.ok())
                << sc.describe() << "\n  " << grid_status.message() << two_status.message()
                << fused_status.message();
            EXPECT_TRUE(fused.bytes == two.bytes)
                << sc.describe() << "\n  affine_grid_sample differs from its two calls";

            if (dtype == gs::DType::uint8 || theta_dtype != dtype) continue;
            // affine_grid with theta and grid in the 16-bit type, here and on the CPU.
            Storage grid16(dtype, grid_layout.storage_size), cpu16(dtype, grid_layout.storage_size);
            gs::Status device_status;
            {
                const std::unique_ptr<PlacedCall> call = placement().begin();
                device_status = gs::affine_grid(
                    call->input(th.view(theta_layout)), size.data(),
                    static_cast<int32_t>(size.size()), call->output(grid16.view(grid_layout)),
                    cs.align_corners, call->stream());
                call->finish();
            }
            const gs::Status cpu_status =
                gs::affine_grid(th.view(theta_layout), size.data(),
                                static_cast<int32_t>(size.size()), cpu16.view(grid_layout),
                                cs.align_corners);
            ASSERT_TRUE(device_status.ok() && cpu_status.ok())
                << sc.describe() << "\n  " << device_status.message() << cpu_status.message();
            EXPECT_TRUE(grid16.bytes == cpu16.bytes)
                << sc.describe() << "\n  affine_grid on the device differs from the CPU's";
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(DeviceStorage);

}  // namespace
