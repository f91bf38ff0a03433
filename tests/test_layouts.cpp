// Every layout gives the same bits as the planar one: channels-last input and output (C = 1..5,
// so the interleaved RGB/RGBA paths of the schedule are covered as well as the general one),
// for every mode x padding x dims x dtype, through grid_sample and affine_grid_sample. The
// schedules specialize on layouts, and grid_sample merges short rows; the results must not depend
// on which branch ran.
#include "forward_configs.h"
#include "gridsample/gridsample.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace gridsample;

using Config = gridsample_test::ForwardConfig;
using gridsample_test::config_name;

// Strides of a channels-last tensor of `shape` (N, C, spatial...): C innermost.
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& shape) {
    const int rank = static_cast<int>(shape.size());
    std::vector<int64_t> strides(rank);
    int64_t stride = 1;
    strides[1] = stride;
    stride *= shape[1];
    for (int i = rank - 1; i >= 2; i--) {
        strides[i] = stride;
        stride *= shape[i];
    }
    strides[0] = stride;
    return strides;
}

// The flat offset of element `flat` (C order over `shape`) under `strides`.
int64_t offset_of(int64_t flat, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& strides) {
    int64_t offset = 0;
    for (int i = static_cast<int>(shape.size()) - 1; i >= 0; i--) {
        offset += (flat % shape[i]) * strides[i];
        flat /= shape[i];
    }
    return offset;
}

template <typename T>
void check(const Config& cfg, int64_t channels, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> size(1, 70);
    std::uniform_real_distribution<double> value(-1.0, 1.0), g(-1.2, 1.2);
    const DType dtype = cfg.dtype;
    const int d = cfg.dims, rank = d + 2;
    std::vector<int64_t> in_shape{2, channels}, out_shape{2, channels}, grid_shape{2};
    for (int k = 0; k < d; k++) in_shape.push_back(d == 3 ? size(rng) % 9 + 1 : size(rng));
    for (int k = 0; k < d; k++) {
        out_shape.push_back(d == 3 ? size(rng) % 9 + 1 : size(rng));
        grid_shape.push_back(out_shape.back());
    }
    grid_shape.push_back(d);
    int64_t in_count = 1, out_count = 1, grid_count = 1;
    for (int64_t s : in_shape) in_count *= s;
    for (int64_t s : out_shape) out_count *= s;
    for (int64_t s : grid_shape) grid_count *= s;
    std::vector<T> input(in_count), grid(grid_count), theta(2 * d * (d + 1));
    for (T& v : input) v = static_cast<T>(value(rng));
    for (T& v : grid) v = static_cast<T>(g(rng));
    for (T& v : theta) v = static_cast<T>(g(rng));
    const Options options{cfg.mode, cfg.padding, (seed & 1) != 0};

    const std::vector<int64_t> in_cl = channels_last_strides(in_shape);
    const std::vector<int64_t> out_cl = channels_last_strides(out_shape);
    std::vector<T> input_cl(in_count);
    for (int64_t i = 0; i < in_count; i++) input_cl[offset_of(i, in_shape, in_cl)] = input[i];
    const TensorView in = TensorView::make(input.data(), dtype, rank, in_shape.data());
    const TensorView in_channels_last =
        TensorView::make(input_cl.data(), dtype, rank, in_shape.data(), in_cl.data());
    const TensorView gr = TensorView::make(grid.data(), dtype, rank, grid_shape.data());
    const std::vector<int64_t> theta_shape{2, d, d + 1};
    const TensorView th = TensorView::make(theta.data(), dtype, 3, theta_shape.data());

    for (bool fused : {false, true}) {
        std::vector<T> planar(out_count), channels_last(out_count);
        auto run = [&](const TensorView& input_view, const TensorView& out) {
            return fused ? affine_grid_sample(input_view, th, out, options)
                         : grid_sample(input_view, gr, out, options);
        };
        ASSERT_TRUE(run(in, TensorView::make(planar.data(), dtype, rank, out_shape.data())).ok());
        const Status s = run(in_channels_last, TensorView::make(channels_last.data(), dtype, rank,
                                                                out_shape.data(), out_cl.data()));
        ASSERT_TRUE(s.ok()) << s.message();
        for (int64_t i = 0; i < out_count; i++) {
            const T a = planar[i], b = channels_last[offset_of(i, out_shape, out_cl)];
            ASSERT_EQ(std::memcmp(&a, &b, sizeof(T)), 0)
                << (fused ? "affine_grid_sample" : "grid_sample") << " C=" << channels
                << " seed " << seed << " element " << i << ": planar " << a
                << ", channels-last " << b;
        }
    }
}

class ChannelsLastMatchesPlanar : public testing::TestWithParam<Config> {};

