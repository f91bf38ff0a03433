// `gridsample warp`: an affine warp of an 8-bit image through affine_grid_sample on the image's
// own interleaved uint8 pixels, viewed as a channels-last (N = 1, C, H, W) uint8 tensor: no float
// copy of the image; the library computes in float32 and rounds and clamps each result to 8 bits
// (SEMANTICS.md S10). Without files it is the demo: the built-in test card warped with every mode,
// one PNG each, with the median time of the warp.
#include "commands.h"
#include "demo_image.h"
#include "png_io.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace gridsample::cli {
namespace {

// The demo's transform, used when no --rotate, --scale or --translate is given: large enough to
// show rotation, the padding outside the image and the interpolation of every edge.
constexpr double kDefaultRotateDegrees = 30;
constexpr double kDefaultScale = 1.25;
constexpr double kDefaultTranslateX = 0.1, kDefaultTranslateY = -0.05;
constexpr int kTimedRuns = 20;

// The affine_grid matrix of a rotation by a (degrees) and a scale s in pixel space, followed by a
// translation (tx, ty) in normalized coordinates. affine_grid works in normalized coordinates,
// where x spans the width and y the height, so a rotation of a non-square image is conjugated by
// the aspect ratio r = W / H to stay a rotation in pixels:
//   theta = [[s cos a, -s sin a / r, tx], [s r sin a, s cos a, ty]]
// Options that are not given are the identity, unless none is given: then the demo's transform.
std::array<float, 6> make_theta(const WarpOptions& opts, int width, int height) {
    const bool any = opts.rotate_degrees || opts.scale || opts.translate_x;
    const double degrees = opts.rotate_degrees.value_or(any ? 0.0 : kDefaultRotateDegrees);
    const double s = opts.scale.value_or(any ? 1.0 : kDefaultScale);
    const double tx = opts.translate_x.value_or(any ? 0.0 : kDefaultTranslateX);
    const double ty = opts.translate_y.value_or(any ? 0.0 : kDefaultTranslateY);
    const double a = degrees * 3.14159265358979323846 / 180.0;
    const double r = double(width) / double(height);
    const double sc = s * std::cos(a), ss = s * std::sin(a);
    return {float(sc), float(-ss / r), float(tx),  //
            float(ss * r), float(sc), float(ty)};
}

// One image set up for warping: its pixels and room for the result, both interleaved 8-bit
// (channels-last), and the transform.
class Warp {
public:
    Warp(const Image& image, const std::array<float, 6>& theta, bool align_corners)
        : width_(image.width),
          height_(image.height),
          channels_(image.channels),
          input_(image.pixels),
          theta_(theta),
          output_(input_.size()),
          align_corners_(align_corners) {}

    Status sample(Interpolation mode, Padding padding) {
        Options options;
        options.mode = mode;
        options.padding = padding;
        options.align_corners = align_corners_;
        return affine_grid_sample(channels_last(input_.data()), TensorView(theta_.data(), {1, 2, 3}),
                                  channels_last(output_.data()), options);
    }

    Image result() const {
        Image image;
        image.width = static_cast<int>(width_);
        image.height = static_cast<int>(height_);
        image.channels = static_cast<int>(channels_);
        image.pixels = output_;
        return image;
    }

private:
    // (1, C, H, W) over H x W x C interleaved pixels.
    TensorView channels_last(uint8_t* pixels) const {
        return TensorView(pixels, DType::uint8, {1, channels_, height_, width_},
                          {height_ * width_ * channels_, 1, width_ * channels_, channels_});
    }

    int64_t width_, height_, channels_;
    std::vector<uint8_t> input_;
    std::array<float, 6> theta_;
    std::vector<uint8_t> output_;
    bool align_corners_;
};

// `warp IN.png OUT.png`.
int warp_file(const WarpOptions& opts) {
    std::string error;
    Image image;
    if (!read_image(opts.input_path, image, error)) return report_error("input: " + error);
    Warp warp(image, make_theta(opts, image.width, image.height), opts.options.align_corners);
    if (Status s = warp.sample(opts.options.mode, opts.options.padding); !s.ok()) {
        return report_error(s.message());
    }
    if (!write_png(opts.output_path, warp.result(), error)) return report_error("output: " + error);
    return kExitOk;
}

// `warp` with no files: the demo.
int warp_demo(const WarpOptions& opts) {
    const std::filesystem::path dir = opts.out_dir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return report_error("--out-dir: cannot create " + dir.string() + ": " + ec.message());

    const Image image = make_demo_image();
    std::string error;
    if (!write_png((dir / "warp_input.png").string(), image, error)) return report_error(error);

    Warp warp(image, make_theta(opts, image.width, image.height), opts.options.align_corners);
    std::vector<Interpolation> modes = {Interpolation::bilinear, Interpolation::nearest,
                                        Interpolation::bicubic};
    if (opts.mode_given) modes = {opts.options.mode};
    for (Interpolation mode : modes) {
        // One untimed run (first-touch of the output, thread pool start-up), then the median.
        if (Status s = warp.sample(mode, opts.options.padding); !s.ok()) {
            return report_error(s.message());
        }
        std::vector<double> ms;
        for (int i = 0; i < kTimedRuns; i++) {
            const auto start = std::chrono::steady_clock::now();
            warp.sample(mode, opts.options.padding);
            const std::chrono::duration<double, std::milli> t =
                std::chrono::steady_clock::now() - start;
            ms.push_back(t.count());
        }
        std::sort(ms.begin(), ms.end());
        const double median = (ms[(kTimedRuns - 1) / 2] + ms[kTimedRuns / 2]) / 2;
        const std::string name = to_string(mode);
        const std::filesystem::path path = dir / ("warp_" + name + ".png");
        if (!write_png(path.string(), warp.result(), error)) return report_error(error);
        const int threads = num_threads();
        std::printf("%-8s  %dx%d  %.2f ms (median of %d runs, %d thread%s)\n", name.c_str(),
                    image.width, image.height, median, kTimedRuns, threads,
                    threads == 1 ? "" : "s");
        std::fflush(stdout);
    }
    return kExitOk;
}

}  // namespace

int run_warp(const WarpOptions& opts) {
    if (opts.threads > 0) set_num_threads(opts.threads);
    return opts.input_path.empty() ? warp_demo(opts) : warp_file(opts);
}

}  // namespace gridsample::cli
