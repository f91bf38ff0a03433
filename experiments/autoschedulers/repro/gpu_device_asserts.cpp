// Minimal reproduction: Halide 21 cannot build a CUDA kernel that holds a run of four or more
// assertions, here the checks of a producer staged in registers with a bound_extent on each of
// its four dimensions (the form of Anderson2021's staged producers) that bounds inference cannot
// prove:
//   Error: External function halide_error_explicit_bounds_too_small is marked as taking
//   user_context, but is not in the runtime module.
//
// CodeGen_LLVM::visit(const Block *) emits four or more consecutive assertions with pure
// conditions through codegen_asserts(), whose failure branches call each message's error
// function, instead of through the back end's visit(const AssertStmt *); the PTX back end's
// (a trap) is never reached, and device code cannot call the runtime. With the offset on three
// axes only (three checks left) the same kernel builds. Anderson2021 on grid_sample_grad_grid, 3-D bilinear zeros, bfloat16
// input and grid, stopped this way. No upstream issue matches. Workaround
// (generators/autoschedule/gpu_asserts.h, added by the AnyShape wrapper on GPU targets): each
// run of assertions inside a GPU loop becomes one assertion of their conjunction.
//
//   repro [workaround]    (builds for CUDA; no GPU needed)
#include "Halide.h"
#include "autoschedule/gpu_asserts.h"

#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    const bool workaround = argc > 1 && std::strcmp(argv[1], "workaround") == 0;
    ImageParam in(Float(32), 4, "in");
    ImageParam a(Int(32), 4, "a");
    Param<int> sx("sx"), sy("sy"), sz("sz"), sc("sc");  // the caller's promise: each at most 1
    Var x("x"), y("y"), z("z"), c("c");
    Func f("f"), out("out");
    f(x, y, z, c) = in(x, y, z, c) * 2.0f;
    // A data-dependent tap per point, offset along each axis by up to a bound known at run time
    // only: an extent of 2 per dimension holds, but bounds inference cannot prove it, so the
    // checks stay in the kernel (as in the grad_grid kernel, whose taps it sees through
    // bfloat16 conversions).
    const Expr i = a(x, y, z, c);
    out(x, y, z, c) = f(x + clamp(i, 0, sx), y + clamp(i, 0, sy), z + clamp(i, 0, sz),
                        c + clamp(i, 0, sc)) + f(x, y, z, c);
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi");
    out.gpu_tile(x, y, xo, yo, xi, yi, 8, 8);
    Func staged = f.in(out);
    staged.store_in(MemoryType::Register).compute_at(out, xi);
    for (const Var &v : {x, y, z, c}) staged.bound_extent(v, 2).unroll(v);
    if (workaround) out.add_custom_lowering_pass(new gridsample_gen::MergeGpuAsserts);
    const Target target = get_host_target().with_feature(Target::CUDA)
                              .with_feature(Target::CUDACapability75)
                              .with_feature(Target::NoRuntime);
    const char *label = workaround ? "CUDA kernel with 4 staged dimensions (workaround)"
                                   : "CUDA kernel with 4 staged dimensions";
    try {
        out.compile_to_module({in, a, sx, sy, sz, sc}, "out", target).compile(
            {{OutputFileType::object, "/dev/null"}});
        std::cout << label << ": compiled\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
