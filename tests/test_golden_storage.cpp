// The library against PyTorch on the storage types of SEMANTICS.md S10: float16, bfloat16 and
// uint8 forward, float16 and bfloat16 gradients. tests/data/golden_storage/manifest.txt lists the
// cases (its header documents the format); tests/golden/make_golden_storage.py generates them.
// PyTorch has no CPU kernel for these types, so each case holds PyTorch's float32 result on the
// stored values and that result rounded to the storage type.
//
// The S10 comparison: the library computes in float32 (within S11's float32 tolerance `tol` of
// PyTorch's float32 result e) and rounds once, so every value must lie between the roundings of
// e - tol and e + tol (rounding is monotone): PyTorch's rounded value, or its neighbour where e is
// within tol of a rounding boundary. uint8 uses tol = 1e-3 (S10: equal except within 1e-3 of a
// tie). Each case runs with contiguous tensors and again channels-last (for the 3-channel uint8
// images: the interleaved RGB path) with a planar grid.
#include "golden_manifest.h"
#include "gridsample/gridsample.h"
#include "npy.h"
#include "storage_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace gridsample_test;

const std::string kDir = std::string(GRIDSAMPLE_TEST_DATA_DIR) + "/golden_storage";

struct StorageGolden {
    std::string name;
    bool backward = false;
    gs::Options options;
    gs::DType dtype = gs::DType::float16, grid_dtype = gs::DType::float32;
    std::vector<std::string> files;  // absolute paths, in the manifest's order
    int line = 0;
    std::string error;  // a malformed line or a missing manifest
};

void PrintTo(const StorageGolden& c, std::ostream* os) { *os << c.name; }

bool parse_dtype(const std::string& s, gs::DType& t) {
    if (s == "f16") t = gs::DType::float16;
    else if (s == "bf16") t = gs::DType::bfloat16;
    else if (s == "u8") t = gs::DType::uint8;
    else if (s == "f32") t = gs::DType::float32;
    else return false;
    return true;
}

std::string parse(const std::vector<std::string>& f, StorageGolden& c) {
    if (f.size() < 7) return "expected at least 7 columns";
    c.name = f[0];
    if (f[1] != "forward" && f[1] != "backward") return "unknown op " + f[1];
    c.backward = f[1] == "backward";
    if (f[2] == "bilinear") c.options.mode = gs::Interpolation::bilinear;
    else if (f[2] == "nearest") c.options.mode = gs::Interpolation::nearest;
    else if (f[2] == "bicubic") c.options.mode = gs::Interpolation::bicubic;
    else return "unknown mode " + f[2];
    if (f[3] == "zeros") c.options.padding = gs::Padding::zeros;
    else if (f[3] == "border") c.options.padding = gs::Padding::border;
    else if (f[3] == "reflection") c.options.padding = gs::Padding::reflection;
    else return "unknown padding " + f[3];
    if (f[4] != "0" && f[4] != "1") return "align_corners must be 0 or 1";
    c.options.align_corners = f[4] == "1";
    if (!parse_dtype(f[5], c.dtype) || !parse_dtype(f[6], c.grid_dtype)) return "unknown dtype";
    const size_t files = c.backward ? 7 : 4;
    if (f.size() != 7 + files) return "expected " + std::to_string(files) + " files";
    for (size_t i = 7; i < f.size(); i++) c.files.push_back(kDir + "/" + c.name + "/" + f[i]);
    return "";
}

std::vector<StorageGolden> read_manifest() {
    return read_golden_manifest<StorageGolden>(
        kDir + "/manifest.txt", "/usr/bin/python3 tests/golden/make_golden_storage.py", parse);
}

const std::vector<StorageGolden>& all_cases() {
    static const std::vector<StorageGolden> cases = read_manifest();
    return cases;
}

gs::npy::Array load(const std::string& path, gs::DType dtype) {
    gs::npy::Array a;
    std::string error;
    if (!gs::npy::load(path, a, error)) {
        ADD_FAILURE() << error;
        return {};
    }
    EXPECT_EQ(a.dtype, dtype) << path;
    return a;
}

std::vector<double> values(const gs::npy::Array& a) {
    std::vector<double> v(static_cast<size_t>(a.numel()));
    const auto* p = static_cast<const unsigned char*>(a.data());
    const size_t size = gs::element_size(a.dtype);
    for (size_t i = 0; i < v.size(); i++) v[i] = load_element(p + i * size, a.dtype);
    return v;
}

