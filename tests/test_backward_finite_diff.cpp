// The backward against the library's own forward, in float64 (S9): independent of the reference,
// this ties grid_sample_backward to what grid_sample computes.
//   grad_input: the loss L(input) = sum(grad_output * grid_sample(input, grid)) is linear in the
//     input, so grad_input[i] is exactly L(e_i) for the one-hot input e_i. This holds for any grid,
//     so it also checks that the backward reads the taps the forward reads under the S7 rules
//     (NaN, infinities, huge values) for every mode and padding.
//   grad_grid: central differences of L(grid) with h = 1e-6, at grid values whose coordinates stay
//     away from the kinks of the forward (integer coordinates for bilinear, border edges,
//     reflection folds, nearest ties), where L is smooth.
#include "gridsample/gridsample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace gridsample {
void PrintTo(Padding p, std::ostream* os);
}  // namespace gridsample

namespace {

namespace gs = gridsample;

struct Kernel {
    int dims;
    gs::Interpolation mode;
};
const Kernel kKernels[] = {{2, gs::Interpolation::bilinear},
                           {2, gs::Interpolation::nearest},
                           {2, gs::Interpolation::bicubic},
                           {3, gs::Interpolation::bilinear},
                           {3, gs::Interpolation::nearest}};
const gs::Padding kPaddings[] = {gs::Padding::zeros, gs::Padding::border,
                                 gs::Padding::reflection};

const char* mode_name(gs::Interpolation m) {
    switch (m) {
    case gs::Interpolation::bilinear: return "bilinear";
    case gs::Interpolation::nearest: return "nearest";
    case gs::Interpolation::bicubic: return "bicubic";
    }
    return "?";
}
std::string kernel_name(const Kernel& k) {
    return std::to_string(k.dims) + "d_" + mode_name(k.mode);
}
void PrintTo(const Kernel& k, std::ostream* os) { *os << kernel_name(k); }

// A small float64 problem: input (N, C, [D,] H, W), grid (N, [Do,] Ho, Wo, d).
struct Problem {
    int dims = 2;
    std::vector<int64_t> input_shape, grid_shape, output_shape;
    std::vector<double> input, grid, grad_output;

    explicit Problem(int d) : dims(d) {
        if (d == 2) {
            input_shape = {2, 3, 5, 4};
            grid_shape = {2, 3, 4, 2};
            output_shape = {2, 3, 3, 4};
        } else {
            input_shape = {1, 2, 3, 4, 5};
            grid_shape = {1, 2, 3, 2, 3};
            output_shape = {1, 2, 2, 3, 2};
        }
        input.resize(numel(input_shape));
        grid.resize(numel(grid_shape));
        grad_output.resize(numel(output_shape));
    }
    static size_t numel(const std::vector<int64_t>& s) {
        int64_t n = 1;
        for (int64_t v : s) n *= v;
        return static_cast<size_t>(n);
    }
    // Input size along the axis of grid component k (x -> W, y -> H, z -> D).
    int64_t axis_size(int k) const { return input_shape[input_shape.size() - 1 - static_cast<size_t>(k)]; }

    gs::TensorView view(std::vector<double>& v, const std::vector<int64_t>& s) const {
        return gs::TensorView::make(v.data(), gs::DType::float64, static_cast<int32_t>(s.size()),
                                    s.data());
    }

    // L = sum(grad_output * grid_sample(input_values, grid_values)) through the library.
    double loss(std::vector<double> input_values, std::vector<double> grid_values,
                const gs::Options& o) const {
        std::vector<double> out(numel(output_shape));
        const gs::Status s = gs::grid_sample(view(input_values, input_shape),
                                             view(grid_values, grid_shape),
                                             view(out, output_shape), o);
        EXPECT_TRUE(s.ok()) << s.message();
        double l = 0.0;
        for (size_t i = 0; i < out.size(); ++i) l += grad_output[i] * out[i];
        return l;
    }

    void backward(const gs::Options& o, std::vector<double>& gi, std::vector<double>& gg) {
        gi.assign(numel(input_shape), 0.0);
        gg.assign(numel(grid_shape), 0.0);
        std::vector<double> go = grad_output, in = input, g = grid;
        const gs::TensorView gi_view = view(gi, input_shape), gg_view = view(gg, grid_shape);
        const gs::Status s = gs::grid_sample_backward(view(go, output_shape), view(in, input_shape),
                                                      view(g, grid_shape), &gi_view, &gg_view, o);
        ASSERT_TRUE(s.ok()) << s.message();
    }
};

double unnormalized(double g, int64_t size, bool align_corners) {
    const double s = static_cast<double>(size);
    if (align_corners) return size == 1 ? 0.0 : (g + 1.0) / 2.0 * (s - 1.0);
    return ((g + 1.0) * s - 1.0) / 2.0;
}

// Distance (in pixels) from the coordinate of g to the nearest point where the forward is not
// smooth in g: integer coordinates (bilinear: cell changes, border edges, reflection clips),
// half-integers (nearest ties, reflection folds without align_corners), the reflection folds
// with align_corners (integers too).
double distance_to_kink(double g, int64_t size, bool align_corners, gs::Interpolation mode) {
    const double x = unnormalized(g, size, align_corners);
    double d = std::numeric_limits<double>::infinity();
    if (mode != gs::Interpolation::bicubic) d = std::min(d, std::fabs(x - std::nearbyint(x)));
    const double half = x - std::floor(x) - 0.5;
    d = std::min(d, std::fabs(half));
    // Reflection folds fall on multiples of the span from lo, which are integers or
    // half-integers: covered above. Far outside, reflection folds repeat: covered likewise.
    return d;
}

// Random grid values in [-1.2, 1.2] whose coordinates stay at least 0.02 pixels from kinks.
void smooth_random_grid(Problem& p, bool align_corners, gs::Interpolation mode, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-1.2, 1.2);
    for (size_t i = 0; i < p.grid.size(); ++i) {
        const int k = static_cast<int>(i % static_cast<size_t>(p.dims));
        double g;
        do {
            g = u(rng);
        } while (distance_to_kink(g, p.axis_size(k), align_corners, mode) < 0.02);
        p.grid[i] = g;
    }
}

