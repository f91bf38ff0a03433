// IEEE 754 half precision (float16) bits to and from float, for test data and tools: portable
// C++ (no _Float16 or __fp16, which not every compiler has on every target).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace gridsample::npy {

// The float16 nearest to v (ties to even); overflow gives an infinity, NaN the quiet NaN 0x7e00.
inline uint16_t float16_bits(float v) {
    uint32_t f = 0;
    std::memcpy(&f, &v, 4);
    const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000);
    const float a = std::fabs(v);
    if (std::isnan(v)) return 0x7e00;
    if (a >= 65520.0f) return sign | 0x7c00;  // rounds beyond the largest finite, 65504
    if (a < 0x1p-14f) {  // subnormal (or zero): a multiple of 2^-24
        return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24f));
    }
    int e = 0;
    const float m = std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
    // 11 significant bits: the integer significand in [1024, 2048], rounded to even.
    uint32_t significand = static_cast<uint32_t>(std::nearbyint(std::ldexp(m, 11)));
    int exponent = e - 1;
    if (significand == 2048) {
        significand = 1024;
        exponent++;
    }
    return sign | static_cast<uint16_t>(((exponent + 15) << 10) | (significand - 1024));
}

inline float float16_value(uint16_t h) {
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    const int exponent = (h >> 10) & 0x1f;
    const int fraction = h & 0x3ff;
    if (exponent == 0x1f) return fraction ? NAN : sign * INFINITY;
    if (exponent == 0) return sign * std::ldexp(static_cast<float>(fraction), -24);
    return sign * std::ldexp(1.0f + fraction / 1024.0f, exponent - 15);
}

}  // namespace gridsample::npy
