// Minimal reproduction: Halide 21's OpenCL code generator writes count_leading_zeros as a call to
// halide_count_leading_zeros, a helper its C backend defines in its own preamble and the OpenCL
// program does not, so the OpenCL compiler refuses the program; PoCL: "use of undeclared
// identifier 'halide_count_leading_zeros'". No upstream issue matches.
//
// The autoscheduled grid_sample_grad_input kernels met it: the fixed-point scale's exponent takes
// the bit length of the batch item's point count, 32 - count_leading_zeros(P - 1). The hand
// schedules compute it on the host; Mullapudi2016's GPU mode put it in a GPU kernel. Workaround
// (algorithm/fixed_point.h, bit_length, under an autoscheduler): the bit length by a binary
// search of selects, the same integer on every target.
//
// This program computes the bit length of 4096 values in a GPU kernel on the default OpenCL
// device (PoCL here), with the intrinsic (fails) or, with the workaround, the selects, and checks
// the results against the host.
//
//   repro [workaround]
#include "Halide.h"

#include <cstdint>
#include <cstring>
#include <iostream>

using namespace Halide;

int main(int argc, char **argv) {
    const bool workaround = argc > 1 && std::strcmp(argv[1], "workaround") == 0;
    const Target target = get_host_target().with_feature(Target::OpenCL);
    const int n = 4096;
    Buffer<uint32_t> values(n);
    for (int i = 0; i < n; i++) values(i) = uint32_t(i) * 2654435761u >> (i % 32);
    Var x("x"), xo("xo"), xi("xi");
    Expr v = values(x);
    Expr length;
    if (workaround) {
        length = 0;
        for (int shift : {16, 8, 4, 2, 1}) {
            Expr step = select(v >= cast<uint32_t>(1 << shift), shift, 0);
            v = v >> cast<uint32_t>(step);
            length = length + step;
        }
        length = length + select(v >= cast<uint32_t>(1), 1, 0);
    } else {
        length = 32 - count_leading_zeros(v);
    }
    Func f("bit_length");
    f(x) = length;
    f.gpu_tile(x, xo, xi, 64);
    const char *label = workaround ? "bit length by selects" : "count_leading_zeros";
    try {
        Buffer<int> out = f.realize({n}, target);
        out.copy_to_host();
        int wrong = 0;
        for (int i = 0; i < n; i++) {
            const uint32_t u = values(i);
            const int want = u == 0 ? 0 : 32 - __builtin_clz(u);
            wrong += out(i) != want;
        }
        std::cout << label << ": ran on OpenCL, " << wrong << " of " << n << " wrong\n";
    } catch (const Halide::Error &e) {
        std::cout << label << ": " << e.what() << "\n";
    }
    return 0;
}
