// The benchmark suite: gridsample against PyTorch's CPU kernel and OpenCV's remap, in one binary
// and one run, on the same data and thread counts, plus a copy of each workload's bytes for the
// memory roofline, and the CPU's gather throughput (gather_throughput.cpp), the bound of a kernel
// that must gather its taps. After Google Benchmark's own output it prints one table.
//
//   gridsample_bench [google benchmark flags] [--table=FILE.md]
//   gridsample_bench --dump_workloads=DIR   (writes the workloads' data for bench/peers/compare.py)
//   gridsample_bench --digests[=DIR]   (a digest of every output of ours, for comparing builds;
//                                      workloads.h)
#include "peers.h"
#include "workloads.h"

#include <HalideRuntime.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace gridsample_bench {
namespace {

// Bytes Halide allocates for intermediates during one call, measured with a counting allocator
// that hands every request on to the library's own (runtime/src/scratch_memory.cpp).
std::map<std::string, int64_t> g_scratch_bytes;
int64_t g_allocated = 0;
halide_malloc_t g_library_malloc = nullptr;
halide_free_t g_library_free = nullptr;

void* counting_malloc(void* user_context, size_t size) {
    g_allocated += static_cast<int64_t>(size);
    return g_library_malloc(user_context, size);
}
void counting_free(void* user_context, void* ptr) { g_library_free(user_context, ptr); }

// Our implementations of a workload: the planar call, the same call on channels-last input and
// output, the fused affine_grid_sample, and the two calls it replaces.
enum class Ours { planar, hwc, fused, two_step };

// One call of ours on a workload's data (the output of `which`: output_view, or output_hwc_view).
gridsample::Status call_ours(const Workload& w, Ours which, Data& d) {
    if (!d.grid_status.ok()) return d.grid_unusable();
    const gridsample::Options options{w.mode, w.padding, w.align_corners};
    if (w.channels_last && which == Ours::planar) which = Ours::hwc;  // the workload's layout
    switch (which) {
    case Ours::hwc:
        return gridsample::grid_sample(d.input_hwc_view, d.grid_view, d.output_hwc_view, options);
    case Ours::fused:
        return gridsample::affine_grid_sample(d.input_view, d.theta_view, d.output_view, options);
    case Ours::two_step: {
        const gridsample::Status s = gridsample::affine_grid(
            d.theta_view, w.input_shape.data(), static_cast<int32_t>(w.input_shape.size()),
            d.grid_view, w.align_corners);
        if (!s.ok()) return s;
        return gridsample::grid_sample(d.input_view, d.grid_view, d.output_view, options);
    }
    default:
        return gridsample::grid_sample(d.input_view, d.grid_view, d.output_view, options);
    }
}

void ours_forward(const Workload& w, Ours which, int threads, benchmark::State& state) {
    Data& d = data_for(w);
    gridsample::set_num_threads(threads);
    auto call = [&] { return call_ours(w, which, d); };
    if (which == Ours::planar) {
        call();  // the first call installs the library's allocator
        g_allocated = 0;
        g_library_malloc = halide_set_custom_malloc(counting_malloc);
        g_library_free = halide_set_custom_free(counting_free);
        call();
        halide_set_custom_malloc(g_library_malloc);
        halide_set_custom_free(g_library_free);
        g_scratch_bytes[w.name] = g_allocated;
    }
    for (auto _ : state) {
        const gridsample::Status s = call();
        if (!s.ok()) state.SkipWithError(s.message().c_str());
        benchmark::ClobberMemory();
    }
    gridsample::set_num_threads(0);
}

// A copy split over `threads` threads, the memory roofline of a workload: it reads and writes
// the workload's bytes_moved() in total (half read, half written), so a kernel that took as long
// as this copy would be limited by memory traffic alone. Sized per workload on purpose: this
// machine's last-level cache can hold the smaller working sets, and a fixed-size copy would then
// measure a different level of the memory hierarchy than the kernel sees.
void copy_roofline(int64_t bytes_moved, int threads, benchmark::State& state) {
    const size_t half = static_cast<size_t>(bytes_moved / 2);
    static std::map<size_t, std::pair<std::vector<char>, std::vector<char>>> buffers;
    auto& [src, dst] = buffers[half];
    if (src.size() != half) {
        src.assign(half, 1);
        dst.assign(half, 0);
    }
    const size_t chunk = (half + threads - 1) / threads;
    for (auto _ : state) {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++) {
            const size_t begin = std::min(half, t * chunk), end = std::min(half, begin + chunk);
            pool.emplace_back(
                [&, begin, end] { std::memcpy(dst.data() + begin, src.data() + begin, end - begin); });
        }
        for (auto& th : pool) th.join();
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * bytes_moved);
}

