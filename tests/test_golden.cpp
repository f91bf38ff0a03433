// The library against PyTorch's own outputs. tests/data/golden/manifest.txt lists the cases (its
// header documents the format); tests/golden/make_golden.py generates them. Every case is one
// test, named after the case. Each grid_sample case runs twice: with contiguous arrays, and with a
// channels-last input, a planar or batch-expanded (stride-0) grid and a padded channels-last
// output (S8b, S12.11). Tolerances are those of SEMANTICS.md S11.
#include "gridsample/gridsample.h"
#include "golden_manifest.h"
#include "npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace gridsample;

const std::string kGoldenDir = std::string(GRIDSAMPLE_TEST_DATA_DIR) + "/golden";
const std::string kManifest = kGoldenDir + "/manifest.txt";

// ---- the manifest -------------------------------------------------------------------------------

enum class Op { grid_sample, affine_grid };

// How nearest results are compared (the manifest's `ties` column).
enum class Ties {
    none,     // not a nearest case
    strict,   // every point must pick PyTorch's pixel
    lenient,  // points within 1e-4 (or their own float32 precision) of a rounding tie are skipped
};

struct GoldenCase {
    std::string name;
    int line = 0;
    Op op = Op::grid_sample;
    Options options;
    DType dtype = DType::float32;
    bool s7 = false;  // the output is the S7 meaning of a grid with NaN/inf/huge values
    Ties ties = Ties::none;
    std::vector<std::string> files;  // absolute paths
    // Set when the manifest is missing or this line is malformed: the test then fails with it.
    std::string error;
};

void PrintTo(const GoldenCase& c, std::ostream* os) {
    *os << c.name << " (manifest line " << c.line << ")";
}

bool valid_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
    });
}

// Parses one case line; returns an empty string or the problem.
std::string parse_line(const std::vector<std::string>& f, GoldenCase& c) {
    if (f.size() < 8) return "expected at least 8 columns, got " + std::to_string(f.size());
    if (!valid_name(f[0])) return "case name must be letters, digits and '_': " + f[0];
    c.name = f[0];
    if (f[1] == "grid_sample") {
        c.op = Op::grid_sample;
    } else if (f[1] == "affine_grid") {
        c.op = Op::affine_grid;
    } else {
        return "unknown op " + f[1];
    }
    if (c.op == Op::grid_sample) {
        if (f[2] == "bilinear") c.options.mode = Interpolation::bilinear;
        else if (f[2] == "nearest") c.options.mode = Interpolation::nearest;
        else if (f[2] == "bicubic") c.options.mode = Interpolation::bicubic;
        else return "unknown mode " + f[2];
        if (f[3] == "zeros") c.options.padding = Padding::zeros;
        else if (f[3] == "border") c.options.padding = Padding::border;
        else if (f[3] == "reflection") c.options.padding = Padding::reflection;
        else return "unknown padding " + f[3];
    }
    if (f[4] != "0" && f[4] != "1") return "align_corners must be 0 or 1, got " + f[4];
    c.options.align_corners = f[4] == "1";
    if (f[5] == "f32") c.dtype = DType::float32;
    else if (f[5] == "f64") c.dtype = DType::float64;
    else return "unknown dtype " + f[5];
    if (f[6] != "torch" && f[6] != "s7") return "expected must be torch or s7, got " + f[6];
    c.s7 = f[6] == "s7";
    if (f[7] == "strict") c.ties = Ties::strict;
    else if (f[7] == "lenient") c.ties = Ties::lenient;
    else if (f[7] == "-") c.ties = Ties::none;
    else return "ties must be strict, lenient or -, got " + f[7];
    const bool nearest = c.op == Op::grid_sample && c.options.mode == Interpolation::nearest;
    if (nearest != (c.ties != Ties::none)) return "ties must be given for nearest cases only";
    const size_t files = c.op == Op::grid_sample ? 3 : 2;
    if (f.size() != 8 + files) {
        return "expected " + std::to_string(files) + " files, got " + std::to_string(f.size() - 8);
    }
    for (size_t i = 8; i < f.size(); i++) c.files.push_back(kGoldenDir + "/" + c.name + "/" + f[i]);
    return "";
}

// Every case of the manifest (golden_manifest.h).
std::vector<GoldenCase> read_manifest() {
    return gridsample_test::read_golden_manifest<GoldenCase>(
        kManifest, "/usr/bin/python3 tests/golden/make_golden.py", parse_line);
}

