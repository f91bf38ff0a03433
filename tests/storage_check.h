// The storage types of SEMANTICS.md S10 (float16, bfloat16, uint8) in the tests: rounding a
// float64 value to each type, the elements' bits, and the S10 comparison. Written from the
// formats' definitions (IEEE 754 binary16; bfloat16 = the top 16 bits of a binary32), with no
// code shared with the library.
#pragma once

#include "check_common.h"
#include "float16.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace gridsample_test {

inline constexpr gs::DType kStorageDTypes[] = {gs::DType::float16, gs::DType::bfloat16,
                                               gs::DType::uint8};

inline bool is_storage(gs::DType t) {
    return t == gs::DType::float16 || t == gs::DType::bfloat16 || t == gs::DType::uint8;
}

inline const char* storage_name(gs::DType t) {
    switch (t) {
    case gs::DType::float64: return "f64";
    case gs::DType::float32: return "f32";
    case gs::DType::float16: return "f16";
    case gs::DType::bfloat16: return "bf16";
    case gs::DType::uint8: return "u8";
    }
    return "?";
}

// A binary floating-point format: `digits` significant bits (the implicit one included), the
// smallest normal exponent and the largest finite exponent (value = 1.f x 2^e).
struct FloatFormat {
    int digits, min_exp, max_exp;
};
inline constexpr FloatFormat kHalf{11, -14, 15};
inline constexpr FloatFormat kBFloat{8, -126, 127};

// x rounded to the format: to nearest, ties to even; beyond the largest finite value by half an
// ulp or more, an infinity of x's sign.
inline double round_to_format(double x, FloatFormat f) {
    if (x == 0.0 || !std::isfinite(x)) return x;
    int e = 0;
    std::frexp(x, &e);  // |x| = m 2^e, m in [0.5, 1): the leading bit has exponent e - 1
    const int lead = std::max(e - 1, f.min_exp);
    const double ulp = std::ldexp(1.0, lead - (f.digits - 1));
    const double r = std::nearbyint(x / ulp) * ulp;  // the default rounding mode: ties to even
    const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, 1 - f.digits), f.max_exp);
    if (std::fabs(r) > max_finite) return std::copysign(kInf, x);
    return r;
}

// S10: a float32/float64 value as the storage type rounds it (uint8: to nearest even, then
// clamped to [0, 255]).
inline double round_to_storage(double x, gs::DType t) {
    switch (t) {
    case gs::DType::float32: return static_cast<double>(static_cast<float>(x));
    case gs::DType::float16: return round_to_format(x, kHalf);
    case gs::DType::bfloat16: return round_to_format(x, kBFloat);
    case gs::DType::uint8: return std::clamp(std::nearbyint(x), 0.0, 255.0);
    default: return x;
    }
}

// The bits of a value the format holds exactly (NaN as the quiet NaN); float16 through
// tools/npy/float16.h.
inline uint16_t bfloat_bits(double v) {
    const float f = static_cast<float>(v);  // exact for a bfloat16 value
    uint32_t u = 0;
    std::memcpy(&u, &f, 4);
    return static_cast<uint16_t>(std::isnan(v) ? 0x7fc0 : u >> 16);
}
inline double bfloat_value(uint16_t bits) {
    const uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f = 0.0f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Writes / reads one element of dtype `t` at p (the value must be one the type holds).
inline void store_element(double v, gs::DType t, unsigned char* p) {
    switch (t) {
    case gs::DType::float64: std::memcpy(p, &v, 8); break;
    case gs::DType::float32: {
        const float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
        break;
    }
    case gs::DType::float16: {
        const uint16_t b = gridsample::npy::float16_bits(static_cast<float>(v));
        std::memcpy(p, &b, 2);
        break;
    }
    case gs::DType::bfloat16: {
        const uint16_t b = bfloat_bits(v);
        std::memcpy(p, &b, 2);
        break;
    }
    case gs::DType::uint8: *p = static_cast<unsigned char>(v); break;
    }
}
inline double load_element(const unsigned char* p, gs::DType t) {
    switch (t) {
    case gs::DType::float64: {
        double v = 0.0;
        std::memcpy(&v, p, 8);
        return v;
    }
    case gs::DType::float32: {
        float f = 0.0f;
        std::memcpy(&f, p, 4);
        return f;
    }
    case gs::DType::float16:
    case gs::DType::bfloat16: {
        uint16_t b = 0;
        std::memcpy(&b, p, 2);
        return t == gs::DType::float16 ? gridsample::npy::float16_value(b) : bfloat_value(b);
    }
    case gs::DType::uint8: return *p;
    }
    return 0.0;
}

// S10 with the S11 tolerance of the float32 computation: the library's float32 result lies within
// `tol` of the float64 reference `expected`, and is rounded once, so the stored value lies
// between the roundings of expected - tol and expected + tol (rounding is monotone). This is
// tighter than S10's "1 unit in the last place" and holds for every correctly rounded result.
inline bool storage_value_ok(double got, double expected, double tol, gs::DType t) {
    if (std::isnan(expected)) return std::isnan(got);
    const double lo = round_to_storage(expected - tol, t);
    const double hi = round_to_storage(expected + tol, t);
    return got >= lo && got <= hi;
}

}  // namespace gridsample_test
