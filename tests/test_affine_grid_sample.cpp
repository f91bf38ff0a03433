// affine_grid_sample (the fused path) against the two calls it replaces, affine_grid then
// grid_sample: bit-identical outputs over every mode x padding x align_corners x dims x dtype,
// random thetas, output sizes different from the input's (1 and 2 included), planar and
// channels-last inputs, strided outputs; and its argument errors.
#include "forward_configs.h"
#include "gridsample/gridsample.h"
#include "gridsample/gridsample_c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace gridsample;

using Config = gridsample_test::ForwardConfig;
using gridsample_test::config_name;

class FusedMatchesTwoSteps : public testing::TestWithParam<Config> {};

// wide: 7 channels (odd seeds) or 16 (even seeds) and output rows of 150 points (whole tiles of
// the schedule, where its lowering passes act; HoistTileInvariants from 6 channels; with 16, a
// multiple of every level's lanes, 2-D bilinear samples a channels-last copy of the planar input,
// channels_last_copy() in cpu/forward_schedule.h). channels_last: 20 channels, input and output
// channels-last (the CPU kernels' branch for channels-last tensors with at least a vector of
// channels, cpu/forward_schedule.h).
template <typename T>
void run(const Config& c, uint32_t seed, bool wide = false, bool channels_last = false) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> size(1, 9), batch(1, 3), channels(1, 4);
    std::uniform_real_distribution<double> value(-2.0, 2.0), coef(-1.3, 1.3);
    const DType dtype = c.dtype;
    const int d = c.dims;
    const int64_t n = batch(rng),
                  ch = channels_last ? 20 : wide ? (seed % 2 ? 7 : 16) : channels(rng);
    std::vector<int64_t> in_shape{n, ch}, out_shape{n, ch}, grid_shape{n};
    for (int k = 0; k < d; k++) in_shape.push_back(size(rng));
    for (int k = 0; k < d; k++) {
        out_shape.push_back(wide && k == d - 1 ? 150 : size(rng));
        grid_shape.push_back(out_shape.back());
    }
    grid_shape.push_back(d);
    const int rank = d + 2;
    int64_t in_count = 1, out_count = 1;
    for (int64_t s : in_shape) in_count *= s;
    for (int64_t s : out_shape) out_count *= s;

    std::vector<T> input(in_count), theta(n * d * (d + 1));
    for (T& v : input) v = static_cast<T>(value(rng));
    for (T& v : theta) v = static_cast<T>(coef(rng));
    const bool align_corners = (seed & 1) != 0;
    const Options options{c.mode, c.padding, align_corners};

    // Strides of a shape, elements `step` apart, planar or channels-last (C innermost); and the
    // offset of the element with index `flat` in the planar order.
    auto strides_of = [rank](const std::vector<int64_t>& shape, int64_t step, bool last) {
        std::vector<int64_t> strides(rank);
        int64_t stride = step;
        if (last) {
            strides[1] = stride;
            stride *= shape[1];
        }
        for (int i = rank - 1; i >= 0; i--) {
            if (last && i == 1) continue;
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    };
    auto offset_of = [rank](int64_t flat, const std::vector<int64_t>& shape,
                            const std::vector<int64_t>& strides) {
        int64_t offset = 0;
        for (int i = rank - 1; i >= 0; i--) {
            offset += (flat % shape[i]) * strides[i];
            flat /= shape[i];
        }
        return offset;
    };

    // Input: planar, or channels-last for half the seeds.
    const std::vector<int64_t> in_strides =
        strides_of(in_shape, 1, channels_last || seed % 4 >= 2);
    std::vector<T> input_storage(input.size());
    for (int64_t flat = 0; flat < in_count; flat++) {
        input_storage[offset_of(flat, in_shape, in_strides)] = input[flat];
    }
    const TensorView in = TensorView::make(input_storage.data(), dtype, rank, in_shape.data(),
                                           in_strides.data());
    const std::vector<int64_t> theta_shape{n, d, d + 1};
    const TensorView th = TensorView::make(theta.data(), dtype, 3, theta_shape.data());

    // Two steps.
    std::vector<T> grid(static_cast<size_t>(out_count / ch * d)), two_steps(out_count);
    ASSERT_TRUE(affine_grid(th, out_shape.data(), rank,
                            TensorView::make(grid.data(), dtype, rank, grid_shape.data()),
                            align_corners)
                    .ok());
    ASSERT_TRUE(grid_sample(in, TensorView::make(grid.data(), dtype, rank, grid_shape.data()),
                            TensorView::make(two_steps.data(), dtype, rank, out_shape.data()),
                            options)
                    .ok());

    // Fused, into a strided output (every element one apart) whose gaps must stay untouched;
    // channels-last outputs are dense (the channels' unit stride is what selects their branch).
    const T sentinel = static_cast<T>(-4321.0);
    const int64_t step = channels_last ? 1 : 2;
    std::vector<T> fused(step * out_count, sentinel);
    const std::vector<int64_t> out_strides = strides_of(out_shape, step, channels_last);
    const Status s = affine_grid_sample(
        in, th, TensorView::make(fused.data(), dtype, rank, out_shape.data(), out_strides.data()),
        options);
    ASSERT_TRUE(s.ok()) << s.message();
    for (int64_t i = 0; i < out_count; i++) {
        const int64_t at = offset_of(i, out_shape, out_strides);
        ASSERT_EQ(std::memcmp(&fused[at], &two_steps[i], sizeof(T)), 0)
            << "seed " << seed << " element " << i << ": fused " << fused[at] << ", two steps "
            << two_steps[i];
        if (step == 2) ASSERT_EQ(fused[at + 1], sentinel) << "wrote into a gap, seed " << seed;
    }
}

