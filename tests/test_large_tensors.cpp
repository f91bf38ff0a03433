// Tensors beyond the 32-bit limits: more than 2 GiB of memory, element offsets beyond 2^31,
// strides above 2^31 - 1 (batch and channel chunks), more than 2^31 elements, more than 2^31 rows
// per call; and the refusals of what cannot be represented (README.md, "Guarantees").
//
// Memory stays below about 3 GiB: the dense tests hold one tensor of ~2.4 GiB at a time; the
// strided ones reserve address space (mmap, MAP_NORESERVE) and touch only the pages they use;
// the expanded ones (stride 0) are a few rows. Every result is checked against the independent
// reference, computed on what the kernel can touch: a compact copy of the strided data, or the
// taps of a few output points. ctest label `large` (`ctest -LE large` leaves these out).
#include "gridsample/gridsample.h"
#include "grid_sample_reference.h"

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

namespace {

using namespace gridsample;
namespace ref = gridsample_ref;

constexpr int64_t k2G = int64_t{1} << 31;

// Address space reserved with mmap: pages cost memory only once touched.
class Reservation {
public:
    explicit Reservation(int64_t bytes) : bytes_(bytes) {
        void* p = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        data_ = p == MAP_FAILED ? nullptr : static_cast<unsigned char*>(p);
    }
    ~Reservation() {
        if (data_) munmap(data_, static_cast<size_t>(bytes_));
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    float* floats() const { return reinterpret_cast<float*>(data_); }
    bool ok() const { return data_ != nullptr; }

private:
    int64_t bytes_;
    unsigned char* data_;
};

#define REQUIRE_RESERVATION(r)                                                                \
    if (!(r).ok()) GTEST_SKIP() << "cannot reserve address space (mmap with MAP_NORESERVE)"

// The element offset of index `i` (rank entries) under `strides`.
int64_t offset_of(const std::vector<int64_t>& i, const std::vector<int64_t>& strides) {
    int64_t o = 0;
    for (size_t d = 0; d < i.size(); d++) o += i[d] * strides[d];
    return o;
}

// Calls f(index) for every index of `shape`, last dimension fastest.
void for_each_index(const std::vector<int64_t>& shape,
                    const std::function<void(const std::vector<int64_t>&)>& f) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<int64_t> i(shape.size(), 0);
    for (int64_t k = 0; k < n; k++) {
        f(i);
        for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
            if (++i[d] < shape[d]) break;
            i[d] = 0;
        }
    }
}

// Copies a strided float tensor into a dense reference array, and back.
ref::Array to_reference(const float* data, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& strides) {
    ref::Array a(shape);
    int64_t k = 0;
    for_each_index(shape, [&](const std::vector<int64_t>& i) {
        a.data[k++] = data[offset_of(i, strides)];
    });
    return a;
}

// max |expected - actual| over the strided tensor, relative to `scale`.
double max_relative_error(const ref::Array& expected, const float* data,
                          const std::vector<int64_t>& strides, double scale) {
    double worst = 0;
    int64_t k = 0;
    for_each_index(expected.shape, [&](const std::vector<int64_t>& i) {
        worst = std::max(worst, std::fabs(expected.data[k++] - data[offset_of(i, strides)]));
    });
    return worst / scale;
}

std::vector<float> random_floats(int64_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng);
    return v;
}

TensorView view(const float* data, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& strides) {
    return TensorView::make(data, DType::float32, static_cast<int32_t>(shape.size()),
                            shape.data(), strides.data());
}

std::vector<int64_t> dense_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size());
    int64_t stride = 1;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
        s[d] = stride;
        stride *= shape[d];
    }
    return s;
}

