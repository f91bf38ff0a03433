// The `gridsample` command-line tool, run as a separate process in a temporary directory.
//
// sample: results bit-identical to calling gridsample::grid_sample in-process (f32/f64, 2-D/3-D,
// --repeat, --threads); every error path: exit 1 for bad input (the library's S8 errors, hostile
// .npy files, missing or unwritable files) and 2 for usage errors, exactly one stderr line
// starting with "error:" that names the problem, and the output file neither created nor changed.
// backward: gradients bit-identical to calling gridsample::grid_sample_backward in-process (either
// gradient alone or both); the same error rules, and on any error neither output file is created
// or changed.
// warp: the demo's files and timing lines, an exact identity round trip, bad PNGs.
#include "gridsample/gridsample.h"
#include "float16.h"
#include "npy.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace gridsample;

constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;

struct RunResult {
    int exit_code = -1;
    std::string out, err;

    std::vector<std::string> err_lines() const {
        std::vector<std::string> lines;
        std::istringstream in(err);
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
};

std::string read_file(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
}

// Runs the CLI with `args` in `cwd`, stdout and stderr captured through files in `log_dir`.
RunResult run_cli(const fs::path& cwd, const fs::path& log_dir,
                  const std::vector<std::string>& args) {
    const fs::path out_path = log_dir / "stdout.txt", err_path = log_dir / "stderr.txt";
    // The emulator first, in cross builds (qemu-user does not follow execv into another binary).
    std::vector<std::string> copies;
    const std::string runner = GRIDSAMPLE_CLI_RUNNER;
    for (size_t start = 0; start < runner.size();) {
        const size_t end = std::min(runner.find('|', start), runner.size());
        copies.push_back(runner.substr(start, end - start));
        start = end + 1;
    }
    copies.push_back(GRIDSAMPLE_CLI);
    copies.insert(copies.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : copies) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t pid = fork();
    if (pid == 0) {
        const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out_fd < 0 || err_fd < 0 || chdir(cwd.c_str()) != 0) _exit(126);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(argv[0], argv.data());
        _exit(127);
    }
    RunResult r;
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
}