// Collects every run's time per iteration (milliseconds) by name, besides the console output.
class TableReporter : public benchmark::ConsoleReporter {
public:
    std::map<std::string, std::vector<double>> repetitions_ms;  // every repetition, in order
    std::map<std::string, double> bytes_per_second;

    // The fastest repetition of a benchmark (-1 if it did not run): the one the table counts, as
    // the slower ones measure the neighbours on a shared machine.
    double fastest_ms(const std::string& name) const {
        auto it = repetitions_ms.find(name);
        if (it == repetitions_ms.end() || it->second.empty()) return -1;
        return *std::min_element(it->second.begin(), it->second.end());
    }

    // The median repetition (-1 if it did not run): the ratios of medians show how much a
    // verdict taken from the fastest repetitions depends on the machine's quiet phases.
    double median_ms(const std::string& name) const {
        auto it = repetitions_ms.find(name);
        if (it == repetitions_ms.end() || it->second.empty()) return -1;
        std::vector<double> v = it->second;
        std::sort(v.begin(), v.end());
        const size_t n = v.size();
        return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }

    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& run : runs) {
            if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
            std::string name = run.benchmark_name();
            const std::string real_time = "/real_time";
            if (name.size() > real_time.size() &&
                name.compare(name.size() - real_time.size(), real_time.size(), real_time) == 0) {
                name.resize(name.size() - real_time.size());
            }
            repetitions_ms[name].push_back(run.GetAdjustedRealTime() * to_ms(run.time_unit));
            auto it = run.counters.find("bytes_per_second");
            if (it != run.counters.end()) bytes_per_second[name] = it->second;
        }
    }

private:
    static double to_ms(benchmark::TimeUnit unit) {
        switch (unit) {
        case benchmark::kNanosecond: return 1e-6;
        case benchmark::kMicrosecond: return 1e-3;
        case benchmark::kMillisecond: return 1.0;
        case benchmark::kSecond: return 1e3;
        }
        return 1.0;
    }
};