// S2 (align_corners false) and S4 with zeros padding, computed from the four taps `pixel(y, x)`
// (0 outside the image) in float64: the reference for a single output point of an input too
// large to copy.
double bilinear_zeros(double gx, double gy, int64_t w, int64_t h,
                      const std::function<double(int64_t, int64_t)>& pixel) {
    const double x = ((gx + 1) * static_cast<double>(w) - 1) / 2;
    const double y = ((gy + 1) * static_cast<double>(h) - 1) / 2;
    const double x0 = std::floor(x), y0 = std::floor(y);
    double sum = 0;
    for (int dy = 0; dy < 2; dy++) {
        for (int dx = 0; dx < 2; dx++) {
            const auto xi = static_cast<int64_t>(x0) + dx, yi = static_cast<int64_t>(y0) + dy;
            const double weight = (dx ? x - x0 : 1 - (x - x0)) * (dy ? y - y0 : 1 - (y - y0));
            if (xi >= 0 && xi < w && yi >= 0 && yi < h) sum += weight * pixel(yi, xi);
        }
    }
    return sum;
}

// The error float32 coordinates allow (S11: "scale tolerances" with the coordinate): the
// unnormalized coordinate of an axis of `size` pixels carries a rounding error of a few units in
// the last place of `size`, which moves the interpolation weights by as much, times the largest
// difference between neighbouring values (`value_range`).
double float32_coordinate_tolerance(int64_t size, double value_range) {
    return 4 * static_cast<double>(size) * 0x1.0p-24 * value_range + 2e-5 * value_range;
}

// ---- more than 2 GiB of memory ----------------------------------------------------------------

// A dense float32 input of 24000 x 25000 = 600M elements (2.4 GB), values a cheap function of
// the position; a 64 x 64 grid over all of it.
TEST(LargeTensors, DenseInputAbove2GiB) {
    const int64_t h = 24000, w = 25000;
    std::vector<float> input;
    try {
        input.resize(static_cast<size_t>(h * w));
    } catch (const std::bad_alloc&) {
        GTEST_SKIP() << "not enough memory for a 2.4 GB input";
    }
    auto value = [](int64_t y, int64_t x) {
        return static_cast<float>((y * 7 + x * 13) % 1009) * (1.0f / 1009);
    };
    for (int64_t y = 0; y < h; y++) {
        float* row = input.data() + y * w;
        for (int64_t x = 0; x < w; x++) row[x] = value(y, x);
    }
    const int64_t ho = 64, wo = 64;
    const std::vector<float> grid = random_floats(ho * wo * 2, 11, -1.02f, 1.02f);
    std::vector<float> output(static_cast<size_t>(ho * wo), -1.0f);
    const Status s = grid_sample(TensorView(input.data(), {1, 1, h, w}),
                                 TensorView(grid.data(), {1, ho, wo, 2}),
                                 TensorView(output.data(), {1, 1, ho, wo}));
    ASSERT_TRUE(s.ok()) << s.message();
    double worst = 0;
    for (int64_t p = 0; p < ho * wo; p++) {
        const double expected = bilinear_zeros(grid[2 * p], grid[2 * p + 1], w, h,
                                               [&](int64_t y, int64_t x) { return value(y, x); });
        worst = std::max(worst, std::fabs(expected - output[p]));
    }
    EXPECT_LT(worst, float32_coordinate_tolerance(w, 1.0));
}

// A dense float32 output of 150 x 2048 x 2048 = 629M elements (2.5 GB), bicubic with reflection:
// a few thousand output values against the reference run on the same grid points.
TEST(LargeTensors, DenseOutputAbove2GiB) {
    const int64_t c = 150, h = 32, w = 32, ho = 2048, wo = 2048;
    const std::vector<float> input = random_floats(c * h * w, 21, -1, 1);
    const std::vector<float> grid = random_floats(ho * wo * 2, 22, -1.3f, 1.3f);
    std::vector<float> output;
    try {
        output.resize(static_cast<size_t>(c * ho * wo));
    } catch (const std::bad_alloc&) {
        GTEST_SKIP() << "not enough memory for a 2.5 GB output";
    }
    Options options;
    options.mode = Interpolation::bicubic;
    options.padding = Padding::reflection;
    const Status s = grid_sample(TensorView(input.data(), {1, c, h, w}),
                                 TensorView(grid.data(), {1, ho, wo, 2}),
                                 TensorView(output.data(), {1, c, ho, wo}), options);
    ASSERT_TRUE(s.ok()) << s.message();

    // Output points spread over the whole output, the last one included.
    std::vector<int64_t> points;
    for (int64_t p = 0; p < ho * wo; p += 1999) points.push_back(p);
    points.push_back(ho * wo - 1);
    const auto k = static_cast<int64_t>(points.size());
    ref::Array in_ref = to_reference(input.data(), {1, c, h, w}, dense_strides({1, c, h, w}));
    ref::Array grid_ref({1, 1, k, 2});
    for (int64_t i = 0; i < k; i++) {
        grid_ref.data[2 * i] = grid[2 * points[i]];
        grid_ref.data[2 * i + 1] = grid[2 * points[i] + 1];
    }
    const ref::Array expected =
        ref::grid_sample(in_ref, grid_ref, ref::kBicubic, ref::kReflection, false);
    double worst = 0;
    for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t i = 0; i < k; i++) {
            worst = std::max(worst, std::fabs(expected.data[ch * k + i] -
                                              output[ch * ho * wo + points[i]]));
        }
    }
    EXPECT_LT(worst, 2e-5);
}

