// Host memory for the kernels' intermediates (Halide's halide_malloc and halide_free), installed
// by install_halide_hooks().
//
// Some CPU kernels allocate scratch that grows with the problem: the forward's channels-last copy
// of a batch item's input (cpu/forward_schedule.h), 4 MiB for 64x128x128 float32, and the
// backward's channel blocks. With plain malloc, such a block taken on a worker thread comes from
// that thread's arena, which glibc trims on free, so every call page-faults it afresh (seen at
// two threads in the command-line tool: page clearing and faults in the profile, absent at one
// thread); and it lives on 4 KiB pages, whose translations a kernel gathering taps from a
// transposed copy keeps missing. So blocks of 1 MiB and more are kept for reuse when freed (up to
// kCacheBlocks of them and kCacheBytes in all; the oldest go first), and are aligned to 2 MiB and
// advised as huge pages (madvise, which Linux's default transparent-huge-page mode honours).
//
// Smaller blocks go to malloc. Every block carries its size in a header of kAlignment bytes, so
// that halide_free can tell them apart; the data is aligned to kAlignment (Halide asks for 128).
#include "internal.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gridsample::detail {
namespace {

constexpr size_t kAlignment = 128;
constexpr size_t kLargeBlock = size_t{1} << 20;
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kCacheBlocks = 16;
constexpr size_t kCacheBytes = size_t{256} << 20;
constexpr uint64_t kSmallMagic = 0x67736d616c6c3031ULL, kLargeMagic = 0x67736c6172676531ULL;

struct Header {
    uint64_t magic;
    size_t size;  // bytes after the header
};
static_assert(sizeof(Header) <= kAlignment, "the header fits its slot");

// Freed large blocks, oldest first. A plain array, not a container with a destructor: the
// blocks stay reachable through it after static destruction, when leak checkers look at exit.
std::mutex g_cache_mutex;
Header* g_cache[kCacheBlocks];
size_t g_cache_count = 0;
size_t g_cached_bytes = 0;

void erase_cached(size_t i) {
    std::copy(g_cache + i + 1, g_cache + g_cache_count, g_cache + i);
    --g_cache_count;
}

Header* new_large_block(size_t size) {
    const size_t total = (size + kAlignment + kHugePage - 1) / kHugePage * kHugePage;
    void* base = std::aligned_alloc(kHugePage, total);
    if (base == nullptr) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(base, total, MADV_HUGEPAGE);  // advice only: without huge pages it still works
#endif
    auto* h = static_cast<Header*>(base);
    h->magic = kLargeMagic;
    h->size = total - kAlignment;
    return h;
}

void* scratch_malloc(void*, size_t size) {
    Header* h = nullptr;
    if (size >= kLargeBlock) {
        {
            // The smallest cached block that fits and is at most twice the request; of equal
            // ones the most recently freed, the one still in cache. Taking the oldest instead
            // made one thread alternate between the blocks that two threads had left (two
            // batch items' channels-last copies at once): 8x64x128x128 bicubic reflection, one
            // thread, median of 20 calls after 20 at two threads, 22.7 ms against 16.0 before
            // them; 15.7 and 15.8 with the most recent.
            std::lock_guard<std::mutex> lock(g_cache_mutex);
            size_t best = g_cache_count;
            for (size_t i = 0; i < g_cache_count; ++i) {
                const size_t have = g_cache[i]->size;
                if (have >= size && have / 2 <= size &&
                    (best == g_cache_count || have <= g_cache[best]->size)) {
                    best = i;
                }
            }
            if (best != g_cache_count) {
                h = g_cache[best];
                g_cached_bytes -= h->size;
                erase_cached(best);
            }
        }
        if (h == nullptr) h = new_large_block(size);
    } else {
        void* base = std::aligned_alloc(kAlignment, (size + 2 * kAlignment - 1) / kAlignment *
                                                        kAlignment);
        if (base != nullptr) {
            h = static_cast<Header*>(base);
            h->magic = kSmallMagic;
            h->size = size;
        }
    }
    return h == nullptr ? nullptr : reinterpret_cast<uint8_t*>(h) + kAlignment;
}

void scratch_free(void*, void* ptr) {
    if (ptr == nullptr) return;
    auto* h = reinterpret_cast<Header*>(static_cast<uint8_t*>(ptr) - kAlignment);
    if (h->magic != kLargeMagic) {
        std::free(h);
        return;
    }
    Header* evicted[kCacheBlocks + 1];
    size_t n_evicted = 0;
    {
        std::lock_guard<std::mutex> lock(g_cache_mutex);
        // Make room: at most kCacheBlocks blocks and kCacheBytes bytes with h included.
        while (g_cache_count > 0 &&
               (g_cache_count == kCacheBlocks || g_cached_bytes + h->size > kCacheBytes)) {
            g_cached_bytes -= g_cache[0]->size;
            evicted[n_evicted++] = g_cache[0];
            erase_cached(0);
        }
        if (h->size <= kCacheBytes) {
            g_cache[g_cache_count++] = h;
            g_cached_bytes += h->size;
        } else {
            evicted[n_evicted++] = h;
        }
    }
    for (size_t i = 0; i < n_evicted; ++i) std::free(evicted[i]);
}

}  // namespace

void install_scratch_allocator() {
    halide_set_custom_malloc(scratch_malloc);
    halide_set_custom_free(scratch_free);
}

}  // namespace gridsample::detail
