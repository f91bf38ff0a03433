// The library called from many threads at once (README.md, "Guarantees"): different data per
// thread, forward, backward, affine_grid and affine_grid_sample in several modes, paddings and
// dtypes, through the C++ API and the C ABI; every result bit-identical to the same call made
// alone. And while they run, one thread keeps changing the thread count (set_num_threads,
// documented as safe at any time) and the CPU level cap (set_max_cpu_isa): results must still be
// identical to the sequential results of the CPU level each call reports (last_dispatched_cpu_isa),
// with no crash and no deadlock (a watchdog aborts the test if it hangs). Also: each thread sees
// its own C ABI error message.
//
// The sanitizer presets run it too (asan: ASan and UBSan; tsan: ThreadSanitizer).
#include "gridsample/gridsample.h"
#include "gridsample/gridsample_c.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gridsample;

// The bytes of every output of one call.
using Result = std::vector<unsigned char>;

// One call with its own inputs: run() writes into fresh outputs and returns their bytes.
struct Job {
    std::string name;
    std::function<Status(Result&)> run;
};

template <typename T>
std::vector<T> random_values(size_t n, uint32_t seed, double lo, double hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(dist(rng));
    return v;
}

template <typename T>
void append_bytes(Result& r, const std::vector<T>& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    r.insert(r.end(), p, p + v.size() * sizeof(T));
}

template <typename T>
constexpr DType dtype_of() {
    return sizeof(T) == 8 ? DType::float64 : DType::float32;
}

// grid_sample on (n, c, h, w) with a (n, ho, wo, 2) grid, or 3-D with depth d > 0.
template <typename T>
Job forward_job(Interpolation mode, Padding padding, bool align, int64_t d, uint32_t seed) {
    const int64_t n = 2, c = 5, h = 23, w = 31, ho = 19, wo = 27, dout = d > 0 ? 7 : 0;
    const bool three = d > 0;
    auto input = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * c * (three ? d : 1) * h * w), seed, -2, 2));
    auto grid = std::make_shared<std::vector<T>>(random_values<T>(
        static_cast<size_t>(n * (three ? dout : 1) * ho * wo * (three ? 3 : 2)), seed + 1, -1.2,
        1.2));
    Options o;
    o.mode = mode;
    o.padding = padding;
    o.align_corners = align;
    Job job;
    job.name = std::string("forward_") + (three ? "3d_" : "2d_") + to_string(mode) + "_" +
               to_string(padding) + "_" + to_string(dtype_of<T>());
    job.run = [=](Result& r) {
        constexpr DType dt = dtype_of<T>();
        std::vector<T> out(static_cast<size_t>(n * c * (three ? dout : 1) * ho * wo));
        Status s = three ? grid_sample(TensorView(input->data(), dt, {n, c, d, h, w}),
                                       TensorView(grid->data(), dt, {n, dout, ho, wo, 3}),
                                       TensorView(out.data(), dt, {n, c, dout, ho, wo}), o)
                         : grid_sample(TensorView(input->data(), dt, {n, c, h, w}),
                                       TensorView(grid->data(), dt, {n, ho, wo, 2}),
                                       TensorView(out.data(), dt, {n, c, ho, wo}), o);
        r.clear();
        append_bytes(r, out);
        return s;
    };
    return job;
}

// grid_sample_backward, both gradients, 2-D (n, 11, h, w): several channel blocks.
template <typename T>
Job backward_job(Interpolation mode, Padding padding, bool align, uint32_t seed) {
    const int64_t n = 2, c = 11, h = 17, w = 21, ho = 15, wo = 13;
    auto input = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * c * h * w), seed, -2, 2));
    auto grid = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * ho * wo * 2), seed + 1, -1.1, 1.1));
    auto grad_out = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * c * ho * wo), seed + 2, -1, 1));
    Options o;
    o.mode = mode;
    o.padding = padding;
    o.align_corners = align;
    Job job;
    job.name = std::string("backward_2d_") + to_string(mode) + "_" + to_string(padding) + "_" +
               to_string(dtype_of<T>());
    job.run = [=](Result& r) {
        constexpr DType dt = dtype_of<T>();
        std::vector<T> gi(input->size()), gg(grid->size());
        const TensorView gi_view(gi.data(), dt, {n, c, h, w}), gg_view(gg.data(), dt, {n, ho, wo, 2});
        Status s = grid_sample_backward(TensorView(grad_out->data(), dt, {n, c, ho, wo}),
                                        TensorView(input->data(), dt, {n, c, h, w}),
                                        TensorView(grid->data(), dt, {n, ho, wo, 2}), &gi_view,
                                        &gg_view, o);
        r.clear();
        append_bytes(r, gi);
        append_bytes(r, gg);
        return s;
    };
    return job;
}

