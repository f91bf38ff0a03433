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
#include <vector>

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

std::mutex g_cache_mutex;
std::vector<Header*> g_cache;  // freed large blocks, oldest first
size_t g_cached_bytes = 0;

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
            // The smallest cached block that fits and is at most twice the request.
            std::lock_guard<std::mutex> lock(g_cache_mutex);
            auto best = g_cache.end();
            for (auto it = g_cache.begin(); it != g_cache.end(); ++it) {
                if ((*it)->size >= size && (*it)->size / 2 <= size &&
                    (best == g_cache.end() || (*it)->size < (*best)->size)) {
                    best = it;
                }
            }
            if (best != g_cache.end()) {
                h = *best;
                g_cached_bytes -= h->size;
                g_cache.erase(best);
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
    std::vector<Header*> evicted;
    {
        std::lock_guard<std::mutex> lock(g_cache_mutex);
        g_cache.push_back(h);
        g_cached_bytes += h->size;
        while (g_cache.size() > kCacheBlocks || g_cached_bytes > kCacheBytes) {
            g_cached_bytes -= g_cache.front()->size;
            evicted.push_back(g_cache.front());
            g_cache.erase(g_cache.begin());
        }
    }
    for (Header* e : evicted) std::free(e);
}

}  // namespace

void install_scratch_allocator() {
    halide_set_custom_malloc(scratch_malloc);
    halide_set_custom_free(scratch_free);
}

}  // namespace gridsample::detail
