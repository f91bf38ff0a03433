// Where the tensors of a library call live. The reference checks (forward_check.h,
// backward_check.h) build every tensor in host memory; a Placement decides what the library is
// given: the host views themselves (the CPU suites), or copies on a GPU that are copied back after
// the call (the device suites, tests/device/device_buffers.h).
#pragma once

#include "gridsample/gridsample.h"

#include <cstdint>
#include <memory>
#include <string>

namespace gridsample_test {

// The elements a view spans, from its first to its last (0 when it has none): what a copy of it
// elsewhere must hold, strides and gaps included.
inline int64_t span_elements(const gridsample::TensorView& view) {
    int64_t last = 0;
    for (int32_t d = 0; d < view.rank; ++d) {
        if (view.sizes[d] == 0) return 0;
        last += (view.sizes[d] - 1) * view.strides[d];
    }
    return last + 1;
}

// One library call's tensors.
class PlacedCall {
public:
    virtual ~PlacedCall() = default;
    // The view the library is given for the host view `host` of an input.
    virtual gridsample::TensorView input(const gridsample::TensorView& host) = 0;
    // The same for an output: finish() copies its memory back into `host`'s. The copy the library
    // writes starts as a copy of the host memory, so elements the call must not write (gaps
    // between strided elements) keep their values unless the call writes them.
    virtual gridsample::TensorView output(const gridsample::TensorView& host) = 0;
    // The stream or queue the call runs on (Options::stream, affine_grid's stream).
    virtual gridsample::Stream stream() const = 0;
    // After the call: waits for it to complete and copies every output back into host memory.
    virtual void finish() = 0;
};

class Placement {
public:
    virtual ~Placement() = default;
    // "cpu", "opencl:0", ...
    virtual std::string name() const = 0;
    // Empty when calls in `dtype` (and with `int64_atomics`, calls whose kernels need 64-bit
    // integer atomics: grad_input on a GPU) can run here; else why they cannot: the library must
    // then refuse them as `unsupported` (S13).
    virtual std::string unsupported_reason(gridsample::DType dtype, bool int64_atomics) const = 0;
    virtual std::unique_ptr<PlacedCall> begin() const = 0;
};

// The host: the library reads and writes the host views directly.
class HostPlacement final : public Placement {
public:
    std::string name() const override { return "cpu"; }
    std::string unsupported_reason(gridsample::DType, bool) const override { return {}; }
    std::unique_ptr<PlacedCall> begin() const override {
        class Call final : public PlacedCall {
        public:
            gridsample::TensorView input(const gridsample::TensorView& host) override { return host; }
            gridsample::TensorView output(const gridsample::TensorView& host) override { return host; }
            gridsample::Stream stream() const override { return {}; }
            void finish() override {}
        };
        return std::make_unique<Call>();
    }
};

inline const Placement& host_placement() {
    static const HostPlacement host;
    return host;
}

}  // namespace gridsample_test
