// TensorView constructors.
#include "internal.h"

#include <algorithm>

namespace gridsample {

TensorView TensorView::make(const void* data, DType dtype, int32_t rank, const int64_t* sizes,
                            const int64_t* strides) {
    TensorView t;
    t.data = const_cast<void*>(data);  // never written through when used as an input
    t.dtype = dtype;
    t.rank = rank;
    const int n = std::clamp(rank, 0, kMaxRank);
    for (int i = 0; i < n; i++) t.sizes[i] = sizes ? sizes[i] : 0;
    if (strides) {
        for (int i = 0; i < n; i++) t.strides[i] = strides[i];
    } else {
        int64_t stride = 1;
        for (int i = n - 1; i >= 0; i--) {
            t.strides[i] = stride;
            stride *= std::max<int64_t>(t.sizes[i], 1);
        }
    }
    return t;
}

TensorView::TensorView(const void* data, DType dtype, std::initializer_list<int64_t> sizes,
                       std::initializer_list<int64_t> strides) {
    *this = make(data, dtype, static_cast<int32_t>(sizes.size()), sizes.begin(),
                 strides.size() == sizes.size() ? strides.begin() : nullptr);
    if (strides.size() != sizes.size()) rank = -1;  // reported by validation
}

TensorView::TensorView(const void* data, DType dtype, std::initializer_list<int64_t> sizes) {
    *this = make(data, dtype, static_cast<int32_t>(sizes.size()), sizes.begin(), nullptr);
}

int64_t TensorView::numel() const {
    if (rank < 0 || rank > kMaxRank) return 0;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (sizes[i] <= 0) return 0;
        if (__builtin_mul_overflow(n, sizes[i], &n)) return INT64_MAX;
    }
    return n;
}

}  // namespace gridsample
