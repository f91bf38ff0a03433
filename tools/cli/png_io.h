// 8-bit images in memory and their PNG files (decoded and encoded by stb_image /
// stb_image_write).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gridsample::cli {

// Interleaved 8-bit pixels, row by row: pixels[(y * width + x) * channels + c]. channels is 1
// (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
struct Image {
    int width = 0, height = 0, channels = 0;
    std::vector<uint8_t> pixels;
};

// Reads an image file (PNG; stb_image also decodes JPEG, BMP, ...) with its own channel count.
// On failure returns false and sets `error` to "<path>: <problem>".
bool read_image(const std::string& path, Image& image, std::string& error);

// Writes `image` as a PNG: the data goes to a temporary file beside `path`, renamed over it only
// once complete, so a failure never leaves a partial or changed file.
bool write_png(const std::string& path, const Image& image, std::string& error);

}  // namespace gridsample::cli