// ---- element offsets beyond 2^31 (64-bit indexing) ---------------------------------------------

// Channel strides of about 2^30 elements: the third channel starts beyond element 2^31, in the
// input, the output and the gradients. Forward and backward against the reference on compact
// copies.
TEST(LargeTensors, OffsetsBeyond2Pow31Elements) {
    const int64_t c = 3, h = 40, w = 56, ho = 24, wo = 30;
    const int64_t in_cs = (int64_t{1} << 30) + 4099, out_cs = (int64_t{1} << 30) + 1001;
    const std::vector<int64_t> in_shape{1, c, h, w}, in_strides{c * in_cs, in_cs, w, 1};
    const std::vector<int64_t> out_shape{1, c, ho, wo}, out_strides{c * out_cs, out_cs, wo, 1};
    Reservation in_mem((2 * in_cs + h * w) * 4), out_mem((2 * out_cs + ho * wo) * 4),
        grad_in_mem((2 * in_cs + h * w) * 4);
    REQUIRE_RESERVATION(in_mem);
    REQUIRE_RESERVATION(out_mem);
    REQUIRE_RESERVATION(grad_in_mem);
    std::mt19937 rng(31);
    std::uniform_real_distribution<float> dist(-1, 1);
    for_each_index(in_shape, [&](const std::vector<int64_t>& i) {
        in_mem.floats()[offset_of(i, in_strides)] = dist(rng);
    });
    const std::vector<float> grid = random_floats(ho * wo * 2, 32, -1.1f, 1.1f);
    const std::vector<float> grad_out = random_floats(c * ho * wo, 33, -1, 1);
    std::vector<float> grad_grid(static_cast<size_t>(ho * wo * 2));

    const TensorView in = view(in_mem.floats(), in_shape, in_strides);
    const TensorView g(grid.data(), {1, ho, wo, 2});
    Status s = grid_sample(in, g, view(out_mem.floats(), out_shape, out_strides));
    ASSERT_TRUE(s.ok()) << s.message();
    const TensorView gi = view(grad_in_mem.floats(), in_shape, in_strides);
    const TensorView gg(grad_grid.data(), {1, ho, wo, 2});
    s = grid_sample_backward(TensorView(grad_out.data(), {1, c, ho, wo}), in, g, &gi, &gg);
    ASSERT_TRUE(s.ok()) << s.message();

    const ref::Array in_ref = to_reference(in_mem.floats(), in_shape, in_strides);
    const ref::Array grid_ref = to_reference(grid.data(), {1, ho, wo, 2}, dense_strides({1, ho, wo, 2}));
    const ref::Array go_ref = to_reference(grad_out.data(), out_shape, dense_strides(out_shape));
    const ref::Array expected = ref::grid_sample(in_ref, grid_ref, ref::kBilinear, ref::kZeros, false);
    EXPECT_LT(max_relative_error(expected, out_mem.floats(), out_strides, 1.0), 2e-5);
    const ref::Gradients grads =
        ref::grid_sample_backward(go_ref, in_ref, grid_ref, ref::kBilinear, ref::kZeros, false);
    double gi_scale = 1e-30, gg_scale = 1e-30;
    for (double v : grads.grad_input.data) gi_scale = std::max(gi_scale, std::fabs(v));
    for (double v : grads.grad_grid.data) gg_scale = std::max(gg_scale, std::fabs(v));
    EXPECT_LT(max_relative_error(grads.grad_input, grad_in_mem.floats(), in_strides, gi_scale), 1e-4);
    EXPECT_LT(max_relative_error(grads.grad_grid, grad_grid.data(), dense_strides({1, ho, wo, 2}),
                                 gg_scale),
              1e-4);
}

