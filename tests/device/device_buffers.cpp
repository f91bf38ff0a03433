// Device memory for the device test suites (device_buffers.h): OpenCL through the ICD loader,
// CUDA through the driver API loaded at run time.
#include "device_buffers.h"

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#ifndef GRIDSAMPLE_TEST_GPU_BACKENDS
#error "GRIDSAMPLE_TEST_GPU_BACKENDS (the build's GRIDSAMPLE_GPU_BACKENDS, comma-separated) must be defined"
#endif

namespace gridsample_test {

namespace gs = gridsample;

namespace {

std::mutex& state_mutex() {
    static std::mutex m;
    return m;
}

// ------------------------------------------------------------------------------------------------
// OpenCL

const char* cl_error_name(cl_int e) {
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
        return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST (a kernel on the queue failed)";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform installed)";
    default: return "an OpenCL error";
    }
}

std::string cl_error(const std::string& call, gs::Device device, cl_int e) {
    std::ostringstream os;
    os << call << " on " << gs::to_string(device) << " failed: " << cl_error_name(e) << " (" << e
       << ")";
    return os.str();
}

std::string cl_string(cl_device_id device, cl_device_info what) {
    size_t size = 0;
    if (clGetDeviceInfo(device, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return {};
    std::string s(size, '\0');
    if (clGetDeviceInfo(device, what, size, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

std::string cl_platform_string(cl_platform_id platform, cl_platform_info what) {
    size_t size = 0;
    if (clGetPlatformInfo(platform, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return {};
    std::string s(size, '\0');
    if (clGetPlatformInfo(platform, what, size, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

bool has_extension(const std::string& extensions, const std::string& name) {
    std::istringstream is(extensions);
    std::string word;
    while (is >> word) {
        if (word == name) return true;
    }
    return false;
}

struct OpenClDevice {
    cl_device_id id = nullptr;
    std::string name;  // "platform: device"
    std::string extensions;
    // The test context and in-order queue, made at first use.
    cl_context context = nullptr;
    cl_command_queue queue = nullptr;
};

struct OpenClState {
    std::string error;  // why there are no devices, if there are none
    std::vector<OpenClDevice> devices;
};

// Every device of every platform, platforms in the ICD loader's order: gridsample's numbering.
OpenClState& opencl_state() {
    static OpenClState* state = [] {
        auto* s = new OpenClState;
        cl_uint platform_count = 0;
        cl_int e = clGetPlatformIDs(0, nullptr, &platform_count);
        if (e != CL_SUCCESS || platform_count == 0) {
            s->error = e != CL_SUCCESS ? cl_error("clGetPlatformIDs", gs::Device::opencl(0), e)
                                       : "no OpenCL platform installed";
            return s;
        }
        std::vector<cl_platform_id> platforms(platform_count);
        if ((e = clGetPlatformIDs(platform_count, platforms.data(), nullptr)) != CL_SUCCESS) {
            s->error = cl_error("clGetPlatformIDs", gs::Device::opencl(0), e);
            return s;
        }
        for (cl_platform_id platform : platforms) {
            cl_uint count = 0;
            if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &count) != CL_SUCCESS ||
                count == 0) {
                continue;
            }
            std::vector<cl_device_id> ids(count);
            if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, ids.data(), nullptr) !=
                CL_SUCCESS) {
                continue;
            }
            const std::string platform_name = cl_platform_string(platform, CL_PLATFORM_NAME);
            for (cl_device_id id : ids) {
                OpenClDevice d;
                d.id = id;
                d.name = platform_name + ": " + cl_string(id, CL_DEVICE_NAME);
                d.extensions = cl_string(id, CL_DEVICE_EXTENSIONS);
                s->devices.push_back(d);
            }
        }
        if (s->devices.empty()) s->error = "no OpenCL device on any platform";
        return s;
    }();
    return *state;
}

// The device, or a DeviceError saying why there is none.
OpenClDevice& opencl_device(gs::Device device) {
    OpenClState& s = opencl_state();
    if (device.id < 0 || static_cast<size_t>(device.id) >= s.devices.size()) {
        throw DeviceError(gs::to_string(device) + ": no such OpenCL device (" +
                          std::to_string(s.devices.size()) + " present" +
                          (s.error.empty() ? "" : "; " + s.error) + ")");
    }
    return s.devices[static_cast<size_t>(device.id)];
}

// The device with its test context and queue created.
OpenClDevice& opencl_queue(gs::Device device) {
    std::lock_guard<std::mutex> lock(state_mutex());
    OpenClDevice& d = opencl_device(device);
    if (d.queue != nullptr) return d;
    cl_int e = CL_SUCCESS;
    cl_context context = clCreateContext(nullptr, 1, &d.id, nullptr, nullptr, &e);
    if (context == nullptr || e != CL_SUCCESS) throw DeviceError(cl_error("clCreateContext", device, e));
    // In order (no CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE): copies and kernels run as queued.
    cl_command_queue queue = clCreateCommandQueue(context, d.id, 0, &e);
    if (queue == nullptr || e != CL_SUCCESS) {
        clReleaseContext(context);
        throw DeviceError(cl_error("clCreateCommandQueue", device, e));
    }
    d.context = context;
    d.queue = queue;
    return d;
}

// ------------------------------------------------------------------------------------------------
// CUDA: the driver API, declared here (no toolkit headers), loaded from libcuda.so.1.

using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st*;
using CUstream = struct CUstream_st*;
using CUdeviceptr = unsigned long long;

struct CudaDriver {
    std::string error;  // why CUDA cannot be used, if it cannot
    int device_count = 0;

    CUresult (*cuInit)(unsigned int) = nullptr;
    CUresult (*cuDeviceGetCount)(int*) = nullptr;
    CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
    CUresult (*cuDeviceGetName)(char*, int, CUdevice) = nullptr;
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice) = nullptr;
    CUresult (*cuCtxPushCurrent)(CUcontext) = nullptr;
    CUresult (*cuCtxPopCurrent)(CUcontext*) = nullptr;
    CUresult (*cuCtxSynchronize)() = nullptr;
    CUresult (*cuMemAlloc)(CUdeviceptr*, size_t) = nullptr;
    CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t) = nullptr;
    CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t) = nullptr;
    CUresult (*cuStreamCreate)(CUstream*, unsigned int) = nullptr;
    CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
    CUresult (*cuGetErrorName)(CUresult, const char**) = nullptr;
    // For OwnStream only (optional: the suites run without them).
    CUresult (*cuCtxCreate)(CUcontext*, unsigned int, CUdevice) = nullptr;
    CUresult (*cuCtxDestroy)(CUcontext) = nullptr;
    CUresult (*cuStreamDestroy)(CUstream) = nullptr;

    std::string error_name(CUresult r) const {
        const char* name = nullptr;
        if (cuGetErrorName != nullptr && cuGetErrorName(r, &name) == 0 && name != nullptr) {
            return std::string(name) + " (" + std::to_string(r) + ")";
        }
        return "CUDA error " + std::to_string(r);
    }
};

template <typename Fn>
bool load(void* library, const char* name, Fn& fn) {
    fn = reinterpret_cast<Fn>(dlsym(library, name));
    return fn != nullptr;
}

const CudaDriver& cuda_driver() {
    static CudaDriver* driver = [] {
        auto* d = new CudaDriver;
        void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (library == nullptr) {
            const char* why = dlerror();
            d->error = std::string("the CUDA driver (libcuda.so.1) cannot be loaded: ") +
                       (why != nullptr ? why : "unknown reason");
            return d;
        }
        // The _v2 entry points are the ones cuda.h maps these names to.
        const bool ok = load(library, "cuInit", d->cuInit) &&
                        load(library, "cuDeviceGetCount", d->cuDeviceGetCount) &&
                        load(library, "cuDeviceGet", d->cuDeviceGet) &&
                        load(library, "cuDeviceGetName", d->cuDeviceGetName) &&
                        load(library, "cuDevicePrimaryCtxRetain", d->cuDevicePrimaryCtxRetain) &&
                        load(library, "cuCtxPushCurrent_v2", d->cuCtxPushCurrent) &&
                        load(library, "cuCtxPopCurrent_v2", d->cuCtxPopCurrent) &&
                        load(library, "cuCtxSynchronize", d->cuCtxSynchronize) &&
                        load(library, "cuMemAlloc_v2", d->cuMemAlloc) &&
                        load(library, "cuMemFree_v2", d->cuMemFree) &&
                        load(library, "cuMemcpyHtoD_v2", d->cuMemcpyHtoD) &&
                        load(library, "cuMemcpyDtoH_v2", d->cuMemcpyDtoH) &&
                        load(library, "cuStreamCreate", d->cuStreamCreate) &&
                        load(library, "cuStreamSynchronize", d->cuStreamSynchronize);
        load(library, "cuGetErrorName", d->cuGetErrorName);  // optional
        load(library, "cuCtxCreate_v2", d->cuCtxCreate);       // optional (OwnStream)
        load(library, "cuCtxDestroy_v2", d->cuCtxDestroy);
        load(library, "cuStreamDestroy_v2", d->cuStreamDestroy);
        if (!ok) {
            d->error = "libcuda.so.1 lacks a driver API function the tests use";
            return d;
        }
        if (CUresult r = d->cuInit(0); r != 0) {
            d->error = "cuInit: " + d->error_name(r);
            return d;
        }
        if (CUresult r = d->cuDeviceGetCount(&d->device_count); r != 0) {
            d->error = "cuDeviceGetCount: " + d->error_name(r);
            d->device_count = 0;
            return d;
        }
        if (d->device_count == 0) d->error = "the CUDA driver reports no device";
        return d;
    }();
    return *driver;
}

std::string cuda_error(const std::string& call, gs::Device device, CUresult r) {
    return call + " on " + gs::to_string(device) + " failed: " + cuda_driver().error_name(r);
}

struct CudaDevice {
    CUcontext context = nullptr;  // the primary context, retained for the life of the process
    CUstream stream = nullptr;    // the test stream
};

// The device's primary context and test stream, made at first use.
CudaDevice& cuda_device(gs::Device device) {
    std::lock_guard<std::mutex> lock(state_mutex());
    static std::map<int, CudaDevice> devices;
    const CudaDriver& d = cuda_driver();
    if (device.id < 0 || device.id >= d.device_count) {
        throw DeviceError(gs::to_string(device) + ": no such CUDA device (" +
                          std::to_string(d.device_count) + " present" +
                          (d.error.empty() ? "" : "; " + d.error) + ")");
    }
    CudaDevice& c = devices[device.id];
    if (c.stream != nullptr) return c;
    CUdevice dev = 0;
    if (CUresult r = d.cuDeviceGet(&dev, device.id); r != 0) {
        throw DeviceError(cuda_error("cuDeviceGet", device, r));
    }
    if (c.context == nullptr) {
        if (CUresult r = d.cuDevicePrimaryCtxRetain(&c.context, dev); r != 0) {
            throw DeviceError(cuda_error("cuDevicePrimaryCtxRetain", device, r));
        }
    }
    if (CUresult r = d.cuCtxPushCurrent(c.context); r != 0) {
        throw DeviceError(cuda_error("cuCtxPushCurrent", device, r));
    }
    // CU_STREAM_DEFAULT (0): a blocking stream, ordered with the legacy default stream that the
    // synchronous copies use.
    const CUresult r = d.cuStreamCreate(&c.stream, 0);
    CUcontext popped = nullptr;
    d.cuCtxPopCurrent(&popped);
    if (r != 0) {
        c.stream = nullptr;
        throw DeviceError(cuda_error("cuStreamCreate", device, r));
    }
    return c;
}

// Makes the device's primary context, or `context` where given, current for the scope.
class CudaScope {
public:
    explicit CudaScope(gs::Device device, void* context = nullptr) : device_(device) {
        CUcontext c = context != nullptr ? static_cast<CUcontext>(context) : cuda_device(device).context;
        if (CUresult r = cuda_driver().cuCtxPushCurrent(c); r != 0) {
            throw DeviceError(cuda_error("cuCtxPushCurrent", device, r));
        }
    }
    ~CudaScope() {
        CUcontext popped = nullptr;
        cuda_driver().cuCtxPopCurrent(&popped);
    }
    CudaScope(const CudaScope&) = delete;
    CudaScope& operator=(const CudaScope&) = delete;

private:
    gs::Device device_;
};

std::vector<gs::Device> numbered(gs::DeviceType type, size_t count) {
    std::vector<gs::Device> v;
    for (size_t i = 0; i < count; ++i) v.push_back({type, static_cast<int32_t>(i)});
    return v;
}

void require_gpu(gs::Device device, const char* what) {
    if (device.type != gs::DeviceType::opencl && device.type != gs::DeviceType::cuda) {
        throw DeviceError(std::string(what) + ": " + gs::to_string(device) + " is not a GPU device");
    }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Devices

std::string test_device_name(gs::Device device) {
    switch (device.type) {
    case gs::DeviceType::opencl: return "opencl" + std::to_string(device.id);
    case gs::DeviceType::cuda: return "cuda" + std::to_string(device.id);
    case gs::DeviceType::cpu: return "cpu";
    }
    return "unknown";
}

std::vector<gs::Device> opencl_devices_present() {
    return numbered(gs::DeviceType::opencl, opencl_state().devices.size());
}

std::vector<gs::Device> cuda_devices_present() {
    return numbered(gs::DeviceType::cuda, static_cast<size_t>(cuda_driver().device_count));
}

std::vector<gs::Device> opencl_test_devices() {
    // A build without the backend does not even load OpenCL (the sanitizer builds, where the
    // driver's own allocations would count as leaks): its tests skip, saying so.
    if (!backend_compiled(gs::DeviceType::opencl)) return {gs::Device::opencl(0)};
    std::vector<gs::Device> v = opencl_devices_present();
    if (v.empty()) v.push_back(gs::Device::opencl(0));
    return v;
}

std::vector<gs::Device> cuda_test_devices() {
    if (!backend_compiled(gs::DeviceType::cuda)) return {gs::Device::cuda(0)};
    std::vector<gs::Device> v = cuda_devices_present();
    if (v.empty()) v.push_back(gs::Device::cuda(0));
    return v;
}

bool backend_compiled(gs::DeviceType type) {
    const std::string name = type == gs::DeviceType::opencl ? "opencl"
                             : type == gs::DeviceType::cuda ? "cuda"
                                                            : "";
    if (name.empty()) return false;
    std::istringstream is(GRIDSAMPLE_TEST_GPU_BACKENDS);
    std::string backend;
    while (std::getline(is, backend, ',')) {
        if (backend == name) return true;
    }
    return false;
}

std::string device_unavailable_reason(gs::Device device) {
    if (device.type != gs::DeviceType::opencl && device.type != gs::DeviceType::cuda) {
        return gs::to_string(device) + " is not a GPU device";
    }
    if (!backend_compiled(device.type)) {
        return std::string("this build does not compile the ") + gs::to_string(device.type) +
               " backend (GRIDSAMPLE_GPU_BACKENDS is \"" GRIDSAMPLE_TEST_GPU_BACKENDS "\")";
    }
    if (device.type == gs::DeviceType::opencl) {
        const OpenClState& s = opencl_state();
        if (device.id < 0 || static_cast<size_t>(device.id) >= s.devices.size()) {
            return "no OpenCL device " + std::to_string(device.id) + " here (" +
                   std::to_string(s.devices.size()) + " present" +
                   (s.error.empty() ? "" : ": " + s.error) + ")";
        }
        return {};
    }
    const CudaDriver& d = cuda_driver();
    if (device.id < 0 || device.id >= d.device_count) {
        return "no CUDA device " + std::to_string(device.id) + " here (" +
               std::to_string(d.device_count) + " present" + (d.error.empty() ? "" : ": " + d.error) +
               ")";
    }
    return {};
}

std::string device_description(gs::Device device) {
    const std::string name = gs::to_string(device);
    if (!device_unavailable_reason(device).empty()) return name;
    if (device.type == gs::DeviceType::opencl) {
        return name + " (" + opencl_state().devices[static_cast<size_t>(device.id)].name + ")";
    }
    const CudaDriver& d = cuda_driver();
    CUdevice dev = 0;
    char buffer[256] = {};
    if (d.cuDeviceGet(&dev, device.id) == 0 && d.cuDeviceGetName(buffer, sizeof(buffer), dev) == 0) {
        return name + " (" + buffer + ")";
    }
    return name;
}

bool device_has_fp64(gs::Device device) {
    if (device.type == gs::DeviceType::cuda) return true;
    if (device.type != gs::DeviceType::opencl) return true;
    return has_extension(opencl_device(device).extensions, "cl_khr_fp64");
}

bool device_has_fp16(gs::Device device) {
    if (device.type != gs::DeviceType::opencl) return true;
    return has_extension(opencl_device(device).extensions, "cl_khr_fp16");
}

bool device_has_int64_atomics(gs::Device device) {
    if (device.type != gs::DeviceType::opencl) return true;
    return has_extension(opencl_device(device).extensions, "cl_khr_int64_base_atomics");
}

gs::Stream test_stream(gs::Device device) {
    require_gpu(device, "test_stream");
    gs::Stream s;
    if (device.type == gs::DeviceType::opencl) {
        const OpenClDevice& d = opencl_queue(device);
        s.opencl_context = d.context;
        s.opencl_queue = d.queue;
    } else {
        const CudaDevice& c = cuda_device(device);
        s.cuda_context = c.context;
        s.cuda_stream = c.stream;
    }
    return s;
}

namespace {

// Waits until everything queued on `stream` (its queue, or its stream in its context) has completed.
void synchronize_stream(gs::Device device, const gs::Stream& stream) {
    if (device.type == gs::DeviceType::opencl) {
        if (cl_int e = clFinish(static_cast<cl_command_queue>(stream.opencl_queue)); e != CL_SUCCESS) {
            throw DeviceError(cl_error("clFinish", device, e));
        }
        return;
    }
    CudaScope scope(device, stream.cuda_context);
    if (CUresult r = cuda_driver().cuStreamSynchronize(static_cast<CUstream>(stream.cuda_stream)); r != 0) {
        throw DeviceError(cuda_error("cuStreamSynchronize", device, r));
    }
}

}  // namespace

void synchronize(gs::Device device) {
    require_gpu(device, "synchronize");
    synchronize_stream(device, test_stream(device));
}

void synchronize_device(gs::Device device) {
    require_gpu(device, "synchronize_device");
    if (device.type == gs::DeviceType::opencl) {
        synchronize(device);
        return;
    }
    CudaScope scope(device);
    if (CUresult r = cuda_driver().cuCtxSynchronize(); r != 0) {
        throw DeviceError(cuda_error("cuCtxSynchronize", device, r));
    }
}

// ------------------------------------------------------------------------------------------------
// Streams of the test's own

OwnStream::OwnStream(gs::Device device, bool own_context) : device_(device) {
    require_gpu(device, "OwnStream");
    if (device.type == gs::DeviceType::opencl) {
        const OpenClDevice& d = opencl_queue(device);
        cl_int e = CL_SUCCESS;
        cl_context context = d.context;
        if (own_context) {
            context = clCreateContext(nullptr, 1, &d.id, nullptr, nullptr, &e);
            if (context == nullptr || e != CL_SUCCESS) throw DeviceError(cl_error("clCreateContext", device, e));
            owns_context_ = true;
        }
        cl_command_queue queue = clCreateCommandQueue(context, d.id, 0, &e);
        if (queue == nullptr || e != CL_SUCCESS) {
            if (owns_context_) clReleaseContext(context);
            throw DeviceError(cl_error("clCreateCommandQueue", device, e));
        }
        stream_.opencl_context = context;
        stream_.opencl_queue = queue;
        return;
    }
    const CudaDriver& drv = cuda_driver();
    CUcontext context = cuda_device(device).context;
    if (own_context) {
        if (drv.cuCtxCreate == nullptr || drv.cuCtxDestroy == nullptr) {
            throw DeviceError("OwnStream: libcuda.so.1 lacks cuCtxCreate_v2 or cuCtxDestroy_v2");
        }
        CUdevice dev = 0;
        if (CUresult r = drv.cuDeviceGet(&dev, device.id); r != 0) {
            throw DeviceError(cuda_error("cuDeviceGet", device, r));
        }
        // cuCtxCreate makes the new context current on this thread: popped below.
        if (CUresult r = drv.cuCtxCreate(&context, 0, dev); r != 0) {
            throw DeviceError(cuda_error("cuCtxCreate", device, r));
        }
        CUcontext popped = nullptr;
        drv.cuCtxPopCurrent(&popped);
        owns_context_ = true;
    }
    stream_.cuda_context = context;
    CUstream stream = nullptr;
    CUresult r = 0;
    {
        CudaScope scope(device, context);
        r = drv.cuStreamCreate(&stream, 0);
    }
    if (r != 0) {
        if (owns_context_) drv.cuCtxDestroy(context);
        throw DeviceError(cuda_error("cuStreamCreate", device, r));
    }
    stream_.cuda_stream = stream;
}

OwnStream::~OwnStream() {
    try {
        if (device_.type == gs::DeviceType::opencl) {
            if (stream_.opencl_queue != nullptr) {
                clFinish(static_cast<cl_command_queue>(stream_.opencl_queue));
                clReleaseCommandQueue(static_cast<cl_command_queue>(stream_.opencl_queue));
            }
            if (owns_context_) clReleaseContext(static_cast<cl_context>(stream_.opencl_context));
            return;
        }
        const CudaDriver& drv = cuda_driver();
        if (stream_.cuda_stream != nullptr) {
            CudaScope scope(device_, stream_.cuda_context);
            drv.cuStreamSynchronize(static_cast<CUstream>(stream_.cuda_stream));
            if (drv.cuStreamDestroy != nullptr) drv.cuStreamDestroy(static_cast<CUstream>(stream_.cuda_stream));
        }
        if (owns_context_) drv.cuCtxDestroy(static_cast<CUcontext>(stream_.cuda_context));
    } catch (...) {
        // Nothing more to do in a destructor.
    }
}

void OwnStream::synchronize() const { synchronize_stream(device_, stream_); }

// ------------------------------------------------------------------------------------------------
// Buffers

void* DeviceBuffer::copy_queue() const {
    return opencl_queue_ != nullptr ? opencl_queue_ : opencl_queue(device_).queue;
}

DeviceBuffer::DeviceBuffer(const OwnStream& owner, const gs::TensorView& host)
    : device_(owner.device()),
      view_(host),
      span_(span_elements(host)),
      cuda_context_(owner.stream().cuda_context),
      opencl_context_(owner.stream().opencl_context),
      opencl_queue_(owner.stream().opencl_queue) {
    allocate(host);
}

DeviceBuffer::DeviceBuffer(gs::Device device, const gs::TensorView& host)
    : device_(device), view_(host), span_(span_elements(host)) {
    allocate(host);
}

void DeviceBuffer::allocate(const gs::TensorView& host) {
    const gs::Device device = device_;
    require_gpu(device, "DeviceBuffer");
    if (host.device.type != gs::DeviceType::cpu) {
        throw DeviceError("DeviceBuffer: the view to copy is on " + gs::to_string(host.device) +
                          ", not in host memory");
    }
    view_.device = device;
    view_.data = nullptr;
    if (span_ == 0) return;
    if (host.data == nullptr) throw DeviceError("DeviceBuffer: a non-empty host view with null data");
    const size_t bytes = static_cast<size_t>(span_) * element_size(host.dtype);
    if (device.type == gs::DeviceType::opencl) {
        const OpenClDevice& d = opencl_queue(device);
        cl_int e = CL_SUCCESS;
        const cl_context context =
            opencl_context_ != nullptr ? static_cast<cl_context>(opencl_context_) : d.context;
        cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, nullptr, &e);
        if (mem == nullptr || e != CL_SUCCESS) {
            throw DeviceError(cl_error("clCreateBuffer(" + std::to_string(bytes) + " bytes)", device, e));
        }
        handle_ = mem;
    } else {
        CudaScope scope(device, cuda_context_);
        CUdeviceptr ptr = 0;
        if (CUresult r = cuda_driver().cuMemAlloc(&ptr, bytes); r != 0) {
            throw DeviceError(cuda_error("cuMemAlloc(" + std::to_string(bytes) + " bytes)", device, r));
        }
        handle_ = reinterpret_cast<void*>(static_cast<uintptr_t>(ptr));
    }
    view_.data = handle_;
    copy_from_host(host);
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(other.device_),
      view_(other.view_),
      span_(other.span_),
      handle_(other.handle_),
      cuda_context_(other.cuda_context_),
      opencl_context_(other.opencl_context_),
      opencl_queue_(other.opencl_queue_) {
    other.handle_ = nullptr;
    other.span_ = 0;
    other.view_.data = nullptr;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
        release();
        device_ = other.device_;
        view_ = other.view_;
        span_ = other.span_;
        handle_ = other.handle_;
        cuda_context_ = other.cuda_context_;
        opencl_context_ = other.opencl_context_;
        opencl_queue_ = other.opencl_queue_;
        other.handle_ = nullptr;
        other.span_ = 0;
        other.view_.data = nullptr;
    }
    return *this;
}

void DeviceBuffer::release() noexcept {
    if (handle_ == nullptr) return;
    try {
        if (device_.type == gs::DeviceType::opencl) {
            // Released once the commands using it have completed.
            clReleaseMemObject(static_cast<cl_mem>(handle_));
        } else {
            CudaScope scope(device_, cuda_context_);
            cuda_driver().cuMemFree(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(handle_)));
        }
    } catch (...) {
        // A context that cannot be made current: nothing more to do here.
    }
    handle_ = nullptr;
}

void DeviceBuffer::copy_to_host(const gs::TensorView& host) const {
    if (span_elements(host) != span_ || host.dtype != view_.dtype) {
        throw DeviceError("DeviceBuffer::copy_to_host: the host view's span (" +
                          std::to_string(span_elements(host)) + " elements) is not the buffer's (" +
                          std::to_string(span_) + ")");
    }
    if (span_ == 0) return;
    const size_t bytes = static_cast<size_t>(span_) * element_size(view_.dtype);
    if (device_.type == gs::DeviceType::opencl) {
        if (cl_int e = clEnqueueReadBuffer(static_cast<cl_command_queue>(copy_queue()), static_cast<cl_mem>(handle_), CL_TRUE, 0, bytes,
                                           host.data, 0, nullptr, nullptr);
            e != CL_SUCCESS) {
            throw DeviceError(cl_error("clEnqueueReadBuffer(" + std::to_string(bytes) + " bytes)", device_, e));
        }
    } else {
        CudaScope scope(device_, cuda_context_);
        if (CUresult r = cuda_driver().cuMemcpyDtoH(
                host.data, static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(handle_)), bytes);
            r != 0) {
            throw DeviceError(cuda_error("cuMemcpyDtoH(" + std::to_string(bytes) + " bytes)", device_, r));
        }
    }
}

void DeviceBuffer::copy_from_host(const gs::TensorView& host) {
    if (span_elements(host) != span_ || host.dtype != view_.dtype) {
        throw DeviceError("DeviceBuffer::copy_from_host: the host view's span (" +
                          std::to_string(span_elements(host)) + " elements) is not the buffer's (" +
                          std::to_string(span_) + ")");
    }
    if (span_ == 0) return;
    const size_t bytes = static_cast<size_t>(span_) * element_size(view_.dtype);
    if (device_.type == gs::DeviceType::opencl) {
        if (cl_int e = clEnqueueWriteBuffer(static_cast<cl_command_queue>(copy_queue()), static_cast<cl_mem>(handle_), CL_TRUE, 0, bytes,
                                            host.data, 0, nullptr, nullptr);
            e != CL_SUCCESS) {
            throw DeviceError(cl_error("clEnqueueWriteBuffer(" + std::to_string(bytes) + " bytes)", device_, e));
        }
    } else {
        CudaScope scope(device_, cuda_context_);
        if (CUresult r = cuda_driver().cuMemcpyHtoD(
                static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(handle_)), host.data, bytes);
            r != 0) {
            throw DeviceError(cuda_error("cuMemcpyHtoD(" + std::to_string(bytes) + " bytes)", device_, r));
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Placement

namespace {

class DeviceCall final : public PlacedCall {
public:
    DeviceCall(gs::Device device, bool library_default_stream)
        : device_(device), library_default_stream_(library_default_stream) {}

    gs::TensorView input(const gs::TensorView& host) override {
        buffers_.push_back(std::make_unique<DeviceBuffer>(device_, host));
        return buffers_.back()->view();
    }
    gs::TensorView output(const gs::TensorView& host) override {
        buffers_.push_back(std::make_unique<DeviceBuffer>(device_, host));
        outputs_.emplace_back(buffers_.back().get(), host);
        return buffers_.back()->view();
    }
    gs::Stream stream() const override {
        return library_default_stream_ ? gs::Stream{} : test_stream(device_);
    }
    void finish() override {
        if (library_default_stream_) {
            synchronize_device(device_);
        } else {
            synchronize(device_);
        }
        for (const auto& [buffer, host] : outputs_) buffer->copy_to_host(host);
    }

private:
    gs::Device device_;
    bool library_default_stream_;
    std::vector<std::unique_ptr<DeviceBuffer>> buffers_;
    std::vector<std::pair<const DeviceBuffer*, gs::TensorView>> outputs_;
};

}  // namespace

DevicePlacement::DevicePlacement(gs::Device device, bool library_default_stream)
    : device_(device), library_default_stream_(library_default_stream) {
    require_gpu(device, "DevicePlacement");
    if (library_default_stream && device.type == gs::DeviceType::opencl) {
        throw DeviceError("DevicePlacement: OpenCL buffers belong to the test context; calls on "
                          "the library's own queue cannot use them");
    }
}

std::string DevicePlacement::unsupported_reason(gs::DType dtype, bool int64_atomics) const {
    if (dtype == gs::DType::float64 && !device_has_fp64(device_)) {
        return "the device has no float64 (cl_khr_fp64)";
    }
    if (dtype == gs::DType::float16 && !device_has_fp16(device_)) {
        return "the device has no float16 (cl_khr_fp16)";
    }
    if (int64_atomics && !device_has_int64_atomics(device_)) {
        return "the device has no 64-bit integer atomics (cl_khr_int64_base_atomics)";
    }
    return {};
}

std::unique_ptr<PlacedCall> DevicePlacement::begin() const {
    return std::make_unique<DeviceCall>(device_, library_default_stream_);
}

}  // namespace gridsample_test
