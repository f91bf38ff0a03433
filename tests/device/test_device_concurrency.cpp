// Device calls from many host threads at once, each on a stream or queue of its own, and calls in
// contexts of the caller's own, created and released in turn (SEMANTICS.md S13: device calls run
// on the caller's stream and context; any number of threads may call at once).
//
// Every thread alternates the forward and the backward of every mode: the forward matches the
// CPU's within S11 and the backward does too, and the backward (deterministic by default, S13)
// is bit for bit the same on every thread and round, whatever the interleaving: first calls that
// load kernels while other threads launch, and scratch memory the library keeps per stream.
#include <gtest/gtest.h>

#include "device_suite.h"
#include "gridsample/gridsample.h"
#include "gridsample/gridsample_c.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gridsample_test;
namespace gs = gridsample;

constexpr int64_t kN = 2, kC = 3, kH = 17, kW = 19, kHo = 11, kWo = 13;
constexpr gs::Interpolation kModes[] = {gs::Interpolation::bilinear, gs::Interpolation::nearest,
                                        gs::Interpolation::bicubic};

std::vector<float> random_values(size_t count, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng);
    return v;
}

double max_abs(const std::vector<float>& v) {
    double m = 0;
    for (float x : v) m = std::max(m, double(std::fabs(x)));
    return m;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
}

// The host data of the tests and the CPU's results for every mode.
struct Problem {
    std::vector<float> input = random_values(kN * kC * kH * kW, 1, -2, 2);
    std::vector<float> grid = random_values(kN * kHo * kWo * 2, 2, -1.2f, 1.2f);
    std::vector<float> grad_output = random_values(kN * kC * kHo * kWo, 3, -1, 1);
    gs::TensorView input_view{input.data(), {kN, kC, kH, kW}};
    gs::TensorView grid_view{grid.data(), {kN, kHo, kWo, 2}};
    gs::TensorView grad_output_view{grad_output.data(), {kN, kC, kHo, kWo}};
    // Per mode: output, grad_input, grad_grid.
    std::vector<std::vector<float>> output, grad_input, grad_grid;

    Problem() {
        for (gs::Interpolation mode : kModes) {
            gs::Options o;
            o.mode = mode;
            std::vector<float> out(kN * kC * kHo * kWo), gi(input.size()), gg(grid.size());
            EXPECT_TRUE(gs::grid_sample(input_view, grid_view, gs::TensorView(out.data(), {kN, kC, kHo, kWo}), o).ok());
            const gs::TensorView gi_view(gi.data(), {kN, kC, kH, kW}), gg_view(gg.data(), {kN, kHo, kWo, 2});
            EXPECT_TRUE(gs::grid_sample_backward(grad_output_view, input_view, grid_view, &gi_view, &gg_view, o).ok());
            output.push_back(out);
            grad_input.push_back(gi);
            grad_grid.push_back(gg);
        }
    }
};

// One thread's buffers, in its stream's context.
struct ThreadBuffers {
    // Declared before the buffers, which are made from them.
    std::vector<float> output_host = std::vector<float>(kN * kC * kHo * kWo, -7.0f);
    std::vector<float> grad_input_host = std::vector<float>(kN * kC * kH * kW, -7.0f);
    std::vector<float> grad_grid_host = std::vector<float>(kN * kHo * kWo * 2, -7.0f);
    DeviceBuffer input, grid, grad_output, output, grad_input, grad_grid;

    ThreadBuffers(const OwnStream& stream, const Problem& p)
        : input(stream, p.input_view),
          grid(stream, p.grid_view),
          grad_output(stream, p.grad_output_view),
          output(stream, out_view()),
          grad_input(stream, grad_input_view()),
          grad_grid(stream, grad_grid_view()) {}
    gs::TensorView out_view() { return {output_host.data(), {kN, kC, kHo, kWo}}; }
    gs::TensorView grad_input_view() { return {grad_input_host.data(), {kN, kC, kH, kW}}; }
    gs::TensorView grad_grid_view() { return {grad_grid_host.data(), {kN, kHo, kWo, 2}}; }
};

