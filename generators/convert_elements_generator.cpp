// Element-type conversion (SEMANTICS.md S10) between a storage type and float32: the runtime runs
// it where a call's tensor is in a type the sampling kernels do not take directly (a float16 or
// bfloat16 grid becomes the float32 grid of the storage-type kernels). Reading converts exactly;
// writing rounds once (algorithm/storage_types.h). The variants are listed in
// cmake/GridsampleVariants.cmake.
#include "Halide.h"
#include "algorithm/storage_types.h"
#include "autoschedule/any_shape.h"

#include <vector>

namespace gridsample_gen {
namespace {

using namespace Halide;

class ConvertElements : public Generator<ConvertElements> {
public:
    GeneratorParam<Type> from{"from", Float(16)};
    GeneratorParam<Type> to{"to", Float(32)};

    // Five dimensions, the innermost first; the runtime passes a dense tensor as one dimension of
    // all its elements (the others of extent 1) and any other layout dimension by dimension.
    Input<Buffer<>> input{"input", 5};
    Output<Buffer<>> output{"output", 5};

    void configure() {
        input.set_type(buffer_type(from));
        output.set_type(buffer_type(to));
    }

    void generate() {
        const Type compute = storage_of(from) == Storage::float64 || storage_of(to) == Storage::float64
                                 ? Float(64)
                                 : Float(32);
        const std::vector<Expr> at(v.begin(), v.end());
        output(v) = to_storage(
            to_compute(input(within_bounds(input, at, using_autoscheduler())), from, compute), to,
            get_target());
    }

    void schedule() {
        const Region estimates{{0, 1 << 20}, {0, 1}, {0, 1}, {0, 1}, {0, 1}};
        input.set_estimates(estimates);
        output.set_estimates(estimates);
        for (int k = 0; k < 5; k++) {
            input.dim(k).set_stride(Expr());
            output.dim(k).set_stride(Expr());
        }
        if (using_autoscheduler()) return;
        const int vec = natural_vector_size(Float(32));
        // Blocks of 4096 elements of the innermost dimension, every block of every row a task.
        Var xo("xo"), xi("xi"), task("task");
        output.split(v[0], xo, xi, 4096, TailStrategy::GuardWithIf)
            .fuse(v[3], v[4], v[3])
            .fuse(v[2], v[3], v[2])
            .fuse(v[1], v[2], v[1])
            .fuse(xo, v[1], task)
            .parallel(task)
            .vectorize(xi, vec, TailStrategy::GuardWithIf);
    }

private:
    // Not v0..v4: Halide names the Vars it makes itself v<number> (Li2018's splits among them),
    // and a split whose new Var took the name of one of these stopped that autoscheduler ("can't
    // create var v1 using a split or tile, because v1 is already used in this Func's schedule").
    std::vector<Var> v{Var("d0"), Var("d1"), Var("d2"), Var("d3"), Var("d4")};
};

}  // namespace
}  // namespace gridsample_gen

HALIDE_REGISTER_GENERATOR(gridsample_gen::ConvertElements, convert_elements)
