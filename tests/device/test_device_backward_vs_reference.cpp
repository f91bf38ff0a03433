// grid_sample_backward on each GPU device (OpenCL, CUDA) against the independent float64
// reference, with the CPU suite's cases, tolerances (S11: float32 1e-4, float64 1e-10 relative to
// the largest gradient) and edge cases (backward_check.h): every kernel family x padding x
// align_corners x dtype, every gradient selection (the one not asked for is never written), the
// layouts of S8b (channels-last input, permuted and stride-0 grids, strided and stride-0
// grad_output, padded and channels-last gradients whose gaps stay untouched), S7's NaN, +-inf and
// huge grid values (gradient 0 where S9 says), border/reflection exactly at the edges, nearest
// ties (grad_grid 0), bicubic tap folding, sizes 1 and 2, empty tensors. And determinism (S13):
// grad_input, a scatter-add, is bit for bit reproducible by default, also where many output
// points add into the same input pixels; the non-deterministic mode still meets S11.
#include <gtest/gtest.h>

#include "backward_check.h"
#include "device_suite.h"

#include <cstdint>
#include <tuple>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::backward;
using gridsample_test::backward::random_data;  // not the C library's struct random_data

class DeviceBackwardVsReference : public DeviceKernelSuite {};

// Random shapes and grids, every padding x align_corners x dtype x layout, cycling through the
// gradient selections.
TEST_P(DeviceBackwardVsReference, RandomCases) {
    int64_t compared = 0;
    for (gs::Padding padding : kPaddings) compared += check_random_cases(kernel(), padding, 1, placement());
    EXPECT_GT(compared, 0);
}

TEST_P(DeviceBackwardVsReference, SpecialGridValues) {
    uint64_t seed = seed_base(2100);
    check_special_grid_values(kernel(), seed, placement());
}

TEST_P(DeviceBackwardVsReference, NonFiniteGridValues) {
    uint64_t seed = seed_base(2500);
    check_non_finite_grid_values(kernel(), seed, placement());
}

TEST_P(DeviceBackwardVsReference, SizesOneAndTwo) {
    uint64_t seed = seed_base(2600);
    check_sizes_one_and_two(kernel(), seed, placement());
}

TEST_P(DeviceBackwardVsReference, LargeImage) {
    uint64_t seed = seed_base(2700);
    check_large_image(kernel(), seed, placement());
}

TEST_P(DeviceBackwardVsReference, EmptyTensors) { check_empty_tensors(kernel(), placement()); }

// Options::deterministic = false (atomics allowed): not reproducible, but within S11.
TEST_P(DeviceBackwardVsReference, NonDeterministicModeMeetsTolerances) {
    const uint64_t test_seed = seed_base(23000);
    uint64_t index = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            for (Layout layout : {Layout::contiguous, Layout::mixed}) {
                Case cs = random_case(kernel(), padding, (index % 2) == 0, dtype, layout, Want::both,
                                      mix_seed(test_seed, index));
                ++index;
                cs.deterministic = false;
                cs.shape.c = 5;
                check_random_case(cs, placement());
            }
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(DeviceBackwardVsReference);

// ------------------------------------------------------------------------------------------------
// Per device: the edge cases of one kernel family

class DeviceBackwardEdgeCases : public DeviceSuite<gs::Device> {};

// S12.6: border/reflection exactly at 0 and S-1, gradient 0 there.
TEST_P(DeviceBackwardEdgeCases, BorderAndReflectionExactlyAtTheEdges) { check_edges_exactly(placement()); }

// S12.3: the whole grad_output goes to the S5 pixel, grad_grid is 0.
TEST_P(DeviceBackwardEdgeCases, NearestExactTies) {
    uint64_t seed = 2300;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode == gs::Interpolation::nearest) check_nearest_exact_ties(kernel, seed, placement());
    }
}

// S12.7: several taps fold onto one edge pixel and add up there.
TEST_P(DeviceBackwardEdgeCases, BicubicNearEdges) { check_bicubic_near_edges(placement()); }

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceBackwardEdgeCases);

// ------------------------------------------------------------------------------------------------
// Determinism (S13): with the default Options::deterministic, grad_input (a scatter-add, on a GPU
// a sum over threads) and grad_grid come out bit for bit the same from identical calls.

