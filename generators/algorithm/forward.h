// The forward grid_sample algorithm (SEMANTICS.md S1-S7), shared by the generators that differ
// only in where the grid comes from: grid_sample (a grid buffer) and affine_grid_sample (a grid
// computed from theta, never stored).
//
// The algorithm is stated with the helpers of sampling_math.h; the schedules live in
// cpu/forward_schedule.h and gpu/forward_schedule.h and never touch the math.
#pragma once

#include "Halide.h"
#include "algorithm/backward_common.h"
#include "algorithm/sampling_math.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

namespace gridsample_gen {

struct Forward {
    std::vector<Halide::Var> space;  // output x, y, [z]
    Interpolation mode;
    Halide::Var c{"c"}, n{"n"};
    std::vector<Halide::Var> point;  // space..., n: the arguments of per-point Funcs
    Halide::Func taps;   // per output point: every tap's index, in-range flag, weight
    // Where `use_channels_last` holds (all three undefined when define_forward() was given no
    // condition), the output is `samples_channels_last`: the same samples, with the channels as
    // the innermost dimension, (c, space..., n), read from `channels_last`, the input with the
    // channels innermost. The same values in other layouts, which the schedule may materialize:
    // a tap then loads the neighbouring channels of a point with one vector load.
    // `input_rows` is the input itself, (space..., c, n), a stage the copy may stage blocks in.
    Halide::Func channels_last, samples_channels_last, input_rows;
    // The taps `samples_channels_last` reads, its indices and the weights, per output point:
    // apart from `taps`, so that a tile of the channels-last path computes and stores only what
    // it reads (the planar indices and in-range flags are 9 of trilinear's 21 values a point).
    Halide::Func taps_channels_last;
    Expr use_channels_last;
    Expr value;          // the output value at (space..., c, n), reading `taps`
    // The taps buffers holding the tap indices along x and along y ("taps.0", ...: tuple
    // components of `taps`), for the lowering passes.
    std::vector<std::string> x_index_taps, y_index_taps;
};

// The name of the taps buffer an Expr loads from ("taps.3": tuple component 3), or "" if none.
inline std::string taps_component(const Expr &e) {
    struct Find : Halide::Internal::IRVisitor {
        std::string name;
        using IRVisitor::visit;
        void visit(const Halide::Internal::Call *op) override {
            IRVisitor::visit(op);
            if (op->call_type == Halide::Internal::Call::Halide && op->name == "taps") {
                name = op->name + "." + std::to_string(op->value_index);
            }
        }
    } find;
    e.accept(&find);
    return find.name;
}

// input_at(indices, c, n): the input at integer indices inside it (or the same values in another
// layout).
using InputAt =
    std::function<Expr(const std::vector<Expr> &, const Halide::Var &, const Halide::Var &)>;

// grid_component(k, point) is component k (0 = x, 1 = y, 2 = z) of the grid at an output point;
// input_at(indices, c, n) loads the input at integer indices that are inside the input. Where
// `use_channels_last` (if defined) holds, the output is Forward::samples_channels_last.
// form: see AutoscheduleForm (backward_common.h). finite_input: every input element is finite
// (uint8 images, S10), which lets out-of-range taps weigh 0 instead of reading 0 (below).
// float_remainder: Axis::float_remainder (sampling_math.h), for CPU targets.
inline Forward define_forward(
    int dims, Interpolation mode, Padding padding, Type t, const Expr &align_corners,
    const std::vector<Expr> &input_sizes,
    const std::function<Expr(int, const std::vector<Halide::Var> &)> &grid_component,
    const InputAt &direct_input_at,
    const Expr &use_channels_last = Expr(), const AutoscheduleForm &form = {},
    bool finite_input = false, bool float_remainder = false) {
    using namespace Halide;
    Forward f;
    f.mode = mode;
    for (int k = 0; k < dims; k++) f.space.push_back(Var("s" + std::to_string(k)));
    f.point = f.space;
    f.point.push_back(f.n);
    // (c, space..., n): the arguments of the channels-last Funcs.
    std::vector<Expr> channels_first_args{f.c};
    channels_first_args.insert(channels_first_args.end(), f.space.begin(), f.space.end());
    channels_first_args.push_back(f.n);

    // The taps of each axis (S4 bilinear/trilinear: 2, S5 nearest: 1, S6 bicubic: 4).
    std::vector<AxisTaps> taps_of;
    std::vector<Axis> axes;
    for (int k = 0; k < dims; k++) {
        axes.push_back(make_axis(t, input_sizes[k], align_corners, float_remainder));
        taps_of.push_back(
            axis_taps(grid_component(k, f.point), axes[k], mode, padding, align_corners));
    }
    // Finite inputs (uint8): an out-of-range tap (S4, S6) gets weight 0 and reads its clamped
    // in-range index, rather than reading 0 through a select per tap and channel. A term is then
    // 0 x v = 0 where it was w x 0 = 0, with the same magnitude everywhere (only the sign of a
    // zero can differ, which a uint8 result does not keep), and the sampling loop loads no
    // in-range flags. Bilinear/trilinear products of weights and bicubic rows alike: a weight
    // of 0 on one axis zeroes the term. Nearest has no weights and keeps its select.
    if (finite_input && mode != Interpolation::nearest) {
        for (AxisTaps &at : taps_of) {
            for (size_t j = 0; j < at.index.size(); j++) {
                at.weight[j] = select(at.in_range[j], at.weight[j], constant(t, 0));
                at.in_range[j] = always();
            }
        }
    }
    // The channels-last copy, where the output samples it. Where a tap can be out of range (zeros
    // padding; the upper bilinear/trilinear tap with any padding), the copy has a border of zeros
    // at index -1 of every spatial axis, and the channels-last taps of such an axis are stored
    // as -1 where they are out of range: a tap reads +0 from the border, the value the planar
    // path selects after its load (S4, S6), without a mask per tap and vector of channels.
    // These indices are stored opaque (IndexRange::opaque), which saves Halide's clamp of every
    // load. The sampling loop per point and vector of channels, AVX2, float32: bicubic zeros
    // 305 instructions before, 107 after; bicubic border 148, 95; trilinear border 186, 96.
    bool bordered = false;
    if (use_channels_last.defined()) {
        for (const AxisTaps &at : taps_of) {
            for (const Expr &e : at.in_range) bordered = bordered || !Internal::is_const_one(e);
        }
        f.channels_last = Func("channels_last");
        f.samples_channels_last = Func("samples_channels_last");
        f.use_channels_last = use_channels_last;
        std::vector<Expr> planar_args(f.space.begin(), f.space.end()), inner = planar_args;
        planar_args.push_back(f.c);
        planar_args.push_back(f.n);
        Expr inside = always();
        if (bordered) {
            for (int k = 0; k < dims; k++) {
                inside = inside && f.space[k] >= 0;
                inner[k] = max(f.space[k], 0);
            }
        }
        f.input_rows = Func("input_rows");
        f.input_rows(planar_args) = direct_input_at(inner, f.c, f.n);
        f.channels_last(channels_first_args) =
            bordered ? select(inside, f.input_rows(planar_args), constant(t, 0))
                     : f.input_rows(planar_args);
    }
    // The taps the channels-last path reads: its own indices (-1 out of range where bordered),
    // always in range, and the weights (stored apart from the planar path's, see
    // Forward::taps_channels_last).
    std::vector<AxisTaps> channels_last_taps = taps_of;
    if (bordered) {
        for (AxisTaps &at : channels_last_taps) {
            for (size_t j = 0; j < at.index.size(); j++) {
                at.index[j] = select(at.in_range[j], at.index[j], -1);
                at.in_range[j] = always();
            }
        }
    }
    // The output from the taps, which are stored once per point in `taps` below and reused by
    // every channel.
    auto sample = [&](const std::vector<AxisTaps> &taps_of, const InputAt &input_at) {
        auto add = [](const Expr &sum, const Expr &term) { return sum.defined() ? sum + term : term; };
        Expr value;
        if (mode == Interpolation::bicubic) {
            // Separable: rows along x first, then along y (S6), as PyTorch does.
            const AxisTaps &tx = taps_of[0], &ty = taps_of[1];
            for (size_t jy = 0; jy < ty.index.size(); jy++) {
                Expr row;
                for (size_t jx = 0; jx < tx.index.size(); jx++) {
                    Expr v = select(tx.in_range[jx] && ty.in_range[jy],
                                    input_at({tx.index[jx], ty.index[jy]}, f.c, f.n), constant(t, 0));
                    row = add(row, tx.weight[jx] * v);
                }
                value = add(value, ty.weight[jy] * row);
            }
            return value;
        }
        // Bilinear/trilinear: the 2^d corners, weight = the product of the 1-D weights (S4).
        // Nearest: the single rounded tap (S5), weight 1.
        const int per_axis = static_cast<int>(taps_of[0].index.size());
        const int corners = 1 << (dims * (per_axis - 1));
        for (int corner = 0; corner < corners; corner++) {
            std::vector<Expr> idx;
            Expr in_range = always();
            Expr weight;
            for (int k = 0; k < dims; k++) {
                const int j = per_axis == 1 ? 0 : (corner >> k) & 1;
                idx.push_back(taps_of[k].index[j]);
                in_range = in_range && taps_of[k].in_range[j];
                if (mode == Interpolation::bilinear) {
                    weight = weight.defined() ? weight * taps_of[k].weight[j] : taps_of[k].weight[j];
                }
            }
            Expr v = select(in_range, input_at(idx, f.c, f.n), constant(t, 0));
            value = add(value, weight.defined() ? weight * v : v);
        }
        return value;
    };

    std::vector<Expr *> slots;
    std::vector<IndexRange> indices;
    for (int k = 0; k < dims; k++) {
        AxisTaps &at = taps_of[k];
        for (auto *list : {&at.index, &at.in_range, &at.weight}) {
            for (Expr &e : *list) slots.push_back(&e);
        }
        for (Expr &e : at.index) indices.push_back({&e, axes[k].size - 1});
    }
    f.taps = materialize("taps", slots, indices, f.point, form);
    if (use_channels_last.defined()) {
        std::vector<Expr *> cl_slots;
        std::vector<IndexRange> cl_indices;
        for (int k = 0; k < dims; k++) {
            AxisTaps &at = channels_last_taps[k];
            for (Expr &e : at.index) {
                cl_slots.push_back(&e);
                cl_indices.push_back({&e, axes[k].size - 1, bordered ? -1 : 0, /*opaque=*/true});
            }
            for (Expr &e : at.weight) cl_slots.push_back(&e);
        }
        f.taps_channels_last = materialize("taps_cl", cl_slots, cl_indices, f.point, form);
    }
    for (int k = 0; k < std::min(dims, 2); k++) {
        for (const Expr &e : taps_of[k].index) {
            (k == 0 ? f.x_index_taps : f.y_index_taps).push_back(taps_component(e));
        }
    }
    // Strict: the weighted sum is evaluated as written, without fused multiply-adds, so every
    // kernel that samples (grid_sample, affine_grid_sample) and every CPU variant (with or
    // without FMA) returns the same bits.
    f.value = strict_float(sample(taps_of, direct_input_at));
    if (use_channels_last.defined()) {
        auto channels_last_at = [&f](const std::vector<Expr> &idx, const Var &c, const Var &n) {
            std::vector<Expr> args{c};
            args.insert(args.end(), idx.begin(), idx.end());
            args.push_back(n);
            return Expr(f.channels_last(args));
        };
        f.samples_channels_last(channels_first_args) =
            strict_float(sample(channels_last_taps, channels_last_at));
        f.value = select(use_channels_last, f.samples_channels_last(channels_first_args), f.value);
    }
    return f;
}

}  // namespace gridsample_gen
