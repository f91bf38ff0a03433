// Deterministic scatter-adds on devices whose threads add into shared memory at once (GPUs): the
// contributions are summed as 64-bit integers in a fixed-point format chosen per call, with
// integer atomic adds. Integer addition is associative, so the sum, and the result, are bit for
// bit the same whatever order the threads run in (SEMANTICS.md S13); float atomics are not.
//
// The format: every contribution v is rounded to the nearest multiple of 2^-e, i.e. stored as
// round(v * 2^e), and each sum is converted back once at the end (cast to float, times 2^-e:
// exact). e is chosen per call from a bound on every sum, so that no sum can overflow:
//   |sum| <= (number of contributions of one point, summed weights <= 2) x M x P
// where M = max |grad_output| over the call and P the output points of one batch item, each point
// adding into the planes of its own batch item. With 2^E_M > M and 2^E_P >= P,
//   e = 60 - E_M - E_P - 1  gives  |sum| x 2^e < 2^60 (room for the roundings) < 2^63.
// Precision (S11): each contribution is off by at most 2^-(e+1) <= 2^(E_M + E_P - 60); an element
// that receives K contributions is off by at most K times that. For the 8x64x128x128 feature map
// (P = 2^14) that is 2^-45 M per contribution: far below float32's own rounding (2^-24 M) and
// within float64's S11 bound (1e-10 of the largest gradient) for any K below ~2^12.
// e is clamped to the exponents the dtype can scale by exactly ([-126, 126] for float32,
// [-1022, 1022] for float64): an all-tiny grad_output (M < 2^-100 or so) keeps the resolution of
// 2^-126 (float32) instead of overflowing the scale. A non-finite grad_output gives unspecified
// (but finite-time, in-bounds) results.
//
// M comes from a reduction over grad_output's magnitude bits (for non-negative floats the
// integer order of the bits is the order of the values, so an integer max finds it exactly),
// in three levels so that each is parallel and short: kMaxPartials partial maxima (each over a
// strided set of rows), kMaxLevel2 maxima of kMaxPartials / kMaxLevel2 partials each, and the
// final one. Only M's exponent field is used, so for float64 the maximum is taken over the upper
// 32 bits of the magnitudes (exponent and the top of the mantissa): the maximum of the upper
// halves is the upper half of the maximum, the same exponent. Every reduction stays 32-bit, which
// every GPU's atomics have (an autoscheduler may merge partial maxima with atomics, and Halide 21
// writes a 64-bit one for OpenCL as `atomic_cmpxchg` on `long *`, which OpenCL lacks).
#pragma once

#include "Halide.h"
#include "algorithm/sampling_math.h"

#include <functional>
#include <string>
#include <vector>

