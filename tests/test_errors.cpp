// Every error of SEMANTICS.md S8 through the C++ API and the C ABI: the right status code, a
// message that names the argument and the problem, and an output left untouched. Also the
// allowed empty cases (S8: N = 0, C = 0, an output size of 0), which succeed and write nothing.
#include "gridsample/gridsample.h"
#include "gridsample/gridsample_c.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace gridsample;

constexpr float kSentinel = -12345.0f;

// A valid 2-D problem (input 2x3x4x5, grid 2x6x7x2, output 2x3x6x7) whose pieces a test breaks
// one at a time.
struct Problem2D {
    std::vector<float> input = std::vector<float>(2 * 3 * 4 * 5, 1.0f);
    std::vector<float> grid = std::vector<float>(2 * 6 * 7 * 2, 0.25f);
    std::vector<float> output = std::vector<float>(2 * 3 * 6 * 7 + 64, kSentinel);
    TensorView in{input.data(), {2, 3, 4, 5}};
    TensorView g{grid.data(), {2, 6, 7, 2}};
    TensorView out{output.data(), {2, 3, 6, 7}};
    Options options;

    Status run() const { return grid_sample(in, g, out, options); }
    bool output_untouched() const {
        for (float v : output) {
            if (v != kSentinel) return false;
        }
        return true;
    }
};

// Expects `status` to be an error of `code` whose message starts with `argument` + ":" and
// contains `detail`.
void expect_error(const Status& status, StatusCode code, const std::string& argument,
                  const std::string& detail) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), code) << status.message();
    EXPECT_EQ(status.message().rfind(argument + ":", 0), 0u)
        << "message should start with '" << argument << ":': " << status.message();
    EXPECT_NE(status.message().find(detail), std::string::npos)
        << "message should contain '" << detail << "': " << status.message();
}

TEST(Errors, ValidProblemSucceedsAndWritesOutput) {
    Problem2D p;
    ASSERT_TRUE(p.run().ok()) << p.run().message();
    EXPECT_FLOAT_EQ(p.output[0], 1.0f);
    EXPECT_EQ(p.output[2 * 3 * 6 * 7], kSentinel) << "wrote past the output view";
}

TEST(Errors, InputRankNot4Or5) {
    Problem2D p;
    p.in = TensorView(p.input.data(), {6, 4, 5});
    expect_error(p.run(), StatusCode::invalid_argument, "input", "got rank 3");
    p.in = TensorView::make(p.input.data(), DType::float32, 6, p.in.sizes, nullptr);
    expect_error(p.run(), StatusCode::invalid_argument, "input", "got rank 6");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, GridRankDiffersFromInput) {
    Problem2D p;
    p.g = TensorView(p.grid.data(), {2, 1, 6, 7, 2});
    expect_error(p.run(), StatusCode::invalid_argument, "grid", "4-D (N, Ho, Wo, 2)");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, GridLastDimensionWrong) {
    Problem2D p;
    p.g = TensorView(p.grid.data(), {2, 6, 4, 3});
    expect_error(p.run(), StatusCode::invalid_argument, "grid",
                 "expected last dimension 2 for 4-D input, got 3");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, GridLastDimensionWrong3D) {
    std::vector<float> input(1 * 1 * 2 * 2 * 2, 1.0f), grid(1 * 2 * 2 * 2 * 2, 0.0f),
        output(8, kSentinel);
    const Status s = grid_sample(TensorView(input.data(), {1, 1, 2, 2, 2}),
                                 TensorView(grid.data(), {1, 2, 2, 2, 2}),
                                 TensorView(output.data(), {1, 1, 2, 2, 2}));
    expect_error(s, StatusCode::invalid_argument, "grid",
                 "expected last dimension 3 for 5-D input, got 2");
    for (float v : output) EXPECT_EQ(v, kSentinel);
}

TEST(Errors, BatchSizesDiffer) {
    Problem2D p;
    p.g = TensorView(p.grid.data(), {1, 6, 7, 2});
    expect_error(p.run(), StatusCode::invalid_argument, "grid",
                 "expected batch size 2 (the input's), got 1");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, InputSpatialSizeZero) {
    Problem2D p;
    for (int dim = 2; dim < 4; dim++) {
        p.in = TensorView(p.input.data(), {2, 3, 4, 5});
        p.in.sizes[dim] = 0;
        expect_error(p.run(), StatusCode::invalid_argument, "input",
                     "spatial dimensions must be non-empty");
    }
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, BicubicOn5DInput) {
    std::vector<float> input(8, 1.0f), grid(24, 0.0f), output(8, kSentinel);
    Options o;
    o.mode = Interpolation::bicubic;
    const Status s = grid_sample(TensorView(input.data(), {1, 1, 2, 2, 2}),
                                 TensorView(grid.data(), {1, 2, 2, 2, 3}),
                                 TensorView(output.data(), {1, 1, 2, 2, 2}), o);
    expect_error(s, StatusCode::invalid_argument, "options.mode", "bicubic");
    for (float v : output) EXPECT_EQ(v, kSentinel);
}

