// The benchmark workloads (see workloads.h) and their cached data.
#include "workloads.h"

#include "float16.h"
#include "npy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

namespace gridsample_bench {

int64_t product(const std::vector<int64_t>& v) {
    int64_t p = 1;
    for (int64_t x : v) p *= x;
    return p;
}

void fill_unwritten(std::vector<unsigned char>& output) {
    std::fill(output.begin(), output.end(), static_cast<unsigned char>(0xff));
}

namespace {
std::string& outputs_dir() {
    static std::string dir;
    return dir;
}
}  // namespace

void set_outputs_dir(const std::string& dir) { outputs_dir() = dir; }

void print_digest(const std::string& name, const gridsample::Status& status,
                  const std::vector<unsigned char>& output, bool may_differ) {
    if (status.ok() && may_differ && !outputs_dir().empty()) {
        std::string file = name;
        std::replace(file.begin(), file.end(), '/', '.');
        std::ofstream(outputs_dir() + "/" + file + ".bin", std::ios::binary)
            .write(reinterpret_cast<const char*>(output.data()),
                   static_cast<std::streamsize>(output.size()));
    }
    if (status.code() == gridsample::StatusCode::unsupported) {
        std::printf("%s unsupported: %s\n", name.c_str(), status.message().c_str());
    } else if (!status.ok()) {
        std::printf("%s error: %s\n", name.c_str(), status.message().c_str());
    } else {
        uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
        for (unsigned char b : output) h = (h ^ b) * 1099511628211ull;
        std::printf("%s %016llx\n", name.c_str(), static_cast<unsigned long long>(h));
    }
    std::fflush(stdout);
}

int all_cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::vector<int> thread_counts() {
    std::vector<int> t{1};
    if (all_cores() > 1) t.push_back(all_cores());
    return t;
}

std::vector<int64_t> Workload::grid_shape() const {
    std::vector<int64_t> s(input_shape.begin(), input_shape.end());
    s.erase(s.begin() + 1);  // drop C
    s.push_back(spatial_dims());
    return s;
}

std::vector<int64_t> Workload::output_shape() const { return input_shape; }

int64_t Workload::bytes_moved() const {
    return (product(input_shape) + product(output_shape())) * element_size() +
           product(grid_shape()) * grid_element_size();
}

const std::vector<Workload>& forward_workloads() {
    static const std::vector<Workload> workloads = [] {
        std::vector<Workload> w;
        const std::vector<int64_t> feat{8, 64, 128, 128}, image{1, 3, 1080, 1920},
            volume{1, 16, 64, 64, 64}, small{256, 1, 28, 28};
        const std::pair<Interpolation, const char*> modes[] = {
            {Interpolation::bilinear, "bilinear"},
            {Interpolation::nearest, "nearest"},
            {Interpolation::bicubic, "bicubic"}};
        const std::pair<Padding, const char*> paddings[] = {
            {Padding::zeros, "zeros"}, {Padding::border, "border"}, {Padding::reflection, "reflection"}};
        for (auto [mode, mode_name] : modes) {
            for (auto [padding, padding_name] : paddings) {
                Workload k;
                k.name = std::string("feat_") + mode_name + "_" + padding_name;
                k.input_shape = feat;
                k.mode = mode;
                k.padding = padding;
                w.push_back(k);
            }
        }
        for (auto [mode, mode_name] : modes) {
            for (int p = 0; p < 2; p++) {
                Workload k;
                k.name = std::string("image_") + mode_name + "_" + paddings[p].second;
                k.input_shape = image;
                k.mode = mode;
                k.padding = paddings[p].first;
                k.compare_opencv = true;
                w.push_back(k);
            }
        }
        Workload random;
        random.name = "random_bilinear_zeros";
        random.input_shape = feat;
        random.grid = GridKind::random;
        w.push_back(random);
        Workload trilinear;
        trilinear.name = "volume_trilinear_border_ac";
        trilinear.input_shape = volume;
        trilinear.padding = Padding::border;
        trilinear.align_corners = true;
        w.push_back(trilinear);
        Workload nearest3d;
        nearest3d.name = "volume_nearest_zeros";
        nearest3d.input_shape = volume;
        nearest3d.mode = Interpolation::nearest;
        w.push_back(nearest3d);
        Workload stn;
        stn.name = "small_bilinear_zeros";
        stn.input_shape = small;
        w.push_back(stn);
        // Channels-last feature maps and volume (the CPU kernels' channels-last branch).
        for (int m : {0, 1, 2}) {
            Workload k;
            k.name = std::string("feat_") + modes[m].second + "_zeros_nhwc";
            k.input_shape = feat;
            k.mode = modes[m].first;
            k.channels_last = true;
            w.push_back(k);
        }
        Workload trilinear_cl = trilinear;
        trilinear_cl.name = "volume_trilinear_border_ac_ndhwc";
        trilinear_cl.channels_last = true;
        w.push_back(trilinear_cl);
        Workload f64;
        f64.name = "feat_bilinear_zeros_f64";
        f64.input_shape = feat;
        f64.dtype = DType::float64;
        w.push_back(f64);
        // The storage types (S10): feature maps in float16 and bfloat16 with a grid of the same
        // type (as PyTorch takes them), against float32 on the same shape (feat_*_zeros above);
        // 8-bit RGB images with a float32 grid, against OpenCV's 8-bit remap.
        for (auto [dtype, suffix] : {std::pair{DType::float16, "_f16"}, std::pair{DType::bfloat16, "_bf16"}}) {
            for (int m : {0, 2}) {
                Workload k;
                k.name = std::string("feat_") + modes[m].second + "_zeros" + suffix;
                k.input_shape = feat;
                k.mode = modes[m].first;
                k.dtype = dtype;
                w.push_back(k);
            }
        }
        for (auto [mode, mode_name] : modes) {
            Workload k;
            k.name = std::string("image_") + mode_name + "_zeros_u8";
            k.input_shape = image;
            k.mode = mode;
            k.dtype = DType::uint8;
            k.grid_float32 = true;
            k.compare_opencv = true;
            w.push_back(k);
        }
        return w;
    }();
    return workloads;
}

namespace {

// One element of dtype t at p, from a value in its range (float16 and bfloat16 rounded to
// nearest, uint8 truncated).
void encode(double v, DType t, unsigned char* p) {
    switch (t) {
    case DType::float64: std::memcpy(p, &v, 8); break;
    case DType::float16: {
        const uint16_t h = gridsample::npy::float16_bits(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
    }
    case DType::bfloat16: {
        const float f = static_cast<float>(v);
        uint32_t bits = 0;
        std::memcpy(&bits, &f, 4);
        bits += 0x7fff + ((bits >> 16) & 1);
        const uint16_t b = static_cast<uint16_t>(bits >> 16);
        std::memcpy(p, &b, 2);
        break;
    }
    case DType::uint8: *p = static_cast<unsigned char>(v); break;
    default: {
        const float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
    }
    }
}

void fill(Data& d, const Workload& w) {
    const int dims = w.spatial_dims();
    const int64_t n = w.input_shape[0];
    std::mt19937 rng(1234);
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    const int64_t in_size = w.element_size(), grid_size = w.grid_element_size();
    for (int64_t i = 0; i < product(w.input_shape); i++) {
        const double v = unit(rng);
        encode(w.dtype == DType::uint8 ? std::floor((v + 1.0) * 127.99) : v, w.dtype,
               &d.input[i * in_size]);
    }
    const std::vector<int64_t> grid_shape = w.grid_shape();
    if (w.grid == GridKind::random) {
        std::uniform_real_distribution<double> g(-1.1, 1.1);
        for (int64_t i = 0; i < product(grid_shape); i++) {
            encode(g(rng), w.grid_dtype(), &d.grid[i * grid_size]);
        }
        return;
    }
    const double a = 0.3, s = 0.9, c = std::cos(a), sn = std::sin(a);
    std::vector<double> theta;
    for (int64_t b = 0; b < n; b++) {
        if (dims == 2) {
            theta.insert(theta.end(), {s * c, -s * sn, 0.05, s * sn, s * c, -0.03});
        } else {
            theta.insert(theta.end(), {s * c, -s * sn, 0, 0.05,  //
                                       s * sn, s * c, 0, -0.03,  //
                                       0, 0, s, 0.02});
        }
    }
    d.theta.resize(theta.size() * grid_size);
    for (size_t i = 0; i < theta.size(); i++) encode(theta[i], w.grid_dtype(), &d.theta[i * grid_size]);
    const std::vector<int64_t> theta_shape{n, dims, dims + 1};
    d.theta_view =
        gridsample::TensorView::make(d.theta.data(), w.grid_dtype(), 3, theta_shape.data());
    d.grid_status = gridsample::affine_grid(
        d.theta_view, w.input_shape.data(), static_cast<int32_t>(w.input_shape.size()),
        d.grid_view, w.align_corners);
}

}  // namespace

gridsample::Status Data::grid_unusable() const {
    if (grid_status.ok()) return grid_status;
    return gridsample::Status(gridsample::StatusCode::unsupported,
                              "the workload's grid (affine_grid): " + grid_status.message());
}

Data& data_for(const Workload& w) {
    static std::map<std::tuple<std::vector<int64_t>, int, bool, int, int>, Data> cache;
    const auto key = std::make_tuple(w.input_shape, static_cast<int>(w.grid), w.align_corners,
                                     static_cast<int>(w.dtype), static_cast<int>(w.grid_dtype()));
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Data& d = cache[key];
    const int rank = static_cast<int>(w.input_shape.size());
    d.input.resize(product(w.input_shape) * w.element_size());
    d.grid.resize(product(w.grid_shape()) * w.grid_element_size());
    d.output.resize(product(w.output_shape()) * w.element_size());
    const std::vector<int64_t> grid_shape = w.grid_shape(), output_shape = w.output_shape();
    d.input_view = gridsample::TensorView::make(d.input.data(), w.dtype, rank, w.input_shape.data());
    d.grid_view =
        gridsample::TensorView::make(d.grid.data(), w.grid_dtype(), rank, grid_shape.data());
    d.output_view = gridsample::TensorView::make(d.output.data(), w.dtype, rank, output_shape.data());
    fill(d, w);
    // Channels-last copies: element (n, c, s...) at ((n * S + s) * C + c).
    const int64_t size = w.element_size(), channels = w.input_shape[1];
    const int64_t spatial = product(w.input_shape) / (w.input_shape[0] * channels);
    std::vector<int64_t> strides(rank);
    strides[1] = 1;
    int64_t stride = channels;
    for (int i = rank - 1; i >= 2; i--) {
        strides[i] = stride;
        stride *= w.input_shape[i];
    }
    strides[0] = stride;
    d.input_hwc.resize(d.input.size());
    d.output_hwc.resize(d.output.size());
    for (int64_t b = 0; b < w.input_shape[0]; b++) {
        for (int64_t c = 0; c < channels; c++) {
            for (int64_t p = 0; p < spatial; p++) {
                std::memcpy(&d.input_hwc[((b * spatial + p) * channels + c) * size],
                            &d.input[((b * channels + c) * spatial + p) * size], size);
            }
        }
    }
    d.input_hwc_view = gridsample::TensorView::make(d.input_hwc.data(), w.dtype, rank,
                                                    w.input_shape.data(), strides.data());
    d.output_hwc_view = gridsample::TensorView::make(d.output_hwc.data(), w.dtype, rank,
                                                     output_shape.data(), strides.data());
    return d;
}

namespace {

bool save_npy(const std::string& path, const std::vector<unsigned char>& bytes, DType dtype,
              const std::vector<int64_t>& shape, std::string& error) {
    gridsample::npy::Array a;
    a.dtype = dtype;
    a.shape = shape;
    a.bytes = bytes;
    return gridsample::npy::save(path, a, error);
}

const char* mode_name(Interpolation m) {
    return m == Interpolation::bilinear ? "bilinear" : m == Interpolation::nearest ? "nearest" : "bicubic";
}

const char* padding_name(Padding p) {
    return p == Padding::zeros ? "zeros" : p == Padding::border ? "border" : "reflection";
}

}  // namespace

bool dump_workloads(const std::string& dir, std::string& error) {
    // (data set, channels-last) -> file stem
    std::map<std::pair<const Data*, bool>, std::string> written;
    std::ostringstream manifest;
    manifest << "[\n";
    bool first = true;
    for (const Workload& w : forward_workloads()) {
        // The peers outside this binary take float32 and float64 only.
        if (w.dtype != DType::float32 && w.dtype != DType::float64) continue;
        const Data& d = data_for(w);
        auto it = written.find({&d, w.channels_last});
        if (it == written.end()) {
            const std::string stem = w.name;
            // Channels-last: the input as (N, [D,] H, W, C), as the CLI's --channels-last reads it.
            std::vector<int64_t> input_shape = w.input_shape;
            if (w.channels_last) {
                input_shape.erase(input_shape.begin() + 1);
                input_shape.push_back(w.input_shape[1]);
            }
            if (!save_npy(dir + "/" + stem + ".input.npy", w.channels_last ? d.input_hwc : d.input,
                          w.dtype, input_shape, error) ||
                !save_npy(dir + "/" + stem + ".grid.npy", d.grid, w.dtype, w.grid_shape(), error)) {
                return false;
            }
            it = written.emplace(std::pair{&d, w.channels_last}, stem).first;
        }
        manifest << (first ? "" : ",\n") << "  {\"name\": \"" << w.name << "\", \"mode\": \""
                 << mode_name(w.mode) << "\", \"padding\": \"" << padding_name(w.padding)
                 << "\", \"align_corners\": " << (w.align_corners ? "true" : "false")
                 << ", \"dtype\": \"" << (w.dtype == DType::float64 ? "float64" : "float32")
                 << "\", \"images\": " << (w.compare_opencv ? "true" : "false")
                 << ", \"channels_last\": " << (w.channels_last ? "true" : "false")
                 << ", \"input\": \"" << it->second << ".input.npy\", \"grid\": \"" << it->second
                 << ".grid.npy\"}";
        first = false;
    }
    manifest << "\n]\n";
    std::ofstream out(dir + "/workloads.json");
    out << manifest.str();
    if (!out) {
        error = "cannot write " + dir + "/workloads.json";
        return false;
    }
    return true;
}

}  // namespace gridsample_bench
