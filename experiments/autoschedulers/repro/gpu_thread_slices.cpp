// Halide 21, GPU lowering: a Func computed at a GPU thread loop with a loop inside it covers
// several points per thread, a variable count where that loop's tail is guarded (GuardWithIf).
// Without a constant size it cannot live in registers, and Halide gives each thread a slice of
// one buffer in device memory: the slices are sized for the threads of the consumer's loops but
// indexed by the kernel's whole thread block, which another stage of the same kernel makes
// larger. The slices then run past the buffer; on PoCL the buffer is host memory and the heap is
// corrupted ("double free or corruption", "invalid fastbin entry"). Anderson2021 schedules
// 2-D bicubic grad_grid so (per-point channel sums at its innermost thread loop, 8x2 points a
// thread, in a kernel whose other stages run more threads); the AnyShape wrapper guards every
// tail. Workaround (any_shape.h, compute_inside_gpu_threads): compute the Func at the innermost
// loop, one point at a time, a constant size. No upstream issue matches (the per-thread slices
// came with halide/Halide#4517).
//
//   gpu_thread_slices              the Func at the thread loop, a wider stage beside it
//   gpu_thread_slices narrow       the same without the wider stage: every value right
//   gpu_thread_slices workaround   the Func at the innermost loop: every value right
//
// Needs an OpenCL device (PoCL here).
#include "Halide.h"

#include <cstdio>

using namespace Halide;

int main(int argc, char **argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    Var x("x"), y("y"), xo("xo"), xi("xi"), yo("yo"), yi("yi"), yii("yii");
    Func sum("sum"), wide("wide"), out("out");
    RDom r(0, 3);
    sum(x, y) = 0.0f;
    sum(x, y) += cast<float>(x * 3 + y * 5 + r);
    wide(x, y) = cast<float>(x - y);
    out(x, y) = sum(x, y) * 2.0f + wide(x, y);
    // Blocks of 8x16 points; threads of 8x2, each computing 8 points along y (an unrolled loop).
    out.tile(x, y, xo, yo, xi, yi, 8, 16, TailStrategy::GuardWithIf)
        .split(yi, yi, yii, 8, TailStrategy::GuardWithIf)
        .reorder(yii, xi, yi, xo, yo)
        .unroll(yii)
        .gpu_blocks(xo, yo)
        .gpu_threads(xi, yi);
    // Another stage of the same kernel, with more threads: 8x16.
    if (mode != "narrow") wide.compute_at(out, xo).gpu_threads(x, y);
    // Per thread, up to 8 points of sum: fewer at the guarded tail, so no constant size.
    sum.compute_at(out, mode == "workaround" ? yii : xi);
    const Target target = get_host_target().with_feature(Target::OpenCL);
    int wrong = 0, total = 0;
    for (int rep = 0; rep < 20; rep++) {
        Buffer<float> o = out.realize({1 + rep % 9 * 3, 1 + rep % 7 * 5}, target);
        o.copy_to_host();
        o.for_each_element([&](int px, int py) {
            float want = 0;
            for (int k = 0; k < 3; k++) want += float(px * 3 + py * 5 + k);
            total++;
            if (o(px, py) != want * 2 + float(px - py)) wrong++;
        });
    }
    printf("%s: %d of %d values wrong\n",
           mode.empty() ? "per-thread Func at the thread loop" : mode.c_str(), wrong, total);
    return 0;
}
