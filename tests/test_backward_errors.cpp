// Every error of grid_sample_backward (SEMANTICS.md S8 plus the gradients' shapes, dtypes and
// memory) through the C++ API and the C ABI: the right status code, a message that names the
// argument and the problem, and both gradients left untouched. Also the allowed empty cases and
// the choice of gradients (a null gradient is neither written nor required).
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

// A valid 2-D backward problem (input 2x3x4x5, grid 2x6x7x2, grad_output 2x3x6x7) whose pieces a
// test breaks one at a time. The gradients sit in larger buffers so that writes past them show.
struct Problem {
    std::vector<float> grad_output = std::vector<float>(2 * 3 * 6 * 7, 0.5f);
    std::vector<float> input = std::vector<float>(2 * 3 * 4 * 5, 1.0f);
    std::vector<float> grid = std::vector<float>(2 * 6 * 7 * 2, 0.25f);
    std::vector<float> grad_input = std::vector<float>(2 * 3 * 4 * 5 + 64, kSentinel);
    std::vector<float> grad_grid = std::vector<float>(2 * 6 * 7 * 2 + 64, kSentinel);
    TensorView go{grad_output.data(), {2, 3, 6, 7}};
    TensorView in{input.data(), {2, 3, 4, 5}};
    TensorView g{grid.data(), {2, 6, 7, 2}};
    TensorView gi{grad_input.data(), {2, 3, 4, 5}};
    TensorView gg{grad_grid.data(), {2, 6, 7, 2}};
    bool want_input = true, want_grid = true;
    Options options;

