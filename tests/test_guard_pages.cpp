// The kernels never read or write outside the tensors they are given (S7: whatever the grid
// holds), checked at every compiled CPU level: every tensor of a call lies flush against an
// inaccessible page, after its last byte or before its first (guarded_placement.h), so that any
// access past either end faults. The cases are the reference suites' (forward_check.h,
// backward_check.h), so the results are checked against the reference as well: random shapes,
// layouts and grids (with S7/S12 values), the special and non-finite grid values of S12.2-S12.9,
// and an image larger than the schedules' tiles.
#include <gtest/gtest.h>

#include "backward_check.h"
#include "forward_check.h"
#include "forward_configs.h"
#include "guarded_placement.h"

#include <cstdint>
#include <string>
#include <tuple>

namespace {

namespace gs = gridsample;
using gridsample_test::GuardedPlacement;
using gridsample_test::GuardSide;
using gridsample_test::Kernel;

using Param = std::tuple<gs::CpuIsa, Kernel, GuardSide>;

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
    const auto& [isa, kernel, side] = info.param;
    return std::string(gridsample_test::isa_name(isa)) + "_" + gridsample_test::kernel_name(kernel) +
           "_" + gridsample_test::guard_side_name(side);
}

class GuardPages : public ::testing::TestWithParam<Param> {
protected:
    void SetUp() override { gridsample_test::pin_cpu_level(std::get<0>(GetParam())); }
    void TearDown() override { gridsample_test::unpin_cpu_level(); }
    Kernel kernel() const { return std::get<1>(GetParam()); }
    const GuardedPlacement& where() const { return placement_; }
    // Skips when this CPU cannot run the level asked for (the dispatcher ran a lower one).
    void require_level(gs::CpuIsa ran) {
        const gs::CpuIsa isa = std::get<0>(GetParam());
        if (ran < isa) {
            GTEST_SKIP() << "this CPU does not support " << gridsample_test::isa_name(isa)
                         << "; the dispatcher ran " << gridsample_test::isa_name(ran);
        }
        ASSERT_EQ(ran, isa);
    }

private:
    GuardedPlacement placement_{std::get<2>(GetParam())};
};

TEST_P(GuardPages, Forward) {
    namespace fw = gridsample_test::forward;
    // One case first, to learn which level runs here.
    uint64_t seed = 7000u + 10u * static_cast<uint64_t>(kernel().dims) +
                    static_cast<uint64_t>(kernel().mode);
    const fw::Case first = fw::random_case(kernel(), gs::Padding::zeros, true, gs::DType::float32,
                                           fw::Layout::contiguous, seed);
    const fw::CaseOutcome outcome = fw::check_random_case(first, where());
    ASSERT_TRUE(outcome.ran);
    require_level(outcome.isa);
    if (IsSkipped()) return;
    int64_t compared = 0;
    for (gs::Padding padding : gridsample_test::kPaddings) {
        compared += fw::check_random_cases(kernel(), padding, 1, where());
    }
    EXPECT_GT(compared, 0);
    fw::check_special_grid_values(kernel(), seed, where());
    fw::check_non_finite_grid_values(kernel(), seed, where());
    fw::check_large_image(kernel(), seed, where());
}

TEST_P(GuardPages, Backward) {
    namespace bw = gridsample_test::backward;
    uint64_t seed = 8000u + 10u * static_cast<uint64_t>(kernel().dims) +
                    static_cast<uint64_t>(kernel().mode);
    int64_t compared = 0;
    for (gs::Padding padding : gridsample_test::kPaddings) {
        compared += bw::check_random_cases(kernel(), padding, 1, where());
    }
    EXPECT_GT(compared, 0);
    bw::check_special_grid_values(kernel(), seed, where());
    bw::check_non_finite_grid_values(kernel(), seed, where());
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GuardPages,
                         ::testing::Combine(::testing::ValuesIn(gridsample_test::all_cpu_isas()),
                                            ::testing::ValuesIn(gridsample_test::kKernels),
                                            ::testing::Values(GuardSide::after, GuardSide::before)),
                         param_name);

}  // namespace