TEST(Errors, DtypesDiffer) {
    Problem2D p;
    std::vector<double> grid64(p.grid.size(), 0.0);
    p.g = TensorView(grid64.data(), {2, 6, 7, 2});
    expect_error(p.run(), StatusCode::invalid_argument, "grid",
                 "expected dtype float32 (the input's), got float64");
    EXPECT_TRUE(p.output_untouched());

    Problem2D q;
    std::vector<double> out64(q.output.size(), kSentinel);
    q.out = TensorView(out64.data(), {2, 3, 6, 7});
    expect_error(q.run(), StatusCode::invalid_argument, "output",
                 "expected dtype float32 (the input's), got float64");
    for (double v : out64) EXPECT_EQ(v, kSentinel);
}

TEST(Errors, UnsupportedDtypeValue) {
    Problem2D p;
    p.in.dtype = static_cast<DType>(7);
    expect_error(p.run(), StatusCode::invalid_argument, "input", "unsupported dtype value 7");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, InvalidEnumValues) {
    for (int bad : {-1, 3, 1000}) {
        Problem2D p;
        p.options.mode = static_cast<Interpolation>(bad);
        expect_error(p.run(), StatusCode::invalid_argument, "options.mode",
                     "invalid value " + std::to_string(bad));
        p.options.mode = Interpolation::bilinear;
        p.options.padding = static_cast<Padding>(bad);
        expect_error(p.run(), StatusCode::invalid_argument, "options.padding",
                     "invalid value " + std::to_string(bad));
        EXPECT_TRUE(p.output_untouched());
    }
}

TEST(Errors, NullDataForNonEmptyTensors) {
    for (const char* which : {"input", "grid", "output"}) {
        Problem2D p;
        TensorView& t = std::string(which) == "input" ? p.in
                        : std::string(which) == "grid" ? p.g
                                                       : p.out;
        t.data = nullptr;
        expect_error(p.run(), StatusCode::invalid_argument, which, "data pointer is null");
        EXPECT_TRUE(p.output_untouched());
    }
}

TEST(Errors, NegativeSizesAndStrides) {
    Problem2D p;
    p.g.sizes[1] = -6;
    expect_error(p.run(), StatusCode::invalid_argument, "grid", "is negative");
    Problem2D q;
    q.in.strides[3] = -1;
    expect_error(q.run(), StatusCode::invalid_argument, "input", "is negative");
    EXPECT_TRUE(p.output_untouched());
    EXPECT_TRUE(q.output_untouched());
}

TEST(Errors, OutputShapeWrong) {
    Problem2D p;
    p.out = TensorView(p.output.data(), {2, 3, 7, 6});
    expect_error(p.run(), StatusCode::invalid_argument, "output",
                 "expected shape [2, 3, 6, 7], got [2, 3, 7, 6]");
    p.out = TensorView(p.output.data(), {2, 2, 6, 7});
    expect_error(p.run(), StatusCode::invalid_argument, "output", "expected shape [2, 3, 6, 7]");
    p.out = TensorView(p.output.data(), {2, 3, 6, 7, 1});
    expect_error(p.run(), StatusCode::invalid_argument, "output", "4-D (N, C, Ho, Wo)");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, OutputOverlapsItself) {
    Problem2D p;
    p.out = TensorView(p.output.data(), DType::float32, {2, 3, 6, 7}, {126, 42, 7, 0});
    expect_error(p.run(), StatusCode::invalid_argument, "output", "overlaps itself");
    // Rows that overlap without a zero stride: a row stride smaller than the row length.
    p.out = TensorView(p.output.data(), DType::float32, {2, 3, 6, 7}, {126, 42, 5, 1});
    expect_error(p.run(), StatusCode::invalid_argument, "output", "overlaps itself");
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, OutputOverlapsAnInput) {
    Problem2D p;
    std::vector<float> shared(p.input.size() + p.output.size(), kSentinel);
    std::fill(shared.begin(), shared.begin() + p.input.size(), 1.0f);
    const std::vector<float> before = shared;
    p.in = TensorView(shared.data(), {2, 3, 4, 5});
    // The output starts inside the input.
    p.out = TensorView(shared.data() + 10, {2, 3, 6, 7});
    expect_error(p.run(), StatusCode::invalid_argument, "output", "overlaps input");
    EXPECT_EQ(shared, before);

    Problem2D q;
    q.out = TensorView(q.grid.data(), {2, 3, 6, 7});  // grid has fewer elements: overlap
    std::vector<float> grid_before = q.grid;
    expect_error(q.run(), StatusCode::invalid_argument, "output", "overlaps grid");
    EXPECT_EQ(q.grid, grid_before);
}

