// Calling the compiled kernels: wrapping views as halide_buffer_t, the error handler that
// replaces Halide's default (which aborts the process), and the mapping of Halide's error codes.
#include "internal.h"

#include <climits>
#include <mutex>

namespace gridsample::detail {

HalideBuffer::HalideBuffer(const TensorView& t) {
    buffer.host = static_cast<uint8_t*>(t.data);
    buffer.type = halide_type(t.dtype);
    buffer.dimensions = t.rank;
    buffer.dim = dims;
    for (int i = 0; i < t.rank; i++) {
        const int src = t.rank - 1 - i;  // Halide's dim 0 is the innermost (last) dimension
        int64_t stride = t.strides[src];
        if (t.sizes[src] <= 1 && stride > INT32_MAX) stride = 0;  // never stepped along
        if (t.sizes[src] > INT32_MAX || stride > INT32_MAX) fits = false;
        dims[i].min = 0;
        dims[i].extent = static_cast<int32_t>(t.sizes[src]);
        dims[i].stride = static_cast<int32_t>(stride);
    }
    if (t.device.type != DeviceType::cpu && fits) wrap_device(t);
}

namespace {

// Halide calls this for every error a kernel reports, on whichever thread found it. The message
// goes to the CallContext of the call (user_context); nothing is printed and nothing aborts.
void halide_error_to_context(void* user_context, const char* message) {
    if (user_context == nullptr) return;
    auto* context = static_cast<CallContext*>(user_context);
    if (context->error_message.empty()) context->error_message = message ? message : "";
}

}  // namespace

void install_halide_hooks() {
    static std::once_flag once;
    std::call_once(once, [] {
        halide_set_error_handler(halide_error_to_context);
        install_scratch_allocator();
        install_device_hooks();
    });
}

Status status_from_halide(const char* what, int result, const CallContext& context) {
    if (result == halide_error_code_success) return Status::Ok();
    std::string message = std::string(what) + ": ";
    message += context.error_message.empty() ? "kernel failed" : context.error_message;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    message += " (Halide error " + std::to_string(result) + ")";
    switch (result) {
    case halide_error_code_out_of_memory:
        return Status(StatusCode::out_of_memory, message);
    case halide_error_code_buffer_allocation_too_large:
    case halide_error_code_buffer_extents_too_large:
        return Status(StatusCode::unsupported, message);
    default:
        // Every argument was validated before the call, so any other failure is a bug.
        return Status(StatusCode::internal, message);
    }
}

}  // namespace gridsample::detail
