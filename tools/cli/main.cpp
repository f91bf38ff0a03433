// gridsample: the command-line tool. This file only parses arguments (CLI11) into the option
// structs of commands.h and maps parse failures to exit code 2; the commands live in
// sample_command.cpp, backward_command.cpp and warp_command.cpp.
#include "commands.h"
#include "device_memory.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

using gridsample::Device;
using gridsample::Interpolation;
using gridsample::Padding;
namespace cli = gridsample::cli;
namespace device_memory = gridsample::device_memory;

const std::map<std::string, Interpolation> kModes = {{"bilinear", Interpolation::bilinear},
                                                     {"nearest", Interpolation::nearest},
                                                     {"bicubic", Interpolation::bicubic}};
const std::map<std::string, Padding> kPaddings = {
    {"zeros", Padding::zeros}, {"border", Padding::border}, {"reflection", Padding::reflection}};

// A CLI11 check that the value is an integer >= `min`.
CLI::Validator integer_at_least(int min) {
    return CLI::Validator(
        [min](std::string& text) {
            char* end = nullptr;
            errno = 0;
            const long v = std::strtol(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > INT32_MAX) {
                return "expected an integer >= " + std::to_string(min) + ", got '" + text + "'";
            }
            return std::string();
        },
        "INT>=" + std::to_string(min));
}

// Parses "X,Y" into two finite numbers.
bool parse_pair(const std::string& text, double& x, double& y) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos) return false;
    const std::string parts[2] = {text.substr(0, comma), text.substr(comma + 1)};
    double* values[2] = {&x, &y};
    for (int i = 0; i < 2; i++) {
        if (parts[i].empty()) return false;
        char* end = nullptr;
        *values[i] = std::strtod(parts[i].c_str(), &end);
        if (end != parts[i].c_str() + parts[i].size() || !std::isfinite(*values[i])) return false;
    }
    return true;
}

// The names of the enum values accepted by --mode and --padding.
template <typename Enum>
std::vector<std::string> names(const std::map<std::string, Enum>& values) {
    std::vector<std::string> out;
    for (const auto& [name, value] : values) out.push_back(name);
    return out;
}

// --mode, --padding and --align-corners, shared by both commands. The enum names are checked by
// CLI11 (another value is a usage error) and converted to the enums after parsing.
struct SamplingArgs {
    std::string mode = "bilinear", padding = "zeros";
    bool align_corners = false;
    CLI::Option* mode_option = nullptr;

    void add_to(CLI::App* cmd) {
        mode_option = cmd->add_option("--mode", mode, "Interpolation (default: bilinear)")
                          ->check(CLI::IsMember(names(kModes)))
                          ->option_text("bilinear|nearest|bicubic");
        cmd->add_option("--padding", padding, "Padding of out-of-range samples (default: zeros)")
            ->check(CLI::IsMember(names(kPaddings)))
            ->option_text("zeros|border|reflection");
        cmd->add_flag("--align-corners", align_corners,
                      "Grid values -1 and +1 are the centres of the corner pixels, not their "
                      "outer edges");
    }
    gridsample::Options options() const {
        gridsample::Options o;
        o.mode = kModes.at(mode);
        o.padding = kPaddings.at(padding);
        o.align_corners = align_corners;
        return o;
    }
};

// Whether two output paths name the same file (whether or not it exists yet).
bool same_file(const std::string& a, const std::string& b) {
    namespace fs = std::filesystem;
    std::error_code ec1, ec2;
    const fs::path pa = fs::weakly_canonical(fs::absolute(a, ec1), ec1);
    const fs::path pb = fs::weakly_canonical(fs::absolute(b, ec2), ec2);
    return (ec1 || ec2) ? a == b : pa == pb;
}

// --dtype bfloat16: NumPy has no bfloat16, so such arrays travel as their bits.
void add_dtype_option(CLI::App* cmd, bool& bfloat16) {
    cmd->add_option_function<std::string>(
           "--dtype", [&bfloat16](const std::string&) { bfloat16 = true; },
           "bfloat16: the 2-byte arrays ('<u2', or '|V2' as ml_dtypes saves bfloat16) hold "
           "bfloat16 bits, and the results are written as such ('<u2')")
        ->check(CLI::IsMember({"bfloat16"}))
        ->option_text("bfloat16");
}