// One round on `stream`: the forward or the backward of mode m, checked against the CPU's (S11:
// float32 within 2e-5 of the largest magnitude; the backward's sums within 1e-4). Returns the
// failure, or "".
std::string run_round(const OwnStream& stream, ThreadBuffers& b, const Problem& p, int m,
                      bool backward, std::vector<float>* grad_input_bits) {
    gs::Options o;
    o.mode = kModes[m];
    o.stream = stream.stream();
    const std::string what = std::string(backward ? "backward" : "forward") + " " + gs::to_string(kModes[m]);
    if (!backward) {
        const gs::Status s = gs::grid_sample(b.input.view(), b.grid.view(), b.output.view(), o);
        if (!s.ok()) return what + ": " + s.message();
        stream.synchronize();
        b.output.copy_to_host(b.out_view());
        const double diff = max_diff(b.output_host, p.output[m]);
        if (diff > 2e-5 * max_abs(p.input)) return what + ": max difference " + std::to_string(diff);
        return {};
    }
    const gs::TensorView gi = b.grad_input.view(), gg = b.grad_grid.view();
    const gs::Status s = gs::grid_sample_backward(b.grad_output.view(), b.input.view(), b.grid.view(), &gi, &gg, o);
    if (!s.ok()) return what + ": " + s.message();
    stream.synchronize();
    b.grad_input.copy_to_host(b.grad_input_view());
    b.grad_grid.copy_to_host(b.grad_grid_view());
    const double di = max_diff(b.grad_input_host, p.grad_input[m]);
    const double dg = max_diff(b.grad_grid_host, p.grad_grid[m]);
    if (di > 1e-4 * std::max(1.0, max_abs(p.grad_input[m])) ||
        dg > 1e-4 * std::max(1.0, max_abs(p.grad_grid[m]))) {
        return what + ": max difference grad_input " + std::to_string(di) + ", grad_grid " + std::to_string(dg);
    }
    if (grad_input_bits != nullptr) *grad_input_bits = b.grad_input_host;
    return {};
}

class DeviceConcurrency : public DeviceSuite<gs::Device> {};

TEST_P(DeviceConcurrency, ThreadsOnTheirOwnStreams) {
    const Problem p;
    constexpr int kThreads = 4, kRounds = 6;
    // The streams are made here and used on the threads, as an application may hand them out.
    std::vector<std::unique_ptr<OwnStream>> streams;
    std::vector<std::unique_ptr<ThreadBuffers>> buffers;
    for (int t = 0; t < kThreads; t++) {
        streams.push_back(std::make_unique<OwnStream>(device()));
        buffers.push_back(std::make_unique<ThreadBuffers>(*streams[t], p));
    }
    synchronize(device());

    std::vector<std::string> failures(kThreads);
    // Per thread and mode, the grad_input of the backward rounds.
    std::vector<std::vector<std::vector<std::vector<float>>>> bits(
        kThreads, std::vector<std::vector<std::vector<float>>>(3));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            try {
                for (int r = 0; r < kRounds && failures[t].empty(); r++) {
                    const int m = (t + r) % 3;
                    const bool backward = (t + r / 3) % 2 == 1;
                    std::vector<float> grad_input;
                    failures[t] = run_round(*streams[t], *buffers[t], p, m, backward, &grad_input);
                    if (failures[t].empty() && backward) bits[t][m].push_back(grad_input);
                    if (!failures[t].empty()) failures[t] = "round " + std::to_string(r) + ", " + failures[t];
                }
            } catch (const std::exception& e) {
                failures[t] = e.what();
            }
        });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < kThreads; t++) EXPECT_EQ(failures[t], "") << "thread " << t;

    // S13: the deterministic backward is bit for bit the same on every thread and round.
    int compared = 0;
    for (int m = 0; m < 3; m++) {
        const std::vector<float>* first = nullptr;
        for (int t = 0; t < kThreads; t++) {
            for (const std::vector<float>& g : bits[t][m]) {
                if (first == nullptr) {
                    first = &g;
                    continue;
                }
                compared++;
                EXPECT_EQ(std::memcmp(first->data(), g.data(), g.size() * sizeof(float)), 0)
                    << gs::to_string(kModes[m]) << ": thread " << t << "'s grad_input differs in its bits";
            }
        }
    }
    EXPECT_GT(compared, 0) << "no two backward rounds of one mode to compare";
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceConcurrency);

