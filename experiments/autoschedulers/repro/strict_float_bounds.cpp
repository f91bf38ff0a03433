// Minimal reproduction: Halide 21's autoschedulers fail on a gather whose index passes through
// strict-float arithmetic on a buffer extent, even when the index is clamped to the buffer by an
// integer clamp and unsafe_promise_clamped.
//
// Bounds inference intersects the promise [0, W-1] with the bounds of the index expression,
// which contain strict_sub(float(W), 1.0f). With the estimates substituted, W is a constant, but
// the simplifier folds no strict-float intrinsic (they were made opaque to it on purpose,
// halide/Halide#8641), so the autoschedulers see an extent they cannot reduce to a constant:
//   Li2018:    Error: extent:(...strict_sub(128.000000f, 1.000000f)...) is not constant.
//   Adams2019: uncaught Halide::InternalError "Should be constant: ..." (std::terminate)
// Upstream: halide/Halide#2877 (strict_float keeps extents from folding to constants; open),
// the same failure as #8261 (autoschedulers fail on indirect loads) with the clamp made strict.
// Workaround (generators/algorithm/backward_common.h, AutoscheduleForm::opaque_indices): load the
// index through a reinterpret, whose bounds are its type's, so the promise alone bounds it.
//
//   repro <plugin.so> <autoscheduler name> [workaround]
#include "Halide.h"

#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    if (argc < 3) {
        std::cerr << "usage: " << argv[0] << " <plugin.so> <autoscheduler> [workaround]\n";
        return 2;
    }
    const bool workaround = argc > 3 && std::strcmp(argv[3], "workaround") == 0;
    load_plugin(argv[1]);
    ImageParam input(Float(32), 1, "input"), coords(Float(32), 1, "coords");
    Var x("x");
    // A coordinate clamped to [0, W-1] in strict float, then an integer tap, clamped again.
    Expr last = cast<float>(input.dim(0).extent()) - 1.0f;
    Expr i = cast<int>(floor(strict_float(clamp(coords(x), 0.0f, last))));
    i = clamp(i, 0, input.dim(0).extent() - 1);
    Func index("index"), out("out");
    index(x) = workaround ? reinterpret(UInt(32), i) : i;
    Expr loaded = workaround ? reinterpret(Int(32), index(x)) : Expr(index(x));
    out(x) = input(unsafe_promise_clamped(loaded, 0, input.dim(0).extent() - 1));
    input.set_estimates({{0, 128}});
    coords.set_estimates({{0, 128}});
    out.set_estimates({{0, 128}});
    Pipeline p(out);
    AutoschedulerParams params(argv[2], {{"parallelism", "2"}});
    try {
        AutoSchedulerResults r = p.apply_autoscheduler(get_host_target(), params);
        std::cout << argv[2] << (workaround ? " (workaround)" : "") << ": scheduled\n";
    } catch (const Halide::Error &e) {
        std::cout << argv[2] << (workaround ? " (workaround)" : "") << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
