// Element-type conversions the runtime runs around the kernels (SEMANTICS.md S10): a float16 or
// bfloat16 grid becomes the float32 grid the storage-type kernels take. The conversion is exact,
// so a call gives the same bits as a kernel that read the 16-bit grid itself would.
#include "internal.h"

#include "kernel_headers.inc"

#include <new>

namespace gridsample::detail {
namespace {

using ConvertKernel = int (*)(void const*, halide_buffer_t*, halide_buffer_t*);

struct ConvertVariant {
    DType from, to;
    ConvertKernel by_isa[kCpuIsaCount];
    ConvertKernel by_gpu[kGpuBackendCount];
};

constexpr ConvertVariant kConversions[] = {
    {DType::float32, DType::float32, {}, {}},  // matches no call: the table is never empty
#define GRIDSAMPLE_VARIANT_convert_elements(name, from, to) \
    {from, to, GRIDSAMPLE_BY_ISA(name), GRIDSAMPLE_BY_GPU(name)},
#include "kernel_table.inc"
};

// `t` as the kernel's five dimensions (PyTorch order, outermost first): one dimension of every
// element where the view is dense, else its own dimensions after leading ones of size 1.
TensorView as_five_dims(const TensorView& t, bool dense) {
    TensorView v = t;
    v.rank = 5;
    for (int i = 0; i < 5; i++) {
        v.sizes[i] = 1;
        v.strides[i] = 0;
    }
    if (dense) {
        v.sizes[4] = t.numel();
        v.strides[4] = 1;
        return v;
    }
    const int pad = 5 - t.rank;
    for (int i = 0; i < t.rank; i++) {
        v.sizes[pad + i] = t.sizes[i];
        v.strides[pad + i] = t.strides[i];
    }
    return v;
}

bool is_dense(const TensorView& t) {
    int64_t expected = 1;
    for (int i = t.rank - 1; i >= 0; i--) {
        if (t.sizes[i] != 1 && t.strides[i] != expected) return false;
        expected *= t.sizes[i];
    }
    return true;
}

}  // namespace

Status convert_elements(const Placement& placement, const TensorView& source,
                        const TensorView& dest) {
    const ConvertVariant* variant = nullptr;
    for (const ConvertVariant& v : kConversions) {
        if (v.from == source.dtype && v.to == dest.dtype && v.by_isa[0] != nullptr) variant = &v;
    }
    if (variant == nullptr) {
        return unsupported(std::string("no conversion from ") + to_string(source.dtype) + " to " +
                           to_string(dest.dtype) + " in this build");
    }
    if (placement.gpu()) {
        return unsupported(std::string(to_string(source.dtype)) + " and " +
                           to_string(dest.dtype) + " tensors together on " +
                           to_string(placement.device.type) +
                           " devices are not supported by this build");
    }
    if (source.numel() == 0) return Status::Ok();
    const bool dense = is_dense(source) && is_dense(dest);
    HalideBuffer in(as_five_dims(source, dense)), out(as_five_dims(dest, dense));
    return run_kernel_on(placement.isa, "convert_elements", variant->by_isa, in.get(), out.get());
}

Status allocate_dense(DType dtype, int rank, const int64_t* sizes, const char* what,
                      DenseCopy& copy) {
    int64_t bytes = element_size(dtype);
    bool overflow = false;
    for (int i = 0; i < rank; i++) overflow = overflow || __builtin_mul_overflow(bytes, sizes[i], &bytes);
    if (!overflow) copy.memory.reset(new (std::nothrow) unsigned char[static_cast<size_t>(bytes)]);
    if (overflow || copy.memory == nullptr) {
        return Status(StatusCode::out_of_memory,
                      std::string("could not allocate ") + what + " (" + to_string(dtype) +
                          ", shape " + shape_string(sizes, rank) + ")");
    }
    copy.view = TensorView::make(copy.memory.get(), dtype, rank, sizes);
    return Status::Ok();
}

Status convert_to_dense(const Placement& placement, const TensorView& source, DType to,
                        DenseCopy& copy) {
    const std::string what = std::string("a copy of a ") + to_string(source.dtype) + " tensor";
    if (Status s = allocate_dense(to, source.rank, source.sizes, what.c_str(), copy); !s.ok()) {
        return s;
    }
    return convert_elements(placement, source, copy.view);
}

}  // namespace gridsample::detail
