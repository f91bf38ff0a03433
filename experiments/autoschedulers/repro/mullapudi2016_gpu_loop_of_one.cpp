// Minimal reproduction: Halide 21's Mullapudi2016 autoscheduler in its experimental GPU mode
// (experimental_gpu_schedule=1) fails on a gather whose output has a loop estimated at one
// iteration, as every 3-D variant's output has (a 1x16x64x64x64 volume: one image):
//   Error: In schedule for out, could not find var n_i to reorder in the argument list.
//
// The GPU mode (GPUTilingDedup in src/autoschedulers/mullapudi2016/AutoSchedule.cpp) records a
// split into <v>_o and <v>_i for every loop the CPU algorithm asks to parallelize, makes the
// splits when it maps them to GPU blocks and threads, skipping a loop of at most one iteration,
// and then reorders the stage by a list that names the inner and outer loop of every recorded
// split, including the skipped one. Upstream: the GPU mode's open list of known problems,
// halide/Halide#8640; no issue names this one. Workaround (generators/autoschedule/
// estimates.h): under Mullapudi2016 on GPU targets the 3-D estimates hold the same number of
// elements with no loop of one iteration (2 images of 8 channels).
//
//   repro <libautoschedule_mullapudi2016.so> [workaround]
#include "Halide.h"

#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " <libautoschedule_mullapudi2016.so> [workaround]\n";
        return 2;
    }
    const bool workaround = argc > 2 && std::strcmp(argv[2], "workaround") == 0;
    load_plugin(argv[1]);
    const int channels = workaround ? 8 : 16, images = workaround ? 2 : 1;
    // A gather, as in grid_sample: every output element reads the input element that the index
    // of its point selects, in its channel and image.
    ImageParam in(Float(32), 5, "in");         // (x, y, z, c, n)
    ImageParam index(Int(32), 4, "index");     // per point: (x, y, z, n)
    Var x("x"), y("y"), z("z"), c("c"), n("n");
    Func out("out");
    out(x, y, z, c, n) = in(clamp(index(x, y, z, n), 0, 63), y, z, c, n) * 2.0f;
    in.set_estimates({{0, 64}, {0, 64}, {0, 64}, {0, channels}, {0, images}});
    index.set_estimates({{0, 64}, {0, 64}, {0, 64}, {0, images}});
    out.set_estimates({{0, 64}, {0, 64}, {0, 64}, {0, channels}, {0, images}});
    Pipeline p(out);
    Target target = get_host_target().with_feature(Target::CUDA).with_feature(Target::CUDACapability75);
    const char *label = workaround ? "Mullapudi2016 GPU mode (workaround)" : "Mullapudi2016 GPU mode";
    try {
        p.apply_autoscheduler(target, AutoschedulerParams("Mullapudi2016",
                                                          {{"parallelism", "128"},
                                                           {"experimental_gpu_schedule", "1"}}));
        std::cout << label << ": scheduled\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
