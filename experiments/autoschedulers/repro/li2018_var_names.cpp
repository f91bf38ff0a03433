// Minimal reproduction: Halide 21's Li2018 autoscheduler fails on a Func whose own Vars are named
// v<number>, as convert_elements' were (v0 to v4):
//   Error: In schedule for out, can't create var v1 using a split or tile, because v1 is
//   already used in this Func's schedule elsewhere.
//
// Li2018 splits a loop into Vars it makes without names (src/autoschedulers/li2018/
// GradientAutoscheduler.cpp, parallelize_vars_and_rvars_cpu: `Var outer, inner;`), and Halide
// names such Vars v<number> from one counter: here the split's Vars came out as v0 and v1, the
// names the Func already uses. No upstream issue matches. Workaround
// (generators/convert_elements_generator.cpp): the generators' Vars are named otherwise (d0 to
// d4 there).
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
    const char *prefix = workaround ? "d" : "v";
    std::vector<Var> v;
    for (int k = 0; k < 3; k++) v.emplace_back(prefix + std::to_string(k));
    // An element-wise conversion over dimensions of which only the first is large.
    ImageParam in(Float(16), 3, "in");
    Func out("out");
    out(v) = cast<float>(in(v));
    in.set_estimates({{0, 1 << 20}, {0, 1}, {0, 1}});
    out.set_estimates({{0, 1 << 20}, {0, 1}, {0, 1}});
    const char *label = workaround ? "Li2018 (Vars d0..d2)" : "Li2018 (Vars v0..v2)";
    try {
        Pipeline(out).apply_autoscheduler(get_host_target(),
                                          AutoschedulerParams("Li2018", {{"parallelism", "2"}}));
        std::cout << label << ": scheduled\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
