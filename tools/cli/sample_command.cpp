// `gridsample sample`: grid_sample on .npy files. Everything is checked and computed in memory
// before the output is written (atomically, by npy::save), so on error the output file is
// neither created nor changed.
#include "commands.h"
#include "device_tensors.h"
#include "npy.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace gridsample::cli {
namespace {

// The shape S1 gives the output, when the input and grid ranks allow one: (N, C, *grid spatial),
// or with --channels-last (N, *grid spatial, C) as the file holds it. Otherwise empty, and the
// library's validation names the problem with input or grid.
std::vector<int64_t> output_shape(const npy::Array& input, const npy::Array& grid,
                                  bool channels_last) {
    const size_t rank = input.shape.size();
    if ((rank != 4 && rank != 5) || grid.shape.size() != rank) return {};
    std::vector<int64_t> shape = {input.shape[0]};
    if (!channels_last) shape.push_back(input.shape[1]);
    shape.insert(shape.end(), grid.shape.begin() + 1, grid.shape.end() - 1);
    if (channels_last) shape.push_back(input.shape.back());
    return shape;
}

// A channels-last array, (N, *spatial, C) in the file, viewed in the library's dimension order
// (N, C, *spatial) with the strides of that layout: PyTorch's channels_last / channels_last_3d.
TensorView channels_last_view(const void* data, DType dtype, const std::vector<int64_t>& shape) {
    const int32_t rank = static_cast<int32_t>(shape.size());
    std::vector<int64_t> sizes(rank), strides(rank);
    sizes[0] = shape[0];
    sizes[1] = shape[rank - 1];
    strides[1] = 1;
    int64_t stride = shape[rank - 1];
    for (int32_t i = rank - 1; i >= 2; i--) {
        sizes[i] = shape[i - 1];
        strides[i] = stride;
        stride *= sizes[i];
    }
    strides[0] = stride;
    return TensorView::make(data, dtype, rank, sizes.data(), strides.data());
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
}

// The bytes an array of `shape` needs, or -1 if that overflows.
int64_t byte_count(DType dtype, const std::vector<int64_t>& shape) {
    int64_t bytes = element_size(dtype);
    for (int64_t s : shape) {
        if (__builtin_mul_overflow(bytes, s, &bytes)) return -1;
    }
    return bytes;
}

int64_t physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? int64_t{pages} * page_size : INT64_MAX;
}

}  // namespace

bool load_operand(const std::string& path, bool bfloat16, npy::Array& array, std::string& error) {
    if (!npy::load(path, array, error)) return false;
    if (array.untyped16 && !bfloat16) {
        error = path + ": 2-byte elements without a float type ('<u2' or '|V2') are read only as "
                       "bfloat16 bits, with --dtype bfloat16";
        return false;
    }
    return true;
}

int run_sample(const SampleOptions& opts) {
    std::string error;
    npy::Array input, grid;
    if (!load_operand(opts.input_path, opts.bfloat16, input, error)) {
        return report_error("input: " + error);
    }
    if (!load_operand(opts.grid_path, opts.bfloat16, grid, error)) {
        return report_error("grid: " + error);
    }
    if (opts.bfloat16 && input.dtype != DType::bfloat16) {
        return report_error(std::string("input: --dtype bfloat16 expects bfloat16 bits ('<u2' or "
                                        "'|V2'), got ") + to_string(input.dtype));
    }

    const size_t input_rank = input.shape.size();
    if (opts.channels_last && input_rank != 4 && input_rank != 5) {
        return report_error("input: --channels-last expects (N, H, W, C) or (N, D, H, W, C), got "
                            "shape " + shape_text(input.shape));
    }

    // The output takes the input's dtype; a grid of another dtype is reported by the library.
    npy::Array output;
    output.dtype = input.dtype;
    output.shape = output_shape(input, grid, opts.channels_last);
    TensorView output_view;  // rank 0 when no shape could be formed: the library names the problem
    // The kernel writes into calloc'd memory, which the OS hands out untouched: an output the
    // library then rejects (over its size limit, say) costs nothing. The result is copied into
    // the array only on success.
    std::unique_ptr<unsigned char, decltype(&std::free)> buffer(nullptr, &std::free);
    int64_t bytes = 0;
    if (!output.shape.empty()) {
        // A small input and grid can describe a huge output (C from one, Ho * Wo from the other).
        bytes = byte_count(output.dtype, output.shape);
        if (bytes < 0 || bytes > physical_memory_bytes()) {
            return report_error("output: shape " + shape_text(output.shape) +
                                " is larger than this machine's memory");
        }
        buffer.reset(static_cast<unsigned char*>(std::calloc(std::max<int64_t>(bytes, 1), 1)));
        if (!buffer) {
            return report_error("output: not enough memory for shape " + shape_text(output.shape));
        }
        output_view = opts.channels_last
                          ? channels_last_view(buffer.get(), output.dtype, output.shape)
                          : TensorView::make(buffer.get(), output.dtype,
                                             static_cast<int32_t>(output.shape.size()),
                                             output.shape.data());
    }

    // On a device: the input and grid copied there, the output computed there and copied back.
    DeviceTensors tensors;
    TensorView input_view, grid_view, placed_output;
    if (Status s = tensors.open(opts.device); !s.ok()) return report_error(s.message());
    const TensorView input_host =
        opts.channels_last ? channels_last_view(input.data(), input.dtype, input.shape) : input.view();
    if (Status s = tensors.place(input_host, input.bytes.size(), true, &input_view); !s.ok()) {
        return report_error("input: " + s.message());
    }
    if (Status s = tensors.place(grid.view(), grid.bytes.size(), true, &grid_view); !s.ok()) {
        return report_error("grid: " + s.message());
    }
    if (Status s = tensors.place(output_view, bytes, false, &placed_output); !s.ok()) {
        return report_error("output: " + s.message());
    }
    const Options options = on_stream(opts.options, tensors);

    if (opts.threads > 0) set_num_threads(opts.threads);
    for (int i = 0; i < opts.repeat; i++) {
        const Status status = grid_sample(input_view, grid_view, placed_output, options);
        if (!status.ok()) return report_error(status.message());
    }
    if (Status s = tensors.fetch(placed_output, bytes, buffer.get()); !s.ok()) {
        return report_error("output: " + s.message());
    }
    try {
        output.bytes.assign(buffer.get(), buffer.get() + bytes);
    } catch (const std::bad_alloc&) {
        return report_error("output: not enough memory for shape " + shape_text(output.shape));
    }
    if (!npy::save(opts.output_path, output, error)) return report_error("output: " + error);
    return kExitOk;
}

}  // namespace gridsample::cli
