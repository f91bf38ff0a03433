// The independent scalar reference of SEMANTICS.md: plain C++, computing in float64, written from
// the specification alone (no Halide, no code shared with the library). Tests compare the library
// against it.
#pragma once

#include <cstdint>
#include <vector>

namespace gridsample_ref {

// A dense float64 array in C order.
struct Array {
    std::vector<int64_t> shape;
    std::vector<double> data;

    Array() = default;
    explicit Array(std::vector<int64_t> shape_);  // zero-filled
    int64_t numel() const;
    double& at(std::initializer_list<int64_t> index);
    double at(std::initializer_list<int64_t> index) const;
};

// SEMANTICS.md S1 enums (PyTorch's integers).
enum Mode { kBilinear = 0, kNearest = 1, kBicubic = 2 };
enum PaddingMode { kZeros = 0, kBorder = 1, kReflection = 2 };

// Forward grid_sample (S1..S7): input (N, C, H, W) with grid (N, Ho, Wo, 2), or input
// (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3). Returns the output (N, C, [Do,] Ho, Wo).
// The grid values are used as given (float64); the caller converts float32 grids exactly.
Array grid_sample(const Array& input, const Array& grid, int mode, int padding,
                  bool align_corners);

// The gradients of grid_sample (S9; S7 for non-finite grids): with grad_output of the output's
// shape, grad_input (the input's shape) receives weight * grad_output at every in-range tap of
// every output point, and grad_grid (the grid's shape) is d(sum of grad_output * output) / d grid,
// summed over channels. grad_grid follows S9's formulas literally: the interpolation derivative
// with out-of-range taps reading 0, times the chain factor of each axis (the scale, the border
// and reflection multipliers, 0 for NaN and for S7's constant replacements).
struct Gradients {
    Array grad_input;
    Array grad_grid;
};
Gradients grid_sample_backward(const Array& grad_output, const Array& input, const Array& grid,
                               int mode, int padding, bool align_corners);

// affine_grid as PyTorch: theta (N, 2, 3) with size {N, C, H, W} gives (N, H, W, 2); theta
// (N, 3, 4) with size {N, C, D, H, W} gives (N, D, H, W, 3).
Array affine_grid(const Array& theta, const std::vector<int64_t>& size, bool align_corners);

}  // namespace gridsample_ref
