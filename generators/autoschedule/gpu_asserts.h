// A lowering pass for autoscheduled GPU kernels (added by the AnyShape wrapper, any_shape.h):
// inside a GPU loop, each run of consecutive assertions becomes one assertion of all their
// conditions.
//
// Why: Halide 21's LLVM code generator emits a run of four or more assertions with pure
// conditions as one branch on a bit mask of the failed conditions, each failure calling the
// error function of its message (CodeGen_LLVM::visit(const Block *) and codegen_asserts). That
// bypasses the PTX back end's own handling of an assertion (CodeGen_PTX_Dev::visit(const
// AssertStmt *): a trap; device code cannot call the runtime's error functions). Anderson2021
// stages producers in registers with a bound_extent on each of their dimensions
// (`.in(...).store_in(MemoryType::Register).compute_at(...).bound_extent(...)`); where bounds
// inference cannot prove those extents, their checks (one halide_error_explicit_bounds_too_small
// per dimension) stay inside the kernel, and with four dimensions or more the CUDA build stops:
// "External function halide_error_explicit_bounds_too_small is marked as taking user_context,
// but is not in the runtime module" (grid_sample_grad_grid, 3-D bilinear zeros, bfloat16 input
// and grid: the bounds of the taps read through bfloat16 conversions). One assertion of the
// conjunction is what the PTX back end handles as it handles any assertion: a trap when it fails,
// which the host reports as a failed kernel launch. The messages are dropped on the device either
// way, so nothing is lost; no check is removed. (The C-based back ends, OpenCL among them, emit
// each assertion on its own and never had the problem.)
// experiments/autoschedulers/repro/gpu_device_asserts.cpp reproduces the failure.
#pragma once

#include "Halide.h"

namespace gridsample_gen {

class MergeGpuAsserts : public Halide::Internal::IRMutator {
public:
    using IRMutator::visit;

    Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
        const bool gpu = Halide::Internal::is_gpu(op->for_type);
        gpu_loops_ += gpu;
        Halide::Internal::Stmt s = IRMutator::visit(op);
        gpu_loops_ -= gpu;
        return s;
    }

    Halide::Internal::Stmt visit(const Halide::Internal::Block *op) override {
        using namespace Halide::Internal;
        const AssertStmt *first = op->first.as<AssertStmt>();
        if (gpu_loops_ == 0 || !first) return IRMutator::visit(op);
        Halide::Expr condition = first->condition;
        Stmt rest = op->rest;
        int merged = 1;
        while (rest.defined()) {
            const Block *block = rest.as<Block>();
            const AssertStmt *next = block ? block->first.as<AssertStmt>() : rest.as<AssertStmt>();
            if (!next) break;
            condition = condition && next->condition;
            rest = block ? block->rest : Stmt();
            merged++;
        }
        if (merged == 1) return IRMutator::visit(op);
        const Stmt one = AssertStmt::make(condition, first->message);
        return rest.defined() ? Block::make(one, mutate(rest)) : one;
    }

private:
    int gpu_loops_ = 0;
};

}  // namespace gridsample_gen
