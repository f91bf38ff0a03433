// grid_sample on each GPU device (OpenCL, CUDA) against the independent float64 reference, with
// the CPU suite's cases, tolerances (S11) and edge cases (forward_check.h): every kernel family x
// padding x align_corners x dtype, the layouts of S8b (padded and channels-last inputs, permuted
// and stride-0 expanded grids, strided outputs whose gaps must stay untouched), S7's NaN, +-inf
// and huge grid values (the same pixels as the reference, finite outputs), nearest ties, sizes 1
// and 2, empty tensors; and repeated calls giving the same bits (S13). Tensors are copied to the
// device and back (device_buffers.h); calls run on the test's own stream or queue.
// float64 cases on a device without float64 must be refused as `unsupported` (S13).
#include <gtest/gtest.h>

#include "device_suite.h"
#include "forward_check.h"

#include <cstdint>
#include <tuple>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::forward;

// ------------------------------------------------------------------------------------------------
// Per device and kernel family

class DeviceVsReference : public DeviceKernelSuite {};

// Random shapes (sizes 1 and 2 frequent) and grids (with S7/S12 values), every padding x
// align_corners x dtype x layout.
TEST_P(DeviceVsReference, RandomCases) {
    int64_t compared = 0;
    for (gs::Padding padding : kPaddings) compared += check_random_cases(kernel(), padding, 2, placement());
    EXPECT_GT(compared, 0);
}

TEST_P(DeviceVsReference, IdentityGrid) {
    uint64_t seed = seed_base(42);
    check_identity_grids(kernel(), seed, placement());
}

TEST_P(DeviceVsReference, SpecialGridValues) {
    uint64_t seed = seed_base(100);
    check_special_grid_values(kernel(), seed, placement());
}

TEST_P(DeviceVsReference, SizesOneAndTwo) {
    uint64_t seed = seed_base(400);
    check_sizes_one_and_two(kernel(), seed, placement());
}

TEST_P(DeviceVsReference, NonFiniteGridValues) {
    uint64_t seed = seed_base(500);
    check_non_finite_grid_values(kernel(), seed, placement());
}

TEST_P(DeviceVsReference, LargeImage) {
    uint64_t seed = seed_base(600);
    check_large_image(kernel(), seed, placement());
}

TEST_P(DeviceVsReference, EmptyTensors) { check_empty_tensors(kernel(), placement()); }

// S13: within one device every result is reproducible bit for bit from run to run.
TEST_P(DeviceVsReference, RepeatsBitForBit) {
    uint64_t index = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            if (!unsupported_reason(dtype).empty()) continue;
            Case cs;
            cs.kernel = kernel();
            cs.padding = padding;
            cs.dtype = dtype;
            cs.align_corners = (index % 2) == 1;
            cs.layout = index % 3 == 0 ? Layout::mixed : Layout::contiguous;
            cs.seed = mix_seed(seed_base(9000), index++);
            cs.shape.dims = kernel().dims;
            cs.shape.n = 2;
            cs.shape.c = 3;
            if (kernel().dims == 2) {
                cs.shape.in[1] = 37, cs.shape.in[2] = 45;
                cs.shape.out[1] = 40, cs.shape.out[2] = 33;
            } else {
                cs.shape.in[0] = 9, cs.shape.in[1] = 11, cs.shape.in[2] = 13;
                cs.shape.out[0] = 7, cs.shape.out[1] = 8, cs.shape.out[2] = 9;
            }
            Rng rng(cs.seed);
            const ref::Array input = random_input(cs, rng);
            const ref::Array grid = random_grid(cs, rng, 0.05);
            const LibraryResult first = run_library(cs, input, grid, placement());
            const LibraryResult second = run_library(cs, input, grid, placement());
            ASSERT_TRUE(first.status.ok() && second.status.ok())
                << cs.describe() << "\n  " << first.status.message() << second.status.message();
            EXPECT_TRUE(first.bytes == second.bytes)
                << cs.describe() << "\n  two identical calls give different bits";
            EXPECT_EQ(first.touched_outside, 0) << cs.describe();
            compare(cs, input, grid, run_reference(cs, input, grid), first);
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(DeviceVsReference);

// ------------------------------------------------------------------------------------------------
// Per device: the edge cases of one kernel family

class DeviceEdgeCases : public DeviceSuite<gs::Device> {};

// S12.3: exact ties, 2-D and 3-D; none may be skipped.
TEST_P(DeviceEdgeCases, NearestExactTies) {
    uint64_t seed = 200;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode == gs::Interpolation::nearest) check_nearest_exact_ties(kernel, seed, placement());
    }
}

// S12.7: per-tap padding near the edges, tap folding, overshoot.
TEST_P(DeviceEdgeCases, BicubicNearEdges) { check_bicubic_near_edges(placement()); }

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceEdgeCases);

}  // namespace
