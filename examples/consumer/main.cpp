// Samples a small float32 image with bilinear interpolation through the installed library, once
// with the C++ API and once with the C ABI, and checks the results against values computed here
// by hand. Exit status 0 when every value matches.
#include <gridsample/gridsample.h>
#include <gridsample/gridsample_c.h>

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

constexpr int kH = 4, kW = 5;

// The input pixel (i, j): distinct values, exact in float32.
float pixel(int i, int j) { return static_cast<float>(10 * i + j); }

// Bilinear sampling at pixel coordinates (x, y) inside the image, as grid_sample computes it.
double bilinear(double x, double y) {
    const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
    const double fx = x - x0, fy = y - y0;
    auto at = [](int i, int j) {
        return (i < 0 || i >= kH || j < 0 || j >= kW) ? 0.0 : static_cast<double>(pixel(i, j));
    };
    return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
           fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
}

}  // namespace

int main() {
    std::vector<float> input(kH * kW);
    for (int i = 0; i < kH; ++i) {
        for (int j = 0; j < kW; ++j) input[i * kW + j] = pixel(i, j);
    }
    // Output points at pixel coordinates (j + 0.25, i + 0.5): with align_corners false, grid
    // value g maps to ((g + 1) * size - 1) / 2, so g = (2 * x + 1) / size - 1.
    constexpr int kHo = 3, kWo = 4;
    std::vector<float> grid(kHo * kWo * 2);
    std::vector<double> expected(kHo * kWo);
    for (int i = 0; i < kHo; ++i) {
        for (int j = 0; j < kWo; ++j) {
            const double x = j + 0.25, y = i + 0.5;
            grid[(i * kWo + j) * 2 + 0] = static_cast<float>((2 * x + 1) / kW - 1);
            grid[(i * kWo + j) * 2 + 1] = static_cast<float>((2 * y + 1) / kH - 1);
            expected[i * kWo + j] = bilinear(x, y);
        }
    }

    int failures = 0;
    auto check = [&](const char* api, const std::vector<float>& out) {
        for (int k = 0; k < kHo * kWo; ++k) {
            if (std::fabs(out[k] - expected[k]) > 1e-4) {
                std::printf("%s: output %d is %g, expected %g\n", api, k, out[k], expected[k]);
                ++failures;
            }
        }
    };

    // The C++ API.
    std::vector<float> output(kHo * kWo, -1.0f);
    gridsample::Options options;  // bilinear, zeros padding, align_corners false
    const gridsample::Status status = gridsample::grid_sample(
        gridsample::TensorView(input.data(), {1, 1, kH, kW}),
        gridsample::TensorView(grid.data(), {1, kHo, kWo, 2}),
        gridsample::TensorView(output.data(), {1, 1, kHo, kWo}), options);
    if (!status.ok()) {
        std::printf("grid_sample failed: %s\n", status.message().c_str());
        return 1;
    }
    check("C++ API", output);

    // The C ABI, with border padding.
    std::vector<float> c_output(kHo * kWo, -1.0f);
    gridsample_tensor in{}, g{}, out{};
    auto describe = [](gridsample_tensor& t, float* data, std::initializer_list<int64_t> sizes) {
        t.data = data;
        t.dtype = GRIDSAMPLE_FLOAT32;
        t.rank = static_cast<int32_t>(sizes.size());
        int64_t stride = 1;
        int d = t.rank - 1;
        for (auto it = sizes.end(); it != sizes.begin(); --d) {
            --it;
            t.sizes[d] = *it;
            t.strides[d] = stride;
            stride *= *it;
        }
    };
    describe(in, input.data(), {1, 1, kH, kW});
    describe(g, grid.data(), {1, kHo, kWo, 2});
    describe(out, c_output.data(), {1, 1, kHo, kWo});
    gridsample_options c_options{};
    c_options.mode = GRIDSAMPLE_BILINEAR;
    c_options.padding = GRIDSAMPLE_BORDER;
    const int32_t code = gridsample_grid_sample(&in, &g, &out, &c_options);
    if (code != 0) {
        std::printf("gridsample_grid_sample failed: %s\n", gridsample_last_error());
        return 1;
    }
    // Every point lies inside the image, where border padding and zeros padding agree.
    check("C ABI", c_output);

    std::printf("%s: %d of %d values differ\n", failures == 0 ? "ok" : "FAILED", failures,
                2 * kHo * kWo);
    return failures == 0 ? 0 : 1;
}
