// Errors and API of device calls (SEMANTICS.md S8, S13), on each GPU device (OpenCL, CUDA):
// tensors of one call on different devices (the host, another device) are an invalid_argument
// error naming the argument; a device id that does not exist, or a backend or driver that is
// missing, is `unsupported` naming what is missing, never a crash; S8's argument errors are found
// on device tensors too; on any error nothing is written. device_status, from_dlpack of device
// tensors, and (CUDA) calls on the default stream.
#include <gtest/gtest.h>

#include "backward_check.h"
#include "device_suite.h"
#include "forward_check.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace gridsample_test;
namespace gs = gridsample;

constexpr float kSentinel = -7.0f;

std::vector<float> random_values(size_t count, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng);
    return v;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Another device than `d`: the other GPU kind, or the same kind with another id.
std::vector<gs::Device> other_devices(gs::Device d) {
    const gs::Device other_kind =
        d.type == gs::DeviceType::opencl ? gs::Device::cuda(0) : gs::Device::opencl(0);
    return {other_kind, {d.type, d.id + 1}};
}

// The tensors of a valid 2-D float32 call, in host memory and copied to a device: input
// (2, 3, 4, 5), grid (2, 6, 7, 2), theta (2, 2, 3), and the outputs output and grad_output
// (2, 3, 6, 7), grad_input (2, 3, 4, 5) and grad_grid (2, 6, 7, 2), filled with kSentinel.
struct CallTensors {
    std::vector<float> input = random_values(2 * 3 * 4 * 5, 1, -1.0f, 1.0f);
    std::vector<float> grid = random_values(2 * 6 * 7 * 2, 2, -1.2f, 1.2f);
    std::vector<float> theta = random_values(2 * 2 * 3, 3, -1.0f, 1.0f);
    std::vector<float> grad_output = random_values(2 * 3 * 6 * 7, 4, -1.0f, 1.0f);
    std::vector<float> output = std::vector<float>(2 * 3 * 6 * 7, kSentinel);
    std::vector<float> grad_input = std::vector<float>(2 * 3 * 4 * 5, kSentinel);
    std::vector<float> grad_grid = std::vector<float>(2 * 6 * 7 * 2, kSentinel);

    gs::TensorView h_input{input.data(), {2, 3, 4, 5}};
    gs::TensorView h_grid{grid.data(), {2, 6, 7, 2}};
    gs::TensorView h_theta{theta.data(), {2, 2, 3}};
    gs::TensorView h_grad_output{grad_output.data(), {2, 3, 6, 7}};
    gs::TensorView h_output{output.data(), {2, 3, 6, 7}};
    gs::TensorView h_grad_input{grad_input.data(), {2, 3, 4, 5}};
    gs::TensorView h_grad_grid{grad_grid.data(), {2, 6, 7, 2}};

    DeviceBuffer input_buffer, grid_buffer, theta_buffer, grad_output_buffer, output_buffer,
        grad_input_buffer, grad_grid_buffer;

    explicit CallTensors(gs::Device device)
        : input_buffer(device, h_input),
          grid_buffer(device, h_grid),
          theta_buffer(device, h_theta),
          grad_output_buffer(device, h_grad_output),
          output_buffer(device, h_output),
          grad_input_buffer(device, h_grad_input),
          grad_grid_buffer(device, h_grad_grid) {}

    const gs::TensorView& input_view() const { return input_buffer.view(); }
    const gs::TensorView& grid_view() const { return grid_buffer.view(); }
    const gs::TensorView& theta_view() const { return theta_buffer.view(); }
    const gs::TensorView& grad_output_view() const { return grad_output_buffer.view(); }
    const gs::TensorView& output_view() const { return output_buffer.view(); }
    const gs::TensorView& grad_input_view() const { return grad_input_buffer.view(); }
    const gs::TensorView& grad_grid_view() const { return grad_grid_buffer.view(); }