std::string machine_description() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line, model = "unknown CPU";
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    return model + ", " + std::to_string(all_cores()) + " hardware threads";
}

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// The speed targets that are not ratios against PyTorch, each with the value measured and
// whether it is met: image workloads against OpenCV in the same layout (>= 1.5x), feat bilinear
// zeros at all cores against the memory roofline (>= 35%), and the batch-1 image workloads' speed-up
// from 1 thread to all cores (>= 1.7x at 2 threads).
std::string targets_summary(const TableReporter& r) {
    std::ostringstream out;
    auto verdict = [](double value, double target) { return value >= target ? "met" : "NOT met"; };
    const int cores = all_cores();
    const std::string all = "/threads:" + std::to_string(cores);
    out << "\nOther targets:\n";
    for (int t : thread_counts()) {
        const std::string suffix = "/threads:" + std::to_string(t);
        double worst = -1, worst_median = -1;
        std::string worst_name;
        for (const Workload& w : forward_workloads()) {
            if (!w.compare_opencv) continue;
            const std::string hwc_name = "fwd/" + w.name + "/opencv_hwc" + suffix;
            const std::string ours_name = "fwd/" + w.name + "/ours_hwc" + suffix;
            const double hwc = r.fastest_ms(hwc_name), ours = r.fastest_ms(ours_name);
            if (hwc < 0 || ours < 0) continue;
            if (worst < 0 || hwc / ours < worst) worst = hwc / ours, worst_name = w.name;
            const double median = r.median_ms(hwc_name) / r.median_ms(ours_name);
            if (worst_median < 0 || median < worst_median) worst_median = median;
        }
        if (worst > 0) {
            out << "- image vs OpenCV remap (HWC, same layout) at " << t
                << " thread(s): smallest " << fmt("%.2fx", worst) << " (" << worst_name
                << "; of median repetitions: " << fmt("%.2fx", worst_median)
                << "), target 1.5x: " << verdict(worst, 1.5) << "\n";
        }
    }
    const double copy = r.fastest_ms("copy/feat_bilinear_zeros" + all);
    const double feat = r.fastest_ms("fwd/feat_bilinear_zeros/ours" + all);
    if (copy > 0 && feat > 0) {
        const double median = r.median_ms("copy/feat_bilinear_zeros" + all) /
                              r.median_ms("fwd/feat_bilinear_zeros/ours" + all);
        out << "- feat_bilinear_zeros at " << cores << " threads: " << fmt("%.0f%%", 100 * copy / feat)
            << " of the copy roofline (of median repetitions: " << fmt("%.0f%%", 100 * median)
            << "), target 35%: " << verdict(copy / feat, 0.35) << "\n";
    }
    // The bound the gathers set: bilinear loads 4 taps per output element, each at a
    // data-dependent address, as 4 floats or (the planar kernels, pair_gathers.h) as 2 pairs of
    // neighbouring floats; at the measured L1 gather rate of all cores, those loads alone take
    // elements / rate, whatever else a kernel does or saves.
    for (const Workload& w : forward_workloads()) {
        if (w.name != "feat_bilinear_zeros" || copy <= 0) continue;
        const double per_ns = static_cast<double>(gather_elements_per_iteration(cores)) / 1e6;
        const double points = static_cast<double>(product(w.output_shape()));
        for (bool pairs : {false, true}) {
            const std::string kind = pairs ? "_pairs" : "";
            const double l1 = r.fastest_ms("gather/l1" + kind + all);
            const double l2 = r.fastest_ms("gather/l2" + kind + all);
            if (l1 <= 0) continue;
            const double l1_rate = per_ns / l1, l2_rate = l2 > 0 ? per_ns / l2 : 0;
            const double elements = (pairs ? 2.0 : 4.0) * points;
            const double gather_ms = elements / l1_rate / 1e6;
            out << "  - bound: " << (pairs ? "as 2 pairs of floats per output element ("
                                           : "as 4 float taps per output element (")
                << fmt("%.1f", elements / 1e6) << "M), this run's " << gather_throughput_isa()
                << (pairs ? " 64-bit" : " 32-bit") << " gathers at " << cores << " threads load "
                << fmt("%.2f", l1_rate) << " elements/ns from L1 (" << fmt("%.2f", l2_rate)
                << " from L2; gather/l1" << kind << ", gather/l2" << kind
                << "): the gathers alone take " << fmt("%.2f", gather_ms)
                << " ms, so a kernel doing nothing but them from L1 would reach "
                << fmt("%.0f%%", 100 * copy / gather_ms) << " of the roofline\n";
        }
    }
    if (cores > 1) {
        for (const Workload& w : forward_workloads()) {
            if (!w.compare_opencv) continue;
            const std::string one_name = "fwd/" + w.name + "/ours/threads:1";
            const std::string many_name = "fwd/" + w.name + "/ours" + all;
            const double one = r.fastest_ms(one_name), many = r.fastest_ms(many_name);
            if (one < 0 || many < 0) continue;
            out << "- " << w.name << ": " << cores << " threads " << fmt("%.2fx", one / many)
                << " faster than 1 (of median repetitions: "
                << fmt("%.2fx", r.median_ms(one_name) / r.median_ms(many_name))
                << "), target 1.7x at 2 threads: " << verdict(one / many, 1.7) << "\n";
        }
    }
    return out.str();
}

