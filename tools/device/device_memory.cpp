// Device memory through the CUDA driver API and OpenCL 1.2, both loaded at run time.
#include "device_memory.h"

#include <dlfcn.h>

#include <cstdint>
#include <vector>

namespace gridsample::device_memory {
namespace {

Status unsupported(std::string message) {
    return Status(StatusCode::unsupported, std::move(message));
}

template <typename F>
bool load(void* library, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(library, name));
    return f != nullptr;
}

// ---- CUDA ------------------------------------------------------------------------------------
class CudaSession final : public Session {
public:
    explicit CudaSession(Device device) : Session(device) {}
    ~CudaSession() override {
        if (stream_ && cuStreamDestroy) {
            push();
            cuStreamDestroy(stream_);
            pop();
        }
    }

    Status open() {
        void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (!library) return unsupported("cuda: no CUDA driver on this machine (libcuda.so.1)");
        if (!load(library, "cuInit", cuInit) || !load(library, "cuDeviceGet", cuDeviceGet) ||
            !load(library, "cuDeviceGetCount", cuDeviceGetCount) ||
            !load(library, "cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain) ||
            !load(library, "cuCtxPushCurrent_v2", cuCtxPushCurrent) ||
            !load(library, "cuCtxPopCurrent_v2", cuCtxPopCurrent) ||
            !load(library, "cuStreamCreate", cuStreamCreate) ||
            !load(library, "cuStreamDestroy_v2", cuStreamDestroy) ||
            !load(library, "cuStreamSynchronize", cuStreamSynchronize) ||
            !load(library, "cuMemAlloc_v2", cuMemAlloc) || !load(library, "cuMemFree_v2", cuMemFree) ||
            !load(library, "cuMemcpyHtoDAsync_v2", cuMemcpyHtoDAsync) ||
            !load(library, "cuMemcpyDtoHAsync_v2", cuMemcpyDtoHAsync)) {
            return unsupported("cuda: the driver lacks the driver API entry points");
        }
        if (int r = cuInit(0); r != 0) return failed("cuInit", r);
        int count = 0;
        if (int r = cuDeviceGetCount(&count); r != 0) return failed("cuDeviceGetCount", r);
        if (device_.id >= count) {
            return unsupported(to_string(device_) + ": no such device (" + std::to_string(count) +
                               " CUDA devices)");
        }
        int dev = 0;
        if (int r = cuDeviceGet(&dev, device_.id); r != 0) return failed("cuDeviceGet", r);
        if (int r = cuDevicePrimaryCtxRetain(&context_, dev); r != 0) {
            return failed("cuDevicePrimaryCtxRetain", r);
        }
        push();
        const int r = cuStreamCreate(&stream_, 0);
        pop();
        return r == 0 ? Status::Ok() : failed("cuStreamCreate", r);
    }

    Stream stream() const override {
        Stream s;
        s.cuda_context = context_;
        s.cuda_stream = stream_;
        return s;
    }
    Status allocate(size_t bytes, void** handle) override {
        uint64_t ptr = 0;
        push();
        const int r = cuMemAlloc(&ptr, bytes ? bytes : 1);
        pop();
        *handle = reinterpret_cast<void*>(ptr);
        return r == 0 ? Status::Ok() : failed("cuMemAlloc", r);
    }
    void release(void* handle) override {
        push();
        cuMemFree(reinterpret_cast<uint64_t>(handle));
        pop();
    }
    Status upload(void* handle, const void* host, size_t bytes) override {
        push();
        int r = cuMemcpyHtoDAsync(reinterpret_cast<uint64_t>(handle), host, bytes, stream_);
        if (r == 0) r = cuStreamSynchronize(stream_);
        pop();
        return r == 0 ? Status::Ok() : failed("cuMemcpyHtoDAsync", r);
    }
    Status download(void* host, const void* handle, size_t bytes) override {
        push();
        int r = cuMemcpyDtoHAsync(host, reinterpret_cast<uint64_t>(handle), bytes, stream_);
        if (r == 0) r = cuStreamSynchronize(stream_);
        pop();
        return r == 0 ? Status::Ok() : failed("cuMemcpyDtoHAsync", r);
    }
    Status synchronize() override {
        push();
        const int r = cuStreamSynchronize(stream_);
        pop();
        return r == 0 ? Status::Ok() : failed("cuStreamSynchronize", r);
    }

private:
    Status failed(const char* what, int code) const {
        return Status(StatusCode::internal,
                      to_string(device_) + ": " + what + " failed (CUDA error " + std::to_string(code) + ")");
    }
    void push() { cuCtxPushCurrent(context_); }
    void pop() {
        void* ignored = nullptr;
        cuCtxPopCurrent(&ignored);
    }

    void* context_ = nullptr;
    void* stream_ = nullptr;
    int (*cuInit)(unsigned) = nullptr;
    int (*cuDeviceGet)(int*, int) = nullptr;
    int (*cuDeviceGetCount)(int*) = nullptr;
    int (*cuDevicePrimaryCtxRetain)(void**, int) = nullptr;
    int (*cuCtxPushCurrent)(void*) = nullptr;
    int (*cuCtxPopCurrent)(void**) = nullptr;
    int (*cuStreamCreate)(void**, unsigned) = nullptr;
    int (*cuStreamDestroy)(void*) = nullptr;
    int (*cuStreamSynchronize)(void*) = nullptr;
    int (*cuMemAlloc)(uint64_t*, size_t) = nullptr;
    int (*cuMemFree)(uint64_t) = nullptr;
    int (*cuMemcpyHtoDAsync)(uint64_t, const void*, size_t, void*) = nullptr;
    int (*cuMemcpyDtoHAsync)(void*, uint64_t, size_t, void*) = nullptr;
};

// ---- OpenCL ----------------------------------------------------------------------------------
class OpenClSession final : public Session {
public:
    explicit OpenClSession(Device device) : Session(device) {}
    ~OpenClSession() override {
        if (queue_) clReleaseCommandQueue(queue_);
        if (context_) clReleaseContext(context_);
    }

