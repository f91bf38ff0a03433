// The tool's tensors on --device: host arrays copied to the device before the call, results
// copied back after it. On the CPU the host views are used as they are.
#pragma once

#include "device_memory.h"
#include "gridsample/gridsample.h"

#include <cstddef>
#include <memory>
#include <vector>

namespace gridsample::cli {

class DeviceTensors {
public:
    DeviceTensors() = default;
    ~DeviceTensors();
    DeviceTensors(const DeviceTensors&) = delete;
    DeviceTensors& operator=(const DeviceTensors&) = delete;

    // Opens `device` (nothing to do for the CPU): unsupported when it cannot be used here.
    Status open(Device device);
    bool on_device() const { return session_ != nullptr; }
    // The stream the calls run on (the default Stream on the CPU).
    Stream stream() const;
    // The view the library gets for `host`, a contiguous view of `bytes`: `host` itself on the
    // CPU; on a device, a copy (`upload`) or uninitialized memory of the same size for a result.
    // An empty or shapeless view (null data) is passed on as it is, on the device.
    Status place(const TensorView& host, size_t bytes, bool upload, TensorView* placed);
    // Copies a result placed above back into `host` (waiting for the calls first).
    Status fetch(const TensorView& placed, size_t bytes, void* host);

private:
    std::unique_ptr<device_memory::Session> session_;
    std::vector<void*> buffers_;
};

// Options with the stream of `tensors` (for calls on a device).
inline Options on_stream(Options options, const DeviceTensors& tensors) {
    options.stream = tensors.stream();
    return options;
}

}  // namespace gridsample::cli