// ---- strides above 2^31 - 1: calls split by batch item and by channel ------------------------

// Batch strides above 2^31 - 1 in every tensor: one kernel call per batch item, forward and
// both gradients.
TEST(LargeTensors, BatchStrideAbove2Pow31) {
    const int64_t n = 2, c = 2, h = 20, w = 24, ho = 12, wo = 10;
    const int64_t bs = k2G + 64;  // every tensor's batch stride, in elements
    const std::vector<int64_t> in_shape{n, c, h, w}, in_strides{bs, h * w, w, 1};
    const std::vector<int64_t> out_shape{n, c, ho, wo}, out_strides{bs, ho * wo, wo, 1};
    const std::vector<int64_t> grid_shape{n, ho, wo, 2}, grid_strides{bs, wo * 2, 2, 1};
    Reservation in_mem((bs + c * h * w) * 4), out_mem((bs + c * ho * wo) * 4),
        grid_mem((bs + ho * wo * 2) * 4), gi_mem((bs + c * h * w) * 4),
        gg_mem((bs + ho * wo * 2) * 4);
    for (const Reservation* r : {&in_mem, &out_mem, &grid_mem, &gi_mem, &gg_mem}) {
        REQUIRE_RESERVATION(*r);
    }
    std::mt19937 rng(41);
    std::uniform_real_distribution<float> dist(-1.1f, 1.1f);
    for_each_index(in_shape, [&](const std::vector<int64_t>& i) {
        in_mem.floats()[offset_of(i, in_strides)] = dist(rng);
    });
    for_each_index(grid_shape, [&](const std::vector<int64_t>& i) {
        grid_mem.floats()[offset_of(i, grid_strides)] = dist(rng);
    });
    const std::vector<float> grad_out = random_floats(n * c * ho * wo, 42, -1, 1);
    Options options;
    options.padding = Padding::border;
    options.align_corners = true;

    const TensorView in = view(in_mem.floats(), in_shape, in_strides);
    const TensorView g = view(grid_mem.floats(), grid_shape, grid_strides);
    Status s = grid_sample(in, g, view(out_mem.floats(), out_shape, out_strides), options);
    ASSERT_TRUE(s.ok()) << s.message();
    const TensorView gi = view(gi_mem.floats(), in_shape, in_strides);
    const TensorView gg = view(gg_mem.floats(), grid_shape, grid_strides);
    s = grid_sample_backward(TensorView(grad_out.data(), {n, c, ho, wo}), in, g, &gi, &gg,
                             options);
    ASSERT_TRUE(s.ok()) << s.message();

    const ref::Array in_ref = to_reference(in_mem.floats(), in_shape, in_strides);
    const ref::Array grid_ref = to_reference(grid_mem.floats(), grid_shape, grid_strides);
    const ref::Array go_ref = to_reference(grad_out.data(), out_shape, dense_strides(out_shape));
    const ref::Array expected = ref::grid_sample(in_ref, grid_ref, ref::kBilinear, ref::kBorder, true);
    EXPECT_LT(max_relative_error(expected, out_mem.floats(), out_strides, 1.1), 2e-5);
    const ref::Gradients grads =
        ref::grid_sample_backward(go_ref, in_ref, grid_ref, ref::kBilinear, ref::kBorder, true);
    double gi_scale = 1e-30, gg_scale = 1e-30;
    for (double v : grads.grad_input.data) gi_scale = std::max(gi_scale, std::fabs(v));
    for (double v : grads.grad_grid.data) gg_scale = std::max(gg_scale, std::fabs(v));
    EXPECT_LT(max_relative_error(grads.grad_input, gi_mem.floats(), in_strides, gi_scale), 1e-4);
    EXPECT_LT(max_relative_error(grads.grad_grid, gg_mem.floats(), grid_strides, gg_scale), 1e-4);
}