// affine_grid, 2-D (n, h, w) or 3-D, through the C ABI.
template <typename T>
Job affine_job(bool three, bool align, uint32_t seed) {
    const int64_t n = 3, d = 5, h = 29, w = 37;
    const int64_t k = three ? 3 : 2;
    auto theta =
        std::make_shared<std::vector<T>>(random_values<T>(static_cast<size_t>(n * k * (k + 1)), seed, -1.5, 1.5));
    Job job;
    job.name = std::string("affine_grid_") + (three ? "3d_" : "2d_") + to_string(dtype_of<T>());
    job.run = [=](Result& r) {
        std::vector<T> grid(static_cast<size_t>(n * (three ? d : 1) * h * w * k));
        gridsample_tensor t{theta->data(), sizeof(T) == 8 ? GRIDSAMPLE_FLOAT64 : GRIDSAMPLE_FLOAT32, 3,
                            {n, k, k + 1}, {k * (k + 1), k + 1, 1}};
        gridsample_tensor g{};
        g.data = grid.data();
        g.dtype = t.dtype;
        if (three) {
            g.rank = 5;
            const int64_t sizes[5] = {n, d, h, w, 3}, strides[5] = {d * h * w * 3, h * w * 3, w * 3, 3, 1};
            std::memcpy(g.sizes, sizes, sizeof sizes);
            std::memcpy(g.strides, strides, sizeof strides);
        } else {
            g.rank = 4;
            const int64_t sizes[4] = {n, h, w, 2}, strides[4] = {h * w * 2, w * 2, 2, 1};
            std::memcpy(g.sizes, sizes, sizeof sizes);
            std::memcpy(g.strides, strides, sizeof strides);
        }
        const int64_t size2[4] = {n, 1, h, w}, size3[5] = {n, 1, d, h, w};
        const int32_t code = gridsample_affine_grid(&t, three ? size3 : size2, three ? 5 : 4, &g,
                                                    align ? 1 : 0);
        r.clear();
        append_bytes(r, grid);
        return code == GRIDSAMPLE_OK ? Status::Ok()
                                     : Status(StatusCode::internal, gridsample_last_error());
    };
    return job;
}

// affine_grid_sample, 2-D, channels-last input (the interleaved specialization).
template <typename T>
Job fused_job(Interpolation mode, Padding padding, bool align, uint32_t seed) {
    const int64_t n = 2, c = 3, h = 41, w = 53, ho = 37, wo = 45;
    auto input = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * c * h * w), seed, -2, 2));
    auto theta = std::make_shared<std::vector<T>>(
        random_values<T>(static_cast<size_t>(n * 2 * 3), seed + 1, -1.2, 1.2));
    Options o;
    o.mode = mode;
    o.padding = padding;
    o.align_corners = align;
    Job job;
    job.name = std::string("affine_grid_sample_2d_") + to_string(mode) + "_" + to_string(padding) +
               "_" + to_string(dtype_of<T>());
    job.run = [=](Result& r) {
        constexpr DType dt = dtype_of<T>();
        std::vector<T> out(static_cast<size_t>(n * c * ho * wo));
        const Status s = affine_grid_sample(
            TensorView(input->data(), dt, {n, c, h, w}, {h * w * c, 1, w * c, c}),
            TensorView(theta->data(), dt, {n, 2, 3}),
            TensorView(out.data(), dt, {n, c, ho, wo}, {ho * wo * c, 1, wo * c, c}), o);
        r.clear();
        append_bytes(r, out);
        return s;
    };
    return job;
}