std::string describe(const RunResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// A .npy file with the given header dictionary (padded as NumPy does) and raw data bytes.
std::string npy_file(const std::string& dict, const std::string& data) {
    std::string header = dict;
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return bytes + header + data;
}

std::string npy_dict(const std::string& descr, const std::string& fortran,
                     const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// A valid float32 (1, 1, 4, 4) file.
std::string valid_npy() {
    return npy_file(npy_dict("<f4", "False", "(1, 1, 4, 4)"), std::string(64, '\0'));
}

npy::Array random_array(DType dtype, std::vector<int64_t> shape, double lo, double hi,
                        unsigned seed) {
    npy::Array a = npy::zeros(dtype, std::move(shape));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    for (int64_t i = 0; i < a.numel(); i++) {
        const double v = dist(rng);
        if (dtype == DType::float64) {
            static_cast<double*>(a.data())[i] = v;
        } else if (dtype == DType::float16) {
            static_cast<uint16_t*>(a.data())[i] = npy::float16_bits(static_cast<float>(v));
        } else if (dtype == DType::bfloat16) {  // the top half of a float32
            const float f = static_cast<float>(v);
            uint32_t bits = 0;
            std::memcpy(&bits, &f, 4);
            static_cast<uint16_t*>(a.data())[i] = static_cast<uint16_t>(bits >> 16);
        } else if (dtype == DType::uint8) {
            static_cast<uint8_t*>(a.data())[i] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
        } else {
            static_cast<float*>(a.data())[i] = static_cast<float>(v);
        }
    }
    return a;
}

// grid_sample computed in this process, the oracle of the CLI's output.
npy::Array expected_output(const npy::Array& input, const npy::Array& grid,
                           const Options& options) {
    std::vector<int64_t> shape = {input.shape[0], input.shape[1]};
    shape.insert(shape.end(), grid.shape.begin() + 1, grid.shape.end() - 1);
    npy::Array out = npy::zeros(input.dtype, shape);
    const Status s = grid_sample(input.view(), grid.view(), out.view(), options);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
}

// A file's identity and content, to check that a failed run left it alone.
struct FileSnapshot {
    std::string bytes;
    fs::file_time_type mtime;
    ino_t inode = 0;

    static FileSnapshot of(const fs::path& path) {
        FileSnapshot s;
        s.bytes = read_file(path);
        s.mtime = fs::last_write_time(path);
        struct stat st {};
        if (stat(path.c_str(), &st) == 0) s.inode = st.st_ino;
        return s;
    }
    bool operator==(const FileSnapshot& o) const {
        return bytes == o.bytes && mtime == o.mtime && inode == o.inode;
    }
};

class CliTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "gridsample-cli-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        root_ = pattern;
        work_ = root_ / "work";
        logs_ = root_ / "logs";
        fs::create_directories(work_);
        fs::create_directories(logs_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    fs::path path(const std::string& name) const { return work_ / name; }
    RunResult run(const std::vector<std::string>& args) const {
        return run_cli(work_, logs_, args);
    }

    void save(const std::string& name, const npy::Array& a) const {
        std::string error;
        ASSERT_TRUE(npy::save(path(name).string(), a, error)) << error;
    }
    npy::Array load(const std::string& name) const {
        npy::Array a;
        std::string error;
        EXPECT_TRUE(npy::load(path(name).string(), a, error)) << error;
        return a;
    }

    // No temporary file of an atomic write may be left behind in `dir`.
    void expect_no_temporaries(const fs::path& dir) const {
        for (const auto& entry : fs::directory_iterator(dir)) {
            EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos)
                << "left behind: " << entry.path();
        }
    }

    // Expects exit `code` with exactly one stderr line, starting with "error:" and containing
    // every string of `words`, and nothing on stdout.
    static void expect_error(const RunResult& r, int code, const std::vector<std::string>& words) {
        EXPECT_EQ(r.exit_code, code) << describe(r);
        const std::vector<std::string> lines = r.err_lines();
        ASSERT_EQ(lines.size(), 1u) << describe(r);
        EXPECT_EQ(lines[0].rfind("error:", 0), 0u) << lines[0];
        for (const std::string& w : words) {
            EXPECT_NE(lines[0].find(w), std::string::npos)
                << "expected '" << w << "' in: " << lines[0];
        }
        EXPECT_EQ(r.out, "");
    }

    // Runs `args` (which name `output`) twice: with `output` absent, which must not appear, and
    // with an old file at `output`, which must keep its bytes, mtime and inode.
    void expect_failure_keeps_output(const std::vector<std::string>& args,
                                     const std::string& output, int code,
                                     const std::vector<std::string>& words) const {
        const fs::path out = path(output);
        fs::remove(out);
        {
            SCOPED_TRACE("output absent");
            expect_error(run(args), code, words);
            EXPECT_FALSE(fs::exists(out)) << "created " << out;
        }
        {
            SCOPED_TRACE("output present");
            write_file(out, "an earlier result");
            fs::last_write_time(out, fs::last_write_time(out) - std::chrono::hours(24 * 400));
            const FileSnapshot before = FileSnapshot::of(out);
            expect_error(run(args), code, words);
            EXPECT_TRUE(FileSnapshot::of(out) == before) << "changed " << out;
        }
        expect_no_temporaries(out.parent_path());
    }

    fs::path root_, work_, logs_;
};

// ---- sample: results -------------------------------------------------------------------------

struct SampleCase {
    std::string name;
    DType dtype;
    std::vector<int64_t> input_shape, grid_shape;
    std::vector<std::string> flags;  // CLI options
    Options options;                 // the same, for the in-process call
};

// Test names and failure messages show a case by its name.
void PrintTo(const SampleCase& c, std::ostream* os) { *os << c.name; }

class SampleResult : public CliTest, public ::testing::WithParamInterface<SampleCase> {};

TEST_P(SampleResult, MatchesInProcessCallBitForBit) {
    const SampleCase& c = GetParam();
    const npy::Array input = random_array(c.dtype, c.input_shape, -2, 2, 1);
    const npy::Array grid = random_array(c.dtype, c.grid_shape, -1.2, 1.2, 2);
    save("in.npy", input);
    save("grid.npy", grid);
    std::vector<std::string> args = {"sample", "--input", "in.npy", "--grid", "grid.npy",
                                     "--output", "out.npy"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const RunResult r = run(args);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.err, "");

    const npy::Array expected = expected_output(input, grid, c.options);
    const npy::Array out = load("out.npy");
    EXPECT_EQ(out.dtype, c.dtype);
    EXPECT_EQ(out.shape, expected.shape);
    EXPECT_TRUE(out.bytes == expected.bytes) << "output differs from gridsample::grid_sample";
    expect_no_temporaries(work_);
}

Options make_options(Interpolation mode, Padding padding, bool align_corners) {
    Options o;
    o.mode = mode;
    o.padding = padding;
    o.align_corners = align_corners;
    return o;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, SampleResult,
    ::testing::Values(
        SampleCase{"f32_2d_defaults", DType::float32, {2, 3, 7, 9}, {2, 5, 6, 2}, {}, {}},
        SampleCase{"f64_2d_bicubic_reflection_aligned", DType::float64, {1, 2, 6, 5}, {1, 8, 4, 2},
                   {"--mode", "bicubic", "--padding", "reflection", "--align-corners"},
                   make_options(Interpolation::bicubic, Padding::reflection, true)},
        SampleCase{"f32_2d_nearest_border", DType::float32, {1, 1, 5, 5}, {1, 3, 3, 2},
                   {"--mode", "nearest", "--padding", "border"},
                   make_options(Interpolation::nearest, Padding::border, false)},
        SampleCase{"f32_3d_trilinear_reflection", DType::float32, {2, 2, 3, 4, 5}, {2, 2, 3, 4, 3},
                   {"--padding", "reflection"},
                   make_options(Interpolation::bilinear, Padding::reflection, false)},
        SampleCase{"f64_3d_nearest_zeros_aligned", DType::float64, {1, 3, 4, 3, 2}, {1, 5, 2, 3, 3},
                   {"--mode", "nearest", "--align-corners"},
                   make_options(Interpolation::nearest, Padding::zeros, true)},
        SampleCase{"f32_2d_repeat_and_one_thread", DType::float32, {1, 4, 16, 16}, {1, 9, 11, 2},
                   {"--repeat", "5", "--threads", "1", "--mode", "bicubic"},
                   make_options(Interpolation::bicubic, Padding::zeros, false)},
        SampleCase{"f64_2d_three_threads_device_cpu", DType::float64, {3, 2, 33, 17},
                   {3, 40, 20, 2},
                   {"--threads", "3", "--device", "cpu", "--padding", "border"},
                   make_options(Interpolation::bilinear, Padding::border, false)},
        SampleCase{"f32_2d_empty_batch", DType::float32, {0, 2, 4, 4}, {0, 3, 3, 2}, {}, {}}),
    [](const ::testing::TestParamInfo<SampleCase>& info) { return info.param.name; });

// ---- sample: storage types (S10) ---------------------------------------------------------------

// float16 and uint8 are NumPy types ('<f2', '|u1'); bfloat16 travels as its bits ('<u2', or the
// '|V2' of ml_dtypes) with --dtype bfloat16. The output has the input's type.
TEST_F(CliTest, StorageTypesMatchInProcessCallBitForBit) {
    struct StorageCase {
        DType input, grid;
        std::vector<std::string> flags;
        const char* descr;  // the output file's
    };
    const StorageCase cases[] = {
        {DType::float16, DType::float16, {}, "<f2"},
        {DType::float16, DType::float32, {"--mode", "bicubic"}, "<f2"},
        {DType::uint8, DType::float32, {"--mode", "bicubic", "--padding", "border"}, "|u1"},
        {DType::bfloat16, DType::bfloat16, {"--dtype", "bfloat16"}, "<u2"},
        {DType::bfloat16, DType::float32, {"--dtype", "bfloat16", "--mode", "nearest"}, "<u2"},
    };
    unsigned seed = 40;
    for (const StorageCase& c : cases) {
        SCOPED_TRACE(std::string(to_string(c.input)) + " input, " + to_string(c.grid) + " grid");
        const npy::Array input = random_array(c.input, {2, 3, 9, 11}, c.input == DType::uint8 ? 0 : -2,
                                              c.input == DType::uint8 ? 255 : 2, seed++);
        const npy::Array grid = random_array(c.grid, {2, 5, 7, 2}, -1.2, 1.2, seed++);
        save("in.npy", input);
        save("grid.npy", grid);
        std::vector<std::string> args = {"sample", "--input", "in.npy", "--grid", "grid.npy",
                                         "--output", "out.npy"};
        args.insert(args.end(), c.flags.begin(), c.flags.end());
        const RunResult r = run(args);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        Options o;
        for (size_t i = 0; i + 1 < c.flags.size(); i++) {
            if (c.flags[i] == "--mode") o.mode = c.flags[i + 1] == "bicubic" ? Interpolation::bicubic : Interpolation::nearest;
            if (c.flags[i] == "--padding") o.padding = Padding::border;
        }
        const npy::Array expected = expected_output(input, grid, o);
        const std::string file = read_file(path("out.npy"));
        EXPECT_NE(file.find(std::string("'descr': '") + c.descr + "'"), std::string::npos) << file.substr(0, 80);
        const npy::Array out = load("out.npy");
        EXPECT_EQ(out.shape, expected.shape);
        EXPECT_TRUE(out.bytes == expected.bytes) << "output differs from gridsample::grid_sample";
    }
}

TEST_F(CliTest, BFloat16FromMlDtypesVoidElements) {
    // ml_dtypes' bfloat16 arrays are saved with descr '|V2': the same bits.
    const npy::Array input = random_array(DType::bfloat16, {1, 2, 4, 4}, -1, 1, 50);
    const npy::Array grid = random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 51);
    write_file(path("in.npy"),
               npy_file(npy_dict("|V2", "False", "(1, 2, 4, 4)"),
                        std::string(reinterpret_cast<const char*>(input.bytes.data()), input.bytes.size())));
    save("grid.npy", grid);
    const RunResult r = run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                             "out.npy", "--dtype", "bfloat16"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(load("out.npy").bytes == expected_output(input, grid, {}).bytes);
}

TEST_F(CliTest, TwoByteIntegersNeedDtypeBFloat16) {
    save("in.npy", random_array(DType::bfloat16, {1, 1, 4, 4}, -1, 1, 52));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 53));
    expect_failure_keeps_output(
        {"sample", "--input", "in.npy", "--grid", "grid.npy", "--output", "out.npy"}, "out.npy",
        kExitBadInput, {"input:", "in.npy", "--dtype bfloat16"});
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, -1, 1, 54));
    expect_failure_keeps_output({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                                 "out.npy", "--dtype", "bfloat16"},
                                "out.npy", kExitBadInput,
                                {"input: --dtype bfloat16 expects bfloat16 bits", "float32"});
    expect_failure_keeps_output({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                                 "out.npy", "--dtype", "float16"},
                                "out.npy", kExitUsage, {"--dtype"});
}

TEST_F(CliTest, SampleReplacesAnExistingOutput) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 3));
    save("grid.npy", random_array(DType::float32, {1, 2, 2, 2}, -1, 1, 4));
    write_file(path("out.npy"), "an earlier result");
    const RunResult r =
        run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output", "out.npy"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(load("out.npy").shape, (std::vector<int64_t>{1, 1, 2, 2}));
}

