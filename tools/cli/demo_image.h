// The demo's built-in picture, drawn procedurally (no image file is shipped).
#pragma once

#include "png_io.h"

namespace gridsample::cli {

// A 512 x 384 RGB test card whose four quadrants make interpolation differences visible: a
// checkerboard with a finer patch (hard edges: nearest vs. smooth modes), a zone plate (aliasing),
// solid discs and a ring on dark ground (edge quality, bicubic overshoot), and diagonal stripes
// with a one-pixel grid over a colour gradient (thin lines).
Image make_demo_image();

}  // namespace gridsample::cli