    // Every output, on the device (after synchronizing) and in host memory, still holds
    // kSentinel everywhere.
    void expect_nothing_written(gs::Device device, const std::string& what) {
        synchronize(device);
        const auto check = [&](const DeviceBuffer& buffer, const std::vector<float>& host,
                               const char* name) {
            std::vector<float> back(host.size(), 0.0f);
            buffer.copy_to_host(gs::TensorView(back.data(), buffer.view().dtype, {static_cast<int64_t>(back.size())}));
            const auto written = [](const std::vector<float>& v) {
                return std::count_if(v.begin(), v.end(), [](float x) { return x != kSentinel; });
            };
            EXPECT_EQ(written(back), 0) << what << ": the device's " << name << " was written";
            EXPECT_EQ(written(host), 0) << what << ": the host's " << name << " was written";
        };
        check(output_buffer, output, "output");
        check(grad_input_buffer, grad_input, "grad_input");
        check(grad_grid_buffer, grad_grid, "grad_grid");
        // The inputs too (an output placed in an input's buffer must have been refused).
        std::vector<float> back(input.size(), 0.0f);
        input_buffer.copy_to_host(gs::TensorView(back.data(), {static_cast<int64_t>(back.size())}));
        EXPECT_TRUE(back == input) << what << ": the device's input was written";
    }
};

void expect_error(const gs::Status& s, gs::StatusCode code, const std::string& names,
                  const std::string& what) {
    EXPECT_EQ(s.code(), code) << what << ": expected " << gs::to_string(code) << ", got "
                              << gs::to_string(s.code()) << ": " << s.message();
    if (!names.empty()) {
        EXPECT_NE(s.message().find(names), std::string::npos)
            << what << ": the message does not name " << names << ": " << s.message();
    }
}

// ------------------------------------------------------------------------------------------------
// On a device present here

class DeviceErrors : public DeviceSuite<gs::Device> {
protected:
    gs::Options options() const {
        gs::Options o;
        o.stream = test_stream(device());
        return o;
    }
};

// S13: every tensor of a call on one device; one elsewhere (the host, the other GPU kind, another
// id of the same kind) is invalid_argument naming it, and nothing is written.
TEST_P(DeviceErrors, TensorsOnDifferentDevicesAreInvalid) {
    CallTensors t(device());
    const gs::Options o = options();
    const gs::Stream stream = o.stream;
    const gs::StatusCode invalid = gs::StatusCode::invalid_argument;
    std::vector<std::pair<std::string, gs::Device>> elsewhere = {{"the host", gs::Device::cpu()}};
    for (gs::Device d : other_devices(device())) elsewhere.emplace_back(gs::to_string(d), d);

    for (const auto& entry : elsewhere) {
        const std::string& where = entry.first;
        const gs::Device other = entry.second;
        // A view of the same memory said to be elsewhere; the host's own copy for the host.
        const auto moved = [&](const gs::TensorView& device_view, const gs::TensorView& host_view) {
            return other.type == gs::DeviceType::cpu ? host_view : device_view.on(other);
        };
        const std::string on = " on " + where;
        const gs::TensorView in = t.input_view(), grid = t.grid_view(), theta = t.theta_view(),
                             go = t.grad_output_view(), out = t.output_view(),
                             gi = t.grad_input_view(), gg = t.grad_grid_view();
        const gs::TensorView m_in = moved(in, t.h_input), m_grid = moved(grid, t.h_grid),
                             m_theta = moved(theta, t.h_theta), m_go = moved(go, t.h_grad_output),
                             m_out = moved(out, t.h_output), m_gi = moved(gi, t.h_grad_input),
                             m_gg = moved(gg, t.h_grad_grid);

        expect_error(gs::grid_sample(m_in, grid, out, o), invalid, "input", "grid_sample, input" + on);
        expect_error(gs::grid_sample(in, m_grid, out, o), invalid, "grid", "grid_sample, grid" + on);
        expect_error(gs::grid_sample(in, grid, m_out, o), invalid, "output", "grid_sample, output" + on);

        expect_error(gs::grid_sample_backward(m_go, in, grid, &gi, &gg, o), invalid, "grad_output",
                     "grid_sample_backward, grad_output" + on);
        expect_error(gs::grid_sample_backward(go, m_in, grid, &gi, &gg, o), invalid, "input",
                     "grid_sample_backward, input" + on);
        expect_error(gs::grid_sample_backward(go, in, m_grid, &gi, &gg, o), invalid, "grid",
                     "grid_sample_backward, grid" + on);
        expect_error(gs::grid_sample_backward(go, in, grid, &m_gi, &gg, o), invalid, "grad_input",
                     "grid_sample_backward, grad_input" + on);
        expect_error(gs::grid_sample_backward(go, in, grid, &gi, &m_gg, o), invalid, "grad_grid",
                     "grid_sample_backward, grad_grid" + on);
        expect_error(gs::grid_sample_backward(go, in, grid, &m_gi, nullptr, o), invalid, "grad_input",
                     "grid_sample_backward, grad_input only" + on);
        expect_error(gs::grid_sample_backward(go, in, grid, nullptr, &m_gg, o), invalid, "grad_grid",
                     "grid_sample_backward, grad_grid only" + on);

        // affine_grid writes the grid: use grad_grid's buffer (the same shape) as its output.
        expect_error(gs::affine_grid(m_theta, {2, 3, 6, 7}, gg, false, stream), invalid, "theta",
                     "affine_grid, theta" + on);
        expect_error(gs::affine_grid(theta, {2, 3, 6, 7}, m_gg, false, stream), invalid, "grid",
                     "affine_grid, grid" + on);

        expect_error(gs::affine_grid_sample(m_in, theta, out, o), invalid, "input",
                     "affine_grid_sample, input" + on);
        expect_error(gs::affine_grid_sample(in, m_theta, out, o), invalid, "theta",
                     "affine_grid_sample, theta" + on);
        expect_error(gs::affine_grid_sample(in, theta, m_out, o), invalid, "output",
                     "affine_grid_sample, output" + on);
    }
    t.expect_nothing_written(device(), "calls that mix devices");
}