std::vector<Job> all_jobs() {
    std::vector<Job> jobs;
    jobs.push_back(forward_job<float>(Interpolation::bilinear, Padding::zeros, false, 0, 10));
    jobs.push_back(forward_job<double>(Interpolation::bicubic, Padding::reflection, true, 0, 20));
    jobs.push_back(forward_job<float>(Interpolation::nearest, Padding::border, false, 0, 30));
    jobs.push_back(forward_job<float>(Interpolation::bicubic, Padding::border, false, 0, 35));
    jobs.push_back(forward_job<double>(Interpolation::bilinear, Padding::border, true, 6, 40));
    jobs.push_back(forward_job<float>(Interpolation::nearest, Padding::reflection, false, 6, 50));
    jobs.push_back(backward_job<float>(Interpolation::bilinear, Padding::zeros, false, 60));
    jobs.push_back(backward_job<double>(Interpolation::bicubic, Padding::border, true, 70));
    jobs.push_back(backward_job<float>(Interpolation::nearest, Padding::reflection, true, 80));
    jobs.push_back(affine_job<float>(false, false, 90));
    jobs.push_back(affine_job<double>(true, true, 100));
    jobs.push_back(fused_job<float>(Interpolation::bilinear, Padding::zeros, false, 110));
    jobs.push_back(fused_job<float>(Interpolation::bicubic, Padding::border, true, 120));
    return jobs;
}

// The sequential results: for each job and each CPU level the dispatcher actually runs (some
// levels may not be compiled or not supported here), the bytes of one call made alone.
struct References {
    std::map<std::pair<size_t, CpuIsa>, Result> results;
    std::vector<CpuIsa> levels;  // the levels that ran, lowest first
};

References sequential_references(const std::vector<Job>& jobs) {
    References refs;
    for (int level = 0; level <= static_cast<int>(kHighestCpuIsa); level++) {
        set_max_cpu_isa(static_cast<CpuIsa>(level));
        for (size_t j = 0; j < jobs.size(); j++) {
            Result r;
            const Status s = jobs[j].run(r);
            EXPECT_TRUE(s.ok()) << jobs[j].name << ": " << s.message();
            const CpuIsa ran = last_dispatched_cpu_isa();
            refs.results[{j, ran}] = r;
            if (j == 0 && (refs.levels.empty() || refs.levels.back() != ran)) {
                refs.levels.push_back(ran);
            }
        }
    }
    set_max_cpu_isa(kHighestCpuIsa);
    return refs;
}

// Aborts the process if the test body has not finished within `seconds`: a deadlock fails the
// test instead of hanging the suite.
class Watchdog {
public:
    explicit Watchdog(int seconds) {
        thread_ = std::thread([this, seconds] {
            std::unique_lock<std::mutex> lock(mutex_);
            if (!done_cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
                std::fprintf(stderr, "watchdog: the test did not finish within %d s (deadlock?)\n",
                             seconds);
                std::abort();
            }
        });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread thread_;
};

class Concurrency : public ::testing::Test {
protected:
    void TearDown() override {
        set_num_threads(0);
        set_max_cpu_isa(kHighestCpuIsa);
    }
};

// Runs `rounds` rounds of every job (in a thread-dependent order) on each of `threads` threads,
// comparing each result with the sequential reference of the level it ran on. Returns the number
// of mismatches and failed calls; the first few are described in `report`.
int run_threads(const std::vector<Job>& jobs, const References& refs, int threads, int rounds,
                std::string& report) {
    std::atomic<int> problems{0};
    std::mutex report_mutex;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) {
        pool.emplace_back([&, t] {
            std::mt19937 rng(static_cast<uint32_t>(1000 + t));
            std::vector<size_t> order(jobs.size());
            for (size_t j = 0; j < order.size(); j++) order[j] = j;
            Result r;
            for (int round = 0; round < rounds; round++) {
                std::shuffle(order.begin(), order.end(), rng);
                for (size_t j : order) {
                    const Status s = jobs[j].run(r);
                    const CpuIsa ran = last_dispatched_cpu_isa();
                    const auto ref = refs.results.find({j, ran});
                    std::string problem;
                    if (!s.ok()) {
                        problem = jobs[j].name + " failed: " + s.message();
                    } else if (ref == refs.results.end()) {
                        problem = jobs[j].name + " ran on " + to_string(ran) +
                                  ", a level the sequential calls never ran";
                    } else if (ref->second != r) {
                        problem = jobs[j].name + " on " + to_string(ran) + " (thread " +
                                  std::to_string(t) + ", round " + std::to_string(round) +
                                  "): differs from the sequential result";
                    }
                    if (!problem.empty() && problems.fetch_add(1) < 5) {
                        std::lock_guard<std::mutex> lock(report_mutex);
                        report += problem + "\n";
                    }
                }
            }
        });
    }
    for (std::thread& th : pool) th.join();
    return problems.load();
}