TEST_P(ChannelsLastMatchesPlanar, BitForBit) {
    // 1-5 channels, and from 8 on the planar calls with a vector of channels or more, which
    // sample a channels-last copy (cpu/forward_schedule.h: 8 float32 lanes on AVX2, 16 on
    // AVX-512, 4 for float64 on AVX2), including counts that are not multiples of the lanes.
    // 2-D: with a block of V channels per thread, each block is a task of its own; with fewer
    // (8 threads here: 2 batch items of at most 3 blocks), the threads share each block.
    for (int threads : {0, 8}) {
        set_num_threads(threads);
        for (int64_t channels : {1, 2, 3, 4, 5, 8, 9, 16, 17, 33}) {
            if (threads != 0 && channels < 16) continue;
            for (uint32_t seed = 1; seed <= 4; seed++) {
                const uint32_t s = seed + 10 * static_cast<uint32_t>(channels) + 1000u * threads;
                if (GetParam().dtype == DType::float64) {
                    check<double>(GetParam(), channels, s);
                } else {
                    check<float>(GetParam(), channels, s);
                }
                if (HasFatalFailure()) break;
            }
        }
        set_num_threads(0);
        if (HasFatalFailure()) return;
    }
}

// grid_sample samples short rows (W below the schedule's 64-point tiles) as longer ones when the
// grid's and the output's rows follow each other in memory (runtime/src/grid_sample.cpp,
// merge_short_rows). The same call with rows padded apart in both (which cannot be merged) must
// give the same bits, for row counts with many divisors, primes and one row.
template <typename T>
void check_short_rows(const Config& cfg, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> value(-1.0, 1.0), g(-1.2, 1.2);
    const DType dtype = cfg.dtype;
    const int d = cfg.dims, rank = d + 2;
    for (int64_t height : {1, 7, 12, 28, 30}) {
        for (int64_t width : {1, 5, 28, 63}) {
            const int64_t batch = 1 + seed % 3, channels = 1 + (seed / 3) % 3;
            std::vector<int64_t> in_shape{batch, channels}, out_shape{batch, channels},
                grid_shape{batch};
            for (int k = 0; k < d; k++) in_shape.push_back(3 + (seed + 5 * k) % 17);
            if (d == 3) {
                out_shape.push_back(2);
                grid_shape.push_back(2);
            }
            out_shape.insert(out_shape.end(), {height, width});
            grid_shape.insert(grid_shape.end(), {height, width, d});
            int64_t in_count = 1, out_count = 1;
            for (int64_t s : in_shape) in_count *= s;
            for (int64_t s : out_shape) out_count *= s;
            std::vector<T> input(in_count);
            for (T& v : input) v = static_cast<T>(value(rng));
            // C-order strides; with `pad` > 0, that many elements between consecutive rows (after
            // dimension rank - inner: x for the output, x's points for the grid).
            auto strides_of = [&](const std::vector<int64_t>& shape, int inner, int64_t pad) {
                std::vector<int64_t> strides(rank);
                int64_t stride = 1;
                for (int i = rank - 1; i >= 0; i--) {
                    strides[i] = stride;
                    stride *= shape[i];
                    if (i == rank - inner) stride += pad;
                }
                return std::pair<std::vector<int64_t>, int64_t>(strides, stride);
            };
            const auto [grid_dense, grid_count] = strides_of(grid_shape, 2, 0);
            const auto [grid_padded, grid_padded_count] = strides_of(grid_shape, 2, d);
            const auto [out_dense, out_dense_count] = strides_of(out_shape, 1, 0);
            const auto [out_padded, out_padded_count] = strides_of(out_shape, 1, 1);
            std::vector<T> grid(grid_count), grid_p(grid_padded_count, T(0));
            for (int64_t i = 0; i < grid_count; i++) {
                grid[i] = static_cast<T>(g(rng));
                grid_p[offset_of(i, grid_shape, grid_padded)] = grid[i];
            }
            const Options options{cfg.mode, cfg.padding, (seed & 1) != 0};
            const TensorView in = TensorView::make(input.data(), dtype, rank, in_shape.data());
            std::vector<T> merged(out_dense_count), separate(out_padded_count);
            Status s = grid_sample(
                in, TensorView::make(grid.data(), dtype, rank, grid_shape.data(), grid_dense.data()),
                TensorView::make(merged.data(), dtype, rank, out_shape.data(), out_dense.data()),
                options);
            ASSERT_TRUE(s.ok()) << s.message();
            s = grid_sample(in,
                            TensorView::make(grid_p.data(), dtype, rank, grid_shape.data(),
                                             grid_padded.data()),
                            TensorView::make(separate.data(), dtype, rank, out_shape.data(),
                                             out_padded.data()),
                            options);
            ASSERT_TRUE(s.ok()) << s.message();
            for (int64_t i = 0; i < out_count; i++) {
                const T a = merged[i], b = separate[offset_of(i, out_shape, out_padded)];
                ASSERT_EQ(std::memcmp(&a, &b, sizeof(T)), 0)
                    << "H=" << height << " W=" << width << " seed " << seed << " element " << i
                    << ": contiguous rows " << a << ", padded rows " << b;
            }
        }
    }
}