// S13: a device id that does not exist is `unsupported` (not a crash), with real buffers of
// this device behind the views; nothing is written.
TEST_P(DeviceErrors, DeviceIdThatDoesNotExistIsUnsupported) {
    CallTensors t(device());
    const gs::Device missing{device().type, 1000 + device().id};
    gs::Options o = options();
    const gs::StatusCode unsupported = gs::StatusCode::unsupported;
    const auto on = [&](const gs::TensorView& v) { return v.on(missing); };
    const gs::TensorView in = on(t.input_view()), grid = on(t.grid_view()), theta = on(t.theta_view()),
                         go = on(t.grad_output_view()), out = on(t.output_view()),
                         gi = on(t.grad_input_view()), gg = on(t.grad_grid_view());
    const std::string what = " on " + gs::to_string(missing);
    expect_error(gs::device_status(missing), unsupported, "", "device_status" + what);
    // With this device's stream (which belongs to another device), and with the default one.
    for (const gs::Stream& stream : {o.stream, gs::Stream{}}) {
        o.stream = stream;
        expect_error(gs::grid_sample(in, grid, out, o), unsupported, "", "grid_sample" + what);
        expect_error(gs::grid_sample_backward(go, in, grid, &gi, &gg, o), unsupported, "",
                     "grid_sample_backward" + what);
        expect_error(gs::affine_grid(theta, {2, 3, 6, 7}, gg, true, stream), unsupported, "",
                     "affine_grid" + what);
        expect_error(gs::affine_grid_sample(in, theta, out, o), unsupported, "",
                     "affine_grid_sample" + what);
    }
    t.expect_nothing_written(device(), "calls on a device id that does not exist");
}

