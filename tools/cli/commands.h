// The commands of the `gridsample` tool. main.cpp parses the command line into these option
// structs; each command validates its inputs, computes into memory and only then writes its
// output files (atomically), so a failed run never creates or changes an output.
//
// Exit codes: 0 success; 1 bad input (unreadable or invalid files, arguments the library
// rejects), reported as exactly one stderr line starting with "error:"; 2 usage errors (handled
// by the argument parser in main.cpp).
#pragma once

#include "gridsample/gridsample.h"
#include "npy.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

namespace gridsample::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;
inline constexpr int kExitUsage = 2;

// `gridsample sample`: output = grid_sample(input, grid) on .npy files.
struct SampleOptions {
    std::string input_path;
    std::string grid_path;
    std::string output_path;
    Options options;
    Device device;    // where the tensors are copied and the kernels run (--device)
    int threads = 0;  // 0: the library's default (all cores)
    int repeat = 1;   // run the operation this many times (for timing from outside)
    bool bfloat16 = false;  // --dtype bfloat16: 2-byte '<u2' / '|V2' arrays hold bfloat16 bits
    // --channels-last: the input file is (N, H, W, C) or (N, D, H, W, C), and the output is
    // written in the same layout.
    bool channels_last = false;
};
int run_sample(const SampleOptions& opts);

// `gridsample backward`: the gradients of grid_sample on .npy files (SEMANTICS.md S9). Each
// gradient is computed only when its path is given; at least one must be.
struct BackwardOptions {
    std::string grad_output_path;
    std::string input_path;
    std::string grid_path;
    std::string grad_input_path;  // empty: grad_input is not computed
    std::string grad_grid_path;   // empty: grad_grid is not computed
    Options options;
    Device device;    // where the tensors are copied and the kernels run (--device)
    int threads = 0;  // 0: the library's default (all cores)
    int repeat = 1;   // run the operation this many times (for timing from outside)
    bool bfloat16 = false;  // --dtype bfloat16, as for `sample`
};
int run_backward(const BackwardOptions& opts);

// `gridsample warp`: warps a PNG through an affine transform; with no files, the demo.
struct WarpOptions {
    std::string input_path;     // empty: the demo (embedded image, every mode, timings)
    std::string output_path;    // required when input_path is given
    std::string out_dir = ".";  // where the demo writes its PNGs
    std::optional<double> rotate_degrees;
    std::optional<double> scale;
    std::optional<double> translate_x, translate_y;
    Options options;
    bool mode_given = false;  // the demo runs every mode unless --mode is given
    int threads = 0;
};
int run_warp(const WarpOptions& opts);

// Loads a .npy operand of a command: 2-byte elements without a float type ('<u2', '|V2') are
// accepted as bfloat16 bits only when `bfloat16` (--dtype bfloat16) says so. On failure, sets
// `error` (naming the file's problem) and returns false.
bool load_operand(const std::string& path, bool bfloat16, npy::Array& array, std::string& error);

// Prints "error: <message>" as one line on stderr (newlines in `message` become spaces) and
// returns kExitBadInput.
inline int report_error(std::string message) {
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "error: " << message << "\n";
    return kExitBadInput;
}

}  // namespace gridsample::cli