class ShortRowsMatchSeparateRows : public testing::TestWithParam<Config> {};

TEST_P(ShortRowsMatchSeparateRows, BitForBit) {
    for (uint32_t seed = 1; seed <= 6; seed++) {
        if (GetParam().dtype == DType::float64) {
            check_short_rows<double>(GetParam(), seed);
        } else {
            check_short_rows<float>(GetParam(), seed);
        }
        if (HasFatalFailure()) return;
    }
}

// Per-CPU tuning of the dispatch (set_cpu_tuning): on an AMD CPU whose best level is
// avx512_gather, float32 forward calls with nearest sampling, or on 2-D channels-last tensors of
// 3 or 4 channels, run avx512 with the tuning on; every other call, and every call on other CPUs,
// runs the same level with it on and off. The bits are the same either way.
bool amd_cpu() {
    // From the kernel's view of the CPU rather than cpuid, as the library reads it.
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("vendor_id", 0) == 0) return line.find("AuthenticAMD") != std::string::npos;
    }
    return false;
}

struct TuningCase {
    const char* name;
    int dims;
    Interpolation mode;
    DType dtype;
    int64_t channels;
    bool channels_last, fused, tuned;  // tuned: runs avx512 on such a CPU with the tuning on
};

// One call of `c` (a fixed input, grid or theta): its output bytes and the level it ran at, or
// false where the build does not compile the variant.
template <typename T>
bool run_tuning_case(const TuningCase& c, std::vector<T>& out, CpuIsa& ran) {
    const int rank = c.dims + 2;
    std::vector<int64_t> in_shape{2, c.channels}, out_shape{2, c.channels}, grid_shape{2};
    for (int k = 0; k < c.dims; k++) {
        in_shape.push_back(c.dims == 3 ? 9 : 37 + k);
        out_shape.push_back(c.dims == 3 ? 7 : 70 + k);
        grid_shape.push_back(out_shape.back());
    }
    grid_shape.push_back(c.dims);
    int64_t in_count = 1, out_count = 1, grid_count = 1;
    for (int64_t s : in_shape) in_count *= s;
    for (int64_t s : out_shape) out_count *= s;
    for (int64_t s : grid_shape) grid_count *= s;
    std::mt19937 rng(17);
    std::uniform_real_distribution<double> value(-1.0, 1.0), g(-0.6, 0.6);
    std::vector<T> input(in_count), grid(grid_count), theta(2 * c.dims * (c.dims + 1));
    for (T& v : input) v = static_cast<T>(value(rng));
    for (T& v : theta) v = static_cast<T>(g(rng));
    // A smooth grid, a little past the input on every side: not a scattered one, whose 2-D
    // bilinear variants are compiled at fewer levels (grid_sample.cpp, scattered_grid).
    std::uniform_real_distribution<double> jitter(-0.01, 0.01);
    for (int64_t i = 0; i < grid_count; i++) {
        const int k = static_cast<int>(i % c.dims);  // x, y, z
        int64_t point = i / c.dims, index = 0;
        for (int j = 0; j <= k; j++) {
            index = point % out_shape[rank - 1 - j];
            point /= out_shape[rank - 1 - j];
        }
        const double extent = static_cast<double>(out_shape[rank - 1 - k] - 1);
        grid[i] = static_cast<T>(-1.05 + 2.1 * static_cast<double>(index) / extent + jitter(rng));
    }
    out.assign(out_count, T(0));
    const std::vector<int64_t> in_strides = c.channels_last ? channels_last_strides(in_shape)
                                                            : std::vector<int64_t>{};
    const std::vector<int64_t> out_strides = c.channels_last ? channels_last_strides(out_shape)
                                                             : std::vector<int64_t>{};
    const TensorView in = TensorView::make(input.data(), c.dtype, rank, in_shape.data(),
                                           c.channels_last ? in_strides.data() : nullptr);
    const TensorView o = TensorView::make(out.data(), c.dtype, rank, out_shape.data(),
                                          c.channels_last ? out_strides.data() : nullptr);
    const std::vector<int64_t> theta_shape{2, c.dims, c.dims + 1};
    const Options options{c.mode, Padding::zeros, false};
    const Status s =
        c.fused ? affine_grid_sample(in, TensorView::make(theta.data(), c.dtype, 3, theta_shape.data()),
                                     o, options)
                : grid_sample(in, TensorView::make(grid.data(), c.dtype, rank, grid_shape.data()), o,
                              options);
    if (s.code() == StatusCode::unsupported) return false;
    EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
    ran = last_dispatched_cpu_isa();
    return true;
}