TEST_F(Concurrency, ManyThreadsGiveTheSequentialResults) {
    Watchdog watchdog(600);
    const std::vector<Job> jobs = all_jobs();
    const References refs = sequential_references(jobs);
    std::string report;
    const int problems = run_threads(jobs, refs, 8, 3, report);
    EXPECT_EQ(problems, 0) << report;
}

TEST_F(Concurrency, ThreadCountAndCpuLevelChangesWhileCallsRun) {
    Watchdog watchdog(600);
    const std::vector<Job> jobs = all_jobs();
    const References refs = sequential_references(jobs);
    std::atomic<bool> keep_going{true};
    std::atomic<int> changes{0};
    // The changer: thread counts 1..4 and 0 (the default), and every CPU level the dispatcher
    // ran above, as fast as it can, until the samplers have done their rounds.
    std::thread changer([&] {
        std::mt19937 rng(7);
        const int counts[] = {1, 2, 3, 4, 0};
        while (keep_going.load()) {
            set_num_threads(counts[rng() % 5]);
            set_max_cpu_isa(refs.levels[rng() % refs.levels.size()]);
            if (rng() % 4 == 0) gridsample_set_num_threads(static_cast<int32_t>(rng() % 3));
            changes.fetch_add(1);
            std::this_thread::yield();
        }
    });
    // Rounds of calls until the settings have changed at least 20 times while they ran (how
    // many changes fit in one round depends on the machine's load).
    std::string report;
    int problems = 0, rounds = 0;
    const int changes_before = changes.load();
    do {
        problems += run_threads(jobs, refs, 6, 4, report);
    } while (changes.load() - changes_before < 20 && ++rounds < 100);
    keep_going = false;
    changer.join();
    EXPECT_EQ(problems, 0) << report;
    EXPECT_GE(changes.load() - changes_before, 20)
        << "the thread count hardly changed while the calls ran";
}

TEST_F(Concurrency, EachThreadSeesItsOwnErrorMessage) {
    Watchdog watchdog(300);
    std::atomic<int> problems{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 8; t++) {
        pool.emplace_back([&, t] {
            std::vector<float> input(2 * 3 * 4 * 5, 1.0f), grid(2 * 6 * 7 * 2, 0.25f),
                output(2 * 3 * 6 * 7);
            for (int i = 0; i < 200; i++) {
                // Thread t asks for a grid of last dimension 3 + t: its message names it.
                const int64_t last = 3 + t;
                gridsample_tensor in{input.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 4, 5}, {60, 20, 5, 1}};
                gridsample_tensor g{grid.data(), GRIDSAMPLE_FLOAT32, 4, {2, 6, 7, last},
                                    {42 * last, 7 * last, last, 1}};
                gridsample_tensor out{output.data(), GRIDSAMPLE_FLOAT32, 4, {2, 3, 6, 7},
                                      {126, 42, 7, 1}};
                gridsample_options o{GRIDSAMPLE_BILINEAR, GRIDSAMPLE_ZEROS, 0};
                if (i % 2 == 1) {  // and every other call succeeds, clearing the message
                    g.sizes[3] = 2;
                    g.strides[0] = 84, g.strides[1] = 14, g.strides[2] = 2;
                }
                const int32_t code = gridsample_grid_sample(&in, &g, &out, &o);
                const std::string message = gridsample_last_error();
                const bool ok = i % 2 == 1
                                    ? code == GRIDSAMPLE_OK && message.empty()
                                    : code == GRIDSAMPLE_INVALID_ARGUMENT &&
                                          message.find("got " + std::to_string(last)) !=
                                              std::string::npos;
                if (!ok) problems.fetch_add(1);
            }
        });
    }
    for (std::thread& th : pool) th.join();
    EXPECT_EQ(problems.load(), 0);
}

}  // namespace
