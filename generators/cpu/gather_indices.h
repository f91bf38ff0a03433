// A lowering pass of the forward CPU schedule: each load of the sampled input takes its index (or,
// for a dense vector load, its first index) as one 32-bit value, so that the gathers LLVM
// vectorizes it into use 32-bit indices.
//
// Why: Halide computes a load's index in int32 but emits its arithmetic in 64 bits (each term
// widened, then summed). LLVM's loop vectorizer then gathers with 64-bit indices: on AVX-512,
// vgatherqps fetches 8 floats per instruction where vgatherdps fetches 16, so a vector of 16
// taps costs two gathers instead of one (AVX2 alike: 4 lanes instead of 8). With the index bound
// to an int32 let, the load's address is base + sext(index), which LLVM turns into the 32-bit
// form. Measured on a Sapphire Rapids VM, avx512_gather level, one thread, the generated kernel
// alone (min of 15 calls per round; median ratio of 4-8 rounds, order shuffled every round):
//   8x64x128x128 feature map: bilinear 0.90 (7/8 rounds faster), bicubic 0.90 (3/4),
//                             nearest 0.96 (4/6)
//   1x3x1080x1920 image:      planar bilinear 0.95 (4/4); channels-last bilinear 0.92 (6/6),
//                             bicubic 0.94 (4/4), nearest 0.99 (3/6)
//
// Why it is exact: the int32 value is the index Halide defines; the forward kernels are compiled
// without large_buffers, and the runtime splits calls so that every index fits in int32
// (cmake/GridsampleVariants.cmake). A target with large_buffers (64-bit index arithmetic) must
// not get this pass, and add_forward_cpu_passes() leaves it out there.
#pragma once

#include "Halide.h"

#include <string>

namespace gridsample_gen {

class Int32GatherIndices : public Halide::Internal::IRMutator {
public:
    explicit Int32GatherIndices(std::string input) : input_(std::move(input)) {}

    using IRMutator::visit;

    Halide::Expr visit(const Halide::Internal::Load *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        // A scalar index, or the base of a dense vector load (PairGathers' 64-bit pairs).
        const Ramp *ramp = op->index.as<Ramp>();
        const Expr first = ramp ? ramp->base : op->index;
        if (op->name != input_ || !first.type().is_scalar() || first.as<Variable>()) {
            return IRMutator::visit(op);
        }
        const std::string name = input_ + ".index" + std::to_string(counter_++);
        const Expr bound = Variable::make(first.type(), name);
        Expr load = Load::make(op->type, op->name,
                               ramp ? Ramp::make(bound, ramp->stride, ramp->lanes) : bound,
                               op->image, op->param, mutate(op->predicate), op->alignment);
        return Let::make(name, mutate(first), load);
    }

private:
    std::string input_;
    int counter_ = 0;
};

}  // namespace gridsample_gen
