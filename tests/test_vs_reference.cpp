// gridsample::grid_sample against the independent float64 reference (tests/reference), which is
// written from SEMANTICS.md alone. Every expected value comes from the reference; tolerances
// follow S11. Covered: every mode x padding x align_corners x dims x dtype on random shapes and
// grids (S12.1, S12.5), every memory layout of S8b (S12.11), non-finite and huge grid values (S7,
// S12.8, S12.9), the deterministic edge cases of S12.2-S12.7 and S12.10, every compiled x86 ISA
// variant, and thread-count independence. The cases, the comparison and the edge cases live in
// forward_check.h, shared with the device suites (tests/device).
#include <gtest/gtest.h>

#include "forward_check.h"
#include "forward_configs.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::forward;

// ------------------------------------------------------------------------------------------------
// Randomized: every kernel x padding (one test each), every align_corners x dtype x layout inside.

class RandomVsReference
    : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(RandomVsReference, MatchesReference) {
    const auto [kernel, padding] = GetParam();
    EXPECT_GT(check_random_cases(kernel, padding, 6), 0);
}

std::string kernel_padding_name(
    const ::testing::TestParamInfo<std::tuple<Kernel, gs::Padding>>& info) {
    return kernel_name(std::get<0>(info.param)) + "_" + padding_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, RandomVsReference,
                         ::testing::Combine(::testing::ValuesIn(kKernels),
                                            ::testing::ValuesIn(kPaddings)),
                         kernel_padding_name);

// ------------------------------------------------------------------------------------------------
// Every compiled CPU variant: the dispatcher is limited to each ISA in turn.

// A case of `kernel` with align_corners from the seed's low bit; the caller sets its shape.
Case seeded_case(const Kernel& kernel, gs::Padding padding, gs::DType dtype, Layout layout,
                 uint64_t seed) {
    Case cs;
    cs.kernel = kernel;
    cs.padding = padding;
    cs.align_corners = (seed % 2) == 1;
    cs.dtype = dtype;
    cs.layout = layout;
    cs.seed = seed;
    cs.shape.dims = kernel.dims;
    return cs;
}

class CpuIsaVsReference : public CpuLevelTest {
protected:
    // Checks the case make(padding, dtype, rep, seed) for every padding x dtype x rep in
    // [0, reps), with the dispatcher limited to this test's ISA (CpuLevelTest). Every case must run at its dtype's level (check_common.h:
    // ran_at_dtype_level). With `lower_levels`, the cases call variants compiled at some levels
    // only, so a case may run at a lower level than the cap (never a higher one).
    void check_cases(uint64_t seed_base, int reps,
                     const std::function<Case(gs::Padding, gs::DType, int, uint64_t)>& make,
                     bool lower_levels = false) {
        const auto [isa, kernel] = GetParam();
        const gs::CpuIsa level32 = this->level32();
        const uint64_t test_seed = seed_base + 1000u * static_cast<uint64_t>(isa) +
                                   10u * static_cast<uint64_t>(kernel.dims) +
                                   static_cast<uint64_t>(kernel.mode);
        SCOPED_TRACE("test seed " + std::to_string(test_seed));
        uint64_t index = 0;
        bool any_ran = false;
        for (gs::Padding padding : kPaddings) {
            for (gs::DType dtype : kDTypes) {
                for (int rep = 0; rep < reps; ++rep) {
                    const Case cs = make(padding, dtype, rep, mix_seed(test_seed, index++));
                    const CaseOutcome outcome = check_random_case(cs);
                    if (!outcome.ran) continue;
                    any_ran = true;
                    if (lower_levels) {
                        ASSERT_LE(outcome.isa, isa) << cs.describe();
                        continue;
                    }
                    ASSERT_TRUE(ran_at_dtype_level(dtype, outcome.isa, level32))
                        << cs.describe() << "\n  with max " << isa_name(isa);
                }
            }
        }
        EXPECT_TRUE(any_ran) << "no kernel call succeeded";
    }
};

TEST_P(CpuIsaVsReference, MatchesReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(5000u, 3, [&](gs::Padding padding, gs::DType dtype, int, uint64_t seed) {
        const Layout layout = kLayouts[seed % (sizeof(kLayouts) / sizeof(kLayouts[0]))];
        return random_case(kernel, padding, (seed % 2) == 0, dtype, layout, seed);
    });
}

