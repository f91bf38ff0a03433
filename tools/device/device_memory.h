// Device memory for the command-line tool and the benchmarks: contiguous buffers on a CUDA or
// OpenCL device, copies to and from host memory, and the stream or queue the tool's calls run
// on. The drivers are loaded at run time (libcuda.so.1, libOpenCL.so.1), so programs that use this
// start on machines without them and report the missing driver as an error.
#pragma once

#include "gridsample/gridsample.h"

#include <cstddef>
#include <memory>
#include <string>

namespace gridsample::device_memory {

// Parses "cpu", "cuda", "cuda:N", "opencl", "opencl:N" (N >= 0). False on anything else.
bool parse_device(const std::string& text, Device& device);

// Where a program's device calls run: for CUDA the device's primary context and a stream of its
// own; for OpenCL a context and in-order queue of its own. Copies below use the same stream or
// queue, so they are ordered with the calls.
class Session {
public:
    // Fails (unsupported, naming the reason) when the device cannot be used here.
    static Status open(Device device, std::unique_ptr<Session>& session);
    virtual ~Session() = default;
    Device device() const { return device_; }
    // The stream to put in Options::stream (and affine_grid's stream argument).
    virtual Stream stream() const = 0;
    // A buffer of `bytes` (at least 1) on the device: its handle (CUdeviceptr or cl_mem) is what
    // TensorView::data holds for the device.
    virtual Status allocate(size_t bytes, void** handle) = 0;
    virtual void release(void* handle) = 0;
    // Copies, ordered on the stream; download returns when the data is on the host.
    virtual Status upload(void* handle, const void* host, size_t bytes) = 0;
    virtual Status download(void* host, const void* handle, size_t bytes) = 0;
    // Waits until everything queued on the stream has completed.
    virtual Status synchronize() = 0;

protected:
    explicit Session(Device device) : device_(device) {}
    Device device_;
};

}  // namespace gridsample::device_memory
