// The sampling math of grid_sample, written once as Halide Expr helpers and shared by every
// generator (forward now, backward and GPU schedules later). Nothing here schedules anything.
//
// Section numbers (S2..S7) refer to SEMANTICS.md. All coordinate math is wrapped in strict_float:
// Halide otherwise compiles float ops with fast-math flags that let LLVM assume no NaN or inf,
// and the non-finite policy of S7 depends on comparing exactly those values.
#pragma once

#include "Halide.h"

#include <array>
#include <vector>

namespace gridsample_gen {

using Halide::Expr;
using Halide::Type;

enum class Interpolation { bilinear, nearest, bicubic };
enum class Padding { zeros, border, reflection };

// Keys cubic convolution constant (S6), the same as PyTorch and OpenCV.
inline constexpr double kCubicA = -0.75;

// Bicubic centres beyond this magnitude cannot safely become integer indices and are treated
// like the infinity of their sign (S7).
inline constexpr double kMaxCubicCentre = 1073741824.0;  // 2^30

inline Expr constant(Type t, double v) { return Halide::cast(t, Expr(v)); }
// A boolean true (Expr(true) would be an int).
inline Expr always() { return Halide::Internal::const_true(); }

// Scalar constants of one spatial axis of the input, shared by every output point of a call.
struct Axis {
    Type t;             // computation type (float32 or float64)
    Expr size;          // S, int32, >= 1
    Expr last;          // S - 1 in t
    Expr scale;         // dx/dg (S2): (S-1)/2 if align_corners, else S/2
    Expr shift;         // x = (g + 1) * scale - shift: 0 if align_corners, else 1/2
    Expr reflect_lo;    // S3 bounds: [0, S-1] if align_corners, else [-1/2, S-1/2]
    Expr reflect_span;  // hi - lo: S-1 or S
    // How reflect_index() takes a remainder: integer (%), or through float64 (vector code has no
    // integer division: a scalar division per lane). Same results.
    bool float_remainder = false;
};

// float_remainder: see Axis (the CPU kernels set it; GPUs keep the integer remainder, whose
// float64 route would run at a fraction of the float32 rate on most GPUs).
inline Axis make_axis(Type t, const Expr &size, const Expr &align_corners,
                      bool float_remainder = false) {
    Axis a;
    a.t = t;
    a.size = size;
    a.float_remainder = float_remainder;
    Expr s = Halide::cast(t, size);
    a.last = s - constant(t, 1);
    a.scale = Halide::select(align_corners, a.last, s) * constant(t, 0.5);
    a.shift = Halide::select(align_corners, constant(t, 0), constant(t, 0.5));
    a.reflect_lo = -a.shift;
    a.reflect_span = Halide::select(align_corners, a.last, s);
    return a;
}

// NaN and infinity tests on the bits of a float (S7, S13). Halide's GPU code generators compile
// every float operation assuming no NaN and no infinity (PTX: LLVM's NoNaNsFPMath and NoInfsFPMath,
// which let it fold is_nan() to false), so the tests the S7 policy rests on compare integer bits
// instead: exponent all ones, with a zero (infinity) or non-zero (NaN) mantissa. The same bits on
// every backend.
inline Expr magnitude_bits(const Expr &x) {
    const int bits = x.type().bits();
    Halide::Type u = Halide::UInt(bits);
    Expr sign = Halide::cast(u, 1) << (bits - 1);
    return Halide::reinterpret(u, x) & ~sign;
}
inline Expr infinity_bits(const Halide::Type &t) {
    return t.bits() == 64 ? Halide::cast(Halide::UInt(64), Expr(uint64_t{0x7ff0000000000000}))
                          : Halide::cast(Halide::UInt(32), Expr(uint32_t{0x7f800000}));
}
inline Expr is_nan_bits(const Expr &x) { return magnitude_bits(x) > infinity_bits(x.type()); }
inline Expr is_inf_bits(const Expr &x) { return magnitude_bits(x) == infinity_bits(x.type()); }

// S7: a NaN grid component reads as -1.
inline Expr sanitize_nan(const Expr &g) {
    return Halide::select(is_nan_bits(g), constant(g.type(), -1), g);
}

// S2. Equal, bit for bit, to the textual formulas (g + 1) / 2 * (S - 1) and ((g + 1) * S - 1) / 2,
// because halving is exact. Never NaN: an infinite g gives an infinite x, except that a zero
// scale (S = 1 with align_corners) maps every g, infinite included, to 0.
inline Expr unnormalize(const Expr &g, const Axis &a) {
    Expr x = (sanitize_nan(g) + constant(a.t, 1)) * a.scale - a.shift;
    return Halide::strict_float(Halide::select(a.scale == constant(a.t, 0), constant(a.t, 0), x));
}

// S3: reflect a finite coordinate into [lo, lo + span] (not yet clipped).
inline Expr reflect(const Expr &x, const Axis &a) {
    Type t = a.t;
    Expr d = Halide::abs(x - a.reflect_lo);
    Expr flips = Halide::floor(d / a.reflect_span);
    Expr extra = d - flips * a.reflect_span;
    Expr half = flips * constant(t, 0.5);
    Expr odd = Halide::floor(half) != half;
    Expr r = Halide::select(odd, a.reflect_lo + a.reflect_span - extra, a.reflect_lo + extra);
    return Halide::select(a.reflect_span == constant(t, 0), constant(t, 0), r);
}

// S3 + S7 for the continuous coordinate of bilinear/trilinear and nearest. The result is finite
// and bounded, so it can become an integer index:
//   zeros:      clamped to [-2, S+1]. Every tap of a coordinate outside that range is out of range
//               anyway (bilinear and nearest), so results are unchanged; +-inf land at the ends.
//   border:     clip to [0, S-1]; +-inf go to the nearest edge.
//   reflection: reflect, then clip; +-inf give 0 (S7).
inline Expr pad_coordinate(const Expr &x, const Axis &a, Padding padding) {
    Type t = a.t;
    Expr zero = constant(t, 0);
    switch (padding) {
    case Padding::zeros:
        return Halide::strict_float(Halide::clamp(x, constant(t, -2), a.last + constant(t, 2)));
    case Padding::border:
        return Halide::strict_float(Halide::clamp(x, zero, a.last));
    case Padding::reflection:
    default:
        return Halide::strict_float(
            Halide::select(is_inf_bits(x), zero, Halide::clamp(reflect(x, a), zero, a.last)));
    }
}

// S6 + S7 for the bicubic centre (padding is not applied to it). The result is finite and small
// enough for integer taps:
//   zeros, border: clamped to [-3, S+2]. Beyond it all four taps are out of range (zeros) or clip
//                  to the same edge pixel with weights (0, 1, 0, 0) (border), so nothing changes
//                  except that +-inf and huge values become usable.
//   reflection:    +-inf and |x| > 2^30 become 0 (S7); the taps are reflected one by one.
inline Expr bicubic_centre(const Expr &x, const Axis &a, Padding padding) {
    Type t = a.t;
    if (padding == Padding::reflection) {
        return Halide::strict_float(
            Halide::select(Halide::abs(x) <= constant(t, kMaxCubicCentre), x, constant(t, 0)));
    }
    return Halide::strict_float(Halide::clamp(x, constant(t, -3), a.last + constant(t, 3)));
}

// An integer tap index after padding: the index to load (always inside [0, S-1]) and whether the
// tap is in range (false only for zeros padding, where it then contributes 0).
struct Tap {
    Expr index;
    Expr in_range;
};

// The Euclidean remainder of i by p (|i| < 2^31, 1 <= p < 2^30, p the same for every lane):
// Halide's %, or (in_float) through float64, where i and p are exact and the quotient
// floor(i x (1/p)) is within 1 of floor(i / p) (two roundings, relative error under 2^-52, on a
// quotient under 2^31), so one correction each way makes the remainder exact. In vector code %
// by a value known only at run time is a scalar division per lane (x86 `idiv`, 16 per AVX-512
// vector); bicubic reflection 8x64x128x128, avx512_gather level, the kernel through the bench:
// see reflect_index().
inline Expr euclidean_remainder(const Expr &i, const Expr &p, bool in_float) {
    if (!in_float) return i % p;
    Expr fi = Halide::cast<double>(i), fp = Halide::cast<double>(p);
    Expr q = Halide::floor(fi * (Expr(1.0) / fp));
    Expr r = Halide::cast<int>(fi - q * fp);  // exact: integers under 2^33 in magnitude
    r = Halide::select(r < 0, r + p, r);
    return Halide::select(r >= p, r - p, r);
}

// S3 on the integer tap i0 + d (|i0| < 2^31 - S, d in [-1, 2]): whole-sample reflection about
// [0, S-1] with align_corners, half-sample reflection about [-1/2, S-1/2] without. Exactly what
// the float formula gives for integer inputs. The reflection has period P (2(S-1), 2S) and is
// even, so it is a fold of (i0 + d) mod P, which is i0 mod P (Euclidean) plus d brought back into
// [0, P) by one addition or subtraction (P >= 2 where it is used). The remainder of i0 is the
// same Expr for every tap of a point, and P is chosen by align_corners before it is taken: one
// remainder per point and axis (before, one per tap, then one per period: two per point and
// axis, each a scalar division per lane in vector code). 8x64x128x128 bicubic reflection,
// avx512_gather level, the kernel alone, ms at 1 / 2 threads: two integer remainders 14.7-15.5
// / 7.6-8.3, one through float64 (Axis::float_remainder) 12.2-12.4 / 6.0.
inline Expr reflect_index(const Expr &i0, int d, const Axis &a, const Expr &align_corners) {
    const Expr &size = a.size;
    Expr period_ac = 2 * (size - 1);
    Expr period = Halide::select(align_corners, Halide::max(period_ac, 1), 2 * size);
    Expr r = euclidean_remainder(i0, period, a.float_remainder) + d;  // in [-1, P + 1]
    r = Halide::select(r < 0, r + period, r);
    r = Halide::select(r >= period, r - period, r);
    Expr r_ac = Halide::select(period_ac == 0, 0, r);
    r_ac = Halide::select(r_ac >= size, period_ac - r_ac, r_ac);
    Expr r_half = Halide::select(r >= size, 2 * size - 1 - r, r);
    return Halide::select(align_corners, r_ac, r_half);
}

// Padding of the integer tap i0 + d (S4 bounds check for zeros, S6 per-tap border/reflection).
inline Tap pad_tap(const Expr &i0, int d, const Axis &a, Padding padding,
                   const Expr &align_corners) {
    Expr hi = a.size - 1;
    Expr i = d == 0 ? i0 : i0 + d;
    switch (padding) {
    case Padding::zeros:
        return {Halide::clamp(i, 0, hi), i >= 0 && i <= hi};
    case Padding::border:
        return {Halide::clamp(i, 0, hi), always()};
    case Padding::reflection:
    default:
        return {Halide::clamp(reflect_index(i0, d, a, align_corners), 0, hi),
                always()};
    }
}

// Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 from floor(x), t = x - floor(x).
inline std::array<Expr, 4> cubic_weights(const Expr &t) {
    Type ty = t.type();
    Expr A = constant(ty, kCubicA);
    Expr one = constant(ty, 1);
    auto k1 = [&](const Expr &d) {  // |d| <= 1
        return ((A + constant(ty, 2)) * d - (A + constant(ty, 3))) * d * d + one;
    };
    auto k2 = [&](const Expr &d) {  // 1 < |d| < 2
        return ((A * d - constant(ty, 5) * A) * d + constant(ty, 8) * A) * d -
               constant(ty, 4) * A;
    };
    // Strict: no fused multiply-adds, so every kernel that computes these weights (grid_sample,
    // the fused affine_grid_sample, the backward) gets them bit for bit alike.
    return {Halide::strict_float(k2(t + one)), Halide::strict_float(k1(t)),
            Halide::strict_float(k1(one - t)), Halide::strict_float(k2(constant(ty, 2) - t))};
}

// ---- affine_grid -------------------------------------------------------------------------------

// The base coordinate at index i of an axis of size S, as PyTorch's affine_grid builds it:
// torch.linspace(-1, 1, S) (the first half filled from the start, the second from the end),
// scaled by (S - 1) / S without align_corners; 0 when S = 1. Strict, so every generator that
// builds a grid from theta computes it bit for bit alike.
inline Expr affine_base_coordinate(const Expr &i, const Expr &size, const Expr &align_corners,
                                   Type t) {
    Expr s = Halide::cast(t, size);
    Expr step = constant(t, 2) / (s - constant(t, 1));
    Expr from_start = constant(t, -1) + step * Halide::cast(t, i);
    Expr from_end = constant(t, 1) - step * Halide::cast(t, size - 1 - i);
    Expr v = Halide::select(i < size / 2, from_start, from_end);
    v = Halide::select(align_corners, v, v * (s - constant(t, 1)) / s);
    return Halide::strict_float(Halide::select(size <= 1, constant(t, 0), v));
}

// One grid component from its row of theta: sum_j theta_j * base_j with base = (x, y, [z,] 1),
// accumulated in j order like PyTorch's bmm. Strict (no fused multiply-adds), so the fused
// affine_grid_sample reads exactly the grid affine_grid writes.
inline Expr affine_component(const std::vector<Expr> &theta_row, const std::vector<Expr> &base) {
    Expr sum;
    for (size_t j = 0; j < base.size(); j++) {
        Expr term = base[j] * theta_row[j];
        sum = sum.defined() ? sum + term : term;
    }
    return Halide::strict_float(sum);
}

// ---- Backward (S9) ---------------------------------------------------------------------------

// Derivatives of cubic_weights with respect to t, for the taps at offsets -1, 0, 1, 2:
// [k2'(t + 1), k1'(t), -k1'(1 - t), -k2'(2 - t)], with k1'(d) = (3(A+2) d - 2(A+3)) d and
// k2'(d) = (3A d - 10A) d + 8A (S6, S9). They sum to 0, as the weights sum to 1.
inline std::array<Expr, 4> cubic_weight_derivatives(const Expr &t) {
    Type ty = t.type();
    Expr A = constant(ty, kCubicA);
    Expr one = constant(ty, 1);
    auto dk1 = [&](const Expr &d) {
        return (constant(ty, 3) * (A + constant(ty, 2)) * d - constant(ty, 2) * (A + constant(ty, 3))) * d;
    };
    auto dk2 = [&](const Expr &d) {
        return (constant(ty, 3) * A * d - constant(ty, 10) * A) * d + constant(ty, 8) * A;
    };
    return {dk2(t + one), dk1(t), -dk1(one - t), -dk2(constant(ty, 2) - t)};
}

// S9: d(padded coordinate) / dg for bilinear/trilinear (the chain factor of one axis, including
// the unnormalization scale), given the unnormalized coordinate x of unnormalize():
//   zeros:      scale. (pad_coordinate's clamp to [-2, S+1] only moves coordinates whose taps
//               are all out of range, where the interpolation derivative is 0 anyway.)
//   border:     scale strictly inside (0, S-1); 0 at or beyond an edge, +-inf included.
//   reflection: scale * sign, where sign is -1 below lo and flips again for an odd number of
//               reflections; 0 when the reflected coordinate r is at or beyond an edge of
//               [0, S-1] (the clip after the reflection), when span == 0, and for +-inf (S7 maps
//               it to the constant coordinate 0). At a fold point itself the reflected
//               coordinate is lo or hi, where the factor is 0 anyway, so implementations that
//               resolve the flip parity of exact ties differently cannot disagree.
// A NaN grid value (S7: read as -1) must be masked by the caller: its gradient is 0 (S9).
inline Expr pad_coordinate_grad(const Expr &x, const Axis &a, Padding padding) {
    Type t = a.t;
    Expr zero = constant(t, 0);
    switch (padding) {
    case Padding::zeros:
        return a.scale;
    case Padding::border:
        return Halide::strict_float(Halide::select(x > zero && x < a.last, a.scale, zero));
    case Padding::reflection:
    default: {
        // The same subexpressions as reflect(), so that Halide computes them once.
        Expr d = Halide::abs(x - a.reflect_lo);
        Expr flips = Halide::floor(d / a.reflect_span);
        Expr half = flips * constant(t, 0.5);
        Expr odd = Halide::floor(half) != half;
        Expr negative = x < a.reflect_lo;
        Expr sign = Halide::select((odd && !negative) || (negative && !odd), constant(t, -1),
                                   constant(t, 1));
        Expr r = reflect(x, a);
        Expr inside = r > zero && r < a.last && a.reflect_span != zero && !is_inf_bits(x);
        return Halide::strict_float(Halide::select(inside, a.scale * sign, zero));
    }
    }
}

// S9 + S7: d(bicubic centre) / dg. The cubic taps carry no padding factor (padding acts on the
// integer taps), so this is the scale wherever bicubic_centre() passes the coordinate through.
// Where it replaces it (reflection: +-inf and |x| > 2^30 become the constant 0; zeros/border:
// the clamp to [-3, S+2], beyond which every tap is out of range or on the same edge pixel and
// the output does not depend on x) the gradient is 0.
inline Expr bicubic_centre_grad(const Expr &x, const Axis &a, Padding padding) {
    Type t = a.t;
    Expr zero = constant(t, 0);
    Expr passed = padding == Padding::reflection
                      ? Halide::abs(x) <= constant(t, kMaxCubicCentre)
                      : x >= constant(t, -3) && x <= a.last + constant(t, 3);
    return Halide::strict_float(Halide::select(passed, a.scale, zero));
}

// The taps of one axis of one output point, as the forward samples them (S4, S5, S6 with S7),
// with what the backward needs besides (S9). Parallel lists, one entry per tap.
struct AxisTaps {
    std::vector<Expr> index;     // int32, always inside [0, S-1] (safe to load or store)
    std::vector<Expr> in_range;  // bool: false only where zeros padding reads 0
    std::vector<Expr> weight;    // the 1-D interpolation weight (1 for nearest)
    std::vector<Expr> dweight;   // d weight / d coordinate (undefined for nearest)
    Expr coordinate_grad;        // d coordinate / dg: the S9 chain factor; 0 for NaN and nearest
};

// g is the grid component of this axis. Every step uses the helpers above, in the forward's
// order, so the taps are bit-identical to the ones the forward samples.
inline AxisTaps axis_taps(const Expr &g, const Axis &a, Interpolation mode, Padding padding,
                          const Expr &align_corners) {
    Type t = a.t;
    AxisTaps at;
    auto add = [&](const Tap &tap, const Expr &w, const Expr &dw) {
        at.index.push_back(tap.index);
        at.in_range.push_back(tap.in_range);
        at.weight.push_back(w);
        at.dweight.push_back(dw);
    };
    Expr x = unnormalize(g, a);
    if (mode == Interpolation::nearest) {
        // S5: round half to even of the padded coordinate; piecewise constant, so no gradient.
        Expr i = Halide::cast<int>(Halide::strict_float(Halide::round(pad_coordinate(x, a, padding))));
        add(pad_tap(i, 0, a, Padding::zeros, align_corners), constant(t, 1), Expr());
        at.coordinate_grad = constant(t, 0);
        return at;
    }
    Expr centre = mode == Interpolation::bilinear ? pad_coordinate(x, a, padding)
                                                  : bicubic_centre(x, a, padding);
    Expr floor_x = Halide::strict_float(Halide::floor(centre));
    Expr frac = Halide::strict_float(centre - floor_x);
    Expr i0 = Halide::cast<int>(floor_x);
    Expr grad;
    if (mode == Interpolation::bilinear) {
        // S4: taps i0 and i0 + 1, weights 1 - t and t; border/reflection keep i0 in range.
        Tap tap0 = pad_tap(i0, 0, a, Padding::zeros, align_corners);
        if (padding != Padding::zeros) tap0.in_range = always();
        add(tap0, constant(t, 1) - frac, constant(t, -1));
        add(pad_tap(i0, 1, a, Padding::zeros, align_corners), frac, constant(t, 1));
        grad = pad_coordinate_grad(x, a, padding);
    } else {
        // S6: padding applies to each of the four integer taps.
        std::array<Expr, 4> w = cubic_weights(frac);
        std::array<Expr, 4> dw = cubic_weight_derivatives(frac);
        for (int j = 0; j < 4; j++) {
            add(pad_tap(i0, j - 1, a, padding, align_corners), w[j], dw[j]);
        }
        grad = bicubic_centre_grad(x, a, padding);
    }
    // S9: a NaN grid component gets gradient 0.
    at.coordinate_grad =
        Halide::strict_float(Halide::select(is_nan_bits(g), constant(t, 0), grad));
    return at;
}

}  // namespace gridsample_gen