TEST_F(CliTest, ThreadCountAndRepeatDoNotChangeTheResult) {
    save("in.npy", random_array(DType::float32, {2, 3, 40, 30}, -1, 1, 5));
    save("grid.npy", random_array(DType::float32, {2, 25, 35, 2}, -1.1, 1.1, 6));
    std::string first;
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--threads", "1"}, {"--threads", "2"}, {"--threads", "7"},
          {"--threads", "0", "--repeat", "3"}}) {
        std::vector<std::string> args = {"sample", "--input", "in.npy", "--grid", "grid.npy",
                                         "--output", "out.npy", "--mode", "bicubic"};
        args.insert(args.end(), extra.begin(), extra.end());
        const RunResult r = run(args);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        const std::string bytes = read_file(path("out.npy"));
        if (first.empty()) first = bytes;
        EXPECT_TRUE(bytes == first) << "differs with " << extra[0] << " " << extra[1];
    }
}

// ---- sample: channels-last files ----------------------------------------------------------------

// The same elements in the channels-last order: (N, C, *spatial) -> (N, *spatial, C).
npy::Array to_channels_last(const npy::Array& a) {
    const size_t rank = a.shape.size();
    npy::Array out;
    out.dtype = a.dtype;
    out.shape = {a.shape[0]};
    out.shape.insert(out.shape.end(), a.shape.begin() + 2, a.shape.end());
    out.shape.push_back(a.shape[1]);
    out.bytes.resize(a.bytes.size());
    const int64_t size = element_size(a.dtype), channels = a.shape[1];
    int64_t spatial = 1;
    for (size_t i = 2; i < rank; i++) spatial *= a.shape[i];
    for (int64_t n = 0; n < a.shape[0]; n++)
        for (int64_t c = 0; c < channels; c++)
            for (int64_t p = 0; p < spatial; p++)
                std::memcpy(&out.bytes[((n * spatial + p) * channels + c) * size],
                            &a.bytes[((n * channels + c) * spatial + p) * size], size);
    return out;
}

// --channels-last: the input file holds (N, H, W, C) or (N, D, H, W, C) and the output is written
// in that layout, with the bits of the planar in-process call (S13: one result whatever the
// layout). 20 and 17 channels take the CPU kernels' channels-last branch, 3 and 9 the others.
TEST_F(CliTest, ChannelsLastFilesMatchPlanarCallBitForBit) {
    struct Case {
        const char* name;
        DType dtype;
        std::vector<int64_t> input_shape, grid_shape;  // input planar, (N, C, *spatial)
        std::vector<std::string> flags;
        Options options;
    };
    const Case cases[] = {
        {"f32_2d_20_channels", DType::float32, {2, 20, 13, 11}, {2, 9, 14, 2}, {}, {}},
        {"f32_2d_3_channels_bicubic_border", DType::float32, {1, 3, 12, 10}, {1, 7, 6, 2},
         {"--mode", "bicubic", "--padding", "border"},
         make_options(Interpolation::bicubic, Padding::border, false)},
        {"f64_2d_17_channels_nearest_reflection", DType::float64, {2, 17, 9, 8}, {2, 5, 10, 2},
         {"--mode", "nearest", "--padding", "reflection", "--threads", "1"},
         make_options(Interpolation::nearest, Padding::reflection, false)},
        {"f32_3d_9_channels_aligned", DType::float32, {1, 9, 5, 6, 7}, {1, 4, 3, 8, 3},
         {"--align-corners"}, make_options(Interpolation::bilinear, Padding::zeros, true)},
        {"f32_3d_20_channels_border", DType::float32, {2, 20, 4, 5, 6}, {2, 3, 6, 5, 3},
         {"--padding", "border", "--repeat", "2"},
         make_options(Interpolation::bilinear, Padding::border, false)},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const npy::Array input = random_array(c.dtype, c.input_shape, -2, 2, 21);
        const npy::Array grid = random_array(c.dtype, c.grid_shape, -1.2, 1.2, 22);
        save("in_cl.npy", to_channels_last(input));
        save("grid.npy", grid);
        std::vector<std::string> args = {"sample", "--input", "in_cl.npy", "--grid", "grid.npy",
                                         "--output", "out.npy", "--channels-last"};
        args.insert(args.end(), c.flags.begin(), c.flags.end());
        const RunResult r = run(args);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        const npy::Array expected = to_channels_last(expected_output(input, grid, c.options));
        const npy::Array out = load("out.npy");
        EXPECT_EQ(out.shape, expected.shape);
        EXPECT_TRUE(out.bytes == expected.bytes) << "output differs from the planar call";
    }
}

TEST_F(CliTest, ChannelsLastNeedsRankFourOrFive) {
    save("in.npy", random_array(DType::float32, {4, 4, 3}, 0, 1, 23));
    save("grid.npy", random_array(DType::float32, {1, 2, 2, 2}, -1, 1, 24));
    expect_failure_keeps_output({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                                 "out.npy", "--channels-last"},
                                "out.npy", kExitBadInput, {"input:", "--channels-last", "(4, 4, 3)"});
}

// ---- sample: errors the library reports (S8) ---------------------------------------------------

struct ShapeErrorCase {
    std::string name;
    DType input_dtype, grid_dtype;
    std::vector<int64_t> input_shape, grid_shape;
    std::vector<std::string> flags;
    std::vector<std::string> words;  // the stderr line must contain each
};

// Test names and failure messages show a case by its name.
void PrintTo(const ShapeErrorCase& c, std::ostream* os) { *os << c.name; }

class SampleShapeError : public CliTest, public ::testing::WithParamInterface<ShapeErrorCase> {};

TEST_P(SampleShapeError, ExitsOneNamingTheProblemAndKeepsOutput) {
    const ShapeErrorCase& c = GetParam();
    save("in.npy", random_array(c.input_dtype, c.input_shape, 0, 1, 7));
    save("grid.npy", random_array(c.grid_dtype, c.grid_shape, -1, 1, 8));
    std::vector<std::string> args = {"sample", "--input", "in.npy", "--grid", "grid.npy",
                                     "--output", "out.npy"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    expect_failure_keeps_output(args, "out.npy", kExitBadInput, c.words);
}

constexpr DType f32 = DType::float32, f64 = DType::float64;

INSTANTIATE_TEST_SUITE_P(
    Cli, SampleShapeError,
    ::testing::Values(
        ShapeErrorCase{"grid_last_dimension", f32, f32, {1, 2, 5, 6}, {1, 3, 4, 3}, {},
                       {"grid:", "last dimension 2", "got 3"}},
        ShapeErrorCase{"grid_last_dimension_3d", f32, f32, {1, 2, 3, 5, 6}, {1, 3, 4, 2, 2}, {},
                       {"grid:", "last dimension 3", "got 2"}},
        ShapeErrorCase{"batch_mismatch", f32, f32, {2, 2, 5, 6}, {3, 3, 4, 2}, {},
                       {"grid:", "batch size 2", "got 3"}},
        ShapeErrorCase{"grid_rank_5_for_4d_input", f32, f32, {1, 2, 5, 6}, {1, 2, 3, 4, 2}, {},
                       {"grid:", "rank 5"}},
        ShapeErrorCase{"grid_rank_4_for_5d_input", f64, f64, {1, 2, 3, 5, 6}, {1, 3, 4, 3}, {},
                       {"grid:", "rank 4"}},
        ShapeErrorCase{"input_rank_3", f32, f32, {2, 5, 6}, {2, 3, 4, 2}, {},
                       {"input:", "rank 3"}},
        ShapeErrorCase{"input_rank_6", f32, f32, {1, 1, 2, 2, 2, 2}, {1, 3, 4, 2}, {},
                       {"input:", "rank 6"}},
        ShapeErrorCase{"empty_spatial_input", f32, f32, {1, 2, 0, 6}, {1, 3, 4, 2}, {},
                       {"input:", "spatial"}},
        ShapeErrorCase{"bicubic_on_5d", f32, f32, {1, 2, 3, 5, 6}, {1, 2, 3, 4, 3},
                       {"--mode", "bicubic"}, {"bicubic", "5-D"}},
        ShapeErrorCase{"dtype_f32_input_f64_grid", f32, f64, {1, 2, 5, 6}, {1, 3, 4, 2}, {},
                       {"grid:", "dtype float32", "float64"}},
        ShapeErrorCase{"dtype_f64_input_f32_grid", f64, f32, {1, 2, 5, 6}, {1, 3, 4, 2}, {},
                       {"grid:", "dtype float64", "float32"}}),
    [](const ::testing::TestParamInfo<ShapeErrorCase>& info) { return info.param.name; });

// ---- sample: hostile .npy files --------------------------------------------------------------

struct HostileCase {
    std::string name;
    std::string bytes;
    std::string problem;  // the stderr line must contain it
};

// Test names and failure messages show a case by its name.
void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

class HostileNpy : public CliTest, public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileNpy, AsInputExitsOneAndKeepsOutput) {
    write_file(path("in.npy"), GetParam().bytes);
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 9));
    expect_failure_keeps_output(
        {"sample", "--input", "in.npy", "--grid", "grid.npy", "--output", "out.npy"}, "out.npy",
        kExitBadInput, {"input:", "in.npy", GetParam().problem});
}