// Channel strides above 2^31 - 1: the forward and grad_input run one call per channel;
// grad_grid (a sum over channels) cannot, and is refused before anything is written.
TEST(LargeTensors, ChannelStrideAbove2Pow31) {
    const int64_t c = 2, h = 16, w = 20, ho = 9, wo = 11;
    const int64_t cs = k2G + 128;
    const std::vector<int64_t> in_shape{1, c, h, w}, in_strides{c * cs, cs, w, 1};
    const std::vector<int64_t> out_shape{1, c, ho, wo}, out_strides{c * cs, cs, wo, 1};
    Reservation in_mem((cs + h * w) * 4), out_mem((cs + ho * wo) * 4), gi_mem((cs + h * w) * 4);
    REQUIRE_RESERVATION(in_mem);
    REQUIRE_RESERVATION(out_mem);
    REQUIRE_RESERVATION(gi_mem);
    std::mt19937 rng(51);
    std::uniform_real_distribution<float> dist(-1, 1);
    for_each_index(in_shape, [&](const std::vector<int64_t>& i) {
        in_mem.floats()[offset_of(i, in_strides)] = dist(rng);
    });
    const std::vector<float> grid = random_floats(ho * wo * 2, 52, -1.2f, 1.2f);
    const std::vector<float> grad_out = random_floats(c * ho * wo, 53, -1, 1);
    Options options;
    options.mode = Interpolation::nearest;
    options.padding = Padding::reflection;

    const TensorView in = view(in_mem.floats(), in_shape, in_strides);
    const TensorView g(grid.data(), {1, ho, wo, 2});
    Status s = grid_sample(in, g, view(out_mem.floats(), out_shape, out_strides), options);
    ASSERT_TRUE(s.ok()) << s.message();
    const TensorView gi = view(gi_mem.floats(), in_shape, in_strides);
    s = grid_sample_backward(TensorView(grad_out.data(), {1, c, ho, wo}), in, g, &gi, nullptr,
                             options);
    ASSERT_TRUE(s.ok()) << s.message();

    const ref::Array in_ref = to_reference(in_mem.floats(), in_shape, in_strides);
    const ref::Array grid_ref = to_reference(grid.data(), {1, ho, wo, 2}, dense_strides({1, ho, wo, 2}));
    const ref::Array go_ref = to_reference(grad_out.data(), out_shape, dense_strides(out_shape));
    const ref::Array expected = ref::grid_sample(in_ref, grid_ref, ref::kNearest, ref::kReflection, false);
    // Nearest: exact, away from rounding ties (random grids do not land within 1e-4 of one here).
    EXPECT_EQ(max_relative_error(expected, out_mem.floats(), out_strides, 1.0), 0.0);
    const ref::Gradients grads = ref::grid_sample_backward(go_ref, in_ref, grid_ref, ref::kNearest,
                                                           ref::kReflection, false);
    EXPECT_LT(max_relative_error(grads.grad_input, gi_mem.floats(), in_strides, 1.0), 1e-5);

    // grad_grid sums over the channels: the calls cannot be split by channel.
    std::vector<float> grad_grid(static_cast<size_t>(ho * wo * 2), -5.0f);
    const TensorView gg(grad_grid.data(), {1, ho, wo, 2});
    gi_mem.floats()[0] = -7.0f;
    s = grid_sample_backward(TensorView(grad_out.data(), {1, c, ho, wo}), in, g, &gi, &gg,
                             options);
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_NE(s.message().find("dimension 1"), std::string::npos) << s.message();
    EXPECT_EQ(gi_mem.floats()[0], -7.0f) << "grad_input was written before grad_grid was refused";
    EXPECT_TRUE(std::all_of(grad_grid.begin(), grad_grid.end(), [](float v) { return v == -5.0f; }));
}

