// Run-time CPU dispatch. Every kernel is compiled once per CPU target of GRIDSAMPLE_CPU_TARGETS
// (cmake/GridsampleVariants.cmake) as <variant>_<isa>; each call runs the best compiled variant
// the CPU supports, capped by set_max_cpu_isa() (or the GRIDSAMPLE_MAX_CPU_ISA environment variable,
// read once: baseline, sse41, avx2, avx512 or avx512_gather). The CPU check is Halide's own
// (halide_default_can_use_target_features) on the exact feature set each target was built with.
#include "internal.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <vector>

// Part of Halide's runtime, though not declared in HalideRuntime.h: the core count the thread pool
// defaults to.
extern "C" int halide_host_cpu_count();

namespace gridsample {
namespace {

// The Halide target features a CPU needs for each CpuIsa: those of its target in
// GRIDSAMPLE_CPU_TARGETS, except avx512_gather, which asks for the Zen 4 / Sapphire Rapids
// extensions as the sign of fast gathers (its code itself only uses the Ice Lake set).
std::vector<halide_target_feature_t> target_features(CpuIsa isa) {
    switch (isa) {
    case CpuIsa::baseline: return {};
    case CpuIsa::sse41: return {halide_target_feature_sse41};
    case CpuIsa::avx2:
        return {halide_target_feature_avx2, halide_target_feature_avx, halide_target_feature_f16c,
                halide_target_feature_fma, halide_target_feature_sse41};
    case CpuIsa::avx512:
        return {halide_target_feature_avx512_skylake, halide_target_feature_avx2,
                halide_target_feature_avx, halide_target_feature_f16c,
                halide_target_feature_fma, halide_target_feature_sse41};
    case CpuIsa::avx512_gather:
        return {halide_target_feature_avx512_zen4, halide_target_feature_avx512_cannonlake,
                halide_target_feature_avx512_skylake, halide_target_feature_avx2,
                halide_target_feature_avx, halide_target_feature_f16c,
                halide_target_feature_fma, halide_target_feature_sse41};
    }
    return {};
}

bool cpu_supports(CpuIsa isa) {
    constexpr int kWords = (halide_target_feature_end + 63) / 64;
    uint64_t bits[kWords] = {};
    for (halide_target_feature_t f : target_features(isa)) {
        bits[f / 64] |= uint64_t{1} << (f % 64);
    }
    return halide_default_can_use_target_features(kWords, bits) != 0;
}

CpuIsa best_supported_isa() {
    static const CpuIsa best = [] {
        for (CpuIsa isa : {CpuIsa::avx512_gather, CpuIsa::avx512, CpuIsa::avx2, CpuIsa::sse41}) {
            if (cpu_supports(isa)) return isa;
        }
        return CpuIsa::baseline;
    }();
    return best;
}

CpuIsa initial_max_isa() {
    if (const char* value = std::getenv("GRIDSAMPLE_MAX_CPU_ISA")) {
        for (CpuIsa isa : {CpuIsa::baseline, CpuIsa::sse41, CpuIsa::avx2, CpuIsa::avx512,
                           CpuIsa::avx512_gather}) {
            if (std::strcmp(value, to_string(isa)) == 0) return isa;
        }
    }
    return kHighestCpuIsa;
}

std::atomic<CpuIsa> g_max_isa{initial_max_isa()};
thread_local CpuIsa t_last_isa = CpuIsa::baseline;
std::atomic<int> g_requested_threads{0};

// Halide's default thread count: HL_NUM_THREADS (or the older HL_NUMTHREADS), else the number
// of cores; at most 256.
int default_num_threads() {
    for (const char* name : {"HL_NUM_THREADS", "HL_NUMTHREADS"}) {
        if (const char* value = std::getenv(name)) {
            const int n = std::atoi(value);
            if (n > 0) return std::min(n, 256);
        }
    }
    return std::clamp(halide_host_cpu_count(), 1, 256);
}

}  // namespace

void set_max_cpu_isa(CpuIsa max_isa) { g_max_isa.store(max_isa, std::memory_order_relaxed); }
CpuIsa max_cpu_isa() { return g_max_isa.load(std::memory_order_relaxed); }
CpuIsa last_dispatched_cpu_isa() { return t_last_isa; }

// Halide's pool never retires a worker it has spawned: halide_set_num_threads() only caps how
// many new ones it creates, and a parallel loop wakes every existing worker. So lowering the
// count shuts the pool down (it restarts lazily with the new count), which must not happen
// while a kernel runs: kernels hold g_pool_lock shared, this takes it exclusively (after the
// gate, which holds back new kernel calls meanwhile; see internal.h).
int set_num_threads(int n) {
    n = std::clamp(n, 0, 256);
    std::lock_guard<std::mutex> gate(detail::g_pool_gate);
    std::unique_lock<std::shared_mutex> lock(detail::g_pool_lock);
    const int before = num_threads();
    const int previous = g_requested_threads.exchange(n);
    const int after = num_threads();
    if (after < before) halide_shutdown_thread_pool();
    halide_set_num_threads(after);
    return previous;
}

int num_threads() {
    const int requested = g_requested_threads.load();
    return requested > 0 ? requested : default_num_threads();
}

namespace detail {

std::mutex g_pool_gate;
std::shared_mutex g_pool_lock;

CpuIsa select_cpu_isa() {
    const auto best = static_cast<int>(best_supported_isa());
    const auto cap = static_cast<int>(g_max_isa.load(std::memory_order_relaxed));
    int isa = std::clamp(cap, 0, best);
    while (isa > 0 && !kCpuIsaCompiled[isa]) isa--;  // the baseline is always compiled
    t_last_isa = static_cast<CpuIsa>(isa);
    return t_last_isa;
}

CpuIsa variant_cpu_isa(CpuIsa isa, const bool* compiled_at) {
    int level = static_cast<int>(isa);
    while (level > 0 && !compiled_at[level]) level--;  // every variant has the baseline
    t_last_isa = static_cast<CpuIsa>(level);
    return t_last_isa;
}

}  // namespace detail
}  // namespace gridsample