// S8 on device tensors: found before any kernel runs, nothing written.
TEST_P(DeviceErrors, ArgumentErrorsOnDeviceTensors) {
    CallTensors t(device());
    const gs::Options o = options();
    const gs::StatusCode invalid = gs::StatusCode::invalid_argument;
    const gs::TensorView in = t.input_view(), grid = t.grid_view(), go = t.grad_output_view(),
                         out = t.output_view(), gi = t.grad_input_view(), gg = t.grad_grid_view();
    const auto reshaped = [](gs::TensorView v, std::initializer_list<int64_t> sizes,
                             std::initializer_list<int64_t> strides) {
        gs::TensorView r = gs::TensorView::make(v.data, v.dtype, static_cast<int32_t>(sizes.size()),
                                                sizes.begin(), strides.size() ? strides.begin() : nullptr);
        return r.on(v.device);
    };

    expect_error(gs::grid_sample(in, reshaped(grid, {2, 6, 4, 3}, {}), out, o), invalid,
                 "grid: expected last dimension 2", "grid with 3 components for a 4-D input");
    expect_error(gs::grid_sample(in, reshaped(grid, {1, 6, 7, 2}, {}), reshaped(out, {1, 3, 6, 7}, {}), o),
                 invalid, "grid", "batch sizes differ");
    expect_error(gs::grid_sample(in, grid, reshaped(out, {2, 3, 6, 7}, {0, 42, 7, 1}), o), invalid,
                 "output", "output overlapping itself (stride 0)");
    expect_error(gs::grid_sample(in, grid, reshaped(out, {2, 3, 6, 6}, {}), o), invalid, "output",
                 "output of the wrong shape");
    gs::TensorView null_grid = grid;
    null_grid.data = nullptr;
    expect_error(gs::grid_sample(in, null_grid, out, o), invalid, "grid", "null grid data");
    gs::TensorView f64_grid = grid;
    f64_grid.dtype = gs::DType::float64;
    expect_error(gs::grid_sample(in, f64_grid, out, o), invalid, "grid", "grid dtype differs");
    gs::Options bicubic = o;
    bicubic.mode = gs::Interpolation::bicubic;
    expect_error(gs::grid_sample(reshaped(in, {2, 3, 2, 2, 5}, {}), reshaped(grid, {2, 1, 2, 7, 3}, {}),
                                 reshaped(out, {2, 3, 1, 2, 7}, {}), bicubic),
                 invalid, "bicubic", "bicubic on a 5-D input");
    gs::Options bad_padding = o;
    bad_padding.padding = static_cast<gs::Padding>(7);
    expect_error(gs::grid_sample(in, grid, out, bad_padding), invalid, "padding", "padding 7");
    // The output is the input's own buffer (same shape as the input: a grid of 4 x 5 points).
    expect_error(gs::grid_sample(in, reshaped(grid, {2, 4, 5, 2}, {}), in, o), invalid, "output",
                 "output in the input's buffer");

    expect_error(gs::grid_sample_backward(go, in, grid, nullptr, nullptr, o), invalid, "",
                 "backward with no gradient asked for");
    const gs::TensorView gi_bad = reshaped(gi, {2, 3, 4, 4}, {});
    expect_error(gs::grid_sample_backward(go, in, grid, &gi_bad, &gg, o), invalid, "grad_input",
                 "grad_input of the wrong shape");
    // grad_input placed in grad_grid's buffer (which is larger): the gradients overlap.
    const gs::TensorView gi_in_gg = reshaped(gg, {2, 3, 4, 5}, {});
    expect_error(gs::grid_sample_backward(go, in, grid, &gi_in_gg, &gg, o), invalid, "",
                 "grad_input in grad_grid's buffer");
    t.expect_nothing_written(device(), "calls with invalid arguments");
}

TEST_P(DeviceErrors, DeviceStatusAndNames) {
    EXPECT_TRUE(gs::device_status(device()).ok());
    const std::string expected =
        std::string(device().type == gs::DeviceType::opencl ? "opencl:" : "cuda:") + std::to_string(device().id);
    EXPECT_EQ(gs::to_string(device()), expected);
    std::cout << "[   INFO   ] " << device_description(device()) << "\n";
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceErrors);

// ------------------------------------------------------------------------------------------------
// DLPack views of device tensors