// A tensor in caller memory under explicit strides, every other byte 0xa5.
struct Strided {
    gs::DType dtype;
    std::vector<int64_t> shape, strides;
    std::vector<unsigned char> bytes;
    Strided(gs::DType t, std::vector<int64_t> sh, std::vector<int64_t> st)
        : dtype(t), shape(std::move(sh)), strides(std::move(st)) {
        int64_t extent = 1;
        for (size_t d = 0; d < shape.size(); d++) extent += (shape[d] - 1) * strides[d];
        bytes.assign(static_cast<size_t>(extent) * gs::element_size(t), 0xa5);
    }
    gs::TensorView view() {
        return gs::TensorView::make(bytes.data(), dtype, static_cast<int32_t>(shape.size()),
                                    shape.data(), strides.data());
    }
    // Calls fn(C-order index, element offset) for every element.
    void each(const std::function<void(int64_t, int64_t)>& fn) const {
        int64_t count = 1;
        for (int64_t s : shape) count *= s;
        std::vector<int64_t> idx(shape.size(), 0);
        for (int64_t i = 0; i < count; i++) {
            int64_t off = 0;
            for (size_t d = 0; d < shape.size(); d++) off += idx[d] * strides[d];
            fn(i, off);
            for (int d = static_cast<int>(shape.size()) - 1; d >= 0; d--) {
                if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
                idx[static_cast<size_t>(d)] = 0;
            }
        }
    }
    void fill(const std::vector<double>& v) {
        each([&](int64_t i, int64_t off) {
            store_element(v[static_cast<size_t>(i)], dtype,
                          bytes.data() + off * static_cast<int64_t>(gs::element_size(dtype)));
        });
    }
    std::vector<double> read() const {
        std::vector<double> v;
        each([&](int64_t, int64_t off) {
            v.push_back(load_element(
                bytes.data() + off * static_cast<int64_t>(gs::element_size(dtype)), dtype));
        });
        return v;
    }
};

std::vector<int64_t> contiguous(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (int d = static_cast<int>(shape.size()) - 2; d >= 0; d--) {
        s[static_cast<size_t>(d)] = s[static_cast<size_t>(d) + 1] * shape[static_cast<size_t>(d) + 1];
    }
    return s;
}

// (N, C, spatial...) with the channels innermost.
std::vector<int64_t> channels_last(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size());
    s[1] = 1;
    int64_t stride = shape[1];
    for (size_t d = shape.size() - 1; d >= 2; d--) {
        s[d] = stride;
        stride *= shape[d];
    }
    s[0] = stride;
    return s;
}

// (N, spatial..., k) with each component k a plane of its own.
std::vector<int64_t> planar_grid(const std::vector<int64_t>& shape) {
    const size_t rank = shape.size();
    std::vector<int64_t> s(rank);
    int64_t plane = 1;
    for (size_t d = 1; d + 1 < rank; d++) plane *= shape[d];
    s[rank - 1] = plane;
    int64_t stride = 1;
    for (size_t d = rank - 2; d >= 1; d--) {
        s[d] = stride;
        stride *= shape[d];
    }
    s[0] = plane * shape[rank - 1];
    return s;
}

// S10 on top of `tol`: each value between the roundings of e32 - tol and e32 + tol.
void compare(const std::string& what, gs::DType dtype, const std::vector<double>& got,
             const std::vector<double>& e32, const std::vector<double>& expected, double tol) {
    ASSERT_EQ(got.size(), e32.size());
    int failures = 0, exact = 0;
    for (size_t i = 0; i < got.size(); i++) {
        exact += got[i] == expected[i];
        if (storage_value_ok(got[i], e32[i], tol, dtype)) continue;
        if (++failures <= 5) {
            ADD_FAILURE() << what << " element " << i << ": PyTorch float32 " << e32[i]
                          << " (rounded " << expected[i] << "), tolerance " << tol << ", got "
                          << got[i];
        }
    }
    EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << got.size() << " differ";
    // Nearly every rounded value is PyTorch's rounded value itself (a float32 grad_grid is not
    // rounded, and float32 sums in another order differ in their last bits).
    if (dtype != gs::DType::float32) {
        EXPECT_GE(exact * 100, static_cast<int>(got.size()) * 95) << what;
    }
}

