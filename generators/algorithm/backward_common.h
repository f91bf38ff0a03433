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

// Moves every non-constant Expr that `slots` points to into one Func over `point` (one tuple
// element each) and replaces it by a load from there, so that the Func's schedule decides where
// the per-point math is computed. Flags are stored as uint8 (Funcs hold no bool elements), and
// tap indices come back with unsafe_promise_clamped to their [0, S-1] range (they were clamped
// when computed), which keeps Halide's bounds inference on stores and loads through them exact.
// Returns the Func (undefined when there is nothing to store).
struct IndexRange {
    Expr *slot;
    Expr max;  // the index is in [0, max]
};

inline Halide::Func materialize(const std::string &name, std::vector<Expr *> slots,
                                const std::vector<IndexRange> &indices,
                                const std::vector<Halide::Var> &point) {
    using namespace Halide;
    std::vector<Expr *> stored;
    for (Expr *e : slots) {
        if (e->defined() && !Internal::is_const(*e)) stored.push_back(e);
    }
    if (stored.empty()) return Func();
    std::vector<Expr> values;
    for (Expr *e : stored) values.push_back(e->type().is_bool() ? cast<uint8_t>(*e) : *e);
    Func f(name);
    std::vector<Expr> args(point.begin(), point.end());
    f(args) = values.size() == 1 ? Tuple(values[0]) : Tuple(values);
    for (size_t i = 0; i < stored.size(); i++) {
        Expr loaded = values.size() == 1 ? Expr(f(args)) : Expr(f(args)[i]);
        if (stored[i]->type().is_bool()) loaded = loaded != 0;
        for (const IndexRange &ir : indices) {
            if (ir.slot == stored[i]) loaded = unsafe_promise_clamped(loaded, 0, ir.max);
        }
        *stored[i] = loaded;
    }
    return f;
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