TEST_P(FusedMatchesTwoSteps, BitForBit) {
    for (uint32_t seed = 1; seed <= 30; seed++) {
        const bool wide = seed > 24 && seed <= 28, channels_last = seed > 28;
        if (GetParam().dtype == DType::float64) {
            run<double>(GetParam(), seed, wide, channels_last);
        } else {
            run<float>(GetParam(), seed, wide, channels_last);
        }
        if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(AllConfigs, FusedMatchesTwoSteps, testing::ValuesIn(gridsample_test::all_forward_configs()),
                         config_name);

// Every CPU variant of the fused kernel matches the two-step path of the same variant.
TEST(AffineGridSample, EveryCpuIsa) {
    for (CpuIsa isa : gridsample_test::all_cpu_isas()) {
        set_max_cpu_isa(isa);
        set_cpu_tuning(false);  // exactly this level (set_cpu_tuning)
        run<float>({2, Interpolation::bilinear, Padding::zeros, DType::float32}, 7);
        run<float>({2, Interpolation::bilinear, Padding::reflection, DType::float32}, 10, true);
        run<float>({2, Interpolation::bilinear, Padding::border, DType::float32}, 13, true);
        run<float>({2, Interpolation::bicubic, Padding::reflection, DType::float32}, 8);
        run<double>({3, Interpolation::bilinear, Padding::border, DType::float64}, 9);
        run<float>({2, Interpolation::bicubic, Padding::zeros, DType::float32}, 11, false, true);
        run<float>({3, Interpolation::bilinear, Padding::zeros, DType::float32}, 12, false, true);
        if (HasFatalFailure()) break;
    }
    set_max_cpu_isa(kHighestCpuIsa);
    set_cpu_tuning(true);
}

TEST(AffineGridSample, Errors) {
    std::vector<float> input(2 * 3 * 4 * 5, 1.0f), theta(2 * 6, 0.5f), output(2 * 3 * 6 * 7, -1.0f);
    const std::vector<float> before = output;
    const TensorView in(input.data(), {2, 3, 4, 5});
    const TensorView out(output.data(), {2, 3, 6, 7});
    auto expect = [&](const Status& s, const std::string& start) {
        EXPECT_FALSE(s.ok());
        EXPECT_EQ(s.message().rfind(start, 0), 0u) << s.message();
    };
    expect(affine_grid_sample(in, TensorView(theta.data(), {2, 3, 2}), out), "theta: expected shape [2, 2, 3]");
    expect(affine_grid_sample(in, TensorView(theta.data(), {1, 2, 3}), out), "theta: expected shape [2, 2, 3]");
    std::vector<double> theta64(12);
    expect(affine_grid_sample(in, TensorView(theta64.data(), {2, 2, 3}), out), "theta: expected dtype float32");
    expect(affine_grid_sample(in, TensorView(theta.data(), {2, 2, 3}),
                              TensorView(output.data(), {2, 2, 6, 7})),
           "output: expected shape [2, 3, 6, 7]");
    Options bicubic;
    bicubic.mode = Interpolation::bicubic;
    std::vector<float> vol(2 * 3 * 2 * 2 * 2), theta3(2 * 12);
    expect(affine_grid_sample(TensorView(vol.data(), {2, 3, 2, 2, 2}),
                              TensorView(theta3.data(), {2, 3, 4}),
                              TensorView(output.data(), {2, 3, 1, 6, 7}), bicubic),
           "options.mode: bicubic");
    expect(affine_grid_sample(in, TensorView(theta.data(), {2, 2, 3}),
                              TensorView(input.data(), {2, 3, 4, 5})),
           "output: memory overlaps input");
    EXPECT_EQ(output, before);
    // Empty outputs are allowed.
    EXPECT_TRUE(affine_grid_sample(in, TensorView(theta.data(), {2, 2, 3}),
                                   TensorView(output.data(), {2, 3, 0, 7}))
                    .ok());

    // The C ABI.
    gridsample_tensor cin{input.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 4, 5}, {60, 20, 5, 1}};
    gridsample_tensor ctheta{theta.data(), GRIDSAMPLE_FLOAT32, 3, {2, 2, 3}, {6, 3, 1}};
    gridsample_tensor cout{output.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 6, 7}, {126, 42, 7, 1}};
    gridsample_options o{GRIDSAMPLE_BILINEAR, GRIDSAMPLE_ZEROS, 0};
    EXPECT_EQ(gridsample_affine_grid_sample(&cin, nullptr, &cout, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_STREQ(gridsample_last_error(), "theta: null pointer");
    o.padding = 5;
    EXPECT_EQ(gridsample_affine_grid_sample(&cin, &ctheta, &cout, &o), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_EQ(output, before);
    o.padding = GRIDSAMPLE_BORDER;
    EXPECT_EQ(gridsample_affine_grid_sample(&cin, &ctheta, &cout, &o), GRIDSAMPLE_OK);
    EXPECT_FLOAT_EQ(output[0], 1.0f);
}

}  // namespace