// ---- more than 2^31 elements, more than 2^31 rows ------------------------------------------

// An input of 3 x 40000 x 40000 = 4.8e9 elements, expanded from three rows (strides 0 along y
// and the batch): each channel is one row repeated.
TEST(LargeTensors, ExpandedInputAbove2Pow31Elements) {
    const int64_t c = 3, h = 40000, w = 40000, ho = 16, wo = 24;
    const std::vector<float> rows = random_floats(c * w, 61, -1, 1);
    const std::vector<float> grid = random_floats(ho * wo * 2, 62, -1.01f, 1.01f);
    std::vector<float> output(static_cast<size_t>(c * ho * wo));
    const TensorView in(rows.data(), DType::float32, {1, c, h, w}, {0, w, 0, 1});
    ASSERT_GT(in.numel(), 2 * k2G);
    const Status s = grid_sample(in, TensorView(grid.data(), {1, ho, wo, 2}),
                                 TensorView(output.data(), {1, c, ho, wo}));
    ASSERT_TRUE(s.ok()) << s.message();
    double worst = 0;
    for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t p = 0; p < ho * wo; p++) {
            const double expected = bilinear_zeros(
                grid[2 * p], grid[2 * p + 1], w, h,
                [&](int64_t, int64_t x) { return rows[static_cast<size_t>(ch * w + x)]; });
            worst = std::max(worst, std::fabs(expected - output[ch * ho * wo + p]));
        }
    }
    EXPECT_LT(worst, float32_coordinate_tolerance(w, 2.0));
}

// More than 2^31 elements and rows in one call: 3 batch items of 3 channels of 2^27 rows of 8
// (expanded, stride 0), 9.7e9 elements. The forward kernels index with 32 bits: the call is
// split into one channel of one batch item at a time (2^30 elements each). float64: its
// coordinates address every one of the 2^27 rows.
TEST(LargeTensors, ElementsAndRowsAbove2Pow31) {
    const int64_t n = 3, c = 3, h = int64_t{1} << 27, w = 8, ho = 4, wo = 5;
    std::vector<double> rows(static_cast<size_t>(c * w)), grid(static_cast<size_t>(n * ho * wo * 2));
    std::mt19937 rng(71);
    std::uniform_real_distribution<double> dist(-1, 1);
    for (double& v : rows) v = dist(rng);
    for (double& v : grid) v = 0.9 * dist(rng);
    std::vector<double> output(static_cast<size_t>(n * c * ho * wo), -3.0);
    const TensorView in(rows.data(), DType::float64, {n, c, h, w}, {0, w, 0, 1});
    ASSERT_GT(in.numel(), 4 * k2G);
    const TensorView g(grid.data(), {n, ho, wo, 2});
    const Status s = grid_sample(in, g, TensorView(output.data(), {n, c, ho, wo}));
    ASSERT_TRUE(s.ok()) << s.message();
    double worst = 0;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t ch = 0; ch < c; ch++) {
            for (int64_t p = 0; p < ho * wo; p++) {
                const double* gp = grid.data() + 2 * (b * ho * wo + p);
                const double expected = bilinear_zeros(
                    gp[0], gp[1], w, h,
                    [&](int64_t, int64_t x) { return rows[static_cast<size_t>(ch * w + x)]; });
                worst = std::max(worst, std::fabs(expected - output[(b * c + ch) * ho * wo + p]));
            }
        }
    }
    EXPECT_LT(worst, 1e-12);
}

