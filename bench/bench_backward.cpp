// Benchmarks of grid_sample_backward against PyTorch's CPU backward (ATen's
// grid_sampler_2d_backward / grid_sampler_3d_backward through libtorch, no autograd), on the
// forward suite's workloads and data (workloads.cpp) plus a random grad_output:
//   feat_bilinear_zeros        input 8x64x128x128, affine grid 8x128x128
//   feat_bicubic_border        the same, bicubic with border padding
//   volume_trilinear_border_ac input 1x16x64x64x64, 3-D affine grid, align_corners
// each with both gradients ("both": PyTorch's output_mask {true, true}) and with the grid
// gradient only ("grad_grid": {false, true}; PyTorch then skips its scatter into grad_input), at
// 1 thread and at all cores. PyTorch allocates its gradients on every call (grad_input zero-filled,
// as its kernel needs); ours are written into buffers allocated once, the way the forward suite
// compares too.
//
// The benchmarks register themselves when the program starts, so they run in the same binary and
// the same run as the forward suite (filter with --benchmark_filter=bwd/). After the forward
// table, a backward table is printed: our time, PyTorch's, the ratio, and per thread count the
// geometric mean and the smallest ratio (backward_table(), which main() appends to its table).
#include "peers.h"
#include "workloads.h"

#include <benchmark/benchmark.h>

#ifdef GRIDSAMPLE_BENCH_HAVE_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace gridsample_bench {
namespace {

struct BackwardWorkload {
    std::string forward_name;  // the forward workload whose input, grid and options it uses
    bool grad_input = true;    // false: grad_grid only
    std::string name() const {
        return forward_name + (grad_input ? "/both" : "/grad_grid");
    }
};

const std::vector<BackwardWorkload>& backward_workloads() {
    static const std::vector<BackwardWorkload> w = [] {
        std::vector<BackwardWorkload> v;
        for (const char* name :
             {"feat_bilinear_zeros", "feat_bicubic_border", "volume_trilinear_border_ac"}) {
            v.push_back({name, true});
            v.push_back({name, false});
        }
        return v;
    }();
    return w;
}

const Workload& forward_workload(const std::string& name) {
    for (const Workload& w : forward_workloads()) {
        if (w.name == name) return w;
    }
    std::fprintf(stderr, "bench_backward: no forward workload %s\n", name.c_str());
    std::abort();
}

// grad_output (random in [-1, 1]) and our gradient buffers of a forward workload, built once.
struct BackwardData {
    std::vector<unsigned char> grad_output, grad_input, grad_grid;
    gridsample::TensorView grad_output_view, grad_input_view, grad_grid_view;
};

BackwardData& backward_data_for(const Workload& w) {
    static std::map<std::string, BackwardData> cache;
    auto it = cache.find(w.name);
    if (it != cache.end()) return it->second;
    BackwardData& b = cache[w.name];
    const int rank = static_cast<int>(w.input_shape.size());
    const std::vector<int64_t> out_shape = w.output_shape(), grid_shape = w.grid_shape();
    b.grad_output.resize(product(out_shape) * w.element_size());
    b.grad_input.resize(product(w.input_shape) * w.element_size());
    b.grad_grid.resize(product(grid_shape) * w.element_size());
    std::mt19937 rng(4321);
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    for (int64_t i = 0; i < product(out_shape); i++) {
        if (w.dtype == DType::float64) {
            reinterpret_cast<double*>(b.grad_output.data())[i] = unit(rng);
        } else {
            reinterpret_cast<float*>(b.grad_output.data())[i] = static_cast<float>(unit(rng));
        }
    }
    b.grad_output_view =
        gridsample::TensorView::make(b.grad_output.data(), w.dtype, rank, out_shape.data());
    b.grad_input_view =
        gridsample::TensorView::make(b.grad_input.data(), w.dtype, rank, w.input_shape.data());
    b.grad_grid_view =
        gridsample::TensorView::make(b.grad_grid.data(), w.dtype, rank, grid_shape.data());
    return b;
}

// Milliseconds per iteration of each benchmark, for the table: the fastest run (with
// --benchmark_repetitions, the slower ones measure the neighbours on a shared machine).
std::map<std::string, double>& timings() {
    static std::map<std::string, double> t;
    return t;
}

template <typename F>
void timed_loop(benchmark::State& state, const std::string& key, F body) {
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) body();
    const auto stop = std::chrono::steady_clock::now();
    if (state.iterations() > 0) {
        const double ms = std::chrono::duration<double, std::milli>(stop - start).count() /
                          static_cast<double>(state.iterations());
        auto it = timings().find(key);
        if (it == timings().end() || ms < it->second) timings()[key] = ms;
    }
}

void ours_backward(const BackwardWorkload& bw, int threads, const std::string& key,
                   benchmark::State& state) {
    const Workload& w = forward_workload(bw.forward_name);
    Data& d = data_for(w);
    BackwardData& b = backward_data_for(w);
    gridsample::set_num_threads(threads);
    const gridsample::Options options{w.mode, w.padding, w.align_corners};
    const gridsample::TensorView* gi = bw.grad_input ? &b.grad_input_view : nullptr;
    timed_loop(state, key, [&] {
        if (!d.grid_status.ok()) return state.SkipWithError(d.grid_unusable().message().c_str());
        const gridsample::Status s = gridsample::grid_sample_backward(
            b.grad_output_view, d.input_view, d.grid_view, gi, &b.grad_grid_view, options);
        if (!s.ok()) state.SkipWithError(s.message().c_str());
        benchmark::ClobberMemory();
    });
    gridsample::set_num_threads(0);
}

