// grid_sample on the storage types of SEMANTICS.md S10 (float16 and bfloat16 tensors with a grid
// of the same type or float32, uint8 images with a float32 grid) against the independent float64
// reference: every mode x padding x align_corners x dims, every memory layout of S8b, non-finite
// grids (S7), the channels-last paths (many channels; interleaved RGB/RGBA images), every
// compiled CPU level, thread-count independence, rounding (ties to even, overflow, the uint8
// clamp) and the S8/S10 errors. The comparison (storage_check.h) asks for the float32 result of
// S11 rounded once to the storage type.
#include <gtest/gtest.h>

#include "forward_check.h"
#include "forward_configs.h"
#include "storage_forward_check.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace gridsample_test;
using namespace gridsample_test::forward;

// ------------------------------------------------------------------------------------------------
// Random cases: every kernel x padding; align_corners x dtype x grid dtype x layout inside.

class StorageVsReference : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

TEST_P(StorageVsReference, MatchesReference) {
    const auto [kernel, padding] = GetParam();
    const uint64_t test_seed = 21000u + 10u * static_cast<uint64_t>(kernel.dims) +
                               100u * static_cast<uint64_t>(kernel.mode) +
                               static_cast<uint64_t>(padding);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    CheckStats stats;
    for (bool align_corners : {false, true}) {
        for (gs::DType dtype : kStorageDTypes) {
            for (gs::DType grid_dtype : grid_dtypes(dtype)) {
                for (Layout layout : kLayouts) {
                    for (int rep = 0; rep < 3; ++rep) {
                        const StorageCase sc = make_case(kernel, padding, align_corners, dtype,
                                                         grid_dtype, layout,
                                                         mix_seed(test_seed, index++));
                        ref::Array input, grid;
                        storage_random_data(sc, input, grid);
                        check_storage_case(sc, input, grid, layouts_for(sc.cs), &stats);
                    }
                }
            }
        }
    }
    EXPECT_GT(stats.compared, 0);
}

std::string kernel_padding_name(
    const ::testing::TestParamInfo<std::tuple<Kernel, gs::Padding>>& info) {
    return kernel_name(std::get<0>(info.param)) + "_" + padding_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, StorageVsReference,
                         ::testing::Combine(::testing::ValuesIn(kKernels),
                                            ::testing::ValuesIn(kPaddings)),
                         kernel_padding_name);

// ------------------------------------------------------------------------------------------------
// Every CPU level: the storage types are compiled at fewer levels than float32 (check_common.h:
// reduced_level); a call runs the highest of them at or below the level float32 runs. Shapes
// that take the channels-last copy (many channels), rows wider than the tiles, and interleaved 3-
// and 4-channel images.

class StorageCpuLevels : public CpuLevelTest {};

TEST_P(StorageCpuLevels, MatchesReference) {
    const auto [isa, kernel] = GetParam();
    const gs::CpuIsa level32 = this->level32();
    const uint64_t test_seed = 23000u + 1000u * static_cast<uint64_t>(isa) +
                               10u * static_cast<uint64_t>(kernel.dims) +
                               static_cast<uint64_t>(kernel.mode);
    SCOPED_TRACE("test seed " + std::to_string(test_seed));
    uint64_t index = 0;
    for (gs::DType dtype : kStorageDTypes) {
        for (int shape = 0; shape < 4; ++shape) {
            const gs::Padding padding = kPaddings[index % 3];
            StorageCase sc = make_case(kernel, padding, index % 2 == 0, dtype,
                                       grid_dtypes(dtype)[index % grid_dtypes(dtype).size()],
                                       Layout::contiguous, mix_seed(test_seed, index));
            ++index;
            Shape& s = sc.cs.shape;
            s.n = 1;
            s.in[0] = kernel.dims == 3 ? 4 : 1;
            s.out[0] = kernel.dims == 3 ? 2 : 1;
            s.in[1] = 13, s.in[2] = 23, s.out[1] = 3;
            switch (shape) {
            case 0: s.c = 17, s.out[2] = 70; break;   // channels-last copy, remainder block
            case 1: s.c = 33, s.out[2] = 133; break;  // several channel blocks, wide rows
            case 2: s.c = 3, s.out[2] = 333; break;   // planar, rows of several tiles
            case 3:                                   // interleaved RGB, input and output
                s.c = 3 + (index % 2), s.out[2] = 150;
                break;
            }
            CaseLayouts l = layouts_for(sc.cs);
            if (shape == 3) {
                const int rank = kernel.dims + 2;
                std::vector<int> order;
                order.push_back(0);
                for (int d = 2; d < rank; ++d) order.push_back(d);
                order.push_back(1);
                const std::vector<int64_t> no_pads(static_cast<size_t>(rank), 0);
                l.input = make_layout(s.input_sizes(), order, no_pads, 0, false);
                l.output = make_layout(s.output_sizes(), order, no_pads, 0, false);
            }
            ref::Array input, grid;
            storage_random_data(sc, input, grid);
            const StorageResult got = check_storage_case(sc, input, grid, l);
            if (!got.status.ok()) continue;
            EXPECT_TRUE(ran_at_dtype_level(dtype, got.isa, level32)) << sc.describe();
        }
    }
}