    Status run() const {
        return grid_sample_backward(go, in, g, want_input ? &gi : nullptr,
                                    want_grid ? &gg : nullptr, options);
    }
    bool untouched() const {
        for (float v : grad_input) {
            if (v != kSentinel) return false;
        }
        for (float v : grad_grid) {
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

TEST(BackwardErrors, ValidProblemWritesExactlyTheGradientsAskedFor) {
    {
        Problem p;
        ASSERT_TRUE(p.run().ok()) << p.run().message();
        EXPECT_NE(p.grad_input[0], kSentinel);
        EXPECT_NE(p.grad_grid[0], kSentinel);
        EXPECT_EQ(p.grad_input[2 * 3 * 4 * 5], kSentinel) << "wrote past grad_input";
        EXPECT_EQ(p.grad_grid[2 * 6 * 7 * 2], kSentinel) << "wrote past grad_grid";
    }
    {
        Problem p;
        p.want_grid = false;
        ASSERT_TRUE(p.run().ok());
        EXPECT_NE(p.grad_input[0], kSentinel);
        for (float v : p.grad_grid) ASSERT_EQ(v, kSentinel) << "grad_grid was not asked for";
    }
    {
        Problem p;
        p.want_input = false;
        // grad_input is not read or written, so its view may be anything.
        p.gi = TensorView();
        ASSERT_TRUE(p.run().ok());
        EXPECT_NE(p.grad_grid[0], kSentinel);
        for (float v : p.grad_input) ASSERT_EQ(v, kSentinel) << "grad_input was not asked for";
    }
}

TEST(BackwardErrors, NoGradientRequested) {
    Problem p;
    p.want_input = p.want_grid = false;
    expect_error(p.run(), StatusCode::invalid_argument, "grad_input, grad_grid", "both are null");
}

TEST(BackwardErrors, ProblemErrorsOfTheForward) {
    {
        Problem p;
        p.in = TensorView(p.input.data(), {6, 4, 5});
        expect_error(p.run(), StatusCode::invalid_argument, "input", "got rank 3");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.g = TensorView(p.grid.data(), {2, 6, 4, 3});
        expect_error(p.run(), StatusCode::invalid_argument, "grid",
                     "expected last dimension 2 for 4-D input, got 3");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.g = TensorView(p.grid.data(), {1, 6, 7, 2});
        expect_error(p.run(), StatusCode::invalid_argument, "grid", "expected batch size 2");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.in.sizes[3] = 0;
        expect_error(p.run(), StatusCode::invalid_argument, "input",
                     "spatial dimensions must be non-empty");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.options.mode = static_cast<Interpolation>(7);
        expect_error(p.run(), StatusCode::invalid_argument, "options.mode", "invalid value 7");
        p.options.mode = Interpolation::bilinear;
        p.options.padding = static_cast<Padding>(-1);
        expect_error(p.run(), StatusCode::invalid_argument, "options.padding", "invalid value -1");
        EXPECT_TRUE(p.untouched());
    }
    {
        std::vector<float> go(8, 1.0f), input(8, 1.0f), grid(24, 0.0f), gi(8, kSentinel),
            gg(24, kSentinel);
        const TensorView gi_view(gi.data(), {1, 1, 2, 2, 2}), gg_view(gg.data(), {1, 2, 2, 2, 3});
        Options o;
        o.mode = Interpolation::bicubic;
        const Status s = grid_sample_backward(
            TensorView(go.data(), {1, 1, 2, 2, 2}), TensorView(input.data(), {1, 1, 2, 2, 2}),
            TensorView(grid.data(), {1, 2, 2, 2, 3}), &gi_view, &gg_view, o);
        expect_error(s, StatusCode::invalid_argument, "options.mode", "bicubic");
        for (float v : gi) EXPECT_EQ(v, kSentinel);
        for (float v : gg) EXPECT_EQ(v, kSentinel);
    }
}

TEST(BackwardErrors, GradOutputShapeAndDtype) {
    Problem p;
    p.go = TensorView(p.grad_output.data(), {2, 3, 7, 6});
    expect_error(p.run(), StatusCode::invalid_argument, "grad_output",
                 "expected shape [2, 3, 6, 7], got [2, 3, 7, 6]");
    p.go = TensorView(p.grad_output.data(), {2, 3, 6, 7, 1});
    expect_error(p.run(), StatusCode::invalid_argument, "grad_output", "4-D (N, C, Ho, Wo)");
    std::vector<double> go64(p.grad_output.size(), 0.5);
    p.go = TensorView(go64.data(), {2, 3, 6, 7});
    expect_error(p.run(), StatusCode::invalid_argument, "grad_output",
                 "expected dtype float32 (the input's), got float64");
    p.go = TensorView(nullptr, DType::float32, {2, 3, 6, 7});
    expect_error(p.run(), StatusCode::invalid_argument, "grad_output", "data pointer is null");
    EXPECT_TRUE(p.untouched());
}

TEST(BackwardErrors, GradientShapesAndDtypes) {
    {
        Problem p;
        p.gi = TensorView(p.grad_input.data(), {2, 3, 5, 4});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input",
                     "expected shape [2, 3, 4, 5], got [2, 3, 5, 4]");
        p.gi = TensorView(p.grad_input.data(), {2, 3, 4, 5, 1});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input", "4-D (N, C, H, W)");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.gg = TensorView(p.grad_grid.data(), {2, 7, 6, 2});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_grid",
                     "expected shape [2, 6, 7, 2], got [2, 7, 6, 2]");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        std::vector<double> gi64(p.grad_input.size(), kSentinel);
        p.gi = TensorView(gi64.data(), {2, 3, 4, 5});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input",
                     "expected dtype float32 (the input's), got float64");
        for (double v : gi64) EXPECT_EQ(v, kSentinel);
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.gg.dtype = static_cast<DType>(5);
        expect_error(p.run(), StatusCode::invalid_argument, "grad_grid", "unsupported dtype value 5");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.gi.data = nullptr;
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input", "data pointer is null");
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        p.gg.strides[1] = -14;
        expect_error(p.run(), StatusCode::invalid_argument, "grad_grid", "is negative");
        EXPECT_TRUE(p.untouched());
    }
}

TEST(BackwardErrors, GradientOverlapsItself) {
    Problem p;
    p.gi = TensorView(p.grad_input.data(), DType::float32, {2, 3, 4, 5}, {60, 20, 5, 0});
    expect_error(p.run(), StatusCode::invalid_argument, "grad_input", "overlaps itself");
    Problem q;
    q.gg = TensorView(q.grad_grid.data(), DType::float32, {2, 6, 7, 2}, {84, 14, 1, 1});
    expect_error(q.run(), StatusCode::invalid_argument, "grad_grid", "overlaps itself");
    EXPECT_TRUE(p.untouched());
    EXPECT_TRUE(q.untouched());
}

