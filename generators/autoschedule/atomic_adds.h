// A lowering pass for autoscheduled GPU kernels (added by the AnyShape wrapper, any_shape.h):
// inside an atomic update, a store `acc[i] = acc[j] + delta` whose load index j is i written
// another way is given i itself, so that Halide's GPU code generators see an atomic add.
//
// Why: Halide's code generators emit a native atomic add (OpenCL `atomic_add`/`atom_add`, PTX
// `atom.add`) only where the value minus a load at the store's own index simplifies to something
// free of the buffer; otherwise they write a compare-and-swap loop. The autoschedulers fuse and
// split the scatter's loops (Li2018: `acc.update(0).fuse(r$x, r$y, r$x)...`), after which the
// update's store index and the index of its load of the same element come out of lowering as two
// different let-bound expressions, equal only once the lets are substituted: `acc[t743] =
// acc[t741] + int64(...)`. The result was a compare-and-swap loop, which for the 64-bit
// fixed-point accumulators (algorithm/fixed_point.h) Halide 21's OpenCL generator writes with
// `atomic_cmpxchg` on `long *`, an overload OpenCL does not have (its 64-bit one is
// `atom_cmpxchg`): PoCL refused every such program ("call to '_cl_atomic_cmpxchg' is
// ambiguous"). The rewrite changes no value: the two indices are proved equal first.
// experiments/autoschedulers/repro/opencl_atomics64.cpp reproduces the compare-and-swap failure.
#pragma once

#include "Halide.h"

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace gridsample_gen {

class SameIndexAtomicAdds : public Halide::Internal::IRMutator {
public:
    using IRMutator::visit;

private:
    // The lets around the node being visited, each value with the lets around it substituted.
    std::map<std::string, Halide::Expr> lets_;
    bool in_atomic_ = false;

    Halide::Expr expand(const Halide::Expr &e) const {
        using namespace Halide::Internal;
        return simplify(substitute(lets_, substitute_in_all_lets(e)));
    }

    Halide::Internal::Stmt visit(const Halide::Internal::LetStmt *op) override {
        // A let of a name already bound shadows it for its body.
        auto outer = lets_.find(op->name);
        std::optional<Halide::Expr> shadowed;
        if (outer != lets_.end()) shadowed = outer->second;
        const Halide::Expr value = expand(op->value);
        lets_[op->name] = value;
        Halide::Internal::Stmt s = IRMutator::visit(op);
        if (shadowed) {
            lets_[op->name] = *shadowed;
        } else {
            lets_.erase(op->name);
        }
        return s;
    }

    Halide::Internal::Stmt visit(const Halide::Internal::Atomic *op) override {
        const bool outer = in_atomic_;
        in_atomic_ = true;
        Halide::Internal::Stmt s = IRMutator::visit(op);
        in_atomic_ = outer;
        return s;
    }

    Halide::Internal::Stmt visit(const Halide::Internal::Store *op) override {
        using namespace Halide::Internal;
        if (!in_atomic_ || !op->index.type().is_scalar()) return IRMutator::visit(op);
        // Loads of the stored buffer at the same element, under another name.
        struct SameElement : IRMutator {
            const Store *store;
            Halide::Expr index;  // the store's, expanded
            const SameIndexAtomicAdds &pass;
            int found = 0;
            SameElement(const Store *s, Halide::Expr i, const SameIndexAtomicAdds &p)
                : store(s), index(std::move(i)), pass(p) {}
            using IRMutator::visit;
            Halide::Expr visit(const Load *load) override {
                if (load->name != store->name || !load->index.type().is_scalar() ||
                    equal(load->index, store->index)) {
                    return IRMutator::visit(load);
                }
                if (!can_prove(pass.expand(load->index) == index)) return IRMutator::visit(load);
                found++;
                return Load::make(load->type, load->name, store->index, load->image, load->param,
                                  load->predicate, load->alignment);
            }
        } same(op, expand(op->index), *this);
        const Halide::Expr value = same.mutate(op->value);
        if (same.found == 0) return IRMutator::visit(op);
        return Store::make(op->name, value, op->index, op->param, op->predicate, op->alignment);
    }
};

}  // namespace gridsample_gen
