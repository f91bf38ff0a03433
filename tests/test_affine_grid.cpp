// affine_grid against the independent reference: random thetas, 2-D and 3-D, both
// align_corners, float32 and float64, sizes including 1 and 2, strided outputs; and identity
// grids that make grid_sample return its input.
#include "gridsample/gridsample.h"
#include "grid_sample_reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace gridsample;

struct AffineCase {
    int dims;
    DType dtype;
    bool align_corners;
};

std::string case_name(const testing::TestParamInfo<AffineCase>& info) {
    return std::to_string(info.param.dims) + "d_" + to_string(info.param.dtype) +
           (info.param.align_corners ? "_align_corners" : "_no_align_corners");
}

class AffineGridVsReference : public testing::TestWithParam<AffineCase> {};

template <typename T>
void run_case(const AffineCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coef(-2.0, 2.0);
    std::uniform_int_distribution<int> size_dist(1, 9);
    std::uniform_int_distribution<int> batch_dist(1, 3);
    const int d = c.dims;
    std::vector<int64_t> size{batch_dist(rng), 1};
    for (int k = 0; k < d; k++) size.push_back(size_dist(rng));
    const int64_t n = size[0];

    std::vector<T> theta(n * d * (d + 1));
    gridsample_ref::Array theta_ref({n, d, d + 1});
    for (size_t i = 0; i < theta.size(); i++) {
        theta[i] = static_cast<T>(coef(rng));
        theta_ref.data[i] = static_cast<double>(theta[i]);
    }
    const gridsample_ref::Array expected = gridsample_ref::affine_grid(theta_ref, size, c.align_corners);

    // The output grid as a strided view: every dimension padded by one element, so writes
    // outside the view would be caught.
    std::vector<int64_t> shape = expected.shape;
    const int rank = static_cast<int>(shape.size());
    std::vector<int64_t> strides(rank);
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= shape[i] + 1;
    }
    const T sentinel = static_cast<T>(-777.0);
    std::vector<T> grid(stride, sentinel);
    const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
    const TensorView theta_view = TensorView::make(theta.data(), dtype, 3,
                                                   std::vector<int64_t>{n, d, d + 1}.data());
    const TensorView grid_view = TensorView::make(grid.data(), dtype, rank, shape.data(),
                                                  strides.data());
    const Status s = affine_grid(theta_view, size.data(), static_cast<int32_t>(size.size()),
                                 grid_view, c.align_corners);
    ASSERT_TRUE(s.ok()) << s.message();

    // float32: the products round in float; 1e-6 relative to the largest value is generous for
    // three or four terms of magnitude <= 2 and far below any meaningful error.
    const double tol = sizeof(T) == 8 ? 1e-12 : 1e-6;
    std::vector<bool> written(grid.size(), false);
    std::vector<int64_t> index(rank, 0);
    for (int64_t flat = 0; flat < expected.numel(); flat++) {
        int64_t rest = flat, offset = 0;
        for (int i = rank - 1; i >= 0; i--) {
            index[i] = rest % shape[i];
            rest /= shape[i];
            offset += index[i] * strides[i];
        }
        written[offset] = true;
        const double want = expected.data[flat];
        ASSERT_NEAR(static_cast<double>(grid[offset]), want, tol * std::max(1.0, std::fabs(want)))
            << "seed " << seed << " element " << flat;
    }
    for (size_t i = 0; i < grid.size(); i++) {
        if (!written[i]) ASSERT_EQ(grid[i], sentinel) << "wrote outside the view at " << i;
    }
}

TEST_P(AffineGridVsReference, RandomThetas) {
    const AffineCase c = GetParam();
    for (uint32_t seed = 1; seed <= 40; seed++) {
        if (c.dtype == DType::float64) {
            run_case<double>(c, seed);
        } else {
            run_case<float>(c, seed);
        }
        if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(AllCases, AffineGridVsReference,
                         testing::Values(AffineCase{2, DType::float32, false},
                                         AffineCase{2, DType::float32, true},
                                         AffineCase{2, DType::float64, false},
                                         AffineCase{2, DType::float64, true},
                                         AffineCase{3, DType::float32, false},
                                         AffineCase{3, DType::float32, true},
                                         AffineCase{3, DType::float64, false},
                                         AffineCase{3, DType::float64, true}),
                         case_name);

// S12.2: the identity transform samples every pixel at its own centre, so grid_sample returns
// the input in every mode and padding (to rounding of the coordinate, S11).
TEST(AffineGrid, IdentityGridReproducesInput) {
    const int64_t n = 2, c = 3, h = 5, w = 7;
    std::vector<double> input(n * c * h * w);
    for (size_t i = 0; i < input.size(); i++) input[i] = std::sin(0.37 * static_cast<double>(i));
    std::vector<double> theta;
    for (int b = 0; b < n; b++) theta.insert(theta.end(), {1, 0, 0, 0, 1, 0});
    for (bool ac : {false, true}) {
        std::vector<double> grid(n * h * w * 2);
        ASSERT_TRUE(affine_grid(TensorView(theta.data(), {n, 2, 3}), {n, c, h, w},
                                TensorView(grid.data(), {n, h, w, 2}), ac)
                        .ok());
        for (int mode = 0; mode < 3; mode++) {
            for (int padding = 0; padding < 3; padding++) {
                std::vector<double> output(input.size(), -1.0);
                Options o{static_cast<Interpolation>(mode), static_cast<Padding>(padding), ac};
                ASSERT_TRUE(grid_sample(TensorView(input.data(), {n, c, h, w}),
                                        TensorView(grid.data(), {n, h, w, 2}),
                                        TensorView(output.data(), {n, c, h, w}), o)
                                .ok());
                for (size_t i = 0; i < input.size(); i++) {
                    ASSERT_NEAR(output[i], input[i], 1e-12)
                        << "mode " << mode << " padding " << padding << " ac " << ac << " at " << i;
                }
            }
        }
    }
}

}  // namespace
