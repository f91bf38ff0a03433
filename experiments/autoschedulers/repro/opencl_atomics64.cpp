// Minimal reproduction: Halide 21's OpenCL code generator writes a 64-bit atomic update that is
// not a plain add as a compare-and-swap loop on `atomic_cmpxchg((volatile __global long *)...)`,
// an overload OpenCL does not have (its 64-bit compare-and-swap is cl_khr_int64_base_atomics'
// `atom_cmpxchg`), so the OpenCL compiler refuses the program; PoCL: "call to
// '_cl_atomic_cmpxchg' is ambiguous". (src/CodeGen_OpenCL_Dev.cpp, visit(const Store *): the
// compare-and-swap branch picks `long` for 64-bit types and always calls atomic_cmpxchg.) No
// upstream issue matches.
//
// The autoscheduled grid_sample_grad_input kernels met it twice, each worked around in the
// generators:
//   max: Li2018 merges the partial maxima of the fixed-point scale with atomics, 64-bit ones for
//        float64 gradients. Workaround (algorithm/fixed_point.h): the maximum is taken over the
//        upper 32 bits of the magnitudes, which give the same exponent.
//   add: the 64-bit fixed-point accumulators' adds are native atomics only where the code
//        generator sees `acc[i] = acc[i] + delta` with the same index written the same way;
//        after an autoscheduler's fusions lowering writes the two indices apart and the add
//        became the broken compare-and-swap loop. Workaround: the SameIndexAtomicAdds lowering
//        pass (autoschedule/atomic_adds.h), which proves the indices equal and writes the load
//        with the store's.
// This program runs the first case on the default OpenCL device (PoCL here): a 64-bit maximum
// merged with atomics (fails), or, with the workaround, the maximum over the upper 32 bits. (The
// add case goes down the same compare-and-swap branch; its trigger, two index expressions that
// only a substitution of lets shows equal, comes out of the autoscheduler's whole pipeline and
// does not reduce to a few lines: lowering's own simplification merges simpler ones.)
//
//   repro [workaround]
#include "Halide.h"

#include <cstdint>
#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    const bool workaround = argc > 1 && std::strcmp(argv[1], "workaround") == 0;
    const Target target = get_host_target().with_feature(Target::OpenCL).with_feature(
        Target::CLAtomics64);
    const int n = 4096;
    Buffer<uint64_t> values(n);  // the magnitude bits of float64 values
    for (int i = 0; i < n; i++) values(i) = (uint64_t{0x3ff0} + i % 13) << 48 | uint64_t(i);
    RDom r(0, n, "r");
    Var x("x");
    // The largest magnitude's bits per bucket, merged with atomics as Li2018 merges partial
    // maxima.
    Expr bits = values(r);
    if (workaround) bits = cast<uint32_t>(bits >> 32);
    Func acc("acc");
    acc(x) = cast(bits.type(), 0);
    acc(r % 64) = max(acc(r % 64), bits);
    RVar ro("ro"), ri("ri");
    acc.compute_root().gpu_single_thread();
    acc.update().atomic().split(r, ro, ri, 64).gpu_blocks(ro).gpu_threads(ri);
    const char *label = workaround ? "64-bit max as the max of the upper 32 bits" : "64-bit max";
    try {
        Buffer<> out = acc.realize({64}, target);
        out.copy_to_host();
        std::cout << label << ": ran on OpenCL\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
