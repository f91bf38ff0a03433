// Many host threads calling at once on one OpenCL device, each on a command queue of its own
// (SEMANTICS.md S13: device calls run on the caller's queue; any number of threads may call at
// once): every thread's results match the CPU's within S11, whatever the interleaving, including
// first calls that compile kernels while other threads launch.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <gtest/gtest.h>

#include "device_buffers.h"
#include "gridsample/gridsample.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gridsample_test;
namespace gs = gridsample;

std::vector<float> random_values(size_t count, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng);
    return v;
}

TEST(OpenCLConcurrency, ThreadsOnTheirOwnQueues) {
    const gs::Device device = gs::Device::opencl(0);
    if (const std::string reason = device_unavailable_reason(device); !reason.empty()) {
        GTEST_SKIP() << reason;
    }
    const gs::Stream shared = test_stream(device);
    auto context = static_cast<cl_context>(shared.opencl_context);
    cl_device_id id = nullptr;
    ASSERT_EQ(clGetCommandQueueInfo(static_cast<cl_command_queue>(shared.opencl_queue),
                                    CL_QUEUE_DEVICE, sizeof(id), &id, nullptr),
              CL_SUCCESS);

    constexpr int kThreads = 4, kRounds = 6;
    const int64_t n = 2, c = 3, h = 17, w = 19, ho = 11, wo = 13;
    std::vector<float> input = random_values(n * c * h * w, 1, -2, 2);
    std::vector<float> grid = random_values(n * ho * wo * 2, 2, -1.2f, 1.2f);
    const gs::TensorView host_input(input.data(), {n, c, h, w});
    const gs::TensorView host_grid(grid.data(), {n, ho, wo, 2});
    // The CPU's result for each mode (S11: float32 within 2e-5 of max |input| = 2).
    const gs::Interpolation modes[] = {gs::Interpolation::bilinear, gs::Interpolation::nearest,
                                       gs::Interpolation::bicubic};
    std::vector<std::vector<float>> expected;
    for (gs::Interpolation mode : modes) {
        std::vector<float> out(n * c * ho * wo);
        gs::Options o;
        o.mode = mode;
        ASSERT_TRUE(gs::grid_sample(host_input, host_grid, gs::TensorView(out.data(), {n, c, ho, wo}), o).ok());
        expected.push_back(out);
    }

    DeviceBuffer device_input(device, host_input), device_grid(device, host_grid);
    std::vector<std::vector<float>> results(kThreads, std::vector<float>(n * c * ho * wo, -7.0f));
    std::vector<DeviceBuffer> outputs;
    for (int t = 0; t < kThreads; t++) {
        outputs.emplace_back(device, gs::TensorView(results[t].data(), {n, c, ho, wo}));
    }
    synchronize(device);

    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            cl_int err = CL_SUCCESS;
            cl_command_queue queue = clCreateCommandQueue(context, id, 0, &err);
            if (err != CL_SUCCESS) {
                failures[t] = "clCreateCommandQueue failed";
                return;
            }
            for (int r = 0; r < kRounds && failures[t].empty(); r++) {
                const int m = (t + r) % 3;
                gs::Options o;
                o.mode = modes[m];
                o.stream.opencl_context = context;
                o.stream.opencl_queue = queue;
                const gs::Status s = gs::grid_sample(device_input.view(), device_grid.view(),
                                                     outputs[t].view(), o);
                if (!s.ok()) {
                    failures[t] = s.message();
                    break;
                }
                std::vector<float>& got = results[t];
                err = clEnqueueReadBuffer(queue, static_cast<cl_mem>(outputs[t].view().data),
                                          CL_TRUE, 0, got.size() * sizeof(float), got.data(), 0,
                                          nullptr, nullptr);
                if (err != CL_SUCCESS) {
                    failures[t] = "clEnqueueReadBuffer failed";
                    break;
                }
                double diff = 0;
                for (size_t i = 0; i < got.size(); i++) {
                    diff = std::max(diff, std::fabs(double(got[i]) - expected[m][i]));
                }
                // Nearest picks the same pixels (no ties in random data), so it matches exactly.
                if (diff > 2e-5 * 2) {
                    failures[t] = "round " + std::to_string(r) + ", mode " +
                                  gs::to_string(modes[m]) + ": max difference " +
                                  std::to_string(diff);
                }
            }
            clReleaseCommandQueue(queue);
        });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < kThreads; t++) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