const std::vector<GoldenCase>& all_cases() {
    static const std::vector<GoldenCase> cases = read_manifest();
    return cases;
}

// ---- strided arrays ----------------------------------------------------------------------------

double load_element(const unsigned char* base, DType t, int64_t offset) {
    if (t == DType::float64) {
        double v;
        std::memcpy(&v, base + offset * 8, 8);
        return v;
    }
    float v;
    std::memcpy(&v, base + offset * 4, 4);
    return v;
}

void store_element(unsigned char* base, DType t, int64_t offset, double v) {
    if (t == DType::float64) {
        std::memcpy(base + offset * 8, &v, 8);
    } else {
        const float f = static_cast<float>(v);
        std::memcpy(base + offset * 4, &f, 4);
    }
}

// Calls fn(linear C-order index, element offset under `strides`) for every element of `shape`.
void for_each_index(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                    const std::function<void(int64_t, int64_t)>& fn) {
    int64_t count = 1;
    for (int64_t s : shape) count *= s;
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t linear = 0; linear < count; linear++) {
        int64_t offset = 0;
        for (size_t d = 0; d < shape.size(); d++) offset += idx[d] * strides[d];
        fn(linear, offset);
        for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

// Caller-owned memory with a view of `shape` under explicit strides.
struct StridedBuffer {
    DType dtype = DType::float32;
    std::vector<int64_t> shape, strides;
    std::vector<unsigned char> bytes;

    TensorView view() const {
        return TensorView::make(bytes.data(), dtype, static_cast<int32_t>(shape.size()),
                                shape.data(), strides.data());
    }
    // The elements in C order.
    std::vector<double> values() const {
        std::vector<double> v(static_cast<size_t>(count()));
        for_each_index(shape, strides, [&](int64_t i, int64_t off) {
            v[static_cast<size_t>(i)] = load_element(bytes.data(), dtype, off);
        });
        return v;
    }
    int64_t count() const {
        int64_t n = 1;
        for (int64_t s : shape) n *= s;
        return n;
    }
};

// A buffer for `shape` with the given strides, large enough for them, filled with `fill`.
StridedBuffer make_buffer(DType dtype, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& strides, double fill) {
    StridedBuffer b;
    b.dtype = dtype;
    b.shape = shape;
    b.strides = strides;
    int64_t extent = 1;
    for (size_t d = 0; d < shape.size(); d++) extent += (shape[d] - 1) * strides[d];
    b.bytes.assign(static_cast<size_t>(extent * element_size(dtype)), 0);
    for (int64_t i = 0; i < extent; i++) store_element(b.bytes.data(), dtype, i, fill);
    return b;
}

// A copy of `a` laid out under `strides`.
StridedBuffer copy_with_strides(const npy::Array& a, const std::vector<int64_t>& strides) {
    StridedBuffer b = make_buffer(a.dtype, a.shape, strides, 0.0);
    const auto* src = static_cast<const unsigned char*>(a.data());
    for_each_index(a.shape, strides, [&](int64_t i, int64_t off) {
        store_element(b.bytes.data(), a.dtype, off, load_element(src, a.dtype, i));
    });
    return b;
}

std::vector<double> values_of(const npy::Array& a) {
    std::vector<double> v(static_cast<size_t>(a.numel()));
    const auto* src = static_cast<const unsigned char*>(a.data());
    for (size_t i = 0; i < v.size(); i++) {
        v[i] = load_element(src, a.dtype, static_cast<int64_t>(i));
    }
    return v;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (int d = static_cast<int>(shape.size()) - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
    return s;
}

// Channels-last strides for (N, C, spatial...), with `pad` unused elements after the channels of
// every location.
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& shape, int64_t pad = 0) {
    const size_t rank = shape.size();
    std::vector<int64_t> s(rank);
    s[1] = 1;
    int64_t stride = shape[1] + pad;
    for (size_t d = rank - 1; d >= 2; d--) {
        s[d] = stride;
        stride *= shape[d];
    }
    s[0] = stride;
    return s;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
}

npy::Array load_array(const std::string& path, DType dtype) {
    npy::Array a;
    std::string error;
    if (!npy::load(path, a, error)) {
        ADD_FAILURE() << error;
        return {};
    }
    if (a.dtype != dtype) {
        ADD_FAILURE() << path << ": dtype " << to_string(a.dtype) << ", the manifest says "
                      << to_string(dtype);
        return {};
    }
    return a;
}

// ---- grid_sample tolerances (S11) ---------------------------------------------------------------

// Per output location: the tolerance and whether a nearest comparison is skipped.
struct PointRule {
    double tolerance = 0;
    bool skip = false;
};

// S3 (reflection then clip, border clip) on a finite float64 coordinate.
double pad_coordinate(double x, int64_t size, Padding padding, bool ac) {
    const double last = static_cast<double>(size - 1);
    if (padding == Padding::zeros) return x;
    if (padding == Padding::reflection) {
        const double lo = ac ? 0.0 : -0.5;
        const double span = ac ? last : static_cast<double>(size);
        if (span == 0) return 0;
        const double d = std::fabs(x - lo);
        const double flips = std::floor(d / span);
        const double extra = std::fmod(d, span);
        x = std::fmod(flips, 2.0) == 0 ? lo + extra : lo + span - extra;
    }
    return std::min(last, std::max(0.0, x));
}

// The rule for one output location, from its grid components g[0..dims) (x, y, z).
PointRule point_rule(const GoldenCase& c, const std::vector<int64_t>& input_shape,
                     const double* g, double max_input) {
    const int dims = static_cast<int>(input_shape.size()) - 2;
    const bool f64 = c.dtype == DType::float64;
    const bool bicubic = c.options.mode == Interpolation::bicubic;
    const double rel = f64 ? (bicubic ? 1e-11 : 1e-12) : 2e-5;
    PointRule rule;
    rule.tolerance = rel * max_input;
    // Float32 far outside with reflection: the coordinate is only good to a few ulps of its
    // magnitude, and the output moves by up to ~2 max|input| per pixel (S11).
    bool far = false;
    for (int k = 0; k < dims; k++) far |= std::isfinite(g[k]) && std::fabs(g[k]) > 10;
    const bool widen = !f64 && c.options.padding == Padding::reflection && far;
    for (int k = 0; k < dims; k++) {
        const int64_t size = input_shape[input_shape.size() - 1 - k];
        const bool ac = c.options.align_corners;
        if (!std::isfinite(g[k])) continue;  // NaN and inf: S7 fixes the coordinate exactly
        const double x = ac ? (g[k] + 1) / 2 * static_cast<double>(size - 1)
                            : ((g[k] + 1) * static_cast<double>(size) - 1) / 2;
        const double precision = widen ? (std::fabs(x) + 1) * std::ldexp(1.0, -22) : 0.0;
        rule.tolerance += 4 * max_input * precision;
        if (c.ties == Ties::lenient) {
            const double p = pad_coordinate(x, size, c.options.padding, ac);
            const double to_tie = std::fabs(p - std::floor(p) - 0.5);
            if (to_tie < std::max(1e-4, precision)) rule.skip = true;
        }
    }
    return rule;
}

std::string grid_text(const double* g, int dims) {
    std::ostringstream s;
    s.precision(17);
    s << "(";
    for (int k = 0; k < dims; k++) s << (k ? ", " : "") << g[k];
    return s.str() + ")";
}

std::string location_text(const std::vector<int64_t>& shape, int64_t linear) {
    std::vector<int64_t> idx(shape.size());
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
        idx[d] = linear % shape[d];
        linear /= shape[d];
    }
    return shape_text(idx);
}

