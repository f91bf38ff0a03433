// Run-time CPU dispatch. Every kernel is compiled once per CPU target of GRIDSAMPLE_CPU_TARGETS
// (cmake/GridsampleVariants.cmake) as <variant>_<isa>; each call runs the best compiled variant
// the CPU supports, capped by set_max_cpu_isa() (or the GRIDSAMPLE_MAX_CPU_ISA environment variable,
// read once: baseline, sse41, avx2, avx512 or avx512_gather). The CPU check is Halide's own
// (halide_default_can_use_target_features) on the exact feature set each target was built with.
#include "internal.h"

#include <algorithm>
#include <atomic>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
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
std::atomic<bool> g_cpu_tuning{[] {
    const char* value = std::getenv("GRIDSAMPLE_CPU_TUNING");
    return value == nullptr || std::strcmp(value, "0") != 0;
}()};

// Whether this CPU's hardware gathers of single floats are slower than the scalar loads the
// avx512 level uses instead: AMD's AVX-512 CPUs. On a Zen 4 (EPYC, family 25 model 17), a 16-lane
// vgatherdps from L1 loads 3.1 floats/ns a core (`gridsample_bench` gather/l1; 4.5 on a Sapphire
// Rapids Xeon), and the forward kernels whose sampling loads one float per tap and channel
// (nearest; channels-last RGB/RGBA images, whose planar pair gathers do not apply) ran
// 1.0-2.1x as fast at the avx512 level as at avx512_gather (README, "CPU levels on AMD Zen 4").
// The kernels that gather pairs of floats (planar bilinear), float64 or the storage types'
// words, and the channels-last copies of bicubic and trilinear, stay faster with the gathers;
// but the planar bilinear calls whose channels the avx512 level samples in blocks channels-last
// (which the avx512_gather level leaves to its pair gathers, as a Xeon's faster gathers prefer)
// are faster there.
bool slow_float_gathers() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool slow = [] {
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return false;
        char vendor[13] = {};
        std::memcpy(vendor, &ebx, 4);
        std::memcpy(vendor + 4, &edx, 4);
        std::memcpy(vendor + 8, &ecx, 4);
        return std::strcmp(vendor, "AuthenticAMD") == 0;
    }();
    return slow;
#else
    return false;
#endif
}
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
void set_cpu_tuning(bool on) { g_cpu_tuning.store(on, std::memory_order_relaxed); }
bool cpu_tuning() { return g_cpu_tuning.load(std::memory_order_relaxed); }
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

CpuIsa tuned_forward_isa(CpuIsa isa, Interpolation mode, const TensorView& input,
                         const TensorView& output, bool compiled_at_avx512) {
    if (isa != CpuIsa::avx512_gather || input.dtype != DType::float32 || !compiled_at_avx512 ||
        !g_cpu_tuning.load(std::memory_order_relaxed) || !slow_float_gathers()) {
        return isa;
    }
    // The kernels' channels-last RGB/RGBA specialization (generators/cpu/forward_schedule.h,
    // interleaved_layouts): 2-D, 3 or 4 channels innermost in input and output.
    const int64_t channels = input.sizes[1];
    const bool interleaved = input.rank == 4 && (channels == 3 || channels == 4) &&
                             input.strides[1] == 1 && input.strides[3] == channels &&
                             output.strides[1] == 1 && output.strides[3] == channels;
    // Planar 2-D bilinear that the avx512 level samples channels-last (channels_last_copy() in
    // generators/cpu/forward_schedule.h: blocks of 16 float32 channels whose copy fits 1 MiB):
    // 8x64x128x128 at the avx512 level 0.67x / 0.67x of the time of the avx512_gather level's
    // pair gathers at one / two threads (AMD EPYC Zen 4, the generated kernels alone).
    // The generator's condition, restated here for float32 at the avx512 level: its lanes and
    // its kBlockCopyBytes.
    constexpr int64_t kLanes = 16, kBlockCopyBytes = int64_t{1} << 20;
    const bool bilinear_blocks =
        mode == Interpolation::bilinear && input.rank == 4 && input.strides[1] != 1 &&
        output.strides[3] == 1 && channels >= kLanes && channels % kLanes == 0 &&
        input.sizes[2] * input.sizes[3] <= kBlockCopyBytes / (kLanes * int64_t{sizeof(float)});
    return mode == Interpolation::nearest || interleaved || bilinear_blocks ? CpuIsa::avx512 : isa;
}

CpuIsa variant_cpu_isa(CpuIsa isa, const bool* compiled_at) {
    int level = static_cast<int>(isa);
    while (level > 0 && !compiled_at[level]) level--;  // every variant has the baseline
    t_last_isa = static_cast<CpuIsa>(level);
    return t_last_isa;
}

}  // namespace detail
}  // namespace gridsample