// Rows wider than the schedule's tiles (64 and 128 points): the random cases above are a few
// points wide, while some lowering passes act only on whole tiles or on rows of several tiles
// (2-D: PairGathers' 64-bit pair loads of planar bilinear, NextTileGridPrefetch,
// HoistTileInvariants). 333 output points a row are 5 tiles of 64 plus 13, or 2 of 128 plus 77.
// Inputs 1 and 2 pixels wide are included: PairGathers needs two, and keeps the plain loads for
// one. Each width is sampled with 3 channels and with 7: HoistTileInvariants acts from 6; and
// channels-last in and out with 3 and 4 channels: the interleaved RGB/RGBA kernels, whose rows
// PairGathers pairs on the levels without hardware gathers.
TEST_P(CpuIsaVsReference, WideRowsMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(7000u, 12, [&](gs::Padding padding, gs::DType dtype, int rep, uint64_t seed) {
        const int64_t widths[] = {1, 2, 150};
        const Layout layout = rep >= 6             ? Layout::channels_last
                              : (seed % 3) == 2 ? Layout::padded_output
                                                : Layout::contiguous;
        Case cs = seeded_case(kernel, padding, dtype, layout, seed);
        cs.shape.c = rep < 3 ? 3 : rep < 6 ? 7 : rep < 9 ? 3 : 4;
        cs.shape.in[0] = kernel.dims == 3 ? 5 : 1;
        cs.shape.in[1] = 19;
        cs.shape.in[2] = widths[rep % 3];
        cs.shape.out[0] = kernel.dims == 3 ? 2 : 1;
        cs.shape.out[1] = 4;
        cs.shape.out[2] = 333;
        return cs;
    });
}

// The many-channel cases, repetition `rep` (0 to 5) of each configuration: channel counts at,
// just above and well above each lane count (4 to 16 lanes, by level and dtype), rows of a full
// tile plus a remainder. 2-D bilinear samples a planar input channels-last only where the
// channels are a multiple of the lanes (channels_last_copy()): 4, 8 and 16.
inline constexpr int kManyChannelsReps = 6;
Case many_channels_case(const Kernel& kernel, gs::Padding padding, gs::DType dtype, Layout layout,
                        int rep, uint64_t seed) {
    const int64_t channels[kManyChannelsReps] = {4, 8, 9, 16, 17, 33};
    Case cs = seeded_case(kernel, padding, dtype, layout, seed);
    cs.shape.n = 1 + rep % 2;
    cs.shape.c = channels[rep];
    cs.shape.in[0] = kernel.dims == 3 ? 4 : 1;
    cs.shape.in[1] = 13;
    cs.shape.in[2] = 23;
    cs.shape.out[0] = kernel.dims == 3 ? 2 : 1;
    cs.shape.out[1] = 3;
    cs.shape.out[2] = 70;
    return cs;
}

// Planar tensors with many channels: with a vector of channels or more the forward samples a
// channels-last copy of the input, V channels a vector, the last block shifted inwards
// (cpu/forward_schedule.h). Planar layouts only (channels-last tensors:
// ChannelsLastManyChannelsMatchReference below).
TEST_P(CpuIsaVsReference, ManyChannelsMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(8000u, kManyChannelsReps, [&](gs::Padding padding, gs::DType dtype, int rep,
                                              uint64_t seed) {
        const Layout layouts[] = {Layout::contiguous, Layout::padded_input, Layout::padded_output};
        return many_channels_case(kernel, padding, dtype, layouts[rep % 3], rep, seed);
    });
}

// Channels-last tensors with many channels (NHWC / NDHWC in and out, PyTorch's channels_last
// formats): with a vector of channels or more the forward vectorizes the channels in a branch of
// its own, the last vector predicated (cpu/forward_schedule.h, ForwardLayouts::
// channels_innermost); fewer take the general strided branch, 3 and 4 channels in 2-D the
// interleaved kernels. The counts and shapes of the planar test above.
TEST_P(CpuIsaVsReference, ChannelsLastManyChannelsMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    check_cases(8500u, kManyChannelsReps, [&](gs::Padding padding, gs::DType dtype, int rep,
                                              uint64_t seed) {
        return many_channels_case(kernel, padding, dtype, Layout::channels_last, rep, seed);
    });
}

// Scattered grids: a random grid over an input large enough that a tile's taps spread over more
// than 512 cache lines. 2-D bilinear float32 and float64 then run the variant scheduled for such
// grids (generators/cpu/forward_schedule.h, kScatteredRows; runtime/src/grid_sample.cpp,
// scattered_grid), compiled at the baseline, avx2 and avx512_gather levels: a cap between them
// runs the lower one. Rows of 40 points: one 32-row tile and a remainder; 3 and 7 channels
// (HoistTileInvariants acts from 6) sample planar tiles; 16 and 21 channels, with a block of V
// channels per thread at two threads, sample channels-last blocks (channels_last_copy()), 21
// with a last block shifted inwards.
TEST_P(CpuIsaVsReference, ScatteredGridsMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    if (kernel.dims != 2 || kernel.mode != gs::Interpolation::bilinear) {
        GTEST_SKIP() << "scattered-grid variants are 2-D bilinear";
    }
    gs::set_num_threads(2);  // (TearDown restores the default)
    check_cases(9000u, 4, [&](gs::Padding padding, gs::DType dtype, int rep, uint64_t seed) {
        Case cs = seeded_case(kernel, padding, dtype, Layout::contiguous, seed);
        cs.shape.n = rep == 0 ? 1 : 2;
        cs.shape.c = std::array<int, 4>{3, 7, 16, 21}[rep];
        cs.shape.in[1] = 160;
        cs.shape.in[2] = 170;
        cs.shape.out[1] = 40;
        cs.shape.out[2] = 150;
        return cs;
    }, /*lower_levels=*/true);
}