TEST(Errors, TensorsBeyondThe32BitKernelsAreRejectedCleanly) {
    Problem2D p;
    // A stride-0 (expanded) batch of 2^31 elements: nothing is allocated, the size is refused.
    p.in.sizes[0] = int64_t{1} << 31;
    p.in.strides[0] = 0;
    p.g.sizes[0] = p.in.sizes[0];
    p.g.strides[0] = 0;
    const Status s = p.run();
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
    EXPECT_TRUE(p.output_untouched());
}

TEST(Errors, EmptyResultsAreAllowed) {
    // S8: N = 0, C = 0 and any output spatial size 0 give an empty result, not an error.
    std::vector<float> input(3 * 4 * 5, 1.0f), grid(6 * 7 * 2, 0.0f), output(16, kSentinel);
    Status s = grid_sample(TensorView(input.data(), {0, 3, 4, 5}),
                           TensorView(grid.data(), {0, 6, 7, 2}),
                           TensorView(output.data(), {0, 3, 6, 7}));
    EXPECT_TRUE(s.ok()) << s.message();
    s = grid_sample(TensorView(input.data(), {1, 0, 4, 5}), TensorView(grid.data(), {1, 6, 7, 2}),
                    TensorView(output.data(), {1, 0, 6, 7}));
    EXPECT_TRUE(s.ok()) << s.message();
    s = grid_sample(TensorView(input.data(), {1, 3, 4, 5}), TensorView(grid.data(), {1, 0, 7, 2}),
                    TensorView(output.data(), {1, 3, 0, 7}));
    EXPECT_TRUE(s.ok()) << s.message();
    // Empty tensors may have null data.
    s = grid_sample(TensorView(nullptr, DType::float32, {0, 3, 4, 5}),
                    TensorView(nullptr, DType::float32, {0, 6, 7, 2}),
                    TensorView(nullptr, DType::float32, {0, 3, 6, 7}));
    EXPECT_TRUE(s.ok()) << s.message();
    for (float v : output) EXPECT_EQ(v, kSentinel);
}

TEST(Errors, AffineGridArguments) {
    std::vector<float> theta(2 * 6, 0.0f), grid(2 * 4 * 5 * 2 + 8, kSentinel);
    const std::vector<float> grid_before = grid;
    TensorView t(theta.data(), {2, 2, 3});
    TensorView g(grid.data(), {2, 4, 5, 2});
    expect_error(affine_grid(t, {2, 3, 4}, g, false), StatusCode::invalid_argument, "size",
                 "expected 4 entries");
    expect_error(affine_grid(t, {2, 3, -4, 5}, g, false), StatusCode::invalid_argument, "size",
                 "non-negative");
    expect_error(affine_grid(TensorView(theta.data(), {2, 3, 2}), {2, 3, 4, 5}, g, false),
                 StatusCode::invalid_argument, "theta", "expected shape [2, 2, 3]");
    expect_error(affine_grid(TensorView(theta.data(), {1, 2, 3}), {2, 3, 4, 5}, g, false),
                 StatusCode::invalid_argument, "theta", "expected shape [2, 2, 3]");
    expect_error(affine_grid(t, {2, 3, 4, 5}, TensorView(grid.data(), {2, 5, 4, 2}), false),
                 StatusCode::invalid_argument, "grid", "expected shape [2, 4, 5, 2]");
    std::vector<double> grid64(grid.size());
    expect_error(affine_grid(t, {2, 3, 4, 5}, TensorView(grid64.data(), {2, 4, 5, 2}), false),
                 StatusCode::invalid_argument, "grid", "expected dtype float32");
    expect_error(affine_grid(t, {2, 3, 4, 5}, TensorView(theta.data(), {2, 4, 5, 2}), false),
                 StatusCode::invalid_argument, "grid", "overlaps theta");
    EXPECT_EQ(grid, grid_before);
    EXPECT_TRUE(affine_grid(t, {2, 3, 4, 5}, g, false).ok());
}

