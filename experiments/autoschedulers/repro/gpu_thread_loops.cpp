// Halide 21, GPU lowering: a producer computed at a loop with GPU thread loops inside it, and
// inside another thread loop (a serial loop between thread loops, or an outer thread loop),
// writes past its allocation when the inner thread loops' tails are guarded (GuardWithIf): the
// threads past the edge compute it too, into a buffer sized for the threads inside the output.
// On PoCL the buffer is host memory and the heap is corrupted ("double free or corruption",
// "corrupted double-linked list"). Mullapudi2016's GPU mode makes such schedules (the AnyShape
// wrapper guards every tail): the 3-D taps at the outer of its thread loops, the float64 2-D
// taps at the loop over y between them. Workaround (any_shape.h, compute_inside_gpu_threads):
// compute the producer at the innermost thread loop. No upstream issue matches.
//
//   gpu_thread_loops              the producer at the serial loop between thread loops
//   gpu_thread_loops at_thread    the producer at the outer thread loop
//   gpu_thread_loops workaround   the producer at the innermost thread loop: every value right
//
// Needs an OpenCL device (PoCL here).
#include "Halide.h"

#include <cstdio>
#include <cstring>

using namespace Halide;

int main(int argc, char **argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    Var x("x"), y("y"), c("c"), n("n"), xo("xo"), xi("xi"), co("co"), ci("ci"), no("no"), ni("ni");
    Func taps("taps"), out("out");
    taps(x, y, n) = cast<float>(x * 3 + y * 5 + n);
    out(x, y, c, n) = taps(x, y, n) * cast<float>(c + 1) + taps(x + 1, y, n);
    // As Mullapudi2016 schedules float64 2-D bilinear: threads over x and channels inside a
    // serial loop over y, inside a thread loop over batch items.
    out.reorder(x, c, y, n)
        .tile({x, c, n}, {xo, co, no}, {xi, ci, ni}, {32, 32, 1}, TailStrategy::GuardWithIf)
        .gpu(xo, xi)
        .gpu(co, ci)
        .gpu(no, ni)
        .reorder(xi, ci, y, ni, xo, co, no);
    taps.compute_at(out, mode == "workaround" ? xi : mode == "at_thread" ? ni : y);
    const Target target = get_host_target().with_feature(Target::OpenCL);
    int wrong = 0;
    for (int rep = 0; rep < 20; rep++) {
        // Outputs narrower than a block: 1 to 3 points along x, 4 channels of 32 threads.
        Buffer<float> r = out.realize({1 + rep % 3, 4, 4, 3}, target);
        r.copy_to_host();
        r.for_each_element([&](int px, int py, int pc, int pn) {
            const float want = float(px * 3 + py * 5 + pn) * float(pc + 1) +
                               float((px + 1) * 3 + py * 5 + pn);
            if (r(px, py, pc, pn) != want) wrong++;
        });
    }
    printf("%s: %d wrong values\n", mode.empty() ? "producer between thread loops" : mode.c_str(),
           wrong);
    return 0;
}
