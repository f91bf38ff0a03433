// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0): little-endian float32,
// float64 and float16, uint8, and bfloat16 as its 16 bits, in C order. NumPy has no bfloat16:
// such arrays are written as '<u2' and read from '<u2' or from the '|V2' that ml_dtypes' bfloat16
// is saved as. Used by the command-line tool and the tests.
//
// Loading never trusts the file: every header field is checked, shapes are bounded, and the data
// length must match the shape exactly. Errors name the file and the problem.
#pragma once

#include "gridsample/gridsample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gridsample::npy {

struct Array {
    DType dtype = DType::float32;
    std::vector<int64_t> shape;
    std::vector<unsigned char> bytes;  // the elements, C order
    // Read from 2-byte elements without a float type ('<u2', '|V2'): dtype is bfloat16, which the
    // caller should confirm (the CLI's --dtype bfloat16).
    bool untyped16 = false;

    int64_t numel() const;
    void* data() { return bytes.data(); }
    const void* data() const { return bytes.data(); }
    // A contiguous view of the array (rank <= kMaxRank).
    TensorView view() const;
};

// An array of the given dtype and shape, zero-filled.
Array zeros(DType dtype, std::vector<int64_t> shape);

// Reads `path`. On failure returns false and sets `error` to one line naming the file and the
// problem (unreadable, not an .npy file, unsupported dtype or Fortran order, truncated, ...).
bool load(const std::string& path, Array& out, std::string& error);

// Writes `array` to `path` atomically: the data goes to a temporary file beside it, which is
// renamed over `path` only once complete, so a failure never leaves a partial or changed file.
bool save(const std::string& path, const Array& array, std::string& error);

}  // namespace gridsample::npy
