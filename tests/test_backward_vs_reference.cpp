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
// The cases, the comparison and the edge cases live in backward_check.h, shared with the device
// suites (tests/device).
#include <gtest/gtest.h>

#include "backward_check.h"
#include "forward_configs.h"

#include <cstdint>
#include <string>
#include <tuple>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::backward;
using gridsample_test::backward::random_data;  // not the C library's struct random_data

// ------------------------------------------------------------------------------------------------
// Randomized: every kernel x padding (one test each); align_corners x dtype x layout x gradient
// selection inside.

class RandomBackward : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(RandomBackward, MatchesReference) {
    const auto [kernel, padding] = GetParam();
    EXPECT_GT(check_random_cases(kernel, padding, 4), 0);
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

class CpuIsaBackward : public CpuLevelTest {};

TEST_P(CpuIsaBackward, MatchesReferenceAndRepeatsBitForBit) {
    const auto [isa, kernel] = GetParam();
    const gs::CpuIsa level32 = this->level32();
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
                first = false;
                ASSERT_TRUE(ran_at_dtype_level(dtype, outcome.isa, level32)) << cs.describe();
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

class DeterministicBackward : public CpuLevelTest {};

TEST_P(DeterministicBackward, BitIdenticalAcrossThreadCountsAndRuns) {
    const auto [isa, kernel] = GetParam();
    const gs::CpuIsa level32 = this->level32();
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
            ASSERT_TRUE(ran_at_dtype_level(dtype, one.isa, level32)) << cs.describe();
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
// Deterministic edge cases (S12), backward_check.h: each runs every padding x align_corners x dtype
// on every kernel it applies to, asking for both gradients.

TEST(EdgeCasesBackward, SpecialGridValues) {
    uint64_t seed = 2100;
    for (const Kernel& kernel : kKernels) check_special_grid_values(kernel, seed);
}

TEST(EdgeCasesBackward, BorderAndReflectionExactlyAtTheEdges) { check_edges_exactly(); }

TEST(EdgeCasesBackward, NearestExactTies) {
    uint64_t seed = 2300;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode == gs::Interpolation::nearest) check_nearest_exact_ties(kernel, seed);
    }
}

TEST(EdgeCasesBackward, BicubicNearEdges) { check_bicubic_near_edges(); }

TEST(EdgeCasesBackward, NonFiniteGridValues) {
    uint64_t seed = 2500;
    for (const Kernel& kernel : kKernels) check_non_finite_grid_values(kernel, seed);
}

TEST(EdgeCasesBackward, SizesOneAndTwo) {
    uint64_t seed = 2600;
    for (const Kernel& kernel : kKernels) check_sizes_one_and_two(kernel, seed);
}

TEST(EdgeCasesBackward, LargeImage) {
    uint64_t seed = 2700;
    for (const Kernel& kernel : kKernels) check_large_image(kernel, seed);
}

TEST(EdgeCasesBackward, EmptyTensors) {
    for (const Kernel& kernel : kKernels) check_empty_tensors(kernel);
}

}  // namespace