    Status open() {
        void* library = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (!library) return unsupported("opencl: no OpenCL on this machine (libOpenCL.so.1)");
        if (!load(library, "clGetPlatformIDs", clGetPlatformIDs) ||
            !load(library, "clGetDeviceIDs", clGetDeviceIDs) ||
            !load(library, "clCreateContext", clCreateContext) ||
            !load(library, "clCreateCommandQueue", clCreateCommandQueue) ||
            !load(library, "clReleaseContext", clReleaseContext) ||
            !load(library, "clReleaseCommandQueue", clReleaseCommandQueue) ||
            !load(library, "clCreateBuffer", clCreateBuffer) ||
            !load(library, "clReleaseMemObject", clReleaseMemObject) ||
            !load(library, "clEnqueueWriteBuffer", clEnqueueWriteBuffer) ||
            !load(library, "clEnqueueReadBuffer", clEnqueueReadBuffer) ||
            !load(library, "clFinish", clFinish)) {
            return unsupported("opencl: the loader lacks the OpenCL 1.2 entry points");
        }
        // Every device of every platform, in the order gridsample numbers them.
        uint32_t platforms = 0;
        clGetPlatformIDs(0, nullptr, &platforms);
        std::vector<void*> platform_ids(platforms);
        if (platforms) clGetPlatformIDs(platforms, platform_ids.data(), nullptr);
        std::vector<void*> devices;
        for (void* platform : platform_ids) {
            uint32_t count = 0;
            if (clGetDeviceIDs(platform, 0xFFFFFFFF, 0, nullptr, &count) != 0) continue;
            std::vector<void*> ids(count);
            clGetDeviceIDs(platform, 0xFFFFFFFF, count, ids.data(), nullptr);
            devices.insert(devices.end(), ids.begin(), ids.end());
        }
        if (device_.id >= static_cast<int>(devices.size())) {
            return unsupported(to_string(device_) + ": no such device (" +
                               std::to_string(devices.size()) + " OpenCL devices)");
        }
        void* device = devices[device_.id];
        int32_t err = 0;
        context_ = clCreateContext(nullptr, 1, &device, nullptr, nullptr, &err);
        if (!context_) return failed("clCreateContext", err);
        queue_ = clCreateCommandQueue(context_, device, 0, &err);
        return queue_ ? Status::Ok() : failed("clCreateCommandQueue", err);
    }

