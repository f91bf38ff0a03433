// Support code the forward CPU kernels call: software prefetch of input rows (or of a list of
// elements) into the L2 cache.
// Unlike the generators in this directory, this file is compiled for the target, into the library
// beside the kernels (GRIDSAMPLE_KERNEL_SUPPORT_SOURCES, generators/CMakeLists.txt).
//
// Halide's own prefetch intrinsic always emits a non-temporal prefetch (prefetchnta on x86),
// which fills L1 but not L2: a line prefetched that way for the next channel plane is evicted
// before it is read and must then come from memory again (8x64x128x128 bilinear, one thread:
// 1.6x slower than no prefetch at all). The lowering passes that want an ordinary prefetch
// (channel_prefetch.h, tile_prefetch.h) call this function instead. Locality 2 (prefetcht1 on
// x86, into L2) measured best: planar feature map bilinear, one thread / two threads, the kernel
// alone: locality 2 0.79 / 0.82-0.86 of the time without prefetch, locality 3 (prefetcht0) 0.78 /
// 0.90-0.95, locality 1 0.92 / 0.85; channels-last image nearest: locality 2 0.63-0.73,
// locality 3 0.79.
#include <cstdint>

extern "C" int gridsample_prefetch_rows(const void *base, int32_t index, int32_t rows,
                                        int32_t row_stride, int32_t width,
                                        int32_t element_bytes) {
    // Elements [index + r * row_stride, + width) for r in [0, rows): every cache line of each.
    if (rows <= 0 || width <= 0) return 0;
    constexpr int64_t kLine = 64;
    const char *first = static_cast<const char *>(base) + int64_t{index} * element_bytes;
    const int64_t bytes = int64_t{width} * element_bytes;
    for (int32_t r = 0; r < rows; r++) {
        const char *row = first + int64_t{r} * row_stride * element_bytes;
        for (int64_t b = 0; b < bytes; b += kLine) __builtin_prefetch(row + b, 0, 2);
        __builtin_prefetch(row + bytes - element_bytes, 0, 2);  // the last line
    }
    return 0;
}

extern "C" int gridsample_prefetch_list(const void *base, const int32_t *index, int32_t count,
                                        int32_t element_bytes) {
    // The elements base[index[i]] for i in [0, count): one line each.
    const char *first = static_cast<const char *>(base);
    for (int32_t i = 0; i < count; i++) {
        __builtin_prefetch(first + int64_t{index[i]} * element_bytes, 0, 2);
    }
    return 0;
}

extern "C" int gridsample_prefetch_spans(const void *base, const int32_t *index, int32_t count,
                                         int32_t element_bytes, int32_t span) {
    // The elements [index[i], index[i] + span) for i in [0, count) (a channels-last tap: all the
    // channels of one point): a line every 64 bytes from the first element, so a span of 64
    // bytes or less is one prefetch, whatever its alignment.
    constexpr int64_t kLine = 64;
    const int64_t bytes = int64_t{span} * element_bytes;
    const char *first = static_cast<const char *>(base);
    for (int32_t i = 0; i < count; i++) {
        const char *p = first + int64_t{index[i]} * element_bytes;
        for (int64_t b = 0; b < bytes; b += kLine) __builtin_prefetch(p + b, 0, 2);
    }
    return 0;
}
