// The benchmark workloads and their data. Every implementation (ours and the peers) runs on the
// same buffers.
#pragma once

#include "gridsample/gridsample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gridsample_bench {

using gridsample::DType;
using gridsample::Interpolation;
using gridsample::Padding;

// affine: affine_grid of a rotation by 0.3 rad, scale 0.9 and translation (0.05, -0.03) (3-D: also
// scale 0.9 and shift 0.02 along z), built with the workload's align_corners.
// random: uniform in [-1.1, 1.1] (cache-hostile).
enum class GridKind { affine, random };

struct Workload {
    std::string name;                  // e.g. "feat_bilinear_zeros"
    std::vector<int64_t> input_shape;  // (N, C, [D,] H, W)
    GridKind grid = GridKind::affine;
    Interpolation mode = Interpolation::bilinear;
    Padding padding = Padding::zeros;
    bool align_corners = false;
    DType dtype = DType::float32;  // the input's and output's
    bool grid_float32 = false;     // storage types (S10): the grid in float32, not in dtype
    bool compare_opencv = false;   // also run cv::remap (2-D, same data)
    // Input and output channels-last ((N, [D,] H, W, C) in memory, PyTorch's channels_last and
    // channels_last_3d): ours and PyTorch run on Data's *_hwc buffers, the same values as the
    // planar workload of the same shape.
    bool channels_last = false;

    int spatial_dims() const { return static_cast<int>(input_shape.size()) - 2; }
    std::vector<int64_t> grid_shape() const;    // (N, [D,] H, W, d): same spatial size as input
    std::vector<int64_t> output_shape() const;  // (N, C, [D,] H, W)
    // The grid's (and theta's) dtype.
    DType grid_dtype() const { return grid_float32 ? DType::float32 : dtype; }
    int64_t element_size() const { return gridsample::element_size(dtype); }
    int64_t grid_element_size() const { return gridsample::element_size(grid_dtype()); }
    // The bytes any implementation must move at least: the input once, the grid, the output.
    int64_t bytes_moved() const;
};

// The forward workloads, in the order of the results table.
const std::vector<Workload>& forward_workloads();

// A workload's buffers, built once per (shape, grid, align_corners, dtype) and shared.
struct Data {
    std::vector<unsigned char> input, grid, output;
    gridsample::TensorView input_view, grid_view, output_view;
    // How the affine grid was made (gridsample::affine_grid): not ok in a trimmed build without
    // that kernel, and then the grid is left zero and every call on it is reported unsupported.
    gridsample::Status grid_status;
    // grid_status as the status of a call on this data: ok, or unsupported naming affine_grid.
    gridsample::Status grid_unusable() const;
    std::vector<unsigned char> theta;  // affine grids: the (N, d, d+1) matrices they come from
    gridsample::TensorView theta_view;
    // The same input and an output in the channels-last layout ((N, [D,] H, W, C) in memory,
    // viewed in PyTorch's dimension order with the matching strides).
    std::vector<unsigned char> input_hwc, output_hwc;
    gridsample::TensorView input_hwc_view, output_hwc_view;
};
Data& data_for(const Workload& w);

int64_t product(const std::vector<int64_t>& v);

// Writes every forward workload's input and grid as .npy files into `dir` (one pair per distinct
// data set) and a manifest, `dir`/workloads.json, listing each workload with its options and
// files: the data the peers outside this binary (bench/peers/compare.py) are timed on. Returns
// false with `error` set when a file cannot be written.
bool dump_workloads(const std::string& dir, std::string& error);

// The machine's hardware threads, and the thread counts every workload runs at: 1 and all.
int all_cores();
std::vector<int> thread_counts();

// The backward results (bench_backward.cpp) as a markdown table with its summary lines; empty
// when no backward benchmark ran.
std::string backward_table();

// --digests[=DIR] (bench_main.cpp): one line per output of ours, "<name> <digest>" with the
// 64-bit FNV-1a digest of the output's bytes in hex, or "<name> unsupported: <message>" (a kernel
// this build leaves out) or "<name> error: <message>" for the call's status. Every output is
// filled with 0xff bytes (NaN, fill_unwritten) before its call, so an element a kernel fails to
// write changes the digest. Two builds whose lines match computed the same bits on every
// workload. The backward's sums may differ in their last bits between schedules and CPU levels
// (SEMANTICS.md S13 holds only the forward to the same bits everywhere): with DIR, the outputs
// printed with `may_differ` are also written there, as DIR/<name, '/' as '.'>.bin (their raw
// bytes), for a comparison within S11's tolerances (experiments/autoschedulers/compare.py).
void fill_unwritten(std::vector<unsigned char>& output);
void set_outputs_dir(const std::string& dir);
void print_digest(const std::string& name, const gridsample::Status& status,
                  const std::vector<unsigned char>& output, bool may_differ = false);
// The backward workloads' lines at `threads` (bench_backward.cpp).
void print_backward_digests(int threads);

// The gather throughput benchmarks (gather_throughput.cpp): gather/l1 and gather/l2 at each thread
// count, where the CPU has hardware gathers; the float32 elements one iteration gathers over all
// threads; and the instruction set used ("avx512f", "avx2", or "" when none is measured).
void register_gather_benchmarks(const std::vector<int>& thread_counts);
int64_t gather_elements_per_iteration(int threads);
std::string gather_throughput_isa();

}  // namespace gridsample_bench
