// Benchmarks of grid_sample on representative workloads (float32 unless named):
//   feat:   input 8x64x128x128, affine grid 8x128x128 (rotation 0.3 rad, scale 0.9,
//           translation (0.05, -0.03), align_corners false)
//   image:  input 1x3x1080x1920, affine grid 1x1080x1920
//   volume: input 1x16x64x64x64, 3-D affine grid 1x64x64x64
//   small:  input 256x1x28x28, affine grid 256x28x28
// Each at 1 thread and at all cores (the "threads" argument).
#include "gridsample/gridsample.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gridsample;

template <typename T>
struct Workload {
    std::vector<int64_t> input_shape, grid_shape, output_shape;
    std::vector<T> input, grid, output;
};

int64_t product(const std::vector<int64_t>& v) {
    int64_t p = 1;
    for (int64_t x : v) p *= x;
    return p;
}

// input (N, C, spatial...) sampled through an affine grid of the same spatial size.
template <typename T>
Workload<T> make_affine_workload(std::vector<int64_t> input_shape) {
    Workload<T> w;
    w.input_shape = input_shape;
    const int d = static_cast<int>(input_shape.size()) - 2;
    const int64_t n = input_shape[0];
    w.grid_shape = {n};
    w.output_shape = {n, input_shape[1]};
    for (int k = 0; k < d; k++) {
        w.grid_shape.push_back(input_shape[2 + k]);
        w.output_shape.push_back(input_shape[2 + k]);
    }
    w.grid_shape.push_back(d);
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    w.input.resize(product(w.input_shape));
    for (T& v : w.input) v = static_cast<T>(dist(rng));
    w.grid.resize(product(w.grid_shape));
    w.output.resize(product(w.output_shape));

    const double a = 0.3, s = 0.9;
    std::vector<T> theta;
    for (int64_t b = 0; b < n; b++) {
        if (d == 2) {
            theta.insert(theta.end(), {T(s * std::cos(a)), T(-s * std::sin(a)), T(0.05),
                                       T(s * std::sin(a)), T(s * std::cos(a)), T(-0.03)});
        } else {
            theta.insert(theta.end(), {T(s * std::cos(a)), T(-s * std::sin(a)), T(0), T(0.05),
                                       T(s * std::sin(a)), T(s * std::cos(a)), T(0), T(-0.03),
                                       T(0), T(0), T(s), T(0.02)});
        }
    }
    const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
    std::vector<int64_t> theta_shape{n, d, d + 1};
    const Status st = affine_grid(TensorView::make(theta.data(), dtype, 3, theta_shape.data()),
                                  input_shape.data(), static_cast<int32_t>(input_shape.size()),
                                  TensorView::make(w.grid.data(), dtype, d + 2, w.grid_shape.data()),
                                  false);
    if (!st.ok()) std::abort();
    return w;
}

template <typename T>
void run(benchmark::State& state, const std::vector<int64_t>& input_shape, Interpolation mode,
         Padding padding, bool align_corners = false) {
    static std::map<std::vector<int64_t>, Workload<T>> cache;
    auto it = cache.find(input_shape);
    if (it == cache.end()) it = cache.emplace(input_shape, make_affine_workload<T>(input_shape)).first;
    Workload<T>& w = it->second;
    const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
    const int rank = static_cast<int>(w.input_shape.size());
    const TensorView in = TensorView::make(w.input.data(), dtype, rank, w.input_shape.data());
    const TensorView grid = TensorView::make(w.grid.data(), dtype, rank, w.grid_shape.data());
    const TensorView out = TensorView::make(w.output.data(), dtype, rank, w.output_shape.data());
    const Options options{mode, padding, align_corners};
    const int threads = static_cast<int>(state.range(0));
    set_num_threads(threads);
    for (auto _ : state) {
        const Status s = grid_sample(in, grid, out, options);
        if (!s.ok()) state.SkipWithError(s.message().c_str());
        benchmark::DoNotOptimize(w.output.data());
    }
    state.counters["threads"] = threads;
    state.SetBytesProcessed(state.iterations() *
                            static_cast<int64_t>((w.input.size() + w.grid.size() + w.output.size()) * sizeof(T)));
    set_num_threads(0);
}

void thread_args(benchmark::internal::Benchmark* b) {
    b->Arg(1);
    const int all = static_cast<int>(std::thread::hardware_concurrency());
    if (all > 1) b->Arg(all);
    b->UseRealTime()->Unit(benchmark::kMillisecond);
}

const std::vector<int64_t> kFeat{8, 64, 128, 128};
const std::vector<int64_t> kImage{1, 3, 1080, 1920};
const std::vector<int64_t> kVolume{1, 16, 64, 64, 64};
const std::vector<int64_t> kSmall{256, 1, 28, 28};

#define GS_BENCH(name, T, shape, mode, padding, ...)                                   \
    void name(benchmark::State& state) {                                               \
        run<T>(state, shape, Interpolation::mode, Padding::padding, ##__VA_ARGS__);    \
    }                                                                                  \
    BENCHMARK(name)->Apply(thread_args)

GS_BENCH(feat_bilinear_zeros, float, kFeat, bilinear, zeros);
GS_BENCH(feat_nearest_zeros, float, kFeat, nearest, zeros);
GS_BENCH(feat_bicubic_zeros, float, kFeat, bicubic, zeros);
GS_BENCH(feat_bilinear_border, float, kFeat, bilinear, border);
GS_BENCH(feat_bilinear_reflection, float, kFeat, bilinear, reflection);
GS_BENCH(image_bilinear_zeros, float, kImage, bilinear, zeros);
GS_BENCH(image_bicubic_border, float, kImage, bicubic, border);
GS_BENCH(volume_trilinear_border, float, kVolume, bilinear, border, true);
GS_BENCH(volume_nearest_zeros, float, kVolume, nearest, zeros);
GS_BENCH(small_bilinear_zeros, float, kSmall, bilinear, zeros);
GS_BENCH(feat_bilinear_zeros_f64, double, kFeat, bilinear, zeros);

}  // namespace

BENCHMARK_MAIN();