// Compares `got` (C order) with the golden output; `what` names the layout.
void compare_grid_sample(const GoldenCase& c, const std::string& what, const npy::Array& input,
                         const std::vector<double>& grid, const std::vector<double>& want,
                         const std::vector<double>& got, const std::vector<int64_t>& out_shape) {
    const int rank = static_cast<int>(out_shape.size());
    const int dims = rank - 2;
    double max_input = 0;
    for (double v : values_of(input)) max_input = std::max(max_input, std::fabs(v));
    const int64_t n = out_shape[0], channels = out_shape[1];
    int64_t points = 1;  // output locations per batch entry
    for (int d = 2; d < rank; d++) points *= out_shape[d];
    int failures = 0, skipped = 0;
    double worst = 0;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t p = 0; p < points; p++) {
            const double* g = &grid[static_cast<size_t>((b * points + p) * dims)];
            const PointRule rule = point_rule(c, input.shape, g, max_input);
            if (rule.skip) {
                skipped++;
                continue;
            }
            for (int64_t ch = 0; ch < channels; ch++) {
                const int64_t i = (b * channels + ch) * points + p;
                const double w = want[static_cast<size_t>(i)], o = got[static_cast<size_t>(i)];
                const double diff = std::fabs(o - w);
                worst = std::max(worst, std::isfinite(diff) ? diff : INFINITY);
                if (std::isfinite(o) && diff <= rule.tolerance) continue;
                if (++failures <= 5) {
                    ADD_FAILURE() << c.name << " [" << what << "] output"
                                  << location_text(out_shape, i) << " at grid "
                                  << grid_text(g, dims) << ": expected " << w << ", got " << o
                                  << " (difference " << diff
                                  << ", tolerance " << rule.tolerance << ")";
                }
            }
        }
    }
    EXPECT_EQ(failures, 0) << c.name << " [" << what << "]: " << failures << " of "
                           << want.size() << " outputs differ from PyTorch"
                           << (c.s7 ? " (expected values follow S7 for non-finite/huge grids)" : "")
                           << "; largest difference " << worst;
    // A lenient case that skipped everything would test nothing.
    EXPECT_LT(skipped, n * points) << c.name << ": every point was skipped as a rounding tie";
}

