// Plumbing shared by the backward generators (grid_sample_grad_input, grid_sample_grad_grid):
// GeneratorParam names, and storing per-output-point tap data once so that the channel loops
// reuse it. No sampling math lives here (that is sampling_math.h).
#pragma once

#include "Halide.h"
#include "algorithm/sampling_math.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace gridsample_gen {

// The GeneratorParam values of `mode` and `padding`, as the forward generator spells them.
inline const std::map<std::string, Interpolation> kInterpolationByName = {
    {"bilinear", Interpolation::bilinear},
    {"nearest", Interpolation::nearest},
    {"bicubic", Interpolation::bicubic},
};
inline const std::map<std::string, Padding> kPaddingByName = {
    {"zeros", Padding::zeros},
    {"border", Padding::border},
    {"reflection", Padding::reflection},
};

// The form of materialize()'s Func for a generator scheduled by an autoscheduler (the hand
// schedules use the default). The values are the same bits in every form.
//   opaque_indices: the indices are stored as their uint32 bits and loaded back through a
//     reinterpret, which bounds inference cannot see through, so the loads' bounds are the
//     promise alone, [0, S-1]. Otherwise Halide intersects the promise with the bounds of the
//     index Expr, which pass through the strict-float clamp of the coordinate (sampling_math.h:
//     pad_coordinate), and Halide 21's simplifier folds no strict-float operation, not even on
//     constants: with the estimates substituted, the autoschedulers get an extent like
//     "int32(floor(max(strict_sub(128.0f, 1.0f), -4.0f) + 2.0f)) ..." where they need a constant
//     (Li2018: "extent ... is not constant"; Adams2019: an uncaught InternalError "Should be
//     constant"). The hand-scheduled kernels keep the plain form, whose generated code this
//     would change.
//   one_func_per_value: one Func per value (<name>_0, <name>_1, ...; the first is returned)
//     instead of one Tuple. Anderson2021 models a Func element as one access, and a taps Tuple
//     (36 bytes for 2-D bilinear) is more than one 32-byte transaction a lane, which fails its
//     assertion "total_bytes_used <= total_bytes" (GPUMemInfo.h). Only for GPU targets: on the
//     CPU the extra Funcs cost the autoschedulers' searches (2-D bilinear grid_sample at
//     parallelism=2: Mullapudi2016 33 s instead of 1.3 s, Li2018 11 s instead of 1.3 s, Adams2019
//     more than 9 minutes instead of 25-45 s).
struct AutoscheduleForm {
    bool opaque_indices = false;
    bool one_func_per_value = false;
};

inline AutoscheduleForm autoschedule_form(bool using_autoscheduler, const Halide::Target &target) {
    return {using_autoscheduler, using_autoscheduler && target.has_gpu_feature()};
}

// Moves every non-constant Expr that `slots` points to into one Func over `point` (one tuple
// element each) and replaces it by a load from there, so that the Func's schedule decides where
// the per-point math is computed. Flags are stored as uint8 (Funcs hold no bool elements), and
// tap indices come back with unsafe_promise_clamped to their [min, max] range (they were clamped
// when computed), which keeps Halide's bounds inference on stores and loads through them exact.
// Returns the Func (undefined when there is nothing to store). `form`: AutoscheduleForm above.
struct IndexRange {
    Expr *slot;
    Expr max;  // the index is in [min, max]
    int min = 0;
    // Stored opaque (as AutoscheduleForm::opaque_indices) in every form. Halide 21 clamps every
    // load of a Func value that indexes another Func to the bounds it derives for the value
    // (lowering pass "clamping unsafe data-dependent accesses"), a min, a max and their
    // conversions per tap and vector of channels where the index is a plain load; the promise
    // alone costs nothing.
    bool opaque = false;
};

inline Halide::Func materialize(const std::string &name, std::vector<Expr *> slots,
                                const std::vector<IndexRange> &indices,
                                const std::vector<Halide::Var> &point,
                                const AutoscheduleForm &form = {}) {
    using namespace Halide;
    std::vector<Expr *> stored;
    for (Expr *e : slots) {
        if (e->defined() && !Internal::is_const(*e)) stored.push_back(e);
    }
    if (stored.empty()) return Func();
    // The index range of a stored Expr, or nullptr if it is not a tap index.
    auto range_of = [&](const Expr *e) -> const IndexRange * {
        for (const IndexRange &ir : indices) {
            if (ir.slot == e) return &ir;
        }
        return nullptr;
    };
    auto opaque = [&](const Expr *e) {
        const IndexRange *ir = range_of(e);
        return ir != nullptr && (form.opaque_indices || ir->opaque);
    };
    std::vector<Expr> values;
    for (Expr *e : stored) {
        values.push_back(e->type().is_bool() ? cast<uint8_t>(*e)
                         : opaque(e)          ? reinterpret(UInt(32), *e)
                                              : *e);
    }
    std::vector<Expr> args(point.begin(), point.end());
    std::vector<Func> funcs;
    if (form.one_func_per_value) {
        for (size_t i = 0; i < values.size(); i++) {
            funcs.emplace_back(name + "_" + std::to_string(i));
            funcs.back()(args) = values[i];
        }
    } else {
        funcs.emplace_back(name);
        funcs.back()(args) = values.size() == 1 ? Tuple(values[0]) : Tuple(values);
    }
    for (size_t i = 0; i < stored.size(); i++) {
        Expr loaded = form.one_func_per_value ? Expr(funcs[i](args))
                      : values.size() == 1      ? Expr(funcs[0](args))
                                                : Expr(funcs[0](args)[i]);
        if (stored[i]->type().is_bool()) loaded = loaded != 0;
        if (opaque(stored[i])) loaded = reinterpret(Int(32), loaded);
        if (const IndexRange *ir = range_of(stored[i])) {
            loaded = unsafe_promise_clamped(loaded, ir->min, ir->max);
        }
        *stored[i] = loaded;
    }
    return funcs[0];
}

// The number of channels the backward kernels process as the lanes of one vector (V): the
// target's natural vector width for `t`, at most 8. Both kernels transpose between planar
// tensors and blocks of V channels; LLVM turns a V x V transpose into about V^2 / 2 two-source
// permutes, so 16 float32 lanes (AVX-512) cost more in transposes than they save in arithmetic.
// Measured on the feat workload (8x64x128x128 float32, bilinear zeros, one thread of a Xeon
// Sapphire Rapids VM, Halide profiler on): grad_grid 20.8 ms with V = 16, 13.5 ms with V = 8;
// grad_input 32 ms -> 23 ms (before its per-row allocations were removed).
inline int channel_block(const Halide::Target &target, const Type &t) {
    return std::min(target.natural_vector_size(t), 8);
}

// The backward kernels keep channel blocks in scratch buffers padded by one slot past the end
// of every spatial axis (index S). A tap that is out of range on an axis (zeros padding) is sent
// to that slot: a gather reads 0 there and a scatter's contribution lands there and is dropped,
// so the inner loops need no per-tap test. Afterwards every tap counts as in range.
inline void send_out_of_range_taps_to_slot(AxisTaps &at, const Expr &size) {
    for (size_t j = 0; j < at.index.size(); j++) {
        if (!Halide::Internal::is_const_one(at.in_range[j])) {
            at.index[j] = Halide::select(at.in_range[j], at.index[j], size);
        }
        at.in_range[j] = always();
    }
}

}  // namespace gridsample_gen