TEST(BackwardErrors, GradientOverlapsAnInputOrTheOtherGradient) {
    {
        Problem p;
        const std::vector<float> before = p.grad_output;
        p.gi = TensorView(p.grad_output.data() + 3, {2, 3, 4, 5});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input",
                     "overlaps grad_output");
        EXPECT_EQ(p.grad_output, before);
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        const std::vector<float> before = p.input;
        p.gg = TensorView(p.input.data(), {2, 6, 7, 2});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_grid", "overlaps input");
        EXPECT_EQ(p.input, before);
        EXPECT_TRUE(p.untouched());
    }
    {
        Problem p;
        const std::vector<float> before = p.grid;
        p.gi = TensorView(p.grid.data() + 100, {2, 3, 4, 5});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_input", "overlaps grid");
        EXPECT_EQ(p.grid, before);
        EXPECT_TRUE(p.untouched());
    }
    {
        // The two gradients in one buffer, overlapping.
        Problem p;
        std::vector<float> shared(p.grad_input.size() + p.grad_grid.size(), kSentinel);
        const std::vector<float> before = shared;
        p.gi = TensorView(shared.data(), {2, 3, 4, 5});
        p.gg = TensorView(shared.data() + 50, {2, 6, 7, 2});
        expect_error(p.run(), StatusCode::invalid_argument, "grad_grid", "overlaps grad_input");
        EXPECT_EQ(shared, before);
        // Side by side in one buffer is fine.
        p.gg = TensorView(shared.data() + 2 * 3 * 4 * 5, {2, 6, 7, 2});
        EXPECT_TRUE(p.run().ok()) << p.run().message();
    }
    {
        // A gradient that is not asked for is not checked against anything.
        Problem p;
        p.want_grid = false;
        p.gg = TensorView(p.input.data(), {2, 6, 7, 2});
        EXPECT_TRUE(p.run().ok()) << p.run().message();
    }
}

TEST(BackwardErrors, TensorsBeyondThe32BitKernelsAreRejectedCleanly) {
    Problem p;
    p.gi = TensorView(p.grad_input.data(), DType::float32, {2, int64_t{1} << 31, 4, 5},
                      {60, 20, 5, 1});
    p.in.sizes[1] = int64_t{1} << 31;
    p.in.strides[1] = 0;
    const Status s = p.run();
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
    EXPECT_TRUE(p.untouched());
}

// S8: N = 0, C = 0 and empty output sizes succeed. A gradient with elements is still written in
// full: grad_grid is 0 when there are no channels, grad_input is 0 when there are no output
// points. Empty tensors may have null data.
TEST(BackwardErrors, EmptyProblemsSucceed) {
    std::vector<float> go(1, 1.0f), input(3 * 4 * 5, 1.0f), grid(6 * 7 * 2, 0.25f);
    std::vector<float> gi(3 * 4 * 5, kSentinel), gg(6 * 7 * 2, kSentinel);
    TensorView gi_view(gi.data(), {1, 3, 4, 5}), gg_view(gg.data(), {1, 6, 7, 2});
    // C = 0: grad_grid all zeros, grad_input empty.
    TensorView gi_empty(nullptr, DType::float32, {1, 0, 4, 5});
    Status s = grid_sample_backward(TensorView(nullptr, DType::float32, {1, 0, 6, 7}),
                                    TensorView(nullptr, DType::float32, {1, 0, 4, 5}),
                                    TensorView(grid.data(), {1, 6, 7, 2}), &gi_empty, &gg_view);
    ASSERT_TRUE(s.ok()) << s.message();
    for (float v : gg) EXPECT_EQ(v, 0.0f);
    // No output points: grad_input all zeros, grad_grid empty.
    TensorView gg_empty(nullptr, DType::float32, {1, 0, 7, 2});
    s = grid_sample_backward(TensorView(nullptr, DType::float32, {1, 3, 0, 7}),
                             TensorView(input.data(), {1, 3, 4, 5}),
                             TensorView(nullptr, DType::float32, {1, 0, 7, 2}), &gi_view,
                             &gg_empty);
    ASSERT_TRUE(s.ok()) << s.message();
    for (float v : gi) EXPECT_EQ(v, 0.0f);
    // N = 0: nothing at all, with every pointer null.
    const TensorView gi_none(nullptr, DType::float32, {0, 3, 4, 5});
    const TensorView gg_none(nullptr, DType::float32, {0, 6, 7, 2});
    s = grid_sample_backward(TensorView(nullptr, DType::float32, {0, 3, 6, 7}),
                             TensorView(nullptr, DType::float32, {0, 3, 4, 5}),
                             TensorView(nullptr, DType::float32, {0, 6, 7, 2}), &gi_none,
                             &gg_none);
    EXPECT_TRUE(s.ok()) << s.message();
    // Still validated: an empty gradient of the wrong shape is an error.
    const TensorView gi_wrong(nullptr, DType::float32, {0, 3, 5, 4});
    s = grid_sample_backward(TensorView(nullptr, DType::float32, {0, 3, 6, 7}),
                             TensorView(nullptr, DType::float32, {0, 3, 4, 5}),
                             TensorView(nullptr, DType::float32, {0, 6, 7, 2}), &gi_wrong,
                             nullptr);
    expect_error(s, StatusCode::invalid_argument, "grad_input", "expected shape");
}

