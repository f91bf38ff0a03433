// The backward against PyTorch's own gradients. tests/data/golden_backward/manifest.txt lists the
// cases (its header documents the format); tests/golden/make_golden_backward.py generates them
// with torch.autograd. Every case is one test, named after the case, and runs twice: with
// contiguous arrays, and with a channels-last input, a channels-last grad_output inside a padded
// buffer, a component-planar grid, and both gradients written into padded strided buffers whose
// gaps must stay untouched (S8b, S12.11). Tolerances are S11's backward ones: float32 1e-4 and
// float64 1e-10, relative to the largest magnitude of the gradient compared.
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

const std::string kGoldenDir = std::string(GRIDSAMPLE_TEST_DATA_DIR) + "/golden_backward";
const std::string kManifest = kGoldenDir + "/manifest.txt";
constexpr double kSentinel = -7777.125;

// ---- the manifest -------------------------------------------------------------------------------

struct GoldenCase {
    std::string name;
    int line = 0;
    Options options;
    DType dtype = DType::float32;
    bool s7 = false;  // the grid holds NaN or +-inf; the expected data is their S7/S9 meaning
    std::vector<std::string> files;  // input, grid, grad_output, grad_input, grad_grid
    // Set when the manifest is missing or this line is malformed: the test then fails with it.
    std::string error;
};

void PrintTo(const GoldenCase& c, std::ostream* os) {
    *os << c.name << " (manifest line " << c.line << ")";
}

// Parses one case line; returns an empty string or the problem.
std::string parse_line(const std::vector<std::string>& f, GoldenCase& c) {
    if (f.size() != 11) return "expected 11 columns, got " + std::to_string(f.size());
    c.name = f[0];
    if (c.name.empty() || !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
        })) {
        return "case name must be letters, digits and '_': " + f[0];
    }
    if (f[1] == "bilinear") c.options.mode = Interpolation::bilinear;
    else if (f[1] == "nearest") c.options.mode = Interpolation::nearest;
    else if (f[1] == "bicubic") c.options.mode = Interpolation::bicubic;
    else return "unknown mode " + f[1];
    if (f[2] == "zeros") c.options.padding = Padding::zeros;
    else if (f[2] == "border") c.options.padding = Padding::border;
    else if (f[2] == "reflection") c.options.padding = Padding::reflection;
    else return "unknown padding " + f[2];
    if (f[3] != "0" && f[3] != "1") return "align_corners must be 0 or 1, got " + f[3];
    c.options.align_corners = f[3] == "1";
    if (f[4] == "f32") c.dtype = DType::float32;
    else if (f[4] == "f64") c.dtype = DType::float64;
    else return "unknown dtype " + f[4];
    if (f[5] != "torch" && f[5] != "s7") return "expected must be torch or s7, got " + f[5];
    c.s7 = f[5] == "s7";
    for (size_t i = 6; i < f.size(); i++) c.files.push_back(kGoldenDir + "/" + c.name + "/" + f[i]);
    return "";
}

// Every case of the manifest (golden_manifest.h).
std::vector<GoldenCase> read_manifest() {
    return gridsample_test::read_golden_manifest<GoldenCase>(
        kManifest, "/usr/bin/python3 tests/golden/make_golden_backward.py", parse_line);
}

const std::vector<GoldenCase>& all_cases() {
    static const std::vector<GoldenCase> cases = read_manifest();
    return cases;
}

// ---- strided arrays -----------------------------------------------------------------------------

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

// Caller-owned memory holding a view of `shape` under `strides` (after `offset` elements).
struct StridedBuffer {
    DType dtype = DType::float32;
    std::vector<int64_t> shape, strides;
    int64_t offset = 0;
    std::vector<unsigned char> bytes;

    TensorView view() const {
        return TensorView::make(bytes.data() + offset * (dtype == DType::float64 ? 8 : 4), dtype,
                                static_cast<int32_t>(shape.size()), shape.data(), strides.data());
    }
    std::vector<double> values() const {
        std::vector<double> v;
        for_each_index(shape, strides, [&](int64_t, int64_t off) {
            v.push_back(load_element(bytes.data(), dtype, offset + off));
        });
        return v;
    }
    // Elements outside the view that no longer hold kSentinel.
    int64_t touched_outside() const {
        const int64_t total = static_cast<int64_t>(bytes.size()) / (dtype == DType::float64 ? 8 : 4);
        std::vector<char> inside(static_cast<size_t>(total), 0);
        for_each_index(shape, strides, [&](int64_t, int64_t off) {
            inside[static_cast<size_t>(offset + off)] = 1;
        });
        int64_t n = 0;
        for (int64_t i = 0; i < total; i++) {
            if (!inside[static_cast<size_t>(i)] &&
                load_element(bytes.data(), dtype, i) != static_cast<double>(static_cast<float>(kSentinel))) {
                ++n;
            }
        }
        return n;
    }
};

// Strides that put dimensions in memory in `order` (outermost first), each padded by `pad`.
std::vector<int64_t> strides_for(const std::vector<int64_t>& shape, const std::vector<int>& order,
                                 int64_t pad) {
    std::vector<int64_t> s(shape.size(), 1);
    int64_t running = 1;
    for (size_t i = order.size(); i-- > 0;) {
        s[static_cast<size_t>(order[i])] = running;
        running *= shape[static_cast<size_t>(order[i])] + pad;
    }
    return s;
}