// ---- the tests ----------------------------------------------------------------------------------

void check_grid_sample(const GoldenCase& c) {
    const npy::Array input = load_array(c.files[0], c.dtype);
    const npy::Array grid = load_array(c.files[1], c.dtype);
    const npy::Array expected = load_array(c.files[2], c.dtype);
    if (testing::Test::HasFailure()) return;
    const size_t rank = input.shape.size();
    ASSERT_TRUE(rank == 4 || rank == 5) << "input shape " << shape_text(input.shape);
    ASSERT_EQ(grid.shape.size(), rank);
    ASSERT_EQ(expected.shape.size(), rank);
    const std::vector<double> want = values_of(expected);
    const std::vector<double> grid_values = values_of(grid);

    {  // Contiguous arrays.
        npy::Array out = npy::zeros(c.dtype, expected.shape);
        const Status s = grid_sample(input.view(), grid.view(), out.view(), c.options);
        ASSERT_TRUE(s.ok()) << to_string(s.code()) << ": " << s.message();
        compare_grid_sample(c, "contiguous", input, grid_values, want, values_of(out),
                            expected.shape);
    }

    {  // Channels-last input; planar grid (or stride-0 batch when every batch entry holds the
       // same grid); channels-last output with a gap after the channels, which must stay as it is.
        const StridedBuffer in_cl = copy_with_strides(input, channels_last_strides(input.shape));
        const int64_t n = grid.shape[0], dims = grid.shape[rank - 1];
        const int64_t per_batch = grid.numel() / std::max<int64_t>(n, 1);
        const int64_t batch_bytes = per_batch * element_size(c.dtype);
        const auto* grid_bytes = static_cast<const unsigned char*>(grid.data());
        bool same_per_batch = n > 1;
        for (int64_t b = 1; b < n && same_per_batch; b++) {
            same_per_batch = std::memcmp(grid_bytes, grid_bytes + b * batch_bytes,
                                         static_cast<size_t>(batch_bytes)) == 0;
        }
        StridedBuffer grid_view;
        std::string grid_layout;
        if (same_per_batch) {
            std::vector<int64_t> strides = contiguous_strides(grid.shape);
            strides[0] = 0;
            grid_view.dtype = c.dtype;
            grid_view.shape = grid.shape;
            grid_view.strides = strides;
            grid_view.bytes.assign(grid_bytes, grid_bytes + batch_bytes);
            grid_layout = "grid expanded over the batch (stride 0)";
        } else {
            // (N, dims, spatial...) memory: each component is its own plane.
            const int64_t plane = per_batch / dims;
            std::vector<int64_t> strides(rank);
            strides[0] = per_batch;
            strides[rank - 1] = plane;
            int64_t stride = 1;
            for (size_t d = rank - 2; d >= 1; d--) {
                strides[d] = stride;
                stride *= grid.shape[d];
            }
            grid_view = copy_with_strides(grid, strides);
            grid_layout = "planar grid";
        }
        const double sentinel = -12345.0;
        StridedBuffer out = make_buffer(c.dtype, expected.shape,
                                        channels_last_strides(expected.shape, 1), sentinel);
        const Status s = grid_sample(in_cl.view(), grid_view.view(), out.view(), c.options);
        const std::string what = "channels-last input, " + grid_layout + ", padded output";
        ASSERT_TRUE(s.ok()) << what << ": " << to_string(s.code()) << ": " << s.message();
        compare_grid_sample(c, what, input, grid_values, want, out.values(), expected.shape);
        // The gap elements (channel index C of every location) are untouched.
        const int64_t channels = expected.shape[1];
        int64_t touched = 0;
        for (size_t i = 0; i < out.bytes.size() / element_size(c.dtype); i++) {
            if (static_cast<int64_t>(i) % (channels + 1) == channels &&
                load_element(out.bytes.data(), c.dtype, static_cast<int64_t>(i)) != sentinel) {
                touched++;
            }
        }
        EXPECT_EQ(touched, 0) << what << ": elements outside the output view were written";
    }
}

