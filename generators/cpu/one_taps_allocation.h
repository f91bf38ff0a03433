// A lowering pass of the forward CPU schedule: the stack allocations of a tuple Func's components
// (`taps_cl.0`, `taps_cl.1`, ...: one per tuple element, as Halide stores a Tuple) merged into
// one allocation, each component at a constant offset in it.
//
// Why: the 3-D channels-last kernels' taps (Forward::taps_channels_last: per point three pairs of
// tap indices and three pairs of weights, 12 arrays of a tile) are read by the sampling loop, one
// element of each array per point. With 12 allocations LLVM keeps a pointer per array (the
// array's row of the tile) and, with the copy's strides and the output's pointers live too, runs
// out of registers: 94 instructions a point, 11 of them reloads of those pointers from the stack.
// With one allocation the 12 loads share one base register and constant offsets: 77
// instructions a point, no reload. 1x16x64^3 trilinear border, the bench's affine grid, the two
// generated kernels called in alternation in one process (same bits), ratio of the medians of
// 60 calls each, two runs: avx512_gather level 0.94-0.97 at one thread, 0.96-0.97 at two; avx2
// 0.95-0.97 and 0.95-0.96. The same merge of 2-D bicubic's 16 arrays (8x64x128x128 zeros,
// avx512_gather) measured 0.98-1.04 at one thread and 0.95-0.99 at two: not applied there. The
// schedule cannot say this: Halide gives each element of a Tuple its own buffer, and the taps'
// indices and weights have different types, so one Func of them would be a Tuple too.
//
// Each component is padded by 16 elements, so that a point's 12 taps do not fall in the same
// few L1 sets (the tile's arrays are 16 x 80 elements, 5 KiB; see taps_per_tile in
// forward_schedule.h for the same effect with 4 KiB arrays). Components of 32-bit types only
// (the float32 kernels); others are left as they are.
#pragma once

#include "Halide.h"

#include <map>
#include <string>
#include <vector>

namespace gridsample_gen {

class OneTapsAllocation : public Halide::Internal::IRMutator {
public:
    static constexpr int kPadding = 16;  // elements after each component

    explicit OneTapsAllocation(std::string func) : func_(std::move(func)) {}

    using IRMutator::visit;

    // A chain of nested allocations of the components, each of the same constant size.
    Halide::Internal::Stmt visit(const Halide::Internal::Allocate *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        std::vector<const Allocate *> chain;
        Stmt inner = op;
        while (const Allocate *a = inner.as<Allocate>()) {
            if (!is_component(a) || a->constant_allocation_size() != op->constant_allocation_size() ||
                !equal(a->condition, op->condition)) {
                break;
            }
            chain.push_back(a);
            inner = a->body;
        }
        if (chain.size() < 2 || !offsets_.empty()) return IRMutator::visit(op);
        const int64_t stride = op->constant_allocation_size() + kPadding;
        for (size_t k = 0; k < chain.size(); k++) offsets_[chain[k]->name] = stride * k;
        merged_ = chain[0]->name + ".merged";
        Stmt body = mutate(inner);
        offsets_.clear();
        return Allocate::make(merged_, UInt(32), MemoryType::Stack,
                              {make_const(Int(32), stride * chain.size())}, op->condition, body);
    }

    Halide::Expr visit(const Halide::Internal::Load *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        auto it = offsets_.find(op->name);
        if (it == offsets_.end()) return IRMutator::visit(op);
        const Expr load = Load::make(UInt(32, op->type.lanes()), merged_, moved(op->index, it->second),
                                     Buffer<>(), Parameter(), mutate(op->predicate),
                                     op->alignment + it->second);
        return op->type == load.type() ? load : reinterpret(op->type, load);
    }

    Halide::Internal::Stmt visit(const Halide::Internal::Store *op) override {
        using namespace Halide;
        using namespace Halide::Internal;
        auto it = offsets_.find(op->name);
        if (it == offsets_.end()) return IRMutator::visit(op);
        Expr value = mutate(op->value);
        if (value.type().element_of() != UInt(32)) {
            value = reinterpret(UInt(32, value.type().lanes()), value);
        }
        return Store::make(merged_, value, moved(op->index, it->second), Parameter(),
                           mutate(op->predicate), op->alignment + it->second);
    }

    // The components' frees become the merged allocation's (its first component's) or nothing.
    Halide::Internal::Stmt visit(const Halide::Internal::Free *op) override {
        using namespace Halide::Internal;
        auto it = offsets_.find(op->name);
        if (it == offsets_.end()) return op;
        return it->second == 0 ? Free::make(merged_) : Evaluate::make(0);
    }

private:
    std::string func_, merged_;
    std::map<std::string, int64_t> offsets_;  // component -> its first element in merged_

    bool is_component(const Halide::Internal::Allocate *a) const {
        const std::string prefix = func_ + ".";
        return a->name.size() > prefix.size() && a->name.compare(0, prefix.size(), prefix) == 0 &&
               a->name.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
               a->type.bits() == 32 && a->type.lanes() == 1 &&
               a->memory_type == Halide::MemoryType::Stack && a->constant_allocation_size() > 0 &&
               !a->new_expr.defined();
    }

    Halide::Expr moved(const Halide::Expr &index, int64_t offset) {
        return Halide::Internal::simplify(mutate(index) +
                                          Halide::Internal::make_const(index.type(), offset));
    }
};

}  // namespace gridsample_gen