void random_fill(std::vector<double>& v, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (double& x : v) x = u(rng);
}

class FiniteDifferences
    : public ::testing::TestWithParam<std::tuple<Kernel, gs::Padding>> {};

// grad_input[i] == L(e_i) exactly (up to float64 rounding), for smooth grids and for grids full
// of S7 values alike.
TEST_P(FiniteDifferences, GradInputIsTheForwardsLinearMap) {
    const auto [kernel, padding] = GetParam();
    std::mt19937_64 rng(7000 + 10 * kernel.dims + 3 * static_cast<int>(kernel.mode) +
                        static_cast<int>(padding));
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               1e20, -3.5, 1.0, -1.0, 0.0};
    for (bool align_corners : {false, true}) {
        for (bool with_specials : {false, true}) {
            Problem p(kernel.dims);
            random_fill(p.grad_output, rng);
            smooth_random_grid(p, align_corners, kernel.mode, rng);
            if (with_specials) {
                for (size_t i = 0; i < p.grid.size(); i += 3) p.grid[i] = specials[(i / 3) % 8];
            }
            const gs::Options o{kernel.mode, padding, align_corners};
            std::vector<double> gi, gg;
            p.backward(o, gi, gg);
            double max_abs = 0.0;
            for (double v : gi) max_abs = std::max(max_abs, std::fabs(v));
            for (size_t i = 0; i < p.input.size(); ++i) {
                std::vector<double> one_hot(p.input.size(), 0.0);
                one_hot[i] = 1.0;
                const double expected = p.loss(one_hot, p.grid, o);
                ASSERT_NEAR(gi[i], expected, 1e-12 * (1.0 + max_abs))
                    << kernel_name(kernel) << " align_corners=" << align_corners
                    << " specials=" << with_specials << " input element " << i;
            }
        }
    }
}

// grad_grid == central differences of L(grid) where L is smooth.
TEST_P(FiniteDifferences, GradGridMatchesCentralDifferences) {
    const auto [kernel, padding] = GetParam();
    std::mt19937_64 rng(8000 + 10 * kernel.dims + 3 * static_cast<int>(kernel.mode) +
                        static_cast<int>(padding));
    const double h = 1e-6;
    int64_t nonzero = 0;
    for (bool align_corners : {false, true}) {
        Problem p(kernel.dims);
        random_fill(p.input, rng);
        random_fill(p.grad_output, rng);
        smooth_random_grid(p, align_corners, kernel.mode, rng);
        const gs::Options o{kernel.mode, padding, align_corners};
        std::vector<double> gi, gg;
        p.backward(o, gi, gg);
        double max_abs = 0.0;
        for (double v : gg) max_abs = std::max(max_abs, std::fabs(v));
        for (size_t j = 0; j < p.grid.size(); ++j) {
            std::vector<double> plus = p.grid, minus = p.grid;
            plus[j] += h;
            minus[j] -= h;
            const double fd = (p.loss(p.input, plus, o) - p.loss(p.input, minus, o)) / (2 * h);
            EXPECT_NEAR(gg[j], fd, 1e-6 * (1.0 + max_abs))
                << kernel_name(kernel) << " align_corners=" << align_corners
                << " grid element " << j << " = " << p.grid[j];
            if (gg[j] != 0.0) ++nonzero;
        }
    }
    if (kernel.mode == gs::Interpolation::nearest) {
        EXPECT_EQ(nonzero, 0) << "nearest has no grid gradient (S9)";
    } else {
        EXPECT_GT(nonzero, 0);
    }
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Kernel, gs::Padding>>& info) {
    const gs::Padding p = std::get<1>(info.param);
    return kernel_name(std::get<0>(info.param)) + "_" +
           (p == gs::Padding::zeros ? "zeros" : p == gs::Padding::border ? "border" : "reflection");
}

INSTANTIATE_TEST_SUITE_P(AllKernels, FiniteDifferences,
                         ::testing::Combine(::testing::ValuesIn(kKernels),
                                            ::testing::ValuesIn(kPaddings)),
                         param_name);

}  // namespace

namespace gridsample {
void PrintTo(Padding p, std::ostream* os) {
    *os << (p == Padding::zeros ? "zeros" : p == Padding::border ? "border" : "reflection");
}
}  // namespace gridsample