// DLPack's DLTensor (dlpack.h), laid out here: the suites do not depend on dlpack.h.
struct DLTensorLayout {
    void* data;
    int32_t device_type;
    int32_t device_id;
    int32_t ndim;
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
    int64_t* shape;
    int64_t* strides;
    uint64_t byte_offset;
};
constexpr int32_t kDLCUDA = 2, kDLOpenCL = 4, kDLCUDAManaged = 13;
constexpr uint8_t kDLFloat = 2;

DLTensorLayout dl_tensor(const gs::TensorView& v, std::vector<int64_t>& shape,
                         std::vector<int64_t>& strides) {
    shape.assign(v.sizes, v.sizes + v.rank);
    strides.assign(v.strides, v.strides + v.rank);
    DLTensorLayout t{};
    t.data = v.data;
    t.device_type = v.device.type == gs::DeviceType::opencl ? kDLOpenCL : kDLCUDA;
    t.device_id = v.device.id;
    t.ndim = v.rank;
    t.code = kDLFloat;
    t.bits = v.dtype == gs::DType::float64 ? 64 : 32;
    t.lanes = 1;
    t.shape = shape.data();
    t.strides = strides.data();
    return t;
}

class DeviceDlpack : public DeviceSuite<gs::Device> {};

// from_dlpack of device tensors gives device views that run on the device: the same result as
// the host (within S11).
TEST_P(DeviceDlpack, DeviceTensorsRunOnTheDevice) {
    CallTensors t(device());
    std::vector<int64_t> shapes[3], strides[3];
    const DLTensorLayout dl_in = dl_tensor(t.input_view(), shapes[0], strides[0]);
    const DLTensorLayout dl_grid = dl_tensor(t.grid_view(), shapes[1], strides[1]);
    const DLTensorLayout dl_out = dl_tensor(t.output_view(), shapes[2], strides[2]);
    gs::TensorView in, grid, out;
    ASSERT_TRUE(gs::from_dlpack(&dl_in, &in).ok());
    ASSERT_TRUE(gs::from_dlpack(&dl_grid, &grid).ok());
    ASSERT_TRUE(gs::from_dlpack(&dl_out, &out).ok());
    EXPECT_TRUE(in.device == device());
    EXPECT_EQ(in.data, t.input_view().data);
    EXPECT_EQ(out.rank, 4);
    gs::Options o;
    o.stream = test_stream(device());
    ASSERT_TRUE(gs::grid_sample(in, grid, out, o).ok());
    synchronize(device());
    std::vector<float> got(t.output.size());
    t.output_buffer.copy_to_host(gs::TensorView(got.data(), {2, 3, 6, 7}));
    std::vector<float> want(t.output.size());
    ASSERT_TRUE(gs::grid_sample(t.h_input, t.h_grid, gs::TensorView(want.data(), {2, 3, 6, 7})).ok());
    for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 2e-5) << "output element " << i;
    }

    // Offsets: CUDA views start at data + byte_offset; OpenCL views cannot start inside a cl_mem.
    DLTensorLayout shifted = dl_in;
    shifted.byte_offset = 8;
    gs::TensorView v;
    const gs::Status s = gs::from_dlpack(&shifted, &v);
    if (device().type == gs::DeviceType::opencl) {
        EXPECT_FALSE(s.ok()) << "an OpenCL DLTensor with a byte_offset";
    } else {
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ(v.data, static_cast<void*>(static_cast<char*>(t.input_view().data) + 8));
        shifted.device_type = kDLCUDAManaged;
        ASSERT_TRUE(gs::from_dlpack(&shifted, &v).ok());
        EXPECT_TRUE(v.device == device());
    }
}

GRIDSAMPLE_INSTANTIATE_DEVICE_SUITE(DeviceDlpack);

// ------------------------------------------------------------------------------------------------
// A device that is not here: the next id after the devices present (cuda:0 where there is no
// CUDA driver). Every call is `unsupported`, naming what is missing; the views' handles are
// never used (they are not real).

class MissingDevice : public ::testing::TestWithParam<gs::Device> {};

