// Argument checks shared by every entry point (SEMANTICS.md S8, S8b).
#include "internal.h"

#include <algorithm>
#include <climits>
#include <vector>

namespace gridsample {

int64_t element_size(DType dtype) {
    switch (dtype) {
    case DType::float64: return 8;
    case DType::float32: return 4;
    case DType::float16:
    case DType::bfloat16: return 2;
    case DType::uint8: return 1;
    }
    return 0;
}

}  // namespace gridsample

namespace gridsample::detail {


halide_type_t halide_type(DType dtype) {
    switch (dtype) {
    case DType::float64: return halide_type_t(halide_type_float, 64);
    case DType::float16: return halide_type_t(halide_type_float, 16);
    case DType::bfloat16: return halide_type_t(halide_type_uint, 16);  // its bits (S10)
    case DType::uint8: return halide_type_t(halide_type_uint, 8);
    default: return halide_type_t(halide_type_float, 32);
    }
}

bool is_storage_type(DType dtype) {
    return dtype == DType::float16 || dtype == DType::bfloat16 || dtype == DType::uint8;
}

namespace {

// The kernels' coordinates are 32-bit (Halide's halide_dimension_t): no dimension may have more
// elements than this. Memory is indexed with 64 bits (large_buffers), so a tensor may span any
// amount of memory; strides above 2^31 - 1 are handled per call (kernel_chunks.cpp).
constexpr int64_t kMaxExtent = INT32_MAX;

bool known_dtype(DType dtype) {
    const auto value = static_cast<int32_t>(dtype);
    return value >= 0 && value <= static_cast<int32_t>(DType::uint8);
}

}  // namespace

Status check_tensor(const TensorView& t, const char* name, int min_rank, int max_rank,
                    const char* rank_hint) {
    const std::string n = name;
    if (!known_dtype(t.dtype)) {
        return invalid(n + ": unsupported dtype value " +
                       std::to_string(static_cast<int32_t>(t.dtype)) +
                       " (expected 0 = float32, 1 = float64, 2 = float16, 3 = bfloat16 or "
                       "4 = uint8)");
    }
    if (t.rank < min_rank || t.rank > max_rank) {
        return invalid(n + ": expected " + rank_hint + ", got rank " + std::to_string(t.rank));
    }
    for (int i = 0; i < t.rank; i++) {
        if (t.sizes[i] < 0) {
            return invalid(n + ": size " + std::to_string(t.sizes[i]) + " in dimension " +
                           std::to_string(i) + " is negative");
        }
        if (t.strides[i] < 0) {
            return invalid(n + ": stride " + std::to_string(t.strides[i]) + " in dimension " +
                           std::to_string(i) + " is negative (only non-negative strides are supported)");
        }
    }
    if (t.numel() == 0) return Status::Ok();
    if (t.data == nullptr) return invalid(n + ": data pointer is null for a non-empty tensor");
    for (int i = 0; i < t.rank; i++) {
        if (t.sizes[i] > kMaxExtent) {
            return unsupported(n + ": size " + std::to_string(t.sizes[i]) + " in dimension " +
                               std::to_string(i) + " of shape " + shape_string(t) +
                               " is above 2^31 - 1, the largest extent the kernels index");
        }
    }
    // The bytes the tensor spans, sum of stride * (size - 1) plus one element, must be an
    // address range that can exist: no overflow, no wrap past the end of the address space.
    int64_t last = 0;  // the offset of the last element, in elements
    bool overflow = false;
    for (int i = 0; i < t.rank && !overflow; i++) {
        int64_t extent_span = 0;
        overflow = __builtin_mul_overflow(t.strides[i], t.sizes[i] - 1, &extent_span) ||
                   __builtin_add_overflow(last, extent_span, &last);
    }
    int64_t last_byte = 0;
    uintptr_t end = 0;
    overflow = overflow || __builtin_mul_overflow(last, element_size(t.dtype), &last_byte) ||
               __builtin_add_overflow(last_byte, element_size(t.dtype) - 1, &last_byte) ||
               __builtin_add_overflow(reinterpret_cast<uintptr_t>(t.data),
                                      static_cast<uintptr_t>(last_byte), &end);
    if (overflow) {
        return invalid(n + ": strides " + shape_string(t.strides, t.rank) + " for shape " +
                       shape_string(t) + " span more memory than the address space holds");
    }
    return Status::Ok();
}

ByteRange byte_range(const TensorView& t) {
    ByteRange r;
    if (t.numel() == 0) return r;
    int64_t last = 0;
    for (int i = 0; i < t.rank; i++) last += t.strides[i] * (t.sizes[i] - 1);
    const int64_t size = element_size(t.dtype);
    r.device = t.device;
    // A CUDA pointer is an address like a host one; an OpenCL view is a cl_mem handle (its
    // memory is its own space) from offset 0.
    if (t.device.type == DeviceType::opencl) {
        r.space = reinterpret_cast<uintptr_t>(t.data);
    } else {
        r.first = reinterpret_cast<uintptr_t>(t.data);
    }
    r.last = r.first + static_cast<uintptr_t>(last * size + size - 1);
    r.empty = false;
    return r;
}

bool ByteRange::overlaps(const ByteRange& o) const {
    return !empty && !o.empty && device == o.device && space == o.space && first <= o.last &&
           o.first <= last;
}

Status check_output_memory(const TensorView& out, const char* name,
                           std::initializer_list<std::pair<const TensorView*, const char*>> inputs) {
    if (out.numel() == 0) return Status::Ok();
    // Self-overlap: with the dimensions of size > 1 sorted by stride, each stride must exceed the
    // span of all smaller ones. This accepts every dense and every sliced or padded layout;
    // exotic interleavings that would not overlap are rejected too.
    std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
    for (int i = 0; i < out.rank; i++) {
        if (out.sizes[i] > 1) dims.push_back({out.strides[i], out.sizes[i]});
    }
    std::sort(dims.begin(), dims.end());
    int64_t inner_span = 0;  // elements spanned by the dimensions before this one, minus one
    for (const auto& [stride, size] : dims) {
        if (stride <= inner_span) {
            return invalid(std::string(name) + ": memory overlaps itself (strides " +
                           shape_string(out.strides, out.rank) + " for shape " +
                           shape_string(out) + ")");
        }
        inner_span += stride * (size - 1);
    }
    const ByteRange o = byte_range(out);
    for (const auto& [in, in_name] : inputs) {
        if (byte_range(*in).overlaps(o)) {
            return invalid(std::string(name) + ": memory overlaps " + in_name +
                           " (the output must not alias an input)");
        }
    }
    return Status::Ok();
}

}  // namespace gridsample::detail