// Contexts of the caller's own (CUDA: cuCtxCreate, not the primary one; OpenCL: a cl_context
// of the test's own), created and destroyed in turn as an application may: in each, calls run on
// its stream, on memory allocated in it, and release_context drops what the library loaded there
// before the context goes. A context created next may get the handle of the one destroyed; the
// library must not reuse the old one's kernels for it.
class DeviceContexts : public DeviceSuite<gs::Device> {};

TEST_P(DeviceContexts, CallsInContextsCreatedAndReleasedInTurn) {
    const Problem p;
    for (int round = 0; round < 4; round++) {
        SCOPED_TRACE("context " + std::to_string(round));
        const OwnStream stream(device(), /*own_context=*/true);
        ThreadBuffers b(stream, p);
        stream.synchronize();
        for (int m = 0; m < 3; m++) {
            std::vector<float> first, second;
            EXPECT_EQ(run_round(stream, b, p, m, false, nullptr), "");
            EXPECT_EQ(run_round(stream, b, p, m, true, &first), "");
            EXPECT_EQ(run_round(stream, b, p, m, true, &second), "");
            EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)), 0)
                << gs::to_string(kModes[m]) << ": the backward differs between two calls";
        }
        const gs::Status released = gs::release_context(device(), stream.stream());
        EXPECT_TRUE(released.ok()) << released.message();
    }
    // The default context (a null stream: CUDA's primary context, the library's own OpenCL
    // context) and the test stream's context may be released too, and a call in a released
    // context loads its kernels again.
    gs::Status released = gs::release_context(device());
    EXPECT_TRUE(released.ok()) << released.message();
    released = gs::release_context(device(), test_stream(device()));
    EXPECT_TRUE(released.ok()) << released.message();
    std::vector<float> out(kN * kC * kHo * kWo, -7.0f);
    DeviceBuffer input(device(), p.input_view), grid(device(), p.grid_view),
        output(device(), gs::TensorView(out.data(), {kN, kC, kHo, kWo}));
    gs::Options o;
    o.stream = test_stream(device());
    const gs::Status s = gs::grid_sample(input.view(), grid.view(), output.view(), o);
    ASSERT_TRUE(s.ok()) << s.message();
    synchronize(device());
    output.copy_to_host(gs::TensorView(out.data(), {kN, kC, kHo, kWo}));
    EXPECT_LE(max_diff(out, p.output[0]), 2e-5 * max_abs(p.input));
}

TEST_P(DeviceContexts, ReleaseContextRefusesWhatIsNoGpuContext) {
    gs::Status s = gs::release_context(gs::Device::cpu());
    EXPECT_EQ(s.code(), gs::StatusCode::invalid_argument);
    EXPECT_NE(s.message().find("not cpu"), std::string::npos) << s.message();
    s = gs::release_context(gs::Device{device().type, 99});
    EXPECT_EQ(s.code(), gs::StatusCode::unsupported);
    EXPECT_NE(s.message().find("no such device"), std::string::npos) << s.message();
    // The C ABI: the same answers, and the default context (a null stream) released.
    const int32_t type = static_cast<int32_t>(device().type);
    EXPECT_EQ(gridsample_release_context(GRIDSAMPLE_CPU, 0, nullptr), GRIDSAMPLE_INVALID_ARGUMENT);
    EXPECT_NE(std::string(gridsample_last_error()).find("not cpu"), std::string::npos);
    EXPECT_EQ(gridsample_release_context(type, 99, nullptr), GRIDSAMPLE_UNSUPPORTED);
    EXPECT_EQ(gridsample_release_context(type, device().id, nullptr), GRIDSAMPLE_OK)
        << gridsample_last_error();
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceContexts);

}  // namespace
