// OpenCV's cv::remap on the same images: float maps in pixel coordinates, converted from our grid
// once (not timed), with the border mode matching the padding. float32 images, and 8-bit ones
// (uint8 workloads), which remap samples with its fixed-point 1/32-pixel interpolation.
#include "peers.h"

#ifdef GRIDSAMPLE_BENCH_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>
#include <map>
#endif

namespace gridsample_bench {

#ifdef GRIDSAMPLE_BENCH_HAVE_OPENCV

PeerInfo opencv_info() { return {true, std::string("OpenCV ") + CV_VERSION}; }

namespace {

struct Remap {
    cv::Mat map_x, map_y;      // H x W, CV_32FC1, pixel coordinates
    cv::Mat interleaved_in;    // H x W x C, CV_32FC(C) or CV_8UC(C)
    cv::Mat interleaved_out;
};

// The pixel coordinate of a normalized grid value (SEMANTICS.md S2).
float unnormalize(float g, int64_t size, bool align_corners) {
    return align_corners ? (g + 1.0f) / 2.0f * float(size - 1)
                         : ((g + 1.0f) * float(size) - 1.0f) / 2.0f;
}

Remap& remap_for(const Workload& w) {
    static std::map<std::string, Remap> cache;
    auto it = cache.find(w.name);
    if (it != cache.end()) return it->second;
    Remap& r = cache[w.name];
    Data& d = data_for(w);
    const int c = int(w.input_shape[1]), h = int(w.input_shape[2]), wd = int(w.input_shape[3]);
    const float* grid = reinterpret_cast<const float*>(d.grid.data());  // batch item 0
    r.map_x.create(h, wd, CV_32FC1);
    r.map_y.create(h, wd, CV_32FC1);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < wd; x++) {
            const float* g = grid + (int64_t(y) * wd + x) * 2;
            r.map_x.at<float>(y, x) = unnormalize(g[0], wd, w.align_corners);
            r.map_y.at<float>(y, x) = unnormalize(g[1], h, w.align_corners);
        }
    }
    const size_t size = size_t(w.element_size());
    const int type = w.dtype == DType::uint8 ? CV_8UC(c) : CV_32FC(c);
    r.interleaved_in.create(h, wd, type);
    for (int y = 0; y < h; y++) {
        unsigned char* row = r.interleaved_in.ptr<unsigned char>(y);
        for (int x = 0; x < wd; x++) {
            for (int k = 0; k < c; k++) {
                std::memcpy(row + (size_t(x) * c + k) * size,
                            &d.input[((int64_t(k) * h + y) * wd + x) * size], size);
            }
        }
    }
    r.interleaved_out.create(h, wd, type);
    return r;
}

int cv_interpolation(Interpolation mode) {
    switch (mode) {
    case Interpolation::nearest: return cv::INTER_NEAREST;
    case Interpolation::bicubic: return cv::INTER_CUBIC;
    default: return cv::INTER_LINEAR;
    }
}

int cv_border(const Workload& w) {
    switch (w.padding) {
    case Padding::border: return cv::BORDER_REPLICATE;
    case Padding::reflection: return w.align_corners ? cv::BORDER_REFLECT_101 : cv::BORDER_REFLECT;
    default: return cv::BORDER_CONSTANT;
    }
}

}  // namespace

void opencv_remap(const Workload& w, int threads, bool interleaved, benchmark::State& state) {
    if (w.spatial_dims() != 2 || w.input_shape[0] != 1 ||
        (w.dtype != DType::float32 && w.dtype != DType::uint8)) {
        state.SkipWithError("OpenCV comparison needs a single float32 or uint8 image");
        return;
    }
    Remap& r = remap_for(w);
    Data& d = data_for(w);
    cv::setNumThreads(threads);
    const int c = int(w.input_shape[1]), h = int(w.input_shape[2]), wd = int(w.input_shape[3]);
    const int interpolation = cv_interpolation(w.mode), border = cv_border(w);
    unsigned char* in = d.input.data();
    unsigned char* out = d.output.data();
    const int plane_type = w.dtype == DType::uint8 ? CV_8UC1 : CV_32FC1;
    const int64_t plane = int64_t(h) * wd * w.element_size();
    for (auto _ : state) {
        if (interleaved) {
            cv::remap(r.interleaved_in, r.interleaved_out, r.map_x, r.map_y, interpolation, border,
                      cv::Scalar::all(0));
        } else {
            for (int k = 0; k < c; k++) {
                const cv::Mat src(h, wd, plane_type, in + k * plane);
                cv::Mat dst(h, wd, plane_type, out + k * plane);
                cv::remap(src, dst, r.map_x, r.map_y, interpolation, border, cv::Scalar::all(0));
            }
        }
        benchmark::ClobberMemory();
    }
}

#else

PeerInfo opencv_info() { return {false, "OpenCV: not found when configuring"}; }
void opencv_remap(const Workload&, int, bool, benchmark::State& state) {
    state.SkipWithError("OpenCV not found");
}

#endif

}  // namespace gridsample_bench