// The C ABI: integer codes, the thread's last message, null pointers and malformed options.
TEST(BackwardErrors, CAbi) {
    Problem p;
    auto c_tensor = [](const TensorView& t) {
        gridsample_tensor c{t.data, static_cast<int32_t>(t.dtype), t.rank, {}, {}};
        for (int i = 0; i < t.rank; i++) {
            c.sizes[i] = t.sizes[i];
            c.strides[i] = t.strides[i];
        }
        return c;
    };
    gridsample_tensor go = c_tensor(p.go), in = c_tensor(p.in), g = c_tensor(p.g),
                      gi = c_tensor(p.gi), gg = c_tensor(p.gg);
    gridsample_options o{GRIDSAMPLE_BILINEAR, GRIDSAMPLE_BORDER, 1};

    EXPECT_EQ(gridsample_grid_sample_backward(nullptr, &in, &g, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "grad_output: null pointer");
    EXPECT_EQ(gridsample_grid_sample_backward(&go, nullptr, &g, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "input: null pointer");
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, nullptr, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "grid: null pointer");
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, &gi, &gg, nullptr),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "options: null pointer");
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, nullptr, nullptr, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "both are null"), nullptr);
    o.align_corners = 3;
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "options.align_corners"), nullptr);
    o.align_corners = 1;
    o.padding = 4;
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "options.padding: invalid value 4"), nullptr);
    o.padding = GRIDSAMPLE_BORDER;
    gg.sizes[1] = 5;
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, &gi, &gg, &o),
              GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::strstr(gridsample_last_error(), "grad_grid: expected shape"), nullptr);
    EXPECT_TRUE(p.untouched());

    gg.sizes[1] = 6;
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, &gi, nullptr, &o), GRIDSAMPLE_OK);
    EXPECT_STREQ(gridsample_last_error(), "");
    for (size_t i = 0; i < p.grad_grid.size(); i++) ASSERT_EQ(p.grad_grid[i], kSentinel);
    EXPECT_NE(p.grad_input[0], kSentinel);
    EXPECT_EQ(gridsample_grid_sample_backward(&go, &in, &g, nullptr, &gg, &o), GRIDSAMPLE_OK);
    EXPECT_NE(p.grad_grid[0], kSentinel);

    // The same results as the C++ API.
    Problem q;
    q.options = {Interpolation::bilinear, Padding::border, true};
    ASSERT_TRUE(q.run().ok());
    EXPECT_EQ(0, std::memcmp(p.grad_input.data(), q.grad_input.data(),
                             p.grad_input.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(p.grad_grid.data(), q.grad_grid.data(),
                             p.grad_grid.size() * sizeof(float)));
}

// Whatever the grid holds (S7), neither gradient fails or becomes non-finite for finite input
// and grad_output, for every mode and padding.
TEST(BackwardErrors, NonFiniteGridsNeverFail) {
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
    std::vector<float> input(2 * 3 * 4), go(2 * points);
    for (size_t i = 0; i < input.size(); i++) input[i] = static_cast<float>(i) - 7.5f;
    for (size_t i = 0; i < go.size(); i++) go[i] = 0.25f * static_cast<float>(i % 7) - 0.7f;
    for (int mode = 0; mode < 3; mode++) {
        for (int padding = 0; padding < 3; padding++) {
            for (bool ac : {false, true}) {
                std::vector<float> gi(input.size(), kSentinel), gg(grid.size(), kSentinel);
                const TensorView gi_view(gi.data(), {1, 2, 3, 4});
                const TensorView gg_view(gg.data(), {1, 1, points, 2});
                Options o{static_cast<Interpolation>(mode), static_cast<Padding>(padding), ac};
                const Status s = grid_sample_backward(
                    TensorView(go.data(), {1, 2, 1, points}), TensorView(input.data(), {1, 2, 3, 4}),
                    TensorView(grid.data(), {1, 1, points, 2}), &gi_view, &gg_view, o);
                ASSERT_TRUE(s.ok()) << s.message();
                for (float v : gi) {
                    EXPECT_TRUE(std::isfinite(v))
                        << "grad_input: mode " << mode << " padding " << padding << " ac " << ac;
                }
                for (size_t i = 0; i < gg.size(); i++) {
                    EXPECT_TRUE(std::isfinite(gg[i]))
                        << "grad_grid: mode " << mode << " padding " << padding << " ac " << ac;
                    // S9: a NaN or infinite component has gradient 0.
                    if (!std::isfinite(grid[i])) {
                        EXPECT_EQ(gg[i], 0.0f) << "component " << i;
                    }
                }
            }
        }
    }
}

}  // namespace
