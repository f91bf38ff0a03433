// grid_sample_backward on float16 and bfloat16 tensors (SEMANTICS.md S10): grad_output, input,
// grad_input in the storage type, the grid and grad_grid in the same type or in float32.
//
// Each random case (every kernel x padding x align_corners x dtype x grid dtype x memory layout
// of S8b, both gradients or one) is checked twice:
//   - against the independent float64 reference (tests/reference) on the same values, within
//     S11's float32 tolerance plus one unit in the last place of the storage type relative to the
//     largest gradient (S10);
//   - bit for bit against the library's float32 backward on the same values with both gradients
//     rounded once by the test (storage_check.h): S10 accumulates in float32 and rounds at the end.
// Plus the errors: grad_grid takes the grid's dtype, uint8 has no gradients.
#include <gtest/gtest.h>

#include "storage_backward_check.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::backward;

// Both gradients of the float32 backward on the same values (contiguous tensors), rounded once.
void check_rounded_float32(const HalfCase& hc, const CaseData& d, const LibraryResult& got,
                           int64_t& compared) {
    Case dense = hc.cs;
    dense.layout = Layout::contiguous;
    const LibraryResult f32 = run_library(dense, d.grad_output, d.input, d.grid);
    ASSERT_TRUE(f32.status.ok()) << hc.describe() << "\n  float32: " << f32.status.message();
    int64_t failures = 0;
    auto same = [&](const ref::Array& g, const ref::Array& f, gs::DType t, const char* what) {
        for (size_t i = 0; i < g.data.size(); ++i) {
            const double want = std::isnan(f.data[i]) ? f.data[i] : round_to_storage(f.data[i], t);
            ++compared;
            if (g.data[i] == want || (std::isnan(g.data[i]) && std::isnan(want))) continue;
            if (++failures <= 5) {
                ADD_FAILURE() << hc.describe() << "\n  " << what << " at flat index " << i
                              << ": float32 " << f.data[i] << " rounds to " << want << ", got "
                              << g.data[i];
            }
        }
    };
    if (wants_input(hc.cs.want)) same(got.grad_input.values, f32.grad_input.values, hc.dtype, "grad_input");
    if (wants_grid(hc.cs.want)) same(got.grad_grid.values, f32.grad_grid.values, hc.grid_dtype, "grad_grid");
}

class HalfBackward : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(HalfBackward, MatchesReferenceAndRoundedFloat32) {
    const auto [kernel, padding] = GetParam();
    const uint64_t test_seed = 27000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    int64_t compared = 0, exact = 0;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kHalfTypes) {
            for (gs::DType grid_dtype : {dtype, gs::DType::float32}) {
                for (Layout layout : kLayouts) {
                    HalfCase hc;
                    hc.cs = random_case(kernel, padding, align_corners, gs::DType::float32,
                                        layout, kWants[index % 3], mix_seed(test_seed, index));
                    ++index;
                    hc.dtype = dtype;
                    hc.grid_dtype = grid_dtype;
                    const CaseData d = half_data(hc);
                    const LibraryResult got = run_half(hc, d);
                    ASSERT_TRUE(got.status.ok()) << hc.describe() << "\n  " << got.status.message();
                    SCOPED_TRACE(hc.describe());
                    compared += compare(hc.cs, d.grad_output, d.input, d.grid,
                                        run_reference(hc.cs, d.grad_output, d.input, d.grid),
                                        got, storage_ulp(dtype))
                                    .compared;
                    check_rounded_float32(hc, d, got, exact);
                }
            }
        }
    }
    EXPECT_GT(compared, 0);
    EXPECT_GT(exact, 0);
}

INSTANTIATE_TEST_SUITE_P(
    AllKernels, HalfBackward,
    ::testing::Combine(::testing::ValuesIn(kKernels), ::testing::ValuesIn(kPaddings)),
    [](const ::testing::TestParamInfo<std::tuple<Kernel, gs::Padding>>& info) {
        return kernel_name(std::get<0>(info.param)) + "_" + padding_name(std::get<1>(info.param));
    });

// grad_grid has the grid's dtype: float32 with a float32 grid under float16 tensors, float16
// with a float16 grid; anything else is refused before anything is written.
TEST(HalfBackwardErrors, GradGridTakesTheGridsDType) {
    uint16_t go[1] = {}, in[4] = {}, grid16[2] = {}, gi[4] = {}, gg16[2] = {};
    float grid32[2] = {}, gg32[2] = {};
    const gs::TensorView grad_output(go, gs::DType::float16, {1, 1, 1, 1});
    const gs::TensorView input(in, gs::DType::float16, {1, 1, 2, 2});
    const gs::TensorView grad_input(gi, gs::DType::float16, {1, 1, 2, 2});
    const gs::TensorView gg_half(gg16, gs::DType::float16, {1, 1, 1, 2});
    const gs::TensorView gg_float(gg32, gs::DType::float32, {1, 1, 1, 2});
    gs::Status s = gs::grid_sample_backward(
        grad_output, input, gs::TensorView(grid32, gs::DType::float32, {1, 1, 1, 2}), &grad_input,
        &gg_half);
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_EQ(s.message(), "grad_grid: expected dtype float32 (the grid's), got float16");
    s = gs::grid_sample_backward(grad_output, input,
                                 gs::TensorView(grid16, gs::DType::float16, {1, 1, 1, 2}),
                                 &grad_input, &gg_float);
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_EQ(s.message(), "grad_grid: expected dtype float16 (the grid's), got float32");
    // grad_input has the input's.
    const gs::TensorView gi_float(gg32, gs::DType::float32, {1, 1, 1, 2});
    s = gs::grid_sample_backward(grad_output, input,
                                 gs::TensorView(grid16, gs::DType::float16, {1, 1, 1, 2}),
                                 &gi_float, nullptr);
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    for (uint16_t v : gi) EXPECT_EQ(v, 0);
    for (uint16_t v : gg16) EXPECT_EQ(v, 0);
    for (float v : gg32) EXPECT_EQ(v, 0.0f);
}

}  // namespace
