// Minimal reproduction: Halide 21's Anderson2021 (GPU) autoscheduler fails an internal assertion
// on a scalar Func (no pure dimension) computed at root, such as the maximum over a whole input
// that every output point reads, taken in two levels (grid_sample_grad_input's fixed-point
// scale, generators/algorithm/fixed_point.h):
//   Internal Error at .../GPULoopInfo.cpp:91 Condition failed: at_or_inside_block()
// (here printed as "Error:" with no text: the message is lost on its way out of the plugin).
// Anderson2021 leaves a Func it cannot tile without GPU blocks ("The Func must be scalar ..."),
// and its featurization then asks for the thread info of a stage outside any block. A Func of
// one element fails too, earlier: "zero parallel tilings" (no tiling of an extent of 1). No
// upstream issue matches. Workaround (fixed_point_for's level3_parts): the scalar becomes a Func
// of two elements, the maxima of two halves, and the consumers read their maximum (the same
// value).
//
//   repro <libautoschedule_anderson2021.so> [workaround]
#include "Halide.h"

#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " <libautoschedule_anderson2021.so> [workaround]\n";
        return 2;
    }
    const bool workaround = argc > 2 && std::strcmp(argv[2], "workaround") == 0;
    load_plugin(argv[1]);
    ImageParam input(Float(32), 2, "input");
    Var x("x"), y("y"), q("q");
    // The maximum in two levels, as the fixed-point scale takes it: per row, then over the rows.
    Func row_max("row_max"), largest("largest");
    RDom rx(0, input.dim(0).extent(), "rx");
    row_max(y) = maximum(abs(input(rx, y)));
    Expr m;
    if (workaround) {
        // Two halves of the rows, each a maximum; their maximum is the input's.
        Expr half = input.dim(1).extent() / 2;
        RDom ry(0, half, "ry");
        largest(q) = 0.0f;
        largest(q) = max(largest(q), row_max(q * half + ry));
        m = max(largest(0), largest(1));
    } else {
        RDom ry(0, input.dim(1).extent(), "ry");
        largest() = maximum(row_max(ry));
        m = largest();
    }
    Func out("out");
    out(x, y) = input(x, y) / m;
    input.set_estimates({{0, 128}, {0, 128}});
    out.set_estimates({{0, 128}, {0, 128}});
    Pipeline p(out);
    Target target = get_host_target().with_feature(Target::CUDA).with_feature(Target::CUDACapability75);
    try {
        p.apply_autoscheduler(target, AutoschedulerParams("Anderson2021"));
        std::cout << "Anderson2021" << (workaround ? " (workaround)" : "") << ": scheduled\n";
    } catch (const Halide::Error &e) {
        std::cout << "Anderson2021" << (workaround ? " (workaround)" : "") << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
