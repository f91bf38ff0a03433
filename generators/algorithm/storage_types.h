// Storage types (SEMANTICS.md S10): how a tensor's elements become the computation type and how a
// result becomes an element again. float32 and float64 tensors compute in their own type; float16,
// bfloat16 and uint8 tensors are storage only, and every kernel computes in float32 ("opmath").
//
//   float16   Halide's Float(16): converted by the target's instructions where it has them (x86
//             F16C, ARM, CUDA), emulated bit by bit elsewhere; OpenCL needs cl_khr_fp16.
//   bfloat16  held as its 16 bits (UInt(16)) and converted here with integer operations, so that
//             every backend, OpenCL devices without any 16-bit float support included, runs the
//             same code and rounds the same way.
//   uint8     images: read exactly, written rounded to nearest (ties to even) and clamped to
//             [0, 255] (a bicubic overshoot saturates).
//
// Reading converts exactly. Writing rounds once, to nearest with ties to even; a NaN stays a NaN
// (bfloat16: the quiet NaN 0x7fc0), a finite value beyond the largest finite one becomes an
// infinity of its sign, as IEEE rounding does.
#pragma once

#include "Halide.h"
#include "algorithm/sampling_math.h"

#include <map>
#include <string>
#include <vector>

namespace gridsample_gen {

// The element types a tensor may have (the generators' dtype and grid_dtype parameters).
enum class Storage { float32, float64, float16, bfloat16, uint8 };

inline Storage storage_of(const Halide::Type &t) {
    if (t == Halide::Float(64)) return Storage::float64;
    if (t == Halide::Float(16)) return Storage::float16;
    if (t == Halide::BFloat(16)) return Storage::bfloat16;
    if (t == Halide::UInt(8)) return Storage::uint8;
    _halide_user_assert(t == Halide::Float(32))
        << "unsupported element type " << t << " (float32, float64, float16, bfloat16, uint8)";
    return Storage::float32;
}

// The grid's element type (the generators' grid_dtype parameter; theta's for the affine kernels):
// the tensors' own (`same`), or float32 under float16/bfloat16/uint8 tensors (S10: a float32
// grid keeps sub-pixel precision on large images, which a 16-bit one cannot).
enum class GridDType { same, float32 };
inline const std::map<std::string, GridDType> kGridDTypeByName = {
    {"same", GridDType::same},
    {"float32", GridDType::float32},
};
// The grid's type for tensors stored as `t`.
inline Halide::Type grid_type(const Halide::Type &t, GridDType g) {
    const Storage s = storage_of(t);
    _halide_user_assert(s != Storage::uint8 || g == GridDType::float32)
        << "uint8 tensors take a float32 grid (grid_dtype=float32)";
    _halide_user_assert(g == GridDType::same || s == Storage::float16 || s == Storage::bfloat16 ||
                        s == Storage::uint8)
        << "grid_dtype=float32 is for float16, bfloat16 and uint8 tensors";
    return g == GridDType::same ? t : Halide::Float(32);
}

// The coordinates of a load from an input `buffer` (or of a point of an output, to bound what it
// reads from its producers), those of dimension `first` and after clamped to its bounds where
// `on` (under an autoscheduler; the dimensions before `first` hold indices that are in range by
// construction, such as clamped taps). An autoscheduled schedule may compute a
// producer over more than its consumer needs, and Halide then asks the input for that region:
// Adams2019's greedy grad_grid (2-D bilinear) splits the batch by 3 in a fused parallel loop and
// computes the per-point sums outside that split's guarded tail; its bounds through the fused loop
// came out loose, and the call asked grad_output for batch items 0 to 13 of 8 and failed ("Input
// buffer grad_output is accessed at 13, which is beyond the max (7)"). Every generator reads its
// inputs through this, so no autoscheduled schedule can fail that way. Clamped, such lanes read a
// value at the edge that nothing stores; inside the bounds a load is unchanged. The hand schedules
// compute exactly what they store (`on` is false): their loads stay unclamped.
template <typename Buffer>
std::vector<Expr> within_bounds(const Buffer &buffer, std::vector<Expr> args, bool on,
                                size_t first = 0) {
    if (!on) return args;
    for (size_t i = first; i < args.size(); i++) {
        args[i] = Halide::clamp(args[i], buffer.dim((int)i).min(), buffer.dim((int)i).max());
    }
    return args;
}

// The type a kernel's buffer holds for a storage type (bfloat16: its bits).
inline Halide::Type buffer_type(const Halide::Type &t) {
    return storage_of(t) == Storage::bfloat16 ? Halide::UInt(16) : t;
}

// The computation type of a kernel whose tensors are stored as `t` (S10).
inline Halide::Type compute_type(const Halide::Type &t) {
    return storage_of(t) == Storage::float64 ? Halide::Float(64) : Halide::Float(32);
}

// An element loaded from a buffer of buffer_type(t), exactly in `compute` (float32 or float64).
inline Expr to_compute(const Expr &element, const Halide::Type &t, const Halide::Type &compute) {
    using namespace Halide;
    if (storage_of(t) == Storage::bfloat16) {
        // The bfloat16 bits are the top half of the float32's.
        Expr f32 = reinterpret(Float(32, element.type().lanes()), cast(UInt(32), element) << 16);
        return compute == Float(32) ? f32 : cast(compute, f32);
    }
    return element.type() == compute ? element : cast(compute, element);
}

// Whether the target converts float32 to float16 with an instruction that rounds to nearest even
// and keeps a NaN a NaN: x86 with F16C (vcvtps2ph).
inline bool hardware_half_conversion(const Halide::Target &target) {
    return target.arch == Halide::Target::X86 && target.has_feature(Halide::Target::F16C);
}

// A result in the computation type, rounded once to buffer_type(t) (S10) on `target`. The value
// is bound to a let: the NaN tests below read it a second time.
inline Expr to_storage(const Expr &computed, const Halide::Type &t,
                       const Halide::Target &target) {
    using namespace Halide;
    const std::string name = Internal::unique_name("stored");
    const Expr value = Internal::Variable::make(computed.type(), name);
    auto bound = [&](const Expr &e) { return Internal::Let::make(name, computed, e); };
    switch (storage_of(t)) {
    case Storage::float32:
    case Storage::float64:
        return computed.type() == t ? computed : cast(t, computed);
    case Storage::float16:
        // Halide's emulated conversion (targets without F16C or fp16 instructions: x86
        // baseline and SSE4.1, ARM here) turns a NaN into an infinity (it tests for overflow
        // before NaN), so there NaN is written explicitly: the quiet NaN 0x7e00. With F16C the
        // instruction gets it right, and the test and select cost the planar bilinear float16
        // kernel 18% of its time (8x64x128x128, avx512_gather, one thread: 6.9 ms with them,
        // 5.6 ms without, float32 6.2 ms).
        if (hardware_half_conversion(target)) return cast(Float(16), strict_float(computed));
        return bound(select(is_nan_bits(value), reinterpret(Float(16), cast(UInt(16), 0x7e00)),
                            cast(Float(16), strict_float(value))));
    case Storage::bfloat16: {
        // Round to nearest, ties to even, on the bits: add just under half a unit of the kept
        // part, plus one where the kept part is odd, and truncate. Carries run into the exponent
        // as they should (the largest finite values round up to infinity). A NaN would carry
        // into its sign or become an infinity, so it is written as the quiet NaN.
        Expr bits = reinterpret(UInt(32), strict_float(value));
        Expr rounded = (bits + (cast(UInt(32), 0x7fff) + ((bits >> 16) & 1))) >> 16;
        return bound(select(is_nan_bits(value), cast(UInt(16), 0x7fc0), cast(UInt(16), rounded)));
    }
    case Storage::uint8: {
        // Clamped to [0, 255] first (S7 keeps the value finite for a finite input), then rounded
        // half to even by adding 2^23 (2^52 in float64): the sum lies in [2^23, 2^24), where the
        // float32 spacing is 1, so the addition rounds to an integer, ties to even (2^23 is even),
        // and the sum's low mantissa bits are that integer, at most 255: its low byte. Not
        // round(), which Halide's x86 backend emits as a vector intrinsic even in scalar code,
        // where it keeps LLVM's loop vectorizer from vectorizing the channels-last sampling loop
        // (byte_words.h); and no float-to-integer conversion.
        const Type ct = computed.type();
        const Expr magic = constant(ct, ct.bits() == 64 ? 4503599627370496.0 : 8388608.0);
        Expr v = clamp(computed, constant(ct, 0), constant(ct, 255));
        return cast(UInt(8), reinterpret(UInt(ct.bits()), strict_float(v + magic)));
    }
    }
    return Expr();
}

}  // namespace gridsample_gen
