// The demo's test card; see demo_image.h.
#include "demo_image.h"

#include <algorithm>
#include <cmath>

namespace gridsample::cli {
namespace {

constexpr int kWidth = 512, kHeight = 384;
constexpr int kQuadW = kWidth / 2, kQuadH = kHeight / 2;
constexpr double kPi = 3.14159265358979323846;

struct Rgb {
    double r, g, b;
};

Rgb grey(double v) {
    return {v, v, v};
}

// Top left: 16-pixel checkerboard with a 2-pixel checkerboard patch in its middle.
Rgb checkerboard(int x, int y) {
    const bool fine = x >= 96 && x < 160 && y >= 64 && y < 128;
    const int cell = fine ? 2 : 16;
    const bool white = ((x / cell) + (y / cell)) % 2 == 0;
    return white ? Rgb{240, 240, 230} : Rgb{20, 24, 40};
}

// Top right: a zone plate, cos(k r^2): frequency grows with the distance from the centre.
Rgb zone_plate(int x, int y) {
    const double dx = x - kQuadW / 2.0 + 0.5, dy = y - kQuadH / 2.0 + 0.5;
    const double v = 0.5 + 0.5 * std::cos(kPi * (dx * dx + dy * dy) / 180.0);
    return {40 + 200 * v, 30 + 180 * v, 90 + 150 * v};
}

// Bottom left: solid discs and a ring on a dark background.
Rgb discs(int x, int y) {
    struct Disc {
        double cx, cy, radius;
        Rgb colour;
    };
    static const Disc kDiscs[] = {{60, 60, 44, {230, 40, 40}},
                                  {150, 52, 34, {40, 200, 60}},
                                  {210, 130, 40, {50, 90, 235}},
                                  {90, 145, 26, {245, 210, 30}},
                                  {150, 130, 9, {255, 255, 255}}};
    Rgb c{18, 18, 22};
    for (const Disc& d : kDiscs) {
        if (std::hypot(x + 0.5 - d.cx, y + 0.5 - d.cy) <= d.radius) c = d.colour;
    }
    const double ring = std::hypot(x + 0.5 - 150, y + 0.5 - 130);
    if (ring >= 18 && ring <= 21) c = {255, 120, 0};
    return c;
}

// Bottom right: diagonal sine stripes over a colour gradient, with a one-pixel white grid every
// 16 pixels and a solid triangle.
Rgb stripes(int x, int y) {
    const double u = double(x) / (kQuadW - 1), v = double(y) / (kQuadH - 1);
    const double s = 0.5 + 0.5 * std::sin(2 * kPi * (x + y) / 12.0);
    Rgb c{255 * u * (0.4 + 0.6 * s), 255 * v * (0.4 + 0.6 * s), 255 * (1 - u) * (0.4 + 0.6 * s)};
    if (x % 16 == 0 || y % 16 == 0) c = grey(255);
    // Triangle with corners (40, 170), (128, 30), (216, 170).
    if (y <= 170 && y >= 30 && std::abs(x - 128) <= (y - 30) * 88.0 / 140.0) c = {250, 250, 250};
    return c;
}

}  // namespace

Image make_demo_image() {
    Image image;
    image.width = kWidth;
    image.height = kHeight;
    image.channels = 3;
    image.pixels.resize(size_t(kWidth) * kHeight * 3);
    for (int y = 0; y < kHeight; y++) {
        for (int x = 0; x < kWidth; x++) {
            const int qx = x % kQuadW, qy = y % kQuadH;
            Rgb c;
            if (y < kQuadH) {
                c = x < kQuadW ? checkerboard(qx, qy) : zone_plate(qx, qy);
            } else {
                c = x < kQuadW ? discs(qx, qy) : stripes(qx, qy);
            }
            // A 3-pixel frame around the card and 1-pixel lines between the quadrants.
            const bool frame = x < 3 || y < 3 || x >= kWidth - 3 || y >= kHeight - 3;
            const bool divider = x == kQuadW || y == kQuadH;
            if (frame || divider) c = {255, 255, 255};
            uint8_t* p = &image.pixels[(size_t(y) * kWidth + x) * 3];
            p[0] = static_cast<uint8_t>(std::clamp(std::lround(c.r), 0L, 255L));
            p[1] = static_cast<uint8_t>(std::clamp(std::lround(c.g), 0L, 255L));
            p[2] = static_cast<uint8_t>(std::clamp(std::lround(c.b), 0L, 255L));
        }
    }
    return image;
}

}  // namespace gridsample::cli
