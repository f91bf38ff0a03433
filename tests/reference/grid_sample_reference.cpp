// The scalar reference of SEMANTICS.md, written from the specification alone. Everything is
// float64 and deliberately plain: one output element at a time, one axis at a time.
//
// Sampling is expressed per axis: each mode turns a grid value into a short list of taps
// (integer index, weight) along that axis, and the output is the sum over the tensor product of
// the axes' taps. A tap that reads outside the input (zeros padding) is simply not in the list.
#include "grid_sample_reference.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <utility>

namespace gridsample_ref {

Array::Array(std::vector<int64_t> shape_) : shape(std::move(shape_)) {
    data.assign(static_cast<size_t>(numel()), 0.0);
}

int64_t Array::numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

namespace {

int64_t flat_index(const std::vector<int64_t>& shape, std::initializer_list<int64_t> index) {
    assert(index.size() == shape.size());
    int64_t flat = 0;
    size_t d = 0;
    for (int64_t i : index) {
        assert(i >= 0 && i < shape[d]);
        flat = flat * shape[d] + i;
        ++d;
    }
    return flat;
}

}  // namespace

double& Array::at(std::initializer_list<int64_t> index) {
    return data[static_cast<size_t>(flat_index(shape, index))];
}

double Array::at(std::initializer_list<int64_t> index) const {
    return data[static_cast<size_t>(flat_index(shape, index))];
}

namespace {

// S7: a bicubic centre beyond this magnitude is treated like the infinity of its sign.
constexpr double kMaxCubicCentre = 1073741824.0;  // 2^30

// One tap along one axis: an in-range index into the input and its weight.
struct Tap {
    int64_t index;
    double weight;
};
// At most 4 taps per axis (bicubic).
struct AxisTaps {
    Tap taps[4];
    int count = 0;
    void add(int64_t index, double weight) { taps[count++] = {index, weight}; }
};

bool in_range(double i, int64_t size) { return i >= 0.0 && i <= static_cast<double>(size - 1); }

// S2 (with the S7 NaN rule first): grid value -> continuous pixel coordinate along an axis of
// `size` pixels. S = 1 with align_corners gives 0 for every g, infinities included.
double unnormalize(double g, int64_t size, bool align_corners) {
    if (std::isnan(g)) g = -1.0;  // S7
    const double s = static_cast<double>(size);
    if (align_corners) {
        if (size == 1) return 0.0;  // S2: scale 0
        return (g + 1.0) / 2.0 * (s - 1.0);
    }
    return ((g + 1.0) * s - 1.0) / 2.0;
}

// S3 reflection of a finite coordinate about [lo, hi] (not yet clipped).
double reflect(double x, double lo, double hi) {
    const double span = hi - lo;
    if (span == 0.0) return 0.0;
    const double d = std::fabs(x - lo);
    const double flips = std::floor(d / span);
    const double extra = std::fmod(d, span);
    return std::fmod(flips, 2.0) == 0.0 ? lo + extra : hi - extra;
}

double clip(double x, int64_t size) {
    return std::min(static_cast<double>(size - 1), std::max(x, 0.0));
}

// S3 padding of a continuous coordinate (bilinear, trilinear, nearest), with the S7 rules for
// infinities. Zeros leaves the coordinate alone (possibly infinite); the taps are checked later.
double pad_coordinate(double x, int64_t size, int padding, bool align_corners) {
    switch (padding) {
    case kZeros:
        return x;
    case kBorder:
        return clip(x, size);  // +-inf clips to the nearest edge
    case kReflection: {
        if (!std::isfinite(x)) return 0.0;  // S7
        const double s = static_cast<double>(size);
        const double lo = align_corners ? 0.0 : -0.5;
        const double hi = align_corners ? s - 1.0 : s - 0.5;
        return clip(reflect(x, lo, hi), size);
    }
    }
    assert(false && "invalid padding");
    return 0.0;
}

// S4: the two linear taps around a padded coordinate; taps outside the input are dropped.
AxisTaps linear_taps(double g, int64_t size, int padding, bool align_corners) {
    AxisTaps out;
    const double x = pad_coordinate(unnormalize(g, size, align_corners), size, padding,
                                    align_corners);
    if (!std::isfinite(x)) return out;  // zeros padding at +-inf: every tap is outside
    const double x0 = std::floor(x);
    const double tx = x - x0;
    if (in_range(x0, size)) out.add(static_cast<int64_t>(x0), 1.0 - tx);
    if (in_range(x0 + 1.0, size)) out.add(static_cast<int64_t>(x0) + 1, tx);
    return out;
}

// S5: the one nearest tap, rounding half to even (nearbyint in the default rounding mode).
AxisTaps nearest_taps(double g, int64_t size, int padding, bool align_corners) {
    AxisTaps out;
    const double x = pad_coordinate(unnormalize(g, size, align_corners), size, padding,
                                    align_corners);
    if (!std::isfinite(x)) return out;
    const double i = std::nearbyint(x);
    if (in_range(i, size)) out.add(static_cast<int64_t>(i), 1.0);
    return out;
}

// S6 Keys cubic convolution kernel, A = -0.75.
constexpr double kCubicA = -0.75;
double cubic_k1(double d) { return ((kCubicA + 2.0) * d - (kCubicA + 3.0)) * d * d + 1.0; }
double cubic_k2(double d) {
    return ((kCubicA * d - 5.0 * kCubicA) * d + 8.0 * kCubicA) * d - 4.0 * kCubicA;
}

// S6 padding of one integer tap coordinate; returns false when the tap reads 0 (zeros).
bool pad_tap(int64_t i, int64_t size, int padding, bool align_corners, int64_t* out) {
    if (padding == kZeros) {
        *out = i;
        return i >= 0 && i < size;
    }
    // Border and reflection are the S3 rules applied to an integer, which give an integer.
    *out = static_cast<int64_t>(pad_coordinate(static_cast<double>(i), size, padding,
                                               align_corners));
    return true;
}

// S6: the four cubic taps around the (unpadded) centre, each padded on its own. S7: a centre
// that is infinite or beyond 2^30 is replaced first, per padding.
AxisTaps cubic_taps(double g, int64_t size, int padding, bool align_corners) {
    AxisTaps out;
    double x = unnormalize(g, size, align_corners);
    if (!(std::fabs(x) <= kMaxCubicCentre)) {
        switch (padding) {
        case kZeros:
            return out;  // every tap outside: contributes 0
        case kBorder:
            x = x > 0 ? static_cast<double>(size - 1) : 0.0;  // nearest edge
            break;
        case kReflection:
            x = 0.0;
            break;
        }
    }
    const double x0 = std::floor(x);
    const double tx = x - x0;
    const double weights[4] = {cubic_k2(tx + 1.0), cubic_k1(tx), cubic_k1(1.0 - tx),
                               cubic_k2(2.0 - tx)};
    for (int k = 0; k < 4; ++k) {
        int64_t index = 0;
        if (pad_tap(static_cast<int64_t>(x0) - 1 + k, size, padding, align_corners, &index)) {
            out.add(index, weights[k]);
        }
    }
    return out;
}

AxisTaps axis_taps(int mode, double g, int64_t size, int padding, bool align_corners) {
    switch (mode) {
    case kBilinear:
        return linear_taps(g, size, padding, align_corners);
    case kNearest:
        return nearest_taps(g, size, padding, align_corners);
    case kBicubic:
        return cubic_taps(g, size, padding, align_corners);
    }
    assert(false && "invalid mode");
    return {};
}

}  // namespace

Array grid_sample(const Array& input, const Array& grid, int mode, int padding,
                  bool align_corners) {
    const size_t rank = input.shape.size();
    assert(rank == 4 || rank == 5);
    assert(grid.shape.size() == rank);
    const int spatial = static_cast<int>(rank) - 2;
    assert(grid.shape[rank - 1] == spatial);
    assert(grid.shape[0] == input.shape[0]);

    const int64_t n_batch = input.shape[0];
    const int64_t channels = input.shape[1];
    // Spatial sizes padded to 3-D: 2-D is a volume of depth 1 sampled at z index 0.
    const int64_t in_d = spatial == 3 ? input.shape[2] : 1;
    const int64_t in_h = input.shape[rank - 2];
    const int64_t in_w = input.shape[rank - 1];
    const int64_t out_d = spatial == 3 ? grid.shape[1] : 1;
    const int64_t out_h = grid.shape[rank - 3];
    const int64_t out_w = grid.shape[rank - 2];

    std::vector<int64_t> out_shape = {n_batch, channels};
    if (spatial == 3) out_shape.push_back(out_d);
    out_shape.push_back(out_h);
    out_shape.push_back(out_w);
    Array output(out_shape);

    const int64_t in_plane = in_d * in_h * in_w;
    const int64_t out_plane = out_d * out_h * out_w;
    for (int64_t n = 0; n < n_batch; ++n) {
        for (int64_t p = 0; p < out_plane; ++p) {
            // grid[..., 0] is x (W), [..., 1] is y (H), [..., 2] is z (D) (S1).
            const double* g = &grid.data[static_cast<size_t>((n * out_plane + p) * spatial)];
            const AxisTaps tx = axis_taps(mode, g[0], in_w, padding, align_corners);
            const AxisTaps ty = axis_taps(mode, g[1], in_h, padding, align_corners);
            AxisTaps tz;
            if (spatial == 3) {
                tz = axis_taps(mode, g[2], in_d, padding, align_corners);
            } else {
                tz.add(0, 1.0);
            }
            for (int64_t c = 0; c < channels; ++c) {
                const double* plane = &input.data[static_cast<size_t>((n * channels + c) * in_plane)];
                double sum = 0.0;
                for (int k = 0; k < tz.count; ++k) {
                    for (int j = 0; j < ty.count; ++j) {
                        // Along x first, then y, then z (S6's separable order).
                        double row = 0.0;
                        for (int i = 0; i < tx.count; ++i) {
                            const int64_t at =
                                (tz.taps[k].index * in_h + ty.taps[j].index) * in_w + tx.taps[i].index;
                            row += tx.taps[i].weight * plane[at];
                        }
                        sum += tz.taps[k].weight * ty.taps[j].weight * row;
                    }
                }
                output.data[static_cast<size_t>((n * channels + c) * out_plane + p)] = sum;
            }
        }
    }
    return output;
}

// ---- Backward (S9) -------------------------------------------------------------------------------

namespace {

// One tap along one axis for the backward: an in-range index, its weight and the derivative of
// the weight with respect to the (padded) coordinate.
struct GradTap {
    int64_t index;
    double weight;
    double dweight;
};
struct AxisGrad {
    GradTap taps[4];
    int count = 0;
    double factor = 0.0;  // d coordinate / d g: the S9 chain factor of the axis
    void add(int64_t index, double weight, double dweight) {
        taps[count++] = {index, weight, dweight};
    }
};

// S2: dx/dg.
double unnormalize_scale(int64_t size, bool align_corners) {
    const double s = static_cast<double>(size);
    return align_corners ? (s - 1.0) / 2.0 : s / 2.0;
}

// S9's chain factor of bilinear/trilinear for the unnormalized coordinate x (finite or not).
double linear_factor(double x, int64_t size, int padding, bool align_corners) {
    const double scale = unnormalize_scale(size, align_corners);
    const double last = static_cast<double>(size - 1);
    switch (padding) {
    case kZeros:
        return scale;
    case kBorder:
        // 0 at or beyond an edge (x <= 0 or x >= S-1); +-inf are beyond.
        return (x <= 0.0 || x >= last) ? 0.0 : scale;
    case kReflection: {
        if (!std::isfinite(x)) return 0.0;  // S7: +-inf read the constant coordinate 0
        const double s = static_cast<double>(size);
        const double lo = align_corners ? 0.0 : -0.5;
        const double hi = align_corners ? s - 1.0 : s - 0.5;
        const double span = hi - lo;
        if (span == 0.0) return 0.0;
        const double d = std::fabs(x - lo);
        const double flips = std::floor(d / span);
        double sign = x < lo ? -1.0 : 1.0;
        if (std::fmod(flips, 2.0) != 0.0) sign = -sign;
        const double r = reflect(x, lo, hi);
        return (r <= 0.0 || r >= last) ? 0.0 : scale * sign;
    }
    }
    assert(false && "invalid padding");
    return 0.0;
}

// S6 derivatives of the Keys kernel pieces.
double cubic_k1_derivative(double d) {
    return 3.0 * (kCubicA + 2.0) * d * d - 2.0 * (kCubicA + 3.0) * d;
}
double cubic_k2_derivative(double d) {
    return 3.0 * kCubicA * d * d - 10.0 * kCubicA * d + 8.0 * kCubicA;
}

// The taps of one axis with weight derivatives and the chain factor (S4, S5, S6, S7, S9). A NaN
// grid value samples as -1 (S7) but has gradient 0 (S9).
AxisGrad axis_grad(int mode, double g, int64_t size, int padding, bool align_corners) {
    AxisGrad out;
    const double x = unnormalize(g, size, align_corners);
    if (mode == kNearest) {
        const AxisTaps t = nearest_taps(g, size, padding, align_corners);
        for (int i = 0; i < t.count; ++i) out.add(t.taps[i].index, 1.0, 0.0);
        out.factor = 0.0;  // piecewise constant
        return out;
    }
    if (mode == kBilinear) {
        const double p = pad_coordinate(x, size, padding, align_corners);
        out.factor = std::isnan(g) ? 0.0 : linear_factor(x, size, padding, align_corners);
        if (!std::isfinite(p)) return out;  // zeros padding at +-inf: every tap is outside
        const double x0 = std::floor(p);
        const double t = p - x0;
        if (in_range(x0, size)) out.add(static_cast<int64_t>(x0), 1.0 - t, -1.0);
        if (in_range(x0 + 1.0, size)) out.add(static_cast<int64_t>(x0) + 1, t, 1.0);
        return out;
    }
    // Bicubic: no padding factor; S7 replaces infinite and huge centres by constants, whose
    // gradient is 0.
    double c = x;
    out.factor = std::isnan(g) ? 0.0 : unnormalize_scale(size, align_corners);
    if (!(std::fabs(c) <= kMaxCubicCentre)) {
        out.factor = 0.0;
        switch (padding) {
        case kZeros:
            return out;
        case kBorder:
            c = c > 0 ? static_cast<double>(size - 1) : 0.0;
            break;
        case kReflection:
            c = 0.0;
            break;
        }
    }
    const double x0 = std::floor(c);
    const double t = c - x0;
    const double w[4] = {cubic_k2(t + 1.0), cubic_k1(t), cubic_k1(1.0 - t), cubic_k2(2.0 - t)};
    const double dw[4] = {cubic_k2_derivative(t + 1.0), cubic_k1_derivative(t),
                          -cubic_k1_derivative(1.0 - t), -cubic_k2_derivative(2.0 - t)};
    for (int k = 0; k < 4; ++k) {
        int64_t index = 0;
        if (pad_tap(static_cast<int64_t>(x0) - 1 + k, size, padding, align_corners, &index)) {
            out.add(index, w[k], dw[k]);
        }
    }
    return out;
}

}  // namespace

Gradients grid_sample_backward(const Array& grad_output, const Array& input, const Array& grid,
                               int mode, int padding, bool align_corners) {
    const size_t rank = input.shape.size();
    assert(rank == 4 || rank == 5);
    assert(grid.shape.size() == rank);
    const int spatial = static_cast<int>(rank) - 2;
    const int64_t n_batch = input.shape[0];
    const int64_t channels = input.shape[1];
    const int64_t in_d = spatial == 3 ? input.shape[2] : 1;
    const int64_t in_h = input.shape[rank - 2];
    const int64_t in_w = input.shape[rank - 1];
    const int64_t out_plane = grid.numel() / std::max<int64_t>(n_batch * spatial, 1);
    assert(grad_output.numel() == n_batch * channels * out_plane);

    Gradients result{Array(input.shape), Array(grid.shape)};
    const int64_t in_plane = in_d * in_h * in_w;
    for (int64_t n = 0; n < n_batch; ++n) {
        for (int64_t p = 0; p < out_plane; ++p) {
            const size_t grid_at = static_cast<size_t>((n * out_plane + p) * spatial);
            const double* g = &grid.data[grid_at];
            AxisGrad axes[3];
            axes[0] = axis_grad(mode, g[0], in_w, padding, align_corners);
            axes[1] = axis_grad(mode, g[1], in_h, padding, align_corners);
            if (spatial == 3) {
                axes[2] = axis_grad(mode, g[2], in_d, padding, align_corners);
            } else {
                axes[2].add(0, 1.0, 0.0);
            }
            double grad[3] = {0.0, 0.0, 0.0};
            for (int64_t c = 0; c < channels; ++c) {
                const size_t plane_at = static_cast<size_t>((n * channels + c) * in_plane);
                const double go =
                    grad_output.data[static_cast<size_t>((n * channels + c) * out_plane + p)];
                for (int k = 0; k < axes[2].count; ++k) {
                    for (int j = 0; j < axes[1].count; ++j) {
                        for (int i = 0; i < axes[0].count; ++i) {
                            const GradTap& tx = axes[0].taps[i];
                            const GradTap& ty = axes[1].taps[j];
                            const GradTap& tz = axes[2].taps[k];
                            const size_t at = plane_at + static_cast<size_t>(
                                                             (tz.index * in_h + ty.index) * in_w +
                                                             tx.index);
                            // grad_input: weight * grad_output at the tap (a scatter-add).
                            result.grad_input.data[at] += tx.weight * ty.weight * tz.weight * go;
                            // grad_grid: the value times the derivative of its weight.
                            const double v = input.data[at] * go;
                            grad[0] += v * tx.dweight * ty.weight * tz.weight;
                            grad[1] += v * tx.weight * ty.dweight * tz.weight;
                            grad[2] += v * tx.weight * ty.weight * tz.dweight;
                        }
                    }
                }
            }
            for (int k = 0; k < spatial; ++k) {
                result.grad_grid.data[grid_at + static_cast<size_t>(k)] = grad[k] * axes[k].factor;
            }
        }
    }
    return result;
}

namespace {

// torch.linspace(-1, 1, size) as affine_grid uses it: the first half counts up from -1, the
// second half down from +1. Without align_corners it is then multiplied by (size - 1) and
// divided by size; a single step is the coordinate 0.
std::vector<double> base_coordinates(int64_t size, bool align_corners) {
    std::vector<double> base(static_cast<size_t>(size), 0.0);
    if (size <= 1) return base;
    const double step = 2.0 / static_cast<double>(size - 1);
    const int64_t halfway = size / 2;
    for (int64_t i = 0; i < size; ++i) {
        double v = i < halfway ? -1.0 + step * static_cast<double>(i)
                               : 1.0 - step * static_cast<double>(size - 1 - i);
        if (!align_corners) v = v * static_cast<double>(size - 1) / static_cast<double>(size);
        base[static_cast<size_t>(i)] = v;
    }
    return base;
}

}  // namespace

Array affine_grid(const Array& theta, const std::vector<int64_t>& size, bool align_corners) {
    assert(size.size() == 4 || size.size() == 5);
    const int spatial = static_cast<int>(size.size()) - 2;
    const int64_t n_batch = size[0];
    assert(theta.shape.size() == 3 && theta.shape[0] == n_batch && theta.shape[1] == spatial &&
           theta.shape[2] == spatial + 1);
    const int64_t d = spatial == 3 ? size[2] : 1;
    const int64_t h = size[size.size() - 2];
    const int64_t w = size[size.size() - 1];
    const std::vector<double> xs = base_coordinates(w, align_corners);
    const std::vector<double> ys = base_coordinates(h, align_corners);
    const std::vector<double> zs = base_coordinates(d, align_corners);

    std::vector<int64_t> shape = {n_batch};
    if (spatial == 3) shape.push_back(d);
    shape.push_back(h);
    shape.push_back(w);
    shape.push_back(spatial);
    Array grid(shape);

    size_t out = 0;
    for (int64_t n = 0; n < n_batch; ++n) {
        const double* t = &theta.data[static_cast<size_t>(n * spatial * (spatial + 1))];
        for (int64_t k = 0; k < d; ++k) {
            for (int64_t j = 0; j < h; ++j) {
                for (int64_t i = 0; i < w; ++i) {
                    // base = (x, y, [z,] 1); grid[..., r] = sum_c theta[n, r, c] * base[c].
                    double base[4] = {xs[static_cast<size_t>(i)], ys[static_cast<size_t>(j)], 1.0, 1.0};
                    if (spatial == 3) base[2] = zs[static_cast<size_t>(k)];
                    for (int r = 0; r < spatial; ++r) {
                        double sum = 0.0;
                        for (int c = 0; c <= spatial; ++c) sum += t[r * (spatial + 1) + c] * base[c];
                        grid.data[out++] = sum;
                    }
                }
            }
        }
    }
    return grid;
}

}  // namespace gridsample_ref