template <typename T>
void check_tuning(const TuningCase& c, bool avx512_compiled) {
    std::vector<T> off, on;
    CpuIsa ran_off = CpuIsa::baseline, ran_on = CpuIsa::baseline;
    set_cpu_tuning(false);
    const bool compiled = run_tuning_case(c, off, ran_off);
    set_cpu_tuning(true);
    if (!compiled || !run_tuning_case(c, on, ran_on)) return;
    const bool moves = c.tuned && amd_cpu() && avx512_compiled && ran_off == CpuIsa::avx512_gather;
    EXPECT_EQ(std::string(to_string(ran_on)), to_string(moves ? CpuIsa::avx512 : ran_off))
        << c.name << " (without the tuning: " << to_string(ran_off) << ")";
    ASSERT_EQ(std::memcmp(off.data(), on.data(), off.size() * sizeof(T)), 0) << c.name;
}

TEST(CpuTuning, LevelsAndBits) {
    ASSERT_TRUE(cpu_tuning()) << "the tuning is on by default (GRIDSAMPLE_CPU_TUNING unset)";
    // Whether the build compiles the avx512 level and this CPU runs it.
    set_cpu_tuning(false);
    set_max_cpu_isa(CpuIsa::avx512);
    std::vector<float> probe;
    CpuIsa probe_ran = CpuIsa::baseline;
    const TuningCase bilinear{"probe", 2, Interpolation::bilinear, DType::float32, 2, false, false, false};
    const bool avx512_compiled =
        run_tuning_case(bilinear, probe, probe_ran) && probe_ran == CpuIsa::avx512;
    set_max_cpu_isa(kHighestCpuIsa);
    const TuningCase cases[] = {
        {"2-D nearest planar", 2, Interpolation::nearest, DType::float32, 5, false, false, true},
        {"2-D nearest planar, fused", 2, Interpolation::nearest, DType::float32, 5, false, true, true},
        {"3-D nearest planar", 3, Interpolation::nearest, DType::float32, 2, false, false, true},
        {"2-D bilinear RGB channels-last", 2, Interpolation::bilinear, DType::float32, 3, true, false, true},
        {"2-D bicubic RGBA channels-last", 2, Interpolation::bicubic, DType::float32, 4, true, false, true},
        {"2-D bilinear RGB channels-last, fused", 2, Interpolation::bilinear, DType::float32, 3, true, true, true},
        {"2-D bilinear planar", 2, Interpolation::bilinear, DType::float32, 3, false, false, false},
        // 16 channels, 37 x 38 planes: the avx512 level samples them channels-last.
        {"2-D bilinear planar 16 channels", 2, Interpolation::bilinear, DType::float32, 16, false, false, true},
        {"2-D bilinear planar 16 channels, fused", 2, Interpolation::bilinear, DType::float32, 16, false, true, true},
        {"2-D bilinear planar 24 channels", 2, Interpolation::bilinear, DType::float32, 24, false, false, false},
        {"2-D bilinear 5 channels channels-last", 2, Interpolation::bilinear, DType::float32, 5, true, false, false},
        {"3-D bilinear planar", 3, Interpolation::bilinear, DType::float32, 3, false, false, false},
        {"2-D nearest planar float64", 2, Interpolation::nearest, DType::float64, 3, false, false, false},
    };
    for (const TuningCase& c : cases) {
        if (c.dtype == DType::float64) {
            check_tuning<double>(c, avx512_compiled);
        } else {
            check_tuning<float>(c, avx512_compiled);
        }
        if (HasFatalFailure()) break;
    }
    // Under a cap below avx512_gather the tuning changes nothing.
    set_max_cpu_isa(CpuIsa::avx2);
    check_tuning<float>(cases[0], avx512_compiled);
    set_max_cpu_isa(kHighestCpuIsa);
    set_cpu_tuning(true);
}

INSTANTIATE_TEST_SUITE_P(AllConfigs, ShortRowsMatchSeparateRows,
                         testing::ValuesIn(gridsample_test::all_forward_configs()), config_name);

INSTANTIATE_TEST_SUITE_P(AllConfigs, ChannelsLastMatchesPlanar, testing::ValuesIn(gridsample_test::all_forward_configs()),
                         config_name);

}  // namespace
