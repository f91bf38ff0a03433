// `gridsample backward`: the gradients of grid_sample on .npy files. Everything is checked and
// computed in memory first. The results are then staged in temporary files beside their
// destinations and only moved into place once every one of them is complete, so on error no
// output file is created or changed, not even one of two.
#include "commands.h"
#include "device_tensors.h"
#include "npy.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace gridsample::cli {
namespace {

namespace fs = std::filesystem;

// One requested gradient: where it goes and its contents.
struct Output {
    const char* name;  // "grad_input" or "grad_grid", the prefix of its error messages
    std::string path;
    npy::Array array;
    TensorView view;
    std::string staged;  // the temporary file holding it, once written
    std::string backup;  // the previous file at `path`, moved aside while replacing it
};

// Before any work: the destination must be a file (or nothing) in an existing directory.
bool check_destination(const Output& out, std::string& error) {
    std::error_code ec;
    const fs::path path(out.path);
    if (fs::is_directory(path, ec)) {
        error = std::string(out.name) + ": " + out.path + ": is a directory";
        return false;
    }
    const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::is_directory(parent, ec)) {
        error = std::string(out.name) + ": " + out.path + ": cannot open for writing (no such directory)";
        return false;
    }
    return true;
}

std::string temporary_name(const std::string& path, const char* what) {
    return path + ".tmp." + what + "." + std::to_string(::getpid());
}

void remove_file(const std::string& path) {
    if (!path.empty()) std::remove(path.c_str());
}

// Moves every staged file into place. If a move fails, the files already replaced get their
// previous contents back (renamed, so inode and times are kept) and the rest are discarded.
bool commit(std::vector<Output*>& outputs, std::string& error) {
    std::error_code ec;
    size_t done = 0;
    for (; done < outputs.size(); done++) {
        Output& o = *outputs[done];
        if (fs::exists(o.path, ec)) {
            o.backup = temporary_name(o.path, "old");
            if (std::rename(o.path.c_str(), o.backup.c_str()) != 0) {
                o.backup.clear();
                error = std::string(o.name) + ": " + o.path + ": cannot replace the file";
                break;
            }
        }
        if (std::rename(o.staged.c_str(), o.path.c_str()) != 0) {
            if (!o.backup.empty()) std::rename(o.backup.c_str(), o.path.c_str());
            o.backup.clear();
            error = std::string(o.name) + ": " + o.path + ": cannot replace the file";
            break;
        }
        o.staged.clear();
    }
    if (done == outputs.size()) {
        for (Output* o : outputs) remove_file(o->backup);
        return true;
    }
    for (size_t i = 0; i < done; i++) {  // undo
        Output& o = *outputs[i];
        if (!o.backup.empty()) {
            std::rename(o.backup.c_str(), o.path.c_str());
        } else {
            remove_file(o.path);
        }
    }
    for (Output* o : outputs) remove_file(o->staged);
    return false;
}

}  // namespace

int run_backward(const BackwardOptions& opts) {
    std::string error;
    Output grad_input{"grad_input", opts.grad_input_path, {}, {}, {}, {}};
    Output grad_grid{"grad_grid", opts.grad_grid_path, {}, {}, {}, {}};
    std::vector<Output*> outputs;
    if (!opts.grad_input_path.empty()) outputs.push_back(&grad_input);
    if (!opts.grad_grid_path.empty()) outputs.push_back(&grad_grid);
    for (const Output* o : outputs) {
        if (!check_destination(*o, error)) return report_error(error);
    }

    npy::Array grad_output, input, grid;
    if (!load_operand(opts.grad_output_path, opts.bfloat16, grad_output, error)) {
        return report_error("grad_output: " + error);
    }
    if (!load_operand(opts.input_path, opts.bfloat16, input, error)) {
        return report_error("input: " + error);
    }
    if (!load_operand(opts.grid_path, opts.bfloat16, grid, error)) {
        return report_error("grid: " + error);
    }

    // The gradients have the shapes of the input and the grid, in the input's dtype (a grid or
    // grad_output of another dtype, or a bad rank, is reported by the library). Only the
    // requested ones get memory.
    if (!opts.grad_input_path.empty()) {
        grad_input.array = npy::zeros(input.dtype, input.shape);
        grad_input.view = grad_input.array.view();
    }
    if (!opts.grad_grid_path.empty()) {
        grad_grid.array = npy::zeros(input.dtype, grid.shape);
        grad_grid.view = grad_grid.array.view();
    }

    // On a device: the inputs copied there, the gradients computed there and copied back.
    DeviceTensors tensors;
    TensorView grad_output_view, input_view, grid_view, grad_input_view, grad_grid_view;
    if (Status s = tensors.open(opts.device); !s.ok()) return report_error(s.message());
    for (auto [array, placed, name] :
         {std::tuple{&grad_output, &grad_output_view, "grad_output"},
          std::tuple{&input, &input_view, "input"}, std::tuple{&grid, &grid_view, "grid"}}) {
        if (Status s = tensors.place(array->view(), array->bytes.size(), true, placed); !s.ok()) {
            return report_error(std::string(name) + ": " + s.message());
        }
    }
    for (auto [out, placed] : {std::pair{&grad_input, &grad_input_view},
                               std::pair{&grad_grid, &grad_grid_view}}) {
        if (out->path.empty()) continue;
        if (Status s = tensors.place(out->view, out->array.bytes.size(), false, placed); !s.ok()) {
            return report_error(std::string(out->name) + ": " + s.message());
        }
    }
    const Options options = on_stream(opts.options, tensors);

    if (opts.threads > 0) set_num_threads(opts.threads);
    for (int i = 0; i < opts.repeat; i++) {
        const Status status = grid_sample_backward(
            grad_output_view, input_view, grid_view,
            opts.grad_input_path.empty() ? nullptr : &grad_input_view,
            opts.grad_grid_path.empty() ? nullptr : &grad_grid_view, options);
        if (!status.ok()) return report_error(status.message());
    }
    for (auto [out, placed] : {std::pair{&grad_input, &grad_input_view},
                               std::pair{&grad_grid, &grad_grid_view}}) {
        if (out->path.empty()) continue;
        if (Status s = tensors.fetch(*placed, out->array.bytes.size(), out->array.bytes.data());
            !s.ok()) {
            return report_error(std::string(out->name) + ": " + s.message());
        }
    }

    // Stage every result, then move them all into place.
    for (Output* o : outputs) {
        o->staged = temporary_name(o->path, "new");
        if (!npy::save(o->staged, o->array, error)) {
            for (Output* p : outputs) remove_file(p->staged);
            return report_error(std::string(o->name) + ": " + o->path +
                                ": cannot open for writing");
        }
    }
    if (!commit(outputs, error)) return report_error(error);
    return kExitOk;
}

}  // namespace gridsample::cli