// Columns: the workload and thread count; our time; PyTorch's time and its ratio to ours (how
// many times faster we are); OpenCV's ratios in the same layout (planar: ours against one remap
// per plane; HWC: ours on channels-last tensors against one remap of an interleaved image); the
// fused affine_grid_sample's time and its ratio to affine_grid + grid_sample; the fraction of
// the memory roofline we reach (the time of a copy moving the workload's bytes, over our time);
// and the bytes Halide allocated for intermediates per call. Then the geometric mean and the
// smallest ratio against PyTorch per thread count (from the fastest repetitions, which decide,
// and from the median ones), the other targets, and the backward table.
std::string make_table(const TableReporter& r) {
    std::ostringstream out;
    out << "Machine: " << machine_description() << "\n";
    out << "Peers: " << torch_info().description << "; " << opencv_info().description << "\n\n";
    out << "| workload | threads | ours ms | PyTorch ms | vs PyTorch | vs OpenCV (planar) "
           "| vs OpenCV (HWC) | fused ms | fused vs two calls | roofline | Halide scratch MiB |\n";
    out << "|---|---|---|---|---|---|---|---|---|---|---|\n";
    std::map<int, std::vector<double>> ratios, median_ratios;
    for (int t : thread_counts()) {
        for (const Workload& w : forward_workloads()) {
            const std::string suffix = "/threads:" + std::to_string(t);
            const double ours = r.fastest_ms("fwd/" + w.name + "/ours" + suffix);
            if (ours < 0) continue;
            const double torch = r.fastest_ms("fwd/" + w.name + "/torch" + suffix);
            const double planar = r.fastest_ms("fwd/" + w.name + "/opencv_planar" + suffix);
            const double hwc = r.fastest_ms("fwd/" + w.name + "/opencv_hwc" + suffix);
            const double ours_hwc = r.fastest_ms("fwd/" + w.name + "/ours_hwc" + suffix);
            const double fused = r.fastest_ms("fwd/" + w.name + "/fused" + suffix);
            const double two_step = r.fastest_ms("fwd/" + w.name + "/two_step" + suffix);
            const double copy = r.fastest_ms("copy/" + w.name + suffix);
            out << "| " << w.name << " | " << t << " | " << fmt("%.3f", ours) << " | "
                << (torch > 0 ? fmt("%.3f", torch) : "-") << " | "
                << (torch > 0 ? fmt("%.2fx", torch / ours) : "-") << " | "
                << (planar > 0 ? fmt("%.2fx", planar / ours) : "-") << " | "
                << (hwc > 0 && ours_hwc > 0 ? fmt("%.2fx", hwc / ours_hwc) : "-") << " | "
                << (fused > 0 ? fmt("%.3f", fused) : "-") << " | "
                << (fused > 0 && two_step > 0 ? fmt("%.2fx", two_step / fused) : "-") << " | "
                << (copy > 0 ? fmt("%.0f%%", 100.0 * copy / ours) : "-")
                << " | " << fmt("%.2f", g_scratch_bytes[w.name] / 1048576.0) << " |\n";
            if (torch > 0) {
                ratios[t].push_back(torch / ours);
                median_ratios[t].push_back(r.median_ms("fwd/" + w.name + "/torch" + suffix) /
                                           r.median_ms("fwd/" + w.name + "/ours" + suffix));
            }
        }
    }
    out << "\n";
    auto geomean = [](const std::vector<double>& v) {
        double log_sum = 0;
        for (double x : v) log_sum += std::log(x);
        return std::exp(log_sum / v.size());
    };
    for (const auto& [t, v] : ratios) {
        const std::vector<double>& m = median_ratios[t];
        out << "vs PyTorch at " << t << " thread(s): geometric mean " << fmt("%.2fx", geomean(v))
            << ", smallest " << fmt("%.2fx", *std::min_element(v.begin(), v.end())) << " ("
            << v.size() << " workloads; of median repetitions: " << fmt("%.2fx", geomean(m))
            << ", smallest " << fmt("%.2fx", *std::min_element(m.begin(), m.end())) << ")\n";
    }
    out << targets_summary(r);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    out << "Peak resident memory of the benchmark process: "
        << fmt("%.0f MiB", usage.ru_maxrss / 1024.0) << "\n";
    return out.str();
}

