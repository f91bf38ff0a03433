// GPU devices (SEMANTICS.md S13): which calls can run where, the drivers (loaded at first use, so
// that the library links and runs where none is installed), the caller's CUDA context and stream
// or OpenCL context and queue handed to Halide's runtime, and device memory wrapped without copies.
//
// Halide's runtime asks for the context and stream of every device operation through hooks: for
// CUDA the acquire/release/get_stream handlers installed here, for OpenCL the functions
// halide_acquire_cl_context / halide_release_cl_context, which the runtime declares weak and
// this file defines. Each returns what the call's CallContext (Halide's user_context) holds, so
// concurrent calls on different streams never share state and nothing is locked.
#include "internal.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <vector>

#if GRIDSAMPLE_HAVE_CUDA
#include <HalideRuntimeCuda.h>
#endif
#if GRIDSAMPLE_HAVE_OPENCL
#include <HalideRuntimeOpenCL.h>
#endif

namespace gridsample {
namespace detail {
namespace {

// Which backends this build compiled. The code of a backend left out sits in discarded
// `if constexpr` branches: nothing references its driver functions, so they are not linked into
// an app (the size of a trimmed build).
constexpr bool kHaveCuda = GRIDSAMPLE_HAVE_CUDA != 0;
constexpr bool kHaveOpencl = GRIDSAMPLE_HAVE_OPENCL != 0;

// ---- CUDA driver API, the few entry points used here -----------------------------------------
struct CudaDriver {
    std::string error;  // why the driver cannot be used; empty when it can
    int device_count = 0;
    int (*cuInit)(unsigned) = nullptr;
    int (*cuDeviceGetCount)(int*) = nullptr;
    int (*cuDeviceGet)(int*, int) = nullptr;
    int (*cuDevicePrimaryCtxRetain)(void**, int) = nullptr;
    int (*cuGetErrorName)(int, const char**) = nullptr;
    int (*cuCtxPushCurrent)(void*) = nullptr;
    int (*cuCtxPopCurrent)(void**) = nullptr;
    int (*cuMemsetD8Async)(uint64_t, unsigned char, size_t, void*) = nullptr;
};

template <typename F>
bool load_symbol(void* library, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(library, name));
    return f != nullptr;
}

std::string cuda_error_name(const CudaDriver& d, int code) {
    const char* name = nullptr;
    if (d.cuGetErrorName && d.cuGetErrorName(code, &name) == 0 && name) return name;
    return "CUDA error " + std::to_string(code);
}

const CudaDriver& cuda_driver() {
    static const CudaDriver driver = [] {
        CudaDriver d;
        // The versioned name: driver-only installs have no unversioned libcuda.so. Loaded
        // globally, so that Halide's runtime finds the same driver in the process.
        void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (!library) library = dlopen("libcuda.so", RTLD_NOW | RTLD_GLOBAL);
        if (!library) {
            d.error = "no CUDA driver on this machine (libcuda.so.1 could not be loaded)";
            return d;
        }
        if (!load_symbol(library, "cuInit", d.cuInit) ||
            !load_symbol(library, "cuDeviceGetCount", d.cuDeviceGetCount) ||
            !load_symbol(library, "cuDeviceGet", d.cuDeviceGet) ||
            !load_symbol(library, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain)) {
            d.error = "the CUDA driver (libcuda.so.1) lacks the driver API entry points";
            return d;
        }
        load_symbol(library, "cuGetErrorName", d.cuGetErrorName);
        load_symbol(library, "cuCtxPushCurrent_v2", d.cuCtxPushCurrent);
        load_symbol(library, "cuCtxPopCurrent_v2", d.cuCtxPopCurrent);
        load_symbol(library, "cuMemsetD8Async", d.cuMemsetD8Async);
        if (int r = d.cuInit(0); r != 0) {
            d.error = "the CUDA driver could not be initialized (cuInit: " + cuda_error_name(d, r) +
                      "; no CUDA device?)";
            return d;
        }
        if (int r = d.cuDeviceGetCount(&d.device_count); r != 0) {
            d.error = "cuDeviceGetCount: " + cuda_error_name(d, r);
        }
        return d;
    }();
    return driver;
}

// The primary context of each CUDA device, retained at first use and kept for the life of the
// process (as the CUDA runtime API does).
std::mutex g_cuda_contexts_mutex;
std::vector<void*> g_cuda_primary_contexts;

Status cuda_primary_context(int id, void** context) {
    std::lock_guard<std::mutex> lock(g_cuda_contexts_mutex);
    if (g_cuda_primary_contexts.size() <= static_cast<size_t>(id)) {
        g_cuda_primary_contexts.resize(id + 1, nullptr);
    }
    if (!g_cuda_primary_contexts[id]) {
        const CudaDriver& d = cuda_driver();
        int device = 0;
        if (int r = d.cuDeviceGet(&device, id); r != 0) {
            return unsupported("cuda:" + std::to_string(id) + ": cuDeviceGet: " + cuda_error_name(d, r));
        }
        void* ctx = nullptr;
        if (int r = d.cuDevicePrimaryCtxRetain(&ctx, device); r != 0) {
            return unsupported("cuda:" + std::to_string(id) +
                               ": its primary context could not be retained: " + cuda_error_name(d, r));
        }
        g_cuda_primary_contexts[id] = ctx;
    }
    *context = g_cuda_primary_contexts[id];
    return Status::Ok();
}

// ---- OpenCL, the few entry points used here --------------------------------------------------
using cl_int = int32_t;
using cl_uint = uint32_t;
constexpr cl_uint kClDeviceTypeAll = 0xFFFFFFFF;
constexpr cl_uint kClDeviceName = 0x102B;
constexpr cl_uint kClDeviceExtensions = 0x1030;
constexpr cl_uint kClQueueContext = 0x1090;

struct OpenClDevice {
    void* id = nullptr;  // cl_device_id
    std::string name;
    bool fp64 = false;
    bool fp16 = false;
    bool int64_atomics = false;
    // The library's own context and in-order queue, created at first use.
    void* context = nullptr;
    void* queue = nullptr;
};

struct OpenCl {
    std::string error;
    std::vector<OpenClDevice> devices;
    cl_int (*clGetPlatformIDs)(cl_uint, void**, cl_uint*) = nullptr;
    cl_int (*clGetDeviceIDs)(void*, uint64_t, cl_uint, void**, cl_uint*) = nullptr;
    cl_int (*clGetDeviceInfo)(void*, cl_uint, size_t, void*, size_t*) = nullptr;
    void* (*clCreateContext)(const intptr_t*, cl_uint, void* const*, void*, void*, cl_int*) = nullptr;
    void* (*clCreateCommandQueue)(void*, void*, uint64_t, cl_int*) = nullptr;
    cl_int (*clGetCommandQueueInfo)(void*, cl_uint, size_t, void*, size_t*) = nullptr;
    cl_int (*clEnqueueFillBuffer)(void*, void*, const void*, size_t, size_t, size_t, cl_uint,
                                  const void*, void*) = nullptr;
};

std::string device_info_string(const OpenCl& cl, void* device, cl_uint what) {
    size_t size = 0;
    if (cl.clGetDeviceInfo(device, what, 0, nullptr, &size) != 0 || size == 0) return "";
    std::string s(size, '\0');
    if (cl.clGetDeviceInfo(device, what, size, s.data(), nullptr) != 0) return "";
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

OpenCl& opencl() {
    static OpenCl api = [] {
        OpenCl cl;
        // The ICD loader, the name Halide's runtime loads too.
        void* library = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (!library) library = dlopen("libOpenCL.so", RTLD_NOW | RTLD_GLOBAL);
        if (!library) {
            cl.error = "no OpenCL on this machine (libOpenCL.so.1, the ICD loader, could not be loaded)";
            return cl;
        }
        if (!load_symbol(library, "clGetPlatformIDs", cl.clGetPlatformIDs) ||
            !load_symbol(library, "clGetDeviceIDs", cl.clGetDeviceIDs) ||
            !load_symbol(library, "clGetDeviceInfo", cl.clGetDeviceInfo) ||
            !load_symbol(library, "clCreateContext", cl.clCreateContext) ||
            !load_symbol(library, "clCreateCommandQueue", cl.clCreateCommandQueue) ||
            !load_symbol(library, "clGetCommandQueueInfo", cl.clGetCommandQueueInfo) ||
            !load_symbol(library, "clEnqueueFillBuffer", cl.clEnqueueFillBuffer)) {
            cl.error = "the OpenCL loader lacks the OpenCL 1.2 entry points";
            return cl;
        }
        cl_uint platforms = 0;
        if (cl.clGetPlatformIDs(0, nullptr, &platforms) != 0 || platforms == 0) {
            cl.error = "no OpenCL platform is installed";
            return cl;
        }
        std::vector<void*> platform_ids(platforms);
        cl.clGetPlatformIDs(platforms, platform_ids.data(), nullptr);
        for (void* platform : platform_ids) {
            cl_uint count = 0;
            if (cl.clGetDeviceIDs(platform, kClDeviceTypeAll, 0, nullptr, &count) != 0) continue;
            std::vector<void*> ids(count);
            cl.clGetDeviceIDs(platform, kClDeviceTypeAll, count, ids.data(), nullptr);
            for (void* id : ids) {
                OpenClDevice d;
                d.id = id;
                d.name = device_info_string(cl, id, kClDeviceName);
                const std::string extensions = device_info_string(cl, id, kClDeviceExtensions);
                d.fp64 = extensions.find("cl_khr_fp64") != std::string::npos;
                d.fp16 = extensions.find("cl_khr_fp16") != std::string::npos;
                d.int64_atomics = extensions.find("cl_khr_int64_base_atomics") != std::string::npos;
                cl.devices.push_back(d);
            }
        }
        if (cl.devices.empty()) cl.error = "no OpenCL device is installed";
        return cl;
    }();
    return api;
}

std::mutex g_opencl_mutex;

// The library's own context and queue for OpenCL device `id` (valid id).
Status opencl_default_queue(int id, void** context, void** queue) {
    std::lock_guard<std::mutex> lock(g_opencl_mutex);
    OpenCl& cl = opencl();
    OpenClDevice& d = cl.devices[id];
    if (!d.context) {
        cl_int err = 0;
        void* ctx = cl.clCreateContext(nullptr, 1, &d.id, nullptr, nullptr, &err);
        if (!ctx || err != 0) {
            return unsupported("opencl:" + std::to_string(id) + " (" + d.name +
                               "): clCreateContext failed (" + std::to_string(err) + ")");
        }
        void* q = cl.clCreateCommandQueue(ctx, d.id, 0, &err);
        if (!q || err != 0) {
            return unsupported("opencl:" + std::to_string(id) + " (" + d.name +
                               "): clCreateCommandQueue failed (" + std::to_string(err) + ")");
        }
        d.context = ctx;
        d.queue = q;
    }
    *context = d.context;
    *queue = d.queue;
    return Status::Ok();
}

#if GRIDSAMPLE_HAVE_CUDA
// Halide's CUDA hooks. A null user_context comes from Halide's own bookkeeping (module release
// at exit): it gets the first primary context retained, if any.
int acquire_cuda_context(void* user_context, void** ctx, bool /*create*/) {
    auto* call = static_cast<CallContext*>(user_context);
    if (call && call->stream.cuda_context) {
        *ctx = call->stream.cuda_context;
        return halide_error_code_success;
    }
    std::lock_guard<std::mutex> lock(g_cuda_contexts_mutex);
    *ctx = nullptr;
    for (void* c : g_cuda_primary_contexts) {
        if (c) {
            *ctx = c;
            break;
        }
    }
    return halide_error_code_success;
}
int release_cuda_context(void*) { return halide_error_code_success; }
int get_cuda_stream(void* user_context, void*, void** stream) {
    auto* call = static_cast<CallContext*>(user_context);
    *stream = call ? call->stream.cuda_stream : nullptr;
    return halide_error_code_success;
}
#endif

}  // namespace

void install_device_hooks() {
#if GRIDSAMPLE_HAVE_CUDA
    halide_set_cuda_acquire_context(acquire_cuda_context);
    halide_set_cuda_release_context(release_cuda_context);
    halide_set_cuda_get_stream(get_cuda_stream);
#endif
#if GRIDSAMPLE_HAVE_CUDA || GRIDSAMPLE_HAVE_OPENCL
    // Intermediate device buffers (the fixed-point sums of the GPU grad_input) are kept and
    // reused, per context and stream, instead of allocated and freed by every call (a CUDA
    // allocation or free synchronizes the device).
    halide_reuse_device_allocations(nullptr, true);
#endif
}

int gpu_backend(DeviceType type) { return type == DeviceType::cuda ? 0 : 1; }

Status check_devices(std::initializer_list<std::pair<const TensorView*, const char*>> tensors) {
    const TensorView* first = nullptr;
    const char* first_name = nullptr;
    for (const auto& [t, name] : tensors) {
        if (t == nullptr) continue;
        const auto type = static_cast<int32_t>(t->device.type);
        if (t->device.type != DeviceType::cpu && t->device.type != DeviceType::cuda &&
            t->device.type != DeviceType::opencl) {
            return invalid(std::string(name) + ": unknown device type " + std::to_string(type) +
                           " (expected 1 = cpu, 2 = cuda, 4 = opencl)");
        }
        if (t->device.id < 0 || (t->device.type == DeviceType::cpu && t->device.id != 0)) {
            return invalid(std::string(name) + ": invalid device id " +
                           std::to_string(t->device.id) + " for " + to_string(t->device.type));
        }
        if (!first) {
            first = t;
            first_name = name;
        } else if (t->device != first->device) {
            return invalid(std::string(name) + ": on " + to_string(t->device) + ", but " +
                           first_name + " is on " + to_string(first->device) +
                           " (all tensors of a call must be on one device)");
        }
    }
    return Status::Ok();
}

namespace {

// place_call for an OpenCL device that exists (device_status): float64, float16 and the atomics
// the kernels need, then the caller's queue (and its context) or the library's own.
Status place_opencl_call(const Device& device, DType dtype, const Stream& stream, const char* what,
                         bool needs_int64_atomics, Placement& placement) {
    const OpenClDevice& d = opencl().devices[device.id];
    if (dtype == DType::float64 && !d.fp64) {
        return unsupported(std::string(what) + ": " + to_string(device) + " (" + d.name +
                           ") has no float64 support (cl_khr_fp64)");
    }
    if (dtype == DType::float16 && !d.fp16) {
        return unsupported(std::string(what) + ": " + to_string(device) + " (" + d.name +
                           ") has no float16 support (cl_khr_fp16)");
    }
    if (needs_int64_atomics && !d.int64_atomics) {
        return unsupported(std::string(what) + ": " + to_string(device) + " (" + d.name +
                           ") lacks 64-bit integer atomics (cl_khr_int64_base_atomics), which its "
                           "grad_input (64-bit fixed-point sums) needs");
    }
    if (stream.opencl_queue && !stream.opencl_context) {
        void* context = nullptr;
        if (opencl().clGetCommandQueueInfo(stream.opencl_queue, kClQueueContext, sizeof(context),
                                           &context, nullptr) != 0) {
            return invalid("options.stream.opencl_queue: not a valid command queue");
        }
        placement.stream.opencl_context = context;
    } else if (!stream.opencl_queue) {
        if (stream.opencl_context) {
            return invalid("options.stream.opencl_context: given without opencl_queue (pass both, "
                           "or neither for the library's own)");
        }
        return opencl_default_queue(device.id, &placement.stream.opencl_context,
                                    &placement.stream.opencl_queue);
    }
    return Status::Ok();
}

}  // namespace

Status place_call(const Device& device, DType dtype, const Stream& stream, const char* what,
                  bool needs_int64_atomics, Placement& placement) {
    placement = Placement{};
    placement.device = device;
    if (device.type == DeviceType::cpu) {
        placement.isa = select_cpu_isa();
        return Status::Ok();
    }
    // The backend compiled in, the driver, the device.
    if (Status s = device_status(device); !s.ok()) return s;
    placement.stream = stream;
    if (device.type == DeviceType::cuda) {
        if constexpr (kHaveCuda) {
            if (!stream.cuda_context) {
                return cuda_primary_context(device.id, &placement.stream.cuda_context);
            }
        }
        return Status::Ok();
    }
    if constexpr (kHaveOpencl) {
        return place_opencl_call(device, dtype, stream, what, needs_int64_atomics, placement);
    }
    return Status::Ok();
}

namespace {

Status cuda_fill_zeros(const Placement& placement, const TensorView& t) {
    int error = 0;
    const CudaDriver& d = cuda_driver();
    if (!d.cuMemsetD8Async || !d.cuCtxPushCurrent || !d.cuCtxPopCurrent) {
        return unsupported("cuda: the driver lacks cuMemsetD8Async");
    }
    d.cuCtxPushCurrent(placement.stream.cuda_context);
    const auto base = reinterpret_cast<uint64_t>(t.data);
    for_each_contiguous_run(t, [&](int64_t offset, int64_t bytes) {
        if (error == 0) {
            error = d.cuMemsetD8Async(base + offset, 0, static_cast<size_t>(bytes),
                                      placement.stream.cuda_stream);
        }
    });
    void* ignored = nullptr;
    d.cuCtxPopCurrent(&ignored);
    if (error != 0) {
        return Status(StatusCode::internal, "cuMemsetD8Async failed: " + cuda_error_name(d, error));
    }
    return Status::Ok();
}

Status opencl_fill_zeros(const Placement& placement, const TensorView& t) {
    int error = 0;
    const OpenCl& cl = opencl();
    const unsigned char zero = 0;
    for_each_contiguous_run(t, [&](int64_t offset, int64_t bytes) {
        if (error == 0) {
            error = cl.clEnqueueFillBuffer(placement.stream.opencl_queue, t.data, &zero, 1,
                                           static_cast<size_t>(offset), static_cast<size_t>(bytes),
                                           0, nullptr, nullptr);
        }
    });
    if (error != 0) {
        return Status(StatusCode::internal, "clEnqueueFillBuffer failed (" + std::to_string(error) + ")");
    }
    return Status::Ok();
}

}  // namespace

Status fill_zeros_on_device(const Placement& placement, const TensorView& t) {
    if (t.numel() == 0) return Status::Ok();
    if (placement.device.type == DeviceType::cuda) {
        if constexpr (kHaveCuda) return cuda_fill_zeros(placement, t);
    } else if constexpr (kHaveOpencl) {
        return opencl_fill_zeros(placement, t);
    }
    return unsupported(to_string(placement.device) + ": no kernels for it in this build");
}

// Wraps the device memory of a view into the halide_buffer_t (no copy, no ownership).
void HalideBuffer::wrap_device(const TensorView& t) {
    buffer.host = nullptr;
    const auto handle = reinterpret_cast<uint64_t>(t.data);
    int result = -1;
#if GRIDSAMPLE_HAVE_CUDA
    if (t.device.type == DeviceType::cuda) result = halide_cuda_wrap_device_ptr(nullptr, &buffer, handle);
#endif
#if GRIDSAMPLE_HAVE_OPENCL
    if (t.device.type == DeviceType::opencl) result = halide_opencl_wrap_cl_mem(nullptr, &buffer, handle);
#endif
    (void)handle;
    if (result != 0) {
        fits = false;  // the kernel then refuses the null buffer
        return;
    }
    wrapped = t.device.type;
}

HalideBuffer::~HalideBuffer() {
#if GRIDSAMPLE_HAVE_CUDA
    if (wrapped == DeviceType::cuda) halide_cuda_detach_device_ptr(nullptr, &buffer);
#endif
#if GRIDSAMPLE_HAVE_OPENCL
    if (wrapped == DeviceType::opencl) halide_opencl_detach_cl_mem(nullptr, &buffer);
#endif
}

}  // namespace detail

using namespace detail;

Status device_status(Device device) {
    switch (device.type) {
    case DeviceType::cpu:
        return device.id == 0 ? Status::Ok() : invalid("device: cpu has only id 0");
    case DeviceType::cuda: {
        if constexpr (!kHaveCuda) {
            return unsupported("cuda: this build has no CUDA kernels (configure with "
                               "-DGRIDSAMPLE_GPU_BACKENDS=cuda;opencl)");
        } else {
            const CudaDriver& d = cuda_driver();
            if (!d.error.empty()) return unsupported("cuda: " + d.error);
            if (device.id < 0 || device.id >= d.device_count) {
                return unsupported(to_string(device) + ": no such device (this machine has " +
                                   std::to_string(d.device_count) + " CUDA device" +
                                   (d.device_count == 1 ? "" : "s") + ")");
            }
            return Status::Ok();
        }
    }
    case DeviceType::opencl: {
        if constexpr (!kHaveOpencl) {
            return unsupported("opencl: this build has no OpenCL kernels (configure with "
                               "-DGRIDSAMPLE_GPU_BACKENDS=cuda;opencl)");
        } else {
            const OpenCl& cl = opencl();
            if (!cl.error.empty()) return unsupported("opencl: " + cl.error);
            const int count = static_cast<int>(cl.devices.size());
            if (device.id < 0 || device.id >= count) {
                return unsupported(to_string(device) + ": no such device (this machine has " +
                                   std::to_string(count) + " OpenCL device" +
                                   (count == 1 ? "" : "s") + ")");
            }
            return Status::Ok();
        }
    }
    }
    return invalid("device: unknown device type " + std::to_string(static_cast<int32_t>(device.type)));
}

Status release_context(Device device, const Stream& stream) {
    if (device.type == DeviceType::cpu) {
        return invalid("device: release_context is for a GPU device (cuda or opencl), not cpu");
    }
    // The context as a call resolves it (the primary CUDA context, the library's OpenCL queue).
    detail::Placement placement;
    if (Status s = detail::place_call(device, DType::float32, stream, "release_context", false,
                                      placement);
        !s.ok()) {
        return s;
    }
    detail::install_halide_hooks();
    // Halide's release of a device interface, in that context: it waits for the context's work,
    // frees the device allocations kept for reuse and unloads the kernels it loaded there (a
    // context it did not create itself is not destroyed).
    detail::CallContext call;
    call.stream = placement.stream;
    if (device.type == DeviceType::cuda) {
#if GRIDSAMPLE_HAVE_CUDA
        halide_device_release(&call, halide_cuda_device_interface());
#endif
    } else {
#if GRIDSAMPLE_HAVE_OPENCL
        halide_device_release(&call, halide_opencl_device_interface());
#endif
    }
    if (!call.error_message.empty()) {
        return Status(StatusCode::internal, "release_context: " + call.error_message);
    }
    return Status::Ok();
}

}  // namespace gridsample

#if GRIDSAMPLE_HAVE_OPENCL
// Halide's OpenCL runtime calls these around every device operation (they are weak there). They
// hand out the call's context and queue; a null user_context (Halide's bookkeeping outside a
// call) gets the library's own context of the first device, when one was created.
extern "C" int halide_acquire_cl_context(void* user_context, void** ctx, void** queue, bool) {
    using namespace gridsample::detail;
    auto* call = static_cast<CallContext*>(user_context);
    if (call && call->stream.opencl_context) {
        *ctx = call->stream.opencl_context;
        *queue = call->stream.opencl_queue;
        return 0;
    }
    std::lock_guard<std::mutex> lock(g_opencl_mutex);
    *ctx = nullptr;
    *queue = nullptr;
    for (const OpenClDevice& d : opencl().devices) {
        if (d.context) {
            *ctx = d.context;
            *queue = d.queue;
            break;
        }
    }
    return 0;
}

extern "C" int halide_release_cl_context(void*) { return 0; }
#endif
