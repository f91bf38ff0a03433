// Minimal reproduction: Halide 21's Li2018 autoscheduler, on a GPU target, fails with an internal
// error that carries no message ("Error:" and nothing else) on a scatter (a reduction that writes
// through a computed index) whose pure loops include one of at least 64 iterations and whose
// reduction domain has at least 65536 points. grid_sample_grad_input's scatter on GPUs is such a
// reduction: per channel block (64 blocks of one channel) and image (8), 4 taps of 128x128 points.
//
// Li2018 (src/autoschedulers/li2018/GradientAutoscheduler.cpp) finds the scatter's pure loops
// too short for a GPU (fewer than 10 x 70 x 32 iterations) and hands them with the reduction
// variables to parallelize_vars_and_rvars_gpu. There a pure loop of at least 64 iterations
// becomes the GPU threads; the reduction variables then stay serial and none is fused into a GPU
// block, so the name of the fused reduction variable stays empty; a reduction domain of at least
// 65536 points is then split ("CUDA supports up to 65536 blocks in the second and third
// dimensions") through RVar(<that empty name>), and Variable::make asserts a non-empty name (an
// InternalError whose text is empty). No upstream issue matches. Workaround
// (grid_sample_grad_input_generator.cpp): under Li2018 on GPU targets the 2-D estimates hold the
// same number of elements in loops shorter than 64 (16 images of 32 channels), so that no pure
// loop becomes the threads.
//
//   repro <libautoschedule_li2018.so> [workaround]
#include "Halide.h"

#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " <libautoschedule_li2018.so> [workaround]\n";
        return 2;
    }
    const bool workaround = argc > 2 && std::strcmp(argv[2], "workaround") == 0;
    load_plugin(argv[1]);
    const int channels = workaround ? 32 : 64, images = workaround ? 16 : 8;
    // A scatter, as in grid_sample_grad_input: every point (r.y, r.z) of every image adds into
    // the element of `acc` that its index selects, for every channel, once per tap r.x.
    ImageParam index(Int(32), 3, "index");     // (x, y, n)
    ImageParam values(Float(32), 4, "values");  // (x, y, c, n)
    Var s("s"), c("c"), n("n");
    RDom r(0, 4, 0, 128, 0, 128, "r");  // (tap, x, y): 65536 points
    Expr at = clamp(index(r.y, r.z, n) + r.x, 0, 255);
    Func acc("acc");
    acc(s, c, n) = 0.0f;
    acc(at, c, n) += values(r.y, r.z, c, n);
    index.set_estimates({{0, 128}, {0, 128}, {0, images}});
    values.set_estimates({{0, 128}, {0, 128}, {0, channels}, {0, images}});
    acc.set_estimates({{0, 256}, {0, channels}, {0, images}});
    Pipeline p(acc);
    Target target = get_host_target().with_feature(Target::CUDA).with_feature(Target::CUDACapability75);
    const char *label = workaround ? "Li2018 GPU (workaround)" : "Li2018 GPU";
    try {
        p.apply_autoscheduler(target, AutoschedulerParams("Li2018", {{"parallelism", "2"}}));
        std::cout << label << ": scheduled\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
