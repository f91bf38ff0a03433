// PyTorch's ATen CPU grid_sample, called directly (no autograd) on our buffers.
#include "peers.h"

#ifdef GRIDSAMPLE_BENCH_HAVE_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>
#endif

namespace gridsample_bench {

#ifdef GRIDSAMPLE_BENCH_HAVE_TORCH

PeerInfo torch_info() { return {true, std::string("PyTorch (libtorch) ") + TORCH_VERSION}; }

void torch_forward(const Workload& w, int threads, benchmark::State& state) {
    Data& d = data_for(w);
    at::set_num_threads(threads);
    if (w.dtype == DType::uint8 || w.grid_dtype() != w.dtype) {
        state.SkipWithError("PyTorch's grid_sample takes no uint8 and no grid of another dtype");
        return;
    }
    const auto options = at::TensorOptions().dtype(
        w.dtype == DType::float64    ? at::kDouble
        : w.dtype == DType::float16  ? at::kHalf
        : w.dtype == DType::bfloat16 ? at::kBFloat16
                                     : at::kFloat);
    // Channels-last workloads: the same values in PyTorch's channels_last memory format.
    const at::Tensor input =
        w.channels_last
            ? at::from_blob(d.input_hwc.data(), w.input_shape,
                            at::IntArrayRef(d.input_hwc_view.strides, w.input_shape.size()), options)
            : at::from_blob(d.input.data(), w.input_shape, options);
    const at::Tensor grid = at::from_blob(d.grid.data(), w.grid_shape(), options);
    const int64_t mode = static_cast<int64_t>(w.mode), padding = static_cast<int64_t>(w.padding);
    auto run = [&] {
        return w.spatial_dims() == 2
                   ? at::grid_sampler_2d(input, grid, mode, padding, w.align_corners)
                   : at::grid_sampler_3d(input, grid, mode, padding, w.align_corners);
    };
    try {
        run();  // PyTorch's CPU kernels have no float16 or bfloat16 variant in some versions
    } catch (const c10::Error& e) {
        state.SkipWithError(e.what_without_backtrace());
        return;
    }
    for (auto _ : state) {
        at::Tensor out = run();
        benchmark::DoNotOptimize(out.data_ptr());
    }
}

#else

PeerInfo torch_info() { return {false, "PyTorch: libtorch not found when configuring"}; }
void torch_forward(const Workload&, int, benchmark::State& state) {
    state.SkipWithError("libtorch not found");
}

#endif

}  // namespace gridsample_bench
