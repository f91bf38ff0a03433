// Minimal reproduction: Halide 21's Anderson2021 (GPU) autoscheduler fails an internal assertion
// on a Func whose Tuple element is wider than a 32-byte memory transaction and is read by a loop
// that does not index it (here every channel of the output reads the Tuple of its point).
//
// Anderson2021 counts a Tuple element as one access of the whole element's bytes
// (GPUMemInfo.h: num_bytes_used_per_request), and asserts that the bytes used never exceed the
// transactions' bytes; a 9 x 4-byte Tuple (the per-point taps of 2-D bilinear grid_sample: four
// indices, four weights, a flag) gives 36 bytes a lane, more than one transaction:
//   Error: total_bytes_used = 73728, total_bytes = 65536, ...
// No upstream issue matches (the closest are halide/Halide#8256 and #8000, other Anderson2021
// internal assertions). Workaround (generators/algorithm/backward_common.h,
// AutoscheduleForm::one_func_per_value): one Func per value on GPU targets.
//
//   repro <libautoschedule_anderson2021.so> [workaround]
#include "Halide.h"

#include <cstring>
#include <iostream>
#include <vector>

using namespace Halide;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " <libautoschedule_anderson2021.so> [workaround]\n";
        return 2;
    }
    const bool workaround = argc > 2 && std::strcmp(argv[2], "workaround") == 0;
    load_plugin(argv[1]);
    // The Tuple is per point (x, y) and read by every channel c of the output.
    ImageParam input(Float(32), 3, "input");
    Var x("x"), y("y"), c("c");
    constexpr int kValues = 9;
    std::vector<Expr> values;
    for (int v = 0; v < kValues; v++) values.push_back(input(x, y, 0) * (v + 1));
    std::vector<Func> parts;
    if (workaround) {
        for (int v = 0; v < kValues; v++) {
            parts.emplace_back("part" + std::to_string(v));
            parts.back()(x, y) = values[v];
        }
    } else {
        parts.emplace_back("parts");
        parts.back()(x, y) = Tuple(values);
    }
    Func out("out");
    Expr sum = 0.0f;
    for (int v = 0; v < kValues; v++) {
        sum += (workaround ? Expr(parts[v](x, y)) : Expr(parts[0](x, y)[v])) * input(x, y, c);
    }
    out(x, y, c) = sum;
    input.set_estimates({{0, 128}, {0, 128}, {0, 64}});
    out.set_estimates({{0, 128}, {0, 128}, {0, 64}});
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