TEST_P(HostileNpy, AsGridExitsOneAndKeepsOutput) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 10));
    write_file(path("grid.npy"), GetParam().bytes);
    expect_failure_keeps_output(
        {"sample", "--input", "in.npy", "--grid", "grid.npy", "--output", "out.npy"}, "out.npy",
        kExitBadInput, {"grid:", "grid.npy", GetParam().problem});
}

std::string with_byte(std::string bytes, size_t at, char value) {
    bytes[at] = value;
    return bytes;
}

// A version 1.0 or 2.0 file whose header length field says `length` but holds only `header`.
std::string header_length_past_eof(int major, uint32_t length, const std::string& header) {
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\x00';
    for (int i = 0; i < (major == 1 ? 2 : 4); i++) bytes += static_cast<char>((length >> (8 * i)) & 0xff);
    return bytes + header;
}

std::string huge_header_length() {
    std::string bytes = "\x93NUMPY";
    bytes += '\x02';
    bytes += '\x00';
    bytes += std::string(4, '\xff');
    return bytes + "{'descr': '<f4'";
}

INSTANTIATE_TEST_SUITE_P(
    Cli, HostileNpy,
    ::testing::Values(
        HostileCase{"empty_file", "", "bad magic"},
        HostileCase{"bad_magic", with_byte(valid_npy(), 1, 'X'), "bad magic"},
        HostileCase{"unknown_version", with_byte(valid_npy(), 6, '\x09'), "version 9"},
        HostileCase{"truncated_header", valid_npy().substr(0, 30), "truncated header"},
        HostileCase{"huge_header_length", huge_header_length(), "header length"},
        HostileCase{"no_dictionary", npy_file("not a dictionary", ""), "malformed header"},
        HostileCase{"no_shape", npy_file("{'descr': '<f4', 'fortran_order': False, }", ""),
                    "no 'shape'"},
        HostileCase{"truncated_data", valid_npy().substr(0, valid_npy().size() - 24),
                    "truncated data"},
        HostileCase{"trailing_garbage", valid_npy() + "garbage", "trailing data"},
        HostileCase{"dtype_int32",
                    npy_file(npy_dict("<i4", "False", "(1, 1, 4, 4)"), std::string(64, '\0')),
                    "unsupported dtype"},
        HostileCase{"dtype_big_endian_f32",
                    npy_file(npy_dict(">f4", "False", "(1, 1, 4, 4)"), std::string(64, '\0')),
                    "unsupported dtype"},
        HostileCase{"dtype_big_endian_f16",
                    npy_file(npy_dict(">f2", "False", "(1, 1, 4, 4)"), std::string(32, '\0')),
                    "unsupported dtype"},
        HostileCase{"dtype_int8",
                    npy_file(npy_dict("|i1", "False", "(1, 1, 4, 4)"), std::string(16, '\0')),
                    "unsupported dtype"},
        HostileCase{"truncated_f16",
                    npy_file(npy_dict("<f2", "False", "(1, 1, 4, 4)"), std::string(31, '\0')),
                    "truncated"},
        HostileCase{"fortran_order",
                    npy_file(npy_dict("<f4", "True", "(1, 1, 4, 4)"), std::string(64, '\0')),
                    "Fortran"},
        HostileCase{"absurd_shape",
                    npy_file(npy_dict("<f4", "False", "(1000000000, 1000000000)"), ""),
                    "too large"},
        HostileCase{"overflowing_shape",
                    npy_file(npy_dict("<f8", "False",
                                      "(4000000000000, 4000000000000, 4000000000000, "
                                      "4000000000000)"),
                             ""),
                    "too large"},
        HostileCase{"negative_shape", npy_file(npy_dict("<f4", "False", "(-1, 1, 4, 4)"), ""),
                    "shape"},
        HostileCase{"negative_inner_shape",
                    npy_file(npy_dict("<f4", "False", "(1, 1, -4, 4)"), std::string(64, '\0')),
                    "non-integer entry"},
        HostileCase{"header_length_past_eof_v1",
                    header_length_past_eof(1, 0xffff, npy_dict("<f4", "False", "(1, 1, 4, 4)")),
                    "truncated header"},
        HostileCase{"header_length_past_eof_v2",
                    header_length_past_eof(2, 100000, npy_dict("<f4", "False", "(1, 1, 4, 4)")),
                    "truncated header"},
        HostileCase{"huge_header_length_v3", with_byte(huge_header_length(), 6, '\x03'),
                    "header length"},
        HostileCase{"truncated_magic", std::string("\x93NUM"), "bad magic"},
        HostileCase{"non_ascii_header",
                    npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), "
                             "'\xc3\xa9t\xc3\xa9': 1, }",
                             std::string(64, '\0')),
                    "not ASCII"},
        HostileCase{"nul_in_header",
                    npy_file(npy_dict("<f4", "False", "(1, 1, 4, 4)").insert(16, 1, '\0'),
                             std::string(64, '\0')),
                    "control character"},
        HostileCase{"no_descr", npy_file("{'fortran_order': False, 'shape': (1, 1, 4, 4), }",
                                         std::string(64, '\0')),
                    "no 'descr'"},
        HostileCase{"no_fortran_order", npy_file("{'descr': '<f4', 'shape': (1, 1, 4, 4), }",
                                                 std::string(64, '\0')),
                    "no 'fortran_order'"},
        HostileCase{"malformed_fortran_order",
                    npy_file(npy_dict("<f4", "Maybe", "(1, 1, 4, 4)"), std::string(64, '\0')),
                    "fortran_order"},
        HostileCase{"dtype_complex",
                    npy_file(npy_dict("<c8", "False", "(1, 1, 4, 4)"), std::string(128, '\0')),
                    "unsupported dtype"},
        HostileCase{"dtype_object",
                    npy_file(npy_dict("|O", "False", "(1, 1, 4, 4)"), std::string(128, '\0')),
                    "unsupported dtype"},
        HostileCase{"shape_not_a_tuple",
                    npy_file(npy_dict("<f4", "False", "[1, 1, 4, 4]"), std::string(64, '\0')),
                    "not a tuple"},
        HostileCase{"shape_unterminated",
                    npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4, }",
                             std::string(64, '\0')),
                    "shape"},
        HostileCase{"shape_float_entry",
                    npy_file(npy_dict("<f4", "False", "(1, 1, 4.0, 4)"), std::string(64, '\0')),
                    "malformed entry"},
        HostileCase{"shape_too_many_dimensions",
                    npy_file(npy_dict("<f4", "False",
                                      "(" + [] {
                                          std::string ones;
                                          for (int i = 0; i < 40; i++) ones += "1, ";
                                          return ones;
                                      }() + ")"),
                             std::string(4, '\0')),
                    "too many dimensions"},
        HostileCase{"shape_entry_beyond_int64",
                    npy_file(npy_dict("<f4", "False", "(99999999999999999999999, 1)"), ""),
                    "too large"}),
    [](const ::testing::TestParamInfo<HostileCase>& info) { return info.param.name; });