// --device cpu|cuda|opencl|cuda:N|opencl:N: the tensors are copied to the device, the kernels
// run there, and the results are copied back.
void add_device_option(CLI::App* cmd, Device& device) {
    cmd->add_option_function<std::string>(
           "--device",
           [&device](const std::string& text) { device_memory::parse_device(text, device); },
           "Where the kernels run: cpu (default), cuda, opencl, cuda:N or opencl:N (device N)")
        ->check(CLI::Validator(
            [](std::string& text) {
                Device unused;
                return device_memory::parse_device(text, unused)
                           ? std::string()
                           : "expected cpu, cuda, opencl, cuda:N or opencl:N, got '" + text + "'";
            },
            "DEVICE"))
        ->option_text("DEVICE");
}

void add_threads_option(CLI::App* cmd, int& threads) {
    cmd->add_option("--threads", threads, "CPU threads (default or 0: all cores)")
        ->check(integer_at_least(0))
        ->option_text("N");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"gridsample: PyTorch-exact grid_sample and affine_grid on the CPU, CUDA and OpenCL",
                 "gridsample"};
    app.set_version_flag("--version", std::string("gridsample ") + GRIDSAMPLE_VERSION);
    app.require_subcommand(1);

    cli::SampleOptions sample;
    CLI::App* sample_cmd = app.add_subcommand(
        "sample",
        "output = grid_sample(input, grid) on NumPy .npy files (float32, float64, float16, uint8, "
        "or bfloat16 bits with --dtype bfloat16)");
    sample_cmd
        ->add_option("--input", sample.input_path,
                      "Input .npy, (N, C, H, W) or (N, C, D, H, W) (see --channels-last)")
        ->required();
    sample_cmd
        ->add_option("--grid", sample.grid_path, "Grid .npy, (N, Ho, Wo, 2) or (N, Do, Ho, Wo, 3)")
        ->required();
    sample_cmd->add_option("--output", sample.output_path, "Output .npy (written only on success)")
        ->required();
    SamplingArgs sample_sampling;
    sample_sampling.add_to(sample_cmd);
    add_threads_option(sample_cmd, sample.threads);
    sample_cmd->add_option("--repeat", sample.repeat, "Run the operation K times (for timing)")
        ->check(integer_at_least(1))
        ->option_text("K");
    add_device_option(sample_cmd, sample.device);
    add_dtype_option(sample_cmd, sample.bfloat16);
    sample_cmd->add_flag("--channels-last", sample.channels_last,
                         "The input .npy is channels-last, (N, H, W, C) or (N, D, H, W, C), and "
                         "the output is written the same way, (N, Ho, Wo, C) or (N, Do, Ho, Wo, C)");

    cli::BackwardOptions backward;
    CLI::App* backward_cmd = app.add_subcommand(
        "backward",
        "The gradients of grid_sample on NumPy .npy files: grad_input and/or grad_grid from "
        "grad_output, input and grid");
    backward_cmd
        ->add_option("--grad-output", backward.grad_output_path,
                     "Gradient of the output .npy, the output's shape")
        ->required();
    backward_cmd
        ->add_option("--input", backward.input_path, "Input .npy, (N, C, H, W) or (N, C, D, H, W)")
        ->required();
    backward_cmd
        ->add_option("--grid", backward.grid_path, "Grid .npy, (N, Ho, Wo, 2) or (N, Do, Ho, Wo, 3)")
        ->required();
    CLI::Option* grad_input_opt = backward_cmd->add_option(
        "--grad-input", backward.grad_input_path,
        "Where to write the input's gradient (computed only when given)");
    CLI::Option* grad_grid_opt = backward_cmd->add_option(
        "--grad-grid", backward.grad_grid_path,
        "Where to write the grid's gradient (computed only when given)");
    SamplingArgs backward_sampling;
    backward_sampling.add_to(backward_cmd);
    add_threads_option(backward_cmd, backward.threads);
    add_device_option(backward_cmd, backward.device);
    add_dtype_option(backward_cmd, backward.bfloat16);
    backward_cmd->add_option("--repeat", backward.repeat, "Run the operation K times (for timing)")
        ->check(integer_at_least(1))
        ->option_text("K");

    cli::WarpOptions warp;
    CLI::App* warp_cmd = app.add_subcommand(
        "warp",
        "Warp a PNG image with an affine transform (affine_grid_sample: affine_grid and "
        "grid_sample fused). Without files: warp a built-in image with every mode, write "
        "warp_*.png and print timings");
    CLI::Option* in_opt = warp_cmd->add_option("IN.png", warp.input_path, "Image to warp");
    CLI::Option* out_opt =
        warp_cmd->add_option("OUT.png", warp.output_path, "Where to write the result");
    in_opt->needs(out_opt);
    double rotate = 0, scale = 1;
    std::string translate;
    CLI::Option* rotate_opt = warp_cmd->add_option("--rotate", rotate,
                                                   "Rotation in degrees. Without any of "
                                                   "--rotate, --scale, --translate: 30, 1.25 "
                                                   "and 0.1,-0.05; otherwise 0, 1 and 0,0");
    CLI::Option* scale_opt = warp_cmd->add_option("--scale", scale, "Scale of the sampling grid");
    CLI::Option* translate_opt =
        warp_cmd->add_option("--translate", translate, "Translation in normalized units")
            ->option_text("X,Y")
            ->check(CLI::Validator(
                [](std::string& text) {
                    double x, y;
                    return parse_pair(text, x, y) ? std::string()
                                                  : "expected X,Y (two numbers), got " + text;
                },
                "X,Y"));
    SamplingArgs warp_sampling;
    warp_sampling.add_to(warp_cmd);
    add_threads_option(warp_cmd, warp.threads);
    warp_cmd->add_option("--out-dir", warp.out_dir, "Directory for the demo's PNGs (default: .)")
        ->excludes(in_opt);

    // CLI11 would take an unknown command for a stray argument and only say that a command is
    // required; name it instead.
    if (argc > 1 && argv[1][0] != '-' && argv[1] != sample_cmd->get_name() &&
        argv[1] != backward_cmd->get_name() && argv[1] != warp_cmd->get_name()) {
        std::cerr << "error: unknown command '" << argv[1]
                  << "' (expected sample, backward or warp; run with --help for usage)\n";
        return cli::kExitUsage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "error: " << e.what() << " (run with --help for usage)\n";
        return cli::kExitUsage;
    }

    if (backward_cmd->parsed()) {
        // Usage: at least one gradient, and two gradients need two files.
        if (grad_input_opt->count() == 0 && grad_grid_opt->count() == 0) {
            std::cerr << "error: backward needs --grad-input, --grad-grid or both (run with "
                         "--help for usage)\n";
            return cli::kExitUsage;
        }
        if (grad_input_opt->count() && grad_grid_opt->count() &&
            same_file(backward.grad_input_path, backward.grad_grid_path)) {
            std::cerr << "error: --grad-input and --grad-grid name the same file "
                      << backward.grad_input_path << " (run with --help for usage)\n";
            return cli::kExitUsage;
        }
        backward.options = backward_sampling.options();
    } else if (sample_cmd->parsed()) {
        sample.options = sample_sampling.options();
    } else {
        if (rotate_opt->count()) warp.rotate_degrees = rotate;
        if (scale_opt->count()) warp.scale = scale;
        if (translate_opt->count()) {
            double x = 0, y = 0;
            parse_pair(translate, x, y);
            warp.translate_x = x;
            warp.translate_y = y;
        }
        warp.options = warp_sampling.options();
        warp.mode_given = warp_sampling.mode_option->count() > 0;
    }
    // The library reports errors as values; this catches what the standard library may throw
    // (out of memory, file system errors) so that it, too, ends as one "error:" line.
    try {
        if (backward_cmd->parsed()) return cli::run_backward(backward);
        return sample_cmd->parsed() ? cli::run_sample(sample) : cli::run_warp(warp);
    } catch (const std::exception& e) {
        return cli::report_error(e.what());
    }
}
