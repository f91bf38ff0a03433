// Names of enums and shape formatting.
#include "internal.h"

namespace gridsample {

const char* to_string(Interpolation mode) {
    switch (mode) {
    case Interpolation::bilinear: return "bilinear";
    case Interpolation::nearest: return "nearest";
    case Interpolation::bicubic: return "bicubic";
    }
    return "invalid";
}

const char* to_string(Padding padding) {
    switch (padding) {
    case Padding::zeros: return "zeros";
    case Padding::border: return "border";
    case Padding::reflection: return "reflection";
    }
    return "invalid";
}

const char* to_string(DType dtype) {
    switch (dtype) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::uint8: return "uint8";
    }
    return "invalid";
}

const char* to_string(CpuIsa isa) {
    switch (isa) {
    case CpuIsa::baseline: return "baseline";
    case CpuIsa::sse41: return "sse41";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::avx512_gather: return "avx512_gather";
    }
    return "invalid";
}

const char* to_string(StatusCode code) {
    switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid argument";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::out_of_memory: return "out of memory";
    case StatusCode::internal: return "internal error";
    }
    return "invalid";
}

const char* to_string(DeviceType type) {
    switch (type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::cuda: return "cuda";
    case DeviceType::opencl: return "opencl";
    }
    return "invalid";
}

std::string to_string(Device device) {
    if (device.type == DeviceType::cpu && device.id == 0) return "cpu";
    return std::string(to_string(device.type)) + ":" + std::to_string(device.id);
}

namespace detail {

std::string shape_string(const int64_t* sizes, int rank) {
    std::string s = "[";
    for (int i = 0; i < rank; i++) {
        if (i) s += ", ";
        s += std::to_string(sizes[i]);
    }
    return s + "]";
}

std::string shape_string(const TensorView& t) {
    return shape_string(t.sizes, t.rank < 0 || t.rank > kMaxRank ? 0 : t.rank);
}

Status invalid(std::string message) {
    return Status(StatusCode::invalid_argument, std::move(message));
}

Status unsupported(std::string message) {
    return Status(StatusCode::unsupported, std::move(message));
}

}  // namespace detail
}  // namespace gridsample