std::string isa_kernel_name(const ::testing::TestParamInfo<std::tuple<gs::CpuIsa, Kernel>>& info) {
    return std::string(isa_name(std::get<0>(info.param))) + "_" +
           kernel_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, StorageCpuLevels,
                         ::testing::Combine(::testing::ValuesIn(all_cpu_isas()),
                                            ::testing::ValuesIn(kKernels)),
                         isa_kernel_name);

// ------------------------------------------------------------------------------------------------
// One and two threads give the same bits.

TEST(StorageThreads, BitIdenticalAcrossThreadCounts) {
    uint64_t index = 0;
    for (const Kernel& kernel : kKernels) {
        for (gs::DType dtype : kStorageDTypes) {
            StorageCase sc = make_case(kernel, kPaddings[index % 3], index % 2 == 1, dtype,
                                       grid_dtypes(dtype)[0], Layout::contiguous,
                                       mix_seed(25000u, index));
            ++index;
            Shape& s = sc.cs.shape;
            s.n = 2, s.c = 5;
            s.in[0] = kernel.dims == 3 ? 9 : 1, s.in[1] = 37, s.in[2] = 45;
            s.out[0] = kernel.dims == 3 ? 7 : 1, s.out[1] = 40, s.out[2] = 33;
            ref::Array input, grid;
            storage_random_data(sc, input, grid);
            const CaseLayouts l = layouts_for(sc.cs);
            gs::set_num_threads(1);
            const StorageResult one = run_storage(sc, input, grid, l);
            gs::set_num_threads(2);
            const StorageResult two = run_storage(sc, input, grid, l);
            gs::set_num_threads(0);
            ASSERT_TRUE(one.status.ok() && two.status.ok()) << sc.describe();
            EXPECT_TRUE(one.bytes == two.bytes) << sc.describe();
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Rounding (S10): exact results, ties to even, overflow to infinity, the uint8 clamp, NaN. Each
// at every CPU level (the conversions differ: F16C instructions, or emulated without them).

class StorageRounding : public ::testing::TestWithParam<gs::CpuIsa> {
protected:
    void SetUp() override { gridsample_test::pin_cpu_level(GetParam()); }
    void TearDown() override { gridsample_test::unpin_cpu_level(); }
};

// Samples a 1 x 1 x 1 x W input of dtype `t` at the given x coordinates of a 1 x 1 x P grid
// (align_corners, so grid -1..1 spans pixel centres 0..W-1), returns the output's values.
std::vector<double> sample_row(gs::DType t, const std::vector<double>& row,
                               const std::vector<double>& xs, gs::Interpolation mode,
                               gs::Padding padding = gs::Padding::border) {
    const int64_t w = static_cast<int64_t>(row.size()), p = static_cast<int64_t>(xs.size());
    Storage in(t, w), out(t, p);
    std::vector<float> grid;
    for (int64_t i = 0; i < w; ++i) store_element(row[static_cast<size_t>(i)], t, in.at(i));
    for (double x : xs) {
        grid.push_back(static_cast<float>(w == 1 ? 0.0 : 2.0 * x / static_cast<double>(w - 1) - 1.0));
        grid.push_back(0.0f);
    }
    gs::Options o;
    o.mode = mode;
    o.padding = padding;
    o.align_corners = true;
    const gs::Status s = gs::grid_sample(gs::TensorView::make(in.at(0), t, 4, std::vector<int64_t>{1, 1, 1, w}.data()),
                                         gs::TensorView(grid.data(), {1, 1, p, 2}),
                                         gs::TensorView::make(out.at(0), t, 4, std::vector<int64_t>{1, 1, 1, p}.data()), o);
    EXPECT_TRUE(s.ok()) << s.message();
    std::vector<double> v;
    for (int64_t i = 0; i < p; ++i) v.push_back(load_element(out.at(i), t));
    return v;
}

TEST_P(StorageRounding, PixelCentresAreExact) {
    // Subnormal, tiny, large and negative values come back bit for bit (S10: reading is exact).
    const std::vector<double> half_row = {0x1p-24, -0x1p-20, 6.1035156e-05, 65504.0, -2.5, 0.0};
    const std::vector<double> bfloat_row = {0x1p-133, -1e-30, 3.3895313892515355e38, -2.5, 0.0, 7.0};
    const std::vector<double> byte_row = {0, 1, 127, 128, 254, 255};
    const std::vector<double> xs = {0, 1, 2, 3, 4, 5};
    for (gs::Interpolation mode : {gs::Interpolation::bilinear, gs::Interpolation::nearest,
                                   gs::Interpolation::bicubic}) {
        for (const auto& [t, row] : {std::pair{gs::DType::float16, half_row},
                                     std::pair{gs::DType::bfloat16, bfloat_row},
                                     std::pair{gs::DType::uint8, byte_row}}) {
            std::vector<double> stored;
            for (double v : row) stored.push_back(round_to_storage(v, t));
            EXPECT_EQ(sample_row(t, stored, xs, mode), stored)
                << storage_name(t) << " " << mode_name(mode);
        }
    }
}

TEST_P(StorageRounding, TiesRoundToEven) {
    // Halfway between two pixels the float32 result is the exact mean; where that lies halfway
    // between two values of the type, the even one is written.
    struct Tie {
        gs::DType t;
        double a, b, expected;
    };
    const Tie ties[] = {
        {gs::DType::float16, 1.0, 1.0 + 0x1p-10, 1.0},                       // to the even 1
        {gs::DType::float16, 1.0 + 0x1p-10, 1.0 + 0x1p-9, 1.0 + 0x1p-9},     // up to even
        {gs::DType::bfloat16, 1.0, 1.0 + 0x1p-7, 1.0},
        {gs::DType::bfloat16, 1.0 + 0x1p-7, 1.0 + 0x1p-6, 1.0 + 0x1p-6},
        {gs::DType::bfloat16, -256.0, -258.0, -256.0},
        {gs::DType::uint8, 1, 2, 2},   // 1.5 -> 2
        {gs::DType::uint8, 2, 3, 2},   // 2.5 -> 2
        {gs::DType::uint8, 254, 255, 254},
    };
    for (const Tie& tie : ties) {
        const std::vector<double> got =
            sample_row(tie.t, {tie.a, tie.b}, {0.5}, gs::Interpolation::bilinear);
        EXPECT_EQ(got[0], tie.expected) << storage_name(tie.t) << " mean of " << tie.a << " and " << tie.b;
    }
}

TEST_P(StorageRounding, OvershootSaturatesOrOverflows) {
    // Bicubic halfway between the two middle pixels of (0, M, M, 0) is M * 1.1875 (S6 weights
    // -3/32, 19/32, 19/32, -3/32), and -3/16 M for (M, 0, 0, M).
    const std::vector<double> mid = {1.5};
    EXPECT_EQ(sample_row(gs::DType::uint8, {0, 255, 255, 0}, mid, gs::Interpolation::bicubic)[0], 255.0);
    EXPECT_EQ(sample_row(gs::DType::uint8, {255, 0, 0, 255}, mid, gs::Interpolation::bicubic)[0], 0.0);
    EXPECT_EQ(sample_row(gs::DType::uint8, {0, 200, 200, 0}, mid, gs::Interpolation::bicubic)[0],
              std::nearbyint(200 * 1.1875));
    EXPECT_EQ(sample_row(gs::DType::float16, {0, 65504, 65504, 0}, mid, gs::Interpolation::bicubic)[0], kInf);
    EXPECT_EQ(sample_row(gs::DType::float16, {0, -65504, -65504, 0}, mid, gs::Interpolation::bicubic)[0], -kInf);
    // bfloat16: 19/32 (a + b) = 3.4016e38 is finite in float32 but beyond bfloat16's largest
    // value (3.3895e38) by more than half its ulp. Zeros padding: with one row, the bicubic taps
    // above and below read 0 (border would repeat the row's infinity-free sum, but 0 x a float32
    // overflow elsewhere would be NaN).
    const double a = 1.6796875 * 0x1p127, b = 1.6875 * 0x1p127;
    EXPECT_EQ(sample_row(gs::DType::bfloat16, {0, a, b, 0}, mid, gs::Interpolation::bicubic,
                         gs::Padding::zeros)[0],
              kInf);
    EXPECT_EQ(sample_row(gs::DType::bfloat16, {0, -a, -b, 0}, mid, gs::Interpolation::bicubic,
                         gs::Padding::zeros)[0],
              -kInf);
}

TEST_P(StorageRounding, NaNAndInfinityPropagate) {
    // A NaN or an infinity in a float16/bfloat16 input reaches the points that read it (S7 makes
    // outputs finite only for finite inputs).
    for (gs::DType t : {gs::DType::float16, gs::DType::bfloat16}) {
        // x = 2 reads NaN with weight 1 and the infinity with weight 0: NaN, as in PyTorch.
        const std::vector<double> got =
            sample_row(t, {1.0, 2.0, kNaN, kInf}, {0.0, 1.5, 2.0, 3.0}, gs::Interpolation::bilinear);
        EXPECT_EQ(got[0], 1.0) << storage_name(t);
        EXPECT_TRUE(std::isnan(got[1])) << storage_name(t);
        EXPECT_TRUE(std::isnan(got[2])) << storage_name(t);
        EXPECT_EQ(got[3], kInf) << storage_name(t);
    }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, StorageRounding, ::testing::ValuesIn(all_cpu_isas()),
                         [](const ::testing::TestParamInfo<gs::CpuIsa>& info) {
                             return std::string(isa_name(info.param));
                         });

// ------------------------------------------------------------------------------------------------
// affine_grid on float16/bfloat16 theta, and the fused affine_grid_sample on every storage type.

// Random theta near the identity, rounded to `t`, as float64 values (N, k, k + 1).
ref::Array random_theta(int dims, int64_t n, gs::DType t, Rng& rng) {
    ref::Array theta({n, dims, dims + 1});
    for (int64_t b = 0; b < n; ++b) {
        for (int r = 0; r < dims; ++r) {
            for (int c = 0; c <= dims; ++c) {
                const double v = (r == c ? 1.0 : 0.0) + uniform(rng, -0.4, 0.4);
                theta.at({b, r, c}) = round_to_storage(v, t);
            }
        }
    }
    return theta;
}

TEST(StorageAffineGrid, RoundedOnceFromFloat32) {
    uint64_t seed = 27000u;
    for (gs::DType t : {gs::DType::float16, gs::DType::bfloat16}) {
        for (int dims : {2, 3}) {
            for (bool align_corners : {false, true}) {
                Rng rng(seed++);
                const std::vector<int64_t> size =
                    dims == 2 ? std::vector<int64_t>{2, 3, 17, 29} : std::vector<int64_t>{2, 3, 5, 7, 9};
                const ref::Array theta = random_theta(dims, 2, t, rng);
                const ref::Array expected = ref::affine_grid(theta, size, align_corners);
                Storage th(t, theta.numel()), grid(t, expected.numel());
                for (int64_t i = 0; i < theta.numel(); ++i) store_element(theta.data[static_cast<size_t>(i)], t, th.at(i));
                std::vector<int64_t> grid_shape = expected.shape;
                const gs::Status s = gs::affine_grid(
                    gs::TensorView::make(th.at(0), t, 3, theta.shape.data()), size.data(),
                    static_cast<int32_t>(size.size()),
                    gs::TensorView::make(grid.at(0), t, static_cast<int32_t>(grid_shape.size()), grid_shape.data()),
                    align_corners);
                ASSERT_TRUE(s.ok()) << s.message();
                int64_t failures = 0;
                for (int64_t i = 0; i < expected.numel(); ++i) {
                    const double e = expected.data[static_cast<size_t>(i)];
                    const double got = load_element(grid.at(i), t);
                    // float32 products and sums: 1e-6 of the largest term (test_affine_grid.cpp).
                    if (!storage_value_ok(got, e, 1e-6 * std::max(1.0, std::fabs(e)), t) && ++failures <= 5) {
                        ADD_FAILURE() << storage_name(t) << " dims=" << dims << " align_corners="
                                      << align_corners << " element " << i << ": expected " << e
                                      << " rounded, got " << got;
                    }
                }
            }
        }
    }
}

// The fused call is bit for bit affine_grid into a float32 grid (from theta converted to
// float32) followed by grid_sample, and matches the reference (S10 rounding of S11's float32).
TEST(StorageAffineGridSample, MatchesTwoCallsAndReference) {
    uint64_t index = 0;
    for (const Kernel& kernel : kKernels) {
        for (gs::DType t : kStorageDTypes) {
            for (gs::DType theta_t : grid_dtypes(t)) {
                const gs::Padding padding = kPaddings[index % 3];
                const bool align_corners = index % 2 == 0;
                StorageCase sc = make_case(kernel, padding, align_corners, t, gs::DType::float32,
                                           Layout::contiguous, mix_seed(29000u, index++));
                Shape& sh = sc.cs.shape;
                sh.n = 2, sh.c = index % 3 == 0 ? 17 : 3;
                ref::Array input, unused;
                storage_random_data(sc, input, unused);
                Rng rng(mix_seed(sc.cs.seed, 5));
                const ref::Array theta = random_theta(kernel.dims, sh.n, theta_t, rng);
                std::vector<int64_t> size = sh.output_sizes();
                const ref::Array grid = ref::affine_grid(theta, size, align_corners);
                const CaseLayouts l = layouts_for(sc.cs);
                // The two calls: the float32 grid (theta's values are exact in float32), then
                // grid_sample; checked against the reference like any other case.
                ref::Array grid32 = grid;
                {
                    std::vector<float> theta32(theta.data.begin(), theta.data.end());
                    std::vector<float> g(static_cast<size_t>(grid.numel()));
                    const gs::Status s = gs::affine_grid(
                        gs::TensorView::make(theta32.data(), gs::DType::float32, 3, theta.shape.data()),
                        size.data(), static_cast<int32_t>(size.size()),
                        gs::TensorView::make(g.data(), gs::DType::float32,
                                             static_cast<int32_t>(grid.shape.size()), grid.shape.data()),
                        align_corners);
                    ASSERT_TRUE(s.ok()) << s.message();
                    for (size_t i = 0; i < g.size(); ++i) grid32.data[i] = g[i];
                }
                const StorageResult two = check_storage_case(sc, input, grid32, l);
                // The fused call.
                Storage in(t, l.input.storage_size), th(theta_t, theta.numel()),
                    out(t, l.output.storage_size);
                for_each_element(l.input, [&](int64_t flat, int64_t pos) {
                    store_element(input.data[static_cast<size_t>(flat)], t, in.at(pos));
                });
                for (int64_t i = 0; i < theta.numel(); ++i) {
                    store_element(theta.data[static_cast<size_t>(i)], theta_t, th.at(i));
                }
                const gs::Status s = gs::affine_grid_sample(
                    in.view(l.input), gs::TensorView::make(th.at(0), theta_t, 3, theta.shape.data()),
                    out.view(l.output), sc.cs.options());
                ASSERT_TRUE(s.ok()) << sc.describe() << ": " << s.message();
                EXPECT_TRUE(out.bytes == two.bytes)
                    << sc.describe() << " theta " << storage_name(theta_t)
                    << ": the fused call differs from affine_grid + grid_sample";
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Errors (S8, S10).

TEST(StorageErrors, GridDTypeRules) {
    uint16_t in16[4] = {}, out16[1] = {}, grid16[2] = {};
    uint8_t in8[4] = {}, out8[1] = {};
    float grid32[2] = {};
    double grid64[2] = {};
    auto view = [](void* p, gs::DType t, std::initializer_list<int64_t> sizes) {
        return gs::TensorView(p, t, sizes);
    };
    // uint8 takes a float32 grid only.
    gs::Status s = gs::grid_sample(view(in8, gs::DType::uint8, {1, 1, 2, 2}),
                                   view(grid16, gs::DType::float16, {1, 1, 1, 2}),
                                   view(out8, gs::DType::uint8, {1, 1, 1, 1}));
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_EQ(s.message(), "grid: expected dtype float32 for uint8 input, got float16");
    // A 16-bit input takes its own type or float32, not float64 nor the other 16-bit type.
    s = gs::grid_sample(view(in16, gs::DType::float16, {1, 1, 2, 2}),
                        view(grid64, gs::DType::float64, {1, 1, 1, 2}),
                        view(out16, gs::DType::float16, {1, 1, 1, 1}));
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_EQ(s.message(), "grid: expected dtype float16 (the input's) or float32, got float64");
    s = gs::grid_sample(view(in16, gs::DType::bfloat16, {1, 1, 2, 2}),
                        view(grid16, gs::DType::float16, {1, 1, 1, 2}),
                        view(out16, gs::DType::bfloat16, {1, 1, 1, 1}));
    EXPECT_EQ(s.message(), "grid: expected dtype bfloat16 (the input's) or float32, got float16");
    // float32 input keeps its own grid type.
    float in32[4] = {}, out32[1] = {};
    s = gs::grid_sample(view(in32, gs::DType::float32, {1, 1, 2, 2}),
                        view(grid16, gs::DType::float16, {1, 1, 1, 2}),
                        view(out32, gs::DType::float32, {1, 1, 1, 1}));
    EXPECT_EQ(s.message(), "grid: expected dtype float32 (the input's), got float16");
    // The output has the input's type.
    s = gs::grid_sample(view(in16, gs::DType::float16, {1, 1, 2, 2}),
                        view(grid32, gs::DType::float32, {1, 1, 1, 2}),
                        view(out32, gs::DType::float32, {1, 1, 1, 1}));
    EXPECT_EQ(s.message(), "output: expected dtype float16 (the input's), got float32");
    // An unknown dtype value.
    s = gs::grid_sample(view(in16, static_cast<gs::DType>(5), {1, 1, 2, 2}),
                        view(grid32, gs::DType::float32, {1, 1, 1, 2}),
                        view(out16, gs::DType::float16, {1, 1, 1, 1}));
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_NE(s.message().find("input: unsupported dtype value 5"), std::string::npos) << s.message();
    // Nothing was written by any refused call.
    EXPECT_EQ(out8[0], 0);
    EXPECT_EQ(out16[0], 0);
    EXPECT_EQ(out32[0], 0.0f);
}

TEST(StorageErrors, Uint8HasNoGradients) {
    uint8_t in8[4] = {}, go8[1] = {}, gi8[4] = {};
    float grid32[2] = {}, gg32[2] = {};
    const gs::TensorView grad_input(gi8, gs::DType::uint8, {1, 1, 2, 2});
    const gs::TensorView grad_grid(gg32, gs::DType::float32, {1, 1, 1, 2});
    const gs::Status s = gs::grid_sample_backward(
        gs::TensorView(go8, gs::DType::uint8, {1, 1, 1, 1}),
        gs::TensorView(in8, gs::DType::uint8, {1, 1, 2, 2}),
        gs::TensorView(grid32, gs::DType::float32, {1, 1, 1, 2}), &grad_input, &grad_grid);
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_NE(s.message().find("uint8 tensors have no gradients"), std::string::npos) << s.message();
}

}  // namespace