namespace gridsample_gen {

inline constexpr int kMaxPartials = 4096;
inline constexpr int kMaxLevel2 = 64;
inline constexpr int kMaxLevel3Parts = 2;  // max_bits' elements under an autoscheduler (below)

struct FixedPoint {
    Halide::Type t;                 // the float type converted from and to
    Halide::Func partial, level2, max_bits;  // the reduction stages (scheduled by the caller)
    Halide::Var p{"p"};             // the pure variable of partial and level2
    Expr exponent;                  // e
    Expr to_fixed(const Expr &v) const;
    Expr from_fixed(const Expr &sum) const;
};

// value(coords) is the tensor whose largest magnitude bounds the contributions (grad_output),
// with extents[0] (x) innermost; points is P.
// The bit length of an unsigned 32-bit value, 32 - count_leading_zeros(v), by a binary search
// of selects: the same integer on every target. Halide 21's OpenCL code generator writes
// count_leading_zeros as a call to halide_count_leading_zeros, a helper its C backend defines and
// OpenCL C does not have; PoCL refused such programs ("use of undeclared identifier
// 'halide_count_leading_zeros'"). The hand schedules compute the scale on the host, where the
// intrinsic is fine; an autoscheduler may put it in a GPU kernel (Mullapudi2016's GPU mode did).
// No upstream issue matches.
inline Expr bit_length(Expr v) {
    using namespace Halide;
    Expr length = 0;
    for (int shift : {16, 8, 4, 2, 1}) {
        Expr step = select(v >= cast(v.type(), 1 << shift), shift, 0);
        v = v >> cast(v.type(), step);
        length = length + step;
    }
    return length + select(v >= cast(v.type(), 1), 1, 0);  // v is 0 or 1 here
}

// for_autoscheduler: the two forms the autoschedulers need (the results are the same):
//  - max_bits is a Func of kMaxLevel3Parts elements, the maxima of as many parts of level2, and
//    M's bits their maximum (the same value, max being exact in any grouping), instead of a
//    scalar Func. Anderson2021 fails an internal assertion on a scalar Func computed at root
//    ("Condition failed: at_or_inside_block()", GPULoopInfo.cpp: it featurizes every root stage
//    as if inside a GPU block, and does not tile a scalar Func into one), and another on a Func
//    of one element ("zero parallel tilings");
//  - E_P through bit_length() rather than count_leading_zeros (above).
// The hand schedules keep the scalar and the intrinsic.
inline FixedPoint fixed_point_for(const std::function<Expr(const std::vector<Expr> &)> &value,
                                  const std::vector<Expr> &extents, const Expr &points,
                                  Halide::Type t, bool for_autoscheduler = false) {
    using namespace Halide;
    FixedPoint f;
    f.t = t;
    const int bits = t.bits();
    const Type u = UInt(32);
    // The magnitude's bits, or their upper 32 (float64, see above).
    auto magnitude = [&](const Expr &v) {
        return bits == 64 ? cast(u, magnitude_bits(v) >> 32) : magnitude_bits(v);
    };
    Expr rows = 1;
    for (size_t k = 1; k < extents.size(); k++) rows = rows * extents[k];
    // partial(p): the rows p, p + kMaxPartials, ... (all of their x), so that neighbouring
    // threads read neighbouring rows.
    RDom r(0, (rows + (kMaxPartials - 1)) / kMaxPartials, 0, extents[0], "max_rows");
    Expr row = f.p + r.x * kMaxPartials;
    std::vector<Expr> coords{r.y};
    Expr rest = Halide::min(row, rows - 1);
    for (size_t k = 1; k < extents.size(); k++) {
        coords.push_back(rest % extents[k]);
        rest = rest / extents[k];
    }
    // Inline reductions (maximum), so that each level is one loop inside its own kernel.
    f.partial = Func("max_bits_partial");
    f.partial(f.p) = maximum(select(row < rows, magnitude(value(coords)), cast(u, 0)));
    const int per_level2 = kMaxPartials / kMaxLevel2;
    RDom r2(0, per_level2, "max_level2");
    f.level2 = Func("max_bits_level2");
    f.level2(f.p) = maximum(f.partial(f.p * per_level2 + r2));
    f.max_bits = Func("max_bits");
    Expr max_bits;
    if (for_autoscheduler) {  // max_bits of kMaxLevel3Parts elements (above)
        constexpr int per_part = kMaxLevel2 / kMaxLevel3Parts;
        Var q("q");
        RDom r3(0, per_part, "max_level3");
        f.max_bits(q) = cast(u, 0);
        f.max_bits(q) = Halide::max(f.max_bits(q), f.level2(q * per_part + r3));
        max_bits = f.max_bits(0);
        for (int i = 1; i < kMaxLevel3Parts; i++) max_bits = Halide::max(max_bits, f.max_bits(i));
    } else {
        RDom r3(0, kMaxLevel2, "max_level3");
        f.max_bits() = maximum(f.level2(r3));
        max_bits = f.max_bits();
    }

    // 2^E_M > M: the exponent field of M's bits, minus the bias, plus one (denormals and 0 give
    // the smallest normal exponent, still a bound).
    const int mantissa_in_max = bits == 64 ? 52 - 32 : 23;
    const int bias = bits == 64 ? 1023 : 127;
    Expr e_m = cast<int>(max_bits >> mantissa_in_max) - (bias - 1);
    // 2^E_P >= P: ceil(log2(P)) = 32 - clz(P - 1) for P >= 1.
    const Expr p_minus_1 = cast<uint32_t>(Halide::max(points, 1) - 1);
    Expr e_p = for_autoscheduler ? bit_length(p_minus_1) : 32 - count_leading_zeros(p_minus_1);
    f.exponent = clamp(60 - e_m - e_p - 1, -(bias - 1), bias - 1);
    return f;
}

// 2^k for an integer k within the normal exponents of t, exactly.
inline Expr power_of_two(Halide::Type t, const Expr &k) {
    const int bits = t.bits();
    const int mantissa = bits == 64 ? 52 : 23;
    const int bias = bits == 64 ? 1023 : 127;
    return Halide::reinterpret(t, Halide::cast(Halide::UInt(bits), k + bias) << mantissa);
}

inline Expr FixedPoint::to_fixed(const Expr &v) const {
    return Halide::cast<int64_t>(Halide::round(v * power_of_two(t, exponent)));
}

inline Expr FixedPoint::from_fixed(const Expr &sum) const {
    return Halide::cast(t, sum) * power_of_two(t, -exponent);
}

}  // namespace gridsample_gen
