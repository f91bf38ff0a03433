// The peers measured beside gridsample in the same run and on the same data: PyTorch's ATen CPU
// kernels (through libtorch) and OpenCV's cv::remap. Each is optional: when the library was not
// found at configure time, available is false and the table says so.
#pragma once

#include "workloads.h"

#include <benchmark/benchmark.h>

#include <string>

namespace gridsample_bench {

struct PeerInfo {
    bool available = false;
    std::string description;  // name and version, or why it is missing
};

PeerInfo torch_info();
// at::grid_sampler_2d / at::grid_sampler_3d on the workload's buffers, with `threads` intra-op
// threads.
void torch_forward(const Workload& w, int threads, benchmark::State& state);

PeerInfo opencv_info();
// cv::remap with float maps (CV_32FC1 x and y, in pixels), in our planar layout (one remap per
// channel plane) or in OpenCV's interleaved layout (one remap of an H x W x C image).
void opencv_remap(const Workload& w, int threads, bool interleaved, benchmark::State& state);

}  // namespace gridsample_bench
