// The shapes the sampling generators give Halide's autoschedulers (and RunGen) to schedule for:
// (min, extent) of each dimension of the feature map, innermost first. A 2-D 8x64x128x128
// feature map or a 3-D 1x16x64x64x64 volume, sampled at its own resolution (the grid's points
// are the feature map's).
//
// Two of Halide 21's autoschedulers fail on those shapes on GPU targets; each gets a shape with
// the same number of elements instead (experiments/autoschedulers/repro/ reproduces both):
//  - Mullapudi2016's GPU mode, on a loop estimated at one iteration (the volume's one image):
//    "could not find var n_i to reorder" (mullapudi2016_gpu_loop_of_one.cpp). The volume is
//    given as 2x8x64x64x64.
//  - Li2018 on GPUs, on grid_sample_grad_input's scatter (`scatter`), when a pure loop has at
//    least 64 iterations (the 64 channels) and the reduction at least 65536 points: an
//    internal error with no message (li2018_gpu_reduction.cpp). The 2-D map is given as
//    16x32x128x128.
#pragma once

#include "Halide.h"
#include "autoschedule/any_shape.h"

#include <utility>
#include <vector>

namespace gridsample_gen {

inline std::vector<std::pair<int, int>> feature_estimates(int spatial_dims,
                                                          const Halide::AutoschedulerParams &params,
                                                          const Halide::Target &target,
                                                          bool scatter = false) {
    const std::string scheduler = base_autoscheduler(params);
    const bool gpu = target.has_gpu_feature();
    if (spatial_dims == 2) {
        if (gpu && scatter && scheduler == "Li2018") return {{0, 128}, {0, 128}, {0, 32}, {0, 16}};
        return {{0, 128}, {0, 128}, {0, 64}, {0, 8}};
    }
    if (gpu && scheduler == "Mullapudi2016") return {{0, 64}, {0, 64}, {0, 64}, {0, 8}, {0, 2}};
    return {{0, 64}, {0, 64}, {0, 64}, {0, 16}, {0, 1}};
}

}  // namespace gridsample_gen
