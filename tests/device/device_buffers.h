// Device memory for the device test suites: which OpenCL and CUDA devices are present, buffers
// holding copies of host tensors, the stream every call runs on, synchronization. OpenCL is used
// through its ICD loader (linked); CUDA through the driver API, loaded at run time from
// libcuda.so.1, so the suites build without the CUDA toolkit and skip where there is no driver.
//
// A device view is what gridsample takes (gridsample.h): the host view's dtype, sizes and strides,
// the device set, and data the cl_mem (OpenCL) or CUdeviceptr (CUDA) of a buffer whose first
// element is the view's first element. The buffer covers the view's span, from its first element
// to its last through the strides (stride 0 included), so the gaps between strided elements are
// copied both ways too and writes into them show up on the host.
//
// Failures of the drivers in this library (not in gridsample) throw DeviceError, which names the
// call, the device and the driver's error; GoogleTest reports it as the test's failure.
#pragma once

#include "gridsample/gridsample.h"
#include "tensor_placement.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gridsample {
// Readable device parameters in test listings (found by argument-dependent lookup).
inline void PrintTo(const Device& d, std::ostream* os) { *os << to_string(d); }
}  // namespace gridsample

namespace gridsample_test {

class DeviceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "opencl0", "cuda1": the device in test names.
std::string test_device_name(gridsample::Device device);

// The OpenCL devices present, numbered as gridsample numbers them (every device of every
// platform, platforms in the order the ICD loader lists them); the CUDA devices present.
std::vector<gridsample::Device> opencl_devices_present();
std::vector<gridsample::Device> cuda_devices_present();
// The devices the suites are instantiated for: those present, or device 0 alone when there is
// none, so that the suites' tests exist everywhere and skip there, saying why.
std::vector<gridsample::Device> opencl_test_devices();
std::vector<gridsample::Device> cuda_test_devices();

// Whether this build compiles the backend (GRIDSAMPLE_GPU_BACKENDS).
bool backend_compiled(gridsample::DeviceType type);
// Why the device suites cannot run on `device` here, or "" when they can: the backend is not
// compiled, there is no driver, no such device.
std::string device_unavailable_reason(gridsample::Device device);
// "opencl:0 (Portable Computing Language: pthread-haswell-...)".
std::string device_description(gridsample::Device device);
// Whether the device computes in float64 (OpenCL: cl_khr_fp64; every CUDA device does) and has
// 64-bit integer atomics (OpenCL: cl_khr_int64_base_atomics; every CUDA device does).
bool device_has_fp64(gridsample::Device device);
bool device_has_fp16(gridsample::Device device);
bool device_has_int64_atomics(gridsample::Device device);

// The stream the suites pass in every call on `device`: for OpenCL a context and in-order queue
// of this library's own, for CUDA the device's primary context and a stream created here. Made at
// first use and kept for the life of the process.
gridsample::Stream test_stream(gridsample::Device device);
// Waits until everything queued on test_stream(device) has completed.
void synchronize(gridsample::Device device);
// CUDA: waits for every stream of the device's primary context (cuCtxSynchronize), for calls
// on the default stream. OpenCL: synchronize(device).
void synchronize_device(gridsample::Device device);

// A stream of the test's own beside test_stream, as an application thread makes one. CUDA: a new
// stream on the device's primary context or, with `own_context`, a context created here
// (cuCtxCreate, not the primary one) and a stream on it. OpenCL: a new in-order queue on the test
// context or, with `own_context`, on a context created here. Released with the object (an own
// context destroyed). Throws DeviceError where the driver cannot make them. Buffers in an own
// context: DeviceBuffer(const OwnStream&, ...).
class OwnStream {
public:
    explicit OwnStream(gridsample::Device device, bool own_context = false);
    ~OwnStream();
    OwnStream(const OwnStream&) = delete;
    OwnStream& operator=(const OwnStream&) = delete;

    gridsample::Device device() const { return device_; }
    // What a call passes in Options::stream: the context (always named, the primary one too) and
    // the stream or queue.
    const gridsample::Stream& stream() const { return stream_; }
    // Waits until everything queued on the stream has completed.
    void synchronize() const;

private:
    gridsample::Device device_;
    gridsample::Stream stream_;
    bool owns_context_ = false;
};

// A device buffer holding a copy of a host view's span.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    // Allocates the span of `host` (a view of host memory) on `device` and copies it there. An
    // empty view gets no buffer: its device view has null data.
    DeviceBuffer(gridsample::Device device, const gridsample::TensorView& host);
    // The same in the context of `owner` (the buffer lives in its context; OpenCL: the copies go
    // through its queue). `owner` must outlive the buffer.
    DeviceBuffer(const OwnStream& owner, const gridsample::TensorView& host);
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    // The device view: the host view's dtype, sizes and strides on the device.
    const gridsample::TensorView& view() const { return view_; }
    int64_t span() const { return span_; }
    // Copies the device span into host memory at `host`'s first element (a view of the same
    // span). Call after synchronize() when a call on a stream wrote the buffer.
    void copy_to_host(const gridsample::TensorView& host) const;
    // Copies host memory at `host`'s first element into the device span.
    void copy_from_host(const gridsample::TensorView& host);

private:
    void allocate(const gridsample::TensorView& host);
    void release() noexcept;
    void* copy_queue() const;  // OpenCL: the queue the copies use

    gridsample::Device device_;
    gridsample::TensorView view_;
    int64_t span_ = 0;
    void* handle_ = nullptr;  // cl_mem, or the CUdeviceptr
    // The CUDA or OpenCL context the buffer lives in and the OpenCL queue its copies use; null:
    // the test stream's.
    void* cuda_context_ = nullptr;
    void* opencl_context_ = nullptr;
    void* opencl_queue_ = nullptr;
};

// Library calls on a device (tensor_placement.h): each view is copied to a DeviceBuffer, and the
// outputs back after the call. The calls run on test_stream(device), or with
// `library_default_stream` on a null Stream (CUDA: the primary context and the legacy default
// stream; finish() then synchronizes the whole context). OpenCL buffers belong to a context, so
// OpenCL calls always pass the test context and queue.
class DevicePlacement final : public Placement {
public:
    explicit DevicePlacement(gridsample::Device device, bool library_default_stream = false);
    std::string name() const override { return gridsample::to_string(device_); }
    std::string unsupported_reason(gridsample::DType dtype, bool int64_atomics) const override;
    std::unique_ptr<PlacedCall> begin() const override;
    gridsample::Device device() const { return device_; }

private:
    gridsample::Device device_;
    bool library_default_stream_;
};

}  // namespace gridsample_test