// Rows (every dimension but x) above 2^31 - 1 in one batch item: 3 channels of 2^30 rows of 8
// (expanded, stride 0). One channel plane holds 2^33 elements, more than a forward kernel (32-bit
// indexing) takes: refused. grad_grid (64-bit indexing) sums over the channels, which cannot be
// split, and its rows do not fit its 32-bit loop counter: refused too. Nothing is written.
TEST(LargeTensors, PlaneAbove2Pow31ElementsIsRefused) {
    const int64_t n = 3, c = 3, h = int64_t{1} << 30, w = 8, ho = 4, wo = 5;
    const std::vector<double> rows(static_cast<size_t>(c * w), 0.5);
    const std::vector<double> grid(static_cast<size_t>(n * ho * wo * 2), 0.25);
    const TensorView in(rows.data(), DType::float64, {n, c, h, w}, {0, w, 0, 1});
    const TensorView g(grid.data(), {n, ho, wo, 2});
    std::vector<double> output(static_cast<size_t>(n * c * ho * wo), -3.0);
    Status s = grid_sample(in, g, TensorView(output.data(), {n, c, ho, wo}));
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
    EXPECT_NE(s.message().find("one channel of one batch item"), std::string::npos) << s.message();
    EXPECT_TRUE(std::all_of(output.begin(), output.end(), [](double v) { return v == -3.0; }));

    std::vector<double> grad_grid(static_cast<size_t>(n * ho * wo * 2), -5.0);
    const TensorView gg(grad_grid.data(), {n, ho, wo, 2});
    const std::vector<double> grad_out(static_cast<size_t>(n * c * ho * wo), 1.0);
    s = grid_sample_backward(TensorView(grad_out.data(), {n, c, ho, wo}), in, g, nullptr, &gg);
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_NE(s.message().find("rows"), std::string::npos) << s.message();
    EXPECT_TRUE(std::all_of(grad_grid.begin(), grad_grid.end(), [](double v) { return v == -5.0; }));
}

// An input whose overlapping strides pass every per-dimension limit but whose largest element
// offset, the sum over the dimensions, is beyond 2^31 - 1: a forward kernel (32-bit offsets)
// cannot address it, so it is refused rather than indexed with a wrapped offset.
TEST(LargeTensors, OffsetSumAbove2Pow31IsRefused) {
    const int64_t h = 32768, w = 32768, stride = 65535;
    std::vector<float> storage(16, 0.0f);
    std::fill(storage.begin(), storage.begin() + 4, -1.0f);
    // The span is never read (refused first); the output and grid come before it in memory.
    const TensorView in(storage.data() + 12, DType::float32, {1, 1, h, w}, {0, 0, stride, stride});
    const Status s = grid_sample(in, TensorView(storage.data() + 4, {1, 2, 1, 2}),
                                 TensorView(storage.data(), {1, 1, 2, 1}));
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
    EXPECT_TRUE(std::all_of(storage.begin(), storage.begin() + 2, [](float v) { return v == -1.0f; }));
}

// ---- what cannot be represented --------------------------------------------------------------

TEST(LargeTensors, StrideAbove2Pow31InsideAnImageIsRefused) {
    // A row stride above 2^31 - 1 with more than one row: the kernels take 32-bit strides along
    // the spatial dimensions, and those are never split.
    // One allocation, the input last: the input's nominal span (past the allocation, never read)
    // must not reach the output or the grid, or the overlap check would answer first.
    std::vector<float> storage(4 + 8 + 64, 0.0f);
    std::fill(storage.begin(), storage.begin() + 4, -1.0f);
    const auto output = storage.begin();
    const TensorView in(storage.data() + 12, DType::float32, {1, 1, 2, 2}, {4, 4, k2G, 1});
    const Status s = grid_sample(in, TensorView(storage.data() + 4, {1, 2, 2, 2}),
                                 TensorView(storage.data(), {1, 1, 2, 2}));
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
    EXPECT_NE(s.message().find("dimension 2"), std::string::npos) << s.message();
    EXPECT_TRUE(std::all_of(output, output + 4, [](float v) { return v == -1.0f; }));
}

TEST(LargeTensors, SpanPastTheAddressSpaceIsInvalid) {
    std::vector<float> input(16), grid(24, 0.0f), output(12, -1.0f);
    const TensorView in(input.data(), DType::float32, {3, 1, 2, 2},
                        {int64_t{1} << 62, 4, 2, 1});
    const Status s = grid_sample(in, TensorView(grid.data(), {3, 2, 2, 2}),
                                 TensorView(output.data(), {3, 1, 2, 2}));
    EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.message();
    EXPECT_EQ(s.message().rfind("input:", 0), 0u) << s.message();
}

}  // namespace