    Stream stream() const override {
        Stream s;
        s.opencl_context = context_;
        s.opencl_queue = queue_;
        return s;
    }
    Status allocate(size_t bytes, void** handle) override {
        int32_t err = 0;
        constexpr uint64_t kReadWrite = 1;  // CL_MEM_READ_WRITE
        *handle = clCreateBuffer(context_, kReadWrite, bytes ? bytes : 1, nullptr, &err);
        return *handle ? Status::Ok() : failed("clCreateBuffer", err);
    }
    void release(void* handle) override { clReleaseMemObject(handle); }
    Status upload(void* handle, const void* host, size_t bytes) override {
        if (bytes == 0) return Status::Ok();
        const int32_t err =
            clEnqueueWriteBuffer(queue_, handle, 1, 0, bytes, host, 0, nullptr, nullptr);
        return err == 0 ? Status::Ok() : failed("clEnqueueWriteBuffer", err);
    }
    Status download(void* host, const void* handle, size_t bytes) override {
        if (bytes == 0) return Status::Ok();
        const int32_t err = clEnqueueReadBuffer(queue_, const_cast<void*>(handle), 1, 0, bytes,
                                                host, 0, nullptr, nullptr);
        return err == 0 ? Status::Ok() : failed("clEnqueueReadBuffer", err);
    }
    Status synchronize() override {
        const int32_t err = clFinish(queue_);
        return err == 0 ? Status::Ok() : failed("clFinish", err);
    }

private:
    Status failed(const char* what, int32_t code) const {
        return Status(StatusCode::internal, to_string(device_) + ": " + what +
                                                " failed (OpenCL error " + std::to_string(code) + ")");
    }

    void* context_ = nullptr;
    void* queue_ = nullptr;
    int32_t (*clGetPlatformIDs)(uint32_t, void**, uint32_t*) = nullptr;
    int32_t (*clGetDeviceIDs)(void*, uint64_t, uint32_t, void**, uint32_t*) = nullptr;
    void* (*clCreateContext)(const intptr_t*, uint32_t, void* const*, void*, void*, int32_t*) = nullptr;
    void* (*clCreateCommandQueue)(void*, void*, uint64_t, int32_t*) = nullptr;
    int32_t (*clReleaseContext)(void*) = nullptr;
    int32_t (*clReleaseCommandQueue)(void*) = nullptr;
    void* (*clCreateBuffer)(void*, uint64_t, size_t, void*, int32_t*) = nullptr;
    int32_t (*clReleaseMemObject)(void*) = nullptr;
    int32_t (*clEnqueueWriteBuffer)(void*, void*, uint32_t, size_t, size_t, const void*, uint32_t,
                                    const void*, void*) = nullptr;
    int32_t (*clEnqueueReadBuffer)(void*, void*, uint32_t, size_t, size_t, void*, uint32_t,
                                   const void*, void*) = nullptr;
    int32_t (*clFinish)(void*) = nullptr;
};

bool parse_index(const std::string& text, int32_t& index) {
    if (text.empty() || text.size() > 9) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    index = static_cast<int32_t>(std::stol(text));
    return true;
}

}  // namespace

bool parse_device(const std::string& text, Device& device) {
    const size_t colon = text.find(':');
    const std::string type = text.substr(0, colon);
    int32_t id = 0;
    if (colon != std::string::npos && !parse_index(text.substr(colon + 1), id)) return false;
    if (type == "cpu" && id == 0) {
        device = Device::cpu();
    } else if (type == "cuda") {
        device = Device::cuda(id);
    } else if (type == "opencl") {
        device = Device::opencl(id);
    } else {
        return false;
    }
    return true;
}

Status Session::open(Device device, std::unique_ptr<Session>& session) {
    // The library's own checks first: the backend in this build, the driver, the device.
    if (Status s = device_status(device); !s.ok()) return s;
    if (device.type == DeviceType::cuda) {
        auto cuda = std::make_unique<CudaSession>(device);
        if (Status s = cuda->open(); !s.ok()) return s;
        session = std::move(cuda);
    } else if (device.type == DeviceType::opencl) {
        auto cl = std::make_unique<OpenClSession>(device);
        if (Status s = cl->open(); !s.ok()) return s;
        session = std::move(cl);
    } else {
        return Status(StatusCode::invalid_argument, "device: cpu needs no session");
    }
    return Status::Ok();
}

}  // namespace gridsample::device_memory