class DeviceBackwardDeterminism : public DeviceKernelSuite {
protected:
    // Runs the case three times: every run gives the same bits, and the first matches the
    // reference.
    void check_repeats(const Case& cs, const CaseData& d) {
        const LibraryResult first = run_library(cs, d.grad_output, d.input, d.grid, placement());
        ASSERT_TRUE(first.status.ok()) << cs.describe() << "\n  " << first.status.message();
        for (int run = 2; run <= 3; ++run) {
            const LibraryResult again = run_library(cs, d.grad_output, d.input, d.grid, placement());
            ASSERT_TRUE(again.status.ok()) << cs.describe() << "\n  " << again.status.message();
            EXPECT_TRUE(again.grad_input.bytes == first.grad_input.bytes)
                << cs.describe() << "\n  grad_input of run " << run << " differs from run 1";
            EXPECT_TRUE(again.grad_grid.bytes == first.grad_grid.bytes)
                << cs.describe() << "\n  grad_grid of run " << run << " differs from run 1";
        }
        compare(cs, d.grad_output, d.input, d.grid, run_reference(cs, d.grad_output, d.input, d.grid),
                first);
    }
};

// Random grids over images smaller than the output (several output points per input pixel),
// many channels, several batch items.
TEST_P(DeviceBackwardDeterminism, RepeatedCallsGiveTheSameBits) {
    const uint64_t test_seed = 29000u + 10u * static_cast<uint64_t>(kernel().dims) +
                               static_cast<uint64_t>(kernel().mode);
    uint64_t index = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            if (!unsupported_reason(dtype, true).empty()) continue;
            Case cs;
            cs.kernel = kernel();
            cs.padding = padding;
            cs.dtype = dtype;
            cs.align_corners = (index % 2) == 1;
            cs.layout = index % 3 == 0 ? Layout::mixed : Layout::contiguous;
            cs.seed = mix_seed(test_seed, index++);
            cs.shape.dims = kernel().dims;
            cs.shape.n = 3;
            cs.shape.c = 11;
            if (kernel().dims == 2) {
                cs.shape.in[1] = 13, cs.shape.in[2] = 11;
                cs.shape.out[1] = 40, cs.shape.out[2] = 33;
            } else {
                cs.shape.in[0] = 5, cs.shape.in[1] = 6, cs.shape.in[2] = 7;
                cs.shape.out[0] = 7, cs.shape.out[1] = 8, cs.shape.out[2] = 9;
            }
            CaseData d = random_data(cs, 0.05);
            d.grad_output = without_nearest_near_ties(cs, d.grad_output, d.grid);
            check_repeats(cs, d);
        }
    }
}

// Every output point collapsed onto one of three points of the input: thousands of
// contributions add into the same few pixels, the worst case for a sum's order.
TEST_P(DeviceBackwardDeterminism, CollapsedGridGivesTheSameBits) {
    uint64_t index = 0;
    for (gs::Padding padding : kPaddings) {
        for (gs::DType dtype : kDTypes) {
            if (!unsupported_reason(dtype, true).empty()) continue;
            Case cs;
            cs.kernel = kernel();
            cs.padding = padding;
            cs.dtype = dtype;
            cs.align_corners = (index % 2) == 0;
            cs.seed = mix_seed(31000u + static_cast<uint64_t>(kernel().mode), index++);
            cs.shape.dims = kernel().dims;
            cs.shape.n = 2;
            cs.shape.c = 5;
            cs.shape.in[0] = kernel().dims == 3 ? 4 : 1;
            cs.shape.in[1] = 6, cs.shape.in[2] = 7;
            if (kernel().dims == 2) {
                cs.shape.out[1] = 64, cs.shape.out[2] = 64;
            } else {
                cs.shape.out[0] = 16, cs.shape.out[1] = 16, cs.shape.out[2] = 16;
            }
            CaseData d = random_data(cs, 0.0);
            // Three targets, between pixel centres (nearest: at pixel centres, away from ties).
            const double targets[3][3] = {{-0.31, 0.18, 0.52}, {0.13, -0.62, -0.07}, {0.57, 0.43, -0.48}};
            Rng rng(cs.seed);
            const int dims = cs.shape.dims;
            for (size_t p = 0; p < d.grid.data.size() / static_cast<size_t>(dims); ++p) {
                const int64_t t = uniform_int(rng, 0, 2);
                for (int k = 0; k < dims; ++k) {
                    double g = targets[t][k];
                    if (kernel().mode == gs::Interpolation::nearest) {
                        const int64_t size = cs.shape.axis_size(k);
                        const double x = std::floor(unnormalized(g, size, cs.align_corners));
                        g = grid_value_at(std::min(std::max(x, 0.0), static_cast<double>(size - 1)),
                                          size, cs.align_corners);
                    }
                    d.grid.data[p * static_cast<size_t>(dims) + static_cast<size_t>(k)] = to_dtype(g, dtype);
                }
            }
            check_repeats(cs, d);
        }
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_KERNEL_SUITE(DeviceBackwardDeterminism);

}  // namespace