// --digests: every output of ours, at every thread count (workloads.h, print_digest).
void print_digests() {
    for (int t : thread_counts()) {
        gridsample::set_num_threads(t);
        const std::string suffix = "/threads:" + std::to_string(t);
        for (const Workload& w : forward_workloads()) {
            Data& d = data_for(w);
            auto print = [&](const char* impl, Ours which) {
                std::vector<unsigned char>& out =
                    which == Ours::hwc || w.channels_last ? d.output_hwc : d.output;
                fill_unwritten(out);
                print_digest("fwd/" + w.name + "/" + impl + suffix, call_ours(w, which, d), out);
            };
            print("ours", Ours::planar);
            if (w.compare_opencv) print("ours_hwc", Ours::hwc);
            if (w.grid == GridKind::affine && !w.channels_last) {
                print("fused", Ours::fused);
                print("two_step", Ours::two_step);
            }
        }
        print_backward_digests(t);
    }
    gridsample::set_num_threads(0);
}

void register_benchmarks() {
    register_gather_benchmarks(thread_counts());
    for (int t : thread_counts()) {
        const std::string suffix = "/threads:" + std::to_string(t);
        for (const Workload& w : forward_workloads()) {
            const std::string base = "fwd/" + w.name;
            const int64_t bytes = w.bytes_moved();
            benchmark::RegisterBenchmark(("copy/" + w.name + suffix).c_str(),
                                         [bytes, t](benchmark::State& s) { copy_roofline(bytes, t, s); })
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
            auto add_ours = [&](const char* impl, Ours which) {
                benchmark::RegisterBenchmark(
                    (base + "/" + impl + suffix).c_str(),
                    [w, which, t](benchmark::State& s) { ours_forward(w, which, t, s); })
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            };
            add_ours("ours", Ours::planar);
            if (w.compare_opencv) add_ours("ours_hwc", Ours::hwc);
            if (w.grid == GridKind::affine && !w.channels_last) {
                add_ours("fused", Ours::fused);
                add_ours("two_step", Ours::two_step);
            }
            if (torch_info().available) {
                benchmark::RegisterBenchmark((base + "/torch" + suffix).c_str(),
                                             [w, t](benchmark::State& s) { torch_forward(w, t, s); })
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            }
            if (w.compare_opencv && opencv_info().available) {
                for (bool interleaved : {false, true}) {
                    benchmark::RegisterBenchmark(
                        (base + (interleaved ? "/opencv_hwc" : "/opencv_planar") + suffix).c_str(),
                        [w, t, interleaved](benchmark::State& s) { opencv_remap(w, t, interleaved, s); })
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond);
                }
            }
        }
    }
}

}  // namespace
}  // namespace gridsample_bench

int main(int argc, char** argv) {
    std::string table_path;
    std::vector<char*> args;
    for (int i = 0; i < argc; i++) {
        if (std::strncmp(argv[i], "--table=", 8) == 0) {
            table_path = argv[i] + 8;
        } else if (std::strcmp(argv[i], "--digests") == 0 ||
                   std::strncmp(argv[i], "--digests=", 10) == 0) {
            if (argv[i][9] == '=') gridsample_bench::set_outputs_dir(argv[i] + 10);
            gridsample_bench::print_digests();
            return 0;
        } else if (std::strncmp(argv[i], "--dump_workloads=", 17) == 0) {
            std::string error;
            if (!gridsample_bench::dump_workloads(argv[i] + 17, error)) {
                std::fprintf(stderr, "gridsample_bench: %s\n", error.c_str());
                return 1;
            }
            return 0;
        } else {
            args.push_back(argv[i]);
        }
    }
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
    gridsample_bench::register_benchmarks();
    gridsample_bench::TableReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::string table = gridsample_bench::make_table(reporter);
    const std::string backward = gridsample_bench::backward_table();
    if (!backward.empty()) table += "\n" + backward;
    std::printf("\n%s", table.c_str());
    if (!table_path.empty()) {
        std::ofstream(table_path) << table;
        std::printf("table written to %s\n", table_path.c_str());
    }
    benchmark::Shutdown();
    return 0;
}