// Large planes: 2-D nearest samples input planes of 1 MiB or more in taller tiles, a
// specialization of its own (generators/cpu/forward_schedule.h, kLargePlaneBytes). Planes of
// 520 x 530 (1.05 MiB in float32), output rows of 60 (two 24-row tiles and a remainder) by 333
// points (two 128-point tiles and a remainder), unit-stride and padded outputs.
TEST_P(CpuIsaVsReference, LargePlanesMatchReference) {
    const Kernel kernel = std::get<1>(GetParam());
    if (kernel.dims != 2 || kernel.mode != gs::Interpolation::nearest) {
        GTEST_SKIP() << "the large-plane tiles are 2-D nearest's";
    }
    check_cases(9500u, 2, [&](gs::Padding padding, gs::DType dtype, int rep, uint64_t seed) {
        Case cs = seeded_case(kernel, padding, dtype,
                              rep == 0 ? Layout::contiguous : Layout::padded_output, seed);
        cs.shape.c = 2;
        cs.shape.in[1] = 520;
        cs.shape.in[2] = 530;
        cs.shape.out[1] = 60;
        cs.shape.out[2] = 333;
        return cs;
    });
}

std::string isa_kernel_name(const ::testing::TestParamInfo<std::tuple<gs::CpuIsa, Kernel>>& info) {
    return std::string(isa_name(std::get<0>(info.param))) + "_" +
           kernel_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, CpuIsaVsReference,
                         ::testing::Combine(::testing::ValuesIn(gridsample_test::all_cpu_isas()),
                                            ::testing::ValuesIn(kKernels)),
                         isa_kernel_name);

// ------------------------------------------------------------------------------------------------
// Threads: one and two threads give bit-identical output (and both match the reference).

class ThreadsVsReference : public ::testing::TestWithParam<Kernel> {
protected:
    void TearDown() override { gs::set_num_threads(0); }
};

TEST_P(ThreadsVsReference, BitIdenticalAcrossThreadCounts) {
    const Kernel kernel = GetParam();
    const uint64_t test_seed = 9000u + 10u * static_cast<uint64_t>(kernel.dims) +
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
            cs.shape.n = 2;
            cs.shape.c = 3;
            if (kernel.dims == 2) {
                cs.shape.in[1] = 37, cs.shape.in[2] = 45;
                cs.shape.out[1] = 40, cs.shape.out[2] = 33;
            } else {
                cs.shape.in[0] = 9, cs.shape.in[1] = 11, cs.shape.in[2] = 13;
                cs.shape.out[0] = 7, cs.shape.out[1] = 8, cs.shape.out[2] = 9;
            }
            Rng rng(cs.seed);
            const ref::Array input = random_input(cs, rng);
            const ref::Array grid = random_grid(cs, rng, 0.05);
            gs::set_num_threads(1);
            const LibraryResult one = run_library(cs, input, grid);
            gs::set_num_threads(2);
            const LibraryResult two = run_library(cs, input, grid);
            ASSERT_TRUE(one.status.ok() && two.status.ok()) << cs.describe();
            EXPECT_TRUE(one.bytes == two.bytes)
                << cs.describe() << "\n  1 and 2 threads give different bits";
            compare(cs, input, grid, run_reference(cs, input, grid), two);
        }
    }
}

std::string kernel_param_name(const ::testing::TestParamInfo<Kernel>& info) {
    return kernel_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, ThreadsVsReference, ::testing::ValuesIn(kKernels),
                         kernel_param_name);

// ------------------------------------------------------------------------------------------------
// Deterministic edge cases (S12), forward_check.h: each runs every padding x align_corners x dtype
// on every kernel it applies to.

TEST(DeterministicVsReference, IdentityGrid) {
    uint64_t seed = 42;
    for (const Kernel& kernel : kKernels) check_identity_grids(kernel, seed);
}

TEST(DeterministicVsReference, SpecialGridValues) {
    uint64_t seed = 100;
    for (const Kernel& kernel : kKernels) check_special_grid_values(kernel, seed);
}

TEST(DeterministicVsReference, NearestExactTies) {
    uint64_t seed = 200;
    for (const Kernel& kernel : kKernels) {
        if (kernel.mode == gs::Interpolation::nearest) check_nearest_exact_ties(kernel, seed);
    }
}

TEST(DeterministicVsReference, BicubicNearEdges) { check_bicubic_near_edges(); }

TEST(DeterministicVsReference, SizesOneAndTwo) {
    uint64_t seed = 400;
    for (const Kernel& kernel : kKernels) check_sizes_one_and_two(kernel, seed);
}

TEST(DeterministicVsReference, NonFiniteGridValues) {
    uint64_t seed = 500;
    for (const Kernel& kernel : kKernels) check_non_finite_grid_values(kernel, seed);
}

TEST(DeterministicVsReference, LargeImage) {
    uint64_t seed = 600;
    for (const Kernel& kernel : kKernels) check_large_image(kernel, seed);
}

TEST(DeterministicVsReference, EmptyTensors) {
    for (const Kernel& kernel : kKernels) check_empty_tensors(kernel);
}

}  // namespace