TEST_P(MissingDevice, CallsAreUnsupported) {
    const gs::Device missing = GetParam();
    const gs::StatusCode unsupported = gs::StatusCode::unsupported;
    // Handles 1 MiB apart, so that no two views overlap.
    uintptr_t fake = 0x100000;
    const auto view = [&](std::initializer_list<int64_t> sizes) {
        fake += 0x100000;
        return gs::TensorView(reinterpret_cast<void*>(fake), gs::DType::float32, sizes).on(missing);
    };
    const gs::TensorView in = view({2, 3, 4, 5}), grid = view({2, 6, 7, 2}), theta = view({2, 2, 3}),
                         go = view({2, 3, 6, 7}), out = view({2, 3, 6, 7}), gi = view({2, 3, 4, 5}),
                         gg = view({2, 6, 7, 2});
    const std::string what = " on " + gs::to_string(missing) + " (" + device_unavailable_reason(missing) + ")";
    const gs::Status status = gs::device_status(missing);
    expect_error(status, unsupported, "", "device_status" + what);
    const std::string message = lower(status.message());
    EXPECT_TRUE(message.find(missing.type == gs::DeviceType::cuda ? "cuda" : "opencl") != std::string::npos)
        << "device_status" << what << ": the message does not say what is missing: " << status.message();
    for (bool deterministic : {true, false}) {
        gs::Options o;
        o.deterministic = deterministic;
        expect_error(gs::grid_sample(in, grid, out, o), unsupported, "", "grid_sample" + what);
        expect_error(gs::grid_sample_backward(go, in, grid, &gi, &gg, o), unsupported, "",
                     "grid_sample_backward" + what);
        expect_error(gs::grid_sample_backward(go, in, grid, nullptr, &gg, o), unsupported, "",
                     "grid_sample_backward, grad_grid only" + what);
        expect_error(gs::affine_grid(theta, {2, 3, 6, 7}, gg, false), unsupported, "", "affine_grid" + what);
        expect_error(gs::affine_grid_sample(in, theta, out, o), unsupported, "", "affine_grid_sample" + what);
    }
    // Empty calls still say unsupported or succeed without touching anything; they must not crash.
    const gs::TensorView empty_out = gs::TensorView(nullptr, gs::DType::float32, {2, 3, 0, 7}).on(missing);
    const gs::TensorView empty_grid = gs::TensorView(nullptr, gs::DType::float32, {2, 0, 7, 2}).on(missing);
    const gs::Status empty = gs::grid_sample(in, empty_grid, empty_out);
    EXPECT_TRUE(empty.ok() || empty.code() == unsupported) << "empty call" << what << ": " << empty.message();
}

std::vector<gs::Device> missing_opencl_device() {
    return {gs::Device::opencl(static_cast<int32_t>(opencl_devices_present().size()))};
}
std::vector<gs::Device> missing_cuda_device() {
    return {gs::Device::cuda(static_cast<int32_t>(cuda_devices_present().size()))};
}

INSTANTIATE_TEST_SUITE_P(OpenCL, MissingDevice, ::testing::ValuesIn(missing_opencl_device()),
                         device_param_name);
INSTANTIATE_TEST_SUITE_P(Cuda, MissingDevice, ::testing::ValuesIn(missing_cuda_device()),
                         device_param_name);

// ------------------------------------------------------------------------------------------------
// CUDA: calls with a null Stream run in the primary context on the legacy default stream; the
// caller synchronizes the context. (OpenCL calls need the caller's context for its buffers.)

class DeviceDefaultStream : public DeviceSuite<gs::Device> {};

TEST_P(DeviceDefaultStream, ForwardAndBackwardMatchReference) {
    const DevicePlacement default_stream(device(), true);
    for (const Kernel& kernel : {kKernels[0], kKernels[3]}) {
        EXPECT_GT(forward::check_random_cases(kernel, gs::Padding::border, 1, default_stream), 0);
        EXPECT_GT(backward::check_random_cases(kernel, gs::Padding::zeros, 1, default_stream), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Cuda, DeviceDefaultStream, ::testing::ValuesIn(cuda_test_devices()),
                         device_param_name);

}  // namespace