// Valid .npy files of ranks the library does not take: a 0-d array, a 1-element 1-D array, and
// a 6-D array. The CLI reports the library's error (exit 1) and writes nothing.
TEST_F(CliTest, ZeroDimensionalAndHighRankArraysAreRefused) {
    const std::string zero_d = npy_file(npy_dict("<f4", "False", "()"), std::string(4, '\0'));
    const std::string one_d = npy_file(npy_dict("<f4", "False", "(1,)"), std::string(4, '\0'));
    const std::string six_d =
        npy_file(npy_dict("<f4", "False", "(1, 1, 1, 1, 2, 2)"), std::string(16, '\0'));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 12));
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 13));
    const std::vector<std::string> args = {"sample", "--input", "bad.npy", "--grid", "grid.npy",
                                           "--output", "out.npy"};
    for (const auto& [bytes, rank] :
         {std::pair{zero_d, "rank 0"}, std::pair{one_d, "rank 1"}, std::pair{six_d, "rank 6"}}) {
        SCOPED_TRACE(rank);
        write_file(path("bad.npy"), bytes);
        expect_failure_keeps_output(args, "out.npy", kExitBadInput, {"input:", rank});
        expect_failure_keeps_output({"sample", "--input", "in.npy", "--grid", "bad.npy",
                                     "--output", "out.npy"},
                                    "out.npy", kExitBadInput, {"grid:", rank});
    }
}

// A directory where a file is expected, and an empty grid file next to a valid input.
TEST_F(CliTest, InputIsADirectory) {
    fs::create_directories(path("dir.npy"));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 14));
    expect_failure_keeps_output({"sample", "--input", "dir.npy", "--grid", "grid.npy",
                                 "--output", "out.npy"},
                                "out.npy", kExitBadInput, {"input:", "dir.npy"});
}

// ---- sample: files that cannot be read or written ----------------------------------------------

TEST_F(CliTest, MissingInputFile) {
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 11));
    expect_failure_keeps_output(
        {"sample", "--input", "absent.npy", "--grid", "grid.npy", "--output", "out.npy"}, "out.npy",
        kExitBadInput, {"input:", "absent.npy", "cannot open"});
}

TEST_F(CliTest, MissingGridFile) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 12));
    expect_failure_keeps_output(
        {"sample", "--input", "in.npy", "--grid", "absent.npy", "--output", "out.npy"}, "out.npy",
        kExitBadInput, {"grid:", "absent.npy", "cannot open"});
}

TEST_F(CliTest, OutputInMissingDirectory) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 13));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 14));
    const RunResult r = run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                             "no_such_dir/out.npy"});
    expect_error(r, kExitBadInput, {"output:", "no_such_dir/out.npy"});
    EXPECT_FALSE(fs::exists(path("no_such_dir")));
}

TEST_F(CliTest, OutputIsADirectory) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 15));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 16));
    fs::create_directory(path("out.npy"));
    write_file(path("out.npy") / "kept", "x");
    const RunResult r =
        run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output", "out.npy"});
    expect_error(r, kExitBadInput, {"output:", "out.npy"});
    EXPECT_TRUE(fs::is_directory(path("out.npy")));
    EXPECT_EQ(read_file(path("out.npy") / "kept"), "x");
    expect_no_temporaries(work_);
}

// ---- usage errors ----------------------------------------------------------------------------

struct UsageCase {
    std::string name;
    std::vector<std::string> args;
    std::string word;  // the stderr line must contain it
};

// Test names and failure messages show a case by its name.
void PrintTo(const UsageCase& c, std::ostream* os) { *os << c.name; }

class UsageError : public CliTest, public ::testing::WithParamInterface<UsageCase> {};

TEST_P(UsageError, ExitsTwoAndKeepsOutput) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 17));
    save("grid.npy", random_array(DType::float32, {1, 3, 3, 2}, -1, 1, 18));
    expect_failure_keeps_output(GetParam().args, "out.npy", kExitUsage, {GetParam().word});
}

std::vector<std::string> sample_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"sample", "--input", "in.npy", "--grid", "grid.npy",
                                     "--output", "out.npy"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, UsageError,
    ::testing::Values(
        UsageCase{"no_command", {}, "subcommand"},
        UsageCase{"unknown_command", {"resample", "--output", "out.npy"}, "resample"},
        UsageCase{"unknown_option", sample_args({"--bogus"}), "--bogus"},
        UsageCase{"missing_input", {"sample", "--grid", "grid.npy", "--output", "out.npy"},
                  "--input"},
        UsageCase{"missing_grid", {"sample", "--input", "in.npy", "--output", "out.npy"}, "--grid"},
        UsageCase{"missing_output_option", {"sample", "--input", "in.npy", "--grid", "grid.npy"},
                  "--output"},
        UsageCase{"bad_mode", sample_args({"--mode", "cubic"}), "--mode"},
        UsageCase{"bad_padding", sample_args({"--padding", "wrap"}), "--padding"},
        UsageCase{"threads_not_a_number", sample_args({"--threads", "many"}), "--threads"},
        UsageCase{"threads_negative", sample_args({"--threads", "-2"}), "--threads"},
        UsageCase{"repeat_zero", sample_args({"--repeat", "0"}), "--repeat"},
        UsageCase{"repeat_fraction", sample_args({"--repeat", "1.5"}), "--repeat"},
        UsageCase{"device_unknown", sample_args({"--device", "vulkan"}), "--device"},
        UsageCase{"device_bad_index", sample_args({"--device", "cuda:x"}), "--device"},
        UsageCase{"device_negative_index", sample_args({"--device", "opencl:-1"}), "--device"},
        UsageCase{"option_missing_value", sample_args({"--mode"}), "--mode"},
        UsageCase{"warp_input_without_output", {"warp", "out.npy"}, "OUT.png"},
        UsageCase{"warp_bad_translate", {"warp", "in.png", "out.npy", "--translate", "1"},
                  "--translate"},
        UsageCase{"warp_bad_rotate", {"warp", "in.png", "out.npy", "--rotate", "left"},
                  "--rotate"}),
    [](const ::testing::TestParamInfo<UsageCase>& info) { return info.param.name; });

TEST_F(CliTest, HelpAndVersion) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--help"}, {"sample", "--help"}, {"warp", "--help"}}) {
        const RunResult r = run(args);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
    }
    EXPECT_NE(run({"sample", "--help"}).out.find("--align-corners"), std::string::npos);
    EXPECT_NE(run({"warp", "--help"}).out.find("--rotate"), std::string::npos);
    const RunResult v = run({"--version"});
    EXPECT_EQ(v.exit_code, 0) << describe(v);
    EXPECT_EQ(v.out.rfind("gridsample ", 0), 0u) << v.out;
}

// ---- warp ------------------------------------------------------------------------------------

