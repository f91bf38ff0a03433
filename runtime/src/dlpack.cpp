// DLPack interop: a TensorView of a DLTensor. The struct is laid out here as DLPack's dlpack.h
// (ABI versions 0.x and 1.x share DLTensor) declares it, so that callers need not pass headers
// through; only the fields' layout is relied on.
#include "internal.h"

#include <cstdint>

namespace gridsample {
namespace {

struct DLDeviceLayout {
    int32_t device_type;
    int32_t device_id;
};
struct DLDataTypeLayout {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
};
struct DLTensorLayout {
    void* data;
    DLDeviceLayout device;
    int32_t ndim;
    DLDataTypeLayout dtype;
    int64_t* shape;
    int64_t* strides;
    uint64_t byte_offset;
};

// DLPack's enum values.
constexpr int32_t kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLOpenCL = 4, kDLCUDAManaged = 13;
constexpr uint8_t kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4;

// The DType of a DLPack element type, if it is one.
bool dtype_of(const DLDataTypeLayout& t, DType& dtype) {
    if (t.lanes != 1) return false;
    if (t.code == kDLFloat && t.bits == 32) dtype = DType::float32;
    else if (t.code == kDLFloat && t.bits == 64) dtype = DType::float64;
    else if (t.code == kDLFloat && t.bits == 16) dtype = DType::float16;
    else if (t.code == kDLBfloat && t.bits == 16) dtype = DType::bfloat16;
    else if (t.code == kDLUInt && t.bits == 8) dtype = DType::uint8;
    else return false;
    return true;
}

}  // namespace

using detail::invalid;
using detail::unsupported;

Status from_dlpack(const void* dltensor, TensorView* view) {
    if (dltensor == nullptr) return invalid("dltensor: null pointer");
    if (view == nullptr) return invalid("view: null pointer");
    const auto& t = *static_cast<const DLTensorLayout*>(dltensor);
    TensorView v;
    if (!dtype_of(t.dtype, v.dtype)) {
        return unsupported("dltensor: dtype (code " + std::to_string(t.dtype.code) + ", " +
                           std::to_string(t.dtype.bits) + " bits, " +
                           std::to_string(t.dtype.lanes) +
                           " lanes) is not float32, float64, float16, bfloat16 or uint8");
    }
    if (t.ndim < 0 || t.ndim > kMaxRank) {
        return invalid("dltensor: rank " + std::to_string(t.ndim) + " is above " +
                       std::to_string(kMaxRank));
    }
    if (t.ndim > 0 && t.shape == nullptr) return invalid("dltensor: null shape");
    switch (t.device.device_type) {
    case kDLCPU:
    case kDLCUDAHost:  // pinned host memory
        v.device = Device::cpu();
        break;
    case kDLCUDA:
    case kDLCUDAManaged:
        v.device = Device::cuda(t.device.device_id);
        break;
    case kDLOpenCL:
        v.device = Device::opencl(t.device.device_id);
        break;
    default:
        return unsupported("dltensor: device type " + std::to_string(t.device.device_type) +
                           " is not cpu, cuda or opencl");
    }
    if (v.device.type == DeviceType::opencl && t.byte_offset != 0) {
        return unsupported("dltensor: an OpenCL tensor with a byte_offset (views cannot start "
                           "inside a cl_mem)");
    }
    const int64_t element = element_size(v.dtype);
    if (t.byte_offset % element != 0) {
        return invalid("dltensor: byte_offset " + std::to_string(t.byte_offset) +
                       " is not a multiple of the element size");
    }
    v.data = t.data == nullptr ? nullptr : static_cast<char*>(t.data) + t.byte_offset;
    *view = TensorView::make(v.data, v.dtype, t.ndim, t.shape, t.strides).on(v.device);
    return Status::Ok();
}

}  // namespace gridsample
