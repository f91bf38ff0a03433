// The C ABI: converts the plain structs to the C++ types and keeps the last error message per
// thread. Nothing escapes as an exception.
#include "gridsample/gridsample_c.h"

#include "internal.h"

#include <new>
#include <string>

namespace {

using namespace gridsample;

thread_local std::string t_last_error;

// 0 is the CPU too, so that a zeroed struct is a host tensor; other values are checked by the
// C++ functions.
Device to_device(int32_t type, int32_t id) {
    Device d;
    d.type = type == 0 ? DeviceType::cpu : static_cast<DeviceType>(type);
    d.id = id;
    return d;
}

TensorView to_view(const gridsample_tensor* t) {
    return TensorView::make(t->data, static_cast<DType>(t->dtype), t->rank, t->sizes, t->strides)
        .on(to_device(t->device_type, t->device_id));
}

Stream to_stream(const gridsample_stream* s) {
    Stream stream;
    if (s) {
        stream.cuda_context = s->cuda_context;
        stream.cuda_stream = s->cuda_stream;
        stream.opencl_context = s->opencl_context;
        stream.opencl_queue = s->opencl_queue;
    }
    return stream;
}

int32_t finish(const Status& s) {
    t_last_error = s.message();
    return static_cast<int32_t>(s.code());
}

template <typename F>
int32_t guarded(F&& f) {
    try {
        return finish(f());
    } catch (const std::bad_alloc&) {
        return finish(Status(StatusCode::out_of_memory, "out of memory"));
    } catch (...) {
        return finish(Status(StatusCode::internal, "unexpected exception"));
    }
}

Status null_argument(const char* name) {
    return Status(StatusCode::invalid_argument, std::string(name) + ": null pointer");
}

// The C options as Options; the enums are validated by the C++ functions themselves.
Status to_options(const gridsample_options* options, Options& o) {
    if (!options) return null_argument("options");
    if (options->align_corners != 0 && options->align_corners != 1) {
        return Status(StatusCode::invalid_argument, "options.align_corners: expected 0 or 1, got " +
                                                        std::to_string(options->align_corners));
    }
    o.mode = static_cast<Interpolation>(options->mode);
    o.padding = static_cast<Padding>(options->padding);
    o.align_corners = options->align_corners != 0;
    if (options->nondeterministic != 0 && options->nondeterministic != 1) {
        return Status(StatusCode::invalid_argument, "options.nondeterministic: expected 0 or 1, got " +
                                                        std::to_string(options->nondeterministic));
    }
    o.deterministic = options->nondeterministic == 0;
    o.stream = to_stream(&options->stream);
    return Status::Ok();
}

}  // namespace

extern "C" {

int32_t gridsample_grid_sample(const gridsample_tensor* input, const gridsample_tensor* grid,
                               const gridsample_tensor* output,
                               const gridsample_options* options) {
    return guarded([&] {
        if (!input) return null_argument("input");
        if (!grid) return null_argument("grid");
        if (!output) return null_argument("output");
        Options o;
        if (Status st = to_options(options, o); !st.ok()) return st;
        return grid_sample(to_view(input), to_view(grid), to_view(output), o);
    });
}

int32_t gridsample_affine_grid_sample(const gridsample_tensor* input,
                                      const gridsample_tensor* theta,
                                      const gridsample_tensor* output,
                                      const gridsample_options* options) {
    return guarded([&] {
        if (!input) return null_argument("input");
        if (!theta) return null_argument("theta");
        if (!output) return null_argument("output");
        Options o;
        if (Status st = to_options(options, o); !st.ok()) return st;
        return affine_grid_sample(to_view(input), to_view(theta), to_view(output), o);
    });
}

int32_t gridsample_grid_sample_backward(const gridsample_tensor* grad_output,
                                        const gridsample_tensor* input,
                                        const gridsample_tensor* grid,
                                        const gridsample_tensor* grad_input,
                                        const gridsample_tensor* grad_grid,
                                        const gridsample_options* options) {
    return guarded([&] {
        if (!grad_output) return null_argument("grad_output");
        if (!input) return null_argument("input");
        if (!grid) return null_argument("grid");
        Options o;
        if (Status st = to_options(options, o); !st.ok()) return st;
        TensorView gi, gg;
        if (grad_input) gi = to_view(grad_input);
        if (grad_grid) gg = to_view(grad_grid);
        return grid_sample_backward(to_view(grad_output), to_view(input), to_view(grid),
                                    grad_input ? &gi : nullptr, grad_grid ? &gg : nullptr, o);
    });
}

int32_t gridsample_affine_grid(const gridsample_tensor* theta, const int64_t* size,
                               int32_t size_len, const gridsample_tensor* grid,
                               int32_t align_corners) {
    return gridsample_affine_grid_on(theta, size, size_len, grid, align_corners, nullptr);
}

int32_t gridsample_affine_grid_on(const gridsample_tensor* theta, const int64_t* size,
                                  int32_t size_len, const gridsample_tensor* grid,
                                  int32_t align_corners, const gridsample_stream* stream) {
    return guarded([&] {
        if (!theta) return null_argument("theta");
        if (!grid) return null_argument("grid");
        if (align_corners != 0 && align_corners != 1) {
            return Status(StatusCode::invalid_argument,
                          "align_corners: expected 0 or 1, got " + std::to_string(align_corners));
        }
        return affine_grid(to_view(theta), size, size_len, to_view(grid), align_corners != 0,
                           to_stream(stream));
    });
}

int32_t gridsample_from_dlpack(const void* dltensor, gridsample_tensor* view) {
    return guarded([&] {
        if (!view) return null_argument("view");
        TensorView v;
        if (Status st = from_dlpack(dltensor, &v); !st.ok()) return st;
        *view = gridsample_tensor{};
        view->data = v.data;
        view->dtype = static_cast<int32_t>(v.dtype);
        view->rank = v.rank;
        for (int i = 0; i < v.rank; i++) {
            view->sizes[i] = v.sizes[i];
            view->strides[i] = v.strides[i];
        }
        view->device_type = static_cast<int32_t>(v.device.type);
        view->device_id = v.device.id;
        return Status::Ok();
    });
}

int32_t gridsample_device_status(int32_t device_type, int32_t device_id) {
    return guarded([&] { return device_status(to_device(device_type, device_id)); });
}

int32_t gridsample_release_context(int32_t device_type, int32_t device_id,
                                   const gridsample_stream* stream) {
    return guarded([&] { return release_context(to_device(device_type, device_id), to_stream(stream)); });
}

const char* gridsample_last_error(void) { return t_last_error.c_str(); }

int32_t gridsample_set_num_threads(int32_t n) { return set_num_threads(n); }

int32_t gridsample_num_threads(void) { return num_threads(); }

}  // extern "C"