void check_affine_grid(const GoldenCase& c) {
    const npy::Array theta = load_array(c.files[0], c.dtype);
    const npy::Array expected = load_array(c.files[1], c.dtype);
    if (testing::Test::HasFailure()) return;
    const size_t rank = expected.shape.size();
    ASSERT_TRUE(rank == 4 || rank == 5) << "output shape " << shape_text(expected.shape);
    // size = (N, C, spatial...): N and the spatial sizes from the output, C = 1 (unused).
    std::vector<int64_t> size{expected.shape[0], 1};
    for (size_t d = 1; d + 1 < rank; d++) size.push_back(expected.shape[d]);
    const std::vector<double> want = values_of(expected);
    double scale = 1;
    for (double v : want) scale = std::max(scale, std::fabs(v));
    const double tol = (c.dtype == DType::float64 ? 1e-12 : 1e-6) * scale;

    auto compare = [&](const std::string& what, const std::vector<double>& got) {
        int failures = 0;
        for (size_t i = 0; i < want.size(); i++) {
            const double diff = std::fabs(got[i] - want[i]);
            if (std::isfinite(got[i]) && diff <= tol) continue;
            if (++failures <= 5) {
                ADD_FAILURE() << c.name << " [" << what << "] grid"
                              << location_text(expected.shape, static_cast<int64_t>(i))
                              << ": expected " << want[i] << ", got " << got[i]
                              << " (tolerance " << tol << ")";
            }
        }
        EXPECT_EQ(failures, 0) << c.name << " [" << what << "]: " << failures << " of "
                               << want.size() << " values differ from PyTorch";
    };

    {
        npy::Array out = npy::zeros(c.dtype, expected.shape);
        const Status s = affine_grid(theta.view(), size.data(), static_cast<int32_t>(size.size()),
                                     out.view(), c.options.align_corners);
        ASSERT_TRUE(s.ok()) << to_string(s.code()) << ": " << s.message();
        compare("contiguous", values_of(out));
    }
    {  // Every dimension of the output padded by one element.
        std::vector<int64_t> padded = expected.shape;
        for (int64_t& s : padded) s += 1;
        StridedBuffer out = make_buffer(c.dtype, expected.shape, contiguous_strides(padded), 0.0);
        const Status s = affine_grid(theta.view(), size.data(), static_cast<int32_t>(size.size()),
                                     out.view(), c.options.align_corners);
        ASSERT_TRUE(s.ok()) << "padded output: " << to_string(s.code()) << ": " << s.message();
        compare("padded output", out.values());
    }
}

class Golden : public testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MatchesPyTorch) {
    const GoldenCase& c = GetParam();
    ASSERT_TRUE(c.error.empty()) << c.error;
    if (c.op == Op::grid_sample) {
        check_grid_sample(c);
    } else {
        check_affine_grid(c);
    }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, Golden, testing::ValuesIn(all_cases()),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                             return info.param.name;
                         });

// The manifest must exist and cover both ops; a missing data folder is a failure, not a skip.
TEST(GoldenManifest, ListsBothOps) {
    int grid_samples = 0, affine_grids = 0;
    for (const GoldenCase& c : all_cases()) {
        ASSERT_TRUE(c.error.empty()) << c.error;
        (c.op == Op::grid_sample ? grid_samples : affine_grids)++;
    }
    EXPECT_GT(grid_samples, 0);
    EXPECT_GT(affine_grids, 0);
}

}  // namespace