#ifdef GRIDSAMPLE_BENCH_HAVE_TORCH
void torch_backward(const BackwardWorkload& bw, int threads, const std::string& key,
                    benchmark::State& state) {
    const Workload& w = forward_workload(bw.forward_name);
    Data& d = data_for(w);
    BackwardData& b = backward_data_for(w);
    at::set_num_threads(threads);
    const auto options =
        at::TensorOptions().dtype(w.dtype == DType::float64 ? at::kDouble : at::kFloat);
    const at::Tensor input = at::from_blob(d.input.data(), w.input_shape, options);
    const at::Tensor grid = at::from_blob(d.grid.data(), w.grid_shape(), options);
    const at::Tensor grad_output = at::from_blob(b.grad_output.data(), w.output_shape(), options);
    const int64_t mode = static_cast<int64_t>(w.mode), padding = static_cast<int64_t>(w.padding);
    const std::array<bool, 2> mask{bw.grad_input, true};
    timed_loop(state, key, [&] {
        auto grads = w.spatial_dims() == 2
                         ? at::grid_sampler_2d_backward(grad_output, input, grid, mode, padding,
                                                        w.align_corners, mask)
                         : at::grid_sampler_3d_backward(grad_output, input, grid, mode, padding,
                                                        w.align_corners, mask);
        benchmark::DoNotOptimize(std::get<1>(grads).data_ptr());
    });
}
#endif

std::string key_of(const BackwardWorkload& bw, const char* who, int threads) {
    return "bwd/" + bw.name() + "/" + who + "/threads:" + std::to_string(threads);
}

// Registered when the program starts, before main() adds the forward suite.
const bool registered = [] {
    for (int t : thread_counts()) {
        for (const BackwardWorkload& bw : backward_workloads()) {
            const std::string ours = key_of(bw, "ours", t);
            benchmark::RegisterBenchmark(ours.c_str(),
                                         [bw, t, ours](benchmark::State& s) {
                                             ours_backward(bw, t, ours, s);
                                         })
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
#ifdef GRIDSAMPLE_BENCH_HAVE_TORCH
            const std::string torch = key_of(bw, "torch", t);
            benchmark::RegisterBenchmark(torch.c_str(),
                                         [bw, t, torch](benchmark::State& s) {
                                             torch_backward(bw, t, torch, s);
                                         })
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
#endif
        }
    }
    return true;
}();

}  // namespace

void print_backward_digests(int threads) {
    gridsample::set_num_threads(threads);
    for (const BackwardWorkload& bw : backward_workloads()) {
        const Workload& w = forward_workload(bw.forward_name);
        Data& d = data_for(w);
        BackwardData& b = backward_data_for(w);
        const gridsample::Options options{w.mode, w.padding, w.align_corners};
        const gridsample::TensorView* gi = bw.grad_input ? &b.grad_input_view : nullptr;
        fill_unwritten(b.grad_grid);
        if (gi) fill_unwritten(b.grad_input);
        const gridsample::Status status =
            !d.grid_status.ok() ? d.grid_unusable()
                                : gridsample::grid_sample_backward(b.grad_output_view, d.input_view,
                                                                   d.grid_view, gi,
                                                                   &b.grad_grid_view, options);
        const std::string base = "bwd/" + bw.name() + "/ours/threads:" + std::to_string(threads);
        print_digest(base + "/grad_grid", status, b.grad_grid, /*may_differ=*/true);
        if (gi) print_digest(base + "/grad_input", status, b.grad_input, /*may_differ=*/true);
    }
}

std::string backward_table() {
    const std::map<std::string, double>& t = timings();
    if (t.empty()) return "";
    std::string out = "Backward (grid_sample_backward vs PyTorch's CPU backward; " +
                      torch_info().description + ")\n\n";
    out += "| workload | gradients | threads | ours ms | PyTorch ms | vs PyTorch |\n";
    out += "|---|---|---|---|---|---|\n";
    char line[256];
    std::map<int, std::vector<double>> ratios;
    for (int threads : thread_counts()) {
        for (const BackwardWorkload& bw : backward_workloads()) {
            auto ours = t.find(key_of(bw, "ours", threads));
            if (ours == t.end()) continue;
            auto torch = t.find(key_of(bw, "torch", threads));
            std::snprintf(line, sizeof line, "| %s | %s | %d | %.3f | ", bw.forward_name.c_str(),
                          bw.grad_input ? "both" : "grad_grid", threads, ours->second);
            out += line;
            if (torch != t.end()) {
                const double ratio = torch->second / ours->second;
                ratios[threads].push_back(ratio);
                std::snprintf(line, sizeof line, "%.3f | %.2fx |\n", torch->second, ratio);
                out += line;
            } else {
                out += "- | - |\n";
            }
        }
    }
    out += "\n";
    for (const auto& [threads, v] : ratios) {
        double log_sum = 0;
        for (double x : v) log_sum += std::log(x);
        std::snprintf(line, sizeof line,
                      "backward vs PyTorch at %d thread(s): geometric mean %.2fx, smallest %.2fx "
                      "(%zu rows)\n",
                      threads, std::exp(log_sum / static_cast<double>(v.size())),
                      *std::min_element(v.begin(), v.end()), v.size());
        out += line;
    }
    return out;
}

}  // namespace gridsample_bench