TEST_F(CliTest, WarpDemoWritesFourPngsAndPrintsThreeTimings) {
    const RunResult r = run({"warp"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.err, "");
    for (const char* name : {"warp_input.png", "warp_bilinear.png", "warp_nearest.png",
                             "warp_bicubic.png"}) {
        ASSERT_TRUE(fs::exists(path(name))) << name;
        EXPECT_EQ(read_file(path(name)).substr(1, 3), "PNG") << name;
    }
    std::istringstream lines(r.out);
    const std::regex timing(R"((bilinear|nearest|bicubic) +512x384 +[0-9]+\.[0-9]+ ms )"
                            R"(\(median of 20 runs, [0-9]+ threads?\))");
    std::vector<std::string> modes;
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        EXPECT_TRUE(std::regex_match(line, m, timing)) << line;
        if (m.size() > 1) modes.push_back(m[1]);
    }
    EXPECT_EQ(modes, (std::vector<std::string>{"bilinear", "nearest", "bicubic"}));
    // Different modes give different pictures.
    EXPECT_NE(read_file(path("warp_bilinear.png")), read_file(path("warp_nearest.png")));
    EXPECT_NE(read_file(path("warp_bilinear.png")), read_file(path("warp_bicubic.png")));
    expect_no_temporaries(work_);
}