void check_forward(const StorageGolden& c) {
    const gs::npy::Array input = load(c.files[0], c.dtype), grid = load(c.files[1], c.grid_dtype),
                         output = load(c.files[2], c.dtype),
                         out32 = load(c.files[3], gs::DType::float32);
    if (testing::Test::HasFailure()) return;
    const std::vector<double> e32 = values(out32), expected = values(output);
    // S11's float32 forward tolerance; uint8: S10's 1e-3 around ties.
    const double tol =
        c.dtype == gs::DType::uint8 ? 1e-3 : 2e-5 * max_abs(values(input)) + 1e-30;
    for (bool strided : {false, true}) {
        Strided in(c.dtype, input.shape, strided ? channels_last(input.shape) : contiguous(input.shape));
        Strided g(c.grid_dtype, grid.shape, strided ? planar_grid(grid.shape) : contiguous(grid.shape));
        Strided out(c.dtype, output.shape,
                    strided ? channels_last(output.shape) : contiguous(output.shape));
        in.fill(values(input));
        g.fill(values(grid));
        const gs::Status s = gs::grid_sample(in.view(), g.view(), out.view(), c.options);
        ASSERT_TRUE(s.ok()) << s.message();
        compare(c.name + (strided ? " [channels-last, planar grid]" : " [contiguous]"), c.dtype,
                out.read(), e32, expected, tol);
    }
}

void check_backward(const StorageGolden& c) {
    const gs::npy::Array input = load(c.files[0], c.dtype), grid = load(c.files[1], c.grid_dtype),
                         grad_output = load(c.files[2], c.dtype),
                         grad_input = load(c.files[3], c.dtype),
                         grad_grid = load(c.files[4], c.grid_dtype),
                         gi32 = load(c.files[5], gs::DType::float32),
                         gg32 = load(c.files[6], gs::DType::float32);
    if (testing::Test::HasFailure()) return;
    const std::vector<double> gi_e32 = values(gi32), gg_e32 = values(gg32);
    // S11's float32 backward tolerance, relative to the largest gradient.
    const double gi_tol = 1e-4 * max_abs(gi_e32) + 1e-30, gg_tol = 1e-4 * max_abs(gg_e32) + 1e-30;
    for (bool strided : {false, true}) {
        auto features = [&](const std::vector<int64_t>& shape) {
            return strided ? channels_last(shape) : contiguous(shape);
        };
        Strided in(c.dtype, input.shape, features(input.shape));
        Strided g(c.grid_dtype, grid.shape, strided ? planar_grid(grid.shape) : contiguous(grid.shape));
        Strided go(c.dtype, grad_output.shape, features(grad_output.shape));
        Strided gi(c.dtype, grad_input.shape, features(grad_input.shape));
        Strided gg(c.grid_dtype, grad_grid.shape,
                   strided ? planar_grid(grad_grid.shape) : contiguous(grad_grid.shape));
        in.fill(values(input));
        g.fill(values(grid));
        go.fill(values(grad_output));
        const gs::TensorView gi_view = gi.view(), gg_view = gg.view();
        const gs::Status s = gs::grid_sample_backward(go.view(), in.view(), g.view(), &gi_view,
                                                      &gg_view, c.options);
        ASSERT_TRUE(s.ok()) << s.message();
        const std::string layout = strided ? " [channels-last, planar grid]" : " [contiguous]";
        compare(c.name + " grad_input" + layout, c.dtype, gi.read(), gi_e32, values(grad_input),
                gi_tol);
        compare(c.name + " grad_grid" + layout, c.grid_dtype, gg.read(), gg_e32, values(grad_grid),
                gg_tol);
    }
}

class GoldenStorage : public testing::TestWithParam<StorageGolden> {};

TEST_P(GoldenStorage, MatchesPyTorchRounded) {
    const StorageGolden& c = GetParam();
    ASSERT_TRUE(c.error.empty()) << c.error;
    if (c.backward) {
        check_backward(c);
    } else {
        check_forward(c);
    }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, GoldenStorage, testing::ValuesIn(all_cases()),
                         [](const testing::TestParamInfo<StorageGolden>& info) {
                             return info.param.name;
                         });

// The data covers every storage type, both ops and both grid types.
TEST(GoldenStorageManifest, CoversTheStorageTypes) {
    std::set<std::string> seen;
    for (const StorageGolden& c : all_cases()) {
        ASSERT_TRUE(c.error.empty()) << c.error;
        seen.insert(std::string(c.backward ? "backward " : "forward ") + gs::to_string(c.dtype) +
                    (c.grid_dtype == gs::DType::float32 ? " float32 grid" : " same grid"));
    }
    for (const char* want :
         {"forward float16 same grid", "forward float16 float32 grid", "forward bfloat16 same grid",
          "forward bfloat16 float32 grid", "forward uint8 float32 grid",
          "backward float16 same grid", "backward float16 float32 grid",
          "backward bfloat16 same grid", "backward bfloat16 float32 grid"}) {
        EXPECT_TRUE(seen.count(want)) << want;
    }
}

}  // namespace