// The C ABI: integer codes, the thread's last message, and null or malformed arguments.
TEST(Errors, CAbi) {
    std::vector<float> input(2 * 3 * 4 * 5, 1.0f), grid(2 * 6 * 7 * 2, 0.0f),
        output(2 * 3 * 6 * 7, kSentinel);
    gridsample_tensor in{input.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 4, 5}, {60, 20, 5, 1}};
    gridsample_tensor g{grid.data(), GRIDSAMPLE_FLOAT32, 4, {2, 6, 7, 2}, {84, 14, 2, 1}};
    gridsample_tensor out{output.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 6, 7}, {126, 42, 7, 1}};
    gridsample_options o{GRIDSAMPLE_BILINEAR, GRIDSAMPLE_ZEROS, 0};

    EXPECT_EQ(gridsample_grid_sample(&in, &g, &out, nullptr), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "options: null pointer");
    EXPECT_EQ(gridsample_grid_sample(nullptr, &g, &out, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "input: null pointer");
    o.align_corners = 2;
    EXPECT_EQ(gridsample_grid_sample(&in, &g, &out, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "options.align_corners"), nullptr);
    o.align_corners = 0;
    o.mode = 9;
    EXPECT_EQ(gridsample_grid_sample(&in, &g, &out, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "options.mode: invalid value 9"), nullptr);
    o.mode = GRIDSAMPLE_BILINEAR;
    g.sizes[3] = 3;
    EXPECT_EQ(gridsample_grid_sample(&in, &g, &out, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "grid: expected last dimension 2"), nullptr);
    for (float v : output) ASSERT_EQ(v, kSentinel);

    g.sizes[3] = 2;
    EXPECT_EQ(gridsample_grid_sample(&in, &g, &out, &o), GRIDSAMPLE_OK);
    EXPECT_STREQ(gridsample_last_error(), "");
    EXPECT_FLOAT_EQ(output[0], 1.0f);

    std::vector<float> theta = {1, 0, 0, 0, 1, 0};
    gridsample_tensor t{theta.data(), GRIDSAMPLE_FLOAT32, 3, {1, 2, 3}, {6, 3, 1}};
    std::vector<float> agrid(4 * 5 * 2, kSentinel);
    gridsample_tensor ag{agrid.data(), GRIDSAMPLE_FLOAT32, 4, {1, 4, 5, 2}, {40, 10, 2, 1}};
    const int64_t size[4] = {1, 3, 4, 5};
    EXPECT_EQ(gridsample_affine_grid(&t, size, 3, &ag, 0), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_EQ(gridsample_affine_grid(&t, nullptr, 4, &ag, 0), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_EQ(gridsample_affine_grid(&t, size, 4, &ag, 5), GRIDSAMPLE_INVALID_ARGUMENT);
    for (float v : agrid) ASSERT_EQ(v, kSentinel);
    EXPECT_EQ(gridsample_affine_grid(&t, size, 4, &ag, 1), GRIDSAMPLE_OK);
    EXPECT_FLOAT_EQ(agrid[0], -1.0f);
}

// Whatever the grid holds, the output stays finite when the input is finite (S7), for every
// mode and padding, and no kernel reports an error.
TEST(Errors, NonFiniteGridsNeverFail) {
    const float specials[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 3.0e38f, -3.0e38f,
                              1e-40f, 0.0f, 1.0f};
    std::vector<float> grid;
    for (float x : specials) {
        for (float y : specials) {
            grid.push_back(x);
            grid.push_back(y);
        }
    }
    const int64_t points = static_cast<int64_t>(grid.size() / 2);
    std::vector<float> input(2 * 3 * 4);
    for (size_t i = 0; i < input.size(); i++) input[i] = static_cast<float>(i) - 7.5f;
    for (int mode = 0; mode < 3; mode++) {
        for (int padding = 0; padding < 3; padding++) {
            for (bool ac : {false, true}) {
                std::vector<float> output(2 * points, kSentinel);
                Options o{static_cast<Interpolation>(mode), static_cast<Padding>(padding), ac};
                const Status s = grid_sample(TensorView(input.data(), {1, 2, 3, 4}),
                                             TensorView(grid.data(), {1, 1, points, 2}),
                                             TensorView(output.data(), {1, 2, 1, points}), o);
                ASSERT_TRUE(s.ok()) << s.message();
                for (float v : output) {
                    EXPECT_TRUE(std::isfinite(v))
                        << "mode " << mode << " padding " << padding << " ac " << ac;
                    EXPECT_NE(v, kSentinel);
                }
            }
        }
    }
}

}  // namespace