TEST_F(CliTest, WarpDemoWithOutDirAndOneMode) {
    const RunResult r = run({"warp", "--out-dir", "demo/pictures", "--mode", "nearest", "--threads",
                             "1", "--padding", "border", "--align-corners"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(fs::exists(path("demo/pictures/warp_input.png")));
    EXPECT_TRUE(fs::exists(path("demo/pictures/warp_nearest.png")));
    EXPECT_FALSE(fs::exists(path("demo/pictures/warp_bilinear.png")));
    EXPECT_TRUE(std::regex_match(
        r.out, std::regex(R"(nearest +512x384 +[0-9.]+ ms \(median of 20 runs, 1 thread\)\n)")))
        << r.out;
}

class WarpIdentity : public CliTest, public ::testing::WithParamInterface<std::string> {};

// With align_corners, the identity transform samples every pixel centre exactly (S2), so the
// 8-bit result is the input again.
TEST_P(WarpIdentity, RoundTripsTheImageExactly) {
    ASSERT_EQ(run({"warp", "--mode", "nearest"}).exit_code, 0);
    const RunResult r = run({"warp", "warp_input.png", "identity.png", "--rotate", "0", "--scale",
                             "1", "--translate", "0,0", "--align-corners", "--mode", GetParam()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(read_file(path("identity.png")) == read_file(path("warp_input.png")))
        << "the identity warp changed the image";
    expect_no_temporaries(work_);
}

INSTANTIATE_TEST_SUITE_P(Cli, WarpIdentity, ::testing::Values("bilinear", "nearest", "bicubic"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param;
                         });

TEST_F(CliTest, WarpFileWithTransformChangesTheImage) {
    ASSERT_EQ(run({"warp", "--mode", "nearest"}).exit_code, 0);
    const RunResult r = run({"warp", "warp_input.png", "turned.png", "--rotate", "-90",
                             "--padding", "reflection", "--mode", "bicubic"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(read_file(path("turned.png")).substr(1, 3), "PNG");
    EXPECT_NE(read_file(path("turned.png")), read_file(path("warp_input.png")));
}

TEST_F(CliTest, WarpRejectsAFileThatIsNotAPng) {
    write_file(path("bad.png"), "\x89PNG\r\n\x1a\nthis is not really an image");
    expect_failure_keeps_output({"warp", "bad.png", "out.png"}, "out.png", kExitBadInput,
                                {"input:", "bad.png"});
}

TEST_F(CliTest, WarpRejectsATruncatedPng) {
    ASSERT_EQ(run({"warp", "--mode", "nearest"}).exit_code, 0);
    const std::string png = read_file(path("warp_input.png"));
    write_file(path("cut.png"), png.substr(0, png.size() / 2));
    expect_failure_keeps_output({"warp", "cut.png", "out.png"}, "out.png", kExitBadInput,
                                {"input:", "cut.png"});
}

TEST_F(CliTest, WarpMissingInputFile) {
    expect_failure_keeps_output({"warp", "absent.png", "out.png"}, "out.png", kExitBadInput,
                                {"input:", "absent.png", "cannot open"});
}

TEST_F(CliTest, WarpOutputInMissingDirectory) {
    ASSERT_EQ(run({"warp", "--mode", "nearest"}).exit_code, 0);
    const RunResult r = run({"warp", "warp_input.png", "no_such_dir/out.png"});
    expect_error(r, kExitBadInput, {"output:", "no_such_dir/out.png"});
    EXPECT_FALSE(fs::exists(path("no_such_dir")));
    expect_no_temporaries(work_);
}

// ---- backward ------------------------------------------------------------------------------

struct BackwardCase {
    std::string name;
    DType dtype;
    std::vector<int64_t> input_shape, grid_shape;
    bool grad_input, grad_grid;       // which gradients the command line asks for
    std::vector<std::string> flags;  // other CLI options
    Options options;                 // the same, for the in-process call
};

void PrintTo(const BackwardCase& c, std::ostream* os) { *os << c.name; }

class BackwardResult : public CliTest, public ::testing::WithParamInterface<BackwardCase> {};

TEST_P(BackwardResult, MatchesInProcessCallBitForBit) {
    const BackwardCase& c = GetParam();
    const npy::Array input = random_array(c.dtype, c.input_shape, -2, 2, 21);
    const npy::Array grid = random_array(c.dtype, c.grid_shape, -1.2, 1.2, 22);
    std::vector<int64_t> out_shape = {c.input_shape[0], c.input_shape[1]};
    out_shape.insert(out_shape.end(), c.grid_shape.begin() + 1, c.grid_shape.end() - 1);
    const npy::Array grad_output = random_array(c.dtype, out_shape, -1, 1, 23);
    save("go.npy", grad_output);
    save("in.npy", input);
    save("grid.npy", grid);
    std::vector<std::string> args = {"backward", "--grad-output", "go.npy", "--input", "in.npy",
                                     "--grid", "grid.npy"};
    if (c.grad_input) args.insert(args.end(), {"--grad-input", "gi.npy"});
    if (c.grad_grid) args.insert(args.end(), {"--grad-grid", "gg.npy"});
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const RunResult r = run(args);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.err, "");

    npy::Array gi = npy::zeros(c.dtype, c.input_shape), gg = npy::zeros(c.dtype, c.grid_shape);
    const TensorView gi_view = gi.view(), gg_view = gg.view();
    const Status s = grid_sample_backward(grad_output.view(), input.view(), grid.view(),
                                          &gi_view, &gg_view, c.options);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(fs::exists(path("gi.npy")), c.grad_input);
    EXPECT_EQ(fs::exists(path("gg.npy")), c.grad_grid);
    if (c.grad_input) {
        const npy::Array got = load("gi.npy");
        EXPECT_EQ(got.dtype, c.dtype);
        EXPECT_EQ(got.shape, c.input_shape);
        EXPECT_TRUE(got.bytes == gi.bytes) << "grad_input differs from the in-process call";
    }
    if (c.grad_grid) {
        const npy::Array got = load("gg.npy");
        EXPECT_EQ(got.dtype, c.dtype);
        EXPECT_EQ(got.shape, c.grid_shape);
        EXPECT_TRUE(got.bytes == gg.bytes) << "grad_grid differs from the in-process call";
    }
    expect_no_temporaries(work_);
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BackwardResult,
    ::testing::Values(
        BackwardCase{"f32_2d_both_defaults", DType::float32, {2, 3, 7, 9}, {2, 5, 6, 2}, true,
                     true, {}, {}},
        BackwardCase{"f64_2d_bicubic_reflection_aligned_grad_input_only", DType::float64,
                     {1, 2, 6, 5}, {1, 8, 4, 2}, true, false,
                     {"--mode", "bicubic", "--padding", "reflection", "--align-corners"},
                     make_options(Interpolation::bicubic, Padding::reflection, true)},
        BackwardCase{"f32_2d_nearest_border_grad_grid_only", DType::float32, {1, 1, 5, 5},
                     {1, 3, 3, 2}, false, true, {"--mode", "nearest", "--padding", "border"},
                     make_options(Interpolation::nearest, Padding::border, false)},
        BackwardCase{"f32_3d_trilinear_reflection_both", DType::float32, {2, 2, 3, 4, 5},
                     {2, 2, 3, 4, 3}, true, true, {"--padding", "reflection"},
                     make_options(Interpolation::bilinear, Padding::reflection, false)},
        BackwardCase{"f64_3d_grad_grid_only_repeat_threads", DType::float64, {1, 3, 4, 3, 2},
                     {1, 5, 2, 3, 3}, false, true,
                     {"--repeat", "3", "--threads", "2", "--align-corners"},
                     make_options(Interpolation::bilinear, Padding::zeros, true)},
        BackwardCase{"f32_2d_empty_batch", DType::float32, {0, 2, 4, 4}, {0, 3, 3, 2}, true,
                     true, {}, {}}),
    [](const ::testing::TestParamInfo<BackwardCase>& info) { return info.param.name; });

class BackwardCli : public CliTest {
protected:
    void save_valid(DType grid_dtype = DType::float32,
                    std::vector<int64_t> grad_output_shape = {1, 2, 3, 3}) const {
        save("go.npy", random_array(DType::float32, grad_output_shape, -1, 1, 31));
        save("in.npy", random_array(DType::float32, {1, 2, 4, 4}, 0, 1, 32));
        save("grid.npy", random_array(grid_dtype, {1, 3, 3, 2}, -1, 1, 33));
    }
    static std::vector<std::string> args(std::vector<std::string> extra = {}) {
        std::vector<std::string> a = {"backward", "--grad-output", "go.npy", "--input", "in.npy",
                                      "--grid", "grid.npy", "--grad-input", "gi.npy",
                                      "--grad-grid", "gg.npy"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    // Runs `args` twice: with neither output present (neither may appear), and with old files
    // at both (both keep their bytes, mtime and inode).
    void expect_failure_keeps_both(const std::vector<std::string>& a, int code,
                                   const std::vector<std::string>& words) const {
        const fs::path gi = path("gi.npy"), gg = path("gg.npy");
        fs::remove(gi);
        fs::remove(gg);
        {
            SCOPED_TRACE("outputs absent");
            expect_error(run(a), code, words);
            EXPECT_FALSE(fs::exists(gi)) << "created " << gi;
            EXPECT_FALSE(fs::exists(gg)) << "created " << gg;
        }
        {
            SCOPED_TRACE("outputs present");
            for (const fs::path& p : {gi, gg}) {
                write_file(p, "an earlier result " + p.filename().string());
                fs::last_write_time(p, fs::last_write_time(p) - std::chrono::hours(24 * 400));
            }
            const FileSnapshot before_gi = FileSnapshot::of(gi), before_gg = FileSnapshot::of(gg);
            expect_error(run(a), code, words);
            EXPECT_TRUE(FileSnapshot::of(gi) == before_gi) << "changed " << gi;
            EXPECT_TRUE(FileSnapshot::of(gg) == before_gg) << "changed " << gg;
        }
        expect_no_temporaries(work_);
    }
};

TEST_F(BackwardCli, ReplacesExistingOutputs) {
    save_valid();
    write_file(path("gi.npy"), "an earlier result");
    write_file(path("gg.npy"), "an earlier result");
    const RunResult r = run(args());
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(load("gi.npy").shape, (std::vector<int64_t>{1, 2, 4, 4}));
    EXPECT_EQ(load("gg.npy").shape, (std::vector<int64_t>{1, 3, 3, 2}));
    expect_no_temporaries(work_);
}

TEST_F(BackwardCli, ThreadCountDoesNotChangeTheResult) {
    save("go.npy", random_array(DType::float32, {2, 19, 25, 35}, -1, 1, 34));
    save("in.npy", random_array(DType::float32, {2, 19, 20, 15}, -1, 1, 35));
    save("grid.npy", random_array(DType::float32, {2, 25, 35, 2}, -1.1, 1.1, 36));
    std::string first_gi, first_gg;
    for (const char* threads : {"1", "2", "5"}) {
        const RunResult r = run(args({"--threads", threads, "--mode", "bicubic"}));
        ASSERT_EQ(r.exit_code, 0) << describe(r);
        const std::string gi = read_file(path("gi.npy")), gg = read_file(path("gg.npy"));
        if (first_gi.empty()) first_gi = gi, first_gg = gg;
        EXPECT_TRUE(gi == first_gi) << "grad_input differs with --threads " << threads;
        EXPECT_TRUE(gg == first_gg) << "grad_grid differs with --threads " << threads;
    }
}

TEST_F(BackwardCli, GradOutputShapeWrong) {
    save_valid(DType::float32, {1, 2, 3, 4});
    expect_failure_keeps_both(args(), kExitBadInput,
                              {"grad_output:", "expected shape [1, 2, 3, 3]", "got [1, 2, 3, 4]"});
}

TEST_F(BackwardCli, GridDtypeDiffers) {
    save_valid(DType::float64);
    expect_failure_keeps_both(args(), kExitBadInput, {"grid:", "dtype float32", "float64"});
}

TEST_F(BackwardCli, BicubicOn5D) {
    save("go.npy", random_array(DType::float32, {1, 1, 2, 2, 2}, -1, 1, 37));
    save("in.npy", random_array(DType::float32, {1, 1, 2, 2, 2}, -1, 1, 38));
    save("grid.npy", random_array(DType::float32, {1, 2, 2, 2, 3}, -1, 1, 39));
    expect_failure_keeps_both(args({"--mode", "bicubic"}), kExitBadInput, {"bicubic", "5-D"});
}

TEST_F(BackwardCli, MissingGradOutputFile) {
    save_valid();
    fs::remove(path("go.npy"));
    expect_failure_keeps_both(args(), kExitBadInput, {"grad_output:", "go.npy", "cannot open"});
}

TEST_F(BackwardCli, HostileGradOutputFile) {
    save_valid();
    write_file(path("go.npy"), valid_npy().substr(0, 30));
    expect_failure_keeps_both(args(), kExitBadInput, {"grad_output:", "go.npy", "truncated"});
}

TEST_F(BackwardCli, MissingInputAndGridFiles) {
    save_valid();
    fs::remove(path("in.npy"));
    expect_failure_keeps_both(args(), kExitBadInput, {"input:", "in.npy", "cannot open"});
    save_valid();
    fs::remove(path("grid.npy"));
    expect_failure_keeps_both(args(), kExitBadInput, {"grid:", "grid.npy", "cannot open"});
}

// One of two destinations cannot be written: the other must not be written either.
TEST_F(BackwardCli, OneUnwritableOutputWritesNeither) {
    save_valid();
    const fs::path gg = path("gg.npy");
    fs::remove(gg);
    for (const std::string& bad_gi : {std::string("no_such_dir/gi.npy"), std::string("a_dir")}) {
        SCOPED_TRACE(bad_gi);
        fs::create_directory(path("a_dir"));
        const RunResult r = run({"backward", "--grad-output", "go.npy", "--input", "in.npy",
                                 "--grid", "grid.npy", "--grad-input", bad_gi, "--grad-grid",
                                 "gg.npy"});
        expect_error(r, kExitBadInput, {"grad_input:", bad_gi});
        EXPECT_FALSE(fs::exists(gg)) << "wrote grad_grid although grad_input failed";
        EXPECT_TRUE(fs::is_directory(path("a_dir")));
        expect_no_temporaries(work_);
    }
    // And the other way round, with an earlier grad_input that must stay.
    write_file(path("gi.npy"), "an earlier result");
    const FileSnapshot before = FileSnapshot::of(path("gi.npy"));
    const RunResult r = run({"backward", "--grad-output", "go.npy", "--input", "in.npy", "--grid",
                             "grid.npy", "--grad-input", "gi.npy", "--grad-grid",
                             "no_such_dir/gg.npy"});
    expect_error(r, kExitBadInput, {"grad_grid:", "no_such_dir/gg.npy"});
    EXPECT_TRUE(FileSnapshot::of(path("gi.npy")) == before) << "grad_input changed";
    expect_no_temporaries(work_);
}

class BackwardUsageError : public BackwardCli, public ::testing::WithParamInterface<UsageCase> {};

TEST_P(BackwardUsageError, ExitsTwoAndKeepsOutputs) {
    save_valid();
    expect_failure_keeps_both(GetParam().args, kExitUsage, {GetParam().word});
}

std::vector<std::string> backward_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"backward", "--grad-output", "go.npy", "--input", "in.npy",
                                     "--grid", "grid.npy"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BackwardUsageError,
    ::testing::Values(
        UsageCase{"no_gradient_asked_for", backward_args({}), "--grad-input"},
        UsageCase{"same_file_twice",
                  backward_args({"--grad-input", "gi.npy", "--grad-grid", "./gi.npy"}),
                  "same file"},
        UsageCase{"missing_grad_output",
                  {"backward", "--input", "in.npy", "--grid", "grid.npy", "--grad-input", "gi.npy",
                   "--grad-grid", "gg.npy"},
                  "--grad-output"},
        UsageCase{"missing_input",
                  {"backward", "--grad-output", "go.npy", "--grid", "grid.npy", "--grad-input",
                   "gi.npy", "--grad-grid", "gg.npy"},
                  "--input"},
        UsageCase{"bad_mode",
                  backward_args({"--grad-input", "gi.npy", "--grad-grid", "gg.npy", "--mode",
                                 "cubic"}),
                  "--mode"},
        UsageCase{"repeat_zero",
                  backward_args({"--grad-input", "gi.npy", "--grad-grid", "gg.npy", "--repeat",
                                 "0"}),
                  "--repeat"},
        UsageCase{"threads_negative",
                  backward_args({"--grad-input", "gi.npy", "--grad-grid", "gg.npy", "--threads",
                                 "-1"}),
                  "--threads"},
        UsageCase{"unknown_option",
                  backward_args({"--grad-input", "gi.npy", "--grad-grid", "gg.npy", "--output",
                                 "x.npy"}),
                  "--output"}),
    [](const ::testing::TestParamInfo<UsageCase>& info) { return info.param.name; });

// ---- --device (SEMANTICS.md S13) --------------------------------------------------------------

// The largest |a - b| relative to max |b| over two arrays of one dtype and shape.
double relative_difference(const npy::Array& a, const npy::Array& b) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < b.numel(); i++) {
        const double x = a.dtype == DType::float64 ? static_cast<const double*>(a.data())[i]
                                                   : static_cast<const float*>(a.data())[i];
        const double y = b.dtype == DType::float64 ? static_cast<const double*>(b.data())[i]
                                                   : static_cast<const float*>(b.data())[i];
        diff = std::max(diff, std::fabs(x - y));
        scale = std::max(scale, std::fabs(y));
    }
    return diff / std::max(scale, 1e-30);
}

// Every GPU device type that can run here, for the tests of --device.
std::vector<std::string> usable_devices() {
    std::vector<std::string> devices;
    if (device_status(Device::opencl(0)).ok()) devices.push_back("opencl");
    if (device_status(Device::cuda(0)).ok()) devices.push_back("cuda");
    return devices;
}

TEST_F(CliTest, SampleOnADeviceMatchesTheCpu) {
    const std::vector<std::string> devices = usable_devices();
    if (devices.empty()) GTEST_SKIP() << "no OpenCL or CUDA device here";
    const npy::Array input = random_array(DType::float32, {2, 3, 9, 11}, -2, 2, 31);
    const npy::Array grid = random_array(DType::float32, {2, 7, 5, 2}, -1.2, 1.2, 32);
    save("in.npy", input);
    save("grid.npy", grid);
    Options options = make_options(Interpolation::bicubic, Padding::reflection, false);
    const npy::Array expected = expected_output(input, grid, options);
    for (const std::string& device : devices) {
        const RunResult r = run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                                 "out.npy", "--mode", "bicubic", "--padding", "reflection",
                                 "--device", device, "--repeat", "2"});
        ASSERT_EQ(r.exit_code, 0) << device << ": " << describe(r);
        const npy::Array out = load("out.npy");
        EXPECT_EQ(out.shape, expected.shape) << device;
        // S11: float32 forward within 2e-5 of max |input| (bicubic weights sum to 1).
        EXPECT_LE(relative_difference(out, expected), 2e-5) << device;
    }
}

TEST_F(CliTest, BackwardOnADeviceMatchesTheCpu) {
    const std::vector<std::string> devices = usable_devices();
    if (devices.empty()) GTEST_SKIP() << "no OpenCL or CUDA device here";
    const npy::Array input = random_array(DType::float32, {2, 3, 8, 6}, -2, 2, 41);
    const npy::Array grid = random_array(DType::float32, {2, 5, 7, 2}, -1.2, 1.2, 42);
    const npy::Array grad_output = random_array(DType::float32, {2, 3, 5, 7}, -1, 1, 43);
    save("go.npy", grad_output);
    save("in.npy", input);
    save("grid.npy", grid);
    npy::Array gi = npy::zeros(DType::float32, input.shape), gg = npy::zeros(DType::float32, grid.shape);
    const TensorView gi_view = gi.view(), gg_view = gg.view();
    ASSERT_TRUE(grid_sample_backward(grad_output.view(), input.view(), grid.view(), &gi_view,
                                     &gg_view, {})
                    .ok());
    for (const std::string& device : devices) {
        const RunResult r = run({"backward", "--grad-output", "go.npy", "--input", "in.npy",
                                 "--grid", "grid.npy", "--grad-input", "gi.npy", "--grad-grid",
                                 "gg.npy", "--device", device + ":0"});
        ASSERT_EQ(r.exit_code, 0) << device << ": " << describe(r);
        // S11: backward float32 within 1e-4 of the largest gradient.
        EXPECT_LE(relative_difference(load("gi.npy"), gi), 1e-4) << device;
        EXPECT_LE(relative_difference(load("gg.npy"), gg), 1e-4) << device;
    }
}

TEST_F(CliTest, AMissingDeviceIsAnErrorAndWritesNothing) {
    save("in.npy", random_array(DType::float32, {1, 1, 4, 4}, 0, 1, 3));
    save("grid.npy", random_array(DType::float32, {1, 2, 2, 2}, -1, 1, 4));
    // A CUDA device this machine lacks: the driver is missing here, or device 99 is.
    const std::string device = device_status(Device::cuda(0)).ok() ? "cuda:99" : "cuda";
    for (const std::string& d : {device, std::string("opencl:99")}) {
        const RunResult r = run({"sample", "--input", "in.npy", "--grid", "grid.npy", "--output",
                                 "out.npy", "--device", d});
        EXPECT_EQ(r.exit_code, 1) << d << ": " << describe(r);
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_FALSE(fs::exists(path("out.npy"))) << d;
    }
}

TEST_F(CliTest, BackwardHelp) {
    const RunResult r = run({"backward", "--help"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    for (const char* option : {"--grad-output", "--grad-input", "--grad-grid", "--align-corners"}) {
        EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing in\n" << r.out;
    }
    EXPECT_NE(run({"--help"}).out.find("backward"), std::string::npos);
}

}  // namespace