StridedBuffer make_buffer(DType dtype, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& strides, int64_t offset) {
    StridedBuffer b;
    b.dtype = dtype;
    b.shape = shape;
    b.strides = strides;
    b.offset = offset;
    int64_t extent = offset + 1;
    for (size_t d = 0; d < shape.size(); d++) extent += std::max<int64_t>(shape[d] - 1, 0) * strides[d];
    const int64_t size = dtype == DType::float64 ? 8 : 4;
    b.bytes.assign(static_cast<size_t>((extent + 3) * size), 0);
    for (int64_t i = 0; i < extent + 3; i++) store_element(b.bytes.data(), dtype, i, kSentinel);
    return b;
}

StridedBuffer copy_into(const npy::Array& a, const std::vector<int64_t>& strides, int64_t offset) {
    StridedBuffer b = make_buffer(a.dtype, a.shape, strides, offset);
    const auto* src = static_cast<const unsigned char*>(a.data());
    for_each_index(a.shape, strides, [&](int64_t i, int64_t off) {
        store_element(b.bytes.data(), a.dtype, offset + off, load_element(src, a.dtype, i));
    });
    return b;
}

std::vector<double> values_of(const npy::Array& a) {
    std::vector<double> v(static_cast<size_t>(a.numel()));
    const auto* src = static_cast<const unsigned char*>(a.data());
    for (size_t i = 0; i < v.size(); i++) v[i] = load_element(src, a.dtype, static_cast<int64_t>(i));
    return v;
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

// ---- the test -------------------------------------------------------------------------------------

void compare(const GoldenCase& c, const char* what, const char* layout,
             const std::vector<double>& expected, const std::vector<double>& got) {
    ASSERT_EQ(expected.size(), got.size()) << what;
    double max_abs = 0;
    for (double v : expected) max_abs = std::max(max_abs, std::fabs(v));
    const double eps = c.dtype == DType::float64 ? 0x1p-52 : 0x1p-23;
    const double tol = (c.dtype == DType::float64 ? 1e-10 : 1e-4) * max_abs + 64 * eps;
    int reported = 0, failures = 0;
    for (size_t i = 0; i < expected.size(); i++) {
        if (std::isfinite(got[i]) && std::fabs(got[i] - expected[i]) <= tol) continue;
        ++failures;
        if (++reported <= 5) {
            ADD_FAILURE() << c.name << " (" << layout << "): " << what << " element " << i
                          << " (C order): expected " << expected[i] << ", got " << got[i]
                          << ", tolerance " << tol;
        }
    }
    if (failures > 5) ADD_FAILURE() << c.name << " (" << layout << "): " << failures << " mismatches in " << what;
}

class GoldenBackward : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenBackward, MatchesPyTorch) {
    const GoldenCase& c = GetParam();
    ASSERT_TRUE(c.error.empty()) << c.error;
    const npy::Array input = load_array(c.files[0], c.dtype);
    const npy::Array grid = load_array(c.files[1], c.dtype);
    const npy::Array grad_output = load_array(c.files[2], c.dtype);
    const npy::Array grad_input = load_array(c.files[3], c.dtype);
    const npy::Array grad_grid = load_array(c.files[4], c.dtype);
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(grad_input.shape, input.shape) << c.files[3];
    ASSERT_EQ(grad_grid.shape, grid.shape) << c.files[4];
    const std::vector<double> expected_input = values_of(grad_input);
    const std::vector<double> expected_grid = values_of(grad_grid);

    const int rank = static_cast<int>(input.shape.size());
    std::vector<int> identity(static_cast<size_t>(rank));
    for (int i = 0; i < rank; i++) identity[static_cast<size_t>(i)] = i;
    std::vector<int> channels_last = identity;  // (N, spatial..., C)
    channels_last.erase(channels_last.begin() + 1);
    channels_last.push_back(1);
    std::vector<int> planar = identity;  // (N, k, spatial...)
    planar.pop_back();
    planar.insert(planar.begin() + 1, rank - 1);

    for (bool strided : {false, true}) {
        const char* layout = strided ? "strided" : "contiguous";
        const int64_t pad = strided ? 2 : 0, off = strided ? 3 : 0;
        const StridedBuffer in = copy_into(
            input, strides_for(input.shape, strided ? channels_last : identity, 0), 0);
        const StridedBuffer g =
            copy_into(grid, strides_for(grid.shape, strided ? planar : identity, 0), 0);
        const StridedBuffer go = copy_into(
            grad_output, strides_for(grad_output.shape, strided ? channels_last : identity, pad),
            off);
        StridedBuffer gi = make_buffer(c.dtype, input.shape,
                                       strides_for(input.shape, strided ? channels_last : identity, pad),
                                       off);
        StridedBuffer gg = make_buffer(c.dtype, grid.shape, strides_for(grid.shape, identity, pad), off);
        const TensorView gi_view = gi.view(), gg_view = gg.view();
        const Status s = grid_sample_backward(go.view(), in.view(), g.view(), &gi_view, &gg_view,
                                              c.options);
        ASSERT_TRUE(s.ok()) << c.name << " (" << layout << "): " << s.message();
        compare(c, "grad_input", layout, expected_input, gi.values());
        compare(c, "grad_grid", layout, expected_grid, gg.values());
        EXPECT_EQ(gi.touched_outside(), 0) << c.name << " (" << layout << "): wrote outside grad_input";
        EXPECT_EQ(gg.touched_outside(), 0) << c.name << " (" << layout << "): wrote outside grad_grid";
    }
}

INSTANTIATE_TEST_SUITE_P(Torch, GoldenBackward, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                             return info.param.name;
                         });

}  // namespace
